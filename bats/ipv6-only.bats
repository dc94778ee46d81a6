#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# IPv6-only networks (issue 17; docs/design.md, "IPv6"): "subnet6" without
# "subnet". The containers get no IPv4 at all; the policy runs keyed by an
# internal IPv4 key from the network's own range of 240.0.0.0/4, never on
# any interface nor on the wire, and its IPv6 twins are what traffic meets.
# Proven with real TCP, UDP and ICMPv6; the attacks on the key at the end.
# moat-bats: sandbox

load helpers
load escape
load runc

setup() {
  setup_dual_stack_net
  conf_set 'del(.subnet)'
  MOAT_CONF_BASE=$MOAT_CONF
  # Teardown's element sweep finds the test's by its IPv6 prefix.
  echo "$V6PFX:" >>"$T/words"
}
teardown() {
  runc_teardown
  teardown_moat_net
}

tcp6() { ns_tcp_connect "$(ns_of "$1")" "$(ip6_of "$2")" "$3" || true; }
udp6() { ns_udp_connect "$(ns_of "$1")" "$(ip6_of "$2")" "$3" || true; }
ping6_ok() { ip netns exec "$(ns_of "$1")" ping -6 -c1 -W1 "$2" >/dev/null 2>&1; }
key_of() { jq -er '.key4 | split("/")[0]' "$(record_of "$1")"; }

serve() { # NAME PORT: TCP and UDP servers on NAME's IPv6 address
  ns_tcp_listen "$(ns_of "$1")" "$(ip6_of "$1")" "$2"
  ns_udp_listen "$(ns_of "$1")" "$(ip6_of "$1")" "$2"
}

# from_out SRC NAME PORT: the outside namespace, from its address SRC, to
# NAME's IPv6 address over TCP: ok, refused, ...
from_out() {
  local token=in-$RANDOM$RANDOM out rc=0
  out=$(printf '%s\n' "$token" | ip netns exec "$OUT_NS" timeout 5 socat -t1 -T2 - \
    "TCP6:[$(ip6_of "$2")]:$3,bind=[$1],connect-timeout=1" 2>&1) || rc=$?
  classify "$out" "$rc" "$token"
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
  run -0 "$MOAT_BUILD/moatctl" --json stats "$(cid_of a)"
  assert_not_contains "$output" "$key"
  assert_contains "$output" "$a6"
  run -0 "$MOAT_BUILD/moatctl" stats
  assert_contains "$output" "$a6"
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
  CNI_CONF=$(jq -c '.cniVersion = "1.1.0"' <<<"$MOAT_CONF") run -0 cni STATUS
  # CNI CHECK passes; an IPv4 address in its prevResult is drift.
  CNI_CONF=$(conf_with_prev "$(result_of a)") run -0 cni CHECK "$(cid_of a)" "$ns"
  CNI_CONF=$(conf_with_prev "$(jq -c '.ips += [{address: "10.1.0.2/24", interface: 2}]' <<<"$(result_of a)")") \
    run cni CHECK "$(cid_of a)" "$ns"
  assert_cni_error 104 "an IPv4 address for an IPv6-only container"
  # Its IPv6 address gone is drift too.
  ip -n "$ns" -6 addr del "$a6/64" dev eth0
  CNI_CONF=$(conf_with_prev "$(result_of a)") run cni CHECK "$(cid_of a)" "$ns"
  assert_cni_error 104 "$a6"
}

