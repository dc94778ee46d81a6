/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl restore and check: the kernel against what the records imply
 * (ctl.h). */
#include "ctl-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "foreign.h"
#include "model/policy.h"
#include "model/publish.h"
#include "state/identities.h"
#include "state/hostnet.h"
#include "verbs/apply.h"
#include "verbs/dnsd.h"
#include "verbs/gc.h"
#include "verbs/cluster.h"
#include "verbs/hostnet.h"

/* --- restore and check -------------------------------------------------------------------- */

/* Every network's lock, then the machine's: nothing changes meanwhile. */
struct all_locks
{
  int *fds;
  size_t n;
  int global;
};

static void
all_locks_release (struct all_locks *l)
{
  if (l->global >= 0)
    close (l->global);
  for (size_t i = 0; i < l->n; i++)
    close (l->fds[i]);
  free (l->fds);
}

static int
str_cmp (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

static int
all_locks_take (char **networks, struct all_locks *l, moat_err_t *err)
{
  size_t n = 0;

  l->global = -1;
  while (networks[n])
    n++;
  /* One order for every taker. */
  qsort (networks, n, sizeof (*networks), str_cmp);
  l->fds = calloc (n + 1, sizeof (*l->fds));
  if (!l->fds)
    return moat_error_nomem (err, "moatctl");
  for (size_t i = 0; i < n; i++)
    {
      if (moat_network_lock (networks[i], &l->fds[i], err) < 0)
        return -1;
      l->n++;
    }
  return moat_global_lock (LOCK_EX, &l->global, err);
}

/* What the records of every network say the kernel holds. */
struct expected
{
  struct moat_nft_member *members;
  struct records *recs; /* per network, owning the members' strings */
  size_t nmembers, nnets;
  char **idents;
  size_t nidents;
  struct moat_nft_elems *elems;
  struct moat_nft_elems *unsure;   /* grants near their expiry */
  struct moat_addr6_pair *remote6; /* dual-stack containers of other nodes */
  size_t nremote6;
};

static void
expected_free (struct expected *e)
{
  for (size_t i = 0; i < e->nnets; i++)
    ctl_records_free (&e->recs[i]);
  free (e->recs);
  free (e->members);
  free (e->remote6);
  moat_strv_free (e->idents);
  moat_nft_elems_free (e->elems);
  moat_nft_elems_free (e->unsure);
}

static int
idents_append (struct expected *e, char **more)
{
  size_t m = 0;
  char **v;

  while (more[m])
    m++;
  v = realloc (e->idents, (e->nidents + m + 1) * sizeof (*v));
  if (!v)
    return -1;
  e->idents = v;
  for (size_t i = 0; i < m; i++)
    v[e->nidents++] = more[i];
  v[e->nidents] = NULL;
  free (more);
  return 0;
}

/* The record keeps whole seconds, the kernel milliseconds: around its
 * expiry a grant may be in the kernel or not. */
#define GRANT_UNSURE_S 2

/* A peer grant whose peer is gone (its DEL took the element) is not
 * expected. A grant about to expire, or just expired, goes to `unsure`
 * (check compares neither way), or for a restore to `out` while it lasts. */
static int
expected_grants (const struct records *rs, const struct moat_record *r, int64_t now, bool restore,
                 struct moat_nft_elems *out, struct moat_nft_elems *unsure, moat_err_t *err)
{
  _cleanup_ (ctl_grants_free) struct grants gs = { 0 };

  if (ctl_grants_load (r, now - GRANT_UNSURE_S, &gs, err) < 0)
    return -1;
  for (size_t i = 0; i < gs.n; i++)
    {
      const struct moat_grant *g = &gs.v[i];
      bool near_end = g->expires && g->expires <= now + GRANT_UNSURE_S;
      const struct moat_record *peer;
      int res = 0;

      if (g->kind == MOAT_GRANT_PEER
          && (!(peer = ctl_records_by_addr (rs, g->peer_addr))
              || strcmp (peer->container_id, g->peer) != 0))
        continue;
      if (!near_end)
        res = moat_grant_elems (g, r->addr, now, false, out);
      else if (restore)
        res = g->expires > now ? moat_grant_elems (g, r->addr, now, false, out) : 0;
      else
        res = moat_grant_elems (g, r->addr, g->expires - 1, false, unsure);
      if (res < 0)
        return moat_error_nomem (err, "moatctl");
    }
  return 0;
}

static int
record_addr6_of (struct in_addr addr, struct in6_addr *ret, void *data)
{
  const struct moat_record *r = data;

  if (addr.s_addr != r->addr.s_addr)
    return 0;
  *ret = r->addr6;
  return 1;
}

/* The record's published ports (model/publish.h). A record whose ports
 * do not parse expects none: check reports what the kernel has anyway. */
static int
expected_publish (const struct moat_record *r, struct moat_nft_elems *out, moat_err_t *err)
{
  _cleanup_ (moat_publish_list_free) struct moat_publish_list l = { 0 };
  moat_err_t ignored = { 0 };

  size_t from = moat_nft_elems_count (out);

  if (!r->publish || moat_publish_from_json (r->publish, &l, &ignored) < 0)
    return 0;
  if (moat_publish_elems (&l, r->addr, out) < 0)
    return moat_error_nomem (err, "moatctl");
  /* An IPv6-only container's: their twins only (docs/design.md, "IPv6"). */
  if (r->v6only)
    {
      size_t to = moat_nft_elems_count (out);

      if (moat_nft_elems_twin6_range (out, out, from, to, record_addr6_of, (void *)r) < 0)
        return moat_error_nomem (err, "moatctl");
      moat_nft_elems_drop4 (out, from, to);
    }
  return 0;
}

/* Another node's dual-stack container: its twins are expected too
 * (docs/cluster.md, "IPv6 between nodes"). */
static int
remote6_append (struct expected *e, const struct moat_record *r, moat_err_t *err)
{
  struct moat_addr6_pair *v;

  if (!r->have_addr6)
    return 0;
  v = realloc (e->remote6, (e->nremote6 + 1) * sizeof (*v));
  if (!v)
    return moat_error_nomem (err, "moatctl");
  e->remote6 = v;
  v[e->nremote6++] = (struct moat_addr6_pair){ r->addr, r->addr6 };
  return 0;
}

static int
expected_network (const char *network, bool all_idents, int64_t now, struct expected *e,
                  moat_err_t *err)
{
  struct records *rs = &e->recs[e->nnets];
  _cleanup_ (ctl_records_free) struct records remote = { 0 };
  _cleanup_free_ struct moat_record *both = NULL;
  struct records all;
  char **idents = NULL;
  struct moat_nft_member *m;

  if (ctl_records_load (network, rs, err) < 0)
    return -1;
  e->nnets++;
  /* Other nodes' containers (cluster mode): no member elements, but
   * grants (either side) and identities. */
  if (ctl_records_load_remote (network, &remote, err) < 0)
    return -1;
  both = calloc (rs->n + remote.n + 1, sizeof (*both));
  if (!both)
    return moat_error_nomem (err, "moatctl");
  memcpy (both, rs->v, rs->n * sizeof (*both));
  memcpy (both + rs->n, remote.v, remote.n * sizeof (*both));
  all = (struct records){ both, rs->n + remote.n };
  for (size_t i = 0; i < remote.n; i++)
    if (expected_grants (&all, &remote.v[i], now, all_idents, e->elems, e->unsure, err) < 0
        || remote6_append (e, &remote.v[i], err) < 0)
      return -1;
  m = realloc (e->members, (e->nmembers + rs->n + 1) * sizeof (*m));
  if (!m)
    return moat_error_nomem (err, "moatctl");
  e->members = m;
  for (size_t i = 0; i < rs->n; i++)
    {
      m[e->nmembers++] = moat_record_member (&rs->v[i]);
      if (expected_grants (&all, &rs->v[i], now, all_idents, e->elems, e->unsure, err) < 0
          || expected_publish (&rs->v[i], e->elems, err) < 0)
        return -1;
    }
  /* A network whose only members are host-network containers still has
   * their identities (verbs/hostnet.h). */
  if (!rs->n && !remote.n)
    {
      int hostnet = moat_hostnet_on_network (network, err);

      if (hostnet <= 0)
        return hostnet;
    }
  if (moat_policy_network_expected (network, rs->v, rs->n, all_idents, e->elems, &idents, err) < 0)
    return moat_error_prefix (err, "network \"%s\"", network);
  if (idents_append (e, idents) < 0)
    {
      moat_strv_free (idents);
      return moat_error_nomem (err, "moatctl");
    }
  return 0;
}

/* The IPv6 address of the dual-stack container at `addr`, any network. */
static int
expected_addr6_of (struct in_addr addr, struct in6_addr *ret, void *data)
{
  const struct expected *e = data;

  for (size_t i = 0; i < e->nmembers; i++)
    if (e->members[i].have_addr6 && e->members[i].addr.s_addr == addr.s_addr)
      {
        *ret = e->members[i].addr6;
        return 1;
      }
  for (size_t i = 0; i < e->nremote6; i++)
    if (e->remote6[i].addr.s_addr == addr.s_addr)
      {
        *ret = e->remote6[i].addr6;
        return 1;
      }
  return 0;
}

/* Every expected element of a dual-stack container gets its IPv6 twin
 * (docs/design.md, "IPv6"); an IPv4-only host has nothing to twin. */
static int
expected_twins (struct expected *e, moat_err_t *err)
{
  bool any6 = e->nremote6 > 0;

  for (size_t i = 0; i < e->nmembers; i++)
    any6 = any6 || e->members[i].have_addr6;
  if (any6
      && (moat_nft_elems_twin6 (e->elems, e->elems, expected_addr6_of, e) < 0
          || moat_nft_elems_twin6 (e->unsure, e->unsure, expected_addr6_of, e) < 0))
    return moat_error_nomem (err, "moatctl");
  return 0;
}

static int
expected_load (char **networks, bool all_idents, int64_t now, struct expected *e, moat_err_t *err)
{
  size_t n = 0;

  memset (e, 0, sizeof (*e));
  while (networks[n])
    n++;
  e->recs = calloc (n + 1, sizeof (*e->recs));
  e->elems = moat_nft_elems_new ();
  e->unsure = moat_nft_elems_new ();
  e->idents = calloc (1, sizeof (*e->idents));
  if (!e->recs || !e->elems || !e->unsure || !e->idents)
    return moat_error_nomem (err, "moatctl");
  for (size_t i = 0; i < n; i++)
    if (expected_network (networks[i], all_idents, now, e, err) < 0)
      return -1;
  /* After the twins: a host-network container's elements get theirs
   * there, from its record (docs/design.md, "Host-network containers"),
   * and the other nodes' have none (docs/cluster.md). */
  if (expected_twins (e, err) < 0 || moat_cluster_nodes_expected (e->elems, err) < 0)
    return -1;
  return moat_hostnet_expected (e->elems, err);
}

static void on_drift (void *data, bool missing, const char *what);

/* The first record of a network with names, if any: its bridge, gateway
 * and internet are the network's. */
static const struct moat_record *
names_record (const struct records *rs)
{
  for (size_t i = 0; i < rs->n; i++)
    if (rs->v[i].dns)
      return &rs->v[i];
  return NULL;
}

static int
restore_name_servers (const struct expected *e, struct moat_dnsd *dnsd, moat_err_t *err)
{
  for (size_t i = 0; i < e->nnets; i++)
    {
      const struct moat_record *r = names_record (&e->recs[i]);

      if (r && moat_dnsd_ensure (dnsd, r, err) < 0)
        return -1;
    }
  return 0;
}

static int
check_name_servers (const struct expected *e, json_t *drift, moat_err_t *err)
{
  char what[512];

  for (size_t i = 0; i < e->nnets; i++)
    {
      const struct moat_record *r = names_record (&e->recs[i]);
      int running = r ? moat_dnsd_running (r->network, NULL, err) : 1;

      if (running < 0)
        return -1;
      if (running)
        continue;
      snprintf (what, sizeof (what), "name server (dnsmasq) of network \"%s\"", r->network);
      on_drift (drift, true, what);
    }
  return 0;
}

int
moat_ctl_restore (int64_t now, struct moat_dnsd *dnsd, json_t **ret, moat_err_t *err)
{
  _cleanup_strv_ char **networks = NULL;
  _cleanup_ (all_locks_release) struct all_locks locks = { .global = -1 };
  _cleanup_ (expected_free) struct expected e = { 0 };
  _cleanup_nft_ struct moat_nft *nft = NULL;
  size_t elements;

  if (moat_networks_list (&networks, err) < 0 || all_locks_take (networks, &locks, err) < 0
      || expected_load (networks, true, now, &e, err) < 0)
    return -1;
  elements = moat_nft_elems_count (e.elems);
  if ((e.nmembers || moat_nft_elems_count (e.elems))
      && (moat_nft_open (&nft, err) < 0
          || moat_nft_restore (nft, e.members, e.nmembers, e.idents, e.elems, err) < 0))
    return moat_error_prefix (err, "restore");
  if (restore_name_servers (&e, dnsd, err) < 0)
    return moat_error_prefix (err, "restore");
  *ret = json_pack ("{s:I, s:I, s:I, s:I}", "networks", (json_int_t)e.nnets, "containers",
                    (json_int_t)e.nmembers, "identities", (json_int_t)e.nidents, "elements",
                    (json_int_t)elements);
  return *ret ? 0 : moat_error_nomem (err, "moatctl");
}

static void
on_drift (void *data, bool missing, const char *what)
{
  json_array_append_new (data, json_pack ("{s:s}", missing ? "missing" : "extra", what));
}

/* The foreign rules that would refuse what moat accepts on `bridges`;
 * with `ip6`, only the ip6 family's (an IPv6 flow's: the other families
 * are judged once, for every bridge). */
static int
conflicts_json (char **bridges, bool ip6, json_t *out, moat_err_t *err)
{
  struct moat_conflict *c = NULL;
  size_t n = 0;

  if ((ip6 ? moat_foreign_conflicts6 (bridges, &c, &n, err)
           : moat_foreign_conflicts (bridges, &c, &n, err))
      < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (!ip6 || strcmp (c[i].family, "ip6") == 0)
      json_array_append_new (out,
                             json_pack ("{s:s, s:s, s:s, s:s*, s:I, s:s}", "family", c[i].family,
                                        "table", c[i].table, "chain", c[i].chain, "hook", c[i].hook,
                                        "handle", (json_int_t)c[i].handle, "what", c[i].what));
  moat_conflicts_free (c, n);
  return 0;
}

/* The bridges of the members (with `ip6`: of the dual-stack ones). */
static int
bridges_of (const struct expected *e, bool ip6, char ***ret, moat_err_t *err)
{
  char **v = calloc (e->nmembers + 1, sizeof (*v));
  size_t n = 0;

  if (!v)
    return moat_error_nomem (err, "moatctl");
  for (size_t i = 0; i < e->nmembers; i++)
    {
      bool seen = ip6 && !e->members[i].have_addr6;

      for (size_t k = 0; k < n && !seen; k++)
        seen = strcmp (v[k], e->members[i].bridge) == 0;
      if (!seen && !(v[n++] = strdup (e->members[i].bridge)))
        {
          moat_strv_free (v);
          return moat_error_nomem (err, "moatctl");
        }
    }
  *ret = v;
  return 0;
}

/* Host-network containers whose group is gone or empty (verbs/hostnet.h). */
static int
hostnet_stale (json_t *stale, moat_err_t *err)
{
  _cleanup_json_ json_t *report = json_pack ("{s:O}", "stale", stale);

  if (!report)
    return moat_error_nomem (err, "moatctl");
  return moat_hostnet_gc (false, report, "stale", err);
}

/* Attachments whose container is gone (verbs/gc.h): "stale" ones, which
 * `moatctl gc` removes, and in "kept" those of which only a part is
 * gone, with what is still there. */
static int
check_stale (const struct expected *e, json_t *stale, json_t *kept, moat_err_t *err)
{
  _cleanup_ (moat_nl_closep) struct moat_nl *nl = NULL;

  if (moat_nl_open (&nl, err) < 0)
    return -1;
  for (size_t i = 0; i < e->nnets; i++)
    for (size_t k = 0; k < e->recs[i].n; k++)
      {
        const struct moat_record *rec = &e->recs[i].v[k];
        struct moat_liveness l;
        json_t *item;

        if (moat_liveness_probe (nl, rec, &l, err) < 0)
          return -1;
        if (!l.netns_gone && !l.link_gone)
          continue;
        if (!(item = moat_gc_item (rec, &l)))
          return moat_error_nomem (err, "moatctl");
        if (!moat_liveness_stale (&l))
          json_object_set_new (item, "why", json_sprintf ("%s still there", l.there));
        json_array_append_new (moat_liveness_stale (&l) ? stale : kept, item);
      }
  return hostnet_stale (stale, err);
}

int
moat_ctl_check (int64_t now, json_t **ret, int *nproblems, moat_err_t *err)
{
  _cleanup_strv_ char **networks = NULL;
  _cleanup_strv_ char **bridges = NULL;
  _cleanup_strv_ char **bridges6 = NULL;
  _cleanup_ (all_locks_release) struct all_locks locks = { .global = -1 };
  _cleanup_ (expected_free) struct expected e = { 0 };
  _cleanup_nft_ struct moat_nft *nft = NULL;
  _cleanup_json_ json_t *drift = json_array ();
  _cleanup_json_ json_t *conflicts = json_array ();
  _cleanup_json_ json_t *stale = json_array ();
  _cleanup_json_ json_t *kept = json_array ();

  if (!drift || !conflicts || !stale || !kept)
    return moat_error_nomem (err, "moatctl");
  if (moat_networks_list (&networks, err) < 0 || all_locks_take (networks, &locks, err) < 0
      || expected_load (networks, false, now, &e, err) < 0 || moat_nft_open (&nft, err) < 0)
    return -1;
  if ((e.nmembers || moat_nft_elems_count (e.elems))
      && moat_nft_compare (nft, e.members, e.nmembers, e.idents, e.elems, e.unsure, on_drift, drift,
                           err)
             < 0)
    return -1;
  if (check_name_servers (&e, drift, err) < 0 || bridges_of (&e, false, &bridges, err) < 0
      || bridges_of (&e, true, &bridges6, err) < 0
      || (bridges[0] && conflicts_json (bridges, false, conflicts, err) < 0)
      || (bridges6[0] && conflicts_json (bridges6, true, conflicts, err) < 0)
      || check_stale (&e, stale, kept, err) < 0)
    return -1;
  *nproblems
      = (int)(json_array_size (drift) + json_array_size (conflicts) + json_array_size (stale));
  *ret = json_pack ("{s:O, s:O, s:O, s:O}", "drift", drift, "conflicts", conflicts, "stale", stale,
                    "kept", kept);
  return *ret ? 0 : moat_error_nomem (err, "moatctl");
}
