#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# Hook-driven attach: real runc containers with a network namespace of
# their own (CTR_NETNS=new) and no CNI runtime. The hook finds the network
# by name in a private directory (MOAT_NETWORK_DIRS), attaches the
# container at prestart (or createRuntime) with the plugin's ADD, and
# removes everything at poststop (runc delete). Real traffic proves the
# policy; assert_nothing_left proves the removal.

load helpers
load runc

setup() {
  setup_moat_net
  runc_setup
  NETDIR=$T/networks
  mkdir -p "$NETDIR"
  # Another network first in lexical order, then this test's as a
  # conflist with another plugin after moat.
  jq -n --arg n "other-$PFX" '{cniVersion: "1.0.0", name: $n,
    plugins: [{type: "moat", bridge: "none0", subnet: "10.9.9.0/24"}]}' >"$NETDIR/00-other.conflist"
  jq -n --arg n "$NET" --arg br "$BR" --arg sub "$SUBNET" --argjson allow "$ALLOW_ALL" '{cniVersion: "1.0.0", name: $n,
    plugins: [{type: "moat", bridge: $br, subnet: $sub, allow: $allow},
              {type: "portmap", capabilities: {portMappings: true}}]}' >"$NETDIR/50-moat.conflist"
  export CTR_NETNS=new
  export CTR_HOOK_ENV="MOAT_NETWORK_DIRS=$NETDIR"
  LINKS_BEFORE=$(moat_links)
}

teardown() {
  runc_teardown
  teardown_moat_net
}

net() { echo "io.moat.network=$NET"; }

# hook_ip NAME: the address the hook's ADD gave container NAME.
hook_ip() { jq -er '.address | split("/")[0]' "$(record_of "$1")" || fail "no record for $1"; }

# ctr_create_jq NAME JQ_FILTER [ANNOTATION...]: ctr_create with config.json
# edited by JQ_FILTER (runc.bash has no knob for process.env or for no
# network namespace at all).
ctr_create_jq() {
  local name=$1 filter=$2 bundle=$CTR_DIR/$1 status=0
  shift 2
  mkdir -p "$bundle"
  rm -f "$bundle/pid"
  ctr_config "$name" "$@" | jq "$filter" >"$bundle/config.json" ||
    fail "cannot write $bundle/config.json"
  cid_of "$name" >>"$T/containers"
  rc run -d --pid-file "$bundle/pid" --bundle "$bundle" "$(cid_of "$name")" \
    </dev/null >"$bundle/runc.log" 2>&1 || status=$?
  # runc quotes the hook's stderr inside its own message.
  sed 's/\\"/"/g' "$bundle/runc.log"
  return "$status"
}

# ctr_create_env NAME ENV_JSON_ARRAY [ANNOTATION...]: more variables in
# process.env.
ctr_create_env() {
  local name=$1 env=$2
  shift 2
  ctr_create_jq "$name" ".process.env += $env" "$@"
}

# ctr_create_q NAME [ANNOTATION...]: ctr_create, runc's quoting undone.
ctr_create_q() { ctr_create_jq "$1" . "${@:2}"; }

# run_hook STAGE STATE_JSON: moat-hook by hand, with the environment the
# containers' hooks get.
run_hook() {
  printf '%s' "$2" | env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" MOAT_NETWORK_DIRS="$NETDIR" \
    timeout 60 ${MOAT_WRAP-} "$MOAT_BUILD/moat-hook" "$1" 2>&1
}

tcp_ok() { # FROM TO PORT
  run ctr_tcp_connect "$1" "$(hook_ip "$2")" "$3"
  assert_eq "$output" ok "tcp $1 -> $2:$3"
}
tcp_refused() { # FROM TO PORT
  run ctr_tcp_connect "$1" "$(hook_ip "$2")" "$3"
  assert_eq "$output" refused "tcp $1 -> $2:$3"
}

@test "hook attach: two containers with a shared label talk, another label is refused" {
  local port
  port=$(random_port)
  ctr_start web1 "$(net)" io.moat.labels=app=web
  ctr_start web2 "$(net)" io.moat.labels=app=web,tier=2
  ctr_start db "$(net)" io.moat.labels=app=db
  run -0 jq -e '.attachedBy == "hook" and .netns == "/proc/\($p)/ns/net" and .netconf.name == $n
    and .netconf.type == "moat" and .netconf.cniVersion == "1.0.0"' \
    --arg p "$(ctr_pid web1)" --arg n "$NET" "$(record_of web1)"
  assert_eq "$(ctr_ip web1)" "$(hook_ip web1)" "eth0 of web1"
  for c in web1 web2 db; do ctr_tcp_listen "$c" "$port"; done
  tcp_ok web1 web2 "$port"
  tcp_ok web2 web1 "$port"
  tcp_refused db web1 "$port"
  tcp_refused web1 db "$port"
}

