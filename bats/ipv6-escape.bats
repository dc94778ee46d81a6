#!/usr/bin/env bats
# moat-bats: sandbox
# shellcheck disable=SC2034,SC2016,SC2153 # variables for and from escape.bash; jq in single quotes
# Escape attempts over IPv6 (issue 17; docs/design.md, "IPv6"): escape.bats'
# world on a dual-stack network, attacked by a container's root with real
# IPv6 frames (bats/escape.bash's xpkt) and captured on the targets:
# ICMPv6 errors quoting other containers' flows, extension headers and
# fragments in front of a refused port, forged advertisements for the
# gateway's and a peer's address, DHCPv6 replies to a peer's solicit, a
# redirect to a peer, source spoofing, and flows opened before their access
# went. The port checks against a bare bridge are bats/ipv6.bats'; this
# file runs on the bridge, veths and tables the plugin makes. Like
# ipv6-policy.bats it turns IPv6 forwarding on, so make test runs it in
# hack/sandbox (the marker).

load helpers
load escape
load flows

setup() {
  setup_dual_stack_net
}
teardown() {
  nft delete table bridge "${PFX}frag" 2>/dev/null || true
  teardown_moat_net
}

# frag_counters_start: a table of the test's own counting, at the bridge's
# input hook (after moat's port checks), the IPv6 fragments that reach the
# host: to link-local, to multicast, to the gateway's global address.
frag_counters_start() {
  nft -f - <<NFT
table bridge ${PFX}frag {
  chain input {
    type filter hook input priority 0;
    exthdr frag exists ip6 daddr fe80::/10 counter
    exthdr frag exists ip6 daddr ff00::/8 counter
    exthdr frag exists ip6 daddr $GW6 counter
  }
}
NFT
}

# frag_count N: packets counted by the Nth rule (1-3) of frag_counters_start.
frag_count() {
  nft list chain bridge "${PFX}frag" input | awk '/counter packets/ { n++; if (n == '"$1"') { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) } }'
}

lla_of() { ip -n "$1" -6 -o addr show dev eth0 scope link | awk '{ sub("/.*", "", $4); print $4 }'; }
# got TOKEN: how many lines a server logged with TOKEN in them (a
# fragmented probe's line carries it twice, with padding).
got() { grep -cF -- "$1" "$T/received" || true; }

# setup_world6: escape.bash's world (a attacker; b, c app=pair; b may open
# the host's tcp/udp $P, a its udp/$PA) with each one's IPv6 address (A6,
# B6, C6) and link-local (LLA, LLB), and the same servers on IPv6.
setup_world6() {
  setup_world
  A6=$(ip6_of a) B6=$(ip6_of b) C6=$(ip6_of c)
  LLA=$(lla_of "$NSA") LLB=$(lla_of "$NSB")
  [[ -n $A6 && -n $B6 && -n $C6 && -n $LLA && -n $LLB ]] || fail "addresses: $A6 $B6 $C6 $LLA $LLB"
  ns_tcp_listen "$NSB" "$B6" "$P"
  ns_udp_listen "$NSB" "$B6" "$P"
  ns_tcp_listen "$NSC" "$C6" "$P"
  ns_udp_listen "$NSC" "$C6" "$P"
  ns_tcp_listen host "$GW6" "$P"
  ns_udp_listen host "$GW6" "$P"
  ns_udp_listen host "$GW6" "$PA"
  assert_intact6
}

# assert_intact6: over IPv6 b and c talk, b reaches its host port, the host
# reaches b, a is refused by b.
assert_intact6() {
  PROBE_TOKEN=i6-bc-$RANDOM run -0 ns_tcp_connect "$NSB" "$C6" "$P"
  PROBE_TOKEN=i6-cb-$RANDOM run -0 ns_udp_connect "$NSC" "$B6" "$P"
  PROBE_TOKEN=i6-bh-$RANDOM run -0 ns_udp_connect "$NSB" "$GW6" "$P"
  PROBE_TOKEN=i6-hb-$RANDOM run -0 ns_tcp_connect host "$B6" "$P"
  PROBE_TOKEN=i6-ab-$RANDOM run ns_tcp_connect "$NSA" "$B6" "$P"
  assert_eq "$output" refused "a -> b tcp6"
}

# a6 KIND TOKEN [xpkt options]: a frame of a's, from its MAC to the
# gateway's MAC (a routed packet) unless the options say otherwise.
a6() {
  local kind=$1 tok=$2
  shift 2
  run -0 xpkt "$NSA" send eth0 "$kind" --smac "$MACA" --dmac "$GWMAC" --token "$tok" "$@"
}

