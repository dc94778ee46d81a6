/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a set's elements back from the kernel (a dump), keeping those
 * that name a container's address. */
#include "kernel/nft/internal.h"

/* A container address field is always one address, never a range: an
 * element names `addr` when such a field equals it (start and end). */
/* The container's address as a set of `c` holds it: 4 or 16 bytes. */
static const uint8_t *
addr_bytes (const struct collect *c, uint32_t *ret_len)
{
  *ret_len = c->set->v6 ? 16 : 4;
  return c->set->v6 ? c->addr6.s6_addr : (const uint8_t *)&c->addr.s_addr;
}

static int
addr_cmp (const void *a, const void *b)
{
  uint32_t x = ((const struct in_addr *)a)->s_addr, y = ((const struct in_addr *)b)->s_addr;

  return x < y ? -1 : x > y;
}

/* Whether the `alen` bytes at `p` are c's address (or one of c's addresses). */
static bool
is_addr (const struct collect *c, const uint8_t *p, const uint8_t *a, uint32_t alen)
{
  struct in_addr k;

  if (!c->addrs || c->set->v6)
    return memcmp (p, a, alen) == 0;
  memcpy (&k.s_addr, p, sizeof (k.s_addr));
  return bsearch (&k, c->addrs, c->naddrs, sizeof (k), addr_cmp) != NULL;
}

static bool
names_addr (const struct collect *c, const uint8_t *key, uint32_t key_len, const uint8_t *end,
            uint32_t end_len)
{
  uint32_t off = 0, alen;
  const uint8_t *a = addr_bytes (c, &alen);

  for (unsigned i = 0; i < c->set->nfields; i++)
    {
      uint32_t len = moat_field_infos[c->set->fields[i]].len;

      if ((c->positions & (1u << i)) && off + alen <= key_len && is_addr (c, key + off, a, alen)
          && (!end || (off + alen <= end_len && memcmp (end + off, key + off, alen) == 0)))
        return true;
      off += moat_field_padded (len);
    }
  return false;
}

/* A map whose value starts with a container address (publish). */
static bool
value_names_addr (const struct collect *c, struct nftnl_set_elem *e)
{
  uint32_t len = 0, alen;
  const uint8_t *data, *a = addr_bytes (c, &alen);

  if (!(c->positions & POSITION_DATA) || !nftnl_set_elem_is_set (e, NFTNL_SET_ELEM_DATA))
    return false;
  data = nftnl_set_elem_get (e, NFTNL_SET_ELEM_DATA, &len);
  return data && len >= alen && is_addr (c, data, a, alen);
}

static int
collect_elem (struct nftnl_set_elem *e, void *data)
{
  struct collect *c = data;
  const uint8_t *key, *end = NULL;
  uint32_t key_len = 0, end_len = 0;
  struct moat_elem *out;

  key = nftnl_set_elem_get (e, NFTNL_SET_ELEM_KEY, &key_len);
  if (nftnl_set_elem_is_set (e, NFTNL_SET_ELEM_KEY_END))
    end = nftnl_set_elem_get (e, NFTNL_SET_ELEM_KEY_END, &end_len);
  if (!key || key_len > MOAT_ELEM_KEY_MAX || end_len > MOAT_ELEM_KEY_MAX
      || (c->positions && !names_addr (c, key, key_len, end, end_len) && !value_names_addr (c, e)))
    return 0;
  out = moat_elem_list_push (c->out);
  if (!out)
    {
      c->failed = true;
      return -1;
    }
  out->set = c->set;
  if (c->name)
    snprintf (out->name, sizeof (out->name), "%s", c->name);
  memcpy (out->key, key, key_len);
  out->key_len = key_len;
  if (end)
    {
      memcpy (out->key_end, end, end_len);
      out->key_end_len = end_len;
    }
  if (nftnl_set_elem_is_set (e, NFTNL_SET_ELEM_CHAIN))
    snprintf (out->jump, sizeof (out->jump), "%s",
              nftnl_set_elem_get_str (e, NFTNL_SET_ELEM_CHAIN));
  if (nftnl_set_elem_is_set (e, NFTNL_SET_ELEM_DATA))
    {
      uint32_t len = 0;
      const void *data = nftnl_set_elem_get (e, NFTNL_SET_ELEM_DATA, &len);

      if (data && len <= sizeof (out->data))
        {
          memcpy (out->data, data, len);
          out->data_len = len;
        }
    }
  return 0;
}

static int
on_dumped_elems (const struct nlmsghdr *nlh, void *data)
{
  struct collect *c = data;
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();

  if (!s || nftnl_set_elems_nlmsg_parse (nlh, s) < 0)
    {
      c->failed = true;
      return MNL_CB_ERROR;
    }
  if (nftnl_set_elem_foreach (s, collect_elem, c) < 0)
    return MNL_CB_ERROR;
  return MNL_CB_OK;
}

/* Dumps one set's elements, keeping those naming the address. A missing
 * table or set has nothing to forget. */
