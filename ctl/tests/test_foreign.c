/* SPDX-License-Identifier: Apache-2.0 */
/* Foreign rules that override moat (foreign.h). Two halves:
 *
 * - the analysis, on chains and rules built in memory with libnftnl the way
 *   the kernel's dumps parse (no root);
 * - the whole thing against the kernel, each test in a network namespace of
 *   its own (unshare(CLONE_NEWNET): an empty, private ruleset), filled with
 *   `nft -f -` and iptables-nft. These need root, nft and iptables (CI runs
 *   the unit tests as root): without them they fail, they never skip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter_arp.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_conntrack.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "../foreign.h"

/* --- building a ruleset in memory ------------------------------------------ */

struct ruleset
{
  struct nftnl_chain_list *chains;
  struct nftnl_rule_list *rules;
};

#define NO_HOOK UINT32_MAX

static int
ruleset_setup (void **state)
{
  struct ruleset *rs = calloc (1, sizeof (*rs));

  assert_non_null (rs);
  rs->chains = nftnl_chain_list_alloc ();
  rs->rules = nftnl_rule_list_alloc ();
  assert_non_null (rs->chains);
  assert_non_null (rs->rules);
  *state = rs;
  return 0;
}

static int
ruleset_teardown (void **state)
{
  struct ruleset *rs = *state;

  nftnl_chain_list_free (rs->chains);
  nftnl_rule_list_free (rs->rules);
  free (rs);
  return 0;
}

/* A chain; hook NO_HOOK makes a regular one. */
static void
add_chain (struct ruleset *rs, uint32_t family, const char *table, const char *name, uint32_t hook,
           uint32_t policy)
{
  struct nftnl_chain *c = nftnl_chain_alloc ();

  assert_non_null (c);
  nftnl_chain_set_u32 (c, NFTNL_CHAIN_FAMILY, family);
  assert_int_equal (nftnl_chain_set_str (c, NFTNL_CHAIN_TABLE, table), 0);
  assert_int_equal (nftnl_chain_set_str (c, NFTNL_CHAIN_NAME, name), 0);
  if (hook != NO_HOOK)
    {
      nftnl_chain_set_u32 (c, NFTNL_CHAIN_HOOKNUM, hook);
      nftnl_chain_set_u32 (c, NFTNL_CHAIN_PRIO, 0);
      nftnl_chain_set_u32 (c, NFTNL_CHAIN_POLICY, policy);
      assert_int_equal (nftnl_chain_set_str (c, NFTNL_CHAIN_TYPE, "filter"), 0);
    }
  nftnl_chain_list_add_tail (c, rs->chains);
}

static struct nftnl_rule *
add_rule (struct ruleset *rs, uint32_t family, const char *table, const char *chain,
          uint64_t handle)
{
  struct nftnl_rule *r = nftnl_rule_alloc ();

  assert_non_null (r);
  nftnl_rule_set_u32 (r, NFTNL_RULE_FAMILY, family);
  assert_int_equal (nftnl_rule_set_str (r, NFTNL_RULE_TABLE, table), 0);
  assert_int_equal (nftnl_rule_set_str (r, NFTNL_RULE_CHAIN, chain), 0);
  nftnl_rule_set_u64 (r, NFTNL_RULE_HANDLE, handle);
  nftnl_rule_list_add_tail (r, rs->rules);
  return r;
}

static struct nftnl_expr *
expr (struct nftnl_rule *r, const char *name)
{
  struct nftnl_expr *e = nftnl_expr_alloc (name);

  assert_non_null (e);
  nftnl_rule_add_expr (r, e);
  return e;
}

static void
meta_load (struct nftnl_rule *r, uint32_t key)
{
  struct nftnl_expr *e = expr (r, "meta");

  nftnl_expr_set_u32 (e, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_META_DREG, NFT_REG_1);
}

static void
cmp (struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
  struct nftnl_expr *e = expr (r, "cmp");

  nftnl_expr_set_u32 (e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_CMP_OP, op);
  nftnl_expr_set (e, NFTNL_EXPR_CMP_DATA, data, len);
}

/* iifname "name" as nft writes it (16 bytes, NUL padded); with `prefix`,
 * "name*" (only the name's bytes). */
static void
iface (struct nftnl_rule *r, uint32_t key, uint32_t op, const char *name, bool prefix)
{
  char buf[IFNAMSIZ] = { 0 };

  strncpy (buf, name, sizeof (buf) - 1);
  meta_load (r, key);
  cmp (r, op, buf, prefix ? (uint32_t)strlen (name) : IFNAMSIZ);
}

static void
iif (struct nftnl_rule *r, const char *name)
{
  iface (r, NFT_META_IIFNAME, NFT_CMP_EQ, name, false);
}

static void
oif (struct nftnl_rule *r, const char *name)
{
  iface (r, NFT_META_OIFNAME, NFT_CMP_EQ, name, false);
}

/* meta l4proto tcp: a match the analysis does not model. */
static void
l4proto_tcp (struct nftnl_rule *r)
{
  uint8_t tcp = 6;

  meta_load (r, NFT_META_L4PROTO);
  cmp (r, NFT_CMP_EQ, &tcp, sizeof (tcp));
}

/* tcp dport 22 (payload + cmp). */
static void
dport_22 (struct nftnl_rule *r)
{
  struct nftnl_expr *e = expr (r, "payload");
  uint16_t port = htons (22);

  nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_OFFSET, 2);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_LEN, 2);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
  cmp (r, NFT_CMP_EQ, &port, sizeof (port));
}

