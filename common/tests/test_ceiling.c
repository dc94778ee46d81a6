/* SPDX-License-Identifier: Apache-2.0 */
/* The network's ceiling: parsing "allow" and checking annotations against
 * it (pure logic). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "model/ceiling.h"

static void
ceiling_of (const char *allow, struct moat_ceiling *c)
{
  json_auto_t *j = allow ? json_loads (allow, 0, NULL) : NULL;
  moat_err_t err = { 0 };

  if (allow)
    assert_non_null (j);
  if (moat_ceiling_parse (j, c, &err) < 0)
    fail_msg ("%s: %s", allow, err.msg);
}

/* The message of checking `annotations` (JSON text) against `allow`, ""
 * when within it. */
static const char *
check (const char *allow, const char *annotations, bool network_internet)
{
  static moat_err_t err;
  struct moat_ceiling c;
  struct moat_annotations a;
  json_auto_t *j = json_loads (annotations, 0, NULL);
  int r;

  ceiling_of (allow, &c);
  memset (&err, 0, sizeof (err));
  if (moat_annotations_parse (j, &a, &err) < 0)
    fail_msg ("%s: %s", annotations, err.msg);
  r = moat_ceiling_check (&c, "n", network_internet, &a, "", &err);
  moat_annotations_free (&a);
  moat_ceiling_free (&c);
  if (r == 0)
    return "";
  assert_int_equal (err.code, MOAT_E_CONFIG);
  return err.msg;
}

static void
assert_within (const char *allow, const char *annotations)
{
  const char *msg = check (allow, annotations, false);

  if (*msg)
    fail_msg ("%s under %s: refused: %s", annotations, allow ? allow : "(none)", msg);
}

static void
assert_beyond (const char *allow, const char *annotations, const char *needle)
{
  const char *msg = check (allow, annotations, false);

  if (!*msg || !strstr (msg, needle))
    fail_msg ("%s under %s: got \"%s\", want an error containing \"%s\"", annotations,
              allow ? allow : "(none)", msg, needle);
}

