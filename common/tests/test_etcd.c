/* SPDX-License-Identifier: Apache-2.0 */
/* store/etcdjson: base64, etcd's gateway requests and answers, a
 * cluster's keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "store/etcdjson.h"

static void
test_b64_roundtrip (void **state)
{
  const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
  const char *coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };

  for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
    {
      char *enc = moat_b64_encode (plain[i], strlen (plain[i]));
      size_t len = 99;
      char *dec = moat_b64_decode (coded[i], &len);

      assert_string_equal (enc, coded[i]);
      assert_non_null (dec);
      assert_int_equal (len, strlen (plain[i]));
      assert_memory_equal (dec, plain[i], len);
      free (enc);
      free (dec);
    }
}

static void
test_b64_binary_and_bad (void **state)
{
  const unsigned char bytes[] = { 0, 0xff, 0x10, 0x80 };
  char *enc = moat_b64_encode (bytes, sizeof bytes);
  size_t len;
  char *dec = moat_b64_decode (enc, &len);

  assert_int_equal (len, sizeof bytes);
  assert_memory_equal (dec, bytes, sizeof bytes);
  free (enc);
  free (dec);
  assert_null (moat_b64_decode ("Zm9v!", &len));
  assert_null (moat_b64_decode ("Z", &len));
  assert_null (moat_b64_decode ("Zg===", &len));
  /* Without padding, as some writers leave it. */
  dec = moat_b64_decode ("Zm8", &len);
  assert_string_equal (dec, "fo");
  free (dec);
}

static void
test_prefix_end (void **state)
{
  char *end = moat_etcd_prefix_end ("/moat/c1/");

  assert_string_equal (end, "/moat/c10");
  free (end);
  end = moat_etcd_prefix_end ("a\xff");
  assert_string_equal (end, "b");
  free (end);
  end = moat_etcd_prefix_end ("");
  assert_int_equal (end[0], 0);
  free (end);
}

static void
assert_json (json_t *j, const char *want)
{
  char *text = json_dumps (j, JSON_COMPACT | JSON_SORT_KEYS);

  assert_string_equal (text, want);
  free (text);
  json_decref (j);
}

static void
test_requests (void **state)
{
  /* "/a/" is L2Ev, its end "/a0" L2Ew; "v" dg==. */
  assert_json (moat_etcd_range_request ("/a/", true), "{\"key\":\"L2Ev\",\"range_end\":\"L2Ew\"}");
  assert_json (moat_etcd_range_request ("/a/", false), "{\"key\":\"L2Ev\"}");
  assert_json (moat_etcd_put_request ("/a/", "v", 7587899396859136774LL),
               "{\"key\":\"L2Ev\",\"lease\":\"7587899396859136774\",\"value\":\"dg==\"}");
  assert_json (moat_etcd_put_request ("/a/", "v", 0), "{\"key\":\"L2Ev\",\"value\":\"dg==\"}");
  assert_json (moat_etcd_delete_request ("/a/", true), "{\"key\":\"L2Ev\",\"range_end\":\"L2Ew\"}");
  assert_json (moat_etcd_watch_request ("/a/", 12),
               "{\"create_request\":{\"key\":\"L2Ev\",\"range_end\":\"L2Ew\","
               "\"start_revision\":\"12\"}}");
  assert_json (moat_etcd_create_request ("/a/", "v", 5),
               "{\"compare\":[{\"create_revision\":\"0\",\"key\":\"L2Ev\",\"result\":\"EQUAL\","
               "\"target\":\"CREATE\"}],\"failure\":[{\"request_range\":{\"key\":\"L2Ev\"}}],"
               "\"success\":[{\"request_put\":{\"key\":\"L2Ev\",\"lease\":\"5\","
               "\"value\":\"dg==\"}}]}");
}

static json_t *
load (const char *text)
{
  json_error_t jerr;
  json_t *j = json_loads (text, 0, &jerr);

  assert_non_null (j);
  return j;
}

