/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_APPLY_H
#define MOAT_APPLY_H

/* Applying a container's policy (model/policy.h) to the identity registry on
 * disk and to the kernel. */

#include <stdbool.h>

#include "base/error.h"
#include "kernel/nft.h"
#include "model/policy.h"

/* Applies `p` to the attachment (caller holds the network's lock): records
 * it, joins its identity, and puts the container's policy elements in place
 * in one batch, replacing whatever policy it had. On failure the container
 * is left with no policy at all (fail closed). */
int moat_policy_join (struct moat_nft *nft, struct moat_record *rec, const struct moat_policy *p,
                      moat_err_t *err);

/* Joins `n` attachments of `network` that have no policy yet (recs[i]
 * with policies[i]) as that many moat_policy_join would, reading the
 * network's identities once and putting every element and new identity
 * in the kernel in one batch (cluster mode's first sync). A dual-stack
 * one joins alone (its IPv6 twins need its peers'). On failure none of
 * the batch keeps a policy (fail closed). Caller holds the network's lock. */
int moat_policy_join_many (struct moat_nft *nft, const char *network, struct moat_record *recs,
                           const struct moat_policy *policies, size_t n, moat_err_t *err);

/* Takes the attachment out of its identity (its member file) and, as
 * `how` says, out of the kernel: MOAT_LEAVE_IDENTITY takes its address out
 * of the identity sets that hold it (a DEL, whose member removal sweeps the
 * fixed sets anyway); MOAT_LEAVE_ALL also sweeps every fixed policy set
 * for it. Does not write the record. Idempotent. */
enum moat_leave
{
  MOAT_LEAVE_STATE,
  MOAT_LEAVE_IDENTITY,
  MOAT_LEAVE_ALL,
};
int moat_policy_leave (struct moat_nft *nft, const struct moat_record *rec, enum moat_leave how,
                       moat_err_t *err);

/* Everything the network's policy puts in the kernel, derived from its
 * records (`recs`, all of them) and identities, as joins in any order
 * would leave it: every identity's set and its members' jumps, each
 * record's own elements. *ret_idents: the identities (with members, or
 * all with `all_idents`), NULL-terminated. For moatctl check and restore;
 * the caller holds the network's lock. */
int moat_policy_network_expected (const char *network, const struct moat_record *recs, size_t n,
                                  bool all_idents, struct moat_nft_elems *out, char ***ret_idents,
                                  moat_err_t *err);

/* Leaves, then forgets the policy in the record and writes it; with no
 * policy recorded, does nothing. */
int moat_policy_clear (struct moat_nft *nft, struct moat_record *rec, moat_err_t *err);

/* The network's last attachment is gone: its identities' chains and sets
 * go (their state goes with the network's directory). */
int moat_policy_network_remove (struct moat_nft *nft, const char *network, moat_err_t *err);

/* The IPv6 twins of `l`'s elements (grants, published ports, the logged
 * flag) appended to it when `rec` is dual stack, its peers' IPv6 addresses
 * from the network's records (docs/design.md, "IPv6"); nothing otherwise.
 * Caller holds the network's lock. */
int moat_policy_twin6 (const struct moat_record *rec, struct moat_nft_elems *l, moat_err_t *err);

#endif
