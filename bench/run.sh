#!/usr/bin/env bash
# Benchmark: h264link against the ffmpeg CLI and GStreamer, on the same clips,
# on this machine, in one run (the machine is shared and noisy: compare the
# ratios, not the absolute numbers). Installs and builds what it needs,
# writes bench/results/latest.json, and prints one JSON line at the end.
#   bench/run.sh [REPEATS]     (default 3; medians are reported)
#   bench/run.sh --keeping-up [--quick] [--only SECTION,...]
#                              only bench/keeping_up.py: throughput, 2160p60 in
#                              real time, RTT under load, CPU per shown frame
#   bench/run.sh --fanout [--counts 1,10,30] [--repeats N]
#                              only bench/fanout.py: one sender --serve to many
#                              receivers, against GStreamer tcpserversink
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test >/dev/null
need=(python3 time ffmpeg pulseaudio pulseaudio-utils xvfb x11-utils xdotool  # sound: bench/av_sync.py
      gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
      gstreamer1.0-plugins-bad gstreamer1.0-libav
      gstreamer1.0-plugins-ugly gstreamer1.0-x)  # x264enc, ximagesrc/ximagesink: bench/screen_latency.py
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "${1:-}" = --keeping-up ]; then
  shift
  exec python3 bench/keeping_up.py "$@"
fi
if [ "${1:-}" = --fanout ]; then
  shift
  exec python3 bench/fanout.py "$@"
fi
exec python3 bench/bench.py "${1:-3}"
