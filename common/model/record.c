/* SPDX-License-Identifier: Apache-2.0 */
/* An attachment's record in memory and as JSON (see record.h). */
#include "model/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ifname.h"
#include "base/ip6.h"
#include "model/config.h"
#include "model/result.h"

const char *
moat_attacher_name (enum moat_attacher by)
{
  return by == MOAT_ATTACHED_BY_HOOK ? "hook" : "cni";
}

/* Records written before "attachedBy" existed are the runtime's. */
static int
attacher_parse (json_t *v, enum moat_attacher *ret)
{
  const char *s = json_string_value (v);

  if (!v || (s && strcmp (s, "cni") == 0))
    *ret = MOAT_ATTACHED_BY_CNI;
  else if (s && strcmp (s, "hook") == 0)
    *ret = MOAT_ATTACHED_BY_HOOK;
  else
    return -1;
  return 0;
}

/* "address6": "fd00:1::2/64", "gateway6": "fd00:1::1" (dual stack only:
 * an IPv4 network's record stays as it was). */
static int
record_addr6_to_json (const struct moat_record *r, json_t *j)
{
  char a[INET6_ADDRSTRLEN + 4], g[INET6_ADDRSTRLEN];

  moat_ipv6_text (&r->addr6, a);
  snprintf (a + strlen (a), 5, "/%d", MOAT_SUBNET6_PREFIXLEN);
  if (json_object_set_new (j, "address6", json_string (a)) < 0
      || json_object_set_new (j, "gateway6", json_string (moat_ipv6_text (&r->gateway6, g))) < 0)
    return -1;
  return 0;
}

static int
record_addr6_from_json (json_t *root, struct moat_record *r)
{
  json_t *address6 = json_object_get (root, "address6");
  const char *gateway6 = json_string_value (json_object_get (root, "gateway6"));
  int prefixlen;

  if (!address6)
    return 0;
  if (moat_parse_cidr6 (json_string_value (address6), &r->addr6, &prefixlen) < 0
      || prefixlen != MOAT_SUBNET6_PREFIXLEN || moat_parse_ipv6 (gateway6, &r->gateway6) < 0)
    return -1;
  r->have_addr6 = true;
  return 0;
}

/* An IPv6-only container has no IPv4 address: its key is under its own
 * name, never shown as an address. */
static json_t *
record_addr4_json (const struct moat_record *r, struct in_addr a, int prefixlen)
{
  return r->v6only ? json_null () : moat_ipv4_json (a, prefixlen);
}

json_t *
moat_record_to_json (const struct moat_record *r)
{
  char mac[18];

  moat_mac_format (r->mac, mac);
  json_t *j = json_pack (
      "{s:s*, s:s, s:s, s:s, s:s*, s:s, s:s, s:s, s:o, s:o, s:s*, s:s*, s:s*,"
      " s:b, s:b, s:b, s:O*, s:O*, s:s*, s:O*, s:s*, s:O*, s:s, s:O*, s:O*}",
      "cniVersion", r->cni_version, "network", r->network, "containerId", r->container_id, "ifname",
      r->ifname, "netns", r->netns, "hostIf", r->host_if, "bridge", r->bridge, "mac", mac,
      "address", record_addr4_json (r, r->addr, r->prefixlen), "gateway",
      record_addr4_json (r, r->gateway, -1), "ipam", r->ipam ? r->ipam : "builtin", "name", r->name,
      "podNamespace", r->pod_namespace, "quiet", r->quiet, "internet", r->internet, "masquerade",
      r->masquerade, "labels", r->labels, "podAnnotations", r->pod_annotations, "policyFile",
      r->policy_file, "policy", r->policy, "ident", r->ident, "grants", r->grants, "attachedBy",
      moat_attacher_name (r->attached_by), "netconf", r->netconf, "allow", r->allow);
  if (j && r->publish && json_object_set (j, "publish", r->publish) < 0)
    {
      json_decref (j);
      return NULL;
    }
  /* Only while set: records stay as they were otherwise. */
  if (j
      && ((r->policy_pending && json_object_set_new (j, "policyPending", json_true ()) < 0)
          || (r->dns && json_object_set_new (j, "dns", json_true ()) < 0)
          || (r->log && json_object_set_new (j, "log", json_true ()) < 0)
          || (r->aliases && json_object_set (j, "aliases", r->aliases) < 0)
          || (r->sources && json_object_set (j, "sources", r->sources) < 0)
          || (r->have_addr6 && record_addr6_to_json (r, j) < 0)
          || (r->v6only
              && json_object_set_new (j, "key4", moat_ipv4_json (r->addr, r->prefixlen)) < 0)
          || (r->remote_node
              && json_object_set_new (j, "remote", json_pack ("{s:s}", "node", r->remote_node))
                     < 0)))
    {
      json_decref (j);
      return NULL;
    }
  return j;
}

/* "address" and "gateway", or for an IPv6-only container (both null)
 * its key from "key4", the key range's first host its gateway. */
