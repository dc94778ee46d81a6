/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_DOCKERUSER_H
#define MOAT_DOCKERUSER_H

/* `moatctl docker-user add|remove BRIDGE...` (moatctl(8)): the fix for
 * docker's FORWARD drop policy, made only when the operator asks for it.
 * dockerd sets `iptables -P FORWARD DROP` when it turns forwarding on, and
 * that drop overrides moat's accept for every flow moat routes between or
 * out of its containers (foreign.h). Docker's sanctioned place for the
 * host's own rules is its DOCKER-USER chain, which FORWARD jumps to first
 * and dockerd leaves alone: `add` inserts
 *
 *   iptables -I DOCKER-USER -i BRIDGE -j ACCEPT
 *   iptables -I DOCKER-USER -o BRIDGE -j ACCEPT
 *
 * for each bridge (once: an existing rule is left as it is), so that
 * moat's own tables decide there; `remove` deletes exactly those rules.
 * It runs the host's `iptables` (MOAT_IPTABLES, else `iptables` from
 * PATH) so that whichever backend docker uses, legacy or nf_tables, gets
 * the rules in its own form: moat never writes another tool's tables
 * itself. Run before moatctl confines itself (it forks and execs). */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/error.h"

/* One line per rule added or removed (or found already so) on `out`.
 * MOAT_E_CONFIG for a bad bridge name or a host without DOCKER-USER;
 * MOAT_E_IO when iptables cannot run or fails. */
int moat_ctl_docker_user (bool add, char *const *bridges, size_t n, FILE *out, moat_err_t *err);

#endif
