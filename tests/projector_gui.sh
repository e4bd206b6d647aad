#!/usr/bin/env bash
# The receiver on a projector (issue 15), under a real X server with a
# window manager (full screen is the window manager's job): full screen
# shows the picture edge to edge, the status line comes back on a mouse
# move and hides again, space freezes the picture while the stream goes on,
# p writes the shown frame as a PNG, ? lists the keys, Esc leaves full screen
# first, q quits with 0; the waiting page's QR code holds the sender's
# command line; --window-size, --always-on-top and --listen.
# Each check polls the screen until it holds or its deadline passes.
# The mouse cursor hides after 2 s without movement (read from the X server
# by CURSOR_SHOWN: screenshots never show the cursor).
#   projector_gui.sh SENDER RECEIVER OUTDIR CURSOR_SHOWN   (exit 77 = skipped)
# A missing tool skips, except in CI (CI=true), where it fails.
# H264LINK_XVFB_DISPLAY (e.g. :73) picks the display number.
set -euo pipefail
sender=$1 receiver=$2 out=$3 cursor_shown=$4
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $* (CI=true: this test must run, not skip)"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
for tool in Xvfb xdpyinfo import convert compare ffmpeg ffprobe xdotool xwininfo xprop openbox zbarimg hostname; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup.sh installs it)"
done
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$work"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

display=${H264LINK_XVFB_DISPLAY:-}
if [ -z "$display" ]; then
  for n in $(seq 101 160); do
    [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] || { display=":$n"; break; }
  done
fi
[ -n "$display" ] || { echo "FAIL: no free X display number"; exit 1; }
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & pids+=($!)
xvfb_pid=$!
export DISPLAY=$display
for _ in $(seq 100); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
# Ours, not one still going away on that number.
kill -0 "$xvfb_pid" 2>/dev/null && xdpyinfo >/dev/null 2>&1 || { echo "FAIL: Xvfb did not start on $display"; exit 1; }
# A home of its own: the snapshot's Pictures folder, no user-dirs.dirs of the person's.
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config
unset XDG_PICTURES_DIR
mkdir -p "$HOME"
# The window manager, up before any window: once in CI it could not open a
# display that xdpyinfo had just reached, and without it full screen does
# nothing. So it is started again if it ends, and must be up in 10 s.
wm_up() { xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | grep -q "window id"; }
for attempt in 1 2 3; do
  openbox --sm-disable >>"$work/openbox.log" 2>&1 & pids+=($!)
  wm_pid=$!
  for _ in $(seq 50); do wm_up && break; kill -0 "$wm_pid" 2>/dev/null || break; sleep 0.2; done
  wm_up && break
  kill "$wm_pid" 2>/dev/null || true
  echo "openbox did not come up (attempt $attempt): $(tail -1 "$work/openbox.log")"
  sleep 1
done
wm_up || { echo "FAIL: no window manager on $display:"; cat "$work/openbox.log"; exit 1; }

why=""
shoot_until() { # SECONDS FILE CHECK: screenshots into FILE until CHECK FILE holds
  local deadline=$(( SECONDS + $1 )) file=$2
  while :; do
    import -window root "$file"
    "$3" "$file" && return 0
    (( SECONDS < deadline )) || return 1
    sleep 0.2
  done
}
until_true() { # SECONDS COMMAND...: polls COMMAND
  local deadline=$(( SECONDS + $1 )); shift
  until "$@"; do (( SECONDS < deadline )) || return 1; sleep 0.1; done
}
# Fraction of pixels near COLOUR in FILE, cropped to GEOMETRY.
fraction() { # FILE GEOMETRY COLOUR
  convert "$1" -crop "$2" +repage -fuzz 15% -fill '#01fe02' -opaque "$3" -fuzz 0 \
    -fill black +opaque '#01fe02' -fill white -opaque '#01fe02' -format '%[fx:mean]' info: 2>/dev/null
}
start_receiver() { # LOG ARGS...: starts it, sets receiver_pid and port
  local log=$1; shift
  "$receiver" --port 0 "$@" >"$log" 2>&1 & pids+=($!)
  receiver_pid=$!
  port=""
  for _ in $(seq 100); do
    port=$(grep -o 'listening on port [0-9]*' "$log" | awk '{print $4}' || true)
    [ -n "$port" ] && break; sleep 0.1
  done
  [ -n "$port" ] || fail "the receiver did not start"
}
window_id() { xdotool search --pid "$receiver_pid" --name "h264link receiver" 2>/dev/null | head -1; }
fullscreen_state() { xprop -id "$(window_id)" _NET_WM_STATE 2>/dev/null | grep -q _NET_WM_STATE_FULLSCREEN; }
not_fullscreen_state() { ! fullscreen_state; }
# Real key presses (XTEST) to the focused window: Qt ignores sent (synthetic) ones.
key() { xdotool windowactivate --sync "$(window_id)" >/dev/null 2>&1 || true; xdotool key "$@"; }

