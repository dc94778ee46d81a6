nft -f /var/tmp/v6r/q6.nft || exit 1
try() { echo "--- $1 $2"; nft --debug=netlink add rule inet v6r $1 "$2" 2>&1 | grep -v "^inet v6r $1\$\|^\$"; }
try forward 'iifname . ip6 saddr @members6 jump from_container'
try forward 'meta nfproto ipv6 iifname @bridges drop'
try from_container 'ct state established ct direction reply accept'
try from_container 'ct state related ip6 saddr . ct original ip6 saddr @self6 accept'
try from_container 'ct state related ip6 saddr . ct reply ip6 saddr @self6 accept'
try from_container 'ip6 saddr . ip6 daddr . meta l4proto . th dport @egress6 accept'
try from_container 'ip6 saddr . ip6 daddr @grant_peer6 accept'
try from_container 'ip6 saddr vmap @src_ident6'
try from_container 'goto deny_src'
try from_container 'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept'
try proxy 'fib daddr type local meta l4proto tcp dnat ip6 to ip6 daddr . meta l4proto . th dport map @publish6'
try proxy 'iifname . ip6 saddr @members6 iifname . ip6 daddr != @members6 meta l4proto tcp dnat ip6 to ip6 saddr . tcp dport map @proxy6'
try postrouting 'ip6 saddr @masq6 oifname . ip6 daddr != @members6 masquerade'
try output 'icmpv6 type nd-redirect oifname . ip6 daddr @members6 drop'
try raw 'ip6 daddr ::1 iifname @bridges drop'
try to_container_dummy 'x' >/dev/null 2>&1
nft add chain inet v6r to_container
try to_container 'ct status dnat ip6 daddr . meta l4proto . th dport @published6 accept'
echo "--- add elements"
nft add element inet v6r egress6 '{ fd00:1::2 . 2001:db8::/32 . tcp . 443, fd00:1::2 . fd00:2::/64 . udp . 1000-2000 timeout 1h }' && echo egress6 ok
nft add element inet v6r publish6 '{ ::/0 . tcp . 8080 : fd00:1::2 . 80, 2001:db8::1 . udp . 53 : fd00:1::3 . 5353 }' && echo publish6 ok
nft add element inet v6r src_ident6 '{ fd00:1::2 : jump id_x }' && echo vmap ok
nft add element inet v6r members6 '{ "br0" . fd00:1::2 }' && echo members6 ok
nft add element inet v6r self6 '{ fd00:1::2 . fd00:1::2 }' && echo self6 ok
echo "--- a mixed-family set: ipv4 and ipv6 elements in one set (expect failure)"
nft add set inet v6r mixed '{ type ipv4_addr; }'; nft add element inet v6r mixed '{ fd00:1::2 }' 2>&1 | head -2
nft list table inet v6r
