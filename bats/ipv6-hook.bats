#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2030,SC2031 # jq programs in single quotes; run sets output in each test
# bats/hook.bats over IPv6 (issue 17): moat-hook run the way runtimes run
# it, on a dual-stack network, every row of the policy proven with real
# IPv6 TCP and UDP to the containers' and the host's IPv6 addresses. Already
# proven over IPv6 elsewhere, and not repeated here: a shared label over
# TCP, UDP and ICMPv6, another label's UDP port unreachable, depends/expose
# and a peer grant (bats/ipv6-policy.bats); IPv6 egress and ingress ranges,
# IPv6 grants egress|ingress, a profile's IPv6 Address, internet to every
# outside IPv6 address (bats/ipv6-cidr.bats); open flows cut by a revoke or
# a label change (bats/ipv6-escape.bats). The hook's refusals that
# install nothing (usage, no attachment, a malformed pod annotation at ADD)
# do not depend on the family: bats/hook.bats. Runs in hack/sandbox (it sets
# net.ipv6.conf.all.forwarding).
# moat-bats: sandbox

load helpers

setup() { setup_dual_stack_net; }
teardown() { teardown_moat_net; }

# start NAME ANNOTATIONS_JSON: CNI ADD, then the prestart hook.
start() {
  add_container "$1"
  run -0 hook prestart "$1" "$2"
  assert_eq "$output" "" "hook output"
}

labels() { jq -nc --arg v "$1" '{"io.moat.labels": $v}'; }

tcp6_ok() { # FROM TO PORT
  run ns_tcp_connect "$(ns_of "$1")" "$(ip6_of "$2")" "$3"
  assert_eq "$output" ok "tcp6 $1 -> $2:$3"
}
tcp6_refused() { # FROM TO PORT
  run ns_tcp_connect "$(ns_of "$1")" "$(ip6_of "$2")" "$3"
  assert_eq "$output" refused "tcp6 $1 -> $2:$3"
}
listen6_tcp() { ns_tcp_listen "$(ns_of "$1")" "$(ip6_of "$1")" "$2"; }
listen6_udp() { ns_udp_listen "$(ns_of "$1")" "$(ip6_of "$1")" "$2"; }

@test "hook IPv6: a label among several opens both ways; another label and no label refused both ways" {
  local port c
  port=$(random_port)
  start web1 "$(labels app=web,env=dev)"
  start web2 "$(labels app=web)"
  start db "$(labels app=db,env=prod)"
  start plain '{}'
  for c in web1 web2 db plain; do listen6_tcp "$c" "$port"; done
  tcp6_ok web1 web2 "$port"
  tcp6_ok web2 web1 "$port"
  tcp6_refused web1 db "$port"
  tcp6_refused db web2 "$port"
  tcp6_refused plain web1 "$port"
  tcp6_refused web1 plain "$port"
}

@test "hook IPv6: a container that starts later is reached by the ones already running" {
  local port
  port=$(random_port)
  start a "$(labels app=x)"
  start b "$(labels app=x)"
  listen6_tcp a "$port"
  start c "$(labels app=x)"
  listen6_tcp c "$port"
  tcp6_ok a c "$port"
  tcp6_ok c a "$port"
  tcp6_ok b c "$port"
  run -0 nft list set inet moat "id_$(jq -r .ident "$(record_of a)")6"
  assert_contains "$output" "$(ip6_of c)" "the identity's IPv6 set"
}

@test "hook IPv6: allow-host opens exactly the named host ports on the gateway's IPv6 address, TCP and UDP" {
  local p1 p2 p3
  p1=$(random_port)
  p2=$((p1 + 1))
  p3=$((p1 + 2))
  start a "$(jq -nc --arg v "tcp/$p1,udp/$p2" '{"io.moat.allow-host": $v}')"
  start b '{}'
  ns_tcp_listen host "$GW6" "$p1"
  ns_udp_listen host "$GW6" "$p2"
  ns_tcp_listen host "$GW6" "$p3"
  run ns_tcp_connect "$(ns_of a)" "$GW6" "$p1"
  assert_eq "$output" ok "a -> gateway tcp6/$p1"
  run ns_udp_connect "$(ns_of a)" "$GW6" "$p2"
  assert_eq "$output" ok "a -> gateway udp6/$p2"
  run ns_tcp_connect "$(ns_of a)" "$GW6" "$p3"
  assert_eq "$output" refused "a -> gateway tcp6/$p3"
  run ns_udp_connect "$(ns_of a)" "$GW6" "$p1"
  assert_eq "$output" unreachable "a -> gateway udp6/$p1"
  run ns_tcp_connect "$(ns_of b)" "$GW6" "$p1"
  assert_eq "$output" refused "b -> gateway tcp6/$p1"
}

