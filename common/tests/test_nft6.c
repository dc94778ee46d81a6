/* SPDX-License-Identifier: Apache-2.0 */
/* The IPv6 half of the tables (docs/design.md, "IPv6") and a dual-stack
 * member's elements, as batches: built, parsed back with libnftnl,
 * compared with what nft 1.0.6 sends. No root and no kernel needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "kernel/nft.h"

#define MAX_MSGS 256
#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

struct msgs
{
  const struct nlmsghdr *v[MAX_MSGS];
  size_t n;
};

static void
collect (struct nftnl_batch *batch, struct msgs *m)
{
  int n = nftnl_batch_iovec_len (batch);
  struct iovec iov[n];

  m->n = 0;
  nftnl_batch_iovec (batch, iov, (uint32_t)n);
  for (int i = 0; i < n; i++)
    {
      const struct nlmsghdr *nlh = iov[i].iov_base;
      int len = (int)iov[i].iov_len;

      for (; mnl_nlmsg_ok (nlh, len); nlh = mnl_nlmsg_next (nlh, &len))
        {
          assert_true (m->n < MAX_MSGS);
          m->v[m->n++] = nlh;
        }
    }
}

static uint16_t
nft_type (const struct nlmsghdr *nlh)
{
  return NFNL_MSG_TYPE (nlh->nlmsg_type);
}

/* What nft 1.0.6 sends for the IPv6 half (`nft --debug=netlink -f` of
 * the ruleset.h listing's IPv6 rules, inet first, then bridge), but nft's
 * no-op byteorder after `meta l4proto`, and in the bridge's from_port6 the
 * `meta protocol ip6` dependency nft puts before an ip6 load: that chain is
 * entered only by `ether type ip6`. */