@test "hook attach: MOAT_* variables in process.env stand in for annotations; an annotation wins" {
  local port
  port=$(random_port)
  ctr_create_env a "$(jq -nc --arg n "$NET" '["MOAT_NETWORK=" + $n, "MOAT_LABELS=app=web"]')"
  ctr_running a || fail "a is not running"
  ctr_start b "$(net)" io.moat.labels=app=web
  # process.env says web, the annotation says db: db it is.
  ctr_create_env c "$(jq -nc --arg n "$NET" '["MOAT_NETWORK=" + $n, "MOAT_LABELS=app=web"]')" \
    io.moat.labels=app=db
  ctr_running c || fail "c is not running"
  run -0 jq -e '.attachedBy == "hook"' "$(record_of a)"
  for x in a b c; do ctr_tcp_listen "$x" "$port"; done
  tcp_ok a b "$port"
  tcp_ok b a "$port"
  tcp_refused c b "$port"
  tcp_refused b c "$port"
  # A malformed variable fails the start like the annotation would.
  run ctr_create_env d "$(jq -nc --arg n "$NET" '["MOAT_NETWORK=" + $n, "MOAT_ALLOW_HOST=tcp/0"]')"
  [[ $status -ne 0 ]] || fail "d started"
  assert_contains "$output" "MOAT_ALLOW_HOST: port 0 out of range"
  [[ ! -e $(record_of d) ]] || fail "d has a record"
}

@test "hook attach: createRuntime as the stage works too" {
  local port
  port=$(random_port)
  CTR_HOOK_STAGES="createRuntime poststop"
  ctr_start a "$(net)" io.moat.labels=x=1
  ctr_start b "$(net)" io.moat.labels=x=1
  ctr_tcp_listen b "$port"
  tcp_ok a b "$port"
  run -0 jq -e '.attachedBy == "hook"' "$(record_of a)"
}

@test "hook attach: runc delete runs poststop, which leaves nothing; poststop again is fine" {
  local port state_a
  port=$(random_port)
  ctr_start a "$(net)" io.moat.labels=k=v
  ctr_start b "$(net)" io.moat.labels=k=v
  ctr_tcp_listen b "$port"
  tcp_ok a b "$port"
  # prestart again (state as runc reports it) changes nothing.
  state_a=$(ctr_state a)
  run -0 run_hook prestart "$state_a"
  assert_eq "$output" "" "second prestart"
  assert_eq "$(network_records | wc -l)" 2 "records"
  tcp_ok a b "$port"
  ctr_delete a
  ctr_delete b
  assert_nothing_left "$LINKS_BEFORE"
  run -0 run_hook poststop "$state_a"
  assert_nothing_left "$LINKS_BEFORE"
}

@test "hook attach: poststop after a crash removes what a lost poststop left" {
  # No poststop hook: the container goes, its attachment stays, as when
  # the hook was killed or runc lost it.
  CTR_HOOK_STAGES=prestart
  ctr_start a "$(net)"
  ctr_delete a
  # The namespace went with the container, and the veth pair with it; the
  # record, the address and the elements stay.
  [[ -f $(record_of a) ]] || fail "the record of a is gone"
  [[ -n $(nft_elems_of_test) ]] || fail "the elements of a are gone"
  run -0 run_hook poststop "$(jq -nc --arg id "$(cid_of a)" '{ociVersion: "1.0.2", id: $id, status: "stopped"}')"
  assert_nothing_left "$LINKS_BEFORE"
}

@test "hook attach: a network not found fails the start with one line, and nothing is made" {
  run ctr_create_q a io.moat.network=nope-$PFX io.moat.labels=app=x
  [[ $status -ne 0 ]] || fail "a started"
  assert_contains "$output" "moat-hook: io.moat.network: network \"nope-$PFX\" not found in $NETDIR (files *.conflist, *.conf, *.json)"
  assert_nothing_left "$LINKS_BEFORE"
}

@test "hook attach: no moat plugin in the conflist, and a malformed file, are named" {
  jq -n --arg n "plain-$PFX" '{cniVersion: "1.0.0", name: $n, plugins: [{type: "bridge"}]}' \
    >"$NETDIR/20-plain.conflist"
  run ctr_create_q a "io.moat.network=plain-$PFX"
  [[ $status -ne 0 ]] || fail "a started"
  assert_contains "$output" "$NETDIR/20-plain.conflist: network \"plain-$PFX\" has no plugin of type \"moat\""
  echo '{"name": ' >"$NETDIR/10-broken.json"
  run ctr_create_q b "$(net)"
  [[ $status -ne 0 ]] || fail "b started"
  assert_contains "$output" "$NETDIR/10-broken.json: line"
  assert_nothing_left "$LINKS_BEFORE"
}

