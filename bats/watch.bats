#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2034,SC2030,SC2031,SC2153 # jq and awk programs in single quotes; MOAT_WRAP is read by helpers; bats subshells; MOAT_CONF2 from second_network
# moatctl watch: refused flows of a network with "log": true, as the
# kernel logs them (NFLOG group 6177, 10/s burst 20 per refused
# container), said with explain's reason; real traffic between plain CNI
# containers. Everything happens in a private "host" namespace ($H): the
# bridge, moat's tables and the NFLOG group are its own, so a watch
# running on the machine is not disturbed (nor disturbs the test).

load helpers

GROUP=6177

setup() {
  export MOAT_RUN_DIR=$BATS_TEST_TMPDIR/run
  setup_moat_net
  new_netns host
  H=$(ns_of host)
  ip -n "$H" link set lo up
  MOAT_WRAP="nsenter --net=/run/netns/$H"
  conf_set '. + {log: true}'
  WATCH_PID=
}
teardown() {
  [[ -z $WATCH_PID ]] || kill "$WATCH_PID" 2>/dev/null || true
  teardown_moat_net
}

ctl() {
  env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" nsenter --net="/run/netns/$H" \
    "$MOAT_BUILD/moatctl" "$@" 2>&1
}

group_bound() { ip netns exec "$H" awk -v g="$GROUP" '$1 == g { f = 1 } END { exit !f }' /proc/net/netfilter/nfnetlink_log; }

# start_watch [ARGS...]: moatctl watch --json ARGS in $H, its lines in
# $T/watch.out; returns once the NFLOG group is bound.
start_watch() {
  : >"$T/watch.out"
  start_bg host env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" nsenter --net="/run/netns/$H" \
    sh -c 'exec "$0" watch --json "$@" >"'"$T/watch.out"'" 2>"'"$T/watch.err"'"' \
    "$MOAT_BUILD/moatctl" "$@"
  WATCH_PID=$(tail -n 1 "$T/pids")
  wait_for 5 group_bound
}

# lines_where JQ_FILTER: how many watch lines match.
lines_where() { jq -c "select($1)" "$T/watch.out" | wc -l; }

# wait_line SECONDS JQ_FILTER: polls the watch lines until one matches,
# at most SECONDS (fractional); prints how long it took (ms).
wait_line() {
  local start=$EPOCHREALTIME now
  while :; do
    if (($(lines_where "$2") > 0)); then
      now=$EPOCHREALTIME
      awk -v a="$start" -v b="$now" 'BEGIN { printf "%d\n", (b - a) * 1000 }'
      return 0
    fi
    now=$EPOCHREALTIME
    if awk -v a="$start" -v b="$now" -v s="$1" 'BEGIN { exit !(b - a > s) }'; then
      fail "no watch line matching $2 within $1 s: $(cat "$T/watch.out" "$T/watch.err")"
      return 1
    fi
    sleep 0.02
  done
}

# explain_of SRC_IP DST_IP FLOW: the reason moatctl explain gives.
explain_of() { ctl --json explain "$1" "$2" "$3" | jq -r .rule; }

# A UDP datagram and a TCP connect from netns NS; the outcome is not asked.
udp_send() { ip netns exec "$1" socat -u - "UDP4:$2:$3" <<<x >/dev/null 2>&1 || true; }
tcp_try() { ip netns exec "$1" timeout 3 socat -u - "TCP4:$2:$3,connect-timeout=1" <<<x >/dev/null 2>&1 || true; }

@test "watch: a refused TCP connect, UDP datagram and ping each appear within 1 s, named, with explain's reason" {
  CNI_ARGS_VALUE="K8S_POD_NAME=${PFX}web" add_container a
  add_container b
  local a b port=$((20000 + RANDOM % 10000)) ms
  a=$(ip_of a)
  b=$(ip_of b)
  start_watch

  tcp_try "$(ns_of a)" "$b" "$port"
  ms=$(wait_line 1 ".srcAddress == \"$a\" and .dstAddress == \"$b\" and .flow == \"tcp/$port\"")
  echo "# tcp seen after ${ms} ms" >&3
  udp_send "$(ns_of a)" "$b" "$((port + 1))"
  ms=$(wait_line 1 ".srcAddress == \"$a\" and .flow == \"udp/$((port + 1))\"")
  echo "# udp seen after ${ms} ms" >&3
  ip netns exec "$(ns_of a)" ping -c 1 -W 1 "$b" >/dev/null 2>&1 || true
  ms=$(wait_line 1 ".srcAddress == \"$a\" and .flow == \"icmp\"")
  echo "# ping seen after ${ms} ms" >&3

  local line
  line=$(jq -c "select(.flow == \"tcp/$port\")" "$T/watch.out" | head -n 1)
  assert_jq "$line" '.src == $s and .dst == $d' --arg s "${PFX}web" --arg d "$(cid_of b)"
  assert_jq "$line" '.reason == $r' --arg r "$(explain_of "$a" "$b" "tcp/$port")"
  line=$(jq -c 'select(.flow == "icmp")' "$T/watch.out" | head -n 1)
  assert_jq "$line" '.reason == $r' --arg r "$(explain_of "$a" "$b" icmp)"
  assert_contains "$(jq -r .reason <<<"$line")" "default deny"
}

