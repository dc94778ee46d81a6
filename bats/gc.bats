#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2010 # jq programs in single quotes; ls of address files
# CNI GC (1.1.0): removes this network's attachments that the runtime no
# longer lists, and stray ports, and nothing else. moatctl check and gc:
# attachments whose container died behind moat's back (its netns deleted,
# which destroys the veth) are named by check and removed by gc, and
# nothing else is.

load helpers
load runc

setup() { setup_moat_net; }
teardown() {
  runc_teardown
  teardown_moat_net
}

# gc_conf KEY NAME...: the config with KEY listing the named containers.
gc_conf() {
  local key=$1 name list='[]'
  shift
  for name in "$@"; do
    list=$(jq -c --arg c "$(cid_of "$name")" '. + [{containerID: $c, ifname: "eth0"}]' <<<"$list")
  done
  jq -c --arg k "$key" --argjson l "$list" '. + {($k): $l}' <<<"$MOAT_CONF"
}

assert_attached() { # NAME
  [[ -f $(record_of "$1") ]] || fail "record of $1 missing"
  link_exists "$(hostif_of "$1")" || fail "host end of $1 missing"
  nft_has inet members "$BR . $(ip_of "$1")" || fail "members element of $1 missing"
  CNI_CONF=$(conf_with_prev "$(result_of "$1")") run -0 cni CHECK "$(cid_of "$1")" "$(ns_of "$1")"
}

assert_detached() { # NAME
  [[ ! -e $(record_of "$1") ]] || fail "record of $1 left"
  link_gone "$(hostif_of "$1")" || fail "host end of $1 left"
  [[ ! -e $MOAT_RUN_DIR/$NET/ipam/$(ip_of "$1") ]] || fail "allocation of $1 left"
  assert_eq "$(nft_elems_of "$1")" "" "elements of $1"
}

@test "GC removes attachments missing from cni.dev/valid-attachments and keeps the listed ones" {
  add_container c1
  add_container c2
  add_container c3
  CNI_CONF=$(gc_conf cni.dev/valid-attachments c1 c3) run -0 cni GC
  assert_eq "$output" "" "GC output"
  assert_attached c1
  assert_attached c3
  assert_detached c2
}

@test "GC accepts the older cni.dev/attachments key" {
  add_container c1
  add_container c2
  CNI_CONF=$(gc_conf cni.dev/attachments c2) run -0 cni GC
  assert_attached c2
  assert_detached c1
}

@test "GC with an empty list removes every attachment of this network only" {
  second_network
  add_container c1
  new_netns o1
  CNI_CONF=$MOAT_CONF2 run -0 cni ADD "$PFX-o1" "$(ns_of o1)"
  local other=$output other_ip
  other_ip=$(jq -r '.ips[0].address | split("/")[0]' <<<"$other")

  CNI_CONF=$(gc_conf cni.dev/valid-attachments) run -0 cni GC
  assert_detached c1
  [[ -f $MOAT_RUN_DIR/$NET2/$PFX-o1@eth0.json ]] || fail "GC removed another network's record"
  link_exists "$(jq -r '.interfaces[1].name' <<<"$other")" || fail "GC removed another network's port"
  nft_has inet members "$BR2 . $other_ip" || fail "GC removed another network's element"
}

@test "GC removes a stray mt* port on the bridge that has no record" {
  add_container c1
  local stray
  stray=mt$(printf '%04x%04x%04x%x' $RANDOM $RANDOM $RANDOM $((RANDOM % 16)))
  ip link add "$stray" type veth peer name "${PFX}sp"
  printf '%s\n' "$stray" "${PFX}sp" >>"$T/links"
  ip link set "$stray" master "$BR" up
  CNI_CONF=$(gc_conf cni.dev/valid-attachments c1) run -0 cni GC
  link_gone "$stray" || fail "stray port $stray left on the bridge"
  assert_attached c1
}

