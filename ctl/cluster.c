/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl cluster (see cluster.h). */
#include "cluster.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "model/config.h"
#include "verbs/cluster.h"

static int
usage (const char *what)
{
  fprintf (stderr, "moatctl: cluster: %s\n", what);
  return 2;
}

static int
failed (const moat_err_t *err)
{
  fprintf (stderr, "moatctl: %s\n", err->msg);
  return 2;
}

static json_t *
view_read (const char *path, moat_err_t *err)
{
  json_error_t jerr;
  json_t *j
      = strcmp (path, "-") == 0 ? json_loadf (stdin, 0, &jerr) : json_load_file (path, 0, &jerr);

  if (!j)
    moat_error (err, MOAT_E_CONFIG, 0, "cluster apply: %s: %s (line %d)",
                strcmp (path, "-") == 0 ? "stdin" : path, jerr.text, jerr.line);
  return j;
}

static int
apply (const char *path, const char *node, bool json)
{
  _cleanup_ (json_decrefp) json_t *view = NULL;
  moat_err_t err = { 0 };

  if (!(view = view_read (path, &err)) || moat_cluster_sync (node, view, &err) < 0)
    return failed (&err);
  if (json)
    printf ("{\"cluster\": \"%s\", \"synced\": true}\n",
            json_string_value (json_object_get (view, "cluster")));
  else
    printf ("cluster %s: synced (%zu nodes, %zu members in the view)\n",
            json_string_value (json_object_get (view, "cluster")),
            json_array_size (json_object_get (view, "nodes")),
            json_array_size (json_object_get (view, "members")));
  return 0;
}

static int
members (const char *cluster, const char *node)
{
  _cleanup_ (json_decrefp) json_t *out = NULL;
  moat_err_t err = { 0 };

  if (!moat_cluster_name_valid (cluster))
    return usage ("members: CLUSTER: want a cluster's name");
  if (!(out = moat_cluster_local_members (cluster, node, &err)))
    return failed (&err);
  if (json_dumpf (out, stdout, JSON_INDENT (2) | JSON_SORT_KEYS) < 0 || putchar ('\n') == EOF)
    return 2;
  return 0;
}

static int
key (const char *cluster)
{
  char text[MOAT_WG_KEY_TEXT];
  moat_err_t err = { 0 };

  if (!moat_cluster_name_valid (cluster))
    return usage ("key: CLUSTER: want a cluster's name");
  if (moat_cluster_wg_public (cluster, text, &err) < 0)
    return failed (&err);
  printf ("%s\n", text);
  return 0;
}

int
moat_ctl_cluster (char **args, int n, const char *node, bool json)
{
  if (node && !moat_cluster_name_valid (node))
    return usage ("--node: want a node's name");
  if (n == 2 && strcmp (args[0], "apply") == 0)
    return apply (args[1], node, json);
  if (n == 2 && strcmp (args[0], "members") == 0)
    return members (args[1], node);
  if (n == 2 && strcmp (args[0], "key") == 0)
    return key (args[1]);
  return usage ("want apply FILE|-, members CLUSTER or key CLUSTER");
}
