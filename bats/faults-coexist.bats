#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# Coexistence (docs/design.md, "The ruleset and the identity model"): with a docker-style iptables-nft ruleset
# (DOCKER, DOCKER-USER, FORWARD policy DROP) and a foreign nft table in
# the test's own "host" namespace, moat's ADD, hook, grant, revoke, DEL and
# restore change nothing of them, and moatctl check explains the conflict.
# Nothing here touches the machine's ruleset: every iptables and nft
# command runs in $H.

load helpers
load faults

setup() {
  faults_setup
  conf_set '.args = {cni: {labels: [{key: "app", value: "co"}]}}'
}
teardown() { faults_teardown; }

# foreign_ruleset: $H's ruleset without moat's tables, counters zeroed
# (iptables-nft rules count packets), as one JSON document.
foreign_ruleset() {
  in_h nft -j list ruleset | jq -S '
    [.nftables[] | select(has("metainfo") | not)
     | select((if has("table") then .table.name else (.[] | objects | .table) end) != "moat")
     | walk(if type == "object" and has("counter") and (.counter | type) == "object"
            then .counter = {packets: 0, bytes: 0} else . end)]'
}

make_foreign() {
  # docker's chains, as dockerd makes them with iptables-nft.
  local -a ipt=(ip netns exec "$H" iptables-nft)
  "${ipt[@]}" -N DOCKER
  "${ipt[@]}" -N DOCKER-USER
  "${ipt[@]}" -N DOCKER-ISOLATION-STAGE-1
  "${ipt[@]}" -A DOCKER-USER -j RETURN
  "${ipt[@]}" -A DOCKER-ISOLATION-STAGE-1 -j RETURN
  "${ipt[@]}" -A FORWARD -j DOCKER-USER
  "${ipt[@]}" -A FORWARD -j DOCKER-ISOLATION-STAGE-1
  "${ipt[@]}" -A FORWARD -o "${PFX}d0" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
  "${ipt[@]}" -A FORWARD -o "${PFX}d0" -j DOCKER
  "${ipt[@]}" -P FORWARD DROP
  ip netns exec "$H" iptables-nft -t nat -N DOCKER
  ip netns exec "$H" iptables-nft -t nat -A POSTROUTING -s 172.31.250.0/24 ! -o "${PFX}d0" -j MASQUERADE
  # And an nft table of someone else's, with a set, a map and a base chain.
  in_h nft -f - <<EOF
table inet ${PFX}fw {
  set blocked { type ipv4_addr; flags interval; elements = { 192.0.2.0/24, 198.51.100.7 } }
  map ports { type inet_service : verdict; elements = { 22 : accept } }
  chain input { type filter hook input priority 5; policy accept; ip saddr @blocked drop; }
  chain pass { type filter hook forward priority 20; policy accept; tcp dport vmap @ports; }
}
EOF
}

assert_foreign_unchanged() { # STEP
  local now
  now=$(foreign_ruleset)
  [[ $now == "$FOREIGN" ]] ||
    fail "$1 changed the foreign ruleset (< before, > after):" \
      "$(diff <(echo "$FOREIGN") <(echo "$now") | grep '^[<>]' | head -40)"
}

@test "coexist: ADD, hook, grant, revoke, DEL and restore leave docker's iptables-nft chains and a foreign table exactly as they were; check explains the FORWARD drop" {
  make_foreign
  FOREIGN=$(foreign_ruleset)
  # The snapshot sees what was made (so a change would show).
  assert_jq "$FOREIGN" 'map(select(.chain.name == "DOCKER-USER")) | length == 1'
  assert_jq "$FOREIGN" 'map(select(.chain.name == "FORWARD" and .chain.policy == "drop")) | length == 1'
  assert_jq "$FOREIGN" 'map(select(.set.name == "blocked")) | .[0].set.elem | length == 2'

  add_container a
  assert_foreign_unchanged "the first ADD (moat's tables made)"
  add_container b
  assert_foreign_unchanged "ADD"
  run -0 run_hook_h prestart "$(jq -nc --arg id "$(cid_of a)" \
    '{ociVersion: "1.0.2", id: $id, status: "created", pid: 0, annotations: {"io.moat.labels": "app=co,tier=1", "io.moat.allow-host": "tcp/8080", "io.moat.egress": "192.0.2.0/24 tcp/443"}}')"
  assert_foreign_unchanged "hook prestart"
  run -0 ctl grant "$(cid_of a)" host tcp/9090 --ttl 1h
  run -0 ctl grant "$(cid_of b)" peer "$(cid_of a)"
  assert_foreign_unchanged "moatctl grant"
  run -0 ctl revoke "$(cid_of a)" host tcp/9090
  assert_foreign_unchanged "moatctl revoke"
  run -0 ctl restore
  assert_foreign_unchanged "moatctl restore"

  # check: no drift, and the conflict explained: the FORWARD chain's
  # policy drop would drop what moat accepts on its bridge.
  run -1 ctl --json check
  assert_jq "$output" '.drift == []'
  assert_jq "$output" '.conflicts | map(select(.table == "filter" and .chain == "FORWARD" and .hook == "forward")) | length >= 1'
  run -1 ctl check
  assert_contains "$output" "FORWARD"
  assert_contains "$output" "drop"
  assert_foreign_unchanged "moatctl check"

  run -0 run_hook_h poststop "$(jq -nc --arg id "$(cid_of a)" '{ociVersion: "1.0.2", id: $id, status: "stopped"}')"
  del_container a
  assert_foreign_unchanged "DEL"
  del_container b
  assert_foreign_unchanged "the last DEL (moat's tables kept)"
  run -0 ctl teardown
  assert_foreign_unchanged "moatctl teardown (moat's tables removed)"
  assert_eq "$(h_tables | grep -c ' moat$' || true)" 0 "moat's tables after moatctl teardown"
  assert_eq "$(h_links)" "" "host ends"
}

