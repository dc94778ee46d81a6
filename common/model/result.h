/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_RESULT_H
#define MOAT_RESULT_H

#include <jansson.h>
#include <netinet/in.h>

#include "base/error.h"
#include "base/ip6.h"
#include "base/types.h"

/* What ADD made, to be written as a CNI result in the version asked for. */
struct moat_add_result
{
  const char *bridge;
  unsigned char bridge_mac[MOAT_MAC_LEN];
  const char *host_if;
  unsigned char host_mac[MOAT_MAC_LEN];
  const char *ifname;
  unsigned char container_mac[MOAT_MAC_LEN];
  const char *sandbox; /* CNI_NETNS */
  struct in_addr addr;
  int prefixlen;
  struct in_addr gateway;
  bool v6only;     /* IPv6-only: no IPv4 entry, no 0.0.0.0/0 (addr is an internal key) */
  bool have_addr6; /* dual stack: a second IP, addr6/64 via gateway6, and "::/0" */
  struct in6_addr addr6;
  struct in6_addr gateway6;
  json_t *dns; /* borrowed; from delegated IPAM, may be NULL */
};

/* The success result of ADD in `version` (0.3.0 … 1.1.0): 0.3.x and 0.4.0
 * carry "version": "4" (or "6") on each IP; 1.0.0 and later do not. */
json_t *moat_result_build (const char *version, const struct moat_add_result *r);

/* "a.b.c.d" or, with prefixlen >= 0, "a.b.c.d/len" as a JSON string. */
json_t *moat_ipv4_json (struct in_addr a, int prefixlen);

/* The VERSION answer. */
json_t *moat_version_result (const char *version);

/* The error result: {cniVersion, code, msg[, details]}; bytes of msg that
 * are not UTF-8 become '?'. */
json_t *moat_error_result (const char *version, const moat_err_t *err, const char *details);

/* First IPv4 address of a result of any version (prevResult, a delegated
 * IPAM result): address/prefixlen and its gateway (INADDR_ANY when none).
 * 0 found, -1 with *err (MOAT_E_DECODE naming `what`). */
int moat_result_first_ipv4 (json_t *result, const char *what, struct in_addr *ret_addr,
                            int *ret_prefixlen, struct in_addr *ret_gateway, moat_err_t *err);

/* Whether the result's "ips" has an IPv4 address (a delegated plugin
 * with only an IPv6 range has none: the container is IPv6-only). */
bool moat_result_has_ipv4 (json_t *result);

/* First IPv6 address of a result of any version, the same way:
 * address/prefixlen and its gateway (all zero when none). 1 found, 0 none
 * (not an error: an IPv4-only result), -1 with *err. */
int moat_result_first_ipv6 (json_t *result, const char *what, struct in6_addr *ret_addr,
                            int *ret_prefixlen, struct in6_addr *ret_gateway, moat_err_t *err);

#endif
