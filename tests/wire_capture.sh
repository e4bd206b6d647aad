#!/usr/bin/env bash
# The Wireshark dissector (tools/wireshark/h264link.lua) on real sessions:
# the real sender and receiver stream over loopback while tcpdump records
# them, then tshark reads the capture with the dissector. The messages it
# finds, per type and direction, must be what the two apps say they sent
# and received (and ffprobe says the clip holds), every sequence number of
# each direction must be there once, and tshark must find nothing malformed.
#   1. a session on a free port in 18000-18999, in real time (PING/PONG): the heuristic (magic "H2LK")
#   2. a session on 8264 if it is free (otherwise another port, decoded with -d as Wireshark's
#      "Decode As"): the port registration; --fast, with access units over 1 MiB, so that
#      messages span TCP segments and segments hold several messages
#   3. a session with an access key: TLS, in which the dissector must find nothing
#   4. a sender without the key at a keyed receiver: HELLO both ways and ERROR 6, in clear
#   5. STREAM_INFO's picture fields (a rotation, a reorder depth) and DECODE_ONLY in bytes written here
#   wire_capture.sh SENDER RECEIVER DISSECTOR.lua   (exit 77 = skipped: a tool missing, or not root;
#                                                  under CI=true that fails)
set -euo pipefail
sender=$1 receiver=$2 dissector=$3
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $* (CI=true: this test must run, not skip)"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
for tool in tcpdump tshark text2pcap ffmpeg ffprobe ss; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup.sh --test installs it)"
done
[ "$(id -u)" -eq 0 ] || skip "capturing on loopback needs root (tcpdump)"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
tsh() { tshark -X "lua_script:$dissector" "$@" 2>"$work/tshark.err"; }

# Waits up to SECONDS for the extended regex in FILE.
appears_within() { # SECONDS FILE REGEX
  local deadline=$(( SECONDS + $1 ))
  until grep -Eq "$3" "$2" 2>/dev/null; do (( SECONDS < deadline )) || return 1; sleep 0.1; done
}
port_free() { [ -z "$(ss -tanH "( sport = :$1 or dport = :$1 )")" ]; }
seed=${H264LINK_TEST_SEED:-$(( $(date +%s%N) % 100000 ))}
echo "seed $seed (H264LINK_TEST_SEED=$seed repeats the port choice)"
RANDOM=$seed
free_port() {
  local p
  for _ in $(seq 200); do
    p=$(( 18000 + RANDOM % 1000 ))
    port_free "$p" && { echo "$p"; return 0; }
  done
  return 1
}

# The clips: a small one with sound, and one whose pictures (noise, lossless)
# are larger than one MEDIA payload (1 MiB). The small one's video has
# B-frames (a reorder depth in STREAM_INFO) and an edit list that starts
# 1 s into its only GOP (stream copy cannot cut there), so the frames before
# it travel as DECODE_ONLY; its sound is not cut.
ff -f lavfi -i testsrc2=s=320x240:r=25:d=4 -c:v libx264 -pix_fmt yuv420p -g 100 -bf 3 "$work/long_gop.mp4"
ff -f lavfi -i sine=f=440:r=48000:d=3 -c:a aac -ac 2 "$work/sound.m4a"
ff -ss 1 -i "$work/long_gop.mp4" -i "$work/sound.m4a" -map 0:v -map 1:a -c copy "$work/small.mp4"
ff -f lavfi -i "nullsrc=s=1280x720:r=5:d=1.2,geq=random(1)*255:128:128" \
  -c:v libx264 -preset ultrafast -qp 0 -pix_fmt yuv420p "$work/large.mp4"

