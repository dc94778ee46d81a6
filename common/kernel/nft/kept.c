/* SPDX-License-Identifier: Apache-2.0 */
/* What a network's last DEL leaves for the next container (docs/design.md,
 * "What the last container leaves"): the bridges in `bridges`, read back
 * for `moatctl teardown`. */
#include "kernel/nft/internal.h"
#include "base/strv.h"

/* The elements of one set; a missing table or set has none. */
static int
set_elems (struct moat_nft *nft, enum moat_set set, struct moat_elem_list *ret, moat_err_t *err)
{
  struct collect c = { .set = &moat_set_defs[set], .out = ret };

  *ret = (struct moat_elem_list){ 0 };
  if (nft_collect_set (nft->nl, &c, nft_first_seq (), err) < 0)
    {
      free (ret->v);
      return -1;
    }
  return 0;
}

int
moat_nft_attached (struct moat_nft *nft, moat_err_t *err)
{
  struct moat_elem_list found;
  size_t n;

  if (set_elems (nft, MOAT_SET_GUARDED, &found, err) < 0)
    return -1;
  n = found.n;
  free (found.v);
  return n > 0;
}

int
moat_nft_bridges (struct moat_nft *nft, char ***ret, moat_err_t *err)
{
  struct moat_elem_list found;
  char **names;

  if (set_elems (nft, MOAT_SET_BRIDGES, &found, err) < 0)
    return -1;
  names = calloc (found.n + 1, sizeof (*names));
  for (size_t i = 0; names && i < found.n; i++)
    {
      names[i] = strndup ((const char *)found.v[i].key, found.v[i].key_len);
      if (!names[i])
        {
          moat_strv_free (names);
          names = NULL;
        }
    }
  free (found.v);
  if (!names)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft set bridges");
  *ret = names;
  return 0;
}
