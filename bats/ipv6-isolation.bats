#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2030,SC2031 # jq programs in single quotes; run sets output in each test
# bats/isolation.bats over IPv6 (issue 17): every flow of it on a
# dual-stack network, with real TCP, UDP and ICMPv6 to the containers' and
# the host's IPv6 addresses: what a container can reach (nothing), what can
# reach it (the host), how denied flows fail (reset / ICMPv6
# admin-prohibited, or silence with "reject": false), internet and
# masquerade, fail closed without the elements, anti-spoofing at the port.
# Forged neighbour discovery, RA, redirects, DHCPv6, extension headers and
# fragments: bats/ipv6.bats and bats/ipv6-escape.bats. Runs in hack/sandbox
# (it sets net.ipv6.conf.all.forwarding).
# moat-bats: sandbox

load helpers

setup() { setup_dual_stack_net; }
teardown() { teardown_moat_net; }

# Two containers c1, c2 (IPv6 addresses IP1, IP2), an outside namespace
# routed through the host, and a TCP and a UDP server on port $P on the
# IPv6 side of each of them and on the gateway.
setup_matrix6() {
  add_container c1
  add_container c2
  IP1=$(ip6_of c1)
  IP2=$(ip6_of c2)
  NS1=$(ns_of c1)
  NS2=$(ns_of c2)
  setup_outside6
  P=$(random_port)
  local where
  for where in "$NS1 ::" "$NS2 ::" "host $GW6" "$OUT_NS $OUT6_IP" "host $OUT6_HOST_IP"; do
    # shellcheck disable=SC2086
    ns_tcp_listen $where "$P"
    # shellcheck disable=SC2086
    ns_udp_listen $where "$P"
  done
  # IPv4's way out, for the controls that IPv4 keeps its own.
  ns_tcp_listen "$OUT_NS" "$OUT_IP" "$P"
}

