/* SPDX-License-Identifier: Apache-2.0 */
/* nftables batch builders: build, parse back with libnftnl, compare. No
 * root and no kernel needed. */
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
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "kernel/nft.h"

#define MSG_DESTROYSETELEM 30 /* kernel's NFT_MSG_DESTROYSETELEM (Linux 6.3) */
#define MAX_MSGS 160

/* The messages of a batch, in order. */
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
      assert_int_equal (len, 0); /* no trailing garbage */
    }
}

static uint16_t
nft_type (const struct nlmsghdr *nlh)
{
  assert_int_equal (NFNL_SUBSYS_ID (nlh->nlmsg_type), NFNL_SUBSYS_NFTABLES);
  return NFNL_MSG_TYPE (nlh->nlmsg_type);
}

static uint8_t
family_of (const struct nlmsghdr *nlh)
{
  const struct nfgenmsg *g = mnl_nlmsg_get_payload (nlh);
  return g->nfgen_family;
}

/* Begin and end frame the batch, sequence numbers count up from `seq`, and
 * every message in between asks for an ack. */
static void
assert_framed (const struct msgs *m, uint32_t seq)
{
  assert_true (m->n >= 2);
  assert_int_equal (m->v[0]->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
  assert_int_equal (m->v[m->n - 1]->nlmsg_type, NFNL_MSG_BATCH_END);
  for (size_t i = 0; i < m->n; i++)
    {
      assert_int_equal (m->v[i]->nlmsg_seq, seq + i);
      if (i > 0 && i < m->n - 1)
        assert_true (m->v[i]->nlmsg_flags & NLM_F_ACK);
    }
}

/* What nft 1.0.6 itself sends for the layout in ruleset/ruleset.h, as `nft
 * --debug=netlink list` printed it after `nft -f` of the same layout. Only nft's
 * no-op `byteorder reg = hton(reg, 2, 1)` after `meta l4proto` is left
 * out: on a 1-byte value it swaps nothing. */
static const char *const expected_rules[] = {
  "inet moat raw\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ lookup reg 1 set guarded ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat raw\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 1b @ network header + 16 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000007f ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ lookup reg 1 set bridges ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat prerouting\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000002 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ ct load direction => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat prerouting\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 2 ]\n"
  "  [ lookup reg 1 set members ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 2 ]\n"
  "  [ lookup reg 1 set members ]\n"
  "  [ immediate reg 0 jump -> same_bridge ]\n",
  "inet moat forward\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ meta load iifname => reg 9 ]\n"
  "  [ lookup reg 1 set node_nets ]\n"
  "  [ meta load iiftype => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ meta load iifname => reg 9 ]\n"
  "  [ payload load 6b @ link header + 6 => reg 13 ]\n"
  "  [ lookup reg 1 set node_routes 0x1 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat forward\n"
  "  [ meta load iiftype => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 6b @ link header + 6 => reg 2 ]\n"
  "  [ lookup reg 1 set node_links ]\n"
  "  [ meta load oifname => reg 1 ]\n"
  "  [ lookup reg 1 set bridges ]\n"
  "  [ payload load 2b @ link header + 12 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000008 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ meta load iifname => reg 9 ]\n"
  "  [ payload load 6b @ link header + 6 => reg 13 ]\n"
  "  [ lookup reg 1 set node_routes 0x1 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat forward\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 2 ]\n"
  "  [ lookup reg 1 set members ]\n"
  "  [ immediate reg 0 jump -> from_container ]\n",
  "inet moat forward\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ lookup reg 1 set bridges ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat forward\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load oifname => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 2 ]\n"
  "  [ lookup reg 1 set members ]\n"
  "  [ immediate reg 0 jump -> to_container ]\n",
  "inet moat input\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000011 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000b512 ]\n"
  "  [ payload load 4b @ transport header + 12 => reg 1 ]\n"
  "  [ lookup reg 1 set node_vnis ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ payload load 4b @ transport header + 12 => reg 9 ]\n"
  "  [ lookup reg 1 set node_vteps 0x1 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat input\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ meta load iifname => reg 9 ]\n"
  "  [ lookup reg 1 set node_nets ]\n"
  "  [ meta load iiftype => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ meta load iifname => reg 9 ]\n"
  "  [ payload load 6b @ link header + 6 => reg 13 ]\n"
  "  [ lookup reg 1 set node_routes 0x1 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat input\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 2 ]\n"
  "  [ lookup reg 1 set members ]\n"
  "  [ immediate reg 0 jump -> to_host ]\n",
  "inet moat input\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ lookup reg 1 set bridges ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat output\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ payload load 1b @ transport header + 0 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000005 ]\n"
  "  [ meta load oifname => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 2 ]\n"
  "  [ lookup reg 1 set members ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat from_container\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000002 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ ct load direction => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000004 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ ct load src_ip => reg 9 , dir original ]\n"
  "  [ lookup reg 1 set self ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000004 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ ct load src_ip => reg 9 , dir reply ]\n"
  "  [ lookup reg 1 set self ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000001 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat from_container\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 2 ]\n"
  "  [ lookup reg 1 set members ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load oifname => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 2 ]\n"
  "  [ lookup reg 1 set members ]\n"
  "  [ immediate reg 0 goto -> to_peer ]\n",
  "inet moat from_container\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 1 ]\n"
  "  [ meta load oifname => reg 9 ]\n"
  "  [ lookup reg 1 set node_nets ]\n"
  "  [ immediate reg 0 goto -> to_peer ]\n",
  "inet moat from_container\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
  "  [ meta load l4proto => reg 10 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 11 ]\n"
  "  [ lookup reg 1 set proxied ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
  "  [ meta load l4proto => reg 10 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 11 ]\n"
  "  [ lookup reg 1 set grant_egress ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
  "  [ meta load l4proto => reg 10 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 11 ]\n"
  "  [ lookup reg 1 set egress_deny ]\n"
  "  [ immediate reg 0 goto -> deny_src ]\n",
  "inet moat from_container\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ lookup reg 1 set internet ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
  "  [ meta load l4proto => reg 10 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 11 ]\n"
  "  [ lookup reg 1 set egress ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat from_container\n"
  "  [ immediate reg 0 goto -> deny_src ]\n",
  "inet moat to_peer\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
  "  [ lookup reg 1 set grant_peer ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_peer\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ lookup reg 1 set src_ident dreg 0 ]\n",
  "inet moat to_peer\n"
  "  [ immediate reg 0 goto -> deny_src ]\n",
  "inet moat same_bridge\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000002 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ ct load direction => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat same_bridge\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000004 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ ct load src_ip => reg 9 , dir original ]\n"
  "  [ lookup reg 1 set self ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat same_bridge\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000004 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ ct load src_ip => reg 9 , dir reply ]\n"
  "  [ lookup reg 1 set self ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat same_bridge\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
  "  [ lookup reg 1 set grant_peer ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat same_bridge\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ lookup reg 1 set src_ident dreg 0 ]\n",
  "inet moat same_bridge\n"
  "  [ immediate reg 0 goto -> deny_src ]\n",
  "inet moat to_container\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000002 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ ct load direction => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_container\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000004 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_container\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ meta load iifname => reg 9 ]\n"
  "  [ lookup reg 1 set node_nets ]\n"
  "  [ immediate reg 0 goto -> to_peer ]\n",
  "inet moat to_container\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
  "  [ meta load l4proto => reg 10 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 11 ]\n"
  "  [ lookup reg 1 set ingress_deny ]\n"
  "  [ immediate reg 0 goto -> deny_dst ]\n",
  "inet moat to_container\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
  "  [ meta load l4proto => reg 10 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 11 ]\n"
  "  [ lookup reg 1 set grant_ingress ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_container\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
  "  [ meta load l4proto => reg 10 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 11 ]\n"
  "  [ lookup reg 1 set ingress ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_container\n"
  "  [ ct load status => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000020 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 1 ]\n"
  "  [ meta load l4proto => reg 9 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 10 ]\n"
  "  [ lookup reg 1 set published ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_container\n"
  "  [ immediate reg 0 goto -> deny_dst ]\n",
  "inet moat to_host\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000002 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ ct load direction => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000001 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_host\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000004 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ ct load src_ip => reg 9 , dir original ]\n"
  "  [ lookup reg 1 set self ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_host\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000004 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ ct load src_ip => reg 9 , dir reply ]\n"
  "  [ lookup reg 1 set self ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_host\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ meta load l4proto => reg 9 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 10 ]\n"
  "  [ lookup reg 1 set host_grants ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_host\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ meta load l4proto => reg 9 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 10 ]\n"
  "  [ lookup reg 1 set grant_host ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_host\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 9 ]\n"
  "  [ meta load l4proto => reg 10 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 11 ]\n"
  "  [ lookup reg 1 set proxied ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_host\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 2 ]\n"
  "  [ meta load l4proto => reg 13 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 14 ]\n"
  "  [ lookup reg 1 set resolvers ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat to_host\n"
  "  [ immediate reg 0 goto -> deny_src ]\n",
  "inet moat deny_src\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ lookup reg 1 set refused_out ]\n",
  "inet moat deny_src\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 1 ]\n"
  "  [ lookup reg 1 set refused_in ]\n",
  "inet moat deny_src\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ lookup reg 1 set logged ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ dynset update reg_key 1 set log_rate expr [ limit rate 10/second burst 20 type packets "
  "flags 0x0 ] ]\n"
  "  [ log group 6177 snaplen 0 qthreshold 0 ]\n",
  "inet moat deny_src\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ lookup reg 1 set quiet ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat deny_src\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000006 ]\n"
  "  [ reject type 1 code 0 ]\n",
  "inet moat deny_src\n"
  "  [ reject type 2 code 3 ]\n",
  "inet moat deny_dst\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 1 ]\n"
  "  [ lookup reg 1 set refused_in ]\n",
  "inet moat deny_dst\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 1 ]\n"
  "  [ lookup reg 1 set logged ]\n"
  "  [ payload load 4b @ network header + 16 => reg 1 ]\n"
  "  [ dynset update reg_key 1 set log_rate expr [ limit rate 10/second burst 20 type packets "
  "flags 0x0 ] ]\n"
  "  [ log group 6177 snaplen 0 qthreshold 0 ]\n",
  "inet moat deny_dst\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 1 ]\n"
  "  [ lookup reg 1 set quiet ]\n"
  "  [ immediate reg 0 drop ]\n",
  "inet moat deny_dst\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000006 ]\n"
  "  [ reject type 1 code 0 ]\n",
  "inet moat deny_dst\n"
  "  [ reject type 2 code 3 ]\n",
  "inet moat proxy\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 2 ]\n"
  "  [ lookup reg 1 set members ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 2 ]\n"
  "  [ lookup reg 1 set members 0x1 ]\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000006 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 9 ]\n"
  "  [ lookup reg 1 set proxy dreg 1 ]\n"
  "  [ nat dnat ip addr_min reg 1 addr_max reg 1 proto_min reg 9 proto_max reg 9 flags 0x3 ]\n",
  "inet moat proxy\n"
  "  [ fib daddr type => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000006 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 1 ]\n"
  "  [ meta load l4proto => reg 9 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 10 ]\n"
  "  [ lookup reg 1 set publish dreg 1 ]\n"
  "  [ nat dnat ip addr_min reg 1 addr_max reg 1 proto_min reg 9 proto_max reg 9 flags 0x3 ]\n",
  "inet moat proxy\n"
  "  [ fib daddr type => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000011 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 1 ]\n"
  "  [ meta load l4proto => reg 9 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 10 ]\n"
  "  [ lookup reg 1 set publish dreg 1 ]\n"
  "  [ nat dnat ip addr_min reg 1 addr_max reg 1 proto_min reg 9 proto_max reg 9 flags 0x3 ]\n",
  "inet moat postrouting\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ lookup reg 1 set masq ]\n"
  "  [ meta load oifname => reg 1 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 2 ]\n"
  "  [ lookup reg 1 set members 0x1 ]\n"
  "  [ masq ]\n",
  "inet moat postrouting\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 1b @ network header + 12 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x0000007f ]\n"
  "  [ meta load oifname => reg 1 ]\n"
  "  [ lookup reg 1 set bridges ]\n"
  "  [ masq ]\n",
  "inet moat publish_out\n"
  "  [ fib daddr type => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000006 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 1 ]\n"
  "  [ meta load l4proto => reg 9 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 10 ]\n"
  "  [ lookup reg 1 set publish dreg 1 ]\n"
  "  [ nat dnat ip addr_min reg 1 addr_max reg 1 proto_min reg 9 proto_max reg 9 flags 0x3 ]\n",
  "inet moat publish_out\n"
  "  [ fib daddr type => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000011 ]\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 1 ]\n"
  "  [ meta load l4proto => reg 9 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 10 ]\n"
  "  [ lookup reg 1 set publish dreg 1 ]\n"
  "  [ nat dnat ip addr_min reg 1 addr_max reg 1 proto_min reg 9 proto_max reg 9 flags 0x3 ]\n",
  "inet moat count_forward\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ lookup reg 1 set allowed_out ]\n",
  "inet moat count_forward\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 16 => reg 1 ]\n"
  "  [ lookup reg 1 set allowed_in ]\n",
  "inet moat count_input\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ lookup reg 1 set allowed_out ]\n",
  "inet moat hostnet_output\n"
  "  [ socket load cgroupv2 => reg 1 ]\n"
  "  [ lookup reg 1 set hostnet ]\n"
  "  [ immediate reg 0 goto -> hostnet_out ]\n",
  "inet moat hostnet_input\n"
  "  [ socket load cgroupv2 => reg 1 ]\n"
  "  [ lookup reg 1 set hostnet ]\n"
  "  [ immediate reg 0 goto -> hostnet_in ]\n",
  "inet moat hostnet_out\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000006 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat hostnet_out\n"
  "  [ meta load oifname => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00006f6c 0x00000000 0x00000000 0x00000000 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat hostnet_out\n"
  "  [ socket load cgroupv2 => reg 1 ]\n"
  "  [ lookup reg 1 set hostnet_ident dreg 0 ]\n",
  "inet moat hostnet_out\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ socket load cgroupv2 => reg 1 ]\n"
  "  [ byteorder reg 1 = hton(reg 1, 8, 8) ]\n"
  "  [ payload load 4b @ network header + 16 => reg 10 ]\n"
  "  [ meta load l4proto => reg 11 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 2 ]\n"
  "  [ lookup reg 1 set hostnet_egress ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat hostnet_out\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000006 ]\n"
  "  [ reject type 1 code 0 ]\n",
  "inet moat hostnet_out\n"
  "  [ reject type 2 code 3 ]\n",
  "inet moat hostnet_in\n"
  "  [ ct load state => reg 1 ]\n"
  "  [ bitwise reg 1 = ( reg 1 & 0x00000006 ) ^ 0x00000000 ]\n"
  "  [ cmp neq reg 1 0x00000000 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat hostnet_in\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00006f6c 0x00000000 0x00000000 0x00000000 ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat hostnet_in\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 2 ]\n"
  "  [ lookup reg 1 set members ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ socket load cgroupv2 => reg 9 ]\n"
  "  [ lookup reg 1 set hostnet_peers ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat hostnet_in\n"
  "  [ meta load nfproto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000002 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
  "  [ socket load cgroupv2 => reg 9 ]\n"
  "  [ byteorder reg 9 = hton(reg 9, 8, 8) ]\n"
  "  [ meta load l4proto => reg 11 ]\n"
  "  [ payload load 2b @ transport header + 2 => reg 2 ]\n"
  "  [ lookup reg 1 set hostnet_ingress ]\n"
  "  [ immediate reg 0 accept ]\n",
  "inet moat hostnet_in\n"
  "  [ meta load l4proto => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000006 ]\n"
  "  [ reject type 1 code 0 ]\n",
  "inet moat hostnet_in\n"
  "  [ reject type 2 code 3 ]\n",
  "bridge moat prerouting\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ lookup reg 1 set guarded ]\n"
  "  [ immediate reg 0 jump -> from_port ]\n",
  "bridge moat from_port\n"
  "  [ payload load 2b @ link header + 12 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000008 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 6b @ link header + 6 => reg 2 ]\n"
  "  [ payload load 4b @ network header + 12 => reg 14 ]\n"
  "  [ lookup reg 1 set ports ]\n"
  "  [ immediate reg 0 accept ]\n",
  "bridge moat from_port\n"
  "  [ payload load 2b @ link header + 12 => reg 1 ]\n"
  "  [ cmp eq reg 1 0x00000608 ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 6b @ link header + 6 => reg 2 ]\n"
  "  [ payload load 4b @ network header + 14 => reg 14 ]\n"
  "  [ lookup reg 1 set ports ]\n"
  "  [ meta load iifname => reg 1 ]\n"
  "  [ payload load 6b @ network header + 8 => reg 2 ]\n"
  "  [ payload load 4b @ network header + 14 => reg 14 ]\n"
  "  [ lookup reg 1 set ports ]\n"
  "  [ immediate reg 0 accept ]\n",
  "bridge moat from_port\n"
  "  [ immediate reg 0 drop ]\n",
};

/* --- tables ------------------------------------------------------------- */

static struct nftnl_batch *
tables_batch (struct msgs *m)
{
  moat_err_t err = { 0 };
  struct nftnl_batch *batch = moat_nft_build_tables (100, &err);

  assert_non_null (batch);
  collect (batch, m);
  assert_framed (m, 100);
  return batch;
}

static void
test_tables_message_order (void **state)
{
  struct msgs m;
  struct nftnl_batch *batch = tables_batch (&m);
  /* table, 38 sets, 21 chains, 87 rules; table, 2 sets, 2 chains, 4 rules */
  static const struct
  {
    uint16_t type;
    uint8_t family;
    size_t count;
  } runs[] = {
    { NFT_MSG_NEWTABLE, NFPROTO_INET, 1 },   { NFT_MSG_NEWSET, NFPROTO_INET, 38 },
    { NFT_MSG_NEWCHAIN, NFPROTO_INET, 21 },  { NFT_MSG_NEWRULE, NFPROTO_INET, 87 },
    { NFT_MSG_NEWTABLE, NFPROTO_BRIDGE, 1 }, { NFT_MSG_NEWSET, NFPROTO_BRIDGE, 2 },
    { NFT_MSG_NEWCHAIN, NFPROTO_BRIDGE, 2 }, { NFT_MSG_NEWRULE, NFPROTO_BRIDGE, 4 },
  };
  size_t i = 1;

  for (size_t r = 0; r < sizeof (runs) / sizeof (runs[0]); r++)
    for (size_t k = 0; k < runs[r].count; k++, i++)
      {
        assert_int_equal (nft_type (m.v[i]), runs[r].type);
        assert_int_equal (family_of (m.v[i]), runs[r].family);
      }
  assert_int_equal (i, m.n - 1);
  nftnl_batch_free (batch);
}

/* FNV-1a over every message of a batch. */
static uint64_t
batch_hash (struct nftnl_batch *batch, uint64_t h)
{
  struct msgs m;

  collect (batch, &m);
  for (size_t i = 0; i < m.n; i++)
    for (size_t k = 0; k < m.v[i]->nlmsg_len; k++)
      h = (h ^ ((const uint8_t *)m.v[i])[k]) * 0x100000001b3ULL;
  return h;
}

/* Each layout's tables as this moat builds them. A change to the sets,
 * chains or rules changes the hash: bump MOAT_RULESET_LAYOUT
 * (ruleset/ruleset.h) and append the new layout with its hash; never
 * rewrite an old one (docs/design.md, "Upgrades"). */
static const struct
{
  unsigned layout;
  uint64_t hash;
} layouts[] = {
  { 2, 0xdae6c5dce9f7883eULL },
  /* the counted sets' IPv6 twins */
  { 3, 0x8686eb522c84ccfcULL },
  /* hostnet_peers */
  { 4, 0xd9186c2c1733f26dULL },
  /* the port drops IPv6 fragments to link-local and multicast addresses */
  { 5, 0x556745b17a57f69cULL },
  /* hostnet_peers only from the bridge the address is on */
  { 6, 0xdb8f53c923235e98ULL },
  /* cluster mode: node_nets, node_routes, node_links and their four rules */
  { 7, 0xce1214d6f0da525aULL },
  /* host-network containers' IPv6 (hostnet_out6, hostnet_in6, four sets);
   * cluster mode's tunnels (node_vnis, node_vteps, an input rule for VXLAN
   * datagrams); IPv6 between nodes (node_nets6, node_routes6, node_links6
   * and their rules' twins) */
  { 8, 0x3301278630996581ULL },
};

static void
test_tables_layout (void **state)
{
  moat_err_t err = { 0 };
  struct nftnl_batch *b4 = moat_nft_build_tables (100, &err),
                     *b6 = moat_nft_build_half6 (100, &err);
  const size_t last = sizeof (layouts) / sizeof (layouts[0]) - 1;
  uint64_t h;
  struct msgs m;

  assert_non_null (b4);
  assert_non_null (b6);
  h = batch_hash (b6, batch_hash (b4, 0xcbf29ce484222325ULL));
  if (layouts[last].layout != MOAT_RULESET_LAYOUT || layouts[last].hash != h)
    fail_msg ("the tables changed (hash 0x%016llx) or MOAT_RULESET_LAYOUT did (%u): bump "
              "MOAT_RULESET_LAYOUT and append { %u, 0x%016llxULL } to layouts[]",
              (unsigned long long)h, MOAT_RULESET_LAYOUT, MOAT_RULESET_LAYOUT + 1,
              (unsigned long long)h);
  for (size_t i = 0; i < last; i++)
    assert_true (layouts[i].layout < layouts[i + 1].layout && layouts[i].hash != h);
  /* Both tables carry it in their comment. */
  collect (b4, &m);
  for (size_t i = 1; i < m.n - 1; i++)
    if (nft_type (m.v[i]) == NFT_MSG_NEWTABLE)
      {
        struct nftnl_table *t = nftnl_table_alloc ();
        uint32_t len = 0;
        const char *udata;

        assert_int_equal (nftnl_table_nlmsg_parse (m.v[i], t), 0);
        udata = nftnl_table_get_data (t, NFTNL_TABLE_USERDATA, &len);
        assert_non_null (udata);
        /* one TLV: type 0 (comment), length, "moat layout N\0" */
        assert_int_equal (udata[0], NFTNL_UDATA_TABLE_COMMENT);
        assert_string_equal (udata + 2, MOAT_RULESET_LAYOUT_COMMENT);
        nftnl_table_free (t);
      }
  nftnl_batch_free (b4);
  nftnl_batch_free (b6);
}

static void
test_tables_exclusive (void **state)
{
  struct msgs m;
  struct nftnl_batch *batch = tables_batch (&m);
  size_t tables = 0;

  for (size_t i = 1; i < m.n - 1; i++)
    {
      struct nftnl_table *t;

      if (nft_type (m.v[i]) != NFT_MSG_NEWTABLE)
        continue;
      tables++;
      t = nftnl_table_alloc ();
      assert_int_equal (nftnl_table_nlmsg_parse (m.v[i], t), 0);
      assert_string_equal (nftnl_table_get_str (t, NFTNL_TABLE_NAME), "moat");
      /* EXCL: a racing creator fails instead of doubling the rules. */
      assert_int_equal (m.v[i]->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL),
                        NLM_F_CREATE | NLM_F_EXCL);
      nftnl_table_free (t);
    }
  assert_int_equal (tables, 2);
  nftnl_batch_free (batch);
}

