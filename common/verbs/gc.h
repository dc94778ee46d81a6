/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_GC_H
#define MOAT_GC_H

/* Attachments whose container is gone (docs/design.md, "Crash safety"):
 * an engine that crashed or was killed never ran their DEL, and podman 4
 * never calls CNI GC, so their records, elements and addresses stay.
 * `moatctl check` names them, `moatctl gc` removes them with the DEL
 * they missed (verbs/cni.h, moat_cni_del_locked).
 *
 * Stale means both: its netns path no longer holds a network namespace
 * (the path is gone, or is no nsfs file any more, or no path was
 * recorded), and its host end is gone (a veth dies with its namespace).
 * While either is there the container may be alive: the attachment is
 * kept, and the report says what is still there. A netns path that
 * cannot be examined (a /proc/PID/ns/net, which the hook records, of a
 * process outside moatctl's Landlock domain) counts as there unless that
 * process has exited (gone or a zombie). */

#include <jansson.h>
#include <stdbool.h>

#include "base/error.h"
#include "kernel/confine.h"
#include "kernel/landlock.h"
#include "kernel/netlink.h"
#include "model/record.h"
#include "verbs/dnsd.h"

/* Where a delegated IPAM plugin is looked for when CNI_PATH is not set:
 * the hook's default (moat-hook(8)). */
#define MOAT_GC_CNI_PATH_DEFAULT "/opt/cni/bin:/usr/lib/cni"

/* What is left of an attachment's container. */
struct moat_liveness
{
  bool netns_gone;
  bool link_gone;
  char gone[384];  /* what is gone, "" when nothing */
  char there[384]; /* what is still there, "" when nothing */
};

/* 1 when `path` holds a network namespace, 0 when it does not (NULL,
 * not there, no nsfs file, a /proc/PID path whose process has exited);
 * `why` says what was found. Any other error counts as there. */
int moat_netns_there (const char *path, char *why, size_t size);

/* Read-only: looks at rec->netns and rec->host_if (in the caller's
 * network namespace, the host's). */
int moat_liveness_probe (struct moat_nl *nl, const struct moat_record *rec,
                         struct moat_liveness *ret, moat_err_t *err);

static inline bool
moat_liveness_stale (const struct moat_liveness *l)
{
  return l->netns_gone && l->link_gone;
}

/* One attachment in a report (check's and gc's, moatctl(8)):
 * {"network", "container", "name"?, "ifname", "hostIf", "netns"?,
 * "address", "attachedBy", "gone", "there"?}. NULL: no memory. */
json_t *moat_gc_item (const struct moat_record *rec, const struct moat_liveness *l);

/* Before confinement: what gc's DELs need besides the run directory. A
 * record with "names" may stop its network's name server (the launcher,
 * verbs/dnsd.h); one with a delegated IPAM and its network
 * configuration (hook-made) runs that plugin's DEL: its writes join `w`
 * and *profile becomes MOAT_SECCOMP_PLUGIN_DELEGATED. */
int moat_gc_prepare (struct moat_write_set *w, enum moat_seccomp_profile *profile,
                     struct moat_dnsd *dnsd, moat_err_t *err);

/* Every network's stale attachments, each removed under its network's
 * lock after a second look (unless `dry_run`). *ret:
 * {"removed"|"stale" (dry run): [item...], "kept": [item + "why"...],
 * "failed": [item + "error"...]}; an item "note" says what a DEL could
 * not do without the network's configuration. Returns -1 only when
 * nothing could be looked at; a failed removal is in "failed". */
int moat_gc_run (bool dry_run, struct moat_dnsd *dnsd, json_t **ret, moat_err_t *err);

#endif
