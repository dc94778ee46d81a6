/* SPDX-License-Identifier: Apache-2.0 */
/* IPv6-only networks' key ranges (keys4.h). */
#include "state/keys4.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "model/config.h"
#include "state/rundir.h"

struct in_addr
moat_keys4_range (unsigned n)
{
  return (struct in_addr){ htonl (MOAT_KEY4_NET + ((uint32_t)(n % MOAT_KEYS4_RANGES) << 16)) };
}

static int
keys_dir (char *buf, size_t size, moat_err_t *err)
{
  int n = snprintf (buf, size, "%s/.keys4", moat_run_dir ());

  if (n < 0 || (size_t)n >= size)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "key ranges directory");
  if (mkdir (moat_run_dir (), 0700) < 0 && errno != EEXIST)
    return moat_error (err, MOAT_E_STATE, errno, "mkdir \"%s\"", moat_run_dir ());
  if (mkdir (buf, 0700) < 0 && errno != EEXIST)
    return moat_error (err, MOAT_E_STATE, errno, "mkdir \"%s\"", buf);
  return 0;
}

/* 1 when the claim file `name` in `dirfd` names `network`. */
static int
claim_names (int dirfd, const char *name, const char *network)
{
  char buf[256];
  _cleanup_close_ int fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  ssize_t n;

  if (fd < 0)
    return 0;
  n = read (fd, buf, sizeof (buf) - 1);
  if (n < 0)
    return 0;
  buf[n] = '\0';
  return strcmp (buf, network) == 0;
}

/* The range number the network claimed: 1 and *ret, 0 none, -1 error. */
static int
claim_find (const char *dir, const char *network, long *ret, moat_err_t *err)
{
  _cleanup_ (closedirp) DIR *d = opendir (dir);
  struct dirent *de;

  if (!d)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_STATE, errno, "opendir \"%s\"", dir);
  while ((de = readdir (d)))
    {
      char *end;
      long n = strtol (de->d_name, &end, 10);

      if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end || n >= MOAT_KEYS4_RANGES)
        continue;
      if (claim_names (dirfd (d), de->d_name, network))
        {
          *ret = n;
          return 1;
        }
    }
  return 0;
}

/* FNV-1a of the name: where a network starts looking, so that networks
 * made at once rarely race for one range. */
static unsigned
name_hash (const char *s)
{
  uint32_t h = 2166136261u;

  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

int
moat_keys4_claim (const char *network, struct in_addr *ret, moat_err_t *err)
{
  char dir[4096], tmp[300], name[16];
  unsigned start = name_hash (network) % MOAT_KEYS4_RANGES;
  _cleanup_close_ int dirfd = -1;
  long found;
  int r;

  if (keys_dir (dir, sizeof (dir), err) < 0)
    return -1;
  r = claim_find (dir, network, &found, err);
  if (r < 0)
    return -1;
  if (r > 0)
    {
      *ret = moat_keys4_range ((unsigned)found);
      return 0;
    }
  dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return moat_error (err, MOAT_E_STATE, errno, "open \"%s\"", dir);
  snprintf (tmp, sizeof (tmp), ".%s.tmp", network);
  for (unsigned i = 0; i < MOAT_KEYS4_RANGES; i++)
    {
      unsigned n = (start + i) % MOAT_KEYS4_RANGES;
      enum moat_file_step step;

      snprintf (name, sizeof (name), "%u", n);
      if (moat_file_write_at (dirfd, tmp, name, network, strlen (network), MOAT_FILE_NOREPLACE,
                              &step)
          == 0)
        {
          *ret = moat_keys4_range (n);
          return 0;
        }
      if (step != MOAT_FILE_RENAME || errno != EEXIST)
        return moat_error (err, MOAT_E_STATE, errno, "%s/%s", dir, name);
    }
  return moat_error (err, MOAT_E_IPAM, 0,
                     "network \"%s\": no free key range in 240.0.0.0/4 (%d IPv6-only networks)",
                     network, MOAT_KEYS4_RANGES);
}

int
moat_keys4_release (const char *network, moat_err_t *err)
{
  char dir[4096], path[4096 + 16];
  long n;
  int r;

  if (snprintf (dir, sizeof (dir), "%s/.keys4", moat_run_dir ()) >= (int)sizeof (dir))
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "key ranges directory");
  r = claim_find (dir, network, &n, err);
  if (r <= 0)
    return r;
  snprintf (path, sizeof (path), "%s/%ld", dir, n);
  if (unlink (path) < 0 && errno != ENOENT)
    return moat_error (err, MOAT_E_STATE, errno, "unlink \"%s\"", path);
  return 0;
}