struct expected_set
{
  uint8_t family;
  const char *name;
  uint32_t flags, key_type, key_len;
  const char *concat; /* field lengths, "" when none */
  uint32_t byteorder; /* NFTNL_UDATA_SET_KEYBYTEORDER */
};

/* Types, flags and key lengths as nft 1.0.6 created them for the
 * prototype ruleset (read back with NFT_MSG_GETSET). */
static const struct expected_set expected_sets[] = {
  { NFPROTO_INET, "members", 0, 0xa47, 20, "", 0 },
  { NFPROTO_INET, "quiet", 0, 0x7, 4, "", 2 },
  { NFPROTO_INET, "internet", 0, 0x7, 4, "", 2 },
  { NFPROTO_INET, "masq", 0, 0x7, 4, "", 2 },
  { NFPROTO_INET, "grant_peer", 0x10, 0x1c7, 8, "", 0 },
  { NFPROTO_INET, "grant_host", 0x94, 0x730d, 12, "\x04\x01\x02", 0 },
  { NFPROTO_INET, "grant_egress", 0x94, 0x1c730d, 16, "\x04\x04\x01\x02", 0 },
  { NFPROTO_INET, "host_grants", 0x94, 0x730d, 12, "\x04\x01\x02", 0 },
  { NFPROTO_INET, "egress", 0x94, 0x1c730d, 16, "\x04\x04\x01\x02", 0 },
  { NFPROTO_INET, "ingress", 0x94, 0x1c730d, 16, "\x04\x04\x01\x02", 0 },
  { NFPROTO_INET, "egress_deny", 0x94, 0x1c730d, 16, "\x04\x04\x01\x02", 0 },
  { NFPROTO_INET, "ingress_deny", 0x94, 0x1c730d, 16, "\x04\x04\x01\x02", 0 },
  { NFPROTO_INET, "proxied", 0, 0x1c730d, 16, "", 0 },
  { NFPROTO_INET, "proxy", 0x8, 0x1cd, 8, "", 0 },
  { NFPROTO_INET, "src_ident", 0x8, 0x7, 4, "", 2 },
  { NFPROTO_INET, "bridges", 0, 0x29, 16, "", 1 },
  { NFPROTO_INET, "self", 0, 0x1c7, 8, "", 0 },
  { NFPROTO_INET, "guarded", 0, 0x29, 16, "", 1 },
  { NFPROTO_INET, "resolvers", 0, 0xa4730d, 28, "", 0 },
  { NFPROTO_INET, "grant_ingress", 0x94, 0x1c730d, 16, "\x04\x04\x01\x02", 0 },
  { NFPROTO_INET, "publish", 0x8c, 0x730d, 12, "\x04\x01\x02", 0 },
  { NFPROTO_INET, "published", 0, 0x730d, 12, "", 0 },
  { NFPROTO_INET, "logged", 0, 0x7, 4, "", 2 },
  { NFPROTO_INET, "log_rate", 0x30, 0x7, 4, "", 2 }, /* dynamic,timeout; timeout 1m */
  { NFPROTO_INET, "allowed_out", 0, 0x7, 4, "", 2 }, /* counter */
  { NFPROTO_INET, "allowed_in", 0, 0x7, 4, "", 2 },
  { NFPROTO_INET, "refused_out", 0, 0x7, 4, "", 2 },
  { NFPROTO_INET, "refused_in", 0, 0x7, 4, "", 2 },
  { NFPROTO_INET, "hostnet", 0, 0x2e, 8, "", 1 },
  { NFPROTO_INET, "hostnet_ident", 0x8, 0x2e, 8, "", 1 },
  { NFPROTO_INET, "hostnet_egress", 0x84, 0xb8730d, 20, "\x08\x04\x01\x02", 0 },
  { NFPROTO_INET, "hostnet_ingress", 0x84, 0x1ee30d, 20, "\x04\x08\x01\x02", 0 },
  { NFPROTO_INET, "hostnet_peers", 0, 0x1ee, 12, "", 0 },
  { NFPROTO_INET, "node_nets", 0x84, 0x1e9, 20, "\x04\x10", 0 },
  { NFPROTO_INET, "node_routes", 0x84, 0x7a49, 28, "\x04\x10\x06", 0 },
  { NFPROTO_INET, "node_links", 0, 0xa49, 24, "", 0 },
  { NFPROTO_INET, "node_vnis", 0, 0x4, 4, "", 2 },    /* typeof @th,96,32 */
  { NFPROTO_INET, "node_vteps", 0, 0x1c4, 8, "", 0 }, /* typeof ip saddr . @th,96,32 */
  { NFPROTO_BRIDGE, "guarded", 0, 0x29, 16, "", 1 },
  { NFPROTO_BRIDGE, "ports", 0, 0x29247, 28, "", 0 },
};