# peer6_of TOKEN: the IPv6 address the server saw for TOKEN, as ip prints it
# (socat gives it bracketed and in full).
peer6_of() {
  local p
  p=$(peer_of "$1")
  p=${p#[}
  python3 -c 'import ipaddress, sys; print(ipaddress.ip_address(sys.argv[1]))' "${p%]}" 2>/dev/null ||
    echo "none: '$p'"
}

# ping6 FROM_NS ADDR: one echo request; the output (status in $status).
ping6() { run ip netns exec "$1" ping -6 -c1 -W1 "$2"; }

# The bridge's link-local address (the gateway's other address).
bridge_lla() { ip -6 -o addr show dev "$BR" scope link | awk '{ sub("/.*", "", $4); print $4; exit }'; }

@test "IPv6 host to container: TCP and UDP allowed, replies pass" {
  setup_matrix6
  PROBE_TOKEN=host-tcp-1 run -0 ns_tcp_connect host "$IP1" "$P"
  PROBE_TOKEN=host-udp-1 run -0 ns_udp_connect host "$IP1" "$P"
  PROBE_TOKEN=host-tcp-2 run -0 ns_tcp_connect host "$IP2" "$P"
  assert_eq "$(received host-tcp-1)" 1 "c1 received the TCP token"
  assert_eq "$(received host-udp-1)" 1 "c1 received the UDP token"
  assert_eq "$(peer6_of host-tcp-1)" "$GW6" "source c1 saw"
  run -0 ping -6 -c1 -W1 "$IP1"
}

@test "IPv6 container to container: TCP refused at once, UDP rejected, nothing delivered" {
  setup_matrix6
  PROBE_TOKEN=c1-c2-tcp run ns_tcp_connect "$NS1" "$IP2" "$P"
  assert_eq "$output" refused "c1 -> c2 tcp6"
  PROBE_TOKEN=c1-c2-udp run ns_udp_connect "$NS1" "$IP2" "$P"
  assert_eq "$output" unreachable "c1 -> c2 udp6"
  PROBE_TOKEN=c2-c1-tcp run ns_tcp_connect "$NS2" "$IP1" "$P"
  assert_eq "$output" refused "c2 -> c1 tcp6"
  PROBE_TOKEN=c2-c1-udp run ns_udp_connect "$NS2" "$IP1" "$P"
  assert_eq "$output" unreachable "c2 -> c1 udp6"
  assert_eq "$(received c1-c2-tcp)$(received c1-c2-udp)$(received c2-c1-tcp)$(received c2-c1-udp)" \
    0000 "delivered"
}

# The link-local address of NAME's eth0.
lla_of() { ip -n "$(ns_of "$1")" -6 -o addr show dev eth0 scope link | awk '{ sub("/.*", "", $4); print $4; exit }'; }

@test "IPv6 container to container on the link: a peer's link-local and all nodes get nothing" {
  setup_matrix6
  local lla2 q
  lla2=$(lla_of c2)
  [[ -n $lla2 ]] || fail "c2 has no link-local address"
  # A UDP server on port q in c2 alone. Control: the host's datagram to all
  # nodes on the bridge reaches it.
  q=$((P + 2))
  ns_udp_listen "$NS2" :: "$q"
  PROBE_TOKEN=mc-host run ns_udp_connect host "ff02::1%$BR" "$q"
  wait_for 5 eval '(( $(received mc-host) == 1 ))'
  PROBE_TOKEN=ll-c1-c2-tcp run ns_tcp_connect "$NS1" "$lla2%eth0" "$P"
  dropped6 "$output" "c1 -> c2's link-local tcp6"
  PROBE_TOKEN=ll-c1-c2-udp run ns_udp_connect "$NS1" "$lla2%eth0" "$P"
  [[ $output != ok ]] || fail "c2 answered c1 on its link-local: $output"
  PROBE_TOKEN=mc-c1 run ns_udp_connect "$NS1" "ff02::1%eth0" "$q"
  [[ $output != ok ]] || fail "a container answered c1's datagram to all nodes"
  # c1 answers its own echoes to all nodes; no one else may (a duplicate).
  run ip netns exec "$NS1" ping -6 -c3 -i0.3 -W1 "ff02::1%eth0"
  assert_contains "$output" "from $(lla_of c1)" "c1's echo to all nodes (control: its own answer)"
  assert_not_contains "$output" "DUP" "c1's echo to all nodes"
  assert_not_contains "$output" "$lla2" "c1's echo to all nodes"
  assert_eq "$(received ll-c1-c2-tcp)$(received ll-c1-c2-udp)$(received mc-c1)" 000 "delivered"
}

@test "IPv6 container to container and host: ICMPv6 echo is refused (admin prohibited)" {
  setup_matrix6
  ping6 "$NS1" "$IP2"
  [[ $status -ne 0 ]] || fail "c1 pinged c2: $output"
  assert_contains "${output,,}" "administratively prohibited" "ping -6 c1 -> c2"
  ping6 "$NS1" "$GW6"
  [[ $status -ne 0 ]] || fail "c1 pinged the gateway: $output"
  assert_contains "${output,,}" "administratively prohibited" "ping -6 c1 -> gateway"
  ping6 "$NS1" "$OUT6_HOST_IP"
  [[ $status -ne 0 ]] || fail "c1 pinged the host's $OUT6_HOST_IP: $output"
  assert_contains "${output,,}" "administratively prohibited" "ping -6 c1 -> $OUT6_HOST_IP"
  # The host may ping a container.
  run -0 ping -6 -c1 -W1 "$IP2"
}

@test "IPv6 container to host: gateway and other host addresses refused; the bridge's link-local dropped" {
  setup_matrix6
  local lla q
  lla=$(bridge_lla)
  [[ -n $lla ]] || fail "no link-local on $BR"
  q=$((P + 1))
  ns_tcp_listen host :: "$q"
  ns_udp_listen host :: "$q"
  # Control: the servers on the host answer the host itself.
  run -0 ns_tcp_connect host "$GW6" "$P"
  run -0 ns_tcp_connect host "$OUT6_HOST_IP" "$P"
  run -0 ns_tcp_connect host "$lla%$BR" "$q"
  PROBE_TOKEN=c1-gw-tcp run ns_tcp_connect "$NS1" "$GW6" "$P"
  assert_eq "$output" refused "c1 -> gateway tcp6"
  PROBE_TOKEN=c1-gw-udp run ns_udp_connect "$NS1" "$GW6" "$P"
  assert_eq "$output" unreachable "c1 -> gateway udp6"
  PROBE_TOKEN=c1-hostip-tcp run ns_tcp_connect "$NS1" "$OUT6_HOST_IP" "$P"
  assert_eq "$output" refused "c1 -> host address $OUT6_HOST_IP tcp6"
  PROBE_TOKEN=c1-hostip-udp run ns_udp_connect "$NS1" "$OUT6_HOST_IP" "$P"
  assert_eq "$output" unreachable "c1 -> host address $OUT6_HOST_IP udp6"
  # To the bridge's link-local, c1 speaks from its own link-local, which is
  # no member's address: input's "meta nfproto ipv6 iifname @bridges drop"
  # drops it without an answer (IPv4 has no such second address).
  PROBE_TOKEN=c1-lla-tcp run ns_tcp_connect "$NS1" "$lla%eth0" "$q"
  assert_eq "$output" timeout "c1 -> the bridge's link-local tcp6"
  PROBE_TOKEN=c1-lla-udp run ns_udp_connect "$NS1" "$lla%eth0" "$q"
  [[ $output != ok ]] || fail "c1 -> the bridge's link-local udp6 answered"
  assert_eq "$(received c1-gw-tcp)$(received c1-gw-udp)$(received c1-hostip-tcp)$(received c1-hostip-udp)" \
    0000 "delivered"
  assert_eq "$(received c1-lla-tcp)$(received c1-lla-udp)" 00 "delivered to the link-local"
}

@test "IPv6 container to outside namespace (routed through the host): refused" {
  setup_matrix6
  run -0 ns_tcp_connect host "$OUT6_IP" "$P"
  PROBE_TOKEN=c1-out-tcp run ns_tcp_connect "$NS1" "$OUT6_IP" "$P"
  assert_eq "$output" refused "c1 -> outside tcp6"
  PROBE_TOKEN=c1-out-udp run ns_udp_connect "$NS1" "$OUT6_IP" "$P"
  assert_eq "$output" unreachable "c1 -> outside udp6"
  ping6 "$NS1" "$OUT6_IP"
  [[ $status -ne 0 ]] || fail "c1 pinged the outside: $output"
  assert_contains "${output,,}" "administratively prohibited" "ping -6 c1 -> outside"
  assert_eq "$(received c1-out-tcp)$(received c1-out-udp)" 00 "delivered"
}

@test "IPv6 outside namespace to container: refused" {
  setup_matrix6
  run -0 ns_tcp_connect host "$IP1" "$P"
  PROBE_TOKEN=out-c1-tcp run ns_tcp_connect "$OUT_NS" "$IP1" "$P"
  assert_eq "$output" refused "outside -> c1 tcp6"
  PROBE_TOKEN=out-c1-udp run ns_udp_connect "$OUT_NS" "$IP1" "$P"
  assert_eq "$output" unreachable "outside -> c1 udp6"
  ping6 "$OUT_NS" "$IP1"
  [[ $status -ne 0 ]] || fail "the outside pinged c1: $output"
  assert_eq "$(received out-c1-tcp)$(received out-c1-udp)" 00 "delivered"
}

@test "IPv6 reject false: denied flows time out instead of failing fast" {
  conf_set '.reject = false'
  setup_matrix6
  PROBE_TOKEN=q-c1-c2 run ns_tcp_connect "$NS1" "$IP2" "$P"
  assert_eq "$output" timeout "c1 -> c2 tcp6"
  PROBE_TOKEN=q-c1-gw run ns_tcp_connect "$NS1" "$GW6" "$P"
  assert_eq "$output" timeout "c1 -> gateway tcp6"
  PROBE_TOKEN=q-c1-out run ns_tcp_connect "$NS1" "$OUT6_IP" "$P"
  assert_eq "$output" timeout "c1 -> outside tcp6"
  PROBE_TOKEN=q-c1-gw-udp run ns_udp_connect "$NS1" "$GW6" "$P"
  assert_eq "$output" timeout "c1 -> gateway udp6"
  PROBE_TOKEN=q-out-c1 run ns_tcp_connect "$OUT_NS" "$IP1" "$P"
  assert_eq "$output" timeout "outside -> c1 tcp6"
  ping6 "$NS1" "$IP2"
  [[ $status -ne 0 ]] || fail "c1 pinged c2: $output"
  assert_not_contains "${output,,}" "prohibited" "ping -6 c1 -> c2 (silence, no error)"
  assert_eq "$(received q-c1-c2)$(received q-c1-gw)$(received q-c1-out)$(received q-c1-gw-udp)$(received q-out-c1)" \
    00000 "delivered"
  # The host still reaches the container.
  run -0 ns_tcp_connect host "$IP1" "$P"
}

@test "IPv6 internet true: containers reach outside the network, still not each other nor the host" {
  conf_set '.internet = true'
  setup_matrix6
  PROBE_TOKEN=i-c1-out run -0 ns_tcp_connect "$NS1" "$OUT6_IP" "$P"
  PROBE_TOKEN=i-c1-out-udp run -0 ns_udp_connect "$NS1" "$OUT6_IP" "$P"
  run -0 ip netns exec "$NS1" ping -6 -c1 -W1 "$OUT6_IP"
  # Not masqueraded: the outside sees the container's own address.
  assert_eq "$(peer6_of i-c1-out)" "$IP1" "source seen outside"
  PROBE_TOKEN=i-c1-c2 run ns_tcp_connect "$NS1" "$IP2" "$P"
  assert_eq "$output" refused "c1 -> c2 tcp6"
  PROBE_TOKEN=i-c1-gw run ns_tcp_connect "$NS1" "$GW6" "$P"
  assert_eq "$output" refused "c1 -> gateway tcp6"
  PROBE_TOKEN=i-c1-hostip run ns_tcp_connect "$NS1" "$OUT6_HOST_IP" "$P"
  assert_eq "$output" refused "c1 -> host address $OUT6_HOST_IP tcp6"
  # internet opens the way out, not the way in.
  PROBE_TOKEN=i-out-c1 run ns_tcp_connect "$OUT_NS" "$IP1" "$P"
  assert_eq "$output" refused "outside -> c1 tcp6"
  assert_eq "$(received i-c1-c2)$(received i-c1-gw)$(received i-c1-hostip)$(received i-out-c1)" 0000 "delivered"
}

@test "IPv6 masquerade: traffic leaving the host carries the host's IPv6 address" {
  conf_set '.internet = true | .masquerade = true'
  setup_matrix6
  PROBE_TOKEN=m-c1-out run -0 ns_tcp_connect "$NS1" "$OUT6_IP" "$P"
  assert_eq "$(peer6_of m-c1-out)" "$OUT6_HOST_IP" "source seen outside"
  PROBE_TOKEN=m-c1-out-udp run -0 ns_udp_connect "$NS1" "$OUT6_IP" "$P"
  assert_eq "$(peer6_of m-c1-out-udp)" "$OUT6_HOST_IP" "UDP source seen outside"
  # Between containers nothing is rewritten (and nothing is allowed).
  PROBE_TOKEN=m-c1-c2 run ns_tcp_connect "$NS1" "$IP2" "$P"
  assert_eq "$output" refused "c1 -> c2 tcp6"
  # The host's own connection to a container keeps its source.
  PROBE_TOKEN=m-host-c1 run -0 ns_tcp_connect host "$IP1" "$P"
  assert_eq "$(peer6_of m-host-c1)" "$GW6" "source c1 saw from the host"
}

# c1's IPv6 elements as nft_elems prints them: members6, its two ports6.
members6_of_c1() { echo "$BR . $IP1"; }
ports6_of_c1() { nft_elems bridge ports6 | grep -F "$(hostif_of c1) . $(mac_of c1) . "; }

# dropped6 OUTPUT WHAT: the probe got no answer: a timeout, or c1's own
# stack giving up on a neighbour its dropped solicitations never resolved
# (unreachable, once that entry failed).
dropped6() {
  [[ $1 == timeout || $1 == unreachable ]] || fail "$2: expected dropped, got $1"
}

# assert_c1_cut6 TAG: c1's IPv6 to the gateway, the outside and c2 is
# delivered nowhere and answered by no one.
assert_c1_cut6() {
  PROBE_TOKEN=$1-gw run ns_tcp_connect "$NS1" "$GW6" "$P"
  dropped6 "$output" "c1 -> gateway tcp6 ($1)"
  PROBE_TOKEN=$1-gw-udp run ns_udp_connect "$NS1" "$GW6" "$P"
  dropped6 "$output" "c1 -> gateway udp6 ($1)"
  PROBE_TOKEN=$1-out run ns_tcp_connect "$NS1" "$OUT6_IP" "$P"
  dropped6 "$output" "c1 -> outside tcp6 ($1)"
  PROBE_TOKEN=$1-c2 run ns_tcp_connect "$NS1" "$IP2" "$P"
  dropped6 "$output" "c1 -> c2 tcp6 ($1)"
  assert_eq "$(received "$1-gw")$(received "$1-gw-udp")$(received "$1-out")$(received "$1-c2")" 0000 \
    "delivered ($1)"
}

@test "IPv6 fail closed: a container whose elements are gone is cut off in both families, not let through" {
  conf_set '.internet = true'
  setup_matrix6
  # Control: with internet, c1 reaches the outside over both families.
  run -0 ns_tcp_connect "$NS1" "$OUT6_IP" "$P"
  run -0 ns_tcp_connect host "$IP1" "$P"
  local e
  # What DEL does first (and what a half-done DEL leaves): c1's elements go.
  nft_delete_elem inet members "$BR . $(ip_of c1)"
  nft_delete_elem inet members6 "$(members6_of_c1)"
  nft_delete_elem bridge guarded "$(hostif_of c1)"
  nft_delete_elem bridge ports "$(hostif_of c1) . $(mac_of c1) . $(ip_of c1)"
  while read -r e; do nft_delete_elem bridge ports6 "$e"; done < <(ports6_of_c1)
  assert_c1_cut6 fc
  PROBE_TOKEN=fc4-out run ns_tcp_connect "$NS1" "$OUT_IP" "$P"
  assert_eq "$output" timeout "c1 -> outside tcp over IPv4"
  # c2 keeps its policy: the host still reaches it.
  run -0 ns_tcp_connect host "$IP2" "$P"
}

@test "IPv6 fail closed: either half of the IPv6 elements alone gone (members6, or the port's ports6) cuts c1's IPv6" {
  conf_set '.internet = true'
  setup_matrix6
  run -0 ns_tcp_connect "$NS1" "$OUT6_IP" "$P"
  local ports6 e
  ports6=$(ports6_of_c1)
  assert_eq "$(wc -l <<<"$ports6")" 2 "c1's ports6 elements (global and link-local)"
  # The inet half: the port still lets c1's frames in.
  nft_delete_elem inet members6 "$(members6_of_c1)"
  assert_c1_cut6 m6
  # IPv4 keeps its elements and its way out.
  PROBE_TOKEN=m6-out4 run -0 ns_tcp_connect "$NS1" "$OUT_IP" "$P"
  # The bridge half alone: members6 back, ports6 gone.
  nft add element inet moat members6 "{ $BR . $IP1 }"
  PROBE_TOKEN=m6-back run -0 ns_tcp_connect "$NS1" "$OUT6_IP" "$P"
  while read -r e; do nft_delete_elem bridge ports6 "$e"; done <<<"$ports6"
  ip neigh flush dev "$BR"
  ip -n "$NS1" neigh flush dev eth0
  assert_c1_cut6 p6
  PROBE_TOKEN=p6-in run ns_tcp_connect host "$IP1" "$P"
  [[ $output != ok ]] || fail "host reached c1 without its ports6 elements"
}

# Replaces c1's IPv6 address with $1 (default route again via the gateway).
readdress6_c1() {
  ip -n "$NS1" -6 addr flush dev eth0 scope global
  ip -n "$NS1" -6 addr add "$1/64" dev eth0 nodad noprefixroute
  ip -n "$NS1" -6 route replace "$GW6" dev eth0
  ip -n "$NS1" -6 route replace default via "$GW6" dev eth0
  ip -6 neigh flush dev "$BR"
  ip -n "$NS1" -6 neigh flush dev eth0
}

@test "IPv6 anti-spoofing: a container that takes another free address of the /64 gets nothing through" {
  conf_set '.internet = true'
  setup_matrix6
  local free=$V6PFX::fa
  [[ $free != "$IP1" && $free != "$IP2" ]] || fail "test needs $free unallocated"
  # Control: frames from c1 reach the host (which refuses them), and the
  # outside (internet).
  run ns_tcp_connect "$NS1" "$GW6" "$P"
  assert_eq "$output" refused "c1 -> gateway before spoofing"
  run -0 ns_tcp_connect "$NS1" "$OUT6_IP" "$P"

  readdress6_c1 "$free"
  PROBE_TOKEN=spoof-free-gw run ns_tcp_connect "$NS1" "$GW6" "$P"
  [[ $output == timeout || $output == unreachable ]] ||
    fail "c1 from $free -> gateway: expected dropped, got $output"
  PROBE_TOKEN=spoof-free-out run ns_tcp_connect "$NS1" "$OUT6_IP" "$P"
  [[ $output == timeout || $output == unreachable ]] ||
    fail "c1 from $free -> outside: expected dropped, got $output"
  PROBE_TOKEN=spoof-free-in run ns_tcp_connect host "$free" "$P"
  [[ $output != ok ]] || fail "host reached c1 at its spoofed address $free"
  PROBE_TOKEN=spoof-free-udp run ns_udp_connect host "$free" "$P"
  [[ $output != ok ]] || fail "host got a UDP reply from the spoofed address $free"
  PROBE_TOKEN=spoof-free-c2 run ns_tcp_connect "$NS2" "$free" "$P"
  [[ $output != ok ]] || fail "c2 reached c1 at its spoofed address $free"
  # Routed from outside, to the address c1 took: nothing is forwarded to a
  # bridge but to a member's address.
  PROBE_TOKEN=spoof-free-from-out run ns_tcp_connect "$OUT_NS" "$free" "$P"
  [[ $output != ok ]] || fail "the outside reached c1 at its spoofed address $free"
  assert_eq "$(received spoof-free-gw)$(received spoof-free-out)$(received spoof-free-in)$(received spoof-free-c2)$(received spoof-free-from-out)" \
    00000 "delivered from or to the spoofed address"
  assert_not_contains "$(ip -6 neigh show dev "$BR" "$free")" "lladdr" "the host's entry for $free"
}

@test "IPv6 anti-spoofing: a container that takes its peer's address gets nothing through" {
  conf_set '.internet = true'
  setup_matrix6
  run ns_tcp_connect "$NS1" "$GW6" "$P"
  assert_eq "$output" refused "c1 -> gateway before spoofing"
  run -0 ns_tcp_connect "$NS1" "$OUT6_IP" "$P"

  readdress6_c1 "$IP2"
  PROBE_TOKEN=spoof-peer-gw run ns_tcp_connect "$NS1" "$GW6" "$P"
  [[ $output == timeout || $output == unreachable ]] ||
    fail "c1 posing as $IP2 -> gateway: expected dropped, got $output"
  PROBE_TOKEN=spoof-peer-out run ns_tcp_connect "$NS1" "$OUT6_IP" "$P"
  [[ $output == timeout || $output == unreachable ]] ||
    fail "c1 posing as $IP2 -> outside: expected dropped, got $output"
  assert_eq "$(received spoof-peer-gw)$(received spoof-peer-out)" 00 "delivered"
  # The real owner keeps its address: the host still reaches c2, several
  # times in a row (c1 must never answer for it).
  local k
  for k in 1 2 3; do
    PROBE_TOKEN=peer-$k run -0 ns_tcp_connect host "$IP2" "$P"
  done
  assert_eq "$(ip -6 neigh show dev "$BR" "$IP2" | awk '{ print $3 }')" "$(mac_of c2)" \
    "the host's entry for $IP2"
}

@test "IPv6 anti-spoofing: a container that changes its MAC gets nothing through" {
  conf_set '.internet = true'
  setup_matrix6
  run ns_tcp_connect "$NS1" "$GW6" "$P"
  assert_eq "$output" refused "c1 -> gateway before the change"
  run -0 ns_tcp_connect "$NS1" "$OUT6_IP" "$P"
  run -0 ns_tcp_connect host "$IP1" "$P"

  ip -n "$NS1" link set dev eth0 address 02:00:5e:00:53:01
  ip -n "$NS1" -6 neigh flush dev eth0
  ip -6 neigh flush dev "$BR"
  PROBE_TOKEN=mac-gw run ns_tcp_connect "$NS1" "$GW6" "$P"
  [[ $output == timeout || $output == unreachable ]] ||
    fail "c1 with a new MAC -> gateway: expected dropped, got $output"
  PROBE_TOKEN=mac-out run ns_tcp_connect "$NS1" "$OUT6_IP" "$P"
  [[ $output == timeout || $output == unreachable ]] ||
    fail "c1 with a new MAC -> outside: expected dropped, got $output"
  PROBE_TOKEN=mac-in run ns_tcp_connect host "$IP1" "$P"
  [[ $output != ok ]] || fail "host reached c1 after its MAC changed"
  assert_eq "$(received mac-gw)$(received mac-out)$(received mac-in)" 000 "delivered"
}
