#!/usr/bin/env bats
# moatctl against real runc containers (moat-hook in config.json) and real
# traffic. Everything moat does here happens in a private "host" namespace
# ($H): the bridge, moat's tables, the hook's and moatctl's work; the
# records are in a run dir of the test's own. So check and restore, which
# own moat's whole tables, and `nft flush ruleset`, touch nothing of the
# machine's.

load helpers
load runc

setup() {
  # moatctl ls, check and restore read every network of the run dir: this
  # test's own, so that nothing else running on the machine is seen.
  export MOAT_RUN_DIR=$BATS_TEST_TMPDIR/run
  setup_moat_net
  new_netns host
  H=$(ns_of host)
  ip -n "$H" link set lo up
  # nsenter, not ip netns exec: runc needs the machine's cgroup mounts,
  # which ip netns exec's fresh /sys hides.
  MOAT_WRAP="nsenter --net=/run/netns/$H"
  printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s runc "$@"\n' "$H" >"$T/runc"
  chmod +x "$T/runc"
  RUNC=$T/runc
  runc_setup
  mkdir -p "$T/keys"
}
teardown() {
  runc_teardown
  teardown_moat_net
}

a() { jq -nc "$@"; }

# ctl ARGS...: moatctl in $H, as root runs it; stdout and stderr together.
ctl() {
  env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" MOAT_KEYS_DIR="$T/keys" \
    nsenter --net="/run/netns/$H" ${CTL_WRAP-} "$MOAT_BUILD/moatctl" "$@" 2>&1
}

fetch_is() { # FROM TO PORT EXPECTED
  run ctr_fetch "$1" "$(ip_of "$2")" "$3"
  assert_eq "$output" "$4" "wget $1 -> $2:$3"
}

# to_host FROM PORT: a TCP connection from container FROM to the host's
# address on its bridge (a listener must be there: host_listen).
to_host() {
  local out
  out=$(ctr_exec "$1" sh -c "echo hi | nc -w 2 $GW $2") || true
  if [[ $out == *"reply hi"* ]]; then echo ok; elif [[ $out == *refused* ]]; then echo refused; else echo "other: $out"; fi
}
host_listen() { ns_tcp_listen "$H" "$GW" "$1"; }

grants_in_kernel() { ip netns exec "$H" nft list set inet moat "$1" 2>/dev/null | grep -c "$2" || true; }

@test "moatctl: ls and show list containers, labels and grants; --json has the documented fields" {
  ctr_start web "$(a '{"io.moat.labels": "app=web,user=ann"}')"
  ctr_start db "$(a '{"io.moat.labels": "app=db"}')"
  run -0 ctl ls
  assert_contains "$output" "$(cid_of web | cut -c1-12)"
  assert_contains "$output" "app=web,user=ann"
  assert_contains "$output" "$(ip_of db)"
  run -0 ctl --json ls
  assert_jq "$output" '.containers | length == 2'
  assert_jq "$output" '.containers[] | select(.id == $id) | .network == $net and .address == $ip
       and .labels == {app: "web", user: "ann"} and .grants == [] and (.mac | test("^02:"))
       and .ifname == "eth0" and (.hostIf | startswith("mt"))' \
    --arg id "$(cid_of web)" --arg net "$NET" --arg ip "$(ip_of web)"
  run -0 ctl show "$(cid_of db)"
  assert_contains "$output" "labels:    app=db"
  # A unique prefix names the container; an unknown one is exit 1.
  run -0 ctl --json show "$(cid_of db | cut -c1-8)"
  assert_jq "$output" '.containers | length == 1'
  run -1 ctl show nosuchcontainer
  assert_contains "$output" 'no container "nosuchcontainer"'
  run -0 ctl resolve web ann
  assert_eq "$output" "$(ip_of web)"
  run -1 ctl resolve web bob
  assert_contains "$output" "no container labelled app=web,user=bob"
}

@test "moatctl: a host grant with --ttl 3s opens the port, then the kernel closes it with nothing running" {
  local port
  port=$(random_port)
  ctr_start app "$(a '{"io.moat.labels": "app=x"}')"
  host_listen "$port"
  assert_eq "$(to_host app "$port")" refused "before the grant"
  run -0 ctl grant "$(cid_of app)" host "tcp/$port" --ttl 3s
  assert_contains "$output" "granted"
  assert_eq "$(to_host app "$port")" ok "with the grant"
  run -0 ctl --json show "$(cid_of app)"
  assert_jq "$output" '.containers[0].grants[0] | .grant == $g and .expiresIn <= 3' --arg g "host tcp/$port"
  # No moatctl (nor anything of moat) runs while the grant times out.
  run pgrep -f "$MOAT_BUILD/moatctl"
  assert_eq "$output" "" "moatctl processes"
  wait_for 10 eval "[[ \$(to_host app $port) == refused ]]"
  run -0 ctl --json show "$(cid_of app)"
  assert_jq "$output" '.containers[0].grants == []'
  assert_eq "$(grants_in_kernel grant_host "$(ip_of app)")" 0 "grant_host elements"
}

@test "moatctl: revoke closes at once; revoking what is not granted says so; bad words are exit 2" {
  local port
  port=$(random_port)
  ctr_start app "$(a '{"io.moat.labels": "app=x"}')"
  host_listen "$port"
  run -0 ctl grant "$(cid_of app)" host "tcp/$port"
  assert_eq "$(to_host app "$port")" ok "granted"
  run -0 ctl revoke "$(cid_of app)" host "tcp/$port"
  assert_eq "$(to_host app "$port")" refused "revoked"
  run -1 ctl revoke "$(cid_of app)" host "tcp/$port"
  assert_contains "$output" "has no grant \"host tcp/$port\""
  run -2 ctl grant "$(cid_of app)" host "tcp/99999"
  assert_contains "$output" "port 99999 out of range"
  run -2 ctl grant "$(cid_of app)" host "tcp/$port" --ttl 5x
  assert_contains "$output" '--ttl "5x"'
  # Overlapping ranges are refused by name, the first grant stays.
  run -0 ctl grant "$(cid_of app)" host "tcp/$port-$((port + 5))"
  run -2 ctl grant "$(cid_of app)" host "tcp/$((port + 2))"
  assert_contains "$output" "overlaps the grant \"host tcp/$port-$((port + 5))\""
  assert_eq "$(to_host app "$port")" ok "the range grant"
}

