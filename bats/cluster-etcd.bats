#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2154 # jq programs in single quotes; SUBNET_<node>, WPID_<node> and bats' $stderr are set by printf -v and run
# Cluster mode's store (docs/cluster.md, "The store", "The watcher, and
# failing closed"): a real 3-member etcd (hack/etcd-cluster: each member in
# its own namespace, on a bridge of this sandbox, routed to the nodes'
# underlay) and a `moatctl cluster watch` per node (bats/cluster.bash's
# nodes: a namespace each with its own run directory and tables). First
# the store client through the watcher (claim, lease, watch, a member
# killed, all of etcd down); then containers on two or three nodes and
# real TCP between them, with the watcher and etcd failing. The etcd is
# the file's; every test has a cluster of its own.
#
# It makes namespaces, bridges, routes and processes: make test runs it in
# hack/sandbox's private namespaces (the marker).
# moat-bats: sandbox

load helpers
load cluster

ETCD_CLUSTER=$BATS_TEST_DIRNAME/../hack/etcd-cluster

setup_file() {
  export CE_PFX
  CE_PFX=ce$(printf %04x "$RANDOM")
  export ETCD_DIR=$BATS_FILE_TMPDIR/etcd
  EP=$("$ETCD_CLUSTER" start "$CE_PFX")
  export EP
}

teardown_file() {
  "$ETCD_CLUSTER" stop "$CE_PFX"
}

setup() {
  setup_moat_net
  cluster_setup
  export ETCDCTL_API=3
  # The nodes reach the store through this namespace.
  ip addr add "$UL.1/24" dev "${PFX}ul"
  sysctl -qw net.ipv4.ip_forward=1
}

teardown() {
  # Members a test stopped come back for the next one.
  "$ETCD_CLUSTER" start "$CE_PFX" >/dev/null || true
  etcdctl --endpoints="$EP" del --prefix "/moat/$CL/" >/dev/null || true
  cluster_teardown
  teardown_moat_net
}

# A member's client URL (1-3).
member() { echo "http://10.231.0.1$1:2379"; }

# cw_node NODE I: cluster_node NODE I whose network names this file's etcd
# as its store, found by the watcher in $T/nets-NODE. cw_node6: the same
# for a dual-stack node (cluster_node6).
cw_node() {
  cluster_node "$1" "$2"
  cw_store "$1"
}

cw_node6() {
  cluster_node6 "$1" "$2"
  cw_store "$1"
}

cw_store() {
  ip -n "$PFX$1" route add default via "$UL.1"
  jq -c --arg ep "$EP" '.cluster.store = $ep' "$T/conf-$1" >"$T/conf-$1.new"
  mv "$T/conf-$1.new" "$T/conf-$1"
  mkdir -p "$T/nets-$1"
  cp "$T/conf-$1" "$T/nets-$1/50-moat.conf"
}

# cw_start NODE [ARGS...]: NODE's watcher in the background, in the node
# (log $T/w-NODE.log); its pid in W_PID (teardown ends it).
cw_start() {
  local node=$1
  shift
  ip netns exec "$PFX$node" env MOAT_RUN_DIR="$T/run-$node" MOAT_NETWORK_DIRS="$T/nets-$node" \
    "$MOAT_BUILD/moatctl" cluster watch "$CL" "$@" </dev/null >/dev/null 2>>"$T/w-$node.log" 3>&- &
  W_PID=$!
  echo "$W_PID" >>"$T/pids"
  printf -v "WPID_$node" '%s' "$W_PID"
}

get() { etcdctl --endpoints="$EP" get --print-value-only "$1"; }
has_key() { [[ -n $(etcdctl --endpoints="$EP" get --keys-only "$1") ]]; }
no_key() { ! has_key "$1"; }
# store_view_has NODE JQ: the view NODE's watcher read from the store
# satisfies JQ; view_has: the view NODE applied.
store_view_has() { jq -e "$2" "$T/run-$1/.cluster/store/$CL.json" >/dev/null 2>&1; }
view_has() { jq -e "$2" "$T/run-$1/.cluster/views/$CL.json" >/dev/null 2>&1; }
log_has() { grep -qF -- "$2" "$T/w-$1.log"; }
member_json() { jq -nc --arg n "$CNET" --arg name "$1" '{network: $n, name: $name, policy: {}}'; }
subnet_key() { local s=SUBNET_$1; echo "/moat/$CL/subnets/${!s/\//_}"; }
ul_mac() { ip -n "$PFX$1" -j link show ul0 | jq -r '.[0].address'; }

