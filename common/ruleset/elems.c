/* SPDX-License-Identifier: Apache-2.0 */
/* Element keys (elems.h): a member's elements, the policy and grant
 * builders, and how nft would write an element. */
#include "ruleset/elems.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/ifname.h"

/* --- keys ------------------------------------------------------------------ */

/* Key bytes are written field by field; each field starts on a 4-byte
 * register boundary and its padding stays zero. */
struct key_writer
{
  struct moat_elem *e;
  unsigned field;
};

static void
key_start (struct key_writer *w, struct moat_elem *e, const struct moat_set_def *set)
{
  memset (e, 0, sizeof (*e));
  e->set = set;
  w->e = e;
  w->field = 0;
}

static void
key_put (struct key_writer *w, const void *data, size_t len)
{
  uint32_t field_len = moat_field_infos[w->e->set->fields[w->field]].len;

  memcpy (w->e->key + w->e->key_len, data, len < field_len ? len : field_len);
  w->e->key_len += moat_field_padded (field_len);
  w->field++;
}

static void
key_put_ifname (struct key_writer *w, const char *name)
{
  key_put (w, name, strnlen (name, IFNAMSIZ));
}

static void
key_put_addr (struct key_writer *w, struct in_addr addr)
{
  key_put (w, &addr.s_addr, sizeof (addr.s_addr));
}

static void
key_put_addr6 (struct key_writer *w, const struct in6_addr *addr)
{
  key_put (w, addr->s6_addr, sizeof (addr->s6_addr));
}

void
moat_link_local6 (const unsigned char mac[MOAT_MAC_LEN], struct in6_addr *ret)
{
  memset (ret, 0, sizeof (*ret));
  ret->s6_addr[0] = 0xfe;
  ret->s6_addr[1] = 0x80;
  ret->s6_addr[8] = mac[0] ^ 0x02;
  ret->s6_addr[9] = mac[1];
  ret->s6_addr[10] = mac[2];
  ret->s6_addr[11] = 0xff;
  ret->s6_addr[12] = 0xfe;
  ret->s6_addr[13] = mac[3];
  ret->s6_addr[14] = mac[4];
  ret->s6_addr[15] = mac[5];
}

/* A cgroup id: host order, or big-endian in an interval set (encode.c
 * turns the packet's around there, as nft does). */
static void
key_put_cgroup (struct key_writer *w, uint64_t id)
{
  uint8_t be[8];

  if (!(w->e->set->flags & NFT_SET_INTERVAL))
    {
      key_put (w, &id, sizeof (id));
      return;
    }
  for (int i = 7; i >= 0; i--, id >>= 8)
    be[i] = (uint8_t)id;
  key_put (w, be, sizeof (be));
}

int
moat_elem_check_ifname (const char *what, const char *name, moat_err_t *err)
{
  switch (moat_ifname_fault (name))
    {
    case MOAT_IFNAME_EMPTY:
      return moat_error (err, MOAT_E_NFT, EINVAL, "nft: %s: interface name missing", what);
    case MOAT_IFNAME_TOO_LONG:
      return moat_error (err, MOAT_E_NFT, EINVAL, "nft: %s \"%s\": interface name too long", what,
                         name);
    case MOAT_IFNAME_INVALID: /* the kernel's to refuse, as before */
    case MOAT_IFNAME_OK:
      break;
    }
  return 0;
}

static void
member_elem_addr (struct moat_elem *e, enum moat_set set, struct in_addr addr)
{
  struct key_writer w;

  key_start (&w, e, &moat_set_defs[set]);
  key_put_addr (&w, addr);
}

/* A resolvers (or resolvers6) pair: the gateway's udp and tcp port 53
 * on the bridge (its name checked by the caller). */
static void
resolvers_pair (struct moat_elem ret[2], enum moat_set id, const char *bridge, const void *gateway,
                size_t addr_len)
{
  static const uint8_t protos[2] = { IPPROTO_UDP, IPPROTO_TCP };
  const uint16_t port = htons (53); /* domain */
  struct key_writer w;

  for (size_t i = 0; i < 2; i++)
    {
      key_start (&w, &ret[i], &moat_set_defs[id]);
      key_put_ifname (&w, bridge);
      key_put (&w, gateway, addr_len);
      key_put (&w, &protos[i], 1);
      key_put (&w, &port, 2);
    }
}

int
moat_elems_resolvers (struct moat_elem ret[2], const char *bridge, struct in_addr gateway,
                      moat_err_t *err)
{
  if (moat_elem_check_ifname ("bridge", bridge, err) < 0)
    return -1;
  resolvers_pair (ret, MOAT_SET_RESOLVERS, bridge, &gateway.s_addr, 4);
  return 0;
}

int
moat_elems_resolvers6 (struct moat_elem ret[2], const char *bridge, const struct in6_addr *gateway6,
                       moat_err_t *err)
{
  if (moat_elem_check_ifname ("bridge", bridge, err) < 0)
    return -1;
  resolvers_pair (ret, MOAT_SET_RESOLVERS6, bridge, gateway6->s6_addr, 16);
  return 0;
}

/* The member's elements in the order they are sent. `all_flags` includes
 * quiet/internet/masq whatever the member says: deletion removes them
 * regardless, so a flag that changed since ADD leaves nothing behind. */
static void
member_elem_addr6 (struct moat_elem *e, enum moat_set set, const struct in6_addr *addr)
{
  struct key_writer w;

  key_start (&w, e, &moat_set_defs[set]);
  key_put_addr6 (&w, addr);
}

