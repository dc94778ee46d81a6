#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# Published ports (runtimeConfig.portMappings): reached from an outside
# namespace routed through the host, from the host on its own address and
# on 127.0.0.1; bound to one host address; a port another container holds;
# nothing left after DEL. Escapes through the DNAT path: bats/escape.bats.

load helpers

setup() { setup_moat_net; }
teardown() { teardown_moat_net; }

# with_ports CONF MAPPINGS_JSON: the config with runtimeConfig.portMappings.
with_ports() {
  jq -c --argjson m "$2" '.runtimeConfig = ((.runtimeConfig // {}) + {portMappings: $m})' <<<"$1"
}

# The publish map's elements, "key : value" a line, as nft writes them.
publish_elems() {
  nft -j list map inet moat publish 2>/dev/null | jq -r '
    def norm: if type == "object" and has("concat") then .concat | map(norm) | join(" . ")
              elif type == "object" and has("prefix") then "\(.prefix.addr)/\(.prefix.len)"
              else tostring end;
    .nftables[] | select(.map) | .map.elem // [] | .[] | "\(.[0] | norm) : \(.[1] | norm)"'
}

mapping() { # HOST_PORT CONTAINER_PORT [PROTO [HOST_IP]]
  jq -nc --argjson h "$1" --argjson c "$2" --arg p "${3:-tcp}" --arg ip "${4-}" \
    '[{hostPort: $h, containerPort: $c, protocol: $p, hostIP: $ip}]'
}

# publish_web HOST_PORT [HOST_IP]: container "web" publishing HOST_PORT ->
# 80/tcp (and HOST_PORT -> 53/udp), serving tcp/80, tcp/81 and udp/53.
publish_web() {
  local maps
  maps=$(jq -nc --argjson h "$1" --arg ip "${2-}" \
    '[{hostPort: $h, containerPort: 80, protocol: "tcp", hostIP: $ip},
      {hostPort: $h, containerPort: 53, protocol: "udp", hostIP: $ip}]')
  MOAT_CONF=$(with_ports "$MOAT_CONF" "$maps") add_container web
  ns_tcp_listen "$(ns_of web)" 0.0.0.0 80
  ns_tcp_listen "$(ns_of web)" 0.0.0.0 81
  ns_udp_listen "$(ns_of web)" 0.0.0.0 53
}

@test "publish: a published port is reached from outside (source kept), from the host on its address and on 127.0.0.1" {
  local hp
  hp=$(random_port)
  setup_outside
  publish_web "$hp"
  assert_jq "$(cat "$(record_of web)")" '.publish == [$a, $b]' \
    --arg a "$hp:80/tcp" --arg b "$hp:53/udp"
  assert_eq "$(cat "/proc/sys/net/ipv4/conf/$BR/route_localnet")" 1 "route_localnet on the bridge"

  PROBE_TOKEN=out-tcp run -0 ns_tcp_connect "$OUT_NS" "$OUT_HOST_IP" "$hp"
  assert_eq "$(peer_of out-tcp)" "$OUT_IP" "the outside client's address, as the container saw it"
  PROBE_TOKEN=out-udp run -0 ns_udp_connect "$OUT_NS" "$OUT_HOST_IP" "$hp"
  PROBE_TOKEN=host-own run -0 ns_tcp_connect host "$OUT_HOST_IP" "$hp"
  PROBE_TOKEN=host-lo run -0 ns_tcp_connect host 127.0.0.1 "$hp"
  PROBE_TOKEN=host-lo-udp run -0 ns_udp_connect host 127.0.0.1 "$hp"
  PROBE_TOKEN=host-gw run -0 ns_tcp_connect host "$GW" "$hp"
  assert_eq "$(received out-tcp) $(received host-own) $(received host-lo)" "1 1 1" "delivered"
}

