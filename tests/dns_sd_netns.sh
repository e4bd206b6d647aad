#!/usr/bin/env bash
# Issue 13, point 4: found on the LAN with DNS-SD. Two hosts in network
# namespaces joined by a veth pair, each with its own D-Bus system bus and its
# own real avahi-daemon (libavahi-client talks to the daemon over that bus):
#   a. a receiver in A (with an access key) is listed by `sender
#      --list-receivers` in B with A's address, its port and key=yes, as the
#      independent oracle `avahi-browse -rpt _h264link._tcp` in B sees it;
#   b. a second receiver in A, no key: same default name, so it is renamed
#      ("... #2") and both are listed; one with --no-announce is not; one
#      in B with that name too is renamed (taken on the network); --listen
#      ADDRESS is announced on its interface, a loopback one not at all;
#   c. senders: `receiver --list-senders` in A lists what `avahi-publish -s`
#      (the oracle's own publisher) and announce_service (ServiceAnnouncer,
#      the API `sender --serve` announces with) announce in B; receivers are
#      not senders, and the other way round;
#   d. the first receiver exits: it disappears from both listings;
#   e. the daemon in A stops: the running receiver goes on; a new one says
#      "no Avahi daemon here" once and still receives a stream frame-exact
#      (ffmpeg -f framemd5 the oracle); a daemon started again in A is
#      announced to by the receiver that was running (it re-announces);
#   g. a real `sender --serve` in B is listed in A; a receiver that dials
#      the listed address gets its stream frame-exact;
#   h. the sender window serving (`sender --gui FILE --serve`, offscreen)
#      is listed too, and no longer once it is closed;
#   f. no system bus at all: --list-receivers says the one line and exits 0;
#      a bad --browse-seconds is a usage error (64).
#   dns_sd_netns.sh SENDER RECEIVER ANNOUNCE_SERVICE        (exit 77 = skipped)
# Without root or a tool it skips, except in CI (CI=true), where it fails.
set -euo pipefail
sender=$1 receiver=$2 announce=$3
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $* (CI=true: this test must run, not skip)"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
for tool in ip unshare mount dbus-daemon avahi-daemon avahi-browse avahi-publish ffmpeg python3; do
  command -v $tool >/dev/null || skip "$tool is not installed (scripts/setup.sh --test installs it)"
done
[ -f /usr/share/dbus-1/system.d/avahi-dbus.conf ] || skip "avahi-daemon's D-Bus policy is missing"

