. /var/tmp/v6r/lib.sh
setup_r() { # model R containers, all.forwarding as $1
  teardown
  mkbr
  mkport va v6r-a $MACA
  mkport vb v6r-b $MACB
  sysctl -qw net.ipv6.conf.all.forwarding=$1
  ip -6 addr add fd00:1::1/64 dev br0 nodad
  fwdcount
  wait_ll br0
  for p in a:2 b:3; do
    ip netns exec v6r-${p%%:*} sh -c "ip -6 addr add fd00:1::${p##*:}/128 dev eth0 nodad
      ip -6 route add fd00:1::1 dev eth0
      ip -6 route add default via fd00:1::1 dev eth0"
  done
}
sec "Q2.a all.forwarding=0, br0.forwarding=1 (per-interface only)"
setup_r 0
x sysctl -w net.ipv6.conf.br0.forwarding=1
sysctl net.ipv6.conf.all.forwarding net.ipv6.conf.br0.forwarding
x na ping -6 -c2 -i0.3 -W1 fd00:1::3 | grep -E 'loss|rom'
nft list table inet v6r | grep 'echo-request counter'
echo "# Ip6OutNoRoutes/InAddrErrors/InDiscards in the host ns:"; grep -E 'Ip6(InAddrErrors|OutNoRoutes|InDiscards|OutForwDatagrams) ' /proc/net/snmp6
if [[ -e /proc/sys/net/ipv6/conf/br0/force_forwarding ]]; then
  sec "Q2.b all.forwarding=0, br0.force_forwarding=1"
  x sysctl -w net.ipv6.conf.br0.force_forwarding=1
  x na ping -6 -c2 -i0.3 -W1 fd00:1::3 | grep -E 'loss|rom'
  nft list table inet v6r | grep 'echo-request counter'
  echo "# writing all.forwarding=0 again resets every force_forwarding:"
  sysctl -qw net.ipv6.conf.all.forwarding=0; x sysctl net.ipv6.conf.br0.force_forwarding
else
  sec "Q2.b no force_forwarding sysctl on $(uname -r): $(ls /proc/sys/net/ipv6/conf/br0 | grep -c force) files named force*"
fi
sec "Q2.c all.forwarding=1"
x sysctl -w net.ipv6.conf.all.forwarding=1
x na ping -6 -c2 -i0.3 -W1 fd00:1::3 | grep -E 'loss|rom'
nft list table inet v6r | grep 'echo-request counter'
teardown

sysctl -qw net.ipv6.conf.all.forwarding=0
sec "Q2.d forwarding=1 and RA-learned default routes on another interface (up0)"
ip netns add v6r-r
ip link add up0 type veth peer name r0 netns v6r-r
sysctl -qw net.ipv6.conf.up0.accept_ra=1 net.ipv6.conf.up0.accept_dad=0
ip link set up0 up; ip netns exec v6r-r sh -c 'ip link set r0 address 02:00:00:00:99:99; ip link set r0 up'
mkbr; sleep 0.2
ra() { ip netns exec v6r-r /usr/bin/python3 /var/tmp/v6r/ra.py r0 02:00:00:00:99:99; sleep 0.3; }
show() { echo "# default routes: $(ip -6 route show default | tr '\n' ';')  | forwarding all=$(sysctl -n net.ipv6.conf.all.forwarding) up0=$(sysctl -n net.ipv6.conf.up0.forwarding) br0=$(sysctl -n net.ipv6.conf.br0.forwarding) up0.accept_ra=$(sysctl -n net.ipv6.conf.up0.accept_ra)"; }
ra; show
x sysctl -w net.ipv6.conf.br0.forwarding=1; show
echo "# an RA again:"; ra; show
x sysctl -w net.ipv6.conf.br0.forwarding=1; echo "# (writing 1 again over 1)"; show
ra
x sysctl -w net.ipv6.conf.all.forwarding=1; show
echo "# an RA again (up0 now forwarding=1, accept_ra=1):"; ra; show
x sysctl -w net.ipv6.conf.up0.accept_ra=2
echo "# an RA again:"; ra; show
x sysctl -w net.ipv6.conf.all.forwarding=1; show
x sysctl -w net.ipv6.conf.br0.forwarding=1; show
if [[ -e /proc/sys/net/ipv6/conf/br0/force_forwarding ]]; then
  sec "Q2.e force_forwarding=1 on br0 and RA-learned default routes"
  sysctl -qw net.ipv6.conf.all.forwarding=0 net.ipv6.conf.up0.accept_ra=1
  ra; show
  x sysctl -w net.ipv6.conf.br0.force_forwarding=1; show
  echo "# an RA again:"; ra; show
fi
ip link del up0; ip netns del v6r-r; teardown
