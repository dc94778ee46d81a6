/* SPDX-License-Identifier: Apache-2.0 */
/* The policy file: Trireme's policy.json and moat's own form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "model/profile.h"

static struct moat_profiles *
parse_ok (const char *text)
{
  struct moat_profiles *p = NULL;
  moat_err_t err = { 0 };

  if (moat_profiles_parse (text, strlen (text), "policy.json", &p, &err) < 0)
    fail_msg ("%s: %s", text, err.msg);
  return p;
}

/* Refused with MOAT_E_CONFIG, one line containing every needle. */
static void
assert_refused (const char *text, const char *needle1, const char *needle2)
{
  struct moat_profiles *p = NULL;
  moat_err_t err = { 0 };

  if (moat_profiles_parse (text, strlen (text), "policy.json", &p, &err) == 0)
    fail_msg ("%s: accepted, want \"%s\"", text, needle1);
  assert_null (p);
  if (err.code != MOAT_E_CONFIG || !strstr (err.msg, needle1)
      || (needle2 && !strstr (err.msg, needle2)) || strchr (err.msg, '\n')
      || strncmp (err.msg, "policy.json: ", 13) != 0)
    fail_msg ("%s: got %d \"%s\", want \"%s\" and \"%s\"", text, err.code, err.msg, needle1,
              needle2 ? needle2 : "");
}

static json_t *
labels (const char *text)
{
  json_t *j = json_loads (text, 0, NULL);

  assert_non_null (j);
  return j;
}

static bool
sel_matches (const struct moat_selector *s, size_t n, const char *labels_text)
{
  json_auto_t *l = labels (labels_text);

  return moat_selectors_match (s, n, l);
}

#define WEB_DB                                                                                     \
  "{\"Web\": {\"Dependencies\": [{\"Clause\": [{\"Key\": \"@usr:app\", \"Operator\": \"=\","       \
  " \"Value\": [\"db\", \"cache\"]}], \"Policy\": {\"Action\": 1}}],"                              \
  " \"ApplicationACLs\": [{\"Address\": \"0.0.0.0/0\", \"Port\": \"53\", \"Protocol\": \"UDP\","   \
  " \"Policy\": {\"Action\": 1}},"                                                                 \
  " {\"Address\": \"10.9.0.0/16\", \"Port\": \"\", \"Protocol\": \"TCP\", \"Policy\": "            \
  "{\"Action\": "                                                                                  \
  "2}}]},"                                                                                         \
  " \"DB\": {\"TagSelectors\": [{\"Clause\": [{\"Key\": \"@usr:app\", \"Operator\": \"=\","        \
  " \"Value\": [\"web\"]}, {\"Key\": \"@usr:env\", \"Operator\": \"=!\", \"Value\": [\"test\"]}]," \
  " \"Policy\": {\"Action\": 1}}],"                                                                \
  " \"NetworkACLs\": [{\"Address\": \"192.0.2.7\", \"Port\": \"5432-5433\", \"Protocol\": "        \
  "\"tcp\","                                                                                       \
  " \"Policy\": {\"Action\": 3}}]}}"

static void
trireme_profiles (void **state)
{
  struct moat_profiles *p = parse_ok (WEB_DB);
  const struct moat_annotations *web = moat_profiles_find (p, "Web");
  const struct moat_annotations *db = moat_profiles_find (p, "DB");

  assert_non_null (web);
  assert_non_null (db);
  assert_null (moat_profiles_find (p, "web"));
  /* Web: consumes app=db or app=cache; UDP 53 anywhere; a reject on TCP. */
  assert_true (web->have_depends);
  assert_int_equal (web->n_depends, 2);
  assert_true (sel_matches (web->depends, web->n_depends, "{\"app\": \"cache\"}"));
  assert_false (sel_matches (web->depends, web->n_depends, "{\"app\": \"web\"}"));
  assert_int_equal (web->n_egress, 1);
  assert_int_equal (web->egress[0].ports.proto, IPPROTO_UDP);
  assert_int_equal (web->egress[0].ports.lo, 53);
  assert_int_equal (web->egress[0].prefixlen, 0);
  assert_int_equal (web->n_egress_deny, 1);
  assert_int_equal (web->egress_deny[0].ports.lo, 0);
  assert_int_equal (web->egress_deny[0].prefixlen, 16);
  /* DB: consumed by app=web unless env=test; Action 3 rejects. */
  assert_true (db->have_expose);
  assert_true (sel_matches (db->expose, db->n_expose, "{\"app\": \"web\"}"));
  assert_false (sel_matches (db->expose, db->n_expose, "{\"app\": \"web\", \"env\": \"test\"}"));
  assert_int_equal (db->n_ingress, 0);
  assert_int_equal (db->n_ingress_deny, 1);
  assert_int_equal (db->ingress_deny[0].prefixlen, 32);
  assert_int_equal (db->ingress_deny[0].ports.lo, 5432);
  assert_int_equal (db->ingress_deny[0].ports.hi, 5433);
  moat_profiles_free (p);
}