static int
find_byteorder (const struct nftnl_udata *attr, void *data)
{
  if (nftnl_udata_type (attr) == NFTNL_UDATA_SET_KEYBYTEORDER)
    *(uint32_t *)data = nftnl_udata_get_u32 (attr);
  return 0;
}

static int
count_counter (struct nftnl_expr *e, void *data)
{
  assert_string_equal (nftnl_expr_get_str (e, NFTNL_EXPR_NAME), "counter");
  ++*(int *)data;
  return 0;
}

/* The set's expressions (NFTA_SET_EXPR, as nft sends `counter`): each a
 * counter; how many. */
static int
set_counters (struct nftnl_set *s)
{
  int n = 0;

  nftnl_set_expr_foreach (s, count_counter, &n);
  return n;
}

static void
assert_set (const struct nlmsghdr *nlh, const struct expected_set *e)
{
  struct nftnl_set *s = nftnl_set_alloc ();
  uint32_t len = 0, order = 99;
  const void *data;

  assert_int_equal (nftnl_set_nlmsg_parse (nlh, s), 0);
  assert_int_equal (family_of (nlh), e->family);
  assert_string_equal (nftnl_set_get_str (s, NFTNL_SET_TABLE), "moat");
  assert_string_equal (nftnl_set_get_str (s, NFTNL_SET_NAME), e->name);
  assert_int_equal (nftnl_set_get_u32 (s, NFTNL_SET_FLAGS), e->flags);
  assert_int_equal (nftnl_set_get_u32 (s, NFTNL_SET_KEY_TYPE), e->key_type);
  assert_int_equal (nftnl_set_get_u32 (s, NFTNL_SET_KEY_LEN), e->key_len);
  assert_int_equal (set_counters (s),
                    strncmp (e->name, "allowed_", 8) == 0 || strncmp (e->name, "refused_", 8) == 0);
  if (strcmp (e->name, "log_rate") == 0)
    assert_int_equal (nftnl_set_get_u64 (s, NFTNL_SET_TIMEOUT), 60000);
  else
    assert_false (nftnl_set_is_set (s, NFTNL_SET_TIMEOUT));
  if (*e->concat)
    {
      data = nftnl_set_get_data (s, NFTNL_SET_DESC_CONCAT, &len);
      assert_non_null (data);
      assert_true (len >= strlen (e->concat));
      assert_memory_equal (data, e->concat, strlen (e->concat));
    }
  else
    assert_false (nftnl_set_is_set (s, NFTNL_SET_DESC_CONCAT));
  data = nftnl_set_get_data (s, NFTNL_SET_USERDATA, &len);
  assert_non_null (data);
  nftnl_udata_parse (data, len, find_byteorder, &order);
  assert_int_equal (order, e->byteorder);
  nftnl_set_free (s);
}

