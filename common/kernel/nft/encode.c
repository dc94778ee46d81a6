/* SPDX-License-Identifier: Apache-2.0 */
/* The ruleset (ruleset/ruleset.h) and elements (ruleset/elems.h) as
 * libnftnl objects in a netlink batch: tables, sets, chains, rules and
 * their expressions, set elements, an identity's objects. Nothing here
 * talks to the kernel. */
#include "kernel/nft/internal.h"

#include <net/if_arp.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/rtnetlink.h>

struct source_info
{
  bool meta;     /* meta key, else payload (or ct) */
  uint32_t what; /* meta key, payload base or ct key */
  uint32_t offset;
  uint32_t len;
  bool ct; /* ct key `what` of direction `ct_dir` */
  int32_t ct_dir;
  bool socket; /* socket key `what` at level MOAT_HOSTNET_LEVEL */
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
  [MOAT_SRC_IP6_SADDR] = { .what = NFT_PAYLOAD_NETWORK_HEADER, .offset = 8, .len = 16 },
  [MOAT_SRC_IP6_DADDR] = { .what = NFT_PAYLOAD_NETWORK_HEADER, .offset = 24, .len = 16 },
  [MOAT_SRC_CT_ORIGINAL_SADDR6]
  = { .what = NFT_CT_SRC_IP6, .len = 16, .ct = true, .ct_dir = IP_CT_DIR_ORIGINAL },
  [MOAT_SRC_CT_REPLY_SADDR6]
  = { .what = NFT_CT_SRC_IP6, .len = 16, .ct = true, .ct_dir = IP_CT_DIR_REPLY },
  /* nft 1.0.6 has no icmpv6 taddr: the ND target and the first option's
   * link-layer address by offset (RFC 4861 4.3, 4.4, 4.6.1). */
  [MOAT_SRC_ND_TARGET] = { .what = NFT_PAYLOAD_TRANSPORT_HEADER, .offset = 8, .len = 16 },
  [MOAT_SRC_ND_LLADDR]
  = { .what = NFT_PAYLOAD_TRANSPORT_HEADER, .offset = 26, .len = MOAT_MAC_LEN },
  [MOAT_SRC_SOCKET_CGROUP] = { .what = NFT_SOCKET_CGROUPV2, .len = 8, .socket = true },
  /* A VXLAN header after the UDP one (RFC 7348): flags, then VNI and a
   * reserved byte the kernel requires to be 0. */
  [MOAT_SRC_VXLAN_VNI] = { .what = NFT_PAYLOAD_TRANSPORT_HEADER, .offset = 12, .len = 4 },
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

int
nft_builder_start (struct builder *b, uint32_t seq)
{
  b->batch = batch_alloc ();
  b->seq = seq;
  if (!b->batch)
    return -1;
  nftnl_batch_begin (nftnl_batch_buffer (b->batch), b->seq++);
  return builder_next (b);
}

int
nft_builder_finish (struct builder *b)
{
  nftnl_batch_end (nftnl_batch_buffer (b->batch), b->seq++);
  return builder_next (b);
}

/* A new table's comment names the layout it is made in (nft lists it as
 * `comment "moat layout N"`): what moat_nft_layout reads back. */
static int
table_layout_comment (struct nftnl_table *t)
{
  _cleanup_ (nftnl_udata_buf_freep) struct nftnl_udata_buf *udata = NULL;

  udata = nftnl_udata_buf_alloc (NFT_USERDATA_MAXLEN);
  if (!udata
      || !nftnl_udata_put_strz (udata, NFTNL_UDATA_TABLE_COMMENT, MOAT_RULESET_LAYOUT_COMMENT))
    return -1;
  return nftnl_table_set_data (t, NFTNL_TABLE_USERDATA, nftnl_udata_buf_data (udata),
                               nftnl_udata_buf_len (udata));
}

int
nft_put_table (struct builder *b, uint16_t family, uint16_t msg_type, uint16_t flags)
{
  _cleanup_ (nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc ();
  struct nlmsghdr *nlh;

  if (!t)
    return -1;
  nftnl_table_set_u32 (t, NFTNL_TABLE_FAMILY, family);
  if (nftnl_table_set_str (t, NFTNL_TABLE_NAME, MOAT_NFT_TABLE) < 0)
    return -1;
  if (msg_type == NFT_MSG_NEWTABLE && table_layout_comment (t) < 0)
    return -1;
  nlh = builder_hdr (b, msg_type, family, flags | NLM_F_ACK);
  nftnl_table_nlmsg_build_payload (nlh, t);
  return builder_next (b);
}

/* A key field as nft's `typeof` describes it (nft 1.0.6's set userdata:
 * the expression's type, then its own attributes): a payload expression,
 * by protocol and field for `ip saddr`, by base, offset and length for
 * the raw @th,96,32 of a VXLAN header. Only sets with a field no nft type
 * names carry it: without it nft cannot list them. */
enum
{
  NFT_EXPR_PAYLOAD_ID = 7,
  NFT_EXPR_CONCAT_ID = 13,
  NFT_PROTO_DESC_IP = 12,
  NFT_IPHDR_SADDR = 11,
  NFT_PROTO_BASE_TRANSPORT = 3, /* nft's own numbering, not the kernel's */
};

static bool
typeof_payload (struct nftnl_udata_buf *u, uint32_t type, enum moat_field f)
{
  struct nftnl_udata *nest = nftnl_udata_nest_start (u, type);
  bool ok;

  if (f == MOAT_FIELD_IPV4)
    ok = nftnl_udata_put_u32 (u, 0, NFT_PROTO_DESC_IP)
         && nftnl_udata_put_u32 (u, 1, NFT_IPHDR_SADDR);
  else
    ok = nftnl_udata_put_u32 (u, 0, 0) && nftnl_udata_put_u32 (u, 1, 0)
         && nftnl_udata_put_u32 (u, 2, NFT_PROTO_BASE_TRANSPORT) && nftnl_udata_put_u32 (u, 3, 96)
         && nftnl_udata_put_u32 (u, 4, 32);
  nftnl_udata_nest_end (u, nest);
  return ok;
}

static bool
typeof_field (struct nftnl_udata_buf *u, enum moat_field f)
{
  return nftnl_udata_put_u32 (u, NFTNL_UDATA_SET_TYPEOF_EXPR, NFT_EXPR_PAYLOAD_ID)
         && typeof_payload (u, NFTNL_UDATA_SET_TYPEOF_DATA, f);
}

static bool
set_typeof (struct nftnl_udata_buf *u, const struct moat_set_def *def)
{
  struct nftnl_udata *top, *data, *item;
  bool ok = true;

  top = nftnl_udata_nest_start (u, NFTNL_UDATA_SET_KEY_TYPEOF);
  if (def->nfields == 1)
    ok = typeof_field (u, def->fields[0]);
  else
    {
      ok = nftnl_udata_put_u32 (u, NFTNL_UDATA_SET_TYPEOF_EXPR, NFT_EXPR_CONCAT_ID);
      data = nftnl_udata_nest_start (u, NFTNL_UDATA_SET_TYPEOF_DATA);
      for (unsigned i = 0; ok && i < def->nfields; i++)
        {
          item = nftnl_udata_nest_start (u, i);
          ok = typeof_field (u, def->fields[i]);
          nftnl_udata_nest_end (u, item);
        }
      nftnl_udata_nest_end (u, data);
    }
  nftnl_udata_nest_end (u, top);
  return ok;
}

static bool
set_has_field (const struct moat_set_def *def, enum moat_field f)
{
  for (unsigned i = 0; i < def->nfields; i++)
    if (def->fields[i] == f)
      return true;
  return false;
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
  if (set_has_field (def, MOAT_FIELD_VNI) && !set_typeof (udata, def))
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

#define IDENT_SET_ID 0x4000 /* NFTA_SET_ID of an identity's set made in the batch */

/* How a lookup in the same batch names a set it creates (NFTA_SET_ID). */
static uint32_t
set_id (enum moat_set set)
{
  if (set == MOAT_SET_IDENT6)
    return IDENT_SET_ID + 1;
  return set == MOAT_SET_IDENT ? IDENT_SET_ID : (uint32_t)set + 1;
}

/* The set's `counter` (NFTA_SET_EXPR): the kernel gives each element
 * added without expressions its own copy, which its lookups raise. */
static int
set_counter (struct nftnl_set *s)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("counter");

  if (!e)
    return -1;
  nftnl_set_add_expr (s, e);
  return 0;
}

/* `name`: the set's own, or an identity's id_<ident> (MOAT_SET_IDENT). */
static int
put_set (struct builder *b, enum moat_set index, const char *name, uint16_t excl)
{
  const struct moat_set_def *def = moat_set_def_of (index);
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();
  struct nlmsghdr *nlh;

  if (!s)
    return -1;
  nftnl_set_set_u32 (s, NFTNL_SET_FAMILY, def->family);
  if (nftnl_set_set_str (s, NFTNL_SET_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_set_set_str (s, NFTNL_SET_NAME, name) < 0)
    return -1;
  nftnl_set_set_u32 (s, NFTNL_SET_ID, set_id (index));
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
  if (def->timeout_ms)
    nftnl_set_set_u64 (s, NFTNL_SET_TIMEOUT, def->timeout_ms);
  if (def->counter && set_counter (s) < 0)
    return -1;
  if (set_userdata (s, def) < 0)
    return -1;
  nlh = builder_hdr (b, NFT_MSG_NEWSET, def->family, NLM_F_CREATE | excl | NLM_F_ACK);
  nftnl_set_nlmsg_build_payload (nlh, s);
  return builder_next (b);
}

/* A chain's NEWCHAIN, or (no hook) its deletion; `name`: the chain's
 * own, or an identity's id_<ident>. */
static int
put_chain (struct builder *b, const struct moat_chain_def *def, const char *name, uint16_t msg_type,
           uint16_t flags)
{
  _cleanup_ (nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc ();
  struct nlmsghdr *nlh;

  if (!c)
    return -1;
  nftnl_chain_set_u32 (c, NFTNL_CHAIN_FAMILY, def->family);
  if (nftnl_chain_set_str (c, NFTNL_CHAIN_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_chain_set_str (c, NFTNL_CHAIN_NAME, name) < 0)
    return -1;
  if (def->type)
    {
      if (nftnl_chain_set_str (c, NFTNL_CHAIN_TYPE, def->type) < 0)
        return -1;
      nftnl_chain_set_u32 (c, NFTNL_CHAIN_HOOKNUM, def->hook);
      nftnl_chain_set_s32 (c, NFTNL_CHAIN_PRIO, def->prio);
      nftnl_chain_set_u32 (c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
    }
  nlh = builder_hdr (b, msg_type, def->family, flags | NLM_F_ACK);
  nftnl_chain_nlmsg_build_payload (nlh, c);
  return builder_next (b);
}

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
  struct nftnl_expr *e = nftnl_expr_alloc (s->socket ? "socket"
                                           : s->ct   ? "ct"
                                           : s->meta ? "meta"
                                                     : "payload");

  if (!e)
    return -1;
  if (s->socket)
    {
      nftnl_expr_set_u32 (e, NFTNL_EXPR_SOCKET_KEY, s->what);
      nftnl_expr_set_u32 (e, NFTNL_EXPR_SOCKET_LEVEL, MOAT_HOSTNET_LEVEL);
      nftnl_expr_set_u32 (e, NFTNL_EXPR_SOCKET_DREG, dreg);
    }
  else if (s->ct)
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

/* ct KEY & bits != 0 (ct state, ct status). */
static int
match_ct_bits (struct nftnl_rule *r, uint32_t key, uint32_t bits)
{
  struct nftnl_expr *bw;
  uint32_t zero = 0;

  if (load_ct (r, key) < 0)
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

/* exthdr frag exists: 1 in reg 1 when the IPv6 packet has a fragment
 * header (found in first and later fragments alike). */
static int
load_frag_present (struct nftnl_rule *r)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("exthdr");

  if (!e)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_EXTHDR_DREG, NFT_REG_1);
  nftnl_expr_set_u8 (e, NFTNL_EXPR_EXTHDR_TYPE, 44); /* IPv6 fragment header */
  nftnl_expr_set_u32 (e, NFTNL_EXPR_EXTHDR_OFFSET, 0);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_EXTHDR_LEN, 1);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_EXTHDR_FLAGS, NFT_EXTHDR_F_PRESENT);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_EXTHDR_OP, NFT_EXTHDR_OP_IPV6);
  return add_expr (r, e);
}

/* ip6 daddr fe80::/10, as nft writes it: the whole address, masked. */
static int
match_daddr6_link (struct nftnl_rule *r)
{
  static const uint8_t prefix_mask[16] = { 0xff, 0xc0 }, link[16] = { 0xfe, 0x80 }, zero[16];
  struct nftnl_expr *bw;

  if (load_payload (r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16) < 0)
    return -1;
  bw = nftnl_expr_alloc ("bitwise");
  if (add_expr (r, bw) < 0)
    return -1;
  nftnl_expr_set_u32 (bw, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
  nftnl_expr_set_u32 (bw, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
  nftnl_expr_set_u32 (bw, NFTNL_EXPR_BITWISE_LEN, 16);
  nftnl_expr_set (bw, NFTNL_EXPR_BITWISE_MASK, prefix_mask, 16);
  nftnl_expr_set (bw, NFTNL_EXPR_BITWISE_XOR, zero, 16);
  return compare (r, NFT_CMP_EQ, link, 16);
}

/* byteorder reg = hton(reg, len, len): one field of `len` bytes. */
static int
hton (struct nftnl_rule *r, uint32_t reg, uint32_t len)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("byteorder");

  if (add_expr (r, e) < 0)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_BYTEORDER_SREG, reg);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_BYTEORDER_DREG, reg);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_BYTEORDER_LEN, len);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_BYTEORDER_SIZE, len);
  return 0;
}

