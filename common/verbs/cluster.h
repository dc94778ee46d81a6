/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CLUSTER_H
#define MOAT_CLUSTER_H

/* Cluster mode (docs/cluster.md): this node's view of the others. The
 * watcher (`moatctl cluster watch`) reads the cluster's store and hands
 * each new view to moat_cluster_sync; `moatctl cluster apply FILE` does
 * the same from a file. What this node publishes of its own containers is
 * moat_cluster_local_members.
 *
 * A view (JSON; the watcher keeps the store's in <run dir>/.cluster/store/
 * <cluster>.json, moat_cluster_sync the one it applied in .cluster/views/):
 *   {"cluster": "c1", "revision": 1234, "readAt": <unix seconds>,
 *    "nodes":   [{"node": "n2", "underlay": "192.0.2.12",
 *                 "subnet": "10.90.2.0/24", "subnet6": null}, ...],
 *    "members": [{"node": "n2", "network": "c1net", "container": "<id>",
 *                 "name": "b", "address": "10.90.2.5", "address6": null,
 *                 "policy": <the record's "policy" (model/policy.h)>},
 *                ...]}
 * Entries whose "node" is this node are ignored. A member is one
 * container's attachment to one network; it is a member here when this
 * node has a network of that name in the same cluster. */

#include <jansson.h>

#include "base/error.h"

/* Makes this node's state and kernel match `view` for the cluster it
 * names: routes to the other nodes' subnets, the remote members' elements
 * in every local network of the cluster, the removal of what the view no
 * longer holds. Idempotent; one kernel batch per network. `self` is this
 * node's name. */
int moat_cluster_sync (const char *self, json_t *view, moat_err_t *err);

/* This node's members of `cluster` (the "members" entries above, "node"
 * being `self`), as a new JSON array. */
json_t *moat_cluster_local_members (const char *cluster, const char *self, moat_err_t *err);

#endif
