/* SPDX-License-Identifier: Apache-2.0 */
/* The revoked-token list (revoked.h). */
#include "revoked.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "state/state.h"

#define REVOKED_FILE ".revoked-tokens.json"

void
moat_revoked_free (struct moat_revoked *r)
{
  if (!r)
    return;
  for (size_t i = 0; i < r->n; i++)
    free (r->v[i].token);
  free (r->v);
  memset (r, 0, sizeof (*r));
}

static ssize_t
revoked_find (const struct moat_revoked *r, const char *id)
{
  for (size_t i = 0; i < r->n; i++)
    if (strcmp (r->v[i].token, id) == 0)
      return (ssize_t)i;
  return -1;
}

bool
moat_revoked_has (const struct moat_revoked *r, const char *id, int64_t now)
{
  ssize_t i = revoked_find (r, id);

  return i >= 0 && r->v[i].exp > now;
}

int
moat_revoked_add (struct moat_revoked *r, const char *id, int64_t exp, moat_err_t *err)
{
  ssize_t i = revoked_find (r, id);
  struct moat_revoked_entry *v;

  if (i >= 0)
    {
      if (r->v[i].exp >= exp)
        return 0;
      r->v[i].exp = exp;
      return 1;
    }
  v = realloc (r->v, (r->n + 1) * sizeof (*v));
  if (!v)
    return moat_error (err, MOAT_E_IO, ENOMEM, "revoked tokens");
  r->v = v;
  if (!(v[r->n].token = strdup (id)))
    return moat_error (err, MOAT_E_IO, ENOMEM, "revoked tokens");
  v[r->n].exp = exp;
  r->n++;
  return 1;
}

int
moat_revoked_from_json (json_t *root, int64_t now, const char *origin, struct moat_revoked *ret,
                        moat_err_t *err)
{
  _cleanup_ (moat_revoked_free) struct moat_revoked out = { 0 };
  json_t *list = json_object_get (root, "revoked"), *e;
  size_t i;

  if (!json_is_array (list))
    return moat_error (err, MOAT_E_STATE, 0, "%s: \"revoked\": want an array", origin);
  json_array_foreach (list, i, e)
  {
    const char *id = json_string_value (json_object_get (e, "token"));
    json_t *exp = json_object_get (e, "exp");

    if (!id || !*id || !json_is_integer (exp))
      return moat_error (err, MOAT_E_STATE, 0,
                         "%s: revoked[%zu]: want {\"token\": non-empty string, \"exp\": integer}",
                         origin, i);
    if (json_integer_value (exp) > now
        && moat_revoked_add (&out, id, json_integer_value (exp), err) < 0)
      return -1;
  }
  *ret = out;
  memset (&out, 0, sizeof (out));
  return 0;
}

json_t *
moat_revoked_to_json (const struct moat_revoked *r, int64_t now)
{
  json_t *list = json_array ();

  for (size_t i = 0; list && i < r->n; i++)
    if (r->v[i].exp > now
        && json_array_append_new (list, json_pack ("{s:s, s:I}", "token", r->v[i].token, "exp",
                                                   (json_int_t)r->v[i].exp))
               < 0)
      {
        json_decref (list);
        return NULL;
      }
  return list ? json_pack ("{s:o}", "revoked", list) : NULL;
}

static int
revoked_path (char *buf, size_t size, moat_err_t *err)
{
  if ((size_t)snprintf (buf, size, "%s/" REVOKED_FILE, moat_run_dir ()) >= size)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "%s", moat_run_dir ());
  return 0;
}

int
moat_revoked_load (int64_t now, struct moat_revoked *ret, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *root = NULL;
  _cleanup_fclose_ FILE *f = NULL;
  json_error_t jerr;
  char path[4096];

  memset (ret, 0, sizeof (*ret));
  if (revoked_path (path, sizeof (path), err) < 0)
    return -1;
  f = fopen (path, "re");
  if (!f)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_STATE, errno, "open \"%s\"", path);
  root = json_loadf (f, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return moat_error (err, MOAT_E_STATE, 0, "%s: %s", path, jerr.text);
  return moat_revoked_from_json (root, now, path, ret, err);
}

int
moat_revoked_store (const struct moat_revoked *r, int64_t now, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *root = moat_revoked_to_json (r, now);
  _cleanup_free_ char *text = NULL;
  char path[4096];

  if (revoked_path (path, sizeof (path), err) < 0)
    return -1;
  if (!root || !(text = json_dumps (root, JSON_COMPACT)))
    return moat_error (err, MOAT_E_IO, ENOMEM, "revoked tokens");
  return moat_write_atomic (path, text, err);
}
