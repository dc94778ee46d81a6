/* SPDX-License-Identifier: Apache-2.0 */
/* Elements in runs: consecutive elements of one set in one message,
 * sorted so that a set's elements are together. */
#include "kernel/nft/internal.h"

bool
nft_elems_have6 (const struct moat_elem *elems, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (elems[i].set->v6)
      return true;
  return false;
}

static bool
same_set (const struct moat_elem *a, const struct moat_elem *b)
{
  return a->set == b->set && strcmp (a->name, b->name) == 0;
}

/* Consecutive elements of one set, up to per_msg a message. */
int
nft_put_elem_runs (struct builder *b, const struct moat_elem *elems, size_t n, uint16_t msg_type,
                   uint16_t flags, size_t per_msg)
{
  for (size_t i = 0; i < n;)
    {
      size_t j = i + 1;

      while (j < n && same_set (&elems[j], &elems[i]) && j - i < per_msg)
        j++;
      if (nft_put_elems (b, &elems[i], j - i, msg_type, flags) < 0)
        return -1;
      i = j;
    }
  return 0;
}

static int
elem_cmp_set (const void *a, const void *b)
{
  const struct moat_elem *x = a, *y = b;
  enum moat_set sx = moat_elem_set (x), sy = moat_elem_set (y);

  if (sx != sy)
    return (sx > sy) - (sx < sy);
  return strcmp (x->name, y->name);
}

/* Sorting by set lets one message carry many elements; qsort is not
 * stable, but order within a set does not matter. The sets go in their
 * moat_set order, the identities' sets last, by name: the order the
 * comparison of set_def addresses gave when ident_set_def followed
 * set_defs in one file. */
void
nft_sort_by_set (struct moat_elem_list *l)
{
  if (l->n > 1)
    qsort (l->v, l->n, sizeof (*l->v), elem_cmp_set);
}
