/* SPDX-License-Identifier: Apache-2.0 */
/* A host-network container's cgroup v2 group (see cgroup.h). */
#include "kernel/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "ruleset/ruleset.h"

#define PROC_FILE_MAX (64 * 1024)

static bool
is_cgroup2 (const char *path)
{
  struct statfs s;

  return statfs (path, &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC;
}

/* A v1 hierarchy holding net_cls or net_prio (/proc/cgroups: a non-zero
 * hierarchy id): the kernel's socket tagging is off once they are used. */
static int
check_no_net_v1 (const char *id, moat_err_t *err)
{
  _cleanup_free_ char *text = NULL;
  size_t len;
  char *save = NULL;

  if (moat_read_file ("/proc/cgroups", PROC_FILE_MAX, &text, &len) < 0)
    return 0; /* no v1 at all */
  for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      char name[64];
      int hierarchy;

      if (sscanf (line, "%63s %d", name, &hierarchy) == 2 && hierarchy != 0
          && (strcmp (name, "net_cls") == 0 || strcmp (name, "net_prio") == 0))
        return moat_error (err, MOAT_E_CONFIG, 0,
                           "host-network container \"%s\": the %s cgroup v1 controller is "
                           "mounted; once used it stops the kernel tagging sockets with their "
                           "cgroup v2, which moat's rules match",
                           id, name);
    }
  return 0;
}

/* The `0::` line of /proc/PID/cgroup into buf. */
static int
unified_path (const char *id, long long pid, char *buf, size_t size, moat_err_t *err)
{
  _cleanup_free_ char *text = NULL;
  char path[64];
  size_t len;
  char *save = NULL;

  snprintf (path, sizeof (path), "/proc/%lld/cgroup", pid);
  if (moat_read_file (path, PROC_FILE_MAX, &text, &len) < 0)
    return moat_error (err, MOAT_E_UNKNOWN, errno, "host-network container \"%s\": %s", id, path);
  for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    if (strncmp (line, "0::", 3) == 0)
      {
        if ((size_t)snprintf (buf, size, "%s", line + 3) >= size)
          break;
        return 0;
      }
  return moat_error (err, MOAT_E_CONFIG, 0,
                     "host-network container \"%s\": %s has no cgroup v2 line", id, path);
}

static unsigned
path_level (const char *path)
{
  unsigned n = 0;

  for (const char *p = path; *p; p++)
    if (*p != '/' && (p == path || p[-1] == '/'))
      n++;
  return n;
}

/* A cgroup v2 host: the container's own group, at the rules' level. */
static int
plan_v2 (const char *id, long long pid, struct moat_cgroup_plan *ret, moat_err_t *err)
{
  char path[PATH_MAX];
  unsigned level;

  if (unified_path (id, pid, path, sizeof (path), err) < 0)
    return -1;
  level = path_level (path);
  if (level != MOAT_HOSTNET_LEVEL)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "host-network container \"%s\": its cgroup \"%s\" is at level %u; moat's "
                       "rules match level %d (machine.slice/libpod-ID.scope, system.slice/UNIT)",
                       id, path, level, MOAT_HOSTNET_LEVEL);
  if ((size_t)snprintf (ret->dir, sizeof (ret->dir), "/sys/fs/cgroup%s", path) >= sizeof (ret->dir))
    return moat_error (err, MOAT_E_CONFIG, ENAMETOOLONG, "host-network container \"%s\"", id);
  return 0;
}

int
moat_cgroup_plan (const char *run_dir, const char *container_id, long long pid,
                  struct moat_cgroup_plan *ret, moat_err_t *err)
{
  memset (ret, 0, sizeof (*ret));
  if (pid <= 0)
    return moat_error (err, MOAT_E_UNKNOWN, 0,
                       "host-network container \"%s\": the state has no pid", container_id);
  if (check_no_net_v1 (container_id, err) < 0)
    return -1;
  if (is_cgroup2 ("/sys/fs/cgroup"))
    return plan_v2 (container_id, pid, ret, err);
  ret->own = true;
  if ((size_t)snprintf (ret->mount, sizeof (ret->mount), "%s/.cgroup2", run_dir)
          >= sizeof (ret->mount)
      || (size_t)snprintf (ret->dir, sizeof (ret->dir), "%s/moat/%s", ret->mount, container_id)
             >= sizeof (ret->dir))
    return moat_error (err, MOAT_E_CONFIG, ENAMETOOLONG, "host-network container \"%s\"",
                       container_id);
  ret->need_mount = !is_cgroup2 (ret->mount);
  return 0;
}

