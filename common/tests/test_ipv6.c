/* SPDX-License-Identifier: Apache-2.0 */
/* Dual stack's model and allocator: IPv6 text forms, subnet6/gateway6 and
 * requested IPv6 addresses, the record's address6, the CNI result's second
 * IP, and the built-in IPv6 allocation (common/state/ipam6.c). */
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

#include "base/ip6.h"
#include "model/config.h"
#include "model/policy.h"
#include "model/record.h"
#include "model/result.h"
#include "state/ipam6.h"

#define BASE "\"cniVersion\":\"1.1.0\",\"name\":\"net1\",\"type\":\"moat\""

static const char *
text (const struct in6_addr *a)
{
  static char buf[INET6_ADDRSTRLEN];
  return moat_ipv6_text (a, buf);
}

static struct in6_addr
addr (const char *s)
{
  struct in6_addr a;
  assert_int_equal (moat_parse_ipv6 (s, &a), 0);
  return a;
}

static void
test_text_forms (void **state)
{
  struct in6_addr a;
  int len;

  assert_int_equal (moat_parse_cidr6 ("fd00:1::/64", &a, &len), 0);
  assert_int_equal (len, 64);
  assert_string_equal (text (&a), "fd00:1::");
  assert_int_equal (moat_parse_cidr6 ("fd00:1::5/128", &a, &len), 0);
  assert_int_equal (moat_parse_cidr6 ("fd00:1::5/129", &a, &len), -1);
  assert_int_equal (moat_parse_cidr6 ("fd00:1::5/0064", &a, &len), -1);
  assert_int_equal (moat_parse_cidr6 ("fd00:1::5", &a, &len), -1);
  assert_int_equal (moat_parse_cidr6 ("10.0.0.0/8", &a, &len), -1);
  assert_int_equal (moat_parse_ipv6 ("fd00:1::zz", &a), -1);
  a = addr ("fd00:1:2:3:4:5:6:7");
  assert_true (moat_ipv6_host64 (&a) == 0x0004000500060007ull);
  a = moat_ipv6_with_host64 (&a, 9);
  assert_string_equal (text (&a), "fd00:1:2:3::9");
  a = moat_ipv6_prefix (&a, 20);
  assert_string_equal (text (&a), "fd00::");
  a = addr ("fd00:1::9");
  struct in6_addr p = addr ("fd00:1::");
  assert_true (moat_ipv6_in_prefix (&a, &p, 64));
  p = addr ("fd00:2::");
  assert_false (moat_ipv6_in_prefix (&a, &p, 64));
}

static void
assert_refused (const char *json, const char *needle)
{
  struct moat_netconf c;
  moat_err_t err = { 0 };

  assert_int_equal (moat_netconf_parse (json, MOAT_CMD_ADD, &c, &err), -1);
  if (err.code != MOAT_E_CONFIG || !strstr (err.msg, needle) || strchr (err.msg, '\n'))
    fail_msg ("input %s: got code %d \"%s\", want code 7 containing \"%s\"", json, err.code,
              err.msg, needle);
  moat_netconf_free (&c);
}

