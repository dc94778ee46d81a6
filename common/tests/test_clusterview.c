/* SPDX-License-Identifier: Apache-2.0 */
/* A cluster view read and checked (model/clusterview.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "model/clusterview.h"

/* 32 bytes 0x00, 0x01, ..., 0x1f in base64. */
#define WG_KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define NODES                                                                                      \
  "\"nodes\": [{\"node\": \"n1\", \"underlay\": \"192.0.2.11\", \"subnet\": \"10.90.1.0/24\"},"    \
  " {\"node\": \"n2\", \"underlay\": \"192.0.2.12\", \"subnet\": \"10.90.2.0/24\","                \
  " \"mac\": \"02:00:00:00:00:12\", \"wgKey\": \"" WG_KEY "\"}]"
#define MEMBER(node, net, addr)                                                                    \
  "{\"node\": \"" node "\", \"network\": \"" net "\", \"container\": \"c-" node addr "\","         \
  " \"address\": \"" addr "\", \"policy\": {\"labels\": {\"app\": \"web\"}}}"

static void
refused (const char *text, const char *want)
{
  struct moat_view v = { 0 };
  moat_err_t err = { 0 };
  json_t *j = json_loads (text, 0, NULL);

  assert_non_null (j);
  assert_int_equal (moat_view_parse (j, &v, &err), -1);
  if (err.code != MOAT_E_CONFIG || !strstr (err.msg, want))
    fail_msg ("view %s: got \"%s\", want \"%s\"", text, err.msg, want);
  moat_view_free (&v);
  json_decref (j);
}

static void
test_view_read (void **state)
{
  struct moat_view v = { 0 };
  moat_err_t err = { 0 };
  json_t *j = json_loads ("{\"cluster\": \"c1\", \"revision\": 3, " NODES
                          ", \"members\": [" MEMBER ("n2", "net", "10.90.2.5") "]}",
                          0, NULL);
  char text[INET_ADDRSTRLEN];

  assert_non_null (j);
  assert_int_equal (moat_view_parse (j, &v, &err), 0);
  assert_string_equal (v.cluster, "c1");
  assert_int_equal (v.nnodes, 2);
  assert_false (v.nodes[0].have_mac);
  assert_true (v.nodes[1].have_mac);
  assert_int_equal (v.nodes[1].mac[5], 0x12);
  assert_false (v.nodes[0].have_wg_key);
  assert_true (v.nodes[1].have_wg_key);
  assert_int_equal (v.nodes[1].wg_key[0], 0x00);
  assert_int_equal (v.nodes[1].wg_key[31], 0x1f);
  assert_int_equal (v.nodes[1].prefixlen, 24);
  assert_int_equal (v.nmembers, 1);
  inet_ntop (AF_INET, &v.members[0].addr, text, sizeof (text));
  assert_string_equal (text, "10.90.2.5");
  assert_string_equal (v.members[0].network, "net");
  assert_null (v.members[0].name);
  moat_view_free (&v);
  json_decref (j);
}

/* A member joins only on its network, on another node, inside its node's
 * subnet, its node in the view. */
static void
test_member_here (void **state)
{
  struct moat_view v = { 0 };
  moat_err_t err = { 0 };
  json_t *j = json_loads (
      "{\"cluster\": \"c1\", " NODES
      ", \"members\": [" MEMBER ("n2", "net", "10.90.2.5") "," MEMBER (
          "n2", "net", "10.90.1.5") "," MEMBER ("n9", "net",
                                                "10.90.9.5") "," MEMBER ("n1", "net",
                                                                         "10.90.1.6") "]}",
      0, NULL);

  assert_non_null (j);
  assert_int_equal (moat_view_parse (j, &v, &err), 0);
  assert_true (moat_view_member_here (&v, "n1", "net", &v.members[0]));
  assert_false (moat_view_member_here (&v, "n1", "other", &v.members[0]));
  assert_false (moat_view_member_here (&v, "n2", "net", &v.members[0])); /* n2's own */
  assert_false (moat_view_member_here (&v, "n1", "net", &v.members[1])); /* n1's subnet */
  assert_false (moat_view_member_here (&v, "n1", "net", &v.members[2])); /* no node n9 */
  assert_false (moat_view_member_here (&v, "n1", "net", &v.members[3])); /* self's */
  moat_view_free (&v);
  json_decref (j);
}

/* Dual stack: a node's subnet6 and underlay6, a member's address6, which
 * must lie in its node's subnet6 (of a node without one, it is ignored). */
