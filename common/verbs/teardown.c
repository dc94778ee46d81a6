/* SPDX-License-Identifier: Apache-2.0 */
/* What the last DELs left, removed on request (see teardown.h). */
#include "verbs/teardown.h"

#include <sys/file.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "kernel/netlink.h"
#include "kernel/nft.h"
#include "state/state.h"
#include "verbs/cluster.h"

/* Deletes the bridge when no port is on it: 1 deleted, 0 kept. */
static int
bridge_remove_if_empty (struct moat_nl *nl, const char *bridge, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **ports = NULL;

  if (moat_bridge_ports (nl, bridge, &ports, err) < 0)
    return -1;
  if (ports[0])
    return 0;
  return moat_bridge_delete (nl, bridge, err) < 0 ? -1 : 1;
}

/* 1 with *err saying which, 0 when none is attached, -1 on an error. */
static int
attached_anywhere (struct moat_nft *nft, moat_err_t *err)
{
  int r = moat_any_record (err);

  if (r > 0)
    {
      moat_error (err, MOAT_E_STATE, 0,
                  "teardown: containers are attached (moatctl ls); DEL them first");
      return 1;
    }
  if (r == 0)
    r = moat_nft_attached (nft, err);
  if (r > 0)
    moat_error (err, MOAT_E_STATE, 0,
                "teardown: the kernel's tables guard ports of containers of another state "
                "directory (MOAT_RUN_DIR); DEL them first");
  return r;
}

int
moat_teardown_run (json_t **ret, moat_err_t *err)
{
  _cleanup_ (moat_nft_closep) struct moat_nft *nft = NULL;
  _cleanup_ (moat_nl_closep) struct moat_nl *nl = NULL;
  _cleanup_ (moat_strv_freep) char **bridges = NULL;
  _cleanup_ (json_decrefp) json_t *report
      = json_pack ("{s:[], s:[], s:[]}", "bridges", "kept", "tunnels");
  _cleanup_close_ int global = -1;
  int r;

  if (!report)
    return moat_error_nomem (err, "teardown");
  if (moat_global_lock (LOCK_EX, &global, err) < 0 || moat_nft_open (&nft, err) < 0)
    return -1;
  r = attached_anywhere (nft, err);
  if (r != 0)
    return r;
  if (moat_nft_bridges (nft, &bridges, err) < 0 || moat_nl_open (&nl, err) < 0)
    return -1;
  for (char **b = bridges; *b; b++)
    {
      r = bridge_remove_if_empty (nl, *b, err);

      if (r < 0)
        return -1;
      json_array_append_new (json_object_get (report, r ? "bridges" : "kept"), json_string (*b));
    }
  /* Cluster mode's routes and tunnels to other nodes: nothing of moat's
   * stays on the host. */
  if (moat_cluster_nodes_remove (json_object_get (report, "tunnels"), err) < 0
      || moat_nft_teardown (nft, err) < 0)
    return -1;
  *ret = TAKE_PTR (report);
  return 0;
}
