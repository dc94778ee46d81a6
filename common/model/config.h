/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CONFIG_H
#define MOAT_CONFIG_H

#include <jansson.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "base/error.h"
#include "base/ip6.h"
#include "base/types.h"
#include "model/publish.h"

#define MOAT_DEFAULT_BRIDGE "moat0"
#define MOAT_CNI_VERSION "1.1.0"

/* CNI versions moat speaks, oldest first. */
extern const char *const moat_cni_versions[];

enum moat_cni_command
{
  MOAT_CMD_ADD,
  MOAT_CMD_DEL,
  MOAT_CMD_CHECK,
  MOAT_CMD_VERSION,
  MOAT_CMD_GC,
  MOAT_CMD_STATUS,
};

/* A container attachment named by the runtime: GC's valid-attachments. */
struct moat_attachment_ref
{
  char *container_id;
  char *ifname;
};

/* The network configuration as received on stdin, validated. */
struct moat_netconf
{
  json_t *root;            /* the whole document (owned) */
  char *raw;               /* stdin as received, for delegated IPAM */
  const char *cni_version; /* borrowed from root */
  const char *name;
  char bridge[IFNAMSIZ];
  bool have_subnet;
  struct in_addr subnet;
  int prefixlen;
  struct in_addr gateway;
  bool have_subnet6; /* "subnet6": the network is dual stack (a /64) */
  struct in6_addr subnet6;
  struct in6_addr gateway6; /* "gateway6"; default: subnet6's ::1 */
  bool v6only;  /* "subnet6" without "subnet" or "ipam": IPv6-only (docs/design.md, "IPv6") */
  unsigned mtu; /* 0: the kernel's; in cluster mode MOAT_CLUSTER_MTU when not given */
  bool masquerade;
  bool internet;
  bool reject;
  bool log; /* "log": refusals to NFLOG, rate-limited (ruleset.h, deny_src) */
  bool keep_bridge;
  bool dns;                /* "names": a name server on the gateway (docs/design.md, "Names"); not
                              "dns", which CNI defines as an object (libcni refuses a bool) */
  const char *policy_file; /* NULL: the default */
  json_t *allow;           /* borrowed: "allow", the ceiling (ceiling.h), checked; NULL: absent.
                              Parsed at ADD only: a DEL must not fail on it */
  bool reads_env;          /* allow.env: the MOAT_* environment stands in for annotations */
  /* "cluster" (docs/cluster.md), checked at ADD: the cluster the network
   * joins, where its store is, this node's name (NULL: the host name). */
  const char *cluster_name; /* NULL: no cluster */
  const char *cluster_store;
  const char *cluster_node;
  bool cluster_wireguard; /* "encrypt": "wireguard": nodes reached through WireGuard */
  const char *ipam_type;  /* NULL: built-in allocator */
  json_t *prev_result;    /* borrowed; NULL when absent */

  /* runtimeConfig / args */
  bool have_ip; /* ips capability or args.cni.ips */
  struct in_addr ip;
  bool have_ip6; /* an IPv6 address among those `ips` */
  struct in6_addr ip6;
  bool have_mac;
  unsigned char mac[MOAT_MAC_LEN];
  json_t *pod_annotations; /* borrowed; NULL when absent */
  json_t *aliases;         /* borrowed: runtimeConfig.aliases of this network, checked; NULL */
  struct moat_publish_list publish; /* runtimeConfig.portMappings, checked */
  struct moat_label *labels;
  size_t n_labels;
  struct moat_attachment_ref *valid; /* GC */
  size_t n_valid;
  bool have_valid;
};

/* The CNI_* environment. */
struct moat_cni_env
{
  enum moat_cni_command command;
  const char *container_id;
  const char *netns;
  const char *ifname;
  const char *args;
  const char *path;
  /* `netns` opened already (moat_cni_netns_hold): used instead of the path,
   * which a process under Landlock may not follow when it is
   * /proc/<pid>/ns/net of a process outside its domain. */
  bool have_netns_fd;
  int netns_fd;
  /* The name server's launcher (verbs/dnsd.h), forked before confinement
   * for a network with "dns"; NULL: none. */
  struct moat_dnsd *dnsd;
};

/* Reads CNI_* from the environment; a missing or malformed variable the
 * command needs is MOAT_E_ENV naming it. */
int moat_cni_env_read (struct moat_cni_env *env, moat_err_t *err);

/* Parses and validates stdin. Malformed JSON → MOAT_E_DECODE, unknown
 * version → MOAT_E_VERSION, malformed known key → MOAT_E_CONFIG naming the
 * key. Unknown keys are ignored. */
int moat_netconf_parse (const char *text, enum moat_cni_command cmd, struct moat_netconf *ret,
                        moat_err_t *err);
void moat_netconf_free (struct moat_netconf *conf);

/* Index into moat_cni_versions, or -1. */
int moat_cni_version_index (const char *version);
/* Compares two known versions like strcmp. */
int moat_cni_version_cmp (const char *a, const char *b);

/* A cluster's or a node's name: alphanumeric, '_', '.' or '-', starting
 * alphanumeric, at most MOAT_CLUSTER_NAME_MAX bytes (it names files and
 * store keys). */
#define MOAT_CLUSTER_NAME_MAX 63
/* Cluster mode's default "mtu": a 1500-byte underlay less VXLAN's 50 bytes
 * (MOAT_VXLAN_OVERHEAD, model/clusterview.h). */
#define MOAT_CLUSTER_MTU 1450
bool moat_cluster_name_valid (const char *s);

/* Helpers shared with the hook and moatctl. */
bool moat_container_id_valid (const char *id);
/* moat_prefix_mask, moat_parse_ipv4, moat_parse_cidr: base/types.h */

#endif
