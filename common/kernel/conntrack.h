/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CONNTRACK_H
#define MOAT_CONNTRACK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* Forgetting flows: conntrack entries deleted through ctnetlink.
 *
 * moat's rules judge every packet of a flow in its opening direction anew
 * (nft.h), so a revoke, an expiry or a policy change cuts what the opener
 * sends at its next packet. What the far end sends is a reply and passes
 * while the flow's conntrack entry lives. At DEL moat ends every flow
 * naming the address, so that no reply of one reaches the container the
 * address goes to next. (One dump walks the host's whole conntrack table,
 * ~10 ms with 262,144 buckets: too slow for a revoke's 5 ms.) */

/* Deletes every IPv4 conntrack entry of the host's network namespace that
 * names `addr` in either direction, as source or destination. Entries
 * already gone are fine. Returns the number deleted, or -1 (MOAT_E_NFT)
 * when the kernel cannot be asked (no nf_conntrack_netlink). */
int moat_ct_forget_addr (struct in_addr addr, moat_err_t *err);

/* The same for the IPv6 table and an IPv6 address (a dual-stack
 * container's). */
int moat_ct_forget_addr6 (const struct in6_addr *addr, moat_err_t *err);

/* The same for several addresses, in one dump. */
int moat_ct_forget_addrs (const struct in_addr *addrs, size_t n, moat_err_t *err);

/* moat_ct_forget_addr in a thread of its own, so that the dump's walk of
 * the table overlaps another wait in the kernel (a DEL's link removal,
 * which waits for RCU). Start it, do the other work, then finish: that
 * joins it and returns what moat_ct_forget_addr returned, with its error
 * in *err. Without a thread (pthread_create failed) start runs it at once
 * and finish hands back the outcome. */
struct moat_ct_job
{
  struct in_addr addr;
  int result;
  moat_err_t err;
  bool threaded;
  unsigned long thread; /* pthread_t */
};

void moat_ct_forget_start (struct moat_ct_job *job, struct in_addr addr);
int moat_ct_forget_finish (struct moat_ct_job *job, moat_err_t *err);

#endif
