#!/usr/bin/env bats
# Real runc running busybox containers with moat-hook in config.json, wired
# as podman wires them: namespace, CNI ADD, then `runc run`. Real traffic
# (busybox httpd and wget inside the containers, socat for UDP) proves each
# row; `runc delete` runs poststop.

load helpers
load runc

setup() {
  setup_moat_net
  runc_setup
}
teardown() {
  runc_teardown
  teardown_moat_net
}

a() { jq -nc "$@"; }

fetch_is() { # FROM TO PORT EXPECTED
  run ctr_fetch "$1" "$(ip_of "$2")" "$3"
  assert_eq "$output" "$4" "wget $1 -> $2:$3"
}

@test "runc: the container runs in its attachment's namespace and the host reaches its web app" {
  local port
  port=$(random_port)
  ctr_start web "$(a '{"io.moat.labels": "app=web"}')"
  run -0 ctr_exec web ip -4 -o addr show eth0
  assert_contains "$output" "$(cidr_of web)"
  run -0 ctr_exec web hostname
  assert_eq "$output" web
  ctr_serve web "$port"
  # The host's side: busybox's wget, bounded by timeout (its -T crashes).
  run -0 timeout 5 busybox wget -q -O - "http://$(ip_of web):$port/"
  assert_contains "$output" "hello from a moat container"
}

@test "runc: shared label open both ways, different label and no label refused" {
  local port
  port=$(random_port)
  ctr_start web1 "$(a '{"io.moat.labels": "app=web,tier=front"}')"
  ctr_start web2 "$(a '{"io.moat.labels": "app=web"}')"
  ctr_start db "$(a '{"io.moat.labels": "app=db"}')"
  ctr_start plain
  for c in web1 web2 db plain; do ctr_serve "$c" "$port"; done
  fetch_is web1 web2 "$port" ok
  fetch_is web2 web1 "$port" ok
  fetch_is web1 db "$port" refused
  fetch_is db web1 "$port" refused
  fetch_is plain web2 "$port" refused
  fetch_is web2 plain "$port" refused
}

@test "runc: depends and expose open one way only; expose refuses a consumer it does not name" {
  local port
  port=$(random_port)
  ctr_start db "$(a '{"io.moat.labels": "app=db", "io.moat.expose": "app=web"}')"
  ctr_start web "$(a '{"io.moat.labels": "app=web", "io.moat.depends": "app=db"}')"
  ctr_start batch "$(a '{"io.moat.labels": "app=batch", "io.moat.depends": "app=db"}')"
  for c in db web batch; do ctr_serve "$c" "$port"; done
  fetch_is web db "$port" ok
  fetch_is db web "$port" refused
  fetch_is batch db "$port" refused
}

@test "runc: allow-host opens exactly the named host ports, TCP and UDP" {
  local p1 p2 p3
  p1=$(random_port)
  p2=$((p1 + 1))
  p3=$((p1 + 2))
  ctr_start app "$(a --arg v "tcp/$p1,udp/$p2" '{"io.moat.allow-host": $v}')"
  ns_tcp_listen host "$GW" "$p1"
  ns_udp_listen host "$GW" "$p2"
  ns_tcp_listen host "$GW" "$p3"
  run -0 ctr_exec app sh -c "echo hi | nc -w 2 $GW $p1"
  assert_contains "$output" "reply hi"
  run ctr_exec app sh -c "echo hi | nc -w 2 $GW $p3"
  assert_contains "$output" "refused"
  # busybox has no UDP client: the container's namespace, the host's socat.
  run ns_udp_connect "$(ns_of app)" "$GW" "$p2"
  assert_eq "$output" ok
  run ns_udp_connect "$(ns_of app)" "$GW" "$p1"
  assert_eq "$output" unreachable
}