#define NODES6                                                                                     \
  "\"nodes\": [{\"node\": \"n1\", \"underlay\": \"192.0.2.11\", \"subnet\": \"10.90.1.0/24\","     \
  " \"subnet6\": \"fd00:90:1::/64\"},"                                                             \
  " {\"node\": \"n2\", \"underlay\": \"192.0.2.12\", \"subnet\": \"10.90.2.0/24\","                \
  " \"subnet6\": \"fd00:90:2::/64\", \"underlay6\": \"fe80::12\"},"                                \
  " {\"node\": \"n3\", \"underlay\": \"192.0.2.13\", \"subnet\": \"10.90.3.0/24\", \"subnet6\": "  \
  "null}]"
#define MEMBER6(node, addr, addr6)                                                                 \
  "{\"node\": \"" node "\", \"network\": \"net\", \"container\": \"c-" node addr "\","             \
  " \"address\": \"" addr "\", \"address6\": \"" addr6 "\", \"policy\": {}}"

static void
test_view6 (void **state)
{
  struct moat_view v = { 0 };
  moat_err_t err = { 0 };
  json_t *j = json_loads (
      "{\"cluster\": \"c1\", " NODES6
      ", \"members\": [" MEMBER6 ("n2", "10.90.2.5", "fd00:90:2::5") "," MEMBER6 (
          "n2", "10.90.2.6",
          "fd00:90:1::6") "," MEMBER6 ("n3", "10.90.3.7",
                                       "fd00:90:3::7") "," MEMBER ("n2", "net", "10.90.2.8") "]}",
      0, NULL);
  char text[INET6_ADDRSTRLEN];

  assert_non_null (j);
  assert_int_equal (moat_view_parse (j, &v, &err), 0);
  assert_true (v.nodes[0].have_subnet6);
  assert_false (v.nodes[0].have_underlay6);
  assert_int_equal (v.nodes[1].prefixlen6, 64);
  assert_true (v.nodes[1].have_underlay6);
  inet_ntop (AF_INET6, &v.nodes[1].underlay6, text, sizeof (text));
  assert_string_equal (text, "fe80::12");
  assert_false (v.nodes[2].have_subnet6);
  assert_true (v.members[0].have_addr6);
  assert_true (moat_view_member_here (&v, "n1", "net", &v.members[0]));
  assert_false (moat_view_member_here (&v, "n1", "net", &v.members[1])); /* n1's subnet6 */
  /* n3 has no subnet6 (an older watcher): its address6 is ignored. */
  assert_true (moat_view_member_here (&v, "n1", "net", &v.members[2]));
  assert_true (moat_view_node_find (&v, "n3") && !moat_view_node_find (&v, "n3")->have_subnet6);
  assert_null (moat_view_node_find (&v, "n9"));
  assert_false (v.members[3].have_addr6);
  assert_true (moat_view_member_here (&v, "n1", "net", &v.members[3])); /* IPv4 only */
  moat_view_free (&v);
  json_decref (j);
  refused (
      "{\"cluster\": \"c1\", \"nodes\": [{\"node\": \"a\", \"underlay\": \"192.0.2.1\", "
      "\"subnet\": \"10.1.0.0/24\", \"subnet6\": \"fd00:1::/32\"}, {\"node\": \"b\", "
      "\"underlay\": \"192.0.2.2\", \"subnet\": \"10.2.0.0/24\", \"subnet6\": \"fd00:1:5::/64\"}]}",
      "view: nodes \"a\" and \"b\": their subnet6s overlap");
  refused ("{\"cluster\": \"c1\", \"nodes\": [{\"node\": \"a\", \"underlay\": \"192.0.2.1\", "
           "\"subnet\": \"10.1.0.0/24\", \"subnet6\": \"fd00:1::5/64\"}]}",
           "view: nodes[0].subnet6: want an IPv6 prefix");
  refused ("{\"cluster\": \"c1\", \"nodes\": [{\"node\": \"a\", \"underlay\": \"192.0.2.1\", "
           "\"subnet\": \"10.1.0.0/24\", \"underlay6\": \"10.0.0.1\"}]}",
           "view: nodes[0].underlay6: want an IPv6 address");
  refused ("{\"cluster\": \"c1\", \"members\": [{\"node\": \"n\", \"network\": \"x\", "
           "\"container\": \"c\", \"address\": \"10.1.0.3\", \"address6\": 6}]}",
           "view: members[0].address6: want an IPv6 address");
}

