/* SPDX-License-Identifier: Apache-2.0 */
#include "base/ip6.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
moat_parse_ipv6 (const char *s, struct in6_addr *ret_addr)
{
  return s && inet_pton (AF_INET6, s, ret_addr) == 1 ? 0 : -1;
}

int
moat_parse_cidr6 (const char *s, struct in6_addr *ret_addr, int *ret_prefixlen)
{
  char buf[INET6_ADDRSTRLEN];
  const char *slash = s ? strchr (s, '/') : NULL;
  char *end;
  long len;

  if (!slash || (size_t)(slash - s) >= sizeof (buf) || !isdigit ((unsigned char)slash[1]))
    return -1;
  memcpy (buf, s, slash - s);
  buf[slash - s] = '\0';
  errno = 0;
  len = strtol (slash + 1, &end, 10);
  if (errno || *end || len < 0 || len > 128 || end - (slash + 1) > 3)
    return -1;
  if (moat_parse_ipv6 (buf, ret_addr) < 0)
    return -1;
  *ret_prefixlen = (int)len;
  return 0;
}

const char *
moat_ipv6_text (const struct in6_addr *a, char buf[INET6_ADDRSTRLEN])
{
  if (!inet_ntop (AF_INET6, a, buf, INET6_ADDRSTRLEN))
    buf[0] = '\0';
  return buf;
}

struct in6_addr
moat_ipv6_prefix (const struct in6_addr *a, int prefixlen)
{
  struct in6_addr p = *a;

  for (int i = 0; i < 16; i++)
    {
      int bits = prefixlen - 8 * i;
      if (bits <= 0)
        p.s6_addr[i] = 0;
      else if (bits < 8)
        p.s6_addr[i] &= (uint8_t)(0xff << (8 - bits));
    }
  return p;
}

bool
moat_ipv6_in_prefix (const struct in6_addr *a, const struct in6_addr *prefix, int prefixlen)
{
  struct in6_addr x = moat_ipv6_prefix (a, prefixlen), y = moat_ipv6_prefix (prefix, prefixlen);

  return memcmp (&x, &y, sizeof (x)) == 0;
}

uint64_t
moat_ipv6_host64 (const struct in6_addr *a)
{
  uint64_t h = 0;

  for (int i = 8; i < 16; i++)
    h = (h << 8) | a->s6_addr[i];
  return h;
}

struct in6_addr
moat_ipv6_with_host64 (const struct in6_addr *prefix, uint64_t host)
{
  struct in6_addr a = moat_ipv6_prefix (prefix, 64);

  for (int i = 15; i >= 8; i--, host >>= 8)
    a.s6_addr[i] = (uint8_t)host;
  return a;
}
