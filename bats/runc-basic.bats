#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# The runc harness itself (bats/runc.bash), without moat-hook: busybox
# containers started by real runc in namespaces that moat's CNI ADD
# attached, real traffic from and to them, hooks wired as config.json says
# (a stand-in hook script records what runc hands it), and nothing left
# after ctr_delete or runc_teardown.

load helpers
load runc

setup() {
  setup_moat_net
  runc_setup
  export CTR_NO_HOOKS=1
}
teardown() {
  runc_teardown
  teardown_moat_net
}

# Host pids of every process in container NAME's pid namespace.
host_pids_of() {
  local ns p
  ns=$(readlink "/proc/$(ctr_pid "$1")/ns/pid") || return 0
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/ns/pid" 2>/dev/null) != "$ns" ]] || echo "${p#/proc/}"
  done
}

# running PID: the process exists and is not a zombie (the dead of a
# container's pid namespace wait for a reaper on the host).
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != [ZX] ]]
}

# cgroup directories runc made for this test's containers.
cgroups_of_test() { find /sys/fs/cgroup -maxdepth 3 -name "$PFX-*" 2>/dev/null; }

# A stand-in hook: logs "STAGE STATE_JSON" lines to $T/hook.log, and fails
# with a message on stderr when $T/hook.fail names the stage.
fake_hook() {
  cat >"$T/fake-hook" <<EOF
#!/bin/sh
state=\$(cat)
echo "\$1 \$state" >>"$T/hook.log"
if [ "\$(cat "$T/hook.fail" 2>/dev/null)" = "\$1" ]; then
  echo "fake-hook: \$1 refused (MOAT_RUN_DIR=\$MOAT_RUN_DIR)" >&2
  exit 1
fi
EOF
  chmod +x "$T/fake-hook"
  : >"$T/hook.log"
  echo "$T/fake-hook"
}

elapsed_ms() { # START (an $EPOCHREALTIME)
  local now=$EPOCHREALTIME
  echo $(((${now/./} - ${1/./}) / 1000))
}

@test "runc: the container runs in the namespace CNI ADD attached" {
  ctr_start a
  assert_eq "$(ctr_status a)" running
  assert_eq "$(stat -L -c %i "/proc/$(ctr_pid a)/ns/net")" \
    "$(stat -L -c %i "/run/netns/$(ns_of a)")" "netns inode of the container"
  run -0 ctr_exec a ip -4 -o addr show dev eth0
  assert_contains "$output" "inet $(cidr_of a) "
  run -0 ctr_exec a ip route
  assert_contains "$output" "default via $GW dev eth0"
  assert_eq "$(ctr_ip a)" "$(ip_of a)"
  # Its own pid and uts namespaces: sleep is pid 1, the hostname is NAME.
  run -0 ctr_exec a ps -o pid,args
  assert_match "$output" $'(^|\n) *1 +sleep 100000(\n|$)' "ps in a"
  run -0 ctr_exec a hostname
  assert_eq "$output" a
}

@test "runc: the host reaches TCP and UDP servers inside the container" {
  local p
  p=$(random_port)
  ctr_start a
  ctr_tcp_listen a "$p"
  ctr_udp_listen a "$p"
  PROBE_TOKEN=host-tcp run -0 ns_tcp_connect host "$(ip_of a)" "$p"
  PROBE_TOKEN=host-udp run -0 ns_udp_connect host "$(ip_of a)" "$p"
  assert_eq "$(received host-tcp)$(received host-udp)" 11 "tokens the container got"
  # The servers saw the host's address on the bridge.
  assert_eq "$(peer_of host-tcp)" "$GW" "TCP peer"
  assert_eq "$(peer_of host-udp)" "$GW" "UDP peer"
}

@test "runc: the container's clients work where nothing stands in the way (loopback)" {
  local p
  p=$(random_port)
  ctr_start a
  ctr_tcp_listen a "$p"
  ctr_udp_listen a "$p"
  PROBE_TOKEN=lo-tcp run -0 ctr_tcp_connect a 127.0.0.1 "$p"
  PROBE_TOKEN=lo-udp run -0 ctr_udp_connect a 127.0.0.1 "$p"
  assert_eq "$(received lo-tcp)$(received lo-udp)" 11 "tokens delivered"
  # A closed port: refused (TCP reset / ICMP port unreachable).
  run ctr_tcp_connect a 127.0.0.1 $((p + 1))
  assert_eq "$output" refused "tcp to a closed port"
  run ctr_udp_connect a 127.0.0.1 $((p + 1))
  assert_eq "$output" refused "udp to a closed port"
}

