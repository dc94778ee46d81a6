# shellcheck shell=bash disable=SC2016 # jq programs in single quotes
# Podman 4 (Debian's 4.3, CNI backend) for moat's podman tests
# (bats/podman.bats), everything private to the test. Load after helpers:
#
#   load helpers
#   load podman
#   setup()    { setup_moat_net; podman_setup; }
#   teardown() { podman_teardown; teardown_moat_net; }
#
# podman_setup makes $PM (a short directory under /tmp: conmon's socket
# paths must fit in 108 bytes) holding what a podman user would install:
#   containers.conf  CNI backend, cni_plugin_dirs = [$PM/cni, /usr/lib/cni],
#                    network_config_dir = $PM/net.d, hooks_dir = [$PM/hooks.d],
#                    runc, cgroupfs, file events, no default ulimits (this
#                    machine lacks CAP_SYS_RESOURCE), and [engine] env with
#                    MOAT_RUN_DIR (see below)
#   cni/moat         a link to $MOAT_BUILD/moat
#   net.d/$NET.conflist  conf/10-moat.conflist as the test's network
#                    ($NET, $BR, $SUBNET)
#   hooks.d/         conf/moat-hook.json.in for prestart and poststop, hook
#                    path $MOAT_BUILD/moat-hook, env MOAT_RUN_DIR and
#                    MOAT_NETWORK_DIRS=$PM/net.d
#   root runroot tmp podman's --root, --runroot, --tmpdir
#
# The run dir: $PM_RUN_DIR, by default helpers.bash's $MOAT_RUN_DIR (the
# one every test on this machine shares; see pm_private_run_dir for a
# private one). podman runs as a user would, without MOAT_RUN_DIR in its
# environment: the plugin gets it from containers.conf's [engine] env, which
# podman puts into its own environment, and so does `podman container
# cleanup`, which conmon starts when a container exits (conmon passes on
# CONTAINERS_CONF, not MOAT_RUN_DIR). The hook gets it from the hooks.d env.
#
# Containers: pm_run NAME [OPTION...] runs `podman run -d --name $PFX-NAME
# --network $NET` (unless an option names another network) with the busybox
# rootfs of hack/mkrootfs ($BATS_RUN_TMPDIR/moat-podman-rootfs: podman
# creates mount points in it, so it is not runc.bash's), read-only, $T at
# /out, running sleep (or `sh -c "$PM_CMD"`). Every name is recorded; podman_teardown removes every
# container of the private root (poststop runs), then $PM.

PODMAN=${PODMAN:-/usr/bin/podman}
PM_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# pm ARGS...: podman with this test's config and private state, without
# the test's MOAT_RUN_DIR in its environment (a user's podman has none).
pm() {
  timeout 120 env -u MOAT_RUN_DIR -u MOAT_NETWORK_DIRS CONTAINERS_CONF="$PM/containers.conf" \
    "$PODMAN" --root "$PM/root" --runroot "$PM/runroot" --tmpdir "$PM/tmp" "$@"
}

# pm_conflist NAME BRIDGE SUBNET [CONFLIST]: the network config list a
# podman user drops into /etc/cni/net.d (conf/10-moat.conflist, or
# CONFLIST from conf/) with this test's name, bridge and subnet; a
# host-local range gets the subnet and keeps its state under $PM/ipam.
pm_conflist() {
  jq --arg name "$1" --arg br "$2" --arg sub "$3" --arg gw "${3%.*/*}.1" --arg data "$PM/ipam" '
    .name = $name
    | .plugins[0].bridge = $br
    | if .plugins[0].ipam then
        .plugins[0].ipam.ranges = [[{subnet: $sub, gateway: $gw}]]
        | .plugins[0].ipam.dataDir = $data
      else .plugins[0].subnet = $sub end' "$PM_REPO/conf/${4:-10-moat.conflist}"
}

# pm_hook_json STAGE: conf/moat-hook.json.in as make install fills it in,
# plus the environment this test's hook needs.
pm_hook_json() {
  sed -e "s|@HOOK_PATH@|$MOAT_BUILD/moat-hook|" -e "s|@STAGE@|$1|" \
    "$PM_REPO/conf/moat-hook.json.in" |
    jq --arg run "$PM_RUN_DIR" --arg nets "$PM/net.d" \
      '.hook.env = ["MOAT_RUN_DIR=" + $run, "MOAT_NETWORK_DIRS=" + $nets]'
}

pm_write_config() {
  local stage
  for stage in prestart poststop; do
    pm_hook_json "$stage" >"$PM/hooks.d/50-moat-$stage.json"
  done
  cat >"$PM/containers.conf" <<EOF
[containers]
default_ulimits = []

[network]
network_backend = "cni"
cni_plugin_dirs = ["$PM/cni", "/usr/lib/cni"]
network_config_dir = "$PM/net.d"

[engine]
hooks_dir = ["$PM/hooks.d"]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
env = ["MOAT_RUN_DIR=$PM_RUN_DIR"]
EOF
}

