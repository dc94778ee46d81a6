/* SPDX-License-Identifier: Apache-2.0 */
/* A network configuration found by name: one file's text, then the
 * directories as libcni's users search them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "model/config.h"
#include "state/netfind.h"

/* --- one file ----------------------------------------------------------- */

static int
parse (const char *text, const char *name, json_t **ret, moat_err_t *err)
{
  return moat_netfind_parse (text, strlen (text), "/d/f.conflist", name, ret, err);
}

static void
assert_refused (const char *text, const char *name, const char *needle)
{
  json_t *conf = NULL;
  moat_err_t err = { 0 };

  assert_int_equal (parse (text, name, &conf, &err), -1);
  assert_null (conf);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  if (!strstr (err.msg, needle))
    fail_msg ("error \"%s\" lacks \"%s\"", err.msg, needle);
}

static void
test_conflist_gives_its_moat_plugin_with_name_and_version (void **state)
{
  json_auto_t *conf = NULL;
  moat_err_t err = { 0 };

  assert_int_equal (
      parse ("{\"cniVersion\": \"1.0.0\", \"name\": \"net1\", \"plugins\": ["
             "{\"type\": \"tuning\"},"
             "{\"type\": \"moat\", \"name\": \"x\", \"cniVersion\": \"0.3.0\", \"bridge\": \"b0\"},"
             "{\"type\": \"moat\", \"bridge\": \"second\"}]}",
             "net1", &conf, &err),
      1);
  assert_string_equal (json_string_value (json_object_get (conf, "name")), "net1");
  assert_string_equal (json_string_value (json_object_get (conf, "cniVersion")), "1.0.0");
  assert_string_equal (json_string_value (json_object_get (conf, "bridge")), "b0");
  assert_string_equal (json_string_value (json_object_get (conf, "type")), "moat");
  assert_null (json_object_get (conf, "plugins"));
}

static void
test_other_network_is_no_match (void **state)
{
  json_t *conf = NULL;
  moat_err_t err = { 0 };

  assert_int_equal (parse ("{\"name\": \"other\", \"plugins\": 7}", "net1", &conf, &err), 0);
  assert_null (conf);
  assert_int_equal (parse ("{\"name\": \"net10\", \"type\": \"moat\"}", "net1", &conf, &err), 0);
}

static void
test_single_configuration (void **state)
{
  json_auto_t *conf = NULL;
  moat_err_t err = { 0 };

  assert_int_equal (parse ("{\"cniVersion\": \"0.4.0\", \"name\": \"net1\", \"type\": \"moat\","
                           " \"subnet\": \"10.1.0.0/24\"}",
                           "net1", &conf, &err),
                    1);
  assert_string_equal (json_string_value (json_object_get (conf, "cniVersion")), "0.4.0");
  assert_string_equal (json_string_value (json_object_get (conf, "subnet")), "10.1.0.0/24");
  assert_refused ("{\"name\": \"net1\", \"type\": \"bridge\"}", "net1",
                  "/d/f.conflist: network \"net1\" has no plugin of type \"moat\"");
}

static void
test_cni_versions_pick_the_newest_moat_speaks (void **state)
{
  json_auto_t *conf = NULL;
  moat_err_t err = { 0 };

  assert_int_equal (parse ("{\"name\": \"n\", \"cniVersions\": [\"0.4.0\", \"1.0.0\", \"9.9.9\","
                           " 3], \"plugins\": [{\"type\": \"moat\"}]}",
                           "n", &conf, &err),
                    1);
  assert_string_equal (json_string_value (json_object_get (conf, "cniVersion")), "1.0.0");
}

static void
test_malformed_files_are_named (void **state)
{
  assert_refused ("{\"name\": ", "n", "/d/f.conflist: line 1:");
  assert_refused ("[1]", "n", "/d/f.conflist: not a JSON object");
  assert_refused ("{\"type\": \"moat\"}", "n", "/d/f.conflist: name: missing or not a string");
  assert_refused ("{\"name\": \"n\", \"name\": \"n\"}", "n", "/d/f.conflist: line 1:");
  assert_refused ("{\"name\": \"n\", \"plugins\": {}}", "n",
                  "/d/f.conflist: plugins: must be an array of objects");
  assert_refused ("{\"name\": \"n\", \"plugins\": [\"moat\"]}", "n",
                  "/d/f.conflist: plugins: must be an array of objects");
  assert_refused ("{\"name\": \"n\", \"plugins\": []}", "n",
                  "network \"n\" has no plugin of type \"moat\"");
}

/* The result is what the plugin parses. */
static void
test_result_parses_as_netconf (void **state)
{
  json_auto_t *conf = NULL;
  _cleanup_free_ char *text = NULL;
  struct moat_netconf nc = { 0 };
  moat_err_t err = { 0 };

  assert_int_equal (parse ("{\"cniVersion\": \"1.1.0\", \"name\": \"net1\", \"plugins\": ["
                           "{\"type\": \"moat\", \"subnet\": \"10.1.0.0/24\"}]}",
                           "net1", &conf, &err),
                    1);
  text = json_dumps (conf, JSON_COMPACT);
  assert_non_null (text);
  assert_int_equal (moat_netconf_parse (text, MOAT_CMD_ADD, &nc, &err), 0);
  assert_string_equal (nc.name, "net1");
  moat_netconf_free (&nc);
}

/* --- the directories ------------------------------------------------------ */

static char root[] = "/tmp/moat-test-netfind.XXXXXX";

static void
put (const char *rel, const char *text)
{
  char path[512];
  FILE *f;

  snprintf (path, sizeof (path), "%s/%s", root, rel);
  f = fopen (path, "we");
  assert_non_null (f);
  assert_int_equal (fputs (text, f) >= 0, 1);
  assert_int_equal (fclose (f), 0);
}