static const char *const expected_rules6[] = {
  "inet moat prerouting\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 16b @ network header + 8 => reg 2 ]\n"
  "  [ lookup reg 1 set members6 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ lookup reg 1 set members6 ]\n"
  "  [ immediate reg 0 jump -> same_bridge6 ]\n",
  "inet moat forward\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ meta load iifname => reg 2 ]\n"
  "  [ lookup reg 1 set node_nets6 ]\n"
  "  [ meta load iiftype => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ meta load iifname => reg 2 ]\n"
  "  [ payload load 6b @ link header + 6 => reg 3 ]\n"
  "  [ lookup reg 1 set node_routes6 0x1 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat forward\n"
  "  [ meta load iiftype => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 6b @ link header + 6 => reg 2 ]\n"
  "  [ lookup reg 1 set node_links6 ]\n"
  "  [ meta load oifname => reg 1 ]\n"
  "  [ lookup reg 1 set bridges ]\n"
  "  [ payload load 2b @ link header + 12 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000dd86 ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ meta load iifname => reg 2 ]\n"
  "  [ payload load 6b @ link header + 6 => reg 3 ]\n"
  "  [ lookup reg 1 set node_routes6 0x1 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat forward\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 16b @ network header + 8 => reg 2 ]\n"
  "  [ lookup reg 1 set members6 ]\n"
  "  [ immediate reg 0 jump -> from_container6 ]\n",
  "inet moat forward\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ lookup reg 1 set bridges ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat forward\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ meta load oifname => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ lookup reg 1 set members6 ]\n"
  "  [ immediate reg 0 jump -> to_container6 ]\n",
  "inet moat forward\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ meta load oifname => reg 1 ]\n"
  "  [ lookup reg 1 set bridges ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat input\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ meta load iifname => reg 2 ]\n"
  "  [ lookup reg 1 set node_nets6 ]\n"
  "  [ meta load iiftype => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ meta load iifname => reg 2 ]\n"
  "  [ payload load 6b @ link header + 6 => reg 3 ]\n"
  "  [ lookup reg 1 set node_routes6 0x1 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat input\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 16b @ network header + 8 => reg 2 ]\n"
  "  [ lookup reg 1 set members6 ]\n"
  "  [ immediate reg 0 jump -> to_host6 ]\n",
  "inet moat input\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ lookup reg 1 set bridges ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat output\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000003a ]\n"
  "  [ payload load 1b @ transport header + 0 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000089 ]\n"
  "  [ meta load oifname => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ lookup reg 1 set members6 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat from_container6\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000002 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ ct load direction => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container6\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000004 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ ct load src_ip6 => reg 2 , dir original ]\n"
  "  [ lookup reg 1 set self6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container6\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000004 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ ct load src_ip6 => reg 2 , dir reply ]\n"
  "  [ lookup reg 1 set self6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container6\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000001 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat from_container6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ lookup reg 1 set members6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ meta load oifname => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ lookup reg 1 set members6 ]\n"
  "  [ immediate reg 0 goto -> to_peer6 ]\n",
  "inet moat from_container6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 24 => reg 1 ]\n"
  "  [ meta load oifname => reg 2 ]\n"
  "  [ lookup reg 1 set node_nets6 ]\n"
  "  [ immediate reg 0 goto -> to_peer6 ]\n",
  "inet moat from_container6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ meta load l4proto => reg 3 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 17 ]\n"
  "  [ lookup reg 1 set proxied6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ meta load l4proto => reg 3 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 17 ]\n"
  "  [ lookup reg 1 set grant_egress6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ meta load l4proto => reg 3 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 17 ]\n"
  "  [ lookup reg 1 set egress_deny6 ]\n"
  "  [ immediate reg 0 goto -> deny_src6 ]\n",
  "inet moat from_container6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ lookup reg 1 set internet6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ meta load l4proto => reg 3 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 17 ]\n"
  "  [ lookup reg 1 set egress6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container6\n"
  "  [ immediate reg 0 goto -> deny_src6 ]\n",
  "inet moat to_peer6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ lookup reg 1 set grant_peer6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_peer6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ lookup reg 1 set src_ident6 dreg 0 ]\n",
  "inet moat to_peer6\n"
  "  [ immediate reg 0 goto -> deny_src6 ]\n",
  "inet moat same_bridge6\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000002 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ ct load direction => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat same_bridge6\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000004 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ ct load src_ip6 => reg 2 , dir original ]\n"
  "  [ lookup reg 1 set self6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat same_bridge6\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000004 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ ct load src_ip6 => reg 2 , dir reply ]\n"
  "  [ lookup reg 1 set self6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat same_bridge6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ lookup reg 1 set grant_peer6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat same_bridge6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ lookup reg 1 set src_ident6 dreg 0 ]\n",
  "inet moat same_bridge6\n"
  "  [ immediate reg 0 goto -> deny_src6 ]\n",
  "inet moat to_container6\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000002 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ ct load direction => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_container6\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000004 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_container6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ meta load iifname => reg 2 ]\n"
  "  [ lookup reg 1 set node_nets6 ]\n"
  "  [ immediate reg 0 goto -> to_peer6 ]\n",
  "inet moat to_container6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ meta load l4proto => reg 3 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 17 ]\n"
  "  [ lookup reg 1 set ingress_deny6 ]\n"
  "  [ immediate reg 0 goto -> deny_dst6 ]\n",
  "inet moat to_container6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ meta load l4proto => reg 3 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 17 ]\n"
  "  [ lookup reg 1 set grant_ingress6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_container6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ meta load l4proto => reg 3 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 17 ]\n"
  "  [ lookup reg 1 set ingress6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_container6\n"
  "  [ ct load status => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000020 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 24 => reg 1 ]\n"
  "  [ meta load l4proto => reg 2 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 13 ]\n"
  "  [ lookup reg 1 set published6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_container6\n"
  "  [ immediate reg 0 goto -> deny_dst6 ]\n",
  "inet moat to_host6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000003a ]\n"
  "  [ payload load 1b @ transport header + 0 => reg 1 ]\n"
  "  [ cmp gte reg 1 0x00000087 ]\n"
  "  [ cmp lte reg 1 0x00000088 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_host6\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000002 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ ct load direction => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_host6\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000004 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ ct load src_ip6 => reg 2 , dir original ]\n"
  "  [ lookup reg 1 set self6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_host6\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000004 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ ct load src_ip6 => reg 2 , dir reply ]\n"
  "  [ lookup reg 1 set self6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_host6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ meta load l4proto => reg 2 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 13 ]\n"
  "  [ lookup reg 1 set host_grants6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_host6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ meta load l4proto => reg 2 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 13 ]\n"
  "  [ lookup reg 1 set grant_host6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_host6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ meta load l4proto => reg 3 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 17 ]\n"
  "  [ lookup reg 1 set proxied6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_host6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ meta load l4proto => reg 3 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 17 ]\n"
  "  [ lookup reg 1 set resolvers6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_host6\n"
  "  [ immediate reg 0 goto -> deny_src6 ]\n",
  "inet moat deny_src6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ lookup reg 1 set refused_out6 ]\n",
  "inet moat deny_src6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 24 => reg 1 ]\n"
  "  [ lookup reg 1 set refused_in6 ]\n",
  "inet moat deny_src6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ lookup reg 1 set logged6 ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ dynset update reg_key 1 set log_rate6 expr [ limit rate 10/second burst 20 type packets "
  "flags 0x0 ] ]\n"
  "  [ log group 6177 snaplen 0 qthreshold 0 ]\n",
  "inet moat deny_src6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ lookup reg 1 set quiet6 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat deny_src6\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000006 ]\n"
  "  [ reject type 1 code 0 ]\n",
  "inet moat deny_src6\n"
  "  [ reject type 2 code 3 ]\n",
  "inet moat deny_dst6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 24 => reg 1 ]\n"
  "  [ lookup reg 1 set refused_in6 ]\n",
  "inet moat deny_dst6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 24 => reg 1 ]\n"
  "  [ lookup reg 1 set logged6 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 1 ]\n"
  "  [ dynset update reg_key 1 set log_rate6 expr [ limit rate 10/second burst 20 type packets "
  "flags 0x0 ] ]\n"
  "  [ log group 6177 snaplen 0 qthreshold 0 ]\n",
  "inet moat deny_dst6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 24 => reg 1 ]\n"
  "  [ lookup reg 1 set quiet6 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat deny_dst6\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000006 ]\n"
  "  [ reject type 1 code 0 ]\n",
  "inet moat deny_dst6\n"
  "  [ reject type 2 code 3 ]\n",
  "inet moat proxy\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 16b @ network header + 8 => reg 2 ]\n"
  "  [ lookup reg 1 set members6 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ lookup reg 1 set members6 0x1 ]\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000006 ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 2 ]\n"
  "  [ lookup reg 1 set proxy6 dreg 1 ]\n"
  "  [ nat dnat ip6 addr_min reg 1 proto_min reg 2 ]\n",
  "inet moat proxy\n"
  "  [ fib daddr type => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000006 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 24 => reg 1 ]\n"
  "  [ meta load l4proto => reg 2 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 13 ]\n"
  "  [ lookup reg 1 set publish6 dreg 1 ]\n"
  "  [ nat dnat ip6 addr_min reg 1 proto_min reg 2 ]\n",
  "inet moat proxy\n"
  "  [ fib daddr type => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000011 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 24 => reg 1 ]\n"
  "  [ meta load l4proto => reg 2 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 13 ]\n"
  "  [ lookup reg 1 set publish6 dreg 1 ]\n"
  "  [ nat dnat ip6 addr_min reg 1 proto_min reg 2 ]\n",
  "inet moat postrouting\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ lookup reg 1 set masq6 ]\n"
  "  [ meta load oifname => reg 1 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 2 ]\n"
  "  [ lookup reg 1 set members6 0x1 ]\n"
  "  [ masq ]\n",
  "inet moat publish_out\n"
  "  [ fib daddr type => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000006 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 24 => reg 1 ]\n"
  "  [ meta load l4proto => reg 2 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 13 ]\n"
  "  [ lookup reg 1 set publish6 dreg 1 ]\n"
  "  [ nat dnat ip6 addr_min reg 1 proto_min reg 2 ]\n",
  "inet moat publish_out\n"
  "  [ fib daddr type => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000011 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 24 => reg 1 ]\n"
  "  [ meta load l4proto => reg 2 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 13 ]\n"
  "  [ lookup reg 1 set publish6 dreg 1 ]\n"
  "  [ nat dnat ip6 addr_min reg 1 proto_min reg 2 ]\n",
  "inet moat count_forward\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ lookup reg 1 set allowed_out6 ]\n",
  "inet moat count_forward\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 24 => reg 1 ]\n"
  "  [ lookup reg 1 set allowed_in6 ]\n",
  "inet moat count_input\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ lookup reg 1 set allowed_out6 ]\n",
  "inet moat hostnet_output\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ socket load cgroupv2 => reg 1 ]\n"
  "  [ lookup reg 1 set hostnet ]\n"
  "  [ immediate reg 0 goto -> hostnet_out6 ]\n",
  "inet moat hostnet_input\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ socket load cgroupv2 => reg 1 ]\n"
  "  [ lookup reg 1 set hostnet ]\n"
  "  [ immediate reg 0 goto -> hostnet_in6 ]\n",
  "inet moat hostnet_out6\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000006 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat hostnet_out6\n"
  "  [ meta load oifname => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00006f6c 0x00000000 0x00000000 0x00000000 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat hostnet_out6\n"
  "  [ socket load cgroupv2 => reg 1 ]\n"
  "  [ lookup reg 1 set hostnet_ident6 dreg 0 ]\n",
  "inet moat hostnet_out6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ socket load cgroupv2 => reg 1 ]\n"
  "  [ byteorder reg 1 = hton(reg 1, 8, 8) ]\n"
  "  [ payload load 16b @ network header + 24 => reg 10 ]\n"
  "  [ meta load l4proto => reg 14 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 15 ]\n"
  "  [ lookup reg 1 set hostnet_egress6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat hostnet_out6\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000006 ]\n"
  "  [ reject type 1 code 0 ]\n",
  "inet moat hostnet_out6\n"
  "  [ reject type 2 code 3 ]\n",
  "inet moat hostnet_in6\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000006 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat hostnet_in6\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00006f6c 0x00000000 0x00000000 0x00000000 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat hostnet_in6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 16b @ network header + 8 => reg 2 ]\n"
  "  [ lookup reg 1 set members6 ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ socket load cgroupv2 => reg 2 ]\n"
  "  [ lookup reg 1 set hostnet_peers6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat hostnet_in6\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000000a ]\n"
  "  [ payload load 16b @ network header + 8 => reg 1 ]\n"
  "  [ socket load cgroupv2 => reg 2 ]\n"
  "  [ byteorder reg 2 = hton(reg 2, 8, 8) ]\n"
  "  [ meta load l4proto => reg 14 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 15 ]\n"
  "  [ lookup reg 1 set hostnet_ingress6 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat hostnet_in6\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000006 ]\n"
  "  [ reject type 1 code 0 ]\n",
  "inet moat hostnet_in6\n"
  "  [ reject type 2 code 3 ]\n",
  "bridge moat prerouting\n"
  "  [ payload load 2b @ link header + 12 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000dd86 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ lookup reg 1 set guarded ]\n"
  "  [ immediate reg 0 jump -> from_port6 ]\n",
  "bridge moat from_port6\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 6b @ link header + 6 => reg 2 ]\n"
  "  [ payload load 16b @ network header + 8 => reg 14 ]\n"
  "  [ lookup reg 1 set ports6 0x1 ]\n"
  "  [ immediate reg 0 drop ]\n",
  /* nft --debug=netlink of exthdr frag exists ip6 daddr fe80::/10 drop,
   * and of ... ff00::/8 (nft 1.0.6) */
  "bridge moat from_port6\n"
  "  [ exthdr load ipv6 1b @ 44 + 0 present => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ payload load 16b @ network header + 24 => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x0000c0ff 0x00000000 0x00000000 0x00000000 ) ^ 0x00000000 "
  "0x00000000 0x00000000 0x00000000 ]\n"
  "  [ cmp eq reg 1 0x000080fe 0x00000000 0x00000000 0x00000000 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "bridge moat from_port6\n"
  "  [ exthdr load ipv6 1b @ 44 + 0 present => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ payload load 1b @ network header + 24 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x000000ff ]\n"
  "  [ immediate reg 0 drop ]\n",
  "bridge moat from_port6\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000003a ]\n"
  "  [ payload load 1b @ transport header + 0 => reg 1 ]\n"
  "  [ cmp gte reg 1 0x00000082 ]\n"
  "  [ cmp lte reg 1 0x00000086 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "bridge moat from_port6\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000003a ]\n"
  "  [ payload load 1b @ transport header + 0 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000089 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "bridge moat from_port6\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000003a ]\n"
  "  [ payload load 1b @ transport header + 0 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000008f ]\n"
  "  [ immediate reg 0 drop ]\n",
  "bridge moat from_port6\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000003a ]\n"
  "  [ payload load 1b @ transport header + 0 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000088 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 6b @ link header + 6 => reg 2 ]\n"
  "  [ payload load 16b @ transport header + 8 => reg 14 ]\n"
  "  [ lookup reg 1 set ports6 0x1 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "bridge moat from_port6\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000003a ]\n"
  "  [ payload load 1b @ transport header + 0 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000087 ]\n"
  "  [ payload load 2b @ transport header + 24 => reg 1 ]\n"
  "  [ cmp neq reg 1 0x00000101 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "bridge moat from_port6\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000003a ]\n"
  "  [ payload load 1b @ transport header + 0 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000088 ]\n"
  "  [ payload load 2b @ transport header + 24 => reg 1 ]\n"
  "  [ cmp neq reg 1 0x00000102 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "bridge moat from_port6\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000003a ]\n"
  "  [ payload load 1b @ transport header + 0 => reg 1 ]\n"
  "  [ cmp gte reg 1 0x00000087 ]\n"
  "  [ cmp lte reg 1 0x00000088 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 6b @ transport header + 26 => reg 2 ]\n"
  "  [ payload load 16b @ network header + 8 => reg 14 ]\n"
  "  [ lookup reg 1 set ports6 0x1 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "bridge moat from_port6\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000011 ]\n"
  "  [ payload load 2b @ transport header + 0 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00002302 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "bridge moat from_port6\n"
  "  [ immediate reg 0 accept ]\n",
};

