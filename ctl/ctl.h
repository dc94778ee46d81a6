/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CTL_H
#define MOAT_CTL_H

/* What moatctl does (moatctl(8)), on the records under the run dir and the
 * kernel. The binary (ctl/main.c) parses arguments and prints.
 *
 * Errors: MOAT_E_UNKNOWN when a container, grant or address is not there
 * (moatctl exits 1), MOAT_E_CONFIG for bad words (exit 2), others are
 * system errors (exit 2). */

#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "grant.h"

/* One attachment: a container on one network. */
struct moat_ctl_att
{
  char *network;
  char *key; /* <containerid>@<ifname> */
};

/* A container named as moatctl's CONTAINER: an id, a unique id prefix, a
 * name (K8S_POD_NAME), or an address; all of its attachments. */
struct moat_ctl_target
{
  char *id;
  struct moat_ctl_att *atts;
  size_t n;
};
int moat_ctl_find (const char *name, struct moat_ctl_target *ret, moat_err_t *err);
void moat_ctl_target_free (struct moat_ctl_target *t);

/* ls / show: {"containers": [...]} (schema in ctl/README.md); `only`
 * NULL: every container. */
int moat_ctl_list (const char *only, int64_t now, json_t **ret, moat_err_t *err);

/* grant / revoke on every attachment of `container` (a peer grant: where
 * both are on one network). `ttl` 0: no expiry. `by` says who (a token),
 * NULL for the CLI. Granting what is granted renews it. */
int moat_ctl_grant (const char *container, struct moat_grant *g, int64_t ttl, const char *by,
                    int64_t now, moat_err_t *err);
/* A token's "sub" naming whoever holds an address: "addr:10.1.0.2". */
#define MOAT_SUB_ADDR "addr:"
/* A verified token's grants (token.h): `sub` names exactly one container
 * by its full id or its name (never a prefix, never a bare address), or
 * is MOAT_SUB_ADDR and the address of exactly one container, `aud`
 * must name one of its networks or this host; each grant lasts until
 * `exp`, which must be 1 s to MOAT_GRANT_TTL_MAX away. A token in the
 * revoked list (revoked.h) is refused: "revoked: refused until its exp,
 * in N s" (MOAT_E_CONFIG). Every grant is parsed before any is applied. */
struct moat_token_claims;
int moat_ctl_grant_token (const struct moat_token_claims *c, const char *by, int64_t now,
                          moat_err_t *err);
/* g's words as moatctl prints them (moat_grant_label): a peer by the name
 * its record holds, read from disk. */
void moat_ctl_grant_label (const struct moat_grant *g, char *buf, size_t size);
/* Closes the grant with g's words. One a token opened also revokes that
 * token: it stays refused until its exp; its other grants stay open. */
int moat_ctl_revoke (const char *container, struct moat_grant *g, int64_t now, moat_err_t *err);
/* An access envelope's token (no "grants"; envelope.h): its sub is the
 * client's IPv4 address, let in by one ingress grant "ingress SUB/32
 * PORTS" per rule, on the rule's container, until exp (*ret_expires).
 * Refusals are MOAT_E_CONFIG or MOAT_E_UNKNOWN, one line: no rule for the
 * key, a sub that is no address, an aud naming neither this host nor a
 * network of the rule's container, revoked. */
struct moat_envelope_rules;
int moat_ctl_grant_envelope (const struct moat_token_claims *c,
                             const struct moat_envelope_rules *rules, const char *by, int64_t now,
                             int64_t *ret_expires, moat_err_t *err);
/* Revokes a (signature-checked, unexpired) token: refused until its exp,
 * and every grant it opened on its sub closed (*ret_closed of them; 0
 * when none is open or the sub is gone); an envelope token's, on the
 * containers of `rules`. */
int moat_ctl_revoke_token (const struct moat_token_claims *c,
                           const struct moat_envelope_rules *rules, int64_t now, size_t *ret_closed,
                           moat_err_t *err);

/* explain SRC DST PROTO/PORT: SRC and DST are containers, "host", or
 * addresses. *allowed and the deciding rule in `why`: the evaluator's
 * verdict (ruleset/eval.h) on the elements the records imply. */
int moat_ctl_explain (const char *src, const char *dst, const char *ports, int64_t now,
                      bool *allowed, char *why, size_t size, moat_err_t *err);
