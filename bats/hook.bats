#!/usr/bin/env bats
# moat-hook run the way runtimes run it: the container's state on stdin,
# the stage as argument, after the CNI ADD made the attachment. Every row
# of the policy is proven with real TCP and UDP traffic.

load helpers

setup() { setup_moat_net; }
teardown() { teardown_moat_net; }

# start NAME ANNOTATIONS_JSON: CNI ADD, then the prestart hook.
start() {
  add_container "$1"
  run -0 hook prestart "$1" "$2"
  assert_eq "$output" "" "hook output"
}

labels() { jq -nc --arg v "$1" '{"io.moat.labels": $v}'; }

tcp_ok() { # FROM TO PORT
  run ns_tcp_connect "$(ns_of "$1")" "$(ip_of "$2")" "$3"
  assert_eq "$output" ok "tcp $1 -> $2:$3"
}
tcp_refused() { # FROM TO PORT
  run ns_tcp_connect "$(ns_of "$1")" "$(ip_of "$2")" "$3"
  assert_eq "$output" refused "tcp $1 -> $2:$3"
}
listen_tcp() { ns_tcp_listen "$(ns_of "$1")" 0.0.0.0 "$2"; }
listen_udp() { ns_udp_listen "$(ns_of "$1")" 0.0.0.0 "$2"; }

@test "hook: a container without attachment or io.moat annotation is left alone" {
  run -0 hook prestart nobody '{"org.opencontainers.image.title": "x"}'
  assert_eq "$output" ""
  run -0 hook poststop nobody
}

@test "hook: io.moat annotations on a container without a moat attachment fail its start" {
  run -1 hook prestart nobody "$(labels app=web)"
  assert_contains "$output" "no moat network attachment"
  run -0 hook poststop nobody "$(labels app=web)"
}

@test "hook: usage errors and --help" {
  run -0 "$MOAT_BUILD/moat-hook" --help
  assert_contains "$output" "prestart|createRuntime|poststop"
  run -1 "$MOAT_BUILD/moat-hook" start </dev/null
  assert_contains "$output" "want one argument"
  run -1 bash -c "echo '{' | '$MOAT_BUILD/moat-hook' prestart"
  assert_contains "$output" "state on stdin"
}

@test "hook: shared label open both ways; another label and no label refused" {
  local port
  port=$(random_port)
  start web1 "$(labels app=web,env=dev)"
  start web2 "$(labels app=web)"
  start db "$(labels app=db,env=prod)"
  start plain '{}'
  for c in web1 web2 db plain; do listen_tcp "$c" "$port"; done
  tcp_ok web1 web2 "$port"
  tcp_ok web2 web1 "$port"
  tcp_refused web1 db "$port"
  tcp_refused db web2 "$port"
  tcp_refused plain web1 "$port"
  tcp_refused web1 plain "$port"
}

@test "hook: shared label over UDP; a different label gets port unreachable" {
  local port
  port=$(random_port)
  start a "$(labels team=red)"
  start b "$(labels team=red)"
  start c "$(labels team=blue)"
  listen_udp b "$port"
  run ns_udp_connect "$(ns_of a)" "$(ip_of b)" "$port"
  assert_eq "$output" ok
  run ns_udp_connect "$(ns_of c)" "$(ip_of b)" "$port"
  assert_eq "$output" unreachable
}

@test "hook: depends opens one way only; expose refuses a consumer it does not name" {
  local port
  port=$(random_port)
  start db "$(jq -nc '{"io.moat.labels": "app=db", "io.moat.expose": "app=web"}')"
  start web "$(jq -nc '{"io.moat.labels": "app=web", "io.moat.depends": "app=db"}')"
  start other "$(jq -nc '{"io.moat.labels": "app=other", "io.moat.depends": "app=db"}')"
  for c in db web other; do listen_tcp "$c" "$port"; done
  tcp_ok web db "$port"
  tcp_refused db web "$port"
  tcp_refused other db "$port"
}

