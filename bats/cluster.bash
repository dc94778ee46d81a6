# shellcheck shell=bash disable=SC2016,SC2154,SC2034 # jq programs in single quotes; bats' $output; OUT_IP and SUBNET_<node> for the tests
# Cluster mode's nodes simulated on one machine (docs/cluster.md), for
# bats/cluster.bats and the watcher's tests: each node is a network
# namespace ($PFX<node>) with its own run directory ($T/run-<node>), moat
# bridge and tables; the nodes' underlay is a bridge ${PFX}ul in the test's
# namespace (hack/sandbox's), a veth "ul0" into each node, addresses in a
# private /24 ($UL.0/24, node i at $UL.1i), forwarding on in each node.
# Containers are namespaces $PFX<name> attached by CNI ADD run inside
# their node. Load after helpers; call cluster_setup in setup (after
# setup_moat_net) and cluster_teardown in teardown (before
# teardown_moat_net).
#
#   cluster_setup                 the underlay; CL (cluster), CNET (network)
#   cluster_node NODE I [JQ]      node NODE with underlay $UL.1I, its own /24
#   node_run NODE CMD...          CMD inside the node, with its run directory
#   node_ctl NODE ARGS...         moatctl on the node
#   node_add NODE NAME [JQ...]    container NAME attached on NODE (each JQ edits
#                                 the network config first: labels, annotations)
#   node_of NAME, cip NAME        its node, its address
#   cluster_view [NODE...]        the view: every node, and the members that
#                                 `moatctl cluster members` prints on each NODE
#                                 (default: all), as the watcher builds it
#   cluster_apply NODE [VIEW]     moatctl cluster apply of VIEW (default:
#                                 cluster_view) on NODE
#   cluster_sync                  cluster_apply on every node
#   cluster_node6 NODE I          a dual-stack node: cluster_node with its own
#                                 subnet6 (SUBNET6_<node>), IPv6 forwarding on
#   cip6 NAME, c_tcp6, c_udp6, c_listen6   the same over IPv6
#   with_labels K=V...            a JQ filter giving args.cni.labels
#   with_annotations JSON         a JQ filter giving the pod annotations

cluster_setup() {
  CL=c$PFX
  CNET=cn-$PFX
  CLUSTER_NODES=()
  FAR_NODES=()
  pick_free_24
  UL=10.$PICK_A.$PICK_B
  ip link add "${PFX}ul" type bridge
  echo "${PFX}ul" >>"$T/links"
  ip link set "${PFX}ul" up
  : >"$T/cluster-members"
}