@test "IPv6-only: default deny over TCP, UDP and ICMPv6; a shared label opens both ways, another label stays refused" {
  local p
  p=$(random_port)
  add6 a
  add6 b
  add6 c
  serve a "$p"
  serve b "$p"
  serve c "$p"
  assert_eq "$(PROBE_TOKEN=ab0 tcp6 a b "$p")" refused "a -> b tcp6 unlabelled"
  assert_eq "$(PROBE_TOKEN=ab0u udp6 a b "$p")" unreachable "a -> b udp6 unlabelled"
  assert_eq "$(received ab0)$(received ab0u)" 00 "refused tokens delivered"
  ping6_ok a "$(ip6_of b)" && fail "a pinged b unlabelled"
  PROBE_TOKEN=h6 run -0 ns_tcp_connect host "$(ip6_of b)" "$p"
  run -0 hook prestart a '{"io.moat.labels": "app=x"}'
  run -0 hook prestart b '{"io.moat.labels": "app=x"}'
  run -0 hook prestart c '{"io.moat.labels": "app=y"}'
  assert_eq "$(tcp6 a b "$p")" ok "a -> b tcp6"
  assert_eq "$(tcp6 b a "$p")" ok "b -> a tcp6"
  assert_eq "$(udp6 a b "$p")" ok "a -> b udp6"
  assert_eq "$(udp6 b a "$p")" ok "b -> a udp6"
  ping6_ok a "$(ip6_of b)" || fail "a cannot ping b"
  ping6_ok b "$(ip6_of a)" || fail "b cannot ping a"
  assert_eq "$(PROBE_TOKEN=ca tcp6 c a "$p")" refused "c -> a tcp6"
  assert_eq "$(PROBE_TOKEN=ac tcp6 a c "$p")" refused "a -> c tcp6"
  assert_eq "$(PROBE_TOKEN=cb udp6 c b "$p")" unreachable "c -> b udp6"
  assert_eq "$(received ca)$(received ac)$(received cb)" 000 "refused tokens delivered"
  ping6_ok c "$(ip6_of a)" && fail "c pinged a"
  # explain, by IPv6 address and by name, sees the same.
  run -0 "$MOAT_BUILD/moatctl" explain "$(ip6_of a)" "$(ip6_of b)" tcp/"$p"
  assert_contains "$output" "allowed"
  run "$MOAT_BUILD/moatctl" explain "$(cid_of c)" "$(cid_of a)" tcp/"$p"
  assert_contains "$output" "refused"
  # By name, an IPv6-only container's flow is IPv6's.
  run -0 "$MOAT_BUILD/moatctl" --json explain "$(cid_of a)" "$(cid_of b)" udp/"$p"
  assert_jq "$output" '.allowed == true and .family == 6'
  run "$MOAT_BUILD/moatctl" explain "$(cid_of a)" 10.1.2.3 tcp/"$p"
  assert_contains "$output" "is IPv6-only"
}

@test "IPv6-only: depends/expose, allow-host, a peer grant; check and restore keep them; revoke" {
  local p hp
  p=$(random_port)
  hp=$(random_port)
  add6 web
  add6 db
  add6 other
  run -0 hook prestart web '{"io.moat.labels": "app=web", "io.moat.depends": "app=db", "io.moat.allow-host": "tcp/'"$hp"'"}'
  run -0 hook prestart db '{"io.moat.labels": "app=db", "io.moat.expose": "app=web"}'
  run -0 hook prestart other '{"io.moat.labels": "app=other", "io.moat.depends": "app=db"}'
  serve db "$p"
  serve other "$p"
  assert_eq "$(tcp6 web db "$p")" ok "web -> db"
  assert_eq "$(udp6 web db "$p")" ok "web -> db udp6"
  assert_eq "$(tcp6 other db "$p")" refused "other -> db (db exposes only app=web)"
  assert_eq "$(tcp6 db web "$p")" refused "db -> web"
  ns_tcp_listen host "$GW6" "$hp"
  PROBE_TOKEN=web-host run ns_tcp_connect "$(ns_of web)" "$GW6" "$hp"
  assert_eq "$output" ok "web -> host tcp/$hp"
  PROBE_TOKEN=db-host run ns_tcp_connect "$(ns_of db)" "$GW6" "$hp"
  assert_eq "$output" refused "db -> host tcp/$hp"
  run -0 "$MOAT_BUILD/moatctl" grant "$(cid_of db)" peer "$(cid_of other)"
  assert_eq "$(tcp6 db other "$p")" ok "db -> other with a peer grant"
  run -0 "$MOAT_BUILD/moatctl" check
  run -0 "$MOAT_BUILD/moatctl" restore
  run -0 "$MOAT_BUILD/moatctl" check
  assert_eq "$(tcp6 web db "$p")" ok "web -> db after restore"
  assert_eq "$(tcp6 other db "$p")" refused "other -> db after restore"
  assert_eq "$(tcp6 db other "$p")" ok "db -> other with its grant after restore"
  # restore leaves no IPv4 port element for them.
  run -0 nft list set bridge moat ports
  assert_not_contains "$output" "$(hostif_of web)"
  run -0 "$MOAT_BUILD/moatctl" revoke "$(cid_of db)" peer "$(cid_of other)"
  assert_eq "$(tcp6 db other "$p")" refused "db -> other revoked"
}

