#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# Dual stack: a network with subnet6 gives its containers IPv6 with the
# promises IPv4 has — default deny, labels, depends/expose, allow-host,
# grants — proven with real TCP, UDP and ICMPv6 in both families. IPv6
# forwarding is a namespace's switch (net.ipv6.conf.all.forwarding) moat
# requires and never writes: make test runs this file in hack/sandbox's
# private namespaces (the marker below), where the test turns it on.
# Attacks on the port: bats/ipv6.bats.
# moat-bats: sandbox

load helpers

setup() {
  setup_dual_stack_net
}
teardown() { teardown_moat_net; }


# tcp6 FROM TO PORT: ok | refused | ... (ns_tcp_connect to TO's IPv6 address).
tcp6() { ns_tcp_connect "$(ns_of "$1")" "$(ip6_of "$2")" "$3" || true; }
udp6() { ns_udp_connect "$(ns_of "$1")" "$(ip6_of "$2")" "$3" || true; }
tcp4() { ns_tcp_connect "$(ns_of "$1")" "$(ip_of "$2")" "$3" || true; }
ping6_ok() { ip netns exec "$(ns_of "$1")" ping -6 -c1 -W1 "$2" >/dev/null 2>&1; }

serve() { # NAME PORT: TCP and UDP servers on both of NAME's addresses
  ns_tcp_listen "$(ns_of "$1")" "$(ip6_of "$1")" "$2"
  ns_udp_listen "$(ns_of "$1")" "$(ip6_of "$1")" "$2"
  ns_tcp_listen "$(ns_of "$1")" "$(ip_of "$1")" "$2"
}

@test "IPv6: a dual-stack container has its address, the gateway's route and no RA; both addresses in the result and the record" {
  add_container a
  local ns a6
  ns=$(ns_of a)
  a6=$(ip6_of a)
  [[ $a6 == "$V6PFX"::* ]] || fail "address $a6 not in $V6PFX::/64"
  assert_jq "$(result_of a)" '[.ips[].address | contains(":")] | sort == [false, true]'
  assert_jq "$(result_of a)" '.routes | map(.dst) | index("::/0") != null'
  run -0 ip -n "$ns" -6 -o addr show dev eth0 scope global
  assert_contains "$output" "$a6/64"
  assert_not_contains "$output" "tentative"
  run -0 ip -n "$ns" -6 route show default
  assert_contains "$output" "via $GW6 dev eth0"
  assert_eq "$(ip netns exec "$ns" cat /proc/sys/net/ipv6/conf/eth0/accept_ra)" 0 "accept_ra"
  assert_eq "$(ip netns exec "$ns" cat /proc/sys/net/ipv6/conf/eth0/autoconf)" 0 "autoconf"
  assert_jq "$(cat "$(record_of a)")" '.address6 | startswith($p)' --arg p "$V6PFX::"
  run -0 "$MOAT_BUILD/moatctl" --json show "$(cid_of a)"
  assert_jq "$output" '.containers[0].address6 == $a' --arg a "$a6"
  run -0 "$MOAT_BUILD/moatctl" show "$(cid_of a)"
  assert_contains "$output" "address:   $(ip_of a), $a6"
}

@test "IPv6: default deny — unlabelled containers reach nothing over IPv6 either; the host reaches them" {
  local p
  p=$(random_port)
  add_container a
  add_container b
  serve b "$p"
  assert_eq "$(PROBE_TOKEN=ab-tcp6 tcp6 a b "$p")" refused "a -> b tcp6"
  assert_eq "$(PROBE_TOKEN=ab-udp6 udp6 a b "$p")" unreachable "a -> b udp6"
  assert_eq "$(received ab-tcp6)$(received ab-udp6)" 00 "refused tokens delivered"
  ping6_ok a "$(ip6_of b)" && fail "a pinged b over IPv6"
  ping6_ok a "$GW6" && fail "a pinged the gateway over IPv6"
  PROBE_TOKEN=h6 run -0 ns_tcp_connect host "$(ip6_of b)" "$p"
  assert_eq "$(received h6)" 1 "the host's connection arrived once"
}

@test "IPv6: a shared label opens TCP, UDP and ICMPv6 both ways in both families, and nothing else" {
  local p
  p=$(random_port)
  add_container a
  add_container b
  add_container c
  run -0 hook prestart a '{"io.moat.labels": "app=x"}'
  run -0 hook prestart b '{"io.moat.labels": "app=x"}'
  run -0 hook prestart c '{"io.moat.labels": "app=y"}'
  serve a "$p"
  serve b "$p"
  serve c "$p"
  assert_eq "$(tcp6 a b "$p")" ok "a -> b tcp6"
  assert_eq "$(tcp6 b a "$p")" ok "b -> a tcp6"
  assert_eq "$(udp6 a b "$p")" ok "a -> b udp6"
  assert_eq "$(tcp4 a b "$p")" ok "a -> b tcp4"
  ping6_ok a "$(ip6_of b)" || fail "a cannot ping b over IPv6"
  assert_eq "$(tcp6 a c "$p")" refused "a -> c tcp6"
  assert_eq "$(tcp6 c a "$p")" refused "c -> a tcp6"
  assert_eq "$(udp6 c b "$p")" unreachable "c -> b udp6"
  assert_eq "$(tcp4 c a "$p")" refused "c -> a tcp4"
  # The policy changes in both families at once.
  run -0 hook prestart c '{"io.moat.labels": "app=x"}'
  assert_eq "$(tcp6 c a "$p")" ok "c -> a tcp6 after joining app=x"
  run -0 hook prestart b '{"io.moat.labels": "app=z"}'
  assert_eq "$(tcp6 a b "$p")" refused "a -> b tcp6 after b left app=x"
}

