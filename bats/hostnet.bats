#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# Host-network containers (docs/design.md, "Host-network containers"): a
# runc container with no network namespace of its own (it shares this
# sandbox's, "the host") and io.moat.network=NAME gets moat's policy keyed
# by its cgroup v2 group at prestart; poststop removes it. Its peers are
# hook-attached runc containers on the same network; an outside namespace
# is routed through the host (setup_outside). Real TCP decides every check.
#
# On a cgroup v1 host (this one) the hook moves the container's first
# process into moat/<id> of its own cgroup2 mount: processes that `runc
# exec` starts are not in that group, so the container's own init runs the
# probes (hn_start's runner), as its children stay in the group.
#
# It drops moat's tables and moves processes between cgroups: make test runs
# it in hack/sandbox's private namespaces (the marker), never on the host's.
# moat-bats: sandbox

load helpers
load runc
load podman
load hostnet

setup() {
  setup_moat_net
  runc_setup
  NETDIR=$T/networks
  mkdir -p "$NETDIR" "$T/hn/in" "$T/hn/out"
  jq -n --arg n "$NET" --arg br "$BR" --arg sub "$SUBNET" --argjson allow "$ALLOW_ALL" \
    '{cniVersion: "1.0.0", name: $n, type: "moat", bridge: $br, subnet: $sub, allow: $allow}' \
    >"$NETDIR/50-moat.conf"
  export CTR_HOOK_ENV="MOAT_NETWORK_DIRS=$NETDIR"
  export CTR_NETNS=new
}

teardown() {
  nft delete table inet "${PFX}count" 2>/dev/null || true
  hp_teardown
  runc_teardown
  podman_teardown
  teardown_moat_net
  # The hook's cgroup2 mount stays on a real host; the sandbox's run
  # directory goes after the run.
  ! mountpoint -q "$MOAT_RUN_DIR/.cgroup2" || umount "$MOAT_RUN_DIR/.cgroup2"
}

# peer NAME LABELS: a hook-attached container with a network namespace of
# its own and a TCP server on 8080.
peer() {
  local out
  out=$(ctr_create "$1" "io.moat.network=$NET" "io.moat.labels=$2") ||
    fail "runc run $1 failed:" "$out"
  ctr_tcp_listen "$1" 8080
}
peer_ip() { jq -er '.address | split("/")[0]' "$(record_of "$1")" || fail "no record for $1"; }

# The runner: the container's init starts a TCP server on $HN_PORT, then
# runs each script dropped in /out/hn/in (hn_exec) with output and status
# in /out/hn/out: its children are in the container's group.
HN_PORT=7070
hn_cmd() {
  printf '%s' "nc -ll -p $HN_PORT -e /bin/serve & "
  printf '%s' 'while :; do for f in /out/hn/in/*; do [ -f "$f" ] || continue; '
  printf '%s' 'n=${f##*/}; sh "$f" >/out/hn/out/$n 2>&1; echo $? >/out/hn/out/$n.rc.tmp; '
  printf '%s' 'mv /out/hn/out/$n.rc.tmp /out/hn/out/$n.rc; rm -f "$f"; done; sleep 0.05; done'
}

# hn_create NAME [ANNOTATION...]: the host-network container (no
# "network" entry in linux.namespaces); runc's output, runc's status.
hn_create() {
  local name=$1 bundle=$CTR_DIR/$1 status=0
  shift
  mkdir -p "$bundle"
  rm -f "$bundle/pid"
  CTR_CMD=$(hn_cmd) CTR_NETNS=host ctr_config "$name" "io.moat.network=$NET" "$@" |
    jq '.linux.namespaces |= map(select(.type != "network"))' >"$bundle/config.json" ||
    fail "cannot write $bundle/config.json"
  cid_of "$name" >>"$T/containers"
  rc run -d --pid-file "$bundle/pid" --bundle "$bundle" "$(cid_of "$name")" \
    </dev/null >"$bundle/runc.log" 2>&1 || status=$?
  sed 's/\\"/"/g' "$bundle/runc.log"
  return "$status"
}

hn_start() {
  local out
  out=$(hn_create "$@") || fail "runc run $1 failed:" "$out"
  ctr_running "$1" || fail "container $1 is not running:" "$out"
  wait_for 5 listening host tcp "$HN_PORT"
}

