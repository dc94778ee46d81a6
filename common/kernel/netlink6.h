/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_NETLINK6_H
#define MOAT_NETLINK6_H

/* The IPv6 steps netlink.c takes for a dual-stack network (netlink.h says
 * what they make). Only netlink.c calls these. */

#include <netinet/in.h>

#include "base/error.h"
#include "kernel/netlink.h"

/* The bridge's IPv6 sysctls, written before its address (host namespace). */
int moat_bridge_ipv6_on (const char *bridge, moat_err_t *err);
/* gateway6/64 nodad on the bridge (EEXIST is fine), multicast snooping off. */
int moat_bridge_ipv6_address (struct moat_nl *nl, int index, const char *bridge,
                              const struct in6_addr *gateway6, moat_err_t *err);

/* The container interface's IPv6 sysctls, in the namespace `nsfd`, while
 * the interface is down. */
int moat_container_ipv6_sysctls (int nsfd, const char *ns_path, const char *ifname,
                                 moat_err_t *err);
/* addr6/64 nodad noprefixroute, gateway6/128 on-link, default via gateway6;
 * `c` is bound to the container's namespace `ns`. */
int moat_container_ipv6_address (struct moat_nl *c, int index, const char *ifname, const char *ns,
                                 const struct in6_addr *addr6, const struct in6_addr *gateway6,
                                 moat_err_t *err);
/* CHECK: the address (not tentative) and a default route (via gateway6,
 * unless another attachment holds it). */
int moat_container_ipv6_check (struct moat_nl *c, int index, const char *ifname, const char *ns,
                               const struct in6_addr *addr6, const struct in6_addr *gateway6,
                               moat_err_t *err);

#endif
