/* SPDX-License-Identifier: Apache-2.0 */
/* Container names, aliases and their hosts-file line (model/hosts.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "model/hosts.h"

static void
test_labels (void **state)
{
  static const char *const good[]
      = { "db",     "a",  "web-1",
          "my_app", "A1", "x123456789012345678901234567890123456789012345678901234567890ab" };
  static const char *const bad[]
      = { "",    "-db", "db-",
          "a.b", "a b", "é",
          "a/b", "a@b", "x1234567890123456789012345678901234567890123456789012345678901234" };

  for (size_t i = 0; i < sizeof (good) / sizeof (good[0]); i++)
    if (!moat_dns_label_valid (good[i]))
      fail_msg ("\"%s\" refused", good[i]);
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    if (moat_dns_label_valid (bad[i]))
      fail_msg ("\"%s\" accepted", bad[i]);
  assert_false (moat_dns_label_valid (NULL));
}

static void
test_aliases_from_text (void **state)
{
  json_t *list;
  moat_err_t err = { 0 };

  assert_int_equal (moat_aliases_from_text ("io.moat.aliases", " db , cache,,", &list, &err), 0);
  assert_int_equal (json_array_size (list), 2);
  assert_string_equal (json_string_value (json_array_get (list, 0)), "db");
  assert_string_equal (json_string_value (json_array_get (list, 1)), "cache");
  json_decref (list);
  assert_int_equal (moat_aliases_from_text ("io.moat.aliases", "", &list, &err), 0);
  assert_null (list);
  assert_int_equal (moat_aliases_from_text ("io.moat.aliases", "db,a.b", &list, &err), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_non_null (strstr (err.msg, "io.moat.aliases: \"a.b\" is not a DNS label"));
}

static void
test_hosts_line (void **state)
{
  struct in_addr addr;
  json_t *aliases = json_pack ("[s, s]", "database", "bad.one");
  char buf[256];

  inet_pton (AF_INET, "10.1.0.5", &addr);
  assert_int_equal (moat_hosts_line (buf, sizeof (buf), &addr, NULL, "db", aliases),
                    (int)strlen ("10.1.0.5 db db.dns.moat database database.dns.moat\n"));
  assert_string_equal (buf, "10.1.0.5 db db.dns.moat database database.dns.moat\n");
  /* A container name that is not a label is left out, its aliases stay. */
  assert_true (moat_hosts_line (buf, sizeof (buf), &addr, NULL, "web.1", aliases) > 0);
  assert_string_equal (buf, "10.1.0.5 database database.dns.moat\n");
  /* No name at all: nothing to serve. */
  assert_int_equal (moat_hosts_line (buf, sizeof (buf), &addr, NULL, NULL, NULL), 0);
  assert_string_equal (buf, "");
  assert_int_equal (moat_hosts_line (buf, 20, &addr, NULL, "db", aliases), -1);
  json_decref (aliases);
}

/* A dual-stack container: the same names again for its IPv6 address. */
static void
test_hosts_line_dual_stack (void **state)
{
  static const char want[] = "10.1.0.5 db db.dns.moat\nfd00:1::5 db db.dns.moat\n";
  struct in_addr addr;
  struct in6_addr addr6;
  char buf[256];

  inet_pton (AF_INET, "10.1.0.5", &addr);
  inet_pton (AF_INET6, "fd00:1::5", &addr6);
  assert_int_equal (moat_hosts_line (buf, sizeof (buf), &addr, &addr6, "db", NULL),
                    (int)strlen (want));
  assert_string_equal (buf, want);
  /* No name: no line for either address. */
  assert_int_equal (moat_hosts_line (buf, sizeof (buf), &addr, &addr6, "web.1", NULL), 0);
  /* Room for the IPv4 line only is too small. */
  assert_int_equal (
      moat_hosts_line (buf, strlen ("10.1.0.5 db db.dns.moat\n") + 4, &addr, &addr6, "db", NULL),
      -1);
}

/* An IPv6-only container: its IPv6 line alone (its IPv4 key is on no
   wire and in no hosts file). */
static void
test_hosts_line_ipv6_only (void **state)
{
  static const char want[] = "fd00:1::5 db db.dns.moat\n";
  struct in6_addr addr6;
  char buf[256];

  inet_pton (AF_INET6, "fd00:1::5", &addr6);
  assert_int_equal (moat_hosts_line (buf, sizeof (buf), NULL, &addr6, "db", NULL),
                    (int)strlen (want));
  assert_string_equal (buf, want);
  assert_int_equal (moat_hosts_line (buf, strlen (want), NULL, &addr6, "db", NULL), -1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_labels),
    cmocka_unit_test (test_aliases_from_text),
    cmocka_unit_test (test_hosts_line),
    cmocka_unit_test (test_hosts_line_dual_stack),
    cmocka_unit_test (test_hosts_line_ipv6_only),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
