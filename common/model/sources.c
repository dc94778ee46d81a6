/* SPDX-License-Identifier: Apache-2.0 */
/* A container's own policy sources (sources.h). */
#include "model/sources.h"

#include <string.h>
#include <strings.h>

#include "base/cleanup.h"
#include "model/annot.h"

/* Keys that say how one attachment is made, not what the container may do. */
static const char *const attach_only[] = { "network", "publish", "ip", "name", "aliases", NULL };

static bool
is_moat_key (const char *key)
{
  return strncasecmp (key, MOAT_ANNOT_PREFIX, strlen (MOAT_ANNOT_PREFIX)) == 0;
}

static bool
is_attach_only (const char *key)
{
  for (size_t i = 0; attach_only[i]; i++)
    if (strcasecmp (key + strlen (MOAT_ANNOT_PREFIX), attach_only[i]) == 0)
      return true;
  return false;
}

json_t *
moat_sources_new (json_t *annotations, json_t *process_env)
{
  _cleanup_ (json_decrefp) json_t *a = json_object ();
  _cleanup_ (json_decrefp) json_t *env = json_array ();
  const char *key;
  json_t *v;
  size_t i;

  if (!a || !env)
    return NULL;
  json_object_foreach (json_is_object (annotations) ? annotations : NULL, key, v)
  {
    if (is_moat_key (key) && json_object_set (a, key, v) < 0)
      return NULL;
  }
  json_array_foreach (json_is_array (process_env) ? process_env : NULL, i, v)
  {
    const char *entry = json_string_value (v);

    if (entry && strncmp (entry, "MOAT_", 5) == 0 && json_array_append (env, v) < 0)
      return NULL;
  }
  return json_pack ("{s:O, s:O}", "annotations", a, "env", env);
}

int
moat_sources_annotations (json_t *sources, bool read_env, json_t **ret, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *merged = NULL;
  json_t *annotations = json_object_get (sources, "annotations");
  const char *key;
  json_t *v;
  void *tmp;

  *ret = NULL;
  if (read_env)
    {
      if (moat_annotations_with_env (annotations, json_object_get (sources, "env"), &merged, err)
          < 0)
        return -1;
    }
  else if (!(merged = json_is_object (annotations) ? json_copy (annotations) : json_object ()))
    return moat_error_nomem (err, "sources");
  json_object_foreach_safe (merged, tmp, key, v)
  {
    if (!is_moat_key (key) || is_attach_only (key))
      json_object_del (merged, key);
  }
  *ret = TAKE_PTR (merged);
  return 0;
}
