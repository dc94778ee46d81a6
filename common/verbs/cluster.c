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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "base/strv.h"
#include "base/types.h"
#include "kernel/netlink.h"
#include "kernel/nft.h"
#include "kernel/route.h"
#include "kernel/wg.h"
#include "model/config.h"
#include "model/clusterview.h"
#include "model/result.h"
#include "state/identities.h"
#include "state/remote.h"
#include "state/state.h"
#include "verbs/apply.h"
#include "verbs/hostnet.h"

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
node_link_json (const char *node, const struct moat_node_link *l, struct in_addr local,
                const struct moat_view_node *n, const char *ulif)
{
  char mac[18], subnet6[INET6_ADDRSTRLEN + 4], gateway6[INET6_ADDRSTRLEN], key[MOAT_WG_KEY_TEXT];
  json_t *j;

  moat_mac_format (l->mac, mac);
  j = json_pack ("{s:s, s:o, s:o, s:s, s:s}", "node", node, "subnet",
                 moat_ipv4_json (l->subnet, l->prefixlen), "underlay",
                 moat_ipv4_json (l->underlay, -1), "ifname", l->ifname, "mac", mac);
  if (j && l->vni
      && (json_object_set_new (j, "vni", json_integer (l->vni)) < 0
          || json_object_set_new (j, "local", moat_ipv4_json (local, -1)) < 0))
    {
      json_decref (j);
      return NULL;
    }
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
  if (j && n && n->have_wg_key)
    {
      moat_wg_key_format (n->wg_key, key);
      if (json_object_set_new (j, "wgKey", json_string (key)) < 0
          || (ulif && json_object_set_new (j, "underlayIf", json_string (ulif)) < 0))
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
  json_int_t vni = json_integer_value (json_object_get (j, "vni"));
  const char *subnet6 = json_string_value (json_object_get (j, "subnet6"));
  const char *gateway6 = json_string_value (json_object_get (j, "gateway6"));

  memset (l, 0, sizeof (*l));
  if (!subnet || !underlay || !ifname || !mac || strlen (ifname) >= sizeof (l->ifname)
      || moat_parse_cidr (subnet, &l->subnet, &l->prefixlen) < 0
      || moat_parse_ipv4 (underlay, &l->underlay) < 0 || moat_mac_parse (mac, l->mac) < 0 || vni < 0
      || vni > 0xffffff)
    return -1;
  l->have6 = subnet6 != NULL;
  if (l->have6
      && (!gateway6 || moat_parse_cidr6 (subnet6, &l->subnet6, &l->prefixlen6) < 0
          || moat_parse_ipv6 (gateway6, &l->gateway6) < 0))
    return -1;
  strcpy (l->ifname, ifname);
  l->vni = (uint32_t)vni;
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

static bool
same_ulif (json_t *a, json_t *b)
{
  const char *x = json_string_value (json_object_get (a, "underlayIf"));
  const char *y = json_string_value (json_object_get (b, "underlayIf"));

  return x == y || (x && y && strcmp (x, y) == 0);
}

/* An encrypted node's subnet in cleartext on the interface its datagrams
 * come by: no node_routes twin, so the first node rule drops it. */
static int
node_ulif_elems (struct moat_nft_elems *l, json_t *j)
{
  const char *ulif = json_string_value (json_object_get (j, "underlayIf"));
  const char *subnet = json_string_value (json_object_get (j, "subnet"));
  struct in_addr net;
  int len;

  if (!ulif || !subnet || strlen (ulif) >= IFNAMSIZ || moat_parse_cidr (subnet, &net, &len) < 0)
    return 0;
  return moat_nft_elems_node_net (l, net, len, ulif);
}

static int
node_subnet_check (const struct moat_view_node *n, const struct moat_cluster_net *nets,
                   size_t nnets, moat_err_t *err)
{
  for (size_t i = 0; i < nnets; i++)
    if (moat_subnets_overlap (n->subnet, n->prefixlen, nets[i].subnet, nets[i].prefixlen))
      return moat_error (err, MOAT_E_CONFIG, 0,
                         "view: node \"%s\": its subnet overlaps network \"%s\"'s here", n->node,
                         nets[i].network);
  return 0;
}

/* --- WireGuard (cluster.encrypt) ------------------------------------------ */

/* Every node of a cluster listens on this UDP port. */
#define MOAT_WG_PORT 51820

/* The cluster's device: moat-wg and a hash of the cluster's name. */
static void
wg_ifname (const char *cluster, char name[IFNAMSIZ])
{
  unsigned char h[4];

  crypto_generichash (h, sizeof (h), (const unsigned char *)cluster, strlen (cluster), NULL, 0);
  snprintf (name, IFNAMSIZ, "moat-wg%02x%02x%02x%02x", h[0], h[1], h[2], h[3]);
}

static int
wg_key_read (const char *path, unsigned char priv[MOAT_WG_KEY_BYTES], moat_err_t *err)
{
  _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;

  if (fd < 0)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_STATE, errno, "\"%s\"", path);
  if (fstat (fd, &st) < 0)
    return moat_error (err, MOAT_E_STATE, errno, "\"%s\"", path);
  if (!S_ISREG (st.st_mode) || st.st_uid != geteuid () || (st.st_mode & 077) != 0
      || st.st_size != MOAT_WG_KEY_BYTES || read (fd, priv, MOAT_WG_KEY_BYTES) != MOAT_WG_KEY_BYTES)
    return moat_error (err, MOAT_E_STATE, 0,
                       "\"%s\": must be a regular file of this user, mode 0600, of 32 bytes", path);
  return 1;
}

/* This node's private key for `cluster`, made once (0600, 32 bytes, in
 * <run dir>/.cluster/wg/<cluster>.key); a racing maker's key wins. */
static int
wg_private_key (const char *cluster, unsigned char priv[MOAT_WG_KEY_BYTES], moat_err_t *err)
{
  unsigned char pub[MOAT_WG_KEY_BYTES];
  char dir[4096], path[4096], tmp[4200];
  enum moat_file_step step = 0;
  int r;

  if (cluster_file (dir, sizeof (dir), "wg", NULL, err) < 0
      || (size_t)snprintf (path, sizeof (path), "%s/%s.key", dir, cluster) >= sizeof (path))
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "wireguard key");
  r = wg_key_read (path, priv, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  if (moat_mkdir_p (dir, MOAT_E_STATE, err) < 0 || moat_wg_keypair (priv, pub, err) < 0)
    return -1;
  snprintf (tmp, sizeof (tmp), "%s.%d.tmp", path, (int)getpid ());
  r = moat_file_write_at (AT_FDCWD, tmp, path, priv, MOAT_WG_KEY_BYTES, MOAT_FILE_NOREPLACE, &step);
  sodium_memzero (priv, MOAT_WG_KEY_BYTES);
  if (r < 0 && errno != EEXIST)
    return moat_error (err, MOAT_E_STATE, errno, "wireguard key \"%s\"", path);
  r = wg_key_read (path, priv, err);
  return r == 1 ? 0 : r < 0 ? -1 : moat_error (err, MOAT_E_STATE, 0, "\"%s\": vanished", path);
}

int
moat_cluster_wg_public (const char *cluster, char text[MOAT_WG_KEY_TEXT], moat_err_t *err)
{
  unsigned char priv[MOAT_WG_KEY_BYTES], pub[MOAT_WG_KEY_BYTES];
  int r;

  if (!moat_cluster_name_valid (cluster))
    return moat_error (err, MOAT_E_CONFIG, 0, "cluster \"%s\": not a cluster's name", cluster);
  r = wg_private_key (cluster, priv, err) < 0 || moat_wg_public (priv, pub, err) < 0 ? -1 : 0;
  sodium_memzero (priv, sizeof (priv));
  if (r == 0)
    moat_wg_key_format (pub, text);
  return r;
}

/* Node n reached through WireGuard: its packets come out of the cluster's
 * device (no Ethernet header there: its MAC in the node sets is zero). */
static int
node_link_wg (struct moat_nl *nl, const struct moat_view *v, const struct moat_view_node *n,
              const struct moat_cluster_net *nets, size_t nnets, struct moat_node_link *l,
              char ulif[IFNAMSIZ], moat_err_t *err)
{
  bool direct;

  if (node_subnet_check (n, nets, nnets, err) < 0)
    return -1;
  if (moat_route_get (nl, n->underlay, ulif, &direct, err) < 0)
    return moat_error_prefix (err, "view: node \"%s\"", n->node);
  if (!n->have_wg_key)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "view: node \"%s\": no \"wgKey\" (cluster \"%s\" is encrypted)", n->node,
                       v->cluster);
  memset (l, 0, sizeof (*l));
  l->subnet = n->subnet;
  l->prefixlen = n->prefixlen;
  l->underlay = n->underlay;
  wg_ifname (v->cluster, l->ifname);
  return 0;
}

