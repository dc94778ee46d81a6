/* SPDX-License-Identifier: Apache-2.0 */
/* store/clusterkv: a cluster's keys in a map, and the view built from
 * them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "store/clusterkv.h"

static void
set (json_t *kv, const char *key, const char *value)
{
  assert_int_equal (moat_cluster_kv_set (kv, key, value, strlen (value), false),
                    MOAT_CLUSTER_KV_SET);
}

static void
assert_json (json_t *j, const char *want)
{
  char *text = json_dumps (j, JSON_COMPACT | JSON_SORT_KEYS);

  assert_string_equal (text, want);
  free (text);
}

static void
test_kv_set (void **state)
{
  json_t *kv = json_object ();

  set (kv, "/moat/c1/nodes/n2", "{\"underlay\":\"192.0.2.12\"}");
  assert_int_equal (json_object_size (kv), 1);
  /* A claim's value is a node's name, no JSON object: not kept. */
  assert_int_equal (moat_cluster_kv_set (kv, "/moat/c1/subnets/10.90.2.0_24", "n2", 2, false),
                    MOAT_CLUSTER_KV_NOT_JSON);
  assert_int_equal (moat_cluster_kv_set (kv, "/moat/c1/nodes/n2", "[1]", 3, false),
                    MOAT_CLUSTER_KV_NOT_JSON);
  assert_int_equal (json_object_size (kv), 0);
  set (kv, "/moat/c1/nodes/n2", "{}");
  assert_int_equal (moat_cluster_kv_set (kv, "/moat/c1/nodes/n2", "", 0, true),
                    MOAT_CLUSTER_KV_REMOVED);
  assert_int_equal (json_object_size (kv), 0);
  json_decref (kv);
}

static void
test_view_build (void **state)
{
  json_t *kv = json_object ();
  json_t *view;

  set (kv, "/moat/c1/nodes/n2", "{\"underlay\":\"192.0.2.12\",\"subnet\":\"10.90.2.0/24\"}");
  set (kv, "/moat/c1/members/n2/10.90.2.5",
       "{\"name\":\"b\",\"node\":\"liar\",\"policy\":{\"labels\":{\"app\":\"web\"}}}");
  set (kv, "/moat/c1/members/n2/10.90.2.6", "{\"name\":\"c\",\"address\":\"10.90.1.6\"}");
  /* Not the view's: another cluster's, a claim, a malformed member key. */
  set (kv, "/moat/c10/nodes/n9", "{}");
  set (kv, "/moat/c1/config", "{\"supernet\":\"10.90.0.0/16\"}");
  set (kv, "/moat/c1/members/n2", "{}");
  view = moat_cluster_view_build ("c1", kv, 42, 1000);
  assert_non_null (view);
  /* The node and address come from the key, never from the value. */
  assert_json (view, "{\"cluster\":\"c1\",\"members\":["
                     "{\"address\":\"10.90.2.5\",\"name\":\"b\",\"node\":\"n2\","
                     "\"policy\":{\"labels\":{\"app\":\"web\"}}},"
                     "{\"address\":\"10.90.2.6\",\"name\":\"c\",\"node\":\"n2\"}],"
                     "\"nodes\":[{\"node\":\"n2\",\"subnet\":\"10.90.2.0/24\","
                     "\"underlay\":\"192.0.2.12\"}],\"readAt\":1000,\"revision\":42}");
  json_decref (view);
  json_object_clear (kv);
  view = moat_cluster_view_build ("c1", kv, 7, 1);
  assert_json (view, "{\"cluster\":\"c1\",\"members\":[],\"nodes\":[],\"readAt\":1,"
                     "\"revision\":7}");
  json_decref (view);
  json_decref (kv);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_kv_set),
    cmocka_unit_test (test_view_build),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
