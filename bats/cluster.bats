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
