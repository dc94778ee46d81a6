/* SPDX-License-Identifier: Apache-2.0 */
/* moat's nftables layout (see nft.h), built with libnftnl and sent to the
 * kernel as netlink batches over libmnl. Every message asks for an ack; the
 * replies are drained until each one is accounted for, and an error's
 * sequence number is mapped back to the message that caused it so the
 * report names the table, set, chain, rule or element. */
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
#include "ruleset/elems.h"
#include "ruleset/ruleset.h"

DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_batch *, nftnl_batch_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_table *, nftnl_table_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_chain *, nftnl_chain_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_set *, nftnl_set_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_rule *, nftnl_rule_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_udata_buf *, nftnl_udata_buf_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct mnl_socket *, mnl_socket_close)

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

/* --- the layout (ruleset/ruleset.h) ------------------------------------ */

struct source_info
{
  bool meta;     /* meta key, else payload (or ct) */
  uint32_t what; /* meta key, payload base or ct key */
  uint32_t offset;
  uint32_t len;
  bool ct; /* ct key `what` of direction `ct_dir` */
  int32_t ct_dir;
};

static const struct source_info source_infos[] = {
  [MOAT_SRC_IIFNAME] = { .meta = true, .what = NFT_META_IIFNAME, .len = IFNAMSIZ },
  [MOAT_SRC_OIFNAME] = { .meta = true, .what = NFT_META_OIFNAME, .len = IFNAMSIZ },
  [MOAT_SRC_IP_SADDR] = { .what = NFT_PAYLOAD_NETWORK_HEADER, .offset = 12, .len = 4 },
  [MOAT_SRC_IP_DADDR] = { .what = NFT_PAYLOAD_NETWORK_HEADER, .offset = 16, .len = 4 },
  [MOAT_SRC_L4PROTO] = { .meta = true, .what = NFT_META_L4PROTO, .len = 1 },
  [MOAT_SRC_TH_DPORT] = { .what = NFT_PAYLOAD_TRANSPORT_HEADER, .offset = 2, .len = 2 },
  [MOAT_SRC_ETHER_SADDR] = { .what = NFT_PAYLOAD_LL_HEADER, .offset = 6, .len = MOAT_MAC_LEN },
  [MOAT_SRC_ARP_SHA] = { .what = NFT_PAYLOAD_NETWORK_HEADER, .offset = 8, .len = MOAT_MAC_LEN },
  [MOAT_SRC_ARP_SPA] = { .what = NFT_PAYLOAD_NETWORK_HEADER, .offset = 14, .len = 4 },
  [MOAT_SRC_CT_ORIGINAL_SADDR]
  = { .what = NFT_CT_SRC_IP, .len = 4, .ct = true, .ct_dir = IP_CT_DIR_ORIGINAL },
  [MOAT_SRC_CT_REPLY_SADDR]
  = { .what = NFT_CT_SRC_IP, .len = 4, .ct = true, .ct_dir = IP_CT_DIR_REPLY },
};

/* The tables, as bits. */
enum
{
  FAMILY_INET = 1,
  FAMILY_BRIDGE = 2,
};

static unsigned
family_bit (uint32_t family)
{
  return family == NFPROTO_INET ? FAMILY_INET : family == NFPROTO_BRIDGE ? FAMILY_BRIDGE : 0;
}

/* --- batch building ------------------------------------------------------ */

struct builder
{
  struct nftnl_batch *batch;
  uint32_t seq;
};

static struct nlmsghdr *
builder_hdr (struct builder *b, uint16_t type, uint16_t family, uint16_t flags)
{
  return nftnl_nlmsg_build_hdr (nftnl_batch_buffer (b->batch), type, family, flags, b->seq++);
}

/* A batch that outgrows its page moves the message just built to a new
 * page: clear what follows it there too (see batch_alloc). */
static int
builder_next (struct builder *b)
{
  uint32_t before = nftnl_batch_buffer_len (b->batch);

  if (nftnl_batch_update (b->batch) < 0)
    return -1;
  if (nftnl_batch_buffer_len (b->batch) < before)
    memset (nftnl_batch_buffer (b->batch), 0, BATCH_PAGE_SIZE);
  return 0;
}

/* libmnl 1.0.4 leaves attribute padding as it finds it: start from zeroed
 * memory so that every byte sent is defined. */
static struct nftnl_batch *
batch_alloc (void)
{
  struct nftnl_batch *batch = nftnl_batch_alloc (BATCH_PAGE_SIZE, BATCH_PAGE_SIZE);

  if (batch)
    memset (nftnl_batch_buffer (batch), 0, 2 * BATCH_PAGE_SIZE);
  return batch;
}

static int
builder_start (struct builder *b, uint32_t seq)
{
  b->batch = batch_alloc ();
  b->seq = seq;
  if (!b->batch)
    return -1;
  nftnl_batch_begin (nftnl_batch_buffer (b->batch), b->seq++);
  return builder_next (b);
}

static int
builder_finish (struct builder *b)
{
  nftnl_batch_end (nftnl_batch_buffer (b->batch), b->seq++);
  return builder_next (b);
}

static int
put_table (struct builder *b, uint16_t family, uint16_t msg_type, uint16_t flags)
{
  _cleanup_ (nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc ();
  struct nlmsghdr *nlh;

  if (!t)
    return -1;
  nftnl_table_set_u32 (t, NFTNL_TABLE_FAMILY, family);
  if (nftnl_table_set_str (t, NFTNL_TABLE_NAME, MOAT_NFT_TABLE) < 0)
    return -1;
  nlh = builder_hdr (b, msg_type, family, flags | NLM_F_ACK);
  nftnl_table_nlmsg_build_payload (nlh, t);
  return builder_next (b);
}

/* nft reads a key's byte order from the set's userdata; without it, it
 * lists an ifname element as "" (seen with nft 1.0.6). A concatenation
 * takes each field's order from its type, so it gets none, as nft does. */
static int
set_userdata (struct nftnl_set *s, const struct moat_set_def *def)
{
  _cleanup_ (nftnl_udata_buf_freep) struct nftnl_udata_buf *udata = NULL;
  uint32_t order = MOAT_BYTEORDER_NONE, data_order = MOAT_BYTEORDER_NONE;

  if (def->nfields == 1)
    order = moat_field_infos[def->fields[0]].byteorder;
  if (def->ndata == 1)
    data_order = moat_field_infos[def->data[0]].byteorder;
  udata = nftnl_udata_buf_alloc (NFT_USERDATA_MAXLEN);
  if (!udata || !nftnl_udata_put_u32 (udata, NFTNL_UDATA_SET_KEYBYTEORDER, order))
    return -1;
  if (def->ndata && !nftnl_udata_put_u32 (udata, NFTNL_UDATA_SET_DATABYTEORDER, data_order))
    return -1;
  return nftnl_set_set_data (s, NFTNL_SET_USERDATA, nftnl_udata_buf_data (udata),
                             nftnl_udata_buf_len (udata));
}

static int
set_concat_desc (struct nftnl_set *s, const struct moat_set_def *def)
{
  uint8_t lens[MOAT_SET_MAX_FIELDS];

  for (unsigned i = 0; i < def->nfields; i++)
    lens[i] = moat_field_infos[def->fields[i]].len;
  return nftnl_set_set_data (s, NFTNL_SET_DESC_CONCAT, lens, def->nfields);
}

static int
put_set (struct builder *b, enum moat_set index)
{
  const struct moat_set_def *def = &moat_set_defs[index];
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();
  struct nlmsghdr *nlh;

  if (!s)
    return -1;
  nftnl_set_set_u32 (s, NFTNL_SET_FAMILY, def->family);
  if (nftnl_set_set_str (s, NFTNL_SET_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_set_set_str (s, NFTNL_SET_NAME, def->name) < 0)
    return -1;
  nftnl_set_set_u32 (s, NFTNL_SET_ID, (uint32_t)index + 1);
  nftnl_set_set_u32 (s, NFTNL_SET_FLAGS, def->flags);
  nftnl_set_set_u32 (s, NFTNL_SET_KEY_TYPE, moat_set_key_type (def));
  nftnl_set_set_u32 (s, NFTNL_SET_KEY_LEN, moat_set_key_len (def));
  if ((def->flags & NFT_SET_CONCAT) && set_concat_desc (s, def) < 0)
    return -1;
  if (def->verdict)
    nftnl_set_set_u32 (s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
  if (def->ndata)
    {
      nftnl_set_set_u32 (s, NFTNL_SET_DATA_TYPE, moat_fields_type (def->data, def->ndata));
      nftnl_set_set_u32 (s, NFTNL_SET_DATA_LEN, moat_fields_len (def->data, def->ndata));
    }
  if (set_userdata (s, def) < 0)
    return -1;
  nlh = builder_hdr (b, NFT_MSG_NEWSET, def->family, NLM_F_CREATE | NLM_F_ACK);
  nftnl_set_nlmsg_build_payload (nlh, s);
  return builder_next (b);
}

static int
put_chain (struct builder *b, const struct moat_chain_def *def)
{
  _cleanup_ (nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc ();
  struct nlmsghdr *nlh;

  if (!c)
    return -1;
  nftnl_chain_set_u32 (c, NFTNL_CHAIN_FAMILY, def->family);
  if (nftnl_chain_set_str (c, NFTNL_CHAIN_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_chain_set_str (c, NFTNL_CHAIN_NAME, def->name) < 0)
    return -1;
  if (def->type)
    {
      if (nftnl_chain_set_str (c, NFTNL_CHAIN_TYPE, def->type) < 0)
        return -1;
      nftnl_chain_set_u32 (c, NFTNL_CHAIN_HOOKNUM, def->hook);
      nftnl_chain_set_s32 (c, NFTNL_CHAIN_PRIO, def->prio);
      nftnl_chain_set_u32 (c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
    }
  nlh = builder_hdr (b, NFT_MSG_NEWCHAIN, def->family, NLM_F_CREATE | NLM_F_ACK);
  nftnl_chain_nlmsg_build_payload (nlh, c);
  return builder_next (b);
}

/* --- rule expressions ---------------------------------------------------- */

/* nft's register naming: a field starting on a 16-byte boundary uses the
 * legacy NFT_REG_1..4, others the 4-byte NFT_REG32_xx; both address the same
 * storage, this only keeps `nft --debug=netlink` output identical. */
static uint32_t
reg_at (uint32_t offset)
{
  if (offset % NFT_REG_SIZE == 0)
    return NFT_REG_1 + offset / NFT_REG_SIZE;
  return NFT_REG32_00 + offset / NFT_REG32_SIZE;
}

static int
add_expr (struct nftnl_rule *r, struct nftnl_expr *e)
{
  if (!e)
    return -1;
  nftnl_rule_add_expr (r, e);
  return 0;
}

static int
load_source (struct nftnl_rule *r, enum moat_source src, uint32_t dreg)
{
  const struct source_info *s = &source_infos[src];
  struct nftnl_expr *e = nftnl_expr_alloc (s->ct ? "ct" : s->meta ? "meta" : "payload");

  if (!e)
    return -1;
  if (s->ct)
    {
      nftnl_expr_set_u32 (e, NFTNL_EXPR_CT_KEY, s->what);
      nftnl_expr_set_u8 (e, NFTNL_EXPR_CT_DIR, (uint8_t)s->ct_dir);
      nftnl_expr_set_u32 (e, NFTNL_EXPR_CT_DREG, dreg);
    }
  else if (s->meta)
    {
      nftnl_expr_set_u32 (e, NFTNL_EXPR_META_KEY, s->what);
      nftnl_expr_set_u32 (e, NFTNL_EXPR_META_DREG, dreg);
    }
  else
    {
      nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_BASE, s->what);
      nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_OFFSET, s->offset);
      nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_LEN, s->len);
      nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
    }
  return add_expr (r, e);
}

static int
load_meta (struct nftnl_rule *r, uint32_t key)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("meta");

  if (!e)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_META_DREG, NFT_REG_1);
  return add_expr (r, e);
}

static int
load_payload (struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("payload");

  if (!e)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_LEN, len);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
  return add_expr (r, e);
}

