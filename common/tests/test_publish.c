/* SPDX-License-Identifier: Apache-2.0 */
/* Published ports: the text form, its checks and JSON (model/publish.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "base/cleanup.h"
#include "model/publish.h"
#include "ruleset/elems.h"

static void
parse_ok (const char *text, struct moat_publish_list *l)
{
  moat_err_t err = { 0 };

  if (moat_publish_parse_text ("io.moat.publish", text, l, &err) < 0)
    fail_msg ("%s: %s", text, err.msg);
  if (moat_publish_check ("io.moat.publish", l, &err) < 0)
    fail_msg ("%s: %s", text, err.msg);
}

static void
refused (const char *text, const char *what)
{
  struct moat_publish_list l = { 0 };
  moat_err_t err = { 0 };
  int r = moat_publish_parse_text ("io.moat.publish", text, &l, &err);

  if (r < 0)
    assert_int_equal (l.n, 0); /* nothing appended */
  else
    r = moat_publish_check ("io.moat.publish", &l, &err);
  if (r == 0)
    fail_msg ("\"%s\" accepted", text);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  if (!strstr (err.msg, what) || strncmp (err.msg, "io.moat.publish", 15) != 0)
    fail_msg ("\"%s\": \"%s\" lacks \"%s\"", text, err.msg, what);
  moat_publish_list_free (&l);
}

static void
test_grammar (void **state)
{
  struct moat_publish_list l = { 0 };
  char buf[MOAT_PUBLISH_TEXT_MAX];

  parse_ok ("8080:80/tcp,127.0.0.1:5353:53/udp,9000-9010:9100-9110", &l);
  assert_int_equal (l.n, 3);
  assert_int_equal (l.v[0].host.s_addr, 0);
  assert_int_equal (l.v[0].proto, 6);
  assert_int_equal (l.v[0].host_port, 8080);
  assert_int_equal (l.v[0].port, 80);
  assert_int_equal (l.v[0].count, 1);
  assert_int_equal (l.v[1].host.s_addr, htonl (0x7f000001));
  assert_int_equal (l.v[1].proto, 17);
  assert_int_equal (l.v[2].count, 11);
  assert_int_equal (l.v[2].port, 9100);
  assert_int_equal (l.v[0].family, 0);
  assert_int_equal (l.v[1].family, AF_INET);
  moat_publish_format (&l.v[0], buf, sizeof (buf));
  assert_string_equal (buf, "8080:80/tcp");
  moat_publish_format (&l.v[2], buf, sizeof (buf));
  assert_string_equal (buf, "9000-9010:9100-9110/tcp");
  moat_publish_list_free (&l);
  parse_ok ("0.0.0.0:1:65535/UDP", &l);
  assert_int_equal (l.v[0].port, 65535);
  assert_int_equal (l.v[0].family, AF_INET);
  moat_publish_format (&l.v[0], buf, sizeof (buf));
  assert_string_equal (buf, "0.0.0.0:1:65535/udp");
  moat_publish_list_free (&l);
  /* IPv6 host addresses: bracketed or not, :: every one. */
  parse_ok ("[::]:8080:80,[2001:DB8::7]:53:53/udp,fd00:1::1:9000:90", &l);
  assert_int_equal (l.n, 3);
  assert_int_equal (l.v[0].family, AF_INET6);
  assert_true (IN6_IS_ADDR_UNSPECIFIED (&l.v[0].host6));
  assert_int_equal (l.v[0].host_port, 8080);
  moat_publish_format (&l.v[0], buf, sizeof (buf));
  assert_string_equal (buf, "[::]:8080:80/tcp");
  moat_publish_format (&l.v[1], buf, sizeof (buf));
  assert_string_equal (buf, "[2001:db8::7]:53:53/udp");
  moat_publish_format (&l.v[2], buf, sizeof (buf));
  assert_string_equal (buf, "[fd00:1::1]:9000:90/tcp");
  moat_publish_list_free (&l);
  moat_publish_list_free (&l);
}

