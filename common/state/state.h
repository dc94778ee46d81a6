/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_STATE_H
#define MOAT_STATE_H

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "base/error.h"
#include "model/record.h"
#include "state/rundir.h"

/* Live state under <run dir>/<network>/ (docs/design.md, "State on disk and
 * locking"):
 *   ../<network>.lock            flock(2) serialising every change to the network
 *                                (never removed: see lock_path)
 *   <containerid>@<ifname>.json  one record per attachment
 *   ipam/                        the built-in allocator's files
 *   idents/                      identities and their members (identities.h)
 * A record is written before any kernel change, so whatever a crash leaves
 * behind, DEL or GC finds it from the record. */

/* moat_run_dir, moat_state_path: state/rundir.h */

/* Takes the network's lock (LOCK_EX) and creates its directory. Returns
 * the fd (close it to unlock). */
int moat_network_lock (const char *network, int *ret_fd, moat_err_t *err);

/* The machine-wide lock that orders table teardown against ADDs on other
 * networks: LOCK_SH around an ADD's nft change, LOCK_EX for teardown. */
int moat_global_lock (int operation, int *ret_fd, moat_err_t *err);

/* The lock of the revoked-token list (revoked.h), "<run dir>/.tokens.lock",
 * LOCK_EX: taken before any network's lock, never while holding one. */
int moat_tokens_lock (int *ret_fd, moat_err_t *err);

/* "<run dir>/.publish.lock", LOCK_EX: held by an ADD that publishes ports
 * from its check of every record (state/published.h) until its own record
 * is written, so two ADDs on two networks cannot both find a port free.
 * Taken after the network's lock, never while taking another. */
int moat_publish_lock (int *ret_fd, moat_err_t *err);

/* Writes `data` to "<path>.tmp" and renames it over `path`. */
int moat_write_atomic (const char *path, const char *data, moat_err_t *err);

/* Removes the "*.tmp" files that writes killed before their rename left
 * in "<run dir>/<network>" (sub NULL) or in its subdirectory `sub`
 * (records: write_atomic; identities: identities.c). Caller holds the network
 * lock, so no write is under way. */
int moat_state_sweep_temp (const char *network, const char *sub, moat_err_t *err);

/* Removes the network's directory (records, ipam files); the lock stays.
 * Caller holds the network lock. */
int moat_network_dir_remove (const char *network, moat_err_t *err);

/* "<containerid>@<ifname>", the key naming one attachment; its record is
 * "<key>.json", so a key is at most MOAT_KEY_MAX bytes (NAME_MAX - 5). */
#define MOAT_KEY_MAX 250
int moat_attachment_key (char *buf, size_t size, const char *container_id, const char *ifname);
/* The interface name within a key: what follows its first '@' (a container
 * id has none, an interface name may), or NULL when there is none. */
const char *moat_attachment_key_ifname (const char *key);

/* The host end's name: names.h. */

int moat_record_write (const struct moat_record *r, moat_err_t *err);
/* 1 read, 0 no such record, -1 error (MOAT_E_STATE naming the file). */
int moat_record_read (const char *network, const char *key, struct moat_record *ret,
                      moat_err_t *err);
/* Also removes the "<key>.json.tmp" a write killed before its rename left,
 * and the key's index entry. */
int moat_record_remove (const char *network, const char *key, moat_err_t *err);

/* GC: removes the index entries (ids/<container>/<ifname>) that have no
 * record: an ADD killed between the two. Caller holds the network lock. */
int moat_index_sweep (const char *network, moat_err_t *err);

/* Keys of the network's records: NULL-terminated, malloc'd. */
int moat_record_list (const char *network, char ***ret_keys, moat_err_t *err);
/* Only those of one container. */
int moat_record_list_container (const char *network, const char *container_id, char ***ret_keys,
                                moat_err_t *err);

/* The host-end names of every attachment of every network (GC must not
 * take another network's port on a shared bridge), as their records say:
 * never recomputed, so a changed name key (names.h) orphans nothing. */
int moat_host_ifnames_in_use (char ***ret_names, moat_err_t *err);

/* Names of the networks with a state directory: NULL-terminated. */
int moat_networks_list (char ***ret_names, moat_err_t *err);

/* 1 if any network under the run dir holds a record, 0 if none. */
int moat_any_record (moat_err_t *err);

#endif