@test "hook: a container that starts later is reached by the ones already running" {
  local port
  port=$(random_port)
  start a "$(labels app=x)"
  start b "$(labels app=x)"
  listen_tcp a "$port"
  start c "$(labels app=x)"
  listen_tcp c "$port"
  tcp_ok a c "$port"
  tcp_ok c a "$port"
  tcp_ok b c "$port"
}

@test "hook: allow-host opens exactly the named host ports, TCP and UDP" {
  local p1 p2 p3
  p1=$(random_port)
  p2=$((p1 + 1))
  p3=$((p1 + 2))
  start a "$(jq -nc --arg v "tcp/$p1,udp/$p2" '{"io.moat.allow-host": $v}')"
  ns_tcp_listen host "$GW" "$p1"
  ns_udp_listen host "$GW" "$p2"
  ns_tcp_listen host "$GW" "$p3"
  run ns_tcp_connect "$(ns_of a)" "$GW" "$p1"
  assert_eq "$output" ok
  run ns_udp_connect "$(ns_of a)" "$GW" "$p2"
  assert_eq "$output" ok
  run ns_tcp_connect "$(ns_of a)" "$GW" "$p3"
  assert_eq "$output" refused
  run ns_udp_connect "$(ns_of a)" "$GW" "$p1"
  assert_eq "$output" unreachable
}

@test "hook: egress opens exactly the CIDR and port; ingress lets the named outside peer in" {
  local p1 p2
  p1=$(random_port)
  p2=$((p1 + 1))
  setup_outside
  start a "$(jq -nc --arg o "$OUT_IP/32 tcp/$p1" --arg i "$OUT_IP tcp/$p2" \
    '{"io.moat.egress": $o, "io.moat.ingress": $i}')"
  start b '{}'
  ns_tcp_listen "$OUT_NS" 0.0.0.0 "$p1"
  ns_tcp_listen "$OUT_NS" 0.0.0.0 "$p2"
  listen_tcp a "$p2"
  listen_tcp b "$p2"
  run ns_tcp_connect "$(ns_of a)" "$OUT_IP" "$p1"
  assert_eq "$output" ok
  run ns_tcp_connect "$(ns_of a)" "$OUT_IP" "$p2"
  assert_eq "$output" refused
  run ns_tcp_connect "$(ns_of b)" "$OUT_IP" "$p1"
  assert_eq "$output" refused
  run ns_tcp_connect "$OUT_NS" "$(ip_of a)" "$p2"
  assert_eq "$output" ok
  run ns_tcp_connect "$OUT_NS" "$(ip_of b)" "$p2"
  assert_eq "$output" refused
}

@test "hook: internet opens the outside namespace, not peers nor the host" {
  local port
  port=$(random_port)
  setup_outside
  start a "$(jq -nc '{"io.moat.internet": "true", "io.moat.labels": "app=a"}')"
  start b "$(labels app=b)"
  ns_tcp_listen "$OUT_NS" 0.0.0.0 "$port"
  ns_tcp_listen host "$GW" "$port"
  listen_tcp b "$port"
  run ns_tcp_connect "$(ns_of a)" "$OUT_IP" "$port"
  assert_eq "$output" ok
  run ns_tcp_connect "$(ns_of b)" "$OUT_IP" "$port"
  assert_eq "$output" refused
  run ns_tcp_connect "$(ns_of a)" "$GW" "$port"
  assert_eq "$output" refused
  tcp_refused a b "$port"
}

@test "hook: proxy sends outbound tcp/80 to the proxy, which is implicitly allowed" {
  local pport
  pport=$(random_port)
  setup_outside
  start a "$(jq -nc --arg v "$OUT_IP:$pport" '{"io.moat.proxy": $v}')"
  ns_tcp_listen "$OUT_NS" 0.0.0.0 "$pport"
  # Any address on port 80 lands on the proxy, which sees the container.
  PROBE_TOKEN=via-proxy run ns_tcp_connect "$(ns_of a)" 192.0.2.10 80
  assert_eq "$output" ok
  assert_eq "$(peer_of via-proxy)" "$(ip_of a)" "the address the proxy saw"
  # Other ports are not redirected, and not open.
  run ns_tcp_connect "$(ns_of a)" "$OUT_IP" $((pport + 1))
  assert_eq "$output" refused
}

