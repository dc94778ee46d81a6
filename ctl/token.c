/* SPDX-License-Identifier: Apache-2.0 */
/* Ed25519 JWS access tokens and their JWK keys (token.h). */
#include "token.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"

#define B64URL sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define SEED_BYTES crypto_sign_SEEDBYTES
#define PK_BYTES crypto_sign_PUBLICKEYBYTES
#define SIG_BYTES crypto_sign_BYTES
/* Unpadded base64url of a 32-byte key, with its NUL. */
#define KEY_B64_SIZE sodium_base64_ENCODED_LEN (PK_BYTES, B64URL)

_Static_assert(sizeof (((struct moat_jwk *)0)->pk) == PK_BYTES, "pk size");
_Static_assert(sizeof (((struct moat_jwk *)0)->sk) == crypto_sign_SECRETKEYBYTES, "sk size");

/* sodium_init is idempotent and thread-safe; every entry point calls it. */
static int
crypto_ready (moat_err_t *err)
{
  if (sodium_init () < 0)
    return moat_error (err, MOAT_E_IO, 0, "libsodium: cannot initialise");
  return 0;
}

/* Decodes all `len` characters of `s`, unpadded canonical base64url, into
 * at most `max` bytes. Padding, other characters and non-zero trailing
 * bits are refused. */
static int
b64url_decode (const char *s, size_t len, unsigned char *buf, size_t max, size_t *ret_len)
{
  return sodium_base642bin (buf, max, s, len, NULL, ret_len, NULL, B64URL) == 0 ? 0 : -1;
}

static char *
b64url_encode (const void *bin, size_t len)
{
  size_t size = sodium_base64_ENCODED_LEN (len, B64URL);
  char *s = malloc (size);

  if (s)
    sodium_bin2base64 (s, size, bin, len, B64URL);
  return s;
}

/* The value of `v` when it is a non-empty string of at most `max` bytes
 * without NUL (jansson strings may hold "\u0000"), else NULL. */
static const char *
plain_string (const json_t *v, size_t max)
{
  const char *s = json_string_value (v);
  size_t len = json_string_length (v);

  if (!s || len == 0 || len > max || strlen (s) != len)
    return NULL;
  return s;
}

/* True when `v` is exactly the string `want`. */
static bool
string_is (const json_t *v, const char *want)
{
  const char *s = json_string_value (v);

  return s && json_string_length (v) == strlen (want) && strcmp (s, want) == 0;
}

/* A malloc'd buffer that may hold secret bytes: wiped before it is freed. */
struct secret_buf
{
  char *p;
  size_t size;
};

static void
secret_buf_free (struct secret_buf *b)
{
  if (b->p)
    {
      sodium_memzero (b->p, b->size);
      free (b->p);
    }
  b->p = NULL;
}

/* Wipes a parsed JWK's "d" text before the tree is freed (best effort:
 * jansson's own scratch buffers are not reachable). */
static void
jwk_json_freep (json_t **p)
{
  json_t *d;

  if (!*p)
    return;
  d = json_object_get (*p, "d");
  if (json_is_string (d))
    sodium_memzero ((char *)json_string_value (d), json_string_length (d));
  json_decref (*p);
}

/* ---- keys ---- */

void
moat_jwk_free (struct moat_jwk *key)
{
  if (!key)
    return;
  free (key->kid);
  free (key->path);
  sodium_memzero (key, sizeof (*key));
}

/* Decodes the 32-byte member `name` of `jwk` into `out`. */
static int
jwk_key_member (json_t *jwk, const char *name, unsigned char out[32], const char *origin,
                moat_err_t *err)
{
  json_t *v = json_object_get (jwk, name);
  unsigned char buf[33];
  size_t n = 0;
  int r = 0;

  if (!v)
    return moat_error (err, MOAT_E_DECODE, 0, "%s: \"%s\": missing", origin, name);
  if (!json_is_string (v)
      || b64url_decode (json_string_value (v), json_string_length (v), buf, sizeof (buf), &n) < 0
      || n != 32)
    r = moat_error (err, MOAT_E_DECODE, 0, "%s: \"%s\": not 32 bytes of base64url", origin, name);
  else
    memcpy (out, buf, 32);
  sodium_memzero (buf, sizeof (buf));
  return r;
}

