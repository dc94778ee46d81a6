#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2030,SC2031 # jq programs in single quotes; bats subshells
# moatctl stats and metrics: what the kernel counts per container (sets
# allowed_out, allowed_in, refused_out, refused_in), with real traffic
# between plain CNI containers; the Prometheus exposition and its one-
# request HTTP answer (conf/systemd/moat-metrics@.service).

load helpers

setup() {
  export MOAT_RUN_DIR=$BATS_TEST_TMPDIR/run
  setup_moat_net
}
teardown() { teardown_moat_net; }

ctl() { env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" "$MOAT_BUILD/moatctl" "$@"; }

# count NAME VERDICT DIRECTION packets|bytes: one number of stats --json.
count() {
  ctl --json stats "$(cid_of "$1")" | jq -er --arg v "$2" --arg d "$3" --arg f "$4" \
    '.containers[0][$v][$d][$f]'
}
# counts NAME: its eight numbers on one line (allowed in/out, refused in/out; packets bytes).
counts() {
  ctl --json stats "$(cid_of "$1")" |
    jq -er '.containers[0] | [.allowed.in, .allowed.out, .refused.in, .refused.out]
            | map(.packets, .bytes) | map(tostring) | join(" ")'
}
at_least() { # WHAT ACTUAL MIN
  (($2 >= $3)) || fail "$1: $2, expected at least $3"
}

# sink NS IP PORT: a TCP server that reads everything and answers nothing.
sink() {
  start_bg "$1" socat -u "TCP4-LISTEN:$3,bind=$2,reuseaddr,fork" OPEN:/dev/null
  wait_for 5 listening "$1" tcp "$3"
}

SIZE=1048576

@test "stats: an allowed TCP transfer of 1 MiB counts at least that many bytes out of the sender and into the receiver, nothing refused" {
  add_container a
  add_container b
  local a b port
  a=$(ip_of a)
  b=$(ip_of b)
  port=$(random_port)
  assert_eq "$(counts a)" "0 0 0 0 0 0 0 0" "a's counts at ADD"
  run -0 ctl grant "$(cid_of a)" peer "$(cid_of b)"
  sink "$(ns_of b)" "$b" "$port"

  head -c "$SIZE" /dev/zero | ip netns exec "$(ns_of a)" timeout 20 socat -u - "TCP4:$b:$port" ||
    fail "transfer a -> b failed"

  at_least "a allowed out bytes" "$(count a allowed out bytes)" "$SIZE"
  at_least "b allowed in bytes" "$(count b allowed in bytes)" "$SIZE"
  # The other way: b's acknowledgements, out of b and into a.
  at_least "b allowed out packets" "$(count b allowed out packets)" 1
  at_least "a allowed in packets" "$(count a allowed in packets)" 1
  local p
  for p in a b; do
    assert_eq "$(count $p refused in packets) $(count $p refused out packets)" "0 0" "$p refused"
  done
  # Every moat address in the JSON, with its network.
  run -0 ctl --json stats
  assert_jq "$output" '[.containers[] | select(.network == $n) | .address] | sort == ([$a, $b] | sort)' \
    --arg n "$NET" --arg a "$a" --arg b "$b"
  # The table: a header, one line per container, numbers as packets/bytes.
  run -0 ctl stats "$(cid_of a)"
  assert_contains "${lines[0]}" "ALLOWED OUT"
  assert_contains "${lines[1]}" "$a"
  assert_match "${lines[1]}" "$(count a allowed out packets)/$(count a allowed out bytes)"
}

@test "stats: a refused connect and ping count refused out of the sender and refused in of the receiver, nothing allowed" {
  add_container a
  add_container b
  local b port
  b=$(ip_of b)
  port=$(random_port)
  run ns_tcp_connect "$(ns_of a)" "$b" "$port"
  assert_eq "$output" refused "a -> b (no labels)"
  run ip netns exec "$(ns_of a)" ping -c 2 -W 1 "$b"
  ((status != 0)) || fail "ping a -> b answered"

  at_least "a refused out packets" "$(count a refused out packets)" 3
  at_least "b refused in packets" "$(count b refused in packets)" 3
  at_least "a refused out bytes" "$(count a refused out bytes)" $((40 + 2 * 84))
  assert_eq "$(count a refused out packets)" "$(count b refused in packets)" "a's refused out, b's refused in"
  # The rejects (RST, ICMP) come from the host: not counted as a's allowed in.
  assert_eq "$(count a allowed out packets) $(count a allowed in packets)" "0 0" "a allowed"
  assert_eq "$(count b allowed out packets) $(count b allowed in packets)" "0 0" "b allowed"
  assert_eq "$(count a refused in packets) $(count b refused out packets)" "0 0" "the other sides"
}

@test "stats: a refused flow from outside counts refused in of the container; the host's own traffic is allowed out" {
  add_container a
  setup_outside
  local a port
  a=$(ip_of a)
  port=$(random_port)
  run ns_tcp_connect "$OUT_NS" "$a" "$port"
  assert_eq "$output" refused "outside -> a"
  at_least "a refused in packets" "$(count a refused in packets)" 1
  assert_eq "$(count a refused out packets)" 0 "a refused out"

  run -0 ctl grant "$(cid_of a)" host "tcp/$port"
  ns_tcp_listen host "$GW" "$port"
  run ns_tcp_connect "$(ns_of a)" "$GW" "$port"
  assert_eq "$output" ok "a -> host, granted"
  at_least "a allowed out packets (to the host)" "$(count a allowed out packets)" 3
}

@test "stats: a container's counters go with its DEL; an unknown container is exit 1" {
  add_container a
  add_container b
  local a
  a=$(ip_of a)
  run ip netns exec "$(ns_of a)" ping -c 1 -W 1 "$(ip_of b)"
  at_least "a refused out packets" "$(count a refused out packets)" 1
  local set
  for set in allowed_out allowed_in refused_out refused_in; do
    assert_contains "$(nft list set inet moat "$set")" "$a" "set $set at ADD"
  done
  run -0 del_container a
  for set in allowed_out allowed_in refused_out refused_in; do
    assert_not_contains "$(nft list set inet moat "$set")" "$a " "set $set after DEL"
  done
  run -0 ctl --json stats
  assert_jq "$output" '[.containers[] | select(.address == $a)] | length == 0' --arg a "$a"
  run ctl stats "$(cid_of a)"
  assert_eq "$status" 1 "stats of a gone container"
  # moatctl check knows the counter elements: none missing, none extra.
  run -0 ctl check
}

# exposition TEXT: checks the text exposition format (every sample after its
# metric's HELP and TYPE, names and labels well-formed, values integers),
# prints each sample as JSON {name, labels, value}.
exposition() {
  python3 -c '
import json, re, sys
text = sys.stdin.read()
assert text.endswith("\n"), "no final newline"
help_, type_ = set(), set()
label = r"([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\\n]|\\[\\\"n])*)\""
sample = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{(%s(?:,%s)*)\} ([0-9]+)$" % (label, label))
for line in text[:-1].split("\n"):
    m = re.match(r"# (HELP|TYPE) (\S+) (.+)$", line)
    if m:
        (help_ if m.group(1) == "HELP" else type_).add(m.group(2))
        if m.group(1) == "TYPE":
            assert m.group(3) == "counter", line
        continue
    m = sample.match(line)
    assert m, "not a sample: %r" % line
    assert m.group(1) in help_ and m.group(1) in type_, "no HELP/TYPE before " + line
    labels = {k: re.sub(r"\\(.)", lambda e: {"n": "\n"}.get(e.group(1), e.group(1)), v)
              for k, v in re.findall(label, m.group(2))}
    print(json.dumps({"name": m.group(1), "labels": labels, "value": int(m.group(len(m.groups())))}))
'
}

@test "metrics: a valid text exposition, one sample per container, metric, direction and verdict; names escaped" {
  local name='web"1\x'
  CNI_ARGS_VALUE="K8S_POD_NAME=$name" add_container a
  add_container b
  run ip netns exec "$(ns_of a)" ping -c 1 -W 1 "$(ip_of b)"
  run -0 ctl metrics
  local text=$output
  assert_contains "$text" 'container="web\"1\\x"' "escaped name"
  run -0 exposition <<<"$text"
  local samples=$output
  assert_eq "$(jq -s 'length' <<<"$samples")" 16 "samples: 2 containers x 2 metrics x 2 x 2"
  assert_jq "$(jq -sc . <<<"$samples")" \
    '[.[] | select(.labels.container == $n and .labels.network == $net and .name == "moat_packets_total"
             and .labels.direction == "out" and .labels.verdict == "refused")][0].value >= 1' \
    --arg n "$name" --arg net "$NET"
  assert_jq "$(jq -sc . <<<"$samples")" \
    '[.[] | select(.labels.container == $b and .name == "moat_bytes_total"
             and .labels.direction == "in" and .labels.verdict == "refused")][0].value >= 84' \
    --arg b "$(cid_of b)"
  assert_jq "$(jq -sc . <<<"$samples")" 'map(.labels | keys) | unique == [["container", "direction", "network", "verdict"]]'
  # The textfile collector's way: written whole, then renamed.
  ctl metrics >"$T/moat.prom.$$" && mv "$T/moat.prom.$$" "$T/moat.prom"
  run -0 exposition <"$T/moat.prom"
}