static void
test_tables_sets (void **state)
{
  struct msgs m;
  struct nftnl_batch *batch = tables_batch (&m);
  size_t seen = 0;

  for (size_t i = 1; i < m.n - 1; i++)
    if (nft_type (m.v[i]) == NFT_MSG_NEWSET)
      {
        assert_true (seen < sizeof (expected_sets) / sizeof (expected_sets[0]));
        assert_set (m.v[i], &expected_sets[seen++]);
      }
  assert_int_equal (seen, 40);
  nftnl_batch_free (batch);
}

struct expected_chain
{
  uint8_t family;
  const char *name;
  const char *type; /* NULL: regular chain */
  uint32_t hook;
  int32_t prio;
};

static const struct expected_chain expected_chains[] = {
  { NFPROTO_INET, "raw", "filter", NF_INET_PRE_ROUTING, -300 },
  { NFPROTO_INET, "prerouting", "filter", NF_INET_PRE_ROUTING, 0 },
  { NFPROTO_INET, "forward", "filter", NF_INET_FORWARD, 0 },
  { NFPROTO_INET, "input", "filter", NF_INET_LOCAL_IN, 0 },
  { NFPROTO_INET, "output", "filter", NF_INET_LOCAL_OUT, 0 },
  { NFPROTO_INET, "from_container", NULL, 0, 0 },
  { NFPROTO_INET, "to_peer", NULL, 0, 0 },
  { NFPROTO_INET, "same_bridge", NULL, 0, 0 },
  { NFPROTO_INET, "to_container", NULL, 0, 0 },
  { NFPROTO_INET, "to_host", NULL, 0, 0 },
  { NFPROTO_INET, "deny_src", NULL, 0, 0 },
  { NFPROTO_INET, "deny_dst", NULL, 0, 0 },
  { NFPROTO_INET, "proxy", "nat", NF_INET_PRE_ROUTING, -100 },
  { NFPROTO_INET, "postrouting", "nat", NF_INET_POST_ROUTING, 100 },
  { NFPROTO_INET, "publish_out", "nat", NF_INET_LOCAL_OUT, -100 },
  { NFPROTO_INET, "count_forward", "filter", NF_INET_FORWARD, 10 },
  { NFPROTO_INET, "count_input", "filter", NF_INET_LOCAL_IN, 10 },
  { NFPROTO_INET, "hostnet_output", "filter", NF_INET_LOCAL_OUT, 5 },
  { NFPROTO_INET, "hostnet_input", "filter", NF_INET_LOCAL_IN, 5 },
  { NFPROTO_INET, "hostnet_out", NULL, 0, 0 },
  { NFPROTO_INET, "hostnet_in", NULL, 0, 0 },
  { NFPROTO_BRIDGE, "prerouting", "filter", 0 /* NF_BR_PRE_ROUTING */, -200 },
  { NFPROTO_BRIDGE, "from_port", NULL, 0, 0 },
};

