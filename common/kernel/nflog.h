/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_NFLOG_H
#define MOAT_NFLOG_H

/* Refused flows as the kernel logs them (docs/design.md, "Refused
 * flows"): the deny chains' `log group MOAT_LOG_GROUP` (ruleset.h) hands
 * each refused packet, within its container's rate, to nfnetlink_log;
 * here a NETLINK_NETFILTER socket binds that group and reads the packets
 * back as flows. One listener per group and network namespace: the
 * kernel refuses a second (EPERM). */

#include <libmnl/libmnl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Bytes of each packet the kernel copies: the IPv4 header with options
 * (60) and the transport header's first 8 bytes, rounded up; IPv6's
 * fixed header (40), a few extension headers and the transport's 8. */
#define MOAT_NFLOG_COPY 128

/* One logged packet: its IP header and the start of its transport's. */
struct moat_nflog_flow
{
  uint16_t group;
  int family;                     /* AF_INET or AF_INET6 */
  struct in_addr saddr, daddr;    /* AF_INET */
  struct in6_addr saddr6, daddr6; /* AF_INET6 */
  uint8_t proto;                  /* IPPROTO_*; IPv6: the header after the extension headers */
  bool ports;                     /* tcp, udp, udplite or sctp, first fragment: the ports below */
  uint16_t sport, dport;          /* host order */
  bool icmp;                      /* icmp (IPv4) or icmpv6 (IPv6), first fragment: type and code */
  uint8_t icmp_type, icmp_code;
};

/* One netlink message (`len` bytes at `buf`, as read) into *ret: 1 for
 * an IPv4 or IPv6 packet of nfnetlink_log, 0 for any other well-formed
 * message (another family, a config ack), -1 when it is malformed or its
 * payload is no header of its family. No I/O: bytes in, flow out. */
int moat_nflog_parse (const void *buf, size_t len, struct moat_nflog_flow *ret);

/* The IPv4 header and what follows it (`len` bytes, maybe cut short at
 * MOAT_NFLOG_COPY) into the addresses, protocol, ports or ICMP type of
 * *ret. -1 when it is no IPv4 header. */
int moat_nflog_parse_ipv4 (const uint8_t *pkt, size_t len, struct moat_nflog_flow *ret);

/* The same for an IPv6 header: its extension headers (hop-by-hop,
 * routing, fragment, destination options, AH) are skipped to the
 * transport's; a later fragment, or headers cut short before it, leave
 * the ports and ICMPv6 type unknown. -1 when it is no IPv6 header. */
int moat_nflog_parse_ipv6 (const uint8_t *pkt, size_t len, struct moat_nflog_flow *ret);

/* A socket bound to NFLOG `group`, copying MOAT_NFLOG_COPY bytes of each
 * packet, its reads timing out after `timeout_ms` (0: never) so that the
 * caller can look at a stop flag. MOAT_E_NFT: "NFLOG group N: ..." (EPERM:
 * another listener has the group). */
int moat_nflog_open (uint16_t group, unsigned timeout_ms, struct mnl_socket **ret, moat_err_t *err);

#endif