@test "GC and STATUS need no container variables" {
  add_container c1
  CNI_CONF=$(gc_conf cni.dev/valid-attachments c1) run -0 cni GC
  run -0 cni STATUS
  assert_eq "$output" "" "STATUS output"
  assert_attached c1
}

# ---------------------------------------------------------------- moatctl gc

# ctl ARGS...: moatctl as root runs it (under $CTL_WRAP, e.g. valgrind);
# stdout and stderr together.
ctl() {
  # shellcheck disable=SC2086 # CTL_WRAP is a command line
  env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" timeout 120 ${CTL_WRAP-} \
    "$MOAT_BUILD/moatctl" "$@" 2>&1
}

# crash NAME: the container's namespace goes behind moat's back, as when an
# engine dies with its containers; the veth dies with it.
crash() {
  local hostif
  hostif=$(hostif_of "$1")
  ip netns del "$(ns_of "$1")"
  wait_for 10 link_gone "$hostif"
}

# The state of NAME that gc --dry-run must not change.
state_of() { # NAME
  cat "$(record_of "$1")"
  ls "$MOAT_RUN_DIR/$NET/ipam"
  nft_elems_of "$1"
}

# The publish map as nft lists it (a map: nft_elems lists sets only).
publish_map() { nft list map inet moat publish 2>/dev/null || true; }

# stale_line NAME: the start of check's and gc's line for NAME.
stale_line() { echo "network \"$NET\" container $(cid_of "$1") eth0 $(ip_of "$1"):"; }

@test "moatctl check names a crashed container's attachment (exit 1), not a live one; gc --dry-run changes nothing" {
  add_container c1
  add_container c2
  local before_c1 before_c2
  before_c1=$(state_of c1)
  before_c2=$(state_of c2)
  [[ -n $(nft_elems_of c1) ]] || fail "no elements of c1 before the crash"
  run -0 ctl check
  assert_contains "$output" "ok:" "check before the crash"

  crash c1
  run -1 ctl check
  assert_contains "$output" "stale: $(stale_line c1) netns /run/netns/$(ns_of c1) and host end $(hostif_of c1) gone"
  assert_contains "$output" "run \`moatctl gc\`"
  assert_not_contains "$output" "$(cid_of c2)" "check output"
  run -1 ctl --json check
  assert_jq "$output" '(.stale | length) == 1 and .stale[0].container == $c
     and .stale[0].network == $n and .stale[0].ifname == "eth0" and .stale[0].hostIf == $h
     and .stale[0].attachedBy == "cni" and (.stale[0].gone | contains("host end"))
     and (.kept | length) == 0' --arg c "$(cid_of c1)" --arg n "$NET" --arg h "$(hostif_of c1)"

  run -0 ctl gc --dry-run
  assert_contains "$output" "would remove: $(stale_line c1)"
  assert_contains "$output" "gc: 1 stale attachment would be removed, 0 kept (dry run: nothing changed)"
  assert_not_contains "$output" "$(cid_of c2)" "gc --dry-run output"
  run -0 ctl --json gc --dry-run
  assert_jq "$output" '(.stale | length) == 1 and .stale[0].container == $c' --arg c "$(cid_of c1)"
  assert_eq "$(state_of c1)" "$before_c1" "c1's record, addresses and elements after --dry-run"
  assert_eq "$(state_of c2)" "$before_c2" "c2's record, addresses and elements after --dry-run"
  run -0 ctl ls
  assert_contains "$output" "$(ip_of c1)" "ls after --dry-run"
  run -2 ctl ls --dry-run
  assert_contains "$output" "--dry-run is for gc"
}

