#!/usr/bin/env bash
# Issue 14: a live stream skips nothing on a link that keeps up, and on one
# that does not it skips and names the link and its rate. Real time (no
# --fast), a headless receiver, all traffic inside two network namespaces this
# script creates, joined by a veth pair:
#   a. loopback (inside one namespace)
#   b. the veth capped at 1 Gbit/s (tc tbf)
#   c. 50 Mbit/s with a 10 ms round trip (tcp_delay_relay, 5 ms each way)
#   d. the veth capped at 20 Mbit/s, a 75 Mbit/s stream: frames are skipped
# b and d run again with an access key (TLS): the kernel's mark then counts
# TLS records, and the backlog waits in Qt's encrypted buffer.
# a-c: the sender reports no frame skipped and the receiver got every access
# unit of the clip (ffprobe's count).
#   keeps_up_netns.sh SENDER RECEIVER RELAY 1080p|2160p     (exit 77 = skipped)
# 1080p: 1920x1080 60 fps at 75 Mbit/s, a-d. 2160p: 3840x2160 60 fps at 110
# Mbit/s, a-b; it needs a receiver that keeps reading its socket while its
# decoder is behind (a machine too slow to decode it otherwise backpressures).
# Without root or a tool it skips, except in CI (CI=true), where it fails.
set -euo pipefail
sender=$1 receiver=$2 relay=$3 set=$4
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $* (CI=true: this test must run, not skip)"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
for tool in ip tc ffmpeg ffprobe; do command -v $tool >/dev/null || skip "$tool is not installed (scripts/setup.sh --test installs it)"; done

source "$(dirname "$0")/netns_pair.sh"
netns_pair h264s 232
seed=${SEED:-$$}
echo "seed $seed (the access key's text)"
echo "keeps up $seed" >"$work/key"
keyed=() # options both apps get: empty, or the key file

# Clips: 6 s of moving test pictures, x264 ultrafast at a fixed high bit rate.
clip() { # name size rate source
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$4=size=$2:rate=60" -t 6 \
    -c:v libx264 -preset ultrafast -b:v "$3" -g 60 -pix_fmt yuv420p "$work/$1.mp4"
}
units() { ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$1"; }
case "$set" in
  1080p) clip fast 1920x1080 75M testsrc2; clip long 1920x1080 50M mandelbrot ;;
  2160p) clip fast 3840x2160 110M testsrc2 ;;
  *) echo "usage: $0 SENDER RECEIVER RELAY 1080p|2160p"; exit 64 ;;
esac

phase_limit_s=60 # each phase streams a 6 s clip in real time
# Runs one stream: receiver in namespace $1, sender in $2 towards $3:$4.
stream() { # phase receiver-ns sender-ns host port clip
  local phase=$1
  ip netns exec "$2" "$receiver" --headless --once --port 8264 "${keyed[@]}" >"$work/recv.log" 2>&1 &
  receiver_pid=$!; pids+=($receiver_pid)
  for _ in $(seq 300); do grep -q 'listening on port' "$work/recv.log" && break; sleep 0.1; done
  grep -q 'listening on port' "$work/recv.log" || { echo "FAIL [$phase]: receiver did not start"; cat "$work/recv.log"; exit 1; }
  ip netns exec "$3" "$sender" "$6" --host "$4" --port "$5" "${keyed[@]}" >"$work/send.log" 2>&1 &
  sender_pid=$!; pids+=($sender_pid)
  local deadline=$(( $(date +%s) + phase_limit_s ))
  : >"$work/notsent.txt"
  for pid in $sender_pid $receiver_pid; do
    while kill -0 "$pid" 2>/dev/null; do
      # The unsent bytes the kernel holds for the sender's connection.
      ip netns exec "$3" ss -tinH "dport = :$5" 2>/dev/null | grep -o 'notsent:[0-9]*' | cut -d: -f2 >>"$work/notsent.txt" || true
      if [ "$(date +%s)" -ge $deadline ]; then
        echo "FAIL [$phase]: still running after $phase_limit_s s"; cat "$work/send.log" "$work/recv.log"; exit 1
      fi
      sleep 0.1
    done
  done
  wait "$sender_pid" || { echo "FAIL [$phase]: sender exited $?"; cat "$work/send.log" "$work/recv.log"; exit 1; }
  wait "$receiver_pid" || { echo "FAIL [$phase]: receiver exited $?"; cat "$work/send.log" "$work/recv.log"; exit 1; }
}
# Nothing skipped by the sender: it sent, and the receiver got, every access
# unit. (A receiver that decodes slower than the video, on a loaded machine,
# may skip to keyframes itself: that is its own count, not the link's.)
expect_all() { # phase clip
  local phase=$1 want
  want=$(units "$2")
  if grep -qE 'frames skipped to stay live|live: skipping' "$work/send.log" \
     || ! grep -q "done: sent $want frames" "$work/send.log" \
     || ! grep -q " $want of $want frames received" "$work/recv.log"; then
    echo "FAIL [$phase]: not all $want access units arrived"; cat "$work/send.log" "$work/recv.log"; exit 1
  fi
  echo "ok [$phase]: all $want access units sent and received, none skipped"
}

