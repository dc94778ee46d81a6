/* SPDX-License-Identifier: Apache-2.0 */
#include "store/clusterkv.h"

#include "base/cleanup.h"
#include "store/etcdjson.h"

enum moat_cluster_kv_change
moat_cluster_kv_set (json_t *kv, const char *key, const char *value, size_t len, bool deleted)
{
  json_error_t jerr;
  json_t *parsed = deleted ? NULL : json_loadb (value, len, 0, &jerr);

  if (json_is_object (parsed))
    {
      json_object_set_new (kv, key, parsed);
      return MOAT_CLUSTER_KV_SET;
    }
  json_decref (parsed);
  json_object_del (kv, key);
  return deleted ? MOAT_CLUSTER_KV_REMOVED : MOAT_CLUSTER_KV_NOT_JSON;
}

/* One entry of the view: a copy of value with "node" (and "address")
 * from the key, whatever the value says. */
static json_t *
view_entry (json_t *value, const char *node, const char *address)
{
  json_t *entry = json_deep_copy (value);

  if (!entry)
    return NULL;
  json_object_set_new (entry, "node", json_string (node));
  if (address)
    json_object_set_new (entry, "address", json_string (address));
  return entry;
}

json_t *
moat_cluster_view_build (const char *cluster, json_t *kv, int64_t revision, int64_t read_at)
{
  json_t *nodes = json_array (), *members = json_array ();
  const char *key;
  json_t *value;

  if (!nodes || !members)
    {
      json_decref (nodes);
      json_decref (members);
      return NULL;
    }
  json_object_foreach (kv, key, value)
  {
    _cleanup_free_ char *node = NULL;
    _cleanup_free_ char *address = NULL;
    enum moat_cluster_key_kind kind = moat_cluster_key_parse (cluster, key, &node, &address);

    if (kind == MOAT_CLUSTER_KEY_OTHER || !json_is_object (value))
      continue;
    json_array_append_new (kind == MOAT_CLUSTER_KEY_NODE ? nodes : members,
                           view_entry (value, node, address));
  }
  return json_pack ("{s:s, s:I, s:I, s:o, s:o}", "cluster", cluster, "revision",
                    (json_int_t)revision, "readAt", (json_int_t)read_at, "nodes", nodes, "members",
                    members);
}
