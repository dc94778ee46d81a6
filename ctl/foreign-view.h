/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_FOREIGN_VIEW_H
#define MOAT_FOREIGN_VIEW_H

/* The kernel's chains and rules as foreign.c judges them (internal to
 * foreign.c): each rule reduced to its verdict, the interfaces it matches
 * by name and whether it matches anything else; chains indexed by family,
 * table and name. */

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libnftnl/chain.h>
#include <libnftnl/rule.h>

#define MAX_IFACE_MATCHES 4 /* more in one rule: treated as an unknown match */

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

void foreign_view_free (struct view *v);
/* The chain, or NULL. */
struct chain_view *foreign_view_find (const struct view *v, uint32_t family, const char *table,
                                      const char *name);
/* Indexes the chains, then adds each rule, reduced, to its chain (a rule
 * whose chain was not in `chains` is skipped). -1: out of memory. The view
 * points into the lists, which must outlive it. */
int foreign_view_add_chains (struct view *v, const struct nftnl_chain_list *chains);
int foreign_view_add_rules (struct view *v, const struct nftnl_rule_list *rules);

#endif
