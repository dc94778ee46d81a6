/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_TOKEN_H
#define MOAT_TOKEN_H

/* Access tokens (moatctl(8): `moatctl grant --token`, `moatctl token`,
 * `moatctl keygen`): compact JWS (RFC 7515) signed with Ed25519 (RFC 8037,
 * alg "EdDSA"), checked against JWK keys loaded from a directory.
 *
 * A token is base64url(header) "." base64url(claims) "." base64url(sig),
 * every part unpadded base64url (RFC 7515 §2), the signature over the
 * ASCII text of the first two parts and their dot. Header
 * {"alg":"EdDSA","kid":K} ("typ" optional and not checked; "crit" refused;
 * key-carrying headers such as "jwk" or "jku" are ignored: the key is
 * always the keyring's). Claims {sub, aud, exp, nbf?, iat?, jti?, iss?,
 * grants?}: without "grants", an access envelope's token (m-lab's
 * {aud, exp, iss, sub: the client's address}), whose grants the operator
 * sets (envelope.h).
 * Duplicate members in header, claims or a key file are refused.
 *
 * What verification does NOT do: it does not check "aud" (the caller knows
 * the network it acts on: use moat_token_aud_has) and does not interpret
 * "grants" (their words are the caller's grammar). */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define MOAT_KEYS_DIR_DEFAULT "/etc/moat/keys"
/* Longest token accepted or produced, in bytes. */
#define MOAT_TOKEN_MAX 16384
/* Largest key file read, in bytes. */
#define MOAT_JWK_FILE_MAX 65536
/* Longest "kid", in bytes. */
#define MOAT_KID_MAX 256
/* Longest "jti", in bytes. */
#define MOAT_JTI_MAX 256
/* Longest lifetime a token may claim, in seconds: the --ttl cap
 * (MOAT_GRANT_TTL_MAX, 366 days). exp - now, exp - nbf and exp - iat must
 * each be at most this, so a token lives no longer than a --ttl grant, and
 * a revoked token is remembered (revoked.h) no longer than that. */
#define MOAT_TOKEN_LIFETIME_MAX (366 * 24 * 3600)

/* One Ed25519 key. */
struct moat_jwk
{
  char *kid;            /* "kid": non-empty, no NUL, at most MOAT_KID_MAX bytes */
  unsigned char pk[32]; /* "x": the public key */
  bool has_sk;          /* "d" was present: the key can sign */
  unsigned char sk[64]; /* libsodium secret key (seed, then pk); zero when !has_sk */
  char *path;           /* the file it came from (the origin given to moat_jwk_parse) */
};

/* Every key of a directory; kids are unique. */
struct moat_keyring
{
  struct moat_jwk *keys;
  size_t n;
};

/* Parses one JWK, {"kty":"OKP","crv":"Ed25519","kid":K,"x":b64url(32 bytes),
 * "d"?: b64url(32-byte seed)}, `len` bytes of `text`. Other members
 * ("use", "alg", …) are ignored; kty and crv must be exactly OKP/Ed25519;
 * "d", when present, must derive "x". Errors are MOAT_E_DECODE, one line
 * starting with `origin` and naming the member:
 * `/etc/moat/keys/a.jwk: "x": not 32 bytes of base64url`. *ret is written
 * only on success. */
int moat_jwk_parse (const char *text, size_t len, const char *origin, struct moat_jwk *ret,
                    moat_err_t *err);
/* Wipes the secret key and frees the strings; accepts a zeroed struct. */
void moat_jwk_free (struct moat_jwk *key);

/* Loads every `*.jwk` file of `dir` (names starting with '.' are skipped,
 * as the shell's *.jwk does; other files are ignored; a *.jwk that is not
 * a regular file, after following symlinks, is an error). Files are read
 * in name order. Errors: a missing or unreadable dir or file is MOAT_E_IO
 * naming it (`keys directory /etc/moat/keys: No such file or directory`);
 * a malformed key as moat_jwk_parse; two files with one kid name both
 * (`/k/b.jwk: kid "k1" is also used by /k/a.jwk`). An empty directory
 * gives an empty keyring. *ret is written only on success. */
int moat_keyring_load (const char *dir, struct moat_keyring *ret, moat_err_t *err);
/* Wipes every secret key and frees; leaves *kr empty. Accepts NULL. */
void moat_keyring_free (struct moat_keyring *kr);
/* The key with that kid, or NULL. Borrowed from kr. */
const struct moat_jwk *moat_keyring_find (const struct moat_keyring *kr, const char *kid);

