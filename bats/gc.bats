#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2010 # jq programs in single quotes; ls of address files
# CNI GC (1.1.0): removes this network's attachments that the runtime no
# longer lists, and stray ports, and nothing else.

load helpers

setup() { setup_moat_net; }
teardown() { teardown_moat_net; }

# gc_conf KEY NAME...: the config with KEY listing the named containers.
gc_conf() {
  local key=$1 name list='[]'
  shift
  for name in "$@"; do
    list=$(jq -c --arg c "$(cid_of "$name")" '. + [{containerID: $c, ifname: "eth0"}]' <<<"$list")
  done
  jq -c --arg k "$key" --argjson l "$list" '. + {($k): $l}' <<<"$MOAT_CONF"
}

assert_attached() { # NAME
  [[ -f $(record_of "$1") ]] || fail "record of $1 missing"
  link_exists "$(hostif_of "$1")" || fail "host end of $1 missing"
  nft_has inet members "$BR . $(ip_of "$1")" || fail "members element of $1 missing"
  CNI_CONF=$(conf_with_prev "$(result_of "$1")") run -0 cni CHECK "$(cid_of "$1")" "$(ns_of "$1")"
}

assert_detached() { # NAME
  [[ ! -e $(record_of "$1") ]] || fail "record of $1 left"
  link_gone "$(hostif_of "$1")" || fail "host end of $1 left"
  [[ ! -e $MOAT_RUN_DIR/$NET/ipam/$(ip_of "$1") ]] || fail "allocation of $1 left"
  assert_eq "$(nft_elems_of "$1")" "" "elements of $1"
}

@test "GC removes attachments missing from cni.dev/valid-attachments and keeps the listed ones" {
  add_container c1
  add_container c2
  add_container c3
  CNI_CONF=$(gc_conf cni.dev/valid-attachments c1 c3) run -0 cni GC
  assert_eq "$output" "" "GC output"
  assert_attached c1
  assert_attached c3
  assert_detached c2
}

@test "GC accepts the older cni.dev/attachments key" {
  add_container c1
  add_container c2
  CNI_CONF=$(gc_conf cni.dev/attachments c2) run -0 cni GC
  assert_attached c2
  assert_detached c1
}

@test "GC with an empty list removes every attachment of this network only" {
  second_network
  add_container c1
  new_netns o1
  CNI_CONF=$MOAT_CONF2 run -0 cni ADD "$PFX-o1" "$(ns_of o1)"
  local other=$output other_ip
  other_ip=$(jq -r '.ips[0].address | split("/")[0]' <<<"$other")

  CNI_CONF=$(gc_conf cni.dev/valid-attachments) run -0 cni GC
  assert_detached c1
  [[ -f $MOAT_RUN_DIR/$NET2/$PFX-o1@eth0.json ]] || fail "GC removed another network's record"
  link_exists "$(jq -r '.interfaces[1].name' <<<"$other")" || fail "GC removed another network's port"
  nft_has inet members "$BR2 . $other_ip" || fail "GC removed another network's element"
}

@test "GC removes a stray mt* port on the bridge that has no record" {
  add_container c1
  local stray
  stray=mt$(printf '%04x%04x%04x%x' $RANDOM $RANDOM $RANDOM $((RANDOM % 16)))
  ip link add "$stray" type veth peer name "${PFX}sp"
  printf '%s\n' "$stray" "${PFX}sp" >>"$T/links"
  ip link set "$stray" master "$BR" up
  CNI_CONF=$(gc_conf cni.dev/valid-attachments c1) run -0 cni GC
  link_gone "$stray" || fail "stray port $stray left on the bridge"
  assert_attached c1
}

@test "GC and STATUS need no container variables" {
  add_container c1
  CNI_CONF=$(gc_conf cni.dev/valid-attachments c1) run -0 cni GC
  run -0 cni STATUS
  assert_eq "$output" "" "STATUS output"
  assert_attached c1
}
