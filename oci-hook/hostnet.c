/* SPDX-License-Identifier: Apache-2.0 */
/* The hook's part for a host-network container (see hostnet.h). */
#include "hostnet.h"

#include <string.h>

#include "model/hostnet.h"
#include "state/hostnet.h"
#include "state/rundir.h"
#include "verbs/hostnet.h"

bool
moat_hook_hostnet_shares_host (json_t *config)
{
  json_t *linux_ = json_object_get (config, "linux");
  json_t *namespaces = json_object_get (linux_, "namespaces");
  size_t i;
  json_t *ns;

  if (!config)
    return false; /* no config.json: nothing known */
  json_array_foreach (namespaces, i, ns)
  {
    const char *type = json_string_value (json_object_get (ns, "type"));

    if (type && strcmp (type, "network") == 0)
      return false;
  }
  return true;
}

int
moat_hook_hostnet_plan (struct moat_hook_hostnet *hn, const char *id, long long pid,
                        json_t *annotations, moat_err_t *err)
{
  hn->start = true;
  hn->annotations = annotations;
  return moat_cgroup_plan (moat_run_dir (), id, pid, &hn->plan, err);
}

int
moat_hook_hostnet_plan_stop (struct moat_hook_hostnet *hn, const char *id, moat_err_t *err)
{
  struct moat_hostnet h = { 0 };
  int r = moat_hostnet_read (id, &h, err);

  moat_hostnet_free (&h);
  if (r < 0)
    return -1;
  hn->stop = r == 1;
  return 0;
}

int
moat_hook_hostnet_mount (const struct moat_hook_hostnet *hn, moat_err_t *err)
{
  return hn->start ? moat_cgroup_mount (&hn->plan, err) : 0;
}

int
moat_hook_hostnet_execute (const struct moat_hook_hostnet *hn, const struct moat_netconf *conf,
                           const char *id, long long pid, moat_err_t *err)
{
  struct moat_hostnet_request r = {
    .conf = conf,
    .container_id = id,
    .pid = pid,
    .annotations = hn->annotations,
    .plan = &hn->plan,
  };

  if (hn->stop)
    return moat_hostnet_detach (id, err);
  if (hn->start && moat_hostnet_attach (&r, err) < 0)
    return moat_error_prefix (err, "network \"%s\"", conf->name);
  return 0;
}

void
moat_hook_hostnet_free (struct moat_hook_hostnet *hn)
{
  json_decref (hn->annotations);
  memset (hn, 0, sizeof (*hn));
}