static struct nftnl_batch *
half6_batch (struct msgs *m)
{
  moat_err_t err = { 0 };
  struct nftnl_batch *batch = moat_nft_build_half6 (100, &err);

  assert_non_null (batch);
  collect (batch, m);
  return batch;
}

/* No table: the IPv6 half goes into the tables that are there, guarded
 * against a racing creator by NLM_F_EXCL on its first set of each table. */
static void
test_half6_objects (void **state)
{
  struct msgs m;
  struct nftnl_batch *batch = half6_batch (&m);
  size_t sets = 0, chains = 0, rules = 0, excl = 0;

  for (size_t i = 1; i < m.n - 1; i++)
    {
      struct nftnl_set *s;

      assert_int_not_equal (nft_type (m.v[i]), NFT_MSG_NEWTABLE);
      chains += nft_type (m.v[i]) == NFT_MSG_NEWCHAIN;
      rules += nft_type (m.v[i]) == NFT_MSG_NEWRULE;
      if (nft_type (m.v[i]) != NFT_MSG_NEWSET)
        continue;
      sets++;
      s = nftnl_set_alloc ();
      assert_int_equal (nftnl_set_nlmsg_parse (m.v[i], s), 0);
      if (m.v[i]->nlmsg_flags & NLM_F_EXCL)
        {
          const char *name = nftnl_set_get_str (s, NFTNL_SET_NAME);

          assert_true (strcmp (name, "members6") == 0 || strcmp (name, "ports6") == 0);
          excl++;
        }
      assert_int_equal (nftnl_set_get_str (s, NFTNL_SET_NAME)[0] != '\0', 1);
      nftnl_set_free (s);
    }
  /* 33 inet twins (4 counted, 4 host-network, 3 of the node sets) and
   * ports6; 9 regular chain twins and from_port6. */
  assert_int_equal (sets, 34);
  assert_int_equal (excl, 2);
  assert_int_equal (chains, 10);
  assert_int_equal (rules, ARRAY_SIZE (expected_rules6));
  nftnl_batch_free (batch);
}