@test "watch: an allowed flow and a container whose network does not log never appear" {
  add_container a
  add_container c
  second_network
  CNI_CONF=$MOAT_CONF2 add_container x
  local a c x port=$((20000 + RANDOM % 10000))
  a=$(ip_of a)
  c=$(ip_of c)
  x=$(ip_of x)
  run -0 ctl grant "$(cid_of a)" peer "$(cid_of c)"
  ns_tcp_listen "$(ns_of c)" "$c" "$port"
  start_watch

  run ns_tcp_connect "$(ns_of a)" "$c" "$port"
  assert_eq "$output" ok "a -> c, granted"
  tcp_try "$(ns_of x)" "$GW2" "$port" # refused (x may not reach the host), not logged
  udp_send "$(ns_of x)" "$a" "$port"  # refused, x is not logged, a is not the refuser
  # A refusal logged after them: once it is there, they would have been.
  udp_send "$(ns_of a)" "$GW" 9
  wait_line 1 ".srcAddress == \"$a\" and .flow == \"udp/9\"" >/dev/null
  assert_eq "$(lines_where ".dstAddress == \"$c\" and .flow == \"tcp/$port\"")" 0 "lines of the allowed flow"
  assert_eq "$(lines_where ".srcAddress == \"$x\" or .dstAddress == \"$x\"")" 0 "lines about x"
  local logged
  logged=$(ip netns exec "$H" nft list set inet moat logged)
  assert_contains "$logged" "$a" "set logged"
  assert_not_contains "$logged" "$x" "set logged"
}

@test "watch CONTAINER: only that container's refusals; a second watch is refused; SIGINT ends it cleanly" {
  add_container a
  add_container b
  add_container c
  local a b
  a=$(ip_of a)
  b=$(ip_of b)
  start_watch "$(cid_of b)"

  run ctl watch
  [[ $status -eq 2 ]] || fail "second watch: exit $status: $output"
  assert_contains "$output" "NFLOG group $GROUP: another listener has it"
  assert_eq "$(wc -l <<<"$output")" 1 "lines of the error"

  udp_send "$(ns_of a)" "$(ip_of c)" 7 # a's, not b's
  udp_send "$(ns_of b)" "$a" 8
  wait_line 1 ".srcAddress == \"$b\" and .flow == \"udp/8\"" >/dev/null
  assert_eq "$(lines_where ".srcAddress == \"$a\"")" 0 "lines of a's refusal"

  # It works confined, as every moatctl command does.
  assert_match "$(grep '^Seccomp:' "/proc/$WATCH_PID/status")" 'Seccomp:[[:space:]]+2' "watch's seccomp mode"
  local rc=0
  kill -INT "$WATCH_PID"
  wait_for 2 eval "! alive $WATCH_PID"
  wait "$WATCH_PID" || rc=$?
  assert_eq "$rc" 0 "watch's exit status after SIGINT"
  ! group_bound || fail "group $GROUP still bound after SIGINT"
  assert_eq "$(cat "$T/watch.err")" "" "watch's stderr"
  WATCH_PID=
}

@test "watch: a flood from one container is logged at about 10/s; another container's allowed traffic flows" {
  add_container a
  add_container b
  add_container c
  add_container d
  local a b c d port=$((20000 + RANDOM % 10000))
  a=$(ip_of a)
  b=$(ip_of b)
  c=$(ip_of c)
  d=$(ip_of d)
  run -0 ctl grant "$(cid_of c)" peer "$(cid_of d)"
  ns_tcp_listen "$(ns_of d)" "$d" "$port"
  start_watch

  # At least 100k refused datagrams, and at least 3 s of them.
  cat >"$T/flood.py" <<'EOF'
import socket, sys, time
dst, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
open(out + '.started', 'w').close()
n, t0 = 0, time.monotonic()
while n < 100000 or time.monotonic() - t0 < 3:
    for _ in range(1000):
        try:
            s.sendto(b'x', (dst, 9))
            n += 1
        except OSError:
            pass
t = time.monotonic() - t0
open(out, 'w').write('%d %.3f\n' % (n, t))
EOF
  local i oks=0 t0 t1 quiet_ms
  t0=$EPOCHREALTIME
  for i in 1 2 3 4 5; do
    ns_tcp_connect "$(ns_of c)" "$d" "$port" >/dev/null || fail "c -> d before the flood"
  done
  t1=$EPOCHREALTIME
  quiet_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
  start_bg "$(ns_of a)" python3 "$T/flood.py" "$b" "$T/flood"
  wait_for 5 test -e "$T/flood.started"
  t0=$EPOCHREALTIME
  for i in 1 2 3 4 5; do
    if ns_tcp_connect "$(ns_of c)" "$d" "$port" >/dev/null; then oks=$((oks + 1)); fi
  done
  t1=$EPOCHREALTIME
  assert_eq "$oks" 5 "c -> d connections during the flood"
  wait_for 60 test -s "$T/flood"
  local sent secs lines limit
  read -r sent secs <"$T/flood"
  # d's refusal, logged after the flood's: once seen, every flood line is.
  udp_send "$(ns_of d)" "$c" 9
  wait_line 2 ".srcAddress == \"$d\" and .flow == \"udp/9\"" >/dev/null
  lines=$(lines_where ".srcAddress == \"$a\"")
  limit=$(awk -v t="$secs" 'BEGIN { printf "%d", 20 + 10 * (t + 1) + 5 }')
  echo "# flood: $sent datagrams in $secs s, $lines lines (bound $limit);" \
    "5 connections c -> d in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }') ms" \
    "(before it: $quiet_ms ms)" >&3
  ((sent >= 100000)) || fail "the flood sent only $sent"
  ((lines <= limit)) || fail "$lines lines for a $secs s flood, more than $limit"
  ((lines >= 10)) || fail "only $lines lines for a $secs s flood"
}

