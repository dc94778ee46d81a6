/* SPDX-License-Identifier: Apache-2.0 */
#include "state/state.h"

#include "state/remote.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/ifname.h"
#include "base/cleanup.h"
#include "base/file.h"
#include "base/strv.h"
#include "model/config.h"
#include "state/names.h"

/* Lock files are never removed: removing one while another process waits
 * on it, or is about to open it, would let two holders in at once. */
static int
lock_path (const char *path, int operation, int *ret_fd, moat_err_t *err)
{
  _cleanup_close_ int fd = -1;

  if (moat_mkdir_p (moat_run_dir (), MOAT_E_STATE, err) < 0)
    return -1;
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return moat_error (err, MOAT_E_STATE, errno, "open \"%s\"", path);
  if (flock (fd, operation) < 0)
    return moat_error (err, MOAT_E_STATE, errno, "lock \"%s\"", path);
  *ret_fd = TAKE_FD (fd);
  return 0;
}

int
moat_network_lock (const char *network, int *ret_fd, moat_err_t *err)
{
  char path[4096], dir[4096];

  if ((size_t)snprintf (path, sizeof (path), "%s/%s.lock", moat_run_dir (), network)
          >= sizeof (path)
      || moat_state_path (dir, sizeof (dir), network, NULL) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "state directory of \"%s\"", network);
  if (lock_path (path, LOCK_EX, ret_fd, err) < 0)
    return -1;
  if (moat_mkdir_p (dir, MOAT_E_STATE, err) < 0)
    {
      close (TAKE_FD (*ret_fd));
      return -1;
    }
  return 0;
}

int
moat_global_lock (int operation, int *ret_fd, moat_err_t *err)
{
  char path[4096];

  if ((size_t)snprintf (path, sizeof (path), "%s/.lock", moat_run_dir ()) >= sizeof (path))
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "%s", moat_run_dir ());
  return lock_path (path, operation, ret_fd, err);
}

int
moat_tokens_lock (int *ret_fd, moat_err_t *err)
{
  char path[4096];

  if ((size_t)snprintf (path, sizeof (path), "%s/.tokens.lock", moat_run_dir ()) >= sizeof (path))
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "%s", moat_run_dir ());
  return lock_path (path, LOCK_EX, ret_fd, err);
}

int
moat_publish_lock (int *ret_fd, moat_err_t *err)
{
  char path[4096];

  if ((size_t)snprintf (path, sizeof (path), "%s/.publish.lock", moat_run_dir ()) >= sizeof (path))
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "%s", moat_run_dir ());
  return lock_path (path, LOCK_EX, ret_fd, err);
}

