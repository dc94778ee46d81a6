#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# Cluster mode's store (docs/cluster.md, "The store"): a real 3-member etcd
# (hack/etcd-cluster: each member in its own namespace on a bridge of this
# sandbox) and `moatctl cluster watch`, whose etcd client (common/store/)
# claims, publishes, watches and resyncs. Every test has a cluster name of
# its own; the etcd is the file's.
#
# It makes namespaces, bridges and processes: make test runs it in
# hack/sandbox's private namespaces (the marker).
# moat-bats: sandbox

load helpers

setup_file() {
  export CE_PFX
  CE_PFX=ce$(printf %04x "$RANDOM")
  export ETCD_DIR=$BATS_FILE_TMPDIR/etcd
  EP=$("$BATS_TEST_DIRNAME/../hack/etcd-cluster" start "$CE_PFX")
  export EP
}

teardown_file() {
  "$BATS_TEST_DIRNAME/../hack/etcd-cluster" stop "$CE_PFX"
}

setup() {
  T=$BATS_TEST_TMPDIR
  : >"$T/pids"
  CL=c$RANDOM
  export ETCDCTL_API=3
}

teardown() {
  local pid
  while read -r pid; do
    kill -KILL "$pid" 2>/dev/null || true
  done <"$T/pids"
  # Members stopped by a test come back for the next one.
  "$BATS_TEST_DIRNAME/../hack/etcd-cluster" start "$CE_PFX" >/dev/null
  etcdctl --endpoints="$EP" del --prefix "/moat/$CL/" >/dev/null || true
}

# A member's client URL (1-3).
member() { echo "http://10.231.0.1$1:2379"; }

# cw_conf NODE SUBNET: node NODE's network of cluster $CL.
cw_conf() {
  mkdir -p "$T/nets/$1" "$T/run/$1"
  jq -n --arg cl "$CL" --arg ep "$EP" --arg node "$1" --arg sub "$2" \
    '{cniVersion: "1.1.0", name: "net-\($cl)", type: "moat", bridge: "cebr0", subnet: $sub,
      cluster: {name: $cl, store: $ep, node: $node}}' >"$T/nets/$1/50-moat.conf"
}

# cw_start NODE [ARGS...]: NODE's watcher in the background (log
# $T/w-NODE.log); its pid in W_PID.
cw_start() {
  local node=$1
  shift
  MOAT_NETWORK_DIRS=$T/nets/$node MOAT_RUN_DIR=$T/run/$node \
    "$MOAT_BUILD/moatctl" cluster watch "$CL" "$@" </dev/null >/dev/null 2>>"$T/w-$node.log" &
  W_PID=$!
  echo "$W_PID" >>"$T/pids"
}

get() { etcdctl --endpoints="$EP" get --print-value-only "$1"; }
has_key() { [[ -n $(etcdctl --endpoints="$EP" get --keys-only "$1") ]]; }
no_key() { ! has_key "$1"; }
# view_has NODE JQ: NODE's cached view satisfies JQ.
view_has() { jq -e "$2" "$T/run/$1/cluster/$CL.json" >/dev/null 2>&1; }
log_has() { grep -qF -- "$2" "$T/w-$1.log"; }
member_json() { jq -nc --arg n "net-$CL" --arg name "$1" '{network: $n, name: $name, policy: {}}'; }

@test "etcd: the watcher claims its subnet by txn and puts its node key (underlay, subnet)" {
  cw_conf n1 10.90.1.0/24
  cw_start n1 --underlay 192.0.2.11
  wait_for 10 has_key "/moat/$CL/nodes/n1"
  assert_eq "$(get "/moat/$CL/nodes/n1" | jq -c .)" \
    '{"subnet":"10.90.1.0/24","subnet6":null,"underlay":"192.0.2.11"}' "node key"
  assert_eq "$(get "/moat/$CL/subnets/10.90.1.0_24")" n1 "subnet claim"
  # Without --underlay: the local address of the route toward the store.
  cw_conf n2 10.90.2.0/24
  cw_start n2
  wait_for 10 has_key "/moat/$CL/nodes/n2"
  assert_eq "$(get "/moat/$CL/nodes/n2" | jq -r .underlay)" 10.231.0.1 "n2's underlay"
  # Both views hold both nodes, at a revision.
  wait_for 5 view_has n1 '(.nodes | map(.node) | sort) == ["n1", "n2"] and .revision > 0'
}

