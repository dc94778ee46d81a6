. /var/tmp/v6r/lib.sh
MACC=02:00:00:00:00:0c
setup8() { # $1: bridge options
  teardown; mkbr
  ip link set br0 type bridge mcast_membership_interval 400 mcast_querier_interval 3000 $1
  mkport va v6r-a $MACA; mkport vb v6r-b $MACB; mkport vc v6r-c $MACC
  sysctl -qw net.ipv6.conf.all.forwarding=1
  ip -6 addr add fd00:1::1/64 dev br0 nodad
  for p in a:2 b:3 c:4; do IFS=: read n a <<<"$p"
    ip netns exec v6r-$n sh -c "ip -6 addr add fd00:1::$a/64 dev eth0 nodad noprefixroute
      ip -6 route add fd00:1::1 dev eth0; ip -6 route add default via fd00:1::1 dev eth0"
  done
  wait_ll br0; sleep 2
}
query() { # C sends MLDv2 general queries for ~7 s (its own kernel never would)
  ip netns exec v6r-c /usr/bin/python3 -c "
from scapy.all import *; conf.verb=0
import time
p=Ether(src='$MACC',dst='33:33:00:00:00:01')/IPv6(src='fe80::ff:fe00:c',dst='ff02::1',hlim=1)/IPv6ExtHdrHopByHop(options=[RouterAlert()])/ICMPv6MLQuery2(mrd=100)
r=Ether(src='$MACC',dst='33:33:00:00:00:16')/IPv6(src='fe80::ff:fe00:c',dst='ff02::16',hlim=1)/IPv6ExtHdrHopByHop(options=[RouterAlert()])/ICMPv6MLReport2(records=[ICMPv6MLDMultAddrRec(rtype=2,dst='ff02::1:ff00:3')])
for i in range(7):
    sendp(p, iface='eth0')
    if '${JOIN-}': sendp(r, iface='eth0')
    time.sleep(1)" 2>&1 | grep -v WARNING
}
probe() { ip -6 neigh flush dev br0; ip -6 neigh show dev br0 | sed 's/^/# left after flush: /'
  nb timeout 3 tcpdump -l -n -e -i eth0 icmp6 2>/dev/null | grep -v listener > /var/tmp/v6r/tdb8.txt & sleep 0.5
  echo "host -> B after: $(ping -6 -c2 -i0.5 -W1 fd00:1::3 | grep -o '[0-9]* received'); host's entry for B: $(ip -6 neigh show fd00:1::3 dev br0)"; wait; echo "# B saw:"; cut -d' ' -f2-12 /var/tmp/v6r/tdb8.txt | head -4; }
sec "Q8.a snooping on (default), MLD from containers not filtered, C plays querier"
setup8 ""
echo "# mdb before: $(bridge mdb show dev br0 | grep -c 'port v') port entries; B's: $(bridge mdb show dev br0 | grep 'port vb' | grep -o 'grp [^ ]*' | tr '\n' ' ')"
query
echo "# bridge: $(ip -d link show br0 | grep -o 'mcast_snooping [0-9]*\|mcast_querier [0-9]*' | tr '\n' ' ')"
echo "# mdb after: B's: $(bridge mdb show dev br0 | grep 'port vb' | grep -o 'grp [^ ]*' | tr '\n' ' ')"
probe
sec "Q8.a2 same, and C also reports membership of B's solicited-node group ff02::1:ff00:3"
setup8 ""
JOIN=1 query
echo "# mdb after: ff02::1:ff00:3 on: $(bridge mdb show dev br0 | grep 'ff02::1:ff00:3 ' | grep -o 'port [^ ]*' | tr '\n' ' ')"
probe
sec "Q8.b same (C queries and joins B's group), bridge mcast_snooping 0"
setup8 "mcast_snooping 0"
JOIN=1 query
probe
sec "Q8.c snooping on, MLD dropped at the ports (bridge family, prerouting)"
setup8 ""
nft -f - <<'NFT'
table bridge v6r { chain pre { type filter hook prerouting priority -200; policy accept;
  iifname { "va", "vb", "vc" } icmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report } counter drop
  }
}
NFT
JOIN=1 query
echo "# mdb after: B's: $(bridge mdb show dev br0 | grep 'port vb' | grep -o 'grp [^ ]*' | tr '\n' ' ')"
probe
nft list table bridge v6r | grep counter
sysctl -qw net.ipv6.conf.all.forwarding=0
teardown
