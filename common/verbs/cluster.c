/* SPDX-License-Identifier: Apache-2.0 */
/* Cluster mode (docs/cluster.md): a view of the other nodes synced into
 * this node's state and kernel; this node's members, published. */
#include "verbs/cluster.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "base/strv.h"
#include "base/types.h"
#include "kernel/netlink.h"
#include "kernel/nft.h"
#include "kernel/route.h"
#include "model/config.h"
#include "model/clusterview.h"
#include "model/result.h"
#include "state/remote.h"
#include "state/state.h"
#include "verbs/apply.h"

/* --- files under <run dir>/.cluster/ --------------------------------------- */

static int
cluster_file (char *buf, size_t size, const char *sub, const char *name, moat_err_t *err)
{
  int n = name ? snprintf (buf, size, "%s/.cluster/%s/%s.json", moat_run_dir (), sub, name)
               : snprintf (buf, size, "%s/.cluster/%s", moat_run_dir (), sub);

  if (n < 0 || (size_t)n >= size)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "cluster file");
  return 0;
}

static int
cluster_file_write (const char *sub, const char *name, json_t *j, moat_err_t *err)
{
  _cleanup_free_ char *text = json_dumps (j, JSON_COMPACT);
  char dir[4096], path[4096];

  if (!text)
    return moat_error_nomem (err, "cluster file");
  if (cluster_file (dir, sizeof (dir), sub, NULL, err) < 0
      || cluster_file (path, sizeof (path), sub, name, err) < 0
      || moat_mkdir_p (dir, MOAT_E_STATE, err) < 0)
    return -1;
  return moat_write_atomic (path, text, err);
}

/* The file, or NULL when there is none (or it is unreadable: then as if none). */
static json_t *
cluster_file_read (const char *sub, const char *name)
{
  char path[4096];
  moat_err_t ignored = { 0 };

  if (cluster_file (path, sizeof (path), sub, name, &ignored) < 0)
    return NULL;
  return json_load_file (path, 0, NULL);
}

/* Orders syncs of one cluster (the watcher's and moatctl's). */
static int
cluster_lock (const char *cluster, int *ret_fd, moat_err_t *err)
{
  char dir[4096], path[4096];
  int fd;

  if (cluster_file (dir, sizeof (dir), "locks", NULL, err) < 0
      || moat_mkdir_p (dir, MOAT_E_STATE, err) < 0)
    return -1;
  if ((size_t)snprintf (path, sizeof (path), "%s/%s.lock", dir, cluster) >= sizeof (path))
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "cluster lock");
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return moat_error (err, MOAT_E_STATE, errno, "open \"%s\"", path);
  if (flock (fd, LOCK_EX) < 0)
    {
      close (fd);
      return moat_error (err, MOAT_E_STATE, errno, "flock \"%s\"", path);
    }
  *ret_fd = fd;
  return 0;
}

/* --- nodes: routes and the node sets --------------------------------------- */

static json_t *
node_link_json (const char *node, const struct moat_node_link *l)
{
  char mac[18], subnet6[INET6_ADDRSTRLEN + 4], gateway6[INET6_ADDRSTRLEN];
  json_t *j;

  moat_mac_format (l->mac, mac);
  j = json_pack ("{s:s, s:o, s:o, s:s, s:s}", "node", node, "subnet",
                 moat_ipv4_json (l->subnet, l->prefixlen), "underlay",
                 moat_ipv4_json (l->underlay, -1), "ifname", l->ifname, "mac", mac);
  if (j && l->have6)
    {
      inet_ntop (AF_INET6, &l->subnet6, subnet6, INET6_ADDRSTRLEN);
      snprintf (subnet6 + strlen (subnet6), 5, "/%d", l->prefixlen6);
      inet_ntop (AF_INET6, &l->gateway6, gateway6, sizeof (gateway6));
      if (json_object_set_new (j, "subnet6", json_string (subnet6)) < 0
          || json_object_set_new (j, "gateway6", json_string (gateway6)) < 0)
        {
          json_decref (j);
          return NULL;
        }
    }
  return j;
}

