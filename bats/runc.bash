# shellcheck shell=bash disable=SC2016 # jq programs in single quotes
# Real runc containers for the integration tests, wired as podman wires
# them: the test makes the namespace and runs CNI ADD (add_container NAME),
# then `runc run` starts a busybox container (rootfs: hack/mkrootfs) that
# joins that namespace, with moat-hook at the OCI hook stages in its
# config.json. Load after helpers:
#
#   load helpers
#   load runc
#   setup()    { setup_moat_net; runc_setup; }
#   teardown() { runc_teardown; teardown_moat_net; }
#
# Container NAME has the runc id $(cid_of NAME) = "$PFX-NAME", the CNI
# container id add_container NAME used, so the hook finds the attachment by
# id. Its bundle is $T/ctr/NAME (config.json, pid, runc.log); the runc root is
# /run/moat-test-runc-$PFX.
#
# Inside a container: busybox in /bin (hack/mkrootfs lists the applets), the
# host's /usr read-only at /usr (socat, as busybox nc has no UDP), the test's
# $T at /out (so a server there appends to $T/received and $T/peers, which
# helpers.bash's `received` and `peer_of` read), tmpfs /tmp and /dev.
#
# Knobs, read when a container is created (set them before ctr_create, or
# for one call: CTR_NO_HOOKS=1 ctr_start a):
#   CTR_HOOK_STAGES  stages that run the hook (default "prestart poststop";
#                    any of createRuntime createContainer startContainer
#                    prestart poststart poststop; "" for none)
#   CTR_NO_HOOKS=1   no hook at all (the hook binary need not exist)
#   CTR_HOOK         the hook binary (default $MOAT_BUILD/moat-hook)
#   CTR_HOOK_ENV     extra "K=V" words for the hook's environment (besides
#                    MOAT_RUN_DIR and PATH)
#   CTR_HOOK_TIMEOUT seconds runc gives the hook (default 10)
#   CTR_CMD          the container's process, run by `sh -c` (default: sleep)
#   CTR_CAPS         its capabilities (default "CAP_NET_BIND_SERVICE
#                    CAP_NET_RAW CAP_KILL"; add CAP_NET_ADMIN to let it
#                    change its own address)
#   CTR_NETNS        its network namespace: a path, "new" for a namespace of
#                    its own (for hook-driven attach), default
#                    /run/netns/$(ns_of NAME)
#   CTR_TIMEOUT      seconds a ctr_exec may take (default 20)
#   CTR_CONNECT_TIMEOUT  nc's -w in ctr_tcp_connect (default 2)

RUNC=${RUNC:-runc}
MKROOTFS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/hack/mkrootfs

# runc_setup: once per test, after setup_moat_net. Makes this test's runc
# root and bundle dir, and the run's shared rootfs the first time.
runc_setup() {
  [[ -n ${PFX-} && -n ${T-} ]] || fail "runc_setup: call setup_moat_net first"
  command -v "$RUNC" >/dev/null || fail "runc not installed ($RUNC)"
  RUNC_ROOT=/run/moat-test-runc-$PFX
  CTR_DIR=$T/ctr
  ROOTFS=${MOAT_ROOTFS:-$BATS_RUN_TMPDIR/moat-rootfs}
  mkdir -p "$RUNC_ROOT" "$CTR_DIR"
  : >"$T/containers"
  "$MKROOTFS" "$ROOTFS" || fail "hack/mkrootfs $ROOTFS failed"
}

# rc ARGS...: runc with this test's root.
rc() { "$RUNC" --root "$RUNC_ROOT" "$@"; }

# ctr_annotations [ANNOTATION...]: one JSON object from arguments that are
# each KEY=VALUE (split at the first "=") or a JSON object; later ones win.
ctr_annotations() {
  local arg json='{}'
  for arg in "$@"; do
    if [[ $arg == '{'* ]]; then
      json=$(jq -c --argjson a "$arg" '. + $a' <<<"$json") || fail "bad annotations JSON: $arg"
    elif [[ $arg == ?*=* ]]; then
      json=$(jq -c --arg k "${arg%%=*}" --arg v "${arg#*=}" '. + {($k): $v}' <<<"$json")
    else
      fail "annotation '$arg' is neither KEY=VALUE nor a JSON object"
    fi
  done
  echo "$json"
}

# ctr_hook_stages: the stages the next container gets the hook at.
ctr_hook_stages() {
  if [[ -n ${CTR_NO_HOOKS-} ]]; then
    echo ""
  else
    echo "${CTR_HOOK_STAGES-prestart poststop}"
  fi
}

