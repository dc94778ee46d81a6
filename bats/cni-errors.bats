#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2010 # jq programs in single quotes; ls of address files
# Bad input: each case gets the right CNI error code, a message naming the
# culprit, and leaves nothing behind (no bridge, no links, no record, no
# nft element).

load helpers

setup() {
  setup_moat_net
  new_netns c1
  NS1=$(ns_of c1)
  CID1=$(cid_of c1)
  LINKS_BEFORE=$(moat_links)
}
teardown() { teardown_moat_net; }

# ADD with the current config must fail with CODE naming MSG_PARTS, and
# leave nothing.
add_fails() { # CODE [MSG_PART...]
  run cni ADD "$CID1" "$NS1"
  assert_cni_error "$@"
  assert_nothing_left "$LINKS_BEFORE" "$NS1"
}

@test "malformed JSON: code 6" {
  CNI_CONF='{"cniVersion": "1.1.0", "name": ' run cni ADD "$CID1" "$NS1"
  assert_cni_error 6 "JSON"
  assert_nothing_left "$LINKS_BEFORE" "$NS1"
}

@test "empty stdin: code 6" {
  CNI_CONF=' ' run cni ADD "$CID1" "$NS1"
  assert_cni_error 6
  assert_nothing_left "$LINKS_BEFORE" "$NS1"
}

@test "unknown cniVersion 9.9.9: code 1 naming it" {
  conf_set '.cniVersion = "9.9.9"'
  add_fails 1 "9.9.9"
}

@test "subnet with prefix /33: code 7 naming subnet" {
  conf_set '.subnet = "10.1.0.0/33"'
  add_fails 7 subnet
}

@test "subnet that is not an address: code 7 naming subnet" {
  conf_set '.subnet = "ten.one/24"'
  add_fails 7 subnet
}

@test "subnet prefix outside 8..30: code 7 naming subnet" {
  conf_set '.subnet = $s' --arg s "$NETPFX.0/31"
  add_fails 7 subnet
}

@test "no subnet and no ipam: code 7 naming subnet" {
  conf_set 'del(.subnet)'
  add_fails 7 subnet
}

@test "bridge name longer than 15 characters: code 7 naming bridge" {
  conf_set '.bridge = $b' --arg b "${PFX}abcdefghijklm"
  add_fails 7 bridge
}

@test "bridge name with a slash: code 7 naming bridge" {
  conf_set '.bridge = "mx/br"'
  add_fails 7 bridge
}

@test "gateway outside the subnet: code 7 naming gateway" {
  conf_set '.gateway = "192.0.2.1"'
  add_fails 7 gateway
}

@test "reject that is not a boolean: code 7 naming reject" {
  conf_set '.reject = "yes"'
  add_fails 7 reject
}

@test "mtu that is not a number: code 7 naming mtu" {
  conf_set '.mtu = "big"'
  add_fails 7 mtu
}

@test "missing network name: code 7 naming name" {
  conf_set 'del(.name)'
  run cni ADD "$CID1" "$NS1"
  assert_cni_error 7 name
  link_gone "$BR" || fail "bridge created"
  assert_eq "$(nft_elems_of_test)" "" "elements"
  assert_eq "$(new_moat_links "$LINKS_BEFORE")" "" "new moat host links"
}

@test "unknown keys are ignored" {
  conf_set '. + {someFutureKey: {"x": 1}, "io.example/flag": true}'
  run -0 cni ADD "$CID1" "$NS1"
  assert_jq "$output" '.ips[0].address | startswith($p)' --arg p "$NETPFX."
}

@test "missing CNI_CONTAINERID: code 4 naming it" {
  CNI_OMIT=CNI_CONTAINERID run cni ADD "$CID1" "$NS1"
  assert_cni_error 4 CNI_CONTAINERID
  assert_nothing_left "$LINKS_BEFORE" "$NS1"
}

