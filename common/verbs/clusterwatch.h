/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CLUSTERWATCH_H
#define MOAT_CLUSTERWATCH_H

/* `moatctl cluster watch CLUSTER` (docs/cluster.md, "The watcher, and
 * failing closed"): this node's one resident process in cluster mode.
 *
 * It finds the local networks of the cluster (the configurations under
 * moat_network_dirs () whose moat plugin has "cluster": {"name":
 * CLUSTER}: their store, node name and subnet), grants a lease, claims the
 * node's subnet (a create-if-absent txn on .../subnets/<subnet>; refused
 * when another node holds it) and puts .../nodes/<node> under the lease.
 * Then, reading through store/source.h (etcd's source): a full resync
 * (every key under /moat/<cluster>/; the view of verbs/cluster.h written
 * to <run dir>/.cluster/store/<cluster>.json and handed to
 * moat_cluster_sync), a watch from the next revision that updates the
 * view and syncs again per batch of changes, and a full resync when the
 * watch ends (a compaction, a broken stream). This node's members
 * (moat_cluster_local_members) are put under the lease and deleted when
 * they go, on every change inotify reports in the run directory, and
 * compared with the store at every keepalive (TTL/3) as a safety net.
 *
 * While the store cannot be reached nothing changes in the kernel: known
 * peers keep working, nothing new is opened; when it answers again the
 * watcher resyncs. SIGTERM or SIGINT revokes the lease (this node's keys
 * go at once) and ends it with 0. One line per event on stderr. */

#include "base/error.h"

struct moat_cluster_watch_opts
{
  const char *cluster;
  const char *node;     /* NULL: the networks' cluster.node, else the host name */
  const char *underlay; /* NULL: the local address of the route toward the store */
  int ttl;              /* the lease's, in seconds; 0: MOAT_CLUSTER_TTL */
};

#define MOAT_CLUSTER_TTL 30

/* Runs until a signal ends it (0) or a refusal (-1 with *err: no network
 * of the cluster, its subnet held by another node, ...). */
int moat_cluster_watch (const struct moat_cluster_watch_opts *o, moat_err_t *err);

#endif
