#!/usr/bin/env bats
# moat-bats: sandbox
# shellcheck disable=SC2016 # jq programs in single quotes
# moatctl over IPv6 (issues 17, 19): explain answers for IPv6 flows as
# real IPv6 traffic goes, by name with -6 or by IPv6 address; stats and
# metrics count IPv6 traffic (the counted sets' twins allowed_out6, ...);
# check sees a missing IPv6 counter element and restore puts it back.
# Runs in hack/sandbox: it sets net.ipv6.conf.all.forwarding (see
# bats/ipv6-policy.bats, whose setup this is).

load helpers

setup() {
  setup_dual_stack_net
}
teardown() {
  nft delete table ip6 "${PFX}fw" 2>/dev/null || true
  nft delete table inet "${PFX}fw6" 2>/dev/null || true
  teardown_moat_net
}

ctl() { "$MOAT_BUILD/moatctl" "$@"; }
tcp6() { ns_tcp_connect "$(ns_of "$1")" "$(ip6_of "$2")" "$3" || true; }

# count NAME VERDICT DIRECTION packets|bytes: one number of stats --json.
count() {
  ctl --json stats "$(cid_of "$1")" | jq -er --arg v "$2" --arg d "$3" --arg f "$4" \
    '.containers[0][$v][$d][$f]'
}
at_least() { # WHAT ACTUAL MIN
  (($2 >= $3)) || fail "$1: $2, expected at least $3"
}
# counter6 SET ADDR6 bytes|packets: the IPv6 twin's element counter.
counter6() {
  nft -j list set inet moat "$1" |
    jq -er --arg a "$2" --arg f "$3" '.nftables[] | select(.set) | .set.elem[]
      | select(.elem.val == $a) | .elem.counter[$f]'
}

SIZE=1048576

@test "ipv6-ctl: explain over IPv6 (-6 by name, or by IPv6 address) gives the verdict real IPv6 TCP gets; --json carries the family and both addresses" {
  local p a6 b6
  p=$(random_port)
  add_container a
  add_container b
  add_container c
  run -0 hook prestart a '{"io.moat.labels": "app=x"}'
  run -0 hook prestart b '{"io.moat.labels": "app=x"}'
  run -0 hook prestart c '{"io.moat.labels": "app=y"}'
  a6=$(ip6_of a)
  b6=$(ip6_of b)
  ns_tcp_listen "$(ns_of b)" "$b6" "$p"
  assert_eq "$(tcp6 a b "$p")" ok "a -> b tcp6"
  assert_eq "$(tcp6 c b "$p")" refused "c -> b tcp6"

  run -0 ctl -6 explain "$(cid_of a)" "$(cid_of b)" "tcp/$p"
  assert_contains "$output" "allowed $(cid_of a) -> $(cid_of b) tcp/$p (IPv6): shared label app=x"
  run -1 ctl -6 explain "$(cid_of c)" "$(cid_of b)" "tcp/$p"
  assert_contains "$output" "refused"
  assert_contains "$output" "(IPv6): default deny"
  # By IPv6 address: the family follows.
  run -0 ctl explain "$a6" "$b6" "tcp/$p"
  assert_contains "$output" "(IPv6)"
  run -1 ctl explain "$(ip6_of c)" "$b6" "tcp/$p"
  # --json: the family and the packet's two addresses.
  run -0 ctl --json explain "$a6" "$(cid_of b)" "tcp/$p"
  assert_jq "$output" '.allowed == true and .family == 6 and .srcAddress == $a and .dstAddress == $b' \
    --arg a "$a6" --arg b "$b6"
  run -0 ctl --json explain "$(cid_of a)" "$(cid_of b)" "tcp/$p"
  assert_jq "$output" '.family == 4 and .srcAddress == $a and .dstAddress == $b' \
    --arg a "$(ip_of a)" --arg b "$(ip_of b)"
  # Bad input: one line naming the problem.
  run -2 ctl explain "$a6" "outside:192.0.2.9" "tcp/$p"
  assert_contains "$output" "\"outside:192.0.2.9\" is an IPv4 address, the flow is IPv6"
  run -2 ctl -6 explain "$(cid_of a)" 192.0.2.9 "tcp/$p"
  assert_contains "$output" "is an IPv4 address, the flow is IPv6"
  run -2 ctl -6 ls
  assert_contains "$output" "-6 is for explain"
}

