/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_ROUTE_H
#define MOAT_ROUTE_H

/* Cluster mode's routes to the other nodes' container subnets
 * (docs/cluster.md, "Routing between nodes"), on the socket of
 * kernel/netlink.h, in the caller's network namespace. */

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/types.h"
#include "kernel/netlink.h"

/* How the kernel reaches `dst` now: the interface (*ifname) and whether
 * `dst` is on its link (no gateway). -1 with *err when it has no route. */
int moat_route_get (struct moat_nl *nl, struct in_addr dst, char ifname[IFNAMSIZ], bool *direct,
                    moat_err_t *err);

/* `dst`/`prefixlen` via `gateway` (on its link), made or replaced:
 * protocol MOAT_RTPROT, so moat's routes are told from others'. */
#define MOAT_RTPROT 195
int moat_route_replace (struct moat_nl *nl, struct in_addr dst, int prefixlen,
                        struct in_addr gateway, moat_err_t *err);
/* Deletes moat's route to `dst`/`prefixlen`; none is success. */
/* The same, `dst/prefixlen dev ifname` (scope link, no gateway): a route
 * into a WireGuard device. */
int moat_route_replace_dev (struct moat_nl *nl, struct in_addr dst, int prefixlen,
                            const char *ifname, moat_err_t *err);
int moat_route_del (struct moat_nl *nl, struct in_addr dst, int prefixlen, moat_err_t *err);

/* `dst`/`prefixlen` via `gateway` on `ifname`, onlink (a tunnel's far
 * end, which the kernel need not know a route to), protocol MOAT_RTPROT. */
int moat_route_replace_onlink (struct moat_nl *nl, struct in_addr dst, int prefixlen,
                               struct in_addr gateway, const char *ifname, moat_err_t *err);

/* A VXLAN device to one other node (docs/cluster.md, "Routing between
 * nodes"): `ifname` with `mac`, VNI `vni`, UDP port MOAT_VXLAN_PORT, from
 * `local` (INADDR_ANY: the kernel's choice) to `remote` alone (its default
 * FDB entry), over `lower` (its MTU less the VXLAN overhead), learning off,
 * the outer DF bit the inner packet's (nothing fragmented on the way: a
 * packet too big is refused by ICMP, and path MTU discovery works), no
 * IPv6 address, up. Made when there is no link of that name: 1; 0 when
 * one is there already (left as it is). */
#define MOAT_VXLAN_PORT 4789 /* IANA's */
struct moat_vxlan_spec
{
  const char *ifname;
  const char *lower;
  uint32_t vni;
  struct in_addr local, remote;
  const unsigned char *mac;
};
int moat_vxlan_ensure (struct moat_nl *nl, const struct moat_vxlan_spec *s, moat_err_t *err);
/* Deletes link `ifname` (with its routes and neighbours); none is success. */
int moat_tunnel_delete (struct moat_nl *nl, const char *ifname, moat_err_t *err);
/* A permanent neighbour entry: `addr` is `mac` on `ifname`. */
int moat_neigh_replace (struct moat_nl *nl, const char *ifname, struct in_addr addr,
                        const unsigned char mac[MOAT_MAC_LEN], moat_err_t *err);
/* The IPv6 twins, for a node's subnet6: `dst`/`prefixlen` via `gateway`
 * (a link-local address, or one on the link) on `ifname`. */
int moat_route6_replace (struct moat_nl *nl, const struct in6_addr *dst, int prefixlen,
                         const struct in6_addr *gateway, const char *ifname, moat_err_t *err);
int moat_route6_del (struct moat_nl *nl, const struct in6_addr *dst, int prefixlen,
                     moat_err_t *err);

/* The MAC of the neighbour `addr` on `ifname`, from the kernel's table:
 * 1 and *mac, or 0 when it has none that is valid. */
int moat_neigh_mac (struct moat_nl *nl, const char *ifname, struct in_addr addr,
                    unsigned char mac[MOAT_MAC_LEN], moat_err_t *err);

#endif
