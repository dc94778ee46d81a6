#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# Names from a keyed hash, forced to collide. Each test seeds the name key
# (<run dir>/.names.key) of a private run directory with a chosen key,
# under which the inputs below were found, offline, to collide
# (hack/names-collide.c; common/tests/test_names.c checks them against the
# real hash). Then the real binaries meet the collision: nothing
# crosses between the colliding parties, and nobody else's elements go.

load helpers

# 00 01 02 ... 0f
KEY_HEX='\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f'

setup() {
  setup_moat_net
  export MOAT_RUN_DIR=$BATS_TEST_TMPDIR/run
  mkdir -m 0700 "$MOAT_RUN_DIR"
  (umask 077 && printf "$KEY_HEX" >"$MOAT_RUN_DIR/.names.key")
  assert_eq "$(od -An -tx1 "$MOAT_RUN_DIR/.names.key" | tr -d ' \n')" \
    000102030405060708090a0b0c0d0e0f "seeded key"
}
teardown() { teardown_moat_net; }

# use_network NAME: this test's network is called NAME (a fixed name: the
# collision is in its hash).
use_network() {
  NET=$1
  conf_set '.name = $n' --arg n "$1"
  MOAT_CONF_BASE=$MOAT_CONF
}

# attach_as NAME CID: like add_container, with a chosen container id.
attach_as() {
  new_netns "$1"
  run -0 cni ADD "$2" "$PFX$1"
  printf '%s\n' "$output" >"$T/result.$1"
}

@test "names: an ADD whose host end collides with a live container's fails and takes none of its elements" {
  local x=mxc5fd1b89d299db y=mxc655de800cb67d hostif=mt446320a1d9c1f port
  use_network moat-collide
  port=$(random_port)
  attach_as x "$x"
  assert_eq "$(hostif_of x)" "$hostif" "x's host end"
  # z may reach the host on udp/$port; x may not.
  add_container z
  run -0 hook prestart z "$(jq -nc --arg p "udp/$port" '{"io.moat.allow-host": $p}')"
  local before
  before=$(nft_elems_of x)
  nft_has bridge guarded "$hostif"

  new_netns y
  run cni ADD "$y" "${PFX}y"
  assert_cni_error 100 "host interface \"$hostif\"" "$y" "File exists"
  # The runtime's DEL after a failed ADD finds nothing of y's to remove.
  CNI_CONF=$MOAT_CONF run -0 cni DEL "$y" "${PFX}y"
  # y left nothing: no record, no interface, no element of its own.
  assert_eq "$(network_records | grep -c "$y" || true)" 0 "records of y"
  assert_eq "$(ip -n "${PFX}y" -o link show | grep -cv ': lo:' || true)" 0 "links in y"
  # x kept every element, its guard above all, and its link.
  assert_eq "$(nft_elems_of x)" "$before" "x's elements after y's failed ADD"
  nft_has bridge guarded "$hostif"
  assert_eq "$(ip -o link show dev "$hostif" | grep -c "master $BR")" 1 "x's port on the bridge"

  # Traffic: x still answers the host (its ports element lets its replies
  # out); z reaches its host port, x does not, and x posing as z gets
  # nothing through (its port still checks its source).
  local p2=$((port + 1))
  ns_tcp_listen "${PFX}x" 0.0.0.0 "$p2"
  ns_udp_listen host "$GW" "$port"
  run -0 ns_tcp_connect host "$(ip_of x)" "$p2"
  PROBE_TOKEN=z-host run -0 ns_udp_connect "${PFX}z" "$GW" "$port"
  PROBE_TOKEN=x-host run ns_udp_connect "${PFX}x" "$GW" "$port"
  assert_eq "$output" unreachable "x -> host udp/$port"
  ip -n "${PFX}x" addr flush dev eth0
  ip -n "${PFX}x" addr add "$(ip_of z)/24" dev eth0
  ip -n "${PFX}x" route replace default via "$GW" dev eth0
  ip neigh flush dev "$BR"
  PROBE_TOKEN=x-as-z run ns_udp_connect "${PFX}x" "$GW" "$port"
  [[ $output == timeout || $output == unreachable ]] ||
    fail "x posing as z -> host udp/$port: expected dropped, got $output"
  assert_eq "$(received z-host) $(received x-host) $(received x-as-z)" "1 0 0" "delivered"
}

