/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for IPv6-only networks (docs/design.md, "IPv6"): the key
 * ranges (common/state/keys4.c), the record's key, the result without
 * IPv4, the member without an IPv4 port element, and the IPv4 twins'
 * removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/config.h"
#include "model/policy.h"
#include "model/record.h"
#include "model/result.h"
#include "ruleset/elems.h"
#include "state/keys4.h"

static const char *
text4 (struct in_addr a)
{
  static char buf[INET_ADDRSTRLEN];

  return inet_ntop (AF_INET, &a, buf, sizeof (buf));
}

static int
rm_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove (path);
}

static void
test_key_ranges (void **state)
{
  char root[] = "/tmp/moat-test-keys4-XXXXXX";
  struct in_addr a, a2, b, c;
  moat_err_t err = { 0 };

  assert_string_equal (text4 (moat_keys4_range (0)), "240.0.0.0");
  assert_string_equal (text4 (moat_keys4_range (MOAT_KEYS4_RANGES - 1)), "255.254.0.0");
  assert_true (moat_key4_range_has (moat_keys4_range (17)));
  assert_false (moat_key4_range_has ((struct in_addr){ htonl (0xdfffffff) }));

  assert_non_null (mkdtemp (root));
  setenv ("MOAT_RUN_DIR", root, 1);
  assert_int_equal (moat_keys4_claim ("net-a", &a, &err), 0);
  assert_true (moat_key4_range_has (a));
  assert_int_equal (ntohl (a.s_addr) & 0xffff, 0);
  /* Claimed once: the network's again. */
  assert_int_equal (moat_keys4_claim ("net-a", &a2, &err), 0);
  assert_int_equal (a.s_addr, a2.s_addr);
  /* Never another network's. */
  assert_int_equal (moat_keys4_claim ("net-b", &b, &err), 0);
  assert_int_not_equal (a.s_addr, b.s_addr);
  /* Released with its network; then anyone's. */
  assert_int_equal (moat_keys4_release ("net-a", &err), 0);
  assert_int_equal (moat_keys4_release ("net-a", &err), 0); /* none: fine */
  assert_int_equal (moat_keys4_claim ("net-c", &c, &err), 0);
  assert_int_not_equal (c.s_addr, b.s_addr);
  nftw (root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
  unsetenv ("MOAT_RUN_DIR");
}

static void
test_key_ranges_exhausted (void **state)
{
  char root[] = "/tmp/moat-test-keys4-XXXXXX", path[128];
  struct in_addr a;
  moat_err_t err = { 0 };

  assert_non_null (mkdtemp (root));
  setenv ("MOAT_RUN_DIR", root, 1);
  /* The first claim makes the directory; then every range is another's. */
  assert_int_equal (moat_keys4_claim ("n0", &a, &err), 0);
  for (int i = 0; i < MOAT_KEYS4_RANGES; i++)
    {
      FILE *f;

      snprintf (path, sizeof (path), "%s/.keys4/%d", root, i);
      f = fopen (path, "w");
      assert_non_null (f);
      fprintf (f, "n%d", i);
      fclose (f);
    }
  assert_int_equal (moat_keys4_claim ("one-more", &a, &err), -1);
  assert_int_equal (err.code, MOAT_E_IPAM);
  assert_non_null (strstr (err.msg, "no free key range in 240.0.0.0/4"));
  nftw (root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
  unsetenv ("MOAT_RUN_DIR");
}

static struct moat_record
v6only_record (void)
{
  struct moat_record r = { 0 };

  r.network = "n";
  r.container_id = "c";
  r.ifname = "eth0";
  r.host_if = "mt0123456789abc";
  r.bridge = "moat0";
  r.prefixlen = 16;
  r.v6only = true;
  r.have_addr6 = true;
  inet_pton (AF_INET, "242.7.0.2", &r.addr);
  inet_pton (AF_INET, "242.7.0.1", &r.gateway);
  inet_pton (AF_INET6, "fd00:1::2", &r.addr6);
  inet_pton (AF_INET6, "fd00:1::1", &r.gateway6);
  r.labels = json_object ();
  return r;
}

static void
test_record_key (void **state)
{
  struct moat_record r = v6only_record (), back;
  moat_err_t err = { 0 };
  json_t *j = moat_record_to_json (&r);

  assert_non_null (j);
  /* No IPv4 address shown; the key under its own name. */
  assert_true (json_is_null (json_object_get (j, "address")));
  assert_true (json_is_null (json_object_get (j, "gateway")));
  assert_string_equal (json_string_value (json_object_get (j, "key4")), "242.7.0.2/16");
  assert_int_equal (moat_record_from_json (j, &back, &err), 0);
  assert_true (back.v6only);
  assert_string_equal (text4 (back.addr), "242.7.0.2");
  assert_string_equal (text4 (back.gateway), "242.7.0.1");
  assert_int_equal (back.prefixlen, 16);
  moat_record_free (&back);

  /* A key outside 240.0.0.0/4, or no IPv6 address: malformed. */
  json_object_set_new (j, "key4", json_string ("10.1.0.2/16"));
  assert_int_equal (moat_record_from_json (j, &back, &err), -1);
  json_object_set_new (j, "key4", json_string ("242.7.0.2/16"));
  json_object_del (j, "address6");
  assert_int_equal (moat_record_from_json (j, &back, &err), -1);
  json_decref (j);
  json_decref (r.labels);
}

static void
test_result_v6only (void **state)
{
  struct moat_add_result r = {
    .bridge = "moat0",
    .host_if = "mt0123456789abc",
    .ifname = "eth0",
    .sandbox = "/var/run/netns/c1",
    .prefixlen = 16,
    .v6only = true,
    .have_addr6 = true,
  };
  json_t *j;
  char *s;

  inet_pton (AF_INET, "242.7.0.2", &r.addr);
  inet_pton (AF_INET, "242.7.0.1", &r.gateway);
  inet_pton (AF_INET6, "fd00:1::2", &r.addr6);
  inet_pton (AF_INET6, "fd00:1::1", &r.gateway6);
  j = moat_result_build ("1.1.0", &r);
  s = json_dumps (json_object_get (j, "ips"), JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal (
      s, "[{\"address\":\"fd00:1::2/64\",\"gateway\":\"fd00:1::1\",\"interface\":2}]");
  free (s);
  s = json_dumps (json_object_get (j, "routes"), JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal (s, "[{\"dst\":\"::/0\",\"gw\":\"fd00:1::1\"}]");
  free (s);
  assert_false (moat_result_has_ipv4 (j));
  json_decref (j);
  r.v6only = false;
  j = moat_result_build ("1.1.0", &r);
  assert_true (moat_result_has_ipv4 (j));
  json_decref (j);
}

static int
key_addr6 (struct in_addr addr, struct in6_addr *ret, void *data)
{
  (void)addr;
  (void)data;
  return inet_pton (AF_INET6, "fd00:7::2", ret);
}

/* A key is a host-network container's peer by its twin, its IPv6 address
 * (hostnet_peers6); its IPv4 element is looked up only for a packet from
 * the bridge whose members has the key, where the port admits no IPv4. */
static void
test_hostnet_peer_key (void **state)
{
  struct moat_nft_elems *l = moat_nft_elems_new ();
  struct in_addr a;
  char buf[128];

  inet_pton (AF_INET, "242.7.0.2", &a);
  assert_int_equal (moat_nft_elems_hostnet_peer (l, a, 1234), 0);
  assert_int_equal (moat_nft_elems_count (l), 1);
  assert_int_equal (moat_nft_elems_twin6 (l, l, key_addr6, NULL), 0);
  assert_int_equal (moat_nft_elems_count (l), 2);
  moat_nft_elems_format (l, 1, buf, sizeof (buf));
  assert_string_equal (buf, "hostnet_peers6: fd00:7::2 . cgroup:1234");
  moat_nft_elems_free (l);
  (void)state;
}

/* The member's elements: no IPv4 `ports` element, both IPv6 ones. */
static void
test_member_no_port4 (void **state)
{
  struct moat_record r = v6only_record ();
  struct moat_nft_member m = moat_record_member (&r);
  struct moat_elem e[MOAT_MEMBER_MAX_ELEMS];
  size_t n, ports = 0, ports6 = 0;
  moat_err_t err = { 0 };

  size_t masq = 0, masq6 = 0;

  m.masquerade = true;
  assert_int_equal (moat_member_elems (&m, false, e, &n, &err), 0);
  for (size_t i = 0; i < n; i++)
    {
      ports += moat_elem_set (&e[i]) == MOAT_SET_PORTS;
      ports6 += moat_elem_set (&e[i]) == MOAT_SET_PORTS6;
      masq += moat_elem_set (&e[i]) == MOAT_SET_MASQ;
      masq6 += moat_elem_set (&e[i]) == MOAT_SET_MASQ6;
    }
  assert_int_equal (ports, 0);
  assert_int_equal (ports6, 2);
  /* Masquerade by source alone is no key's. */
  assert_int_equal (masq, 0);
  assert_int_equal (masq6, 1);
  m.v6only = false;
  assert_int_equal (moat_member_elems (&m, false, e, &n, &err), 0);
  ports = 0;
  for (size_t i = 0; i < n; i++)
    ports += moat_elem_set (&e[i]) == MOAT_SET_PORTS;
  assert_int_equal (ports, 1);
  json_decref (r.labels);
}

static int
own6 (struct in_addr a, struct in6_addr *ret, void *data)
{
  const struct moat_record *r = data;

  if (a.s_addr != r->addr.s_addr)
    return 0;
  *ret = r->addr6;
  return 1;
}

/* A published port's IPv4 elements go once twinned: the IPv6 ones stay. */
static void
test_drop4 (void **state)
{
  struct moat_record r = v6only_record ();
  struct moat_nft_elems *l = moat_nft_elems_new ();
  struct in_addr any = { 0 };

  assert_int_equal (moat_nft_elems_publish (l, any, false, 6, 8080, r.addr, 80), 0);
  assert_int_equal (moat_nft_elems_published (l, r.addr, 6, 80), 0);
  assert_int_equal (moat_nft_elems_count (l), 2);
  assert_int_equal (moat_nft_elems_twin6 (l, l, own6, &r), 0);
  assert_int_equal (moat_nft_elems_count (l), 4);
  moat_nft_elems_drop4 (l, 0, moat_nft_elems_count (l));
  assert_int_equal (moat_nft_elems_count (l), 2);
  assert_int_equal (moat_elem_set (moat_nft_elems_at (l, 0)), MOAT_SET_PUBLISH6);
  assert_int_equal (moat_elem_set (moat_nft_elems_at (l, 1)), MOAT_SET_PUBLISHED6);
  moat_nft_elems_free (l);
  json_decref (r.labels);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_key_ranges),       cmocka_unit_test (test_key_ranges_exhausted),
    cmocka_unit_test (test_record_key),       cmocka_unit_test (test_result_v6only),
    cmocka_unit_test (test_member_no_port4),  cmocka_unit_test (test_drop4),
    cmocka_unit_test (test_hostnet_peer_key),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
