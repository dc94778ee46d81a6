/* SPDX-License-Identifier: Apache-2.0 */
/* base/strv: string vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/strv.h"

static void
test_strv_push (void **state)
{
  char **v = NULL, name[] = "b";
  size_t n = 0;

  assert_false (moat_strv_contains (v, "a"));
  assert_int_equal (moat_strv_push (&v, &n, "a"), 0);
  assert_int_equal (moat_strv_push (&v, &n, name), 0);
  name[0] = 'x'; /* a copy was pushed */
  assert_int_equal (moat_strv_push_take (&v, &n, strdup ("c")), 0);
  assert_int_equal (n, 3);
  assert_string_equal (v[0], "a");
  assert_string_equal (v[1], "b");
  assert_string_equal (v[2], "c");
  assert_null (v[3]);
  assert_true (moat_strv_contains (v, "b"));
  assert_false (moat_strv_contains (v, "x"));
  /* A failed strdup (NULL) fails the push and leaves the vector. */
  assert_int_equal (moat_strv_push_take (&v, &n, NULL), -1);
  assert_int_equal (n, 3);
  assert_null (v[3]);
  moat_strv_free (v);
  moat_strv_free (NULL);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_strv_push),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
