#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2154 # jq programs in single quotes; SUBNET6_<node> are set by printf -v (cluster_node6)
# Cluster mode over IPv6 (docs/cluster.md, "IPv6 between nodes"; issues 17
# and 18): dual-stack nodes simulated as in bats/cluster.bats (a network
# namespace each on an underlay bridge, bats/cluster.bash), views built from
# each node's `moatctl cluster members` and applied with `moatctl cluster
# apply`. Each node routes another's subnet6 via the link-local address its
# MAC gives; real IPv6 TCP and UDP decide every check.
#
# It makes namespaces and routes and sets forwarding in them: make test
# runs it in hack/sandbox's private namespaces (the marker).
# moat-bats: sandbox

load helpers
load cluster

setup() {
  setup_moat_net
  cluster_setup
}

teardown() {
  cluster_teardown
  teardown_moat_net
}

# The number of elements of NODE's set SET.
set_size() { # NODE SET
  node_run "$1" nft -j list set inet moat "$2" | jq '[.nftables[].set? | select(.) | .elem[]?] | length'
}

@test "cluster-ipv6: a shared label across two dual-stack nodes opens both ways over IPv6 (tcp, udp); another label is refused; the route is moat's, via the node's link-local address" {
  local port ll2
  port=$(random_port)
  cluster_node6 n1 1
  cluster_node6 n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  node_add n2 c "$(with_labels app=db)"
  [[ -n $(cip6 a) && -n $(cip6 b) ]] || fail "no IPv6 address: a $(cip6 a), b $(cip6 b)"
  c_listen6 a "$port"
  c_listen6 b "$port"
  c_listen6 c "$port"
  # Before any view: nothing crosses.
  run c_tcp6 a b "$port"
  [[ $output == unreachable || $output == timeout ]] || fail "a -> b over IPv6 before the view (no route yet): $output"
  # Members carry their IPv6 addresses; the view their nodes' subnet6.
  run -0 node_ctl n2 cluster members "$CL"
  assert_jq "$output" '[.[] | select(.container == $c) | .address6] == [$a]' --arg c "$PFX-b" --arg a "$(cip6 b)"
  cluster_sync
  ll2=$(link_local_of "${PFX}n2" ul0)
  run -0 ip -n "${PFX}n1" -6 route show "$SUBNET6_n2"
  assert_contains "$output" "via $ll2 dev ul0 proto 195" "n1's route to n2's subnet6"
  run -0 c_tcp6 a b "$port"
  run -0 c_tcp6 b a "$port"
  run -0 c_udp6 a b "$port"
  run -0 c_udp6 b a "$port"
  run c_tcp6 a c "$port"
  assert_eq "$output" refused "a -> c over IPv6 (app=db)"
  run c_tcp6 c a "$port"
  assert_eq "$output" refused "c -> a over IPv6 (app=db)"
  # IPv4 between the same containers is as it was.
  c_listen b "$port"
  run -0 c_tcp a b "$port"
  # The twins of the remote member's identity, and check agrees.
  run -0 node_run n1 nft list map inet moat src_ident6
  assert_contains "$output" "$(cip6 b)"
  run node_ctl n1 check
  [[ $status -eq 0 ]] || fail "check: $output"
  run -0 node_ctl n1 explain -6 "$PFX-a" "$PFX-b" "tcp/$port"
  assert_contains "$output" "allowed"
  run -0 node_ctl n1 explain "$PFX-b" "$(cip6 a)" "tcp/$port"
  assert_contains "$output" "allowed"
  assert_contains "$output" "node n2, from the cluster view"
  run -1 node_ctl n1 explain -6 "$PFX-c" "$PFX-a" "tcp/$port"
  run -0 node_ctl n1 --json show "$PFX-b"
  assert_jq "$output" '.containers[0].address6 == $a and .containers[0].node == "n2"' --arg a "$(cip6 b)"
}

