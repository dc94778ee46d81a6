#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# Cluster mode, part 1 (docs/cluster.md; issue 18): two or three nodes
# simulated on this machine (bats/cluster.bash: a network namespace each,
# with its own run directory, bridge and tables, joined by an underlay
# bridge), containers attached by CNI ADD on each node (one by moat-hook's
# hook-driven attach), views built by
# hand from each node's `moatctl cluster members` (what the watcher will
# do) and applied with `moatctl cluster apply`. Real TCP and UDP decide
# every check.
#
# It makes namespaces and routes and sets ip_forward in them: make test
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

@test "cluster: a shared label across two nodes opens both ways (tcp, udp); another label is refused" {
  local port
  port=$(random_port)
  cluster_node n1 1
  cluster_node n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  node_add n2 c "$(with_labels app=db)"
  c_listen a "$port"
  c_listen b "$port"
  c_listen c "$port"
  # Before any view: nothing crosses.
  run c_tcp a b "$port"
  assert_eq "$output" unreachable "a -> b before the view (no route yet)"
  cluster_sync
  run -0 c_tcp a b "$port"
  run -0 c_tcp b a "$port"
  run -0 c_udp a b "$port"
  run -0 c_udp b a "$port"
  run c_tcp a c "$port"
  assert_eq "$output" refused "a -> c (app=db)"
  run c_tcp c a "$port"
  assert_eq "$output" refused "c -> a (app=db)"
}

@test "cluster: ls shows another node's containers with their node, explain says where it knows them from, check calls nothing stale, gc keeps them" {
  local port
  port=$(random_port)
  cluster_node n1 1
  cluster_node n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  CLUSTER_REVISION=7 cluster_sync
  run -0 node_ctl n1 ls
  assert_match "$(grep -F "$PFX-b " <<<"$output")" "$CNET +$(cip b) +app=web .*node n2\$"
  run -0 node_ctl n1 --json show "$PFX-b"
  assert_jq "$output" '.containers[0].node == "n2"'
  run -0 node_ctl n1 show "$PFX-b"
  assert_contains "$output" "network:   $CNET (on node n2)"
  assert_contains "$output" "address:   $(cip b)"
  run -0 node_ctl n1 show "$(cip b)"
  assert_contains "$output" "container: $PFX-b"
  run -0 node_ctl n1 explain "$PFX-a" "$PFX-b" "tcp/$port"
  assert_contains "$output" "allowed $PFX-a -> $PFX-b tcp/$port: shared label app=web"
  assert_match "$output" "$PFX-b \\(node n2, from the cluster view at revision 7, read [0-9]+ s ago\\)"
  run -0 node_ctl n1 explain "$PFX-b" "$PFX-a" "tcp/$port"
  assert_contains "$output" "allowed $PFX-b -> $PFX-a tcp/$port: shared label app=web"
  run node_ctl n1 check
  [[ $status -eq 0 ]] || fail "check: $output"
  run -0 node_ctl n1 gc
  run -0 node_ctl n1 ls
  assert_contains "$output" "$PFX-b" "ls after gc"
  c_listen b "$port"
  run -0 c_tcp a b "$port"
  # restore makes the node sets and the remote identities again.
  run -0 node_ctl n1 restore
  run -0 node_ctl n1 check
  c_listen a "$port"
  run -0 c_tcp a b "$port"
  run -0 c_tcp b a "$port"
}

