#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# moatctl run: a plain process in a network namespace of its own, attached
# by moat-hook as a container naming io.moat.network is, under the same
# label policy; real traffic both ways; exit status, signals and --user
# passed through; nothing left when it ends.

load helpers

setup() {
  setup_moat_net
  NETDIR=$T/networks
  mkdir -p "$NETDIR"
  jq -n --arg n "$NET" --arg br "$BR" --arg sub "$SUBNET" --argjson allow "$ALLOW_ALL" \
    '{cniVersion: "1.0.0", name: $n, plugins: [{type: "moat", bridge: $br, subnet: $sub, allow: $allow}]}' \
    >"$NETDIR/50-moat.conflist"
  export MOAT_NETWORK_DIRS=$NETDIR
  LINKS_BEFORE=$(moat_links)
}
teardown() { teardown_moat_net; }

# mrun ARGS...: moatctl run on the test's network; stdout and stderr.
mrun() { "$MOAT_BUILD/moatctl" run --network "$NET" "$@" 2>&1; }

# connect_script IP PORT TOKEN: a shell line for inside the run process:
# ns_tcp_connect from its own namespace.
connect_line() {
  printf '%s; PROBE_TOKEN=%s ns_tcp_connect host %s %s' \
    "$(declare -f classify ns_run sock_family sock_host ns_tcp_connect)" "$3" "$1" "$2"
}

# run_record NAME: the record of the run process named NAME (io.moat.name).
run_record() {
  local f
  for f in "$MOAT_RUN_DIR/$NET"/moatctl-run-*.json; do
    [[ -e $f ]] && jq -e --arg n "$1" '.name == $n' "$f" >/dev/null && { cat "$f"; return 0; }
  done
  return 1
}

# child_listening PID PORT: moatctl run PID's CMD listens on tcp PORT.
child_listening() {
  local c
  c=$(pgrep -P "$1" | head -1)
  [[ -n $c ]] && [[ -n $(nsenter --net="/proc/$c/ns/net" ss -Hlnt "sport = :$2") ]]
}

no_run_records() {
  assert_eq "$(find "$MOAT_RUN_DIR/$NET" -maxdepth 1 -name 'moatctl-run-*' 2>/dev/null)" "" \
    "run records left"
}

@test "run: a labelled process reaches a container of its label and nothing else; the host reaches it; nothing is left" {
  local p
  p=$(random_port)
  add_container web
  add_container db
  run -0 hook prestart web '{"io.moat.labels": "app=x"}'
  run -0 hook prestart db '{"io.moat.labels": "app=y"}'
  ns_tcp_listen "$(ns_of web)" 0.0.0.0 "$p"
  ns_tcp_listen "$(ns_of db)" 0.0.0.0 "$p"

  run -0 mrun --label app=x --name client -- bash -c "$(connect_line "$(ip_of web)" "$p" run-web)"
  assert_eq "$output" ok "run -> web (app=x)"
  run -1 mrun --label app=x --name client -- bash -c "$(connect_line "$(ip_of db)" "$p" run-db)"
  assert_eq "$output" refused "run -> db (app=y)"
  assert_eq "$(received run-web) $(received run-db)" "1 0" "lines the servers got"
  no_run_records

  # A server under moatctl run: web (same label) and the host reach it, db does not.
  "$MOAT_BUILD/moatctl" run --network "$NET" --label app=x --name srv -- \
    socat "TCP4-LISTEN:$p,reuseaddr,fork" "EXEC:$(serve_script)" </dev/null >/dev/null 2>&1 &
  local pid=$! ip
  echo "$pid" >>"$T/pids"
  wait_for 5 run_record srv
  ip=$(run_record srv | jq -r '.address | split("/")[0]')
  wait_for 5 child_listening "$pid" "$p"
  PROBE_TOKEN=web-run run -0 ns_tcp_connect "$(ns_of web)" "$ip" "$p"
  PROBE_TOKEN=host-run run -0 ns_tcp_connect host "$ip" "$p"
  PROBE_TOKEN=db-run run ns_tcp_connect "$(ns_of db)" "$ip" "$p"
  assert_eq "$output" refused "db -> run process"
  run -0 "$MOAT_BUILD/moatctl" show srv
  assert_contains "$output" "app=x [annotation]"
  kill -TERM "$pid"
  wait "$pid" || true
  no_run_records
  assert_eq "$(nft_elems_matching "$ip")" "" "elements naming the run process's address"
  assert_eq "$(new_moat_links "$LINKS_BEFORE" | grep -v -x -F -e "$(hostif_of web)" -e "$(hostif_of db)" || true)" "" "links left"
}

@test "run: exit status, signals and --user pass through; a refused attach is exit 125 and starts nothing" {
  run -7 mrun -- sh -c 'exit 7'
  no_run_records
  run -0 mrun --user nobody -- id -u
  assert_eq "$output" "$(id -u nobody)"
  # SIGTERM to moatctl reaches CMD; moatctl ends as CMD did.
  "$MOAT_BUILD/moatctl" run --network "$NET" --name sleeper -- sleep 1000 </dev/null >/dev/null 2>&1 &
  local pid=$! status=0
  echo "$pid" >>"$T/pids"
  wait_for 5 run_record sleeper
  kill -TERM "$pid"
  wait "$pid" || status=$?
  assert_eq "$status" 143 "moatctl run's status after SIGTERM"
  no_run_records
  # A malformed annotation: the hook refuses, CMD never runs, nothing is left.
  run -125 mrun --annotation io.moat.allow-host=tcp/99999 -- touch "$T/ran"
  assert_contains "$output" "io.moat.allow-host"
  [[ ! -e $T/ran ]] || fail "CMD ran although the attach was refused"
  no_run_records
  run -127 mrun -- /no/such/command
  assert_contains "$output" "/no/such/command"
  no_run_records
  run -125 "$MOAT_BUILD/moatctl" run -- true
  assert_contains "$output" "--network NAME is required"
}