static void
trireme_operators (void **state)
{
  struct moat_profiles *p = parse_ok (
      "{\"P\": {\"TagSelectors\": ["
      "{\"Clause\": [{\"Key\": \"@usr:a\", \"Operator\": \"*\"},"
      " {\"Key\": \"@usr:b\", \"Operator\": \"!*\"}], \"Policy\": {\"Action\": 1}},"
      "{\"Clause\": [{\"Key\": \"@sys:network\", \"Operator\": \"=\", \"Value\": \"n1\"}],"
      " \"Policy\": {\"Action\": 9}},"
      "{\"Clause\": [{\"Key\": \"@usr:c\", \"Operator\": \"=\", \"Value\": [\"1\"]}],"
      " \"Policy\": {\"Action\": 8}},"
      "{\"Clause\": [{\"Key\": \"@usr:d\", \"Operator\": \"=\", \"Value\": [\"1\"]}],"
      " \"Policy\": {\"Action\": 2}}]}}");
  const struct moat_annotations *a = moat_profiles_find (p, "P");

  assert_int_equal (a->n_expose, 2); /* the log-only rule adds nothing */
  assert_true (sel_matches (a->expose, a->n_expose, "{\"a\": \"x\"}"));
  assert_false (sel_matches (a->expose, a->n_expose, "{\"a\": \"x\", \"b\": \"y\"}"));
  assert_true (sel_matches (a->expose, a->n_expose, "{\"@sys:network\": \"n1\"}"));
  assert_false (sel_matches (a->expose, a->n_expose, "{\"c\": \"1\"}"));
  assert_int_equal (a->n_expose_deny, 1);
  assert_true (sel_matches (a->expose_deny, a->n_expose_deny, "{\"d\": \"1\"}"));
  moat_profiles_free (p);
}

static void
trireme_field_names_without_case (void **state)
{
  struct moat_profiles *p = parse_ok ("{\"P\": {\"applicationacls\": [{\"address\": \"10.0.0.1\","
                                      " \"protocol\": \"ICMP\", \"policy\": {\"action\": 1}}]}}");
  const struct moat_annotations *a = moat_profiles_find (p, "P");

  assert_int_equal (a->n_egress, 1);
  assert_int_equal (a->egress[0].ports.proto, IPPROTO_ICMP);
  moat_profiles_free (p);
}

static void
trireme_errors (void **state)
{
  assert_refused ("{\"P\": {\"Dependancies\": []}}", "profile \"P\"", "unknown field");
  assert_refused (
      "{\"P\": {\"ApplicationACLs\": [{\"Address\": \"10.0.0.0/8\", \"Port\": \"70000\","
      " \"Protocol\": \"TCP\", \"Policy\": {\"Action\": 1}}]}}",
      "ApplicationACLs[0].Port", "out of range");
  assert_refused ("{\"P\": {\"NetworkACLs\": [{\"Address\": \"10.0.0.1/8\", \"Protocol\": \"TCP\","
                  " \"Policy\": {\"Action\": 1}}]}}",
                  "NetworkACLs[0].Address", "host bits");
  assert_refused ("{\"P\": {\"NetworkACLs\": [{\"Address\": \"2001:db8::1/32\", \"Protocol\": "
                  "\"TCP\", \"Policy\": {\"Action\": 1}}]}}",
                  "NetworkACLs[0].Address", "host bits set in 2001:db8::1/32");
  assert_refused ("{\"P\": {\"NetworkACLs\": [{\"Address\": \"2001:db8:::1\", \"Protocol\": "
                  "\"TCP\", \"Policy\": {\"Action\": 1}}]}}",
                  "NetworkACLs[0].Address", "is not an IPv4 or IPv6 address or CIDR");
  assert_refused ("{\"P\": {\"NetworkACLs\": [{\"Address\": \"10.0.0.0/8\", \"Port\": \"80\","
                  " \"Protocol\": \"ICMP\", \"Policy\": {\"Action\": 1}}]}}",
                  "Port", "need Protocol TCP or UDP");
  assert_refused ("{\"P\": {\"NetworkACLs\": [{\"Address\": \"10.0.0.0/8\", \"Protocol\": \"GRE\","
                  " \"Policy\": {\"Action\": 1}}]}}",
                  "Protocol", "GRE");
  assert_refused ("{\"P\": {\"ApplicationACLs\": [{\"Address\": \"10.0.0.0/8\"}]}}", "Policy",
                  NULL);
  assert_refused ("{\"P\": {\"ApplicationACLs\": [{\"Address\": \"10.0.0.0/8\", \"Policy\":"
                  " {\"Action\": 4}}]}}",
                  "Action", "unknown bits");
  assert_refused ("{\"P\": {\"TagSelectors\": [{\"Clause\": [{\"Key\": \"@usr:a\", \"Operator\":"
                  " \"~\", \"Value\": [\"x\"]}], \"Policy\": {\"Action\": 1}}]}}",
                  "TagSelectors[0].Clause[0]", "Operator");
  assert_refused ("{\"P\": {\"TagSelectors\": [{\"Clause\": [{\"Key\": \"@bad:a\", \"Operator\":"
                  " \"*\"}], \"Policy\": {\"Action\": 1}}]}}",
                  "Key", "@usr:");
  assert_refused ("{\"P\": {\"TagSelectors\": [{\"Clause\": [], \"Policy\": {\"Action\": 1}}]}}",
                  "Clause", "non-empty");
  assert_refused ("{\"P\": {\"Dependencies\": [{\"Clause\": [{\"Key\": \"@usr:a\", \"Operator\":"
                  " \"=\", \"Value\": []}], \"Policy\": {\"Action\": 1}}]}}",
                  "Value", NULL);
  assert_refused ("{\"bad name\": {}}", "name", NULL);
  assert_refused ("{\"P\": []}", "profile \"P\"", NULL);
  assert_refused ("{\"P\": {}, \"P\": {}}", "duplicate", NULL);
  assert_refused ("{\"P\": {", "line 1", NULL);
  assert_refused ("[]", "want an object", NULL);
}

