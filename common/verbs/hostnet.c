/* SPDX-License-Identifier: Apache-2.0 */
/* A host-network container under moat's policy (see hostnet.h). */
#include "verbs/hostnet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "kernel/nft.h"
#include "model/policy.h"
#include "state/hostnet.h"
#include "state/identities.h"
#include "state/state.h"
#include "verbs/apply.h"

static void
record_clear (struct moat_record *rec)
{
  json_decref (rec->labels);
  free (rec->network);
  free (rec->policy_file);
  json_decref (rec->allow);
  memset (rec, 0, sizeof (*rec));
}

/* What moat_policy_resolve reads of an attachment: the network's labels,
 * ceiling, profile file and internet. */
static int
network_record (const struct moat_netconf *conf, struct moat_record *rec, moat_err_t *err)
{
  memset (rec, 0, sizeof (*rec));
  rec->network = strdup (conf->name);
  rec->labels = json_object ();
  rec->policy_file = conf->policy_file ? strdup (conf->policy_file) : NULL;
  rec->allow = conf->allow ? json_incref (conf->allow) : NULL;
  rec->internet = conf->internet;
  for (size_t i = 0; rec->labels && i < conf->n_labels; i++)
    json_object_set_new (rec->labels, conf->labels[i].key, json_string (conf->labels[i].value));
  if (!rec->network || !rec->labels || (conf->policy_file && !rec->policy_file))
    return moat_error_nomem (err, "host-network policy");
  return 0;
}

static int
resolve_policy (const struct moat_hostnet_request *r, struct moat_policy *ret, moat_err_t *err)
{
  _cleanup_ (record_clear) struct moat_record rec = { 0 };

  if (network_record (r->conf, &rec, err) < 0
      || moat_policy_resolve (&rec, r->annotations, ret, err) < 0)
    return -1;
  if (moat_hostnet_policy_check (r->container_id, ret, err) < 0)
    {
      moat_policy_free (ret);
      return -1;
    }
  return 0;
}

/* Its identity's name in the registry (made when new), or none. */
static int
identity_of (const char *network, const struct moat_policy *p, char name[MOAT_NFT_IDENT_MAX + 1],
             bool *ret_has, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *ident = NULL;
  _cleanup_free_ char *text = NULL;

  *ret_has = moat_policy_has_identity (p);
  if (!*ret_has)
    return 0;
  ident = moat_policy_ident_json (p);
  if (!ident || !(text = json_dumps (ident, JSON_COMPACT | JSON_SORT_KEYS)))
    return moat_error_nomem (err, "policy");
  return moat_ident_ensure (network, text, name, err);
}

static int
groups_addr6 (struct in_addr addr, struct in6_addr *ret, void *data)
{
  return moat_ident_list_addr6 (data, addr, ret);
}

/* On a dual-stack network, the IPv6 twins of the elements from `from` on
 * that name its containers (their IPv6 addresses from the member files). */
static int
twins6 (bool ipv6, struct moat_ident_list *groups, size_t from, struct moat_nft_elems *out,
        moat_err_t *err)
{
  if (ipv6
      && moat_nft_elems_twin6_range (out, out, from, moat_nft_elems_count (out), groups_addr6,
                                     groups)
             < 0)
    return moat_error_nomem (err, "policy");
  return 0;
}

/* A new identity's set: every member of every identity it may reach, as
 * a container's first join fills it (model/policy.h). */
static int
fill_identity (const struct moat_hostnet *h, const struct moat_policy *p,
               struct moat_nft_elems *add, moat_err_t *err)
{
  _cleanup_ (moat_ident_list_free) struct moat_ident_list groups = { 0 };
  size_t from = moat_nft_elems_count (add);

  if (moat_ident_list_load (h->network, true, &groups, err) < 0)
    return -1;
  for (size_t g = 0; g < groups.n; g++)
    {
      if (!moat_policy_allows (p, groups.groups[g].policy))
        continue;
      for (size_t i = 0; i < groups.groups[g].n; i++)
        if (moat_nft_elems_ident_reach (add, h->ident, groups.groups[g].addrs[i]) < 0)
          return moat_error_nomem (err, "policy");
    }
  return twins6 (h->ipv6, &groups, from, add, err);
}

