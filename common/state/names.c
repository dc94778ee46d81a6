/* SPDX-License-Identifier: Apache-2.0 */
/* Names from a keyed hash, and the host's key (see names.h). */
#include "state/names.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "state/rundir.h"

/* --- the hash -------------------------------------------------------------- */

/* Each part goes in with its terminating NUL, so where one ends is never
 * in doubt. The parts are hashed in chunks, each chained to the hash of
 * the ones before: no allocation, whatever their length. */
#define CHUNK 64

struct chain
{
  const struct moat_names_key *k;
  unsigned char buf[8 + CHUNK]; /* the hash so far, then the chunk */
  size_t used;                  /* bytes of the chunk */
};

static void
chain_flush (struct chain *c)
{
  unsigned char out[crypto_shorthash_BYTES];

  crypto_shorthash (out, c->buf, 8 + c->used, c->k->bytes);
  memcpy (c->buf, out, 8);
  c->used = 0;
}

static void
chain_put (struct chain *c, const char *s)
{
  size_t len = strlen (s) + 1;

  while (len > 0)
    {
      size_t n = len < CHUNK - c->used ? len : CHUNK - c->used;

      if (n == 0)
        {
          chain_flush (c);
          continue;
        }
      memcpy (c->buf + 8 + c->used, s, n);
      c->used += n;
      s += n;
      len -= n;
    }
}

static uint64_t
keyed_hash (const struct moat_names_key *k, const char *what, const char *network, const char *text)
{
  struct chain c = { .k = k };
  uint64_t h = 0;

  chain_put (&c, what);
  chain_put (&c, network);
  chain_put (&c, text);
  chain_flush (&c);
  for (int i = 7; i >= 0; i--)
    h = h << 8 | c.buf[i];
  return h;
}

void
moat_host_ifname (const struct moat_names_key *k, const char *network, const char *key,
                  char ret_name[16])
{
  snprintf (ret_name, 16, "mt%013" PRIx64, keyed_hash (k, "host", network, key) >> 12);
}

void
moat_ident_name (const struct moat_names_key *k, const char *network, const char *text, int probe,
                 char ret_name[25])
{
  uint64_t h = keyed_hash (k, "ident", network, text);

  if (probe > 0)
    snprintf (ret_name, 25, "%016" PRIx64 "_%u", h, (unsigned)probe % 100u);
  else
    snprintf (ret_name, 25, "%016" PRIx64, h);
}

/* --- the key --------------------------------------------------------------- */

static int
key_path (char *buf, size_t size)
{
  int n = snprintf (buf, size, "%s/%s", moat_run_dir (), MOAT_NAMES_KEY_FILE);

  return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int
key_bad (moat_err_t *err, const char *path, const char *why)
{
  return moat_error (err, MOAT_E_STATE, 0, "name key \"%s\": %s", path, why);
}

/* 1 read, 0 no such file. */
static int
key_read (const char *path, struct moat_names_key *ret, moat_err_t *err)
{
  _cleanup_close_ int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;

  if (fd < 0)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_STATE, errno, "name key \"%s\"", path);
  if (fstat (fd, &st) < 0)
    return moat_error (err, MOAT_E_STATE, errno, "name key \"%s\"", path);
  if (!S_ISREG (st.st_mode) || st.st_uid != geteuid () || (st.st_mode & 077) != 0)
    return key_bad (err, path, "must be a regular file of this user with mode 0600");
  if (st.st_size != MOAT_NAMES_KEY_LEN
      || read (fd, ret->bytes, MOAT_NAMES_KEY_LEN) != MOAT_NAMES_KEY_LEN)
    return key_bad (err, path, "must hold exactly 16 bytes");
  return 1;
}

/* Writes a new key beside `path` and moves it there unless someone else's
 * got there first (then theirs stays: the caller reads it). */
static int
key_create (const char *path, moat_err_t *err)
{
  unsigned char bytes[MOAT_NAMES_KEY_LEN];
  enum moat_file_step step = 0;
  char tmp[4096];
  int r;

  if (sodium_init () < 0)
    return moat_error (err, MOAT_E_IO, 0, "libsodium: cannot initialise");
  if ((size_t)snprintf (tmp, sizeof (tmp), "%s.%d.tmp", path, (int)getpid ()) >= sizeof (tmp))
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "name key \"%s\"", path);
  if (moat_mkdir_p (moat_run_dir (), MOAT_E_STATE, err) < 0)
    return -1;
  /* The temporary name is this pid's: one a killed earlier process of
   * this pid left is truncated. */
  randombytes_buf (bytes, sizeof (bytes));
  r = moat_file_write_at (AT_FDCWD, tmp, path, bytes, sizeof (bytes), MOAT_FILE_NOREPLACE, &step);
  sodium_memzero (bytes, sizeof (bytes));
  if (r < 0 && step == MOAT_FILE_CREATE)
    return moat_error (err, MOAT_E_STATE, errno, "create \"%s\"", tmp);
  /* EEXIST: someone else's got there first. */
  if (r < 0 && errno != EEXIST)
    return moat_error (err, MOAT_E_STATE, errno, "name key \"%s\"", path);
  return 0;
}

int
moat_names_key_get (bool create, struct moat_names_key *ret, moat_err_t *err)
{
  char path[4096];
  int r;

  if (key_path (path, sizeof (path)) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "name key in \"%s\"", moat_run_dir ());
  r = key_read (path, ret, err);
  if (r != 0 || !create)
    return r;
  if (key_create (path, err) < 0)
    return -1;
  r = key_read (path, ret, err);
  return r == 0 ? key_bad (err, path, "vanished as it was made") : r;
}