@test "hook: a Trireme-format profile picked with io.moat.policy" {
  local port f
  port=$(random_port)
  f=$BATS_TEST_TMPDIR/policy.json
  cat >"$f" <<'EOF'
{
  "Web": {
    "Dependencies": [
      {"Clause": [{"Key": "@usr:app", "Value": ["db"], "Operator": "="}],
       "Policy": {"Action": 1}}
    ]
  },
  "DB": {
    "TagSelectors": [
      {"Clause": [{"Key": "@usr:app", "Value": ["web"], "Operator": "="}],
       "Policy": {"Action": 1}},
      {"Clause": [{"Key": "@usr:env", "Value": ["test"], "Operator": "="}],
       "Policy": {"Action": 2}}
    ]
  }
}
EOF
  conf_set '. + {policyFile: $f}' --arg f "$f"
  start db "$(jq -nc '{"io.moat.labels": "app=db", "io.moat.policy": "DB"}')"
  start web "$(jq -nc '{"io.moat.labels": "app=web", "io.moat.policy": "Web"}')"
  start webtest "$(jq -nc '{"io.moat.labels": "app=web,env=test", "io.moat.policy": "Web"}')"
  for c in db web webtest; do listen_tcp "$c" "$port"; done
  tcp_ok web db "$port"
  tcp_refused db web "$port"
  tcp_refused webtest db "$port"
  run -1 hook prestart web "$(jq -nc '{"io.moat.policy": "Nope"}')"
  assert_contains "$output" 'io.moat.policy: no profile "Nope"'
}

@test "hook: a malformed or unknown annotation fails the start, names the key, installs nothing" {
  local before
  add_container a
  before=$(nft_elems_of a | sort)
  run -1 hook prestart a '{"io.moat.allow-host": "udp/2222,tcp/99999"}'
  assert_contains "$output" "io.moat.allow-host: port 99999 out of range"
  assert_eq "$(nft_elems_of a | sort)" "$before" "elements of a"
  run -1 hook prestart a '{"io.moat.lables": "app=web"}'
  assert_contains "$output" "io.moat.lables: unknown annotation"
  assert_eq "$(nft_elems_of a | sort)" "$before" "elements of a"
}

@test "hook: poststop removes what the hook installed, twice is fine; DEL leaves no trace" {
  local port links
  links=$(moat_links)
  port=$(random_port)
  start a "$(jq -nc --arg h "tcp/$port" '{"io.moat.labels": "app=x", "io.moat.allow-host": $h}')"
  start b "$(labels app=x)"
  listen_tcp b "$port"
  tcp_ok a b "$port"
  run -0 hook poststop a
  run -0 hook poststop a
  tcp_refused a b "$port"
  run -0 jq -e '.policy == null and .ident == null' "$(record_of a)"
  del_container a
  del_container b
  assert_nothing_left "$links"
  run -0 nft list ruleset
  assert_not_contains "$output" "$NETPFX."
}

@test "ADD: labels from args.cni.labels and pod annotations are policy without a hook" {
  local port
  port=$(random_port)
  conf_set '. + {args: {cni: {labels: [{key: "app", value: "web"}]}}}'
  add_container a
  conf_set '. + {runtimeConfig: {"io.kubernetes.cri.pod-annotations":
    {"io.moat.labels": "app=web", "io.moat.allow-host": $h, "io.moat.egress": "192.0.2.0/24 tcp/443"}}}' \
    --arg h "tcp/$port"
  add_container b
  conf_set 'del(.runtimeConfig) | .args.cni.labels = [{key: "app", value: "db"}]'
  add_container c
  for x in a b c; do listen_tcp "$x" "$port"; done
  tcp_ok a b "$port"
  tcp_ok b a "$port"
  tcp_refused c a "$port"
  ns_tcp_listen host "$GW" "$port"
  run ns_tcp_connect "$(ns_of b)" "$GW" "$port"
  assert_eq "$output" ok
  run ns_tcp_connect "$(ns_of a)" "$GW" "$port"
  assert_eq "$output" refused
  # The hook later sees the same sources and changes nothing.
  run -0 hook prestart b
  tcp_ok a b "$port"
}

