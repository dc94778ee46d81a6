#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2010 # jq programs in single quotes; ls of address files
# The CNI verbs in every supported version, and what ADD, CHECK and DEL do
# to the kernel and the state directory.

load helpers

setup() { setup_moat_net; }
teardown() { teardown_moat_net; }

@test "VERSION answers in the version asked and lists every supported version" {
  local v
  for v in "${CNI_VERSIONS[@]}"; do
    CNI_CONF="{\"cniVersion\":\"$v\"}" run -0 cni VERSION
    assert_jq "$output" '.cniVersion == $v' --arg v "$v"
    assert_jq "$output" '.supportedVersions == ["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]'
  done
  # No version asked: the newest.
  CNI_CONF='{}' run -0 cni VERSION
  assert_jq "$output" '.cniVersion == "1.1.0" and (.supportedVersions | length) == 5'
}

# ADD, CHECK, GC, STATUS and DEL in cniVersion $1, with the result's shape.
verbs_in_version() {
  local v=$1 res cid ns valid
  conf_set '.cniVersion = $v' --arg v "$v"
  add_container c1
  res=$(result_of c1)
  cid=$(cid_of c1)
  ns=$(ns_of c1)

  assert_jq "$res" '.cniVersion == $v' --arg v "$v"
  assert_jq "$res" '(.interfaces | length) == 3'
  assert_jq "$res" '.interfaces[0].name == $br' --arg br "$BR"
  assert_jq "$res" '.interfaces[1].name | test("^mt[0-9a-f]{13}$")'
  assert_jq "$res" '.interfaces[1] | has("sandbox") | not'
  assert_jq "$res" '.interfaces[2].name == "eth0" and .interfaces[2].sandbox == $p' \
    --arg p "/run/netns/$ns"
  assert_jq "$res" '[.interfaces[].mac | test("^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")] | all'
  assert_jq "$res" '(.ips | length) == 1 and .ips[0].interface == 2'
  assert_jq "$res" '.ips[0].gateway == $gw' --arg gw "$GW"
  assert_jq "$res" '.ips[0].address | startswith($p) and endswith("/24")' --arg p "$NETPFX."
  assert_jq "$res" '.routes | any(.dst == "0.0.0.0/0" and .gw == $gw)' --arg gw "$GW"
  if [[ $v == 0.* ]]; then # the 0.x result schema has ips[].version
    assert_jq "$res" '.ips | all(.version == "4")'
  else
    assert_jq "$res" '.ips | all(has("version") | not)'
  fi

  CNI_CONF=$(conf_with_prev "$res") run cni CHECK "$cid" "$ns"
  if [[ $v == 0.3.* ]]; then
    assert_cni_error 1
  else
    assert_eq "$status" 0 "CHECK status (output: $output)"
    assert_eq "$output" "" "CHECK output"
  fi

  valid=$(jq -nc --arg c "$cid" '[{containerID: $c, ifname: "eth0"}]')
  CNI_CONF=$(jq -c --argjson a "$valid" '. + {"cni.dev/valid-attachments": $a}' <<<"$MOAT_CONF") \
    run cni GC
  if [[ $v == 1.1.0 ]]; then
    assert_eq "$status" 0 "GC status (output: $output)"
    assert_eq "$output" "" "GC output"
  else
    assert_cni_error 1
  fi
  [[ -f $(record_of c1) ]] || fail "GC removed a listed attachment"
  link_exists "$(hostif_of c1)" || fail "GC removed a listed host end"

  run cni STATUS
  if [[ $v == 1.1.0 ]]; then
    assert_eq "$status" 0 "STATUS status (output: $output)"
    assert_eq "$output" "" "STATUS output"
  else
    assert_cni_error 1
  fi

  del_container c1
  link_gone "$(hostif_of c1)" || fail "host end still present after DEL"
  [[ ! -e $(record_of c1) ]] || fail "record still present after DEL"
}

@test "cniVersion 0.3.0: ADD result has ips[].version, CHECK/GC/STATUS refused, DEL" {
  verbs_in_version 0.3.0
}

@test "cniVersion 0.3.1: ADD result has ips[].version, CHECK/GC/STATUS refused, DEL" {
  verbs_in_version 0.3.1
}

@test "cniVersion 0.4.0: ADD result has ips[].version, CHECK, DEL; GC/STATUS refused" {
  verbs_in_version 0.4.0
}

@test "cniVersion 1.0.0: ADD, CHECK, DEL; GC/STATUS refused" {
  verbs_in_version 1.0.0
}

@test "cniVersion 1.1.0: ADD, CHECK, GC, STATUS, DEL" {
  verbs_in_version 1.1.0
}