/* iifname|oifname "lo" */
static int
match_lo (struct nftnl_rule *r, uint32_t key)
{
  char lo[IFNAMSIZ] = "lo";

  if (load_meta (r, key) < 0)
    return -1;
  return compare (r, NFT_CMP_EQ, lo, sizeof (lo));
}

/* Loads each source into consecutive 4-byte-aligned registers, as the set's
 * key is laid out, then looks the concatenation up. An identity's set has
 * the name of the chain the rule is in. */
static int
match_lookup (struct nftnl_rule *r, const struct moat_term *t, const char *chain)
{
  const struct moat_set_def *set = moat_set_def_of (t->set);
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
      /* An interval set compares big-endian: nft turns a host-order
       * field around first. */
      if ((set->flags & NFT_SET_INTERVAL) && set->fields[i] == MOAT_FIELD_CGROUP
          && hton (r, reg_at (offset), s->len) < 0)
        return -1;
      offset += moat_field_padded (s->len);
    }
  if (i != set->nfields)
    return -1;
  e = nftnl_expr_alloc ("lookup");
  if (add_expr (r, e) < 0)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
  nftnl_expr_set_str (e, NFTNL_EXPR_LOOKUP_SET,
                      t->set == MOAT_SET_IDENT || t->set == MOAT_SET_IDENT6 ? chain : set->name);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_LOOKUP_SET_ID, set_id (t->set));
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
  nftnl_expr_set_u32 (e, NFTNL_EXPR_LOOKUP_SET_ID, set_id (set));
  return 0;
}

