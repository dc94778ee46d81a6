/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_IPAM_H
#define MOAT_IPAM_H

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "base/error.h"

/* Built-in allocator. One file per allocated address under
 * <dir> (= <run dir>/<network>/ipam), named by the dotted address and
 * holding the owner key "<containerid>@<ifname>"; created with O_EXCL, so
 * two containers can never hold one address even without the network lock;
 * a file appears with its owner in it or not at all (written aside, then
 * renamed without replacing), so a crash leaves no address file naming
 * nobody. Names starting with "." are the allocator's temporary files.
 * A "last" file remembers the last address handed out; allocation continues
 * round-robin after it. Usable range: subnet without network address,
 * broadcast address and gateway. */
struct moat_pool
{
  struct in_addr subnet; /* network address */
  int prefixlen;         /* 8..30 */
  struct in_addr gateway;
};

/* Allocates an address for `owner`. When `requested` is non-NULL (the CNI
 * `ips` capability / args), that exact address or an error: outside the
 * subnet, the gateway, network or broadcast address → MOAT_E_CONFIG; taken
 * by another owner → MOAT_E_IPAM. A retried allocation returns the
 * owner's address when it is the requested one or the one in "last" (a
 * crash between allocation and the caller's record); anything else is the
 * caller's to track. Exhausted pool → MOAT_E_IPAM
 * ("no free address in 10.1.0.0/24"). */
int moat_ipam_alloc (const char *dir, const struct moat_pool *pool, const char *owner,
                     const struct in_addr *requested, struct in_addr *ret_addr, moat_err_t *err);

/* Releases `addr` if `owner` holds it. Missing file / other owner: success,
 * nothing done. */
int moat_ipam_release (const char *dir, struct in_addr addr, const char *owner, moat_err_t *err);

/* Releases every address `owner` holds (scan; for a DEL without record),
 * and removes temporary files a crash left. Caller holds the network
 * lock. */
int moat_ipam_release_owner (const char *dir, const char *owner, moat_err_t *err);

/* GC: releases every address whose file names none of the owners in the
 * NULL-terminated `keep` (an empty file, as an older moat's crash could
 * leave, included), and removes temporary files a crash left. Caller
 * holds the network lock. */
int moat_ipam_release_unowned (const char *dir, char *const *keep, moat_err_t *err);

/* The owner named by the allocation file `name` (an IPv4 or IPv6
 * address's): 1 and its key in buf, 0 when there is none. */
int moat_ipam_owner_read (const char *dir, const char *name, char *buf, size_t size,
                          moat_err_t *err);

/* The IPv4 address `owner` holds: 1 and *ret, 0 none. */
int moat_ipam_addr_of (const char *dir, const char *owner, struct in_addr *ret, moat_err_t *err);

/* Number of free addresses left (STATUS). */
int moat_ipam_free_count (const char *dir, const struct moat_pool *pool, long *ret_count,
                          moat_err_t *err);

/* Delegated IPAM (CNI spec "Delegated plugins"): runs the plugin named by
 * ipam.type found in the colon-separated CNI_PATH, with the same environment
 * (CNI_COMMAND set to `command`) and `netconf` (the whole network
 * configuration as received) on stdin. On success for ADD, *ret_result is
 * the parsed result object (caller json_decref). A plugin error result is
 * passed up with its own code and msg ("ipam plugin host-local: <msg>").
 * A plugin not found in CNI_PATH → MOAT_E_CONFIG naming ipam.type. */
int moat_ipam_exec (const char *type, const char *command, const char *netconf, json_t **ret_result,
                    moat_err_t *err);

#endif
