. /var/tmp/v6r/lib.sh
teardown; mkbr
mkport va v6r-a $MACA; mkport vb v6r-b $MACB
sysctl -qw net.ipv6.conf.all.forwarding=1
ip -6 addr add fd00:1::1/64 dev br0 nodad
for p in a:2:a b:3:b; do IFS=: read n a l <<<"$p"
  ip netns exec v6r-$n sh -c "ip -6 addr add fd00:1::$a/64 dev eth0 nodad noprefixroute
    ip -6 route add fd00:1::1 dev eth0; ip -6 route add default via fd00:1::1 dev eth0"
done
wait_ll br0
nft -f - <<NFT || exit 1
table bridge v6r {
  set guarded { type ifname; elements = { "va", "vb" }; }
  set ports6 { type ifname . ether_addr . ipv6_addr;
    elements = { "va" . $MACA . fd00:1::2, "va" . $MACA . fe80::ff:fe00:a,
                 "vb" . $MACB . fd00:1::3, "vb" . $MACB . fe80::ff:fe00:b }; }
  set nd_target6 { typeof iifname . @th,64,128;
    elements = { "va" . 0xfd000001000000000000000000000002, "va" . 0xfe80000000000000000000fffe00000a,
                 "vb" . 0xfd000001000000000000000000000003, "vb" . 0xfe80000000000000000000fffe00000b }; }
  set nd_lladdr { typeof iifname . @th,192,64;
    elements = { "va" . 0x010102000000000a, "va" . 0x020102000000000a,
                 "vb" . 0x010102000000000b, "vb" . 0x020102000000000b }; }
  chain prerouting { type filter hook prerouting priority -200; policy accept;
    iifname @guarded jump from_port
  }
  chain from_port {
    ether type ip6 iifname . ether saddr . ip6 saddr @ports6 jump from_port6
    counter drop comment "source"
  }
  chain from_port6 {
    icmpv6 type { nd-router-solicit, nd-router-advert, nd-redirect, mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report } counter drop comment "rs-ra-redirect-mld"
    icmpv6 type nd-neighbor-advert iifname . @th,64,128 != @nd_target6 counter drop comment "na-target"
    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } iifname . @th,192,64 != @nd_lladdr counter drop comment "nd-lladdr-option"
    udp sport 547 counter drop comment "dhcpv6-server"
    counter accept comment "accepted"
  }
}
NFT
nft --debug=netlink add rule bridge v6r from_port6 'icmpv6 type nd-neighbor-advert iifname . @th,64,128 != @nd_target6 counter drop' | grep '\['
nft --debug=netlink add rule bridge v6r from_port6 'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } iifname . @th,192,64 != @nd_lladdr counter drop' | grep '\['
nft delete rule bridge v6r from_port6 handle $(nft -a list chain bridge v6r from_port6 | grep -v comment | grep -o 'handle [0-9]*' | tail -1 | cut -d' ' -f2)
nft delete rule bridge v6r from_port6 handle $(nft -a list chain bridge v6r from_port6 | grep -v comment | grep -o 'handle [0-9]*' | tail -1 | cut -d' ' -f2)
# B resolves the gateway and the host resolves B first: a dynamic entry to attack
nb ping -6 -c1 -W1 fd00:1::1 >/dev/null; ping -6 -c1 -W1 fd00:1::3 >/dev/null; na ping -6 -c1 -W1 fd00:1::1 >/dev/null
snap() { nft list table bridge v6r | grep -o 'packets [0-9]* bytes [0-9]* drop comment "[^"]*"\|packets [0-9]* bytes [0-9]* accept comment "[^"]*"' | sed 's/ bytes [0-9]*//'; }
send() { # NAME PYTHON-EXPR (scapy packet, sent on A's eth0)
  local before after; before=$(snap)
  na /usr/bin/python3 -c "
from scapy.all import *; conf.verb=0
A='$MACA'; B='$MACB'; BR='$BRMAC'
sendp($2, iface='eth0')" 2>&1 | grep -v WARNING
  sleep 0.2; after=$(snap)
  printf '%-58s -> %s\n' "$1" "$(diff <(echo "$before") <(echo "$after") | grep '^>' | sed 's/^> packets [0-9]* //; s/comment //' | tr '\n' ' ')"
}
sleep 4; echo "# host's entry for B before: $(ip -6 neigh show dev br0 | grep 'fd00:1::3 ')"
send "S1 echo, spoofed source fd00:1::3" "Ether(src=A,dst=BR)/IPv6(src='fd00:1::3',dst='fd00:1::1')/ICMPv6EchoRequest()"
send "S2 echo, B's MAC and B's address" "Ether(src=B,dst=BR)/IPv6(src='fd00:1::3',dst='fd00:1::1')/ICMPv6EchoRequest()"
send "S3 NA target=B's address, TLLAO=A" "Ether(src=A,dst=BR)/IPv6(src='fd00:1::2',dst='fd00:1::1',hlim=255)/ICMPv6ND_NA(tgt='fd00:1::3',R=0,S=0,O=1)/ICMPv6NDOptDstLLAddr(lladdr=A)"
send "S4 NA target=own, TLLAO=B's MAC" "Ether(src=A,dst=BR)/IPv6(src='fd00:1::2',dst='fd00:1::1',hlim=255)/ICMPv6ND_NA(tgt='fd00:1::2',R=0,S=0,O=1)/ICMPv6NDOptDstLLAddr(lladdr=B)"
send "S5 NA target=own, TLLAO=own" "Ether(src=A,dst=BR)/IPv6(src='fd00:1::2',dst='fd00:1::1',hlim=255)/ICMPv6ND_NA(tgt='fd00:1::2',R=0,S=0,O=1)/ICMPv6NDOptDstLLAddr(lladdr=A)"
send "S5b NA target=own link-local, no option" "Ether(src=A,dst=BR)/IPv6(src='fe80::ff:fe00:a',dst='fd00:1::1',hlim=255)/ICMPv6ND_NA(tgt='fe80::ff:fe00:a',R=0,S=1,O=0)"
send "S6 NS for gateway, SLLAO=B's MAC" "Ether(src=A,dst='33:33:ff:00:00:01')/IPv6(src='fd00:1::2',dst='ff02::1:ff00:1',hlim=255)/ICMPv6ND_NS(tgt='fd00:1::1')/ICMPv6NDOptSrcLLAddr(lladdr=B)"
send "S6b NS for gateway, SLLAO=own" "Ether(src=A,dst='33:33:ff:00:00:01')/IPv6(src='fd00:1::2',dst='ff02::1:ff00:1',hlim=255)/ICMPv6ND_NS(tgt='fd00:1::1')/ICMPv6NDOptSrcLLAddr(lladdr=A)"
send "S6c NS unicast probe, no option" "Ether(src=A,dst=BR)/IPv6(src='fd00:1::2',dst='fd00:1::1',hlim=255)/ICMPv6ND_NS(tgt='fd00:1::1')"
send "S6d NS from :: (DAD) for B's address" "Ether(src=A,dst='33:33:ff:00:00:03')/IPv6(src='::',dst='ff02::1:ff00:3',hlim=255)/ICMPv6ND_NS(tgt='fd00:1::3')"
send "S7 NA behind a dest-options header, target=B" "Ether(src=A,dst=BR)/IPv6(src='fd00:1::2',dst='fd00:1::1',hlim=255)/IPv6ExtHdrDestOpt()/ICMPv6ND_NA(tgt='fd00:1::3',R=0,S=0,O=1)/ICMPv6NDOptDstLLAddr(lladdr=A)"
send "S7b NA behind hop-by-hop+dest-opts, target=own, TLLAO=B" "Ether(src=A,dst=BR)/IPv6(src='fd00:1::2',dst='fd00:1::1',hlim=255)/IPv6ExtHdrHopByHop()/IPv6ExtHdrDestOpt()/ICMPv6ND_NA(tgt='fd00:1::2',R=0,S=0,O=1)/ICMPv6NDOptDstLLAddr(lladdr=B)"
send "S8 NA: nonce option first, then TLLAO=B" "Ether(src=A,dst=BR)/IPv6(src='fd00:1::2',dst='fd00:1::1',hlim=255)/ICMPv6ND_NA(tgt='fd00:1::2',R=0,S=0,O=1)/Raw(bytes([14,1,1,2,3,4,5,6]))/ICMPv6NDOptDstLLAddr(lladdr=B)"
send "S9 RA from A's link-local" "Ether(src=A,dst='33:33:00:00:00:01')/IPv6(src='fe80::ff:fe00:a',dst='ff02::1',hlim=255)/ICMPv6ND_RA()/ICMPv6NDOptPrefixInfo(prefix='2001:db8:9::',prefixlen=64)"
send "S10 redirect from A" "Ether(src=A,dst=BR)/IPv6(src='fe80::ff:fe00:a',dst='fe80::ff:fe00:101',hlim=255)/ICMPv6ND_Redirect(tgt='fd00:1::2',dst='fd00:1::3')"
send "S11 DHCPv6 advertise (udp 547->546)" "Ether(src=A,dst='33:33:00:01:00:02')/IPv6(src='fe80::ff:fe00:a',dst='ff02::1:2')/UDP(sport=547,dport=546)/DHCP6_Advertise()"
send "S12 MLDv2 report" "Ether(src=A,dst='33:33:00:00:00:16')/IPv6(src='fe80::ff:fe00:a',dst='ff02::16',hlim=1)/IPv6ExtHdrHopByHop(options=[RouterAlert()])/ICMPv6MLReport2()"
send "S13 MLD query (rogue querier)" "Ether(src=A,dst='33:33:00:00:00:01')/IPv6(src='fe80::ff:fe00:a',dst='ff02::1',hlim=1)/IPv6ExtHdrHopByHop(options=[RouterAlert()])/ICMPv6MLQuery2()"
send "S14 TCP SYN behind a fragment header (atomic)" "Ether(src=A,dst=BR)/IPv6(src='fd00:1::2',dst='fd00:1::3')/IPv6ExtHdrFragment(offset=0,m=0,id=7)/TCP(dport=5555,flags='S')"
echo "# host's entry for B after: $(ip -6 neigh show dev br0 | grep 'fd00:1::3 ')"
echo "# real traffic still works: $(na ping -6 -c2 -i0.3 -W1 fd00:1::3 | grep loss)"
nft list chain bridge v6r from_port6; nft list chain bridge v6r from_port
sysctl -qw net.ipv6.conf.all.forwarding=0
teardown
