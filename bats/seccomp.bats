#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2034 # jq programs in single quotes; CNI_PATH_VALUE is read by cni()
# The plugin confines itself with seccomp once its input is read: seen from
# outside while it works (the kernel's /proc), from inside the real binary
# (a preloaded probe that runs at its first flock, which comes after the
# confinement), and in the delegated IPAM plugin it runs, which inherits
# the filter.

load helpers

setup() { setup_moat_net; }
teardown() { teardown_moat_net; }

# A sanitized build also allows what its runtime needs (fork, ptrace...).
sanitized() { ldd "$MOAT" 2>/dev/null | grep -q libasan; }

# start_add NAME: ADD of container NAME in the background, its stdout in
# $T/add.NAME, the pid of `timeout` in ADD_PID and the plugin's in
# PLUGIN_PID. fd 8, the test's hold on the lock, is not passed on.
start_add() {
  local name=$1 conf_file=$T/conf.start-add
  new_netns "$name"
  printf '%s' "$MOAT_CONF" >"$conf_file"
  printf '%s eth0 /run/netns/%s %s\n' "$(cid_of "$name")" "$(ns_of "$name")" "$conf_file" \
    >>"$T/attachments"
  printf '%s' "$MOAT_CONF" |
    env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" CNI_COMMAND=ADD \
      CNI_CONTAINERID="$(cid_of "$name")" CNI_NETNS="/run/netns/$(ns_of "$name")" \
      CNI_IFNAME=eth0 CNI_PATH="$HOST_IPAM_DIR" ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} \
      timeout 60 "$MOAT" >"$T/add.$name" 2>>"$T/stderr" 8>&- &
  ADD_PID=$!
  echo "$ADD_PID" >>"$T/pids"
  wait_for 5 plugin_started
}

plugin_started() {
  PLUGIN_PID=$(pgrep -P "$ADD_PID" | head -n 1)
  [[ -n $PLUGIN_PID ]]
}

