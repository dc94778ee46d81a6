/* SPDX-License-Identifier: Apache-2.0 */
/* io.moat.* annotations: grammar, errors and selector evaluation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "model/annot.h"
#include "base/cleanup.h"

static const struct moat_annotations zeroed;

static json_t *
object1 (const char *key, json_t *value)
{
  json_t *o = json_object ();

  assert_non_null (o);
  assert_int_equal (json_object_set_new (o, key, value), 0);
  return o;
}

/* Parses {key: value}. */
static int
parse1 (const char *key, const char *value, struct moat_annotations *a, moat_err_t *err)
{
  json_auto_t *o = object1 (key, json_string (value));

  return moat_annotations_parse (o, a, err);
}

static void
assert_refused_json (json_t *o, const char *key, const char *needle)
{
  struct moat_annotations a;
  moat_err_t err = { 0 };
  char *text = json_dumps (o, JSON_COMPACT);

  if (moat_annotations_parse (o, &a, &err) != -1)
    fail_msg ("%s: accepted, want an error containing \"%s\"", text, needle);
  if (err.code != MOAT_E_CONFIG || strncmp (err.msg, key, strlen (key)) != 0
      || strncmp (err.msg + strlen (key), ": ", 2) != 0 || !strstr (err.msg, needle)
      || strchr (err.msg, '\n'))
    fail_msg ("%s: got code %d \"%s\", want code %d starting \"%s: \" containing \"%s\"", text,
              err.code, err.msg, MOAT_E_CONFIG, key, needle);
  if (memcmp (&a, &zeroed, sizeof (a)) != 0)
    fail_msg ("%s: result not zeroed after failure", text);
  free (text);
}

/* {key: value} is refused with MOAT_E_CONFIG, a message starting "key: "
 * and containing needle. */
static void
assert_refused (const char *key, const char *value, const char *needle)
{
  json_auto_t *o = object1 (key, json_string (value));

  assert_refused_json (o, key, needle);
}

