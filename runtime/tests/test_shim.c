/* SPDX-License-Identifier: Apache-2.0 */
/* moat-runtime: its command line and the config.json edit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "../shim.h"

#define HOOK "/usr/libexec/moat/moat-hook"

/* ------------------------------------------------------------ helpers */

static int
parse (struct moat_shim_args *a, moat_err_t *err, char *const *envp, ...)
{
  static char *argv[64];
  va_list ap;
  int argc = 0;

  argv[argc++] = "moat-runtime";
  va_start (ap, envp);
  for (char *s; (s = va_arg (ap, char *));)
    argv[argc++] = s;
  va_end (ap);
  argv[argc] = NULL;
  return moat_shim_args_parse (argc, argv, envp, a, err);
}

#define PARSE(a, err, ...) parse (a, err, NULL, __VA_ARGS__, (char *)NULL)

static char *
env_dump (const struct moat_shim_args *a)
{
  return json_dumps (a->hook.env, JSON_COMPACT);
}

static json_t *
load (const char *text)
{
  json_error_t jerr;
  json_t *j = json_loads (text, 0, &jerr);

  if (!j)
    fail_msg ("bad test JSON: %s: %s", text, jerr.text);
  return j;
}

static struct moat_shim_hook
test_hook (void)
{
  struct moat_shim_hook h = { .path = HOOK, .env = json_pack ("[s]", "MOAT_RUN_DIR=/run/t") };

  return h;
}

/* ------------------------------------------------------------ argv */

static void
test_args_containerd_create (void **state)
{
  struct moat_shim_args a;
  moat_err_t err = { 0 };

  assert_int_equal (PARSE (&a, &err, "--moat-hook", "/opt/hook", "--moat-runtime=/usr/sbin/runc",
                           "--root", "/run/docker/runtime-runc/moby", "--log", "/b/log.json",
                           "--log-format", "json", "--systemd-cgroup", "create", "--bundle", "/b",
                           "--pid-file", "/b/init.pid", "--console-socket", "/tmp/s", "c0ffee"),
                    0);
  assert_string_equal (a.hook.path, "/opt/hook");
  assert_string_equal (a.runtime, "/usr/sbin/runc");
  assert_int_equal (a.runtime_argc, 15);
  assert_string_equal (a.runtime_argv[0], "--root");
  assert_string_equal (a.runtime_argv[14], "c0ffee");
  assert_string_equal (a.command, "create");
  assert_string_equal (a.bundle, "/b");
  assert_false (a.help || a.version);
  moat_shim_args_free (&a);
}

/* A file at path (directories made), mode mode. */
static void
touch_file (const char *path, mode_t mode)
{
  char dir[256];
  int fd;

  snprintf (dir, sizeof (dir), "%s", path);
  for (char *p = strchr (dir + 1, '/'); p; p = strchr (p + 1, '/'))
    {
      *p = '\0';
      mkdir (dir, 0755);
      *p = '/';
    }
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  assert_true (fd >= 0);
  assert_int_equal (fchmod (fd, mode), 0);
  close (fd);
}

static void
assert_default_hook (const char *exe, const char *want)
{
  moat_err_t err = { 0 };
  _cleanup_free_ char *hook = NULL;

  assert_int_equal (moat_hook_installed_with (exe, &hook, &err), 0);
  assert_string_equal (hook, want);
}

/* The moat-hook installed with moat-runtime (PREFIX/bin and
 * PREFIX/libexec/moat), else the build's default. */