@test "cluster: depends and expose across nodes need both sides' consent" {
  local port
  port=$(random_port)
  cluster_node n1 1
  cluster_node n2 2
  node_add n1 api "$(with_labels app=api)" "$(with_annotations '{"io.moat.depends": "app=db"}')"
  node_add n1 other "$(with_labels app=other)" "$(with_annotations '{"io.moat.depends": "app=db"}')"
  node_add n2 db "$(with_labels app=db)" "$(with_annotations '{"io.moat.expose": "app=api"}')"
  node_add n2 db2 "$(with_labels app=db)" "$(with_annotations '{"io.moat.expose": "app=nobody"}')"
  cluster_sync
  c_listen db "$port"
  c_listen db2 "$port"
  c_listen api "$port"
  run -0 c_tcp api db "$port"
  run -0 c_udp api db "$port"
  # db2 does not consent; other depends on db but db exposes to api only.
  run c_tcp api db2 "$port"
  assert_eq "$output" refused "api -> db2 (db2 exposes to app=nobody)"
  run c_tcp other db "$port"
  assert_eq "$output" refused "other -> db (db exposes to app=api)"
  # db does not depend on api: the other way is closed.
  run c_tcp db api "$port"
  assert_eq "$output" refused "db -> api"
  run -1 node_ctl n2 explain "$PFX-db" "$PFX-api" "tcp/$port"
  assert_contains "$output" "node n1, from the cluster view"
}

@test "cluster: an ingress CIDR lets a client on the underlay in, and nobody else" {
  local port
  port=$(random_port)
  cluster_node n1 1
  cluster_node n2 2
  cluster_outside 9
  node_add n1 w "$(with_labels app=web)" "$(with_annotations "{\"io.moat.ingress\": \"$OUT_IP/32 tcp/$port\"}")"
  node_add n1 v "$(with_labels app=web)"
  cluster_sync
  c_listen w "$port"
  c_listen v "$port"
  run -0 ns_tcp_connect "${PFX}o" "$(cip w)" "$port"
  run ns_tcp_connect "${PFX}o" "$(cip v)" "$port"
  assert_eq "$output" refused "outside -> v (no ingress)"
  run ns_udp_connect "${PFX}o" "$(cip w)" "$port"
  assert_eq "$output" unreachable "outside -> w udp (ingress names tcp)"
}

@test "cluster: a peer grant may name a container of another node, on both nodes, and expires" {
  local port
  port=$(random_port)
  cluster_node n1 1
  cluster_node n2 2
  node_add n1 a "$(with_labels app=x)"
  node_add n2 b "$(with_labels app=y)"
  cluster_sync
  c_listen b "$port"
  c_listen a "$port"
  run c_tcp a b "$port"
  assert_eq "$output" refused "a -> b before the grants"
  # Each node decides for its own end: both grant.
  run -0 node_ctl n1 grant "$PFX-a" peer "$PFX-b" --ttl 1h
  assert_match "$output" "granted $PFX-a: peer $PFX-b \\(expires in [0-9]+ s\\)"
  run c_tcp a b "$port"
  assert_eq "$output" refused "a -> b granted on n1 only"
  run -0 node_ctl n2 grant "$PFX-a" peer "$PFX-b" --ttl 1h
  run -0 c_tcp a b "$port"
  run -0 c_udp a b "$port"
  run c_tcp b a "$port"
  assert_eq "$output" refused "b -> a (the grant is one way)"
  run -0 node_ctl n1 explain "$PFX-a" "$PFX-b" "tcp/$port"
  assert_match "$output" "grant \"peer $PFX-b\" \\(expires in [0-9]+ s\\)"
  run -0 node_ctl n2 check
  # A sync keeps the grant of a member whose address and policy stay.
  cluster_sync
  run -0 c_tcp a b "$port"
  run -0 node_ctl n2 revoke "$PFX-a" peer "$PFX-b"
  run c_tcp a b "$port"
  assert_eq "$output" refused "a -> b revoked on n2"
  # With a TTL: the kernel takes it away by itself.
  run -0 node_ctl n2 grant "$PFX-a" peer "$PFX-b" --ttl 3s
  run -0 c_tcp a b "$port"
  wait_for 10 eval "[[ \$(c_tcp a b $port) == refused ]]"
}

