/* SPDX-License-Identifier: Apache-2.0 */
/* Foreign rules that would override moat (see foreign.h): the kernel's
 * chains and rules are read with two netlink dumps, each rule is reduced to
 * what matters here (its verdict, the interfaces it matches by name, whether
 * it matches anything else), and each foreign base chain at a hook moat's
 * traffic crosses is walked in order, keeping track of which bridges its
 * accept rules have let through so far. */
#include "foreign.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter_arp.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_state.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "base/cleanup.h"
#include "kernel/nfnl.h"

DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_chain_list *, nftnl_chain_list_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_rule_list *, nftnl_rule_list_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_chain_list_iter *, nftnl_chain_list_iter_destroy)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_expr_iter *, nftnl_expr_iter_destroy)

/* nftnl_rule_list_iter_destroy takes a const pointer. */
static inline void
rule_list_iter_destroyp (struct nftnl_rule_list_iter **it)
{
  if (*it)
    nftnl_rule_list_iter_destroy (*it);
}

#define RECV_BUF_SIZE (64 * 1024)
#define DUMP_ATTEMPTS 5     /* reads of a ruleset that changed under the dumps */
#define MAX_IFACE_MATCHES 4 /* more in one rule: treated as an unknown match */
#define MAX_REGS (NFT_REG32_15 + 1)

/* --- one rule, reduced ---------------------------------------------------- */

/* Interface names a rule can match (nft meta keys). In the bridge family
 * iifname/oifname name the port and ibrname/obrname the bridge; elsewhere
 * the bridge is the interface. */
enum iface_key
{
  IFK_IIFNAME,
  IFK_OIFNAME,
  IFK_BRI_IIFNAME,
  IFK_BRI_OIFNAME,
};

struct iface_match
{
  enum iface_key key;
  bool prefix; /* "moat*", iptables' "moat+" */
  char name[IFNAMSIZ + 1];
};

enum verdict
{
  VERDICT_NONE, /* no verdict statement: the next rule decides */
  VERDICT_ACCEPT,
  VERDICT_DROP,
  VERDICT_REJECT,
  VERDICT_JUMP,
  VERDICT_GOTO,
  VERDICT_OTHER, /* return, queue, a verdict map, an xtables target */
};

struct rule_view
{
  uint64_t handle;
  enum verdict verdict;
  const char *target; /* jump/goto: the chain, owned by the libnftnl rule */
  struct iface_match ifaces[MAX_IFACE_MATCHES]; /* equality matches only */
  size_t n_ifaces;
  bool other;      /* a match this file does not model */
  bool ct_invalid; /* ct state invalid (nft, or xtables conntrack/state) */
  bool reported;   /* reached from several base chains: report once */
};

/* What a register holds, as far as the rule's expressions told us. */
enum reg_kind
{
  REG_UNKNOWN,
  REG_IFACE,
  REG_CT_STATE,
  REG_CT_STATE_MASKED, /* ct state & mask */
};

struct reg
{
  enum reg_kind kind;
  enum iface_key key;
  uint32_t mask;
};

struct reduce
{
  struct rule_view *r;
  struct reg regs[MAX_REGS];
};

static void
reg_set (struct reduce *s, uint32_t n, struct reg value)
{
  if (n < MAX_REGS)
    s->regs[n] = value;
}

static struct reg
reg_get (const struct reduce *s, uint32_t n)
{
  struct reg unknown = { REG_UNKNOWN, 0, 0 };

  return n < MAX_REGS ? s->regs[n] : unknown;
}

static void
regs_forget (struct reduce *s)
{
  memset (s->regs, 0, sizeof (s->regs));
}

static void
reduce_meta (struct reduce *s, const struct nftnl_expr *e)
{
  struct reg value = { REG_IFACE, 0, 0 };

  if (!nftnl_expr_is_set (e, NFTNL_EXPR_META_DREG))
    return; /* meta set: a statement, not a match */
  switch (nftnl_expr_get_u32 (e, NFTNL_EXPR_META_KEY))
    {
    case NFT_META_IIFNAME:
      value.key = IFK_IIFNAME;
      break;
    case NFT_META_OIFNAME:
      value.key = IFK_OIFNAME;
      break;
    case NFT_META_BRI_IIFNAME:
      value.key = IFK_BRI_IIFNAME;
      break;
    case NFT_META_BRI_OIFNAME:
      value.key = IFK_BRI_OIFNAME;
      break;
    default:
      value.kind = REG_UNKNOWN;
      s->r->other = true; /* some keys fail to load: the load alone matches */
      break;
    }
  reg_set (s, nftnl_expr_get_u32 (e, NFTNL_EXPR_META_DREG), value);
}

static void
reduce_ct (struct reduce *s, const struct nftnl_expr *e)
{
  struct reg value = { REG_CT_STATE, 0, 0 };

  if (!nftnl_expr_is_set (e, NFTNL_EXPR_CT_DREG))
    return; /* ct set */
  if (nftnl_expr_get_u32 (e, NFTNL_EXPR_CT_KEY) != NFT_CT_STATE)
    {
      value.kind = REG_UNKNOWN;
      s->r->other = true;
    }
  reg_set (s, nftnl_expr_get_u32 (e, NFTNL_EXPR_CT_DREG), value);
}