@test "ipv6-ctl: an ip6 table's forward chain with policy drop refuses the IPv6 flow, as explain -6 says; the IPv4 flow and its explain are untouched" {
  local p
  p=$(random_port)
  add_container a
  add_container b
  run -0 hook prestart a '{"io.moat.labels": "app=x"}'
  run -0 hook prestart b '{"io.moat.labels": "app=x"}'
  ns_tcp_listen "$(ns_of b)" "$(ip6_of b)" "$p"
  ns_tcp_listen "$(ns_of b)" "$(ip_of b)" "$p"
  nft add table ip6 "${PFX}fw"
  nft add chain ip6 "${PFX}fw" guard '{ type filter hook forward priority 0; policy drop; }'
  assert_eq "$(tcp6 a b "$p")" timeout "a -> b tcp6 through the ip6 drop"
  run -1 ctl -6 explain "$(cid_of a)" "$(cid_of b)" "tcp/$p"
  assert_contains "$output" "moat allows it (shared label app=x), but table ip6 ${PFX}fw chain guard (hook forward, policy drop)"
  assert_eq "$(ns_tcp_connect "$(ns_of a)" "$(ip_of b)" "$p" || true)" ok "a -> b tcp4"
  run -0 ctl explain "$(cid_of a)" "$(cid_of b)" "tcp/$p"
  assert_not_contains "$output" "${PFX}fw"
}

@test "ipv6-ctl: check names a foreign ip6 table's drop of a dual-stack bridge's IPv6 traffic, as explain -6 does; an IPv4-only bridge's is no conflict" {
  local p
  p=$(random_port)
  add_container a
  add_container b
  run -0 hook prestart a '{"io.moat.labels": "app=x"}'
  run -0 hook prestart b '{"io.moat.labels": "app=x"}'
  ns_tcp_listen "$(ns_of b)" "$(ip6_of b)" "$p"
  run -0 ctl check
  nft -f - <<EOF
table ip6 ${PFX}fw {
  chain guard { type filter hook forward priority 0; iifname "$BR" tcp dport $p drop; }
  chain host { type filter hook input priority 0; policy drop; }
}
EOF
  assert_eq "$(tcp6 a b "$p")" timeout "a -> b tcp6 through the ip6 drop rule"
  run -1 ctl check
  assert_contains "$output" "conflict: table ip6 ${PFX}fw chain guard handle "
  assert_contains "$output" "(hook forward): this drop rule may drop flows of moat's containers through the host"
  assert_contains "$output" "nft insert rule ip6 ${PFX}fw guard iifname \"$BR\" accept; nft insert rule ip6 ${PFX}fw guard oifname \"$BR\" accept"
  assert_contains "$output" "conflict: table ip6 ${PFX}fw chain host (hook input, policy drop)"
  run -1 ctl --json check
  assert_jq "$output" '[.conflicts[] | select(.family == "ip6" and .table == $t)] | length == 2' --arg t "${PFX}fw"
  assert_jq "$output" '.drift == [] and .stale == []'
  # explain -6 names the rule too (a rule only may drop: still exit 0).
  run ctl -6 explain "$(cid_of a)" "$(cid_of b)" "tcp/$p"
  assert_contains "$output" "table ip6 ${PFX}fw chain guard handle "
  # The fix check gives makes IPv6 flow again.
  nft insert rule ip6 "${PFX}fw" guard iifname "$BR" accept
  nft insert rule ip6 "${PFX}fw" guard oifname "$BR" accept
  nft insert rule ip6 "${PFX}fw" host iifname "$BR" accept
  assert_eq "$(tcp6 a b "$p")" ok "a -> b tcp6 after the fix"
  run -0 ctl check
  # An inet table's rule that drops IPv6 only is named as well.
  nft add table inet "${PFX}fw6"
  nft add chain inet "${PFX}fw6" guard '{ type filter hook forward priority 0; }'
  nft add rule inet "${PFX}fw6" guard meta nfproto ipv6 tcp dport "$p" drop
  assert_eq "$(tcp6 a b "$p")" timeout "a -> b tcp6 through the inet table's IPv6 drop"
  run -1 ctl check
  assert_contains "$output" "conflict: table inet ${PFX}fw6 chain guard handle "
  nft delete table inet "${PFX}fw6"
  run -0 ctl check

  # An IPv4-only network's bridge has no IPv6: an ip6 drop is not its.
  nft delete table ip6 "${PFX}fw"
  second_network
  CNI_CONF=$MOAT_CONF2 add_container v4
  nft -f - <<EOF
table ip6 ${PFX}fw {
  chain guard { type filter hook forward priority 0; iifname "$BR2" drop; }
}
EOF
  run -0 ctl check
  assert_not_contains "$output" "${PFX}fw"
}

