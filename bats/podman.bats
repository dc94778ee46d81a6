#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031,SC2016 # bats subshells; jq programs in single quotes
# moat under podman 4.3 (Debian's), end to end: the CNI backend runs the
# plugin for `--network NET`, hooks.d runs moat-hook for the io.moat.*
# annotations, and `--network none --annotation io.moat.network=NET` has the
# hook attach the container itself. Everything podman keeps is private to
# the test (bats/podman.bash).

load helpers
load podman

setup() {
  setup_moat_net
  podman_setup
}

teardown() {
  podman_teardown
  teardown_moat_net
}

# A hook that attaches by io.moat.network (reads MOAT_NETWORK_DIRS).
hook_attaches() { grep -qa MOAT_NETWORK_DIRS "$MOAT_BUILD/moat-hook"; }

@test "podman: network ls and network inspect see the moat network" {
  run -0 pm network ls --format '{{.Name}} {{.Driver}}'
  assert_contains "$output" "$NET moat"
  run -0 pm network inspect "$NET"
  assert_jq "$output" '.[0].name == $n and .[0].driver == "moat"' --arg n "$NET"
}

@test "podman: a shared label talks both ways, another label is refused at once, the host reaches them" {
  local ip_a ip_b started elapsed reply
  pm_start a --annotation io.moat.labels=app=x
  # podman splits --annotation at commas (a CSV string slice): a list
  # value goes in double quotes, the whole KEY=VALUE quoted.
  pm_start b --annotation '"io.moat.labels=app=x,env=dev"'
  run -0 pm_inspect b
  assert_jq "$output" '.[0].Config.Annotations["io.moat.labels"] == "app=x,env=dev"'
  pm_start c --annotation io.moat.labels=app=y

  # podman's idea of the address, the container's and the plugin's agree.
  ip_a=$(pm_ip a)
  ip_b=$(pm_ip b)
  assert_eq "$(pm_ctr_ip a)" "$ip_a" "a's eth0"
  assert_match "$ip_a" "^${NETPFX//./\\.}\\." "a's address"
  run -0 pm_record a
  assert_jq "$output" '(.address | tostring | startswith($ip + "/")) and .name == $name
    and .bridge == $br' --arg ip "$ip_a" --arg name "$(pm_name a)" --arg br "$BR"

  pm_serve a 80
  assert_eq "$(pm_fetch b "$ip_a" 80)" ok "b -> a (shared app=x)"
  pm_exec b sh -c 'nc -ll -p 7000 -e /bin/serve </dev/null >/dev/null 2>&1 &' >/dev/null
  wait_for 5 pm_listening b 7000
  reply=$(pm_tcp_echo a "$ip_b" 7000 "hello-$PFX")
  assert_eq "$reply" "reply hello-$PFX" "a -> b (shared app=x)"
  assert_eq "$(received "hello-$PFX")" 1 "lines b's server got"
  assert_eq "$(peer_of "hello-$PFX")" "$ip_a" "the peer b's server saw"

  started=$(date +%s%N)
  assert_eq "$(pm_fetch c "$ip_a" 80)" refused "c (app=y) -> a"
  elapsed=$((($(date +%s%N) - started) / 1000000))
  ((elapsed < 2000)) || fail "the refusal took ${elapsed} ms (expected a reset at once)"
  reply=$(pm_tcp_echo c "$ip_b" 7000 "nope-$PFX")
  assert_not_contains "$reply" "reply" "c -> b"

  assert_eq "$(pm_fetch host "$ip_a" 80)" ok "host -> a"
}

