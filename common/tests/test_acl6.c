/* SPDX-License-Identifier: Apache-2.0 */
/* IPv6 ranges in ACLs and grants (docs/design.md, "IPv6"): they wait in
 * the element list until the twin pass knows the container's IPv6
 * address, go to the IPv6 sets only, and give nothing for an IPv4-only
 * container. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "model/annot.h"
#include "ruleset/elems.h"

static int
addr6_of (struct in_addr addr, struct in6_addr *ret, void *data)
{
  char text[INET_ADDRSTRLEN], six[64];

  inet_ntop (AF_INET, &addr, text, sizeof (text));
  if (strcmp (text, "10.1.0.9") == 0)
    return 0; /* an IPv4-only container */
  snprintf (six, sizeof (six), "fd00:1::%s", text + 7);
  return inet_pton (AF_INET6, six, ret);
}

static struct in_addr
a4 (const char *text)
{
  struct in_addr a;

  assert_int_equal (inet_pton (AF_INET, text, &a), 1);
  return a;
}

static struct moat_acl
acl (const char *text)
{
  struct moat_acl a;
  moat_err_t err = { 0 };

  assert_int_equal (moat_acl_parse ("test", text, &a, &err), 0);
  return a;
}

static void
assert_elems (const struct moat_nft_elems *l, const char *const *want, size_t n)
{
  char line[256];

  assert_int_equal (moat_nft_elems_count (l), n);
  for (size_t i = 0; i < n; i++)
    {
      moat_nft_elems_format (l, i, line, sizeof (line));
      assert_string_equal (line, want[i]);
    }
}

static void
test_ranges6 (void **state)
{
  struct moat_nft_elems *l = moat_nft_elems_new ();
  struct moat_acl out6 = acl ("2001:db8::/32 tcp/443"), in6 = acl ("fd99::7 udp/53");
  struct moat_acl out4 = acl ("192.0.2.0/24 tcp/443");
  static const char *const want[] = {
    "egress: 10.1.0.2 . 192.0.2.0-192.0.2.255 . tcp . 443",
    "egress6: fd00:1::2 . 2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff . tcp . 443",
    "ingress6: fd99::7 . fd00:1::2 . udp . 53",
    "egress_deny6: fd00:1::2 . 2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff . tcp . 443",
    "grant_egress6: fd00:1::2 . 2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff . tcp . 443",
    "grant_ingress6: fd99::7 . fd00:1::2 . udp . 53",
  };

  assert_non_null (l);
  assert_int_equal (moat_nft_elems_acl (l, MOAT_NFT_EGRESS, a4 ("10.1.0.2"), &out6), 0);
  assert_int_equal (moat_nft_elems_acl (l, MOAT_NFT_EGRESS, a4 ("10.1.0.2"), &out4), 0);
  assert_int_equal (moat_nft_elems_acl (l, MOAT_NFT_INGRESS, a4 ("10.1.0.2"), &in6), 0);
  assert_int_equal (moat_nft_elems_acl (l, MOAT_NFT_EGRESS_DENY, a4 ("10.1.0.2"), &out6), 0);
  assert_int_equal (moat_nft_elems_grant_egress (l, a4 ("10.1.0.2"), &out6, 5000), 0);
  assert_int_equal (moat_nft_elems_grant_ingress (l, a4 ("10.1.0.2"), &in6, 0), 0);
  /* The IPv4-only container's wait for nothing. */
  assert_int_equal (moat_nft_elems_acl (l, MOAT_NFT_EGRESS, a4 ("10.1.0.9"), &out6), 0);
  /* Before the twin pass: only the IPv4 element is sendable. */
  assert_int_equal (moat_nft_elems_count (l), 1);
  assert_int_equal (moat_nft_elems_twin6 (l, l, addr6_of, NULL), 0);
  assert_elems (l, want, 6);
  assert_int_equal (moat_nft_elems_at (l, 4)->timeout_ms, 5000);
  /* A second pass adds nothing. */
  assert_int_equal (moat_nft_elems_twin6 (l, l, addr6_of, NULL), 0);
  assert_int_equal (moat_nft_elems_count (l), 6);
  moat_nft_elems_free (l);
}

