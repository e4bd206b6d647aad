#!/usr/bin/env bash
# The screen as a source, for real: an Xvfb display shows a barcode clock
# (tools/screen_clock), `sender --screen` captures it, and the receiver
# records what it decodes. Every recorded frame must carry a barcode that
# reads, and the values must rise: the receiver got the live screen, in
# order, not a still or a stale buffer. No timing is asserted here
# (bench/screen_latency.py measures it).
#   screen_source.sh SENDER RECEIVER SCREEN_CLOCK    (exit 77 = skipped)
# H264LINK_SCREEN_DISPLAY (e.g. :117) picks the display number.
set -euo pipefail
sender=$1 receiver=$2 clock=$3
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $* (CI=true: this test must run, not skip)"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
for tool in Xvfb xdpyinfo ffmpeg ffprobe; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup.sh --test installs it)"
done
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

display=${H264LINK_SCREEN_DISPLAY:-}
if [ -z "$display" ]; then
  for n in $(seq 117 160); do
    [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] || { display=":$n"; break; }
  done
fi
[ -n "$display" ] || { echo "FAIL: no free X display number"; exit 1; }
Xvfb "$display" -screen 0 640x360x24 -nolisten tcp >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 100); do DISPLAY=$display xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
DISPLAY=$display xdpyinfo >/dev/null 2>&1 || { echo "FAIL: Xvfb did not start on $display"; exit 1; }
DISPLAY=$display QT_QPA_PLATFORM=xcb "$clock" show --period-ms 2 >/dev/null 2>&1 & pids+=($!)

"$receiver" --headless --once --port 0 --record "$work/screen.mkv" --framemd5 "$work/screen.framemd5" \
  >"$work/receiver.log" 2>&1 & receiver_pid=$!; pids+=($receiver_pid)
for _ in $(seq 100); do grep -q "listening on port" "$work/receiver.log" 2>/dev/null && break; sleep 0.1; done
port=$(grep -oE "listening on port [0-9]+" "$work/receiver.log" | grep -oE "[0-9]+$") \
  || { echo "FAIL: the receiver did not listen"; cat "$work/receiver.log"; exit 1; }

"$sender" --screen "$display" --fps 15 --host 127.0.0.1 --port "$port" >"$work/sender.log" 2>&1 & sender_pid=$!
pids+=($sender_pid)
# Until 45 frames have been decoded (3 s at 15 fps), then stop it as Ctrl+C would.
deadline=$(( SECONDS + 60 ))
until [ "$(grep -c '^0,' "$work/screen.framemd5" 2>/dev/null || true)" -ge 45 ]; do
  if ! kill -0 "$sender_pid" 2>/dev/null || (( SECONDS > deadline )); then
    echo "FAIL: the receiver did not decode 45 frames of the screen"; cat "$work/sender.log" "$work/receiver.log"
    exit 1
  fi
  sleep 0.2
done
kill -TERM "$sender_pid" # as Ctrl+C (a background job ignores SIGINT)
wait "$sender_pid" || { echo "FAIL: the sender did not end cleanly"; cat "$work/sender.log"; exit 1; }
wait "$receiver_pid" || { echo "FAIL: the receiver's stream did not end cleanly"; cat "$work/receiver.log"; exit 1; }

decoded=$(grep -c '^0,' "$work/screen.framemd5")
recorded=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 \
  "$work/screen.mkv")
[ "$decoded" -gt 0 ] && [ "$decoded" = "$recorded" ] \
  || { echo "FAIL: $decoded frames decoded, $recorded in the recording"; exit 1; }
mkdir "$work/frames"
ffmpeg -v error -i "$work/screen.mkv" -fps_mode passthrough "$work/frames/%04d.png" 2>"$work/extract.log"
QT_QPA_PLATFORM=offscreen "$clock" decode "$work"/frames/*.png >"$work/values.txt" || true
total=$(wc -l <"$work/values.txt")
[ "$total" = "$recorded" ] || { echo "FAIL: $total frames extracted, $recorded recorded"; exit 1; }
if grep -q " none$" "$work/values.txt"; then
  echo "FAIL: frames without a readable barcode:"; grep " none$" "$work/values.txt" | head; exit 1
fi
# Rising: no frame shows an earlier clock than the one before it, and nearly
# every one a later one (captured at 15 fps from a clock repainted every 2 ms).
# A starved clock (a loaded machine, a sanitizer build) may miss a repaint
# now and then, so a few repeats are allowed; a still or stale picture
# repeats on most frames.
awk '{ if (NR > 1 && $2 < last) { print "FAIL: frame " NR " shows " $2 " after " last; bad = 1 }
       if (NR > 1 && $2 == last) repeats++; last = $2 }
     END { if (repeats * 10 > NR) { print "FAIL: " repeats " of " NR " frames show the clock of the frame before"; bad = 1 }
           else if (repeats) print "note: " repeats " of " NR " frames repeat the clock before (a repaint missed)"
           exit bad }' "$work/values.txt"
echo "PASS: $decoded frames of the screen arrived, each with its barcode, in rising order" \
     "($(head -1 "$work/values.txt" | cut -d' ' -f2) .. $(tail -1 "$work/values.txt" | cut -d' ' -f2) ms)"
