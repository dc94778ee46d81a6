/* SPDX-License-Identifier: Apache-2.0 */
/* The policy: merging its sources, who may talk to whom, its identity, and
 * the compiler (annotations in, the exact set of elements out). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "model/policy.h"

/* A record on network "net" with the given CNI labels (JSON object text)
 * and pod annotations (JSON object text or NULL); its network allows
 * everything (the ceiling's own tests are below and in test_ceiling). */
#define ALLOW_ALL                                                                                  \
  "{\"internet\": true, \"allowHost\": true, \"egress\": true, \"ingress\": true, \"proxy\": "     \
  "true}"

static void
record_init (struct moat_record *rec, const char *labels, const char *pod)
{
  memset (rec, 0, sizeof (*rec));
  rec->allow = json_loads (ALLOW_ALL, 0, NULL);
  rec->network = strdup ("net");
  rec->container_id = strdup ("c1");
  rec->ifname = strdup ("eth0");
  rec->labels = json_loads (labels ? labels : "{}", 0, NULL);
  rec->pod_annotations = pod ? json_loads (pod, 0, NULL) : NULL;
  assert_non_null (rec->labels);
}

/* The policy of a container with these annotations (JSON object text). */
static void
policy_of (const char *annotations, struct moat_policy *p)
{
  struct moat_record rec;
  json_auto_t *a = json_loads (annotations, 0, NULL);
  moat_err_t err = { 0 };

  assert_non_null (a);
  record_init (&rec, NULL, NULL);
  if (moat_policy_resolve (&rec, a, p, &err) < 0)
    fail_msg ("%s: %s", annotations, err.msg);
  moat_record_free (&rec);
}

static bool
allows (const char *from, const char *to)
{
  struct moat_policy a, b;
  bool r;

  policy_of (from, &a);
  policy_of (to, &b);
  r = moat_policy_allows (&a, &b);
  moat_policy_free (&a);
  moat_policy_free (&b);
  return r;
}

#define WEB "\"io.moat.labels\": \"app=web,env=dev\""
#define DB "\"io.moat.labels\": \"app=db,env=prod\""

static void
shared_label_opens_both_ways (void **state)
{
  assert_true (allows ("{" WEB "}", "{\"io.moat.labels\": \"app=web\"}"));
  assert_true (allows ("{\"io.moat.labels\": \"app=web\"}", "{" WEB "}"));
  assert_false (allows ("{" WEB "}", "{" DB "}"));
  assert_false (allows ("{" DB "}", "{" WEB "}"));
}

static void
no_label_talks_to_nobody (void **state)
{
  assert_false (allows ("{}", "{}"));
  assert_false (allows ("{}", "{" WEB "}"));
  assert_false (allows ("{" WEB "}", "{}"));
}

static void
same_key_other_value_is_not_shared (void **state)
{
  assert_false (allows ("{\"io.moat.labels\": \"env=dev\"}", "{\"io.moat.labels\": \"env=prod\"}"));
}

static void
sys_labels_are_not_shared_labels (void **state)
{
  /* Both are on network "net": @sys:network is equal but does not count. */
  assert_false (allows ("{\"io.moat.labels\": \"a=1\"}", "{\"io.moat.labels\": \"b=2\"}"));
  /* A selector sees it, though. */
  assert_true (allows ("{\"io.moat.depends\": \"@sys:network=net\"}", "{}"));
}

static void
depends_replaces_shared_label_one_way (void **state)
{
  const char *web = "{\"io.moat.labels\": \"app=web\", \"io.moat.depends\": \"app=db\"}";
  const char *db = "{\"io.moat.labels\": \"app=db\"}";

  assert_true (allows (web, db));
  assert_false (allows (db, web));
  /* depends replaces the shared-label rule: another web is not a dependency. */
  assert_false (allows (web, "{\"io.moat.labels\": \"app=web\"}"));
}