@test "cluster: a member the view drops loses access at once, its open flows too" {
  local port t view
  load flows
  flows_install
  port=$(random_port)
  cluster_node n1 1
  cluster_node n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  node_add n2 k "$(with_labels app=web)"
  cluster_sync
  flow_serve "${PFX}b" tcp 0.0.0.0 "$port"
  flow_serve "${PFX}k" tcp 0.0.0.0 "$port"
  flow_probe "${PFX}a" tcp "$(cip b)" "$port" 12 tcp
  flow_probe "${PFX}a" tcp "$(cip k)" "$port" 12 kept
  flows_flowing tcp kept
  # b leaves the view (its node dropped it: a DEL, a lease gone).
  view=$(cluster_view | jq -c --arg c "$PFX-b" '.members |= map(select(.container != $c))')
  t=$(now)
  run -0 cluster_apply n1 "$view"
  flow_cut tcp "$t"
  flow_lives kept "$t"
  [[ ! -e $T/run-n1/$CNET/remote/$PFX-b@n2.json ]] || fail "b's record stayed"
  run -1 node_ctl n1 show "$PFX-b"
  run c_tcp a b "$port"
  assert_eq "$output" refused "a -> b, new connection"
}

@test "cluster: spoofed sources from the underlay are dropped before they reach a container" {
  local port s1 s3 own
  port=$(random_port)
  cluster_node n1 1
  cluster_node n2 2
  cluster_node n3 3
  # w lets in all of 10.0.0.0/8 on udp: only the node rules stand between
  # a spoofed source and it.
  node_add n1 w "$(with_labels app=web)" "$(with_annotations "{\"io.moat.ingress\": \"10.0.0.0/8 udp/$port\"}")"
  node_add n2 b "$(with_labels app=web)"
  cluster_sync
  c_listen w "$port"
  capture_start "${PFX}w"
  s3=SUBNET_n3
  s3=${!s3%.0/24}.9 # n3's subnet, claimed by n2
  pick_free_24
  s1=10.$PICK_A.$PICK_B.9 # no node's subnet
  own=$UL.12            # n2's own underlay address: its host may send
  spoof_udp n2 "$s3" "$(cip w)" "$port" spoof-y
  spoof_udp n2 "$s1" "$(cip w)" "$port" spoof-x
  spoof_udp n2 "$own" "$(cip w)" "$port" own
  run -0 c_udp b w "$port"
  wait_for 5 eval "(( \$(captured ${PFX}w $own) >= 1 ))"
  assert_eq "$(captured "${PFX}w" "$s3")" 0 "packets from n2 claiming n3's subnet"
  assert_eq "$(captured "${PFX}w" "$s1")" 0 "packets from n2 with a source of no node"
  assert_eq "$(received spoof-y)$(received spoof-x)" 00 "spoofed datagrams served"
  assert_eq "$(received own)" 1 "n2's own datagram"
  # Without the node sets (a view without nodes) the same spoof gets in:
  # the rules above, not routing, stopped it.
  node_run n1 nft flush set inet moat node_routes
  node_run n1 nft flush set inet moat node_nets
  node_run n1 nft flush set inet moat node_links
  spoof_udp n2 "$s1" "$(cip w)" "$port" spoof-x2
  wait_for 5 eval "(( \$(captured ${PFX}w $s1) >= 1 ))"
}

@test "cluster: applying one view twice changes nothing" {
  local before after view
  cluster_node n1 1
  cluster_node n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  node_add n2 c "$(with_labels app=db)"
  view=$(cluster_view)
  run -0 cluster_apply n1 "$view"
  before=$(node_run n1 nft -s list table inet moat; ip -n "${PFX}n1" route; find "$T/run-n1/$CNET" -type f | sort | xargs cat)
  run -0 cluster_apply n1 "$view"
  assert_contains "$output" "synced (2 nodes, 3 members in the view)"
  after=$(node_run n1 nft -s list table inet moat; ip -n "${PFX}n1" route; find "$T/run-n1/$CNET" -type f | sort | xargs cat)
  assert_eq "$after" "$before" "n1's tables, routes and state after the second apply"
}

