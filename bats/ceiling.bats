#!/usr/bin/env bats
# shellcheck disable=SC2016 # jq programs in single quotes
# The administrator's ceiling: the network configuration's "allow" bounds
# what a container may ask for (internet, host ports, egress, ingress, a
# proxy, labels) and whether its MOAT_* environment counts at all. These
# tests use networks of their own ceiling (the other files' networks allow
# everything: helpers.bash's ALLOW_ALL); each refusal is shown to install
# nothing and to leave the traffic refused.

load helpers
load runc

setup() {
  setup_moat_net
  # No "allow" at all: the default ceiling.
  conf_set 'del(.allow)'
  MOAT_CONF_BASE=$MOAT_CONF
}

teardown() {
  runc_teardown
  teardown_moat_net
}

labels() { jq -nc --arg v "$1" '{"io.moat.labels": $v}'; }

# hook_bundle STAGE NAME ANNOTATIONS_JSON ENV_JSON_ARRAY: moat-hook for
# container NAME with a bundle whose config.json holds the annotations and
# process.env (as docker's containers have them).
hook_bundle() {
  local bundle=$T/bundle.$2
  mkdir -p "$bundle"
  jq -n --argjson a "$3" --argjson e "$4" '{ociVersion: "1.0.2", annotations: $a,
    process: {env: (["PATH=/bin"] + $e)}}' >"$bundle/config.json"
  jq -nc --arg id "$(cid_of "$2")" --arg b "$bundle" \
    '{ociVersion: "1.0.2", id: $id, status: "created", pid: 0, bundle: $b}' |
    env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" timeout 60 ${MOAT_WRAP-} \
      "$MOAT_BUILD/moat-hook" "$1" 2>&1
}

# refused_by_ceiling NAME ANNOTATIONS_JSON KEY: the prestart hook fails
# naming KEY and the ceiling, and installs nothing for NAME.
refused_by_ceiling() {
  local before refusal
  before=$(nft_elems_of "$1" | sort)
  run -1 hook prestart "$1" "$2"
  refusal=$output
  assert_contains "$refusal" "$3: "
  assert_contains "$refusal" "is not allowed on network \"$NET\""
  assert_eq "$(grep -c . <<<"$refusal")" 1 "lines of the hook's error"
  assert_eq "$(nft_elems_of "$1" | sort)" "$before" "elements of $1"
  run -0 jq -e '.policy == null and .ident == null' "$(record_of "$1")"
  output=$refusal # for the caller's assertions
}

@test "ceiling: with no \"allow\", internet, allow-host, egress, ingress and proxy are refused, nothing installed, traffic still refused" {
  local p
  p=$(random_port)
  setup_outside
  add_container a
  ns_tcp_listen "$OUT_NS" 0.0.0.0 "$p"
  ns_tcp_listen host "$GW" "$p"
  ns_tcp_listen "$OUT_NS" 0.0.0.0 $((p + 1))
  refused_by_ceiling a '{"io.moat.internet": "true"}' io.moat.internet
  assert_contains "$output" '(its configuration has no "allow": {"internet": true})'
  refused_by_ceiling a "$(jq -nc --arg v "tcp/$p" '{"io.moat.allow-host": $v}')" io.moat.allow-host
  refused_by_ceiling a "$(jq -nc --arg v "$OUT_IP tcp/$p" '{"io.moat.egress": $v}')" io.moat.egress
  refused_by_ceiling a "$(jq -nc --arg v "$OUT_IP tcp/$p" '{"io.moat.ingress": $v}')" io.moat.ingress
  refused_by_ceiling a "$(jq -nc --arg v "$OUT_IP:$((p + 1))" '{"io.moat.proxy": $v}')" io.moat.proxy
  # A refusal is the whole container's: its allowed parts are not applied either.
  refused_by_ceiling a "$(jq -nc '{"io.moat.labels": "app=a", "io.moat.internet": "true"}')" io.moat.internet
  run ns_tcp_connect "$(ns_of a)" "$OUT_IP" "$p"
  assert_eq "$output" refused "a -> outside"
  run ns_tcp_connect "$(ns_of a)" "$GW" "$p"
  assert_eq "$output" refused "a -> host"
  # With the proxy, port 80 would land on the listener at p+1.
  run ns_tcp_connect "$(ns_of a)" "$OUT_IP" 80
  assert_eq "$output" refused "a -> outside port 80 (no proxy)"
  run ns_tcp_connect "$OUT_NS" "$(ip_of a)" "$p"
  assert_eq "$output" refused "outside -> a"
  # Labels and peers need no "allow".
  add_container b
  ns_tcp_listen "$(ns_of b)" 0.0.0.0 "$p"
  run -0 hook prestart a "$(labels app=x)"
  run -0 hook prestart b "$(labels app=x)"
  run ns_tcp_connect "$(ns_of a)" "$(ip_of b)" "$p"
  assert_eq "$output" ok "a -> b, shared label"
}

