/* SPDX-License-Identifier: Apache-2.0 */
/* Host processes by their cgroup (see hostproc.h). */
#include "verbs/hostproc.h"

#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "model/hostnet.h"
#include "state/hostnet.h"
#include "verbs/hostnet.h"

/* Another record holds the name, or the group under another name. */
static int
check_free (const char *name, uint64_t cgroup, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **ids = NULL;

  if (moat_hostnet_list (&ids, err) < 0)
    return -1;
  for (size_t i = 0; ids[i]; i++)
    {
      _cleanup_ (moat_hostnet_free) struct moat_hostnet h = { 0 };
      int r = moat_hostnet_read (ids[i], &h, err);

      if (r < 0)
        return -1;
      if (r == 1 && strcmp (h.container_id, name) == 0)
        return moat_error (err, MOAT_E_CONFIG, EEXIST,
                           "--name \"%s\": taken (moatctl host detach %s frees it)", name, name);
      if (r == 1 && h.cgroup == cgroup)
        return moat_error (err, MOAT_E_CONFIG, EEXIST,
                           "--cgroup \"%s\": attached already as \"%s\"", h.cgroup_dir,
                           h.container_id);
    }
  return 0;
}

int
moat_host_attach (const struct moat_host_request *r, moat_err_t *err)
{
  struct moat_hostnet_request req = {
    .conf = r->conf,
    .container_id = r->name,
    .annotations = r->annotations,
    .plan = r->plan,
    .host_process = true,
  };
  uint64_t cgroup;

  if (!moat_container_id_valid (r->name))
    return moat_error (
        err, MOAT_E_CONFIG, EINVAL,
        "--name \"%s\": must be alphanumeric, '_', '.' or '-', starting alphanumeric", r->name);
  if (moat_cgroup_join (r->plan, 0, &cgroup, err) < 0 || check_free (r->name, cgroup, err) < 0)
    return -1;
  if (moat_hostnet_attach (&req, err) < 0)
    return moat_error_prefix (err, "network \"%s\"", r->conf->name);
  return 0;
}

int
moat_host_detach (const char *name, moat_err_t *err)
{
  _cleanup_ (moat_hostnet_free) struct moat_hostnet h = { 0 };
  int r;

  if (!moat_container_id_valid (name))
    return moat_error (err, MOAT_E_CONFIG, EINVAL, "\"%s\": not a host process's name", name);
  r = moat_hostnet_read (name, &h, err);
  if (r < 0)
    return -1;
  if (r == 0)
    return moat_error (err, MOAT_E_UNKNOWN, ENOENT, "no host process \"%s\"", name);
  if (!h.host_process)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "\"%s\": a host-network container (its poststop detaches it)", name);
  return moat_hostnet_detach (name, err);
}