@test "hook IPv6: egress opens exactly the range and port; ingress lets the named outside peer in" {
  local p1 p2
  p1=$(random_port)
  p2=$((p1 + 1))
  setup_outside6
  start a "$(jq -nc --arg o "$OUT6_IP/128 tcp/$p1" --arg i "$OUT6_IP tcp/$p2" \
    '{"io.moat.egress": $o, "io.moat.ingress": $i}')"
  start b '{}'
  ns_tcp_listen "$OUT_NS" "$OUT6_IP" "$p1"
  ns_tcp_listen "$OUT_NS" "$OUT6_IP" "$p2"
  listen6_tcp a "$p2"
  listen6_tcp b "$p2"
  run ns_tcp_connect "$(ns_of a)" "$OUT6_IP" "$p1"
  assert_eq "$output" ok "a -> outside tcp6/$p1"
  run ns_tcp_connect "$(ns_of a)" "$OUT6_IP" "$p2"
  assert_eq "$output" refused "a -> outside tcp6/$p2"
  run ns_tcp_connect "$(ns_of b)" "$OUT6_IP" "$p1"
  assert_eq "$output" refused "b -> outside tcp6/$p1"
  run ns_tcp_connect "$OUT_NS" "$(ip6_of a)" "$p2"
  assert_eq "$output" ok "outside -> a tcp6/$p2"
  run ns_tcp_connect "$OUT_NS" "$(ip6_of b)" "$p2"
  assert_eq "$output" refused "outside -> b tcp6/$p2"
  # explain -6 says what the kernel did, from the IPv6 ranges.
  run -0 "$MOAT_BUILD/moatctl" -6 explain "$(cid_of a)" "outside:$OUT6_IP" "tcp/$p1"
  assert_contains "$output" "allowed" "explain -6 a -> outside tcp/$p1"
  run -1 "$MOAT_BUILD/moatctl" -6 explain "$(cid_of a)" "outside:$OUT6_IP" "tcp/$p2"
  assert_contains "$output" "refused" "explain -6 a -> outside tcp/$p2"
  run -0 "$MOAT_BUILD/moatctl" -6 explain "outside:$OUT6_IP" "$(cid_of a)" "tcp/$p2"
  assert_contains "$output" "allowed" "explain -6 outside -> a tcp/$p2"
  run -1 "$MOAT_BUILD/moatctl" -6 explain "outside:$OUT6_IP" "$(cid_of b)" "tcp/$p2"
  assert_contains "$output" "refused" "explain -6 outside -> b tcp/$p2"
}

@test "hook IPv6: icmp in egress and ingress means ICMPv6 over IPv6: echo to and from the named range, 0.0.0.0/0 icmp to every IPv6 address" {
  setup_outside6
  start a "$(jq -nc --arg o "$OUT6_IP/128 icmp" --arg i "$OUT6_IP icmp" \
    '{"io.moat.egress": $o, "io.moat.ingress": $i}')"
  start b "$(jq -nc '{"io.moat.egress": "0.0.0.0/0 icmp"}')"
  start c '{}'
  run -0 ip netns exec "$(ns_of a)" ping -6 -c1 -W1 "$OUT6_IP"
  run -0 ip netns exec "$OUT_NS" ping -6 -c1 -W1 "$(ip6_of a)"
  run -0 ip netns exec "$(ns_of b)" ping -6 -c1 -W1 "$OUT6_IP"
  run -0 ip netns exec "$(ns_of b)" ping -c1 -W1 "$OUT_IP"
  # Controls: no icmp, no echo; icmp opens no port.
  run ip netns exec "$(ns_of c)" ping -6 -c1 -W1 "$OUT6_IP"
  [[ $status -ne 0 ]] || fail "c pinged the outside without icmp in its egress"
  assert_contains "${output,,}" "administratively prohibited" "ping -6 c -> outside"
  run ip netns exec "$OUT_NS" ping -6 -c1 -W1 "$(ip6_of b)"
  [[ $status -ne 0 ]] || fail "the outside pinged b (no ingress)"
  local p
  p=$(random_port)
  ns_tcp_listen "$OUT_NS" "$OUT6_IP" "$p"
  run ns_tcp_connect "$(ns_of a)" "$OUT6_IP" "$p"
  assert_eq "$output" refused "a -> outside tcp6 (icmp only)"
  run -0 nft list set inet moat egress6
  assert_contains "$output" "$(ip6_of a) . $OUT6_IP . ipv6-icmp" "a's egress6 element"
  # explain -6 says what the kernel does; check finds the elements it expects.
  run -0 "$MOAT_BUILD/moatctl" -6 explain "$(cid_of a)" "outside:$OUT6_IP" icmp
  assert_contains "$output" "allowed" "explain -6 a -> outside icmp"
  run -0 "$MOAT_BUILD/moatctl" -6 explain "$(cid_of b)" "outside:$OUT6_IP" icmp
  assert_contains "$output" "allowed" "explain -6 b -> outside icmp"
  run -1 "$MOAT_BUILD/moatctl" -6 explain "$(cid_of c)" "outside:$OUT6_IP" icmp
  assert_contains "$output" "refused" "explain -6 c -> outside icmp"
  run -0 "$MOAT_BUILD/moatctl" check
}

