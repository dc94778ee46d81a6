# shellcheck shell=bash disable=SC2016 # jq programs in single quotes
# A private containerd for moat's Kubernetes tests (bats/containerd.bats):
# Debian's containerd 1.6 with its CRI plugin, started by the test with
# everything under $CT (a short /tmp directory: socket paths must fit in
# 108 bytes): root, state, the gRPC socket, config.toml, the CNI plugin
# directory ($CT/cni-bin: moat from $MOAT_BUILD, Debian's loopback,
# host-local and portmap) and the CNI configuration directory ($CT/net.d,
# one list per test). /etc/containerd and the system's containerd are never
# read or touched. Load after helpers:
#
#   load helpers
#   load containerd
#   setup_file()    { ctrd_start; }
#   teardown_file() { ctrd_stop; }
#   setup()         { setup_moat_net; ctrd_setup; }
#   teardown()      { ctrd_teardown; teardown_moat_net; }
#
# The sandbox ("pause") image $CTRD_IMAGE is hack/mkrootfs's busybox with
# `sleep` as its entrypoint, written as a docker archive here (no registry)
# and imported with `ctr images import`. CRI calls go through hack/cri/cri.js
# (a CRI v1 client; `npm ci` in hack/cri, hack/install-deps.sh does it).
# moat-runtime runs as ctr's runc binary from $CT/bin, next to
# $CT/libexec/moat/moat-hook: the layout it finds its hook in when installed.

CTRD=${CTRD:-/usr/bin/containerd}
CTRD_CTR=${CTRD_CTR:-/usr/bin/ctr}
CTRD_RUNC=${CTRD_RUNC:-/usr/sbin/runc}
CTRD_IMAGE=docker.io/moat/pause:test
CTRD_NS=k8s.io
CTRD_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CRI_JS=$CTRD_REPO/hack/cri/cri.js

ctrd_dir_file() { echo "$BATS_FILE_TMPDIR/containerd-dir"; }

# ctr ARGS...: the ctr client against the private daemon, namespace k8s.io.
ctr() { timeout 60 "$CTRD_CTR" --address "$CT/c.sock" --namespace "$CTRD_NS" "$@"; }

# cri METHOD [REQUEST_JSON]: one CRI v1 call; the reply's JSON on stdout.
cri() { node "$CRI_JS" "$CT/c.sock" "$@"; }

ctrd_alive() { [[ -n ${CTRD_PID-} ]] && kill -0 "$CTRD_PID" 2>/dev/null; }

ctrd_ready() {
  cri Version >/dev/null 2>&1 && return 0
  ctrd_alive || fail "containerd exited:" "$(tail -n 20 "$CT/containerd.log")"
  return 1
}

ctrd_config() {
  cat <<EOF
version = 2
root = "$CT/root"
state = "$CT/state"
[grpc]
  address = "$CT/c.sock"
[ttrpc]
  address = "$CT/c.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CTRD_IMAGE"
  disable_apparmor = true
  # The pause container's oom_score_adj (-998) no lower than containerd's
  # own: a machine that is itself a container may refuse a lower one.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$CTRD_RUNC"
        Root = "$CT/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CT/cni-bin"
    conf_dir = "$CT/net.d"
    max_conf_num = 1
EOF
}

# ctrd_image_archive DIR OUT: a docker archive (docker save's format) of
# one layer, the rootfs DIR, tagged $CTRD_IMAGE, entrypoint `sleep`.
ctrd_image_archive() {
  local rootfs=$1 out=$2 work layer_sum config config_sum
  work=$(mktemp -d "$CT/image.XXXXXX")
  tar -C "$rootfs" --numeric-owner -cf "$work/layer.tar" .
  layer_sum=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  mkdir "$work/$layer_sum"
  mv "$work/layer.tar" "$work/$layer_sum/layer.tar"
  config=$(jq -nc --arg diff "sha256:$layer_sum" '{architecture: "amd64", os: "linux",
    config: {Env: ["PATH=/bin"], Entrypoint: ["/bin/sleep", "2147483647"]},
    rootfs: {type: "layers", diff_ids: [$diff]}}')
  config_sum=$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
  printf '%s' "$config" >"$work/$config_sum.json"
  jq -nc --arg c "$config_sum.json" --arg l "$layer_sum/layer.tar" --arg tag "$CTRD_IMAGE" \
    '[{Config: $c, RepoTags: [$tag], Layers: [$l]}]' >"$work/manifest.json"
  tar -C "$work" -cf "$out" manifest.json "$config_sum.json" "$layer_sum"
  rm -rf "$work"
}

