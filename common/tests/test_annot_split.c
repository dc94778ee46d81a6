/* SPDX-License-Identifier: Apache-2.0 */
/* Lists whose items are separated by ';' (what podman 4 does not cut), and
 * lists podman 4 cut at a comma (moat_annotations_check_split). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "model/annot.h"
#include "base/cleanup.h"

static json_t *
load (const char *text)
{
  json_t *j = json_loads (text, 0, NULL);

  assert_non_null (j);
  return j;
}

static void
parse_ok (const char *text, struct moat_annotations *a)
{
  json_auto_t *j = load (text);
  moat_err_t err = { 0 };

  if (moat_annotations_parse (j, a, &err) < 0)
    fail_msg ("%s: %s", text, err.msg);
}

static void
test_semicolons_separate_items (void **state)
{
  struct moat_annotations a;

  parse_ok (
      "{\"io.moat.labels\": \"app=x;env=dev\", \"io.moat.depends\": \"app=db; app=cache,tier\","
      " \"io.moat.allow-host\": \"tcp/80;udp/53\", \"io.moat.egress\": \"10.0.0.0/8 "
      "tcp/443;192.0.2.1 any\", \"io.moat.aliases\": \"www;web\", \"io.moat.publish\": "
      "\"8080:80;8443:443\"}",
      &a);
  assert_int_equal (a.n_labels, 2);
  assert_string_equal (a.labels[1].key, "env");
  assert_string_equal (a.labels[1].value, "dev");
  assert_int_equal (a.n_depends, 3);
  assert_int_equal (a.n_allow_host, 2);
  assert_int_equal (a.n_egress, 2);
  assert_int_equal (json_array_size (a.aliases), 2);
  assert_int_equal (a.publish.n, 2);
  moat_annotations_free (&a);
}

static void
test_semicolon_empty_items_refused (void **state)
{
  const char *cases[][2] = {
    { "{\"io.moat.labels\": \"app=x;;env=dev\"}", "io.moat.labels: item 2 is empty" },
    { "{\"io.moat.labels\": \"app=x;\"}", "io.moat.labels: item 2 is empty" },
    { "{\"io.moat.publish\": \"8080:80;\"}", "io.moat.publish: empty item in \"8080:80;\"" },
    { "{\"io.moat.publish\": \"8080:80,;8443:443\"}", "io.moat.publish: empty item" },
  };

  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      json_auto_t *j = load (cases[i][0]);
      struct moat_annotations a;
      moat_err_t err = { 0 };

      assert_int_equal (moat_annotations_parse (j, &a, &err), -1);
      assert_int_equal (err.code, MOAT_E_CONFIG);
      if (strncmp (err.msg, cases[i][1], strlen (cases[i][1])) != 0)
        fail_msg ("%s: \"%s\", want \"%s\"", cases[i][0], err.msg, cases[i][1]);
    }
}

static void
assert_split (const char *text, const char *want)
{
  json_auto_t *j = load (text);
  moat_err_t err = { 0 };

  assert_int_equal (moat_annotations_check_split (j, &err), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_string_equal (err.msg, want);
}

static void
assert_not_split (const char *text)
{
  json_auto_t *j = load (text);
  moat_err_t err = { 0 };

  if (moat_annotations_check_split (j, &err) != 0)
    fail_msg ("%s: refused: %s", text, err.msg);
}

#define PODMAN                                                                                     \
  "\"io.container.manager\": \"libpod\", \"org.opencontainers.image.stopSignal\": \"15\""

/* What podman 4 makes of --annotation io.moat.labels=app=x,env=dev. */
static void
test_podman_cut_list_is_refused (void **state)
{
  assert_split ("{" PODMAN ", \"io.moat.labels\": \"app=x\", \"env\": \"dev\"}",
                "io.moat.labels: annotation \"env=dev\" looks like the rest of its list, cut at "
                "a comma by podman 4's --annotation: separate the items with ';' (--annotation "
                "'io.moat.labels=app=x;env=dev')");
  assert_split ("{" PODMAN ", \"io.moat.depends\": \"app=db\", \"app\": \"cache&tier=x\","
                " \"env!\": \"prod\"}",
                "io.moat.depends: annotations \"app=cache&tier=x\", \"env!=prod\" look like the "
                "rest of its list, cut at a comma by podman 4's --annotation: separate the items "
                "with ';' (--annotation 'io.moat.depends=app=db;app=cache&tier=x;env!=prod')");
  assert_split ("{" PODMAN ", \"io.moat.expose\": \"app=api\", \"tier\": \"\"}",
                "io.moat.expose: annotation \"tier=\" looks like the rest of its list, cut at a "
                "comma by podman 4's --annotation: separate the items with ';' (--annotation "
                "'io.moat.expose=app=api;tier=')");
}

/* Only podman's containers, only beside a list that has '=' items, only a
 * bare key with a label value. */
static void
test_other_annotations_are_left_alone (void **state)
{
  assert_not_split ("{" PODMAN ", \"io.moat.labels\": \"app=x;env=dev\"}");
  assert_not_split ("{\"io.moat.labels\": \"app=x\", \"env\": \"dev\"}");
  assert_not_split ("{\"io.container.manager\": \"cri-o\", \"io.moat.labels\": \"app=x\","
                    " \"env\": \"dev\"}");
  assert_not_split ("{" PODMAN ", \"io.moat.allow-host\": \"tcp/80\", \"env\": \"dev\"}");
  assert_not_split ("{" PODMAN ", \"io.moat.labels\": \"app=x\", \"org.example.env\": \"dev\","
                    " \"example.com/env\": \"dev\", \"note\": \"two words\", \"n\": \"a/b\"}");
  assert_not_split ("{" PODMAN "}");
  assert_not_split ("[]");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_semicolons_separate_items),
    cmocka_unit_test (test_semicolon_empty_items_refused),
    cmocka_unit_test (test_podman_cut_list_is_refused),
    cmocka_unit_test (test_other_annotations_are_left_alone),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