@test "ADD: bridge up with the gateway, proxy_arp, isolated port, host forwarding untouched" {
  local fwd_before hostif
  fwd_before=$(cat /proc/sys/net/ipv4/ip_forward)
  add_container c1
  hostif=$(hostif_of c1)

  assert_jq "$(ip -j link show dev "$BR")" '.[0].flags | index("UP") != null'
  assert_jq "$(ip -j -d link show dev "$BR")" '.[0].linkinfo.info_kind == "bridge"'
  assert_jq "$(ip -j -4 addr show dev "$BR")" \
    '[.[0].addr_info[] | "\(.local)/\(.prefixlen)"] | index($a) != null' --arg a "$GW/24"
  assert_eq "$(cat "/proc/sys/net/ipv4/conf/$BR/proxy_arp")" 1 "proxy_arp"
  assert_eq "$(cat "/proc/sys/net/ipv4/conf/$BR/proxy_arp_pvlan")" 1 "proxy_arp_pvlan"
  assert_eq "$(cat "/proc/sys/net/ipv4/conf/$BR/forwarding")" 1 "bridge forwarding"
  assert_eq "$(cat /proc/sys/net/ipv4/ip_forward)" "$fwd_before" "host ip_forward"

  assert_eq "$(bridge_ports "$BR")" "$hostif" "bridge ports"
  assert_jq "$(ip -j link show dev "$hostif")" '.[0].flags | index("UP") != null'
  assert_contains "$(bridge -d link show dev "$hostif")" "isolated on" "bridge -d link"
}

@test "ADD: container side has the address, the default route and lo up" {
  local ns ip mac
  add_container c1
  ns=$(ns_of c1)
  ip=$(ip_of c1)
  mac=$(mac_of c1)

  assert_jq "$(ip -n "$ns" -j link show dev eth0)" '.[0].flags | index("UP") != null'
  assert_jq "$(ip -n "$ns" -j link show dev eth0)" '.[0].address == $m' --arg m "$mac"
  assert_jq "$(ip -n "$ns" -j -4 addr show dev eth0)" \
    '[.[0].addr_info[] | "\(.local)/\(.prefixlen)"] == [$a]' --arg a "$ip/24"
  assert_jq "$(ip -n "$ns" -j route show default)" \
    '. | length == 1 and .[0].gateway == $g and .[0].dev == "eth0"' --arg g "$GW"
  # new_netns leaves lo down, as a fresh namespace has it: ADD brings it up.
  assert_jq "$(ip -n "$ns" -j link show dev lo)" '.[0].flags | index("UP") != null'
}

@test "ADD: record, allocation file and nft elements" {
  local ip hostif mac rec
  add_container c1
  ip=$(ip_of c1)
  hostif=$(hostif_of c1)
  mac=$(mac_of c1)

  [[ -f $MOAT_RUN_DIR/$NET.lock ]] || fail "no lock file $MOAT_RUN_DIR/$NET.lock"
  rec=$(cat "$(record_of c1)")
  assert_jq "$rec" '.network == $n and .containerId == $c and .ifname == "eth0"' \
    --arg n "$NET" --arg c "$(cid_of c1)"
  assert_jq "$rec" '.netns == $p' --arg p "/run/netns/$(ns_of c1)"
  assert_jq "$rec" '.hostIf == $h and .bridge == $b and .mac == $m' \
    --arg h "$hostif" --arg b "$BR" --arg m "$mac"
  assert_jq "$rec" '.address == $a and .gateway == $g' --arg a "$ip/24" --arg g "$GW"
  assert_jq "$rec" '.cniVersion == "1.1.0" and .ipam == "builtin"'

  [[ -f $MOAT_RUN_DIR/$NET/ipam/$ip ]] || fail "no allocation file ipam/$ip"
  assert_contains "$(cat "$MOAT_RUN_DIR/$NET/ipam/$ip")" "$(cid_of c1)" "allocation owner"

  nft_has inet members "$BR . $ip" || fail "inet members lacks $BR . $ip"
  nft_has bridge guarded "$hostif" || fail "bridge guarded lacks $hostif"
  nft_has bridge ports "$hostif . $mac . $ip" || fail "bridge ports lacks $hostif . $mac . $ip"
  # Defaults: reject, no internet, no masquerade.
  ! nft_has inet quiet "$ip" || fail "quiet has $ip although reject is true"
  ! nft_has inet internet "$ip" || fail "internet has $ip by default"
  ! nft_has inet masq "$ip" || fail "masq has $ip by default"
}

