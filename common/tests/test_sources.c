/* SPDX-License-Identifier: Apache-2.0 */
/* A container's own policy sources, taken to its next attachment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "model/sources.h"

static json_t *
load (const char *text)
{
  json_t *j = json_loads (text, JSON_DECODE_ANY, NULL);

  assert_non_null (j);
  return j;
}

static void
assert_json (json_t *got, const char *want_text)
{
  json_auto_t *want = load (want_text);
  _cleanup_free_ char *text = json_dumps (got, JSON_COMPACT | JSON_SORT_KEYS);

  if (!json_equal (got, want))
    fail_msg ("got %s, want %s", text, want_text);
}

/* Only io.moat.* annotations and MOAT_* entries: the environment may hold
 * secrets, and other annotations are not moat's. */
static void
test_new_keeps_only_moat (void **state)
{
  json_auto_t *a = load ("{\"io.moat.labels\": \"app=web\", \"IO.MOAT.expose\": \"app=api\","
                         " \"org.opencontainers.image.title\": \"x\"}");
  json_auto_t *env = load ("[\"PATH=/bin\", \"MOAT_ALLOW_HOST=tcp/80\", \"DB_PASSWORD=s3cret\","
                           " 7, \"MOAT_NETWORK=n\"]");
  json_auto_t *s = moat_sources_new (a, env);

  assert_non_null (s);
  assert_json (s, "{\"annotations\": {\"io.moat.labels\": \"app=web\", \"IO.MOAT.expose\": "
                  "\"app=api\"}, \"env\": [\"MOAT_ALLOW_HOST=tcp/80\", \"MOAT_NETWORK=n\"]}");
}

static void
test_new_none (void **state)
{
  json_auto_t *s = moat_sources_new (NULL, NULL);

  assert_json (s, "{\"annotations\": {}, \"env\": []}");
}

static json_t *
effective (const char *sources, bool read_env)
{
  json_auto_t *s = load (sources);
  json_t *ret = NULL;
  moat_err_t err = { 0 };

  if (moat_sources_annotations (s, read_env, &ret, &err) < 0)
    fail_msg ("%s", err.msg);
  return ret;
}

/* What directs one attachment stays with it; the policy goes along. */
static void
test_effective_drops_attach_only (void **state)
{
  json_auto_t *got = effective (
      "{\"annotations\": {\"io.moat.labels\": \"app=web\", \"io.moat.network\": \"a\","
      " \"io.moat.publish\": \"8080:80\", \"io.moat.ip\": \"10.1.0.5\", \"io.moat.name\": \"w\","
      " \"IO.MOAT.ALIASES\": \"x\", \"io.moat.allow-host\": \"tcp/80\"}, \"env\": []}",
      false);

  assert_json (got, "{\"io.moat.labels\": \"app=web\", \"io.moat.allow-host\": \"tcp/80\"}");
}

/* The environment counts only where the new network reads it, under the
 * annotations; its attach-only keys go too. */
static void
test_effective_env (void **state)
{
  const char *s = "{\"annotations\": {\"io.moat.labels\": \"app=web\"},"
                  " \"env\": [\"MOAT_LABELS=app=env\", \"MOAT_EGRESS=10.0.0.0/8\","
                  " \"MOAT_PUBLISH=80:80\"]}";
  json_auto_t *with = effective (s, true);
  json_auto_t *without = effective (s, false);

  assert_json (with, "{\"io.moat.labels\": \"app=web\", \"io.moat.egress\": \"10.0.0.0/8\"}");
  assert_json (without, "{\"io.moat.labels\": \"app=web\"}");
}

/* A record's sources as read back: anything may be missing. */
static void
test_effective_partial (void **state)
{
  json_auto_t *a = effective ("{}", true);
  json_auto_t *b = effective ("{\"annotations\": \"x\", \"env\": {}}", false);

  assert_json (a, "{}");
  assert_json (b, "{}");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_new_keeps_only_moat),         cmocka_unit_test (test_new_none),
    cmocka_unit_test (test_effective_drops_attach_only), cmocka_unit_test (test_effective_env),
    cmocka_unit_test (test_effective_partial),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