static void
test_default_hook (void **state)
{
  char dir[] = "/tmp/moat-test-shim-XXXXXX", exe[128], hook[128], link[128];

  assert_non_null (mkdtemp (dir));
  snprintf (exe, sizeof (exe), "%s/opt/bin/moat-runtime", dir);
  snprintf (hook, sizeof (hook), "%s/opt/libexec/moat/moat-hook", dir);
  snprintf (link, sizeof (link), "%s/usr/bin/moat-runtime", dir);
  touch_file (exe, 0755);
  /* No hook next to it, or not the executable file it must be. */
  assert_default_hook (exe, MOAT_HOOK_PATH);
  assert_default_hook ("/nonexistent/bin/moat-runtime", MOAT_HOOK_PATH);
  assert_default_hook ("/", MOAT_HOOK_PATH);
  touch_file (hook, 0644);
  assert_default_hook (exe, MOAT_HOOK_PATH);
  assert_int_equal (unlink (hook), 0);
  assert_int_equal (mkdir (hook, 0755), 0);
  assert_default_hook (exe, MOAT_HOOK_PATH);
  assert_int_equal (rmdir (hook), 0);
  /* Installed with it; through a symlink, the target's. */
  touch_file (hook, 0755);
  assert_default_hook (exe, hook);
  touch_file (link, 0755);
  assert_int_equal (unlink (link), 0);
  assert_int_equal (symlink (exe, link), 0);
  assert_default_hook (link, hook);

  static const char *const dirs[]
      = { "usr/bin", "usr", "opt/libexec/moat", "opt/libexec", "opt/bin", "opt", "" };
  unlink (link);
  unlink (hook);
  unlink (exe);
  for (size_t i = 0; i < ARRAY_SIZE (dirs); i++)
    {
      char d[160];

      snprintf (d, sizeof (d), "%s/%s", dir, dirs[i]);
      assert_int_equal (rmdir (d), 0);
    }
}

static void
test_args_defaults (void **state)
{
  struct moat_shim_args a;
  moat_err_t err = { 0 };

  assert_int_equal (PARSE (&a, &err, "state", "c1"), 0);
  assert_string_equal (a.hook.path, MOAT_HOOK_PATH);
  assert_string_equal (a.runtime, "runc");
  assert_string_equal (a.command, "state");
  assert_null (a.bundle);
  assert_int_equal (a.runtime_argc, 2);
  moat_shim_args_free (&a);

  /* No command at all, or only options. */
  assert_int_equal (PARSE (&a, &err, "--moat-env", "A=b"), 0);
  assert_null (a.command);
  assert_int_equal (a.runtime_argc, 0);
  moat_shim_args_free (&a);
  assert_int_equal (parse (&a, &err, NULL, (char *)NULL), 0);
  assert_null (a.command);
  moat_shim_args_free (&a);
}

static void
test_args_bundle_forms (void **state)
{
  struct moat_shim_args a;
  moat_err_t err = { 0 };

  /* runc reorders flags before the id, so --bundle may follow it. */
  assert_int_equal (PARSE (&a, &err, "run", "-d", "c1", "-b", "/x"), 0);
  assert_string_equal (a.command, "run");
  assert_string_equal (a.bundle, "/x");
  moat_shim_args_free (&a);
  assert_int_equal (PARSE (&a, &err, "create", "-bundle=/y", "c1"), 0);
  assert_string_equal (a.bundle, "/y");
  moat_shim_args_free (&a);
  assert_int_equal (PARSE (&a, &err, "create", "--b=/z", "--bundle", "/last", "c1"), 0);
  assert_string_equal (a.bundle, "/last");
  moat_shim_args_free (&a);
  /* A value is never an option: --pid-file's "--bundle" is a file name. */
  assert_int_equal (PARSE (&a, &err, "create", "--pid-file", "--bundle", "c1"), 0);
  assert_null (a.bundle);
  moat_shim_args_free (&a);
  /* "--" ends the flags. */
  assert_int_equal (PARSE (&a, &err, "create", "--", "--bundle", "/no"), 0);
  assert_null (a.bundle);
  moat_shim_args_free (&a);
  /* Global options with values, "=" forms and single dashes. */
  assert_int_equal (
      PARSE (&a, &err, "-root", "create", "--log=/l", "--debug", "run", "--bundle", "/b", "c"), 0);
  assert_string_equal (a.command, "run");
  assert_string_equal (a.bundle, "/b");
  moat_shim_args_free (&a);
  /* Only create and run look for a bundle. */
  assert_int_equal (PARSE (&a, &err, "exec", "--bundle", "/b", "c"), 0);
  assert_string_equal (a.command, "exec");
  assert_null (a.bundle);
  moat_shim_args_free (&a);
}

