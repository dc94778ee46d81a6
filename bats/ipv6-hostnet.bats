#!/usr/bin/env bats
# moat-bats: sandbox
# shellcheck disable=SC2016 # jq programs in single quotes
# Host processes and host-network containers (docs/design.md,
# "Host-network containers") on a dual-stack network (issue 17): a group
# attached by moatctl host attach (the same rules as a host-network
# container's: socket cgroupv2, level 2) gets over IPv6 exactly its IPv4
# promises: its labels' peers both ways, its IPv6 egress and ingress
# ranges, its peers' allow-host and grants, default deny otherwise; a
# peer's IPv6 address forged from outside is no peer. Real TCP and UDP
# decide every check. Runs in hack/sandbox: it sets
# net.ipv6.conf.all.forwarding (bats/ipv6-policy.bats) and moves processes
# between cgroups (bats/hostnet.bats).

load helpers
load hostnet

setup() {
  setup_dual_stack_net
  NETDIR=$T/networks
  mkdir -p "$NETDIR"
  printf '%s\n' "$MOAT_CONF" >"$NETDIR/50-moat.conf"
}

teardown() {
  nft delete table inet "${PFX}count" 2>/dev/null || true
  [[ -z ${FAR_ROUTE-} ]] || ip -6 route del "$FAR_ROUTE" 2>/dev/null || true
  hp_teardown
  teardown_moat_net
}

# peer NAME LABELS [ALLOW_HOST]: a dual-stack container (allow-host
# ALLOW_HOST, default tcp/7071 and udp/7071 on the host), serving tcp/8080
# and udp/8081 on both its addresses.
peer() {
  add_container "$1"
  run -0 hook prestart "$1" '{"io.moat.labels": "'"$2"'", "io.moat.allow-host": "'"${3-tcp/7071,udp/7071}"'"}'
  ns_tcp_listen "$(ns_of "$1")" "$(ip_of "$1")" 8080
  ns_tcp_listen "$(ns_of "$1")" "$(ip6_of "$1")" 8080
  ns_udp_listen "$(ns_of "$1")" "$(ip6_of "$1")" 8081
}

@test "ipv6-hostnet: an attached group's labels decide over IPv6 as over IPv4, TCP and UDP both ways, after restore too; the host's own IPv6 is untouched" {
  peer web app=web
  peer db app=db
  local g
  g=$(hp_group svc)
  run -0 hp_attach --cgroup "$g" --name "${PFX}svc" --label app=web
  assert_eq "$(jq -r .ipv6 "$(hp_record "${PFX}svc")")" true "the record: its network is dual stack"
  hp_listen "$g" 7071
  hp_udp_listen "$g" 7071
  # Out: the peer its labels reach, not the other, in both families.
  run hp_tcp "$g" "$(ip_of web)" 8080
  assert_eq "$output" ok "group -> web over IPv4 (same label)"
  run hp_tcp "$g" "$(ip6_of web)" 8080
  assert_eq "$output" ok "group -> web over IPv6 (same label)"
  run hp_udp "$g" "$(ip6_of web)" 8081
  assert_eq "$output" ok "group -> web udp over IPv6"
  run hp_tcp "$g" "$(ip_of db)" 8080
  assert_eq "$output" refused "group -> db over IPv4"
  run hp_tcp "$g" "$(ip6_of db)" 8080
  assert_eq "$output" refused "group -> db over IPv6 (a TCP reset: at once)"
  # The output hook's refusal of a local datagram: sendmsg fails at once.
  run hp_udp "$g" "$(ip6_of db)" 8081
  assert_contains "$output" "Operation not permitted"
  # In: the peer its labels let in (through the peer's own allow-host),
  # not the other, over IPv6 as over IPv4.
  run ns_tcp_connect "$(ns_of web)" "$GW" 7071
  assert_eq "$output" ok "web -> group over IPv4 (same label)"
  run ns_tcp_connect "$(ns_of web)" "$GW6" 7071
  assert_eq "$output" ok "web -> group over IPv6 (same label)"
  run ns_udp_connect "$(ns_of web)" "$GW6" 7071
  assert_eq "$output" ok "web -> group udp over IPv6"
  run ns_tcp_connect "$(ns_of db)" "$GW6" 7071
  assert_eq "$output" refused "db -> group over IPv6"
  run ns_udp_connect "$(ns_of db)" "$GW6" 7071
  assert_eq "$output" unreachable "db -> group udp over IPv6"
  # A peer of the label that comes later is let in and reached at once.
  peer web2 app=web
  run hp_tcp "$g" "$(ip6_of web2)" 8080
  assert_eq "$output" ok "group -> web2 over IPv6 (started after the attach)"
  run ns_tcp_connect "$(ns_of web2)" "$GW6" 7071
  assert_eq "$output" ok "web2 -> group over IPv6"
  assert_eq "$(nft_elems inet hostnet_peers6 | wc -l)" 2 "hostnet_peers6: web and web2"
  run -0 "$MOAT_BUILD/moatctl" check
  # Remade by restore from the records alone, the same promises.
  nft flush ruleset
  run -0 "$MOAT_BUILD/moatctl" restore
  run -0 "$MOAT_BUILD/moatctl" check
  run hp_tcp "$g" "$(ip6_of web)" 8080
  assert_eq "$output" ok "group -> web over IPv6 after restore"
  run hp_tcp "$g" "$(ip6_of db)" 8080
  assert_eq "$output" refused "group -> db over IPv6 after restore"
  run ns_tcp_connect "$(ns_of web2)" "$GW6" 7071
  assert_eq "$output" ok "web2 -> group over IPv6 after restore"
  # Outside the group nothing changes: the host's own processes reach db
  # over IPv6 (neighbour discovery included) and db reaches the host's
  # other listeners as its allow-host says.
  run ping -6 -c1 -W2 "$(ip6_of db)"
  [[ $status -eq 0 ]] || fail "the host cannot ping db over IPv6:" "$output"
  run ns_tcp_connect host "$(ip6_of db)" 8080
  assert_eq "$output" ok "the host -> db over IPv6"
  # Detached, the group's IPv6 is the host's again.
  run -0 "$MOAT_BUILD/moatctl" host detach "${PFX}svc"
  assert_eq "$(nft_elems inet hostnet_peers6)$(nft_elems inet hostnet_ident6)" "" "IPv6 elements after detach"
  run hp_tcp "$g" "$(ip6_of db)" 8080
  assert_eq "$output" ok "group -> db over IPv6 after detach"
  run -0 "$MOAT_BUILD/moatctl" check
}

