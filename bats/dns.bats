#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2016 # bats subshells; jq programs in single quotes
# Names on a moat network with "dns" (docs/design.md, "Names"): one dnsmasq
# per network on the bridge's gateway, started by the first attachment,
# stopped by the last DEL; containers find each other by name and alias;
# resolution opens no other flow. Under podman 4.3 (CNI backend), whose
# shipped conflist (conf/10-moat.conflist) sets "names" and the `aliases`
# capability.

load helpers
load podman

setup() {
  setup_moat_net
  podman_setup
}

teardown() {
  podman_teardown
  dns_kill_left
  teardown_moat_net
}

# The network's dnsmasq pid, from its pid file (empty: none).
dns_pid() { cat "$PM_RUN_DIR/$NET/dnsmasq.pid" 2>/dev/null || true; }

# A dnsmasq this test's network started, still running: its pid.
dns_running() {
  local pid
  pid=$(pgrep -f -- "--pid-file=$PM_RUN_DIR/$NET/dnsmasq.pid" || true)
  [[ -n $pid ]] && echo "$pid"
}

# Teardown's safety net: a dnsmasq that outlived the test's containers.
dns_kill_left() {
  local pid
  pid=$(dns_running) || return 0
  echo "# teardown: dnsmasq $pid of $NET left running" >&2
  kill "$pid" 2>/dev/null || true
}

# resolve FROM NAME: the address container FROM gets for NAME through its
# resolv.conf (empty when none).
resolve() {
  pm exec "$(pm_name "$1")" timeout 3 nslookup "$2" 2>/dev/null |
    awk '/^Name:/ { found = 1 } found && /^Address/ { sub(/^Address:? */, ""); print; exit }'
}

@test "dns: web finds db by name and by --network-alias, reaches it where policy allows" {
  local ip_db out
  # pm_run drops its own --network when an option starts with --network.
  pm_start db --annotation io.moat.labels=app=x --network "$NET" --network-alias database
  pm_start web --annotation io.moat.labels=app=x
  ip_db=$(pm_ip db)

  out=$(pm exec "$(pm_name web)" cat /etc/resolv.conf)
  assert_contains "$out" "nameserver $GW" "web's resolv.conf"
  assert_contains "$out" "search dns.moat" "web's resolv.conf"

  assert_eq "$(resolve web "$(pm_name db)")" "$ip_db" "web: db by name"
  assert_eq "$(resolve web database)" "$ip_db" "web: db by alias"
  assert_eq "$(resolve web "database.dns.moat")" "$ip_db" "web: db by alias in the domain"
  pm_serve db 80
  assert_eq "$(pm_fetch web database 80)" ok "web -> db by alias (shared app=x)"
  assert_eq "$(pm_fetch web "$(pm_name db)" 80)" ok "web -> db by name"

  # Another label resolves the name (as on docker) and is still refused.
  pm_start other --annotation io.moat.labels=app=y
  assert_eq "$(resolve other database)" "$ip_db" "other: db by alias"
  assert_eq "$(pm_fetch other database 80)" refused "other (app=y) -> db"
}

@test "dns: a new container's name resolves at a peer within 1 s; DEL removes it" {
  local started ip_b elapsed
  pm_start a
  pm_start b
  started=$(date +%s%N)
  ip_b=$(pm_ip b)
  # Polled for at most 1 s from the moment b runs.
  until [[ $(resolve a "$(pm_name b)") == "$ip_b" ]]; do
    elapsed=$((($(date +%s%N) - started) / 1000000))
    ((elapsed < 1000)) || fail "b's name did not resolve at a within 1 s"
    sleep 0.05
  done
  elapsed=$((($(date +%s%N) - started) / 1000000))
  echo "# b's name resolved at a ${elapsed} ms after b was running (incl. podman exec)" >&3

  run -0 pm rm -f -t 0 "$(pm_name b)"
  assert_eq "$(resolve a "$(pm_name b)")" "" "b's name after its DEL"
  [[ -n $(dns_running) ]] || fail "dnsmasq stopped while a is attached"
}