@test "hook IPv6: internet opens the outside namespace, not peers nor the host" {
  local port
  port=$(random_port)
  setup_outside6
  start a "$(jq -nc '{"io.moat.internet": "true", "io.moat.labels": "app=a"}')"
  start b "$(labels app=b)"
  ns_tcp_listen "$OUT_NS" "$OUT6_IP" "$port"
  ns_tcp_listen host "$GW6" "$port"
  ns_tcp_listen host "$OUT6_HOST_IP" "$port"
  listen6_tcp b "$port"
  run ns_tcp_connect "$(ns_of a)" "$OUT6_IP" "$port"
  assert_eq "$output" ok "a -> outside tcp6"
  run ns_tcp_connect "$(ns_of b)" "$OUT6_IP" "$port"
  assert_eq "$output" refused "b -> outside tcp6"
  run ns_tcp_connect "$(ns_of a)" "$GW6" "$port"
  assert_eq "$output" refused "a -> gateway tcp6"
  run ns_tcp_connect "$(ns_of a)" "$OUT6_HOST_IP" "$port"
  assert_eq "$output" refused "a -> host address $OUT6_HOST_IP tcp6"
  tcp6_refused a b "$port"
}

@test "hook IPv6: proxy is IPv4's: outbound IPv6 tcp/80 is not redirected and meets the IPv6 policy" {
  local pport
  pport=$(random_port)
  setup_outside6
  start a "$(jq -nc --arg v "$OUT_IP:$pport" '{"io.moat.proxy": $v}')"
  ns_tcp_listen "$OUT_NS" 0.0.0.0 "$pport"
  ns_tcp_listen "$OUT_NS" "$OUT6_IP" 80
  # Control: IPv4 port 80 lands on the proxy.
  PROBE_TOKEN=via-proxy run ns_tcp_connect "$(ns_of a)" 192.0.2.10 80
  assert_eq "$output" ok "a -> 192.0.2.10:80 through the proxy"
  # IPv6 port 80 is not proxied (docs/design.md, "IPv6"): refused, and
  # the proxy saw nothing of it.
  PROBE_TOKEN=v6-80 run ns_tcp_connect "$(ns_of a)" "$OUT6_IP" 80
  assert_eq "$output" refused "a -> [$OUT6_IP]:80"
  PROBE_TOKEN=v6-doc-80 run ns_tcp_connect "$(ns_of a)" 2001:db8::10 80
  [[ $output != ok ]] || fail "a reached [2001:db8::10]:80"
  assert_eq "$(received v6-80)$(received v6-doc-80)" 00 "IPv6 tokens delivered"
  run -0 nft list map inet moat proxy6
  assert_not_contains "$output" "$(ip6_of a)" "proxy6 elements"
}