/* The moat containers that may open connections to it (hostnet_peers,
 * and on a dual-stack network hostnet_peers6): every member of every
 * identity of its network whose policy allows it (moat_policy_allows),
 * as a container's joins and leaves keep them (moat_hostnet_peer_elems). */
static int
peers_of (const struct moat_hostnet *h, const struct moat_policy *p, struct moat_nft_elems *out,
          moat_err_t *err)
{
  _cleanup_ (moat_ident_list_free) struct moat_ident_list groups = { 0 };
  size_t from = moat_nft_elems_count (out);

  if (moat_ident_list_load (h->network, true, &groups, err) < 0)
    return -1;
  for (size_t g = 0; g < groups.n; g++)
    {
      if (!moat_policy_allows (groups.groups[g].policy, p))
        continue;
      for (size_t i = 0; i < groups.groups[g].n; i++)
        if (moat_nft_elems_hostnet_peer (out, groups.groups[g].addrs[i], h->cgroup) < 0)
          return moat_error_nomem (err, "policy");
    }
  return twins6 (h->ipv6, &groups, from, out, err);
}

/* The record's elements: its own (moat_hostnet_elems) and its peers'. */
static int
record_elems (const struct moat_hostnet *h, struct moat_nft_elems *out, moat_err_t *err)
{
  _cleanup_ (moat_policy_free) struct moat_policy p = { 0 };

  if (moat_hostnet_elems (h, out, err) < 0)
    return -1;
  if (!h->policy)
    return 0;
  if (moat_policy_from_json (h->policy, &p, err) < 0)
    return moat_error_prefix (err, "host-network record %s", h->container_id);
  return peers_of (h, &p, out, err);
}

static int
elems_delete (struct moat_nft *nft, const struct moat_hostnet *h, moat_err_t *err)
{
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *del = moat_nft_elems_new ();
  struct in_addr none = { 0 };

  if (!del)
    return moat_error_nomem (err, "policy");
  if (record_elems (h, del, err) < 0)
    return -1;
  return moat_nft_policy_replace (nft, none, false, false, del, NULL, NULL, NULL, err);
}

/* Tables, identity, elements: one batch after the tables. */
static int
elems_add (struct moat_nft *nft, const struct moat_hostnet *h, const struct moat_policy *p,
           moat_err_t *err)
{
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *add = moat_nft_elems_new ();
  _cleanup_close_ int global = -1;
  struct in_addr none = { 0 };
  int exists = 1;

  if (!add)
    return moat_error_nomem (err, "policy");
  if (moat_global_lock (LOCK_SH, &global, err) < 0 || moat_nft_tables_ensure (nft, err) < 0
      || (h->ipv6 && moat_nft_half6_ensure (nft, err) < 0))
    return -1;
  if (h->ident && (exists = moat_nft_ident_exists (nft, h->ident, err)) < 0)
    return -1;
  if (!exists && fill_identity (h, p, add, err) < 0)
    return -1;
  if (moat_hostnet_compile (h->cgroup, h->ident, h->internet, h->ipv6, p, add) < 0)
    return moat_error_nomem (err, "policy");
  if (peers_of (h, p, add, err) < 0)
    return -1;
  return moat_nft_policy_replace (nft, none, false, false, NULL, NULL, exists ? NULL : h->ident,
                                  add, err);
}

static int
record_fill (const struct moat_hostnet_request *r, const struct moat_policy *p, const char *ident,
             uint64_t cgroup, struct moat_hostnet *h, moat_err_t *err)
{
  h->network = strdup (r->conf->name);
  h->container_id = strdup (r->container_id);
  h->cgroup_dir = strdup (r->plan->dir);
  h->cgroup = cgroup;
  h->own_group = r->plan->own;
  h->internet = r->conf->internet;
  h->policy = moat_policy_to_json (p);
  h->ident = ident ? strdup (ident) : NULL;
  h->pending = true;
  h->host_process = r->host_process;
  h->ipv6 = r->conf->have_subnet6;
  if (!h->network || !h->container_id || !h->cgroup_dir || !h->policy || (ident && !h->ident))
    return moat_error_nomem (err, "host-network record");
  return 0;
}