static int
remove_tree (int fd, moat_err_t *err)
{
  _cleanup_ (closedirp) DIR *d = fdopendir (fd);
  struct dirent *de;

  if (!d)
    {
      close (fd);
      return moat_error (err, MOAT_E_STATE, errno, "opendir");
    }
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (de->d_type == DT_DIR)
        {
          int sub = openat (dirfd (d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          if (sub < 0)
            return moat_error (err, MOAT_E_STATE, errno, "open \"%s\"", de->d_name);
          if (remove_tree (sub, err) < 0)
            return -1;
          if (unlinkat (dirfd (d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
            return moat_error (err, MOAT_E_STATE, errno, "rmdir \"%s\"", de->d_name);
        }
      else if (unlinkat (dirfd (d), de->d_name, 0) < 0 && errno != ENOENT)
        return moat_error (err, MOAT_E_STATE, errno, "unlink \"%s\"", de->d_name);
    }
  return 0;
}

int
moat_state_sweep_temp (const char *network, const char *sub, moat_err_t *err)
{
  _cleanup_ (closedirp) DIR *d = NULL;
  char dir[4096];
  struct dirent *de;

  if (moat_state_path (dir, sizeof (dir), network, sub) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "state directory of \"%s\"", network);
  d = opendir (dir);
  if (!d)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_STATE, errno, "opendir \"%s\"", dir);
  while ((de = readdir (d)))
    {
      size_t n = strlen (de->d_name);

      if (n > 4 && strcmp (de->d_name + n - 4, ".tmp") == 0 && de->d_type != DT_DIR
          && unlinkat (dirfd (d), de->d_name, 0) < 0 && errno != ENOENT)
        return moat_error (err, MOAT_E_STATE, errno, "unlink \"%s/%s\"", dir, de->d_name);
    }
  return 0;
}

int
moat_network_dir_remove (const char *network, moat_err_t *err)
{
  char dir[4096];
  int fd;

  if (moat_state_path (dir, sizeof (dir), network, NULL) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "state directory of \"%s\"", network);
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_STATE, errno, "open \"%s\"", dir);
  if (remove_tree (fd, err) < 0)
    return moat_error_prefix (err, "%s", dir);
  if (rmdir (dir) < 0 && errno != ENOENT)
    return moat_error (err, MOAT_E_STATE, errno, "rmdir \"%s\"", dir);
  return 0;
}

int
moat_attachment_key (char *buf, size_t size, const char *container_id, const char *ifname)
{
  int n = snprintf (buf, size, "%s@%s", container_id, ifname);
  return n < 0 || (size_t)n >= size || n > MOAT_KEY_MAX ? -1 : 0;
}

const char *
moat_attachment_key_ifname (const char *key)
{
  const char *at = strchr (key, '@');

  return at ? at + 1 : NULL;
}

/* --- records -------------------------------------------------------------- */

static int
record_path (char *buf, size_t size, const char *network, const char *key)
{
  char leaf[512];

  if ((size_t)snprintf (leaf, sizeof (leaf), "%s.json", key) >= sizeof (leaf))
    return -1;
  return moat_state_path (buf, size, network, leaf);
}

int
moat_write_atomic (const char *path, const char *data, moat_err_t *err)
{
  static const char *const what[] = {
    [MOAT_FILE_CREATE] = "open",
    [MOAT_FILE_WRITE] = "write",
    [MOAT_FILE_RENAME] = "rename",
  };
  enum moat_file_step step;
  char tmp[4096];

  if ((size_t)snprintf (tmp, sizeof (tmp), "%s.tmp", path) >= sizeof (tmp))
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "%s", path);
  if (moat_file_write_at (AT_FDCWD, tmp, path, data, strlen (data), 0, &step) < 0)
    return moat_error (err, MOAT_E_STATE, errno, "%s \"%s\"", what[step], tmp);
  return 0;
}

/* "<network>/ids/<container id>[/<ifname>]": which attachments a container
 * has, without listing every record (the hook's lookup). */
static int
index_path (char *buf, size_t size, const char *network, const char *container_id,
            const char *ifname)
{
  char leaf[1024];

  if ((size_t)snprintf (leaf, sizeof (leaf), "ids/%s%s%s", container_id, ifname ? "/" : "",
                        ifname ? ifname : "")
      >= sizeof (leaf))
    return -1;
  return moat_state_path (buf, size, network, leaf);
}

static int
index_add (const char *network, const char *container_id, const char *ifname, moat_err_t *err)
{
  char path[4096];
  int fd;

  /* Not mkdir -p: a record is written into the network's directory as
   * it is, never into one made again after the network's last DEL. */
  if (moat_state_path (path, sizeof (path), network, "ids") < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "index of \"%s\"", container_id);
  if (mkdir (path, 0700) < 0 && errno != EEXIST)
    return moat_error (err, MOAT_E_STATE, errno, "mkdir \"%s\"", path);
  if (index_path (path, sizeof (path), network, container_id, NULL) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "index of \"%s\"", container_id);
  if (mkdir (path, 0700) < 0 && errno != EEXIST)
    return moat_error (err, MOAT_E_STATE, errno, "mkdir \"%s\"", path);
  if (index_path (path, sizeof (path), network, container_id, ifname) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "index of \"%s\"", container_id);
  fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return moat_error (err, MOAT_E_STATE, errno, "create \"%s\"", path);
  close (fd);
  return 0;
}

static int
index_remove (const char *network, const char *key, moat_err_t *err)
{
  char path[4096], id[512];
  const char *ifname = moat_attachment_key_ifname (key);
  size_t id_len = ifname ? (size_t)(ifname - 1 - key) : 0;

  if (!ifname || id_len >= sizeof (id))
    return 0;
  memcpy (id, key, id_len);
  id[id_len] = '\0';
  if (index_path (path, sizeof (path), network, id, ifname) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "index of \"%s\"", id);
  if (unlink (path) < 0 && errno != ENOENT)
    return moat_error (err, MOAT_E_STATE, errno, "unlink \"%s\"", path);
  if (index_path (path, sizeof (path), network, id, NULL) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "index of \"%s\"", id);
  if (rmdir (path) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
    return moat_error (err, MOAT_E_STATE, errno, "rmdir \"%s\"", path);
  return 0;
}

int
moat_record_write (const struct moat_record *r, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *j = moat_record_to_json (r);
  _cleanup_free_ char *text = NULL;
  char key[512], path[4096];

  if (!j || !(text = json_dumps (j, JSON_COMPACT)))
    return moat_error (err, MOAT_E_STATE, ENOMEM, "record of \"%s\"", r->container_id);
  if (moat_attachment_key (key, sizeof (key), r->container_id, r->ifname) < 0
      || record_path (path, sizeof (path), r->network, key) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "record of \"%s\"", r->container_id);
  /* Another node's container: in remote/, no index (no hook looks it up). */
  if (r->remote_node)
    return moat_remote_write (r->network, key, text, err);
  /* The index entry first: a crash in between leaves an entry without a
   * record, which the hook's poststop and DEL remove (moat_record_remove),
   * never a record that a lookup by container id misses. */
  if (index_add (r->network, r->container_id, r->ifname, err) < 0)
    return -1;
  return moat_write_atomic (path, text, err);
}

int
moat_record_read (const char *network, const char *key, struct moat_record *ret, moat_err_t *err)
{
  char path[4096];
  _cleanup_ (json_decrefp) json_t *root = NULL;
  json_error_t jerr;

  if (record_path (path, sizeof (path), network, key) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "record of \"%s\"", key);
  if (access (path, F_OK) < 0)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_STATE, errno, "\"%s\"", path);
  root = json_load_file (path, 0, &jerr);
  if (!root)
    return moat_error (err, MOAT_E_STATE, 0, "\"%s\": %s", path, jerr.text);
  if (moat_record_from_json (root, ret, err) < 0)
    return moat_error_prefix (err, "\"%s\"", path);
  return 1;
}

int
moat_record_remove (const char *network, const char *key, moat_err_t *err)
{
  char path[4096];

  if (record_path (path, sizeof (path), network, key) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "record of \"%s\"", key);
  /* With the .tmp a write killed before its rename left (write_atomic). */
  if (moat_file_remove_state (path, MOAT_E_STATE, err) < 0)
    return -1;
  return index_remove (network, key, err);
}

int
moat_index_sweep (const char *network, moat_err_t *err)
{
  _cleanup_ (closedirp) DIR *ids = NULL;
  char dir[4096], key[512], path[4096];
  struct dirent *de;

  if (moat_state_path (dir, sizeof (dir), network, "ids") < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "index of \"%s\"", network);
  ids = opendir (dir);
  if (!ids)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_STATE, errno, "opendir \"%s\"", dir);
  while ((de = readdir (ids)))
    {
      _cleanup_ (closedirp) DIR *one = NULL;
      struct dirent *e;
      int fd;

      if (de->d_name[0] == '.')
        continue;
      fd = openat (dirfd (ids), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0 || !(one = fdopendir (fd)))
        {
          if (fd >= 0)
            close (fd);
          continue;
        }
      while ((e = readdir (one)))
        {
          struct stat st;

          if (e->d_name[0] == '.'
              || moat_attachment_key (key, sizeof (key), de->d_name, e->d_name) < 0
              || record_path (path, sizeof (path), network, key) < 0 || stat (path, &st) == 0)
            continue;
          if (index_remove (network, key, err) < 0)
            return -1;
        }
    }
  return 0;
}