/* ct state invalid, as nft writes it. */
static void
ct_invalid (struct nftnl_rule *r)
{
  struct nftnl_expr *e = expr (r, "ct");
  uint32_t mask = NF_CT_STATE_INVALID_BIT, zero = 0;

  nftnl_expr_set_u32 (e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
  e = expr (r, "bitwise");
  nftnl_expr_set_u32 (e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_BITWISE_LEN, sizeof (mask));
  nftnl_expr_set (e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof (mask));
  nftnl_expr_set (e, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof (zero));
  cmp (r, NFT_CMP_NEQ, &zero, sizeof (zero));
}

/* iptables-nft's -m conntrack --ctstate STATES (an xtables match). */
static void
xt_ctstate (struct nftnl_rule *r, uint16_t states)
{
  struct nftnl_expr *e = expr (r, "match");
  struct xt_conntrack_mtinfo3 *info = calloc (1, sizeof (*info)); /* the expression owns it */

  assert_non_null (info);
  info->match_flags = XT_CONNTRACK_STATE | XT_CONNTRACK_STATE_ALIAS;
  info->state_mask = states;
  assert_int_equal (nftnl_expr_set_str (e, NFTNL_EXPR_MT_NAME, "conntrack"), 0);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_MT_REV, 3);
  nftnl_expr_set (e, NFTNL_EXPR_MT_INFO, info, sizeof (*info));
}

static void
counter (struct nftnl_rule *r)
{
  expr (r, "counter");
}

static void
verdict (struct nftnl_rule *r, int32_t v, const char *chain)
{
  struct nftnl_expr *e = expr (r, "immediate");

  nftnl_expr_set_u32 (e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)v);
  if (chain)
    assert_int_equal (nftnl_expr_set_str (e, NFTNL_EXPR_IMM_CHAIN, chain), 0);
}

static void
reject (struct nftnl_rule *r)
{
  struct nftnl_expr *e = expr (r, "reject");

  nftnl_expr_set_u32 (e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMPX_UNREACH);
  nftnl_expr_set_u8 (e, NFTNL_EXPR_REJECT_CODE, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
}

static void
xt_target (struct nftnl_rule *r, const char *name)
{
  struct nftnl_expr *e = expr (r, "target");

  assert_int_equal (nftnl_expr_set_str (e, NFTNL_EXPR_TG_NAME, name), 0);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_TG_REV, 0);
  nftnl_expr_set (e, NFTNL_EXPR_TG_INFO, calloc (1, 8), 8);
}

/* iifname vmap @m (the map's verdicts are not read). */
static void
iif_vmap (struct nftnl_rule *r)
{
  struct nftnl_expr *e;

  meta_load (r, NFT_META_IIFNAME);
  e = expr (r, "lookup");
  nftnl_expr_set_u32 (e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
  assert_int_equal (nftnl_expr_set_str (e, NFTNL_EXPR_LOOKUP_SET, "m"), 0);
}

/* --- results ---------------------------------------------------------------- */

struct found
{
  struct moat_conflict *c;
  size_t n;
};

static void
found_free (struct found *f)
{
  moat_conflicts_free (f->c, f->n);
  f->c = NULL;
  f->n = 0;
}

static void
print_found (const struct found *f)
{
  for (size_t i = 0; i < f->n; i++)
    print_message ("# %zu: %s\n", i, f->c[i].what);
}

static struct found
analyze (struct ruleset *rs, char *const *bridges)
{
  struct found f = { 0 };
  moat_err_t err = { 0 };

  if (moat_foreign_analyze (rs->chains, rs->rules, bridges, &f.c, &f.n, &err) < 0)
    fail_msg ("moat_foreign_analyze: %s", err.msg);
  print_found (&f);
  return f;
}

static char *const moat0[] = { "moat0", NULL };

static void
assert_conflict (const struct moat_conflict *c, const char *family, const char *table,
                 const char *chain, uint64_t handle, const char *hook, const char *what)
{
  assert_string_equal (c->family, family);
  assert_string_equal (c->table, table);
  assert_string_equal (c->chain, chain);
  assert_int_equal (c->handle, handle);
  assert_string_equal (c->hook, hook);
  if (what)
    assert_string_equal (c->what, what);
}

#define IPT_FORWARD_DROP                                                                           \
  "table ip filter chain FORWARD (hook forward, policy drop): drops every flow of moat's "         \
  "containers through the host (between them, and to and from the outside) that no rule of the "   \
  "chain accepts first; accept moat's bridges there: iptables -I FORWARD -i moat0 -j ACCEPT; "     \
  "iptables -I FORWARD -o moat0 -j ACCEPT"

/* --- the analysis ------------------------------------------------------------ */

static void
test_policy_drop (void **state)
{
  struct ruleset *rs = *state;
  struct found f;

  add_chain (rs, NFPROTO_IPV4, "filter", "FORWARD", NF_INET_FORWARD, NF_DROP);
  add_chain (rs, NFPROTO_IPV4, "filter", "INPUT", NF_INET_LOCAL_IN, NF_ACCEPT);
  f = analyze (rs, moat0);
  assert_int_equal (f.n, 1);
  assert_conflict (&f.c[0], "ip", "filter", "FORWARD", 0, "forward", IPT_FORWARD_DROP);
  found_free (&f);
}

/* The ip6 family: judged only for an IPv6 flow (moat_foreign_conflicts6),
 * with ip6tables' fix. */
static void
test_policy_drop_ip6 (void **state)
{
  struct ruleset *rs = *state;
  struct found f = { 0 };
  moat_err_t err = { 0 };

  add_chain (rs, NFPROTO_IPV6, "filter", "FORWARD", NF_INET_FORWARD, NF_DROP);
  f = analyze (rs, moat0);
  assert_int_equal (f.n, 0);
  found_free (&f);
  assert_int_equal (
      moat_foreign_analyze_family (rs->chains, rs->rules, moat0, true, &f.c, &f.n, &err), 0);
  print_found (&f);
  assert_int_equal (f.n, 1);
  assert_conflict (&f.c[0], "ip6", "filter", "FORWARD", 0, "forward", NULL);
  assert_non_null (strstr (f.c[0].what, "ip6tables -I FORWARD -i moat0 -j ACCEPT"));
  found_free (&f);
}

static void
test_policy_drop_bridge_accepted (void **state)
{
  struct ruleset *rs = *state;
  struct nftnl_rule *r;
  struct found f;

  add_chain (rs, NFPROTO_INET, "fw", "filter_fwd", NF_INET_FORWARD, NF_DROP);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 2);
  iif (r, "moat0");
  counter (r);
  verdict (r, NF_ACCEPT, NULL);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 3);
  iface (r, NFT_META_OIFNAME, NFT_CMP_EQ, "moat", true); /* oifname "moat*" */
  verdict (r, NF_ACCEPT, NULL);
  f = analyze (rs, moat0);
  assert_int_equal (f.n, 0);
  found_free (&f);
}