# Runs one session under tcpdump: NAME PORT CLIP [sender options...].
# Leaves NAME.pcap, NAME.sender.log, NAME.receiver.log and the sender's port in NAME.port.
capture_session() {
  local name=$1 port=$2 clip=$3; shift 3
  local dump_pid receiver_pid code peer
  # A large kernel buffer (-B, KiB): at --fast speed a small one drops packets.
  tcpdump -i lo -U --immediate-mode -B 131072 -s 0 -w "$work/$name.pcap" "tcp port $port" 2>"$work/$name.tcpdump" &
  dump_pid=$!; pids+=("$dump_pid")
  appears_within 10 "$work/$name.tcpdump" "listening on" || { fail "$name: tcpdump did not start: $(cat "$work/$name.tcpdump")"; return 1; }
  "$receiver" --headless --once --stats --port "$port" "${receiver_options[@]}" >"$work/$name.receiver.log" 2>&1 &
  receiver_pid=$!; pids+=("$receiver_pid")
  appears_within 10 "$work/$name.receiver.log" "listening on port" \
    || { fail "$name: the receiver did not start: $(cat "$work/$name.receiver.log")"; return 1; }
  code=0; "$sender" "$clip" --host 127.0.0.1 --port "$port" "$@" >"$work/$name.sender.log" 2>&1 || code=$?
  [ "$code" -eq 0 ] || fail "$name: the sender exited $code: $(cat "$work/$name.sender.log")"
  code=0; wait "$receiver_pid" || code=$?
  [ "$code" -eq 0 ] || fail "$name: the receiver exited $code: $(tail -3 "$work/$name.receiver.log")"
  peer=$(sed -n 's/^receiver: sender connected from .*:\([0-9]*\)$/\1/p' "$work/$name.receiver.log" | head -1)
  echo "$peer" >"$work/$name.port"
  # tcpdump has written the connection's end (both FINs) before it is stopped.
  local deadline=$(( SECONDS + 10 ))
  until [ "$(tshark -r "$work/$name.pcap" -Y "tcp.port == $peer && (tcp.flags.fin == 1 || tcp.flags.reset == 1)" \
               2>/dev/null | wc -l)" -ge 2 ]; do
    (( SECONDS < deadline )) || { fail "$name: the capture has no end of the connection"; break; }
    sleep 0.1
  done
  kill -INT "$dump_pid"
  wait "$dump_pid" || true
  local dropped
  dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel$/\1/p' "$work/$name.tcpdump")
  [ "${dropped:-0}" = 0 ] || fail "$name: tcpdump dropped $dropped packets: the capture is incomplete (a busy machine?)"
}

# The messages of one capture, one line each: direction type seq length flags frame
# (direction: s = sender to receiver, r = back; frame: where tshark shows it).
messages() { # NAME RECEIVER_PORT [tshark options...]
  local name=$1 port=$2; shift 2
  tsh -r "$work/$name.pcap" "$@" -Y "tcp.port == $(cat "$work/$name.port") && h264link" -T fields \
    -E separator=' ' -E occurrence=a -E aggregator=, \
    -e tcp.srcport -e h264link.type -e h264link.seq -e h264link.length -e h264link.flags -e frame.number \
    | awk -v rport="$port" '
        function hex(s,   v, i) { s = tolower(s); sub(/^0x/, "", s); v = 0
          for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
          return v }
        { n = split($2, t, ","); split($3, q, ","); split($4, l, ","); split($5, f, ",")
          for (i = 1; i <= n; i++) print ($1 == rport ? "r" : "s"), hex(t[i]), q[i], l[i], hex(f[i]), $6 }'
}
# A field of the messages of one type, summed (absent: 0): NAME FIELD [tshark options...]
field_sum() {
  local name=$1 field=$2; shift 2
  tsh -r "$work/$name.pcap" "$@" -Y "tcp.port == $(cat "$work/$name.port") && $field" -T fields \
    -E occurrence=a -E aggregator=' ' -e "$field" | tr ' ' '\n' | awk '{ n += $1 } END { print n + 0 }'
}
count() { awk -v d="$2" -v t="$3" '$1 == d && $2 == t' "$1" | wc -l; } # FILE DIRECTION TYPE

