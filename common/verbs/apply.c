/* SPDX-License-Identifier: Apache-2.0 */
/* Applying a container's policy: its identity on disk and its elements in
 * the kernel (see apply.h). */
#include "verbs/apply.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "state/identities.h"
#include "state/remote.h"
#include "state/state.h"
#include "verbs/hostnet.h"

/* --- join and leave -------------------------------------------------------- */

static int
record_policy (struct moat_record *rec, json_t *policy, const char *ident, moat_err_t *err)
{
  json_decref (rec->policy);
  free (rec->ident);
  rec->policy = policy ? json_incref (policy) : NULL;
  rec->ident = ident ? strdup (ident) : NULL;
  if (ident && !rec->ident)
    return moat_error_nomem (err, "policy");
  return moat_record_write (rec, err);
}

/* A dual-stack container's elements get their IPv6 twins (docs/design.md,
 * "IPv6"): its own address from its record, its peers' from their member
 * files. */
struct twin_ctx
{
  const struct moat_record *rec;
  const struct moat_ident_list *groups;
};

static int
addr6_of (struct in_addr addr, struct in6_addr *ret, void *data)
{
  const struct twin_ctx *c = data;

  if (c->rec->have_addr6 && addr.s_addr == c->rec->addr.s_addr)
    {
      *ret = c->rec->addr6;
      return 1;
    }
  return moat_ident_list_addr6 (c->groups, addr, ret);
}

static int
add_twins (const struct moat_record *rec, const struct moat_ident_list *groups,
           struct moat_nft_elems *elems)
{
  struct twin_ctx c = { rec, groups };

  if (!rec->have_addr6)
    return 0;
  return moat_nft_elems_twin6 (elems, elems, addr6_of, &c);
}

static const struct in6_addr *
addr6_or_null (const struct moat_record *rec)
{
  return rec->have_addr6 ? &rec->addr6 : NULL;
}

static int
join_kernel (struct moat_nft *nft, const struct moat_record *rec, const struct moat_policy *p,
             bool new_ident, moat_err_t *err)
{
  _cleanup_ (moat_ident_list_free) struct moat_ident_list groups = { 0 };
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *elems = moat_nft_elems_new ();
  struct moat_compile_input in = {
    .addr = rec->addr,
    .ident = rec->ident,
    .new_ident = new_ident,
    .network_internet = rec->internet,
    .policy = p,
  };
  int exists = 1;

  if (!elems)
    return moat_error_nomem (err, "policy");
  if (rec->ident && moat_ident_list_load (rec->network, new_ident, &groups, err) < 0)
    return -1;
  /* The first member makes the identity's chain, unless an earlier
   * member's left it. */
  if (rec->ident && new_ident && (exists = moat_nft_ident_exists (nft, rec->ident, err)) < 0)
    return -1;
  in.groups = groups.groups;
  in.ngroups = groups.n;
  if (moat_policy_compile (&in, elems) < 0)
    return moat_error_nomem (err, "policy");
  /* The host-network containers and host processes it may reach take it
   * in (with its IPv6 address too, from the twin pass). */
  if (rec->ident && moat_hostnet_peer_elems (rec->network, rec->addr, p, elems, err) < 0)
    return -1;
  if (add_twins (rec, &groups, elems) < 0)
    return moat_error_nomem (err, "policy");
  /* Joining follows a leave (which swept) or a container without policy:
   * nothing of it to sweep. */
  return moat_nft_policy_replace2 (nft, rec->addr, addr6_or_null (rec), false, rec->internet, NULL,
                                   NULL, exists ? NULL : rec->ident, elems, err);
}

