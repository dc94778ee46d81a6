/* SPDX-License-Identifier: Apache-2.0 */
/* hack/tools/nft6-layout: a member's elements added to (or deleted from)
 * moat's tables by kernel/nft's own ADD and DEL paths, with or without
 * an IPv6 address: the tables, their IPv6 half and the port checks made
 * in a private network namespace without the CNI verbs (bats/ipv6.bats,
 * hack/test-kernels-checks). Not installed.
 *
 *   nft6-layout add|del|check BRIDGE HOST_IFNAME MAC ADDR GATEWAY [ADDR6 GATEWAY6]
 *   nft6-layout policy v4|join|drop IDENT ADDR ADDR6 PEER PEER6
 *     the container at ADDR in identity IDENT, which may reach PEER: its
 *     src_ident element and the identity's set, made IPv4 only (v4: an
 *     identity from before dual stack), or with their IPv6 twins
 *     (moat_nft_elems_twin6) by moat_nft_policy_replace2 (join); drop
 *     sweeps the container's elements and drops the identity, both halves.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"
#include "kernel/nft.h"

static int
usage (void)
{
  fprintf (stderr, "usage: nft6-layout add|del|check BRIDGE HOST_IFNAME MAC ADDR GATEWAY "
                   "[ADDR6 GATEWAY6]\n"
                   "       nft6-layout policy v4|join|drop IDENT ADDR ADDR6 PEER PEER6\n");
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

struct pair6
{
  struct in_addr a[2];
  struct in6_addr a6[2];
};

static int
addr6_of (struct in_addr addr, struct in6_addr *ret, void *data)
{
  const struct pair6 *p = data;

  for (int i = 0; i < 2; i++)
    if (p->a[i].s_addr == addr.s_addr)
      {
        *ret = p->a6[i];
        return 1;
      }
  return 0;
}

static int
policy (struct moat_nft *nft, char **argv, moat_err_t *err)
{
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *add = moat_nft_elems_new ();
  const char *mode = argv[2], *ident = argv[3];
  struct pair6 p;

  if (!add || inet_pton (AF_INET, argv[4], &p.a[0]) != 1
      || inet_pton (AF_INET6, argv[5], &p.a6[0]) != 1 || inet_pton (AF_INET, argv[6], &p.a[1]) != 1
      || inet_pton (AF_INET6, argv[7], &p.a6[1]) != 1)
    return usage ();
  if (strcmp (mode, "drop") == 0)
    return moat_nft_policy_replace2 (nft, p.a[0], &p.a6[0], true, true, NULL, ident, NULL, NULL,
                                     err);
  if (moat_nft_elems_ident_member (add, p.a[0], ident) < 0
      || moat_nft_elems_ident_reach (add, ident, p.a[1]) < 0)
    return moat_error_nomem (err, "nft6-layout");
  if (strcmp (mode, "v4") == 0)
    return moat_nft_policy_replace (nft, p.a[0], false, true, NULL, NULL, ident, add, err);
  if (strcmp (mode, "join") != 0)
    return usage ();
  if (moat_nft_elems_twin6 (add, add, addr6_of, &p) < 0)
    return moat_error_nomem (err, "nft6-layout");
  return moat_nft_policy_replace2 (nft, p.a[0], &p.a6[0], false, true, NULL, NULL, NULL, add, err);
}

int
main (int argc, char **argv)
{
  struct moat_nft_member m = { 0 };
  struct moat_nft *nft = NULL;
  moat_err_t err = { 0 };
  int r;

  if (argc == 8 && strcmp (argv[1], "policy") == 0)
    {
      if (moat_nft_open (&nft, &err) < 0 || policy (nft, argv, &err) < 0)
        {
          fprintf (stderr, "nft6-layout: %s\n", err.msg);
          moat_nft_close (nft);
          return 1;
        }
      moat_nft_close (nft);
      return 0;
    }
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
