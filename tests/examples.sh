#!/usr/bin/env bash
# The programs in examples/, each against the ffmpeg CLI as the oracle:
#   memory_input_count_frames  the frame count of ffprobe -count_frames
#   memory_output_h264         ffmpeg -map 0:v:0 -c copy -f h264, byte for byte
#   audio_to_pcm               ffmpeg -f s16le -acodec pcm_s16le, byte for byte
#   split_start_codes          the packets of ffprobe -show_packets on the raw stream (count, sizes)
#   examples.sh EXAMPLES_DIR   (exit 77 = skipped: no ffmpeg; under CI=true that fails)
set -euo pipefail
bin=$(cd "$1" && pwd)
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $* (CI=true: this test must run, not skip)"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
for tool in ffmpeg ffprobe cmp; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup.sh --test installs it)"
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }

# Test media. The mp4 has B-frames and its index (moov) at the end, so the
# demuxer must seek; the second raw stream has several slices per picture
# and access unit delimiters, which the hand-made splitter must group.
ff -f lavfi -i testsrc2=s=320x240:r=25:d=3 -f lavfi -i sine=f=440:r=48000:d=3 \
  -c:v libx264 -pix_fmt yuv420p -g 25 -c:a aac -ac 2 -shortest "$work/clip.mp4"
ff -f lavfi -i testsrc2=s=352x288:r=30:d=2 -c:v libx264 -pix_fmt yuv420p \
  -x264-params slices=3:aud=1 -f h264 "$work/sliced.h264"
ff -i "$work/clip.mp4" -map 0:a -c copy "$work/tone.aac"
ff -f lavfi -i sine=f=300:r=44100:d=2.3 -ac 2 -c:a libmp3lame -b:a 128k "$work/tone.mp3"

# memory_input_count_frames
before=$failures
"$bin/memory_input_count_frames" "$work/clip.mp4" >"$work/count.txt" \
  || fail "memory_input_count_frames exited $?"
expected=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
  -of csv=p=0 "$work/clip.mp4")
got=$(sed -n 's/^video frames: //p' "$work/count.txt")
[ -n "$expected" ] && [ "$got" = "$expected" ] || fail "memory_input_count_frames: $got frames, ffprobe $expected"
calls=$(grep -c '^read_packet: ptr 0x[0-9a-f]* (offset [0-9]*), asked [0-9]*, got [0-9]*$' "$work/count.txt" || true)
[ "$calls" -gt 0 ] || fail "memory_input_count_frames printed no read_packet call"
grep -q '^seek: to [0-9]*$' "$work/count.txt" \
  || fail "memory_input_count_frames: no seek, though the mp4's index is at its end"
"$bin/memory_input_count_frames" "$work/missing.mp4" >/dev/null 2>"$work/err.txt" \
  && fail "memory_input_count_frames accepted a missing file"
grep -q "cannot open" "$work/err.txt" || fail "memory_input_count_frames: no readable error: $(cat "$work/err.txt")"
[ "$failures" != "$before" ] \
  || echo "memory_input_count_frames: $got frames (ffprobe: $expected), $calls read_packet calls"

# memory_output_h264
before=$failures
"$bin/memory_output_h264" "$work/clip.mp4" "$work/out.h264" >"$work/remux.txt" \
  || fail "memory_output_h264 exited $?"
ff -i "$work/clip.mp4" -map 0:v:0 -c copy -f h264 "$work/oracle.h264"
cmp "$work/oracle.h264" "$work/out.h264" || fail "memory_output_h264: not the bytes of ffmpeg -c copy -f h264"
written=$(awk '/^write_packet: ptr 0x[0-9a-f]*, [0-9]* bytes$/ { n += $4 } END { print n + 0 }' "$work/remux.txt")
[ "$written" = "$(stat -c %s "$work/oracle.h264")" ] \
  || fail "memory_output_h264: write_packet calls say $written bytes, the file has $(stat -c %s "$work/out.h264")"
[ "$failures" != "$before" ] || echo "memory_output_h264: $written bytes, identical to ffmpeg's"

# audio_to_pcm
for input in tone.aac tone.mp3; do
  "$bin/audio_to_pcm" "$work/$input" "$work/$input.pcm" >/dev/null || fail "audio_to_pcm $input exited $?"
  ff -i "$work/$input" -f s16le -acodec pcm_s16le "$work/$input.oracle.pcm"
  [ -s "$work/$input.oracle.pcm" ] || fail "ffmpeg decoded nothing from $input"
  if cmp "$work/$input.oracle.pcm" "$work/$input.pcm"; then
    echo "audio_to_pcm $input: $(stat -c %s "$work/$input.pcm") bytes, identical to ffmpeg's"
  else
    fail "audio_to_pcm $input: not the bytes of ffmpeg -f s16le"
  fi
done

# split_start_codes, on two raw streams
for input in oracle.h264 sliced.h264; do
  before=$failures
  "$bin/split_start_codes" "$work/$input" >"$work/$input.split" || fail "split_start_codes $input exited $?"
  ffprobe -v error -show_entries packet=size -of csv=p=0 "$work/$input" >"$work/$input.packets"
  sed -n 's/^AU [0-9]*: by hand \([0-9-]*\) bytes.*/\1/p' "$work/$input.split" >"$work/$input.hand"
  sed -n 's/^AU [0-9]*: .*| h264 parser \([0-9-]*\) bytes.*/\1/p' "$work/$input.split" >"$work/$input.parser"
  [ -s "$work/$input.packets" ] || fail "ffprobe found no packets in $input"
  diff -q "$work/$input.packets" "$work/$input.hand" >/dev/null \
    || fail "split_start_codes $input: by hand $(wc -l <"$work/$input.hand") access units, ffprobe $(wc -l <"$work/$input.packets"), or sizes differ"
  diff -q "$work/$input.packets" "$work/$input.parser" >/dev/null \
    || fail "split_start_codes $input: the parser column differs from ffprobe"
  grep -q '\[.*IDR.*\]' "$work/$input.split" || fail "split_start_codes $input: no IDR access unit listed"
  [ "$failures" != "$before" ] \
    || echo "split_start_codes $input: $(wc -l <"$work/$input.hand") access units, sizes as ffprobe's"
done

# Bad input: a one-line error and a non-zero exit from each.
echo "lesson notes, not media" >"$work/notes.txt"
for run in "memory_input_count_frames notes.txt" "memory_output_h264 notes.txt out2.h264" \
           "memory_output_h264 tone.aac out2.h264" "audio_to_pcm notes.txt out2.pcm" \
           "audio_to_pcm out.h264 out2.pcm" "split_start_codes notes.txt"; do
  read -r program args <<<"$run"
  code=0
  (cd "$work" && "$bin/$program" $args >/dev/null 2>"$work/err.txt") || code=$?
  [ "$code" -ne 0 ] && grep -q "^$program: .*: " "$work/err.txt" \
    || fail "$program $args: exit $code, error: $(cat "$work/err.txt")"
done

[ "$failures" -eq 0 ] || { echo "FAIL: $failures check(s) failed"; exit 1; }
echo "PASS"