static int
node_link_from_json (json_t *j, struct moat_node_link *l)
{
  const char *subnet = json_string_value (json_object_get (j, "subnet"));
  const char *underlay = json_string_value (json_object_get (j, "underlay"));
  const char *ifname = json_string_value (json_object_get (j, "ifname"));
  const char *mac = json_string_value (json_object_get (j, "mac"));
  const char *subnet6 = json_string_value (json_object_get (j, "subnet6"));
  const char *gateway6 = json_string_value (json_object_get (j, "gateway6"));

  memset (l, 0, sizeof (*l));
  if (!subnet || !underlay || !ifname || !mac || strlen (ifname) >= sizeof (l->ifname)
      || moat_parse_cidr (subnet, &l->subnet, &l->prefixlen) < 0
      || moat_parse_ipv4 (underlay, &l->underlay) < 0 || moat_mac_parse (mac, l->mac) < 0)
    return -1;
  l->have6 = subnet6 != NULL;
  if (l->have6
      && (!gateway6 || moat_parse_cidr6 (subnet6, &l->subnet6, &l->prefixlen6) < 0
          || moat_parse_ipv6 (gateway6, &l->gateway6) < 0))
    return -1;
  strcpy (l->ifname, ifname);
  return 0;
}

static bool
nets_dual_stack (const struct moat_cluster_net *nets, size_t nnets)
{
  for (size_t i = 0; i < nnets; i++)
    if (nets[i].have_subnet6)
      return true;
  return false;
}

/* A dual-stack node's subnet6, routed on the link its IPv4 underlay is on
 * (docs/cluster.md, "IPv6 between nodes"): via its "underlay6", else the
 * link-local address its MAC gives (EUI-64). Only when a network of the
 * cluster is dual stack here: an IPv4-only host's tables stay IPv4's. */
static int
node_link6_resolve (const struct moat_view_node *n, const struct moat_cluster_net *nets,
                    size_t nnets, struct moat_node_link *l, moat_err_t *err)
{
  if (!n->have_subnet6 || !nets_dual_stack (nets, nnets))
    return 0;
  for (size_t i = 0; i < nnets; i++)
    if (nets[i].have_subnet6
        && moat_subnets6_overlap (&n->subnet6, n->prefixlen6, &nets[i].subnet6, 64))
      return moat_error (err, MOAT_E_CONFIG, 0,
                         "view: node \"%s\": its subnet6 overlaps network \"%s\"'s here", n->node,
                         nets[i].network);
  l->have6 = true;
  l->subnet6 = n->subnet6;
  l->prefixlen6 = n->prefixlen6;
  if (n->have_underlay6)
    l->gateway6 = n->underlay6;
  else
    moat_link_local6 (l->mac, &l->gateway6);
  return 0;
}

/* Where node n's packets come and go: the interface its underlay address
 * is reached by (on that link: VXLAN is not built yet), its MAC there. */
static int
node_link_resolve (struct moat_nl *nl, const struct moat_view_node *n,
                   const struct moat_cluster_net *nets, size_t nnets, struct moat_node_link *l,
                   moat_err_t *err)
{
  char text[INET_ADDRSTRLEN];
  bool direct = false;
  int r;

  inet_ntop (AF_INET, &n->underlay, text, sizeof (text));
  for (size_t i = 0; i < nnets; i++)
    if (moat_subnets_overlap (n->subnet, n->prefixlen, nets[i].subnet, nets[i].prefixlen))
      return moat_error (err, MOAT_E_CONFIG, 0,
                         "view: node \"%s\": its subnet overlaps network \"%s\"'s here", n->node,
                         nets[i].network);
  memset (l, 0, sizeof (*l));
  l->subnet = n->subnet;
  l->prefixlen = n->prefixlen;
  l->underlay = n->underlay;
  if (moat_route_get (nl, n->underlay, l->ifname, &direct, err) < 0)
    return moat_error_prefix (err, "view: node \"%s\"", n->node);
  if (!direct)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "view: node \"%s\": underlay %s is not on a link of this node (routed "
                       "through a gateway; VXLAN between nodes is not built yet)",
                       n->node, text);
  if (n->have_mac)
    {
      memcpy (l->mac, n->mac, MOAT_MAC_LEN);
      return node_link6_resolve (n, nets, nnets, l, err);
    }
  r = moat_neigh_mac (nl, l->ifname, n->underlay, l->mac, err);
  if (r < 0)
    return -1;
  if (r == 0)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "view: node \"%s\": no MAC known for underlay %s on \"%s\" (give \"mac\" "
                       "in the view, or let the neighbour be resolved first)",
                       n->node, text, l->ifname);
  return node_link6_resolve (n, nets, nnets, l, err);
}