@test "podman: rm -f removes everything: records, links, nft elements, the bridge" {
  local before words_a words_b
  before=$(moat_links)
  pm_start a --annotation io.moat.labels=app=x
  pm_start b --annotation io.moat.labels=app=x
  mapfile -t words_a < <(pm_words a)
  ((${#words_a[@]} == 4)) || fail "no record of a"
  mapfile -t words_b < <(pm_words b)
  ((${#words_b[@]} == 4)) || fail "no record of b"
  link_exists "$BR"
  [[ -n $(nft_elems_matching "${words_a[3]}") ]] || fail "a has no nft element"

  run -0 pm rm -f -t 0 "$(pm_name a)"
  assert_eq "$(pm_records_of "${words_a[0]}")" "" "a's record"
  assert_eq "$(nft_elems_matching "${words_a[@]:1}")" "" "a's elements"
  link_gone "${words_a[1]}" || fail "a's host end is left"
  link_exists "$BR" || fail "the bridge went with b still on it"

  run -0 pm rm -f -t 0 "$(pm_name b)"
  assert_eq "$(pm ps -aq)" "" "podman ps -a"
  pm_nothing_left "$before" "${words_a[@]}" "${words_b[@]}"
}

@test "podman: a container that exits by itself is detached by podman's cleanup process" {
  local before words
  before=$(moat_links)
  pm_start a --annotation io.moat.labels=app=x
  PM_CMD='sleep 1' pm_start b --annotation io.moat.labels=app=x
  mapfile -t words < <(pm_words b)
  ((${#words[@]} == 4)) || fail "no record of b"
  wait_for 15 eval '[[ $(pm_state b) == exited ]]'
  # conmon starts `podman container cleanup`, which runs CNI DEL and the
  # poststop hook; podman ps says exited before it has finished.
  wait_for 10 eval '[[ -z $(pm_records_of "${words[0]}") ]]'
  assert_eq "$(nft_elems_matching "${words[@]:1}")" "" "b's elements"
  # a is untouched: still attached, its elements there.
  run -0 pm_record a
  [[ -n $(nft_elems_matching "$(pm_ip a)") ]] || fail "a lost its elements"
  run -0 pm rm -f -t 0 "$(pm_name a)" "$(pm_name b)"
  pm_nothing_left "$before" "${words[@]}"
}

@test "podman: plugin, hook and cleanup process all keep state in containers.conf's MOAT_RUN_DIR" {
  # A fresh setup with a private run dir.
  podman_teardown
  pm_private_run_dir
  podman_setup
  local before words
  before=$(moat_links)
  pm_start a --annotation io.moat.labels=app=x
  PM_CMD='sleep 1' pm_start b --annotation io.moat.labels=app=x
  mapfile -t words < <(pm_words b)
  ((${#words[@]} == 4)) || fail "no record of b"
  run -0 pm_record a
  # The hook wrote the identity there too.
  [[ -n $(find "$T/run/$NET/idents" -name '*.json') ]] || fail "no identity under $T/run/$NET"
  [[ ! -e $MOAT_RUN_DIR/$NET ]] || fail "state under the shared $MOAT_RUN_DIR/$NET"
  wait_for 15 eval '[[ $(pm_state b) == exited ]]'
  wait_for 10 eval '[[ -z $(pm_records_of "${words[0]}") ]]'
  run -0 pm rm -f -t 0 "$(pm_name a)" "$(pm_name b)"
  pm_nothing_left "$before" "${words[@]}"
  # A DEL that missed MOAT_RUN_DIR would have made the network's lock there.
  [[ ! -e $MOAT_RUN_DIR/$NET.lock && ! -e $MOAT_RUN_DIR/$NET ]] ||
    fail "something ran against the shared run dir $MOAT_RUN_DIR"
}

@test "podman: a malformed annotation fails podman run with moat's one-line reason and leaves nothing" {
  local before
  before=$(moat_links)
  run pm_run bad --annotation io.moat.labels=app=x --annotation '"io.moat.allow-host=udp/2222,tcp/99999"'
  [[ $status -ne 0 ]] || fail "podman run succeeded: $output"
  assert_contains "$output" "moat-hook: io.moat.allow-host: port 99999 out of range (1-65535)"
  # The reason is one line.
  assert_eq "$(grep -c 'io.moat.allow-host' <<<"$output")" 1 "lines naming the key"
  pm_nothing_left "$before"
  assert_eq "$(find "$PM_RUN_DIR/$NET" -name '*.json' 2>/dev/null)" "" "state of $NET"
  run -0 pm rm -f -t 0 "$(pm_name bad)"
  assert_eq "$(pm ps -aq)" "" "podman ps -a"
}

@test "podman: a list cut at its comma by --annotation fails podman run saying to write ';'; with ';' both labels count" {
  local before ip_a
  before=$(moat_links)
  # The podman guide's form: podman 4 cuts it into io.moat.labels=app=x and env=dev.
  run pm_run cut --annotation io.moat.labels=app=x,env=dev
  [[ $status -ne 0 ]] || fail "podman run succeeded: $output"
  assert_contains "$output" "moat-hook: io.moat.labels: annotation \"env=dev\" looks like the rest of its list, cut at a comma by podman 4's --annotation: separate the items with ';' (--annotation 'io.moat.labels=app=x;env=dev')"
  run -0 pm_inspect cut
  assert_jq "$output" '.[0].Config.Annotations | .["io.moat.labels"] == "app=x" and .env == "dev"
    and .["io.container.manager"] == "libpod"'
  pm_nothing_left "$before"
  run -0 pm rm -f -t 0 "$(pm_name cut)"
  # What the message says to write: one annotation, both labels.
  pm_start a --annotation 'io.moat.labels=app=x;env=dev'
  pm_start b --annotation io.moat.labels=env=dev
  pm_start c --annotation io.moat.labels=app=x
  pm_start d --annotation io.moat.labels=app=y
  run -0 pm_record a
  assert_jq "$output" '.policy.labels.app == "x" and .policy.labels.env == "dev"'
  ip_a=$(pm_ip a)
  pm_serve a 80
  assert_eq "$(pm_fetch b "$ip_a" 80)" ok "b (env=dev) -> a"
  assert_eq "$(pm_fetch c "$ip_a" 80)" ok "c (app=x) -> a"
  assert_eq "$(pm_fetch d "$ip_a" 80)" refused "d (app=y) -> a"
}

@test "podman: -p publishes: from outside, the host's address and 127.0.0.1; a bound address; a taken port names its holder; rm leaves nothing" {
  local before hp hp2 words
  before=$(moat_links)
  hp=$(random_port)
  hp2=$((hp + 1))
  setup_outside
  pm_start web -p "$hp:80" --annotation io.moat.labels=app=x
  pm_serve web 80
  assert_jq "$(pm_record web)" '.publish == [$p]' --arg p "$hp:80/tcp"
  # From outside, with the rootfs' busybox in the outside namespace.
  assert_eq "$(classify_fetch "$(ip netns exec "$OUT_NS" timeout 3 "$PM_ROOTFS/bin/busybox" wget -q \
    -O - "http://$OUT_HOST_IP:$hp/" 2>&1)")" ok "outside -> $OUT_HOST_IP:$hp"
  assert_eq "$(pm_fetch host "$OUT_HOST_IP" "$hp")" ok "host -> its own address:$hp"
  assert_eq "$(pm_fetch host 127.0.0.1 "$hp")" ok "host -> 127.0.0.1:$hp"
  # Bound to one host address: reached there only.
  pm_start bound -p "$OUT_HOST_IP:$hp2:80" --annotation io.moat.labels=app=x
  pm_serve bound 80
  assert_eq "$(pm_fetch host "$OUT_HOST_IP" "$hp2")" ok "host -> $OUT_HOST_IP:$hp2"
  assert_eq "$(pm_fetch host 127.0.0.1 "$hp2")" refused "host -> 127.0.0.1:$hp2 (bound elsewhere)"
  # The same host port again: moat's reason, naming the holder; nothing made.
  run pm_run taken -p "$hp:8080" --annotation io.moat.labels=app=x
  [[ $status -ne 0 ]] || fail "podman run -p of a taken port succeeded: $output"
  assert_contains "$output" "published port $hp:8080/tcp: host port held by container"
  assert_contains "$output" "$(pm_id web)"
  assert_eq "$(pm_records_of "$(pm inspect --type container "$(pm_name taken)" | jq -r '.[0].Id')")" "" \
    "records of the refused container"
  words=$(pm_words web)
  # shellcheck disable=SC2086 # one word a line
  run -0 pm rm -f -t 0 "$(pm_name web)" "$(pm_name bound)" "$(pm_name taken)"
  # shellcheck disable=SC2086
  pm_nothing_left "$before" $words
  assert_eq "$(nft list map inet moat publish 2>/dev/null | grep -E " \. tcp \. ($hp|$hp2) " || true)" "" \
    "publish elements left"
}

@test "podman: --ip picks the address; the host-local conflist works as shipped" {
  local before ip_b
  before=$(moat_links)
  pm_start a --annotation io.moat.labels=app=x --ip "$NETPFX.50"
  assert_eq "$(pm_ctr_ip a)" "$NETPFX.50" "a's eth0 with --ip"

  # A second network, from conf/10-moat-host-local.conflist.
  second_network
  pm_conflist "$NET2" "$BR2" "$NETPFX2.0/24" 10-moat-host-local.conflist \
    >"$PM/net.d/$NET2.conflist"
  pm_start b --network "$NET2" --annotation io.moat.labels=app=x
  pm_start c --network "$NET2" --annotation io.moat.labels=app=x
  pm_start d --network "$NET2" --annotation io.moat.labels=app=y
  ip_b=$(pm_ctr_ip b)
  assert_match "$ip_b" "^${NETPFX2//./\\.}\\." "b's address"
  [[ -f $PM/ipam/$NET2/$ip_b ]] || fail "host-local has no lease for $ip_b"
  pm_serve b 80
  assert_eq "$(pm_fetch c "$ip_b" 80)" ok "c -> b (shared app=x)"
  assert_eq "$(pm_fetch d "$ip_b" 80)" refused "d (app=y) -> b"
  # Networks are isolated from each other: a shares app=x, but not b's network.
  assert_eq "$(pm_fetch a "$ip_b" 80)" refused "a (other network) -> b"

  run -0 pm rm -f -t 0 "$(pm_name a)" "$(pm_name b)" "$(pm_name c)" "$(pm_name d)"
  pm_nothing_left "$before"
  bridge_left_empty "$BR2" || fail "bridge $BR2 left with ports"
  assert_eq "$(find "$PM/ipam/$NET2" -name '10.*' 2>/dev/null)" "" "host-local leases"
  assert_eq "$(find "$PM_RUN_DIR/$NET2" -name '*.json' 2>/dev/null)" "" "records of $NET2"
}

# In a mount namespace of its own, make install's files and conf/ are put
# where a podman user puts them (/opt/cni/bin, /usr/local/libexec/moat,
# /usr/share/containers/oci/hooks.d, /etc/cni/net.d/10-moat.conflist,
# /etc/containers/containers.conf.d/50-moat.conf from conf/podman), each a
# private copy mounted over the real directory; podman then runs with
# nothing moat-specific on its command line or in its environment.
installed_podman() { # STAGE
  local s=$1
  set -e
  mount --make-rprivate /
  mkdir -p "$s/etc-containers" "$s/usc" "$s/etc-cni/net.d"
  cp -a /etc/containers/. "$s/etc-containers/"
  mkdir -p "$s/etc-containers/containers.conf.d"
  cp "$PM_REPO/conf/podman/containers.conf" "$s/etc-containers/containers.conf.d/50-moat.conf"
  # This machine's quirks, as the other tests' containers.conf has them.
  printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' \
    >"$s/etc-containers/containers.conf.d/99-this-machine.conf"
  mount --bind "$s/etc-containers" /etc/containers
  pm_conflist "$NET" "$BR" "$SUBNET" >"$s/etc-cni/net.d/10-moat.conflist"
  mount --bind "$s/etc-cni" /etc/cni
  mount --bind "$s/stage/opt" /opt
  mount --bind "$s/stage/usr/local" /usr/local
  cp -a /usr/share/containers/. "$s/usc/"
  cp -a "$s/stage/usr/share/containers/oci" "$s/usc/"
  mount --bind "$s/usc" /usr/share/containers
  set +e
  podman_installed() {
    timeout 60 env -u MOAT_RUN_DIR -u CONTAINERS_CONF "$PODMAN" \
      --root "$PM/root" --runroot "$PM/runroot" --tmpdir "$PM/tmp" "$@"
  }
  podman_installed info --format 'backend {{.Host.NetworkBackend}}'
  local n
  for n in a b c; do
    podman_installed run -d --name "$PFX-$n" --network "$NET" --read-only \
      --annotation "io.moat.labels=app=$([[ $n == c ]] && echo y || echo x)" \
      --rootfs "$PM_ROOTFS" sleep 100000 >/dev/null || echo "run $n failed"
  done
  local ip
  ip=$(podman_installed inspect "$PFX-a" | jq -r --arg n "$NET" '.[0].NetworkSettings.Networks[$n].IPAddress')
  podman_installed exec "$PFX-a" httpd -p 80 -h /www
  sleep 0.2
  echo "b $(classify_fetch "$(podman_installed exec "$PFX-b" timeout 3 wget -q -O - "http://$ip/" 2>&1)")"
  echo "c $(classify_fetch "$(podman_installed exec "$PFX-c" timeout 3 wget -q -O - "http://$ip/" 2>&1)")"
  echo "records $(find "$MOAT_RUN_DIR/$NET" -maxdepth 1 -name '*.json' | wc -l)"
  podman_installed rm -f -t 0 "$PFX-a" "$PFX-b" "$PFX-c" >/dev/null
  echo "left $(podman_installed ps -aq | wc -l)"
}

@test "podman: the shipped files, installed where a podman user puts them, work" {
  local before
  before=$(moat_links)
  run -0 make -s -C "$PM_REPO" install DESTDIR="$PM/stage" BUILD="$MOAT_BUILD"
  [[ -x $PM/stage/opt/cni/bin/moat && -x $PM/stage/usr/local/libexec/moat/moat-hook ]] ||
    fail "make install put moat or moat-hook elsewhere" "$(find "$PM/stage" -type f | head -20)"
  run -0 unshare -m bash -c "$(declare -f installed_podman pm_conflist classify_fetch); \
    $(declare -p PM PM_REPO PM_ROOTFS PODMAN NET BR SUBNET PFX MOAT_RUN_DIR); installed_podman \"\$1\"" \
    _ "$PM"
  assert_eq "$output" "$(printf '%s\n' 'backend cni' 'b ok' 'c refused' 'records 3' 'left 0')"
  pm_nothing_left "$before"
}

@test "podman: --network none with io.moat.network: the hook attaches and detaches" {
  hook_attaches || skip "moat-hook without hook-driven attach (io.moat.network) in $MOAT_BUILD"
  local before ip_a words_a words_b words_c
  before=$(moat_links)
  local -a none=(--network none --annotation "io.moat.network=$NET")
  pm_start a "${none[@]}" --annotation io.moat.labels=app=x
  pm_start b "${none[@]}" --annotation io.moat.labels=app=x
  pm_start c "${none[@]}" --annotation io.moat.labels=app=y
  mapfile -t words_a < <(pm_words a)
  ((${#words_a[@]} == 4)) || fail "no record of a"
  mapfile -t words_b < <(pm_words b)
  ((${#words_b[@]} == 4)) || fail "no record of b"
  mapfile -t words_c < <(pm_words c)
  ((${#words_c[@]} == 4)) || fail "no record of c"
  ip_a=$(pm_ctr_ip a)
  assert_eq "$ip_a" "${words_a[3]}" "a's eth0 and its record"

  pm_serve a 80
  assert_eq "$(pm_fetch b "$ip_a" 80)" ok "b -> a (shared app=x)"
  assert_eq "$(pm_fetch c "$ip_a" 80)" refused "c (app=y) -> a"
  assert_eq "$(pm_fetch host "$ip_a" 80)" ok "host -> a"

  run -0 pm rm -f -t 0 "$(pm_name a)" "$(pm_name b)" "$(pm_name c)"
  pm_nothing_left "$before" "${words_a[@]}" "${words_b[@]}" "${words_c[@]}"
}

@test "podman: network connect: a running container takes its labels to the second network; disconnect leaves the first as it was" {
  local ip_b ip_s2 ip_o2 id ip_a2 before
  second_network
  pm_conflist "$NET2" "$BR2" "$NETPFX2.0/24" >"$PM/net.d/$NET2.conflist"
  pm_start a --annotation io.moat.labels=app=x
  pm_start b --annotation io.moat.labels=app=x
  pm_start s2 --network "$NET2" --annotation io.moat.labels=app=x
  pm_start o2 --network "$NET2" --annotation io.moat.labels=app=y
  local c
  for c in b s2 o2; do pm_serve "$c" 80; done
  ip_b=$(pm_ip b)
  ip_s2=$(pm_inspect s2 | jq -er --arg n "$NET2" '.[0].NetworkSettings.Networks[$n].IPAddress')
  ip_o2=$(pm_inspect o2 | jq -er --arg n "$NET2" '.[0].NetworkSettings.Networks[$n].IPAddress')
  assert_eq "$(pm_fetch a "$ip_b" 80)" ok "a -> b (app=x) before the connect"
  id=$(pm_id a)
  before=$(cat "$(find "$PM_RUN_DIR/$NET" -name "$id@*.json")")

  run -0 pm network connect "$NET2" "$(pm_name a)"
  local rec2
  rec2=$(cat "$(find "$PM_RUN_DIR/$NET2" -name "$id@*.json")") || fail "no record of a on $NET2"
  assert_jq "$rec2" '.policy != null and .sources.annotations["io.moat.labels"] == "app=x"'
  ip_a2=$(jq -r '.address | split("/")[0]' <<<"$rec2")
  assert_eq "$(pm_fetch a "$ip_s2" 80)" ok "a -> s2 on $NET2 (shared app=x, taken along)"
  assert_eq "$(pm_fetch a "$ip_o2" 80)" refused "a -> o2 on $NET2 (app=y)"
  assert_eq "$(pm_fetch a "$ip_b" 80)" ok "a -> b on $NET, unchanged"
  run -0 env MOAT_RUN_DIR="$PM_RUN_DIR" "$MOAT_BUILD/moatctl" explain "$id" "$ip_s2" tcp/80
  assert_contains "$output" "shared label app=x"

  run -0 pm network disconnect "$NET2" "$(pm_name a)"
  assert_eq "$(find "$PM_RUN_DIR/$NET2" -name "$id@*.json")" "" "a's record on $NET2"
  assert_eq "$(nft_elems_matching "$ip_a2")" "" "elements naming a's address on $NET2"
  assert_eq "$(cat "$(find "$PM_RUN_DIR/$NET" -name "$id@*.json")")" "$before" "a's record on $NET"
  assert_eq "$(pm_fetch a "$ip_b" 80)" ok "a -> b on $NET after the disconnect"
}