int
nft_collect_set (struct mnl_socket *nl, struct collect *c, uint32_t seq, moat_err_t *err)
{
  _cleanup_ (nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc ();
  _cleanup_free_ char *buf = calloc (1, RECV_BUF_SIZE);
  enum moat_nfnl_failure failed = 0;
  struct nlmsghdr *nlh;
  bool gone;
  int r;

  if (!s || !buf || nftnl_set_set_str (s, NFTNL_SET_TABLE, MOAT_NFT_TABLE) < 0
      || nftnl_set_set_str (s, NFTNL_SET_NAME, c->name ? c->name : c->set->name) < 0)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: cannot dump set \"%s\"", c->set->name);
  nlh = nftnl_nlmsg_build_hdr (buf, NFT_MSG_GETSETELEM, c->set->family, NLM_F_DUMP, seq);
  nftnl_set_elems_nlmsg_build_payload (nlh, s);
  r = moat_nfnl_talk (nl, nlh, buf, RECV_BUF_SIZE, on_dumped_elems, c, NULL, &failed);
  if (r < 0 && failed == MOAT_NFNL_SEND)
    return moat_error (err, MOAT_E_NFT, errno, "nft: cannot dump set \"%s\"", c->set->name);
  gone = r < 0 && failed == MOAT_NFNL_REPLY && errno == ENOENT && !c->failed;
  if (gone)
    c->missing = true;
  if (r == 0 || gone)
    return 0;
  return moat_error (err, MOAT_E_NFT, c->failed ? ENOMEM : errno,
                     "nft: set \"%s\" in table %s %s: cannot list elements", c->set->name,
                     moat_family_name (c->set->family), MOAT_NFT_TABLE);
}

/* Where a container's address appears in the policy sets. */
static const struct
{
  enum moat_set set;
  unsigned positions; /* bit i: field i */
} policy_sets[] = {
  /* The grants and published ports first: a policy's sweep leaves them
   * (GRANT_SETS). */
  { MOAT_SET_PUBLISH, POSITION_DATA }, /* host . proto . port : container . port */
  { MOAT_SET_PUBLISHED, 0x1 },         /* container . proto . port */
  { MOAT_SET_GRANT_PEER, 0x3 },        /* either side */
  { MOAT_SET_GRANT_HOST, 0x1 },        /* container . proto . port */
  { MOAT_SET_GRANT_EGRESS, 0x1 },      /* container . outside . proto . port */
  { MOAT_SET_GRANT_INGRESS, 0x2 },     /* outside . container . proto . port */
  { MOAT_SET_HOST_GRANTS, 0x1 },       /* container . proto . port */
  { MOAT_SET_EGRESS, 0x1 },            /* container . outside . proto . port */
  { MOAT_SET_EGRESS_DENY, 0x1 },       /* container . outside . proto . port */
  { MOAT_SET_INGRESS, 0x2 },           /* outside . container . proto . port */
  { MOAT_SET_INGRESS_DENY, 0x2 },      /* outside . container . proto . port */
  { MOAT_SET_PROXY, 0x1 },             /* container . port : proxy . port */
  { MOAT_SET_PROXIED, 0x1 },           /* container . proxy . tcp . port */
  { MOAT_SET_SRC_IDENT, 0x1 },
  { MOAT_SET_INTERNET, 0x1 },
  /* The host-network containers it may open connections to: a sweep
   * takes them even when its identity file is gone (and hostnet_peers6). */
  { MOAT_SET_HOSTNET_PEERS, 0x1 }, /* container . cgroup */
};

#define PUBLISH_SETS 2
#define GRANT_SETS 6

/* The policy's sets; with `grants` (a DEL), moatctl's grants too, and with
 * `publish` the published ports. With `addr6`, their IPv6 twins for it
 * (a twin missing with the IPv6 half: nothing there). */
static int
collect_policy (struct mnl_socket *nl, const struct collect *tmpl, const struct in6_addr *addr6,
                bool keep_internet, bool grants, bool publish, struct moat_elem_list *found,
                uint32_t *seq, moat_err_t *err)
{
  for (int twin = 0; twin <= (addr6 != NULL); twin++)
    for (size_t i = grants ? (publish ? 0 : PUBLISH_SETS) : GRANT_SETS;
         i < ARRAY_SIZE (policy_sets); i++)
      {
        enum moat_set set = twin ? moat_set_twin6 (policy_sets[i].set) : policy_sets[i].set;
        struct collect c;

        if (set == MOAT_SET_NO_TWIN)
          continue;
        c = *tmpl;
        c.set = &moat_set_defs[set];
        c.positions = policy_sets[i].positions;
        c.out = found;

        if (twin)
          c.addr6 = *addr6;
        if (keep_internet && policy_sets[i].set == MOAT_SET_INTERNET)
          continue;
        if (nft_collect_set (nl, &c, (*seq)++, err) < 0)
          return -1;
      }
  return 0;
}

int
nft_collect_policy (struct mnl_socket *nl, struct in_addr addr, const struct in6_addr *addr6,
                    bool keep_internet, bool grants, bool publish, struct moat_elem_list *found,
                    uint32_t *seq, moat_err_t *err)
{
  struct collect tmpl = { .addr = addr };

  return collect_policy (nl, &tmpl, addr6, keep_internet, grants, publish, found, seq, err);
}

int
nft_collect_policy_many (struct mnl_socket *nl, const struct in_addr *addrs, size_t n,
                         struct moat_elem_list *found, uint32_t *seq, moat_err_t *err)
{
  struct collect tmpl = { .addrs = addrs, .naddrs = n };

  if (n == 0)
    return 0;
  tmpl.addr = addrs[0];
  return collect_policy (nl, &tmpl, NULL, false, true, false, found, seq, err);
}
