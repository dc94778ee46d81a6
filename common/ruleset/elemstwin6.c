/* SPDX-License-Identifier: Apache-2.0 */
/* The IPv6 twins of a container's policy and grant elements (elems.h,
 * docs/design.md "IPv6"), and the IPv6 ranges the user gave. */
#include "ruleset/elems.h"

#include <linux/netfilter.h>
#include <string.h>

/* --- IPv6 twins of policy elements ------------------------------------------ */

static bool
is_full_range4 (const uint8_t *start, const uint8_t *end)
{
  static const uint8_t zero[4] = { 0 }, ones[4] = { 0xff, 0xff, 0xff, 0xff };

  return end && memcmp (start, zero, 4) == 0 && memcmp (end, ones, 4) == 0;
}

/* One IPv4 field (start, and end for an interval) as its IPv6 twin: a
 * container's address as its IPv6 address, every address (0.0.0.0/0) as
 * every address (::/0). false when it has none. */
static bool
field_twin6 (const uint8_t *start, const uint8_t *end, uint8_t *ret_start, uint8_t *ret_end,
             moat_addr6_fn addr6_of, void *data)
{
  struct in_addr a;
  struct in6_addr a6;

  if (is_full_range4 (start, end))
    {
      memset (ret_start, 0, 16);
      memset (ret_end, 0xff, 16);
      return true;
    }
  if (end && memcmp (start, end, 4) != 0)
    return false; /* an outside range */
  memcpy (&a.s_addr, start, 4);
  if (addr6_of (a, &a6, data) != 1)
    return false;
  memcpy (ret_start, a6.s6_addr, 16);
  memcpy (ret_end, a6.s6_addr, 16);
  return true;
}

/* The key (and its end) of `e` rewritten field by field into `t`, a
 * fresh element of the twin set. */
static bool
key_twin6 (const struct moat_elem *e, struct moat_elem *t, moat_addr6_fn addr6_of, void *data)
{
  const struct moat_set_def *s = e->set, *s6 = t->set;
  uint32_t off = 0, off6 = 0;

  for (unsigned i = 0; i < s->nfields; i++)
    {
      uint32_t len = moat_field_infos[s->fields[i]].len;
      uint32_t len6 = moat_field_infos[s6->fields[i]].len;
      const uint8_t *end = e->key_end_len ? e->key_end + off : NULL;

      if (off + len > e->key_len)
        return false;
      if (s->fields[i] == MOAT_FIELD_IPV4)
        {
          if (!field_twin6 (e->key + off, end, t->key + off6, t->key_end + off6, addr6_of, data))
            return false;
        }
      else
        {
          memcpy (t->key + off6, e->key + off, len);
          memcpy (t->key_end + off6, end ? end : e->key + off, len);
          if (s->fields[i] == MOAT_FIELD_PROTO)
            {
              t->key[off6] = moat_proto6 (t->key[off6]);
              t->key_end[off6] = moat_proto6 (t->key_end[off6]);
            }
        }
      off += moat_field_padded (len);
      off6 += moat_field_padded (len6);
    }
  t->key_len = off6;
  t->key_end_len = e->key_end_len ? off6 : 0;
  return true;
}

/* A map's value, address . port: the container's IPv6 address . port. */
static bool
data_twin6 (const struct moat_elem *e, struct moat_elem *t, moat_addr6_fn addr6_of, void *data)
{
  uint8_t end[16];

  if (e->data_len == 0)
    return true;
  if (e->data_len != 8 || !field_twin6 (e->data, NULL, t->data, end, addr6_of, data))
    return false;
  memcpy (t->data + 16, e->data + 4, 4);
  t->data_len = 20;
  return true;
}

/* The publish map's "every host address" in IPv6 starts at ::2: the
 * kernel cannot DNAT a connection to ::1 to a container (IPv6 has no
 * route_localnet; docs/design.md, "Published ports"), so the host's own
 * [::1]:PORT keeps answering, or refuses at once, instead of a DNAT that
 * hangs. :: is never a local destination. */
static void
publish6_past_loopback (struct moat_elem *t)
{
  static const uint8_t zero[16] = { 0 };

  if (t->key_end_len && memcmp (t->key, zero, 16) == 0)
    t->key[15] = 2;
}

/* id_<ident> -> id_<ident>6: an identity's name has at most
 * MOAT_NFT_IDENT_MAX characters, so the "6" fits (MOAT_IDENT_OBJECT_MAX). */
