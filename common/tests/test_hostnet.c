/* SPDX-License-Identifier: Apache-2.0 */
/* A host-network container's record (model/hostnet.h): JSON both ways, bad
 * records refused, what its policy compiles to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/cleanup.h"
#include "model/hostnet.h"
#include "model/policy.h"
#include "model/record.h"
#include "ruleset/elems.h"

static json_t *
load (const char *text)
{
  json_t *j = json_loads (text, 0, NULL);

  assert_non_null (j);
  return j;
}

/* The network's ceiling (model/ceiling.h): everything. */
static json_t *
allow_all (void)
{
  return load ("{\"internet\": true, \"allowHost\": true, \"egress\": true, \"ingress\": "
               "true, \"proxy\": true, \"publish\": true}");
}

static void
test_round_trip (void **state)
{
  struct moat_hostnet h = {
    .network = (char *)"n1",
    .container_id = (char *)"c1",
    .cgroup_dir = (char *)"/run/moat/.cgroup2/moat/c1",
    .cgroup = UINT64_C (1) << 40,
    .own_group = true,
    .pending = true,
    .ident = (char *)"0123456789abcdef",
  };
  json_auto_t *j = moat_hostnet_to_json (&h);
  struct moat_hostnet back;
  moat_err_t err = { 0 };

  assert_non_null (j);
  assert_int_equal (moat_hostnet_from_json (j, &back, &err), 0);
  assert_string_equal (back.network, "n1");
  assert_string_equal (back.container_id, "c1");
  assert_string_equal (back.cgroup_dir, h.cgroup_dir);
  assert_true (back.cgroup == h.cgroup);
  assert_true (back.own_group);
  assert_true (back.pending);
  assert_false (back.internet);
  assert_null (back.policy);
  assert_string_equal (back.ident, "0123456789abcdef");
  assert_false (back.host_process);
  assert_null (json_object_get (j, "hostProcess"));
  /* "ipv6" only when true: a record from before reads as IPv4-only. */
  assert_false (back.ipv6);
  assert_null (json_object_get (j, "ipv6"));
  moat_hostnet_free (&back);
  h.ipv6 = true;
  json_decref (j);
  j = moat_hostnet_to_json (&h);
  assert_true (json_is_true (json_object_get (j, "ipv6")));
  assert_int_equal (moat_hostnet_from_json (j, &back, &err), 0);
  assert_true (back.ipv6);
  moat_hostnet_free (&back);
  (void)state;
}

/* moatctl host attach's record: "hostProcess", a group moat did not make. */
static void
test_host_process (void **state)
{
  struct moat_hostnet h = {
    .network = (char *)"n1",
    .container_id = (char *)"web.service",
    .cgroup_dir = (char *)"/sys/fs/cgroup/system.slice/web.service",
    .cgroup = 42,
    .host_process = true,
  };
  json_auto_t *j = moat_hostnet_to_json (&h);
  struct moat_hostnet back;
  moat_err_t err = { 0 };

  assert_non_null (j);
  assert_true (json_is_true (json_object_get (j, "hostProcess")));
  assert_int_equal (moat_hostnet_from_json (j, &back, &err), 0);
  assert_true (back.host_process);
  assert_false (back.own_group);
  assert_string_equal (back.container_id, "web.service");
  moat_hostnet_free (&back);
  (void)state;
}

static void
test_bad_records (void **state)
{
  static const char *const bad[] = {
    "{}",
    "{\"kind\": \"veth\", \"network\": \"n\", \"containerId\": \"c\", \"cgroupDir\": \"/x\","
    " \"cgroup\": 5, \"ownGroup\": true}",
    "{\"kind\": \"host-network\", \"network\": \"n\", \"containerId\": \"c\", \"cgroupDir\": "
    "\"/x\", \"cgroup\": 0, \"ownGroup\": true}",
    "{\"kind\": \"host-network\", \"network\": \"n\", \"containerId\": \"c\", \"cgroupDir\": "
    "\"/x\", \"cgroup\": \"5\", \"ownGroup\": true}",
    "{\"kind\": \"host-network\", \"network\": 7, \"containerId\": \"c\", \"cgroupDir\": \"/x\","
    " \"cgroup\": 5, \"ownGroup\": true}",
  };

  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    {
      json_auto_t *j = load (bad[i]);
      struct moat_hostnet h;
      moat_err_t err = { 0 };

      if (moat_hostnet_from_json (j, &h, &err) == 0)
        fail_msg ("accepted: %s", bad[i]);
      assert_int_equal (err.code, MOAT_E_STATE);
      assert_non_null (strstr (err.msg, "host-network record"));
    }
  (void)state;
}

/* labels, egress, ingress, internet: membership, the identity's jump,
 * one element per ACL, internet as egress to every address. */
