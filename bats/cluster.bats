#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# Cluster mode, part 1 (docs/cluster.md; issue 18): two or three nodes
# simulated on this machine (bats/cluster.bash: a network namespace each,
# with its own run directory, bridge and tables, joined by an underlay
# bridge), containers attached by CNI ADD on each node, views built by
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
