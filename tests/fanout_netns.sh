#!/usr/bin/env bash
# One sender, three receivers, on two hosts: network namespaces this script
# creates, joined by a veth pair (netns_pair.sh). The sender in A, the three
# headless receivers in B.
#   a. sender --serve in A; the receivers dial it (receiver --connect --retry,
#      started first): the first starts the file, the others join at a keyframe.
#   b. sender --host B:P1,B:P2,B:P3 in A towards three listening receivers.
# Every receiver's --framemd5 is ffmpeg's framemd5 of the clip (b), or its
# end from a keyframe on (a: a joiner), never a frame out of place.
#   fanout_netns.sh SENDER RECEIVER      (exit 77 = skipped)
# Without root or a tool it skips, except in CI (CI=true), where it fails.
set -euo pipefail
sender=$1 receiver=$2
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $* (CI=true: this test must run, not skip)"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
for tool in ip ffmpeg; do command -v $tool >/dev/null || skip "$tool is not installed (scripts/setup.sh --test installs it)"; done

source "$(dirname "$0")/netns_pair.sh"
netns_pair h264f 233

ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=640x360:rate=25 -t 5 \
  -c:v libx264 -preset veryfast -g 25 -keyint_min 25 -sc_threshold 0 -bf 0 -pix_fmt yuv420p "$work/clip.mp4"
md5s() { grep -v '^#' "$1" | awk -F', *' '{print $NF}'; }
ffmpeg -hide_banner -loglevel error -i "$work/clip.mp4" -map 0:v:0 -f framemd5 "$work/ref.framemd5"
md5s "$work/ref.framemd5" >"$work/ref.txt"
total=$(wc -l <"$work/ref.txt")
[ "$total" -gt 0 ] || { echo "FAIL: ffmpeg's framemd5 of the clip is empty"; exit 1; }

wait_for() { # pid seconds
  local deadline=$(( $(date +%s) + $2 ))
  while kill -0 "$1" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "FAIL: pid $1 still running after $2 s"; exit 1; }
    sleep 0.2
  done
}
# A receiver's frames: all of the reference (exact) or its end (a joiner).
check() { # phase name exact|suffix
  local got=$work/$1-$2.txt
  md5s "$work/$1-$2.md5" >"$got"
  local n; n=$(wc -l <"$got")
  [ "$n" -gt 0 ] || { echo "FAIL [$1]: $2 decoded nothing"; cat "$work/$1-$2.log"; exit 1; }
  if [ "$3" = exact ]; then
    cmp -s "$got" "$work/ref.txt" || { echo "FAIL [$1]: $2's frames differ from ffmpeg's ($n of $total)"; exit 1; }
  else
    tail -n "$n" "$work/ref.txt" | cmp -s - "$got" || { echo "FAIL [$1]: $2's $n frames are not the clip's last $n"; exit 1; }
  fi
  echo "ok [$1]: $2: $n of $total frames as ffmpeg decodes them"
}

# a. --serve: the receivers dial.
recv_pids=()
for r in 1 2 3; do
  ip netns exec "$B" "$receiver" --headless --once --connect "$ipA:8264" --retry \
    --framemd5 "$work/serve-r$r.md5" >"$work/serve-r$r.log" 2>&1 &
  recv_pids+=($!); pids+=($!)
done
ip netns exec "$A" "$sender" "$work/clip.mp4" --serve --quiet >"$work/serve-send.log" 2>&1 &
sender_pid=$!; pids+=($sender_pid)
wait_for $sender_pid 60
wait $sender_pid || { echo "FAIL [serve]: sender exit $?"; cat "$work/serve-send.log"; exit 1; }
for pid in "${recv_pids[@]}"; do wait_for "$pid" 30; done
grep -q "to 3 receivers" "$work/serve-send.log" || { echo "FAIL [serve]: not 3 receivers"; cat "$work/serve-send.log"; exit 1; }
for r in 1 2 3; do check serve r$r suffix; done
# The one that started the file got all of it.
[ "$(for r in 1 2 3; do md5s "$work/serve-r$r.md5" | wc -l; done | sort -n | tail -1)" = "$total" ] \
  || { echo "FAIL [serve]: no receiver got the whole clip"; exit 1; }

# b. --host list: the sender dials.
recv_pids=()
for r in 1 2 3; do
  ip netns exec "$B" "$receiver" --headless --once --port $((8300 + r)) \
    --framemd5 "$work/hosts-r$r.md5" >"$work/hosts-r$r.log" 2>&1 &
  recv_pids+=($!); pids+=($!)
  for _ in $(seq 100); do grep -q 'listening on port' "$work/hosts-r$r.log" && break; sleep 0.1; done
done
ip netns exec "$A" "$sender" "$work/clip.mp4" --host "$ipB:8301,$ipB:8302,$ipB:8303" --quiet \
  >"$work/hosts-send.log" 2>&1 &
sender_pid=$!; pids+=($sender_pid)
wait_for $sender_pid 60
wait $sender_pid || { echo "FAIL [hosts]: sender exit $?"; cat "$work/hosts-send.log"; exit 1; }
for pid in "${recv_pids[@]}"; do wait_for "$pid" 30; done
for r in 1 2 3; do check hosts r$r exact; done
echo "PASS"