/* (reg & mask) ^ 0 over a ct state: how nft writes `ct state invalid`. */
static void
reduce_bitwise (struct reduce *s, const struct nftnl_expr *e)
{
  struct reg src = reg_get (s, nftnl_expr_get_u32 (e, NFTNL_EXPR_BITWISE_SREG));
  struct reg value = { REG_UNKNOWN, 0, 0 };
  uint32_t mask_len = 0, xor_len = 0;
  const void *mask = nftnl_expr_get (e, NFTNL_EXPR_BITWISE_MASK, &mask_len);
  const void * xor = nftnl_expr_get (e, NFTNL_EXPR_BITWISE_XOR, &xor_len);
  uint32_t op = nftnl_expr_is_set (e, NFTNL_EXPR_BITWISE_OP)
                    ? nftnl_expr_get_u32 (e, NFTNL_EXPR_BITWISE_OP)
                    : NFT_BITWISE_BOOL;
  uint32_t xor_value = 1;

  if (src.kind == REG_CT_STATE && op == NFT_BITWISE_BOOL && mask && mask_len == sizeof (uint32_t)
      && xor&&xor_len == sizeof (uint32_t))
    {
      memcpy (&value.mask, mask, sizeof (value.mask));
      memcpy (&xor_value, xor, sizeof (xor_value));
      if (xor_value == 0)
        value.kind = REG_CT_STATE_MASKED;
    }
  reg_set (s, nftnl_expr_get_u32 (e, NFTNL_EXPR_BITWISE_DREG), value);
}

static bool
all_zero (const unsigned char *data, uint32_t len)
{
  for (uint32_t i = 0; i < len; i++)
    if (data[i])
      return false;
  return true;
}

/* An interface name compared for equality: up to the first NUL an exact
 * name, without one a prefix (nft's "eth*", iptables' "eth+"). */
static void
add_iface_match (struct rule_view *r, enum iface_key key, const char *data, uint32_t len)
{
  struct iface_match *m;
  const char *nul = memchr (data, '\0', len);

  if (len > IFNAMSIZ || r->n_ifaces == MAX_IFACE_MATCHES)
    {
      r->other = true;
      return;
    }
  m = &r->ifaces[r->n_ifaces++];
  m->key = key;
  m->prefix = !nul;
  memcpy (m->name, data, nul ? (size_t)(nul - data) : len);
  m->name[nul ? (size_t)(nul - data) : len] = '\0';
}

static void
reduce_cmp (struct reduce *s, const struct nftnl_expr *e)
{
  struct reg src = reg_get (s, nftnl_expr_get_u32 (e, NFTNL_EXPR_CMP_SREG));
  uint32_t op = nftnl_expr_get_u32 (e, NFTNL_EXPR_CMP_OP);
  uint32_t len = 0;
  const unsigned char *data = nftnl_expr_get (e, NFTNL_EXPR_CMP_DATA, &len);

  if (!data)
    s->r->other = true;
  else if (src.kind == REG_IFACE && op == NFT_CMP_EQ)
    add_iface_match (s->r, src.key, (const char *)data, len);
  else if (src.kind == REG_CT_STATE_MASKED && op == NFT_CMP_NEQ && all_zero (data, len)
           && src.mask == NF_CT_STATE_INVALID_BIT)
    s->r->ct_invalid = true;
  else
    s->r->other = true;
}

static void
reduce_immediate (struct reduce *s, const struct nftnl_expr *e)
{
  struct reg unknown = { REG_UNKNOWN, 0, 0 };
  uint32_t dreg = nftnl_expr_get_u32 (e, NFTNL_EXPR_IMM_DREG);

  if (dreg != NFT_REG_VERDICT)
    {
      reg_set (s, dreg, unknown);
      return;
    }
  switch ((int32_t)nftnl_expr_get_u32 (e, NFTNL_EXPR_IMM_VERDICT))
    {
    case NF_ACCEPT:
      s->r->verdict = VERDICT_ACCEPT;
      break;
    case NF_DROP:
      s->r->verdict = VERDICT_DROP;
      break;
    case NFT_JUMP:
      s->r->verdict = VERDICT_JUMP;
      s->r->target = nftnl_expr_get_str (e, NFTNL_EXPR_IMM_CHAIN);
      break;
    case NFT_GOTO:
      s->r->verdict = VERDICT_GOTO;
      s->r->target = nftnl_expr_get_str (e, NFTNL_EXPR_IMM_CHAIN);
      break;
    case NFT_CONTINUE:
      break;
    default:
      s->r->verdict = VERDICT_OTHER;
      break;
    }
}

/* A set lookup is a match moat cannot weigh; a verdict map's verdict is
 * unknown (its elements are not read). */
static void
reduce_lookup (struct reduce *s, const struct nftnl_expr *e)
{
  struct reg unknown = { REG_UNKNOWN, 0, 0 };

  s->r->other = true;
  if (!nftnl_expr_is_set (e, NFTNL_EXPR_LOOKUP_DREG))
    return;
  if (nftnl_expr_get_u32 (e, NFTNL_EXPR_LOOKUP_DREG) == NFT_REG_VERDICT)
    s->r->verdict = VERDICT_OTHER;
  else
    reg_set (s, nftnl_expr_get_u32 (e, NFTNL_EXPR_LOOKUP_DREG), unknown);
}

/* iptables-nft's `-m conntrack --ctstate INVALID` and `-m state --state
 * INVALID`: the kernel's xt match structures, read as they are. */