static void
test_view_refused (void **state)
{
  refused ("[]", "view: want a JSON object");
  refused ("{}", "view: cluster: want the cluster's name");
  refused ("{\"cluster\": \"a/b\"}", "view: cluster:");
  refused ("{\"cluster\": \"c1\", \"nodes\": {}}", "view: nodes and members: want arrays");
  refused ("{\"cluster\": \"c1\", \"nodes\": [{\"underlay\": \"192.0.2.1\"}]}",
           "view: nodes[0].node: want a name");
  refused ("{\"cluster\": \"c1\", \"nodes\": [{\"node\": \"n\", \"underlay\": \"192.0.2\"}]}",
           "view: nodes[0].underlay: want an IPv4 address");
  refused ("{\"cluster\": \"c1\", \"nodes\": [{\"node\": \"n\", \"underlay\": \"192.0.2.1\", "
           "\"subnet\": \"10.1.0.5/24\"}]}",
           "view: nodes[0].subnet: want an IPv4 subnet");
  refused ("{\"cluster\": \"c1\", \"nodes\": [{\"node\": \"n\", \"underlay\": \"192.0.2.1\", "
           "\"subnet\": \"10.1.0.0/24\", \"mac\": \"zz\"}]}",
           "view: nodes[0].mac: want a MAC address");
  refused ("{\"cluster\": \"c1\", \"nodes\": [{\"node\": \"n\", \"underlay\": \"192.0.2.1\", "
           "\"subnet\": \"10.1.0.0/24\", \"wgKey\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBka\"}]}",
           "view: nodes[0].wgKey: want a WireGuard public key");
  refused (
      "{\"cluster\": \"c1\", \"nodes\": [{\"node\": \"n\", \"underlay\": \"192.0.2.1\", "
      "\"subnet\": \"10.1.0.0/24\", \"wgKey\": \"!AECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}]}",
      "view: nodes[0].wgKey: want a WireGuard public key");
  refused ("{\"cluster\": \"c1\", \"nodes\": [{\"node\": \"a\", \"underlay\": \"192.0.2.1\", "
           "\"subnet\": \"10.1.0.0/16\"}, {\"node\": \"b\", \"underlay\": \"192.0.2.2\", "
           "\"subnet\": \"10.1.5.0/24\"}]}",
           "view: nodes \"a\" and \"b\": their subnets overlap");
  refused ("{\"cluster\": \"c1\", \"members\": [{\"node\": \"n\", \"network\": \"\"}]}",
           "view: members[0].network: want a network's name");
  refused ("{\"cluster\": \"c1\", \"members\": [{\"node\": \"n\", \"network\": \"x\", "
           "\"container\": \"../c\"}]}",
           "view: members[0].container: want a container id");
  refused ("{\"cluster\": \"c1\", \"members\": [{\"node\": \"n\", \"network\": \"x\", "
           "\"container\": \"c\", \"address\": \"10.1.0.300\"}]}",
           "view: members[0].address: want an IPv4 address");
  refused ("{\"cluster\": \"c1\", \"members\": [{\"node\": \"n\", \"network\": \"x\", "
           "\"container\": \"c\", \"address\": \"10.1.0.3\", \"policy\": []}]}",
           "view: members[0].policy: want an object");
}

static void
test_subnets_overlap (void **state)
{
  struct in_addr a, b;

  inet_pton (AF_INET, "10.1.0.0", &a);
  inet_pton (AF_INET, "10.1.1.0", &b);
  assert_false (moat_subnets_overlap (a, 24, b, 24));
  assert_true (moat_subnets_overlap (a, 16, b, 24));
  assert_true (moat_subnets_overlap (b, 24, a, 16));
  inet_pton (AF_INET, "10.1.1.77", &b);
  assert_true (moat_subnets_overlap (b, 32, a, 16));
}

/* Both ends derive one tunnel: the pair's VNI, each other's MAC. */
static void
test_tunnel_pair (void **state)
{
  struct moat_tunnel a, b, c;

  (void)state;
  moat_view_tunnel ("c1", "n1", "n2", &a);
  moat_view_tunnel ("c1", "n2", "n1", &b);
  moat_view_tunnel ("c1", "n1", "n3", &c);
  assert_int_equal (a.vni, b.vni);
  assert_true (a.vni > 0 && a.vni < (1u << 24));
  assert_memory_equal (a.peer_mac, b.mac, MOAT_MAC_LEN);
  assert_memory_equal (b.peer_mac, a.mac, MOAT_MAC_LEN);
  assert_int_equal (a.mac[0], 0x02);
  assert_true (memcmp (a.mac, b.mac, MOAT_MAC_LEN) != 0);
  assert_int_equal (strlen (a.ifname), 15);
  assert_int_equal (strncmp (a.ifname, "moat-vx", 7), 0);
  assert_string_not_equal (a.ifname, c.ifname);
  assert_int_not_equal (a.vni, c.vni);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_view_read),       cmocka_unit_test (test_member_here),
    cmocka_unit_test (test_view6),           cmocka_unit_test (test_view_refused),
    cmocka_unit_test (test_subnets_overlap), cmocka_unit_test (test_tunnel_pair),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
