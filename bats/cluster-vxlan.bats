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
  local port d1 d2 view
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
  # explain models b as arriving by its tunnel; restore remakes the tunnel's
  # elements with the rest (from the nodes file).
  run -0 node_ctl n1 explain "$PFX-b" "$PFX-a" "tcp/$port"
  assert_contains "$output" "allowed $PFX-b -> $PFX-a tcp/$port: shared label app=web"
  run -1 node_ctl n1 explain "$PFX-c" "$PFX-a" "tcp/$port"
  run -0 node_ctl n1 restore
  run -0 node_run n1 nft list set inet moat node_vteps
  assert_contains "$output" "$UL2.12 . 0x"
  run -0 node_run n1 nft list set inet moat node_vnis
  assert_contains "$output" "$(printf '0x%06x00' "$(vx_of n1 n2 vni)")"
  run -0 c_tcp a b "$port"
  run -0 c_tcp b a "$port"
  run -0 node_ctl n1 check
  # n1's underlay address changes in the view: both ends make their tunnel
  # again (n1's outer source, n2's remote and the address it expects).
  ip -n "${PFX}n1" addr add "$UL.21/24" dev ul0
  view=$(cluster_view | jq -c --arg a "$UL.21" '(.nodes[] | select(.node == "n1") | .underlay) = $a')
  run -0 cluster_apply n1 "$view"
  run -0 cluster_apply n2 "$view"
  run -0 ip -n "${PFX}n1" -d -j link show "$d1"
  assert_jq "$output" '.[0].linkinfo.info_data.local == $l' --arg l "$UL.21"
  run -0 ip -n "${PFX}n2" -d -j link show "$d2"
  assert_jq "$output" '.[0].linkinfo.info_data.remote == $l' --arg l "$UL.21"
  run -0 c_tcp a b "$port"
  run -0 c_tcp b a "$port"
  run -0 node_ctl n2 check
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

# forge_vxlan FROM_NS DST_UNDERLAY VNI DST_MAC SRC_MAC SRC DST PORT TOKEN:
# one VXLAN datagram from FROM_NS's own address (a plain UDP socket)
# carrying an Ethernet frame SRC_MAC -> DST_MAC with an IPv4/UDP packet
# SRC -> DST:PORT whose payload is TOKEN and a newline.
forge_vxlan() {
  ip netns exec "$1" python3 - "$@" <<'PY'
import socket, struct, sys
_, _, ul, vni, dmac, smac, src, dst, port, token = sys.argv
payload = (token + "\n").encode()
udp = struct.pack("!HHHH", 40000, int(port), 8 + len(payload), 0) + payload
hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, 17, 0,
                  socket.inet_aton(src), socket.inet_aton(dst))
s = sum(struct.unpack("!10H", hdr))
while s >> 16:
    s = (s & 0xffff) + (s >> 16)
hdr = hdr[:10] + struct.pack("!H", ~s & 0xffff) + hdr[12:]
mac = lambda m: bytes.fromhex(m.replace(":", ""))
frame = mac(dmac) + mac(smac) + b"\x08\x00" + hdr + udp
vx = struct.pack("!II", 0x08000000, int(vni) << 8)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.sendto(vx + frame, (ul, 4789))
PY
}

