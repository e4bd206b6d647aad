#!/usr/bin/env bash
# Soak: `sender --loop` in real time into one `receiver --headless` on
# loopback for DURATION seconds. Every 10 s it records both apps' resident
# memory (VmRSS), open file descriptors and threads. At the end it stops the
# sender, then the receiver, with SIGINT, and checks:
#   - RSS stays within +5 MB of its baseline, the sample at the end of the
#     warm-up: 60 s, or for runs shorter than 4 minutes DURATION/4 (rounded
#     up to a sample), so that a 2-minute CI run still has 9 samples to judge;
#   - file descriptors and threads never change after the warm-up;
#   - no frame is lost: the receiver's summary says every frame sent was
#     received and decoded (no decode errors, concealment, gaps or LOST),
#     the sender skipped nothing, every picture equals ffmpeg's decode of the
#     clip (frame i is frame i mod N of the clip), and the sender kept real
#     time (frames sent = seconds streamed × fps, within 0.5 s + 0.1 %);
#   - both apps exit 0 on SIGINT.
# Samples go to bench/results/soak-<time>-<duration>s-<pid>.csv, the verdict
# to the same name .json (and the logs to that name/ when it fails). Exit 0 when every check holds.
#   bench/soak.sh DURATION_SECONDS [SENDER RECEIVER [CLIP]]
# (default: build/sender/sender, build/receiver/receiver, resources/demo.mp4)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() { echo "usage: bench/soak.sh DURATION_SECONDS [SENDER RECEIVER [CLIP]] (DURATION >= 40)" >&2; exit 64; }
[[ ${1:-} =~ ^[0-9]+$ ]] && (( $1 >= 40 )) || usage
duration=$1
sender=${2:-$root/build/sender/sender}
receiver=${3:-$root/build/receiver/receiver}
clip=${4:-$root/resources/demo.mp4}
interval=10
rss_slack_kib=5120
for bin in "$sender" "$receiver"; do
  [ -x "$bin" ] || { echo "soak: FAIL: '$bin' is not built (scripts/setup.sh builds it)"; exit 1; }
done
for tool in ffmpeg ffprobe; do
  command -v "$tool" >/dev/null || { echo "soak: FAIL: $tool is not installed (scripts/setup.sh --test installs it)"; exit 1; }
done

warmup=60
if (( duration < 240 )); then warmup=$(( (duration / 4 + interval - 1) / interval * interval )); fi
stamp=$(date -u +%Y%m%dT%H%M%SZ)-${duration}s-$$ # two runs may start in the same second
results=$root/bench/results
mkdir -p "$results"
csv=$results/soak-$stamp.csv
json=$results/soak-$stamp.json
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

