/* SPDX-License-Identifier: Apache-2.0 */
/* A member's elements: CNI ADD, DEL and CHECK, and the teardown of both
 * tables when the last one goes. */
#include "kernel/nft/internal.h"

/* Whether `nlh`, an element message, names a set of the IPv6 half. */
static bool
msg_names_half6 (const struct nlmsghdr *nlh)
{
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();
  const struct moat_set_def *def;

  if (!s || nftnl_set_elems_nlmsg_parse (nlh, s) < 0 || !nftnl_set_is_set (s, NFTNL_SET_NAME))
    return false;
  def = moat_set_def_find (nft_msg_family (nlh), nftnl_set_get_str (s, NFTNL_SET_NAME));
  return def && def->v6;
}

/* The tables in which some message of the batch found its table or set
 * missing (FAMILY_*), and MISSING_HALF6 when a set of the IPv6 half was:
 * a table that is there without its IPv6 half gets it. */
static unsigned
missing_families (struct nftnl_batch *batch, const struct reply *reply)
{
  int n = nftnl_batch_iovec_len (batch);
  struct iovec iov[n > 0 ? n : 1];
  unsigned families = 0;

  nftnl_batch_iovec (batch, iov, (uint32_t)n);
  for (int i = 0; i < n; i++)
    {
      const struct nlmsghdr *nlh = iov[i].iov_base;
      int len = (int)iov[i].iov_len;

      for (; mnl_nlmsg_ok (nlh, len); nlh = mnl_nlmsg_next (nlh, &len))
        if (nlh->nlmsg_type != NFNL_MSG_BATCH_BEGIN && nlh->nlmsg_type != NFNL_MSG_BATCH_END
            && nft_reply_errnum_at (reply, nlh->nlmsg_seq) == ENOENT)
          families |= msg_names_half6 (nlh) ? MISSING_HALF6 : family_bit (nft_msg_family (nlh));
    }
  return families;
}

/* Returns 0, -1, or what to create (FAMILY_* bits, MISSING_HALF6) when
 * the kernel said ENOENT, with *err naming what was missing. */
static int
add_elements (struct mnl_socket *nl, const struct moat_nft_member *m, uint32_t seq, moat_err_t *err)
{
  _cleanup_batch_ struct nftnl_batch *batch = moat_nft_build_member (m, true, seq, err);
  _cleanup_reply_ struct reply reply = { 0 };
  unsigned families;

  if (!batch || nft_talk (nl, batch, &reply, err) < 0)
    return -1;
  if (!reply.errnum)
    return 0;
  nft_reply_error (batch, &reply, err);
  families = reply.errnum == ENOENT ? missing_families (batch, &reply) : 0;
  return families ? (int)families : -1;
}

/* Creates what is missing and adds the elements in one batch: the tables
 * (with the IPv6 half for a dual-stack member), or only the IPv6 half of
 * tables that are there. Returns 1 when someone else created a table or
 * the IPv6 half meanwhile (EEXIST on it). */
static int
create_and_add (struct mnl_socket *nl, const struct moat_nft_member *m, unsigned missing,
                uint32_t seq, moat_err_t *err)
{
  _cleanup_batch_ struct nftnl_batch *batch = NULL;
  _cleanup_reply_ struct reply reply = { 0 };
  struct moat_elem elems[MOAT_MEMBER_MAX_ELEMS];
  unsigned families = missing & (FAMILY_INET | FAMILY_BRIDGE), halves = HALF4;
  size_t n;

  if (moat_member_elems (m, false, elems, &n, err) < 0)
    return -1;
  if (m->have_addr6)
    halves |= HALF6;
  if (!families)
    {
      families = FAMILY_INET | FAMILY_BRIDGE;
      halves = HALF6;
    }
  batch = nft_build_tables_and_member (elems, n, m->publish, families, halves, seq, err);
  if (!batch || nft_talk (nl, batch, &reply, err) < 0)
    return -1;
  if (reply.errnum == EEXIST
      && (nft_failed_at (batch, &reply, NFT_MSG_NEWTABLE, NFPROTO_INET)
          || nft_failed_at (batch, &reply, NFT_MSG_NEWTABLE, NFPROTO_BRIDGE)
          || nft_failed_at (batch, &reply, NFT_MSG_NEWSET, NFPROTO_INET)
          || nft_failed_at (batch, &reply, NFT_MSG_NEWSET, NFPROTO_BRIDGE)))
    return 1;
  if (reply.errnum)
    return nft_reply_error (batch, &reply, err);
  return 0;
}

