/* SPDX-License-Identifier: Apache-2.0 */
/* A network configuration found by name (see netfind.h). */
#include "state/netfind.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "model/config.h"
#include "state/state.h"

#define MOAT_PLUGIN_TYPE "moat"

const char *
moat_network_dirs (void)
{
  const char *d = getenv ("MOAT_NETWORK_DIRS");

  return d && *d ? d : MOAT_NETWORK_DIRS_DEFAULT;
}

/* --- one file ------------------------------------------------------------- */

/* A list's version: "cniVersion", else the newest of "cniVersions" that
 * moat speaks (libcni picks the newest it speaks); NULL when neither. */
static const char *
list_version (json_t *doc)
{
  json_t *versions = json_object_get (doc, "cniVersions"), *v;
  const char *best = NULL;
  size_t i;

  if (json_object_get (doc, "cniVersion"))
    return json_string_value (json_object_get (doc, "cniVersion"));
  json_array_foreach (json_is_array (versions) ? versions : NULL, i, v)
  {
    const char *s = json_string_value (v);
    if (moat_cni_version_index (s) >= 0 && (!best || moat_cni_version_cmp (s, best) > 0))
      best = s;
  }
  return best;
}

/* The conflist's first plugin of type "moat", borrowed; NULL when none. */
static int
moat_plugin_of (json_t *plugins, const char *file, json_t **ret, moat_err_t *err)
{
  size_t i;
  json_t *p;

  *ret = NULL;
  if (!json_is_array (plugins))
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: plugins: must be an array of objects", file);
  json_array_foreach (plugins, i, p)
  {
    const char *type = json_string_value (json_object_get (p, "type"));

    if (!json_is_object (p))
      return moat_error (err, MOAT_E_CONFIG, 0, "%s: plugins: must be an array of objects", file);
    if (type && strcmp (type, MOAT_PLUGIN_TYPE) == 0)
      {
        *ret = p;
        return 0;
      }
  }
  return 0;
}

/* The plugin's configuration as a runtime hands it over: a copy, with the
 * network's name and version put in (libcni's InjectConf). */
static int
inject (json_t *plugin, const char *name, json_t *version, const char *file, json_t **ret,
        moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *conf = json_deep_copy (plugin);

  if (!conf || json_object_set_new (conf, "name", json_string (name)) < 0
      || (version && json_object_set (conf, "cniVersion", version) < 0))
    return moat_error (err, MOAT_E_IO, ENOMEM, "%s", file);
  *ret = TAKE_PTR (conf);
  return 1;
}

int
moat_netfind_parse (const char *text, size_t len, const char *file, const char *name, json_t **ret,
                    moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *doc = NULL;
  _cleanup_ (json_decrefp) json_t *version = NULL;
  json_t *plugins, *plugin = NULL;
  json_error_t jerr;
  const char *own, *v;

  *ret = NULL;
  doc = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!doc)
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: line %d: %s", file, jerr.line, jerr.text);
  if (!json_is_object (doc))
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: not a JSON object", file);
  own = json_string_value (json_object_get (doc, "name"));
  if (!own)
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: name: missing or not a string", file);
  if (strcmp (own, name) != 0)
    return 0;
  plugins = json_object_get (doc, "plugins");
  if (!plugins)
    {
      const char *type = json_string_value (json_object_get (doc, "type"));
      if (!type || strcmp (type, MOAT_PLUGIN_TYPE) != 0)
        return moat_error (err, MOAT_E_CONFIG, 0,
                           "%s: network \"%s\" has no plugin of type \"" MOAT_PLUGIN_TYPE "\"",
                           file, name);
      return inject (doc, name, NULL, file, ret, err);
    }
  if (moat_plugin_of (plugins, file, &plugin, err) < 0)
    return -1;
  if (!plugin)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "%s: network \"%s\" has no plugin of type \"" MOAT_PLUGIN_TYPE "\"", file,
                       name);
  /* A malformed version is the plugin's to report, naming the key. */
  v = list_version (doc);
  version = v ? json_string (v) : json_incref (json_object_get (doc, "cniVersion"));
  return inject (plugin, name, version, file, ret, err);
}

/* --- the directories ------------------------------------------------------ */

