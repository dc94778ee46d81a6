#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2010 # jq programs in single quotes; ls of address files
# Dual stack, the network side (issue 17): a network with "subnet6" gives
# each container an IPv6 address of its /64 beside its IPv4 one, with the
# address model of docs/research/ipv6 ("model N"): ADDR/64 nodad
# noprefixroute, the gateway alone on-link, the default route via the
# gateway; the bridge holds the gateway, its IPv6 on only then. ADD refuses
# while net.ipv6.conf.all.forwarding is 0, which moat never writes.
#
# Forwarding is a namespace's setting: these tests set it to 1 (and to 0
# for the refusal) in a private network namespace: make test runs this file
# in hack/sandbox (the marker below), and it fails in the host's own.
# moat-bats: sandbox
#
# Traffic over IPv6 is not tested here: the bridge table lets no IPv6
# frame through a port until its IPv6 rules exist (the ruleset side of
# issue 17).

load helpers
load runc

in_private_netns() { [[ $(readlink /proc/self/ns/net) != "$(readlink /proc/1/ns/net)" ]]; }

forwarding() { cat /proc/sys/net/ipv6/conf/all/forwarding; }

setup() {
  setup_moat_net
  [[ -e /proc/sys/net/ipv6 ]] || fail "no IPv6 in this kernel"
  in_private_netns || fail "run this file in hack/sandbox: it sets net.ipv6.conf.all.forwarding"
  sysctl -qw net.ipv6.conf.all.forwarding=1
  # A private /64 of this test: fdXX:XXXX:XXXX:XXXX::/64.
  SUB6=$(printf 'fd%02x:%x:%x:%x:' $((RANDOM % 256)) "$RANDOM" "$RANDOM" "$RANDOM")
  GW6=${SUB6}:1
  conf_set '.subnet6 = $s' --arg s "${SUB6}:/64"
}

teardown() {
  if in_private_netns; then sysctl -qw net.ipv6.conf.all.forwarding=1; fi
  runc_teardown
  teardown_moat_net
}

ip6_of() { result_field "$1" '.ips[1].address | split("/")[0]'; }

# The address the IPv4 one's host part gives (10.a.b.N -> SUB6::N, hex).
ip6_for() { printf '%s:%x' "$SUB6" "${1##*.}"; }

