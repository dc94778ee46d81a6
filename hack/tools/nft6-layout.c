/* SPDX-License-Identifier: Apache-2.0 */
/* hack/tools/nft6-layout: a member's elements added to (or deleted from)
 * moat's tables by kernel/nft's own ADD and DEL paths, with or without
 * an IPv6 address: the tables, their IPv6 half and the port checks made
 * in a private network namespace without the CNI verbs (bats/ipv6.bats,
 * hack/test-kernels-checks). Not installed.
 *
 *   nft6-layout add|del|check BRIDGE HOST_IFNAME MAC ADDR GATEWAY [ADDR6 GATEWAY6]
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "kernel/nft.h"

static int
usage (void)
{
  fprintf (stderr, "usage: nft6-layout add|del|check BRIDGE HOST_IFNAME MAC ADDR GATEWAY "
                   "[ADDR6 GATEWAY6]\n");
  return 2;
}

static bool
parse_mac (const char *text, unsigned char mac[MOAT_MAC_LEN])
{
  unsigned v[MOAT_MAC_LEN];

  if (sscanf (text, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
    return false;
  for (int i = 0; i < MOAT_MAC_LEN; i++)
    mac[i] = (unsigned char)v[i];
  return true;
}

int
main (int argc, char **argv)
{
  struct moat_nft_member m = { 0 };
  struct moat_nft *nft = NULL;
  moat_err_t err = { 0 };
  int r;

  if (argc != 7 && argc != 9)
    return usage ();
  m.bridge = argv[2];
  m.host_ifname = argv[3];
  if (!parse_mac (argv[4], m.mac) || inet_pton (AF_INET, argv[5], &m.addr) != 1
      || inet_pton (AF_INET, argv[6], &m.gateway) != 1)
    return usage ();
  if (argc == 9)
    {
      m.have_addr6 = true;
      if (inet_pton (AF_INET6, argv[7], &m.addr6) != 1
          || inet_pton (AF_INET6, argv[8], &m.gateway6) != 1)
        return usage ();
    }
  if (moat_nft_open (&nft, &err) < 0)
    {
      fprintf (stderr, "nft6-layout: %s\n", err.msg);
      return 1;
    }
  if (strcmp (argv[1], "add") == 0)
    r = moat_nft_member_add (nft, &m, &err);
  else if (strcmp (argv[1], "del") == 0)
    r = moat_nft_member_del (nft, &m, &err);
  else if (strcmp (argv[1], "check") == 0)
    r = moat_nft_member_check (nft, &m, &err);
  else
    r = usage ();
  moat_nft_close (nft);
  if (r < 0)
    fprintf (stderr, "nft6-layout: %s\n", err.msg);
  return r < 0 ? 1 : r;
}