static void
test_args_errors (void **state)
{
  struct moat_shim_args a;
  moat_err_t err = { 0 };

  assert_int_equal (PARSE (&a, &err, "create", "c1", "--bundle"), -1);
  assert_string_equal (err.msg, "create: --bundle: missing value");
  assert_int_equal (PARSE (&a, &err, "--moat-hook"), -1);
  assert_string_equal (err.msg, "--moat-hook: missing value");
  assert_int_equal (PARSE (&a, &err, "--moat-hook", "moat-hook", "create"), -1);
  assert_string_equal (err.msg, "--moat-hook \"moat-hook\": must be an absolute path");
  assert_int_equal (PARSE (&a, &err, "--moat-runtime=", "create"), -1);
  assert_string_equal (err.msg, "--moat-runtime: empty value");
  assert_int_equal (PARSE (&a, &err, "--moat-hooks", "/x", "create"), -1);
  assert_string_equal (err.msg, "--moat-hooks: unknown option (moat-runtime --help)");
  assert_int_equal (PARSE (&a, &err, "--moat-env", "NOEQUALS"), -1);
  assert_string_equal (err.msg, "--moat-env: \"NOEQUALS\": want NAME=VALUE");
  assert_int_equal (PARSE (&a, &err, "--moat-env", "=v"), -1);
  assert_int_equal (err.code, MOAT_E_ENV);
}

static void
test_args_help_version (void **state)
{
  struct moat_shim_args a;
  moat_err_t err = { 0 };

  assert_int_equal (PARSE (&a, &err, "--help"), 0);
  assert_true (a.help);
  moat_shim_args_free (&a);
  assert_int_equal (PARSE (&a, &err, "--moat-hook", "/h", "-v"), 0);
  assert_true (a.version);
  moat_shim_args_free (&a);
  /* Not on its own: runc's business. */
  assert_int_equal (PARSE (&a, &err, "--root", "/r", "--version"), 0);
  assert_false (a.version);
  moat_shim_args_free (&a);
  assert_int_equal (PARSE (&a, &err, "kill", "--help"), 0);
  assert_false (a.help);
  moat_shim_args_free (&a);
}

static void
test_args_hook_env (void **state)
{
  char *const envp[] = { "HOME=/root",       "MOAT_RUN_DIR=/run/fromenv",  "CNI_PATH=/opt/cni/bin",
                         "MOAT_RUN_DIRX=no", "MOAT_NETWORK=not-forwarded", NULL };
  struct moat_shim_args a;
  moat_err_t err = { 0 };
  char *s;

  assert_int_equal (parse (&a, &err, envp, "--moat-env", "MOAT_NETWORK_DIRS=/n",
                           "--moat-env=MOAT_RUN_DIR=/run/given", "--moat-env", "PATH=/bin",
                           "create", (char *)NULL),
                    0);
  s = env_dump (&a);
  assert_string_equal (s, "[\"PATH=/bin\",\"MOAT_RUN_DIR=/run/given\",\"CNI_PATH=/opt/cni/bin\","
                          "\"MOAT_NETWORK_DIRS=/n\"]");
  free (s);
  moat_shim_args_free (&a);

  assert_int_equal (parse (&a, &err, NULL, (char *)NULL), 0);
  s = env_dump (&a);
  assert_string_equal (s, "[\"" MOAT_SHIM_DEFAULT_PATH "\"]");
  free (s);
  moat_shim_args_free (&a);
}

static void
test_find_log (void **state)
{
  char *argv1[]
      = { "moat-runtime", "--moat-env",        "A=B",    "--moat-hook=/h", "--root", "/r", "--log",
          "/l.json",      "--log-format=json", "create", "--log",          "/no",    NULL };
  char *argv2[] = { "moat-runtime", "--moat-bogus", "x", "-log=/t.log", "delete", NULL };
  char *argv3[] = { "moat-runtime", "create", "--log", "/no", NULL };
  const char *path;
  bool json;

  moat_shim_find_log (12, argv1, &path, &json);
  assert_string_equal (path, "/l.json");
  assert_true (json);
  moat_shim_find_log (5, argv2, &path, &json);
  assert_string_equal (path, "/t.log");
  assert_false (json);
  moat_shim_find_log (4, argv3, &path, &json);
  assert_null (path);
}