# a. Loopback.
stream "loopback" "$A" "$A" 127.0.0.1 8264 "$work/fast.mp4"
expect_all "loopback" "$work/fast.mp4"

# b. Two hosts, a gigabit link.
ip netns exec "$A" tc qdisc add dev "$vethA" root tbf rate 1gbit burst 1mb latency 20ms
stream "1 Gbit/s link" "$B" "$A" "$ipB" 8264 "$work/fast.mp4"
expect_all "1 Gbit/s link" "$work/fast.mp4"
keyed=(--key-file "$work/key")
stream "1 Gbit/s link, keyed" "$B" "$A" "$ipB" 8264 "$work/fast.mp4"
expect_all "1 Gbit/s link, keyed" "$work/fast.mp4"
keyed=()
if [ "$set" = 2160p ]; then echo PASS; exit 0; fi

# c. 50 Mbit/s over a 10 ms round trip: a relay on host A holds each chunk
#    5 ms each way.
ip netns exec "$A" "$relay" 0 "$ipB" 8264 5 >"$work/relay.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q 'listening on port' "$work/relay.log" && break; sleep 0.1; done
grep -q 'listening on port' "$work/relay.log" || { echo "FAIL: the relay did not start"; cat "$work/relay.log"; exit 1; }
relay_port=$(grep -o 'listening on port [0-9]*' "$work/relay.log" | awk '{print $4}')
stream "10 ms round trip" "$B" "$A" 127.0.0.1 "$relay_port" "$work/long.mp4"
expect_all "10 ms round trip" "$work/long.mp4"

# d. A link slower than the video: frames skipped, and the sender names the
#    link and a rate below the video's, near the cap (TCP's payload on a
#    20 Mbit/s tbf: a little less).
ip netns exec "$A" tc qdisc replace dev "$vethA" root tbf rate 20mbit burst 32kb latency 100ms
expect_slow() { # phase
  local phase=$1 line link video
  line=$(grep 'done:' "$work/send.log" || true)
  link=$(grep -o 'the link carries about [0-9.]* Mbit/s' <<<"$line" | awk '{print $5}' || true)
  video=$(grep -o "less than the video's [0-9.]* Mbit/s" <<<"$line" | awk '{print $5}' || true)
  if ! grep -q 'frames skipped to stay live' <<<"$line" || [ -z "$link" ] || [ -z "$video" ] \
     || ! awk -v l="$link" -v v="$video" 'BEGIN { exit !(l >= 5 && l <= 24 && l < v) }'; then
    echo "FAIL [$phase]: the sender did not skip naming the link near 20 Mbit/s"; cat "$work/send.log"; exit 1
  fi
  grep -q ' 0 decode errors' "$work/recv.log" || { echo "FAIL [$phase]: damaged frames"; cat "$work/recv.log"; exit 1; }
  # The backlog waited in the sender's own buffer, not in the kernel's: at
  # most the 128 KiB mark unsent there, and the segment it was filling
  # (an autotuned send buffer alone would hold megabytes on this link).
  local most
  most=$(sort -n "$work/notsent.txt" | tail -1)
  [ -n "$most" ] || { echo "FAIL [$phase]: ss showed no unsent bytes for the connection"; exit 1; }
  [ "$most" -le $(( 256 * 1024 )) ] || { echo "FAIL [$phase]: the kernel held $most bytes unsent"; exit 1; }
  echo "ok [$phase]: $(grep -o '[0-9]* frames skipped' <<<"$line"), the link at about $link Mbit/s, the video" \
       "$video Mbit/s; at most $most bytes waited unsent in the kernel"
}
stream "20 Mbit/s link" "$B" "$A" "$ipB" 8264 "$work/fast.mp4"
expect_slow "20 Mbit/s link"
keyed=(--key-file "$work/key")
stream "20 Mbit/s link, keyed" "$B" "$A" "$ipB" 8264 "$work/fast.mp4"
expect_slow "20 Mbit/s link, keyed"
echo PASS
