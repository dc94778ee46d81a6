#!/usr/bin/env bats
# moat-bats: sandbox
# shellcheck disable=SC2016 # jq programs in single quotes
# Host processes and host-network containers (docs/design.md,
# "Host-network containers") on a dual-stack network (issue 17): a group
# attached by moatctl host attach (the same rules as a host-network
# container's: socket cgroupv2, level 2) talking to moat's containers over
# IPv6, both ways, next to the same flows over IPv4. Runs in hack/sandbox:
# it sets net.ipv6.conf.all.forwarding (bats/ipv6-policy.bats) and moves
# processes between cgroups (bats/hostnet.bats).

load helpers

setup() {
  setup_dual_stack_net
  NETDIR=$T/networks
  mkdir -p "$NETDIR"
  printf '%s\n' "$MOAT_CONF" >"$NETDIR/50-moat.conf"
}

teardown() {
  local f dir pid
  for f in "$MOAT_RUN_DIR/.hostnet/${PFX}"*.json; do
    [[ -f $f ]] || continue
    f=${f##*/}
    "$MOAT_BUILD/moatctl" host detach "${f%.json}" || true
  done
  if mountpoint -q "$T/cg2"; then
    for dir in "$T/cg2/${PFX}hp"/*/; do
      [[ -d $dir ]] || continue
      while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$dir/cgroup.procs"
      wait_for 5 sh -c "! grep -q . '$dir/cgroup.procs'" || true
      rmdir "$dir" 2>/dev/null || true
    done
    rmdir "$T/cg2/${PFX}hp" 2>/dev/null || true
    umount "$T/cg2" || true
  fi
  teardown_moat_net
}

# hp_group NAME: a fresh group at level 2 of the cgroup2 hierarchy (as
# bats/hostnet.bats); its hierarchy path.
hp_group() {
  if ! mountpoint -q "$T/cg2"; then
    mkdir -p "$T/cg2"
    mount -t cgroup2 none "$T/cg2" || fail "cannot mount cgroup2 on $T/cg2"
  fi
  mkdir -p "$T/cg2/${PFX}hp/$1" || fail "cannot make group ${PFX}hp/$1"
  echo "/${PFX}hp/$1"
}
in_group() {
  local dir=$T/cg2$1
  shift
  sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$dir" "$@"
}
# hp_tcp GROUP IP PORT: a connection from inside the group; ok, refused, ...
hp_tcp() {
  local token=hp-$RANDOM$RANDOM out rc=0
  out=$(printf '%s\n' "$token" |
    in_group "$1" timeout 5 socat -t1 -T2 - "TCP$(sock_family "$2"):$(sock_host "$2"):$3,connect-timeout=1" 2>&1) || rc=$?
  classify "$out" "$rc" "$token"
}
# hp_listen GROUP PORT: a TCP server in the group on every address of
# both families.
hp_listen() {
  start_bg host sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$T/cg2$1" \
    socat "TCP6-LISTEN:$2,ipv6only=0,reuseaddr,fork" "EXEC:$(serve_script)"
  wait_for 5 listening host tcp "$2"
}
hp_attach() { MOAT_NETWORK_DIRS=$NETDIR "$MOAT_BUILD/moatctl" host attach --network "$NET" "$@"; }

# peer NAME LABELS: a dual-stack container that may open tcp/7071 on the
# host, serving tcp/8080 on both its addresses.
peer() {
  add_container "$1"
  run -0 hook prestart "$1" '{"io.moat.labels": "'"$2"'", "io.moat.allow-host": "tcp/7071"}'
  ns_tcp_listen "$(ns_of "$1")" "$(ip_of "$1")" 8080
  ns_tcp_listen "$(ns_of "$1")" "$(ip6_of "$1")" 8080
}

@test "ipv6-hostnet: an attached group's IPv6 is refused at once both ways, whatever its labels (IPv4 follows them); the host's other processes keep IPv6" {
  peer web app=web
  peer db app=db
  local g
  g=$(hp_group svc)
  run -0 hp_attach --cgroup "$g" --name "${PFX}svc" --label app=web
  hp_listen "$g" 7071
  # IPv4: its labels decide, both ways.
  run hp_tcp "$g" "$(ip_of web)" 8080
  assert_eq "$output" ok "group -> web over IPv4 (same label)"
  run hp_tcp "$g" "$(ip_of db)" 8080
  assert_eq "$output" refused "group -> db over IPv4"
  run ns_tcp_connect "$(ns_of web)" "$GW" 7071
  assert_eq "$output" ok "web -> group over IPv4 (same label)"
  # IPv6: the group's rules know IPv4 peers only, so every new IPv6 flow
  # of the group is refused (a TCP reset: at once), even the one its
  # labels allow; nothing is open that IPv4 would refuse.
  run hp_tcp "$g" "$(ip6_of web)" 8080
  assert_eq "$output" refused "group -> web over IPv6"
  run hp_tcp "$g" "$(ip6_of db)" 8080
  assert_eq "$output" refused "group -> db over IPv6"
  run ns_tcp_connect "$(ns_of web)" "$GW6" 7071
  assert_eq "$output" refused "web -> group over IPv6"
  run ns_tcp_connect "$(ns_of db)" "$GW6" 7071
  assert_eq "$output" refused "db -> group over IPv6"
  # Outside the group, nothing changes: the host reaches web over IPv6.
  run ns_tcp_connect host "$(ip6_of web)" 8080
  assert_eq "$output" ok "the host -> web over IPv6"
  run -0 "$MOAT_BUILD/moatctl" check
  # Detached, the group's IPv6 is the host's again.
  run -0 "$MOAT_BUILD/moatctl" host detach "${PFX}svc"
  run hp_tcp "$g" "$(ip6_of db)" 8080
  assert_eq "$output" ok "group -> db over IPv6 after detach"
}
