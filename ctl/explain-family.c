/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl explain's IPv6 side (explain-family.h). */
#include "explain-family.h"

#include <ifaddrs.h>
#include <string.h>

#include "model/record.h"
#include "ruleset/elems.h"

void
moat_explain_pairs_add (struct moat_explain_pairs *p, const struct moat_record *rec)
{
  if (!rec || !rec->have_addr6 || p->n >= MOAT_EXPLAIN_MAX_PAIRS)
    return;
  p->v[p->n++] = (struct moat_addr6_pair){ rec->addr, rec->addr6 };
}

int
moat_explain_pairs_addr6 (struct in_addr addr, struct in6_addr *ret, void *data)
{
  const struct moat_explain_pairs *p = data;

  for (size_t i = 0; i < p->n; i++)
    if (p->v[i].addr.s_addr == addr.s_addr)
      {
        *ret = p->v[i].addr6;
        return 1;
      }
  return 0;
}

int
moat_explain_twin_range (struct moat_nft_elems *l, size_t *from, size_t *to,
                         struct moat_explain_pairs *p)
{
  size_t first = moat_nft_elems_count (l);

  if (moat_nft_elems_twin6_range (l, l, *from, *to, moat_explain_pairs_addr6, p) < 0)
    return -1;
  *from = first;
  *to = moat_nft_elems_count (l);
  return 0;
}

struct moat_nft_elems *
moat_explain_twin_built (struct moat_nft_elems *built, const struct moat_explain_pairs *p)
{
  struct moat_nft_elems *twin = built ? moat_nft_elems_new () : NULL;

  /* moat_explain_pairs_addr6 only reads its data. */
  if (twin && moat_nft_elems_twin6 (twin, built, moat_explain_pairs_addr6, (void *)p) < 0)
    {
      moat_nft_elems_free (twin);
      twin = NULL;
    }
  moat_nft_elems_free (built);
  return twin;
}

bool
moat_explain_named (const char *name, const char *base)
{
  size_t len = strlen (base);

  return name && strncmp (name, base, len) == 0 && (!name[len] || strcmp (name + len, "6") == 0);
}

bool
moat_explain_is_local6 (const struct in6_addr *addr)
{
  struct ifaddrs *ifa = NULL;
  bool found = false;

  if (getifaddrs (&ifa) < 0)
    return false;
  for (struct ifaddrs *i = ifa; i && !found; i = i->ifa_next)
    found = i->ifa_addr && i->ifa_addr->sa_family == AF_INET6
            && memcmp (&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, addr, sizeof (*addr)) == 0;
  freeifaddrs (ifa);
  return found;
}
