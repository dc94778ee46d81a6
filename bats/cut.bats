#!/usr/bin/env bats
# Flows already open when their access goes. moat judges every packet of a
# flow in its opening direction anew, and at DEL forgets the conntrack
# entries of every flow that named the address. So a revoke, an expiry
# (with nothing of moat running), a policy change and a DEL each stop an
# established TCP connection and a UDP flow within 1 s, while the flows
# that keep their access go on.

load helpers
load flows

setup() {
  setup_moat_net
  flows_install
}
teardown() { teardown_moat_net; }

ctl() { env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" "$MOAT_BUILD/moatctl" "$@" 2>&1; }

start() { # NAME ANNOTATIONS_JSON
  add_container "$1"
  run -0 hook prestart "$1" "$2"
}
labels() { jq -nc --arg v "$1" '{"io.moat.labels": $v}'; }

# Echo servers on the host's address on the bridge, TCP and UDP on PORT.
host_servers() {
  flow_serve host tcp "$GW" "$1"
  flow_serve host udp "$GW" "$1"
}

@test "revoke: an open TCP connection and a UDP flow to a granted host port stop within 1 s" {
  local port t
  port=$(random_port)
  start app '{}'
  start other '{}'
  host_servers "$port"
  for p in tcp udp; do run -0 ctl grant "$(cid_of app)" host "$p/$port"; done
  run -0 ctl grant "$(cid_of other)" host "tcp/$port"
  flow_probe "$(ns_of app)" tcp "$GW" "$port" 12 tcp
  flow_probe "$(ns_of app)" udp "$GW" "$port" 12 udp
  flow_probe "$(ns_of other)" tcp "$GW" "$port" 12 kept
  flows_flowing tcp udp kept
  t=$(now)
  for p in tcp udp; do run -0 ctl revoke "$(cid_of app)" host "$p/$port"; done
  flow_cut tcp "$t"
  flow_cut udp "$t"
  # Another container's grant of the same port keeps its connection.
  flow_lives kept "$t"
  # And a new connection is refused as before the grant.
  run ns_tcp_connect "$(ns_of app)" "$GW" "$port"
  assert_eq "$output" refused "a new connection after the revoke"
}

@test "expiry: a grant's TTL running out stops its open flows within 1 s, with nothing of moat running" {
  local port t
  port=$(random_port)
  start app '{}'
  host_servers "$port"
  for p in tcp udp; do run -0 ctl grant "$(cid_of app)" host "$p/$port" --ttl 3s; done
  t=$(now)
  flow_probe "$(ns_of app)" tcp "$GW" "$port" 12 tcp
  flow_probe "$(ns_of app)" udp "$GW" "$port" 12 udp
  flows_flowing tcp udp
  run pgrep -f "$MOAT_BUILD/moat"
  assert_eq "$output" "" "moat processes while the grants time out"
  # The second grant was made by t; both time out by t + 3.
  flow_cut tcp "$(plus "$t" 3)"
  flow_cut udp "$(plus "$t" 3)"
}

@test "policy change: the hook giving a container another label stops its open flows to old peers" {
  local port t
  port=$(random_port)
  start a "$(labels app=x)"
  start b "$(labels app=x)"
  start c "$(labels app=y)"
  for s in b c; do
    flow_serve "$(ns_of "$s")" tcp 0.0.0.0 "$port"
    flow_serve "$(ns_of "$s")" udp 0.0.0.0 "$port"
  done
  flow_probe "$(ns_of a)" tcp "$(ip_of b)" "$port" 12 tcp
  flow_probe "$(ns_of a)" udp "$(ip_of b)" "$port" 12 udp
  flows_flowing tcp udp
  t=$(now)
  run -0 hook prestart a "$(labels app=y)"
  flow_cut tcp "$t"
  flow_cut udp "$t"
  # Its new peer is open to it.
  ns_tcp_listen "$(ns_of c)" 0.0.0.0 "$((port + 1))"
  run ns_tcp_connect "$(ns_of a)" "$(ip_of c)" "$((port + 1))"
  assert_eq "$output" ok "a, now app=y, to c"
}

@test "DEL: flows to a deleted peer stop, and its address's next holder gets none of an old flow's replies" {
  local port sport t addr
  port=$(random_port)
  sport=$((port + 1))
  setup_outside
  conf_set '.internet = true'
  start a "$(labels app=x)"
  start b "$(labels app=x)"
  flow_serve "$(ns_of b)" tcp 0.0.0.0 "$port"
  flow_serve "$(ns_of b)" udp 0.0.0.0 "$port"
  flow_probe "$(ns_of a)" tcp "$(ip_of b)" "$port" 12 tcp
  flow_probe "$(ns_of a)" udp "$(ip_of b)" "$port" 12 udp
  # b opened a UDP flow to the outside, whose server keeps pushing to it.
  : >"$T/pushed"
  start_bg "$OUT_NS" python3 "$T/flow.py" push "$OUT_IP" "$port" 20 "$T/pushed"
  wait_for 5 listening "$OUT_NS" udp "$port"
  : >"$T/b.got"
  start_bg "$(ns_of b)" python3 "$T/flow.py" listen 0.0.0.0 "$sport" "$T/b.got" "$OUT_IP" "$port"
  flows_flowing tcp udp
  wait_for 5 grep -q "got push" "$T/b.got"

  addr=$(ip_of b)
  t=$(now)
  del_container b
  flow_cut tcp "$t"
  flow_cut udp "$t"
  # The address goes to a new container, listening on the port the old
  # flow went to, while the outside still pushes.
  CNI_ARGS_VALUE="IP=$addr" add_container n
  assert_eq "$(ip_of n)" "$addr" "the new container's address"
  : >"$T/n.got"
  start_bg "$(ns_of n)" python3 "$T/flow.py" listen 0.0.0.0 "$sport" "$T/n.got"
  wait_for 5 grep -q ready "$T/n.got"
  local sent
  sent=$(wc -l <"$T/pushed")
  wait_for 5 eval "(( \$(wc -l <'$T/pushed') >= sent + 15 ))"
  run grep -c "got" "$T/n.got"
  assert_eq "$output" 0 "datagrams of b's old flow that reached the new holder of its address"
}
