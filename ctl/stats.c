/* SPDX-License-Identifier: Apache-2.0 */
/* Counters joined with records (stats.h). */
#include "stats.h"

#include <arpa/inet.h>
#include <string.h>

#include "ctl-internal.h"

static json_t *
count_json (const struct moat_nft_counter *c)
{
  return json_pack ("{s:I, s:I}", "packets", (json_int_t)c->packets, "bytes", (json_int_t)c->bytes);
}

/* A container's counts: its IPv4 address's, plus its IPv6 address's when
 * dual stack (docs/design.md, "Counters"). A container that has no
 * element (the table remade since, or a race with its ADD) counts zero. */
static struct moat_nft_counters
container_counts (const struct moat_record *rec, const struct moat_nft_counters *v, size_t n)
{
  const struct moat_nft_counters *four = moat_nft_counters_find (v, n, rec->addr);
  const struct moat_nft_counters *six
      = rec->have_addr6 ? moat_nft_counters_find6 (v, n, &rec->addr6) : NULL;
  struct moat_nft_counters sum = { .addr = rec->addr };

  for (unsigned k = 0; k < MOAT_COUNT_KINDS; k++)
    {
      sum.c[k].packets = (four ? four->c[k].packets : 0) + (six ? six->c[k].packets : 0);
      sum.c[k].bytes = (four ? four->c[k].bytes : 0) + (six ? six->c[k].bytes : 0);
    }
  return sum;
}

static json_t *
row_json (const struct moat_record *rec, const struct moat_nft_counters *c)
{
  char addr[INET_ADDRSTRLEN], addr6[INET6_ADDRSTRLEN];

  inet_ntop (AF_INET, &rec->addr, addr, sizeof (addr));
  if (rec->have_addr6)
    inet_ntop (AF_INET6, &rec->addr6, addr6, sizeof (addr6));
  return json_pack (
      "{s:s, s:s?, s:s, s:s?, s:s?, s:{s:o, s:o}, s:{s:o, s:o}}", "id", rec->container_id, "name",
      rec->name, "network", rec->network, "address", rec->v6only ? NULL : addr, "address6",
      rec->have_addr6 ? addr6 : NULL, "allowed", "in", count_json (&c->c[MOAT_COUNT_ALLOWED_IN]),
      "out", count_json (&c->c[MOAT_COUNT_ALLOWED_OUT]), "refused", "in",
      count_json (&c->c[MOAT_COUNT_REFUSED_IN]), "out", count_json (&c->c[MOAT_COUNT_REFUSED_OUT]));
}

static int
add_network (json_t *list, const char *network, const char *only_id,
             const struct moat_nft_counters *v, size_t n, moat_err_t *err)
{
  _cleanup_ (ctl_records_free) struct records rs = { 0 };

  if (ctl_records_load (network, &rs, err) < 0)
    return -1;
  for (size_t i = 0; i < rs.n; i++)
    {
      struct moat_nft_counters c;

      if (only_id && strcmp (rs.v[i].container_id, only_id) != 0)
        continue;
      c = container_counts (&rs.v[i], v, n);
      if (json_array_append_new (list, row_json (&rs.v[i], &c)) < 0)
        return moat_error_nomem (err, "moatctl stats");
    }
  return 0;
}

int
moat_ctl_stats (const char *only, json_t **ret, moat_err_t *err)
{
  _cleanup_ (moat_ctl_target_free) struct moat_ctl_target t = { 0 };
  _cleanup_nft_ struct moat_nft *nft = NULL;
  _cleanup_free_ struct moat_nft_counters *v = NULL;
  _cleanup_strv_ char **networks = NULL;
  _cleanup_json_ json_t *list = json_array ();
  size_t n = 0;

  if (!list)
    return moat_error_nomem (err, "moatctl stats");
  if (only && moat_ctl_find (only, &t, err) < 0)
    return -1;
  if (moat_nft_open (&nft, err) < 0 || moat_nft_counters_read (nft, &v, &n, err) < 0
      || moat_networks_list (&networks, err) < 0)
    return -1;
  for (char **net = networks; *net; net++)
    if (add_network (list, *net, only ? t.id : NULL, v, n, err) < 0)
      return -1;
  *ret = json_pack ("{s:O}", "containers", list);
  return *ret ? 0 : moat_error_nomem (err, "moatctl stats");
}
