/* SPDX-License-Identifier: Apache-2.0 */
#include "words.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "model/annot.h"

const char *
moat_ctl_option_value (int argc, char **argv, int *i, const char *name)
{
  size_t n = strlen (name);

  if (strncmp (argv[*i], name, n) == 0 && argv[*i][n] == '=')
    return argv[*i] + n + 1;
  if (strcmp (argv[*i], name) != 0)
    return NULL;
  return *i + 1 < argc ? argv[++*i] : "";
}

const char *
moat_ctl_label_take (json_t *labels, const char *kv)
{
  if (!strchr (kv, '=') || json_array_append_new (labels, json_string (kv)) < 0)
    return "--label \"%s\": want KEY=VALUE";
  return NULL;
}

const char *
moat_ctl_annotation_take (json_t *annotations, const char *kv)
{
  const char *eq = strchr (kv, '=');
  char key[128];

  if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof (key)
      || strncasecmp (kv, MOAT_ANNOT_PREFIX, strlen (MOAT_ANNOT_PREFIX)) != 0)
    return "--annotation \"%s\": want io.moat.KEY=VALUE";
  snprintf (key, sizeof (key), "%.*s", (int)(eq - kv), kv);
  if (strcasecmp (key, MOAT_ANNOT_PREFIX "network") == 0)
    return "--annotation \"%s\": the network is --network's";
  if (json_object_set_new (annotations, key, json_string (eq + 1)) < 0)
    return "--annotation \"%s\": out of memory";
  return NULL;
}