@test "ADD: a malformed pod annotation is CNI error 7 naming it, and nothing is made" {
  local links
  links=$(moat_links)
  new_netns a
  conf_set '. + {runtimeConfig: {"io.kubernetes.cri.pod-annotations": {"io.moat.allow-host": "tcp/0"}}}'
  run -1 cni ADD "$(cid_of a)" "$(ns_of a)"
  assert_cni_error 7 "io.moat.allow-host"
  assert_nothing_left "$links" "$(ns_of a)"
}

@test "hook: a container found by its network namespace (a pod's second container)" {
  local port pid
  port=$(random_port)
  start a "$(labels app=x)"
  add_container b
  # A process in b's namespace stands for the container that shares it.
  start_bg "$(ns_of b)" sleep 1000
  pid=$(tail -n 1 "$T/pids")
  wait_for 5 test "$(readlink /proc/"$pid"/ns/net)" = "$(ip netns exec "$(ns_of b)" readlink /proc/self/ns/net)"
  local state
  state=$(jq -nc --argjson pid "$pid" '{ociVersion: "1.0.2", id: "other-id", pid: $pid,
    annotations: {"io.moat.labels": "app=x"}}')
  run -0 bash -c "printf '%s' '$state' | MOAT_RUN_DIR='$MOAT_RUN_DIR' '$MOAT_BUILD/moat-hook' prestart"
  listen_tcp b "$port"
  tcp_ok a b "$port"
}

@test "hook: annotations from config.json in the bundle when the state has none" {
  local port bundle
  port=$(random_port)
  start a "$(labels app=x)"
  add_container b
  bundle=$BATS_TEST_TMPDIR/bundle
  mkdir -p "$bundle"
  jq -n '{ociVersion: "1.0.2", annotations: {"io.moat.labels": "app=x"}}' >"$bundle/config.json"
  run -0 bash -c "jq -nc --arg id '$(cid_of b)' --arg b '$bundle' '{ociVersion: \"1.0.2\", id: \$id, bundle: \$b}' |
    MOAT_RUN_DIR='$MOAT_RUN_DIR' '$MOAT_BUILD/moat-hook' prestart"
  listen_tcp b "$port"
  tcp_ok a b "$port"
}

@test "hook: ten containers joining one label at once all get their peers" {
  local i port pids=() ident
  port=$(random_port)
  for i in $(seq 10); do add_container "c$i"; done
  for i in $(seq 10); do
    hook prestart "c$i" "$(labels app=storm)" >"$T/hook.c$i" &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || fail "hook $((i + 1)) failed: $(cat "$T/hook.c$((i + 1))")"
  done
  ident=$(jq -r .ident "$(record_of c1)")
  for i in $(seq 10); do
    assert_eq "$(jq -r .ident "$(record_of "c$i")")" "$ident" "identity of c$i"
  done
  # The identity's set holds all ten, and each jumps to it.
  assert_eq "$(nft_elems inet "id_$ident" | grep -c "^$NETPFX\.")" 10 "addresses in id_$ident"
  assert_eq "$(nft -j list map inet moat src_ident | jq --arg p "$NETPFX." --arg t "id_$ident" \
    '[.nftables[] | select(.map) | .map.elem[] | select((.[0] | startswith($p))
      and .[1].jump.target == $t)] | length')" 10 "jumps"
  listen_tcp c10 "$port"
  tcp_ok c1 c10 "$port"
}