/* Only the way in accepted: what comes from the outside is still dropped. */
static void
test_policy_drop_half_accepted (void **state)
{
  struct ruleset *rs = *state;
  struct nftnl_rule *r;
  struct found f;

  add_chain (rs, NFPROTO_INET, "fw", "filter_fwd", NF_INET_FORWARD, NF_DROP);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 2);
  iif (r, "moat0");
  verdict (r, NF_ACCEPT, NULL);
  f = analyze (rs, moat0);
  assert_int_equal (f.n, 1);
  assert_conflict (&f.c[0], "inet", "fw", "filter_fwd", 0, "forward",
                   "table inet fw chain filter_fwd (hook forward, policy drop): drops what the "
                   "host forwards from the outside to moat's containers (replies to their "
                   "connections, allowed ingress) that no rule of the chain accepts first; accept "
                   "moat's bridges there: nft insert rule inet fw filter_fwd oifname \"moat0\" "
                   "accept");
  found_free (&f);
}

/* An accept with any other match covers nothing; one for another
 * interface neither. */
static void
test_policy_drop_accept_narrower (void **state)
{
  struct ruleset *rs = *state;
  struct nftnl_rule *r;
  struct found f;

  add_chain (rs, NFPROTO_IPV4, "filter", "INPUT", NF_INET_LOCAL_IN, NF_DROP);
  r = add_rule (rs, NFPROTO_IPV4, "filter", "INPUT", 2);
  iif (r, "moat0");
  dport_22 (r);
  verdict (r, NF_ACCEPT, NULL);
  r = add_rule (rs, NFPROTO_IPV4, "filter", "INPUT", 3);
  iif (r, "moat01");
  verdict (r, NF_ACCEPT, NULL);
  r = add_rule (rs, NFPROTO_IPV4, "filter", "INPUT", 4);
  iif (r, "moat0");
  oif (r, "moat0");
  verdict (r, NF_ACCEPT, NULL);
  f = analyze (rs, moat0);
  assert_int_equal (f.n, 1);
  assert_conflict (&f.c[0], "ip", "filter", "INPUT", 0, "input",
                   "table ip filter chain INPUT (hook input, policy drop): drops what moat's "
                   "containers send to the host (allowed host ports, replies to connections the "
                   "host opens to them) that no rule of the chain accepts first; accept moat's "
                   "bridges there: iptables -I INPUT -i moat0 -j ACCEPT");
  found_free (&f);
}

/* A rule without any match accepts everything. */
static void
test_policy_drop_accept_all (void **state)
{
  struct ruleset *rs = *state;
  struct nftnl_rule *r;
  struct found f;

  add_chain (rs, NFPROTO_IPV4, "filter", "FORWARD", NF_INET_FORWARD, NF_DROP);
  r = add_rule (rs, NFPROTO_IPV4, "filter", "FORWARD", 2);
  counter (r);
  verdict (r, NF_ACCEPT, NULL);
  f = analyze (rs, moat0);
  assert_int_equal (f.n, 0);
  found_free (&f);
}

static void
test_drop_rule (void **state)
{
  struct ruleset *rs = *state;
  struct nftnl_rule *r;
  struct found f;

  add_chain (rs, NFPROTO_INET, "fw", "filter_fwd", NF_INET_FORWARD, NF_ACCEPT);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 7);
  dport_22 (r);
  verdict (r, NF_DROP, NULL);
  f = analyze (rs, moat0);
  assert_int_equal (f.n, 1);
  assert_conflict (&f.c[0], "inet", "fw", "filter_fwd", 7, "forward",
                   "table inet fw chain filter_fwd handle 7 (hook forward): this drop rule may "
                   "drop flows of moat's containers through the host, which moat accepts; pin it "
                   "to other interfaces, or accept moat's bridges before it: nft insert rule inet "
                   "fw filter_fwd iifname \"moat0\" accept; nft insert rule inet fw filter_fwd "
                   "oifname \"moat0\" accept");
  found_free (&f);
}