static void
assert_chain (const struct nlmsghdr *nlh, const struct expected_chain *e)
{
  struct nftnl_chain *c = nftnl_chain_alloc ();

  assert_int_equal (nftnl_chain_nlmsg_parse (nlh, c), 0);
  assert_int_equal (family_of (nlh), e->family);
  assert_string_equal (nftnl_chain_get_str (c, NFTNL_CHAIN_TABLE), "moat");
  assert_string_equal (nftnl_chain_get_str (c, NFTNL_CHAIN_NAME), e->name);
  if (e->type)
    {
      assert_string_equal (nftnl_chain_get_str (c, NFTNL_CHAIN_TYPE), e->type);
      assert_true (nftnl_chain_is_set (c, NFTNL_CHAIN_HOOKNUM));
      assert_int_equal (nftnl_chain_get_u32 (c, NFTNL_CHAIN_HOOKNUM), e->hook);
      assert_int_equal (nftnl_chain_get_s32 (c, NFTNL_CHAIN_PRIO), e->prio);
      assert_int_equal (nftnl_chain_get_u32 (c, NFTNL_CHAIN_POLICY), NF_ACCEPT);
    }
  else
    {
      assert_false (nftnl_chain_is_set (c, NFTNL_CHAIN_HOOKNUM));
      assert_false (nftnl_chain_is_set (c, NFTNL_CHAIN_TYPE));
    }
  nftnl_chain_free (c);
}