# ctrd_start: from setup_file. The directories, the plugins, containerd
# (all fds closed, so that bats does not wait for it), the image.
ctrd_start() {
  [[ $EUID -eq 0 ]] || fail "the containerd tests need root"
  [[ -x $CTRD && -x $CTRD_CTR ]] || fail "containerd not installed ($CTRD, $CTRD_CTR)"
  [[ -d $CTRD_REPO/hack/cri/node_modules/@grpc/grpc-js ]] ||
    fail "the CRI client's modules are missing: run hack/install-deps.sh (npm ci in hack/cri)"
  [[ -x $MOAT_BUILD/moat && -x $MOAT_BUILD/moat-runtime && -x $MOAT_BUILD/moat-hook ]] ||
    fail "not built: $MOAT_BUILD/moat, moat-runtime, moat-hook (run make all)"
  CT=$(mktemp -d /tmp/moat-ct.XXXXXX)
  echo "$CT" >"$(ctrd_dir_file)"
  # The shims' sockets go to /run/containerd/s whatever the config says:
  # if this test makes /run/containerd, ctrd_stop removes it (when empty).
  [[ -e /run/containerd ]] || touch "$CT/made-run-containerd"
  mkdir -p "$CT/cni-bin" "$CT/net.d" "$CT/networks" "$CT/rootfs" "$CT/bin" "$CT/libexec/moat"
  ln -s "${CTRD_MOAT:-$MOAT_BUILD/moat}" "$CT/cni-bin/moat"
  local p
  for p in loopback host-local portmap; do ln -s "$HOST_IPAM_DIR/$p" "$CT/cni-bin/$p"; done
  cp "$MOAT_BUILD/moat-runtime" "$CT/bin/moat-runtime"
  cp "$MOAT_BUILD/moat-hook" "$CT/libexec/moat/moat-hook"
  ctrd_config >"$CT/config.toml"
  # The plugin, the shim and moat-runtime's hook inherit this environment:
  # moat's run directory, the hook's networks and its CNI_PATH.
  MOAT_NETWORK_DIRS=$CT/networks CNI_PATH=$HOST_IPAM_DIR \
    "$CTRD" --config "$CT/config.toml" --log-level info \
    </dev/null >"$CT/containerd.log" 2>&1 3>&- &
  CTRD_PID=$!
  echo "$CTRD_PID" >"$CT/pid"
  wait_for 30 ctrd_ready || fail "containerd not ready:" "$(tail -n 20 "$CT/containerd.log")"
  "$CTRD_REPO/hack/mkrootfs" "$CT/rootfs" >/dev/null || fail "hack/mkrootfs failed"
  ctrd_image_archive "$CT/rootfs" "$CT/pause.tar"
  ctr images import --snapshotter native "$CT/pause.tar" >/dev/null || fail "ctr images import failed"
  rm -f "$CT/pause.tar"
}

# The containerd-shim-runc-v2 processes this daemon started (their
# -address names our socket).
ctrd_shims() { pgrep -f -- "-address $CT/c.sock" 2>/dev/null || true; }

