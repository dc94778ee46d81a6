/* SPDX-License-Identifier: Apache-2.0 */
#include "state/ipam.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"

extern char **environ;

/* ------------------------------------------------------------------ */
/* Built-in allocator                                                  */
/*                                                                     */
/* Idempotence of a retried ADD: an owner's address is found without   */
/* scanning the directory in two cases, which keeps every allocation   */
/* O(1) in the steady state:                                           */
/*  - a requested address the owner already holds is returned;         */
/*  - without a request, the address named by "last" is returned when  */
/*    the owner holds it (an ADD retried after a crash between the     */
/*    allocation and the caller's record: under the network lock no    */
/*    other allocation can have moved "last" in between).              */
/* Beyond that, idempotence is the caller's job: it keeps a record per */
/* attachment and passes the recorded address as `requested`; a DEL   */
/* without a record uses moat_ipam_release_owner (which scans).        */
/* ------------------------------------------------------------------ */

#define LAST_FILE "last"

/* The pool in host byte order. */
struct pool_range
{
  uint32_t net, bcast, gw;
  int prefixlen;
};

static void
addr_text (uint32_t host, char buf[INET_ADDRSTRLEN])
{
  struct in_addr a = { .s_addr = htonl (host) };
  inet_ntop (AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static int
pool_range_of (const struct moat_pool *pool, struct pool_range *ret, moat_err_t *err)
{
  char net[INET_ADDRSTRLEN];
  uint32_t mask, host;

  if (pool->prefixlen < 8 || pool->prefixlen > 30)
    return moat_error (err, MOAT_E_CONFIG, 0, "subnet: prefix length /%d out of range (8-30)",
                       pool->prefixlen);
  mask = UINT32_MAX << (32 - pool->prefixlen);
  host = ntohl (pool->subnet.s_addr);
  if (host & ~mask)
    {
      addr_text (host, net);
      return moat_error (err, MOAT_E_CONFIG, 0, "subnet: %s/%d has host bits set", net,
                         pool->prefixlen);
    }
  ret->net = host;
  ret->bcast = host | ~mask;
  ret->gw = ntohl (pool->gateway.s_addr);
  ret->prefixlen = pool->prefixlen;
  return 0;
}

/* "10.1.0.0/24" */
static void
pool_text (const struct pool_range *r, char buf[INET_ADDRSTRLEN + 4])
{
  char net[INET_ADDRSTRLEN];

  addr_text (r->net, net);
  snprintf (buf, INET_ADDRSTRLEN + 4, "%s/%d", net, r->prefixlen);
}

static bool
is_usable (const struct pool_range *r, uint32_t a)
{
  return a > r->net && a < r->bcast && a != r->gw;
}

static long
usable_count (const struct pool_range *r)
{
  long n = (long)(r->bcast - r->net) - 1;

  return r->gw > r->net && r->gw < r->bcast ? n - 1 : n;
}

/* The name parses as a dotted IPv4 address in canonical form (so "last"
 * and temporary files are never taken for addresses). */
static bool
parse_address_name (const char *name, uint32_t *ret)
{
  struct in_addr a;
  char back[INET_ADDRSTRLEN];

  if (inet_pton (AF_INET, name, &a) != 1)
    return false;
  inet_ntop (AF_INET, &a, back, sizeof (back));
  if (strcmp (back, name) != 0)
    return false;
  *ret = ntohl (a.s_addr);
  return true;
}

static int
check_owner (const char *owner, moat_err_t *err)
{
  if (!owner || !*owner || strchr (owner, '\n'))
    return moat_error (err, MOAT_E_IPAM, 0, "owner key \"%s\" is not valid", owner ? owner : "");
  return 0;
}

static int
check_requested (const struct pool_range *r, uint32_t a, moat_err_t *err)
{
  char addr[INET_ADDRSTRLEN], pool[INET_ADDRSTRLEN + 4];
  const char *what = NULL;

  addr_text (a, addr);
  pool_text (r, pool);
  if (a < r->net || a > r->bcast)
    return moat_error (err, MOAT_E_CONFIG, 0, "ips: %s is outside %s", addr, pool);
  if (a == r->net)
    what = "the network address";
  else if (a == r->bcast)
    what = "the broadcast address";
  else if (a == r->gw)
    what = "the gateway";
  if (what)
    return moat_error (err, MOAT_E_CONFIG, 0, "ips: %s is %s of %s", addr, what, pool);
  return 0;
}

/* Opens the allocator's directory. 0 and *ret_fd = -1 when it does not
 * exist and `create` is false. */
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

/* Reads at most size bytes. Returns the count, or -1 with errno. */
static ssize_t
read_upto (int fd, char *buf, size_t size)
{
  size_t got = 0;

  while (got < size)
    {
      ssize_t n = read (fd, buf + got, size - got);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      if (n == 0)
        break;
      got += (size_t)n;
    }
  return (ssize_t)got;
}

/* 1 if the file `name` holds exactly "<owner>\n", 0 if not or if it does
 * not exist, -1 on error. */
static int
held_by (int dirfd, const char *name, const char *owner, moat_err_t *err)
{
  size_t len = strlen (owner);
  _cleanup_free_ char *buf = malloc (len + 2);
  _cleanup_close_ int fd = -1;
  ssize_t n;

  if (!buf)
    return moat_error (err, MOAT_E_IPAM, ENOMEM, "address %s", name);
  fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return 0;
      return moat_error (err, MOAT_E_IPAM, errno, "address %s: cannot open", name);
    }
  n = read_upto (fd, buf, len + 2);
  if (n < 0)
    return moat_error (err, MOAT_E_IPAM, errno, "address %s: cannot read", name);
  return (size_t)n == len + 1 && memcmp (buf, owner, len) == 0 && buf[len] == '\n';
}

/* "."-prefixed names in the allocator's directory are its temporary files
 * (".claim.<pid>", ".last.<pid>"): never addresses, swept by
 * sweep_temp. */
static void
temp_name (char *buf, size_t size, const char *what)
{
  snprintf (buf, size, ".%s.%ld", what, (long)getpid ());
}

/* Creates the address file for `owner`. 1 claimed, 0 already exists.
 * The file appears with its content or not at all (a temporary file
 * renamed without replacing), so a crash never leaves an address file
 * that names no owner; a crash may leave the temporary file, which the
 * next DEL without a record or GC sweeps. */
static int
claim (int dirfd, const char *name, const char *owner, moat_err_t *err)
{
  _cleanup_free_ char *content = NULL;
  enum moat_file_step step;
  char tmp[64];

  if (asprintf (&content, "%s\n", owner) < 0)
    return moat_error (err, MOAT_E_IPAM, ENOMEM, "address %s", name);
  temp_name (tmp, sizeof (tmp), "claim");
  if (moat_file_write_at (dirfd, tmp, name, content, strlen (content), MOAT_FILE_NOREPLACE, &step)
      == 0)
    return 1;
  if (step == MOAT_FILE_CREATE)
    return moat_error (err, MOAT_E_IPAM, errno, "address %s: cannot create \"%s\"", name, tmp);
  if (step == MOAT_FILE_WRITE)
    return moat_error (err, MOAT_E_IPAM, errno, "address %s: cannot write", name);
  if (errno == EEXIST)
    return 0;
  return moat_error (err, MOAT_E_IPAM, errno, "address %s: cannot create", name);
}

/* Removes the temporary files a killed allocation left. Callers hold the
 * network's lock, so no allocation is under way. */
static int
sweep_temp (int dirfd, const char *name, moat_err_t *err)
{
  if (name[0] != '.' || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    return 0;
  if (unlinkat (dirfd, name, 0) < 0 && errno != ENOENT)
    return moat_error (err, MOAT_E_IPAM, errno, "cannot remove \"%s\"", name);
  return 0;
}

/* The address in "last", or 0 when missing or unreadable (a hint only). */
static uint32_t
read_last (int dirfd)
{
  char buf[INET_ADDRSTRLEN + 1];
  _cleanup_close_ int fd = openat (dirfd, LAST_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  ssize_t n;
  uint32_t a = 0;

  if (fd < 0)
    return 0;
  n = read_upto (fd, buf, sizeof (buf) - 1);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  buf[strcspn (buf, "\n")] = '\0';
  return parse_address_name (buf, &a) ? a : 0;
}

/* Replaces "last" atomically: a temporary file private to this process,
 * then rename. */
static int
write_last (int dirfd, const char *addr, moat_err_t *err)
{
  char tmp[64], content[INET_ADDRSTRLEN + 1];
  enum moat_file_step step;

  temp_name (tmp, sizeof (tmp), LAST_FILE);
  snprintf (content, sizeof (content), "%s\n", addr);
  if (moat_file_write_at (dirfd, tmp, LAST_FILE, content, strlen (content), 0, &step) == 0)
    return 0;
  if (step == MOAT_FILE_CREATE)
    return moat_error (err, MOAT_E_IPAM, errno, "cannot create \"%s\"", tmp);
  if (step == MOAT_FILE_WRITE)
    return moat_error (err, MOAT_E_IPAM, errno, "cannot write \"%s\"", tmp);
  return moat_error (err, MOAT_E_IPAM, errno, "cannot rename \"%s\" to \"%s\"", tmp, LAST_FILE);
}

/* Claims `a`; on success records it as last (undoing the claim if that
 * fails, so an error leaves nothing allocated). 1 claimed, 0 taken. */
static int
claim_and_remember (int dirfd, uint32_t a, const char *owner, moat_err_t *err)
{
  char name[INET_ADDRSTRLEN];
  int ret;

  addr_text (a, name);
  ret = claim (dirfd, name, owner, err);
  if (ret <= 0)
    return ret;
  if (write_last (dirfd, name, err) < 0)
    {
      unlinkat (dirfd, name, 0);
      return -1;
    }
  return 1;
}

static int
alloc_requested (int dirfd, uint32_t a, const char *owner, uint32_t *ret, moat_err_t *err)
{
  char name[INET_ADDRSTRLEN];
  int r;

  r = claim_and_remember (dirfd, a, owner, err);
  if (r < 0)
    return -1;
  if (r == 0)
    {
      addr_text (a, name);
      r = held_by (dirfd, name, owner, err);
      if (r < 0)
        return -1;
      if (r == 0)
        return moat_error (err, MOAT_E_IPAM, 0, "address %s is already in use", name);
    }
  *ret = a;
  return 0;
}

/* Round-robin from last + 1, wrapping, at most one pass over the pool. */
static int
alloc_next (int dirfd, const struct pool_range *pr, const char *owner, uint32_t *ret,
            moat_err_t *err)
{
  uint32_t first = pr->net + 1, count = pr->bcast - pr->net - 1;
  uint32_t last = read_last (dirfd), start = 0;
  char name[INET_ADDRSTRLEN], pool[INET_ADDRSTRLEN + 4];

  if (last && is_usable (pr, last))
    {
      int held;

      addr_text (last, name);
      held = held_by (dirfd, name, owner, err);
      if (held < 0)
        return -1;
      if (held)
        {
          *ret = last;
          return 0;
        }
    }
  if (last >= first && last < pr->bcast)
    start = last - first + 1;
  for (uint32_t i = 0; i < count; i++)
    {
      uint32_t a = first + (start + i) % count;
      int r;

      if (a == pr->gw)
        continue;
      r = claim_and_remember (dirfd, a, owner, err);
      if (r < 0)
        return -1;
      if (r > 0)
        {
          *ret = a;
          return 0;
        }
    }
  pool_text (pr, pool);
  return moat_error (err, MOAT_E_IPAM, 0, "no free address in %s", pool);
}

int
moat_ipam_alloc (const char *dir, const struct moat_pool *pool, const char *owner,
                 const struct in_addr *requested, struct in_addr *ret_addr, moat_err_t *err)
{
  _cleanup_close_ int dirfd = -1;
  struct pool_range pr;
  uint32_t a = 0;
  int r;

  if (pool_range_of (pool, &pr, err) < 0 || check_owner (owner, err) < 0)
    return -1;
  if (requested && check_requested (&pr, ntohl (requested->s_addr), err) < 0)
    return -1;
  if (open_dir (dir, true, &dirfd, err) < 0)
    return -1;
  r = requested ? alloc_requested (dirfd, ntohl (requested->s_addr), owner, &a, err)
                : alloc_next (dirfd, &pr, owner, &a, err);
  if (r < 0)
    return -1;
  ret_addr->s_addr = htonl (a);
  return 0;
}

int
moat_ipam_release (const char *dir, struct in_addr addr, const char *owner, moat_err_t *err)
{
  _cleanup_close_ int dirfd = -1;
  char name[INET_ADDRSTRLEN];
  int r;

  if (check_owner (owner, err) < 0 || open_dir (dir, false, &dirfd, err) < 0)
    return -1;
  if (dirfd < 0)
    return 0;
  addr_text (ntohl (addr.s_addr), name);
  r = held_by (dirfd, name, owner, err);
  if (r <= 0)
    return r;
  if (unlinkat (dirfd, name, 0) < 0 && errno != ENOENT)
    return moat_error (err, MOAT_E_IPAM, errno, "address %s: cannot release", name);
  return 0;
}

/* Calls fn for every entry of dir named like an address; with `sweep`,
 * removes the temporary files a crash left (the caller holds the lock). */
static int
for_each_address (const char *dir, bool sweep,
                  int (*fn) (int dirfd, const char *name, uint32_t a, void *data, moat_err_t *err),
                  void *data, moat_err_t *err)
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
  for (;;)
    {
      uint32_t a;

      errno = 0;
      de = readdir (d);
      if (!de)
        break;
      if (sweep && sweep_temp (dirfd, de->d_name, err) < 0)
        return -1;
      if (parse_address_name (de->d_name, &a) && fn (dirfd, de->d_name, a, data, err) < 0)
        return -1;
    }
  if (errno)
    return moat_error (err, MOAT_E_IPAM, errno, "cannot read \"%s\"", dir);
  return 0;
}

static int
release_if_owned (int dirfd, const char *name, uint32_t a, void *data, moat_err_t *err)
{
  int r = held_by (dirfd, name, data, err);

  if (r <= 0)
    return r;
  if (unlinkat (dirfd, name, 0) < 0 && errno != ENOENT)
    return moat_error (err, MOAT_E_IPAM, errno, "address %s: cannot release", name);
  return 0;
}

int
moat_ipam_owner_read (const char *dir, const char *name, char *buf, size_t size, moat_err_t *err)
{
  _cleanup_close_ int dirfd = -1, fd = -1;
  ssize_t n;

  if (open_dir (dir, false, &dirfd, err) < 0)
    return -1;
  if (dirfd < 0 || size < 2)
    return 0;
  fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return errno == ENOENT ? 0
                           : moat_error (err, MOAT_E_IPAM, errno, "address %s: cannot open", name);
  n = read_upto (fd, buf, size - 1);
  if (n < 0)
    return moat_error (err, MOAT_E_IPAM, errno, "address %s: cannot read", name);
  if (n < 2 || buf[n - 1] != '\n')
    return 0;
  buf[n - 1] = '\0';
  return 1;
}

struct addr_of
{
  const char *owner;
  struct in_addr found;
  bool have;
};

static int
take_if_owned (int dirfd, const char *name, uint32_t a, void *data, moat_err_t *err)
{
  struct addr_of *q = data;
  int r = q->have ? 0 : held_by (dirfd, name, q->owner, err);

  if (r > 0)
    {
      q->found.s_addr = htonl (a);
      q->have = true;
    }
  return r < 0 ? -1 : 0;
}

int
moat_ipam_addr_of (const char *dir, const char *owner, struct in_addr *ret, moat_err_t *err)
{
  struct addr_of q = { .owner = owner };

  if (check_owner (owner, err) < 0 || for_each_address (dir, false, take_if_owned, &q, err) < 0)
    return -1;
  if (q.have)
    *ret = q.found;
  return q.have;
}

int
moat_ipam_release_owner (const char *dir, const char *owner, moat_err_t *err)
{
  if (check_owner (owner, err) < 0)
    return -1;
  return for_each_address (dir, true, release_if_owned, (void *)owner, err);
}

/* True when the file holds "<one of keep>\n". */
static int
held_by_any (int dirfd, const char *name, char *const *keep, moat_err_t *err)
{
  for (char *const *k = keep; *k; k++)
    {
      int r = held_by (dirfd, name, *k, err);
      if (r != 0)
        return r;
    }
  return 0;
}

static int
release_if_unowned (int dirfd, const char *name, uint32_t a, void *data, moat_err_t *err)
{
  int r = held_by_any (dirfd, name, data, err);

  if (r != 0)
    return r < 0 ? -1 : 0;
  if (unlinkat (dirfd, name, 0) < 0 && errno != ENOENT)
    return moat_error (err, MOAT_E_IPAM, errno, "address %s: cannot release", name);
  return 0;
}

int
moat_ipam_release_unowned (const char *dir, char *const *keep, moat_err_t *err)
{
  return for_each_address (dir, true, release_if_unowned, (void *)keep, err);
}

struct count_ctx
{
  const struct pool_range *pool;
  long used;
};

static int
count_if_usable (int dirfd, const char *name, uint32_t a, void *data, moat_err_t *err)
{
  struct count_ctx *c = data;

  if (is_usable (c->pool, a))
    c->used++;
  return 0;
}

int
moat_ipam_free_count (const char *dir, const struct moat_pool *pool, long *ret_count,
                      moat_err_t *err)
{
  struct pool_range pr;
  struct count_ctx c = { .pool = &pr };
  long n;

  if (pool_range_of (pool, &pr, err) < 0)
    return -1;
  if (for_each_address (dir, false, count_if_usable, &c, err) < 0)
    return -1;
  n = usable_count (&pr) - c.used;
  *ret_count = n > 0 ? n : 0;
  return 0;
}

/* ------------------------------------------------------------------ */
/* Delegated IPAM                                                      */
/* ------------------------------------------------------------------ */

#define MAX_PLUGIN_OUTPUT (16 * 1024 * 1024)
#define MAX_KEPT_STDERR 4096

struct buffer
{
  char *data;
  size_t len, cap;
};

static void
buffer_free (struct buffer *b)
{
  free (b->data);
}

static int
buffer_append (struct buffer *b, const char *p, size_t n, size_t limit)
{
  if (b->len + n > limit)
    {
      errno = EFBIG;
      return -1;
    }
  if (b->len + n + 1 > b->cap)
    {
      size_t cap = b->cap ? b->cap : 4096;
      char *d;

      while (cap < b->len + n + 1)
        cap *= 2;
      d = realloc (b->data, cap);
      if (!d)
        return -1;
      b->data = d;
      b->cap = cap;
    }
  memcpy (b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

static int
find_plugin (const char *type, char **ret_path, moat_err_t *err)
{
  const char *cni_path = getenv ("CNI_PATH");
  _cleanup_free_ char *dirs = NULL;
  char *save = NULL;

  if (!type || !*type || strchr (type, '/') || strcmp (type, ".") == 0 || strcmp (type, "..") == 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "ipam.type: \"%s\" must be a plugin name",
                       type ? type : "");
  if (!cni_path || !*cni_path)
    return moat_error (err, MOAT_E_ENV, 0, "CNI_PATH: not set (needed to find ipam plugin %s)",
                       type);
  dirs = strdup (cni_path);
  if (!dirs)
    return moat_error (err, MOAT_E_IPAM, ENOMEM, "CNI_PATH");
  for (char *d = strtok_r (dirs, ":", &save); d; d = strtok_r (NULL, ":", &save))
    {
      _cleanup_free_ char *path = NULL;
      struct stat st;

      if (asprintf (&path, "%s/%s", d, type) < 0)
        return moat_error (err, MOAT_E_IPAM, ENOMEM, "CNI_PATH");
      if (stat (path, &st) == 0 && S_ISREG (st.st_mode)
          && faccessat (AT_FDCWD, path, X_OK, AT_EACCESS) == 0)
        {
          *ret_path = TAKE_PTR (path);
          return 0;
        }
    }
  return moat_error (err, MOAT_E_CONFIG, 0, "ipam.type: plugin \"%s\" not found in CNI_PATH (%s)",
                     type, cni_path);
}

/* The current environment with CNI_COMMAND replaced. The strings are
 * borrowed from environ except the last one (*ret_command). */
static int
plugin_env (const char *command, char ***ret_env, char **ret_command, moat_err_t *err)
{
  size_t n = 0, j = 0;
  char **env;
  char *cmd;

  for (char **e = environ; e && *e; e++)
    n++;
  env = calloc (n + 2, sizeof (char *));
  if (!env || asprintf (&cmd, "CNI_COMMAND=%s", command) < 0)
    {
      free (env);
      return moat_error (err, MOAT_E_IPAM, ENOMEM, "environment");
    }
  for (char **e = environ; e && *e; e++)
    if (strncmp (*e, "CNI_COMMAND=", strlen ("CNI_COMMAND=")) != 0)
      env[j++] = *e;
  env[j++] = cmd;
  env[j] = NULL;
  *ret_env = env;
  *ret_command = cmd;
  return 0;
}

/* Our ends of the pipes, and the child's (closed once it runs). */
struct plugin_pipes
{
  int in[2], out[2], err[2];
};

static void
plugin_pipes_close (struct plugin_pipes *p)
{
  int *fds[] = { &p->in[0], &p->in[1], &p->out[0], &p->out[1], &p->err[0], &p->err[1] };

  for (size_t i = 0; i < ARRAY_SIZE (fds); i++)
    if (*fds[i] >= 0)
      {
        close (*fds[i]);
        *fds[i] = -1;
      }
}

/* A close-on-exec pipe whose both ends are above stderr, so that the
 * dup2s onto 0, 1 and 2 in the child cannot clobber one another. */
static int
make_pipe (int fds[2], moat_err_t *err)
{
  if (pipe2 (fds, O_CLOEXEC) < 0)
    return moat_error (err, MOAT_E_IPAM, errno, "pipe");
  for (int i = 0; i < 2; i++)
    if (fds[i] <= STDERR_FILENO)
      {
        int fd = fcntl (fds[i], F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        int saved = errno;

        close (fds[i]);
        fds[i] = fd;
        if (fd < 0)
          return moat_error (err, MOAT_E_IPAM, saved, "pipe");
      }
  return 0;
}

static int
spawn_plugin (const char *path, char **env, struct plugin_pipes *p, const sigset_t *child_mask,
              pid_t *ret_pid, moat_err_t *err)
{
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t defaults;
  char *argv[] = { (char *)path, NULL };
  int r;

  sigemptyset (&defaults);
  sigaddset (&defaults, SIGPIPE);
  if (posix_spawn_file_actions_init (&fa) != 0)
    return moat_error (err, MOAT_E_IPAM, ENOMEM, "ipam plugin %s", path);
  if (posix_spawnattr_init (&attr) != 0)
    {
      posix_spawn_file_actions_destroy (&fa);
      return moat_error (err, MOAT_E_IPAM, ENOMEM, "ipam plugin %s", path);
    }
  /* dup2 clears close-on-exec on the copies; every other fd of ours is
   * close-on-exec. */
  r = posix_spawn_file_actions_adddup2 (&fa, p->in[0], STDIN_FILENO);
  if (!r)
    r = posix_spawn_file_actions_adddup2 (&fa, p->out[1], STDOUT_FILENO);
  if (!r)
    r = posix_spawn_file_actions_adddup2 (&fa, p->err[1], STDERR_FILENO);
  /* The child gets the caller's signal mask back and SIGPIPE's default
   * action even if the caller ignores it. */
  if (!r)
    r = posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (!r)
    r = posix_spawnattr_setsigmask (&attr, child_mask);
  if (!r)
    r = posix_spawnattr_setsigdefault (&attr, &defaults);
  if (!r)
    r = posix_spawn (ret_pid, path, &fa, &attr, argv, env);
  posix_spawnattr_destroy (&attr);
  posix_spawn_file_actions_destroy (&fa);
  if (r)
    return moat_error (err, MOAT_E_IPAM, r, "cannot run \"%s\"", path);
  return 0;
}

/* Reads what is there on fd into b. Returns 1 at EOF, 0 otherwise. */
static int
drain (int fd, struct buffer *b, size_t limit, bool pass_to_stderr, moat_err_t *err)
{
  char chunk[16384];
  ssize_t n = read (fd, chunk, sizeof (chunk));

  if (n < 0)
    {
      if (errno == EINTR || errno == EAGAIN)
        return 0;
      return moat_error (err, MOAT_E_IPAM, errno, "cannot read its output");
    }
  if (n == 0)
    return 1;
  if (pass_to_stderr)
    {
      (void)!moat_write_all (STDERR_FILENO, chunk, (size_t)n);
      /* Keep only the beginning for the error message. */
      if (b->len < limit)
        buffer_append (b, chunk, (size_t)n < limit - b->len ? (size_t)n : limit - b->len, limit);
      return 0;
    }
  if (buffer_append (b, chunk, (size_t)n, limit) < 0)
    {
      if (errno == EFBIG)
        return moat_error (err, MOAT_E_IPAM, 0, "output larger than %zu bytes", limit);
      return moat_error (err, MOAT_E_IPAM, errno, "cannot store its output");
    }
  return 0;
}

/* Feeds `input` to the child's stdin while collecting stdout and stderr,
 * all at once, so that neither side can block the other. */
static int
exchange (struct plugin_pipes *p, const char *input, struct buffer *out, struct buffer *errout,
          moat_err_t *err)
{
  size_t len = strlen (input), written = 0;

  if (fcntl (p->in[1], F_SETFL, O_NONBLOCK) < 0)
    return moat_error (err, MOAT_E_IPAM, errno, "stdin");
  while (p->in[1] >= 0 || p->out[0] >= 0 || p->err[0] >= 0)
    {
      struct pollfd pfd[3] = {
        { .fd = p->in[1], .events = POLLOUT },
        { .fd = p->out[0], .events = POLLIN },
        { .fd = p->err[0], .events = POLLIN },
      };

      if (poll (pfd, ARRAY_SIZE (pfd), -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return moat_error (err, MOAT_E_IPAM, errno, "poll");
        }
      if (pfd[0].fd >= 0 && pfd[0].revents)
        {
          ssize_t n = write (p->in[1], input + written, len - written);
          if (n >= 0)
            written += (size_t)n;
          else if (errno == EPIPE)
            written = len; /* the plugin stopped reading: its exit status tells */
          else if (errno != EINTR && errno != EAGAIN)
            return moat_error (err, MOAT_E_IPAM, errno, "cannot write its stdin");
          if (written == len)
            {
              close (p->in[1]);
              p->in[1] = -1;
            }
        }
      for (int i = 1; i <= 2; i++)
        if (pfd[i].fd >= 0 && pfd[i].revents)
          {
            int *fd = i == 1 ? &p->out[0] : &p->err[0];
            int r = i == 1 ? drain (*fd, out, MAX_PLUGIN_OUTPUT, false, err)
                           : drain (*fd, errout, MAX_KEPT_STDERR, true, err);
            if (r < 0)
              return -1;
            if (r > 0)
              {
                close (*fd);
                *fd = -1;
              }
          }
    }
  return 0;
}

static int
wait_child (pid_t pid, int *ret_status, moat_err_t *err)
{
  while (waitpid (pid, ret_status, 0) < 0)
    if (errno != EINTR)
      return moat_error (err, MOAT_E_IPAM, errno, "cannot wait for it");
  return 0;
}

/* Runs the plugin with SIGPIPE blocked in this thread (a plugin exiting
 * before reading all of stdin makes our write fail with EPIPE instead of
 * killing us); a SIGPIPE raised meanwhile is consumed before unblocking. */
static int
run_plugin (const char *path, char **env, const char *input, struct buffer *out,
            struct buffer *errout, int *ret_status, moat_err_t *err)
{
  struct plugin_pipes p = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
  sigset_t pipe_set, old_mask, pending;
  bool was_pending;
  pid_t pid = -1;
  int ret = -1;

  sigemptyset (&pipe_set);
  sigaddset (&pipe_set, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe_set, &old_mask);
  sigpending (&pending);
  was_pending = sigismember (&pending, SIGPIPE);

  if (make_pipe (p.in, err) < 0 || make_pipe (p.out, err) < 0 || make_pipe (p.err, err) < 0)
    goto out;
  if (spawn_plugin (path, env, &p, &old_mask, &pid, err) < 0)
    goto out;
  close (p.in[0]);
  close (p.out[1]);
  close (p.err[1]);
  p.in[0] = p.out[1] = p.err[1] = -1;
  if (exchange (&p, input, out, errout, err) < 0)
    {
      moat_err_t ignored;

      kill (pid, SIGKILL);
      plugin_pipes_close (&p);
      wait_child (pid, ret_status, &ignored);
      goto out;
    }
  ret = wait_child (pid, ret_status, err);

out:
  plugin_pipes_close (&p);
  if (!was_pending)
    {
      const struct timespec zero = { 0, 0 };
      sigpending (&pending);
      if (sigismember (&pending, SIGPIPE))
        sigtimedwait (&pipe_set, NULL, &zero);
    }
  pthread_sigmask (SIG_SETMASK, &old_mask, NULL);
  return ret;
}

/* Collapses the text to one line without leading/trailing blanks, in
 * place. */
static char *
one_line (char *s)
{
  char *w = s, *r = s;
  bool space = false;

  while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')
    r++;
  for (; *r; r++)
    {
      if (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')
        {
          space = true;
          continue;
        }
      if (space && w > s)
        *w++ = ' ';
      space = false;
      *w++ = *r;
    }
  *w = '\0';
  if (w - s > 512)
    strcpy (s + 509, "...");
  return s;
}

static int
plugin_failure (const char *type, int status, struct buffer *out, struct buffer *errout,
                moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *root = NULL;
  char how[64];
  const char *text;

  if (out->data)
    root = json_loads (out->data, 0, NULL);
  if (json_is_object (root))
    {
      json_t *code = json_object_get (root, "code");
      const char *msg = json_string_value (json_object_get (root, "msg"));
      const char *details = json_string_value (json_object_get (root, "details"));

      if (json_is_integer (code) && json_integer_value (code) > 0
          && json_integer_value (code) <= INT_MAX && msg)
        {
          if (details && *details)
            return moat_error (err, (int)json_integer_value (code), 0, "ipam plugin %s: %s; %s",
                               type, msg, details);
          return moat_error (err, (int)json_integer_value (code), 0, "ipam plugin %s: %s", type,
                             msg);
        }
    }
  if (WIFSIGNALED (status))
    snprintf (how, sizeof (how), "killed by signal %d", WTERMSIG (status));
  else
    snprintf (how, sizeof (how), "exit status %d", WEXITSTATUS (status));
  text = errout->data ? one_line (errout->data) : "";
  if (!*text && out->data)
    text = one_line (out->data);
  if (*text)
    return moat_error (err, MOAT_E_IPAM, 0, "ipam plugin %s: %s: %s", type, how, text);
  return moat_error (err, MOAT_E_IPAM, 0, "ipam plugin %s: %s", type, how);
}

static int
plugin_success (const char *type, const char *command, struct buffer *out, json_t **ret_result,
                moat_err_t *err)
{
  json_error_t jerr;
  json_t *root;

  if (strcmp (command, "ADD") != 0 || !ret_result)
    {
      if (ret_result)
        *ret_result = NULL;
      return 0;
    }
  root = json_loads (out->data ? out->data : "", 0, &jerr);
  if (!root)
    return moat_error (err, MOAT_E_DECODE, 0, "ipam plugin %s: cannot parse its result: %s", type,
                       jerr.text);
  if (!json_is_object (root))
    {
      json_decref (root);
      return moat_error (err, MOAT_E_DECODE, 0, "ipam plugin %s: result is not an object", type);
    }
  *ret_result = root;
  return 0;
}

int
moat_ipam_exec (const char *type, const char *command, const char *netconf, json_t **ret_result,
                moat_err_t *err)
{
  _cleanup_free_ char *path = NULL;
  _cleanup_free_ char **env = NULL;
  _cleanup_free_ char *command_var = NULL;
  _cleanup_ (buffer_free) struct buffer out = { 0 }, errout = { 0 };
  int status = 0;

  if (find_plugin (type, &path, err) < 0)
    return -1;
  if (plugin_env (command, &env, &command_var, err) < 0)
    return -1;
  if (run_plugin (path, env, netconf ? netconf : "", &out, &errout, &status, err) < 0)
    return moat_error_prefix (err, "ipam plugin %s", type);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return plugin_success (type, command, &out, ret_result, err);
  return plugin_failure (type, status, &out, &errout, err);
}
