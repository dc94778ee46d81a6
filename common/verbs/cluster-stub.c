/* SPDX-License-Identifier: Apache-2.0 */
/* TEMPORARY: stand-ins for verbs/cluster.c (branch cremote) until it is
 * merged; deleted then. */
#include "verbs/cluster.h"

int
moat_cluster_sync (const char *self, json_t *view, moat_err_t *err)
{
  return 0;
}

json_t *
moat_cluster_local_members (const char *cluster, const char *self, moat_err_t *err)
{
  return json_array ();
}