@test "IPv6-only: an egress IPv6 range opens exactly that range; an egress grant, an ingress range" {
  local p out6 in6 other6
  p=$(random_port)
  setup_outside
  out6=fd$(printf '%02x' $((RANDOM % 256))):$(printf '%x' $RANDOM):$(printf '%x' $RANDOM):$(printf '%x' $RANDOM)
  in6=$out6::2
  other6=$out6::3
  ip addr add "$out6::1/64" dev "${PFX}oh" nodad
  ip -n "$OUT_NS" addr add "$in6/64" dev eth0 nodad
  ip -n "$OUT_NS" addr add "$other6/64" dev eth0 nodad
  ip -n "$OUT_NS" -6 route add default via "$out6::1"
  # Neighbour discovery done before the probes (their handshake waits 1 s).
  wait_for 5 ping -6 -c1 -W1 "$in6"
  wait_for 5 ping -6 -c1 -W1 "$other6"
  ns_tcp_listen "$OUT_NS" "$in6" "$p"
  ns_tcp_listen "$OUT_NS" "$other6" "$p"
  add6 a
  assert_eq "$(PROBE_TOKEN=a-in0 ns_tcp_connect "$(ns_of a)" "$in6" "$p" || true)" refused "a -> $in6 before its egress"
  run -0 hook prestart a "$(jq -nc --arg v "$in6/128 tcp/$p" '{"io.moat.egress": $v}')"
  assert_eq "$(PROBE_TOKEN=a-in ns_tcp_connect "$(ns_of a)" "$in6" "$p" || true)" ok "a -> $in6 (its range)"
  PROBE_TOKEN=a-other run ns_tcp_connect "$(ns_of a)" "$other6" "$p"
  [[ $output != ok ]] || fail "a reached $other6, outside its range"
  assert_eq "$(received a-other)" 0 "a's token outside its range delivered"
  run -0 nft list set inet moat egress6
  assert_contains "$output" "$in6"
  run -0 "$MOAT_BUILD/moatctl" check
  # A grant opens the other address; an ingress range lets the outside in.
  run -0 "$MOAT_BUILD/moatctl" grant "$(cid_of a)" egress "$other6/128" tcp/"$p"
  assert_eq "$(PROBE_TOKEN=a-other2 ns_tcp_connect "$(ns_of a)" "$other6" "$p" || true)" ok "a -> $other6 granted"
  ns_tcp_listen "$(ns_of a)" "$(ip6_of a)" "$p"
  assert_eq "$(from_out "$other6" a "$p")" refused "$other6 -> a before its ingress"
  run -0 hook prestart a "$(jq -nc --arg e "$in6/128 tcp/$p" --arg v "$in6/128 tcp/$p" \
    '{"io.moat.egress": $e, "io.moat.ingress": $v}')"
  assert_eq "$(from_out "$in6" a "$p")" ok "$in6 -> a (its ingress range)"
  assert_eq "$(from_out "$other6" a "$p")" refused "$other6 -> a (outside its ingress range)"
  run -0 "$MOAT_BUILD/moatctl" check
}

@test "IPv6-only: a published port is reached on the host's IPv6 address; no IPv4 mapping to the key" {
  local hp key
  hp=$(random_port)
  MOAT_CONF=$(jq -c --argjson h "$hp" '.runtimeConfig.portMappings = [{hostPort: $h, containerPort: 80, protocol: "tcp"}]' <<<"$MOAT_CONF") \
    add6 web
  key=$(key_of web)
  ns_tcp_listen "$(ns_of web)" "$(ip6_of web)" 80
  PROBE_TOKEN=pub6 run ns_tcp_connect host "$GW6" "$hp"
  assert_eq "$output" ok "host -> [$GW6]:$hp"
  run -0 nft list map inet moat publish6
  assert_contains "$output" "$(ip6_of web)"
  run -0 nft list map inet moat publish
  assert_not_contains "$output" "$key"
  run -0 nft list set inet moat published
  assert_not_contains "$output" "$key"
  run -0 "$MOAT_BUILD/moatctl" check
  run -0 "$MOAT_BUILD/moatctl" restore
  run -0 "$MOAT_BUILD/moatctl" check
  run -0 nft list map inet moat publish
  assert_not_contains "$output" "$key"
  PROBE_TOKEN=pub6b run ns_tcp_connect host "$GW6" "$hp"
  assert_eq "$output" ok "host -> [$GW6]:$hp after restore"
  del_container web
  run -0 nft list map inet moat publish6
  assert_not_contains "$output" "$(ip6_of web)"
}