@test "cluster-ipv6: depends and expose across nodes over IPv6 need both sides' consent" {
  local port
  port=$(random_port)
  cluster_node6 n1 1
  cluster_node6 n2 2
  node_add n1 api "$(with_labels app=api)" "$(with_annotations '{"io.moat.depends": "app=db"}')"
  node_add n1 other "$(with_labels app=other)" "$(with_annotations '{"io.moat.depends": "app=db"}')"
  node_add n2 db "$(with_labels app=db)" "$(with_annotations '{"io.moat.expose": "app=api"}')"
  node_add n2 db2 "$(with_labels app=db)" "$(with_annotations '{"io.moat.expose": "app=nobody"}')"
  cluster_sync
  c_listen6 db "$port"
  c_listen6 db2 "$port"
  c_listen6 api "$port"
  run -0 c_tcp6 api db "$port"
  run -0 c_udp6 api db "$port"
  run c_tcp6 api db2 "$port"
  assert_eq "$output" refused "api -> db2 over IPv6 (db2 exposes to app=nobody)"
  run c_tcp6 other db "$port"
  assert_eq "$output" refused "other -> db over IPv6 (db exposes to app=api)"
  run c_tcp6 db api "$port"
  assert_eq "$output" refused "db -> api over IPv6"
}

@test "cluster-ipv6: spoofed IPv6 sources on the underlay never reach a container; with the IPv6 node sets flushed they do" {
  local port s3 s0 s2o ll1
  port=$(random_port)
  cluster_node6 n1 1
  cluster_node6 n2 2
  cluster_node6 n3 3
  # w lets in all of fc00::/7 on udp: only the node rules stand between a
  # spoofed source and it.
  node_add n1 w "$(with_labels app=web)" "$(with_annotations "{\"io.moat.ingress\": \"fc00::/7 udp/$port\"}")"
  node_add n2 b "$(with_labels app=web)"
  cluster_sync
  c_listen6 w "$port"
  capture6_start "${PFX}w"
  s3=${SUBNET6_n3%::/64}::9  # n3's subnet6, claimed by n2
  s0=fd00:dead:beef:1::9     # no node's subnet6, sent by n2
  s2o=${SUBNET6_n2%::/64}::8 # n2's subnet6, claimed by a host on the underlay that is no node
  spoof_udp6 "${PFX}n2" "$s3" "$(cip6 w)" "$port" spoof6-y
  spoof_udp6 "${PFX}n2" "$s0" "$(cip6 w)" "$port" spoof6-x
  cluster_outside 9
  wait_for 10 link_local_ready "${PFX}o" ul0
  ll1=$(link_local_of "${PFX}n1" ul0)
  ip -n "${PFX}o" -6 route add "$SUBNET6_n1" via "$ll1" dev ul0
  spoof_udp6 "${PFX}o" "$s2o" "$(cip6 w)" "$port" spoof6-o
  # A real member's datagram, sent after the spoofs, arrives.
  run -0 c_udp6 b w "$port"
  wait_for 5 eval "(( \$(captured6 ${PFX}w $(cip6 b)) >= 1 ))"
  assert_eq "$(captured6 "${PFX}w" "$s3")" 0 "packets from n2 claiming n3's subnet6"
  assert_eq "$(captured6 "${PFX}w" "$s0")" 0 "packets from n2 with a source of no node"
  assert_eq "$(captured6 "${PFX}w" "$s2o")" 0 "packets from a non-node claiming n2's subnet6"
  assert_eq "$(received spoof6-y)$(received spoof6-x)$(received spoof6-o)" 000 "spoofed datagrams served"
  # Without the IPv6 node sets the same spoofs get in: those rules, not
  # routing, stopped them.
  node_run n1 nft flush set inet moat node_routes6
  node_run n1 nft flush set inet moat node_nets6
  node_run n1 nft flush set inet moat node_links6
  spoof_udp6 "${PFX}n2" "$s0" "$(cip6 w)" "$port" spoof6-x2
  spoof_udp6 "${PFX}o" "$s2o" "$(cip6 w)" "$port" spoof6-o2
  wait_for 5 eval "(( \$(captured6 ${PFX}w $s0) >= 1 && \$(captured6 ${PFX}w $s2o) >= 1 ))"
  # check names the missing elements; restore puts them back.
  run node_ctl n1 check
  [[ $status -ne 0 ]] || fail "check after the flush: $output"
  assert_contains "$output" "node_"
  run -0 node_ctl n1 restore
  run -0 node_ctl n1 check
  assert_eq "$(set_size n1 node_nets6)" 2 "n1's node_nets6 after restore"
  spoof_udp6 "${PFX}o" "$s2o" "$(cip6 w)" "$port" spoof6-o3
  assert_eq "$(received spoof6-o3)" 0 "the spoof after restore"
}