/* ------------------------------------------------------------ config */

static void
assert_wants (const char *text, bool expected)
{
  json_auto_t *config = load (text);
  moat_err_t err = { 0 };
  bool wants = !expected;

  if (moat_shim_config_wants_moat (config, &wants, &err) < 0)
    fail_msg ("%s: %s", text, err.msg);
  if (wants != expected)
    fail_msg ("%s: expected wants=%d", text, expected);
}

static void
assert_config_refused (const char *text, const char *msg)
{
  json_auto_t *config = load (text);
  json_auto_t *copy = json_deep_copy (config);
  struct moat_shim_hook h = test_hook ();
  moat_err_t err = { 0 };
  bool wants, changed;

  if (moat_shim_config_wants_moat (config, &wants, &err) == 0)
    assert_int_equal (moat_shim_config_add_hooks (config, &h, &changed, &err), -1);
  assert_string_equal (err.msg, msg);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_true (json_equal (config, copy));
  json_decref (h.env);
}

static void
test_wants_moat (void **state)
{
  assert_wants ("{}", false);
  assert_wants ("{\"process\": {\"env\": [\"PATH=/bin\", \"MOAT\", \"XMOAT_A=1\"]}}", false);
  assert_wants ("{\"annotations\": {\"io.moatx\": \"1\", \"org.io.moat.labels\": \"a=b\"}}", false);
  assert_wants ("{\"process\": {\"env\": [\"PATH=/bin\", \"MOAT_NETWORK=net\"]}}", true);
  assert_wants ("{\"process\": {\"env\": [\"MOAT_LABELS=\"]}}", true);
  assert_wants ("{\"annotations\": {\"io.moat.network\": \"net\"}}", true);
  assert_wants ("{\"annotations\": {\"IO.Moat.Labels\": \"a=b\"}}", true);
  assert_wants ("{\"annotations\": null, \"process\": {\"env\": null}}", false);
  assert_wants ("{\"process\": null}", false);
}

static void
test_config_refused (void **state)
{
  assert_config_refused ("[]", "must be a JSON object");
  assert_config_refused ("{\"annotations\": []}", "annotations: must be an object");
  assert_config_refused ("{\"process\": \"x\"}", "process: must be an object");
  assert_config_refused ("{\"process\": {\"env\": {}}}", "process.env: must be an array");
  assert_config_refused ("{\"process\": {\"env\": [\"MOAT_A=1\", 7]}}",
                         "process.env[1]: must be a string");
  assert_config_refused ("{\"annotations\": {\"io.moat.labels\": \"a=b\"}, \"hooks\": []}",
                         "hooks: must be an object");
  assert_config_refused ("{\"annotations\": {\"io.moat.labels\": \"a=b\"},"
                         " \"hooks\": {\"prestart\": [], \"poststop\": {}}}",
                         "hooks.poststop: must be an array");
  assert_config_refused ("{\"annotations\": {\"io.moat.labels\": \"a=b\"},"
                         " \"hooks\": {\"prestart\": 1}}",
                         "hooks.prestart: must be an array");
}

static void
test_add_hooks (void **state)
{
  json_auto_t *config = load ("{\"ociVersion\": \"1.0.2\", \"hooks\": {\"prestart\": [{\"path\":"
                              " \"/proc/1/exe\", \"args\": [\"libnetwork-setkey\"]}]}}");
  struct moat_shim_hook h = test_hook ();
  moat_err_t err = { 0 };
  bool changed = false;
  char *s;

  assert_int_equal (moat_shim_config_add_hooks (config, &h, &changed, &err), 0);
  assert_true (changed);
  s = json_dumps (config, JSON_COMPACT);
  assert_string_equal (s, "{\"ociVersion\":\"1.0.2\",\"hooks\":{\"prestart\":["
                          "{\"path\":\"/proc/1/exe\",\"args\":[\"libnetwork-setkey\"]},"
                          "{\"path\":\"" HOOK "\",\"args\":[\"moat-hook\",\"prestart\"],"
                          "\"env\":[\"MOAT_RUN_DIR=/run/t\"]}],"
                          "\"poststop\":[{\"path\":\"" HOOK "\",\"args\":[\"moat-hook\","
                          "\"poststop\"],\"env\":[\"MOAT_RUN_DIR=/run/t\"]}]}}");
  free (s);
  /* Again: nothing added. */
  assert_int_equal (moat_shim_config_add_hooks (config, &h, &changed, &err), 0);
  assert_false (changed);
  assert_int_equal (
      json_array_size (json_object_get (json_object_get (config, "hooks"), "prestart")), 2);
  json_decref (h.env);
}

