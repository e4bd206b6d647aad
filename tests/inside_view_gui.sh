#!/usr/bin/env bash
# The Inside view in the real receiver under a real X server (Xvfb): key I
# opens it (its dark ground fills a new part of the screen, and the message
# timeline shows the wire header's field colours, which only a streamed
# message can paint), and P pauses it (the view stops moving while the
# stream goes on; unpaused, it moves). Checked by screenshot of the root window.
#   inside_view_gui.sh SENDER RECEIVER OUTDIR   (exit 77 = skipped)
# A missing tool skips, except in CI (CI=true), where it fails.
# H264LINK_XVFB_DISPLAY (e.g. :73) picks the display number.
set -euo pipefail
sender=$1 receiver=$2 out=$3
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $* (CI=true: this test must run, not skip)"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
for tool in Xvfb xdpyinfo xdotool import convert compare ffmpeg; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup.sh installs it)"
done
mkdir -p "$out"
work=$(mktemp -d)
pids=()
# Newest first (the sender, the receiver, then the X server they use), each
# given 20 s to end; one that does not is named, killed, and fails the test.
cleanup() {
  local status=$? i p
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    p=${pids[i]}
    kill "$p" 2>/dev/null || continue
    for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then
      echo "FAIL: $(ps -o args= -p "$p" | cut -c1-80) did not end within 20 s of SIGTERM"
      kill -9 "$p" 2>/dev/null || true
      status=1
    fi
  done
  wait 2>/dev/null || true
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

display=${H264LINK_XVFB_DISPLAY:-}
if [ -z "$display" ]; then
  for n in $(seq 161 220); do
    [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] || { display=":$n"; break; }
  done
fi
[ -n "$display" ] || { echo "FAIL: no free X display number"; exit 1; }
Xvfb "$display" -screen 0 1600x900x24 -nolisten tcp >/dev/null 2>&1 & pids+=($!)
export DISPLAY=$display
for _ in $(seq 100); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
xdpyinfo >/dev/null 2>&1 || { echo "FAIL: Xvfb did not start on $display"; exit 1; }

why=""
shoot_until() { # SECONDS FILE CHECK: screenshots until CHECK FILE holds
  local deadline=$(( SECONDS + $1 )) file=$2
  while :; do
    import -window root "$file"
    "$3" "$file" && return 0
    (( SECONDS < deadline )) || return 1
    sleep 0.2
  done
}
# Fraction of the image exactly in COLOUR (fills, not antialiased text).
fraction() { convert "$1" -fill white -opaque "$2" -fill black +opaque white -format '%[fx:mean]' info:; }

ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=s=320x240:r=25:d=30" \
  -c:v libx264 -g 25 -pix_fmt yuv420p "$work/clip.mp4"

"$receiver" --port 0 >"$work/receiver.log" 2>&1 & pids+=($!)
port=""
for _ in $(seq 100); do
  port=$(grep -o 'listening on port [0-9]*' "$work/receiver.log" | awk '{print $4}' || true)
  [ -n "$port" ] && break; sleep 0.1
done
[ -n "$port" ] || { echo "FAIL: the receiver did not start:"; cat "$work/receiver.log"; exit 1; }
"$sender" "$work/clip.mp4" --host 127.0.0.1 --port "$port" --loop >"$work/sender.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do grep -q "sender connected" "$work/receiver.log" && break; sleep 0.1; done
grep -q "sender connected" "$work/receiver.log" || { echo "FAIL: the sender did not connect"; cat "$work/sender.log"; exit 1; }

background='#101418' # the view's ground (inside_view.cpp kBackground)
import -window root "$out/inside_before.png"
before=$(fraction "$out/inside_before.png" "$background")
awk -v b="$before" 'BEGIN { exit !(b < 0.01) }' || { echo "FAIL: the view's colour is on screen before I ($before)"; exit 1; }

window=$(xdotool search --name '^h264link receiver$' | head -1)
[ -n "$window" ] || { echo "FAIL: no receiver window"; exit 1; }
xdotool windowfocus --sync "$window" key i

# Open, with streamed messages: its ground, and every header field's colour
# (event_text.cpp headerFields()) in the hex cells.
view_shown() {
  local ground f n missing=""
  ground=$(fraction "$1" "$background")
  for f in '#ffd54f' '#81d4fa' '#a5d6a7' '#f48fb1' '#ce93d8' '#ffab91' '#80cbc4'; do
    n=$(fraction "$1" "$f")
    awk -v n="$n" 'BEGIN { exit !(n > 0.0002) }' || missing+=" $f"
  done
  why="view ground $ground of the screen; header colours missing:${missing:- none}"
  awk -v g="$ground" 'BEGIN { exit !(g > 0.2) }' && [ -z "$missing" ] && echo "$why"
}
shoot_until 20 "$out/inside_open.png" view_shown || { echo "FAIL: I did not open the view: $why (see $out/inside_open.png)"; exit 1; }
compare -metric AE "$out/inside_before.png" "$out/inside_open.png" null: 2>"$work/ae" || true
awk '{ exit !($1 > 100000) }' "$work/ae" || { echo "FAIL: the screen barely changed ($(cat "$work/ae") pixels)"; exit 1; }

# The timelines, below the view's top line (its counter keeps counting while paused).
inside=$(xdotool search --name 'h264link receiver — inside' | head -1)
[ -n "$inside" ] || { echo "FAIL: no Inside view window"; exit 1; }
eval "$(xdotool getwindowgeometry --shell "$inside")" # X Y WIDTH HEIGHT
region="$((WIDTH))x$((HEIGHT - 80))+$X+$((Y + 80))"
crop() { convert "$1" -crop "$region" +repage "$2"; }
differs() { # A B: pixels that differ (compare exits 1 when they do)
  { compare -metric AE "$1" "$2" null: 2>&1 >/dev/null || true; } | awk '{print int($1)}'
}
import -window root "$work/live1.png"; sleep 1; import -window root "$work/live2.png"
crop "$work/live1.png" "$work/live1c.png"; crop "$work/live2.png" "$work/live2c.png"
moving=$(differs "$work/live1c.png" "$work/live2c.png")
[ "$moving" -gt 0 ] || { echo "FAIL: the live view did not move in 1 s of streaming"; exit 1; }

xdotool windowfocus --sync "$inside" key p
sleep 0.5 # the refresh in flight, if any, lands before the first picture
import -window root "$out/inside_paused1.png"; sleep 1.5; import -window root "$out/inside_paused2.png"
crop "$out/inside_paused1.png" "$work/p1c.png"; crop "$out/inside_paused2.png" "$work/p2c.png"
frozen=$(differs "$work/p1c.png" "$work/p2c.png")
[ "$frozen" -eq 0 ] || { echo "FAIL: paused, the view still moved ($frozen pixels)"; exit 1; }
grep -q "disconnected\|ended" "$work/receiver.log" && { echo "FAIL: the stream stopped"; cat "$work/receiver.log"; exit 1; }

# I again closes it.
xdotool windowfocus --sync "$inside" key i
closed() {
  local ground; ground=$(fraction "$1" "$background")
  why="view ground $ground"; awk -v g="$ground" 'BEGIN { exit !(g < 0.01) }'
}
shoot_until 10 "$out/inside_closed.png" closed || { echo "FAIL: I did not close the view: $why"; exit 1; }
echo "PASS: live view moved ($moving pixels in 1 s), paused view froze; screenshots in $out"