static void
test_refusals (void **state)
{
  refused ("", "empty");
  refused ("80", "expected [host-ip:]host-port:container-port");
  refused ("8080:80,", "empty item");
  refused (",8080:80", "empty item");
  refused ("8080:80/sctp", "protocol \"sctp\"");
  refused ("0:80", "host port \"0\"");
  refused ("8080:65536", "container port \"65536\"");
  refused ("8080:8x", "container port");
  refused ("10-9:10-9", "reversed");
  refused ("9000-9010:9000-9005", "differ in length (11, 6)");
  refused ("::1:8080:80", "host address \"::1\": IPv6 loopback cannot be published by the kernel; "
                          "use the host's IPv6 address");
  refused ("[::1]:8080:80", "IPv6 loopback cannot be published");
  refused ("[0:0::0:1]:8080:80", "IPv6 loopback cannot be published");
  refused ("[fe80::1]:8080:80", "not a global or unique local IPv6 address, nor ::");
  refused ("[ff02::1]:8080:80", "not a global or unique local IPv6 address");
  refused ("[::ffff:127.0.0.1]:8080:80", "not a global or unique local IPv6 address");
  refused ("[fd00::zz]:8080:80", "is not an IPv4 or IPv6 address");
  refused ("[::]:8080:80,8080:81", "publish one host port");
  refused ("[::]:8080:80,[fd00::1]:8080:81", "publish one host port");
  refused ("10.0.0.300:8080:80", "not an IPv4 address");
  refused ("8080:80,10.0.0.1:8080:81", "publish one host port");
  refused ("8000-8010:8000-8010,8010:1", "publish one host port");
  refused ("1-65535:1-65535", "more than 4096");
}

static void
test_overlap (void **state)
{
  struct moat_publish_list l = { 0 };

  parse_ok ("8080:80,10.0.0.1:8081:80,10.0.0.2:8081:80,8080:80/udp", &l);
  assert_true (moat_publish_overlap (&l.v[0], &l.v[0]));
  assert_false (moat_publish_overlap (&l.v[0], &l.v[1]));
  assert_false (moat_publish_overlap (&l.v[1], &l.v[2]));
  assert_false (moat_publish_overlap (&l.v[0], &l.v[3]));
  l.v[1].host_port = 8080;
  assert_true (moat_publish_overlap (&l.v[0], &l.v[1])); /* no address covers 10.0.0.1 */
  moat_publish_list_free (&l);
  /* 0.0.0.0 and :: split the families; no address takes both. */
  parse_ok ("0.0.0.0:80:80,[::]:80:80,[fd00::1]:81:80,10.0.0.1:81:80,82:80,[fd00::2]:83:80", &l);
  assert_false (moat_publish_overlap (&l.v[0], &l.v[1]));
  assert_false (moat_publish_overlap (&l.v[2], &l.v[3]));
  l.v[2].host_port = 80;
  assert_true (moat_publish_overlap (&l.v[1], &l.v[2])); /* :: covers fd00::1 */
  assert_false (moat_publish_overlap (&l.v[0], &l.v[2]));
  assert_false (moat_publish_overlap (&l.v[4], &l.v[5]));
  l.v[5].host_port = 82;
  assert_true (moat_publish_overlap (&l.v[4], &l.v[5])); /* no address covers fd00::2 */
  moat_publish_list_free (&l);
}

static void
test_json_round_trip (void **state)
{
  struct moat_publish_list l = { 0 }, back = { 0 };
  moat_err_t err = { 0 };
  json_t *j;

  parse_ok ("8080:80,127.0.0.1:5353:53/udp,9000-9001:9000-9001", &l);
  j = moat_publish_to_json (&l);
  assert_non_null (j);
  assert_int_equal (moat_publish_from_json (j, &back, &err), 0);
  assert_int_equal (back.n, 3);
  assert_memory_equal (back.v, l.v, 3 * sizeof (*l.v));
  json_decref (j);
  moat_publish_list_free (&l);
  moat_publish_list_free (&back);
  l.n = 0;
  assert_null (moat_publish_to_json (&l));
}

static void
test_elems (void **state)
{
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *e = moat_nft_elems_new ();
  struct moat_publish_list l = { 0 };
  struct in_addr addr = { htonl (0x0a0b0002) };
  char buf[256];

  parse_ok ("8080:80,10.0.0.1:9000-9001:90-91/udp", &l);
  assert_int_equal (moat_publish_elems (&l, addr, e), 0);
  assert_int_equal (moat_nft_elems_count (e), 6);
  moat_nft_elems_format (e, 0, buf, sizeof (buf));
  assert_string_equal (buf, "publish: 0.0.0.0-255.255.255.255 . tcp . 8080 : 10.11.0.2 . 80");
  moat_nft_elems_format (e, 2, buf, sizeof (buf));
  assert_string_equal (buf, "publish: 10.0.0.1 . udp . 9001 : 10.11.0.2 . 91");
  moat_nft_elems_format (e, 3, buf, sizeof (buf));
  assert_string_equal (buf, "published: 10.11.0.2 . tcp . 80");
  moat_nft_elems_format (e, 5, buf, sizeof (buf));
  assert_string_equal (buf, "published: 10.11.0.2 . udp . 91");
  moat_publish_list_free (&l);
}