/* Fills key->sk from the seed in "d" and checks that it derives key->pk. */
static int
jwk_private_part (json_t *jwk, struct moat_jwk *key, const char *origin, moat_err_t *err)
{
  unsigned char seed[SEED_BYTES], pk[PK_BYTES];
  int r;

  if (jwk_key_member (jwk, "d", seed, origin, err) < 0)
    return -1;
  crypto_sign_seed_keypair (pk, key->sk, seed);
  sodium_memzero (seed, sizeof (seed));
  r = sodium_memcmp (pk, key->pk, PK_BYTES);
  if (r != 0)
    {
      sodium_memzero (key->sk, sizeof (key->sk));
      return moat_error (err, MOAT_E_DECODE, 0, "%s: \"d\": does not derive \"x\"", origin);
    }
  key->has_sk = true;
  return 0;
}

int
moat_jwk_parse (const char *text, size_t len, const char *origin, struct moat_jwk *ret,
                moat_err_t *err)
{
  _cleanup_ (jwk_json_freep) json_t *root = NULL;
  _cleanup_ (moat_jwk_free) struct moat_jwk key = { 0 };
  json_error_t jerr;
  const char *kid;

  if (crypto_ready (err) < 0)
    return -1;
  root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return moat_error (err, MOAT_E_DECODE, 0, "%s: not JSON: line %d column %d: %s", origin,
                       jerr.line, jerr.column, jerr.text);
  if (!json_is_object (root))
    return moat_error (err, MOAT_E_DECODE, 0, "%s: not a JSON object", origin);
  if (!string_is (json_object_get (root, "kty"), "OKP"))
    return moat_error (err, MOAT_E_DECODE, 0, "%s: \"kty\": want \"OKP\"", origin);
  if (!string_is (json_object_get (root, "crv"), "Ed25519"))
    return moat_error (err, MOAT_E_DECODE, 0, "%s: \"crv\": want \"Ed25519\"", origin);
  kid = plain_string (json_object_get (root, "kid"), MOAT_KID_MAX);
  if (!kid)
    return moat_error (err, MOAT_E_DECODE, 0,
                       "%s: \"kid\": want a non-empty string of at most %d bytes", origin,
                       MOAT_KID_MAX);
  if (jwk_key_member (root, "x", key.pk, origin, err) < 0)
    return -1;
  if (json_object_get (root, "d") && jwk_private_part (root, &key, origin, err) < 0)
    return -1;
  key.kid = strdup (kid);
  key.path = strdup (origin);
  if (!key.kid || !key.path)
    return moat_error_nomem (err, origin);
  *ret = key;
  memset (&key, 0, sizeof (key));
  return 0;
}

/* ---- the keyring ---- */

struct names
{
  char **v;
  size_t n;
};

static void
names_free (struct names *names)
{
  for (size_t i = 0; i < names->n; i++)
    free (names->v[i]);
  free (names->v);
}

