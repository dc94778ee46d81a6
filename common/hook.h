/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_HOOK_H
#define MOAT_HOOK_H

/* moat-hook: the OCI hook (DESIGN §5). The runtime runs it with the
 * container's state on stdin:
 *   {"ociVersion", "id", "status", "pid", "bundle", "annotations"}
 * prestart and createRuntime apply the container's policy (policy.h) to
 * each of its moat attachments, found by container id, else by network
 * namespace; poststop removes it. A container with no attachment and no
 * io.moat.* annotation is left alone. */

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum moat_hook_stage
{
  MOAT_HOOK_PRESTART,
  MOAT_HOOK_CREATE_RUNTIME,
  MOAT_HOOK_POSTSTOP,
};

/* "prestart", "createRuntime" or "poststop"; -1 for anything else. */
int moat_hook_stage_parse (const char *name);

/* Runs the stage for the state JSON `state` (len bytes). Errors are one
 * line naming the key or the thing that failed; MOAT_E_CONFIG for a bad
 * annotation or profile, MOAT_E_DECODE for a bad state. */
int moat_hook_run (enum moat_hook_stage stage, const char *state, size_t len, moat_err_t *err);

/* Parses a state and its annotations, touching nothing (the fuzzer). */
int moat_hook_state_check (const char *text, size_t len, moat_err_t *err);

#endif