/* How this node reaches another: the node link (its elements, its
 * route), and for a tunnel the underlay interface and this end's MAC. */
struct node_plan
{
  const char *name;
  struct moat_node_link l;
  char lower[IFNAMSIZ];
  unsigned char mac[MOAT_MAC_LEN];
  struct in_addr local; /* this node's underlay address in the view: the outer source */
  const struct moat_view_node *node;
  char ulif[IFNAMSIZ]; /* encrypted: the interface the node's datagrams come by */
};

/* Node n reached through a gateway: its VXLAN device (docs/cluster.md,
 * "Routing between nodes"), whose frames come from the peer's device MAC. */
static void
node_tunnel_plan (const char *cluster, const char *self, const struct moat_view_node *n,
                  struct node_plan *p)
{
  struct moat_tunnel t;

  moat_view_tunnel (cluster, self, n->node, &t);
  memcpy (p->lower, p->l.ifname, sizeof (p->lower));
  memset (p->l.ifname, 0, sizeof (p->l.ifname));
  snprintf (p->l.ifname, sizeof (p->l.ifname), "%s", t.ifname);
  memcpy (p->l.mac, t.peer_mac, MOAT_MAC_LEN);
  memcpy (p->mac, t.mac, MOAT_MAC_LEN);
  p->l.vni = t.vni;
}