/* A retried prestart: what the old record put in the kernel goes first. */
static int
replace_old (struct moat_nft *nft, const char *container_id, moat_err_t *err)
{
  _cleanup_ (moat_hostnet_free) struct moat_hostnet old = { 0 };
  int r = moat_hostnet_read (container_id, &old, err);

  return r <= 0 ? r : elems_delete (nft, &old, err);
}

int
moat_hostnet_attach (const struct moat_hostnet_request *r, moat_err_t *err)
{
  _cleanup_ (moat_policy_free) struct moat_policy p = { 0 };
  _cleanup_ (moat_hostnet_free) struct moat_hostnet h = { 0 };
  _cleanup_ (moat_nft_closep) struct moat_nft *nft = NULL;
  _cleanup_close_ int lock = -1;
  char ident[MOAT_NFT_IDENT_MAX + 1];
  bool has_ident;
  uint64_t cgroup;
  moat_err_t undo = { 0 };

  if (resolve_policy (r, &p, err) < 0 || moat_network_lock (r->conf->name, &lock, err) < 0
      || moat_nft_open (&nft, err) < 0 || replace_old (nft, r->container_id, err) < 0
      || identity_of (r->conf->name, &p, ident, &has_ident, err) < 0
      || moat_cgroup_join (r->plan, r->pid, &cgroup, err) < 0
      || record_fill (r, &p, has_ident ? ident : NULL, cgroup, &h, err) < 0
      || moat_hostnet_write (&h, err) < 0)
    return -1;
  if (elems_add (nft, &h, &p, err) < 0)
    {
      /* Fail closed; the record stays pending for poststop or gc. */
      if (elems_delete (nft, &h, &undo) < 0)
        moat_error_undo_failed (err, "the policy", &undo);
      return -1;
    }
  h.pending = false;
  return moat_hostnet_write (&h, err);
}

/* The last of anything on the network gone: its identities' objects and
 * state go, as a last DEL's do; the tables stay, empty, for the next
 * container, as after a DEL (docs/design.md, "What the last container
 * leaves"). */
static int
network_leftovers (struct moat_nft *nft, const char *network, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **keys = NULL;
  int others;

  if (moat_record_list (network, &keys, err) < 0)
    return -1;
  others = keys[0] ? 1 : moat_hostnet_on_network (network, err);
  if (others != 0)
    return others < 0 ? -1 : 0;
  if (moat_policy_network_remove (nft, network, err) < 0
      || moat_ident_owners_release (network, err) < 0)
    return -1;
  return moat_network_dir_remove (network, err);
}

int
moat_hostnet_detach (const char *container_id, moat_err_t *err)
{
  _cleanup_ (moat_hostnet_free) struct moat_hostnet h = { 0 };
  _cleanup_ (moat_nft_closep) struct moat_nft *nft = NULL;
  _cleanup_close_ int lock = -1;
  int r = moat_hostnet_read (container_id, &h, err);

  if (r <= 0)
    return r;
  if (moat_network_lock (h.network, &lock, err) < 0 || moat_nft_open (&nft, err) < 0)
    return -1;
  /* Read again under the lock: another detach may have taken it. */
  moat_hostnet_free (&h);
  r = moat_hostnet_read (container_id, &h, err);
  if (r <= 0)
    return r;
  if (elems_delete (nft, &h, err) < 0 || (h.own_group && moat_cgroup_remove (h.cgroup_dir, err) < 0)
      || moat_hostnet_remove (container_id, err) < 0)
    return moat_error_prefix (err, "host-network container \"%s\"", container_id);
  return network_leftovers (nft, h.network, err);
}

