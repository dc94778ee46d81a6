#!/usr/bin/env bats
# Kubernetes without a cluster: the DaemonSet manifest and the node's
# network configuration list checked for what a cluster needs of them, the
# installer run against a stand-in node, and pods attached by the CRI path
# (hack/cri-cni calls the list as containerd and CRI-O do through libcni:
# pod annotations in runtimeConfig, no hook) proven with real traffic.

# shellcheck disable=SC2016 # jq programs in single quotes
load helpers

K8S_DIR=$BATS_TEST_DIRNAME/../conf/kubernetes
CRI_CNI=$BATS_TEST_DIRNAME/../hack/cri-cni

setup() {
  setup_moat_net
  : >"$T/pods"
  # The node's list, pointed at this test's network, bridge and range; the
  # host-local allocations stay in the test's directory.
  K8S_CONF=$T/10-moat.conflist
  jq --arg net "$NET" --arg br "$BR" --arg sub "$SUBNET" --arg ipam "$T/ipam" '
    .name = $net
    | .plugins |= map(if .type == "moat"
        then .bridge = $br | .ipam.ranges = [[{subnet: $sub}]] | .ipam.dataDir = $ipam
        else . end)' "$K8S_DIR/10-moat.conflist" >"$K8S_CONF"
  K8S_CNI_PATH=$MOAT_BUILD:$HOST_IPAM_DIR
}

teardown() {
  local name
  while read -r name; do
    [[ -z $name ]] || cri DEL "$name" >/dev/null 2>&1 ||
      echo "# teardown: DEL of pod $name failed" >&2
  done <"$T/pods"
  teardown_moat_net
}

# cri VERB POD [OPTIONS...]: hack/cri-cni on the test's list for pod POD
# (container id $PFX-POD, netns $PFX$POD, K8S_POD_NAME POD); stdout is its
# stdout, its stderr goes to $T/cri.err (and $T/stderr).
cri() {
  local verb=$1 pod=$2
  shift 2
  timeout 60 "$CRI_CNI" --conflist "${CRI_CONF:-$K8S_CONF}" --cni-path "$K8S_CNI_PATH" \
    --cache-dir "$T/cni-cache" --pod-namespace "ns-$PFX" --pod-name "$pod" "$@" \
    "$verb" "$(cid_of "$pod")" "/run/netns/$(ns_of "$pod")" 2>"$T/cri.err"
  local rc=$?
  cat "$T/cri.err" >>"$T/stderr"
  return $rc
}

# pod NAME ANNOTATIONS_JSON [OPTIONS...]: the pod's netns, then ADD through
# the CRI path with the pod's annotations as the kubelet hands them over.
pod() {
  local name=$1 annotations=$2
  shift 2
  new_netns "$name"
  echo "$name" >>"$T/pods"
  annotations=$(jq -c '. + {"kubernetes.io/config.source": "api",
    "kubernetes.io/config.seen": "2026-11-22T10:00:00.000000000Z"}' <<<"$annotations")
  run -0 cri ADD "$name" --annotations "$annotations" "$@"
  printf '%s\n' "$output" >"$T/result.$name"
  assert_jq "$output" '(.ips[0].address | type) == "string" and (.interfaces | length) == 3'
}

labels() { jq -nc --arg v "$1" '{"io.moat.labels": $v}'; }

tcp_ok() { # FROM TO PORT
  run ns_tcp_connect "$(ns_of "$1")" "$(ip_of "$2")" "$3"
  assert_eq "$output" ok "tcp $1 -> $2:$3"
}
tcp_refused() { # FROM TO PORT
  run ns_tcp_connect "$(ns_of "$1")" "$(ip_of "$2")" "$3"
  assert_eq "$output" refused "tcp $1 -> $2:$3"
}

# Addresses host-local still holds for this test's network.
ipam_leases() {
  find "$T/ipam/$NET" -maxdepth 1 -type f -name '[0-9]*' -printf '%f\n' 2>/dev/null | sort
}