static void
elem_port6 (struct moat_elem *e, const struct moat_nft_member *m, const struct in6_addr *addr)
{
  struct key_writer w;

  key_start (&w, e, &moat_set_defs[MOAT_SET_PORTS6]);
  key_put_ifname (&w, m->host_ifname);
  key_put (&w, m->mac, MOAT_MAC_LEN);
  key_put_addr6 (&w, addr);
}

/* A dual-stack member's IPv6 elements (docs/design.md, "IPv6"): the
 * twins of its address-keyed ones, and its port's two addresses (global,
 * and the EUI-64 link-local its MAC gives). Names checked by the caller. */
static size_t
member_elems6 (const struct moat_nft_member *m, bool for_delete, struct moat_elem *ret)
{
  struct in6_addr ll;
  struct key_writer w;
  size_t n = 0;

  key_start (&w, &ret[n++], &moat_set_defs[MOAT_SET_MEMBERS6]);
  key_put_ifname (&w, m->bridge);
  key_put_addr6 (&w, &m->addr6);
  key_start (&w, &ret[n++], &moat_set_defs[MOAT_SET_SELF6]);
  key_put_addr6 (&w, &m->addr6);
  key_put_addr6 (&w, &m->addr6);
  if (m->quiet || for_delete)
    member_elem_addr6 (&ret[n++], MOAT_SET_QUIET6, &m->addr6);
  if (m->internet || for_delete)
    member_elem_addr6 (&ret[n++], MOAT_SET_INTERNET6, &m->addr6);
  if (m->masquerade || for_delete)
    member_elem_addr6 (&ret[n++], MOAT_SET_MASQ6, &m->addr6);
  if (m->log || for_delete)
    member_elem_addr6 (&ret[n++], MOAT_SET_LOGGED6, &m->addr6);
  if (for_delete)
    member_elem_addr6 (&ret[n++], MOAT_SET_LOG_RATE6, &m->addr6);
  for (enum moat_set c = MOAT_SET_ALLOWED_OUT6; c <= MOAT_SET_REFUSED_IN6; c++)
    member_elem_addr6 (&ret[n++], c, &m->addr6);
  if (m->dns && !for_delete)
    {
      resolvers_pair (&ret[n], MOAT_SET_RESOLVERS6, m->bridge, m->gateway6.s6_addr, 16);
      n += 2;
    }
  moat_link_local6 (m->mac, &ll);
  elem_port6 (&ret[n++], m, &m->addr6);
  elem_port6 (&ret[n++], m, &ll);
  return n;
}

int
moat_member_elems (const struct moat_nft_member *m, bool for_delete,
                   struct moat_elem ret[MOAT_MEMBER_MAX_ELEMS], size_t *ret_n, moat_err_t *err)
{
  struct key_writer w;
  size_t n = 0;

  if (moat_elem_check_ifname ("bridge", m->bridge, err) < 0
      || moat_elem_check_ifname ("host interface", m->host_ifname, err) < 0)
    return -1;

  key_start (&w, &ret[n++], &moat_set_defs[MOAT_SET_MEMBERS]);
  key_put_ifname (&w, m->bridge);
  key_put_addr (&w, m->addr);
  key_start (&w, &ret[n++], &moat_set_defs[MOAT_SET_SELF]);
  key_put_addr (&w, m->addr);
  key_put_addr (&w, m->addr);
  /* The bridge's element is the network's, shared by its members: a
   * member's DEL leaves it (moat_nft_bridge_del takes it with the bridge). */
  if (!for_delete)
    {
      key_start (&w, &ret[n++], &moat_set_defs[MOAT_SET_BRIDGES]);
      key_put_ifname (&w, m->bridge);
    }
  /* Deleting takes every flag element, so none outlives a changed config. */
  if (m->quiet || for_delete)
    member_elem_addr (&ret[n++], MOAT_SET_QUIET, m->addr);
  if (m->internet || for_delete)
    member_elem_addr (&ret[n++], MOAT_SET_INTERNET, m->addr);
  /* postrouting masquerades by source alone: not for a key. */
  if ((m->masquerade && !m->v6only) || for_delete)
    member_elem_addr (&ret[n++], MOAT_SET_MASQ, m->addr);
  if (m->log || for_delete)
    member_elem_addr (&ret[n++], MOAT_SET_LOGGED, m->addr);
  /* The kernel's limiter for the address goes with it (else it would
   * linger up to a minute, and pass to the address's next holder). */
  if (for_delete)
    member_elem_addr (&ret[n++], MOAT_SET_LOG_RATE, m->addr);
  /* Its counters (docs/design.md, "Counters"): made at zero with it,
   * gone with it. */
  for (enum moat_set c = MOAT_SET_ALLOWED_OUT; c <= MOAT_SET_REFUSED_IN; c++)
    member_elem_addr (&ret[n++], c, m->addr);

  /* The network's, like its bridge's: moat_nft_resolvers_del takes them. */
  if (m->dns && !for_delete)
    {
      if (moat_elems_resolvers (&ret[n], m->bridge, m->gateway, err) < 0)
        return -1;
      n += 2;
    }

  key_start (&w, &ret[n++], &moat_set_defs[MOAT_SET_PORT_NAMES]);
  key_put_ifname (&w, m->host_ifname);
  key_start (&w, &ret[n++], &moat_set_defs[MOAT_SET_GUARDED]);
  key_put_ifname (&w, m->host_ifname);

