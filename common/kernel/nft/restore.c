/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl restore (the tables made anew from the records) and check (the
 * kernel compared with the records). */
#include "kernel/nft/internal.h"

static int
put_members (struct builder *b, const struct moat_nft_member *members, size_t n, moat_err_t *err)
{
  for (size_t i = 0; i < n; i++)
    {
      struct moat_elem elems[MOAT_MEMBER_MAX_ELEMS];
      size_t k;

      if (moat_member_elems (&members[i], false, elems, &k, err) < 0)
        return -1;
      if (nft_put_elem_runs (b, elems, k, NFT_MSG_NEWSETELEM, NLM_F_CREATE, MAX_ELEMS_PER_MSG) < 0)
        return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: restore");
    }
  return 0;
}

/* Whether some element is of the IPv6 half: another node's dual-stack
 * container or subnet6 (docs/cluster.md) needs it with no local one. */
static bool
elems_name_half6 (const struct moat_nft_elems *l)
{
  for (size_t i = 0; l && i < moat_nft_elems_count (l); i++)
    if (moat_nft_elems_at (l, i)->set->v6)
      return true;
  return false;
}

/* The restore batch; with `destroy`, it deletes the old tables first. */
static struct nftnl_batch *
build_restore (const struct moat_nft_member *members, size_t n, char *const *idents,
               struct moat_nft_elems *add, bool destroy, moat_err_t *err)
{
  bool any6 = elems_name_half6 (add);
  struct builder b;

  /* The IPv6 half when some member is dual stack (docs/design.md, "IPv6"),
   * or some element is of it (a dual-stack network's host-network container). */
  for (size_t i = 0; i < n; i++)
    any6 = any6 || members[i].have_addr6;
  any6 = any6 || (add && nft_elems_have6 (add->l.v, add->l.n));

  if (nft_builder_start (&b, nft_first_seq ()) < 0
      || (destroy
          && (nft_put_table (&b, NFPROTO_INET, MOAT_NFT_MSG_DESTROYTABLE, 0) < 0
              || nft_put_table (&b, NFPROTO_BRIDGE, MOAT_NFT_MSG_DESTROYTABLE, 0) < 0))
      || nft_put_tables (&b, FAMILY_INET | FAMILY_BRIDGE, HALF4 | (any6 ? HALF6 : 0)) < 0)
    return nft_build_error (&b, err);
  if (put_members (&b, members, n, err) < 0)
    {
      nftnl_batch_free (b.batch);
      return NULL;
    }
  for (char *const *i = idents; i && *i; i++)
    if (nft_put_ident_create (&b, *i) < 0 || (any6 && nft_put_ident6_create (&b, *i) < 0))
      return nft_build_error (&b, err);
  if ((add
       && nft_put_elem_runs (&b, add->l.v, add->l.n, NFT_MSG_NEWSETELEM, NLM_F_CREATE,
                             MAX_ELEMS_PER_MSG)
              < 0)
      || nft_builder_finish (&b) < 0)
    return nft_build_error (&b, err);
  return b.batch;
}

/* Before Linux 6.3 (no DESTROY) the old tables go first in batches of
 * their own, then the rest: all or nothing from there on. */
int
moat_nft_restore (struct moat_nft *nft, const struct moat_nft_member *members, size_t n,
                  char *const *idents, struct moat_nft_elems *add, moat_err_t *err)
{
  if (add)
    nft_sort_by_set (&add->l);
  for (int tries = 0; tries < 2; tries++)
    {
      _cleanup_batch_ struct nftnl_batch *batch = NULL;
      _cleanup_reply_ struct reply reply = { 0 };

      if (nft->no_destroy && moat_nft_teardown (nft, err) < 0)
        return -1;
      batch = build_restore (members, n, idents, add, !nft->no_destroy, err);
      if (!batch || nft_talk (nft->nl, batch, &reply, err) < 0)
        return -1;
      if (!reply.errnum)
        return 0;
      if (nft->no_destroy || !nft_destroy_unknown (batch, &reply))
        return nft_reply_error (batch, &reply, err);
      nft->no_destroy = true;
    }
  return 0;
}