static void
test_add_hooks_one_stage_present (void **state)
{
  json_auto_t *config = load ("{\"hooks\": {\"poststop\": [{\"path\": \"" HOOK
                              "\", \"args\": [\"x\"]}], \"prestart\": null}}");
  struct moat_shim_hook h = test_hook ();
  moat_err_t err = { 0 };
  bool changed = false;
  json_t *hooks;

  assert_int_equal (moat_shim_config_add_hooks (config, &h, &changed, &err), 0);
  assert_true (changed);
  hooks = json_object_get (config, "hooks");
  assert_int_equal (json_array_size (json_object_get (hooks, "prestart")), 1);
  assert_int_equal (json_array_size (json_object_get (hooks, "poststop")), 1);
  /* The hook that was there is left as it was. */
  assert_string_equal (
      json_string_value (json_array_get (
          json_object_get (json_array_get (json_object_get (hooks, "poststop"), 0), "args"), 0)),
      "x");
  json_decref (h.env);
}

static void
test_edit_text (void **state)
{
  const char *text = "{\"ociVersion\":\"1.0.2\",\"process\":{\"env\":[\"MOAT_NETWORK=n\"],"
                     "\"user\":{\"uid\":4294967295}},\"z\":1.5,\"a\":[true,null,\"\\u00e9/\"]}";
  struct moat_shim_hook h = test_hook ();
  moat_err_t err = { 0 };
  char *out = NULL, *again = (char *)1;
  json_auto_t *before = load (text);
  json_auto_t *after = NULL;

  assert_int_equal (moat_shim_edit_text (text, strlen (text), "c.json", &h, &out, &err), 0);
  assert_non_null (out);
  /* Everything else kept, in its order. */
  assert_non_null (strstr (out,
                           "{\"ociVersion\":\"1.0.2\",\"process\":{\"env\":[\"MOAT_NETWORK=n\"],"
                           "\"user\":{\"uid\":4294967295}},\"z\":1.5,\"a\":[true,null,"
                           "\"\xc3\xa9/\"],\"hooks\":{"));
  after = load (out);
  json_object_del (after, "hooks");
  assert_true (json_equal (before, after));
  /* Idempotent: the output needs no change. */
  assert_int_equal (moat_shim_edit_text (out, strlen (out), "c.json", &h, &again, &err), 0);
  assert_null (again);
  free (out);

  /* A container that does not ask: no change. */
  out = (char *)1;
  assert_int_equal (moat_shim_edit_text ("{\"process\":{}}", 14, "c.json", &h, &out, &err), 0);
  assert_null (out);
  json_decref (h.env);
}

static void
test_edit_text_errors (void **state)
{
  struct moat_shim_hook h = test_hook ();
  moat_err_t err = { 0 };
  char *out = NULL;

  assert_int_equal (moat_shim_edit_text ("{\n\"a\": }", 9, "/b/config.json", &h, &out, &err), -1);
  assert_int_equal (err.code, MOAT_E_DECODE);
  assert_true (strncmp (err.msg, "/b/config.json: line 2: ", 24) == 0);
  assert_int_equal (
      moat_shim_edit_text ("{\"process\": {\"env\": [1]}}", 25, "/b/config.json", &h, &out, &err),
      -1);
  assert_string_equal (err.msg, "/b/config.json: process.env[0]: must be a string");
  {
    const char *big = "{\"process\": {\"env\": [\"MOAT_A=1\", 1e400]}}";

    assert_int_equal (moat_shim_edit_text (big, strlen (big), "/b/config.json", &h, &out, &err),
                      -1);
  }
  assert_string_equal (err.msg, "/b/config.json: process.env[1]: must be a string");
  assert_int_equal (moat_shim_edit_text ("", 0, "/b/config.json", &h, &out, &err), -1);
  assert_int_equal (err.code, MOAT_E_DECODE);
  json_decref (h.env);
}