/* The fast path is one batch of elements, one round trip. When the kernel
 * answers ENOENT, the tables it found missing (or the IPv6 half, for a
 * dual-stack member) are created in one batch with the elements; losing
 * that race to another creator (EEXIST on a table, or on the IPv6 half's
 * first set) means they exist now, so the element batch is tried once more. A
 * table that exists with a set missing stays an error: that is drift for
 * `moatctl restore`, not something to paper over here. */
int
moat_nft_member_add (struct moat_nft *nft, const struct moat_nft_member *m, moat_err_t *err)
{
  struct mnl_socket *nl = nft->nl;
  uint32_t seq = nft_first_seq ();
  int r;

  r = add_elements (nl, m, seq, err);
  if (r <= 0)
    return r;
  r = create_and_add (nl, m, (unsigned)r, seq + 16, err);
  if (r == 1)
    r = add_elements (nl, m, seq + 1024, err) == 0 ? 0 : -1;
  if (r == 0)
    *err = (moat_err_t){ 0 }; /* forget the fast path's ENOENT */
  return r;
}

/* Sends the finished batch of `b`, one deletion, and frees it; ENOENT,
 * the object already gone, is success. */
static int
delete_sent (struct mnl_socket *nl, struct builder *b, moat_err_t *err)
{
  _cleanup_batch_ struct nftnl_batch *batch = b->batch;
  _cleanup_reply_ struct reply reply = { 0 };

  if (nft_talk (nl, batch, &reply, err) < 0)
    return -1;
  if (reply.errnum && reply.errnum != ENOENT)
    return nft_reply_error (batch, &reply, err);
  return 0;
}

/* The fallback for kernels without DESTROY: each element in its own
 * DELSETELEM batch, where ENOENT only says that element is already gone. */
static int
delete_one_by_one (struct mnl_socket *nl, const struct moat_elem *elems, size_t n, uint32_t seq,
                   moat_err_t *err)
{
  for (size_t i = 0; i < n; i++, seq += 4)
    {
      struct builder b;

      if (nft_builder_start (&b, seq) < 0
          || nft_put_elems (&b, &elems[i], 1, NFT_MSG_DELSETELEM, 0) < 0
          || nft_builder_finish (&b) < 0)
        return nft_build_failed (&b, err);
      if (delete_sent (nl, &b, err) < 0)
        return -1;
    }
  return 0;
}

/* Consecutive elements of one set, sent as one DESTROYSETELEM message. */
struct elem_group
{
  const struct moat_elem *elems;
  size_t n;
  uint32_t seq; /* of its message in the last batch */
  bool gone;    /* its table or set does not exist: nothing to delete */
};

static size_t
group_elems (const struct moat_elem *elems, size_t n, struct elem_group *groups)
{
  size_t ngroups = 0;

  for (size_t i = 0; i < n;)
    {
      size_t j = i + 1;

      while (j < n && elems[j].set == elems[i].set && j - i < MAX_ELEMS_PER_MSG)
        j++;
      groups[ngroups++] = (struct elem_group){ .elems = &elems[i], .n = j - i };
      i = j;
    }
  return ngroups;
}

/* One batch with a DESTROYSETELEM message per group still to delete. */
static struct nftnl_batch *
build_destroys (struct elem_group *groups, size_t ngroups, uint32_t seq, moat_err_t *err)
{
  struct builder b;

  if (nft_builder_start (&b, seq) < 0)
    return nft_build_error (&b, err);
  for (size_t g = 0; g < ngroups; g++)
    {
      if (groups[g].gone)
        continue;
      groups[g].seq = b.seq;
      if (nft_put_elems (&b, groups[g].elems, groups[g].n, MOAT_NFT_MSG_DESTROYSETELEM, 0) < 0)
        return nft_build_error (&b, err);
    }
  if (nft_builder_finish (&b) < 0)
    return nft_build_error (&b, err);
  return b.batch;
}