/* --- an existing group (moatctl host attach) ------------------------------ */

static bool
is_cgroup1 (const char *path)
{
  struct statfs s;

  return statfs (path, &s) == 0 && s.f_type == CGROUP_SUPER_MAGIC;
}

/* Where a path of the v2 hierarchy ("/system.slice/x.service") lives:
 * /sys/fs/cgroup on a v2 host, systemd's /sys/fs/cgroup/unified on a
 * hybrid one, else moat's own mount. */
static void
hierarchy_root (struct moat_cgroup_plan *ret, const char *run_dir)
{
  static const char *const roots[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };

  for (size_t i = 0; i < sizeof (roots) / sizeof (roots[0]); i++)
    if (is_cgroup2 (roots[i]))
      {
        snprintf (ret->mount, sizeof (ret->mount), "%s", roots[i]);
        return;
      }
  snprintf (ret->mount, sizeof (ret->mount), "%s/.cgroup2", run_dir);
  ret->need_mount = !is_cgroup2 (ret->mount);
}

int
moat_cgroup_plan_path (const char *run_dir, const char *name, const char *path,
                       struct moat_cgroup_plan *ret, moat_err_t *err)
{
  struct stat st;

  memset (ret, 0, sizeof (*ret));
  if (check_no_net_v1 (name, err) < 0)
    return -1;
  if (path[0] != '/')
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "--cgroup \"%s\": want an absolute path (a directory of a cgroup2 mount, "
                       "or a path of the hierarchy like /system.slice/x.service)",
                       path);
  if (stat (path, &st) == 0 && S_ISDIR (st.st_mode))
    {
      if (is_cgroup1 (path))
        return moat_error (err, MOAT_E_CONFIG, 0,
                           "--cgroup \"%s\": a cgroup v1 group; moat's rules match cgroup v2 "
                           "groups only",
                           path);
      if (!is_cgroup2 (path))
        return moat_error (err, MOAT_E_CONFIG, 0, "--cgroup \"%s\": not a cgroup", path);
      snprintf (ret->dir, sizeof (ret->dir), "%s", path);
      return 0;
    }
  hierarchy_root (ret, run_dir);
  if ((size_t)snprintf (ret->dir, sizeof (ret->dir), "%s%s", ret->mount, path) >= sizeof (ret->dir))
    return moat_error (err, MOAT_E_CONFIG, ENAMETOOLONG, "--cgroup \"%s\"", path);
  return 0;
}

/* The group's level: how many directories below its mount's root, found
 * by walking up while the parent is the same cgroup2 mount. */
static unsigned
dir_level (const char *dir)
{
  char path[PATH_MAX];
  unsigned level = 0;
  struct stat st, up;

  if (!realpath (dir, path) || stat (path, &st) < 0)
    return 0;
  for (char *slash = strrchr (path, '/'); slash && slash != path; slash = strrchr (path, '/'))
    {
      *slash = '\0';
      if (!is_cgroup2 (path) || stat (path, &up) < 0 || up.st_dev != st.st_dev)
        break;
      level++;
    }
  return level;
}

int
moat_cgroup_check_path (const struct moat_cgroup_plan *p, const char *path, moat_err_t *err)
{
  struct stat st;
  unsigned level;

  if (stat (p->dir, &st) < 0 || !S_ISDIR (st.st_mode) || !is_cgroup2 (p->dir))
    return moat_error (err, MOAT_E_CONFIG, 0, "--cgroup \"%s\": no such cgroup (%s)", path, p->dir);
  level = dir_level (p->dir);
  if (level != MOAT_HOSTNET_LEVEL)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "--cgroup \"%s\": at level %u; moat's rules match level %d "
                       "(system.slice/UNIT, SLICE/GROUP)",
                       path, level, MOAT_HOSTNET_LEVEL);
  return 0;
}

