/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_VERBS_HOSTNET_H
#define MOAT_VERBS_HOSTNET_H

/* A host-network container under moat's policy (docs/design.md,
 * "Host-network containers"): its cgroup v2 group joined, its record
 * (state/hostnet.h), its elements keyed by the group's id. */

#include <jansson.h>

#include "base/error.h"
#include "kernel/cgroup.h"
#include "model/config.h"
#include "model/hostnet.h"

struct moat_hostnet_request
{
  const struct moat_netconf *conf; /* the network it names (io.moat.network) */
  const char *container_id;
  long long pid;                       /* its first process (OCI state "pid") */
  json_t *annotations;                 /* its io.moat.* settings */
  const struct moat_cgroup_plan *plan; /* moat_cgroup_plan's, mounted */
  bool host_process;                   /* moatctl host attach: an existing group, no container */
};

/* Under the network's lock: the policy resolved and checked, the group
 * joined, the record written ("policyPending"), moat's tables made if
 * missing, the identity's chain made and filled if missing, the elements
 * added in one batch, the record written again. Run again (a retried
 * prestart), it replaces what the record says. On failure the elements
 * go again and the record stays pending for poststop or moatctl gc. */
int moat_hostnet_attach (const struct moat_hostnet_request *r, moat_err_t *err);

/* The container's elements, moat's group (when moat made it) and record
 * go; when it was the last of anything on its network, the network's
 * identities and state directory (the tables stay, as after a DEL). No
 * record: nothing to do. */
int moat_hostnet_detach (const char *container_id, moat_err_t *err);

/* For moatctl gc: 1 when the record's group is gone or holds no process
 * (nothing left to filter: the container died without its poststop); a
 * host process's group (host_process) only once it is gone: an empty
 * unit's group may be filled again. */
int moat_hostnet_stale (const struct moat_hostnet *h, moat_err_t *err);

/* moatctl check and gc: each host-network record whose group is stale
 * goes into `report`'s `list` as an attachment item (verbs/gc.h's shape:
 * network, container, ifname "host-network", address "cgroup:<id>", gone
 * "processes"); with `remove`, detached first, into "failed" with its
 * error when that fails. */
int moat_hostnet_gc (bool remove, json_t *report, const char *list, moat_err_t *err);

/* moatctl check and restore: every host-network record's elements, its
 * hostnet_peers (the members of its network's identities that may open
 * connections to it) included. */
int moat_hostnet_expected (struct moat_nft_elems *out, moat_err_t *err);

/* A container at `addr` on `network`, with policy `from`, joining or
 * leaving: its hostnet_peers elements, one per host-network container or
 * host process of the network it may open connections to
 * (moat_policy_allows). Callers hold the network's lock. */
int moat_hostnet_peer_elems (const char *network, struct in_addr addr,
                             const struct moat_policy *from, struct moat_nft_elems *out,
                             moat_err_t *err);

#endif
