#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2010 # jq programs in single quotes; ls of address files
# Default deny with real traffic: what a container can reach (nothing), what
# can reach it (the host), how denied flows fail (reset / ICMP, or silence
# with "reject": false), and anti-spoofing at the bridge port.

load helpers

setup() { setup_moat_net; }
teardown() { teardown_moat_net; }

# Two containers c1, c2, an outside namespace routed through the host, and
# a TCP and a UDP server on port $P in each of them and on the gateway.
setup_matrix() {
  add_container c1
  add_container c2
  IP1=$(ip_of c1)
  IP2=$(ip_of c2)
  NS1=$(ns_of c1)
  NS2=$(ns_of c2)
  setup_outside
  P=$(random_port)
  local where
  for where in "$NS1 0.0.0.0" "$NS2 0.0.0.0" "host $GW" "$OUT_NS $OUT_IP" "host $OUT_HOST_IP"; do
    # shellcheck disable=SC2086
    ns_tcp_listen $where "$P"
    # shellcheck disable=SC2086
    ns_udp_listen $where "$P"
  done
}

@test "host to container: TCP and UDP allowed, replies pass" {
  setup_matrix
  PROBE_TOKEN=host-tcp-1 run -0 ns_tcp_connect host "$IP1" "$P"
  PROBE_TOKEN=host-udp-1 run -0 ns_udp_connect host "$IP1" "$P"
  PROBE_TOKEN=host-tcp-2 run -0 ns_tcp_connect host "$IP2" "$P"
  assert_eq "$(received host-tcp-1)" 1 "c1 received the TCP token"
  assert_eq "$(received host-udp-1)" 1 "c1 received the UDP token"
}

@test "container to container: TCP refused at once, UDP rejected, nothing delivered" {
  setup_matrix
  PROBE_TOKEN=c1-c2-tcp run ns_tcp_connect "$NS1" "$IP2" "$P"
  assert_eq "$output" refused "c1 -> c2 tcp"
  PROBE_TOKEN=c1-c2-udp run ns_udp_connect "$NS1" "$IP2" "$P"
  assert_eq "$output" unreachable "c1 -> c2 udp"
  PROBE_TOKEN=c2-c1-tcp run ns_tcp_connect "$NS2" "$IP1" "$P"
  assert_eq "$output" refused "c2 -> c1 tcp"
  assert_eq "$(received c1-c2-tcp)$(received c1-c2-udp)$(received c2-c1-tcp)" 000 "delivered"
}

@test "container to container and host: ICMP echo is refused (admin prohibited)" {
  setup_matrix
  run ip netns exec "$NS1" ping -c1 -W1 "$IP2"
  [[ $status -ne 0 ]] || fail "c1 pinged c2: $output"
  assert_contains "${output,,}" "filtered" "ping c1 -> c2"
  run ip netns exec "$NS1" ping -c1 -W1 "$GW"
  [[ $status -ne 0 ]] || fail "c1 pinged the gateway: $output"
  assert_contains "${output,,}" "filtered" "ping c1 -> gateway"
  # The host may ping a container.
  run -0 ping -c1 -W1 "$IP2"
}

@test "container to host: gateway and other host addresses refused" {
  setup_matrix
  # Control: the servers on the host answer the host itself.
  run -0 ns_tcp_connect host "$GW" "$P"
  run -0 ns_tcp_connect host "$OUT_HOST_IP" "$P"
  PROBE_TOKEN=c1-gw-tcp run ns_tcp_connect "$NS1" "$GW" "$P"
  assert_eq "$output" refused "c1 -> gateway tcp"
  PROBE_TOKEN=c1-gw-udp run ns_udp_connect "$NS1" "$GW" "$P"
  assert_eq "$output" unreachable "c1 -> gateway udp"
  PROBE_TOKEN=c1-hostip-tcp run ns_tcp_connect "$NS1" "$OUT_HOST_IP" "$P"
  assert_eq "$output" refused "c1 -> host address $OUT_HOST_IP tcp"
  assert_eq "$(received c1-gw-tcp)$(received c1-gw-udp)$(received c1-hostip-tcp)" 000 "delivered"
}

