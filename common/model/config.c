/* SPDX-License-Identifier: Apache-2.0 */
#include "model/config.h"
#include "model/hosts.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/ceiling.h"
#include "base/cleanup.h"
#include "base/ifname.h"

const char *const moat_cni_versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", NULL };

int
moat_cni_version_index (const char *version)
{
  for (int i = 0; version && moat_cni_versions[i]; i++)
    if (strcmp (version, moat_cni_versions[i]) == 0)
      return i;
  return -1;
}

int
moat_cni_version_cmp (const char *a, const char *b)
{
  return moat_cni_version_index (a) - moat_cni_version_index (b);
}

/* CNI spec: container and network names are [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
static bool
cni_name_valid (const char *s)
{
  if (!s || !isalnum ((unsigned char)s[0]))
    return false;
  for (const char *p = s; *p; p++)
    if (!isalnum ((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
      return false;
  return true;
}

bool
moat_container_id_valid (const char *id)
{
  return cni_name_valid (id);
}

static int
parse_command (const char *s, enum moat_cni_command *ret)
{
  static const struct
  {
    const char *name;
    enum moat_cni_command cmd;
  } cmds[] = {
    { "ADD", MOAT_CMD_ADD },         { "DEL", MOAT_CMD_DEL }, { "CHECK", MOAT_CMD_CHECK },
    { "VERSION", MOAT_CMD_VERSION }, { "GC", MOAT_CMD_GC },   { "STATUS", MOAT_CMD_STATUS },
  };

  for (size_t i = 0; i < ARRAY_SIZE (cmds); i++)
    if (strcmp (s, cmds[i].name) == 0)
      {
        *ret = cmds[i].cmd;
        return 0;
      }
  return -1;
}

static const char *
env_nonempty (const char *name)
{
  const char *v = getenv (name);
  return v && *v ? v : NULL;
}

int
moat_cni_env_read (struct moat_cni_env *env, moat_err_t *err)
{
  const char *cmd = env_nonempty ("CNI_COMMAND");
  bool per_container;

  memset (env, 0, sizeof (*env));
  if (!cmd)
    return moat_error (err, MOAT_E_ENV, 0, "CNI_COMMAND: required");
  if (parse_command (cmd, &env->command) < 0)
    return moat_error (err, MOAT_E_ENV, 0,
                       "CNI_COMMAND: \"%s\" is not one of ADD, DEL, CHECK, VERSION, GC, STATUS",
                       cmd);
  if (env->command == MOAT_CMD_VERSION)
    return 0;

  env->container_id = env_nonempty ("CNI_CONTAINERID");
  env->netns = env_nonempty ("CNI_NETNS");
  env->ifname = env_nonempty ("CNI_IFNAME");
  env->args = env_nonempty ("CNI_ARGS");
  env->path = env_nonempty ("CNI_PATH");
  per_container = env->command == MOAT_CMD_ADD || env->command == MOAT_CMD_DEL
                  || env->command == MOAT_CMD_CHECK;

  if (per_container)
    {
      if (!env->container_id)
        return moat_error (err, MOAT_E_ENV, 0, "CNI_CONTAINERID: required");
      if (!moat_container_id_valid (env->container_id))
        return moat_error (err, MOAT_E_ENV, 0,
                           "CNI_CONTAINERID: \"%s\" must be alphanumeric, '_', '.' or '-', "
                           "starting alphanumeric",
                           env->container_id);
      if (!env->ifname)
        return moat_error (err, MOAT_E_ENV, 0, "CNI_IFNAME: required");
      if (!moat_ifname_valid (env->ifname))
        return moat_error (err, MOAT_E_ENV, 0, "CNI_IFNAME: \"%s\" is not a valid interface name",
                           env->ifname);
    }
  if ((env->command == MOAT_CMD_ADD || env->command == MOAT_CMD_CHECK) && !env->netns)
    return moat_error (err, MOAT_E_ENV, 0, "CNI_NETNS: required");
  /* CNI_PATH matters only to delegated IPAM, which names it when missing:
   * a DEL must not fail for want of it. */
  return 0;
}

/* --- network configuration ---------------------------------------------- */

static int
get_bool (json_t *root, const char *key, bool dflt, bool *ret, moat_err_t *err)
{
  json_t *v = json_object_get (root, key);

  if (!v || json_is_null (v))
    *ret = dflt;
  else if (json_is_boolean (v))
    *ret = json_is_true (v);
  else
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: must be true or false", key);
  return 0;
}

