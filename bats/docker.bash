# shellcheck shell=bash
# A private dockerd for moat's docker tests (bats/docker.bats), with
# moat-runtime registered as the runtime "moat". Load after helpers:
#
#   load helpers
#   load docker
#   setup_file()    { dockerd_start; }
#   teardown_file() { dockerd_stop; }
#   setup()         { setup_moat_net; docker_setup; }
#   teardown()      { docker_teardown; teardown_moat_net; }
#
# Debian's dockerd 20.10 (/usr/sbin/dockerd) and its client (/usr/bin/docker,
# not whatever docker comes first in PATH) run with everything private under
# $DK (a short /tmp directory: containerd's socket paths must fit in 108
# bytes): --data-root, --exec-root, --pidfile, the API socket, daemon.json,
# the trust key (else dockerd writes /etc/docker/key.json), and no iptables,
# no ip_forward, no default bridge. daemon.json registers
# $MOAT_BUILD/moat-runtime as "moat" with runtimeArgs naming the hook, runc,
# and the hook's MOAT_RUN_DIR ($DK/run) and MOAT_NETWORK_DIRS ($DK/networks),
# as "moat-nohook" with a hook that does not exist (its errors), and as
# "moat-seen", which keeps the config.json it got and the one runc got.
# The image $DOCKER_IMAGE is hack/mkrootfs's busybox rootfs, `docker import`ed.
#
# Per test: docker_setup points MOAT_RUN_DIR at $DK/run and puts the test's
# network config ($MOAT_CONF, named $NET) into $DK/networks; dk_run records
# each container for docker_teardown, which removes them all (poststop runs).

DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
DOCKER_CLI=${DOCKER_CLI:-/usr/bin/docker}
DOCKER_IMAGE=moat-busybox:test
DOCKER_RUNC=${DOCKER_RUNC:-/usr/sbin/runc}
DK_MKROOTFS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/hack/mkrootfs

# The file's directory, the same in setup_file and in every test.
dk_dir_file() { echo "$BATS_FILE_TMPDIR/dockerd-dir"; }

# dk ARGS...: the docker client against the private daemon.
dk() { timeout 60 "$DOCKER_CLI" -H "unix://$DK/docker.sock" "$@"; }

