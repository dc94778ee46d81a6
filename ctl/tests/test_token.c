/* SPDX-License-Identifier: Apache-2.0 */
/* Ed25519 JWS access tokens and the JWK keyring, keys in a private dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "../grant.h"
#include "../revoked.h"
#include "state/state.h"
#include "../token.h"

#define NOW INT64_C (1700000000)

/* One private dir; keys/ holds a.jwk (k1, private) and b.jwk (k2, public). */
struct fixture
{
  char root[64];
  char keys[128];
  struct moat_keyring kr;
  struct moat_jwk other_k1; /* another key that calls itself k1 */
  struct moat_jwk k9;       /* a key the keyring does not know */
  char *k2_private;         /* b.jwk's key with its "d" */
};

static void
write_file (const char *dir, const char *name, const char *text)
{
  char path[512];
  FILE *f;

  snprintf (path, sizeof (path), "%s/%s", dir, name);
  f = fopen (path, "we");
  if (!f)
    fail_msg ("%s: %m", path);
  fputs (text, f);
  fclose (f);
}

/* A new directory under the fixture's root, its path in buf. */
static const char *
make_dir (const struct fixture *f, const char *name, char *buf, size_t size)
{
  snprintf (buf, size, "%s/%s", f->root, name);
  if (mkdir (buf, 0700) < 0)
    fail_msg ("%s: %m", buf);
  return buf;
}

static void
generate (const char *kid, char **priv, char **pub)
{
  moat_err_t err = { 0 };

  if (moat_jwk_generate (kid, priv, pub, &err) < 0)
    fail_msg ("generate %s: %s", kid, err.msg);
}

static void
parse_key (const char *text, struct moat_jwk *key)
{
  moat_err_t err = { 0 };

  if (moat_jwk_parse (text, strlen (text), "mem.jwk", key, &err) < 0)
    fail_msg ("%s: %s", text, err.msg);
}

static int
setup (void **state)
{
  struct fixture *f = calloc (1, sizeof (*f));
  _cleanup_free_ char *priv = NULL, *pub = NULL, *opriv = NULL, *opub = NULL;
  _cleanup_free_ char *k9priv = NULL, *k9pub = NULL, *k2pub = NULL;
  moat_err_t err = { 0 };

  if (!f)
    return -1;
  snprintf (f->root, sizeof (f->root), "/tmp/moat-test-token-XXXXXX");
  if (!mkdtemp (f->root))
    return -1;
  make_dir (f, "keys", f->keys, sizeof (f->keys));
  generate ("k1", &priv, &pub);
  generate ("k1", &opriv, &opub);
  generate ("k9", &k9priv, &k9pub);
  generate ("k2", &f->k2_private, &k2pub);
  write_file (f->keys, "a.jwk", priv);
  write_file (f->keys, "b.jwk", k2pub);
  if (moat_keyring_load (f->keys, &f->kr, &err) < 0)
    fail_msg ("%s", err.msg);
  parse_key (opriv, &f->other_k1);
  parse_key (k9priv, &f->k9);
  *state = f;
  return 0;
}

static int
remove_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove (path);
}

static int
teardown (void **state)
{
  struct fixture *f = *state;
  int r = nftw (f->root, remove_one, 16, FTW_DEPTH | FTW_PHYS);

  moat_keyring_free (&f->kr);
  moat_jwk_free (&f->other_k1);
  moat_jwk_free (&f->k9);
  free (f->k2_private);
  free (f);
  return r;
}

static const struct moat_jwk *
k1 (const struct fixture *f)
{
  const struct moat_jwk *k = moat_keyring_find (&f->kr, "k1");

  assert_non_null (k);
  assert_true (k->has_sk);
  return k;
}

/* A token over `claims_text` signed by `key`. */
static char *
sign_text (const struct moat_jwk *key, const char *claims_text)
{
  json_auto_t *claims = json_loads (claims_text, 0, NULL);
  moat_err_t err = { 0 };
  char *jwt = NULL;

  if (!claims)
    fail_msg ("bad test claims %s", claims_text);
  if (moat_token_sign (key, claims, &jwt, &err) < 0)
    fail_msg ("sign %s: %s", claims_text, err.msg);
  return jwt;
}

