/* SPDX-License-Identifier: Apache-2.0 */
/* The MOAT_* environment under the io.moat.* annotations (annot.h). */
#include "model/annot.h"

#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"

#define ENV_PREFIX "MOAT_"

/* A key's character in its variable's name: capitals, '_' for '-'. */
static char
env_name_char (char c)
{
  if (c == '-')
    return '_';
  return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* The key of the MOAT_* variable `entry` ("MOAT_ALLOW_HOST=...") names
 * into buf ("io.moat.allow-host"), its value in *ret_value; false for any
 * other variable. */
static bool
env_entry_key (const char *entry, char *buf, size_t size, const char **ret_value)
{
  const char *eq = strchr (entry, '=');
  size_t plen = strlen (ENV_PREFIX), n;

  if (!eq || strncmp (entry, ENV_PREFIX, plen) != 0)
    return false;
  n = (size_t)(eq - entry) - plen;
  for (size_t i = 0; moat_annotation_key_at (i); i++)
    {
      const char *key = moat_annotation_key_at (i), *name = key + strlen (MOAT_ANNOT_PREFIX);
      bool same = strlen (name) == n;

      for (size_t j = 0; same && j < n; j++)
        same = entry[plen + j] == env_name_char (name[j]);
      if (!same)
        continue;
      snprintf (buf, size, "%s", key);
      *ret_value = eq + 1;
      return true;
    }
  return false;
}

int
moat_annotations_with_env (json_t *annotations, json_t *process_env, json_t **ret, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *merged = NULL;
  _cleanup_ (json_decrefp) json_t *from_env = json_object ();
  size_t i;
  json_t *e;

  *ret = NULL;
  if (annotations && !json_is_null (annotations) && !json_is_object (annotations))
    return moat_error (err, MOAT_E_CONFIG, 0, "annotations: must be an object of strings");
  merged = json_is_object (annotations) ? json_copy (annotations) : json_object ();
  if (!merged || !from_env)
    return moat_error_nomem (err, "environment");
  json_array_foreach (json_is_array (process_env) ? process_env : NULL, i, e)
  {
    const char *entry = json_string_value (e), *value;
    char key[64];

    if (!entry || !env_entry_key (entry, key, sizeof (key), &value) || !*value
        || json_object_get (from_env, key))
      continue;
    if (json_object_set_new (from_env, key, json_string (value)) < 0)
      return moat_error_nomem (err, "environment");
  }
  if (json_object_update_missing (merged, from_env) < 0)
    return moat_error_nomem (err, "environment");
  *ret = TAKE_PTR (merged);
  return 0;
}