@test "coexist: under docker's FORWARD drop, explain says refused and why, as traffic does; moatctl docker-user add accepts the bridge in DOCKER-USER, remove undoes exactly that" {
  local p
  p=$(random_port)
  make_foreign
  add_container a
  add_container b # a and b share app=co: moat allows a -> b
  ns_tcp_listen "$(ns_of b)" 0.0.0.0 "$p"
  PROBE_TOKEN=fw-drop run ns_tcp_connect "$(ns_of a)" "$(ip_of b)" "$p"
  [[ $output != ok ]] || fail "a -> b passed docker's FORWARD drop"
  run -1 ctl explain "$(cid_of a)" "$(cid_of b)" "tcp/$p"
  assert_contains "$output" "refused"
  assert_contains "$output" "moat allows it (shared label app=co)"
  assert_contains "$output" "table ip filter chain FORWARD (hook forward, policy drop)"
  assert_contains "$output" "moatctl docker-user add $BR"
  run -1 ctl --json explain "$(cid_of a)" "$(cid_of b)" "tcp/$p"
  assert_jq "$output" '.allowed == false'

  FOREIGN=$(foreign_ruleset)
  run -0 ctl docker-user add "$BR"
  assert_contains "$output" "added: DOCKER-USER -i $BR -j ACCEPT"
  assert_contains "$output" "added: DOCKER-USER -o $BR -j ACCEPT"
  run -0 ctl docker-user add "$BR"
  assert_contains "$output" "already there: DOCKER-USER -o $BR -j ACCEPT"
  assert_eq "$(in_h iptables-nft -S DOCKER-USER | grep -c -- "$BR -j ACCEPT")" 2 "rules in DOCKER-USER"
  run -0 ctl explain "$(cid_of a)" "$(cid_of b)" "tcp/$p"
  assert_contains "$output" "allowed"
  PROBE_TOKEN=fw-ok run -0 ns_tcp_connect "$(ns_of a)" "$(ip_of b)" "$p"
  run ctl --json check
  assert_jq "$output" '.conflicts | map(select(.chain == "FORWARD")) == []'

  run -0 ctl docker-user remove "$BR"
  assert_contains "$output" "removed: DOCKER-USER -i $BR -j ACCEPT"
  assert_foreign_unchanged "docker-user remove"
  run -0 ctl docker-user remove "$BR"
  assert_contains "$output" "not there: DOCKER-USER -i $BR -j ACCEPT"
  run -1 ctl explain "$(cid_of a)" "$(cid_of b)" "tcp/$p"
  # Without DOCKER-USER (no docker here), the verb says so and changes nothing.
  in_h iptables-nft -D FORWARD -j DOCKER-USER
  in_h iptables-nft -F DOCKER-USER
  in_h iptables-nft -X DOCKER-USER
  run -2 ctl docker-user add "$BR"
  assert_contains "$output" "has no chain DOCKER-USER"
}

# docker_guide_fix: the DOCKER-USER commands of conf/docker/README.md
# ("Troubleshooting"), for this test's bridge in place of moat0.
docker_guide_fix() {
  grep -E '^ +iptables -I DOCKER-USER ' "$BATS_TEST_DIRNAME/../conf/docker/README.md" |
    sed -e 's/^ *//' -e "s/moat0/$BR/g"
}

@test "coexist: the docker guide's fix (DOCKER-USER accepts moat's bridge) passes what moat allows, only that, and check no longer names FORWARD" {
  make_foreign
  local fix cmd p ip_b
  fix=$(docker_guide_fix)
  assert_eq "$(grep -c . <<<"$fix")" 2 "the guide's commands: $fix"
  add_container a
  add_container b
  conf_set '.args = {cni: {labels: [{key: "app", value: "other"}]}}'
  add_container c
  ip_b=$(ip_of b)
  p=$(random_port)
  ns_tcp_listen "$(ns_of b)" 0.0.0.0 "$p"

  # docker's FORWARD policy drops what moat allows (a and b share app=co);
  # check says so.
  PROBE_TOKEN=before-fix run -1 ns_tcp_connect "$(ns_of a)" "$ip_b" "$p"
  assert_eq "$output" timeout "a -> b under docker's policy"
  run -1 ctl --json check
  assert_jq "$output" '.conflicts | map(select(.chain == "FORWARD")) | length >= 1'

  while IFS= read -r cmd; do
    # shellcheck disable=SC2086 # the guide's command, word by word
    run -0 in_h $cmd
  done <<<"$fix"
  PROBE_TOKEN=after-fix run -0 ns_tcp_connect "$(ns_of a)" "$ip_b" "$p"
  assert_eq "$(received after-fix)" 1 "b received a's token"
  # moat still refuses what its policy refuses.
  PROBE_TOKEN=refused-c run -1 ns_tcp_connect "$(ns_of c)" "$ip_b" "$p"
  assert_eq "$output" refused "c -> b"
  # check no longer names docker's chains (the foreign table's input rule,
  # make_foreign's, is still a conflict, so it exits 1).
  run -1 ctl check
  assert_not_contains "$output" "FORWARD"
  run -1 ctl --json check
  assert_jq "$output" '.drift == [] and (.conflicts | map(select(.table == "filter")) == [])'
  assert_jq "$output" '.conflicts | map(select(.chain == "input")) | length == 1'

  # The guide's undo (-D) brings the drop back.
  while IFS= read -r cmd; do
    # shellcheck disable=SC2086
    run -0 in_h ${cmd/ -I / -D }
  done <<<"$fix"
  run -1 ctl check
  assert_contains "$output" "FORWARD"
}