@test "invalid CNI_CONTAINERID: code 4 naming it" {
  run cni ADD "../$PFX" "$NS1"
  assert_cni_error 4 CNI_CONTAINERID
  assert_nothing_left "$LINKS_BEFORE" "$NS1"
}

@test "missing CNI_IFNAME: code 4 naming it" {
  CNI_OMIT=CNI_IFNAME run cni ADD "$CID1" "$NS1"
  assert_cni_error 4 CNI_IFNAME
  assert_nothing_left "$LINKS_BEFORE" "$NS1"
}

@test "missing CNI_NETNS: code 4 naming it" {
  CNI_OMIT=CNI_NETNS run cni ADD "$CID1" "$NS1"
  assert_cni_error 4 CNI_NETNS
  assert_nothing_left "$LINKS_BEFORE" "$NS1"
}

@test "missing CNI_PATH: code 4 naming it when IPAM is delegated; not needed otherwise" {
  # host-local's state in the test's own directory: teardown's DEL runs it.
  conf_set '.cniVersion = "1.0.0" | del(.subnet)
    | .ipam = {type: "host-local", subnet: $s, dataDir: $d}' --arg s "$SUBNET" --arg d "$T/ipam"
  CNI_OMIT=CNI_PATH run cni ADD "$CID1" "$NS1"
  assert_cni_error 4 CNI_PATH
  assert_nothing_left "$LINKS_BEFORE" "$NS1"
  # The built-in allocator runs nothing from CNI_PATH, and DEL never needs it.
  MOAT_CONF=$MOAT_CONF_BASE
  CNI_OMIT=CNI_PATH run -0 cni ADD "$CID1" "$NS1"
  CNI_OMIT=CNI_PATH run -0 cni DEL "$CID1" "$NS1"
  assert_nothing_left "$LINKS_BEFORE" "$NS1"
}

@test "missing CNI_COMMAND: code 4 naming it" {
  CNI_OMIT=CNI_COMMAND run cni ADD "$CID1" "$NS1"
  assert_cni_error 4 CNI_COMMAND
  assert_nothing_left "$LINKS_BEFORE" "$NS1"
}

@test "unknown CNI_COMMAND: code 4 naming it" {
  run cni FROB "$CID1" "$NS1"
  assert_cni_error 4 CNI_COMMAND
  assert_nothing_left "$LINKS_BEFORE" "$NS1"
}

@test "netns that does not exist: code 3" {
  run cni ADD "$CID1" "/run/netns/${PFX}nosuchns"
  assert_cni_error 3
  assert_nothing_left "$LINKS_BEFORE" "$NS1"
}

@test "a failed ADD next to a live container leaves the live one intact" {
  add_container c2
  run cni ADD "$CID1" "/run/netns/${PFX}nosuchns"
  assert_cni_error 3
  assert_eq "$(bridge_ports "$BR")" "$(hostif_of c2)" "bridge ports"
  assert_eq "$(network_records)" "$(record_of c2)" "records"
  CNI_CONF=$(conf_with_prev "$(result_of c2)") run -0 cni CHECK "$(cid_of c2)" "$(ns_of c2)"
}

@test "a name taken in the namespace: ADD fails and leaves the other interface alone" {
  # Someone else's veth already called eth9 in the container's namespace.
  ip link add "${PFX}f0" type veth peer name eth9 netns "$NS1"
  echo "${PFX}f0" >>"$T/links"
  run cni ADD "$CID1" "$NS1" eth9
  assert_cni_error 100 eth9 "the namespace already has one" "File exists"
  ip -n "$NS1" link show eth9 >/dev/null || fail "the failed ADD deleted someone else's eth9"
  link_exists "${PFX}f0" || fail "the failed ADD deleted the peer of someone else's eth9"
  link_gone "$BR" || fail "bridge $BR left behind"
  assert_eq "$(network_records)" "" "records left"
  assert_eq "$(nft_elems_of_test)" "" "nft elements left"
}
