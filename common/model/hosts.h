/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_HOSTS_H
#define MOAT_HOSTS_H

/* Names on a network with "dns" (docs/design.md, "Names"): which names a
 * container answers to, and the hosts-file line its network's name server
 * reads. No I/O here. */

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* The domain every name is also served under: NAME and NAME.dns.moat. */
#define MOAT_DNS_DOMAIN "dns.moat"
/* The name server's port on the gateway. */
#define MOAT_DNS_PORT 53
/* A container's names and aliases at most (each under two spellings). */
#define MOAT_HOSTS_MAX_NAMES 32

/* A DNS label moat serves: 1 to 63 letters, digits, '-' or '_', neither
 * first nor last a '-'. No dots: a name is one label under the domain. */
bool moat_dns_label_valid (const char *s);

/* runtimeConfig.aliases (podman's `aliases` capability: {"<network>":
 * ["a", "b"]}): the list of `network`, checked. *ret is borrowed from
 * `aliases` (NULL: none for this network). A malformed value or a bad
 * label is MOAT_E_CONFIG naming the item. */
int moat_aliases_parse (json_t *aliases, const char *network, json_t **ret, moat_err_t *err);

/* A list of aliases separated by ',' or ';' (io.moat.aliases, MOAT_ALIASES) as a
 * new JSON array in *ret, checked; `what` names the source in errors. */
int moat_aliases_from_text (const char *what, const char *text, json_t **ret, moat_err_t *err);

/* The hosts-file line of one container: "ADDR NAME NAME.dns.moat ALIAS
 * ALIAS.dns.moat ...\n", and with `addr6` (a dual-stack container; NULL
 * otherwise) a second line with the same names for it; with no `addr`
 * (an IPv6-only container) that line alone. `name` (may be
 * NULL) is left out when it is not a label (a container name like
 * "web.1"); aliases were checked when parsed and a bad one here is skipped
 * too. Returns the length written (0: no name at all, nothing to serve),
 * or -1 when `size` is too small. */
int moat_hosts_line (char *buf, size_t size, const struct in_addr *addr,
                     const struct in6_addr *addr6, const char *name, const json_t *aliases);

#endif