# http_of REQUEST: moatctl metrics --http's answer to REQUEST on stdin.
http_of() { printf "$1" | ctl metrics --http; }

@test "metrics --http: one GET answered 200 text/plain with the exposition; other requests refused" {
  add_container a
  local body
  body=$(ctl metrics)
  run -0 http_of 'GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\n\r\n'
  local head=${output%%$'\r\n\r\n'*} got=${output#*$'\r\n\r\n'}
  assert_contains "$head" "HTTP/1.1 200 OK"
  assert_contains "$head" "Content-Type: text/plain; version=0.0.4; charset=utf-8"
  assert_contains "$head" "Content-Length: $(($(printf '%s\n' "$body" | wc -c)))"
  assert_eq "$got" "$body" "body"
  run http_of 'POST /metrics HTTP/1.1\r\n\r\n'
  assert_contains "$output" "HTTP/1.1 405"
  run http_of 'GET /other HTTP/1.1\r\n\r\n'
  assert_contains "$output" "HTTP/1.1 404"
  run http_of 'GET /metrics\r\n\r\n'
  assert_contains "$output" "HTTP/1.1 400"
  run -0 http_of 'HEAD / HTTP/1.0\r\n\r\n'
  assert_contains "$output" "HTTP/1.1 200 OK"
  assert_not_contains "$output" "moat_packets_total"
}

@test "metrics --http: conf/systemd/moat-metrics@.service's command under socket activation (Accept=yes) answers a scrape" {
  command -v systemd-socket-activate >/dev/null || skip "no systemd-socket-activate"
  add_container a
  local exec port
  exec=$(sed -n 's/^ExecStart=//p' "$BATS_TEST_DIRNAME/../conf/systemd/moat-metrics@.service")
  assert_eq "$exec" "/usr/local/bin/moatctl metrics --http" "the unit's command"
  grep -qx 'Accept=yes' "$BATS_TEST_DIRNAME/../conf/systemd/moat-metrics.socket" || fail "socket without Accept=yes"
  port=$(random_port)
  start_bg host env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" \
    systemd-socket-activate --inetd -a -l "127.0.0.1:$port" -E MOAT_RUN_DIR="$MOAT_RUN_DIR" \
    "$MOAT_BUILD/moatctl" metrics --http
  wait_for 5 listening host tcp "$port"
  local i
  for i in 1 2; do # one process per connection: a second scrape too
    run -0 curl -sS --max-time 5 "http://127.0.0.1:$port/metrics"
    assert_contains "$output" "# TYPE moat_packets_total counter"
    assert_contains "$output" "container=\"$(cid_of a)\""
  done
}
