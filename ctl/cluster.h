/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CTL_CLUSTER_H
#define MOAT_CTL_CLUSTER_H

/* `moatctl cluster apply [--node SELF] FILE|-` and `moatctl cluster
 * members CLUSTER [--node SELF]` (moatctl(8), cluster; docs/cluster.md):
 * a view of the other nodes synced into this node (verbs/cluster.h,
 * moat_cluster_sync), and this node's members as the view's members, for
 * whoever builds the views (the watcher). */

#include <stdbool.h>

/* `args`: what follows "cluster"; `node`: --node, or NULL (each network's
 * cluster.node). Returns moatctl's exit status: 0 done, 2 refused (the
 * reason on standard error, one line). */
int moat_ctl_cluster (char **args, int n, const char *node, bool json);

#endif
