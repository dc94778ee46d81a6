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

@test "valgrind: hook-driven attach (prestart ADD, poststop DEL) and its refusals are clean" {
  local before state pid netdir=$T/networks
  before=$(moat_links)
  mkdir -p "$netdir"
  jq -c . <<<"$MOAT_CONF" >"$netdir/50-moat.conf"
  new_netns h
  start_bg "$(ns_of h)" sleep 600
  pid=$(tail -n1 "$T/pids")
  wait_for 5 test -e "/proc/$pid/ns/net"
  wait_for 5 eval "[[ \$(readlink /proc/$pid/ns/net) != \$(readlink /proc/self/ns/net) ]]"
  state=$(jq -nc --arg id "$(cid_of h)" --argjson pid "$pid" --arg net "$NET" \
    '{ociVersion: "1.0.2", id: $id, status: "created", pid: $pid, bundle: "",
      annotations: {"io.moat.network": $net, "io.moat.labels": "app=x"}}')
  hook_state() { # STAGE STATE
    printf '%s' "$2" | env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" MOAT_NETWORK_DIRS="$netdir" \
      timeout 120 $MOAT_WRAP "$MOAT_BUILD/moat-hook" "$1" 2>&1
  }
  run -1 hook_state prestart "$(jq -c '.id = "other" | .annotations["io.moat.network"] = "nowhere"' <<<"$state")"
  assert_contains "$output" "io.moat.network"
  run -1 hook_state prestart "$(jq -c '.id = "other" | .annotations["io.moat.labels"] = "="' <<<"$state")"
  assert_contains "$output" "io.moat.labels"
  run -0 hook_state prestart "$state"
  assert_jq "$(cat "$(record_of h)")" '.attachedBy == "hook"'
  run -0 hook_state poststop "$state"
  [[ ! -e $(record_of h) ]] || fail "record left after poststop"
  assert_nothing_left "$before"
}

@test "valgrind: moat-runtime's edit and the hook's read of config.json with numbers beyond 64 bits are clean" {
  local b=$T/bundle limits='"hard":18446744073709551615,"soft":18446744073709551615' state
  mkdir -p "$b"
  config() { # ENV_ENTRY: a config.json as docker writes it for --ulimit core=-1
    printf '{"process":{"env":["PATH=/bin"%s],"rlimits":[{"type":"RLIMIT_CORE",%s}]},"x":1E400}' \
      "$1" "$limits" >"$b/config.json"
  }
  # Output on success is valgrind's alone: its errors before the exec do
  # not reach the exit status.
  shim() {
    env -i PATH="$PATH" $MOAT_WRAP "$MOAT_BUILD/moat-runtime" --moat-hook "$MOAT_BUILD/moat-hook" \
      --moat-runtime /bin/true create --bundle "$b" c1 2>&1
  }
  config ""
  cp "$b/config.json" "$T/orig.json"
  run -0 shim
  assert_eq "$output" "" "moat-runtime's output"
  cmp "$T/orig.json" "$b/config.json" || fail "config.json changed"
  config ',"MOAT_NETWORK=n"'
  run -0 shim
  assert_eq "$output" "" "moat-runtime's output"
  assert_contains "$(cat "$b/config.json")" "$limits"
  printf '{"process":{"env":["MOAT_NETWORK=n"]},\n18446744073709551615:1}' >"$b/config.json"
  run -1 shim
  assert_eq "$output" "moat-runtime: $b/config.json: line 2: a number where an object key belongs"
  # The hook reads the bundle's config.json too.
  config ""
  state=$(jq -nc --arg id "$(cid_of h)" --arg b "$b" \
    '{ociVersion: "1.0.2", id: $id, status: "created", pid: 0, bundle: $b}')
  hook_bundle() {
    printf '%s' "$state" | env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" timeout 60 $MOAT_WRAP \
      "$MOAT_BUILD/moat-hook" prestart 2>&1
  }
  # (valgrind warns of seccomp(2), which it does not know; its errors would
  # be exit 99.)
  run -0 hook_bundle
  printf '{"process":{"env":["MOAT_NETWORK=n"]},\n18446744073709551615:1}' >"$b/config.json"
  run -1 hook_bundle
  assert_contains "$output" "$b/config.json: line 2: a number where an object key belongs"
}