static void
test_reject_rules (void **state)
{
  struct ruleset *rs = *state;
  struct nftnl_rule *r;
  struct found f;

  add_chain (rs, NFPROTO_INET, "firewalld", "filter_INPUT", NF_INET_LOCAL_IN, NF_ACCEPT);
  r = add_rule (rs, NFPROTO_INET, "firewalld", "filter_INPUT", 3);
  reject (r);
  add_chain (rs, NFPROTO_IPV4, "filter", "FORWARD", NF_INET_FORWARD, NF_ACCEPT);
  r = add_rule (rs, NFPROTO_IPV4, "filter", "FORWARD", 5);
  l4proto_tcp (r);
  counter (r);
  xt_target (r, "REJECT");
  r = add_rule (rs, NFPROTO_IPV4, "filter", "FORWARD", 6);
  xt_target (r, "LOG");
  f = analyze (rs, moat0);
  assert_int_equal (f.n, 2);
  /* in the order family (NFPROTO_INET before NFPROTO_IPV4), table, chain */
  assert_conflict (&f.c[1], "ip", "filter", "FORWARD", 5, "forward", NULL);
  assert_non_null (strstr (f.c[1].what, "): this reject rule may reject flows of moat's"));
  assert_non_null (strstr (f.c[1].what, "iptables -I FORWARD -i moat0 -j ACCEPT"));
  assert_conflict (&f.c[0], "inet", "firewalld", "filter_INPUT", 3, "input",
                   "table inet firewalld chain filter_INPUT handle 3 (hook input): this reject "
                   "rule may reject what moat's containers send to the host, which moat accepts; "
                   "pin it to other interfaces, or accept moat's bridges before it: nft insert "
                   "rule inet firewalld filter_INPUT iifname \"moat0\" accept");
  found_free (&f);
}

/* Drops that cannot meet moat's traffic: another interface, ct state
 * invalid, after an accept of the bridge, behind a verdict map. */
static void
test_drop_rules_not_reported (void **state)
{
  struct ruleset *rs = *state;
  struct nftnl_rule *r;
  struct found f;

  add_chain (rs, NFPROTO_INET, "fw", "filter_fwd", NF_INET_FORWARD, NF_ACCEPT);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 2);
  iif (r, "eth9");
  verdict (r, NF_DROP, NULL);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 3);
  iface (r, NFT_META_OIFNAME, NFT_CMP_EQ, "eth", true);
  dport_22 (r);
  verdict (r, NF_DROP, NULL);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 4);
  ct_invalid (r);
  verdict (r, NF_DROP, NULL);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 5);
  xt_ctstate (r, XT_CONNTRACK_STATE_INVALID);
  counter (r);
  verdict (r, NF_DROP, NULL);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 6);
  iif_vmap (r);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 7);
  iif (r, "moat0");
  verdict (r, NF_ACCEPT, NULL);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 8);
  oif (r, "moat0");
  verdict (r, NF_ACCEPT, NULL);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 9);
  verdict (r, NF_DROP, NULL);
  f = analyze (rs, moat0);
  assert_int_equal (f.n, 0);
  found_free (&f);
}

/* Drops that can: an inverted interface match, a bridge named next to
 * another interface, a prefix the bridge starts with, ct states besides
 * invalid. */
static void
test_drop_rules_reported (void **state)
{
  struct ruleset *rs = *state;
  struct nftnl_rule *r;
  struct found f;

  add_chain (rs, NFPROTO_INET, "fw", "filter_fwd", NF_INET_FORWARD, NF_ACCEPT);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 2);
  iface (r, NFT_META_IIFNAME, NFT_CMP_NEQ, "eth9", false);
  verdict (r, NF_DROP, NULL);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 3);
  iif (r, "moat0");
  oif (r, "eth0");
  verdict (r, NF_DROP, NULL);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 4);
  iface (r, NFT_META_IIFNAME, NFT_CMP_EQ, "mo", true);
  verdict (r, NF_DROP, NULL);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 5);
  xt_ctstate (r, XT_CONNTRACK_STATE_INVALID | XT_CONNTRACK_STATE_BIT (IP_CT_NEW));
  verdict (r, NF_DROP, NULL);
  r = add_rule (rs, NFPROTO_INET, "fw", "filter_fwd", 6);
  ct_invalid (r);
  dport_22 (r);
  verdict (r, NF_DROP, NULL);
  f = analyze (rs, moat0);
  assert_int_equal (f.n, 5);
  for (size_t i = 0; i < f.n; i++)
    assert_conflict (&f.c[i], "inet", "fw", "filter_fwd", 2 + i, "forward", NULL);
  found_free (&f);
}

/* A drop before the accept is still reported; after it, not. */
static void
test_rule_order (void **state)
{
  struct ruleset *rs = *state;
  struct nftnl_rule *r;
  struct found f;

  add_chain (rs, NFPROTO_IPV4, "filter", "INPUT", NF_INET_LOCAL_IN, NF_DROP);
  r = add_rule (rs, NFPROTO_IPV4, "filter", "INPUT", 2);
  dport_22 (r);
  verdict (r, NF_DROP, NULL);
  r = add_rule (rs, NFPROTO_IPV4, "filter", "INPUT", 3);
  iface (r, NFT_META_IIFNAME, NFT_CMP_EQ, "moat", true); /* iptables -i moat+ */
  verdict (r, NF_ACCEPT, NULL);
  r = add_rule (rs, NFPROTO_IPV4, "filter", "INPUT", 4);
  dport_22 (r);
  verdict (r, NF_DROP, NULL);
  f = analyze (rs, moat0);
  assert_int_equal (f.n, 1);
  assert_conflict (&f.c[0], "ip", "filter", "INPUT", 2, "input", NULL);
  found_free (&f);
}

