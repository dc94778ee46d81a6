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

/* The io.moat.* keys the MOAT_* variables of process_env give, into the
 * object from_env (the first of repeated variables counts). */
static int
env_keys (json_t *process_env, json_t *from_env)
{
  size_t i;
  json_t *e;

  json_array_foreach (json_is_array (process_env) ? process_env : NULL, i, e)
  {
    const char *entry = json_string_value (e), *value;
    char key[64];

    if (!entry || !env_entry_key (entry, key, sizeof (key), &value) || !*value
        || json_object_get (from_env, key))
      continue;
    if (json_object_set_new (from_env, key, json_string (value)) < 0)
      return -1;
  }
  return 0;
}

int
moat_annotations_with_env (json_t *annotations, json_t *process_env, json_t **ret, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *merged = NULL;
  _cleanup_ (json_decrefp) json_t *from_env = json_object ();

  *ret = NULL;
  if (annotations && !json_is_null (annotations) && !json_is_object (annotations))
    return moat_error (err, MOAT_E_CONFIG, 0, "annotations: must be an object of strings");
  merged = json_is_object (annotations) ? json_copy (annotations) : json_object ();
  if (!merged || !from_env || env_keys (process_env, from_env) < 0)
    return moat_error_nomem (err, "environment");
  if (json_object_update_missing (merged, from_env) < 0)
    return moat_error_nomem (err, "environment");
  *ret = TAKE_PTR (merged);
  return 0;
}

/* ---- errors in the words the user wrote ---- */

/* The known key at p ("io.moat.allow-host", ended by a character that
 * cannot continue a key), or NULL. */
static const char *
key_at (const char *p)
{
  for (size_t i = 0; moat_annotation_key_at (i); i++)
    {
      const char *key = moat_annotation_key_at (i);
      size_t n = strlen (key);
      char next;

      /* Only after the match is p known to be that long. */
      if (strncmp (p, key, n) != 0)
        continue;
      next = p[n];
      if (!(next >= 'a' && next <= 'z') && next != '-'
          && !(next == '.' && p[n + 1] >= 'a' && p[n + 1] <= 'z'))
        return key;
    }
  return NULL;
}

/* Whether the error names `key` as the variable: the value came from the
 * environment, or (`hints`) the message tells the user to set a key they
 * set nowhere. A key the container has as an annotation stays. */
static bool
names_variable (const char *key, json_t *annotations, json_t *from_env, bool hints)
{
  if (json_object_get (annotations, key))
    return false;
  return hints || json_object_get (from_env, key);
}

/* The variable of `key` into buf: MOAT_ and the key's name in capitals,
 * '_' for '-'. */
static size_t
env_name (const char *key, char *buf, size_t size)
{
  size_t n = (size_t)snprintf (buf, size, ENV_PREFIX "%s", key + strlen (MOAT_ANNOT_PREFIX));

  for (size_t i = strlen (ENV_PREFIX); i < n && i < size; i++)
    buf[i] = env_name_char (buf[i]);
  return n < size ? n : size - 1;
}

int
moat_error_env_names (moat_err_t *err, json_t *annotations, json_t *process_env, bool hints)
{
  _cleanup_ (json_decrefp) json_t *from_env = json_object ();
  char out[sizeof (err->msg)];
  bool quoted = false;
  size_t o = 0;

  if (!from_env || env_keys (process_env, from_env) < 0 || json_object_size (from_env) == 0)
    return -1;
  if (!json_is_object (annotations))
    annotations = NULL;
  for (const char *p = err->msg; *p && o + 1 < sizeof (out);)
    {
      const char *key = quoted ? NULL : key_at (p);

      if (key && names_variable (key, annotations, from_env, hints))
        {
          char name[64];
          size_t n = env_name (key, name, sizeof (name));

          n = n < sizeof (out) - 1 - o ? n : sizeof (out) - 1 - o;
          memcpy (out + o, name, n);
          o += n;
          p += strlen (key);
          continue;
        }
      quoted = *p == '"' ? !quoted : quoted;
      out[o++] = *p++;
    }
  out[o] = '\0';
  memcpy (err->msg, out, o + 1);
  return -1;
}