cluster_node() { # NODE I [JQ ARGS...]
  local node=$1 i=$2 ns=$PFX$1
  shift 2
  pick_free_24
  printf -v "SUBNET_$node" '%s' "10.$PICK_A.$PICK_B.0/24"
  ip netns add "$ns"
  echo "$ns" >>"$T/netns"
  ip link add "${PFX}u$i" type veth peer name ul0 netns "$ns"
  echo "${PFX}u$i" >>"$T/links"
  ip link set "${PFX}u$i" master "${PFX}ul" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$UL.1$i/24" dev ul0
  ip -n "$ns" link set ul0 up
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
  mkdir -p "$T/run-$node"
  jq -nc --arg n "$CNET" --arg sub "10.$PICK_A.$PICK_B.0/24" --arg cl "$CL" --arg node "$node" \
    --argjson allow "$ALLOW_ALL" \
    '{cniVersion: "1.1.0", name: $n, type: "moat", bridge: "moatc0", subnet: $sub,
      allow: $allow, cluster: {name: $cl, store: "http://192.0.2.1:2379", node: $node}}' \
    >"$T/conf-$node"
  if (($#)); then
    jq -c "$@" "$T/conf-$node" >"$T/conf-$node.new" && mv "$T/conf-$node.new" "$T/conf-$node"
  fi
  printf '%s %s\n' "$node" "$UL.1$i" >>"$T/cluster-nodes"
  CLUSTER_NODES+=("$node")
}

node_run() { # NODE CMD...
  local node=$1
  shift
  ip netns exec "$PFX$node" env MOAT_RUN_DIR="$T/run-$node" "$@"
}

node_ctl() { node_run "$1" "$MOAT_BUILD/moatctl" "${@:2}"; }

with_labels() { # K=V... -> a jq filter
  local kv f='.args.cni.labels = ['
  for kv in "$@"; do
    f+="{key: \"${kv%%=*}\", value: \"${kv#*=}\"},"
  done
  echo "${f%,}]"
}

with_annotations() { echo ".runtimeConfig[\"io.kubernetes.cri.pod-annotations\"] = $1"; }

# node_add NODE NAME [JQ ARGS...]: ADD of container $PFX-NAME (pod name
# $PFX-NAME) in netns $PFX$NAME, run inside NODE; the result in
# $T/result.NAME (ip_of NAME works).
node_add() {
  local node=$1 name=$2 conf
  shift 2
  conf=$(cat "$T/conf-$node")
  local IFS='|'
  if (($#)); then
    conf=$(jq -c "$*" <<<"$conf")
  fi
  unset IFS
  new_netns "$name"
  printf '%s' "$conf" >"$T/conf-of-$name"
  run -0 node_cni "$node" ADD "$name"
  printf '%s\n' "$output" >"$T/result.$name"
  printf '%s %s\n' "$name" "$node" >>"$T/cluster-members"
}

node_cni() { # NODE VERB NAME
  printf '%s' "$(cat "$T/conf-of-$3")" |
    ip netns exec "$PFX$1" env -i PATH="$PATH" MOAT_RUN_DIR="$T/run-$1" CNI_COMMAND="$2" \
      CNI_CONTAINERID="$PFX-$3" CNI_NETNS="/run/netns/$PFX$3" CNI_IFNAME=eth0 \
      CNI_PATH="$HOST_IPAM_DIR" CNI_ARGS="K8S_POD_NAME=$PFX-$3" timeout 60 "$MOAT" 2>>"$T/stderr"
}

node_of() { awk -v n="$1" '$1 == n { print $2 }' "$T/cluster-members"; }
cip() { ip_of "$1"; }

# The view's node entries: name, underlay, subnet, subnet6 (its network's,
# null when IPv4 only), and its underlay MAC; with CLUSTER_WG=1 also its
# WireGuard public key (`moatctl cluster key`).
cluster_nodes_json() {
  local node ul mac sub key
  while read -r node ul; do
    mac=$(ip -n "$PFX$node" -j link show ul0 | jq -r '.[0].address')
    sub=SUBNET_$node
    key=null
    if [[ ${CLUSTER_WG-} == 1 ]]; then
      key=$(node_ctl "$node" cluster key "$CL") || fail "cluster key on $node: $key"
      key=\"$key\"
    fi
    jq -nc --arg n "$node" --arg u "$ul" --arg s "${!sub}" --arg m "$mac" --argjson k "$key" \
      --argjson s6 "$(jq -c '.subnet6 // null' "$T/conf-$node")" \
      '{node: $n, underlay: $u, subnet: $s, subnet6: $s6, mac: $m} + if $k then {wgKey: $k} else {} end'
  done <"$T/cluster-nodes" | jq -sc .
}

cluster_view() { # [NODE...]
  local node members='[]' one
  (($#)) || set -- "${CLUSTER_NODES[@]}"
  for node in "$@"; do
    one=$(node_ctl "$node" cluster members "$CL") || fail "cluster members on $node: $one"
    members=$(jq -c --argjson a "$members" '$a + .' <<<"$one")
  done
  jq -nc --arg cl "$CL" --argjson nodes "$(cluster_nodes_json)" --argjson m "$members" \
    --argjson rev "${CLUSTER_REVISION:-1}" \
    '{cluster: $cl, revision: $rev, readAt: (now | floor), nodes: $nodes, members: $m}'
}

cluster_apply() { # NODE [VIEW]
  local view=${2-}
  [[ -n $view ]] || view=$(cluster_view)
  node_ctl "$1" cluster apply - <<<"$view"
}

cluster_sync() {
  local node view
  view=$(cluster_view)
  for node in "${CLUSTER_NODES[@]}"; do
    cluster_apply "$node" "$view" >/dev/null || fail "cluster apply on $node failed"
  done
}

# A TCP or UDP probe from container FROM to container TO's PORT (helpers'
# ns_tcp_connect / ns_udp_connect).
c_tcp() { ns_tcp_connect "$PFX$1" "$(cip "$2")" "$3"; }
c_udp() { ns_udp_connect "$PFX$1" "$(cip "$2")" "$3"; }
c_listen() { # NAME PORT: TCP and UDP servers in container NAME
  ns_tcp_listen "$PFX$1" "$(cip "$1")" "$2"
  ns_udp_listen "$PFX$1" "$(cip "$1")" "$2"
}

cluster_teardown() {
  [[ -n ${PFX-} && -f $T/cluster-nodes ]] || return 0
  local node ul
  while read -r node ul; do
    ip netns del "$PFX$node" 2>/dev/null || true
  done <"$T/cluster-nodes"
}

# cluster_outside I: a namespace ${PFX}o on the underlay at $UL.1I that
# is no node (a client on the nodes' link), routed to node n1's subnet.
cluster_outside() {
  local i=$1 ns=${PFX}o sub=SUBNET_n1
  new_netns o
  ip link add "${PFX}u$i" type veth peer name ul0 netns "$ns"
  echo "${PFX}u$i" >>"$T/links"
  ip link set "${PFX}u$i" master "${PFX}ul" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$UL.1$i/24" dev ul0
  ip -n "$ns" link set ul0 up
  ip -n "$ns" route add "${!sub}" via "$UL.11"
  OUT_IP=$UL.1$i
}

# capture_start NS: counts, in NS's prerouting, every IPv4 packet that
# reaches it, by source address (what arrived at the target at all).
capture_start() {
  ip netns exec "$1" nft -f - <<'NFT'
table ip capture {
  set seen { type ipv4_addr; flags dynamic; counter; }
  chain pre { type filter hook prerouting priority -400; policy accept;
    update @seen { ip saddr }
  }
}
NFT
}

# captured NS SRC: packets from SRC the capture saw (0: none).
captured() {
  ip netns exec "$1" nft -j list set ip capture seen |
    jq --arg s "$2" '[.nftables[] | .set? | select(.) | .elem[]? | .elem? | select(.val == $s) | .counter.packets] | add // 0'
}

# spoof_udp NODE SRC DST PORT TOKEN: a datagram from NODE itself with
# source SRC (taken on NODE's lo for the send), to DST:PORT.
spoof_udp() {
  local ns=$PFX$1
  ip -n "$ns" addr add "$2/32" dev lo 2>/dev/null || true
  printf '%s\n' "$5" | ip netns exec "$ns" timeout 3 socat -u - "UDP4:$3:$4,bind=$2" || true
  ip -n "$ns" addr del "$2/32" dev lo 2>/dev/null || true
}

# A second underlay, reached through a router: cluster_router makes the
# bridge ${PFX}uk ($UL2.0/24) and the namespace ${PFX}rt with a leg on each
# underlay ($UL.1, $UL2.1), forwarding; nodes made after it with
# cluster_far_node sit on ${PFX}uk, and every node routes the other /24
# through the router (so nodes on different underlays meet by VXLAN).
cluster_router() {
  pick_free_24
  UL2=10.$PICK_A.$PICK_B
  ip link add "${PFX}uk" type bridge
  echo "${PFX}uk" >>"$T/links"
  ip link set "${PFX}uk" up
  new_netns rt
  ip link add "${PFX}ra" type veth peer name ula netns "${PFX}rt"
  ip link add "${PFX}rb" type veth peer name ulb netns "${PFX}rt"
  echo "${PFX}ra" >>"$T/links"
  echo "${PFX}rb" >>"$T/links"
  ip link set "${PFX}ra" master "${PFX}ul" up
  ip link set "${PFX}rb" master "${PFX}uk" up
  ip -n "${PFX}rt" link set lo up
  ip -n "${PFX}rt" addr add "$UL.1/24" dev ula
  ip -n "${PFX}rt" addr add "$UL2.1/24" dev ulb
  ip -n "${PFX}rt" link set ula up
  ip -n "${PFX}rt" link set ulb up
  ip netns exec "${PFX}rt" sysctl -qw net.ipv4.ip_forward=1
}

# cluster_far_node NODE I [JQ]: cluster_node on the second underlay, at
# $UL2.1I; the nodes made before it (on the first) get a route to it.
cluster_far_node() {
  local node=$1 i=$2 n ul
  shift 2
  for n in "${CLUSTER_NODES[@]}"; do
    [[ " ${FAR_NODES[*]-} " == *" $n "* ]] || ip -n "$PFX$n" route replace "$UL2.0/24" via "$UL.1"
  done
  FAR_NODES+=("$node")
  cluster_node "$node" "$i" "$@"
  ip link set "${PFX}u$i" nomaster
  ip link set "${PFX}u$i" master "${PFX}uk"
  ip -n "$PFX$node" addr flush dev ul0
  ip -n "$PFX$node" addr add "$UL2.1$i/24" dev ul0
  ip -n "$PFX$node" route add "$UL.0/24" via "$UL2.1"
  sed -i "s/^$node $UL\\.1$i\$/$node $UL2.1$i/" "$T/cluster-nodes"
}

# MTU of link DEV in node NODE's (or any) namespace NS.
ns_mtu() { ip -n "$1" -j link show "$2" | jq -r '.[0].mtu'; }
# ---------------------------------------------------------------- IPv6

# Waits until NS's IPv6 link-local address on DEV is usable (DAD done).
link_local_ready() { # NS DEV
  ip -n "$1" -6 -j addr show dev "$2" scope link |
    jq -e '[.[0].addr_info[]? | select(.family == "inet6" and (.tentative | not))] | length > 0' >/dev/null
}
link_local_of() { # NS DEV
  ip -n "$1" -6 -j addr show dev "$2" scope link | jq -r '.[0].addr_info[0].local'
}

# cluster_node6 NODE I: a dual-stack node (docs/cluster.md, "IPv6
# between nodes"): its network has a subnet6 of its own (SUBNET6_<node>,
# fdXX:...::/64), IPv6 forwarding is on in it, its underlay link-local
# address (the nexthop other nodes route its subnet6 by) is usable.
cluster_node6() {
  local node=$1 i=$2 pfx
  pfx=fd$(printf '%02x' $((RANDOM % 256))):$(printf '%x' $RANDOM):$(printf '%x' $RANDOM):$i
  printf -v "SUBNET6_$node" '%s' "$pfx::/64"
  cluster_node "$node" "$i" --arg s6 "$pfx::/64" '.subnet6 = $s6'
  ip netns exec "$PFX$node" sysctl -qw net.ipv6.conf.all.forwarding=1
  wait_for 10 link_local_ready "$PFX$node" ul0
}

cip6() { ip6_of "$1"; }
c_tcp6() { ns_tcp_connect "$PFX$1" "$(cip6 "$2")" "$3"; }
c_udp6() { ns_udp_connect "$PFX$1" "$(cip6 "$2")" "$3"; }
c_listen6() { # NAME PORT
  ns_tcp_listen "$PFX$1" "$(cip6 "$1")" "$2"
  ns_udp_listen "$PFX$1" "$(cip6 "$1")" "$2"
}

# capture6_start NS / captured6 NS SRC: capture_start's IPv6 twin.
capture6_start() {
  ip netns exec "$1" nft -f - <<'NFT'
table ip6 capture6 {
  set seen { type ipv6_addr; flags dynamic; counter; }
  chain pre { type filter hook prerouting priority -400; policy accept;
    update @seen { ip6 saddr }
  }
}
NFT
}

captured6() {
  ip netns exec "$1" nft -j list set ip6 capture6 seen |
    jq --arg s "$2" '[.nftables[] | .set? | select(.) | .elem[]? | .elem? | select(.val == $s) | .counter.packets] | add // 0'
}

# spoof_udp6 NS SRC DST PORT TOKEN: a datagram from namespace NS itself
# with IPv6 source SRC (taken on its lo, no DAD), to [DST]:PORT.
spoof_udp6() {
  local ns=$1
  ip -n "$ns" addr add "$2/128" dev lo nodad 2>/dev/null || true
  printf '%s\n' "$5" | ip netns exec "$ns" timeout 3 socat -u - "UDP6:[$3]:$4,bind=[$2]" || true
  ip -n "$ns" addr del "$2/128" dev lo 2>/dev/null || true
}