@test "moatctl: a peer grant opens one direction; DEL of either container takes the grant" {
  local port
  port=$(random_port)
  ctr_start a "$(a '{"io.moat.labels": "app=a"}')"
  ctr_start b "$(a '{"io.moat.labels": "app=b"}')"
  for c in a b; do ctr_serve "$c" "$port"; done
  fetch_is a b "$port" refused
  run -0 ctl grant "$(cid_of a)" peer "$(cid_of b)"
  fetch_is a b "$port" ok
  fetch_is b a "$port" refused
  run -0 ctl explain "$(cid_of a)" "$(cid_of b)" "tcp/$port"
  assert_contains "$output" "grant \"peer $(cid_of b)\" (no expiry)"
  ctr_delete b
  assert_eq "$(grants_in_kernel grant_peer "$(ip_of a)")" 0 "grant_peer elements after b's DEL"
  run -0 ctl --json check
}

@test "moatctl: an egress grant opens exactly the CIDR and port" {
  local p1 p2
  p1=$(random_port)
  p2=$((p1 + 1))
  setup_outside "$H"
  ctr_start app "$(a '{"io.moat.labels": "app=x"}')"
  ns_tcp_listen "$OUT_NS" 0.0.0.0 "$p1"
  ns_tcp_listen "$OUT_NS" 0.0.0.0 "$p2"
  run ctr_exec app sh -c "echo a | nc -w 2 $OUT_IP $p1"
  assert_contains "$output" refused
  run -0 ctl grant "$(cid_of app)" egress "$OUT_IP/32" "tcp/$p1" --ttl 1h
  run ctr_exec app sh -c "echo b | nc -w 2 $OUT_IP $p1"
  assert_contains "$output" "reply b"
  run ctr_exec app sh -c "echo c | nc -w 2 $OUT_IP $p2"
  assert_contains "$output" refused
}

# token ARGS...: moatctl token (sign a token) in $H.
token() { ctl token "$@"; }

@test "moatctl: token grants: a valid token opens, every bad one is refused with its reason" {
  local port now exp
  port=$(random_port)
  ctr_start app "$(a '{"io.moat.labels": "app=x"}')"
  host_listen "$port"
  run -0 ctl keygen k1 --public "$T/keys/k1.jwk"
  printf '%s\n' "$output" >"$T/k1.key"
  run -0 ctl keygen k1
  printf '%s\n' "$output" >"$T/k1-other.key"
  run -0 ctl keygen k9
  printf '%s\n' "$output" >"$T/k9.key"
  local id
  id=$(cid_of app)
  now=$(date +%s)

  refused_with() { # REASON TOKEN
    run -1 ctl grant --token "$2"
    assert_contains "$output" "token refused: $1"
    assert_eq "$(to_host app "$port")" refused "after a token refused for $1"
  }
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --exp $((now - 10)) "host tcp/$port"
  refused_with "expired" "$output"
  run -0 token --key "$T/k1-other.key" --sub "$id" --aud "$NET" --ttl 30s "host tcp/$port"
  refused_with "bad signature" "$output"
  run -0 token --key "$T/k9.key" --sub "$id" --aud "$NET" --ttl 30s "host tcp/$port"
  refused_with 'unknown kid "k9"' "$output"
  run -0 token --key "$T/k1.key" --sub "$id" --aud other-net --ttl 30s "host tcp/$port"
  refused_with "wrong audience" "$output"
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --ttl 30s --nbf $((now + 60)) "host tcp/$port"
  refused_with "not yet valid" "$output"
  # Tampered: the claims of another token under this one's signature.
  local good evil
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --ttl 30s "host tcp/$port"
  good=$output
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --ttl 30s "host tcp/1-65535"
  evil=$output
  refused_with "bad signature" "$(cut -d. -f1 <<<"$good").$(cut -d. -f2 <<<"$evil").$(cut -d. -f3 <<<"$good")"
  refused_with "malformed token" "$(cut -d. -f1-2 <<<"$good")"

  run -0 ctl grant --token - <<<"$good"
  assert_eq "$(to_host app "$port")" ok "the valid token's grant"
  run -0 ctl --json show "$id"
  assert_jq "$output" '.containers[0].grants[0] | .by == "token kid=k1 sub=\($id)" and .expiresIn <= 30' --arg id "$id"
}

# token_keys: key k1 (public half in the keys dir, private in $T/k1.key).
token_keys() {
  run -0 ctl keygen k1 --public "$T/keys/k1.jwk"
  printf '%s\n' "$output" >"$T/k1.key"
}

# replay_refused TOKEN PORT WHAT: the token is refused as revoked, and app
# still cannot reach the host's PORT (twice: the refusal changed nothing).
replay_refused() {
  run -1 ctl grant --token - <<<"$1"
  assert_contains "$output" "token refused: revoked: refused until its exp" "$3"
  assert_eq "${#lines[@]}" 1 "$3: one line"
  assert_eq "$(to_host app "$2")" refused "$3: after the replay"
  assert_eq "$(to_host app "$2")" refused "$3: again"
  assert_eq "$(grants_in_kernel grant_host "$(ip_of app)")" 0 "$3: grant_host elements"
}