# A stand-in plugin that logs its command, stdin and environment to
# $T/stub.log, then answers like a chained plugin (prevResult passes on).
make_stub() { # TYPE
  mkdir -p "$T/stub"
  cat >"$T/stub/$1" <<EOF
#!/bin/bash
conf=\$(cat)
jq -nc --arg cmd "\$CNI_COMMAND" --arg args "\${CNI_ARGS-}" --arg ifname "\${CNI_IFNAME-}" \\
  --argjson conf "\$conf" '{cmd: \$cmd, args: \$args, ifname: \$ifname, conf: \$conf}' >>"$T/stub.log"
if [[ \$CNI_COMMAND == ADD ]]; then jq -c .prevResult <<<"\$conf"; fi
if [[ \$CNI_COMMAND == VERSION ]]; then echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'; fi
exit 0
EOF
  chmod +x "$T/stub/$1"
}

# ---------------------------------------------------------------- manifests

@test "kubernetes: the DaemonSet manifest has what a cluster needs" {
  run -0 python3 - "$K8S_DIR/moat-daemonset.yaml" <<'EOF'
import sys, yaml

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
problems = []
def need(cond, what):
    if not cond:
        problems.append(what)

kinds = {d["kind"]: d for d in docs}
ds = kinds.get("DaemonSet")
need(ds is not None, "no DaemonSet")
if ds is None:
    sys.exit("\n".join(problems))
need(ds["apiVersion"] == "apps/v1", "DaemonSet apiVersion is not apps/v1")
need(ds["metadata"].get("namespace") == "kube-system", "DaemonSet not in kube-system")
spec = ds["spec"]
tmpl = spec["template"]
pod = tmpl["spec"]
sel = spec["selector"]["matchLabels"]
tlabels = tmpl["metadata"]["labels"]
need(sel and all(tlabels.get(k) == v for k, v in sel.items()),
     "selector %s does not match template labels %s" % (sel, tlabels))
need(pod.get("hostNetwork") is True, "hostNetwork is not true")
tol = pod.get("tolerations") or []
need(any(t.get("operator") == "Exists" and "key" not in t and "effect" not in t for t in tol),
     "no toleration for every taint (operator: Exists, no key, no effect)")

sa = kinds.get("ServiceAccount")
need(sa is not None, "no ServiceAccount")
if sa:
    need(pod.get("serviceAccountName") == sa["metadata"]["name"], "serviceAccountName is not the ServiceAccount's")
    need(sa["metadata"].get("namespace") == "kube-system", "ServiceAccount not in kube-system")
    crb = kinds.get("ClusterRoleBinding")
    if crb:
        need({"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "kube-system"} in crb["subjects"],
             "ClusterRoleBinding does not bind the ServiceAccount")
        need(crb["roleRef"]["name"] == kinds["ClusterRole"]["metadata"]["name"], "ClusterRoleBinding names another role")

containers = pod.get("initContainers", []) + pod.get("containers", [])
need(pod.get("containers"), "no main container")
for c in containers:
    need(c.get("image"), "container %s has no image" % c["name"])
    req = (c.get("resources") or {}).get("requests") or {}
    need("cpu" in req and "memory" in req, "container %s has no cpu/memory requests" % c["name"])
    need((c.get("resources") or {}).get("limits", {}).get("memory"), "container %s has no memory limit" % c["name"])

hostpaths = {v["name"]: v["hostPath"]["path"] for v in pod.get("volumes", []) if "hostPath" in v}
for path in ("/opt/cni/bin", "/etc/cni/net.d", "/usr/local/bin"):
    need(path in hostpaths.values(), "no hostPath volume for %s" % path)
install = [c for c in pod.get("initContainers", []) if c["name"] == "install"]
need(install, "no init container named install")
if install:
    env = {e["name"]: e.get("value") for e in install[0].get("env", [])}
    root = env.get("MOAT_HOST", "/host")
    mounts = {m["name"]: m["mountPath"] for m in install[0].get("volumeMounts", [])}
    for name, path in hostpaths.items():
        # /run/moat is cluster-watch's, not a directory install writes.
        need(path == "/run/moat" or mounts.get(name) == root + path,
             "install does not mount %s (%s) at %s%s" % (name, path, root, path))
    need(any(e["name"] == "NODE_NAME" and e["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
             for e in install[0].get("env", []) if "valueFrom" in e), "install has no NODE_NAME")
    need("install-moat" in " ".join(install[0].get("command", [])), "install does not run install-moat")
main = pod["containers"][0]
need(main.get("command", [""])[0] in ("sleep", "/pause") or "pause" in main.get("image", ""),
     "main container neither sleeps nor pauses")
need(not (main.get("securityContext") or {}).get("privileged"), "the long-running container is privileged")
if problems:
    sys.exit("\n".join(problems))
EOF
  assert_eq "$output" ""
}

# cluster_watch_field FIELD: python's view of the cluster-watch container
# (FIELD: "script", the shell script it runs, or "check": what it needs).
cluster_watch_field() {
  python3 - "$K8S_DIR/moat-daemonset.yaml" "$1" <<'EOF'
import sys, yaml

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
pod = [d for d in docs if d["kind"] == "DaemonSet"][0]["spec"]["template"]["spec"]
cw = [c for c in pod["containers"] if c["name"] == "cluster-watch"]
if not cw:
    sys.exit("no container cluster-watch")
cw = cw[0]
if sys.argv[2] == "script":
    cmd = cw["command"]
    if cmd[:2] != ["/bin/sh", "-c"] or len(cmd) != 3:
        sys.exit("cluster-watch: command is not /bin/sh -c SCRIPT: %s" % cmd)
    print(cmd[2])
    sys.exit(0)
problems = []
env = {e["name"]: e.get("value") for e in cw.get("env", [])}
install = [c for c in pod["initContainers"] if c["name"] == "install"][0]
ienv = {e["name"]: e.get("value") for e in install.get("env", [])}
if env.get("MOAT_CLUSTER") != ienv.get("MOAT_CLUSTER"):
    problems.append("MOAT_CLUSTER differs between install and cluster-watch")
vols = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
mounts = {vols.get(m["name"]): m["mountPath"] for m in cw.get("volumeMounts", [])}
for path in ("/run/moat", "/etc/cni/net.d"):
    if mounts.get(path) != path:
        problems.append("cluster-watch does not mount the node's %s there" % path)
if "/etc/cni/net.d" not in (env.get("MOAT_NETWORK_DIRS") or "/etc/moat/networks:/etc/cni/net.d").split(":"):
    problems.append("cluster-watch's MOAT_NETWORK_DIRS leaves out /etc/cni/net.d")
sc = cw.get("securityContext") or {}
if "NET_ADMIN" not in (sc.get("capabilities") or {}).get("add", []):
    problems.append("cluster-watch lacks NET_ADMIN (tables and routes)")
if sc.get("privileged"):
    problems.append("cluster-watch is privileged")
if pod.get("hostNetwork") is not True:
    problems.append("the pod is not on the host's network")
if problems:
    sys.exit("\n".join(problems))
EOF
}

@test "kubernetes: the DaemonSet's cluster-watch runs a watch moatctl accepts, with what it needs; idle without a cluster" {
  run -0 cluster_watch_field check
  assert_eq "$output" ""
  local script
  script=$(cluster_watch_field script) || fail "$script"
  [[ $script == *"/opt/moat/root/usr/local/bin/moatctl "* ]] || fail "not the image's moatctl: $script"
  script=${script//\/opt\/moat\/root\/usr\/local\/bin\/moatctl/$MOAT_BUILD/moatctl}
  mkdir -p "$T/k8s-nets"
  # A cluster with no network in the directory: moatctl took the command
  # line and says what is missing, in one line (a usage error would not).
  run env MOAT_CLUSTER="c$PFX" MOAT_NETWORK_DIRS="$T/k8s-nets" MOAT_RUN_DIR="$T/k8s-run" sh -c "$script"
  assert_eq "$status" 2 "watch with no network: exit status ($output)"
  assert_contains "$output" "moatctl: cluster c$PFX: no network of it in $T/k8s-nets"
  [[ $output != *usage* ]] || fail "usage error: $output"
  # No cluster: it waits (still there after half a second), never runs moatctl.
  run timeout 0.5 env MOAT_CLUSTER= sh -c "$script"
  assert_eq "$status" 124 "no cluster: it should wait ($output)"
}

@test "kubernetes: the node's conflist: moat alone, with the pod-annotations and portMappings capabilities" {
  local conf
  conf=$(cat "$K8S_DIR/10-moat.conflist")
  assert_jq "$conf" '.name == "moat" and (.plugins | length) == 1'
  assert_jq "$conf" '.plugins[0].type == "moat"'
  assert_jq "$conf" '.plugins[0].capabilities["io.kubernetes.cri.pod-annotations"] == true'
  # moat publishes hostPort itself: no portmap chained after it.
  assert_jq "$conf" '.plugins[0].capabilities.portMappings == true'
  assert_jq "$conf" '.plugins[0].ipam.type == "host-local" and (.plugins[0].ipam.ranges[0][0].subnet | test("/"))'
  # Debian 12's host-local and portmap speak CNI up to 1.0.0.
  local v
  v=$(jq -r .cniVersion <<<"$conf")
  for p in host-local portmap; do
    run -0 env CNI_COMMAND=VERSION "$HOST_IPAM_DIR/$p" <<<'{"cniVersion": "0.4.0"}'
    assert_jq "$output" '.supportedVersions | index($v)' --arg v "$v"
  done
  run -0 bash -c "echo '{\"cniVersion\": \"$v\"}' | CNI_COMMAND=VERSION '$MOAT'"
  assert_jq "$output" '.supportedVersions | index($v)' --arg v "$v"
  # Every file the Containerfile copies exists.
  local src
  while read -r src; do
    [[ -e $BATS_TEST_DIRNAME/../$src ]] || fail "Containerfile copies $src, which does not exist"
  done < <(awk '$1 == "COPY" && $2 !~ /^--from/ && $2 != "." { print $2 }' "$K8S_DIR/Containerfile")
}

@test "kubernetes: install-moat puts plugin, moatctl and the node's list in place, keeps the node's plugins" {
  local src=$T/image host=$T/host
  make -s -C "$BATS_TEST_DIRNAME/.." BUILD="$MOAT_BUILD" DESTDIR="$src/root" PREFIX=/usr/local install >/dev/null
  mkdir -p "$src/root/opt/moat/lib" "$host/opt/cni/bin"
  cp "$(readlink -f /usr/lib/"$(gcc -dumpmachine)"/libmnl.so.0)" "$src/root/opt/moat/lib/libmnl.so.0"
  cp "$K8S_DIR/10-moat.conflist" "$src/"
  printf '#!/bin/sh\n# the node own\n' >"$host/opt/cni/bin/loopback"
  run -0 env MOAT_SRC="$src" MOAT_HOST="$host" MOAT_SUBNET=10.244.7.0/24 sh "$K8S_DIR/install-moat"
  [[ -x $host/opt/cni/bin/moat && -x $host/usr/local/bin/moatctl ]] || fail "binaries missing: $output"
  cmp "$MOAT_BUILD/moat" "$host/opt/cni/bin/moat" || fail "moat differs from the build's"
  [[ -f $host/opt/moat/lib/libmnl.so.0 ]] || fail "libmnl not installed"
  cmp /usr/lib/cni/host-local "$host/opt/cni/bin/host-local" || fail "host-local not installed"
  cmp /usr/lib/cni/portmap "$host/opt/cni/bin/portmap" || fail "portmap not installed"
  run -0 grep -c "the node own" "$host/opt/cni/bin/loopback"
  local conf
  conf=$(cat "$host/etc/cni/net.d/10-moat.conflist")
  assert_jq "$conf" '.plugins[0].ipam == {type: "host-local", ranges: [[{subnet: "10.244.7.0/24"}]]}'
  assert_jq "$conf" '.plugins[0].capabilities["io.kubernetes.cri.pod-annotations"] == true'
  run -0 find "$host" -name '*.moat-new'
  assert_eq "$output" "" "temporary files left"
  # The built-in allocator instead; a second run replaces the files.
  run -0 env MOAT_SRC="$src" MOAT_HOST="$host" MOAT_SUBNET=10.244.8.0/24 MOAT_IPAM=builtin sh "$K8S_DIR/install-moat"
  conf=$(cat "$host/etc/cni/net.d/10-moat.conflist")
  assert_jq "$conf" '.plugins[0].subnet == "10.244.8.0/24" and (.plugins[0] | has("ipam") | not)'
  # Cluster mode: the cluster key with the store and the node's name.
  run -0 env MOAT_SRC="$src" MOAT_HOST="$host" MOAT_SUBNET=10.244.9.0/24 MOAT_IPAM=builtin NODE_NAME=n1 \
    MOAT_CLUSTER=c1 MOAT_CLUSTER_STORE=http://192.0.2.1:2379 sh "$K8S_DIR/install-moat"
  conf=$(cat "$host/etc/cni/net.d/10-moat.conflist")
  assert_jq "$conf" '.plugins[0].cluster == {name: "c1", store: "http://192.0.2.1:2379", node: "n1"}'
  assert_jq "$conf" '.plugins[0].subnet == "10.244.9.0/24"'
  run -1 env MOAT_SRC="$src" MOAT_HOST="$host" MOAT_SUBNET=10.244.9.0/24 MOAT_CLUSTER=c1 \
    MOAT_CLUSTER_STORE=http://192.0.2.1:2379 sh "$K8S_DIR/install-moat"
  assert_contains "$output" "MOAT_CLUSTER: cluster mode needs MOAT_IPAM=builtin"
  run -1 env MOAT_SRC="$src" MOAT_HOST="$host" MOAT_SUBNET=10.244.9.0/24 MOAT_IPAM=builtin MOAT_CLUSTER=c1 \
    sh "$K8S_DIR/install-moat"
  assert_contains "$output" "MOAT_CLUSTER_STORE: \"\" is not the etcd URL"
  # No range and no API server: it says so and fails.
  run -1 env MOAT_SRC="$src" MOAT_HOST="$host" NODE_NAME=n1 sh "$K8S_DIR/install-moat"
  assert_contains "$output" "no service account token"
}

# ---------------------------------------------------------------- pods

@test "kubernetes: pods by the CRI path: shared label talks, other label refused, host reaches all; CHECK; DEL leaves nothing" {
  local links port p
  links=$(moat_links)
  port=$(random_port)
  pod web1 "$(labels app=web)" --runtime containerd
  pod web2 "$(labels app=web,tier=front)" --runtime containerd
  pod db "$(labels app=db)" --runtime crio
  for p in web1 web2 db; do ns_tcp_listen "$(ns_of "$p")" 0.0.0.0 "$port"; done
  tcp_ok web1 web2 "$port"
  tcp_ok web2 web1 "$port"
  tcp_refused db web1 "$port"
  tcp_refused web1 db "$port"
  for p in web1 web2 db; do
    run ns_tcp_connect host "$(ip_of "$p")" "$port"
    assert_eq "$output" ok "host -> $p"
  done
  # What the runtime handed over is in the record: pod name and namespace,
  # the annotations (all of them; moat reads its own).
  local rec
  rec=$(cat "$(record_of web1)")
  assert_jq "$rec" '.name == "web1" and .podNamespace == $ns' --arg ns "ns-$PFX"
  assert_jq "$rec" '.podAnnotations["io.moat.labels"] == "app=web" and .ipam == "host-local"'
  assert_eq "$(ipam_leases | wc -l)" 3 "host-local leases"
  for p in web1 web2 db; do
    run -0 cri CHECK "$p"
    assert_eq "$output" "" "CHECK $p"
  done
  for p in web1 web2 db; do
    run -0 cri DEL "$p"
    assert_eq "$output" "" "DEL $p"
    [[ ! -e $T/cni-cache/results/$NET-$(cid_of "$p")-eth0 ]] || fail "cache entry of $p left"
  done
  run -0 cri DEL web1
  assert_nothing_left "$links" "$(ns_of web1)" "$(ns_of web2)" "$(ns_of db)"
  assert_eq "$(ipam_leases)" "" "host-local leases left"
}

@test "kubernetes: a bad pod annotation fails ADD with moat's error naming the key, and leaves nothing" {
  local links
  links=$(moat_links)
  new_netns a
  echo a >>"$T/pods"
  run -1 cri ADD a --annotations '{"io.moat.allow-host": "udp/2222,tcp/99999"}'
  assert_cni_error 7 "io.moat.allow-host: port 99999 out of range"
  assert_contains "$(cat "$T/cri.err")" 'plugin type="moat" failed (add): pod annotations: io.moat.allow-host'
  assert_nothing_left "$links" "$(ns_of a)"
  assert_eq "$(ipam_leases)" "" "host-local leases left"
  [[ ! -e $T/cni-cache/results/$NET-$(cid_of a)-eth0 ]] || fail "a failed ADD was cached"
  run -1 cri ADD a --annotations '{"io.moat.lables": "app=web"}'
  assert_cni_error 7 "io.moat.lables: unknown annotation"
  assert_nothing_left "$links" "$(ns_of a)"
  # containerd tears the sandbox's network down after a failed ADD.
  run -0 cri DEL a --annotations '{"io.moat.lables": "app=web"}'
  assert_nothing_left "$links" "$(ns_of a)"
  assert_eq "$(ipam_leases)" "" "host-local leases left"
}

@test "kubernetes: hostPort mappings reach moat, which publishes them: from the host and 127.0.0.1; a taken port fails the next pod; DEL leaves nothing" {
  local links maps hp
  links=$(moat_links)
  hp=$(random_port)
  maps=$(jq -nc --argjson h "$hp" '[{hostPort: $h, containerPort: 80, protocol: "tcp", hostIP: ""}]')
  pod a "$(labels app=web)" --port-mappings "$maps"
  ns_tcp_listen "$(ns_of a)" 0.0.0.0 80
  assert_jq "$(cat "$(record_of a)")" '.publish == [$p]' --arg p "$hp:80/tcp"
  PROBE_TOKEN=k8s-lo run -0 ns_tcp_connect host 127.0.0.1 "$hp"
  PROBE_TOKEN=k8s-gw run -0 ns_tcp_connect host "$GW" "$hp"
  # The pod without hostPort: no portMappings at all, as the runtimes do.
  pod b "$(labels app=web)"
  assert_jq "$(cat "$(record_of b)")" 'has("publish") | not'
  # A second pod asking for the same host port fails, naming the holder.
  new_netns c
  echo c >>"$T/pods"
  run -1 cri ADD c --port-mappings "$maps"
  assert_cni_error 7 "published port $hp:80/tcp" "held by container \"a\" ($(cid_of a))"
  for p in a b c; do run -0 cri DEL "$p"; done
  PROBE_TOKEN=k8s-gone run ns_tcp_connect host 127.0.0.1 "$hp"
  assert_eq "$output" refused "host -> 127.0.0.1:$hp after DEL"
  assert_nothing_left "$links" "$(ns_of a)" "$(ns_of b)" "$(ns_of c)"
  assert_eq "$(nft list map inet moat publish 2>/dev/null | grep -F " . tcp . $hp " || true)" "" \
    "publish elements left"
}
