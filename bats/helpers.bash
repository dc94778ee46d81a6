# shellcheck shell=bash disable=SC2016 # jq programs in single quotes
# Shared helpers for moat's integration tests (bats, run as root).
#
# Every test gets its own prefix ($PFX, "mx" + 4 hex digits), network name,
# bridge and private /24, and creates its namespaces and links under that
# prefix. teardown_moat_net removes all of it, through the plugin first (DEL)
# and by hand after, even when the test failed.
#
#   setup()    { setup_moat_net; }
#   teardown() { teardown_moat_net; }

bats_require_minimum_version 1.5.0

MOAT_BUILD=${MOAT_BUILD:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)/build}
MOAT=$MOAT_BUILD/moat
export MOAT_RUN_DIR=${MOAT_RUN_DIR:-/run/moat}
CNI_VERSIONS=(0.3.0 0.3.1 0.4.0 1.0.0 1.1.0)
HOST_IPAM_DIR=/usr/lib/cni

# ---------------------------------------------------------------- assertions

fail() {
  printf '%s\n' "$@" >&2
  return 1
}

assert_eq() { # ACTUAL EXPECTED [WHAT]
  [[ $1 == "$2" ]] || fail "${3:-value}: expected '$2', got '$1'"
}

assert_contains() { # HAYSTACK NEEDLE [WHAT]
  [[ $1 == *"$2"* ]] || fail "${3:-text}: expected to contain '$2', got: $1"
}

assert_not_contains() { # HAYSTACK NEEDLE [WHAT]
  [[ $1 != *"$2"* ]] || fail "${3:-text}: expected not to contain '$2', got: $1"
}

assert_match() { # TEXT REGEX [WHAT]
  [[ $1 =~ $2 ]] || fail "${3:-text}: expected to match /$2/, got: $1"
}

# assert_jq JSON FILTER [ARGS...]: FILTER (with jq ARGS) must yield true.
assert_jq() {
  local json=$1 filter=$2
  shift 2
  # jq -e is content with no input at all: demand one JSON value.
  if [[ $(jq -s length 2>/dev/null <<<"$json") != 1 ]]; then
    fail "jq: expected one JSON value for '$filter', got:" "$json"
  fi
  if ! jq -e "$@" "$filter" >/dev/null 2>&1 <<<"$json"; then
    fail "jq: expected '$filter' to be true in:" "$json"
  fi
}

# Asserts that the last `run` failed with a CNI error of code CODE whose
# message contains every further argument.
assert_cni_error() { # CODE [MSG_PART...]
  local code=$1 part
  shift
  [[ $status -ne 0 ]] || fail "expected CNI error $code, got exit 0 with: $output"
  assert_jq "$output" '.code == ($c | tonumber)' --arg c "$code"
  assert_jq "$output" '(.msg | type) == "string" and (.msg | length) > 0'
  assert_jq "$output" '(.cniVersion | type) == "string"'
  for part in "$@"; do
    assert_contains "$(jq -r .msg <<<"$output")" "$part" "error msg"
  done
}

# wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds or the
# deadline passes (then fails, naming the command).
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      fail "timed out waiting for: $*"
      return 1
    fi
    sleep 0.1
  done
}

# ---------------------------------------------------------------- per test

# Picks a /24 in 10.200-249.x.0 that no address or route on the host uses
# and this test has not picked yet; sets PICK_A PICK_B (10.A.B.0/24).
pick_free_24() {
  local a b routes addrs try
  routes=$(ip -4 route show table all)
  addrs=$(ip -4 -o addr show)
  for try in $(seq 200); do
    a=$((200 + RANDOM % 50))
    b=$((RANDOM % 256))
    if [[ $routes != *"10.$a.$b."* && $addrs != *"10.$a.$b."* &&
      " ${TAKEN_24-} " != *" $a.$b "* ]]; then
      TAKEN_24="${TAKEN_24-} $a.$b"
      PICK_A=$a
      PICK_B=$b
      return 0
    fi
  done
  fail "no free /24 in 10.200-249.x.0"
}