@test "moatctl: a revoked token stays refused until its exp, whichever way it was revoked" {
  local port id t1 t2 t2b t3 exp1
  port=$(random_port)
  ctr_start app "$(a '{"io.moat.labels": "app=x"}')"
  host_listen "$port"
  token_keys
  id=$(cid_of app)

  # 1. Revoked by the grant's words: the token (no jti: known by its hash)
  # is remembered, and its replay opens nothing.
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --ttl 60s "host tcp/$port"
  t1=$output
  run -0 ctl grant --token - <<<"$t1"
  assert_eq "$(to_host app "$port")" ok "token 1 granted"
  run -0 ctl --json show "$id"
  assert_jq "$output" '.containers[0].grants[0].token | test("^blake2b:[0-9a-f]{64}$")'
  run -0 ctl revoke "$id" host "tcp/$port"
  assert_eq "$(to_host app "$port")" refused "token 1 revoked by its words"
  replay_refused "$t1" "$port" "token 1"
  exp1=$(jq -R 'split(".")[1] | gsub("-";"+") | gsub("_";"/") | @base64d | fromjson | .exp' <<<"$t1")
  assert_jq "$(cat "$MOAT_RUN_DIR/.revoked-tokens.json")" \
    '.revoked | map(select(.token | startswith("blake2b:"))) | length == 1 and .[0].exp == $exp' \
    --argjson exp "$exp1"

  # 2. Revoked as a token (jti t-2): every grant it opened closes, its
  # replay and any other token with that jti are refused.
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --ttl 60s --jti t-2 "host tcp/$port"
  t2=$output
  run -0 ctl grant --token - <<<"$t2"
  assert_eq "$(to_host app "$port")" ok "token 2 granted"
  run -0 ctl revoke --token - <<<"$t2"
  assert_contains "$output" "revoked token jti:t-2: 1 grant closed"
  assert_eq "$(to_host app "$port")" refused "token 2 revoked"
  replay_refused "$t2" "$port" "token 2"
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --ttl 30s --jti t-2 "host tcp/$port"
  t2b=$output
  replay_refused "$t2b" "$port" "another token with jti t-2"

  # 3. Revoked before it was ever used.
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --ttl 60s --jti t-3 "host tcp/$port"
  t3=$output
  run -0 ctl revoke --token "$t3"
  assert_contains "$output" "revoked token jti:t-3: 0 grants closed"
  replay_refused "$t3" "$port" "token 3"

  # Unrevoked tokens still work; a revoke with a forged token records nothing.
  run -0 ctl keygen k1
  printf '%s\n' "$output" >"$T/k1-other.key"
  run -0 token --key "$T/k1-other.key" --sub "$id" --aud "$NET" --ttl 60s --jti t-4 "host tcp/$port"
  run -1 ctl revoke --token "$output"
  assert_contains "$output" "token refused: bad signature"
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --ttl 60s --jti t-4 "host tcp/$port"
  run -0 ctl grant --token "$output"
  assert_eq "$(to_host app "$port")" ok "token 4, never revoked"
  assert_jq "$(cat "$MOAT_RUN_DIR/.revoked-tokens.json")" \
    '[.revoked[].token] | length == 3 and any(. == "jti:t-2") and any(. == "jti:t-3") and any(startswith("blake2b:"))'
}

@test "moatctl: revoked tokens are kept until their exp, then pruned" {
  local port id t exp
  port=$(random_port)
  ctr_start app "$(a '{"io.moat.labels": "app=x"}')"
  token_keys
  id=$(cid_of app)
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --ttl 2s --jti short "host tcp/$port"
  t=$output
  run -0 ctl revoke --token "$t"
  exp=$(jq -r '.revoked[] | select(.token == "jti:short") | .exp' "$MOAT_RUN_DIR/.revoked-tokens.json")
  [[ -n $exp ]] || fail "jti:short not in the revoked list"
  run -1 ctl grant --token "$t"
  assert_contains "$output" "token refused: revoked"
  wait_for 10 eval '(( $(date +%s) > exp ))'
  # Past its exp the token is refused as expired; the next write drops it.
  run -1 ctl grant --token "$t"
  assert_contains "$output" "token refused: expired"
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --ttl 60s --jti long "host tcp/$port"
  run -0 ctl revoke --token "$output"
  assert_jq "$(cat "$MOAT_RUN_DIR/.revoked-tokens.json")" '[.revoked[].token] == ["jti:long"]'
}

@test "moatctl: a token's sub is one container by its full id: a prefix or a bare address is refused, addr: is explicit" {
  local port id
  port=$(random_port)
  ctr_start app "$(a '{"io.moat.labels": "app=x"}')"
  host_listen "$port"
  token_keys
  id=$(cid_of app)
  # The CLI takes a unique prefix and an address; a token takes neither.
  run -0 ctl show "${id%?}"
  run -0 token --key "$T/k1.key" --sub "${id%?}" --aud "$NET" --ttl 30s "host tcp/$port"
  run -1 ctl grant --token "$output"
  assert_contains "$output" "token refused: sub: no container with the id or name \"${id%?}\" (never an id prefix)"
  assert_eq "$(to_host app "$port")" refused "a prefix sub"
  run -0 token --key "$T/k1.key" --sub "$(ip_of app)" --aud "$NET" --ttl 30s "host tcp/$port"
  run -1 ctl grant --token "$output"
  assert_contains "$output" "token refused: sub: \"$(ip_of app)\" is an address"
  assert_eq "$(to_host app "$port")" refused "an address sub"
  assert_eq "$(grants_in_kernel grant_host "$(ip_of app)")" 0 "grant_host elements"
  run -0 token --key "$T/k1.key" --sub "addr:10.255.255.254" --aud "$NET" --ttl 30s "host tcp/$port"
  run -1 ctl grant --token "$output"
  assert_contains "$output" "token refused: sub: no container holds 10.255.255.254"
  # A peer in a token's grants is named as strictly.
  ctr_start db "$(a '{"io.moat.labels": "app=db"}')"
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --ttl 30s "peer $(cid_of db | sed 's/.$//')"
  run -1 ctl grant --token "$output"
  assert_contains "$output" "token refused: grants[0]: peer: no container with the id or name"
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --ttl 30s "peer $(ip_of db)"
  run -1 ctl grant --token "$output"
  assert_contains "$output" "token refused: grants[0]: peer: \"$(ip_of db)\" is an address"
  run -0 ctl --json show "$id"
  assert_jq "$output" '.containers[0].grants == []'
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --ttl 30s "host tcp/$port"
  run -0 ctl grant --token "$output"
  assert_eq "$(to_host app "$port")" ok "the full id"
  run -0 ctl revoke "$id" host "tcp/$port"
  assert_eq "$(to_host app "$port")" refused "revoked"
  # Whoever holds the address, when the token says so.
  run -0 token --key "$T/k1.key" --sub "addr:$(ip_of app)" --aud "$NET" --ttl 30s "host tcp/$port"
  run -0 ctl grant --token "$output"
  assert_eq "$(to_host app "$port")" ok "sub addr:$(ip_of app)"
}

@test "moatctl: a token living longer than the --ttl cap is refused; one at the cap times out in the kernel" {
  local port id now cap=$((366 * 86400))
  port=$(random_port)
  ctr_start app "$(a '{"io.moat.labels": "app=x"}')"
  host_listen "$port"
  token_keys
  id=$(cid_of app)
  now=$(date +%s)
  too_long() { # WHAT TOKEN-ARGS...
    local what=$1
    shift
    run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" "$@" "host tcp/$port"
    run -1 ctl grant --token "$output"
    assert_contains "$output" "token refused: lifetime: exp - $what is"
    assert_contains "$output" "more than the cap of $cap s (366 d)"
    assert_eq "$(to_host app "$port")" refused "exp - $what over the cap"
  }
  too_long now --exp $((now + cap + 60))
  too_long now --exp 9223372036854775807
  too_long now --exp 2305843009213693952 # 2^61 s: its ms wrapped to 0, "never"
  too_long nbf --exp $((now + 60)) --nbf $((now - cap))
  assert_eq "$(grants_in_kernel grant_host "$(ip_of app)")" 0 "grant_host elements"
  # At the cap: granted, and the kernel's element has its timeout.
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --exp $((now + cap)) "host tcp/$port"
  run -0 ctl grant --token "$output"
  assert_eq "$(to_host app "$port")" ok "exp - now at the cap"
  run -0 ip netns exec "$H" nft list set inet moat grant_host
  assert_match "$output" "$(ip_of app) \. tcp \. $port timeout 36[56]d[0-9hms]* expires 36[56]d" "the element's timeout"
}

