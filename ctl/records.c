/* SPDX-License-Identifier: Apache-2.0 */
/* The records of a network and the grants of a record, loaded whole
 * (ctl-internal.h). */
#include "ctl-internal.h"

#include <stdlib.h>
#include <string.h>

#include "grant.h"
#include "state/remote.h"

/* --- records of a network ------------------------------------------------------ */

void
ctl_records_free (struct records *r)
{
  for (size_t i = 0; i < r->n; i++)
    moat_record_free (&r->v[i]);
  free (r->v);
  memset (r, 0, sizeof (*r));
}

int
ctl_records_load (const char *network, struct records *ret, moat_err_t *err)
{
  _cleanup_strv_ char **keys = NULL;
  size_t n = 0;

  memset (ret, 0, sizeof (*ret));
  if (moat_record_list (network, &keys, err) < 0)
    return -1;
  while (keys[n])
    n++;
  ret->v = calloc (n + 1, sizeof (*ret->v));
  if (!ret->v)
    return moat_error_nomem (err, "moatctl");
  for (size_t i = 0; i < n; i++)
    {
      int r = moat_record_read (network, keys[i], &ret->v[ret->n], err);

      if (r < 0)
        {
          ctl_records_free (ret);
          return -1;
        }
      ret->n += (size_t)r;
    }
  return 0;
}

int
ctl_records_load_remote (const char *network, struct records *ret, moat_err_t *err)
{
  _cleanup_strv_ char **keys = NULL;
  struct moat_record *v;
  size_t n = 0;

  if (moat_remote_list (network, &keys, err) < 0)
    return -1;
  while (keys[n])
    n++;
  v = realloc (ret->v, (ret->n + n + 1) * sizeof (*v));
  if (!v)
    return moat_error_nomem (err, "moatctl");
  ret->v = v;
  for (size_t i = 0; i < n; i++)
    {
      int r = moat_remote_read (network, keys[i], &ret->v[ret->n], err);

      if (r < 0)
        return -1;
      ret->n += (size_t)r;
    }
  return 0;
}

int
ctl_record_read (const char *network, const char *key, struct moat_record *ret, moat_err_t *err)
{
  int r = moat_record_read (network, key, ret, err);

  return r != 0 ? r : moat_remote_read (network, key, ret, err);
}

const struct moat_record *
ctl_records_by_addr (const struct records *rs, struct in_addr addr)
{
  for (size_t i = 0; i < rs->n; i++)
    if (rs->v[i].addr.s_addr == addr.s_addr)
      return &rs->v[i];
  return NULL;
}

/* --- grants in a record ----------------------------------------------------------- */

void
ctl_grants_free (struct grants *g)
{
  for (size_t i = 0; i < g->n; i++)
    moat_grant_free (&g->v[i]);
  free (g->v);
  memset (g, 0, sizeof (*g));
}

/* The record's grants still alive at `now`. */
int
ctl_grants_load (const struct moat_record *rec, int64_t now, struct grants *ret, moat_err_t *err)
{
  size_t i;
  json_t *j;

  memset (ret, 0, sizeof (*ret));
  ret->v = calloc (json_array_size (rec->grants) + 1, sizeof (*ret->v));
  if (!ret->v)
    return moat_error_nomem (err, "moatctl");
  json_array_foreach (rec->grants, i, j)
  {
    if (moat_grant_from_json (j, &ret->v[ret->n], err) < 0)
      {
        ctl_grants_free (ret);
        return moat_error_prefix (err, "record %s", rec->container_id);
      }
    if (moat_grant_live (&ret->v[ret->n], now))
      ret->n++;
    else
      moat_grant_free (&ret->v[ret->n]);
  }
  return 0;
}

int
ctl_grants_store (struct moat_record *rec, const struct grants *g, moat_err_t *err)
{
  json_t *a = json_array ();

  for (size_t i = 0; a && i < g->n; i++)
    if (json_array_append_new (a, moat_grant_to_json (&g->v[i])) < 0)
      {
        json_decref (a);
        a = NULL;
      }
  if (!a)
    return moat_error_nomem (err, "moatctl");
  json_decref (rec->grants);
  rec->grants = json_array_size (a) ? a : NULL;
  if (!rec->grants)
    json_decref (a);
  return moat_record_write (rec, err);
}

ssize_t
ctl_grants_find (const struct grants *g, const char *words)
{
  char buf[MOAT_GRANT_WORDS_MAX];

  for (size_t i = 0; i < g->n; i++)
    {
      moat_grant_words (&g->v[i], buf, sizeof (buf));
      if (strcmp (buf, words) == 0)
        return (ssize_t)i;
    }
  return -1;
}