  /* An IPv6-only container's key is no source: from_port drops all its IPv4. */
  if (!m->v6only)
    {
      key_start (&w, &ret[n++], &moat_set_defs[MOAT_SET_PORTS]);
      key_put_ifname (&w, m->host_ifname);
      key_put (&w, m->mac, MOAT_MAC_LEN);
      key_put_addr (&w, m->addr);
    }

  if (m->have_addr6)
    n += member_elems6 (m, for_delete, &ret[n]);
  *ret_n = n;
  return 0;
}

static int
format_field (char *buf, size_t size, enum moat_field type, const uint8_t *p, uint32_t set_flags)
{
  char addr[INET6_ADDRSTRLEN];

  switch (type)
    {
    case MOAT_FIELD_IFNAME:
      return snprintf (buf, size, "\"%.*s\"", (int)strnlen ((const char *)p, IFNAMSIZ),
                       (const char *)p);
    case MOAT_FIELD_IPV4:
      inet_ntop (AF_INET, p, addr, sizeof (addr));
      return snprintf (buf, size, "%s", addr);
    case MOAT_FIELD_IPV6:
      inet_ntop (AF_INET6, p, addr, sizeof (addr));
      return snprintf (buf, size, "%s", addr);
    case MOAT_FIELD_ETHER:
      return snprintf (buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", p[0], p[1], p[2], p[3], p[4],
                       p[5]);
    case MOAT_FIELD_PROTO:
      if (p[0] == IPPROTO_TCP)
        return snprintf (buf, size, "tcp");
      if (p[0] == IPPROTO_UDP)
        return snprintf (buf, size, "udp");
      if (p[0] == IPPROTO_ICMP)
        return snprintf (buf, size, "icmp");
      if (p[0] == IPPROTO_ICMPV6)
        return snprintf (buf, size, "ipv6-icmp");
      return snprintf (buf, size, "%u", p[0]);
    case MOAT_FIELD_PORT:
      return snprintf (buf, size, "%u", (unsigned)(p[0] << 8 | p[1]));
    case MOAT_FIELD_CGROUP:
      return snprintf (buf, size, "cgroup:%" PRIu64, moat_elem_cgroup (p, set_flags));
    case MOAT_FIELD_VNI: /* as nft lists it: the word in hex */
      return snprintf (buf, size, "0x%02x%02x%02x%02x", p[0], p[1], p[2], p[3]);
    }
  return snprintf (buf, size, "?");
}

/* `"moat0" . 10.1.0.2`, with `a-b` for a field whose range end differs. */
void
moat_key_format (const struct moat_set_def *s, const uint8_t *key, uint32_t key_len,
                 const uint8_t *end, uint32_t end_len, char *buf, size_t size)
{
  size_t used = 0;
  uint32_t off = 0;

  buf[0] = '\0';
  for (unsigned i = 0; i < s->nfields && used < size; i++)
    {
      enum moat_field type = s->fields[i];
      uint32_t len = moat_field_infos[type].len;
      int n;

      if (off + len > key_len)
        break;
      if (i > 0)
        used += snprintf (buf + used, size - used, " . ");
      if (used >= size)
        break;
      n = format_field (buf + used, size - used, type, key + off, s->flags);
      used += n > 0 ? (size_t)n : 0;
      if (end && off + len <= end_len && memcmp (key + off, end + off, len) != 0 && used + 1 < size)
        {
          buf[used++] = '-';
          n = format_field (buf + used, size - used, type, end + off, s->flags);
          used += n > 0 ? (size_t)n : 0;
        }
      off += moat_field_padded (len);
    }
}

void
moat_elem_format_key (const struct moat_elem *e, char *buf, size_t size)
{
  moat_key_format (e->set, e->key, e->key_len, e->key_end_len ? e->key_end : NULL, e->key_end_len,
                   buf, size);
}

struct moat_elem *
moat_elem_list_push (struct moat_elem_list *l)
{
  if (l->n == l->cap)
    {
      size_t cap = l->cap ? l->cap * 2 : 16;
      struct moat_elem *v = realloc (l->v, cap * sizeof (*v));

      if (!v)
        return NULL;
      l->v = v;
      l->cap = cap;
    }
  memset (&l->v[l->n], 0, sizeof (l->v[l->n]));
  return &l->v[l->n++];
}

int
moat_elem_bridge (struct moat_elem *e, const char *bridge, moat_err_t *err)
{
  struct key_writer w;

  if (moat_elem_check_ifname ("bridge", bridge, err) < 0)
    return -1;
  key_start (&w, e, &moat_set_defs[MOAT_SET_BRIDGES]);
  key_put_ifname (&w, bridge);
  return 0;
}

/* A ports (or ports6) element of HOST_IFNAME: its MAC and its address of
   ADDR_LEN bytes. */
static bool
elem_port_in (const struct moat_elem *e, enum moat_set id, const char *host_ifname,
              unsigned char ret_mac[MOAT_MAC_LEN], void *ret_addr, uint32_t addr_len)
{
  const struct moat_set_def *set = &moat_set_defs[id];
  uint32_t mac_off = moat_field_padded (moat_field_infos[set->fields[0]].len);
  uint32_t addr_off = mac_off + moat_field_padded (moat_field_infos[set->fields[1]].len);
  struct key_writer w;
  struct moat_elem want;

  key_start (&w, &want, set);
  key_put_ifname (&w, host_ifname);
  if (e->set != set || e->key_len < addr_off + addr_len || memcmp (e->key, want.key, mac_off) != 0)
    return false;
  memcpy (ret_mac, e->key + mac_off, MOAT_MAC_LEN);
  memcpy (ret_addr, e->key + addr_off, addr_len);
  return true;
}