/* docker writes 18446744073709551615 for `--ulimit core=-1`: beyond
 * jansson's json_int_t. A container that does not ask for moat is read
 * without error and left as it is; one that asks gets every number back as
 * it was written: the output is the input, byte for byte, up to the hooks
 * appended. */
static void
test_edit_text_numbers_kept (void **state)
{
  const char *rest
      = "{\"ociVersion\":\"1.0.2\",\"process\":{\"rlimits\":[{\"type\":\"RLIMIT_CORE\","
        "\"hard\":18446744073709551615,\"soft\":18446744073709551615}],\"env\":[%s]},"
        "\"x\":[9223372036854775807,9223372036854775808,-9223372036854775808,"
        "-9223372036854775809,-0,0,1.25e10,1E400,-0.0,123456789012345678901234567890],"
        "\"s\":\"\\\\u00000 18446744073709551615\"}";
  struct moat_shim_hook h = test_hook ();
  moat_err_t err = { 0 };
  char text[1024], *out = (char *)1, *again = (char *)1;

  snprintf (text, sizeof (text), rest, "\"PATH=/bin\"");
  assert_int_equal (moat_shim_edit_text (text, strlen (text), "c.json", &h, &out, &err), 0);
  assert_null (out);

  snprintf (text, sizeof (text), rest, "\"PATH=/bin\",\"MOAT_NETWORK=n\"");
  assert_int_equal (moat_shim_edit_text (text, strlen (text), "c.json", &h, &out, &err), 0);
  assert_non_null (out);
  assert_memory_equal (out, text, strlen (text) - 1);
  assert_true (strncmp (out + strlen (text) - 1, ",\"hooks\":{\"prestart\":[{", 23) == 0);
  assert_int_equal (moat_shim_edit_text (out, strlen (out), "c.json", &h, &again, &err), 0);
  assert_null (again);
  free (out);
  json_decref (h.env);
}

/* \u0000 in a string is refused as it always was (a placeholder could not
 * be told from it), with or without a number to keep. A number as an
 * object key (not JSON) is refused with a message of its own. */
static void
test_edit_text_nul_and_numbers (void **state)
{
  const char *nul = "{\"process\":{\"env\":[\"MOAT_NETWORK=n\",\"A=\\u0000b\"]}}";
  const char *both = "{\"process\":{\"env\":[\"A=\\u0000b\"]},\"n\":1e400}";
  const char *key = "{\"process\":{\"env\":[\"MOAT_NETWORK=n\"]},\n18446744073709551615:1}";
  struct moat_shim_hook h = test_hook ();
  moat_err_t err = { 0 };
  char *out = NULL;

  assert_int_equal (moat_shim_edit_text (nul, strlen (nul), "c.json", &h, &out, &err), -1);
  assert_int_equal (err.code, MOAT_E_DECODE);
  assert_non_null (strstr (err.msg, "\\u0000 is not allowed"));
  assert_int_equal (moat_shim_edit_text (both, strlen (both), "c.json", &h, &out, &err), -1);
  assert_non_null (strstr (err.msg, "\\u0000 is not allowed"));
  assert_int_equal (moat_shim_edit_text (key, strlen (key), "c.json", &h, &out, &err), -1);
  assert_string_equal (err.msg, "c.json: line 2: a number where an object key belongs");
  json_decref (h.env);
}

static void
test_env_set (void **state)
{
  json_auto_t *env = json_array ();
  moat_err_t err = { 0 };
  char *s;

  assert_int_equal (moat_shim_env_set (env, "A=1", &err), 0);
  assert_int_equal (moat_shim_env_set (env, "AB=2", &err), 0);
  assert_int_equal (moat_shim_env_set (env, "A=3", &err), 0);
  assert_int_equal (moat_shim_env_set (env, "B=", &err), 0);
  assert_int_equal (moat_shim_env_set (env, "\xff=1", &err), -1);
  s = json_dumps (env, JSON_COMPACT);
  assert_string_equal (s, "[\"A=3\",\"AB=2\",\"B=\"]");
  free (s);
}