int
moat_policy_join (struct moat_nft *nft, struct moat_record *rec, const struct moat_policy *p,
                  moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *policy = moat_policy_to_json (p);
  _cleanup_ (json_decrefp) json_t *ident = moat_policy_ident_json (p);
  _cleanup_free_ char *text = NULL;
  char name[MOAT_NFT_IDENT_MAX + 1];
  bool with_ident = moat_policy_has_identity (p);
  moat_err_t undo = { 0 };
  int others = 0;

  if (!policy || !ident || !(text = json_dumps (ident, JSON_COMPACT | JSON_SORT_KEYS)))
    return moat_error_nomem (err, "policy");
  /* A container without policy has nothing in the kernel or the record:
   * its next join needs no sweep. */
  if (moat_policy_is_empty (p))
    return moat_policy_clear (nft, rec, err);
  if ((rec->ident || rec->policy) && moat_policy_leave (nft, rec, MOAT_LEAVE_ALL, err) < 0)
    return -1;
  /* The record names the identity before its member file exists, so a
   * crash leaves nothing that DEL cannot find. */
  if (with_ident && moat_ident_ensure (rec->network, text, name, err) < 0)
    return -1;
  if (record_policy (rec, policy, with_ident ? name : NULL, err) < 0)
    return -1;
  if (with_ident)
    others = moat_ident_has_other_member (rec, name, err);
  if (others < 0 || (with_ident && moat_ident_member_add (rec, err) < 0)
      || join_kernel (nft, rec, p, others == 0, err) < 0)
    {
      /* Fail closed: whatever policy the container had is gone too. */
      if (moat_policy_clear (nft, rec, &undo) < 0)
        return moat_error_undo_failed (err, "the policy", &undo);
      return -1;
    }
  return 0;
}

/* --- many joins in one batch -------------------------------------------------- */

/* The identities the batch joins, by canonical text: each ensured once. */
struct join_idents
{
  char **texts;
  char (*names)[MOAT_NFT_IDENT_MAX + 1];
  size_t n;
};

static void
join_idents_free (struct join_idents *j)
{
  for (size_t i = 0; i < j->n; i++)
    free (j->texts[i]);
  free (j->texts);
  free (j->names);
}

static int
join_ident_name (const char *network, const struct moat_policy *p, struct join_idents *j,
                 size_t cap, const char **ret, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *ident = moat_policy_ident_json (p);
  _cleanup_free_ char *text = NULL;

  if (!ident || !(text = json_dumps (ident, JSON_COMPACT | JSON_SORT_KEYS)))
    return moat_error_nomem (err, "policy");
  for (size_t i = 0; i < j->n; i++)
    if (strcmp (j->texts[i], text) == 0)
      {
        *ret = j->names[i];
        return 0;
      }
  if (j->n == cap || moat_ident_ensure (network, text, j->names[j->n], err) < 0)
    return j->n == cap ? moat_error_nomem (err, "policy") : -1;
  j->texts[j->n] = TAKE_PTR (text);
  *ret = j->names[j->n++];
  return 0;
}

/* On disk, as moat_policy_join: the record names its identity, then
 * its member file. */
static int
join_state (const char *network, struct moat_record *rec, const struct moat_policy *p,
            struct join_idents *j, size_t cap, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *policy = moat_policy_to_json (p);
  bool with_ident = moat_policy_has_identity (p);
  const char *name = NULL;

  if (!policy)
    return moat_error_nomem (err, "policy");
  if (with_ident && join_ident_name (network, p, j, cap, &name, err) < 0)
    return -1;
  if (record_policy (rec, policy, name, err) < 0)
    return -1;
  return with_ident ? moat_ident_member_add (rec, err) : 0;
}

static bool
ident_had_members (const struct moat_ident_list *before, const char *name)
{
  for (size_t i = 0; i < before->n; i++)
    if (strcmp (before->names[i], name) == 0)
      return before->groups[i].n > 0;
  return false;
}

/* An identity the batch gives its first members: the addresses it may
 * reach among the members from before (the batch's own members put
 * themselves in its set), and its chain unless an earlier member's left
 * it. */
