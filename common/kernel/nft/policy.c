/* SPDX-License-Identifier: Apache-2.0 */
/* A container's policy elements and its identity's objects, replaced in
 * one batch; whether grants outlive a shorter timeout. */
#include "kernel/nft/internal.h"

static const struct deletes by_destroy = { MOAT_NFT_MSG_DESTROYSETELEM, MOAT_NFT_MSG_DESTROYCHAIN,
                                           MOAT_NFT_MSG_DESTROYSET, MAX_ELEMS_PER_MSG };
static const struct deletes by_del = { NFT_MSG_DELSETELEM, NFT_MSG_DELCHAIN, NFT_MSG_DELSET, 1 };

static const struct deletes *
deletes_of (const struct moat_nft *nft)
{
  return nft->no_destroy ? &by_del : &by_destroy;
}

/* What a policy replace deletes, in the order its messages go. */
struct replace_dels
{
  struct moat_elem_list *old;
  struct moat_elem_list *del;
  const char *drop_ident;
  unsigned ident_parts;
};

/* An identity's IPv6 chain and set to make in the batch (an identity
 * that existed before its first dual-stack member); NULL-terminated. */
struct creates6
{
  char *v[8];
  size_t n;
};

static int
build_replace (struct builder *b, const struct replace_dels *r, const struct deletes *d,
               const char *create_ident, const struct creates6 *c6, struct moat_nft_elems *add)
{
  for (size_t i = 0; c6 && i < c6->n; i++)
    if (nft_put_ident6_create (b, c6->v[i]) < 0)
      return -1;
  if (nft_put_elem_runs (b, r->old->v, r->old->n, d->elem, 0, d->per_msg) < 0
      || (r->del && nft_put_elem_runs (b, r->del->v, r->del->n, d->elem, 0, d->per_msg) < 0)
      || (r->drop_ident && r->ident_parts
          && nft_put_ident_drop (b, r->drop_ident, d, r->ident_parts) < 0)
      || (create_ident && nft_put_ident_create (b, create_ident) < 0)
      || (create_ident && add && nft_elems_have6 (add->l.v, add->l.n)
          && nft_put_ident6_create (b, create_ident) < 0)
      || (add
          && nft_put_elem_runs (b, add->l.v, add->l.n, NFT_MSG_NEWSETELEM, NLM_F_CREATE,
                                MAX_ELEMS_PER_MSG)
                 < 0))
    return -1;
  return 0;
}

/* The set a refused element deletion named, when the set is gone:
 * nothing of it is left to delete. */
static bool
gone_set_of (struct nftnl_batch *batch, const struct reply *reply, char *name, size_t size)
{
  const struct nlmsghdr *nlh = reply->errnum == ENOENT ? nft_batch_find (batch, reply->seq) : NULL;
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = NULL;

  if (!nlh || (nlh->nlmsg_type & 0xff) != MOAT_NFT_MSG_DESTROYSETELEM || !(s = nftnl_set_alloc ())
      || nftnl_set_elems_nlmsg_parse (nlh, s) < 0 || !nftnl_set_is_set (s, NFTNL_SET_NAME))
    return false;
  snprintf (name, size, "%s", nftnl_set_get_str (s, NFTNL_SET_NAME));
  return true;
}

static size_t
drop_set (struct moat_elem_list *l, const char *name)
{
  size_t k = 0, dropped;

  for (size_t i = 0; l && i < l->n; i++)
    if (strcmp (l->v[i].name[0] ? l->v[i].name : l->v[i].set->name, name) != 0)
      l->v[k++] = l->v[i];
  dropped = l ? l->n - k : 0;
  if (l)
    l->n = k;
  return dropped;
}

/* Without DESTROY, each deletion is its own message, in build_replace's
 * order from `first`: those the kernel answered ENOENT (already gone, or
 * their set is) leave the lists. Returns how many left. */
static size_t
drop_missing (const struct reply *reply, uint32_t first, struct replace_dels *r)
{
  struct moat_elem_list *lists[] = { r->old, r->del };
  uint32_t seq = first;
  size_t dropped = 0;

  for (size_t l = 0; l < ARRAY_SIZE (lists); l++)
    {
      size_t k = 0, n = lists[l] ? lists[l]->n : 0;

      for (size_t i = 0; i < n; i++)
        if (nft_reply_errnum_at (reply, seq++) != ENOENT)
          lists[l]->v[k++] = lists[l]->v[i];
        else
          dropped++;
      if (lists[l])
        lists[l]->n = k;
    }
  /* Then the identity's chain and set, each one message when still asked. */
  for (unsigned part = IDENT_CHAIN; r->drop_ident && part <= IDENT_SET6; part <<= 1)
    if ((r->ident_parts & part) && nft_reply_errnum_at (reply, seq++) == ENOENT)
      {
        r->ident_parts &= ~part;
        dropped++;
      }
  return dropped;
}

