/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CLUSTER_H
#define MOAT_CLUSTER_H

/* Cluster mode (docs/cluster.md): this node's view of the others. The
 * watcher (`moatctl cluster watch`) reads the cluster's store and hands
 * each new view to moat_cluster_sync; `moatctl cluster apply FILE` does
 * the same from a file. What this node publishes of its own containers is
 * moat_cluster_local_members.
 *
 * A view (JSON; the last one synced: <run dir>/.cluster/views/<cluster>.json;
 * the watcher keeps the store's, before sync, in .cluster/store/):
 *   {"cluster": "c1", "revision": 1234, "readAt": <unix seconds>,
 *    "nodes":   [{"node": "n2", "underlay": "192.0.2.12",
 *                 "subnet": "10.90.2.0/24", "subnet6": null | "fd00:90:2::/64",
 *                 "mac": "02:..." (optional: the underlay's MAC),
 *                 "underlay6": "fe80::..." (optional: the nexthop of its
 *                 subnet6; default: the link-local address of "mac"),
 *                 "wgKey": "<base64>" (its WireGuard public key; needed
 *                  when the cluster's networks have "encrypt": "wireguard")},
 *                ...],
 *    "members": [{"node": "n2", "network": "c1net", "container": "<id>",
 *                 "name": "b", "address": "10.90.2.5", "address6": null,
 *                 "policy": <the record's "policy" (model/policy.h)>},
 *                ...]}
 * Entries whose "node" is this node are ignored. A member is one
 * container's attachment to one network; it is a member here when this
 * node has a network of that name in the same cluster, and its node is in
 * "nodes" with "address" in that node's subnet and "address6", if any,
 * in its subnet6 (else it joins nowhere: fail closed; a node without
 * subnet6 has its members' address6 ignored). Nodes whose subnets
 * or subnet6s overlap refuse the view (docs/cluster.md, "IPv6 between
 * nodes"). */

#include <jansson.h>

#include "base/error.h"
#include "model/clusterview.h"
#include "ruleset/elems.h"

/* Makes this node's state and kernel match `view` for the cluster it
 * names: routes to the other nodes' subnets, the remote members' elements
 * in every local network of the cluster, the removal of what the view no
 * longer holds. Idempotent: a member whose address and policy are as the
 * last sync left them is not touched; the nodes' elements are one batch,
 * each member joining or leaving one more (moat_policy_join's). `self` is
 * this node's name (NULL: each network's cluster.node). A view of a
 * cluster this node has no network of changes nothing. Each node entry
 * may carry "mac", its underlay MAC (else the neighbour table's); the
 * view applied is kept in <run dir>/.cluster/views/<cluster>.json, with
 * "readAt" (now, if the view has none), for moatctl explain. */
int moat_cluster_sync (const char *self, json_t *view, moat_err_t *err);

/* This node's WireGuard public key for `cluster` (base64, as wg(8) shows
 * it), its private key made first when there is none: what the watcher
 * publishes as the node's "wgKey" and `moatctl cluster key` prints. */
int moat_cluster_wg_public (const char *cluster, char text[MOAT_WG_KEY_TEXT], moat_err_t *err);

/* This node's members of `cluster` (the "members" entries above, "node"
 * being `self`), as a new JSON array. */
json_t *moat_cluster_local_members (const char *cluster, const char *self, moat_err_t *err);

/* The node elements (ruleset/elems.h, moat_nft_elems_node) the last sync
 * of every cluster made, appended to `out`: what moatctl check expects
 * and restore makes again. */
int moat_cluster_nodes_expected (struct moat_nft_elems *out, moat_err_t *err);

/* For moatctl teardown: the routes and VXLAN devices the last sync of
 * every cluster made, deleted, and its record of them; each device's name
 * appended to `removed`. */
int moat_cluster_nodes_remove (json_t *removed, moat_err_t *err);

/* What this node knows of another node of `network`'s cluster, for
 * moatctl explain: its link as the last sync made it (ruleset/elems.h)
 * and the view that sync applied (its revision, when it was read). 1
 * found, 0 not known, -1 error. */
struct moat_cluster_origin
{
  struct moat_node_link link;
  long long revision, read_at;
};
int moat_cluster_origin (const char *network, const char *node, struct moat_cluster_origin *ret,
                         moat_err_t *err);

#endif
