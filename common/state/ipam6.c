/* SPDX-License-Identifier: Apache-2.0 */
/* The built-in allocator's IPv6 side (ipam6.h). */
#include "state/ipam6.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "base/ip6.h"

/* The name is an IPv6 address in canonical text (never "last", a dotted
 * IPv4 name or a temporary file). */
static bool
parse_name6 (const char *name, struct in6_addr *ret)
{
  char back[INET6_ADDRSTRLEN];

  if (!strchr (name, ':') || moat_parse_ipv6 (name, ret) < 0)
    return false;
  return strcmp (moat_ipv6_text (ret, back), name) == 0;
}

static int
check_owner (const char *owner, moat_err_t *err)
{
  if (!owner || !*owner || strchr (owner, '\n'))
    return moat_error (err, MOAT_E_IPAM, 0, "owner key \"%s\" is not valid", owner ? owner : "");
  return 0;
}

static int
open_dir (const char *dir, bool create, int *ret_fd, moat_err_t *err)
{
  int fd;

  if (create && moat_mkdir_p (dir, MOAT_E_IPAM, err) < 0)
    return -1;
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && !(errno == ENOENT && !create))
    return moat_error (err, MOAT_E_IPAM, errno, "cannot open \"%s\"", dir);
  *ret_fd = fd;
  return 0;
}

/* 1 if the file `name` holds exactly "<owner>\n", 0 if not or absent. */
static int
held_by (int dirfd, const char *name, const char *owner, moat_err_t *err)
{
  _cleanup_close_ int fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  _cleanup_free_ char *text = NULL;
  size_t len = strlen (owner), n;

  if (fd < 0)
    return errno == ENOENT ? 0
                           : moat_error (err, MOAT_E_IPAM, errno, "address %s: cannot open", name);
  if (moat_read_fd (fd, len + 2, &text, &n) < 0)
    return errno == EFBIG ? 0
                          : moat_error (err, MOAT_E_IPAM, errno, "address %s: cannot read", name);
  return n == len + 1 && memcmp (text, owner, len) == 0 && text[len] == '\n';
}

/* 1 claimed, 0 the file exists (someone's). */
static int
claim (int dirfd, const char *name, const char *owner, moat_err_t *err)
{
  _cleanup_free_ char *content = NULL;
  enum moat_file_step step;
  char tmp[64];

  if (asprintf (&content, "%s\n", owner) < 0)
    return moat_error (err, MOAT_E_IPAM, ENOMEM, "address %s", name);
  snprintf (tmp, sizeof (tmp), ".claim.%ld", (long)getpid ());
  if (moat_file_write_at (dirfd, tmp, name, content, strlen (content), MOAT_FILE_NOREPLACE, &step)
      == 0)
    return 1;
  if (step == MOAT_FILE_RENAME && errno == EEXIST)
    return 0;
  return moat_error (err, MOAT_E_IPAM, errno, "address %s: cannot create", name);
}

/* 1 the owner has `a` now (new or already its), 0 someone else's. */
static int
take (int dirfd, const struct in6_addr *a, const char *owner, moat_err_t *err)
{
  char name[INET6_ADDRSTRLEN];
  int r;

  moat_ipv6_text (a, name);
  r = claim (dirfd, name, owner, err);
  return r != 0 ? r : held_by (dirfd, name, owner, err);
}

static int
check_requested (const struct moat_pool6 *pool, const struct in6_addr *a, moat_err_t *err)
{
  char addr[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN];

  moat_ipv6_text (a, addr);
  moat_ipv6_text (&pool->subnet, net);
  if (!moat_ipv6_in_prefix (a, &pool->subnet, MOAT_SUBNET6_PREFIXLEN))
    return moat_error (err, MOAT_E_CONFIG, 0, "ips: %s is outside subnet6 %s/%d", addr, net,
                       MOAT_SUBNET6_PREFIXLEN);
  if (moat_ipv6_host64 (a) == 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "ips: %s is the subnet-router address of %s/%d", addr,
                       net, MOAT_SUBNET6_PREFIXLEN);
  if (memcmp (a, &pool->gateway, sizeof (*a)) == 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "ips: %s is the gateway of %s/%d", addr, net,
                       MOAT_SUBNET6_PREFIXLEN);
  return 0;
}

static int
alloc_from_hint (int dirfd, const struct moat_pool6 *pool, const char *owner, uint64_t hint,
                 struct in6_addr *ret, moat_err_t *err)
{
  uint64_t gw = moat_ipv6_host64 (&pool->gateway);
  char net[INET6_ADDRSTRLEN];