static int
compare (struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("cmp");

  if (!e)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_CMP_OP, op);
  nftnl_expr_set (e, NFTNL_EXPR_CMP_DATA, data, len);
  return add_expr (r, e);
}

static int
match_u8 (struct nftnl_rule *r, int loaded, uint8_t value)
{
  return loaded < 0 ? -1 : compare (r, NFT_CMP_EQ, &value, sizeof (value));
}

static int
load_ct (struct nftnl_rule *r, uint32_t key)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("ct");

  if (!e)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_CT_KEY, key);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
  return add_expr (r, e);
}

static int
match_ct_state (struct nftnl_rule *r, uint32_t bits)
{
  struct nftnl_expr *bw;
  uint32_t zero = 0;

  if (load_ct (r, NFT_CT_STATE) < 0)
    return -1;
  bw = nftnl_expr_alloc ("bitwise");
  if (add_expr (r, bw) < 0)
    return -1;
  nftnl_expr_set_u32 (bw, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
  nftnl_expr_set_u32 (bw, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
  nftnl_expr_set_u32 (bw, NFTNL_EXPR_BITWISE_LEN, sizeof (uint32_t));
  nftnl_expr_set (bw, NFTNL_EXPR_BITWISE_MASK, &bits, sizeof (bits));
  nftnl_expr_set (bw, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof (zero));
  return compare (r, NFT_CMP_NEQ, &zero, sizeof (zero));
}

/* Loads each source into consecutive 4-byte-aligned registers, as the set's
 * key is laid out, then looks the concatenation up. */
static int
match_lookup (struct nftnl_rule *r, const struct moat_term *t)
{
  const struct moat_set_def *set = &moat_set_defs[t->set];
  struct nftnl_expr *e;
  uint32_t offset = 0;
  unsigned i;

  for (i = 0; i < MOAT_SET_MAX_FIELDS && t->sources[i] != MOAT_SRC_NONE; i++)
    {
      const struct source_info *s = &source_infos[t->sources[i]];

      if (i >= set->nfields || s->len != moat_field_infos[set->fields[i]].len)
        return -1;
      if (load_source (r, t->sources[i], reg_at (offset)) < 0)
        return -1;
      offset += moat_field_padded (s->len);
    }
  if (i != set->nfields)
    return -1;
  e = nftnl_expr_alloc ("lookup");
  if (add_expr (r, e) < 0)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
  nftnl_expr_set_str (e, NFTNL_EXPR_LOOKUP_SET, set->name);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_LOOKUP_SET_ID, (uint32_t)t->set + 1);
  if (t->kind == MOAT_TERM_NOT_LOOKUP)
    nftnl_expr_set_u32 (e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
  return 0;
}

#define NO_DREG (-1)

/* A lookup of the register `sreg` in `set`; a map writes its value to
 * `dreg` (NO_DREG: a plain set; NFT_REG_VERDICT: a verdict map). */
static int
lookup (struct nftnl_rule *r, enum moat_set set, uint32_t sreg, int dreg)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("lookup");

  if (add_expr (r, e) < 0)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_LOOKUP_SREG, sreg);
  if (dreg != NO_DREG)
    nftnl_expr_set_u32 (e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t)dreg);
  nftnl_expr_set_str (e, NFTNL_EXPR_LOOKUP_SET, moat_set_defs[set].name);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_LOOKUP_SET_ID, (uint32_t)set + 1);
  return 0;
}

/* The proxy map's value (address . port) lands in the two registers the
 * nat expression reads. */
static int
put_proxy_dnat (struct nftnl_rule *r)
{
  struct nftnl_expr *e;

  if (load_source (r, MOAT_SRC_IP_SADDR, NFT_REG_1) < 0
      || load_source (r, MOAT_SRC_TH_DPORT, NFT_REG32_01) < 0
      || lookup (r, MOAT_SET_PROXY, NFT_REG_1, NFT_REG_1) < 0)
    return -1;
  e = nftnl_expr_alloc ("nat");
  if (add_expr (r, e) < 0)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_NAT_REG_ADDR_MAX, NFT_REG_1);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG32_01);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_NAT_REG_PROTO_MAX, NFT_REG32_01);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED);
  return 0;
}

static int
put_term (struct nftnl_rule *r, const struct moat_term *t)
{
  uint16_t ethertype;

  switch (t->kind)
    {
    case MOAT_TERM_END:
      return 0;
    case MOAT_TERM_IPV4:
      return match_u8 (r, load_meta (r, NFT_META_NFPROTO), NFPROTO_IPV4);
    case MOAT_TERM_ETHER_TYPE:
      ethertype = htons ((uint16_t)t->value);
      if (load_payload (r, NFT_PAYLOAD_LL_HEADER, 12, sizeof (ethertype)) < 0)
        return -1;
      return compare (r, NFT_CMP_EQ, &ethertype, sizeof (ethertype));
    case MOAT_TERM_L4PROTO:
      return match_u8 (r, load_meta (r, NFT_META_L4PROTO), (uint8_t)t->value);
    case MOAT_TERM_ICMP_TYPE:
      return match_u8 (r, load_payload (r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1), (uint8_t)t->value);
    case MOAT_TERM_CT_STATE:
      return match_ct_state (r, t->value);
    case MOAT_TERM_CT_REPLY:
      return match_u8 (r, load_ct (r, NFT_CT_DIRECTION), IP_CT_DIR_REPLY);
    case MOAT_TERM_LOOKUP:
    case MOAT_TERM_NOT_LOOKUP:
      return match_lookup (r, t);
    }
  return -1;
}

static int
put_verdict (struct nftnl_rule *r, int verdict, const char *chain)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("immediate");

  if (add_expr (r, e) < 0)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
  if (chain)
    nftnl_expr_set_str (e, NFTNL_EXPR_IMM_CHAIN, chain);
  return 0;
}

static int
put_reject (struct nftnl_rule *r, uint32_t type, uint8_t code)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("reject");

  if (add_expr (r, e) < 0)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_REJECT_TYPE, type);
  nftnl_expr_set_u8 (e, NFTNL_EXPR_REJECT_CODE, code);
  return 0;
}

