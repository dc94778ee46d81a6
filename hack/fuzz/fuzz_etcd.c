/* SPDX-License-Identifier: Apache-2.0 */
/* The etcd client's parsers (store/etcdjson.h), what a store (or whatever
 * answers at its address) sends the cluster watcher: the input as one
 * answer or watch message, read as each kind; as base64; and as a key of
 * a cluster. Then what the watcher's map (store/clusterkv.h) makes of it
 * as a value. */
#include "base/cleanup.h"
#include "fuzz.h"
#include "store/clusterkv.h"
#include "store/etcdjson.h"

static void
check_kv (const struct moat_etcd_kv *kv)
{
  FUZZ_CHECK (kv->key != NULL && kv->value != NULL);
  FUZZ_CHECK (strlen (kv->value) <= kv->value_len);
}

static void
check_answers (json_t *j)
{
  struct moat_etcd_kvs kvs = { 0 };
  struct moat_etcd_kv holder = { 0 };
  struct moat_etcd_watch_msg msg = { 0 };
  moat_err_t err = { 0 };
  int r;

  if (moat_etcd_parse_range (j, &kvs, &err) == 0)
    {
      for (size_t i = 0; i < kvs.n; i++)
        check_kv (&kvs.kv[i]);
      moat_etcd_kvs_clear (&kvs);
    }
  r = moat_etcd_parse_create (j, &holder, &err);
  FUZZ_CHECK (r >= -1 && r <= 1);
  if (r == 0)
    {
      check_kv (&holder);
      moat_etcd_kv_clear (&holder);
    }
  if (moat_etcd_parse_watch (j, &msg, &err) == 0)
    {
      FUZZ_CHECK (msg.what == MOAT_ETCD_WATCH_EVENTS || msg.n == 0);
      for (size_t i = 0; i < msg.n; i++)
        check_kv (&msg.events[i].kv);
      moat_etcd_watch_msg_clear (&msg);
    }
}

/* Decoding and encoding again gives the canonical text back. */
static void
check_b64 (const char *s)
{
  size_t len = 0;
  _cleanup_free_ char *dec = moat_b64_decode (s, &len);
  _cleanup_free_ char *enc = NULL;
  _cleanup_free_ char *again = NULL;
  size_t len2 = 0;

  if (!dec)
    return;
  enc = moat_b64_encode (dec, len);
  FUZZ_CHECK (enc != NULL);
  again = moat_b64_decode (enc, &len2);
  FUZZ_CHECK (again != NULL && len2 == len && memcmp (again, dec, len) == 0);
}

static void
check_key (const char *s)
{
  _cleanup_free_ char *node = NULL;
  _cleanup_free_ char *address = NULL;
  enum moat_cluster_key_kind kind = moat_cluster_key_parse ("c1", s, &node, &address);

  FUZZ_CHECK ((kind == MOAT_CLUSTER_KEY_OTHER) == (node == NULL));
  FUZZ_CHECK ((kind == MOAT_CLUSTER_KEY_MEMBER) == (address != NULL));
  FUZZ_CHECK (!node || (*node && !strchr (node, '/')));
  FUZZ_CHECK (!address || (*address && !strchr (address, '/')));
}

static void
check_value (const uint8_t *data, size_t size)
{
  json_t *kv = json_object ();
  json_t *view;

  FUZZ_CHECK (kv != NULL);
  moat_cluster_kv_set (kv, "/moat/c1/members/n2/10.90.2.5", (const char *)data, size, false);
  moat_cluster_kv_set (kv, "/moat/c1/nodes/n2", (const char *)data, size, false);
  view = moat_cluster_view_build ("c1", kv, 1, 1);
  FUZZ_CHECK (view != NULL);
  FUZZ_CHECK (json_array_size (json_object_get (view, "nodes")) == json_object_size (kv) / 2);
  json_decref (view);
  json_decref (kv);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  _cleanup_free_ char *s = fuzz_cstr (data, size);
  json_error_t jerr;
  json_t *j = json_loadb ((const char *)data, size, 0, &jerr);

  if (j)
    check_answers (j);
  json_decref (j);
  check_b64 (s);
  check_key (s);
  check_value (data, size);
  return 0;
}
