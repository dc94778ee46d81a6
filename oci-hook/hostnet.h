/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_HOOK_HOSTNET_H
#define MOAT_HOOK_HOSTNET_H

/* The hook's part for a host-network container (docs/design.md,
 * "Host-network containers"): config.json has no network namespace of its
 * own and io.moat.network names a network. prestart plans (reading
 * only), mounts moat's cgroup2 hierarchy if needed (before confinement),
 * then attaches (verbs/hostnet.h); poststop detaches. */

#include <jansson.h>
#include <stdbool.h>

#include "base/error.h"
#include "kernel/cgroup.h"
#include "model/config.h"

struct moat_hook_hostnet
{
  bool start;          /* prestart: attach */
  bool stop;           /* poststop: its record exists, detach */
  json_t *annotations; /* its effective io.moat.* settings (owned) */
  struct moat_cgroup_plan plan;
};

/* config.json's linux.namespaces has no "network" entry: the container
 * shares the runtime's (the host's) network namespace. */
bool moat_hook_hostnet_shares_host (json_t *config);

/* prestart: `annotations` (taken) and the cgroup plan. */
int moat_hook_hostnet_plan (struct moat_hook_hostnet *hn, const char *id, long long pid,
                            json_t *annotations, moat_err_t *err);
/* poststop: whether there is a record to remove. */
int moat_hook_hostnet_plan_stop (struct moat_hook_hostnet *hn, const char *id, moat_err_t *err);
/* Before confinement: moat's cgroup2 mount, when the plan needs it. */
int moat_hook_hostnet_mount (const struct moat_hook_hostnet *hn, moat_err_t *err);
int moat_hook_hostnet_execute (const struct moat_hook_hostnet *hn, const struct moat_netconf *conf,
                               const char *id, long long pid, moat_err_t *err);
void moat_hook_hostnet_free (struct moat_hook_hostnet *hn);

#endif