bool
moat_elem_port_of (const struct moat_elem *e, const char *host_ifname,
                   unsigned char ret_mac[MOAT_MAC_LEN], struct in_addr *ret_addr)
{
  return elem_port_in (e, MOAT_SET_PORTS, host_ifname, ret_mac, &ret_addr->s_addr, 4);
}

bool
moat_elem_port6_of (const struct moat_elem *e, const char *host_ifname,
                    unsigned char ret_mac[MOAT_MAC_LEN], struct in6_addr *ret_addr)
{
  return elem_port_in (e, MOAT_SET_PORTS6, host_ifname, ret_mac, ret_addr->s6_addr, 16);
}

/* --- a container's policy ------------------------------------------------ */

struct moat_nft_elems *
moat_nft_elems_new (void)
{
  return calloc (1, sizeof (struct moat_nft_elems));
}

void
moat_nft_elems_free (struct moat_nft_elems *e)
{
  if (!e)
    return;
  free (e->l.v);
  free (e->wait6);
  free (e->pub6);
  free (e->proxy6);
  free (e);
}

size_t
moat_nft_elems_count (const struct moat_nft_elems *e)
{
  return e->l.n;
}

const struct moat_elem *
moat_nft_elems_at (const struct moat_nft_elems *l, size_t i)
{
  return i < l->l.n ? &l->l.v[i] : NULL;
}

enum moat_set
moat_elem_set (const struct moat_elem *e)
{
  if (e->set == &moat_ident_set6_def)
    return MOAT_SET_IDENT6;
  if (e->set == &moat_ident_set_def)
    return MOAT_SET_IDENT;
  return (enum moat_set) (e->set - moat_set_defs);
}

const char *
moat_elem_set_name (const struct moat_elem *e)
{
  return e->name[0] ? e->name : e->set->name;
}

static struct moat_elem *
elems_push (struct moat_nft_elems *l, enum moat_set set, struct key_writer *w)
{
  struct moat_elem *e = moat_elem_list_push (&l->l);

  if (e)
    key_start (w, e, &moat_set_defs[set]);
  return e;
}

/* A port range as the interval ends of proto . port: "any" is every
 * protocol, and a protocol without ports (icmp, any) every port. */
static void
ports_bounds (const struct moat_ports *p, uint8_t proto[2], uint16_t port[2])
{
  proto[0] = p->proto;
  proto[1] = p->proto ? p->proto : 255;
  port[0] = htons (p->lo);
  port[1] = htons (p->lo ? p->hi : 65535);
}

/* Writes the key's proto . port fields, then the end key: a copy of the
 * start with the range ends put in. */
static void
key_put_ports (struct key_writer *w, const struct moat_ports *p)
{
  struct moat_elem *e = w->e;
  uint8_t proto[2];
  uint16_t port[2];
  uint32_t off = e->key_len;

  ports_bounds (p, proto, port);
  key_put (w, &proto[0], 1);
  key_put (w, &port[0], 2);
  memcpy (e->key_end, e->key, e->key_len);
  e->key_end_len = e->key_len;
  e->key_end[off] = proto[1];
  memcpy (e->key_end + off + 4, &port[1], 2);
}

int
moat_nft_elems_grant_peer (struct moat_nft_elems *l, struct in_addr from, struct in_addr to,
                           uint64_t timeout_ms)
{
  struct key_writer w;
  struct moat_elem *e = elems_push (l, MOAT_SET_GRANT_PEER, &w);

  if (!e)
    return -1;
  key_put_addr (&w, from);
  key_put_addr (&w, to);
  e->timeout_ms = timeout_ms;
  return 0;
}

int
moat_nft_elems_grant_host (struct moat_nft_elems *l, struct in_addr addr,
                           const struct moat_ports *p, uint64_t timeout_ms)
{
  struct key_writer w;
  struct moat_elem *e = elems_push (l, MOAT_SET_GRANT_HOST, &w);

  if (!e)
    return -1;
  key_put_addr (&w, addr);
  key_put_ports (&w, p);
  e->timeout_ms = timeout_ms;
  return 0;
}

int
moat_nft_elems_host (struct moat_nft_elems *l, struct in_addr addr, const struct moat_ports *p)
{
  struct key_writer w;

  if (!elems_push (l, MOAT_SET_HOST_GRANTS, &w))
    return -1;
  key_put_addr (&w, addr);
  key_put_ports (&w, p);
  return 0;
}

/* The outside range's end is the CIDR's last address. */
static void
key_put_acl (struct key_writer *w, struct in_addr first, const struct moat_acl *acl,
             bool outside_first)
{
  struct moat_elem *e = w->e;
  uint32_t last = acl->addr.s_addr | ~moat_prefix_mask (acl->prefixlen);
  uint32_t outside_off = outside_first ? 0 : 4;

  if (outside_first)
    {
      key_put_addr (w, acl->addr);
      key_put_addr (w, first);
    }
  else
    {
      key_put_addr (w, first);
      key_put_addr (w, acl->addr);
    }
  key_put_ports (w, &acl->ports);
  memcpy (e->key_end + outside_off, &last, 4);
}

/* The last address of an IPv6 range. */
static struct in6_addr
range6_last (const struct moat_acl *acl)
{
  struct in6_addr last = acl->addr6;

  for (int i = 0; i < 16; i++)
    if (acl->prefixlen < 8 * (i + 1))
      last.s6_addr[i] |= (uint8_t)(0xff >> (acl->prefixlen > 8 * i ? acl->prefixlen - 8 * i : 0));
  return last;
}