static int
put_action (struct nftnl_rule *r, const struct moat_rule_def *def)
{
  switch (def->action)
    {
    case MOAT_ACT_ACCEPT:
      return put_verdict (r, NF_ACCEPT, NULL);
    case MOAT_ACT_DROP:
      return put_verdict (r, NF_DROP, NULL);
    case MOAT_ACT_JUMP:
      return put_verdict (r, NFT_JUMP, def->target);
    case MOAT_ACT_GOTO:
      return put_verdict (r, NFT_GOTO, def->target);
    case MOAT_ACT_REJECT_TCP_RESET:
      return put_reject (r, NFT_REJECT_TCP_RST, 0);
    case MOAT_ACT_REJECT_ADMIN:
      return put_reject (r, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
    case MOAT_ACT_MASQUERADE:
      return add_expr (r, nftnl_expr_alloc ("masq"));
    case MOAT_ACT_PROXY_DNAT:
      return put_proxy_dnat (r);
    case MOAT_ACT_SRC_IDENT:
      return load_source (r, MOAT_SRC_IP_SADDR, NFT_REG_1) < 0
                 ? -1
                 : lookup (r, MOAT_SET_SRC_IDENT, NFT_REG_1, NFT_REG_VERDICT);
    }
  return -1;
}

static int
put_rule (struct builder *b, const struct moat_rule_def *def)
{
  _cleanup_ (nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc ();
  struct nlmsghdr *nlh;

  if (!r)
    return -1;
  nftnl_rule_set_u32 (r, NFTNL_RULE_FAMILY, def->family);
  if (nftnl_rule_set_str (r, NFTNL_RULE_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_rule_set_str (r, NFTNL_RULE_CHAIN, def->chain) < 0)
    return -1;
  for (size_t i = 0; i < MOAT_RULE_MAX_TERMS; i++)
    if (put_term (r, &def->terms[i]) < 0)
      return -1;
  if (put_action (r, def) < 0)
    return -1;
  nlh = builder_hdr (b, NFT_MSG_NEWRULE, def->family, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK);
  nftnl_rule_nlmsg_build_payload (nlh, r);
  return builder_next (b);
}

/* One table with its sets, chains and rules. The table is created with
 * NLM_F_EXCL: of two racing creators, one fails with EEXIST before anything
 * is duplicated (the rules are appended, so a second copy would double
 * them). */
static int
put_family (struct builder *b, uint16_t family)
{
  if (put_table (b, family, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL) < 0)
    return -1;
  for (size_t i = 0; i < MOAT_SET_COUNT; i++)
    if (moat_set_defs[i].family == family && put_set (b, (enum moat_set)i) < 0)
      return -1;
  for (size_t i = 0; i < moat_chain_defs_count; i++)
    if (moat_chain_defs[i].family == family && put_chain (b, &moat_chain_defs[i]) < 0)
      return -1;
  for (size_t i = 0; i < moat_rule_defs_count; i++)
    if (moat_rule_defs[i].family == family && put_rule (b, &moat_rule_defs[i]) < 0)
      return -1;
  return 0;
}

static int
put_tables (struct builder *b, unsigned families)
{
  if ((families & FAMILY_INET) && put_family (b, NFPROTO_INET) < 0)
    return -1;
  if ((families & FAMILY_BRIDGE) && put_family (b, NFPROTO_BRIDGE) < 0)
    return -1;
  return 0;
}

/* One message for elements of one set. */
static int
put_elems (struct builder *b, const struct moat_elem *elems, size_t n, uint16_t msg_type,
           uint16_t flags)
{
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();
  const struct moat_set_def *def = elems[0].set;
  const char *name = elems[0].name[0] ? elems[0].name : def->name;
  struct nlmsghdr *nlh;

  if (!s)
    return -1;
  nftnl_set_set_u32 (s, NFTNL_SET_FAMILY, def->family);
  if (nftnl_set_set_str (s, NFTNL_SET_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_set_set_str (s, NFTNL_SET_NAME, name) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      struct nftnl_set_elem *e = nftnl_set_elem_alloc ();

      if (!e)
        return -1;
      nftnl_set_elem_add (s, e);
      if (nftnl_set_elem_set (e, NFTNL_SET_ELEM_KEY, elems[i].key, elems[i].key_len) < 0)
        return -1;
      if (elems[i].key_end_len
          && nftnl_set_elem_set (e, NFTNL_SET_ELEM_KEY_END, elems[i].key_end, elems[i].key_end_len)
                 < 0)
        return -1;
      if (elems[i].timeout_ms && msg_type == NFT_MSG_NEWSETELEM)
        nftnl_set_elem_set_u64 (e, NFTNL_SET_ELEM_TIMEOUT, elems[i].timeout_ms);
      if (elems[i].data_len
          && nftnl_set_elem_set (e, NFTNL_SET_ELEM_DATA, elems[i].data, elems[i].data_len) < 0)
        return -1;
      if (elems[i].jump[0])
        {
          nftnl_set_elem_set_u32 (e, NFTNL_SET_ELEM_VERDICT, NFT_JUMP);
          if (nftnl_set_elem_set_str (e, NFTNL_SET_ELEM_CHAIN, elems[i].jump) < 0)
            return -1;
        }
    }
  nlh = builder_hdr (b, msg_type, def->family, flags | NLM_F_ACK);
  nftnl_set_elems_nlmsg_build_payload (nlh, s);
  return builder_next (b);
}

/* Adding an element that exists is success: NLM_F_CREATE without
 * NLM_F_EXCL. Not for a host end's `guarded` element: a name another
 * attachment guards is refused (EEXIST, and the batch adds nothing), so
 * an ADD never shares a guard, and its undo never removes one it did not
 * add. */
static int
put_elem_adds (struct builder *b, const struct moat_elem *elems, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      uint16_t excl = elems[i].set == &moat_set_defs[MOAT_SET_GUARDED] ? NLM_F_EXCL : 0;

      if (put_elems (b, &elems[i], 1, NFT_MSG_NEWSETELEM, NLM_F_CREATE | excl) < 0)
        return -1;
    }
  return 0;
}

static int
put_elem_destroys (struct builder *b, const struct moat_elem *elems, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (put_elems (b, &elems[i], 1, MOAT_NFT_MSG_DESTROYSETELEM, 0) < 0)
      return -1;
  return 0;
}

static int
build_failed (struct builder *b, moat_err_t *err)
{
  if (b->batch)
    nftnl_batch_free (b->batch);
  b->batch = NULL;
  return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: cannot build batch");
}

static struct nftnl_batch *
build_error (struct builder *b, moat_err_t *err)
{
  build_failed (b, err);
  return NULL;
}

struct nftnl_batch *
moat_nft_build_tables (uint32_t seq, moat_err_t *err)
{
  struct builder b;

  if (builder_start (&b, seq) < 0 || put_tables (&b, FAMILY_INET | FAMILY_BRIDGE) < 0
      || builder_finish (&b) < 0)
    return build_error (&b, err);
  return b.batch;
}

/* Adding sends NEWSETELEM, deleting DESTROYSETELEM (see the DESTROY note at
 * the top), one message per element so that an error names the element. */
struct nftnl_batch *
moat_nft_build_member (const struct moat_nft_member *m, bool add, uint32_t seq, moat_err_t *err)
{
  struct moat_elem elems[MOAT_MEMBER_MAX_ELEMS];
  struct builder b;
  size_t n;
  int r;

  if (moat_member_elems (m, !add, elems, &n, err) < 0)
    return NULL;
  if (builder_start (&b, seq) < 0)
    return build_error (&b, err);
  r = add ? put_elem_adds (&b, elems, n) : put_elem_destroys (&b, elems, n);
  if (r < 0 || builder_finish (&b) < 0)
    return build_error (&b, err);
  return b.batch;
}

/* The missing tables, then the member's elements: the slow path of the
 * first ADD. */
static struct nftnl_batch *
build_tables_and_member (const struct moat_elem *elems, size_t n, unsigned families, uint32_t seq,
                         moat_err_t *err)
{
  struct builder b;

  if (builder_start (&b, seq) < 0 || put_tables (&b, families) < 0
      || put_elem_adds (&b, elems, n) < 0 || builder_finish (&b) < 0)
    return build_error (&b, err);
  return b.batch;
}

/* --- describing a message by its sequence number ------------------------ */

/* The message with sequence number `seq` in the batch, or NULL. */
static const struct nlmsghdr *
batch_find (struct nftnl_batch *batch, uint32_t seq)
{
  int n = nftnl_batch_iovec_len (batch);
  struct iovec iov[n > 0 ? n : 1];

  nftnl_batch_iovec (batch, iov, (uint32_t)n);
  for (int i = 0; i < n; i++)
    {
      const struct nlmsghdr *nlh = iov[i].iov_base;
      int len = (int)iov[i].iov_len;

      for (; mnl_nlmsg_ok (nlh, len); nlh = mnl_nlmsg_next (nlh, &len))
        if (nlh->nlmsg_seq == seq)
          return nlh;
    }
  return NULL;
}

static uint32_t
msg_family (const struct nlmsghdr *nlh)
{
  const struct nfgenmsg *g = mnl_nlmsg_get_payload (nlh);

  return g->nfgen_family;
}

static void
describe_table (const struct nlmsghdr *nlh, char *buf, size_t size)
{
  _cleanup_ (nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc ();

  if (!t || nftnl_table_nlmsg_parse (nlh, t) < 0)
    snprintf (buf, size, "table %s %s", moat_family_name (msg_family (nlh)), MOAT_NFT_TABLE);
  else
    snprintf (buf, size, "table %s %s", moat_family_name (msg_family (nlh)),
              nftnl_table_get_str (t, NFTNL_TABLE_NAME));
}

static void
describe_set (const struct nlmsghdr *nlh, char *buf, size_t size)
{
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();

  if (!s || nftnl_set_nlmsg_parse (nlh, s) < 0)
    snprintf (buf, size, "set in table %s %s", moat_family_name (msg_family (nlh)), MOAT_NFT_TABLE);
  else
    snprintf (buf, size, "set \"%s\" in table %s %s", nftnl_set_get_str (s, NFTNL_SET_NAME),
              moat_family_name (msg_family (nlh)), nftnl_set_get_str (s, NFTNL_SET_TABLE));
}

static void
describe_chain (const struct nlmsghdr *nlh, char *buf, size_t size)
{
  _cleanup_ (nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc ();

  if (!c || nftnl_chain_nlmsg_parse (nlh, c) < 0)
    snprintf (buf, size, "chain in table %s %s", moat_family_name (msg_family (nlh)),
              MOAT_NFT_TABLE);
  else
    snprintf (buf, size, "chain \"%s\" in table %s %s", nftnl_chain_get_str (c, NFTNL_CHAIN_NAME),
              moat_family_name (msg_family (nlh)), nftnl_chain_get_str (c, NFTNL_CHAIN_TABLE));
}

/* A rule is named by its text in moat_rule_defs: the k-th NEWRULE for a chain in
 * the batch is the k-th rule_def of that chain. */
static void
describe_rule (struct nftnl_batch *batch, const struct nlmsghdr *nlh, char *buf, size_t size)
{
  _cleanup_ (nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc ();
  uint32_t family = msg_family (nlh);
  const char *chain, *text = NULL;
  size_t index = 0;

  if (!r || nftnl_rule_nlmsg_parse (nlh, r) < 0)
    {
      snprintf (buf, size, "rule in table %s %s", moat_family_name (family), MOAT_NFT_TABLE);
      return;
    }
  chain = nftnl_rule_get_str (r, NFTNL_RULE_CHAIN);
  for (uint32_t seq = nlh->nlmsg_seq - 1; seq != 0; seq--)
    {
      const struct nlmsghdr *prev = batch_find (batch, seq);
      _cleanup_ (nftnl_rule_freep) struct nftnl_rule *p = NULL;

      if (!prev)
        break;
      if (NFNL_MSG_TYPE (prev->nlmsg_type) != NFT_MSG_NEWRULE || msg_family (prev) != family)
        continue;
      p = nftnl_rule_alloc ();
      if (p && nftnl_rule_nlmsg_parse (prev, p) == 0
          && strcmp (nftnl_rule_get_str (p, NFTNL_RULE_CHAIN), chain) == 0)
        index++;
    }
  for (size_t i = 0; i < moat_rule_defs_count && !text; i++)
    if (moat_rule_defs[i].family == family && strcmp (moat_rule_defs[i].chain, chain) == 0
        && index-- == 0)
      text = moat_rule_defs[i].text;
  snprintf (buf, size, "rule \"%s\" in chain %s %s %s", text ? text : "?",
            moat_family_name (family), MOAT_NFT_TABLE, chain);
}

struct first_elem
{
  char text[256];
  const struct moat_set_def *def;
  size_t count;
};

static int
describe_one_elem (struct nftnl_set_elem *e, void *data)
{
  struct first_elem *f = data;
  const uint8_t *key, *end = NULL;
  uint32_t key_len = 0, end_len = 0;

  if (f->count++ > 0 || !f->def)
    return 0;
  key = nftnl_set_elem_get (e, NFTNL_SET_ELEM_KEY, &key_len);
  if (nftnl_set_elem_is_set (e, NFTNL_SET_ELEM_KEY_END))
    end = nftnl_set_elem_get (e, NFTNL_SET_ELEM_KEY_END, &end_len);
  if (key)
    moat_key_format (f->def, key, key_len, end, end_len, f->text, sizeof (f->text));
  return 0;
}

static void
describe_elems (const struct nlmsghdr *nlh, char *buf, size_t size)
{
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();
  struct first_elem f = { .text = "" };
  uint32_t family = msg_family (nlh);
  const char *name;

  if (!s || nftnl_set_elems_nlmsg_parse (nlh, s) < 0)
    {
      snprintf (buf, size, "set in table %s %s", moat_family_name (family), MOAT_NFT_TABLE);
      return;
    }
  name = nftnl_set_get_str (s, NFTNL_SET_NAME);
  f.def = moat_set_def_find (family, name);
  nftnl_set_elem_foreach (s, describe_one_elem, &f);
  if (f.count > 1)
    snprintf (buf, size, "set \"%s\" in table %s %s: %zu elements from %s", name,
              moat_family_name (family), nftnl_set_get_str (s, NFTNL_SET_TABLE), f.count, f.text);
  else
    snprintf (buf, size, "set \"%s\" in table %s %s: element %s", name, moat_family_name (family),
              nftnl_set_get_str (s, NFTNL_SET_TABLE), f.text);
}

static void
describe_msg (struct nftnl_batch *batch, uint32_t seq, char *buf, size_t size)
{
  const struct nlmsghdr *nlh = batch_find (batch, seq);

  if (!nlh)
    {
      snprintf (buf, size, "batch");
      return;
    }
  if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN)
    {
      snprintf (buf, size, "batch");
      return;
    }
  switch (NFNL_MSG_TYPE (nlh->nlmsg_type))
    {
    case NFT_MSG_NEWTABLE:
    case NFT_MSG_DELTABLE:
    case MOAT_NFT_MSG_DESTROYTABLE:
      describe_table (nlh, buf, size);
      break;
    case NFT_MSG_NEWSET:
      describe_set (nlh, buf, size);
      break;
    case NFT_MSG_NEWCHAIN:
      describe_chain (nlh, buf, size);
      break;
    case NFT_MSG_NEWRULE:
      describe_rule (batch, nlh, buf, size);
      break;
    case NFT_MSG_NEWSETELEM:
    case NFT_MSG_GETSETELEM:
    case NFT_MSG_DELSETELEM:
    case MOAT_NFT_MSG_DESTROYSETELEM:
      describe_elems (nlh, buf, size);
      break;
    default:
      snprintf (buf, size, "message %u", (unsigned)seq);
    }
}

/* --- talking to the kernel ----------------------------------------------- */

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

static void
reply_done (struct reply *r)
{
  free (r->errnums);
  r->errnums = NULL;
}

#define _cleanup_reply_ _cleanup_ (reply_done)

static int
reply_errnum_at (const struct reply *r, uint32_t seq)
{
  return seq - r->first_seq < r->nseq ? r->errnums[seq - r->first_seq] : 0;
}

struct talk
{
  bool *pending; /* by seq - first_seq: an ack is still owed */
  size_t npending;
  uint32_t batch_seq; /* the batch-begin message: errors for the batch as a whole */
  bool is_batch;
  bool batch_failed;
  struct reply *reply;
  mnl_cb_t on_data; /* NULL: data messages are ignored */
  void *data_arg;
};

static void
extack_message (const struct nlmsghdr *nlh, char *buf, size_t size)
{
  const struct nlmsgerr *e = mnl_nlmsg_get_payload (nlh);
  size_t payload_len = mnl_nlmsg_get_payload_len (nlh);
  size_t offset = sizeof (*e);
  const struct nlattr *attr, *tlvs;

  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
    return;
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
    offset += e->msg.nlmsg_len - sizeof (struct nlmsghdr);
  if (payload_len <= offset)
    return;
  tlvs = (const struct nlattr *)((const char *)e + offset);
  mnl_attr_for_each_payload (tlvs, payload_len - offset)
  {
    if (mnl_attr_get_type (attr) == NLMSGERR_ATTR_MSG
        && mnl_attr_validate (attr, MNL_TYPE_NUL_STRING) == 0)
      snprintf (buf, size, "%s", mnl_attr_get_str (attr));
  }
}

static int
on_ack (const struct nlmsghdr *nlh, void *data)
{
  struct talk *t = data;
  struct reply *r = t->reply;
  const struct nlmsgerr *e;
  uint32_t index = nlh->nlmsg_seq - r->first_seq;
  int errnum;

  if (mnl_nlmsg_get_payload_len (nlh) < sizeof (*e))
    {
      errno = EBADMSG;
      return MNL_CB_ERROR;
    }
  e = mnl_nlmsg_get_payload (nlh);
  errnum = -e->error;
  if (index < r->nseq && t->pending[index])
    {
      t->pending[index] = false;
      t->npending--;
      r->errnums[index] = errnum;
    }
  else if (t->is_batch && nlh->nlmsg_seq == t->batch_seq && errnum)
    t->batch_failed = true;
  else
    return MNL_CB_OK; /* not ours: a late reply to an earlier request */
  if (errnum && !r->errnum)
    {
      r->errnum = errnum;
      r->seq = nlh->nlmsg_seq;
      extack_message (nlh, r->extack, sizeof (r->extack));
    }
  return MNL_CB_OK;
}

static int
route_data (const struct nlmsghdr *nlh, void *data)
{
  struct talk *t = data;

  return t->on_data ? t->on_data (nlh, t->data_arg) : MNL_CB_OK;
}

static int
run_replies (struct talk *t, const void *buf, size_t len, uint32_t portid)
{
  mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = on_ack };

  return mnl_cb_run2 (buf, len, 0, portid, route_data, t, ctl, ARRAY_SIZE (ctl));
}

/* Marks every message that asked for an ack as owed one. */
static int
talk_init (struct talk *t, struct iovec *iov, int n, struct reply *reply)
{
  const struct nlmsghdr *first = iov[0].iov_base;
  uint32_t last_seq = first->nlmsg_seq;

  reply_done (reply);
  memset (reply, 0, sizeof (*reply));
  memset (t, 0, sizeof (*t));
  t->reply = reply;
  t->is_batch = first->nlmsg_type == NFNL_MSG_BATCH_BEGIN;
  t->batch_seq = first->nlmsg_seq;
  for (int i = 0; i < n; i++)
    {
      const struct nlmsghdr *nlh = iov[i].iov_base;
      int len = (int)iov[i].iov_len;

      for (; mnl_nlmsg_ok (nlh, len); nlh = mnl_nlmsg_next (nlh, &len))
        last_seq = nlh->nlmsg_seq;
    }
  reply->first_seq = first->nlmsg_seq;
  reply->nseq = last_seq - first->nlmsg_seq + 1;
  reply->errnums = calloc (reply->nseq, sizeof (int));
  t->pending = calloc (reply->nseq, sizeof (bool));
  if (!reply->errnums || !t->pending)
    return -1;
  for (int i = 0; i < n; i++)
    {
      const struct nlmsghdr *nlh = iov[i].iov_base;
      int len = (int)iov[i].iov_len;

      for (; mnl_nlmsg_ok (nlh, len); nlh = mnl_nlmsg_next (nlh, &len))
        if ((nlh->nlmsg_flags & NLM_F_ACK) && nlh->nlmsg_seq - reply->first_seq < reply->nseq)
          {
            t->pending[nlh->nlmsg_seq - reply->first_seq] = true;
            t->npending++;
          }
    }
  return 0;
}

/* A batch queues all its acks before we read any: make room for many. */
static void
grow_rcvbuf (struct mnl_socket *nl, size_t acks)
{
  int size = (int)(acks * 1024);

  if (acks < 128)
    return;
  if (setsockopt (mnl_socket_get_fd (nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof (size)) < 0)
    setsockopt (mnl_socket_get_fd (nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof (size));
}

static int
send_iov (struct mnl_socket *nl, struct iovec *iov, int n)
{
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  struct msghdr msg = {
    .msg_name = &kernel,
    .msg_namelen = sizeof (kernel),
    .msg_iov = iov,
    .msg_iovlen = (size_t)n,
  };

  return sendmsg (mnl_socket_get_fd (nl), &msg, 0) < 0 ? -1 : 0;
}

/* After a batch-level error nothing more is owed, but the kernel may have
 * queued per-message acks too: read what is there without waiting. */
static void
drain_queued (struct mnl_socket *nl, struct talk *t, char *buf)
{
  ssize_t len;

  while ((len = recv (mnl_socket_get_fd (nl), buf, RECV_BUF_SIZE, MSG_DONTWAIT)) > 0)
    run_replies (t, buf, (size_t)len, mnl_socket_get_portid (nl));
}

static int
talk_exchange (struct mnl_socket *nl, struct talk *t, struct iovec *iov, int n, char *buf,
               moat_err_t *err)
{
  grow_rcvbuf (nl, t->npending);
  if (send_iov (nl, iov, n) < 0)
    return moat_error (err, MOAT_E_NFT, errno, "nft: cannot send request");
  while (t->npending > 0 && !t->batch_failed)
    {
      ssize_t len = mnl_socket_recvfrom (nl, buf, RECV_BUF_SIZE);

      if (len < 0)
        return moat_error (err, MOAT_E_NFT, errno, "nft: cannot read the kernel's acks");
      if (run_replies (t, buf, (size_t)len, mnl_socket_get_portid (nl)) < 0)
        return moat_error (err, MOAT_E_NFT, errno, "nft: bad reply from the kernel");
    }
  if (t->batch_failed)
    drain_queued (nl, t, buf);
  return 0;
}

/* Sends the messages in one sendmsg and reads replies until every message
 * that asked for an ack got one, or the batch failed as a whole. Returns -1
 * only when the exchange itself failed; the kernel's verdict is in *reply
 * (which the caller zero-initialises and releases with reply_done). */
/* The kernel refuses a batch larger than the socket's send buffer
 * (EMSGSIZE); a DEL sweeping thousands of elements can be. */
static void
grow_sndbuf (struct mnl_socket *nl, const struct iovec *iov, int n)
{
  size_t total = 0;
  int size;

  for (int i = 0; i < n; i++)
    total += iov[i].iov_len;
  if (total < 128 * 1024)
    return;
  size = (int)(total + 4096);
  if (setsockopt (mnl_socket_get_fd (nl), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof (size)) < 0)
    setsockopt (mnl_socket_get_fd (nl), SOL_SOCKET, SO_SNDBUF, &size, sizeof (size));
}

static int
talk_data (struct mnl_socket *nl, struct nftnl_batch *batch, struct reply *reply, mnl_cb_t on_data,
           void *data_arg, moat_err_t *err)
{
  int n = nftnl_batch_iovec_len (batch);
  struct iovec iov[n > 0 ? n : 1];
  _cleanup_free_ char *buf = NULL;
  _cleanup_free_ bool *pending = NULL;
  struct talk t;
  int r;

  if (n <= 0)
    return moat_error (err, MOAT_E_NFT, EINVAL, "nft: empty request");
  nftnl_batch_iovec (batch, iov, (uint32_t)n);
  grow_sndbuf (nl, iov, n);
  r = talk_init (&t, iov, n, reply);
  pending = t.pending;
  t.on_data = on_data;
  t.data_arg = data_arg;
  buf = malloc (RECV_BUF_SIZE);
  if (r < 0 || !buf)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: cannot prepare request");
  return talk_exchange (nl, &t, iov, n, buf, err);
}

static int
talk (struct mnl_socket *nl, struct nftnl_batch *batch, struct reply *reply, moat_err_t *err)
{
  return talk_data (nl, batch, reply, NULL, NULL, err);
}

/* Turns the kernel's error for message `seq` into *err, naming the object. */
static int
reply_error_at (struct nftnl_batch *batch, const struct reply *reply, uint32_t seq, moat_err_t *err)
{
  int errnum = seq == reply->seq ? reply->errnum : reply_errnum_at (reply, seq);
  char what[512];

  describe_msg (batch, seq, what, sizeof (what));
  if (seq == reply->seq && reply->extack[0])
    return moat_error (err, MOAT_E_NFT, errnum, "nft: %s: %s", what, reply->extack);
  return moat_error (err, MOAT_E_NFT, errnum, "nft: %s", what);
}

static int
reply_error (struct nftnl_batch *batch, const struct reply *reply, moat_err_t *err)
{
  return reply_error_at (batch, reply, reply->seq, err);
}

static int
open_socket (struct mnl_socket **ret, moat_err_t *err)
{
  _cleanup_socket_ struct mnl_socket *nl = mnl_socket_open2 (NETLINK_NETFILTER, SOCK_CLOEXEC);
  int one = 1;

  if (!nl)
    return moat_error (err, MOAT_E_NFT, errno, "nft: cannot open netlink socket");
  /* Best effort: without them errors still arrive, only less precisely
   * described and with the request echoed back. */
  mnl_socket_setsockopt (nl, NETLINK_EXT_ACK, &one, sizeof (one));
  mnl_socket_setsockopt (nl, NETLINK_CAP_ACK, &one, sizeof (one));
  if (mnl_socket_bind (nl, 0, MNL_SOCKET_AUTOPID) < 0)
    return moat_error (err, MOAT_E_NFT, errno, "nft: cannot bind netlink socket");
  *ret = TAKE_PTR (nl);
  return 0;
}

struct moat_nft
{
  struct mnl_socket *nl;
  bool no_destroy; /* the kernel refused NFT_MSG_DESTROY* (before 6.3) */
};

int
moat_nft_open (struct moat_nft **ret, moat_err_t *err)
{
  struct moat_nft *nft = calloc (1, sizeof (*nft));

  if (!nft)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft");
  if (open_socket (&nft->nl, err) < 0)
    {
      free (nft);
      return -1;
    }
  *ret = nft;
  return 0;
}

void
moat_nft_close (struct moat_nft *nft)
{
  if (!nft)
    return;
  mnl_socket_close (nft->nl);
  free (nft);
}

static uint32_t
first_seq (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint32_t)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static bool
failed_at (struct nftnl_batch *batch, const struct reply *reply, uint16_t type, uint32_t family)
{
  const struct nlmsghdr *nlh = batch_find (batch, reply->seq);

  return nlh && nlh->nlmsg_type != NFNL_MSG_BATCH_BEGIN && NFNL_MSG_TYPE (nlh->nlmsg_type) == type
         && msg_family (nlh) == family;
}

/* --- ADD ----------------------------------------------------------------- */

/* The tables in which some message of the batch found its table or set
 * missing. */
static unsigned
missing_families (struct nftnl_batch *batch, const struct reply *reply)
{
  int n = nftnl_batch_iovec_len (batch);
  struct iovec iov[n > 0 ? n : 1];
  unsigned families = 0;

  nftnl_batch_iovec (batch, iov, (uint32_t)n);
  for (int i = 0; i < n; i++)
    {
      const struct nlmsghdr *nlh = iov[i].iov_base;
      int len = (int)iov[i].iov_len;

      for (; mnl_nlmsg_ok (nlh, len); nlh = mnl_nlmsg_next (nlh, &len))
        if (nlh->nlmsg_type != NFNL_MSG_BATCH_BEGIN && nlh->nlmsg_type != NFNL_MSG_BATCH_END
            && reply_errnum_at (reply, nlh->nlmsg_seq) == ENOENT)
          families |= family_bit (msg_family (nlh));
    }
  return families;
}

/* Returns 0, -1, or the tables to create (FAMILY_* bits) when the kernel
 * said ENOENT, with *err naming what was missing. */
static int
add_elements (struct mnl_socket *nl, const struct moat_nft_member *m, uint32_t seq, moat_err_t *err)
{
  _cleanup_batch_ struct nftnl_batch *batch = moat_nft_build_member (m, true, seq, err);
  _cleanup_reply_ struct reply reply = { 0 };
  unsigned families;

  if (!batch || talk (nl, batch, &reply, err) < 0)
    return -1;
  if (!reply.errnum)
    return 0;
  reply_error (batch, &reply, err);
  families = reply.errnum == ENOENT ? missing_families (batch, &reply) : 0;
  return families ? (int)families : -1;
}

/* Creates the missing tables and adds the elements in one batch. Returns 1
 * when someone else created a table meanwhile (EEXIST on it). */
static int
create_and_add (struct mnl_socket *nl, const struct moat_nft_member *m, unsigned families,
                uint32_t seq, moat_err_t *err)
{
  _cleanup_batch_ struct nftnl_batch *batch = NULL;
  _cleanup_reply_ struct reply reply = { 0 };
  struct moat_elem elems[MOAT_MEMBER_MAX_ELEMS];
  size_t n;

  if (moat_member_elems (m, false, elems, &n, err) < 0)
    return -1;
  batch = build_tables_and_member (elems, n, families, seq, err);
  if (!batch || talk (nl, batch, &reply, err) < 0)
    return -1;
  if (reply.errnum == EEXIST
      && (failed_at (batch, &reply, NFT_MSG_NEWTABLE, NFPROTO_INET)
          || failed_at (batch, &reply, NFT_MSG_NEWTABLE, NFPROTO_BRIDGE)))
    return 1;
  if (reply.errnum)
    return reply_error (batch, &reply, err);
  return 0;
}

/* The fast path is one batch of elements, one round trip. When the kernel
 * answers ENOENT, the tables it found missing are created in one batch with
 * the elements; losing that race to another creator (EEXIST on a table)
 * means its tables exist now, so the element batch is tried once more. A
 * table that exists with a set missing stays an error: that is drift for
 * `moatctl restore`, not something to paper over here. */
int
moat_nft_member_add (struct moat_nft *nft, const struct moat_nft_member *m, moat_err_t *err)
{
  struct mnl_socket *nl = nft->nl;
  uint32_t seq = first_seq ();
  int r;

  r = add_elements (nl, m, seq, err);
  if (r <= 0)
    return r;
  r = create_and_add (nl, m, (unsigned)r, seq + 16, err);
  if (r == 1)
    r = add_elements (nl, m, seq + 1024, err) == 0 ? 0 : -1;
  if (r == 0)
    *err = (moat_err_t){ 0 }; /* forget the fast path's ENOENT */
  return r;
}

/* --- DEL ----------------------------------------------------------------- */

/* The fallback for kernels without DESTROY: each element in its own
 * DELSETELEM batch, where ENOENT only says that element is already gone. */
static int
delete_one_by_one (struct mnl_socket *nl, const struct moat_elem *elems, size_t n, uint32_t seq,
                   moat_err_t *err)
{
  for (size_t i = 0; i < n; i++, seq += 4)
    {
      _cleanup_batch_ struct nftnl_batch *batch = NULL;
      _cleanup_reply_ struct reply reply = { 0 };
      struct builder b;

      if (builder_start (&b, seq) < 0 || put_elems (&b, &elems[i], 1, NFT_MSG_DELSETELEM, 0) < 0
          || builder_finish (&b) < 0)
        return build_failed (&b, err);
      batch = b.batch;
      if (talk (nl, batch, &reply, err) < 0)
        return -1;
      if (reply.errnum && reply.errnum != ENOENT)
        return reply_error (batch, &reply, err);
    }
  return 0;
}

/* Consecutive elements of one set, sent as one DESTROYSETELEM message. */
struct elem_group
{
  const struct moat_elem *elems;
  size_t n;
  uint32_t seq; /* of its message in the last batch */
  bool gone;    /* its table or set does not exist: nothing to delete */
};

static size_t
group_elems (const struct moat_elem *elems, size_t n, struct elem_group *groups)
{
  size_t ngroups = 0;

  for (size_t i = 0; i < n;)
    {
      size_t j = i + 1;

      while (j < n && elems[j].set == elems[i].set && j - i < MAX_ELEMS_PER_MSG)
        j++;
      groups[ngroups++] = (struct elem_group){ .elems = &elems[i], .n = j - i };
      i = j;
    }
  return ngroups;
}

/* One batch with a DESTROYSETELEM message per group still to delete. */
static struct nftnl_batch *
build_destroys (struct elem_group *groups, size_t ngroups, uint32_t seq, moat_err_t *err)
{
  struct builder b;

  if (builder_start (&b, seq) < 0)
    return build_error (&b, err);
  for (size_t g = 0; g < ngroups; g++)
    {
      if (groups[g].gone)
        continue;
      groups[g].seq = b.seq;
      if (put_elems (&b, groups[g].elems, groups[g].n, MOAT_NFT_MSG_DESTROYSETELEM, 0) < 0)
        return build_error (&b, err);
    }
  if (builder_finish (&b) < 0)
    return build_error (&b, err);
  return b.batch;
}

/* Marks groups whose table or set is missing (ENOENT: DESTROY does not
 * complain about missing elements). Returns 1 if the batch should be resent
 * without them, 0 if the kernel lacks DESTROY, -1 on another error. */
static int
sort_out_failures (struct nftnl_batch *batch, const struct reply *reply, struct elem_group *groups,
                   size_t ngroups, moat_err_t *err)
{
  if (reply->errnum == EINVAL || reply->errnum == EOPNOTSUPP)
    return 0;
  for (size_t g = 0; g < ngroups; g++)
    {
      int errnum;

      if (groups[g].gone)
        continue;
      errnum = reply_errnum_at (reply, groups[g].seq);
      if (errnum == ENOENT)
        groups[g].gone = true;
      else if (errnum)
        return reply_error_at (batch, reply, groups[g].seq, err);
    }
  if (reply->errnum != ENOENT)
    return reply_error (batch, reply, err);
  return 1;
}

/* Deletes elements in one DESTROYSETELEM batch. Where a table or set is
 * missing the kernel refuses the whole batch with ENOENT for those
 * messages: they had nothing to delete, so the rest is sent again without
 * them. Each round drops at least one message, so this ends. */
static int
delete_elems (struct mnl_socket *nl, const struct moat_elem *elems, size_t n, uint32_t seq,
              moat_err_t *err)
{
  _cleanup_free_ struct elem_group *groups = NULL;
  size_t ngroups, left;

  if (n == 0)
    return 0;
  groups = calloc (n, sizeof (*groups));
  if (!groups)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: cannot build batch");
  ngroups = left = group_elems (elems, n, groups);
  for (; left > 0; seq += (uint32_t)ngroups + 4)
    {
      _cleanup_batch_ struct nftnl_batch *batch = build_destroys (groups, ngroups, seq, err);
      _cleanup_reply_ struct reply reply = { 0 };
      int r;

      if (!batch || talk (nl, batch, &reply, err) < 0)
        return -1;
      if (!reply.errnum)
        return 0;
      r = sort_out_failures (batch, &reply, groups, ngroups, err);
      if (r < 0)
        return -1;
      if (r == 0)
        return delete_one_by_one (nl, elems, n, seq + (uint32_t)ngroups + 4, err);
      left = 0;
      for (size_t g = 0; g < ngroups; g++)
        left += !groups[g].gone;
    }
  return 0;
}

/* --- CHECK --------------------------------------------------------------- */

/* One GETSETELEM per element (the request `nft get element` makes), all in
 * one sendmsg; each is answered by the element or ENOENT, then an ack. */
static struct nftnl_batch *
build_gets (const struct moat_elem *elems, size_t n, uint32_t seq, moat_err_t *err)
{
  struct builder b = { .batch = batch_alloc (), .seq = seq };

  if (!b.batch)
    return build_error (&b, err);
  for (size_t i = 0; i < n; i++)
    if (put_elems (&b, &elems[i], 1, NFT_MSG_GETSETELEM, 0) < 0)
      return build_error (&b, err);
  return b.batch;
}

int
moat_nft_member_check (struct moat_nft *nft, const struct moat_nft_member *m, moat_err_t *err)
{
  struct mnl_socket *nl = nft->nl;
  _cleanup_batch_ struct nftnl_batch *batch = NULL;
  _cleanup_reply_ struct reply reply = { 0 };
  uint32_t seq = first_seq ();
  struct moat_elem elems[MOAT_MEMBER_MAX_ELEMS];
  const struct moat_elem *missing;
  char key[256];
  size_t n;

  if (moat_member_elems (m, false, elems, &n, err) < 0)
    return -1;
  batch = build_gets (elems, n, seq, err);
  if (!batch || talk (nl, batch, &reply, err) < 0)
    return -1;
  if (!reply.errnum)
    return 0;
  if (reply.errnum != ENOENT || reply.seq - seq >= n)
    return reply_error (batch, &reply, err);
  missing = &elems[reply.seq - seq];
  moat_elem_format_key (missing, key, sizeof (key));
  return moat_error (err, MOAT_E_DRIFT, 0, "nft set %s %s %s: element %s missing",
                     moat_family_name (missing->set->family), MOAT_NFT_TABLE, missing->set->name,
                     key);
}

/* --- forgetting an address ----------------------------------------------- */

struct collect
{
  const struct moat_set_def *set;
  const char *name; /* an identity's set; NULL: set->name */
  struct in_addr addr;
  unsigned positions; /* bit i: field i holds a container address; 0: keep every element */
  struct moat_elem_list *out;
  bool failed;
  bool missing; /* the set (or its table) is not there */
};

/* A container address field is always one address, never a range: an
 * element names `addr` when such a field equals it (start and end). */
static bool
names_addr (const struct collect *c, const uint8_t *key, uint32_t key_len, const uint8_t *end,
            uint32_t end_len)
{
  uint32_t off = 0;

  for (unsigned i = 0; i < c->set->nfields; i++)
    {
      uint32_t len = moat_field_infos[c->set->fields[i]].len;

      if ((c->positions & (1u << i)) && off + 4 <= key_len
          && memcmp (key + off, &c->addr.s_addr, 4) == 0
          && (!end || (off + 4 <= end_len && memcmp (end + off, &c->addr.s_addr, 4) == 0)))
        return true;
      off += moat_field_padded (len);
    }
  return false;
}

static int
collect_elem (struct nftnl_set_elem *e, void *data)
{
  struct collect *c = data;
  const uint8_t *key, *end = NULL;
  uint32_t key_len = 0, end_len = 0;
  struct moat_elem *out;

  key = nftnl_set_elem_get (e, NFTNL_SET_ELEM_KEY, &key_len);
  if (nftnl_set_elem_is_set (e, NFTNL_SET_ELEM_KEY_END))
    end = nftnl_set_elem_get (e, NFTNL_SET_ELEM_KEY_END, &end_len);
  if (!key || key_len > MOAT_ELEM_KEY_MAX || end_len > MOAT_ELEM_KEY_MAX
      || (c->positions && !names_addr (c, key, key_len, end, end_len)))
    return 0;
  out = moat_elem_list_push (c->out);
  if (!out)
    {
      c->failed = true;
      return -1;
    }
  out->set = c->set;
  if (c->name)
    snprintf (out->name, sizeof (out->name), "%s", c->name);
  memcpy (out->key, key, key_len);
  out->key_len = key_len;
  if (end)
    {
      memcpy (out->key_end, end, end_len);
      out->key_end_len = end_len;
    }
  if (nftnl_set_elem_is_set (e, NFTNL_SET_ELEM_CHAIN))
    snprintf (out->jump, sizeof (out->jump), "%s",
              nftnl_set_elem_get_str (e, NFTNL_SET_ELEM_CHAIN));
  if (nftnl_set_elem_is_set (e, NFTNL_SET_ELEM_DATA))
    {
      uint32_t len = 0;
      const void *data = nftnl_set_elem_get (e, NFTNL_SET_ELEM_DATA, &len);

      if (data && len <= sizeof (out->data))
        {
          memcpy (out->data, data, len);
          out->data_len = len;
        }
    }
  return 0;
}

static int
on_dumped_elems (const struct nlmsghdr *nlh, void *data)
{
  struct collect *c = data;
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();

  if (!s || nftnl_set_elems_nlmsg_parse (nlh, s) < 0)
    {
      c->failed = true;
      return MNL_CB_ERROR;
    }
  if (nftnl_set_elem_foreach (s, collect_elem, c) < 0)
    return MNL_CB_ERROR;
  return MNL_CB_OK;
}

/* Dumps one set's elements, keeping those naming the address. A missing
 * table or set has nothing to forget. */
static int
collect_set (struct mnl_socket *nl, struct collect *c, uint32_t seq, moat_err_t *err)
{
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();
  _cleanup_free_ char *buf = calloc (1, RECV_BUF_SIZE);
  struct nlmsghdr *nlh;
  int r = 1;

  if (!s || !buf || nftnl_set_set_str (s, NFTNL_SET_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_set_set_str (s, NFTNL_SET_NAME, c->name ? c->name : c->set->name) < 0)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: cannot dump set \"%s\"", c->set->name);
  nlh = nftnl_nlmsg_build_hdr (buf, NFT_MSG_GETSETELEM, c->set->family, NLM_F_DUMP, seq);
  nftnl_set_elems_nlmsg_build_payload (nlh, s);
  if (mnl_socket_sendto (nl, nlh, nlh->nlmsg_len) < 0)
    return moat_error (err, MOAT_E_NFT, errno, "nft: cannot dump set \"%s\"", c->set->name);
  while (r > 0)
    {
      ssize_t len = mnl_socket_recvfrom (nl, buf, RECV_BUF_SIZE);

      if (len < 0)
        break;
      r = mnl_cb_run (buf, (size_t)len, seq, mnl_socket_get_portid (nl), on_dumped_elems, c);
    }
  if (r < 0 && errno == ENOENT && !c->failed)
    c->missing = true;
  if (r == 0 || (r < 0 && errno == ENOENT && !c->failed))
    return 0;
  return moat_error (err, MOAT_E_NFT, c->failed ? ENOMEM : errno,
                     "nft: set \"%s\" in table %s %s: cannot list elements", c->set->name,
                     moat_family_name (c->set->family), MOAT_NFT_TABLE);
}

static int collect_policy (struct mnl_socket *nl, struct in_addr addr, bool keep_internet,
                           bool grants, struct moat_elem_list *found, uint32_t *seq,
                           moat_err_t *err);

/* Appends to `found` every policy element that names `addr` (internet is
 * one of the member's own). */
static int
collect_naming (struct mnl_socket *nl, struct in_addr addr, struct moat_elem_list *found,
                uint32_t *seq, moat_err_t *err)
{
  return collect_policy (nl, addr, true, true, found, seq, err);
}

int
moat_nft_member_del (struct moat_nft *nft, const struct moat_nft_member *m, moat_err_t *err)
{
  struct moat_elem elems[MOAT_MEMBER_MAX_ELEMS];
  struct moat_elem_list found = { 0 };
  uint32_t seq = first_seq ();
  size_t n;
  int r;

  if (moat_member_elems (m, true, elems, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      struct moat_elem *e = moat_elem_list_push (&found);

      if (!e)
        {
          free (found.v);
          return moat_error (err, MOAT_E_NFT, ENOMEM, "nft");
        }
      *e = elems[i];
    }
  r = collect_naming (nft->nl, m->addr, &found, &seq, err);
  if (r == 0)
    r = delete_elems (nft->nl, found.v, found.n, seq + 1, err);
  /* A set dump is not atomic against other networks changing the shared
   * sets meanwhile: sweep again until a pass finds nothing. */
  for (int round = 0; r == 0 && found.n > 0; round++)
    {
      seq += (uint32_t)found.n + 16;
      found.n = 0;
      r = collect_naming (nft->nl, m->addr, &found, &seq, err);
      if (r < 0 || found.n == 0)
        break;
      if (round == 3)
        r = moat_error (err, MOAT_E_TRY_AGAIN, 0,
                        "nft: elements naming the container keep appearing; try again");
      else
        r = delete_elems (nft->nl, found.v, found.n, seq + 1, err);
    }
  free (found.v);
  return r;
}

int
moat_nft_bridge_del (struct moat_nft *nft, const char *bridge, moat_err_t *err)
{
  struct moat_elem e;

  if (moat_elem_bridge (&e, bridge, err) < 0)
    return -1;
  return delete_elems (nft->nl, &e, 1, first_seq (), err);
}

/* --- teardown ------------------------------------------------------------ */

int
moat_nft_in_use (struct moat_nft *nft, moat_err_t *err)
{
  static const enum moat_set sets[] = { MOAT_SET_BRIDGES, MOAT_SET_GUARDED };
  uint32_t seq = first_seq ();

  for (size_t i = 0; i < ARRAY_SIZE (sets); i++)
    {
      struct moat_elem_list found = { 0 };
      struct collect c = { .set = &moat_set_defs[sets[i]], .out = &found };
      int r = collect_set (nft->nl, &c, seq + (uint32_t)i, err);
      size_t n = found.n;

      free (found.v);
      if (r < 0)
        return -1;
      if (n > 0)
        return 1;
    }
  return 0;
}

int
moat_nft_port_find (struct moat_nft *nft, const char *host_ifname,
                    unsigned char ret_mac[MOAT_MAC_LEN], struct in_addr *ret_addr, moat_err_t *err)
{
  struct moat_elem_list found = { 0 };
  struct collect c = { .set = &moat_set_defs[MOAT_SET_PORTS], .out = &found };
  int r = 0;

  if (moat_elem_check_ifname ("port", host_ifname, err) < 0)
    return -1;
  if (collect_set (nft->nl, &c, first_seq (), err) < 0)
    {
      free (found.v);
      return -1;
    }
  for (size_t i = 0; i < found.n && r == 0; i++)
    r = moat_elem_port_of (&found.v[i], host_ifname, ret_mac, ret_addr);
  free (found.v);
  return r;
}

/* Both tables in one batch of `msg_type`. */
static int
delete_tables (struct mnl_socket *nl, uint16_t msg_type, uint32_t seq, struct reply *reply,
               moat_err_t *err)
{
  _cleanup_batch_ struct nftnl_batch *batch = NULL;
  struct builder b;

  if (builder_start (&b, seq) < 0 || put_table (&b, NFPROTO_INET, msg_type, 0) < 0
      || put_table (&b, NFPROTO_BRIDGE, msg_type, 0) < 0 || builder_finish (&b) < 0)
    return build_failed (&b, err);
  batch = b.batch;
  if (talk (nl, batch, reply, err) < 0)
    return -1;
  if (reply->errnum && reply->errnum != EINVAL && reply->errnum != EOPNOTSUPP
      && reply->errnum != ENOENT)
    return reply_error (batch, reply, err);
  return 0;
}

static int
delete_table (struct mnl_socket *nl, uint16_t family, uint32_t seq, moat_err_t *err)
{
  _cleanup_batch_ struct nftnl_batch *batch = NULL;
  _cleanup_reply_ struct reply reply = { 0 };
  struct builder b;

  if (builder_start (&b, seq) < 0 || put_table (&b, family, NFT_MSG_DELTABLE, 0) < 0
      || builder_finish (&b) < 0)
    return build_failed (&b, err);
  batch = b.batch;
  if (talk (nl, batch, &reply, err) < 0)
    return -1;
  if (reply.errnum && reply.errnum != ENOENT)
    return reply_error (batch, &reply, err);
  return 0;
}

/* One DESTROYTABLE batch for both; a kernel without DESTROY gets one
 * DELTABLE batch per table, so a missing one does not keep the other. */
int
moat_nft_teardown (struct moat_nft *nft, moat_err_t *err)
{
  struct mnl_socket *nl = nft->nl;
  _cleanup_reply_ struct reply reply = { 0 };
  uint32_t seq = first_seq ();

  if (delete_tables (nl, MOAT_NFT_MSG_DESTROYTABLE, seq, &reply, err) < 0)
    return -1;
  if (!reply.errnum)
    return 0;
  if (delete_table (nl, NFPROTO_INET, seq + 8, err) < 0)
    return -1;
  return delete_table (nl, NFPROTO_BRIDGE, seq + 16, err);
}

#define IDENT_SET_ID 0x4000 /* NFTA_SET_ID of an identity's set made in the batch */

static int
put_ident_set (struct builder *b, const char *name, uint16_t msg_type, uint16_t flags)
{
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();
  struct nlmsghdr *nlh;

  if (!s)
    return -1;
  nftnl_set_set_u32 (s, NFTNL_SET_FAMILY, NFPROTO_INET);
  if (nftnl_set_set_str (s, NFTNL_SET_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_set_set_str (s, NFTNL_SET_NAME, name) < 0)
    return -1;
  if (msg_type == NFT_MSG_NEWSET)
    {
      nftnl_set_set_u32 (s, NFTNL_SET_ID, IDENT_SET_ID);
      nftnl_set_set_u32 (s, NFTNL_SET_FLAGS, 0);
      nftnl_set_set_u32 (s, NFTNL_SET_KEY_TYPE, moat_set_key_type (&moat_ident_set_def));
      nftnl_set_set_u32 (s, NFTNL_SET_KEY_LEN, moat_set_key_len (&moat_ident_set_def));
      if (set_userdata (s, &moat_ident_set_def) < 0)
        return -1;
    }
  nlh = builder_hdr (b, msg_type, NFPROTO_INET, flags | NLM_F_ACK);
  nftnl_set_nlmsg_build_payload (nlh, s);
  return builder_next (b);
}

static int
put_ident_chain (struct builder *b, const char *name, uint16_t msg_type, uint16_t flags)
{
  _cleanup_ (nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc ();
  struct nlmsghdr *nlh;

  if (!c)
    return -1;
  nftnl_chain_set_u32 (c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
  if (nftnl_chain_set_str (c, NFTNL_CHAIN_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_chain_set_str (c, NFTNL_CHAIN_NAME, name) < 0)
    return -1;
  nlh = builder_hdr (b, msg_type, NFPROTO_INET, flags | NLM_F_ACK);
  nftnl_chain_nlmsg_build_payload (nlh, c);
  return builder_next (b);
}

/* ip daddr @id_<ident> accept */
static int
put_ident_rule (struct builder *b, const char *name)
{
  _cleanup_ (nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc ();
  static const struct moat_term ipv4 = { MOAT_TERM_IPV4, 0, 0, { 0 } };
  struct nftnl_expr *e;
  struct nlmsghdr *nlh;

  if (!r)
    return -1;
  nftnl_rule_set_u32 (r, NFTNL_RULE_FAMILY, NFPROTO_INET);
  if (nftnl_rule_set_str (r, NFTNL_RULE_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_rule_set_str (r, NFTNL_RULE_CHAIN, name) < 0 || put_term (r, &ipv4) < 0
      || load_source (r, MOAT_SRC_IP_DADDR, NFT_REG_1) < 0)
    return -1;
  e = nftnl_expr_alloc ("lookup");
  if (add_expr (r, e) < 0)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
  nftnl_expr_set_str (e, NFTNL_EXPR_LOOKUP_SET, name);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_LOOKUP_SET_ID, IDENT_SET_ID);
  if (put_verdict (r, NF_ACCEPT, NULL) < 0)
    return -1;
  nlh = builder_hdr (b, NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK);
  nftnl_rule_nlmsg_build_payload (nlh, r);
  return builder_next (b);
}

/* Called only when the chain does not exist (moat_nft_ident_exists), so
 * its one rule is never doubled. */
static int
put_ident_create (struct builder *b, const char *ident)
{
  char name[MOAT_NFT_IDENT_MAX + 4];

  if (moat_ident_object_name (name, sizeof (name), ident) < 0)
    return -1;
  if (put_ident_chain (b, name, NFT_MSG_NEWCHAIN, NLM_F_CREATE) < 0
      || put_ident_set (b, name, NFT_MSG_NEWSET, NLM_F_CREATE) < 0 || put_ident_rule (b, name) < 0)
    return -1;
  return 0;
}

/* The chain first: its rule holds the set. */
/* How a batch deletes: DESTROY* (Linux 6.3+: a missing object is
 * success), or on an older kernel DEL*, one object a message, so that an
 * ENOENT names the one object that was already gone. */
struct deletes
{
  uint16_t elem, chain, set;
  size_t per_msg;
};

static const struct deletes by_destroy = { MOAT_NFT_MSG_DESTROYSETELEM, MOAT_NFT_MSG_DESTROYCHAIN,
                                           MOAT_NFT_MSG_DESTROYSET, MAX_ELEMS_PER_MSG };
static const struct deletes by_del = { NFT_MSG_DELSETELEM, NFT_MSG_DELCHAIN, NFT_MSG_DELSET, 1 };

static const struct deletes *
deletes_of (const struct moat_nft *nft)
{
  return nft->no_destroy ? &by_del : &by_destroy;
}

/* Whether the kernel refused the batch for a DESTROY message it does not
 * know (EINVAL from nfnetlink before Linux 6.3). */
static bool
destroy_unknown (struct nftnl_batch *batch, const struct reply *reply)
{
  const struct nlmsghdr *nlh;
  uint16_t type;

  if (reply->errnum != EINVAL && reply->errnum != EOPNOTSUPP)
    return false;
  nlh = batch_find (batch, reply->seq);
  type = nlh ? nlh->nlmsg_type & 0xff : 0;
  return type >= MOAT_NFT_MSG_DESTROYTABLE && type <= MOAT_NFT_MSG_DESTROYSETELEM;
}

enum
{
  IDENT_CHAIN = 1,
  IDENT_SET = 2,
};

static int
put_ident_drop (struct builder *b, const char *ident, const struct deletes *d, unsigned parts)
{
  char name[MOAT_NFT_IDENT_MAX + 4];

  if (moat_ident_object_name (name, sizeof (name), ident) < 0)
    return -1;
  if (((parts & IDENT_CHAIN) && put_ident_chain (b, name, d->chain, 0) < 0)
      || ((parts & IDENT_SET) && put_ident_set (b, name, d->set, 0) < 0))
    return -1;
  return 0;
}

/* Where a container's address appears in the policy sets. */
static const struct
{
  enum moat_set set;
  unsigned positions; /* bit i: field i */
} policy_sets[] = {
  /* The grants first: a policy's sweep leaves them (GRANT_SETS). */
  { MOAT_SET_GRANT_PEER, 0x3 },   /* either side */
  { MOAT_SET_GRANT_HOST, 0x1 },   /* container . proto . port */
  { MOAT_SET_GRANT_EGRESS, 0x1 }, /* container . outside . proto . port */
  { MOAT_SET_HOST_GRANTS, 0x1 },  /* container . proto . port */
  { MOAT_SET_EGRESS, 0x1 },       /* container . outside . proto . port */
  { MOAT_SET_EGRESS_DENY, 0x1 },  /* container . outside . proto . port */
  { MOAT_SET_INGRESS, 0x2 },      /* outside . container . proto . port */
  { MOAT_SET_INGRESS_DENY, 0x2 }, /* outside . container . proto . port */
  { MOAT_SET_PROXY, 0x1 },        /* container . port : proxy . port */
  { MOAT_SET_PROXIED, 0x1 },      /* container . proxy . tcp . port */
  { MOAT_SET_SRC_IDENT, 0x1 },    { MOAT_SET_INTERNET, 0x1 },
};

#define GRANT_SETS 3

/* The policy's sets; with `grants` (a DEL), moatctl's grants too. */
static int
collect_policy (struct mnl_socket *nl, struct in_addr addr, bool keep_internet, bool grants,
                struct moat_elem_list *found, uint32_t *seq, moat_err_t *err)
{
  for (size_t i = grants ? 0 : GRANT_SETS; i < ARRAY_SIZE (policy_sets); i++)
    {
      struct collect c = {
        .set = &moat_set_defs[policy_sets[i].set],
        .addr = addr,
        .positions = policy_sets[i].positions,
        .out = found,
      };

      if (keep_internet && policy_sets[i].set == MOAT_SET_INTERNET)
        continue;
      if (collect_set (nl, &c, (*seq)++, err) < 0)
        return -1;
    }
  return 0;
}

static bool
same_set (const struct moat_elem *a, const struct moat_elem *b)
{
  return a->set == b->set && strcmp (a->name, b->name) == 0;
}

/* Consecutive elements of one set, up to per_msg a message. */
static int
put_elem_runs (struct builder *b, const struct moat_elem *elems, size_t n, uint16_t msg_type,
               uint16_t flags, size_t per_msg)
{
  for (size_t i = 0; i < n;)
    {
      size_t j = i + 1;

      while (j < n && same_set (&elems[j], &elems[i]) && j - i < per_msg)
        j++;
      if (put_elems (b, &elems[i], j - i, msg_type, flags) < 0)
        return -1;
      i = j;
    }
  return 0;
}

static int
elem_cmp_set (const void *a, const void *b)
{
  const struct moat_elem *x = a, *y = b;

  if (x->set != y->set)
    return (x->set > y->set) - (x->set < y->set);
  return strcmp (x->name, y->name);
}

/* Sorting by set lets one message carry many elements; qsort is not
 * stable, but order within a set does not matter. */
static void
sort_by_set (struct moat_elem_list *l)
{
  if (l->n > 1)
    qsort (l->v, l->n, sizeof (*l->v), elem_cmp_set);
}

/* What a policy replace deletes, in the order its messages go. */
struct replace_dels
{
  struct moat_elem_list *old;
  struct moat_elem_list *del;
  const char *drop_ident;
  unsigned ident_parts;
};

static int
build_replace (struct builder *b, const struct replace_dels *r, const struct deletes *d,
               const char *create_ident, struct moat_nft_elems *add)
{
  if (put_elem_runs (b, r->old->v, r->old->n, d->elem, 0, d->per_msg) < 0
      || (r->del && put_elem_runs (b, r->del->v, r->del->n, d->elem, 0, d->per_msg) < 0)
      || (r->drop_ident && r->ident_parts
          && put_ident_drop (b, r->drop_ident, d, r->ident_parts) < 0)
      || (create_ident && put_ident_create (b, create_ident) < 0)
      || (add
          && put_elem_runs (b, add->l.v, add->l.n, NFT_MSG_NEWSETELEM, NLM_F_CREATE,
                            MAX_ELEMS_PER_MSG)
                 < 0))
    return -1;
  return 0;
}

/* The set a refused element deletion named, when the set is gone:
 * nothing of it is left to delete. */
static bool
gone_set_of (struct nftnl_batch *batch, const struct reply *reply, char *name, size_t size)
{
  const struct nlmsghdr *nlh = reply->errnum == ENOENT ? batch_find (batch, reply->seq) : NULL;
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = NULL;

  if (!nlh || (nlh->nlmsg_type & 0xff) != MOAT_NFT_MSG_DESTROYSETELEM || !(s = nftnl_set_alloc ())
      || nftnl_set_elems_nlmsg_parse (nlh, s) < 0 || !nftnl_set_is_set (s, NFTNL_SET_NAME))
    return false;
  snprintf (name, size, "%s", nftnl_set_get_str (s, NFTNL_SET_NAME));
  return true;
}

static size_t
drop_set (struct moat_elem_list *l, const char *name)
{
  size_t k = 0, dropped;

  for (size_t i = 0; l && i < l->n; i++)
    if (strcmp (l->v[i].name[0] ? l->v[i].name : l->v[i].set->name, name) != 0)
      l->v[k++] = l->v[i];
  dropped = l ? l->n - k : 0;
  if (l)
    l->n = k;
  return dropped;
}

/* Without DESTROY, each deletion is its own message, in build_replace's
 * order from `first`: those the kernel answered ENOENT (already gone, or
 * their set is) leave the lists. Returns how many left. */
static size_t
drop_missing (const struct reply *reply, uint32_t first, struct replace_dels *r)
{
  struct moat_elem_list *lists[] = { r->old, r->del };
  uint32_t seq = first;
  size_t dropped = 0;

  for (size_t l = 0; l < ARRAY_SIZE (lists); l++)
    {
      size_t k = 0, n = lists[l] ? lists[l]->n : 0;

      for (size_t i = 0; i < n; i++)
        if (reply_errnum_at (reply, seq++) != ENOENT)
          lists[l]->v[k++] = lists[l]->v[i];
        else
          dropped++;
      if (lists[l])
        lists[l]->n = k;
    }
  /* Then the identity's chain and set, each one message when still asked. */
  for (unsigned part = IDENT_CHAIN; r->drop_ident && part <= IDENT_SET; part <<= 1)
    if ((r->ident_parts & part) && reply_errnum_at (reply, seq++) == ENOENT)
      {
        r->ident_parts &= ~part;
        dropped++;
      }
  return dropped;
}

/* After a refused batch: whether sending it again, changed, can succeed. */
static bool
retry_replace (struct moat_nft *nft, struct nftnl_batch *batch, const struct reply *reply,
               uint32_t first, struct replace_dels *r)
{
  char gone[MOAT_NFT_IDENT_MAX + 8];

  if (!nft->no_destroy && destroy_unknown (batch, reply))
    return nft->no_destroy = true;
  if (nft->no_destroy)
    return reply->errnum == ENOENT && drop_missing (reply, first, r) > 0;
  /* An identity's set deleted behind moat's back (a flush, then a
   * restore that did not make it) has nothing left to delete: the batch
   * goes again without those deletions, so that DEL stays idempotent. */
  return gone_set_of (batch, reply, gone, sizeof (gone))
         && drop_set (r->old, gone) + drop_set (r->del, gone) > 0;
}

int
moat_nft_policy_replace (struct moat_nft *nft, struct in_addr addr, bool sweep, bool keep_internet,
                         struct moat_nft_elems *del, const char *drop_ident,
                         const char *create_ident, struct moat_nft_elems *add, moat_err_t *err)
{
  struct moat_elem_list old = { 0 };
  struct replace_dels r = {
    .old = &old,
    .del = del ? &del->l : NULL,
    .drop_ident = drop_ident,
    .ident_parts = IDENT_CHAIN | IDENT_SET,
  };
  uint32_t seq = first_seq ();
  int res;

  res = sweep ? collect_policy (nft->nl, addr, keep_internet, false, &old, &seq, err) : 0;
  if (res < 0)
    goto out;
  sort_by_set (&old);
  if (del)
    sort_by_set (&del->l);
  if (add)
    sort_by_set (&add->l);
  for (int tries = 0;; tries++)
    {
      _cleanup_batch_ struct nftnl_batch *batch = NULL;
      _cleanup_reply_ struct reply reply = { 0 };
      struct builder b;
      uint32_t first;

      seq += 16 + (uint32_t)(old.n + (del ? del->l.n : 0) + (add ? add->l.n : 0));
      if (builder_start (&b, seq) < 0)
        {
          res = build_failed (&b, err);
          goto out;
        }
      first = b.seq;
      if (build_replace (&b, &r, deletes_of (nft), create_ident, add) < 0
          || builder_finish (&b) < 0)
        {
          res = build_failed (&b, err);
          goto out;
        }
      batch = b.batch;
      res = talk (nft->nl, batch, &reply, err);
      if (res < 0 || !reply.errnum)
        goto out;
      if (tries < 8 && retry_replace (nft, batch, &reply, first, &r))
        continue;
      res = reply_error (batch, &reply, err);
      goto out;
    }
out:
  free (old.v);
  return res;
}

/* Whether a re-add with a shorter timeout took: see nft.h. */
struct outlive
{
  uint64_t max_ms;
  bool outlives;
  bool failed;
};

static int
on_elem_expiration (const struct nlmsghdr *nlh, void *data)
{
  struct outlive *o = data;
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();
  struct nftnl_set_elems_iter *it;
  struct nftnl_set_elem *e;

  if (!s || nftnl_set_elems_nlmsg_parse (nlh, s) < 0 || !(it = nftnl_set_elems_iter_create (s)))
    {
      o->failed = true;
      return MNL_CB_OK;
    }
  while ((e = nftnl_set_elems_iter_next (it)))
    if (!nftnl_set_elem_is_set (e, NFTNL_SET_ELEM_EXPIRATION)
        || nftnl_set_elem_get_u64 (e, NFTNL_SET_ELEM_EXPIRATION) > o->max_ms)
      o->outlives = true;
  nftnl_set_elems_iter_destroy (it);
  return MNL_CB_OK;
}

int
moat_nft_elems_outlive (struct moat_nft *nft, const struct moat_nft_elems *l, uint64_t max_ms,
                        moat_err_t *err)
{
  _cleanup_batch_ struct nftnl_batch *batch = NULL;
  _cleanup_reply_ struct reply reply = { 0 };
  struct outlive o = { .max_ms = max_ms };

  if (l->l.n == 0)
    return 0;
  batch = build_gets (l->l.v, l->l.n, first_seq (), err);
  if (!batch || talk_data (nft->nl, batch, &reply, on_elem_expiration, &o, err) < 0)
    return -1;
  if (reply.errnum && reply.errnum != ENOENT)
    return reply_error (batch, &reply, err);
  if (o.failed)
    return moat_error (err, MOAT_E_NFT, EBADMSG, "nft: cannot read an element's expiration");
  return o.outlives;
}

int
moat_nft_ident_exists (struct moat_nft *nft, const char *ident, moat_err_t *err)
{
  _cleanup_ (nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc ();
  char name[MOAT_NFT_IDENT_MAX + 4], buf[8192] = { 0 };
  uint32_t seq = first_seq ();
  struct nlmsghdr *nlh;
  int r = 1;

  if (!c || moat_ident_object_name (name, sizeof (name), ident) < 0)
    return moat_error (err, MOAT_E_NFT, EINVAL, "nft: identity \"%s\"", ident);
  nftnl_chain_set_u32 (c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
  if (nftnl_chain_set_str (c, NFTNL_CHAIN_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_chain_set_str (c, NFTNL_CHAIN_NAME, name) < 0)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: chain \"%s\"", name);
  nlh = nftnl_nlmsg_build_hdr (buf, NFT_MSG_GETCHAIN, NFPROTO_INET, NLM_F_ACK, seq);
  nftnl_chain_nlmsg_build_payload (nlh, c);
  if (mnl_socket_sendto (nft->nl, nlh, nlh->nlmsg_len) < 0)
    return moat_error (err, MOAT_E_NFT, errno, "nft: chain \"%s\"", name);
  while (r > 0)
    {
      ssize_t len = mnl_socket_recvfrom (nft->nl, buf, sizeof (buf));

      if (len < 0)
        return moat_error (err, MOAT_E_NFT, errno, "nft: chain \"%s\"", name);
      r = mnl_cb_run (buf, (size_t)len, seq, mnl_socket_get_portid (nft->nl), NULL, NULL);
    }
  if (r == 0)
    return 1;
  if (errno == ENOENT)
    return 0;
  return moat_error (err, MOAT_E_NFT, errno, "nft: chain \"%s\"", name);
}

/* Without DESTROY: each chain and set in its own batch, so one already
 * gone (ENOENT) does not keep the others. */
static int
idents_drop_one_by_one (struct moat_nft *nft, char *const *idents, moat_err_t *err)
{
  static const unsigned parts[] = { IDENT_CHAIN, IDENT_SET };

  for (char *const *i = idents; *i; i++)
    for (size_t p = 0; p < ARRAY_SIZE (parts); p++)
      {
        _cleanup_batch_ struct nftnl_batch *batch = NULL;
        _cleanup_reply_ struct reply reply = { 0 };
        struct builder b;

        if (builder_start (&b, first_seq ()) < 0 || put_ident_drop (&b, *i, &by_del, parts[p]) < 0
            || builder_finish (&b) < 0)
          return build_failed (&b, err);
        batch = b.batch;
        if (talk (nft->nl, batch, &reply, err) < 0)
          return -1;
        if (reply.errnum && reply.errnum != ENOENT)
          return reply_error (batch, &reply, err);
      }
  return 0;
}

int
moat_nft_idents_drop (struct moat_nft *nft, char *const *idents, moat_err_t *err)
{
  _cleanup_batch_ struct nftnl_batch *batch = NULL;
  _cleanup_reply_ struct reply reply = { 0 };
  struct builder b;

  if (!idents || !idents[0])
    return 0;
  if (builder_start (&b, first_seq ()) < 0)
    return build_failed (&b, err);
  for (char *const *i = idents; *i; i++)
    if (put_ident_drop (&b, *i, deletes_of (nft), IDENT_CHAIN | IDENT_SET) < 0)
      return build_failed (&b, err);
  if (builder_finish (&b) < 0)
    return build_failed (&b, err);
  batch = b.batch;
  if (talk (nft->nl, batch, &reply, err) < 0)
    return -1;
  if (!nft->no_destroy && destroy_unknown (batch, &reply))
    {
      nft->no_destroy = true;
      return idents_drop_one_by_one (nft, idents, err);
    }
  if (reply.errnum && reply.errnum != ENOENT)
    return reply_error (batch, &reply, err);
  return 0;
}

/* --- restore and compare (moatctl) ------------------------------------------ */

static int
put_members (struct builder *b, const struct moat_nft_member *members, size_t n, moat_err_t *err)
{
  for (size_t i = 0; i < n; i++)
    {
      struct moat_elem elems[MOAT_MEMBER_MAX_ELEMS];
      size_t k;

      if (moat_member_elems (&members[i], false, elems, &k, err) < 0)
        return -1;
      if (put_elem_runs (b, elems, k, NFT_MSG_NEWSETELEM, NLM_F_CREATE, MAX_ELEMS_PER_MSG) < 0)
        return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: restore");
    }
  return 0;
}

/* The restore batch; with `destroy`, it deletes the old tables first. */
static struct nftnl_batch *
build_restore (const struct moat_nft_member *members, size_t n, char *const *idents,
               struct moat_nft_elems *add, bool destroy, moat_err_t *err)
{
  struct builder b;

  if (builder_start (&b, first_seq ()) < 0
      || (destroy
          && (put_table (&b, NFPROTO_INET, MOAT_NFT_MSG_DESTROYTABLE, 0) < 0
              || put_table (&b, NFPROTO_BRIDGE, MOAT_NFT_MSG_DESTROYTABLE, 0) < 0))
      || put_tables (&b, FAMILY_INET | FAMILY_BRIDGE) < 0)
    return build_error (&b, err);
  if (put_members (&b, members, n, err) < 0)
    {
      nftnl_batch_free (b.batch);
      return NULL;
    }
  for (char *const *i = idents; i && *i; i++)
    if (put_ident_create (&b, *i) < 0)
      return build_error (&b, err);
  if ((add
       && put_elem_runs (&b, add->l.v, add->l.n, NFT_MSG_NEWSETELEM, NLM_F_CREATE,
                         MAX_ELEMS_PER_MSG)
              < 0)
      || builder_finish (&b) < 0)
    return build_error (&b, err);
  return b.batch;
}

/* Before Linux 6.3 (no DESTROY) the old tables go first in batches of
 * their own, then the rest: all or nothing from there on. */
int
moat_nft_restore (struct moat_nft *nft, const struct moat_nft_member *members, size_t n,
                  char *const *idents, struct moat_nft_elems *add, moat_err_t *err)
{
  if (add)
    sort_by_set (&add->l);
  for (int tries = 0; tries < 2; tries++)
    {
      _cleanup_batch_ struct nftnl_batch *batch = NULL;
      _cleanup_reply_ struct reply reply = { 0 };

      if (nft->no_destroy && moat_nft_teardown (nft, err) < 0)
        return -1;
      batch = build_restore (members, n, idents, add, !nft->no_destroy, err);
      if (!batch || talk (nft->nl, batch, &reply, err) < 0)
        return -1;
      if (!reply.errnum)
        return 0;
      if (nft->no_destroy || !destroy_unknown (batch, &reply))
        return reply_error (batch, &reply, err);
      nft->no_destroy = true;
    }
  return 0;
}

static int
str_cmp (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* The elements as sorted, unique text lines. */
struct lines
{
  char **v;
  size_t n, cap;
};

static void
lines_free (struct lines *l)
{
  for (size_t i = 0; i < l->n; i++)
    free (l->v[i]);
  free (l->v);
}

static int
lines_add (struct lines *l, const struct moat_elem *e)
{
  char buf[512];

  if (l->n == l->cap)
    {
      size_t cap = l->cap ? l->cap * 2 : 64;
      char **v = realloc (l->v, cap * sizeof (*v));

      if (!v)
        return -1;
      l->v = v;
      l->cap = cap;
    }
  moat_elem_format (e, buf, sizeof (buf));
  return (l->v[l->n] = strdup (buf)) ? (int)l->n++ * 0 : -1;
}

static void
lines_sort_unique (struct lines *l)
{
  size_t k = 0;

  if (l->n > 1)
    qsort (l->v, l->n, sizeof (*l->v), str_cmp);
  for (size_t i = 0; i < l->n; i++)
    if (k > 0 && strcmp (l->v[k - 1], l->v[i]) == 0)
      free (l->v[i]);
    else
      l->v[k++] = l->v[i];
  l->n = k;
}

/* What the records say, but nothing of a table reported missing. */
static int
expected_lines (const struct moat_nft_member *members, size_t n, const struct moat_nft_elems *add,
                unsigned missing, struct lines *out, moat_err_t *err)
{
  for (size_t i = 0; i < n; i++)
    {
      struct moat_elem elems[MOAT_MEMBER_MAX_ELEMS];
      size_t k;

      if (moat_member_elems (&members[i], false, elems, &k, err) < 0)
        return -1;
      for (size_t j = 0; j < k; j++)
        if (!(missing & family_bit (elems[j].set->family)) && lines_add (out, &elems[j]) < 0)
          return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: compare");
    }
  for (size_t i = 0; add && i < add->l.n; i++)
    if (!(missing & FAMILY_INET) && lines_add (out, &add->l.v[i]) < 0)
      return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: compare");
  lines_sort_unique (out);
  return 0;
}

/* Every element of moat's sets and of the identities' sets; a missing
 * table or identity set is reported, its elements then all count as
 * missing only once. */
static int
kernel_lines (struct mnl_socket *nl, char *const *idents, struct lines *out,
              moat_nft_diff_fn report, void *data, int *ndiff, unsigned *missing, moat_err_t *err)
{
  bool table_missing[2] = { false, false };
  struct moat_elem_list found = { 0 };
  uint32_t seq = first_seq ();
  int r = 0;

  for (size_t i = 0; r == 0 && i < MOAT_SET_COUNT; i++)
    {
      struct collect c = { .set = &moat_set_defs[i], .out = &found };
      bool *gone = &table_missing[moat_set_defs[i].family == NFPROTO_BRIDGE];
      char what[128];

      if (*gone)
        continue;
      r = collect_set (nl, &c, seq++, err);
      if (r == 0 && c.missing)
        {
          *gone = true;
          snprintf (what, sizeof (what), "table %s %s", moat_family_name (moat_set_defs[i].family),
                    MOAT_NFT_TABLE);
          report (data, true, what);
          (*ndiff)++;
        }
    }
  for (char *const *id = idents; r == 0 && id && *id && !table_missing[0]; id++)
    {
      char name[MOAT_NFT_IDENT_MAX + 4], what[128];
      struct collect c = { .set = &moat_ident_set_def, .name = name, .out = &found };

      if (moat_ident_object_name (name, sizeof (name), *id) < 0)
        continue;
      r = collect_set (nl, &c, seq++, err);
      if (r == 0 && c.missing)
        {
          snprintf (what, sizeof (what), "identity %s (chain and set %s)", *id, name);
          report (data, true, what);
          (*ndiff)++;
        }
    }
  for (size_t i = 0; r == 0 && i < found.n; i++)
    if (lines_add (out, &found.v[i]) < 0)
      r = moat_error (err, MOAT_E_NFT, ENOMEM, "nft: compare");
  free (found.v);
  lines_sort_unique (out);
  *missing = (table_missing[0] ? FAMILY_INET : 0) | (table_missing[1] ? FAMILY_BRIDGE : 0);
  return r;
}

/* Is line `s` one of `l` (sorted)? */
static bool
lines_has (const struct lines *l, const char *s)
{
  return l->n && bsearch (&s, l->v, l->n, sizeof (*l->v), str_cmp) != NULL;
}

int
moat_nft_compare (struct moat_nft *nft, const struct moat_nft_member *members, size_t n,
                  char *const *idents, const struct moat_nft_elems *expected,
                  const struct moat_nft_elems *unsure, moat_nft_diff_fn report, void *data,
                  moat_err_t *err)
{
  _cleanup_ (lines_free) struct lines want = { 0 };
  _cleanup_ (lines_free) struct lines have = { 0 };
  _cleanup_ (lines_free) struct lines skip = { 0 };
  unsigned missing = 0;
  int ndiff = 0;
  size_t i = 0, j = 0;

  if (kernel_lines (nft->nl, idents, &have, report, data, &ndiff, &missing, err) < 0
      || expected_lines (members, n, expected, missing, &want, err) < 0
      || expected_lines (NULL, 0, unsure, 0, &skip, err) < 0)
    return -1;
  while (i < want.n || j < have.n)
    {
      int c = i == want.n ? 1 : j == have.n ? -1 : strcmp (want.v[i], have.v[j]);

      if (c != 0 && lines_has (&skip, c < 0 ? want.v[i] : have.v[j]))
        ;
      else if (c != 0)
        {
          report (data, c < 0, c < 0 ? want.v[i] : have.v[j]);
          ndiff++;
        }
      if (c <= 0)
        i++;
      if (c >= 0)
        j++;
    }
  return ndiff;
}