static bool
xt_conntrack_invalid_only (uint32_t rev, const void *info, uint32_t len)
{
  uint16_t flags, invert, state;

  if (rev == 1 && len >= sizeof (struct xt_conntrack_mtinfo1))
    {
      struct xt_conntrack_mtinfo1 m;

      memcpy (&m, info, sizeof (m));
      flags = m.match_flags, invert = m.invert_flags, state = m.state_mask;
    }
  else if (rev == 2 && len >= sizeof (struct xt_conntrack_mtinfo2))
    {
      struct xt_conntrack_mtinfo2 m;

      memcpy (&m, info, sizeof (m));
      flags = m.match_flags, invert = m.invert_flags, state = m.state_mask;
    }
  else if (rev == 3 && len >= sizeof (struct xt_conntrack_mtinfo3))
    {
      struct xt_conntrack_mtinfo3 m;

      memcpy (&m, info, sizeof (m));
      flags = m.match_flags, invert = m.invert_flags, state = m.state_mask;
    }
  else
    return false;
  return (flags & ~XT_CONNTRACK_STATE_ALIAS) == XT_CONNTRACK_STATE && !(invert & XT_CONNTRACK_STATE)
         && state == XT_CONNTRACK_STATE_INVALID;
}

static bool
xt_state_invalid_only (const void *info, uint32_t len)
{
  struct xt_state_info state;

  if (len < sizeof (state))
    return false;
  memcpy (&state, info, sizeof (state));
  return state.statemask == XT_STATE_INVALID;
}

static void
reduce_xt_match (struct reduce *s, const struct nftnl_expr *e)
{
  const char *name = nftnl_expr_get_str (e, NFTNL_EXPR_MT_NAME);
  uint32_t rev = nftnl_expr_get_u32 (e, NFTNL_EXPR_MT_REV);
  uint32_t len = 0;
  const void *info = nftnl_expr_get (e, NFTNL_EXPR_MT_INFO, &len);

  if (name && info && strcmp (name, "conntrack") == 0 && xt_conntrack_invalid_only (rev, info, len))
    s->r->ct_invalid = true;
  else if (name && info && strcmp (name, "state") == 0 && xt_state_invalid_only (info, len))
    s->r->ct_invalid = true;
  else
    s->r->other = true;
}

static void
reduce_xt_target (struct reduce *s, const struct nftnl_expr *e)
{
  const char *name = nftnl_expr_get_str (e, NFTNL_EXPR_TG_NAME);

  s->r->verdict = name && strcmp (name, "REJECT") == 0 ? VERDICT_REJECT : VERDICT_OTHER;
}

static void
reduce_expr (struct reduce *s, const struct nftnl_expr *e)
{
  const char *name = nftnl_expr_get_str (e, NFTNL_EXPR_NAME);

  if (!name)
    s->r->other = true;
  else if (strcmp (name, "meta") == 0)
    reduce_meta (s, e);
  else if (strcmp (name, "ct") == 0)
    reduce_ct (s, e);
  else if (strcmp (name, "bitwise") == 0)
    reduce_bitwise (s, e);
  else if (strcmp (name, "cmp") == 0)
    reduce_cmp (s, e);
  else if (strcmp (name, "immediate") == 0)
    reduce_immediate (s, e);
  else if (strcmp (name, "lookup") == 0)
    reduce_lookup (s, e);
  else if (strcmp (name, "reject") == 0)
    s->r->verdict = VERDICT_REJECT;
  else if (strcmp (name, "match") == 0)
    reduce_xt_match (s, e);
  else if (strcmp (name, "target") == 0)
    reduce_xt_target (s, e);
  else if (strcmp (name, "counter") == 0 || strcmp (name, "log") == 0
           || strcmp (name, "notrack") == 0)
    ; /* statements that match nothing */
  else
    {
      /* payload, range, limit, fib, ...: a match, and maybe a register
       * written that a later cmp reads. */
      s->r->other = true;
      regs_forget (s);
    }
}

/* Fills `r` from the rule's expressions; -1 when out of memory. */
static int
reduce_rule (const struct nftnl_rule *rule, struct rule_view *r)
{
  _cleanup_ (nftnl_expr_iter_destroyp) struct nftnl_expr_iter *it = nftnl_expr_iter_create (rule);
  struct reduce s = { .r = r };
  struct nftnl_expr *e;

  memset (r, 0, sizeof (*r));
  if (!it)
    return -1;
  r->handle = nftnl_rule_get_u64 (rule, NFTNL_RULE_HANDLE);
  while ((e = nftnl_expr_iter_next (it)))
    reduce_expr (&s, e);
  return 0;
}

/* --- the ruleset, indexed ------------------------------------------------ */

struct chain_view
{
  uint32_t family;
  const char *table; /* owned by the libnftnl chain */
  const char *name;
  bool base;
  uint32_t hook;
  uint32_t policy;
  struct rule_view *rules;
  size_t n_rules, cap_rules;
};

struct view
{
  struct chain_view *chains; /* sorted by family, table, name */
  size_t n;
};

static void
view_free (struct view *v)
{
  for (size_t i = 0; i < v->n; i++)
    free (v->chains[i].rules);
  free (v->chains);
  v->chains = NULL;
  v->n = 0;
}

static int
chain_cmp (const void *a, const void *b)
{
  const struct chain_view *x = a, *y = b;
  int r;

  if (x->family != y->family)
    return x->family < y->family ? -1 : 1;
  r = strcmp (x->table, y->table);
  return r ? r : strcmp (x->name, y->name);
}

static struct chain_view *
view_find (const struct view *v, uint32_t family, const char *table, const char *name)
{
  struct chain_view key = { .family = family, .table = table, .name = name };

  if (!table || !name || v->n == 0)
    return NULL;
  return bsearch (&key, v->chains, v->n, sizeof (*v->chains), chain_cmp);
}