static void
key_put_acl6 (struct key_writer *w, const struct in6_addr *first, const struct moat_acl *acl,
              bool outside_first)
{
  struct moat_elem *e = w->e;
  struct in6_addr last = range6_last (acl);
  struct moat_ports ports = acl->ports;
  uint32_t outside_off = outside_first ? 0 : 16;
  if (outside_first)
    {
      key_put_addr6 (w, &acl->addr6);
      key_put_addr6 (w, first);
    }
  else
    {
      key_put_addr6 (w, first);
      key_put_addr6 (w, &acl->addr6);
    }
  ports.proto = moat_proto6 (ports.proto);
  key_put_ports (w, &ports);
  memcpy (e->key_end + outside_off, last.s6_addr, 16);
}

static bool
set_outside_first (enum moat_set set)
{
  return set == MOAT_SET_INGRESS || set == MOAT_SET_INGRESS_DENY || set == MOAT_SET_GRANT_INGRESS;
}

int
moat_nft_elems_acl6 (struct moat_nft_elems *l, enum moat_set set, const struct in6_addr *container,
                     const struct moat_acl *acl, uint64_t timeout_ms)
{
  struct key_writer w;
  struct moat_elem *e = elems_push (l, moat_set_twin6 (set), &w);

  if (!e)
    return -1;
  key_put_acl6 (&w, container, acl, set_outside_first (set));
  e->timeout_ms = timeout_ms;
  return 0;
}

/* An IPv6 range waits for the container's IPv6 address (elems.h). */
static int
wait6_push (struct moat_nft_elems *l, enum moat_set set, struct in_addr addr,
            const struct moat_acl *acl, uint64_t timeout_ms)
{
  struct moat_acl6_wait *v = realloc (l->wait6, (l->n_wait6 + 1) * sizeof (*v));

  if (!v)
    return -1;
  l->wait6 = v;
  v[l->n_wait6++] = (struct moat_acl6_wait){ set, addr, *acl, timeout_ms };
  return 0;
}

int
moat_nft_elems_acl (struct moat_nft_elems *l, enum moat_nft_acl kind, struct in_addr addr,
                    const struct moat_acl *acl)
{
  static const enum moat_set sets[] = {
    [MOAT_NFT_EGRESS] = MOAT_SET_EGRESS,
    [MOAT_NFT_EGRESS_DENY] = MOAT_SET_EGRESS_DENY,
    [MOAT_NFT_INGRESS] = MOAT_SET_INGRESS,
    [MOAT_NFT_INGRESS_DENY] = MOAT_SET_INGRESS_DENY,
  };
  bool ingress = kind == MOAT_NFT_INGRESS || kind == MOAT_NFT_INGRESS_DENY;
  struct key_writer w;

  if (acl->v6)
    return wait6_push (l, sets[kind], addr, acl, 0);
  if (!elems_push (l, sets[kind], &w))
    return -1;
  key_put_acl (&w, addr, acl, ingress);
  return 0;
}

int
moat_nft_elems_grant_egress (struct moat_nft_elems *l, struct in_addr addr,
                             const struct moat_acl *acl, uint64_t timeout_ms)
{
  struct key_writer w;
  struct moat_elem *e;

  if (acl->v6)
    return wait6_push (l, MOAT_SET_GRANT_EGRESS, addr, acl, timeout_ms);
  if (!(e = elems_push (l, MOAT_SET_GRANT_EGRESS, &w)))
    return -1;
  key_put_acl (&w, addr, acl, false);
  e->timeout_ms = timeout_ms;
  return 0;
}

int
moat_nft_elems_grant_ingress (struct moat_nft_elems *l, struct in_addr addr,
                              const struct moat_acl *acl, uint64_t timeout_ms)
{
  struct key_writer w;
  struct moat_elem *e;

  if (acl->v6)
    return wait6_push (l, MOAT_SET_GRANT_INGRESS, addr, acl, timeout_ms);
  if (!(e = elems_push (l, MOAT_SET_GRANT_INGRESS, &w)))
    return -1;
  key_put_acl (&w, addr, acl, true);
  e->timeout_ms = timeout_ms;
  return 0;
}

int
moat_nft_elems_internet (struct moat_nft_elems *l, struct in_addr addr)
{
  struct key_writer w;

  if (!elems_push (l, MOAT_SET_INTERNET, &w))
    return -1;
  key_put_addr (&w, addr);
  return 0;
}

int
moat_nft_elems_logged (struct moat_nft_elems *l, struct in_addr addr)
{
  struct key_writer w;

  if (!elems_push (l, MOAT_SET_LOGGED, &w))
    return -1;
  key_put_addr (&w, addr);
  return 0;
}

int
moat_nft_elems_proxy (struct moat_nft_elems *l, struct in_addr addr, uint16_t port,
                      struct in_addr proxy, uint16_t proxy_port)
{
  uint16_t nport = htons (port), nproxy_port = htons (proxy_port);
  struct key_writer w;
  struct moat_elem *e;

  e = elems_push (l, MOAT_SET_PROXY, &w);
  if (!e)
    return -1;
  key_put_addr (&w, addr);
  key_put (&w, &nport, 2);
  memcpy (e->data, &proxy.s_addr, 4);
  memcpy (e->data + 4, &nproxy_port, 2);
  e->data_len = 8;
  return 0;
}

/* host . proto . host port : container . port, the host address an
 * interval (0.0.0.0: all of them). */
