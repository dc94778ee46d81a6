/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl: the operator's CLI. Parses the command line and prints; the
 * work is in ctl/ctl.c, explain.c and token.c, the tables in listing.c. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "kernel/confine.h"
#include "ctl.h"
#include "envelope.h"
#include "serve.h"
#include "dockeruser.h"
#include "run.h"
#include "cluster-watch.h"
#include "host.h"
#include "cluster.h"
#include "grant.h"
#include "listing.h"
#include "kernel/landlock.h"
#include "state/state.h"
#include "token.h"
#include "stats.h"
#include "metrics.h"
#include "verbs/dnsd.h"
#include "verbs/gc.h"
#include "verbs/teardown.h"

/* Exit codes (moatctl(8), EXIT STATUS). */
enum
{
  EXIT_OK = 0,
  EXIT_NO = 1,    /* refused, not found, drift */
  EXIT_USAGE = 2, /* bad words, system error */
};

static const char usage[]
    = "Usage: moatctl [--json] COMMAND ...\n"
      "\n"
      "  ls                                    containers on moat networks, with their grants\n"
      "  show CONTAINER                        one container: addresses, labels, policy, grants\n"
      "  grant CONTAINER host PROTO/PORT[-PORT] [--ttl 30s|10m|1h]\n"
      "  grant CONTAINER egress CIDR PROTO/PORT[-PORT] [--ttl ...]\n"
      "  grant CONTAINER peer CONTAINER2 [--ttl ...]\n"
      "  grant CONTAINER ingress CIDR PROTO/PORT[-PORT] [--ttl ...]   from outside\n"
      "  grant --token JWT|- [--keys DIR] [--iss ISSUER]   (-: the token on stdin)\n"
      "  grant --token JWT --to CONTAINER PROTO/PORT[-PORT]  an envelope token (no grants)\n"
      "  http [--keys DIR] [--iss ISSUER]      GET /v0/allow?access_token= on stdin/stdout\n"
      "  revoke CONTAINER host|egress|peer|ingress ...  the same words as the grant\n"
      "  revoke --token JWT|- [--keys DIR] [--iss ISSUER]  refused until its exp\n"
      "  explain SRC DST PROTO/PORT            allowed (exit 0) or refused (exit 1), and why\n"
      "  explain -6 SRC DST PROTO/PORT         the same over IPv6 (implied by an IPv6 SRC or DST)\n"
      "  check                                 kernel against records; foreign rules (exit 1)\n"
      "  restore                               rebuild moat's tables from the records\n"
      "  docker-user add|remove BRIDGE...      accept the bridges in docker's DOCKER-USER chain\n"
      "  watch [CONTAINER]                     refused flows as they happen (networks with log)\n"
      "  log CONTAINER on|off                  its refused flows logged for watch, or not\n"
      "  run --network NAME [--label K=V]... [--annotation io.moat.K=V]... [--name N]\n"
      "      [--user USER[:GROUP]] -- CMD [ARG...]   CMD in a namespace of its own, attached\n"
      "  host attach --network NAME --cgroup PATH --name N [--label K=V]...\n"
      "      [--annotation io.moat.K=V]...     an existing cgroup v2 group's processes, attached\n"
      "  host detach N                         the group's policy removed (the group stays)\n"
      "  gc [--dry-run]                        remove attachments whose container is gone\n"
      "  teardown                              remove moat's empty bridges and its tables\n"
      "  cluster apply [--node SELF] FILE|-    sync a view of the cluster's other nodes here\n"
      "  cluster members CLUSTER [--node SELF] this node's members of CLUSTER, as a view's\n"
      "  cluster key CLUSTER                   this node's WireGuard public key for CLUSTER\n"
      "  cluster watch CLUSTER [--node N] [--underlay ADDR] [--ttl SECONDS]\n"
      "                                        this node's watcher of the cluster's store\n"
      "  resolve APP USER                      address of the container app=APP,user=USER\n"
      "  keygen KID [--public FILE]            new Ed25519 key: private JWK on stdout\n"
      "  token --key FILE --sub S --aud A (--ttl D | --exp UNIX) [--nbf UNIX] [--iss I]\n"
      "        [--jti ID] [GRANT...]\n"
      "                                        sign a token (GRANT like \"host tcp/8080\")\n"
      "  stats [CONTAINER]                     packets and bytes allowed and refused, in and out\n"
      "  metrics [--http]                      the same for Prometheus (--http: one GET on stdin)\n"
      "\n"
      "CONTAINER is a container id (or a unique prefix), a name, or an address. SRC and\n"
      "DST are containers, \"host\", or addresses. Token keys: *.jwk in --keys DIR, else\n"
      "$MOAT_KEYS_DIR, else " MOAT_KEYS_DIR_DEFAULT ". Exit: 0 ok, 1 refused or not found,\n"
      "2 usage or system error. See moatctl(8).\n";

struct opts
{
  bool json;
  const char *ttl, *token, *keys, *iss, *key, *sub, *aud, *exp, *nbf, *jti, *public_key;
  const char *to;   /* grant --token --to CONTAINER PORTS: an envelope token's rule */
  bool dry_run;     /* gc --dry-run */
  bool http;        /* metrics --http */
  bool ip6;         /* explain -6 */
  const char *node; /* cluster --node */
};