@test "cluster: a host with no cluster network keeps its single-host tables; a view of another cluster changes nothing" {
  local before after
  cluster_node n1 1 'del(.cluster)'
  cluster_node n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  assert_eq "$(node_run n1 nft -j list set inet moat node_nets | jq '[.nftables[].set? | select(.) | .elem[]?] | length')" 0
  before=$(node_run n1 nft -s list table inet moat; ip -n "${PFX}n1" route)
  run -0 cluster_apply n1 "$(cluster_view n2)"
  after=$(node_run n1 nft -s list table inet moat; ip -n "${PFX}n1" route)
  assert_eq "$after" "$before" "n1 after a view of a cluster it has no network of"
  [[ ! -d $T/run-n1/$CNET/remote ]] || fail "remote records on n1"
  run -0 node_ctl n1 cluster members "$CL"
  assert_eq "$output" "[]"
}

@test "cluster: bad views and keys are refused naming the field" {
  cluster_node n1 1
  node_add n1 a "$(with_labels app=web)"
  run -2 node_ctl n1 cluster apply - <<<'{"cluster": "x/y"}'
  assert_contains "$output" "view: cluster:"
  run -2 node_ctl n1 cluster apply - <<<"{\"cluster\": \"$CL\", \"nodes\": [{\"node\": \"n9\", \"underlay\": \"1.2.3\"}]}"
  assert_contains "$output" "view: nodes[0].underlay: want an IPv4 address"
  run -2 node_ctl n1 cluster apply - <<<"{\"cluster\": \"$CL\", \"nodes\": [{\"node\": \"n9\", \"underlay\": \"192.0.2.99\", \"subnet\": \"10.99.0.0/24\"}]}"
  assert_contains "$output" "view: node \"n9\": route to 192.0.2.99"
  run -2 node_ctl n1 cluster apply - <<<"{\"cluster\": \"$CL\", \"members\": [{\"node\": \"n9\", \"network\": \"$CNET\", \"container\": \"c\", \"address\": \"10.99.0.5\"}]}"
  assert_contains "$output" "view: members[0].policy: want an object"
  run -2 node_ctl n1 cluster nonsense

}

@test "cluster: a member whose policy changes is judged by the new one; a node the view drops loses its route and node elements" {
  local port view
  port=$(random_port)
  cluster_node n1 1
  cluster_node n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  cluster_sync
  c_listen b "$port"
  run -0 c_tcp a b "$port"
  # n2 says b is app=db now (its policy changed there): n1 rejoins it.
  view=$(cluster_view | jq -c --arg c "$PFX-b" '(.members[] | select(.container == $c) | .policy.labels) |= {"app": "db", "@sys:network": .["@sys:network"]}')
  run -0 cluster_apply n1 "$view"
  run -0 cluster_apply n2 "$view"
  run c_tcp a b "$port"
  assert_eq "$output" refused "a -> b once b is app=db"
  run -0 cluster_apply n1
  run -0 cluster_apply n2
  run -0 c_tcp a b "$port"
  # n2 leaves n1's view altogether.
  view=$(cluster_view n1 | jq -c '.nodes |= map(select(.node == "n1"))')
  run -0 cluster_apply n1 "$view"
  run -0 ip -n "${PFX}n1" route
  assert_not_contains "$output" "via $UL.12" "n1's routes"
  assert_eq "$(node_run n1 nft -j list set inet moat node_links | jq '[.nftables[].set? | select(.) | .elem[]?] | length')" 0
  run c_tcp a b "$port"
  assert_eq "$output" unreachable "a -> b with n2 gone"
  run -0 node_ctl n1 check
}

