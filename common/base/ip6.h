/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_IP6_H
#define MOAT_IP6_H

/* IPv6 addresses and prefixes in their text forms (the IPv4 ones are in
 * types.h). A dual-stack network's IPv6 side is one /64 (docs/design.md,
 * "The network model"). */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* The one prefix length a network's subnet6 may have for now. */
#define MOAT_SUBNET6_PREFIXLEN 64

/* inet_pton (AF_INET6), and ADDR/LEN with LEN 0-128: 0 or -1. */
int moat_parse_ipv6 (const char *s, struct in6_addr *ret_addr);
int moat_parse_cidr6 (const char *s, struct in6_addr *ret_addr, int *ret_prefixlen);

/* The canonical text of `a` into buf (INET6_ADDRSTRLEN bytes); returns buf. */
const char *moat_ipv6_text (const struct in6_addr *a, char buf[INET6_ADDRSTRLEN]);

/* The address's bits past `prefixlen` cleared. */
struct in6_addr moat_ipv6_prefix (const struct in6_addr *a, int prefixlen);

/* `a` lies in prefix/prefixlen. */
bool moat_ipv6_in_prefix (const struct in6_addr *a, const struct in6_addr *prefix, int prefixlen);

/* The low 64 bits (the interface identifier of a /64), host order; and
 * the /64 `prefix` with its low 64 bits set to `host`. */
uint64_t moat_ipv6_host64 (const struct in6_addr *a);
struct in6_addr moat_ipv6_with_host64 (const struct in6_addr *prefix, uint64_t host);

#endif