static int
fail (const moat_err_t *err)
{
  fprintf (stderr, "moatctl: %s\n", err->msg);
  return err->code == MOAT_E_UNKNOWN ? EXIT_NO : EXIT_USAGE;
}

static int
usage_error (const char *what)
{
  fprintf (stderr, "moatctl: %s\n%s", what, usage);
  return EXIT_USAGE;
}

static int
print_json (json_t *j)
{
  if (json_dumpf (j, stdout, JSON_INDENT (2) | JSON_SORT_KEYS) < 0 || putchar ('\n') == EOF)
    return EXIT_USAGE;
  return EXIT_OK;
}

static int64_t
now (void)
{
  return (int64_t)time (NULL);
}

static const char *
keys_dir (const struct opts *o)
{
  const char *env = getenv ("MOAT_KEYS_DIR");

  return o->keys ? o->keys : env && *env ? env : MOAT_KEYS_DIR_DEFAULT;
}

/* --- ls, show ------------------------------------------------------------------ */

static int
cmd_list (const char *only, const struct opts *o)
{
  _cleanup_ (json_decrefp) json_t *list = NULL;
  moat_err_t err = { 0 };

  if (moat_ctl_list (only, now (), &list, &err) < 0)
    return fail (&err);
  if (o->json)
    return print_json (list);
  ctl_print_containers (list, only != NULL);
  return EXIT_OK;
}

/* --- grant, revoke -------------------------------------------------------------- */

/* The token as given, or read from stdin for "-" (a command line is
 * visible to every user in /proc); surrounding blanks dropped. */
static char *
token_text (const char *arg, moat_err_t *err)
{
  char buf[MOAT_TOKEN_MAX + 2], *text;
  size_t len = 0, start = 0;

  if (strcmp (arg, "-") == 0)
    len = fread (buf, 1, sizeof (buf) - 1, stdin);
  else
    {
      len = strnlen (arg, sizeof (buf) - 1);
      memcpy (buf, arg, len);
    }
  while (len > 0 && strchr (" \t\r\n", buf[len - 1]))
    len--;
  while (start < len && strchr (" \t\r\n", buf[start]))
    start++;
  buf[len] = '\0';
  text = strdup (buf + start);
  if (!text)
    moat_error (err, MOAT_E_IO, ENOMEM, "--token");
  return text;
}

/* The token of --token and the keys that check it: EXIT_OK, or what to
 * exit with (the error printed). */
static int
token_and_keys (const struct opts *o, char **ret_jwt, struct moat_keyring *ret_kr)
{
  moat_err_t err = { 0 };

  if (!(*ret_jwt = token_text (o->token, &err))
      || moat_keyring_load (keys_dir (o), ret_kr, &err) < 0)
    return fail (&err);
  if (ret_kr->n == 0)
    {
      fprintf (stderr, "moatctl: no keys (*.jwk) in %s: no token can be checked\n", keys_dir (o));
      return EXIT_USAGE;
    }
  return EXIT_OK;
}

/* What an envelope token opens: --to CONTAINER PORTS, else its key's rules. */
static int
envelope_rules (const struct opts *o, const struct moat_keyring *kr,
                const struct moat_token_claims *c, char **args, int n,
                struct moat_envelope_rules *ret, moat_err_t *err)
{
  if (o->to)
    return moat_envelope_rules_one (o->to, n == 1 ? args[0] : "", ret, err);
  return moat_envelope_rules_load (moat_keyring_find (kr, c->kid), ret, err);
}

static int
grant_envelope_token (const struct opts *o, const struct moat_keyring *kr,
                      const struct moat_token_claims *c, char **args, int n, int64_t t)
{
  _cleanup_ (moat_envelope_rules_free) struct moat_envelope_rules rules = { 0 };
  moat_err_t err = { 0 };
  int64_t expires = 0;
  char by[600];

  if (envelope_rules (o, kr, c, args, n, &rules, &err) < 0)
    return fail (&err);
  snprintf (by, sizeof (by), "token kid=%s sub=%s", c->kid, c->sub);
  if (moat_ctl_grant_envelope (c, &rules, by, t, &expires, &err) < 0)
    {
      fprintf (stderr, "moatctl: token refused: %s\n", err.msg);
      return err.code == MOAT_E_UNKNOWN || err.code == MOAT_E_CONFIG ? EXIT_NO : EXIT_USAGE;
    }
  if (!o->json)
    {
      char left[64];

      moat_grant_time_left (expires - t, left, sizeof (left));
      printf ("granted %s: %zu ingress grant%s (%s)\n", c->sub, rules.n, rules.n == 1 ? "" : "s",
              left);
    }
  return EXIT_OK;
}

