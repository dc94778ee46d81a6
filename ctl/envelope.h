/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_ENVELOPE_H
#define MOAT_ENVELOPE_H

/* Access-envelope tokens (moatctl(8), "Access envelope tokens"): a token
 * without "grants", as m-lab's access envelope issues them,
 * {"aud": ["<machine>"], "exp": …, "iss": "<issuer>", "sub": "<client IP>"}.
 * What it opens is the operator's: `--to CONTAINER PROTO/PORT` on the
 * command line, else the rules of the key that signed it, in the file next
 * to the key with ".allow" for ".jwk" (/etc/moat/keys/mlab.jwk:
 * /etc/moat/keys/mlab.allow), one rule a line:
 *
 *   # CONTAINER PROTO/PORT[-PORT]
 *   ndt-server tcp/443
 *   ndt-server tcp/3010
 *
 * Each rule becomes an ingress grant "ingress SUB/32 PROTO/PORT" on
 * CONTAINER until exp. No file (or no rule in it): the token opens
 * nothing, and is refused so. */

#include <stddef.h>

#include "base/error.h"
#include "model/annot.h"

struct moat_jwk;

/* Longest rules file, and most rules in one. */
#define MOAT_ENVELOPE_FILE_MAX 65536
#define MOAT_ENVELOPE_RULES_MAX 64

struct moat_envelope_rule
{
  char *container; /* as moatctl names containers: id, prefix, name, address */
  struct moat_ports ports;
};

struct moat_envelope_rules
{
  struct moat_envelope_rule *v;
  size_t n;
};

void moat_envelope_rules_free (struct moat_envelope_rules *r);

/* Parses `len` bytes of a rules file; errors (MOAT_E_CONFIG) start with
 * "<origin>:<line>:" and name the word. */
int moat_envelope_rules_parse (const char *text, size_t len, const char *origin,
                               struct moat_envelope_rules *ret, moat_err_t *err);
/* The rules of `key` (its path's ".allow" twin); a missing file gives no
 * rules. */
int moat_envelope_rules_load (const struct moat_jwk *key, struct moat_envelope_rules *ret,
                              moat_err_t *err);
/* One rule from --to CONTAINER and PROTO/PORT[-PORT]. */
int moat_envelope_rules_one (const char *container, const char *ports,
                             struct moat_envelope_rules *ret, moat_err_t *err);

#endif