@test "moatctl gc removes exactly the crashed containers' attachments, as DEL would; the live one keeps working; a second gc removes nothing" {
  add_container c1
  conf_set '.runtimeConfig = {portMappings: [{hostPort: 18080, containerPort: 80, protocol: "tcp"}]}'
  add_container c2
  conf_set 'del(.runtimeConfig)'
  add_container c3
  add_container c4
  local ip2
  ip2=$(ip_of c2)
  nft_has inet published "$ip2 . tcp . 80" || fail "no published port of c2 before the crash"
  assert_contains "$(publish_map)" ". 18080 : $ip2 . 80" "publish map before the crash"
  crash c1
  crash c2

  run -0 ctl gc
  assert_contains "$output" "removed: $(stale_line c1)"
  assert_contains "$output" "removed: $(stale_line c2)"
  assert_contains "$output" "gc: 2 stale attachments removed, 0 kept"
  assert_not_contains "$output" "$(cid_of c3)" "gc output"
  assert_detached c1
  assert_detached c2
  nft_has inet published "$ip2 . tcp . 80" && fail "c2's published element left"
  assert_not_contains "$(publish_map)" "$ip2" "publish map after gc"
  run -0 ctl ls
  assert_not_contains "$output" "$(ip_of c1)" "ls after gc"
  assert_not_contains "$output" "$(ip_of c2)" "ls after gc"
  assert_contains "$output" "$(ip_of c3)" "ls after gc"
  assert_attached c3
  assert_attached c4
  # The live ones work as before: the host reaches c4, c3 is still refused.
  ns_tcp_listen "$(ns_of c4)" "$(ip_of c4)" 8080
  run -0 ns_tcp_connect host "$(ip_of c4)" 8080
  run -1 ns_tcp_connect "$(ns_of c3)" "$(ip_of c4)" 8080
  assert_eq "$output" refused "c3 -> c4"

  run -0 ctl gc
  assert_eq "$output" "gc: 0 stale attachments removed, 0 kept" "second gc"
  run -0 ctl --json gc
  assert_jq "$output" '(.removed | length) == 0 and (.kept | length) == 0 and (.failed | length) == 0'
  run -0 ctl check
  assert_contains "$output" "ok:" "check after gc"
}

@test "moatctl gc keeps an attachment while its netns or its host end is still there, and says which" {
  add_container c1
  add_container c2
  new_netns keep
  # c1's netns goes but its veth lives on, moved to another namespace.
  ip -n "$(ns_of c1)" link set eth0 netns "$(ns_of keep)"
  ip netns del "$(ns_of c1)"
  # c2's host end goes (with its pair) while its netns lives on.
  ip link del "$(hostif_of c2)"
  run -0 ctl check
  assert_contains "$output" "kept: $(stale_line c1) netns /run/netns/$(ns_of c1) gone; kept: host end $(hostif_of c1) still there"
  assert_contains "$output" "kept: $(stale_line c2) host end $(hostif_of c2) gone; kept: netns /run/netns/$(ns_of c2) still there"
  assert_not_contains "$output" "stale:" "check output"
  run -0 ctl gc
  assert_contains "$output" "gc: 0 stale attachments removed, 2 kept"
  run -0 ctl --json gc --dry-run
  assert_jq "$output" '(.stale | length) == 0 and (.kept | length) == 2
    and (.kept | map(.why) | all(endswith("still there")))'
  [[ -f $(record_of c1) ]] || fail "record of c1 removed"
  [[ -f $(record_of c2) ]] || fail "record of c2 removed"
  [[ -n $(nft_elems_of c1) ]] || fail "elements of c1 removed"
  [[ -n $(nft_elems_of c2) ]] || fail "elements of c2 removed"
}

@test "moatctl gc of the last container's stale attachment leaves nothing of the network, as its DEL would" {
  local before
  before=$(moat_links)
  add_container c1
  link_exists "$BR" || fail "no bridge"
  crash c1
  run -0 ctl gc
  assert_contains "$output" "removed: $(stale_line c1)"
  assert_nothing_left "$before"
  [[ ! -e $MOAT_RUN_DIR/$NET ]] || fail "state directory of $NET left: $(ls -R "$MOAT_RUN_DIR/$NET")"
  run -0 ctl check
  assert_contains "$output" "ok:" "check after gc"
}

