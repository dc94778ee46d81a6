. /var/tmp/v6r/lib.sh
# Q9: force_forwarding is checked on the INGRESS interface; published ports over IPv6 (fib daddr type local, ::1)
teardown; mkbr
mkport va v6r-a $MACA
ip -6 addr add fd00:1::1/64 dev br0 nodad
na sh -c "ip -6 addr add fd00:1::2/64 dev eth0 nodad noprefixroute; ip -6 route add fd00:1::1 dev eth0; ip -6 route add default via fd00:1::1 dev eth0"
ip netns add v6r-o; ip link add up0 type veth peer name o0 netns v6r-o
sysctl -qw net.ipv6.conf.up0.accept_dad=0
ip -6 addr add 2001:db8:ff::1/64 dev up0 nodad; ip link set up0 up
ip netns exec v6r-o sh -c "ip link set lo up; ip link set o0 up; ip -6 addr add 2001:db8:ff::2/64 dev o0 nodad; ip -6 route add default via 2001:db8:ff::1"
wait_ll br0
if [[ -e /proc/sys/net/ipv6/conf/br0/force_forwarding ]]; then
  sec "Q9.a all.forwarding=0, force_forwarding=1 on br0 only: A -> outside"
  sysctl -qw net.ipv6.conf.br0.force_forwarding=1
  ip netns exec v6r-o timeout 3 tcpdump -l -n -i o0 icmp6 2>/dev/null | grep -v 'neighbor\|listener' > /var/tmp/v6r-o.txt &
  sleep 0.5; echo "$(na ping -6 -c2 -i0.3 -W1 2001:db8:ff::2 | grep loss)"; wait
  echo "# the outside saw:"; cut -d' ' -f2- /var/tmp/v6r-o.txt
  sec "Q9.b force_forwarding=1 on br0 and up0"
  sysctl -qw net.ipv6.conf.up0.force_forwarding=1
  echo "$(na ping -6 -c2 -i0.3 -W1 2001:db8:ff::2 | grep loss)"
  sysctl -qw net.ipv6.conf.up0.force_forwarding=0 net.ipv6.conf.br0.force_forwarding=0
fi
sysctl -qw net.ipv6.conf.all.forwarding=1
sec "Q9.c published port over IPv6: fib daddr type local + dnat ip6 ... map @publish6 (prerouting and output), masquerade for ::1"
na sh -c 'socat TCP6-LISTEN:80,reuseaddr,fork SYSTEM:"echo reply-from-A" & echo $! > /var/tmp/v6r-socat.pid'
nft -f - <<'NFT'
table inet v6r {
  map publish6 { type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service; flags interval;
    elements = { ::/0 . tcp . 8080 : fd00:1::2 . 80 }; }
  chain proxy { type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local meta l4proto tcp counter dnat ip6 to ip6 daddr . meta l4proto . th dport map @publish6
  }
  chain publish_out { type nat hook output priority -100; policy accept;
    fib daddr type local meta l4proto tcp counter dnat ip6 to ip6 daddr . meta l4proto . th dport map @publish6
  }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    ip6 saddr ::1 oifname "br0" counter masquerade
  }
}
NFT
sleep 0.5
echo "outside -> [2001:db8:ff::1]:8080: $(ip netns exec v6r-o timeout 3 socat -T2 - 'TCP6:[2001:db8:ff::1]:8080' </dev/null 2>&1)"
echo "host -> [fd00:1::1]:8080 (own address): $(timeout 3 socat -T2 - 'TCP6:[fd00:1::1]:8080' </dev/null 2>&1)"
echo "host -> [::1]:8080: $(timeout 3 socat -T2 - 'TCP6:[::1]:8080' </dev/null 2>&1)"
nft list table inet v6r | grep counter
kill $(cat /var/tmp/v6r-socat.pid) 2>/dev/null
sysctl -qw net.ipv6.conf.all.forwarding=0
ip link del up0; ip netns del v6r-o
teardown