static int
str_cmp (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* The elements as sorted, unique text lines. */
struct lines
{
  char **v;
  size_t n, cap;
};

static void
lines_free (struct lines *l)
{
  for (size_t i = 0; i < l->n; i++)
    free (l->v[i]);
  free (l->v);
}

static int
lines_add (struct lines *l, const struct moat_elem *e)
{
  char buf[512];

  if (l->n == l->cap)
    {
      size_t cap = l->cap ? l->cap * 2 : 64;
      char **v = realloc (l->v, cap * sizeof (*v));

      if (!v)
        return -1;
      l->v = v;
      l->cap = cap;
    }
  moat_elem_format (e, buf, sizeof (buf));
  return (l->v[l->n] = strdup (buf)) ? (int)l->n++ * 0 : -1;
}

static void
lines_sort_unique (struct lines *l)
{
  size_t k = 0;

  if (l->n > 1)
    qsort (l->v, l->n, sizeof (*l->v), str_cmp);
  for (size_t i = 0; i < l->n; i++)
    if (k > 0 && strcmp (l->v[k - 1], l->v[i]) == 0)
      free (l->v[i]);
    else
      l->v[k++] = l->v[i];
  l->n = k;
}

/* Whether `e` is in a table (or an IPv6 half) reported missing. */
static bool
elem_missing (const struct moat_elem *e, unsigned missing)
{
  return (missing & family_bit (e->set->family)) || (e->set->v6 && (missing & MISSING_HALF6));
}

/* What the records say, but nothing of a table reported missing. */
static int
expected_lines (const struct moat_nft_member *members, size_t n, const struct moat_nft_elems *add,
                unsigned missing, struct lines *out, moat_err_t *err)
{
  for (size_t i = 0; i < n; i++)
    {
      struct moat_elem elems[MOAT_MEMBER_MAX_ELEMS];
      size_t k;

      if (moat_member_elems (&members[i], false, elems, &k, err) < 0)
        return -1;
      for (size_t j = 0; j < k; j++)
        if (!elem_missing (&elems[j], missing) && lines_add (out, &elems[j]) < 0)
          return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: compare");
    }
  for (size_t i = 0; add && i < add->l.n; i++)
    if (!elem_missing (&add->l.v[i], missing) && lines_add (out, &add->l.v[i]) < 0)
      return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: compare");
  lines_sort_unique (out);
  return 0;
}

/* An identity's IPv6 set (a dual-stack host's): its elements, if it is
 * there. An identity of IPv4-only containers has none, so a missing one is
 * no difference by itself: elements the records expect in it show as
 * missing one by one. */
static int
collect_ident6 (struct mnl_socket *nl, const char *ident, struct moat_elem_list *found,
                uint32_t *seq, moat_err_t *err)
{
  char name[MOAT_IDENT_OBJECT_MAX];
  struct collect c = { .set = &moat_ident_set6_def, .name = name, .out = found };

  if (nft_ident6_name (name, sizeof (name), ident) < 0)
    return 0;
  return nft_collect_set (nl, &c, (*seq)++, err);
}

/* Every element of moat's sets and of the identities' sets; a missing
 * table or identity set is reported, its elements then all count as
 * missing only once. The IPv6 half missing is reported only when some
 * member is dual stack or some expected element is IPv6's (`any6`): an
 * IPv4-only host has none. */
static int
kernel_lines (struct mnl_socket *nl, char *const *idents, bool any6, struct lines *out,
              moat_nft_diff_fn report, void *data, int *ndiff, unsigned *missing, moat_err_t *err)
{
  bool table_missing[2] = { false, false }, half6_missing[2] = { false, false };
  struct moat_elem_list found = { 0 };
  uint32_t seq = nft_first_seq ();
  int r = 0;

  for (size_t i = 0; r == 0 && i < MOAT_SET_COUNT; i++)
    {
      const struct moat_set_def *def = &moat_set_defs[i];
      struct collect c = { .set = def, .out = &found };
      unsigned fam = def->family == NFPROTO_BRIDGE;
      bool *gone = def->v6 ? &half6_missing[fam] : &table_missing[fam];
      char what[128];

      /* A dynamic set's elements are the kernel's own (log_rate's
       * limiters): nothing moat adds, nothing to compare. */
      if (*gone || table_missing[fam] || (def->flags & NFT_SET_EVAL))
        continue;
      r = nft_collect_set (nl, &c, seq++, err);
      if (r == 0 && c.missing)
        {
          *gone = true;
          if (def->v6 && !any6)
            continue;
          snprintf (what, sizeof (what), "%stable %s %s", def->v6 ? "IPv6 half of " : "",
                    moat_family_name (def->family), MOAT_NFT_TABLE);
          report (data, true, what);
          (*ndiff)++;
        }
    }
  for (char *const *id = idents; r == 0 && id && *id && !table_missing[0]; id++)
    {
      char name[MOAT_IDENT_OBJECT_MAX], what[128];
      struct collect c = { .set = &moat_ident_set_def, .name = name, .out = &found };

      if (moat_ident_object_name (name, sizeof (name), *id) < 0)
        continue;
      r = nft_collect_set (nl, &c, seq++, err);
      if (r == 0 && c.missing)
        {
          snprintf (what, sizeof (what), "identity %s (chain and set %s)", *id, name);
          report (data, true, what);
          (*ndiff)++;
        }
      if (r == 0 && any6 && !half6_missing[0])
        r = collect_ident6 (nl, *id, &found, &seq, err);
    }
  for (size_t i = 0; r == 0 && i < found.n; i++)
    if (lines_add (out, &found.v[i]) < 0)
      r = moat_error (err, MOAT_E_NFT, ENOMEM, "nft: compare");
  free (found.v);
  lines_sort_unique (out);
  *missing = (table_missing[0] ? FAMILY_INET : 0) | (table_missing[1] ? FAMILY_BRIDGE : 0)
             | (half6_missing[0] || half6_missing[1] ? MISSING_HALF6 : 0);
  return r;
}

/* Is line `s` one of `l` (sorted)? */
static bool
lines_has (const struct lines *l, const char *s)
{
  return l->n && bsearch (&s, l->v, l->n, sizeof (*l->v), str_cmp) != NULL;
}

/* Tables of another layout are drift: restore remakes them. */
static int
layout_differs (struct moat_nft *nft, moat_nft_diff_fn report, void *data, int *ndiff,
                moat_err_t *err)
{
  char what[128];
  unsigned layout;
  int r = moat_nft_layout (nft, &layout, err);

  if (r <= 0 || layout == MOAT_RULESET_LAYOUT)
    return r;
  snprintf (what, sizeof (what), "table inet %s in layout %u (the kernel's is %s %u)",
            MOAT_NFT_TABLE, MOAT_RULESET_LAYOUT, layout ? "layout" : "from before layouts,",
            layout);
  report (data, true, what);
  (*ndiff)++;
  return 0;
}

int
moat_nft_compare (struct moat_nft *nft, const struct moat_nft_member *members, size_t n,
                  char *const *idents, const struct moat_nft_elems *expected,
                  const struct moat_nft_elems *unsure, moat_nft_diff_fn report, void *data,
                  moat_err_t *err)
{
  _cleanup_ (lines_free) struct lines want = { 0 };
  _cleanup_ (lines_free) struct lines have = { 0 };
  _cleanup_ (lines_free) struct lines skip = { 0 };
  unsigned missing = 0;
  int ndiff = 0;
  size_t i = 0, j = 0;

  bool any6 = elems_name_half6 (expected);

  for (size_t k = 0; k < n; k++)
    any6 = any6 || members[k].have_addr6;
  /* A dual-stack network's host-network container alone needs it too. */
  any6 = any6 || (expected && nft_elems_have6 (expected->l.v, expected->l.n));
  if (layout_differs (nft, report, data, &ndiff, err) < 0)
    return -1;
  if (kernel_lines (nft->nl, idents, any6, &have, report, data, &ndiff, &missing, err) < 0
      || expected_lines (members, n, expected, missing, &want, err) < 0
      || expected_lines (NULL, 0, unsure, 0, &skip, err) < 0)
    return -1;
  while (i < want.n || j < have.n)
    {
      int c = i == want.n ? 1 : j == have.n ? -1 : strcmp (want.v[i], have.v[j]);

      if (c != 0 && lines_has (&skip, c < 0 ? want.v[i] : have.v[j]))
        ;
      else if (c != 0)
        {
          report (data, c < 0, c < 0 ? want.v[i] : have.v[j]);
          ndiff++;
        }
      if (c <= 0)
        i++;
      if (c >= 0)
        j++;
    }
  return ndiff;
}