@test "moatctl: explain agrees with real traffic on a matrix of flows" {
  local p hp hp2
  p=$(random_port)
  hp=$((p + 1))
  hp2=$((p + 2))
  ctr_start a "$(a '{"io.moat.labels": "app=web"}')"
  ctr_start b "$(a '{"io.moat.labels": "app=web"}')"
  ctr_start c "$(a '{"io.moat.labels": "app=db", "io.moat.expose": "app=api"}')"
  ctr_start d "$(a --arg h "tcp/$hp" '{"io.moat.labels": "app=api", "io.moat.depends": "app=db", "io.moat.allow-host": $h}')"
  ctr_start e
  for x in a b c d e; do ctr_serve "$x" "$p"; done
  host_listen "$hp"
  host_listen "$hp2"
  run -0 ctl grant "$(cid_of e)" peer "$(cid_of a)"
  run -0 ctl grant "$(cid_of a)" host "tcp/$hp2" --ttl 10m

  local n=0
  flow() { # SRC DST PORT: explain's verdict must match the traffic's
    local src=$1 dst=$2 port=$3 src_arg dst_arg got want
    src_arg=$(cid_of "$src")
    dst_arg=$(cid_of "$dst")
    [[ $src == host ]] && src_arg=host
    [[ $dst == host ]] && dst_arg=host
    run ctl explain "$src_arg" "$dst_arg" "tcp/$port"
    case $status in 0) want=ok ;; 1) want=refused ;; *) fail "explain $src $dst: $output" ;; esac
    if [[ $dst == host ]]; then
      got=$(to_host "$src" "$port")
    elif [[ $src == host ]]; then
      got=$(ip netns exec "$H" timeout 3 busybox wget -q -O - "http://$(ip_of "$dst"):$port/" 2>&1 | grep -q "hello from" && echo ok || echo refused)
    else
      got=$(ctr_fetch "$src" "$(ip_of "$dst")" "$port")
    fi
    assert_eq "$got" "$want" "$src -> $dst:$port (explain: $output)"
    n=$((n + 1))
  }
  flow a b "$p"
  flow b a "$p"
  flow a c "$p"
  flow d c "$p"
  flow c d "$p"
  flow a d "$p"
  flow e b "$p"
  flow b e "$p"
  flow e a "$p"
  flow d host "$hp"
  flow a host "$hp"
  flow a host "$hp2"
  flow b host "$hp2"
  flow host a "$p"
  flow host e "$p"
  [[ $n -ge 12 ]] || fail "only $n flows"
  # The words name the deciding rule.
  run -0 ctl explain "$(cid_of a)" "$(cid_of b)" "tcp/$p"
  assert_contains "$output" "shared label app=web"
  run -0 ctl explain "$(cid_of d)" "$(cid_of c)" "tcp/$p"
  assert_contains "$output" 'the source depends on "app=db", and the destination exposes to "app=api"'
  run -1 ctl explain "$(cid_of a)" "$(cid_of c)" "tcp/$p"
  assert_contains "$output" "default deny"
  run -0 ctl explain "$(cid_of a)" host "tcp/$hp2"
  assert_match "$output" "grant \"host tcp/$hp2\" \\(expires in [0-9]+ s\\)"
  run -2 ctl explain "$(cid_of a)" "$(cid_of b)" tcp/1-2
  assert_contains "$output" "one port, not a range"
}

@test "moatctl: explain follows the proxy's redirect to a container of another network, as the kernel does" {
  local pport
  pport=$(random_port)
  second_network
  ctr_start d "$(a --arg p "$GW:$pport" '{"io.moat.proxy": $p}')"
  MOAT_CONF=$MOAT_CONF2 ctr_start f
  host_listen "$pport"
  # tcp/80 to f lands on the proxy (the host), not on f.
  run ctr_exec d sh -c "echo hi | nc -w 2 $(ip_of f) 80"
  assert_contains "$output" "reply hi" "d -> f:80 reaches the proxy"
  run -0 ctl explain "$(cid_of d)" "$(cid_of f)" tcp/80
  assert_contains "$output" "redirected to the proxy $GW:$pport (io.moat.proxy)"
  # Another port is not redirected: different networks, refused.
  run -1 ctl explain "$(cid_of d)" "$(cid_of f)" tcp/81
  assert_contains "$output" "default deny: different networks"
}

@test "moatctl: explain: a proxy that is a container is a peer, whose consent the redirected flow needs, as in the kernel" {
  local pp proxy
  pp=$(random_port)
  second_network
  MOAT_CONF=$MOAT_CONF2 ctr_start px "$(a '{"io.moat.labels": "app=web"}')"
  ctr_serve px "$pp"
  proxy=$(ip_of px):$pp
  ctr_start g "$(a --arg p "$proxy" '{"io.moat.labels": "app=web", "io.moat.proxy": $p}')"
  # tcp/80 to any outside address goes to px, a peer on another network,
  # and no further (the reset, from px's address, finds no socket in g).
  run ctr_fetch g 192.0.2.10 80
  [[ $output == refused || $output == timeout ]] || fail "g -> :80, through its proxy: $output"
  run ctr_fetch g "$(ip_of px)" "$pp"
  assert_eq "$output" refused "g -> px:$pp: another network"
  run -1 ctl explain "$(cid_of g)" 192.0.2.10 tcp/80
  assert_contains "$output" "redirected to the proxy $proxy (io.moat.proxy), then default deny: different networks"
}