/* A verified token's claims. Every string is non-empty and NUL-free. */
struct moat_token_claims
{
  char *kid;  /* header "kid": the key that signed it */
  char *sub;  /* subject: the container or client the grants are for */
  char **aud; /* "aud" as a list (a string claim gives one entry); n_aud >= 1 */
  size_t n_aud;
  int64_t exp; /* expiry, unix seconds */
  bool has_nbf;
  int64_t nbf; /* not before, unix seconds, when has_nbf */
  bool has_iat;
  int64_t iat;   /* issued at, unix seconds, when has_iat */
  char *jti;     /* token id, NULL when absent (at most MOAT_JTI_MAX bytes) */
  char *id;      /* what names this token in the revoked list: "jti:" + jti,
                    else "blake2b:" + the hex BLAKE2b-256 of the token text
                    (Ed25519 signatures and canonical base64url make that
                    text the only encoding of these claims under this key) */
  char *iss;     /* issuer, NULL when absent */
  char **grants; /* grant words, uninterpreted; n_grants 0: no "grants" (an
                    access envelope's token) */
  size_t n_grants;
};

/* Verifies the compact JWS `jwt` at time `now` (unix seconds) against
 * `kr`. want_iss NULL: "iss" is not checked; else it is required and must
 * equal want_iss. Checks, in order: size (MOAT_TOKEN_MAX) and structure
 * (three unpadded base64url parts, canonical trailing bits, a 64-byte
 * signature); the header; the kid is known; the signature; claim types;
 * time (no leeway: exp <= now is expired, nbf > now not yet valid); the
 * lifetime (moat_token_check_lifetime); iss.
 * Every failure is MOAT_E_DECODE with a one-line message starting with the
 * reason:
 *   malformed token: <what>        unknown kid "<kid>"       bad signature
 *   expired <N> s ago              not yet valid: nbf in <N> s
 *   lifetime: <what>
 *   wrong issuer "<iss>", want "<want>"   (or wrong issuer: none, want …)
 * *ret is written only on success; free it with moat_token_claims_free. */
int moat_token_verify (const struct moat_keyring *kr, const char *jwt, int64_t now,
                       const char *want_iss, struct moat_token_claims *ret, moat_err_t *err);
/* The same without the time checks (expiry, nbf, lifetime): for revoking
 * a token, whatever its time. */
int moat_token_verify_signed (const struct moat_keyring *kr, const char *jwt, const char *want_iss,
                              struct moat_token_claims *ret, moat_err_t *err);
/* Refuses a token that would live longer than MOAT_TOKEN_LIFETIME_MAX:
 * exp - now, exp - nbf or exp - iat above it (saturating: no overflow at
 * any int64). MOAT_E_DECODE, "lifetime: exp - now is <N> s, more than
 * the cap of <M> s (366 d)". */
int moat_token_check_lifetime (const struct moat_token_claims *c, int64_t now, moat_err_t *err);
/* Frees the strings; leaves *c zeroed. Accepts NULL and a zeroed struct. */
void moat_token_claims_free (struct moat_token_claims *c);
/* True when `name` is one of the token's audiences (exact match). */
bool moat_token_aud_has (const struct moat_token_claims *c, const char *name);

/* Signs `claims` with `key`, which must have has_sk. The claims must have
 * the types verification wants ("token claims: \"sub\": want a non-empty
 * string"); their times are not checked. Header
 * {"alg":"EdDSA","kid":key->kid,"typ":"JWT"}; payload the claims dumped
 * with JSON_COMPACT|JSON_SORT_KEYS. A token longer than MOAT_TOKEN_MAX is
 * refused, since verification would refuse it. *ret_jwt (malloc'd, no
 * newline) is written only on success. Errors are MOAT_E_DECODE. */
int moat_token_sign (const struct moat_jwk *key, json_t *claims, char **ret_jwt, moat_err_t *err);

/* A new random key pair with that kid (rules as in struct moat_jwk):
 * *ret_private is the JWK text with "d" (write it mode 0600, and wipe it
 * with sodium_memzero before free), *ret_public the same without "d"; both
 * one line ending with "\n", both malloc'd, written only on success. */
int moat_jwk_generate (const char *kid, char **ret_private, char **ret_public, moat_err_t *err);

#endif
