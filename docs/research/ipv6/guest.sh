#!/usr/bin/env bash
# runs inside the qemu guest (switch_root'ed into the host's / under an overlay)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
printf '#!/bin/sh\nexec /bin/busybox modprobe "$@"\n' >/bin/busybox-modprobe; chmod +x /bin/busybox-modprobe
[[ -e /bin/busybox ]] || cp /usr/bin/busybox /bin/busybox
for m in crc32c_generic veth bridge nf_tables nfnetlink nf_conntrack nf_defrag_ipv4 nf_defrag_ipv6 \
  nf_reject_ipv4 nf_reject_ipv6 nf_nat nf_tables_bridge nft_ct nft_reject nft_reject_inet nft_reject_bridge \
  nft_reject_ipv4 nft_reject_ipv6 nft_meta_bridge nft_chain_nat nft_nat nft_masq nft_counter nft_hash \
  nft_fib nft_fib_inet nft_fib_ipv4 nft_fib_ipv6 nft_objref nf_conntrack_netlink af_packet; do
  busybox modprobe $m 2>/dev/null
done
echo /bin/busybox-modprobe >/proc/sys/kernel/modprobe
ip link set lo up
echo "### kernel $(uname -r) $(uname -v); nft: $(nft --version)"
for q in ${V6R_TESTS:-q1 q1b q2 q3 q4b q4c q5 q6 q6b q7 q7dbg}; do
  t0=$(date +%s)
  if [[ $q == q7dbg ]]; then /var/tmp/v6r/run.sh /var/tmp/v6r/q7dbg.sh ct > /out/$q.log 2>&1
  else /var/tmp/v6r/run.sh /var/tmp/v6r/$q.sh > /out/$q.log 2>&1; fi
  echo "### $q done in $(( $(date +%s) - t0 )) s"
done