/* dnat ip (ip6) to the address in register 1 and the port in the
 * register after it (32_01 after 4 bytes, 2 after 16), where a map lookup
 * left them. */
static int
put_dnat_from_regs (struct nftnl_rule *r, bool v6)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("nat");
  uint32_t port_reg = v6 ? NFT_REG_2 : NFT_REG32_01;

  if (add_expr (r, e) < 0)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_NAT_FAMILY, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_NAT_REG_PROTO_MIN, port_reg);
  /* nft 1.0.6 writes the IPv6 form without the maxima and flags: the
   * kernel takes min as max and sets the flags from the registers given. */
  if (v6)
    return 0;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_NAT_REG_ADDR_MAX, NFT_REG_1);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_NAT_REG_PROTO_MAX, port_reg);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED);
  return 0;
}

/* The proxy map's value (address . port) lands in the two registers the
 * nat expression reads. */
static int
put_proxy_dnat (struct nftnl_rule *r, bool v6)
{
  uint32_t alen = v6 ? 16 : 4;

  if (load_source (r, v6 ? MOAT_SRC_IP6_SADDR : MOAT_SRC_IP_SADDR, NFT_REG_1) < 0
      || load_source (r, MOAT_SRC_TH_DPORT, reg_at (alen)) < 0
      || lookup (r, v6 ? MOAT_SET_PROXY6 : MOAT_SET_PROXY, NFT_REG_1, NFT_REG_1) < 0)
    return -1;
  return put_dnat_from_regs (r, v6);
}