/* Answers as etcd 3.4's gateway writes them. */
static void
test_parse_range (void **state)
{
  json_t *a = load ("{\"header\":{\"cluster_id\":\"1\",\"revision\":\"2\"},\"kvs\":[{\"key\":"
                    "\"L2EveA==\",\"create_revision\":\"2\",\"mod_revision\":\"3\",\"version\":"
                    "\"1\",\"value\":\"aGk=\",\"lease\":\"99\"}],\"count\":\"1\"}");
  struct moat_etcd_kvs kvs = { 0 };
  moat_err_t err = { 0 };

  assert_int_equal (moat_etcd_parse_range (a, &kvs, &err), 0);
  assert_int_equal (kvs.revision, 2);
  assert_int_equal (kvs.n, 1);
  assert_string_equal (kvs.kv[0].key, "/a/x");
  assert_string_equal (kvs.kv[0].value, "hi");
  assert_int_equal (kvs.kv[0].value_len, 2);
  assert_int_equal (kvs.kv[0].create_revision, 2);
  assert_int_equal (kvs.kv[0].mod_revision, 3);
  assert_int_equal (kvs.kv[0].lease, 99);
  moat_etcd_kvs_clear (&kvs);
  json_decref (a);

  /* No "kvs" at all: nothing under the key. */
  a = load ("{\"header\":{\"revision\":\"7\"}}");
  assert_int_equal (moat_etcd_parse_range (a, &kvs, &err), 0);
  assert_int_equal (kvs.n, 0);
  assert_int_equal (kvs.revision, 7);
  moat_etcd_kvs_clear (&kvs);
  json_decref (a);

  a = load ("{\"header\":{\"revision\":\"x7\"}}");
  assert_int_equal (moat_etcd_parse_range (a, &kvs, &err), -1);
  assert_string_equal (err.msg, "header: revision: not an integer");
  json_decref (a);

  a = load ("{\"header\":{\"revision\":\"7\"},\"kvs\":[{\"key\":\"%%\"}]}");
  assert_int_equal (moat_etcd_parse_range (a, &kvs, &err), -1);
  assert_string_equal (err.msg, "kv: key: not base64");
  json_decref (a);
}

static void
test_parse_error (void **state)
{
  json_t *a = load ("{\"error\":\"etcdserver: requested lease not found\",\"message\":"
                    "\"etcdserver: requested lease not found\",\"code\":5}");
  struct moat_etcd_kvs kvs = { 0 };
  moat_err_t err = { 0 };

  assert_int_equal (moat_etcd_parse_range (a, &kvs, &err), -1);
  assert_string_equal (err.msg, "etcdserver: requested lease not found");
  json_decref (a);
}

static void
test_parse_create (void **state)
{
  json_t *ok = load ("{\"header\":{\"revision\":\"3\"},\"succeeded\":true,\"responses\":"
                     "[{\"response_put\":{\"header\":{\"revision\":\"3\"}}}]}");
  json_t *held = load ("{\"header\":{\"revision\":\"2\"},\"responses\":[{\"response_range\":"
                       "{\"header\":{\"revision\":\"2\"},\"kvs\":[{\"key\":\"L2EveA==\","
                       "\"create_revision\":\"2\",\"mod_revision\":\"2\",\"version\":\"1\","
                       "\"value\":\"aGk=\"}],\"count\":\"1\"}}]}");
  struct moat_etcd_kv holder = { 0 };
  moat_err_t err = { 0 };

  assert_int_equal (moat_etcd_parse_create (ok, &holder, &err), 1);
  assert_int_equal (moat_etcd_parse_create (held, &holder, &err), 0);
  assert_string_equal (holder.key, "/a/x");
  assert_string_equal (holder.value, "hi");
  moat_etcd_kv_clear (&holder);
  json_decref (ok);
  json_decref (held);
}

