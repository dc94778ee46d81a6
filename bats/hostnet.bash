# shellcheck shell=bash disable=SC2016 # sh -c programs in single quotes
# Host processes under moat's policy (docs/design.md, "Host-network
# containers"): a group that moatctl host attach names, made by the test at
# level 2 of the cgroup2 hierarchy, and its processes' probes. Loaded by
# bats/hostnet.bats and bats/ipv6-hostnet.bats after helpers; the caller
# sets NETDIR (its network config directory) and NET.

# hp_group NAME: a fresh group at the rules' level (2) of the cgroup2
# hierarchy, made through a mount of the test's own ($T/cg2, the same
# hierarchy moatctl mounts at $MOAT_RUN_DIR/.cgroup2); its hierarchy path.
hp_group() {
  if ! mountpoint -q "$T/cg2"; then
    mkdir -p "$T/cg2"
    mount -t cgroup2 none "$T/cg2" || fail "cannot mount cgroup2 on $T/cg2"
  fi
  mkdir -p "$T/cg2/${PFX}hp/$1" || fail "cannot make group ${PFX}hp/$1"
  echo "/${PFX}hp/$1"
}

# hp_teardown: the test's host processes detached, its groups (their
# processes killed first) and its mount removed.
hp_teardown() {
  local dir pid f
  for f in "$MOAT_RUN_DIR/.hostnet/${PFX}"*.json; do
    [[ -f $f ]] || continue
    f=${f##*/}
    "$MOAT_BUILD/moatctl" host detach "${f%.json}" || true
  done
  mountpoint -q "$T/cg2" || return 0
  for dir in "$T/cg2/${PFX}hp"/*/; do
    [[ -d $dir ]] || continue
    while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$dir/cgroup.procs"
    wait_for 5 sh -c "! grep -q . '$dir/cgroup.procs'" || true
    rmdir "$dir" 2>/dev/null || true
  done
  rmdir "$T/cg2/${PFX}hp" 2>/dev/null || true
  umount "$T/cg2" || true
}

# in_group GROUP CMD...: CMD in the group (it moves itself there, then execs).
in_group() {
  local dir=$T/cg2$1
  shift
  sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$dir" "$@"
}

# hp_tcp GROUP IP PORT: a connection from inside the group (either
# family); ok, refused, ... (classify).
hp_tcp() {
  local token=hp-$RANDOM$RANDOM out rc=0
  out=$(printf '%s\n' "$token" |
    in_group "$1" timeout 5 socat -t1 -T2 - "TCP$(sock_family "$2"):$(sock_host "$2"):$3,connect-timeout=1" 2>&1) || rc=$?
  classify "$out" "$rc" "$token"
}

# hp_udp GROUP IP PORT: one datagram from inside the group, 1 s for the reply.
hp_udp() {
  local token=hp-$RANDOM$RANDOM out rc=0
  out=$(printf '%s\n' "$token" |
    in_group "$1" timeout 5 socat -t1 -T2 - "UDP$(sock_family "$2"):$(sock_host "$2"):$3" 2>&1) || rc=$?
  classify "$out" "$rc" "$token"
}

# hp_listen GROUP PORT: a TCP server in the group on every address of
# both families.
hp_listen() {
  start_bg host sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$T/cg2$1" \
    socat "TCP6-LISTEN:$2,ipv6only=0,reuseaddr,fork" "EXEC:$(serve_script)"
  wait_for 5 listening host tcp "$2"
}

# hp_udp_listen GROUP PORT: the same over UDP (one reply per datagram).
hp_udp_listen() {
  start_bg host sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$T/cg2$1" \
    socat "UDP6-RECVFROM:$2,ipv6only=0,fork" "EXEC:$(serve_script)"
  wait_for 5 listening host udp "$2"
}

hp_attach() { MOAT_NETWORK_DIRS=$NETDIR "$MOAT_BUILD/moatctl" host attach --network "$NET" "$@"; }
hp_record() { echo "$MOAT_RUN_DIR/.hostnet/$1.json"; }