static bool
is_record_name (const char *name)
{
  size_t n = strlen (name);
  return name[0] != '.' && n > 5 && strcmp (name + n - 5, ".json") == 0 && strchr (name, '@');
}

int
moat_record_list_container (const char *network, const char *container_id, char ***ret_keys,
                            moat_err_t *err)
{
  _cleanup_ (closedirp) DIR *d = NULL;
  char dir[4096], key[512];
  char **keys = calloc (1, sizeof (*keys));
  size_t n = 0;
  struct dirent *de;

  if (!keys)
    return moat_error (err, MOAT_E_STATE, ENOMEM, "index of \"%s\"", container_id);
  if (index_path (dir, sizeof (dir), network, container_id, NULL) < 0)
    {
      free (keys);
      return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "index of \"%s\"", container_id);
    }
  d = opendir (dir);
  while (d && (de = readdir (d)))
    {
      if (de->d_name[0] == '.' || !moat_ifname_valid (de->d_name))
        continue;
      if (moat_attachment_key (key, sizeof (key), container_id, de->d_name) < 0
          || moat_strv_push_take (&keys, &n, strdup (key)) < 0)
        {
          moat_strv_free (keys);
          return moat_error (err, MOAT_E_STATE, ENOMEM, "index of \"%s\"", container_id);
        }
    }
  if (!d && errno != ENOENT && errno != ENOTDIR)
    {
      moat_strv_free (keys);
      return moat_error (err, MOAT_E_STATE, errno, "opendir \"%s\"", dir);
    }
  *ret_keys = keys;
  return 0;
}