# ctrd_stop: from teardown_file. Removes every pod and container left,
# stops containerd and its shims, removes their mounts and the directory.
ctrd_stop() {
  CT=$(cat "$(ctrd_dir_file)" 2>/dev/null) || return 0
  [[ -n $CT && -d $CT ]] || return 0
  local pid m shim
  pid=$(cat "$CT/pid" 2>/dev/null) || pid=
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    ctrd_remove_all
    for shim in $(ctrd_shims); do kill "$shim" 2>/dev/null || true; done
    kill "$pid"
    wait_for 20 proc_gone "$pid" || {
      echo "# teardown: containerd $pid ignores SIGTERM; killing it" >&2
      kill -9 "$pid" 2>/dev/null || true
    }
  fi
  for shim in $(ctrd_shims); do
    wait_for 5 proc_gone "$shim" || kill -9 "$shim" 2>/dev/null || true
  done
  # Mounts containerd should have removed (rootfs binds, netns, shm).
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$CT/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r)
  if [[ -e $CT/made-run-containerd ]]; then
    rmdir /run/containerd/s /run/containerd 2>/dev/null ||
      echo "# teardown: /run/containerd not empty: $(ls -A /run/containerd 2>&1)" >&2
  fi
  [[ -z ${CTRD_KEEP_LOG-} ]] || cp "$CT/containerd.log" "$CTRD_KEEP_LOG"
  rm -rf "$CT"
}

# proc_gone PID: no such process, or only its zombie.
proc_gone() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  [[ ${stat%% *} == Z ]]
}

# ctrd_remove_all: every pod (stop, remove: the plugin's DEL) and every
# ctr container (kill, delete: the hook's poststop) of this daemon.
ctrd_remove_all() {
  local id
  for id in $(cri ListPodSandbox 2>/dev/null | jq -r '.items[].id' 2>/dev/null); do
    cri StopPodSandbox "$(jq -nc --arg id "$id" '{pod_sandbox_id: $id}')" >/dev/null 2>&1 ||
      echo "# teardown: StopPodSandbox $id failed" >&2
    cri RemovePodSandbox "$(jq -nc --arg id "$id" '{pod_sandbox_id: $id}')" >/dev/null 2>&1 ||
      echo "# teardown: RemovePodSandbox $id failed" >&2
  done
  for id in $(ctr containers ls -q 2>/dev/null); do
    ctr task kill -s KILL "$id" >/dev/null 2>&1 || true
    wait_for 10 ctrd_task_gone "$id" || true
    ctr task delete "$id" >/dev/null 2>&1 || true
    ctr containers delete "$id" >/dev/null 2>&1 ||
      echo "# teardown: ctr containers delete $id failed" >&2
  done
}

