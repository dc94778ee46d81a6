#!/usr/bin/env bats
# shellcheck disable=SC2034 # variables read by escape.bash
# Dual stack, nftables side (issue 17; docs/design.md, "IPv6"): the IPv6
# half of moat's tables made by kernel/nft's own ADD path (through
# build/tools/nft6-layout, without the CNI verbs), loaded into the kernel,
# and the bridge table's IPv6 port checks attacked with real frames from a
# container behind a veth on a bridge: the container's own neighbour
# discovery passes; a spoofed source, an advertisement for another address
# or with another MAC, a router advertisement, a redirect, MLD and a DHCPv6
# server's reply are dropped at the port (counted there by a table of the
# test's, before and after moat's chain) and reach neither the host nor
# the other container. make test runs it in hack/sandbox (the marker):
# it turns on IPv6 on bridges and containers of its own.
# moat-bats: sandbox

load helpers
load escape

TOOL=$MOAT_BUILD/tools/nft6-layout

setup() {
  setup_moat_net
  [[ -x $TOOL ]] || fail "not built: $TOOL (make unit-bins)"
  # Written as nft prints it: no leading zeros in a group.
  V6=fd6d:$(printf '%x' "0x${PFX#mx}"):$(printf '%x' "$PICK_B")
  GW6=$V6::1
  echo "$V6:" >>"$T/words"
}
teardown() {
  nft delete table bridge "${PFX}cnt" 2>/dev/null || true
  teardown_moat_net
}

# bridge6: the test's bridge as a dual-stack network's (the research's
# recommended design): its link-local valid at once, the gateway's global
# address, no multicast snooping.
bridge6() {
  ip link add "$BR" type bridge mcast_snooping 0
  echo "$BR" >>"$T/links"
  sysctl -qw "net.ipv6.conf.$BR.addr_gen_mode=1" "net.ipv6.conf.$BR.accept_dad=0"
  ip link set "$BR" up
  ip addr add "$GW/24" dev "$BR"
  ip -6 addr add fe80::1/64 dev "$BR" nodad
  ip -6 addr add "$GW6/64" dev "$BR" nodad
}

# ctr6 NAME N: netns $PFX$NAME with eth0 (MAC 02:00:00:00:00:0N, $NETPFX.N,
# $V6::N), its host end $PFX-hN on the bridge (isolated, no learning, a
# static FDB entry), its IPv6 set up before the link goes up.
ctr6() {
  local ns=$PFX$1 n=$2 host=${PFX}h$1 mac
  mac=$(printf '02:00:00:00:00:%02x' "$n")
  new_netns "$1"
  ip link add "$host" type veth peer name eth0 netns "$ns"
  echo "$host" >>"$T/links"
  echo "$host" >>"$T/words"
  sysctl -qw "net.ipv6.conf.$host.disable_ipv6=1"
  ip link set "$host" master "$BR" up
  bridge link set dev "$host" isolated on learning off flood off
  bridge fdb add "$mac" dev "$host" master static
  ip -n "$ns" link set eth0 address "$mac"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_ra=0 net.ipv6.conf.eth0.autoconf=0 \
    net.ipv6.conf.eth0.accept_dad=0 net.ipv6.conf.eth0.addr_gen_mode=0 \
    net.ipv6.conf.eth0.accept_redirects=0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  ip -n "$ns" addr add "$NETPFX.$n/24" dev eth0
  ip -n "$ns" -6 addr add "$V6::$n/64" dev eth0 nodad noprefixroute
  ip -n "$ns" -6 route add "$GW6/128" dev eth0
  ip -n "$ns" -6 route add default via "$GW6" dev eth0
}

# member ADD|DEL|CHECK NAME N [4]: the container's elements (with its IPv6
# address, unless "4").
member() {
  local mac
  mac=$(printf '02:00:00:00:00:%02x' "$3")
  if [[ ${4-} == 4 ]]; then
    "$TOOL" "$1" "$BR" "${PFX}h$2" "$mac" "$NETPFX.$3" "$GW"
  else
    "$TOOL" "$1" "$BR" "${PFX}h$2" "$mac" "$NETPFX.$3" "$GW" "$V6::$3" "$GW6"
  fi
}