static int
join_new_ident (struct moat_nft *nft, const struct moat_ident_list *before,
                const struct moat_ident_list *after, size_t g, struct moat_nft_elems *elems,
                char ***create, size_t *ncreate, moat_err_t *err)
{
  int exists;

  if (moat_policy_compile_reach (after->names[g], &after->policies[g], before->groups, before->n,
                                 elems)
      < 0)
    return moat_error_nomem (err, "policy");
  exists = moat_nft_ident_exists (nft, after->names[g], err);
  if (exists < 0)
    return -1;
  if (!exists && moat_strv_push (create, ncreate, after->names[g]) < 0)
    return moat_error_nomem (err, "policy");
  return 0;
}

static int
join_many_kernel (struct moat_nft *nft, const char *network, const struct moat_ident_list *before,
                  const struct moat_record *recs, const struct moat_policy *policies,
                  const bool *batched, size_t n, moat_err_t *err)
{
  _cleanup_ (moat_ident_list_free) struct moat_ident_list after = { 0 };
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *elems = moat_nft_elems_new ();
  _cleanup_ (moat_strv_freep) char **create = NULL;
  size_t ncreate = 0;

  if (!elems)
    return moat_error_nomem (err, "policy");
  if (moat_ident_list_load (network, false, &after, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      struct moat_compile_input in = {
        .addr = recs[i].addr,
        .ident = recs[i].ident,
        .network_internet = recs[i].internet,
        .policy = &policies[i],
        .groups = after.groups,
        .ngroups = after.n,
      };

      if (!batched[i])
        continue;
      if (moat_policy_compile (&in, elems) < 0)
        return moat_error_nomem (err, "policy");
      if (recs[i].ident
          && moat_hostnet_peer_elems (network, recs[i].addr, &policies[i], elems, err) < 0)
        return -1;
    }
  for (size_t g = 0; g < after.n; g++)
    {
      bool joins = false;

      for (size_t i = 0; i < n && !joins; i++)
        joins = batched[i] && recs[i].ident && strcmp (recs[i].ident, after.names[g]) == 0;
      if (joins && !ident_had_members (before, after.names[g])
          && join_new_ident (nft, before, &after, g, elems, &create, &ncreate, err) < 0)
        return -1;
    }
  return moat_nft_idents_join (nft, create, elems, err);
}

int
moat_policy_join_many (struct moat_nft *nft, const char *network, struct moat_record *recs,
                       const struct moat_policy *policies, size_t n, moat_err_t *err)
{
  _cleanup_ (moat_ident_list_free) struct moat_ident_list before = { 0 };
  _cleanup_ (join_idents_free) struct join_idents j = { 0 };
  _cleanup_free_ bool *batched = calloc (n + 1, sizeof (*batched));
  moat_err_t undo = { 0 };
  size_t done = 0;

  if (!batched || !(j.texts = calloc (n + 1, sizeof (*j.texts)))
      || !(j.names = calloc (n + 1, sizeof (*j.names))))
    return moat_error_nomem (err, "policy");
  for (size_t i = 0; i < n; i++)
    if (!moat_policy_is_empty (&policies[i]) && recs[i].have_addr6
        && moat_policy_join (nft, &recs[i], &policies[i], err) < 0)
      return -1;
  if (moat_ident_list_load (network, true, &before, err) < 0)
    return -1;
  for (; done < n; done++)
    {
      batched[done] = !moat_policy_is_empty (&policies[done]) && !recs[done].have_addr6;
      if (batched[done] && join_state (network, &recs[done], &policies[done], &j, n, err) < 0)
        break;
    }
  if (done == n && join_many_kernel (nft, network, &before, recs, policies, batched, n, err) == 0)
    return 0;
  /* Fail closed: the batch put nothing in the kernel; its records and
   * member files forget the policy. */
  for (size_t i = 0; i <= done && i < n; i++)
    if (batched[i]
        && (moat_policy_leave (nft, &recs[i], MOAT_LEAVE_STATE, &undo) < 0
            || record_policy (&recs[i], NULL, NULL, &undo) < 0))
      return moat_error_undo_failed (err, "the policy", &undo);
  return -1;
}

static int
leave_kernel (struct moat_nft *nft, const struct moat_record *rec, bool sweep, moat_err_t *err)
{
  _cleanup_ (moat_ident_list_free) struct moat_ident_list groups = { 0 };
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *del = moat_nft_elems_new ();
  size_t self = SIZE_MAX;

  if (!del)
    return moat_error_nomem (err, "policy");
  if (!rec->ident && !sweep)
    return 0;
  if (rec->ident && moat_ident_list_load (rec->network, false, &groups, err) < 0)
    return -1;
  for (size_t i = 0; rec->ident && i < groups.n; i++)
    if (strcmp (groups.names[i], rec->ident) == 0)
      self = i;
  /* Without its identity file (a crash), only the fixed sets are swept. */
  if (self != SIZE_MAX
      && moat_policy_compile_leave (rec->addr, &groups.policies[self], groups.groups, groups.n, del)
             < 0)
    return moat_error_nomem (err, "policy");
  /* A sweep takes them itself (kernel/nft: hostnet_peers is a policy set). */
  if (self != SIZE_MAX && !sweep
      && moat_hostnet_peer_elems (rec->network, rec->addr, &groups.policies[self], del, err) < 0)
    return -1;
  if (self != SIZE_MAX && add_twins (rec, &groups, del) < 0)
    return moat_error_nomem (err, "policy");
  return moat_nft_policy_replace2 (nft, rec->addr, addr6_or_null (rec), sweep, rec->internet, del,
                                   NULL, NULL, NULL, err);
}

int
moat_policy_leave (struct moat_nft *nft, const struct moat_record *rec, enum moat_leave how,
                   moat_err_t *err)
{
  if (how != MOAT_LEAVE_STATE && leave_kernel (nft, rec, how == MOAT_LEAVE_ALL, err) < 0)
    return -1;
  if (rec->ident && moat_ident_member_remove (rec, err) < 0)
    return -1;
  return 0;
}

int
moat_policy_network_remove (struct moat_nft *nft, const char *network, moat_err_t *err)
{
  _cleanup_ (moat_ident_list_free) struct moat_ident_list groups = { 0 };
  _cleanup_free_ char **names = NULL;

  if (moat_ident_list_load (network, false, &groups, err) < 0)
    return -1;
  names = calloc (groups.n + 1, sizeof (*names));
  if (!names)
    return moat_error_nomem (err, "policy");
  for (size_t i = 0; i < groups.n; i++)
    names[i] = groups.names[i];
  /* Their IPv6 twins too, if the network is dual stack (missing ones
   * are fine). */
  return moat_nft_idents_drop2 (nft, names, true, err);
}

/* An identity's set holds every member of every identity it may reach;
 * each member jumps to its identity's chain. */
static int
expected_idents (const struct moat_ident_list *g, bool all_idents, struct moat_nft_elems *out)
{
  for (size_t i = 0; i < g->n; i++)
    for (size_t k = 0; k < g->groups[i].n; k++)
      if (moat_nft_elems_ident_member (out, g->groups[i].addrs[k], g->names[i]) < 0)
        return -1;
  for (size_t i = 0; i < g->n; i++)
    for (size_t h = 0; h < g->n && (all_idents || g->groups[i].n); h++)
      {
        if (!g->groups[h].n || !moat_policy_allows (&g->policies[i], &g->policies[h]))
          continue;
        for (size_t k = 0; k < g->groups[h].n; k++)
          if (moat_nft_elems_ident_reach (out, g->names[i], g->groups[h].addrs[k]) < 0)
            return -1;
      }
  return 0;
}

/* A record's own elements: its policy without the identity part. */
static int
expected_own (const struct moat_record *rec, struct moat_nft_elems *out, moat_err_t *err)
{
  struct moat_policy p;
  struct moat_compile_input in = { .addr = rec->addr, .network_internet = rec->internet };
  int r;

  if (!rec->policy)
    return 0;
  if (moat_policy_from_json (rec->policy, &p, err) < 0)
    return moat_error_prefix (err, "record %s@%s", rec->container_id, rec->ifname);
  in.policy = &p;
  r = moat_policy_compile (&in, out);
  moat_policy_free (&p);
  return r < 0 ? moat_error_nomem (err, "policy") : 0;
}

int
moat_policy_network_expected (const char *network, const struct moat_record *recs, size_t n,
                              bool all_idents, struct moat_nft_elems *out, char ***ret_idents,
                              moat_err_t *err)
{
  _cleanup_ (moat_ident_list_free) struct moat_ident_list groups = { 0 };
  char **idents = NULL;
  size_t nidents = 0;

  if (moat_ident_list_load (network, true, &groups, err) < 0)
    return -1;
  if (expected_idents (&groups, all_idents, out) < 0)
    return moat_error_nomem (err, "policy");
  for (size_t i = 0; i < n; i++)
    if (expected_own (&recs[i], out, err) < 0)
      return -1;
  for (size_t i = 0; i < groups.n; i++)
    if ((all_idents || groups.groups[i].n)
        && moat_strv_push (&idents, &nidents, groups.names[i]) < 0)
      {
        moat_strv_free (idents);
        return moat_error_nomem (err, "policy");
      }
  if (!idents && !(idents = calloc (1, sizeof (*idents))))
    return moat_error_nomem (err, "policy");
  *ret_idents = idents;
  return 0;
}

int
moat_policy_clear (struct moat_nft *nft, struct moat_record *rec, moat_err_t *err)
{
  /* Nothing recorded, nothing installed: no sweep. */
  if (!rec->ident && !rec->policy)
    return 0;
  if (moat_policy_leave (nft, rec, MOAT_LEAVE_ALL, err) < 0)
    return -1;
  return record_policy (rec, NULL, NULL, err);
}

/* --- IPv6 twins of elements made outside the policy ------------------------ */

struct network_addr6
{
  struct moat_addr6_pair *v;
  size_t n;
};

static int
network_addr6_of (struct in_addr addr, struct in6_addr *ret, void *data)
{
  const struct network_addr6 *m = data;

  for (size_t i = 0; i < m->n; i++)
    if (m->v[i].addr.s_addr == addr.s_addr)
      {
        *ret = m->v[i].addr6;
        return 1;
      }
  return 0;
}

/* The dual-stack containers of `network`, from their records: this
 * node's, and other nodes' (cluster mode: a grant may name one). */
static int
network_addr6_load (const char *network, struct network_addr6 *m, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **keys = NULL;
  _cleanup_ (moat_strv_freep) char **remote = NULL;
  size_t n = 0, nlocal;

  if (moat_record_list (network, &keys, err) < 0 || moat_remote_list (network, &remote, err) < 0)
    return -1;
  while (keys[n])
    n++;
  nlocal = n;
  while (remote[n - nlocal])
    n++;
  m->v = calloc (n + 1, sizeof (*m->v));
  if (!m->v)
    return moat_error_nomem (err, "policy");
  for (size_t i = 0; i < n; i++)
    {
      struct moat_record r = { 0 };
      int found = i < nlocal ? moat_record_read (network, keys[i], &r, err)
                             : moat_remote_read (network, remote[i - nlocal], &r, err);

      if (found < 0)
        return -1;
      if (found && r.have_addr6)
        m->v[m->n++] = (struct moat_addr6_pair){ r.addr, r.addr6 };
      moat_record_free (&r);
    }
  return 0;
}

int
moat_policy_twin6 (const struct moat_record *rec, struct moat_nft_elems *l, moat_err_t *err)
{
  struct network_addr6 m = { 0 };
  int r;

  if (!rec->have_addr6)
    return 0;
  if (network_addr6_load (rec->network, &m, err) < 0)
    {
      free (m.v);
      return -1;
    }
  r = moat_nft_elems_twin6 (l, l, network_addr6_of, &m);
  free (m.v);
  return r < 0 ? moat_error_nomem (err, "policy") : 0;
}
