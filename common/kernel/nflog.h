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
 * (60) and the transport header's first 8 bytes, rounded up. */
#define MOAT_NFLOG_COPY 128

/* One logged packet: its IPv4 header and the start of its transport's. */
struct moat_nflog_flow
{
  uint16_t group;
  struct in_addr saddr, daddr;
  uint8_t proto;         /* IPPROTO_* */
  bool ports;            /* tcp, udp, udplite or sctp, first fragment: the ports below */
  uint16_t sport, dport; /* host order */
  bool icmp;             /* icmp, first fragment: type and code */
  uint8_t icmp_type, icmp_code;
};

/* One netlink message (`len` bytes at `buf`, as read) into *ret: 1 for
 * an IPv4 packet of nfnetlink_log, 0 for any other well-formed message
 * (another family, a config ack), -1 when it is malformed or its payload
 * is no IPv4 header. No I/O: bytes in, flow out. */
int moat_nflog_parse (const void *buf, size_t len, struct moat_nflog_flow *ret);

/* The IPv4 header and what follows it (`len` bytes, maybe cut short at
 * MOAT_NFLOG_COPY) into the addresses, protocol, ports or ICMP type of
 * *ret. -1 when it is no IPv4 header. */
int moat_nflog_parse_ipv4 (const uint8_t *pkt, size_t len, struct moat_nflog_flow *ret);

/* A socket bound to NFLOG `group`, copying MOAT_NFLOG_COPY bytes of each
 * packet, its reads timing out after `timeout_ms` (0: never) so that the
 * caller can look at a stop flag. MOAT_E_NFT: "NFLOG group N: ..." (EPERM:
 * another listener has the group). */
int moat_nflog_open (uint16_t group, unsigned timeout_ms, struct mnl_socket **ret, moat_err_t *err);

#endif
