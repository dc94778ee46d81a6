/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_IDENTITIES_H
#define MOAT_IDENTITIES_H

/* The identity registry on disk (what an identity is: model/policy.h).
 * Under <run dir>/<network>/idents/:
 *   <h>.json     the identity: its labels and selectors, canonical text
 *   <h>/<addr>   one empty file per member, named by its address
 *                ("<IPv4>,<IPv6>" for a dual-stack member)
 * <h> is a keyed hash of the network and the identity (names.h), claimed
 * for the network in <run dir>/.idents/<h>, which holds the network's name.
 * Caller holds the network's lock. */

#include <netinet/in.h>
#include <stdbool.h>

#include "base/error.h"
#include "model/policy.h"

/* The identity's name (names.h) for the canonical text `text`, with "_N"
 * after it when the network has another identity of that name or another
 * network owns it. Creates <name>.json and <name>/ when new. */
int moat_ident_ensure (const char *network, const char *text, char name[MOAT_NFT_IDENT_MAX + 1],
                       moat_err_t *err);

/* The attachment's member file in its identity (rec->ident). */
int moat_ident_member_add (const struct moat_record *rec, moat_err_t *err);
int moat_ident_member_remove (const struct moat_record *rec, moat_err_t *err);

/* Does identity `ident` have a member other than `rec`? Asked before `rec`
 * joins; takes `rec`'s member file away. 1 yes, 0 no, -1 error. */
int moat_ident_has_other_member (const struct moat_record *rec, const char *ident, moat_err_t *err);

/* A dual-stack member's two addresses. */
struct moat_addr6_pair
{
  struct in_addr addr;
  struct in6_addr addr6;
};

/* Every identity of the network; with members, their addresses too, and
 * the IPv6 address of each dual-stack member (`pairs`, in no order). */
struct moat_ident_list
{
  struct moat_policy *policies;
  char (*names)[MOAT_NFT_IDENT_MAX + 1];
  struct in_addr **addrs;
  struct moat_peer_group *groups;
  size_t n, cap;
  struct moat_addr6_pair *pairs;
  size_t npairs, cap_pairs;
};

/* The IPv6 address of the dual-stack member at `addr` among l's pairs:
 * 1 and *ret, or 0. */
int moat_ident_list_addr6 (const struct moat_ident_list *l, struct in_addr addr,
                           struct in6_addr *ret);

void moat_ident_list_free (struct moat_ident_list *l);
/* Reads the network's identities into `l` (zeroed by the caller); with
 * `members`, their members' addresses too. No directory: none. */
int moat_ident_list_load (const char *network, bool members, struct moat_ident_list *l,
                          moat_err_t *err);

/* Identity names are claimed for one network (<run dir>/.idents/<name>
 * holds its name), since the kernel's id_<name> objects are shared by all
 * networks: a name another network owns is never used. Once the network's
 * identities are gone from the kernel (moat_policy_network_remove or the
 * tables' teardown), its claims go. */
int moat_ident_owners_release (const char *network, moat_err_t *err);

#endif
