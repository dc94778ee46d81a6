/* SPDX-License-Identifier: Apache-2.0 */
/* Published ports held by the records of every network (published.h). */
#include "state/published.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "state/state.h"

/* The first mapping of `want` that one of `rec`'s overlaps: 1 with the
 * error set, 0 when none. A record whose ports do not parse holds none. */
static int
record_conflict (const struct moat_publish_list *want, const struct moat_record *rec,
                 moat_err_t *err)
{
  _cleanup_ (moat_publish_list_free) struct moat_publish_list held = { 0 };
  moat_err_t ignored = { 0 };

  if (!rec->publish || moat_publish_from_json (rec->publish, &held, &ignored) < 0)
    return 0;
  for (size_t i = 0; i < want->n; i++)
    for (size_t j = 0; j < held.n; j++)
      if (moat_publish_overlap (&want->v[i], &held.v[j]))
        {
          char a[MOAT_PUBLISH_TEXT_MAX], b[MOAT_PUBLISH_TEXT_MAX];

          moat_publish_format (&want->v[i], a, sizeof (a));
          moat_publish_format (&held.v[j], b, sizeof (b));
          if (rec->name)
            moat_error (err, MOAT_E_CONFIG, 0,
                        "published port %s: host port held by container \"%s\" (%s) on network "
                        "\"%s\" as %s",
                        a, rec->name, rec->container_id, rec->network, b);
          else
            moat_error (err, MOAT_E_CONFIG, 0,
                        "published port %s: host port held by container %s on network \"%s\" as %s",
                        a, rec->container_id, rec->network, b);
          return 1;
        }
  return 0;
}

static int
network_conflict (const struct moat_publish_list *want, const char *network,
                  const char *self_network, const char *self_key, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **keys = NULL;

  if (moat_record_list (network, &keys, err) < 0)
    return -1;
  for (char **k = keys; k && *k; k++)
    {
      struct moat_record rec;
      moat_err_t unreadable = { 0 };
      int r;

      if (strcmp (network, self_network) == 0 && strcmp (*k, self_key) == 0)
        continue;
      if (moat_record_read (network, *k, &rec, &unreadable) <= 0)
        continue; /* gone meanwhile, or unreadable: its DEL cleans up */
      r = record_conflict (want, &rec, err);
      moat_record_free (&rec);
      if (r)
        return -1;
    }
  return 0;
}

int
moat_publish_holders_check (const struct moat_publish_list *want, const char *self_network,
                            const char *self_key, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **networks = NULL;

  if (want->n == 0)
    return 0;
  if (moat_networks_list (&networks, err) < 0)
    return -1;
  for (char **n = networks; n && *n; n++)
    if (network_conflict (want, *n, self_network, self_key, err) < 0)
      return -1;
  return 0;
}
