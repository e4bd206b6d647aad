#!/usr/bin/env bash
# GUI test under a real X server: the receiver window must show the streamed
# picture. QWidget::grab() cannot see the opengl renderer's native GL child
# window, so for both renderers the whole X root window is screenshotted and
# its pixels are checked, as a person would look at the screen.
#   gui_screenshot.sh SENDER RECEIVER OUTDIR [software|opengl]   (exit 77 = skipped)
set -euo pipefail
sender=$1 receiver=$2 out=$3 renderer=${4:-software}
for tool in Xvfb import convert ffmpeg; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/setup.sh installs it)"; exit 77; }
done
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# A free display number.
display=""
for n in $(seq 101 160); do
  [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] || { display=":$n"; break; }
done
[ -n "$display" ] || { echo "FAIL: no free X display number"; exit 1; }
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & pids+=($!)
export DISPLAY=$display
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

# The test pattern: left half pure red, right half pure blue.
ffmpeg -hide_banner -loglevel error -y -f lavfi \
  -i "color=c=red:s=320x360:r=25:d=30[l];color=c=blue:s=320x360:r=25:d=30[r];[l][r]hstack" \
  -c:v libx264 -pix_fmt yuv420p "$work/pattern.mp4"

"$receiver" --port 0 --renderer "$renderer" >"$work/receiver.log" 2>&1 & pids+=($!)
receiver_pid=$!
port=""
for _ in $(seq 100); do
  port=$(grep -o 'listening on port [0-9]*' "$work/receiver.log" | awk '{print $4}' || true)
  [ -n "$port" ] && break; sleep 0.1
done
[ -n "$port" ] || { echo "FAIL: the receiver did not start:"; cat "$work/receiver.log"; exit 1; }

"$sender" "$work/pattern.mp4" --host 127.0.0.1 --port "$port" --loop >"$work/sender.log" 2>&1 & pids+=($!)
sender_pid=$!
sleep 3
import -window root "$out/receiver_streaming.png"

# fraction of pixels near a colour, and their bounding box (WxH+X+Y)
# (pixels near the colour become a marker colour, with the fuzz; then exactly
#  the marker becomes white and everything else black)
measure() { convert "$1" -fuzz 12% -fill '#01fe02' -opaque "$2" -fuzz 0 \
              -fill black +opaque '#01fe02' -fill white -opaque '#01fe02' \
              -format '%[fx:mean] %@\n' info: 2>/dev/null; }
read -r red_frac red_box < <(measure "$out/receiver_streaming.png" '#ff0000')
read -r blue_frac blue_box < <(measure "$out/receiver_streaming.png" '#0000ff')
echo "red: $red_frac of the screen at $red_box; blue: $blue_frac at $blue_box"
awk -v r="$red_frac" -v b="$blue_frac" 'BEGIN { exit !(r > 0.08 && b > 0.08) }' \
  || { echo "FAIL: the picture is not on screen (see $out/receiver_streaming.png)"; exit 1; }
# Red must be left of blue, side by side, as in the source.
red_right=$(echo "$red_box" | awk -F'[x+]' '{print $1 + $3}')
blue_left=$(echo "$blue_box" | awk -F'[x+]' '{print $3}')
red_h=$(echo "$red_box" | awk -F'[x+]' '{print $2}')
blue_w=$(echo "$blue_box" | awk -F'[x+]' '{print $1}')
red_w=$(echo "$red_box" | awk -F'[x+]' '{print $1}')
[ $((blue_left - red_right)) -le 4 ] && [ $((red_right - blue_left)) -le 4 ] \
  || { echo "FAIL: red ends at x=$red_right but blue starts at x=$blue_left"; exit 1; }
# Aspect ratio kept: the 640x360 picture shows at 16:9 (each half 8:9).
awk -v w="$red_w" -v h="$red_h" 'BEGIN { a = w / h; exit !(a > 0.83 && a < 0.95) }' \
  || { echo "FAIL: aspect ratio not kept: red half is ${red_w}x${red_h}"; exit 1; }
