/* SPDX-License-Identifier: Apache-2.0 */
/* Cluster mode's state on disk: other nodes' records, this node's
 * cluster networks (see remote.h). */
#include "state/remote.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/ip6.h"
#include "base/file.h"
#include "base/strv.h"
#include "base/types.h"
#include "model/result.h"
#include "state/state.h"

#define REMOTE_DIR "remote"
#define CLUSTER_DIR ".cluster/networks"

static int
remote_path (char *buf, size_t size, const char *network, const char *key, moat_err_t *err)
{
  char leaf[512];
  int n = key ? snprintf (leaf, sizeof (leaf), REMOTE_DIR "/%s.json", key)
              : snprintf (leaf, sizeof (leaf), REMOTE_DIR);

  if (n < 0 || (size_t)n >= sizeof (leaf) || moat_state_path (buf, size, network, leaf) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "remote record of \"%s\"", network);
  return 0;
}

int
moat_remote_write (const char *network, const char *key, const char *text, moat_err_t *err)
{
  char dir[4096], path[4096];

  if (remote_path (dir, sizeof (dir), network, NULL, err) < 0
      || remote_path (path, sizeof (path), network, key, err) < 0)
    return -1;
  if (mkdir (dir, 0700) < 0 && errno != EEXIST)
    return moat_error (err, MOAT_E_STATE, errno, "mkdir \"%s\"", dir);
  return moat_write_atomic (path, text, err);
}

static int
json_names (const char *dir, const char *what, char ***ret, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **names = calloc (1, sizeof (char *));
  _cleanup_ (closedirp) DIR *d = NULL;
  size_t n = 0;
  struct dirent *e;

  if (!names)
    return moat_error_nomem (err, what);
  d = opendir (dir);
  if (!d && errno != ENOENT)
    return moat_error (err, MOAT_E_STATE, errno, "opendir \"%s\"", dir);
  while (d && (e = readdir (d)))
    {
      size_t len = strlen (e->d_name);

      if (e->d_name[0] == '.' || len <= 5 || strcmp (e->d_name + len - 5, ".json") != 0)
        continue;
      if (moat_strv_push_take (&names, &n, strndup (e->d_name, len - 5)) < 0)
        return moat_error_nomem (err, what);
    }
  *ret = TAKE_PTR (names);
  return 0;
}

int
moat_remote_list (const char *network, char ***ret_keys, moat_err_t *err)
{
  char dir[4096];

  if (remote_path (dir, sizeof (dir), network, NULL, err) < 0)
    return -1;
  return json_names (dir, "remote records", ret_keys, err);
}

int
moat_remote_read (const char *network, const char *key, struct moat_record *ret, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *root = NULL;
  char path[4096];
  json_error_t jerr;

  if (remote_path (path, sizeof (path), network, key, err) < 0)
    return -1;
  if (access (path, F_OK) < 0)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_STATE, errno, "\"%s\"", path);
  root = json_load_file (path, 0, &jerr);
  if (!root)
    return moat_error (err, MOAT_E_STATE, 0, "\"%s\": %s", path, jerr.text);
  if (moat_record_from_json (root, ret, err) < 0)
    return moat_error_prefix (err, "\"%s\"", path);
  if (!ret->remote_node)
    {
      moat_record_free (ret);
      return moat_error (err, MOAT_E_STATE, 0, "\"%s\": not a remote record", path);
    }
  return 1;
}

int
moat_remote_remove (const char *network, const char *key, moat_err_t *err)
{
  char path[4096];

  if (remote_path (path, sizeof (path), network, key, err) < 0)
    return -1;
  return moat_file_remove_state (path, MOAT_E_STATE, err);
}

int
moat_remote_any (const char *network, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **keys = NULL;

  if (moat_remote_list (network, &keys, err) < 0)
    return -1;
  return keys[0] != NULL;
}

/* --- this node's cluster networks ------------------------------------------ */

static int
cluster_path (char *buf, size_t size, const char *network, moat_err_t *err)
{
  int n = network ? snprintf (buf, size, "%s/" CLUSTER_DIR "/%s.json", moat_run_dir (), network)
                  : snprintf (buf, size, "%s/" CLUSTER_DIR, moat_run_dir ());

  if (n < 0 || (size_t)n >= size)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "cluster file");
  return 0;
}

void
moat_cluster_net_free (struct moat_cluster_net *n)
{
  free (n->network);
  free (n->cluster);
  free (n->node);
  free (n->store);
  free (n->bridge);
  memset (n, 0, sizeof (*n));
}