# setup_dual_stack_net: setup_moat_net with a random fd../64 as subnet6
# (V6PFX, gateway GW6), after turning IPv6 forwarding on, which moat
# requires and never writes: only in a private namespace (hack/sandbox;
# the files that call this carry "# moat-bats: sandbox").
setup_dual_stack_net() {
  setup_moat_net
  [[ $(readlink /proc/self/ns/net) != "$(readlink /proc/1/ns/net)" ]] ||
    fail "run this file in hack/sandbox: it sets net.ipv6.conf.all.forwarding"
  sysctl -qw net.ipv6.conf.all.forwarding=1
  V6PFX=fd$(printf '%02x' $((RANDOM % 256))):$(printf '%x' $RANDOM):$(printf '%x' $RANDOM):$(printf '%x' $RANDOM)
  GW6=$V6PFX::1
  conf_set '.subnet6 = $s' --arg s "$V6PFX::/64"
  MOAT_CONF_BASE=$MOAT_CONF
}

setup_moat_net() {
  [[ $EUID -eq 0 ]] || fail "the integration tests need root"
  [[ -x $MOAT ]] || fail "plugin not built: $MOAT (run make all)"

  T=$BATS_TEST_TMPDIR
  local f
  for f in attachments netns links pids stderr received netdirs words; do
    : >"$T/$f"
  done
  local links namespaces
  links=$(ip -o link show)
  namespaces=$(ip netns list)
  while :; do
    PFX=mx$(printf %04x "$RANDOM")
    [[ $links != *" $PFX"* && $namespaces != *"$PFX"* ]] && break
  done
  NET=moat-test-$PFX
  BR=${PFX}br
  TAKEN_24=
  pick_free_24
  NETPFX=10.$PICK_A.$PICK_B
  SUBNET=$NETPFX.0/24
  GW=$NETPFX.1
  MOAT_CONF=$(jq -nc --arg name "$NET" --arg br "$BR" --arg sub "$SUBNET" --argjson allow "$ALLOW_ALL" \
    '{cniVersion: "1.1.0", name: $name, type: "moat", bridge: $br, subnet: $sub, allow: $allow}')
  MOAT_CONF_BASE=$MOAT_CONF
}

# The ceiling of the tests' networks: containers may ask for anything, and
# the MOAT_* environment counts (bats/ceiling.bats tests the ceiling itself
# with networks of its own).
ALLOW_ALL='{"internet": true, "allowHost": true, "egress": true, "ingress": true, "proxy": true, "publish": true, "env": true}'


# conf_set JQ_FILTER [JQ ARGS...]: edits the network config of this test.
conf_set() {
  local filter=$1
  shift
  MOAT_CONF=$(jq -c "$@" "$filter" <<<"$MOAT_CONF")
}

# conf_with_prev RESULT: the config with prevResult set (for CHECK and DEL).
conf_with_prev() {
  jq -c --argjson r "$1" '. + {prevResult: $r}' <<<"$MOAT_CONF"
}

# new_netns NAME: creates netns $PFX$NAME (recorded for teardown).
new_netns() {
  ip netns add "$PFX$1"
  echo "$PFX$1" >>"$T/netns"
}

