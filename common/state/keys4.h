/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_KEYS4_H
#define MOAT_KEYS4_H

/* The key ranges of IPv6-only networks (docs/design.md, "IPv6"): each
 * such network's containers get an internal IPv4 key, never configured
 * nor on the wire, from a /16 of 240.0.0.0/4 that is this network's
 * alone. A range is claimed by a file "<run dir>/.keys4/<n>" (the n-th
 * /16 from 240.0.0.0) naming its network, linked into place (never
 * replacing), so two networks cannot claim one even racing; released
 * when the network's state goes. */

#include <netinet/in.h>

#include "base/error.h"

#define MOAT_KEYS4_PREFIXLEN 16
#define MOAT_KEYS4_RANGES 4095 /* 240.0/16 .. 255.254/16 (255.255/16 holds the broadcast) */

/* The n-th range's network address. */
struct in_addr moat_keys4_range (unsigned n);

/* The network's range, claimed now unless it has one. Caller holds the
 * network's lock. All taken → MOAT_E_IPAM. */
int moat_keys4_claim (const char *network, struct in_addr *ret, moat_err_t *err);

/* Releases the network's range, if any. Caller holds the network's lock. */
int moat_keys4_release (const char *network, moat_err_t *err);

#endif