# The clip: a moving test pattern above a green band, 16:10 like the screen,
# so that full screen fills it without bars and the bottom rows are green.
ffmpeg -hide_banner -loglevel error -y -f lavfi \
  -i "testsrc2=s=640x320:r=25:d=40[t];color=c=0x00ff00:s=640x80:r=25:d=40[g];[t][g]vstack" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$work/clip.mp4"
read -r clip_w clip_h < <(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 \
  "$work/clip.mp4" | tr ',' ' ')

start_receiver "$work/receiver.log" --fullscreen --stats
until_true 10 fullscreen_state || fail "--fullscreen: the window manager was not asked for full screen"

# The waiting page: its QR code decodes to the command line it shows, with
# one of this machine's addresses (hostname -I: not loopback, not link-local).
qr_ok() {
  local text host
  text=$(zbarimg -q --raw "$1" 2>/dev/null | head -1) || true
  why="QR code: '$text'"
  [[ "$text" =~ ^[a-z0-9-]*sender\ VIDEO\.mp4\ --host\ ([^ ]+)\ --port\ $port$ ]] || return 1
  host=${BASH_REMATCH[1]}
  if [ -n "$(hostname -I 2>/dev/null | tr -d ' ')" ]; then
    hostname -I | tr ' ' '\n' | grep -qxF "$host" || { why="$why: $host is not one of $(hostname -I)"; return 1; }
  else
    [ "$host" = 127.0.0.1 ] || { why="$why: no network, yet not loopback"; return 1; }
  fi
}
shoot_until 10 "$out/waiting_qr.png" qr_ok || fail "$why (see $out/waiting_qr.png)"
echo "waiting page: $why"

"$sender" "$work/clip.mp4" --host 127.0.0.1 --port "$port" >"$work/sender.log" 2>&1 & pids+=($!)

# Full screen: the picture edge to edge, no status line: the bottom rows are the clip's green.
bottom=1280x24+0+776
edge_to_edge() {
  local g; g=$(fraction "$1" "$bottom" '#00ff00')
  why="bottom rows: $g green"
  awk -v g="$g" 'BEGIN { exit !(g > 0.97) }'
}
chrome_shown() { ! edge_to_edge "$1"; }
shoot_until 20 "$out/fullscreen.png" edge_to_edge || fail "full screen is not the picture alone: $why (see $out/fullscreen.png)"

# A mouse move brings the status line back; after 2 s idle it hides again.
xdotool mousemove 400 300 && sleep 0.1 && xdotool mousemove 420 310
shoot_until 5 "$out/fullscreen_moved.png" chrome_shown || fail "a mouse move did not show the status line ($why)"
shoot_until 8 "$out/fullscreen_idle.png" edge_to_edge || fail "the status line did not hide again: $why"
# The cursor: shown on a move, hidden after 2 s still, shown again on the next move.
cursor_hidden() { [ "$("$cursor_shown")" = 0 ]; }
cursor_visible() { ! cursor_hidden; }
until_true 8 cursor_hidden || fail "the mouse cursor did not hide after 2 s without movement"
xdotool mousemove 500 400
until_true 3 cursor_visible || fail "the mouse cursor did not come back on a mouse move"
until_true 8 cursor_hidden || fail "the mouse cursor did not hide again"
echo "cursor: hidden after 2 s still, shown on a move"

# The --stats lines (one a second): fps decoded and displayed in the last one.
stats_lines() { grep -c '"fps":' "$work/receiver.log" || true; }
last_fps() { grep '"fps":' "$work/receiver.log" | tail -1 | grep -o "\"$1\":[0-9.]*" | head -1 | cut -d: -f2; }
picture=1280x700+0+60 # below the freeze badge, above the status line
same_picture() { [ "$(compare -metric AE "$1" "$2" null: 2>&1 || true)" = 0 ]; }
grab_picture() { import -window root "$1.full.png"; convert "$1.full.png" -crop "$picture" +repage "$1"; }

