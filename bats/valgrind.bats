#!/usr/bin/env bats
# The plugin is short-lived but runs inside every container start: no leak,
# no invalid access, on the success paths and the error paths alike.

load helpers

setup() {
  setup_moat_net
  # Exit 99 on any error or definite/indirect leak; "still reachable" is the
  # libraries' one-time state.
  export MOAT_WRAP="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
}
teardown() {
  unset MOAT_WRAP
  teardown_moat_net
}

@test "valgrind: ADD, CHECK, GC, STATUS, DEL and VERSION are clean" {
  local before
  before=$(moat_links)
  add_container c1
  new_netns c2
  run -0 cni ADD "$(cid_of c2)" "$(ns_of c2)"
  CNI_CONF=$(conf_with_prev "$(result_of c1)") run -0 cni CHECK "$(cid_of c1)" "$(ns_of c1)"
  CNI_CONF=$(jq -c --arg c "$(cid_of c1)" '. + {"cni.dev/valid-attachments": [{containerID: $c, ifname: "eth0"}]}' <<<"$MOAT_CONF") \
    run -0 cni GC
  link_exists "$(hostif_of c1)"
  run -0 cni STATUS
  del_container c1
  CNI_CONF='{"cniVersion":"1.0.0"}' run -0 cni VERSION
  assert_jq "$output" '.cniVersion == "1.0.0"'
  assert_nothing_left "$before"
}

@test "valgrind: refused input is clean too" {
  local before
  before=$(moat_links)
  # Exit 1 is the plugin's error exit; valgrind's own would be 99.
  CNI_CONF='{"cniVersion":' run -1 cni ADD "$PFX-x" "$(ns_of none)"
  assert_cni_error 6 "stdin: invalid JSON"
  CNI_CONF=$(jq -c '.subnet = "10.1.0.0/33"' <<<"$MOAT_CONF") run -1 cni ADD "$PFX-x" "$(ns_of none)"
  assert_cni_error 7 "subnet"
  run -1 cni ADD "$PFX-x" "/run/netns/${PFX}missing"
  assert_cni_error 3 "CNI_NETNS"
  CNI_OMIT=CNI_IFNAME run -1 cni ADD "$PFX-x" "$(ns_of none)"
  assert_cni_error 4 "CNI_IFNAME"
  assert_nothing_left "$before"
}

@test "valgrind: the hook's prestart (new and existing identity), poststop and errors are clean" {
  local before
  before=$(moat_links)
  add_container a
  add_container b
  run -0 hook prestart a '{"io.moat.labels": "app=x", "io.moat.allow-host": "tcp/80", "io.moat.proxy": "10.9.9.9:3128"}'
  run -0 hook prestart b '{"io.moat.labels": "app=x", "io.moat.depends": "app=x&!y"}'
  run -0 hook prestart b '{"io.moat.labels": "app=x"}'
  run -1 hook prestart a '{"io.moat.egress": "10.0.0.0/33 tcp/1"}'
  assert_contains "$output" "io.moat.egress"
  run -1 hook prestart a '{"io.moat.policy": "Web"}'
  assert_contains "$output" "io.moat.policy"
  run -0 hook poststop a
  run -0 hook poststop b
  run -0 hook prestart nobody
  del_container a
  del_container b
  assert_nothing_left "$before"
}
