try() { echo "--- $1"; nft --debug=netlink add rule bridge v6r c "$1" 2>&1 | grep -v '^bridge v6r c\|^$'; }
nft add table bridge v6r; nft add chain bridge v6r c
nft add set bridge v6r own6 '{ type ifname . ipv6_addr; }'
nft add set bridge v6r ownmac '{ type ifname . ether_addr; }'
nft add set bridge v6r t6 '{ typeof iifname . @th,64,128; }' && echo "typeof raw ok" 
try 'icmpv6 type nd-neighbor-advert iifname . @th,64,128 @own6 accept'
try 'icmpv6 type nd-neighbor-advert iifname . @th,64,128 != @own6 drop'
try 'icmpv6 type nd-neighbor-solicit @th,192,16 0x0101 iifname . @th,208,48 != @ownmac drop'
try 'icmpv6 type nd-neighbor-advert @th,192,16 0x0201 iifname . @th,208,48 != @ownmac drop'
try 'icmpv6 type { nd-router-solicit, nd-router-advert, nd-redirect, mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report } drop'
try 'icmpv6 type nd-router-advert drop'
try 'ether type ip6 udp sport 547 drop'
try 'meta l4proto udp th sport 547 drop'
try 'ip6 nexthdr ipv6-icmp icmpv6 type nd-redirect drop'
try 'ether type ip6 meta l4proto ipv6-icmp @th,0,8 137 drop'
try 'ether type ip6 ip6 saddr :: icmpv6 type nd-neighbor-solicit accept'
try 'ether type ip6 ip6 saddr fe80::/10 drop'
try 'ether type != { ip, arp, ip6 } drop'
nft list table bridge v6r