static void
depends_selectors_or_and_terms_and (void **state)
{
  const char *c = "{\"io.moat.depends\": \"app=db&env!=prod,role\"}";

  assert_true (allows (c, "{\"io.moat.labels\": \"app=db,env=dev\"}"));
  assert_true (allows (c, "{\"io.moat.labels\": \"app=db\"}"));
  assert_false (allows (c, "{\"io.moat.labels\": \"app=db,env=prod\"}"));
  assert_true (allows (c, "{\"io.moat.labels\": \"role=x,env=prod\"}"));
  assert_false (allows ("{\"io.moat.depends\": \"!app\"}", "{\"io.moat.labels\": \"app=x\"}"));
  assert_true (allows ("{\"io.moat.depends\": \"!app\"}", "{\"io.moat.labels\": \"b=x\"}"));
}

static void
expose_is_the_other_side (void **state)
{
  const char *db = "{\"io.moat.labels\": \"app=db\", \"io.moat.expose\": \"app=web\"}";

  assert_true (allows ("{\"io.moat.labels\": \"app=web\", \"io.moat.depends\": \"app=db\"}", db));
  /* A consumer it does not name, though it depends on it. */
  assert_false (allows ("{\"io.moat.labels\": \"app=x\", \"io.moat.depends\": \"app=db\"}", db));
  /* Its own side is still the shared-label rule. */
  assert_false (allows (db, "{\"io.moat.labels\": \"app=web\"}"));
  /* Both sides are needed: expose alone opens nothing. */
  assert_false (allows ("{\"io.moat.labels\": \"app=web\"}", db));
}

static void
deny_selectors_win (void **state)
{
  struct moat_policy a, b;
  struct moat_selector sel = { 0 };
  struct moat_sel_term term = { MOAT_SEL_EQ, (char *)"env", (char *)"prod" };

  policy_of ("{\"io.moat.labels\": \"app=web\", \"io.moat.depends\": \"app=db\"}", &a);
  policy_of ("{\"io.moat.labels\": \"app=db,env=prod\"}", &b);
  assert_true (moat_policy_allows (&a, &b));
  sel.terms = &term;
  sel.n_terms = 1;
  a.a.depends_deny = &sel;
  a.a.n_depends_deny = 1;
  assert_false (moat_policy_allows (&a, &b));
  a.a.depends_deny = NULL;
  a.a.n_depends_deny = 0;
  term.key = (char *)"app";
  term.value = (char *)"web";
  b.a.expose_deny = &sel;
  b.a.n_expose_deny = 1;
  assert_false (moat_policy_allows (&a, &b));
  b.a.expose_deny = NULL;
  b.a.n_expose_deny = 0;
  moat_policy_free (&a);
  moat_policy_free (&b);
}

static void
sources_merge (void **state)
{
  struct moat_record rec;
  struct moat_policy p;
  moat_err_t err = { 0 };
  json_auto_t *a = json_loads ("{\"io.moat.labels\": \"tier=1\", \"io.moat.allow-host\": "
                               "\"tcp/80\", \"io.moat.internet\": \"true\"}",
                               0, NULL);

  record_init (&rec, "{\"app\": \"web\"}",
               "{\"io.moat.labels\": \"ns=x\", \"io.moat.allow-host\": \"udp/53,tcp/80\", "
               "\"other.key\": \"ignored\"}");
  rec.pod_namespace = strdup ("kube");
  assert_int_equal (moat_policy_resolve (&rec, a, &p, &err), 0);
  assert_string_equal (json_string_value (json_object_get (p.labels, "app")), "web");
  assert_string_equal (json_string_value (json_object_get (p.labels, "ns")), "x");
  assert_string_equal (json_string_value (json_object_get (p.labels, "tier")), "1");
  assert_string_equal (json_string_value (json_object_get (p.labels, "@sys:namespace")), "kube");
  /* tcp/80 came from both: once. */
  assert_int_equal (p.a.n_allow_host, 2);
  assert_true (p.a.internet);
  moat_policy_free (&p);
  moat_record_free (&rec);
}