@test "moatctl: check finds a deleted element and a foreign drop rule; restore after a flush brings back the same traffic" {
  local p hp
  p=$(random_port)
  hp=$((p + 1))
  ctr_start a "$(a '{"io.moat.labels": "app=web"}')"
  ctr_start b "$(a '{"io.moat.labels": "app=web"}')"
  ctr_start c "$(a --arg h "tcp/$hp" '{"io.moat.labels": "app=db", "io.moat.allow-host": $h}')"
  for x in a b c; do ctr_serve "$x" "$p"; done
  host_listen "$hp"
  run -0 ctl grant "$(cid_of a)" peer "$(cid_of c)" --ttl 1h
  matrix() {
    echo "a-b:$(ctr_fetch a "$(ip_of b)" "$p") b-a:$(ctr_fetch b "$(ip_of a)" "$p")" \
      "a-c:$(ctr_fetch a "$(ip_of c)" "$p") c-a:$(ctr_fetch c "$(ip_of a)" "$p")" \
      "b-c:$(ctr_fetch b "$(ip_of c)" "$p") c-host:$(to_host c "$hp") a-host:$(to_host a "$hp")"
  }
  local before
  before=$(matrix)
  assert_eq "$before" "a-b:ok b-a:ok a-c:ok c-a:refused b-c:refused c-host:ok a-host:refused"
  run -0 ctl check
  assert_contains "$output" "ok: the kernel holds what the records say"

  # An element gone behind moat's back.
  ip netns exec "$H" nft delete element inet moat src_ident "{ $(ip_of b) }"
  run -1 ctl check
  assert_contains "$output" "missing: src_ident: $(ip_of b) : jump id_"
  run -1 ctl --json check
  assert_jq "$output" '.drift | length == 1'

  # A foreign table dropping the bridge's forwarded traffic.
  ip netns exec "$H" nft -f - <<EOF
table inet ${PFX}fw {
  chain guard { type filter hook forward priority 10; iifname "$BR" drop; }
}
EOF
  run -1 ctl --json check
  assert_jq "$output" '.conflicts | map(select(.table == $t)) | length >= 1' --arg t "${PFX}fw"
  ip netns exec "$H" nft delete table inet "${PFX}fw"

  # Everything gone; restore rebuilds it from the records in one batch.
  ip netns exec "$H" nft flush ruleset
  run -1 ctl check
  assert_contains "$output" "missing: table inet moat"
  run -0 ctl restore
  assert_contains "$output" "restored 3 containers on 1 networks"
  run -0 ctl check
  assert_eq "$(matrix)" "$before" "the traffic matrix after restore"
  # And the hook works on the restored tables.
  run -0 hook poststop a
  run -0 ctl check
}

# in_out_from SRC IP PORT: a TCP connection from the outside namespace,
# from its address SRC (ns_tcp_connect's outcome words).
in_out_from() {
  local token=tcp-$RANDOM$RANDOM out rc=0
  out=$(printf '%s\n' "$token" |
    ns_run "$OUT_NS" timeout 5 socat -t1 -T2 - "TCP4:$2:$3,bind=$1,connect-timeout=1" 2>&1) || rc=$?
  classify "$out" "$rc" "$token"
}

# setup_outside, and a second address OUT2 in the outside namespace, routed
# back to it from $H.
setup_two_outside() {
  setup_outside "$H"
  OUT2=198.18.$((RANDOM % 250 + 1)).7
  ip -n "$OUT_NS" addr add "$OUT2/32" dev lo
  ip -n "$H" route add "$OUT2/32" via "$OUT_IP"
}

@test "moatctl: an ingress grant lets exactly that outside address in on exactly that port; another source stays out" {
  local p1 p2
  p1=$(random_port)
  p2=$((p1 + 1))
  setup_two_outside
  ctr_start app "$(a '{"io.moat.labels": "app=x"}')"
  ctr_tcp_listen app "$p1"
  ctr_tcp_listen app "$p2"
  assert_eq "$(in_out_from "$OUT_IP" "$(ip_of app)" "$p1")" refused "before the grant"
  run -0 ctl grant "$(cid_of app)" ingress "$OUT_IP/32" "tcp/$p1" --ttl 1h
  assert_contains "$output" "granted $(cid_of app): ingress $OUT_IP/32 tcp/$p1 (expires in 3600 s)"
  assert_eq "$(in_out_from "$OUT_IP" "$(ip_of app)" "$p1")" ok "granted address, granted port"
  assert_eq "$(in_out_from "$OUT_IP" "$(ip_of app)" "$p2")" refused "granted address, other port"
  assert_eq "$(in_out_from "$OUT2" "$(ip_of app)" "$p1")" refused "other address, granted port"
  # The container itself gets nothing outward from it.
  ns_tcp_listen "$OUT_NS" 0.0.0.0 "$p1"
  run ctr_tcp_connect app "$OUT_IP" "$p1"
  assert_eq "$output" refused "the container to the granted address"
  run -0 ctl explain "outside:$OUT_IP" "$(cid_of app)" "tcp/$p1"
  assert_contains "$output" "grant \"ingress $OUT_IP/32 tcp/$p1\" (expires in"
  run -1 ctl explain "outside:$OUT2" "$(cid_of app)" "tcp/$p1"
  run -0 ctl --json show "$(cid_of app)"
  assert_jq "$output" '.containers[0].grants[0] | .grant == $g and .expiresIn <= 3600' \
    --arg g "ingress $OUT_IP/32 tcp/$p1"
  run -0 ctl check
  assert_contains "$output" "ok: the kernel holds what the records say"
  # Lost behind moat's back: check says so, restore brings it back.
  ip netns exec "$H" nft flush set inet moat grant_ingress
  run -1 ctl check
  assert_contains "$output" "missing: grant_ingress"
  run -0 ctl restore
  assert_eq "$(in_out_from "$OUT_IP" "$(ip_of app)" "$p1")" ok "after restore"
  run -0 ctl revoke "$(cid_of app)" ingress "$OUT_IP/32" "tcp/$p1"
  assert_eq "$(in_out_from "$OUT_IP" "$(ip_of app)" "$p1")" refused "revoked"
  run -1 ctl revoke "$(cid_of app)" ingress "$OUT_IP/32" "tcp/$p1"
  assert_contains "$output" "has no grant \"ingress $OUT_IP/32 tcp/$p1\""
  run -2 ctl grant "$(cid_of app)" ingress "$OUT_IP/33" "tcp/$p1"
  assert_contains "$output" "grant ingress"
}

@test "moatctl: an ingress grant with --ttl 3s closes in the kernel with nothing running; DEL leaves no element" {
  local p
  p=$(random_port)
  setup_two_outside
  ctr_start app "$(a '{"io.moat.labels": "app=x"}')"
  ctr_tcp_listen app "$p"
  run -0 ctl grant "$(cid_of app)" ingress "$OUT2/32" "tcp/$p" --ttl 3s
  assert_eq "$(in_out_from "$OUT2" "$(ip_of app)" "$p")" ok "granted"
  assert_eq "$(in_out_from "$OUT_IP" "$(ip_of app)" "$p")" refused "another outside address"
  run pgrep -f "$MOAT_BUILD/moatctl"
  assert_eq "$output" "" "moatctl processes"
  wait_for 10 eval "[[ \$(in_out_from $OUT2 $(ip_of app) $p) == refused ]]"
  assert_eq "$(grants_in_kernel grant_ingress "$(ip_of app)")" 0 "grant_ingress elements after expiry"
  run -0 ctl grant "$(cid_of app)" ingress "$OUT_IP/32" "tcp/$p"
  assert_eq "$(grants_in_kernel grant_ingress "$(ip_of app)")" 1 "grant_ingress elements"
  ctr_delete app
  assert_eq "$(grants_in_kernel grant_ingress "$OUT_IP")" 0 "grant_ingress elements after DEL"
}

