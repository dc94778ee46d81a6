/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl explain's IPv6 side (explain-family.h). */
#include "explain-family.h"

#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>

#include "foreign.h"

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

  if (moat_nft_elems_twin6_range (l, l, *from, *to, moat_explain_pairs_addr6, p) < 0
      || moat_nft_elems_waits6 (l, moat_explain_pairs_addr6, p) < 0)
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

/* Whether a foreign base chain at `hook` of `family` meets the flow or its
 * replies (foreign.h has where moat's traffic meets netfilter): to or
 * from the host, the ip hooks of the host's own traffic; else prerouting
 * and forward. ARP and the bridge's own hooks meet every flow of a
 * container. An IPv6 flow meets the ip6 family's hooks, an IPv4 one ip's
 * and ARP's. */
static bool
on_path (const struct moat_conflict *c, bool host, bool ip6)
{
  if (strcmp (c->family, ip6 ? "ip" : "ip6") == 0 || (ip6 && strcmp (c->family, "arp") == 0))
    return false;
  if (strcmp (c->family, "arp") == 0 || strcmp (c->family, "bridge") == 0)
    return true;
  if (strcmp (c->hook, "prerouting") == 0)
    return true;
  if (host)
    return strcmp (c->hook, "input") == 0 || strcmp (c->hook, "output") == 0;
  return strcmp (c->hook, "forward") == 0;
}

void
moat_explain_foreign (char *const *bridges, bool host, bool ip6, bool *allowed, char *why,
                      size_t size)
{
  struct moat_conflict *c = NULL;
  moat_err_t err = { 0 };
  size_t n = 0, len;

  if ((ip6 ? moat_foreign_conflicts6 (bridges, &c, &n, &err)
           : moat_foreign_conflicts (bridges, &c, &n, &err))
      < 0)
    return;
  for (size_t pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < n; i++)
      {
        /* Policies first: they decide; a rule only may. */
        if (!on_path (&c[i], host, ip6) || (c[i].handle == 0) != (pass == 0))
          continue;
        if (*allowed && c[i].handle == 0)
          {
            char was[1024];

            snprintf (was, sizeof (was), "%s", why);
            snprintf (why, size, "moat allows it (%s), but %s", was, c[i].what);
            *allowed = false;
          }
        else if ((len = strlen (why)) < size)
          snprintf (why + len, size - len, "; %s", c[i].what);
      }
  moat_conflicts_free (c, n);
}
