/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_TYPES_H
#define MOAT_TYPES_H

/* Small types shared by every layer: the parsers fill them, the state
 * records keep them, the ruleset turns them into set elements. Nothing
 * here knows where they come from or where they go. */

#include <netinet/in.h>
#include <stdint.h>
#include <stdbool.h>

#define MOAT_MAC_LEN 6

/* A network's name names its state directory and "<name>.lock" (NAME_MAX). */
#define MOAT_NETWORK_NAME_MAX 250

/* One label, from args.cni.labels, io.moat.labels or the ceiling. */
struct moat_label
{
  char *key;
  char *value;
};

struct moat_ports
{
  uint8_t proto;   /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, or 0 = any */
  uint16_t lo, hi; /* 1 <= lo <= hi; 0,0 when no port (icmp, any) */
};

/* addr (addr6 when v6) is the network address: its host bits are zero.
 * An IPv6 range has a meaning for a dual-stack container only (its IPv6
 * twin sets; docs/design.md, "IPv6"). */
struct moat_acl
{
  struct in_addr addr;
  int prefixlen; /* 0-32, or 0-128 when v6 */
  struct moat_ports ports;
  _Bool v6;
  struct in6_addr addr6;
};

/* The netmask of a prefix length (0-32), in network byte order. */
static inline in_addr_t
moat_prefix_mask (int prefixlen)
{
  return prefixlen == 0 ? 0 : htonl (~0u << (32 - prefixlen));
}

/* 240.0.0.0/4 (reserved, never routed): the internal IPv4 keys of
 * IPv6-only containers come from it (docs/design.md, "IPv6"), so no
 * network's "subnet" nor a delegated plugin's address may lie in it, and
 * an address in it is a key. */
#define MOAT_KEY4_NET 0xf0000000u
static inline bool
moat_key4_range_has (struct in_addr a)
{
  return (ntohl (a.s_addr) & 0xf0000000u) == MOAT_KEY4_NET;
}

/* Dotted-quad IPv4 (inet_pton), and ADDR/LEN with LEN 0-32: 0 or -1. */
int moat_parse_ipv4 (const char *s, struct in_addr *ret_addr);
int moat_parse_cidr (const char *s, struct in_addr *ret_addr, int *ret_prefixlen);

/* A hex digit's value, or -1. */
int moat_hex_digit (char c);

/* Formats aa:bb:cc:dd:ee:ff into buf (>= 18 bytes); parses it back (0 / -1). */
void moat_mac_format (const unsigned char mac[MOAT_MAC_LEN], char *buf);
int moat_mac_parse (const char *s, unsigned char ret_mac[MOAT_MAC_LEN]);

#endif
