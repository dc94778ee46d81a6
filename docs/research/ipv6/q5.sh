. /var/tmp/v6r/lib.sh
teardown; mkbr
mkport va v6r-a $MACA; mkport vb v6r-b $MACB
sysctl -qw net.ipv6.conf.all.forwarding=1
ip -6 addr add fd00:1::1/64 dev br0 nodad
for p in a:2 b:3; do IFS=: read n a <<<"$p"
  ip netns exec v6r-$n sh -c "ip -6 addr add fd00:1::$a/64 dev eth0 nodad noprefixroute
    ip -6 route add fd00:1::1 dev eth0; ip -6 route add default via fd00:1::1 dev eth0"
done
wait_ll br0
na ping -6 -c1 -W1 fd00:1::3 >/dev/null   # neighbours resolved
nft -f - <<'NFT'
table inet v6r {
  chain pre { type filter hook prerouting priority -450; policy accept;
    iifname "br0" ip6 nexthdr ipv6-frag counter comment "A ip6 nexthdr frag"
    iifname "br0" meta l4proto tcp counter comment "B meta l4proto tcp"
    iifname "br0" meta l4proto tcp th dport 5555 counter comment "C th dport 5555"
  }
  chain forward { type filter hook forward priority 0; policy accept;
    ip6 nexthdr ipv6-frag counter comment "D ip6 nexthdr frag"
    exthdr frag exists counter comment "E exthdr frag exists"
    meta l4proto tcp counter comment "F meta l4proto tcp"
    meta l4proto tcp th dport 5555 counter comment "G th dport 5555"
    tcp dport 5555 counter comment "H tcp dport 5555"
    meta l4proto tcp th dport 80 counter comment "I th dport 80"
  }
}
NFT
snap() { nft list table inet v6r | grep -o 'packets [0-9]* bytes [0-9]* comment "[^"]*"' | sed 's/ bytes [0-9]*//; s/comment //'; }
run() {
  local before after; before=$(snap)
  nb timeout 2 tcpdump -l -n -i eth0 'ip6 and (ip6[6]==44 or tcp)' 2>/dev/null >/var/tmp/v6r/tdb.txt & sleep 0.7
  na /usr/bin/python3 /var/tmp/v6r/frag.py $1 $MACA $BRMAC
  wait; after=$(snap)
  echo "## $1 ($2): counters that moved (delta): $(paste -d'|' <(echo "$before") <(echo "$after") | awk -F'|' '{split($1,b," "); split($2,a," "); d=a[2]-b[2]; if (d) { $0=$2; sub(/^packets [0-9]+ /,""); printf "%s +%d; ", $0, d } }')"
  echo "   B received: $(grep -c . /var/tmp/v6r/tdb.txt) packet(s): $(cut -d' ' -f2- /var/tmp/v6r/tdb.txt | sed 's/, length.*//' | tr '\n' '|')"
}
sec "Q5.a without conntrack (no ct expression: no nf_defrag_ipv6 in this netns)"
for k in atomic split tiny overlap; do run $k no-ct; done
sec "Q5.b with conntrack (a ct expression: nf_defrag_ipv6 at -400, conntrack at -200)"
nft add chain inet v6r conntrack '{ type filter hook prerouting priority -150; policy accept; }'
nft add rule inet v6r conntrack ct state new counter
for k in atomic split tiny overlap; do run $k ct; done
nft list table inet v6r
sysctl -qw net.ipv6.conf.all.forwarding=0
teardown
