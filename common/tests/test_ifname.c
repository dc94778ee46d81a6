/* SPDX-License-Identifier: Apache-2.0 */
/* base/ifname: the interface-name check and its messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/ifname.h"

static void
test_ifname_fault (void **state)
{
  assert_int_equal (moat_ifname_fault ("eth0"), MOAT_IFNAME_OK);
  assert_int_equal (moat_ifname_fault ("abcdefghijklmno"), MOAT_IFNAME_OK);
  assert_int_equal (moat_ifname_fault ("abcdefghijklmnop"), MOAT_IFNAME_TOO_LONG);
  assert_int_equal (moat_ifname_fault (""), MOAT_IFNAME_EMPTY);
  assert_int_equal (moat_ifname_fault (NULL), MOAT_IFNAME_EMPTY);
  assert_int_equal (moat_ifname_fault ("."), MOAT_IFNAME_INVALID);
  assert_int_equal (moat_ifname_fault (".."), MOAT_IFNAME_INVALID);
  assert_int_equal (moat_ifname_fault ("a/b"), MOAT_IFNAME_INVALID);
  assert_int_equal (moat_ifname_fault ("a:b"), MOAT_IFNAME_INVALID);
  assert_int_equal (moat_ifname_fault ("a b"), MOAT_IFNAME_INVALID);
  assert_int_equal (moat_ifname_fault ("a\tb"), MOAT_IFNAME_INVALID);
  assert_int_equal (moat_ifname_fault ("a\x7f"), MOAT_IFNAME_INVALID);
  assert_true (moat_ifname_valid ("moat0"));
  assert_false (moat_ifname_valid ("a/b"));
}

/* The messages name the caller's field. */
static void
test_ifname_check (void **state)
{
  moat_err_t err = { 0 };

  assert_int_equal (moat_ifname_check ("bridge", "moat0", MOAT_E_LINK, &err), 0);
  assert_int_equal (moat_ifname_check ("bridge", "", MOAT_E_LINK, &err), -1);
  assert_int_equal (err.code, MOAT_E_LINK);
  assert_string_equal (err.msg, "bridge: no interface name: Invalid argument");
  assert_int_equal (moat_ifname_check ("CNI_IFNAME", "abcdefghijklmnop", MOAT_E_LINK, &err), -1);
  assert_string_equal (err.msg, "CNI_IFNAME \"abcdefghijklmnop\": longer than 15 characters");
  assert_int_equal (moat_ifname_check ("interface", "a/b", MOAT_E_CONFIG, &err), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_string_equal (err.msg, "interface \"a/b\": not a valid interface name");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_ifname_fault),
    cmocka_unit_test (test_ifname_check),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