@test "etcd: the watcher claims its subnet by txn and puts its node key (underlay, subnet, MAC)" {
  cw_node n1 1
  cw_node n2 2
  cw_start n1
  cw_start n2
  wait_for 10 has_key "/moat/$CL/nodes/n1"
  wait_for 10 has_key "/moat/$CL/nodes/n2"
  assert_eq "$(get "/moat/$CL/nodes/n1" | jq -c .)" \
    "$(jq -nc --arg s "$SUBNET_n1" --arg u "$UL.11" --arg m "$(ul_mac n1)" \
      '{mac: $m, subnet: $s, subnet6: null, underlay: $u}')" "n1's node key"
  assert_eq "$(get "$(subnet_key n1)")" n1 "n1's subnet claim"
  assert_eq "$(get "/moat/$CL/nodes/n2" | jq -r .underlay)" "$UL.12" "n2's underlay"
  # Each has read both nodes from the store (applied once a container of
  # the network is here: the tests below).
  wait_for 5 store_view_has n1 '(.nodes | map(.node) | sort) == ["n1", "n2"] and .revision > 0'
  wait_for 5 store_view_has n2 '(.nodes | map(.node) | sort) == ["n1", "n2"] and .revision > 0'
}

@test "etcd: the node key or subnet claim deleted by hand is put back at once" {
  cw_node n1 1
  cw_start n1
  wait_for 10 has_key "/moat/$CL/nodes/n1"
  etcdctl --endpoints="$EP" del "/moat/$CL/nodes/n1" >/dev/null
  wait_for 5 has_key "/moat/$CL/nodes/n1"
  etcdctl --endpoints="$EP" del "$(subnet_key n1)" >/dev/null
  wait_for 5 has_key "$(subnet_key n1)"
  assert_eq "$(get "$(subnet_key n1)")" n1 "the subnet claim"
  # Under the watcher's lease again: SIGTERM takes them.
  kill -TERM "$W_PID"
  wait "$W_PID"
  no_key "/moat/$CL/nodes/n1" || fail "the node key put back outlived SIGTERM"
}

@test "etcd: a node claiming a subnet another node holds is refused in one line (exit 2)" {
  cw_node n1 1
  cw_node n3 3
  cw_start n1
  wait_for 10 has_key "/moat/$CL/nodes/n1"
  jq --arg s "$SUBNET_n1" '.subnet = $s' "$T/conf-n3" >"$T/nets-n3/50-moat.conf"
  run --separate-stderr ip netns exec "$PFX"n3 env MOAT_RUN_DIR="$T/run-n3" \
    MOAT_NETWORK_DIRS="$T/nets-n3" timeout 10 "$MOAT_BUILD/moatctl" cluster watch "$CL"
  assert_eq "$status" 2 "exit status"
  assert_contains "$stderr" "moatctl: cluster $CL: subnet $SUBNET_n1: node n1 holds it"
  assert_eq "$(grep -c '^moatctl:' <<<"$stderr")" 1 "error lines"
  no_key "/moat/$CL/nodes/n3" || fail "n3 put its node key"
  assert_eq "$(get "$(subnet_key n1)")" n1 "the subnet claim"
}

