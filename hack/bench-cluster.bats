#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2153 # jq programs in single quotes; PFX comes from helpers.bash
# The measurement of hack/bench-cluster (run that): not a test, never in
# make test. Figures go to the TAP stream as "# " lines.

load ../bats/helpers
load ../bats/cluster

ETCD_CLUSTER=$BATS_TEST_DIRNAME/etcd-cluster

setup() {
  setup_moat_net
  cluster_setup
  export ETCDCTL_API=3 ETCD_DIR=$T/etcd
  EPFX=cb$(printf %04x "$RANDOM")
  EP=$("$ETCD_CLUSTER" start "$EPFX")
  ip addr add "$UL.1/24" dev "${PFX}ul"
  sysctl -qw net.ipv4.ip_forward=1
}

teardown() {
  "$ETCD_CLUSTER" stop "$EPFX" || true
  cluster_teardown
  teardown_moat_net
}

bench_node() { # NODE I
  cluster_node "$1" "$2"
  ip -n "$PFX$1" route add default via "$UL.1"
  jq -c --arg ep "$EP" '.cluster.store = $ep' "$T/conf-$1" >"$T/conf-$1.new"
  mv "$T/conf-$1.new" "$T/conf-$1"
  mkdir -p "$T/nets-$1"
  cp "$T/conf-$1" "$T/nets-$1/50-moat.conf"
  ip netns exec "$PFX$1" env MOAT_RUN_DIR="$T/run-$1" MOAT_NETWORK_DIRS="$T/nets-$1" \
    "$MOAT_BUILD/moatctl" cluster watch "$CL" </dev/null >/dev/null 2>>"$T/w-$1.log" 3>&- &
  echo $! >>"$T/pids"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# One quick try: a connection from container FROM to TO's port, answered.
try_once() { # FROM TO PORT
  local out
  out=$(echo x | ip netns exec "$PFX$1" timeout 1 socat -T0.5 - \
    "TCP4:$(cip "$2"):$3,connect-timeout=0.02" 2>/dev/null) || return 1
  [[ $out == "reply x" ]]
}

# median and p99 (nearest rank) of the numbers on stdin, "M P99 MAX N"
stats() {
  sort -n | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    r = int(NR * 0.99); if (r < NR * 0.99) r++; if (r < 1) r = 1
    printf "%d %d %d %d\n", m, v[r], v[NR], NR }'
}

@test "bench: ADD on n1 -> first connection let through on n2 and on n3 (ms)" {
  local port round t0 ta t1 deadline peer times=() adds=() m p99 max n
  port=$(random_port)
  bench_node n1 1
  bench_node n2 2
  bench_node n3 3
  node_add n2 b "$(with_labels app=web)"
  node_add n3 c "$(with_labels app=web)"
  c_listen b "$port"
  c_listen c "$port"
  for round in $(seq "$MOAT_BENCH_ROUNDS"); do
    t0=$(now_ms)
    node_add n1 "a$round" "$(with_labels app=web)"
    ta=$(now_ms)
    adds+=($((ta - t0)))
    # Each other node's first connection from the new container, counted
    # from the start of its ADD: the later of the two probes waits less.
    for peer in b c; do
      deadline=$((t0 + 20000))
      until try_once "a$round" "$peer" "$port"; do
        (($(now_ms) < deadline)) || fail "round $round: no connection to $peer within 20 s"
      done
      t1=$(now_ms)
      times+=($((t1 - t0)))
      echo "# round $round: to $peer $((t1 - t0)) ms (the ADD itself: $((ta - t0)) ms)" >&3
    done
  done
  # bats' run (in node_add) uses a global i: the loop's variable is round.
  read -r m p99 max n < <(printf '%s\n' "${times[@]}" | stats)
  echo "# ADD on n1 -> first connection through n2 or n3 (3 nodes): median $m ms, p99 $p99 ms, max $max ms ($n samples)" >&3
  read -r m p99 max n < <(printf '%s\n' "${adds[@]}" | stats)
  echo "# of which the ADD itself: median $m ms, p99 $p99 ms" >&3
}

applied() { grep -qF "\"$1\"" "$T/run-n1/.cluster/views/$CL.json" 2>/dev/null; }

@test "bench: one remote change applied on n1 with 10 and with 1,000 other members (ms)" {
  local size round addr t0 t1 deadline times policy k
  bench_node n1 1
  node_add n1 a1 "$(with_labels app=web)"
  N9=99
  etcdctl --endpoints="$EP" put "/moat/$CL/nodes/n9" \
    "$(jq -nc --arg u "$UL.19" --arg s "10.$N9.0.0/16" '{underlay: $u, subnet: $s, subnet6: null, mac: "02:00:00:00:00:99"}')" >/dev/null
  policy=$(node_ctl n1 cluster members "$CL" | jq -c '.[0].policy')
  k=0
  for size in 10 1000; do
    # The other members (the loop runs in the pipeline's subshell: k is
    # set again after), then a wait until n1 has applied the last one.
    for ((; k < size; k++)); do
      printf '%s\n' "10.$N9.$((k / 250)).$((k % 250 + 2)) c9-$k"
    done | xargs -P 8 -L 1 sh -c 'etcdctl --endpoints="$0" put "/moat/$1/members/n9/$4" \
        "{\"network\":\"$2\",\"container\":\"$5\",\"name\":\"$5\",\"policy\":$3}" >/dev/null' \
      "$EP" "$CL" "$CNET" "$policy"
    k=$size
    deadline=$(($(now_ms) + 60000))
    until applied "10.$N9.$(((k - 1) / 250)).$(((k - 1) % 250 + 2))"; do
      (($(now_ms) < deadline)) || { tail -5 "$T/w-n1.log"; fail "$size members not applied within 60 s"; }
      sleep 0.05
    done
    times=()
    for round in $(seq 10); do
      addr=10.$N9.200.$round
      t0=$(now_ms)
      etcdctl --endpoints="$EP" put "/moat/$CL/members/n9/$addr" \
        "$(jq -nc --arg n "$CNET" --arg c "x$size-$round" --argjson p "$policy" \
          '{network: $n, container: $c, name: $c, policy: $p}')" >/dev/null
      deadline=$((t0 + 30000))
      until applied "$addr"; do
        (($(now_ms) < deadline)) || fail "$addr not applied within 30 s"
      done
      t1=$(now_ms)
      times+=($((t1 - t0)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk -v size="$size" '{ v[NR] = $1 } END {
      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "# one remote member put -> applied on n1 (views file), %d other members: median %d ms, max %d ms\n", size, m, v[NR] }' >&3
  done
}