@test "ADD: reject false, internet and masquerade add quiet, internet and masq elements" {
  local ip
  conf_set '. + {reject: false, internet: true, masquerade: true}'
  add_container c1
  ip=$(ip_of c1)
  nft_has inet quiet "$ip" || fail "quiet lacks $ip"
  nft_has inet internet "$ip" || fail "internet lacks $ip"
  nft_has inet masq "$ip" || fail "masq lacks $ip"

  del_container c1
  assert_eq "$(nft_elems_left_of_test)" "" "elements left after DEL"
}

@test "ADD: host end is mt + 13 hex digits, the same for the same container and ifname" {
  local first
  add_container c1
  first=$(hostif_of c1)
  assert_match "$first" '^mt[0-9a-f]{13}$' "host end"
  del_container c1
  run -0 cni ADD "$(cid_of c1)" "$(ns_of c1)"
  assert_jq "$output" '.interfaces[1].name == $h' --arg h "$first"
}

@test "ADD: gateway, mtu and labels from the config" {
  local ns rec
  conf_set '. + {gateway: $g, mtu: 1400, args: {cni: {labels: [{key: "app", value: "web"}]}}}' \
    --arg g "$NETPFX.254"
  add_container c1
  ns=$(ns_of c1)
  assert_jq "$(result_of c1)" '.ips[0].gateway == $g' --arg g "$NETPFX.254"
  assert_jq "$(ip -j -4 addr show dev "$BR")" \
    '[.[0].addr_info[] | .local] | index($g) != null' --arg g "$NETPFX.254"
  assert_jq "$(ip -n "$ns" -j route show default)" '.[0].gateway == $g' --arg g "$NETPFX.254"
  [[ $(ip_of c1) != "$NETPFX.254" ]] || fail "container got the gateway address"
  assert_jq "$(ip -n "$ns" -j link show dev eth0)" '.[0].mtu == 1400'
  assert_jq "$(ip -j link show dev "$(hostif_of c1)")" '.[0].mtu == 1400'
  rec=$(cat "$(record_of c1)")
  assert_jq "$rec" '.labels == {app: "web"}'
}

@test "CHECK: succeeds while the attachment is intact" {
  add_container c1
  CNI_CONF=$(conf_with_prev "$(result_of c1)") run -0 cni CHECK "$(cid_of c1)" "$(ns_of c1)"
  assert_eq "$output" "" "CHECK output"
}

@test "CHECK: a removed address is drift (104) naming the address" {
  local ip
  add_container c1
  ip=$(ip_of c1)
  ip -n "$(ns_of c1)" addr del "$ip/24" dev eth0
  CNI_CONF=$(conf_with_prev "$(result_of c1)") run cni CHECK "$(cid_of c1)" "$(ns_of c1)"
  assert_cni_error 104 "$ip"
}

@test "CHECK: a removed nft element is drift (104)" {
  add_container c1
  nft delete element bridge moat guarded "{ \"$(hostif_of c1)\" }"
  CNI_CONF=$(conf_with_prev "$(result_of c1)") run cni CHECK "$(cid_of c1)" "$(ns_of c1)"
  assert_cni_error 104
}

@test "CHECK: a missing host end is drift (104)" {
  add_container c1
  ip link del "$(hostif_of c1)"
  CNI_CONF=$(conf_with_prev "$(result_of c1)") run cni CHECK "$(cid_of c1)" "$(ns_of c1)"
  assert_cni_error 104
}

@test "CHECK: without prevResult is an invalid config (7)" {
  add_container c1
  run cni CHECK "$(cid_of c1)" "$(ns_of c1)"
  assert_cni_error 7 prevResult
}

@test "DEL: twice succeeds with no output" {
  add_container c1
  del_container c1
  del_container c1
  link_gone "$(hostif_of c1)" || fail "host end left"
}

@test "DEL: an interface name with '@' leaves no index entry behind" {
  add_container keep
  add_container c1 "e@0"
  local ids=$MOAT_RUN_DIR/$NET/ids/$(cid_of c1)
  [[ -f $ids/e@0 ]] || fail "no index entry $ids/e@0"
  CNI_CONF=$(conf_with_prev "$(result_of c1)") run -0 cni DEL "$(cid_of c1)" "$(ns_of c1)" "e@0"
  [[ ! -e $ids ]] || fail "index entries left: $(ls -A "$ids")"
  [[ ! -e $(record_of c1 "e@0") ]] || fail "record left"
  link_gone "$(hostif_of c1)" || fail "host end left"
}

@test "DEL: of a container never added succeeds" {
  new_netns c9
  run -0 cni DEL "$PFX-never" "$(ns_of c9)"
  assert_eq "$output" "" "DEL output"
}

