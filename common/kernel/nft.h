/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_NFT_H
#define MOAT_NFT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "model/annot.h"
#include "kernel/netlink.h"

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
 *   set grant_peer   ipv4_addr . ipv4_addr                   flags timeout
 *   set grant_host   ipv4_addr . inet_proto . inet_service    flags interval,timeout
 *   set grant_egress ipv4_addr . ipv4_addr . inet_proto . inet_service  flags interval,timeout
 *                    (moatctl's grants; a policy change leaves them, DEL takes them)
 *   set host_grants  ipv4_addr . inet_proto . inet_service    flags interval,timeout
 *   set egress       ipv4_addr . ipv4_addr . inet_proto . inet_service  flags interval,timeout
 *   set ingress      ipv4_addr . ipv4_addr . inet_proto . inet_service  flags interval,timeout
 *                    (ingress key: outside source . container . proto . port)
 *   set egress_deny  like egress, from a profile's reject rules: wins over egress and internet
 *   set ingress_deny like ingress, wins over it
 *   map proxy        ipv4_addr . inet_service : ipv4_addr . inet_service
 *                    (container . intercepted port : proxy . proxy port)
 *   set proxied      ipv4_addr . ipv4_addr . inet_proto . inet_service
 *                    (container . proxy . tcp . proxy port: the proxy is implicitly allowed)
 *   map src_ident    ipv4_addr : verdict  container : jump id_<identity> (policy.h)
 *   set bridges      ifname               the networks' bridges
 *   set self         ipv4_addr . ipv4_addr  container . container (its address twice:
 *                    a lookup of ip saddr . ct … ip saddr asks "is the sender
 *                    an endpoint of this packet's connection?")
 *   set guarded      ifname               host ends of container veths (as in bridge moat)
 *   chain raw        (filter, prerouting, priority raw -300, policy accept)
 *     iifname @guarded drop          (a frame the bridge hands up on the port
 *                                     itself, to a reserved group MAC 01:80:c2:
 *                                     00:00:0X, bypassed bridge moat: refused)
 *   chain prerouting (filter, prerouting, priority 0, policy accept)
 *     ct state established ct direction reply accept  (what same_bridge says first, sooner)
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
 *                    (an established flow's packets in its opening direction
 *                     walk the policy again, as a new one would: a revoke, an
 *                     expiry, a policy change or a DEL cuts open flows too)
 *   chain from_container
 *     ct state established ct direction reply accept
 *     ct state related ip saddr . ct original ip saddr @self accept
 *     ct state related ip saddr . ct reply ip saddr @self accept
 *                    (related = ICMP errors: only about the sender's own flows;
 *                     conntrack checks an error's destination, not its sender)
 *     ct state invalid drop
 *     iifname . ip daddr @members accept  (same_bridge judged it before routing)
 *     oifname . ip daddr @members goto to_peer    (a container proxy is a peer too)
 *     ip saddr . ip daddr . meta l4proto . th dport @proxied accept
 *     ip saddr . ip daddr . meta l4proto . th dport @grant_egress accept
 *     ip saddr . ip daddr . meta l4proto . th dport @egress_deny goto deny_src
 *     ip saddr @internet accept
 *     ip saddr . ip daddr . meta l4proto . th dport @egress accept
 *     goto deny_src
 *   chain to_peer
 *     ip saddr . ip daddr @grant_peer accept
 *     ip saddr vmap @src_ident
 *     goto deny_src
 *   chain same_bridge   (two containers of one bridge, decided before routing:
 *                        the kernel's ICMP redirect would otherwise spend the
 *                        rate-limit allowance the reject's ICMP needs)
 *     ct state established ct direction reply accept
 *     ct state related ip saddr . ct original ip saddr @self accept
 *     ct state related ip saddr . ct reply ip saddr @self accept
 *     ip saddr . ip daddr @grant_peer accept
 *     ip saddr vmap @src_ident
 *     goto deny_src
 *   chain to_container
 *     ct state established ct direction reply accept
 *     ct state related accept
 *     ip saddr . ip daddr . meta l4proto . th dport @ingress_deny goto deny_dst
 *     ip saddr . ip daddr . meta l4proto . th dport @ingress accept
 *     goto deny_dst
 *   chain to_host
 *     ct state established ct direction reply accept
 *     ct state related ip saddr . ct original ip saddr @self accept
 *     ct state related ip saddr . ct reply ip saddr @self accept
 *     ip saddr . meta l4proto . th dport @host_grants accept
 *     ip saddr . meta l4proto . th dport @grant_host accept
 *     ip saddr . ip daddr . meta l4proto . th dport @proxied accept
 *     goto deny_src
 *   chain deny_src
 *     ip saddr @quiet drop
 *     meta l4proto tcp reject with tcp reset
 *     reject with icmpx admin-prohibited
 *   chain deny_dst
 *     ip daddr @quiet drop
 *     meta l4proto tcp reject with tcp reset
 *     reject with icmpx admin-prohibited
 *   chain proxy (nat, prerouting, priority dstnat -100, policy accept)
 *     iifname . ip saddr @members iifname . ip daddr != @members meta l4proto tcp
 *       dnat ip to ip saddr . tcp dport map @proxy
 *   set id_<identity> ipv4_addr            the addresses an identity may reach
 *   chain id_<identity>                    one per identity, made as it appears
 *     ip daddr @id_<identity> accept
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
/* An identity's name (policy.h): 16 hex digits, maybe "_N" after. */
#define MOAT_NFT_IDENT_MAX 24

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

/* Adds the member's elements (members, self, bridges, ports, guarded, and quiet/
 * internet/masq when set) in one batch. When a table is missing, one batch creates
 * it (NLM_F_EXCL, so two racing creators cannot duplicate rules: the loser
 * retries the element-only batch) with its sets, chains and the elements.
 * Every ack is checked; errors carry MOAT_E_NFT and name the object that
 * failed (`set "members": ...`). */
int moat_nft_member_add (struct moat_nft *nft, const struct moat_nft_member *m, moat_err_t *err);

/* Removes, in one batch, every element the member added (whatever its
 * flags say now; not its bridge's) and every element of a policy or
 * grant set that names its address (either side of grant_peer), so nothing
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

/* 1 when the kernel's tables still hold a bridge or a guarded port: a
 * container of another state directory (MOAT_RUN_DIR) uses them; 0 when
 * not, or when the tables are gone. */
int moat_nft_in_use (struct moat_nft *nft, moat_err_t *err);

/* The MAC and address of the `ports` element of a host end: 1 when found,
 * 0 when there is none (GC of a port whose record was lost). */
int moat_nft_port_find (struct moat_nft *nft, const char *host_ifname,
                        unsigned char ret_mac[MOAT_MAC_LEN], struct in_addr *ret_addr,
                        moat_err_t *err);

/* Deletes both moat tables (the last DEL anywhere). ENOENT is success. */
int moat_nft_teardown (struct moat_nft *nft, moat_err_t *err);

/* A container's policy elements (DESIGN §3), gathered before one
 * moat_nft_policy_replace. Port ranges become intervals: a protocol
 * without ports (icmp, any) covers every port, "any" every protocol.
 * The adders return -1 only when out of memory. */
struct moat_ports;
struct moat_acl;
struct moat_nft_elems;
enum moat_nft_acl
{
  MOAT_NFT_EGRESS,
  MOAT_NFT_EGRESS_DENY,
  MOAT_NFT_INGRESS,
  MOAT_NFT_INGRESS_DENY,
};
struct moat_nft_elems *moat_nft_elems_new (void);
void moat_nft_elems_free (struct moat_nft_elems *e);
static inline void
moat_nft_elems_freep (struct moat_nft_elems **e)
{
  moat_nft_elems_free (*e);
}
size_t moat_nft_elems_count (const struct moat_nft_elems *e);
/* Element i as "set: key[ : value]", as nft would write it (tests, errors). */
void moat_nft_elems_format (const struct moat_nft_elems *e, size_t i, char *buf, size_t size);
int moat_nft_elems_host (struct moat_nft_elems *l, struct in_addr addr, const struct moat_ports *p);
int moat_nft_elems_acl (struct moat_nft_elems *l, enum moat_nft_acl kind, struct in_addr addr,
                        const struct moat_acl *acl);
int moat_nft_elems_internet (struct moat_nft_elems *l, struct in_addr addr);
/* The container's tcp `port` goes to proxy:proxy_port (the map) */
int moat_nft_elems_proxy (struct moat_nft_elems *l, struct in_addr addr, uint16_t port,
                          struct in_addr proxy, uint16_t proxy_port);
/* ... where it may then go (the allowance, once per container). */
int moat_nft_elems_proxied (struct moat_nft_elems *l, struct in_addr addr, struct in_addr proxy,
                            uint16_t proxy_port);

/* moatctl's grants, in sets the policy never touches (its sweep leaves
 * them; a DEL takes them). A grant opens what it names whatever the policy
 * says. timeout_ms 0: no expiry; else the kernel removes the element. */
int moat_nft_elems_grant_peer (struct moat_nft_elems *l, struct in_addr from, struct in_addr to,
                               uint64_t timeout_ms);
int moat_nft_elems_grant_host (struct moat_nft_elems *l, struct in_addr addr,
                               const struct moat_ports *p, uint64_t timeout_ms);
int moat_nft_elems_grant_egress (struct moat_nft_elems *l, struct in_addr addr,
                                 const struct moat_acl *acl, uint64_t timeout_ms);

/* An identity's kernel objects: its chain id_<ident>, jumped to through
 * src_ident from its members' addresses, and its set id_<ident> of the
 * addresses it may reach, looked up in that chain. */
int moat_nft_elems_ident_member (struct moat_nft_elems *l, struct in_addr addr, const char *ident);
int moat_nft_elems_ident_reach (struct moat_nft_elems *l, const char *ident, struct in_addr addr);

/* In one batch, in this order: with `sweep`, removes every policy element
 * naming `addr` in the fixed policy sets (host_grants, egress,
 * ingress and their deny sets, proxy, proxied, src_ident, and internet
 * unless `keep_internet`: the network gave it; finding them takes a dump of
 * each set; the grant sets are left), removes `del`, deletes identity
 * `drop_ident`'s objects, creates `create_ident`'s (which must not exist),
 * adds `add`. Any of them may be NULL. The kernel applies all of it or
 * none. */
int moat_nft_policy_replace (struct moat_nft *nft, struct in_addr addr, bool sweep,
                             bool keep_internet, struct moat_nft_elems *del, const char *drop_ident,
                             const char *create_ident, struct moat_nft_elems *add, moat_err_t *err);

/* 1 when an element of `l` is still in the kernel with more than max_ms
 * to live (or no timeout), 0 when each is gone or goes within max_ms:
 * whether a re-add with a shorter timeout took (kernels before set-element
 * timeout updates keep the old one). */
int moat_nft_elems_outlive (struct moat_nft *nft, const struct moat_nft_elems *l, uint64_t max_ms,
                            moat_err_t *err);

/* 1 if the identity's chain exists, 0 if not (or no table), -1 on error. */
int moat_nft_ident_exists (struct moat_nft *nft, const char *ident, moat_err_t *err);

/* Deletes the identities' chains and sets (NULL-terminated list) in one
 * batch; missing ones are fine. */
int moat_nft_idents_drop (struct moat_nft *nft, char *const *idents, moat_err_t *err);

/* moatctl restore: in one batch, deletes moat's tables (whatever layout
 * an older moat gave them), makes them anew, adds every member's elements,
 * makes the identities' chains and sets, and adds `add`. All or nothing. */
int moat_nft_restore (struct moat_nft *nft, const struct moat_nft_member *members, size_t n,
                      char *const *idents, struct moat_nft_elems *add, moat_err_t *err);

/* moatctl check: compares the kernel with what the records say (the
 * members' elements, the identities' sets, `expected`), calling `report`
 * for each difference ("set: key" as nft_elems_format writes it, or "table
 * inet moat" when a table is missing, whose elements are then not listed
 * one by one). Element timeouts are not compared; elements of `unsure`
 * (grants about to time out) may be there or not. Returns the number of
 * differences, or -1. */
typedef void (*moat_nft_diff_fn) (void *data, bool missing, const char *what);
int moat_nft_compare (struct moat_nft *nft, const struct moat_nft_member *members, size_t n,
                      char *const *idents, const struct moat_nft_elems *expected,
                      const struct moat_nft_elems *unsure, moat_nft_diff_fn report, void *data,
                      moat_err_t *err);

/* Batch builders, exposed for unit tests (no root needed): they return a
 * batch ready to send, or NULL with *err set. `seq` is the first sequence
 * number used. */
struct nftnl_batch *moat_nft_build_tables (uint32_t seq, moat_err_t *err);
struct nftnl_batch *moat_nft_build_member (const struct moat_nft_member *m, bool add, uint32_t seq,
                                           moat_err_t *err);

#endif