static void
test_config_keys (void **state)
{
  struct moat_netconf c;
  moat_err_t err = { 0 };

  assert_int_equal (
      moat_netconf_parse ("{" BASE ",\"subnet\":\"10.1.0.0/24\"}", MOAT_CMD_ADD, &c, &err), 0);
  assert_false (c.have_subnet6);
  moat_netconf_free (&c);

  assert_int_equal (moat_netconf_parse ("{" BASE ",\"subnet\":\"10.1.0.0/24\","
                                        "\"subnet6\":\"fd00:1::/64\"}",
                                        MOAT_CMD_ADD, &c, &err),
                    0);
  assert_true (c.have_subnet6);
  assert_string_equal (text (&c.subnet6), "fd00:1::");
  assert_string_equal (text (&c.gateway6), "fd00:1::1");
  moat_netconf_free (&c);

  assert_int_equal (moat_netconf_parse ("{" BASE ",\"subnet\":\"10.1.0.0/24\","
                                        "\"subnet6\":\"fd00:1::/64\",\"gateway6\":\"fd00:1::fe\"}",
                                        MOAT_CMD_ADD, &c, &err),
                    0);
  assert_string_equal (text (&c.gateway6), "fd00:1::fe");
  moat_netconf_free (&c);

  /* Delegated IPAM stands for the IPv4 side. */
  assert_int_equal (moat_netconf_parse ("{" BASE ",\"ipam\":{\"type\":\"host-local\"},"
                                        "\"subnet6\":\"fd00:1::/64\"}",
                                        MOAT_CMD_ADD, &c, &err),
                    0);
  assert_true (c.have_subnet6);
  moat_netconf_free (&c);

#define V4 "{" BASE ",\"subnet\":\"10.1.0.0/24\","
  assert_refused (V4 "\"subnet6\":\"fd00:1::/48\"}",
                  "subnet6: prefix /48 not supported (only /64)");
  assert_refused (V4 "\"subnet6\":\"fd00:1::\"}", "subnet6: \"fd00:1::\" is not an IPv6 CIDR");
  assert_refused (V4 "\"subnet6\":\"10.2.0.0/64\"}", "is not an IPv6 CIDR");
  assert_refused (V4 "\"subnet6\":64}", "subnet6: must be a string");
  assert_refused (V4 "\"subnet6\":\"fd00:1::5/64\"}",
                  "subnet6: \"fd00:1::5/64\" has host bits set");
  assert_refused (V4 "\"subnet6\":\"fe80::/64\"}",
                  "subnet6: \"fe80::/64\" is not a unicast prefix");
  assert_refused (V4 "\"subnet6\":\"ff02::/64\"}", "is not a unicast prefix");
  assert_refused (V4 "\"gateway6\":\"fd00:1::1\"}", "gateway6: needs \"subnet6\"");
  assert_refused (V4 "\"subnet6\":\"fd00:1::/64\",\"gateway6\":\"fd00:2::1\"}",
                  "gateway6: fd00:2::1 is not a host address of subnet6 fd00:1::");
  assert_refused (V4 "\"subnet6\":\"fd00:1::/64\",\"gateway6\":\"fd00:1::\"}",
                  "gateway6: fd00:1:: is not a host address");
  assert_refused (V4 "\"subnet6\":\"fd00:1::/64\",\"gateway6\":\"10.1.0.1\"}",
                  "gateway6: \"10.1.0.1\" is not an IPv6 address");
  /* IPv6-only: subnet6 alone; no name server; no IPv4 subnet in the key range. */
  assert_int_equal (
      moat_netconf_parse ("{" BASE ",\"subnet6\":\"fd00:1::/64\"}", MOAT_CMD_ADD, &c, &err), 0);
  assert_true (c.v6only);
  assert_false (c.have_subnet);
  moat_netconf_free (&c);
  assert_int_equal (moat_netconf_parse ("{" BASE ",\"subnet\":\"10.1.0.0/24\","
                                        "\"subnet6\":\"fd00:1::/64\"}",
                                        MOAT_CMD_ADD, &c, &err),
                    0);
  assert_false (c.v6only);
  moat_netconf_free (&c);
  /* An IPv6-only network's names are served at its IPv6 gateway. */
  assert_int_equal (moat_netconf_parse ("{" BASE ",\"subnet6\":\"fd00:1::/64\",\"names\":true}",
                                        MOAT_CMD_ADD, &c, &err),
                    0);
  assert_true (c.v6only && c.dns);
  moat_netconf_free (&c);
  assert_refused ("{" BASE ",\"subnet6\":\"fd00:1::/64\",\"gateway\":\"10.1.0.1\"}",
                  "gateway: needs \"subnet\"");
  assert_refused ("{" BASE "}",
                  "subnet: required when there is no \"ipam\" section nor \"subnet6\"");
  assert_refused ("{" BASE ",\"subnet\":\"240.1.0.0/16\",\"subnet6\":\"fd00:1::/64\"}",
                  "subnet: \"240.1.0.0/16\" overlaps 240.0.0.0/4");
  assert_refused ("{" BASE ",\"subnet\":\"255.0.0.0/8\"}", "overlaps 240.0.0.0/4");
  /* Requested addresses. */
  assert_refused (V4 "\"subnet6\":\"fd00:1::/64\",\"args\":{\"cni\":{\"ips\":[\"fd00:1::zz\"]}}}",
                  "args.cni.ips: \"fd00:1::zz\" is not an IPv6 address");
#undef V4
}