/* The same over a family (docs/design.md, "IPv6"): IPv6 when `ip6` or
 * when SRC or DST is an IPv6 address (outside:IPV6 too); the containers
 * then need an IPv6 address. The packet's addresses, as text, in *ret. */
struct moat_explain_answer
{
  bool allowed;
  bool ip6;
  char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
  /* An end on another node (cluster mode): what is known of it, from where;
   * "" for a local end. */
  char src_origin[256], dst_origin[256];
};
int moat_ctl_explain_family (const char *src, const char *dst, const char *ports, bool ip6,
                             int64_t now, struct moat_explain_answer *ret, char *why, size_t size,
                             moat_err_t *err);

/* The same for ends already read (no disk): a container's attachment and
 * policy, or an address (`host`: the host's; 0 with host: the other
 * end's gateway). `is_local` says which addresses are the host's. */
struct moat_record;
struct moat_policy;
struct moat_node_link;
struct moat_ports;
struct moat_explain_end
{
  const struct moat_record *rec; /* NULL: not a container */
  const struct moat_policy *policy;
  bool host;
  struct in_addr addr;
  struct in6_addr addr6; /* an IPv6 flow's (:: with host: the other end's gateway6) */
  /* A source's io.moat.proxy when a container holds its address: a peer
   * the redirected flow then needs the consent of. NULL: none. */
  const struct moat_explain_end *proxy;
  /* A container of another node (cluster mode): its node's link. NULL: local. */
  const struct moat_node_link *remote;
};
int moat_ctl_explain_flow (const struct moat_explain_end *src, const struct moat_explain_end *dst,
                           const struct moat_ports *flow, int64_t now,
                           bool (*is_local) (struct in_addr addr, void *data), void *data,
                           bool *allowed, char *why, size_t size, moat_err_t *err);
/* The same for the flow over IPv6 (docs/design.md, "IPv6"): the ends'
 * IPv6 addresses, their elements' twins; a container end without an IPv6
 * address is MOAT_E_CONFIG. */
int moat_ctl_explain_flow6 (const struct moat_explain_end *src, const struct moat_explain_end *dst,
                            const struct moat_ports *flow, int64_t now,
                            bool (*is_local6) (const struct in6_addr *addr, void *data), void *data,
                            bool *allowed, char *why, size_t size, moat_err_t *err);

/* resolve APP USER: the address of the container labelled app=APP and
 * user=USER. MOAT_E_UNKNOWN when none, MOAT_E_CONFIG when several. */
int moat_ctl_resolve (const char *app, const char *user, char addr[16], moat_err_t *err);

/* restore: moat's tables anew from the records, in one batch. Counts in
 * *ret ({"networks", "containers", "identities", "elements"}). */
struct moat_dnsd;
/* ... and the name server of every network with "names" whose dnsmasq is
 * not running, through `dnsd` (verbs/dnsd.h, forked before confinement). */
int moat_ctl_restore (int64_t now, struct moat_dnsd *dnsd, json_t **ret, moat_err_t *err);

/* check: the kernel against the records, a network's name server that is
 * not running ("missing": "name server (dnsmasq) of network \"N\""),
 * foreign rules, and attachments whose container is gone (verbs/gc.h).
 * *ret: {"drift": [{"missing"|"extra": text}...], "conflicts": [...],
 * "stale": [item...], "kept": [item + "why"...]}; *ndiff the number of
 * problems (stale ones count, kept ones do not). */
int moat_ctl_check (int64_t now, json_t **ret, int *nproblems, moat_err_t *err);

/* watch [CONTAINER]: each refused flow the kernel logs (NFLOG group
 * MOAT_LOG_GROUP, networks with "log": true), one line to `out` as it
 * comes (`json`: one object a line), both ends by name and address, with
 * explain's reason; `only` (NULL: every flow) keeps the flows of that
 * container. Returns 0 once *stop is set (a signal), -1 on an error. */
int moat_ctl_watch (const char *only, bool json, FILE *out, volatile sig_atomic_t *stop,
                    moat_err_t *err);

/* log CONTAINER on|off: its refusals logged or not (set logged), on each
 * of its attachments, whatever its network says, until its DEL; its
 * records keep it, for check and restore. */
int moat_ctl_log (const char *container, bool on, moat_err_t *err);

#endif