  for (uint64_t i = 0; i < MOAT_IPAM6_TRIES; i++)
    {
      uint64_t host = hint + i;
      struct in6_addr a;
      int r;

      if (host == 0 || host == gw)
        continue;
      a = moat_ipv6_with_host64 (&pool->subnet, host);
      r = take (dirfd, &a, owner, err);
      if (r < 0)
        return -1;
      if (r > 0)
        {
          *ret = a;
          return 0;
        }
    }
  return moat_error (err, MOAT_E_IPAM, 0, "no free address in subnet6 %s/%d after %d tries",
                     moat_ipv6_text (&pool->subnet, net), MOAT_SUBNET6_PREFIXLEN, MOAT_IPAM6_TRIES);
}

int
moat_ipam6_alloc (const char *dir, const struct moat_pool6 *pool, const char *owner,
                  const struct in6_addr *requested, uint64_t hint, struct in6_addr *ret_addr,
                  moat_err_t *err)
{
  _cleanup_close_ int dirfd = -1;
  char name[INET6_ADDRSTRLEN];
  int r;

  if (check_owner (owner, err) < 0 || (requested && check_requested (pool, requested, err) < 0)
      || open_dir (dir, true, &dirfd, err) < 0)
    return -1;
  if (!requested)
    return alloc_from_hint (dirfd, pool, owner, hint, ret_addr, err);
  r = take (dirfd, requested, owner, err);
  if (r < 0)
    return -1;
  if (r == 0)
    return moat_error (err, MOAT_E_IPAM, 0, "address %s is already in use",
                       moat_ipv6_text (requested, name));
  *ret_addr = *requested;
  return 0;
}

static int
release_name (int dirfd, const char *name, moat_err_t *err)
{
  if (unlinkat (dirfd, name, 0) < 0 && errno != ENOENT)
    return moat_error (err, MOAT_E_IPAM, errno, "address %s: cannot release", name);
  return 0;
}

int
moat_ipam6_release (const char *dir, const struct in6_addr *addr, const char *owner,
                    moat_err_t *err)
{
  _cleanup_close_ int dirfd = -1;
  char name[INET6_ADDRSTRLEN];
  int r;

  if (check_owner (owner, err) < 0 || open_dir (dir, false, &dirfd, err) < 0)
    return -1;
  if (dirfd < 0)
    return 0;
  moat_ipv6_text (addr, name);
  r = held_by (dirfd, name, owner, err);
  if (r <= 0)
    return r;
  return release_name (dirfd, name, err);
}

/* Releases each IPv6 file whose owner is `owner` (keep == NULL) or none of
 * `keep` (owner == NULL). Temporary files are the IPv4 side's sweep. */
static int
release_matching (const char *dir, const char *owner, char *const *keep, moat_err_t *err)
{
  _cleanup_ (closedirp) DIR *d = NULL;
  struct dirent *de;
  int dirfd;

  if (open_dir (dir, false, &dirfd, err) < 0)
    return -1;
  if (dirfd < 0)
    return 0;
  d = fdopendir (dirfd);
  if (!d)
    {
      int saved = errno;
      close (dirfd);
      return moat_error (err, MOAT_E_IPAM, saved, "cannot read \"%s\"", dir);
    }
  while ((errno = 0, de = readdir (d)))
    {
      struct in6_addr a;
      int held = 0;

      if (!parse_name6 (de->d_name, &a))
        continue;
      if (owner)
        held = held_by (dirfd, de->d_name, owner, err);
      for (char *const *k = keep; keep && *k && held == 0; k++)
        held = held_by (dirfd, de->d_name, *k, err);
      if (held < 0)
        return -1;
      if ((owner ? held == 1 : held == 0) && release_name (dirfd, de->d_name, err) < 0)
        return -1;
    }
  if (errno)
    return moat_error (err, MOAT_E_IPAM, errno, "cannot read \"%s\"", dir);
  return 0;
}

int
moat_ipam6_release_owner (const char *dir, const char *owner, moat_err_t *err)
{
  if (check_owner (owner, err) < 0)
    return -1;
  return release_matching (dir, owner, NULL, err);
}

int
moat_ipam6_release_unowned (const char *dir, char *const *keep, moat_err_t *err)
{
  return release_matching (dir, NULL, keep, err);
}