# hn_exec SCRIPT: runs SCRIPT (sh) in the container's group; its output,
# its status.
hn_exec() {
  local n deadline=$((SECONDS + 15))
  n=$(date +%s%N)
  printf '%s\n' "$1" >"$T/hn/$n.tmp"
  mv "$T/hn/$n.tmp" "$T/hn/in/$n"
  until [[ -f $T/hn/out/$n.rc ]]; do
    ((SECONDS < deadline)) || fail "runner: script $n did not end: $1"
    sleep 0.05
  done
  cat "$T/hn/out/$n"
  return "$(cat "$T/hn/out/$n.rc")"
}

# hn_tcp IP PORT: connect from inside the group; prints ok, refused, ...
hn_tcp() {
  local token=hn-$RANDOM$RANDOM out rc=0
  out=$(hn_exec "printf '%s\n' $token | timeout 5 nc -w 2 $1 $2") || rc=$?
  classify "$out" "$rc" "$token"
}

hn_cgroup_dir() { jq -er .cgroupDir "$MOAT_RUN_DIR/.hostnet/$(cid_of "$1").json"; }

@test "hostnet: reaches the moat container its labels reach, refused the one they do not" {
  peer web app=web
  peer db app=db
  hn_start h "io.moat.labels=app=web"
  run hn_tcp "$(peer_ip web)" 8080
  assert_eq "$output" ok "hostnet -> web (same label)"
  run hn_tcp "$(peer_ip db)" 8080
  assert_eq "$output" refused "hostnet -> db (no label reaches it)"
  # A container with the label that starts later joins the identity's set.
  peer web2 app=web
  run hn_tcp "$(peer_ip web2)" 8080
  assert_eq "$output" ok "hostnet -> web2 (started after it)"
  # The host's other processes are not in the group: untouched.
  run ns_tcp_connect host "$(peer_ip db)" 8080
  assert_eq "$output" ok "the host -> db"
  run "$MOAT_BUILD/moatctl" check
  [[ $status -eq 0 ]] || fail "moatctl check with a host-network container:" "$output"
}

@test "hostnet: an egress CIDR opens that and nothing else; outside the group, nothing changes" {
  setup_outside
  ns_tcp_listen "$OUT_NS" "$OUT_IP" 9000
  ns_tcp_listen "$OUT_NS" "$OUT_IP" 9001
  hn_start h "io.moat.egress=$OUT_IP/32 tcp/9000"
  run hn_tcp "$OUT_IP" 9000
  assert_eq "$output" ok "hostnet -> outside tcp/9000 (egress)"
  run hn_tcp "$OUT_IP" 9001
  assert_eq "$output" refused "hostnet -> outside tcp/9001"
  # The host's own addresses stay open to it (loopback).
  run hn_tcp 127.0.0.1 "$HN_PORT"
  assert_eq "$output" ok "hostnet -> its own port on 127.0.0.1"
  run ns_tcp_connect host "$OUT_IP" 9001
  assert_eq "$output" ok "the host -> outside tcp/9001"
  # Its only network member: moatctl check sees the tables gone, restore
  # brings its policy back from the record.
  nft delete table inet moat
  nft delete table bridge moat
  run "$MOAT_BUILD/moatctl" check
  [[ $status -ne 0 ]] || fail "check saw no drift after the tables went:" "$output"
  assert_contains "$output" "missing: table inet moat"
  run -0 "$MOAT_BUILD/moatctl" restore
  run hn_tcp "$OUT_IP" 9001
  assert_eq "$output" refused "hostnet -> outside tcp/9001 after restore"
  run hn_tcp "$OUT_IP" 9000
  assert_eq "$output" ok "hostnet -> outside tcp/9000 after restore"
  run -0 "$MOAT_BUILD/moatctl" check
}

@test "hostnet: an inbound connection to its port is refused unless io.moat.ingress allows it" {
  setup_outside
  hn_start h
  run ns_tcp_connect "$OUT_NS" "$OUT_HOST_IP" "$HN_PORT"
  assert_eq "$output" refused "outside -> hostnet port, no ingress"
  # A port of the host outside the group stays open.
  ns_tcp_listen host 0.0.0.0 9100
  run ns_tcp_connect "$OUT_NS" "$OUT_HOST_IP" 9100
  assert_eq "$output" ok "outside -> the host's own server"
  ctr_delete h
  hn_start h2 "io.moat.ingress=$OUT_IP/32 tcp/$HN_PORT"
  run ns_tcp_connect "$OUT_NS" "$OUT_HOST_IP" "$HN_PORT"
  assert_eq "$output" ok "outside -> hostnet port, ingress"
}

