/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CNI6_H
#define MOAT_CNI6_H

/* The IPv6 side of the CNI verbs for a dual-stack network (a "subnet6"):
 * used by cni.c only. An IPv4-only network never reaches these (each
 * returns at once). */

#include <jansson.h>

#include "base/error.h"
#include "model/config.h"
#include "model/record.h"

/* ADD: the container's IPv6 address into rec (have_addr6, addr6,
 * gateway6): the delegated plugin's first IPv6 address when its result
 * `ipam` has one (it must lie in subnet6, /64), else the built-in
 * allocator's (the `ips` request, else the IPv4 address's offset in its
 * subnet as the host part). Nothing is allocated on failure. */
int moat_cni6_acquire (const struct moat_netconf *conf, const char *key, json_t *ipam,
                       struct moat_record *rec, moat_err_t *err);

/* DEL: the built-in allocation of rec->addr6, if `key` holds it (the
 * delegated plugin releases its own with the IPv4 side's DEL). */
int moat_cni6_release (const struct moat_record *rec, const char *key, moat_err_t *err);

/* DEL without record: every built-in IPv6 address `key` holds. */
int moat_cni6_release_owner (const struct moat_netconf *conf, const char *key, moat_err_t *err);

/* GC: built-in IPv6 addresses no record (`keys`) holds. */
int moat_cni6_release_unowned (const struct moat_netconf *conf, char *const *keys, moat_err_t *err);

/* CHECK: prevResult's IPv6 address is the record's (MOAT_E_DRIFT). */
int moat_cni6_check_prev (json_t *prev_result, const struct moat_record *rec, moat_err_t *err);

#endif
