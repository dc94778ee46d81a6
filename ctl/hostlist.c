/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl ls and show of host-network containers (verbs/hostnet.h): no
 * address, no host end; their cgroup instead. */
#include "ctl-internal.h"

#include <stdio.h>
#include <string.h>

#include "model/hostnet.h"
#include "state/hostnet.h"

static json_t *
labels_of (const struct moat_hostnet *h)
{
  json_t *labels = h->policy ? json_object_get (h->policy, "labels") : NULL;
  json_t *out = json_object (), *v;
  const char *key;

  json_object_foreach (labels, key, v)
  {
    if (out && strncmp (key, "@sys:", 5) != 0)
      json_object_set (out, key, v);
  }
  return out;
}

static json_t *
hostnet_json (const struct moat_hostnet *h)
{
  const char *kind = h->host_process ? MOAT_HOSTPROC_KIND : MOAT_HOSTNET_KIND;
  char cgroup[32];

  snprintf (cgroup, sizeof (cgroup), "%llu", (unsigned long long)h->cgroup);
  return json_pack ("{s:s, s:n, s:s, s:s, s:s, s:s, s:s, s:o, s:O*, s:O*, s:[], s:s, s:s, s:s}",
                    "id", h->container_id, "name", "network", h->network, "ifname", kind, "address",
                    kind, "mac", "-", "hostIf", "-", "labels", labels_of (h), "profile",
                    h->policy ? json_object_get (h->policy, "profile") : NULL, "policy", h->policy,
                    "grants", "kind", kind, "cgroup", cgroup, "cgroupDir", h->cgroup_dir);
}

int
ctl_hostnet_list (const char *only, json_t *list, bool *ret_found, moat_err_t *err)
{
  _cleanup_strv_ char **ids = NULL;

  *ret_found = false;
  if (moat_hostnet_list (&ids, err) < 0)
    return -1;
  for (size_t i = 0; ids[i]; i++)
    {
      _cleanup_ (moat_hostnet_free) struct moat_hostnet h = { 0 };
      json_t *c;
      int r;

      if (only && strcmp (ids[i], only) != 0)
        continue;
      r = moat_hostnet_read (ids[i], &h, err);
      if (r < 0)
        return -1;
      if (r == 0)
        continue;
      c = hostnet_json (&h);
      if (!c || json_array_append_new (list, c) < 0)
        return moat_error_nomem (err, "moatctl");
      *ret_found = true;
    }
  return 0;
}