@test "etcd: a node claiming a subnet another node holds is refused in one line (exit 2)" {
  cw_conf n1 10.90.1.0/24
  cw_start n1
  wait_for 10 has_key "/moat/$CL/nodes/n1"
  cw_conf n3 10.90.1.0/24
  run --separate-stderr env MOAT_NETWORK_DIRS="$T/nets/n3" MOAT_RUN_DIR="$T/run/n3" \
    timeout 10 "$MOAT_BUILD/moatctl" cluster watch "$CL"
  assert_eq "$status" 2 "exit status"
  assert_contains "$stderr" "moatctl: cluster $CL: subnet 10.90.1.0/24: node n1 holds it"
  assert_eq "$(grep -c '^moatctl:' <<<"$stderr")" 1 "error lines"
  no_key "/moat/$CL/nodes/n3" || fail "n3 put its node key"
  assert_eq "$(get "/moat/$CL/subnets/10.90.1.0_24")" n1 "subnet claim"
}

@test "etcd: a watcher SIGKILLed: its keys stay until its lease expires, then go by themselves" {
  cw_conf n1 10.90.1.0/24
  cw_start n1 --ttl 3
  wait_for 10 has_key "/moat/$CL/nodes/n1"
  kill -KILL "$W_PID"
  has_key "/moat/$CL/nodes/n1" || fail "the node key went before the lease expired"
  wait_for 10 no_key "/moat/$CL/nodes/n1"
  no_key "/moat/$CL/subnets/10.90.1.0_24" || fail "the subnet claim outlived the lease"
}

@test "etcd: SIGTERM revokes the lease: the node's keys go at once, exit 0" {
  cw_conf n1 10.90.1.0/24
  cw_start n1
  wait_for 10 has_key "/moat/$CL/nodes/n1"
  kill -TERM "$W_PID"
  wait "$W_PID" || fail "watcher exit status $?"
  no_key "/moat/$CL/nodes/n1" || fail "the node key outlived SIGTERM"
  no_key "/moat/$CL/subnets/10.90.1.0_24" || fail "the subnet claim outlived SIGTERM"
  assert_contains "$(cat "$T/w-n1.log")" "revoked"
}

@test "etcd: the watch sees another node's members come and go (the view file follows)" {
  cw_conf n1 10.90.1.0/24
  cw_start n1
  wait_for 10 view_has n1 '.revision > 0'
  etcdctl --endpoints="$EP" put "/moat/$CL/members/n9/10.90.9.5" "$(member_json b)" >/dev/null
  wait_for 5 view_has n1 '.members | map(select(.node == "n9" and .address == "10.90.9.5" and .name == "b")) | length == 1'
  etcdctl --endpoints="$EP" del "/moat/$CL/members/n9/10.90.9.5" >/dev/null
  wait_for 5 view_has n1 '.members == []'
  assert_contains "$(cat "$T/w-n1.log")" "DELETE /moat/$CL/members/n9/10.90.9.5"
}

@test "etcd: the member the watcher talks to killed: it resyncs on another and keeps watching" {
  cw_conf n1 10.90.1.0/24
  cw_start n1
  wait_for 10 view_has n1 '.revision > 0'
  # The first endpoint is the one it talks to.
  "$BATS_TEST_DIRNAME/../hack/etcd-cluster" kill "$CE_PFX" 1
  etcdctl --endpoints="$(member 2)" put "/moat/$CL/members/n9/10.90.9.6" "$(member_json c)" >/dev/null
  wait_for 10 view_has n1 '.members | map(.address) == ["10.90.9.6"]'
  assert_contains "$(cat "$T/w-n1.log")" "resync from $(member 2)"
  # Its lease is kept alive through the others: the node key stays past
  # the TTL.
  cw_conf n2 10.90.2.0/24
  cw_start n2 --ttl 3
  wait_for 10 has_key "/moat/$CL/nodes/n2"
  sleep 4.5 # longer than n2's TTL: the condition is that nothing changes
  has_key "/moat/$CL/nodes/n2" || fail "n2's lease expired with a member down"
}

@test "etcd: all members down: the view stays as it was; etcd back: the watcher converges" {
  cw_conf n1 10.90.1.0/24
  cw_start n1
  etcdctl --endpoints="$EP" put "/moat/$CL/members/n9/10.90.9.7" "$(member_json d)" >/dev/null
  wait_for 10 view_has n1 '.members | map(.address) == ["10.90.9.7"]'
  "$BATS_TEST_DIRNAME/../hack/etcd-cluster" kill "$CE_PFX" all
  wait_for 10 log_has n1 "every endpoint failed"
  view_has n1 '.members | map(.address) == ["10.90.9.7"]' || fail "the view changed with etcd down"
  alive "$W_PID" || fail "the watcher ended with etcd down"
  "$BATS_TEST_DIRNAME/../hack/etcd-cluster" start "$CE_PFX" >/dev/null
  etcdctl --endpoints="$EP" put "/moat/$CL/members/n9/10.90.9.8" "$(member_json e)" >/dev/null
  wait_for 15 view_has n1 '(.members | map(.address) | sort) == ["10.90.9.7", "10.90.9.8"]'
  wait_for 5 has_key "/moat/$CL/nodes/n1"
}
