/* SPDX-License-Identifier: Apache-2.0 */
/* The IPv6 half of the rules (ruleset.h, docs/design.md "IPv6"),
 * generated from the table of ruleset.c: each rule's twin, and the list of
 * every rule of both halves in the order they are made. */
#include "ruleset/ruleset.h"

#include <netinet/in.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

/* Room for the table's rules; a table that outgrows it gets no rules at
 * all from moat_rule_at, which every test of the tables notices. */
#define NRULES 160
#define TWIN_TEXT_MAX 192

const struct moat_chain_def *
moat_chain_def_find (uint32_t family, const char *name)
{
  for (size_t i = 0; i < moat_chain_defs_count; i++)
    if (moat_chain_defs[i].family == family && strcmp (moat_chain_defs[i].name, name) == 0)
      return &moat_chain_defs[i];
  return NULL;
}

static bool
has_term (const struct moat_rule_def *def, enum moat_term_kind kind)
{
  for (size_t i = 0; i < MOAT_RULE_MAX_TERMS && def->terms[i].kind != MOAT_TERM_END; i++)
    if (def->terms[i].kind == kind)
      return true;
  return false;
}

static enum moat_source
source_twin6 (enum moat_source src)
{
  switch (src)
    {
    case MOAT_SRC_IP_SADDR:
      return MOAT_SRC_IP6_SADDR;
    case MOAT_SRC_IP_DADDR:
      return MOAT_SRC_IP6_DADDR;
    case MOAT_SRC_CT_ORIGINAL_SADDR:
      return MOAT_SRC_CT_ORIGINAL_SADDR6;
    case MOAT_SRC_CT_REPLY_SADDR:
      return MOAT_SRC_CT_REPLY_SADDR6;
    default:
      return src;
    }
}

/* false when the term has no IPv6 meaning here (a set without twin). */
static bool
term_twin6 (struct moat_term *t)
{
  switch (t->kind)
    {
    case MOAT_TERM_IPV4:
      t->kind = MOAT_TERM_IPV6;
      return true;
    case MOAT_TERM_L4PROTO:
      if (t->value == IPPROTO_ICMP)
        t->value = IPPROTO_ICMPV6;
      return true;
    case MOAT_TERM_ETHER_TYPE: /* the inet table's: a node's frame */
      if (t->value == MOAT_ETHERTYPE_IPV4)
        t->value = MOAT_ETHERTYPE_IPV6;
      return true;
    case MOAT_TERM_ICMP_TYPE: /* the only one: icmp redirect */
      t->value = MOAT_ICMPV6_REDIRECT;
      return true;
    case MOAT_TERM_LOOKUP:
    case MOAT_TERM_NOT_LOOKUP:
    case MOAT_TERM_RATE:
      for (size_t i = 0; i < MOAT_SET_MAX_FIELDS; i++)
        t->sources[i] = source_twin6 (t->sources[i]);
      if (moat_set_defs[t->set].nfields == 1
          && moat_set_defs[t->set].fields[0] == MOAT_FIELD_IFNAME)
        return true; /* bridges, guarded: family-free */
      t->set = moat_set_twin6 (t->set);
      return t->set != MOAT_SET_NO_TWIN;
    default:
      return true;
    }
}

/* One word of a rule's text, as its twin writes it. */
static const char *
word_twin6 (const char *w, char *buf, size_t size)
{
  static const char *const swaps[][2] = {
    { "ip", "ip6" },
    { "ipv4", "ipv6" },
    { "icmp", "icmpv6" },
    { "redirect", "nd-redirect" },
  };
  const struct moat_chain_def *c;
  const struct moat_set_def *set;

  for (size_t i = 0; i < ARRAY_SIZE (swaps); i++)
    if (strcmp (w, swaps[i][0]) == 0)
      return swaps[i][1];
  if (w[0] == '@' && (set = moat_set_def_find (NFPROTO_INET, w + 1))
      && moat_set_twin6 ((enum moat_set) (set - moat_set_defs)) != MOAT_SET_NO_TWIN)
    {
      snprintf (buf, size, "%s6", w);
      return buf;
    }
  c = moat_chain_def_find (NFPROTO_INET, w);
  return c && c->twin ? c->twin : w;
}

