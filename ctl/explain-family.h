/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CTL_EXPLAIN_FAMILY_H
#define MOAT_CTL_EXPLAIN_FAMILY_H
/* moatctl explain's IPv6 side (docs/design.md, "IPv6"): the flow's
 * containers' addresses paired for the twins of their elements, the
 * words that name a set or chain of either half; and what other tables do
 * to a flow of either family. Internal to explain.c. */
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "state/identities.h"

struct moat_nft_elems;
struct moat_record;

#define MOAT_EXPLAIN_MAX_PAIRS 4

/* The dual-stack containers of the flow: each IPv4 address's IPv6 twin. */
struct moat_explain_pairs
{
  struct moat_addr6_pair v[MOAT_EXPLAIN_MAX_PAIRS];
  size_t n;
};

void moat_explain_pairs_add (struct moat_explain_pairs *p, const struct moat_record *rec);
/* moat_addr6_fn over a struct moat_explain_pairs. */
int moat_explain_pairs_addr6 (struct in_addr addr, struct in6_addr *ret, void *data);

/* Appends the IPv6 twins of the elements [*from, *to) of `l`, and the
 * IPv6 ranges and ports waiting in `l`, and makes [*from, *to) theirs (as
 * moat_policy_twin6 twins what apply puts in the kernel). -1 when out of
 * memory. */
int moat_explain_twin_range (struct moat_nft_elems *l, size_t *from, size_t *to,
                             struct moat_explain_pairs *p);
/* `built` (one element, freed) replaced by its twin; NULL when it has none. */
struct moat_nft_elems *moat_explain_twin_built (struct moat_nft_elems *built,
                                                const struct moat_explain_pairs *p);

/* A set's or chain's name is `base`, or its IPv6 twin `base`6. */
bool moat_explain_named (const char *name, const char *base);

/* A flow moat allows may still be dropped by another table's base chain
 * (netfilter needs every base chain of a hook to accept): a chain whose
 * policy drops it makes the flow refused (*allowed false, `why` saying
 * so); a drop or reject rule moat cannot judge is added to `why` as a
 * warning. The chains of the flow's family, on its path (`host`: to or
 * from the host), for `bridges` (NULL-terminated). Nothing is said when
 * the ruleset cannot be read (explain answers for moat's tables then). */
void moat_explain_foreign (char *const *bridges, bool host, bool ip6, bool *allowed, char *why,
                           size_t size);

/* One of the host's interfaces holds the IPv6 address. */
bool moat_explain_is_local6 (const struct in6_addr *addr);

#endif