static int
record_addr4_from_json (json_t *root, struct moat_record *r)
{
  const char *address = json_string_value (json_object_get (root, "address"));
  const char *gateway = json_string_value (json_object_get (root, "gateway"));
  const char *key4 = json_string_value (json_object_get (root, "key4"));

  if (!address && key4)
    {
      if (moat_parse_cidr (key4, &r->addr, &r->prefixlen) < 0 || !moat_key4_range_has (r->addr))
        return -1;
      r->gateway.s_addr
          = htonl ((ntohl (r->addr.s_addr) & ntohl (moat_prefix_mask (r->prefixlen))) + 1);
      r->v6only = true;
      return 0;
    }
  if (!address || !gateway || moat_parse_cidr (address, &r->addr, &r->prefixlen) < 0
      || moat_parse_ipv4 (gateway, &r->gateway) < 0)
    return -1;
  return 0;
}

static char *
dup_opt (json_t *obj, const char *key)
{
  const char *s = json_string_value (json_object_get (obj, key));
  return s ? strdup (s) : NULL;
}

int
moat_record_from_json (json_t *root, struct moat_record *r, moat_err_t *err)
{
  const char *mac;
  json_t *labels, *annotations, *policy, *grants, *netconf, *allow, *aliases;

  memset (r, 0, sizeof (*r));
  if (record_addr4_from_json (root, r) < 0
      || json_unpack (root, "{s:s, s:b, s:b, s:b}", "mac", &mac, "quiet", &r->quiet, "internet",
                      &r->internet, "masquerade", &r->masquerade)
             < 0
      || moat_mac_parse (mac, r->mac) < 0)
    return moat_error (err, MOAT_E_STATE, 0, "malformed record");
  r->cni_version = dup_opt (root, "cniVersion");
  r->network = dup_opt (root, "network");
  r->container_id = dup_opt (root, "containerId");
  r->ifname = dup_opt (root, "ifname");
  r->netns = dup_opt (root, "netns");
  r->host_if = dup_opt (root, "hostIf");
  r->bridge = dup_opt (root, "bridge");
  r->ipam = dup_opt (root, "ipam");
  if (r->ipam && strcmp (r->ipam, "builtin") == 0)
    {
      free (r->ipam);
      r->ipam = NULL; /* the built-in allocator */
    }
  r->name = dup_opt (root, "name");
  r->pod_namespace = dup_opt (root, "podNamespace");
  labels = json_object_get (root, "labels");
  r->labels = json_is_object (labels) ? json_incref (labels) : json_object ();
  annotations = json_object_get (root, "podAnnotations");
  r->pod_annotations = json_is_object (annotations) ? json_incref (annotations) : NULL;
  r->policy_file = dup_opt (root, "policyFile");
  policy = json_object_get (root, "policy");
  r->policy = json_is_object (policy) ? json_incref (policy) : NULL;
  r->ident = dup_opt (root, "ident");
  grants = json_object_get (root, "grants");
  r->grants = json_is_array (grants) && json_array_size (grants) ? json_incref (grants) : NULL;
  r->policy_pending = json_is_true (json_object_get (root, "policyPending"));
  r->dns = json_is_true (json_object_get (root, "dns"));
  r->log = json_is_true (json_object_get (root, "log"));
  aliases = json_object_get (root, "aliases");
  r->aliases = json_is_array (aliases) && json_array_size (aliases) ? json_incref (aliases) : NULL;
  grants = json_object_get (root, "publish");
  r->publish = json_is_array (grants) && json_array_size (grants) ? json_incref (grants) : NULL;
  netconf = json_object_get (root, "netconf");
  r->netconf = json_is_object (netconf) ? json_incref (netconf) : NULL;
  allow = json_object_get (root, "allow");
  r->allow = allow && !json_is_null (allow) ? json_incref (allow) : NULL;
  allow = json_object_get (root, "sources");
  r->sources = json_is_object (allow) ? json_incref (allow) : NULL;
  if (attacher_parse (json_object_get (root, "attachedBy"), &r->attached_by) < 0)
    {
      moat_record_free (r);
      return moat_error (err, MOAT_E_STATE, 0,
                         "malformed record: attachedBy: want \"cni\" or \"hook\"");
    }
  r->remote_node = dup_opt (json_object_get (root, "remote"), "node");
  if (!r->network || !r->container_id || !r->ifname || !r->host_if || !r->bridge
      || (!r->remote_node && (!moat_ifname_valid (r->host_if) || !moat_ifname_valid (r->bridge)))
      || record_addr6_from_json (root, r) < 0 || (r->v6only && !r->have_addr6))
    {
      moat_record_free (r);
      return moat_error (err, MOAT_E_STATE, 0, "malformed record");
    }
  return 0;
}

void
moat_record_free (struct moat_record *r)
{
  free (r->cni_version);
  free (r->network);
  free (r->container_id);
  free (r->ifname);
  free (r->netns);
  free (r->host_if);
  free (r->bridge);
  free (r->ipam);
  free (r->name);
  free (r->pod_namespace);
  json_decref (r->labels);
  json_decref (r->pod_annotations);
  free (r->policy_file);
  json_decref (r->policy);
  json_decref (r->grants);
  json_decref (r->publish);
  json_decref (r->netconf);
  json_decref (r->allow);
  json_decref (r->aliases);
  json_decref (r->sources);
  free (r->remote_node);
  free (r->ident);
  memset (r, 0, sizeof (*r));
}
