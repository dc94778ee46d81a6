/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_STATS_H
#define MOAT_STATS_H

/* `moatctl stats` and `moatctl metrics` (docs/design.md, "Counters"): what
 * the kernel counted per container, joined with the records, as JSON
 *
 *   {"containers": [{"id", "name" (or null), "network", "address",
 *     "allowed": {"in": {"packets", "bytes"}, "out": {...}},
 *     "refused": {"in": {...}, "out": {...}}}, ...]}
 *
 * and as Prometheus' text exposition (metrics.h). */

#include <jansson.h>

#include "base/error.h"

/* `only` NULL: every container; else that one (moat_ctl_find's words). */
int moat_ctl_stats (const char *only, json_t **ret, moat_err_t *err);

#endif
