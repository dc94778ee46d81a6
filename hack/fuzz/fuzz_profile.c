/* SPDX-License-Identifier: Apache-2.0 */
/* The policy file, both forms: any bytes. A file that parses gives
 * profiles whose selectors evaluate and copy without fault; a refusal is
 * one line naming the file. */
#include "fuzz.h"
#include "model/profile.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct moat_profiles *p = NULL;
  moat_err_t err = { 0 };
  json_t *labels = json_pack ("{s:s, s:s}", "app", "web", "@sys:network", "n");

  if (moat_profiles_parse ((const char *)data, size, "fuzz.json", &p, &err) == 0)
    {
      const struct moat_annotations *a = moat_profiles_find (p, "Web");

      if (a)
        {
          struct moat_annotations copy;

          moat_selectors_match (a->depends, a->n_depends, labels);
          moat_selectors_match (a->expose_deny, a->n_expose_deny, labels);
          if (moat_annotations_dup (a, &copy, &err) == 0)
            moat_annotations_free (&copy);
        }
      moat_profiles_free (p);
    }
  else
    FUZZ_CHECK (p == NULL && strncmp (err.msg, "fuzz.json", 9) == 0
                && strchr (err.msg, '\n') == NULL);
  json_decref (labels);
  return 0;
}
