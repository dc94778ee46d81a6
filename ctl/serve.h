/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_SERVE_H
#define MOAT_SERVE_H

/* `moatctl http`: the access envelope's HTTP front on one connection
 * (http.h). The connection's peer must be the token's sub: the envelope
 * lets in the client that asks, and a token replayed from elsewhere opens
 * nothing (moatctl(8), "HTTP front"). */

#include <stdint.h>

struct moat_http_opts
{
  const char *keys_dir;
  const char *iss; /* NULL: not checked */
  int64_t (*now) (void);
};

/* Reads one request from `in`, answers on `out`; returns the status. */
int moat_ctl_http_serve (int in, int out, const struct moat_http_opts *o);

#endif