/* Each rule, printed by libnftnl, reads as nft's own; the bridge's jump
 * to from_port6 goes to its chain's head (no NLM_F_APPEND). */
static void
test_half6_rules_match_nft (void **state)
{
  struct msgs m;
  struct nftnl_batch *batch = half6_batch (&m);
  size_t seen = 0;
  char buf[4096];

  for (size_t i = 1; i < m.n - 1; i++)
    {
      struct nftnl_rule *r;
      bool head;

      if (nft_type (m.v[i]) != NFT_MSG_NEWRULE)
        continue;
      assert_true (seen < ARRAY_SIZE (expected_rules6));
      r = nftnl_rule_alloc ();
      assert_int_equal (nftnl_rule_nlmsg_parse (m.v[i], r), 0);
      nftnl_rule_snprintf (buf, sizeof (buf), r, NFTNL_OUTPUT_DEFAULT, 0);
      assert_string_equal (buf, expected_rules6[seen]);
      head = strstr (buf, "jump -> from_port6") || strstr (buf, "goto -> hostnet_out6 ]")
             || strstr (buf, "goto -> hostnet_in6 ]");
      assert_int_equal (!(m.v[i]->nlmsg_flags & NLM_F_APPEND), head);
      seen++;
      nftnl_rule_free (r);
    }
  assert_int_equal (seen, ARRAY_SIZE (expected_rules6));
  nftnl_batch_free (batch);
}