@test "hook attach: a failure after the ADD undoes it (unknown profile): nothing is left" {
  echo '{"profiles": {"Web": {"labels": "app=web"}}}' >"$T/policy.json"
  jq --arg f "$T/policy.json" '.plugins[0].policyFile = $f' "$NETDIR/50-moat.conflist" >"$T/c"
  mv "$T/c" "$NETDIR/50-moat.conflist"
  run ctr_create_q a "$(net)" io.moat.policy=Nope
  [[ $status -ne 0 ]] || fail "a started"
  assert_contains "$output" 'io.moat.policy: no profile "Nope"'
  assert_nothing_left "$LINKS_BEFORE"
}

# in_netns PID NS: process PID has entered netns NS.
in_netns() { [[ $(stat -L -c %i "/proc/$1/ns/net") == $(stat -L -c %i "/run/netns/$2") ]]; }

@test "hook attach: a namespace with an eth0 already (the engine's network) is refused with the fix; nothing is made" {
  new_netns busy
  # Someone else's veth end called eth0 in the container's namespace.
  ip link add "${PFX}e0" type veth peer name eth0 netns "${PFX}busy"
  echo "${PFX}e0" >>"$T/links"
  ip netns exec "${PFX}busy" sleep 1000 </dev/null >/dev/null 2>&1 &
  local pid=$! state
  echo "$pid" >>"$T/pids"
  wait_for 5 in_netns "$pid" "${PFX}busy" || fail "sleep did not enter ${PFX}busy"
  state=$(jq -nc --arg id "$(cid_of x)" --arg n "$NET" --argjson p "$pid" \
    '{ociVersion: "1.0.2", id: $id, status: "created", pid: $p, annotations: {"io.moat.network": $n}}')
  run -1 run_hook prestart "$state"
  assert_eq "$output" "moat-hook: container \"$(cid_of x)\": already has an interface \"eth0\" (its engine gave it a network): run it with --network none so that moat attaches it to network \"$NET\""
  ip -n "${PFX}busy" link show eth0 >/dev/null || fail "the refused attach deleted the namespace's eth0"
  link_exists "${PFX}e0" || fail "the refused attach deleted the peer of the namespace's eth0"
  assert_eq "$(find "$MOAT_RUN_DIR/$NET/ipam" -type f 2>/dev/null)" "" "addresses taken"
  assert_nothing_left "$LINKS_BEFORE"
}

@test "hook attach: refused without a pid, or a live pid; no namespace of its own: host-network" {
  # In the host's namespace it is a host-network container (bats/hostnet.bats).
  run ctr_create_jq a 'del(.linux.namespaces[] | select(.type == "network"))' "$(net)"
  [[ $status -eq 0 ]] || fail "a host-network container was refused: $output"
  [[ -f $MOAT_RUN_DIR/.hostnet/$(cid_of a).json ]] || fail "a has no host-network record"
  ctr_delete a
  [[ ! -e $MOAT_RUN_DIR/.hostnet/$(cid_of a).json ]] || fail "a's host-network record left"
  local state
  state=$(jq -nc --arg id "$(cid_of x)" --arg n "$NET" \
    '{ociVersion: "1.0.2", id: $id, status: "created", annotations: {"io.moat.network": $n}}')
  run -1 run_hook prestart "$state"
  assert_contains "$output" "the state has no pid; cannot attach it to network \"$NET\""
  # A pid that has certainly ended: a reaped child of ours.
  sleep 0 &
  local dead=$!
  wait "$dead"
  run -1 run_hook prestart "$(jq -c --argjson p "$dead" '. + {pid: $p}' <<<"$state")"
  assert_contains "$output" "process $dead is gone"
  assert_nothing_left "$LINKS_BEFORE"
}