@test "publish: a host address binds the port to that address only" {
  local hp
  hp=$(random_port)
  setup_outside
  publish_web "$hp" "$OUT_HOST_IP"
  PROBE_TOKEN=bound run -0 ns_tcp_connect "$OUT_NS" "$OUT_HOST_IP" "$hp"
  PROBE_TOKEN=via-gw run ns_tcp_connect "$OUT_NS" "$GW" "$hp"
  assert_eq "$output" refused "outside -> the gateway's address"
  PROBE_TOKEN=via-lo run ns_tcp_connect host 127.0.0.1 "$hp"
  assert_eq "$output" refused "host -> 127.0.0.1"
  assert_eq "$(received bound) $(received via-gw) $(received via-lo)" "1 0 0" "delivered"
}

@test "publish: a port another container holds fails the ADD naming the holder, leaving nothing" {
  local hp before
  hp=$(random_port)
  setup_outside
  publish_web "$hp"
  second_network
  before=$(moat_links)
  new_netns other
  # A specific address overlaps 0.0.0.0; a second network changes nothing.
  CNI_CONF=$(with_ports "$MOAT_CONF2" "$(mapping "$hp" 8080 tcp "$OUT_HOST_IP")") \
    run cni ADD "$PFX-other" "$PFX"other
  assert_cni_error 7 "published port $OUT_HOST_IP:$hp:8080/tcp" "held by container" \
    "$(cid_of web)" "network \"$NET\""
  assert_eq "$(find "$MOAT_RUN_DIR/$NET2" -name '*.json' 2>/dev/null)" "" "records of the refused ADD"
  assert_eq "$(new_moat_links "$before")" "" "links of the refused ADD"
  assert_eq "$(nft_elems_matching "$NETPFX2.")" "" "elements of the refused ADD"
  assert_eq "$(ip -n "$PFX"other -o link show | grep -cv ': lo:' || true)" 0 "links in its netns"
  # Another port is free.
  CNI_CONF=$(with_ports "$MOAT_CONF2" "$(mapping "$((hp + 1))" 8080 tcp "$OUT_HOST_IP")") \
    run -0 cni ADD "$PFX-other" "$PFX"other
  PROBE_TOKEN=still-web run -0 ns_tcp_connect "$OUT_NS" "$OUT_HOST_IP" "$hp"
}

@test "publish: bad mappings fail the ADD with the field named, nothing left" {
  local before
  before=$(moat_links)
  new_netns bad
  CNI_CONF=$(with_ports "$MOAT_CONF" '[{"hostPort": 70000, "containerPort": 80}]') \
    run cni ADD "$PFX-bad" "$PFX"bad
  assert_cni_error 7 "runtimeConfig.portMappings[0].hostPort"
  CNI_CONF=$(with_ports "$MOAT_CONF" "$(mapping 8080 80 tcp ::1)") run cni ADD "$PFX-bad" "$PFX"bad
  assert_cni_error 7 "runtimeConfig.portMappings[0].hostIP ::1: IPv6 loopback cannot be published by the kernel; use the host's IPv6 address"
  CNI_CONF=$(with_ports "$MOAT_CONF" "$(mapping 8080 80 tcp "[::1]")") run cni ADD "$PFX-bad" "$PFX"bad
  assert_cni_error 7 "hostIP [::1]: IPv6 loopback cannot be published by the kernel"
  CNI_CONF=$(with_ports "$MOAT_CONF" "$(mapping 8080 80 sctp)") run cni ADD "$PFX-bad" "$PFX"bad
  assert_cni_error 7 "protocol \"sctp\""
  assert_nothing_left "$before" "$PFX"bad
}

@test "publish: DEL removes the mappings and the published elements" {
  local hp addr
  hp=$(random_port)
  setup_outside
  publish_web "$hp"
  addr=$(ip_of web)
  assert_contains "$(publish_elems)" "0.0.0.0/0 . tcp . $hp : $addr . 80" "publish map"
  assert_contains "$(publish_elems)" "0.0.0.0/0 . udp . $hp : $addr . 53" "publish map"
  nft_has inet published "$addr . tcp . 80" || fail "no published element: $(nft_elems inet published)"
  del_container web
  assert_eq "$(publish_elems | grep -F "$addr" || true)" "" "publish elements left"
  assert_eq "$(nft_elems inet published | grep -F "$addr" || true)" "" "published elements left"
  PROBE_TOKEN=after-del run ns_tcp_connect "$OUT_NS" "$OUT_HOST_IP" "$hp"
  assert_eq "$output" refused "after DEL"
  # DEL again: nothing to do, success.
  del_container web
}