/* The userdata of the sets keyed by a VXLAN header word, as nft 1.0.6
 * wrote it for `typeof @th,96,32` and `typeof ip saddr . @th,96,32` (its
 * byte order, then the typeof description; u32s in host order). */
static void
test_tables_typeof (void **state)
{
  static const struct
  {
    const char *name;
    const char *hex;
  } want[] = {
    { "node_vnis", "0004020000000326000407000000011e00040000000001040000000002040300000003"
                   "0460000000040420000000" },
    { "node_vteps", "000400000000034600040d000000013e0014000407000000010c00040c000000010"
                    "40b0000000126000407000000011e0004000000000104000000000204030000000304"
                    "60000000040420000000" },
  };
  struct msgs m;
  struct nftnl_batch *batch = tables_batch (&m);
  size_t found = 0;

  for (size_t i = 1; i < m.n - 1; i++)
    {
      struct nftnl_set *s;
      const uint8_t *ud;
      uint32_t len = 0;
      char hex[512];

      if (nft_type (m.v[i]) != NFT_MSG_NEWSET)
        continue;
      s = nftnl_set_alloc ();
      assert_int_equal (nftnl_set_nlmsg_parse (m.v[i], s), 0);
      for (size_t k = 0; k < sizeof (want) / sizeof (want[0]); k++)
        if (strcmp (nftnl_set_get_str (s, NFTNL_SET_NAME), want[k].name) == 0)
          {
            ud = nftnl_set_get_data (s, NFTNL_SET_USERDATA, &len);
            assert_true (ud && len * 2 < sizeof (hex));
            for (uint32_t b = 0; b < len; b++)
              snprintf (hex + 2 * b, 3, "%02x", ud[b]);
            assert_string_equal (hex, want[k].hex);
            found++;
          }
      nftnl_set_free (s);
    }
  assert_int_equal (found, 2);
  nftnl_batch_free (batch);
}

static void
test_tables_chains (void **state)
{
  struct msgs m;
  struct nftnl_batch *batch = tables_batch (&m);
  size_t seen = 0;

  for (size_t i = 1; i < m.n - 1; i++)
    if (nft_type (m.v[i]) == NFT_MSG_NEWCHAIN)
      {
        assert_true (seen < sizeof (expected_chains) / sizeof (expected_chains[0]));
        assert_chain (m.v[i], &expected_chains[seen++]);
      }
  assert_int_equal (seen, 23);
  nftnl_batch_free (batch);
}

/* Each rule, printed by libnftnl, reads exactly as nft's own. */
static void
test_tables_rules_match_nft (void **state)
{
  struct msgs m;
  struct nftnl_batch *batch = tables_batch (&m);
  size_t seen = 0;
  char buf[4096];

  for (size_t i = 1; i < m.n - 1; i++)
    {
      struct nftnl_rule *r;

      if (nft_type (m.v[i]) != NFT_MSG_NEWRULE)
        continue;
      assert_true (m.v[i]->nlmsg_flags & NLM_F_APPEND);
      assert_true (seen < sizeof (expected_rules) / sizeof (expected_rules[0]));
      r = nftnl_rule_alloc ();
      assert_int_equal (nftnl_rule_nlmsg_parse (m.v[i], r), 0);
      nftnl_rule_snprintf (buf, sizeof (buf), r, NFTNL_OUTPUT_DEFAULT, 0);
      assert_string_equal (buf, expected_rules[seen]);
      seen++;
      nftnl_rule_free (r);
    }
  assert_int_equal (seen, sizeof (expected_rules) / sizeof (expected_rules[0]));
  nftnl_batch_free (batch);
}