@test "watch: check leaves log_rate's limiters alone, finds a missing logged element; restore brings it back, logged again" {
  add_container a
  add_container b
  local a b
  a=$(ip_of a)
  b=$(ip_of b)
  start_watch
  udp_send "$(ns_of a)" "$b" 7
  wait_line 1 ".srcAddress == \"$a\" and .flow == \"udp/7\"" >/dev/null
  assert_contains "$(ip netns exec "$H" nft list set inet moat log_rate)" "$a" "log_rate after a refusal"
  run -0 ctl check
  assert_contains "$output" "ok: the kernel holds what the records say"

  ip netns exec "$H" nft delete element inet moat logged "{ $a }"
  run -1 ctl check
  assert_contains "$output" "missing: logged: $a"
  udp_send "$(ns_of a)" "$b" 8
  udp_send "$(ns_of b)" "$a" 9 # marker: b is still logged
  wait_line 1 ".srcAddress == \"$b\" and .flow == \"udp/9\"" >/dev/null
  assert_eq "$(lines_where '.flow == "udp/8"')" 0 "lines of a's refusal while a is not in logged"

  run -0 ctl restore
  run -0 ctl check
  udp_send "$(ns_of a)" "$b" 10
  wait_line 1 ".srcAddress == \"$a\" and .flow == \"udp/10\"" >/dev/null

  # a's DEL takes its limiter (the address's next holder starts afresh).
  del_container a
  assert_not_contains "$(ip netns exec "$H" nft list set inet moat log_rate)" "$a" "log_rate after a's DEL"

  local rc=0
  kill -TERM "$WATCH_PID"
  wait_for 2 eval "! alive $WATCH_PID"
  wait "$WATCH_PID" || rc=$?
  assert_eq "$rc" 0 "watch's exit status after SIGTERM"
  WATCH_PID=
}

@test "moatctl log CONTAINER on|off: one container's refusals logged on a network without log, then not; check agrees" {
  MOAT_CONF=$MOAT_CONF_BASE
  add_container a
  add_container b
  local a b logged
  a=$(ip_of a)
  b=$(ip_of b)
  start_watch
  udp_send "$(ns_of a)" "$b" 7
  run -0 ctl log "$(cid_of b)" on # a marker: b's refusals are logged now
  udp_send "$(ns_of b)" "$a" 8
  wait_line 1 ".srcAddress == \"$b\" and .flow == \"udp/8\"" >/dev/null
  assert_eq "$(lines_where '.flow == "udp/7"')" 0 "lines of a's refusal before log on"

  run -0 ctl log "$(cid_of a)" on
  assert_eq "$output" "" "log on's output"
  run -0 ctl check
  udp_send "$(ns_of a)" "$b" 9
  wait_line 1 ".srcAddress == \"$a\" and .flow == \"udp/9\"" >/dev/null
  assert_jq "$(cat "$(record_of a)")" '.log == true'
  run -0 ctl show "$(cid_of a)"
  assert_contains "$output" "refusals:  logged (moatctl watch)"
  run -0 ctl --json show "$(cid_of a)"
  assert_jq "$output" '.containers[0].log == true'

  run -0 ctl log "$(cid_of a)" off
  run -0 ctl check
  run -0 ctl show "$(cid_of a)"
  assert_contains "$output" "refusals:  not logged"
  logged=$(ip netns exec "$H" nft list set inet moat logged)
  assert_not_contains "$logged" "$a" "set logged after log off"
  udp_send "$(ns_of a)" "$b" 10
  udp_send "$(ns_of b)" "$a" 11
  wait_line 1 ".srcAddress == \"$b\" and .flow == \"udp/11\"" >/dev/null
  assert_eq "$(lines_where '.flow == "udp/10"')" 0 "lines of a's refusal after log off"

  run -1 ctl log "${PFX}-nosuch" on
  assert_contains "$output" "no container"
  run -2 ctl log "$(cid_of a)" maybe
  assert_contains "$output" "log: want CONTAINER on|off"

  # b's DEL takes its logged element.
  del_container b
  logged=$(ip netns exec "$H" nft list set inet moat logged)
  assert_not_contains "$logged" "$b" "set logged after b's DEL"
}