int
moat_nft_elems_publish (struct moat_nft_elems *l, struct in_addr host, bool ipv4_only,
                        uint8_t proto, uint16_t host_port, struct in_addr addr, uint16_t port)
{
  uint16_t nhost_port = htons (host_port), nport = htons (port);
  uint32_t last = host.s_addr == INADDR_ANY ? 0xffffffffu : host.s_addr;
  struct key_writer w;
  struct moat_elem *e = elems_push (l, MOAT_SET_PUBLISH, &w);

  if (!e)
    return -1;
  key_put_addr (&w, host);
  key_put (&w, &proto, 1);
  key_put (&w, &nhost_port, 2);
  memcpy (e->key_end, e->key, e->key_len);
  e->key_end_len = e->key_len;
  memcpy (e->key_end, &last, 4);
  memcpy (e->data, &addr.s_addr, 4);
  memcpy (e->data + 4, &nport, 2);
  e->data_len = 8;
  e->no_twin = ipv4_only;
  return 0;
}

int
moat_nft_elems_publish_wait6 (struct moat_nft_elems *l, const struct in6_addr *host, uint8_t proto,
                              uint16_t host_port, struct in_addr addr, uint16_t port)
{
  struct moat_publish6_wait *v = realloc (l->pub6, (l->n_pub6 + 1) * sizeof (*v));

  if (!v)
    return -1;
  l->pub6 = v;
  v[l->n_pub6++] = (struct moat_publish6_wait){ addr, *host, proto, host_port, port };
  return 0;
}

/* host6 (:: from ::2) . proto . host port : addr6 . port in publish6. */
int
moat_nft_elems_publish6 (struct moat_nft_elems *l, const struct in6_addr *host, uint8_t proto,
                         uint16_t host_port, const struct in6_addr *addr, uint16_t port)
{
  uint16_t nhost_port = htons (host_port), nport = htons (port);
  struct in6_addr first = *host, last = *host;
  struct key_writer w;
  struct moat_elem *e;

  if (IN6_IS_ADDR_UNSPECIFIED (host))
    {
      first.s6_addr[15] = 2; /* ::1 cannot be DNAT'd; :: is never local */
      memset (&last, 0xff, sizeof (last));
    }
  e = elems_push (l, MOAT_SET_PUBLISH6, &w);
  if (!e)
    return -1;
  key_put_addr6 (&w, &first);
  key_put (&w, &proto, 1);
  key_put (&w, &nhost_port, 2);
  memcpy (e->key_end, e->key, e->key_len);
  e->key_end_len = e->key_len;
  memcpy (e->key_end, &last, 16);
  memcpy (e->data, addr->s6_addr, 16);
  memcpy (e->data + 16, &nport, 2);
  e->data_len = 20;
  return 0;
}

int
moat_nft_elems_published (struct moat_nft_elems *l, struct in_addr addr, uint8_t proto,
                          uint16_t port)
{
  uint16_t nport = htons (port);
  struct key_writer w;

  if (!elems_push (l, MOAT_SET_PUBLISHED, &w))
    return -1;
  key_put_addr (&w, addr);
  key_put (&w, &proto, 1);
  key_put (&w, &nport, 2);
  return 0;
}

int
moat_nft_elems_proxied (struct moat_nft_elems *l, struct in_addr addr, struct in_addr proxy,
                        uint16_t proxy_port)
{
  uint8_t tcp = IPPROTO_TCP;
  uint16_t nproxy_port = htons (proxy_port);
  struct key_writer w;

  if (!elems_push (l, MOAT_SET_PROXIED, &w))
    return -1;
  key_put_addr (&w, addr);
  key_put_addr (&w, proxy);
  key_put (&w, &tcp, 1);
  key_put (&w, &nproxy_port, 2);
  return 0;
}

int
moat_nft_elems_proxy6 (struct moat_nft_elems *l, const struct in6_addr *addr, uint16_t port,
                       const struct in6_addr *proxy, uint16_t proxy_port)
{
  uint16_t nport = htons (port), nproxy_port = htons (proxy_port);
  uint8_t tcp = IPPROTO_TCP;
  struct key_writer w;
  struct moat_elem *e;

  if (port == 0)
    {
      if (!elems_push (l, MOAT_SET_PROXIED6, &w))
        return -1;
      key_put_addr6 (&w, addr);
      key_put_addr6 (&w, proxy);
      key_put (&w, &tcp, 1);
      key_put (&w, &nproxy_port, 2);
      return 0;
    }
  e = elems_push (l, MOAT_SET_PROXY6, &w);
  if (!e)
    return -1;
  key_put_addr6 (&w, addr);
  key_put (&w, &nport, 2);
  memcpy (e->data, proxy->s6_addr, 16);
  memcpy (e->data + 16, &nproxy_port, 2);
  e->data_len = 20;
  return 0;
}

int
moat_nft_elems_proxy_wait6 (struct moat_nft_elems *l, struct in_addr addr, uint16_t port,
                            const struct in6_addr *proxy, uint16_t proxy_port)
{
  struct moat_proxy6_wait *v = realloc (l->proxy6, (l->n_proxy6 + 1) * sizeof (*v));

  if (!v)
    return -1;
  l->proxy6 = v;
  v[l->n_proxy6++] = (struct moat_proxy6_wait){ addr, *proxy, port, proxy_port };
  return 0;
}

int
moat_nft_elems_ident_member (struct moat_nft_elems *l, struct in_addr addr, const char *ident)
{
  struct key_writer w;
  struct moat_elem *e = elems_push (l, MOAT_SET_SRC_IDENT, &w);

  if (!e || moat_ident_object_name (e->jump, sizeof (e->jump), ident) < 0)
    return -1;
  key_put_addr (&w, addr);
  return 0;
}