/* One level of jumps is followed: its drops are reported once, its
 * accepts count when the jump has no condition (docker's DOCKER-USER). */
static void
test_jumps (void **state)
{
  struct ruleset *rs = *state;
  struct nftnl_rule *r;
  struct found f;

  add_chain (rs, NFPROTO_IPV4, "filter", "FORWARD", NF_INET_FORWARD, NF_DROP);
  add_chain (rs, NFPROTO_IPV4, "filter", "OUTPUT", NF_INET_LOCAL_OUT, NF_ACCEPT);
  add_chain (rs, NFPROTO_IPV4, "filter", "DOCKER-USER", NO_HOOK, 0);
  add_chain (rs, NFPROTO_IPV4, "filter", "SUB", NO_HOOK, 0);
  add_chain (rs, NFPROTO_IPV4, "filter", "DEEP", NO_HOOK, 0);
  add_chain (rs, NFPROTO_IPV4, "filter", "ETH9", NO_HOOK, 0);
  r = add_rule (rs, NFPROTO_IPV4, "filter", "FORWARD", 2);
  iif (r, "eth9");
  verdict (r, NFT_JUMP, "ETH9");
  r = add_rule (rs, NFPROTO_IPV4, "filter", "FORWARD", 3);
  dport_22 (r);
  verdict (r, NFT_JUMP, "SUB");
  r = add_rule (rs, NFPROTO_IPV4, "filter", "FORWARD", 4);
  counter (r);
  verdict (r, NFT_JUMP, "DOCKER-USER");
  r = add_rule (rs, NFPROTO_IPV4, "filter", "OUTPUT", 2);
  verdict (r, NFT_JUMP, "SUB");
  r = add_rule (rs, NFPROTO_IPV4, "filter", "DOCKER-USER", 5);
  iif (r, "moat0");
  verdict (r, NF_ACCEPT, NULL);
  r = add_rule (rs, NFPROTO_IPV4, "filter", "DOCKER-USER", 6);
  oif (r, "moat0");
  verdict (r, NF_ACCEPT, NULL);
  r = add_rule (rs, NFPROTO_IPV4, "filter", "SUB", 7);
  verdict (r, NFT_GOTO, "DEEP");
  r = add_rule (rs, NFPROTO_IPV4, "filter", "SUB", 8);
  reject (r);
  r = add_rule (rs, NFPROTO_IPV4, "filter", "DEEP", 9);
  verdict (r, NF_DROP, NULL);
  r = add_rule (rs, NFPROTO_IPV4, "filter", "ETH9", 10);
  verdict (r, NF_DROP, NULL);
  f = analyze (rs, moat0);
  assert_int_equal (f.n, 1);
  assert_conflict (&f.c[0], "ip", "filter", "SUB", 8, "forward",
                   "table ip filter chain SUB handle 8 (jumped to from chain FORWARD, hook "
                   "forward): this reject rule may reject flows of moat's containers through the "
                   "host, which moat accepts; pin it to other interfaces, or accept moat's bridges "
                   "before it: iptables -I FORWARD -i moat0 -j ACCEPT; iptables -I FORWARD -o "
                   "moat0 -j ACCEPT");
  found_free (&f);
}

/* moat's own tables, hooks moat's traffic does not cross, ip6. */
static void
test_ignored (void **state)
{
  struct ruleset *rs = *state;
  struct nftnl_rule *r;
  struct found f;

  add_chain (rs, NFPROTO_INET, "moat", "forward", NF_INET_FORWARD, NF_DROP);
  r = add_rule (rs, NFPROTO_INET, "moat", "forward", 2);
  verdict (r, NF_DROP, NULL);
  add_chain (rs, NFPROTO_BRIDGE, "moat", "prerouting", NF_INET_PRE_ROUTING, NF_DROP);
  add_chain (rs, NFPROTO_IPV4, "moat", "postrouting", NF_INET_POST_ROUTING, NF_DROP);
  add_chain (rs, NFPROTO_IPV4, "nat", "POSTROUTING", NF_INET_POST_ROUTING, NF_DROP);
  add_chain (rs, NFPROTO_IPV6, "filter", "FORWARD", NF_INET_FORWARD, NF_DROP);
  add_chain (rs, NFPROTO_BRIDGE, "filter", "FORWARD", NF_INET_FORWARD, NF_DROP);
  add_chain (rs, NFPROTO_ARP, "filter", "FORWARD", NF_ARP_FORWARD, NF_DROP);
  add_chain (rs, NFPROTO_INET, "fw", "sub", NO_HOOK, 0);
  r = add_rule (rs, NFPROTO_INET, "fw", "sub", 2);
  verdict (r, NF_DROP, NULL);
  f = analyze (rs, moat0);
  assert_int_equal (f.n, 0);
  found_free (&f);
}