int
moat_record_list (const char *network, char ***ret_keys, moat_err_t *err)
{
  char dir[4096];
  _cleanup_ (closedirp) DIR *d = NULL;
  char **keys = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;

  if (moat_state_path (dir, sizeof (dir), network, NULL) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "state directory of \"%s\"", network);
  d = opendir (dir);
  if (!d && errno != ENOENT)
    return moat_error (err, MOAT_E_STATE, errno, "opendir \"%s\"", dir);
  while (d && (de = readdir (d)))
    {
      if (!is_record_name (de->d_name))
        continue;
      if (n + 2 > cap)
        {
          char **nk;
          cap = cap ? cap * 2 : 16;
          nk = realloc (keys, cap * sizeof (*keys));
          if (!nk)
            {
              moat_strv_free (keys);
              return moat_error (err, MOAT_E_STATE, ENOMEM, "listing \"%s\"", dir);
            }
          keys = nk;
        }
      keys[n] = strndup (de->d_name, strlen (de->d_name) - 5);
      keys[++n] = NULL;
    }
  if (!keys)
    keys = calloc (1, sizeof (*keys));
  *ret_keys = keys;
  return keys ? 0 : moat_error (err, MOAT_E_STATE, ENOMEM, "listing \"%s\"", dir);
}

static int
dir_has_record (int dirfd)
{
  _cleanup_ (closedirp) DIR *d = fdopendir (dirfd);
  struct dirent *de;

  if (!d)
    {
      close (dirfd);
      return -1;
    }
  while ((de = readdir (d)))
    if (is_record_name (de->d_name))
      return 1;
  return 0;
}

/* An entry of the run dir that is a network's directory (the lock files
 * and ".lock" are not). */
static bool
is_network_dir (DIR *d, const struct dirent *de)
{
  struct stat st;

  if (de->d_name[0] == '.')
    return false;
  if (de->d_type == DT_UNKNOWN)
    return fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode);
  return de->d_type == DT_DIR;
}