failures=()
fail() { failures+=("$*"); echo "soak: FAIL: $*"; }
# Ends the run now: keeps the logs next to the results, writes the verdict.
abort() { fail "$*"; finish; }
finish() {
  local verdict=pass
  ((${#failures[@]})) && verdict=fail
  if [ "$verdict" = fail ]; then
    mkdir -p "$results/soak-$stamp"
    cp "$work"/*.log "$results/soak-$stamp/" 2>/dev/null || true
  fi
  {
    printf '{"duration_s": %s, "interval_s": %s, "warmup_s": %s, "clip": "%s",\n' \
      "$duration" "$interval" "$warmup" "$(basename "$clip")"
    printf ' "frames_per_pass": %s, "frames_sent": %s, "frames_decoded": %s, "passes": %s,\n' \
      "${pass_frames:-null}" "${sent:-null}" "${decoded:-null}" "${passes:-null}"
    printf ' "streamed_s": %s, "frames_due": %s,\n' "${streamed:-null}" "${expected:-null}"
    printf ' "sender": %s,\n "receiver": %s,\n' "$(app_json 2)" "$(app_json 5)"
    printf ' "verdict": "%s", "failures": [' "$verdict"
    local first=1 f
    for f in "${failures[@]}"; do
      ((first)) || printf ', '; first=0
      printf '"%s"' "${f//\"/\'}"
    done
    printf '],\n "samples": "%s"}\n' "$(basename "$csv")"
  } >"$json"
  echo "soak: samples in $csv, verdict in $json"
  if [ "$verdict" = pass ]; then
    echo "soak: PASS: ${duration} s, ${sent} frames (${passes} passes of the clip) sent and decoded exactly;" \
         "RSS, file descriptors and threads flat after ${warmup} s"
    exit 0
  fi
  echo "soak: FAIL (${#failures[@]} check(s) failed; logs in $results/soak-$stamp/)"
  exit 1
}
# One app's figures from the CSV; column = its RSS column (2 sender, 5 receiver).
app_json() {
  [ -s "$csv" ] || { echo null; return; }
  awk -F, -v c="$1" -v w="$warmup" '
    NR == 1 { next }
    { n++; if (n == 1) { r0 = $c; f0 = $(c+1); t0 = $(c+2) }
      if ($1 == w) { rb = $c; fb = $(c+1); tb = $(c+2) }
      if ($c > rmax) rmax = $c; r = $c; f = $(c+1); t = $(c+2)
      if (fmin == "" || $(c+1) < fmin) fmin = $(c+1); if ($(c+1) > fmax) fmax = $(c+1)
      if (tmin == "" || $(c+2) < tmin) tmin = $(c+2); if ($(c+2) > tmax) tmax = $(c+2) }
    END { if (!n) { print "null"; exit }
          printf "{\"rss_kib\": {\"first\": %s, \"baseline\": %s, \"max\": %s, \"last\": %s}, ", r0, rb == "" ? "null" : rb, rmax, r
          printf "\"fds\": {\"min\": %s, \"max\": %s, \"baseline\": %s}, ", fmin, fmax, fb == "" ? "null" : fb
          printf "\"threads\": {\"min\": %s, \"max\": %s, \"baseline\": %s}}", tmin, tmax, tb == "" ? "null" : tb }' "$csv"
}
# VmRSS (KiB), open descriptors, threads of a live process: "rss,fds,threads".
sample() {
  local pid=$1 rss threads fds
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 1
  threads=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 1
  fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  [ -n "$rss" ] && [ -n "$threads" ] || return 1
  echo "$rss,$fds,$threads"
}
# Waits up to $2 seconds for process $1 to end; then `wait` gives its status.
ended_within() {
  local pid=$1 deadline=$(( SECONDS + $2 ))
  while kill -0 "$pid" 2>/dev/null; do (( SECONDS < deadline )) || return 1; sleep 0.1; done
}
# Waits up to $3 seconds for the extended regex $2 in file $1.
appears_within() {
  local deadline=$(( SECONDS + $3 ))
  until grep -Eq "$2" "$1" 2>/dev/null; do (( SECONDS < deadline )) || return 1; sleep 0.1; done
}

# The clip and its reference: ffmpeg's decode, frame by frame.
[ -f "$clip" ] || { echo "soak: FAIL: no clip '$clip'"; exit 1; }
ffmpeg -hide_banner -loglevel error -nostdin -i "$clip" -map 0:v:0 -fps_mode passthrough -f framemd5 - \
  | grep -v '^#' | awk -F', *' '{ print $NF }' >"$work/reference.txt"
pass_frames=$(wc -l <"$work/reference.txt")
rate=$(ffprobe -v error -select_streams v:0 -show_entries stream=avg_frame_rate -of csv=p=0 "$clip")
counted=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$clip")
[ "$pass_frames" -gt 0 ] && [ "$pass_frames" = "$counted" ] \
  || { echo "soak: FAIL: ffmpeg decodes $pass_frames frames of '$clip' but ffprobe counts $counted"; exit 1; }

"$receiver" --headless --no-announce --port 0 --framemd5 "$work/got.framemd5" --stats >"$work/receiver.log" 2>&1 &
receiver_pid=$!; pids+=("$receiver_pid")
appears_within "$work/receiver.log" 'listening on port [0-9]+' 10 || abort "the receiver did not start listening"
port=$(grep -Eo 'listening on port [0-9]+' "$work/receiver.log" | awk '{ print $4 }')
"$sender" "$clip" --host 127.0.0.1 --port "$port" --loop >"$work/sender.log" 2>&1 &
sender_pid=$!; pids+=("$sender_pid")
appears_within "$work/receiver.log" 'sender connected' 10 || abort "the sender did not connect"
start=$SECONDS
start_ns=$(date +%s%N)
echo "soak: ${duration} s of '$(basename "$clip")' ($pass_frames frames a pass, $rate fps) on 127.0.0.1:$port;" \
     "sender pid $sender_pid, receiver pid $receiver_pid; warm-up ${warmup} s"

echo "t_s,sender_rss_kib,sender_fds,sender_threads,receiver_rss_kib,receiver_fds,receiver_threads,frames_decoded" >"$csv"
for (( t = interval; t <= duration; t += interval )); do
  # The sampling period itself: nothing to poll for.
  while (( SECONDS - start < t )); do sleep 0.2; done
  s=$(sample "$sender_pid") || abort "the sender ended after $(( SECONDS - start )) s: $(tail -n 3 "$work/sender.log" | tr '\n' ' ')"
  r=$(sample "$receiver_pid") || abort "the receiver ended after $(( SECONDS - start )) s: $(tail -n 3 "$work/receiver.log" | tr '\n' ' ')"
  frames=$(grep -c '^0,' "$work/got.framemd5" || true) # the video's lines (stream 1 is the sound)
  echo "$t,$s,$r,$frames" >>"$csv"
  if (( t % 60 == 0 || t == duration )); then echo "soak: $t s: sender $s, receiver $r (rss KiB,fds,threads), $frames frames"; fi
done
# Stop: the sender first (it sends END_OF_STREAM), then the receiver.
kill -INT "$sender_pid"
streamed=$(awk -v a="$start_ns" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
if ended_within "$sender_pid" 15; then
  code=0; wait "$sender_pid" || code=$?
  (( code == 0 )) || fail "the sender exited $code on SIGINT: $(tail -n 2 "$work/sender.log" | tr '\n' ' ')"
else
  fail "the sender did not exit within 15 s of SIGINT"
fi
appears_within "$work/receiver.log" 'stream from .* ended' 15 || fail "the receiver did not report the end of the stream"
kill -INT "$receiver_pid"
if ended_within "$receiver_pid" 15; then
  code=0; wait "$receiver_pid" || code=$?
  (( code == 0 )) || fail "the receiver exited $code on SIGINT (not a clean close)"
else
  fail "the receiver did not exit within 15 s of SIGINT"
fi

# No frame lost.
sent=$(grep -Eo '(stopped|done): sent [0-9]+ frames' "$work/sender.log" | grep -Eo '[0-9]+' | tail -n 1 || true)
summary=$(grep -E 'stream from .* ended' "$work/receiver.log" | tail -n 1 || true)
[ -n "$sent" ] || fail "the sender did not say how many frames it sent: $(tail -n 2 "$work/sender.log" | tr '\n' ' ')"
sent=${sent:-0}
passes=$(awk -v s="$sent" -v p="$pass_frames" 'BEGIN { printf "%.1f", s / p }')
grep -q 'skipped' "$work/sender.log" && fail "the sender skipped frames: $(grep 'skipped' "$work/sender.log" | tail -n 1)"
[[ $summary =~ \(end\ of\ stream\):\ ([0-9]+)\ of\ ([0-9]+)\ frames\ received,\ ([0-9]+)\ decoded,\ ([0-9]+)\ decode\ errors ]] \
  || fail "no end-of-stream summary from the receiver: '${summary:-nothing}'"
received=${BASH_REMATCH[1]:-0} announced=${BASH_REMATCH[2]:-0} decoded=${BASH_REMATCH[3]:-0} errors=${BASH_REMATCH[4]:-0}
(( received == sent && announced == sent )) || fail "frames: $sent sent, the receiver announced $announced and received $received"
(( decoded == sent )) || fail "frames: $sent sent, $decoded decoded"
(( errors == 0 )) || fail "$errors decode errors"
for bad in concealed LOST gaps malformed dropped 'pipeline error'; do
  [[ $summary == *"$bad"* ]] && fail "the receiver's summary says '$bad': $summary"
done
awk -F'"decode_errors":' 'NF > 1 { split($2, v, /[,}]/); if (v[1] + 0 > 0) bad = 1 } END { exit bad }' "$work/receiver.log" \
  || fail "the receiver's --stats counted decode errors while streaming"
grep -Eq '"sender":[1-9]' "$work/receiver.log" && fail "the receiver's --stats saw frames skipped by the sender"
stats_decoded=$(grep -Eo '"summary":\{.*"frames_decoded":[0-9]+' "$work/receiver.log" | grep -Eo '[0-9]+$' | tail -n 1 || true)
[ "${stats_decoded:-none}" = "$decoded" ] || fail "the --stats summary counts ${stats_decoded:-no} frames decoded, the summary line $decoded"
grep '^0,' "$work/got.framemd5" | awk -F', *' '{ print $NF }' >"$work/got.txt"
lines=$(wc -l <"$work/got.txt")
(( lines == decoded )) || fail "--framemd5 has $lines frames, the summary $decoded"
# Frame i is frame i mod N of the clip. The stop cuts the stream in decode
# order, so the last few pictures in display order may be ones whose
# B-frames were never sent; everything before them must be exact.
mismatch=$(awk -v tail=4 'NR == FNR { ref[n++] = $0; next }
                          { got[m++] = $0 }
                          END { for (i = 0; i < m - tail; i++) if (got[i] != ref[i % n]) { print i; exit } }' \
             "$work/reference.txt" "$work/got.txt")
[ -z "$mismatch" ] || fail "frame $mismatch differs from ffmpeg's decode of the clip (frame $(( mismatch % pass_frames )))"
# Real time: a clock that runs fast or slow by 0.5 s plus 0.1 % shows here
# (a loop seam 2 frames short per 12 s pass is 0.8 s over 2 minutes).
expected=$(awk -v t="$streamed" -v r="$rate" 'BEGIN { split(r, q, "/"); printf "%.0f", t * q[1] / (q[2] ? q[2] : 1) }')
awk -v s="$sent" -v e="$expected" -v t="$streamed" -v r="$rate" '
  BEGIN { split(r, q, "/"); fps = q[1] / (q[2] ? q[2] : 1); slack = (0.5 + 0.001 * t) * fps
          exit !(s - e <= slack && e - s <= slack) }' \
  || fail "real time not kept: $sent frames sent in ${streamed} s at $rate fps, where $expected were due"

# Nothing grows after the warm-up.
while IFS= read -r problem; do fail "$problem"; done < <(awk -F, -v w="$warmup" -v slack="$rss_slack_kib" '
  NR == 1 { for (i = 2; i <= 7; i++) name[i] = $i; next }
  $1 == w { for (i = 2; i <= 7; i++) base[i] = $i; have = 1; next }
  have { for (i = 2; i <= 7; i++) {
           if (i == 2 || i == 5) { if ($i - base[i] > slack && !seen[i]++)
                                     printf "%s grew from %d to %d KiB (more than %d KiB) by %d s\n", name[i], base[i], $i, slack, $1 }
           else if ($i != base[i] && !seen[i]++)
             printf "%s changed from %d to %d at %d s\n", name[i], base[i], $i, $1 } }' "$csv")
finish
