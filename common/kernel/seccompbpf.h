/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_SECCOMPBPF_H
#define MOAT_SECCOMPBPF_H

/* The seccomp filters of this build, made once by the build
 * (hack/tools/seccomp-bpf runs moat_seccomp_export for every profile,
 * with a placeholder for the process id; build/gen/kernel/seccomp-bpf.inc), so
 * that a run loads its filter without building it (kernel/confine.h). */

#include <linux/filter.h>
#include <stddef.h>
#include <sys/types.h>

#include "kernel/confine.h"

/* What stands for the process id in the filters written at build time:
 * above the kernel's largest pid (2^22), so no real pid is it. */
#define MOAT_SECCOMP_PID_PLACEHOLDER 0x4d4f4154u

/* The profile's filter with `self_pid` in place of the placeholder, in a
 * new array (free it) of *ret_len instructions: 1, or 0 when this build
 * has none (the tool that writes them), -1 out of memory. */
int moat_seccomp_precompiled (enum moat_seccomp_profile profile, pid_t self_pid,
                              struct sock_filter **ret, size_t *ret_len);

#endif