@test "runc: egress opens exactly the CIDR and port; internet opens the outside" {
  local p1 p2
  p1=$(random_port)
  p2=$((p1 + 1))
  setup_outside
  ctr_start narrow "$(a --arg v "$OUT_IP/32 tcp/$p1" '{"io.moat.egress": $v}')"
  ctr_start wide "$(a '{"io.moat.internet": "true"}')"
  ctr_start none
  ns_tcp_listen "$OUT_NS" 0.0.0.0 "$p1"
  ns_tcp_listen "$OUT_NS" 0.0.0.0 "$p2"
  run ctr_exec narrow sh -c "echo a | nc -w 2 $OUT_IP $p1"
  assert_contains "$output" "reply a"
  run ctr_exec narrow sh -c "echo b | nc -w 2 $OUT_IP $p2"
  assert_contains "$output" "refused"
  run ctr_exec wide sh -c "echo c | nc -w 2 $OUT_IP $p2"
  assert_contains "$output" "reply c"
  run ctr_exec none sh -c "echo d | nc -w 2 $OUT_IP $p1"
  assert_contains "$output" "refused"
}

@test "runc: proxy sends the container's tcp/80 to the proxy" {
  local pport
  pport=$(random_port)
  setup_outside
  ctr_start app "$(a --arg v "$OUT_IP:$pport" '{"io.moat.proxy": $v}')"
  ns_tcp_listen "$OUT_NS" 0.0.0.0 "$pport"
  run ctr_exec app sh -c "echo via-proxy | nc -w 2 198.51.100.20 80"
  assert_contains "$output" "reply via-proxy"
  assert_eq "$(peer_of via-proxy)" "$(ip_of app)" "the address the proxy saw"
}

@test "runc: a Trireme-format profile picked with io.moat.policy" {
  local port
  port=$(random_port)
  conf_set '. + {policyFile: $f}' --arg f "$BATS_TEST_DIRNAME/../conf/policy.json"
  ctr_start db "$(a '{"io.moat.labels": "app=db", "io.moat.policy": "DB"}')"
  ctr_start web "$(a '{"io.moat.labels": "app=web", "io.moat.policy": "Web"}')"
  ctr_start webtest "$(a '{"io.moat.labels": "app=web,env=test", "io.moat.policy": "Web"}')"
  for c in db web webtest; do ctr_serve "$c" "$port"; done
  fetch_is web db "$port" ok
  fetch_is db web "$port" refused
  fetch_is webtest db "$port" refused
}

@test "runc: a malformed annotation fails runc run, names the key, leaves no element" {
  local before
  add_container bad
  before=$(nft_elems_of bad | sort)
  run ctr_run bad '{"io.moat.allow-host": "udp/2222,tcp/99999"}'
  [[ $status -ne 0 ]] || fail "runc run succeeded: $output"
  assert_contains "$output" "io.moat.allow-host: port 99999 out of range"
  ! ctr_running bad || fail "container bad is running"
  assert_eq "$(nft_elems_of bad | sort)" "$before" "elements of bad"
  run -0 jq -e '.policy == null' "$(record_of bad)"
}

@test "runc: after runc delete (poststop) and CNI DEL no trace of the container is left" {
  local port links
  links=$(moat_links)
  port=$(random_port)
  ctr_start a "$(a --arg h "tcp/$port" '{"io.moat.labels": "app=x", "io.moat.allow-host": $h}')"
  ctr_start b "$(a '{"io.moat.labels": "app=x"}')"
  ctr_serve b "$port"
  fetch_is a b "$port" ok
  local addr_a
  addr_a=$(ip_of a)
  rc kill "$(cid_of a)" KILL
  wait_for 10 eval "! ctr_running a"
  run -0 rc delete "$(cid_of a)"
  # poststop took a's policy: b no longer lets it in, the record says so.
  run -0 jq -e '.policy == null and .ident == null' "$(record_of a)"
  run nft list ruleset
  assert_not_contains "$output" "$addr_a :"
  del_container a
  ctr_delete b
  assert_nothing_left "$links"
  run -0 nft list ruleset
  assert_not_contains "$output" "$NETPFX."
}

@test "runc: the hook at createRuntime instead of prestart applies the same policy" {
  local port
  port=$(random_port)
  CTR_HOOK_STAGES="createRuntime poststop" ctr_start a "$(a '{"io.moat.labels": "app=x"}')"
  CTR_HOOK_STAGES="createRuntime poststop" ctr_start b "$(a '{"io.moat.labels": "app=x"}')"
  ctr_start c "$(a '{"io.moat.labels": "app=y"}')"
  for x in a b c; do ctr_serve "$x" "$port"; done
  fetch_is a b "$port" ok
  fetch_is c b "$port" refused
}