static int
grant_token (const struct opts *o, char **args, int n)
{
  _cleanup_ (moat_keyring_free) struct moat_keyring kr = { 0 };
  _cleanup_ (moat_token_claims_free) struct moat_token_claims c = { 0 };
  _cleanup_free_ char *jwt = NULL;
  moat_err_t err = { 0 };
  int64_t t = now ();
  char by[600];
  int r = token_and_keys (o, &jwt, &kr);

  if (r != EXIT_OK)
    return r;
  if (moat_token_verify (&kr, jwt, t, o->iss, &c, &err) < 0)
    {
      fprintf (stderr, "moatctl: token refused: %s\n", err.msg);
      return EXIT_NO;
    }
  if (!c.n_grants)
    return grant_envelope_token (o, &kr, &c, args, n, t);
  if (o->to)
    return usage_error ("grant --token --to: the token has grants: it names what it opens");
  snprintf (by, sizeof (by), "token kid=%s sub=%s", c.kid, c.sub);
  if (moat_ctl_grant_token (&c, by, t, &err) < 0)
    {
      fprintf (stderr, "moatctl: token refused: %s\n", err.msg);
      return err.code == MOAT_E_UNKNOWN || err.code == MOAT_E_CONFIG ? EXIT_NO : EXIT_USAGE;
    }
  if (!o->json)
    {
      char left[64];

      moat_grant_time_left (c.exp - t, left, sizeof (left));
      printf ("granted %s: %zu grant%s (%s)\n", c.sub, c.n_grants, c.n_grants == 1 ? "" : "s",
              left);
    }
  return EXIT_OK;
}

/* revoke --token: whatever its time, once its signature holds. */
static int
revoke_token (const struct opts *o, char **args, int n)
{
  _cleanup_ (moat_envelope_rules_free) struct moat_envelope_rules rules = { 0 };
  _cleanup_ (moat_keyring_free) struct moat_keyring kr = { 0 };
  _cleanup_ (moat_token_claims_free) struct moat_token_claims c = { 0 };
  _cleanup_free_ char *jwt = NULL;
  moat_err_t err = { 0 };
  int64_t t = now ();
  size_t closed = 0;
  int r = token_and_keys (o, &jwt, &kr);

  if (r != EXIT_OK)
    return r;
  if (moat_token_verify_signed (&kr, jwt, o->iss, &c, &err) < 0
      || (c.exp > t && moat_token_check_lifetime (&c, t, &err) < 0))
    {
      fprintf (stderr, "moatctl: token refused: %s\n", err.msg);
      return EXIT_NO;
    }
  if (c.exp <= t)
    {
      if (!o->json)
        printf ("token %s expired %lld s ago: nothing to revoke\n", c.id, (long long)(t - c.exp));
      return EXIT_OK;
    }
  if (!c.n_grants && envelope_rules (o, &kr, &c, args, n, &rules, &err) < 0)
    return fail (&err);
  if (moat_ctl_revoke_token (&c, &rules, t, &closed, &err) < 0)
    return fail (&err);
  if (!o->json)
    printf ("revoked token %s: %zu grant%s closed, refused until its exp, in %lld s\n", c.id,
            closed, closed == 1 ? "" : "s", (long long)(c.exp - t));
  return EXIT_OK;
}

static int
cmd_grant (bool grant, char **args, int n, const struct opts *o)
{
  _cleanup_ (moat_grant_free) struct moat_grant g = { 0 };
  moat_err_t err = { 0 };
  int64_t ttl = 0;
  char words[MOAT_GRANT_WORDS_MAX], left[64];

  if (o->token && n != (o->to ? 1 : 0))
    return usage_error (o->to   ? "--token --to CONTAINER: want PROTO/PORT[-PORT]"
                        : grant ? "grant --token takes no other words"
                                : "revoke --token takes no other words");
  if (o->to && !o->token)
    return usage_error ("--to is for --token");
  if (o->token)
    return grant ? grant_token (o, args, n) : revoke_token (o, args, n);
  if (n < 2)
    return usage_error (grant ? "grant: want CONTAINER host|egress|peer|ingress ..."
                              : "revoke: want CONTAINER host|egress|peer|ingress ...");
  if (moat_grant_parse (args + 1, (size_t)n - 1, &g, &err) < 0)
    return fail (&err);
  if (!grant && o->ttl)
    return usage_error ("revoke takes no --ttl");
  if (o->ttl && moat_ttl_parse (o->ttl, &ttl, &err) < 0)
    return fail (&err);
  if ((grant ? moat_ctl_grant (args[0], &g, ttl, NULL, now (), &err)
             : moat_ctl_revoke (args[0], &g, now (), &err))
      < 0)
    return fail (&err);
  moat_ctl_grant_label (&g, words, sizeof (words));
  moat_grant_time_left (ttl, left, sizeof (left));
  if (!o->json)
    {
      if (!grant)
        printf ("revoked %s: %s\n", args[0], words);
      else if (ttl)
        printf ("granted %s: %s (%s)\n", args[0], words, left);
      else
        printf ("granted %s: %s\n", args[0], words);
    }
  return EXIT_OK;
}

/* --- explain, resolve, check, restore ---------------------------------------------- */