@test "hostnet: poststop leaves no group, element or record" {
  hn_start h "io.moat.labels=app=web" "io.moat.egress=192.0.2.0/24 tcp/443"
  local dir id
  dir=$(hn_cgroup_dir h)
  [[ -d $dir ]] || fail "no group $dir"
  id=$(stat -c %i "$dir")
  assert_eq "$(jq -r .cgroup "$MOAT_RUN_DIR/.hostnet/$(cid_of h).json")" "$id" "record's cgroup id"
  assert_contains "$(cat "$dir/cgroup.procs")" "$(ctr_pid h)" "init in the group"
  [[ -n $(nft_elems inet hostnet) ]] || fail "no hostnet element"
  ctr_delete h
  [[ ! -e $dir ]] || fail "group $dir left"
  [[ ! -e $MOAT_RUN_DIR/.hostnet/$(cid_of h).json ]] || fail "record left"
  assert_eq "$(nft_elems inet hostnet)$(nft_elems inet hostnet_egress)" "" "elements"
  [[ $(nft list map inet moat hostnet_ident 2>/dev/null) != *"jump"* ]] || fail "its jump left"
}

@test "hostnet: refused clearly where it cannot work" {
  run hn_create bad "io.moat.labels=app=web" "io.moat.proxy=192.0.2.1:3128"
  ((status != 0)) || fail "a proxy was accepted"
  assert_contains "$output" "io.moat.proxy: not for host-network container"
  [[ ! -e $MOAT_RUN_DIR/.hostnet/$(cid_of bad).json ]] || fail "record left"
}

@test "hostnet: moatctl ls and show list it; killed without poststop, check says stale and gc removes it" {
  hn_start h "io.moat.labels=app=web"
  local id dir
  id=$(cid_of h)
  dir=$(hn_cgroup_dir h)
  run -0 "$MOAT_BUILD/moatctl" ls
  assert_match "$output" "${id:0:12} +- +$NET +host-network +app=web"
  run -0 "$MOAT_BUILD/moatctl" show "$id"
  assert_contains "$output" "cgroup:    $(stat -c %i "$dir") ($dir)"
  # The container dies; its poststop never runs.
  kill -9 "$(ctr_pid h)"
  wait_for 5 sh -c "! grep -q . '$dir/cgroup.procs'"
  run "$MOAT_BUILD/moatctl" check
  [[ $status -ne 0 ]] || fail "check saw nothing stale:" "$output"
  assert_contains "$output" "stale: network \"$NET\" container $id host-network cgroup:"
  run -0 "$MOAT_BUILD/moatctl" gc
  assert_contains "$output" "removed: network \"$NET\" container $id host-network"
  [[ ! -e $dir ]] || fail "group $dir left"
  [[ ! -e $MOAT_RUN_DIR/.hostnet/$id.json ]] || fail "record left"
  assert_eq "$(nft_elems inet hostnet)" "" "hostnet elements"
  run -0 "$MOAT_BUILD/moatctl" check
}

@test "hostnet: podman --network host with hooks.d: the same policy, poststop leaves nothing" {
  podman_setup
  # The shipped conflist has no "allow": this test's egress needs one.
  jq --argjson a "$ALLOW_ALL" '.plugins[0].allow = $a' "$PM/net.d/$NET.conflist" >"$T/conflist"
  mv "$T/conflist" "$PM/net.d/$NET.conflist"
  setup_outside
  ns_tcp_listen "$OUT_NS" "$OUT_IP" 9000
  ns_tcp_listen "$OUT_NS" "$OUT_IP" 9001
  PM_CMD=$(hn_cmd) pm_start h --network host --annotation "io.moat.network=$NET" \
    --annotation "io.moat.egress=$OUT_IP/32 tcp/9000"
  wait_for 5 listening host tcp "$HN_PORT"
  local id
  id=$(pm_id h)
  [[ -f $MOAT_RUN_DIR/.hostnet/$id.json ]] || fail "podman's container has no host-network record"
  run hn_tcp "$OUT_IP" 9000
  assert_eq "$output" ok "podman hostnet -> outside tcp/9000 (egress)"
  run hn_tcp "$OUT_IP" 9001
  assert_eq "$output" refused "podman hostnet -> outside tcp/9001"
  run ns_tcp_connect host "$OUT_IP" 9001
  assert_eq "$output" ok "the host -> outside tcp/9001"
  run -0 pm rm -f -t 0 "$(pm_name h)"
  [[ ! -e $MOAT_RUN_DIR/.hostnet/$id.json ]] || fail "record left after podman rm"
  assert_eq "$(nft_elems inet hostnet)" "" "hostnet elements"
}

