/* SPDX-License-Identifier: Apache-2.0 */
/* Foreign rules read (foreign-view.h): each rule reduced expression by
 * expression, tracking what each register holds. */
#include "foreign-view.h"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_state.h>
#include <stdlib.h>
#include <string.h>

#include <libnftnl/expr.h>

#include "base/cleanup.h"

DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_chain_list_iter *, nftnl_chain_list_iter_destroy)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_expr_iter *, nftnl_expr_iter_destroy)

/* nftnl_rule_list_iter_destroy takes a const pointer. */
static inline void
rule_list_iter_destroyp (struct nftnl_rule_list_iter **it)
{
  if (*it)
    nftnl_rule_list_iter_destroy (*it);
}

#define MAX_REGS (NFT_REG32_15 + 1)

/* --- one rule, reduced ---------------------------------------------------- */

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

void
foreign_view_free (struct view *v)
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

struct chain_view *
foreign_view_find (const struct view *v, uint32_t family, const char *table, const char *name)
{
  struct chain_view key = { .family = family, .table = table, .name = name };

  if (!table || !name || v->n == 0)
    return NULL;
  return bsearch (&key, v->chains, v->n, sizeof (*v->chains), chain_cmp);
}

int
foreign_view_add_chains (struct view *v, const struct nftnl_chain_list *chains)
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
int
foreign_view_add_rules (struct view *v, const struct nftnl_rule_list *rules)
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
        last = foreign_view_find (v, family, table, chain);
      if (last && chain_add_rule (last, rule) < 0)
        return -1;
    }
  return 0;
}
