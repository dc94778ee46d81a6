/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_ETCD_H
#define MOAT_ETCD_H

/* An etcd v3 client on its HTTP/JSON gateway (docs/cluster.md, "The
 * store"), libcurl and jansson: unary calls (range, put, deleterange, a
 * create-if-absent txn, lease grant/keepalive/revoke) and one streaming
 * watch. A client has several endpoints: a call goes to the one that last
 * answered and, when it cannot be reached (or says it is unavailable),
 * to the next, once round. Errors name the endpoint and what went wrong,
 * etcd's own message when it answered one. */

#include <stdbool.h>
#include <stdint.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "store/etcdjson.h"

struct moat_etcd;

/* A unary call's default time limit, and the time to connect. */
#define MOAT_ETCD_TIMEOUT_MS 3000
#define MOAT_ETCD_CONNECT_MS 1000

/* libcurl's global set-up (TLS libraries included), once per process;
 * moat_etcd_new does it when it was not done. A process that confines
 * itself calls it first: TLS start-up makes calls (sysinfo) that nothing
 * else of moat needs. */
void moat_etcd_init (void);

/* `endpoints`: one or more http(s) URLs, comma-separated
 * ("http://10.0.0.1:2379,http://10.0.0.2:2379"). */
struct moat_etcd *moat_etcd_new (const char *endpoints, moat_err_t *err);
void moat_etcd_free (struct moat_etcd *e);
DEFINE_TRIVIAL_CLEANUP_FUNC (struct moat_etcd *, moat_etcd_free)

/* The endpoint calls go to first (the last that answered). */
const char *moat_etcd_endpoint (const struct moat_etcd *e);

/* The key, or every key under a prefix, at one revision. */
int moat_etcd_range (struct moat_etcd *e, const char *key, bool prefix, struct moat_etcd_kvs *ret,
                     moat_err_t *err);
/* lease 0: none. */
int moat_etcd_put (struct moat_etcd *e, const char *key, const char *value, int64_t lease,
                   moat_err_t *err);
int moat_etcd_delete (struct moat_etcd *e, const char *key, bool prefix, moat_err_t *err);
/* Puts key=value (under lease) only when the key does not exist: 1; 0
 * when it does, with its pair in *holder; -1. */
int moat_etcd_create (struct moat_etcd *e, const char *key, const char *value, int64_t lease,
                      struct moat_etcd_kv *holder, moat_err_t *err);

int moat_etcd_lease_grant (struct moat_etcd *e, int64_t ttl, int64_t *ret_id, moat_err_t *err);
/* One keepalive: the lease's TTL in *ret_ttl, 0 when it is gone. */
int moat_etcd_lease_keepalive (struct moat_etcd *e, int64_t id, int64_t *ret_ttl, moat_err_t *err);
int moat_etcd_lease_revoke (struct moat_etcd *e, int64_t id, moat_err_t *err);

/* A streaming watch of every key under a prefix from a revision, on the
 * client's current endpoint. */
struct moat_etcd_watch;

int moat_etcd_watch_open (struct moat_etcd *e, const char *prefix, int64_t start_revision,
                          struct moat_etcd_watch **ret, moat_err_t *err);
void moat_etcd_watch_close (struct moat_etcd_watch *w);
DEFINE_TRIVIAL_CLEANUP_FUNC (struct moat_etcd_watch *, moat_etcd_watch_close)

/* Called per message of the stream; a -1 ends moat_etcd_watch_wait with
 * its error. */
typedef int (*moat_etcd_watch_cb) (const struct moat_etcd_watch_msg *msg, void *data,
                                   moat_err_t *err);

/* An fd to wait on beside the stream (a cluster source waits the same
 * way: store/source.h). */
struct moat_waitfd
{
  int fd;
  bool ready; /* set when it is readable */
};

/* Waits at most timeout_ms for the stream and fds, and calls cb for each
 * whole message that arrived. 0; -1 when the stream ended or broke (the
 * watch is then done: close it), a message was malformed, or cb failed. */
int moat_etcd_watch_wait (struct moat_etcd_watch *w, struct moat_waitfd *fds, unsigned n,
                          int timeout_ms, moat_etcd_watch_cb cb, void *data, moat_err_t *err);

#endif