int
moat_cgroup_mount (const struct moat_cgroup_plan *p, moat_err_t *err)
{
  if (!p->need_mount)
    return 0;
  if (moat_mkdir_p (p->mount, MOAT_E_IO, err) < 0)
    return -1;
  if (mount ("none", p->mount, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0
      && !is_cgroup2 (p->mount)) /* another hook's mount won */
    return moat_error (err, MOAT_E_IO, errno, "mount cgroup2 on \"%s\"", p->mount);
  return 0;
}

static int
mkdir_once (const char *dir, moat_err_t *err)
{
  if (mkdir (dir, 0755) < 0 && errno != EEXIST)
    return moat_error (err, MOAT_E_IO, errno, "mkdir \"%s\"", dir);
  return 0;
}

static int
move_pid (const char *dir, long long pid, moat_err_t *err)
{
  char path[PATH_MAX + 16], text[32];
  _cleanup_close_ int fd = -1;
  int n = snprintf (text, sizeof (text), "%lld\n", pid);

  snprintf (path, sizeof (path), "%s/cgroup.procs", dir);
  fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || moat_write_all (fd, text, (size_t)n) < 0)
    return moat_error (err, MOAT_E_IO, errno, "move process %lld into \"%s\"", pid, dir);
  return 0;
}

int
moat_cgroup_join (const struct moat_cgroup_plan *p, long long pid, uint64_t *ret_id,
                  moat_err_t *err)
{
  char parent[PATH_MAX + 8];

  if (p->own)
    {
      snprintf (parent, sizeof (parent), "%s/moat", p->mount);
      if (mkdir_once (parent, err) < 0 || mkdir_once (p->dir, err) < 0
          || move_pid (p->dir, pid, err) < 0)
        return -1;
    }
  switch (moat_cgroup_id (p->dir, ret_id, err))
    {
    case 1:
      return 0;
    case 0:
      return moat_error (err, MOAT_E_UNKNOWN, ENOENT, "cgroup \"%s\"", p->dir);
    default:
      return -1;
    }
}

int
moat_cgroup_id (const char *dir, uint64_t *ret_id, moat_err_t *err)
{
  struct stat st;

  *ret_id = 0;
  if (stat (dir, &st) < 0)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_IO, errno, "stat \"%s\"", dir);
  *ret_id = (uint64_t)st.st_ino;
  return 1;
}

int
moat_cgroup_populated (const char *dir, moat_err_t *err)
{
  _cleanup_free_ char *text = NULL;
  char path[PATH_MAX + 16];
  size_t len;

  snprintf (path, sizeof (path), "%s/cgroup.events", dir);
  if (moat_read_file (path, 4096, &text, &len) < 0)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_IO, errno, "read \"%s\"", path);
  return strstr (text, "populated 1") != NULL;
}

/* Depth first: a group can go only once its sub-groups have. */
static int
remove_tree (const char *dir, int *ret_errno, moat_err_t *err)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  int r = 0;

  if (!d)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_IO, errno, "open \"%s\"", dir);
  while (r == 0 && (e = readdir (d)))
    {
      char sub[PATH_MAX];

      if (e->d_type != DT_DIR || strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
        continue;
      if ((size_t)snprintf (sub, sizeof (sub), "%s/%s", dir, e->d_name) >= sizeof (sub))
        r = moat_error (err, MOAT_E_IO, ENAMETOOLONG, "\"%s\"", dir);
      else
        r = remove_tree (sub, ret_errno, err);
    }
  closedir (d);
  if (r == 0 && rmdir (dir) < 0 && errno != ENOENT)
    {
      *ret_errno = errno;
      r = moat_error (err, MOAT_E_IO, errno, "rmdir \"%s\"", dir);
    }
  return r;
}

static int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A group whose last process was just reaped may refuse rmdir (EBUSY)
 * for a moment while the kernel lets it go: tried again, while
 * cgroup.events says no process is left, for at most a second (no sleep:
 * the confined hook may not; each try reads the file). */
int
moat_cgroup_remove (const char *dir, moat_err_t *err)
{
  int64_t until = now_ms () + 1000;
  int populated;

  for (;;)
    {
      moat_err_t busy = { 0 };
      int errnum = 0;

      if (remove_tree (dir, &errnum, &busy) == 0)
        return 0;
      populated = moat_cgroup_populated (dir, err);
      if (populated < 0)
        return -1;
      if (errnum != EBUSY || populated || now_ms () > until)
        {
          *err = busy;
          return populated ? moat_error_prefix (err, "processes left in it") : -1;
        }
    }
}
