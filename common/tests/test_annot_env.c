/* SPDX-License-Identifier: Apache-2.0 */
/* The MOAT_* environment fallback for the io.moat.* annotations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "model/annot.h"
#include "model/ceiling.h"
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

/* ---- errors name the variables (moat_error_env_names) ---- */

/* The error of parsing `annotations` merged with `env`, renamed. */
static void
assert_parse_error (const char *annotations, const char *env, const char *want)
{
  json_auto_t *a = annotations ? json_loads (annotations, 0, NULL) : NULL;
  json_auto_t *e = json_loads (env, 0, NULL);
  json_auto_t *m = merged (annotations, env);
  struct moat_annotations parsed;
  moat_err_t err = { 0 };

  assert_int_equal (moat_annotations_parse (m, &parsed, &err), -1);
  assert_int_equal (moat_error_env_names (&err, a, e, false), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_string_equal (err.msg, want);
}

/* `msg` as an error, renamed. */
static void
assert_renamed (const char *annotations, const char *env, bool hints, const char *msg,
                const char *want)
{
  json_auto_t *a = annotations ? json_loads (annotations, 0, NULL) : NULL;
  json_auto_t *e = json_loads (env, 0, NULL);
  moat_err_t err = { 0 };

  moat_error (&err, MOAT_E_CONFIG, 0, "%s", msg);
  assert_int_equal (moat_error_env_names (&err, a, e, hints), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_string_equal (err.msg, want);
}

static void
test_grammar_errors_name_the_variable (void **state)
{
  assert_parse_error (NULL, "[\"MOAT_NETWORK=n\", \"MOAT_ALLOW_HOST=tcp/99999\"]",
                      "MOAT_ALLOW_HOST: port 99999 out of range (1-65535)");
  assert_parse_error (NULL, "[\"MOAT_LABELS=app=a,=x\"]", "MOAT_LABELS: \"=x\": key \"\": empty");
  assert_parse_error (NULL, "[\"MOAT_INTERNET=maybe\"]",
                      "MOAT_INTERNET: \"maybe\": want true or false");
  assert_parse_error (
      NULL, "[\"MOAT_EGRESS=10.0.0.1/8 any\"]",
      "MOAT_EGRESS: \"10.0.0.1/8 any\": host bits set in 10.0.0.1/8 (the network is "
      "10.0.0.0/8)");
}

/* A key the container has as an annotation is what it set: named as such. */
static void
test_an_annotation_keeps_its_key (void **state)
{
  assert_parse_error ("{\"io.moat.allow-host\": \"tcp/99999\"}",
                      "[\"MOAT_ALLOW_HOST=tcp/80\", \"MOAT_LABELS=app=a\"]",
                      "io.moat.allow-host: port 99999 out of range (1-65535)");
  assert_renamed ("{\"io.moat.network\": \"n\"}", "[\"MOAT_PUBLISH=80:80\"]", true,
                  "io.moat.publish: is for hook-driven attach (io.moat.network)",
                  "MOAT_PUBLISH: is for hook-driven attach (io.moat.network)");
}

static void
test_ceiling_errors_name_the_variable (void **state)
{
  json_auto_t *allow = json_loads ("{\"env\": true}", 0, NULL);
  json_auto_t *e = json_loads ("[\"MOAT_NETWORK=n\", \"MOAT_INTERNET=true\"]", 0, NULL);
  json_auto_t *m = merged (NULL, "[\"MOAT_NETWORK=n\", \"MOAT_INTERNET=true\"]");
  _cleanup_ (moat_ceiling_free) struct moat_ceiling c = { 0 };
  _cleanup_ (moat_annotations_free) struct moat_annotations a = { 0 };
  moat_err_t err = { 0 };

  assert_int_equal (moat_ceiling_parse (allow, &c, &err), 0);
  assert_int_equal (moat_annotations_parse (m, &a, &err), 0);
  assert_int_equal (moat_ceiling_check (&c, "n", false, &a, "", &err), -1);
  moat_error_env_names (&err, NULL, e, false);
  assert_string_equal (err.msg, "MOAT_INTERNET: true is not allowed on network \"n\" (its "
                                "configuration has no \"allow\": {\"internet\": true})");
}

/* Later errors (a profile, the hook's checks) are renamed alike. */
static void
test_policy_errors_name_the_variable (void **state)
{
  assert_renamed (NULL, "[\"MOAT_POLICY=Nope\"]", false,
                  "network \"n\": io.moat.policy: no profile \"Nope\" in /etc/p.json",
                  "network \"n\": MOAT_POLICY: no profile \"Nope\" in /etc/p.json");
  assert_renamed (NULL, "[\"MOAT_PROXY=10.0.0.1:3128\"]", false,
                  "io.moat.proxy: 10.0.0.1 is on the container's own network \"n\"",
                  "MOAT_PROXY: 10.0.0.1 is on the container's own network \"n\"");
}

/* With hints, a key the user set nowhere is asked for as its variable. */
static void
test_hints_name_the_variable (void **state)
{
  const char *msg = "io.moat.publish: container \"c\" was attached by its runtime; "
                    "io.moat.publish is for hook-driven attach (io.moat.network)";

  assert_renamed (NULL, "[\"MOAT_PUBLISH=80:80\"]", true, msg,
                  "MOAT_PUBLISH: container \"c\" was attached by its runtime; "
                  "MOAT_PUBLISH is for hook-driven attach (MOAT_NETWORK)");
  /* Without hints, only what came from the environment. */
  assert_renamed (NULL, "[\"MOAT_PUBLISH=80:80\"]", false, msg,
                  "MOAT_PUBLISH: container \"c\" was attached by its runtime; "
                  "MOAT_PUBLISH is for hook-driven attach (io.moat.network)");
}

/* Quoted items are the user's text; keys are whole words; without MOAT_*
 * variables nothing changes. */
static void
test_quoted_items_and_other_words_stay (void **state)
{
  assert_parse_error (NULL, "[\"MOAT_LABELS=io.moat.name=a b\"]",
                      "MOAT_LABELS: \"io.moat.name=a b\": value \"a b\": character ' ' not "
                      "allowed (want A-Z a-z 0-9 . _ -)");
  assert_renamed (NULL, "[\"MOAT_NAME=x\", \"MOAT_NETWORK=n\"]", false,
                  "io.moat.names: io.moat.networks io.moat.name. io.moat.name",
                  "io.moat.names: io.moat.networks MOAT_NAME. MOAT_NAME");
  assert_renamed (NULL, "[\"PATH=/bin\", \"MOAT_RUN_DIR=/x\"]", true,
                  "io.moat.labels: name one with io.moat.network",
                  "io.moat.labels: name one with io.moat.network");
  assert_renamed (NULL, "null", true, "io.moat.labels: x", "io.moat.labels: x");
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
    cmocka_unit_test (test_grammar_errors_name_the_variable),
    cmocka_unit_test (test_an_annotation_keeps_its_key),
    cmocka_unit_test (test_ceiling_errors_name_the_variable),
    cmocka_unit_test (test_policy_errors_name_the_variable),
    cmocka_unit_test (test_hints_name_the_variable),
    cmocka_unit_test (test_quoted_items_and_other_words_stay),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
