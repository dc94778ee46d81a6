/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_PUBLISHED_H
#define MOAT_PUBLISHED_H

/* Which container holds a published host port, from the records of every
 * network (docs/design.md, "Published ports"): an ADD asking for one that
 * another holds fails before anything is made. */

#include "base/error.h"
#include "model/publish.h"
#include "model/record.h"

/* moat_publish_lock (state.h) is held from this check until the ADD's
 * record (naming its ports) is written. */
/* 0 when no record but `self` (network/key) publishes a host address,
 * protocol and port of `want`; else MOAT_E_CONFIG naming the port and its
 * holder (`published port 0.0.0.0:8080/tcp: held by container "web"
 * (abc123) on network "moat"`). */
int moat_publish_holders_check (const struct moat_publish_list *want, const char *self_network,
                                const char *self_key, moat_err_t *err);

#endif