static int
cmd_explain (char **args, int n, const struct opts *o)
{
  struct moat_explain_answer a;
  moat_err_t err = { 0 };
  char why[2048];

  if (n != 3)
    return usage_error ("explain: want SRC DST PROTO/PORT");
  if (moat_ctl_explain_family (args[0], args[1], args[2], o->ip6, now (), &a, why, sizeof (why),
                               &err)
      < 0)
    return fail (&err);
  if (o->json)
    {
      _cleanup_ (json_decrefp) json_t *j
          = json_pack ("{s:s, s:s, s:s, s:b, s:s, s:i, s:s, s:s}", "src", args[0], "dst", args[1],
                       "flow", args[2], "allowed", a.allowed, "rule", why, "family", a.ip6 ? 6 : 4,
                       "srcAddress", a.src, "dstAddress", a.dst);

      if (j && a.src_origin[0]
          && json_object_set_new (j, "srcOrigin", json_string (a.src_origin)) < 0)
        return EXIT_USAGE;
      if (j && a.dst_origin[0]
          && json_object_set_new (j, "dstOrigin", json_string (a.dst_origin)) < 0)
        return EXIT_USAGE;
      if (!j || print_json (j) != EXIT_OK)
        return EXIT_USAGE;
    }
  else
    {
      printf ("%s %s -> %s %s%s: %s\n", a.allowed ? "allowed" : "refused", args[0], args[1],
              args[2], a.ip6 ? " (IPv6)" : "", why);
      if (a.src_origin[0])
        printf ("  %s\n", a.src_origin);
      if (a.dst_origin[0])
        printf ("  %s\n", a.dst_origin);
    }
  return a.allowed ? EXIT_OK : EXIT_NO;
}

/* --- watch -------------------------------------------------------------------------- */

static volatile sig_atomic_t watch_stop;

static void
on_stop_signal (int sig)
{
  watch_stop = 1;
}

/* Until SIGINT or SIGTERM: the handler has no SA_RESTART, so a read
 * waiting for the kernel returns at once. */
static int
cmd_watch (char **args, int n, const struct opts *o)
{
  struct sigaction sa = { .sa_handler = on_stop_signal };
  moat_err_t err = { 0 };

  if (n > 1)
    return usage_error ("watch: want [CONTAINER]");
  sigemptyset (&sa.sa_mask);
  if (sigaction (SIGINT, &sa, NULL) < 0 || sigaction (SIGTERM, &sa, NULL) < 0)
    return usage_error ("watch: cannot handle signals");
  if (moat_ctl_watch (n ? args[0] : NULL, o->json, stdout, &watch_stop, &err) < 0)
    return fail (&err);
  return EXIT_OK;
}

static int
cmd_log (char **args, int n)
{
  moat_err_t err = { 0 };

  if (n != 2 || (strcmp (args[1], "on") != 0 && strcmp (args[1], "off") != 0))
    return usage_error ("log: want CONTAINER on|off");
  if (moat_ctl_log (args[0], strcmp (args[1], "on") == 0, &err) < 0)
    return fail (&err);
  return EXIT_OK;
}

static int
cmd_resolve (char **args, int n, const struct opts *o)
{
  moat_err_t err = { 0 };
  char addr[16];

  if (n != 2)
    return usage_error ("resolve: want APP USER");
  if (moat_ctl_resolve (args[0], args[1], addr, &err) < 0)
    return fail (&err);
  if (o->json)
    printf ("{\"address\": \"%s\"}\n", addr);
  else
    printf ("%s\n", addr);
  return EXIT_OK;
}

/* check's and gc's attachments (verbs/gc.h), one line each:
 * "WHAT: network "N" container ID (NAME) IFNAME ADDRESS: GONE gone[; ...]". */
static void
print_attachments (const char *what, json_t *items)
{
  json_t *a;
  size_t i;

  json_array_foreach (items, i, a)
  {
    const char *name = json_string_value (json_object_get (a, "name"));
    const char *why = json_string_value (json_object_get (a, "why"));
    const char *note = json_string_value (json_object_get (a, "note"));
    const char *error = json_string_value (json_object_get (a, "error"));

    printf ("%s: network \"%s\" container %s%s%s%s %s %s: %s gone", what,
            json_string_value (json_object_get (a, "network")),
            json_string_value (json_object_get (a, "container")), name ? " (" : "",
            name ? name : "", name ? ")" : "", json_string_value (json_object_get (a, "ifname")),
            json_string_value (json_object_get (a, "address")),
            json_string_value (json_object_get (a, "gone")));
    if (why)
      printf ("; kept: %s", why);
    if (note)
      printf ("; %s", note);
    if (error)
      printf ("; %s", error);
    printf ("\n");
  }
}