@test "cluster-vxlan: a forged VXLAN datagram from a host on the routed path, carrying a peer's source, never arrives; a node sending a source not its own through its tunnel neither" {
  local port s3 s1 vni d1 dmac smac from_b
  port=$(random_port)
  cluster_node n1 1
  cluster_far_node n2 2
  cluster_far_node n3 3
  # A host on n2's underlay that is no node.
  new_netns o
  ip link add "${PFX}u9" type veth peer name ul0 netns "${PFX}o"
  echo "${PFX}u9" >>"$T/links"
  ip link set "${PFX}u9" master "${PFX}uk" up
  ip -n "${PFX}o" link set lo up
  ip -n "${PFX}o" addr add "$UL2.19/24" dev ul0
  ip -n "${PFX}o" link set ul0 up
  ip -n "${PFX}o" route add "$UL.0/24" via "$UL2.1"
  # w lets in all of 10.0.0.0/8 on udp: only the node rules stand between
  # a spoofed source and it; b shares its label (a peer).
  node_add n1 w "$(with_labels app=web)" "$(with_annotations "{\"io.moat.ingress\": \"10.0.0.0/8 udp/$port\"}")"
  node_add n2 b "$(with_labels app=web)"
  cluster_sync
  c_listen w "$port"
  capture_start "${PFX}w"
  run -0 c_udp b w "$port"
  run -0 node_run n1 nft list set inet moat node_vteps
  assert_contains "$output" "$UL2.12 . "
  d1=$(vx_dev n1 n2)
  vni=$(vx_of n1 n2 vni)
  dmac=$(ip -n "${PFX}n1" -j link show "$d1" | jq -r '.[0].address')
  smac=$(vx_of n1 n2 mac)
  from_b=$(captured "${PFX}w" "$(cip b)")
  forge_vxlan "${PFX}o" "$UL.11" "$vni" "$dmac" "$smac" "$(cip b)" "$(cip w)" "$port" forged
  # n2 claims n3's subnet, and a source of no node, through its tunnel.
  s3=SUBNET_n3
  s3=${!s3%.0/24}.9
  pick_free_24
  s1=10.$PICK_A.$PICK_B.9
  spoof_udp n2 "$s3" "$(cip w)" "$port" spoof-y
  spoof_udp n2 "$s1" "$(cip w)" "$port" spoof-x
  spoof_udp n2 "$UL2.12" "$(cip w)" "$port" own
  wait_for 5 eval "(( \$(received own) >= 1 ))"
  assert_eq "$(received forged)" 0 "the forged datagram served"
  assert_eq "$(captured "${PFX}w" "$(cip b)")" "$from_b" "packets from b's address at w after the forged one"
  assert_eq "$(captured "${PFX}w" "$s3")" 0 "packets from n2 claiming n3's subnet"
  assert_eq "$(captured "${PFX}w" "$s1")" 0 "packets from n2 with a source of no node"
  assert_eq "$(received spoof-y)$(received spoof-x)" 00 "spoofed datagrams served"
  # The same attacks with the rules' sets emptied get in: the rules, not
  # routing, stopped them.
  node_run n1 nft flush set inet moat node_vnis
  forge_vxlan "${PFX}o" "$UL.11" "$vni" "$dmac" "$smac" "$(cip b)" "$(cip w)" "$port" forged2
  wait_for 5 eval "(( \$(received forged2) >= 1 ))"
  node_run n1 nft flush set inet moat node_routes
  node_run n1 nft flush set inet moat node_nets
  node_run n1 nft flush set inet moat node_links
  spoof_udp n2 "$s1" "$(cip w)" "$port" spoof-x2
  wait_for 5 eval "(( \$(captured ${PFX}w $s1) >= 1 ))"
}

# mtu_probe NS: counts, in NS, the ICMP "fragmentation needed" it sends
# (output) and forwards; on the router also the VXLAN datagrams with DF set
# of the underlay's full 1500 bytes or more (veth hands GSO packets on
# unsegmented), those without DF, and any fragment it forwards.
mtu_probe() {
  ip netns exec "$1" nft -f - <<'NFT'
table ip mtuprobe {
  counter too_big {}
  counter full_df {}
  counter no_df {}
  counter fragments {}
  chain probe_out { type filter hook output priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter name too_big
  }
  chain probe_fwd { type filter hook forward priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter name too_big
    udp dport 4789 ip frag-off & 0x4000 != 0 ip length >= 1500 counter name full_df
    udp dport 4789 ip frag-off & 0x4000 == 0 counter name no_df
    ip frag-off & 0x3fff != 0 counter name fragments
  }
}
NFT
}
probe_count() { ip netns exec "$1" nft -j list counter ip mtuprobe "$2" | jq '.nftables[1].counter.packets'; }

# big_transfer FROM TO PORT: TO serves 2 MB with busybox httpd; FROM gets it
# with busybox wget (at most 20 s) and the bytes must be the same.
big_transfer() {
  mkdir -p "$T/www"
  [[ -f $T/www/big ]] || head -c 2097152 /dev/urandom >"$T/www/big"
  if ! listening "$PFX$2" tcp "$3"; then
    start_bg "$PFX$2" busybox httpd -f -p "$(cip "$2"):$3" -h "$T/www"
    wait_for 5 listening "$PFX$2" tcp "$3"
  fi
  rm -f "$T/got"
  ip netns exec "$PFX$1" timeout 20 busybox wget -q -O "$T/got" "http://$(cip "$2"):$3/big" ||
    fail "wget of 2 MB from $2 to $1 failed or stalled"
  cmp -s "$T/www/big" "$T/got" || fail "the 2 MB from $2 arrived changed"
}