/* Returns the string at `key`, NULL when absent; a non-string is an error. */
static int
get_string (json_t *obj, const char *what, const char *key, const char **ret, moat_err_t *err)
{
  json_t *v = json_object_get (obj, key);

  *ret = NULL;
  if (!v || json_is_null (v))
    return 0;
  if (!json_is_string (v))
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: must be a string", what);
  *ret = json_string_value (v);
  return 0;
}

static int
get_object (json_t *obj, const char *what, const char *key, json_t **ret, moat_err_t *err)
{
  json_t *v = json_object_get (obj, key);

  *ret = NULL;
  if (!v || json_is_null (v))
    return 0;
  if (!json_is_object (v))
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: must be an object", what);
  *ret = v;
  return 0;
}

static int
parse_version (struct moat_netconf *c, moat_err_t *err)
{
  json_t *v = json_object_get (c->root, "cniVersion");

  if (!v)
    return moat_error (err, MOAT_E_CONFIG, 0, "cniVersion: required");
  if (!json_is_string (v))
    return moat_error (err, MOAT_E_CONFIG, 0, "cniVersion: must be a string");
  c->cni_version = json_string_value (v);
  if (moat_cni_version_index (c->cni_version) < 0)
    return moat_error (err, MOAT_E_VERSION, 0,
                       "cniVersion: \"%s\" is not supported (supported: 0.3.0, 0.3.1, 0.4.0, "
                       "1.0.0, 1.1.0)",
                       c->cni_version);
  return 0;
}

/* "subnet6" (one /64 for now: docs/design.md, "The network model") and
 * "gateway6" (default: its ::1). */
static int
parse_network6 (struct moat_netconf *c, moat_err_t *err)
{
  const char *subnet6, *gateway6;
  char text[INET6_ADDRSTRLEN];
  int prefixlen;

  if (get_string (c->root, "subnet6", "subnet6", &subnet6, err) < 0
      || get_string (c->root, "gateway6", "gateway6", &gateway6, err) < 0)
    return -1;
  if (gateway6 && !subnet6)
    return moat_error (err, MOAT_E_CONFIG, 0, "gateway6: needs \"subnet6\"");
  if (!subnet6)
    return 0;
  if (moat_parse_cidr6 (subnet6, &c->subnet6, &prefixlen) < 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "subnet6: \"%s\" is not an IPv6 CIDR", subnet6);
  if (prefixlen != MOAT_SUBNET6_PREFIXLEN)
    return moat_error (err, MOAT_E_CONFIG, 0, "subnet6: prefix /%d not supported (only /%d)",
                       prefixlen, MOAT_SUBNET6_PREFIXLEN);
  if (moat_ipv6_host64 (&c->subnet6) != 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "subnet6: \"%s\" has host bits set", subnet6);
  if (IN6_IS_ADDR_MULTICAST (&c->subnet6) || IN6_IS_ADDR_LINKLOCAL (&c->subnet6)
      || IN6_IS_ADDR_UNSPECIFIED (&c->subnet6) || IN6_IS_ADDR_V4MAPPED (&c->subnet6))
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "subnet6: \"%s\" is not a unicast prefix (use a unique local fd00::/8 "
                       "or a global one)",
                       subnet6);
  c->have_subnet6 = true;
  c->gateway6 = moat_ipv6_with_host64 (&c->subnet6, 1);
  if (!gateway6)
    return 0;
  if (moat_parse_ipv6 (gateway6, &c->gateway6) < 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "gateway6: \"%s\" is not an IPv6 address", gateway6);
  if (!moat_ipv6_in_prefix (&c->gateway6, &c->subnet6, MOAT_SUBNET6_PREFIXLEN)
      || moat_ipv6_host64 (&c->gateway6) == 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "gateway6: %s is not a host address of subnet6 %s",
                       gateway6, moat_ipv6_text (&c->subnet6, text));
  return 0;
}