# The EUI-64 link-local of a MAC (addr_gen_mode 0): U/L bit flipped,
# ff:fe in the middle.
link_local_of() {
  local IFS=: m
  read -ra m <<<"$1"
  printf 'fe80::%x:%x:%x:%x' $((((16#${m[0]} ^ 2) << 8) | 16#${m[1]})) $(((16#${m[2]} << 8) | 0xff)) \
    $((0xfe00 | 16#${m[3]})) $(((16#${m[4]} << 8) | 16#${m[5]}))
}

addr6_json() { ip -n "$1" -j -6 addr show dev "${2:-eth0}"; }

@test "dual stack ADD: the container has exactly its address, nodad, not tentative; its routes and sysctls" {
  add_container c1
  local ip4 ip6 ns
  ip4=$(ip_of c1)
  ip6=$(ip6_of c1)
  ns=$(ns_of c1)
  assert_eq "$ip6" "$(ip6_for "$ip4")" "IPv6 address (the IPv4 host part)"

  # One global address: ADDR/64 nodad noprefixroute, valid at once.
  assert_jq "$(addr6_json "$ns")" '[.[0].addr_info[] | select(.scope == "global")]
    | length == 1 and .[0].local == $a and .[0].prefixlen == 64 and .[0].nodad == true
      and .[0].noprefixroute == true and (.[0].tentative // false) == false
      and (.[0].dadfailed // false) == false' --arg a "$ip6"
  # The link-local: the EUI-64 of the MAC moat chose, not tentative.
  assert_jq "$(addr6_json "$ns")" '[.[0].addr_info[] | select(.scope == "link")]
    | length == 1 and (.[0].tentative // false) == false'
  assert_eq "$(addr6_json "$ns" | jq -r '.[0].addr_info[] | select(.scope == "link") | .local')" \
    "$(link_local_of "$(mac_of c1)")" "link-local"

  # Routes: the gateway alone on-link, the default via it, no prefix route.
  assert_eq "$(ip -n "$ns" -6 route show dev eth0 | grep -v '^fe80::/64' | sed 's/ proto boot//; s/ metric [0-9]*//; s/ pref medium//')" \
    "$(printf '%s\ndefault via %s' "$GW6" "$GW6")" "IPv6 routes of eth0"
  assert_eq "$(ip -n "$ns" -6 route show "${SUB6}:/64" exact)" "" "prefix route"

  local k
  for k in accept_ra autoconf accept_dad accept_redirects addr_gen_mode disable_ipv6; do
    assert_eq "$(ip netns exec "$ns" cat "/proc/sys/net/ipv6/conf/eth0/$k")" 0 "eth0 $k"
  done

  # The record and the allocation file.
  assert_jq "$(cat "$(record_of c1)")" '.address6 == $a and .gateway6 == $g' \
    --arg a "$ip6/64" --arg g "$GW6"
  assert_eq "$(cat "$MOAT_RUN_DIR/$NET/ipam/$ip6")" "$(cid_of c1)@eth0" "IPv6 allocation file"
}

@test "dual stack ADD: the CNI result has both IPs and ::/0, in every version's shape; CHECK passes" {
  local v ip4 ip6
  for v in 0.4.0 1.0.0 1.1.0; do
    conf_set '.cniVersion = $v' --arg v "$v"
    add_container "c${v//./}"
    ip4=$(ip_of "c${v//./}")
    ip6=$(ip6_of "c${v//./}")
    if [[ $v == 0.4.0 ]]; then
      assert_jq "$(result_of "c${v//./}")" '.ips | length == 2 and .[0].version == "4"
        and .[1] == {version: "6", address: ($a + "/64"), gateway: $g, interface: 2}' \
        --arg a "$ip6" --arg g "$GW6"
    else
      assert_jq "$(result_of "c${v//./}")" '.ips | length == 2 and (.[0] | has("version") | not)
        and .[1] == {address: ($a + "/64"), gateway: $g, interface: 2}' \
        --arg a "$ip6" --arg g "$GW6"
    fi
    assert_jq "$(result_of "c${v//./}")" '.cniVersion == $v and .routes ==
      [{dst: "0.0.0.0/0", gw: $g4}, {dst: "::/0", gw: $g6}]' \
      --arg v "$v" --arg g4 "$GW" --arg g6 "$GW6"
    CNI_CONF=$(conf_with_prev "$(result_of "c${v//./}")") run -0 cni CHECK "$(cid_of "c${v//./}")" "$(ns_of "c${v//./}")"
  done
  # Two containers, two addresses.
  [[ $(ip6_of c040) != "$(ip6_of c100)" ]] || fail "one IPv6 address twice"
}

@test "dual stack bridge: IPv6 on, gateway nodad and link-local valid at once, no multicast snooping; host ends keep IPv6 off" {
  add_container c1
  local k
  assert_eq "$(cat "/proc/sys/net/ipv6/conf/$BR/disable_ipv6")" 0 "disable_ipv6 on $BR"
  for k in accept_dad accept_ra accept_redirects addr_gen_mode; do
    assert_eq "$(cat "/proc/sys/net/ipv6/conf/$BR/$k")" 0 "$k on $BR"
  done
  assert_jq "$(ip -j -6 addr show dev "$BR")" '[.[0].addr_info[] | select(.scope == "global")]
    | length == 1 and .[0].local == $g and .[0].prefixlen == 64 and .[0].nodad == true
      and (.[0].tentative // false) == false' --arg g "$GW6"
  assert_jq "$(ip -j -6 addr show dev "$BR")" '[.[0].addr_info[] | select(.scope == "link")]
    | length == 1 and (.[0].tentative // false) == false'
  assert_jq "$(ip -j -d link show dev "$BR")" '.[0].linkinfo.info_data.mcast_snooping == 0'
  assert_eq "$(cat "/proc/sys/net/ipv6/conf/$(hostif_of c1)/disable_ipv6")" 1 \
    "disable_ipv6 on the host end"
  assert_eq "$(ip -6 -o addr show dev "$(hostif_of c1)")" "" "IPv6 addresses of the host end"
  # IPv6 forwarding was 1 and stays 1: never written.
  assert_eq "$(cat "/proc/sys/net/ipv6/conf/$BR/forwarding")" 1 "forwarding on $BR"
}

@test "IPv4 network beside: its bridge keeps disable_ipv6=1, its container no global IPv6, one IP" {
  conf_set 'del(.subnet6)'
  add_container c1
  assert_eq "$(cat "/proc/sys/net/ipv6/conf/$BR/disable_ipv6")" 1 "disable_ipv6 on $BR"
  assert_jq "$(result_of c1)" '(.ips | length) == 1 and (.routes | length) == 1'
  assert_jq "$(cat "$(record_of c1)")" 'has("address6") | not'
  assert_eq "$(ip -n "$(ns_of c1)" -6 -o addr show scope global)" "" "global IPv6 in c1"
}

# The conntrack entries (of this namespace) that name an IPv6 address.
ct6_count() {
  local full
  full=$(python3 -c 'import ipaddress, sys; print(ipaddress.ip_address(sys.argv[1]).exploded)' "$1")
  grep -c -- "=$full " /proc/net/nf_conntrack || true
}

@test "DEL removes the IPv6 side: the allocation file, its flows; the kept bridge holds only the gateway; a second DEL succeeds" {
  local before ip6
  [[ -r /proc/net/nf_conntrack ]] || fail "no /proc/net/nf_conntrack (CONFIG_NF_CONNTRACK_PROCFS)"
  before=$(moat_links)
  add_container c1
  add_container c2
  ip6=$(ip6_of c1)
  [[ -f $MOAT_RUN_DIR/$NET/ipam/$ip6 ]] || fail "no IPv6 allocation file"
  # A flow naming the address: the host's echo request (no answer comes
  # back yet, its conntrack entry is made all the same).
  ping -6 -c1 -W1 "$ip6" >/dev/null 2>&1 || true
  [[ $(ct6_count "$ip6") -ge 1 ]] || fail "no conntrack entry for $ip6 to forget"
  del_container c1
  assert_eq "$(ct6_count "$ip6")" 0 "conntrack entries naming $ip6 after DEL"
  [[ ! -e $MOAT_RUN_DIR/$NET/ipam/$ip6 ]] || fail "IPv6 allocation file left after DEL"
  assert_eq "$(ls "$MOAT_RUN_DIR/$NET/ipam" | grep -c : || true)" 1 "IPv6 files (c2's)"
  del_container c1
  del_container c2
  assert_nothing_left "$before" "$(ns_of c1)" "$(ns_of c2)"
  [[ ! -e $MOAT_RUN_DIR/$NET ]] || fail "state directory left: $(ls -R "$MOAT_RUN_DIR/$NET")"
  # The last DEL keeps the bridge (docs/design.md, "What the last container
  # leaves"): its gateway is the only address of the subnet left.
  assert_eq "$(ip -6 -o addr show | grep -F "$SUB6" | grep -v "^[0-9]*: $BR " || true)" "" \
    "addresses of $SUB6 on the host but the kept bridge's"
}

@test "CHECK: a removed IPv6 address or default route is drift (104); a prevResult without it too" {
  add_container c1
  local ip6 ns prev
  ip6=$(ip6_of c1)
  ns=$(ns_of c1)
  prev=$(result_of c1)
  CNI_CONF=$(conf_with_prev "$(jq -c 'del(.ips[1])' <<<"$prev")") run cni CHECK "$(cid_of c1)" "$ns"
  assert_cni_error 104 "prevResult: IPv6 address $ip6/64 missing"
  ip -n "$ns" -6 route del default via "$GW6" dev eth0
  CNI_CONF=$(conf_with_prev "$prev") run cni CHECK "$(cid_of c1)" "$ns"
  assert_cni_error 104 "IPv6 default route via $GW6 missing"
  ip -n "$ns" -6 addr del "$ip6/64" dev eth0
  CNI_CONF=$(conf_with_prev "$prev") run cni CHECK "$(cid_of c1)" "$ns"
  assert_cni_error 104 "address $ip6/64 missing"
}

@test "DEL without record (an ADD that died before it) releases the IPv6 allocation by owner" {
  add_container c1
  local ip6
  ip6=$(ip6_of c1)
  rm "$(record_of c1)"
  CNI_CONF=$MOAT_CONF run -0 cni DEL "$(cid_of c1)" "$(ns_of c1)"
  [[ ! -e $MOAT_RUN_DIR/$NET/ipam/$ip6 ]] || fail "IPv6 allocation file left"
}

@test "GC: a removed attachment's IPv6 address and a stray IPv6 allocation go; a listed one's stays" {
  add_container c1
  add_container c2
  local ghost=${SUB6}:77 ip6_1 ip6_2
  ip6_1=$(ip6_of c1)
  ip6_2=$(ip6_of c2)
  printf 'ghost@eth0\n' >"$MOAT_RUN_DIR/$NET/ipam/$ghost"
  CNI_CONF=$(jq -c --arg c "$(cid_of c1)" '. + {"cni.dev/valid-attachments": [{containerID: $c, ifname: "eth0"}]}' \
    <<<"$MOAT_CONF") run -0 cni GC
  [[ -f $MOAT_RUN_DIR/$NET/ipam/$ip6_1 ]] || fail "c1's IPv6 allocation went"
  [[ ! -e $MOAT_RUN_DIR/$NET/ipam/$ip6_2 ]] || fail "c2's IPv6 allocation stayed"
  [[ ! -e $MOAT_RUN_DIR/$NET/ipam/$ghost ]] || fail "the stray IPv6 allocation stayed"
}

@test "forwarding off: ADD is refused with 7 naming the sysctl, nothing made; STATUS says 50" {
  local before
  add_container c0 # the network exists already: the refusal leaves it as it was
  before=$(moat_links)
  sysctl -qw net.ipv6.conf.all.forwarding=0
  new_netns c1
  run cni ADD "$(cid_of c1)" "$(ns_of c1)"
  assert_cni_error 7 "net.ipv6.conf.all.forwarding" "sysctl -w net.ipv6.conf.all.forwarding=1"
  assert_eq "$(jq -r .msg <<<"$output" | wc -l)" 1 "lines of the message"
  assert_eq "$(new_moat_links "$before")" "" "new moat host links"
  assert_eq "$(ip -n "$(ns_of c1)" -o link show | grep -cv ': lo:' || true)" 0 "links in c1's netns"
  [[ ! -e $(record_of c1) ]] || fail "record of c1 left"
  assert_eq "$(ls "$MOAT_RUN_DIR/$NET/ipam" | grep -v '^last$' | sort)" \
    "$(printf '%s\n%s' "$(ip_of c0)" "$(ip6_of c0)" | sort)" "allocation files"
  assert_eq "$(forwarding)" 0 "forwarding (moat does not write it)"
  run cni STATUS
  assert_cni_error 50 "net.ipv6.conf.all.forwarding"

  # And on a network that does not exist yet: no bridge either (the last
  # DEL keeps it; moatctl teardown takes it).
  del_container c0
  run -0 "$MOAT_BUILD/moatctl" teardown
  link_gone "$BR" || fail "bridge left after moatctl teardown"
  run cni ADD "$(cid_of c1)" "$(ns_of c1)"
  assert_cni_error 7 "net.ipv6.conf.all.forwarding"
  link_gone "$BR" || fail "bridge made by a refused ADD"
  [[ ! -e $MOAT_RUN_DIR/$NET/ipam ]] || fail "ipam directory made by a refused ADD"
  # An IPv4 network does not care.
  conf_set 'del(.subnet6)'
  add_container c2
}

@test "bad subnet6/gateway6: 7 naming the key, nothing made" {
  local before bad msg
  before=$(moat_links)
  new_netns c1
  while IFS='#' read -r bad msg; do
    CNI_CONF=$(jq -c "$bad" <<<"$MOAT_CONF") run cni ADD "$(cid_of c1)" "$(ns_of c1)"
    assert_cni_error 7 "$msg"
  done <<EOF2
.subnet6 = "fd00:1::/48"#subnet6: prefix /48 not supported (only /64)
.subnet6 = "fd00:1::5"#subnet6: "fd00:1::5" is not an IPv6 CIDR
.subnet6 = "fd00:1::5/64"#subnet6: "fd00:1::5/64" has host bits set
.subnet6 = "fe80::/64"#subnet6: "fe80::/64" is not a unicast prefix
.gateway6 = "fd00:2::1"#gateway6: fd00:2::1 is not a host address of subnet6
.gateway6 = "10.0.0.1"#gateway6: "10.0.0.1" is not an IPv6 address
del(.subnet6) | .gateway6 = "fd00:2::1"#gateway6: needs "subnet6"
.subnet = "240.0.0.0/16"#subnet: "240.0.0.0/16" overlaps 240.0.0.0/4
EOF2
  assert_nothing_left "$before" "$(ns_of c1)"
  [[ ! -e $MOAT_RUN_DIR/$NET ]] || fail "state directory made"
}

@test "requested IPv6 address (args.cni.ips, as CRI asks): given; the same again is 102, nothing made" {
  local want=${SUB6}:abc before
  conf_set '.args = {cni: {ips: [$a]}}' --arg a "$want"
  add_container c1
  assert_eq "$(ip6_of c1)" "$want" "requested IPv6 address"
  assert_jq "$(addr6_json "$(ns_of c1)")" '[.[0].addr_info[] | select(.scope == "global")][0].local == $a' \
    --arg a "$want"
  before=$(moat_links)
  new_netns c2
  run cni ADD "$(cid_of c2)" "$(ns_of c2)"
  assert_cni_error 102 "address $want is already in use"
  assert_eq "$(new_moat_links "$before")" "" "new moat host links"
  [[ ! -e $(record_of c2) ]] || fail "record of c2 left"
  assert_eq "$(ls "$MOAT_RUN_DIR/$NET/ipam" | grep -v '^last$' | wc -l)" 2 "allocation files (c1's two)"

  # Outside subnet6: 7.
  CNI_CONF=$(jq -c '.args.cni.ips = ["fd00:ffff::5"]' <<<"$MOAT_CONF") run cni ADD "$(cid_of c2)" "$(ns_of c2)"
  assert_cni_error 7 "ips: fd00:ffff::5 is outside subnet6"
}

@test "delegated IPAM host-local with both families: the IPv6 address is the plugin's; DEL releases both" {
  local data=$T/ipam-data ip4 ip6
  mkdir -p "$data"
  conf_set 'del(.subnet) | .cniVersion = "1.0.0" | .ipam = {type: "host-local", dataDir: $d,
              ranges: [[{subnet: $s, gateway: $g}], [{subnet: $s6, gateway: $g6}]]}' \
    --arg d "$data" --arg s "$SUBNET" --arg g "$GW" --arg s6 "${SUB6}:/64" --arg g6 "$GW6"
  add_container c1
  ip4=$(ip_of c1)
  ip6=$(ip6_of c1)
  [[ -f $data/$NET/$ip6 ]] || fail "host-local has no file for $ip6: $(ls -R "$data")"
  [[ ! -e $MOAT_RUN_DIR/$NET/ipam/$ip6 ]] || fail "built-in allocator used as well"
  assert_jq "$(addr6_json "$(ns_of c1)")" '[.[0].addr_info[] | select(.scope == "global")][0].local == $a' \
    --arg a "$ip6"
  assert_jq "$(cat "$(record_of c1)")" '.address6 == ($a + "/64") and .gateway6 == $g' \
    --arg a "$ip6" --arg g "$GW6"
  del_container c1
  [[ ! -e $data/$NET/$ip4 && ! -e $data/$NET/$ip6 ]] || fail "host-local still holds an address: $(ls "$data/$NET")"
}

@test "delegated IPAM with IPv4 only on a dual-stack network: the IPv6 address is the built-in allocator's" {
  local data=$T/ipam-data ip6
  mkdir -p "$data"
  conf_set 'del(.subnet) | .cniVersion = "1.0.0" | .ipam = {type: "host-local", dataDir: $d,
              ranges: [[{subnet: $s, gateway: $g}]]}' --arg d "$data" --arg s "$SUBNET" --arg g "$GW"
  add_container c1
  ip6=$(ip6_of c1)
  assert_eq "$ip6" "$(ip6_for "$(ip_of c1)")" "IPv6 address"
  [[ -f $MOAT_RUN_DIR/$NET/ipam/$ip6 ]] || fail "no built-in IPv6 allocation file"
  del_container c1
  [[ ! -e $MOAT_RUN_DIR/$NET/ipam/$ip6 ]] || fail "IPv6 allocation file left after DEL"
}

@test "hook-driven attach on a dual-stack network: the container's IPv6 side is made under the hook's confinement" {
  runc_setup
  local netdir=$T/networks ip6 pid
  mkdir -p "$netdir"
  jq --arg n "$NET" '. + {cniVersion: "1.0.0", name: $n}' <<<"$MOAT_CONF" >"$netdir/50-moat.conf"
  export CTR_NETNS=new
  export CTR_HOOK_ENV="MOAT_NETWORK_DIRS=$netdir"
  ctr_start a "io.moat.network=$NET"
  ip6=$(jq -er '.address6 | split("/")[0]' "$(record_of a)") || fail "no address6 in a's record"
  pid=$(ctr_pid a)
  assert_jq "$(nsenter -t "$pid" -n ip -j -6 addr show dev eth0)" \
    '[.[0].addr_info[] | select(.scope == "global")] | length == 1 and .[0].local == $a
      and .[0].nodad == true and (.[0].tentative // false) == false' --arg a "$ip6"
  assert_eq "$(nsenter -t "$pid" -n cat /proc/sys/net/ipv6/conf/eth0/accept_ra)" 0 "accept_ra in a"
  assert_contains "$(nsenter -t "$pid" -n ip -6 route show default)" "default via $GW6 dev eth0" \
    "IPv6 default route in a"
}
