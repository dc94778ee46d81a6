#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# Restart: the kernel's state or moat's records lost behind moat's back.
#  - `nft flush ruleset` (in the test's own namespace $H), then moatctl
#    restore: the same traffic matrix as before, check clean, and the
#    hook, grants and DEL work on the rebuilt tables to the last one.
#  - the run dir deleted, then CNI GC: nothing of the network is left in
#    the kernel (links, bridge, elements, tables).
# (bats/ctl.bats has a restore after a flush with runc containers; this
# adds foreign-table-free flushes with grants and identities, a restore
# twice, the hook and new containers afterwards, and the run dir's loss.)

load helpers
load faults

setup() { faults_setup; }
teardown() { faults_teardown; }

# label NAME LABELS: the container's labels through the hook.
label() {
  run -0 run_hook_h prestart "$(jq -nc --arg id "$(cid_of "$1")" --arg l "$2" --arg h "${3-}" \
    '{ociVersion: "1.0.2", id: $id, status: "created", pid: 0,
      annotations: ({"io.moat.labels": $l} + if $h == "" then {} else {"io.moat.allow-host": $h} end)}')"
}

# tcp FROM TO PORT: ok/refused/... from container FROM to container TO
# (or "host": the gateway in $H).
tcp() {
  local ip
  if [[ $2 == host ]]; then ip=$GW; else ip=$(ip_of "$2"); fi
  PROBE_TOKEN=$1-$2-$RANDOM ns_tcp_connect "$(ns_of "$1")" "$ip" "$3" || true
}

matrix() {
  echo "a-b:$(tcp a b "$P") b-a:$(tcp b a "$P") a-c:$(tcp a c "$P") c-a:$(tcp c a "$P")" \
    "b-c:$(tcp b c "$P") c-host:$(tcp c host "$HP") a-host:$(tcp a host "$HP") b-host2:$(tcp b host "$HP2")"
}

@test "restart: nft flush ruleset then moatctl restore: the same traffic matrix, check clean, and everything works on to the last DEL" {
  P=$(random_port)
  HP=$((P + 1))
  HP2=$((P + 2))
  local x
  for x in a b c; do add_container "$x"; done
  label a app=web
  label b app=web
  label c app=db "tcp/$HP"
  run -0 ctl grant "$(cid_of a)" peer "$(cid_of c)" --ttl 1h
  run -0 ctl grant "$(cid_of b)" host "tcp/$HP2"
  for x in a b c; do ns_tcp_listen "$(ns_of "$x")" 0.0.0.0 "$P"; done
  ns_tcp_listen "$H" "$GW" "$HP"
  ns_tcp_listen "$H" "$GW" "$HP2"
  local before
  before=$(matrix)
  assert_eq "$before" "a-b:ok b-a:ok a-c:ok c-a:refused b-c:refused c-host:ok a-host:refused b-host2:ok"
  ctl_check_clean

  in_h nft flush ruleset
  assert_eq "$(h_tables)" "" "tables after the flush"
  run -1 ctl check
  assert_contains "$output" "missing: table inet moat"
  run -0 ctl restore
  assert_contains "$output" "restored 3 containers on 1 networks"
  ctl_check_clean
  assert_eq "$(matrix)" "$before" "the traffic matrix after restore"
  # Restore again changes nothing.
  local elems
  elems=$(h_elements)
  run -0 ctl restore
  assert_eq "$(h_elements)" "$elems" "elements after a second restore"
  assert_eq "$(matrix)" "$before" "the traffic matrix after a second restore"

  # Everything works on the rebuilt tables: a new container, the hook, a
  # revoke, and DELs to the last, which takes moat's tables.
  add_container d
  label d app=web
  ns_tcp_listen "$(ns_of d)" 0.0.0.0 "$P"
  assert_eq "$(tcp d a "$P")" ok "d -> a (shared label, after restore)"
  assert_eq "$(tcp d c "$P")" refused "d -> c"
  run -0 ctl revoke "$(cid_of b)" host "tcp/$HP2"
  assert_eq "$(tcp b host "$HP2")" refused "b -> host after revoke"
  ctl_check_clean
  for x in a b c d; do del_container "$x"; done
  assert_eq "$(h_links)" "" "host ends"
  [[ ! -e $MOAT_RUN_DIR/$NET ]] || fail "state left"
  assert_kept_then_teardown "after the last DEL"
}

@test "restart: the run dir deleted, then CNI GC: nothing of the network is left in the kernel" {
  local x
  for x in a b c; do add_container "$x"; done
  label a app=web
  label b app=web "tcp/8080"
  run -0 ctl grant "$(cid_of a)" host tcp/9090 --ttl 1h
  [[ -n $(h_elements) ]] || fail "no elements before"
  [[ -n $(h_links) ]] || fail "no host ends before"

  rm -rf "${MOAT_RUN_DIR:?}"/*
  CNI_CONF=$(jq -c '. + {"cni.dev/valid-attachments": []}' <<<"$MOAT_CONF") run -0 cni GC
  assert_eq "$output" "" "GC output"
  assert_eq "$(h_links)" "" "host ends after GC"
  [[ -z $(ip -n "$H" -o link show "$BR" 2>/dev/null) ]] || fail "bridge $BR left"
  for x in a b c; do
    assert_eq "$(ip -n "$(ns_of "$x")" -o link show | grep -cv ': lo:' || true)" 0 "links in $x"
  done
  local elems
  elems=$(h_elements)
  assert_eq "$elems" "" "elements after GC"
  assert_eq "$(h_tables)" "" "tables after GC (no container is attached)"
  [[ ! -e $MOAT_RUN_DIR/$NET ]] || fail "state left: $(cd "$MOAT_RUN_DIR/$NET" && find .)"
  # DEL from the runtime afterwards is fine.
  for x in a b c; do
    CNI_CONF=$MOAT_CONF run -0 cni DEL "$(cid_of "$x")" "$(ns_of "$x")"
  done
}