dockerd_alive() { [[ -n ${DOCKERD_PID-} ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; }

# dockerd_ready: the API answers, or dockerd died (then fail with its log).
dockerd_ready() {
  dk version >/dev/null 2>&1 && return 0
  dockerd_alive || fail "dockerd exited:" "$(tail -n 20 "$DK/dockerd.log")"
  return 1
}

dockerd_daemon_json() {
  jq -n --arg dk "$DK" --arg rt "$MOAT_BUILD/moat-runtime" --arg hook "$MOAT_BUILD/moat-hook" \
    --arg runc "$DOCKER_RUNC" '
    {"deprecated-key-path": ($dk + "/key.json"),
     "runtimes": {"moat": {"path": $rt,
                           "runtimeArgs": ["--moat-hook", $hook, "--moat-runtime", $runc,
                                           "--moat-env", ("MOAT_RUN_DIR=" + $dk + "/run"),
                                           "--moat-env", ("MOAT_NETWORK_DIRS=" + $dk + "/networks"),
                                           "--moat-env", "CNI_PATH=/usr/lib/cni"]},
                  "moat-nohook": {"path": $rt,
                                  "runtimeArgs": ["--moat-hook", "/nonexistent/moat-hook",
                                                  "--moat-runtime", $runc]},
                  "moat-seen": {"path": ($dk + "/seen-before"),
                                "runtimeArgs": ["--moat-hook", $hook,
                                                "--moat-runtime", ($dk + "/seen-after"),
                                                "--moat-env", ("MOAT_RUN_DIR=" + $dk + "/run"),
                                                "--moat-env", ("MOAT_NETWORK_DIRS=" + $dk + "/networks"),
                                                "--moat-env", "CNI_PATH=/usr/lib/cni"]}}}'
}

# dockerd_seen_scripts: the runtime "moat-seen" is moat-runtime between two
# copies of a create's config.json: $DK/seen/ID.before as containerd wrote
# it ($DK/seen-before, then moat-runtime), $DK/seen/ID.after as runc reads
# it ($DK/seen-after, then runc).
dockerd_seen_scripts() {
  local stage next
  mkdir -p "$DK/seen"
  for stage in before after; do
    next=$DOCKER_RUNC
    [[ $stage == after ]] || next=$MOAT_BUILD/moat-runtime
    cat >"$DK/seen-$stage" <<EOF
#!/bin/sh
bundle= id= create= prev=
for a in "\$@"; do
  [ "\$a" = create ] && create=1
  [ "\$prev" = --bundle ] && bundle=\$a
  prev=\$a id=\$a
done
if [ -n "\$create" ] && [ -n "\$bundle" ]; then
  cp "\$bundle/config.json" "$DK/seen/\$id.$stage" || exit 1
fi
exec "$next" "\$@"
EOF
    chmod +x "$DK/seen-$stage"
  done
}

# dockerd_start: from setup_file. Starts the daemon (all fds closed, so that
# bats does not wait for it), waits for its API, imports the image.
dockerd_start() {
  [[ $EUID -eq 0 ]] || fail "the docker tests need root"
  [[ -x $DOCKERD && -x $DOCKER_CLI ]] || fail "docker.io not installed ($DOCKERD, $DOCKER_CLI)"
  [[ -x $MOAT_BUILD/moat-runtime && -x $MOAT_BUILD/moat-hook ]] ||
    fail "not built: $MOAT_BUILD/moat-runtime, moat-hook (run make all)"
  DK=$(mktemp -d /tmp/moat-dk.XXXXXX)
  echo "$DK" >"$(dk_dir_file)"
  mkdir -p "$DK/run" "$DK/networks" "$DK/rootfs"
  dockerd_daemon_json >"$DK/daemon.json"
  dockerd_seen_scripts
  "$DOCKERD" --data-root "$DK/data" --exec-root "$DK/exec" --pidfile "$DK/dockerd.pid" \
    -H "unix://$DK/docker.sock" --config-file "$DK/daemon.json" \
    --iptables=false --ip-forward=false --bridge=none \
    </dev/null >"$DK/dockerd.log" 2>&1 3>&- &
  DOCKERD_PID=$!
  echo "$DOCKERD_PID" >"$DK/pid"
  wait_for 30 dockerd_ready || fail "dockerd not ready:" "$(tail -n 20 "$DK/dockerd.log")"
  "$DK_MKROOTFS" "$DK/rootfs" || fail "hack/mkrootfs failed"
  tar -C "$DK/rootfs" -c . | dk import - "$DOCKER_IMAGE" >/dev/null ||
    fail "docker import failed"
}

# Processes whose parent is $1.
children_of() { pgrep -P "$1" 2>/dev/null || true; }

# proc_gone PID: no such process, or only its zombie (its parent may be
# the shell that ran setup_file, or an init that reaps lazily).
proc_gone() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  [[ ${stat%% *} == Z ]]
}

# dockerd_stop: from teardown_file. Removes every container left, stops
# dockerd (SIGTERM; it stops its containerd) and waits for both, then
# removes what is left of their mounts and the directory.
dockerd_stop() {
  DK=$(cat "$(dk_dir_file)" 2>/dev/null) || return 0
  [[ -n $DK && -d $DK ]] || return 0
  local pid containerd ids m
  pid=$(cat "$DK/pid" 2>/dev/null) || pid=
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    ids=$(dk ps -aq 2>/dev/null) || ids=
    # shellcheck disable=SC2086 # ids split on whitespace
    [[ -z $ids ]] || dk rm -f $ids >/dev/null 2>&1 || echo "# teardown: docker rm -f failed" >&2
    containerd=$(children_of "$pid")
    kill "$pid"
    wait_for 20 proc_gone "$pid" || {
      echo "# teardown: dockerd $pid ignores SIGTERM; killing it" >&2
      kill -9 "$pid" 2>/dev/null || true
    }
    for m in $containerd; do
      wait_for 10 proc_gone "$m" || kill -9 "$m" 2>/dev/null || true
    done
  fi
  # Mounts dockerd should have removed (overlay layers, netns, shm).
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$DK/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r)
  rm -rf "$DK"
}