@test "IPv6 ICMP errors quoting other containers' flows reach neither them nor the host; one's own packet too big reaches its peer" {
  setup_world6
  local s1=$((P + 3)) s2=$((P + 4)) s3=$((P + 5)) t
  sniff_start HIP host -ip6
  # b's flows: b:s1 -> host:P and b:s2 -> c:P; a's own: a:s3 -> host:PA.
  run -0 ns_run "$NSB" sh -c "printf 'e6-f1\n' | timeout 5 socat -t1 -T2 - UDP6:[$GW6]:$P,sourceport=$s1"
  assert_contains "$output" "reply e6-f1"
  run -0 ns_run "$NSB" sh -c "printf 'e6-f2\n' | timeout 5 socat -t1 -T2 - UDP6:[$C6]:$P,sourceport=$s2"
  assert_contains "$output" "reply e6-f2"
  run -0 ns_run "$NSA" sh -c "printf 'e6-f3\n' | timeout 5 socat -t1 -T2 - UDP6:[$GW6]:$PA,sourceport=$s3"
  assert_contains "$output" "reply e6-f3"
  local -a flow_bh=(--inner-src "$B6" --inner-sport "$s1" --inner-dst "$GW6" --inner-dport "$P")
  local -a flow_bc=(--inner-src "$B6" --inner-sport "$s2" --inner-dst "$C6" --inner-dport "$P")
  local -a flow_cb=(--inner-src "$C6" --inner-sport "$P" --inner-dst "$B6" --inner-dport "$s2")
  local -a flow_hb=(--inner-src "$GW6" --inner-sport "$P" --inner-dst "$B6" --inner-dport "$s1")
  # To b: port unreachable for its host flow, packet too big and time
  # exceeded for its flow with c; to c: the same for its replies to b; to
  # the host: packet too big and unreachable for its replies to b.
  a6 icmp6-error e6-unreach-b --src "$A6" --dst "$B6" --type 1 --code 4 "${flow_bh[@]}"
  a6 icmp6-error e6-ptb-b --src "$A6" --dst "$B6" --type 2 --mtu 1280 "${flow_bc[@]}"
  a6 icmp6-error e6-time-b --src "$A6" --dst "$B6" --type 3 --code 0 "${flow_bc[@]}"
  a6 icmp6-error e6-ptb-c --src "$A6" --dst "$C6" --type 2 --mtu 1280 "${flow_cb[@]}"
  a6 icmp6-error e6-unreach-c --src "$A6" --dst "$C6" --type 1 --code 1 "${flow_cb[@]}"
  a6 icmp6-error e6-ptb-host --src "$A6" --dst "$GW6" --type 2 --mtu 1280 "${flow_hb[@]}"
  a6 icmp6-error e6-unreach-host --src "$A6" --dst "$GW6" --type 1 --code 4 "${flow_hb[@]}"
  local probes=(e6-unreach-b e6-ptb-b e6-time-b e6-ptb-c e6-unreach-c e6-ptb-host e6-unreach-host)
  for t in "${probes[@]}"; do sent_by_a "$t"; done
  settle B "$IPB"
  settle C "$IPC"
  settle_host
  for t in "${probes[@]}"; do
    assert_not_captured B "$t" "$t at b"
    assert_not_captured C "$t" "$t at c"
    assert_not_captured HIP "$t" "$t delivered to the host's stack"
  done
  # No smaller path MTU anywhere.
  assert_not_contains "$(ip -n "$NSB" -6 route get "$C6")" "mtu" "b's route to c"
  assert_not_contains "$(ip -n "$NSC" -6 route get "$B6")" "mtu" "c's route to b"
  assert_not_contains "$(ip -6 route get "$B6")" "mtu" "the host's route to b"

  # One's own flow: b's packet too big for c's replies on b's flow reaches
  # c (related, b an endpoint: the self6 rule) and c's route to b takes
  # the MTU; a's for the host's replies on its own flow reaches the host.
  run -0 xpkt "$NSB" send eth0 icmp6-error --smac "$MACB" --dmac "$GWMAC" --src "$B6" --dst "$C6" \
    --type 2 --mtu 1280 "${flow_cb[@]}" --token e6-ptb-own-c
  wait_captured C e6-ptb-own-c || fail "b's packet too big for its own flow never reached c"
  wait_for 5 eval "ip -n $NSC -6 route get $B6 | grep -q 'mtu 1280'" ||
    fail "c's route to b took no MTU: $(ip -n "$NSC" -6 route get "$B6")"
  a6 icmp6-error e6-ptb-own-host --src "$A6" --dst "$GW6" --type 2 --mtu 1280 \
    --inner-src "$GW6" --inner-sport "$PA" --inner-dst "$A6" --inner-dport "$s3"
  wait_captured HIP e6-ptb-own-host || fail "a's packet too big for its own flow never reached the host"
  assert_unchanged
  assert_intact6
}

