/* SPDX-License-Identifier: Apache-2.0 */
/* Naming what the kernel refused: the message of a batch with a given
 * sequence number, as "set \"members\" in table inet moat: element ...". */
#include "kernel/nft/internal.h"

/* The message with sequence number `seq` in the batch, or NULL. */
const struct nlmsghdr *
nft_batch_find (struct nftnl_batch *batch, uint32_t seq)
{
  int n = nftnl_batch_iovec_len (batch);
  struct iovec iov[n > 0 ? n : 1];

  nftnl_batch_iovec (batch, iov, (uint32_t)n);
  for (int i = 0; i < n; i++)
    {
      const struct nlmsghdr *nlh = iov[i].iov_base;
      int len = (int)iov[i].iov_len;

      for (; mnl_nlmsg_ok (nlh, len); nlh = mnl_nlmsg_next (nlh, &len))
        if (nlh->nlmsg_seq == seq)
          return nlh;
    }
  return NULL;
}

uint32_t
nft_msg_family (const struct nlmsghdr *nlh)
{
  const struct nfgenmsg *g = mnl_nlmsg_get_payload (nlh);

  return g->nfgen_family;
}

static void
describe_table (const struct nlmsghdr *nlh, char *buf, size_t size)
{
  _cleanup_ (nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc ();

  if (!t || nftnl_table_nlmsg_parse (nlh, t) < 0)
    snprintf (buf, size, "table %s %s", moat_family_name (nft_msg_family (nlh)), MOAT_NFT_TABLE);
  else
    snprintf (buf, size, "table %s %s", moat_family_name (nft_msg_family (nlh)),
              nftnl_table_get_str (t, NFTNL_TABLE_NAME));
}

static void
describe_set (const struct nlmsghdr *nlh, char *buf, size_t size)
{
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();

  if (!s || nftnl_set_nlmsg_parse (nlh, s) < 0)
    snprintf (buf, size, "set in table %s %s", moat_family_name (nft_msg_family (nlh)),
              MOAT_NFT_TABLE);
  else
    snprintf (buf, size, "set \"%s\" in table %s %s", nftnl_set_get_str (s, NFTNL_SET_NAME),
              moat_family_name (nft_msg_family (nlh)), nftnl_set_get_str (s, NFTNL_SET_TABLE));
}

static void
describe_chain (const struct nlmsghdr *nlh, char *buf, size_t size)
{
  _cleanup_ (nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc ();

  if (!c || nftnl_chain_nlmsg_parse (nlh, c) < 0)
    snprintf (buf, size, "chain in table %s %s", moat_family_name (nft_msg_family (nlh)),
              MOAT_NFT_TABLE);
  else
    snprintf (buf, size, "chain \"%s\" in table %s %s", nftnl_chain_get_str (c, NFTNL_CHAIN_NAME),
              moat_family_name (nft_msg_family (nlh)), nftnl_chain_get_str (c, NFTNL_CHAIN_TABLE));
}

/* A rule is named by its text in the rule list (moat_rule_at): the k-th
 * NEWRULE for a chain in the batch is the k-th rule of that chain, of both
 * halves when the batch makes the table, else of the IPv6 half. */
static void
describe_rule (struct nftnl_batch *batch, const struct nlmsghdr *nlh, char *buf, size_t size)
{
  _cleanup_ (nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc ();
  uint32_t family = nft_msg_family (nlh);
  const char *chain, *text = NULL;
  bool with_table = false;
  size_t index = 0;

  if (!r || nftnl_rule_nlmsg_parse (nlh, r) < 0)
    {
      snprintf (buf, size, "rule in table %s %s", moat_family_name (family), MOAT_NFT_TABLE);
      return;
    }
  chain = nftnl_rule_get_str (r, NFTNL_RULE_CHAIN);
  for (uint32_t seq = nlh->nlmsg_seq - 1; seq != 0; seq--)
    {
      const struct nlmsghdr *prev = nft_batch_find (batch, seq);
      _cleanup_ (nftnl_rule_freep) struct nftnl_rule *p = NULL;

      if (!prev)
        break;
      if (NFNL_MSG_TYPE (prev->nlmsg_type) == NFT_MSG_NEWTABLE && nft_msg_family (prev) == family)
        with_table = true;
      if (NFNL_MSG_TYPE (prev->nlmsg_type) != NFT_MSG_NEWRULE || nft_msg_family (prev) != family)
        continue;
      p = nftnl_rule_alloc ();
      if (p && nftnl_rule_nlmsg_parse (prev, p) == 0
          && strcmp (nftnl_rule_get_str (p, NFTNL_RULE_CHAIN), chain) == 0)
        index++;
    }
  for (size_t i = 0; i < moat_rules_count () && !text; i++)
    {
      const struct moat_rule_def *def = moat_rule_at (i);

      if (def->family == family && (with_table || def->v6) && strcmp (def->chain, chain) == 0
          && index-- == 0)
        text = def->text;
    }
  snprintf (buf, size, "rule \"%s\" in chain %s %s %s", text ? text : "?",
            moat_family_name (family), MOAT_NFT_TABLE, chain);
}

struct first_elem
{
  char text[256];
  const struct moat_set_def *def;
  size_t count;
};

static int
describe_one_elem (struct nftnl_set_elem *e, void *data)
{
  struct first_elem *f = data;
  const uint8_t *key, *end = NULL;
  uint32_t key_len = 0, end_len = 0;

  if (f->count++ > 0 || !f->def)
    return 0;
  key = nftnl_set_elem_get (e, NFTNL_SET_ELEM_KEY, &key_len);
  if (nftnl_set_elem_is_set (e, NFTNL_SET_ELEM_KEY_END))
    end = nftnl_set_elem_get (e, NFTNL_SET_ELEM_KEY_END, &end_len);
  if (key)
    moat_key_format (f->def, key, key_len, end, end_len, f->text, sizeof (f->text));
  return 0;
}

static void
describe_elems (const struct nlmsghdr *nlh, char *buf, size_t size)
{
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();
  struct first_elem f = { .text = "" };
  uint32_t family = nft_msg_family (nlh);
  const char *name;

  if (!s || nftnl_set_elems_nlmsg_parse (nlh, s) < 0)
    {
      snprintf (buf, size, "set in table %s %s", moat_family_name (family), MOAT_NFT_TABLE);
      return;
    }
  name = nftnl_set_get_str (s, NFTNL_SET_NAME);
  f.def = moat_set_def_find (family, name);
  nftnl_set_elem_foreach (s, describe_one_elem, &f);
  if (f.count > 1)
    snprintf (buf, size, "set \"%s\" in table %s %s: %zu elements from %s", name,
              moat_family_name (family), nftnl_set_get_str (s, NFTNL_SET_TABLE), f.count, f.text);
  else
    snprintf (buf, size, "set \"%s\" in table %s %s: element %s", name, moat_family_name (family),
              nftnl_set_get_str (s, NFTNL_SET_TABLE), f.text);
}

static void
describe_msg (struct nftnl_batch *batch, uint32_t seq, char *buf, size_t size)
{
  const struct nlmsghdr *nlh = nft_batch_find (batch, seq);

  if (!nlh)
    {
      snprintf (buf, size, "batch");
      return;
    }
  if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN)
    {
      snprintf (buf, size, "batch");
      return;
    }
  switch (NFNL_MSG_TYPE (nlh->nlmsg_type))
    {
    case NFT_MSG_NEWTABLE:
    case NFT_MSG_DELTABLE:
    case MOAT_NFT_MSG_DESTROYTABLE:
      describe_table (nlh, buf, size);
      break;
    case NFT_MSG_NEWSET:
      describe_set (nlh, buf, size);
      break;
    case NFT_MSG_NEWCHAIN:
      describe_chain (nlh, buf, size);
      break;
    case NFT_MSG_NEWRULE:
      describe_rule (batch, nlh, buf, size);
      break;
    case NFT_MSG_NEWSETELEM:
    case NFT_MSG_GETSETELEM:
    case NFT_MSG_DELSETELEM:
    case MOAT_NFT_MSG_DESTROYSETELEM:
      describe_elems (nlh, buf, size);
      break;
    default:
      snprintf (buf, size, "message %u", (unsigned)seq);
    }
}

/* Turns the kernel's error for message `seq` into *err, naming the object. */
int
nft_reply_error_at (struct nftnl_batch *batch, const struct reply *reply, uint32_t seq,
                    moat_err_t *err)
{
  int errnum = seq == reply->seq ? reply->errnum : nft_reply_errnum_at (reply, seq);
  char what[512];

  describe_msg (batch, seq, what, sizeof (what));
  if (seq == reply->seq && reply->extack[0])
    return moat_error (err, MOAT_E_NFT, errnum, "nft: %s: %s", what, reply->extack);
  return moat_error (err, MOAT_E_NFT, errnum, "nft: %s", what);
}

int
nft_reply_error (struct nftnl_batch *batch, const struct reply *reply, moat_err_t *err)
{
  return nft_reply_error_at (batch, reply, reply->seq, err);
}

bool
nft_failed_at (struct nftnl_batch *batch, const struct reply *reply, uint16_t type, uint32_t family)
{
  const struct nlmsghdr *nlh = nft_batch_find (batch, reply->seq);

  return nlh && nlh->nlmsg_type != NFNL_MSG_BATCH_BEGIN && NFNL_MSG_TYPE (nlh->nlmsg_type) == type
         && nft_msg_family (nlh) == family;
}

/* Whether the kernel refused the batch for a DESTROY message it does not
 * know (EINVAL from nfnetlink before Linux 6.3). */
bool
nft_destroy_unknown (struct nftnl_batch *batch, const struct reply *reply)
{
  const struct nlmsghdr *nlh;
  uint16_t type;

  if (reply->errnum != EINVAL && reply->errnum != EOPNOTSUPP)
    return false;
  nlh = nft_batch_find (batch, reply->seq);
  type = nlh ? nlh->nlmsg_type & 0xff : 0;
  return type >= MOAT_NFT_MSG_DESTROYTABLE && type <= MOAT_NFT_MSG_DESTROYSETELEM;
}