@test "DEL: succeeds after the netns is gone and removes everything" {
  local ip hostif
  add_container c1
  ip=$(ip_of c1)
  hostif=$(hostif_of c1)
  ip netns del "$(ns_of c1)"
  del_container c1
  wait_for 5 link_gone "$hostif"
  [[ ! -e $(record_of c1) ]] || fail "record left"
  [[ ! -e $MOAT_RUN_DIR/$NET/ipam/$ip ]] || fail "allocation left"
  assert_eq "$(nft_elems_of c1)" "" "elements left"
}

@test "DEL: succeeds when CNI_NETNS is a stale file (the namespace was unmounted)" {
  local ns hostif
  add_container c1
  ns=$(ns_of c1)
  hostif=$(hostif_of c1)
  # What a runtime leaves when it unmounts the namespace but not the file.
  umount "/run/netns/$ns"
  [[ -f /run/netns/$ns ]] || fail "expected the unmounted namespace file to stay"
  del_container c1
  wait_for 5 link_gone "$hostif"
  [[ ! -e $(record_of c1) ]] || fail "record left"
  assert_eq "$(nft_elems_of c1)" "" "elements left"
  rm -f "/run/netns/$ns"
}

@test "DEL: succeeds with an empty CNI_NETNS and removes the host end" {
  local ip hostif
  add_container c1
  add_container c2
  ip=$(ip_of c1)
  hostif=$(hostif_of c1)
  CNI_CONF=$(conf_with_prev "$(result_of c1)") run -0 cni DEL "$(cid_of c1)" ""
  assert_eq "$output" "" "DEL output"
  link_gone "$hostif" || fail "host end $hostif left"
  [[ ! -e $(record_of c1) ]] || fail "record left"
  [[ ! -e $MOAT_RUN_DIR/$NET/ipam/$ip ]] || fail "allocation left"
  assert_eq "$(nft_elems_of c1)" "" "elements of c1 left"
  assert_eq "$(ip -n "$(ns_of c1)" -o link show | grep -c eth0 || true)" 0 "eth0 in the netns"
}

@test "DEL: the last one removes the state dir, keeps the bridge (no port) and the tables; moatctl teardown removes them" {
  local ctl=("$MOAT_BUILD/moatctl")
  add_container c1
  add_container c2
  del_container c1
  link_exists "$BR" || fail "bridge removed while c2 is attached"
  [[ -d $MOAT_RUN_DIR/$NET ]] || fail "state dir removed while c2 is attached"
  table_exists inet || fail "inet moat table removed while c2 is attached"
  run -1 "${ctl[@]}" teardown
  assert_contains "$output" "containers are attached"
  link_exists "$BR" || fail "teardown refused but took the bridge"
  table_exists inet || fail "teardown refused but took the tables"

  del_container c2
  [[ ! -e $MOAT_RUN_DIR/$NET ]] || fail "state dir left: $(ls -R "$MOAT_RUN_DIR/$NET")"
  link_exists "$BR" || fail "the last DEL removed the bridge"
  assert_eq "$(bridge_ports "$BR")" "" "ports left on the bridge"
  table_exists inet || fail "the last DEL removed inet moat"
  table_exists bridge || fail "the last DEL removed bridge moat"
  nft_has inet bridges "$BR" || fail "the bridge's element went without the bridge"
  assert_eq "$(nft_elems_left_of_test)" "" "elements left"
  # The next container takes them as they are.
  add_container c3
  assert_eq "$(bridge_ports "$BR")" "$(hostif_of c3)" "bridge ports"
  del_container c3

  if [[ -z $(all_records) ]] && [[ -z $(nft_elems bridge guarded) ]]; then
    run -0 "${ctl[@]}" teardown
    assert_contains "$output" "removed: bridge $BR"
    link_gone "$BR" || fail "teardown left the bridge"
    ! table_exists inet || fail "teardown left inet moat"
    ! table_exists bridge || fail "teardown left bridge moat"
    run -0 "${ctl[@]}" teardown
  fi
}

@test "DEL: the last one of a state directory keeps the tables while another directory's containers use them" {
  add_container c1
  second_network
  local default_run=$MOAT_RUN_DIR
  MOAT_RUN_DIR=$T/run2 MOAT_CONF=$MOAT_CONF2 add_container c2
  MOAT_RUN_DIR=$T/run2 MOAT_CONF=$MOAT_CONF2 del_container c2
  assert_eq "$MOAT_RUN_DIR" "$default_run" "run dir restored"
  [[ -z $(find "$T/run2" -name '*.json') ]] || fail "records left in $T/run2"
  table_exists inet || fail "inet moat removed while c1 (another state directory) is attached"
  table_exists bridge || fail "bridge moat removed while c1 (another state directory) is attached"
  [[ -n $(nft_elems_of c1) ]] || fail "c1's elements removed"
  CNI_CONF=$(conf_with_prev "$(result_of c1)") run -0 cni CHECK "$(cid_of c1)" "$(ns_of c1)"
}