# podman_setup: once per test, after setup_moat_net.
podman_setup() {
  [[ -n ${PFX-} && -n ${T-} ]] || fail "podman_setup: call setup_moat_net first"
  [[ -x $PODMAN ]] || fail "podman not installed ($PODMAN)"
  command -v runc >/dev/null || fail "runc not installed"
  [[ -x $MOAT_BUILD/moat-hook ]] || fail "hook not built: $MOAT_BUILD/moat-hook (run make all)"
  PM=$(mktemp -d /tmp/moat-pm.XXXXXX)
  echo "$PM" >"$T/podman-dir"
  : >"$T/podman-containers"
  PM_RUN_DIR=${PM_RUN_DIR:-$MOAT_RUN_DIR}
  mkdir -p "$PM/cni" "$PM/net.d" "$PM/hooks.d" "$PM/root" "$PM/runroot" "$PM/tmp"
  ln -s "$MOAT" "$PM/cni/moat"
  pm_conflist "$NET" "$BR" "$SUBNET" >"$PM/net.d/$NET.conflist"
  pm_write_config
  PM_ROOTFS=${MOAT_PODMAN_ROOTFS:-$BATS_RUN_TMPDIR/moat-podman-rootfs}
  "$PM_REPO/hack/mkrootfs" "$PM_ROOTFS" || fail "hack/mkrootfs $PM_ROOTFS failed"
}