@test "IPv6 extension headers and fragments: a refused port stays refused behind them; an allowed flow passes through them" {
  setup_world6
  local t n=0
  local -a to_c=(--src "$A6" --dst "$C6" --dport "$P")
  local -a to_host=(--src "$A6" --dst "$GW6" --dport "$P")
  # a may open neither c's port nor the host's $P (b may).
  a6 udp6 x6-hbh-c "${to_c[@]}" --sport 41001 --ext hbh
  a6 udp6 x6-dst-c "${to_c[@]}" --sport 41002 --ext dst
  a6 udp6 x6-atomic-c "${to_c[@]}" --sport 41003 --ext atomic
  a6 udp6 x6-chain-c "${to_c[@]}" --sport 41004 --ext hbh,dst,atomic
  a6 udp6 x6-frags-c "${to_c[@]}" --sport 41005 --frag all
  a6 udp6 x6-first-c "${to_c[@]}" --sport 41006 --frag first
  a6 udp6 x6-rest-c "${to_c[@]}" --sport 41007 --frag rest
  a6 udp6 x6-hbhfrag-c "${to_c[@]}" --sport 41008 --ext hbh --frag all
  a6 tcp6-syn x6-syn-atomic-c "${to_c[@]}" --sport 41009 --ext atomic
  a6 tcp6-syn x6-syn-frags-c "${to_c[@]}" --sport 41010 --frag all
  a6 udp6 x6-hbh-h "${to_host[@]}" --sport 41011 --ext hbh
  a6 udp6 x6-frags-h "${to_host[@]}" --sport 41012 --frag all
  a6 tcp6-syn x6-syn-dst-h "${to_host[@]}" --sport 41013 --ext dst
  a6 tcp6-syn x6-syn-frags-h "${to_host[@]}" --sport 41014 --frag all
  local c_probes=(x6-hbh-c x6-dst-c x6-atomic-c x6-chain-c x6-frags-c x6-first-c x6-rest-c x6-hbhfrag-c
    x6-syn-atomic-c x6-syn-frags-c)
  local h_probes=(x6-hbh-h x6-frags-h x6-syn-dst-h x6-syn-frags-h)
  for t in "${c_probes[@]}" "${h_probes[@]}"; do sent_by_a "$t"; done
  # The refusal answers a (reject), so the kernel saw through the headers:
  # a TCP reset for each SYN, admin-prohibited for the UDP ones.
  wait_for 5 frames_at_least 4 A out - 86dd 20=06 67=14 ||
    fail "resets to a's SYNs: $(frames A out - 86dd 20=06 67=14)"
  settle C "$IPC"
  settle_host
  for t in "${c_probes[@]}"; do assert_not_captured C "$t" "$t at c"; done
  for t in "${c_probes[@]}" "${h_probes[@]}"; do assert_eq "$(got "$t")" 0 "$t delivered"; done
  assert_eq "$(frames A out - 86dd 20=06 67=12)" 0 "SYN-ACKs to a"

  # The same headers on a flow moat allows: b to c, b to its host port.
  run -0 xpkt "$NSB" send eth0 udp6 --smac "$MACB" --dmac "$GWMAC" --src "$B6" --dst "$C6" --dport "$P" \
    --sport 41020 --ext hbh,dst,atomic --token x6-ok-chain-c
  run -0 xpkt "$NSB" send eth0 udp6 --smac "$MACB" --dmac "$GWMAC" --src "$B6" --dst "$C6" --dport "$P" \
    --sport 41021 --frag all --token x6-ok-frags-c
  run -0 xpkt "$NSB" send eth0 udp6 --smac "$MACB" --dmac "$GWMAC" --src "$B6" --dst "$GW6" --dport "$P" \
    --sport 41022 --ext dst --frag all --token x6-ok-frags-h
  for t in x6-ok-chain-c x6-ok-frags-c x6-ok-frags-h; do
    wait_for 5 eval "(( \$(got $t) >= 1 ))" || fail "allowed $t never reached its server"
  done
  assert_intact6
}