/* Marks groups whose table or set is missing (ENOENT: DESTROY does not
 * complain about missing elements). Returns 1 if the batch should be resent
 * without them, 0 if the kernel lacks DESTROY, -1 on another error. */
static int
sort_out_failures (struct nftnl_batch *batch, const struct reply *reply, struct elem_group *groups,
                   size_t ngroups, moat_err_t *err)
{
  if (reply->errnum == EINVAL || reply->errnum == EOPNOTSUPP)
    return 0;
  for (size_t g = 0; g < ngroups; g++)
    {
      int errnum;

      if (groups[g].gone)
        continue;
      errnum = nft_reply_errnum_at (reply, groups[g].seq);
      if (errnum == ENOENT)
        groups[g].gone = true;
      else if (errnum)
        return nft_reply_error_at (batch, reply, groups[g].seq, err);
    }
  if (reply->errnum != ENOENT)
    return nft_reply_error (batch, reply, err);
  return 1;
}

/* Deletes elements in one DESTROYSETELEM batch. Where a table or set is
 * missing the kernel refuses the whole batch with ENOENT for those
 * messages: they had nothing to delete, so the rest is sent again without
 * them. Each round drops at least one message, so this ends. */
static int
delete_elems (struct mnl_socket *nl, const struct moat_elem *elems, size_t n, uint32_t seq,
              moat_err_t *err)
{
  _cleanup_free_ struct elem_group *groups = NULL;
  size_t ngroups, left;

  if (n == 0)
    return 0;
  groups = calloc (n, sizeof (*groups));
  if (!groups)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: cannot build batch");
  ngroups = left = group_elems (elems, n, groups);
  for (; left > 0; seq += (uint32_t)ngroups + 4)
    {
      _cleanup_batch_ struct nftnl_batch *batch = build_destroys (groups, ngroups, seq, err);
      _cleanup_reply_ struct reply reply = { 0 };
      int r;

      if (!batch || nft_talk (nl, batch, &reply, err) < 0)
        return -1;
      if (!reply.errnum)
        return 0;
      r = sort_out_failures (batch, &reply, groups, ngroups, err);
      if (r < 0)
        return -1;
      if (r == 0)
        return delete_one_by_one (nl, elems, n, seq + (uint32_t)ngroups + 4, err);
      left = 0;
      for (size_t g = 0; g < ngroups; g++)
        left += !groups[g].gone;
    }
  return 0;
}

int
moat_nft_member_check (struct moat_nft *nft, const struct moat_nft_member *m, moat_err_t *err)
{
  struct mnl_socket *nl = nft->nl;
  _cleanup_batch_ struct nftnl_batch *batch = NULL;
  _cleanup_reply_ struct reply reply = { 0 };
  uint32_t seq = nft_first_seq ();
  struct moat_elem own[MOAT_MEMBER_MAX_ELEMS];
  _cleanup_free_ struct moat_elem *elems = NULL;
  const struct moat_elem *missing;
  size_t n, n_publish = m->publish ? moat_nft_elems_count (m->publish) : 0;
  char key[256];

  if (moat_member_elems (m, false, own, &n, err) < 0)
    return -1;
  /* The member's own elements, then its published ports'. */
  elems = calloc (n + n_publish, sizeof (*elems));
  if (!elems)
    return moat_error_nomem (err, "nft check");
  memcpy (elems, own, n * sizeof (*own));
  for (size_t i = 0; i < n_publish; i++)
    elems[n++] = *moat_nft_elems_at (m->publish, i);
  batch = nft_build_gets (elems, n, seq, err);
  if (!batch || nft_talk (nl, batch, &reply, err) < 0)
    return -1;
  if (!reply.errnum)
    return 0;
  if (reply.errnum != ENOENT || reply.seq - seq >= n)
    return nft_reply_error (batch, &reply, err);
  missing = &elems[reply.seq - seq];
  moat_elem_format_key (missing, key, sizeof (key));
  return moat_error (err, MOAT_E_DRIFT, 0, "nft set %s %s %s: element %s missing",
                     moat_family_name (missing->set->family), MOAT_NFT_TABLE, missing->set->name,
                     key);
}

