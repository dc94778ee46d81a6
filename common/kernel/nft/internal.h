/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_NFT_INTERNAL_H
#define MOAT_NFT_INTERNAL_H

/* What the files of kernel/nft/ share; the API is kernel/nft.h. The
 * ruleset they build comes from ruleset/ruleset.h, the elements from
 * ruleset/elems.h. Every message asks for an ack; the replies are drained
 * until each one is accounted for, and an error's sequence number is mapped
 * back to the message that caused it so the report names the table, set,
 * chain, rule or element. */

#include "kernel/nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "base/cleanup.h"
#include "kernel/nfnl.h"
#include "ruleset/elems.h"
#include "ruleset/ruleset.h"

DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_batch *, nftnl_batch_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_table *, nftnl_table_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_chain *, nftnl_chain_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_set *, nftnl_set_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_rule *, nftnl_rule_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_udata_buf *, nftnl_udata_buf_free)

#define _cleanup_batch_ _cleanup_ (nftnl_batch_freep)
#define _cleanup_socket_ _cleanup_ (mnl_socket_closep)

/* Deletion without ENOENT. The kernel has NFT_MSG_DESTROY* since Linux 6.3
 * (a missing object is success), but the installed uapi header predates
 * them, so the numbers come from the kernel's enum nf_tables_msg_types. We
 * prefer them because DELSETELEM of one missing element aborts the whole
 * batch; on a kernel without them (EINVAL/EOPNOTSUPP) we fall back to one
 * DEL* batch per object, where ENOENT concerns that object alone. */
enum
{
  MOAT_NFT_MSG_DESTROYTABLE = 26,
  MOAT_NFT_MSG_DESTROYCHAIN = 27,
  MOAT_NFT_MSG_DESTROYSET = 29,
  MOAT_NFT_MSG_DESTROYSETELEM = 30,
};

#define BATCH_PAGE_SIZE (16 * 1024) /* the table batch is ~17 KiB: two pages */
#define MAX_ELEMS_PER_MSG 64        /* ~9.5 KiB: one message must fit a batch page */
#define RECV_BUF_SIZE (64 * 1024)

/* The tables, as bits. */
enum
{
  FAMILY_INET = 1,
  FAMILY_BRIDGE = 2,
};

/* The halves of the tables (docs/design.md, "IPv6"): the IPv4 half,
 * made with the tables, and the IPv6 half, made with the first dual-stack
 * member. */
enum
{
  HALF4 = 1,
  HALF6 = 2,
  MISSING_HALF6 = 4, /* with FAMILY_*: what an ADD found missing */
};

static inline unsigned
family_bit (uint32_t family)
{
  return family == NFPROTO_INET ? FAMILY_INET : family == NFPROTO_BRIDGE ? FAMILY_BRIDGE : 0;
}

struct builder
{
  struct nftnl_batch *batch;
  uint32_t seq;
};

/* What the kernel said about a request: its first error, and each
 * message's own error by sequence number. */
struct reply
{
  int errnum;   /* first error; 0: every message acked without error */
  uint32_t seq; /* the message that got it */
  char extack[256];
  uint32_t first_seq;
  size_t nseq;
  int *errnums; /* by seq - first_seq */
};

#define _cleanup_reply_ _cleanup_ (nft_reply_done)

struct moat_nft
{
  struct mnl_socket *nl;
  bool no_destroy; /* the kernel refused NFT_MSG_DESTROY* (before 6.3) */
};

#define POSITION_DATA 0x100u

struct collect
{
  const struct moat_set_def *set;
  const char *name; /* an identity's set; NULL: set->name */
  struct in_addr addr;
  struct in6_addr addr6; /* the address in a set of the IPv6 half */
  /* Several IPv4 addresses instead of `addr` (sorted by s_addr): an
   * element naming any of them. */
  const struct in_addr *addrs;
  size_t naddrs;
  unsigned positions; /* bit i: field i holds a container address; 0: keep every element;
                         POSITION_DATA: a map's value starts with one */
  struct moat_elem_list *out;
  bool failed;
  bool missing; /* the set (or its table) is not there */
};

/* How a batch deletes: DESTROY* (Linux 6.3+: a missing object is
 * success), or on an older kernel DEL*, one object a message, so that an
 * ENOENT names the one object that was already gone. */