ctrd_task_gone() { ! ctr task ls -q 2>/dev/null | grep -qx "$1" || [[ $(ctrd_task_status "$1") == STOPPED ]]; }
ctrd_task_status() { ctr task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
ctrd_task_pid() { ctr task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'; }

# ctrd_setup: from setup, after setup_moat_net. The test's network as the
# CRI plugin's list (host-local keeping its leases in $T/ipam) and as the
# hook's network ($CT/networks/$NET.conf); waits until the plugin has
# loaded the list.
ctrd_setup() {
  CT=$(cat "$(ctrd_dir_file)") || fail "ctrd_start did not run"
  CTRD_PID=$(cat "$CT/pid")
  : >"$T/pods"
  : >"$T/ctr-containers"
  jq --arg net "$NET" --arg br "$BR" --arg sub "$SUBNET" --arg ipam "$T/ipam" '
    .name = $net
    | .plugins |= map(if .type == "moat"
        then .bridge = $br | .ipam.ranges = [[{subnet: $sub}]] | .ipam.dataDir = $ipam
        else . end)' "$CTRD_REPO/conf/kubernetes/10-moat.conflist" >"$CT/net.d/.10-moat.conflist"
  mv "$CT/net.d/.10-moat.conflist" "$CT/net.d/10-moat.conflist"
  printf '%s\n' "$MOAT_CONF" >"$CT/networks/$NET.conf"
  wait_for 20 ctrd_cni_loaded || fail "containerd did not load $NET:" \
    "$(cri Status '{"verbose": true}' 2>&1 | jq -r '.info.cniconfig // .' 2>&1 | head -c 2000)"
}

ctrd_cni_loaded() {
  cri Status '{"verbose": true}' | jq -e --arg net "$NET" \
    '.info.cniconfig | fromjson | .Networks | any(.Config.Name == $net)' >/dev/null
}

# ctrd_teardown: from teardown, before teardown_moat_net. This test's pods
# and containers go (their DEL and poststop), and its network files.
ctrd_teardown() {
  [[ -n ${CT-} ]] || return 0
  ctrd_remove_all
  rm -f "$CT/net.d/10-moat.conflist" "$CT/networks/$NET.conf"
}

# ---------------------------------------------------------------- pods

# pod_run NAME LABELS [PORT_MAPPINGS_JSON]: RunPodSandbox for pod NAME
# (namespace ns-$PFX) with io.moat.labels=LABELS; the pod's netns gets the
# name $PFX$NAME (ip netns attach to the pause process, for the traffic
# helpers). Sets nothing; pod_id NAME, pod_ip NAME read what it got.
pod_run() {
  local name=$1 labels=$2 maps=${3:-[]} req reply id info pid
  req=$(jq -nc --arg name "$name" --arg ns "ns-$PFX" --arg labels "$labels" --argjson maps "$maps" '
    {config: {metadata: {name: $name, uid: ($ns + "-" + $name), namespace: $ns, attempt: 0},
              hostname: $name,
              annotations: {"io.moat.labels": $labels},
              port_mappings: $maps}}')
  reply=$(cri RunPodSandbox "$req") || return 1
  id=$(jq -r .pod_sandbox_id <<<"$reply")
  echo "$name $id" >>"$T/pods"
  info=$(cri PodSandboxStatus "$(jq -nc --arg id "$id" '{pod_sandbox_id: $id, verbose: true}')") || return 1
  printf '%s\n' "$info" >"$T/status.$name"
  pid=$(jq -r '.info.info | fromjson | .pid' <<<"$info")
  [[ $pid =~ ^[0-9]+$ && $pid -gt 0 ]] || fail "pod $name: no pause pid in its status"
  ip netns attach "$PFX$name" "$pid"
  echo "$PFX$name" >>"$T/netns"
}

pod_id() { awk -v n="$1" '$1 == n { print $2 }' "$T/pods"; }
pod_ip() { jq -er '.status.network.ip' "$T/status.$1"; }
pod_req() { jq -nc --arg id "$(pod_id "$1")" '{pod_sandbox_id: $id}'; }

# pod_remove NAME: StopPodSandbox then RemovePodSandbox, as the kubelet does.
pod_remove() {
  cri StopPodSandbox "$(pod_req "$1")" >/dev/null || return 1
  cri RemovePodSandbox "$(pod_req "$1")" >/dev/null
}

# ---------------------------------------------------------------- ctr run

# ctr_run NAME ARGS...: `ctr run -d` of the image as container $PFX-NAME
# through moat-runtime ($CT/bin/moat-runtime as the runc binary), ARGS
# (ctr's options) before the image, `sleep` as the command; its netns gets
# the name $PFX$NAME.
ctr_run() {
  local name=$1 pid
  shift
  echo "$PFX-$name" >>"$T/ctr-containers"
  ctr run -d --snapshotter native --runc-binary "$CT/bin/moat-runtime" --runc-root "$CT/runc" \
    --fifo-dir "$CT/fifo" "$@" \
    "$CTRD_IMAGE" "$PFX-$name" /bin/sleep 100000 || return 1
  wait_for 10 ctrd_task_running "$PFX-$name" || fail "container $name is not running"
  pid=$(ctrd_task_pid "$PFX-$name")
  ip netns attach "$PFX$name" "$pid"
  echo "$PFX$name" >>"$T/netns"
}

ctrd_task_running() { [[ $(ctrd_task_status "$1") == RUNNING ]]; }

# ctr_remove NAME: kill the task, delete it and the container (poststop).
ctr_remove() {
  local id=$PFX-$1
  ctr task kill -s KILL "$id" >/dev/null || return 1
  wait_for 10 ctrd_task_gone "$id" || return 1
  ctr task delete "$id" >/dev/null || return 1
  ctr containers delete "$id" >/dev/null
}
