/* SPDX-License-Identifier: Apache-2.0 */
/* A cluster view read and checked (see clusterview.h). */
#include "model/clusterview.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/config.h"

void
moat_view_free (struct moat_view *v)
{
  free (v->nodes);
  free (v->members);
}

static int
view_name (json_t *obj, const char *where, const char *key, const char **ret, moat_err_t *err)
{
  *ret = json_string_value (json_object_get (obj, key));
  if (!*ret || !moat_cluster_name_valid (*ret))
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "view: %s.%s: want a name (alphanumeric, '_', '.', '-')", where, key);
  return 0;
}

int
moat_wg_key_parse (const char *text, unsigned char key[MOAT_WG_KEY_LEN])
{
  size_t len = 0;

  if (strlen (text) != 44
      || sodium_base642bin (key, MOAT_WG_KEY_LEN, text, 44, NULL, &len, NULL,
                            sodium_base64_VARIANT_ORIGINAL)
             != 0
      || len != MOAT_WG_KEY_LEN)
    return -1;
  return 0;
}

void
moat_wg_key_format (const unsigned char key[MOAT_WG_KEY_LEN], char text[MOAT_WG_KEY_TEXT])
{
  sodium_bin2base64 (text, MOAT_WG_KEY_TEXT, key, MOAT_WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

/* "subnet6" and "underlay6": absent or null, or an IPv6 prefix / address. */
static int
view_node6_parse (json_t *j, const char *where, struct moat_view_node *n, moat_err_t *err)
{
  json_t *subnet6 = json_object_get (j, "subnet6"), *underlay6 = json_object_get (j, "underlay6");

  struct in6_addr prefix;

  n->have_subnet6 = subnet6 && !json_is_null (subnet6);
  if (n->have_subnet6
      && (!json_is_string (subnet6)
          || moat_parse_cidr6 (json_string_value (subnet6), &n->subnet6, &n->prefixlen6) < 0
          || (prefix = moat_ipv6_prefix (&n->subnet6, n->prefixlen6),
              !IN6_ARE_ADDR_EQUAL (&prefix, &n->subnet6))))
    return moat_error (err, MOAT_E_CONFIG, 0, "view: %s.subnet6: want an IPv6 prefix (x:y::/n)",
                       where);
  n->have_underlay6 = underlay6 && !json_is_null (underlay6);
  if (n->have_underlay6
      && (!json_is_string (underlay6)
          || moat_parse_ipv6 (json_string_value (underlay6), &n->underlay6) < 0))
    return moat_error (err, MOAT_E_CONFIG, 0, "view: %s.underlay6: want an IPv6 address", where);
  return 0;
}

static int
view_node_parse (json_t *j, const char *where, struct moat_view_node *n, moat_err_t *err)
{
  const char *underlay = json_string_value (json_object_get (j, "underlay"));
  const char *subnet = json_string_value (json_object_get (j, "subnet"));
  const char *mac = json_string_value (json_object_get (j, "mac"));
  const char *wg_key = json_string_value (json_object_get (j, "wgKey"));

  if (view_name (j, where, "node", &n->node, err) < 0)
    return -1;
  if (!underlay || moat_parse_ipv4 (underlay, &n->underlay) < 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "view: %s.underlay: want an IPv4 address", where);
  if (!subnet || moat_parse_cidr (subnet, &n->subnet, &n->prefixlen) < 0
      || (n->subnet.s_addr & ~moat_prefix_mask (n->prefixlen)) != 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "view: %s.subnet: want an IPv4 subnet (a.b.c.d/n)",
                       where);
  n->have_mac = mac != NULL;
  if (mac && moat_mac_parse (mac, n->mac) < 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "view: %s.mac: want a MAC address", where);
  n->have_wg_key = wg_key != NULL;
  if (wg_key && moat_wg_key_parse (wg_key, n->wg_key) < 0)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "view: %s.wgKey: want a WireGuard public key (32 bytes, base64)", where);
  return view_node6_parse (j, where, n, err);
}

static int
view_member_parse (json_t *j, const char *where, struct moat_view_member *m, moat_err_t *err)
{
  const char *address = json_string_value (json_object_get (j, "address"));
  json_t *address6;

  if (view_name (j, where, "node", &m->node, err) < 0)
    return -1;
  /* Only compared with this node's networks' names. */
  m->network = json_string_value (json_object_get (j, "network"));
  if (!m->network || !*m->network)
    return moat_error (err, MOAT_E_CONFIG, 0, "view: %s.network: want a network's name", where);
  m->container = json_string_value (json_object_get (j, "container"));
  if (!m->container || !moat_container_id_valid (m->container))
    return moat_error (err, MOAT_E_CONFIG, 0, "view: %s.container: want a container id", where);
  m->name = json_string_value (json_object_get (j, "name"));
  if (!address || moat_parse_ipv4 (address, &m->addr) < 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "view: %s.address: want an IPv4 address", where);
  address6 = json_object_get (j, "address6");
  m->have_addr6 = address6 && !json_is_null (address6);
  if (m->have_addr6
      && (!json_is_string (address6)
          || moat_parse_ipv6 (json_string_value (address6), &m->addr6) < 0))
    return moat_error (err, MOAT_E_CONFIG, 0, "view: %s.address6: want an IPv6 address", where);
  m->policy = json_object_get (j, "policy");
  if (!json_is_object (m->policy))
    return moat_error (err, MOAT_E_CONFIG, 0, "view: %s.policy: want an object", where);
  return 0;
}

bool
moat_subnets_overlap (struct in_addr a, int alen, struct in_addr b, int blen)
{
  int len = alen < blen ? alen : blen;

  return ((a.s_addr ^ b.s_addr) & moat_prefix_mask (len)) == 0;
}

bool
moat_subnets6_overlap (const struct in6_addr *a, int alen, const struct in6_addr *b, int blen)
{
  return moat_ipv6_in_prefix (a, b, alen < blen ? alen : blen);
}

/* Two nodes never share addresses (the store's claims see to it; a view
 * that says otherwise is refused whole). */
static int
view_nodes_apart (const struct moat_view *v, moat_err_t *err)
{
  for (size_t i = 0; i < v->nnodes; i++)
    for (size_t k = i + 1; k < v->nnodes; k++)
      if (moat_subnets_overlap (v->nodes[i].subnet, v->nodes[i].prefixlen, v->nodes[k].subnet,
                                v->nodes[k].prefixlen))
        return moat_error (err, MOAT_E_CONFIG, 0,
                           "view: nodes \"%s\" and \"%s\": their subnets overlap", v->nodes[i].node,
                           v->nodes[k].node);
      else if (v->nodes[i].have_subnet6 && v->nodes[k].have_subnet6
               && moat_subnets6_overlap (&v->nodes[i].subnet6, v->nodes[i].prefixlen6,
                                         &v->nodes[k].subnet6, v->nodes[k].prefixlen6))
        return moat_error (err, MOAT_E_CONFIG, 0,
                           "view: nodes \"%s\" and \"%s\": their subnet6s overlap",
                           v->nodes[i].node, v->nodes[k].node);
  return 0;
}

int
moat_view_parse (json_t *j, struct moat_view *v, moat_err_t *err)
{
  json_t *nodes = json_object_get (j, "nodes"), *members = json_object_get (j, "members");
  char where[64];

  memset (v, 0, sizeof (*v));
  if (!json_is_object (j))
    return moat_error (err, MOAT_E_CONFIG, 0, "view: want a JSON object");
  v->cluster = json_string_value (json_object_get (j, "cluster"));
  if (!v->cluster || !moat_cluster_name_valid (v->cluster))
    return moat_error (err, MOAT_E_CONFIG, 0, "view: cluster: want the cluster's name");
  if ((nodes && !json_is_array (nodes)) || (members && !json_is_array (members)))
    return moat_error (err, MOAT_E_CONFIG, 0, "view: nodes and members: want arrays");
  v->nodes = calloc (json_array_size (nodes) + 1, sizeof (*v->nodes));
  v->members = calloc (json_array_size (members) + 1, sizeof (*v->members));
  if (!v->nodes || !v->members)
    return moat_error_nomem (err, "view");
  for (size_t i = 0; i < json_array_size (nodes); i++, v->nnodes++)
    {
      snprintf (where, sizeof (where), "nodes[%zu]", i);
      if (view_node_parse (json_array_get (nodes, i), where, &v->nodes[i], err) < 0)
        return -1;
    }
  for (size_t i = 0; i < json_array_size (members); i++, v->nmembers++)
    {
      snprintf (where, sizeof (where), "members[%zu]", i);
      if (view_member_parse (json_array_get (members, i), where, &v->members[i], err) < 0)
        return -1;
    }
  return view_nodes_apart (v, err);
}

bool
moat_view_member_here (const struct moat_view *v, const char *self, const char *network,
                       const struct moat_view_member *m)
{
  if (strcmp (m->node, self) == 0 || strcmp (m->network, network) != 0)
    return false;
  for (size_t i = 0; i < v->nnodes; i++)
    if (strcmp (v->nodes[i].node, m->node) == 0)
      return moat_subnets_overlap (m->addr, 32, v->nodes[i].subnet, v->nodes[i].prefixlen)
             && (!m->have_addr6 || !v->nodes[i].have_subnet6
                 || moat_ipv6_in_prefix (&m->addr6, &v->nodes[i].subnet6, v->nodes[i].prefixlen6));
  return false;
}

/* FNV-1a over the strings, each with its terminating NUL (so "ab","c"
 * and "a","bc" differ): not a secret, only the same on both nodes. */
static uint64_t
names_hash (const char *const *names, size_t n)
{
  uint64_t h = 0xcbf29ce484222325ULL;

  for (size_t i = 0; i < n; i++)
    for (const char *p = names[i];; p++)
      {
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
        if (!*p)
          break;
      }
  return h;
}

/* The MAC of `owner`'s device toward `peer`: locally administered, unicast. */
static void
tunnel_mac (const char *cluster, const char *owner, const char *peer,
            unsigned char mac[MOAT_MAC_LEN])
{
  const char *names[] = { "mac", cluster, owner, peer };
  uint64_t h = names_hash (names, 4);

  mac[0] = 0x02;
  for (int i = 1; i < MOAT_MAC_LEN; i++)
    mac[i] = (unsigned char)(h >> (8 * (i - 1)));
}

void
moat_view_tunnel (const char *cluster, const char *self, const char *peer, struct moat_tunnel *t)
{
  const char *dev[] = { "dev", cluster, peer };
  const char *pair[] = { "vni", cluster, strcmp (self, peer) < 0 ? self : peer,
                         strcmp (self, peer) < 0 ? peer : self };
  uint64_t h = names_hash (pair, 4);

  memset (t, 0, sizeof (*t));
  snprintf (t->ifname, sizeof (t->ifname), "moat-vx%08x", (unsigned)(names_hash (dev, 3) >> 32));
  t->vni = (uint32_t)(h & 0xffffff);
  if (t->vni == 0)
    t->vni = 1;
  tunnel_mac (cluster, self, peer, t->mac);
  tunnel_mac (cluster, peer, self, t->peer_mac);
}

const struct moat_view_node *
moat_view_node_find (const struct moat_view *v, const char *node)
{
  for (size_t i = 0; i < v->nnodes; i++)
    if (strcmp (v->nodes[i].node, node) == 0)
      return &v->nodes[i];
  return NULL;
}
