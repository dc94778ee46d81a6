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
[[ ${1-} == ct ]] && nft add table inet v6r && nft add chain inet v6r f '{ type filter hook forward priority 0; }' && nft add rule inet v6r f ct state new counter
ip -6 route add fd00:1::3/128 dev br0 mtu 1280
na ping -6 -c1 -W1 -s 1400 fd00:1::3 >/dev/null
nb timeout 3 tcpdump -l -n -i eth0 ip6 2>/dev/null > /var/tmp/v6r/tdb.txt &
na timeout 3 tcpdump -l -n -i eth0 ip6 2>/dev/null > /var/tmp/v6r/tda.txt & sleep 0.7
na ping -6 -c2 -i0.3 -W1 -s 1400 fd00:1::3 | grep loss
wait; echo "# B:"; cat /var/tmp/v6r/tdb.txt | cut -c1-150; echo "# A:"; cat /var/tmp/v6r/tda.txt| cut -c1-150
grep -E 'Ip6(ReasmFails|FragFails|InDiscards|OutDiscards|FragCreates|InTooBigErrors)' /proc/net/snmp6
teardown