static void
mkdir_in (const char *rel)
{
  char path[512];

  snprintf (path, sizeof (path), "%s/%s", root, rel);
  assert_int_equal (mkdir (path, 0700), 0);
}

static int
setup_dirs (void **state)
{
  if (!mkdtemp (root))
    return -1;
  mkdir_in ("a");
  mkdir_in ("b");
  /* In a: net1 twice (the lexically first wins), a directory and a file
   * of another kind that would match, another network. */
  put ("a/20-net1.conf", "{\"name\": \"net1\", \"type\": \"moat\", \"bridge\": \"second\"}");
  put ("a/10-net1.conflist", "{\"name\": \"net1\", \"cniVersion\": \"1.0.0\","
                             " \"plugins\": [{\"type\": \"moat\", \"bridge\": \"first\"}]}");
  mkdir_in ("a/05-net1.conf");
  put ("a/01-net1.txt", "{\"name\": \"net1\", \"type\": \"moat\", \"bridge\": \"txt\"}");
  put ("a/30-other.json", "{\"name\": \"other\", \"type\": \"moat\"}");
  /* In b: net2, and net1 again (a comes first). */
  put ("b/50-net2.json", "{\"name\": \"net2\", \"type\": \"moat\", \"bridge\": \"two\"}");
  put ("b/50-net1.json", "{\"name\": \"net1\", \"type\": \"moat\", \"bridge\": \"b\"}");
  return 0;
}

static int
teardown_dirs (void **state)
{
  char cmd[600];

  snprintf (cmd, sizeof (cmd), "rm -rf '%s'", root);
  return system (cmd) == 0 ? 0 : -1;
}

static void
find_bridge (const char *dirs, const char *name, const char *bridge, const char *file_end)
{
  _cleanup_free_ char *text = NULL, *file = NULL;
  json_auto_t *conf = NULL;
  moat_err_t err = { 0 };

  if (moat_netfind (name, dirs, &text, &file, &err) < 0)
    fail_msg ("%s", err.msg);
  conf = json_loads (text, 0, NULL);
  assert_non_null (conf);
  assert_string_equal (json_string_value (json_object_get (conf, "bridge")), bridge);
  assert_string_equal (json_string_value (json_object_get (conf, "name")), name);
  assert_true (strlen (file) > strlen (file_end));
  assert_string_equal (file + strlen (file) - strlen (file_end), file_end);
}

static void
test_search_order (void **state)
{
  char dirs[1200];

  snprintf (dirs, sizeof (dirs), "%s/none:%s/a::%s/b", root, root, root);
  find_bridge (dirs, "net1", "first", "/a/10-net1.conflist");
  find_bridge (dirs, "net2", "two", "/b/50-net2.json");
  snprintf (dirs, sizeof (dirs), "%s/b:%s/a", root, root);
  find_bridge (dirs, "net1", "b", "/b/50-net1.json");
}

static void
test_not_found_names_the_dirs (void **state)
{
  _cleanup_free_ char *text = NULL, *file = NULL;
  char dirs[1200], want[1400];
  moat_err_t err = { 0 };

  snprintf (dirs, sizeof (dirs), "%s/a:%s/b", root, root);
  assert_int_equal (moat_netfind ("net3", dirs, &text, &file, &err), -1);
  assert_null (text);
  assert_null (file);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  snprintf (want, sizeof (want),
            "network \"net3\" not found in %s (files *.conflist, *.conf, *.json)", dirs);
  assert_string_equal (err.msg, want);
}

static void
test_malformed_file_on_the_way_is_named (void **state)
{
  _cleanup_free_ char *text = NULL, *file = NULL;
  char dirs[600];
  moat_err_t err = { 0 };

  mkdir_in ("c");
  put ("c/00-broken.conflist", "{\"name\": ");
  put ("c/10-net1.conflist", "{\"name\": \"net1\", \"plugins\": [{\"type\": \"moat\"}]}");
  snprintf (dirs, sizeof (dirs), "%s/c", root);
  assert_int_equal (moat_netfind ("net1", dirs, &text, &file, &err), -1);
  assert_non_null (strstr (err.msg, "/c/00-broken.conflist: line 1:"));
}

static void
test_network_dirs_from_the_environment (void **state)
{
  unsetenv ("MOAT_NETWORK_DIRS");
  assert_string_equal (moat_network_dirs (), "/etc/moat/networks:/etc/cni/net.d");
  setenv ("MOAT_NETWORK_DIRS", "", 1);
  assert_string_equal (moat_network_dirs (), MOAT_NETWORK_DIRS_DEFAULT);
  setenv ("MOAT_NETWORK_DIRS", "/x:/y", 1);
  assert_string_equal (moat_network_dirs (), "/x:/y");
  unsetenv ("MOAT_NETWORK_DIRS");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_conflist_gives_its_moat_plugin_with_name_and_version),
    cmocka_unit_test (test_other_network_is_no_match),
    cmocka_unit_test (test_single_configuration),
    cmocka_unit_test (test_cni_versions_pick_the_newest_moat_speaks),
    cmocka_unit_test (test_malformed_files_are_named),
    cmocka_unit_test (test_result_parses_as_netconf),
    cmocka_unit_test (test_search_order),
    cmocka_unit_test (test_not_found_names_the_dirs),
    cmocka_unit_test (test_malformed_file_on_the_way_is_named),
    cmocka_unit_test (test_network_dirs_from_the_environment),
  };
  return cmocka_run_group_tests (tests, setup_dirs, teardown_dirs);
}