@test "ipv6-hostnet: on an IPv6-only network the group and the containers its labels reach talk both ways" {
  conf_set 'del(.subnet)'
  printf '%s\n' "$MOAT_CONF" >"$NETDIR/50-moat.conf"
  echo "$V6PFX:" >>"$T/words"
  local c g
  for c in web db; do
    add_container "$c"
    run -0 hook prestart "$c" '{"io.moat.labels": "app='"$c"'", "io.moat.allow-host": "tcp/7071"}'
    ns_tcp_listen "$(ns_of "$c")" "$(ip6_of "$c")" 8080
  done
  g=$(hp_group svc)
  run -0 hp_attach --cgroup "$g" --name "${PFX}svc" --label app=web
  assert_eq "$(jq -r .ipv6 "$(hp_record "${PFX}svc")")" true "the record: its network has subnet6"
  hp_listen "$g" 7071
  run hp_tcp "$g" "$(ip6_of web)" 8080
  assert_eq "$output" ok "group -> web (same label)"
  run hp_tcp "$g" "$(ip6_of db)" 8080
  assert_eq "$output" refused "group -> db"
  run ns_tcp_connect "$(ns_of web)" "$GW6" 7071
  assert_eq "$output" ok "web -> group (same label)"
  run ns_tcp_connect "$(ns_of db)" "$GW6" 7071
  assert_eq "$output" refused "db -> group"
  # Its key's element is harmless (only from the bridge, whose port admits
  # no IPv4 from it); its twin is what its IPv6 meets.
  assert_eq "$(nft_elems inet hostnet_peers6 | awk '{ print $1 }')" "$(ip6_of web)" \
    "hostnet_peers6: web's IPv6 address only"
  run -0 "$MOAT_BUILD/moatctl" check
}

@test "ipv6-hostnet: a peer needs its own allow-host, or a host grant, to reach the group over IPv6" {
  peer web app=web
  peer web3 app=web tcp/9
  local g
  g=$(hp_group svc)
  run -0 hp_attach --cgroup "$g" --name "${PFX}svc" --label app=web
  hp_listen "$g" 7071
  run ns_tcp_connect "$(ns_of web)" "$GW6" 7071
  assert_eq "$output" ok "web (allow-host tcp/7071) -> group over IPv6"
  run ns_tcp_connect "$(ns_of web3)" "$GW6" 7071
  assert_eq "$output" refused "web3 (allow-host tcp/9 only) -> group over IPv6"
  run -0 "$MOAT_BUILD/moatctl" grant "$(cid_of web3)" host tcp/7071
  run ns_tcp_connect "$(ns_of web3)" "$GW6" 7071
  assert_eq "$output" ok "web3 -> group over IPv6 with a host grant"
  run ns_tcp_connect "$(ns_of web3)" "$GW" 7071
  assert_eq "$output" ok "web3 -> group over IPv4 with a host grant"
  run -0 "$MOAT_BUILD/moatctl" check
}