static bool
has_config_suffix (const char *name)
{
  static const char *const suffixes[] = { ".conflist", ".conf", ".json" };
  size_t n = strlen (name);

  for (size_t i = 0; i < ARRAY_SIZE (suffixes); i++)
    {
      size_t s = strlen (suffixes[i]);
      if (n > s && strcmp (name + n - s, suffixes[i]) == 0)
        return true;
    }
  return false;
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

static void
files_free (char **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free (v[i]);
  free (v);
}

/* The configuration files of dir, sorted; an empty list when dir does not
 * exist. */
static int
config_files (const char *dir, char ***ret, size_t *ret_n, moat_err_t *err)
{
  _cleanup_ (closedirp) DIR *d = opendir (dir);
  char **v = NULL;
  size_t n = 0;
  struct dirent *de;

  *ret = NULL;
  *ret_n = 0;
  if (!d)
    return errno == ENOENT || errno == ENOTDIR
               ? 0
               : moat_error (err, MOAT_E_CONFIG, errno, "network directory \"%s\"", dir);
  while ((de = readdir (d)))
    {
      struct stat st;
      char **nv;

      if (!has_config_suffix (de->d_name) || fstatat (dirfd (d), de->d_name, &st, 0) < 0
          || !S_ISREG (st.st_mode))
        continue;
      nv = realloc (v, (n + 1) * sizeof (*v));
      if (nv)
        v = nv;
      if (!nv || !(v[n] = strdup (de->d_name)))
        {
          files_free (v, n);
          return moat_error (err, MOAT_E_IO, ENOMEM, "network directory \"%s\"", dir);
        }
      n++;
    }
  if (n)
    qsort (v, n, sizeof (*v), compare_names);
  *ret = v;
  *ret_n = n;
  return 0;
}

static int
read_file (const char *path, char **ret, size_t *ret_len, moat_err_t *err)
{
  if (moat_read_file (path, MOAT_NETWORK_FILE_MAX, ret, ret_len) == 0)
    return 0;
  if (errno == EFBIG)
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: larger than %d KiB", path,
                       MOAT_NETWORK_FILE_MAX >> 10);
  return moat_error (err, errno == ENOMEM ? MOAT_E_IO : MOAT_E_CONFIG, errno, "%s", path);
}

/* 1 and the configuration when dir holds network `name`, 0 if not. */
static int
search_dir (const char *dir, const char *name, json_t **ret, char **ret_file, moat_err_t *err)
{
  char **files = NULL;
  size_t n = 0;
  int r = 0;

  if (config_files (dir, &files, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n && r == 0; i++)
    {
      _cleanup_free_ char *path = NULL, *text = NULL;
      size_t len = 0;

      if (asprintf (&path, "%s/%s", dir, files[i]) < 0)
        {
          path = NULL;
          r = moat_error (err, MOAT_E_IO, ENOMEM, "network directory \"%s\"", dir);
          break;
        }
      r = read_file (path, &text, &len, err);
      if (r == 0)
        r = moat_netfind_parse (text, len, path, name, ret, err);
      if (r > 0)
        *ret_file = TAKE_PTR (path);
    }
  files_free (files, n);
  return r;
}

int
moat_netfind (const char *name, const char *dirs, char **ret_text, char **ret_file, moat_err_t *err)
{
  _cleanup_free_ char *copy = strdup (dirs ? dirs : moat_network_dirs ());
  char *save = NULL;

  *ret_text = NULL;
  *ret_file = NULL;
  if (!copy)
    return moat_error (err, MOAT_E_IO, ENOMEM, "network directories");
  for (char *d = strtok_r (copy, ":", &save); d; d = strtok_r (NULL, ":", &save))
    {
      _cleanup_ (json_decrefp) json_t *conf = NULL;
      _cleanup_free_ char *file = NULL;
      int r = search_dir (d, name, &conf, &file, err);

      if (r < 0)
        return -1;
      if (r == 0)
        continue;
      *ret_text = json_dumps (conf, JSON_COMPACT);
      if (!*ret_text)
        return moat_error (err, MOAT_E_IO, ENOMEM, "%s", file);
      *ret_file = TAKE_PTR (file);
      return 0;
    }
  return moat_error (err, MOAT_E_CONFIG, 0,
                     "network \"%s\" not found in %s (files *.conflist, *.conf, *.json)", name,
                     dirs ? dirs : moat_network_dirs ());
}
