#!/usr/bin/env bash
# The demo: installs and builds what is missing, then starts a receiver window
# and a sender window on this machine, streaming the bundled clip in a loop.
# Close the sender window to end the demo. Without a display it runs both
# headless and prints what the receiver got.
#   scripts/demo.sh [FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
clip=${1:-resources/demo.mp4}
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then   # Qt warns without one (e.g. under sudo or Xvfb)
  export XDG_RUNTIME_DIR=$(mktemp -d)
fi
log=$(mktemp)
receiver_pid=""
cleanup() { [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null; rm -f "$log"; }
trap cleanup EXIT

gui=1
[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || gui=0
if [ "$gui" = 0 ]; then
  echo "demo: no display found (DISPLAY is unset): running headless."
  build/receiver/receiver --headless --once --no-announce --port 0 >"$log" 2>&1 &
else
  build/receiver/receiver --port 0 >"$log" 2>&1 &
fi
receiver_pid=$!
port=""
for _ in $(seq 100); do
  port=$(grep -o 'listening on port [0-9]*' "$log" | awk '{print $4}' || true)
  [ -n "$port" ] && break
  kill -0 "$receiver_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { echo "demo: the receiver did not start:"; cat "$log"; exit 1; }
echo "demo: receiver listening on port $port; streaming $clip"

if [ "$gui" = 0 ]; then
  build/sender/sender "$clip" --host 127.0.0.1 --port "$port"
  wait "$receiver_pid" || true
  receiver_pid=""
  cat "$log"
else
  build/sender/sender "$clip" --host 127.0.0.1 --port "$port" --loop --gui
fi