static void
text_twin6 (const char *text, char *out, size_t size)
{
  _cleanup_free_ char *copy = strdup (text);
  char *save = NULL, buf[64];
  size_t used = 0;

  out[0] = '\0';
  for (char *w = copy ? strtok_r (copy, " ", &save) : NULL; w; w = strtok_r (NULL, " ", &save))
    used += (size_t)snprintf (out + used, used < size ? size - used : 0, "%s%s", used ? " " : "",
                              word_twin6 (w, buf, sizeof (buf)));
}

static bool
has_ether_ipv4 (const struct moat_rule_def *def)
{
  for (size_t i = 0; i < MOAT_RULE_MAX_TERMS && def->terms[i].kind != MOAT_TERM_END; i++)
    if (def->terms[i].kind == MOAT_TERM_ETHER_TYPE && def->terms[i].value == MOAT_ETHERTYPE_IPV4)
      return true;
  return false;
}

/* Rules whose twin is generated: the inet table's IPv4 half, but the
 * loopback rules (the kernel drops ::1 from a non-loopback device itself)
 * and a base chain's family-free rules (they serve both families). */
static bool
rule_has_twin6 (const struct moat_rule_def *def, const struct moat_chain_def **ret_chain)
{
  const struct moat_chain_def *c = moat_chain_def_find (def->family, def->chain);

  if (def->v6 || def->family != NFPROTO_INET || !c)
    return false;
  if (has_term (def, MOAT_TERM_SADDR_LOOPBACK) || has_term (def, MOAT_TERM_DADDR_LOOPBACK))
    return false;
  *ret_chain = c;
  return c->twin || has_term (def, MOAT_TERM_IPV4) || has_ether_ipv4 (def);
}

static char twin_texts[NRULES][TWIN_TEXT_MAX];

bool
moat_rule_twin6 (const struct moat_rule_def *def, struct moat_rule_def *ret)
{
  const struct moat_chain_def *c, *target;
  size_t index = (size_t)(def - moat_rule_defs);

  if (index >= moat_rule_defs_count || index >= NRULES || !rule_has_twin6 (def, &c))
    return false;
  *ret = *def;
  ret->v6 = true;
  if (c->twin)
    ret->chain = c->twin;
  if (def->target && (target = moat_chain_def_find (def->family, def->target)) && target->twin)
    ret->target = target->twin;
  for (size_t i = 0; i < MOAT_RULE_MAX_TERMS; i++)
    if (!term_twin6 (&ret->terms[i]))
      return false;
  if (!twin_texts[index][0])
    text_twin6 (def->text, twin_texts[index], TWIN_TEXT_MAX);
  ret->text = twin_texts[index];
  return true;
}

static struct moat_rule_def all_rules[2 * NRULES];
static size_t all_rules_count;

static void
all_rules_build (void)
{
  size_t n = 0;

  if (all_rules_count || moat_rule_defs_count > NRULES)
    return;
  for (size_t i = 0; i < moat_rule_defs_count; i++)
    if (!moat_rule_defs[i].v6)
      all_rules[n++] = moat_rule_defs[i];
  for (size_t i = 0; i < moat_rule_defs_count; i++)
    if (moat_rule_defs[i].v6)
      all_rules[n++] = moat_rule_defs[i];
    else if (moat_rule_twin6 (&moat_rule_defs[i], &all_rules[n]))
      n++;
  all_rules_count = n;
}

size_t
moat_rules_count (void)
{
  all_rules_build ();
  return all_rules_count;
}

const struct moat_rule_def *
moat_rule_at (size_t i)
{
  all_rules_build ();
  return i < all_rules_count ? &all_rules[i] : NULL;
}
