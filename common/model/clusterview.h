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

struct moat_view_node
{
  const char *node;
  struct in_addr underlay, subnet;
  int prefixlen;
  bool have_mac;
  unsigned char mac[MOAT_MAC_LEN];
};

struct moat_view_member
{
  const char *node, *network, *container, *name;
  struct in_addr addr;
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
 * network, its address in its node's subnet. A member of a node the view
 * lacks, or outside its node's subnet, joins nowhere (fail closed). */
bool moat_view_member_here (const struct moat_view *v, const char *self, const char *network,
                            const struct moat_view_member *m);

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

/* Whether two IPv4 prefixes share an address. */
bool moat_subnets_overlap (struct in_addr a, int alen, struct in_addr b, int blen);

#endif