@test "IPv6 neighbour, DHCPv6 and redirect forgeries on a dual-stack network: the gateway's and a peer's address, a peer's solicit, spoofed sources" {
  setup_world6
  local t lla_h
  # The host's and b's neighbour entries that matter, made before (b's for
  # the gateway by assert_intact6's flows).
  run -0 ping -6 -c1 -W1 "$B6"
  [[ $(ip -n "$NSB" -6 neigh show dev eth0 "$GW6") == *lladdr* ]] || fail "b has no entry for the gateway"
  lla_h=$(ip -6 -o addr show dev "$BR" scope link | awk '{ sub("/.*", "", $4); print $4; exit }')
  [[ -n $lla_h ]] || fail "no link-local on $BR"

  frag_counters_start
  # Advertisements: the gateway's address to all nodes and to b (override),
  # b's address to the host (solicited, override) and to all nodes.
  a6 na6 n6-gw-all --dmac 33:33:00:00:00:01 --src "$LLA" --dst ff02::1 --target "$GW6"
  a6 na6 n6-gw-b --dmac "$MACB" --src "$LLA" --dst "$LLB" --target "$GW6"
  a6 na6 n6-b-host --src "$A6" --dst "$GW6" --target "$B6" --na-flags 96
  a6 na6 n6-blla-host --src "$LLA" --dst "$lla_h" --target "$LLB" --na-flags 96
  # DHCPv6: b solicits (from its own stack's address and port); a answers
  # it as a server, from 547 and from another port, on the link and routed.
  run -0 xpkt "$NSB" send eth0 udp6 --smac "$MACB" --dmac 33:33:00:01:00:02 --src "$LLB" \
    --dst ff02::1:2 --sport 546 --dport 547 --token d6-solicit-b
  a6 udp6 d6-adv-lla --dmac "$MACB" --src "$LLA" --dst "$LLB" --sport 547 --dport 546
  a6 udp6 d6-adv-port --dmac "$MACB" --src "$LLA" --dst "$LLB" --sport 40547 --dport 546
  a6 udp6 d6-adv-routed --src "$A6" --dst "$B6" --sport 547 --dport 546
  a6 udp6 d6-adv-all --dmac 33:33:00:00:00:01 --src "$LLA" --dst ff02::1 --sport 547 --dport 546
  # The same to a DHCPv6 client's port on the host, in two fragments: the
  # port's "udp sport 547" cannot read the second one, the host's input
  # chain judges the reassembled datagram. The listener answers the host.
  ns_udp_listen host "::" 546
  PROBE_TOKEN=d6-host-ctl run -0 ns_udp_connect host ::1 546
  a6 udp6 d6-adv-frag-lla --src "$LLA" --dst "$lla_h" --sport 547 --dport 546 --frag all
  a6 udp6 d6-adv-frag-gw --src "$A6" --dst "$GW6" --sport 547 --dport 546 --frag all
  # A redirect from a: to b (its route to c through a), to the host (b's
  # address through a).
  a6 redirect6 r6-b --dmac "$MACB" --src "$LLA" --dst "$LLB" --target "$LLA" --dest "$C6"
  a6 redirect6 r6-host --src "$LLA" --dst "$lla_h" --target "$LLA" --dest "$B6"
  # The same cut in fragments, the ICMPv6 header only in the second (the
  # port cannot read the type of either; the host's stack gets them).
  a6 na6 f6-b-host --src "$A6" --dst "$GW6" --target "$B6" --na-flags 96 --frag all --frag-dst
  a6 na6 f6-blla-host --src "$LLA" --dst "$lla_h" --target "$LLB" --na-flags 96 --frag all --frag-dst
  a6 ra f6-ra --dmac 33:33:00:00:00:01 --src "$LLA" --prefix "${V6PFX%:*}:ff::" --frag all --frag-dst
  a6 redirect6 f6-r-host --src "$LLA" --dst "$lla_h" --target "$LLA" --dest "$B6" --frag all --frag-dst
  # Spoofed sources: b's (b may reach c and the host's $P), its link-local,
  # the gateway's.
  a6 udp6 s6-b-c --src "$B6" --dst "$C6" --dport "$P"
  a6 tcp6-syn s6-b-c-tcp --src "$B6" --dst "$C6" --dport "$P"
  a6 udp6 s6-b-host --src "$B6" --dst "$GW6" --dport "$P"
  a6 udp6 s6-blla-host --src "$LLB" --dst "$lla_h" --dport "$P"
  a6 udp6 s6-gw-c --src "$GW6" --dst "$C6" --dport "$P"
  local probes=(n6-gw-all n6-gw-b n6-b-host n6-blla-host d6-adv-lla d6-adv-port d6-adv-routed d6-adv-all
    d6-adv-frag-lla d6-adv-frag-gw f6-b-host f6-blla-host f6-ra f6-r-host r6-b r6-host s6-b-c s6-b-c-tcp s6-b-host s6-blla-host s6-gw-c)
  for t in "${probes[@]}"; do sent_by_a "$t"; done
  wait_captured BR d6-solicit-b || fail "b's solicit never reached the bridge"
  settle B "$IPB"
  settle C "$IPC"
  settle_host
  for t in "${probes[@]}"; do
    assert_not_captured B "$t" "$t at b"
    assert_not_captured C "$t" "$t at c"
  done
  for t in n6-gw-all n6-b-host n6-blla-host r6-host s6-b-host s6-blla-host; do
    assert_not_captured BR "$t" "$t at the host"
  done
  # Fragments to link-local and multicast addresses stop at the port; those
  # to the gateway's global address go on, to be judged reassembled.
  assert_eq "$(frag_count 1)" 0 "fragments to link-local addresses past the port"
  assert_eq "$(frag_count 2)" 0 "fragments to multicast addresses past the port"
  (($(frag_count 3) > 0)) || fail "no fragment to the gateway's global address reached the host's input: nothing was counted"
  assert_not_captured A d6-solicit-b out "b's solicit at a"
  assert_eq "$(got s6-b-c)$(got s6-b-host)$(got s6-gw-c)" 000 "spoofed datagrams delivered"
  assert_eq "$(got d6-adv-frag-lla)$(got d6-adv-frag-gw)" 00 "fragmented DHCPv6 answers delivered on the host"
  # No neighbour entry took a's MAC: the host's for b, b's for the gateway.
  assert_not_contains "$(ip -6 neigh show dev "$BR" | awk -v a="$A6" -v l="$LLA" '$1 != a && $1 != l')" \
    "$MACA" "the host's IPv6 neighbours but a's own"
  assert_not_contains "$(ip -n "$NSB" -6 neigh show dev eth0)" "$MACA" "b's IPv6 neighbours"
  assert_not_contains "$(ip -n "$NSB" -6 route get "$C6")" "$LLA" "b's route to c"
  assert_not_contains "$(ip -6 route get "$B6")" "via" "the host's route to b"
  assert_not_contains "$(ip -6 route show table all; ip -6 addr show)" "${V6PFX%:*}:ff:" "the host's IPv6"
  assert_others_intact
  assert_intact6
}