static int
view_add_chains (struct view *v, const struct nftnl_chain_list *chains)
{
  _cleanup_ (nftnl_chain_list_iter_destroyp) struct nftnl_chain_list_iter *it
      = nftnl_chain_list_iter_create (chains);
  struct nftnl_chain *c;
  size_t cap = 0;

  if (!it)
    return -1;
  while ((c = nftnl_chain_list_iter_next (it)))
    {
      struct chain_view *cv;

      if (!nftnl_chain_get_str (c, NFTNL_CHAIN_TABLE) || !nftnl_chain_get_str (c, NFTNL_CHAIN_NAME))
        continue;
      if (v->n == cap)
        {
          struct chain_view *bigger;

          cap = cap ? 2 * cap : 32;
          bigger = realloc (v->chains, cap * sizeof (*bigger));
          if (!bigger)
            return -1;
          v->chains = bigger;
        }
      cv = &v->chains[v->n++];
      memset (cv, 0, sizeof (*cv));
      cv->family = nftnl_chain_get_u32 (c, NFTNL_CHAIN_FAMILY);
      cv->table = nftnl_chain_get_str (c, NFTNL_CHAIN_TABLE);
      cv->name = nftnl_chain_get_str (c, NFTNL_CHAIN_NAME);
      cv->base = nftnl_chain_is_set (c, NFTNL_CHAIN_HOOKNUM);
      cv->hook = cv->base ? nftnl_chain_get_u32 (c, NFTNL_CHAIN_HOOKNUM) : 0;
      cv->policy = nftnl_chain_is_set (c, NFTNL_CHAIN_POLICY)
                       ? nftnl_chain_get_u32 (c, NFTNL_CHAIN_POLICY)
                       : NF_ACCEPT;
    }
  if (v->n)
    qsort (v->chains, v->n, sizeof (*v->chains), chain_cmp);
  return 0;
}

static int
chain_add_rule (struct chain_view *cv, const struct nftnl_rule *rule)
{
  if (cv->n_rules == cv->cap_rules)
    {
      size_t cap = cv->cap_rules ? 2 * cv->cap_rules : 8;
      struct rule_view *bigger = realloc (cv->rules, cap * sizeof (*bigger));

      if (!bigger)
        return -1;
      cv->rules = bigger;
      cv->cap_rules = cap;
    }
  if (reduce_rule (rule, &cv->rules[cv->n_rules]) < 0)
    return -1;
  cv->n_rules++;
  return 0;
}

/* Rules come chain by chain, in each chain's order. A rule whose chain was
 * not in the chain dump is skipped. */
static int
view_add_rules (struct view *v, const struct nftnl_rule_list *rules)
{
  _cleanup_ (rule_list_iter_destroyp) struct nftnl_rule_list_iter *it
      = nftnl_rule_list_iter_create (rules);
  struct chain_view *last = NULL;
  struct nftnl_rule *rule;

  if (!it)
    return -1;
  while ((rule = nftnl_rule_list_iter_next (it)))
    {
      uint32_t family = nftnl_rule_get_u32 (rule, NFTNL_RULE_FAMILY);
      const char *table = nftnl_rule_get_str (rule, NFTNL_RULE_TABLE);
      const char *chain = nftnl_rule_get_str (rule, NFTNL_RULE_CHAIN);

      if (!table || !chain)
        continue;
      if (!last || last->family != family || strcmp (last->table, table) != 0
          || strcmp (last->name, chain) != 0)
        last = view_find (v, family, table, chain);
      if (last && chain_add_rule (last, rule) < 0)
        return -1;
    }
  return 0;
}

/* --- where moat's traffic meets netfilter -------------------------------- */

enum
{
  DIR_IN = 1,  /* from the bridge: iifname, meta ibrname */
  DIR_OUT = 2, /* to the bridge: oifname, meta obrname */
};

struct hook_info
{
  uint32_t family;
  uint32_t hook;
  const char *name;
  unsigned need;      /* directions an accept must cover */
  const char *effect; /* a drop policy's effect (forward: see forward_effect) */
  const char *noun;   /* what a drop rule there may drop */
};

#define EFFECT_TAIL "that no rule of the chain accepts first"

/* The inet family is looked up as ip. The bridge family's hook numbers
 * (NF_BR_*) are those of NF_INET_*. */
static const struct hook_info hook_infos[] = {
  { NFPROTO_IPV4, NF_INET_PRE_ROUTING, "prerouting", DIR_IN,
    "drops everything moat's containers send " EFFECT_TAIL, "what moat's containers send" },
  { NFPROTO_IPV4, NF_INET_LOCAL_IN, "input", DIR_IN,
    "drops what moat's containers send to the host (allowed host ports, replies to connections "
    "the host opens to them) " EFFECT_TAIL,
    "what moat's containers send to the host" },
  { NFPROTO_IPV4, NF_INET_FORWARD, "forward", DIR_IN | DIR_OUT, NULL,
    "flows of moat's containers through the host" },
  { NFPROTO_IPV4, NF_INET_LOCAL_OUT, "output", DIR_OUT,
    "drops what the host sends to moat's containers (its connections to them, replies from "
    "allowed host ports) " EFFECT_TAIL,
    "what the host sends to moat's containers" },
  { NFPROTO_ARP, NF_ARP_IN, "input", DIR_IN,
    "drops the ARP requests of moat's containers, which then reach nothing, unless a rule of "
    "the chain accepts them first",
    "the ARP requests of moat's containers" },
  { NFPROTO_ARP, NF_ARP_OUT, "output", DIR_OUT,
    "drops the host's proxy ARP replies to moat's containers, which then reach nothing, unless "
    "a rule of the chain accepts them first",
    "the host's proxy ARP replies to moat's containers" },
  { NFPROTO_BRIDGE, NF_INET_PRE_ROUTING, "prerouting", DIR_IN,
    "drops the frames moat's containers send on the bridge " EFFECT_TAIL,
    "frames moat's containers send on the bridge" },
  { NFPROTO_BRIDGE, NF_INET_LOCAL_IN, "input", DIR_IN,
    "drops the frames moat's containers send on the bridge " EFFECT_TAIL,
    "frames moat's containers send on the bridge" },
  { NFPROTO_BRIDGE, NF_INET_LOCAL_OUT, "output", DIR_OUT,
    "drops the frames the host sends to moat's containers " EFFECT_TAIL,
    "frames the host sends to moat's containers" },
};

