/* SPDX-License-Identifier: Apache-2.0 */
/* Access tokens and their JWK keys (token.h). The first input byte picks
 * what the rest is (bits 0-1), and bit 7 asks for issuer "moat":
 *   0  a token, verified against a fixed keyring (one key, kid "k1");
 *   1  a key file, parsed in memory and loaded from a directory of its own;
 *   2  claims JSON, signed with k1 and verified back;
 *   3  header JSON, a newline, claims JSON: both encoded and validly signed
 *      with k1, then verified (reaches the header and claims checks).
 * A refusal is one MOAT_E_DECODE line starting with its reason; what is
 * accepted has the claims token.h promises. */
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "fuzz.h"
#include "../../ctl/token.h"

#define NOW INT64_C (1700000000)
#define ISSUER "moat"

/* The harness's fixture, made once: a key dir holding k1 (from a fixed
 * seed, so the seed corpus carries tokens it signed) and an empty dir for
 * mode 1's key file. */
struct fixture
{
  char keys_dir[64];
  char load_dir[64];
  char k1_path[96];
  char load_path[96];
  struct moat_keyring kr;
  const struct moat_jwk *k1;
};

static struct fixture fx;

static void
remove_fixture (void)
{
  moat_keyring_free (&fx.kr);
  unlink (fx.k1_path);
  unlink (fx.load_path);
  rmdir (fx.keys_dir);
  rmdir (fx.load_dir);
}

static void
write_all (const char *path, const void *data, size_t size)
{
  _cleanup_close_ int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const char *p = data;

  FUZZ_CHECK (fd >= 0);
  while (size)
    {
      ssize_t n = write (fd, p, size);

      FUZZ_CHECK (n > 0);
      p += n;
      size -= (size_t)n;
    }
}

