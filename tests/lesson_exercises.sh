#!/usr/bin/env bash
# The two exercises of docs/LESSON.md, done as a student does them: edit
# examples/memory_input_count_frames.cpp, rebuild it, run it, and compare
# with the unedited program and with ffprobe.
#   1. read_packet returns 0 instead of AVERROR_EOF at the end: on a raw
#      .h264 stream libavformat never sees an end and calls read_packet
#      again and again (FFmpeg 5.1); on an mp4 nothing shows, because the
#      demuxer stops at the end of its index before the end of the bytes.
#   2. a 512-byte AVIO buffer instead of 4096: more, smaller read_packet
#      calls, the same bytes (the file's size, on the sequential raw
#      stream) and the same frame count.
#   lesson_exercises.sh CXX EXAMPLES_SOURCE_DIR   (exit 77 = skipped; under CI=true that fails)
set -euo pipefail
cxx=$1
src=$2/memory_input_count_frames.cpp
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $* (CI=true: this test must run, not skip)"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
for tool in ffmpeg ffprobe pkg-config timeout "$cxx"; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup.sh installs it)"
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }

# build NAME SED-EXPRESSION: the example with one edit, as a student makes it.
build() {
  sed "$2" "$src" >"$work/$1.cpp"
  cmp -s "$src" "$work/$1.cpp" && { fail "$1: the edit '$2' changed nothing: has the example changed?"; return 1; }
  # shellcheck disable=SC2046 # pkg-config's flags are several words
  "$cxx" -std=c++17 -O1 -o "$work/$1" "$work/$1.cpp" \
    $(pkg-config --cflags --libs libavformat libavcodec libavutil)
}
# calls FILE: the read_packet calls printed, and the bytes they returned.
calls() { awk '/^read_packet: / { n++; bytes += $NF } END { print n + 0, bytes + 0 }' "$1"; }

ff -f lavfi -i testsrc2=s=320x240:r=25:d=3 -c:v libx264 -pix_fmt yuv420p -g 25 "$work/clip.mp4"
ff -i "$work/clip.mp4" -c copy -f h264 "$work/clip.h264"
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
  -of csv=p=0 "$work/clip.mp4")
size=$(stat -c %s "$work/clip.h264")

cp "$src" "$work/original.cpp"
# shellcheck disable=SC2046
"$cxx" -std=c++17 -O1 -o "$work/original" "$work/original.cpp" \
  $(pkg-config --cflags --libs libavformat libavcodec libavutil)
for input in clip.mp4 clip.h264; do
  "$work/original" "$work/$input" >"$work/original.$input.txt"
  got=$(sed -n 's/^video frames: //p' "$work/original.$input.txt")
  [ "$got" = "$frames" ] || fail "the unedited example counts $got frames in $input, ffprobe $frames"
done

# Exercise 1: return 0 at the end.
if build zero 's/return AVERROR_EOF; \/\/ never 0.*/return 0;/'; then
  "$work/zero" "$work/clip.mp4" >"$work/zero.mp4.txt" || fail "return 0, mp4: exited $?"
  got=$(sed -n 's/^video frames: //p' "$work/zero.mp4.txt")
  [ "$got" = "$frames" ] || fail "return 0, mp4: $got frames, ffprobe $frames (expected no difference)"
  # Its output grows by millions of lines a second: counted as it comes, never stored.
  zeros=$( (timeout 3 "$work/zero" "$work/clip.h264" 2>/dev/null && echo 0 >"$work/zero.status" || echo $? >"$work/zero.status") \
    | awk '/got 0$/ { n++ } END { print n + 0 }')
  status=$(cat "$work/zero.status")
  [ "$status" = 124 ] || fail "return 0, raw .h264: the program ended (exit $status); FFmpeg 5.1 was expected to spin"
  [ "$zeros" -gt 1000 ] || fail "return 0, raw .h264: only $zeros read_packet calls returned 0 in 3 s"
  echo "exercise 1: mp4 unaffected ($got frames); raw .h264 never ends: $zeros calls got 0 bytes in 3 s"
fi

# Exercise 2: a 512-byte buffer.
if build small 's/kBufferSize = 4096;/kBufferSize = 512;/'; then
  for input in clip.mp4 clip.h264; do
    "$work/small" "$work/$input" >"$work/small.$input.txt" || fail "512 bytes, $input: exited $?"
    got=$(sed -n 's/^video frames: //p' "$work/small.$input.txt")
    [ "$got" = "$frames" ] || fail "512 bytes, $input: $got frames, ffprobe $frames"
    read -r n4096 b4096 < <(calls "$work/original.$input.txt")
    read -r n512 b512 < <(calls "$work/small.$input.txt")
    [ "$n512" -gt "$n4096" ] || fail "512 bytes, $input: $n512 calls, not more than 4096 bytes' $n4096"
    echo "exercise 2, $input: 4096-byte buffer $n4096 calls ($b4096 bytes), 512-byte buffer $n512 calls ($b512 bytes)"
  done
  read -r n512 b512 < <(calls "$work/small.clip.h264.txt")
  read -r n4096 b4096 < <(calls "$work/original.clip.h264.txt")
  [ "$b512" = "$size" ] && [ "$b4096" = "$size" ] \
    || fail "raw .h264: read_packet returned $b4096 / $b512 bytes, the file has $size"
  [ "$n512" -ge $(((size + 511) / 512)) ] || fail "raw .h264: $n512 calls cannot carry $size bytes 512 at a time"
fi
[ "$failures" = 0 ] || exit 1
echo "PASS"
