/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the counters of the counted sets (docs/design.md, "Counters"):
 * one dump per set, each element's key and its counter expression. */
#include "kernel/nft/internal.h"

/* The sets of enum moat_count, in its order; then their IPv6 twins. */
static const enum moat_set counted_sets[2][MOAT_COUNT_KINDS] = {
  { MOAT_SET_ALLOWED_OUT, MOAT_SET_ALLOWED_IN, MOAT_SET_REFUSED_OUT, MOAT_SET_REFUSED_IN },
  { MOAT_SET_ALLOWED_OUT6, MOAT_SET_ALLOWED_IN6, MOAT_SET_REFUSED_OUT6, MOAT_SET_REFUSED_IN6 },
};

struct counted
{
  enum moat_count kind;
  bool v6; /* reading the IPv6 twins */
  struct moat_nft_counters *v;
  size_t n, cap;
  bool failed;
};

/* A new entry (zero) for the address: each set's elements get their own,
 * merged by address once all four are read (merge_by_addr). */
static struct moat_nft_counters *
entry_of (struct counted *c, const void *key)
{
  struct moat_nft_counters *e;

  if (c->n == c->cap)
    {
      size_t cap = c->cap ? c->cap * 2 : 64;
      struct moat_nft_counters *v = reallocarray (c->v, cap, sizeof (*v));

      if (!v)
        return NULL;
      c->v = v;
      c->cap = cap;
    }
  e = &c->v[c->n++];
  memset (e, 0, sizeof (*e));
  e->v6 = c->v6;
  if (c->v6)
    memcpy (&e->addr6, key, sizeof (e->addr6));
  else
    memcpy (&e->addr, key, sizeof (e->addr));
  return e;
}

static int
read_counter (struct nftnl_expr *e, void *data)
{
  struct moat_nft_counter *out = data;

  if (strcmp (nftnl_expr_get_str (e, NFTNL_EXPR_NAME), "counter") == 0)
    {
      out->packets = nftnl_expr_get_u64 (e, NFTNL_EXPR_CTR_PACKETS);
      out->bytes = nftnl_expr_get_u64 (e, NFTNL_EXPR_CTR_BYTES);
    }
  return 0;
}

static int
counted_elem (struct nftnl_set_elem *e, void *data)
{
  struct counted *c = data;
  struct moat_nft_counters *entry;
  uint32_t len = 0;
  const void *key = nftnl_set_elem_get (e, NFTNL_SET_ELEM_KEY, &len);

  if (!key || len != (c->v6 ? sizeof (struct in6_addr) : sizeof (struct in_addr)))
    return 0;
  entry = entry_of (c, key);
  if (!entry)
    {
      c->failed = true;
      return -1;
    }
  nftnl_set_elem_expr_foreach (e, read_counter, &entry->c[c->kind]);
  return 0;
}

static int
on_counted_elems (const struct nlmsghdr *nlh, void *data)
{
  struct counted *c = data;
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();

  if (!s || nftnl_set_elems_nlmsg_parse (nlh, s) < 0)
    {
      c->failed = true;
      return MNL_CB_ERROR;
    }
  if (nftnl_set_elem_foreach (s, counted_elem, c) < 0)
    return MNL_CB_ERROR;
  return MNL_CB_OK;
}

/* One set's dump into c; a missing table or set counts nothing. */
static int
dump_counted (struct mnl_socket *nl, struct counted *c, uint32_t seq, moat_err_t *err)
{
  const struct moat_set_def *def = &moat_set_defs[counted_sets[c->v6][c->kind]];
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();
  _cleanup_free_ char *buf = calloc (1, RECV_BUF_SIZE);
  enum moat_nfnl_failure failed = 0;
  struct nlmsghdr *nlh;
  int r;

  if (!s || !buf || nftnl_set_set_str (s, NFTNL_SET_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_set_set_str (s, NFTNL_SET_NAME, def->name) < 0)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: cannot dump set \"%s\"", def->name);
  nlh = nftnl_nlmsg_build_hdr (buf, NFT_MSG_GETSETELEM, def->family, NLM_F_DUMP, seq);
  nftnl_set_elems_nlmsg_build_payload (nlh, s);
  r = moat_nfnl_talk (nl, nlh, buf, RECV_BUF_SIZE, on_counted_elems, c, NULL, &failed);
  if (r == 0 || (failed == MOAT_NFNL_REPLY && errno == ENOENT && !c->failed))
    return 0;
  return moat_error (err, MOAT_E_NFT, c->failed ? ENOMEM : errno,
                     "nft: set \"%s\" in table %s %s: cannot list counters", def->name,
                     moat_family_name (def->family), MOAT_NFT_TABLE);
}

/* IPv4 entries first, each family by address. */
static int
by_addr (const void *a, const void *b)
{
  const struct moat_nft_counters *p = a, *q = b;
  uint32_t x = ntohl (p->addr.s_addr), y = ntohl (q->addr.s_addr);

  if (p->v6 != q->v6)
    return p->v6 ? 1 : -1;
  if (p->v6)
    return memcmp (&p->addr6, &q->addr6, sizeof (p->addr6));
  return x < y ? -1 : x > y;
}

/* Sorted by address, one entry per address (a set's counts added to the
 * entry of its address): what moat_nft_counters_find searches. */
static void
merge_by_addr (struct counted *c)
{
  size_t out = 0;

  if (c->n)
    qsort (c->v, c->n, sizeof (*c->v), by_addr);
  for (size_t i = 0; i < c->n; i++)
    {
      if (out > 0 && by_addr (&c->v[out - 1], &c->v[i]) == 0)
        {
          for (unsigned k = 0; k < MOAT_COUNT_KINDS; k++)
            {
              c->v[out - 1].c[k].packets += c->v[i].c[k].packets;
              c->v[out - 1].c[k].bytes += c->v[i].c[k].bytes;
            }
          continue;
        }
      c->v[out++] = c->v[i];
    }
  c->n = out;
}

int
moat_nft_counters_read (struct moat_nft *nft, struct moat_nft_counters **ret, size_t *ret_n,
                        moat_err_t *err)
{
  struct counted c = { 0 };
  uint32_t seq = (uint32_t)time (NULL);

  for (unsigned k = 0; k < 2 * MOAT_COUNT_KINDS; k++)
    {
      c.kind = k % MOAT_COUNT_KINDS;
      c.v6 = k >= MOAT_COUNT_KINDS;
      if (dump_counted (nft->nl, &c, seq++, err) < 0)
        {
          free (c.v);
          return -1;
        }
    }
  merge_by_addr (&c);
  *ret = c.v;
  *ret_n = c.n;
  return 0;
}

const struct moat_nft_counters *
moat_nft_counters_find (const struct moat_nft_counters *v, size_t n, struct in_addr addr)
{
  struct moat_nft_counters key = { .addr = addr };

  return n ? bsearch (&key, v, n, sizeof (*v), by_addr) : NULL;
}

const struct moat_nft_counters *
moat_nft_counters_find6 (const struct moat_nft_counters *v, size_t n, const struct in6_addr *addr)
{
  struct moat_nft_counters key = { .v6 = true, .addr6 = *addr };

  return n ? bsearch (&key, v, n, sizeof (*v), by_addr) : NULL;
}