static char *
b64url (const void *bin, size_t len)
{
  size_t size = sodium_base64_ENCODED_LEN (len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char *s = malloc (size);

  assert_non_null (s);
  sodium_bin2base64 (s, size, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return s;
}

/* A token of any header and claims bytes, validly signed by `key`. */
static char *
raw_token (const struct moat_jwk *key, const char *header, const char *claims)
{
  _cleanup_free_ char *h = b64url (header, strlen (header));
  _cleanup_free_ char *c = b64url (claims, strlen (claims));
  _cleanup_free_ char *signing = NULL, *s = NULL;
  unsigned char sig[crypto_sign_BYTES];
  char *jwt = NULL;

  assert_true (asprintf (&signing, "%s.%s", h, c) > 0);
  crypto_sign_detached (sig, NULL, (const unsigned char *)signing, strlen (signing), key->sk);
  s = b64url (sig, sizeof (sig));
  assert_true (asprintf (&jwt, "%s.%s", signing, s) > 0);
  return jwt;
}

#define K1_HEADER "{\"alg\":\"EdDSA\",\"kid\":\"k1\"}"
#define GOOD_CLAIMS                                                                                \
  "{\"sub\":\"web\",\"aud\":\"net1\",\"exp\":1700000060,\"grants\":[\"host tcp/80\"]}"

static void
verify_ok (const struct fixture *f, const char *jwt, int64_t now, const char *iss,
           struct moat_token_claims *c)
{
  moat_err_t err = { 0 };

  if (moat_token_verify (&f->kr, jwt, now, iss, c, &err) < 0)
    fail_msg ("verify %s: %s", jwt, err.msg);
}

/* Refused with MOAT_E_DECODE and exactly `want` (or, when `want` ends in
 * '*', a message starting with what precedes it); *ret left alone. */
static void
verify_fails_at (const struct fixture *f, const char *jwt, int64_t now, const char *iss,
                 const char *want, int line)
{
  struct moat_token_claims c = { 0 };
  moat_err_t err = { 0 };
  size_t n = strlen (want);
  bool prefix = n && want[n - 1] == '*';

  if (moat_token_verify (&f->kr, jwt, now, iss, &c, &err) == 0)
    fail_msg ("line %d: %s: accepted, want \"%s\"", line, jwt ? jwt : "NULL", want);
  if (c.sub || c.kid || c.aud || c.grants)
    fail_msg ("line %d: claims written on failure", line);
  if (err.code != MOAT_E_DECODE || strchr (err.msg, '\n')
      || (prefix ? strncmp (err.msg, want, n - 1) != 0 : strcmp (err.msg, want) != 0))
    fail_msg ("line %d: got %d \"%s\", want \"%s\"", line, err.code, err.msg, want);
}

#define verify_fails(f, jwt, want) verify_fails_at (f, jwt, NOW, NULL, want, __LINE__)

/* A validly signed token of these claims must be refused with `want`. */
#define claims_refused(f, claims, want)                                                            \
  do                                                                                               \
    {                                                                                              \
      _cleanup_free_ char *_jwt = raw_token (k1 (f), K1_HEADER, claims);                           \
      verify_fails_at (f, _jwt, NOW, NULL, want, __LINE__);                                        \
    }                                                                                              \
  while (0)

#define header_refused(f, header, want)                                                            \
  do                                                                                               \
    {                                                                                              \
      _cleanup_free_ char *_jwt = raw_token (k1 (f), header, GOOD_CLAIMS);                         \
      verify_fails_at (f, _jwt, NOW, NULL, want, __LINE__);                                        \
    }                                                                                              \
  while (0)

static void
test_round_trip (void **state)
{
  struct fixture *f = *state;
  _cleanup_free_ char *jwt = sign_text (
      k1 (f), "{\"sub\":\"web\",\"aud\":\"net1\",\"exp\":1700000060,\"nbf\":1699999990,"
              "\"iss\":\"moat\",\"grants\":[\"host tcp/80\",\"egress 10.0.0.0/8 udp/53\"]}");
  struct moat_token_claims c = { 0 };
  unsigned char header[128];
  size_t header_len = 0;

  verify_ok (f, jwt, NOW, "moat", &c);
  assert_string_equal (c.kid, "k1");
  assert_string_equal (c.sub, "web");
  assert_int_equal (c.n_aud, 1);
  assert_string_equal (c.aud[0], "net1");
  assert_int_equal (c.exp, 1700000060);
  assert_true (c.has_nbf);
  assert_int_equal (c.nbf, 1699999990);
  assert_string_equal (c.iss, "moat");
  assert_int_equal (c.n_grants, 2);
  assert_string_equal (c.grants[0], "host tcp/80");
  assert_string_equal (c.grants[1], "egress 10.0.0.0/8 udp/53");
  assert_true (moat_token_aud_has (&c, "net1"));
  assert_false (moat_token_aud_has (&c, "net2"));
  moat_token_claims_free (&c);
  assert_null (c.sub);

  /* The header is exactly what RFC 8037 wants, sorted and compact. */
  assert_non_null (strchr (jwt, '.'));
  assert_int_equal (sodium_base642bin (header, sizeof (header), jwt, strchr (jwt, '.') - jwt, NULL,
                                       &header_len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                    0);
  assert_int_equal (header_len, strlen ("{\"alg\":\"EdDSA\",\"kid\":\"k1\",\"typ\":\"JWT\"}"));
  assert_memory_equal (header, "{\"alg\":\"EdDSA\",\"kid\":\"k1\",\"typ\":\"JWT\"}", header_len);

  /* No iss wanted: none needed; nbf absent. */
  {
    _cleanup_free_ char *plain = sign_text (k1 (f), GOOD_CLAIMS);

    verify_ok (f, plain, NOW, NULL, &c);
    assert_false (c.has_nbf);
    assert_null (c.iss);
    moat_token_claims_free (&c);
  }
}

static void
test_aud_forms (void **state)
{
  struct fixture *f = *state;
  _cleanup_free_ char *jwt
      = sign_text (k1 (f), "{\"sub\":\"web\",\"aud\":[\"net1\",\"net2\"],\"exp\":1700000060,"
                           "\"grants\":[\"peer db\"]}");
  struct moat_token_claims c = { 0 };

  verify_ok (f, jwt, NOW, NULL, &c);
  assert_int_equal (c.n_aud, 2);
  assert_true (moat_token_aud_has (&c, "net1"));
  assert_true (moat_token_aud_has (&c, "net2"));
  assert_false (moat_token_aud_has (&c, "net"));
  moat_token_claims_free (&c);

  claims_refused (f, "{\"sub\":\"w\",\"aud\":[],\"exp\":1700000060,\"grants\":[\"g\"]}",
                  "malformed token: claims: \"aud\": want a non-empty string or a non-empty "
                  "array of them");
  claims_refused (f, "{\"sub\":\"w\",\"aud\":[\"a\",1],\"exp\":1700000060,\"grants\":[\"g\"]}",
                  "malformed token: claims: \"aud\": *");
  claims_refused (f, "{\"sub\":\"w\",\"aud\":\"\",\"exp\":1700000060,\"grants\":[\"g\"]}",
                  "malformed token: claims: \"aud\": *");
  claims_refused (f, "{\"sub\":\"w\",\"exp\":1700000060,\"grants\":[\"g\"]}",
                  "malformed token: claims: \"aud\": *");
}

/* Replaces the claims part of `jwt` with `claims`, keeping the signature. */
static char *
swap_claims (const char *jwt, const char *claims)
{
  const char *dot1 = strchr (jwt, '.'), *dot2 = strrchr (jwt, '.');
  _cleanup_free_ char *c = b64url (claims, strlen (claims));
  char *out = NULL;

  assert_true (asprintf (&out, "%.*s.%s%s", (int)(dot1 - jwt), jwt, c, dot2) > 0);
  return out;
}

static void
test_bad_signature (void **state)
{
  struct fixture *f = *state;
  _cleanup_free_ char *jwt = sign_text (k1 (f), GOOD_CLAIMS);
  _cleanup_free_ char *tampered = swap_claims (
      jwt, "{\"aud\":\"net1\",\"exp\":1700000060,\"grants\":[\"host tcp/22\"],\"sub\":\"web\"}");
  _cleanup_free_ char *forged = sign_text (&f->other_k1, GOOD_CLAIMS);
  _cleanup_free_ char *flipped = strdup (jwt);
  char *sig = strrchr (flipped, '.') + 1;

  verify_fails (f, tampered, "bad signature");
  verify_fails (f, forged, "bad signature");
  sig[0] = sig[0] == 'A' ? 'B' : 'A';
  verify_fails (f, flipped, "bad signature");
  /* The untouched token still passes: the failures above are the edits. */
  {
    struct moat_token_claims c = { 0 };

    verify_ok (f, jwt, NOW, NULL, &c);
    moat_token_claims_free (&c);
  }
}

static void
test_unknown_kid (void **state)
{
  struct fixture *f = *state;
  _cleanup_free_ char *jwt = sign_text (&f->k9, GOOD_CLAIMS);

  verify_fails (f, jwt, "unknown kid \"k9\"");
}

static void
test_time (void **state)
{
  struct fixture *f = *state;
  _cleanup_free_ char *jwt = sign_text (k1 (f), GOOD_CLAIMS); /* exp NOW+60 */
  _cleanup_free_ char *nbf
      = sign_text (k1 (f), "{\"sub\":\"web\",\"aud\":\"n\",\"exp\":1700000060,\"nbf\":1700000030,"
                           "\"grants\":[\"g\"]}");
  _cleanup_free_ char *ancient = sign_text (
      k1 (f), "{\"sub\":\"web\",\"aud\":\"n\",\"exp\":-9223372036854775808,\"grants\":[\"g\"]}");
  struct moat_token_claims c = { 0 };

  verify_ok (f, jwt, NOW + 59, NULL, &c);
  moat_token_claims_free (&c);
  verify_fails_at (f, jwt, NOW + 60, NULL, "expired 0 s ago", __LINE__);
  verify_fails_at (f, jwt, NOW + 65, NULL, "expired 5 s ago", __LINE__);
  verify_fails_at (f, nbf, NOW, NULL, "not yet valid: nbf in 30 s", __LINE__);
  verify_fails_at (f, nbf, NOW + 29, NULL, "not yet valid: nbf in 1 s", __LINE__);
  verify_ok (f, nbf, NOW + 30, NULL, &c);
  moat_token_claims_free (&c);
  /* No overflow on absurd values: the difference saturates. */
  verify_fails_at (f, ancient, NOW, NULL, "expired 9223372036854775807 s ago", __LINE__);
}

static void
test_issuer (void **state)
{
  struct fixture *f = *state;
  _cleanup_free_ char *evil = sign_text (
      k1 (f),
      "{\"sub\":\"web\",\"aud\":\"n\",\"exp\":1700000060,\"iss\":\"evil\",\"grants\":[\"g\"]}");
  _cleanup_free_ char *none = sign_text (k1 (f), GOOD_CLAIMS);
  struct moat_token_claims c = { 0 };

  verify_fails_at (f, evil, NOW, "moat", "wrong issuer \"evil\", want \"moat\"", __LINE__);
  verify_fails_at (f, none, NOW, "moat", "wrong issuer: none, want \"moat\"", __LINE__);
  verify_ok (f, evil, NOW, NULL, &c);
  assert_string_equal (c.iss, "evil");
  moat_token_claims_free (&c);
  /* Expiry is checked before the issuer. */
  verify_fails_at (f, evil, NOW + 100, "moat", "expired 40 s ago", __LINE__);
}

static void
test_malformed_structure (void **state)
{
  struct fixture *f = *state;
  _cleanup_free_ char *jwt = sign_text (k1 (f), GOOD_CLAIMS);
  _cleanup_free_ char *four = NULL, *padded_header = NULL, *padded_sig = NULL;
  _cleanup_free_ char *std_alphabet = NULL, *trailing = NULL, *long_jwt = NULL;
  _cleanup_free_ char *header_b64 = b64url (K1_HEADER, strlen (K1_HEADER));
  const char *rest = strchr (jwt, '.');

  verify_fails (f, NULL, "malformed token: empty");
  verify_fails (f, "", "malformed token: want 3 dot-separated parts, got 1");
  verify_fails (f, "abc.def", "malformed token: want 3 dot-separated parts, got 2");
  assert_true (asprintf (&four, "%s.AAAA", jwt) > 0);
  verify_fails (f, four, "malformed token: want 3 dot-separated parts, got 4");

  /* K1_HEADER is 26 bytes: padded base64 would end in one '='. */
  assert_int_equal (strlen (K1_HEADER) % 3, 2);
  assert_true (asprintf (&padded_header, "%s=%s", header_b64, rest) > 0);
  verify_fails (f, padded_header, "malformed token: header: not unpadded base64url");
  assert_true (asprintf (&padded_sig, "%s==", jwt) > 0);
  verify_fails (f, padded_sig, "malformed token: signature: not 64 bytes of unpadded base64url");
  /* '+' and '/' belong to the other alphabet. */
  std_alphabet = strdup (jwt);
  std_alphabet[1] = '+';
  verify_fails (f, std_alphabet, "malformed token: header: not unpadded base64url");
  std_alphabet[1] = jwt[1];
  strchr (std_alphabet, '.')[1] = '/';
  verify_fails (f, std_alphabet, "malformed token: claims: not unpadded base64url");
  /* Non-zero trailing bits: 26 bytes are 35 characters whose last 2 bits
   * must be zero, so the last character's index is a multiple of 4. */
  trailing = strdup (padded_header);
  assert_int_equal (strlen (header_b64), 35);
  {
    static const char alphabet[]
        = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i = (size_t)(strchr (alphabet, trailing[34]) - alphabet);

    assert_int_equal (i % 4, 0);
    trailing[34] = alphabet[i + 1];
  }
  memmove (trailing + 35, trailing + 36, strlen (trailing + 36) + 1); /* drop the '=' */
  verify_fails (f, trailing, "malformed token: header: not unpadded base64url");
  /* Whitespace is not stripped for the caller. */
  {
    _cleanup_free_ char *nl = NULL;

    assert_true (asprintf (&nl, "%s\n", jwt) > 0);
    verify_fails (f, nl, "malformed token: signature: not 64 bytes of unpadded base64url");
  }
  verify_fails (f, "..", "malformed token: signature: not 64 bytes of unpadded base64url");

  long_jwt = malloc (MOAT_TOKEN_MAX + 2);
  assert_non_null (long_jwt);
  memset (long_jwt, 'A', MOAT_TOKEN_MAX + 1);
  long_jwt[10] = long_jwt[20] = '.';
  long_jwt[MOAT_TOKEN_MAX + 1] = '\0';
  verify_fails (f, long_jwt, "malformed token: longer than 16384 bytes");
}

static void
test_malformed_header (void **state)
{
  struct fixture *f = *state;

  header_refused (f, "not json", "malformed token: header: not JSON: *");
  header_refused (f, "[\"alg\",\"EdDSA\"]", "malformed token: header: not a JSON object");
  header_refused (f, "{\"alg\":\"none\",\"kid\":\"k1\"}",
                  "malformed token: header: \"alg\": \"none\", want \"EdDSA\"");
  header_refused (f, "{\"alg\":\"HS256\",\"kid\":\"k1\"}",
                  "malformed token: header: \"alg\": \"HS256\", want \"EdDSA\"");
  header_refused (f, "{\"alg\":\"eddsa\",\"kid\":\"k1\"}",
                  "malformed token: header: \"alg\": \"eddsa\", want \"EdDSA\"");
  header_refused (f, "{\"kid\":\"k1\"}",
                  "malformed token: header: \"alg\": missing, want \"EdDSA\"");
  header_refused (f, "{\"alg\":7,\"kid\":\"k1\"}",
                  "malformed token: header: \"alg\": not a string, want \"EdDSA\"");
  header_refused (f, "{\"alg\":\"EdDSA\",\"kid\":1}",
                  "malformed token: header: \"kid\": want a non-empty string of at most 256 "
                  "bytes");
  header_refused (f, "{\"alg\":\"EdDSA\"}", "malformed token: header: \"kid\": *");
  /* jansson refuses "\u0000"; the NUL check behind it is defence in depth. */
  header_refused (f, "{\"alg\":\"EdDSA\",\"kid\":\"k1\\u0000x\"}",
                  "malformed token: header: not JSON: \\u0000 is not allowed*");
  header_refused (f, "{\"alg\":\"EdDSA\",\"kid\":\"k1\",\"crit\":[\"exp\"]}",
                  "malformed token: header: \"crit\": not supported");
  header_refused (f, "{\"alg\":\"EdDSA\",\"alg\":\"none\",\"kid\":\"k1\"}",
                  "malformed token: header: not JSON: duplicate object key*");
  /* typ and other members do not matter. */
  {
    _cleanup_free_ char *jwt = raw_token (
        k1 (f), "{\"alg\":\"EdDSA\",\"kid\":\"k1\",\"typ\":\"at+jwt\",\"x5u\":1}", GOOD_CLAIMS);
    struct moat_token_claims c = { 0 };

    verify_ok (f, jwt, NOW, NULL, &c);
    moat_token_claims_free (&c);
  }
}

static void
test_malformed_claims (void **state)
{
  struct fixture *f = *state;

  claims_refused (f, "not json", "malformed token: claims: not JSON: *");
  claims_refused (f, "", "malformed token: claims: not JSON: *");
  claims_refused (f, "[1]", "malformed token: claims: not a JSON object");
  claims_refused (f, "{\"sub\":\"w\",\"aud\":\"n\",\"grants\":[\"g\"]}",
                  "malformed token: claims: \"exp\": missing");
  claims_refused (f, "{\"sub\":\"w\",\"aud\":\"n\",\"exp\":\"1700000060\",\"grants\":[\"g\"]}",
                  "malformed token: claims: \"exp\": want an integer (unix seconds)");
  claims_refused (f, "{\"sub\":\"w\",\"aud\":\"n\",\"exp\":1700000060.0,\"grants\":[\"g\"]}",
                  "malformed token: claims: \"exp\": want an integer (unix seconds)");
  claims_refused (f,
                  "{\"sub\":\"w\",\"aud\":\"n\",\"exp\":1700000060,\"nbf\":null,"
                  "\"grants\":[\"g\"]}",
                  "malformed token: claims: \"nbf\": want an integer (unix seconds)");
  claims_refused (f,
                  "{\"sub\":\"w\",\"aud\":\"n\",\"exp\":1700000060,\"iss\":5,\"grants\":[\"g\"]}",
                  "malformed token: claims: \"iss\": want a non-empty string");
  claims_refused (f, "{\"sub\":\"\",\"aud\":\"n\",\"exp\":1700000060,\"grants\":[\"g\"]}",
                  "malformed token: claims: \"sub\": want a non-empty string");
  claims_refused (f, "{\"aud\":\"n\",\"exp\":1700000060,\"grants\":[\"g\"]}",
                  "malformed token: claims: \"sub\": want a non-empty string");
  claims_refused (f, "{\"sub\":\"w\\u0000db\",\"aud\":\"n\",\"exp\":1700000060,\"grants\":[\"g\"]}",
                  "malformed token: claims: not JSON: \\u0000 is not allowed*");
  claims_refused (f, "{\"sub\":\"w\",\"aud\":\"n\",\"exp\":1700000060,\"grants\":[]}",
                  "malformed token: claims: \"grants\": want a non-empty array of non-empty "
                  "strings");
  claims_refused (f, "{\"sub\":\"w\",\"aud\":\"n\",\"exp\":1700000060,\"grants\":[\"g\",2]}",
                  "malformed token: claims: \"grants\": *");
  claims_refused (f, "{\"sub\":\"w\",\"aud\":\"n\",\"exp\":1700000060,\"grants\":[\"\"]}",
                  "malformed token: claims: \"grants\": *");
  claims_refused (f, "{\"sub\":\"w\",\"aud\":\"n\",\"exp\":1700000060,\"grants\":\"g\"}",
                  "malformed token: claims: \"grants\": *");
  /* Without "grants": an access envelope's token, accepted with none. */
  {
    _cleanup_free_ char *jwt = raw_token (
        k1 (f), K1_HEADER,
        "{\"sub\":\"192.0.2.7\",\"aud\":[\"host1\"],\"exp\":1700000060,\"iss\":\"env\"}");
    struct moat_token_claims c = { 0 };

    verify_ok (f, jwt, NOW, "env", &c);
    assert_int_equal (c.n_grants, 0);
    assert_null (c.grants);
    assert_string_equal (c.sub, "192.0.2.7");
    assert_true (moat_token_aud_has (&c, "host1"));
    moat_token_claims_free (&c);
  }
  claims_refused (f,
                  "{\"sub\":\"w\",\"sub\":\"db\",\"aud\":\"n\",\"exp\":1700000060,"
                  "\"grants\":[\"g\"]}",
                  "malformed token: claims: not JSON: duplicate object key*");
  /* Claims are read only after the signature: garbage under a forged
   * signature is a bad signature, not a parse error. */
  {
    _cleanup_free_ char *jwt = raw_token (&f->other_k1, K1_HEADER, "not json");

    verify_fails (f, jwt, "bad signature");
  }
}

static void
test_sign (void **state)
{
  struct fixture *f = *state;
  const struct moat_jwk *k2 = moat_keyring_find (&f->kr, "k2");
  json_auto_t *claims = json_loads (GOOD_CLAIMS, 0, NULL);
  json_auto_t *bad = json_loads ("{\"sub\":\"w\",\"aud\":\"n\",\"exp\":1,\"grants\":[]}", 0, NULL);
  json_auto_t *big = json_loads (GOOD_CLAIMS, 0, NULL);
  _cleanup_free_ char *filler = malloc (MOAT_TOKEN_MAX);
  moat_err_t err = { 0 };
  char *jwt = NULL;

  assert_non_null (k2);
  assert_false (k2->has_sk);
  assert_int_equal (moat_token_sign (k2, claims, &jwt, &err), -1);
  assert_null (jwt);
  assert_int_equal (err.code, MOAT_E_DECODE);
  assert_non_null (strstr (err.msg, "key \"k2\" ("));
  assert_non_null (strstr (err.msg, "/b.jwk): no private part (\"d\")"));

  assert_int_equal (moat_token_sign (k1 (f), bad, &jwt, &err), -1);
  assert_null (jwt);
  assert_string_equal (err.msg, "token claims: \"grants\": want a non-empty array of non-empty "
                                "strings");

  /* A NUL inside a string made in C is refused too. */
  json_object_set_new (bad, "grants", json_pack ("[s]", "g"));
  json_object_set_new (bad, "sub", json_stringn ("w\0db", 4));
  assert_int_equal (moat_token_sign (k1 (f), bad, &jwt, &err), -1);
  assert_string_equal (err.msg, "token claims: \"sub\": want a non-empty string");

  /* Longest token: a grant that fills it up to the limit, then one more byte. */
  assert_non_null (filler);
  memset (filler, 'g', 12000);
  filler[12000] = '\0';
  json_array_append_new (json_object_get (big, "grants"), json_string (filler));
  assert_int_equal (moat_token_sign (k1 (f), big, &jwt, &err), 0);
  {
    size_t len = strlen (jwt), room = (MOAT_TOKEN_MAX - len) / 4 * 3;
    struct moat_token_claims c = { 0 };

    free (jwt);
    jwt = NULL;
    /* Grow the grant so the token is exactly MOAT_TOKEN_MAX (base64 of
     * 3 bytes is 4 characters). */
    memset (filler + 12000, 'g', room);
    filler[12000 + room] = '\0';
    json_array_set_new (json_object_get (big, "grants"), 1, json_string (filler));
    assert_int_equal (moat_token_sign (k1 (f), big, &jwt, &err), 0);
    assert_true (strlen (jwt) <= MOAT_TOKEN_MAX && strlen (jwt) > MOAT_TOKEN_MAX - 4);
    verify_ok (f, jwt, NOW, NULL, &c);
    assert_int_equal (c.n_grants, 2);
    moat_token_claims_free (&c);
    free (jwt);
    jwt = NULL;
    memset (filler + 12000 + room, 'g', 4);
    filler[12000 + room + 4] = '\0';
    json_array_set_new (json_object_get (big, "grants"), 1, json_string (filler));
    assert_int_equal (moat_token_sign (k1 (f), big, &jwt, &err), -1);
    assert_null (jwt);
    assert_non_null (strstr (err.msg, "bytes, longer than 16384"));
  }
}

/* Loading `dir` fails with `code` and exactly `want` ("%s" = dir; a
 * trailing '*' matches any rest). */
static void
load_fails_at (const char *dir, int code, const char *want_fmt, int line)
{
  struct moat_keyring kr = { 0 };
  moat_err_t err = { 0 };
  char want[1024];

  size_t n;
  bool prefix;

  snprintf (want, sizeof (want), want_fmt, dir, dir);
  n = strlen (want);
  prefix = n && want[n - 1] == '*';
  if (moat_keyring_load (dir, &kr, &err) == 0)
    fail_msg ("line %d: %s: loaded %zu keys, want \"%s\"", line, dir, kr.n, want);
  if (kr.keys || kr.n)
    fail_msg ("line %d: keyring written on failure", line);
  if (err.code != code || strchr (err.msg, '\n')
      || (prefix ? strncmp (err.msg, want, n - 1) != 0 : strcmp (err.msg, want) != 0))
    fail_msg ("line %d: got %d \"%s\", want %d \"%s\"", line, err.code, err.msg, code, want);
}

#define load_fails(dir, code, want) load_fails_at (dir, code, want, __LINE__)

/* A JWK text with the given members after kty/crv. */
static char *
jwk_text (const char *kty, const char *crv, const char *rest)
{
  char *s = NULL;

  assert_true (asprintf (&s, "{\"kty\":\"%s\",\"crv\":\"%s\",%s}", kty, crv, rest) > 0);
  return s;
}

static void
test_keyring_load (void **state)
{
  struct fixture *f = *state;
  const struct moat_jwk *a = moat_keyring_find (&f->kr, "k1");
  const struct moat_jwk *b = moat_keyring_find (&f->kr, "k2");
  struct moat_keyring kr = { 0 };
  moat_err_t err = { 0 };
  char dir[256], path[512];
  _cleanup_free_ char *b64x = b64url (b->pk, 32), *extra = NULL;

  assert_int_equal (f->kr.n, 2);
  assert_non_null (a);
  assert_true (a->has_sk);
  assert_non_null (strstr (a->path, "/keys/a.jwk"));
  assert_false (b->has_sk);
  assert_null (moat_keyring_find (&f->kr, "k3"));
  assert_null (moat_keyring_find (NULL, "k1"));

  /* Other files are ignored; unknown members are allowed; trailing slash. */
  make_dir (f, "mixed", dir, sizeof (dir));
  write_file (dir, "README", "not a key");
  write_file (dir, "x.json", "{}");
  write_file (dir, "a.jwk.bak", "{}");
  write_file (dir, ".hidden.jwk", "{}");
  write_file (dir, ".jwk", "{}");
  assert_true (asprintf (&extra,
                         "{\"kty\":\"OKP\",\"use\":\"sig\",\"alg\":\"EdDSA\",\"crv\":"
                         "\"Ed25519\",\"kid\":\"k2\",\"x\":\"%s\",\"key_ops\":[\"verify\"]}",
                         b64x)
               > 0);
  write_file (dir, "k2.jwk", extra);
  snprintf (path, sizeof (path), "%s/", dir);
  if (moat_keyring_load (path, &kr, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_int_equal (kr.n, 1);
  assert_string_equal (kr.keys[0].kid, "k2");
  snprintf (path, sizeof (path), "%s/k2.jwk", dir);
  assert_string_equal (kr.keys[0].path, path);
  assert_memory_equal (kr.keys[0].pk, b->pk, 32);
  moat_keyring_free (&kr);
  assert_null (kr.keys);
  moat_keyring_free (NULL);

  /* An empty directory is an empty keyring. */
  make_dir (f, "empty", dir, sizeof (dir));
  assert_int_equal (moat_keyring_load (dir, &kr, &err), 0);
  assert_int_equal (kr.n, 0);
  moat_keyring_free (&kr);

  snprintf (dir, sizeof (dir), "%s/nope", f->root);
  load_fails (dir, MOAT_E_IO, "keys directory %s: No such file or directory");
}

/* A directory holding one a.jwk of `text`: its load fails with `want`. */
static void
key_refused_at (const struct fixture *f, const char *name, const char *text, const char *want,
                int line)
{
  char dir[256], fmt[512];

  make_dir (f, name, dir, sizeof (dir));
  write_file (dir, "a.jwk", text);
  snprintf (fmt, sizeof (fmt), "%%s/a.jwk: %s", want);
  load_fails_at (dir, MOAT_E_DECODE, fmt, line);
}

#define key_refused(f, name, text, want) key_refused_at (f, name, text, want, __LINE__)

/* As key_refused, the text made by jwk_text (kty, crv, rest). */
#define jwk_refused(f, name, kty, crv, rest, want)                                                 \
  do                                                                                               \
    {                                                                                              \
      _cleanup_free_ char *_text = jwk_text (kty, crv, rest);                                      \
      key_refused_at (f, name, _text, want, __LINE__);                                             \
    }                                                                                              \
  while (0)

static void
test_keyring_refusals (void **state)
{
  struct fixture *f = *state;
  const struct moat_jwk *b = moat_keyring_find (&f->kr, "k2");
  _cleanup_free_ char *x = b64url (b->pk, 32), *x31 = b64url (b->pk, 31);
  _cleanup_free_ char *seed = b64url (f->other_k1.sk, 32), *t = NULL;
  char dir[256], rest[512];

  /* Two files, one kid: both named. */
  make_dir (f, "dup", dir, sizeof (dir));
  snprintf (rest, sizeof (rest), "\"kid\":\"k1\",\"x\":\"%s\"", x);
  t = jwk_text ("OKP", "Ed25519", rest);
  write_file (dir, "a.jwk", t);
  write_file (dir, "b.jwk", t);
  load_fails (dir, MOAT_E_DECODE, "%s/b.jwk: kid \"k1\" is also used by %s/a.jwk");

  snprintf (rest, sizeof (rest), "\"kid\":\"k1\",\"x\":\"%s\"", x31);
  jwk_refused (f, "x31", "OKP", "Ed25519", rest, "\"x\": not 32 bytes of base64url");
  snprintf (rest, sizeof (rest), "\"kid\":\"k1\",\"x\":\"%s=\"", x);
  jwk_refused (f, "xpad", "OKP", "Ed25519", rest, "\"x\": not 32 bytes of base64url");
  jwk_refused (f, "xnum", "OKP", "Ed25519", "\"kid\":\"k1\",\"x\":7",
               "\"x\": not 32 bytes of base64url");
  jwk_refused (f, "xnone", "OKP", "Ed25519", "\"kid\":\"k1\"", "\"x\": missing");

  snprintf (rest, sizeof (rest), "\"kid\":\"k1\",\"x\":\"%s\"", x);
  jwk_refused (f, "kty", "EC", "Ed25519", rest, "\"kty\": want \"OKP\"");
  jwk_refused (f, "crv", "OKP", "X25519", rest, "\"crv\": want \"Ed25519\"");
  snprintf (rest, sizeof (rest), "\"x\":\"%s\"", x);
  jwk_refused (f, "nokid", "OKP", "Ed25519", rest,
               "\"kid\": want a non-empty string of at most 256 bytes");

  /* "d" of another key. */
  snprintf (rest, sizeof (rest), "\"kid\":\"k2\",\"x\":\"%s\",\"d\":\"%s\"", x, seed);
  jwk_refused (f, "dmismatch", "OKP", "Ed25519", rest, "\"d\": does not derive \"x\"");
  snprintf (rest, sizeof (rest), "\"kid\":\"k2\",\"x\":\"%s\",\"d\":\"short\"", x);
  jwk_refused (f, "dshort", "OKP", "Ed25519", rest, "\"d\": not 32 bytes of base64url");

  key_refused (f, "notjson", "{\"kty\":", "not JSON: *");
  key_refused (f, "array", "[]", "not a JSON object");
  {
    char sub[320];

    make_dir (f, "subdir", dir, sizeof (dir));
    snprintf (sub, sizeof (sub), "%s/d.jwk", dir);
    assert_int_equal (mkdir (sub, 0700), 0);
    load_fails (dir, MOAT_E_IO, "%s/d.jwk: not a regular file");
  }
}

static void
test_generate (void **state)
{
  _cleanup_free_ char *priv = NULL, *pub = NULL;
  struct moat_jwk kp = { 0 }, kq = { 0 };
  moat_err_t err = { 0 };
  char long_kid[MOAT_KID_MAX + 2];

  generate ("ops \"2024\"", &priv, &pub);
  assert_int_equal (priv[strlen (priv) - 1], '\n');
  assert_int_equal (pub[strlen (pub) - 1], '\n');
  assert_non_null (strstr (priv, "\"d\":\""));
  assert_null (strstr (pub, "\"d\""));
  parse_key (priv, &kp);
  parse_key (pub, &kq);
  assert_string_equal (kp.kid, "ops \"2024\"");
  assert_true (kp.has_sk);
  assert_false (kq.has_sk);
  assert_memory_equal (kp.pk, kq.pk, 32);
  moat_jwk_free (&kp);
  moat_jwk_free (&kq);
  assert_null (kp.kid);

  assert_int_equal (moat_jwk_generate ("", &priv, &pub, &err), -1);
  assert_string_equal (err.msg, "kid: want 1-256 bytes");
  memset (long_kid, 'k', sizeof (long_kid) - 1);
  long_kid[sizeof (long_kid) - 1] = '\0';
  assert_int_equal (moat_jwk_generate (long_kid, &priv, &pub, &err), -1);
  assert_int_equal (moat_jwk_generate ("\xff", &priv, &pub, &err), -1);
  assert_non_null (strstr (err.msg, "not valid UTF-8"));
}

/* ---- lifetime cap, token ids, the revoked list, kernel timeouts ---- */

/* Claims for "web" on "n" with these extra members, e.g. "\"exp\":5". */
static char *
claims_with (const char *members)
{
  char *text = NULL;

  assert_true (asprintf (&text, "{\"sub\":\"web\",\"aud\":\"n\",\"grants\":[\"g\"],%s}", members)
               > 0);
  return text;
}

#define CAP MOAT_TOKEN_LIFETIME_MAX

static void
lifetime_refused_at (const struct fixture *f, const char *members, const char *want, int line)
{
  _cleanup_free_ char *claims = claims_with (members);
  _cleanup_free_ char *jwt = sign_text (k1 (f), claims);

  verify_fails_at (f, jwt, NOW, NULL, want, line);
}
#define lifetime_refused(f, members, want) lifetime_refused_at (f, members, want, __LINE__)

static void
lifetime_ok_at (const struct fixture *f, const char *members, int line)
{
  _cleanup_free_ char *claims = claims_with (members);
  _cleanup_free_ char *jwt = sign_text (k1 (f), claims);
  struct moat_token_claims c = { 0 };
  moat_err_t err = { 0 };

  if (moat_token_verify (&f->kr, jwt, NOW, NULL, &c, &err) < 0)
    fail_msg ("line %d: %s: %s", line, members, err.msg);
  moat_token_claims_free (&c);
}
#define lifetime_ok(f, members) lifetime_ok_at (f, members, __LINE__)

static void
test_lifetime_cap (void **state)
{
  struct fixture *f = *state;
  char m[256];

  assert_int_equal (CAP, MOAT_GRANT_TTL_MAX);
  /* exp - now: the cap is allowed, one second more is not. */
  snprintf (m, sizeof (m), "\"exp\":%" PRId64, NOW + CAP);
  lifetime_ok (f, m);
  snprintf (m, sizeof (m), "\"exp\":%" PRId64, NOW + CAP + 1);
  lifetime_refused (f, m,
                    "lifetime: exp - now is 31622401 s, more than the cap of 31622400 s (366 d)");
  lifetime_refused (f, "\"exp\":9223372036854775807",
                    "lifetime: exp - now is 9223372035154775807 s, more than the cap of "
                    "31622400 s (366 d)");
  lifetime_refused (f, "\"exp\":2305843009213693952", "lifetime: exp - now is *"); /* 2^61 */
  /* exp - nbf and exp - iat, though exp is near. */
  snprintf (m, sizeof (m), "\"exp\":%" PRId64 ",\"nbf\":%" PRId64, NOW + 60, NOW + 60 - CAP);
  lifetime_ok (f, m);
  snprintf (m, sizeof (m), "\"exp\":%" PRId64 ",\"nbf\":%" PRId64, NOW + 60, NOW + 59 - CAP);
  lifetime_refused (f, m,
                    "lifetime: exp - nbf is 31622401 s, more than the cap of 31622400 s (366 d)");
  snprintf (m, sizeof (m), "\"exp\":%" PRId64 ",\"iat\":%" PRId64, NOW + 60, NOW - 10);
  lifetime_ok (f, m);
  snprintf (m, sizeof (m), "\"exp\":%" PRId64 ",\"iat\":%" PRId64, NOW + 60, NOW + 59 - CAP);
  lifetime_refused (f, m,
                    "lifetime: exp - iat is 31622401 s, more than the cap of 31622400 s (366 d)");
  /* Saturated, not wrapped: exp - INT64_MIN overflows. */
  snprintf (m, sizeof (m), "\"exp\":%" PRId64 ",\"iat\":-9223372036854775808", NOW + 60);
  lifetime_refused (f, m,
                    "lifetime: exp - iat is 9223372036854775807 s, more than the cap of "
                    "31622400 s (366 d)");
  claims_refused (
      f, "{\"sub\":\"web\",\"aud\":\"n\",\"exp\":1700000060,\"iat\":\"now\",\"grants\":[\"g\"]}",
      "malformed token: claims: \"iat\": want an integer (unix seconds)");
  /* exp = now and exp = now + 1, at the edge of expiry. */
  snprintf (m, sizeof (m), "\"exp\":%" PRId64, NOW);
  lifetime_refused (f, m, "expired 0 s ago");
  snprintf (m, sizeof (m), "\"exp\":%" PRId64, NOW + 1);
  lifetime_ok (f, m);
}

/* verify_signed checks everything but time: revoke takes any token. */
static void
test_verify_signed (void **state)
{
  struct fixture *f = *state;
  _cleanup_free_ char *old = sign_text (k1 (f), "{\"sub\":\"web\",\"aud\":\"n\",\"exp\":5,"
                                                "\"grants\":[\"g\"]}");
  _cleanup_free_ char *forged = sign_text (&f->k9, GOOD_CLAIMS);
  struct moat_token_claims c = { 0 };
  moat_err_t err = { 0 };

  assert_int_equal (moat_token_verify_signed (&f->kr, old, NULL, &c, &err), 0);
  assert_int_equal (c.exp, 5);
  assert_int_equal (moat_token_check_lifetime (&c, 4, &err), 0);
  moat_token_claims_free (&c);
  assert_int_equal (moat_token_verify_signed (&f->kr, forged, NULL, &c, &err), -1);
  assert_string_equal (err.msg, "unknown kid \"k9\"");
  assert_int_equal (moat_token_verify_signed (&f->kr, old, "moat", &c, &err), -1);
  assert_string_equal (err.msg, "wrong issuer: none, want \"moat\"");
  assert_null (c.sub);
}

static void
test_token_id (void **state)
{
  struct fixture *f = *state;
  _cleanup_free_ char *a = sign_text (k1 (f), GOOD_CLAIMS);
  _cleanup_free_ char *a_again = sign_text (k1 (f), GOOD_CLAIMS);
  _cleanup_free_ char *b = sign_text (
      k1 (f), "{\"sub\":\"web\",\"aud\":\"net1\",\"exp\":1700000061,\"grants\":[\"host tcp/80\"]}");
  _cleanup_free_ char *j = sign_text (
      k1 (f),
      "{\"sub\":\"web\",\"aud\":\"n\",\"exp\":1700000060,\"jti\":\"t-1\",\"grants\":[\"g\"]}");
  _cleanup_free_ char *long_jti = NULL;
  struct moat_token_claims ca = { 0 }, ca2 = { 0 }, cb = { 0 }, cj = { 0 };
  char jti[MOAT_JTI_MAX + 2];

  verify_ok (f, a, NOW, NULL, &ca);
  verify_ok (f, a_again, NOW, NULL, &ca2);
  verify_ok (f, b, NOW, NULL, &cb);
  verify_ok (f, j, NOW, NULL, &cj);
  /* No jti: the hash of the token; one token, one id; other claims, another. */
  assert_null (ca.jti);
  assert_int_equal (strlen (ca.id), strlen ("blake2b:") + 64);
  assert_memory_equal (ca.id, "blake2b:", 8);
  assert_string_equal (ca.id, ca2.id);
  assert_string_not_equal (ca.id, cb.id);
  assert_string_equal (cj.jti, "t-1");
  assert_string_equal (cj.id, "jti:t-1");
  moat_token_claims_free (&ca);
  moat_token_claims_free (&ca2);
  moat_token_claims_free (&cb);
  moat_token_claims_free (&cj);
  claims_refused (f,
                  "{\"sub\":\"web\",\"aud\":\"n\",\"exp\":1700000060,\"jti\":7,\"grants\":[\"g\"]}",
                  "malformed token: claims: \"jti\": want a non-empty string of at most 256 bytes");
  claims_refused (
      f, "{\"sub\":\"web\",\"aud\":\"n\",\"exp\":1700000060,\"jti\":\"\",\"grants\":[\"g\"]}",
      "malformed token: claims: \"jti\": want *");
  memset (jti, 'x', sizeof (jti) - 1);
  jti[sizeof (jti) - 1] = '\0';
  assert_true (asprintf (&long_jti,
                         "{\"sub\":\"web\",\"aud\":\"n\",\"exp\":1700000060,\"jti\":\"%s\","
                         "\"grants\":[\"g\"]}",
                         jti)
               > 0);
  claims_refused (f, long_jti, "malformed token: claims: \"jti\": want *");
}

/* Seconds to the kernel's milliseconds: never 0 for a live grant (0 is
 * "no timeout", an element that never goes), never wrapped. */
static void
test_grant_timeout_ms (void **state)
{
  const uint64_t cap_ms = (uint64_t)MOAT_GRANT_TTL_MAX * 1000;

  assert_int_equal (moat_grant_timeout_ms (NOW, NOW), 0);
  assert_int_equal (moat_grant_timeout_ms (NOW - 1, NOW), 0);
  assert_int_equal (moat_grant_timeout_ms (INT64_MIN, NOW), 0);
  assert_int_equal (moat_grant_timeout_ms (NOW + 1, NOW), 1000);
  assert_int_equal (moat_grant_timeout_ms (NOW + MOAT_GRANT_TTL_MAX, NOW), cap_ms);
  assert_int_equal (moat_grant_timeout_ms (NOW + MOAT_GRANT_TTL_MAX + 1, NOW), cap_ms);
  assert_int_equal (moat_grant_timeout_ms (INT64_MAX, NOW), cap_ms);
  assert_int_equal (moat_grant_timeout_ms (INT64_MAX, INT64_MIN), cap_ms);
  assert_int_equal (moat_grant_timeout_ms (INT64_MAX, -1), cap_ms);
  /* Where seconds * 1000 wraps a uint64: 2^61 s is 2^64 * 125 ms, which
   * wraps to 0 (an element that never expires); 18446744073709552 s
   * wraps to 384 ms. Both give the cap. */
  assert_int_equal (moat_grant_timeout_ms (NOW + (INT64_C (1) << 61), NOW), cap_ms);
  assert_int_equal (moat_grant_timeout_ms (NOW + INT64_C (18446744073709552), NOW), cap_ms);
}

static void
test_revoked_list (void **state)
{
  _cleanup_ (moat_revoked_free) struct moat_revoked r = { 0 }, back = { 0 };
  _cleanup_ (json_decrefp) json_t *j = NULL, *bad = NULL;
  moat_err_t err = { 0 };

  assert_int_equal (moat_revoked_add (&r, "jti:a", NOW + 10, &err), 1);
  assert_int_equal (moat_revoked_add (&r, "jti:a", NOW + 5, &err), 0);
  assert_int_equal (moat_revoked_add (&r, "jti:a", NOW + 20, &err), 1);
  assert_int_equal (moat_revoked_add (&r, "blake2b:00", NOW + 1, &err), 1);
  assert_int_equal (r.n, 2);
  assert_true (moat_revoked_has (&r, "jti:a", NOW));
  assert_true (moat_revoked_has (&r, "jti:a", NOW + 19));
  assert_false (moat_revoked_has (&r, "jti:a", NOW + 20));
  assert_false (moat_revoked_has (&r, "jti:b", NOW));
  assert_true (moat_revoked_has (&r, "blake2b:00", NOW));
  /* At NOW + 1 the second entry is over: its JSON leaves it out. */
  j = moat_revoked_to_json (&r, NOW + 1);
  assert_non_null (j);
  assert_int_equal (json_array_size (json_object_get (j, "revoked")), 1);
  assert_int_equal (moat_revoked_from_json (j, NOW + 1, "mem", &back, &err), 0);
  assert_int_equal (back.n, 1);
  assert_string_equal (back.v[0].token, "jti:a");
  assert_int_equal (back.v[0].exp, NOW + 20);
  moat_revoked_free (&back);
  /* Reading prunes too. */
  assert_int_equal (moat_revoked_from_json (j, NOW + 20, "mem", &back, &err), 0);
  assert_int_equal (back.n, 0);
  bad = json_loads ("{\"revoked\":[{\"token\":\"jti:a\",\"exp\":\"soon\"}]}", 0, NULL);
  assert_int_equal (moat_revoked_from_json (bad, NOW, "/run/x", &back, &err), -1);
  assert_int_equal (err.code, MOAT_E_STATE);
  assert_string_equal (err.msg, "/run/x: revoked[0]: want {\"token\": non-empty string, "
                                "\"exp\": integer}");
}

/* On disk under MOAT_RUN_DIR: none is empty, a write is read back pruned,
 * a corrupt file is an error naming it (a grant then fails closed). */
static void
test_revoked_file (void **state)
{
  struct fixture *f = *state;
  _cleanup_ (moat_revoked_free) struct moat_revoked r = { 0 }, back = { 0 };
  _cleanup_close_ int lock = -1;
  moat_err_t err = { 0 };
  char run[160], path[256];
  FILE *fp;

  snprintf (run, sizeof (run), "%s/run", f->root);
  snprintf (path, sizeof (path), "%s/.revoked-tokens.json", run);
  setenv ("MOAT_RUN_DIR", run, 1);
  if (moat_tokens_lock (&lock, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_int_equal (moat_revoked_load (NOW, &back, &err), 0);
  assert_int_equal (back.n, 0);
  assert_int_equal (moat_revoked_add (&r, "jti:live", NOW + 100, &err), 1);
  assert_int_equal (moat_revoked_add (&r, "jti:over", NOW - 1, &err), 1);
  if (moat_revoked_store (&r, NOW, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_int_equal (moat_revoked_load (NOW, &back, &err), 0);
  assert_int_equal (back.n, 1);
  assert_true (moat_revoked_has (&back, "jti:live", NOW));
  assert_false (moat_revoked_has (&back, "jti:over", NOW - 2));
  assert_int_equal (access (path, F_OK), 0);
  fp = fopen (path, "we");
  assert_non_null (fp);
  fputs ("{\"revoked\":", fp);
  fclose (fp);
  moat_revoked_free (&back);
  assert_int_equal (moat_revoked_load (NOW, &back, &err), -1);
  assert_int_equal (err.code, MOAT_E_STATE);
  assert_true (strncmp (err.msg, path, strlen (path)) == 0);
  unsetenv ("MOAT_RUN_DIR");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_round_trip),
    cmocka_unit_test (test_aud_forms),
    cmocka_unit_test (test_bad_signature),
    cmocka_unit_test (test_unknown_kid),
    cmocka_unit_test (test_time),
    cmocka_unit_test (test_issuer),
    cmocka_unit_test (test_malformed_structure),
    cmocka_unit_test (test_malformed_header),
    cmocka_unit_test (test_malformed_claims),
    cmocka_unit_test (test_sign),
    cmocka_unit_test (test_keyring_load),
    cmocka_unit_test (test_keyring_refusals),
    cmocka_unit_test (test_generate),
    cmocka_unit_test (test_lifetime_cap),
    cmocka_unit_test (test_verify_signed),
    cmocka_unit_test (test_token_id),
    cmocka_unit_test (test_grant_timeout_ms),
    cmocka_unit_test (test_revoked_list),
    cmocka_unit_test (test_revoked_file),
  };

  return cmocka_run_group_tests (tests, setup, teardown);
}