source "$(dirname "$0")/netns_pair.sh"
netns_pair h264d 233
fail() { echo "FAIL: $*"; for f in "$work"/*.log; do echo "--- $f"; cat "$f"; done; exit 1; }

# One system bus per namespace, on a socket of its own, with avahi-daemon's
# policy; every Avahi client of that namespace is pointed at it.
start_bus() { # ns tag
  cat >"$work/bus-$2.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$work/bus-$2</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
  <include>/usr/share/dbus-1/system.d/avahi-dbus.conf</include>
</busconfig>
CONF
  ip netns exec "$1" dbus-daemon --config-file="$work/bus-$2.conf" --nofork --nopidfile >"$work/dbus-$2.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -S "$work/bus-$2" ] && return; sleep 0.05; done
  fail "the D-Bus daemon of $1 did not start"
}
# avahi-daemon keeps its pid file and socket in /run/avahi-daemon: a private
# /run (tmpfs, in a mount namespace of its own) lets one run per namespace.
start_avahi() { # ns tag
  cat >"$work/avahi-$2.conf" <<CONF
[server]
host-name=h264d-$2-$$
[publish]
publish-workstation=no
publish-hinfo=no
CONF
  : >"$work/avahi-$2.log"
  DBUS_SYSTEM_BUS_ADDRESS=unix:path=$work/bus-$2 ip netns exec "$1" unshare --mount sh -c \
    "mount -t tmpfs tmpfs /run && mkdir /run/avahi-daemon && exec avahi-daemon -f '$work/avahi-$2.conf' \
       --no-drop-root --no-chroot --no-rlimits --no-proc-title" >>"$work/avahi-$2.log" 2>&1 &
  eval "avahi_$2=$!"; pids+=($!)
  for _ in $(seq 200); do grep -q 'Server startup complete' "$work/avahi-$2.log" && return; sleep 0.05; done
  fail "avahi-daemon in $1 did not start"
}
# In A or B, on its bus. A function in the background is a subshell whose $!
# is not the program's: background starts use `env $busA ip netns exec "$A"`.
busA=DBUS_SYSTEM_BUS_ADDRESS=unix:path=$work/bus-a busB=DBUS_SYSTEM_BUS_ADDRESS=unix:path=$work/bus-b
inBusA() { env "$busA" ip netns exec "$A" "$@"; }
inBusB() { env "$busB" ip netns exec "$B" "$@"; }
start_bus "$A" a; start_bus "$B" b
start_avahi "$A" a; start_avahi "$B" b

wait_log() { # file pattern what
  for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return; sleep 0.1; done
  fail "$3"
}
# Polls a listing command until `present` (or `absent`) holds for a line
# matching the pattern; the last listing stays in $work/list.txt.
poll_list() { # present|absent pattern what -- command...
  local want=$1 pattern=$2 what=$3; shift 4
  local deadline=$(( $(date +%s) + 30 ))
  while [ "$(date +%s)" -lt $deadline ]; do
    "$@" >"$work/list.txt" 2>"$work/list-err.txt" || fail "$* exited $?: $(cat "$work/list-err.txt")"
    if grep -qE "$pattern" "$work/list.txt"; then [ "$want" = present ] && return; else [ "$want" = absent ] && return; fi
  done
  echo "--- last listing"; cat "$work/list.txt" "$work/list-err.txt"
  echo "--- avahi-browse in A, then in B"; oracle inBusA; oracle inBusB
  fail "$what"
}
# The oracle: avahi-browse's resolved lines (=;iface;IPv4;name;type;domain;
# host;address;port;txt), the name unescaped (\032 is a space), as
#   NAME<TAB>ADDRESS:PORT<TAB>TXT
oracle() { # inBusX
  "$1" avahi-browse -rpt _h264link._tcp 2>/dev/null | python3 -c '
import re, sys
for line in sys.stdin:
    f = line.rstrip("\n").split(";")
    if f[0] == "=" and f[2] == "IPv4":
        name = re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1))), f[3])
        print("%s\t%s:%s\t%s" % (name, f[7], f[8], ";".join(f[9:])))'
}

# a. A receiver in A, with a key.
echo "dns-sd $$" >"$work/key"
env "$busA" ip netns exec "$A" "$receiver" --headless --port 8301 --key-file "$work/key" >"$work/recv1.log" 2>&1 &
recv1=$!; pids+=($recv1)
wait_log "$work/recv1.log" 'announced as' "receiver 1 did not announce itself"
name1=$(sed -n 's/^receiver: announced as "\(.*\)" (DNS-SD.*/\1/p' "$work/recv1.log" | head -1)
echo "receiver 1 announced as \"$name1\""
poll_list present "$ipA:8301" "sender --list-receivers in B did not list receiver 1 ($ipA:8301)" \
  -- inBusB "$sender" --list-receivers --browse-seconds 1
line=$(grep -F "$ipA:8301" "$work/list.txt")
echo "listed: $line"
IFS=$'\t' read -r lname lhost laddr lkey lversion <<<"$line"
[ "$lname" = "$name1" ] || fail "listed name '$lname', announced '$name1'"
[ "$lkey" = key=yes ] || fail "receiver 1 needs a key: listed '$lkey'"
[ "$lhost" = "h264d-a-$$.local" ] || fail "listed host '$lhost', A's daemon is h264d-a-$$.local"
oracle inBusB >"$work/oracle.txt"
grep -F "$name1"$'\t'"$ipA:8301" "$work/oracle.txt" | grep -q '"key=yes"' \
  || { cat "$work/oracle.txt"; fail "avahi-browse in B does not see receiver 1 at $ipA:8301 with key=yes"; }
grep -F "$name1"$'\t'"$ipA:8301" "$work/oracle.txt" | grep -q '"role=receiver"' || fail "avahi-browse: no role=receiver"
echo "a. ok: receiver 1 listed in B as avahi-browse sees it"

# b. A second receiver in A with the same (default) name, no key: renamed;
#    a third with --no-announce.
env "$busA" ip netns exec "$A" "$receiver" --headless --port 8303 --no-announce >"$work/recv3.log" 2>&1 &
pids+=($!)
wait_log "$work/recv3.log" 'listening on port' "receiver 3 did not start"
env "$busA" ip netns exec "$A" "$receiver" --headless --port 8302 >"$work/recv2.log" 2>&1 &
recv2=$!; pids+=($recv2)
wait_log "$work/recv2.log" 'announced as' "receiver 2 did not announce itself"
name2=$(sed -n 's/^receiver: announced as "\(.*\)" (DNS-SD.*/\1/p' "$work/recv2.log" | head -1)
[ "$name2" != "$name1" ] || fail "two receivers announced under one name '$name1'"
grep -q "is taken on this network" "$work/recv2.log" || fail "receiver 2 did not say its name was taken"
poll_list present "^$name2"$'\t'".*$ipA:8302"$'\t'"key=no" "receiver 2 ($name2, $ipA:8302, key=no) not listed in B" \
  -- inBusB "$sender" --list-receivers --browse-seconds 1
grep -qF "$ipA:8301" "$work/list.txt" || fail "receiver 1 vanished from the listing"
grep -q ':8303' "$work/list.txt" && fail "the --no-announce receiver was listed"
oracle inBusB | grep -q ':8303' && fail "avahi-browse sees the --no-announce receiver"
echo "b. ok: \"$name2\" (renamed), --no-announce not listed"
# A receiver in B with the same default name: taken on the network (A's
# daemon answers B's probe), so B's is renamed too.
env "$busB" ip netns exec "$B" "$receiver" --headless --port 8305 >"$work/recv5.log" 2>&1 &
recv5=$!; pids+=($recv5)
wait_log "$work/recv5.log" 'announced as' "receiver 5 (in B) did not announce itself"
name5=$(sed -n 's/^receiver: announced as "\(.*\)" (DNS-SD.*/\1/p' "$work/recv5.log" | tail -1)
[ "$name5" != "$name1" ] && [ "$name5" != "$name2" ] || fail "receiver 5 in B kept a name A has: '$name5'"
grep -q "is taken on this network" "$work/recv5.log" || fail "receiver 5 did not say its name was taken"
poll_list present "$ipB:8305"$'\t'"key=no" "receiver 5 ($name5) not listed in A" \
  -- inBusA "$sender" --list-receivers --browse-seconds 1
grep -qF "$name5"$'\t' "$work/list.txt" || fail "receiver 5 listed under another name than '$name5'"
kill "$recv5"; wait "$recv5" || true
echo "b. ok: a name taken on the network is renamed (\"$name5\")"
# --listen: announced on that address's interface; a loopback one is not announced.
env "$busA" ip netns exec "$A" "$receiver" --headless --port 8306 --listen "$ipA" >"$work/recv6.log" 2>&1 &
recv6=$!; pids+=($recv6)
wait_log "$work/recv6.log" 'announced as' "receiver 6 (--listen $ipA) did not announce itself"
poll_list present "$ipA:8306" "receiver 6 (--listen $ipA) not listed in B" \
  -- inBusB "$sender" --list-receivers --browse-seconds 1
kill "$recv6"; wait "$recv6" || fail "receiver 6 exited $? on SIGTERM"
env "$busA" ip netns exec "$A" "$receiver" --headless --port 8307 --listen 127.0.0.1 >"$work/recv7.log" 2>&1 &
recv7=$!; pids+=($recv7)
wait_log "$work/recv7.log" 'not announcing on the network: --listen 127.0.0.1' "receiver 7 (--listen 127.0.0.1) did not say it does not announce"
grep -q 'announced as' "$work/recv7.log" && fail "receiver 7 (--listen 127.0.0.1) announced itself"
kill "$recv7"; wait "$recv7" || fail "receiver 7 exited $? on SIGTERM"
echo "b. ok: --listen $ipA announced there, --listen 127.0.0.1 not at all"

# c. Senders in B: one through avahi-publish, one through ServiceAnnouncer.
env "$busB" ip netns exec "$B" avahi-publish -s "oracle sender $$" _h264link._tcp 8311 role=sender key=yes version=3 \
  >"$work/publish.log" 2>&1 &
pids+=($!)
env "$busB" ip netns exec "$B" "$announce" sender 8312 no >"$work/announce.log" 2>&1 &
pids+=($!)
wait_log "$work/announce.log" 'announced as' "announce_service did not announce"
sname=$(sed -n 's/^announced as "\(.*\)" (DNS-SD.*/\1/p' "$work/announce.log" | head -1)
poll_list present "^oracle sender $$"$'\t'".*$ipB:8311"$'\t'"key=yes" "receiver --list-senders in A did not list avahi-publish's sender" \
  -- inBusA "$receiver" --list-senders --browse-seconds 1
poll_list present "^$sname"$'\t'".*$ipB:8312"$'\t'"key=no"$'\t'"version=[0-9]" \
  "receiver --list-senders in A did not list the ServiceAnnouncer sender ($sname)" \
  -- inBusA "$receiver" --list-senders --browse-seconds 1
grep -q ':830[12]' "$work/list.txt" && fail "--list-senders listed a receiver"
oracle inBusA | grep -F "$sname"$'\t'"$ipB:8312" | grep -q '"role=sender"' || fail "avahi-browse in A: no role=sender for $sname"
inBusB "$sender" --list-receivers --browse-seconds 1 >"$work/list.txt"
grep -q ':831[12]' "$work/list.txt" && fail "--list-receivers listed a sender"
echo "c. ok: senders listed by receiver --list-senders; roles kept apart"

# d. Receiver 1 exits: it goes from the listing.
kill "$recv1"; wait "$recv1" || fail "receiver 1 exited $? on SIGTERM"
poll_list absent "$ipA:8301" "receiver 1 exited but is still listed in B" \
  -- inBusB "$sender" --list-receivers --browse-seconds 1
oracle inBusB | grep -qF "$ipA:8301" && fail "avahi-browse still sees receiver 1"
echo "d. ok: the exited receiver is gone"

# e. No daemon in A: the apps say so once and go on.
kill "$avahi_a"; wait "$avahi_a" 2>/dev/null || true
poll_list absent "$ipA:8302" "A's daemon stopped, receiver 2 still listed" \
  -- inBusB "$sender" --list-receivers --browse-seconds 1
kill -0 "$recv2" || fail "receiver 2 exited when the Avahi daemon stopped"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=320x240:rate=25:duration=2 \
  -c:v libx264 -g 25 -pix_fmt yuv420p "$work/clip.mp4"
ffmpeg -hide_banner -loglevel error -i "$work/clip.mp4" -map 0:v:0 -fps_mode passthrough -f framemd5 - \
  | grep -v '^#' | awk -F', ' '{print $NF}' >"$work/clip.ref"
env "$busA" ip netns exec "$A" "$receiver" --headless --once --port 8304 --framemd5 "$work/got.md5" >"$work/recv4.log" 2>&1 &
recv4=$!; pids+=($recv4)
wait_log "$work/recv4.log" 'listening on port' "receiver 4 did not start"
ip netns exec "$B" "$sender" "$work/clip.mp4" --host "$ipA" --port 8304 --fast >"$work/send.log" 2>&1 \
  || fail "the sender failed towards the receiver without a daemon"
wait "$recv4" || fail "receiver 4 (no daemon) exited $?"
[ "$(grep -c 'no Avahi daemon here' "$work/recv4.log")" = 1 ] || fail "receiver 4 did not say 'no Avahi daemon here' exactly once"
grep -q 'no Avahi daemon here: not announcing; type the address' "$work/recv4.log" || fail "the notice's words"
grep -v '^#' "$work/got.md5" | awk -F', ' '{print $NF}' | cmp -s - "$work/clip.ref" \
  || fail "the stream received without a daemon is not frame-exact"
echo "e. ok: no daemon: said once, $(wc -l <"$work/clip.ref") frames received exact"
start_avahi "$A" a
poll_list present "^$name2"$'\t'".*$ipA:8302" "receiver 2 did not announce itself again to the new daemon" \
  -- inBusB "$sender" --list-receivers --browse-seconds 1
echo "e. ok: the receiver that kept running announced itself to the new daemon"

# g. A real serving sender in B (sender --serve) is listed in A, and a
#    receiver in A that dials the address it was listed with gets the stream
#    frame-exact.
env "$busB" ip netns exec "$B" "$sender" "$work/clip.mp4" --serve --port 8313 >"$work/serve.log" 2>&1 &
serve=$!; pids+=($serve)
poll_list present $'\t'"$ipB:8313"$'\t'"key=no" "receiver --list-senders in A did not list sender --serve in B" \
  -- inBusA "$receiver" --list-senders --browse-seconds 1
listed=$(grep -F "$ipB:8313" "$work/list.txt" | head -1 | cut -f3)
inBusA "$receiver" --headless --once --connect "$listed" --framemd5 "$work/served.md5" >"$work/recv8.log" 2>&1 \
  || fail "the receiver that dialled the listed sender exited $?"
wait "$serve" || fail "sender --serve exited $?"
grep -v '^#' "$work/served.md5" | awk -F', ' '{print $NF}' | cmp -s - "$work/clip.ref" \
  || fail "the stream from the listed sender is not frame-exact"
echo "g. ok: sender --serve listed as $listed; dialled from A, $(wc -l <"$work/clip.ref") frames exact"

# h. The window serves as the command line does: announced while it serves.
env "$busB" QT_QPA_PLATFORM=offscreen ip netns exec "$B" "$sender" --gui "$work/clip.mp4" --serve --port 8314 \
  >"$work/serve-gui.log" 2>&1 &
gui=$!; pids+=($gui)
poll_list present $'\t'"$ipB:8314"$'\t'"key=no" "receiver --list-senders in A did not list the sender window serving in B" \
  -- inBusA "$receiver" --list-senders --browse-seconds 1
kill -TERM "$gui"
wait "$gui" || fail "the serving sender window exited $? on SIGTERM"
poll_list absent $'\t'"$ipB:8314"$'\t' "the closed sender window is still listed in A" \
  -- inBusA "$receiver" --list-senders --browse-seconds 1
echo "h. ok: the sender window's --serve was listed, and withdrawn when it closed"

# f. No system bus at all: one line, exit 0, at once.
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$work/none timeout 10 "$sender" --list-receivers --browse-seconds 5 \
  >"$work/list.txt" 2>"$work/list-err.txt" || fail "--list-receivers without a bus exited $?"
[ "$(grep -c 'no Avahi daemon here' "$work/list-err.txt")" = 1 ] || { cat "$work/list-err.txt"; fail "without a bus: not said once"; }
[ ! -s "$work/list.txt" ] || fail "without a bus, something was listed"
echo "f. ok: no bus: $(cat "$work/list-err.txt")"
rc=0; "$sender" --list-receivers --browse-seconds x >"$work/list.txt" 2>"$work/list-err.txt" || rc=$?
[ "$rc" = 64 ] && grep -q "browse-seconds 'x': use a number of seconds" "$work/list-err.txt" \
  || fail "--browse-seconds x: exit $rc, $(cat "$work/list-err.txt")"
echo "f. ok: a bad --browse-seconds is a usage error"
echo "PASS"
