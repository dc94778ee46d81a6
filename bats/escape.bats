#!/usr/bin/env bats
# shellcheck disable=SC2034 # A_IF is read by escape.bash
# Escape attempts (issue 6): a container's root tries to get past moat with
# real traffic — spoofed addresses, MACs and ARP, IPv6, broadcast and
# multicast, rogue DHCP and router advertisements, ICMP redirects and
# errors, hairpins through the gateway, raw sockets in a real runc
# container, a rearranged interface, TTL tricks. Each attempt is refused,
# and the other containers' policy and flows stay as they were.
#
# The attacker runs in its container's network namespace through `ip netns
# exec`: root there, with every capability of that namespace, using the
# host's binaries (python3 for crafted frames, busybox, ip) as the
# container's root could use its own copies; one test runs the same tool
# inside a real runc container that has CAP_NET_RAW and not CAP_NET_ADMIN.
# Captures (bats/escape.bash) prove that each probe left the attacker and
# that the victims' captures were running when it would have arrived.
# isolation.bats already covers: a container that readdresses itself to a
# free address or to its peer's, and one that changes its MAC (plain
# traffic through its own stack).

load helpers
load runc
load escape

setup() { setup_moat_net; }
teardown() {
  # A published-port test turns br_netfilter's IP hooks off in this
  # (sandboxed) namespace: put them back.
  [[ ! -s ${T-}/nf_saved ]] || cat "$T/nf_saved" >/proc/sys/net/bridge/bridge-nf-call-iptables
  runc_teardown # the runc container of the raw-socket test, if any
  teardown_moat_net
}

# a_udp TOKEN SRC DST DPORT [xpkt options]: a UDP datagram from a's eth0 to
# the gateway's MAC (a routed packet), with a's MAC unless --smac is given.
a_udp() {
  local tok=$1 src=$2 dst=$3 dport=$4
  shift 4
  run -0 xpkt "$NSA" send eth0 udp --smac "$MACA" --dmac "$GWMAC" --src "$src" --dst "$dst" \
    --dport "$dport" --token "$tok" "$@"
}

@test "IP spoofing: posing as a peer that may reach a third container, or the host" {
  setup_world
  # Control: b itself reaches c and its host port with such a datagram.
  a_udp ctl-a-host "$IPA" "$GW" "$PA"
  wait_for 5 received_is ctl-a-host 1
  PROBE_TOKEN=ctl-b-c run -0 ns_udp_connect "$NSB" "$IPC" "$P"

  a_udp spoof-b-c "$IPB" "$IPC" "$P"
  a_udp spoof-b-host "$IPB" "$GW" "$P"
  a_udp spoof-gw-c "$GW" "$IPC" "$P"
  a_udp spoof-free-c "$NETPFX.250" "$IPC" "$P"
  local t
  for t in spoof-b-c spoof-b-host spoof-gw-c spoof-free-c; do sent_by_a "$t"; done
  settle C "$IPC"
  for t in spoof-b-c spoof-gw-c spoof-free-c; do assert_not_captured C "$t"; done
  assert_not_captured BR spoof-b-host "spoofed datagram reaching the host"
  assert_eq "$(received spoof-b-c)$(received spoof-b-host)" 00 "delivered"
  assert_others_intact
}

@test "IP spoofing: posing as an outside address that c lets in, or faking a reply" {
  setup_outside
  setup_world
  local ingress sport=$((P + 2))
  ingress=$(jq -nc --arg v "$OUT_IP/32 udp/$P" '{"io.moat.labels": "app=pair", "io.moat.ingress": $v}')
  run -0 hook prestart c "$ingress"
  snapshot_others b c
  ns_udp_listen "$OUT_NS" "$OUT_IP" "$P"
  # Control: the outside address itself reaches c.
  PROBE_TOKEN=ctl-out-c run -0 ns_udp_connect "$OUT_NS" "$IPC" "$P"
  # b has a flow with the outside (a grant): its reply comes back...
  run -0 "$MOAT_BUILD/moatctl" grant "$(cid_of b)" egress "$OUT_IP/32" "udp/$P"
  PROBE_TOKEN=ctl-b-out run -0 ns_run "$NSB" sh -c \
    "printf 'ctl-b-out\n' | timeout 5 socat -t1 -T2 - UDP4:$OUT_IP:$P,sourceport=$sport"
  assert_contains "$output" "reply ctl-b-out"

  # ... but a cannot pose as the outside address, for c's ingress or as
  # the reply of b's flow.
  a_udp spoof-out-c "$OUT_IP" "$IPC" "$P"
  run -0 xpkt "$NSA" send eth0 udp --smac "$MACA" --dmac "$GWMAC" --src "$OUT_IP" --dst "$IPB" \
    --sport "$P" --dport "$sport" --token spoof-reply-b
  sent_by_a spoof-out-c
  sent_by_a spoof-reply-b
  settle C "$IPC"
  settle B "$IPB"
  assert_not_captured C spoof-out-c
  assert_not_captured B spoof-reply-b
  assert_eq "$(received spoof-out-c)" 0 "delivered to c"
  run -0 "$MOAT_BUILD/moatctl" revoke "$(cid_of b)" egress "$OUT_IP/32" "udp/$P"
  assert_others_intact
}

@test "MAC spoofing: a peer's, the gateway's, broadcast and multicast source MACs get nothing through" {
  setup_world
  local fdb_before
  fdb_before=$(bridge fdb show br "$BR" | sort)
  # Control: a's own MAC and address reach the host's granted port.
  a_udp ctl-mac "$IPA" "$GW" "$PA"
  wait_for 5 received_is ctl-mac 1

  local m t
  for m in "$MACB" "$GWMAC" ff:ff:ff:ff:ff:ff 01:00:5e:00:00:01 33:33:00:00:00:01; do
    t=mac-$(tr -d : <<<"$m")
    a_udp "$t" "$IPA" "$GW" "$PA" --smac "$m"
    # ... and with the address that goes with the stolen MAC.
    a_udp "$t-b" "$IPB" "$IPC" "$P" --smac "$m"
  done
  for m in "$MACB" "$GWMAC" ff:ff:ff:ff:ff:ff 01:00:5e:00:00:01 33:33:00:00:00:01; do
    t=mac-$(tr -d : <<<"$m")
    sent_by_a "$t"
    sent_by_a "$t-b"
  done
  settle C "$IPC"
  a_udp ctl-mac-2 "$IPA" "$GW" "$PA"
  wait_for 5 received_is ctl-mac-2 1
  for m in "$MACB" "$GWMAC" ff:ff:ff:ff:ff:ff 01:00:5e:00:00:01 33:33:00:00:00:01; do
    t=mac-$(tr -d : <<<"$m")
    assert_not_captured BR "$t" "frame from $m reaching the host"
    assert_not_captured C "$t-b" "frame from $m reaching c"
    assert_eq "$(received "$t")" 0 "delivered from $m"
  done
  # Nothing was learnt: the forwarding database is as it was, and frames
  # for b still go to b alone.
  assert_eq "$(bridge fdb show br "$BR" | sort)" "$fdb_before" "bridge fdb"
  control_udp host "$IPB" mac-after-b
  wait_captured B mac-after-b
  assert_eq "$(captured A mac-after-b any)" 0 "frames for b at a"
  assert_others_intact
}