@test "moatctl gc stops the name server with the last stale attachment of a network with names" {
  command -v dnsmasq >/dev/null || fail "dnsmasq not installed"
  conf_set '.names = true'
  add_container c1
  local pid pidfile=$MOAT_RUN_DIR/$NET/dnsmasq.pid
  wait_for 5 test -s "$pidfile"
  pid=$(cat "$pidfile")
  alive "$pid" || fail "dnsmasq $pid not running"
  crash c1
  run -0 ctl gc
  assert_contains "$output" "removed: $(stale_line c1)"
  wait_for 5 eval "! alive $pid"
  bridge_left_empty "$BR" || fail "ports left on the bridge"
}

# hook_network [IPAM_JSON]: this test's network as a file the hook finds
# by name (hook-driven attach), its own allocator or IPAM_JSON's; runc
# containers of their own namespace.
hook_network() {
  network_file "${1-}"
  runc_setup
  export CTR_NETNS=new CTR_HOOK_ENV="MOAT_NETWORK_DIRS=$T/networks"
}

# network_file [IPAM_JSON]: the network as a file in $T/networks.
network_file() {
  mkdir -p "$T/networks"
  jq -n --arg n "$NET" --arg br "$BR" --arg sub "$SUBNET" --argjson allow "$ALLOW_ALL" \
    --argjson ipam "${1:-null}" \
    '{cniVersion: "1.0.0", name: $n, plugins: [{type: "moat", bridge: $br, allow: $allow}
      + (if $ipam then {ipam: $ipam} else {subnet: $sub} end)]}' >"$T/networks/50-moat.conflist"
}

# host_local_ipam DIR: host-local's configuration for this test's subnet.
host_local_ipam() {
  jq -nc --arg d "$1" --arg s "$SUBNET" --arg g "$GW" \
    '{type: "host-local", dataDir: $d, ranges: [[{subnet: $s, gateway: $g}]]}'
}

@test "moatctl gc removes a hook-made attachment whose container died, and keeps a live one" {
  hook_network
  run -0 ctr_create h1 "io.moat.network=$NET"
  run -0 ctr_create h2 "io.moat.network=$NET"
  local rec1 rec2 ip1 host1 mac1
  rec1=$(record_of h1)
  rec2=$(record_of h2)
  assert_jq "$(cat "$rec1")" '.attachedBy == "hook"'
  ip1=$(jq -r '.address | split("/")[0]' "$rec1")
  host1=$(jq -r .hostIf "$rec1")
  mac1=$(jq -r .mac "$rec1")
  [[ -n $(nft_elems_matching "$ip1" "$host1" "$mac1") ]] || fail "no elements of h1"

  # The container dies and nobody runs its poststop: its namespace and veth go.
  kill -9 "$(ctr_pid h1)"
  wait_for 10 link_gone "$host1"
  run -1 ctl check
  assert_contains "$output" "stale: network \"$NET\" container $(cid_of h1) eth0 $ip1:"
  assert_not_contains "$output" "$(cid_of h2)" "check output"
  run -0 ctl gc
  assert_contains "$output" "removed: network \"$NET\" container $(cid_of h1) eth0 $ip1:"
  assert_contains "$output" "gc: 1 stale attachment removed, 0 kept"
  [[ ! -e $rec1 ]] || fail "record of h1 left"
  [[ ! -e $MOAT_RUN_DIR/$NET/ipam/$ip1 ]] || fail "allocation of h1 left"
  assert_eq "$(nft_elems_matching "$ip1" "$host1" "$mac1")" "" "elements of h1"
  [[ -f $rec2 ]] || fail "record of h2 removed"
  link_exists "$(jq -r .hostIf "$rec2")" || fail "host end of h2 removed"
  # check holds the kernel to h2's record: its elements are all there.
  run -0 ctl check
  assert_contains "$output" "ok:" "check after gc"
  run -0 ctl gc
  assert_contains "$output" "gc: 0 stale attachments removed, 0 kept"
}

