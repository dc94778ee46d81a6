/* SPDX-License-Identifier: Apache-2.0 */
/* The address of an ACL item (annot.h): an IPv4 or an IPv6 address or
 * CIDR, host bits zero. */
#include "model/annot.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "base/ip6.h"

static int
acl_addr4 (char *text, struct moat_acl *ret, char *why, size_t size)
{
  in_addr_t mask;
  char net[INET_ADDRSTRLEN];

  if (strchr (text, '/') ? moat_parse_cidr (text, &ret->addr, &ret->prefixlen) < 0
                         : moat_parse_ipv4 (text, &ret->addr) < 0)
    return -1;
  if (!strchr (text, '/'))
    ret->prefixlen = 32;
  mask = moat_prefix_mask (ret->prefixlen);
  if (!(ret->addr.s_addr & ~mask))
    return 0;
  inet_ntop (AF_INET, &(struct in_addr){ .s_addr = ret->addr.s_addr & mask }, net, sizeof (net));
  snprintf (why, size, "host bits set in %s (the network is %s/%d)", text, net, ret->prefixlen);
  return -2;
}

static int
acl_addr6 (char *text, struct moat_acl *ret, char *why, size_t size)
{
  struct in6_addr net;
  char buf[INET6_ADDRSTRLEN];

  if (strchr (text, '/') ? moat_parse_cidr6 (text, &ret->addr6, &ret->prefixlen) < 0
                         : moat_parse_ipv6 (text, &ret->addr6) < 0)
    return -1;
  if (!strchr (text, '/'))
    ret->prefixlen = 128;
  ret->v6 = true;
  net = moat_ipv6_prefix (&ret->addr6, ret->prefixlen);
  if (memcmp (&net, &ret->addr6, sizeof (net)) == 0)
    return 0;
  snprintf (why, size, "host bits set in %s (the network is %s/%d)", text,
            moat_ipv6_text (&net, buf), ret->prefixlen);
  return -2;
}

int
moat_acl_addr_parse (const char *s, size_t len, struct moat_acl *ret, char *why, size_t size)
{
  char text[INET6_ADDRSTRLEN + 4];

  ret->v6 = false;
  memset (&ret->addr6, 0, sizeof (ret->addr6));
  if (len >= sizeof (text))
    return -1;
  memcpy (text, s, len);
  text[len] = '\0';
  return strchr (text, ':') ? acl_addr6 (text, ret, why, size) : acl_addr4 (text, ret, why, size);
}

void
moat_acl_addr_format (const struct moat_acl *acl, char *buf, size_t size)
{
  char addr[INET6_ADDRSTRLEN];

  inet_ntop (acl->v6 ? AF_INET6 : AF_INET, acl->v6 ? (const void *)&acl->addr6 : &acl->addr, addr,
             sizeof (addr));
  snprintf (buf, size, "%s/%d", addr, acl->prefixlen);
}

bool
moat_acl_addr_equal (const struct moat_acl *a, const struct moat_acl *b)
{
  if (a->v6 != b->v6 || a->prefixlen != b->prefixlen)
    return false;
  return a->v6 ? memcmp (&a->addr6, &b->addr6, sizeof (a->addr6)) == 0
               : a->addr.s_addr == b->addr.s_addr;
}

/* The two ranges share an address: same family, and the shorter prefix
 * holds the other's network address. */
bool
moat_acl_addr_overlaps (const struct moat_acl *a, const struct moat_acl *b)
{
  int len = a->prefixlen < b->prefixlen ? a->prefixlen : b->prefixlen;
  struct in6_addr pa, pb;

  if (a->v6 != b->v6)
    return false;
  if (!a->v6)
    return ((a->addr.s_addr ^ b->addr.s_addr) & moat_prefix_mask (len)) == 0;
  pa = moat_ipv6_prefix (&a->addr6, len);
  pb = moat_ipv6_prefix (&b->addr6, len);
  return memcmp (&pa, &pb, sizeof (pa)) == 0;
}
