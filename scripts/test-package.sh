#!/usr/bin/env bash
# CI stage for the package: builds the .deb (scripts/package.sh), checks it
# with lintian and desktop-file-validate, installs it with apt-get, runs both
# apps from /usr/bin, streams the demo clip between the installed apps
# (headless, loopback; every frame compared with ffmpeg's framemd5), then
# removes the package and checks that nothing of it is left in /usr/bin.
# Needs root (or sudo) for apt-get; it installs and removes the package
# h264link on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
fail() { echo "test-package: FAIL: $*"; exit 1; }

scripts/package.sh
deb=$(ls build-package/h264link_*_amd64.deb)
lintian --fail-on error "$deb" || fail "lintian reports errors in $deb"
desktop-file-validate tools/package/*.desktop || fail "a .desktop entry does not validate"

work=$(mktemp -d)
receiver_pid=""
cleanup() {
  [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# An h264link already installed would make apt-get keep it: this one, fresh.
if dpkg-query -W -f='${Status}' h264link 2>/dev/null | grep -q "install ok installed"; then
  $sudo apt-get remove -y -qq h264link
fi
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "./$deb"
for app in sender receiver; do
  [ -x /usr/bin/h264link-$app ] || fail "/usr/bin/h264link-$app is not installed"
  env -u DISPLAY -u WAYLAND_DISPLAY /usr/bin/h264link-$app --help >"$work/help" || fail "h264link-$app --help failed"
  grep -q "^Usage: /usr/bin/h264link-$app" "$work/help" || fail "h264link-$app --help: no usage line"
  [ -f /usr/share/man/man1/h264link-$app.1.gz ] || fail "no man page for h264link-$app"
  [ -f /usr/share/applications/h264link-$app.desktop ] || fail "no menu entry for h264link-$app"
  [ -f /usr/share/icons/hicolor/256x256/apps/h264link-$app.png ] || fail "no icon for h264link-$app"
done

# The demo clip from the installed sender to the installed receiver.
clip=resources/demo.mp4
/usr/bin/h264link-receiver --headless --once --port 0 --no-announce --framemd5 "$work/got.framemd5" >"$work/recv.log" 2>&1 &
receiver_pid=$!
port=""
for _ in $(seq 100); do
  port=$(grep -o 'listening on port [0-9]*' "$work/recv.log" | awk '{print $4}' || true)
  [ -n "$port" ] && break
  kill -0 "$receiver_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { cat "$work/recv.log"; fail "the installed receiver did not start"; }
/usr/bin/h264link-sender "$clip" --host 127.0.0.1 --port "$port" --fast >"$work/send.log" 2>&1 \
  || { cat "$work/send.log"; fail "the installed sender failed"; }
for _ in $(seq 300); do kill -0 "$receiver_pid" 2>/dev/null || break; sleep 0.1; done
wait "$receiver_pid" || { cat "$work/recv.log"; fail "the installed receiver exited $?"; }
receiver_pid=""
# Video lines only (stream 0), hashes only: as tests/app_runner.cpp compares.
md5s() { grep '^0,' | awk -F', ' '{print $NF}'; }
ffmpeg -hide_banner -loglevel error -i "$clip" -map 0:v:0 -fps_mode passthrough -f framemd5 - | md5s >"$work/ref"
md5s <"$work/got.framemd5" >"$work/got"
[ -s "$work/ref" ] || fail "ffmpeg gave no reference for $clip"
cmp -s "$work/ref" "$work/got" \
  || fail "frames differ from ffmpeg's: $(wc -l <"$work/got") received, $(wc -l <"$work/ref") expected"
echo "test-package: $(wc -l <"$work/got") of $(wc -l <"$work/ref") frames of $clip identical to ffmpeg's"

$sudo apt-get remove -y -qq h264link
left=$(ls /usr/bin/h264link-* /usr/share/man/man1/h264link-* /usr/share/applications/h264link-* 2>/dev/null || true)
[ -z "$left" ] || fail "left behind after apt-get remove: $left"
echo "test-package: OK ($deb)"