@test "ARP spoofing: gratuitous ARP and replies claiming a peer's or the gateway's address poison nothing" {
  setup_world
  # The host knows b (and c), and b knows the gateway, before the attack.
  run -0 ping -c1 -W1 "$IPB"
  run -0 ping -c1 -W1 "$IPC"
  local host_before b_before
  host_before=$(neigh_of "$BR" | grep -E "^($IPB|$IPC) ")
  assert_match "$host_before" "$IPB $MACB" "host's entry for b"
  b_before=$(ip -n "$NSB" -4 neigh show dev eth0 | awk '$2 == "lladdr" { print $1, $3 }' | sort)
  assert_match "$b_before" "$GW $GWMAC" "b's entry for the gateway"

  # Control: a's honest gratuitous ARP reaches the host.
  run -0 xpkt "$NSA" send eth0 arp --smac "$MACA" --dmac ff:ff:ff:ff:ff:ff --op 1 \
    --spa "$IPA" --tpa "$IPA" --token arp-honest
  wait_captured BR arp-honest

  # busybox arping, as a container's root would run it (non-local bind on,
  # so arping accepts a source address that is not a's).
  run -0 ip netns exec "$NSA" sysctl -qw net.ipv4.ip_nonlocal_bind=1
  run -0 ip netns exec "$NSA" busybox arping -U -c 2 -s "$IPB" -I eth0 "$IPB"
  run -0 ip netns exec "$NSA" busybox arping -A -c 2 -s "$GW" -I eth0 "$GW"
  # Crafted: replies to the host claiming b's and c's address, to b claiming
  # the gateway's, with a's MAC and with the victims' own MACs.
  run -0 xpkt "$NSA" send eth0 arp --smac "$MACA" --dmac "$GWMAC" --op 2 --spa "$IPB" \
    --tha "$GWMAC" --tpa "$GW" --token arp-b-to-host
  run -0 xpkt "$NSA" send eth0 arp --smac "$MACA" --dmac "$GWMAC" --op 2 --sha "$MACB" \
    --spa "$IPC" --tha "$GWMAC" --tpa "$GW" --token arp-c-to-host
  run -0 xpkt "$NSA" send eth0 arp --smac "$MACA" --dmac "$MACB" --op 2 --spa "$GW" \
    --tha "$MACB" --tpa "$IPB" --token arp-gw-to-b
  run -0 xpkt "$NSA" send eth0 arp --smac "$MACA" --dmac ff:ff:ff:ff:ff:ff --op 1 --spa "$GW" \
    --tpa "$GW" --token arp-gw-bcast
  local t
  for t in arp-b-to-host arp-c-to-host arp-gw-to-b arp-gw-bcast; do sent_by_a "$t"; done
  # arping's frames: ARP (0806) from a's MAC whose sender address (offset
  # 28) is b's or the gateway's.
  local hex_b hex_gw
  hex_b=$(hex_ip "$IPB")
  hex_gw=$(hex_ip "$GW")
  (($(frames A in "$MACA" 0806 "28=$hex_b") >= 2)) || fail "arping -s $IPB sent nothing"
  (($(frames A in "$MACA" 0806 "28=$hex_gw") >= 2)) || fail "arping -s $GW sent nothing"

  settle B "$IPB"
  settle_host
  for t in arp-b-to-host arp-c-to-host arp-gw-to-b arp-gw-bcast; do
    assert_not_captured BR "$t"
    assert_not_captured B "$t"
  done
  assert_eq "$(frames BR in "$MACA" 0806 "28=$hex_b")$(frames BR in "$MACA" 0806 "28=$hex_gw")" \
    00 "arping frames reaching the host"
  assert_eq "$(frames B in - 0806 "28=$hex_gw" "22=$(tr -d : <<<"$MACA")")" 0 \
    "ARP for the gateway with a's MAC reaching b"
  # No table is poisoned: the host's entries for b and c and b's for the
  # gateway are as they were, and the flows that use them work.
  assert_eq "$(neigh_of "$BR" | grep -E "^($IPB|$IPC) ")" "$host_before" "host's neighbours"
  assert_eq "$(ip -n "$NSB" -4 neigh show dev eth0 | awk '$2 == "lladdr" { print $1, $3 }' | sort)" \
    "$b_before" "b's neighbours"
  assert_others_intact
}

