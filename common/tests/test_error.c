/* SPDX-License-Identifier: Apache-2.0 */
/* base/error: messages, context, undo errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "base/error.h"

/* The first error stays the one reported, with its code; the undo's
 * message is added. */
static void
test_undo_failed (void **state)
{
  moat_err_t err = { 0 }, undo = { 0 };

  moat_error (&err, MOAT_E_NFT, 0, "set \"members\": refused");
  moat_error (&undo, MOAT_E_LINK, ENOENT, "interface \"mt1\"");
  assert_int_equal (moat_error_undo_failed (&err, "the ADD", &undo), -1);
  assert_int_equal (err.code, MOAT_E_NFT);
  assert_string_equal (err.msg, "set \"members\": refused (and undoing the ADD failed: "
                                "interface \"mt1\": No such file or directory)");
  assert_int_equal (moat_error_prefix (&err, "network \"n\""), -1);
  assert_non_null (strstr (err.msg, "network \"n\": set \"members\": refused (and undoing"));
}

/* A message stays one line and within its buffer. */
static void
test_one_line (void **state)
{
  moat_err_t err = { 0 }, undo = { 0 };
  char big[2000];

  memset (big, 'x', sizeof (big) - 1);
  big[sizeof (big) - 1] = '\0';
  moat_error (&err, MOAT_E_CONFIG, 0, "key \"a\nb\"");
  assert_string_equal (err.msg, "key \"a?b\"");
  moat_error (&undo, MOAT_E_IO, 0, "%s", big);
  moat_error_undo_failed (&err, "it", &undo);
  assert_int_equal (strlen (err.msg), sizeof (err.msg) - 1);
  assert_non_null (strstr (err.msg, "key \"a?b\" (and undoing it failed: xxx"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_undo_failed),
    cmocka_unit_test (test_one_line),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
