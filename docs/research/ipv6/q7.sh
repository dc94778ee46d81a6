. /var/tmp/v6r/lib.sh
MACC=02:00:00:00:00:0c
teardown; mkbr
mkport va v6r-a $MACA; mkport vb v6r-b $MACB; mkport vc v6r-c $MACC
sysctl -qw net.ipv6.conf.all.forwarding=1
ip -6 addr add fd00:1::1/64 dev br0 nodad
for p in a:2 b:3 c:4; do IFS=: read n a <<<"$p"
  ip netns exec v6r-$n sh -c "ip -6 addr add fd00:1::$a/64 dev eth0 nodad noprefixroute
    ip -6 route add fd00:1::1 dev eth0; ip -6 route add default via fd00:1::1 dev eth0"
done
wait_ll br0
nft -f - <<'NFT'
table inet v6r {
  set self6 { type ipv6_addr . ipv6_addr; elements = { fd00:1::2 . fd00:1::2, fd00:1::3 . fd00:1::3, fd00:1::4 . fd00:1::4 }; }
  chain forward { type filter hook forward priority 0; policy accept;
    ct state related meta l4proto ipv6-icmp counter comment "fwd: related icmpv6"
    ct state related ip6 saddr . ct original ip6 saddr @self6 counter accept comment "fwd: self (original)"
    ct state related ip6 saddr . ct reply ip6 saddr @self6 counter accept comment "fwd: self (reply)"
    ct state related counter drop comment "fwd: related, sender not an endpoint"
  }
  chain input { type filter hook input priority 0; policy accept;
    iifname "br0" icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } ct state untracked counter comment "in: NS/NA untracked"
    iifname "br0" icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } ct state != untracked counter comment "in: NS/NA tracked"
    iifname "br0" icmpv6 type { mld-listener-report, mld2-listener-report } ct state untracked counter comment "in: MLD untracked"
    iifname "br0" icmpv6 type echo-request ct state new counter comment "in: echo new"
  }
  chain output { type filter hook output priority 0; policy accept;
    oifname "br0" icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } ct state untracked counter comment "out: NS/NA untracked"
    oifname "br0" icmpv6 type packet-too-big ct state related counter comment "out: packet-too-big related"
    oifname "br0" icmpv6 type nd-redirect ct state != related counter comment "out: redirect (not related)"
    oifname "br0" icmpv6 type nd-redirect ct state related counter comment "out: redirect related"
  }
}
NFT
for n in a b c; do ip netns exec v6r-$n ping -6 -c1 -W1 fd00:1::1 >/dev/null; done
snap() { nft list table inet v6r | grep -o 'packets [0-9]* bytes [0-9]* \(accept \|drop \)\?comment "[^"]*"' | sed 's/ bytes [0-9]*//; s/comment //; s/accept //; s/drop //'; }
delta() { paste -d'|' <(echo "$1") <(echo "$2") | awk -F'|' '{split($1,b," "); split($2,a," "); d=a[2]-b[2]; if (d) { $0=$2; sub(/^packets [0-9]+ /,""); printf "%s +%d; ", $0, d } }'; }
sec "Q7.a ND and MLD between a container and the host, as the inet hooks see them"
s0=$(snap); na ip -6 neigh flush dev eth0; ip -6 neigh flush dev br0
na ping -6 -c1 -W1 fd00:1::1 >/dev/null; sleep 0.3; echo "A pings the gateway after flushing neighbours: $(delta "$s0" "$(snap)")"
sec "Q7.b ICMPv6 errors: conntrack calls them related whoever sends them; the self6 rule sorts them"
nb sh -c 'socat TCP6-LISTEN:7000,reuseaddr,fork SYSTEM:"sleep 5" &' ; sleep 0.5
na sh -c 'socat -T5 - TCP6:[fd00:1::3]:7000,sourceport=41000 </dev/null >/dev/null 2>&1 &'; sleep 0.5
echo "# conntrack (ct) for the flow: $(nft list ct 2>/dev/null | head -0)"; conntrack -L -f ipv6 2>/dev/null | grep 7000
err() { # FROM_NS FROM_ADDR: ICMPv6 port unreachable to A quoting A's packet to B:7000
  ip netns exec v6r-$1 /usr/bin/python3 -c "
from scapy.all import *; conf.verb=0
inner = IPv6(src='fd00:1::2', dst='fd00:1::3')/TCP(sport=41000, dport=7000, flags='A')
sendp(Ether(src=get_if_hwaddr('eth0'), dst='$BRMAC')/IPv6(src='$2', dst='fd00:1::2')/ICMPv6DestUnreach(code=4)/inner, iface='eth0')" 2>&1 | grep -v WARNING
}
s0=$(snap); err b fd00:1::3; sleep 0.3; echo "R1 B (the flow's peer) sends an error about A->B:7000: $(delta "$s0" "$(snap)")"
s0=$(snap); err c fd00:1::4; sleep 0.3; echo "R2 C (a stranger) sends the same error:            $(delta "$s0" "$(snap)")"
sec "Q7.c packet-too-big from the host (route MTU 1280 towards B), as output sees it"
ip -6 route add fd00:1::3/128 dev br0 mtu 1280
s0=$(snap); na ping -6 -c1 -W1 -s 1400 fd00:1::3 >/dev/null; sleep 0.3
echo "A pings B with 1400 bytes: $(delta "$s0" "$(snap)")"
echo "A's route to B now: $(na ip -6 route get fd00:1::3 | head -1)"
sec "Q7.d the host's redirect for A->B (output hook)"
s0=$(snap); na ping -6 -c1 -W1 fd00:1::3 >/dev/null; sleep 0.3; echo "$(delta "$s0" "$(snap)")"
sec "Q7.e an input policy that drops whatever is not accepted before it (moat's to_host would reject): ND must be accepted first"
nft add chain inet v6r input2 '{ type filter hook input priority 10; policy accept; }'
nft add rule inet v6r input2 iifname br0 ct state established,related accept
nft add rule inet v6r input2 iifname br0 counter drop
na ip -6 neigh flush dev eth0; ip -6 neigh flush dev br0
echo "without an ND rule: $(na ping -6 -c2 -i0.5 -W1 fd00:1::1 | grep loss); A's neighbour: $(na ip -6 neigh show fd00:1::1)"
nft insert rule inet v6r input2 iifname br0 icmpv6 type '{ nd-neighbor-solicit, nd-neighbor-advert }' accept
na ip -6 neigh flush dev eth0
nft insert rule inet v6r input2 iifname br0 icmpv6 type echo-request accept
echo "with NS/NA accepted (and echo): $(na ping -6 -c2 -i0.5 -W1 fd00:1::1 | grep loss); A's neighbour: $(na ip -6 neigh show fd00:1::1)"
nft list table inet v6r
sysctl -qw net.ipv6.conf.all.forwarding=0
teardown