/* Appends to `found` every policy element that names `addr` (internet is
 * one of the member's own), and published ports unless the member's are
 * known. */
static int
collect_naming (struct mnl_socket *nl, const struct moat_nft_member *m,
                struct moat_elem_list *found, uint32_t *seq, moat_err_t *err)
{
  return nft_collect_policy (nl, m->addr, m->have_addr6 ? &m->addr6 : NULL, true, true,
                             !m->publish_known, found, seq, err);
}

static int
push_all (struct moat_elem_list *l, const struct moat_elem *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      struct moat_elem *e = moat_elem_list_push (l);

      if (!e)
        return -1;
      *e = v[i];
    }
  return 0;
}

int
moat_nft_member_del (struct moat_nft *nft, const struct moat_nft_member *m, moat_err_t *err)
{
  struct moat_elem elems[MOAT_MEMBER_MAX_ELEMS];
  struct moat_elem_list found = { 0 };
  uint32_t seq = nft_first_seq ();
  size_t n;
  int r;

  if (moat_member_elems (m, true, elems, &n, err) < 0)
    return -1;
  /* The member's own, and its published ports as its record names them. */
  if (push_all (&found, elems, n) < 0
      || (m->publish_known && m->publish
          && push_all (&found, m->publish->l.v, m->publish->l.n) < 0))
    {
      free (found.v);
      return moat_error (err, MOAT_E_NFT, ENOMEM, "nft");
    }
  r = collect_naming (nft->nl, m, &found, &seq, err);
  if (r == 0)
    r = delete_elems (nft->nl, found.v, found.n, seq + 1, err);
  /* A set dump is not atomic against other networks changing the shared
   * sets meanwhile: sweep again until a pass finds nothing. */
  for (int round = 0; r == 0 && found.n > 0; round++)
    {
      seq += (uint32_t)found.n + 16;
      found.n = 0;
      r = collect_naming (nft->nl, m, &found, &seq, err);
      if (r < 0 || found.n == 0)
        break;
      if (round == 3)
        r = moat_error (err, MOAT_E_TRY_AGAIN, 0,
                        "nft: elements naming the container keep appearing; try again");
      else
        r = delete_elems (nft->nl, found.v, found.n, seq + 1, err);
    }
  free (found.v);
  return r;
}

/* Every element naming one of `addrs` (sorted; with `addr6`, one address
 * and its IPv6 twin), as a DEL's sweep: again until a pass finds nothing. */
static int
forget_sweep (struct moat_nft *nft, const struct in_addr *addrs, size_t n,
              const struct in6_addr *addr6, moat_err_t *err)
{
  struct moat_elem_list found = { 0 };
  uint32_t seq = nft_first_seq ();
  int r = 0;

  for (int round = 0; r == 0; round++)
    {
      found.n = 0;
      r = n == 1
              ? nft_collect_policy (nft->nl, addrs[0], addr6, false, true, false, &found, &seq, err)
              : nft_collect_policy_many (nft->nl, addrs, n, &found, &seq, err);
      if (r < 0 || found.n == 0)
        break;
      if (round == 4)
        r = moat_error (err, MOAT_E_TRY_AGAIN, 0,
                        "nft: elements naming the address keep appearing; try again");
      else
        r = delete_elems (nft->nl, found.v, found.n, seq + 1, err);
      seq += (uint32_t)found.n + 16;
    }
  free (found.v);
  return r;
}

int
moat_nft_address_forget (struct moat_nft *nft, struct in_addr addr, moat_err_t *err)
{
  return forget_sweep (nft, &addr, 1, NULL, err);
}