@test "dns: the last DEL stops dnsmasq and leaves nothing: process, files, elements" {
  local before words pid
  before=$(moat_links)
  pm_start a
  pid=$(dns_running) || fail "no dnsmasq for $NET"
  assert_eq "$(dns_pid)" "$pid" "the pid file names the running dnsmasq"
  [[ -n $(nft_elems inet resolvers | grep -F "$BR") ]] || fail "no resolvers element for $BR"
  mapfile -t words < <(pm_words a)
  run -0 pm rm -f -t 0 "$(pm_name a)"
  wait_for 2 eval '! kill -0 '"$pid"' 2>/dev/null'
  assert_eq "$(dns_running)" "" "dnsmasq after the last DEL"
  [[ ! -e $PM_RUN_DIR/$NET ]] || fail "state left: $(find "$PM_RUN_DIR/$NET")"
  assert_eq "$(nft_elems inet resolvers | grep -F "$BR")" "" "resolvers elements left"
  pm_nothing_left "$before" "${words[@]}"
}

@test "dns: a dead dnsmasq is restarted by the next ADD" {
  local pid
  pm_start a
  pid=$(dns_running) || fail "no dnsmasq for $NET"
  kill "$pid"
  wait_for 2 eval '! kill -0 '"$pid"' 2>/dev/null'
  pm_start b
  [[ -n $(dns_running) ]] || fail "the ADD of b did not restart dnsmasq"
  assert_eq "$(resolve b "$(pm_name a)")" "$(pm_ip a)" "b: a by name"
}

@test "dns: resolution opens nothing else: no other port of the gateway, no other name" {
  local port out
  port=$(random_port)
  pm_start a
  # A listener on the gateway, on a port no policy grants.
  start_bg host timeout 30 "$PM_ROOTFS/bin/busybox" nc -ll -p "$port" -e /bin/cat
  wait_for 5 eval "ss -Hlnt 'sport = :$port' | grep -q ."
  run pm exec "$(pm_name a)" timeout 3 nc -w 2 "$GW" "$port" </dev/null
  assert_contains "$output" "refused" "a -> gateway:$port"
  # TCP 53 is the name server's: connecting is not refused.
  out=$(pm exec "$(pm_name a)" timeout 2 nc -w 2 "$GW" 53 </dev/null 2>&1) || true
  assert_not_contains "$out" "refused" "a -> gateway:53/tcp"
  # The network has no internet: dnsmasq forwards nothing.
  assert_eq "$(resolve a example.com)" "" "a: example.com"
}

@test "dns: a bad --network-alias fails podman run with moat's reason and leaves nothing" {
  local before
  before=$(moat_links)
  run pm_run a --network "$NET" --network-alias bad.alias
  ((status != 0)) || fail "podman run succeeded"
  assert_contains "$output" "runtimeConfig.aliases" "podman's message"
  assert_contains "$output" "bad.alias" "podman's message"
  assert_eq "$(dns_running)" "" "dnsmasq"
  pm_nothing_left "$before"
}

@test "dns: moatctl check reports a dead dnsmasq, moatctl restore starts it again" {
  local pid
  pm_start a
  pm_start b
  pid=$(dns_running) || fail "no dnsmasq for $NET"
  run "$MOAT_BUILD/moatctl" check
  assert_not_contains "$output" "name server" "moatctl check with dnsmasq running"
  kill "$pid"
  wait_for 2 eval '! kill -0 '"$pid"' 2>/dev/null'
  run "$MOAT_BUILD/moatctl" check
  ((status == 1)) || fail "moatctl check: exit $status, want 1: $output"
  assert_contains "$output" "missing: name server (dnsmasq) of network \"$NET\""
  run -0 "$MOAT_BUILD/moatctl" restore
  [[ -n $(dns_running) ]] || fail "moatctl restore did not start dnsmasq"
  assert_eq "$(resolve a "$(pm_name b)")" "$(pm_ip b)" "a: b by name after restore"
  run "$MOAT_BUILD/moatctl" check
  assert_not_contains "$output" "name server" "moatctl check after restore"
}