static void
test_tables_rules_per_chain (void **state)
{
  static const struct
  {
    const char *chain;
    int rules;
  } counts[] = {
    { "same_bridge", 6 },
    { "forward", 5 },
    { "input", 4 },
    { "output", 1 },
    { "from_container", 13 },
    { "to_peer", 3 },
    { "to_container", 8 },
    { "to_host", 8 },
    { "deny_src", 6 },
    { "deny_dst", 5 },
    { "proxy", 3 },
    { "postrouting", 2 },
    { "publish_out", 2 },
    { "count_forward", 2 },
    { "count_input", 1 },
    { "raw", 2 },
    { "prerouting", 3 } /* inet (2) and bridge (1) */,
    { "from_port", 3 },
    { "hostnet_output", 1 },
    { "hostnet_input", 1 },
    { "hostnet_out", 6 },
    { "hostnet_in", 6 },
  };
  struct msgs m;
  struct nftnl_batch *batch = tables_batch (&m);

  for (size_t c = 0; c < sizeof (counts) / sizeof (counts[0]); c++)
    {
      int n = 0;

      for (size_t i = 1; i < m.n - 1; i++)
        {
          struct nftnl_rule *r;

          if (nft_type (m.v[i]) != NFT_MSG_NEWRULE)
            continue;
          r = nftnl_rule_alloc ();
          assert_int_equal (nftnl_rule_nlmsg_parse (m.v[i], r), 0);
          n += strcmp (nftnl_rule_get_str (r, NFTNL_RULE_CHAIN), counts[c].chain) == 0;
          nftnl_rule_free (r);
        }
      if (n != counts[c].rules)
        fail_msg ("chain %s: %d rules, expected %d", counts[c].chain, n, counts[c].rules);
    }
  nftnl_batch_free (batch);
}

/* --- member elements ----------------------------------------------------- */

static struct moat_nft_member
sample_member (bool flags)
{
  struct moat_nft_member m = {
    .bridge = "moat0",
    .host_ifname = "mt0123456789abc",
    .mac = { 0x02, 0, 0, 0, 0, 0x01 },
    .quiet = flags,
    .internet = flags,
    .masquerade = flags,
    .log = flags,
  };

  inet_pton (AF_INET, "10.1.0.2", &m.addr);
  return m;
}

struct expected_elem
{
  uint8_t family;
  const char *set;
  const char *key;
  size_t key_len;
};

#define ADDR "\x0a\x01\x00\x02"
#define BRIDGE16 "moat0\0\0\0\0\0\0\0\0\0\0\0"
#define HOST16 "mt0123456789abc\0"

static const struct expected_elem member_elem = { NFPROTO_INET, "members", BRIDGE16 ADDR, 20 };
static const struct expected_elem self_elem = { NFPROTO_INET, "self", ADDR ADDR, 8 };
static const struct expected_elem bridges_elem = { NFPROTO_INET, "bridges", BRIDGE16, 16 };
static const struct expected_elem quiet_elem = { NFPROTO_INET, "quiet", ADDR, 4 };
static const struct expected_elem internet_elem = { NFPROTO_INET, "internet", ADDR, 4 };
static const struct expected_elem masq_elem = { NFPROTO_INET, "masq", ADDR, 4 };
static const struct expected_elem logged_elem = { NFPROTO_INET, "logged", ADDR, 4 };
static const struct expected_elem log_rate_elem = { NFPROTO_INET, "log_rate", ADDR, 4 };
static const struct expected_elem allowed_out_elem = { NFPROTO_INET, "allowed_out", ADDR, 4 };
static const struct expected_elem allowed_in_elem = { NFPROTO_INET, "allowed_in", ADDR, 4 };
static const struct expected_elem refused_out_elem = { NFPROTO_INET, "refused_out", ADDR, 4 };
static const struct expected_elem refused_in_elem = { NFPROTO_INET, "refused_in", ADDR, 4 };
static const struct expected_elem port_name_elem = { NFPROTO_INET, "guarded", HOST16, 16 };
static const struct expected_elem guarded_elem = { NFPROTO_BRIDGE, "guarded", HOST16, 16 };
static const struct expected_elem ports_elem
    = { NFPROTO_BRIDGE, "ports", HOST16 "\x02\x00\x00\x00\x00\x01\x00\x00" ADDR, 28 };

/* One message, one element, exactly these key bytes. */
static void
assert_elem (const struct nlmsghdr *nlh, uint16_t type, const struct expected_elem *e)
{
  struct nftnl_set *s = nftnl_set_alloc ();
  struct nftnl_set_elems_iter *it;
  struct nftnl_set_elem *el;
  const void *key;
  uint32_t len = 0;
  int count = 0;

  assert_int_equal (nft_type (nlh), type);
  assert_int_equal (family_of (nlh), e->family);
  assert_int_equal (nftnl_set_elems_nlmsg_parse (nlh, s), 0);
  assert_string_equal (nftnl_set_get_str (s, NFTNL_SET_TABLE), "moat");
  assert_string_equal (nftnl_set_get_str (s, NFTNL_SET_NAME), e->set);
  it = nftnl_set_elems_iter_create (s);
  while ((el = nftnl_set_elems_iter_next (it)))
    {
      key = nftnl_set_elem_get (el, NFTNL_SET_ELEM_KEY, &len);
      assert_non_null (key);
      assert_int_equal (len, e->key_len);
      assert_memory_equal (key, e->key, e->key_len);
      assert_false (nftnl_set_elem_is_set (el, NFTNL_SET_ELEM_TIMEOUT));
      count++;
    }
  nftnl_set_elems_iter_destroy (it);
  assert_int_equal (count, 1);
  nftnl_set_free (s);
}

static void
test_member_add_all_flags (void **state)
{
  struct moat_nft_member mem = sample_member (true);
  const struct expected_elem *want[]
      = { &member_elem,     &self_elem,      &bridges_elem,     &quiet_elem,      &internet_elem,
          &masq_elem,       &logged_elem,    &allowed_out_elem, &allowed_in_elem, &refused_out_elem,
          &refused_in_elem, &port_name_elem, &guarded_elem,     &ports_elem };
  moat_err_t err = { 0 };
  struct nftnl_batch *batch = moat_nft_build_member (&mem, true, 7, &err);
  struct msgs m;

  assert_non_null (batch);
  collect (batch, &m);
  assert_framed (&m, 7);
  assert_int_equal (m.n, 14 + 2);
  for (size_t i = 0; i < 14; i++)
    {
      const struct nlmsghdr *nlh = m.v[i + 1];

      assert_elem (nlh, NFT_MSG_NEWSETELEM, want[i]);
      /* An element already there is success: CREATE without EXCL; but a
       * host end another attachment guards is refused. */
      assert_true (nlh->nlmsg_flags & NLM_F_CREATE);
      if (want[i] == &guarded_elem)
        assert_true (nlh->nlmsg_flags & NLM_F_EXCL);
      else
        assert_false (nlh->nlmsg_flags & NLM_F_EXCL);
    }
  nftnl_batch_free (batch);
}

