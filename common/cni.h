/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CNI_H
#define MOAT_CNI_H

#include <jansson.h>

#include "config.h"
#include "error.h"

/* The CNI verbs. Each returns 0 or -1 with *err set; ADD (and VERSION)
 * return their result in *ret_result, the others return nothing on
 * success. The caller prints. */
int moat_cni_run (const struct moat_cni_env *env, struct moat_netconf *conf, json_t **ret_result,
                  moat_err_t *err);

#endif
