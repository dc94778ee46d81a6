#!/usr/bin/env bats
# moat-bats: sandbox
# shellcheck disable=SC2016 # jq programs in single quotes
# Kubernetes' path with the real engine: Debian's containerd 1.6, started by
# the test with a private root, state, socket and config (bats/containerd.bash),
# its CRI plugin calling moat through the shipped node list
# (conf/kubernetes/10-moat.conflist) and driven by a CRI v1 client
# (hack/cri/cri.js) as the kubelet would: RunPodSandbox with io.moat.* pod
# annotations gets the pod moat's address and policy at ADD, hostPort
# through portMappings, StopPodSandbox + RemovePodSandbox is DEL and leaves
# nothing. Then the same containerd runs plain containers through
# moat-runtime as its runc binary (`ctr run --runc-binary`), attached by the
# hook from io.moat.* annotations or MOAT_* environment.
# It runs in hack/sandbox: containerd's netns, mounts and moat's tables stay
# in the sandbox's namespaces.

load helpers
load containerd

setup_file() { ctrd_start; }
teardown_file() { ctrd_stop; }

setup() {
  setup_moat_net
  ctrd_setup
}

teardown() {
  ctrd_teardown
  teardown_moat_net
}

ctl() { "$MOAT_BUILD/moatctl" "$@"; }

tcp_ok() { # FROM TO_IP PORT
  run ns_tcp_connect "$(ns_of "$1")" "$2" "$3"
  assert_eq "$output" ok "tcp $1 -> $2:$3"
}
tcp_refused() { # FROM TO_IP PORT
  run ns_tcp_connect "$(ns_of "$1")" "$2" "$3"
  assert_eq "$output" refused "tcp $1 -> $2:$3"
}

# Addresses host-local still holds for this test's network.
ipam_leases() {
  find "$T/ipam/$NET" -maxdepth 1 -type f -name '[0-9]*' -printf '%f\n' 2>/dev/null | sort
}

# Nothing of moat's is left: no record, element or link of the test's, no
# lease, `moatctl check` clean and `moatctl ls` empty.
assert_moat_empty() { # LINKS_BEFORE
  assert_nothing_left "$1"
  assert_eq "$(ipam_leases)" "" "host-local leases left"
  run -0 ctl check
  assert_contains "$output" "ok:"
  run -0 ctl ls
  assert_not_contains "$output" "$PFX" "moatctl ls"
}

@test "containerd: RunPodSandbox with io.moat.labels: moat's address and policy at ADD; Stop + Remove is DEL and leaves nothing" {
  local links port p id
  links=$(moat_links)
  port=$(random_port)
  run -0 cri Version
  assert_jq "$output" '.runtime_name == "containerd" and .runtime_api_version == "v1"'
  pod_run web1 app=web
  pod_run web2 app=web,tier=front
  pod_run db app=db
  for p in web1 web2 db; do
    assert_match "$(pod_ip "$p")" "^${NETPFX//./\\.}\." "$p's address (from the test's range)"
    ns_tcp_listen "$(ns_of "$p")" 0.0.0.0 "$port"
  done
  tcp_ok web1 "$(pod_ip web2)" "$port"
  tcp_ok web2 "$(pod_ip web1)" "$port"
  tcp_refused db "$(pod_ip web1)" "$port"
  tcp_refused web1 "$(pod_ip db)" "$port"
  # The record holds what containerd handed over: the pod's name and
  # namespace and its annotations.
  id=$(pod_id web1)
  local rec
  rec=$(cat "$MOAT_RUN_DIR/$NET/$id@eth0.json") || fail "no record for web1 ($id)"
  assert_jq "$rec" '.name == "web1" and .podNamespace == $ns' --arg ns "ns-$PFX"
  assert_jq "$rec" '.podAnnotations["io.moat.labels"] == "app=web" and .ipam == "host-local"'
  assert_eq "$(ipam_leases | wc -l)" 3 "host-local leases"
  run -0 ctl check
  assert_contains "$output" "ok:"
  run -0 ctl ls
  assert_contains "$output" "${id:0:12}"
  for p in web1 web2 db; do
    run -0 pod_remove "$p"
  done
  run -0 cri ListPodSandbox
  assert_jq "$output" '.items == []'
  assert_moat_empty "$links"
}