@test "moatctl gc releases a hook-made attachment's delegated IPAM address with the network configuration its record keeps" {
  local data=$T/ipam-data rec ip
  mkdir -p "$data"
  hook_network "$(host_local_ipam "$data")"
  run -0 ctr_create h1 "io.moat.network=$NET"
  rec=$(record_of h1)
  assert_jq "$(cat "$rec")" '.ipam == "host-local" and .netconf.ipam.type == "host-local"'
  ip=$(jq -r '.address | split("/")[0]' "$rec")
  [[ -f $data/$NET/$ip ]] || fail "host-local has no file for $ip: $(ls -R "$data")"
  kill -9 "$(ctr_pid h1)"
  wait_for 10 link_gone "$(jq -r .hostIf "$rec")"
  run -0 ctl gc
  assert_contains "$output" "removed: network \"$NET\" container $(cid_of h1) eth0 $ip:"
  assert_not_contains "$output" "address left" "gc output"
  [[ ! -e $rec ]] || fail "record of h1 left"
  [[ ! -e $data/$NET/$ip ]] || fail "host-local still holds $ip after gc"
  bridge_left_empty "$BR" || fail "ports left on the bridge with the network's last attachment"
}

@test "moatctl gc of a runtime-made attachment with delegated IPAM: removed, its address left to the plugin, and said" {
  local data=$T/ipam-data ip
  mkdir -p "$data"
  conf_set 'del(.subnet) | .cniVersion = "1.0.0" | .ipam = $i' --argjson i "$(host_local_ipam "$data")"
  add_container c1
  add_container c2
  ip=$(ip_of c1)
  crash c1
  run -0 ctl gc
  assert_contains "$output" "removed: $(stale_line c1) netns /run/netns/$(ns_of c1) and host end $(hostif_of c1) gone; address left to its ipam plugin (no network configuration in the record)"
  [[ ! -e $(record_of c1) ]] || fail "record of c1 left"
  assert_eq "$(nft_elems_of c1)" "" "elements of c1"
  # The runtime's DEL, when it comes, or host-local's own GC frees it.
  [[ -f $data/$NET/$ip ]] || fail "host-local lost $ip without its DEL"
  CNI_CONF=$MOAT_CONF run -0 cni DEL "$(cid_of c1)" ""
  [[ ! -e $data/$NET/$ip ]] || fail "host-local still holds $ip after the runtime's DEL"
  assert_attached c2
}

@test "moatctl run killed with its process: the attachment it leaves is named by check and removed by gc" {
  network_file
  MOAT_NETWORK_DIRS=$T/networks "$MOAT_BUILD/moatctl" run --network "$NET" --name "$PFX-run" -- \
    sleep 1000 </dev/null >/dev/null 2>&1 &
  local pid=$! child rec cid
  echo "$pid" >>"$T/pids"
  wait_for 5 eval "compgen -G '$MOAT_RUN_DIR/$NET/moatctl-run-*.json'"
  rec=$(compgen -G "$MOAT_RUN_DIR/$NET/moatctl-run-*.json")
  cid=$(jq -r .containerId "$rec")
  wait_for 5 eval "pgrep -P $pid"
  child=$(pgrep -P "$pid")
  echo "$child" >>"$T/pids"
  # Both die at once: no poststop runs, the namespace goes with sleep.
  kill -9 "$pid" "$child"
  wait_for 10 link_gone "$(jq -r .hostIf "$rec")"
  run -1 ctl check
  assert_contains "$output" "stale: network \"$NET\" container $cid ($PFX-run) eth0"
  run -0 ctl gc
  assert_contains "$output" "removed: network \"$NET\" container $cid ($PFX-run) eth0"
  [[ ! -e $rec ]] || fail "record left: $rec"
  bridge_left_empty "$BR" || fail "ports left on the bridge with the network's last attachment"
}