static void
test_requested_ips (void **state)
{
  struct moat_netconf c;
  moat_err_t err = { 0 };
  char a[INET_ADDRSTRLEN];

  assert_int_equal (moat_netconf_parse ("{" BASE ",\"subnet\":\"10.1.0.0/24\","
                                        "\"subnet6\":\"fd00:1::/64\",\"runtimeConfig\":{\"ips\":"
                                        "[\"fd00:1::7/64\",\"10.1.0.7/24\",\"fd00:1::8\"]}}",
                                        MOAT_CMD_ADD, &c, &err),
                    0);
  assert_true (c.have_ip);
  assert_true (c.have_ip6);
  assert_string_equal (inet_ntop (AF_INET, &c.ip, a, sizeof (a)), "10.1.0.7");
  assert_string_equal (text (&c.ip6), "fd00:1::7");
  moat_netconf_free (&c);

  /* The CRI-style call: args.cni.ips with only an IPv6 address. */
  assert_int_equal (moat_netconf_parse ("{" BASE ",\"subnet\":\"10.1.0.0/24\","
                                        "\"subnet6\":\"fd00:1::/64\",\"args\":{\"cni\":{\"ips\":"
                                        "[\"fd00:1::9\"]}}}",
                                        MOAT_CMD_ADD, &c, &err),
                    0);
  assert_false (c.have_ip);
  assert_true (c.have_ip6);
  assert_string_equal (text (&c.ip6), "fd00:1::9");
  moat_netconf_free (&c);

  /* An IPv4 network passes IPv6 requests over (well-formed or not), as
   * before dual stack. */
  assert_int_equal (moat_netconf_parse ("{" BASE ",\"subnet\":\"10.1.0.0/24\",\"runtimeConfig\":"
                                        "{\"ips\":[\"fd00:1::zz\",\"10.1.0.7\"]}}",
                                        MOAT_CMD_ADD, &c, &err),
                    0);
  assert_true (c.have_ip);
  assert_false (c.have_ip6);
  moat_netconf_free (&c);
}

static void
test_record_address6 (void **state)
{
  struct moat_record r = { 0 }, back;
  moat_err_t err = { 0 };
  json_t *j;

  r.network = "n";
  r.container_id = "c";
  r.ifname = "eth0";
  r.host_if = "mt0123456789abc";
  r.bridge = "moat0";
  r.prefixlen = 24;
  inet_pton (AF_INET, "10.1.0.2", &r.addr);
  inet_pton (AF_INET, "10.1.0.1", &r.gateway);
  r.labels = json_object ();
  j = moat_record_to_json (&r);
  assert_non_null (j);
  assert_null (json_object_get (j, "address6")); /* an IPv4 record stays as it was */
  json_decref (j);

  r.have_addr6 = true;
  r.addr6 = addr ("fd00:1::2");
  r.gateway6 = addr ("fd00:1::1");
  j = moat_record_to_json (&r);
  assert_string_equal (json_string_value (json_object_get (j, "address6")), "fd00:1::2/64");
  assert_string_equal (json_string_value (json_object_get (j, "gateway6")), "fd00:1::1");
  assert_int_equal (moat_record_from_json (j, &back, &err), 0);
  assert_true (back.have_addr6);
  assert_string_equal (text (&back.addr6), "fd00:1::2");
  assert_string_equal (text (&back.gateway6), "fd00:1::1");
  /* The member the kernel layer gets (the shared plan's three fields). */
  struct moat_nft_member m = moat_record_member (&back);
  assert_true (m.have_addr6);
  assert_string_equal (text (&m.addr6), "fd00:1::2");
  assert_string_equal (text (&m.gateway6), "fd00:1::1");
  back.have_addr6 = false;
  m = moat_record_member (&back);
  assert_false (m.have_addr6);
  moat_record_free (&back);

  json_object_set_new (j, "address6", json_string ("fd00:1::2/48"));
  assert_int_equal (moat_record_from_json (j, &back, &err), -1);
  json_object_set_new (j, "address6", json_string ("fd00:1::2/64"));
  json_object_del (j, "gateway6");
  assert_int_equal (moat_record_from_json (j, &back, &err), -1);
  json_decref (j);
  json_decref (r.labels);
}