[ $((red_w - blue_w)) -le 4 ] && [ $((blue_w - red_w)) -le 4 ] || { echo "FAIL: halves differ"; exit 1; }

# S shows the statistics panel (dark, below the picture) with live figures.
if command -v xdotool >/dev/null; then
  window=$(xdotool search --name "h264link receiver" | head -1)
  xdotool windowfocus --sync "$window" key s
  sleep 2.2
  import -window root "$out/receiver_statistics.png"
  read -r panel_frac _ < <(measure "$out/receiver_statistics.png" '#b9f6ca') # the panel's text
  echo "statistics panel: $panel_frac of the screen"
  awk -v p="$panel_frac" 'BEGIN { exit !(p > 0.001) }' \
    || { echo "FAIL: S did not show the statistics panel (see $out/receiver_statistics.png)"; exit 1; }
fi

# The sender stops: the window must say so and wait for the next sender.
kill -TERM "$sender_pid"
wait "$sender_pid" || { echo "FAIL: sender did not exit cleanly on SIGTERM"; cat "$work/sender.log"; exit 1; }
sleep 1
import -window root "$out/receiver_waiting.png"
read -r red_after _ < <(measure "$out/receiver_waiting.png" '#ff0000')
read -r waiting_frac _ < <(measure "$out/receiver_waiting.png" '#263238')
echo "after the stream: red $red_after, waiting page $waiting_frac"
awk -v r="$red_after" -v w="$waiting_frac" 'BEGIN { exit !(r < 0.001 && w > 0.2) }' \
  || { echo "FAIL: the waiting page is not shown (see $out/receiver_waiting.png)"; exit 1; }
grep -q "ended (end of stream)" "$work/receiver.log" || { echo "FAIL: no end-of-stream report"; exit 1; }
kill -0 "$receiver_pid" || { echo "FAIL: the receiver exited"; exit 1; }

# The sender's window: an error must reach the person in the window, in red.
echo "lesson notes, not a video" >"$work/notes.txt"
"$sender" "$work/notes.txt" --gui --host 127.0.0.1 --port "$port" >/dev/null 2>&1 & pids+=($!)
sleep 2
import -window root "$out/sender_window_error.png"
read -r error_frac _ < <(measure "$out/sender_window_error.png" '#c62828')
echo "sender window: error text covers $error_frac of the screen"
awk -v e="$error_frac" 'BEGIN { exit !(e > 0.0002) }' \
  || { echo "FAIL: the sender window shows no error (see $out/sender_window_error.png)"; exit 1; }
# Closing the receiver's window (Ctrl+Q, the same path as its X button)
# mid-stream: the sender hears why (ERROR 10) and the receiver exits 0.
if command -v xdotool >/dev/null; then
  connected_before=$(grep -c "sender connected" "$work/receiver.log" || true)
  "$sender" "$work/pattern.mp4" --host 127.0.0.1 --port "$port" >"$work/sender2.log" 2>&1 & pids+=($!)
  sender2_pid=$!
  for _ in $(seq 100); do
    [ "$(grep -c "sender connected" "$work/receiver.log" || true)" -gt "$connected_before" ] && break; sleep 0.1
  done
  window=$(xdotool search --name "h264link receiver" | head -1)
  xdotool windowfocus --sync "$window" key ctrl+q
  for _ in $(seq 50); do kill -0 "$receiver_pid" 2>/dev/null || break; sleep 0.1; done
  wait "$receiver_pid"; code=$?
  [ "$code" -eq 0 ] || { echo "FAIL: the receiver exited $code after its window was closed"; cat "$work/receiver.log"; exit 1; }
  wait "$sender2_pid" || true
  grep -q "the receiver was closed" "$work/sender2.log" \
    || { echo "FAIL: the sender did not hear that the receiver was closed"; cat "$work/sender2.log"; exit 1; }
fi
echo "PASS ($renderer renderer): screenshots in $out"
