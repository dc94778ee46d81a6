/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_NFT_H
#define MOAT_NFT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "netlink.h"

struct nftnl_batch;

/* moat's nftables layout (DESIGN §4). Two tables, created once, whose rules
 * never change with the number of containers: per-container policy is set
 * elements keyed by the container's address.
 *
 * table inet moat
 *   set members      ifname . ipv4_addr   bridge . container address
 *   set quiet        ipv4_addr            containers whose network drops (reject: false)
 *   set internet     ipv4_addr            containers that may reach any outside address
 *   set masq         ipv4_addr            containers masqueraded on the way out
 *   set peers        ipv4_addr . ipv4_addr                   flags timeout
 *   set host_grants  ipv4_addr . inet_proto . inet_service    flags interval,timeout
 *   set egress       ipv4_addr . ipv4_addr . inet_proto . inet_service  flags interval,timeout
 *   set ingress      ipv4_addr . ipv4_addr . inet_proto . inet_service  flags interval,timeout
 *                    (ingress key: outside source . container . proto . port)
 *   set bridges      ifname               the networks' bridges
 *   chain prerouting (filter, prerouting, priority 0, policy accept)
 *     iifname . ip saddr @members iifname . ip daddr @members jump same_bridge
 *   chain forward  (filter, forward, priority 0, policy accept)
 *     iifname . ip saddr @members jump from_container
 *     meta nfproto ipv4 iifname @bridges drop        (fail closed: no member, no way)
 *     oifname . ip daddr @members jump to_container
 *   chain input    (filter, input, priority 0, policy accept)
 *     iifname . ip saddr @members jump to_host
 *     meta nfproto ipv4 iifname @bridges drop
 *   chain output   (filter, output, priority 0, policy accept)
 *     icmp type redirect oifname . ip daddr @members drop
 *   chain from_container
 *     ct state established,related accept
 *     ct state invalid drop
 *     oifname . ip daddr @members goto to_peer
 *     ip saddr @internet accept
 *     ip saddr . ip daddr . meta l4proto . th dport @egress accept
 *     goto deny_src
 *   chain to_peer
 *     ip saddr . ip daddr @peers accept
 *     goto deny_src
 *   chain same_bridge   (two containers of one bridge, decided before routing:
 *                        the kernel's ICMP redirect would otherwise spend the
 *                        rate-limit allowance the reject's ICMP needs)
 *     ct state established,related accept
 *     ip saddr . ip daddr @peers accept
 *     goto deny_src
 *   chain to_container
 *     ct state established,related accept
 *     ip saddr . ip daddr . meta l4proto . th dport @ingress accept
 *     ip daddr @quiet drop
 *     meta l4proto tcp reject with tcp reset
 *     reject with icmpx admin-prohibited
 *   chain to_host
 *     ct state established,related accept
 *     ip saddr . meta l4proto . th dport @host_grants accept
 *     goto deny_src
 *   chain deny_src
 *     ip saddr @quiet drop
 *     meta l4proto tcp reject with tcp reset
 *     reject with icmpx admin-prohibited
 *   chain postrouting (nat, postrouting, priority srcnat 100, policy accept)
 *     ip saddr @masq oifname . ip daddr != @members masquerade
 *
 * table bridge moat
 *   set guarded  ifname                               host ends of container veths
 *   set ports    ifname . ether_addr . ipv4_addr      host end . container MAC . address
 *   chain prerouting (filter, prerouting, priority -200, policy accept)
 *     iifname @guarded jump from_port
 *   chain from_port
 *     ether type ip iifname . ether saddr . ip saddr @ports accept
 *     ether type arp iifname . ether saddr . arp saddr ip @ports
 *                    iifname . arp saddr ether . arp saddr ip @ports accept
 *     drop
 */

#define MOAT_NFT_TABLE "moat"

/* What one container contributes to the layout at CNI ADD. */
struct moat_nft_member
{
  const char *bridge;              /* moat network's bridge */
  const char *host_ifname;         /* host end of the container's veth */
  unsigned char mac[MOAT_MAC_LEN]; /* container end's MAC */
  struct in_addr addr;             /* container address */
  bool quiet;                      /* network has reject: false */
  bool internet;                   /* network has internet: true */
  bool masquerade;                 /* network has masquerade: true */
};

/* One netlink socket to nf_tables, shared by the calls below. Closing it
 * waits for the kernel to free what this socket's batches deleted (an RCU
 * grace period): DEL closes it only after removing the links, whose own
 * wait covers that one. */
struct moat_nft;
int moat_nft_open (struct moat_nft **ret, moat_err_t *err);
void moat_nft_close (struct moat_nft *nft);
static inline void
moat_nft_closep (struct moat_nft **nft)
{
  moat_nft_close (*nft);
}

/* Adds the member's elements (members, bridges, ports, guarded, and quiet/
 * internet/masq when set) in one batch. When a table is missing, one batch creates
 * it (NLM_F_EXCL, so two racing creators cannot duplicate rules: the loser
 * retries the element-only batch) with its sets, chains and the elements.
 * Every ack is checked; errors carry MOAT_E_NFT and name the object that
 * failed (`set "members": ...`). */
int moat_nft_member_add (struct moat_nft *nft, const struct moat_nft_member *m, moat_err_t *err);

/* Removes, in one batch, every element the member added (whatever its
 * flags say now; not its bridge's) and every element of peers,
 * host_grants, egress and ingress that names its address, so nothing
 * naming a gone container survives. Already gone (element, set or table) is
 * success. Once its elements are gone, the container's traffic meets the
 * bridges rules: dropped, never let through. */
int moat_nft_member_del (struct moat_nft *nft, const struct moat_nft_member *m, moat_err_t *err);

/* Removes the network's bridge from the bridges set (its last member gone
 * and the bridge deleted). Already gone is success. */
int moat_nft_bridge_del (struct moat_nft *nft, const char *bridge, moat_err_t *err);

/* CHECK: 0 when every element of the member is in the kernel, else
 * MOAT_E_DRIFT naming the first missing one (`nft set inet moat members:
 * element "moat0" . 10.1.0.2 missing`). */
int moat_nft_member_check (struct moat_nft *nft, const struct moat_nft_member *m, moat_err_t *err);

/* Deletes both moat tables (the last DEL anywhere). ENOENT is success. */
int moat_nft_teardown (struct moat_nft *nft, moat_err_t *err);

/* Batch builders, exposed for unit tests (no root needed): they return a
 * batch ready to send, or NULL with *err set. `seq` is the first sequence
 * number used. */
struct nftnl_batch *moat_nft_build_tables (uint32_t seq, moat_err_t *err);
struct nftnl_batch *moat_nft_build_member (const struct moat_nft_member *m, bool add, uint32_t seq,
                                           moat_err_t *err);

#endif