@test "cluster-ipv6: a node the view drops loses its IPv6 route and node elements, its members their IPv6 elements" {
  local port view
  port=$(random_port)
  cluster_node6 n1 1
  cluster_node6 n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  cluster_sync
  c_listen6 b "$port"
  run -0 c_tcp6 a b "$port"
  assert_eq "$(set_size n1 node_nets6)" 1 "n1's node_nets6"
  assert_eq "$(set_size n1 node_links6)" 1 "n1's node_links6"
  view=$(cluster_view n1 | jq -c '.nodes |= map(select(.node == "n1"))')
  run -0 cluster_apply n1 "$view"
  run -0 ip -n "${PFX}n1" -6 route show proto 195
  assert_eq "$output" "" "n1's IPv6 routes of moat"
  for set in node_nets6 node_routes6 node_links6; do
    assert_eq "$(set_size n1 $set)" 0 "n1's $set"
  done
  run -0 node_run n1 nft list table inet moat
  assert_not_contains "$output" "$(cip6 b)" "n1's tables"
  run c_tcp6 a b "$port"
  [[ $output == unreachable || $output == timeout ]] || fail "a -> b over IPv6 with n2 gone: $output"
  run -0 node_ctl n1 check
}

@test "cluster-ipv6: overlapping subnet6s are refused, a member outside its node's subnet6 joins nowhere, one of a node without subnet6 joins by IPv4, an IPv6-only network cannot join a cluster" {
  local view port
  cluster_node6 n1 1
  cluster_node6 n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  # n3 claims n2's subnet6.
  view=$(cluster_view | jq -c '.nodes += [(.nodes[] | select(.node == "n2") | .node = "n3" | .subnet = "10.255.3.0/24")]')
  run -2 cluster_apply n1 "$view"
  assert_contains "$output" "view: nodes \"n2\" and \"n3\": their subnet6s overlap"
  # n2 claims its member at a's IPv6 address: b joins nowhere.
  view=$(cluster_view | jq -c --arg b "$PFX-b" --arg ip "$(cip6 a)" '(.members[] | select(.container == $b) | .address6) = $ip')
  run -0 cluster_apply n1 "$view"
  run -0 node_ctl n1 ls
  assert_not_contains "$output" "$PFX-b" "n1's ls"
  # n2's subnet6 overlapping n1's own network's (n1 not in the view).
  view=$(cluster_view | jq -c --arg s "$SUBNET6_n1" '.nodes |= map(select(.node == "n2") | .subnet6 = $s)')
  run -2 cluster_apply n1 "$view"
  assert_contains "$output" "view: node \"n2\": its subnet6 overlaps network \"$CNET\"'s here"
  # n2 without subnet6 (an older watcher), its members with address6: they
  # join by IPv4 alone.
  view=$(cluster_view | jq -c '(.nodes[] | select(.node == "n2") | .subnet6) = null')
  run -0 cluster_apply n1 "$view"
  run -0 cat "$T/run-n1/$CNET/remote/$PFX-b@n2.json"
  assert_jq "$output" '.address == ($a + "/32") and .address6 == null' --arg a "$(cip b)"
  run -0 cluster_apply n2
  port=$(random_port)
  c_listen b "$port"
  run -0 c_tcp a b "$port"
  run -0 node_ctl n1 check
  # IPv6-only: refused at ADD in one line naming cluster.
  jq -c 'del(.subnet)' "$T/conf-n1" >"$T/conf-of-v6only"
  new_netns v6only
  run node_cni n1 ADD v6only
  [[ $status -ne 0 ]] || fail "an IPv6-only cluster network's ADD: $output"
  assert_contains "$output" "cluster: needs \\\"subnet\\\""
  assert_contains "$output" "an IPv6-only network cannot join a cluster yet"
}

