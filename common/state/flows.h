/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_FLOWS_H
#define MOAT_FLOWS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* Addresses whose flows are still to be forgotten (docs/design.md, "Flows
 * of a released address"): `<run dir>/.flows/<address>`, one empty file
 * for each address a DEL gave back to moat's allocator without deleting
 * the conntrack entries that name it. The ADD that takes such an address
 * deletes, in one dump of the conntrack table, the entries of every
 * address listed, then removes the files it listed. `.flows.lock`
 * (flock(2)): shared while a DEL writes its file, exclusive from an ADD's
 * listing to its removal, so no file written after the dump is removed
 * with those before it. */

struct moat_flows_pending
{
  char **names;          /* the files listed */
  struct in_addr *addrs; /* their addresses, one per name */
  size_t n;
};

/* Writes the file for `addr` (under the lock, shared). */
int moat_flows_pending_add (struct in_addr addr, moat_err_t *err);

/* 1 when a file waits for `addr`, 0 when none does (one access(2)). */
int moat_flows_pending_has (struct in_addr addr, moat_err_t *err);

/* Takes the lock (exclusive) into *ret_lock and lists the files. A file
 * whose name is not an address is left alone. */
int moat_flows_pending_take (struct moat_flows_pending *ret, int *ret_lock, moat_err_t *err);

/* Removes the files listed (those already gone are fine). */
int moat_flows_pending_clear (const struct moat_flows_pending *p, moat_err_t *err);

void moat_flows_pending_free (struct moat_flows_pending *p);

/* The built-in allocator's place (`<network>/ipam/last`, state/ipam.h)
 * outlives the network's state directory, so that the next container of a
 * network whose last one left does not take the address that one released
 * (whose flows would then have to be forgotten at once): hint_save moves
 * it to `.flows/<network>.last` before the directory goes, hint_restore
 * moves it back before an allocation when the directory has none. Both
 * under the network's lock; a missing file is fine. */
int moat_flows_hint_save (const char *network, moat_err_t *err);
int moat_flows_hint_restore (const char *network, moat_err_t *err);

#endif
