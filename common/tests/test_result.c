/* SPDX-License-Identifier: Apache-2.0 */
/* CNI results in every version, error results, reading prevResult. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "model/config.h"
#include "model/result.h"

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
  };
  inet_pton (AF_INET, "10.1.0.2", &r.addr);
  inet_pton (AF_INET, "10.1.0.1", &r.gateway);
  return r;
}

static char *
dump (json_t *j)
{
  return json_dumps (j, JSON_COMPACT | JSON_SORT_KEYS);
}

static void
test_result_1_1_0 (void **state)
{
  struct moat_add_result r = sample ();
  json_auto_t *j = moat_result_build ("1.1.0", &r);
  char *s = dump (j);

  assert_string_equal (
      s, "{\"cniVersion\":\"1.1.0\",\"dns\":{},\"interfaces\":["
         "{\"mac\":\"02:00:00:00:00:01\",\"name\":\"moat0\"},"
         "{\"mac\":\"02:00:00:00:00:02\",\"name\":\"mt0123456789abc\"},"
         "{\"mac\":\"02:6d:0a:01:00:02\",\"name\":\"eth0\",\"sandbox\":\"/var/run/netns/c1\"}],"
         "\"ips\":[{\"address\":\"10.1.0.2/24\",\"gateway\":\"10.1.0.1\",\"interface\":2}],"
         "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.1.0.1\"}]}");
  free (s);
}

static void
test_result_versions (void **state)
{
  struct moat_add_result r = sample ();

  for (int i = 0; moat_cni_versions[i]; i++)
    {
      json_auto_t *j = moat_result_build (moat_cni_versions[i], &r);
      json_t *ip = json_array_get (json_object_get (j, "ips"), 0);
      bool legacy = i < 3; /* 0.3.0, 0.3.1, 0.4.0 */

      assert_non_null (j);
      assert_string_equal (json_string_value (json_object_get (j, "cniVersion")),
                           moat_cni_versions[i]);
      if (legacy)
        assert_string_equal (json_string_value (json_object_get (ip, "version")), "4");
      else
        assert_null (json_object_get (ip, "version"));
      assert_int_equal (json_integer_value (json_object_get (ip, "interface")), 2);
    }
}

static void
test_result_dns_passthrough (void **state)
{
  struct moat_add_result r = sample ();
  json_auto_t *dns = json_pack ("{s:[s]}", "nameservers", "10.1.0.53");
  json_auto_t *j;

  r.dns = dns;
  j = moat_result_build ("1.0.0", &r);
  assert_string_equal (json_string_value (json_array_get (
                           json_object_get (json_object_get (j, "dns"), "nameservers"), 0)),
                       "10.1.0.53");
}

static void
test_version_and_error (void **state)
{
  json_auto_t *v = moat_version_result ("0.4.0");
  json_auto_t *e;
  moat_err_t err = { .code = 7, .msg = "subnet: bad" };
  char *s = dump (v);

  assert_string_equal (s, "{\"cniVersion\":\"0.4.0\",\"supportedVersions\":"
                          "[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}");
  free (s);
  e = moat_error_result ("1.0.0", &err, NULL);
  s = dump (e);
  assert_string_equal (s, "{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"subnet: bad\"}");
  free (s);
}

static void
test_error_not_utf8 (void **state)
{
  moat_err_t err = { .code = 3 };
  json_auto_t *e;

  snprintf (err.msg, sizeof (err.msg), "CNI_NETNS \"/tmp/\xff\xfe\": gone; caf\xc3\xa9");
  e = moat_error_result ("1.1.0", &err, NULL);
  assert_non_null (e);
  assert_string_equal (json_string_value (json_object_get (e, "msg")),
                       "CNI_NETNS \"/tmp/??\": gone; caf\xc3\xa9");
}

static void
test_first_ipv4 (void **state)
{
  json_auto_t *res = json_loads ("{\"ips\":[{\"address\":\"fd00::2/64\"},"
                                 "{\"version\":\"4\",\"address\":\"10.9.0.7/16\","
                                 "\"gateway\":\"10.9.0.1\"}]}",
                                 0, NULL);
  json_auto_t *bad = json_loads ("{\"ips\":[{\"address\":\"10.9.0.7\"}]}", 0, NULL);
  json_auto_t *none = json_loads ("{\"interfaces\":[]}", 0, NULL);
  struct in_addr a, gw;
  int len;
  char s[INET_ADDRSTRLEN];
  moat_err_t err = { 0 };

  assert_int_equal (moat_result_first_ipv4 (res, "prevResult", &a, &len, &gw, &err), 0);
  assert_int_equal (len, 16);
  inet_ntop (AF_INET, &a, s, sizeof (s));
  assert_string_equal (s, "10.9.0.7");
  inet_ntop (AF_INET, &gw, s, sizeof (s));
  assert_string_equal (s, "10.9.0.1");
  assert_int_equal (moat_result_first_ipv4 (bad, "prevResult", &a, &len, &gw, &err), -1);
  assert_int_equal (err.code, MOAT_E_DECODE);
  assert_non_null (strstr (err.msg, "prevResult: ips[0].address"));
  assert_int_equal (moat_result_first_ipv4 (none, "ipam result", &a, &len, &gw, &err), -1);
  assert_non_null (strstr (err.msg, "ipam result"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_result_1_1_0),           cmocka_unit_test (test_result_versions),
    cmocka_unit_test (test_result_dns_passthrough), cmocka_unit_test (test_version_and_error),
    cmocka_unit_test (test_error_not_utf8),         cmocka_unit_test (test_first_ipv4),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