@test "cluster-ipv6: a node whose link-local address is not its MAC's EUI-64 is reached via the view's underlay6" {
  local port view
  port=$(random_port)
  cluster_node6 n1 1
  cluster_node6 n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  # n2's link-local as a stable-privacy one would be: not from its MAC.
  ip -n "${PFX}n2" addr flush dev ul0 scope link
  ip -n "${PFX}n2" addr add fe80::beef:1/64 dev ul0 nodad
  cluster_sync
  c_listen6 b "$port"
  run c_tcp6 a b "$port"
  [[ $output != ok ]] || fail "a -> b via n2's EUI-64 link-local, which it does not have: $output"
  view=$(cluster_view | jq -c '(.nodes[] | select(.node == "n2") | .underlay6) = "fe80::beef:1"')
  run -0 cluster_apply n1 "$view"
  run -0 ip -n "${PFX}n1" -6 route show "$SUBNET6_n2"
  assert_contains "$output" "via fe80::beef:1 dev ul0 proto 195" "n1's route to n2's subnet6"
  run -0 c_tcp6 a b "$port"
  run -0 node_ctl n1 check
}

@test "cluster-ipv6: an IPv4-only node keeps IPv4 tables and routes when the others are dual stack; IPv4 crosses" {
  local port
  port=$(random_port)
  cluster_node n1 1
  cluster_node6 n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  cluster_sync
  c_listen b "$port"
  c_listen a "$port"
  run -0 c_tcp a b "$port"
  run -0 c_tcp b a "$port"
  run node_run n1 nft list set inet moat node_nets6
  [[ $status -ne 0 ]] || fail "n1 (IPv4 only) has the IPv6 half: $output"
  run -0 ip -n "${PFX}n1" -6 route show proto 195
  assert_eq "$output" "" "n1's IPv6 routes of moat"
  run -0 node_run n1 cat "$T/run-n1/$CNET/remote/$PFX-b@n2.json"
  assert_jq "$output" '.address6 == null'
  run -0 node_ctl n1 check
  # n2 routes nothing IPv6 to n1 (no subnet6), and its check agrees.
  assert_eq "$(set_size n2 node_nets6)" 0 "n2's node_nets6"
  run -0 node_ctl n2 check
}

@test "cluster-ipv6: a peer grant naming a container of another node opens IPv6 too, on both nodes; check agrees" {
  local port
  port=$(random_port)
  cluster_node6 n1 1
  cluster_node6 n2 2
  node_add n1 a "$(with_labels app=x)"
  node_add n2 b "$(with_labels app=y)"
  cluster_sync
  c_listen6 b "$port"
  run c_tcp6 a b "$port"
  assert_eq "$output" refused "a -> b over IPv6 before the grants"
  run -0 node_ctl n1 grant "$PFX-a" peer "$PFX-b" --ttl 1h
  run -0 node_ctl n2 grant "$PFX-a" peer "$PFX-b" --ttl 1h
  run -0 node_run n1 nft list set inet moat grant_peer6
  assert_contains "$output" "$(cip6 a) . $(cip6 b)" "n1's grant_peer6"
  run -0 c_tcp6 a b "$port"
  run -0 c_udp6 a b "$port"
  run -0 node_ctl n1 check
  run -0 node_ctl n2 check
  run -0 node_ctl n2 revoke "$PFX-a" peer "$PFX-b"
  run c_tcp6 a b "$port"
  assert_eq "$output" refused "a -> b over IPv6 revoked on n2"
}

@test "cluster-ipv6: with no local container left, restore makes the IPv6 half the other nodes' dual-stack members and subnet6 need" {
  cluster_node6 n1 1
  cluster_node6 n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  cluster_sync
  run -0 node_cni n1 DEL a
  [[ -f $T/run-n1/$CNET/remote/$PFX-b@n2.json ]] || fail "b's record went with n1's last container"
  node_run n1 nft delete table inet moat
  node_run n1 nft delete table bridge moat
  run node_ctl n1 check
  [[ $status -ne 0 ]] || fail "check with the tables gone: $output"
  run -0 node_ctl n1 restore
  run -0 node_ctl n1 check
  assert_eq "$(set_size n1 node_nets6)" 1 "n1's node_nets6 after restore"
  run -0 node_run n1 nft list map inet moat src_ident6
  assert_contains "$output" "$(cip6 b)" "b's twin after restore"
}
