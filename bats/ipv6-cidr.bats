#!/usr/bin/env bats
# moat-bats: sandbox
# shellcheck disable=SC2016 # jq programs in single quotes
# IPv6 CIDRs wherever IPv4 ones are accepted (issue 17): io.moat.egress,
# io.moat.ingress, a Trireme profile's Address, moatctl grant egress and
# ingress. An IPv6 range opens exactly that range over IPv6 and nothing over
# IPv4, an IPv4 range nothing over IPv6, proven with real TCP to and from a
# namespace "outside" that has two IPv6 addresses, one in the range, one
# not. Runs in hack/sandbox like bats/ipv6-policy.bats (it sets
# net.ipv6.conf.all.forwarding).

load helpers

setup() {
  setup_dual_stack_net
  P=$(random_port)
}
teardown() { teardown_moat_net; }


# outside6: setup_outside, plus IPv6: the host's end OUT6PFX::1, the
# outside's OUT6_IN (::2, the range the tests open) and OUT6_OUT (::3),
# each with a TCP server on $P; the outside's default route via the host.
outside6() {
  setup_outside
  OUT6PFX=fd$(printf '%02x' $((RANDOM % 256))):$(printf '%x' $RANDOM):$(printf '%x' $RANDOM):$(printf '%x' $RANDOM)
  OUT6_IN=$OUT6PFX::2
  OUT6_OUT=$OUT6PFX::3
  ip addr add "$OUT6PFX::1/64" dev "${PFX}oh" nodad
  ip -n "$OUT_NS" addr add "$OUT6_IN/64" dev eth0 nodad
  ip -n "$OUT_NS" addr add "$OUT6_OUT/64" dev eth0 nodad
  ip -n "$OUT_NS" -6 route add default via "$OUT6PFX::1"
  # Neighbour discovery done before the probes (their handshake waits 1 s).
  wait_for 5 ping -6 -c1 -W1 "$OUT6_IN"
  wait_for 5 ping -6 -c1 -W1 "$OUT6_OUT"
  ns_tcp_listen "$OUT_NS" "$OUT6_IN" "$P"
  ns_tcp_listen "$OUT_NS" "$OUT6_OUT" "$P"
  ns_tcp_listen "$OUT_NS" "$OUT_IP" "$P"
}

# to_out NAME ADDR: NAME's TCP to the outside's ADDR:$P; ok or why not.
to_out() { PROBE_TOKEN=${PROBE_TOKEN:-$1-$RANDOM} ns_tcp_connect "$(ns_of "$1")" "$2" "$P" || true; }

# from_out SRC NAME PORT: the outside, from its address SRC, to NAME's
# IPv6 address.
from_out() {
  local token=in-$RANDOM$RANDOM out rc=0
  out=$(printf '%s\n' "$token" | ip netns exec "$OUT_NS" timeout 5 socat -t1 -T2 - \
    "TCP6:[$(ip6_of "$2")]:$3,bind=[$1],connect-timeout=1" 2>&1) || rc=$?
  classify "$out" "$rc" "$token"
}

@test "IPv6 CIDR: an egress IPv6 range opens exactly that range; an IPv4 range opens no IPv6, an IPv6 one no IPv4" {
  outside6
  add_container six
  add_container four
  run -0 hook prestart six "$(jq -nc --arg v "$OUT6_IN/128 tcp/$P" '{"io.moat.egress": $v}')"
  run -0 hook prestart four "$(jq -nc --arg v "$OUT_IP/32 tcp/$P" '{"io.moat.egress": $v}')"
  assert_eq "$(to_out six "$OUT6_IN")" ok "six -> $OUT6_IN (in its range)"
  PROBE_TOKEN=six-out run to_out six "$OUT6_OUT"
  [[ $output != ok ]] || fail "six reached $OUT6_OUT, outside its range"
  assert_eq "$(received six-out)" 0 "six's token outside its range delivered"
  assert_eq "$(to_out six "$OUT_IP")" refused "six -> $OUT_IP over IPv4"
  assert_eq "$(to_out four "$OUT_IP")" ok "four -> $OUT_IP (its IPv4 range)"
  PROBE_TOKEN=four-six run to_out four "$OUT6_IN"
  [[ $output != ok ]] || fail "an IPv4 range opened IPv6"
  assert_eq "$(received four-six)" 0 "four's IPv6 token delivered"
  # The element is in the IPv6 twin set only; the record keeps the text.
  run -0 nft list set inet moat egress6
  assert_contains "$output" "$OUT6_IN"
  run -0 nft list set inet moat egress
  assert_not_contains "$output" "$OUT6PFX"
  run -0 "$MOAT_BUILD/moatctl" --json show "$(cid_of six)"
  assert_jq "$output" '.containers[0].policy.egress == [$e]' --arg e "$OUT6_IN/128 tcp/$P"
  # check knows it; restore remakes it.
  run -0 "$MOAT_BUILD/moatctl" check
  run -0 "$MOAT_BUILD/moatctl" restore
  run -0 "$MOAT_BUILD/moatctl" check
  assert_eq "$(to_out six "$OUT6_IN")" ok "six -> $OUT6_IN after restore"
  # A policy change takes it out.
  run -0 hook prestart six '{"io.moat.labels": "app=x"}'
  PROBE_TOKEN=six-gone run to_out six "$OUT6_IN"
  [[ $output != ok ]] || fail "the range stayed open after the policy dropped it"
  run -0 hook prestart six "$(jq -nc --arg v "$OUT6_IN/128 tcp/$P" '{"io.moat.egress": $v}')"
  run -0 nft list set inet moat egress6
  assert_contains "$output" "$OUT6_IN"
  del_container six
  run -0 nft list set inet moat egress6
  assert_not_contains "$output" "$OUT6PFX" "the range's element after DEL"
}

