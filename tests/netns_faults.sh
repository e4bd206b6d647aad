#!/usr/bin/env bash
# Two hosts: sender and receiver in two network namespaces joined by a veth
# pair, then the link goes bad: a 3 s stall, 1% random loss, a bandwidth cap
# below the clip's bitrate, 40 ms of added delay. (These kernels have no netem:
# nftables drops packets, tc tbf caps the rate, a userspace relay delays.)
# All traffic stays inside the two namespaces this script creates.
#   netns_faults.sh SENDER RECEIVER RELAY      (exit 77 = skipped)
# Without root or a tool it skips, except in CI (CI=true), where it fails:
# there the test must run.
set -euo pipefail
sender=$1 receiver=$2 relay=$3
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $* (CI=true: this test must run, not skip)"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
for tool in ip nft tc ffmpeg; do command -v $tool >/dev/null || skip "$tool is not installed (scripts/setup.sh --test installs it)"; done

source "$(dirname "$0")/netns_pair.sh"
netns_pair h2l 231

# Clips: a light one, and a heavy one (noise) whose bitrate is far above the cap.
gop=25
ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=640x360:rate=25:duration=6 \
  -c:v libx264 -g $gop -keyint_min $gop -sc_threshold 0 -pix_fmt yuv420p "$work/clip.mp4"
# The stall's clip runs long enough for TCP to resume after the stall: its
# retransmission timer doubles while nothing gets through (0.2, 0.6, 1.4, 3.0,
# 6.2 s after the first loss), so the link may stay dead seconds past it.
ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=640x360:rate=25:duration=12 \
  -c:v libx264 -g $gop -keyint_min $gop -sc_threshold 0 -pix_fmt yuv420p "$work/long.mp4"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=640x360:rate=25:duration=8 \
  -vf noise=alls=40:allf=t -c:v libx264 -g $gop -keyint_min $gop -sc_threshold 0 -b:v 3M \
  -pix_fmt yuv420p "$work/heavy.mp4"
md5s() { grep -v '^#' "$1" | awk -F', ' '{print $NF}'; }
reference() { ffmpeg -hide_banner -loglevel error -i "$1" -map 0:v:0 -fps_mode passthrough -f framemd5 - \
                | grep -v '^#' | awk -F', ' '{print $NF}'; }
reference "$work/clip.mp4" >"$work/clip.ref"
reference "$work/heavy.mp4" >"$work/heavy.ref"
reference "$work/long.mp4" >"$work/long.ref"