# moatctl under valgrind, in a namespace and run dir of the test's own
# (check and restore own moat's whole tables): every verb, and refusals.
@test "valgrind: moatctl ls, show, grant, revoke, tokens, explain, resolve, check, restore and errors are clean" {
  export MOAT_RUN_DIR=$BATS_TEST_TMPDIR/run
  new_netns host
  local h vg=$MOAT_WRAP
  h=$(ns_of host)
  ip -n "$h" link set lo up
  MOAT_WRAP="nsenter --net=/run/netns/$h $vg"
  add_container a
  add_container b
  run -0 hook prestart a '{"io.moat.labels": "app=x,user=ann"}'
  run -0 hook prestart b '{"io.moat.labels": "app=y"}'
  mkdir -p "$T/keys"
  # stdout only: valgrind's notes go to stderr, with moatctl's messages.
  vctl() {
    env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" MOAT_KEYS_DIR="$T/keys" \
      nsenter --net="/run/netns/$h" $vg "$MOAT_BUILD/moatctl" "$@" 2>>"$T/vctl.err"
  }
  run -0 vctl ls
  run -0 vctl --json show "$(cid_of a)"
  run -0 vctl grant "$(cid_of a)" host tcp/8080 --ttl 1m
  run -0 vctl grant "$(cid_of a)" egress 192.0.2.0/24 udp/53
  run -0 vctl grant "$(cid_of a)" peer "$(cid_of b)" --ttl 1h
  run -0 vctl explain "$(cid_of a)" "$(cid_of b)" tcp/80
  run -1 vctl explain "$(cid_of b)" "$(cid_of a)" tcp/80
  run -0 vctl resolve x ann
  run -0 vctl revoke "$(cid_of a)" host tcp/8080
  run -1 vctl revoke "$(cid_of a)" host tcp/8080
  run -2 vctl grant "$(cid_of a)" host tcp/0
  run -1 vctl show nosuch
  run -0 vctl keygen k1 --public "$T/keys/k1.jwk"
  printf '%s\n' "$output" >"$T/k1.key"
  run -0 vctl token --key "$T/k1.key" --sub "$(cid_of b)" --aud "$NET" --ttl 30s "host tcp/9000"
  local jwt=$output
  run -0 vctl grant --token "$jwt"
  run -1 vctl grant --token "${jwt%?}"
  assert_contains "$(cat "$T/vctl.err")" "token refused: malformed token"
  # Revoked (by its words, then as a token), replayed; a prefix sub; too long.
  run -0 vctl revoke "$(cid_of b)" host tcp/9000
  run -1 vctl grant --token "$jwt"
  run -0 vctl token --key "$T/k1.key" --sub "$(cid_of b)" --aud "$NET" --ttl 30s --jti j2 "host tcp/9001"
  jwt=$output
  run -0 vctl grant --token - <<<"$jwt"
  run -0 vctl revoke --token - <<<"$jwt"
  run -1 vctl grant --token "$jwt"
  assert_contains "$(cat "$T/vctl.err")" "token refused: revoked"
  run -0 vctl token --key "$T/k1.key" --sub "$(cid_of b | cut -c1-5)" --aud "$NET" --ttl 30s "host tcp/9002"
  run -1 vctl grant --token "$output"
  run -0 vctl token --key "$T/k1.key" --sub "$(cid_of b)" --aud "$NET" --exp 9223372036854775807 "host tcp/9002"
  run -1 vctl grant --token "$output"
  run -1 vctl revoke --token "$output"
  assert_contains "$(cat "$T/vctl.err")" "token refused: lifetime: exp - now"
  run -0 vctl check
  run -0 vctl --json restore
  run -0 vctl check
  unset -f vctl
  del_container a
  del_container b
}
