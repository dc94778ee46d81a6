/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_NAMES_H
#define MOAT_NAMES_H

/* Names moat derives: the host ends of container veths ("mt" + 13 hex
 * digits) and identities (16 hex digits, policy.h). They come from a
 * keyed hash (SipHash-2-4, libsodium's crypto_shorthash) whose key is a
 * per-host secret: whoever picks container ids, network names or labels
 * cannot aim at a name another container holds.
 *
 * The key is <run dir>/.names.key: 16 random bytes, mode 0600, owned by
 * the user moat runs as (root), made by the first process that needs it
 * (renameat2 RENAME_NOREPLACE: of two racing first users, both end up
 * with the one that won). It lives with the records it named: both are
 * under the run dir, so a reboot (tmpfs) or a lost run dir loses both.
 * Every name is recorded where it is used (a record's "hostIf", its
 * "ident", the identity files), and nothing that finds existing objects
 * recomputes a name from the key but what a DEL of an unreadable record
 * needs (a GC finds that port anyway: it is named like moat's and no
 * record owns it). A changed key therefore changes only new names. */

#include <stdbool.h>

#include "base/error.h"

#define MOAT_NAMES_KEY_LEN 16
#define MOAT_NAMES_KEY_FILE ".names.key"

struct moat_names_key
{
  unsigned char bytes[MOAT_NAMES_KEY_LEN];
};

/* The host's key. With `create`, makes it when missing and returns 1;
 * without, returns 0 when there is none (nothing was named with it yet).
 * A key file that is not a regular file of 16 bytes owned by this user
 * with no group or other access is an error (MOAT_E_STATE naming it). */
int moat_names_key_get (bool create, struct moat_names_key *ret, moat_err_t *err);

/* The host end's name for attachment `key` ("<container>@<ifname>") of
 * `network`: "mt" + 13 hex digits. One container on two networks gets two
 * names. */
void moat_host_ifname (const struct moat_names_key *k, const char *network, const char *key,
                       char ret_name[16]);

/* An identity's name: 16 hex digits of the hash of the network and the
 * identity's canonical text, then "_<probe>" when probe > 0 (the name
 * without it was taken; probe < 100). ret_name holds MOAT_NFT_IDENT_MAX + 1 bytes. */
void moat_ident_name (const struct moat_names_key *k, const char *network, const char *text,
                      int probe, char ret_name[25]);

#endif