@test "DEL: keepBridge keeps the bridge and the state dir; ADD reuses them" {
  conf_set '.keepBridge = true'
  add_container c1
  del_container c1
  link_exists "$BR" || fail "bridge removed despite keepBridge"
  [[ -d $MOAT_RUN_DIR/$NET ]] || fail "state dir removed despite keepBridge"
  assert_eq "$(network_records)" "" "records"
  add_container c2
  assert_eq "$(bridge_ports "$BR")" "$(hostif_of c2)" "bridge ports"
}

@test "ADD: a second interface in one namespace, on a second network, leaves the first default route" {
  second_network
  add_container c1
  local ns cid res2
  ns=$(ns_of c1)
  cid=$(cid_of c1)
  CNI_CONF=$MOAT_CONF2 run -0 cni ADD "$cid" "$ns" eth1
  res2=$output
  assert_jq "$res2" '.interfaces[2].name == "eth1"'
  # One default route, the first attachment's; eth1 reaches its own subnet.
  assert_match "$(ip -n "$ns" -4 route show default)" "^default via $GW dev eth0 *$"
  assert_contains "$(ip -n "$ns" -4 route show dev eth1)" "$NETPFX2.0/24"
  CNI_CONF=$(jq -c --argjson r "$(result_of c1)" '. + {prevResult: $r}' <<<"$MOAT_CONF") \
    run -0 cni CHECK "$cid" "$ns"
  CNI_CONF=$(jq -c --argjson r "$res2" '. + {prevResult: $r}' <<<"$MOAT_CONF2") \
    run -0 cni CHECK "$cid" "$ns" eth1
  CNI_CONF=$(jq -c --argjson r "$res2" '. + {prevResult: $r}' <<<"$MOAT_CONF2") \
    run -0 cni DEL "$cid" "$ns" eth1
  bridge_left_empty "$BR2" || fail "ports left on $BR2"
  del_container c1
}

@test "two networks on one bridge: the same container id on both, and the last DEL of one keeps the other's bridge" {
  second_network
  # The second network shares the first one's bridge.
  MOAT_CONF2=$(jq -c --arg br "$BR" '.bridge = $br' <<<"$MOAT_CONF2")
  add_container c1
  local cid ns res2
  cid=$(cid_of c1)
  ns=$(ns_of c1)
  CNI_CONF=$MOAT_CONF2 run -0 cni ADD "$cid" "$ns" eth1
  res2=$output
  assert_jq "$res2" '.interfaces[1].name != $h' --arg h "$(hostif_of c1)"
  CNI_CONF=$(jq -c --argjson r "$res2" '. + {prevResult: $r}' <<<"$MOAT_CONF2") \
    run -0 cni DEL "$cid" "$ns" eth1
  link_exists "$BR" || fail "the second network's last DEL took the first network's bridge"
  CNI_CONF=$(conf_with_prev "$(result_of c1)") run -0 cni CHECK "$cid" "$ns"
  # GC of the second network must not take the first network's port.
  CNI_CONF=$(jq -c '. + {"cni.dev/valid-attachments": []}' <<<"$MOAT_CONF2") run -0 cni GC
  link_exists "$(hostif_of c1)" || fail "GC of one network took another network's port"
  del_container c1
  bridge_left_empty "$BR" || fail "ports left on $BR after the last DEL of both networks"
}

@test "DEL: removes every element naming the container, thousands of them too" {
  add_container c1
  local ip k
  ip=$(ip_of c1)
  # 3,000 peer grants naming c1 (as moatctl grant ... peer makes them),
  # more than one netlink message holds.
  {
    printf 'add element inet moat grant_peer { '
    for k in $(seq 0 2999); do
      printf '%s . 10.255.%d.%d, ' "$ip" $((k / 250)) $((k % 250 + 1))
    done
    printf '%s . 10.255.99.1 }\n' "$ip"
  } >"$T/peers.nft"
  nft -f "$T/peers.nft"
  assert_eq "$(nft list set inet moat grant_peer | grep -o "$ip \. " | wc -l)" 3001 "peers loaded"
  del_container c1
  assert_eq "$(nft list set inet moat grant_peer 2>/dev/null | grep -o "$ip \. " | wc -l)" 0 "peers left"
}