@test "IPv6-only: DEL leaves nothing: no element, no allocation, the key range released" {
  local before key a6
  before=$(moat_links)
  conf_set '.masquerade = true'
  add6 a
  add6 b
  run -0 hook prestart a '{"io.moat.labels": "app=x"}'
  run -0 hook prestart b '{"io.moat.labels": "app=x"}'
  key=$(key_of a)
  a6=$(ip6_of a)
  assert_eq "$(grep -lx "$NET" "$MOAT_RUN_DIR"/.keys4/* | wc -l)" 1 "the network's key range claims"
  # Masqueraded by its IPv6 address only (postrouting matches the source
  # alone: a key there would masquerade a forged packet from outside).
  run -0 nft list set inet moat masq6
  assert_contains "$output" "$a6"
  run -0 nft list set inet moat masq
  assert_not_contains "$output" "$key"
  del_container a
  del_container b
  run -0 nft list ruleset
  assert_not_contains "$output" "$a6"
  assert_not_contains "$output" "$key"
  assert_nothing_left "$before" "$(ns_of a)" "$(ns_of b)"
  [[ ! -e $MOAT_RUN_DIR/$NET ]] || fail "state directory left: $(ls -R "$MOAT_RUN_DIR/$NET")"
  assert_eq "$(grep -lx "$NET" "$MOAT_RUN_DIR"/.keys4/* 2>/dev/null | wc -l)" 0 "key range claims left"
}

@test "IPv6-only names: the name server listens on the IPv6 gateway; a peer finds another by name (AAAA), never its key; the last DEL stops it and takes its resolvers6 elements" {
  local out key_b pid
  conf_set '.names = true'
  CNI_ARGS_VALUE="K8S_POD_NAME=$PFX-a" add6 a
  assert_jq "$(cat "$T/result.a")" '.dns.nameservers == [$gw] and .dns.search == ["dns.moat"]' \
    --arg gw "$GW6"
  CNI_ARGS_VALUE="K8S_POD_NAME=$PFX-b" add6 b
  key_b=$(key_of b)
  pid=$(cat "$MOAT_RUN_DIR/$NET/dnsmasq.pid") || fail "no dnsmasq pid file"
  kill -0 "$pid" || fail "dnsmasq $pid is not running"
  # b's hosts line: its IPv6 address alone.
  run -0 cat "$MOAT_RUN_DIR/$NET/hosts.d/$PFX-b@eth0"
  assert_eq "$output" "$(ip6_of b) $PFX-b $PFX-b.dns.moat" "b's hosts line"
  run -0 nft list set inet moat resolvers6
  assert_contains "$output" "\"$BR\" . $GW6 . udp . 53"
  out=$(ip netns exec "${PFX}a" timeout 3 busybox nslookup -type=AAAA "$PFX-b" "$GW6" 2>&1) || true
  assert_contains "$out" "Address: $(ip6_of b)" "a asks for b's AAAA at the IPv6 gateway"
  out=$(ip netns exec "${PFX}a" timeout 3 busybox nslookup -type=A "$PFX-b.dns.moat" "$GW6" 2>&1) || true
  assert_not_contains "$out" "$key_b" "b's A record"
  # Over TCP too (the resolvers6 pair opens both).
  ip netns exec "${PFX}a" timeout 3 busybox nc -w 2 "$GW6" 53 </dev/null ||
    fail "a -> the IPv6 gateway tcp/53"
  del_container a
  del_container b
  wait_for 3 eval '! kill -0 '"$pid"
  run -0 nft list set inet moat resolvers6
  assert_not_contains "$output" "\"$BR\""
}

