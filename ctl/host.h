/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CTL_HOST_H
#define MOAT_CTL_HOST_H

/* `moatctl host attach --network NAME --cgroup PATH --name N [--label K=V]...
 * [--annotation io.moat.KEY=V]...` and `moatctl host detach N` (moatctl(8),
 * host): the processes of an existing cgroup v2 group (a systemd unit's)
 * under moat's policy, as a host-network container's (verbs/hostproc.h).
 * attach mounts moat's cgroup2 hierarchy when PATH needs it, then confines
 * itself (writes: the run directory; seccomp: moatctl's) before it
 * changes anything. */

/* `args`: what follows "host". Returns moatctl's exit status: 0 done, 1
 * no such host process (detach), 2 refused (the reason on standard
 * error, one line). */
int moat_ctl_host (int argc, char **argv);

#endif