@test "ceiling: what \"allow\" grants opens with real traffic; one item beyond it is refused" {
  local p
  p=$(random_port)
  setup_outside
  conf_set '.allow = {internet: false, allowHost: ["tcp/\($p)-\($p + 1)"],
    egress: ["\($out)/32 tcp/\($p)"]}' --argjson p "$p" --arg out "$OUT_IP"
  add_container a
  add_container b
  ns_tcp_listen host "$GW" "$p"
  ns_tcp_listen host "$GW" $((p + 2))
  ns_tcp_listen "$OUT_NS" 0.0.0.0 "$p"
  ns_tcp_listen "$OUT_NS" 0.0.0.0 $((p + 2))
  run -0 hook prestart a "$(jq -nc --arg h "tcp/$p" --arg e "$OUT_IP tcp/$p" \
    '{"io.moat.allow-host": $h, "io.moat.egress": $e}')"
  assert_eq "$output" "" "hook output"
  run ns_tcp_connect "$(ns_of a)" "$GW" "$p"
  assert_eq "$output" ok "a -> host, allowed"
  run ns_tcp_connect "$(ns_of a)" "$OUT_IP" "$p"
  assert_eq "$output" ok "a -> outside, allowed"
  # b asks for one port more on the host: refused whole, naming the ceiling.
  refused_by_ceiling b "$(jq -nc --arg h "tcp/$p-$((p + 2))" '{"io.moat.allow-host": $h}')" io.moat.allow-host
  assert_contains "$output" "io.moat.allow-host: tcp/$p-$((p + 2)) is not allowed on network \"$NET\" (allow.allowHost: [\"tcp/$p-$((p + 1))\"])"
  refused_by_ceiling b "$(jq -nc --arg e "$OUT_IP tcp/$((p + 2))" '{"io.moat.egress": $e}')" io.moat.egress
  refused_by_ceiling b '{"io.moat.internet": "true"}' io.moat.internet
  assert_contains "$output" "(allow.internet: false)"
  run ns_tcp_connect "$(ns_of b)" "$GW" "$p"
  assert_eq "$output" refused "b -> host"
  run ns_tcp_connect "$(ns_of b)" "$OUT_IP" $((p + 2))
  assert_eq "$output" refused "b -> outside"
  # "internet" of the network itself: asking for it asks for nothing more.
  conf_set '.internet = true'
  add_container c
  run -0 hook prestart c '{"io.moat.internet": "true"}'
  run ns_tcp_connect "$(ns_of c)" "$OUT_IP" $((p + 2))
  assert_eq "$output" ok "c -> outside, the network's internet"
}

@test "ceiling: a label the network does not list is refused, from annotations and from args.cni.labels at ADD (code 7, nothing left)" {
  local p links
  p=$(random_port)
  links=$(moat_links)
  conf_set '.allow = {labels: ["app=web", "env"]}'
  add_container web
  add_container db
  ns_tcp_listen "$(ns_of web)" 0.0.0.0 "$p"
  run -0 hook prestart web "$(labels app=web,env=anything)"
  # db would join web's identity by taking its label: it may not.
  refused_by_ceiling db "$(labels app=web,role=db)" io.moat.labels
  assert_contains "$output" 'io.moat.labels: role=db is not allowed'
  run ns_tcp_connect "$(ns_of db)" "$(ip_of web)" "$p"
  assert_eq "$output" refused "db -> web"
  # The same label given by the runtime at ADD: refused before anything is made.
  new_netns x
  CNI_CONF=$(jq -c '.args = {cni: {labels: [{key: "app", value: "db"}]}}' <<<"$MOAT_CONF") \
    run cni ADD "$PFX-x" "$PFX"x
  assert_cni_error 7 "args.cni.labels: app=db is not allowed on network \"$NET\" (allow.labels: [\"app=web\",\"env\"])"
  [[ ! -e $(record_of x) ]] || fail "x has a record"
  assert_eq "$(ip -n "$PFX"x -o link show | grep -cv ': lo:' || true)" 0 "links in x"
  del_container web
  del_container db
  assert_nothing_left "$links" "$PFX"x
}