@test "IPv6-only: two IPv6-only networks have two key ranges; the wrong combinations are refused naming the key" {
  local key1 key2 conf2
  add6 a
  key1=$(key_of a)
  second_network
  conf2=$(jq -c --arg s "fd$(printf '%02x' $((RANDOM % 256)))::/64" 'del(.subnet) | .subnet6 = $s' <<<"$MOAT_CONF2")
  new_netns b
  CNI_CONF=$conf2 run -0 cni ADD "$PFX-b" "$PFX"b eth0
  key2=$(jq -r '.key4' "$MOAT_RUN_DIR/$NET2/$PFX-b@eth0.json")
  [[ ${key1%.*.*} != "${key2%.*.*}" ]] || fail "two networks share key range ${key1%.*.*}/16"
  CNI_CONF=$conf2 run -0 cni DEL "$PFX-b" "$PFX"b eth0
  # A requested IPv4 address: 7 naming the key.
  new_netns c
  CNI_CONF=$(jq -c '.args = {cni: {ips: ["10.1.0.5"]}}' <<<"$MOAT_CONF") run cni ADD "$PFX-c" "$PFX"c
  assert_cni_error 7 'args.cni.ips: "10.1.0.5": the network is IPv6-only'
  # A delegated plugin's IPv4 address in the key range: 7, released.
  mkdir -p "$T/ipam-240"
  CNI_CONF=$(jq -c --arg d "$T/ipam-240" '.cniVersion = "1.0.0" | .ipam = {type: "host-local", dataDir: $d,
      ranges: [[{subnet: "240.7.0.0/24"}]]}' <<<"$MOAT_CONF") run cni ADD "$PFX-c" "$PFX"c
  assert_cni_error 7 "address 240.7.0.2: in 240.0.0.0/4, reserved for IPv6-only networks' keys"
  assert_eq "$(find "$T/ipam-240" -name '240.*' | wc -l)" 0 "host-local allocations left"
  # An IPv4 grant names an address the container has not.
  run "$MOAT_BUILD/moatctl" grant "$(cid_of a)" egress 10.0.0.0/8 tcp/443
  [[ $status -ne 0 ]] || fail "an IPv4 egress grant on an IPv6-only container"
  assert_contains "$output" "is IPv6-only: the container has no IPv4 address"
}

@test "IPv6-only: delegated IPAM host-local with only an IPv6 range; DEL releases it and the key" {
  local data=$T/ipam-data a6 b6 bkey
  mkdir -p "$data"
  conf_set '.cniVersion = "1.0.0" | .ipam = {type: "host-local", dataDir: $d,
              ranges: [[{subnet: $s6, gateway: $g6}]]}' \
    --arg d "$data" --arg s6 "$V6PFX::/64" --arg g6 "$GW6"
  add6 a
  a6=$(ip6_of a)
  [[ -e $data/$NET/$a6 ]] || fail "host-local has no file for $a6"
  assert_jq "$(cat "$(record_of a)")" '.address == null and .ipam == "host-local" and (.key4 | startswith("24") or startswith("25"))'
  run -0 ip -n "$(ns_of a)" -4 -o addr show dev eth0
  assert_eq "$output" "" "IPv4 addresses in the container"
  run -0 "$MOAT_BUILD/moatctl" check
  # A DEL without record releases both too (the key by its owner).
  add6 b
  b6=$(ip6_of b)
  bkey=$(key_of b)
  [[ -e $MOAT_RUN_DIR/$NET/ipam/$bkey ]] || fail "b's key is not the built-in allocator's"
  rm "$(record_of b)"
  del_container b
  [[ ! -e $data/$NET/$b6 ]] || fail "host-local kept $b6"
  [[ ! -e $MOAT_RUN_DIR/$NET/ipam/$bkey ]] || fail "b's key allocation left"
  del_container a
  [[ ! -e $data/$NET/$a6 ]] || fail "host-local kept $a6"
  assert_eq "$(ls "$MOAT_RUN_DIR/$NET/ipam" 2>/dev/null | grep -v '^last$' || true)" "" "built-in allocations left"
}