@test "hostnet: the network's last container goes first; the host-network container's poststop then takes its identities" {
  peer web app=web
  hn_start h "io.moat.labels=app=web"
  run hn_tcp "$(peer_ip web)" 8080
  assert_eq "$output" ok "hostnet -> web"
  # web's DEL is the network's last: its identities stay for h's jump.
  ctr_delete web
  [[ -d $MOAT_RUN_DIR/$NET/idents ]] || fail "the network's identities went with its last container"
  [[ $(nft list map inet moat hostnet_ident) == *"jump id_"* ]] || fail "h's jump went with the network's last container"
  ctr_delete h
  [[ ! -e $MOAT_RUN_DIR/$NET ]] || fail "the network's state directory left: $(ls -A "$MOAT_RUN_DIR/$NET")"
  assert_eq "$(nft_elems inet hostnet)" "" "hostnet elements"
  [[ $(nft list chains inet moat 2>/dev/null) != *"chain id_"* ]] || fail "the network's identity chains left"
}

# --- host processes: moatctl host attach names an existing group (bats/hostnet.bash)

# peer_to_host NAME LABELS: peer, and it may open tcp/7071 on the host.
peer_to_host() {
  local out
  out=$(ctr_create "$1" "io.moat.network=$NET" "io.moat.labels=$2" "io.moat.allow-host=tcp/7071") ||
    fail "runc run $1 failed:" "$out"
  ctr_tcp_listen "$1" 8080
}

@test "hostproc: a group attached by moatctl host attach: its labels' peers both ways, its egress CIDR only" {
  peer_to_host web app=web
  peer_to_host db app=db
  setup_outside
  ns_tcp_listen "$OUT_NS" "$OUT_IP" 9000
  ns_tcp_listen "$OUT_NS" "$OUT_IP" 9001
  local g
  g=$(hp_group svc)
  run -0 hp_attach --cgroup "$g" --name "${PFX}svc" --label app=web \
    --annotation "io.moat.egress=$OUT_IP/32 tcp/9000"
  run hp_tcp "$g" "$(peer_ip web)" 8080
  assert_eq "$output" ok "host process -> web (same label)"
  run hp_tcp "$g" "$(peer_ip db)" 8080
  assert_eq "$output" refused "host process -> db (no label reaches it)"
  run hp_tcp "$g" "$OUT_IP" 9000
  assert_eq "$output" ok "host process -> outside tcp/9000 (egress)"
  run hp_tcp "$g" "$OUT_IP" 9001
  assert_eq "$output" refused "host process -> outside tcp/9001"
  # The host's other processes are not in the group: untouched.
  run ns_tcp_connect host "$(peer_ip db)" 8080
  assert_eq "$output" ok "the host -> db"
  run ns_tcp_connect host "$OUT_IP" 9001
  assert_eq "$output" ok "the host -> outside tcp/9001"
  # Inbound: refused without io.moat.ingress.
  hp_listen "$g" 7071
  run ns_tcp_connect "$OUT_NS" "$OUT_HOST_IP" 7071
  assert_eq "$output" refused "outside -> host process's port, no ingress"
  # A moat container its labels let in reaches it through the gateway
  # (with its own allow-host); another, with the same allow-host, is
  # refused by the host process's policy; one started later is let in.
  run ctr_tcp_connect web "$GW" 7071
  assert_eq "$output" ok "web -> host process via the gateway (shared label)"
  run ctr_tcp_connect db "$GW" 7071
  assert_eq "$output" refused "db -> host process via the gateway (no shared label)"
  peer_to_host web2 app=web
  run ctr_tcp_connect web2 "$GW" 7071
  assert_eq "$output" ok "web2 (started after the attach) -> host process"
  assert_eq "$(nft_elems inet hostnet_peers | wc -l)" 2 "hostnet_peers: web and web2"
  ctr_delete web2
  assert_eq "$(nft_elems inet hostnet_peers | wc -l)" 1 "hostnet_peers after web2 went"
  run -0 "$MOAT_BUILD/moatctl" check
  run -0 "$MOAT_BUILD/moatctl" ls
  assert_match "$output" "${PFX}svc +- +$NET +host-process +app=web"
  run -0 "$MOAT_BUILD/moatctl" show "${PFX}svc"
  assert_contains "$output" "$g)"
  run -0 "$MOAT_BUILD/moatctl" check
  # detach: its elements and record go, the group and its processes stay.
  run -0 "$MOAT_BUILD/moatctl" host detach "${PFX}svc"
  [[ ! -e $(hp_record "${PFX}svc") ]] || fail "record left"
  assert_eq "$(nft_elems inet hostnet)$(nft_elems inet hostnet_egress)$(nft_elems inet hostnet_peers)" "" \
    "hostnet elements"
  [[ -d $T/cg2$g ]] || fail "detach removed the group"
  run hp_tcp "$g" "$OUT_IP" 9001
  assert_eq "$output" ok "host process -> outside tcp/9001 after detach"
  run -0 "$MOAT_BUILD/moatctl" check
  hp_teardown
}

