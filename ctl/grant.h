/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_GRANT_H
#define MOAT_GRANT_H

/* moatctl's runtime grants (moatctl(8); docs/design.md, "The ruleset and the identity model"). The
 * words, as on the command line and in a token's "grants":
 *
 *   host PROTO/PORT[-PORT]           the container may open this host port
 *   egress CIDR PROTO/PORT[-PORT]    ... this outside destination (or icmp, any)
 *   peer CONTAINER                   ... connections to that container
 *   ingress CIDR PROTO/PORT[-PORT]   that outside range may open this port
 *                                    of the container
 *
 * A grant lives in the container's record ("grants") and as one element of
 * grant_host, grant_egress, grant_peer or grant_ingress (nft.h) with the kernel's timeout
 * when it has a TTL: nothing has to run for it to go. */

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/annot.h"
#include "base/error.h"
#include "ruleset/elems.h"

enum moat_grant_kind
{
  MOAT_GRANT_HOST,
  MOAT_GRANT_EGRESS,
  MOAT_GRANT_PEER,
  MOAT_GRANT_INGRESS,
};

/* Longest TTL: a year (the kernel keeps timeouts in milliseconds). */
#define MOAT_GRANT_TTL_MAX (366 * 24 * 3600)

struct moat_grant
{
  enum moat_grant_kind kind;
  struct moat_ports ports; /* host */
  struct moat_acl acl;     /* egress, ingress (the outside range) */
  char *peer;              /* peer: the container as named; then its id */
  struct in_addr peer_addr;
  int64_t expires; /* unix seconds; 0: never */
  char *by;        /* who granted: NULL (the CLI) or "token kid=K sub=S" */
  char *token;     /* the token's id (token.h) when a token granted it: its
                      revoke remembers the token as revoked (revoked.h) */
};

void moat_grant_free (struct moat_grant *g);

/* A container id, name or address: printable ASCII, no '/', as runtimes
 * name containers. */
bool moat_grant_container_word_valid (const char *w);

/* words[0..n): "host tcp/80", "egress 10.0.0.0/8 tcp/443", "peer web". Errors
 * are MOAT_E_CONFIG, one line naming the word. */
int moat_grant_parse (char *const *words, size_t n, struct moat_grant *ret, moat_err_t *err);
/* One string, words split on blanks (a token's grants). */
int moat_grant_parse_text (const char *text, struct moat_grant *ret, moat_err_t *err);

/* "30", "30s", "10m", "1h", "2d": seconds, 1..MOAT_GRANT_TTL_MAX. */
int moat_ttl_parse (const char *text, int64_t *ret_seconds, moat_err_t *err);

/* The canonical words ("host tcp/80"); a peer by its id. They fit in
 * MOAT_GRANT_WORDS_MAX bytes. */
#define MOAT_GRANT_WORDS_MAX 320
/* Two grants with the same words are the same grant. */
void moat_grant_words (const struct moat_grant *g, char *buf, size_t size);

/* The words as people read them: a peer by `peer_name` (its record's
 * name, as moatctl ls shows it), else by the first 12 characters of its id
 * (a unique prefix moatctl accepts back). Other grants: their words. */
void moat_grant_label (const struct moat_grant *g, const char *peer_name, char *buf, size_t size);

/* The time a grant has left, one wording wherever moatctl prints it:
 * "expires in N s". */
void moat_grant_time_left (int64_t seconds, char *buf, size_t size);

/* Do the ranges of two grants of one container overlap (equal ones do;
 * peer grants have none)? The kernel's interval sets refuse overlapping
 * ranges. */
bool moat_grant_overlaps (const struct moat_grant *a, const struct moat_grant *b);

json_t *moat_grant_to_json (const struct moat_grant *g);
int moat_grant_from_json (json_t *j, struct moat_grant *ret, moat_err_t *err);

/* Live at `now`: no expiry, or not yet expired. */
bool moat_grant_live (const struct moat_grant *g, int64_t now);

/* Its element for the container at `addr`, timing out at `expires` (as
 * seen at `now`); a grant without expiry gets MOAT_GRANT_NEVER_MS. With
 * `revoke`, the same element timing out at once (MOAT_GRANT_REVOKED_MS):
 * re-adding an element sets its timeout where the kernel updates element
 * timeouts, and spares moatctl the RCU grace period a deletion costs
 * (~11 ms). Kernels without timeout updates (Linux 6.1) keep the old one: the
 * revoke then checks and deletes (ctl.c). -1 only when out of memory. */
#define MOAT_GRANT_NEVER_MS (3650ull * 24 * 3600 * 1000) /* ten years */
#define MOAT_GRANT_REVOKED_MS 1ull
/* The kernel's timeout for a grant that expires at `expires` (seen at
 * `now`): (expires - now) s in milliseconds. 0 when expires <= now (the
 * grant is over: no element), else at least 1000 and never more than
 * MOAT_GRANT_TTL_MAX s, so it cannot wrap to 0 (an element without a
 * timeout, which never expires); a longer one, which only a hand-edited
 * record holds, closes early rather than late. */
uint64_t moat_grant_timeout_ms (int64_t expires, int64_t now);
int moat_grant_elems (const struct moat_grant *g, struct in_addr addr, int64_t now, bool revoke,
                      struct moat_nft_elems *out);

#endif
