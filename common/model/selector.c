/* SPDX-License-Identifier: Apache-2.0 */
/* Label selectors (annot.h) evaluated against a container's labels. */
#include "model/annot.h"

#include <string.h>

static bool
label_equals (json_t *v, const char *value)
{
  size_t len = strlen (value);

  return json_is_string (v) && json_string_length (v) == len
         && memcmp (json_string_value (v), value, len) == 0;
}

static bool
term_matches (const struct moat_sel_term *t, json_t *labels)
{
  json_t *v = json_object_get (labels, t->key); /* NULL for NULL labels */

  switch (t->op)
    {
    case MOAT_SEL_EQ:
      return label_equals (v, t->value ? t->value : "");
    case MOAT_SEL_NE:
      return !label_equals (v, t->value ? t->value : "");
    case MOAT_SEL_EXISTS:
      return v != NULL;
    case MOAT_SEL_ABSENT:
      return v == NULL;
    }
  return false;
}

bool
moat_selector_matches (const struct moat_selector *sel, json_t *labels)
{
  for (size_t i = 0; i < sel->n_terms; i++)
    if (!term_matches (&sel->terms[i], labels))
      return false;
  return true;
}

bool
moat_selectors_match (const struct moat_selector *sels, size_t n, json_t *labels)
{
  for (size_t i = 0; i < n; i++)
    if (moat_selector_matches (&sels[i], labels))
      return true;
  return false;
}