static void
conflicting_label_names_the_key (void **state)
{
  struct moat_record rec;
  struct moat_policy p;
  moat_err_t err = { 0 };
  json_auto_t *a = json_loads ("{\"io.moat.labels\": \"app=db\"}", 0, NULL);

  record_init (&rec, "{\"app\": \"web\"}", NULL);
  assert_int_equal (moat_policy_resolve (&rec, a, &p, &err), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_non_null (strstr (err.msg, "io.moat.labels: label \"app\""));
  moat_record_free (&rec);
}

static void
bad_pod_annotation_is_an_error (void **state)
{
  struct moat_record rec;
  struct moat_policy p;
  moat_err_t err = { 0 };

  record_init (&rec, NULL, "{\"io.moat.egress\": \"10.0.0.0/33 tcp/1\"}");
  assert_int_equal (moat_policy_resolve (&rec, NULL, &p, &err), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_non_null (strstr (err.msg, "pod annotations: io.moat.egress"));
  moat_record_free (&rec);
}

static void
missing_profile_names_the_file (void **state)
{
  struct moat_record rec;
  struct moat_policy p;
  moat_err_t err = { 0 };
  json_auto_t *a = json_loads ("{\"io.moat.policy\": \"Web\"}", 0, NULL);

  record_init (&rec, NULL, NULL);
  rec.policy_file = strdup ("/nonexistent/moat-policy.json");
  assert_int_equal (moat_policy_resolve (&rec, a, &p, &err), -1);
  assert_non_null (strstr (err.msg, "io.moat.policy \"Web\""));
  assert_non_null (strstr (err.msg, "/nonexistent/moat-policy.json"));
  moat_record_free (&rec);
}

/* resolve on a record of network "net" whose "allow" is `allow`; returns
 * the error message, or "" when resolved. */
static const char *
resolve_under (const char *allow, const char *labels, const char *pod, const char *annotations,
               bool network_internet, const char *policy_file, moat_err_t *err)
{
  struct moat_record rec;
  struct moat_policy p;
  json_auto_t *a = annotations ? json_loads (annotations, 0, NULL) : NULL;
  int r;

  record_init (&rec, labels, pod);
  json_decref (rec.allow);
  rec.allow = allow ? json_loads (allow, 0, NULL) : NULL;
  rec.internet = network_internet;
  rec.policy_file = policy_file ? strdup (policy_file) : NULL;
  memset (err, 0, sizeof (*err));
  r = moat_policy_resolve (&rec, a, &p, err);
  moat_record_free (&rec);
  if (r == 0)
    {
      moat_policy_free (&p);
      return "";
    }
  assert_int_equal (err->code, MOAT_E_CONFIG);
  return err->msg;
}

static void
ceiling_bounds_every_source (void **state)
{
  char path[] = "/tmp/moat-test-policy-XXXXXX";
  const char *profiles = "{\"profiles\": {\"Web\": {\"egress\": \"10.0.0.0/8 tcp/443\"}}}";
  int fd = mkstemp (path);
  moat_err_t err;

  assert_true (fd >= 0);
  assert_int_equal (write (fd, profiles, strlen (profiles)), (ssize_t)strlen (profiles));
  close (fd);
  /* No "allow": labels only; everything that crosses the edge is refused. */
  assert_string_equal (resolve_under (NULL, "{\"app\": \"web\"}", NULL,
                                      "{\"io.moat.labels\": \"env=dev\"}", false, NULL, &err),
                       "");
  assert_string_equal (
      resolve_under (NULL, NULL, NULL, "{\"io.moat.internet\": \"true\"}", false, NULL, &err),
      "io.moat.internet: true is not allowed on network \"net\" (its configuration has no "
      "\"allow\": {\"internet\": true})");
  /* ... unless the network gives the internet anyway. */
  assert_string_equal (
      resolve_under (NULL, NULL, NULL, "{\"io.moat.internet\": \"true\"}", true, NULL, &err), "");
  assert_string_equal (resolve_under ("{\"allowHost\": [\"tcp/8000-8010\"]}", NULL,
                                      "{\"io.moat.allow-host\": \"tcp/8000-8011\"}", NULL, false,
                                      NULL, &err),
                       "pod annotation io.moat.allow-host: tcp/8000-8011 is not allowed on network "
                       "\"net\" (allow.allowHost: [\"tcp/8000-8010\"])");
  assert_string_equal (resolve_under ("{\"labels\": [\"app=web\"]}", "{\"app\": \"db\"}", NULL,
                                      NULL, false, NULL, &err),
                       "args.cni.labels: app=db is not allowed on network \"net\" (allow.labels: "
                       "[\"app=web\"])");
  /* The profile the container picks is bounded too, and named. */
  assert_string_equal (
      resolve_under ("{\"egress\": [\"10.1.0.0/16\"]}", NULL, NULL, "{\"io.moat.policy\": \"Web\"}",
                     false, path, &err),
      "io.moat.policy \"Web\": io.moat.egress: 10.0.0.0/8 tcp/443 is not allowed on "
      "network \"net\" (allow.egress: [\"10.1.0.0/16\"])");
  assert_string_equal (resolve_under ("{\"egress\": [\"10.0.0.0/8\"]}", NULL, NULL,
                                      "{\"io.moat.policy\": \"Web\"}", false, path, &err),
                       "");
  unlink (path);
}

static char *
ident_text (const char *annotations)
{
  struct moat_policy p;
  json_t *j;
  char *text;

  policy_of (annotations, &p);
  j = moat_policy_ident_json (&p);
  text = json_dumps (j, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref (j);
  moat_policy_free (&p);
  return text;
}

static void
identity_is_canonical_and_round_trips (void **state)
{
  _cleanup_free_ char *a
      = ident_text ("{\"io.moat.labels\": \"b=2,a=1\", \"io.moat.depends\": \"x=1&y,!z\"}");
  _cleanup_free_ char *b
      = ident_text ("{\"io.moat.depends\": \"!z, y&x=1\", \"io.moat.labels\": \"a=1,b=2\"}");
  _cleanup_free_ char *c = ident_text ("{\"io.moat.labels\": \"a=1,b=2\"}");
  json_auto_t *j = json_loads (a, 0, NULL);
  struct moat_policy p, q;
  moat_err_t err = { 0 };

  assert_string_equal (a, b);
  assert_string_not_equal (a, c);
  /* An allow-host does not change who talks to whom. */
  _cleanup_free_ char *d
      = ident_text ("{\"io.moat.labels\": \"a=1,b=2\", \"io.moat.allow-host\": \"tcp/1\"}");
  assert_string_equal (c, d);

  assert_int_equal (moat_policy_from_ident_json (j, &p, &err), 0);
  policy_of ("{\"io.moat.labels\": \"x=1,y=0\"}", &q);
  assert_true (moat_policy_allows (&p, &q));
  moat_policy_free (&q);
  policy_of ("{\"io.moat.labels\": \"x=2,y=0,z=1\"}", &q);
  assert_false (moat_policy_allows (&p, &q));
  moat_policy_free (&q);
  moat_policy_free (&p);
}

static int
strcmp_p (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* Compiles and compares the sorted element texts with `want`. */
static void
assert_compiles (const struct moat_compile_input *in, const char *const *want, size_t nwant)
{
  struct moat_nft_elems *e = moat_nft_elems_new ();
  char *got[64];
  size_t n;

  assert_non_null (e);
  assert_int_equal (moat_policy_compile (in, e), 0);
  n = moat_nft_elems_count (e);
  assert_true (n <= 64);
  for (size_t i = 0; i < n; i++)
    {
      got[i] = malloc (256);
      moat_nft_elems_format (e, i, got[i], 256);
    }
  qsort (got, n, sizeof (*got), strcmp_p);
  for (size_t i = 0; i < n || i < nwant; i++)
    if (i >= n || i >= nwant || strcmp (got[i], want[i]) != 0)
      {
        for (size_t k = 0; k < n; k++)
          print_message ("got  %s\n", got[k]);
        fail_msg ("element %zu: got \"%s\", want \"%s\"", i, i < n ? got[i] : "(none)",
                  i < nwant ? want[i] : "(none)");
      }
  for (size_t i = 0; i < n; i++)
    free (got[i]);
  moat_nft_elems_free (e);
}

static struct in_addr
ip (const char *s)
{
  struct in_addr a;

  assert_int_equal (inet_pton (AF_INET, s, &a), 1);
  return a;
}

static void
compiler_own_elements (void **state)
{
  struct moat_policy p;
  struct moat_compile_input in = { .addr = ip ("10.9.0.5"), .ident = "0123456789abcdef" };
  static const char *const want[] = {
    "egress: 10.9.0.5 . 192.0.2.0-192.0.2.255 . tcp . 443",
    "egress: 10.9.0.5 . 198.51.100.7 . 0-255 . 0-65535",
    "host_grants: 10.9.0.5 . tcp . 8000-8010",
    "host_grants: 10.9.0.5 . udp . 2222",
    "ingress: 203.0.113.0-203.0.113.15 . 10.9.0.5 . icmp . 0-65535",
    "internet: 10.9.0.5",
    "proxied: 10.9.0.5 . 10.9.0.1 . tcp . 3128",
    "proxy: 10.9.0.5 . 443 : 10.9.0.1 . 3128",
    "proxy: 10.9.0.5 . 80 : 10.9.0.1 . 3128",
    "src_ident: 10.9.0.5 : jump id_0123456789abcdef",
  };

  policy_of ("{\"io.moat.allow-host\": \"udp/2222,tcp/8000-8010\","
             " \"io.moat.egress\": \"192.0.2.0/24 tcp/443, 198.51.100.7 any\","
             " \"io.moat.ingress\": \"203.0.113.0/28 icmp\","
             " \"io.moat.internet\": \"true\","
             " \"io.moat.proxy\": \"10.9.0.1:3128 80+443\"}",
             &p);
  in.policy = &p;
  assert_compiles (&in, want, ARRAY_SIZE (want));
  moat_policy_free (&p);
}

/* A proxy is the host or outside: one on the container's own network is
 * refused, naming the key; the gateway and outside addresses are fine. */
static void
proxy_on_own_network_is_refused (void **state)
{
  static const struct
  {
    const char *proxy;
    bool ok;
  } cases[] = {
    { "10.9.0.7:3128", false }, { "10.9.0.255:3128", false }, { "10.9.0.1:3128", true },
    { "10.9.1.7:3128", true },  { "192.0.2.1:3128", true },
  };

  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    {
      struct moat_record rec;
      struct moat_policy p;
      moat_err_t err = { 0 };
      char text[128];
      json_t *a;
      int r;

      snprintf (text, sizeof (text), "{\"io.moat.proxy\": \"%s\"}", cases[i].proxy);
      a = json_loads (text, 0, NULL);
      record_init (&rec, NULL, NULL);
      rec.addr = ip ("10.9.0.5");
      rec.gateway = ip ("10.9.0.1");
      rec.prefixlen = 24;
      r = moat_policy_resolve (&rec, a, &p, &err);
      if (cases[i].ok && r < 0)
        fail_msg ("%s: %s", cases[i].proxy, err.msg);
      if (!cases[i].ok)
        {
          assert_int_equal (r, -1);
          assert_int_equal (err.code, MOAT_E_CONFIG);
          assert_non_null (strstr (err.msg, "io.moat.proxy: "));
          assert_non_null (strstr (err.msg, "own network"));
        }
      else
        moat_policy_free (&p);
      moat_record_free (&rec);
      json_decref (a);
    }
}

static void
compiler_internet_from_the_network_is_not_repeated (void **state)
{
  struct moat_policy p;
  struct moat_compile_input in = { .addr = ip ("10.9.0.5"), .ident = "0123456789abcdef" };
  static const char *const want[] = { "src_ident: 10.9.0.5 : jump id_0123456789abcdef" };

  policy_of ("{\"io.moat.internet\": \"true\"}", &p);
  in.policy = &p;
  in.network_internet = true;
  assert_compiles (&in, want, ARRAY_SIZE (want));
  moat_policy_free (&p);
}

/* web (new identity W, depends on db) joins; identities: W itself (one
 * other member), D (app=db, two members, exposes to app=web), O (app=web
 * too but no depends: shares a label with W, yet W depends only on db). */
static void
compiler_peers_through_identities (void **state)
{
  struct moat_policy w, d, o;
  struct in_addr w_addrs[] = { ip ("10.9.0.5"), ip ("10.9.0.6") };
  struct in_addr d_addrs[] = { ip ("10.9.0.7"), ip ("10.9.0.8") };
  struct in_addr o_addrs[] = { ip ("10.9.0.9") };
  struct moat_peer_group groups[] = {
    { "aaaaaaaaaaaaaaaa", &w, w_addrs, 2 },
    { "dddddddddddddddd", &d, d_addrs, 2 },
    { "cccccccccccccccc", &o, o_addrs, 1 },
  };
  struct moat_compile_input in = { .addr = ip ("10.9.0.5"),
                                   .ident = "aaaaaaaaaaaaaaaa",
                                   .new_ident = true,
                                   .groups = groups,
                                   .ngroups = 3 };
  static const char *const want_new[] = {
    "id_aaaaaaaaaaaaaaaa: 10.9.0.7",
    "id_aaaaaaaaaaaaaaaa: 10.9.0.8",
    "id_cccccccccccccccc: 10.9.0.5",
    "src_ident: 10.9.0.5 : jump id_aaaaaaaaaaaaaaaa",
  };
  static const char *const want_existing[] = {
    "id_cccccccccccccccc: 10.9.0.5",
    "src_ident: 10.9.0.5 : jump id_aaaaaaaaaaaaaaaa",
  };

  policy_of ("{\"io.moat.labels\": \"app=web\", \"io.moat.depends\": \"app=db\"}", &w);
  policy_of ("{\"io.moat.labels\": \"app=db\", \"io.moat.expose\": \"app=web\"}", &d);
  policy_of ("{\"io.moat.labels\": \"app=web\"}", &o);
  in.policy = &w;
  /* New: W's set gets D's members; O (shared label, no depends) may reach
   * W, so W's address joins O's set; W does not reach its own kind. */
  assert_compiles (&in, want_new, ARRAY_SIZE (want_new));
  /* An identity that has members already has its set. */
  in.new_ident = false;
  assert_compiles (&in, want_existing, ARRAY_SIZE (want_existing));
  moat_policy_free (&w);
  moat_policy_free (&d);
  moat_policy_free (&o);
}

static void
compiler_leave_takes_the_address_out_of_reaching_identities (void **state)
{
  struct moat_policy a, b;
  struct moat_peer_group groups[] = {
    { "aaaaaaaaaaaaaaaa", &a, NULL, 0 },
    { "bbbbbbbbbbbbbbbb", &b, NULL, 0 },
  };
  struct moat_nft_elems *e = moat_nft_elems_new ();
  char buf[256];

  policy_of ("{\"io.moat.labels\": \"app=x\"}", &a);
  policy_of ("{\"io.moat.labels\": \"app=y\"}", &b);
  assert_int_equal (moat_policy_compile_leave (ip ("10.9.0.5"), &a, groups, 2, e), 0);
  assert_int_equal (moat_nft_elems_count (e), 1);
  moat_nft_elems_format (e, 0, buf, sizeof (buf));
  assert_string_equal (buf, "id_aaaaaaaaaaaaaaaa: 10.9.0.5");
  moat_nft_elems_free (e);
  moat_policy_free (&a);
  moat_policy_free (&b);
}

/* A new identity's set in a batch of joins: the members from before that
 * it may reach, whatever group they are in; none of a group it may not. */
static void
compiler_reach_of_a_new_identity (void **state)
{
  struct moat_policy w, d, o;
  struct in_addr d_addrs[] = { ip ("10.9.0.7"), ip ("10.9.0.8") };
  struct in_addr o_addrs[] = { ip ("10.9.0.9") };
  struct moat_peer_group groups[] = {
    { "aaaaaaaaaaaaaaaa", &w, NULL, 0 },
    { "dddddddddddddddd", &d, d_addrs, 2 },
    { "cccccccccccccccc", &o, o_addrs, 1 },
  };
  struct moat_nft_elems *e = moat_nft_elems_new ();
  char buf[256];

  policy_of ("{\"io.moat.labels\": \"app=web\", \"io.moat.depends\": \"app=db\"}", &w);
  policy_of ("{\"io.moat.labels\": \"app=db\", \"io.moat.expose\": \"app=web\"}", &d);
  policy_of ("{\"io.moat.labels\": \"app=web\"}", &o);
  assert_int_equal (moat_policy_compile_reach ("aaaaaaaaaaaaaaaa", &w, groups, 3, e), 0);
  assert_int_equal (moat_nft_elems_count (e), 2);
  moat_nft_elems_format (e, 0, buf, sizeof (buf));
  assert_string_equal (buf, "id_aaaaaaaaaaaaaaaa: 10.9.0.7");
  moat_nft_elems_format (e, 1, buf, sizeof (buf));
  assert_string_equal (buf, "id_aaaaaaaaaaaaaaaa: 10.9.0.8");
  moat_nft_elems_free (e);
  /* O shares a label with itself: its new set holds O's member, not D's
   * (D exposes to app=web, but O does not depend on db). */
  e = moat_nft_elems_new ();
  assert_int_equal (moat_policy_compile_reach ("cccccccccccccccc", &o, groups, 3, e), 0);
  assert_int_equal (moat_nft_elems_count (e), 1);
  moat_nft_elems_format (e, 0, buf, sizeof (buf));
  assert_string_equal (buf, "id_cccccccccccccccc: 10.9.0.9");
  moat_nft_elems_free (e);
  moat_policy_free (&w);
  moat_policy_free (&d);
  moat_policy_free (&o);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (compiler_reach_of_a_new_identity),
    cmocka_unit_test (shared_label_opens_both_ways),
    cmocka_unit_test (no_label_talks_to_nobody),
    cmocka_unit_test (same_key_other_value_is_not_shared),
    cmocka_unit_test (sys_labels_are_not_shared_labels),
    cmocka_unit_test (depends_replaces_shared_label_one_way),
    cmocka_unit_test (depends_selectors_or_and_terms_and),
    cmocka_unit_test (expose_is_the_other_side),
    cmocka_unit_test (deny_selectors_win),
    cmocka_unit_test (sources_merge),
    cmocka_unit_test (conflicting_label_names_the_key),
    cmocka_unit_test (bad_pod_annotation_is_an_error),
    cmocka_unit_test (missing_profile_names_the_file),
    cmocka_unit_test (identity_is_canonical_and_round_trips),
    cmocka_unit_test (compiler_own_elements),
    cmocka_unit_test (compiler_internet_from_the_network_is_not_repeated),
    cmocka_unit_test (proxy_on_own_network_is_refused),
    cmocka_unit_test (ceiling_bounds_every_source),
    cmocka_unit_test (compiler_peers_through_identities),
    cmocka_unit_test (compiler_leave_takes_the_address_out_of_reaching_identities),
  };

  cmocka_set_message_output (CM_OUTPUT_TAP);
  return cmocka_run_group_tests (tests, NULL, NULL);
}