check_session() { # NAME RECEIVER_PORT CLIP [tshark options...]
  local name=$1 port=$2 clip=$3; shift 3
  local m=$work/$name.messages
  messages "$name" "$port" "$@" >"$m"
  [ -s "$work/tshark.err" ] && grep -v "Running as user" "$work/tshark.err" | grep -q . \
    && fail "$name: tshark: $(grep -v "Running as user" "$work/tshark.err")"
  # What the apps and ffprobe say.
  local sessions sent confirmed received of decoded au_expected annexb width height
  sessions=$(grep -c "^receiver: sender connected" "$work/$name.receiver.log" || true)
  sent=$(sed -n 's/^sender: done: sent \([0-9]*\) frames.*/\1/p' "$work/$name.sender.log")
  confirmed=$(sed -n 's/.*the receiver confirmed \([0-9]*\) frames decoded.*/\1/p' "$work/$name.sender.log")
  read -r received of decoded < <(sed -n 's/.*ended (end of stream): \([0-9]*\) of \([0-9]*\) frames received, \([0-9]*\) decoded.*/\1 \2 \3/p' \
    "$work/$name.receiver.log") || true
  au_expected=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets \
    -of csv=p=0 "$clip")
  annexb=$(ffmpeg -hide_banner -loglevel error -i "$clip" -map 0:v:0 -c copy -f h264 - | wc -c)
  IFS=x read -r width height < <(ffprobe -v error -select_streams v:0 -show_entries stream=width,height \
    -of csv=s=x:p=0 "$clip") || true
  # The picture fields: frames the demuxer marks to discard (an edit list),
  # the reorder depth, the rotation of the display matrix (none: 0).
  local discard depth rotation
  discard=$(ffprobe -v error -select_streams v:0 -show_entries packet=flags -of csv=p=0 "$clip" | grep -c D || true)
  depth=$(ffprobe -v error -select_streams v:0 -show_entries stream=has_b_frames -of csv=p=0 "$clip")
  rotation=$(ffprobe -v error -select_streams v:0 -show_entries stream_side_data=rotation -of csv=p=0 "$clip")
  for v in sessions sent confirmed received of decoded au_expected; do
    [ -n "${!v}" ] || { fail "$name: no '$v' in the apps' output"; return; }
  done
  [ "$sent" = "$au_expected" ] && [ "$of" = "$sent" ] && [ "$received" = "$sent" ] \
    || fail "$name: the apps disagree with ffprobe: sent $sent, receiver $received of $of, ffprobe $au_expected"

  # MEDIA: one AU_START and one AU_END per access unit; the data is the clip's Annex B stream.
  local media au_start au_end media_bytes
  media=$(count "$m" s 3)
  au_start=$(awk '$1 == "s" && $2 == 3 && int($5 / 4) % 2' "$m" | wc -l)
  au_end=$(awk '$1 == "s" && $2 == 3 && int($5 / 8) % 2' "$m" | wc -l)
  media_bytes=$(awk '$1 == "s" && $2 == 3 { n += $4 - 8 } END { print n + 0 }' "$m")
  [ "$au_end" = "$sent" ] && [ "$au_start" = "$sent" ] \
    || fail "$name: $au_start AU_START and $au_end AU_END MEDIA messages, the sender sent $sent access units"
  [ "$media_bytes" = "$annexb" ] || fail "$name: MEDIA carries $media_bytes bytes, ffmpeg -f h264 writes $annexb"
  # DECODE_ONLY: one access unit per packet the demuxer marks to discard, and
  # the dissector's flag field says so too.
  local decode_only flagged
  decode_only=$(awk '$1 == "s" && $2 == 3 && int($5 / 8) % 2 && int($5 / 16) % 2' "$m" | wc -l)
  flagged=$(tsh -r "$work/$name.pcap" "$@" -Y "tcp.port == $(cat "$work/$name.port") && h264link.flags.decode_only == 1 \
      && h264link.flags.au_end == 1" -T fields -e frame.number | wc -l)
  [ "$decode_only" = "$discard" ] && [ "$flagged" -le "$decode_only" ] && { [ "$discard" = 0 ] || [ "$flagged" -gt 0 ]; } \
    || fail "$name: $decode_only DECODE_ONLY access units ($flagged frames with the flag), the demuxer discards $discard"
  # STREAM_INFO's picture fields: the reorder depth and the display matrix
  # (its 9 values and the rotation the dissector computes from them).
  [ "$(field_sum "$name" h264link.info.video_reorder_depth "$@")" = "$(( depth * sessions ))" ] \
    || fail "$name: STREAM_INFO does not say a reorder depth of $depth"
  # stream_flags: LIVE on a real-time stream, not with --fast.
  local live_infos
  live_infos=$(tsh -r "$work/$name.pcap" "$@" -Y "tcp.port == $(cat "$work/$name.port") \
      && h264link.info.stream_flags.live == 1" -T fields -e frame.number | wc -l)
  [ "$live_infos" = "$(( realtime * sessions ))" ] \
    || fail "$name: $live_infos STREAM_INFO flagged LIVE, expected $(( realtime * sessions ))"
  local matrix expected_matrix
  matrix=$(tsh -r "$work/$name.pcap" "$@" -Y "tcp.port == $(cat "$work/$name.port") && h264link.info.display_matrix" \
    -T fields -E occurrence=a -E aggregator=' ' -e h264link.info.display_matrix.value | head -1)
  expected_matrix="65536 0 0 0 65536 0 0 0 1073741824"
  if [ -z "$rotation" ]; then
    [ "$matrix" = "$expected_matrix" ] || fail "$name: STREAM_INFO's display matrix is '$matrix', not the identity"
  fi
  tsh -r "$work/$name.pcap" "$@" -Y "tcp.port == $(cat "$work/$name.port") && h264link.info.rotation" -T fields \
    -e h264link.info.rotation | head -1 | awk -v want="${rotation:-0}" '{ d = $1 - want; exit !(d < 0.01 && d > -0.01) }' \
    || fail "$name: STREAM_INFO's rotation is not ffprobe's ${rotation:-0}"
  # One of each per session; the counts in END_OF_STREAM and RECEIVED are the apps'.
  local t dir type label
  for t in "s 1 HELLO" "r 1 HELLO" "r 10 ACCEPTED" "s 2 STREAM_INFO" "s 4 END_OF_STREAM" "r 11 RECEIVED"; do
    read -r dir type label <<<"$t"
    [ "$(count "$m" "$dir" "$type")" = "$sessions" ] \
      || fail "$name: $(count "$m" "$dir" "$type") $label from the $([ "$dir" = s ] && echo sender || echo receiver), $sessions sessions"
  done
  [ "$(field_sum "$name" h264link.eos.access_units "$@")" = "$sent" ] || fail "$name: END_OF_STREAM does not say $sent access units"
  [ "$(field_sum "$name" h264link.eos.media_bytes "$@")" = "$annexb" ] || fail "$name: END_OF_STREAM does not say $annexb bytes"
  [ "$(field_sum "$name" h264link.received.access_units "$@")" = "$received" ] || fail "$name: RECEIVED does not say $received access units"
  [ "$(field_sum "$name" h264link.received.frames_decoded "$@")" = "$confirmed" ] \
    && [ "$confirmed" = "$decoded" ] || fail "$name: RECEIVED does not say $decoded frames decoded"
  [ "$(field_sum "$name" h264link.info.width "$@")x$(field_sum "$name" h264link.info.height "$@")" = "${width}x$height" ] \
    || fail "$name: STREAM_INFO does not say ${width}x$height"
  # AUDIO: what END_OF_STREAM says was sent and RECEIVED says arrived (both 0 for a video-only sender).
  local audio eos_audio rcv_audio
  audio=$(count "$m" s 12)
  eos_audio=$(field_sum "$name" h264link.eos.audio_packets "$@")
  rcv_audio=$(field_sum "$name" h264link.received.audio_packets "$@")
  [ "$audio" = "$eos_audio" ] && [ "$audio" = "$rcv_audio" ] \
    || fail "$name: $audio AUDIO messages, END_OF_STREAM says $eos_audio, RECEIVED $rcv_audio"
  # PING/PONG: each PONG answers a PING of the other side. A side stops answering
  # once it is done (the sender after END_OF_STREAM, the receiver after RECEIVED),
  # so only the PINGs before that must be answered, but the last of them, which
  # may still be unread then. Only in real time does the wire show when that was:
  # at --fast, END_OF_STREAM waits in the socket buffers behind the video.
  local d o pings pongs done_frame before
  for d in s r; do
    o=$([ "$d" = s ] && echo r || echo s)
    pings=$(count "$m" "$d" 5); pongs=$(count "$m" "$o" 6)
    done_frame=$(awk -v o="$o" '$1 == o && ($2 == 4 || $2 == 11) { print $6; exit }' "$m")
    before=$(awk -v d="$d" -v f="${done_frame:-999999999}" '$1 == d && $2 == 5 && $6 < f' "$m" | wc -l)
    [ "$realtime" = 0 ] && before=0
    [ "$pongs" -le "$pings" ] && [ "$pongs" -ge $(( before - 1 )) ] \
      || fail "$name: $pings PING from $d ($before before the other side was done), $pongs PONG back"
  done
  local unanswered
  unanswered=$(comm -13 <(awk '$2 == 5 { print $3 }' "$m" | sort -u) \
    <(tsh -r "$work/$name.pcap" "$@" -Y "tcp.port == $(cat "$work/$name.port")" -T fields -E occurrence=a \
        -E aggregator=' ' -e h264link.pong.ping_seq | tr ' ' '\n' | grep . | sort -u) | wc -l)
  [ "$unanswered" = 0 ] || fail "$name: $unanswered PONG echo a sequence no PING had"
  if grep -Eq '"rtt_ms":[0-9]' "$work/$name.receiver.log"; then
    [ "$(count "$m" s 6)" -gt 0 ] || fail "$name: the receiver measured a round trip, but no PONG is in the capture"
  fi
  # Every message of each direction: the sequence numbers 0, 1, ... n-1, each once.
  for d in s r; do
    awk -v d="$d" '$1 == d { print $3 }' "$m" | sort -n | awk '$1 != NR - 1 { bad = 1 } END { exit bad }' \
      || fail "$name: the sequence numbers from $d have a gap or a repeat: tshark missed or doubled a message"
  done
  # Nothing malformed, no h264link warning.
  local bad
  bad=$(tsh -r "$work/$name.pcap" "$@" -Y '_ws.malformed || _ws.expert.severity == error || h264link.bad_magic
          || h264link.too_large || h264link.unknown_type || h264link.short_payload || h264link.bad_version
          || h264link.not_empty' | wc -l)
  [ "$bad" = 0 ] || fail "$name: tshark reports $bad malformed or bad frames"
  echo "$name: $(wc -l <"$m") messages: $media MEDIA ($sent access units, $decode_only DECODE_ONLY, $media_bytes bytes)," \
       "reorder depth $depth, rotation ${rotation:-0}, $audio AUDIO," \
       "$(count "$m" r 5) PING / $(count "$m" s 6) PONG, HELLO, ACCEPTED, STREAM_INFO, END_OF_STREAM, RECEIVED" \
       "as the apps report"
}

