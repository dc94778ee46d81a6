nft add table inet v6r; nft add chain inet v6r deny_src
for r in 'meta l4proto tcp reject with tcp reset' 'reject with icmpx admin-prohibited' 'reject with icmpv6 admin-prohibited' 'ip6 daddr fe80::/64 drop'; do echo "--- $r"; nft --debug=netlink add rule inet v6r deny_src "$r" 2>&1 | grep -v '^inet v6r\|^$'; done
echo "--- ct keys (uapi): "; grep -n 'NFT_CT_SRC_IP6\|NFT_CT_SRC_IP,\|NFT_CT_SRC\b' /var/tmp/v6r/src/linux-source-6.1/include/uapi/linux/netfilter/nf_tables.h
