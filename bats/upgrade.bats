#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# Upgrades: the tables outlive the last DEL (docs/design.md, "What the last
# container leaves"), so a newer moat may find tables an older one made,
# without sets it needs. With no container attached anywhere the ADD remakes
# them; with one attached it fails naming moatctl restore, which remakes
# them. The tests make such old tables by hand, so make test runs this file
# in hack/sandbox's private namespaces (the marker), never on the host's.
# moat-bats: sandbox

load helpers

setup() {
  setup_moat_net
  [[ $(readlink /proc/self/ns/net) != "$(readlink /proc/1/ns/net)" ]] ||
    fail "run this file in hack/sandbox: it makes moat's tables by hand"
  nft delete table inet moat 2>/dev/null || true
  nft delete table bridge moat 2>/dev/null || true
}
# The tables this file made by hand go too (the sandbox's own).
teardown() {
  teardown_moat_net
  nft delete table inet moat 2>/dev/null || true
  nft delete table bridge moat 2>/dev/null || true
}

# old_tables [GUARDED_PORT]: tables as an older moat might have left them:
# both there, most sets missing; a port in guarded when given.
old_tables() {
  nft -f - <<NFT
table inet moat {
  set members { type ifname . ipv4_addr; }
  set bridges { type ifname; }
}
table bridge moat {
  set guarded { type ifname; ${1:+elements = { \"$1\" \}} }
}
NFT
}

@test "upgrade: an ADD finding an older moat's tables with nothing attached remakes them; check is ok" {
  local p
  p=$(random_port)
  old_tables
  run -1 nft list set inet moat self
  add_container a
  add_container b
  run -0 nft list set inet moat self
  run -0 nft list set inet moat allowed_out
  run -0 "$MOAT_BUILD/moatctl" check
  run -0 hook prestart a '{"io.moat.labels": "app=x"}'
  run -0 hook prestart b '{"io.moat.labels": "app=x"}'
  ns_tcp_listen "$(ns_of b)" "$(ip_of b)" "$p"
  PROBE_TOKEN=up-ab run ns_tcp_connect "$(ns_of a)" "$(ip_of b)" "$p"
  assert_eq "$output" ok "a -> b on the remade tables"
}

@test "upgrade: with a container attached, the ADD fails naming moatctl restore and leaves the tables as they were" {
  old_tables mt0123456789abc
  new_netns a
  run cni ADD "$(cid_of a)" "$(ns_of a)"
  assert_cni_error 101 "made by an older moat? moatctl restore remakes them"
  [[ ! -e $(record_of a) ]] || fail "the refused ADD left its record"
  run -0 nft list set bridge moat guarded
  assert_contains "$output" mt0123456789abc
  run -1 nft list set inet moat self
}

# relayout N: moat's tables remade as they are (sets, rules, elements) but
# with the comment of layout N ("" for none: a moat before layouts).
relayout() {
  local listing
  listing=$(nft list table inet moat) || fail "no table inet moat"
  nft delete table inet moat
  listing=$(grep -v '^[[:space:]]*comment "moat layout' <<<"$listing")
  [[ -z $1 ]] || listing=$(sed "0,/^table inet moat {/s//&\n\tcomment \"moat layout $1\"/" <<<"$listing")
  nft -f - <<<"$listing"
}

@test "upgrade: the tables carry their layout; another layout is remade by the first ADD when nothing is attached" {
  add_container a
  run -0 nft list table inet moat
  assert_contains "$output" 'comment "moat layout '
  run -0 nft list table bridge moat
  assert_contains "$output" 'comment "moat layout '
  del_container a
  relayout 1
  run -0 nft list table inet moat
  assert_contains "$output" 'comment "moat layout 1"'
  add_container b
  run -0 nft list table inet moat
  assert_not_contains "$output" 'comment "moat layout 1"'
  assert_contains "$output" 'comment "moat layout '
  run -0 "$MOAT_BUILD/moatctl" check
}

@test "upgrade: with a container attached, tables of another layout keep working; check names the layout, restore remakes them" {
  local p
  p=$(random_port)
  add_container a
  run -0 hook prestart a '{"io.moat.labels": "app=x"}'
  relayout ""
  run -0 nft list table inet moat
  assert_not_contains "$output" 'comment "moat layout'
  add_container b
  run -0 hook prestart b '{"io.moat.labels": "app=x"}'
  ns_tcp_listen "$(ns_of b)" "$(ip_of b)" "$p"
  PROBE_TOKEN=lay-ab run ns_tcp_connect "$(ns_of a)" "$(ip_of b)" "$p"
  assert_eq "$output" ok "a -> b on the older layout's tables"
  run -1 "$MOAT_BUILD/moatctl" check
  assert_contains "$output" "from before layouts"
  run -0 "$MOAT_BUILD/moatctl" restore
  run -0 nft list table inet moat
  assert_contains "$output" 'comment "moat layout '
  run -0 "$MOAT_BUILD/moatctl" check
  PROBE_TOKEN=lay-ab2 run ns_tcp_connect "$(ns_of a)" "$(ip_of b)" "$p"
  assert_eq "$output" ok "a -> b after restore"
}