@test "hostproc: its io.moat.expose lets in the depending containers it names, not the others" {
  local g out
  out=$(ctr_create cli "io.moat.network=$NET" "io.moat.labels=app=cli" \
    "io.moat.depends=app=svc" "io.moat.allow-host=tcp/7071") || fail "runc run cli failed:" "$out"
  out=$(ctr_create other "io.moat.network=$NET" "io.moat.labels=app=other" \
    "io.moat.depends=app=svc" "io.moat.allow-host=tcp/7071") || fail "runc run other failed:" "$out"
  g=$(hp_group svc)
  run -0 hp_attach --cgroup "$g" --name "${PFX}svc" --label app=svc --annotation io.moat.expose=app=cli
  hp_listen "$g" 7071
  run ctr_tcp_connect cli "$GW" 7071
  assert_eq "$output" ok "cli (depends on app=svc, exposed to) -> host process"
  run ctr_tcp_connect other "$GW" 7071
  assert_eq "$output" refused "other (depends on app=svc, not exposed to) -> host process"
  run -0 "$MOAT_BUILD/moatctl" check
  run -0 "$MOAT_BUILD/moatctl" host detach "${PFX}svc"
  assert_eq "$(nft_elems inet hostnet_peers)" "" "hostnet_peers after detach"
  hp_teardown
}

@test "attack: a peer's address forged from outside does not reach a host process its labels let in" {
  peer_to_host web app=web
  setup_outside
  local g web_ip forged_syn peer_syn
  g=$(hp_group svc)
  run -0 hp_attach --cgroup "$g" --name "${PFX}svc" --label app=web
  hp_listen "$g" 7071
  web_ip=$(peer_ip web)
  # This namespace's reverse-path filter off, as on hosts with asymmetric
  # routes: only moat's rules decide. What moat's hostnet_input lets
  # through reaches a later input chain of the test's own, which counts
  # SYNs to the port by the interface they came in on.
  sysctl -qw net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.${PFX}oh.rp_filter=0"
  nft -f - <<NFT || fail "cannot make the counting table"
table inet ${PFX}count {
  chain input {
    type filter hook input priority 100;
    iifname "${PFX}oh" ip saddr $web_ip tcp dport 7071 tcp flags syn counter name forged
    iifname "$BR" ip saddr $web_ip tcp dport 7071 tcp flags syn counter name peer
  }
  counter forged {}
  counter peer {}
}
NFT
  # The positive control: web itself, from its bridge, is let in.
  run ctr_tcp_connect web "$GW" 7071
  assert_eq "$output" ok "web -> host process via the gateway (shared label)"
  # The outside sends SYNs with web's address as its source.
  ip -n "$OUT_NS" addr add "$web_ip/32" dev eth0
  ip netns exec "$OUT_NS" timeout 5 socat -T1 - \
    "TCP4:$OUT_HOST_IP:7071,bind=$web_ip,connect-timeout=2" </dev/null >/dev/null 2>&1 || true
  forged_syn=$(nft -j list counter inet "${PFX}count" forged | jq '.nftables[1].counter.packets')
  peer_syn=$(nft -j list counter inet "${PFX}count" peer | jq '.nftables[1].counter.packets')
  ((peer_syn >= 1)) || fail "the control: web's own SYN was not counted ($peer_syn)"
  assert_eq "$forged_syn" 0 "forged SYNs past moat's hostnet_input"
  nft delete table inet "${PFX}count"
  hp_teardown
}

