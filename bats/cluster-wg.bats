#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# Cluster mode over WireGuard (docs/cluster.md, "Routing between nodes";
# issue 18): the nodes of bats/cluster.bash with "cluster.encrypt":
# "wireguard", views built by hand (with each node's `moatctl cluster
# key`) and applied with `moatctl cluster apply`. Real TCP and UDP across
# the encrypted link decide every check; the underlay bridge is watched
# by an nft counter in the test's namespace.
#
# It needs a kernel with WireGuard: make test leaves it out on one without
# (the marker) and says so; it runs in Debian 12's 6.1 kernel with
#   MOAT_KERNEL_BATS=cluster-wg.bats make test-kernels
# On a kernel without WireGuard each test fails, saying why (no skip).
# moat-bats: sandbox
# moat-bats: needs-wireguard

load helpers
load cluster

setup() {
  setup_moat_net
  cluster_setup
  CLUSTER_WG=1
  unshare -n ip link add wgprobe type wireguard 2>/dev/null ||
    fail "needs a kernel with WireGuard (ip link add type wireguard: Unknown device type)"
}

teardown() {
  nft delete table bridge "${PFX}cap" 2>/dev/null || true
  if [[ -f $T/etcd-prefix ]]; then
    ETCD_DIR=$T/etcd "$BATS_TEST_DIRNAME/../hack/etcd-cluster" stop "$(cat "$T/etcd-prefix")" || true
  fi
  cluster_teardown
  teardown_moat_net
}

wg_node() { # NODE I: an encrypted node
  cluster_node "$1" "$2" '.cluster.encrypt = "wireguard"'
}

# The cluster's device on NODE (one link whose name starts moat-wg).
wg_dev() {
  ip -n "$PFX$1" -j link show type wireguard | jq -r '.[].ifname | select(startswith("moat-wg"))'
}

# underlay_watch: counts the IPv4 frames the underlay bridge forwards
# between nodes: UDP to or from WireGuard's port, and everything else.
underlay_watch() {
  nft -f - <<NFT
table bridge ${PFX}cap {
  chain watch { type filter hook forward priority -400; policy accept;
    ether type ip udp dport 51820 counter comment "wg"
    ether type ip udp sport 51820 counter comment "wg"
    ether type ip udp dport != 51820 udp sport != 51820 counter comment "other"
    ether type ip ip protocol != udp counter comment "other"
  }
}
NFT
}

underlay_count() { # wg|other: packets counted
  nft -j list chain bridge "${PFX}cap" watch |
    jq --arg c "$1" '[.nftables[].rule? | select(.comment == $c) | .expr[] | .counter? | select(.) | .packets] | add // 0'
}

@test "cluster-wg: a shared label crosses the encrypted link both ways, another label is refused, the underlay carries only WireGuard's UDP" {
  local port dev
  port=$(random_port)
  wg_node n1 1
  wg_node n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  node_add n2 c "$(with_labels app=db)"
  # The MTU drops by WireGuard's 60 bytes (IPv4 underlay).
  assert_eq "$(ip -n "${PFX}a" -j link show eth0 | jq '.[0].mtu')" 1440 "a's MTU"
  c_listen a "$port"
  c_listen b "$port"
  c_listen c "$port"
  cluster_sync
  dev=$(wg_dev n1)
  [[ -n $dev ]] || fail "no moat-wg device on n1"
  # Routed into the device, by moat (protocol 195), not via the underlay.
  assert_match "$(ip -n "${PFX}n1" route show "$SUBNET_n2")" "^$SUBNET_n2 dev $dev proto 195 scope link"
  # Its peer: n2's key, at n2's underlay, allowed n2's subnet alone.
  assert_eq "$(node_run n1 wg show "$dev" peers)" "$(node_ctl n2 cluster key "$CL")" "n1's peers"
  assert_eq "$(node_run n1 wg show "$dev" endpoints | cut -f2)" "$UL.12:51820" "n2's endpoint"
  assert_eq "$(node_run n1 wg show "$dev" allowed-ips | cut -f2)" "$SUBNET_n2" "n2's allowed ips"
  assert_eq "$(stat -c %a "$T/run-n1/.cluster/wg/$CL.key")" 600 "the private key's mode"
  underlay_watch
  # The first packet waits for WireGuard's handshake (slow under TCG).
  wait_for 60 c_tcp a b "$port"
  run -0 c_tcp b a "$port"
  run -0 c_udp a b "$port"
  run -0 c_udp b a "$port"
  run c_tcp a c "$port"
  assert_eq "$output" refused "a -> c (app=db)"
  run c_tcp c a "$port"
  assert_eq "$output" refused "c -> a (app=db)"
  (($(underlay_count wg) > 0)) || fail "no WireGuard datagram on the underlay"
  assert_eq "$(underlay_count other)" 0 "IPv4 packets on the underlay other than WireGuard's"
  # moatctl knows the remote peer by the device: explain, and check
  # finding the node elements it expects.
  run -0 node_ctl n1 explain "$PFX-a" "$PFX-b" "tcp/$port"
  assert_contains "$output" "allowed $PFX-a -> $PFX-b tcp/$port: shared label app=web"
  run -0 node_ctl n1 explain "$PFX-b" "$PFX-a" "tcp/$port"
  assert_contains "$output" "allowed $PFX-b -> $PFX-a tcp/$port: shared label app=web"
  run node_ctl n1 check
  [[ $status -eq 0 ]] || fail "check: $output"
}

