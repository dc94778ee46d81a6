/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CTL_CLUSTER_WATCH_H
#define MOAT_CTL_CLUSTER_WATCH_H

/* `moatctl cluster watch CLUSTER [--node N] [--underlay ADDR] [--ttl S]`
 * (moatctl(8), cluster): this node's watcher of the cluster's store
 * (verbs/clusterwatch.h), in the foreground until SIGTERM. It confines
 * itself before it reads anything: Landlock (writes: the run directory)
 * and seccomp's MOAT_SECCOMP_CLUSTER_WATCH (moatctl's profile plus the
 * sockets, poll, inotify and signalfd its store and loop need). */

/* `argc`/`argv`: what follows "watch". Returns moatctl's exit status: 0
 * ended by a signal, 2 refused (the reason on standard error, one line). */
int moat_ctl_cluster_watch (int argc, char **argv);

#endif