@test "hook attach: a container CNI attached already is not attached twice, and poststop leaves it" {
  local port
  port=$(random_port)
  add_container a
  CTR_NETNS=/run/netns/$(ns_of a) ctr_create a "$(net)" io.moat.labels=app=a >/dev/null ||
    fail "runc run a failed"
  ctr_start b "$(net)" io.moat.labels=app=a
  assert_eq "$(network_records | grep -c "/$(cid_of a)@")" 1 "records of a"
  run -0 jq -e '.attachedBy == "cni" and .netconf == null' "$(record_of a)"
  ctr_tcp_listen a "$port"
  run ctr_tcp_connect b "$(ip_of a)" "$port"
  assert_eq "$output" ok "b -> a"
  CTR_NETNS=/run/netns/$(ns_of a) ctr_delete a
  # The runtime's attachment stays for the runtime's DEL.
  [[ -f $(record_of a) ]] || fail "poststop removed CNI's record of a"
  link_exists "$(hostif_of a)" || fail "poststop removed CNI's link of a"
  del_container a
  ctr_delete b
  assert_nothing_left "$LINKS_BEFORE"
}

@test "hook attach: MOAT_* variables without MOAT_NETWORK attach nothing; a notice says to name one with MOAT_NETWORK" {
  mkdir -p "$T/envonly"
  jq -n '{ociVersion: "1.0.2", process: {env: ["PATH=/bin", "MOAT_LABELS=app=web"]}}' >"$T/envonly/config.json"
  run -0 run_hook prestart "$(jq -nc --arg id "$(cid_of e)" --arg b "$T/envonly" \
    '{ociVersion: "1.0.2", id: $id, status: "created", pid: 1, bundle: $b}')"
  assert_eq "$output" "moat-hook: container \"$(cid_of e)\": MOAT_* environment ignored: it has no moat network attachment (name one with MOAT_NETWORK)"
  [[ ! -e $(record_of e) ]] || fail "e was attached"
  assert_nothing_left "$LINKS_BEFORE"
}

@test "hook attach: a container with no moat setting is left alone" {
  run -0 run_hook prestart "$(jq -nc --arg id "$(cid_of z)" \
    '{ociVersion: "1.0.2", id: $id, status: "created", pid: 1, annotations: {"x": "y"}}')"
  assert_eq "$output" ""
  CTR_NETNS=new ctr_create plain >/dev/null || fail "plain did not start"
  [[ ! -e $(record_of plain) ]] || fail "plain got a record"
}

@test "hook attach: with delegated IPAM host-local, under Landlock, attach and poststop work" {
  local data=$T/ipam-data port ip
  port=$(random_port)
  # Debian 12's host-local speaks CNI up to 1.0.0. Its dataDir does not
  # exist yet: the hook makes it before it confines itself.
  jq -n --arg n "$NET" --arg br "$BR" --arg s "$SUBNET" --arg g "$GW" --arg d "$data" '{
    cniVersion: "1.0.0", name: $n,
    plugins: [{type: "moat", bridge: $br, ipam: {type: "host-local", dataDir: $d,
      ranges: [[{subnet: $s, gateway: $g}]], routes: [{dst: "0.0.0.0/0"}]}}]}' \
    >"$NETDIR/50-moat.conflist"
  ctr_start a "$(net)" io.moat.labels=k=v
  ctr_start b "$(net)" io.moat.labels=k=v
  run -0 jq -e '.attachedBy == "hook" and .ipam == "host-local"' "$(record_of a)"
  ip=$(hook_ip a)
  [[ -f $data/$NET/$ip ]] || fail "host-local has no file for $ip: $(ls -R "$data")"
  ctr_tcp_listen b "$port"
  tcp_ok a b "$port"
  ctr_delete a
  [[ ! -e $data/$NET/$ip ]] || fail "host-local still holds $ip after poststop"
  ctr_delete b
  assert_nothing_left "$LINKS_BEFORE"
}