@test "ipv6-hostnet: IPv6 egress and ingress ranges open their own family and ports only, after restore too; internet opens ::/0" {
  setup_outside6
  ns_tcp_listen "$OUT_NS" "$OUT6_IP" 9000
  ns_tcp_listen "$OUT_NS" "$OUT6_IP" 9001
  ns_tcp_listen "$OUT_NS" "$OUT_IP" 9000
  local g
  g=$(hp_group svc)
  run -0 hp_attach --cgroup "$g" --name "${PFX}svc" --label app=svc \
    --annotation "io.moat.egress=$OUT6_IP/128 tcp/9000" \
    --annotation "io.moat.ingress=$OUT6_IP tcp/7072"
  hp_listen "$g" 7072
  hp_listen "$g" 7073
  run hp_tcp "$g" "$OUT6_IP" 9000
  assert_eq "$output" ok "group -> outside [$OUT6_IP]:9000 (its IPv6 egress)"
  run hp_tcp "$g" "$OUT6_IP" 9001
  assert_eq "$output" refused "group -> outside [$OUT6_IP]:9001"
  run hp_tcp "$g" "$OUT_IP" 9000
  assert_eq "$output" refused "group -> outside $OUT_IP:9000 (an IPv6 range opens no IPv4)"
  run ns_tcp_connect "$OUT_NS" "$OUT6_HOST_IP" 7072
  assert_eq "$output" ok "outside -> group tcp/7072 over IPv6 (its IPv6 ingress)"
  run ns_tcp_connect "$OUT_NS" "$OUT6_HOST_IP" 7073
  assert_eq "$output" refused "outside -> group tcp/7073 over IPv6"
  run ns_tcp_connect "$OUT_NS" "$OUT_HOST_IP" 7072
  assert_eq "$output" refused "outside -> group tcp/7072 over IPv4"
  # The host's other processes: untouched.
  run ns_tcp_connect host "$OUT6_IP" 9001
  assert_eq "$output" ok "the host -> outside [$OUT6_IP]:9001"
  run -0 "$MOAT_BUILD/moatctl" check
  # No container on the network: the attach made the IPv6 half, and
  # restore makes it again for the group alone.
  nft flush ruleset
  run "$MOAT_BUILD/moatctl" check
  [[ $status -ne 0 ]] || fail "check saw nothing missing after the flush"
  run -0 "$MOAT_BUILD/moatctl" restore
  run -0 "$MOAT_BUILD/moatctl" check
  run hp_tcp "$g" "$OUT6_IP" 9000
  assert_eq "$output" ok "group -> outside [$OUT6_IP]:9000 after restore"
  run hp_tcp "$g" "$OUT6_IP" 9001
  assert_eq "$output" refused "group -> outside [$OUT6_IP]:9001 after restore"
  # io.moat.internet: every address of both families (::/0 the twin of 0.0.0.0/0).
  run -0 "$MOAT_BUILD/moatctl" host detach "${PFX}svc"
  run -0 hp_attach --cgroup "$g" --name "${PFX}svc" --label app=svc --annotation io.moat.internet=true
  run hp_tcp "$g" "$OUT6_IP" 9001
  assert_eq "$output" ok "group -> outside [$OUT6_IP]:9001 with internet"
  run -0 "$MOAT_BUILD/moatctl" check
}