void
moat_cluster_nets_free (struct moat_cluster_net *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    moat_cluster_net_free (&v[i]);
  free (v);
}

int
moat_cluster_net_write (const struct moat_cluster_net *n, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *j
      = json_pack ("{s:s, s:s, s:s, s:s*, s:s, s:o}", "network", n->network, "cluster", n->cluster,
                   "node", n->node, "store", n->store, "bridge", n->bridge, "subnet",
                   moat_ipv4_json (n->subnet, n->prefixlen));
  _cleanup_free_ char *text = NULL;
  char dir[4096], path[4096], subnet6[INET6_ADDRSTRLEN + 4];

  if (j && n->wireguard && json_object_set_new (j, "encrypt", json_string ("wireguard")) < 0)
    return moat_error_nomem (err, "cluster file");

  if (j && n->have_subnet6)
    {
      inet_ntop (AF_INET6, &n->subnet6, subnet6, INET6_ADDRSTRLEN);
      strcat (subnet6, "/64");
      if (json_object_set_new (j, "subnet6", json_string (subnet6)) < 0)
        return moat_error_nomem (err, "cluster file");
    }
  if (!j || !(text = json_dumps (j, JSON_COMPACT | JSON_SORT_KEYS)))
    return moat_error_nomem (err, "cluster file");
  if (cluster_path (dir, sizeof (dir), NULL, err) < 0
      || cluster_path (path, sizeof (path), n->network, err) < 0
      || moat_mkdir_p (dir, MOAT_E_STATE, err) < 0)
    return -1;
  return moat_write_atomic (path, text, err);
}

static char *
dup_str (json_t *j, const char *key)
{
  const char *s = json_string_value (json_object_get (j, key));
  return s ? strdup (s) : NULL;
}

int
moat_cluster_net_read (const char *network, struct moat_cluster_net *ret, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *root = NULL;
  char path[4096];
  json_error_t jerr;
  const char *subnet, *subnet6;
  int len6 = 0;

  memset (ret, 0, sizeof (*ret));
  if (cluster_path (path, sizeof (path), network, err) < 0)
    return -1;
  if (access (path, F_OK) < 0)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_STATE, errno, "\"%s\"", path);
  root = json_load_file (path, 0, &jerr);
  if (!root)
    return moat_error (err, MOAT_E_STATE, 0, "\"%s\": %s", path, jerr.text);
  ret->network = dup_str (root, "network");
  ret->cluster = dup_str (root, "cluster");
  ret->node = dup_str (root, "node");
  ret->store = dup_str (root, "store");
  ret->bridge = dup_str (root, "bridge");
  ret->wireguard = json_object_get (root, "encrypt") != NULL;
  subnet = json_string_value (json_object_get (root, "subnet"));
  subnet6 = json_string_value (json_object_get (root, "subnet6"));
  ret->have_subnet6 = subnet6 != NULL;
  if (!ret->network || !ret->cluster || !ret->node || !ret->bridge || !subnet
      || moat_parse_cidr (subnet, &ret->subnet, &ret->prefixlen) < 0
      || (subnet6 && (moat_parse_cidr6 (subnet6, &ret->subnet6, &len6) < 0 || len6 != 64)))
    {
      moat_cluster_net_free (ret);
      return moat_error (err, MOAT_E_STATE, 0, "\"%s\": malformed", path);
    }
  return 1;
}

int
moat_cluster_nets_list (const char *cluster, struct moat_cluster_net **ret, size_t *ret_n,
                        moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **names = NULL;
  struct moat_cluster_net *v;
  char dir[4096];
  size_t n = 0, count = 0;

  if (cluster_path (dir, sizeof (dir), NULL, err) < 0
      || json_names (dir, "cluster files", &names, err) < 0)
    return -1;
  while (names[count])
    count++;
  v = calloc (count + 1, sizeof (*v));
  if (!v)
    return moat_error_nomem (err, "cluster files");
  for (size_t i = 0; names[i]; i++)
    {
      int r = moat_cluster_net_read (names[i], &v[n], err);

      if (r < 0)
        {
          moat_cluster_nets_free (v, n);
          return -1;
        }
      if (r == 0)
        continue;
      if (cluster && strcmp (v[n].cluster, cluster) != 0)
        moat_cluster_net_free (&v[n]);
      else
        n++;
    }
  *ret = v;
  *ret_n = n;
  return 0;
}