static void
test_compile (void **state)
{
  json_auto_t *annots = load ("{\"io.moat.labels\": \"app=web\", \"io.moat.egress\": "
                              "\"192.0.2.0/24 tcp/443\", \"io.moat.ingress\": \"198.51.100.0/24 "
                              "tcp/8080,203.0.113.7 udp/53\", \"io.moat.internet\": \"true\"}");
  struct moat_record rec
      = { .network = (char *)"n1", .labels = json_object (), .allow = allow_all () };
  _cleanup_ (moat_policy_free) struct moat_policy p = { 0 };
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *l = moat_nft_elems_new ();
  static const char *const want[] = {
    "hostnet: cgroup:77",
    "hostnet_ident: cgroup:77 : jump id_0123456789abcdef",
    "hostnet_egress: cgroup:77 . 192.0.2.0-192.0.2.255 . tcp . 443",
    "hostnet_ingress: 198.51.100.0-198.51.100.255 . cgroup:77 . tcp . 8080",
    "hostnet_ingress: 203.0.113.7 . cgroup:77 . udp . 53",
    "hostnet_egress: cgroup:77 . 0.0.0.0-255.255.255.255 . 0-255 . 0-65535",
  };
  moat_err_t err = { 0 };
  char buf[256];

  assert_non_null (l);
  if (moat_policy_resolve (&rec, annots, &p, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_int_equal (moat_hostnet_policy_check ("c1", &p, &err), 0);
  assert_int_equal (moat_hostnet_compile (77, "0123456789abcdef", false, false, &p, l), 0);
  assert_int_equal (moat_nft_elems_count (l), sizeof (want) / sizeof (want[0]));
  for (size_t i = 0; i < moat_nft_elems_count (l); i++)
    {
      moat_nft_elems_format (l, i, buf, sizeof (buf));
      assert_string_equal (buf, want[i]);
    }
  json_decref (rec.labels);
  json_decref (rec.allow);
  (void)state;
}

/* On a dual-stack network: the twins of its own elements (the jump to
 * id_<identity>6, every address ::/0; an outside IPv4 range none) and its
 * IPv6 range straight in the twin set; on an IPv4-only one the IPv6 range
 * gives nothing. */
static void
test_compile_ipv6 (void **state)
{
  json_auto_t *annots = load ("{\"io.moat.labels\": \"app=web\", \"io.moat.egress\": "
                              "\"192.0.2.0/24 tcp/443,2001:db8::/32 icmp\", \"io.moat.ingress\": "
                              "\"2001:db8:1::7 udp/53\", \"io.moat.internet\": \"true\"}");
  struct moat_record rec
      = { .network = (char *)"n1", .labels = json_object (), .allow = allow_all () };
  _cleanup_ (moat_policy_free) struct moat_policy p = { 0 };
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *l = moat_nft_elems_new ();
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *l4 = moat_nft_elems_new ();
  static const char *const want[] = {
    "hostnet: cgroup:77",
    "hostnet_ident: cgroup:77 : jump id_0123456789abcdef",
    "hostnet_egress: cgroup:77 . 192.0.2.0-192.0.2.255 . tcp . 443",
    "hostnet_egress6: cgroup:77 . 2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff . ipv6-icmp "
    ". 0-65535",
    "hostnet_ingress6: 2001:db8:1::7 . cgroup:77 . udp . 53",
    "hostnet_egress: cgroup:77 . 0.0.0.0-255.255.255.255 . 0-255 . 0-65535",
    "hostnet_ident6: cgroup:77 : jump id_0123456789abcdef6",
    "hostnet_egress6: cgroup:77 . ::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff . 0-255 . 0-65535",
  };
  moat_err_t err = { 0 };
  char buf[256];

  assert_non_null (l);
  assert_non_null (l4);
  if (moat_policy_resolve (&rec, annots, &p, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_int_equal (moat_hostnet_compile (77, "0123456789abcdef", false, true, &p, l), 0);
  assert_int_equal (moat_nft_elems_count (l), sizeof (want) / sizeof (want[0]));
  for (size_t i = 0; i < moat_nft_elems_count (l); i++)
    {
      moat_nft_elems_format (l, i, buf, sizeof (buf));
      assert_string_equal (buf, want[i]);
    }
  assert_int_equal (moat_hostnet_compile (77, "0123456789abcdef", false, false, &p, l4), 0);
  for (size_t i = 0; i < moat_nft_elems_count (l4); i++)
    assert_false (moat_nft_elems_at (l4, i)->set->v6);
  assert_int_equal (moat_nft_elems_count (l4), 4);
  json_decref (rec.labels);
  json_decref (rec.allow);
  (void)state;
}

static void
test_refused_keys (void **state)
{
  json_auto_t *annots = load ("{\"io.moat.proxy\": \"192.0.2.1:3128\"}");
  struct moat_record rec
      = { .network = (char *)"n1", .labels = json_object (), .allow = allow_all () };
  _cleanup_ (moat_policy_free) struct moat_policy p = { 0 };
  moat_err_t err = { 0 };

  if (moat_policy_resolve (&rec, annots, &p, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_int_equal (moat_hostnet_policy_check ("c1", &p, &err), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_string_equal (err.msg, "io.moat.proxy: not for host-network container \"c1\" (it shares "
                                "the host's network namespace)");
  json_decref (rec.labels);
  json_decref (rec.allow);
  (void)state;
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_round_trip),   cmocka_unit_test (test_host_process),
    cmocka_unit_test (test_bad_records),  cmocka_unit_test (test_compile),
    cmocka_unit_test (test_refused_keys), cmocka_unit_test (test_compile_ipv6),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