# pm_private_run_dir: from setup, before podman_setup: this test's plugin
# and hook keep their state in $T/run instead of the shared run dir. A
# guard record in another network's directory there keeps the plugin's
# last DEL from deleting moat's tables, which every other test on this
# machine shares (the plugin judges "last" by its own run dir).
pm_private_run_dir() {
  PM_RUN_DIR=$T/run
  # The shipped conflist has "names": dnsmasq, as its own user, reads
  # $PM_RUN_DIR/NET/hosts.d: every directory above must be crossable.
  local d=$T
  while [[ $d == /tmp/?* ]]; do
    chmod o+x "$d"
    d=${d%/*}
  done
  mkdir -p "$PM_RUN_DIR/moat-test-guard"
  echo '{}' >"$PM_RUN_DIR/moat-test-guard/guard@eth0.json"
}

pm_name() { echo "$PFX-$1"; }

# pm_run NAME [OPTION...]: podman run -d; prints podman's output, returns
# its status (use under `run` to assert on a failure).
pm_run() {
  local name=$1 net=(--network "$NET") opt
  shift
  for opt in "$@"; do
    [[ $opt != --network* && $opt != --net=* ]] || net=()
  done
  pm_name "$name" >>"$T/podman-containers"
  local -a cmd=(sleep 100000)
  [[ -z ${PM_CMD-} ]] || cmd=(sh -c "$PM_CMD")
  pm run -d --name "$(pm_name "$name")" "${net[@]}" --read-only -v "$T:/out" "$@" \
    --rootfs "$PM_ROOTFS" "${cmd[@]}" 2>&1
}

# pm_start NAME [OPTION...]: pm_run, which must succeed.
pm_start() {
  local out
  out=$(pm_run "$@") || fail "podman run $1 failed:" "$out"
  [[ $(pm_state "$1") == running ]] || fail "container $1 is not running:" "$out"
}

pm_inspect() { pm inspect --type container "$(pm_name "$1")"; }
pm_state() { pm_inspect "$1" | jq -r '.[0].State.Status'; }
pm_id() { pm_inspect "$1" | jq -er '.[0].Id' || fail "no container $1"; }
pm_pid() { pm_inspect "$1" | jq -er '.[0].State.Pid | select(. > 0)' || fail "$1 has no pid"; }

# pm_ip NAME: the address podman got from CNI for the test's network.
pm_ip() {
  pm_inspect "$1" | jq -er --arg n "$NET" '.[0].NetworkSettings.Networks[$n].IPAddress
    | select(. != "")' || fail "container $1 has no address on $NET"
}

# pm_ctr_ip NAME: the IPv4 address the container sees on eth0.
pm_ctr_ip() {
  local out
  out=$(pm exec "$(pm_name "$1")" ip -4 -o addr show dev eth0 2>&1) || fail "no eth0 in $1: $out"
  [[ $out =~ inet\ ([0-9.]+)/ ]] || fail "no IPv4 address on eth0 in $1: $out"
  echo "${BASH_REMATCH[1]}"
}

# pm_exec NAME CMD...: stdout and stderr together, bounded.
pm_exec() {
  local name=$1
  shift
  pm exec "$(pm_name "$name")" timeout 20 "$@" 2>&1
}

pm_listening() {
  local out
  out=$(nsenter --net="/proc/$(pm_pid "$1")/ns/net" ss -Hln --tcp "sport = :$2") || return 1
  [[ -n $out ]]
}

# pm_serve NAME PORT: busybox httpd on PORT serving /www.
pm_serve() {
  pm_exec "$1" httpd -p "$2" -h /www >/dev/null || fail "httpd in $1 did not start"
  wait_for 5 pm_listening "$1" "$2"
}

# classify_fetch OUTPUT: ok, refused, timeout or "other: ...".
classify_fetch() {
  if [[ $1 == *"hello from a moat container"* ]]; then
    echo ok
  elif [[ $1 == *refused* ]]; then
    echo refused
  elif [[ $1 == *"timed out"* || -z $1 || $1 == *Terminated* ]]; then
    echo timeout
  else
    echo "other: $1"
  fi
}

# pm_fetch FROM IP PORT: busybox wget from container FROM (at most 3 s);
# FROM "host" fetches from the host with the rootfs' busybox.
pm_fetch() {
  local out
  if [[ $1 == host ]]; then
    out=$(timeout 3 "$PM_ROOTFS/bin/busybox" wget -q -O - "http://$2:$3/" 2>&1) || true
  else
    out=$(pm exec "$(pm_name "$1")" timeout 3 wget -q -O - "http://$2:$3/" 2>&1) || true
  fi
  classify_fetch "$out"
}

# pm_tcp_echo FROM IP PORT: a line over busybox nc from FROM to a
# `nc -ll -e serve` listener; prints the reply (empty when none).
pm_tcp_echo() {
  printf '%s\n' "$4" | pm exec -i "$(pm_name "$1")" timeout 5 nc -w 2 "$2" "$3" 2>&1 || true
}

# pm_record NAME: container NAME's attachment record (must exist).
pm_record() {
  local id f
  id=$(pm_id "$1") || return 1
  f=$(pm_records_of "$id")
  [[ -n $f && $f != *$'\n'* ]] || fail "$1 ($id): expected one record, found: ${f:-none}"
  cat "$f"
}

# pm_words NAME: what names container NAME in moat's state and the
# kernel (id, host end, MAC, address), for pm_nothing_left once it is gone.
pm_words() {
  local rec
  rec=$(pm_record "$1") || return 1
  jq -r '.containerId, .hostIf, .mac, (.address | tostring | split("/")[0])' <<<"$rec"
}

# pm_records_of ID: the plugin's records of container ID under the run dir.
pm_records_of() {
  find "$PM_RUN_DIR" -mindepth 2 -maxdepth 2 -name "$1@*.json" 2>/dev/null || true
}

# pm_nothing_left LINKS_BEFORE ID IP MAC...: the test's network left
# nothing but what a last DEL keeps (assert_nothing_left's checks against
# $PM_RUN_DIR: its bridge with no port, and its element), and neither did
# the given containers (ids, addresses, MACs: no record, no ids/ entry, no
# nft element naming them).
pm_nothing_left() {
  local before=$1 id
  shift
  bridge_left_empty "$BR" || fail "bridge $BR left with ports: $(bridge_ports "$BR")"
  assert_eq "$(find "$PM_RUN_DIR/$NET" -maxdepth 1 -name '*.json' 2>/dev/null)" "" \
    "records left in $PM_RUN_DIR/$NET"
  assert_eq "$(find "$PM_RUN_DIR/$NET/ipam" -mindepth 1 -name '10.*' 2>/dev/null)" "" \
    "addresses left in $PM_RUN_DIR/$NET/ipam"
  for id in "$@"; do
    [[ ! $id =~ ^[0-9a-f]{64}$ ]] || assert_eq "$(pm_records_of "$id")" "" "records of $id"
  done
  assert_eq "$(nft_elems_matching "$NETPFX." "$BR" "$@" | grep -v '^inet bridges ' || true)" "" \
    "nft elements left"
  assert_eq "$(new_moat_links "$before")" "" "new moat host links"
}

# podman_teardown: from teardown, before teardown_moat_net. Removes every
# container of the private root (poststop hooks run, CNI DEL runs), and
# then the private directories; anything podman left mounted under $PM is
# unmounted first.
podman_teardown() {
  [[ -f ${T-}/podman-dir ]] || return 0
  PM=$(cat "$T/podman-dir")
  [[ -n $PM && -d $PM ]] || return 0
  local ids m
  ids=$(pm ps -aq 2>/dev/null) || ids=
  if [[ -n $ids ]]; then
    # shellcheck disable=SC2086 # ids split on whitespace
    pm rm -f -t 0 $ids >"$T/podman-rm.log" 2>&1 ||
      echo "# teardown: podman rm: $(cat "$T/podman-rm.log")" >&2
  fi
  ids=$(pm ps -aq 2>/dev/null) || ids=
  [[ -z $ids ]] || echo "# teardown: podman still lists: $ids" >&2
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v p="$PM/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  rm -rf "$PM"
  if [[ ${PM_RUN_DIR-} == "$T/run" ]]; then
    rm -rf "$T/run"
  fi
}