/* Edges: ::/0 is every address, a /128 one, a prefix not on a byte. */
static void
test_range6_ends (void **state)
{
  struct moat_nft_elems *l = moat_nft_elems_new ();
  struct moat_acl all = acl ("::/0 any"), one = acl ("2001:db8::1 icmp");
  struct moat_acl odd = acl ("2001:db8:8000::/33 tcp/1-9");
  static const char *const want[] = {
    "egress6: fd00:1::2 . ::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff . 0-255 . 0-65535",
    "egress6: fd00:1::2 . 2001:db8::1 . ipv6-icmp . 0-65535",
    "egress6: fd00:1::2 . 2001:db8:8000::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff . tcp . 1-9",
  };
  char line[256];

  assert_non_null (l);
  assert_int_equal (moat_nft_elems_acl (l, MOAT_NFT_EGRESS, a4 ("10.1.0.2"), &all), 0);
  assert_int_equal (moat_nft_elems_acl (l, MOAT_NFT_EGRESS, a4 ("10.1.0.2"), &one), 0);
  assert_int_equal (moat_nft_elems_acl (l, MOAT_NFT_EGRESS, a4 ("10.1.0.2"), &odd), 0);
  assert_int_equal (moat_nft_elems_twin6 (l, l, addr6_of, NULL), 0);
  for (size_t i = 0; i < moat_nft_elems_count (l); i++)
    {
      moat_nft_elems_format (l, i, line, sizeof (line));
      print_message ("# %s\n", line);
    }
  assert_elems (l, want, 3);
  moat_nft_elems_free (l);
}

/* icmp in IPv6 is ICMPv6: in an IPv6 range's element and in the twin of
 * an IPv4 one (0.0.0.0/0 icmp opens echo to ::/0 too); any stays 0-255. */
static void
test_icmp6 (void **state)
{
  struct moat_nft_elems *l = moat_nft_elems_new ();
  struct moat_acl all4 = acl ("0.0.0.0/0 icmp"), one6 = acl ("2001:db8::1 icmp");
  struct moat_acl out4 = acl ("192.0.2.1 icmp"), any4 = acl ("0.0.0.0/0 any");
  static const char *const want[] = {
    "egress: 10.1.0.2 . 0.0.0.0-255.255.255.255 . icmp . 0-65535",
    "egress: 10.1.0.2 . 192.0.2.1 . icmp . 0-65535",
    "ingress: 0.0.0.0-255.255.255.255 . 10.1.0.2 . 0-255 . 0-65535",
    "egress6: fd00:1::2 . ::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff . ipv6-icmp . 0-65535",
    "ingress6: ::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff . fd00:1::2 . 0-255 . 0-65535",
    "egress6: fd00:1::2 . 2001:db8::1 . ipv6-icmp . 0-65535",
    "ingress6: 2001:db8::1 . fd00:1::2 . ipv6-icmp . 0-65535",
  };

  assert_non_null (l);
  assert_int_equal (moat_nft_elems_acl (l, MOAT_NFT_EGRESS, a4 ("10.1.0.2"), &all4), 0);
  assert_int_equal (moat_nft_elems_acl (l, MOAT_NFT_EGRESS, a4 ("10.1.0.2"), &out4), 0);
  assert_int_equal (moat_nft_elems_acl (l, MOAT_NFT_INGRESS, a4 ("10.1.0.2"), &any4), 0);
  assert_int_equal (moat_nft_elems_acl (l, MOAT_NFT_EGRESS, a4 ("10.1.0.2"), &one6), 0);
  assert_int_equal (moat_nft_elems_acl (l, MOAT_NFT_INGRESS, a4 ("10.1.0.2"), &one6), 0);
  assert_int_equal (moat_nft_elems_twin6 (l, l, addr6_of, NULL), 0);
  assert_elems (l, want, 7);
  moat_nft_elems_free (l);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_ranges6),
    cmocka_unit_test (test_range6_ends),
    cmocka_unit_test (test_icmp6),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