start_receiver() {
  rm -f "$work/got.md5"
  ip netns exec "$B" "$receiver" --headless --once --port 8264 --framemd5 "$work/got.md5" >"$work/recv.log" 2>&1 &
  receiver_pid=$!; pids+=($receiver_pid)
  for _ in $(seq 100); do grep -q 'listening on port' "$work/recv.log" && return; sleep 0.1; done
  echo "FAIL: receiver did not start"; cat "$work/recv.log"; exit 1
}
frames_received() { grep -vc '^#' "$work/got.md5" 2>/dev/null || true; }
# A process still running at its phase's deadline is a hang: say where it is
# stuck (both logs, both namespaces' sockets, its threads' stacks) and fail
# at once, rather than leave CTest's timeout to kill everything unexplained.
diagnose() { # pid
  echo "--- sender log"; cat "$work/send.log"; echo "--- receiver log"; cat "$work/recv.log"
  for ns in "$A" "$B"; do echo "--- sockets in $ns"; ip netns exec "$ns" ss -tinpo || true; done
  if command -v gdb >/dev/null; then
    echo "--- threads of $1"; gdb -p "$1" -batch -ex 'thread apply all bt' 2>/dev/null | grep -E '^(Thread|#)' || true
  fi
}
wait_phase() { # phase pid name
  local deadline=$(( $(date +%s) + phase_limit_s ))
  while kill -0 "$2" 2>/dev/null; do
    if [ "$(date +%s)" -ge $deadline ]; then
      echo "FAIL [$1]: the $3 did not finish within $phase_limit_s s"; diagnose "$2"; exit 1
    fi
    sleep 0.1
  done
  wait "$2"
}
phase_limit_s=60 # each phase streams a clip of at most 12 s
finish() { # phase: wait for both, check exit codes
  local phase=$1
  wait_phase "$phase" "$sender_pid" sender || { echo "FAIL [$phase]: sender exited $?"; cat "$work/send.log"; exit 1; }
  wait_phase "$phase" "$receiver_pid" receiver || { echo "FAIL [$phase]: receiver exited $?"; cat "$work/recv.log"; exit 1; }
}
expect_exact() {
  local phase=$1 ref=$2
  md5s "$work/got.md5" >"$work/got.txt"
  cmp -s "$work/got.txt" "$ref" || { echo "FAIL [$phase]: frames differ from ffmpeg's ($(wc -l <"$work/got.txt") vs $(wc -l <"$ref"))"; exit 1; }
  echo "ok [$phase]: $(wc -l <"$ref") frames, every one identical to ffmpeg's decode"
}
# Live delivery: frames may be skipped (whole GOPs, counted by the sender), but
# every frame that arrives is a source frame, in order, and the stream goes on
# to the very last frame.
expect_live() { # phase reference [frames at the end that may be missing]
  local phase=$1 ref=$2 slack=${3:-0}
  md5s "$work/got.md5" >"$work/got.txt"
  local last
  last=$(awk 'NR==FNR { ref[FNR]=$0; n=FNR; next } { while (i < n && ref[++i] != $0) {} if (ref[i] != $0) bad=1 }
              END { if (bad) exit 1; print i }' "$ref" "$work/got.txt") \
    || { echo "FAIL [$phase]: a received frame is not a source frame in order"; exit 1; }
  [ "$last" -ge $(( $(wc -l <"$ref") - slack )) ] \
    || { echo "FAIL [$phase]: the stream stopped at frame $last"; exit 1; }
  grep -q " 0 decode errors" "$work/recv.log" && ! grep -q "concealed" "$work/recv.log" \
    || { echo "FAIL [$phase]: damaged frames"; cat "$work/recv.log"; exit 1; }
  echo "ok [$phase]: $(wc -l <"$work/got.txt") of $(wc -l <"$ref") frames shown, all clean and in order;" \
       "sender: $(grep -o '[0-9]* frames skipped' "$work/send.log" || echo 'none skipped')"
}
nft_drop() { # namespace, rule expression
  ip netns exec "$1" nft add table inet h2l
  ip netns exec "$1" nft "add chain inet h2l in { type filter hook input priority 0; }"
  ip netns exec "$1" nft add rule inet h2l in ip saddr 10.231.$n.0/24 "${@:2}" drop
}
nft_clear() { ip netns exec "$1" nft delete table inet h2l; }

# 1. The network stalls for 3 s: neither app restarts; the sender drops what
#    went stale during the stall and the picture resumes.
start_receiver
ip netns exec "$A" "$sender" "$work/long.mp4" --host "$ipB" --port 8264 >"$work/send.log" 2>&1 &
sender_pid=$!; pids+=($sender_pid)
# Mid-stream: once the first GOP has been decoded.
for _ in $(seq 100); do [ "$(frames_received)" -ge $gop ] && break; sleep 0.1; done
[ "$(frames_received)" -ge $gop ] || { echo "FAIL [stall]: the stream did not start"; cat "$work/recv.log"; exit 1; }
nft_drop "$B"
sleep 3 # the stall itself
nft_clear "$B"
finish "3 s stall"
grep -q "skipped to stay live" "$work/send.log" || { echo "FAIL [stall]: nothing skipped"; cat "$work/send.log"; exit 1; }
expect_live "3 s stall" "$work/long.ref"

# 2. 1% random packet loss, both ways.
nft_drop "$A" numgen random mod 100 '<' 1
nft_drop "$B" numgen random mod 100 '<' 1
start_receiver
ip netns exec "$A" "$sender" "$work/clip.mp4" --host "$ipB" --port 8264 >"$work/send.log" 2>&1 &
sender_pid=$!; pids+=($sender_pid)
finish "1% loss"
expect_exact "1% loss" "$work/clip.ref"
nft_clear "$A"; nft_clear "$B"

# 3. A link slower than the video: the sender skips whole GOPs and says so,
#    latency stays bounded, and every frame that arrives decodes cleanly.
inA tc qdisc add dev "$vethA" root tbf rate 1mbit burst 32kb latency 100ms
start_receiver
start=$(date +%s%N)
ip netns exec "$A" "$sender" "$work/heavy.mp4" --host "$ipB" --port 8264 >"$work/send.log" 2>&1 &
sender_pid=$!; pids+=($sender_pid)
finish "1 Mbit/s cap"
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q "skipped to stay live" "$work/send.log" || { echo "FAIL [cap]: no frames skipped"; cat "$work/send.log"; exit 1; }
[ "$took_ms" -lt 12000 ] || { echo "FAIL [cap]: took $took_ms ms for an 8 s clip: latency grew"; exit 1; }
expect_live "1 Mbit/s cap, ${took_ms} ms for 8 s" "$work/heavy.ref" 50  # the last GOPs may be skipped
inA tc qdisc del dev "$vethA" root

# 4. 40 ms added each way by a relay on host A.
ip netns exec "$A" "$relay" 0 "$ipB" 8264 40 >"$work/relay.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q 'listening on port' "$work/relay.log" && break; sleep 0.1; done
grep -q 'listening on port' "$work/relay.log" || { echo "FAIL: the relay did not start"; cat "$work/relay.log"; exit 1; }
relay_port=$(grep -o 'listening on port [0-9]*' "$work/relay.log" | awk '{print $4}')
start_receiver
ip netns exec "$A" "$sender" "$work/clip.mp4" --host 127.0.0.1 --port "$relay_port" >"$work/send.log" 2>&1 &
sender_pid=$!; pids+=($sender_pid)
finish "40 ms delay"
expect_exact "40 ms delay" "$work/clip.ref"
echo "PASS"
