/* SPDX-License-Identifier: Apache-2.0 */
/* hack/names-collide: finds, offline, two inputs whose moat names collide
 * under a chosen name key, for bats/names.bats (which seeds that key). It
 * calls the real name functions (common/state/names.c), so what it finds is what
 * the binaries compute. Distinguished-point collision search: walks
 * x -> name(input(x)) from many starts, stops each walk at a point whose
 * low DBITS bits are zero, and a point reached from two starts gives a
 * collision where the two walks merge.
 *
 *   make build/libmoat.a
 *   cc -O2 -Icommon -o build/names-collide hack/names-collide.c build/libmoat.a \
 *      $(pkg-config --libs jansson libnl-3.0 libnl-route-3.0 libnftnl libmnl libseccomp libsodium)
 *   build/names-collide host KEYHEX NETWORK PREFIX
 *       two container ids PREFIX<13 hex> whose host ends collide (52 bits:
 *       about 2^26 names, a minute)
 *   build/names-collide ident KEYHEX NETWORK_A NETWORK_B PREFIX
 *       two label values PREFIX<16 hex>, one per network, whose identities
 *       (the label app=<value> and nothing else) collide (64 bits: about
 *       2^32 names, an hour or more on one core; a collision inside one
 *       network is printed and the search goes on)
 * The walk starts are fixed, so a run repeats: with the key 00 01 ... 0f,
 * "host ... moat-collide mxc" and "ident ... mcol-a mcol-b v" print the
 * pairs bats/names.bats uses. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/names.h"

struct search
{
  struct moat_names_key key;
  bool ident;
  const char *net[2];
  const char *prefix;
  uint64_t mask; /* the name's bits */
};

/* The input x stands for: its network and its text. */
static const char *
input_of (const struct search *s, uint64_t x, char *text, size_t size)
{
  if (!s->ident)
    {
      snprintf (text, size, "%s%013" PRIx64 "@eth0", s->prefix, x);
      return s->net[0];
    }
  const char *net = s->net[x & 1];
  snprintf (text, size,
            "{\"dependsDeny\":[],\"exposeDeny\":[],\"labels\":{\"@sys:network\":\"%s\","
            "\"app\":\"%s%016" PRIx64 "\"}}",
            net, s->prefix, x);
  return net;
}

static uint64_t
step (const struct search *s, uint64_t x)
{
  char text[512], name[25];
  const char *net = input_of (s, x, text, sizeof (text));

  if (s->ident)
    moat_ident_name (&s->key, net, text, 0, name);
  else
    moat_host_ifname (&s->key, net, text, name);
  return strtoull (s->ident ? name : name + 2, NULL, 16);
}

struct point
{
  uint64_t end, start, len; /* len 0: empty slot */
};

#define TABLE_BITS 22

/* Where two walks that reach one point merge: their inputs differ, their
 * names do not. 0 when one walk started on the other. */
static int
merge (const struct search *s, uint64_t a, uint64_t la, uint64_t b, uint64_t lb, uint64_t *ret_a,
       uint64_t *ret_b)
{
  for (; la > lb; la--)
    a = step (s, a);
  for (; lb > la; lb--)
    b = step (s, b);
  if (a == b)
    return 0;
  while (step (s, a) != step (s, b))
    {
      a = step (s, a);
      b = step (s, b);
    }
  *ret_a = a;
  *ret_b = b;
  return 1;
}

static void
report (const struct search *s, uint64_t a, uint64_t b)
{
  char ta[512], tb[512];
  const char *na = input_of (s, a, ta, sizeof (ta)), *nb = input_of (s, b, tb, sizeof (tb));

  printf ("name %016" PRIx64 "\n  %s %s\n  %s %s\n", step (s, a), na, ta, nb, tb);
  fflush (stdout);
}

static int
parse_key (const char *hex, struct moat_names_key *ret)
{
  if (strlen (hex) != 2 * MOAT_NAMES_KEY_LEN)
    return -1;
  for (int i = 0; i < MOAT_NAMES_KEY_LEN; i++)
    if (sscanf (hex + 2 * i, "%2hhx", &ret->bytes[i]) != 1)
      return -1;
  return 0;
}

int
main (int argc, char **argv)
{
  struct search s = { 0 };
  int dbits;
  uint64_t seed = 0x1234567, size = 1u << TABLE_BITS;
  struct point *table = calloc (size, sizeof (*table));

  s.ident = argc == 6 && strcmp (argv[1], "ident") == 0;
  if (!table || !(s.ident || (argc == 5 && strcmp (argv[1], "host") == 0))
      || parse_key (argv[2], &s.key) < 0)
    {
      fprintf (stderr,
               "usage: %s host KEYHEX NETWORK PREFIX\n"
               "       %s ident KEYHEX NETWORK_A NETWORK_B PREFIX\n",
               argv[0], argv[0]);
      return 2;
    }
  s.net[0] = argv[3];
  s.net[1] = s.ident ? argv[4] : argv[3];
  s.prefix = argv[argc - 1];
  s.mask = s.ident ? ~0ull : (1ull << 52) - 1;
  dbits = s.ident ? 14 : 9;
  for (;;)
    {
      uint64_t dmask = (1ull << dbits) - 1, max = 40ull << dbits, x, start, len = 0, a, b;
      size_t slot;

      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      x = start = seed & s.mask;
      for (; (x & dmask) != 0 && len < max; len++)
        x = step (&s, x);
      if (len >= max)
        continue; /* a cycle without a distinguished point */
      slot = (x >> dbits) & (size - 1);
      while (table[slot].len && table[slot].end != x)
        slot = (slot + 1) & (size - 1);
      if (!table[slot].len)
        {
          table[slot] = (struct point){ x, start, len + 1 };
          continue;
        }
      if (!merge (&s, table[slot].start, table[slot].len - 1, start, len, &a, &b))
        continue;
      report (&s, a, b);
      if (!s.ident || (a & 1) != (b & 1))
        return 0;
    }
}