# The identity files of network NET_NAME: "<name> <owner>" lines.
idents_with_owners() {
  local f name
  for f in "$MOAT_RUN_DIR/$1"/idents/*.json; do
    [[ -f $f ]] || continue
    name=$(basename "$f" .json)
    echo "$name $(cat "$MOAT_RUN_DIR/.idents/$name" 2>/dev/null)"
  done
}

with_labels() { # CONF LABEL_VALUE: the config with CNI label app=VALUE
  jq -c --arg v "$2" '. + {args: {cni: {labels: [{key: "app", value: $v}]}}}' <<<"$1"
}

@test "names: equal labels in two networks make two identities, each owned by its network; nothing crosses" {
  local port
  port=$(random_port)
  second_network
  local conf_a conf_b
  conf_a=$(with_labels "$MOAT_CONF" web)
  conf_b=$(with_labels "$MOAT_CONF2" web)
  MOAT_CONF=$conf_a add_container a1
  MOAT_CONF=$conf_a add_container a2
  MOAT_CONF=$conf_b add_container b1
  local ia ib
  ia=$(idents_with_owners "$NET")
  ib=$(idents_with_owners "$NET2")
  assert_match "$ia" "^[0-9a-f]{16} $NET\$" "network A's identity and its owner"
  assert_match "$ib" "^[0-9a-f]{16} $NET2\$" "network B's identity and its owner"
  [[ ${ia%% *} != "${ib%% *}" ]] || fail "one identity for two networks: $ia"
  local c
  for c in a1 a2 b1; do ns_tcp_listen "$(ns_of "$c")" 0.0.0.0 "$port"; done
  PROBE_TOKEN=a1-a2 run -0 ns_tcp_connect "$(ns_of a1)" "$(ip_of a2)" "$port"
  PROBE_TOKEN=a1-b1 run ns_tcp_connect "$(ns_of a1)" "$(ip_of b1)" "$port"
  assert_eq "$output" refused "a1 -> b1"
  PROBE_TOKEN=b1-a1 run ns_tcp_connect "$(ns_of b1)" "$(ip_of a1)" "$port"
  assert_eq "$output" refused "b1 -> a1"
  assert_eq "$(received a1-a2) $(received a1-b1) $(received b1-a1)" "1 0 0" "delivered"
  # B's last container gone: its claim goes with its identities, A's stays.
  CNI_CONF=$(MOAT_CONF=$conf_b conf_with_prev "$(result_of b1)") run -0 cni DEL "$(cid_of b1)" \
    "$(ns_of b1)"
  [[ ! -e $MOAT_RUN_DIR/.idents/${ib%% *} ]] || fail "network B's claim outlived it"
  assert_eq "$(cat "$MOAT_RUN_DIR/.idents/${ia%% *}")" "$NET" "network A's claim"
}

@test "names: identities of two networks whose names collide stay two, each owned by its network; nothing crosses" {
  # Under the seeded key, network mcol-a's identity app=v14ef285145ebbf80
  # and network mcol-b's app=vb2160552b0501adf hash to one name.
  local h=c3bb9727d579e16b port
  port=$(random_port)
  use_network mcol-a
  second_network
  NET2=mcol-b
  echo "$NET2" >>"$T/netdirs"
  local conf_a conf_b
  conf_a=$(with_labels "$MOAT_CONF" v14ef285145ebbf80)
  conf_b=$(with_labels "$(jq -c '.name = "mcol-b"' <<<"$MOAT_CONF2")" vb2160552b0501adf)
  MOAT_CONF=$conf_a add_container a1
  MOAT_CONF=$conf_a add_container a2
  MOAT_CONF=$conf_b add_container b1
  MOAT_CONF=$conf_b add_container b2
  assert_eq "$(idents_with_owners mcol-a)" "$h mcol-a" "network A's identity"
  assert_eq "$(idents_with_owners mcol-b)" "${h}_1 mcol-b" "network B's identity"
  nft list chain inet moat "id_$h" >/dev/null || fail "no chain id_$h"
  nft list chain inet moat "id_${h}_1" >/dev/null || fail "no chain id_${h}_1"
  assert_eq "$(nft_elems inet "id_$h" | sort)" "$(printf '%s\n' "$(ip_of a1)" "$(ip_of a2)" | sort)" \
    "A's identity reaches A only"
  assert_eq "$(nft_elems inet "id_${h}_1" | sort)" \
    "$(printf '%s\n' "$(ip_of b1)" "$(ip_of b2)" | sort)" "B's identity reaches B only"

  local c
  for c in a1 a2 b1 b2; do ns_tcp_listen "$(ns_of "$c")" 0.0.0.0 "$port"; done
  PROBE_TOKEN=a1-a2 run -0 ns_tcp_connect "$(ns_of a1)" "$(ip_of a2)" "$port"
  PROBE_TOKEN=b1-b2 run -0 ns_tcp_connect "$(ns_of b1)" "$(ip_of b2)" "$port"
  local from to
  for from in a1 a2; do
    for to in b1 b2; do
      PROBE_TOKEN=$from-$to run ns_tcp_connect "$(ns_of "$from")" "$(ip_of "$to")" "$port"
      assert_eq "$output" refused "$from -> $to"
      PROBE_TOKEN=$to-$from run ns_tcp_connect "$(ns_of "$to")" "$(ip_of "$from")" "$port"
      assert_eq "$output" refused "$to -> $from"
    done
  done
  assert_eq "$(received a1-a2) $(received b1-b2)" "1 1" "delivered within each network"
  assert_eq "$(grep -cE '^(a[12]-b[12]|b[12]-a[12])$' "$T/received" || true)" 0 \
    "delivered across the networks"
}