/* The publish map's key (ip daddr . meta l4proto . th dport) in the
 * registers nft uses, its value (container . port) landing in the two the
 * nat expression reads. nft adds a `byteorder reg 9 = hton(reg 9, 2, 1)`
 * after the l4proto load: a no-op on one byte, left out as elsewhere. */
static int
put_publish_dnat (struct nftnl_rule *r, bool v6)
{
  uint32_t alen = v6 ? 16 : 4;

  if (load_source (r, v6 ? MOAT_SRC_IP6_DADDR : MOAT_SRC_IP_DADDR, NFT_REG_1) < 0
      || load_source (r, MOAT_SRC_L4PROTO, reg_at (alen)) < 0)
    return -1;
  if (load_source (r, MOAT_SRC_TH_DPORT, reg_at (alen + 4)) < 0
      || lookup (r, v6 ? MOAT_SET_PUBLISH6 : MOAT_SET_PUBLISH, NFT_REG_1, NFT_REG_1) < 0)
    return -1;
  return put_dnat_from_regs (r, v6);
}

/* fib daddr type local */
static int
match_fib_local (struct nftnl_rule *r)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("fib");
  uint32_t local = RTN_LOCAL;

  if (add_expr (r, e) < 0)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
  return compare (r, NFT_CMP_EQ, &local, sizeof (local));
}

