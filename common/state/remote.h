/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_REMOTE_H
#define MOAT_REMOTE_H

/* Cluster mode on disk (docs/cluster.md, docs/design.md "State on disk and
 * locking"):
 *   <run dir>/<network>/remote/<container>@<node>.json
 *       a container of another node (model/record.h, remote_node): its
 *       policy and identity, joined like a local container's but with no
 *       port; never listed by moat_record_list, so DEL, gc and the hook
 *       never take it for one of this node's
 *   <run dir>/.cluster/networks/<network>.json
 *       the network's "cluster" key as its last ADD here had it, with this
 *       node's name and the network's subnet: which networks of this node
 *       belong to which cluster. Kept after the network's last DEL.
 * Caller holds the network's lock for the first kind. */

#include <netinet/in.h>
#include <stdbool.h>

#include "base/error.h"
#include "model/record.h"

/* Writes `text` (a record) as the remote record `key`. */
int moat_remote_write (const char *network, const char *key, const char *text, moat_err_t *err);
/* Keys ("<container>@<node>") of the network's remote records:
 * NULL-terminated, malloc'd; none when there is no directory. */
int moat_remote_list (const char *network, char ***ret_keys, moat_err_t *err);
/* 1 read, 0 none, -1 error. */
int moat_remote_read (const char *network, const char *key, struct moat_record *ret,
                      moat_err_t *err);
int moat_remote_remove (const char *network, const char *key, moat_err_t *err);
/* 1 when the network has a remote record, 0 when not. */
int moat_remote_any (const char *network, moat_err_t *err);

/* One network of this node in a cluster (<run dir>/.cluster/networks/<network>.json). */
struct moat_cluster_net
{
  char *network;
  char *cluster;
  char *node; /* this node's name */
  char *store;
  char *bridge;
  struct in_addr subnet;
  int prefixlen;
  bool wireguard;    /* cluster.encrypt: "wireguard" */
  bool have_subnet6; /* a dual-stack network: its subnet6, a /64 */
  struct in6_addr subnet6;
};
void moat_cluster_net_free (struct moat_cluster_net *n);
int moat_cluster_net_write (const struct moat_cluster_net *n, moat_err_t *err);
/* The networks of `cluster` (NULL: of every cluster), a malloc'd array. */
int moat_cluster_nets_list (const char *cluster, struct moat_cluster_net **ret, size_t *ret_n,
                            moat_err_t *err);
void moat_cluster_nets_free (struct moat_cluster_net *v, size_t n);
/* The network's entry: 1 read, 0 none (not in a cluster), -1 error. */
int moat_cluster_net_read (const char *network, struct moat_cluster_net *ret, moat_err_t *err);

#endif