/* ------------------------------------------------------------ the file */

struct bundle
{
  char dir[64];
  char path[96];
  char hook[96];
};

static void
bundle_make (struct bundle *b, const char *config, mode_t mode)
{
  int fd;

  strcpy (b->dir, "/tmp/moat-test-shim-XXXXXX");
  assert_non_null (mkdtemp (b->dir));
  snprintf (b->path, sizeof (b->path), "%s/config.json", b->dir);
  snprintf (b->hook, sizeof (b->hook), "%s/moat-hook", b->dir);
  fd = open (b->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, config, strlen (config)), (ssize_t)strlen (config));
  assert_int_equal (fchmod (fd, mode), 0);
  close (fd);
  fd = open (b->hook, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
  assert_true (fd >= 0);
  close (fd);
}

static char *
slurp (const char *path)
{
  FILE *f = fopen (path, "re");
  char *buf = calloc (1, 1 << 16);

  assert_non_null (f);
  assert_non_null (buf);
  fread (buf, 1, (1 << 16) - 1, f);
  fclose (f);
  return buf;
}

/* Only config.json and the hook: no temporary file left. */
static void
assert_bundle_clean (const struct bundle *b)
{
  DIR *d = opendir (b->dir);
  struct dirent *e;
  int n = 0;

  assert_non_null (d);
  while ((e = readdir (d)))
    if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
      {
        n++;
        if (strcmp (e->d_name, "config.json") != 0 && strcmp (e->d_name, "moat-hook") != 0)
          fail_msg ("left in the bundle: %s", e->d_name);
      }
  closedir (d);
  assert_int_equal (n, 2);
}

static void
bundle_remove (struct bundle *b)
{
  unlink (b->path);
  unlink (b->hook);
  assert_int_equal (rmdir (b->dir), 0);
}

static void
test_edit_bundle (void **state)
{
  struct bundle b;
  struct moat_shim_hook h = test_hook ();
  moat_err_t err = { 0 };
  bool changed = false;
  struct stat st1, st2;
  char *s;

  bundle_make (&b, "{\"process\":{\"env\":[\"MOAT_NETWORK=n\"]}}", 0640);
  h.path = b.hook;
  assert_int_equal (moat_shim_edit_bundle (b.dir, &h, &changed, &err), 0);
  assert_true (changed);
  assert_int_equal (stat (b.path, &st1), 0);
  assert_int_equal (st1.st_mode & 07777, 0640);
  s = slurp (b.path);
  assert_non_null (strstr (s, "\"args\":[\"moat-hook\",\"poststop\"]"));
  free (s);
  assert_bundle_clean (&b);
  /* Again: not rewritten (same inode). */
  assert_int_equal (moat_shim_edit_bundle (b.dir, &h, &changed, &err), 0);
  assert_false (changed);
  assert_int_equal (stat (b.path, &st2), 0);
  assert_int_equal (st1.st_ino, st2.st_ino);
  bundle_remove (&b);
  json_decref (h.env);
}

/* No moat settings and a number jansson cannot hold: not rewritten, byte
 * for byte and inode. */
static void
test_edit_bundle_untouched_big_numbers (void **state)
{
  const char *text = "{\"process\":{\"rlimits\":[{\"type\":\"RLIMIT_CORE\","
                     "\"hard\":18446744073709551615,\"soft\":18446744073709551615}]}}\n";
  struct bundle b;
  struct moat_shim_hook h = test_hook ();
  moat_err_t err = { 0 };
  bool changed = true;
  struct stat st1, st2;
  char *s;

  bundle_make (&b, text, 0644);
  h.path = b.hook;
  assert_int_equal (stat (b.path, &st1), 0);
  assert_int_equal (moat_shim_edit_bundle (b.dir, &h, &changed, &err), 0);
  assert_false (changed);
  assert_int_equal (stat (b.path, &st2), 0);
  assert_int_equal (st1.st_ino, st2.st_ino);
  s = slurp (b.path);
  assert_string_equal (s, text);
  free (s);
  assert_bundle_clean (&b);
  bundle_remove (&b);
  json_decref (h.env);
}

