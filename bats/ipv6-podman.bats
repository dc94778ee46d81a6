#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# Dual stack under podman 4 (Debian's 4.3, CNI backend): the shipped moat
# conflist with a subnet6 gives podman's containers both addresses, and
# the labels podman passes as annotations hold over IPv6 as over IPv4.
# IPv6 forwarding is a namespace's switch moat requires and never writes:
# make test runs this file in hack/sandbox's private namespaces (the
# marker), where the test turns it on.
# moat-bats: sandbox

load helpers
load podman

setup() {
  setup_moat_net
  [[ $(readlink /proc/self/ns/net) != "$(readlink /proc/1/ns/net)" ]] ||
    fail "run this file in hack/sandbox: it sets net.ipv6.conf.all.forwarding"
  sysctl -qw net.ipv6.conf.all.forwarding=1
  podman_setup
  SUB6=$(printf 'fd%02x:%x:%x:%x::' $((RANDOM % 256)) "$RANDOM" "$RANDOM" "$RANDOM")
  local f=$PM/net.d/$NET.conflist
  jq --arg s "${SUB6}/64" '.plugins[0].subnet6 = $s' "$f" >"$f.new" && mv "$f.new" "$f"
}

teardown() {
  podman_teardown
  teardown_moat_net
}

# pm_ip6 NAME: the IPv6 address podman got from CNI for the test's network.
pm_ip6() {
  pm_inspect "$1" | jq -er --arg n "$NET" '.[0].NetworkSettings.Networks[$n].GlobalIPv6Address
    | select(. != "")' || fail "container $1 has no IPv6 address on $NET"
}

@test "podman dual stack: both addresses; a shared label talks over IPv6, another label is refused, the host reaches them" {
  local a6 b6 c6 port
  port=$(random_port)
  pm_start a --annotation io.moat.labels=app=x
  pm_start b --annotation io.moat.labels=app=x
  pm_start c --annotation io.moat.labels=app=y
  a6=$(pm_ip6 a)
  b6=$(pm_ip6 b)
  c6=$(pm_ip6 c)
  [[ $b6 == "$SUB6"* ]] || fail "b's IPv6 address $b6 is not in $SUB6/64"
  run -0 pm_exec b ip -6 -o addr show dev eth0 scope global
  assert_contains "$output" "$b6/64"
  pm_serve b "$port"
  pm_serve c "$port"
  assert_eq "$(pm_fetch a "[$b6]" "$port")" ok "a -> b over IPv6"
  assert_eq "$(pm_fetch a "$(pm_ip b)" "$port")" ok "a -> b over IPv4"
  assert_eq "$(pm_fetch a "[$c6]" "$port")" refused "a -> c over IPv6"
  assert_eq "$(pm_fetch c "[$b6]" "$port")" refused "c -> b over IPv6"
  assert_eq "$(pm_fetch host "[$c6]" "$port")" ok "host -> c over IPv6"
  [[ $a6 == "$SUB6"* ]] || fail "a's IPv6 address $a6 is not in $SUB6/64"
}

# resolve_type FROM TYPE NAME [SERVER]: the address container FROM gets for
# NAME (A or AAAA) through its resolv.conf, the network's name server, or
# from SERVER (empty: none).
resolve_type() {
  pm exec "$(pm_name "$1")" timeout 3 nslookup -type="$2" "$3" ${4:+"$4"} 2>/dev/null |
    awk '/^Name:/ { found = 1 } found && /^Address/ { sub(/^Address:? */, ""); print; exit }'
}

@test "podman dual stack names: a dual-stack container's name answers A with its IPv4 and AAAA with its IPv6 address" {
  local b6 c6
  pm_start a --annotation io.moat.labels=app=x
  pm_start b --annotation io.moat.labels=app=x --network "$NET" --network-alias database
  b6=$(pm_ip6 b)
  assert_eq "$(resolve_type a A "$(pm_name b)")" "$(pm_ip b)" "a: b's A record"
  assert_eq "$(resolve_type a AAAA "$(pm_name b)")" "$b6" "a: b's AAAA record"
  assert_eq "$(resolve_type a AAAA database)" "$b6" "a: b's alias, AAAA"
  # The name server answers at the IPv6 gateway too.
  assert_eq "$(resolve_type a AAAA database "${SUB6}1")" "$b6" "a: b's alias, asked at ${SUB6}1"
  pm_start c --annotation io.moat.labels=app=y
  c6=$(pm_ip6 c)
  assert_eq "$(resolve_type a AAAA "$(pm_name c).dns.moat")" "$c6" "a: c's AAAA (its full name)"
  run -0 pm rm -f -t 0 "$(pm_name c)"
  assert_eq "$(resolve_type a AAAA "$(pm_name c).dns.moat")" "" "a: c's AAAA after c is gone"
}

@test "podman IPv6-only: subnet6 without subnet; only IPv6 addresses; a shared label talks, another is refused, the host reaches them; names over IPv6" {
  local a6 b6 c6 port f=$PM/net.d/$NET.conflist
  jq '.plugins[0] |= (del(.subnet) | .names = true)' "$f" >"$f.new" && mv "$f.new" "$f"
  port=$(random_port)
  pm_start a --annotation io.moat.labels=app=x
  pm_start b --annotation io.moat.labels=app=x
  pm_start c --annotation io.moat.labels=app=y
  a6=$(pm_ip6 a)
  b6=$(pm_ip6 b)
  c6=$(pm_ip6 c)
  [[ $b6 == "$SUB6"* ]] || fail "b's IPv6 address $b6 is not in $SUB6/64"
  assert_eq "$(pm_inspect b | jq -r --arg n "$NET" '.[0].NetworkSettings.Networks[$n].IPAddress')" "" \
    "b's IPv4 address in podman"
  run -0 pm_exec b ip -4 -o addr show dev eth0
  assert_eq "$output" "" "IPv4 addresses on b's eth0"
  pm_serve b "$port"
  pm_serve c "$port"
  assert_eq "$(pm_fetch a "[$b6]" "$port")" ok "a -> b over IPv6"
  assert_eq "$(pm_fetch a "[$c6]" "$port")" refused "a -> c over IPv6"
  assert_eq "$(pm_fetch c "[$b6]" "$port")" refused "c -> b over IPv6"
  assert_eq "$(pm_fetch host "[$c6]" "$port")" ok "host -> c over IPv6"
  [[ $a6 == "$SUB6"* ]] || fail "a's IPv6 address $a6 is not in $SUB6/64"
  # Names: the network's name server is at its IPv6 gateway, and a web app
  # finds its database by name there.
  run -0 pm_exec a cat /etc/resolv.conf
  assert_contains "$output" "nameserver ${SUB6}1"
  assert_eq "$(resolve_type a AAAA "$(pm_name b)")" "$b6" "a: b's AAAA record"
  assert_eq "$(pm_fetch a "$(pm_name b)" "$port")" ok "a -> b by name"
  assert_eq "$(pm_fetch a "$(pm_name c)" "$port")" refused "a -> c by name"
}
