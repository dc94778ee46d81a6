/* SPDX-License-Identifier: Apache-2.0 */
/* Landlock: where a confined moat binary may write (see landlock.h).
 * Plain syscalls with <linux/landlock.h>: no library. */
#include "kernel/landlock.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "kernel/confine.h"

/* Rights of later ABIs, for headers older than the kernel (Debian 12's
 * stop at ABI 2). */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

/* Every right that changes the file system, in ABI 1. */
#define WRITE_RIGHTS_ABI1                                                                          \
  (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE  \
   | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG      \
   | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK   \
   | LANDLOCK_ACCESS_FS_MAKE_SYM)

/* What moat (and host-local) does in its directories: regular files and
 * directories, written, renamed, removed. */
#define STATE_DIR_RIGHTS                                                                           \
  (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE  \
   | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REFER          \
   | LANDLOCK_ACCESS_FS_TRUNCATE)

/* Rights that make sense on a file rather than a directory. */
#define FILE_RIGHTS (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)

/* A new bridge's settings and its ports' (netlink.c); a kernel without
 * IPv6 has no ipv6/conf. */
static const struct
{
  const char *path;
  bool optional;
} sysctl_dirs[] = {
  { "/proc/sys/net/ipv4/conf", false },
  { "/proc/sys/net/ipv4/neigh", false },
  { "/proc/sys/net/ipv6/conf", true },
};

#define HOST_LOCAL_DATA_DIR "/var/lib/cni/networks"

void
moat_write_set_add (struct moat_write_set *w, const char *path, mode_t create_mode)
{
  struct moat_write_dir *d;

  for (size_t i = 0; i < w->n; i++)
    if (strcmp (w->dirs[i].path, path) == 0)
      return;
  if (w->n == MOAT_WRITE_DIRS_MAX || strlen (path) >= sizeof (d->path))
    {
      w->overflow = true;
      return;
    }
  d = &w->dirs[w->n++];
  memcpy (d->path, path, strlen (path) + 1);
  d->create_mode = create_mode;
}

void
moat_write_set_add_ipam (struct moat_write_set *w, json_t *ipam)
{
  const char *type = json_string_value (json_object_get (ipam, "type"));
  const char *data_dir = json_string_value (json_object_get (ipam, "dataDir"));

  if (!type)
    return; /* the built-in allocator: the run directory */
  if (strcmp (type, "host-local") == 0)
    moat_write_set_add (w, data_dir && *data_dir ? data_dir : HOST_LOCAL_DATA_DIR, 0755);
  else if (strcmp (type, "static") != 0 && strcmp (type, "dhcp") != 0)
    w->unknown_writer = true;
}

int
moat_landlock_abi (void)
{
  long abi;

  /* valgrind does not know the syscall: it would say so on stderr. */
  if (moat_under_valgrind ())
    return 0;
  abi = syscall (SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi < 0 ? 0 : (int)abi;
}

/* The rights this process handles, within what the ABI knows. */
static uint64_t
handled_rights (int abi)
{
  uint64_t r = WRITE_RIGHTS_ABI1;

  if (abi >= 2)
    r |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3)
    r |= LANDLOCK_ACCESS_FS_TRUNCATE;
  return r;
}

/* mkdir -p with `mode` for the directories it makes. */
static int
make_dirs (const char *path, mode_t mode, moat_err_t *err)
{
  char buf[PATH_MAX];
  size_t n = strlen (path);

  if (n >= sizeof (buf))
    return moat_error (err, MOAT_E_IO, ENAMETOOLONG, "landlock: %s", path);
  memcpy (buf, path, n + 1);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/')
      {
        *p = '\0';
        if (mkdir (buf, mode) < 0 && errno != EEXIST)
          return moat_error (err, MOAT_E_IO, errno, "landlock: cannot create \"%s\"", buf);
        *p = '/';
      }
  if (mkdir (buf, mode) < 0 && errno != EEXIST)
    return moat_error (err, MOAT_E_IO, errno, "landlock: cannot create \"%s\"", buf);
  return 0;
}

/* Allows `rights` beneath the directory `path` (or on the file `path`,
 * when `rights` are a file's); a missing one is skipped when `optional`. */
static int
allow_beneath (int ruleset, const char *path, uint64_t rights, bool optional, moat_err_t *err)
{
  struct landlock_path_beneath_attr rule = { .allowed_access = rights };
  bool file = !(rights & ~FILE_RIGHTS);
  _cleanup_close_ int fd = open (path, O_PATH | O_CLOEXEC | (file ? 0 : O_DIRECTORY));

  if (fd < 0 && optional && errno == ENOENT)
    return 0;
  if (fd < 0)
    return moat_error (err, MOAT_E_IO, errno, "landlock: %s", path);
  rule.parent_fd = fd;
  if (syscall (SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) < 0)
    return moat_error (err, MOAT_E_IO, errno, "landlock: cannot allow writes beneath %s", path);
  return 0;
}