@test "IPv6 CIDR: an ingress IPv6 range lets a client from that range in and refuses another" {
  outside6
  add_container web
  run -0 hook prestart web "$(jq -nc --arg v "$OUT6PFX::2/127 tcp/$P" '{"io.moat.ingress": $v}')"
  ns_tcp_listen "$(ns_of web)" "$(ip6_of web)" "$P"
  ns_tcp_listen "$(ns_of web)" "$(ip6_of web)" "$((P + 1))"
  assert_eq "$(from_out "$OUT6_IN" web "$P")" ok "$OUT6_IN -> web"
  assert_eq "$(from_out "$OUT6_OUT" web "$P")" ok "$OUT6_OUT -> web (::2/127 holds ::3)"
  run from_out "$OUT6_IN" web "$((P + 1))"
  [[ $output != ok ]] || fail "another port let in"
  run -0 hook prestart web "$(jq -nc --arg v "$OUT6_IN/128 tcp/$P" '{"io.moat.ingress": $v}')"
  assert_eq "$(from_out "$OUT6_IN" web "$P")" ok "$OUT6_IN -> web"
  run from_out "$OUT6_OUT" web "$P"
  [[ $output != ok ]] || fail "$OUT6_OUT let in outside the range"
}

@test "IPv6 CIDR: moatctl grant egress|ingress with an IPv6 range opens, shows as written, expires, revoke closes" {
  outside6
  add_container app
  run -0 hook prestart app '{"io.moat.labels": "app=x"}'
  ns_tcp_listen "$(ns_of app)" "$(ip6_of app)" "$P"
  run to_out app "$OUT6_IN"
  [[ $output != ok ]] || fail "reached the outside before the grant"
  run -0 "$MOAT_BUILD/moatctl" grant "$(cid_of app)" egress "$OUT6PFX::/64" "tcp/$P" --ttl 1h
  run -0 "$MOAT_BUILD/moatctl" grant "$(cid_of app)" ingress "$OUT6_OUT" "tcp/$P"
  assert_eq "$(to_out app "$OUT6_IN")" ok "app -> $OUT6_IN with the grant"
  assert_eq "$(to_out app "$OUT6_OUT")" ok "app -> $OUT6_OUT with the grant"
  assert_eq "$(from_out "$OUT6_OUT" app "$P")" ok "$OUT6_OUT -> app with the ingress grant"
  run from_out "$OUT6_IN" app "$P"
  [[ $output != ok ]] || fail "$OUT6_IN let in: not granted"
  run -0 "$MOAT_BUILD/moatctl" show "$(cid_of app)"
  assert_contains "$output" "egress $OUT6PFX::/64 tcp/$P"
  assert_contains "$output" "ingress $OUT6_OUT/128 tcp/$P"
  # Overlap within the family only.
  run -2 "$MOAT_BUILD/moatctl" grant "$(cid_of app)" egress "$OUT6_IN/128" "tcp/$P"
  assert_contains "$output" "overlaps the grant"
  run -0 "$MOAT_BUILD/moatctl" grant "$(cid_of app)" egress "$OUT_IP/32" "tcp/$P"
  run -0 "$MOAT_BUILD/moatctl" check
  run -0 "$MOAT_BUILD/moatctl" restore
  assert_eq "$(to_out app "$OUT6_IN")" ok "app -> $OUT6_IN after restore"
  run -0 "$MOAT_BUILD/moatctl" revoke "$(cid_of app)" egress "$OUT6PFX::/64" "tcp/$P"
  PROBE_TOKEN=revoked run to_out app "$OUT6_IN"
  [[ $output != ok ]] || fail "the revoked grant still opens"
  assert_eq "$(to_out app "$OUT_IP")" ok "the IPv4 grant stays"
  # A short one expires in the kernel by itself.
  run -0 "$MOAT_BUILD/moatctl" grant "$(cid_of app)" egress "$OUT6_IN" "tcp/$P" --ttl 2s
  assert_eq "$(to_out app "$OUT6_IN")" ok "app -> $OUT6_IN with a 2 s grant"
  expired() { ! nft list set inet moat grant_egress6 | grep -qF "$OUT6_IN"; }
  wait_for 10 expired
  PROBE_TOKEN=expired run to_out app "$OUT6_IN"
  [[ $output != ok ]] || fail "the expired grant still opens"
  # DEL takes the grants of both families.
  del_container app
  run -0 nft list ruleset
  assert_not_contains "$output" "$OUT6PFX" "an IPv6 grant after DEL"
}