/* After a refused batch: whether sending it again, changed, can succeed. */
static bool
retry_replace (struct moat_nft *nft, struct nftnl_batch *batch, const struct reply *reply,
               uint32_t first, struct replace_dels *r)
{
  char gone[MOAT_NFT_IDENT_MAX + 8];

  if (!nft->no_destroy && nft_destroy_unknown (batch, reply))
    return nft->no_destroy = true;
  if (nft->no_destroy)
    return reply->errnum == ENOENT && drop_missing (reply, first, r) > 0;
  /* An identity's set deleted behind moat's back (a flush, then a
   * restore that did not make it) has nothing left to delete: the batch
   * goes again without those deletions, so that DEL stays idempotent. */
  return gone_set_of (batch, reply, gone, sizeof (gone))
         && drop_set (r->old, gone) + drop_set (r->del, gone) > 0;
}

static int chain_exists (struct moat_nft *nft, const char *name, moat_err_t *err);

/* The identity an IPv6 element of `add` names (its set id_<ident>6, or
 * its verdict's chain: src_ident6's, hostnet_ident6's), or NULL. */
static const char *
ident6_named (const struct moat_elem *e, char *buf, size_t size)
{
  enum moat_set set = moat_elem_set (e);
  const char *name = set == MOAT_SET_IDENT6                                         ? e->name
                     : set == MOAT_SET_SRC_IDENT6 || set == MOAT_SET_HOSTNET_IDENT6 ? e->jump
                                                                                    : NULL;
  size_t len = name ? strlen (name) : 0;

  if (len < 5 || strncmp (name, "id_", 3) != 0 || name[len - 1] != '6' || len - 4 >= size)
    return NULL;
  memcpy (buf, name + 3, len - 4);
  buf[len - 4] = '\0';
  return buf;
}

/* The identities whose IPv6 chain `add` needs and the kernel lacks (an
 * identity made before its first dual-stack member): made in the batch.
 * `create_ident` gets both halves anyway. */
static int
idents6_missing (struct moat_nft *nft, const char *create_ident, const struct moat_nft_elems *add,
                 struct creates6 *c6, moat_err_t *err)
{
  for (size_t i = 0; add && i < add->l.n; i++)
    {
      char ident[MOAT_IDENT_OBJECT_MAX], name6[MOAT_IDENT_OBJECT_MAX];
      bool seen = false;
      int r;

      if (!ident6_named (&add->l.v[i], ident, sizeof (ident))
          || (create_ident && strcmp (ident, create_ident) == 0))
        continue;
      for (size_t k = 0; k < c6->n; k++)
        seen = seen || strcmp (c6->v[k], ident) == 0;
      if (seen || nft_ident6_name (name6, sizeof (name6), ident) < 0)
        continue;
      r = chain_exists (nft, name6, err);
      if (r < 0)
        return -1;
      if (r == 1)
        continue;
      if (c6->n == ARRAY_SIZE (c6->v))
        return moat_error (err, MOAT_E_NFT, E2BIG, "nft: too many identities without IPv6 chains");
      if (!(c6->v[c6->n++] = strdup (ident)))
        return moat_error_nomem (err, "nft");
    }
  return 0;
}

int
moat_nft_policy_replace (struct moat_nft *nft, struct in_addr addr, bool sweep, bool keep_internet,
                         struct moat_nft_elems *del, const char *drop_ident,
                         const char *create_ident, struct moat_nft_elems *add, moat_err_t *err)
{
  return moat_nft_policy_replace2 (nft, addr, NULL, sweep, keep_internet, del, drop_ident,
                                   create_ident, add, err);
}

int
moat_nft_policy_replace2 (struct moat_nft *nft, struct in_addr addr, const struct in6_addr *addr6,
                          bool sweep, bool keep_internet, struct moat_nft_elems *del,
                          const char *drop_ident, const char *create_ident,
                          struct moat_nft_elems *add, moat_err_t *err)
{
  struct moat_elem_list old = { 0 };
  struct replace_dels r = {
    .old = &old,
    .del = del ? &del->l : NULL,
    .drop_ident = drop_ident,
    /* A dual-stack container's identity has its IPv6 twins too. */
    .ident_parts = IDENT_CHAIN | IDENT_SET | (addr6 ? IDENT_CHAIN6 | IDENT_SET6 : 0),
  };
  struct creates6 c6 = { 0 };
  uint32_t seq = nft_first_seq ();
  int res;

  res = idents6_missing (nft, create_ident, add, &c6, err);
  if (res < 0)
    goto out;