@test "IPv6-only: GC removes an unlisted attachment, and a stray port whose record was lost, with its elements" {
  local a6 b6 keya keyb hostb list
  add6 a
  add6 b
  add6 c
  a6=$(ip6_of a) b6=$(ip6_of b)
  keya=$(key_of a) keyb=$(key_of b)
  hostb=$(hostif_of b)
  rm "$(record_of b)"
  list=$(jq -nc --arg c "$(cid_of c)" '[{containerID: $c, ifname: "eth0"}]')
  CNI_CONF=$(jq -c --argjson l "$list" '.cniVersion = "1.1.0" | . + {"cni.dev/valid-attachments": $l}' <<<"$MOAT_CONF") \
    run -0 cni GC
  link_gone "$(hostif_of a)" || fail "a's port left"
  link_gone "$hostb" || fail "b's stray port left"
  run -0 nft list ruleset
  assert_not_contains "$output" "$a6"
  assert_not_contains "$output" "$b6"
  assert_not_contains "$output" "$keya"
  assert_not_contains "$output" "$keyb "
  assert_contains "$output" "$(ip6_of c)"
  assert_eq "$(ls "$MOAT_RUN_DIR/$NET/ipam" | grep -cv '^last$')" 2 "allocations left (c's key and IPv6 address)"
  run -0 "$MOAT_BUILD/moatctl" check
}

@test "IPv6-only: hook-driven attach under the hook's confinement: IPv6 only; poststop leaves nothing" {
  runc_setup
  local netdir=$T/networks ip6 pid
  mkdir -p "$netdir"
  jq --arg n "$NET" '. + {cniVersion: "1.0.0", name: $n}' <<<"$MOAT_CONF" >"$netdir/50-moat.conf"
  export CTR_NETNS=new
  export CTR_HOOK_ENV="MOAT_NETWORK_DIRS=$netdir"
  ctr_start a "io.moat.network=$NET"
  ip6=$(jq -er '.address6 | split("/")[0]' "$(record_of a)") || fail "no address6 in a's record"
  assert_jq "$(cat "$(record_of a)")" '.address == null and (.key4 | type) == "string"'
  pid=$(ctr_pid a)
  assert_contains "$(nsenter -t "$pid" -n ip -6 -o addr show dev eth0 scope global)" "$ip6/64"
  assert_eq "$(nsenter -t "$pid" -n ip -4 -o addr show dev eth0)" "" "IPv4 addresses in a"
  assert_eq "$(nsenter -t "$pid" -n ip -4 route show)" "" "IPv4 routes in a"
  ctr_delete a
  [[ ! -e $(record_of a) ]] || fail "a's record left"
  run -0 nft list ruleset
  assert_not_contains "$output" "$ip6"
  assert_eq "$(grep -lx "$NET" "$MOAT_RUN_DIR"/.keys4/* 2>/dev/null | wc -l)" 0 "key range claims left"
}

# --------------------------------------------------------------- attacks

# attack_world: a and b, IPv6-only, share app=x (a has every right to b an
# identity gives); UDP servers on b's IPv6 address; captures on a's host
# end (A: what a sent), in b (B: what reached it) and on the bridge (BR:
# what the port let up to the host). KEYA, KEYB, KEYGW: the keys of a, b
# and the key range's first host.
attack_world() {
  xpkt_install
  P=$(random_port)
  add6 a
  add6 b
  run -0 hook prestart a '{"io.moat.labels": "app=x"}'
  run -0 hook prestart b '{"io.moat.labels": "app=x"}'
  NSA=$(ns_of a) NSB=$(ns_of b)
  A6=$(ip6_of a) B6=$(ip6_of b)
  MACA=$(mac_of a) MACB=$(mac_of b)
  KEYA=$(key_of a) KEYB=$(key_of b)
  KEYGW=${KEYA%.*.*}.0.1
  GWMAC=$(gw_mac)
  ns_udp_listen "$NSB" "$B6" "$P"
  sniff_start A host "$(hostif_of a)"
  sniff_start B "$NSB" eth0
  sniff_start BR host "$BR"
  assert_eq "$(PROBE_TOKEN=ab-ok udp6 a b "$P")" ok "a -> b udp6 (the world works)"
}

# settle_b: the host's IPv6 datagram to b, sent after the probes: once b
# has it, the probes before it had their chance.
settle_b() {
  local tok=ctl-$RANDOM$RANDOM
  PROBE_TOKEN=$tok run -0 ns_udp_connect host "$B6" "$P"
  wait_captured B "$tok" || fail "control $tok never reached b"
}

# only_host_ipv4_in TAG: capture TAG holds no IPv4 or ARP frame but the
# host's own, from the bridge's MAC (its IGMP; its reject answering the
# forged source, which the key range's route sends to the bridge, and its
# ARP for it there, in vain: no port lets an ARP answer for a key through).
only_host_ipv4_in() {
  local n nhost
  n=$(($(frames "$1" - - 0800) + $(frames "$1" - - 0806)))
  nhost=$(($(frames "$1" - "$GWMAC" 0800) + $(frames "$1" - "$GWMAC" 0806)))
  [[ $n == "$nhost" ]] ||
    fail "IPv4 or ARP frames from others than the host in capture $1: $(awk '$4 == "0800" || $4 == "0806"' "$T/cap.$1")"
}