# Live: the picture changes.
grab_picture "$work/live1.png"; sleep 0.5; grab_picture "$work/live2.png"
same_picture "$work/live1.png" "$work/live2.png" && fail "the picture does not move while live"

# space: frozen, and shown so; the stream goes on (frames still decoded).
key space
badge() { local b; b=$(fraction "$1" 1280x60+0+0 '#e65100'); why="badge: $b"; awk -v b="$b" 'BEGIN { exit !(b > 0.02) }'; }
shoot_until 5 "$out/frozen.png" badge || fail "no 'paused' badge ($why, see $out/frozen.png)"
# Compared once the status line the key brought back has gone again: it
# takes its rows from the picture, which is then scaled anew.
shoot_until 8 "$work/frozen_idle.png" edge_to_edge || fail "frozen: the status line did not hide: $why"
grab_picture "$work/frozen1.png"
lines=$(stats_lines)
# Two whole seconds frozen: the second line after this covers only frozen time.
until_true 10 bash -c "[ \$(grep -c '\"fps\":' '$work/receiver.log') -ge $((lines + 2)) ]" || fail "no --stats lines"
grab_picture "$work/frozen2.png"
same_picture "$work/frozen1.png" "$work/frozen2.png" || fail "the picture moved while frozen"
decoded_fps=$(last_fps decoded) displayed_fps=$(last_fps displayed)
awk -v d="$decoded_fps" -v s="$displayed_fps" 'BEGIN { exit !(d > 10 && s < 1) }' \
  || fail "while frozen: $decoded_fps fps decoded, $displayed_fps displayed (want decoding on, display off)"
echo "frozen: picture unchanged, $decoded_fps fps decoded, $displayed_fps displayed"