/* The IPv4 layout is as it was: no set, chain or rule of the IPv6 half. */
static void
test_tables_ipv4_only (void **state)
{
  moat_err_t err = { 0 };
  struct nftnl_batch *batch = moat_nft_build_tables (1, &err);
  struct msgs m;
  char buf[4096];

  assert_non_null (batch);
  collect (batch, &m);
  for (size_t i = 1; i < m.n - 1; i++)
    if (nft_type (m.v[i]) == NFT_MSG_NEWRULE)
      {
        struct nftnl_rule *r = nftnl_rule_alloc ();

        assert_int_equal (nftnl_rule_nlmsg_parse (m.v[i], r), 0);
        nftnl_rule_snprintf (buf, sizeof (buf), r, NFTNL_OUTPUT_DEFAULT, 0);
        assert_null (strstr (buf, "0x0000000a"));
        assert_null (strstr (nftnl_rule_get_str (r, NFTNL_RULE_CHAIN), "6"));
        nftnl_rule_free (r);
      }
  nftnl_batch_free (batch);
}

/* --- a dual-stack member's elements -------------------------------------------------- */

static struct moat_nft_member
member6 (void)
{
  struct moat_nft_member m = { .bridge = "moat0",
                               .host_ifname = "vethab12",
                               .mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a },
                               .internet = true,
                               .dns = true,
                               .have_addr6 = true };

  inet_pton (AF_INET, "10.1.0.2", &m.addr);
  inet_pton (AF_INET, "10.1.0.1", &m.gateway);
  inet_pton (AF_INET6, "fd00:1::2", &m.addr6);
  inet_pton (AF_INET6, "fd00:1::1", &m.gateway6);
  return m;
}