receiver_options=()
# 1: any port, found by the heuristic.
port1=$(free_port) || { echo "FAIL: no free port in 18000-18999"; exit 1; }
echo "session 1 on port $port1 (heuristic)"
realtime=1
capture_session heuristic "$port1" "$work/small.mp4" && check_session heuristic "$port1" "$work/small.mp4"
[ "$(count "$work/heuristic.messages" r 5)" -gt 0 ] || fail "heuristic: no PING in a 3 s real-time session"

# 2: the registered port, with reassembly; the heuristic off, so that the port alone finds it.
decode_as=(--disable-heuristic h264link_tcp)
if port_free 8264; then
  port2=8264; echo "session 2 on port 8264 (the registered port)"
else
  port2=$(free_port) || { echo "FAIL: no free port in 18000-18999"; exit 1; }
  decode_as+=(-d "tcp.port==$port2,h264link")
  echo "session 2 on port $port2, decoded as h264link by port (8264 is in use)"
fi
realtime=0
capture_session registered "$port2" "$work/large.mp4" --fast \
  && check_session registered "$port2" "$work/large.mp4" "${decode_as[@]}"
split=$(tsh -r "$work/registered.pcap" "${decode_as[@]}" -Y "h264link && tcp.reassembled.length" | wc -l)
several=$(tsh -r "$work/registered.pcap" "${decode_as[@]}" -T fields -E occurrence=a -E aggregator=, -e h264link.type \
  | grep -c ',' || true)