@test "moatctl: an access envelope's token (no grants) lets its sub in where the operator says, until exp" {
  local p id tok
  p=$(random_port)
  setup_two_outside
  ctr_start app "$(a '{"io.moat.labels": "app=x"}')"
  ctr_tcp_listen app "$p"
  token_keys
  id=$(cid_of app)
  run -0 token --key "$T/k1.key" --sub "$OUT_IP" --aud "$(hostname)" --iss envelope --ttl 4s
  tok=$output
  run -0 jq -Rr 'split(".")[1] | @base64d | fromjson | has("grants")' <<<"$tok"
  assert_eq "$output" false "the envelope's claims have no grants"
  # Nothing says what it opens: refused, and nothing opened.
  run -1 ctl grant --token "$tok"
  assert_contains "$output" 'token refused: no rule for key "k1"'
  assert_eq "$(in_out_from "$OUT_IP" "$(ip_of app)" "$p")" refused "no rule"
  run -1 ctl grant --token "$tok" --iss other
  assert_contains "$output" 'token refused: wrong issuer "envelope", want "other"'
  # The operator's --to: the sub's address alone gets in, until exp.
  run -0 ctl grant --token "$tok" --iss envelope --to "$id" "tcp/$p"
  assert_match "$output" "granted $OUT_IP: 1 ingress grant \\(expires in [0-9]+ s\\)"
  assert_eq "$(in_out_from "$OUT_IP" "$(ip_of app)" "$p")" ok "the token's sub"
  assert_eq "$(in_out_from "$OUT2" "$(ip_of app)" "$p")" refused "another outside address"
  run -0 ctl explain "outside:$OUT_IP" "$id" "tcp/$p"
  assert_contains "$output" "grant \"ingress $OUT_IP/32 tcp/$p\" (expires in"
  run -0 ctl --json show "$id"
  assert_jq "$output" '.containers[0].grants[0].by == "token kid=k1 sub=\($s)"' --arg s "$OUT_IP"
  wait_for 10 eval "[[ \$(in_out_from $OUT_IP $(ip_of app) $p) == refused ]]"
  assert_eq "$(grants_in_kernel grant_ingress "$(ip_of app)")" 0 "grant_ingress elements after exp"
  run -1 ctl grant --token "$tok" --to "$id" "tcp/$p"
  assert_contains "$output" "token refused: expired"

  # The key's rules file next to it.
  printf '# what k1 tokens open\n%s tcp/%s\n' "$id" "$p" >"$T/keys/k1.allow"
  run -0 token --key "$T/k1.key" --sub "$OUT2" --aud "$(hostname)" --ttl 1h
  tok=$output
  run -0 ctl grant --token "$tok"
  assert_eq "$(in_out_from "$OUT2" "$(ip_of app)" "$p")" ok "by the key's rule"
  assert_eq "$(in_out_from "$OUT_IP" "$(ip_of app)" "$p")" refused "not the sub"
  run -0 ctl revoke --token "$tok"
  assert_contains "$output" "1 grant closed"
  assert_eq "$(in_out_from "$OUT2" "$(ip_of app)" "$p")" refused "revoked"
  run -1 ctl grant --token "$tok"
  assert_contains "$output" "token refused: revoked"
  # A wrong audience, a sub that is no address, a bad rules file.
  run -0 token --key "$T/k1.key" --sub "$OUT2" --aud not-this-host --ttl 1h
  run -1 ctl grant --token "$output"
  assert_contains "$output" "token refused: wrong audience"
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$(hostname)" --ttl 1h
  run -1 ctl grant --token "$output"
  assert_contains "$output" "want the client's IPv4 address"
  printf '%s tcp/99999\n' "$id" >"$T/keys/k1.allow"
  run -0 token --key "$T/k1.key" --sub "$OUT2" --aud "$(hostname)" --ttl 1h
  run -2 ctl grant --token "$output"
  assert_contains "$output" "k1.allow:1"
  assert_eq "$(grants_in_kernel grant_ingress "$(ip_of app)")" 0 "grant_ingress elements"
}

# http_front: `moatctl http` socket-activated in $H on OUT_HOST_IP:$HTTP_PORT,
# one process per connection, its log in $T/http.log.
http_front() {
  HTTP_PORT=$(random_port)
  start_bg host sh -c "exec nsenter --net=/run/netns/$H systemd-socket-activate --inetd -a \
    -l $OUT_HOST_IP:$HTTP_PORT env -i PATH=$PATH MOAT_RUN_DIR=$MOAT_RUN_DIR \
    MOAT_KEYS_DIR=$T/keys $MOAT_BUILD/moatctl http 2>>$T/http.log"
  wait_for 5 listening "$H" tcp "$HTTP_PORT"
}

# allow_from SRC TOKEN: curl from the outside's address SRC; prints the
# status and the body.
allow_from() {
  ip netns exec "$OUT_NS" curl -sS -m 10 --interface "$1" -w ' %{http_code}' \
    "http://$OUT_HOST_IP:$HTTP_PORT/v0/allow?access_token=$2" 2>&1 | tr -d '\n' || true
}

