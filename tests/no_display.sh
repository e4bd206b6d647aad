#!/usr/bin/env bash
# Start-up without a display (issue 15): --help, --version and command-line
# errors work with no X server and no DISPLAY (the apps parse before any
# QApplication exists), and a window mode says "no display: ..." and exits 1
# instead of Qt's abort, whether DISPLAY is unset or names a display that
# does not answer.
#   no_display.sh SENDER RECEIVER VERSION
set -uo pipefail
sender=$1 receiver=$2 version=$3
failures=0
check() { # description expected-exit expected-text command...
  local what=$1 code=$2 text=$3; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$code" ] || ! grep -qF -- "$text" <<<"$out"; then
    echo "FAIL: $what: exit $rc (want $code), output:"; echo "$out" | head -20; failures=$((failures + 1))
  else
    echo "ok: $what"
  fi
}
nodisplay=(env -u DISPLAY -u WAYLAND_DISPLAY QT_QPA_PLATFORM=xcb)
for app in "$sender" "$receiver"; do
  name=$(basename "$app")
  check "$name --help" 0 "Usage: $app" "${nodisplay[@]}" "$app" --help
  check "$name --version" 0 "$name $version" "${nodisplay[@]}" "$app" --version
  check "$name --help-all" 0 "Usage: $app" "${nodisplay[@]}" "$app" --help-all
  check "$name --bogus" 64 "Unknown option 'bogus'" "${nodisplay[@]}" "$app" --bogus
done
check "receiver window" 1 "receiver: no display: use --headless" "${nodisplay[@]}" "$receiver" --port 0
check "receiver --headless --port x" 64 "invalid port" "${nodisplay[@]}" "$receiver" --headless --port x
check "sender FILE --port x" 64 "invalid port" "${nodisplay[@]}" "$sender" clip.mp4 --port x
check "sender --gui" 1 "sender: no display: give FILE and --host" "${nodisplay[@]}" "$sender" --gui
check "sender, no FILE" 1 "sender: no display:" "${nodisplay[@]}" "$sender"
# A display that is named but does not answer: Qt's fatal error is caught.
n=60000
while [ -e /tmp/.X11-unix/X$n ]; do n=$((n + 1)); done
gone=(env -u WAYLAND_DISPLAY QT_QPA_PLATFORM=xcb DISPLAY=:$n XAUTHORITY=/dev/null)
check "receiver window, DISPLAY=:$n (none there)" 1 "receiver: no display: use --headless" "${gone[@]}" "$receiver" --port 0
check "sender --gui, DISPLAY=:$n (none there)" 1 "sender: no display:" "${gone[@]}" "$sender" --gui
# Headless still runs without a display: it listens.
out=$(timeout 5 "${nodisplay[@]}" "$receiver" --headless --port 0 2>&1 | head -1)
grep -q "listening on port" <<<"$out" && echo "ok: receiver --headless" \
  || { echo "FAIL: receiver --headless without a display: $out"; failures=$((failures + 1)); }
exit $((failures > 0))
