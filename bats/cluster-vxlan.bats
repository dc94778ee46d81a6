#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# Cluster mode across a routed hop (docs/cluster.md, "Routing between
# nodes"; issue 18): nodes on two underlay bridges joined by a router
# namespace (bats/cluster.bash: cluster_router, cluster_far_node) meet
# through kernel VXLAN devices that moat_cluster_sync makes and removes.
# Views built by hand and applied with `moatctl cluster apply`; real TCP,
# UDP, forged VXLAN datagrams and a full-size HTTP transfer decide.
#
# It makes namespaces, routes and VXLAN devices and sets ip_forward in
# them: make test runs it in hack/sandbox's private namespaces (the marker).
# moat-bats: sandbox

load helpers
load cluster

setup() {
  setup_moat_net
  cluster_setup
  cluster_router
}

teardown() {
  cluster_teardown
  teardown_moat_net
}

# vx_dev NODE PEER: the tunnel device NODE made toward PEER (its nodes file).
vx_dev() {
  jq -r --arg p "$2" '.[] | select(.node == $p) | .ifname' "$T/run-$1/.cluster/nodes/$CL.json"
}
vx_of() { # NODE PEER FIELD
  jq -r --arg p "$2" --arg f "$3" '.[] | select(.node == $p) | .[$f]' "$T/run-$1/.cluster/nodes/$CL.json"
}
vx_links() { ip -n "$PFX$1" -d -j link show type vxlan | jq -r '.[].ifname' | sort; }

@test "cluster-vxlan: nodes behind a router meet by VXLAN: a shared label opens both ways (tcp, udp), another label is refused" {
  local port d1 d2
  port=$(random_port)
  cluster_node n1 1
  cluster_far_node n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  node_add n2 c "$(with_labels app=db)"
  c_listen a "$port"
  c_listen b "$port"
  c_listen c "$port"
  cluster_sync
  d1=$(vx_dev n1 n2)
  d2=$(vx_dev n2 n1)
  assert_match "$d1" '^moat-vx[0-9a-f]{8}$' "n1's device toward n2"
  # One device each way, the pair's VNI on both ends, remote the other's
  # underlay, from its own.
  run -0 ip -n "${PFX}n1" -d -j link show "$d1"
  assert_jq "$output" '.[0].linkinfo.info_kind == "vxlan" and .[0].linkinfo.info_data.id == ($v | tonumber)
    and .[0].linkinfo.info_data.remote == $r and .[0].linkinfo.info_data.local == $l
    and .[0].linkinfo.info_data.port == 4789' \
    --arg v "$(vx_of n1 n2 vni)" --arg r "$UL2.12" --arg l "$UL.11"
  assert_eq "$(vx_of n2 n1 vni)" "$(vx_of n1 n2 vni)" "the pair's VNI on both ends"
  assert_eq "$(ip -n "${PFX}n2" -j link show "$d2" | jq -r '.[0].address')" "$(vx_of n1 n2 mac)" \
    "n2's device MAC is what n1 expects"
  run -0 ip -n "${PFX}n1" route show "$(eval echo "\$SUBNET_n2")"
  assert_contains "$output" "via $UL2.12 dev $d1 proto 195 onlink"
  run -0 c_tcp a b "$port"
  run -0 c_tcp b a "$port"
  run -0 c_udp a b "$port"
  run -0 c_udp b a "$port"
  run c_tcp a c "$port"
  assert_eq "$output" refused "a -> c (app=db)"
  run c_tcp c a "$port"
  assert_eq "$output" refused "c -> a (app=db)"
  run -0 node_ctl n1 check
}

@test "cluster-vxlan: a view applied twice changes nothing; a node the view drops loses its device and route; an empty view leaves no tunnel" {
  local port view before after d1
  port=$(random_port)
  cluster_node n1 1
  cluster_far_node n2 2
  cluster_far_node n3 3
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  node_add n3 c "$(with_labels app=web)"
  c_listen b "$port"
  c_listen c "$port"
  view=$(cluster_view)
  run -0 cluster_apply n1 "$view"
  run -0 cluster_apply n2 "$view"
  run -0 cluster_apply n3 "$view"
  # n2 and n3 share a link: a route between them, no tunnel.
  assert_eq "$(vx_links n2)" "$(vx_dev n2 n1)" "n2's tunnels"
  assert_eq "$(vx_of n2 n3 ifname)" ul0 "n2 reaches n3 on its link"
  assert_eq "$(vx_links n1 | wc -l)" 2 "n1's tunnels"
  run -0 c_tcp a b "$port"
  run -0 c_tcp a c "$port"
  before=$(ip -n "${PFX}n1" -d link show type vxlan; ip -n "${PFX}n1" route; ip -n "${PFX}n1" neigh show nud permanent; node_run n1 nft -s list table inet moat)
  run -0 cluster_apply n1 "$view"
  after=$(ip -n "${PFX}n1" -d link show type vxlan; ip -n "${PFX}n1" route; ip -n "${PFX}n1" neigh show nud permanent; node_run n1 nft -s list table inet moat)
  assert_eq "$after" "$before" "n1's tunnels, routes, neighbours and tables after the second apply"
  d1=$(vx_dev n1 n2)
  run -0 cluster_apply n1 "$(jq -c '.nodes |= map(select(.node != "n2")) | .members |= map(select(.node != "n2"))' <<<"$view")"
  run ip -n "${PFX}n1" link show "$d1"
  [[ $status -ne 0 ]] || fail "n1 still has $d1: $output"
  run -0 ip -n "${PFX}n1" route
  assert_not_contains "$output" "$(eval echo "\$SUBNET_n2" | sed 's|/24||')" "n1's routes"
  run c_tcp a b "$port"
  [[ $output != ok ]] || fail "a -> b with n2 gone from the view"
  run -0 c_tcp a c "$port"
  run -0 node_ctl n1 check
  run -0 cluster_apply n1 "$(jq -c '.nodes = [] | .members = []' <<<"$view")"
  assert_eq "$(vx_links n1)" "" "n1's tunnels after an empty view"
  run -0 ip -n "${PFX}n1" route
  assert_not_contains "$output" "proto 195" "n1's routes after an empty view"
}
