. /var/tmp/v6r/lib.sh
sec "Q3.a defaults in a fresh netns"
ip netns add v6r-c
ip netns exec v6r-c sh -c 'ip link add eth0 type veth peer name p0; sysctl net.ipv6.conf.default.addr_gen_mode net.ipv6.conf.eth0.addr_gen_mode net.ipv6.conf.eth0.accept_ra net.ipv6.conf.eth0.autoconf net.ipv6.conf.eth0.accept_dad net.ipv6.conf.eth0.accept_redirects net.ipv6.conf.eth0.optimistic_dad net.ipv6.conf.eth0.forwarding net.ipv6.conf.all.forwarding net.core.devconf_inherit_init_net 2>&1'
ip netns del v6r-c
sec "Q3.b EUI-64 link-local (addr_gen_mode 0) from MAC $MACA, accept_dad default: tentative"
teardown; mkbr; wait_ll br0
mkport va v6r-a $MACA
na ip -6 addr show dev eth0
sec "Q3.c accept_dad=0 written before up: link-local valid at once"
teardown; mkbr; wait_ll br0
ip netns add v6r-a; ip link add va type veth peer name eth0 netns v6r-a; sysctl -qw net.ipv6.conf.va.disable_ipv6=1; ip link set va master br0 up
na sh -c "sysctl -qw net.ipv6.conf.eth0.accept_dad=0 net.ipv6.conf.eth0.accept_ra=0 net.ipv6.conf.eth0.autoconf=0; ip link set eth0 address $MACA; ip link set eth0 up; ip -6 addr show dev eth0"
sec "Q3.d addr_gen_mode=1 written before up: no link-local; then our own fe80::a nodad"
teardown; mkbr; wait_ll br0
ip netns add v6r-a; ip link add va type veth peer name eth0 netns v6r-a; sysctl -qw net.ipv6.conf.va.disable_ipv6=1; ip link set va master br0 up
na sh -c "sysctl -qw net.ipv6.conf.eth0.addr_gen_mode=1; ip link set eth0 address $MACA; ip link set eth0 up; echo '# after up:'; ip -6 addr show dev eth0
  ip -6 addr add fe80::a/64 dev eth0 nodad; ip -6 addr add fd00:1::2/64 dev eth0 nodad noprefixroute; echo '# after adds:'; ip -6 addr show dev eth0"
sec "Q3.e optimistic DAD: ip addr add ... optimistic"
na sh -c "sysctl -w net.ipv6.conf.eth0.optimistic_dad=1; ip -6 addr add fd00:1::7/64 dev eth0 optimistic 2>&1; ip -6 addr show dev eth0 | grep -A1 '::7'"
teardown
sec "Q3.f rogue RA reaching a container with accept_ra=0/autoconf=0 vs defaults (RA sent from the host end of the bridge)"
mkbr; wait_ll br0
mkport va v6r-a $MACA          # accept_ra=0, autoconf=0
ip netns add v6r-b; ip link add vb type veth peer name eth0 netns v6r-b
ip link set vb master br0; ip link set vb up
nb sh -c "ip link set eth0 address $MACB; ip link set eth0 up"  # kernel defaults
sleep 0.3
/usr/bin/python3 /var/tmp/v6r/ra.py br0 02:00:00:00:99:99 2>/dev/null; sleep 0.5
echo "# A (accept_ra=0, autoconf=0):"; na ip -6 route show default; na ip -6 addr show dev eth0 scope global
echo "# B (defaults):"; nb ip -6 route show default; nb ip -6 addr show dev eth0 scope global
teardown
sec "Q3.g proxy NDP answers the container's own DAD: address without nodad under model P"
mkbr; wait_ll br0
sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.conf.br0.proxy_ndp=1 net.ipv6.neigh.br0.proxy_delay=0
ip -6 addr add fd00:1::1/64 dev br0 nodad
ip -6 neigh add proxy fd00:1::2 dev br0
mkport va v6r-a $MACA
na ip -6 addr add fd00:1::2/64 dev eth0
sleep 2.5; na ip -6 addr show dev eth0 scope global
sysctl -qw net.ipv6.conf.all.forwarding=0
teardown