@test "containerd: a hostPort (portMappings) is published by moat and reached from the host; removing the pod takes it" {
  local links hp maps
  links=$(moat_links)
  hp=$(random_port)
  maps=$(jq -nc --argjson h "$hp" '[{protocol: "TCP", container_port: 80, host_port: $h}]')
  pod_run web app=web "$maps"
  ns_tcp_listen "$(ns_of web)" 0.0.0.0 80
  assert_jq "$(cat "$MOAT_RUN_DIR/$NET/$(pod_id web)@eth0.json")" '.publish == [$p]' \
    --arg p "$hp:80/tcp"
  PROBE_TOKEN=ct-lo run -0 ns_tcp_connect host 127.0.0.1 "$hp"
  PROBE_TOKEN=ct-gw run -0 ns_tcp_connect host "$GW" "$hp"
  run -0 pod_remove web
  PROBE_TOKEN=ct-gone run ns_tcp_connect host 127.0.0.1 "$hp"
  assert_eq "$output" refused "host -> 127.0.0.1:$hp after RemovePodSandbox"
  assert_moat_empty "$links"
}

@test "containerd: ctr run through moat-runtime as the runc binary: the hook attaches from annotations or MOAT_*, policy holds, delete leaves nothing" {
  local links port ip_a ip_b
  links=$(moat_links)
  port=$(random_port)
  ctr_run a --annotation "io.moat.network=$NET" --annotation io.moat.labels=app=web
  ctr_run b --env "MOAT_NETWORK=$NET" --env MOAT_LABELS=app=web
  ctr_run c --env "MOAT_NETWORK=$NET" --env MOAT_LABELS=app=db
  assert_eq "$(network_records | wc -l)" 3 "records in $MOAT_RUN_DIR/$NET"
  ip_a=$(jq -er '.address | split("/")[0]' "$(record_of a)") || fail "no record for a"
  ip_b=$(jq -er '.address | split("/")[0]' "$(record_of b)") || fail "no record for b"
  assert_match "$ip_a" "^${NETPFX//./\\.}\." "a's address"
  # The hook moat-runtime added is the one installed next to it.
  run -0 jq -r '.hooks.prestart[-1].path' \
    "$CT/state/io.containerd.runtime.v2.task/$CTRD_NS/$PFX-a/config.json"
  assert_eq "$output" "$CT/libexec/moat/moat-hook"
  ns_tcp_listen "$(ns_of a)" 0.0.0.0 "$port"
  ns_tcp_listen "$(ns_of b)" 0.0.0.0 "$port"
  tcp_ok b "$ip_a" "$port"
  tcp_ok a "$ip_b" "$port"
  tcp_refused c "$ip_a" "$port"
  tcp_refused c "$ip_b" "$port"
  run -0 ctl check
  assert_contains "$output" "ok:"
  for x in a b c; do
    run -0 ctr_remove "$x"
  done
  assert_nothing_left "$links"
  run -0 ctl ls
  assert_not_contains "$output" "$PFX" "moatctl ls"
}

@test "containerd: a bad io.moat.* pod annotation fails RunPodSandbox with moat's reason naming the key, and leaves nothing" {
  local links req
  links=$(moat_links)
  req=$(jq -nc --arg ns "ns-$PFX" '{config: {metadata: {name: "bad", uid: ($ns + "-bad"), namespace: $ns},
    annotations: {"io.moat.labels": "app=web", "io.moat.allow-host": "udp/2222,tcp/99999"}}}')
  run -1 cri RunPodSandbox "$req"
  assert_contains "$output" 'plugin type="moat" failed (add): pod annotations: io.moat.allow-host: port 99999 out of range'
  # containerd has torn the sandbox down (CNI DEL) and forgotten it.
  run -0 cri ListPodSandbox
  assert_jq "$output" '.items == []'
  assert_moat_empty "$links"
}