@test "ipv6-hostnet: a router's packet too big reaches the group's socket (ICMPv6 about its flow is related); the host's path MTU learns it" {
  setup_outside6
  # A far namespace behind the outside one, on a 1280-byte link: the
  # outside namespace routes, and answers a larger packet with ICMPv6
  # packet too big.
  local pfx far6 g
  pfx=fd$(printf '%02x' $((RANDOM % 256))):$(printf '%x' $RANDOM):$(printf '%x' $RANDOM):$(printf '%x' $RANDOM)
  far6=$pfx::2
  new_netns far
  ip -n "$OUT_NS" link add mid type veth peer name eth0 netns "${PFX}far"
  ip -n "$OUT_NS" link set mid mtu 1280 up
  ip -n "${PFX}far" link set eth0 mtu 1280 up
  ip -n "${PFX}far" link set lo up
  ip -n "$OUT_NS" addr add "$pfx::1/64" dev mid nodad
  ip -n "${PFX}far" addr add "$far6/64" dev eth0 nodad
  ip -n "${PFX}far" -6 route add default via "$pfx::1"
  ip netns exec "$OUT_NS" sysctl -qw net.ipv6.conf.all.forwarding=1
  FAR_ROUTE=$pfx::/64
  ip -6 route add "$FAR_ROUTE" via "$OUT6_IP"
  ns_udp_listen "${PFX}far" "$far6" 9100
  nft -f - <<NFT || fail "cannot make the counting table"
table inet ${PFX}count {
  chain input {
    type filter hook input priority 100;
    iifname "${PFX}oh" icmpv6 type packet-too-big counter name ptb
  }
  counter ptb {}
}
NFT
  g=$(hp_group svc)
  run -0 hp_attach --cgroup "$g" --name "${PFX}svc" --label app=svc \
    --annotation "io.moat.egress=$far6 udp/9100"
  # 1400 bytes: past the far link's 1280. The first datagram meets the
  # router's packet too big; the kernel then fragments the next at 1280.
  head -c 1400 /dev/zero | tr '\0' a | in_group "$g" timeout 5 socat -u - "UDP6:[$far6]:9100" ||
    fail "the group's datagram was refused"
  wait_for 5 sh -c "ip -6 route get $far6 | grep -q 'mtu 1280'" ||
    fail "the host's path MTU to $far6 did not learn 1280: $(ip -6 route get "$far6")"
  (($(nft -j list counter inet "${PFX}count" ptb | jq '.nftables[1].counter.packets') >= 1)) ||
    fail "no packet too big past moat's input chains"
  # A reply crosses the far link for the first time: polled.
  wait_for 5 hp_udp_ok "$g" "$far6" 9100 ||
    fail "group -> far udp/9100 once the path MTU is known: $(hp_udp "$g" "$far6" 9100)"
  nft delete table inet "${PFX}count"
}

hp_udp_ok() { [[ $(hp_udp "$@") == ok ]]; }

# forged_syns WEB_IP6: from the outside namespace, SYNs to the group's
# tcp/7071 on the host's address of that link, with web's IPv6 address as
# their source; how many reached the test's counter after moat's chains.
forged_syns() {
  ip netns exec "$OUT_NS" timeout 5 socat -T1 - \
    "TCP6:[$OUT6_HOST_IP]:7071,bind=[$1],connect-timeout=2" </dev/null >/dev/null 2>&1 || true
  nft -j list counter inet "${PFX}count" forged | jq '.nftables[1].counter.packets'
}

@test "attack: a peer's IPv6 address forged from outside does not reach the group its labels let in (and does without members6)" {
  peer web app=web
  setup_outside6
  local g web6 peer_syn handle
  g=$(hp_group svc)
  run -0 hp_attach --cgroup "$g" --name "${PFX}svc" --label app=web
  hp_listen "$g" 7071
  web6=$(ip6_of web)
  # What moat's hostnet_input lets through reaches a later input chain of
  # the test's own, which counts SYNs to the port by the interface they
  # came in on.
  nft -f - <<NFT || fail "cannot make the counting table"
table inet ${PFX}count {
  chain input {
    type filter hook input priority 100;
    iifname "${PFX}oh" ip6 saddr $web6 tcp dport 7071 tcp flags syn counter name forged
    iifname "$BR" ip6 saddr $web6 tcp dport 7071 tcp flags syn counter name peer
  }
  counter forged {}
  counter peer {}
}
NFT
  # The positive control: web itself, from its bridge, is let in.
  run ns_tcp_connect "$(ns_of web)" "$GW6" 7071
  assert_eq "$output" ok "web -> group over IPv6 (shared label)"
  peer_syn=$(nft -j list counter inet "${PFX}count" peer | jq '.nftables[1].counter.packets')
  ((peer_syn >= 1)) || fail "the control: web's own SYN was not counted ($peer_syn)"
  # The outside sends SYNs with web's IPv6 address as its source.
  ip -n "$OUT_NS" addr add "$web6/128" dev eth0 nodad
  assert_eq "$(forged_syns "$web6")" 0 "forged SYNs past moat's hostnet_input"
  # The test can fail: hostnet_in6's peer rule without its members6 term
  # (what layout 6 fixed in IPv4) lets the forged SYNs through.
  handle=$(nft -a list chain inet moat hostnet_in6 | awk '/@hostnet_peers6/ { print $NF }')
  [[ -n $handle ]] || fail "no hostnet_peers6 rule in hostnet_in6"
  nft replace rule inet moat hostnet_in6 handle "$handle" \
    ip6 saddr . socket cgroupv2 level 2 @hostnet_peers6 accept
  (($(forged_syns "$web6") >= 1)) || fail "without members6 the forged SYNs were still stopped"
  nft replace rule inet moat hostnet_in6 handle "$handle" \
    iifname . ip6 saddr @members6 ip6 saddr . socket cgroupv2 level 2 @hostnet_peers6 accept
  nft reset counter inet "${PFX}count" forged >/dev/null
  assert_eq "$(forged_syns "$web6")" 0 "forged SYNs with the rule back"
  nft delete table inet "${PFX}count"
}