# docker_setup: from setup, after setup_moat_net.
docker_setup() {
  DK=$(cat "$(dk_dir_file)") || fail "dockerd_start did not run"
  export MOAT_RUN_DIR=$DK/run
  : >"$T/docker-containers"
  printf '%s\n' "$MOAT_CONF" >"$DK/networks/$NET.conf"
}

# dk_run NAME ARGS...: `docker run -d --name $PFX-NAME ARGS...` (ARGS before
# the image: the options; the image and the command are added: sleep).
# Prints docker's output; returns its status. Use under `run` to check a
# refusal.
dk_run() {
  local name=$1
  shift
  echo "$PFX-$name" >>"$T/docker-containers"
  dk run -d --name "$PFX-$name" "$@" "$DOCKER_IMAGE" sleep 100000 2>&1
}

# dk_start NAME ARGS...: dk_run under --runtime moat --network none, with
# the test's network, the test's $T at /out; must come up running.
dk_start() {
  local name=$1 out
  shift
  out=$(dk_run "$name" --runtime moat --network none -v "$T:/out" -e "MOAT_NETWORK=$NET" "$@") ||
    fail "docker run $name failed:" "$out"
  [[ $(dk inspect -f '{{.State.Running}}' "$PFX-$name") == true ]] ||
    fail "container $name is not running"
}

dk_pid() { dk inspect -f '{{.State.Pid}}' "$PFX-$1"; }
dk_id() { dk inspect -f '{{.Id}}' "$PFX-$1"; }

# dk_bundle_config NAME: the config.json containerd gave the runtime.
dk_bundle_config() {
  cat "$DK/exec/containerd/daemon/io.containerd.runtime.v2.task/moby/$(dk_id "$1")/config.json"
}

# dk_exec NAME CMD...: CMD in container NAME, stdin passed on.
dk_exec() {
  local name=$1
  shift
  dk exec -i "$PFX-$name" "$@" 2>&1
}

# dk_ip NAME: the container's eth0 IPv4 address.
dk_ip() {
  local out
  out=$(dk_exec "$1" ip -4 -o addr show dev eth0) || {
    fail "no eth0 in $1: $out"
    return 1
  }
  [[ $out =~ inet\ ([0-9.]+)/ ]] || {
    fail "no IPv4 address on eth0 in $1: $out"
    return 1
  }
  echo "${BASH_REMATCH[1]}"
}

dk_listening() { # NAME PORT
  local out
  out=$(nsenter --net="/proc/$(dk_pid "$1")/ns/net" ss -Hln --tcp "sport = :$2") || return 1
  [[ -n $out ]]
}

# dk_tcp_listen NAME PORT: busybox nc answering each connection with
# /bin/serve (hack/mkrootfs), which logs to /out = $T.
dk_tcp_listen() {
  dk exec -d "$PFX-$1" nc -ll -p "$2" -e /bin/serve >/dev/null || fail "nc in $1 did not start"
  wait_for 5 dk_listening "$1" "$2"
}

# dk_tcp_connect NAME IP PORT: a token to IP:PORT from container NAME;
# prints ok, refused, unreachable, timeout (helpers.bash's classify).
dk_tcp_connect() {
  local token=tcp-$RANDOM$RANDOM out rc=0
  out=$(printf '%s\n' "$token" | dk_exec "$1" timeout 5 nc -w 2 "$2" "$3") || rc=$?
  out=$(classify "$out" "$rc" "$token")
  echo "$out"
  [[ $out == ok ]]
}

# docker_teardown: from teardown, before teardown_moat_net: removes the
# test's containers (poststop hooks run), the docker networks a test
# listed in $T/docker-networks, and its network config.
docker_teardown() {
  [[ -n ${DK-} && -f ${T-}/docker-containers ]] || return 0
  local name
  while read -r name; do
    [[ -z $name ]] || dk rm -f "$name" >/dev/null 2>&1 || true
  done < <(sort -u "$T/docker-containers")
  [[ ! -f $T/docker-networks ]] || while read -r name; do
    [[ -z $name ]] || dk network rm "$name" >/dev/null 2>&1 || true
  done <"$T/docker-networks"
  rm -f "$DK/networks/$NET.conf"
}
