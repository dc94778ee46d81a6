#!/usr/bin/env bats
# moat-bats: sandbox
# shellcheck disable=SC2016 # jq programs in single quotes
# moatctl watch over IPv6 (issue 17): refused IPv6 flows of a dual-stack
# network with "log": true, as the kernel logs them (the deny chains' IPv6
# twins: logged6, log_rate6, NFLOG group 6177 with the packet's IPv6
# header), said with explain -6's reason; real IPv6 traffic between plain
# CNI containers. Runs in hack/sandbox: it sets
# net.ipv6.conf.all.forwarding (see bats/ipv6-policy.bats), and the NFLOG
# group is the sandbox's own.

load helpers

GROUP=6177

setup() {
  setup_dual_stack_net
  conf_set '. + {log: true}'
  WATCH_PID=
}
teardown() {
  [[ -z $WATCH_PID ]] || kill "$WATCH_PID" 2>/dev/null || true
  teardown_moat_net
}

ctl() { "$MOAT_BUILD/moatctl" "$@" 2>&1; }

group_bound() { awk -v g="$GROUP" '$1 == g { f = 1 } END { exit !f }' /proc/net/netfilter/nfnetlink_log; }

# start_watch [--json] [ARGS...]: moatctl watch ARGS, its lines in
# $T/watch.out; returns once the NFLOG group is bound.
start_watch() {
  : >"$T/watch.out"
  start_bg host sh -c 'exec "$0" watch "$@" >"'"$T/watch.out"'" 2>"'"$T/watch.err"'"' \
    "$MOAT_BUILD/moatctl" "$@"
  WATCH_PID=$(tail -n 1 "$T/pids")
  wait_for 5 group_bound
}

lines_where() { jq -c "select($1)" "$T/watch.out" | wc -l; }

# wait_line SECONDS JQ_FILTER: polls the (--json) watch lines until one
# matches, at most SECONDS (fractional); prints how long it took (ms).
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

# wait_text SECONDS FIXED_STRING: the same for the text form.
wait_text() {
  local deadline=$((SECONDS + $1 + 1)) start=$EPOCHREALTIME
  until grep -qF -- "$2" "$T/watch.out"; do
    if awk -v a="$start" -v b="$EPOCHREALTIME" -v s="$1" 'BEGIN { exit !(b - a > s) }' || ((SECONDS > deadline)); then
      fail "no watch line with '$2' within $1 s: $(cat "$T/watch.out" "$T/watch.err")"
      return 1
    fi
    sleep 0.02
  done
}

# explain6 SRC DST FLOW: the reason moatctl explain -6 gives.
explain6() { "$MOAT_BUILD/moatctl" --json -6 explain "$1" "$2" "$3" | jq -r .rule; }

udp6_send() { ip netns exec "$1" socat -u - "UDP6:[$2]:$3" <<<x >/dev/null 2>&1 || true; }
tcp6_try() { ip netns exec "$1" timeout 3 socat -u - "TCP6:[$2]:$3,connect-timeout=1" <<<x >/dev/null 2>&1 || true; }
ping6_try() { ip netns exec "$1" ping -6 -c 1 -W 1 "$2" >/dev/null 2>&1 || true; }

