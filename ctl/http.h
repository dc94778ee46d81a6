/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_HTTP_H
#define MOAT_HTTP_H

/* The access envelope's HTTP front (moatctl(8), "HTTP front"): one moatctl
 * process per connection (`moatctl http`, socket-activated with
 * Accept=yes: the connection is stdin and stdout), no daemon. It answers
 *
 *   GET /v0/allow?access_token=JWT HTTP/1.1
 *
 * 200 {"expires": UNIX, "expiresIn": S, "sub": ADDR, "grants": [...]} once the
 * envelope token's grants are applied (envelope.h); 401 a missing, malformed,
 * badly signed, unknown-kid, expired or wrong-issuer token; 403 a valid
 * token this host will not honour (no rule for its key, aud not this host,
 * revoked, a token with grants, or a connection from another address than
 * the token's sub); 400, 404, 405, 408, 431 a request that is not that;
 * 500 what went wrong here. The body of a refusal is {"error": REASON}.
 *
 * Bounded: at most MOAT_HTTP_REQUEST_MAX bytes are read, in at most
 * MOAT_HTTP_READ_MS; the request is parsed in place, with one allocation
 * (the token, no longer than the request). */

#include <stddef.h>

#define MOAT_HTTP_REQUEST_MAX 20480
#define MOAT_HTTP_READ_MS 5000

/* What moat_http_parse found. */
struct moat_http_request
{
  int status;         /* 0: a complete request for a token; else the refusal */
  const char *reason; /* the refusal's reason (static text) */
  char *token;        /* malloc'd, decoded access_token (status 0 only) */
};

/* Parses the `len` bytes received so far. 1: incomplete, read more (only
 * while len < MOAT_HTTP_REQUEST_MAX: then it answers 431); 0 with
 * ret->status and, when 0, ret->token. -1 only when out of memory. */
int moat_http_parse (const char *buf, size_t len, struct moat_http_request *ret);
void moat_http_request_free (struct moat_http_request *r);

/* Reads status' words ("OK", "Forbidden", ...). */
const char *moat_http_status_text (int status);

#endif
