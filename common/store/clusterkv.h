/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CLUSTERKV_H
#define MOAT_CLUSTERKV_H

/* What a cluster's store holds, as the watcher keeps it: a JSON object
 * mapping each key under /moat/<cluster>/ to its value (a JSON object),
 * and the view of verbs/cluster.h built from it. Pure. Whatever source
 * fills the map (etcd's range and watch today; a Kubernetes API's nodes
 * and pods could fill it under the same keys, docs/cluster.md "A
 * Kubernetes-API backend"), the view, and so the policy, come out the
 * same. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What moat_cluster_kv_set did. */
enum moat_cluster_kv_change
{
  MOAT_CLUSTER_KV_SET,
  MOAT_CLUSTER_KV_REMOVED,
  MOAT_CLUSTER_KV_NOT_JSON, /* a value that is no JSON object: the key is removed */
};

/* Sets `key` in kv to its value parsed (value: len bytes), or removes it
 * (deleted). */
enum moat_cluster_kv_change moat_cluster_kv_set (json_t *kv, const char *key, const char *value,
                                                 size_t len, bool deleted);

/* The view of `cluster` (verbs/cluster.h) from kv: a node entry per
 * .../nodes/<node> (its value with "node"), a member per
 * .../members/<node>/<address> (its value with "node" and "address"
 * from the key, whatever the value says); other keys (subnet claims,
 * another cluster's) are left out. A new object, NULL when out of
 * memory. */
json_t *moat_cluster_view_build (const char *cluster, json_t *kv, int64_t revision,
                                 int64_t read_at);

#endif