static void
assert_malformed (const char *allow, const char *needle)
{
  json_auto_t *j = json_loads (allow, JSON_DECODE_ANY, NULL);
  struct moat_ceiling c;
  moat_err_t err = { 0 };

  assert_non_null (j);
  assert_int_equal (moat_ceiling_parse (j, &c, &err), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  if (!strstr (err.msg, needle))
    fail_msg ("%s: got \"%s\", want \"%s\"", allow, err.msg, needle);
}

/* No "allow": labels and peers only; whatever crosses the network's edge
 * is refused. */
static void
defaults_refuse_the_edge (void **state)
{
  struct moat_ceiling c;

  ceiling_of (NULL, &c);
  assert_false (c.internet || c.env || c.any_host || c.any_egress || c.any_ingress || c.any_proxy);
  assert_true (c.any_label);
  moat_ceiling_free (&c);
  assert_within (NULL, "{\"io.moat.labels\": \"app=web\", \"io.moat.depends\": \"app=db\", "
                       "\"io.moat.expose\": \"app=x\", \"io.moat.internet\": \"false\"}");
  assert_beyond (NULL, "{\"io.moat.internet\": \"true\"}",
                 "io.moat.internet: true is not allowed on network \"n\" (its configuration has "
                 "no \"allow\": {\"internet\": true})");
  assert_beyond (NULL, "{\"io.moat.allow-host\": \"udp/53\"}",
                 "io.moat.allow-host: udp/53 is not allowed on network \"n\" (its configuration "
                 "has no \"allow\": {\"allowHost\": [...]})");
  assert_beyond (NULL, "{\"io.moat.egress\": \"10.0.0.1 tcp/80\"}",
                 "io.moat.egress: 10.0.0.1/32 tcp/80 is not allowed");
  assert_beyond (NULL, "{\"io.moat.ingress\": \"10.0.0.1 tcp/80\"}",
                 "io.moat.ingress: 10.0.0.1/32 tcp/80 is not allowed");
  assert_beyond (NULL, "{\"io.moat.proxy\": \"10.0.0.3:3128\"}",
                 "io.moat.proxy: 10.0.0.3:3128 is not allowed");
  /* An empty object is the same as none. */
  assert_beyond ("{}", "{\"io.moat.internet\": \"true\"}", "io.moat.internet");
  /* The network's own "internet": asking for it asks for nothing more. */
  assert_string_equal (check (NULL, "{\"io.moat.internet\": \"true\"}", true), "");
}

/* "publish": host ports io.moat.publish may take. */
static void
publish_within (void **state)
{
  const char *some = "{\"publish\": [\"tcp/8000-8010\", \"udp/53\"]}";

  assert_within ("{\"publish\": true}", "{\"io.moat.publish\": \"80:8080/tcp\"}");
  assert_within (some, "{\"io.moat.publish\": \"8000-8010:80-90,127.0.0.1:53:5353/udp\"}");
  assert_beyond (some, "{\"io.moat.publish\": \"8011:80\"}",
                 "io.moat.publish: 8011:80/tcp is not allowed on network \"n\" "
                 "(allow.publish: [\"tcp/8000-8010\",\"udp/53\"])");
  assert_beyond (some, "{\"io.moat.publish\": \"8010-8011:80-81\"}", "8010-8011");
  assert_beyond (some, "{\"io.moat.publish\": \"53:53\"}", "53:53/tcp");
  assert_beyond (NULL, "{\"io.moat.publish\": \"8080:80\"}",
                 "its configuration has no \"allow\": {\"publish\": [...]}");
  assert_malformed ("{\"publish\": [\"8000-9000/tcp\"]}", "allow.publish[0]");
}

static void
true_allows_anything (void **state)
{
  const char *all = "{\"internet\": true, \"allowHost\": true, \"egress\": true, "
                    "\"ingress\": true, \"proxy\": true, \"labels\": true, \"env\": true}";
  struct moat_ceiling c;

  ceiling_of (all, &c);
  assert_true (c.internet && c.env && c.any_host && c.any_egress && c.any_ingress && c.any_proxy
               && c.any_label);
  moat_ceiling_free (&c);
  assert_within (all, "{\"io.moat.internet\": \"true\", \"io.moat.allow-host\": \"tcp/1-65535\", "
                      "\"io.moat.egress\": \"0.0.0.0/0 any\", \"io.moat.ingress\": \"0.0.0.0/0 "
                      "any\", \"io.moat.proxy\": \"10.0.0.3:3128\", \"io.moat.labels\": \"a=b\"}");
  /* false is nothing, as absent (labels: no label at all). */
  assert_beyond ("{\"allowHost\": false}", "{\"io.moat.allow-host\": \"tcp/1\"}",
                 "(allow.allowHost: false)");
  assert_beyond ("{\"labels\": false}", "{\"io.moat.labels\": \"a=b\"}",
                 "io.moat.labels: a=b is not allowed on network \"n\" (allow.labels: false)");
  assert_beyond ("{\"internet\": false}", "{\"io.moat.internet\": \"true\"}",
                 "(allow.internet: false)");
}

static void
host_ports_within_one_entry (void **state)
{
  const char *allow = "{\"allowHost\": [\"tcp/8000-8010\", \"udp/53\"]}";

  assert_within (allow, "{\"io.moat.allow-host\": \"tcp/8000,tcp/8005-8010,udp/53\"}");
  assert_beyond (allow, "{\"io.moat.allow-host\": \"tcp/8000-8011\"}",
                 "io.moat.allow-host: tcp/8000-8011 is not allowed on network \"n\" "
                 "(allow.allowHost: [\"tcp/8000-8010\",\"udp/53\"])");
  assert_beyond (allow, "{\"io.moat.allow-host\": \"udp/8000\"}", "udp/8000 is not allowed");
  assert_beyond (allow, "{\"io.moat.allow-host\": \"tcp/53\"}", "tcp/53 is not allowed");
  /* The first item beyond is the one named. */
  assert_beyond (allow, "{\"io.moat.allow-host\": \"udp/53,tcp/22,tcp/23\"}", ": tcp/22 is not");
}

static void
acls_within_one_entry (void **state)
{
  const char *allow = "{\"egress\": [\"10.0.0.0/8\", \"0.0.0.0/0 udp/53\", "
                      "\"192.0.2.0/24 tcp/80-90\"], \"ingress\": [\"198.51.100.0/24 icmp\"]}";

  assert_within (allow, "{\"io.moat.egress\": \"10.1.0.0/16 any, 10.2.3.4 tcp/443, 8.8.8.8 "
                        "udp/53, 192.0.2.128/25 tcp/85-90\", \"io.moat.ingress\": \"198.51.100.7 "
                        "icmp\"}");
  assert_beyond (
      allow, "{\"io.moat.egress\": \"0.0.0.0/0 udp/53-54\"}",
      "io.moat.egress: 0.0.0.0/0 udp/53-54 is not allowed on network \"n\" "
      "(allow.egress: [\"10.0.0.0/8\",\"0.0.0.0/0 udp/53\",\"192.0.2.0/24 tcp/80-90\"])");
  /* A wider prefix is beyond, even if it starts inside. */
  assert_beyond (allow, "{\"io.moat.egress\": \"10.0.0.0/7 tcp/1\"}", "10.0.0.0/7 tcp/1");
  assert_beyond (allow, "{\"io.moat.egress\": \"192.0.2.0/24 any\"}", "192.0.2.0/24 any");
  assert_beyond (allow, "{\"io.moat.egress\": \"192.0.2.0/24 icmp\"}", "192.0.2.0/24 icmp");
  assert_beyond (allow, "{\"io.moat.ingress\": \"198.51.100.0/24 tcp/1\"}",
                 "io.moat.ingress: 198.51.100.0/24 tcp/1 is not allowed");
  assert_beyond (allow, "{\"io.moat.ingress\": \"198.51.0.0/16 icmp\"}", "198.51.0.0/16 icmp");
}

/* IPv6 entries bound IPv6 ranges; a range of one family is never within
 * an entry of the other (0.0.0.0/0 holds no IPv6). */
static void
acls6_within_their_family (void **state)
{
  const char *allow = "{\"egress\": [\"2001:db8::/32 tcp/443\", \"0.0.0.0/0 any\"], "
                      "\"ingress\": [\"fd00::/8 any\"]}";

  assert_within (allow, "{\"io.moat.egress\": \"2001:db8:1::/48 tcp/443, 2001:db8::5 tcp/443, "
                        "10.0.0.0/8 udp/53\", \"io.moat.ingress\": \"fd12::/16 udp/9\"}");
  assert_beyond (allow, "{\"io.moat.egress\": \"2001:db8::/31 tcp/443\"}",
                 "2001:db8::/31 tcp/443 is not allowed");
  assert_beyond (allow, "{\"io.moat.egress\": \"::/0 any\"}", "::/0 any is not allowed");
  assert_beyond (allow, "{\"io.moat.egress\": \"2001:db9::/32 tcp/443\"}", "2001:db9::/32");
  assert_beyond (allow, "{\"io.moat.ingress\": \"10.0.0.0/8 any\"}", "10.0.0.0/8 any");
}

static void
proxy_is_one_of_the_list (void **state)
{
  const char *allow = "{\"proxy\": [\"10.0.0.3:3128\", \"10.0.0.4:8080\"]}";

  assert_within (allow, "{\"io.moat.proxy\": \"10.0.0.4:8080 80+443\"}");
  assert_beyond (allow, "{\"io.moat.proxy\": \"10.0.0.4:3128\"}",
                 "io.moat.proxy: 10.0.0.4:3128 is not allowed on network \"n\" (allow.proxy: "
                 "[\"10.0.0.3:3128\",\"10.0.0.4:8080\"])");
  assert_beyond (allow, "{\"io.moat.proxy\": \"10.0.0.5:3128\"}", "10.0.0.5:3128 is not");
  /* IPv6 proxies are listed as [ADDR]:PORT. */
  allow = "{\"proxy\": [\"10.0.0.3:3128\", \"[2001:db8::3]:3128\"]}";
  assert_within (allow, "{\"io.moat.proxy\": \"[2001:db8:0::3]:3128 443\"}");
  assert_beyond (allow, "{\"io.moat.proxy\": \"[2001:db8::4]:3128\"}",
                 "io.moat.proxy: [2001:db8::4]:3128 is not allowed");
  assert_beyond (allow, "{\"io.moat.proxy\": \"[2001:db8::3]:8080\"}", "[2001:db8::3]:8080 is not");
}

static void
labels_by_key_or_key_value (void **state)
{
  const char *allow = "{\"labels\": [\"app\", \"env=dev\", \"example.com/tier=\"]}";
  struct moat_ceiling c;
  moat_err_t err = { 0 };

  assert_within (allow, "{\"io.moat.labels\": \"app=anything,env=dev,example.com/tier=\"}");
  assert_beyond (allow, "{\"io.moat.labels\": \"app=web,env=prod\"}",
                 "io.moat.labels: env=prod is not allowed on network \"n\" (allow.labels: "
                 "[\"app\",\"env=dev\",\"example.com/tier=\"])");
  assert_beyond (allow, "{\"io.moat.labels\": \"example.com/tier=x\"}", "example.com/tier=x");
  assert_beyond (allow, "{\"io.moat.labels\": \"PolicyIndex=Web\"}", "PolicyIndex=Web");
  /* One label at a time, for labels from elsewhere (args.cni.labels). */
  ceiling_of (allow, &c);
  assert_int_equal (moat_ceiling_check_label (&c, "n", "app", "x", "args.cni.labels", &err), 0);
  assert_int_equal (moat_ceiling_check_label (&c, "n", "role", "x", "args.cni.labels", &err), -1);
  assert_string_equal (err.msg, "args.cni.labels: role=x is not allowed on network \"n\" "
                                "(allow.labels: [\"app\",\"env=dev\",\"example.com/tier=\"])");
  moat_ceiling_free (&c);
}

static void
environment_flag (void **state)
{
  json_auto_t *on = json_loads ("{\"env\": true}", 0, NULL);
  json_auto_t *off = json_loads ("{\"env\": false, \"internet\": true}", 0, NULL);
  json_auto_t *odd = json_loads ("{\"env\": \"yes\"}", 0, NULL);

  assert_true (moat_ceiling_reads_env (on));
  assert_false (moat_ceiling_reads_env (off));
  assert_false (moat_ceiling_reads_env (odd));
  assert_false (moat_ceiling_reads_env (NULL));
}

static void
malformed_names_the_key (void **state)
{
  struct moat_ceiling c;
  moat_err_t err = { 0 };

  assert_malformed ("[]", "allow: must be an object");
  assert_malformed ("{\"internet\": \"yes\"}", "allow.internet: must be true or false");
  assert_malformed ("{\"env\": 1}", "allow.env: must be true or false");
  assert_malformed ("{\"allowHost\": \"tcp/80\"}",
                    "allow.allowHost: must be true, false or a list of strings");
  assert_malformed ("{\"egress\": [\"10.0.0.0/8\", 7]}", "allow.egress[1]: must be a string");
  assert_malformed ("{\"allowHost\": [\"tcp/0\"]}", "allow.allowHost[0]: port 0 out of range");
  assert_malformed ("{\"allowHost\": [\"icmp\"]}", "allow.allowHost[0]: \"icmp\"");
  assert_malformed ("{\"egress\": [\"10.0.0.1/8\"]}", "allow.egress[0]:");
  assert_malformed ("{\"ingress\": [\"10.0.0.0/8 tcp/99999\"]}", "allow.ingress[0]:");
  assert_malformed ("{\"proxy\": [\"10.0.0.3\"]}", "allow.proxy[0]: \"10.0.0.3\" is not IP:PORT");
  assert_malformed ("{\"proxy\": [\"10.0.0.3:0\"]}", "allow.proxy[0]");
  assert_malformed ("{\"proxy\": [\"10.0.0.3:80x\"]}", "allow.proxy[0]");
  assert_malformed ("{\"proxy\": [\"host:80\"]}", "allow.proxy[0]");
  assert_malformed ("{\"proxy\": [\"2001:db8::3:3128\"]}",
                    "allow.proxy[0]: \"2001:db8::3:3128\" is not IP:PORT or [IPV6]:PORT");
  assert_malformed ("{\"proxy\": [\"[2001:db8::3:3128\"]}", "allow.proxy[0]");
  assert_malformed ("{\"proxy\": [\"[10.0.0.3]:3128\"]}", "allow.proxy[0]");
  assert_malformed ("{\"proxy\": [\"[]:3128\"]}", "allow.proxy[0]");
  assert_malformed ("{\"labels\": [\"@sys:network\"]}",
                    "allow.labels[0]: \"@sys:network\": key character '@' not allowed");
  assert_malformed ("{\"labels\": [\"app=a b\"]}", "allow.labels[0]: \"app=a b\": value");
  assert_malformed ("{\"labels\": [\"\"]}", "allow.labels[0]: \"\": key empty");
  /* Unknown keys are ignored, as elsewhere in the network configuration;
   * JSON null is the default. */
  ceiling_of ("{\"depends\": 7, \"internet\": null}", &c);
  assert_false (c.internet);
  moat_ceiling_free (&c);
  {
    json_auto_t *null = json_null ();
    assert_int_equal (moat_ceiling_parse (null, &c, &err), 0);
    assert_null (c.allow);
    assert_true (c.any_label);
    moat_ceiling_free (&c);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (defaults_refuse_the_edge),
    cmocka_unit_test (true_allows_anything),
    cmocka_unit_test (publish_within),
    cmocka_unit_test (host_ports_within_one_entry),
    cmocka_unit_test (acls_within_one_entry),
    cmocka_unit_test (proxy_is_one_of_the_list),
    cmocka_unit_test (labels_by_key_or_key_value),
    cmocka_unit_test (environment_flag),
    cmocka_unit_test (malformed_names_the_key),
    cmocka_unit_test (acls6_within_their_family),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