# flow6 NAME FROM TO PROTO PORT: a logged IPv6 flow (flows.bash) from FROM
# to TO's echo server.
flow6() {
  flow_probe "$(ns_of "$2")" "$4" "$(ip6_of "$3")" "$5" 12 "$1"
}

@test "IPv6 flows opened before a change: a revoked grant and a removed label stop them within 1 s" {
  flows_install
  local port tm
  port=$(random_port)
  add_container a
  add_container b
  add_container c
  add_container d
  run -0 hook prestart c '{"io.moat.labels": "app=x"}'
  run -0 hook prestart d '{"io.moat.labels": "app=x"}'
  flow_serve "$(ns_of b)" tcp "$(ip6_of b)" "$port"
  flow_serve "$(ns_of b)" udp "$(ip6_of b)" "$port"
  flow_serve "$(ns_of d)" tcp "$(ip6_of d)" "$port"
  flow_serve "$(ns_of d)" udp "$(ip6_of d)" "$port"
  run -0 "$MOAT_BUILD/moatctl" grant "$(cid_of a)" peer "$(cid_of b)"
  flow6 gtcp a b tcp "$port"
  flow6 gudp a b udp "$port"
  flow6 ltcp c d tcp "$port"
  flow6 ludp c d udp "$port"
  flows_flowing gtcp gudp ltcp ludp
  tm=$(now)
  run -0 "$MOAT_BUILD/moatctl" revoke "$(cid_of a)" peer "$(cid_of b)"
  flow_cut gtcp "$tm"
  flow_cut gudp "$tm"
  flow_lives ltcp "$tm"
  tm=$(now)
  run -0 hook prestart c '{"io.moat.labels": "app=y"}'
  flow_cut ltcp "$tm"
  flow_cut ludp "$tm"
  PROBE_TOKEN=f6-new run ns_tcp_connect "$(ns_of a)" "$(ip6_of b)" "$port"
  assert_eq "$output" refused "a new connection after the revoke"
}