@test "IPv6 half: made by the first dual-stack ADD only, into tables an IPv4-only member made" {
  bridge6
  ctr6 b 3
  ctr6 a 2
  run -0 member add b 3 4
  run -0 nft list table inet moat
  assert_not_contains "$output" members6 "the IPv4-only layout"
  run -0 nft list table bridge moat
  assert_not_contains "$output" from_port6 "the IPv4-only bridge table"
  run -0 member add a 2
  run -0 nft list set inet moat members6
  assert_contains "$output" "\"$BR\" . $V6::2" "members6"
  run -0 nft list set bridge moat ports6
  assert_contains "$output" "\"${PFX}ha\" . 02:00:00:00:00:02 . $V6::2" "ports6, global"
  assert_contains "$output" "\"${PFX}ha\" . 02:00:00:00:00:02 . fe80::ff:fe00:2" "ports6, link-local"
  run -0 nft list chain bridge moat prerouting
  # made at the chain's head, before the IPv4 rule that ends in drop
  assert_match "$output" "ether type ip6 iifname @guarded jump from_port6.*iifname @guarded jump from_port" \
    "bridge prerouting"
  run -0 member check a 2
  # a second dual-stack member takes the fast path: nothing made twice
  run -0 member del b 3 4
  run -0 member add b 3
  run -0 nft list chain bridge moat prerouting
  assert_eq "$(grep -c from_port6 <<<"$output")" 1 "jumps to from_port6"
  run -0 member del a 2
  run -0 nft list set bridge moat ports6
  assert_not_contains "$output" "${PFX}ha" "a's ports6 after DEL"
  run -0 nft list set inet moat self6
  assert_not_contains "$output" "$V6::2" "a's self6 after DEL"
}

# count_table: rules of the test's own at priority -300 (before moat's
# -200) and -100 (after it) counting a's IPv6 frames by kind.
count_table() {
  local h=${PFX}ha kinds=(
    "icmpv6 type nd-neighbor-solicit"
    "icmpv6 type nd-neighbor-advert"
    "icmpv6 type nd-router-advert"
    "icmpv6 type nd-redirect"
    "icmpv6 type mld2-listener-report"
    "udp sport 547"
    "icmpv6 type echo-request"
  ) k
  {
    echo "table bridge ${PFX}cnt {"
    for k in pre post; do
      echo "chain $k { type filter hook prerouting priority $([[ $k == pre ]] && echo -300 || echo -100);"
      local kind
      for kind in "${kinds[@]}"; do
        echo "  iifname \"$h\" ether type ip6 $kind counter comment \"$kind\""
      done
      echo "}"
    done
    echo "}"
  } | nft -f -
}