static void
name_twin6 (char dst[MOAT_IDENT_OBJECT_MAX], const char *src)
{
  size_t len = strnlen (src, MOAT_IDENT_OBJECT_MAX - 2);

  memcpy (dst, src, len);
  dst[len] = '6';
  dst[len + 1] = '\0';
}

/* The ports published on IPv6 host addresses and the IPv6 proxies
 * waiting in `in`. */
static int
publish_waits (struct moat_nft_elems *out, const struct moat_nft_elems *in, moat_addr6_fn addr6_of,
               void *data)
{
  size_t n = in->n_pub6; /* out may be in */

  for (size_t i = 0; i < n; i++)
    {
      const struct moat_publish6_wait *w = &in->pub6[i];
      struct in6_addr a6;

      if (addr6_of (w->container, &a6, data) == 1
          && moat_nft_elems_publish6 (out, &w->host, w->proto, w->host_port, &a6, w->port) < 0)
        return -1;
    }
  n = in->n_proxy6;
  for (size_t i = 0; i < n; i++)
    {
      const struct moat_proxy6_wait *w = &in->proxy6[i];
      struct in6_addr a6;

      if (addr6_of (w->container, &a6, data) == 1
          && moat_nft_elems_proxy6 (out, &a6, w->port, &w->proxy, w->proxy_port) < 0)
        return -1;
    }
  return 0;
}

/* The IPv6 ranges waiting in `in` (elems.h), for dual-stack containers. */
static int
ranges6 (struct moat_nft_elems *out, const struct moat_nft_elems *in, moat_addr6_fn addr6_of,
         void *data)
{
  size_t n = in->n_wait6; /* out may be in */

  for (size_t i = 0; i < n; i++)
    {
      const struct moat_acl6_wait *w = &in->wait6[i];
      struct in6_addr a6;

      if (addr6_of (w->container, &a6, data) == 1
          && moat_nft_elems_acl6 (out, w->set, &a6, &w->acl, w->timeout_ms) < 0)
        return -1;
    }
  return publish_waits (out, in, addr6_of, data);
}

int
moat_nft_elems_waits6 (struct moat_nft_elems *l, moat_addr6_fn addr6_of, void *data)
{
  if (ranges6 (l, l, addr6_of, data) < 0)
    return -1;
  l->n_wait6 = l->n_pub6 = l->n_proxy6 = 0;
  return 0;
}

int
moat_nft_elems_twin6_range (struct moat_nft_elems *out, const struct moat_nft_elems *in,
                            size_t from, size_t to, moat_addr6_fn addr6_of, void *data)
{
  for (size_t i = from; i < to && i < in->l.n; i++)
    {
      const struct moat_elem *e = &in->l.v[i];
      enum moat_set twin = moat_set_twin6 (moat_elem_set (e));
      struct moat_elem t, *pushed;

      if (twin == MOAT_SET_NO_TWIN || e->set->v6 || e->set->family != NFPROTO_INET || e->no_twin)
        continue;
      memset (&t, 0, sizeof (t));
      t.set = moat_set_def_of (twin);
      t.timeout_ms = e->timeout_ms;
      if (!key_twin6 (e, &t, addr6_of, data) || !data_twin6 (e, &t, addr6_of, data))
        continue;
      if (twin == MOAT_SET_PUBLISH6)
        publish6_past_loopback (&t);
      if (e->name[0])
        name_twin6 (t.name, e->name);
      if (e->jump[0])
        name_twin6 (t.jump, e->jump);
      pushed = moat_elem_list_push (&out->l);
      if (!pushed)
        return -1;
      *pushed = t;
    }
  return 0;
}

int
moat_nft_elems_twin6 (struct moat_nft_elems *out, const struct moat_nft_elems *in,
                      moat_addr6_fn addr6_of, void *data)
{
  if (moat_nft_elems_twin6_range (out, in, 0, in->l.n, addr6_of, data) < 0
      || ranges6 (out, in, addr6_of, data) < 0)
    return -1;
  if (out == in)
    out->n_wait6 = out->n_pub6 = out->n_proxy6 = 0; /* made: a second pass adds none again */
  return 0;
}

void
moat_nft_elems_drop4 (struct moat_nft_elems *l, size_t from, size_t to)
{
  size_t n = from;

  for (size_t i = from; i < l->l.n; i++)
    {
      const struct moat_elem *e = &l->l.v[i];

      if (i < to && !e->set->v6 && e->set->family == NFPROTO_INET
          && moat_set_twin6 (moat_elem_set (e)) != MOAT_SET_NO_TWIN)
        continue;
      l->l.v[n++] = *e;
    }
  l->l.n = n;
}