@test "hostproc: on an IPv4-only network its IPv6 is refused both ways (it fails closed); loopback and the host's other processes are untouched" {
  setup_outside6
  ns_tcp_listen "$OUT_NS" "$OUT6_IP" 9000
  ns_tcp_listen host ::1 9002
  local g
  g=$(hp_group svc)
  # An IPv6 range and internet: on an IPv4-only network they open no IPv6.
  run -0 hp_attach --cgroup "$g" --name "${PFX}svc" --label app=web \
    --annotation "io.moat.egress=$OUT6_IP/128 tcp/9000" --annotation io.moat.internet=true
  assert_eq "$(jq -r '.ipv6 // false' "$(hp_record "${PFX}svc")")" false "the record's ipv6"
  [[ $(nft list chains inet moat) != *hostnet_out6* ]] || fail "an IPv6 half made for an IPv4-only network"
  hp_listen "$g" 7071
  run hp_tcp "$g" "$OUT6_IP" 9000
  assert_eq "$output" refused "host process -> outside [$OUT6_IP]:9000"
  run ns_tcp_connect "$OUT_NS" "$OUT6_HOST_IP" 7071
  assert_eq "$output" refused "outside -> host process's port over IPv6"
  run hp_tcp "$g" ::1 9002
  assert_eq "$output" ok "host process -> [::1]:9002 (loopback)"
  run ns_tcp_connect host "$OUT6_IP" 9000
  assert_eq "$output" ok "the host -> outside [$OUT6_IP]:9000"
  run -0 "$MOAT_BUILD/moatctl" check
  hp_teardown
}

@test "hostproc: its group gone, check says stale and gc removes it; an empty group is not stale" {
  local g id
  g=$(hp_group svc)
  run -0 hp_attach --cgroup "$T/cg2$g" --name "${PFX}svc" --label app=web
  id=$(stat -c %i "$T/cg2$g")
  assert_eq "$(jq -r .cgroup "$(hp_record "${PFX}svc")")" "$id" "record's cgroup id"
  # No process in it yet: a unit between restarts, not stale.
  run -0 "$MOAT_BUILD/moatctl" check
  rmdir "$T/cg2$g"
  run "$MOAT_BUILD/moatctl" check
  [[ $status -ne 0 ]] || fail "check saw nothing stale:" "$output"
  assert_contains "$output" "stale: network \"$NET\" container ${PFX}svc host-process cgroup:$id"
  run -0 "$MOAT_BUILD/moatctl" gc
  assert_contains "$output" "removed: network \"$NET\" container ${PFX}svc host-process"
  [[ ! -e $(hp_record "${PFX}svc") ]] || fail "record left"
  assert_eq "$(nft_elems inet hostnet)" "" "hostnet elements"
  run -0 "$MOAT_BUILD/moatctl" check
  hp_teardown
}

@test "hostproc: refused in one line: no such cgroup, cgroup v1, wrong level, name taken, unknown name" {
  local g
  g=$(hp_group svc)
  run -2 hp_attach --cgroup "/${PFX}none/x" --name "${PFX}a"
  assert_contains "$output" "--cgroup \"/${PFX}none/x\": no such cgroup"
  run -2 hp_attach --cgroup /sys/fs/cgroup/pids --name "${PFX}a"
  assert_contains "$output" "--cgroup \"/sys/fs/cgroup/pids\": a cgroup v1 group"
  run -2 hp_attach --cgroup "/${PFX}hp" --name "${PFX}a"
  assert_contains "$output" "at level 1; moat's rules match level 2"
  run -2 hp_attach --cgroup "$g" --name "-bad"
  assert_contains "$output" "--name \"-bad\": must be alphanumeric"
  run -2 hp_attach --cgroup "$g" --name "${PFX}a" --annotation io.moat.proxy=192.0.2.1:3128
  assert_contains "$output" "io.moat.proxy: not for host-network container"
  [[ ! -e $(hp_record "${PFX}a") ]] || fail "record left by a refused attach"
  run -0 hp_attach --cgroup "$g" --name "${PFX}a"
  run -2 hp_attach --cgroup "$g" --name "${PFX}a"
  assert_contains "$output" "--name \"${PFX}a\": taken"
  run -2 hp_attach --cgroup "$g" --name "${PFX}b"
  assert_contains "$output" "attached already as \"${PFX}a\""
  run -1 "$MOAT_BUILD/moatctl" host detach "${PFX}b"
  assert_contains "$output" "no host process \"${PFX}b\""
  assert_eq "${#lines[@]}" 1 "one line"
  run -0 "$MOAT_BUILD/moatctl" host detach "${PFX}a"
  run -0 "$MOAT_BUILD/moatctl" check
  hp_teardown
}