@test "ipv6-watch: a refused IPv6 TCP connect, UDP datagram and ICMPv6 echo each appear within 1 s, named by container and IPv6 address, with explain -6's reason" {
  CNI_ARGS_VALUE="K8S_POD_NAME=${PFX}web" add_container a
  add_container b
  local a6 b6 port ms line
  port=$(random_port)
  a6=$(ip6_of a)
  b6=$(ip6_of b)
  [[ -n $a6 && -n $b6 ]] || fail "no IPv6 addresses: a '$a6', b '$b6'"
  start_watch --json

  tcp6_try "$(ns_of a)" "$b6" "$port"
  ms=$(wait_line 1 ".srcAddress == \"$a6\" and .dstAddress == \"$b6\" and .flow == \"tcp/$port\"")
  echo "# tcp6 seen after ${ms} ms" >&3
  udp6_send "$(ns_of a)" "$b6" "$((port + 1))"
  ms=$(wait_line 1 ".srcAddress == \"$a6\" and .flow == \"udp/$((port + 1))\"")
  echo "# udp6 seen after ${ms} ms" >&3
  ping6_try "$(ns_of a)" "$b6"
  ms=$(wait_line 1 ".srcAddress == \"$a6\" and .flow == \"icmpv6\"")
  echo "# icmpv6 echo seen after ${ms} ms" >&3

  line=$(jq -c "select(.flow == \"tcp/$port\")" "$T/watch.out" | head -n 1)
  assert_jq "$line" '.src == $s and .dst == $d and .family == 6' --arg s "${PFX}web" --arg d "$(cid_of b)"
  assert_jq "$line" '.reason == $r' --arg r "$(explain6 "$(cid_of a)" "$(cid_of b)" "tcp/$port")"
  line=$(jq -c "select(.flow == \"udp/$((port + 1))\")" "$T/watch.out" | head -n 1)
  assert_jq "$line" '.reason == $r' --arg r "$(explain6 "$a6" "$b6" "udp/$((port + 1))")"
  line=$(jq -c 'select(.flow == "icmpv6")' "$T/watch.out" | head -n 1)
  assert_jq "$line" '.dstAddress == $d and .family == 6' --arg d "$b6"
  assert_jq "$line" '.reason == $r' --arg r "$(explain6 "$a6" "$b6" icmp)"
  assert_contains "$(jq -r .reason <<<"$line")" "default deny"
  # The kernel's side: the IPv6 twins of logged and log_rate.
  assert_contains "$(nft list set inet moat logged6)" "$a6" "set logged6"
  assert_contains "$(nft list set inet moat log_rate6)" "$a6" "set log_rate6 after a refusal"
  # To an outside IPv6 address (routed out of a veth of the host's): no
  # container there, explain -6's reason.
  ip link add "${PFX}o6" type veth peer name "${PFX}o6p"
  echo "${PFX}o6" >>"$T/links"
  ip link set "${PFX}o6p" up
  ip link set "${PFX}o6" up
  ip -6 route add 2001:db8::/64 dev "${PFX}o6"
  udp6_send "$(ns_of a)" 2001:db8::7 53
  wait_line 1 ".srcAddress == \"$a6\" and .dstAddress == \"2001:db8::7\" and .flow == \"udp/53\"" >/dev/null
  line=$(jq -c 'select(.dstAddress == "2001:db8::7")' "$T/watch.out" | head -n 1)
  assert_jq "$line" '(has("dst") | not) and .family == 6'
  assert_jq "$line" '.reason == $r' --arg r "$(explain6 "$a6" 2001:db8::7 udp/53)"
  assert_not_contains "$(jq -r .reason <<<"$line")" "no explanation"
  # An IPv4 refusal still says family 4.
  ip netns exec "$(ns_of a)" socat -u - "UDP4:$(ip_of b):9" <<<x >/dev/null 2>&1 || true
  wait_line 1 ".srcAddress == \"$(ip_of a)\" and .flow == \"udp/9\" and .family == 4" >/dev/null
}

@test "ipv6-watch CONTAINER: the text form names both ends with their IPv6 addresses; only that container's IPv6 refusals" {
  add_container a
  add_container b
  add_container c
  local a6 b6 c6
  a6=$(ip6_of a)
  b6=$(ip6_of b)
  c6=$(ip6_of c)
  start_watch "$(ip6_of b)" # by its IPv6 address

  udp6_send "$(ns_of a)" "$c6" 7 # neither end is b
  udp6_send "$(ns_of b)" "$a6" 8
  wait_text 1 "refused $(cid_of b | cut -c1-12) ($b6) -> $(cid_of a | cut -c1-12) ($a6) udp/8: "
  run grep -c "($c6)" "$T/watch.out"
  assert_eq "$output" 0 "lines about a -> c: $(cat "$T/watch.out")"
  assert_contains "$(cat "$T/watch.out")" "udp/8: default deny"
  assert_eq "$(cat "$T/watch.err")" "" "watch's stderr"
}

@test "ipv6-watch: an IPv6 flood from one container is logged at about 10/s (log_rate6); another container's allowed IPv6 traffic flows" {
  add_container a
  add_container b
  add_container c
  add_container d
  local b6 c6 d6 port
  port=$(random_port)
  b6=$(ip6_of b)
  c6=$(ip6_of c)
  d6=$(ip6_of d)
  run -0 ctl grant "$(cid_of c)" peer "$(cid_of d)"
  ns_tcp_listen "$(ns_of d)" "$d6" "$port"
  start_watch --json

  cat >"$T/flood.py" <<'EOF'
import socket, sys, time
dst, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
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
  start_bg "$(ns_of a)" python3 "$T/flood.py" "$b6" "$T/flood"
  wait_for 5 test -e "$T/flood.started"
  local i oks=0
  for i in 1 2 3 4 5; do
    if ns_tcp_connect "$(ns_of c)" "$d6" "$port" >/dev/null; then oks=$((oks + 1)); fi
  done
  assert_eq "$oks" 5 "c -> d over IPv6 during the flood"
  wait_for 60 test -s "$T/flood"
  local sent secs lines limit a6
  a6=$(ip6_of a)
  read -r sent secs <"$T/flood"
  # d's refusal, logged after the flood's: once seen, every flood line is.
  udp6_send "$(ns_of d)" "$c6" 9
  wait_line 2 ".srcAddress == \"$d6\" and .flow == \"udp/9\"" >/dev/null
  lines=$(lines_where ".srcAddress == \"$a6\"")
  limit=$(awk -v t="$secs" 'BEGIN { printf "%d", 20 + 10 * (t + 1) + 5 }')
  echo "# IPv6 flood: $sent datagrams in $secs s, $lines lines (bound $limit)" >&3
  ((sent >= 100000)) || fail "the flood sent only $sent"
  ((lines <= limit)) || fail "$lines lines for a $secs s flood, more than $limit"
  ((lines >= 10)) || fail "only $lines lines for a $secs s flood"
}