int
moat_nft_address_forget2 (struct moat_nft *nft, struct in_addr addr, const struct in6_addr *addr6,
                          moat_err_t *err)
{
  return forget_sweep (nft, &addr, 1, addr6, err);
}

static int
in_addr_cmp (const void *a, const void *b)
{
  uint32_t x = ((const struct in_addr *)a)->s_addr, y = ((const struct in_addr *)b)->s_addr;

  return x < y ? -1 : x > y;
}

int
moat_nft_addresses_forget (struct moat_nft *nft, const struct in_addr *addrs, size_t n,
                           moat_err_t *err)
{
  _cleanup_free_ struct in_addr *sorted = n ? calloc (n, sizeof (*sorted)) : NULL;

  if (n == 0)
    return 0;
  if (!sorted)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft");
  memcpy (sorted, addrs, n * sizeof (*sorted));
  qsort (sorted, n, sizeof (*sorted), in_addr_cmp);
  return forget_sweep (nft, sorted, n, NULL, err);
}

int
moat_nft_bridge_del (struct moat_nft *nft, const char *bridge, moat_err_t *err)
{
  struct moat_elem e;

  if (moat_elem_bridge (&e, bridge, err) < 0)
    return -1;
  return delete_elems (nft->nl, &e, 1, nft_first_seq (), err);
}

int
moat_nft_resolvers_del (struct moat_nft *nft, const char *bridge, struct in_addr gateway,
                        const struct in6_addr *gateway6, moat_err_t *err)
{
  struct moat_elem e[4];

  if (moat_elems_resolvers (e, bridge, gateway, err) < 0
      || (gateway6 && moat_elems_resolvers6 (&e[2], bridge, gateway6, err) < 0))
    return -1;
  return delete_elems (nft->nl, e, gateway6 ? 4 : 2, nft_first_seq (), err);
}

int
moat_nft_in_use (struct moat_nft *nft, moat_err_t *err)
{
  static const enum moat_set sets[] = { MOAT_SET_BRIDGES, MOAT_SET_GUARDED, MOAT_SET_HOSTNET };
  uint32_t seq = nft_first_seq ();

  for (size_t i = 0; i < ARRAY_SIZE (sets); i++)
    {
      struct moat_elem_list found = { 0 };
      struct collect c = { .set = &moat_set_defs[sets[i]], .out = &found };
      int r = nft_collect_set (nft->nl, &c, seq + (uint32_t)i, err);
      size_t n = found.n;

      free (found.v);
      if (r < 0)
        return -1;
      if (n > 0)
        return 1;
    }
  return 0;
}

int
moat_nft_port_find (struct moat_nft *nft, const char *host_ifname,
                    unsigned char ret_mac[MOAT_MAC_LEN], struct in_addr *ret_addr, moat_err_t *err)
{
  struct moat_elem_list found = { 0 };
  struct collect c = { .set = &moat_set_defs[MOAT_SET_PORTS], .out = &found };
  int r = 0;

  if (moat_elem_check_ifname ("port", host_ifname, err) < 0)
    return -1;
  if (nft_collect_set (nft->nl, &c, nft_first_seq (), err) < 0)
    {
      free (found.v);
      return -1;
    }
  for (size_t i = 0; i < found.n && r == 0; i++)
    r = moat_elem_port_of (&found.v[i], host_ifname, ret_mac, ret_addr);
  free (found.v);
  return r;
}

int
moat_nft_port6_find (struct moat_nft *nft, const char *host_ifname,
                     unsigned char ret_mac[MOAT_MAC_LEN], struct in6_addr *ret_addr,
                     moat_err_t *err)
{
  struct moat_elem_list found = { 0 };
  struct collect c = { .set = &moat_set_defs[MOAT_SET_PORTS6], .out = &found };
  int r = 0;

  if (moat_elem_check_ifname ("port", host_ifname, err) < 0)
    return -1;
  /* No IPv6 half: no ports6 set (ENOENT), nothing to find. */
  if (nft_collect_set (nft->nl, &c, nft_first_seq (), err) < 0)
    {
      free (found.v);
      return err->errnum == ENOENT ? (*err = (moat_err_t){ 0 }, 0) : -1;
    }
  for (size_t i = 0; i < found.n && r == 0; i++)
    r = moat_elem_port6_of (&found.v[i], host_ifname, ret_mac, ret_addr)
        && !IN6_IS_ADDR_LINKLOCAL (ret_addr);
  free (found.v);
  return r;
}

