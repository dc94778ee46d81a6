/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_NFT_H
#define MOAT_NFT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/types.h"
#include "ruleset/elems.h"
#include "ruleset/ruleset.h"

/* The kernel side of moat's nftables ruleset: the tables described in
 * ruleset/ruleset.h, filled with the elements of ruleset/elems.h, sent as
 * netlink batches (implementation: kernel/nft/, behind its internal.h).
 * A verb opens one struct moat_nft and passes it down to every call. */

struct nftnl_batch;

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

/* Removes every element of a policy or grant set that names `addr`
 * (either side of grant_peer), as a DEL does, for an address with no
 * member elements (cluster mode: another node's container). */
int moat_nft_address_forget (struct moat_nft *nft, struct in_addr addr, moat_err_t *err);
/* The same for `n` addresses at once: one dump of each set for all. */
int moat_nft_addresses_forget (struct moat_nft *nft, const struct in_addr *addrs, size_t n,
                               moat_err_t *err);
/* The same, with the twins' elements naming `addr6` (NULL: none). */
int moat_nft_address_forget2 (struct moat_nft *nft, struct in_addr addr,
                              const struct in6_addr *addr6, moat_err_t *err);

/* Removes the network's bridge from the bridges set (its last member gone
 * and the bridge deleted). Already gone is success. */
int moat_nft_bridge_del (struct moat_nft *nft, const char *bridge, moat_err_t *err);

/* Removes a network's resolvers elements (its name server stopped with its
 * last member). Already gone is success. */
int moat_nft_resolvers_del (struct moat_nft *nft, const char *bridge, struct in_addr gateway,
                            const struct in6_addr *gateway6, moat_err_t *err);

/* CHECK: 0 when every element of the member is in the kernel, else
 * MOAT_E_DRIFT naming the first missing one (`nft set inet moat members:
 * element "moat0" . 10.1.0.2 missing`). */
int moat_nft_member_check (struct moat_nft *nft, const struct moat_nft_member *m, moat_err_t *err);

/* 1 when the kernel's tables still hold a bridge, a guarded port or a
 * host-network container's cgroup: a
 * container of another state directory (MOAT_RUN_DIR) uses them; 0 when
 * not, or when the tables are gone. */
int moat_nft_in_use (struct moat_nft *nft, moat_err_t *err);

/* The MAC and address of the `ports` element of a host end: 1 when found,
 * 0 when there is none (GC of a port whose record was lost). */
int moat_nft_port_find (struct moat_nft *nft, const char *host_ifname,
                        unsigned char ret_mac[MOAT_MAC_LEN], struct in_addr *ret_addr,
                        moat_err_t *err);

/* The MAC and global IPv6 address of the ports6 elements of a host end
 * (an IPv6-only port has no `ports` element): 1 found, 0 none. */
int moat_nft_port6_find (struct moat_nft *nft, const char *host_ifname,
                         unsigned char ret_mac[MOAT_MAC_LEN], struct in6_addr *ret_addr,
                         moat_err_t *err);

/* Makes both moat tables when the inet one is missing (a host-network
 * container's attach, docs/design.md, "Host-network containers"); there
 * already is success. */
int moat_nft_tables_ensure (struct moat_nft *nft, moat_err_t *err);
/* Makes the IPv6 half of the tables (which must be there) when it is
 * missing: a dual-stack network's host-network container (docs/design.md,
 * "Host-network containers"), a dual-stack node of a cluster before any
 * dual-stack member here. There already is success. */
int moat_nft_half6_ensure (struct moat_nft *nft, moat_err_t *err);

/* Deletes both moat tables (the last DEL anywhere). ENOENT is success. */
int moat_nft_teardown (struct moat_nft *nft, moat_err_t *err);

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

/* The same for a dual-stack container (`addr6`; NULL: IPv4 only): the
 * sweep also takes the IPv6 twins' elements naming addr6, a dropped
 * identity takes its IPv6 chain and set id_<ident>6 too, a created one gets
 * them when `add` names a set of the IPv6 half, and an identity whose
 * IPv6 chain `add` needs but the kernel lacks (made before its first
 * dual-stack member) gets it in the batch (docs/design.md, "IPv6"). */
int moat_nft_policy_replace2 (struct moat_nft *nft, struct in_addr addr,
                              const struct in6_addr *addr6, bool sweep, bool keep_internet,
                              struct moat_nft_elems *del, const char *drop_ident,
                              const char *create_ident, struct moat_nft_elems *add,
                              moat_err_t *err);

/* In one batch: creates the identities `create_idents` (NULL-terminated;
 * none may exist) and adds `add`, the IPv6 chains of identities it names
 * made when missing (as moat_nft_policy_replace2). Many joins at once
 * (cluster mode's first sync). */