# no_ipv4_in TAG SMAC: capture TAG holds no IPv4 or ARP frame from SMAC
# ("-": from anyone).
no_ipv4_in() {
  local n4 narp
  n4=$(frames "$1" - "$2" 0800)
  narp=$(frames "$1" - "$2" 0806)
  [[ $n4$narp == 00 ]] ||
    fail "IPv4 ($n4) or ARP ($narp) frames from $2 in capture $1: $(awk '$4 == "0800" || $4 == "0806"' "$T/cap.$1")"
}

@test "attack: an IPv6-only container sends no IPv4 at all: raw IPv4 to a peer and the gateway, broadcast, ARP, forged sources, its own stack; all dropped at its port" {
  attack_world
  local tok
  run -0 xpkt "$NSA" send eth0 udp --smac "$MACA" --dmac "$MACB" --src "$KEYA" --dst "$KEYB" --dport "$P" --token v4-direct
  run -0 xpkt "$NSA" send eth0 udp --smac "$MACA" --dmac "$GWMAC" --src "$KEYA" --dst "$KEYB" --dport "$P" --token v4-routed
  run -0 xpkt "$NSA" send eth0 udp --smac "$MACA" --dmac "$GWMAC" --src "$KEYA" --dst "$KEYGW" --dport "$P" --token v4-gw
  run -0 xpkt "$NSA" send eth0 icmp-echo --smac "$MACA" --dmac "$GWMAC" --src "$KEYA" --dst "$KEYB" --token v4-echo
  run -0 xpkt "$NSA" send eth0 udp --smac "$MACA" --dmac ff:ff:ff:ff:ff:ff --src "$KEYA" --dst 255.255.255.255 --dport "$P" --token v4-bcast
  run -0 xpkt "$NSA" send eth0 udp --smac "$MACA" --dmac "$GWMAC" --src "$KEYB" --dst "$KEYGW" --dport "$P" --token v4-forged
  run -0 xpkt "$NSA" send eth0 udp --smac "$MACA" --dmac "$GWMAC" --src 10.99.0.5 --dst 10.99.0.1 --dport "$P" --token v4-foreign
  run -0 xpkt "$NSA" send eth0 arp --op 1 --smac "$MACA" --dmac ff:ff:ff:ff:ff:ff --spa "$KEYA" --tpa "$KEYB" --token arp-req
  run -0 xpkt "$NSA" send eth0 arp --op 2 --smac "$MACA" --dmac "$MACB" --spa "$KEYGW" --tpa "$KEYB" --tha "$MACB" --token arp-rep
  # Its own stack, given the key by its root: ARP and ping go nowhere.
  ip -n "$NSA" addr add "$KEYA/16" dev eth0
  ip netns exec "$NSA" ping -c1 -W1 "$KEYB" >/dev/null 2>&1 && fail "a pinged b's key"
  ip netns exec "$NSA" ping -c1 -W1 "$KEYGW" >/dev/null 2>&1 && fail "a pinged the key range's gateway"
  for tok in v4-direct v4-routed v4-gw v4-echo v4-bcast v4-forged v4-foreign arp-req arp-rep; do
    sent_by_a "$tok"
  done
  wait_for 5 frames_at_least 1 A in "$MACA" 0806 || fail "a's own ARP request never left it"
  settle_b
  for tok in v4-direct v4-routed v4-gw v4-echo v4-bcast v4-forged v4-foreign arp-req arp-rep; do
    assert_not_captured B "$tok" "$tok in b"
    assert_not_captured BR "$tok" "$tok on the bridge"
  done
  no_ipv4_in B "$MACA"
  no_ipv4_in BR "$MACA"
  assert_eq "$(received v4-direct)$(received v4-routed)" 00 "IPv4 datagrams delivered"
}