@test "IPv6: depends/expose, allow-host and a peer grant hold over IPv6 as over IPv4" {
  local p hp
  p=$(random_port)
  hp=$(random_port)
  add_container web
  add_container db
  add_container other
  run -0 hook prestart web '{"io.moat.labels": "app=web", "io.moat.depends": "app=db", "io.moat.allow-host": "tcp/'"$hp"'"}'
  run -0 hook prestart db '{"io.moat.labels": "app=db", "io.moat.expose": "app=web"}'
  run -0 hook prestart other '{"io.moat.labels": "app=other", "io.moat.depends": "app=db"}'
  serve db "$p"
  serve other "$p"
  assert_eq "$(tcp6 web db "$p")" ok "web -> db"
  assert_eq "$(tcp6 other db "$p")" refused "other -> db (db exposes only app=web)"
  assert_eq "$(tcp6 db web "$p")" refused "db -> web"
  ns_tcp_listen host "$GW6" "$hp"
  PROBE_TOKEN=web-host run ns_tcp_connect "$(ns_of web)" "$GW6" "$hp"
  assert_eq "$output" ok "web -> host tcp/$hp over IPv6"
  PROBE_TOKEN=db-host run ns_tcp_connect "$(ns_of db)" "$GW6" "$hp"
  assert_eq "$output" refused "db -> host tcp/$hp over IPv6"
  run -0 "$MOAT_BUILD/moatctl" grant "$(cid_of db)" peer "$(cid_of other)"
  assert_eq "$(tcp6 db other "$p")" ok "db -> other with a peer grant"
  # check knows both halves; restore remakes them as they were.
  run -0 "$MOAT_BUILD/moatctl" check
  run -0 "$MOAT_BUILD/moatctl" restore
  run -0 "$MOAT_BUILD/moatctl" check
  assert_eq "$(tcp6 web db "$p")" ok "web -> db after restore"
  assert_eq "$(tcp6 other db "$p")" refused "other -> db after restore"
  assert_eq "$(tcp6 db other "$p")" ok "db -> other with its grant after restore"
  run -0 "$MOAT_BUILD/moatctl" revoke "$(cid_of db)" peer "$(cid_of other)"
  assert_eq "$(tcp6 db other "$p")" refused "db -> other revoked"
}

@test "IPv6: DEL removes the IPv6 side too; an IPv4-only network on the same host keeps IPv6 off" {
  add_container a
  local a6 hostif
  a6=$(ip6_of a)
  hostif=$(hostif_of a)
  run -0 nft list ruleset
  assert_contains "$output" "$a6"
  del_container a
  run -0 nft list ruleset
  assert_not_contains "$output" "$a6"
  ip link show dev "$hostif" >/dev/null 2>&1 && fail "host end $hostif left"
  second_network
  local ns2
  new_netns v4
  ns2=$(ns_of v4)
  CNI_CONF=$MOAT_CONF2 run -0 cni ADD "$PFX-v4" "$ns2"
  assert_eq "$(cat "/proc/sys/net/ipv6/conf/$BR2/disable_ipv6")" 1 "IPv4 bridge's IPv6"
  run -0 ip -n "$ns2" -6 -o addr show dev eth0 scope global
  assert_eq "$output" "" "an IPv4-only container has no global IPv6 address"
}

@test "IPv6: a published port is reached on the host's IPv6 address, DNAT'd to the container's" {
  local hp
  hp=$(random_port)
  MOAT_CONF=$(jq -c --argjson h "$hp" '.runtimeConfig.portMappings = [{hostPort: $h, containerPort: 80, protocol: "tcp"}]' <<<"$MOAT_CONF") \
    add_container web
  ns_tcp_listen "$(ns_of web)" "$(ip6_of web)" 80
  PROBE_TOKEN=pub6 run ns_tcp_connect host "$GW6" "$hp"
  assert_eq "$output" ok "host -> [$GW6]:$hp"
  PROBE_TOKEN=pub6-closed run ns_tcp_connect host "$GW6" "$((hp + 1))"
  [[ $output != ok ]] || fail "an unpublished port answered"
  run -0 nft list map inet moat publish6
  assert_contains "$output" "$(ip6_of web)"
  # No hostIP: both families, as docker's and podman's -p HOST:CONTAINER.
  ns_tcp_listen "$(ns_of web)" "$(ip_of web)" 80
  PROBE_TOKEN=pub4 run ns_tcp_connect host "$GW" "$hp"
  assert_eq "$output" ok "host -> $GW:$hp"
  # ::1 is not published (the kernel cannot DNAT it: no route_localnet in
  # IPv6): the host's own [::1]:PORT answers, here nothing (refused, at once).
  PROBE_TOKEN=lo6 run ns_tcp_connect host ::1 "$hp"
  assert_eq "$output" refused "host -> [::1]:$hp"
}

