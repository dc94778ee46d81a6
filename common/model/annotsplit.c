/* SPDX-License-Identifier: Apache-2.0 */
/* A list annotation podman 4 cut at its commas (annot.h). */
#include "model/annot.h"

#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"

/* podman's containers say so in their annotations. */
#define PODMAN_MANAGER_KEY "io.container.manager"
#define PODMAN_MANAGER "libpod"

/* The list annotations whose items have a '=' that podman 4 then reads as
 * an annotation of its own (the others' pieces have none: podman refuses
 * them, "annotations must be formatted KEY=VALUE"). */
static const char *const cut_lists[]
    = { MOAT_ANNOT_PREFIX "labels", MOAT_ANNOT_PREFIX "depends", MOAT_ANNOT_PREFIX "expose" };

/* A bare label key ("env"; "env!" of a key!=value term): letters, digits,
 * '-' and '_', no '.' or '/', as no annotation of a runtime's is named. */
static bool
bare_key (const char *k)
{
  size_t n = strlen (k);
  char why[128];
  _cleanup_free_ char *name = NULL;

  if (n > 1 && k[n - 1] == '!')
    n--;
  if (n == 0 || strspn (k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != n)
    return false;
  name = strndup (k, n);
  return name && !moat_label_key_problem (name, why, sizeof (why));
}

/* A label value, or the first term's value of a selector ("dev&tier=x"). */
static bool
item_value (const char *v)
{
  _cleanup_free_ char *first = strndup (v, strcspn (v, "&"));
  char why[128];

  return first && !moat_label_value_problem (first, why, sizeof (why));
}

/* The first list annotation the container has (cut_lists), or NULL. */
static const char *
cut_list (json_t *annotations)
{
  for (size_t i = 0; i < sizeof (cut_lists) / sizeof (cut_lists[0]); i++)
    if (json_is_string (json_object_get (annotations, cut_lists[i])))
      return cut_lists[i];
  return NULL;
}

int
moat_annotations_check_split (json_t *annotations, moat_err_t *err)
{
  const char *manager = json_string_value (json_object_get (annotations, PODMAN_MANAGER_KEY));
  const char *list = cut_list (annotations), *key;
  char shown[512] = "", rest[512] = "";
  size_t n = 0, o = 0, os = 0;
  json_t *v;

  if (!manager || strcmp (manager, PODMAN_MANAGER) != 0 || !list)
    return 0;
  json_object_foreach (annotations, key, v)
  {
    const char *value = json_string_value (v);
    int a, b;

    if (!value || !bare_key (key) || !item_value (value))
      continue;
    a = snprintf (rest + o, sizeof (rest) - o, ";%s=%s", key, value);
    b = snprintf (shown + os, sizeof (shown) - os, "%s\"%s=%s\"", n ? ", " : "", key, value);
    if (a < 0 || b < 0 || (size_t)a >= sizeof (rest) - o || (size_t)b >= sizeof (shown) - os)
      break;
    o += (size_t)a;
    os += (size_t)b;
    n++;
  }
  if (!n)
    return 0;
  return moat_error (err, MOAT_E_CONFIG, 0,
                     "%s: annotation%s %.300s look%s like the rest of its list, cut at a comma by "
                     "podman 4's --annotation: separate the items with ';' (--annotation "
                     "'%s=%.200s%.300s')",
                     list, n > 1 ? "s" : "", shown, n > 1 ? "" : "s", list,
                     json_string_value (json_object_get (annotations, list)), rest);
}