@test "hook attach: io.moat.publish (and MOAT_PUBLISH) publish with the attach; poststop takes them; a runtime's attachment refuses it" {
  local hp
  hp=$(random_port)
  ctr_start web "$(net)" io.moat.labels=app=web "io.moat.publish=$hp:80/tcp,$((hp + 1)):81/udp"
  run -0 jq -e --arg a "$hp:80/tcp" --arg b "$((hp + 1)):81/udp" \
    '.publish == [$a, $b]' "$(record_of web)"
  ctr_tcp_listen web 80
  PROBE_TOKEN=hook-pub run -0 ns_tcp_connect host 127.0.0.1 "$hp"
  PROBE_TOKEN=hook-gw run -0 ns_tcp_connect host "$GW" "$hp"
  # The environment stands in for the annotation on a network that reads it.
  ctr_create_env envpub "$(jq -nc --arg n "$NET" --arg p "$((hp + 2)):80" \
    '["MOAT_NETWORK=" + $n, "MOAT_PUBLISH=" + $p]')"
  ctr_running envpub || fail "envpub is not running"
  ctr_tcp_listen envpub 80
  PROBE_TOKEN=hook-env run -0 ns_tcp_connect host 127.0.0.1 "$((hp + 2))"
  # show names where each came from.
  run -0 "$MOAT_BUILD/moatctl" --json show "$(cid_of web)"
  assert_jq "$output" '.containers[0].policyItems.items.publish | map(.from) == ["annotation", "annotation"]'
  run -0 "$MOAT_BUILD/moatctl" --json show "$(cid_of envpub)"
  assert_jq "$output" '.containers[0].policyItems.items.publish == [{item: $i, from: "annotation"}]' \
    --arg i "$((hp + 2)):80/tcp"
  # A taken port fails the start with moat's reason; nothing is made.
  run ctr_create_q taken "$(net)" "io.moat.publish=$hp:8080"
  [[ $status -ne 0 ]] || fail "taken started"
  assert_contains "$output" "published port $hp:8080/tcp: host port held by container"
  [[ ! -e $(record_of taken) ]] || fail "taken has a record"
  # Bad input names the key.
  run ctr_create_q bad "$(net)" "io.moat.publish=$hp:80/sctp"
  [[ $status -ne 0 ]] || fail "bad started"
  assert_contains "$output" 'io.moat.publish: item "'"$hp"':80/sctp": protocol "sctp" is not tcp or udp'
  ctr_delete web
  ctr_delete envpub
  PROBE_TOKEN=hook-gone run ns_tcp_connect host 127.0.0.1 "$hp"
  assert_eq "$output" refused "127.0.0.1:$hp after poststop"
  assert_nothing_left "$LINKS_BEFORE"
  # A container the runtime attached (CNI ADD before the hook) cannot be
  # given ports by annotation: refused, not ignored.
  add_container cni
  run hook prestart cni "$(jq -nc --arg p "$hp:80" '{"io.moat.publish": $p}')"
  [[ $status -ne 0 ]] || fail "prestart accepted io.moat.publish on a runtime attachment"
  assert_contains "$output" "io.moat.publish: container \"$(cid_of cni)\" was attached by its runtime"
}

@test "hook attach: a container connected later to a second network by a CNI ADD takes its labels there; that DEL leaves the first network as it was" {
  local port id netns before rec2 ip_a2
  port=$(random_port)
  second_network
  ctr_start web1 "$(net)" io.moat.labels=app=web
  CNI_CONF=$MOAT_CONF2 add_container s2
  CNI_CONF=$MOAT_CONF2 add_container o2
  run -0 hook prestart s2 '{"io.moat.labels": "app=web"}'
  run -0 hook prestart o2 '{"io.moat.labels": "app=db"}'
  ns_tcp_listen "$(ns_of s2)" 0.0.0.0 "$port"
  ns_tcp_listen "$(ns_of o2)" 0.0.0.0 "$port"
  id=$(cid_of web1)
  netns=/proc/$(ctr_pid web1)/ns/net
  before=$(cat "$(record_of web1)")

  # The engine's way to connect it (what podman network connect does): the
  # plugin's ADD for the same container id, on the second network, eth1.
  CNI_CONF=$MOAT_CONF2 run -0 cni ADD "$id" "$netns" eth1
  rec2=$(cat "$MOAT_RUN_DIR/$NET2/$id@eth1.json") || fail "no record of web1 on $NET2"
  assert_jq "$rec2" '.policy.labels.app == "web" and .sources.annotations["io.moat.labels"] == "app=web"
    and .attachedBy == "cni"'
  ip_a2=$(jq -r '.address | split("/")[0]' <<<"$rec2")
  PROBE_TOKEN=w1-s2 run -0 ctr_tcp_connect web1 "$(ip_of s2)" "$port"
  PROBE_TOKEN=w1-o2 run ctr_tcp_connect web1 "$(ip_of o2)" "$port"
  assert_eq "$output" refused "web1 -> o2 (app=db) on $NET2"
  ctr_tcp_listen web1 "$port"
  PROBE_TOKEN=s2-w1 run -0 ns_tcp_connect "$(ns_of s2)" "$ip_a2" "$port"
  PROBE_TOKEN=o2-w1 run ns_tcp_connect "$(ns_of o2)" "$ip_a2" "$port"
  assert_eq "$output" refused "o2 (app=db) -> web1 on $NET2"

  CNI_CONF=$MOAT_CONF2 run -0 cni DEL "$id" "$netns" eth1
  [[ ! -e $MOAT_RUN_DIR/$NET2/$id@eth1.json ]] || fail "web1's record on $NET2 left"
  assert_eq "$(nft_elems_matching "$ip_a2")" "" "elements naming web1's address on $NET2"
  assert_eq "$(cat "$(record_of web1)")" "$before" "web1's record on $NET"
}