static const struct hook_info *
hook_info_find (uint32_t family, uint32_t hook)
{
  if (family == NFPROTO_INET)
    family = NFPROTO_IPV4;
  for (size_t i = 0; i < ARRAY_SIZE (hook_infos); i++)
    if (hook_infos[i].family == family && hook_infos[i].hook == hook)
      return &hook_infos[i];
  return NULL;
}

/* At hook forward, what is lost depends on the directions not accepted. */
static const char *
forward_effect (unsigned missing)
{
  if (missing == DIR_IN)
    return "drops what moat's containers send to the outside " EFFECT_TAIL;
  if (missing == DIR_OUT)
    return "drops what the host forwards from the outside to moat's containers (replies to their "
           "connections, allowed ingress) " EFFECT_TAIL;
  return "drops every flow of moat's containers through the host (between them, and to and from "
         "the outside) " EFFECT_TAIL;
}

static const char *
family_name (uint32_t family)
{
  switch (family)
    {
    case NFPROTO_IPV4:
      return "ip";
    case NFPROTO_IPV6:
      return "ip6";
    case NFPROTO_INET:
      return "inet";
    case NFPROTO_ARP:
      return "arp";
    case NFPROTO_BRIDGE:
      return "bridge";
    case NFPROTO_NETDEV:
      return "netdev";
    default:
      return "unknown";
    }
}

static bool
is_moat_table (uint32_t family, const char *table)
{
  return strcmp (table, "moat") == 0
         && (family == NFPROTO_INET || family == NFPROTO_BRIDGE || family == NFPROTO_IPV4
             || family == NFPROTO_IPV6);
}

/* --- interfaces and bridges ---------------------------------------------- */

static bool
iface_names (const struct iface_match *m, const char *name)
{
  if (m->prefix)
    return strncmp (name, m->name, strlen (m->name)) == 0;
  return strcmp (name, m->name) == 0;
}