multi_au=$(awk '$2 == 3 && int($5 / 4) % 2 && !(int($5 / 8) % 2)' "$work/registered.messages" | wc -l)
[ "$split" -gt 0 ] || fail "registered: no message spans TCP segments (nothing was reassembled)"
[ "$several" -gt 0 ] || fail "registered: no TCP segment holds several messages"
[ "$multi_au" -gt 0 ] || fail "registered: no access unit travels in several MEDIA messages"
echo "registered: $split messages reassembled from several segments, $several segments with several messages," \
     "$multi_au access units in several MEDIA messages"

# 3: with an access key, the dissector finds nothing: it is all TLS.
port3=$(free_port) || { echo "FAIL: no free port in 18000-18999"; exit 1; }
echo "lesson key $seed" >"$work/key"
receiver_options=(--key-file "$work/key")
capture_session keyed "$port3" "$work/small.mp4" --key-file "$work/key" --fast
tls=$(tsh -r "$work/keyed.pcap" -d "tcp.port==$port3,tls" -Y tls | wc -l)
ours=$(tsh -r "$work/keyed.pcap" -Y 'h264link || frame contains "H2LK"' | wc -l)
[ "$tls" -gt 0 ] && [ "$ours" = 0 ] || fail "keyed: $tls TLS frames, $ours frames with h264link in clear"
echo "keyed: $tls TLS frames, nothing in clear"