/* ct status dnat */
static int
match_ct_dnat (struct nftnl_rule *r)
{
  return match_ct_bits (r, NFT_CT_STATUS, IPS_DST_NAT);
}

/* update @set { <source> limit rate MOAT_LOG_RATE/second burst
 * MOAT_LOG_BURST packets }: the kernel adds the key's element (with the
 * set's timeout) and its limiter; over the rate, the rule breaks. */
static int
match_rate (struct nftnl_rule *r, const struct moat_term *t)
{
  struct nftnl_expr *limit = nftnl_expr_alloc ("limit");
  struct nftnl_expr *e;

  if (!limit)
    return -1;
  nftnl_expr_set_u64 (limit, NFTNL_EXPR_LIMIT_RATE, MOAT_LOG_RATE);
  nftnl_expr_set_u64 (limit, NFTNL_EXPR_LIMIT_UNIT, 1); /* seconds */
  nftnl_expr_set_u32 (limit, NFTNL_EXPR_LIMIT_BURST, MOAT_LOG_BURST);
  nftnl_expr_set_u32 (limit, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
  nftnl_expr_set_u32 (limit, NFTNL_EXPR_LIMIT_FLAGS, 0);
  e = nftnl_expr_alloc ("dynset");
  if (!e)
    {
      nftnl_expr_free (limit);
      return -1;
    }
  nftnl_expr_set_u32 (e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
  nftnl_expr_set_str (e, NFTNL_EXPR_DYNSET_SET_NAME, moat_set_def_of (t->set)->name);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_DYNSET_SET_ID, set_id (t->set));
  nftnl_expr_set (e, NFTNL_EXPR_DYNSET_EXPR, limit, 0);
  if (load_source (r, t->sources[0], NFT_REG_1) < 0)
    {
      nftnl_expr_free (e);
      return -1;
    }
  return add_expr (r, e);
}

/* lo <= reg 1 <= hi, as nft writes `icmpv6 type a-b`: cmp gte, cmp lte. */
static int
match_range_u8 (struct nftnl_rule *r, int loaded, uint8_t lo, uint8_t hi)
{
  if (loaded < 0 || compare (r, NFT_CMP_GTE, &lo, sizeof (lo)) < 0)
    return -1;
  return compare (r, NFT_CMP_LTE, &hi, sizeof (hi));
}

static int
put_term (struct nftnl_rule *r, const struct moat_term *t, const char *chain)
{
  uint16_t ethertype, be16;

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
      return match_ct_bits (r, NFT_CT_STATE, t->value);
    case MOAT_TERM_CT_REPLY:
      return match_u8 (r, load_ct (r, NFT_CT_DIRECTION), IP_CT_DIR_REPLY);
    case MOAT_TERM_LOOKUP:
    case MOAT_TERM_NOT_LOOKUP:
      return match_lookup (r, t, chain);
    case MOAT_TERM_FIB_LOCAL:
      return match_fib_local (r);
    case MOAT_TERM_CT_DNAT:
      return match_ct_dnat (r);
    case MOAT_TERM_SADDR_LOOPBACK: /* ip saddr 127.0.0.0/8: its first byte */
      return match_u8 (r, load_payload (r, NFT_PAYLOAD_NETWORK_HEADER, 12, 1), 127);
    case MOAT_TERM_DADDR_LOOPBACK: /* ip daddr 127.0.0.0/8 */
      return match_u8 (r, load_payload (r, NFT_PAYLOAD_NETWORK_HEADER, 16, 1), 127);
    case MOAT_TERM_RATE:
      return match_rate (r, t);
    case MOAT_TERM_IPV6:
      return match_u8 (r, load_meta (r, NFT_META_NFPROTO), NFPROTO_IPV6);
    case MOAT_TERM_ICMP_TYPE_RANGE:
      return match_range_u8 (r, load_payload (r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1),
                             (uint8_t)(t->value & 0xff), (uint8_t)(t->value >> 8));
    case MOAT_TERM_ND_OPTION:
      be16 = htons ((uint16_t)t->value);
      if (load_payload (r, NFT_PAYLOAD_TRANSPORT_HEADER, 24, sizeof (be16)) < 0)
        return -1;
      return compare (r, NFT_CMP_NEQ, &be16, sizeof (be16));
    case MOAT_TERM_TH_SPORT:
    case MOAT_TERM_TH_DPORT:
      be16 = htons ((uint16_t)t->value);
      if (load_payload (r, NFT_PAYLOAD_TRANSPORT_HEADER, t->kind == MOAT_TERM_TH_DPORT ? 2 : 0,
                        sizeof (be16))
          < 0)
        return -1;
      return compare (r, NFT_CMP_EQ, &be16, sizeof (be16));
    case MOAT_TERM_IIF_LO:
      return match_lo (r, NFT_META_IIFNAME);
    case MOAT_TERM_OIF_LO:
      return match_lo (r, NFT_META_OIFNAME);
    case MOAT_TERM_EXTHDR_FRAG:
      return match_u8 (r, load_frag_present (r), 1);
    case MOAT_TERM_DADDR6_LINK:
      return match_daddr6_link (r);
    case MOAT_TERM_DADDR6_MCAST: /* ff00::/8: its first byte, as nft writes it */
      return match_u8 (r, load_payload (r, NFT_PAYLOAD_NETWORK_HEADER, 24, 1), 0xff);
    case MOAT_TERM_IIFTYPE_ETHER:
      {
        uint16_t ether = ARPHRD_ETHER;

        if (load_meta (r, NFT_META_IIFTYPE) < 0)
          return -1;
        return compare (r, NFT_CMP_EQ, &ether, sizeof (ether));
      }
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

/* log group MOAT_LOG_GROUP: the packet to NFLOG, copied as the listener
 * asks (moatctl watch), and on to the next rule. */
static int
put_log (struct nftnl_rule *r)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("log");

  if (add_expr (r, e) < 0)
    return -1;
  nftnl_expr_set_u16 (e, NFTNL_EXPR_LOG_GROUP, MOAT_LOG_GROUP);
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
      return put_proxy_dnat (r, def->v6);
    case MOAT_ACT_PUBLISH_DNAT:
      return put_publish_dnat (r, def->v6);
    case MOAT_ACT_LOG:
      return put_log (r);
    case MOAT_ACT_COUNT:
      return 0; /* the lookup's element counts: no statement */
    case MOAT_ACT_SRC_IDENT:
      return load_source (r, def->v6 ? MOAT_SRC_IP6_SADDR : MOAT_SRC_IP_SADDR, NFT_REG_1) < 0
                 ? -1
                 : lookup (r, def->v6 ? MOAT_SET_SRC_IDENT6 : MOAT_SET_SRC_IDENT, NFT_REG_1,
                           NFT_REG_VERDICT);
    case MOAT_ACT_CGROUP_IDENT:
      return load_source (r, MOAT_SRC_SOCKET_CGROUP, NFT_REG_1) < 0
                 ? -1
                 : lookup (r, def->v6 ? MOAT_SET_HOSTNET_IDENT6 : MOAT_SET_HOSTNET_IDENT, NFT_REG_1,
                           NFT_REG_VERDICT);
    }
  return -1;
}