/* Where node n's packets come and go: on a link of this node, the
 * interface its underlay address is reached by and its MAC there;
 * through a gateway, its VXLAN device. */
static int
node_link_resolve (struct moat_nl *nl, const char *cluster, const char *self,
                   const struct moat_view_node *n, const struct moat_cluster_net *nets,
                   size_t nnets, struct node_plan *p, moat_err_t *err)
{
  struct moat_node_link *l = &p->l;
  char text[INET_ADDRSTRLEN];
  bool direct = false;
  int r;

  inet_ntop (AF_INET, &n->underlay, text, sizeof (text));
  if (node_subnet_check (n, nets, nnets, err) < 0)
    return -1;
  memset (p, 0, sizeof (*p));
  p->name = n->node;
  l->subnet = n->subnet;
  l->prefixlen = n->prefixlen;
  l->underlay = n->underlay;
  if (moat_route_get (nl, n->underlay, l->ifname, &direct, err) < 0)
    return moat_error_prefix (err, "view: node \"%s\"", n->node);
  if (!direct)
    {
      node_tunnel_plan (cluster, self, n, p);
      return 0;
    }
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

/* Two tunnels of this node on one VNI: the kernel would refuse the second. */
static int
node_plans_check (const struct node_plan *p, size_t n, moat_err_t *err)
{
  for (size_t i = 0; i < n; i++)
    for (size_t k = i + 1; k < n; k++)
      if (p[i].l.vni && p[i].l.vni == p[k].l.vni)
        return moat_error (err, MOAT_E_CONFIG, 0,
                           "view: nodes \"%s\" and \"%s\": their tunnels' VNIs collide (%u); "
                           "rename one",
                           p[i].name, p[k].name, p[i].l.vni);
  return 0;
}

/* The device of a tunnel made again when what the last sync made differs
 * (`fresh`), or is gone; then its neighbour and route. */
static int
node_tunnel_apply (struct moat_nl *nl, const struct node_plan *p, bool fresh, moat_err_t *err)
{
  struct moat_vxlan_spec s = {
    .ifname = p->l.ifname,
    .lower = p->lower,
    .vni = p->l.vni,
    .remote = p->l.underlay,
    .mac = p->mac,
    .local = p->local, /* what the peer's input rule expects */
  };

  if ((fresh && moat_tunnel_delete (nl, s.ifname, err) < 0) || moat_vxlan_ensure (nl, &s, err) < 0
      || moat_neigh_replace (nl, s.ifname, p->l.underlay, p->l.mac, err) < 0
      || moat_route_replace_onlink (nl, p->l.subnet, p->l.prefixlen, p->l.underlay, s.ifname, err)
             < 0)
    return -1;
  return 0;
}

/* A tunnel's outer source as the last sync made it (none before "local"
 * was kept: made again). */
static bool
same_local (json_t *old, const struct node_plan *p)
{
  struct in_addr local = { 0 };
  const char *text = json_string_value (json_object_get (old, "local"));

  if (!p->l.vni)
    return true;
  return text && moat_parse_ipv4 (text, &local) == 0 && local.s_addr == p->local.s_addr;
}

struct node_plans
{
  struct node_plan *v;
  size_t n;
};

static void
node_plans_free (struct node_plans *p)
{
  free (p->v);
}

/* The device, its key and peers: the nodes of `plans` in, those the last
 * sync had (`old`) and this one has not out; no node left, no device. */
static int
wg_sync (struct moat_nl *nl, const struct moat_view *v, const struct node_plans *plans, json_t *old,
         moat_err_t *err)
{
  _cleanup_free_ struct moat_wg_peer *peers = calloc (plans->n + 1, sizeof (*peers));
  _cleanup_free_ unsigned char (*gone)[MOAT_WG_KEY_BYTES]
      = calloc (json_array_size (old) + 1, MOAT_WG_KEY_BYTES);
  unsigned char priv[MOAT_WG_KEY_BYTES];
  char ifname[IFNAMSIZ];
  size_t ngone = 0, i;
  json_t *o;
  int r;

  if (!peers || !gone)
    return moat_error_nomem (err, "wireguard peers");
  wg_ifname (v->cluster, ifname);
  if (plans->n == 0)
    return moat_wg_link_delete (nl, ifname, err);
  for (i = 0; i < plans->n; i++)
    {
      memcpy (peers[i].key, plans->v[i].node->wg_key, MOAT_WG_KEY_BYTES);
      peers[i].endpoint = plans->v[i].l.underlay;
      peers[i].port = MOAT_WG_PORT;
      peers[i].subnet = plans->v[i].l.subnet;
      peers[i].prefixlen = plans->v[i].l.prefixlen;
    }
  json_array_foreach (old, i, o)
  {
    const char *text = json_string_value (json_object_get (o, "wgKey"));
    bool kept = false;

    if (!text || moat_wg_key_parse (text, gone[ngone]) < 0)
      continue;
    for (size_t k = 0; k < plans->n && !kept; k++)
      kept = memcmp (peers[k].key, gone[ngone], MOAT_WG_KEY_BYTES) == 0;
    if (!kept)
      ngone++;
  }
  if (moat_wg_link_ensure (nl, ifname, err) < 0 || wg_private_key (v->cluster, priv, err) < 0)
    return -1;
  r = moat_wg_set (ifname, priv, MOAT_WG_PORT, peers, plans->n, (const void *)gone, ngone, err);
  sodium_memzero (priv, sizeof (priv));
  return r;
}

/* Routes, tunnels and node elements: what the view says, the rest of what
 * the last sync made (<run dir>/.cluster/nodes/<cluster>.json) removed. */
static int
nodes_sync (struct moat_nft *nft, const char *self, const struct moat_view *v,
            const struct moat_cluster_net *nets, size_t nnets, moat_err_t *err)
{
  _cleanup_ (moat_nl_closep) struct moat_nl *nl = NULL;
  _cleanup_ (json_decrefp) json_t *old = cluster_file_read ("nodes", v->cluster);
  _cleanup_ (json_decrefp) json_t *now = json_array ();
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *del = moat_nft_elems_new ();
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *add = moat_nft_elems_new ();
  _cleanup_ (node_plans_free) struct node_plans plans = { 0 };
  _cleanup_free_ bool *kept = NULL;
  const struct moat_view_node *me = moat_view_node_find (v, self);
  struct in_addr none = { 0 };
  bool any6 = false, wireguard = false;
  size_t i;
  json_t *o, *j;

  for (i = 0; i < nnets; i++)
    wireguard |= nets[i].wireguard;
  if (!now || !del || !add || !(plans.v = calloc (v->nnodes + 1, sizeof (*plans.v)))
      || !(kept = calloc (v->nnodes + 1, sizeof (*kept))))
    return moat_error_nomem (err, "cluster nodes");
  if (moat_nl_open (&nl, err) < 0)
    return -1;
  for (i = 0; i < v->nnodes; i++)
    {
      struct node_plan *p = &plans.v[plans.n];

      if (strcmp (v->nodes[i].node, self) == 0)
        continue;
      /* Encrypted: every other node through the cluster's WireGuard
       * device (IPv4; no tunnel of its own, no IPv6 route). */
      if (wireguard)
        {
          memset (p, 0, sizeof (*p));
          p->name = v->nodes[i].node;
          if (node_link_wg (nl, v, &v->nodes[i], nets, nnets, &p->l, p->ulif, err) < 0)
            return -1;
        }
      else if (node_link_resolve (nl, v->cluster, self, &v->nodes[i], nets, nnets, p, err) < 0)
        return -1;
      p->node = &v->nodes[i];
      if (p->l.vni && me)
        p->local = me->underlay;
      any6 = any6 || p->l.have6;
      j = node_link_json (p->name, &p->l, p->local, wireguard ? p->node : NULL,
                          wireguard ? p->ulif : NULL);
      if (moat_nft_elems_node (add, &p->l) < 0 || node_ulif_elems (add, j) < 0
          || json_array_append_new (now, j) < 0)
        return moat_error_nomem (err, "cluster nodes");
      plans.n++;
    }
  if (node_plans_check (plans.v, plans.n, err) < 0)
    return -1;
  /* What the last sync made and this one does not: its elements, route
   * and tunnel go (the same elements again are added again, harmlessly). */
  json_array_foreach (old, i, o)
  {
    struct moat_node_link l;
    bool same = false;

    if (node_link_from_json (o, &l) < 0)
      continue;
    for (size_t k = 0; k < plans.n && !same; k++)
      if (memcmp (&plans.v[k].l, &l, sizeof (l)) == 0 && same_local (o, &plans.v[k])
          && same_ulif (o, json_array_get (now, k)))
        same = kept[k] = true;
    if (same)
      continue;
    if (moat_nft_elems_node (del, &l) < 0 || node_ulif_elems (del, o) < 0)
      return moat_error_nomem (err, "cluster nodes");
    if ((l.vni ? moat_tunnel_delete (nl, l.ifname, err)
               : moat_route_del (nl, l.subnet, l.prefixlen, err))
            < 0
        || (l.have6 && moat_route6_del (nl, &l.subnet6, l.prefixlen6, err) < 0))
      return -1;
  }
  if (moat_nft_tables_ensure (nft, err) < 0 || (any6 && moat_nft_half6_ensure (nft, err) < 0)
      || moat_nft_policy_replace (nft, none, false, false, del, NULL, NULL, add, err) < 0)
    return -1;
  /* Peers before routes: a packet routed into the device finds its peer. */
  if (wireguard && wg_sync (nl, v, &plans, old, err) < 0)
    return -1;
  for (size_t k = 0; k < plans.n; k++)
    {
      const struct node_plan *p = &plans.v[k];

      if ((wireguard  ? moat_route_replace_dev (nl, p->l.subnet, p->l.prefixlen, p->l.ifname, err)
           : p->l.vni ? node_tunnel_apply (nl, p, !kept[k], err)
                      : moat_route_replace (nl, p->l.subnet, p->l.prefixlen, p->l.underlay, err))
              < 0
          || (p->l.have6
              && moat_route6_replace (nl, &p->l.subnet6, p->l.prefixlen6, &p->l.gateway6,
                                      p->l.ifname, err)
                     < 0))
        return moat_error_prefix (err, "view: node \"%s\"", p->name);
    }
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

/* Members that leave: out of their identities in one batch, then every
 * element naming any of their addresses (their grants and those naming
 * them, as a DEL does), then their records. */
struct leaving
{
  struct moat_record *v;
  size_t n;
};

static void
leaving_free (struct leaving *l)
{
  for (size_t i = 0; i < l->n; i++)
    moat_record_free (&l->v[i]);
  free (l->v);
}

static int
leave_idents (struct moat_nft *nft, const char *network, const struct leaving *l, moat_err_t *err)
{
  _cleanup_ (moat_ident_list_free) struct moat_ident_list groups = { 0 };
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *del = moat_nft_elems_new ();
  struct in_addr none = { 0 };

  if (!del)
    return moat_error_nomem (err, "cluster members");
  if (moat_ident_list_load (network, false, &groups, err) < 0)
    return -1;
  for (size_t i = 0; i < l->n; i++)
    for (size_t g = 0; l->v[i].ident && g < groups.n; g++)
      {
        if (strcmp (groups.names[g], l->v[i].ident) != 0)
          continue;
        if (moat_policy_compile_leave (l->v[i].addr, &groups.policies[g], groups.groups, groups.n,
                                       del)
            < 0)
          return moat_error_nomem (err, "cluster members");
        if (moat_hostnet_peer_elems (network, l->v[i].addr, &groups.policies[g], del, err) < 0)
          return -1;
      }
  if (moat_nft_policy_replace (nft, none, false, false, del, NULL, NULL, NULL, err) < 0)
    return -1;
  for (size_t i = 0; i < l->n; i++)
    if (moat_policy_leave (nft, &l->v[i], MOAT_LEAVE_STATE, err) < 0)
      return -1;
  return 0;
}

static bool
same_addresses (const struct moat_record *old, const struct moat_view_member *m)
{
  return old->addr.s_addr == m->addr.s_addr && old->have_addr6 == m->have_addr6
         && (!m->have_addr6 || IN6_ARE_ADDR_EQUAL (&old->addr6, &m->addr6));
}

/* Out of its identity, then every element naming either address (its
 * grants and those naming it too): its flows meet the policy without it. */
static int
member_leave6 (struct moat_nft *nft, struct moat_record *rec, moat_err_t *err)
{
  if ((rec->ident || rec->policy) && moat_policy_leave (nft, rec, MOAT_LEAVE_IDENTITY, err) < 0)
    return -1;
  return moat_nft_address_forget2 (nft, rec->addr, &rec->addr6, err);
}

static int
members_leave (struct moat_nft *nft, const char *network, char **keys, moat_err_t *err)
{
  _cleanup_ (leaving_free) struct leaving l = { 0 };
  _cleanup_free_ struct in_addr *addrs = NULL;
  size_t nkeys = 0;

  while (keys[nkeys])
    nkeys++;
  if (nkeys == 0)
    return 0;
  if (!(l.v = calloc (nkeys, sizeof (*l.v))) || !(addrs = calloc (nkeys, sizeof (*addrs))))
    return moat_error_nomem (err, "cluster members");
  for (size_t i = 0; i < nkeys; i++)
    {
      struct moat_record *r = &l.v[l.n];
      int found = moat_remote_read (network, keys[i], r, err);
      bool dual = found > 0 && r->have_addr6;

      /* A dual-stack member leaves alone, its IPv6 twins with it. */
      if (dual && member_leave6 (nft, r, err) < 0)
        found = -1;
      if (found <= 0 || dual)
        moat_record_free (r);
      if (found < 0)
        return -1;
      if (found && !dual)
        addrs[l.n++] = r->addr;
    }
  if (leave_idents (nft, network, &l, err) < 0
      || moat_nft_addresses_forget (nft, addrs, l.n, err) < 0)
    return -1;
  for (size_t i = 0; i < nkeys; i++)
    if (moat_remote_remove (network, keys[i], err) < 0)
      return -1;
  return 0;
}

static int
member_leave (struct moat_nft *nft, const char *network, const char *key, moat_err_t *err)
{
  char *keys[] = { (char *)key, NULL };

  return members_leave (nft, network, keys, err);
}

/* New members (no record yet, or one at another address), joined
 * together by network_sync after the moved ones' old addresses left. */
struct joining
{
  struct moat_record *recs;
  struct moat_policy *policies;
  size_t n;
  char **moved; /* keys whose record is at another address: they leave first */
  size_t nmoved;
};

static void
joining_free (struct joining *j)
{
  for (size_t i = 0; i < j->n; i++)
    {
      moat_record_free (&j->recs[i]);
      moat_policy_free (&j->policies[i]);
    }
  free (j->recs);
  free (j->policies);
  moat_strv_free (j->moved);
}

/* Joins, or joins again when its address or policy changed. A member
 * with no record yet, or whose address changed, is left in `new` for
 * one batch with the others. */
static int
member_join (struct moat_nft *nft, const struct moat_view_member *m, struct joining *new,
             moat_err_t *err)
{
  _cleanup_ (moat_record_free) struct moat_record old = { 0 };
  _cleanup_ (moat_record_free) struct moat_record rec = { 0 };
  _cleanup_ (moat_policy_free) struct moat_policy p = { 0 };
  _cleanup_ (json_decrefp) json_t *pj = NULL;
  char key[MOAT_KEY_MAX + 1];
  bool moved, kept;
  int found;

  if (remote_key (key, sizeof (key), m->container, m->node) < 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "view: member \"%s\": id too long", m->container);
  if (member_policy (m->policy, &p, &pj, err) < 0)
    return moat_error_prefix (err, "view: member \"%s\" of node \"%s\"", m->container, m->node);
  found = moat_remote_read (m->network, key, &old, err);
  if (found < 0)
    return -1;
  moved = found && !same_addresses (&old, m);
  kept = found && !moved;
  if (kept && json_equal (old.policy, pj) && (old.name == NULL) == (m->name == NULL)
      && (!m->name || strcmp (old.name, m->name) == 0))
    return 0;
  /* Its old address leaves now, or (with a policy to join) with the
   * batch's, before it. */
  if (moved && moat_policy_is_empty (&p) && member_leave (nft, m->network, key, err) < 0)
    return -1;
  if (kept && !json_equal (old.policy, pj)
      && moat_policy_leave (nft, &old, MOAT_LEAVE_ALL, err) < 0)
    return -1;
  if (member_record (m, &rec, err) < 0)
    return -1;
  /* moatctl's grants on it stay while its address does. */
  if (kept)
    rec.grants = json_incref (old.grants);
  /* The record first (a crash leaves something to find), then the join;
   * a new or moved member's is written by the batch, naming its identity. */
  if (moat_policy_is_empty (&p) || kept)
    {
      if (moat_record_write (&rec, err) < 0)
        return -1;
      return moat_policy_is_empty (&p) ? 0 : moat_policy_join (nft, &rec, &p, err);
    }
  if (moved && moat_strv_push (&new->moved, &new->nmoved, key) < 0)
    return moat_error_nomem (err, "cluster members");
  new->recs[new->n] = rec;
  new->policies[new->n++] = p;
  memset (&rec, 0, sizeof (rec));
  memset (&p, 0, sizeof (p));
  return 0;
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

/* Those gone from the view leave together, those whose policy changed
 * leave and join one by one, new ones and moved ones (after their old
 * addresses left together) join together: a first sync of many members
 * is one batch of joins, as a restore's, not one per member. */
static int
network_sync (struct moat_nft *nft, const char *self, const struct moat_view *v,
              const struct moat_cluster_net *net, moat_err_t *err)
{
  const char *network = net->network;
  _cleanup_ (moat_strv_freep) char **keys = NULL;
  _cleanup_ (moat_strv_freep) char **gone = NULL;
  _cleanup_ (joining_free) struct joining new = { 0 };
  _cleanup_close_ int lock = -1;
  _cleanup_close_ int global = -1;
  size_t ngone = 0;

  if (moat_network_lock (network, &lock, err) < 0 || moat_global_lock (LOCK_SH, &global, err) < 0
      || moat_remote_list (network, &keys, err) < 0)
    return -1;
  for (size_t i = 0; keys[i]; i++)
    if (!view_holds (v, self, network, keys[i]) && moat_strv_push (&gone, &ngone, keys[i]) < 0)
      return moat_error_nomem (err, "cluster members");
  if (gone && members_leave (nft, network, gone, err) < 0)
    return -1;
  if (!(new.recs = calloc (v->nmembers + 1, sizeof (*new.recs)))
      || !(new.policies = calloc (v->nmembers + 1, sizeof (*new.policies))))
    return moat_error_nomem (err, "cluster members");
  for (size_t i = 0; i < v->nmembers; i++)
    {
      struct moat_view_member m = v->members[i];
      const struct moat_view_node *node = moat_view_node_find (v, m.node);

      /* On an IPv4-only network here, or of a node without subnet6, a
       * member's address6 is routed nowhere: it joins by IPv4 alone. */
      m.have_addr6 = m.have_addr6 && net->have_subnet6 && node && node->have_subnet6;
      if (moat_view_member_here (v, self, network, &v->members[i])
          && member_join (nft, &m, &new, err) < 0)
        return -1;
    }
  if (new.moved && members_leave (nft, network, new.moved, err) < 0)
    return -1;
  return moat_policy_join_many (nft, network, new.recs, new.policies, new.n, err);
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

        if (node_link_from_json (o, &l) == 0
            && (moat_nft_elems_node (out, &l) < 0 || node_ulif_elems (out, o) < 0))
          return moat_error_nomem (err, "cluster nodes");
      }
    }
  return 0;
}

/* One cluster's nodes file: its routes and tunnels deleted, then the file. */
static int
nodes_file_remove (struct moat_nl *nl, const char *cluster, json_t *removed, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *nodes = cluster_file_read ("nodes", cluster);
  _cleanup_close_ int lock = -1;
  char path[4096];
  size_t i;
  json_t *o;

  if (cluster_lock (cluster, &lock, err) < 0)
    return -1;
  json_array_foreach (nodes, i, o)
  {
    struct moat_node_link l;

    if (node_link_from_json (o, &l) < 0)
      continue;
    if (l.vni ? moat_tunnel_delete (nl, l.ifname, err) < 0
              : moat_route_del (nl, l.subnet, l.prefixlen, err) < 0)
      return -1;
    if (l.vni && json_array_append_new (removed, json_string (l.ifname)) < 0)
      return moat_error_nomem (err, "cluster nodes");
  }
  if (cluster_file (path, sizeof (path), "nodes", cluster, err) < 0)
    return -1;
  if (unlink (path) < 0 && errno != ENOENT)
    return moat_error (err, MOAT_E_STATE, errno, "unlink \"%s\"", path);
  return 0;
}

int
moat_cluster_nodes_remove (json_t *removed, moat_err_t *err)
{
  _cleanup_ (moat_nl_closep) struct moat_nl *nl = NULL;
  _cleanup_ (closedirp) DIR *d = NULL;
  char dir[4096];
  struct dirent *de;

  if (cluster_file (dir, sizeof (dir), "nodes", NULL, err) < 0)
    return -1;
  d = opendir (dir);
  if (!d)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_STATE, errno, "opendir \"%s\"", dir);
  if (moat_nl_open (&nl, err) < 0)
    return -1;
  while ((de = readdir (d)))
    {
      size_t len = strlen (de->d_name);
      _cleanup_free_ char *name = NULL;

      if (de->d_name[0] == '.' || len <= 5 || strcmp (de->d_name + len - 5, ".json") != 0)
        continue;
      if (!(name = strndup (de->d_name, len - 5)))
        return moat_error_nomem (err, "cluster nodes");
      if (nodes_file_remove (nl, name, removed, err) < 0)
        return -1;
    }
  return 0;
}