# 4: a sender without the key at a keyed receiver: in clear, HELLO both ways, then
# the receiver's ERROR (code 6), whose reason the sender prints.
port4=$(free_port) || { echo "FAIL: no free port in 18000-18999"; exit 1; }
tcpdump -i lo -U --immediate-mode -B 131072 -s 0 -w "$work/refused.pcap" "tcp port $port4" 2>"$work/refused.tcpdump" &
dump_pid=$!; pids+=("$dump_pid")
appears_within 10 "$work/refused.tcpdump" "listening on" || fail "refused: tcpdump did not start"
"$receiver" --headless --key-file "$work/key" --port "$port4" >"$work/refused.receiver.log" 2>&1 &
receiver_pid=$!; pids+=("$receiver_pid")
appears_within 10 "$work/refused.receiver.log" "listening on port" || fail "refused: the receiver did not start"
code=0; "$sender" "$work/small.mp4" --host 127.0.0.1 --port "$port4" >"$work/refused.sender.log" 2>&1 || code=$?
[ "$code" -eq 4 ] || fail "refused: the sender exited $code, not 4: $(cat "$work/refused.sender.log")"
appears_within 10 "$work/refused.receiver.log" "ended \(refused" || fail "refused: the receiver did not report the refusal"
deadline=$(( SECONDS + 10 ))
until [ "$(tshark -r "$work/refused.pcap" -Y "tcp.flags.fin == 1 || tcp.flags.reset == 1" 2>/dev/null | wc -l)" -ge 2 ]; do
  (( SECONDS < deadline )) || { fail "refused: the capture has no end of the connection"; break; }
  sleep 0.1
done
kill -INT "$dump_pid"; wait "$dump_pid" || true
kill -TERM "$receiver_pid"; wait "$receiver_pid" || fail "refused: the receiver did not exit cleanly on SIGTERM"
reason=$(sed -n 's/^sender: the receiver refused: //p' "$work/refused.sender.log")
tsh -r "$work/refused.pcap" -Y h264link -T fields -E occurrence=a -E aggregator=' ' -e tcp.srcport -e h264link.type \
  >"$work/refused.types"
wire_reason=$(tsh -r "$work/refused.pcap" -Y "h264link.error.code == 6" -T fields -e h264link.error.reason)
[ "$(tsh -r "$work/refused.pcap" -Y h264link.type -T fields -e h264link.type | tr ',' '\n' | sort | tr '\n' ' ')" \
  = "0x01 0x01 0x07 " ] || fail "refused: not HELLO, HELLO, ERROR: $(cat "$work/refused.types")"
[ -n "$reason" ] && [ "$wire_reason" = "$reason" ] \
  || fail "refused: ERROR 6 says '$wire_reason' on the wire, the sender printed '$reason'"
