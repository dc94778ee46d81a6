/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_REVOKED_H
#define MOAT_REVOKED_H

/* Tokens revoked before their "exp" (moatctl(8), `moatctl revoke`). A
 * revoked token stays refused until its exp: `moatctl grant --token`
 * refuses it rather than opening its grants again. Kept in
 * "<run dir>/.revoked-tokens.json",
 *   {"revoked": [{"token": ID, "exp": UNIX}, ...]}
 * ID as token.h's moat_token_claims.id, written atomically under
 * moat_tokens_lock (state.h). One list for the machine, not one per
 * network: a token's "sub" may leave a network, or come back on another,
 * while the token lives. Entries whose exp has passed are dropped at every
 * write; a token lives at most MOAT_TOKEN_LIFETIME_MAX, so an entry does. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct moat_revoked_entry
{
  char *token; /* the token's id */
  int64_t exp; /* refused until then, unix seconds */
};

struct moat_revoked
{
  struct moat_revoked_entry *v;
  size_t n;
};

void moat_revoked_free (struct moat_revoked *r);

/* The list from its JSON; entries expired at `now` are left out.
 * MOAT_E_STATE naming `origin` and the entry when malformed. */
int moat_revoked_from_json (json_t *root, int64_t now, const char *origin, struct moat_revoked *ret,
                            moat_err_t *err);
/* Its JSON, without the entries expired at `now`. NULL when out of memory. */
json_t *moat_revoked_to_json (const struct moat_revoked *r, int64_t now);

/* Is the token `id` refused at `now`? Until its entry's exp. */
bool moat_revoked_has (const struct moat_revoked *r, const char *id, int64_t now);
/* Remembers `id` until `exp` (an entry for it keeps the later exp). 1
 * added or extended, 0 already there until then, -1 out of memory. */
int moat_revoked_add (struct moat_revoked *r, const char *id, int64_t exp, moat_err_t *err);

/* The list on disk (no file: empty). Caller holds moat_tokens_lock. */
int moat_revoked_load (int64_t now, struct moat_revoked *ret, moat_err_t *err);
/* Writes it, pruned at `now`. Caller holds moat_tokens_lock. */
int moat_revoked_store (const struct moat_revoked *r, int64_t now, moat_err_t *err);

#endif