@test "ipv6-ctl: explain -6 from the host agrees with its real IPv6 connection; an outside IPv6 client (outside:ADDR) is refused by default" {
  local p a6
  p=$(random_port)
  add_container a
  a6=$(ip6_of a)
  ns_tcp_listen "$(ns_of a)" "$a6" "$p"
  # The host's own connection: allowed, as explain says.
  PROBE_TOKEN=h6 run -0 ns_tcp_connect host "$a6" "$p"
  run -0 ctl -6 explain host "$(cid_of a)" "tcp/$p"
  assert_contains "$output" "the host may open connections to its containers"
  run -1 ctl explain "outside:2001:db8:77::1" "$(cid_of a)" "tcp/$((p + 1))"
  assert_contains "$output" "(IPv6): default deny"
}

@test "ipv6-ctl: stats count an IPv6 transfer (bytes at least the payload) and an IPv6 refusal on the right sides; metrics carry them" {
  local p a6 b6
  p=$(random_port)
  add_container a
  add_container b
  add_container c
  run -0 hook prestart a '{"io.moat.labels": "app=x"}'
  run -0 hook prestart b '{"io.moat.labels": "app=x"}'
  a6=$(ip6_of a)
  b6=$(ip6_of b)
  assert_eq "$(counter6 allowed_out6 "$a6" bytes)" 0 "a's IPv6 allowed out at ADD"
  start_bg "$(ns_of b)" socat -u "TCP6-LISTEN:$p,bind=[$b6],reuseaddr,fork" OPEN:/dev/null
  wait_for 5 listening "$(ns_of b)" tcp "$p"
  head -c "$SIZE" /dev/zero | ip netns exec "$(ns_of a)" timeout 20 socat -u - "TCP6:[$b6]:$p" ||
    fail "IPv6 transfer a -> b failed"
  # Counted in the IPv6 sets, and summed per container by stats.
  at_least "allowed_out6 of a, bytes" "$(counter6 allowed_out6 "$a6" bytes)" "$SIZE"
  at_least "allowed_in6 of b, bytes" "$(counter6 allowed_in6 "$b6" bytes)" "$SIZE"
  at_least "a allowed out bytes" "$(count a allowed out bytes)" "$SIZE"
  at_least "b allowed in bytes" "$(count b allowed in bytes)" "$SIZE"
  at_least "b allowed out packets (acks)" "$(count b allowed out packets)" 1
  assert_eq "$(count a refused out packets) $(count b refused in packets)" "0 0" "nothing refused"
  # A refused IPv6 connection: c's refused out, a's refused in.
  assert_eq "$(tcp6 c a "$p")" refused "c -> a tcp6"
  at_least "c refused out packets" "$(count c refused out packets)" 1
  at_least "a refused in packets" "$(count a refused in packets)" 1
  assert_eq "$(count c refused in packets)" 0 "c's refused in"
  run -0 ctl --json stats "$(cid_of a)"
  assert_jq "$output" '.containers[0].address6 == $a' --arg a "$a6"
  # The exposition: a's allowed-out bytes at least the payload.
  run -0 ctl metrics
  local line
  line=$(grep -F "moat_bytes_total{container=\"$(cid_of a)\",network=\"$NET\",direction=\"out\",verdict=\"allowed\"}" <<<"$output") ||
    fail "no allowed-out bytes sample for a: $output"
  at_least "metrics a allowed out bytes" "${line##* }" "$SIZE"
  line=$(grep -F "moat_packets_total{container=\"$(cid_of c)\",network=\"$NET\",direction=\"out\",verdict=\"refused\"}" <<<"$output") ||
    fail "no refused-out sample for c"
  at_least "metrics c refused out packets" "${line##* }" 1
}

@test "ipv6-ctl: check reports a missing IPv6 counter element, restore puts it back, DEL takes them" {
  add_container a
  local a6
  a6=$(ip6_of a)
  nft_has inet allowed_out6 "$a6" || fail "no allowed_out6 element for $a6"
  nft_has inet refused_in6 "$a6" || fail "no refused_in6 element for $a6"
  run -0 ctl check
  nft delete element inet moat allowed_out6 "{ $a6 }"
  run -1 ctl check
  assert_contains "$output" "allowed_out6"
  run -0 ctl restore
  nft_has inet allowed_out6 "$a6" || fail "restore did not put allowed_out6 back"
  run -0 ctl check
  del_container a
  local s
  for s in allowed_out6 allowed_in6 refused_out6 refused_in6; do
    nft_has inet "$s" "$a6" && fail "$s kept $a6 after DEL"
  done
  true
}