static int
cmd_check (const struct opts *o)
{
  _cleanup_ (json_decrefp) json_t *report = NULL;
  moat_err_t err = { 0 };
  int problems = 0;
  json_t *d;
  size_t i;

  if (moat_ctl_check (now (), &report, &problems, &err) < 0)
    return fail (&err);
  if (o->json)
    return print_json (report) == EXIT_OK ? (problems ? EXIT_NO : EXIT_OK) : EXIT_USAGE;
  json_array_foreach (json_object_get (report, "drift"), i, d)
  {
    json_t *m = json_object_get (d, "missing");

    printf ("%s: %s\n", m ? "missing" : "extra",
            json_string_value (m ? m : json_object_get (d, "extra")));
  }
  json_array_foreach (json_object_get (report, "conflicts"), i, d)
      printf ("conflict: %s\n", json_string_value (json_object_get (d, "what")));
  print_attachments ("stale", json_object_get (report, "stale"));
  print_attachments ("kept", json_object_get (report, "kept"));
  if (!problems)
    printf ("ok: the kernel holds what the records say\n");
  else if (json_array_size (json_object_get (report, "drift")))
    printf ("drift: run `moatctl restore` to rebuild moat's tables from the records\n");
  if (json_array_size (json_object_get (report, "stale")))
    printf ("stale: their containers are gone: run `moatctl gc` to remove them\n");
  return problems ? EXIT_NO : EXIT_OK;
}

static int
cmd_gc (const struct opts *o, struct moat_dnsd *dnsd)
{
  _cleanup_ (json_decrefp) json_t *report = NULL;
  const char *done = o->dry_run ? "stale" : "removed";
  moat_err_t err = { 0 };
  size_t n, kept, failed;

  if (moat_gc_run (o->dry_run, dnsd, &report, &err) < 0)
    return fail (&err);
  n = json_array_size (json_object_get (report, done));
  kept = json_array_size (json_object_get (report, "kept"));
  failed = json_array_size (json_object_get (report, "failed"));
  if (o->json)
    return print_json (report) == EXIT_OK && !failed ? EXIT_OK : EXIT_USAGE;
  print_attachments (o->dry_run ? "would remove" : "removed", json_object_get (report, done));
  print_attachments ("kept", json_object_get (report, "kept"));
  print_attachments ("failed", json_object_get (report, "failed"));
  printf ("gc: %zu stale attachment%s %s, %zu kept%s", n, n == 1 ? "" : "s",
          o->dry_run ? "would be removed" : "removed", kept,
          o->dry_run ? " (dry run: nothing changed)" : "");
  if (failed)
    printf (", %zu failed", failed);
  printf ("\n");
  return failed ? EXIT_USAGE : EXIT_OK;
}

/* What the last containers left (verbs/teardown.h). */
static int
cmd_teardown (const struct opts *o)
{
  _cleanup_ (json_decrefp) json_t *report = NULL;
  moat_err_t err = { 0 };
  size_t i;
  json_t *b;

  int r = moat_teardown_run (&report, &err);

  if (r != 0)
    {
      fprintf (stderr, "moatctl: %s\n", err.msg);
      return r > 0 ? EXIT_NO : EXIT_USAGE;
    }
  if (o->json)
    return print_json (report);
  json_array_foreach (json_object_get (report, "bridges"), i, b)
      printf ("removed: bridge %s\n", json_string_value (b));
  json_array_foreach (json_object_get (report, "kept"), i, b)
      printf ("kept: bridge %s (a port is on it)\n", json_string_value (b));
  json_array_foreach (json_object_get (report, "tunnels"), i, b)
      printf ("removed: tunnel %s\n", json_string_value (b));
  printf ("teardown: moat's tables removed\n");
  return EXIT_OK;
}

static int
cmd_restore (const struct opts *o, struct moat_dnsd *dnsd)
{
  _cleanup_ (json_decrefp) json_t *counts = NULL;
  moat_err_t err = { 0 };

  if (moat_ctl_restore (now (), dnsd, &counts, &err) < 0)
    return fail (&err);
  if (o->json)
    return print_json (counts);
  printf ("restored %lld containers on %lld networks (%lld identities, %lld policy elements)\n",
          (long long)json_integer_value (json_object_get (counts, "containers")),
          (long long)json_integer_value (json_object_get (counts, "networks")),
          (long long)json_integer_value (json_object_get (counts, "identities")),
          (long long)json_integer_value (json_object_get (counts, "elements")));
  return EXIT_OK;
}

/* --- keys and tokens ------------------------------------------------------------------- */

static int
write_file (const char *path, const char *text, mode_t mode, moat_err_t *err)
{
  _cleanup_close_ int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  size_t len = strlen (text);

  if (fd < 0)
    return moat_error (err, MOAT_E_IO, errno, "%s", path);
  if (moat_write_all (fd, text, len) < 0)
    return moat_error (err, MOAT_E_IO, errno, "%s", path);
  return 0;
}

static int
cmd_keygen (char **args, int n, const struct opts *o)
{
  _cleanup_free_ char *priv = NULL;
  _cleanup_free_ char *pub = NULL;
  moat_err_t err = { 0 };

  if (n != 1)
    return usage_error ("keygen: want KID");
  if (moat_jwk_generate (args[0], &priv, &pub, &err) < 0
      || (o->public_key && write_file (o->public_key, pub, 0644, &err) < 0))
    return fail (&err);
  fputs (priv, stdout);
  sodium_memzero (priv, strlen (priv));
  return EXIT_OK;
}

static int
parse_time (const char *what, const char *text, int64_t *ret)
{
  char *end = NULL;
  long long v;

  errno = 0;
  v = strtoll (text, &end, 10);
  if (errno || !end || *end || v < 0)
    {
      fprintf (stderr, "moatctl: %s \"%s\": want unix seconds\n", what, text);
      return -1;
    }
  *ret = v;
  return 0;
}