  res = sweep ? nft_collect_policy (nft->nl, addr, addr6, keep_internet, false, false, &old, &seq,
                                    err)
              : 0;
  if (res < 0)
    goto out;
  nft_sort_by_set (&old);
  if (del)
    nft_sort_by_set (&del->l);
  if (add)
    nft_sort_by_set (&add->l);
  for (int tries = 0;; tries++)
    {
      _cleanup_batch_ struct nftnl_batch *batch = NULL;
      _cleanup_reply_ struct reply reply = { 0 };
      struct builder b;
      uint32_t first;

      seq += 16 + (uint32_t)(old.n + (del ? del->l.n : 0) + (add ? add->l.n : 0));
      if (nft_builder_start (&b, seq) < 0)
        {
          res = nft_build_failed (&b, err);
          goto out;
        }
      first = b.seq;
      if (build_replace (&b, &r, deletes_of (nft), create_ident, &c6, add) < 0
          || nft_builder_finish (&b) < 0)
        {
          res = nft_build_failed (&b, err);
          goto out;
        }
      batch = b.batch;
      res = nft_talk (nft->nl, batch, &reply, err);
      if (res < 0 || !reply.errnum)
        goto out;
      if (tries < 8 && retry_replace (nft, batch, &reply, first, &r))
        continue;
      res = nft_reply_error (batch, &reply, err);
      goto out;
    }
out:
  for (size_t i = 0; i < c6.n; i++)
    free (c6.v[i]);
  free (old.v);
  return res;
}

int
moat_nft_idents_join (struct moat_nft *nft, char *const *create_idents, struct moat_nft_elems *add,
                      moat_err_t *err)
{
  _cleanup_batch_ struct nftnl_batch *batch = NULL;
  _cleanup_reply_ struct reply reply = { 0 };
  struct creates6 c6 = { 0 };
  struct builder b;
  int res;

  res = idents6_missing (nft, NULL, add, &c6, err);
  if (res < 0)
    goto out;
  if (add)
    nft_sort_by_set (&add->l);
  res = -1;
  if (nft_builder_start (&b, nft_first_seq ()) < 0)
    {
      res = nft_build_failed (&b, err);
      goto out;
    }
  for (size_t i = 0; i < c6.n; i++)
    if (nft_put_ident6_create (&b, c6.v[i]) < 0)
      goto failed;
  for (char *const *i = create_idents; i && *i; i++)
    if (nft_put_ident_create (&b, *i) < 0)
      goto failed;
  if ((add
       && nft_put_elem_runs (&b, add->l.v, add->l.n, NFT_MSG_NEWSETELEM, NLM_F_CREATE,
                             MAX_ELEMS_PER_MSG)
              < 0)
      || nft_builder_finish (&b) < 0)
    goto failed;
  batch = b.batch;
  res = nft_talk (nft->nl, batch, &reply, err);
  if (res == 0 && reply.errnum)
    res = nft_reply_error (batch, &reply, err);
  goto out;
failed:
  res = nft_build_failed (&b, err);
out:
  for (size_t i = 0; i < c6.n; i++)
    free (c6.v[i]);
  return res;
}

/* Whether a re-add with a shorter timeout took: see nft.h. */
struct outlive
{
  uint64_t max_ms;
  bool outlives;
  bool failed;
};

static int
on_elem_expiration (const struct nlmsghdr *nlh, void *data)
{
  struct outlive *o = data;
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();
  struct nftnl_set_elems_iter *it;
  struct nftnl_set_elem *e;

  if (!s || nftnl_set_elems_nlmsg_parse (nlh, s) < 0 || !(it = nftnl_set_elems_iter_create (s)))
    {
      o->failed = true;
      return MNL_CB_OK;
    }
  while ((e = nftnl_set_elems_iter_next (it)))
    if (!nftnl_set_elem_is_set (e, NFTNL_SET_ELEM_EXPIRATION)
        || nftnl_set_elem_get_u64 (e, NFTNL_SET_ELEM_EXPIRATION) > o->max_ms)
      o->outlives = true;
  nftnl_set_elems_iter_destroy (it);
  return MNL_CB_OK;
}

int
moat_nft_elems_outlive (struct moat_nft *nft, const struct moat_nft_elems *l, uint64_t max_ms,
                        moat_err_t *err)
{
  _cleanup_batch_ struct nftnl_batch *batch = NULL;
  _cleanup_reply_ struct reply reply = { 0 };
  struct outlive o = { .max_ms = max_ms };

  if (l->l.n == 0)
    return 0;
  batch = nft_build_gets (l->l.v, l->l.n, nft_first_seq (), err);
  if (!batch || nft_talk_data (nft->nl, batch, &reply, on_elem_expiration, &o, err) < 0)
    return -1;
  if (reply.errnum && reply.errnum != ENOENT)
    return nft_reply_error (batch, &reply, err);
  if (o.failed)
    return moat_error (err, MOAT_E_NFT, EBADMSG, "nft: cannot read an element's expiration");
  return o.outlives;
}

