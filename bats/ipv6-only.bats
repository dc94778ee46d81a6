#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# IPv6-only networks (issue 17; docs/design.md, "IPv6"): "subnet6" without
# "subnet". The containers get no IPv4 at all; the policy runs keyed by an
# internal IPv4 key from the network's own range of 240.0.0.0/4, never on
# any interface nor on the wire, and its IPv6 twins are what traffic meets.
# Proven with real TCP, UDP and ICMPv6; the attacks on the key at the end.
# moat-bats: sandbox

load helpers

setup() {
  setup_dual_stack_net
  conf_set 'del(.subnet)'
  MOAT_CONF_BASE=$MOAT_CONF
  # Teardown's element sweep finds the test's by its IPv6 prefix.
  echo "$V6PFX:" >>"$T/words"
}
teardown() { teardown_moat_net; }

tcp6() { ns_tcp_connect "$(ns_of "$1")" "$(ip6_of "$2")" "$3" || true; }
udp6() { ns_udp_connect "$(ns_of "$1")" "$(ip6_of "$2")" "$3" || true; }
ping6_ok() { ip netns exec "$(ns_of "$1")" ping -6 -c1 -W1 "$2" >/dev/null 2>&1; }
key_of() { jq -er '.key4 | split("/")[0]' "$(record_of "$1")"; }

serve() { # NAME PORT: TCP and UDP servers on NAME's IPv6 address
  ns_tcp_listen "$(ns_of "$1")" "$(ip6_of "$1")" "$2"
  ns_udp_listen "$(ns_of "$1")" "$(ip6_of "$1")" "$2"
}

# add6 NAME: add_container for an IPv6-only container (the result's first
# address is its IPv6 one).
add6() {
  new_netns "$1"
  run -0 cni ADD "$PFX-$1" "$PFX$1" eth0
  printf '%s\n' "$output" >"$T/result.$1"
  assert_jq "$output" '.ips | length == 1 and (.[0].address | contains(":"))'
}

@test "IPv6-only: the container has its IPv6 address and route and no IPv4 at all; the bridge none; result, record, ls, show" {
  local ns a6 key
  add6 a
  ns=$(ns_of a)
  a6=$(ip6_of a)
  key=$(key_of a)
  [[ $a6 == "$V6PFX"::* ]] || fail "address $a6 not in $V6PFX::/64"
  assert_jq "$(result_of a)" '[.ips[].address] | length == 1'
  assert_jq "$(result_of a)" '[.routes[].dst] == ["::/0"]'
  run -0 ip -n "$ns" -4 -o addr show dev eth0
  assert_eq "$output" "" "IPv4 addresses in the container"
  run -0 ip -n "$ns" -4 route show
  assert_eq "$output" "" "IPv4 routes in the container"
  run -0 ip -4 -o addr show dev "$BR"
  assert_eq "$output" "" "IPv4 addresses on the bridge"
  run -0 ip -n "$ns" -6 route show default
  assert_contains "$output" "via $GW6 dev eth0"
  [[ $key == 24[0-9].* || $key == 25[0-5].* ]] || fail "key $key not in 240.0.0.0/4"
  assert_jq "$(cat "$(record_of a)")" '.address == null and .gateway == null and (.address6 | startswith($p))' \
    --arg p "$V6PFX::"
  run -0 "$MOAT_BUILD/moatctl" --json show "$(cid_of a)"
  assert_jq "$output" '.containers[0].address == null and .containers[0].address6 == $a' --arg a "$a6"
  run -0 "$MOAT_BUILD/moatctl" show "$(cid_of a)"
  assert_contains "$output" "address:   $a6"
  assert_not_contains "$output" "$key"
  run -0 "$MOAT_BUILD/moatctl" ls
  assert_contains "$output" "$a6"
  assert_not_contains "$output" "$key"
  # The key names no container.
  run "$MOAT_BUILD/moatctl" show "$key"
  [[ $status -ne 0 ]] || fail "moatctl show found a container by its key"
  run -0 "$MOAT_BUILD/moatctl" show "$a6"
  assert_contains "$output" "$(cid_of a)"
  # Its port admits no IPv4 frame: no `ports` element, both ports6 ones.
  run -0 nft list set bridge moat ports
  assert_not_contains "$output" "$(hostif_of a)"
  run -0 nft list set bridge moat ports6
  assert_contains "$output" "$(hostif_of a)"
}
