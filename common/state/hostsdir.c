/* SPDX-License-Identifier: Apache-2.0 */
/* A network's hosts files and its name server's pid file (hostsdir.h). */
#include "state/hostsdir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "state/rundir.h"

int
moat_hostsdir_path (char *buf, size_t size, const char *network)
{
  return moat_state_path (buf, size, network, MOAT_HOSTSDIR);
}

int
moat_dns_pidfile_path (char *buf, size_t size, const char *network)
{
  return moat_state_path (buf, size, network, MOAT_DNS_PIDFILE);
}

/* hosts.d, made when missing (its network directory exists: the record
 * was written first). */
static int
open_hostsdir (const char *network, bool create, int *ret_fd, moat_err_t *err)
{
  char dir[4096];

  if (moat_hostsdir_path (dir, sizeof (dir), network) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "hosts directory of \"%s\"", network);
  if (create && mkdir (dir, 0755) < 0 && errno != EEXIST)
    return moat_error (err, MOAT_E_STATE, errno, "mkdir \"%s\"", dir);
  *ret_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (*ret_fd < 0 && !(errno == ENOENT && !create))
    return moat_error (err, MOAT_E_STATE, errno, "open \"%s\"", dir);
  return 0;
}

int
moat_hosts_write (const char *network, const char *key, const char *line, moat_err_t *err)
{
  _cleanup_close_ int dirfd = -1;
  char tmp[512];
  int fd;

  if (!*line)
    return moat_hosts_remove (network, key, err);
  if (snprintf (tmp, sizeof (tmp), ".%s.tmp", key) >= (int)sizeof (tmp))
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "hosts file of \"%s\"", key);
  if (open_hostsdir (network, true, &dirfd, err) < 0)
    return -1;
  /* The mode whatever the umask: dnsmasq reads as its own user. */
  fd = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0 || fchmod (fd, 0644) < 0 || fchmod (dirfd, 0755) < 0)
    {
      int saved = errno;
      if (fd >= 0)
        {
          close (fd);
          unlinkat (dirfd, tmp, 0);
        }
      return moat_error (err, MOAT_E_STATE, saved, "hosts file \"%s\" of network \"%s\"", key,
                         network);
    }
  if (moat_file_commit_at (dirfd, fd, tmp, key, line, strlen (line), 0, NULL) < 0)
    return moat_error (err, MOAT_E_STATE, errno, "hosts file \"%s\" of network \"%s\"", key,
                       network);
  return 0;
}

int
moat_hosts_remove (const char *network, const char *key, moat_err_t *err)
{
  _cleanup_close_ int dirfd = -1;

  if (open_hostsdir (network, false, &dirfd, err) < 0)
    return -1;
  if (dirfd >= 0 && unlinkat (dirfd, key, 0) < 0 && errno != ENOENT)
    return moat_error (err, MOAT_E_STATE, errno, "remove hosts file \"%s\" of network \"%s\"", key,
                       network);
  return 0;
}
