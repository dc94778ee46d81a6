/* SPDX-License-Identifier: Apache-2.0 */
#include "store/etcdjson.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

static const char b64_alphabet[]
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
moat_b64_encode (const void *data, size_t len)
{
  const unsigned char *in = data;
  char *out = malloc ((len + 2) / 3 * 4 + 1);
  size_t o = 0;

  if (!out)
    return NULL;
  for (size_t i = 0; i < len; i += 3)
    {
      uint32_t v = (uint32_t)in[i] << 16;
      size_t left = len - i;

      if (left > 1)
        v |= (uint32_t)in[i + 1] << 8;
      if (left > 2)
        v |= in[i + 2];
      out[o++] = b64_alphabet[(v >> 18) & 63];
      out[o++] = b64_alphabet[(v >> 12) & 63];
      out[o++] = left > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
      out[o++] = left > 2 ? b64_alphabet[v & 63] : '=';
    }
  out[o] = '\0';
  return out;
}

static int
b64_value (char c)
{
  const char *p = c ? strchr (b64_alphabet, c) : NULL;

  return p ? (int)(p - b64_alphabet) : -1;
}

char *
moat_b64_decode (const char *text, size_t *ret_len)
{
  size_t len = strlen (text);
  _cleanup_free_ char *out = NULL;
  uint32_t acc = 0;
  size_t o = 0;
  int bits = 0;

  while (len > 0 && text[len - 1] == '=')
    len--;
  if (strlen (text) - len > 2 || len % 4 == 1)
    return NULL;
  out = malloc (len * 3 / 4 + 1);
  if (!out)
    return NULL;
  for (size_t i = 0; i < len; i++)
    {
      int v = b64_value (text[i]);

      if (v < 0)
        return NULL;
      acc = (acc << 6) | (uint32_t)v;
      bits += 6;
      if (bits >= 8)
        {
          bits -= 8;
          out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
  out[o] = '\0';
  *ret_len = o;
  return TAKE_PTR (out);
}

void
moat_etcd_kv_clear (struct moat_etcd_kv *kv)
{
  free (kv->key);
  free (kv->value);
  memset (kv, 0, sizeof *kv);
}

void
moat_etcd_kvs_clear (struct moat_etcd_kvs *kvs)
{
  for (size_t i = 0; i < kvs->n; i++)
    moat_etcd_kv_clear (&kvs->kv[i]);
  free (kvs->kv);
  memset (kvs, 0, sizeof *kvs);
}

char *
moat_etcd_prefix_end (const char *prefix)
{
  size_t len = strlen (prefix);
  char *end;

  /* Every key: etcd's range_end "\0". */
  if (len == 0)
    return calloc (1, 2);
  end = strdup (prefix);
  if (!end)
    return NULL;
  /* The last byte below 0xff, plus one; the bytes after it dropped. */
  while (len > 0 && (unsigned char)end[len - 1] == 0xff)
    end[--len] = '\0';
  if (len == 0)
    {
      free (end);
      return calloc (1, 2);
    }
  end[len - 1]++;
  return end;
}

/* A string as etcd's base64 JSON string (new reference). */
static json_t *
b64_string (const char *s, size_t len)
{
  _cleanup_free_ char *enc = moat_b64_encode (s, len);

  return enc ? json_string (enc) : NULL;
}

/* {"key": k} plus "range_end" when prefix. */
static json_t *
key_range (const char *key, bool prefix)
{
  json_t *o = json_object ();
  _cleanup_free_ char *end = NULL;

  if (!o)
    return NULL;
  json_object_set_new (o, "key", b64_string (key, strlen (key)));
  if (prefix)
    {
      end = moat_etcd_prefix_end (key);
      if (!end)
        {
          json_decref (o);
          return NULL;
        }
      /* "" stands for every key: its range end is the single byte 0. */
      json_object_set_new (o, "range_end", b64_string (end, *key ? strlen (end) : 1));
    }
  return o;
}

json_t *
moat_etcd_range_request (const char *key, bool prefix)
{
  return key_range (key, prefix);
}

static char *
int64_text (int64_t v)
{
  char *s = NULL;

  return asprintf (&s, "%" PRId64, v) < 0 ? NULL : s;
}

static void
set_int64 (json_t *o, const char *field, int64_t v)
{
  _cleanup_free_ char *s = int64_text (v);

  if (s)
    json_object_set_new (o, field, json_string (s));
}

json_t *
moat_etcd_put_request (const char *key, const char *value, int64_t lease)
{
  json_t *o = key_range (key, false);

  if (!o)
    return NULL;
  json_object_set_new (o, "value", b64_string (value, strlen (value)));
  if (lease)
    set_int64 (o, "lease", lease);
  return o;
}

json_t *
moat_etcd_delete_request (const char *key, bool prefix)
{
  return key_range (key, prefix);
}

json_t *
moat_etcd_create_request (const char *key, const char *value, int64_t lease)
{
  json_t *cmp = key_range (key, false);

  if (!cmp)
    return NULL;
  json_object_set_new (cmp, "result", json_string ("EQUAL"));
  json_object_set_new (cmp, "target", json_string ("CREATE"));
  json_object_set_new (cmp, "create_revision", json_string ("0"));
  return json_pack ("{s:[o], s:[{s:o}], s:[{s:o}]}", "compare", cmp, "success", "request_put",
                    moat_etcd_put_request (key, value, lease), "failure", "request_range",
                    key_range (key, false));
}

json_t *
moat_etcd_watch_request (const char *prefix, int64_t start_revision)
{
  json_t *create = key_range (prefix, true);

  if (!create)
    return NULL;
  if (start_revision > 0)
    set_int64 (create, "start_revision", start_revision);
  return json_pack ("{s:o}", "create_request", create);
}

int
moat_etcd_int (json_t *obj, const char *field, int64_t *ret, const char *what, moat_err_t *err)
{
  json_t *v = json_object_get (obj, field);
  const char *s;
  char *end;

  *ret = 0;
  if (!v)
    return 0;
  if (json_is_integer (v))
    {
      *ret = json_integer_value (v);
      return 0;
    }
  s = json_string_value (v);
  if (s && *s)
    {
      errno = 0;
      *ret = strtoll (s, &end, 10);
      if (errno == 0 && *end == '\0')
        return 0;
    }
  return moat_error (err, MOAT_E_DECODE, 0, "%s: %s: not an integer", what, field);
}

int
moat_etcd_answer_error (json_t *answer, moat_err_t *err)
{
  json_t *e = json_object_get (answer, "error");
  const char *msg = json_string_value (json_object_get (answer, "message"));

  if (!e)
    return 0;
  if (!msg)
    msg = json_is_string (e) ? json_string_value (e) : "an error without a message";
  moat_error (err, MOAT_E_IO, 0, "%s", msg);
  return 1;
}

static int
decode_field (json_t *obj, const char *field, char **ret, size_t *ret_len, moat_err_t *err)
{
  const char *s = json_string_value (json_object_get (obj, field));
  size_t len = 0;

  if (!s)
    s = "";
  *ret = moat_b64_decode (s, &len);
  if (!*ret)
    return moat_error (err, MOAT_E_DECODE, 0, "kv: %s: not base64", field);
  if (ret_len)
    *ret_len = len;
  return 0;
}

int
moat_etcd_parse_kv (json_t *obj, struct moat_etcd_kv *ret, moat_err_t *err)
{
  struct moat_etcd_kv kv = { 0 };

  if (!json_is_object (obj))
    return moat_error (err, MOAT_E_DECODE, 0, "kv: not an object");
  if (decode_field (obj, "key", &kv.key, NULL, err) < 0
      || decode_field (obj, "value", &kv.value, &kv.value_len, err) < 0
      || moat_etcd_int (obj, "create_revision", &kv.create_revision, "kv", err) < 0
      || moat_etcd_int (obj, "mod_revision", &kv.mod_revision, "kv", err) < 0
      || moat_etcd_int (obj, "lease", &kv.lease, "kv", err) < 0)
    {
      moat_etcd_kv_clear (&kv);
      return -1;
    }
  *ret = kv;
  return 0;
}

static int
header_revision (json_t *answer, int64_t *ret, moat_err_t *err)
{
  return moat_etcd_int (json_object_get (answer, "header"), "revision", ret, "header", err);
}

int
moat_etcd_parse_range (json_t *answer, struct moat_etcd_kvs *ret, moat_err_t *err)
{
  json_t *kvs = json_object_get (answer, "kvs");
  struct moat_etcd_kvs out = { 0 };
  size_t n = json_array_size (kvs);

  if (moat_etcd_answer_error (answer, err))
    return -1;
  if (header_revision (answer, &out.revision, err) < 0)
    return -1;
  if (kvs && !json_is_array (kvs))
    return moat_error (err, MOAT_E_DECODE, 0, "range: kvs: not an array");
  out.kv = calloc (n ? n : 1, sizeof *out.kv);
  if (!out.kv)
    return moat_error_nomem (err, "a range answer");
  for (; out.n < n; out.n++)
    if (moat_etcd_parse_kv (json_array_get (kvs, out.n), &out.kv[out.n], err) < 0)
      {
        moat_etcd_kvs_clear (&out);
        return -1;
      }
  *ret = out;
  return 0;
}

int
moat_etcd_parse_create (json_t *answer, struct moat_etcd_kv *holder, moat_err_t *err)
{
  json_t *range;
  struct moat_etcd_kvs kvs = { 0 };

  if (moat_etcd_answer_error (answer, err))
    return -1;
  if (json_is_true (json_object_get (answer, "succeeded")))
    return 1;
  range = json_object_get (json_array_get (json_object_get (answer, "responses"), 0),
                           "response_range");
  if (!range)
    return moat_error (err, MOAT_E_DECODE, 0, "txn: no response_range in a failed txn");
  if (moat_etcd_parse_range (range, &kvs, err) < 0)
    return -1;
  /* Deleted between the compare and the read: nobody holds it now. */
  if (kvs.n == 0)
    {
      moat_etcd_kvs_clear (&kvs);
      return moat_error (err, MOAT_E_TRY_AGAIN, 0, "txn: the key went while it was read");
    }
  *holder = kvs.kv[0];
  memset (&kvs.kv[0], 0, sizeof kvs.kv[0]);
  moat_etcd_kvs_clear (&kvs);
  return 0;
}

void
moat_etcd_watch_msg_clear (struct moat_etcd_watch_msg *msg)
{
  for (size_t i = 0; i < msg->n; i++)
    moat_etcd_kv_clear (&msg->events[i].kv);
  free (msg->events);
  memset (msg, 0, sizeof *msg);
}

static int
parse_events (json_t *events, struct moat_etcd_watch_msg *out, moat_err_t *err)
{
  size_t n = json_array_size (events);

  out->events = calloc (n ? n : 1, sizeof *out->events);
  if (!out->events)
    return moat_error_nomem (err, "watch events");
  for (; out->n < n; out->n++)
    {
      json_t *ev = json_array_get (events, out->n);
      const char *type = json_string_value (json_object_get (ev, "type"));

      if (type && strcmp (type, "DELETE") != 0 && strcmp (type, "PUT") != 0)
        return moat_error (err, MOAT_E_DECODE, 0, "watch: event type %s: unknown", type);
      out->events[out->n].deleted = type && strcmp (type, "DELETE") == 0;
      if (moat_etcd_parse_kv (json_object_get (ev, "kv"), &out->events[out->n].kv, err) < 0)
        return -1;
    }
  return 0;
}

int
moat_etcd_parse_watch (json_t *msg, struct moat_etcd_watch_msg *ret, moat_err_t *err)
{
  json_t *result = json_object_get (msg, "result");
  struct moat_etcd_watch_msg out = { 0 };

  if (moat_etcd_answer_error (msg, err))
    return -1;
  if (!json_is_object (result))
    return moat_error (err, MOAT_E_DECODE, 0, "watch: a message without a result");
  if (header_revision (result, &out.revision, err) < 0
      || moat_etcd_int (result, "compact_revision", &out.compact_revision, "watch", err) < 0)
    return -1;
  if (out.compact_revision > 0)
    out.what = MOAT_ETCD_WATCH_COMPACTED;
  else if (json_is_true (json_object_get (result, "canceled")))
    out.what = MOAT_ETCD_WATCH_CANCELED;
  else if (json_is_true (json_object_get (result, "created")))
    out.what = MOAT_ETCD_WATCH_CREATED;
  else
    {
      out.what = MOAT_ETCD_WATCH_EVENTS;
      if (parse_events (json_object_get (result, "events"), &out, err) < 0)
        {
          moat_etcd_watch_msg_clear (&out);
          return -1;
        }
    }
  *ret = out;
  return 0;
}

char *
moat_cluster_key_prefix (const char *cluster)
{
  char *s = NULL;

  return asprintf (&s, "/moat/%s/", cluster) < 0 ? NULL : s;
}

char *
moat_cluster_key_node (const char *cluster, const char *node)
{
  char *s = NULL;

  return asprintf (&s, "/moat/%s/nodes/%s", cluster, node) < 0 ? NULL : s;
}

char *
moat_cluster_key_members (const char *cluster, const char *node)
{
  char *s = NULL;

  return asprintf (&s, "/moat/%s/members/%s/", cluster, node) < 0 ? NULL : s;
}

char *
moat_cluster_key_member (const char *cluster, const char *node, const char *address)
{
  char *s = NULL;

  return asprintf (&s, "/moat/%s/members/%s/%s", cluster, node, address) < 0 ? NULL : s;
}

char *
moat_cluster_key_subnet (const char *cluster, const char *subnet)
{
  _cleanup_free_ char *flat = strdup (subnet);
  char *s = NULL;

  if (!flat)
    return NULL;
  for (char *p = flat; *p; p++)
    if (*p == '/')
      *p = '_';
  return asprintf (&s, "/moat/%s/subnets/%s", cluster, flat) < 0 ? NULL : s;
}

/* Whether rest starts with `word` and '/': then *ret points past them. */
static bool
skip_word (const char *rest, const char *word, const char **ret)
{
  size_t n = strlen (word);

  if (strncmp (rest, word, n) != 0 || rest[n] != '/')
    return false;
  *ret = rest + n + 1;
  return true;
}

enum moat_cluster_key_kind
moat_cluster_key_parse (const char *cluster, const char *key, char **node, char **address)
{
  _cleanup_free_ char *prefix = moat_cluster_key_prefix (cluster);
  const char *rest, *slash;

  *node = *address = NULL;
  if (!prefix || strncmp (key, prefix, strlen (prefix)) != 0)
    return MOAT_CLUSTER_KEY_OTHER;
  rest = key + strlen (prefix);
  if (skip_word (rest, "nodes", &rest))
    {
      if (!*rest || strchr (rest, '/'))
        return MOAT_CLUSTER_KEY_OTHER;
      *node = strdup (rest);
      return *node ? MOAT_CLUSTER_KEY_NODE : MOAT_CLUSTER_KEY_OTHER;
    }
  if (!skip_word (rest, "members", &rest))
    return MOAT_CLUSTER_KEY_OTHER;
  slash = strchr (rest, '/');
  if (!slash || slash == rest || !slash[1] || strchr (slash + 1, '/'))
    return MOAT_CLUSTER_KEY_OTHER;
  *node = strndup (rest, (size_t)(slash - rest));
  *address = strdup (slash + 1);
  if (!*node || !*address)
    {
      free (*node);
      free (*address);
      *node = *address = NULL;
      return MOAT_CLUSTER_KEY_OTHER;
    }
  return MOAT_CLUSTER_KEY_MEMBER;
}