static void
formatted (const struct moat_nft_member *m, char lines[][160], size_t *n)
{
  struct moat_nft_elems *l = moat_nft_elems_new ();
  moat_err_t err = { 0 };

  assert_non_null (l);
  assert_int_equal (moat_nft_elems_member (l, m, &err), 0);
  *n = moat_nft_elems_count (l);
  for (size_t i = 0; i < *n; i++)
    moat_nft_elems_format (l, i, lines[i], 160);
  moat_nft_elems_free (l);
}

static bool
has_line (char lines[][160], size_t n, const char *want)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (lines[i], want) == 0)
      return true;
  return false;
}

static void
test_member6_elems (void **state)
{
  struct moat_nft_member m = member6 ();
  static const char *const want[] = {
    "members6: \"moat0\" . fd00:1::2",
    "self6: fd00:1::2 . fd00:1::2",
    "internet6: fd00:1::2",
    "resolvers6: \"moat0\" . fd00:1::1 . udp . 53",
    "resolvers6: \"moat0\" . fd00:1::1 . tcp . 53",
    "ports6: \"vethab12\" . 02:00:00:00:00:0a . fd00:1::2",
    /* the EUI-64 link-local of the MAC */
    "ports6: \"vethab12\" . 02:00:00:00:00:0a . fe80::ff:fe00:a",
    /* its counters, at zero */
    "allowed_out6: fd00:1::2",
    "allowed_in6: fd00:1::2",
    "refused_out6: fd00:1::2",
    "refused_in6: fd00:1::2",
  };
  char lines[32][160];
  size_t n, n4;

  formatted (&m, lines, &n);
  for (size_t i = 0; i < ARRAY_SIZE (want); i++)
    if (!has_line (lines, n, want[i]))
      fail_msg ("missing %s", want[i]);
  m.have_addr6 = false;
  formatted (&m, lines, &n4);
  assert_int_equal (n, n4 + ARRAY_SIZE (want));
  for (size_t i = 0; i < n4; i++)
    assert_null (strstr (lines[i], "6:"));
}