/* moat's host veth names: "mt" and 13 hex digits (names.h). */
static bool
may_be_moat_port (const struct iface_match *m)
{
  static const char pattern[] = "mt";
  size_t len = strlen (m->name);

  if (len > 15 || (!m->prefix && len != 15))
    return false;
  for (size_t i = 0; i < len; i++)
    {
      char ch = m->name[i];

      if (i < 2 ? ch != pattern[i] : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
        return false;
    }
  return true;
}

struct analysis
{
  struct view view;
  char *const *bridges;
  size_t n_bridges;
  struct moat_conflict *out;
  size_t n_out, cap_out;
};

static bool
names_a_bridge (const struct analysis *a, const struct iface_match *m)
{
  for (size_t b = 0; b < a->n_bridges; b++)
    if (iface_names (m, a->bridges[b]))
      return true;
  return false;
}

/* Could traffic of moat's pass this interface match? */
static bool
may_be_moat (const struct analysis *a, uint32_t family, const struct iface_match *m)
{
  bool port_key = m->key == IFK_IIFNAME || m->key == IFK_OIFNAME;

  if (family == NFPROTO_BRIDGE)
    return port_key ? may_be_moat_port (m) : names_a_bridge (a, m);
  return port_key ? names_a_bridge (a, m) : true;
}

/* The rule matches interfaces by name, none of them moat's. */
static bool
pinned_elsewhere (const struct analysis *a, uint32_t family, const struct rule_view *r)
{
  if (r->n_ifaces == 0)
    return false;
  for (size_t i = 0; i < r->n_ifaces; i++)
    if (may_be_moat (a, family, &r->ifaces[i]))
      return false;
  return true;
}

static bool
unconditional (const struct rule_view *r)
{
  return r->n_ifaces == 0 && !r->other && !r->ct_invalid;
}

/* The direction an interface match accepts in this family, or 0. */
static unsigned
iface_direction (uint32_t family, enum iface_key key)
{
  if (family == NFPROTO_BRIDGE)
    return key == IFK_BRI_IIFNAME ? DIR_IN : key == IFK_BRI_OIFNAME ? DIR_OUT : 0;
  return key == IFK_IIFNAME ? DIR_IN : key == IFK_OIFNAME ? DIR_OUT : 0;
}

/* An accept rule adds what it lets through to `cov` (per bridge). */
static void
cover (const struct analysis *a, uint32_t family, const struct rule_view *r, unsigned *cov)
{
  unsigned dir;

  if (r->verdict != VERDICT_ACCEPT || r->other || r->ct_invalid)
    return;
  if (r->n_ifaces == 0)
    {
      for (size_t b = 0; b < a->n_bridges; b++)
        cov[b] = DIR_IN | DIR_OUT;
      return;
    }
  if (r->n_ifaces != 1 || !(dir = iface_direction (family, r->ifaces[0].key)))
    return;
  for (size_t b = 0; b < a->n_bridges; b++)
    if (iface_names (&r->ifaces[0], a->bridges[b]))
      cov[b] |= dir;
}

/* The directions some bridge still lacks. */
static unsigned
missing (const struct analysis *a, const unsigned *cov, unsigned need)
{
  unsigned m = 0;

  for (size_t b = 0; b < a->n_bridges; b++)
    m |= need & ~cov[b];
  return m;
}

/* --- explanations --------------------------------------------------------- */

static bool
is_one_of (const char *s, const char *const *list)
{
  for (; *list; list++)
    if (strcmp (s, *list) == 0)
      return true;
  return false;
}

/* A base chain iptables-nft, arptables-nft or ebtables-nft made (a
 * built-in chain of one of their tables): the fix is said in their words. */
static bool
xtables_managed (const struct chain_view *base)
{
  static const char *const ip_tables[] = { "filter", "nat", "mangle", "raw", "security", NULL };
  static const char *const eb_tables[] = { "filter", "nat", "broute", NULL };
  static const char *const builtin[]
      = { "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING", "BROUTING", NULL };

  if (!is_one_of (base->name, builtin))
    return false;
  switch (base->family)
    {
    case NFPROTO_IPV4:
      return is_one_of (base->table, ip_tables);
    case NFPROTO_ARP:
      return strcmp (base->table, "filter") == 0;
    case NFPROTO_BRIDGE:
      return is_one_of (base->table, eb_tables);
    default:
      return false;
    }
}

/* docker's FORWARD, whose first rule jumps to DOCKER-USER whatever the
 * packet: the place docker leaves to the host's own rules, where
 * `moatctl docker-user` accepts the bridges (ctl/dockeruser.h). */
static bool
docker_forward (const struct chain_view *base)
{
  const struct rule_view *first = base->n_rules ? &base->rules[0] : NULL;

  return base->family == NFPROTO_IPV4 && strcmp (base->table, "filter") == 0
         && strcmp (base->name, "FORWARD") == 0 && first && first->verdict == VERDICT_JUMP
         && first->target && strcmp (first->target, "DOCKER-USER") == 0 && first->n_ifaces == 0
         && !first->other && !first->ct_invalid;
}

/* One command that accepts `bridge` in direction `dir` at the top of
 * the base chain. */
static void
write_fix (FILE *f, const struct chain_view *base, const char *bridge, unsigned dir)
{
  bool in = dir == DIR_IN;

  if (!xtables_managed (base))
    {
      fprintf (f, "nft insert rule %s %s %s %s \"%s\" accept", family_name (base->family),
               base->table, base->name,
               base->family == NFPROTO_BRIDGE ? (in ? "meta ibrname" : "meta obrname")
                                              : (in ? "iifname" : "oifname"),
               bridge);
      return;
    }
  fputs (base->family == NFPROTO_IPV4  ? "iptables "
         : base->family == NFPROTO_ARP ? "arptables "
                                       : "ebtables ",
         f);
  if (strcmp (base->table, "filter") != 0)
    fprintf (f, "-t %s ", base->table);
  if (base->family == NFPROTO_BRIDGE)
    fprintf (f, "-I %s --logical-%s %s -j ACCEPT", base->name, in ? "in" : "out", bridge);
  else
    fprintf (f, "-I %s %s %s -j ACCEPT", docker_forward (base) ? "DOCKER-USER" : base->name,
             in ? "-i" : "-o", bridge);
}

/* Every command needed to accept what `cov` still lacks of `need`. */
static void
write_fixes (FILE *f, const struct analysis *a, const struct chain_view *base, const unsigned *cov,
             unsigned need)
{
  bool first = true;

  if (docker_forward (base))
    {
      fputs ("moatctl docker-user add", f);
      for (size_t b = 0; b < a->n_bridges; b++)
        if (need & ~cov[b])
          fprintf (f, " %s", a->bridges[b]);
      fputs (" (", f);
    }
  for (size_t b = 0; b < a->n_bridges; b++)
    for (unsigned dir = DIR_IN; dir <= DIR_OUT; dir <<= 1)
      if ((need & dir) && !(cov[b] & dir))
        {
          fputs (first ? "" : "; ", f);
          write_fix (f, base, a->bridges[b], dir);
          first = false;
        }
  if (docker_forward (base))
    fputs (")", f);
}

static int
conflict_add (struct analysis *a, const struct chain_view *chain, uint64_t handle,
              const struct hook_info *h, char *what)
{
  struct moat_conflict *c;

  if (a->n_out == a->cap_out)
    {
      size_t cap = a->cap_out ? 2 * a->cap_out : 8;
      struct moat_conflict *bigger = realloc (a->out, cap * sizeof (*bigger));

      if (!bigger)
        {
          free (what);
          return -1;
        }
      a->out = bigger;
      a->cap_out = cap;
    }
  c = &a->out[a->n_out];
  c->family = strdup (family_name (chain->family));
  c->table = strdup (chain->table);
  c->chain = strdup (chain->name);
  c->handle = handle;
  c->hook = strdup (h->name);
  c->what = what;
  a->n_out++;
  if (!c->family || !c->table || !c->chain || !c->hook || !c->what)
    return -1;
  return 0;
}

/* Closes the stream and hands its text out, NULL on failure. */
static char *
stream_text (FILE *f, char **buf)
{
  bool failed = ferror (f);

  if (fclose (f) != 0 || failed)
    {
      free (*buf);
      *buf = NULL;
    }
  return *buf;
}

static int
report_policy (struct analysis *a, const struct chain_view *base, const struct hook_info *h,
               const unsigned *cov)
{
  unsigned lacking = missing (a, cov, h->need);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);

  if (!f)
    return -1;
  fprintf (f, "table %s %s chain %s (hook %s, policy drop): %s; accept moat's bridges there: ",
           family_name (base->family), base->table, base->name, h->name,
           h->effect ? h->effect : forward_effect (lacking));
  write_fixes (f, a, base, cov, h->need);
  return conflict_add (a, base, 0, h, stream_text (f, &buf));
}