@test "cluster-wg: an inner source outside the sending node's subnet arrives nowhere (WireGuard's allowed-ips); a node's subnet in cleartext on the underlay is dropped" {
  local port s3 s1
  port=$(random_port)
  wg_node n1 1
  wg_node n2 2
  wg_node n3 3
  node_add n1 w "$(with_labels app=web)" "$(with_annotations "{\"io.moat.ingress\": \"10.0.0.0/8 udp/$port\"}")"
  node_add n2 b "$(with_labels app=web)"
  cluster_sync
  c_listen w "$port"
  wait_for 60 c_udp b w "$port"
  capture_start "${PFX}n1"
  capture_start "${PFX}w"
  s3=${SUBNET_n3%.0/24}.9 # n3's subnet, claimed by n2
  pick_free_24
  s1=10.$PICK_A.$PICK_B.9 # no node's subnet
  # Both leave n2 through its device (routed by destination)...
  spoof_udp n2 "$s3" "$(cip w)" "$port" spoof-y
  spoof_udp n2 "$s1" "$(cip w)" "$port" spoof-x
  run -0 c_udp b w "$port"
  wait_for 10 eval "(( \$(captured ${PFX}n1 $(cip b)) >= 1 ))"
  # ...and n1's WireGuard drops them before any hook of n1 sees them.
  assert_eq "$(captured "${PFX}n1" "$s3")" 0 "n1: packets from n2 claiming n3's subnet"
  assert_eq "$(captured "${PFX}n1" "$s1")" 0 "n1: packets from n2 with a source of no node"
  assert_eq "$(captured "${PFX}w" "$s3")$(captured "${PFX}w" "$s1")" 00 "at w"
  assert_eq "$(received spoof-y)$(received spoof-x)" 00 "spoofed datagrams served"
  # n2's own subnet in cleartext on the underlay (routed past its device)
  # reaches n1 and is dropped there: node_nets pairs n2's subnet with the
  # underlay interface too, with no node_routes twin.
  local clear=${SUBNET_n2%.0/24}.77
  ip -n "${PFX}n2" route add "$(cip w)/32" via "$UL.11" dev ul0
  spoof_udp n2 "$clear" "$(cip w)" "$port" clear-x
  wait_for 10 eval "(( \$(captured ${PFX}n1 $clear) >= 1 ))"
  assert_eq "$(captured "${PFX}w" "$clear")" 0 "at w: n2's subnet in cleartext on the underlay"
  assert_eq "$(received clear-x)" 0 "cleartext datagram served"
  # Without that element the same datagram gets in (as an outside address).
  node_run n1 nft delete element inet moat node_nets "{ $SUBNET_n2 . \"ul0\" }"
  spoof_udp n2 "$clear" "$(cip w)" "$port" clear-x2
  wait_for 10 eval "(( \$(captured ${PFX}w $clear) >= 1 ))"
  ip -n "${PFX}n2" route del "$(cip w)/32"
  # With s1 among n2's allowed IPs on n1 the same datagram gets through:
  # the allowed IPs, not routing, stopped it.
  node_run n1 wg set "$(wg_dev n1)" peer "$(node_ctl n2 cluster key "$CL")" \
    allowed-ips "$SUBNET_n2,$s1/32"
  spoof_udp n2 "$s1" "$(cip w)" "$port" spoof-x2
  wait_for 10 eval "(( \$(captured ${PFX}n1 $s1) >= 1 ))"
}