static void
test_bridge_family (void **state)
{
  struct ruleset *rs = *state;
  struct nftnl_rule *r;
  struct found f;

  add_chain (rs, NFPROTO_BRIDGE, "filter", "INPUT", NF_INET_LOCAL_IN, NF_DROP);
  r = add_rule (rs, NFPROTO_BRIDGE, "filter", "INPUT", 2);
  iface (r, NFT_META_BRI_IIFNAME, NFT_CMP_EQ, "moat0", false);
  verdict (r, NF_ACCEPT, NULL);
  add_chain (rs, NFPROTO_BRIDGE, "br", "pre", NF_INET_PRE_ROUTING, NF_ACCEPT);
  r = add_rule (rs, NFPROTO_BRIDGE, "br", "pre", 2);
  iif (r, "veth1"); /* a port, not one of moat's */
  verdict (r, NF_DROP, NULL);
  r = add_rule (rs, NFPROTO_BRIDGE, "br", "pre", 3);
  iif (r, "mt0123456789abc"); /* one of moat's veths */
  verdict (r, NF_DROP, NULL);
  r = add_rule (rs, NFPROTO_BRIDGE, "br", "pre", 4);
  iface (r, NFT_META_BRI_IIFNAME, NFT_CMP_EQ, "br9", false);
  verdict (r, NF_DROP, NULL);
  add_chain (rs, NFPROTO_BRIDGE, "filter", "OUTPUT", NF_INET_LOCAL_OUT, NF_DROP);
  f = analyze (rs, moat0);
  assert_int_equal (f.n, 2);
  assert_conflict (&f.c[0], "bridge", "br", "pre", 3, "prerouting",
                   "table bridge br chain pre handle 3 (hook prerouting): this drop rule may drop "
                   "frames moat's containers send on the bridge, which moat accepts; pin it to "
                   "other interfaces, or accept moat's bridges before it: nft insert rule bridge "
                   "br pre meta ibrname \"moat0\" accept");
  assert_conflict (&f.c[1], "bridge", "filter", "OUTPUT", 0, "output",
                   "table bridge filter chain OUTPUT (hook output, policy drop): drops the frames "
                   "the host sends to moat's containers that no rule of the chain accepts first; "
                   "accept moat's bridges there: ebtables -I OUTPUT --logical-out moat0 -j "
                   "ACCEPT");
  found_free (&f);
}

static void
test_arp_family (void **state)
{
  struct ruleset *rs = *state;
  struct found f;

  add_chain (rs, NFPROTO_ARP, "filter", "INPUT", NF_ARP_IN, NF_DROP);
  add_chain (rs, NFPROTO_ARP, "filter", "OUTPUT", NF_ARP_OUT, NF_ACCEPT);
  f = analyze (rs, moat0);
  assert_int_equal (f.n, 1);
  assert_conflict (&f.c[0], "arp", "filter", "INPUT", 0, "input",
                   "table arp filter chain INPUT (hook input, policy drop): drops the ARP "
                   "requests of moat's containers, which then reach nothing, unless a rule of the "
                   "chain accepts them first; accept moat's bridges there: arptables -I INPUT -i "
                   "moat0 -j ACCEPT");
  found_free (&f);
}

/* Two bridges, one accepted: the fix names the other only. A rule reached
 * from two base chains is reported once. */
static void
test_two_bridges (void **state)
{
  struct ruleset *rs = *state;
  char *const bridges[] = { "moat0", "moat1", NULL };
  struct nftnl_rule *r;
  struct found f;

  add_chain (rs, NFPROTO_IPV4, "mangle", "PREROUTING", NF_INET_PRE_ROUTING, NF_DROP);
  r = add_rule (rs, NFPROTO_IPV4, "mangle", "PREROUTING", 2);
  iif (r, "moat0");
  verdict (r, NF_ACCEPT, NULL);
  r = add_rule (rs, NFPROTO_IPV4, "mangle", "PREROUTING", 3);
  verdict (r, NFT_JUMP, "common");
  add_chain (rs, NFPROTO_IPV4, "mangle", "INPUT", NF_INET_LOCAL_IN, NF_ACCEPT);
  r = add_rule (rs, NFPROTO_IPV4, "mangle", "INPUT", 2);
  verdict (r, NFT_JUMP, "common");
  add_chain (rs, NFPROTO_IPV4, "mangle", "common", NO_HOOK, 0);
  r = add_rule (rs, NFPROTO_IPV4, "mangle", "common", 4);
  l4proto_tcp (r);
  verdict (r, NF_DROP, NULL);
  f = analyze (rs, bridges);
  assert_int_equal (f.n, 2);
  assert_conflict (&f.c[0], "ip", "mangle", "common", 4, "input", NULL);
  assert_non_null (strstr (f.c[0].what, "(jumped to from chain INPUT, hook input)"));
  assert_non_null (strstr (f.c[0].what, ": iptables -t mangle -I INPUT -i moat0 -j ACCEPT; "
                                        "iptables -t mangle -I INPUT -i moat1 -j ACCEPT"));
  assert_conflict (&f.c[1], "ip", "mangle", "PREROUTING", 0, "prerouting",
                   "table ip mangle chain PREROUTING (hook prerouting, policy drop): drops "
                   "everything moat's containers send that no rule of the chain accepts first; "
                   "accept moat's bridges there: iptables -t mangle -I PREROUTING -i moat1 -j "
                   "ACCEPT");
  found_free (&f);
}

