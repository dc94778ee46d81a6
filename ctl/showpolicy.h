/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_SHOWPOLICY_H
#define MOAT_SHOWPOLICY_H

/* `moatctl show`: a container's whole effective policy on one network,
 * each item with where it came from (moatctl(8), show). The record's
 * "policy" is what moat applied; its sources are read again and each item
 * goes to the first source, in the order policy.h merges them, that gives
 * it:
 *
 *   "CNI args"        args.cni.labels at ADD (labels only)
 *   "profile NAME"    the policy file's profile the container picked
 *   "pod annotation"  the io.moat.* pod annotations (Kubernetes)
 *   "annotation"      the container's own io.moat.* annotations and, where
 *                     the network reads them, MOAT_* variables
 *   "network"         the network's configuration ("internet": true)
 *
 * and "?" when none of them does any more (a policy file changed since).
 * A record without a policy says so: "none yet" (the hook has not run). */

#include <jansson.h>

#include "base/error.h"
#include "model/record.h"

/* {"state": "applied"|"none yet", "items": {KEY: [{"item": TEXT, "from":
 * SOURCE}, ...]}} with KEY one of labels, depends, expose, dependsDeny,
 * exposeDeny, allowHost, egress, ingress, egressDeny, ingressDeny,
 * internet, proxy (present when not empty). NULL with *err on ENOMEM; a
 * source that cannot be read is passed over. */
json_t *moat_ctl_policy_items (const struct moat_record *r, moat_err_t *err);

#endif
