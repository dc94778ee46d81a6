/* SPDX-License-Identifier: Apache-2.0 */
/* Host-network containers' records on disk (see hostnet.h). */
#include "state/hostnet.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "base/strv.h"
#include "model/config.h"
#include "state/state.h"

#define HOSTNET_DIR ".hostnet"

static int
hostnet_path (char *buf, size_t size, const char *container_id)
{
  int n = container_id
              ? snprintf (buf, size, "%s/" HOSTNET_DIR "/%s.json", moat_run_dir (), container_id)
              : snprintf (buf, size, "%s/" HOSTNET_DIR, moat_run_dir ());
  return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int
path_of (char *buf, size_t size, const char *container_id, moat_err_t *err)
{
  if (container_id && !moat_container_id_valid (container_id))
    return moat_error (err, MOAT_E_STATE, EINVAL, "host-network record: bad container id");
  if (hostnet_path (buf, size, container_id) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "host-network record");
  return 0;
}

int
moat_hostnet_write (const struct moat_hostnet *h, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *j = moat_hostnet_to_json (h);
  _cleanup_free_ char *text = NULL;
  char dir[4096], path[4096];

  if (!j || !(text = json_dumps (j, JSON_COMPACT)))
    return moat_error_nomem (err, "host-network record");
  if (path_of (dir, sizeof (dir), NULL, err) < 0
      || path_of (path, sizeof (path), h->container_id, err) < 0
      || moat_mkdir_p (dir, MOAT_E_STATE, err) < 0)
    return -1;
  return moat_write_atomic (path, text, err);
}

int
moat_hostnet_read (const char *container_id, struct moat_hostnet *ret, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *root = NULL;
  char path[4096];
  json_error_t jerr;

  memset (ret, 0, sizeof (*ret));
  if (path_of (path, sizeof (path), container_id, err) < 0)
    return -1;
  if (access (path, F_OK) < 0)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_STATE, errno, "\"%s\"", path);
  root = json_load_file (path, 0, &jerr);
  if (!root)
    return moat_error (err, MOAT_E_STATE, 0, "\"%s\": %s", path, jerr.text);
  if (moat_hostnet_from_json (root, ret, err) < 0)
    return moat_error_prefix (err, "\"%s\"", path);
  return 1;
}

int
moat_hostnet_remove (const char *container_id, moat_err_t *err)
{
  char path[4096];

  if (path_of (path, sizeof (path), container_id, err) < 0)
    return -1;
  return moat_file_remove_state (path, MOAT_E_STATE, err);
}

int
moat_hostnet_list (char ***ret_ids, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **ids = calloc (1, sizeof (char *));
  char dir[4096];
  size_t n = 0;
  DIR *d;
  struct dirent *e;

  if (!ids)
    return moat_error_nomem (err, "host-network records");
  if (path_of (dir, sizeof (dir), NULL, err) < 0)
    return -1;
  d = opendir (dir);
  if (!d && errno != ENOENT)
    return moat_error (err, MOAT_E_STATE, errno, "open \"%s\"", dir);
  while (d && (e = readdir (d)))
    {
      size_t len = strlen (e->d_name);
      _cleanup_free_ char *id = NULL;

      if (len <= 5 || strcmp (e->d_name + len - 5, ".json") != 0)
        continue;
      id = strndup (e->d_name, len - 5);
      if (!id || moat_strv_push (&ids, &n, id) < 0)
        {
          closedir (d);
          return moat_error_nomem (err, "host-network records");
        }
    }
  if (d)
    closedir (d);
  *ret_ids = TAKE_PTR (ids);
  return 0;
}

int
moat_hostnet_on_network (const char *network, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **ids = NULL;

  if (moat_hostnet_list (&ids, err) < 0)
    return -1;
  for (size_t i = 0; ids[i]; i++)
    {
      _cleanup_ (moat_hostnet_free) struct moat_hostnet h = { 0 };
      int r = moat_hostnet_read (ids[i], &h, err);

      if (r < 0)
        return -1;
      if (r == 1 && strcmp (h.network, network) == 0)
        return 1;
    }
  return 0;
}
