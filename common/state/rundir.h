/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_RUNDIR_H
#define MOAT_RUNDIR_H

#include <stddef.h>

/* Where moat keeps its state (docs/design.md, "State on disk and
 * locking"). */

#define MOAT_RUN_DIR_DEFAULT "/run/moat"

/* MOAT_RUN_DIR from the environment, else /run/moat. */
const char *moat_run_dir (void);

/* "<run dir>/<network>" or "<run dir>/<network>/<leaf>" into buf: 0, or
 * -1 when it does not fit. */
int moat_state_path (char *buf, size_t size, const char *network, const char *leaf);

#endif