int
moat_any_record (moat_err_t *err)
{
  _cleanup_ (closedirp) DIR *d = opendir (moat_run_dir ());
  struct dirent *de;

  if (!d)
    return errno == ENOENT
               ? 0
               : moat_error (err, MOAT_E_STATE, errno, "opendir \"%s\"", moat_run_dir ());
  while ((de = readdir (d)))
    {
      int fd, r;

      if (!is_network_dir (d, de))
        continue;
      /* When in doubt, there are records: the caller would delete tables. */
      fd = openat (dirfd (d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      r = fd < 0 ? -1 : dir_has_record (fd);
      /* Another node's containers (state/remote.h) keep the tables too:
       * their elements are there. */
      if (r == 0)
        {
          char remote[4096];

          if ((size_t)snprintf (remote, sizeof (remote), "%s/remote", de->d_name)
              >= sizeof (remote))
            return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "reading \"%s\"", de->d_name);
          fd = openat (dirfd (d), remote, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          r = fd < 0 ? (errno == ENOENT ? 0 : -1) : dir_has_record (fd);
        }
      if (r != 0)
        return r < 0 ? moat_error (err, MOAT_E_STATE, errno, "reading \"%s\"", de->d_name) : 1;
    }
  return 0;
}

/* The host end a record names; for a record that cannot be read, the name
 * the key gives its attachment (0: no key, so no name was ever made). */
static int
record_host_ifname (const char *network, const char *key, char **ret_name, moat_err_t *err)
{
  struct moat_names_key k;
  struct moat_record rec;
  moat_err_t unreadable = { 0 };
  char name[16];
  int r = moat_record_read (network, key, &rec, &unreadable);

  *ret_name = NULL;
  if (r == 0)
    return 0;
  if (r > 0)
    {
      *ret_name = strdup (rec.host_if);
      moat_record_free (&rec);
      return *ret_name ? 1 : moat_error (err, MOAT_E_STATE, ENOMEM, "host interface names");
    }
  r = moat_names_key_get (false, &k, err);
  if (r <= 0)
    return r;
  moat_host_ifname (&k, network, key, name);
  sodium_memzero (&k, sizeof (k));
  *ret_name = strdup (name);
  return *ret_name ? 1 : moat_error (err, MOAT_E_STATE, ENOMEM, "host interface names");
}

int
moat_host_ifnames_in_use (char ***ret_names, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **networks = NULL;
  _cleanup_ (moat_strv_freep) char **names = calloc (1, sizeof (*names));
  size_t n = 0;

  if (!names)
    return moat_error (err, MOAT_E_STATE, ENOMEM, "host interface names");
  if (moat_networks_list (&networks, err) < 0)
    return -1;
  for (char **net = networks; *net; net++)
    {
      _cleanup_ (moat_strv_freep) char **keys = NULL;

      if (moat_record_list (*net, &keys, err) < 0)
        return -1;
      for (char **k = keys; *k; k++)
        {
          char *name;
          int r = record_host_ifname (*net, *k, &name, err);

          if (r < 0)
            return -1;
          if (r > 0 && moat_strv_push_take (&names, &n, name) < 0)
            return moat_error (err, MOAT_E_STATE, ENOMEM, "host interface names");
        }
    }
  *ret_names = TAKE_PTR (names);
  return 0;
}

int
moat_networks_list (char ***ret_names, moat_err_t *err)
{
  _cleanup_ (closedirp) DIR *d = opendir (moat_run_dir ());
  char **names = calloc (1, sizeof (*names));
  size_t n = 0;
  struct dirent *de;

  *ret_names = NULL;
  if (!names)
    return moat_error (err, MOAT_E_STATE, ENOMEM, "networks");
  if (!d && errno != ENOENT)
    {
      free (names);
      return moat_error (err, MOAT_E_STATE, errno, "opendir \"%s\"", moat_run_dir ());
    }
  while (d && (de = readdir (d)))
    {
      if (!is_network_dir (d, de))
        continue;
      if (moat_strv_push_take (&names, &n, strdup (de->d_name)) < 0)
        {
          moat_strv_free (names);
          return moat_error (err, MOAT_E_STATE, ENOMEM, "networks");
        }
    }
  *ret_names = names;
  return 0;
}