/* `chain`: the rule's own, or an identity's id_<ident>. */
static int
put_rule (struct builder *b, const struct moat_rule_def *def, const char *chain)
{
  _cleanup_ (nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc ();
  struct nlmsghdr *nlh;

  if (!r)
    return -1;
  nftnl_rule_set_u32 (r, NFTNL_RULE_FAMILY, def->family);
  if (nftnl_rule_set_str (r, NFTNL_RULE_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_rule_set_str (r, NFTNL_RULE_CHAIN, chain) < 0)
    return -1;
  for (size_t i = 0; i < MOAT_RULE_MAX_TERMS; i++)
    if (put_term (r, &def->terms[i], chain) < 0)
      return -1;
  if (put_action (r, def) < 0)
    return -1;
  nlh = builder_hdr (b, NFT_MSG_NEWRULE, def->family,
                     NLM_F_CREATE | (def->insert ? 0 : NLM_F_APPEND) | NLM_F_ACK);
  nftnl_rule_nlmsg_build_payload (nlh, r);
  return builder_next (b);
}

/* One table with its sets, chains and rules: its IPv4 half (`half` 4),
 * or its IPv6 half (6) or both. The table is created with NLM_F_EXCL: of
 * two racing creators, one fails with EEXIST before anything is
 * duplicated (the rules are appended, so a second copy would double them).
 * The IPv6 half made alone into an existing table has the same guard on
 * its first set (members6, ports6). */
static int
put_family (struct builder *b, uint16_t family, unsigned halves)
{
  bool first6 = true;

  if ((halves & HALF4)
      && nft_put_table (b, family, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL) < 0)
    return -1;
  for (size_t i = 0; i < MOAT_SET_COUNT; i++)
    {
      const struct moat_set_def *d = &moat_set_defs[i];
      uint16_t excl = 0;

      if (d->family != family || !(halves & (d->v6 ? HALF6 : HALF4)))
        continue;
      if (d->v6 && first6 && !(halves & HALF4))
        excl = NLM_F_EXCL;
      first6 = first6 && !d->v6;
      if (put_set (b, (enum moat_set)i, d->name, excl) < 0)
        return -1;
    }
  for (size_t i = 0; i < moat_chain_defs_count; i++)
    if (moat_chain_defs[i].family == family && (halves & (moat_chain_defs[i].v6 ? HALF6 : HALF4))
        && put_chain (b, &moat_chain_defs[i], moat_chain_defs[i].name, NFT_MSG_NEWCHAIN,
                      NLM_F_CREATE)
               < 0)
      return -1;
  for (size_t i = 0; i < moat_rules_count (); i++)
    {
      const struct moat_rule_def *r = moat_rule_at (i);

      if (r->family == family && (halves & (r->v6 ? HALF6 : HALF4))
          && put_rule (b, r, r->chain) < 0)
        return -1;
    }
  return 0;
}

int
nft_put_tables (struct builder *b, unsigned families, unsigned halves)
{
  if ((families & FAMILY_INET) && put_family (b, NFPROTO_INET, halves) < 0)
    return -1;
  if ((families & FAMILY_BRIDGE) && put_family (b, NFPROTO_BRIDGE, halves) < 0)
    return -1;
  return 0;
}

/* One message for elements of one set. */
int
nft_put_elems (struct builder *b, const struct moat_elem *elems, size_t n, uint16_t msg_type,
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

      if (nft_put_elems (b, &elems[i], 1, NFT_MSG_NEWSETELEM, NLM_F_CREATE | excl) < 0)
        return -1;
    }
  return 0;
}

/* Published ports, with the member: a map element whose host address,
 * protocol and port another container holds differs in its value, and
 * the kernel refuses it (EEXIST) even without NLM_F_EXCL. */
int
nft_put_publish (struct builder *b, const struct moat_nft_elems *publish)
{
  if (!publish || publish->l.n == 0)
    return 0;
  return nft_put_elem_runs (b, publish->l.v, publish->l.n, NFT_MSG_NEWSETELEM, NLM_F_CREATE,
                            MAX_ELEMS_PER_MSG);
}

static int
put_elem_destroys (struct builder *b, const struct moat_elem *elems, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (nft_put_elems (b, &elems[i], 1, MOAT_NFT_MSG_DESTROYSETELEM, 0) < 0)
      return -1;
  return 0;
}

int
nft_build_failed (struct builder *b, moat_err_t *err)
{
  if (b->batch)
    nftnl_batch_free (b->batch);
  b->batch = NULL;
  return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: cannot build batch");
}

struct nftnl_batch *
nft_build_error (struct builder *b, moat_err_t *err)
{
  nft_build_failed (b, err);
  return NULL;
}

struct nftnl_batch *
moat_nft_build_tables (uint32_t seq, moat_err_t *err)
{
  struct builder b;

  if (nft_builder_start (&b, seq) < 0 || nft_put_tables (&b, FAMILY_INET | FAMILY_BRIDGE, HALF4) < 0
      || nft_builder_finish (&b) < 0)
    return nft_build_error (&b, err);
  return b.batch;
}

struct nftnl_batch *
moat_nft_build_half6 (uint32_t seq, moat_err_t *err)
{
  struct builder b;

  if (nft_builder_start (&b, seq) < 0 || nft_put_tables (&b, FAMILY_INET | FAMILY_BRIDGE, HALF6) < 0
      || nft_builder_finish (&b) < 0)
    return nft_build_error (&b, err);
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
  if (nft_builder_start (&b, seq) < 0)
    return nft_build_error (&b, err);
  r = add ? put_elem_adds (&b, elems, n) : put_elem_destroys (&b, elems, n);
  if (r == 0 && add)
    r = nft_put_publish (&b, m->publish);
  if (r < 0 || nft_builder_finish (&b) < 0)
    return nft_build_error (&b, err);
  return b.batch;
}

/* The missing tables, then the member's elements: the slow path of the
 * first ADD. */
struct nftnl_batch *
nft_build_tables_and_member (const struct moat_elem *elems, size_t n,
                             const struct moat_nft_elems *publish, unsigned families,
                             unsigned halves, uint32_t seq, moat_err_t *err)
{
  struct builder b;

  if (nft_builder_start (&b, seq) < 0 || nft_put_tables (&b, families, halves) < 0
      || put_elem_adds (&b, elems, n) < 0 || nft_put_publish (&b, publish) < 0
      || nft_builder_finish (&b) < 0)
    return nft_build_error (&b, err);
  return b.batch;
}

/* One GETSETELEM per element (the request `nft get element` makes), all in
 * one sendmsg; each is answered by the element or ENOENT, then an ack. */
struct nftnl_batch *
nft_build_gets (const struct moat_elem *elems, size_t n, uint32_t seq, moat_err_t *err)
{
  struct builder b = { .batch = batch_alloc (), .seq = seq };

  if (!b.batch)
    return nft_build_error (&b, err);
  for (size_t i = 0; i < n; i++)
    if (nft_put_elems (&b, &elems[i], 1, NFT_MSG_GETSETELEM, 0) < 0)
      return nft_build_error (&b, err);
  return b.batch;
}

/* An identity's set, by name only: its deletion. */
static int
put_ident_set_ref (struct builder *b, const char *name, uint16_t msg_type)
{
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();
  struct nlmsghdr *nlh;

  if (!s)
    return -1;
  nftnl_set_set_u32 (s, NFTNL_SET_FAMILY, moat_ident_set_def.family);
  if (nftnl_set_set_str (s, NFTNL_SET_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_set_set_str (s, NFTNL_SET_NAME, name) < 0)
    return -1;
  nlh = builder_hdr (b, msg_type, moat_ident_set_def.family, NLM_F_ACK);
  nftnl_set_nlmsg_build_payload (nlh, s);
  return builder_next (b);
}

/* Called only when the chain does not exist (moat_nft_ident_exists), so
 * its one rule is never doubled. */
int
nft_put_ident_create (struct builder *b, const char *ident)
{
  char name[MOAT_IDENT_OBJECT_MAX];

  if (moat_ident_object_name (name, sizeof (name), ident) < 0)
    return -1;
  if (put_chain (b, &moat_ident_chain_def, name, NFT_MSG_NEWCHAIN, NLM_F_CREATE) < 0
      || put_set (b, MOAT_SET_IDENT, name, 0) < 0 || put_rule (b, &moat_ident_rule_def, name) < 0)
    return -1;
  return 0;
}

int
nft_ident6_name (char *name, size_t size, const char *ident)
{
  if (moat_ident_object_name (name, size, ident) < 0 || strlen (name) + 2 > size)
    return -1;
  strcat (name, "6");
  return 0;
}

int
nft_put_ident6_create (struct builder *b, const char *ident)
{
  char name[MOAT_IDENT_OBJECT_MAX];

  if (nft_ident6_name (name, sizeof (name), ident) < 0)
    return -1;
  if (put_chain (b, &moat_ident_chain_def, name, NFT_MSG_NEWCHAIN, NLM_F_CREATE) < 0
      || put_set (b, MOAT_SET_IDENT6, name, 0) < 0 || put_rule (b, &moat_ident_rule6_def, name) < 0)
    return -1;
  return 0;
}

/* The chain first: its rule holds the set; then the IPv6 twins, alike. */
int
nft_put_ident_drop (struct builder *b, const char *ident, const struct deletes *d, unsigned parts)
{
  char name[MOAT_IDENT_OBJECT_MAX], name6[MOAT_IDENT_OBJECT_MAX];

  if (moat_ident_object_name (name, sizeof (name), ident) < 0
      || nft_ident6_name (name6, sizeof (name6), ident) < 0)
    return -1;
  if (((parts & IDENT_CHAIN) && put_chain (b, &moat_ident_chain_def, name, d->chain, 0) < 0)
      || ((parts & IDENT_SET) && put_ident_set_ref (b, name, d->set) < 0)
      || ((parts & IDENT_CHAIN6) && put_chain (b, &moat_ident_chain_def, name6, d->chain, 0) < 0)
      || ((parts & IDENT_SET6) && put_ident_set_ref (b, name6, d->set) < 0))
    return -1;
  return 0;
}
