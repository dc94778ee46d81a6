/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_POLICY_H
#define MOAT_POLICY_H

/* A container's effective policy (docs/design.md, "The network model") and
 * its compilation into nftables elements (docs/design.md, "The ruleset and
 * the identity model"). Applying it: verbs/apply.h.
 *
 * Sources, merged in this order: the labels the runtime gave at CNI ADD
 * (args.cni.labels), the profile of the policy file the container picks
 * (io.moat.policy, or the label PolicyIndex), the io.moat.* pod
 * annotations (Kubernetes), then the io.moat.* annotations the hook reads.
 * Lists are joined; a label key given two values is an error; the last
 * io.moat.proxy given wins; internet is on if any source turns it on.
 *
 * Who may talk to whom: A may open a connection to B, both on one network,
 * when A's side and B's side agree:
 *   A's side  A has io.moat.depends: one of its selectors matches B's labels;
 *             otherwise A and B share a label (key and value; @sys: labels
 *             do not count)
 *   B's side  B has io.moat.expose: one of its selectors matches A's labels;
 *             otherwise yes
 * and no reject rule of a profile (depends_deny on A's side, expose_deny on
 * B's) matches. Selectors see the user labels plus @sys:network (the
 * network's name) and @sys:namespace (the Kubernetes namespace, when
 * known).
 *
 * Peer decisions depend only on labels and selectors: containers with equal
 * ones form an identity, kept on disk as the identity and its members
 * (state/identities.h) and in the kernel as a chain and a set
 * (ruleset/ruleset.h). A container joining an identity that has members
 * adds its jump and its address to the set of each identity that may
 * reach it, whatever the number of its peers; the first member of an
 * identity fills the identity's set once. A container with no label and
 * no io.moat.depends has no identity: nothing selects it, it selects
 * nothing. */

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "model/annot.h"
#include "base/error.h"
#include "ruleset/elems.h"
#include "model/record.h"

/* What the attachment contributes to the layout (ruleset/elems.h). */
struct moat_nft_member moat_record_member (const struct moat_record *rec);

struct moat_policy
{
  struct moat_annotations a; /* merged; a.policy names the profile applied */
  json_t *labels;            /* what selectors see: user labels and @sys:* */
};

/* Resolves the effective policy of the attachment `rec` with the hook's
 * `annotations` (NULL: none). Errors are MOAT_E_CONFIG naming the key or the
 * policy file. */
int moat_policy_resolve (const struct moat_record *rec, json_t *annotations,
                         struct moat_policy *ret, moat_err_t *err);
void moat_policy_free (struct moat_policy *p);

/* Nothing to install: no identity (no label, no depends) and no element
 * of its own. */
bool moat_policy_is_empty (const struct moat_policy *p);

/* May `from` open connections to `to`? (the rule above) */
bool moat_policy_allows (const struct moat_policy *from, const struct moat_policy *to);

/* Whether the container takes part in who-talks-to-whom: it has a user
 * label or io.moat.depends. */
bool moat_policy_has_identity (const struct moat_policy *p);

/* The same decision for two containers with identities, and why, in words
 * (moatctl explain): "shared label app=web", "the source depends on
 * \"app=db\"", "no shared label", ... Also false, with the reason, when
 * either has no identity (nothing in the kernel lets them talk). */
bool moat_policy_explain (const struct moat_policy *from, const struct moat_policy *to, char *why,
                          size_t size);

/* The whole policy as JSON (the record's "policy"); the identity part only:
 * labels and selectors, canonical (equal identities, equal text). */
json_t *moat_policy_to_json (const struct moat_policy *p);
json_t *moat_policy_ident_json (const struct moat_policy *p);
/* Reads an identity back: labels and selectors. */
int moat_policy_from_ident_json (json_t *j, struct moat_policy *ret, moat_err_t *err);
/* Reads a whole policy back (a record's "policy"). */
int moat_policy_from_json (json_t *j, struct moat_policy *ret, moat_err_t *err);

/* Containers of one identity, for the compiler. */
struct moat_peer_group
{
  const char *ident; /* its name (MOAT_NFT_IDENT_MAX) */
  const struct moat_policy *policy;
  const struct in_addr *addrs; /* its members; may be NULL when not needed */
  size_t n;
};

struct moat_compile_input
{
  struct in_addr addr;                  /* the container */
  const char *ident;                    /* its identity */
  bool new_ident;                       /* it is the identity's first member */
  bool network_internet;                /* the network gave it internet already */
  const struct moat_policy *policy;     /* its policy */
  const struct moat_peer_group *groups; /* every identity of its network */
  size_t ngroups;
};

/* The compiler: every element the container needs (ruleset/elems.h): its
 * jump to its identity's chain, its address in the sets of the identities
 * that may reach it, for a new identity the addresses it may reach, then
 * its own host ports, ACLs, internet and proxy. Returns -1 only when out of
 * memory. */
int moat_policy_compile (const struct moat_compile_input *in, struct moat_nft_elems *out);
/* A new identity's set, for identity `ident` of policy `p`: every member
 * of `groups` it may reach (many joins at once: verbs/apply.h,
 * moat_policy_join_many, with the members from before the batch). */
int moat_policy_compile_reach (const char *ident, const struct moat_policy *p,
                               const struct moat_peer_group *groups, size_t ngroups,
                               struct moat_nft_elems *out);
/* The elements a leaving container takes out of other identities' sets. */
int moat_policy_compile_leave (struct in_addr addr, const struct moat_policy *p,
                               const struct moat_peer_group *groups, size_t ngroups,
                               struct moat_nft_elems *out);

#endif
