/* SPDX-License-Identifier: Apache-2.0 */
/* The MOAT_* environment fallback for the io.moat.* annotations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "model/annot.h"
#include "base/cleanup.h"

static json_t *
merged (const char *annotations, const char *env)
{
  json_auto_t *a = annotations ? json_loads (annotations, JSON_DECODE_ANY, NULL) : NULL;
  json_auto_t *e = env ? json_loads (env, 0, NULL) : NULL;
  json_t *ret = NULL;
  moat_err_t err = { 0 };

  assert_true (!annotations || a);
  assert_true (!env || e);
  if (moat_annotations_with_env (a, e, &ret, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_true (json_is_object (ret));
  return ret;
}

static void
assert_json (json_t *got, const char *want_text)
{
  json_auto_t *want = json_loads (want_text, 0, NULL);
  _cleanup_free_ char *text = json_dumps (got, JSON_COMPACT | JSON_SORT_KEYS);

  assert_non_null (want);
  if (!json_equal (got, want))
    fail_msg ("got %s, want %s", text, want_text);
}

static void
test_every_key_has_its_variable (void **state)
{
  json_auto_t *m = merged (
      NULL, "[\"MOAT_NETWORK=net1\", \"MOAT_LABELS=app=web\", \"MOAT_DEPENDS=app=db\","
            " \"MOAT_EXPOSE=app=x\", \"MOAT_ALLOW_HOST=tcp/80\", \"MOAT_EGRESS=10.0.0.0/8 any\","
            " \"MOAT_INGRESS=10.1.0.0/16 icmp\", \"MOAT_INTERNET=true\","
            " \"MOAT_PROXY=10.0.0.1:3128\", \"MOAT_POLICY=Web\"]");
  struct moat_annotations a;
  moat_err_t err = { 0 };

  assert_json (m, "{\"io.moat.network\": \"net1\", \"io.moat.labels\": \"app=web\","
                  " \"io.moat.depends\": \"app=db\", \"io.moat.expose\": \"app=x\","
                  " \"io.moat.allow-host\": \"tcp/80\", \"io.moat.egress\": \"10.0.0.0/8 any\","
                  " \"io.moat.ingress\": \"10.1.0.0/16 icmp\", \"io.moat.internet\": \"true\","
                  " \"io.moat.proxy\": \"10.0.0.1:3128\", \"io.moat.policy\": \"Web\"}");
  assert_int_equal (moat_annotations_parse (m, &a, &err), 0);
  assert_string_equal (a.network, "net1");
  assert_true (a.have_internet && a.internet);
  moat_annotations_free (&a);
}

static void
test_an_annotation_wins (void **state)
{
  json_auto_t *m = merged ("{\"io.moat.labels\": \"app=db\", \"org.example\": \"x\"}",
                           "[\"MOAT_LABELS=app=web\", \"MOAT_NETWORK=n\", \"PATH=/bin\"]");

  assert_json (m, "{\"io.moat.labels\": \"app=db\", \"org.example\": \"x\","
                  " \"io.moat.network\": \"n\"}");
}

static void
test_other_variables_are_not_keys (void **state)
{
  json_auto_t *m = merged (
      NULL, "[\"MOAT_NETWORK_DIRS=/x\", \"MOAT_RUN_DIR=/run\", \"MOAT_labels=a=b\","
            " \"MOAT_ALLOW-HOST=tcp/1\", \"MOAT_=x\", \"MOAT_NETWORK\", \"moat_network=n\","
            " \"XMOAT_NETWORK=n\", 7, null, {\"MOAT_NETWORK\": \"n\"}, \"MOAT_NETWORKS=n\"]");

  assert_json (m, "{}");
}

static void
test_first_wins_and_empty_is_unset (void **state)
{
  json_auto_t *m = merged (NULL, "[\"MOAT_LABELS=\", \"MOAT_NETWORK=a\", \"MOAT_NETWORK=b\","
                                 " \"MOAT_LABELS=app=x\", \"MOAT_POLICY=p=q\"]");

  /* An empty value is no value: the later one counts. The value is kept
   * whole, '=' and all: the parser judges it. */
  assert_json (m, "{\"io.moat.network\": \"a\", \"io.moat.labels\": \"app=x\","
                  " \"io.moat.policy\": \"p=q\"}");
}

static void
test_nothing_gives_an_empty_object (void **state)
{
  json_auto_t *m1 = merged (NULL, NULL);
  json_auto_t *m2 = merged ("null", "{\"not\": \"an array\"}");
  json_auto_t *m3 = merged ("{\"a\": \"b\"}", "[]");

  assert_json (m1, "{}");
  assert_json (m2, "{}");
  assert_json (m3, "{\"a\": \"b\"}");
}

static void
test_annotations_not_an_object (void **state)
{
  json_auto_t *a = json_array ();
  json_t *ret = (json_t *)1;
  moat_err_t err = { 0 };

  assert_int_equal (moat_annotations_with_env (a, NULL, &ret, &err), -1);
  assert_null (ret);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_string_equal (err.msg, "annotations: must be an object of strings");
}

/* The input is not changed. */
static void
test_input_untouched (void **state)
{
  json_auto_t *a = json_loads ("{\"io.moat.labels\": \"a=b\"}", 0, NULL);
  json_auto_t *e = json_loads ("[\"MOAT_POLICY=p\"]", 0, NULL);
  json_auto_t *ret = NULL;
  moat_err_t err = { 0 };

  assert_int_equal (moat_annotations_with_env (a, e, &ret, &err), 0);
  assert_int_equal (json_object_size (a), 1);
  assert_int_equal (json_object_size (ret), 2);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_every_key_has_its_variable),
    cmocka_unit_test (test_an_annotation_wins),
    cmocka_unit_test (test_other_variables_are_not_keys),
    cmocka_unit_test (test_first_wins_and_empty_is_unset),
    cmocka_unit_test (test_nothing_gives_an_empty_object),
    cmocka_unit_test (test_annotations_not_an_object),
    cmocka_unit_test (test_input_untouched),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