struct node_links
{
  struct moat_node_link *v;
  const char **names;
  size_t n;
};

static void
node_links_free (struct node_links *l)
{
  free (l->v);
  free (l->names);
}

/* Routes and node elements: what the view says, the rest of what the
 * last sync made (<run dir>/.cluster/nodes/<cluster>.json) removed. */
static int
nodes_sync (struct moat_nft *nft, const char *self, const struct moat_view *v,
            const struct moat_cluster_net *nets, size_t nnets, moat_err_t *err)
{
  _cleanup_ (moat_nl_closep) struct moat_nl *nl = NULL;
  _cleanup_ (json_decrefp) json_t *old = cluster_file_read ("nodes", v->cluster);
  _cleanup_ (json_decrefp) json_t *now = json_array ();
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *del = moat_nft_elems_new ();
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *add = moat_nft_elems_new ();
  _cleanup_ (node_links_free) struct node_links links = { 0 };
  struct in_addr none = { 0 };
  bool any6 = false;
  size_t i;
  json_t *o;

  if (!now || !del || !add || !(links.v = calloc (v->nnodes + 1, sizeof (*links.v)))
      || !(links.names = calloc (v->nnodes + 1, sizeof (*links.names))))
    return moat_error_nomem (err, "cluster nodes");
  if (moat_nl_open (&nl, err) < 0)
    return -1;
  for (i = 0; i < v->nnodes; i++)
    {
      if (strcmp (v->nodes[i].node, self) == 0)
        continue;
      if (node_link_resolve (nl, &v->nodes[i], nets, nnets, &links.v[links.n], err) < 0)
        return -1;
      links.names[links.n] = v->nodes[i].node;
      any6 = any6 || links.v[links.n].have6;
      if (moat_nft_elems_node (add, &links.v[links.n]) < 0
          || json_array_append_new (now, node_link_json (v->nodes[i].node, &links.v[links.n])) < 0)
        return moat_error_nomem (err, "cluster nodes");
      links.n++;
    }
  /* What the last sync made and this one does not: its elements and route
   * go (the same elements again are added again, harmlessly). */
  json_array_foreach (old, i, o)
  {
    struct moat_node_link l;
    bool kept = false;

    if (node_link_from_json (o, &l) < 0)
      continue;
    for (size_t k = 0; k < links.n && !kept; k++)
      kept = memcmp (&links.v[k], &l, sizeof (l)) == 0;
    if (kept)
      continue;
    if (moat_nft_elems_node (del, &l) < 0)
      return moat_error_nomem (err, "cluster nodes");
    if (moat_route_del (nl, l.subnet, l.prefixlen, err) < 0
        || (l.have6 && moat_route6_del (nl, &l.subnet6, l.prefixlen6, err) < 0))
      return -1;
  }
  if (moat_nft_tables_ensure (nft, err) < 0 || (any6 && moat_nft_half6_ensure (nft, err) < 0)
      || moat_nft_policy_replace (nft, none, false, false, del, NULL, NULL, add, err) < 0)
    return -1;
  for (size_t k = 0; k < links.n; k++)
    if (moat_route_replace (nl, links.v[k].subnet, links.v[k].prefixlen, links.v[k].underlay, err)
            < 0
        || (links.v[k].have6
            && moat_route6_replace (nl, &links.v[k].subnet6, links.v[k].prefixlen6,
                                    &links.v[k].gateway6, links.v[k].ifname, err)
                   < 0))
      return moat_error_prefix (err, "view: node \"%s\"", links.names[k]);
  return cluster_file_write ("nodes", v->cluster, now, err);
}

/* --- members: remote records, joined like local containers ------------------- */

static int
remote_key (char *buf, size_t size, const char *container, const char *node)
{
  return moat_attachment_key (buf, size, container, node);
}

/* The identity part of a member's policy: labels and selectors. Its own
 * ACLs, host ports, internet and proxy concern its node alone. */
