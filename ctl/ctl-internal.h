/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CTL_INTERNAL_H
#define MOAT_CTL_INTERNAL_H

/* What ctl.c (grants, ls, resolve) and restore.c (restore, check) share:
 * the records of a network and the grants of a record, loaded whole. */

#include <sys/types.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "ctl.h"
#include "kernel/nft.h"
#include "state/state.h"

#define _cleanup_strv_ _cleanup_ (moat_strv_freep)
#define _cleanup_nft_ _cleanup_ (moat_nft_closep)
#define _cleanup_elems_ _cleanup_ (moat_nft_elems_freep)
#define _cleanup_json_ _cleanup_ (json_decrefp)

static inline void
record_freep (struct moat_record *r)
{
  moat_record_free (r);
}
#define _cleanup_record_ _cleanup_ (record_freep)

struct records
{
  struct moat_record *v;
  size_t n;
};

struct grants
{
  struct moat_grant *v;
  size_t n;
};

void ctl_records_free (struct records *r);
/* Every record of the network (those that cannot be read: an error). */
int ctl_records_load (const char *network, struct records *ret, moat_err_t *err);
const struct moat_record *ctl_records_by_addr (const struct records *rs, struct in_addr addr);
/* Appends the network's records of other nodes' containers (cluster mode,
 * state/remote.h): for finding, listing and explaining them. */
int ctl_records_load_remote (const char *network, struct records *ret, moat_err_t *err);
/* moat_record_read, or the remote record of that key. */
int ctl_record_read (const char *network, const char *key, struct moat_record *ret,
                     moat_err_t *err);

void ctl_grants_free (struct grants *g);
/* The record's grants still alive at `now`. */
int ctl_grants_load (const struct moat_record *rec, int64_t now, struct grants *ret,
                     moat_err_t *err);
int ctl_grants_store (struct moat_record *rec, const struct grants *g, moat_err_t *err);
ssize_t ctl_grants_find (const struct grants *g, const char *words);

/* Host-network containers (hostlist.c) as ls lists containers: every
 * one, or the one whose id is `only` (*ret_found says whether there was). */
int ctl_hostnet_list (const char *only, json_t *list, bool *ret_found, moat_err_t *err);

#endif