int moat_nft_idents_join (struct moat_nft *nft, char *const *create_idents,
                          struct moat_nft_elems *add, moat_err_t *err);

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
/* The same, with `with6` their IPv6 twins id_<ident>6 too (a dual-stack
 * network's identities). */
int moat_nft_idents_drop2 (struct moat_nft *nft, char *const *idents, bool with6, moat_err_t *err);

/* The layout moat's inet table was made in (its comment "moat layout N";
 * ruleset/ruleset.h's MOAT_RULESET_LAYOUT is this moat's): 1 with *ret
 * set (0 for a table made before layouts), 0 when there is no table, -1
 * on error. */
int moat_nft_layout (struct moat_nft *nft, unsigned *ret, moat_err_t *err);

/* moatctl restore: in one batch, deletes moat's tables (whatever layout
 * an older moat gave them), makes them anew, adds every member's elements,
 * makes the identities' chains and sets, and adds `add`. All or nothing. */
int moat_nft_restore (struct moat_nft *nft, const struct moat_nft_member *members, size_t n,
                      char *const *idents, struct moat_nft_elems *add, moat_err_t *err);

/* moatctl check: compares the kernel with what the records say (the
 * members' elements, the identities' sets, `expected`), calling `report`
 * for each difference ("set: key" as moat_nft_elems_format writes it, or "table
 * inet moat" when a table is missing, whose elements are then not listed
 * one by one). Element timeouts are not compared; elements of `unsure`
 * (grants about to time out) may be there or not. Returns the number of
 * differences, or -1. */
typedef void (*moat_nft_diff_fn) (void *data, bool missing, const char *what);
int moat_nft_compare (struct moat_nft *nft, const struct moat_nft_member *members, size_t n,
                      char *const *idents, const struct moat_nft_elems *expected,
                      const struct moat_nft_elems *unsure, moat_nft_diff_fn report, void *data,
                      moat_err_t *err);

/* Counters (docs/design.md, "Counters"): what the kernel counted for one
 * container address, in the sets allowed_out, allowed_in, refused_out and
 * refused_in (enum moat_count, in that order). */
enum moat_count
{
  MOAT_COUNT_ALLOWED_OUT,
  MOAT_COUNT_ALLOWED_IN,
  MOAT_COUNT_REFUSED_OUT,
  MOAT_COUNT_REFUSED_IN,
  MOAT_COUNT_KINDS,
};
struct moat_nft_counter
{
  uint64_t packets, bytes;
};
struct moat_nft_counters
{
  bool v6; /* an entry of the IPv6 twins (allowed_out6, ...): addr6 */
  struct in_addr addr;
  struct in6_addr addr6;
  struct moat_nft_counter c[MOAT_COUNT_KINDS];
};
/* Every address of the four sets and of their IPv6 twins with its
 * counters (a malloc'd array sorted by family then address, one entry
 * each, its length in *ret_n; none when the table is missing). */
int moat_nft_counters_read (struct moat_nft *nft, struct moat_nft_counters **ret, size_t *ret_n,
                            moat_err_t *err);
/* The address's entry of `v` (as moat_nft_counters_read made it), or NULL. */
const struct moat_nft_counters *moat_nft_counters_find (const struct moat_nft_counters *v, size_t n,
                                                        struct in_addr addr);
/* The IPv6 address's entry, or NULL. */
const struct moat_nft_counters *moat_nft_counters_find6 (const struct moat_nft_counters *v,
                                                         size_t n, const struct in6_addr *addr);

/* Batch builders, exposed for unit tests (no root needed): they return a
 * batch ready to send, or NULL with *err set. `seq` is the first sequence
 * number used. */
struct nftnl_batch *moat_nft_build_tables (uint32_t seq, moat_err_t *err);
/* The IPv6 half alone (what the first dual-stack ADD adds to tables that
 * are there). */
struct nftnl_batch *moat_nft_build_half6 (uint32_t seq, moat_err_t *err);
struct nftnl_batch *moat_nft_build_member (const struct moat_nft_member *m, bool add, uint32_t seq,
                                           moat_err_t *err);

/* What a network's last DEL leaves (docs/design.md, "What the last
 * container leaves"). moat_nft_attached: 1 when `guarded` holds a port
 * (some container, of any state directory, is attached), 0 when not or
 * when the tables are gone. moat_nft_bridges: the names in `bridges`
 * (none when the tables are gone), a new NULL-terminated vector. */
int moat_nft_attached (struct moat_nft *nft, moat_err_t *err);
int moat_nft_bridges (struct moat_nft *nft, char ***ret, moat_err_t *err);

#endif