static int
member_policy (json_t *policy, struct moat_policy *ret, json_t **ret_json, moat_err_t *err)
{
  struct moat_policy full = { 0 };
  _cleanup_ (json_decrefp) json_t *ident = NULL;

  if (moat_policy_from_json (policy, &full, err) < 0)
    return -1;
  ident = moat_policy_ident_json (&full);
  moat_policy_free (&full);
  if (!ident)
    return moat_error_nomem (err, "policy");
  if (moat_policy_from_ident_json (ident, ret, err) < 0)
    return -1;
  *ret_json = moat_policy_to_json (ret);
  if (!*ret_json)
    {
      moat_policy_free (ret);
      return moat_error_nomem (err, "policy");
    }
  return 0;
}

static int
member_record (const struct moat_view_member *m, struct moat_record *r, moat_err_t *err)
{
  memset (r, 0, sizeof (*r));
  r->cni_version = strdup (MOAT_CNI_VERSION);
  r->network = strdup (m->network);
  r->container_id = strdup (m->container);
  r->ifname = strdup (m->node);
  r->host_if = strdup ("");
  r->bridge = strdup ("");
  r->remote_node = strdup (m->node);
  r->name = m->name ? strdup (m->name) : NULL;
  r->labels = json_object ();
  r->addr = m->addr;
  r->prefixlen = 32;
  r->have_addr6 = m->have_addr6;
  r->addr6 = m->addr6;
  if (!r->cni_version || !r->network || !r->container_id || !r->ifname || !r->host_if || !r->bridge
      || !r->remote_node || (m->name && !r->name) || !r->labels)
    return moat_error_nomem (err, "remote record");
  return 0;
}

static int
member_leave (struct moat_nft *nft, const char *network, const char *key, moat_err_t *err)
{
  _cleanup_ (moat_record_free) struct moat_record rec = { 0 };
  int found = moat_remote_read (network, key, &rec, err);

  if (found < 0)
    return -1;
  /* Out of its identity, then every element naming it (its grants and
   * those naming it too): its flows meet the policy without it. */
  if (found
      && (((rec.ident || rec.policy) && moat_policy_leave (nft, &rec, MOAT_LEAVE_IDENTITY, err) < 0)
          || moat_nft_address_forget2 (nft, rec.addr, rec.have_addr6 ? &rec.addr6 : NULL, err) < 0))
    return -1;
  return moat_remote_remove (network, key, err);
}

static bool
same_addresses (const struct moat_record *old, const struct moat_view_member *m)
{
  return old->addr.s_addr == m->addr.s_addr && old->have_addr6 == m->have_addr6
         && (!m->have_addr6 || IN6_ARE_ADDR_EQUAL (&old->addr6, &m->addr6));
}

/* Joins, or joins again when its addresses or policy changed. */
static int
member_join (struct moat_nft *nft, const struct moat_view_member *m, moat_err_t *err)
{
  _cleanup_ (moat_record_free) struct moat_record old = { 0 };
  _cleanup_ (moat_record_free) struct moat_record rec = { 0 };
  _cleanup_ (moat_policy_free) struct moat_policy p = { 0 };
  _cleanup_ (json_decrefp) json_t *pj = NULL;
  char key[MOAT_KEY_MAX + 1];
  int found;

  if (remote_key (key, sizeof (key), m->container, m->node) < 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "view: member \"%s\": id too long", m->container);
  if (member_policy (m->policy, &p, &pj, err) < 0)
    return moat_error_prefix (err, "view: member \"%s\" of node \"%s\"", m->container, m->node);
  found = moat_remote_read (m->network, key, &old, err);
  if (found < 0)
    return -1;
  if (found && same_addresses (&old, m) && json_equal (old.policy, pj)
      && (old.name == NULL) == (m->name == NULL) && (!m->name || strcmp (old.name, m->name) == 0))
    return 0;
  if (found && !same_addresses (&old, m) && member_leave (nft, m->network, key, err) < 0)
    return -1;
  if (found && same_addresses (&old, m) && !json_equal (old.policy, pj)
      && moat_policy_leave (nft, &old, MOAT_LEAVE_ALL, err) < 0)
    return -1;
  if (member_record (m, &rec, err) < 0)
    return -1;
  /* moatctl's grants on it stay while its address does. */
  if (found && same_addresses (&old, m))
    rec.grants = json_incref (old.grants);
  /* The record first (a crash leaves something to find), then the join. */
  if (moat_record_write (&rec, err) < 0)
    return -1;
  if (moat_policy_is_empty (&p))
    return 0;
  return moat_policy_join (nft, &rec, &p, err);
}

