. /var/tmp/v6r/lib.sh
common() {
  teardown
  mkbr "${1-}"
  mkport va v6r-a $MACA
  mkport vb v6r-b $MACB
  sysctl -qw net.ipv6.conf.all.forwarding=1
  ip -6 addr add fd00:1::1/64 dev br0 nodad
  fwdcount
  [[ -z ${1-} ]] && wait_ll br0
}
report() {
  x na ping -6 -c2 -i0.3 -W2 fd00:1::3 | grep -E 'bytes from|loss'
  echo "# A's neighbours:"; na ip -6 neigh show dev eth0
  echo "# A's route to B:"; na ip -6 route get fd00:1::3
  echo "# host neighbours on br0:"; ip -6 neigh show dev br0
  echo "# forward/output counters:"; nft list table inet v6r | grep counter
}
sec "Q1.0 baseline: /64 on-link in containers, no proxy NDP"
common
na ip -6 addr add fd00:1::2/64 dev eth0 nodad; na ip -6 route add default via fd00:1::1
nb ip -6 addr add fd00:1::3/64 dev eth0 nodad; nb ip -6 route add default via fd00:1::1
report

sec "Q1.P proxy_ndp on br0 + pneigh entries, /64 on-link in containers"
common
sysctl -qw net.ipv6.conf.br0.proxy_ndp=1 net.ipv6.neigh.br0.proxy_delay=0
x ip -6 neigh add proxy fd00:1::2 dev br0
x ip -6 neigh add proxy fd00:1::3 dev br0
na ip -6 addr add fd00:1::2/64 dev eth0 nodad; na ip -6 route add default via fd00:1::1
nb ip -6 addr add fd00:1::3/64 dev eth0 nodad; nb ip -6 route add default via fd00:1::1
report
echo "# pneigh:"; ip -6 neigh show proxy
echo "# again after the redirect (A accept_redirects=$(na sysctl -n net.ipv6.conf.eth0.accept_redirects)):"
x na ping -6 -c2 -i0.3 -W2 fd00:1::3 | grep -E 'loss'
na ip -6 route get fd00:1::3; na ip -6 neigh show dev eth0

sec "Q1.R /128 address, on-link route to the gateway only, default via gateway"
common
for p in a:2 b:3; do
  ip netns exec v6r-${p%%:*} sh -c "ip -6 addr add fd00:1::${p##*:}/128 dev eth0 nodad
    ip -6 route add fd00:1::1 dev eth0
    ip -6 route add default via fd00:1::1 dev eth0"
done
na ip -6 addr show dev eth0; na ip -6 route show
report
x na ping -6 -c2 -i0.3 -W2 fd00:1::3 | grep -E 'loss'
na ip -6 route get fd00:1::3

sec "Q1.N /64 noprefixroute, on-link route to the gateway, default via gateway"
common
for p in a:2 b:3; do
  ip netns exec v6r-${p%%:*} sh -c "ip -6 addr add fd00:1::${p##*:}/64 dev eth0 nodad noprefixroute
    ip -6 route add fd00:1::1 dev eth0
    ip -6 route add default via fd00:1::1 dev eth0"
done
na ip -6 addr show dev eth0; na ip -6 route show
report

sec "Q1.L bridge link-local gateway fe80::1 (addr_gen_mode=1), /128 in containers, default via fe80::1"
common 1
ip -6 addr add fe80::1/64 dev br0 nodad
for p in a:2 b:3; do
  ip netns exec v6r-${p%%:*} sh -c "ip -6 addr add fd00:1::${p##*:}/128 dev eth0 nodad
    ip -6 route add default via fe80::1 dev eth0"
done
ip -6 addr show dev br0
report
x na ping -6 -c2 -i0.3 -W1 fd00:1::3 | grep -E 'loss'
echo "# same with accept_redirects=0 in the containers:"
na sysctl -qw net.ipv6.conf.eth0.accept_redirects=0; nb sysctl -qw net.ipv6.conf.eth0.accept_redirects=0
na ip -6 route flush cache; na ip -6 neigh flush dev eth0
x na ping -6 -c3 -i0.3 -W1 fd00:1::3 | grep -E 'loss'
na ip -6 route get fd00:1::3
teardown