/* 1 if chain `name` of the inet table exists, 0 if not (or no table). */
static int
chain_exists (struct moat_nft *nft, const char *name, moat_err_t *err)
{
  _cleanup_ (nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc ();
  char buf[8192] = { 0 };
  uint32_t seq = nft_first_seq ();
  enum moat_nfnl_failure failed = 0;
  struct nlmsghdr *nlh;
  int r;

  if (!c)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: chain \"%s\"", name);
  nftnl_chain_set_u32 (c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
  if (nftnl_chain_set_str (c, NFTNL_CHAIN_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_chain_set_str (c, NFTNL_CHAIN_NAME, name) < 0)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: chain \"%s\"", name);
  nlh = nftnl_nlmsg_build_hdr (buf, NFT_MSG_GETCHAIN, NFPROTO_INET, NLM_F_ACK, seq);
  nftnl_chain_nlmsg_build_payload (nlh, c);
  r = moat_nfnl_talk (nft->nl, nlh, buf, sizeof (buf), NULL, NULL, NULL, &failed);
  if (r == 0)
    return 1;
  if (failed == MOAT_NFNL_REPLY && errno == ENOENT)
    return 0;
  return moat_error (err, MOAT_E_NFT, errno, "nft: chain \"%s\"", name);
}

int
moat_nft_ident_exists (struct moat_nft *nft, const char *ident, moat_err_t *err)
{
  char name[MOAT_IDENT_OBJECT_MAX];

  if (moat_ident_object_name (name, sizeof (name), ident) < 0)
    return moat_error (err, MOAT_E_NFT, EINVAL, "nft: identity \"%s\"", ident);
  return chain_exists (nft, name, err);
}

/* Without DESTROY: each chain and set in its own batch, so one already
 * gone (ENOENT) does not keep the others. */
static int
idents_drop_one_by_one (struct moat_nft *nft, char *const *idents, bool with6, moat_err_t *err)
{
  static const unsigned parts[] = { IDENT_CHAIN, IDENT_SET, IDENT_CHAIN6, IDENT_SET6 };

  for (char *const *i = idents; *i; i++)
    for (size_t p = 0; p < (with6 ? 4 : 2); p++)
      {
        _cleanup_batch_ struct nftnl_batch *batch = NULL;
        _cleanup_reply_ struct reply reply = { 0 };
        struct builder b;

        if (nft_builder_start (&b, nft_first_seq ()) < 0
            || nft_put_ident_drop (&b, *i, &by_del, parts[p]) < 0 || nft_builder_finish (&b) < 0)
          return nft_build_failed (&b, err);
        batch = b.batch;
        if (nft_talk (nft->nl, batch, &reply, err) < 0)
          return -1;
        if (reply.errnum && reply.errnum != ENOENT)
          return nft_reply_error (batch, &reply, err);
      }
  return 0;
}

int
moat_nft_idents_drop (struct moat_nft *nft, char *const *idents, moat_err_t *err)
{
  return moat_nft_idents_drop2 (nft, idents, false, err);
}

int
moat_nft_idents_drop2 (struct moat_nft *nft, char *const *idents, bool with6, moat_err_t *err)
{
  unsigned parts = IDENT_CHAIN | IDENT_SET | (with6 ? IDENT_CHAIN6 | IDENT_SET6 : 0);
  _cleanup_batch_ struct nftnl_batch *batch = NULL;
  _cleanup_reply_ struct reply reply = { 0 };
  struct builder b;

  if (!idents || !idents[0])
    return 0;
  if (nft_builder_start (&b, nft_first_seq ()) < 0)
    return nft_build_failed (&b, err);
  for (char *const *i = idents; *i; i++)
    if (nft_put_ident_drop (&b, *i, deletes_of (nft), parts) < 0)
      return nft_build_failed (&b, err);
  if (nft_builder_finish (&b) < 0)
    return nft_build_failed (&b, err);
  batch = b.batch;
  if (nft_talk (nft->nl, batch, &reply, err) < 0)
    return -1;
  if (!nft->no_destroy && nft_destroy_unknown (batch, &reply))
    {
      nft->no_destroy = true;
      return idents_drop_one_by_one (nft, idents, with6, err);
    }
  if (reply.errnum && reply.errnum != ENOENT)
    return nft_reply_error (batch, &reply, err);
  return 0;
}