static bool
view_holds (const struct moat_view *v, const char *self, const char *network, const char *key)
{
  char k[MOAT_KEY_MAX + 1];

  for (size_t i = 0; i < v->nmembers; i++)
    if (moat_view_member_here (v, self, network, &v->members[i])
        && remote_key (k, sizeof (k), v->members[i].container, v->members[i].node) == 0
        && strcmp (k, key) == 0)
      return true;
  return false;
}

static int
network_sync (struct moat_nft *nft, const char *self, const struct moat_view *v,
              const struct moat_cluster_net *net, moat_err_t *err)
{
  const char *network = net->network;
  _cleanup_ (moat_strv_freep) char **keys = NULL;
  _cleanup_close_ int lock = -1;
  _cleanup_close_ int global = -1;

  if (moat_network_lock (network, &lock, err) < 0 || moat_global_lock (LOCK_SH, &global, err) < 0
      || moat_remote_list (network, &keys, err) < 0)
    return -1;
  for (size_t i = 0; keys[i]; i++)
    if (!view_holds (v, self, network, keys[i]) && member_leave (nft, network, keys[i], err) < 0)
      return -1;
  for (size_t i = 0; i < v->nmembers; i++)
    {
      struct moat_view_member m = v->members[i];
      const struct moat_view_node *node = moat_view_node_find (v, m.node);

      /* On an IPv4-only network here, or of a node without subnet6, a
       * member's address6 is routed nowhere: it joins by IPv4 alone. */
      m.have_addr6 = m.have_addr6 && net->have_subnet6 && node && node->have_subnet6;
      if (moat_view_member_here (v, self, network, &v->members[i])
          && member_join (nft, &m, err) < 0)
        return -1;
    }
  return 0;
}

int
moat_cluster_sync (const char *self, json_t *view, moat_err_t *err)
{
  _cleanup_ (moat_view_free) struct moat_view v = { 0 };
  _cleanup_ (moat_nft_closep) struct moat_nft *nft = NULL;
  _cleanup_ (json_decrefp) json_t *cache = NULL;
  _cleanup_close_ int lock = -1;
  struct moat_cluster_net *nets = NULL;
  size_t nnets = 0;
  int r = -1;

  if (moat_view_parse (view, &v, err) < 0 || cluster_lock (v.cluster, &lock, err) < 0
      || moat_cluster_nets_list (v.cluster, &nets, &nnets, err) < 0)
    return -1;
  /* No network of the cluster here yet: nothing to join, nothing to route. */
  if (nnets == 0)
    {
      free (nets);
      return 0;
    }
  if (!self)
    self = nets[0].node;
  if (moat_nft_open (&nft, err) < 0)
    goto out;
  {
    _cleanup_close_ int global = -1;

    if (moat_global_lock (LOCK_SH, &global, err) < 0
        || nodes_sync (nft, self, &v, nets, nnets, err) < 0)
      goto out;
  }
  for (size_t i = 0; i < nnets; i++)
    if (network_sync (nft, self, &v, &nets[i], err) < 0)
      goto out;
  /* What explain says a remote peer's knowledge comes from. */
  cache = json_deep_copy (view);
  if (!cache
      || (!json_is_integer (json_object_get (cache, "readAt"))
          && json_object_set_new (cache, "readAt", json_integer ((json_int_t)time (NULL))) < 0))
    {
      moat_error_nomem (err, "cluster view");
      goto out;
    }
  r = cluster_file_write ("views", v.cluster, cache, err);
out:
  moat_cluster_nets_free (nets, nnets);
  return r;
}

/* --- this node's members ------------------------------------------------- */

