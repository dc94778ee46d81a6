. /var/tmp/v6r/lib.sh
modelR() {
  for p in a:2 b:3; do
    ip netns exec v6r-${p%%:*} sh -c "ip -6 addr add fd00:1::${p##*:}/64 dev eth0 nodad noprefixroute
      ip -6 route add fd00:1::1 dev eth0
      ip -6 route add default via fd00:1::1 dev eth0"
  done
}
sec "Q1b.a how the host learns B's MAC: its NS (multicast) flooded from the bridge through B's isolated port"
teardown; mkbr
mkport va v6r-a $MACA; mkport vb v6r-b $MACB
sysctl -qw net.ipv6.conf.all.forwarding=1
ip -6 addr add fd00:1::1/64 dev br0 nodad
wait_ll br0
modelR
nb timeout 3 tcpdump -l -n -e -i eth0 icmp6 2>/dev/null > /var/tmp/v6r/tdb.txt & sleep 1
na ping -6 -c1 -W1 fd00:1::3 | grep -E 'loss'
sleep 1.5; wait
echo "# tcpdump in B:"; cat /var/tmp/v6r/tdb.txt
echo "# bridge port flags:"; bridge -d link show dev vb | grep -oE 'isolated \w+|mcast_flood \w+|flood \w+|learning \w+' | tr '\n' ' '; echo
echo "# bridge multicast: snooping=$(cat /sys/class/net/br0/bridge/multicast_snooping) querier=$(cat /sys/class/net/br0/bridge/multicast_querier)"; bridge mdb show dev br0

sec "Q1b.b bridge with no link-local (addr_gen_mode=1): no redirects, but the host cannot solicit"
teardown; mkbr 1
mkport va v6r-a $MACA; mkport vb v6r-b $MACB
ip -6 addr add fd00:1::1/64 dev br0 nodad
fwdcount
modelR
x na ping -6 -c2 -i0.3 -W1 fd00:1::3 | grep -E 'loss'
ip -6 neigh show dev br0
echo "# now with permanent neighbour entries on the host:"
x ip -6 neigh replace fd00:1::2 lladdr $MACA dev br0 nud permanent
x ip -6 neigh replace fd00:1::3 lladdr $MACB dev br0 nud permanent
x na ping -6 -c3 -i0.3 -W1 fd00:1::3 | grep -E 'loss|ttl' | head -2
ip -6 neigh show dev br0
nft list table inet v6r | grep counter
echo "# a forged NA from A (target fd00:1::3, TLLAO = A's MAC, override) against the permanent entry:"
na /usr/bin/python3 -c "
from scapy.all import *; conf.verb=0
sendp(Ether(src='$MACA',dst='$BRMAC')/IPv6(src='fd00:1::2',dst='fd00:1::1',hlim=255)/ICMPv6ND_NA(tgt='fd00:1::3',R=0,S=0,O=1)/ICMPv6NDOptDstLLAddr(lladdr='$MACA'),iface='eth0')"
sleep 0.3; ip -6 neigh show dev br0 | grep 'fd00:1::3 '
echo "# the same against a dynamic entry:"
ip -6 neigh del fd00:1::3 dev br0; ip -6 neigh add fd00:1::3 lladdr $MACB dev br0 nud stale
na /usr/bin/python3 -c "
from scapy.all import *; conf.verb=0
sendp(Ether(src='$MACA',dst='$BRMAC')/IPv6(src='fd00:1::2',dst='fd00:1::1',hlim=255)/ICMPv6ND_NA(tgt='fd00:1::3',R=0,S=0,O=1)/ICMPv6NDOptDstLLAddr(lladdr='$MACA'),iface='eth0')"
sleep 0.3; ip -6 neigh show dev br0 | grep 'fd00:1::3 '
sysctl -qw net.ipv6.conf.all.forwarding=0
teardown