int
moat_nft_elems_ident_reach (struct moat_nft_elems *l, const char *ident, struct in_addr addr)
{
  struct key_writer w;
  struct moat_elem *e = moat_elem_list_push (&l->l);

  if (!e)
    return -1;
  key_start (&w, e, &moat_ident_set_def);
  if (moat_ident_object_name (e->name, sizeof (e->name), ident) < 0)
    return -1;
  key_put_addr (&w, addr);
  return 0;
}

uint64_t
moat_elem_cgroup (const uint8_t *p, uint32_t set_flags)
{
  uint64_t id = 0;

  if (!(set_flags & NFT_SET_INTERVAL))
    {
      memcpy (&id, p, sizeof (id));
      return id;
    }
  for (int i = 0; i < 8; i++)
    id = id << 8 | p[i];
  return id;
}

/* --- host-network containers (keyed by cgroup) ------------------------- */

int
moat_nft_elems_hostnet (struct moat_nft_elems *l, uint64_t cgroup)
{
  struct key_writer w;

  if (!elems_push (l, MOAT_SET_HOSTNET, &w))
    return -1;
  key_put_cgroup (&w, cgroup);
  return 0;
}

int
moat_nft_elems_hostnet_ident (struct moat_nft_elems *l, uint64_t cgroup, const char *ident)
{
  struct key_writer w;
  struct moat_elem *e = elems_push (l, MOAT_SET_HOSTNET_IDENT, &w);

  if (!e || moat_ident_object_name (e->jump, sizeof (e->jump), ident) < 0)
    return -1;
  key_put_cgroup (&w, cgroup);
  return 0;
}

/* An IPv6 range is keyed by the group, which has no address to wait for:
 * its element goes straight into the twin set (an IPv6 range opens IPv6
 * only, as a container's does). */
static int
hostnet_acl6 (struct moat_nft_elems *l, bool ingress, uint64_t cgroup, const struct moat_acl *acl)
{
  struct in6_addr last = range6_last (acl);
  struct moat_ports ports = acl->ports;
  struct key_writer w;
  struct moat_elem *e
      = elems_push (l, ingress ? MOAT_SET_HOSTNET_INGRESS6 : MOAT_SET_HOSTNET_EGRESS6, &w);

  if (!e)
    return -1;
  if (ingress)
    {
      key_put_addr6 (&w, &acl->addr6);
      key_put_cgroup (&w, cgroup);
    }
  else
    {
      key_put_cgroup (&w, cgroup);
      key_put_addr6 (&w, &acl->addr6);
    }
  ports.proto = moat_proto6 (ports.proto);
  key_put_ports (&w, &ports);
  memcpy (e->key_end + (ingress ? 0 : 8), last.s6_addr, 16);
  return 0;
}

int
moat_nft_elems_hostnet_acl (struct moat_nft_elems *l, bool ingress, uint64_t cgroup,
                            const struct moat_acl *acl)
{
  uint32_t last = acl->addr.s_addr | ~moat_prefix_mask (acl->v6 ? 0 : acl->prefixlen);
  struct key_writer w;
  struct moat_elem *e;

  if (acl->v6)
    return hostnet_acl6 (l, ingress, cgroup, acl);
  e = elems_push (l, ingress ? MOAT_SET_HOSTNET_INGRESS : MOAT_SET_HOSTNET_EGRESS, &w);
  if (!e)
    return -1;
  if (ingress)
    {
      key_put_addr (&w, acl->addr);
      key_put_cgroup (&w, cgroup);
    }
  else
    {
      key_put_cgroup (&w, cgroup);
      key_put_addr (&w, acl->addr);
    }
  key_put_ports (&w, &acl->ports);
  memcpy (e->key_end + (ingress ? 0 : 8), &last, 4);
  return 0;
}

int
moat_nft_elems_hostnet_peer (struct moat_nft_elems *l, struct in_addr src, uint64_t cgroup)
{
  struct key_writer w;

  /* An IPv6-only container's key too: its twin is the container's
   * IPv6 address; the key itself is looked up only for a packet from the
   * bridge that has it in members, whose ports admit no IPv4 from it. */
  if (!elems_push (l, MOAT_SET_HOSTNET_PEERS, &w))
    return -1;
  key_put_addr (&w, src);
  key_put_cgroup (&w, cgroup);
  return 0;
}

/* "set: key[ : value]", as nft would write it. */
void
moat_elem_format (const struct moat_elem *e, char *buf, size_t size)
{
  char key[256], data[64] = "";

  moat_elem_format_key (e, key, sizeof (key));
  if (e->jump[0])
    snprintf (data, sizeof (data), " : jump %s", e->jump);
  else if (e->data_len == 8 || e->data_len == 20)
    {
      char addr[INET6_ADDRSTRLEN];
      uint32_t at = e->data_len - 4;

      inet_ntop (e->data_len == 8 ? AF_INET : AF_INET6, e->data, addr, sizeof (addr));
      snprintf (data, sizeof (data), " : %s . %u", addr,
                (unsigned)(e->data[at] << 8 | e->data[at + 1]));
    }
  snprintf (buf, size, "%s: %s%s", e->name[0] ? e->name : e->set->name, key, data);
}

void
moat_nft_elems_format (const struct moat_nft_elems *l, size_t i, char *buf, size_t size)
{
  moat_elem_format (&l->l.v[i], buf, size);
}