/* A private key file (moatctl keygen's output). */
static int
read_key (const char *path, struct moat_jwk *ret, moat_err_t *err)
{
  _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC);
  char buf[MOAT_JWK_FILE_MAX];
  ssize_t len;
  int r;

  if (fd < 0 || (len = read (fd, buf, sizeof (buf))) < 0)
    return moat_error (err, MOAT_E_IO, errno, "--key %s", path);
  r = moat_jwk_parse (buf, (size_t)len, path, ret, err);
  explicit_bzero (buf, sizeof (buf));
  if (r == 0 && !ret->has_sk)
    {
      moat_jwk_free (ret);
      return moat_error (err, MOAT_E_CONFIG, 0, "--key %s: a public key cannot sign (no \"d\")",
                         path);
    }
  return r;
}

static int
cmd_token (char **args, int n, const struct opts *o)
{
  _cleanup_ (moat_jwk_free) struct moat_jwk key = { 0 };
  _cleanup_ (json_decrefp) json_t *claims = NULL;
  _cleanup_free_ char *jwt = NULL;
  moat_err_t err = { 0 };
  int64_t exp = 0, nbf = 0, ttl = 0;
  json_t *grants = json_array ();

  if (!o->key || !o->sub || !o->aud || (!o->ttl == !o->exp))
    {
      json_decref (grants);
      return usage_error ("token: want --key FILE --sub S --aud A (--ttl D | --exp UNIX) GRANT...");
    }
  for (int i = 0; i < n; i++)
    {
      struct moat_grant g;

      if (moat_grant_parse_text (args[i], &g, &err) < 0)
        {
          json_decref (grants);
          return fail (&err);
        }
      moat_grant_free (&g);
      json_array_append_new (grants, json_string (args[i]));
    }
  if ((o->ttl && moat_ttl_parse (o->ttl, &ttl, &err) < 0))
    {
      json_decref (grants);
      return fail (&err);
    }
  if ((o->exp && parse_time ("--exp", o->exp, &exp) < 0)
      || (o->nbf && parse_time ("--nbf", o->nbf, &nbf) < 0))
    {
      json_decref (grants);
      return EXIT_USAGE;
    }
  /* No GRANT: an access envelope's token (envelope.h), aud a list as the
   * envelope writes it. */
  claims = n ? json_pack ("{s:s, s:s, s:I, s:o}", "sub", o->sub, "aud", o->aud, "exp",
                          (json_int_t)(o->ttl ? now () + ttl : exp), "grants", grants)
             : json_pack ("{s:s, s:[s], s:I}", "sub", o->sub, "aud", o->aud, "exp",
                          (json_int_t)(o->ttl ? now () + ttl : exp));
  if (!n)
    json_decref (grants);
  if (!claims || (o->nbf && json_object_set_new (claims, "nbf", json_integer (nbf)) < 0)
      || (o->iss && json_object_set_new (claims, "iss", json_string (o->iss)) < 0)
      || (o->jti && json_object_set_new (claims, "jti", json_string (o->jti)) < 0))
    return EXIT_USAGE;
  if (read_key (o->key, &key, &err) < 0 || moat_token_sign (&key, claims, &jwt, &err) < 0)
    return fail (&err);
  printf ("%s\n", jwt);
  return EXIT_OK;
}

/* The access envelope's HTTP front on stdin/stdout (serve.h): exit 0 for
 * 200, 1 for a refusal, 2 for a server error. */
static int
cmd_http (const struct opts *o)
{
  struct moat_http_opts h = { .keys_dir = keys_dir (o), .iss = o->iss, .now = now };
  int status = moat_ctl_http_serve (STDIN_FILENO, STDOUT_FILENO, &h);

  return status == 200 ? EXIT_OK : status >= 500 ? EXIT_USAGE : EXIT_NO;
}

/* --- stats, metrics ---------------------------------------------------------------------- */

static int
cmd_stats (char **args, int n, const struct opts *o)
{
  _cleanup_ (json_decrefp) json_t *stats = NULL;
  moat_err_t err = { 0 };

  if (n > 1)
    return usage_error ("stats: want [CONTAINER]");
  if (moat_ctl_stats (n ? args[0] : NULL, &stats, &err) < 0)
    return fail (&err);
  if (o->json)
    return print_json (stats);
  ctl_print_stats (stats);
  return EXIT_OK;
}

/* The exposition on stdout, or (--http) answered to one request on stdin. */
static int
cmd_metrics (const struct opts *o)
{
  _cleanup_ (json_decrefp) json_t *stats = NULL;
  _cleanup_free_ char *text = NULL;
  moat_err_t err = { 0 };
  size_t len = 0;
  int r = moat_ctl_stats (NULL, &stats, &err);

  if (r == 0 && moat_metrics_format (stats, &text, &len) < 0)
    r = moat_error_nomem (&err, "moatctl metrics");
  if (o->http)
    {
      if (r < 0)
        fprintf (stderr, "moatctl metrics: %s\n", err.msg);
      return moat_metrics_serve (STDIN_FILENO, STDOUT_FILENO, r < 0 ? NULL : text) == 200 ? EXIT_OK
                                                                                          : EXIT_NO;
    }
  if (r < 0)
    return fail (&err);
  return fwrite (text, 1, len, stdout) == len && fflush (stdout) == 0 ? EXIT_OK : EXIT_USAGE;
}