@test "etcd: cluster watch refuses in one line: no network of the cluster, two of them, bad words" {
  cw_node n1 1
  run --separate-stderr ip netns exec "$PFX"n1 env MOAT_RUN_DIR="$T/run-n1" \
    MOAT_NETWORK_DIRS="$T/nets-n1" timeout 10 "$MOAT_BUILD/moatctl" cluster watch "other$CL"
  assert_eq "$status" 2 "no network: exit status"
  assert_contains "$stderr" "moatctl: cluster other$CL: no network of it in $T/nets-n1"
  jq '.name = "second"' "$T/conf-n1" >"$T/nets-n1/60-second.conf"
  run --separate-stderr ip netns exec "$PFX"n1 env MOAT_RUN_DIR="$T/run-n1" \
    MOAT_NETWORK_DIRS="$T/nets-n1" timeout 10 "$MOAT_BUILD/moatctl" cluster watch "$CL"
  assert_eq "$status" 2 "two networks: exit status"
  assert_contains "$stderr" "moatctl: cluster $CL: networks $CNET and second are both in it"
  run --separate-stderr "$MOAT_BUILD/moatctl" cluster watch "$CL" --ttl 1
  assert_eq "$status" 2 "--ttl 1: exit status"
  assert_contains "$stderr" "moatctl: cluster watch: --ttl: want seconds from 2 to 3600"
  no_key "/moat/$CL/nodes/n1" || fail "a refused watcher put its node key"
}

@test "etcd: a watcher SIGKILLed: its keys stay until its lease expires, then go by themselves" {
  cw_node n1 1
  cw_start n1 --ttl 3
  wait_for 10 has_key "/moat/$CL/nodes/n1"
  kill -KILL "$W_PID"
  has_key "/moat/$CL/nodes/n1" || fail "the node key went before the lease expired"
  wait_for 10 no_key "/moat/$CL/nodes/n1"
  no_key "$(subnet_key n1)" || fail "the subnet claim outlived the lease"
}

@test "etcd: SIGTERM revokes the lease: the node's keys go at once, exit 0" {
  cw_node n1 1
  cw_start n1
  wait_for 10 has_key "/moat/$CL/nodes/n1"
  kill -TERM "$W_PID"
  wait "$W_PID" || fail "watcher exit status $?"
  no_key "/moat/$CL/nodes/n1" || fail "the node key outlived SIGTERM"
  no_key "$(subnet_key n1)" || fail "the subnet claim outlived SIGTERM"
  log_has n1 "revoked"
}

@test "etcd: the watch sees another node's members come and go" {
  cw_node n1 1
  cw_start n1
  wait_for 10 store_view_has n1 '.revision > 0'
  etcdctl --endpoints="$EP" put "/moat/$CL/members/n9/10.90.9.5" "$(member_json b)" >/dev/null
  wait_for 5 store_view_has n1 '.members | map(select(.node == "n9" and .address == "10.90.9.5" and .name == "b")) | length == 1'
  etcdctl --endpoints="$EP" del "/moat/$CL/members/n9/10.90.9.5" >/dev/null
  wait_for 5 store_view_has n1 '.members == []'
  log_has n1 "DELETE /moat/$CL/members/n9/10.90.9.5"
}

@test "etcd: the member the watcher talks to killed: it resyncs on another and keeps watching" {
  cw_node n1 1
  cw_node n2 2
  cw_start n1
  wait_for 10 store_view_has n1 '.revision > 0'
  # The first endpoint is the one it talks to.
  "$ETCD_CLUSTER" kill "$CE_PFX" 1
  # The two left may still be electing a leader: the put is tried again
  # until they take it (etcd's own "request timed out" meanwhile).
  wait_for 20 etcdctl --endpoints="$(member 2)" put "/moat/$CL/members/n9/10.90.9.6" "$(member_json c)"
  wait_for 10 store_view_has n1 '.members | map(.address) == ["10.90.9.6"]'
  # Another member (the 2nd, unless it was not ready to answer yet).
  grep -qE "resync from http://10.231.0.1[23]:2379" "$T/w-n1.log"
  # Leases are kept alive through the others: n2's node key outlives its
  # TTL.
  cw_start n2 --ttl 3
  wait_for 10 has_key "/moat/$CL/nodes/n2"
  sleep 4.5 # longer than n2's TTL: what is tested is that nothing changes
  has_key "/moat/$CL/nodes/n2" || fail "n2's lease expired with a member down"
}

