/* SPDX-License-Identifier: Apache-2.0 */
#include "base/types.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
moat_mac_format (const unsigned char mac[MOAT_MAC_LEN], char *buf)
{
  snprintf (buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
            mac[5]);
}

int
moat_hex_digit (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int
moat_mac_parse (const char *s, unsigned char ret_mac[MOAT_MAC_LEN])
{
  unsigned char mac[MOAT_MAC_LEN];

  if (!s || strlen (s) != 3 * MOAT_MAC_LEN - 1)
    return -1;
  for (int i = 0; i < MOAT_MAC_LEN; i++)
    {
      const char *p = s + 3 * i;
      int hi = moat_hex_digit (p[0]), lo = moat_hex_digit (p[1]);

      if (hi < 0 || lo < 0 || (i < MOAT_MAC_LEN - 1 && p[2] != ':'))
        return -1;
      mac[i] = (unsigned char)(hi << 4 | lo);
    }
  memcpy (ret_mac, mac, sizeof (mac));
  return 0;
}

int
moat_parse_ipv4 (const char *s, struct in_addr *ret_addr)
{
  return inet_pton (AF_INET, s, ret_addr) == 1 ? 0 : -1;
}

int
moat_parse_cidr (const char *s, struct in_addr *ret_addr, int *ret_prefixlen)
{
  char buf[INET_ADDRSTRLEN];
  const char *slash = strchr (s, '/');
  char *end;
  long len;

  if (!slash || (size_t)(slash - s) >= sizeof (buf) || !isdigit ((unsigned char)slash[1]))
    return -1;
  memcpy (buf, s, slash - s);
  buf[slash - s] = '\0';
  errno = 0;
  len = strtol (slash + 1, &end, 10);
  if (errno || *end || len < 0 || len > 32 || end - (slash + 1) > 2)
    return -1;
  if (moat_parse_ipv4 (buf, ret_addr) < 0)
    return -1;
  *ret_prefixlen = (int)len;
  return 0;
}