static char *
b64url (const void *bin, size_t len)
{
  size_t size = sodium_base64_ENCODED_LEN (len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char *s = malloc (size);

  FUZZ_CHECK (s != NULL);
  sodium_bin2base64 (s, size, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return s;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  unsigned char seed[32], pk[32], sk[64];
  _cleanup_free_ char *x = NULL, *d = NULL, *text = NULL;
  const char *tmp = getenv ("TMPDIR");
  moat_err_t err = { 0 };

  FUZZ_CHECK (sodium_init () >= 0);
  for (size_t i = 0; i < sizeof (seed); i++)
    seed[i] = (unsigned char)i;
  crypto_sign_seed_keypair (pk, sk, seed);
  x = b64url (pk, sizeof (pk));
  d = b64url (seed, sizeof (seed));
  FUZZ_CHECK (asprintf (&text,
                        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k1\",\"x\":\"%s\","
                        "\"d\":\"%s\"}\n",
                        x, d)
              > 0);
  tmp = tmp && *tmp ? tmp : "/tmp";
  snprintf (fx.keys_dir, sizeof (fx.keys_dir), "%.40s/fuzz-token-XXXXXX", tmp);
  snprintf (fx.load_dir, sizeof (fx.load_dir), "%.40s/fuzz-token-XXXXXX", tmp);
  FUZZ_CHECK (mkdtemp (fx.keys_dir) && mkdtemp (fx.load_dir));
  snprintf (fx.k1_path, sizeof (fx.k1_path), "%s/k1.jwk", fx.keys_dir);
  snprintf (fx.load_path, sizeof (fx.load_path), "%s/fuzz.jwk", fx.load_dir);
  write_all (fx.k1_path, text, strlen (text));
  atexit (remove_fixture);
  if (moat_keyring_load (fx.keys_dir, &fx.kr, &err) < 0)
    {
      fprintf (stderr, "fuzz_token: %s\n", err.msg);
      FUZZ_CHECK (0);
    }
  fx.k1 = moat_keyring_find (&fx.kr, "k1");
  FUZZ_CHECK (fx.kr.n == 1 && fx.k1 && fx.k1->has_sk);
  return 0;
}

static bool
starts_with (const char *s, const char *prefix)
{
  return strncmp (s, prefix, strlen (prefix)) == 0;
}

/* A refusal: MOAT_E_DECODE, one line, one of token.h's reasons. */
static void
check_refusal (const moat_err_t *err)
{
  static const char *const reasons[] = {
    "malformed token: ", "unknown kid \"",         "bad signature",
    "expired ",          "not yet valid: nbf in ", "wrong issuer",
    "lifetime: exp - ",
  };
  bool known = false;

  FUZZ_CHECK (err->code == MOAT_E_DECODE);
  FUZZ_CHECK (strchr (err->msg, '\n') == NULL);
  for (size_t i = 0; i < ARRAY_SIZE (reasons); i++)
    known = known || starts_with (err->msg, reasons[i]);
  FUZZ_CHECK (known);
}

/* What an accepted token must look like. */
static void
check_claims (const struct moat_token_claims *c, const char *want_iss)
{
  FUZZ_CHECK (c->kid && strcmp (c->kid, "k1") == 0);
  FUZZ_CHECK (c->sub && *c->sub);
  FUZZ_CHECK (c->n_aud >= 1 && (c->n_grants >= 1) == (c->grants != NULL));
  for (size_t i = 0; i < c->n_aud; i++)
    FUZZ_CHECK (*c->aud[i] && moat_token_aud_has (c, c->aud[i]));
  for (size_t i = 0; i < c->n_grants; i++)
    FUZZ_CHECK (*c->grants[i]);
  FUZZ_CHECK (c->exp > NOW && c->exp - NOW <= MOAT_TOKEN_LIFETIME_MAX);
  FUZZ_CHECK (!c->has_nbf || (c->nbf <= NOW && c->exp - c->nbf <= MOAT_TOKEN_LIFETIME_MAX));
  FUZZ_CHECK (!c->has_iat || c->exp - c->iat <= MOAT_TOKEN_LIFETIME_MAX);
  /* The id that names it in the revoked list. */
  FUZZ_CHECK (c->id
              && (c->jti ? strncmp (c->id, "jti:", 4) == 0 && strcmp (c->id + 4, c->jti) == 0
                         : strncmp (c->id, "blake2b:", 8) == 0 && strlen (c->id) == 8 + 64));
  FUZZ_CHECK (!want_iss || (c->iss && strcmp (c->iss, want_iss) == 0));
  FUZZ_CHECK (!c->iss || *c->iss);
}

/* Verifies and checks the outcome; returns the error (code 0 when
 * accepted) so callers can say more. */
static moat_err_t
verify (const char *jwt, const char *want_iss)
{
  struct moat_token_claims c = { 0 };
  moat_err_t err = { 0 };

  if (moat_token_verify (&fx.kr, jwt, NOW, want_iss, &c, &err) == 0)
    {
      check_claims (&c, want_iss);
      moat_token_claims_free (&c);
      FUZZ_CHECK (c.sub == NULL);
      err.code = 0;
    }
  else
    {
      FUZZ_CHECK (c.sub == NULL && c.kid == NULL && c.aud == NULL && c.grants == NULL);
      check_refusal (&err);
    }
  return err;
}

/* A signature that holds gets past structure, kid and signature checks. */
static bool
past_signature (const moat_err_t *err)
{
  return !starts_with (err->msg, "bad signature")
         && !starts_with (err->msg, "malformed token: signature")
         && !starts_with (err->msg, "malformed token: want 3")
         && !starts_with (err->msg, "malformed token: longer");
}

static void
fuzz_key_file (const uint8_t *data, size_t size)
{
  struct moat_keyring kr = { 0 };
  struct moat_jwk key = { 0 };
  moat_err_t err = { 0 }, lerr = { 0 };
  int parsed = moat_jwk_parse ((const char *)data, size, "fuzz.jwk", &key, &err);
  int loaded;

  if (parsed == 0)
    {
      FUZZ_CHECK (key.kid && *key.kid && strlen (key.kid) <= MOAT_KID_MAX);
      FUZZ_CHECK (strcmp (key.path, "fuzz.jwk") == 0);
      if (key.has_sk)
        {
          /* A private key signs what its public half verifies. */
          unsigned char sig[crypto_sign_BYTES];

          FUZZ_CHECK (crypto_sign_detached (sig, NULL, data, size, key.sk) == 0);
          FUZZ_CHECK (crypto_sign_verify_detached (sig, data, size, key.pk) == 0);
        }
    }
  else
    FUZZ_CHECK (err.code == MOAT_E_DECODE && starts_with (err.msg, "fuzz.jwk: ")
                && strchr (err.msg, '\n') == NULL);

  write_all (fx.load_path, data, size);
  loaded = moat_keyring_load (fx.load_dir, &kr, &lerr);
  FUZZ_CHECK (loaded == parsed);
  if (loaded == 0)
    {
      FUZZ_CHECK (kr.n == 1 && strcmp (kr.keys[0].kid, key.kid) == 0);
      FUZZ_CHECK (strcmp (kr.keys[0].path, fx.load_path) == 0);
      FUZZ_CHECK (memcmp (kr.keys[0].pk, key.pk, sizeof (key.pk)) == 0);
      FUZZ_CHECK (kr.keys[0].has_sk == key.has_sk);
      FUZZ_CHECK (moat_keyring_find (&kr, key.kid) == &kr.keys[0]);
    }
  else
    FUZZ_CHECK (lerr.code == MOAT_E_DECODE && starts_with (lerr.msg, fx.load_path)
                && strchr (lerr.msg, '\n') == NULL);
  moat_keyring_free (&kr);
  moat_jwk_free (&key);
}

static void
fuzz_claims (const uint8_t *data, size_t size, const char *want_iss)
{
  json_auto_t *claims = json_loadb ((const char *)data, size, JSON_ALLOW_NUL, NULL);
  _cleanup_free_ char *jwt = NULL;
  moat_err_t err = { 0 }, verr;

  if (!claims)
    return;
  if (moat_token_sign (fx.k1, claims, &jwt, &err) < 0)
    {
      FUZZ_CHECK (jwt == NULL && err.code == MOAT_E_DECODE && strchr (err.msg, '\n') == NULL);
      FUZZ_CHECK (starts_with (err.msg, "token claims: ") || starts_with (err.msg, "token: "));
      return;
    }
  FUZZ_CHECK (strlen (jwt) <= MOAT_TOKEN_MAX);
  /* Claims sign accepts are never malformed for verify: only time and
   * issuer may refuse them. */
  verr = verify (jwt, want_iss);
  FUZZ_CHECK (verr.code == 0 || starts_with (verr.msg, "expired ")
              || starts_with (verr.msg, "not yet valid: ") || starts_with (verr.msg, "lifetime: ")
              || starts_with (verr.msg, "wrong issuer"));
}

static void
fuzz_signed_parts (const uint8_t *data, size_t size, const char *want_iss)
{
  const uint8_t *nl = memchr (data, '\n', size);
  size_t header_len = nl ? (size_t)(nl - data) : size;
  const uint8_t *claims = nl ? nl + 1 : data + size;
  size_t claims_len = size - header_len - (nl ? 1 : 0);
  _cleanup_free_ char *h = b64url (data, header_len), *c = b64url (claims, claims_len);
  _cleanup_free_ char *signing = NULL, *s = NULL, *jwt = NULL;
  unsigned char sig[crypto_sign_BYTES];
  moat_err_t err;

  FUZZ_CHECK (asprintf (&signing, "%s.%s", h, c) > 0);
  crypto_sign_detached (sig, NULL, (const unsigned char *)signing, strlen (signing), fx.k1->sk);
  s = b64url (sig, sizeof (sig));
  FUZZ_CHECK (asprintf (&jwt, "%s.%s", signing, s) > 0);
  err = verify (jwt, want_iss);
  if (err.code && strlen (jwt) <= MOAT_TOKEN_MAX)
    FUZZ_CHECK (past_signature (&err));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *want_iss;
  uint8_t mode;

  if (size == 0)
    return 0;
  mode = data[0] & 3;
  want_iss = data[0] & 0x80 ? ISSUER : NULL;
  data++;
  size--;
  switch (mode)
    {
    case 0:
      {
        _cleanup_free_ char *jwt = fuzz_cstr (data, size);

        verify (jwt, want_iss);
        break;
      }
    case 1:
      fuzz_key_file (data, size);
      break;
    case 2:
      fuzz_claims (data, size, want_iss);
      break;
    default:
      fuzz_signed_parts (data, size, want_iss);
      break;
    }
  return 0;
}