@test "ceiling: pod annotations beyond it fail the ADD with code 7 and leave nothing" {
  local links
  links=$(moat_links)
  new_netns k
  CNI_CONF=$(jq -c '.runtimeConfig = {"io.kubernetes.cri.pod-annotations": {"io.moat.internet": "true"}}' <<<"$MOAT_CONF") \
    run cni ADD "$PFX-k" "$PFX"k
  assert_cni_error 7 "pod annotation io.moat.internet: true is not allowed on network \"$NET\""
  assert_nothing_left "$links" "$PFX"k
}

@test "ceiling: the profile a container picks is bounded too, and named" {
  local f
  f=$T/policy.json
  jq -n '{profiles: {Web: {labels: "app=web", egress: "0.0.0.0/0 udp/53"}}}' >"$f"
  conf_set '.policyFile = $f | .allow = {egress: ["10.0.0.0/8 udp/53"]}' --arg f "$f"
  add_container a
  refused_by_ceiling a '{"io.moat.policy": "Web"}' 'io.moat.policy "Web": io.moat.egress'
  assert_contains "$output" '0.0.0.0/0 udp/53 is not allowed'
  # Within the ceiling, the same profile applies.
  conf_set '.allow = {egress: ["0.0.0.0/0 udp/53"]}'
  add_container b
  run -0 hook prestart b '{"io.moat.policy": "Web"}'
  run -0 jq -e '.policy.egress == ["0.0.0.0/0 udp/53"]' "$(record_of b)"
}

@test "ceiling: an @sys: label forged in args.cni.labels is refused at ADD (code 7), nothing left" {
  local links
  links=$(moat_links)
  new_netns f
  CNI_CONF=$(jq -c '.args = {cni: {labels: [{key: "app", value: "x"}, {key: "@sys:namespace", value: "kube-system"}]}}' <<<"$MOAT_CONF") \
    run cni ADD "$PFX-f" "$PFX"f
  assert_cni_error 7 "args.cni.labels[1]: key \"@sys:namespace\": '@' is reserved for system labels"
  assert_nothing_left "$links" "$PFX"f
}

@test "ceiling: the MOAT_* environment is ignored by default and read with \"env\": true" {
  local p
  p=$(random_port)
  setup_outside
  ns_tcp_listen "$OUT_NS" 0.0.0.0 "$p"
  # An image's ENV on a network that does not read it: nothing of it counts.
  add_container a
  add_container b
  ns_tcp_listen "$(ns_of b)" 0.0.0.0 "$p"
  run -0 hook prestart b "$(labels app=web)"
  run -0 hook_bundle prestart a '{}' '["MOAT_LABELS=app=web", "MOAT_INTERNET=true", "MOAT_ALLOW_HOST=tcp/1"]'
  assert_eq "$output" "" "hook output"
  run -0 jq -e '.policy == null' "$(record_of a)"
  run ns_tcp_connect "$(ns_of a)" "$(ip_of b)" "$p"
  assert_eq "$output" refused "a -> b: MOAT_LABELS ignored"
  run ns_tcp_connect "$(ns_of a)" "$OUT_IP" "$p"
  assert_eq "$output" refused "a -> outside: MOAT_INTERNET ignored"
  # A network that reads it: MOAT_LABELS counts, and stays under the ceiling.
  conf_set '.allow = {env: true, publish: true}'
  add_container c
  run -1 hook_bundle prestart c '{}' '["MOAT_LABELS=app=web", "MOAT_INTERNET=true"]'
  assert_contains "$output" "MOAT_INTERNET: true is not allowed on network \"$NET\""
  # Its hints name the variables too: MOAT_PUBLISH is not for a runtime's attachment.
  run -1 hook_bundle prestart c '{}' '["MOAT_LABELS=app=web", "MOAT_PUBLISH=8080:80"]'
  assert_contains "$output" "MOAT_PUBLISH: container \"$(cid_of c)\" was attached by its runtime"
  assert_contains "$output" "MOAT_PUBLISH is for hook-driven attach (MOAT_NETWORK)"
  run -0 hook_bundle prestart c '{}' '["MOAT_LABELS=app=web"]'
  run ns_tcp_connect "$(ns_of c)" "$(ip_of b)" "$p"
  assert_eq "$output" ok "c -> b: MOAT_LABELS read"
}

