/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_HOOK_H
#define MOAT_HOOK_H

/* moat-hook: the OCI hook (moat-hook(8)). The runtime runs it with the
 * container's state on stdin:
 *   {"ociVersion", "id", "status", "pid", "bundle", "annotations"}
 *
 * The container's settings are its io.moat.* annotations (from the state,
 * else from config.json in the bundle), plus, for engines that cannot set
 * annotations, the MOAT_* variables of config.json's process.env
 * (moat_annotations_with_env: a real annotation wins), but only on a
 * network whose configuration says "allow": {"env": true} (ceiling.h): an
 * image's ENV could set them. MOAT_NETWORK naming a network that does not
 * read the environment is ignored (moat_hook_notice says so).
 *
 * prestart and createRuntime apply the container's policy (policy.h) to
 * each of its moat attachments, found by container id, else by network
 * namespace. A container that has none and names a network
 * (io.moat.network, MOAT_NETWORK) is attached by the hook itself
 * (hook-driven attach): the plugin's ADD (cni.h) with
 *   CNI_COMMAND=ADD, CNI_CONTAINERID=<state id>,
 *   CNI_NETNS=/proc/<state pid>/ns/net, CNI_IFNAME=eth0,
 *   CNI_PATH=$CNI_PATH or MOAT_HOOK_CNI_PATH_DEFAULT
 * and the network's configuration found by name (netfind.h), then the
 * policy; the record says "attachedBy": "hook" and keeps that
 * configuration. Any failure after the ADD runs the DEL: nothing is left.
 * The container must have a live pid and a network namespace of its own;
 * one that shares the host's gets policy keyed by its cgroup instead
 * (hostnet.h, docs/design.md, "Host-network containers").
 *
 * poststop removes the policy of each attachment; an attachment the hook
 * made for this container (by id) is removed entirely by the plugin's DEL
 * (elements, link, address, record), with the configuration its record
 * kept. One a runtime made through CNI stays for the runtime's DEL.
 * An attach killed before its record was written (an index entry without
 * a record, or nothing found by id while the container names a network)
 * gets the DEL of the network found by name, which removes whatever it
 * left (address, index entry, temporary files).
 * Both stages are idempotent.
 *
 * A container with no attachment and no io.moat.* setting (nor a
 * MOAT_NETWORK its network reads) is left alone. */

#include <stdbool.h>
#include <stddef.h>

#include "kernel/confine.h"
#include "base/error.h"
#include "kernel/landlock.h"

#define MOAT_HOOK_IFNAME "eth0"
#define MOAT_HOOK_CNI_PATH_DEFAULT "/opt/cni/bin:/usr/lib/cni"

enum moat_hook_stage
{
  MOAT_HOOK_PRESTART,
  MOAT_HOOK_CREATE_RUNTIME,
  MOAT_HOOK_POSTSTOP,
};

/* "prestart", "createRuntime" or "poststop"; -1 for anything else. */
int moat_hook_stage_parse (const char *name);

/* One run of a stage, in two steps so that the hook can confine itself in
 * between: moat_hook_prepare reads everything (the state, config.json, the
 * records, the network configuration) and changes nothing;
 * moat_hook_profile names the seccomp profile what is left needs;
 * moat_hook_execute makes the changes. */
struct moat_hook;

/* Errors are one line naming the key or the thing that failed;
 * MOAT_E_CONFIG for a bad annotation, profile or network, MOAT_E_DECODE
 * for a bad state. */
int moat_hook_prepare (enum moat_hook_stage stage, const char *state, size_t len,
                       struct moat_hook **ret, moat_err_t *err);
/* MOAT_SECCOMP_HOOK_POLICY when only policy changes; MOAT_SECCOMP_HOOK to
 * attach or detach; MOAT_SECCOMP_PLUGIN_DELEGATED when that runs a
 * delegated IPAM plugin. */
enum moat_seccomp_profile moat_hook_profile (const struct moat_hook *h);
/* Where moat_hook_execute writes (landlock.h): nothing when the container
 * is left alone; else the run directory, plus the bridge's sysctls to
 * attach, plus the delegated IPAM plugin's directories to attach or
 * detach. */
const struct moat_write_set *moat_hook_writes (const struct moat_hook *h);
/* True when the run will attach the container (tests, logging). */
bool moat_hook_attaches (const struct moat_hook *h);
/* What the run ignored, in one line for the log (MOAT_NETWORK naming a
 * network that does not read the environment); NULL: nothing. */
const char *moat_hook_notice (const struct moat_hook *h);
/* The one change made before confinement (Landlock and seccomp forbid
 * mount): a host-network container's cgroup2 hierarchy on a cgroup v1 host
 * (kernel/cgroup.h), mounted once. Nothing for any other container. */
int moat_hook_mount (const struct moat_hook *h, moat_err_t *err);
int moat_hook_execute (struct moat_hook *h, moat_err_t *err);
void moat_hook_free (struct moat_hook *h);
static inline void
moat_hook_freep (struct moat_hook **h)
{
  moat_hook_free (*h);
}

/* Prepare and execute, unconfined. */
int moat_hook_run (enum moat_hook_stage stage, const char *state, size_t len, moat_err_t *err);

/* Parses a state and its annotations, touching nothing (the fuzzer). */
int moat_hook_state_check (const char *text, size_t len, moat_err_t *err);

#endif