/* Both tables in one batch of `msg_type`. */
static int
delete_tables (struct mnl_socket *nl, uint16_t msg_type, uint32_t seq, struct reply *reply,
               moat_err_t *err)
{
  _cleanup_batch_ struct nftnl_batch *batch = NULL;
  struct builder b;

  if (nft_builder_start (&b, seq) < 0 || nft_put_table (&b, NFPROTO_INET, msg_type, 0) < 0
      || nft_put_table (&b, NFPROTO_BRIDGE, msg_type, 0) < 0 || nft_builder_finish (&b) < 0)
    return nft_build_failed (&b, err);
  batch = b.batch;
  if (nft_talk (nl, batch, reply, err) < 0)
    return -1;
  if (reply->errnum && reply->errnum != EINVAL && reply->errnum != EOPNOTSUPP
      && reply->errnum != ENOENT)
    return nft_reply_error (batch, reply, err);
  return 0;
}

static int
delete_table (struct mnl_socket *nl, uint16_t family, uint32_t seq, moat_err_t *err)
{
  struct builder b;

  if (nft_builder_start (&b, seq) < 0 || nft_put_table (&b, family, NFT_MSG_DELTABLE, 0) < 0
      || nft_builder_finish (&b) < 0)
    return nft_build_failed (&b, err);
  return delete_sent (nl, &b, err);
}

/* One DESTROYTABLE batch for both; a kernel without DESTROY gets one
 * DELTABLE batch per table, so a missing one does not keep the other. */
int
moat_nft_teardown (struct moat_nft *nft, moat_err_t *err)
{
  struct mnl_socket *nl = nft->nl;
  _cleanup_reply_ struct reply reply = { 0 };
  uint32_t seq = nft_first_seq ();

  if (delete_tables (nl, MOAT_NFT_MSG_DESTROYTABLE, seq, &reply, err) < 0)
    return -1;
  if (!reply.errnum)
    return 0;
  if (delete_table (nl, NFPROTO_INET, seq + 8, err) < 0)
    return -1;
  return delete_table (nl, NFPROTO_BRIDGE, seq + 16, err);
}

int
moat_nft_half6_ensure (struct moat_nft *nft, moat_err_t *err)
{
  _cleanup_batch_ struct nftnl_batch *batch = moat_nft_build_half6 (nft_first_seq (), err);
  _cleanup_reply_ struct reply reply = { 0 };

  if (!batch || nft_talk (nft->nl, batch, &reply, err) < 0)
    return -1;
  /* Its first set of each table is made NLM_F_EXCL: there already. */
  if (!reply.errnum
      || (reply.errnum == EEXIST
          && (nft_failed_at (batch, &reply, NFT_MSG_NEWSET, NFPROTO_INET)
              || nft_failed_at (batch, &reply, NFT_MSG_NEWSET, NFPROTO_BRIDGE))))
    {
      *err = (moat_err_t){ 0 };
      return 0;
    }
  return nft_reply_error (batch, &reply, err);
}

int
moat_nft_tables_ensure (struct moat_nft *nft, moat_err_t *err)
{
  _cleanup_batch_ struct nftnl_batch *batch = moat_nft_build_tables (nft_first_seq (), err);
  _cleanup_reply_ struct reply reply = { 0 };

  if (!batch || nft_talk (nft->nl, batch, &reply, err) < 0)
    return -1;
  if (!reply.errnum
      || (reply.errnum == EEXIST && nft_failed_at (batch, &reply, NFT_MSG_NEWTABLE, NFPROTO_INET)))
    {
      *err = (moat_err_t){ 0 };
      return 0;
    }
  return nft_reply_error (batch, &reply, err);
}
