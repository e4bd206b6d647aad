# Sourced by the tests that need two hosts (netns_faults.sh, keeps_up_netns.sh):
#   netns_pair NAME OCTET
# makes namespaces $A and $B joined by a veth pair, $vethA at $ipA and $vethB
# at $ipB in 10.OCTET.$n.0/24 ($n from the shell's pid, so that runs side by
# side do not collide), with lo up in both; a scratch directory $work; and an
# exit trap that stops the processes in $pids newest first and deletes it all.
# inA / inB run a command in A / B (`ip netns exec` execs it, so $! of a
# background one is the process itself). The caller defines skip().
netns_pair() {
  local name=$1 octet=$2
  n=$(( $$ % 200 + 20 ))
  A=$name-a-$$ B=$name-b-$$ ipA=10.$octet.$n.1 ipB=10.$octet.$n.2 vethA=${name}a$$ vethB=${name}b$$
  work=$(mktemp -d)
  pids=()
  trap netns_pair_cleanup EXIT
  ip netns add "$A" 2>/dev/null || skip "cannot create a network namespace here (ip netns add failed)"
  ip netns add "$B"
  ip link add "$vethA" netns "$A" type veth peer name "$vethB" netns "$B"
  ip -n "$A" addr add "$ipA/24" dev "$vethA"
  ip -n "$B" addr add "$ipB/24" dev "$vethB"
  for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
  ip -n "$A" link set "$vethA" up
  ip -n "$B" link set "$vethB" up
}
netns_pair_cleanup() {
  for (( i=${#pids[@]}-1; i>=0; i-- )); do kill "${pids[i]}" 2>/dev/null || true; done
  # Bounded: one that does not end on SIGTERM within 5 s is named and killed,
  # so that the test ends with its own verdict, not ctest's timeout.
  local p
  for _ in $(seq 50); do
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && break; p=; done
    [ -z "$p" ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then
      echo "cleanup: pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)) did not end on SIGTERM: killed"
      kill -KILL "$p" 2>/dev/null || true
    fi
  done
  wait "${pids[@]}" 2>/dev/null || true
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  rm -rf "$work"
}
inA() { ip netns exec "$A" "$@"; }
inB() { ip netns exec "$B" "$@"; }