@test "container to outside namespace (routed through the host): refused" {
  setup_matrix
  run -0 ns_tcp_connect host "$OUT_IP" "$P"
  PROBE_TOKEN=c1-out-tcp run ns_tcp_connect "$NS1" "$OUT_IP" "$P"
  assert_eq "$output" refused "c1 -> outside tcp"
  PROBE_TOKEN=c1-out-udp run ns_udp_connect "$NS1" "$OUT_IP" "$P"
  assert_eq "$output" unreachable "c1 -> outside udp"
  assert_eq "$(received c1-out-tcp)$(received c1-out-udp)" 00 "delivered"
}

@test "outside namespace to container: refused" {
  setup_matrix
  run -0 ns_tcp_connect host "$IP1" "$P"
  PROBE_TOKEN=out-c1-tcp run ns_tcp_connect "$OUT_NS" "$IP1" "$P"
  assert_eq "$output" refused "outside -> c1 tcp"
  PROBE_TOKEN=out-c1-udp run ns_udp_connect "$OUT_NS" "$IP1" "$P"
  assert_eq "$output" unreachable "outside -> c1 udp"
  assert_eq "$(received out-c1-tcp)$(received out-c1-udp)" 00 "delivered"
}

@test "reject false: denied flows time out instead of failing fast" {
  conf_set '.reject = false'
  setup_matrix
  PROBE_TOKEN=q-c1-c2 run ns_tcp_connect "$NS1" "$IP2" "$P"
  assert_eq "$output" timeout "c1 -> c2 tcp"
  PROBE_TOKEN=q-c1-gw run ns_tcp_connect "$NS1" "$GW" "$P"
  assert_eq "$output" timeout "c1 -> gateway tcp"
  PROBE_TOKEN=q-c1-out run ns_tcp_connect "$NS1" "$OUT_IP" "$P"
  assert_eq "$output" timeout "c1 -> outside tcp"
  PROBE_TOKEN=q-c1-gw-udp run ns_udp_connect "$NS1" "$GW" "$P"
  assert_eq "$output" timeout "c1 -> gateway udp"
  assert_eq "$(received q-c1-c2)$(received q-c1-gw)$(received q-c1-out)$(received q-c1-gw-udp)" \
    0000 "delivered"
  # The host still reaches the container.
  run -0 ns_tcp_connect host "$IP1" "$P"
}

@test "internet true: containers reach outside the network, still not each other nor the host" {
  conf_set '.internet = true'
  setup_matrix
  PROBE_TOKEN=i-c1-out run -0 ns_tcp_connect "$NS1" "$OUT_IP" "$P"
  PROBE_TOKEN=i-c1-out-udp run -0 ns_udp_connect "$NS1" "$OUT_IP" "$P"
  # Not masqueraded: the outside sees the container's own address.
  assert_eq "$(peer_of i-c1-out)" "$IP1" "source seen outside"
  PROBE_TOKEN=i-c1-c2 run ns_tcp_connect "$NS1" "$IP2" "$P"
  assert_eq "$output" refused "c1 -> c2 tcp"
  PROBE_TOKEN=i-c1-gw run ns_tcp_connect "$NS1" "$GW" "$P"
  assert_eq "$output" refused "c1 -> gateway tcp"
  # internet opens the way out, not the way in.
  PROBE_TOKEN=i-out-c1 run ns_tcp_connect "$OUT_NS" "$IP1" "$P"
  assert_eq "$output" refused "outside -> c1 tcp"
  assert_eq "$(received i-c1-c2)$(received i-c1-gw)$(received i-out-c1)" 000 "delivered"
}

@test "masquerade: traffic leaving the host carries the host's address" {
  conf_set '.internet = true | .masquerade = true'
  setup_matrix
  PROBE_TOKEN=m-c1-out run -0 ns_tcp_connect "$NS1" "$OUT_IP" "$P"
  assert_eq "$(peer_of m-c1-out)" "$OUT_HOST_IP" "source seen outside"
  # Between containers nothing is rewritten (and nothing is allowed).
  PROBE_TOKEN=m-c1-c2 run ns_tcp_connect "$NS1" "$IP2" "$P"
  assert_eq "$output" refused "c1 -> c2 tcp"
}