/* /proc/sys/net is the namespace of the thread that looks it up: the
 * container's ipv6/conf is another directory than the host's. The
 * thread enters the namespace to open it and always comes back. */
static int
allow_netns_sysctls (int ruleset, int netns_fd, uint64_t rights, moat_err_t *err)
{
  struct landlock_path_beneath_attr rule = { .allowed_access = rights };
  _cleanup_close_ int home = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  _cleanup_close_ int fd = -1;
  int saved = 0;

  if (home < 0)
    return moat_error (err, MOAT_E_IO, errno, "landlock: /proc/thread-self/ns/net");
  if (setns (netns_fd, CLONE_NEWNET) < 0)
    return moat_error (err, MOAT_E_IO, errno, "landlock: cannot enter the container's namespace");
  fd = open ("/proc/sys/net/ipv6/conf", O_PATH | O_CLOEXEC | O_DIRECTORY);
  saved = errno;
  if (setns (home, CLONE_NEWNET) < 0)
    return moat_error (err, MOAT_E_IO, errno, "landlock: cannot return to the host's namespace");
  if (fd < 0)
    return moat_error (err, MOAT_E_IO, saved, "landlock: the container's /proc/sys/net/ipv6/conf");
  rule.parent_fd = fd;
  if (syscall (SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) < 0)
    return moat_error (err, MOAT_E_IO, errno,
                       "landlock: cannot allow writes beneath the container's "
                       "/proc/sys/net/ipv6/conf");
  return 0;
}

static int
add_rules (int ruleset, const struct moat_write_set *w, uint64_t handled, moat_err_t *err)
{
  for (size_t i = 0; i < w->n; i++)
    {
      const struct moat_write_dir *d = &w->dirs[i];

      if (d->create_mode && make_dirs (d->path, d->create_mode, err) < 0)
        return -1;
      if (allow_beneath (ruleset, d->path, STATE_DIR_RIGHTS & handled, !d->create_mode, err) < 0)
        return -1;
    }
  if (w->file[0] && allow_beneath (ruleset, w->file, FILE_RIGHTS & handled, true, err) < 0)
    return -1;
  /* Shell redirections and daemons' habits: harmless. */
  if (allow_beneath (ruleset, "/dev/null", FILE_RIGHTS & handled, true, err) < 0)
    return -1;
  for (size_t i = 0; w->sysctls && i < sizeof (sysctl_dirs) / sizeof (sysctl_dirs[0]); i++)
    if (allow_beneath (ruleset, sysctl_dirs[i].path, LANDLOCK_ACCESS_FS_WRITE_FILE,
                       sysctl_dirs[i].optional, err)
        < 0)
      return -1;
  if (w->netns_sysctls
      && allow_netns_sysctls (ruleset, w->netns_fd, LANDLOCK_ACCESS_FS_WRITE_FILE, err) < 0)
    return -1;
  return 0;
}

int
moat_landlock_confine (const struct moat_write_set *w, moat_err_t *err)
{
  struct landlock_ruleset_attr attr = { 0 };
  _cleanup_close_ int ruleset = -1;
  int abi;

  if (w->overflow)
    return moat_error (err, MOAT_E_IO, ENAMETOOLONG, "landlock: too many or too long directories");
  if (w->unknown_writer)
    return MOAT_LANDLOCK_NONE;
  abi = moat_landlock_abi ();
  if (abi <= 0)
    return MOAT_LANDLOCK_NONE;
  attr.handled_access_fs = handled_rights (abi);
  ruleset = (int)syscall (SYS_landlock_create_ruleset, &attr, sizeof (attr), 0);
  if (ruleset < 0)
    return moat_error (err, MOAT_E_IO, errno, "landlock: cannot make a ruleset");
  if (add_rules (ruleset, w, attr.handled_access_fs, err) < 0)
    return -1;
  /* Unprivileged callers need it; root gets it from seccomp anyway. */
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return moat_error (err, MOAT_E_IO, errno, "landlock: cannot set no_new_privs");
  if (syscall (SYS_landlock_restrict_self, ruleset, 0) < 0)
    return moat_error (err, MOAT_E_IO, errno, "landlock: cannot restrict the process");
  return MOAT_LANDLOCK_ENFORCED;
}

int
moat_landlock_confine_early (moat_err_t *err)
{
  struct moat_write_set anywhere = { 0 };

  moat_write_set_add (&anywhere, "/", 0);
  return moat_landlock_confine (&anywhere, err);
}