[ "$(tsh -r "$work/refused.pcap" -Y '_ws.malformed || _ws.expert.severity == error' | wc -l)" = 0 ] \
  || fail "refused: tshark reports malformed frames"
echo "refused: HELLO, HELLO, ERROR 6 '$wire_reason', as the sender printed"

# 5: the picture fields with values the sessions above leave at their
# defaults, from bytes laid out as docs/PROTOCOL.md says (text2pcap wraps
# them in TCP): a STREAM_INFO with the display matrix ffprobe reads from a
# clip tagged rotate=90 and a reorder depth of 2, then a MEDIA message
# flagged KEY|AU_START|AU_END|DECODE_ONLY. The dissector's rotation must be
# ffprobe's for that matrix.
ff -i "$work/long_gop.mp4" -c copy -metadata:s:v:0 rotate=90 "$work/rotated.mp4"
read -ra matrix < <(ffprobe -v error -select_streams v:0 -show_entries stream_side_data=displaymatrix \
  -of default=nw=1 "$work/rotated.mp4" | awk '/^[0-9a-f]+:/ { printf "%s %s %s ", $2, $3, $4 } END { print "" }')
rotation=$(ffprobe -v error -select_streams v:0 -show_entries stream_side_data=rotation -of csv=p=0 "$work/rotated.mp4")
i32() { printf '%08x' $(( $1 & 0xffffffff )); }
info=48323634014000f0000000190000000100000001000032000000000000000000000578 # codec, size, rates, duration, "x"...
info+=2e6d7034000000000000000000000000000000 # ..."x.mp4"; no audio: codec, rate, channels, bit rate, description
for v in "${matrix[@]}"; do info+=$(i32 "$v"); done
info+=020000 # reorder depth 2, no video description
media=ffffffffffff63c00000000109f0 # pts -40000 µs, an access unit delimiter
message() { printf '48324c4b03%02x%04x%08x0000000000000000%08x%s' "$1" "$2" "$3" $(( ${#4} / 2 )) "$4"; } # TYPE FLAGS SEQ PAYLOAD
{ message 2 0 0 "$info"; message 3 0x1d 1 "$media"; } | fold -w32 | sed 's/../& /g' \
  | awk '{ printf "%06x %s\n", (NR - 1) * 16, $0 }' >"$work/crafted.txt"
text2pcap -q -T 40000,8264 "$work/crafted.txt" "$work/crafted.pcap"
crafted=$(tsh -r "$work/crafted.pcap" -Y h264link -T fields -E occurrence=a -E aggregator=' ' \
  -e h264link.info.rotation -e h264link.info.video_reorder_depth -e h264link.info.display_matrix.value \
  -e h264link.flags.decode_only)
read -r got_rotation got_depth got_matrix < <(echo "$crafted" | awk '{ m = $3; for (i = 4; i <= 11; i++) m = m "," $i; print $1, $2, m }')
[ "${#matrix[@]}" = 9 ] && [ -n "$rotation" ] || fail "crafted: ffprobe gives no display matrix for a clip tagged rotate=90"
awk -v a="$got_rotation" -v b="$rotation" 'BEGIN { d = a - b; exit !(a != "" && d < 0.01 && d > -0.01) }' \
  || fail "crafted: the dissector says a rotation of '$got_rotation', ffprobe $rotation"
[ "$got_depth" = 2 ] || fail "crafted: the dissector says a reorder depth of '$got_depth', not 2"
[ "$got_matrix" = "$(IFS=,; echo "${matrix[*]}")" ] || fail "crafted: the dissector's matrix '$got_matrix', ffprobe's '${matrix[*]}'"
echo "$crafted" | grep -Eq '(True|1)$' || fail "crafted: no DECODE_ONLY flag on the MEDIA message: $crafted"
[ "$(tsh -r "$work/crafted.pcap" -Y '_ws.malformed || _ws.expert.severity == error' | wc -l)" = 0 ] \
  || fail "crafted: tshark reports malformed frames"
echo "crafted: rotation $got_rotation (ffprobe $rotation), matrix ${matrix[*]}, reorder depth $got_depth, DECODE_ONLY"

[ "$failures" -eq 0 ] || { echo "FAIL: $failures check(s) failed"; exit 1; }
echo "PASS"