/* --- main ------------------------------------------------------------------------------- */

enum
{
  OPT_TTL = 0x100,
  OPT_TOKEN,
  OPT_KEYS,
  OPT_ISS,
  OPT_KEY,
  OPT_SUB,
  OPT_AUD,
  OPT_EXP,
  OPT_NBF,
  OPT_JTI,
  OPT_PUBLIC,
  OPT_VERSION,
  OPT_TO,
  OPT_DRY_RUN,
  OPT_HTTP,
  OPT_NODE,
};

static const struct option options[] = {
  { "json", no_argument, NULL, 'j' },
  { "help", no_argument, NULL, 'h' },
  { "version", no_argument, NULL, OPT_VERSION },
  { "ttl", required_argument, NULL, OPT_TTL },
  { "token", required_argument, NULL, OPT_TOKEN },
  { "keys", required_argument, NULL, OPT_KEYS },
  { "iss", required_argument, NULL, OPT_ISS },
  { "key", required_argument, NULL, OPT_KEY },
  { "sub", required_argument, NULL, OPT_SUB },
  { "aud", required_argument, NULL, OPT_AUD },
  { "exp", required_argument, NULL, OPT_EXP },
  { "nbf", required_argument, NULL, OPT_NBF },
  { "jti", required_argument, NULL, OPT_JTI },
  { "public", required_argument, NULL, OPT_PUBLIC },
  { "to", required_argument, NULL, OPT_TO },
  { "dry-run", no_argument, NULL, OPT_DRY_RUN },
  { "http", no_argument, NULL, OPT_HTTP },
  { "node", required_argument, NULL, OPT_NODE },
  { "ipv6", no_argument, NULL, '6' },
  { NULL, 0, NULL, 0 },
};

static int
parse_options (int argc, char **argv, struct opts *o)
{
  int c;

  while ((c = getopt_long (argc, argv, "jh6", options, NULL)) != -1)
    switch (c)
      {
      case '6':
        o->ip6 = true;
        break;
      case 'j':
        o->json = true;
        break;
      case 'h':
        fputs (usage, stdout);
        exit (EXIT_OK);
      case OPT_VERSION:
        printf ("moatctl %s\n", MOAT_VERSION);
        exit (EXIT_OK);
      case OPT_TTL:
        o->ttl = optarg;
        break;
      case OPT_TOKEN:
        o->token = optarg;
        break;
      case OPT_KEYS:
        o->keys = optarg;
        break;
      case OPT_ISS:
        o->iss = optarg;
        break;
      case OPT_KEY:
        o->key = optarg;
        break;
      case OPT_SUB:
        o->sub = optarg;
        break;
      case OPT_AUD:
        o->aud = optarg;
        break;
      case OPT_EXP:
        o->exp = optarg;
        break;
      case OPT_NBF:
        o->nbf = optarg;
        break;
      case OPT_JTI:
        o->jti = optarg;
        break;
      case OPT_PUBLIC:
        o->public_key = optarg;
        break;
      case OPT_TO:
        o->to = optarg;
        break;
      case OPT_DRY_RUN:
        o->dry_run = true;
        break;
      case OPT_HTTP:
        o->http = true;
        break;
      case OPT_NODE:
        o->node = optarg;
        break;
      default:
        fputs (usage, stderr);
        return -1;
      }
  return 0;
}

/* "." for a bare name, else `path` up to its last slash, into buf. */
static void
parent_dir (const char *path, char buf[PATH_MAX])
{
  const char *slash = strrchr (path, '/');
  size_t n = slash ? (size_t)(slash - path) : 0;

  if (!slash)
    snprintf (buf, PATH_MAX, ".");
  else
    snprintf (buf, PATH_MAX, "%.*s", n == 0 ? 1 : (int)n, path);
}

static int
cmd_docker_user (char **args, int n)
{
  moat_err_t err = { 0 };
  bool add;

  if (n < 1 || (strcmp (args[0], "add") != 0 && strcmp (args[0], "remove") != 0))
    return usage_error ("docker-user: want add|remove BRIDGE...");
  add = args[0][0] == 'a';
  if (moat_ctl_docker_user (add, args + 1, (size_t)n - 1, stdout, &err) < 0)
    return fail (&err);
  return EXIT_OK;
}

/* Where the command writes (landlock.h): keygen its --public file, token
 * nothing, the others the run directory (locks, records). */
static void
ctl_writes (const char *cmd, const struct opts *o, struct moat_write_set *w)
{
  char dir[PATH_MAX];

  if (cmd && strcmp (cmd, "keygen") == 0)
    {
      if (o->public_key)
        {
          parent_dir (o->public_key, dir);
          moat_write_set_add (w, dir, 0);
        }
      return;
    }
  if (cmd && strcmp (cmd, "token") == 0)
    return;
  moat_write_set_add (w, moat_run_dir (), 0700);
}