static void
assert_refused_exact (const char *key, const char *value, const char *msg)
{
  struct moat_annotations a;
  moat_err_t err = { 0 };

  assert_int_equal (parse1 (key, value, &a, &err), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_string_equal (err.msg, msg);
}

static void
parse_ok (const char *key, const char *value, struct moat_annotations *a)
{
  moat_err_t err = { 0 };

  if (parse1 (key, value, a, &err) != 0)
    fail_msg ("%s=%s: refused: %s", key, value, err.msg);
}

static char *
repeat (char c, size_t n)
{
  char *s = malloc (n + 1);

  assert_non_null (s);
  memset (s, c, n);
  s[n] = '\0';
  return s;
}

static void
assert_addr (struct in_addr addr, const char *want)
{
  char text[INET_ADDRSTRLEN];

  inet_ntop (AF_INET, &addr, text, sizeof (text));
  assert_string_equal (text, want);
}

static void
assert_ports (const struct moat_ports *p, int proto, int lo, int hi)
{
  assert_int_equal (p->proto, proto);
  assert_int_equal (p->lo, lo);
  assert_int_equal (p->hi, hi);
}

static void
assert_acl (const struct moat_acl *acl, const char *addr, int prefixlen, int proto, int lo, int hi)
{
  assert_addr (acl->addr, addr);
  assert_int_equal (acl->prefixlen, prefixlen);
  assert_ports (&acl->ports, proto, lo, hi);
}

static void
assert_term (const struct moat_sel_term *t, enum moat_sel_op op, const char *key, const char *value)
{
  assert_int_equal (t->op, op);
  assert_string_equal (t->key, key);
  if (value)
    assert_string_equal (t->value, value);
  else
    assert_null (t->value);
}

static const char *const keys[] = {
  "io.moat.labels",  "io.moat.depends",  "io.moat.expose", "io.moat.allow-host", "io.moat.egress",
  "io.moat.ingress", "io.moat.internet", "io.moat.proxy",  "io.moat.policy",     "io.moat.network",
};

/* ---- the object ---- */

static void
test_no_annotations (void **state)
{
  struct moat_annotations a;
  moat_err_t err = { 0 };
  json_auto_t *null = json_null ();
  json_auto_t *empty = json_object ();
  json_auto_t *foreign
      = json_pack ("{s:s, s:i, s:s, s:s}", "org.opencontainers.image.os", "linux",
                   "com.example.count", 3, "io.moat", "x", "io.moatx.labels", "a=b");

  assert_int_equal (moat_annotations_parse (NULL, &a, &err), 0);
  assert_memory_equal (&a, &zeroed, sizeof (a));
  assert_int_equal (moat_annotations_parse (null, &a, &err), 0);
  assert_memory_equal (&a, &zeroed, sizeof (a));
  assert_int_equal (moat_annotations_parse (empty, &a, &err), 0);
  assert_memory_equal (&a, &zeroed, sizeof (a));
  assert_int_equal (moat_annotations_parse (foreign, &a, &err), 0);
  assert_memory_equal (&a, &zeroed, sizeof (a));
  moat_annotations_free (&a);
}

static void
test_not_an_object (void **state)
{
  struct moat_annotations a;
  moat_err_t err = { 0 };
  json_auto_t *list = json_pack ("[s]", "io.moat.labels=app=web");

  assert_int_equal (moat_annotations_parse (list, &a, &err), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_string_equal (err.msg, "annotations: must be an object of strings");
  assert_memory_equal (&a, &zeroed, sizeof (a));
}

static void
test_any (void **state)
{
  json_auto_t *foreign = json_pack ("{s:s, s:s}", "io.moat", "x", "io.moatx", "y");
  json_auto_t *ours = json_pack ("{s:s, s:s}", "a", "b", "io.moat.labels", "app=web");
  json_auto_t *typo = json_pack ("{s:s}", "io.moat.allowhost", "tcp/22");
  json_auto_t *upper = json_pack ("{s:s}", "IO.Moat.labels", "app=web");
  json_auto_t *list = json_pack ("[s]", "io.moat.labels");
  json_auto_t *empty = json_object ();

  assert_false (moat_annotations_any (NULL));
  assert_false (moat_annotations_any (empty));
  assert_false (moat_annotations_any (list));
  assert_false (moat_annotations_any (foreign));
  assert_true (moat_annotations_any (ours));
  assert_true (moat_annotations_any (typo));
  assert_true (moat_annotations_any (upper));
}

/* io.moat.publish: the grammar of model/publish.h, errors naming the key;
 * a copy keeps the list. */
static void
test_publish (void **state)
{
  struct moat_annotations a, b;
  moat_err_t err = { 0 };

  assert_int_equal (parse1 ("io.moat.publish", "8080:80,127.0.0.1:5353:53/udp", &a, &err), 0);
  assert_int_equal (a.publish.n, 2);
  assert_int_equal (a.publish.v[1].proto, 17);
  assert_int_equal (moat_annotations_dup (&a, &b, &err), 0);
  assert_int_equal (b.publish.n, 2);
  assert_memory_equal (a.publish.v, b.publish.v, 2 * sizeof (*a.publish.v));
  moat_annotations_free (&a);
  moat_annotations_free (&b);
  assert_refused ("io.moat.publish", "8080", "item \"8080\": expected");
  assert_refused ("io.moat.publish", "8080:80/sctp", "protocol \"sctp\"");
  assert_refused ("io.moat.publish", "::1:8080:80",
                  "host address \"::1\": IPv6 loopback cannot be published by the kernel");
  assert_refused ("io.moat.publish", "8080:80,8080:81", "publish one host port");
}

static void
test_unknown_key (void **state)
{
  json_auto_t *upper = object1 ("IO.MOAT.labels", json_string ("app=web"));
  json_auto_t *bare = object1 ("io.moat.", json_string ("x"));

  assert_refused_exact (
      "io.moat.allowhost", "tcp/22",
      "io.moat.allowhost: unknown annotation (known: io.moat.labels, "
      "io.moat.depends, io.moat.expose, io.moat.allow-host, io.moat.egress, "
      "io.moat.ingress, io.moat.internet, io.moat.proxy, io.moat.policy, "
      "io.moat.network, io.moat.name, io.moat.aliases, io.moat.ip, io.moat.publish)");
  assert_refused ("io.moat.label", "app=web", "unknown annotation");
  assert_refused ("io.moat.labels.extra", "app=web", "unknown annotation");
  assert_refused_json (upper, "IO.MOAT.labels", "unknown annotation");
  assert_refused_json (bare, "io.moat.", "unknown annotation");
  /* Unknown even with a value that would be malformed anywhere else. */
  assert_refused ("io.moat.typo", "", "unknown annotation");
}

static void
test_non_string (void **state)
{
  for (size_t i = 0; i < sizeof (keys) / sizeof (keys[0]); i++)
    {
      json_t *values[] = { json_integer (80), json_true (), json_null (),
                           json_pack ("{s:s}", "app", "web"), json_pack ("[s]", "app=web") };

      for (size_t j = 0; j < sizeof (values) / sizeof (values[0]); j++)
        {
          json_auto_t *o = object1 (keys[i], values[j]);
          char want[128];

          snprintf (want, sizeof (want), "%s: must be a string", keys[i]);
          assert_refused_json (o, keys[i], want);
        }
    }
}

static void
test_empty_value (void **state)
{
  for (size_t i = 0; i < sizeof (keys) / sizeof (keys[0]); i++)
    {
      char want[128];

      snprintf (want, sizeof (want), "%s: empty value", keys[i]);
      assert_refused_exact (keys[i], "", want);
      assert_refused_exact (keys[i], " \t ", want);
    }
}

static void
test_nul_byte (void **state)
{
  json_auto_t *o = object1 ("io.moat.labels", json_stringn ("app=web\0x", 9));

  assert_refused_json (o, "io.moat.labels", "io.moat.labels: contains a NUL byte");
}

static void
test_all_keys (void **state)
{
  struct moat_annotations a;
  moat_err_t err = { 0 };
  json_auto_t *o = json_pack (
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "io.moat.labels", "app=web",
      "io.moat.depends", "app=db", "io.moat.expose", "role=client", "io.moat.allow-host", "tcp/22",
      "io.moat.egress", "192.30.253.0/24 tcp/443", "io.moat.ingress", "10.9.0.0/16 any",
      "io.moat.internet", "false", "io.moat.proxy", "10.0.0.5:3128", "io.moat.policy", "web",
      "io.moat.network", "moat-net", "org.example.other", "ignored");

  assert_int_equal (moat_annotations_parse (o, &a, &err), 0);
  assert_int_equal (a.n_labels, 1);
  assert_string_equal (a.labels[0].key, "app");
  assert_true (a.have_depends);
  assert_int_equal (a.n_depends, 1);
  assert_true (a.have_expose);
  assert_int_equal (a.n_expose, 1);
  assert_int_equal (a.n_allow_host, 1);
  assert_int_equal (a.n_egress, 1);
  assert_acl (&a.egress[0], "192.30.253.0", 24, IPPROTO_TCP, 443, 443);
  assert_int_equal (a.n_ingress, 1);
  assert_acl (&a.ingress[0], "10.9.0.0", 16, 0, 0, 0);
  assert_true (a.have_internet);
  assert_false (a.internet);
  assert_true (a.have_proxy);
  assert_string_equal (a.policy, "web");
  assert_string_equal (a.network, "moat-net");
  moat_annotations_free (&a);
  assert_memory_equal (&a, &zeroed, sizeof (a));
  moat_annotations_free (&a); /* a zeroed struct is fine */
}

/* Everything parsed before the bad key is freed (valgrind and ASan check
 * that nothing leaks) and the result is zeroed. */
static void
test_failure_frees_everything (void **state)
{
  json_auto_t *o = json_pack (
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "io.moat.labels", "app=web,env=dev",
      "io.moat.depends", "app=db&env!=prod,tier", "io.moat.expose", "!debug", "io.moat.allow-host",
      "tcp/22,udp/53", "io.moat.egress", "10.0.0.0/8 tcp/443", "io.moat.ingress", "10.9.0.0/16 any",
      "io.moat.proxy", "10.0.0.5:3128 80+443", "io.moat.policy", "web", "io.moat.network",
      "moat-net", "io.moat.internet", "maybe");

  assert_refused_json (o, "io.moat.internet", "\"maybe\"");
}

/* A failure inside each list, after some of its items were parsed. */
static void
test_failure_mid_list_frees (void **state)
{
  assert_refused ("io.moat.labels", "a=1,b=2,c=$", "value \"$\"");
  assert_refused ("io.moat.labels", "a=1,b=2,a=3", "duplicate key");
  assert_refused ("io.moat.depends", "a=1&b,c&!d,e&f=$", "value \"$\"");
  assert_refused ("io.moat.depends", "a=1&b,c&d&", "term 3 is empty");
  assert_refused ("io.moat.expose", "a,a,b&!b=1", "!key takes no value");
  assert_refused ("io.moat.allow-host", "tcp/1,tcp/2,tcp/x", "not a number");
  assert_refused ("io.moat.egress", "10.0.0.0/8 any,10.0.0.1/8 any", "host bits");
  assert_refused ("io.moat.proxy", "10.0.0.5:3128 80+443+x", "not a number");
}

static void
test_messages_are_one_line (void **state)
{
  assert_refused ("io.moat.labels", "a\nb=c", "key \"a\\x0ab\": character byte 0x0a not allowed");
  assert_refused ("io.moat.policy", "a\tb", "\"a\\x09b\": character byte 0x09 not allowed");
}

static void
test_long_items_are_clipped (void **state)
{
  _cleanup_free_ char *key = repeat ('k', 5000);
  _cleanup_free_ char *item = NULL;
  struct moat_annotations a;
  moat_err_t err = { 0 };

  assert_true (asprintf (&item, "%s=v", key) > 0);
  assert_int_equal (parse1 ("io.moat.labels", item, &a, &err), -1);
  assert_non_null (strstr (err.msg, "longer than 63 characters"));
  assert_non_null (strstr (err.msg, "kkk..."));
  assert_true (strlen (err.msg) < 400);

  assert_refused_exact ("io.moat.allow-host", "tcp/123456789012345678901234567890",
                        "io.moat.allow-host: port 1234567890123456... out of range (1-65535)");
}

/* ---- labels ---- */

static void
test_labels (void **state)
{
  _cleanup_free_ char *name63 = repeat ('n', 63);
  _cleanup_free_ char *prefix253 = repeat ('p', 253);
  _cleanup_free_ char *value63 = repeat ('v', 63);
  _cleanup_free_ char *text = NULL;
  struct moat_annotations a;

  parse_ok ("io.moat.labels", " app=web , env=dev,tier=,example.com/role=db,a.B_c-9=X.y_z-1,-=.",
            &a);
  assert_int_equal (a.n_labels, 6);
  assert_string_equal (a.labels[0].key, "app");
  assert_string_equal (a.labels[0].value, "web");
  assert_string_equal (a.labels[1].key, "env");
  assert_string_equal (a.labels[1].value, "dev");
  assert_string_equal (a.labels[2].key, "tier");
  assert_string_equal (a.labels[2].value, "");
  assert_string_equal (a.labels[3].key, "example.com/role");
  assert_string_equal (a.labels[3].value, "db");
  assert_string_equal (a.labels[4].key, "a.B_c-9");
  assert_string_equal (a.labels[4].value, "X.y_z-1");
  assert_string_equal (a.labels[5].key, "-");
  assert_string_equal (a.labels[5].value, ".");
  assert_false (a.have_depends || a.have_expose);
  moat_annotations_free (&a);

  assert_true (asprintf (&text, "%s/%s=%s", prefix253, name63, value63) > 0);
  parse_ok ("io.moat.labels", text, &a);
  assert_int_equal (a.n_labels, 1);
  assert_int_equal (strlen (a.labels[0].key), 253 + 1 + 63);
  assert_string_equal (a.labels[0].value, value63);
  moat_annotations_free (&a);
}

static void
test_labels_malformed (void **state)
{
  _cleanup_free_ char *name64 = repeat ('n', 64);
  _cleanup_free_ char *prefix254 = repeat ('p', 254);
  _cleanup_free_ char *value64 = repeat ('v', 64);
  _cleanup_free_ char *long_name = NULL, *long_prefix = NULL, *long_value = NULL;

  assert_true (asprintf (&long_name, "%s=x", name64) > 0);
  assert_true (asprintf (&long_prefix, "%s/app=x", prefix254) > 0);
  assert_true (asprintf (&long_value, "app=%s", value64) > 0);

  assert_refused ("io.moat.labels", "app", "\"app\": expected key=value");
  assert_refused ("io.moat.labels", "app=web,env", "\"env\": expected key=value");
  assert_refused ("io.moat.labels", "=web", "key \"\": empty");
  assert_refused ("io.moat.labels", "a b=c", "character ' ' not allowed");
  assert_refused ("io.moat.labels", "app$=x", "character '$' not allowed");
  assert_refused ("io.moat.labels", "äpp=x", "character byte 0xc3 not allowed");
  assert_refused ("io.moat.labels", long_name, "key \"nnnn");
  assert_refused ("io.moat.labels", long_name, "longer than 63 characters");
  assert_refused ("io.moat.labels", long_prefix, "prefix longer than 253 characters");
  assert_refused ("io.moat.labels", "Example.com/app=x", "prefix character 'E' not allowed");
  assert_refused ("io.moat.labels", "ex_ample.com/app=x", "prefix character '_' not allowed");
  assert_refused ("io.moat.labels", "/app=x", "empty prefix before '/'");
  assert_refused ("io.moat.labels", "example.com/=x", "empty name after '/'");
  assert_refused ("io.moat.labels", "a/b/c=x", "more than one '/'");
  assert_refused ("io.moat.labels", "app=a b", "value \"a b\": character ' ' not allowed");
  assert_refused ("io.moat.labels", "app=a=b", "value \"a=b\": character '=' not allowed");
  assert_refused ("io.moat.labels", "app=a/b", "character '/' not allowed");
  assert_refused ("io.moat.labels", long_value, "value \"vvvv");
  assert_refused ("io.moat.labels", long_value, "longer than 63 characters");
  assert_refused ("io.moat.labels", "app=web,,env=dev", "item 2 is empty");
  assert_refused ("io.moat.labels", "app=web,", "item 2 is empty");
  assert_refused ("io.moat.labels", ",app=web", "item 1 is empty");
  assert_refused ("io.moat.labels", "app=web, ,env=dev", "item 2 is empty");
  assert_refused ("io.moat.labels", ",", "item 1 is empty");
  assert_refused ("io.moat.labels", "app=web,app=db", "duplicate key \"app\"");
  assert_refused ("io.moat.labels", "app=web,app=web", "duplicate key \"app\"");
}

static void
test_labels_messages (void **state)
{
  assert_refused_exact ("io.moat.labels", "app=web,env=dev,app=db",
                        "io.moat.labels: duplicate key \"app\"");
  assert_refused_exact ("io.moat.labels", "app=web,,env=dev", "io.moat.labels: item 2 is empty");
  assert_refused_exact (
      "io.moat.labels", "a$b=c",
      "io.moat.labels: \"a$b=c\": key \"a$b\": character '$' not allowed (want A-Z a-z 0-9 . _ -)");
  assert_refused_exact ("io.moat.labels", "app", "io.moat.labels: \"app\": expected key=value");
}

static void
test_item_count_limit (void **state)
{
  struct moat_annotations a;
  moat_err_t err = { 0 };
  size_t size = (MOAT_ANNOT_MAX_ITEMS + 1) * 12;
  _cleanup_free_ char *text = calloc (1, size);
  size_t o = 0;

  assert_non_null (text);
  for (int i = 0; i < MOAT_ANNOT_MAX_ITEMS; i++)
    o += snprintf (text + o, size - o, "%sk%d=v", i ? "," : "", i);
  assert_int_equal (parse1 ("io.moat.labels", text, &a, &err), 0);
  assert_int_equal (a.n_labels, MOAT_ANNOT_MAX_ITEMS);
  moat_annotations_free (&a);

  snprintf (text + o, size - o, ",extra=v");
  assert_refused_exact ("io.moat.labels", text, "io.moat.labels: 1025 items, more than 1024");
}

/* ---- selectors: grammar ---- */

static void
test_selectors (void **state)
{
  struct moat_annotations a;

  parse_ok ("io.moat.depends", " app=web & env!=prod , db,!debug, tier=&x!=", &a);
  assert_true (a.have_depends);
  assert_false (a.have_expose);
  assert_int_equal (a.n_depends, 4);
  assert_int_equal (a.depends[0].n_terms, 2);
  assert_term (&a.depends[0].terms[0], MOAT_SEL_EQ, "app", "web");
  assert_term (&a.depends[0].terms[1], MOAT_SEL_NE, "env", "prod");
  assert_int_equal (a.depends[1].n_terms, 1);
  assert_term (&a.depends[1].terms[0], MOAT_SEL_EXISTS, "db", NULL);
  assert_int_equal (a.depends[2].n_terms, 1);
  assert_term (&a.depends[2].terms[0], MOAT_SEL_ABSENT, "debug", NULL);
  assert_int_equal (a.depends[3].n_terms, 2);
  assert_term (&a.depends[3].terms[0], MOAT_SEL_EQ, "tier", "");
  assert_term (&a.depends[3].terms[1], MOAT_SEL_NE, "x", "");
  moat_annotations_free (&a);

  parse_ok ("io.moat.expose", "example.com/role=client&!example.com/banned", &a);
  assert_false (a.have_depends);
  assert_true (a.have_expose);
  assert_int_equal (a.n_expose, 1);
  assert_int_equal (a.expose[0].n_terms, 2);
  assert_term (&a.expose[0].terms[0], MOAT_SEL_EQ, "example.com/role", "client");
  assert_term (&a.expose[0].terms[1], MOAT_SEL_ABSENT, "example.com/banned", NULL);
  moat_annotations_free (&a);
}

static void
test_selectors_collapse_repeats (void **state)
{
  struct moat_annotations a;

  parse_ok ("io.moat.depends", "app=web&app=web&env", &a);
  assert_int_equal (a.n_depends, 1);
  assert_int_equal (a.depends[0].n_terms, 2);
  moat_annotations_free (&a);

  /* The same selector twice, its terms in another order: one. */
  parse_ok ("io.moat.expose", "a&b=1,b=1&a,a,a&b=1&a", &a);
  assert_int_equal (a.n_expose, 2);
  assert_int_equal (a.expose[0].n_terms, 2);
  assert_int_equal (a.expose[1].n_terms, 1);
  moat_annotations_free (&a);

  /* Same key, different operators or values: all kept. */
  parse_ok ("io.moat.depends", "a=1,a!=1,a,!a,a=2", &a);
  assert_int_equal (a.n_depends, 5);
  moat_annotations_free (&a);
  parse_ok ("io.moat.depends", "a=1&b,a=1&b=1", &a);
  assert_int_equal (a.n_depends, 2);
  moat_annotations_free (&a);
}

static void
test_selectors_malformed (void **state)
{
  _cleanup_free_ char *name64 = repeat ('n', 64);
  _cleanup_free_ char *value64 = repeat ('v', 64);
  _cleanup_free_ char *long_key = NULL, *long_value = NULL;
  char many[MOAT_SEL_MAX_TERMS * 8];
  size_t o = 0;

  assert_true (asprintf (&long_key, "app=web&%s", name64) > 0);
  assert_true (asprintf (&long_value, "app!=%s", value64) > 0);
  for (int i = 0; i <= MOAT_SEL_MAX_TERMS; i++)
    o += snprintf (many + o, sizeof (many) - o, "%sk%d", i ? "&" : "", i);

  assert_refused ("io.moat.depends", "app=web&", "\"app=web&\": term 2 is empty");
  assert_refused ("io.moat.depends", "&app", "term 1 is empty");
  assert_refused ("io.moat.depends", "app& &env", "term 2 is empty");
  assert_refused ("io.moat.depends", "app=web,,env", "item 2 is empty");
  assert_refused ("io.moat.depends", "app,", "item 2 is empty");
  assert_refused ("io.moat.depends", "a b", "character ' ' not allowed");
  assert_refused ("io.moat.depends", "app==web", "value \"=web\": character '=' not allowed");
  assert_refused ("io.moat.depends", "app=!web", "character '!' not allowed");
  assert_refused ("io.moat.depends", "app!web", "character '!' not allowed");
  assert_refused ("io.moat.depends", "!!app", "character '!' not allowed");
  assert_refused ("io.moat.depends", "!", "key \"\": empty");
  assert_refused ("io.moat.depends", "!=web", "key \"\": empty");
  assert_refused ("io.moat.depends", "=web", "key \"\": empty");
  assert_refused ("io.moat.depends", "! app", "character ' ' not allowed");
  assert_refused ("io.moat.depends", "app = web", "character ' ' not allowed");
  assert_refused ("io.moat.depends", "Ex.com/app", "prefix character 'E' not allowed");
  assert_refused ("io.moat.depends", long_key, "longer than 63 characters");
  assert_refused ("io.moat.depends", long_value, "longer than 63 characters");
  assert_refused ("io.moat.expose", many, "33 terms, more than 32");
  assert_refused ("io.moat.expose", "app=web|env=dev", "character '|' not allowed");
  assert_refused_exact ("io.moat.depends", "app&!env=dev",
                        "io.moat.depends: \"app&!env=dev\": \"!env=dev\": !key takes no value "
                        "(write key!=value)");
  assert_refused_exact ("io.moat.expose", "app=web&&x",
                        "io.moat.expose: \"app=web&&x\": term 2 is empty");
}

/* ---- selectors: evaluation ---- */

/* Parses `text` as io.moat.depends and evaluates it against `labels`
 * (JSON text). */
static bool
matches (const char *text, const char *labels_json)
{
  struct moat_annotations a;
  json_auto_t *labels = labels_json ? json_loads (labels_json, JSON_ALLOW_NUL, NULL) : NULL;
  bool result;

  if (labels_json)
    assert_non_null (labels);
  parse_ok ("io.moat.depends", text, &a);
  result = moat_selectors_match (a.depends, a.n_depends, labels);
  if (a.n_depends == 1)
    assert_int_equal (moat_selector_matches (&a.depends[0], labels), result);
  moat_annotations_free (&a);
  return result;
}

static void
test_match_eq (void **state)
{
  assert_true (matches ("app=web", "{\"app\":\"web\"}"));
  assert_true (matches ("app=web", "{\"env\":\"dev\",\"app\":\"web\"}"));
  assert_false (matches ("app=web", "{\"app\":\"db\"}"));
  assert_false (matches ("app=web", "{\"app\":\"webx\"}"));
  assert_false (matches ("app=web", "{\"app\":\"we\"}"));
  assert_false (matches ("app=web", "{\"app\":\"WEB\"}"));
  assert_false (matches ("app=web", "{\"App\":\"web\"}"));
  assert_false (matches ("app=web", "{\"app\":\"web\\u0000x\"}"));
  assert_false (matches ("app=web", "{\"env\":\"web\"}"));
  assert_false (matches ("app=web", "{}"));
  assert_false (matches ("app=web", NULL));
  assert_false (matches ("app=1", "{\"app\":1}"));
  assert_false (matches ("app=web", "{\"app\":null}"));
}

static void
test_match_ne (void **state)
{
  assert_true (matches ("app!=web", "{\"app\":\"db\"}"));
  assert_true (matches ("app!=web", "{\"app\":\"\"}"));
  assert_true (matches ("app!=web", "{}")); /* absent is not equal */
  assert_true (matches ("app!=web", NULL));
  assert_true (matches ("app!=web", "{\"app\":7}"));
  assert_false (matches ("app!=web", "{\"app\":\"web\"}"));
  assert_false (matches ("app!=web", "{\"env\":\"dev\",\"app\":\"web\"}"));
}

static void
test_match_exists (void **state)
{
  assert_true (matches ("app", "{\"app\":\"web\"}"));
  assert_true (matches ("app", "{\"app\":\"\"}"));
  assert_true (matches ("app", "{\"app\":null}"));
  assert_false (matches ("app", "{\"apps\":\"web\"}"));
  assert_false (matches ("app", "{}"));
  assert_false (matches ("app", NULL));
}

static void
test_match_absent (void **state)
{
  assert_true (matches ("!debug", "{\"app\":\"web\"}"));
  assert_true (matches ("!debug", "{}"));
  assert_true (matches ("!debug", NULL));
  assert_false (matches ("!debug", "{\"debug\":\"\"}"));
  assert_false (matches ("!debug", "{\"debug\":\"1\",\"app\":\"web\"}"));
}

static void
test_match_and (void **state)
{
  const char *sel = "app=web&env!=prod&tier&!debug";

  assert_true (matches (sel, "{\"app\":\"web\",\"env\":\"dev\",\"tier\":\"front\"}"));
  assert_true (matches (sel, "{\"app\":\"web\",\"tier\":\"\"}"));
  assert_false (matches (sel, "{\"app\":\"db\",\"env\":\"dev\",\"tier\":\"front\"}"));
  assert_false (matches (sel, "{\"app\":\"web\",\"env\":\"prod\",\"tier\":\"front\"}"));
  assert_false (matches (sel, "{\"app\":\"web\",\"env\":\"dev\"}"));
  assert_false (matches (sel, "{\"app\":\"web\",\"tier\":\"x\",\"debug\":\"1\"}"));
  assert_false (matches (sel, "{}"));
  /* Contradictory terms match nothing. */
  assert_false (matches ("app&!app", "{\"app\":\"web\"}"));
  assert_false (matches ("app&!app", "{}"));
}

static void
test_match_or (void **state)
{
  const char *sels = "app=web&env=dev,app=db,!app";

  assert_true (matches (sels, "{\"app\":\"web\",\"env\":\"dev\"}"));
  assert_true (matches (sels, "{\"app\":\"db\"}"));
  assert_true (matches (sels, "{\"env\":\"prod\"}"));
  assert_true (matches (sels, NULL));
  assert_false (matches (sels, "{\"app\":\"web\",\"env\":\"prod\"}"));
  assert_false (matches (sels, "{\"app\":\"cache\"}"));
  assert_true (matches ("app=web,app=db", "{\"app\":\"db\"}"));
  assert_true (matches ("app=web,app=db", "{\"app\":\"web\"}"));
  assert_false (matches ("app=web,app=db", "{\"app\":\"cache\"}"));
}

static void
test_match_empty (void **state)
{
  json_auto_t *labels = json_pack ("{s:s}", "app", "web");
  json_auto_t *none = json_object ();
  struct moat_selector no_terms = { 0 };

  /* An empty list matches nothing, whatever the labels. */
  assert_false (moat_selectors_match (NULL, 0, labels));
  assert_false (moat_selectors_match (NULL, 0, none));
  assert_false (moat_selectors_match (NULL, 0, NULL));
  assert_false (moat_selectors_match (&no_terms, 0, labels));
  /* A selector without terms (the parser never makes one) is an empty AND. */
  assert_true (moat_selector_matches (&no_terms, labels));
  assert_true (moat_selector_matches (&no_terms, NULL));
  assert_true (moat_selectors_match (&no_terms, 1, none));
}

static void
test_match_empty_values (void **state)
{
  assert_true (matches ("tier=", "{\"tier\":\"\"}"));
  assert_false (matches ("tier=", "{\"tier\":\"x\"}"));
  assert_false (matches ("tier=", "{}"));
  assert_false (matches ("tier!=", "{\"tier\":\"\"}"));
  assert_true (matches ("tier!=", "{\"tier\":\"x\"}"));
  assert_true (matches ("tier!=", "{}"));
  assert_true (matches ("tier", "{\"tier\":\"\"}"));
  assert_false (matches ("!tier", "{\"tier\":\"\"}"));
}

static void
test_match_prefixed_keys (void **state)
{
  assert_true (matches ("example.com/app=web", "{\"example.com/app\":\"web\"}"));
  assert_false (matches ("example.com/app=web", "{\"app\":\"web\"}"));
  assert_false (matches ("app=web", "{\"example.com/app\":\"web\"}"));
}

/* ---- allow-host ---- */

static void
test_allow_host (void **state)
{
  struct moat_annotations a;

  parse_ok ("io.moat.allow-host",
            "udp/2222, tcp/8000-8010 ,TCP/22,Udp/1-65535,tcp/80-80,tcp/22,tcp/0022,uDp/2222", &a);
  assert_int_equal (a.n_allow_host, 5);
  assert_ports (&a.allow_host[0], IPPROTO_UDP, 2222, 2222);
  assert_ports (&a.allow_host[1], IPPROTO_TCP, 8000, 8010);
  assert_ports (&a.allow_host[2], IPPROTO_TCP, 22, 22);
  assert_ports (&a.allow_host[3], IPPROTO_UDP, 1, 65535);
  assert_ports (&a.allow_host[4], IPPROTO_TCP, 80, 80);
  moat_annotations_free (&a);

  parse_ok ("io.moat.allow-host", "tcp/65535", &a);
  assert_int_equal (a.n_allow_host, 1);
  assert_ports (&a.allow_host[0], IPPROTO_TCP, 65535, 65535);
  moat_annotations_free (&a);
}

static void
test_allow_host_malformed (void **state)
{
  assert_refused_exact ("io.moat.allow-host", "tcp/99999",
                        "io.moat.allow-host: port 99999 out of range (1-65535)");
  assert_refused_exact ("io.moat.allow-host", "tcp/0",
                        "io.moat.allow-host: port 0 out of range (1-65535)");
  assert_refused_exact ("io.moat.allow-host", "udp/65536",
                        "io.moat.allow-host: port 65536 out of range (1-65535)");
  assert_refused_exact ("io.moat.allow-host", "tcp/1-65536",
                        "io.moat.allow-host: port 65536 out of range (1-65535)");
  assert_refused_exact ("io.moat.allow-host", "tcp/0-10",
                        "io.moat.allow-host: port 0 out of range (1-65535)");
  assert_refused_exact ("io.moat.allow-host", "tcp/22,tcp/90-80",
                        "io.moat.allow-host: \"tcp/90-80\": range reversed (90 > 80)");
  assert_refused_exact ("io.moat.allow-host", "sctp/80",
                        "io.moat.allow-host: \"sctp/80\": protocol \"sctp\" is not tcp or udp");
  assert_refused_exact ("io.moat.allow-host", "tcp/http",
                        "io.moat.allow-host: \"tcp/http\": port \"http\" is not a number");
  assert_refused ("io.moat.allow-host", "tcp", "\"tcp\": tcp needs a port");
  assert_refused ("io.moat.allow-host", "tcp/", "missing port");
  assert_refused ("io.moat.allow-host", "tcp/-80", "missing port");
  assert_refused ("io.moat.allow-host", "tcp/80-", "missing port");
  assert_refused ("io.moat.allow-host", "tcp/+80", "port \"+80\" is not a number");
  assert_refused ("io.moat.allow-host", "tcp/ 80", "port \" 80\" is not a number");
  assert_refused ("io.moat.allow-host", "tcp/8 0", "is not a number");
  assert_refused ("io.moat.allow-host", "tcp/1-2-3", "port \"2-3\" is not a number");
  assert_refused ("io.moat.allow-host", "tcp/0x50", "is not a number");
  assert_refused ("io.moat.allow-host", "80", "protocol \"80\" is not tcp or udp");
  assert_refused ("io.moat.allow-host", "/80", "protocol \"\" is not tcp or udp");
  assert_refused ("io.moat.allow-host", "tcp:80", "protocol \"tcp:80\" is not tcp or udp");
  assert_refused ("io.moat.allow-host", "icmp", "protocol \"icmp\" is not tcp or udp");
  assert_refused ("io.moat.allow-host", "any", "protocol \"any\" is not tcp or udp");
  assert_refused ("io.moat.allow-host", "tcp/22,,udp/53", "item 2 is empty");
  assert_refused ("io.moat.allow-host", "tcp/22,", "item 2 is empty");
  assert_refused ("io.moat.allow-host", "tcp/18446744073709551617", "out of range (1-65535)");
}

/* ---- egress, ingress ---- */

static void
test_egress (void **state)
{
  struct moat_annotations a;

  parse_ok ("io.moat.egress",
            "192.30.253.0/24 tcp/80, 0.0.0.0/0 udp/53 ,10.0.0.1 icmp,10.1.0.0/16   any,"
            "10.2.0.0/16\tTCP/1000-2000,10.3.0.7/32 ANY,10.1.0.0/16 any,10.4.0.0/16 Icmp,"
            "192.30.253.0/24 tcp/80-80",
            &a);
  assert_int_equal (a.n_egress, 7);
  assert_acl (&a.egress[0], "192.30.253.0", 24, IPPROTO_TCP, 80, 80);
  assert_acl (&a.egress[1], "0.0.0.0", 0, IPPROTO_UDP, 53, 53);
  assert_acl (&a.egress[2], "10.0.0.1", 32, IPPROTO_ICMP, 0, 0);
  assert_acl (&a.egress[3], "10.1.0.0", 16, 0, 0, 0);
  assert_acl (&a.egress[4], "10.2.0.0", 16, IPPROTO_TCP, 1000, 2000);
  assert_acl (&a.egress[5], "10.3.0.7", 32, 0, 0, 0);
  assert_acl (&a.egress[6], "10.4.0.0", 16, IPPROTO_ICMP, 0, 0);
  assert_int_equal (a.n_ingress, 0);
  moat_annotations_free (&a);

  /* Same address, other ports: kept; same ports, other prefix: kept. */
  parse_ok ("io.moat.egress", "10.0.0.0/8 tcp/80,10.0.0.0/8 udp/80,10.0.0.0/16 tcp/80", &a);
  assert_int_equal (a.n_egress, 3);
  moat_annotations_free (&a);
}

/* IPv6 ranges (docs/design.md, "IPv6"): kept apart from IPv4 ones, the
 * canonical text for the record. */
static void
test_acl6 (void **state)
{
  struct moat_annotations a;
  char buf[96];

  parse_ok ("io.moat.egress",
            "2001:db8::/32 tcp/443,2001:DB8:0::5 udp/53,10.0.0.0/8 tcp/443,::/0 icmp,"
            "2001:db8::/32 tcp/443,2001:db8::/48 tcp/443",
            &a);
  assert_int_equal (a.n_egress, 5);
  assert_true (a.egress[0].v6);
  assert_int_equal (a.egress[0].prefixlen, 32);
  moat_acl_format (&a.egress[0], buf, sizeof (buf));
  assert_string_equal (buf, "2001:db8::/32 tcp/443");
  moat_acl_format (&a.egress[1], buf, sizeof (buf));
  assert_string_equal (buf, "2001:db8::5/128 udp/53");
  assert_false (a.egress[2].v6);
  moat_acl_format (&a.egress[3], buf, sizeof (buf));
  assert_string_equal (buf, "::/0 icmp");
  moat_acl_format (&a.egress[4], buf, sizeof (buf));
  assert_string_equal (buf, "2001:db8::/48 tcp/443");
  moat_annotations_free (&a);

  parse_ok ("io.moat.ingress", "fd00:1::/64 tcp/22", &a);
  assert_int_equal (a.n_ingress, 1);
  assert_true (a.ingress[0].v6);
  moat_annotations_free (&a);
}

static void
test_acl6_overlap (void **state)
{
  struct moat_acl x, y, z, v4;
  char why[64];

  assert_int_equal (moat_acl_addr_parse ("2001:db8::/32", 13, &x, why, sizeof (why)), 0);
  assert_int_equal (moat_acl_addr_parse ("2001:db8:5::/48", 15, &y, why, sizeof (why)), 0);
  assert_int_equal (moat_acl_addr_parse ("2001:db9::/32", 13, &z, why, sizeof (why)), 0);
  assert_int_equal (moat_acl_addr_parse ("0.0.0.0/0", 9, &v4, why, sizeof (why)), 0);
  assert_true (moat_acl_addr_overlaps (&x, &y));
  assert_true (moat_acl_addr_overlaps (&y, &x));
  assert_false (moat_acl_addr_overlaps (&x, &z));
  assert_false (moat_acl_addr_overlaps (&x, &v4));
  assert_false (moat_acl_addr_equal (&x, &y));
  assert_int_equal (moat_acl_addr_parse ("2001:db8::1/32", 14, &x, why, sizeof (why)), -2);
  assert_int_equal (moat_acl_addr_parse ("2001:db8::1", 11, &x, why, sizeof (why)), 0);
  assert_int_equal (x.prefixlen, 128);
}

static void
test_ingress (void **state)
{
  struct moat_annotations a;

  parse_ok ("io.moat.ingress", "10.9.0.0/16 tcp/22,172.16.0.5 udp/5000-5010", &a);
  assert_int_equal (a.n_egress, 0);
  assert_int_equal (a.n_ingress, 2);
  assert_acl (&a.ingress[0], "10.9.0.0", 16, IPPROTO_TCP, 22, 22);
  assert_acl (&a.ingress[1], "172.16.0.5", 32, IPPROTO_UDP, 5000, 5010);
  moat_annotations_free (&a);
}

static void
test_acl_malformed (void **state)
{
  for (int i = 0; i < 2; i++)
    {
      const char *key = i ? "io.moat.ingress" : "io.moat.egress";

      assert_refused (key, "10.0.0.1/24 tcp/80",
                      "\"10.0.0.1/24 tcp/80\": host bits set in 10.0.0.1/24 (the network is "
                      "10.0.0.0/24)");
      assert_refused (key, "10.0.0.0/0 any", "host bits set in 10.0.0.0/0");
      assert_refused (key, "10.0.0.0/33 any",
                      "\"10.0.0.0/33\" is not an IPv4 or IPv6 address or CIDR");
      assert_refused (key, "10.0.0.0/ any", "is not an IPv4 or IPv6 address or CIDR");
      assert_refused (key, "10.0.0.0/-1 any", "is not an IPv4 or IPv6 address or CIDR");
      assert_refused (key, "10.0.0.0/8/8 any", "is not an IPv4 or IPv6 address or CIDR");
      assert_refused (key, "10.0.0.300 tcp/80", "\"10.0.0.300\" is not an IPv4 or IPv6 address");
      assert_refused (key, "10.0.0 tcp/80", "is not an IPv4 or IPv6 address");
      assert_refused (key, "example.com tcp/80", "is not an IPv4 or IPv6 address");
      assert_refused (key, "2001:db8::1/64 tcp/80",
                      "host bits set in 2001:db8::1/64 (the network is 2001:db8::/64)");
      assert_refused (key, "2001:db8::/129 any", "\"2001:db8::/129\" is not an IPv4 or IPv6");
      assert_refused (key, "2001:db8:::1 any", "is not an IPv4 or IPv6 address");
      assert_refused (key, "fe80::1%eth0 any", "is not an IPv4 or IPv6 address");
      assert_refused (key, "2001:db8::/ any", "is not an IPv4 or IPv6 address");
      assert_refused (key, "::ffff:10.0.0.0.1/120 any", "is not an IPv4 or IPv6 address");
      assert_refused (key, "255.255.255.255.255.255/32 any", "is not an IPv4 or IPv6 address");
      assert_refused (key, "10.0.0.0/8", "\"10.0.0.0/8\": expected ADDR PORTS");
      assert_refused (key, "10.0.0.0/8 tcp/80 udp/53", "expected ADDR PORTS");
      assert_refused (key, "tcp/80", "expected ADDR PORTS");
      assert_refused (key, "10.0.0.0/8 icmp/8", "\"10.0.0.0/8 icmp/8\": icmp takes no port");
      assert_refused (key, "10.0.0.0/8 any/80", "any takes no port");
      assert_refused (key, "10.0.0.0/8 tcp", "tcp needs a port");
      assert_refused (key, "10.0.0.0/8 udp/", "missing port");
      assert_refused (key, "10.0.0.0/8 sctp/1", "protocol \"sctp\" is not tcp, udp, icmp or any");
      assert_refused (key, "10.0.0.0/8 all", "protocol \"all\" is not tcp, udp, icmp or any");
      assert_refused (key, "10.0.0.0/8 tcp/0", "port 0 out of range (1-65535)");
      assert_refused (key, "10.0.0.0/8 tcp/65536", "port 65536 out of range (1-65535)");
      assert_refused (key, "10.0.0.0/8 tcp/443-80", "range reversed (443 > 80)");
      assert_refused (key, "10.0.0.0/8 any,", "item 2 is empty");
      assert_refused (key, "10.0.0.0/8 any,,10.0.0.0/8 icmp", "item 2 is empty");
    }
  assert_refused_exact ("io.moat.egress", "10.0.0.1/24 tcp/80",
                        "io.moat.egress: \"10.0.0.1/24 tcp/80\": host bits set in 10.0.0.1/24 "
                        "(the network is 10.0.0.0/24)");
}

/* ---- internet ---- */

static void
test_internet (void **state)
{
  struct moat_annotations a;

  parse_ok ("io.moat.internet", "true", &a);
  assert_true (a.have_internet && a.internet);
  moat_annotations_free (&a);
  parse_ok ("io.moat.internet", " false ", &a);
  assert_true (a.have_internet);
  assert_false (a.internet);
  moat_annotations_free (&a);

  assert_refused_exact ("io.moat.internet", "yes", "io.moat.internet: \"yes\": want true or false");
  assert_refused ("io.moat.internet", "1", "want true or false");
  assert_refused ("io.moat.internet", "TRUE", "want true or false");
  assert_refused ("io.moat.internet", "true,false", "want true or false");
  assert_refused ("io.moat.internet", "truee", "want true or false");
}

/* ---- proxy ---- */

static void
test_proxy (void **state)
{
  struct moat_annotations a;

  parse_ok ("io.moat.proxy", "10.0.0.5:3128", &a);
  assert_true (a.have_proxy);
  assert_addr (a.proxy_addr, "10.0.0.5");
  assert_int_equal (a.proxy_port, 3128);
  assert_int_equal (a.n_proxy_ports, 1);
  assert_int_equal (a.proxy_ports[0], 80);
  moat_annotations_free (&a);

  parse_ok ("io.moat.proxy", "  192.168.1.1:8080   80+443 ", &a);
  assert_addr (a.proxy_addr, "192.168.1.1");
  assert_int_equal (a.proxy_port, 8080);
  assert_int_equal (a.n_proxy_ports, 2);
  assert_int_equal (a.proxy_ports[0], 80);
  assert_int_equal (a.proxy_ports[1], 443);
  moat_annotations_free (&a);

  parse_ok ("io.moat.proxy", "[2001:db8::5]:3128 443", &a);
  assert_true (a.have_proxy && a.proxy_v6);
  assert_int_equal (a.proxy_addr6.s6_addr[0], 0x20);
  assert_int_equal (a.proxy_addr6.s6_addr[15], 5);
  assert_int_equal (a.proxy_port, 3128);
  assert_int_equal (a.n_proxy_ports, 1);
  assert_int_equal (a.proxy_ports[0], 443);
  moat_annotations_free (&a);

  parse_ok ("io.moat.proxy", "10.0.0.5:65535 443 + 80+443+8080", &a);
  assert_int_equal (a.proxy_port, 65535);
  assert_int_equal (a.n_proxy_ports, 3);
  assert_int_equal (a.proxy_ports[0], 443);
  assert_int_equal (a.proxy_ports[1], 80);
  assert_int_equal (a.proxy_ports[2], 8080);
  moat_annotations_free (&a);
}

static void
test_proxy_malformed (void **state)
{
  assert_refused_exact ("io.moat.proxy", "10.0.0.5:99999",
                        "io.moat.proxy: port 99999 out of range (1-65535)");
  assert_refused_exact ("io.moat.proxy", "10.0.0.5",
                        "io.moat.proxy: \"10.0.0.5\": expected IP:PORT, then optionally ports "
                        "like 80+443");
  assert_refused ("io.moat.proxy", "10.0.0.5 3128", "expected IP:PORT");
  assert_refused ("io.moat.proxy", "10.0.0.5:", "\"10.0.0.5:\": missing port");
  assert_refused ("io.moat.proxy", "10.0.0.5:0", "port 0 out of range (1-65535)");
  assert_refused ("io.moat.proxy", "10.0.0.5:squid", "port \"squid\" is not a number");
  assert_refused ("io.moat.proxy", "proxy.local:3128",
                  "\"proxy.local:3128\": \"proxy.local\" is not an IPv4 address");
  assert_refused ("io.moat.proxy", ":3128", "\"\" is not an IPv4 address");
  assert_refused ("io.moat.proxy", "10.0.0.5:3128:1", "is not an IPv4 address");
  assert_refused ("io.moat.proxy", "[::1]:3128",
                  "::1 is not a global or unique-local unicast address");
  assert_refused ("io.moat.proxy", "[fe80::1]:3128", "is not a global or unique-local");
  assert_refused ("io.moat.proxy", "[ff02::1]:3128", "is not a global or unique-local");
  assert_refused ("io.moat.proxy", "[::ffff:10.0.0.5]:3128", "is not a global or unique-local");
  assert_refused ("io.moat.proxy", "[::]:3128", "is not a global or unique-local");
  assert_refused ("io.moat.proxy", "[2001:db8::1]3128", "expected [IPV6]:PORT");
  assert_refused ("io.moat.proxy", "[2001:db8::1:3128", "expected [IPV6]:PORT");
  assert_refused ("io.moat.proxy", "[10.0.0.5]:3128", "\"10.0.0.5\" is not an IPv6 address");
  assert_refused ("io.moat.proxy", "[2001:db8::1]:", "missing port");
  assert_refused ("io.moat.proxy", "2001:db8::1:3128", "an IPv6 proxy is written [ADDR]:PORT");
  assert_refused ("io.moat.proxy", "2001:db8:aaaa:bbbb::1:3128",
                  "an IPv6 proxy is written [ADDR]:PORT");
  assert_refused ("io.moat.proxy", "10.0.0.0/8:3128", "is not an IPv4 address");
  assert_refused ("io.moat.proxy", "0.0.0.0:3128", "0.0.0.0 is not a unicast address");
  assert_refused ("io.moat.proxy", "0.1.2.3:3128", "0.1.2.3 is not a unicast address");
  assert_refused ("io.moat.proxy", "224.0.0.1:3128", "is not a unicast address");
  assert_refused ("io.moat.proxy", "255.255.255.255:3128", "is not a unicast address");
  assert_refused ("io.moat.proxy", "10.0.0.5:3128 80++443", "missing port");
  assert_refused ("io.moat.proxy", "10.0.0.5:3128 80+", "missing port");
  assert_refused ("io.moat.proxy", "10.0.0.5:3128 +80", "missing port");
  assert_refused ("io.moat.proxy", "10.0.0.5:3128 80+http", "port \"http\" is not a number");
  assert_refused ("io.moat.proxy", "10.0.0.5:3128 80 443", "port \"80 443\" is not a number");
  assert_refused ("io.moat.proxy", "10.0.0.5:3128 80,443", "port \"80,443\" is not a number");
  assert_refused ("io.moat.proxy", "10.0.0.5:3128 80-90", "is not a number");
  assert_refused ("io.moat.proxy", "10.0.0.5:3128 0", "port 0 out of range");
  assert_refused ("io.moat.proxy", "10.0.0.5:3128 70000", "port 70000 out of range");
  assert_refused ("io.moat.proxy", "10.0.0.5:3128,10.0.0.6:3128", "is not an IPv4 address");
}

/* ---- policy, network ---- */

static void
test_policy_and_network (void **state)
{
  _cleanup_free_ char *name128 = repeat ('p', 128);
  _cleanup_free_ char *name250 = repeat ('n', 250);
  struct moat_annotations a;

  parse_ok ("io.moat.policy", " trireme-web_1.X ", &a);
  assert_string_equal (a.policy, "trireme-web_1.X");
  assert_null (a.network);
  moat_annotations_free (&a);
  parse_ok ("io.moat.policy", "-x", &a);
  assert_string_equal (a.policy, "-x");
  moat_annotations_free (&a);
  parse_ok ("io.moat.policy", name128, &a);
  assert_string_equal (a.policy, name128);
  moat_annotations_free (&a);

  parse_ok ("io.moat.network", "moat-net_1.x", &a);
  assert_string_equal (a.network, "moat-net_1.x");
  assert_null (a.policy);
  moat_annotations_free (&a);
  parse_ok ("io.moat.network", "9", &a);
  assert_string_equal (a.network, "9");
  moat_annotations_free (&a);
  parse_ok ("io.moat.network", name250, &a);
  assert_string_equal (a.network, name250);
  moat_annotations_free (&a);
}

static void
test_policy_and_network_malformed (void **state)
{
  _cleanup_free_ char *name129 = repeat ('p', 129);
  _cleanup_free_ char *name251 = repeat ('n', 251);

  assert_refused ("io.moat.policy", name129, "longer than 128 characters");
  assert_refused_exact ("io.moat.policy", "web policy",
                        "io.moat.policy: \"web policy\": character ' ' not allowed "
                        "(want A-Z a-z 0-9 . _ -)");
  assert_refused ("io.moat.policy", "a/b", "character '/' not allowed");
  assert_refused ("io.moat.policy", "web,db", "character ',' not allowed");
  assert_refused ("io.moat.policy", "../etc", "character '/' not allowed");
  assert_refused ("io.moat.network", name251, "longer than 250 characters");
  assert_refused_exact ("io.moat.network", "-net",
                        "io.moat.network: \"-net\": must start with a letter or digit");
  assert_refused ("io.moat.network", ".net", "must start with a letter or digit");
  assert_refused ("io.moat.network", "net/1", "character '/' not allowed");
  assert_refused ("io.moat.network", "net 1", "character ' ' not allowed");
  assert_refused ("io.moat.network", "net:1", "character ':' not allowed");
}

static void
test_name_aliases_ip (void **state)
{
  struct moat_annotations a;

  parse_ok ("io.moat.name", "db", &a);
  assert_string_equal (a.name, "db");
  moat_annotations_free (&a);
  parse_ok ("io.moat.aliases", "database, cache", &a);
  assert_int_equal (json_array_size (a.aliases), 2);
  moat_annotations_free (&a);
  parse_ok ("io.moat.ip", "10.1.0.9", &a);
  assert_true (a.have_ip);
  assert_int_equal (ntohl (a.ip.s_addr), 0x0a010009);
  moat_annotations_free (&a);
  assert_refused_exact ("io.moat.name", "web.1",
                        "io.moat.name: \"web.1\" is not a DNS label (1-63 letters, digits, '-' or "
                        "'_', not starting or ending with '-')");
  assert_refused_exact ("io.moat.aliases", "a,-b",
                        "io.moat.aliases: \"-b\" is not a DNS label (1-63 letters, digits, '-' or "
                        "'_', not starting or ending with '-')");
  assert_refused_exact ("io.moat.ip", "10.1.0", "io.moat.ip: \"10.1.0\" is not an IPv4 address");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_name_aliases_ip),
    cmocka_unit_test (test_no_annotations),
    cmocka_unit_test (test_not_an_object),
    cmocka_unit_test (test_any),
    cmocka_unit_test (test_unknown_key),
    cmocka_unit_test (test_publish),
    cmocka_unit_test (test_non_string),
    cmocka_unit_test (test_empty_value),
    cmocka_unit_test (test_nul_byte),
    cmocka_unit_test (test_all_keys),
    cmocka_unit_test (test_failure_frees_everything),
    cmocka_unit_test (test_failure_mid_list_frees),
    cmocka_unit_test (test_messages_are_one_line),
    cmocka_unit_test (test_long_items_are_clipped),
    cmocka_unit_test (test_labels),
    cmocka_unit_test (test_labels_malformed),
    cmocka_unit_test (test_labels_messages),
    cmocka_unit_test (test_item_count_limit),
    cmocka_unit_test (test_selectors),
    cmocka_unit_test (test_selectors_collapse_repeats),
    cmocka_unit_test (test_selectors_malformed),
    cmocka_unit_test (test_match_eq),
    cmocka_unit_test (test_match_ne),
    cmocka_unit_test (test_match_exists),
    cmocka_unit_test (test_match_absent),
    cmocka_unit_test (test_match_and),
    cmocka_unit_test (test_match_or),
    cmocka_unit_test (test_match_empty),
    cmocka_unit_test (test_match_empty_values),
    cmocka_unit_test (test_match_prefixed_keys),
    cmocka_unit_test (test_allow_host),
    cmocka_unit_test (test_allow_host_malformed),
    cmocka_unit_test (test_egress),
    cmocka_unit_test (test_ingress),
    cmocka_unit_test (test_acl_malformed),
    cmocka_unit_test (test_acl6),
    cmocka_unit_test (test_acl6_overlap),
    cmocka_unit_test (test_internet),
    cmocka_unit_test (test_proxy),
    cmocka_unit_test (test_proxy_malformed),
    cmocka_unit_test (test_policy_and_network),
    cmocka_unit_test (test_policy_and_network_malformed),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
