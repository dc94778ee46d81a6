#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2010 # jq programs in single quotes; ls of address files
# Addresses: the built-in allocator, requested addresses and MACs, an
# exhausted pool, and delegated IPAM (host-local).

load helpers

setup() { setup_moat_net; }
teardown() { teardown_moat_net; }

@test "built-in allocator: distinct host addresses, never the gateway, network or broadcast" {
  # (not "i": bats' run clobbers it)
  local k ip all=()
  for k in 1 2 3 4 5; do
    add_container "c$k"
    ip=$(ip_of "c$k")
    assert_match "$ip" "^${NETPFX//./\\.}\\.([0-9]+)$" "address of c$k"
    [[ $ip != "$GW" && $ip != "$NETPFX.0" && $ip != "$NETPFX.255" ]] ||
      fail "c$k got $ip"
    [[ -f $MOAT_RUN_DIR/$NET/ipam/$ip ]] || fail "no allocation file for $ip"
    all+=("$ip")
  done
  assert_eq "$(printf '%s\n' "${all[@]}" | sort -u | wc -l)" 5 "distinct addresses"
}

@test "exhausted /30: ADD fails with 102, leaves nothing, STATUS says 50; DEL frees the address" {
  local before first
  conf_set '.subnet = $s' --arg s "$NETPFX.0/30"
  add_container c1
  first=$(ip_of c1)
  assert_eq "$first" "$NETPFX.2" "the only host address of the /30"
  before=$(moat_links)

  new_netns c2
  run cni ADD "$(cid_of c2)" "$(ns_of c2)"
  assert_cni_error 102
  assert_eq "$(new_moat_links "$before")" "" "new moat host links"
  assert_eq "$(ip -n "$(ns_of c2)" -o link show | grep -cv ': lo:' || true)" 0 "links in c2's netns"
  [[ ! -e $(record_of c2) ]] || fail "record of c2 left"
  assert_eq "$(bridge_ports "$BR")" "$(hostif_of c1)" "bridge ports"
  assert_eq "$(ls "$MOAT_RUN_DIR/$NET/ipam" | grep -v '^last$' || true)" "$first" "allocation files"
  CNI_CONF=$(conf_with_prev "$(result_of c1)") run -0 cni CHECK "$(cid_of c1)" "$(ns_of c1)"

  run cni STATUS
  assert_cni_error 50

  del_container c1
  run -0 cni STATUS
  run -0 cni ADD "$(cid_of c2)" "$(ns_of c2)"
  assert_jq "$output" '.ips[0].address == $a' --arg a "$first/30"
}

@test "runtimeConfig ips: the requested address is given; the same again is 102" {
  conf_set '.runtimeConfig = {ips: [$a]}' --arg a "$NETPFX.9/24"
  add_container c1
  assert_eq "$(ip_of c1)" "$NETPFX.9" "requested address"
  assert_jq "$(ip -n "$(ns_of c1)" -j -4 addr show dev eth0)" \
    '.[0].addr_info[0].local == $a' --arg a "$NETPFX.9"

  local before
  before=$(moat_links)
  new_netns c2
  run cni ADD "$(cid_of c2)" "$(ns_of c2)"
  assert_cni_error 102
  assert_eq "$(new_moat_links "$before")" "" "new moat host links"
  [[ ! -e $(record_of c2) ]] || fail "record of c2 left"
  assert_eq "$(bridge_ports "$BR")" "$(hostif_of c1)" "bridge ports"
}

@test "runtimeConfig mac: the container end gets it, and the port element carries it" {
  local mac=02:00:5e:10:20:30
  conf_set '.runtimeConfig = {mac: $m}' --arg m "$mac"
  add_container c1
  assert_eq "$(mac_of c1)" "$mac" "result mac"
  assert_jq "$(ip -n "$(ns_of c1)" -j link show dev eth0)" '.[0].address == $m' --arg m "$mac"
  assert_jq "$(cat "$(record_of c1)")" '.mac == $m' --arg m "$mac"
  nft_has bridge ports "$(hostif_of c1) . $mac . $(ip_of c1)" || fail "ports element lacks $mac"
}

@test "delegated IPAM host-local: ADD takes its address, DEL releases it" {
  local data=$T/ipam-data ip
  mkdir -p "$data"
  # Debian's host-local (plugins 1.1.1) speaks CNI up to 1.0.0.
  conf_set 'del(.subnet) | .cniVersion = "1.0.0" | .ipam = {type: "host-local", dataDir: $d,
              ranges: [[{subnet: $s, gateway: $g}]], routes: [{dst: "0.0.0.0/0"}]}' \
    --arg d "$data" --arg s "$SUBNET" --arg g "$GW"
  add_container c1
  ip=$(ip_of c1)
  assert_match "$ip" "^${NETPFX//./\\.}\\." "address from host-local"
  [[ -f $data/$NET/$ip ]] || fail "host-local has no file for $ip: $(ls -R "$data")"
  assert_contains "$(cat "$data/$NET/$ip")" "$(cid_of c1)" "host-local owner"
  assert_jq "$(cat "$(record_of c1)")" '.ipam == "host-local"'
  assert_jq "$(ip -n "$(ns_of c1)" -j -4 addr show dev eth0)" \
    '.[0].addr_info[0].local == $a' --arg a "$ip"
  nft_has inet members "$BR . $ip" || fail "inet members lacks $BR . $ip"
  [[ ! -e $MOAT_RUN_DIR/$NET/ipam/$ip ]] || fail "built-in allocator used as well"

  add_container c2
  [[ $(ip_of c2) != "$ip" ]] || fail "host-local gave $ip twice"

  del_container c1
  [[ ! -e $data/$NET/$ip ]] || fail "host-local still holds $ip after DEL"
  [[ -e $data/$NET/$(ip_of c2) ]] || fail "DEL of c1 released c2's address"
  del_container c2
  [[ ! -e $data/$NET/$(ip_of c2) ]] || fail "host-local still holds c2's address after DEL"
}

@test "delegated IPAM that is not installed: ADD fails and leaves nothing" {
  local before
  before=$(moat_links)
  conf_set 'del(.subnet) | .ipam = {type: "no-such-ipam-plugin"}'
  new_netns c1
  run cni ADD "$(cid_of c1)" "$(ns_of c1)"
  [[ $status -ne 0 ]] || fail "ADD succeeded: $output"
  assert_jq "$output" '(.code | type) == "number" and (.msg | length) > 0'
  assert_nothing_left "$before" "$(ns_of c1)"
}