@test "etcd: all members down: the view stays as it was; etcd back: the watcher converges" {
  cw_node n1 1
  cw_start n1
  etcdctl --endpoints="$EP" put "/moat/$CL/members/n9/10.90.9.7" "$(member_json d)" >/dev/null
  wait_for 10 store_view_has n1 '.members | map(.address) == ["10.90.9.7"]'
  "$ETCD_CLUSTER" kill "$CE_PFX" all
  wait_for 10 log_has n1 "no endpoint of 3 answered"
  store_view_has n1 '.members | map(.address) == ["10.90.9.7"]' || fail "the view changed with etcd down"
  alive "$W_PID" || fail "the watcher ended with etcd down"
  "$ETCD_CLUSTER" start "$CE_PFX" >/dev/null
  etcdctl --endpoints="$EP" put "/moat/$CL/members/n9/10.90.9.8" "$(member_json e)" >/dev/null
  wait_for 15 store_view_has n1 '(.members | map(.address) | sort) == ["10.90.9.7", "10.90.9.8"]'
  wait_for 5 has_key "/moat/$CL/nodes/n1"
}

# Three nodes (or two) with their watchers, each node's key in the store.
cw_nodes() {
  local i=1 node
  for node in "$@"; do
    cw_node "$node" "$i"
    cw_start "$node"
    i=$((i + 1))
  done
  for node in "$@"; do
    wait_for 10 has_key "/moat/$CL/nodes/$node"
  done
}

member_key() { echo "/moat/$CL/members/$(node_of "$1")/$(cip "$1")"; }
# view_knows NODE NAME: NODE has applied a view holding container NAME.
view_knows() { view_has "$1" ".members | map(.address) | index(\"$(cip "$2")\") != null"; }

@test "nodes: a shared label is let through across three nodes soon after ADD; another label is refused" {
  local port
  port=$(random_port)
  cw_nodes n1 n2 n3
  node_add n2 b "$(with_labels app=web)"
  node_add n2 c "$(with_labels app=db)"
  node_add n3 f "$(with_labels app=web)"
  c_listen b "$port"
  c_listen c "$port"
  c_listen f "$port"
  node_add n1 a "$(with_labels app=web)"
  c_listen a "$port"
  # The watchers publish and apply without anyone's help.
  wait_for 10 c_tcp a b "$port"
  wait_for 10 c_tcp a f "$port"
  wait_for 10 c_tcp b a "$port"
  wait_for 10 c_tcp f b "$port"
  run -0 c_udp a b "$port"
  has_key "$(member_key a)" || fail "a's member key is not in the store"
  # c is known on n1 (its entry applied), and refused by label.
  wait_for 10 view_knows n1 c
  run c_tcp a c "$port"
  assert_eq "$output" refused "a -> c (app=db)"
  run c_tcp c a "$port"
  assert_eq "$output" refused "c -> a (app=db)"
}

@test "nodes: a watcher SIGKILLed: known peers keep working, a new container elsewhere is not let in until it is back" {
  local port
  port=$(random_port)
  cw_nodes n1 n2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  c_listen a "$port"
  c_listen b "$port"
  wait_for 10 c_tcp a b "$port"
  wait_for 10 c_tcp b a "$port"
  kill -KILL "$WPID_n1"
  # The kernel keeps what it was given: known peers, both ways.
  run -0 c_tcp a b "$port"
  run -0 c_tcp b a "$port"
  # d on n2 is published by n2's watcher, but n1 has no watcher to hear it.
  node_add n2 d "$(with_labels app=web)"
  c_listen d "$port"
  wait_for 10 has_key "$(member_key d)"
  run c_tcp d a "$port"
  [[ $status -ne 0 ]] || fail "d -> a was let in with n1's watcher down ($output)"
  run c_tcp a d "$port"
  [[ $status -ne 0 ]] || fail "a -> d was let through with n1's watcher down ($output)"
  run -0 c_tcp a b "$port"
  # Back: it resyncs, and d is let in.
  cw_start n1
  wait_for 15 c_tcp d a "$port"
  run -0 c_tcp a d "$port"
  run -0 c_tcp a b "$port"
}