static int
addr6_of (struct in_addr addr, struct in6_addr *ret, void *data)
{
  if (addr.s_addr != htonl (0x0a0b0002))
    return 0;
  inet_pton (AF_INET6, "fd00:b::2", ret);
  return 1;
}

/* The IPv6 side, after the twin pass: no address gives publish6 from ::2
 * (::1 cannot be DNAT'd), :: likewise and publish6 only, an IPv6 address
 * that one only, 0.0.0.0 and an IPv4 address no twin. */
static void
test_elems6 (void **state)
{
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *e = moat_nft_elems_new ();
  struct moat_publish_list l = { 0 };
  struct in_addr addr = { htonl (0x0a0b0002) };
  static const char *const want[] = {
    "publish: 0.0.0.0-255.255.255.255 . tcp . 8080 : 10.11.0.2 . 80",
    "publish: 0.0.0.0-255.255.255.255 . tcp . 8081 : 10.11.0.2 . 81",
    "published: 10.11.0.2 . tcp . 80",
    "published: 10.11.0.2 . tcp . 81",
    "published: 10.11.0.2 . tcp . 82",
    "published: 10.11.0.2 . udp . 53",
    "publish6: ::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff . tcp . 8080 : fd00:b::2 . 80",
    "published6: fd00:b::2 . tcp . 80",
    "published6: fd00:b::2 . tcp . 81",
    "published6: fd00:b::2 . tcp . 82",
    "published6: fd00:b::2 . udp . 53",
    "publish6: ::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff . tcp . 8082 : fd00:b::2 . 82",
    "publish6: fd00:b::1 . udp . 53 : fd00:b::2 . 53",
  };
  char buf[256];

  parse_ok ("8080:80,0.0.0.0:8081:81,[::]:8082:82,[fd00:b::1]:53:53/udp", &l);
  assert_int_equal (moat_publish_elems (&l, addr, e), 0);
  assert_int_equal (moat_nft_elems_twin6 (e, e, addr6_of, NULL), 0);
  assert_int_equal (moat_nft_elems_count (e), ARRAY_SIZE (want));
  for (size_t i = 0; i < ARRAY_SIZE (want); i++)
    {
      moat_nft_elems_format (e, i, buf, sizeof (buf));
      assert_string_equal (buf, want[i]);
    }
  moat_publish_list_free (&l);
}

/* runtimeConfig.portMappings as the runtimes hand it over: libcni's
 * camelCase (CRI-O, hack/cri-cni) and containerd 1.6's Go field names
 * (go-cni's untagged struct), read alike; a missing port still refused. */
static void
test_cni_member_names (void **state)
{
  struct moat_publish_list a = { 0 }, b = { 0 }, c = { 0 };
  moat_err_t err = { 0 };
  json_t *camel = json_loads ("[{\"hostPort\": 8080, \"containerPort\": 80,"
                              " \"protocol\": \"udp\", \"hostIP\": \"127.0.0.1\"}]",
                              0, NULL);
  json_t *go = json_loads ("[{\"HostPort\": 8080, \"ContainerPort\": 80,"
                           " \"Protocol\": \"udp\", \"HostIP\": \"127.0.0.1\"}]",
                           0, NULL);
  json_t *none = json_loads ("[{\"HostPorts\": 8080, \"ContainerPort\": 80}]", 0, NULL);

  assert_int_equal (moat_publish_parse_cni (camel, &a, &err), 0);
  assert_int_equal (moat_publish_parse_cni (go, &b, &err), 0);
  assert_int_equal (a.n, 1);
  assert_int_equal (b.n, 1);
  assert_memory_equal (a.v, b.v, sizeof (*a.v));
  assert_int_equal (b.v[0].host_port, 8080);
  assert_int_equal (b.v[0].port, 80);
  assert_int_equal (b.v[0].proto, IPPROTO_UDP);
  assert_int_equal (moat_publish_parse_cni (none, &c, &err), -1);
  assert_string_equal (err.msg,
                       "runtimeConfig.portMappings[0].hostPort: expected a port (1-65535)");
  assert_int_equal (c.n, 0);
  json_decref (camel);
  json_decref (go);
  json_decref (none);
  moat_publish_list_free (&a);
  moat_publish_list_free (&b);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_grammar),
    cmocka_unit_test (test_refusals),
    cmocka_unit_test (test_overlap),
    cmocka_unit_test (test_json_round_trip),
    cmocka_unit_test (test_elems),
    cmocka_unit_test (test_elems6),
    cmocka_unit_test (test_cni_member_names),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
