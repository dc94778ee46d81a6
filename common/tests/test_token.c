/* SPDX-License-Identifier: Apache-2.0 */
/* Ed25519 JWS access tokens and the JWK keyring, keys in a private dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "token.h"

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
  claims_refused (f, "{\"sub\":\"w\",\"aud\":\"n\",\"exp\":1700000060}",
                  "malformed token: claims: \"grants\": *");
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
  json_auto_t *bad = json_loads ("{\"sub\":\"w\",\"aud\":\"n\",\"exp\":1}", 0, NULL);
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
  };

  return cmocka_run_group_tests (tests, setup, teardown);
}
