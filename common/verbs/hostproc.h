/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_VERBS_HOSTPROC_H
#define MOAT_VERBS_HOSTPROC_H

/* Host processes named by an existing cgroup v2 group: `moatctl host
 * attach` and `moatctl host detach` (docs/design.md, "Host-network
 * containers"). The same attach as a host-network container's
 * (verbs/hostnet.h), with the name in place of the container id, a group
 * moat neither makes nor removes, and a record marked hostProcess. */

#include <jansson.h>

#include "base/error.h"
#include "kernel/cgroup.h"
#include "model/config.h"

struct moat_host_request
{
  const struct moat_netconf *conf;     /* the network it names */
  const char *name;                    /* its record's name, as a container id */
  const char *cgroup_path;             /* --cgroup as given, for errors */
  json_t *annotations;                 /* its io.moat.* settings */
  const struct moat_cgroup_plan *plan; /* moat_cgroup_plan_path's, mounted and
                                        * checked (moat_cgroup_check_path: before
                                        * confinement, whose seccomp has no statfs) */
};

/* Refused (MOAT_E_CONFIG, one line) when the name is not a valid id or is
 * taken, or the group is attached already under another name; else
 * moat_hostnet_attach. */
int moat_host_attach (const struct moat_host_request *r, moat_err_t *err);

/* The record `name` of moatctl host attach detached (moat_hostnet_detach;
 * the group stays). No such record: MOAT_E_UNKNOWN; a host-network
 * container's (its poststop detaches it): MOAT_E_CONFIG. */
int moat_host_detach (const char *name, moat_err_t *err);

#endif