@test "ceiling: MOAT_NETWORK attaches a runc container only to a network with \"env\": true" {
  local p links
  p=$(random_port)
  links=$(moat_links)
  runc_setup
  NETDIR=$T/networks
  mkdir -p "$NETDIR"
  printf '%s\n' "$MOAT_CONF" >"$NETDIR/50-$NET.conf"
  export CTR_NETNS=new CTR_HOOK_ENV="MOAT_NETWORK_DIRS=$NETDIR"
  # Ignored: the container runs with its own empty namespace, and the hook
  # logs why.
  run -0 ctr_create_env_net a "$(jq -nc --arg n "$NET" '["MOAT_NETWORK=" + $n, "MOAT_LABELS=app=web"]')"
  ctr_running a || fail "a is not running"
  [[ ! -e $(record_of a) ]] || fail "a was attached"
  run -0 ctr_exec a ip -o link show
  assert_eq "$(grep -cv ': lo:' <<<"$output" || true)" 0 "links in a"
  run -0 bash -c "echo '{\"ociVersion\":\"1.0.2\",\"id\":\"$(cid_of a)\",\"pid\":$(ctr_pid a),\"bundle\":\"$CTR_DIR/a\"}' |
    env -i PATH=\$PATH MOAT_RUN_DIR=$MOAT_RUN_DIR MOAT_NETWORK_DIRS=$NETDIR '$MOAT_BUILD/moat-hook' prestart"
  assert_contains "$output" "MOAT_* environment ignored: network \"$NET\" does not read it"
  [[ ! -e $(record_of a) ]] || fail "a was attached"
  # Read: attached, its label counts.
  conf_set '.allow = {env: true}'
  printf '%s\n' "$MOAT_CONF" >"$NETDIR/50-$NET.conf"
  run -0 ctr_create_env_net b "$(jq -nc --arg n "$NET" '["MOAT_NETWORK=" + $n, "MOAT_LABELS=app=web"]')"
  run -0 ctr_create_env_net c "$(jq -nc --arg n "$NET" '["MOAT_NETWORK=" + $n, "MOAT_LABELS=app=web"]')"
  run -0 jq -e '.attachedBy == "hook" and .allow == {env: true}' "$(record_of b)"
  ctr_tcp_listen c "$p"
  run ctr_tcp_connect b "$(jq -er '.address | split("/")[0]' "$(record_of c)")" "$p"
  assert_eq "$output" ok "b -> c"
  ctr_delete b
  ctr_delete c
  ctr_delete a
  assert_nothing_left "$links"
}

# ctr_create_env_net NAME ENV_JSON_ARRAY: a runc container whose process.env
# has these variables more.
ctr_create_env_net() {
  local name=$1 bundle=$CTR_DIR/$1 status=0
  mkdir -p "$bundle"
  rm -f "$bundle/pid"
  ctr_config "$name" | jq ".process.env += $2" >"$bundle/config.json" ||
    fail "cannot write $bundle/config.json"
  cid_of "$name" >>"$T/containers"
  rc run -d --pid-file "$bundle/pid" --bundle "$bundle" "$(cid_of "$name")" \
    </dev/null >"$bundle/runc.log" 2>&1 || status=$?
  cat "$bundle/runc.log"
  return "$status"
}
