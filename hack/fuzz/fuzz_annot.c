/* SPDX-License-Identifier: Apache-2.0 */
/* OCI annotations: any JSON as config.json's "annotations" ("a", with a
 * process.env "e" and labels "l"). A value that parses must give selectors
 * that evaluate without fault against any labels, and every refusal names
 * an io.moat.* key, its MOAT_* variable (or the object). */
#include <strings.h>

#include "model/annot.h"
#include "fuzz.h"

/* The annotations under a process.env ("e"): a refusal, renamed for the
 * variables (moat_error_env_names), still names a key or a variable. */
static void
env_errors (json_t *annotations, json_t *env)
{
  json_t *merged = NULL;
  struct moat_annotations a;
  moat_err_t err = { 0 };

  if (moat_annotations_with_env (annotations, env, &merged, &err) < 0)
    return;
  if (moat_annotations_parse (merged, &a, &err) == 0)
    moat_annotations_free (&a);
  else
    {
      moat_error_env_names (&err, annotations, env, true);
      FUZZ_CHECK (strncasecmp (err.msg, "io.moat.", 8) == 0 || strncmp (err.msg, "MOAT_", 5) == 0
                  || strncmp (err.msg, "annotations", 11) == 0 || err.code == MOAT_E_IO);
      FUZZ_CHECK (!strchr (err.msg, '\n'));
    }
  json_decref (merged);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = fuzz_cstr (data, size);
  json_t *root = json_loads (text, JSON_DECODE_ANY, NULL);
  json_t *annotations = json_is_object (root) ? json_object_get (root, "a") : root;
  json_t *labels = json_is_object (root) ? json_object_get (root, "l") : NULL;
  struct moat_annotations a;
  moat_err_t err = { 0 };

  if (moat_annotations_parse (annotations, &a, &err) == 0)
    {
      moat_selectors_match (a.depends, a.n_depends, labels);
      moat_selectors_match (a.expose, a.n_expose, labels);
      moat_annotations_free (&a);
    }
  else
    FUZZ_CHECK (strncasecmp (err.msg, "io.moat.", 8) == 0
                || strncmp (err.msg, "annotations", 11) == 0 || err.code == MOAT_E_IO);
  err = (moat_err_t){ 0 };
  if (moat_annotations_check_split (annotations, &err) < 0)
    FUZZ_CHECK (strncmp (err.msg, "io.moat.", 8) == 0);
  env_errors (annotations, json_is_object (root) ? json_object_get (root, "e") : NULL);
  moat_annotations_any (annotations);
  json_decref (root);
  free (text);
  return 0;
}