@test "IPv6 CIDR: a Trireme profile's IPv6 Address opens that address only" {
  outside6
  local f=$T/policy.json
  jq -n --arg a "$OUT6_IN" --arg p "$P" '{"Out6": {"ApplicationACLs": [
    {"Address": $a, "Port": $p, "Protocol": "TCP", "Policy": {"Action": 1}}]}}' >"$f"
  conf_set '.policyFile = $f' --arg f "$f"
  add_container app
  run -0 hook prestart app '{"io.moat.policy": "Out6"}'
  assert_eq "$(to_out app "$OUT6_IN")" ok "app -> $OUT6_IN by its profile"
  PROBE_TOKEN=prof-out run to_out app "$OUT6_OUT"
  [[ $output != ok ]] || fail "the profile opened $OUT6_OUT"
  run -0 "$MOAT_BUILD/moatctl" show "$(cid_of app)"
  assert_contains "$output" "$OUT6_IN/128 tcp/$P [profile Out6]"
}

@test "IPv6 CIDR: bad IPv6 input is refused in one line naming the field; on an IPv4-only network a range is inert, a grant refused" {
  add_container a
  run -1 hook prestart a '{"io.moat.egress": "2001:db8::1/64 tcp/80"}'
  assert_contains "$output" 'io.moat.egress: "2001:db8::1/64 tcp/80": host bits set in 2001:db8::1/64 (the network is 2001:db8::/64)'
  run -1 hook prestart a '{"io.moat.ingress": "2001:db8::/129 tcp/80"}'
  assert_contains "$output" 'io.moat.ingress: "2001:db8::/129 tcp/80": "2001:db8::/129" is not an IPv4 or IPv6 address or CIDR'
  run -1 hook prestart a '{"io.moat.proxy": "[fe80::1]:3128"}'
  assert_contains "$output" 'io.moat.proxy: "[fe80::1]:3128": fe80::1 is not a global or unique-local unicast address'
  run -1 hook prestart a '{"io.moat.proxy": "2001:db8::1:3128"}'
  assert_contains "$output" 'io.moat.proxy: "2001:db8::1:3128": an IPv6 proxy is written [ADDR]:PORT'
  run -2 "$MOAT_BUILD/moatctl" grant "$(cid_of a)" egress "2001:db8:::1" tcp/80
  assert_contains "$output" 'grant egress: "2001:db8:::1 tcp/80": "2001:db8:::1" is not an IPv4 or IPv6 address or CIDR'
  # An IPv4-only network: the range is kept (a profile serves every
  # network) and opens nothing; a grant, one container's, is refused.
  second_network
  new_netns v4
  CNI_CONF=$MOAT_CONF2 run -0 cni ADD "$(cid_of v4)" "$(ns_of v4)"
  run -0 hook prestart v4 '{"io.moat.egress": "2001:db8::/32 tcp/443"}'
  run -0 "$MOAT_BUILD/moatctl" --json show "$(cid_of v4)"
  assert_jq "$output" '.containers[0].policy.egress == ["2001:db8::/32 tcp/443"]'
  run -0 nft list ruleset
  assert_not_contains "$output" "2001:db8::"
  run -2 "$MOAT_BUILD/moatctl" grant "$(cid_of v4)" egress "2001:db8::/32" tcp/443
  assert_contains "$output" "has no subnet6"
  run -0 "$MOAT_BUILD/moatctl" check
}

@test "IPv6 CIDR: internet opens every outside IPv6 address too, as egress ::/0 any would; ::/0 opens no IPv4" {
  outside6
  add_container net
  add_container all6
  run -0 hook prestart net '{"io.moat.internet": "true"}'
  run -0 hook prestart all6 '{"io.moat.egress": "::/0 any"}'
  assert_eq "$(to_out net "$OUT6_IN")" ok "internet -> $OUT6_IN"
  assert_eq "$(to_out net "$OUT6_OUT")" ok "internet -> $OUT6_OUT"
  assert_eq "$(to_out net "$OUT_IP")" ok "internet -> $OUT_IP"
  assert_eq "$(to_out all6 "$OUT6_OUT")" ok "::/0 -> $OUT6_OUT"
  assert_eq "$(to_out all6 "$OUT_IP")" refused "::/0 -> $OUT_IP over IPv4"
}