int
main (int argc, char **argv)
{
  struct opts o = { 0 };
  struct moat_write_set writes = { 0 };
  enum moat_seccomp_profile profile = MOAT_SECCOMP_CTL;
  _cleanup_ (moat_dnsd_release) struct moat_dnsd dnsd = MOAT_DNSD_NONE;
  const char *cmd;
  char **args;
  int n;

  moat_err_t err = { 0 };

  /* run's options and CMD's are its own; it forks and executes, before
   * any confinement (run.h). */
  if (argc > 1 && strcmp (argv[1], "run") == 0)
    return moat_ctl_run (argc - 2, argv + 2);
  /* host attach may mount moat's cgroup2 hierarchy first; it confines
   * itself (host.h). */
  if (argc > 1 && strcmp (argv[1], "host") == 0)
    return moat_ctl_host (argc - 2, argv + 2);
  /* cluster watch talks TCP to the store; it confines itself
   * (cluster-watch.h). */
  if (argc > 2 && strcmp (argv[1], "cluster") == 0 && strcmp (argv[2], "watch") == 0)
    return moat_ctl_cluster_watch (argc - 2, argv + 2);
  if (parse_options (argc, argv, &o) < 0)
    return EXIT_USAGE;
  /* Everything moatctl does is files, netlink and memory; it writes only
   * where its command writes. */
  ctl_writes (optind < argc ? argv[optind] : NULL, &o, &writes);
  /* docker-user runs the host's iptables: before any confinement, and
   * it reads nothing but its arguments. */
  if (optind < argc && strcmp (argv[optind], "docker-user") == 0)
    return cmd_docker_user (argv + optind + 1, argc - optind - 1);
  /* restore may start networks' name servers, which must not inherit the
   * confinement (verbs/dnsd.h). */
  if (optind < argc && strcmp (argv[optind], "restore") == 0 && moat_dnsd_prepare (&dnsd, &err) < 0)
    return fail (&err);
  /* gc's DELs may stop a name server and run a delegated IPAM plugin. */
  if (optind < argc && strcmp (argv[optind], "gc") == 0 && !o.dry_run
      && moat_gc_prepare (&writes, &profile, &dnsd, &err) < 0)
    return fail (&err);
  if (moat_landlock_confine (&writes, &err) < 0 || moat_seccomp_confine (profile, &err) < 0)
    return fail (&err);
  if (optind >= argc)
    return usage_error ("no command");
  cmd = argv[optind];
  args = argv + optind + 1;
  n = argc - optind - 1;
  if (o.dry_run && strcmp (cmd, "gc") != 0)
    return usage_error ("--dry-run is for gc");
  if (o.ip6 && strcmp (cmd, "explain") != 0)
    return usage_error ("-6 is for explain");
  if (o.node && strcmp (cmd, "cluster") != 0)
    return usage_error ("--node is for cluster");
  if (strcmp (cmd, "cluster") == 0)
    return moat_ctl_cluster (args, n, o.node, o.json);
  if (strcmp (cmd, "ls") == 0)
    return n == 0 ? cmd_list (NULL, &o) : usage_error ("ls takes no arguments");
  if (strcmp (cmd, "show") == 0)
    return n == 1 ? cmd_list (args[0], &o) : usage_error ("show: want CONTAINER");
  if (strcmp (cmd, "grant") == 0 || strcmp (cmd, "revoke") == 0)
    return cmd_grant (cmd[0] == 'g', args, n, &o);
  if (strcmp (cmd, "explain") == 0)
    return cmd_explain (args, n, &o);
  if (strcmp (cmd, "resolve") == 0)
    return cmd_resolve (args, n, &o);
  if (strcmp (cmd, "check") == 0)
    return n == 0 ? cmd_check (&o) : usage_error ("check takes no arguments");
  if (strcmp (cmd, "restore") == 0)
    return n == 0 ? cmd_restore (&o, &dnsd) : usage_error ("restore takes no arguments");
  if (strcmp (cmd, "gc") == 0)
    return n == 0 ? cmd_gc (&o, &dnsd) : usage_error ("gc takes no arguments");
  if (strcmp (cmd, "teardown") == 0)
    return n == 0 ? cmd_teardown (&o) : usage_error ("teardown takes no arguments");
  if (strcmp (cmd, "keygen") == 0)
    return cmd_keygen (args, n, &o);
  if (strcmp (cmd, "token") == 0)
    return cmd_token (args, n, &o);
  if (strcmp (cmd, "http") == 0)
    return n == 0 ? cmd_http (&o) : usage_error ("http takes no arguments");
  if (strcmp (cmd, "watch") == 0)
    return cmd_watch (args, n, &o);
  if (strcmp (cmd, "log") == 0)
    return cmd_log (args, n);
  if (o.http && strcmp (cmd, "metrics") != 0)
    return usage_error ("--http is for metrics");
  if (strcmp (cmd, "stats") == 0)
    return cmd_stats (args, n, &o);
  if (strcmp (cmd, "metrics") == 0)
    return n == 0 ? cmd_metrics (&o) : usage_error ("metrics takes no arguments");
  return usage_error ("unknown command");
}
