/* SPDX-License-Identifier: Apache-2.0 */
/* A host-network container's attachment (see hostnet.h). */
#include "model/hostnet.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

void
moat_hostnet_free (struct moat_hostnet *h)
{
  free (h->network);
  free (h->container_id);
  free (h->cgroup_dir);
  json_decref (h->policy);
  free (h->ident);
  memset (h, 0, sizeof (*h));
}

json_t *
moat_hostnet_to_json (const struct moat_hostnet *h)
{
  json_t *j
      = json_pack ("{s:s, s:s, s:s, s:s, s:I, s:b, s:b, s:O*, s:s*}", "kind", MOAT_HOSTNET_KIND,
                   "network", h->network, "containerId", h->container_id, "cgroupDir",
                   h->cgroup_dir, "cgroup", (json_int_t)h->cgroup, "ownGroup", h->own_group,
                   "internet", h->internet, "policy", h->policy, "ident", h->ident);

  if (j
      && ((h->pending && json_object_set_new (j, "policyPending", json_true ()) < 0)
          || (h->host_process && json_object_set_new (j, "hostProcess", json_true ()) < 0)
          || (h->ipv6 && json_object_set_new (j, "ipv6", json_true ()) < 0)))
    {
      json_decref (j);
      return NULL;
    }
  return j;
}

static char *
dup_or_null (const char *s, bool *oom)
{
  char *d = s ? strdup (s) : NULL;

  if (s && !d)
    *oom = true;
  return d;
}

int
moat_hostnet_from_json (json_t *root, struct moat_hostnet *ret, moat_err_t *err)
{
  const char *kind, *network, *id, *dir, *ident = NULL;
  json_int_t cgroup;
  int own = 0, internet = 0, pending = 0, host_process = 0, ipv6 = 0;
  json_t *policy = NULL;
  json_error_t jerr;
  bool oom = false;

  memset (ret, 0, sizeof (*ret));
  if (json_unpack_ex (
          root, &jerr, 0, "{s:s, s:s, s:s, s:s, s:I, s:b, s?:b, s?:o, s?:s, s?:b, s?:b, s?:b}",
          "kind", &kind, "network", &network, "containerId", &id, "cgroupDir", &dir, "cgroup",
          &cgroup, "ownGroup", &own, "internet", &internet, "policy", &policy, "ident", &ident,
          "policyPending", &pending, "hostProcess", &host_process, "ipv6", &ipv6)
      < 0)
    return moat_error (err, MOAT_E_STATE, 0, "host-network record: %s", jerr.text);
  if (strcmp (kind, MOAT_HOSTNET_KIND) != 0 || cgroup <= 0)
    return moat_error (err, MOAT_E_STATE, 0, "host-network record: bad kind or cgroup");
  ret->network = dup_or_null (network, &oom);
  ret->container_id = dup_or_null (id, &oom);
  ret->cgroup_dir = dup_or_null (dir, &oom);
  ret->ident = dup_or_null (ident, &oom);
  ret->cgroup = (uint64_t)cgroup;
  ret->own_group = own;
  ret->internet = internet;
  ret->pending = pending;
  ret->host_process = host_process;
  ret->ipv6 = ipv6;
  ret->policy = policy && !json_is_null (policy) ? json_incref (policy) : NULL;
  if (oom)
    {
      moat_hostnet_free (ret);
      return moat_error_nomem (err, "host-network record");
    }
  return 0;
}

int
moat_hostnet_policy_check (const char *container_id, const struct moat_policy *p, moat_err_t *err)
{
  const char *what = NULL;

  if (p->a.have_proxy)
    what = "io.moat.proxy";
  else if (p->a.publish.n > 0)
    what = "io.moat.publish";
  else if (p->a.n_egress_deny || p->a.n_ingress_deny)
    what = "io.moat.policy (a profile's address reject rules)";
  if (!what)
    return 0;
  return moat_error (err, MOAT_E_CONFIG, 0,
                     "%s: not for host-network container \"%s\" (it shares the host's network "
                     "namespace)",
                     what, container_id);
}

/* Its own elements have no container's address: no twin waits for one. */
static int
no_addr6 (struct in_addr addr, struct in6_addr *ret, void *data)
{
  (void)addr;
  (void)ret;
  (void)data;
  return 0;
}

static int
acls (uint64_t cgroup, bool ingress, bool ipv6, const struct moat_acl *v, size_t n,
      struct moat_nft_elems *out)
{
  for (size_t i = 0; i < n; i++)
    if ((ipv6 || !v[i].v6) && moat_nft_elems_hostnet_acl (out, ingress, cgroup, &v[i]) < 0)
      return -1;
  return 0;
}

int
moat_hostnet_compile (uint64_t cgroup, const char *ident, bool network_internet, bool ipv6,
                      const struct moat_policy *p, struct moat_nft_elems *out)
{
  const struct moat_annotations *a = &p->a;
  struct moat_acl anywhere = { .prefixlen = 0 };
  size_t from = moat_nft_elems_count (out);

  if (moat_nft_elems_hostnet (out, cgroup) < 0
      || (ident && moat_nft_elems_hostnet_ident (out, cgroup, ident) < 0)
      || acls (cgroup, false, ipv6, a->egress, a->n_egress, out) < 0
      || acls (cgroup, true, ipv6, a->ingress, a->n_ingress, out) < 0)
    return -1;
  if (((a->have_internet && a->internet) || network_internet)
      && moat_nft_elems_hostnet_acl (out, false, cgroup, &anywhere) < 0)
    return -1;
  if (ipv6
      && moat_nft_elems_twin6_range (out, out, from, moat_nft_elems_count (out), no_addr6, NULL)
             < 0)
    return -1;
  return 0;
}

int
moat_hostnet_elems (const struct moat_hostnet *h, struct moat_nft_elems *out, moat_err_t *err)
{
  _cleanup_ (moat_policy_free) struct moat_policy p = { 0 };

  if (!h->policy)
    return moat_nft_elems_hostnet (out, h->cgroup) < 0 ? moat_error_nomem (err, "policy") : 0;
  if (moat_policy_from_json (h->policy, &p, err) < 0)
    return moat_error_prefix (err, "host-network record %s", h->container_id);
  if (moat_hostnet_compile (h->cgroup, h->ident, h->internet, h->ipv6, &p, out) < 0)
    return moat_error_nomem (err, "policy");
  return 0;
}
