/* SPDX-License-Identifier: Apache-2.0 */
/* The etcd source of store/source.h: range and watch over the cluster's
 * prefix. */
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "store/source.h"

struct etcd_source
{
  struct moat_cluster_source base; /* first: the interface's pointer is ours */
  struct moat_etcd *e;
  char *prefix;
  struct moat_etcd_watch *watch;
  /* During watch_wait: where changes go. */
  moat_cluster_change_cb cb;
  void *data;
  int64_t *ret_revision;
};

static struct etcd_source *
of (struct moat_cluster_source *s)
{
  return (struct etcd_source *)s;
}

static void
deliver (const struct moat_etcd_kv *kv, bool deleted, moat_cluster_change_cb cb, void *data)
{
  const struct moat_cluster_change c = {
    .key = kv->key,
    .value = kv->value ? kv->value : "",
    .len = kv->value ? kv->value_len : 0,
    .deleted = deleted,
    .revision = kv->mod_revision,
  };

  cb (&c, data);
}

static int
etcd_list (struct moat_cluster_source *s, moat_cluster_change_cb cb, void *data,
           int64_t *ret_revision, moat_err_t *err)
{
  struct moat_etcd_kvs kvs = { 0 };

  if (moat_etcd_range (of (s)->e, of (s)->prefix, true, &kvs, err) < 0)
    return -1;
  for (size_t i = 0; i < kvs.n; i++)
    deliver (&kvs.kv[i], false, cb, data);
  *ret_revision = kvs.revision;
  moat_etcd_kvs_clear (&kvs);
  return 0;
}

static void
etcd_watch_close (struct moat_cluster_source *s)
{
  moat_etcd_watch_close (of (s)->watch);
  of (s)->watch = NULL;
}

static int
etcd_watch_open (struct moat_cluster_source *s, int64_t revision, moat_err_t *err)
{
  etcd_watch_close (s);
  return moat_etcd_watch_open (of (s)->e, of (s)->prefix, revision + 1, &of (s)->watch, err);
}

/* One message of etcd's stream: its events as changes; a compaction or
 * a cancel ends the watch. */
static int
on_message (const struct moat_etcd_watch_msg *msg, void *data, moat_err_t *err)
{
  struct etcd_source *src = data;

  switch (msg->what)
    {
    case MOAT_ETCD_WATCH_CREATED:
      return 0;
    case MOAT_ETCD_WATCH_COMPACTED:
      return moat_error (err, MOAT_E_IO, 0, "watch: compacted up to revision %lld",
                         (long long)msg->compact_revision);
    case MOAT_ETCD_WATCH_CANCELED:
      return moat_error (err, MOAT_E_IO, 0, "watch: canceled by etcd");
    case MOAT_ETCD_WATCH_EVENTS:
      break;
    }
  for (size_t i = 0; i < msg->n; i++)
    deliver (&msg->events[i].kv, msg->events[i].deleted, src->cb, src->data);
  if (msg->n > 0)
    *src->ret_revision = msg->revision;
  return 0;
}

static int
etcd_watch_wait (struct moat_cluster_source *s, struct moat_waitfd *fds, unsigned n, int timeout_ms,
                 moat_cluster_change_cb cb, void *data, int64_t *ret_revision, moat_err_t *err)
{
  struct etcd_source *src = of (s);

  if (!src->watch)
    return moat_error (err, MOAT_E_IO, 0, "watch: not open");
  src->cb = cb;
  src->data = data;
  src->ret_revision = ret_revision;
  return moat_etcd_watch_wait (src->watch, fds, n, timeout_ms, on_message, src, err);
}

static const char *
etcd_where (struct moat_cluster_source *s)
{
  return moat_etcd_endpoint (of (s)->e);
}

static void
etcd_free (struct moat_cluster_source *s)
{
  etcd_watch_close (s);
  free (of (s)->prefix);
  free (s);
}

static const struct moat_cluster_source_ops etcd_ops = {
  .list = etcd_list,
  .watch_open = etcd_watch_open,
  .watch_wait = etcd_watch_wait,
  .watch_close = etcd_watch_close,
  .where = etcd_where,
  .free = etcd_free,
};

struct moat_cluster_source *
moat_cluster_source_etcd (struct moat_etcd *e, const char *cluster, moat_err_t *err)
{
  struct etcd_source *src = calloc (1, sizeof *src);

  if (!src || !(src->prefix = moat_cluster_key_prefix (cluster)))
    {
      free (src);
      moat_error_nomem (err, "an etcd source");
      return NULL;
    }
  src->base.ops = &etcd_ops;
  src->e = e;
  return &src->base;
}