netns_path() { # NAME (or path, or empty)
  if [[ -z $1 || $1 == /* ]]; then
    echo "$1"
  else
    echo "/run/netns/$1"
  fi
}

# cni VERB [CONTAINERID [NETNS [IFNAME]]]: runs the plugin like a runtime
# does. The config comes from $CNI_CONF (else $MOAT_CONF) on stdin; stdout is
# the plugin's stdout, stderr goes to $T/stderr. $CNI_OMIT lists variables
# to leave out of the environment, $CNI_ARGS_VALUE sets CNI_ARGS,
# $CNI_PATH_VALUE overrides CNI_PATH, $MOAT_WRAP is a command line to run
# the plugin under (valgrind). Use it under `run`.
cni() {
  local verb=$1 cid=${2-} netns ifname=${4:-eth0} var
  netns=$(netns_path "${3-}")
  local -a vars=("CNI_COMMAND=$verb" "CNI_PATH=${CNI_PATH_VALUE:-$HOST_IPAM_DIR}")
  case $verb in
  VERSION | GC | STATUS) ;;
  *)
    vars+=("CNI_CONTAINERID=$cid" "CNI_NETNS=$netns" "CNI_IFNAME=$ifname")
    ;;
  esac
  [[ -z ${CNI_ARGS_VALUE-} ]] || vars+=("CNI_ARGS=$CNI_ARGS_VALUE")
  for var in ${CNI_OMIT-}; do
    vars=("${vars[@]/#$var=*/}")
  done
  local -a env_vars=()
  for var in "${vars[@]}"; do
    [[ -z $var ]] || env_vars+=("$var")
  done
  local conf=${CNI_CONF:-$MOAT_CONF} conf_file
  if [[ $verb == ADD ]]; then
    # Remember the attachment and its config, for teardown's DEL.
    conf_file=$T/conf.$(printf '%s' "$conf" | md5sum | cut -c1-12)
    [[ -f $conf_file ]] || printf '%s' "$conf" >"$conf_file"
    printf '%s %s %s %s\n' "$cid" "$ifname" "${netns:--}" "$conf_file" >>"$T/attachments"
  fi
  for var in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
    [[ -z ${!var-} ]] || env_vars+=("$var=${!var}")
  done
  echo "# $verb $cid $netns $ifname" >>"$T/stderr"
  printf '%s' "$conf" |
    env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" "${env_vars[@]}" \
      timeout 60 ${MOAT_WRAP-} "$MOAT" 2>>"$T/stderr"
}

# hook STAGE NAME [ANNOTATIONS_JSON]: runs moat-hook as a runtime does, for
# container NAME (its CNI container id), the annotations in the state on
# stdin; stdout and stderr together. $MOAT_WRAP as for cni. Use under run.
hook() {
  local state
  state=$(jq -nc --arg id "$(cid_of "$2")" --argjson a "${3:-{\}}" \
    '{ociVersion: "1.0.2", id: $id, status: "created", pid: 0, bundle: "", annotations: $a}')
  printf '%s' "$state" |
    env -i PATH="$PATH" MOAT_RUN_DIR="$MOAT_RUN_DIR" timeout 60 ${MOAT_WRAP-} \
      "$MOAT_BUILD/moat-hook" "$1" 2>&1
}

# add_container NAME [IFNAME]: new netns $PFX$NAME, ADD of container
# "$PFX-NAME" into it; the result is kept for ip_of/hostif_of/result_of.
add_container() {
  local name=$1 ifname=${2:-eth0}
  new_netns "$name"
  run -0 cni ADD "$PFX-$name" "$PFX$name" "$ifname"
  printf '%s\n' "$output" >"$T/result.$name"
  assert_jq "$output" '(.ips[0].address | type) == "string" and (.interfaces | length) == 3'
}

result_of() { cat "$T/result.$1"; }
cid_of() { echo "$PFX-$1"; }
ns_of() { echo "$PFX$1"; }
# Fields of a kept ADD result; each fails when the field is missing.
result_field() { jq -er "$2" "$T/result.$1" || fail "result of $1 has no $2"; }
ip_of() { result_field "$1" '.ips[0].address | split("/")[0]'; }
# ip6_of NAME: its IPv6 address from the ADD's result (dual stack).
ip6_of() { result_field "$1" '.ips[] | select(.address | contains(":")) | .address | split("/")[0]'; }
cidr_of() { result_field "$1" '.ips[0].address'; }
hostif_of() { result_field "$1" '.interfaces[1].name'; }
mac_of() { result_field "$1" '.interfaces[2].mac'; }
record_of() { echo "$MOAT_RUN_DIR/$NET/$PFX-$1@${2:-eth0}.json"; }

# del_container NAME: DEL with the config it was added with.
del_container() {
  CNI_CONF=$(conf_with_prev "$(result_of "$1")") run -0 cni DEL "$(cid_of "$1")" "$(ns_of "$1")"
  assert_eq "$output" "" "DEL output"
}

link_exists() { ip link show dev "$1" >/dev/null 2>&1; }
link_gone() { ! ip link show dev "$1" >/dev/null 2>&1; }

# bridge_left_empty BRIDGE: what a network's last DEL leaves of its bridge
# (docs/design.md, "What the last container leaves"): the bridge with no
# port, or none (a failed first ADD removes it; so does moatctl teardown).
bridge_left_empty() { link_gone "$1" || [[ -z $(bridge_ports "$1") ]]; }

# Names of the bridge's ports, one a line.
bridge_ports() {
  ip -o link show master "$1" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'
}

# Host links named like moat's host ends (mt + 13 hex digits), sorted.
moat_links() {
  ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
    grep -E '^mt[0-9a-f]{13}$' | sort || true
}

# new_moat_links BEFORE: moat host links that were not in BEFORE (a
# moat_links list). Links others remove meanwhile do not matter.
new_moat_links() {
  comm -13 <(printf '%s\n' "$1" | sed '/^$/d') <(moat_links)
}

# The records of this test's network, one path a line.
network_records() {
  find "$MOAT_RUN_DIR/$NET" -maxdepth 1 -name '*.json' 2>/dev/null || true
}

# Records of every network under the run dir.
all_records() {
  find "$MOAT_RUN_DIR" -mindepth 2 -maxdepth 2 -name '*.json' 2>/dev/null || true
}

table_exists() { nft list table "$1" moat >/dev/null 2>&1; }

# tables_in_use: moat's sets hold a bridge or a guarded port (some
# container, of any state directory, is attached).
tables_in_use() { [[ -n $(nft_elems inet bridges)$(nft_elems bridge guarded) ]]; }

# nft_elems FAMILY SET: the set's elements, one a line, as nft writes them
# (concatenations joined by " . ", strings unquoted). Empty when the table
# or the set does not exist.
nft_elems() {
  local json
  json=$(nft -j list set "$1" moat "$2" 2>/dev/null) || return 0
  jq -r '
    def norm: if type == "object" and has("concat") then .concat | map(norm) | join(" . ")
              elif type == "object" and has("elem") then .elem.val | norm
              elif type == "object" and has("prefix") then "\(.prefix.addr)/\(.prefix.len)"
              elif type == "object" and has("range") then .range | map(norm) | join("-")
              else tostring end;
    .nftables[] | select(.set) | .set.elem // [] | .[] | norm' <<<"$json"
}

nft_has() { # FAMILY SET ELEMENT
  local elems
  [[ -n $3 && $3 != *" . " && $3 != " . "* && $3 != *" .  . "* ]] ||
    fail "nft_has: incomplete element '$3'"
  elems=$(nft_elems "$1" "$2")
  grep -qxF -- "$3" <<<"$elems"
}

# Elements of every moat set that contain one of the given tokens (a
# whole ifname, address or MAC; a token ending in "." matches an address
# prefix), as "family set element" lines.
nft_elems_matching() {
  local fam set e word
  for fam in inet bridge; do
    for set in $(nft -j list sets "$fam" 2>/dev/null |
      jq -r '.nftables[] | select(.set and .set.table == "moat") | .set.name'); do
      while IFS= read -r e; do
        [[ -n $e ]] || continue
        for word in "$@"; do
          [[ -n $word ]] || continue
          if [[ $word == *. && " $e " == *" $word"* ]] || [[ " $e " == *" $word "* ]]; then
            echo "$fam $set $e"
            break
          fi
        done
      done < <(nft_elems "$fam" "$set")
    done
  done
}

# Elements that mention this test's subnet, bridge or the given names.
nft_elems_of_test() { nft_elems_matching "$NETPFX." "$BR" "$@"; }

# nft_elems_of_test without the bridges' own elements (`inet bridges`),
# which a network's last DEL keeps with its bridge.
nft_elems_left_of_test() { nft_elems_of_test "$@" | grep -v '^inet bridges ' || true; }

# Elements that mention container NAME's address, host end or MAC.
nft_elems_of() { nft_elems_matching "$(ip_of "$1")" "$(hostif_of "$1")" "$(mac_of "$1")"; }

# Deletes one element given as nft_elems prints it.
nft_delete_elem() { # FAMILY SET ELEMENT
  local part out=() IFS=' '
  for part in ${3// . / }; do
    if [[ $part =~ ^[0-9./-]+$ || $part =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ||
      $part =~ ^(tcp|udp|icmp|sctp|udplite|dccp|ipv6-icmp)$ ]]; then
      out+=("$part")
    else
      out+=("\"$part\"")
    fi
  done
  local joined
  joined=$(printf ' . %s' "${out[@]}")
  nft delete element "$1" moat "$2" "{ ${joined:3} }"
}

# assert_nothing_left LINKS_BEFORE [NETNS...]: the test's network left
# nothing in the kernel or the state but what a last DEL keeps for the next
# container (its bridge with no port, and that bridge's element): no port,
# no record, no element, no moat host link that was not in LINKS_BEFORE (a
# moat_links list), no link but lo in the given namespaces.
assert_nothing_left() {
  local before=$1 ns elems
  shift
  bridge_left_empty "$BR" || fail "bridge $BR left with ports: $(bridge_ports "$BR")"
  assert_eq "$(network_records)" "" "records left in $MOAT_RUN_DIR/$NET"
  elems=$(nft_elems_left_of_test)
  assert_eq "$elems" "" "nft elements left"
  assert_eq "$(new_moat_links "$before")" "" "new moat host links"
  for ns in "$@"; do
    assert_eq "$(ip -n "$ns" -o link show | grep -cv ': lo:' || true)" 0 "links in netns $ns"
  done
}

# ---------------------------------------------------------------- traffic

# ns_run NS CMD...: runs CMD in netns NS ("host": in the host's).
ns_run() {
  local ns=$1
  shift
  if [[ $ns == host ]]; then
    "$@"
  else
    ip netns exec "$ns" "$@"
  fi
}

serve_script() {
  if [[ ! -x $T/serve.sh ]]; then
    cat >"$T/serve.sh" <<EOF
#!/bin/sh
read -r line
echo "\$line" >>"$T/received"
echo "\$line \$SOCAT_PEERADDR" >>"$T/peers"
echo "reply \$line"
EOF
    chmod +x "$T/serve.sh"
  fi
  echo "$T/serve.sh"
}

# start_bg NS CMD...: starts CMD in netns NS in the background, all fds
# closed so bats does not wait for it. Its pid (CMD's own: ip netns exec
# execs it) is recorded for teardown.
start_bg() {
  local ns=$1
  shift
  [[ $ns == host ]] || set -- ip netns exec "$ns" "$@"
  (exec "$@" </dev/null >/dev/null 2>&1 3>&-) &
  echo $! >>"$T/pids"
}

alive() { kill -0 "$1" 2>/dev/null; }

listening() { # NS tcp|udp PORT
  local out
  out=$(ns_run "$1" ss -Hln --"$2" "sport = :$3")
  [[ -n $out ]]
}

# socat's family (4 or 6) and host syntax ([addr] for IPv6) of an address.
sock_family() { if [[ $1 == *:* ]]; then echo 6; else echo 4; fi; }
sock_host() { if [[ $1 == *:* ]]; then echo "[$1]"; else echo "$1"; fi; }

# ns_tcp_listen NS IP PORT: a TCP server on IP:PORT in NS that logs the line
# it receives to $T/received and answers "reply <line>".
ns_tcp_listen() {
  local script
  script=$(serve_script)
  start_bg "$1" socat "TCP$(sock_family "$2")-LISTEN:$3,bind=$(sock_host "$2"),reuseaddr,fork" "EXEC:$script"
  wait_for 5 listening "$1" tcp "$3"
}

# ns_udp_listen NS IP PORT: the same over UDP (one reply per datagram).
ns_udp_listen() {
  local script
  script=$(serve_script)
  start_bg "$1" socat "UDP$(sock_family "$2")-RECVFROM:$3,bind=$(sock_host "$2"),fork" "EXEC:$script"
  wait_for 5 listening "$1" udp "$3"
}

# Classifies a socat client's outcome: ok (the reply carried the token),
# refused (RST or port unreachable), unreachable (ICMP host/admin
# unreachable; ICMPv6 administratively prohibited reads EACCES), timeout
# (nothing came back), or other: <message>.
classify() { # OUTPUT RC TOKEN
  if [[ $1 == *"reply $3"* ]]; then
    echo ok
  elif [[ $1 == *"Connection refused"* ]]; then
    echo refused
  elif [[ $1 == *"No route to host"* || $1 == *"unreachable"* || $1 == *"Permission denied"* ]]; then
    echo unreachable
  elif [[ $1 == *"timed out"* || -z $1 || $2 -eq 124 ]]; then
    echo timeout
  else
    echo "other: $1"
  fi
}

# ns_tcp_connect FROM_NS IP PORT: connects, sends a token, prints the
# outcome (see classify); succeeds only when the reply came back. TCP waits
# at most 1 s for the handshake. $PROBE_TOKEN names the token.
ns_tcp_connect() {
  local token=${PROBE_TOKEN:-tcp-$RANDOM$RANDOM} out rc=0
  out=$(printf '%s\n' "$token" |
    ns_run "$1" timeout 5 socat -t1 -T2 - "TCP$(sock_family "$2"):$(sock_host "$2"):$3,connect-timeout=1" 2>&1) || rc=$?
  out=$(classify "$out" "$rc" "$token")
  echo "$out"
  [[ $out == ok ]]
}

# ns_udp_connect FROM_NS IP PORT: sends one datagram carrying a token and
# waits 1 s for the reply; prints the outcome like ns_tcp_connect.
ns_udp_connect() {
  local token=${PROBE_TOKEN:-udp-$RANDOM$RANDOM} out rc=0
  out=$(printf '%s\n' "$token" |
    ns_run "$1" timeout 5 socat -t1 -T2 - "UDP$(sock_family "$2"):$(sock_host "$2"):$3" 2>&1) || rc=$?
  out=$(classify "$out" "$rc" "$token")
  echo "$out"
  [[ $out == ok ]]
}

received() { grep -cxF -- "$1" "$T/received" || true; }
# The address the server saw for probe TOKEN.
peer_of() { awk -v t="$1" '$1 == t { print $2 }' "$T/peers" 2>/dev/null; }

# A port no test on this machine is likely to use at the same time.
random_port() { echo $((20000 + RANDOM % 12000)); }

# setup_outside [HOST_NS]: a namespace "outside" routed through the host
# (or through HOST_NS, a namespace standing in for it): netns $PFX"out"
# linked to the host by veth ${PFX}oh (host, 10.A.B.1/30, forwarding on that
# interface only) / eth0 (10.A.B.2/30, default route via the host). Sets
# OUT_NS, OUT_IP, OUT_HOST_IP.
setup_outside() {
  local hns=${1-}
  local -a on_host=(ip) in_host=()
  if [[ -n $hns ]]; then
    on_host=(ip -n "$hns")
    in_host=(ip netns exec "$hns")
  fi
  pick_free_24
  OUT_NS=${PFX}out
  OUT_HOST_IP=10.$PICK_A.$PICK_B.1
  OUT_IP=10.$PICK_A.$PICK_B.2
  new_netns out
  ip -n "$OUT_NS" link set lo up
  "${on_host[@]}" link add "${PFX}oh" type veth peer name "${PFX}op"
  [[ -n $hns ]] || echo "${PFX}oh" >>"$T/links"
  "${on_host[@]}" link set "${PFX}op" netns "$OUT_NS"
  ip -n "$OUT_NS" link set "${PFX}op" name eth0
  "${on_host[@]}" addr add "$OUT_HOST_IP/30" dev "${PFX}oh"
  "${on_host[@]}" link set "${PFX}oh" up
  "${in_host[@]}" sh -c "echo 1 >/proc/sys/net/ipv4/conf/${PFX}oh/forwarding"
  ip -n "$OUT_NS" addr add "$OUT_IP/30" dev eth0
  ip -n "$OUT_NS" link set eth0 up
  ip -n "$OUT_NS" route add default via "$OUT_HOST_IP"
}

# setup_outside6: setup_outside, plus IPv6 on its link: a random fd../64,
# the host's end OUT6_HOST_IP (::1), the outside's OUT6_IP (::2), its
# default route via the host; neighbour discovery done before the probes.
setup_outside6() {
  setup_outside
  local pfx
  pfx=fd$(printf '%02x' $((RANDOM % 256))):$(printf '%x' $RANDOM):$(printf '%x' $RANDOM):$(printf '%x' $RANDOM)
  OUT6_HOST_IP=$pfx::1
  OUT6_IP=$pfx::2
  ip addr add "$OUT6_HOST_IP/64" dev "${PFX}oh" nodad
  ip -n "$OUT_NS" addr add "$OUT6_IP/64" dev eth0 nodad
  ip -n "$OUT_NS" -6 route add default via "$OUT6_HOST_IP"
  wait_for 5 ping -6 -c1 -W1 "$OUT6_IP"
}

# second_network: another moat network for this test: NET2, BR2, NETPFX2,
# GW2 and its config MOAT_CONF2 (registered for teardown).
second_network() {
  pick_free_24
  NET2=moat-test-${PFX}b
  BR2=${PFX}br2
  NETPFX2=10.$PICK_A.$PICK_B
  GW2=$NETPFX2.1
  MOAT_CONF2=$(jq -nc --arg name "$NET2" --arg br "$BR2" --arg sub "$NETPFX2.0/24" --argjson allow "$ALLOW_ALL" \
    '{cniVersion: "1.1.0", name: $name, type: "moat", bridge: $br, subnet: $sub, allow: $allow}')
  echo "$BR2" >>"$T/links"
  echo "$NET2" >>"$T/netdirs"
  printf '%s\n' "$NETPFX2." "$BR2" >>"$T/words"
}

# ---------------------------------------------------------------- teardown

teardown_moat_net() {
  [[ -n ${PFX-} ]] || return 0
  local pid cid ifname netns e fam set hostifs=() f ns link

  while read -r pid; do
    [[ -z $pid ]] || kill "$pid" 2>/dev/null || true
  done <"$T/pids"
  while read -r pid; do
    [[ -z $pid ]] || ! alive "$pid" || wait_for 5 eval "! alive $pid" ||
      echo "# teardown: process $pid still running" >&2
  done <"$T/pids"

  # Host ends named in results and records, for the element purge below.
  for f in "$T"/result.* "$MOAT_RUN_DIR/$NET"/*.json $(sed "s|^|$MOAT_RUN_DIR/|; s|\$|/*.json|" "$T/netdirs"); do
    [[ -f $f ]] || continue
    hostifs+=("$(jq -r '.interfaces[1].name // .hostIf // empty' "$f" 2>/dev/null)")
  done

  # DEL every attachment the test added, through the plugin, with the
  # config it was added with (else the test's first config).
  local conf_file del_conf
  sort -u "$T/attachments" | while read -r cid ifname netns conf_file; do
    [[ -n $cid ]] || continue
    [[ $netns != - ]] || netns=
    del_conf=$(jq -c 'del(.prevResult)' "$conf_file" 2>/dev/null) ||
      del_conf=$MOAT_CONF_BASE
    CNI_CONF=$del_conf cni DEL "$cid" "$netns" "$ifname" >/dev/null ||
      CNI_CONF=$MOAT_CONF_BASE cni DEL "$cid" "$netns" "$ifname" >/dev/null ||
      echo "# teardown: DEL $cid $ifname failed" >&2
  done

  while read -r ns; do
    [[ -z $ns ]] || ip netns del "$ns" 2>/dev/null || true
  done <"$T/netns"
  while read -r link; do
    [[ -z $link ]] || ip link del "$link" 2>/dev/null || true
  done <"$T/links"
  for link in "$BR" "${hostifs[@]}"; do
    [[ -z $link ]] || ip link del "$link" 2>/dev/null || true
  done

  local -a words
  mapfile -t words <"$T/words"
  while read -r fam set e; do
    [[ -z $fam ]] || nft_delete_elem "$fam" "$set" "$e" 2>/dev/null ||
      echo "# teardown: cannot delete $fam $set { $e }" >&2
  done < <(nft_elems_of_test "${hostifs[@]}" "${words[@]}")

  # The plugin keeps a network's lock file for good (removing it could let
  # two holders in); the test made it, so the test removes it.
  rm -rf "${MOAT_RUN_DIR:?}/$NET" "${MOAT_RUN_DIR:?}/$NET.lock"
  while read -r f; do
    [[ -z $f ]] || rm -rf "${MOAT_RUN_DIR:?}/$f" "${MOAT_RUN_DIR:?}/$f.lock"
  done <"$T/netdirs"
  # Another state directory's containers (a concurrent run) may use them.
  if [[ -z $(all_records) ]] && ! tables_in_use; then
    nft delete table inet moat 2>/dev/null || true
    nft delete table bridge moat 2>/dev/null || true
  fi

  if [[ -s $T/stderr ]]; then
    echo "# plugin stderr:" >&2
    sed 's/^/#   /' "$T/stderr" >&2
  fi
  return 0
}
