/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_TEARDOWN_H
#define MOAT_TEARDOWN_H

#include <jansson.h>

#include "base/error.h"

/* `moatctl teardown` (docs/design.md, "What the last container leaves"):
 * when no container is attached anywhere (no record in this state
 * directory, no guarded port in the kernel's tables), deletes the bridges
 * named in `bridges` that have no port, cluster mode's routes and VXLAN
 * devices to other nodes and both moat tables, under the machine-wide
 * lock. *ret: {"bridges": [removed], "kept": [with a port], "tunnels":
 * [removed]}.
 * Returns 0; 1 with *err naming why when a container is attached (nothing
 * changed); -1 on an error. */
int moat_teardown_run (json_t **ret, moat_err_t *err);

#endif