/* `*.jwk`, as the shell matches it: no leading dot, something before .jwk. */
static bool
is_key_file_name (const char *name)
{
  size_t len = strlen (name);

  return name[0] != '.' && len > 4 && strcmp (name + len - 4, ".jwk") == 0;
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* The key file names of `d`, sorted. */
static int
list_key_files (DIR *d, const char *dir, struct names *ret, moat_err_t *err)
{
  struct dirent *de;

  for (;;)
    {
      char **v;

      errno = 0;
      de = readdir (d);
      if (!de)
        break;
      if (!is_key_file_name (de->d_name))
        continue;
      v = realloc (ret->v, (ret->n + 1) * sizeof (*v));
      if (!v)
        return moat_error_nomem (err, dir);
      ret->v = v;
      ret->v[ret->n] = strdup (de->d_name);
      if (!ret->v[ret->n])
        return moat_error_nomem (err, dir);
      ret->n++;
    }
  if (errno)
    return moat_error (err, MOAT_E_IO, errno, "keys directory %s", dir);
  if (ret->n)
    qsort (ret->v, ret->n, sizeof (*ret->v), compare_names);
  return 0;
}

/* Reads the regular file `name` of directory `dfd` (at most
 * MOAT_JWK_FILE_MAX bytes) into a buffer wiped when freed. */
static int
read_key_file (int dfd, const char *name, const char *path, struct secret_buf *ret, size_t *ret_len,
               moat_err_t *err)
{
  /* O_NONBLOCK: a FIFO called x.jwk must not hang us before fstat. */
  _cleanup_close_ int fd = openat (dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  struct stat st;
  size_t len = 0;

  if (fd < 0 || fstat (fd, &st) < 0)
    return moat_error (err, MOAT_E_IO, errno, "%s", path);
  if (!S_ISREG (st.st_mode))
    return moat_error (err, MOAT_E_IO, 0, "%s: not a regular file", path);
  ret->size = MOAT_JWK_FILE_MAX + 1;
  ret->p = malloc (ret->size);
  if (!ret->p)
    return moat_error_nomem (err, path);
  while (len < ret->size)
    {
      ssize_t n = read (fd, ret->p + len, ret->size - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return moat_error (err, MOAT_E_IO, errno, "%s", path);
      if (n == 0)
        break;
      len += (size_t)n;
    }
  if (len > MOAT_JWK_FILE_MAX)
    return moat_error (err, MOAT_E_DECODE, 0, "%s: larger than %d bytes", path, MOAT_JWK_FILE_MAX);
  *ret_len = len;
  return 0;
}

/* Adds `key` (taken over, also on failure) unless its kid is taken. */
static int
keyring_add (struct moat_keyring *kr, struct moat_jwk *key, moat_err_t *err)
{
  const struct moat_jwk *other = moat_keyring_find (kr, key->kid);
  struct moat_jwk *v;

  if (other)
    {
      moat_error (err, MOAT_E_DECODE, 0, "%s: kid \"%.64s\" is also used by %s", key->path,
                  key->kid, other->path);
      moat_jwk_free (key);
      return -1;
    }
  v = realloc (kr->keys, (kr->n + 1) * sizeof (*v));
  if (!v)
    {
      moat_error_nomem (err, key->path);
      moat_jwk_free (key);
      return -1;
    }
  kr->keys = v;
  kr->keys[kr->n++] = *key;
  memset (key, 0, sizeof (*key));
  return 0;
}

static int
load_key_file (int dfd, const char *dir, const char *name, struct moat_keyring *kr, moat_err_t *err)
{
  _cleanup_ (secret_buf_free) struct secret_buf buf = { 0 };
  _cleanup_free_ char *path = NULL;
  size_t dir_len = strlen (dir), len = 0;
  struct moat_jwk key = { 0 };

  /* "/etc/moat/keys/" and "/etc/moat/keys" name files alike. */
  if (asprintf (&path, "%s%s%s", dir, dir_len && dir[dir_len - 1] == '/' ? "" : "/", name) < 0)
    {
      path = NULL;
      return moat_error_nomem (err, dir);
    }
  if (read_key_file (dfd, name, path, &buf, &len, err) < 0)
    return -1;
  if (moat_jwk_parse (buf.p, len, path, &key, err) < 0)
    return -1;
  return keyring_add (kr, &key, err);
}

void
moat_keyring_free (struct moat_keyring *kr)
{
  if (!kr)
    return;
  for (size_t i = 0; i < kr->n; i++)
    moat_jwk_free (&kr->keys[i]);
  free (kr->keys);
  kr->keys = NULL;
  kr->n = 0;
}

int
moat_keyring_load (const char *dir, struct moat_keyring *ret, moat_err_t *err)
{
  _cleanup_ (moat_keyring_free) struct moat_keyring kr = { 0 };
  _cleanup_ (names_free) struct names names = { 0 };
  _cleanup_ (closedirp) DIR *d = NULL;
  int fd;

  if (crypto_ready (err) < 0)
    return -1;
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return moat_error (err, MOAT_E_IO, errno, "keys directory %s", dir);
  d = fdopendir (fd);
  if (!d)
    {
      int saved = errno;

      close (fd);
      return moat_error (err, MOAT_E_IO, saved, "keys directory %s", dir);
    }
  if (list_key_files (d, dir, &names, err) < 0)
    return -1;
  for (size_t i = 0; i < names.n; i++)
    if (load_key_file (dirfd (d), dir, names.v[i], &kr, err) < 0)
      return -1;
  *ret = kr;
  memset (&kr, 0, sizeof (kr));
  return 0;
}

const struct moat_jwk *
moat_keyring_find (const struct moat_keyring *kr, const char *kid)
{
  for (size_t i = 0; kr && kid && i < kr->n; i++)
    if (strcmp (kr->keys[i].kid, kid) == 0)
      return &kr->keys[i];
  return NULL;
}

/* ---- claims ---- */

void
moat_token_claims_free (struct moat_token_claims *c)
{
  if (!c)
    return;
  free (c->kid);
  free (c->sub);
  free (c->iss);
  free (c->jti);
  free (c->id);
  for (size_t i = 0; i < c->n_aud; i++)
    free (c->aud[i]);
  free (c->aud);
  for (size_t i = 0; i < c->n_grants; i++)
    free (c->grants[i]);
  free (c->grants);
  memset (c, 0, sizeof (*c));
}

bool
moat_token_aud_has (const struct moat_token_claims *c, const char *name)
{
  for (size_t i = 0; c && name && i < c->n_aud; i++)
    if (strcmp (c->aud[i], name) == 0)
      return true;
  return false;
}

/* Refuses with "<prefix>: <what>", MOAT_E_DECODE. */
static int refuse (moat_err_t *err, const char *prefix, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
refuse (moat_err_t *err, const char *prefix, const char *fmt, ...)
{
  char what[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (what, sizeof (what), fmt, ap);
  va_end (ap);
  return moat_error (err, MOAT_E_DECODE, 0, "%s: %s", prefix, what);
}

/* True when `v` is a non-empty array of plain strings, or (when
 * string_ok) one plain string. */
static bool
is_string_list (const json_t *v, bool string_ok)
{
  size_t i;
  json_t *e;

  if (string_ok && json_is_string (v))
    return plain_string (v, SIZE_MAX) != NULL;
  if (!json_is_array (v) || json_array_size (v) == 0)
    return false;
  json_array_foreach (v, i, e)
  {
    if (!plain_string (e, SIZE_MAX))
      return false;
  }
  return true;
}

/* Copies a list is_string_list accepted. */
static int
copy_string_list (const json_t *v, char ***ret, size_t *ret_n)
{
  size_t n = json_is_array (v) ? json_array_size (v) : 1;

  *ret = calloc (n, sizeof (**ret));
  if (!*ret)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      const char *s
          = json_is_array (v) ? json_string_value (json_array_get (v, i)) : json_string_value (v);

      (*ret)[i] = strdup (s);
      if (!(*ret)[i])
        return -1;
      *ret_n = i + 1;
    }
  return 0;
}

/* Checks the claims' types; `prefix` starts every error. */
static int
check_claims (const json_t *c, const char *prefix, moat_err_t *err)
{
  const json_t *nbf = json_object_get (c, "nbf"), *iss = json_object_get (c, "iss");
  const json_t *iat = json_object_get (c, "iat"), *jti = json_object_get (c, "jti");

  if (!json_is_object (c))
    return refuse (err, prefix, "not a JSON object");
  if (!plain_string (json_object_get (c, "sub"), SIZE_MAX))
    return refuse (err, prefix, "\"sub\": want a non-empty string");
  if (!is_string_list (json_object_get (c, "aud"), true))
    return refuse (err, prefix, "\"aud\": want a non-empty string or a non-empty array of them");
  if (!json_object_get (c, "exp"))
    return refuse (err, prefix, "\"exp\": missing");
  if (!json_is_integer (json_object_get (c, "exp")))
    return refuse (err, prefix, "\"exp\": want an integer (unix seconds)");
  if (nbf && !json_is_integer (nbf))
    return refuse (err, prefix, "\"nbf\": want an integer (unix seconds)");
  if (iat && !json_is_integer (iat))
    return refuse (err, prefix, "\"iat\": want an integer (unix seconds)");
  if (jti && !plain_string (jti, MOAT_JTI_MAX))
    return refuse (err, prefix, "\"jti\": want a non-empty string of at most %d bytes",
                   MOAT_JTI_MAX);
  if (iss && !plain_string (iss, SIZE_MAX))
    return refuse (err, prefix, "\"iss\": want a non-empty string");
  /* No "grants": an access envelope's token, whose grants the operator
   * sets (envelope.h). */
  if (json_object_get (c, "grants") && !is_string_list (json_object_get (c, "grants"), false))
    return refuse (err, prefix, "\"grants\": want a non-empty array of non-empty strings");
  return 0;
}

/* Copies claims check_claims accepted, and the kid, into *ret. */
static int
copy_claims (const json_t *c, const char *kid, struct moat_token_claims *ret, moat_err_t *err)
{
  _cleanup_ (moat_token_claims_free) struct moat_token_claims out = { 0 };
  const json_t *nbf = json_object_get (c, "nbf"), *iss = json_object_get (c, "iss");
  const json_t *iat = json_object_get (c, "iat"), *jti = json_object_get (c, "jti");

  out.kid = strdup (kid);
  out.sub = strdup (json_string_value (json_object_get (c, "sub")));
  out.exp = json_integer_value (json_object_get (c, "exp"));
  out.has_nbf = nbf != NULL;
  out.nbf = json_integer_value (nbf);
  out.has_iat = iat != NULL;
  out.iat = json_integer_value (iat);
  out.jti = jti ? strdup (json_string_value (jti)) : NULL;
  out.iss = iss ? strdup (json_string_value (iss)) : NULL;
  if (!out.kid || !out.sub || (iss && !out.iss) || (jti && !out.jti)
      || copy_string_list (json_object_get (c, "aud"), &out.aud, &out.n_aud) < 0
      || (json_object_get (c, "grants")
          && copy_string_list (json_object_get (c, "grants"), &out.grants, &out.n_grants) < 0))
    return moat_error_nomem (err, "token claims");
  *ret = out;
  memset (&out, 0, sizeof (out));
  return 0;
}

/* ---- verification ---- */

#define MALFORMED "malformed token"

/* A token cut at its dots; the parts point into the token. */
struct jws
{
  const char *part[3]; /* header, claims, signature */
  size_t len[3];
};

static int
split_token (const char *jwt, struct jws *t, moat_err_t *err)
{
  size_t len = strnlen (jwt, MOAT_TOKEN_MAX + 1), parts = 1;
  const char *start = jwt;

  if (len > MOAT_TOKEN_MAX)
    return refuse (err, MALFORMED, "longer than %d bytes", MOAT_TOKEN_MAX);
  for (size_t i = 0; i < len; i++)
    if (jwt[i] == '.')
      parts++;
  if (parts != 3)
    return refuse (err, MALFORMED, "want 3 dot-separated parts, got %zu", parts);
  for (int i = 0; i < 3; i++)
    {
      const char *dot = i < 2 ? strchr (start, '.') : jwt + len;

      t->part[i] = start;
      t->len[i] = (size_t)(dot - start);
      start = dot + 1;
    }
  return 0;
}

/* A decoded part of a token. */
struct part
{
  unsigned char *p;
  size_t len;
};

static void
part_free (struct part *part)
{
  free (part->p);
}

/* Decodes the base64url text of a part; `what` names it in errors. */
static int
decode_part (const char *b64, size_t len, const char *what, struct part *ret, moat_err_t *err)
{
  size_t max = len / 4 * 3 + 3;

  ret->p = malloc (max);
  if (!ret->p)
    return moat_error_nomem (err, "token");
  if (b64url_decode (b64, len, ret->p, max, &ret->len) < 0)
    return refuse (err, MALFORMED, "%s: not unpadded base64url", what);
  return 0;
}

/* Parses a decoded part as a JSON object. */
static int
parse_part (const struct part *part, const char *what, json_t **ret, moat_err_t *err)
{
  json_error_t jerr;

  *ret = json_loadb ((const char *)part->p, part->len, JSON_REJECT_DUPLICATES, &jerr);
  if (!*ret)
    return refuse (err, MALFORMED, "%s: not JSON: %s", what, jerr.text);
  if (!json_is_object (*ret))
    return refuse (err, MALFORMED, "%s: not a JSON object", what);
  return 0;
}

/* The header's kid, once alg and crit are as they must be. */
static int
check_header (const json_t *h, const char **ret_kid, moat_err_t *err)
{
  const json_t *alg = json_object_get (h, "alg");

  if (!alg)
    return refuse (err, MALFORMED, "header: \"alg\": missing, want \"EdDSA\"");
  if (!json_is_string (alg))
    return refuse (err, MALFORMED, "header: \"alg\": not a string, want \"EdDSA\"");
  if (!string_is (alg, "EdDSA"))
    return refuse (err, MALFORMED, "header: \"alg\": \"%.32s\", want \"EdDSA\"",
                   json_string_value (alg));
  if (json_object_get (h, "crit"))
    return refuse (err, MALFORMED, "header: \"crit\": not supported");
  *ret_kid = plain_string (json_object_get (h, "kid"), MOAT_KID_MAX);
  if (!*ret_kid)
    return refuse (err, MALFORMED, "header: \"kid\": want a non-empty string of at most %d bytes",
                   MOAT_KID_MAX);
  return 0;
}

/* later - earlier, saturated: claims may hold any int64. */
static int64_t
seconds_between (int64_t later, int64_t earlier)
{
  int64_t d;

  return __builtin_sub_overflow (later, earlier, &d) ? INT64_MAX : d;
}

static int
check_time (const struct moat_token_claims *c, int64_t now, moat_err_t *err)
{
  if (c->exp <= now)
    return moat_error (err, MOAT_E_DECODE, 0, "expired %" PRId64 " s ago",
                       seconds_between (now, c->exp));
  if (c->has_nbf && c->nbf > now)
    return moat_error (err, MOAT_E_DECODE, 0, "not yet valid: nbf in %" PRId64 " s",
                       seconds_between (c->nbf, now));
  return 0;
}

int
moat_token_check_lifetime (const struct moat_token_claims *c, int64_t now, moat_err_t *err)
{
  static const char *const from[] = { "now", "nbf", "iat" };
  const int64_t start[] = { now, c->nbf, c->iat };
  const bool has[] = { true, c->has_nbf, c->has_iat };

  for (size_t i = 0; i < 3; i++)
    {
      int64_t life = has[i] ? seconds_between (c->exp, start[i]) : 0;

      if (life > MOAT_TOKEN_LIFETIME_MAX)
        return moat_error (err, MOAT_E_DECODE, 0,
                           "lifetime: exp - %s is %" PRId64 " s, more than the cap of %d s (%d d)",
                           from[i], life, MOAT_TOKEN_LIFETIME_MAX, MOAT_TOKEN_LIFETIME_MAX / 86400);
    }
  return 0;
}

/* "jti:<jti>", else "blake2b:<hex of the token's BLAKE2b-256>". */
static char *
token_id (const char *jwt, const char *jti)
{
  unsigned char h[crypto_generichash_BYTES];
  char hex[2 * sizeof (h) + 1];
  char *id = NULL;

  if (jti)
    return asprintf (&id, "jti:%s", jti) < 0 ? NULL : id;
  crypto_generichash (h, sizeof (h), (const unsigned char *)jwt, strlen (jwt), NULL, 0);
  sodium_bin2hex (hex, sizeof (hex), h, sizeof (h));
  return asprintf (&id, "blake2b:%s", hex) < 0 ? NULL : id;
}

static int
check_issuer (const struct moat_token_claims *c, const char *want_iss, moat_err_t *err)
{
  if (!want_iss)
    return 0;
  if (!c->iss)
    return moat_error (err, MOAT_E_DECODE, 0, "wrong issuer: none, want \"%.64s\"", want_iss);
  if (strcmp (c->iss, want_iss) != 0)
    return moat_error (err, MOAT_E_DECODE, 0, "wrong issuer \"%.64s\", want \"%.64s\"", c->iss,
                       want_iss);
  return 0;
}

int
moat_token_verify_signed (const struct moat_keyring *kr, const char *jwt, const char *want_iss,
                          struct moat_token_claims *ret, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *header = NULL;
  _cleanup_ (json_decrefp) json_t *claims = NULL;
  _cleanup_ (moat_token_claims_free) struct moat_token_claims out = { 0 };
  _cleanup_ (part_free) struct part header_bytes = { 0 }, claims_bytes = { 0 };
  unsigned char sig[SIG_BYTES + 1];
  const struct moat_jwk *key;
  struct jws t;
  const char *kid;
  size_t sig_len = 0;

  if (crypto_ready (err) < 0)
    return -1;
  if (!jwt)
    return refuse (err, MALFORMED, "empty");
  if (split_token (jwt, &t, err) < 0)
    return -1;
  if (decode_part (t.part[0], t.len[0], "header", &header_bytes, err) < 0
      || decode_part (t.part[1], t.len[1], "claims", &claims_bytes, err) < 0)
    return -1;
  if (b64url_decode (t.part[2], t.len[2], sig, sizeof (sig), &sig_len) < 0 || sig_len != SIG_BYTES)
    return refuse (err, MALFORMED, "signature: not %d bytes of unpadded base64url", SIG_BYTES);
  if (parse_part (&header_bytes, "header", &header, err) < 0)
    return -1;
  if (check_header (header, &kid, err) < 0)
    return -1;
  key = moat_keyring_find (kr, kid);
  if (!key)
    return moat_error (err, MOAT_E_DECODE, 0, "unknown kid \"%.64s\"", kid);
  if (crypto_sign_verify_detached (sig, (const unsigned char *)jwt, t.len[0] + 1 + t.len[1],
                                   key->pk)
      != 0)
    return moat_error (err, MOAT_E_DECODE, 0, "bad signature");
  /* The claims are read only once their signature holds. */
  if (parse_part (&claims_bytes, "claims", &claims, err) < 0)
    return -1;
  if (check_claims (claims, MALFORMED ": claims", err) < 0)
    return -1;
  if (copy_claims (claims, kid, &out, err) < 0)
    return -1;
  if (!(out.id = token_id (jwt, out.jti)))
    return moat_error_nomem (err, "token");
  if (check_issuer (&out, want_iss, err) < 0)
    return -1;
  *ret = out;
  memset (&out, 0, sizeof (out));
  return 0;
}

int
moat_token_verify (const struct moat_keyring *kr, const char *jwt, int64_t now,
                   const char *want_iss, struct moat_token_claims *ret, moat_err_t *err)
{
  _cleanup_ (moat_token_claims_free) struct moat_token_claims out = { 0 };

  if (moat_token_verify_signed (kr, jwt, NULL, &out, err) < 0)
    return -1;
  if (check_time (&out, now, err) < 0 || moat_token_check_lifetime (&out, now, err) < 0
      || check_issuer (&out, want_iss, err) < 0)
    return -1;
  *ret = out;
  memset (&out, 0, sizeof (out));
  return 0;
}

/* ---- signing ---- */

int
moat_token_sign (const struct moat_jwk *key, json_t *claims, char **ret_jwt, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *header = NULL;
  _cleanup_free_ char *header_text = NULL, *claims_text = NULL, *h64 = NULL, *c64 = NULL;
  _cleanup_free_ char *s64 = NULL, *jwt = NULL;
  unsigned char sig[SIG_BYTES];
  size_t signed_len, total;

  if (crypto_ready (err) < 0)
    return -1;
  if (!key->has_sk)
    return moat_error (err, MOAT_E_DECODE, 0, "key \"%.64s\" (%s): no private part (\"d\")",
                       key->kid, key->path ? key->path : "generated");
  if (check_claims (claims, "token claims", err) < 0)
    return -1;
  header = json_pack ("{s:s, s:s, s:s}", "alg", "EdDSA", "kid", key->kid, "typ", "JWT");
  if (!header)
    return moat_error (err, MOAT_E_DECODE, 0, "key \"%.64s\": kid is not valid UTF-8", key->kid);
  header_text = json_dumps (header, JSON_COMPACT | JSON_SORT_KEYS);
  claims_text = json_dumps (claims, JSON_COMPACT | JSON_SORT_KEYS);
  if (!header_text || !claims_text)
    return moat_error_nomem (err, "token");
  h64 = b64url_encode (header_text, strlen (header_text));
  c64 = b64url_encode (claims_text, strlen (claims_text));
  if (!h64 || !c64)
    return moat_error_nomem (err, "token");
  signed_len = strlen (h64) + 1 + strlen (c64);
  total = signed_len + 1 + sodium_base64_ENCODED_LEN (SIG_BYTES, B64URL) - 1;
  if (total > MOAT_TOKEN_MAX)
    return moat_error (err, MOAT_E_DECODE, 0, "token: %zu bytes, longer than %d", total,
                       MOAT_TOKEN_MAX);
  jwt = malloc (total + 1);
  if (!jwt)
    return moat_error_nomem (err, "token");
  snprintf (jwt, total + 1, "%s.%s", h64, c64);
  crypto_sign_detached (sig, NULL, (const unsigned char *)jwt, signed_len, key->sk);
  s64 = b64url_encode (sig, sizeof (sig));
  if (!s64)
    return moat_error_nomem (err, "token");
  snprintf (jwt + signed_len, total + 1 - signed_len, ".%s", s64);
  *ret_jwt = TAKE_PTR (jwt);
  return 0;
}

/* ---- key generation ---- */

/* snprintf into an exact-size buffer: no hidden copies of secret text. */
static char *format_exact (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static char *
format_exact (const char *fmt, ...)
{
  va_list ap;
  char *s;
  int n;

  va_start (ap, fmt);
  n = vsnprintf (NULL, 0, fmt, ap);
  va_end (ap);
  if (n < 0)
    return NULL;
  s = malloc ((size_t)n + 1);
  if (!s)
    return NULL;
  va_start (ap, fmt);
  vsnprintf (s, (size_t)n + 1, fmt, ap);
  va_end (ap);
  return s;
}

int
moat_jwk_generate (const char *kid, char **ret_private, char **ret_public, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *kid_json = NULL;
  _cleanup_free_ char *kid_text = NULL, *pub = NULL;
  unsigned char pk[PK_BYTES], sk[crypto_sign_SECRETKEYBYTES];
  char x[KEY_B64_SIZE], d[KEY_B64_SIZE];
  char *priv;
  size_t kid_len = kid ? strlen (kid) : 0;

  if (crypto_ready (err) < 0)
    return -1;
  if (kid_len == 0 || kid_len > MOAT_KID_MAX)
    return moat_error (err, MOAT_E_DECODE, 0, "kid: want 1-%d bytes", MOAT_KID_MAX);
  kid_json = json_string (kid);
  if (!kid_json)
    return moat_error (err, MOAT_E_DECODE, 0, "kid \"%.64s\": not valid UTF-8", kid);
  kid_text = json_dumps (kid_json, JSON_ENCODE_ANY);
  if (!kid_text)
    return moat_error_nomem (err, "kid");
  crypto_sign_keypair (pk, sk);
  sodium_bin2base64 (x, sizeof (x), pk, sizeof (pk), B64URL);
  sodium_bin2base64 (d, sizeof (d), sk, SEED_BYTES, B64URL);
  sodium_memzero (sk, sizeof (sk));
  pub = format_exact ("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":%s,\"x\":\"%s\"}\n", kid_text,
                      x);
  priv = format_exact (
      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":%s,\"x\":\"%s\",\"d\":\"%s\"}\n", kid_text, x,
      d);
  sodium_memzero (d, sizeof (d));
  if (!pub || !priv)
    {
      if (priv)
        sodium_memzero (priv, strlen (priv));
      free (priv);
      return moat_error_nomem (err, "key");
    }
  *ret_private = priv;
  *ret_public = TAKE_PTR (pub);
  return 0;
}