@test "hook IPv6: an IPv6 proxy takes outbound IPv6 tcp/80 and 443, and is itself allowed; IPv4 tcp/80 is not redirected; a container's own network is no proxy" {
  local pport
  pport=$(random_port)
  setup_outside6
  start a "$(jq -nc --arg v "[$OUT6_IP]:$pport 80+443" '{"io.moat.proxy": $v}')"
  ns_tcp_listen "$OUT_NS" "$OUT6_IP" "$pport"
  ns_tcp_listen "$OUT_NS" 0.0.0.0 80
  # Any IPv6 destination's tcp/80 and 443 land on the proxy (nothing
  # else listens on 2001:db8::10).
  PROBE_TOKEN=v6-80 run ns_tcp_connect "$(ns_of a)" 2001:db8::10 80
  assert_eq "$output" ok "a -> [2001:db8::10]:80 through the proxy"
  PROBE_TOKEN=v6-443 run ns_tcp_connect "$(ns_of a)" 2001:db8::10 443
  assert_eq "$output" ok "a -> [2001:db8::10]:443 through the proxy"
  PROBE_TOKEN=v6-direct run ns_tcp_connect "$(ns_of a)" "$OUT6_IP" "$pport"
  assert_eq "$output" ok "a -> the proxy itself"
  assert_eq "$(received v6-80)$(received v6-443)$(received v6-direct)" 111 "tokens at the proxy"
  # Another port is not proxied: refused by the IPv6 policy.
  PROBE_TOKEN=v6-81 run ns_tcp_connect "$(ns_of a)" "$OUT6_IP" 81
  assert_eq "$output" refused "a -> [$OUT6_IP]:81"
  # IPv4 port 80 is not redirected: it meets the IPv4 policy.
  PROBE_TOKEN=v4-80 run ns_tcp_connect "$(ns_of a)" "$OUT_IP" 80
  assert_eq "$output" refused "a -> $OUT_IP:80"
  assert_eq "$(received v4-80)" 0 "IPv4 token delivered"
  run -0 nft list map inet moat proxy6
  assert_contains "$output" "$(ip6_of a) . 443 : $OUT6_IP . $pport"
  run -0 "$MOAT_BUILD/moatctl" show "$(cid_of a)"
  assert_contains "$output" "$OUT6_IP"
  # poststop takes them.
  run -0 hook poststop a '{}'
  run -0 nft list map inet moat proxy6
  assert_not_contains "$output" "$(ip6_of a)" "proxy6 elements after poststop"
  # A proxy on the container's own IPv6 network is refused.
  add_container b
  run -1 hook prestart b "$(jq -nc --arg v "[${V6PFX}::99]:3128" '{"io.moat.proxy": $v}')"
  assert_contains "$output" "io.moat.proxy: ${V6PFX}::99 is on the container's own network"
}

@test "hook IPv6: a Trireme-format profile picked with io.moat.policy" {
  local port f c
  port=$(random_port)
  f=$BATS_TEST_TMPDIR/policy.json
  cat >"$f" <<'EOF'
{
  "Web": {
    "Dependencies": [
      {"Clause": [{"Key": "@usr:app", "Value": ["db"], "Operator": "="}],
       "Policy": {"Action": 1}}
    ]
  },
  "DB": {
    "TagSelectors": [
      {"Clause": [{"Key": "@usr:app", "Value": ["web"], "Operator": "="}],
       "Policy": {"Action": 1}},
      {"Clause": [{"Key": "@usr:env", "Value": ["test"], "Operator": "="}],
       "Policy": {"Action": 2}}
    ]
  }
}
EOF
  conf_set '. + {policyFile: $f}' --arg f "$f"
  start db "$(jq -nc '{"io.moat.labels": "app=db", "io.moat.policy": "DB"}')"
  start web "$(jq -nc '{"io.moat.labels": "app=web", "io.moat.policy": "Web"}')"
  start webtest "$(jq -nc '{"io.moat.labels": "app=web,env=test", "io.moat.policy": "Web"}')"
  for c in db web webtest; do listen6_tcp "$c" "$port"; done
  tcp6_ok web db "$port"
  tcp6_refused db web "$port"
  tcp6_refused webtest db "$port"
}

