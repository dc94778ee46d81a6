#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2016 # bats subshells; jq programs in single quotes
# Names under dockerd 20.10 + moat-runtime (docs/design.md, "Names"):
# dockerd does not hand the container's name to the runtime; moat-runtime
# reads it from config.v2.json next to the /etc/hosts bind mount and adds
# io.moat.name (and the compose service as io.moat.aliases). moatctl ls
# shows the name; a peer resolves it through docker's resolv.conf, which
# the hook points at the network's name server.

load helpers
load docker

setup_file() { dockerd_start; }
teardown_file() { dockerd_stop; }

setup() {
  setup_moat_net
  docker_setup
  # dnsmasq, as its own user, reads $DK/run/NET/hosts.d.
  chmod o+x "$DK"
  MOAT_CONF=$(jq -c '. + {names: true}' <<<"$MOAT_CONF")
  printf '%s\n' "$MOAT_CONF" >"$DK/networks/$NET.conf"
}

teardown() {
  docker_teardown
  local pid
  pid=$(pgrep -f -- "--pid-file=$MOAT_RUN_DIR/$NET/dnsmasq.pid") &&
    { echo "# teardown: dnsmasq $pid left" >&2; kill "$pid"; }
  teardown_moat_net
}

dk_resolve() { # FROM NAME
  dk_exec "$1" nslookup "$2" 2>/dev/null |
    awk '/^Name:/ { found = 1 } found && /^Address/ { sub(/^Address:? */, ""); print; exit }'
}

@test "docker: the container's name and compose service resolve at a peer; moatctl ls shows the name" {
  local ip_db out
  dk_start db -e MOAT_LABELS=app=x --label com.docker.compose.service=database
  dk_start web -e MOAT_LABELS=app=x
  ip_db=$(dk_ip db) || fail "db has no address"
  assert_jq "$(dk_bundle_config db)" '.annotations["io.moat.name"] == $n
    and .annotations["io.moat.aliases"] == "database"' --arg n "$PFX-db"
  out=$(dk_exec web cat /etc/resolv.conf)
  assert_contains "$out" "nameserver $GW" "web's resolv.conf"
  assert_eq "$(dk_resolve web "$PFX-db")" "$ip_db" "web: db by name"
  assert_eq "$(dk_resolve web database)" "$ip_db" "web: db by compose service"
  run -0 "$MOAT_BUILD/moatctl" ls
  assert_contains "$output" "$PFX-db" "moatctl ls"
  run -0 "$MOAT_BUILD/moatctl" show "$PFX-db"
  assert_contains "$output" "$ip_db" "moatctl show by docker name"
}

@test "docker: the name moat-runtime adds asks for nothing: MOAT_NETWORK on a network without env still runs unattached" {
  MOAT_CONF=$(jq -c 'del(.allow.env)' <<<"$MOAT_CONF")
  printf '%s\n' "$MOAT_CONF" >"$DK/networks/$NET.conf"
  run -0 dk_run plain --runtime moat --network none -e "MOAT_NETWORK=$NET"
  [[ $(dk inspect -f '{{.State.Running}}' "$PFX-plain") == true ]] || fail "plain is not running"
  assert_jq "$(dk_bundle_config plain)" '.annotations["io.moat.name"] == $n' --arg n "$PFX-plain"
  assert_eq "$(network_records | wc -l)" 0 "records in $MOAT_RUN_DIR/$NET"
}
