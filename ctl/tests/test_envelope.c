/* SPDX-License-Identifier: Apache-2.0 */
/* What an access envelope's token opens: the rules file's grammar
 * (envelope.h), and ingress grant words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "../envelope.h"
#include "../grant.h"
#include "../http.h"

static void
parse_ok (const char *text, struct moat_envelope_rules *r)
{
  moat_err_t err = { 0 };

  if (moat_envelope_rules_parse (text, strlen (text), "k.allow", r, &err) < 0)
    fail_msg ("%s: %s", text, err.msg);
}

static void
parse_fails (const char *text, const char *want)
{
  struct moat_envelope_rules r = { 0 };
  moat_err_t err = { 0 };

  assert_int_equal (moat_envelope_rules_parse (text, strlen (text), "k.allow", &r, &err), -1);
  assert_int_equal (r.n, 0);
  assert_null (strchr (err.msg, '\n'));
  if (!strstr (err.msg, want))
    fail_msg ("%s: got \"%s\", want \"%s\"", text, err.msg, want);
}

static void
test_rules (void **state)
{
  struct moat_envelope_rules r = { 0 };

  parse_ok ("# comment\n\nndt tcp/443  # trailing\n  ndt\ttcp/3010-3011\r\nweb udp/53", &r);
  assert_int_equal (r.n, 3);
  assert_string_equal (r.v[0].container, "ndt");
  assert_int_equal (r.v[0].ports.proto, IPPROTO_TCP);
  assert_int_equal (r.v[0].ports.lo, 443);
  assert_int_equal (r.v[1].ports.lo, 3010);
  assert_int_equal (r.v[1].ports.hi, 3011);
  assert_string_equal (r.v[2].container, "web");
  assert_int_equal (r.v[2].ports.proto, IPPROTO_UDP);
  moat_envelope_rules_free (&r);
  parse_ok ("", &r);
  assert_int_equal (r.n, 0);
  moat_envelope_rules_free (&r);
}

static void
test_rules_refused (void **state)
{
  char many[64 * 16 + 1] = "";

  parse_fails ("ndt", "k.allow:1: want CONTAINER PROTO/PORT[-PORT]");
  parse_fails ("ok tcp/1\nndt tcp/443 extra", "k.allow:2: want CONTAINER");
  parse_fails ("ndt tcp/99999", "k.allow:1");
  parse_fails ("ndt icmp", "k.allow:1");
  parse_fails ("a/b tcp/1", "not a container id or name");
  for (int i = 0; i < 65; i++)
    strcat (many, "c tcp/1\n");
  parse_fails (many, "more than 64 rules");
  {
    const char nul[] = "c tcp/1\0";
    struct moat_envelope_rules r = { 0 };
    moat_err_t err = { 0 };

    assert_int_equal (moat_envelope_rules_parse (nul, sizeof (nul), "k.allow", &r, &err), -1);
  }
}

static void
test_ingress_words (void **state)
{
  struct moat_grant g, other;
  moat_err_t err = { 0 };
  char words[MOAT_GRANT_WORDS_MAX];

  assert_int_equal (moat_grant_parse_text ("ingress 192.0.2.0/24 tcp/80-90", &g, &err), 0);
  assert_int_equal (g.kind, MOAT_GRANT_INGRESS);
  moat_grant_words (&g, words, sizeof (words));
  assert_string_equal (words, "ingress 192.0.2.0/24 tcp/80-90");
  assert_int_equal (moat_grant_parse_text ("ingress 192.0.2.7/32 tcp/85", &other, &err), 0);
  assert_true (moat_grant_overlaps (&g, &other));
  moat_grant_free (&other);
  assert_int_equal (moat_grant_parse_text ("egress 192.0.2.7/32 tcp/85", &other, &err), 0);
  assert_false (moat_grant_overlaps (&g, &other));
  moat_grant_free (&other);
  moat_grant_free (&g);
  assert_int_equal (moat_grant_parse_text ("ingress 192.0.2.0/24", &g, &err), -1);
  assert_non_null (strstr (err.msg, "want ingress CIDR PROTO/PORT[-PORT]"));
}

/* status and token (or reason part) of one complete request. */
static void
http_is (const char *req, int status, const char *want)
{
  struct moat_http_request r;

  assert_int_equal (moat_http_parse (req, strlen (req), &r), 0);
  if (r.status != status)
    fail_msg ("%s: %d (%s), want %d", req, r.status, r.reason ? r.reason : "", status);
  if (status == 0)
    assert_string_equal (r.token, want);
  else if (!strstr (r.reason, want))
    fail_msg ("%s: \"%s\", want \"%s\"", req, r.reason, want);
  moat_http_request_free (&r);
}

static void
test_http_parse (void **state)
{
  struct moat_http_request r;
  static char big[MOAT_HTTP_REQUEST_MAX];

  http_is ("GET /v0/allow?access_token=a.b.c HTTP/1.1\r\nHost: x\r\n\r\n", 0, "a.b.c");
  http_is ("GET /v0/allow?x=1&access_token=a%2Eb_-.c&y HTTP/1.0\n\n", 0, "a.b_-.c");
  http_is ("GET /v0/allow?access_token=a&access_token=b HTTP/1.1\r\n\r\n", 400, "twice");
  http_is ("GET /v0/allow?access_token=a%2 HTTP/1.1\r\n\r\n", 400, "percent");
  http_is ("GET /v0/allow?access_token=a%20b HTTP/1.1\r\n\r\n", 401, "malformed token");
  http_is ("GET /v0/allow?access_token= HTTP/1.1\r\n\r\n", 401, "missing access_token");
  http_is ("GET /v0/allow HTTP/1.1\r\n\r\n", 401, "missing access_token");
  http_is ("GET /v0/allowed?access_token=a HTTP/1.1\r\n\r\n", 404, "not found");
  http_is ("POST /v0/allow?access_token=a HTTP/1.1\r\n\r\n", 405, "only GET");
  http_is ("GET /v0/allow?access_token=a HTTP/2\r\n\r\n", 400, "HTTP/1.0 or HTTP/1.1");
  http_is ("GET\r\n\r\n", 400, "request line");
  http_is ("GET /v0/allow?access_token=a HTTP/1.1\r\nX: \x01\r\n\r\n", 400, "not text");
  /* Incomplete below the cap; refused at it. */
  assert_int_equal (moat_http_parse ("GET /v0/allow", 13, &r), 1);
  memset (big, 'a', sizeof (big));
  assert_int_equal (moat_http_parse (big, sizeof (big), &r), 0);
  assert_int_equal (r.status, 431);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_rules),
    cmocka_unit_test (test_rules_refused),
    cmocka_unit_test (test_ingress_words),
    cmocka_unit_test (test_http_parse),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
