/* SPDX-License-Identifier: Apache-2.0 */
/* Numbers jansson cannot hold as written: kept through a load and a dump,
 * or read as reals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/jsonnum.h"

/* Every number jansson would change or refuse comes back as written. */
static void
test_numbers_kept (void **state)
{
  const char *text = "{\"hard\":18446744073709551615,\"a\":[9223372036854775807,"
                     "9223372036854775808,-9223372036854775808,-9223372036854775809,-0,0,"
                     "1.25e10,1E400,-0.0,0.1,12345678901234567890123456789],"
                     "\"s\":\"\\\\u00000 1.5 18446744073709551615\"}";
  struct moat_json_numbers numbers = { 0 };
  json_error_t jerr;
  json_t *root = moat_json_loadb_numbers (text, strlen (text), 0, &numbers, &jerr);
  char *out;

  assert_non_null (root);
  /* 18446744073709551615, 9223372036854775808, -9223372036854775809, -0,
   * 1.25e10, 1E400, -0.0, 0.1 and the 29 digits. */
  assert_int_equal (numbers.n, 9);
  assert_string_equal (numbers.text[0], "18446744073709551615");
  assert_true (moat_json_is_number_placeholder (json_object_get (root, "hard"), &numbers));
  assert_false (moat_json_is_number_placeholder (json_object_get (root, "s"), &numbers));
  assert_true (json_is_integer (json_array_get (json_object_get (root, "a"), 0)));
  out = moat_json_dumps_numbers (root, JSON_COMPACT, &numbers);
  assert_non_null (out);
  assert_string_equal (out, text);
  free (out);

  /* For a reader: reals, beyond a double's range the largest one. */
  assert_int_equal (moat_json_numbers_as_reals (root, &numbers), 0);
  assert_true (json_is_real (json_object_get (root, "hard")));
  assert_true (json_real_value (json_object_get (root, "hard")) == 18446744073709551615.0);
  assert_true (json_real_value (json_array_get (json_object_get (root, "a"), 7)) == DBL_MAX);
  assert_string_equal (json_string_value (json_object_get (root, "s")),
                       "\\u00000 1.5 18446744073709551615");
  json_decref (root);
  moat_json_numbers_free (&numbers);
}

/* What jansson refused stays refused; the line is the text's. */
static void
test_numbers_refused (void **state)
{
  struct moat_json_numbers numbers = { 0 };
  json_error_t jerr;
  const char *nul = "{\"a\":\"\\u0000\",\"b\":18446744073709551615}";
  const char *key = "{\"a\":1,\n\n18446744073709551615:1}";
  const char *bad = "{\"a\":\n01}";

  assert_null (moat_json_loadb_numbers (nul, strlen (nul), 0, &numbers, &jerr));
  assert_non_null (strstr (jerr.text, "\\u0000 is not allowed"));
  moat_json_numbers_free (&numbers);
  assert_null (moat_json_loadb_numbers (key, strlen (key), 0, &numbers, &jerr));
  assert_string_equal (jerr.text, "a number where an object key belongs");
  assert_int_equal (jerr.line, 3);
  moat_json_numbers_free (&numbers);
  assert_null (moat_json_loadb_numbers (bad, strlen (bad), 0, &numbers, &jerr));
  assert_int_equal (jerr.line, 2);
  moat_json_numbers_free (&numbers);
}

/* The hook's read of config.json. */
static void
test_load_file (void **state)
{
  char path[] = "/tmp/moat-test-jsonnum-XXXXXX";
  const char *text = "{\"process\":{\"rlimits\":[{\"hard\":18446744073709551615}],"
                     "\"env\":[\"MOAT_NETWORK=n\"]}}\n";
  json_error_t jerr;
  json_t *root;
  int fd = mkstemp (path);

  assert_true (fd >= 0);
  assert_int_equal (write (fd, text, strlen (text)), (ssize_t)strlen (text));
  close (fd);
  root = moat_json_load_file_numbers (path, JSON_REJECT_DUPLICATES, &jerr);
  assert_non_null (root);
  assert_true (json_is_real (json_object_get (
      json_array_get (json_object_get (json_object_get (root, "process"), "rlimits"), 0), "hard")));
  json_decref (root);
  unlink (path);
  assert_null (moat_json_load_file_numbers (path, 0, &jerr));
  assert_non_null (strstr (jerr.text, "No such file or directory"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_numbers_kept),
    cmocka_unit_test (test_numbers_refused),
    cmocka_unit_test (test_load_file),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
