/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CLUSTERVIEW_H
#define MOAT_CLUSTERVIEW_H

/* A cluster view (its format: verbs/cluster.h) read and checked: the
 * nodes and members moat_cluster_sync makes this node match. Pure: no
 * I/O. Errors are MOAT_E_CONFIG naming the field ("view: nodes[1].subnet:
 * ..."). */

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/types.h"

#define MOAT_WG_KEY_LEN 32

struct moat_view_node
{
  const char *node;
  struct in_addr underlay, subnet;
  int prefixlen;
  bool have_mac;
  unsigned char mac[MOAT_MAC_LEN];
  bool have_wg_key; /* "wgKey": its WireGuard public key (base64) */
  unsigned char wg_key[MOAT_WG_KEY_LEN];
  /* "subnet6" (a dual-stack node, docs/cluster.md, "IPv6 between nodes")
   * and "underlay6" (its IPv6 address on the underlay link, the nexthop
   * of its subnet6; without it, the link-local address its MAC gives). */
  bool have_subnet6, have_underlay6;
  struct in6_addr subnet6, underlay6;
  int prefixlen6;
};

struct moat_view_member
{
  const char *node, *network, *container, *name;
  struct in_addr addr;
  bool have_addr6; /* "address6": a dual-stack member */
  struct in6_addr addr6;
  json_t *policy;
};

/* Strings point into the JSON it was read from, which must outlive it. */
struct moat_view
{
  const char *cluster;
  struct moat_view_node *nodes;
  size_t nnodes;
  struct moat_view_member *members;
  size_t nmembers;
};

/* Reads `j`; nodes whose subnets overlap refuse the whole view. Free with
 * moat_view_free, even after an error. */
int moat_view_parse (json_t *j, struct moat_view *v, moat_err_t *err);
void moat_view_free (struct moat_view *v);

/* Whether member m joins `network` on node `self`: another node's, on that
 * network, its address in its node's subnet (and its address6, if any, in
 * its node's subnet6, when the node has one). A member of a node the view
 * lacks, or outside its node's subnets, joins nowhere (fail closed). A
 * member's address6 whose node has no subnet6 (a node's older watcher)
 * is no address of it: it joins by its IPv4 address alone. */
bool moat_view_member_here (const struct moat_view *v, const char *self, const char *network,
                            const struct moat_view_member *m);

/* A WireGuard key as wg(8) writes it (base64 of 32 bytes: 44
 * characters): 0, or -1 when it is not one. */
#define MOAT_WG_KEY_TEXT 45
int moat_wg_key_parse (const char *text, unsigned char key[MOAT_WG_KEY_LEN]);
void moat_wg_key_format (const unsigned char key[MOAT_WG_KEY_LEN], char text[MOAT_WG_KEY_TEXT]);

/* The VXLAN tunnel between this node and `peer` (docs/cluster.md,
 * "Routing between nodes"), derived from the cluster's and both nodes'
 * names, so both ends compute it alike: this end's device (its name and
 * MAC), the pair's VNI (one device per VNI on a host: the kernel finds the
 * device by VNI alone), and the MAC of the peer's device for this node
 * (the neighbour its routes use, the source its frames carry). */
#define MOAT_VXLAN_OVERHEAD 50 /* outer IPv4, UDP, VXLAN and inner Ethernet headers */
struct moat_tunnel
{
  char ifname[16]; /* "moat-vx" and 8 hex digits */
  uint32_t vni;    /* 1 .. 2^24 - 1 */
  unsigned char mac[MOAT_MAC_LEN];
  unsigned char peer_mac[MOAT_MAC_LEN];
};
void moat_view_tunnel (const char *cluster, const char *self, const char *peer,
                       struct moat_tunnel *t);

/* The view's node of that name, or NULL. */
const struct moat_view_node *moat_view_node_find (const struct moat_view *v, const char *node);

/* Whether two IPv4 prefixes share an address; two IPv6 ones. */
bool moat_subnets_overlap (struct in_addr a, int alen, struct in_addr b, int blen);
bool moat_subnets6_overlap (const struct in6_addr *a, int alen, const struct in6_addr *b, int blen);

#endif