@test "nodes: all of etcd down: known peers keep working, a new container is not let in until etcd is back" {
  local port
  port=$(random_port)
  cw_nodes n1 n2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  c_listen a "$port"
  c_listen b "$port"
  wait_for 10 c_tcp a b "$port"
  "$ETCD_CLUSTER" kill "$CE_PFX" all
  run -0 c_tcp a b "$port"
  run -0 c_tcp b a "$port"
  node_add n2 e "$(with_labels app=web)"
  c_listen e "$port"
  wait_for 10 log_has n2 "no endpoint of 3 answered"
  run c_tcp e a "$port"
  [[ $status -ne 0 ]] || fail "e -> a was let in with etcd down ($output)"
  run -0 c_tcp a b "$port"
  "$ETCD_CLUSTER" start "$CE_PFX" >/dev/null
  wait_for 20 c_tcp e a "$port"
  run -0 c_tcp a e "$port"
  has_key "$(member_key e)" || fail "e's member key is not in the store"
}

@test "nodes: a node's watcher stopped (SIGTERM): its members are gone from the other nodes" {
  local port
  port=$(random_port)
  cw_nodes n1 n2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  c_listen a "$port"
  c_listen b "$port"
  wait_for 10 c_tcp a b "$port"
  kill -TERM "$WPID_n2"
  wait "$WPID_n2" || fail "n2's watcher exit status $?"
  no_key "$(member_key b)" || fail "b's member key outlived n2's watcher"
  wait_for 10 eval '! view_knows n1 b'
  run c_tcp a b "$port"
  [[ $status -ne 0 ]] || fail "a -> b still let through with n2 gone ($output)"
}

@test "nodes: a container DEL'd: its member key is withdrawn and the other nodes drop it" {
  local port
  port=$(random_port)
  cw_nodes n1 n2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  c_listen b "$port"
  wait_for 10 c_tcp a b "$port"
  wait_for 10 view_knows n2 a
  run -0 node_cni n1 DEL a
  wait_for 10 no_key "$(member_key a)"
  wait_for 10 eval '! view_knows n2 a'
  log_has n1 "withdrew $(member_key a)"
}

