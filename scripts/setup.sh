#!/usr/bin/env bash
# Installs what h264link needs on Debian 12 (when missing), then configures
# and builds it into ./build. Safe to run again: it only does what is missing.
#   scripts/setup.sh [extra cmake args...]          the apps: build and runtime packages (the demo)
#   scripts/setup.sh --test [extra cmake args...]   also the test tools, and the tests (scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

# To build and run the apps. Their run-time libraries (Qt, FFmpeg, libpulse
# for the sound, libssl3 for the access key) come as dependencies of these.
packages=(
  cmake ninja-build g++ pkg-config
  qt6-base-dev qt6-base-dev-tools qt6-multimedia-dev libqt6opengl6-dev libgl-dev
  qt6-qpa-plugins qml6-module-qtmultimedia
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
  libavdevice-dev   # live sources: x11grab (the screen), v4l2 (a camera)
  libqrencode-dev   # the receiver's waiting page: a QR code of the sender's command line
  libavahi-client-dev  # DNS-SD: receivers and serving senders announce themselves, and are listed
  libssl3           # the access key's TLS-PSK: Qt's OpenSSL backend (in libqt6network6) loads it at run time
  fonts-dejavu-core
)
# To test, and to build the package.
test_packages=(
  ffmpeg            # the CLI: test oracle, test clip generator
  xvfb xauth imagemagick x11-utils xdotool  # GUI tests: a real X server, screenshots, key presses
  openbox zbar-tools                # projector test: a window manager (full screen), a QR code reader
  libxfixes-dev                     # projector test: whether the X cursor is hidden (tests/cursor_shown.c)
  pulseaudio pulseaudio-utils      # sound tests: a real sound server with a null sink, parec
  iproute2 nftables                 # two-host tests in network namespaces
  avahi-daemon avahi-utils dbus-daemon  # DNS-SD test: a real daemon and system bus per namespace, avahi-browse
  gdb                               # a test that finds a process hung prints its threads' stacks
  tshark tcpdump                    # the Wireshark dissector's test: capture a session, dissect it
  python3                           # the PBKDF2 oracle of tst_secure_channel
  clang libclang-rt-14-dev          # the libFuzzer target (scripts/fuzz.sh)
  help2man dpkg-dev                 # the package: man pages from --help, dpkg-shlibdeps
  lintian desktop-file-utils        # the package's checks (scripts/test-package.sh)
  nginx-light libnginx-mod-rtmp     # --publish: a real RTMP media server (tst_publish)
)

tests=OFF
if [ "${1:-}" = "--test" ]; then
  shift
  tests=ON
  packages+=("${test_packages[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The tests need the test tools (the ffmpeg CLI above all): only --test turns
# them on. Without it, a build folder that has them keeps them.
test_option=()
if [ "$tests" = ON ] || ! grep -q '^H264LINK_BUILD_TESTS:' build/CMakeCache.txt 2>/dev/null; then
  test_option=(-DH264LINK_BUILD_TESTS=$tests)
fi
cmake -S . -B build -G Ninja "${test_option[@]}" "$@"
cmake --build build --parallel