@test "moatctl http: an envelope token by curl lets its client in until exp; bad tokens 401, no rule 403, bad requests 4xx" {
  local p id tok
  p=$(random_port)
  setup_two_outside
  ctr_start app "$(a '{"io.moat.labels": "app=x"}')"
  ctr_tcp_listen app "$p"
  token_keys
  run -0 ctl keygen k1
  printf '%s\n' "$output" >"$T/k1-other.key"
  id=$(cid_of app)
  http_front
  run -0 token --key "$T/k1.key" --sub "$OUT_IP" --aud "$(hostname)" --ttl 5s
  tok=$output
  # No rule for k1 yet: 403, nothing opened.
  run allow_from "$OUT_IP" "$tok"
  assert_match "$output" ' 403$'
  assert_contains "$output" 'no rule for key \"k1\"'
  assert_eq "$(in_out_from "$OUT_IP" "$(ip_of app)" "$p")" refused "no rule"
  printf '%s tcp/%s\n' "$id" "$p" >"$T/keys/k1.allow"
  # From another address than the token's sub: 403.
  run allow_from "$OUT2" "$tok"
  assert_match "$output" ' 403$'
  assert_contains "$output" "not this connection's address"
  assert_eq "$(in_out_from "$OUT2" "$(ip_of app)" "$p")" refused "the other address"
  # Forged (another key with the same kid) and expired: 401.
  run -0 token --key "$T/k1-other.key" --sub "$OUT_IP" --aud "$(hostname)" --ttl 1h
  run allow_from "$OUT_IP" "$output"
  assert_match "$output" '"error":"bad signature"} 401$'
  run -0 token --key "$T/k1.key" --sub "$OUT_IP" --aud "$(hostname)" --exp $(($(date +%s) - 5))
  run allow_from "$OUT_IP" "$output"
  assert_match "$output" '"error":"expired [0-9]+ s ago"} 401$'
  run allow_from "$OUT_IP" ""
  assert_match "$output" '"error":"missing access_token"} 401$'
  # The valid one: 200 with its expiry, then the client connects.
  run allow_from "$OUT_IP" "$tok"
  assert_match "$output" ' 200$'
  assert_jq "${output% 200}" '.sub == $s and .expiresIn <= 5 and (.grants | length == 1)' --arg s "$OUT_IP"
  assert_eq "$(in_out_from "$OUT_IP" "$(ip_of app)" "$p")" ok "let in by the HTTP front"
  assert_eq "$(in_out_from "$OUT2" "$(ip_of app)" "$p")" refused "another outside address"
  # Shut out when exp passes, by the kernel.
  wait_for 15 eval "[[ \$(in_out_from $OUT_IP $(ip_of app) $p) == refused ]]"
  assert_eq "$(grants_in_kernel grant_ingress "$(ip_of app)")" 0 "grant_ingress elements after exp"
  # Requests that are not GET /v0/allow.
  run ip netns exec "$OUT_NS" curl -sS -m 5 -w ' %{http_code}' "http://$OUT_HOST_IP:$HTTP_PORT/other"
  assert_match "$output" ' 404$'
  run ip netns exec "$OUT_NS" curl -sS -m 5 -X POST -w ' %{http_code}' "http://$OUT_HOST_IP:$HTTP_PORT/v0/allow"
  assert_match "$output" ' 405$'
  run ip netns exec "$OUT_NS" sh -c "printf 'NONSENSE\r\n\r\n' | socat -t2 - TCP4:$OUT_HOST_IP:$HTTP_PORT"
  assert_contains "$output" "HTTP/1.1 400 Bad Request"
  # A client that sends half a request and waits is cut off after 5 s.
  run ip netns exec "$OUT_NS" sh -c "(printf 'GET /v0/allow'; sleep 8) | timeout 10 socat -t9 - TCP4:$OUT_HOST_IP:$HTTP_PORT"
  assert_contains "$output" "HTTP/1.1 408 Request Timeout"
  run cat "$T/http.log"
  assert_contains "$output" "moatctl http: 200 $OUT_IP let in for"
}

@test "moatctl: a token's grant word \"ingress CIDR PROTO/PORT\" lets that range in on its sub, until exp" {
  local p id
  p=$(random_port)
  setup_two_outside
  ctr_start app "$(a '{"io.moat.labels": "app=x"}')"
  ctr_tcp_listen app "$p"
  token_keys
  id=$(cid_of app)
  run -0 token --key "$T/k1.key" --sub "$id" --aud "$NET" --ttl 4s "ingress $OUT2/32 tcp/$p"
  run -0 ctl grant --token "$output"
  assert_eq "$(in_out_from "$OUT2" "$(ip_of app)" "$p")" ok "the token's range"
  assert_eq "$(in_out_from "$OUT_IP" "$(ip_of app)" "$p")" refused "another outside address"
  wait_for 10 eval "[[ \$(in_out_from $OUT2 $(ip_of app) $p) == refused ]]"
  run -2 token --key "$T/k1.key" --sub "$id" --aud "$NET" --ttl 4s "ingress $OUT2/32"
  assert_contains "$output" "want ingress CIDR PROTO/PORT[-PORT]"
}

@test "moatctl: show lists the whole effective policy, item by item, with where each came from; none yet before the hook" {
  local f=$T/policy.json
  echo '{"profiles": {"Web": {"labels": "tier=front", "egress": "192.0.2.0/24 tcp/443"}}}' >"$f"
  add_container bare
  run -0 ctl show "$(cid_of bare)"
  assert_contains "$output" "policy:    none yet"
  run -0 ctl --json show "$(cid_of bare)"
  assert_jq "$output" '.containers[0].policyItems == {state: "none yet", items: {}}'

  conf_set '.policyFile = $f | .args = {cni: {labels: [{key: "team", value: "blue"}]}}
    | .runtimeConfig["io.kubernetes.cri.pod-annotations"] = {"io.moat.allow-host": "tcp/9000"}' --arg f "$f"
  add_container web
  run -0 hook prestart web "$(a '{"io.moat.labels": "app=web", "io.moat.depends": "app=db",
    "io.moat.expose": "app=api&env!=dev", "io.moat.egress": "10.9.0.0/16 udp/53",
    "io.moat.ingress": "198.51.100.0/24 tcp/80", "io.moat.internet": "true", "io.moat.policy": "Web"}')"
  run -0 ctl show "$(cid_of web)"
  assert_contains "$output" "policy:    applied"
  assert_contains "$output" "team=blue [CNI args]"
  assert_contains "$output" "tier=front [profile Web]"
  assert_contains "$output" "app=web [annotation]"
  assert_contains "$output" "depends         app=db [annotation]"
  assert_contains "$output" "expose          env!=dev&app=api [annotation]"
  assert_contains "$output" "allow-host      tcp/9000 [pod annotation]"
  assert_contains "$output" "internet        yes [annotation]"
  run -0 ctl --json show "$(cid_of web)"
  local items='.containers[0].policyItems.items'
  assert_jq "$output" "$items.egress | map(.from) | sort == [\"annotation\", \"profile Web\"]"
  assert_jq "$output" "$items.egress[] | select(.from == \"profile Web\") | .item | startswith(\"192.0.2.0/24\")"
  assert_jq "$output" "$items.ingress == [{item: (.containers[0].policy.ingress[0]), from: \"annotation\"}]"
  assert_jq "$output" "$items.labels | length == 3"
}

