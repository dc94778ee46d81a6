/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_IPAM6_H
#define MOAT_IPAM6_H

/* The built-in allocator's IPv6 side, for a dual-stack network's /64
 * (docs/design.md, "The network model"). Files live beside the IPv4 ones
 * in <run dir>/<network>/ipam, one per address, named by the address's
 * canonical text ("fd00:1::5"; the IPv4 allocator passes over such names
 * and this one over dotted ones), holding "<owner>\n", claimed the same
 * way (written aside, renamed without replacing). No "last" file: the
 * address picked first is the subnet6 prefix with the host part the
 * caller hints (moat uses the IPv4 address's offset in its subnet, so a
 * container's two addresses end alike), then the next free ones. */

#include <netinet/in.h>
#include <stdint.h>

#include "base/error.h"

struct moat_pool6
{
  struct in6_addr subnet;  /* a /64, host bits zero */
  struct in6_addr gateway; /* never handed out */
};

/* At most this many addresses past the hint are tried. */
#define MOAT_IPAM6_TRIES 65536

/* Allocates an address of `pool` for `owner`. With `requested` (the CNI
 * `ips`): that address or an error (outside the subnet, its subnet-router
 * address or the gateway → MOAT_E_CONFIG; another owner's → MOAT_E_IPAM).
 * Without: the hint's address, or the next one free. An address the owner
 * holds already is returned again (a retried ADD). */
int moat_ipam6_alloc (const char *dir, const struct moat_pool6 *pool, const char *owner,
                      const struct in6_addr *requested, uint64_t hint, struct in6_addr *ret_addr,
                      moat_err_t *err);

/* Releases `addr` if `owner` holds it; anything else is success. */
int moat_ipam6_release (const char *dir, const struct in6_addr *addr, const char *owner,
                        moat_err_t *err);

/* Releases every IPv6 address `owner` holds (a DEL without record). */
int moat_ipam6_release_owner (const char *dir, const char *owner, moat_err_t *err);

/* GC: releases every IPv6 address held by none of the NULL-terminated
 * `keep`. */
int moat_ipam6_release_unowned (const char *dir, char *const *keep, moat_err_t *err);

#endif
