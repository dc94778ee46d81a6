/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_SANDBOX_H
#define MOAT_SANDBOX_H

#include "error.h"

/* Confines the OCI hook with a seccomp allowlist once its input is read
 * and its syslog socket is open: files under the run dir and the policy
 * file, flock, netlink (new sockets: AF_NETLINK, and AF_UNIX for syslog
 * to reconnect), memory and exit. Anything else fails with EPERM, so a
 * mistake is a clean error, not a crash; no_new_privs is set. Under
 * AddressSanitizer, whose leak check at exit needs ptrace, it does
 * nothing. */
int moat_sandbox_hook (moat_err_t *err);

#endif
