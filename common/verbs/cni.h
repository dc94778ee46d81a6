/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CNI_H
#define MOAT_CNI_H

#include <jansson.h>

#include "model/config.h"
#include "base/error.h"
#include "state/state.h"

/* The CNI verbs. Each returns 0 or -1 with *err set; ADD (and VERSION)
 * return their result in *ret_result, the others return nothing on
 * success. The caller prints. */
int moat_cni_run (const struct moat_cni_env *env, struct moat_netconf *conf, json_t **ret_result,
                  moat_err_t *err);

/* moat_cni_run on behalf of `by`, which an ADD writes into the record
 * (state.h). MOAT_ATTACHED_BY_HOOK (moat-hook's hook-driven attach) also
 * keeps the network configuration, conf->root, in the record, so that the
 * hook's DEL at poststop needs no configuration file. */
int moat_cni_run_by (const struct moat_cni_env *env, struct moat_netconf *conf,
                     enum moat_attacher by, json_t **ret_result, moat_err_t *err);

/* DEL of the attachment env names (container id, ifname) on network
 * conf->name, the caller holding that network's lock
 * (moat_network_lock): for a caller that decides under the lock whether
 * to remove it (moatctl gc, verbs/gc.h). Same steps as the DEL verb,
 * the network's last-attachment cleanup included. */
int moat_cni_del_locked (const struct moat_cni_env *env, struct moat_netconf *conf,
                         moat_err_t *err);

#endif
