/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CGROUP_H
#define MOAT_CGROUP_H

/* A host-network container's cgroup v2 group, which moat's rules match
 * with `socket cgroupv2 level MOAT_HOSTNET_LEVEL` (docs/design.md,
 * "Host-network containers"). The group's id is its directory's inode.
 *
 * - cgroup v2 host (/sys/fs/cgroup is cgroup2): the container's own group,
 *   the `0::` line of /proc/PID/cgroup; it must sit at that level
 *   (machine.slice/libpod-ID.scope, system.slice/UNIT).
 * - cgroup v1 or hybrid host: moat mounts a cgroup2 hierarchy of its own at
 *   <run dir>/.cgroup2 (once; it stays) and moves the container's first
 *   process into moat/<container id> there before it has any socket. With
 *   every controller on v1 that group has none: no resource limit moves.
 *
 * The kernel stops tagging sockets with their cgroup v2 once the net_cls
 * or net_prio v1 controller is used: a host where either is mounted is
 * refused. */

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

struct moat_cgroup_plan
{
  bool own;             /* moat's own group in its own mount (v1 or hybrid host) */
  bool need_mount;      /* own, and <run dir>/.cgroup2 is not mounted yet */
  char mount[PATH_MAX]; /* own: <run dir>/.cgroup2 */
  char dir[PATH_MAX];   /* the group's directory */
};

/* Decides, reading only: which group, whether a mount is needed. Errors
 * (MOAT_E_CONFIG) name the container and the reason. */
int moat_cgroup_plan (const char *run_dir, const char *container_id, long long pid,
                      struct moat_cgroup_plan *ret, moat_err_t *err);
/* An existing group (moatctl host attach --cgroup PATH): PATH a directory
 * of a cgroup2 mount, else a path of the v2 hierarchy under /sys/fs/cgroup
 * (v2 host), /sys/fs/cgroup/unified (hybrid), else <run dir>/.cgroup2
 * (need_mount when not mounted yet). Never `own`: moat neither makes nor
 * removes it. A cgroup v1 directory is refused (MOAT_E_CONFIG). */
int moat_cgroup_plan_path (const char *run_dir, const char *name, const char *path,
                           struct moat_cgroup_plan *ret, moat_err_t *err);
/* After the mount: the group exists, is cgroup2 and sits at the rules'
 * level; errors name --cgroup "PATH". */
int moat_cgroup_check_path (const struct moat_cgroup_plan *p, const char *path, moat_err_t *err);
/* Mounts <run dir>/.cgroup2 when the plan needs it: before the hook
 * confines itself (Landlock and seccomp forbid mount). */
int moat_cgroup_mount (const struct moat_cgroup_plan *p, moat_err_t *err);
/* Own group: makes it and moves `pid` into it. Either way, its id. */
int moat_cgroup_join (const struct moat_cgroup_plan *p, long long pid, uint64_t *ret_id,
                      moat_err_t *err);
/* The id of the group at `dir`: 1, or 0 when it is gone. */
int moat_cgroup_id (const char *dir, uint64_t *ret_id, moat_err_t *err);
/* Whether a process is in the group or a sub-group (cgroup.events): 1, 0, or 0 when gone. */
int moat_cgroup_populated (const char *dir, moat_err_t *err);
/* Removes moat's own group `dir` and its empty sub-groups; gone already
 * is success. */
int moat_cgroup_remove (const char *dir, moat_err_t *err);

#endif