static int
report_rule (struct analysis *a, const struct chain_view *base, const struct hook_info *h,
             const struct chain_view *chain, const struct rule_view *r, const unsigned *cov)
{
  bool reject = r->verdict == VERDICT_REJECT;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);

  if (!f)
    return -1;
  fprintf (f, "table %s %s chain %s handle %llu (", family_name (chain->family), chain->table,
           chain->name, (unsigned long long)r->handle);
  if (chain != base)
    fprintf (f, "jumped to from chain %s, ", base->name);
  fprintf (f,
           "hook %s): this %s rule may %s %s, which moat accepts; pin it to other interfaces, or "
           "accept moat's bridges before it: ",
           h->name, reject ? "reject" : "drop", reject ? "reject" : "drop", h->noun);
  write_fixes (f, a, base, cov, h->need);
  return conflict_add (a, chain, r->handle, h, stream_text (f, &buf));
}

/* --- the walk ------------------------------------------------------------- */

static bool
may_refuse (const struct analysis *a, uint32_t family, const struct rule_view *r)
{
  if (r->verdict != VERDICT_DROP && r->verdict != VERDICT_REJECT)
    return false;
  if (r->ct_invalid && !r->other)
    return false;
  return !pinned_elsewhere (a, family, r);
}

/* Walks `chain`'s rules in order as seen from `base`, updating `cov` and
 * reporting what may refuse moat's traffic; with `follow`, also walks the
 * chains its rules jump or go to (those do not follow further). */
static int
walk_chain (struct analysis *a, const struct chain_view *base, const struct hook_info *h,
            struct chain_view *chain, unsigned *cov, bool follow)
{
  for (size_t i = 0; i < chain->n_rules; i++)
    {
      struct rule_view *r = &chain->rules[i];
      struct chain_view *target;

      cover (a, chain->family, r, cov);
      if (!r->reported && may_refuse (a, chain->family, r) && missing (a, cov, h->need))
        {
          r->reported = true;
          if (report_rule (a, base, h, chain, r, cov) < 0)
            return -1;
        }
      if (!follow || (r->verdict != VERDICT_JUMP && r->verdict != VERDICT_GOTO)
          || pinned_elsewhere (a, chain->family, r)
          || !(target = view_find (&a->view, chain->family, chain->table, r->target))
          || target->base)
        continue;
      {
        _cleanup_free_ unsigned *sub = malloc (a->n_bridges * sizeof (*sub));

        if (!sub)
          return -1;
        memcpy (sub, cov, a->n_bridges * sizeof (*sub));
        if (walk_chain (a, base, h, target, sub, false) < 0)
          return -1;
        /* What an unconditional jump's chain accepts, the rest of the
         * base chain never sees (docker's DOCKER-USER). */
        if (unconditional (r))
          memcpy (cov, sub, a->n_bridges * sizeof (*sub));
      }
    }
  return 0;
}

static int
check_base_chain (struct analysis *a, struct chain_view *base, const struct hook_info *h)
{
  _cleanup_free_ unsigned *cov = calloc (a->n_bridges, sizeof (*cov));

  if (!cov)
    return -1;
  if (walk_chain (a, base, h, base, cov, true) < 0)
    return -1;
  if (base->policy == NF_DROP && missing (a, cov, h->need))
    return report_policy (a, base, h, cov);
  return 0;
}

static int
analyze (struct analysis *a)
{
  for (size_t i = 0; i < a->view.n; i++)
    {
      struct chain_view *c = &a->view.chains[i];
      const struct hook_info *h;

      if (!c->base || is_moat_table (c->family, c->table)
          || !(h = hook_info_find (c->family, c->hook)))
        continue;
      if (check_base_chain (a, c, h) < 0)
        return -1;
    }
  return 0;
}

void
moat_conflicts_free (struct moat_conflict *c, size_t n)
{
  if (!c)
    return;
  for (size_t i = 0; i < n; i++)
    {
      free (c[i].family);
      free (c[i].table);
      free (c[i].chain);
      free (c[i].hook);
      free (c[i].what);
    }
  free (c);
}

static int
check_bridges (char *const *bridges, size_t *ret_n, moat_err_t *err)
{
  size_t n = 0;

  for (; bridges && bridges[n]; n++)
    if (bridges[n][0] == '\0' || strlen (bridges[n]) >= IFNAMSIZ)
      return moat_error (err, MOAT_E_CONFIG, 0, "bridge \"%s\": not an interface name", bridges[n]);
  *ret_n = n;
  return 0;
}

int
moat_foreign_analyze (const struct nftnl_chain_list *chains, const struct nftnl_rule_list *rules,
                      char *const *bridges, struct moat_conflict **ret, size_t *ret_n,
                      moat_err_t *err)
{
  struct analysis a = { .bridges = bridges };

  if (check_bridges (bridges, &a.n_bridges, err) < 0)
    return -1;
  if (a.n_bridges
      && (view_add_chains (&a.view, chains) < 0 || view_add_rules (&a.view, rules) < 0
          || analyze (&a) < 0))
    {
      view_free (&a.view);
      moat_conflicts_free (a.out, a.n_out);
      return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: foreign rules");
    }
  view_free (&a.view);
  *ret = a.out;
  *ret_n = a.n_out;
  return 0;
}