@test "cluster-wg: a view applied twice changes nothing; a node dropped loses its peer and route; no node left, no device" {
  local before after dev key3 view
  wg_node n1 1
  wg_node n2 2
  wg_node n3 3
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  view=$(cluster_view)
  run -0 cluster_apply n1 "$view"
  dev=$(wg_dev n1)
  key3=$(node_ctl n3 cluster key "$CL")
  before=$(node_run n1 nft -s list table inet moat; ip -n "${PFX}n1" route; node_run n1 wg show "$dev" dump)
  run -0 cluster_apply n1 "$view"
  after=$(node_run n1 nft -s list table inet moat; ip -n "${PFX}n1" route; node_run n1 wg show "$dev" dump)
  assert_eq "$after" "$before" "n1's tables, routes and WireGuard peers after the second apply"
  assert_eq "$(node_run n1 wg show "$dev" peers | wc -l)" 2 "peers with n2 and n3"
  # n3 leaves the view.
  run -0 cluster_apply n1 "$(jq -c '.nodes |= map(select(.node != "n3"))' <<<"$view")"
  assert_eq "$(node_run n1 wg show "$dev" peers)" "$(node_ctl n2 cluster key "$CL")" "n1's peers without n3"
  [[ $(node_run n1 wg show "$dev" peers) != *"$key3"* ]] || fail "n3's peer stayed"
  assert_eq "$(ip -n "${PFX}n1" route show "$SUBNET_n3")" "" "n3's route"
  assert_match "$(ip -n "${PFX}n1" route show "$SUBNET_n2")" "dev $dev proto 195"
  assert_eq "$(node_run n1 nft -j list set inet moat node_nets | jq '[.nftables[].set? | select(.) | .elem[]?] | length')" 2 "node_nets: n2's subnet on the device and on the underlay"
  assert_contains "$(node_run n1 nft list set inet moat node_nets)" "$SUBNET_n2 . \"ul0\""
  # No other node: the device goes, with every route of moat's.
  run -0 cluster_apply n1 "$(jq -c '.nodes |= map(select(.node == "n1")) | .members = []' <<<"$view")"
  assert_eq "$(wg_dev n1)" "" "n1's moat-wg device"
  assert_eq "$(ip -n "${PFX}n1" route show proto 195)" "" "moat's routes on n1"
}

@test "cluster-wg: the watchers publish each node's wgKey from etcd; a shared label crosses with no view by hand" {
  local port ep node i=1 pfx
  port=$(random_port)
  pfx=cw$(printf %04x "$RANDOM")
  echo "$pfx" >"$T/etcd-prefix"
  ep=$(ETCD_DIR=$T/etcd "$BATS_TEST_DIRNAME/../hack/etcd-cluster" start "$pfx")
  # The nodes reach the store through this namespace.
  ip addr add "$UL.1/24" dev "${PFX}ul"
  sysctl -qw net.ipv4.ip_forward=1
  for node in n1 n2; do
    wg_node "$node" "$i"
    ip -n "$PFX$node" route add default via "$UL.1"
    jq -c --arg ep "$ep" '.cluster.store = $ep' "$T/conf-$node" >"$T/conf-$node.new"
    mv "$T/conf-$node.new" "$T/conf-$node"
    mkdir -p "$T/nets-$node"
    cp "$T/conf-$node" "$T/nets-$node/50-moat.conf"
    ip netns exec "$PFX$node" env MOAT_RUN_DIR="$T/run-$node" MOAT_NETWORK_DIRS="$T/nets-$node" \
      "$MOAT_BUILD/moatctl" cluster watch "$CL" </dev/null >/dev/null 2>>"$T/w-$node.log" 3>&- &
    echo "$!" >>"$T/pids"
    i=$((i + 1))
  done
  for node in n1 n2; do
    wait_for 60 eval "[[ -n \$(ETCDCTL_API=3 etcdctl --endpoints=$ep get --print-value-only /moat/$CL/nodes/$node) ]]"
    assert_eq "$(ETCDCTL_API=3 etcdctl --endpoints="$ep" get --print-value-only "/moat/$CL/nodes/$node" | jq -r .wgKey)" \
      "$(node_ctl "$node" cluster key "$CL")" "$node's published wgKey"
  done
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  c_listen a "$port"
  c_listen b "$port"
  wait_for 120 c_tcp a b "$port"
  wait_for 30 c_tcp b a "$port"
  assert_match "$(ip -n "${PFX}n1" route show "$SUBNET_n2")" "dev moat-wg"
}
