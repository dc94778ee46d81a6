#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# Names under hook-driven attach (runc, io.moat.network): io.moat.name,
# io.moat.aliases and io.moat.ip reach the plugin's ADD as a runtime's CNI
# call would carry them; the bind-mounted /etc/resolv.conf (as docker and
# podman 5 make one) is pointed at the network's name server.

load helpers
load runc

setup() {
  setup_moat_net
  runc_setup
  NETDIR=$T/networks
  mkdir -p "$NETDIR"
  jq -n --arg n "$NET" --arg br "$BR" --arg sub "$SUBNET" --argjson allow "$ALLOW_ALL" '{cniVersion: "1.0.0", name: $n,
    plugins: [{type: "moat", bridge: $br, subnet: $sub, allow: $allow, names: true}]}' >"$NETDIR/50-moat.conflist"
  export CTR_NETNS=new
  export CTR_HOOK_ENV="MOAT_NETWORK_DIRS=$NETDIR"
}

teardown() {
  runc_teardown
  local pid n
  teardown_moat_net
  # After every DEL: a dnsmasq still running was left behind.
  for n in "$NET" "${NET2-}"; do
    pid=$(pgrep -f -- "--pid-file=$MOAT_RUN_DIR/$n/dnsmasq.pid") &&
      { echo "# teardown: dnsmasq $pid left" >&2; kill "$pid"; }
  done
  return 0
}

# ctr_named NAME [ANNOTATION...]: a container on the test's network with
# its own resolv.conf file bind-mounted at /etc/resolv.conf.
ctr_named() {
  local name=$1 bundle=$CTR_DIR/$1 status=0
  shift
  mkdir -p "$bundle"
  rm -f "$bundle/pid"
  echo "nameserver 192.0.2.53" >"$bundle/resolv.conf"
  ctr_config "$name" "io.moat.network=$NET" "$@" |
    jq --arg r "$bundle/resolv.conf" '.mounts += [{destination: "/etc/resolv.conf", type: "bind",
      source: $r, options: ["rbind", "ro"]}]' >"$bundle/config.json" || fail "config.json"
  cid_of "$name" >>"$T/containers"
  rc run -d --pid-file "$bundle/pid" --bundle "$bundle" "$(cid_of "$name")" \
    </dev/null >"$bundle/runc.log" 2>&1 || status=$?
  sed 's/\\"/"/g' "$bundle/runc.log"
  return "$status"
}

ctr_resolve() { # FROM NAME
  ctr_exec "$1" nslookup "$2" 2>/dev/null |
    awk '/^Name:/ { found = 1 } found && /^Address/ { sub(/^Address:? */, ""); print; exit }'
}

@test "dns hook: io.moat.name and io.moat.aliases resolve at a peer, io.moat.ip fixes the address" {
  local ip_db="$NETPFX.77" out
  run -0 ctr_named db "io.moat.name=db-$PFX" "io.moat.aliases=database,cache" "io.moat.ip=$ip_db" \
    io.moat.labels=app=x
  run -0 ctr_named web io.moat.labels=app=x
  assert_eq "$(jq -r '.address' "$(record_of db)")" "$ip_db/24" "db's address"
  assert_eq "$(jq -r '.name' "$(record_of db)")" "db-$PFX" "db's record name"
  out=$(ctr_exec web cat /etc/resolv.conf)
  assert_contains "$out" "nameserver $GW" "web's resolv.conf"
  assert_eq "$(ctr_resolve web "db-$PFX")" "$ip_db" "web: db by name"
  assert_eq "$(ctr_resolve web cache)" "$ip_db" "web: db by alias"
  ctr_serve db 80
  assert_eq "$(ctr_fetch web "database" 80)" ok "web -> db by alias"

  # The same address again: the allocator's conflict, before anything is made.
  run ctr_named other "io.moat.ip=$ip_db"
  ((status != 0)) || fail "a second container got $ip_db"
  assert_contains "$output" "$ip_db"

  ctr_delete db
  assert_eq "$(ctr_resolve web cache)" "" "db's alias after its poststop"
  ctr_delete web
  ctr_delete other 2>/dev/null || true
  assert_eq "$(pgrep -f -- "--pid-file=$MOAT_RUN_DIR/$NET/dnsmasq.pid")" "" "dnsmasq after the last poststop"
}

@test "dns hook: a bad io.moat.name fails the container with the key named, nothing made" {
  run ctr_named bad "io.moat.name=bad.name"
  ((status != 0)) || fail "runc run succeeded"
  assert_contains "$output" 'io.moat.name: "bad.name" is not a DNS label'
  [[ ! -e $MOAT_RUN_DIR/$NET ]] || fail "state made: $(find "$MOAT_RUN_DIR/$NET")"
}

@test "dns: two networks with names on one bridge each get their name server" {
  local out
  MOAT_CONF=$(jq -c '. + {names: true}' <<<"$MOAT_CONF")
  second_network
  MOAT_CONF2=$(jq -c --arg br "$BR" '. + {names: true, bridge: $br}' <<<"$MOAT_CONF2")
  CNI_ARGS_VALUE="K8S_POD_NAME=$PFX-a" add_container a
  new_netns b
  CNI_CONF=$MOAT_CONF2 CNI_ARGS_VALUE="K8S_POD_NAME=$PFX-b" run -0 cni ADD "$PFX-b" "${PFX}b"
  out=$(ip netns exec "${PFX}a" timeout 3 busybox nslookup "$PFX-a" "$GW" 2>&1) || true
  assert_contains "$out" "Address: $(ip_of a)" "a asks its gateway for itself"
  out=$(ip netns exec "${PFX}b" timeout 3 busybox nslookup "$PFX-b" "$GW2" 2>&1) || true
  assert_contains "$out" "Address: $NETPFX2." "b asks its gateway for itself"
  [[ -n $(pgrep -f -- "--pid-file=$MOAT_RUN_DIR/$NET2/dnsmasq.pid") ]] || fail "no dnsmasq for $NET2"
  CNI_CONF=$MOAT_CONF2 run -0 cni DEL "$PFX-b" "${PFX}b"
  assert_eq "$(pgrep -f -- "--pid-file=$MOAT_RUN_DIR/$NET2/dnsmasq.pid")" "" "dnsmasq of $NET2 after its last DEL"
}
