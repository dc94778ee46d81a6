/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_MODEL_HOSTNET_H
#define MOAT_MODEL_HOSTNET_H

/* A host-network container's attachment (docs/design.md, "Host-network
 * containers"): no address, no veth; its policy keyed by its cgroup v2
 * id. In memory and as JSON; on disk: state/hostnet.h. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "model/policy.h"
#include "ruleset/elems.h"

#define MOAT_HOSTNET_KIND "host-network"
/* What moatctl ls, show, check and gc call a host process's record. */
#define MOAT_HOSTPROC_KIND "host-process"

struct moat_hostnet
{
  char *network;
  char *container_id;
  char *cgroup_dir;  /* the group's directory */
  uint64_t cgroup;   /* its id (the directory's inode) */
  bool own_group;    /* moat made it (cgroup v1 host): poststop removes it */
  bool internet;     /* the network's "internet" at attach */
  json_t *policy;    /* the policy applied (policy.h); NULL: none yet */
  char *ident;       /* its identity in <network>/idents/; NULL: none */
  bool pending;      /* "policyPending": the kernel may not hold what "policy" says */
  bool host_process; /* "hostProcess": an existing group moatctl host attach named (no
                      * container; stale only once the group is gone) */
  bool ipv6;         /* "ipv6": its network is dual stack at attach: its IPv6 follows the
                      * policy (the IPv6 half's elements); else it is refused */
};

void moat_hostnet_free (struct moat_hostnet *h);
json_t *moat_hostnet_to_json (const struct moat_hostnet *h);
int moat_hostnet_from_json (json_t *root, struct moat_hostnet *ret, moat_err_t *err);

/* What a host-network container may not ask for: io.moat.proxy,
 * io.moat.publish, a profile's reject rules. MOAT_E_CONFIG naming it. */
int moat_hostnet_policy_check (const char *container_id, const struct moat_policy *p,
                               moat_err_t *err);

/* Its elements: membership, the jump to its identity's chain (`ident`
 * NULL: none), egress and ingress ACLs, io.moat.internet (or the
 * network's internet) as egress to every address. io.moat.allow-host
 * adds nothing: the host's own addresses are open to it (oifname lo).
 * With `ipv6` (a dual-stack network), their IPv6 twins (moat_nft_elems_twin6:
 * the jump to id_<identity>6, every address ::/0) and the IPv6 ranges'
 * elements; without, an IPv6 range opens nothing. -1 only when out of
 * memory. */
int moat_hostnet_compile (uint64_t cgroup, const char *ident, bool network_internet, bool ipv6,
                          const struct moat_policy *p, struct moat_nft_elems *out);
/* The same from the record (its policy JSON); none recorded: membership only. */
int moat_hostnet_elems (const struct moat_hostnet *h, struct moat_nft_elems *out, moat_err_t *err);

#endif