int
moat_hostnet_stale (const struct moat_hostnet *h, moat_err_t *err)
{
  uint64_t id;
  int r = moat_cgroup_id (h->cgroup_dir, &id, err);

  if (r <= 0 || id != h->cgroup)
    return r < 0 ? -1 : 1;
  if (h->host_process)
    return 0;
  r = moat_cgroup_populated (h->cgroup_dir, err);
  return r < 0 ? -1 : !r;
}

static json_t *
gc_item (const struct moat_hostnet *h)
{
  char cgroup[32];

  snprintf (cgroup, sizeof (cgroup), "cgroup:%llu", (unsigned long long)h->cgroup);
  return json_pack ("{s:s, s:s, s:s, s:s, s:s}", "network", h->network, "container",
                    h->container_id, "ifname",
                    h->host_process ? MOAT_HOSTPROC_KIND : MOAT_HOSTNET_KIND, "address", cgroup,
                    "gone", "its processes");
}

/* One record: stale or not, and, with `remove`, detached. */
static int
gc_one (const char *id, bool remove, json_t *report, const char *list, moat_err_t *err)
{
  _cleanup_ (moat_hostnet_free) struct moat_hostnet h = { 0 };
  _cleanup_ (json_decrefp) json_t *item = NULL;
  moat_err_t failed = { 0 };
  int r = moat_hostnet_read (id, &h, err);

  if (r <= 0)
    return r;
  r = moat_hostnet_stale (&h, err);
  if (r <= 0)
    return r;
  if (!(item = gc_item (&h)))
    return moat_error_nomem (err, "gc");
  if (remove && moat_hostnet_detach (id, &failed) < 0)
    {
      json_object_set_new (item, "error", json_string (failed.msg));
      list = "failed";
    }
  return json_array_append (json_object_get (report, list), item) < 0 ? moat_error_nomem (err, "gc")
                                                                      : 0;
}

int
moat_hostnet_gc (bool remove, json_t *report, const char *list, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **ids = NULL;

  if (moat_hostnet_list (&ids, err) < 0)
    return -1;
  for (size_t i = 0; ids[i]; i++)
    if (gc_one (ids[i], remove, report, list, err) < 0)
      return -1;
  return 0;
}

int
moat_hostnet_expected (struct moat_nft_elems *out, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **ids = NULL;

  if (moat_hostnet_list (&ids, err) < 0)
    return -1;
  for (size_t i = 0; ids[i]; i++)
    {
      _cleanup_ (moat_hostnet_free) struct moat_hostnet h = { 0 };
      int r = moat_hostnet_read (ids[i], &h, err);

      if (r < 0 || (r == 1 && record_elems (&h, out, err) < 0))
        return -1;
    }
  return 0;
}

int
moat_hostnet_peer_elems (const char *network, struct in_addr addr, const struct moat_policy *from,
                         struct moat_nft_elems *out, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **ids = NULL;

  if (moat_hostnet_list (&ids, err) < 0)
    return -1;
  for (size_t i = 0; ids[i]; i++)
    {
      _cleanup_ (moat_hostnet_free) struct moat_hostnet h = { 0 };
      _cleanup_ (moat_policy_free) struct moat_policy p = { 0 };
      int r = moat_hostnet_read (ids[i], &h, err);

      if (r < 0)
        return -1;
      if (r == 0 || !h.policy || strcmp (h.network, network) != 0)
        continue;
      if (moat_policy_from_json (h.policy, &p, err) < 0)
        return moat_error_prefix (err, "host-network record %s", h.container_id);
      if (!moat_policy_allows (from, &p))
        continue;
      if (moat_nft_elems_hostnet_peer (out, addr, h.cgroup) < 0)
        return moat_error_nomem (err, "policy");
      /* A record from before IPv6 followed the policy has no IPv6 half's
       * elements: the caller's twin pass makes none for it. */
      if (!h.ipv6)
        out->l.v[out->l.n - 1].no_twin = true;
    }
  return 0;
}
