/* SPDX-License-Identifier: Apache-2.0 */
/* The parts of netlink.c that need no kernel: MAC formatting and parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/netlink.h"

static const unsigned char sample[MOAT_MAC_LEN] = { 0x02, 0x42, 0xac, 0x11, 0x00, 0xff };

static void
format_is_lowercase_with_colons (void **state)
{
  char buf[18];

  moat_mac_format (sample, buf);
  assert_string_equal (buf, "02:42:ac:11:00:ff");
}

static void
format_pads_small_bytes (void **state)
{
  static const unsigned char zero[MOAT_MAC_LEN] = { 0 };
  char buf[18];

  moat_mac_format (zero, buf);
  assert_string_equal (buf, "00:00:00:00:00:00");
}

static void
parse_lowercase (void **state)
{
  unsigned char mac[MOAT_MAC_LEN];

  assert_int_equal (moat_mac_parse ("02:42:ac:11:00:ff", mac), 0);
  assert_memory_equal (mac, sample, MOAT_MAC_LEN);
}

static void
parse_uppercase_and_mixed (void **state)
{
  unsigned char mac[MOAT_MAC_LEN];

  assert_int_equal (moat_mac_parse ("02:42:AC:11:00:FF", mac), 0);
  assert_memory_equal (mac, sample, MOAT_MAC_LEN);
  assert_int_equal (moat_mac_parse ("02:42:Ac:11:00:fF", mac), 0);
  assert_memory_equal (mac, sample, MOAT_MAC_LEN);
}

static void
parse_round_trips_format (void **state)
{
  static const unsigned char all[MOAT_MAC_LEN] = { 0xff, 0xee, 0x01, 0x9a, 0xb0, 0x0c };
  unsigned char mac[MOAT_MAC_LEN];
  char buf[18];

  moat_mac_format (all, buf);
  assert_int_equal (moat_mac_parse (buf, mac), 0);
  assert_memory_equal (mac, all, MOAT_MAC_LEN);
}

/* Each rejected string, and the output buffer left as it was. */
static void
assert_rejected (const char *s)
{
  unsigned char mac[MOAT_MAC_LEN];

  memset (mac, 0x5a, sizeof (mac));
  if (moat_mac_parse (s, mac) != -1)
    fail_msg ("accepted \"%s\"", s ? s : "(null)");
  for (size_t i = 0; i < sizeof (mac); i++)
    assert_int_equal (mac[i], 0x5a);
}

static void
parse_rejects_too_short (void **state)
{
  assert_rejected ("");
  assert_rejected ("02");
  assert_rejected ("02:42:ac:11:00");
  assert_rejected ("02:42:ac:11:00:f");
  assert_rejected ("2:42:ac:11:00:ff");
  assert_rejected ("02:42:ac:11:00:");
  assert_rejected (NULL);
}

static void
parse_rejects_too_long (void **state)
{
  assert_rejected ("02:42:ac:11:00:ff:");
  assert_rejected ("02:42:ac:11:00:ff:01");
  assert_rejected ("02:42:ac:11:00:fff");
  assert_rejected ("02:42:ac:11:00:ff ");
  assert_rejected (" 02:42:ac:11:00:ff");
  assert_rejected ("02:42:ac:11:00:ff:00:00:00:00:00:00:00:00:00:00:00:00:00:00");
}

static void
parse_rejects_bad_hex (void **state)
{
  assert_rejected ("g2:42:ac:11:00:ff");
  assert_rejected ("02:42:ac:11:00:fg");
  assert_rejected ("02:42:ac:1x:00:ff");
  assert_rejected ("02:42:-c:11:00:ff");
  assert_rejected ("02:42:ac:11:0 :ff");
  assert_rejected ("0x:42:ac:11:00:ff");
}

static void
parse_rejects_other_separators (void **state)
{
  assert_rejected ("02-42-ac-11-00-ff");
  assert_rejected ("02:42:ac-11:00:ff");
  assert_rejected ("02.42.ac.11.00.ff");
  assert_rejected ("0242.ac11.00ff");
  assert_rejected ("0242ac1100ff");
  assert_rejected ("02:42:ac:11:00:ff\n");
  assert_rejected ("02::42:ac:11:00:f");
  assert_rejected ("024:2a:c1:10:0f:f0");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (format_is_lowercase_with_colons),
    cmocka_unit_test (format_pads_small_bytes),
    cmocka_unit_test (parse_lowercase),
    cmocka_unit_test (parse_uppercase_and_mixed),
    cmocka_unit_test (parse_round_trips_format),
    cmocka_unit_test (parse_rejects_too_short),
    cmocka_unit_test (parse_rejects_too_long),
    cmocka_unit_test (parse_rejects_bad_hex),
    cmocka_unit_test (parse_rejects_other_separators),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