/* A deletion takes every IPv6 flag element too, and not the network's. */
static void
test_member6_delete (void **state)
{
  struct moat_nft_member m = member6 ();
  struct moat_nft_member m4 = m;
  struct nftnl_batch *b6, *b4;
  moat_err_t err = { 0 };
  struct msgs x6, x4;

  m4.have_addr6 = false;
  b6 = moat_nft_build_member (&m, false, 1, &err);
  b4 = moat_nft_build_member (&m4, false, 1, &err);
  assert_non_null (b6);
  assert_non_null (b4);
  collect (b6, &x6);
  collect (b4, &x4);
  /* members6, self6, quiet6, internet6, masq6, logged6, log_rate6, ports6 x2, the 4 counted */
  assert_int_equal (x6.n - x4.n, 13);
  nftnl_batch_free (b6);
  nftnl_batch_free (b4);
}

/* --- the IPv6 twins of policy elements ----------------------------------------------- */

static int
addr6_of (struct in_addr addr, struct in6_addr *ret, void *data)
{
  char text[INET_ADDRSTRLEN], six[64];

  inet_ntop (AF_INET, &addr, text, sizeof (text));
  if (strncmp (text, "10.1.0.", 7) != 0 || strcmp (text, "10.1.0.9") == 0)
    return 0; /* an outside address; 10.1.0.9: an IPv4-only container */
  snprintf (six, sizeof (six), "fd00:1::%s", text + 7);
  return inet_pton (AF_INET6, six, ret);
}

static struct in_addr
a4 (const char *text)
{
  struct in_addr a;

  assert_int_equal (inet_pton (AF_INET, text, &a), 1);
  return a;
}