static int
parse_network (struct moat_netconf *c, moat_err_t *err)
{
  const char *bridge, *subnet, *gateway;
  json_t *mtu;

  if (get_string (c->root, "name", "name", &c->name, err) < 0)
    return -1;
  if (!c->name)
    return moat_error (err, MOAT_E_CONFIG, 0, "name: required");
  if (strlen (c->name) > MOAT_NETWORK_NAME_MAX)
    return moat_error (err, MOAT_E_CONFIG, 0, "name: longer than %d characters",
                       MOAT_NETWORK_NAME_MAX);
  if (!cni_name_valid (c->name))
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "name: \"%s\" must be alphanumeric, '_', '.' or '-', starting alphanumeric",
                       c->name);

  if (get_string (c->root, "bridge", "bridge", &bridge, err) < 0)
    return -1;
  if (!bridge)
    bridge = MOAT_DEFAULT_BRIDGE;
  if (strlen (bridge) >= IFNAMSIZ)
    return moat_error (err, MOAT_E_CONFIG, 0, "bridge: \"%s\" is longer than %d characters", bridge,
                       IFNAMSIZ - 1);
  if (!moat_ifname_valid (bridge))
    return moat_error (err, MOAT_E_CONFIG, 0, "bridge: \"%s\" is not a valid interface name",
                       bridge);
  strcpy (c->bridge, bridge);

  if (get_string (c->root, "subnet", "subnet", &subnet, err) < 0)
    return -1;
  if (subnet)
    {
      in_addr_t mask;

      if (moat_parse_cidr (subnet, &c->subnet, &c->prefixlen) < 0)
        return moat_error (err, MOAT_E_CONFIG, 0, "subnet: \"%s\" is not an IPv4 CIDR", subnet);
      if (c->prefixlen < 8 || c->prefixlen > 30)
        return moat_error (err, MOAT_E_CONFIG, 0, "subnet: prefix /%d out of range (8-30)",
                           c->prefixlen);
      mask = moat_prefix_mask (c->prefixlen);
      if (c->subnet.s_addr & ~mask)
        return moat_error (err, MOAT_E_CONFIG, 0, "subnet: \"%s\" has host bits set", subnet);
      if (moat_key4_range_has (c->subnet)) /* a /8 or longer lies in or out of it */
        return moat_error (err, MOAT_E_CONFIG, 0,
                           "subnet: \"%s\" overlaps 240.0.0.0/4, reserved for IPv6-only "
                           "networks' internal keys",
                           subnet);
      c->have_subnet = true;
      c->gateway.s_addr = htonl (ntohl (c->subnet.s_addr) + 1);
    }

  if (get_string (c->root, "gateway", "gateway", &gateway, err) < 0)
    return -1;
  if (gateway)
    {
      in_addr_t mask = moat_prefix_mask (c->prefixlen);

      if (moat_parse_ipv4 (gateway, &c->gateway) < 0)
        return moat_error (err, MOAT_E_CONFIG, 0, "gateway: \"%s\" is not an IPv4 address",
                           gateway);
      if (!c->have_subnet)
        return moat_error (err, MOAT_E_CONFIG, 0, "gateway: needs \"subnet\"");
      if ((c->gateway.s_addr & mask) != c->subnet.s_addr || c->gateway.s_addr == c->subnet.s_addr
          || (c->gateway.s_addr | ~mask) == c->gateway.s_addr)
        return moat_error (err, MOAT_E_CONFIG, 0, "gateway: %s is not a host address of subnet",
                           gateway);
    }

  if (parse_network6 (c, err) < 0)
    return -1;

  mtu = json_object_get (c->root, "mtu");
  if (mtu && !json_is_null (mtu))
    {
      if (!json_is_integer (mtu) || json_integer_value (mtu) < 68
          || json_integer_value (mtu) > 65535)
        return moat_error (err, MOAT_E_CONFIG, 0, "mtu: must be an integer from 68 to 65535");
      c->mtu = (unsigned)json_integer_value (mtu);
    }

  if (get_bool (c->root, "masquerade", false, &c->masquerade, err) < 0
      || get_bool (c->root, "internet", false, &c->internet, err) < 0
      || get_bool (c->root, "reject", true, &c->reject, err) < 0
      || get_bool (c->root, "log", false, &c->log, err) < 0
      || get_bool (c->root, "keepBridge", false, &c->keep_bridge, err) < 0
      || get_bool (c->root, "names", false, &c->dns, err) < 0
      || get_string (c->root, "policyFile", "policyFile", &c->policy_file, err) < 0)
    return -1;
  /* Known to every verb (the hook's DEL of an orphan); checked at ADD. */
  c->reads_env = moat_ceiling_reads_env (json_object_get (c->root, "allow"));
  return 0;
}

