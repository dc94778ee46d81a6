/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_ETCDJSON_H
#define MOAT_ETCDJSON_H

/* The pure half of the etcd v3 client (store/etcd.h): base64, the JSON
 * bodies of the gateway's requests, the parsing of its answers, and the
 * keys of a cluster (docs/cluster.md, "The store"). No I/O. etcd's JSON
 * gateway writes int64 fields as strings ("revision": "12") and leaves
 * out fields at their zero value (a PUT event has no "type"); keys and
 * values are base64. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Standard base64 with padding, into a new NUL-terminated string. */
char *moat_b64_encode (const void *data, size_t len);

/* Decodes standard base64 (padding optional, no whitespace) into a new
 * buffer, NUL-terminated beyond *ret_len. NULL when it is not base64. */
char *moat_b64_decode (const char *text, size_t *ret_len);

/* One key-value pair as etcd has it. */
struct moat_etcd_kv
{
  char *key;
  char *value; /* NUL-terminated; "" for a deleted key's event */
  size_t value_len;
  int64_t create_revision;
  int64_t mod_revision;
  int64_t lease;
};

void moat_etcd_kv_clear (struct moat_etcd_kv *kv);

struct moat_etcd_kvs
{
  struct moat_etcd_kv *kv;
  size_t n;
  int64_t revision; /* the store's revision the answer was read at */
};

void moat_etcd_kvs_clear (struct moat_etcd_kvs *kvs);

/* The end of the range holding every key that starts with prefix (the
 * prefix with its last byte plus one), new; "\0" (every key) for "". */
char *moat_etcd_prefix_end (const char *prefix);

/* Request bodies (new objects). `prefix`: the key is a prefix. lease 0:
 * none. */
json_t *moat_etcd_range_request (const char *key, bool prefix);
json_t *moat_etcd_put_request (const char *key, const char *value, int64_t lease);
json_t *moat_etcd_delete_request (const char *key, bool prefix);
/* A txn: put key=value (under lease) if the key does not exist, else read
 * it. */
json_t *moat_etcd_create_request (const char *key, const char *value, int64_t lease);
json_t *moat_etcd_watch_request (const char *prefix, int64_t start_revision);

/* An int64 field written as a string or as a number; 0 when absent. -1
 * with *err naming `what` when it is neither. */
int moat_etcd_int (json_t *obj, const char *field, int64_t *ret, const char *what, moat_err_t *err);

/* An error answer ({"error": ..., "message": ..., "code": N}): 1 with
 * *err holding etcd's message; 0 when the answer is no error. */
int moat_etcd_answer_error (json_t *answer, moat_err_t *err);

/* One kv object into *ret. */
int moat_etcd_parse_kv (json_t *obj, struct moat_etcd_kv *ret, moat_err_t *err);

/* A range answer (or a txn's response_range) into *ret. */
int moat_etcd_parse_range (json_t *answer, struct moat_etcd_kvs *ret, moat_err_t *err);

/* A txn answer of moat_etcd_create_request: 1 when the key was created,
 * 0 when it existed (its pair in *holder), -1. */
int moat_etcd_parse_create (json_t *answer, struct moat_etcd_kv *holder, moat_err_t *err);

/* One event of a watch. */
struct moat_etcd_event
{
  bool deleted;
  struct moat_etcd_kv kv;
};

/* What one message of a watch stream says. */
enum moat_etcd_watch_what
{
  MOAT_ETCD_WATCH_CREATED,   /* the watch is set up */
  MOAT_ETCD_WATCH_EVENTS,    /* events (n may be 0: a progress note) */
  MOAT_ETCD_WATCH_COMPACTED, /* the start revision is compacted away */
  MOAT_ETCD_WATCH_CANCELED,  /* etcd ended the watch */
};

struct moat_etcd_watch_msg
{
  enum moat_etcd_watch_what what;
  int64_t revision;         /* the header's revision */
  int64_t compact_revision; /* COMPACTED */
  struct moat_etcd_event *events;
  size_t n;
};

void moat_etcd_watch_msg_clear (struct moat_etcd_watch_msg *msg);

/* One message ({"result": {...}} or an error answer) of a watch stream. */
int moat_etcd_parse_watch (json_t *msg, struct moat_etcd_watch_msg *ret, moat_err_t *err);

/* A cluster's keys: "/moat/<cluster>/", ".../nodes/<node>",
 * ".../members/<node>/" and ".../members/<node>/<address>", ".../subnets/
 * <subnet with '/' as '_'>" (who claims a subnet); new strings. */
char *moat_cluster_key_prefix (const char *cluster);
char *moat_cluster_key_node (const char *cluster, const char *node);
char *moat_cluster_key_members (const char *cluster, const char *node);
char *moat_cluster_key_member (const char *cluster, const char *node, const char *address);
char *moat_cluster_key_subnet (const char *cluster, const char *subnet);

/* What a key under the cluster's prefix is. */
enum moat_cluster_key_kind
{
  MOAT_CLUSTER_KEY_OTHER,
  MOAT_CLUSTER_KEY_NODE,   /* *node set */
  MOAT_CLUSTER_KEY_MEMBER, /* *node and *address set */
};

/* Splits `key` of `cluster`: its kind, and the node and address as new
 * strings (NULL when the kind has none). */
enum moat_cluster_key_kind moat_cluster_key_parse (const char *cluster, const char *key,
                                                   char **node, char **address);

#endif