static void
test_twin6 (void **state)
{
  struct moat_nft_elems *in = moat_nft_elems_new (), *out = moat_nft_elems_new ();
  struct moat_ports tcp443 = { IPPROTO_TCP, 443, 443 };
  struct moat_acl outside = { .addr = a4 ("192.0.2.0"), .prefixlen = 24, .ports = tcp443 };
  struct moat_acl any = { .addr = a4 ("0.0.0.0"), .prefixlen = 0, .ports = tcp443 };
  struct moat_acl peer = { .addr = a4 ("10.1.0.3"), .prefixlen = 32, .ports = tcp443 };
  static const char *const want[] = {
    "egress6: fd00:1::2 . ::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff . tcp . 443",
    "egress6: fd00:1::2 . fd00:1::3 . tcp . 443",
    "internet6: fd00:1::2",
    "src_ident6: fd00:1::2 : jump id_a0a06",
    "id_a0a06: fd00:1::3",
    "proxy6: fd00:1::2 . 80 : fd00:1::4 . 3128",
    "proxy6: fd00:1::2 . 443 : 2001:db8::5 . 3128",
    "proxied6: fd00:1::2 . 2001:db8::5 . tcp . 3128",
    "grant_peer6: fd00:1::2 . fd00:1::3",
    "publish6: ::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff . tcp . 8443 : fd00:1::2 . 80",
  };
  char line[256];

  assert_non_null (in);
  assert_non_null (out);
  assert_int_equal (moat_nft_elems_acl (in, MOAT_NFT_EGRESS, a4 ("10.1.0.2"), &outside), 0);
  assert_int_equal (moat_nft_elems_acl (in, MOAT_NFT_EGRESS, a4 ("10.1.0.2"), &any), 0);
  assert_int_equal (moat_nft_elems_acl (in, MOAT_NFT_EGRESS, a4 ("10.1.0.2"), &peer), 0);
  assert_int_equal (moat_nft_elems_internet (in, a4 ("10.1.0.2")), 0);
  assert_int_equal (moat_nft_elems_ident_member (in, a4 ("10.1.0.2"), "a0a0"), 0);
  assert_int_equal (moat_nft_elems_ident_reach (in, "a0a0", a4 ("10.1.0.3")), 0);
  assert_int_equal (moat_nft_elems_ident_reach (in, "a0a0", a4 ("10.1.0.9")), 0);
  assert_int_equal (moat_nft_elems_proxy (in, a4 ("10.1.0.2"), 80, a4 ("10.1.0.4"), 3128), 0);
  assert_int_equal (moat_nft_elems_proxy (in, a4 ("10.1.0.2"), 81, a4 ("192.0.2.50"), 3128), 0);
  assert_int_equal (moat_nft_elems_grant_peer (in, a4 ("10.1.0.2"), a4 ("10.1.0.3"), 60000), 0);
  assert_int_equal (moat_nft_elems_grant_peer (in, a4 ("10.1.0.2"), a4 ("10.1.0.9"), 0), 0);
  assert_int_equal (
      moat_nft_elems_publish (in, a4 ("0.0.0.0"), false, IPPROTO_TCP, 8443, a4 ("10.1.0.2"), 80),
      0);
  assert_int_equal (
      moat_nft_elems_publish (in, a4 ("192.168.0.10"), false, IPPROTO_UDP, 53, a4 ("10.1.0.2"), 53),
      0);
  /* An IPv6 proxy waits for the container's IPv6 address; one of a
   * container without (10.1.0.9) makes nothing. */
  {
    struct in6_addr p6;

    assert_int_equal (inet_pton (AF_INET6, "2001:db8::5", &p6), 1);
    assert_int_equal (moat_nft_elems_proxy_wait6 (in, a4 ("10.1.0.2"), 443, &p6, 3128), 0);
    assert_int_equal (moat_nft_elems_proxy_wait6 (in, a4 ("10.1.0.2"), 0, &p6, 3128), 0);
    assert_int_equal (moat_nft_elems_proxy_wait6 (in, a4 ("10.1.0.9"), 443, &p6, 3128), 0);
  }
  assert_int_equal (moat_nft_elems_twin6 (out, in, addr6_of, NULL), 0);
  for (size_t i = 0; i < moat_nft_elems_count (out); i++)
    {
      moat_nft_elems_format (out, i, line, sizeof (line));
      print_message ("# %s\n", line);
    }
  assert_int_equal (moat_nft_elems_count (out), ARRAY_SIZE (want));
  for (size_t i = 0; i < ARRAY_SIZE (want); i++)
    {
      bool found = false;

      for (size_t k = 0; k < moat_nft_elems_count (out) && !found; k++)
        {
          moat_nft_elems_format (out, k, line, sizeof (line));
          found = strcmp (line, want[i]) == 0;
        }
      if (!found)
        fail_msg ("missing %s", want[i]);
    }
  /* in place: the same twins after the originals */
  {
    size_t n4 = moat_nft_elems_count (in);

    assert_int_equal (moat_nft_elems_twin6 (in, in, addr6_of, NULL), 0);
    assert_int_equal (moat_nft_elems_count (in), n4 + ARRAY_SIZE (want));
    for (size_t k = 0; k < ARRAY_SIZE (want); k++)
      {
        char a[256], b[256];

        moat_nft_elems_format (in, n4 + k, a, sizeof (a));
        moat_nft_elems_format (out, k, b, sizeof (b));
        assert_string_equal (a, b);
      }
  }
  /* the grant's timeout goes with its twin */
  for (size_t k = 0; k < moat_nft_elems_count (out); k++)
    if (moat_elem_set (moat_nft_elems_at (out, k)) == MOAT_SET_GRANT_PEER6)
      assert_int_equal (moat_nft_elems_at (out, k)->timeout_ms, 60000);
  moat_nft_elems_free (in);
  moat_nft_elems_free (out);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_half6_objects),    cmocka_unit_test (test_half6_rules_match_nft),
    cmocka_unit_test (test_tables_ipv4_only), cmocka_unit_test (test_member6_elems),
    cmocka_unit_test (test_member6_delete),   cmocka_unit_test (test_twin6),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