@test "attack: from outside, an IPv4 source equal to a container's key gains nothing, even with the key range routed to the bridge" {
  attack_world
  local outmac hmac tok
  setup_outside
  # The worst case: the host routes the key range to the bridge (it does
  # not: no address there), so that the forged packets meet moat's forward.
  ip route add "${KEYA%.*.*}.0.0/16" dev "$BR"
  ip -n "$OUT_NS" route add 240.0.0.0/4 via "$OUT_HOST_IP"
  outmac=$(ip netns exec "$OUT_NS" cat /sys/class/net/eth0/address)
  hmac=$(cat "/sys/class/net/${PFX}oh/address")
  sniff_start OH host "${PFX}oh"
  refused_before=$(nft list set inet moat refused_in | grep -o "$KEYB counter packets [0-9]*" | awk '{ print $4 }')
  run -0 xpkt "$OUT_NS" send eth0 udp --smac "$outmac" --dmac "$hmac" --src "$KEYA" --dst "$KEYB" --dport "$P" --token out-udp
  run -0 xpkt "$OUT_NS" send eth0 udp --smac "$outmac" --dmac "$hmac" --src "$KEYA" --dst "$KEYB" --dport 9 --token out-udp9
  run -0 xpkt "$OUT_NS" send eth0 icmp-echo --smac "$outmac" --dmac "$hmac" --src "$KEYA" --dst "$KEYB" --token out-echo
  for tok in out-udp out-udp9 out-echo; do
    wait_captured OH "$tok" || fail "the outside's $tok never reached the host"
  done
  settle_b
  for tok in out-udp out-udp9 out-echo; do
    assert_not_captured B "$tok" "$tok in b"
  done
  only_host_ipv4_in B
  # moat judged them (they were not lost on the way): b's refusals counted.
  refused_after=$(nft list set inet moat refused_in | grep -o "$KEYB counter packets [0-9]*" | awk '{ print $4 }')
  ((refused_after >= refused_before + 3)) || fail "b's refused_in: $refused_before -> $refused_after"
  ip route del "${KEYA%.*.*}.0.0/16" dev "$BR"
}

@test "attack: a dual-stack container on another network cannot use the key range: not as a destination, not as a forged source" {
  attack_world
  local conf2 macd gw2mac tok
  second_network
  conf2=$(jq -c --arg s "fd$(printf '%02x' $((RANDOM % 256)))::/64" '.subnet6 = $s' <<<"$MOAT_CONF2")
  new_netns d
  CNI_CONF=$conf2 run -0 cni ADD "$PFX-d" "$PFX"d eth0
  printf '%s\n' "$output" >"$T/result.d"
  # Same label as a and b; the key range routed to the bridge (worst case).
  run -0 hook prestart d '{"io.moat.labels": "app=x"}'
  ip route add "${KEYA%.*.*}.0.0/16" dev "$BR"
  macd=$(mac_of d)
  gw2mac=$(cat "/sys/class/net/$BR2/address")
  sniff_start D host "$(hostif_of d)"
  sniff_start BR2 host "$BR2"
  PROBE_TOKEN=d-key run ns_udp_connect "$(ns_of d)" "$KEYB" "$P"
  [[ $output != ok ]] || fail "d reached b's key"
  run -0 xpkt "$(ns_of d)" send eth0 udp --smac "$macd" --dmac "$gw2mac" --src "$KEYA" --dst "$KEYB" --dport "$P" --token d-forged
  run -0 xpkt "$(ns_of d)" send eth0 udp --smac "$macd" --dmac "$gw2mac" --src "$KEYA" --dst "$GW2" --dport "$P" --token d-forged-gw
  run -0 xpkt "$(ns_of d)" send eth0 arp --op 2 --smac "$macd" --dmac "$gw2mac" --spa "$KEYB" --tpa "$GW2" --tha "$gw2mac" --token d-arp
  for tok in d-key d-forged d-forged-gw d-arp; do
    wait_captured D "$tok" || fail "d's $tok never left it"
  done
  settle_b
  for tok in d-key d-forged d-forged-gw d-arp; do
    assert_not_captured B "$tok" "$tok in b"
  done
  for tok in d-forged d-forged-gw d-arp; do
    assert_not_captured BR2 "$tok" "$tok past d's port"
  done
  only_host_ipv4_in B
  assert_eq "$(received d-key)$(received d-forged)" 00 "d's datagrams delivered"
  ip route del "${KEYA%.*.*}.0.0/16" dev "$BR"
  CNI_CONF=$conf2 run -0 cni DEL "$PFX-d" "$PFX"d eth0
}