@test "moatctl: show names a Trireme profile's reject rules, the proxy and published ports with their sources" {
  local f=$T/policy.json hp hp2
  hp=$(random_port)
  hp2=$(random_port)
  cat >"$f" <<'EOF'
{
  "Front": {
    "ApplicationACLs": [
      {"Address": "192.0.2.0/24", "Port": "443", "Protocol": "TCP", "Policy": {"Action": 1}},
      {"Address": "192.0.2.66", "Port": "443", "Protocol": "TCP", "Policy": {"Action": 2}}
    ],
    "NetworkACLs": [
      {"Address": "198.51.100.7", "Port": "80", "Protocol": "TCP", "Policy": {"Action": 2}}
    ],
    "Dependencies": [
      {"Clause": [{"Key": "@usr:app", "Operator": "=", "Value": ["db"]}], "Policy": {"Action": 1}},
      {"Clause": [{"Key": "@usr:env", "Operator": "=", "Value": ["test"]}], "Policy": {"Action": 2}}
    ],
    "TagSelectors": [
      {"Clause": [{"Key": "@usr:app", "Operator": "=", "Value": ["lb"]}], "Policy": {"Action": 1}},
      {"Clause": [{"Key": "@usr:env", "Operator": "=", "Value": ["dev"]}], "Policy": {"Action": 2}}
    ]
  }
}
EOF
  conf_set '.policyFile = $f | .runtimeConfig.portMappings = [{hostPort: $hp, containerPort: 80, protocol: "tcp"}]' \
    --arg f "$f" --argjson hp "$hp"
  add_container web
  run -0 hook prestart web "$(a '{"io.moat.labels": "app=web", "io.moat.policy": "Front",
    "io.moat.proxy": "10.9.9.9:3128 80"}')"
  conf_set 'del(.runtimeConfig.portMappings)
    | .runtimeConfig["io.kubernetes.cri.pod-annotations"] = {"io.moat.publish": "\($hp2):8080"}' --arg hp2 "$hp2"
  add_container api
  run -0 ctl show "$(cid_of web)"
  assert_contains "$output" "depends         app=db [profile Front]"
  assert_contains "$output" "expose          app=lb [profile Front]"
  assert_contains "$output" "depends (deny)  env=test [profile Front]"
  assert_contains "$output" "expose (deny)   env=dev [profile Front]"
  assert_contains "$output" "egress (deny)   192.0.2.66/32 tcp/443 [profile Front]"
  assert_contains "$output" "ingress (deny)  198.51.100.7/32 tcp/80 [profile Front]"
  assert_contains "$output" "proxy           10.9.9.9:3128 [annotation]"
  assert_contains "$output" "published       $hp:80/tcp [portMappings]"
  run -0 ctl --json show "$(cid_of web)"
  local items='.containers[0].policyItems.items'
  assert_jq "$output" "$items.egressDeny == [{item: \"192.0.2.66/32 tcp/443\", from: \"profile Front\"}]"
  assert_jq "$output" "$items.proxy == [{item: \"10.9.9.9:3128\", from: \"annotation\"}]"
  assert_jq "$output" "$items.publish == [{item: \"$hp:80/tcp\", from: \"portMappings\"}]"
  run -0 ctl --json show "$(cid_of api)"
  assert_jq "$output" "$items.publish == [{item: \"$hp2:8080/tcp\", from: \"pod annotation\"}]"
}

@test "moatctl: a peer grant names the peer as ls does (grant, ls, show, explain, revoke), and time left reads \"expires in N s\" everywhere" {
  local idw idd ida ipw ipd port line
  port=$(random_port)
  # 64-character ids and names, as docker and podman give them.
  idw=$(printf '%s' "$PFX-web" | sha256sum | cut -c1-64)
  idd=$(printf '%s' "$PFX-db" | sha256sum | cut -c1-64)
  new_netns web
  new_netns db
  CNI_ARGS_VALUE="K8S_POD_NAME=$PFX-web" run -0 cni ADD "$idw" "${PFX}web"
  ipw=$(jq -r '.ips[0].address | split("/")[0]' <<<"$output")
  CNI_ARGS_VALUE="K8S_POD_NAME=$PFX-db" run -0 cni ADD "$idd" "${PFX}db"
  ipd=$(jq -r '.ips[0].address | split("/")[0]' <<<"$output")
  ns_tcp_listen "${PFX}db" "$ipd" "$port"
  PROBE_TOKEN=peer-before run ns_tcp_connect "${PFX}web" "$ipd" "$port"
  assert_eq "$output" refused "web -> db before the grant"
  run -0 ctl grant "$PFX-web" peer "$PFX-db" --ttl 1h
  assert_eq "$output" "granted $PFX-web: peer $PFX-db (expires in 3600 s)"
  PROBE_TOKEN=peer-granted run -0 ns_tcp_connect "${PFX}web" "$ipd" "$port"
  run -0 ctl ls
  assert_not_contains "$output" "$idd" "ls"
  line=$(grep -F "$PFX-web " <<<"$output") || fail "no line for $PFX-web in: $output"
  assert_match "$line" "^${idw:0:12}  $PFX-web +$NET +$ipw +- +peer $PFX-db \\(expires in [0-9]+ s\\)\$"
  run -0 ctl show "$PFX-web"
  assert_match "$output" "grants:    peer $PFX-db \\(expires in [0-9]+ s\\)"
  run -0 ctl explain "$PFX-web" "$PFX-db" "tcp/$port"
  assert_match "$output" "grant \"peer $PFX-db\" \\(expires in [0-9]+ s\\)"
  run -0 ctl --json show "$PFX-web"
  assert_jq "$output" '.containers[0].grants[0] | .grant == "peer " + $id and .label == "peer " + $n' \
    --arg id "$idd" --arg n "$PFX-db"
  # What ls printed is what revoke takes.
  run -0 ctl revoke "$PFX-web" peer "$PFX-db"
  assert_eq "$output" "revoked $PFX-web: peer $PFX-db"
  PROBE_TOKEN=peer-revoked run ns_tcp_connect "${PFX}web" "$ipd" "$port"
  assert_eq "$output" refused "web -> db after the revoke"
  # A peer without a name: the first 12 characters of its id, as ls's first column.
  ida=$(printf '%s' "$PFX-anon" | sha256sum | cut -c1-64)
  new_netns anon
  run -0 cni ADD "$ida" "${PFX}anon"
  run -0 ctl grant "$PFX-web" peer "$ida"
  assert_eq "$output" "granted $PFX-web: peer ${ida:0:12}"
}
