/* SPDX-License-Identifier: Apache-2.0 */
/* verbs/gc: what counts as a netns that is still there, and the report's
 * items. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verbs/gc.h"

static void
test_netns_there (void **state)
{
  char why[512], path[64], file[] = "/tmp/moat-test-gc-XXXXXX";
  int fd = mkstemp (file);

  /* The caller's own namespace, by the path the hook records. */
  snprintf (path, sizeof (path), "/proc/%d/ns/net", (int)getpid ());
  assert_int_equal (moat_netns_there (path, why, sizeof (why)), 1);
  assert_non_null (strstr (why, path));
  assert_int_equal (moat_netns_there ("/proc/self/ns/net", why, sizeof (why)), 1);
  /* Gone: no path, a deleted one, a file that is no namespace (what an
   * unmounted /run/netns entry leaves), another kind of namespace, a
   * process that does not exist. */
  assert_int_equal (moat_netns_there (NULL, why, sizeof (why)), 0);
  assert_string_equal (why, "no netns recorded");
  assert_int_equal (moat_netns_there ("/run/netns/moat-test-gc-none", why, sizeof (why)), 0);
  assert_string_equal (why, "netns /run/netns/moat-test-gc-none");
  assert_true (fd >= 0);
  close (fd);
  assert_int_equal (moat_netns_there (file, why, sizeof (why)), 0);
  assert_non_null (strstr (why, "no network namespace there"));
  unlink (file);
  assert_int_equal (moat_netns_there ("/proc/self/ns/uts", why, sizeof (why)), 0);
  assert_int_equal (moat_netns_there ("/proc/2147483647/ns/net", why, sizeof (why)), 0);
}

static void
test_item (void **state)
{
  struct moat_record rec = {
    .network = "n1",
    .container_id = "abc",
    .ifname = "eth0",
    .host_if = "mt0123456789abc",
    .netns = "/run/netns/x",
    .attached_by = MOAT_ATTACHED_BY_HOOK,
  };
  struct moat_liveness l = { .netns_gone = true, .link_gone = false };
  json_t *j;

  inet_pton (AF_INET, "10.1.2.3", &rec.addr);
  snprintf (l.gone, sizeof (l.gone), "netns /run/netns/x");
  snprintf (l.there, sizeof (l.there), "host end mt0123456789abc");
  assert_false (moat_liveness_stale (&l));
  j = moat_gc_item (&rec, &l);
  assert_non_null (j);
  assert_string_equal (json_string_value (json_object_get (j, "network")), "n1");
  assert_string_equal (json_string_value (json_object_get (j, "container")), "abc");
  assert_string_equal (json_string_value (json_object_get (j, "address")), "10.1.2.3");
  assert_string_equal (json_string_value (json_object_get (j, "attachedBy")), "hook");
  assert_string_equal (json_string_value (json_object_get (j, "gone")), "netns /run/netns/x");
  assert_string_equal (json_string_value (json_object_get (j, "there")),
                       "host end mt0123456789abc");
  assert_null (json_object_get (j, "name"));
  json_decref (j);
  l.link_gone = true;
  l.there[0] = '\0';
  assert_true (moat_liveness_stale (&l));
  rec.name = "web";
  j = moat_gc_item (&rec, &l);
  assert_string_equal (json_string_value (json_object_get (j, "name")), "web");
  assert_null (json_object_get (j, "there"));
  json_decref (j);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_netns_there),
    cmocka_unit_test (test_item),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