@test "hook IPv6: a malformed or unknown annotation fails the start and installs nothing in either family" {
  local before
  add_container a
  before=$(nft_elems_matching "$(ip_of a)" "$(ip6_of a)" "$(hostif_of a)" "$(mac_of a)" | sort)
  assert_contains "$before" "members6 $BR . $(ip6_of a)" "a's IPv6 elements"
  run -1 hook prestart a '{"io.moat.labels": "app=web", "io.moat.allow-host": "udp/2222,tcp/99999"}'
  assert_contains "$output" "io.moat.allow-host: port 99999 out of range"
  assert_eq "$(nft_elems_matching "$(ip_of a)" "$(ip6_of a)" "$(hostif_of a)" "$(mac_of a)" | sort)" \
    "$before" "elements of a"
  run -1 hook prestart a '{"io.moat.egress": "2001:db8::/129 tcp/443"}'
  assert_contains "$output" "io.moat.egress"
  assert_eq "$(nft_elems_matching "$(ip_of a)" "$(ip6_of a)" "$(hostif_of a)" "$(mac_of a)" | sort)" \
    "$before" "elements of a"
}

@test "hook IPv6: poststop removes what the hook installed in both families, twice is fine; DEL leaves no IPv6 trace" {
  local port links
  links=$(moat_links)
  port=$(random_port)
  start a "$(jq -nc --arg h "tcp/$port,udp/$port" --arg e "2001:db8::/64 tcp/443" \
    '{"io.moat.labels": "app=x", "io.moat.allow-host": $h, "io.moat.egress": $e}')"
  start b "$(labels app=x)"
  listen6_tcp b "$port"
  ns_tcp_listen host "$GW6" "$port"
  tcp6_ok a b "$port"
  run ns_tcp_connect "$(ns_of a)" "$GW6" "$port"
  assert_eq "$output" ok "a -> gateway tcp6/$port"
  run -0 nft list set inet moat egress6
  assert_contains "$output" "$(ip6_of a)" "egress6 before poststop"
  run -0 nft list set inet moat host_grants6
  assert_contains "$output" "$(ip6_of a)" "host_grants6 before poststop"
  run -0 hook poststop a
  run -0 hook poststop a
  tcp6_refused a b "$port"
  run ns_tcp_connect "$(ns_of a)" "$GW6" "$port"
  assert_eq "$output" refused "a -> gateway tcp6/$port after poststop"
  # b keeps its label, but a's address left the identity's IPv6 set.
  run -0 nft list set inet moat "id_$(jq -r .ident "$(record_of b)")6"
  assert_not_contains "$output" "$(ip6_of a)" "the identity's IPv6 set"
  run -0 nft list set inet moat egress6
  assert_not_contains "$output" "$(ip6_of a)" "egress6 after poststop"
  run -0 nft list set inet moat host_grants6
  assert_not_contains "$output" "$(ip6_of a)" "host_grants6 after poststop"
  run -0 jq -e '.policy == null and .ident == null' "$(record_of a)"
  del_container a
  del_container b
  assert_nothing_left "$links"
  run -0 nft list ruleset
  assert_not_contains "$output" "$NETPFX."
  assert_not_contains "$output" "$V6PFX:"
}

@test "ADD IPv6: labels from args.cni.labels and pod annotations are policy without a hook" {
  local port x
  port=$(random_port)
  conf_set '. + {args: {cni: {labels: [{key: "app", value: "web"}]}}}'
  add_container a
  conf_set '. + {runtimeConfig: {"io.kubernetes.cri.pod-annotations":
    {"io.moat.labels": "app=web", "io.moat.allow-host": $h}}}' --arg h "tcp/$port"
  add_container b
  conf_set 'del(.runtimeConfig) | .args.cni.labels = [{key: "app", value: "db"}]'
  add_container c
  for x in a b c; do listen6_tcp "$x" "$port"; done
  tcp6_ok a b "$port"
  tcp6_ok b a "$port"
  tcp6_refused c a "$port"
  ns_tcp_listen host "$GW6" "$port"
  run ns_tcp_connect "$(ns_of b)" "$GW6" "$port"
  assert_eq "$output" ok "b -> gateway tcp6/$port"
  run ns_tcp_connect "$(ns_of a)" "$GW6" "$port"
  assert_eq "$output" refused "a -> gateway tcp6/$port"
  # The hook later sees the same sources and changes nothing.
  run -0 hook prestart b
  tcp6_ok a b "$port"
}