# p, while frozen: the frozen frame, at the stream's own size, in ~/Pictures.
key p
until_true 10 grep -q "receiver: snapshot " "$work/receiver.log" || fail "p wrote no snapshot"
shoot_until 3 "$out/snapshot_toast.png" chrome_shown || fail "the snapshot's name is not shown ($why)"
line=$(grep "receiver: snapshot " "$work/receiver.log" | head -1)
snap=$(echo "$line" | awk '{print $3}')
pts_us=$(echo "$line" | sed -E 's/.*\(pts (-?[0-9]+) us\).*/\1/')
[[ "$snap" == "$HOME/Pictures/h264link-"*.png ]] || fail "snapshot '$snap' is not h264link-….png in $HOME/Pictures"
[ -s "$snap" ] || fail "snapshot '$snap' is missing or empty"
read -r snap_w snap_h < <(ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$snap" | tr ',' ' ')
[ "$snap_w" = "$clip_w" ] && [ "$snap_h" = "$clip_h" ] || fail "snapshot is ${snap_w}x${snap_h}, the stream ${clip_w}x${clip_h}"
cp "$snap" "$out/snapshot.png"
# The frame by its pts (the sender's pts_us is the file's, from 0): ffmpeg's
# decode of that frame is the oracle.
index=$(( (pts_us * 25 + 500000) / 1000000 ))
ffmpeg -hide_banner -loglevel error -y -i "$work/clip.mp4" -vf "select=eq(n\,$index)" -frames:v 1 "$work/ref.png"
psnr=$(ffmpeg -hide_banner -i "$snap" -i "$work/ref.png" -lavfi "[0][1]psnr" -f null - 2>&1 \
  | grep -o 'average:[0-9.inf]*' | cut -d: -f2)
awk -v p="$psnr" 'BEGIN { exit !(p == "inf" || p > 30) }' || fail "snapshot vs frame $index (pts $pts_us us): PSNR $psnr dB"
echo "snapshot: ${snap_w}x${snap_h}, frame $index, PSNR $psnr dB against ffmpeg's decode"

# space again: live.
key space
nobadge() { ! badge "$1"; }
shoot_until 5 "$out/live_again.png" nobadge || fail "the badge stays after space ($why)"
shoot_until 8 "$work/again_idle.png" edge_to_edge || fail "the status line did not hide: $why"
grab_picture "$work/again1.png"; sleep 0.5; grab_picture "$work/again2.png"
same_picture "$work/again1.png" "$work/again2.png" && fail "the picture stays frozen after the second space"

# ? lists the keys; Esc closes the list (and stays full screen).
help_shown() { local h; h=$(fraction "$1" 1280x800+0+0 '#102027'); why="key list: $h"; awk -v h="$h" 'BEGIN { exit !(h > 0.03) }'; }
help_gone() { ! help_shown "$1"; }
key question
shoot_until 5 "$out/help.png" help_shown || fail "? shows no key list ($why)"
key Escape
shoot_until 5 "$out/help_closed.png" help_gone || fail "Esc did not close the key list ($why)"
fullscreen_state || fail "Esc closing the key list also left full screen"
key F1
shoot_until 5 "$out/help_f1.png" help_shown || fail "F1 shows no key list ($why)"
key Escape
shoot_until 5 "$work/help_closed2.png" help_gone || fail "Esc did not close the key list ($why)"

# Esc in full screen: out of full screen, still running; f: back in.
key Escape
until_true 5 not_fullscreen_state || fail "Esc did not leave full screen"
sleep 0.5
kill -0 "$receiver_pid" 2>/dev/null || fail "Esc in full screen quit instead of leaving full screen"
key f
until_true 5 fullscreen_state || fail "f did not enter full screen"
shoot_until 10 "$out/fullscreen_f.png" edge_to_edge || fail "after f: not the picture alone: $why"

# q: quits, 0.
key q
until_true 15 bash -c "! kill -0 $receiver_pid 2>/dev/null" || fail "q did not quit"
code=0; wait "$receiver_pid" || code=$?
[ "$code" = 0 ] || fail "q: the receiver exited $code"

# --window-size and --always-on-top.
start_receiver "$work/receiver_size.log" --window-size 640x360 --always-on-top
until_true 10 bash -c "xwininfo -id \"\$(xdotool search --pid $receiver_pid --name 'h264link receiver' | head -1)\" 2>/dev/null | grep -q 'Width: 640'" || true
geometry=$(xwininfo -id "$(window_id)" | awk '/Width:/ {w=$2} /Height:/ {h=$2} END {print w "x" h}')
[ "$geometry" = 640x360 ] || fail "--window-size 640x360 gave $geometry"
xprop -id "$(window_id)" _NET_WM_STATE | grep -q _NET_WM_STATE_ABOVE || fail "--always-on-top: not above ($(xprop -id "$(window_id)" _NET_WM_STATE))"
kill -TERM "$receiver_pid"; wait "$receiver_pid" || fail "SIGTERM: the receiver did not exit 0"

# --listen 127.0.0.1: the page and its QR code name that address; a sender streams to it.
start_receiver "$work/receiver_listen.log" --listen 127.0.0.1 --once
loopback_qr() {
  local text; text=$(zbarimg -q --raw "$1" 2>/dev/null | head -1) || true
  why="QR code: '$text'"
  [[ "$text" =~ ^[a-z0-9-]*sender\ VIDEO\.mp4\ --host\ 127\.0\.0\.1\ --port\ $port$ ]]
}
shoot_until 10 "$out/waiting_listen.png" loopback_qr || fail "--listen 127.0.0.1: $why"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=s=320x240:r=25:d=1 -c:v libx264 -pix_fmt yuv420p \
  "$work/short.mp4"
"$sender" "$work/short.mp4" --host 127.0.0.1 --port "$port" --fast >"$work/sender_listen.log" 2>&1 \
  || fail "a sender could not stream to --listen 127.0.0.1"
code=0; wait "$receiver_pid" || code=$?
[ "$code" = 0 ] || fail "--listen 127.0.0.1 --once: the receiver exited $code"

# Bad options: one clear line, a non-zero exit, no window needed.
expect_error() { # CODE REGEX ARGS...
  local want=$1 regex=$2 code=0; shift 2
  "$receiver" --headless --port 0 "$@" >"$work/bad.log" 2>&1 </dev/null || code=$?
  [ "$code" = "$want" ] || fail "receiver $*: exit $code, not $want: $(cat "$work/bad.log")"
  grep -Eq -e "$regex" "$work/bad.log" || fail "receiver $*: no '$regex' in: $(cat "$work/bad.log")"
}
expect_error 3 "cannot listen on 192\.0\.2\.1: no interface of this machine has that address" --listen 192.0.2.1
expect_error 64 "--listen 'nowhere' is not an IP address" --listen nowhere
expect_error 64 "--window-size '640': use WIDTHxHEIGHT" --window-size 640
expect_error 64 "--window-size '0x0': use WIDTHxHEIGHT" --window-size 0x0
echo "PASS: screenshots in $out"