static struct moat_add_result
sample (void)
{
  struct moat_add_result r = {
    .bridge = "moat0",
    .bridge_mac = { 2, 0, 0, 0, 0, 1 },
    .host_if = "mt0123456789abc",
    .host_mac = { 2, 0, 0, 0, 0, 2 },
    .ifname = "eth0",
    .container_mac = { 2, 0x6d, 10, 1, 0, 2 },
    .sandbox = "/var/run/netns/c1",
    .prefixlen = 24,
    .have_addr6 = true,
  };
  inet_pton (AF_INET, "10.1.0.2", &r.addr);
  inet_pton (AF_INET, "10.1.0.1", &r.gateway);
  r.addr6 = addr ("fd00:1::2");
  r.gateway6 = addr ("fd00:1::1");
  return r;
}

static void
test_result_dual (void **state)
{
  struct moat_add_result r = sample ();
  json_t *j = moat_result_build ("1.0.0", &r);
  char *s = json_dumps (json_object_get (j, "ips"), JSON_COMPACT | JSON_SORT_KEYS);

  assert_string_equal (s,
                       "[{\"address\":\"10.1.0.2/24\",\"gateway\":\"10.1.0.1\",\"interface\":2},"
                       "{\"address\":\"fd00:1::2/64\",\"gateway\":\"fd00:1::1\",\"interface\":2}]");
  free (s);
  s = json_dumps (json_object_get (j, "routes"), JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal (s, "[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.1.0.1\"},"
                          "{\"dst\":\"::/0\",\"gw\":\"fd00:1::1\"}]");
  free (s);

  struct in6_addr a, g;
  int len;
  moat_err_t err = { 0 };
  assert_int_equal (moat_result_first_ipv6 (j, "prevResult", &a, &len, &g, &err), 1);
  assert_string_equal (text (&a), "fd00:1::2");
  assert_int_equal (len, 64);
  assert_string_equal (text (&g), "fd00:1::1");
  json_decref (j);

  j = moat_result_build ("0.4.0", &r);
  s = json_dumps (json_object_get (j, "ips"), JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal (s, "[{\"address\":\"10.1.0.2/24\",\"gateway\":\"10.1.0.1\",\"interface\":2,"
                          "\"version\":\"4\"},{\"address\":\"fd00:1::2/64\",\"gateway\":"
                          "\"fd00:1::1\",\"interface\":2,\"version\":\"6\"}]");
  free (s);
  json_decref (j);

  r.have_addr6 = false;
  j = moat_result_build ("1.0.0", &r);
  assert_int_equal (json_array_size (json_object_get (j, "ips")), 1);
  assert_int_equal (json_array_size (json_object_get (j, "routes")), 1);
  assert_int_equal (moat_result_first_ipv6 (j, "prevResult", &a, &len, &g, &err), 0);
  json_decref (j);

  j = json_pack ("{s:[{s:s}]}", "ips", "address", "fd00:1::2");
  assert_int_equal (moat_result_first_ipv6 (j, "ipam result", &a, &len, &g, &err), -1);
  assert_int_equal (err.code, MOAT_E_DECODE);
  json_decref (j);
}

static int
rm_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove (path);
}

static void
test_ipam6 (void **state)
{
  char root[] = "/tmp/moat-test-ipam6-XXXXXX", dir[64];
  struct moat_pool6 pool = { addr ("fd00:1::"), addr ("fd00:1::1") };
  struct in6_addr a, req;
  moat_err_t err = { 0 };
  char *keep[] = { "c2@eth0", NULL };

  assert_non_null (mkdtemp (root));
  snprintf (dir, sizeof (dir), "%s/ipam", root);
  /* The hint's address. */
  assert_int_equal (moat_ipam6_alloc (dir, &pool, "c1@eth0", NULL, 5, &a, &err), 0);
  assert_string_equal (text (&a), "fd00:1::5");
  /* Again for the same owner: the same address (a retried ADD). */
  assert_int_equal (moat_ipam6_alloc (dir, &pool, "c1@eth0", NULL, 5, &a, &err), 0);
  assert_string_equal (text (&a), "fd00:1::5");
  /* Another owner with the same hint: the next free one; never the gateway. */
  assert_int_equal (moat_ipam6_alloc (dir, &pool, "c2@eth0", NULL, 5, &a, &err), 0);
  assert_string_equal (text (&a), "fd00:1::6");
  assert_int_equal (moat_ipam6_alloc (dir, &pool, "c3@eth0", NULL, 1, &a, &err), 0);
  assert_string_equal (text (&a), "fd00:1::2");
  /* Requested. */
  req = addr ("fd00:1::5");
  assert_int_equal (moat_ipam6_alloc (dir, &pool, "c4@eth0", &req, 0, &a, &err), -1);
  assert_int_equal (err.code, MOAT_E_IPAM);
  assert_string_equal (err.msg, "address fd00:1::5 is already in use");
  req = addr ("fd00:2::5");
  assert_int_equal (moat_ipam6_alloc (dir, &pool, "c4@eth0", &req, 0, &a, &err), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_string_equal (err.msg, "ips: fd00:2::5 is outside subnet6 fd00:1::/64");
  req = addr ("fd00:1::1");
  assert_int_equal (moat_ipam6_alloc (dir, &pool, "c4@eth0", &req, 0, &a, &err), -1);
  assert_string_equal (err.msg, "ips: fd00:1::1 is the gateway of fd00:1::/64");
  req = addr ("fd00:1::");
  assert_int_equal (moat_ipam6_alloc (dir, &pool, "c4@eth0", &req, 0, &a, &err), -1);
  req = addr ("fd00:1::abcd");
  assert_int_equal (moat_ipam6_alloc (dir, &pool, "c4@eth0", &req, 0, &a, &err), 0);
  assert_string_equal (text (&a), "fd00:1::abcd");
  /* Release: only by the owner; idempotent. */
  a = addr ("fd00:1::5");
  assert_int_equal (moat_ipam6_release (dir, &a, "c2@eth0", &err), 0);
  assert_int_equal (moat_ipam6_alloc (dir, &pool, "c5@eth0", &a, 0, &a, &err), -1);
  assert_int_equal (moat_ipam6_release (dir, &a, "c1@eth0", &err), 0);
  assert_int_equal (moat_ipam6_release (dir, &a, "c1@eth0", &err), 0);
  assert_int_equal (moat_ipam6_alloc (dir, &pool, "c5@eth0", &a, 0, &a, &err), 0);
  /* By owner (a DEL without record), and GC. */
  assert_int_equal (moat_ipam6_release_owner (dir, "c5@eth0", &err), 0);
  char path[128];
  snprintf (path, sizeof (path), "%s/fd00:1::5", dir);
  assert_int_equal (access (path, F_OK), -1);
  assert_int_equal (moat_ipam6_release_unowned (dir, keep, &err), 0);
  snprintf (path, sizeof (path), "%s/fd00:1::6", dir);
  assert_int_equal (access (path, F_OK), 0);
  snprintf (path, sizeof (path), "%s/fd00:1::2", dir);
  assert_int_equal (access (path, F_OK), -1);
  snprintf (path, sizeof (path), "%s/fd00:1::abcd", dir);
  assert_int_equal (access (path, F_OK), -1);
  /* An IPv4 file beside them is not the IPv6 side's. */
  snprintf (path, sizeof (path), "%s/10.1.0.5", dir);
  FILE *f = fopen (path, "w");
  fputs ("zz@eth0\n", f);
  fclose (f);
  assert_int_equal (moat_ipam6_release_unowned (dir, keep, &err), 0);
  assert_int_equal (access (path, F_OK), 0);
  nftw (root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_text_forms),    cmocka_unit_test (test_config_keys),
    cmocka_unit_test (test_requested_ips), cmocka_unit_test (test_record_address6),
    cmocka_unit_test (test_result_dual),   cmocka_unit_test (test_ipam6),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