status_field() { # PID FIELD
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

plugin_confined() { [[ $(status_field "$PLUGIN_PID" Seccomp) == 2 ]]; }

@test "seccomp: the plugin works confined (mode 2, one filter, no_new_privs) and finishes its ADD" {
  local lock=$MOAT_RUN_DIR/$NET.lock rc=0
  mkdir -p "$MOAT_RUN_DIR"
  # Hold the network's lock: the plugin confines itself, then waits for it.
  exec 8>"$lock"
  flock -x 8
  start_add c1
  wait_for 10 plugin_confined || {
    exec 8>&-
    wait "$ADD_PID" || rc=$?
    fail "the plugin never showed Seccomp: 2 ($(grep -E '^(Seccomp|NoNewPrivs)' "/proc/$PLUGIN_PID/status" 2>&1); ADD exit status $rc, output: $(cat "$T/add.c1"))"
  }
  assert_eq "$(status_field "$PLUGIN_PID" NoNewPrivs)" 1 "NoNewPrivs"
  assert_eq "$(status_field "$PLUGIN_PID" Seccomp_filters)" 1 "Seccomp_filters"
  alive "$PLUGIN_PID" || fail "the plugin did not wait for the lock"
  exec 8>&-
  wait "$ADD_PID" || rc=$?
  assert_eq "$rc" 0 "ADD exit status (output: $(cat "$T/add.c1"))"
  cp "$T/add.c1" "$T/result.c1"
  assert_jq "$(cat "$T/result.c1")" '(.ips[0].address | startswith($p))' --arg p "$NETPFX."
  CNI_CONF=$(conf_with_prev "$(result_of c1)") run -0 cni CHECK "$(cid_of c1)" "$(ns_of c1)"
  del_container c1
}

# The probe: at the plugin's first flock (inside the verb, after the
# confinement) it tries what the filter must refuse, writes what happened
# to $MOAT_PROBE_OUT, then takes the lock. Every call is harmless should
# the filter be missing, and the expected answers are then wrong.
build_probe() {
  cat >"$T/probe.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static FILE *out;

static void
report (const char *what, long r)
{
  fprintf (out, "%s: %s\n", what, r < 0 ? strerror (errno) : "ok");
  if (r >= 0 && strncmp (what, "socket", 6) == 0)
    close ((int)r);
}

static void
probe (void)
{
  char line[256];
  FILE *st = fopen ("/proc/self/status", "re");
  char *argv[] = { (char *)"/bin/false", NULL };
  pid_t pid;

  while (st && fgets (line, sizeof (line), st))
    if (strncmp (line, "Seccomp:", 8) == 0 || strncmp (line, "NoNewPrivs:", 11) == 0)
      fputs (line, out);
  if (st)
    fclose (st);
  report ("socket(AF_INET)", socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  report ("socket(AF_INET6)", socket (AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  report ("socket(AF_PACKET)", socket (AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  report ("socket(AF_UNIX)", socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  report ("socket(NETLINK_ROUTE)", socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  report ("unshare(0)", unshare (0));
  report ("keyctl", syscall (SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* session */, 0));
  report ("open(outside)",
          open (getenv ("MOAT_PROBE_OUTSIDE"), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  pid = fork ();
  if (pid == 0)
    _exit (0);
  if (pid > 0)
    waitpid (pid, NULL, 0);
  report ("fork", pid);
  execv (argv[0], argv);
  report ("execve", -1);
}

int
flock (int fd, int operation)
{
  static int (*real) (int, int);
  static int done;
  const char *path = getenv ("MOAT_PROBE_OUT");

  if (!done && path && (out = fopen (path, "we")))
    {
      done = 1;
      probe ();
      fclose (out);
    }
  if (!real)
    real = (int (*) (int, int))dlsym (RTLD_NEXT, "flock");
  return real (fd, operation);
}
EOF
  cc -Wall -Werror -shared -fPIC -o "$T/probe.so" "$T/probe.c" -ldl
}

@test "seccomp: inside the real plugin, other sockets, fork, exec, unshare and keyctl get EPERM" {
  # The probe's report goes where the plugin may write (Landlock).
  local out=$MOAT_RUN_DIR/probe.out
  mkdir -p "$MOAT_RUN_DIR"
  build_probe
  new_netns c1
  # ASan insists on coming first among the preloads; a sanitized build
  # also lets its runtime fork.
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
    MOAT_WRAP="env LD_PRELOAD=$T/probe.so MOAT_PROBE_OUT=$out MOAT_PROBE_OUTSIDE=$T/outside" \
    run -0 cni ADD "$(cid_of c1)" "$(ns_of c1)"
  printf '%s\n' "$output" >"$T/result.c1"
  [[ -s $out ]] || fail "the probe did not run"
  echo "# probe: $(tr '\n' ';' <"$out")" >&3
  assert_contains "$(cat "$out")" "Seccomp:	2"
  assert_contains "$(cat "$out")" "NoNewPrivs:	1"
  local call
  for call in "socket(AF_INET)" "socket(AF_INET6)" "socket(AF_PACKET)" "socket(AF_UNIX)" \
    "unshare(0)" keyctl execve; do
    assert_contains "$(cat "$out")" "$call: Operation not permitted"
  done
  sanitized || assert_contains "$(cat "$out")" "fork: Operation not permitted"
  # And Landlock: a file outside the state directory.
  assert_contains "$(cat "$out")" "open(outside): Permission denied"
  [[ ! -e $T/outside ]] || fail "the plugin wrote $T/outside"
  # What the plugin needs still works.
  assert_contains "$(cat "$out")" "socket(NETLINK_ROUTE): ok"
  assert_jq "$output" '(.ips[0].address | startswith($p))' --arg p "$NETPFX."
  del_container c1
  rm -f "$out"
}

@test "seccomp: with delegated IPAM the IPAM plugin inherits the denylist and still allocates" {
  local bin=$T/cni data=$T/ipam-data out=$T/ipam-probe.out
  mkdir -p "$bin" "$data"
  # An IPAM plugin that looks at itself and its parent, then is host-local.
  cat >"$bin/probe-ipam" <<EOF
#!/bin/bash
{
  echo "self \$(grep -E '^Seccomp:' /proc/self/status | tr -d '\t')"
  echo "parent \$(grep -E '^Seccomp:' /proc/\$PPID/status | tr -d '\t')"
  unshare -n true 2>&1 | sed 's/^/unshare: /'
} >>"$out"
exec $HOST_IPAM_DIR/host-local
EOF
  chmod +x "$bin/probe-ipam"
  # Debian's host-local (plugins 1.1.1) speaks CNI up to 1.0.0.
  conf_set 'del(.subnet) | .cniVersion = "1.0.0" | .ipam = {type: "probe-ipam", dataDir: $d,
              ranges: [[{subnet: $s, gateway: $g}]], routes: [{dst: "0.0.0.0/0"}]}' \
    --arg d "$data" --arg s "$SUBNET" --arg g "$GW"
  CNI_PATH_VALUE=$bin:$HOST_IPAM_DIR
  add_container c1
  assert_match "$(ip_of c1)" "^${NETPFX//./\\.}\\." "address from host-local"
  [[ -f $data/$NET/$(ip_of c1) ]] || fail "host-local has no file for $(ip_of c1)"
  assert_contains "$(cat "$out")" "self Seccomp:2"
  assert_contains "$(cat "$out")" "parent Seccomp:2"
  assert_contains "$(cat "$out")" "unshare: unshare: unshare failed: Operation not permitted"
  del_container c1
  [[ ! -e $data/$NET/$(ip_of c1) ]] || fail "host-local still holds $(ip_of c1) after DEL"
}

# Landlock (common/kernel/landlock.h): the kernel refuses the real binaries'
# writes outside their directories. No probe and no test knob: a symlink
# planted in the state directory makes moat's own writes lead elsewhere,
# as a hostile or careless edit of /run/moat would; the kernel resolves
# the link, sees the write leave the allowed tree, and answers EACCES.
# Without Landlock both writes would land in $T/outside.

@test "landlock: the real plugin's writes through a symlink out of its state directory get EACCES" {
  local outside=$T/outside
  mkdir -p "$MOAT_RUN_DIR" "$outside"
  ln -s "$outside" "$MOAT_RUN_DIR/$NET"
  new_netns c1
  run cni ADD "$(cid_of c1)" "$(ns_of c1)"
  [[ $status -ne 0 ]] || fail "ADD wrote through the symlink: $output"
  assert_jq "$output" '.msg | contains("Permission denied")'
  assert_eq "$(ls -A "$outside")" "" "files outside the state directory"
  # With the directory where it belongs, the same ADD works.
  rm "$MOAT_RUN_DIR/$NET"
  run -0 cni ADD "$(cid_of c1)" "$(ns_of c1)"
  printf '%s\n' "$output" >"$T/result.c1"
  [[ -f $(record_of c1) ]] || fail "no record for c1"
  del_container c1
}

@test "landlock: the real hook's identity write through a planted symlink gets EACCES" {
  local outside=$T/outside idents record
  add_container c1
  record=$(record_of c1)
  idents=$MOAT_RUN_DIR/$NET/idents
  [[ ! -e $idents ]] || fail "$idents exists before any policy"
  # The hook's first write of this policy is the identity's file there
  # (a final component is never followed, a directory on the way is).
  mkdir -p "$outside"
  ln -s "$outside" "$idents"
  cp "$record" "$T/record.before"
  run hook prestart c1 '{"io.moat.labels": "app=web"}'
  [[ $status -ne 0 ]] || fail "the hook wrote through the symlink: $output"
  assert_contains "$output" "Permission denied"
  assert_eq "$(ls -A "$outside")" "" "files outside the state directory"
  cmp "$record" "$T/record.before" || fail "the record changed"
  rm "$idents"
  run -0 hook prestart c1 '{"io.moat.labels": "app=web"}'
  assert_jq "$(cat "$record")" '.policy.labels.app == "web"'
  del_container c1
}

@test "state: a symlink planted where a record's temporary file goes is not followed" {
  local outside=$T/outside record
  add_container c1
  record=$(record_of c1)
  mkdir -p "$outside"
  ln -s "$outside/record" "$record.tmp"
  cp "$record" "$T/record.before"
  run hook prestart c1 '{"io.moat.labels": "app=web"}'
  [[ $status -ne 0 ]] || fail "the hook wrote through the symlink: $output"
  assert_contains "$output" "Too many levels of symbolic links"
  assert_eq "$(ls -A "$outside")" "" "files outside the state directory"
  cmp "$record" "$T/record.before" || fail "the record changed"
  rm "$record.tmp"
  run -0 hook prestart c1 '{"io.moat.labels": "app=web"}'
  assert_jq "$(cat "$record")" '.policy.labels.app == "web"'
  del_container c1
}

@test "landlock: host-local run by the confined plugin writes its dataDir, and nothing else" {
  local bin=$T/cni data=$T/ipam-data outside=$T/outside
  mkdir -p "$bin" "$outside"
  # Named host-local, so that moat knows what it writes; tries a write
  # outside first, notes what happened in its dataDir, then is host-local.
  cat >"$bin/host-local" <<EOF
#!/bin/bash
{ : >"$outside/from-ipam"; } 2>>"$data/probe.log" && echo "outside: written" >>"$data/probe.log"
echo "inside: written" >>"$data/probe.log"
exec $HOST_IPAM_DIR/host-local
EOF
  chmod +x "$bin/host-local"
  conf_set 'del(.subnet) | .cniVersion = "1.0.0" | .ipam = {type: "host-local", dataDir: $d,
              ranges: [[{subnet: $s, gateway: $g}]], routes: [{dst: "0.0.0.0/0"}]}' \
    --arg d "$data" --arg s "$SUBNET" --arg g "$GW"
  CNI_PATH_VALUE=$bin
  add_container c1
  [[ -f $data/$NET/$(ip_of c1) ]] || fail "host-local has no file for $(ip_of c1)"
  assert_contains "$(cat "$data/probe.log")" "inside: written"
  assert_contains "$(cat "$data/probe.log")" "from-ipam: Permission denied"
  assert_not_contains "$(cat "$data/probe.log")" "outside: written"
  [[ ! -e $outside/from-ipam ]] || fail "the IPAM plugin wrote outside"
  del_container c1
  [[ ! -e $data/$NET/$(ip_of c1) ]] || fail "host-local still holds $(ip_of c1) after DEL"
}

# Landlock forbids a restricted process /proc/<pid>/ns/net of a process
# outside its domain; moat opens CNI_NETNS before it restricts itself.
same_file() { [[ $(stat -L -c %d:%i "$1" 2>/dev/null) == "$(stat -L -c %d:%i "$2")" ]]; }

@test "landlock: CNI_NETNS as /proc/<pid>/ns/net works confined: ADD, CHECK, DEL" {
  local pid ns
  new_netns c1
  ip netns exec "$(ns_of c1)" sleep 120 &
  pid=$!
  echo "$pid" >>"$T/pids"
  ns=/proc/$pid/ns/net
  wait_for 5 same_file "$ns" "/run/netns/$(ns_of c1)"
  run -0 cni ADD "$(cid_of c1)" "$ns"
  printf '%s\n' "$output" >"$T/result.c1"
  assert_jq "$(cat "$(record_of c1)")" '.netns == $ns' --arg ns "$ns"
  [[ -n $(ip -n "$(ns_of c1)" -4 -o addr show dev eth0) ]] || fail "no eth0 address in the namespace"
  CNI_CONF=$(conf_with_prev "$(result_of c1)") run -0 cni CHECK "$(cid_of c1)" "$ns"
  CNI_CONF=$(conf_with_prev "$(result_of c1)") run -0 cni DEL "$(cid_of c1)" "$ns"
  kill "$pid"
}