static int
parse_ipam (struct moat_netconf *c, moat_err_t *err)
{
  json_t *ipam;

  if (get_object (c->root, "ipam", "ipam", &ipam, err) < 0)
    return -1;
  if (ipam && json_object_size (ipam) > 0)
    {
      if (get_string (ipam, "ipam.type", "type", &c->ipam_type, err) < 0)
        return -1;
      if (!c->ipam_type || !*c->ipam_type)
        return moat_error (err, MOAT_E_CONFIG, 0, "ipam.type: required");
      if (strchr (c->ipam_type, '/') || strcmp (c->ipam_type, "..") == 0)
        return moat_error (err, MOAT_E_CONFIG, 0, "ipam.type: \"%s\" must be a plugin name",
                           c->ipam_type);
      if (strcmp (c->ipam_type, "moat") == 0) /* it would wait on our own lock */
        return moat_error (err, MOAT_E_CONFIG, 0, "ipam.type: moat cannot be its own IPAM");
    }
  /* subnet6 alone: an IPv6-only network (docs/design.md, "IPv6"). */
  c->v6only = c->have_subnet6 && !c->ipam_type && !c->have_subnet;
  if (!c->ipam_type && !c->have_subnet && !c->have_subnet6)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "subnet: required when there is no \"ipam\" section nor \"subnet6\"");
  return 0;
}

/* Addresses from the `ips` capability or args: "10.1.0.5", "10.1.0.5/24",
 * "fd00:1::5" or "fd00:1::5/64"; the first of each family counts. */
static int
parse_requested_ip (struct moat_netconf *c, const char *what, json_t *ips, moat_err_t *err)
{
  bool have_ip = false, have_ip6 = false;
  size_t i;
  json_t *v;

  if (!json_is_array (ips))
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: must be a list of addresses", what);
  json_array_foreach (ips, i, v)
  {
    const char *s = json_string_value (v);
    int prefixlen;

    if (!s)
      return moat_error (err, MOAT_E_CONFIG, 0, "%s: must be a list of addresses", what);
    /* An IPv4 network passes IPv6 requests over, as it always did. */
    if (strchr (s, ':') && (!c->have_subnet6 || have_ip6))
      continue;
    if (strchr (s, ':'))
      {
        if (moat_parse_cidr6 (s, &c->ip6, &prefixlen) < 0 && moat_parse_ipv6 (s, &c->ip6) < 0)
          return moat_error (err, MOAT_E_CONFIG, 0, "%s: \"%s\" is not an IPv6 address", what, s);
        have_ip6 = true;
        continue;
      }
    if (have_ip)
      continue;
    if (c->v6only)
      return moat_error (err, MOAT_E_CONFIG, 0,
                         "%s: \"%s\": the network is IPv6-only (no \"subnet\")", what, s);
    if (moat_parse_cidr (s, &c->ip, &prefixlen) < 0 && moat_parse_ipv4 (s, &c->ip) < 0)
      return moat_error (err, MOAT_E_CONFIG, 0, "%s: \"%s\" is not an IPv4 address", what, s);
    have_ip = true;
  }
  c->have_ip = have_ip;
  c->have_ip6 = have_ip6;
  return 0;
}

static int
parse_labels (struct moat_netconf *c, json_t *labels, moat_err_t *err)
{
  size_t i;
  json_t *v;

  if (!json_is_array (labels))
    return moat_error (err, MOAT_E_CONFIG, 0, "args.cni.labels: must be a list of {key, value}");
  c->labels = calloc (json_array_size (labels) + 1, sizeof (*c->labels));
  if (!c->labels)
    return moat_error (err, MOAT_E_IO, ENOMEM, "args.cni.labels");
  json_array_foreach (labels, i, v)
  {
    const char *key, *value;

    if (json_unpack (v, "{s:s, s:s}", "key", &key, "value", &value) < 0 || !*key)
      return moat_error (err, MOAT_E_CONFIG, 0,
                         "args.cni.labels[%zu]: must be {\"key\": string, \"value\": string}", i);
    /* "@sys:" labels are moat's to set (policy.h): none may come from args. */
    if (strchr (key, '@'))
      return moat_error (err, MOAT_E_CONFIG, 0,
                         "args.cni.labels[%zu]: key \"%s\": '@' is reserved for system labels", i,
                         key);
    c->labels[c->n_labels].key = strdup (key);
    c->labels[c->n_labels].value = strdup (value);
    c->n_labels++;
    if (!c->labels[c->n_labels - 1].key || !c->labels[c->n_labels - 1].value)
      return moat_error (err, MOAT_E_IO, ENOMEM, "args.cni.labels");
  }
  return 0;
}

