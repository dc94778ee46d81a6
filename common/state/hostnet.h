/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_STATE_HOSTNET_H
#define MOAT_STATE_HOSTNET_H

/* Host-network containers' records (model/hostnet.h), one file each:
 *   <run dir>/.hostnet/<container id>.json
 * outside any network's directory, which goes with the network's last
 * veth attachment. Written before the kernel changes, like a record;
 * callers hold the network's lock. */

#include <stdbool.h>

#include "base/error.h"
#include "model/hostnet.h"

int moat_hostnet_write (const struct moat_hostnet *h, moat_err_t *err);
/* 1 found, 0 none. */
int moat_hostnet_read (const char *container_id, struct moat_hostnet *ret, moat_err_t *err);
int moat_hostnet_remove (const char *container_id, moat_err_t *err);
/* Every host-network container's id (NULL-terminated, never NULL on success). */
int moat_hostnet_list (char ***ret_ids, moat_err_t *err);
/* 1 when a host-network container is on `network`, 0 when none. */
int moat_hostnet_on_network (const char *network, moat_err_t *err);

#endif