static void
test_member_add_no_flags (void **state)
{
  struct moat_nft_member mem = sample_member (false);
  const struct expected_elem *want[]
      = { &member_elem,      &self_elem,       &bridges_elem,   &allowed_out_elem, &allowed_in_elem,
          &refused_out_elem, &refused_in_elem, &port_name_elem, &guarded_elem,     &ports_elem };
  moat_err_t err = { 0 };
  struct nftnl_batch *batch = moat_nft_build_member (&mem, true, 1, &err);
  struct msgs m;

  assert_non_null (batch);
  collect (batch, &m);
  assert_framed (&m, 1);
  /* Nothing for quiet, internet or masq; the counters always. */
  assert_int_equal (m.n, 10 + 2);
  for (size_t i = 0; i < 10; i++)
    assert_elem (m.v[i + 1], NFT_MSG_NEWSETELEM, want[i]);
  nftnl_batch_free (batch);
}

static void
test_member_add_only_masq (void **state)
{
  struct moat_nft_member mem = sample_member (false);
  moat_err_t err = { 0 };
  struct nftnl_batch *batch;
  struct msgs m;

  mem.masquerade = true;
  batch = moat_nft_build_member (&mem, true, 1, &err);
  assert_non_null (batch);
  collect (batch, &m);
  assert_int_equal (m.n, 11 + 2);
  assert_elem (m.v[1], NFT_MSG_NEWSETELEM, &member_elem);
  assert_elem (m.v[2], NFT_MSG_NEWSETELEM, &self_elem);
  assert_elem (m.v[3], NFT_MSG_NEWSETELEM, &bridges_elem);
  assert_elem (m.v[4], NFT_MSG_NEWSETELEM, &masq_elem);
  assert_elem (m.v[5], NFT_MSG_NEWSETELEM, &allowed_out_elem);
  assert_elem (m.v[9], NFT_MSG_NEWSETELEM, &port_name_elem);
  assert_elem (m.v[10], NFT_MSG_NEWSETELEM, &guarded_elem);
  nftnl_batch_free (batch);
}

/* Deletion removes from every per-member set, flags or not (not the
 * network's bridges element), and uses DESTROYSETELEM so an element
 * already gone does not fail the batch. */
static void
test_member_del (void **state)
{
  struct moat_nft_member mem = sample_member (false);
  const struct expected_elem *want[]
      = { &member_elem,     &self_elem,      &quiet_elem,       &internet_elem,   &masq_elem,
          &logged_elem,     &log_rate_elem,  &allowed_out_elem, &allowed_in_elem, &refused_out_elem,
          &refused_in_elem, &port_name_elem, &guarded_elem,     &ports_elem };
  moat_err_t err = { 0 };
  struct nftnl_batch *batch = moat_nft_build_member (&mem, false, 42, &err);
  struct msgs m;

  assert_non_null (batch);
  collect (batch, &m);
  assert_framed (&m, 42);
  assert_int_equal (m.n, 14 + 2);
  for (size_t i = 0; i < 14; i++)
    {
      assert_elem (m.v[i + 1], MSG_DESTROYSETELEM, want[i]);
      assert_false (m.v[i + 1]->nlmsg_flags & NLM_F_CREATE);
    }
  nftnl_batch_free (batch);
}

static void
test_member_bad_names (void **state)
{
  struct moat_nft_member mem = sample_member (false);
  moat_err_t err = { 0 };

  mem.host_ifname = "mt0123456789abcd"; /* 16 characters: no room for NUL */
  assert_null (moat_nft_build_member (&mem, true, 1, &err));
  assert_int_equal (err.code, MOAT_E_NFT);
  assert_non_null (strstr (err.msg, "mt0123456789abcd"));

  mem = sample_member (false);
  mem.bridge = NULL;
  err = (moat_err_t){ 0 };
  assert_null (moat_nft_build_member (&mem, false, 1, &err));
  assert_int_equal (err.code, MOAT_E_NFT);
  assert_non_null (strstr (err.msg, "bridge"));
}

/* What an evaluator reads of a policy list: each element's set (an
 * identity's as MOAT_SET_IDENT, by name), key bytes and range end. */
static void
test_elems_read_back (void **state)
{
  struct moat_nft_elems *l = moat_nft_elems_new ();
  struct moat_acl acl = { .prefixlen = 24, .ports = { IPPROTO_TCP, 80, 90 } };
  struct in_addr a, b;
  const struct moat_elem *e;
  char text[256];

  assert_non_null (l);
  inet_pton (AF_INET, "10.1.0.2", &a);
  inet_pton (AF_INET, "10.2.0.7", &b);
  inet_pton (AF_INET, "192.168.5.0", &acl.addr);
  assert_int_equal (moat_nft_elems_acl (l, MOAT_NFT_EGRESS, a, &acl), 0);
  assert_int_equal (moat_nft_elems_ident_reach (l, "0123456789abcdef", b), 0);
  assert_int_equal (moat_nft_elems_count (l), 2);

  e = moat_nft_elems_at (l, 0);
  assert_non_null (e);
  assert_int_equal (moat_elem_set (e), MOAT_SET_EGRESS);
  assert_string_equal (moat_elem_set_name (e), "egress");
  assert_int_equal (e->key_len, moat_set_key_len (&moat_set_defs[MOAT_SET_EGRESS]));
  assert_memory_equal (e->key, &a.s_addr, 4);
  assert_int_equal (e->key_end_len, e->key_len);
  assert_int_equal (e->key_end[7], 255); /* 192.168.5.255 */
  moat_nft_elems_format (l, 0, text, sizeof (text));
  assert_string_equal (text, "egress: 10.1.0.2 . 192.168.5.0-192.168.5.255 . tcp . 80-90");

  e = moat_nft_elems_at (l, 1);
  assert_non_null (e);
  assert_int_equal (moat_elem_set (e), MOAT_SET_IDENT);
  assert_string_equal (moat_elem_set_name (e), "id_0123456789abcdef");
  assert_memory_equal (e->key, &b.s_addr, 4);
  assert_null (moat_nft_elems_at (l, 2));
  moat_nft_elems_free (l);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_tables_message_order),   cmocka_unit_test (test_tables_exclusive),
    cmocka_unit_test (test_tables_layout),          cmocka_unit_test (test_tables_sets),
    cmocka_unit_test (test_tables_typeof),          cmocka_unit_test (test_tables_chains),
    cmocka_unit_test (test_tables_rules_match_nft), cmocka_unit_test (test_tables_rules_per_chain),
    cmocka_unit_test (test_member_add_all_flags),   cmocka_unit_test (test_member_add_no_flags),
    cmocka_unit_test (test_member_add_only_masq),   cmocka_unit_test (test_member_del),
    cmocka_unit_test (test_member_bad_names),       cmocka_unit_test (test_elems_read_back),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