static int
parse_runtime (struct moat_netconf *c, moat_err_t *err)
{
  json_t *rc, *args, *cni = NULL, *v;

  if (get_object (c->root, "runtimeConfig", "runtimeConfig", &rc, err) < 0)
    return -1;
  if (rc)
    {
      const char *mac;

      if ((v = json_object_get (rc, "ips"))
          && parse_requested_ip (c, "runtimeConfig.ips", v, err) < 0)
        return -1;
      if (get_string (rc, "runtimeConfig.mac", "mac", &mac, err) < 0)
        return -1;
      if (mac)
        {
          if (moat_mac_parse (mac, c->mac) < 0)
            return moat_error (err, MOAT_E_CONFIG, 0,
                               "runtimeConfig.mac: \"%s\" is not a MAC address", mac);
          if (c->mac[0] & 1)
            return moat_error (err, MOAT_E_CONFIG, 0,
                               "runtimeConfig.mac: \"%s\" is a multicast address", mac);
          c->have_mac = true;
        }
      /* The runtime's published ports (the portMappings capability). */
      v = json_object_get (rc, "portMappings");
      if (v && !json_is_null (v)
          && (moat_publish_parse_cni (v, &c->publish, err) < 0
              || moat_publish_check ("runtimeConfig.portMappings", &c->publish, err) < 0))
        return -1;
      if (moat_aliases_parse (json_object_get (rc, "aliases"), c->name, &c->aliases, err) < 0)
        return -1;
      if (get_object (rc, "runtimeConfig.io.kubernetes.cri.pod-annotations",
                      "io.kubernetes.cri.pod-annotations", &c->pod_annotations, err)
          < 0)
        return -1;
    }

  if (get_object (c->root, "args", "args", &args, err) < 0)
    return -1;
  if (args && get_object (args, "args.cni", "cni", &cni, err) < 0)
    return -1;
  if (cni)
    {
      if ((v = json_object_get (cni, "ips")) && !c->have_ip && !c->have_ip6
          && parse_requested_ip (c, "args.cni.ips", v, err) < 0)
        return -1;
      if ((v = json_object_get (cni, "labels")) && parse_labels (c, v, err) < 0)
        return -1;
    }
  return 0;
}

/* The ceiling is checked here, so that a bad one fails the ADD before
 * anything is made; the hook and the policy read it again from the
 * record. */
bool
moat_cluster_name_valid (const char *s)
{
  return cni_name_valid (s) && strlen (s) <= MOAT_CLUSTER_NAME_MAX;
}

static int
cluster_name (json_t *cluster, const char *key, bool required, const char **ret, moat_err_t *err)
{
  char what[32];

  snprintf (what, sizeof (what), "cluster.%s", key);
  if (get_string (cluster, what, key, ret, err) < 0)
    return -1;
  if (!*ret)
    return required ? moat_error (err, MOAT_E_CONFIG, 0, "%s: required", what) : 0;
  if (!moat_cluster_name_valid (*ret))
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "%s: \"%s\" must be alphanumeric, '_', '.' or '-', starting alphanumeric, "
                       "at most %d characters",
                       what, *ret, MOAT_CLUSTER_NAME_MAX);
  return 0;
}

/* "cluster": {"name", "store", "node", "encrypt"} (docs/cluster.md). */
static int
parse_cluster (struct moat_netconf *c, moat_err_t *err)
{
  const char *encrypt = NULL;
  json_t *cluster;

  if (get_object (c->root, "cluster", "cluster", &cluster, err) < 0)
    return -1;
  if (!cluster)
    return 0;
  if (cluster_name (cluster, "name", true, &c->cluster_name, err) < 0
      || cluster_name (cluster, "node", false, &c->cluster_node, err) < 0
      || get_string (cluster, "cluster.store", "store", &c->cluster_store, err) < 0
      || get_string (cluster, "cluster.encrypt", "encrypt", &encrypt, err) < 0)
    return -1;
  if (encrypt && strcmp (encrypt, "wireguard") != 0)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "cluster.encrypt: \"%s\" is not known (want \"wireguard\")", encrypt);
  c->cluster_wireguard = encrypt != NULL;
  /* WireGuard over an IPv4 underlay adds 60 bytes (IPv4, UDP, its
   * header and tag): a 1500-byte underlay carries 1440 inside. */
  if (c->cluster_wireguard && !json_object_get (c->root, "mtu"))
    c->mtu = 1440;
  if (c->cluster_store && strncmp (c->cluster_store, "http://", 7) != 0
      && strncmp (c->cluster_store, "https://", 8) != 0)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "cluster.store: \"%s\" must be an http:// or https:// URL",
                       c->cluster_store);
  /* An IPv6-only network's IPv4 keys (240.0.0.0/4) are this node's alone
   * (docs/design.md, "IPv6"): nothing to publish or route. */
  if (!c->have_subnet)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "cluster: needs \"subnet\" (this node's container subnet; an IPv6-only "
                       "network cannot join a cluster yet)");
  /* A packet to another node may cross a VXLAN tunnel (docs/cluster.md,
   * "Routing between nodes"): room for its headers on a 1500-byte underlay,
   * unless "mtu" says otherwise. */
  if (!c->mtu)
    c->mtu = MOAT_CLUSTER_MTU;
  return 0;
}