ctl() { env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" "$MOAT_BUILD/moatctl" "$@" 2>&1; }

@test "publish: moatctl ls and show list the ports, explain says why, check sees drift, restore reinstalls" {
  local hp cid
  hp=$(random_port)
  setup_outside
  publish_web "$hp"
  cid=$(cid_of web)
  run -0 ctl show "$cid"
  assert_contains "$output" "published: $hp:80/tcp, $hp:53/udp"
  run -0 ctl ls
  assert_contains "$output" "published $hp:80/tcp, $hp:53/udp"
  run -0 ctl --json ls
  assert_jq "$output" '.containers[] | select(.id == $c) | .publish == [$a, $b]' --arg c "$cid" \
    --arg a "$hp:80/tcp" --arg b "$hp:53/udp"
  # explain: the outside client's flow through the published port.
  run -0 ctl explain "outside:$OUT_IP" "$cid" tcp/80
  assert_contains "$output" "published 0.0.0.0:$hp/tcp -> 80"
  run -1 ctl explain "outside:$OUT_IP" "$cid" tcp/81
  assert_contains "$output" "no published port leads to it"
  # check: in step; a lost element is drift; restore puts it back.
  run -0 ctl check
  nft delete element inet moat publish "{ 0.0.0.0/0 . tcp . $hp }"
  PROBE_TOKEN=lost run ns_tcp_connect "$OUT_NS" "$OUT_HOST_IP" "$hp"
  assert_eq "$output" refused "outside -> $hp with the element lost"
  run -1 ctl check
  assert_contains "$output" "publish"
  assert_contains "$output" "tcp . $hp"
  run -0 ctl restore
  run -0 ctl check
  PROBE_TOKEN=restored run -0 ns_tcp_connect "$OUT_NS" "$OUT_HOST_IP" "$hp"
}

@test "publish: the kernel refuses a host port it holds for no record (EEXIST backstop); the ADD leaves nothing" {
  local hp before
  hp=$(random_port)
  add_container first # the tables exist
  before=$(moat_links)
  # An element no record names (drift): the state check cannot see it.
  nft add element inet moat publish "{ 0.0.0.0/0 . tcp . $hp : 10.99.99.99 . 80 }"
  new_netns late
  CNI_CONF=$(with_ports "$MOAT_CONF" "$(mapping "$hp" 80)") run cni ADD "$PFX-late" "$PFX"late
  assert_cni_error 101 "publish"
  [[ ! -e $(record_of late) ]] || fail "the refused ADD left its record"
  assert_eq "$(new_moat_links "$before")" "" "links of the refused ADD"
  assert_eq "$(ip -n "$PFX"late -o link show | grep -cv ': lo:' || true)" 0 "links in its netns"
  assert_eq "$(nft_elems inet members | grep -cvF "$(ip_of first)" || true)" 0 "members besides first"
  nft delete element inet moat publish "{ 0.0.0.0/0 . tcp . $hp }"
}

@test "publish: CNI CHECK covers the published ports: a deleted mapping or published element is drift" {
  local hp addr conf
  hp=$(random_port)
  publish_web "$hp"
  addr=$(ip_of web)
  conf=$(with_ports "$(conf_with_prev "$(result_of web)")" "$(mapping "$hp" 80)")
  CNI_CONF=$conf run -0 cni CHECK "$(cid_of web)" "$(ns_of web)"
  nft delete element inet moat publish "{ 0.0.0.0/0 . udp . $hp }"
  CNI_CONF=$conf run cni CHECK "$(cid_of web)" "$(ns_of web)"
  assert_cni_error 104 "nft set inet moat publish" "udp . $hp" "missing"
  run -0 "$MOAT_BUILD/moatctl" restore
  CNI_CONF=$conf run -0 cni CHECK "$(cid_of web)" "$(ns_of web)"
  nft delete element inet moat published "{ $addr . tcp . 80 }"
  CNI_CONF=$conf run cni CHECK "$(cid_of web)" "$(ns_of web)"
  assert_cni_error 104 "nft set inet moat published" "$addr . tcp . 80" "missing"
}