# ctr_config NAME [ANNOTATION...]: config.json (OCI 1.0.2) for container
# NAME, shaped by the CTR_* knobs above.
ctr_config() {
  local name=$1 annotations stages netns cmd_json
  shift
  annotations=$(ctr_annotations "$@") || return 1
  stages=$(ctr_hook_stages)
  netns=${CTR_NETNS:-/run/netns/$(ns_of "$name")}
  if [[ -n ${CTR_CMD-} ]]; then
    cmd_json=$(jq -nc --arg c "$CTR_CMD" '["sh", "-c", $c]')
  else
    cmd_json='["sleep", "100000"]'
  fi
  jq -n --arg rootfs "$ROOTFS" --arg netns "$netns" --arg out "$T" --arg host "$name" \
    --arg hook "${CTR_HOOK:-$MOAT_BUILD/moat-hook}" --arg run "$MOAT_RUN_DIR" \
    --arg hookenv "${CTR_HOOK_ENV-}" --argjson timeout "${CTR_HOOK_TIMEOUT:-10}" \
    --arg stages "$stages" --arg caps "${CTR_CAPS-CAP_NET_BIND_SERVICE CAP_NET_RAW CAP_KILL}" \
    --argjson annotations "$annotations" --argjson args "$cmd_json" '
    def words: [splits(" +") | select(length > 0)];
    def hook($stage): {path: $hook, args: ["moat-hook", $stage],
                       env: (["MOAT_RUN_DIR=" + $run, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
                             + ($hookenv | words)),
                       timeout: $timeout};
    ($caps | words) as $caps
    | {ociVersion: "1.0.2",
       process: {terminal: false, user: {uid: 0, gid: 0}, args: $args,
                 env: ["PATH=/bin:/usr/bin", "HOME=/"], cwd: "/", noNewPrivileges: true,
                 capabilities: {bounding: $caps, effective: $caps, permitted: $caps}},
       root: {path: $rootfs, readonly: true},
       hostname: $host,
       mounts: [{destination: "/proc", type: "proc", source: "proc"},
                {destination: "/dev", type: "tmpfs", source: "tmpfs",
                 options: ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {destination: "/sys", type: "sysfs", source: "sysfs",
                 options: ["nosuid", "noexec", "nodev", "ro"]},
                {destination: "/tmp", type: "tmpfs", source: "tmpfs",
                 options: ["nosuid", "nodev", "mode=1777"]},
                {destination: "/usr", type: "bind", source: "/usr",
                 options: ["rbind", "ro", "nosuid", "nodev"]},
                {destination: "/out", type: "bind", source: $out,
                 options: ["rbind", "rw", "nosuid", "nodev"]}],
       annotations: $annotations,
       hooks: ($stages | words | map({key: ., value: [hook(.)]}) | from_entries),
       linux: {namespaces: [{type: "pid"}, {type: "ipc"}, {type: "uts"}, {type: "mount"},
                            ({type: "network"} + if $netns == "new" then {}
                                                 else {path: $netns} end)],
               maskedPaths: ["/proc/kcore", "/proc/keys", "/proc/timer_list",
                             "/sys/firmware"],
               readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                               "/proc/sysrq-trigger"]}}'
}

# ctr_create NAME [ANNOTATION...]: writes the bundle of container NAME and
# `runc run -d`s it (hooks run now: createRuntime, createContainer,
# prestart, then startContainer, poststart). Prints runc's output, which
# holds a failing hook's stderr; returns runc's status. Use under `run` to
# assert on a failure. The container's stdio is $T/ctr/NAME/runc.log, so
# nothing holds bats' pipes open.
ctr_create() {
  local name=$1 bundle=$CTR_DIR/$1 stages status=0
  [[ -n ${RUNC_ROOT-} ]] || fail "ctr_create: call runc_setup first"
  stages=$(ctr_hook_stages)
  if [[ -n $stages && ! -x ${CTR_HOOK:-$MOAT_BUILD/moat-hook} ]]; then
    fail "hook not built: ${CTR_HOOK:-$MOAT_BUILD/moat-hook} (or set CTR_NO_HOOKS=1)"
  fi
  mkdir -p "$bundle"
  rm -f "$bundle/pid"
  ctr_config "$@" >"$bundle/config.json" || fail "ctr_create: cannot write $bundle/config.json"
  # Recorded first: teardown deletes whatever runc left, even on failure.
  cid_of "$name" >>"$T/containers"
  rc run -d --pid-file "$bundle/pid" --bundle "$bundle" "$(cid_of "$name")" \
    </dev/null >"$bundle/runc.log" 2>&1 || status=$?
  cat "$bundle/runc.log"
  return "$status"
}

# ctr_run: ctr_create's earlier name.
ctr_run() { ctr_create "$@"; }

# ctr_start NAME [ANNOTATION...]: CNI ADD (add_container NAME), then
# ctr_create; both must succeed and the container must be running.
# (With CTR_NETNS set, no CNI ADD: the namespace is the caller's business.)
ctr_start() {
  local out
  [[ -n ${CTR_NETNS-} ]] || add_container "$1"
  out=$(ctr_create "$@") || fail "runc run $1 failed:" "$out"
  ctr_running "$1" || fail "container $1 is not running:" "$out"
}

# ctr_state NAME: runc's state JSON; ctr_status NAME: its status (created,
# running, stopped; empty when runc knows no such container).
ctr_state() { rc state "$(cid_of "$1")" 2>/dev/null; }
ctr_status() { ctr_state "$1" | jq -r '.status // empty' 2>/dev/null; }
ctr_running() { [[ $(ctr_status "$1") == running ]]; }
ctr_gone() { ! rc state "$(cid_of "$1")" >/dev/null 2>&1; }
# ctr_pid NAME: the host pid of the container's first process.
ctr_pid() { cat "$CTR_DIR/$1/pid" 2>/dev/null || fail "container $1 has no pid file"; }

# ctr_exec NAME CMD...: runs CMD in the container (busybox applets, or
# /usr/bin tools of the host), stdin passed on; stdout and stderr together;
# CMD's exit status (124 or more when it took longer than $CTR_TIMEOUT).
ctr_exec() {
  local name=$1
  shift
  timeout "${CTR_TIMEOUT:-20}" "$RUNC" --root "$RUNC_ROOT" exec "$(cid_of "$name")" "$@" 2>&1
}

# ctr_exec_bg NAME CMD...: starts CMD in the container in the background
# (it ends when the container does), its output to $T/ctr/NAME/bg.log.
# A shell inside starts it and exits, so CMD's parent becomes the
# container's init, which reaps it when the container is killed. (With
# `runc exec -d`, CMD's parent would be the host's init, which here reaps
# lazily, and a killed container stays "running" until it has: ~1.5 s.)
ctr_exec_bg() {
  local name=$1 out
  shift
  out=$(rc exec "$(cid_of "$name")" sh -c \
    'exec </dev/null >>"/out/ctr/$0/bg.log" 2>&1; "$@" &' "$name" "$@" </dev/null 2>&1) ||
    fail "runc exec in $name failed: $*" "$out"
}

# ctr_listening NAME tcp|udp PORT: a socket listens on PORT in the
# container's network namespace.
ctr_listening() {
  local out
  out=$(nsenter --net="/proc/$(ctr_pid "$1")/ns/net" ss -Hln --"$2" "sport = :$3") || return 1
  [[ -n $out ]]
}

# ctr_ip NAME [IFNAME]: the IPv4 address the container sees on IFNAME (eth0).
ctr_ip() {
  local out
  out=$(ctr_exec "$1" ip -4 -o addr show dev "${2:-eth0}") || return 1
  [[ $out =~ inet\ ([0-9.]+)/ ]] || fail "no IPv4 address on ${2:-eth0} in $1: $out"
  echo "${BASH_REMATCH[1]}"
}

# ---------------------------------------------------------------- traffic
# The same contract as helpers.bash's ns_* helpers, from inside containers:
# servers log the line they get to $T/received and "LINE PEER" to $T/peers
# (so `received TOKEN` and `peer_of TOKEN` work) and answer "reply LINE";
# a connect prints ok, refused, unreachable, timeout or "other: ..." (see
# classify) and succeeds only on ok. $PROBE_TOKEN names the token.

# ctr_tcp_listen NAME PORT: busybox `nc -ll -e serve` on PORT (every
# address), one answer per connection.
ctr_tcp_listen() {
  ctr_exec_bg "$1" nc -ll -p "$2" -e /bin/serve
  wait_for 5 ctr_listening "$1" tcp "$2"
}

# ctr_udp_listen NAME PORT: socat (the host's, busybox nc has no UDP) on
# UDP PORT, one answer per datagram.
ctr_udp_listen() {
  ctr_exec_bg "$1" /usr/bin/socat "UDP4-RECVFROM:$2,fork" EXEC:/bin/serve
  wait_for 5 ctr_listening "$1" udp "$2"
}

# ctr_tcp_connect NAME IP PORT: busybox nc from container NAME, connect
# timeout $CTR_CONNECT_TIMEOUT (2 s); a reset says "Connection refused" at
# once, an ICMP unreachable "No route to host".
ctr_tcp_connect() {
  local token=${PROBE_TOKEN:-tcp-$RANDOM$RANDOM} out rc=0 wait=${CTR_CONNECT_TIMEOUT:-2}
  out=$(printf '%s\n' "$token" |
    ctr_exec "$1" timeout $((wait + 3)) nc -w "$wait" "$2" "$3") || rc=$?
  out=$(classify "$out" "$rc" "$token")
  echo "$out"
  [[ $out == ok ]]
}

# ctr_udp_connect NAME IP PORT: one datagram from container NAME (socat),
# then at most 2 s for the reply.
ctr_udp_connect() {
  local token=${PROBE_TOKEN:-udp-$RANDOM$RANDOM} out rc=0
  out=$(printf '%s\n' "$token" |
    ctr_exec "$1" timeout 5 /usr/bin/socat -t1 -T2 - "UDP4:$2:$3") || rc=$?
  out=$(classify "$out" "$rc" "$token")
  echo "$out"
  [[ $out == ok ]]
}

# ctr_serve NAME PORT: busybox httpd serving /www (index.html says "hello
# from a moat container") on PORT.
ctr_serve() {
  ctr_exec "$1" httpd -p "$2" -h /www >/dev/null || fail "httpd in $1 did not start"
  wait_for 5 ctr_listening "$1" tcp "$2"
}

# ctr_fetch FROM IP PORT: busybox wget from container FROM; prints ok when
# the page came back, refused on a reset, timeout when nothing answered
# within 3 s. (Not wget -T: Debian 12's busybox-static wget segfaults with
# it once connected.)
ctr_fetch() {
  local out
  out=$(ctr_exec "$1" timeout 3 wget -q -O - "http://$2:$3/") || true
  if [[ $out == *"hello from a moat container"* ]]; then
    echo ok
  elif [[ $out == *"refused"* ]]; then
    echo refused
  elif [[ $out == *"timed out"* || -z $out ]]; then
    echo timeout
  else
    echo "other: $out"
  fi
}

# ---------------------------------------------------------------- removal

# runc_stop ID: SIGKILL to container ID (any state); returns once runc
# sees it stopped. (runc delete --force would do it too, but it polls with
# kill(pid, 0), which a zombie passes: it waits for the host's init to reap
# the container's init, here up to 2 s. runc state calls a zombie stopped.)
runc_stop() {
  local status
  status=$(rc state "$1" 2>/dev/null | jq -r .status) || return 0
  [[ $status == stopped ]] && return 0
  rc kill "$1" KILL >/dev/null 2>&1 || true
  wait_for 10 eval "[[ \$(rc state $1 2>/dev/null | jq -r .status) != @(running|created|paused) ]]"
}

# ctr_kill NAME: SIGKILL to the container; returns once it has stopped.
ctr_kill() { runc_stop "$(cid_of "$1")"; }

# ctr_delete NAME: kills the container and `runc delete`s it (poststop runs
# then), then CNI DEL (del_container; not with CTR_NETNS set). Fails when
# runc delete fails, e.g. on a failing poststop hook (its output in
# $T/ctr/NAME/delete.log).
ctr_delete() {
  local name=$1 log=$CTR_DIR/$1/delete.log
  ctr_kill "$name"
  rc delete --force "$(cid_of "$name")" >"$log" 2>&1 ||
    fail "runc delete $name failed:" "$(cat "$log")"
  [[ -n ${CTR_NETNS-} ]] || del_container "$name"
}

# runc_teardown: from teardown, before teardown_moat_net: deletes every
# container this test created (poststop hooks run), whatever state the test
# left it in, then the runc root and the bundles.
runc_teardown() {
  [[ -n ${RUNC_ROOT-} ]] || return 0
  local id
  if [[ -f $T/containers ]]; then
    while read -r id; do
      [[ -n $id ]] || continue
      rc state "$id" >/dev/null 2>&1 || continue
      runc_stop "$id" || echo "# teardown: container $id does not stop" >&2
      rc delete --force "$id" >"$T/teardown-delete.log" 2>&1 ||
        echo "# teardown: runc delete $id: $(cat "$T/teardown-delete.log")" >&2
    done < <(sort -u "$T/containers")
  fi
  # A container that runc no longer knows leaves no state; one that is still
  # listed would be a leak.
  if [[ -n $(rc list -q 2>/dev/null) ]]; then
    echo "# teardown: runc still lists: $(rc list -q)" >&2
  else
    rm -rf "$RUNC_ROOT"
  fi
  rm -rf "$CTR_DIR"
}