@test "hook IPv6: a container found by its network namespace, or by its bundle's config.json" {
  local port pid state bundle
  port=$(random_port)
  start a "$(labels app=x)"
  add_container b
  add_container c
  listen6_tcp b "$port"
  listen6_tcp c "$port"
  tcp6_refused a b "$port"
  tcp6_refused a c "$port"
  # A process in b's namespace stands for the container that shares it.
  start_bg "$(ns_of b)" sleep 1000
  pid=$(tail -n 1 "$T/pids")
  wait_for 5 test "$(readlink /proc/"$pid"/ns/net)" = "$(ip netns exec "$(ns_of b)" readlink /proc/self/ns/net)"
  state=$(jq -nc --argjson pid "$pid" '{ociVersion: "1.0.2", id: "other-id", pid: $pid,
    annotations: {"io.moat.labels": "app=x"}}')
  run -0 bash -c "printf '%s' '$state' | MOAT_RUN_DIR='$MOAT_RUN_DIR' '$MOAT_BUILD/moat-hook' prestart"
  tcp6_ok a b "$port"
  # c's annotations from its bundle, the state carrying none.
  bundle=$BATS_TEST_TMPDIR/bundle
  mkdir -p "$bundle"
  jq -n '{ociVersion: "1.0.2", annotations: {"io.moat.labels": "app=x"}}' >"$bundle/config.json"
  run -0 bash -c "jq -nc --arg id '$(cid_of c)' --arg b '$bundle' '{ociVersion: \"1.0.2\", id: \$id, bundle: \$b}' |
    MOAT_RUN_DIR='$MOAT_RUN_DIR' '$MOAT_BUILD/moat-hook' prestart"
  tcp6_ok a c "$port"
}

@test "hook IPv6: ten containers joining one label at once all get their peers in the identity's IPv6 set" {
  local i port pids=() ident
  port=$(random_port)
  for i in $(seq 10); do add_container "c$i"; done
  for i in $(seq 10); do
    hook prestart "c$i" "$(labels app=storm)" >"$T/hook.c$i" &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || fail "hook $((i + 1)) failed: $(cat "$T/hook.c$((i + 1))")"
  done
  ident=$(jq -r .ident "$(record_of c1)")
  for i in $(seq 10); do
    assert_eq "$(jq -r .ident "$(record_of "c$i")")" "$ident" "identity of c$i"
  done
  assert_eq "$(nft_elems inet "id_${ident}6" | grep -c "^$V6PFX:")" 10 "addresses in id_${ident}6"
  assert_eq "$(nft -j list map inet moat src_ident6 | jq --arg p "$V6PFX:" --arg t "id_${ident}6" \
    '[.nftables[] | select(.map) | .map.elem[] | select((.[0] | startswith($p))
      and .[1].jump.target == $t)] | length')" 10 "jumps"
  listen6_tcp c10 "$port"
  tcp6_ok c1 c10 "$port"
  listen6_udp c1 "$port"
  run ns_udp_connect "$(ns_of c10)" "$(ip6_of c1)" "$port"
  assert_eq "$output" ok "c10 -> c1 udp6"
}

@test "moatctl grant over IPv6: host opens the gateway's IPv6 port, peer one way, revoke closes" {
  local port
  port=$(random_port)
  start a '{}'
  start b '{}'
  ns_tcp_listen host "$GW6" "$port"
  listen6_tcp b "$port"
  listen6_tcp a "$port"
  run ns_tcp_connect "$(ns_of a)" "$GW6" "$port"
  assert_eq "$output" refused "a -> gateway tcp6 before the grant"
  run -0 "$MOAT_BUILD/moatctl" grant "$(cid_of a)" host "tcp/$port"
  run ns_tcp_connect "$(ns_of a)" "$GW6" "$port"
  assert_eq "$output" ok "a -> gateway tcp6 with the grant"
  run ns_tcp_connect "$(ns_of b)" "$GW6" "$port"
  assert_eq "$output" refused "b -> gateway tcp6 (a's grant)"
  run -0 "$MOAT_BUILD/moatctl" grant "$(cid_of a)" peer "$(cid_of b)"
  tcp6_ok a b "$port"
  tcp6_refused b a "$port"
  run -0 "$MOAT_BUILD/moatctl" revoke "$(cid_of a)" host "tcp/$port"
  run ns_tcp_connect "$(ns_of a)" "$GW6" "$port"
  assert_eq "$output" refused "a -> gateway tcp6 after the revoke"
  run -0 "$MOAT_BUILD/moatctl" revoke "$(cid_of a)" peer "$(cid_of b)"
  tcp6_refused a b "$port"
}
