/* SPDX-License-Identifier: Apache-2.0 */
/* The layout a table was made in (docs/design.md, "Upgrades"): read back
 * from the inet table's comment, "moat layout N". */
#include "kernel/nft/internal.h"

struct layout_read
{
  unsigned layout; /* 0: no layout in the comment (made before layouts) */
  bool failed;
};

static int
on_comment (const struct nftnl_udata *attr, void *data)
{
  struct layout_read *l = data;
  const char *text = nftnl_udata_get (attr);
  uint8_t len = nftnl_udata_len (attr);
  unsigned n;
  char end;

  if (nftnl_udata_type (attr) != NFTNL_UDATA_TABLE_COMMENT || len == 0 || text[len - 1] != '\0')
    return 0;
  if (sscanf (text, "moat layout %u%c", &n, &end) == 1)
    l->layout = n;
  return 0;
}

static int
on_table (const struct nlmsghdr *nlh, void *data)
{
  _cleanup_ (nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc ();
  struct layout_read *l = data;
  const void *udata;
  uint32_t len = 0;

  if (!t || nftnl_table_nlmsg_parse (nlh, t) < 0)
    {
      l->failed = true;
      return MNL_CB_ERROR;
    }
  udata = nftnl_table_get_data (t, NFTNL_TABLE_USERDATA, &len);
  if (udata && len && nftnl_udata_parse (udata, len, on_comment, l) < 0)
    l->failed = true;
  return l->failed ? MNL_CB_ERROR : MNL_CB_OK;
}

int
moat_nft_layout (struct moat_nft *nft, unsigned *ret, moat_err_t *err)
{
  _cleanup_ (nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc ();
  char buf[8192] = { 0 };
  struct layout_read l = { 0 };
  enum moat_nfnl_failure failed = 0;
  struct nlmsghdr *nlh;

  if (!t || nftnl_table_set_str (t, NFTNL_TABLE_NAME, MOAT_NFT_TABLE) < 0)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: table inet %s", MOAT_NFT_TABLE);
  nlh = nftnl_nlmsg_build_hdr (buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, nft_first_seq ());
  nftnl_table_nlmsg_build_payload (nlh, t);
  if (moat_nfnl_talk (nft->nl, nlh, buf, sizeof (buf), on_table, &l, NULL, &failed) == 0)
    {
      *ret = l.layout;
      return 1;
    }
  if (failed == MOAT_NFNL_REPLY && errno == ENOENT && !l.failed)
    return 0;
  return moat_error (err, MOAT_E_NFT, l.failed ? EBADMSG : errno,
                     "nft: table inet %s: cannot read its layout", MOAT_NFT_TABLE);
}
