/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_SOURCE_H
#define MOAT_SOURCE_H

/* Where the cluster watcher reads the other nodes and their members from
 * (docs/cluster.md, "A Kubernetes-API backend"): a snapshot of every key
 * at a revision, then the changes after it. Keys and values are those of
 * docs/cluster.md, "The store" (.../nodes/<node>, .../members/<node>/
 * <address>, their values JSON objects), whatever the source keeps them
 * as: the watcher puts them in one map (store/clusterkv.h) and builds
 * the view from it, so the view, and the policy, do not depend on the
 * source. etcd is one source (moat_cluster_source_etcd); a source that
 * translates a Kubernetes API server's nodes and pods into the same keys
 * would be another. What this node publishes (its lease, claim and
 * members) is etcd's alone. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/etcd.h"

/* One key as it is now (deleted: gone). Valid during the callback. */
struct moat_cluster_change
{
  const char *key;
  const char *value; /* len bytes; "" when deleted */
  size_t len;
  bool deleted;
  int64_t revision; /* the change's */
};

typedef void (*moat_cluster_change_cb) (const struct moat_cluster_change *change, void *data);

struct moat_cluster_source;

struct moat_cluster_source_ops
{
  /* Every key of the cluster now, each through cb; the snapshot's
   * revision in *ret_revision. */
  int (*list) (struct moat_cluster_source *s, moat_cluster_change_cb cb, void *data,
               int64_t *ret_revision, moat_err_t *err);
  /* Follows the changes after `revision`. */
  int (*watch_open) (struct moat_cluster_source *s, int64_t revision, moat_err_t *err);
  /* Waits at most timeout_ms on the changes and fds; each change that
   * arrived through cb, and the revision they bring the snapshot to in
   * *ret_revision (untouched when none). -1 when the watch is over (it
   * broke, or its revision is gone): close it, list again. */
  int (*watch_wait) (struct moat_cluster_source *s, struct moat_waitfd *fds, unsigned n,
                     int timeout_ms, moat_cluster_change_cb cb, void *data, int64_t *ret_revision,
                     moat_err_t *err);
  void (*watch_close) (struct moat_cluster_source *s);
  /* Where it reads from, for the log. */
  const char *(*where) (struct moat_cluster_source *s);
  void (*free) (struct moat_cluster_source *s);
};

struct moat_cluster_source
{
  const struct moat_cluster_source_ops *ops;
};

static inline void
moat_cluster_source_freep (struct moat_cluster_source **s)
{
  if (*s)
    (*s)->ops->free (*s);
}

/* The keys under /moat/<cluster>/ of etcd, through client e (the caller's,
 * which outlives the source). */
struct moat_cluster_source *moat_cluster_source_etcd (struct moat_etcd *e, const char *cluster,
                                                      moat_err_t *err);

#endif
