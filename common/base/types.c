/* SPDX-License-Identifier: Apache-2.0 */
#include "base/types.h"

#include <stdio.h>
#include <string.h>

void
moat_mac_format (const unsigned char mac[MOAT_MAC_LEN], char *buf)
{
  snprintf (buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
            mac[5]);
}

static int
hex_digit (char c)
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
      int hi = hex_digit (p[0]), lo = hex_digit (p[1]);

      if (hi < 0 || lo < 0 || (i < MOAT_MAC_LEN - 1 && p[2] != ':'))
        return -1;
      mac[i] = (unsigned char)(hi << 4 | lo);
    }
  memcpy (ret_mac, mac, sizeof (mac));
  return 0;
}