# The DaemonSet's way (conf/kubernetes): install-moat writes the node's list
# with MOAT_CLUSTER, the container cluster-watch runs the manifest's own
# command (its moatctl path pointed at the build's) on that list.
@test "kubernetes: the DaemonSet's cluster-watch on install-moat's list claims the node's subnet, publishes a pod the list attached; SIGTERM withdraws" {
  local k8s=$BATS_TEST_DIRNAME/../conf/kubernetes src=$T/image host=$T/host script conf pid addr
  cluster_node n1 1
  ip -n "$PFX"n1 route add default via "$UL.1"
  mkdir -p "$src/root/opt/cni/bin" "$src/root/usr/local/bin" "$host/opt/cni/bin"
  cp "$MOAT_BUILD/moat" "$src/root/opt/cni/bin/moat"
  cp "$MOAT_BUILD/moatctl" "$src/root/usr/local/bin/moatctl"
  jq --arg n "$CNET" '.name = $n | .plugins[0].bridge = "moatc0"' "$k8s/10-moat.conflist" >"$src/10-moat.conflist"
  run -0 env MOAT_SRC="$src" MOAT_HOST="$host" MOAT_SUBNET="$SUBNET_n1" MOAT_IPAM=builtin NODE_NAME=n1 \
    MOAT_CLUSTER="$CL" MOAT_CLUSTER_STORE="$EP" sh "$k8s/install-moat"
  script=$(python3 - "$k8s/moat-daemonset.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
pod = [d for d in docs if d["kind"] == "DaemonSet"][0]["spec"]["template"]["spec"]
print([c for c in pod["containers"] if c["name"] == "cluster-watch"][0]["command"][2])
PY
  ) || fail "no cluster-watch command: $script"
  script=${script//\/opt\/moat\/root\/usr\/local\/bin\/moatctl/$MOAT_BUILD/moatctl}
  ip netns exec "$PFX"n1 env -i PATH="$PATH" MOAT_CLUSTER="$CL" MOAT_NETWORK_DIRS="$host/etc/cni/net.d" \
    MOAT_RUN_DIR="$T/run-n1" sh -c "$script" </dev/null >/dev/null 2>>"$T/w-n1.log" 3>&- &
  pid=$!
  echo "$pid" >>"$T/pids"
  wait_for 10 has_key "/moat/$CL/nodes/n1"
  assert_eq "$(get "$(subnet_key n1)")" n1 "n1's subnet claim"
  # A pod attached by the list as the runtime hands it to moat, with its
  # annotations (a pod without labels has no policy: nothing to publish).
  conf=$(jq -c '.plugins[0] + {name, cniVersion}
    | .runtimeConfig["io.kubernetes.cri.pod-annotations"] = {"io.moat.labels": "app=web"}' \
    "$host/etc/cni/net.d/10-moat.conflist")
  assert_jq "$conf" '.cluster == {name: $c, store: $s, node: "n1"}' --arg c "$CL" --arg s "$EP"
  new_netns p
  printf '%s' "$conf" >"$T/conf-of-p"
  run -0 node_cni n1 ADD p
  addr=$(jq -r '.ips[0].address | split("/")[0]' <<<"$output")
  wait_for 10 has_key "/moat/$CL/members/n1/$addr"
  kill -TERM "$pid"
  wait "$pid" || fail "cluster-watch's exit on SIGTERM: $?"
  no_key "/moat/$CL/nodes/n1" || fail "n1's node key outlived SIGTERM"
  no_key "/moat/$CL/members/n1/$addr" || fail "the pod's member key outlived SIGTERM"
  run -0 node_cni n1 DEL p
}

@test "nodes: dual-stack nodes: the watcher claims and publishes subnet6, members carry address6, IPv6 crosses from the watchers alone; a subnet6 another node holds is refused" {
  local port s6
  port=$(random_port)
  cw_node6 n1 1
  cw_node6 n2 2
  cw_start n1
  cw_start n2
  wait_for 10 has_key "/moat/$CL/nodes/n1"
  wait_for 10 has_key "/moat/$CL/nodes/n2"
  assert_eq "$(get "/moat/$CL/nodes/n1" | jq -r .subnet6)" "$SUBNET6_n1" "n1's node key's subnet6"
  assert_eq "$(get "/moat/$CL/nodes/n1" | jq -r .underlay6)" "$(link_local_of "${PFX}n1" ul0)" \
    "n1's node key's underlay6 (its underlay link-local address)"
  s6=/moat/$CL/subnets/${SUBNET6_n1/\//_}
  assert_eq "$(get "$s6")" n1 "n1's subnet6 claim"
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  node_add n2 c "$(with_labels app=db)"
  c_listen6 b "$port"
  c_listen6 c "$port"
  c_listen6 a "$port"
  wait_for 10 has_key "$(member_key b)"
  assert_eq "$(get "$(member_key b)" | jq -r .address6)" "$(cip6 b)" "b's member key's address6"
  wait_for 10 c_tcp6 a b "$port"
  wait_for 10 c_tcp6 b a "$port"
  run -0 c_udp6 a b "$port"
  wait_for 10 view_knows n1 c
  run c_tcp6 a c "$port"
  assert_eq "$output" refused "a -> c over IPv6 (app=db)"
  # A third node claiming n1's subnet6 (its own subnet) is refused.
  cw_node6 n3 3
  jq --arg s "$SUBNET6_n1" '.subnet6 = $s' "$T/conf-n3" >"$T/nets-n3/50-moat.conf"
  run --separate-stderr ip netns exec "$PFX"n3 env MOAT_RUN_DIR="$T/run-n3" \
    MOAT_NETWORK_DIRS="$T/nets-n3" timeout 10 "$MOAT_BUILD/moatctl" cluster watch "$CL"
  assert_eq "$status" 2 "exit status"
  assert_contains "$stderr" "moatctl: cluster $CL: subnet $SUBNET6_n1: node n1 holds it"
  no_key "/moat/$CL/nodes/n3" || fail "n3 put its node key"
}