/* --- the dumps ------------------------------------------------------------ */

struct dump
{
  struct nftnl_chain_list *chains;
  struct nftnl_rule_list *rules;
  int genid;    /* the ruleset generation of the first message, -1 before */
  bool changed; /* a later message came from another generation */
  bool nomem;
};

/* Every dump message carries the ruleset's generation (its low 16 bits):
 * chains and rules from two generations may not fit together. */
static void
note_generation (struct dump *d, const struct nlmsghdr *nlh)
{
  const struct nfgenmsg *g = mnl_nlmsg_get_payload (nlh);
  int id = ntohs (g->res_id);

  if (d->genid < 0)
    d->genid = id;
  else if (d->genid != id)
    d->changed = true;
}

static int
on_chain (const struct nlmsghdr *nlh, void *data)
{
  struct dump *d = data;
  struct nftnl_chain *c = nftnl_chain_alloc ();

  note_generation (d, nlh);
  if (!c || nftnl_chain_nlmsg_parse (nlh, c) < 0)
    {
      if (c)
        nftnl_chain_free (c);
      d->nomem = true;
      return MNL_CB_ERROR;
    }
  nftnl_chain_list_add_tail (c, d->chains);
  return MNL_CB_OK;
}

static int
on_rule (const struct nlmsghdr *nlh, void *data)
{
  struct dump *d = data;
  struct nftnl_rule *r = nftnl_rule_alloc ();

  note_generation (d, nlh);
  if (!r || nftnl_rule_nlmsg_parse (nlh, r) < 0)
    {
      if (r)
        nftnl_rule_free (r);
      d->nomem = true;
      return MNL_CB_ERROR;
    }
  nftnl_rule_list_add_tail (r, d->rules);
  return MNL_CB_OK;
}

/* A dump the kernel marks interrupted (the ruleset changed meanwhile) is
 * still read to its end, so the socket is left clean and a last attempt
 * has something whole to look at; d->changed says it happened. (libmnl
 * would stop at the first such message.) */
static void
note_interrupted (void *buf, size_t len, void *data)
{
  struct dump *d = data;
  struct nlmsghdr *nlh = buf;
  int rest = (int)len;

  for (; mnl_nlmsg_ok (nlh, rest); nlh = mnl_nlmsg_next (nlh, &rest))
    if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
      {
        nlh->nlmsg_flags &= ~NLM_F_DUMP_INTR;
        d->changed = true;
      }
}

/* One dump of every family's chains or rules. */
static int
dump_all (struct mnl_socket *nl, uint16_t msg_type, mnl_cb_t cb, struct dump *d, uint32_t seq,
          const char *what, moat_err_t *err)
{
  _cleanup_free_ char *buf = malloc (RECV_BUF_SIZE);
  enum moat_nfnl_failure where;
  struct nlmsghdr *nlh;

  if (!buf)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: cannot list %s", what);
  nlh = nftnl_nlmsg_build_hdr (buf, msg_type, NFPROTO_UNSPEC, NLM_F_DUMP, seq);
  if (moat_nfnl_talk (nl, nlh, buf, RECV_BUF_SIZE, cb, d, note_interrupted, &where) == 0)
    return 0;
  return moat_error (err, MOAT_E_NFT, where == MOAT_NFNL_REPLY && d->nomem ? ENOMEM : errno,
                     "nft: cannot list %s", what);
}

static int
read_ruleset (struct mnl_socket *nl, uint32_t *seq, struct nftnl_chain_list *chains,
              struct nftnl_rule_list *rules, bool *ret_changed, moat_err_t *err)
{
  struct dump d = { .chains = chains, .rules = rules, .genid = -1 };

  if (dump_all (nl, NFT_MSG_GETCHAIN, on_chain, &d, (*seq)++, "chains", err) < 0
      || dump_all (nl, NFT_MSG_GETRULE, on_rule, &d, (*seq)++, "rules", err) < 0)
    return -1;
  *ret_changed = d.changed;
  return 0;
}

int
moat_foreign_conflicts (char *const *bridges, struct moat_conflict **ret, size_t *ret_n,
                        moat_err_t *err)
{
  _cleanup_ (mnl_socket_closep) struct mnl_socket *nl = NULL;
  size_t n_bridges;
  uint32_t seq = 1;

  if (check_bridges (bridges, &n_bridges, err) < 0)
    return -1;
  if (n_bridges == 0)
    {
      *ret = NULL;
      *ret_n = 0;
      return 0;
    }
  if (moat_nfnl_open (&nl, "nft", err) < 0)
    return -1;
  for (int attempt = 1;; attempt++)
    {
      _cleanup_ (nftnl_chain_list_freep) struct nftnl_chain_list *chains
          = nftnl_chain_list_alloc ();
      _cleanup_ (nftnl_rule_list_freep) struct nftnl_rule_list *rules = nftnl_rule_list_alloc ();
      bool changed = false;

      if (!chains || !rules)
        return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: cannot list the ruleset");
      if (read_ruleset (nl, &seq, chains, rules, &changed, err) < 0)
        return -1;
      /* A ruleset that never holds still (a busy host) is judged on the
       * last read: only what changed during it may be off. */
      if (!changed || attempt == DUMP_ATTEMPTS)
        return moat_foreign_analyze (chains, rules, bridges, ret, ret_n, err);
      nanosleep (&(struct timespec){ .tv_nsec = attempt * 10 * 1000 * 1000L }, NULL);
    }
}