static void
spreading_values_is_bounded (void **state)
{
  /* 33 clauses of 2 values would be 2^33 selectors. */
  char text[8192] = "{\"P\": {\"TagSelectors\": [{\"Clause\": [";
  size_t o = strlen (text);

  for (int i = 0; i < 33; i++)
    o += (size_t)snprintf (
        text + o, sizeof (text) - o,
        "%s{\"Key\": \"@usr:k%d\", \"Operator\": \"=\", \"Value\": [\"a\", \"b\"]}", i ? "," : "",
        i);
  snprintf (text + o, sizeof (text) - o, "], \"Policy\": {\"Action\": 1}}]}}");
  assert_refused (text, "TagSelectors[0]", "more than");
}

static void
moat_form (void **state)
{
  struct moat_profiles *p
      = parse_ok ("{\"profiles\": {\"Web\": {\"labels\": \"app=web\", \"depends\": \"app=db\","
                  " \"allow-host\": \"udp/2222\", \"internet\": \"true\"}, \"DB\": {\"expose\": "
                  "\"app=web\"}}}");
  const struct moat_annotations *web = moat_profiles_find (p, "Web");

  assert_non_null (web);
  assert_int_equal (web->n_labels, 1);
  assert_true (web->have_depends);
  assert_int_equal (web->n_allow_host, 1);
  assert_true (web->internet);
  assert_true (moat_profiles_find (p, "DB")->have_expose);
  moat_profiles_free (p);
}

static void
moat_form_errors (void **state)
{
  assert_refused ("{\"profiles\": {\"Web\": {\"allow-host\": \"tcp/99999\"}}}", "profile \"Web\"",
                  "io.moat.allow-host: port 99999 out of range");
  assert_refused ("{\"profiles\": {\"Web\": {\"policy\": \"Other\"}}}", "policy", "unknown key");
  assert_refused ("{\"profiles\": {\"Web\": {\"lables\": \"a=b\"}}}", "lables", "unknown key");
  assert_refused ("{\"profiles\": {}, \"Web\": {}}", "nothing else", NULL);
}

static void
load_names_the_file (void **state)
{
  struct moat_profiles *p = NULL;
  moat_err_t err = { 0 };

  assert_int_equal (moat_profiles_load ("/nonexistent/policy.json", &p, &err), -1);
  assert_non_null (strstr (err.msg, "/nonexistent/policy.json"));
  assert_int_equal (err.code, MOAT_E_CONFIG);
}

static void
dup_is_deep (void **state)
{
  struct moat_profiles *p = parse_ok (WEB_DB);
  struct moat_annotations copy;
  moat_err_t err = { 0 };

  assert_int_equal (moat_annotations_dup (moat_profiles_find (p, "Web"), &copy, &err), 0);
  moat_profiles_free (p); /* the copy must not share anything */
  assert_int_equal (copy.n_depends, 2);
  assert_true (sel_matches (copy.depends, copy.n_depends, "{\"app\": \"db\"}"));
  assert_int_equal (copy.n_egress, 1);
  moat_annotations_free (&copy);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (trireme_profiles),
    cmocka_unit_test (trireme_operators),
    cmocka_unit_test (trireme_field_names_without_case),
    cmocka_unit_test (trireme_errors),
    cmocka_unit_test (spreading_values_is_bounded),
    cmocka_unit_test (moat_form),
    cmocka_unit_test (moat_form_errors),
    cmocka_unit_test (load_names_the_file),
    cmocka_unit_test (dup_is_deep),
  };

  cmocka_set_message_output (CM_OUTPUT_TAP);
  return cmocka_run_group_tests (tests, NULL, NULL);
}