@test "cluster: a node reached through a gateway gets a VXLAN device (bats/cluster-vxlan.bats); a MAC comes from the neighbour table when the view has none" {
  local view
  cluster_node n1 1
  cluster_node n2 2
  node_add n1 a "$(with_labels app=web)"
  ip -n "${PFX}n1" route add 192.0.2.0/24 via "$UL.12"
  view=$(cluster_view | jq -c '.nodes += [{node: "n7", underlay: "192.0.2.7", subnet: "10.255.7.0/24"}]')
  run -0 cluster_apply n1 "$view"
  run -0 ip -n "${PFX}n1" -d -j link show type vxlan
  assert_jq "$output" 'length == 1 and .[0].linkinfo.info_data.remote == "192.0.2.7"'
  run -0 ip -n "${PFX}n1" route show 10.255.7.0/24
  assert_contains "$output" "via 192.0.2.7 dev moat-vx"
  # Without "mac": the kernel's neighbour entry, once there is one.
  view=$(cluster_view | jq -c 'del(.nodes[].mac)')
  ip -n "${PFX}n1" neigh flush dev ul0
  run -2 cluster_apply n1 "$view"
  assert_contains "$output" "view: node \"n2\": no MAC known for underlay $UL.12 on \"ul0\""
  ip netns exec "${PFX}n1" ping -c1 -W1 "$UL.12" >/dev/null
  run -0 cluster_apply n1 "$view"
  assert_contains "$(node_run n1 nft list set inet moat node_links)" "$(ip -n "${PFX}n2" -j link show ul0 | jq -r '.[0].address')"
}

@test "cluster: the last local container's DEL keeps other nodes' members; a later container meets them through the identity files" {
  local port
  port=$(random_port)
  cluster_node n1 1
  cluster_node n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  cluster_sync
  run -0 node_cni n1 DEL a
  [[ -f $T/run-n1/$CNET/remote/$PFX-b@n2.json ]] || fail "b's record went with n1's last container"
  run -0 node_ctl n1 ls
  assert_contains "$output" "$PFX-b"
  node_add n1 a2 "$(with_labels app=web)"
  # Only n2 learns of a2; n1 knows b from before.
  run -0 cluster_apply n2
  c_listen b "$port"
  run -0 c_tcp a2 b "$port"
  run -0 node_ctl n1 check
}

@test "cluster: cluster.node defaults to the host name; cluster members prints this node's members as a view's" {
  cluster_node n1 1 'del(.cluster.node)'
  node_add n1 a "$(with_labels app=web)"
  run -0 node_ctl n1 cluster members "$CL"
  assert_jq "$output" 'length == 1 and .[0].node == $h and .[0].container == $c and .[0].network == $n
    and .[0].address == $a and .[0].name == $c and .[0].policy.labels.app == "web"' \
    --arg h "$(hostname)" --arg c "$PFX-a" --arg n "$CNET" --arg a "$(cip a)"
  run -0 node_ctl n1 cluster members "$CL" --node other
  assert_jq "$output" '.[0].node == "other"'
  run -2 node_ctl n1 cluster members "a/b"
  run -2 node_ctl n1 ls --node x
}