int
moat_nft_elems_member (struct moat_nft_elems *l, const struct moat_nft_member *m, moat_err_t *err)
{
  struct moat_elem v[MOAT_MEMBER_MAX_ELEMS];
  size_t n;

  if (moat_member_elems (m, false, v, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      struct moat_elem *e = moat_elem_list_push (&l->l);

      if (!e)
        return moat_error (err, MOAT_E_IO, ENOMEM, "nft: out of memory");
      *e = v[i];
    }
  return 0;
}

/* --- cluster mode: the other nodes ------------------------------------- */

/* A field range [key, key_end) ends where the key's field starts: the
 * end is the key with the subnet's last address in the first field. */
static void
key_end_with_last (struct moat_elem *e, struct in_addr subnet, int prefixlen)
{
  uint32_t last = subnet.s_addr | ~moat_prefix_mask (prefixlen);

  memcpy (e->key_end, e->key, e->key_len);
  e->key_end_len = e->key_len;
  memcpy (e->key_end, &last, 4);
}

static int
node_route (struct moat_nft_elems *l, struct in_addr addr, int prefixlen, const char *ifname,
            const unsigned char mac[MOAT_MAC_LEN])
{
  struct key_writer w;
  struct moat_elem *e = elems_push (l, MOAT_SET_NODE_ROUTES, &w);

  if (!e)
    return -1;
  key_put_addr (&w, addr);
  key_put_ifname (&w, ifname);
  key_put (&w, mac, MOAT_MAC_LEN);
  key_end_with_last (e, addr, prefixlen);
  return 0;
}

/* A tunnel's VNI word (VNI << 8, big-endian), and the node's underlay
 * address with it. */
static int
node_vtep (struct moat_nft_elems *l, struct in_addr underlay, uint32_t vni)
{
  uint32_t word = htonl (vni << 8);
  struct key_writer w;

  if (!elems_push (l, MOAT_SET_NODE_VNIS, &w))
    return -1;
  key_put (&w, &word, sizeof (word));
  if (!elems_push (l, MOAT_SET_NODE_VTEPS, &w))
    return -1;
  key_put_addr (&w, underlay);
  key_put (&w, &word, sizeof (word));
  return 0;
}

static void
key_end_with_last6 (struct moat_elem *e, const struct in6_addr *subnet, int prefixlen)
{
  struct in6_addr last = *subnet;

  for (int i = 0; i < 16; i++)
    if (prefixlen < 8 * (i + 1))
      last.s6_addr[i] |= (uint8_t)(0xff >> (prefixlen > 8 * i ? prefixlen - 8 * i : 0));
  memcpy (e->key_end, e->key, e->key_len);
  e->key_end_len = e->key_len;
  memcpy (e->key_end, last.s6_addr, 16);
}

static int
node_route6 (struct moat_nft_elems *l, const struct in6_addr *addr, int prefixlen,
             const char *ifname, const unsigned char mac[MOAT_MAC_LEN])
{
  struct key_writer w;
  struct moat_elem *e = elems_push (l, MOAT_SET_NODE_ROUTES6, &w);

  if (!e)
    return -1;
  key_put_addr6 (&w, addr);
  key_put_ifname (&w, ifname);
  key_put (&w, mac, MOAT_MAC_LEN);
  key_end_with_last6 (e, addr, prefixlen);
  return 0;
}

/* The twins: subnet6 for subnet, the IPv6 nexthop for the underlay. */
static int
node_elems6 (struct moat_nft_elems *l, const struct moat_node_link *n)
{
  struct key_writer w;
  struct moat_elem *e = elems_push (l, MOAT_SET_NODE_NETS6, &w);

  if (!e)
    return -1;
  key_put_addr6 (&w, &n->subnet6);
  key_put_ifname (&w, n->ifname);
  key_end_with_last6 (e, &n->subnet6, n->prefixlen6);
  if (node_route6 (l, &n->subnet6, n->prefixlen6, n->ifname, n->mac) < 0
      || node_route6 (l, &n->gateway6, 128, n->ifname, n->mac) < 0
      || !elems_push (l, MOAT_SET_NODE_LINKS6, &w))
    return -1;
  key_put_ifname (&w, n->ifname);
  key_put (&w, n->mac, MOAT_MAC_LEN);
  return 0;
}

int
moat_nft_elems_node_net (struct moat_nft_elems *l, struct in_addr subnet, int prefixlen,
                         const char *ifname)
{
  struct key_writer w;
  struct moat_elem *e = elems_push (l, MOAT_SET_NODE_NETS, &w);

  if (!e)
    return -1;
  key_put_addr (&w, subnet);
  key_put_ifname (&w, ifname);
  key_end_with_last (e, subnet, prefixlen);
  return 0;
}

int
moat_nft_elems_node (struct moat_nft_elems *l, const struct moat_node_link *n)
{
  struct key_writer w;

  if (moat_nft_elems_node_net (l, n->subnet, n->prefixlen, n->ifname) < 0
      || node_route (l, n->subnet, n->prefixlen, n->ifname, n->mac) < 0
      || node_route (l, n->underlay, 32, n->ifname, n->mac) < 0
      || !elems_push (l, MOAT_SET_NODE_LINKS, &w))
    return -1;
  key_put_ifname (&w, n->ifname);
  key_put (&w, n->mac, MOAT_MAC_LEN);
  if (n->vni && node_vtep (l, n->underlay, n->vni) < 0)
    return -1;
  return n->have6 ? node_elems6 (l, n) : 0;
}