@test "IPv6: hostIP :: publishes on IPv6 only, 0.0.0.0 on IPv4 only, one IPv6 host address there only (as docker, podman and portmap read them); ::1 and an IPv4-only network refuse an IPv6 hostIP" {
  local hp other6
  hp=$(random_port)
  # Another IPv6 address of the host, not the gateway's.
  other6=$V6PFX:ffff::9
  ip link add "${PFX}d6" type veth peer name "${PFX}d6p"
  echo "${PFX}d6" >>"$T/links"
  ip addr add "$other6/128" dev "${PFX}d6" nodad
  ip link set "${PFX}d6p" up
  ip link set "${PFX}d6" up
  MOAT_CONF=$(jq -c --argjson h "$hp" --arg gw6 "$GW6" '.runtimeConfig.portMappings = [
      {hostPort: $h, containerPort: 80, hostIP: "::"},
      {hostPort: ($h + 1), containerPort: 80, hostIP: "0.0.0.0"},
      {hostPort: ($h + 2), containerPort: 80, hostIP: $gw6}]' <<<"$MOAT_CONF") \
    add_container web
  ns_tcp_listen "$(ns_of web)" "$(ip6_of web)" 80
  ns_tcp_listen "$(ns_of web)" "$(ip_of web)" 80
  assert_jq "$(cat "$(record_of web)")" '.publish == [$a, $b, $c]' --arg a "[::]:$hp:80/tcp" \
    --arg b "0.0.0.0:$((hp + 1)):80/tcp" --arg c "[$GW6]:$((hp + 2)):80/tcp"
  local got=""
  got+="::6=$(PROBE_TOKEN=a6 ns_tcp_connect host "$GW6" "$hp" || true) "
  got+="::6b=$(PROBE_TOKEN=a6b ns_tcp_connect host "$other6" "$hp" || true) "
  got+="::4=$(PROBE_TOKEN=a4 ns_tcp_connect host "$GW" "$hp" || true) "
  got+="any4-4=$(PROBE_TOKEN=b4 ns_tcp_connect host "$GW" "$((hp + 1))" || true) "
  got+="any4-6=$(PROBE_TOKEN=b6 ns_tcp_connect host "$GW6" "$((hp + 1))" || true) "
  got+="gw6=$(PROBE_TOKEN=c6 ns_tcp_connect host "$GW6" "$((hp + 2))" || true) "
  got+="gw6-other=$(PROBE_TOKEN=c6b ns_tcp_connect host "$other6" "$((hp + 2))" || true)"
  assert_eq "$got" "::6=ok ::6b=ok ::4=refused any4-4=ok any4-6=refused gw6=ok gw6-other=refused"
  run -0 nft list map inet moat publish6
  assert_contains "$output" "::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff . tcp . $hp : $(ip6_of web) . 80"
  assert_contains "$output" "$GW6 . tcp . $((hp + 2)) : $(ip6_of web) . 80"
  assert_not_contains "$output" ". $((hp + 1)) :"
  run -0 "$MOAT_BUILD/moatctl" check
  # explain -6 through the :: mapping, from an outside IPv6 client.
  run -0 "$MOAT_BUILD/moatctl" -6 explain "outside:2001:db8::7" "$(cid_of web)" tcp/80
  assert_contains "$output" "published [::]:$hp/tcp -> 80"
  del_container web
  run -0 nft list map inet moat publish6
  assert_not_contains "$output" "$(ip6_of web)"

  # Refused in one line, naming the field; nothing made.
  new_netns bad
  MOAT_CONF=$(jq -c '.runtimeConfig.portMappings = [{hostPort: 8080, containerPort: 80, hostIP: "::1"}]' <<<"$MOAT_CONF") \
    run cni ADD "$PFX-bad" "$(ns_of bad)"
  assert_cni_error 7 "runtimeConfig.portMappings[0].hostIP ::1: IPv6 loopback cannot be published by the kernel; use the host's IPv6 address"
  second_network
  CNI_CONF=$(jq -c --arg gw6 "$GW6" '.runtimeConfig.portMappings = [{hostPort: 8080, containerPort: 80, hostIP: $gw6}]' <<<"$MOAT_CONF2") \
    run cni ADD "$PFX-bad" "$(ns_of bad)"
  assert_cni_error 7 "runtimeConfig.portMappings: \"[$GW6]:8080:80/tcp\": an IPv6 host address, but network \"$NET2\" has no subnet6"
}
