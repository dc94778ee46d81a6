/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CONNTRACK_H
#define MOAT_CONNTRACK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* Forgetting flows: conntrack entries deleted through ctnetlink.
 *
 * moat's rules judge every packet of a flow in its opening direction anew
 * (nft.h), so a revoke, an expiry or a policy change cuts what the opener
 * sends at its next packet. What the far end sends is a reply and passes
 * as long as the flow's conntrack entry lives: these calls end it where
 * moat knows which flows lost their grant (revoke) or their endpoint (DEL,
 * and ADD of an address a gone container may have left flows on). */

/* Which flows: those whose original direction goes from `src` to an
 * address in dst/dst_prefixlen (0: any), of protocol `proto` (0: any) and,
 * for TCP/UDP, a destination port in [port_lo, port_hi] (0, 0: any). */
struct moat_ct_flows
{
  struct in_addr src;
  struct in_addr dst;
  int dst_prefixlen;
  uint8_t proto;
  uint16_t port_lo, port_hi;
};

/* Deletes every IPv4 conntrack entry of the host's network namespace that
 * names `addr` in either direction, as source or destination. Entries
 * already gone are fine. Returns the number deleted, or -1 (MOAT_E_LINK)
 * when the kernel cannot be asked (no nf_conntrack_netlink). */
int moat_ct_forget_addr (struct in_addr addr, moat_err_t *err);

/* Deletes the entries `f` names. Returns the number deleted, or -1. */
int moat_ct_forget_flows (const struct moat_ct_flows *f, moat_err_t *err);

/* The pure part, for tests: whether an entry with this original tuple
 * (addresses in network order, port in host order; port 0 for protocols
 * without ports) is one `f` names. */
bool moat_ct_flows_match (const struct moat_ct_flows *f, struct in_addr src, struct in_addr dst,
                          uint8_t proto, uint16_t dport);

#endif