@test "cluster: a member outside its node's subnet, or of a node the view lacks, joins nowhere; overlapping nodes are refused" {
  local port view
  port=$(random_port)
  cluster_node n1 1
  cluster_node n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  node_add n2 c "$(with_labels app=web)"
  # n2 claims a member at a's address (n1's subnet), and c of a node n9.
  view=$(cluster_view | jq -c --arg b "$PFX-b" --arg c "$PFX-c" --arg ip "$(cip a)" \
    '(.members[] | select(.container == $b) | .address) = $ip
     | (.members[] | select(.container == $c) | .node) = "n9"')
  run -0 cluster_apply n1 "$view"
  run -0 node_ctl n1 ls
  assert_not_contains "$output" "$PFX-b" "n1's ls"
  assert_not_contains "$output" "$PFX-c" "n1's ls"
  run -0 node_ctl n1 check
  c_listen a "$port"
  run -0 ns_tcp_connect "${PFX}a" "$(cip a)" "$port"
  view=$(cluster_view | jq -c '.nodes += [(.nodes[] | select(.node == "n2") | .node = "n3")]')
  run -2 cluster_apply n1 "$view"
  assert_contains "$output" "view: nodes \"n2\" and \"n3\": their subnets overlap"
}

# hook_attach NODE NAME LABELS: container NAME attached on NODE by moat-hook
# at prestart (no CNI ADD): a process in a new namespace stands for it,
# the state names the cluster's network and labels by annotation, the
# network is found in the node's network directory. Its address goes to
# $T/result.NAME (for cip).
hook_attach() {
  local node=$1 name=$2 pid state rec
  mkdir -p "$T/nets-$node"
  cp "$T/conf-$node" "$T/nets-$node/50-cluster.conf"
  new_netns "$name"
  start_bg "$PFX$name" sleep 600
  pid=$(tail -n 1 "$T/pids")
  wait_for 5 eval "[[ \$(ip netns identify $pid) == $PFX$name ]]"
  state=$(jq -nc --arg id "$PFX-$name" --argjson pid "$pid" --arg n "$CNET" --arg l "$3" \
    '{ociVersion: "1.0.2", id: $id, status: "created", pid: $pid, bundle: "",
      annotations: {"io.moat.network": $n, "io.moat.labels": $l}}')
  printf '%s\n' "$state" >"$T/state.$name"
  run -0 node_run "$node" env MOAT_NETWORK_DIRS="$T/nets-$node" "$MOAT_BUILD/moat-hook" prestart <<<"$state"
  rec=$(echo "$T/run-$node/$CNET/$PFX-$name"@*.json)
  [[ -f $rec ]] || fail "no record of $name on $node"
  cp "$rec" "$T/record.$name"
  jq -c '{ips: [{address: .address}]}' "$rec" >"$T/result.$name"
  printf '%s %s\n' "$name" "$node" >>"$T/cluster-members"
}

@test "cluster: a container the OCI hook attached (no CNI ADD) reaches another node's by shared label; another label is refused; poststop withdraws it" {
  local port
  port=$(random_port)
  cluster_node n1 1
  cluster_node n2 2
  hook_attach n1 h app=web
  node_add n2 b "$(with_labels app=web)"
  node_add n2 c "$(with_labels app=db)"
  run -0 jq -e '.attachedBy == "hook"' "$T/record.h"
  c_listen h "$port"
  c_listen b "$port"
  c_listen c "$port"
  cluster_sync
  run -0 node_ctl n1 cluster members "$CL"
  assert_jq "$output" 'map(select(.container == $c)) | length == 1' --arg c "$PFX-h"
  run -0 c_tcp h b "$port"
  run -0 c_tcp b h "$port"
  run -0 c_udp h b "$port"
  run c_tcp h c "$port"
  assert_eq "$output" refused "h -> c (app=db)"
  run c_tcp c h "$port"
  assert_eq "$output" refused "c -> h (app=db)"
  run -0 node_ctl n2 check
  # Its poststop: gone from n1's members, and from n2 once synced.
  run -0 node_run n1 env MOAT_NETWORK_DIRS="$T/nets-n1" "$MOAT_BUILD/moat-hook" poststop <"$T/state.h"
  run -0 node_ctl n1 cluster members "$CL"
  assert_jq "$output" 'map(select(.container == $c)) | length == 0' --arg c "$PFX-h"
  cluster_sync
  run -0 node_ctl n2 ls --json
  assert_not_contains "$output" "$PFX-h"
  run c_tcp b h "$port"
  [[ $output != ok ]] || fail "b -> h after its poststop: $output"
  run -0 node_ctl n2 check
}

@test "cluster: 200 members of 5 labels join in one sync and leave in one; again after; check is clean each time and a local peer meets its label" {
  local port view none n
  port=$(random_port)
  cluster_node n1 1
  cluster_node n2 2
  node_add n1 a "$(with_labels app=s0)"
  node_add n2 b "$(with_labels app=s0)"
  c_listen b "$port"
  # b, plus 200 members of n2 that exist in the view only, app=s0..s4.
  view=$(cluster_view | jq -c --arg sub "$SUBNET_n2" '
    ($sub | split(".")[0:3] | join(".")) as $p
    | (.members[] | select(.node == "n2")) as $b
    | .members += [range(200) as $i | $b | .container = "x\($i)" | .name = "x\($i)"
                   | .address = "\($p).\($i + 20)" | .policy.labels.app = "s\($i % 5)"]')
  none=$(jq -c '.members |= map(select(.node == "n1"))' <<<"$view")
  run -0 cluster_apply n2
  for round in 1 2; do
    run -0 cluster_apply n1 "$view"
    run -0 node_ctl n1 check
    n=$(node_run n1 nft -j list map inet moat src_ident | jq '[.nftables[].map? | select(.) | .elem[]?] | length')
    assert_eq "$n" 202 "round $round: src_ident after the joins (a, b, 200)"
    # Each identity's set holds its label's members (a's: a, b and the 40
    # others of app=s0), as 202 joins one by one would leave it.
    n=$(node_run n1 nft -j list sets inet | jq -c '
      [.nftables[].set? | select(.) | select(.name | startswith("id_")) | (.elem // []) | length] | sort')
    assert_eq "$n" "[40,40,40,40,42]" "round $round: the identity sets' sizes"
    run c_tcp a b "$port"
    assert_eq "$output" ok "round $round: a -> b"
    run -0 cluster_apply n1 "$none"
    run -0 node_ctl n1 check
    n=$(node_run n1 nft -j list map inet moat src_ident | jq '[.nftables[].map? | select(.) | .elem[]?] | length')
    assert_eq "$n" 1 "round $round: src_ident after all left (a)"
    run -0 node_ctl n1 ls --json
    assert_not_contains "$output" '"x1"' "round $round: remote records after all left"
    run c_tcp a b "$port"
    [[ $output != ok ]] || fail "round $round: a -> b after b left the view"
  done
}

@test "cluster: a member that moves to another address leaves its old one (its grants with it) and joins at the new one; back again" {
  local port view moved old new
  port=$(random_port)
  cluster_node n1 1
  cluster_node n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  node_add n2 c "$(with_labels app=web)"
  cluster_sync
  c_listen b "$port"
  c_listen c "$port"
  run -0 c_tcp a b "$port"
  run -0 node_ctl n1 grant "$PFX-a" peer "$PFX-b" --ttl 1h
  old=$(cip b)
  new=${old%.*}.$(((${old##*.} + 100) % 250 + 2))
  # n2 says b is at another address now (and c moved too, to b's, which
  # its own move frees in the same sync).
  view=$(cluster_view)
  moved=$(jq -c --arg b "$PFX-b" --arg c "$PFX-c" --arg new "$new" --arg old "$old" '
    (.members[] | select(.container == $b) | .address) = $new
    | (.members[] | select(.container == $c) | .address) = $old' <<<"$view")
  run -0 cluster_apply n1 "$moved"
  run -0 node_ctl n1 check
  n=$(node_run n1 nft -j list map inet moat src_ident | jq -r '[.nftables[].map? | select(.) | .elem[]? | .[0]] | sort | join(" ")')
  assert_contains "$n" "$new" "n1's src_ident after the move"
  assert_eq "$(node_run n1 nft list set inet moat grant_peer | grep -c "$old")" 0 "the grant naming b's old address"
  run -0 node_ctl n1 ls --json
  assert_jq "$output" '[.containers[] | select(.id == $b) | .address] == [$new]' --arg b "$PFX-b" --arg new "$new"
  # Back as the containers really are. (a's grant naming b is not made
  # again when b returns to the address, as before this batch code;
  # moatctl restore does: revoked here.)
  run -0 node_ctl n1 revoke "$PFX-a" peer "$PFX-b"
  run -0 cluster_apply n1 "$view"
  run node_ctl n1 check
  [[ $status -eq 0 ]] || fail "check after moving back: $output"
  run -0 c_tcp a b "$port"
  run -0 c_tcp a c "$port"
}