static void
test_bridges_argument (void **state)
{
  struct ruleset *rs = *state;
  char *const none[] = { NULL };
  char *const too_long[] = { "moat0", "a-very-long-bridge-name", NULL };
  moat_err_t err = { 0 };
  struct moat_conflict *c = (void *)1;
  size_t n = 99;

  add_chain (rs, NFPROTO_IPV4, "filter", "FORWARD", NF_INET_FORWARD, NF_DROP);
  assert_int_equal (moat_foreign_analyze (rs->chains, rs->rules, none, &c, &n, &err), 0);
  assert_null (c);
  assert_int_equal (n, 0);
  assert_int_equal (moat_foreign_analyze (rs->chains, rs->rules, NULL, &c, &n, &err), 0);
  assert_int_equal (n, 0);
  c = (void *)1;
  n = 99;
  assert_int_equal (moat_foreign_analyze (rs->chains, rs->rules, too_long, &c, &n, &err), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_string_equal (err.msg, "bridge \"a-very-long-bridge-name\": not an interface name");
  assert_ptr_equal (c, (void *)1); /* untouched on failure */
  assert_int_equal (n, 99);
  moat_conflicts_free (NULL, 0);
}

/* --- against the kernel, in a private network namespace --------------------- */

/* Moves this process into a new network namespace: an empty ruleset only
 * this test sees, gone once the next test leaves it. */
static int
private_netns (void **state)
{
  (void)state;
  if (unshare (CLONE_NEWNET) < 0)
    fail_msg ("unshare(CLONE_NEWNET): %s: these tests need root", strerror (errno));
  return 0;
}

static void
sh (const char *cmd)
{
  int status = system (cmd);

  if (status == -1 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    fail_msg ("`%s` failed (status %d)", cmd, status);
}

static void
nft_load (const char *ruleset)
{
  FILE *p = popen ("nft -f -", "w");
  int status;

  assert_non_null (p);
  fputs (ruleset, p);
  status = pclose (p);
  if (status == -1 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    fail_msg ("nft -f - refused:\n%s", ruleset);
}

static struct found
kernel_conflicts (char *const *bridges)
{
  struct found f = { 0 };
  moat_err_t err = { 0 };

  if (moat_foreign_conflicts (bridges, &f.c, &f.n, &err) < 0)
    fail_msg ("moat_foreign_conflicts: %s", err.msg);
  print_found (&f);
  return f;
}

/* The handle nft gives the rule of `chain` whose text starts `rule`. */
static uint64_t
nft_handle (const char *family_table_chain, const char *rule)
{
  char cmd[256], line[512];
  unsigned long long handle = 0;
  FILE *p;

  snprintf (cmd, sizeof (cmd), "nft -a list chain %s 2>/dev/null", family_table_chain);
  p = popen (cmd, "r");
  assert_non_null (p);
  while (fgets (line, sizeof (line), p))
    {
      const char *text = line + strspn (line, " \t");
      const char *mark = strstr (text, "# handle ");

      if (mark && strncmp (text, rule, strlen (rule)) == 0)
        handle = strtoull (mark + strlen ("# handle "), NULL, 10);
    }
  assert_int_equal (pclose (p), 0);
  assert_true (handle > 0);
  return handle;
}

/* (a) */
static void
test_kernel_empty (void **state)
{
  struct found f = kernel_conflicts (moat0);

  (void)state;
  assert_int_equal (f.n, 0);
  found_free (&f);
}

/* (b), (c) */
static void
test_kernel_policy_drop (void **state)
{
  struct found f;

  (void)state;
  nft_load ("table ip filter {\n"
            "  chain FORWARD { type filter hook forward priority 0; policy drop; }\n"
            "}\n");
  f = kernel_conflicts (moat0);
  assert_int_equal (f.n, 1);
  assert_conflict (&f.c[0], "ip", "filter", "FORWARD", 0, "forward", IPT_FORWARD_DROP);
  found_free (&f);

  sh ("nft add rule ip filter FORWARD iifname moat0 accept");
  sh ("nft add rule ip filter FORWARD oifname moat0 accept");
  f = kernel_conflicts (moat0);
  assert_int_equal (f.n, 0);
  found_free (&f);

  /* the accepts are for moat0: moat1 still meets the policy */
  char *const moat1[] = { "moat1", NULL };
  f = kernel_conflicts (moat1);
  assert_int_equal (f.n, 1);
  assert_conflict (&f.c[0], "ip", "filter", "FORWARD", 0, "forward", NULL);
  found_free (&f);
}

/* (d), (g) */
static void
test_kernel_drop_rule (void **state)
{
  struct found f;
  uint64_t handle;
  char what[512];

  (void)state;
  nft_load ("table inet mtf1 {\n"
            "  chain filter_fwd {\n"
            "    type filter hook forward priority 0; policy accept;\n"
            "    iifname \"eth9\" drop\n"
            "    ct state invalid drop\n"
            "    tcp dport 22 drop\n"
            "  }\n"
            "}\n");
  handle = nft_handle ("inet mtf1 filter_fwd", "tcp dport 22 drop");
  f = kernel_conflicts (moat0);
  assert_int_equal (f.n, 1);
  snprintf (what, sizeof (what),
            "table inet mtf1 chain filter_fwd handle %llu (hook forward): this drop rule may "
            "drop flows of moat's containers through the host, which moat accepts; pin it to "
            "other interfaces, or accept moat's bridges before it: nft insert rule inet mtf1 "
            "filter_fwd iifname \"moat0\" accept; nft insert rule inet mtf1 filter_fwd oifname "
            "\"moat0\" accept",
            (unsigned long long)handle);
  assert_conflict (&f.c[0], "inet", "mtf1", "filter_fwd", handle, "forward", what);
  found_free (&f);
}

/* (e), (f), and a jump one level down */
static void
test_kernel_accepts_and_moat (void **state)
{
  struct found f;
  uint64_t handle;

  (void)state;
  nft_load ("table inet mtf2 {\n"
            "  chain input { type filter hook input priority 0; policy accept;\n"
            "    tcp dport 22 accept\n"
            "    iifname \"lo\" accept\n"
            "  }\n"
            "}\n"
            "table inet moat {\n"
            "  chain forward { type filter hook forward priority 0; policy drop;\n"
            "    iifname \"moat0\" drop\n"
            "    drop\n"
            "  }\n"
            "}\n"
            "table bridge moat {\n"
            "  chain prerouting { type filter hook prerouting priority -200; policy drop; }\n"
            "}\n");
  f = kernel_conflicts (moat0);
  assert_int_equal (f.n, 0);
  found_free (&f);

  nft_load ("table ip mtf3 {\n"
            "  chain sub {\n"
            "    meta l4proto udp reject\n"
            "  }\n"
            "  chain input { type filter hook input priority 10; policy accept;\n"
            "    jump sub\n"
            "  }\n"
            "}\n");
  handle = nft_handle ("ip mtf3 sub", "meta l4proto udp reject");
  f = kernel_conflicts (moat0);
  assert_int_equal (f.n, 1);
  assert_conflict (&f.c[0], "ip", "mtf3", "sub", handle, "input", NULL);
  assert_non_null (strstr (f.c[0].what, "(jumped to from chain input, hook input): this reject"));
  found_free (&f);
}

static void
test_kernel_arp (void **state)
{
  struct found f;

  (void)state;
  nft_load ("table arp mtf4 {\n"
            "  chain in { type filter hook input priority 0; policy drop; }\n"
            "}\n");
  f = kernel_conflicts (moat0);
  assert_int_equal (f.n, 1);
  assert_conflict (&f.c[0], "arp", "mtf4", "in", 0, "input", NULL);
  found_free (&f);
  sh ("nft add rule arp mtf4 in iifname moat0 accept");
  f = kernel_conflicts (moat0);
  assert_int_equal (f.n, 0);
  found_free (&f);
}

/* (h) iptables-nft, and the fix the explanation gives */
static void
test_kernel_iptables (void **state)
{
  struct found f;
  uint64_t handle;

  (void)state;
  sh ("iptables-nft -P FORWARD DROP");
  f = kernel_conflicts (moat0);
  assert_int_equal (f.n, 1);
  assert_conflict (&f.c[0], "ip", "filter", "FORWARD", 0, "forward", IPT_FORWARD_DROP);
  found_free (&f);

  sh ("iptables-nft -A FORWARD -m conntrack --ctstate INVALID -j DROP");
  sh ("iptables-nft -A FORWARD -i eth9 -j DROP");
  sh ("iptables-nft -A FORWARD -p tcp --dport 22 -j REJECT");
  handle = nft_handle ("ip filter FORWARD", "tcp dport 22");
  f = kernel_conflicts (moat0);
  assert_int_equal (f.n, 2);
  assert_conflict (&f.c[0], "ip", "filter", "FORWARD", handle, "forward", NULL);
  assert_non_null (strstr (f.c[0].what, "this reject rule may reject"));
  assert_conflict (&f.c[1], "ip", "filter", "FORWARD", 0, "forward", IPT_FORWARD_DROP);
  found_free (&f);

  sh ("iptables-nft -I FORWARD -i moat0 -j ACCEPT");
  sh ("iptables-nft -I FORWARD -o moat0 -j ACCEPT");
  f = kernel_conflicts (moat0);
  assert_int_equal (f.n, 0);
  found_free (&f);
}

/* docker's layout: policy drop, the bridges accepted in DOCKER-USER. */
static void
test_kernel_docker_user (void **state)
{
  struct found f;

  (void)state;
  sh ("iptables-nft -P FORWARD DROP");
  sh ("iptables-nft -N DOCKER-USER");
  sh ("iptables-nft -A FORWARD -j DOCKER-USER");
  sh ("iptables-nft -A DOCKER-USER -i moat+ -j ACCEPT");
  f = kernel_conflicts (moat0);
  assert_int_equal (f.n, 1);
  assert_non_null (strstr (f.c[0].what, "drops what the host forwards from the outside"));
  assert_non_null (
      strstr (f.c[0].what,
              "there: moatctl docker-user add moat0 (iptables -I DOCKER-USER -o moat0 -j ACCEPT)"));
  found_free (&f);
  sh ("iptables-nft -A DOCKER-USER -o moat+ -j ACCEPT");
  f = kernel_conflicts (moat0);
  assert_int_equal (f.n, 0);
  found_free (&f);
}

#define PURE(t) cmocka_unit_test_setup_teardown (t, ruleset_setup, ruleset_teardown)
#define KERNEL(t) cmocka_unit_test_setup (t, private_netns)

int
main (void)
{
  const struct CMUnitTest tests[] = {
    PURE (test_policy_drop),
    PURE (test_policy_drop_ip6),
    PURE (test_policy_drop_bridge_accepted),
    PURE (test_policy_drop_half_accepted),
    PURE (test_policy_drop_accept_narrower),
    PURE (test_policy_drop_accept_all),
    PURE (test_drop_rule),
    PURE (test_reject_rules),
    PURE (test_drop_rules_not_reported),
    PURE (test_drop_rules_reported),
    PURE (test_rule_order),
    PURE (test_jumps),
    PURE (test_ignored),
    PURE (test_bridge_family),
    PURE (test_arp_family),
    PURE (test_two_bridges),
    PURE (test_bridges_argument),
    KERNEL (test_kernel_empty),
    KERNEL (test_kernel_policy_drop),
    KERNEL (test_kernel_drop_rule),
    KERNEL (test_kernel_accepts_and_moat),
    KERNEL (test_kernel_arp),
    KERNEL (test_kernel_iptables),
    KERNEL (test_kernel_docker_user),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