static void
test_parse_watch (void **state)
{
  json_t *created = load ("{\"result\":{\"header\":{\"revision\":\"2\"},\"created\":true}}");
  json_t *events = load (
      "{\"result\":{\"header\":{\"revision\":\"4\"},\"events\":[{\"kv\":{\"key\":\"L2EveQ==\","
      "\"create_revision\":\"3\",\"mod_revision\":\"3\",\"version\":\"1\",\"value\":\"dg==\"}},"
      "{\"type\":\"DELETE\",\"kv\":{\"key\":\"L2EveQ==\",\"mod_revision\":\"4\"}}]}}");
  json_t *compacted = load ("{\"result\":{\"header\":{\"raft_term\":\"2\"},\"canceled\":true,"
                            "\"compact_revision\":\"4\"}}");
  json_t *canceled = load ("{\"result\":{\"header\":{\"revision\":\"9\"},\"canceled\":true}}");
  json_t *bad = load ("{\"result\":{\"events\":[{\"type\":\"FOO\",\"kv\":{}}]}}");
  struct moat_etcd_watch_msg m = { 0 };
  moat_err_t err = { 0 };

  assert_int_equal (moat_etcd_parse_watch (created, &m, &err), 0);
  assert_int_equal (m.what, MOAT_ETCD_WATCH_CREATED);
  moat_etcd_watch_msg_clear (&m);
  assert_int_equal (moat_etcd_parse_watch (events, &m, &err), 0);
  assert_int_equal (m.what, MOAT_ETCD_WATCH_EVENTS);
  assert_int_equal (m.revision, 4);
  assert_int_equal (m.n, 2);
  assert_false (m.events[0].deleted);
  assert_string_equal (m.events[0].kv.value, "v");
  assert_true (m.events[1].deleted);
  assert_string_equal (m.events[1].kv.key, "/a/y");
  assert_string_equal (m.events[1].kv.value, "");
  moat_etcd_watch_msg_clear (&m);
  assert_int_equal (moat_etcd_parse_watch (compacted, &m, &err), 0);
  assert_int_equal (m.what, MOAT_ETCD_WATCH_COMPACTED);
  assert_int_equal (m.compact_revision, 4);
  moat_etcd_watch_msg_clear (&m);
  assert_int_equal (moat_etcd_parse_watch (canceled, &m, &err), 0);
  assert_int_equal (m.what, MOAT_ETCD_WATCH_CANCELED);
  moat_etcd_watch_msg_clear (&m);
  assert_int_equal (moat_etcd_parse_watch (bad, &m, &err), -1);
  assert_string_equal (err.msg, "watch: event type FOO: unknown");
  json_decref (created);
  json_decref (events);
  json_decref (compacted);
  json_decref (canceled);
  json_decref (bad);
}

static void
test_cluster_keys (void **state)
{
  char *k, *node, *addr;

  k = moat_cluster_key_node ("c1", "n1");
  assert_string_equal (k, "/moat/c1/nodes/n1");
  assert_int_equal (moat_cluster_key_parse ("c1", k, &node, &addr), MOAT_CLUSTER_KEY_NODE);
  assert_string_equal (node, "n1");
  assert_null (addr);
  free (node);
  free (k);
  k = moat_cluster_key_member ("c1", "n2", "10.90.2.5");
  assert_string_equal (k, "/moat/c1/members/n2/10.90.2.5");
  assert_int_equal (moat_cluster_key_parse ("c1", k, &node, &addr), MOAT_CLUSTER_KEY_MEMBER);
  assert_string_equal (node, "n2");
  assert_string_equal (addr, "10.90.2.5");
  free (node);
  free (addr);
  free (k);
  k = moat_cluster_key_members ("c1", "n2");
  assert_string_equal (k, "/moat/c1/members/n2/");
  assert_int_equal (moat_cluster_key_parse ("c1", k, &node, &addr), MOAT_CLUSTER_KEY_OTHER);
  free (k);
  k = moat_cluster_key_subnet ("c1", "10.90.2.0/24");
  assert_string_equal (k, "/moat/c1/subnets/10.90.2.0_24");
  assert_int_equal (moat_cluster_key_parse ("c1", k, &node, &addr), MOAT_CLUSTER_KEY_OTHER);
  free (k);
  k = moat_cluster_key_prefix ("c1");
  assert_string_equal (k, "/moat/c1/");
  free (k);
  /* Another cluster's key, a cluster named like a prefix of this one. */
  assert_int_equal (moat_cluster_key_parse ("c1", "/moat/c10/nodes/n1", &node, &addr),
                    MOAT_CLUSTER_KEY_OTHER);
  assert_int_equal (moat_cluster_key_parse ("c1", "/moat/c1/nodes/a/b", &node, &addr),
                    MOAT_CLUSTER_KEY_OTHER);
  assert_int_equal (moat_cluster_key_parse ("c1", "/moat/c1/nodes/", &node, &addr),
                    MOAT_CLUSTER_KEY_OTHER);
  assert_int_equal (moat_cluster_key_parse ("c1", "/moat/c1/members/n1/", &node, &addr),
                    MOAT_CLUSTER_KEY_OTHER);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_b64_roundtrip), cmocka_unit_test (test_b64_binary_and_bad),
    cmocka_unit_test (test_prefix_end),    cmocka_unit_test (test_requests),
    cmocka_unit_test (test_parse_range),   cmocka_unit_test (test_parse_error),
    cmocka_unit_test (test_parse_create),  cmocka_unit_test (test_parse_watch),
    cmocka_unit_test (test_cluster_keys),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