static int
local_member (const struct moat_cluster_net *net, const char *self, const char *key, json_t *out,
              moat_err_t *err)
{
  _cleanup_ (moat_record_free) struct moat_record rec = { 0 };
  char addr6[INET6_ADDRSTRLEN];
  int found = moat_record_read (net->network, key, &rec, err);
  json_t *m;

  if (found <= 0)
    return found;
  if (!rec.policy)
    return 0;
  if (rec.have_addr6)
    inet_ntop (AF_INET6, &rec.addr6, addr6, sizeof (addr6));
  m = json_pack ("{s:s, s:s, s:s, s:s*, s:o, s:s*, s:O}", "node", self, "network", net->network,
                 "container", rec.container_id, "name", rec.name, "address",
                 moat_ipv4_json (rec.addr, -1), "address6", rec.have_addr6 ? addr6 : NULL, "policy",
                 rec.policy);
  if (!m || json_array_append_new (out, m) < 0)
    return moat_error_nomem (err, "cluster members");
  return 0;
}

json_t *
moat_cluster_local_members (const char *cluster, const char *self, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *out = json_array ();
  struct moat_cluster_net *nets = NULL;
  size_t nnets = 0;
  bool failed = false;

  if (!out)
    {
      moat_error_nomem (err, "cluster members");
      return NULL;
    }
  if (moat_cluster_nets_list (cluster, &nets, &nnets, err) < 0)
    return NULL;
  for (size_t i = 0; i < nnets && !failed; i++)
    {
      _cleanup_ (moat_strv_freep) char **keys = NULL;
      _cleanup_close_ int lock = -1;

      failed = moat_network_lock (nets[i].network, &lock, err) < 0
               || moat_record_list (nets[i].network, &keys, err) < 0;
      for (size_t k = 0; !failed && keys[k]; k++)
        failed = local_member (&nets[i], self ? self : nets[i].node, keys[k], out, err) < 0;
    }
  moat_cluster_nets_free (nets, nnets);
  return failed ? NULL : TAKE_PTR (out);
}

/* --- what explain says of a remote peer ------------------------------------ */

int
moat_cluster_origin (const char *network, const char *node, struct moat_cluster_origin *ret,
                     moat_err_t *err)
{
  _cleanup_ (moat_cluster_net_free) struct moat_cluster_net net = { 0 };
  _cleanup_ (json_decrefp) json_t *nodes = NULL;
  _cleanup_ (json_decrefp) json_t *view = NULL;
  int r = moat_cluster_net_read (network, &net, err);
  size_t i;
  json_t *o;

  memset (ret, 0, sizeof (*ret));
  if (r <= 0)
    return r;
  nodes = cluster_file_read ("nodes", net.cluster);
  view = cluster_file_read ("views", net.cluster);
  json_array_foreach (nodes, i, o)
  {
    const char *name = json_string_value (json_object_get (o, "node"));

    if (!name || strcmp (name, node) != 0 || node_link_from_json (o, &ret->link) < 0)
      continue;
    ret->revision = json_integer_value (json_object_get (view, "revision"));
    ret->read_at = json_integer_value (json_object_get (view, "readAt"));
    return 1;
  }
  return 0;
}

int
moat_cluster_nodes_expected (struct moat_nft_elems *out, moat_err_t *err)
{
  _cleanup_ (closedirp) DIR *d = NULL;
  char dir[4096];
  struct dirent *de;

  if (cluster_file (dir, sizeof (dir), "nodes", NULL, err) < 0)
    return -1;
  d = opendir (dir);
  if (!d)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_STATE, errno, "opendir \"%s\"", dir);
  while ((de = readdir (d)))
    {
      size_t len = strlen (de->d_name), i;
      _cleanup_free_ char *name = NULL;
      _cleanup_ (json_decrefp) json_t *nodes = NULL;
      json_t *o;

      if (de->d_name[0] == '.' || len <= 5 || strcmp (de->d_name + len - 5, ".json") != 0)
        continue;
      if (!(name = strndup (de->d_name, len - 5)))
        return moat_error_nomem (err, "cluster nodes");
      nodes = cluster_file_read ("nodes", name);
      json_array_foreach (nodes, i, o)
      {
        struct moat_node_link l;

        if (node_link_from_json (o, &l) == 0 && moat_nft_elems_node (out, &l) < 0)
          return moat_error_nomem (err, "cluster nodes");
      }
    }
  return 0;
}