@test "IPv6: link-local traffic, neighbour advertisements and a rogue router advertisement reach no one" {
  setup_world
  # moat leaves IPv6 on in the container (a link-local address on eth0),
  # drops every non-IPv4, non-ARP frame at its bridge port, and turns IPv6
  # off on its bridge (no address there: llh is one the host might have).
  local lla llb llh=fe80::1 pfx=fd6d:${PFX#mx}:1::
  lla=$(ip -n "$NSA" -6 -o addr show dev eth0 scope link | awk '{ sub("/.*", "", $4); print $4 }')
  llb=$(ip -n "$NSB" -6 -o addr show dev eth0 scope link | awk '{ sub("/.*", "", $4); print $4 }')
  [[ -n $lla && -n $llb ]] || fail "link-local addresses: a '$lla' b '$llb'"
  # Control: b's capture sees an IPv6 frame the host writes on the bridge
  # with a packet socket (the host's root is outside moat's promises).
  run -0 xpkt host send "$BR" echo6 --smac "$GWMAC" --dmac 33:33:00:00:00:01 --src "$llh" \
    --dst ff02::1 --token v6-ctl
  wait_captured B v6-ctl

  run -0 xpkt "$NSA" send eth0 echo6 --smac "$MACA" --dmac "$MACB" --src "$lla" --dst "$llb" --token v6-echo-b
  run -0 xpkt "$NSA" send eth0 echo6 --smac "$MACA" --dmac 33:33:00:00:00:01 --src "$lla" \
    --dst ff02::1 --token v6-echo-all
  run -0 xpkt "$NSA" send eth0 udp6 --smac "$MACA" --dmac "$GWMAC" --src "$lla" --dst "$llh" \
    --dport "$P" --token v6-udp-host
  run -0 xpkt "$NSA" send eth0 ra --smac "$MACA" --dmac 33:33:00:00:00:01 --src "$lla" \
    --prefix "$pfx" --token v6-ra
  run -0 xpkt "$NSA" send eth0 na --smac "$MACA" --dmac 33:33:00:00:00:01 --src "$lla" \
    --target "$llh" --token v6-na
  # With the container's own stack too: ping6 to all nodes and the host.
  run ip netns exec "$NSA" busybox ping6 -c1 -W1 -I eth0 ff02::1
  run ip netns exec "$NSA" busybox ping6 -c1 -W1 -I eth0 "$llh"
  local t
  for t in v6-echo-b v6-echo-all v6-udp-host v6-ra v6-na; do sent_by_a "$t"; done
  (($(frames A in "$MACA" 86dd "54=80") >= 2)) || fail "a's ping6 sent no echo request"

  settle B "$IPB"
  settle C "$IPC"
  settle_host
  assert_eq "$(frames BR in "$MACA" 86dd)" 0 "IPv6 frames from a reaching the host"
  assert_eq "$(frames B in "$MACA" 86dd)$(frames C in "$MACA" 86dd)" 00 "IPv6 frames from a at b, c"
  for t in v6-echo-b v6-echo-all v6-ra v6-na; do
    assert_not_captured B "$t"
    assert_not_captured C "$t"
  done
  # The router advertisement configured nothing: no route, no address in
  # its prefix on the host or in b; no neighbour entry with a's MAC.
  assert_not_contains "$(ip -6 route show table all; ip -6 addr show)" "${pfx%::}" "host IPv6"
  assert_not_contains "$(ip -n "$NSB" -6 route show table all; ip -n "$NSB" -6 addr show)" \
    "${pfx%::}" "b's IPv6"
  assert_not_contains "$(ip -n "$NSB" -6 route show)" "default" "b's IPv6 default route"
  assert_not_contains "$(ip -6 neigh show dev "$BR")" "$MACA" "host's IPv6 neighbours"
  assert_others_intact
}

@test "IPv6 to containers: the bridge of an IPv4 network has no IPv6, so the host's stack sends the containers none" {
  setup_world
  local v6p=$((P + 3))
  assert_eq "$(cat "/proc/sys/net/ipv6/conf/$BR/disable_ipv6")" 1 "disable_ipv6 on $BR"
  assert_eq "$(ip -6 -o addr show dev "$BR")" "" "IPv6 addresses on $BR"
  run ip -6 addr add fd6d:${PFX#mx}:2::1/64 dev "$BR"
  ((status != 0)) || fail "an IPv6 address was added to $BR"
  assert_contains "$output" "IPv6 is disabled"
  # b listens on IPv6 too; the host's own stack sends to all nodes on the
  # bridge, and to b's link-local address, by UDP.
  local llb
  llb=$(ip -n "$NSB" -6 -o addr show dev eth0 scope link | awk '{ sub("/.*", "", $4); print $4 }')
  [[ -n $llb ]] || fail "b has no link-local address"
  start_bg "$NSB" socat -u "UDP6-RECV:$v6p,bind=[::],ipv6only=1" "OPEN:$T/v6b,creat,append"
  wait_for 5 listening "$NSB" udp "$v6p"
  local dst tok
  for dst in ff02::1 "$llb"; do
    tok=v6-stack-$RANDOM$RANDOM
    python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
try:
    s.sendto(sys.argv[1].encode(), (sys.argv[2], int(sys.argv[3]), 0, socket.if_nametoindex(sys.argv[4])))
except OSError as e:
    print("send:", e)' "$tok" "$dst" "$v6p" "$BR"
    settle B "$IPB"
    assert_not_captured B "$tok" "the host's IPv6 to $dst at b"
    assert_not_contains "$(cat "$T/v6b" 2>/dev/null)" "$tok" "the host's IPv6 to $dst at b's server"
  done
  assert_eq "$(frames B in "$GWMAC" 86dd)" 0 "IPv6 frames from the bridge at b"
  # An ADD turns it off again should someone have turned it on.
  echo 0 >"/proc/sys/net/ipv6/conf/$BR/disable_ipv6"
  add_container d
  assert_eq "$(cat "/proc/sys/net/ipv6/conf/$BR/disable_ipv6")" 1 "disable_ipv6 on $BR after an ADD"
  assert_others_intact
}

@test "reserved group MACs 01:80:c2:00:00:00-0f: nothing reaches the host, a peer or beyond, IPv4 or IPv6" {
  setup_world
  # The bridge hands such frames up on the port itself, past bridge moat's
  # prerouting: inet moat's raw chain and the port's own settings (no
  # IPv6, no ARP answers) must refuse them.
  # (the bridge has no IPv6: llh is an address the host might have)
  local d dmac t toks=() llh=fe80::1 v6p=$((P + 2))
  : >"$T/v6got"
  start_bg host socat -u "UDP6-RECV:$v6p,bind=[::],ipv6only=1" "OPEN:$T/v6got,creat,append"
  wait_for 5 listening host udp "$v6p"
  printf 'v6-ctl\n' | socat -u - "UDP6-SENDTO:[::1]:$v6p"
  wait_for 5 grep -q v6-ctl "$T/v6got"
  for d in 0 1 2 3 4 5 6 7 8 9 a b c d e f; do
    dmac=01:80:c2:00:00:0$d
    a_udp "gm-own-$d" "$IPA" "$GW" "$P" --dmac "$dmac"
    a_udp "gm-spoof-$d" "$IPB" "$GW" "$P" --dmac "$dmac"
    a_udp "gm-peer-$d" "$IPA" "$IPB" "$P" --dmac "$dmac"
    a_udp "gm-out-$d" "$IPA" 192.0.2.7 "$P" --dmac "$dmac"
    run -0 xpkt "$NSA" send eth0 udp6 --smac "$MACA" --dmac "$dmac" --src fe80::bad \
      --dst "$llh" --dport "$v6p" --token "gm-v6-$d"
    run -0 xpkt "$NSA" send eth0 arp --op 1 --smac "$MACA" --dmac "$dmac" --spa "$IPA" \
      --tpa "$GW" --token "gm-arp-$d"
    toks+=("gm-own-$d" "gm-spoof-$d" "gm-peer-$d" "gm-out-$d" "gm-v6-$d" "gm-arp-$d")
  done
  # With the container's own stack: the gateway's neighbour entry pointed
  # at a group MAC, then plain UDP and TCP to the host's port.
  ip -n "$NSA" neigh replace "$GW" lladdr 01:80:c2:00:00:0e nud permanent dev eth0
  printf 'gm-stack\n' | ip netns exec "$NSA" socat -u - "UDP4-SENDTO:$GW:$P"
  PROBE_TOKEN=gm-stack-tcp run ns_tcp_connect "$NSA" "$GW" "$P"
  assert_not_contains "$output" ok "tcp through the group MAC"
  ip -n "$NSA" neigh replace "$GW" lladdr "$GWMAC" nud reachable dev eth0
  toks+=(gm-stack)
  for t in "${toks[@]}"; do sent_by_a "$t"; done

  settle B "$IPB"
  settle_host
  for t in "${toks[@]}" gm-stack-tcp; do
    assert_eq "$(received "$t")" 0 "$t at the host's servers"
    assert_not_captured B "$t"
    assert_not_captured C "$t"
  done
  for d in 0 1 2 3 4 5 6 7 8 9 a b c d e f; do
    assert_not_contains "$(cat "$T/v6got")" "gm-v6-$d" "IPv6 at the host"
  done
  # No ARP answer came back to a from its host end (the bridge's proxy
  # answers to a's own stack carry the gateway's MAC).
  assert_eq "$(frames A out "$(cat "/sys/class/net/$HA/address")" 0806)" 0 "ARP from a's host end"
  # The host end has no IPv6 at all.
  assert_eq "$(cat "/proc/sys/net/ipv6/conf/$HA/disable_ipv6")" 1 "disable_ipv6 on $HA"
  assert_eq "$(ip -6 -o addr show dev "$HA")" "" "IPv6 addresses on $HA"
  assert_others_intact
}

@test "DEL: a leaving container flooding forged ARP and IPv6 gets nothing past its port at any moment" {
  setup_world
  # Three containers flood, each from two processes, gratuitous ARP claiming
  # b's address and IPv6 neighbour advertisements, while each is DEL'd:
  # between its guard elements going and its link going, its port must
  # already be out of service.
  local x hx mx ix hex_b
  hex_b=$(hex_ip "$IPB")
  for x in x1 x2 x3; do
    add_container "$x"
    hx=$(hostif_of "$x") mx=$(mac_of "$x") ix=$(ip_of "$x")
    sniff_start "$x" host "$hx"
    start_bg "$(ns_of "$x")" "$XPKT_PY" "$T/xpkt.py" send eth0 arp --op 1 --smac "$mx" \
      --dmac ff:ff:ff:ff:ff:ff --spa "$IPB" --tpa "$IPB" --count 100000000 --token "flood-arp-$x"
    start_bg "$(ns_of "$x")" "$XPKT_PY" "$T/xpkt.py" send eth0 na --smac "$mx" \
      --dmac 33:33:00:00:00:01 --src fe80::bad --target fe80::1 --count 100000000 \
      --token "flood-na-$x"
  done
  for x in x1 x2 x3; do
    wait_for 5 frames_at_least 1000 "$x" in "$(mac_of "$x")" 0806 || fail "$x is not flooding ARP"
    wait_for 5 frames_at_least 1000 "$x" in "$(mac_of "$x")" 86dd || fail "$x is not flooding IPv6"
    del_container "$x"
    link_gone "$(hostif_of "$x")" || fail "$x's host end is still there"
  done
  # Whatever passed a port reached the bridge before its DEL returned.
  for x in x1 x2 x3; do
    mx=$(mac_of "$x")
    assert_eq "$(frames BR in "$mx" 0806)" 0 "ARP frames of $x at the host"
    assert_eq "$(frames BR in "$mx" 86dd)" 0 "IPv6 frames of $x at the host"
  done
  assert_not_contains "$(neigh_of "$BR")" "$(mac_of x1)" "host's neighbours"
  settle B "$IPB"
  settle_host
  for x in x1 x2 x3; do
    mx=$(mac_of "$x")
    assert_eq "$(frames B in "$mx" -)$(frames C in "$mx" -)" 00 "frames of $x at b, c"
  done
  assert_others_intact
}

@test "proxy: a peer as a container's proxy is refused, or judged as the peer it is" {
  setup_world
  # b, on a's own network, as a's proxy: the start fails, naming the key,
  # and a keeps the policy it had.
  run -1 hook prestart a "$(jq -nc --arg h "udp/$PA" --arg p "$IPB:$P" \
    '{"io.moat.allow-host": $h, "io.moat.proxy": $p}')"
  assert_contains "$output" "io.moat.proxy: $IPB is on the container's own network"
  PROBE_TOKEN=proxy-own-net run ns_tcp_connect "$NSA" 192.0.2.10 80
  assert_match "$output" "^(refused|timeout|unreachable)$" "a's tcp/80 after the refused proxy"
  PROBE_TOKEN=proxy-direct run ns_tcp_connect "$NSA" "$IPB" "$P"
  assert_eq "$output" refused "a straight to b"
  # A container of another moat network as a's proxy: the hook cannot tell
  # it from an outside address, and the kernel judges it as a peer. e
  # exposes nothing and shares no network with a: nothing reaches it.
  second_network
  new_netns e
  CNI_CONF=$MOAT_CONF2 run -0 cni ADD "$(cid_of e)" "$(ns_of e)"
  printf '%s\n' "$output" >"$T/result.e"
  ns_tcp_listen "$(ns_of e)" 0.0.0.0 "$P"
  sniff_start E "$(ns_of e)" eth0
  run -0 hook prestart a "$(jq -nc --arg h "udp/$PA" --arg p "$(ip_of e):$P" \
    '{"io.moat.allow-host": $h, "io.moat.proxy": $p}')"
  # (The reset for a packet already rewritten toward its proxy does not
  # make it back: the connection times out.)
  PROBE_TOKEN=proxy-other-net run ns_tcp_connect "$NSA" 192.0.2.10 80
  assert_match "$output" "^(refused|timeout)$" "a's tcp/80, sent to e on another network as its proxy"
  PROBE_TOKEN=proxy-other-direct run ns_tcp_connect "$NSA" "$(ip_of e)" "$P"
  assert_eq "$output" refused "a straight to its proxy e"
  settle B "$IPB"
  for t in proxy-own-net proxy-direct proxy-other-net proxy-other-direct; do
    assert_eq "$(received "$t")" 0 "$t at a server"
    assert_not_captured B "$t"
    assert_not_captured E "$t"
  done
  assert_others_intact
}

@test "broadcast and multicast from a container reach no peer" {
  setup_world
  # Control: a broadcast from the host does reach b and c.
  settle B "$NETPFX.255"
  settle C "$NETPFX.255"
  local dst t
  for dst in 255.255.255.255 "$NETPFX.255" 224.0.0.1 224.0.0.251; do
    t=bc-${dst//./-}
    printf '%s' "$t" | ip netns exec "$NSA" socat -u - \
      "UDP4-DATAGRAM:$dst:$([[ $dst == 224.0.0.251 ]] && echo 5353 || echo "$P"),broadcast"
  done
  # Crafted, with the broadcast MAC and a unicast destination (b's).
  run -0 xpkt "$NSA" send eth0 udp --smac "$MACA" --dmac ff:ff:ff:ff:ff:ff --src "$IPA" \
    --dst "$IPB" --dport "$P" --token bc-unicast-b
  run -0 xpkt "$NSA" send eth0 udp --smac "$MACA" --dmac 01:00:5e:00:00:fb --src "$IPA" \
    --dst 224.0.0.251 --dport 5353 --token bc-mdns-crafted
  for dst in 255.255.255.255 "$NETPFX.255" 224.0.0.1 224.0.0.251 unicast-b mdns-crafted; do
    sent_by_a "bc-${dst//./-}"
  done
  settle B "$NETPFX.255"
  settle C "$NETPFX.255"
  for dst in 255.255.255.255 "$NETPFX.255" 224.0.0.1 224.0.0.251 unicast-b mdns-crafted; do
    assert_not_captured B "bc-${dst//./-}"
    assert_not_captured C "bc-${dst//./-}"
  done
  assert_eq "$(received bc-unicast-b)" 0 "delivered to b"
  assert_others_intact
}

@test "rogue DHCP: a container's offers reach no peer, and a peer's discover never reaches it" {
  setup_world
  local script=$T/dhcp-event.sh
  # shellcheck disable=SC2016 # the script's own variables
  printf '#!/bin/sh\necho "$1 ${ip-}" >>%s\n' "$T/dhcp-events" >"$script"
  chmod +x "$script"
  # a runs busybox udhcpd on its eth0, offering addresses of the subnet.
  printf 'interface eth0\nstart %s\nend %s\nlease_file %s\nopt router %s\nopt subnet 255.255.255.0\n' \
    "$NETPFX.200" "$NETPFX.210" "$T/udhcpd.leases" "$IPA" >"$T/udhcpd.conf"
  start_bg "$NSA" busybox udhcpd -f "$T/udhcpd.conf"
  wait_for 5 listening "$NSA" udp 67
  # b asks for an address (busybox udhcpc, 3 discovers) while a also sends
  # crafted offers, broadcast and to b's MAC.
  start_bg "$NSB" busybox udhcpc -f -n -q -t 3 -T 1 -i eth0 -s "$script"
  local k
  for k in 1 2 3; do
    run -0 xpkt "$NSA" send eth0 dhcp-offer --smac "$MACA" --dmac ff:ff:ff:ff:ff:ff --src "$IPA" \
      --yiaddr "$NETPFX.201" --token "dhcp-offer-$k"
    run -0 xpkt "$NSA" send eth0 dhcp-offer --smac "$MACA" --dmac "$MACB" --src "$IPA" \
      --yiaddr "$NETPFX.202" --token "dhcp-offer-to-b-$k"
  done
  for k in 1 2 3; do
    sent_by_a "dhcp-offer-$k"
    sent_by_a "dhcp-offer-to-b-$k"
  done
  # b's discovers left b (udp 68 -> 67); udhcpc gave up without a lease.
  wait_for 10 frames_at_least 3 B out "$MACB" 0800 36=0043
  wait_for 10 grep -qx 'leasefail ' "$T/dhcp-events"
  settle B "$IPB"
  for k in 1 2 3; do
    assert_not_captured B "dhcp-offer-$k"
    assert_not_captured B "dhcp-offer-to-b-$k"
    assert_not_captured C "dhcp-offer-$k"
  done
  assert_eq "$(frames B in - 0800 36=0044)" 0 "DHCP replies (to udp 68) reaching b"
  # Nothing of b's reached a: no frame from b's MAC went out to a's port.
  assert_eq "$(frames A out "$MACB" -)" 0 "b's frames at a"
  assert_not_contains "$(cat "$T/dhcp-events")" bound "udhcpc events"
  assert_eq "$(ip -n "$NSB" -4 -o addr show dev eth0 | awk '{ print $4 }')" "$(cidr_of b)" "b's address"
  [[ ! -s $T/udhcpd.leases ]] || fail "udhcpd leased an address"
  assert_others_intact
}

# icmp_at TAG WAY TYPE: ICMP messages of TYPE (2 hex digits) in capture TAG.
icmp_at() { frames "$1" "$2" - 0800 23=01 "34=$3"; }

@test "ICMP errors and redirects quoting other containers' flows reach neither them nor the host" {
  setup_world
  local s1=$((P + 3)) s2=$((P + 4)) closed=$((P + 5))
  sniff_start HIP host -ip
  # b has a flow with the host (b:s1 -> gw:P) and one with c (b:s2 -> c:P).
  run -0 ns_run "$NSB" sh -c "printf 'icmp-f1\n' | timeout 5 socat -t1 -T2 - UDP4:$GW:$P,sourceport=$s1"
  assert_contains "$output" "reply icmp-f1"
  run -0 ns_run "$NSB" sh -c "printf 'icmp-f2\n' | timeout 5 socat -t1 -T2 - UDP4:$IPC:$P,sourceport=$s2"
  assert_contains "$output" "reply icmp-f2"
  local -a common=(--smac "$MACA" --dmac "$GWMAC" --src "$IPA" --inner-proto udp)
  # To b: port unreachable for its flow with the host, fragmentation
  # needed for its flow with c, a redirect of its host flow to a.
  run -0 xpkt "$NSA" send eth0 icmp-error "${common[@]}" --dst "$IPB" --type 3 --code 3 \
    --inner-src "$IPB" --inner-sport "$s1" --inner-dst "$GW" --inner-dport "$P" --token icmp-unreach-b
  run -0 xpkt "$NSA" send eth0 icmp-error "${common[@]}" --dst "$IPB" --type 3 --code 4 --mtu 576 \
    --inner-src "$IPB" --inner-sport "$s2" --inner-dst "$IPC" --inner-dport "$P" --token icmp-mtu-b
  run -0 xpkt "$NSA" send eth0 icmp-error "${common[@]}" --dst "$IPB" --type 5 --code 1 \
    --gateway "$IPA" --inner-src "$IPB" --inner-sport "$s2" --inner-dst "$IPC" --inner-dport "$P" \
    --token icmp-redirect-b
  # To c: unreachable for its replies to b.
  run -0 xpkt "$NSA" send eth0 icmp-error "${common[@]}" --dst "$IPC" --type 3 --code 1 \
    --inner-src "$IPC" --inner-sport "$P" --inner-dst "$IPB" --inner-dport "$s2" --token icmp-unreach-c
  # To the host: unreachable for its replies to b, a redirect of them to a.
  run -0 xpkt "$NSA" send eth0 icmp-error "${common[@]}" --dst "$GW" --type 3 --code 3 \
    --inner-src "$GW" --inner-sport "$P" --inner-dst "$IPB" --inner-dport "$s1" --token icmp-unreach-host
  run -0 xpkt "$NSA" send eth0 icmp-error "${common[@]}" --dst "$GW" --type 5 --code 1 \
    --gateway "$IPA" --inner-src "$GW" --inner-sport "$P" --inner-dst "$IPB" --inner-dport "$s1" \
    --token icmp-redirect-host
  local t
  for t in icmp-unreach-b icmp-mtu-b icmp-redirect-b icmp-unreach-c icmp-unreach-host icmp-redirect-host; do
    sent_by_a "$t"
  done
  settle B "$IPB"
  settle C "$IPC"
  settle_host
  for t in icmp-unreach-b icmp-mtu-b icmp-redirect-b; do assert_not_captured B "$t"; done
  assert_not_captured C icmp-unreach-c
  assert_not_captured HIP icmp-unreach-host "ICMP error delivered to the host's stack"
  assert_not_captured HIP icmp-redirect-host "ICMP redirect delivered to the host's stack"
  # Nothing changed b's or the host's routes (no redirect, no smaller MTU).
  assert_not_contains "$(ip -n "$NSB" route get "$IPC")" "mtu" "b's route to c"
  assert_not_contains "$(ip -n "$NSB" route get "$GW")$(ip -n "$NSB" route get "$IPC")" "$IPA" \
    "b's routes"
  assert_not_contains "$(ip route get "$IPB")" "via" "host's route to b"

  # Legitimate ICMP errors still pass: the host to a's closed port learns
  # of it at once (a's port unreachable), as b does from c.
  PROBE_TOKEN=icmp-ok-1 run ns_udp_connect host "$IPA" "$closed"
  assert_eq "$output" refused "host -> a's closed udp port"
  PROBE_TOKEN=icmp-ok-2 run ns_udp_connect "$NSB" "$IPC" "$closed"
  assert_eq "$output" refused "b -> c's closed udp port"
  assert_others_intact
}

@test "ICMP redirects: the host sends none into the bridge" {
  setup_world
  # send_redirects is on for the bridge (the host-wide "all" wins anyway):
  # moat's output rule is what keeps them in.
  local sr
  sr=$(cat "/proc/sys/net/ipv4/conf/all/send_redirects")$(cat "/proc/sys/net/ipv4/conf/$BR/send_redirects")
  echo "# send_redirects all, $BR: $sr" >&3
  # b -> c is routed in and out of the bridge: the case for a redirect.
  local k
  for k in 1 2 3 4 5; do
    PROBE_TOKEN=redir-$k run -0 ns_udp_connect "$NSB" "$IPC" "$P"
  done
  run -0 ip netns exec "$NSB" ping -c3 -i0.2 -W1 "$IPC"
  wait_captured C redir-5
  assert_eq "$(icmp_at B in 05)$(icmp_at C in 05)" 00 "ICMP redirects received by b, c"
  (($(icmp_at B in 00) >= 3)) || fail "b got no echo replies: the probe did not run"
}

@test "hairpin through the gateway: to itself, to a peer by its MAC, to loopback and broadcast addresses" {
  setup_world
  local pl=$((P + 6))
  ns_udp_listen "$NSA" 0.0.0.0 "$P"
  ns_udp_listen host 127.0.0.1 "$pl"
  # Control: the same crafted datagram to a's granted host port arrives.
  a_udp hp-ctl "$IPA" "$GW" "$PA"
  wait_for 5 received_is hp-ctl 1

  a_udp hp-self "$IPA" "$IPA" "$P"                                   # back to itself
  a_udp hp-peer "$IPA" "$IPB" "$P"                                   # routed to b
  a_udp hp-peer-mac "$IPA" "$IPB" "$P" --dmac "$MACB"                # straight to b's MAC
  a_udp hp-peer-bcast "$IPA" "$IPB" "$P" --dmac ff:ff:ff:ff:ff:ff    # b's address, broadcast MAC
  a_udp hp-loop "$IPA" 127.0.0.1 "$pl"                               # the host's loopback
  a_udp hp-netbcast "$IPA" "$NETPFX.255" "$P"                        # the bridge's broadcast
  a_udp hp-ctl-late "$IPA" "$GW" "$PA"
  local t
  for t in hp-self hp-peer hp-peer-mac hp-peer-bcast hp-loop hp-netbcast; do sent_by_a "$t"; done
  wait_for 5 received_is hp-ctl-late 1
  settle B "$IPB"
  settle C "$IPC"
  for t in hp-self hp-peer hp-peer-mac hp-peer-bcast hp-loop hp-netbcast; do
    assert_eq "$(received "$t")" 0 "$t delivered"
    assert_not_captured B "$t"
    assert_not_captured C "$t"
  done
  # Nothing came back to a but the host's refusals (ICMP quoting the
  # probe): no UDP datagram with a probe's token went out to a's port.
  local hex
  for t in hp-self hp-peer-mac hp-peer-bcast; do
    hex=$(hex_of "$t")
    assert_eq "$(awk -v h="$hex" '$1 == "out" && substr($5, 47, 2) == "11" && index($5, h)' \
      "$T/cap.A" | wc -l)" 0 "$t returned to a"
  done
  assert_others_intact
}

@test "raw sockets in a real runc container (CAP_NET_RAW, no CAP_NET_ADMIN): the same refusals" {
  runc_setup
  setup_world
  ctr_start r "$(jq -nc --arg v "udp/$PA" '{"io.moat.allow-host": $v}')"
  local ipr macr hr
  ipr=$(ip_of r)
  macr=$(mac_of r)
  hr=$(hostif_of r)
  sniff_start R host "$hr"
  snapshot_others b c
  # The container cannot change its own link (no CAP_NET_ADMIN)...
  run ctr_exec r ip link set eth0 address 02:00:5e:00:53:02
  [[ $status -ne 0 ]] || fail "the container changed its MAC: $output"
  # ... but crafts frames with python3 (the host's /usr, mounted) and its
  # CAP_NET_RAW. Control: an honest frame to its granted host port arrives.
  local -a x=(/usr/bin/python3 /out/xpkt.py send eth0)
  run -0 ctr_exec r "${x[@]}" udp --smac "$macr" --dmac "$GWMAC" --src "$ipr" --dst "$GW" \
    --dport "$PA" --token raw-ctl
  wait_for 5 received_is raw-ctl 1
  # b's flow with the host, for the ICMP error to quote.
  local s1=$((P + 7))
  run -0 ns_run "$NSB" sh -c "printf 'raw-f1\n' | timeout 5 socat -t1 -T2 - UDP4:$GW:$P,sourceport=$s1"
  run -0 ctr_exec r "${x[@]}" udp --smac "$macr" --dmac "$GWMAC" --src "$IPB" --dst "$IPC" \
    --dport "$P" --token raw-spoof-ip
  run -0 ctr_exec r "${x[@]}" udp --smac "$MACB" --dmac "$GWMAC" --src "$IPB" --dst "$GW" \
    --dport "$P" --token raw-spoof-mac
  run -0 ctr_exec r "${x[@]}" arp --smac "$macr" --dmac "$MACB" --op 2 --spa "$GW" --tha "$MACB" \
    --tpa "$IPB" --token raw-arp
  run -0 ctr_exec r "${x[@]}" icmp-error --smac "$macr" --dmac "$GWMAC" --src "$ipr" --dst "$IPB" \
    --type 3 --code 3 --inner-proto udp --inner-src "$IPB" --inner-sport "$s1" --inner-dst "$GW" \
    --inner-dport "$P" --token raw-icmp
  run -0 ctr_exec r "${x[@]}" udp --smac "$macr" --dmac "$GWMAC" --src "$ipr" --dst "$IPB" \
    --dport "$P" --ttl 1 --token raw-ttl
  run -0 ctr_exec r "${x[@]}" udp --smac "$macr" --dmac "$GWMAC" --src "$ipr" --dst "$IPB" \
    --dport "$P" --vlan 0 --token raw-vlan0
  local t
  for t in raw-spoof-ip raw-spoof-mac raw-arp raw-icmp raw-ttl raw-vlan0; do
    wait_captured R "$t" || fail "the container's frame $t never left it"
  done
  run -0 ctr_exec r "${x[@]}" udp --smac "$macr" --dmac "$GWMAC" --src "$ipr" --dst "$GW" \
    --dport "$PA" --token raw-ctl-late
  wait_for 5 received_is raw-ctl-late 1
  settle B "$IPB"
  settle C "$IPC"
  for t in raw-spoof-ip raw-spoof-mac raw-arp raw-icmp raw-ttl raw-vlan0; do
    assert_not_captured B "$t"
    assert_not_captured C "$t"
    assert_eq "$(received "$t")" 0 "$t delivered"
  done
  assert_others_intact
}

@test "a container that rearranges its interface gets nothing more through" {
  setup_world
  local free=$NETPFX.251 t
  # a renames eth0 (down, rename, up, route back): what it had, it keeps.
  ip -n "$NSA" link set eth0 down
  ip -n "$NSA" link set eth0 name evil0
  A_IF=evil0 # for settle_host
  ip -n "$NSA" link set evil0 up
  ip -n "$NSA" route replace default via "$GW" dev evil0
  PROBE_TOKEN=if-renamed run -0 ns_udp_connect "$NSA" "$GW" "$PA"
  PROBE_TOKEN=if-renamed-b run ns_tcp_connect "$NSA" "$IPB" "$P"
  assert_eq "$output" refused "a (renamed) -> b"
  # A second address (free, and b's), as sources for the host and c.
  ip -n "$NSA" addr add "$free/24" dev evil0
  ip -n "$NSA" addr add "$IPB/32" dev evil0
  # (Static neighbours: the ARP from these sources would be dropped first.)
  ip -n "$NSA" neigh replace "$IPC" lladdr "$GWMAC" dev evil0
  ip -n "$NSA" neigh replace "$GW" lladdr "$GWMAC" dev evil0
  local src
  for src in "$free" "$IPB"; do
    printf 'if-alias-%s' "$src" | ip netns exec "$NSA" socat -u - "UDP4-SENDTO:$IPC:$P,bind=$src"
    printf 'if-alias-host-%s' "$src" | ip netns exec "$NSA" socat -u - "UDP4-SENDTO:$GW:$P,bind=$src"
  done
  # A macvlan on eth0 (a MAC of its own), with a's address and the free
  # one. This kernel has no 8021q, so a container cannot make a VLAN
  # sub-interface: the frames one would send (tagged VLAN 7, and
  # priority-tagged VLAN 0, which the host's stack would take as untagged)
  # are crafted instead, with a's own MAC and address.
  ip -n "$NSA" link add link evil0 name mv0 type macvlan mode bridge
  ip -n "$NSA" link set mv0 up
  ip -n "$NSA" addr add "$free/32" dev mv0
  ip -n "$NSA" addr add "$IPA/32" dev mv0
  ip -n "$NSA" neigh replace "$GW" lladdr "$GWMAC" dev mv0
  for src in "$IPA" "$free"; do
    printf 'if-mv0-%s' "$src" | ip netns exec "$NSA" \
      socat -u - "UDP4-SENDTO:$GW:$PA,bind=$src,so-bindtodevice=mv0"
  done
  local vlan
  for vlan in 7 0; do
    run -0 xpkt "$NSA" send evil0 udp --smac "$MACA" --dmac "$GWMAC" --src "$IPA" --dst "$GW" \
      --dport "$PA" --vlan "$vlan" --token "if-vlan$vlan"
  done
  # Promiscuous mode: a sees nothing of b's and c's traffic.
  sniff_start AP "$NSA" evil0
  ip -n "$NSA" link set evil0 promisc on
  PROBE_TOKEN=if-promisc-bc run -0 ns_tcp_connect "$NSB" "$IPC" "$P"
  PROBE_TOKEN=if-promisc-hb run -0 ns_udp_connect host "$IPB" "$P"

  for src in "$free" "$IPB"; do
    sent_by_a "if-alias-$src"
    sent_by_a "if-alias-host-$src"
  done
  for t in "if-mv0-$IPA" "if-mv0-$free" if-vlan7 if-vlan0; do sent_by_a "$t"; done
  assert_eq "$(frames A in "$MACA" 8100)" 2 "tagged frames that left a"
  settle_host
  settle C "$IPC"
  for src in "$free" "$IPB"; do
    assert_not_captured C "if-alias-$src"
    assert_eq "$(received "if-alias-host-$src")" 0 "if-alias-host-$src delivered"
  done
  for t in "if-mv0-$IPA" "if-mv0-$free" if-vlan7 if-vlan0; do
    assert_eq "$(received "$t")" 0 "$t delivered"
    assert_not_captured BR "$t"
  done
  assert_eq "$(captured AP if-promisc-bc any)$(captured AP if-promisc-hb any)" 00 \
    "b's and c's traffic seen by a in promiscuous mode"
  assert_others_intact
}

@test "TTL tricks: TTL 0, 1 and 255 get nothing through, and the host's ICMP says nothing new" {
  setup_outside
  setup_world
  ns_udp_listen "$OUT_NS" "$OUT_IP" "$P"
  # (TTL 1 first: the host sends a peer at most 6 ICMP errors in a burst.)
  local ttl dst t
  for ttl in 1 0 255; do
    for dst in "$IPB" "$GW" "$OUT_IP"; do
      a_udp "ttl-$ttl-$dst" "$IPA" "$dst" "$P" --ttl "$ttl"
    done
  done
  for ttl in 0 1 255; do
    for dst in "$IPB" "$GW" "$OUT_IP"; do sent_by_a "ttl-$ttl-$dst"; done
  done
  settle B "$IPB"
  settle_host
  for ttl in 0 1 255; do
    for dst in "$IPB" "$GW" "$OUT_IP"; do
      assert_eq "$(received "ttl-$ttl-$dst")" 0 "ttl-$ttl-$dst delivered"
    done
    assert_not_captured B "ttl-$ttl-$IPB"
  done
  # What came back to a: ICMP from the gateway's address only, never from
  # b, the outside or another host address; admin-prohibited (3/13) for
  # b and the host, whatever the TTL; for the outside, time exceeded
  # (11/0) when the TTL ran out — the host would route it, as the
  # admin-prohibited of TTL 255 says too.
  local gw_hex icmp_lines
  gw_hex=$(hex_ip "$GW")
  icmp_lines=$(awk '$1 == "out" && $4 == "0800" && substr($5, 47, 2) == "01"' "$T/cap.A")
  [[ -n $icmp_lines ]] || fail "no ICMP came back to a"
  assert_eq "$(awk -v g="$gw_hex" 'substr($5, 53, 8) != g' <<<"$icmp_lines" | wc -l)" 0 \
    "ICMP to a from another address than the gateway"
  assert_eq "$(awk 'substr($5, 69, 4) != "030d" && substr($5, 69, 4) != "0b00"' <<<"$icmp_lines" | wc -l)" 0 \
    "ICMP to a other than admin-prohibited or time exceeded"
  local bhex
  for dst in "$IPB" "$GW"; do
    bhex=$(hex_of "ttl-1-$dst")
    assert_eq "$(grep -c "$bhex" <<<"$icmp_lines")" 1 "ICMP answers about ttl-1-$dst"
    [[ $(grep "$bhex" <<<"$icmp_lines" | awk '{ print substr($5, 69, 4) }') == 030d ]] ||
      fail "ttl-1-$dst: not admin-prohibited"
  done
  # A legitimate flow with TTL 1 (b -> c) gets the host's time exceeded,
  # as a traceroute expects.
  run -0 xpkt "$NSB" send eth0 udp --smac "$MACB" --dmac "$GWMAC" --src "$IPB" --dst "$IPC" \
    --dport "$P" --ttl 1 --token ttl-legit
  wait_for 5 frames_at_least 1 B in - 0800 23=01 34=0b
  assert_others_intact
}

@test "names: another network's name server answers nothing, over udp or tcp" {
  local out ip_b
  MOAT_CONF=$(jq -c '. + {names: true}' <<<"$MOAT_CONF")
  second_network
  CNI_ARGS_VALUE="K8S_POD_NAME=$PFX-a" add_container a
  new_netns b
  CNI_CONF=$(jq -c '. + {names: true}' <<<"$MOAT_CONF2") CNI_ARGS_VALUE="K8S_POD_NAME=$PFX-b" \
    run -0 cni ADD "$PFX-b" "${PFX}b"
  ip_b=$(jq -r '.ips[0].address | split("/")[0]' <<<"$output")
  # Its own network's name server answers it.
  out=$(ip netns exec "${PFX}a" timeout 3 busybox nslookup "$PFX-a" "$GW" 2>&1) || true
  assert_contains "$out" "$(ip_of a)" "a asks its own gateway"
  # The other network's, through the host: refused like any host port.
  out=$(ip netns exec "${PFX}a" timeout 3 busybox nslookup "$PFX-b" "$GW2" 2>&1) || true
  assert_not_contains "$out" "Address: $ip_b" "a asks b's network's name server"
  assert_contains "$out" "No route to host" "a asks b's network's name server (admin-prohibited)"
  out=$(ip netns exec "${PFX}a" timeout 3 busybox nc -w 2 "$GW2" 53 </dev/null 2>&1) || true
  assert_contains "$out" "refused" "a -> b's gateway tcp/53"
}

@test "ingress grant: frames forged from another outside address do not get in" {
  setup_outside
  setup_world
  local other=198.18.$((RANDOM % 250 + 1)).9 omac hmac
  # The host routes `other` back to the outside, so reverse-path filtering
  # would not be what stops it.
  ip route add "$other/32" via "$OUT_IP" dev "${PFX}oh"
  # (setup_world's snapshot of b and c is from before the grant: the
  # revoke at the end must leave them as they were.)
  run -0 "$MOAT_BUILD/moatctl" grant "$(cid_of c)" ingress "$OUT_IP/32" "udp/$P"
  ns_udp_listen "$OUT_NS" "$OUT_IP" "$P"
  # Control: the granted address itself reaches c.
  PROBE_TOKEN=ctl-out-c run -0 ns_udp_connect "$OUT_NS" "$IPC" "$P"
  omac=$(ip netns exec "$OUT_NS" cat /sys/class/net/eth0/address)
  hmac=$(cat "/sys/class/net/${PFX}oh/address")
  sniff_start O "$OUT_NS" eth0
  # Forged frames from the outside: another source, and (the limit of a
  # grant by address) the granted source itself, which does get in.
  run -0 xpkt "$OUT_NS" send eth0 udp --smac "$omac" --dmac "$hmac" --src "$other" --dst "$IPC" \
    --dport "$P" --token forged-other
  run -0 xpkt "$OUT_NS" send eth0 udp --smac "$omac" --dmac "$hmac" --src "$OUT_IP" --dst "$IPC" \
    --dport "$P" --token forged-granted
  wait_captured O forged-other out || fail "the forged frame never left the outside"
  wait_captured C forged-granted || fail "the frame from the granted source never reached c"
  settle C "$IPC"
  assert_not_captured C forged-other "frames from another outside address in c"
  assert_eq "$(received forged-other)" 0 "delivered to c"
  run -0 "$MOAT_BUILD/moatctl" revoke "$(cid_of c)" ingress "$OUT_IP/32" "udp/$P"
  PROBE_TOKEN=ctl-out-c2 run ns_udp_connect "$OUT_NS" "$IPC" "$P"
  assert_eq "$output" unreachable "the granted address after the revoke (admin-prohibited)"
  assert_others_intact
}

# --- published ports (runtimeConfig.portMappings) ---------------------------

# pub_conf CONF LABEL [MAPPINGS_JSON]: CONF with CNI label app=LABEL and
# the mappings.
pub_conf() {
  jq -c --arg v "$2" --argjson m "${3:-[]}" \
    '. + {args: {cni: {labels: [{key: "app", value: $v}]}}} | .runtimeConfig.portMappings = $m' <<<"$1"
}

# The last probe got no reply (refused, or timed out).
assert_not_reached() {
  [[ $status -ne 0 && ( $output == refused || $output == timeout || $output == unreachable ) ]] ||
    fail "$1: expected no reply, got '$output'"
}

# hairpin_probes SUFFIX: x (app=other) and z (another network) reaching
# web's published port through the gateway and the host's other address:
# never delivered; y (app=web) reaching web straight: delivered.
hairpin_probes() {
  local t=$1
  PROBE_TOKEN=x-gw$t run ns_tcp_connect "$(ns_of x)" "$GW" "$hp"
  assert_not_reached "x (app=other) -> gateway:$hp ($t)"
  PROBE_TOKEN=x-host$t run ns_tcp_connect "$(ns_of x)" "$OUT_HOST_IP" "$hp"
  assert_not_reached "x (app=other) -> $OUT_HOST_IP:$hp ($t)"
  PROBE_TOKEN=x-udp$t run ns_udp_connect "$(ns_of x)" "$GW" "$hp"
  assert_not_reached "x (app=other) -> gateway:$hp/udp ($t)"
  PROBE_TOKEN=z-gw$t run ns_tcp_connect "$(ns_of z)" "$GW2" "$hp"
  assert_not_reached "z (other network) -> its gateway:$hp ($t)"
  PROBE_TOKEN=z-host$t run ns_tcp_connect "$(ns_of z)" "$OUT_HOST_IP" "$hp"
  assert_not_reached "z (other network) -> $OUT_HOST_IP:$hp ($t)"
  PROBE_TOKEN=y-direct$t run -0 ns_tcp_connect "$(ns_of y)" "$(ip_of web)" 80
  assert_eq "$(received x-gw$t)$(received x-host$t)$(received x-udp$t)$(received z-gw$t)$(received z-host$t)" \
    00000 "refused probes delivered ($t)"
}

@test "published port: a container of another label, or another network, reaching it through the host's address or the gateway is refused" {
  local hp maps nf=/proc/sys/net/bridge/bridge-nf-call-iptables
  hp=$(random_port)
  setup_outside
  second_network
  maps=$(jq -nc --argjson h "$hp" '[{hostPort: $h, containerPort: 80, protocol: "tcp"},
    {hostPort: $h, containerPort: 53, protocol: "udp"}]')
  MOAT_CONF=$(pub_conf "$MOAT_CONF" web "$maps") add_container web
  MOAT_CONF=$(pub_conf "$MOAT_CONF" other) add_container x
  MOAT_CONF=$(pub_conf "$MOAT_CONF" web) add_container y
  MOAT_CONF=$(pub_conf "$MOAT_CONF2" web) add_container z
  ns_tcp_listen "$(ns_of web)" 0.0.0.0 80
  ns_udp_listen "$(ns_of web)" 0.0.0.0 53
  # Refused after the DNAT, the reject's RST (or ICMP error) names the
  # container's address, which the client's stack does not match: the
  # client sees a timeout. What matters: nothing is delivered.
  hairpin_probes ""
  PROBE_TOKEN=out run -0 ns_tcp_connect "$OUT_NS" "$OUT_HOST_IP" "$hp"
  # With br_netfilter calling the IP hooks on bridged frames (this
  # namespace's bridge-nf-call-iptables), a DNAT to the sender's own bridge
  # is bridged from the sender's isolated port, and the bridge drops it:
  # even y's hairpin fails (closed). Without it, the hairpin is routed and
  # meets the label policy: y gets in, x and z still do not.
  if [[ -w $nf ]]; then
    cat "$nf" >"$T/nf_saved"
    echo 0 >"$nf"
    hairpin_probes "-routed"
  fi
  PROBE_TOKEN=y-gw run ns_tcp_connect "$(ns_of y)" "$GW" "$hp"
  local y_gw=$output
  PROBE_TOKEN=y-host run ns_tcp_connect "$(ns_of y)" "$OUT_HOST_IP" "$hp"
  local y_host=$output
  assert_eq "$y_gw $y_host" "ok ok" "y (app=web) -> gateway, host address, routed hairpin"
  assert_eq "$(received y-gw) $(received y-host) $(received out)" "1 1 1" "allowed probes delivered"
}

@test "published port: outside clients reach exactly the published port, only through the DNAT path, unless ingress allows more" {
  local hp maps
  hp=$(random_port)
  setup_outside
  maps=$(jq -nc --argjson h "$hp" '[{hostPort: $h, containerPort: 80, protocol: "tcp"}]')
  MOAT_CONF=$(pub_conf "$MOAT_CONF" web "$maps") add_container web
  # A second container lets the outside client in on tcp/81 by ingress.
  MOAT_CONF=$(pub_conf "$MOAT_CONF" web "$(jq -nc --argjson h "$((hp + 1))" \
    '[{hostPort: $h, containerPort: 80, protocol: "tcp"}]')" |
    jq -c --arg i "$OUT_IP/32 tcp/81" '.runtimeConfig["io.kubernetes.cri.pod-annotations"] = {"io.moat.ingress": $i}') \
    add_container open
  local c
  for c in web open; do
    ns_tcp_listen "$(ns_of "$c")" 0.0.0.0 80
    ns_tcp_listen "$(ns_of "$c")" 0.0.0.0 81
  done
  PROBE_TOKEN=pub run -0 ns_tcp_connect "$OUT_NS" "$OUT_HOST_IP" "$hp"
  # Routed straight to the container's address: no DNAT, no entry.
  PROBE_TOKEN=direct-80 run ns_tcp_connect "$OUT_NS" "$(ip_of web)" 80
  assert_eq "$output" refused "outside -> web:80 routed straight"
  PROBE_TOKEN=direct-81 run ns_tcp_connect "$OUT_NS" "$(ip_of web)" 81
  assert_eq "$output" refused "outside -> web:81 routed straight"
  # The host port next to it is not published: nothing reaches web.
  PROBE_TOKEN=next-port run ns_tcp_connect "$OUT_NS" "$OUT_HOST_IP" "$((hp + 2))"
  assert_eq "$output" refused "outside -> host:$((hp + 2))"
  # Ingress opens what it names, and only that, on the straight path.
  PROBE_TOKEN=open-81 run -0 ns_tcp_connect "$OUT_NS" "$(ip_of open)" 81
  PROBE_TOKEN=open-80 run ns_tcp_connect "$OUT_NS" "$(ip_of open)" 80
  assert_eq "$output" refused "outside -> open:80 routed straight"
  PROBE_TOKEN=open-pub run -0 ns_tcp_connect "$OUT_NS" "$OUT_HOST_IP" "$((hp + 1))"
  assert_eq "$(received direct-80)$(received direct-81)$(received next-port)$(received open-80)" \
    0000 "refused probes delivered"
  assert_eq "$(received pub) $(received open-81) $(received open-pub)" "1 1 1" "allowed probes delivered"
}

@test "published port: route_localnet on a publishing bridge opens no way to the host's loopback, granted port or not" {
  local hp pl maps t
  setup_world
  hp=$(random_port) pl=$((P + 6))
  maps=$(jq -nc --argjson h "$hp" '[{hostPort: $h, containerPort: 53, protocol: "udp"}]')
  MOAT_CONF=$(pub_conf "$MOAT_CONF" web "$maps") add_container web
  assert_eq "$(cat "/proc/sys/net/ipv4/conf/$BR/route_localnet")" 1 "route_localnet on the bridge"
  ns_udp_listen "$(ns_of web)" 0.0.0.0 53
  ns_udp_listen host 127.0.0.1 "$PA"
  ns_udp_listen host 127.0.0.1 "$pl"
  # Control: the host's own 127.0.0.1 reaches the published port, and the
  # container's answer comes back to it through the bridge.
  PROBE_TOKEN=lo-host run -0 ns_udp_connect host 127.0.0.1 "$hp"
  # a may open the host's udp/$PA: on the gateway, not on the loopback.
  a_udp lo-granted "$IPA" 127.0.0.1 "$PA"
  a_udp lo-other "$IPA" 127.0.0.1 "$pl"
  a_udp lo-pub "$IPA" 127.0.0.1 "$hp" # the published port, through the loopback
  for t in lo-granted lo-other lo-pub; do sent_by_a "$t"; done
  settle_host
  for t in lo-granted lo-other lo-pub; do
    assert_eq "$(received "$t")" 0 "$t delivered"
  done
  assert_others_intact
}