struct deletes
{
  uint16_t elem, chain, set;
  size_t per_msg;
};

enum
{
  IDENT_CHAIN = 1,
  IDENT_SET = 2,
  IDENT_CHAIN6 = 4, /* its IPv6 twins, id_<ident>6 */
  IDENT_SET6 = 8,
};

/* transport.c: the socket, sending, the kernel's acks. */
int nft_reply_errnum_at (const struct reply *r, uint32_t seq);
int nft_talk_data (struct mnl_socket *nl, struct nftnl_batch *batch, struct reply *reply,
                   mnl_cb_t on_data, void *data_arg, moat_err_t *err);
int nft_talk (struct mnl_socket *nl, struct nftnl_batch *batch, struct reply *reply,
              moat_err_t *err);
uint32_t nft_first_seq (void);
void nft_reply_done (struct reply *r);

/* describe.c: naming the message an error is about. */
const struct nlmsghdr *nft_batch_find (struct nftnl_batch *batch, uint32_t seq);
uint32_t nft_msg_family (const struct nlmsghdr *nlh);
int nft_reply_error_at (struct nftnl_batch *batch, const struct reply *reply, uint32_t seq,
                        moat_err_t *err);
int nft_reply_error (struct nftnl_batch *batch, const struct reply *reply, moat_err_t *err);
bool nft_failed_at (struct nftnl_batch *batch, const struct reply *reply, uint16_t type,
                    uint32_t family);
bool nft_destroy_unknown (struct nftnl_batch *batch, const struct reply *reply);

/* encode.c: the ruleset and elements into batches (libnftnl). */
int nft_builder_start (struct builder *b, uint32_t seq);
int nft_builder_finish (struct builder *b);
int nft_put_table (struct builder *b, uint16_t family, uint16_t msg_type, uint16_t flags);
int nft_put_tables (struct builder *b, unsigned families, unsigned halves);
int nft_put_elems (struct builder *b, const struct moat_elem *elems, size_t n, uint16_t msg_type,
                   uint16_t flags);
int nft_build_failed (struct builder *b, moat_err_t *err);
struct nftnl_batch *nft_build_error (struct builder *b, moat_err_t *err);
struct nftnl_batch *nft_build_tables_and_member (const struct moat_elem *elems, size_t n,
                                                 const struct moat_nft_elems *publish,
                                                 unsigned families, unsigned halves, uint32_t seq,
                                                 moat_err_t *err);
int nft_put_publish (struct builder *b, const struct moat_nft_elems *publish);
struct nftnl_batch *nft_build_gets (const struct moat_elem *elems, size_t n, uint32_t seq,
                                    moat_err_t *err);
int nft_put_ident_create (struct builder *b, const char *ident);
/* The identity's IPv6 twins: chain and set id_<ident>6 and their rule. */
int nft_put_ident6_create (struct builder *b, const char *ident);
/* id_<ident>6 into name (MOAT_IDENT_OBJECT_MAX); -1 on a bad name. */
int nft_ident6_name (char *name, size_t size, const char *ident);
/* Whether the elements name a set of the IPv6 half. */
bool nft_elems_have6 (const struct moat_elem *elems, size_t n);
int nft_put_ident_drop (struct builder *b, const char *ident, const struct deletes *d,
                        unsigned parts);
int nft_put_elem_runs (struct builder *b, const struct moat_elem *elems, size_t n,
                       uint16_t msg_type, uint16_t flags, size_t per_msg);
void nft_sort_by_set (struct moat_elem_list *l);

/* dump.c: reading sets back from the kernel. */
int nft_collect_set (struct mnl_socket *nl, struct collect *c, uint32_t seq, moat_err_t *err);
int nft_collect_policy (struct mnl_socket *nl, struct in_addr addr, const struct in6_addr *addr6,
                        bool keep_internet, bool grants, bool publish, struct moat_elem_list *found,
                        uint32_t *seq, moat_err_t *err);
/* The same with grants, for any of `n` IPv4 addresses (sorted by s_addr):
 * a forget of many at once. */
int nft_collect_policy_many (struct mnl_socket *nl, const struct in_addr *addrs, size_t n,
                             struct moat_elem_list *found, uint32_t *seq, moat_err_t *err);

#endif