@test "fail closed: a container whose elements are gone is cut off, not let through" {
  setup_matrix
  run -0 ns_tcp_connect host "$IP1" "$P"
  # What DEL does first (and what a half-done DEL leaves): c1's elements go.
  nft_delete_elem inet members "$BR . $IP1"
  nft_delete_elem bridge guarded "$(hostif_of c1)"
  nft_delete_elem bridge ports "$(hostif_of c1) . $(mac_of c1) . $IP1"
  PROBE_TOKEN=fc-c1-gw run ns_tcp_connect "$NS1" "$GW" "$P"
  assert_eq "$output" timeout "c1 -> gateway tcp"
  PROBE_TOKEN=fc-c1-out run ns_tcp_connect "$NS1" "$OUT_IP" "$P"
  assert_eq "$output" timeout "c1 -> outside tcp"
  PROBE_TOKEN=fc-c1-c2 run ns_tcp_connect "$NS1" "$IP2" "$P"
  assert_eq "$output" timeout "c1 -> c2 tcp"
  assert_eq "$(received fc-c1-gw)$(received fc-c1-out)$(received fc-c1-c2)" 000 "delivered"
  # c2 keeps its policy: the host still reaches it.
  run -0 ns_tcp_connect host "$IP2" "$P"
}

# Replaces c1's address with $1 (default route again via the gateway).
readdress_c1() {
  ip -n "$NS1" addr flush dev eth0
  ip -n "$NS1" addr add "$1/24" dev eth0
  ip -n "$NS1" route replace default via "$GW" dev eth0
  ip neigh flush dev "$BR"
}

@test "anti-spoofing: a container that takes another free address gets nothing through" {
  setup_matrix
  local free=$NETPFX.250
  [[ $free != "$IP1" && $free != "$IP2" ]] || fail "test needs $free unallocated"
  # Control: frames from c1 reach the host (which refuses them).
  run ns_tcp_connect "$NS1" "$GW" "$P"
  assert_eq "$output" refused "c1 -> gateway before spoofing"

  readdress_c1 "$free"
  PROBE_TOKEN=spoof-free-gw run ns_tcp_connect "$NS1" "$GW" "$P"
  [[ $output == timeout || $output == unreachable ]] ||
    fail "c1 from $free -> gateway: expected dropped, got $output"
  PROBE_TOKEN=spoof-free-in run ns_tcp_connect host "$free" "$P"
  [[ $output != ok ]] || fail "host reached c1 at its spoofed address $free"
  PROBE_TOKEN=spoof-free-udp run ns_udp_connect host "$free" "$P"
  [[ $output != ok ]] || fail "host got a UDP reply from the spoofed address $free"
  assert_eq "$(received spoof-free-gw)" 0 "delivered from the spoofed address"
}

@test "anti-spoofing: a container that takes its peer's address gets nothing through" {
  setup_matrix
  run ns_tcp_connect "$NS1" "$GW" "$P"
  assert_eq "$output" refused "c1 -> gateway before spoofing"

  readdress_c1 "$IP2"
  PROBE_TOKEN=spoof-peer-gw run ns_tcp_connect "$NS1" "$GW" "$P"
  [[ $output == timeout || $output == unreachable ]] ||
    fail "c1 posing as $IP2 -> gateway: expected dropped, got $output"
  PROBE_TOKEN=spoof-peer-out run ns_tcp_connect "$NS1" "$OUT_IP" "$P"
  [[ $output == timeout || $output == unreachable ]] ||
    fail "c1 posing as $IP2 -> outside: expected dropped, got $output"
  assert_eq "$(received spoof-peer-gw)$(received spoof-peer-out)" 00 "delivered"
  # The real owner keeps its address: the host still reaches c2, several
  # times in a row (c1 must never answer for it).
  local k
  for k in 1 2 3; do
    PROBE_TOKEN=peer-$k run -0 ns_tcp_connect host "$IP2" "$P"
  done
}

@test "anti-spoofing: a container that changes its MAC gets nothing through" {
  setup_matrix
  run ns_tcp_connect "$NS1" "$GW" "$P"
  assert_eq "$output" refused "c1 -> gateway before the change"
  run -0 ns_tcp_connect host "$IP1" "$P"

  ip -n "$NS1" link set dev eth0 address 02:00:5e:00:53:01
  ip -n "$NS1" neigh flush dev eth0
  ip neigh flush dev "$BR"
  PROBE_TOKEN=mac-gw run ns_tcp_connect "$NS1" "$GW" "$P"
  [[ $output == timeout || $output == unreachable ]] ||
    fail "c1 with a new MAC -> gateway: expected dropped, got $output"
  PROBE_TOKEN=mac-in run ns_tcp_connect host "$IP1" "$P"
  [[ $output != ok ]] || fail "host reached c1 after its MAC changed"
  assert_eq "$(received mac-gw)" 0 "delivered"
}