@test "cluster-vxlan: containers get the tunnel's MTU (1450 on a 1500-byte underlay): 2 MB over HTTP cross it with DF set, unfragmented, no ICMP too-big" {
  local port
  port=$(random_port)
  cluster_node n1 1
  cluster_far_node n2 2
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  cluster_sync
  assert_eq "$(ns_mtu "${PFX}a" eth0)" 1450 "a's eth0"
  assert_eq "$(ns_mtu "${PFX}n1" moatc0)" 1450 "n1's bridge"
  assert_eq "$(ns_mtu "${PFX}n1" "$(vx_dev n1 n2)")" 1450 "n1's tunnel (ul0 less 50)"
  run -0 ip -n "${PFX}n1" -d -j link show "$(vx_dev n1 n2)"
  assert_jq "$output" '.[0].linkinfo.info_data.df == "inherit"'
  mtu_probe "${PFX}n1"
  mtu_probe "${PFX}n2"
  mtu_probe "${PFX}rt"
  big_transfer a b "$port"
  big_transfer b a "$port"
  assert_eq "$(probe_count "${PFX}n1" too_big)$(probe_count "${PFX}n2" too_big)" 00 "ICMP too-big sent by the nodes"
  assert_eq "$(probe_count "${PFX}rt" fragments)" 0 "fragments through the router"
  assert_eq "$(probe_count "${PFX}rt" no_df)" 0 "VXLAN datagrams without DF through the router"
  (($(probe_count "${PFX}rt" full_df) > 30)) || fail "full-size VXLAN datagrams with DF through the router: $(probe_count "${PFX}rt" full_df)"
}

@test "cluster-vxlan: with \"mtu\": 1500 over the same tunnel the nodes must send ICMP too-big (what the default avoids)" {
  local port
  port=$(random_port)
  cluster_node n1 1 '.mtu = 1500'
  cluster_far_node n2 2 '.mtu = 1500'
  node_add n1 a "$(with_labels app=web)"
  node_add n2 b "$(with_labels app=web)"
  cluster_sync
  assert_eq "$(ns_mtu "${PFX}a" eth0)" 1500 "a's eth0"
  mtu_probe "${PFX}n1"
  mtu_probe "${PFX}n2"
  mtu_probe "${PFX}rt"
  big_transfer a b "$port"
  (($(probe_count "${PFX}n2" too_big) > 0)) || fail "n2 sent no ICMP too-big to b"
  assert_eq "$(probe_count "${PFX}rt" fragments)" 0 "fragments through the router"
}

@test "cluster-vxlan: with no container left, teardown removes the tunnels and routes the sync made; nothing of moat's stays (ip -d link)" {
  local view d1
  cluster_node n1 1
  cluster_far_node n2 2
  node_add n1 a "$(with_labels app=web)"
  # A view with the nodes and no members: tunnels and routes, no remote record.
  view=$(cluster_view | jq -c '.members = []')
  run -0 cluster_apply n1 "$view"
  assert_eq "$(vx_links n1 | wc -l)" 1 "n1's tunnels"
  d1=$(vx_dev n1 n2)
  run -1 node_ctl n1 teardown
  assert_contains "$output" "containers are attached"
  assert_eq "$(vx_links n1 | wc -l)" 1 "n1's tunnels after a refused teardown"
  run -0 node_cni n1 DEL a
  run -0 node_ctl n1 teardown
  assert_contains "$output" "removed: tunnel $d1"
  run -0 ip -n "${PFX}n1" -d link
  assert_not_contains "$output" "vxlan" "n1's links after teardown"
  assert_not_contains "$output" "moatc0" "n1's links after teardown"
  run -0 ip -n "${PFX}n1" route
  assert_not_contains "$output" "proto 195" "n1's routes after teardown"
  [[ ! -e $T/run-n1/.cluster/nodes/$CL.json ]] || fail "the nodes file is still there"
}