@test "runc: two containers with no policy cannot talk: refused at once, nothing delivered" {
  local p t0 ms
  p=$(random_port)
  ctr_start a
  ctr_start b
  ctr_tcp_listen b "$p"
  ctr_udp_listen b "$p"
  # Control: b's servers answer the host.
  PROBE_TOKEN=host-b run -0 ns_tcp_connect host "$(ip_of b)" "$p"
  t0=$EPOCHREALTIME
  PROBE_TOKEN=a-b-tcp run ctr_tcp_connect a "$(ip_of b)" "$p"
  ms=$(elapsed_ms "$t0")
  assert_eq "$output" refused "a -> b tcp"
  ((ms < 1000)) || fail "a -> b tcp took $ms ms to be refused"
  t0=$EPOCHREALTIME
  PROBE_TOKEN=a-b-udp run ctr_udp_connect a "$(ip_of b)" "$p"
  ms=$(elapsed_ms "$t0")
  assert_eq "$output" unreachable "a -> b udp"
  ((ms < 1000)) || fail "a -> b udp took $ms ms to be rejected"
  PROBE_TOKEN=a-gw-tcp run ctr_tcp_connect a "$GW" "$p"
  assert_eq "$output" refused "a -> gateway tcp"
  assert_eq "$(received a-b-tcp)$(received a-b-udp)" 00 "tokens delivered"
}

@test "runc: hooks get the state with id, pid, bundle and annotations; a failing hook fails runc run with its stderr" {
  local hook
  hook=$(fake_hook)
  add_container a
  CTR_NO_HOOKS='' CTR_HOOK=$hook CTR_HOOK_STAGES="createRuntime prestart poststop" \
    run -0 ctr_create a io.moat.labels=app=web,env=dev '{"io.moat.expose": "app=x"}'
  # (runc 1.1 runs prestart before createRuntime: no order asserted.)
  run -0 sh -c "cut -d' ' -f1 '$T/hook.log' | sort"
  assert_eq "${output//$'\n'/ }" "createRuntime prestart"
  local state
  state=$(sed -n 's/^prestart //p' "$T/hook.log")
  # (runc 1.1 says "creating" here, where the runtime spec says "created".)
  assert_jq "$state" '.id == $id and (.status | IN("creating", "created"))
                      and .pid == ($pid | tonumber)' \
    --arg id "$(cid_of a)" --arg pid "$(ctr_pid a)"
  assert_jq "$state" '.bundle == $b' --arg b "$T/ctr/a"
  assert_jq "$state" '.annotations == {"io.moat.labels": "app=web,env=dev", "io.moat.expose": "app=x"}'
  run -0 ctr_delete a
  assert_eq "$(tail -n1 "$T/hook.log" | cut -d' ' -f1)" poststop "last hook"

  add_container b
  echo prestart >"$T/hook.fail"
  CTR_NO_HOOKS='' CTR_HOOK=$hook run ctr_create b
  [[ $status -ne 0 ]] || fail "runc run succeeded despite the failing hook: $output"
  assert_contains "$output" "fake-hook: prestart refused (MOAT_RUN_DIR=$MOAT_RUN_DIR)"
  ! ctr_running b || fail "container b is running"
}

@test "runc: ctr_delete stops every process, deletes the container and detaches it" {
  local p links pids pid
  links=$(moat_links)
  p=$(random_port)
  ctr_start a
  ctr_tcp_listen a "$p"
  pids=$(host_pids_of a)
  assert_eq "$(wc -l <<<"$pids")" 2 "processes in a (sleep and nc): $pids"
  ctr_delete a
  ctr_gone a || fail "runc still knows a: $(ctr_state a)"
  for pid in $pids; do
    wait_for 5 eval "! running $pid"
  done
  assert_eq "$(rc list -q)" "" "runc list"
  assert_eq "$(cgroups_of_test)" "" "cgroups left"
  assert_nothing_left "$links" "$(ns_of a)"
}

@test "runc: runc_teardown removes every container, whatever its state; then nothing is left" {
  local links pids pid ns root=$RUNC_ROOT
  links=$(moat_links)
  ctr_start a
  ctr_start b
  ctr_tcp_listen b "$(random_port)"
  rc kill "$(cid_of b)" KILL # b stopped but not deleted
  add_container c # runc run fails: no such namespace
  CTR_NETNS=/run/netns/$(ns_of c)-missing run ctr_create c
  [[ $status -ne 0 ]] || fail "runc run c succeeded: $output"
  pids="$(host_pids_of a) $(ctr_pid b)"
  runc_teardown
  # (runc list would make the root again: its absence says enough.)
  [[ ! -e $root ]] || fail "runc root $root left behind: $(ls -A "$root")"
  for pid in $pids; do
    wait_for 5 eval "! running $pid"
  done
  assert_eq "$(cgroups_of_test)" "" "cgroups left"
  teardown_moat_net
  assert_nothing_left "$links"
  for ns in a b c; do
    [[ ! -e /run/netns/$(ns_of "$ns") ]] || fail "netns $(ns_of "$ns") left behind"
  done
}