# counted CHAIN KIND: packets the test's rule for KIND counted in CHAIN.
counted() {
  nft list chain bridge "${PFX}cnt" "$1" |
    awk -v k="comment \"$2\"" 'index($0, k) { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}

@test "IPv6 port checks: a container's own ND passes; spoofing, forged ND, RA, redirect, MLD, DHCPv6 server dropped" {
  bridge6
  ctr6 a 2
  ctr6 b 3
  run -0 member add a 2
  run -0 member add b 3
  NSA=${PFX}a NSB=${PFX}b MACA=02:00:00:00:00:02 MACB=02:00:00:00:00:03
  local lla=fe80::ff:fe00:2 gwmac
  gwmac=$(cat "/sys/class/net/$BR/address")
  count_table
  sniff_start A host "${PFX}ha"
  sniff_start B "$NSB" eth0
  sniff_start BR host "$BR"

  # The container's own: a solicitation for the gateway, an advertisement
  # of its own address, each with its own MAC in the option.
  run -0 xpkt "$NSA" send eth0 ns --smac "$MACA" --dmac 33:33:ff:00:00:01 --src "$V6::2" \
    --target "$GW6" --token v6-ns-own
  run -0 xpkt "$NSA" send eth0 na6 --smac "$MACA" --dmac 33:33:00:00:00:01 --src "$V6::2" \
    --target "$V6::2" --token v6-na-own
  wait_captured BR v6-ns-own || fail "a's own solicitation never reached the host"
  wait_captured BR v6-na-own || fail "a's own advertisement never reached the host"
  # the host learnt a's MAC from it, and answers
  wait_for 5 eval "ip -6 neigh show dev $BR | grep -q '$V6::2 lladdr $MACA'"

  # The attacks.
  run -0 xpkt "$NSA" send eth0 echo6 --smac "$MACA" --dmac "$gwmac" --src "$V6::3" --dst "$GW6" \
    --token v6-spoof
  run -0 xpkt "$NSA" send eth0 na6 --smac "$MACA" --dmac 33:33:00:00:00:01 --src "$V6::2" \
    --target "$V6::3" --token v6-na-peer
  run -0 xpkt "$NSA" send eth0 na6 --smac "$MACA" --dmac 33:33:00:00:00:01 --src "$V6::2" \
    --target "$V6::2" --lla "$MACB" --token v6-na-mac
  run -0 xpkt "$NSA" send eth0 ns --smac "$MACA" --dmac 33:33:ff:00:00:01 --src "$V6::2" \
    --target "$GW6" --lla "$MACB" --token v6-ns-mac
  run -0 xpkt "$NSA" send eth0 ns --smac "$MACA" --dmac 33:33:ff:00:00:01 --src "$V6::2" \
    --target "$GW6" --opt-type 2 --token v6-ns-tllao
  run -0 xpkt "$NSA" send eth0 ra --smac "$MACA" --dmac 33:33:00:00:00:01 --src "$lla" \
    --prefix "$V6::" --token v6-ra
  run -0 xpkt "$NSA" send eth0 redirect6 --smac "$MACA" --dmac "$gwmac" --src "$lla" \
    --dst fe80::1 --target "$V6::2" --dest "$V6::3" --token v6-redirect
  run -0 xpkt "$NSA" send eth0 mld2 --smac "$MACA" --dmac 33:33:00:00:00:16 --src "$lla" \
    --target ff02::1:ff00:3 --token v6-mld
  run -0 xpkt "$NSA" send eth0 udp6 --smac "$MACA" --dmac 33:33:00:00:00:01 --src "$lla" \
    --dst ff02::1 --sport 547 --dport 546 --token v6-dhcp6
  local t probes=(v6-spoof v6-na-peer v6-na-mac v6-ns-mac v6-ns-tllao v6-ra v6-redirect v6-mld v6-dhcp6)
  for t in "${probes[@]}"; do sent_by_a "$t"; done

  # Control, after the probes along their path: a's own echo to the gateway.
  run -0 xpkt "$NSA" send eth0 echo6 --smac "$MACA" --dmac "$gwmac" --src "$V6::2" --dst "$GW6" \
    --token v6-ctl
  wait_captured BR v6-ctl || fail "a's own echo request never reached the host"
  for t in "${probes[@]}"; do
    assert_not_captured BR "$t" "$t at the host"
    assert_not_captured B "$t" "$t at b"
  done
  # The host's entry for b's address never took a's MAC.
  assert_not_contains "$(ip -6 neigh show dev "$BR" | grep "$V6::3 " || true)" "$MACA" "b's entry"

  # Counted at the port: seen before moat's chain, none of the dropped
  # kinds after it (a's own solicitation, advertisement and echoes pass).
  local kind
  for kind in "icmpv6 type nd-router-advert" "icmpv6 type nd-redirect" \
    "icmpv6 type mld2-listener-report" "udp sport 547"; do
    (($(counted pre "$kind") >= 1)) || fail "$kind: not counted before moat"
    assert_eq "$(counted post "$kind")" 0 "$kind after moat's chain"
  done
  # solicitations: a's own passed, the two forged did not; advertisements:
  # a's own passed, the two forged did not; echo: a's control, not the spoof
  (($(counted pre "icmpv6 type nd-neighbor-solicit") >= 3)) || fail "solicitations before moat"
  assert_eq "$(counted post "icmpv6 type nd-neighbor-solicit")" 1 "solicitations after moat"
  (($(counted pre "icmpv6 type nd-neighbor-advert") >= 3)) || fail "advertisements before moat"
  assert_eq "$(counted post "icmpv6 type nd-neighbor-advert")" 1 "advertisements after moat"
  assert_eq "$(counted pre "icmpv6 type echo-request")" 2 "echo requests before moat"
  assert_eq "$(counted post "icmpv6 type echo-request")" 1 "echo requests after moat"
}

@test "IPv6 identities: an identity from before dual stack gets its IPv6 chain with its first dual-stack member; a drop takes both" {
  bridge6
  ctr6 a 2
  ctr6 b 3
  run -0 member add a 2
  run -0 member add b 3
  local id=${PFX#mx}${PFX#mx} a4=$NETPFX.2 b4=$NETPFX.3
  run -0 "$TOOL" policy v4 "$id" "$a4" "$V6::2" "$b4" "$V6::3"
  run ! nft list chain inet moat "id_${id}6"
  run -0 "$TOOL" policy join "$id" "$a4" "$V6::2" "$b4" "$V6::3"
  run -0 nft list chain inet moat "id_${id}6"
  assert_contains "$output" "ip6 daddr @id_${id}6 accept" "the IPv6 chain's rule"
  run -0 nft list map inet moat src_ident6
  assert_contains "$output" "$V6::2 : jump id_${id}6" "src_ident6"
  run -0 nft list set inet moat "id_${id}6"
  assert_contains "$output" "$V6::3" "the identity's IPv6 set"
  # again: nothing made twice
  run -0 "$TOOL" policy join "$id" "$a4" "$V6::2" "$b4" "$V6::3"
  run -0 nft list chain inet moat "id_${id}6"
  assert_eq "$(grep -c accept <<<"$output")" 1 "rules of the IPv6 chain"
  run -0 "$TOOL" policy drop "$id" "$a4" "$V6::2" "$b4" "$V6::3"
  run ! nft list chain inet moat "id_${id}6"
  run ! nft list chain inet moat "id_${id}"
  run -0 nft list map inet moat src_ident6
  assert_not_contains "$output" "$V6::2" "src_ident6 after the drop"
}