static int
parse_allow (struct moat_netconf *c, moat_err_t *err)
{
  struct moat_ceiling ceiling;
  json_t *allow = json_object_get (c->root, "allow");

  if (moat_ceiling_parse (allow, &ceiling, err) < 0)
    return -1;
  c->allow = ceiling.allow;
  c->reads_env = ceiling.env;
  moat_ceiling_free (&ceiling);
  return 0;
}

static int
parse_valid_attachments (struct moat_netconf *c, moat_err_t *err)
{
  const char *key = "cni.dev/valid-attachments";
  json_t *list = json_object_get (c->root, key);
  size_t i;
  json_t *v;

  if (!list)
    {
      key = "cni.dev/attachments";
      list = json_object_get (c->root, key);
    }
  if (!list)
    return 0;
  if (!json_is_array (list))
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: must be a list", key);
  c->valid = calloc (json_array_size (list) + 1, sizeof (*c->valid));
  if (!c->valid)
    return moat_error (err, MOAT_E_IO, ENOMEM, "%s", key);
  c->have_valid = true;
  json_array_foreach (list, i, v)
  {
    const char *id, *ifname;

    if (json_unpack (v, "{s:s, s:s}", "containerID", &id, "ifname", &ifname) < 0)
      return moat_error (err, MOAT_E_CONFIG, 0,
                         "%s[%zu]: must be {\"containerID\": string, \"ifname\": string}", key, i);
    c->valid[c->n_valid].container_id = strdup (id);
    c->valid[c->n_valid].ifname = strdup (ifname);
    c->n_valid++;
    if (!c->valid[c->n_valid - 1].container_id || !c->valid[c->n_valid - 1].ifname)
      return moat_error (err, MOAT_E_IO, ENOMEM, "%s", key);
  }
  return 0;
}

int
moat_netconf_parse (const char *text, enum moat_cni_command cmd, struct moat_netconf *ret,
                    moat_err_t *err)
{
  json_error_t jerr;

  memset (ret, 0, sizeof (*ret));
  ret->raw = strdup (text);
  if (!ret->raw)
    return moat_error (err, MOAT_E_IO, ENOMEM, "stdin");
  ret->root = json_loads (text, 0, &jerr);
  if (!ret->root)
    return moat_error (err, MOAT_E_DECODE, 0, "stdin: invalid JSON: %s (line %d, column %d)",
                       jerr.text, jerr.line, jerr.column);
  if (!json_is_object (ret->root))
    return moat_error (err, MOAT_E_DECODE, 0, "stdin: network configuration must be a JSON object");
  if (parse_version (ret, err) < 0)
    return -1;
  if (cmd == MOAT_CMD_VERSION)
    return 0;
  /* What the runtime asks of a new attachment matters to ADD alone: a DEL
   * must not fail on it. */
  if (parse_network (ret, err) < 0 || parse_ipam (ret, err) < 0
      || (cmd == MOAT_CMD_ADD
          && (parse_allow (ret, err) < 0 || parse_cluster (ret, err) < 0
              || parse_runtime (ret, err) < 0)))
    return -1;
  if (get_object (ret->root, "prevResult", "prevResult", &ret->prev_result, err) < 0)
    return -1;
  if (cmd == MOAT_CMD_GC && parse_valid_attachments (ret, err) < 0)
    return -1;
  return 0;
}

void
moat_netconf_free (struct moat_netconf *c)
{
  for (size_t i = 0; i < c->n_labels; i++)
    {
      free (c->labels[i].key);
      free (c->labels[i].value);
    }
  for (size_t i = 0; i < c->n_valid; i++)
    {
      free (c->valid[i].container_id);
      free (c->valid[i].ifname);
    }
  free (c->labels);
  free (c->valid);
  moat_publish_list_free (&c->publish);
  free (c->raw);
  json_decref (c->root);
  memset (c, 0, sizeof (*c));
}
