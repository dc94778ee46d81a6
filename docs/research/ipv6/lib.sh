# helpers: run inside a private net+mount namespace (see run.sh)
set -u
BRMAC=02:00:00:00:01:01
MACA=02:00:00:00:00:0a
MACB=02:00:00:00:00:0b
sec() { echo; echo "=== $*"; }
x() { echo "\$ $*"; "$@" 2>&1; }
na() { ip netns exec v6r-a "$@"; }
nb() { ip netns exec v6r-b "$@"; }
# mkbr [addr_gen_mode]
mkbr() {
  ip link add br0 address $BRMAC type bridge
  [[ -n ${1-} ]] && sysctl -qw net.ipv6.conf.br0.addr_gen_mode=$1
  ip link set br0 up
}
# mkport NAME NS MAC : veth, host end isolated, static fdb, container end configured (not addressed)
mkport() {
  local h=$1 ns=$2 mac=$3
  ip netns add $ns
  ip link add $h type veth peer name eth0 netns $ns
  sysctl -qw net.ipv6.conf.$h.disable_ipv6=1
  ip link set $h master br0
  bridge link set dev $h isolated on learning off flood off
  bridge fdb add $mac dev $h master static
  ip link set $h up
  ip netns exec $ns sh -c "
    sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.eth0.accept_ra=0
    sysctl -qw net.ipv6.conf.eth0.autoconf=0 net.ipv6.conf.default.autoconf=0
    ip link set lo up
    ip link set eth0 address $mac
    ip link set eth0 up"
}
teardown() {
  ip link del va 2>/dev/null; ip link del vb 2>/dev/null; ip link del vc 2>/dev/null
  ip netns del v6r-a 2>/dev/null; ip netns del v6r-b 2>/dev/null; ip netns del v6r-c 2>/dev/null; ip link del vc 2>/dev/null
  ip link del br0 2>/dev/null
  nft delete table inet v6r 2>/dev/null; nft delete table bridge v6r 2>/dev/null
  true
}
fwdcount() {
  nft -f - <<'NFT'
table inet v6r {
  chain forward { type filter hook forward priority 0; policy accept;
    meta nfproto ipv6 ip6 nexthdr ipv6-icmp icmpv6 type echo-request counter
    meta nfproto ipv6 counter
  }
  chain output { type filter hook output priority 0; policy accept;
    icmpv6 type nd-redirect counter
  }
}
NFT
}

# wait until DEV has a link-local address that is not tentative (bounded)
wait_ll() { local i; for i in $(seq 50); do ip -6 addr show dev $1 scope link | grep -q tentative || { ip -6 addr show dev $1 scope link | grep -q inet6 && return 0; }; sleep 0.1; done; echo "# $1: no valid link-local"; }