static void
test_edit_bundle_errors_leave_it (void **state)
{
  const char *bad = "{\"process\":{\"env\":[\"MOAT_NETWORK=n\"]";
  const char *good = "{\"process\":{\"env\":[\"MOAT_NETWORK=n\"]}}";
  struct bundle b;
  struct moat_shim_hook h = test_hook ();
  moat_err_t err = { 0 };
  char want[160], *s;
  bool changed = true;

  bundle_make (&b, bad, 0644);
  h.path = b.hook;
  assert_int_equal (moat_shim_edit_bundle (b.dir, &h, &changed, &err), -1);
  snprintf (want, sizeof (want), "%s: line 1: ", b.path);
  assert_true (strncmp (err.msg, want, strlen (want)) == 0);
  s = slurp (b.path);
  assert_string_equal (s, bad);
  free (s);
  assert_bundle_clean (&b);
  bundle_remove (&b);

  /* The hook is not there: refused, file unchanged. */
  bundle_make (&b, good, 0644);
  h.path = "/nonexistent/moat-hook";
  assert_int_equal (moat_shim_edit_bundle (b.dir, &h, &changed, &err), -1);
  assert_string_equal (err.msg, "moat-hook /nonexistent/moat-hook: No such file or directory");
  s = slurp (b.path);
  assert_string_equal (s, good);
  free (s);
  bundle_remove (&b);

  /* No config.json. */
  assert_int_equal (moat_shim_edit_bundle ("/nonexistent", &h, &changed, &err), -1);
  assert_string_equal (err.msg, "/nonexistent/config.json: No such file or directory");
  assert_int_equal (err.code, MOAT_E_IO);
  json_decref (h.env);
}

static void
test_docker_names (void **state)
{
  json_auto_t *config = json_pack ("{s:{s:s}}", "annotations", "io.moat.aliases", "mine");
  json_auto_t *v2 = json_pack ("{s:s, s:{s:{s:s}}}", "Name", "/web", "Config", "Labels",
                               "com.docker.compose.service", "frontend");
  json_auto_t *dotted = json_pack ("{s:s}", "Name", "/web.1");
  json_auto_t *plain = json_object ();
  moat_err_t err = { 0 };
  bool changed;

  assert_int_equal (moat_shim_docker_names (config, v2, &changed, &err), 0);
  assert_true (changed);
  json_t *a = json_object_get (config, "annotations");
  assert_string_equal (json_string_value (json_object_get (a, "io.moat.name")), "web");
  /* The container's own annotation wins. */
  assert_string_equal (json_string_value (json_object_get (a, "io.moat.aliases")), "mine");
  assert_int_equal (moat_shim_docker_names (config, v2, &changed, &err), 0);
  assert_false (changed);
  /* A name that is not a DNS label is not handed on. */
  assert_int_equal (moat_shim_docker_names (plain, dotted, &changed, &err), 0);
  assert_false (changed);
  assert_null (json_object_get (plain, "annotations"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_docker_names),
    cmocka_unit_test (test_args_containerd_create),
    cmocka_unit_test (test_args_defaults),
    cmocka_unit_test (test_default_hook),
    cmocka_unit_test (test_args_bundle_forms),
    cmocka_unit_test (test_args_errors),
    cmocka_unit_test (test_args_help_version),
    cmocka_unit_test (test_args_hook_env),
    cmocka_unit_test (test_find_log),
    cmocka_unit_test (test_wants_moat),
    cmocka_unit_test (test_config_refused),
    cmocka_unit_test (test_add_hooks),
    cmocka_unit_test (test_add_hooks_one_stage_present),
    cmocka_unit_test (test_edit_text),
    cmocka_unit_test (test_edit_text_errors),
    cmocka_unit_test (test_edit_text_numbers_kept),
    cmocka_unit_test (test_edit_text_nul_and_numbers),
    cmocka_unit_test (test_env_set),
    cmocka_unit_test (test_edit_bundle),
    cmocka_unit_test (test_edit_bundle_untouched_big_numbers),
    cmocka_unit_test (test_edit_bundle_errors_leave_it),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
