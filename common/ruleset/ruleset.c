/* SPDX-License-Identifier: Apache-2.0 */
/* The tables of ruleset.h: every set, chain and rule of moat's two
 * nftables tables, and the identity objects' shape. */
#include "ruleset/ruleset.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"
#include <stdlib.h>
#include "base/types.h"

/* nft's datatype ids (nftables include/datatype.h, enum datatypes). `nft
 * list` names a set's type from NFTA_SET_KEY_TYPE, in which a concatenation
 * packs one id per field, NFT_TYPE_BITS each, the first field highest. */
enum
{
  NFT_TYPE_INTEGER = 4,
  NFT_TYPE_IPADDR = 7,
  NFT_TYPE_IP6ADDR = 8,
  NFT_TYPE_ETHERADDR = 9,
  NFT_TYPE_INET_PROTOCOL = 12,
  NFT_TYPE_INET_SERVICE = 13,
  NFT_TYPE_IFNAME = 41,
  NFT_TYPE_CGROUPV2 = 46,
  NFT_TYPE_BITS = 6,
};

const struct moat_field_info moat_field_infos[] = {
  [MOAT_FIELD_IFNAME] = { NFT_TYPE_IFNAME, IFNAMSIZ, MOAT_BYTEORDER_HOST },
  [MOAT_FIELD_IPV4] = { NFT_TYPE_IPADDR, 4, MOAT_BYTEORDER_BIG },
  [MOAT_FIELD_ETHER] = { NFT_TYPE_ETHERADDR, MOAT_MAC_LEN, MOAT_BYTEORDER_BIG },
  [MOAT_FIELD_PROTO] = { NFT_TYPE_INET_PROTOCOL, 1, MOAT_BYTEORDER_BIG },
  [MOAT_FIELD_PORT] = { NFT_TYPE_INET_SERVICE, 2, MOAT_BYTEORDER_BIG },
  [MOAT_FIELD_IPV6] = { NFT_TYPE_IP6ADDR, 16, MOAT_BYTEORDER_BIG },
  [MOAT_FIELD_CGROUP] = { NFT_TYPE_CGROUPV2, 8, MOAT_BYTEORDER_HOST },
  [MOAT_FIELD_VNI] = { NFT_TYPE_INTEGER, 4, MOAT_BYTEORDER_BIG },
};

/* Interval concatenations need NFT_SET_CONCAT and a field description so
 * the kernel picks the pipapo backend; nft sets both only there. */
#define RANGE_FLAGS (NFT_SET_INTERVAL | NFT_SET_TIMEOUT | NFT_SET_CONCAT)

/* The sets keyed by an address, written once: ADDR_SETS (MOAT_FIELD_IPV4, ,
 * false) is the IPv4 half's, ADDR_SETS (MOAT_FIELD_IPV6, 6, true) their
 * IPv6 twins (named with a "6"), so the two cannot drift. */
#define ADDR_SET(S, A, V6, NAME, FLAGS, ...)                                                       \
  [MOAT_SET_##NAME##S] = { .family = NFPROTO_INET,                                                 \
                           .name = ADDR_SET_NAME_##NAME #S,                                        \
                           .flags = (FLAGS),                                                       \
                           .v6 = (V6),                                                             \
                           __VA_ARGS__ }
#define ADDR_SET_NAME_MEMBERS "members"
#define ADDR_SET_NAME_QUIET "quiet"
#define ADDR_SET_NAME_INTERNET "internet"
#define ADDR_SET_NAME_MASQ "masq"
#define ADDR_SET_NAME_GRANT_PEER "grant_peer"
#define ADDR_SET_NAME_GRANT_HOST "grant_host"
#define ADDR_SET_NAME_GRANT_EGRESS "grant_egress"
#define ADDR_SET_NAME_HOST_GRANTS "host_grants"
#define ADDR_SET_NAME_EGRESS "egress"
#define ADDR_SET_NAME_INGRESS "ingress"
#define ADDR_SET_NAME_EGRESS_DENY "egress_deny"
#define ADDR_SET_NAME_INGRESS_DENY "ingress_deny"
#define ADDR_SET_NAME_PROXIED "proxied"
#define ADDR_SET_NAME_PROXY "proxy"
#define ADDR_SET_NAME_SRC_IDENT "src_ident"
#define ADDR_SET_NAME_SELF "self"
#define ADDR_SET_NAME_RESOLVERS "resolvers"
#define ADDR_SET_NAME_GRANT_INGRESS "grant_ingress"
#define ADDR_SET_NAME_PUBLISH "publish"
#define ADDR_SET_NAME_PUBLISHED "published"
#define ADDR_SET_NAME_LOGGED "logged"
#define ADDR_SET_NAME_LOG_RATE "log_rate"
/* addr . addr . proto . port */
#define ACL_FIELDS(A) .nfields = 4, .fields = { A, A, MOAT_FIELD_PROTO, MOAT_FIELD_PORT }

#define ADDR_SETS(A, S, V6)                                                                        \
  ADDR_SET (S, A, V6, MEMBERS, 0, .nfields = 2, .fields = { MOAT_FIELD_IFNAME, A }),               \
      ADDR_SET (S, A, V6, QUIET, 0, .nfields = 1, .fields = { A }),                                \
      ADDR_SET (S, A, V6, INTERNET, 0, .nfields = 1, .fields = { A }),                             \
      ADDR_SET (S, A, V6, MASQ, 0, .nfields = 1, .fields = { A }),                                 \
      ADDR_SET (S, A, V6, GRANT_PEER, NFT_SET_TIMEOUT, .nfields = 2, .fields = { A, A }),          \
      ADDR_SET (S, A, V6, GRANT_HOST, RANGE_FLAGS, .nfields = 3,                                   \
                .fields = { A, MOAT_FIELD_PROTO, MOAT_FIELD_PORT }),                               \
      ADDR_SET (S, A, V6, GRANT_EGRESS, RANGE_FLAGS, ACL_FIELDS (A)),                              \
      ADDR_SET (S, A, V6, HOST_GRANTS, RANGE_FLAGS, .nfields = 3,                                  \
                .fields = { A, MOAT_FIELD_PROTO, MOAT_FIELD_PORT }),                               \
      ADDR_SET (S, A, V6, EGRESS, RANGE_FLAGS, ACL_FIELDS (A)),                                    \
      ADDR_SET (S, A, V6, INGRESS, RANGE_FLAGS, ACL_FIELDS (A)),                                   \
      ADDR_SET (S, A, V6, EGRESS_DENY, RANGE_FLAGS, ACL_FIELDS (A)),                               \
      ADDR_SET (S, A, V6, INGRESS_DENY, RANGE_FLAGS, ACL_FIELDS (A)),                              \
      ADDR_SET (S, A, V6, PROXIED, 0, ACL_FIELDS (A)),                                             \
      ADDR_SET (S, A, V6, PROXY, NFT_SET_MAP, .nfields = 2, .fields = { A, MOAT_FIELD_PORT },      \
                .ndata = 2, .data = { A, MOAT_FIELD_PORT }),                                       \
      ADDR_SET (S, A, V6, SRC_IDENT, NFT_SET_MAP, .nfields = 1, .fields = { A },                   \
                .verdict = true), /* Each container's address twice: lets a rule ask whether a     \
                                   * packet's source is an endpoint of its conntrack entry. */     \
      ADDR_SET (S, A, V6, SELF, 0, .nfields = 2,                                                   \
                .fields = { A, A }), /* A network's name server (docs/design.md, "Names"): bridge  \
                                      * . gateway . udp/tcp . 53, elements per network. */         \
      ADDR_SET (S, A, V6, RESOLVERS, 0, .nfields = 4,                                              \
                .fields = { MOAT_FIELD_IFNAME, A, MOAT_FIELD_PROTO,                                \
                            MOAT_FIELD_PORT }), /* moatctl's ingress grants, keyed as ingress:     \
                                                   outside . container . proto . port. */          \
      ADDR_SET (                                                                                   \
          S, A, V6, GRANT_INGRESS, RANGE_FLAGS,                                                    \
          ACL_FIELDS (A)), /* Published ports (model/publish.h): host address range . proto . host \
                            * port to container . container port, and what that opens. */          \
      ADDR_SET (S, A, V6, PUBLISH, NFT_SET_MAP | NFT_SET_INTERVAL | NFT_SET_CONCAT, .nfields = 3,  \
                .fields = { A, MOAT_FIELD_PROTO, MOAT_FIELD_PORT }, .ndata = 2,                    \
                .data = { A, MOAT_FIELD_PORT }),                                                   \
      ADDR_SET (S, A, V6, PUBLISHED, 0, .nfields = 3,                                              \
                .fields = { A, MOAT_FIELD_PROTO,                                                   \
                            MOAT_FIELD_PORT }), /* Refusals logged: the containers whose network   \
                                                 * says so, and one rate limiter per refused       \
                                                 * container that the kernel adds as it logs. */   \
      ADDR_SET (S, A, V6, LOGGED, 0, .nfields = 1, .fields = { A }),                               \
      ADDR_SET (S, A, V6, LOG_RATE, NFT_SET_TIMEOUT | NFT_SET_EVAL, .nfields = 1, .fields = { A }, \
                .timeout_ms = MOAT_LOG_RATE_TIMEOUT_MS)

/* A set of container addresses whose elements count what they match. */
#define COUNTED(n)                                                                                 \
  {                                                                                                \
    .family = NFPROTO_INET, .name = (n), .nfields = 1, .fields = { MOAT_FIELD_IPV4 },              \
    .counter = true                                                                                \
  }
/* Its IPv6 twin (docs/design.md, "IPv6"), keyed by the container's IPv6 address. */
#define COUNTED6(n)                                                                                \
  {                                                                                                \
    .family = NFPROTO_INET, .name = (n), .nfields = 1, .fields = { MOAT_FIELD_IPV6 },              \
    .counter = true, .v6 = true                                                                    \
  }

const struct moat_set_def moat_set_defs[MOAT_SET_COUNT] = {
  ADDR_SETS (MOAT_FIELD_IPV4, , false),
  ADDR_SETS (MOAT_FIELD_IPV6, 6, true),
  [MOAT_SET_BRIDGES]
  = { .family = NFPROTO_INET, .name = "bridges", .nfields = 1, .fields = { MOAT_FIELD_IFNAME } },
  /* The bridge table's `guarded`, for the inet hooks: see chain raw. */
  [MOAT_SET_PORT_NAMES]
  = { .family = NFPROTO_INET, .name = "guarded", .nfields = 1, .fields = { MOAT_FIELD_IFNAME } },
  [MOAT_SET_GUARDED]
  = { .family = NFPROTO_BRIDGE, .name = "guarded", .nfields = 1, .fields = { MOAT_FIELD_IFNAME } },
  [MOAT_SET_PORTS] = { .family = NFPROTO_BRIDGE,
                       .name = "ports",
                       .nfields = 3,
                       .fields = { MOAT_FIELD_IFNAME, MOAT_FIELD_ETHER, MOAT_FIELD_IPV4 } },
  /* A container's global and link-local address, each with its MAC; also
   * the key of the ND checks (target, option's address). */
  [MOAT_SET_PORTS6] = { .family = NFPROTO_BRIDGE,
                        .name = "ports6",
                        .nfields = 3,
                        .fields = { MOAT_FIELD_IFNAME, MOAT_FIELD_ETHER, MOAT_FIELD_IPV6 },
                        .v6 = true },
  /* Counters (docs/design.md, "Counters"): one element per container in
   * each, whose counter the kernel's lookup raises. */
  [MOAT_SET_ALLOWED_OUT] = COUNTED ("allowed_out"),
  [MOAT_SET_ALLOWED_IN] = COUNTED ("allowed_in"),
  [MOAT_SET_REFUSED_OUT] = COUNTED ("refused_out"),
  [MOAT_SET_REFUSED_IN] = COUNTED ("refused_in"),
  [MOAT_SET_ALLOWED_OUT6] = COUNTED6 ("allowed_out6"),
  [MOAT_SET_ALLOWED_IN6] = COUNTED6 ("allowed_in6"),
  [MOAT_SET_REFUSED_OUT6] = COUNTED6 ("refused_out6"),
  [MOAT_SET_REFUSED_IN6] = COUNTED6 ("refused_in6"),
  /* Host-network containers, keyed by their cgroup (docs/design.md,
   * "Host-network containers"): members, their identity, their egress
   * and ingress. No timeout flag: moatctl's grants do not reach them. */
  [MOAT_SET_HOSTNET]
  = { .family = NFPROTO_INET, .name = "hostnet", .nfields = 1, .fields = { MOAT_FIELD_CGROUP } },
  [MOAT_SET_HOSTNET_IDENT] = { .family = NFPROTO_INET,
                               .name = "hostnet_ident",
                               .flags = NFT_SET_MAP,
                               .nfields = 1,
                               .fields = { MOAT_FIELD_CGROUP },
                               .verdict = true },
  [MOAT_SET_HOSTNET_EGRESS]
  = { .family = NFPROTO_INET,
      .name = "hostnet_egress",
      .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT,
      .nfields = 4,
      .fields = { MOAT_FIELD_CGROUP, MOAT_FIELD_IPV4, MOAT_FIELD_PROTO, MOAT_FIELD_PORT } },
  [MOAT_SET_HOSTNET_INGRESS]
  = { .family = NFPROTO_INET,
      .name = "hostnet_ingress",
      .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT,
      .nfields = 4,
      .fields = { MOAT_FIELD_IPV4, MOAT_FIELD_CGROUP, MOAT_FIELD_PROTO, MOAT_FIELD_PORT } },
  /* Moat containers that may open connections to a host-network
   * container (moat_policy_allows): source . its group. */
  [MOAT_SET_HOSTNET_PEERS] = { .family = NFPROTO_INET,
                               .name = "hostnet_peers",
                               .nfields = 2,
                               .fields = { MOAT_FIELD_IPV4, MOAT_FIELD_CGROUP } },
  /* Their IPv6 twins (docs/design.md, "IPv6"): the same keys with an
   * IPv6 address, and hostnet_ident6's verdicts jump to id_<identity>6. */
  [MOAT_SET_HOSTNET_IDENT6] = { .family = NFPROTO_INET,
                                .name = "hostnet_ident6",
                                .flags = NFT_SET_MAP,
                                .nfields = 1,
                                .fields = { MOAT_FIELD_CGROUP },
                                .verdict = true,
                                .v6 = true },
  [MOAT_SET_HOSTNET_EGRESS6]
  = { .family = NFPROTO_INET,
      .name = "hostnet_egress6",
      .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT,
      .nfields = 4,
      .fields = { MOAT_FIELD_CGROUP, MOAT_FIELD_IPV6, MOAT_FIELD_PROTO, MOAT_FIELD_PORT },
      .v6 = true },
  [MOAT_SET_HOSTNET_INGRESS6]
  = { .family = NFPROTO_INET,
      .name = "hostnet_ingress6",
      .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT,
      .nfields = 4,
      .fields = { MOAT_FIELD_IPV6, MOAT_FIELD_CGROUP, MOAT_FIELD_PROTO, MOAT_FIELD_PORT },
      .v6 = true },
  [MOAT_SET_HOSTNET_PEERS6] = { .family = NFPROTO_INET,
                                .name = "hostnet_peers6",
                                .nfields = 2,
                                .fields = { MOAT_FIELD_IPV6, MOAT_FIELD_CGROUP },
                                .v6 = true },
  /* Cluster mode (docs/cluster.md): the other nodes' container subnets
   * with the interface their route uses; each node's subnet and underlay
   * address with that interface and the node's MAC on it (where its
   * packets may come from); each node's interface and MAC. Empty on a
   * host with no cluster network. Their IPv6 twins hold the nodes with a
   * subnet6 (docs/cluster.md, "IPv6 between nodes"). */
  [MOAT_SET_NODE_NETS] = { .family = NFPROTO_INET,
                           .name = "node_nets",
                           .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT,
                           .nfields = 2,
                           .fields = { MOAT_FIELD_IPV4, MOAT_FIELD_IFNAME } },
  [MOAT_SET_NODE_ROUTES] = { .family = NFPROTO_INET,
                             .name = "node_routes",
                             .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT,
                             .nfields = 3,
                             .fields = { MOAT_FIELD_IPV4, MOAT_FIELD_IFNAME, MOAT_FIELD_ETHER } },
  [MOAT_SET_NODE_LINKS] = { .family = NFPROTO_INET,
                            .name = "node_links",
                            .nfields = 2,
                            .fields = { MOAT_FIELD_IFNAME, MOAT_FIELD_ETHER } },
  /* The VXLAN tunnels to other nodes: each one's VNI word; the node's
   * underlay address with it. Empty with no tunnel. */
  [MOAT_SET_NODE_VNIS]
  = { .family = NFPROTO_INET, .name = "node_vnis", .nfields = 1, .fields = { MOAT_FIELD_VNI } },
  [MOAT_SET_NODE_VTEPS] = { .family = NFPROTO_INET,
                            .name = "node_vteps",
                            .nfields = 2,
                            .fields = { MOAT_FIELD_IPV4, MOAT_FIELD_VNI } },
  [MOAT_SET_NODE_NETS6] = { .family = NFPROTO_INET,
                            .name = "node_nets6",
                            .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT,
                            .nfields = 2,
                            .fields = { MOAT_FIELD_IPV6, MOAT_FIELD_IFNAME },
                            .v6 = true },
  [MOAT_SET_NODE_ROUTES6] = { .family = NFPROTO_INET,
                              .name = "node_routes6",
                              .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT,
                              .nfields = 3,
                              .fields = { MOAT_FIELD_IPV6, MOAT_FIELD_IFNAME, MOAT_FIELD_ETHER },
                              .v6 = true },
  [MOAT_SET_NODE_LINKS6] = { .family = NFPROTO_INET,
                             .name = "node_links6",
                             .nfields = 2,
                             .fields = { MOAT_FIELD_IFNAME, MOAT_FIELD_ETHER },
                             .v6 = true },
};

#define TWIN6(NAME) [MOAT_SET_##NAME] = MOAT_SET_##NAME##6
static const enum moat_set set_twins6[MOAT_SET_COUNT] = {
  TWIN6 (MEMBERS),        TWIN6 (QUIET),           TWIN6 (INTERNET),      TWIN6 (MASQ),
  TWIN6 (GRANT_PEER),     TWIN6 (GRANT_HOST),      TWIN6 (GRANT_EGRESS),  TWIN6 (HOST_GRANTS),
  TWIN6 (EGRESS),         TWIN6 (INGRESS),         TWIN6 (EGRESS_DENY),   TWIN6 (INGRESS_DENY),
  TWIN6 (PROXIED),        TWIN6 (PROXY),           TWIN6 (SRC_IDENT),     TWIN6 (SELF),
  TWIN6 (RESOLVERS),      TWIN6 (GRANT_INGRESS),   TWIN6 (PUBLISH),       TWIN6 (PUBLISHED),
  TWIN6 (LOGGED),         TWIN6 (LOG_RATE),        TWIN6 (PORTS),         TWIN6 (ALLOWED_OUT),
  TWIN6 (ALLOWED_IN),     TWIN6 (REFUSED_OUT),     TWIN6 (REFUSED_IN),    TWIN6 (HOSTNET_IDENT),
  TWIN6 (HOSTNET_EGRESS), TWIN6 (HOSTNET_INGRESS), TWIN6 (HOSTNET_PEERS), TWIN6 (NODE_NETS),
  TWIN6 (NODE_ROUTES),    TWIN6 (NODE_LINKS),
};

enum moat_set
moat_set_twin6 (enum moat_set set)
{
  if (set == MOAT_SET_IDENT)
    return MOAT_SET_IDENT6;
  if (set >= MOAT_SET_COUNT || set_twins6[set] == 0)
    return MOAT_SET_NO_TWIN;
  return set_twins6[set];
}

const struct moat_chain_def moat_chain_defs[] = {
  { NFPROTO_INET, "raw", "filter", NF_INET_PRE_ROUTING, -300, NULL, false }, /* before conntrack */
  { NFPROTO_INET, "prerouting", "filter", NF_INET_PRE_ROUTING, 0, NULL, false },
  { NFPROTO_INET, "forward", "filter", NF_INET_FORWARD, 0, NULL, false },
  { NFPROTO_INET, "input", "filter", NF_INET_LOCAL_IN, 0, NULL, false },
  { NFPROTO_INET, "output", "filter", NF_INET_LOCAL_OUT, 0, NULL, false },
  { NFPROTO_INET, "from_container", NULL, 0, 0, "from_container6", false },
  { NFPROTO_INET, "to_peer", NULL, 0, 0, "to_peer6", false },
  { NFPROTO_INET, "same_bridge", NULL, 0, 0, "same_bridge6", false },
  { NFPROTO_INET, "to_container", NULL, 0, 0, "to_container6", false },
  { NFPROTO_INET, "to_host", NULL, 0, 0, "to_host6", false },
  { NFPROTO_INET, "deny_src", NULL, 0, 0, "deny_src6", false },
  { NFPROTO_INET, "deny_dst", NULL, 0, 0, "deny_dst6", false },
  { NFPROTO_INET, "proxy", "nat", NF_INET_PRE_ROUTING, -100, NULL, false },       /* dstnat */
  { NFPROTO_INET, "postrouting", "nat", NF_INET_POST_ROUTING, 100, NULL, false }, /* srcnat */
  { NFPROTO_BRIDGE, "prerouting", "filter", 0 /* NF_BR_PRE_ROUTING */, -200, NULL, false },
  { NFPROTO_BRIDGE, "from_port", NULL, 0, 0, NULL, false },
  { NFPROTO_INET, "publish_out", "nat", NF_INET_LOCAL_OUT, -100, NULL, false }, /* the host's own */
  /* After the filter (docs/design.md, "Counters"): what it let through. */
  { NFPROTO_INET, "count_forward", "filter", NF_INET_FORWARD, 10, NULL, false },
  { NFPROTO_INET, "count_input", "filter", NF_INET_LOCAL_IN, 10, NULL, false },
  /* The IPv6 half: the regular chains' twins, the bridge's IPv6 port checks. */
  { NFPROTO_INET, "from_container6", NULL, 0, 0, NULL, true },
  { NFPROTO_INET, "to_peer6", NULL, 0, 0, NULL, true },
  { NFPROTO_INET, "same_bridge6", NULL, 0, 0, NULL, true },
  { NFPROTO_INET, "to_container6", NULL, 0, 0, NULL, true },
  { NFPROTO_INET, "to_host6", NULL, 0, 0, NULL, true },
  { NFPROTO_INET, "deny_src6", NULL, 0, 0, NULL, true },
  { NFPROTO_INET, "deny_dst6", NULL, 0, 0, NULL, true },
  { NFPROTO_BRIDGE, "from_port6", NULL, 0, 0, NULL, true },
  /* Host-network containers: after moat's own filter chains (priority 0). */
  { NFPROTO_INET, "hostnet_output", "filter", NF_INET_LOCAL_OUT, 5, NULL, false },
  { NFPROTO_INET, "hostnet_input", "filter", NF_INET_LOCAL_IN, 5, NULL, false },
  { NFPROTO_INET, "hostnet_out", NULL, 0, 0, "hostnet_out6", false },
  { NFPROTO_INET, "hostnet_in", NULL, 0, 0, "hostnet_in6", false },
  { NFPROTO_INET, "hostnet_out6", NULL, 0, 0, NULL, true },
  { NFPROTO_INET, "hostnet_in6", NULL, 0, 0, NULL, true },
};
const size_t moat_chain_defs_count = ARRAY_SIZE (moat_chain_defs);

#define IPV4                                                                                       \
  {                                                                                                \
    MOAT_TERM_IPV4, 0, 0, { 0 }                                                                    \
  }
#define IPV6                                                                                       \
  {                                                                                                \
    MOAT_TERM_IPV6, 0, 0, { 0 }                                                                    \
  }
#define ETHER_TYPE(t)                                                                              \
  {                                                                                                \
    MOAT_TERM_ETHER_TYPE, (t), 0, { 0 }                                                            \
  }
#define L4PROTO(p)                                                                                 \
  {                                                                                                \
    MOAT_TERM_L4PROTO, (p), 0, { 0 }                                                               \
  }
#define CT_STATE(bits)                                                                             \
  {                                                                                                \
    MOAT_TERM_CT_STATE, (bits), 0, { 0 }                                                           \
  }
#define LOOKUP(set, ...)                                                                           \
  {                                                                                                \
    MOAT_TERM_LOOKUP, 0, (set), { __VA_ARGS__ }                                                    \
  }
#define NOT_LOOKUP(set, ...)                                                                       \
  {                                                                                                \
    MOAT_TERM_NOT_LOOKUP, 0, (set), { __VA_ARGS__ }                                                \
  }

#define RATE(src)                                                                                  \
  {                                                                                                \
    MOAT_TERM_RATE, 0, MOAT_SET_LOG_RATE, { src }                                                  \
  }

#define CT_REPLY                                                                                   \
  {                                                                                                \
    MOAT_TERM_CT_REPLY, 0, 0, { 0 }                                                                \
  }

/* A rule of the IPv4 half leaves `v6` and `insert` out (false): the
 * IPv6 half's rules say `true` after their target. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
const struct moat_rule_def moat_rule_defs[] = {
  /* A frame the bridge hands up on a port itself (a reserved group MAC,
   * 01:80:c2:00:00:0X, skips the bridge's prerouting hook) meets the IP
   * stack with the port as its input interface: nothing may arrive so. */
  { NFPROTO_INET,
    "raw",
    "iifname @guarded drop",
    { LOOKUP (MOAT_SET_PORT_NAMES, MOAT_SRC_IIFNAME) },
    MOAT_ACT_DROP,
    NULL },
  /* A publishing bridge has route_localnet (the host's own 127.0.0.1
   * reaches a published port through it), which would also route a
   * container's frame to 127.0.0.1 up to the host's loopback services
   * (CVE-2020-8558). Dropped before conntrack and before the NAT that
   * turns a masqueraded reply's destination back into 127.0.0.1. */
  { NFPROTO_INET,
    "raw",
    "ip daddr 127.0.0.0/8 iifname @bridges drop",
    { IPV4,
      { MOAT_TERM_DADDR_LOOPBACK, 0, 0, { 0 } },
      LOOKUP (MOAT_SET_BRIDGES, MOAT_SRC_IIFNAME) },
    MOAT_ACT_DROP,
    NULL },
  /* What same_bridge would say first, said before the two members lookups:
   * the replies of an established flow skip both. */
  { NFPROTO_INET,
    "prerouting",
    "ct state established ct direction reply accept",
    { CT_STATE (MOAT_CT_ESTABLISHED), CT_REPLY },
    MOAT_ACT_ACCEPT,
    NULL },
  /* Between two containers of one bridge the kernel sends an ICMP redirect
   * before the forward hook, spending the ICMP rate-limit allowance our
   * reject then needs: decide those flows before routing. */
  { NFPROTO_INET,
    "prerouting",
    "iifname . ip saddr @members iifname . ip daddr @members jump same_bridge",
    { IPV4, LOOKUP (MOAT_SET_MEMBERS, MOAT_SRC_IIFNAME, MOAT_SRC_IP_SADDR),
      LOOKUP (MOAT_SET_MEMBERS, MOAT_SRC_IIFNAME, MOAT_SRC_IP_DADDR) },
    MOAT_ACT_JUMP,
    "same_bridge" },
  /* Cluster mode (docs/cluster.md, "Routing between nodes"): a source in
   * another node's subnet, arriving on that node's link, must come from
   * that node's MAC; and what a node sends to a bridge must carry a source
   * of its own (its subnet, its underlay address). */
  { NFPROTO_INET,
    "forward",
    "ip saddr . iifname @node_nets ip saddr . iifname . ether saddr != @node_routes drop",
    { IPV4,
      LOOKUP (MOAT_SET_NODE_NETS, MOAT_SRC_IP_SADDR, MOAT_SRC_IIFNAME),
      { MOAT_TERM_IIFTYPE_ETHER, 0, 0, { 0 } },
      NOT_LOOKUP (MOAT_SET_NODE_ROUTES, MOAT_SRC_IP_SADDR, MOAT_SRC_IIFNAME,
                  MOAT_SRC_ETHER_SADDR) },
    MOAT_ACT_DROP,
    NULL },
  /* node_links first: on a host with no cluster network, one lookup of an
   * empty set is all this rule costs. */
  { NFPROTO_INET,
    "forward",
    "iifname . ether saddr @node_links oifname @bridges ip saddr . iifname . ether saddr != "
    "@node_routes drop",
    { { MOAT_TERM_IIFTYPE_ETHER, 0, 0, { 0 } },
      LOOKUP (MOAT_SET_NODE_LINKS, MOAT_SRC_IIFNAME, MOAT_SRC_ETHER_SADDR),
      LOOKUP (MOAT_SET_BRIDGES, MOAT_SRC_OIFNAME),
      { MOAT_TERM_ETHER_TYPE, MOAT_ETHERTYPE_IPV4, 0, { 0 } },
      NOT_LOOKUP (MOAT_SET_NODE_ROUTES, MOAT_SRC_IP_SADDR, MOAT_SRC_IIFNAME,
                  MOAT_SRC_ETHER_SADDR) },
    MOAT_ACT_DROP,
    NULL },
  { NFPROTO_INET,
    "forward",
    "iifname . ip saddr @members jump from_container",
    { IPV4, LOOKUP (MOAT_SET_MEMBERS, MOAT_SRC_IIFNAME, MOAT_SRC_IP_SADDR) },
    MOAT_ACT_JUMP,
    "from_container" },
  /* Fail closed: IPv4 from a moat bridge whose source is no member (a
   * container being removed, a port moat does not know) goes nowhere. */
  { NFPROTO_INET,
    "forward",
    "meta nfproto ipv4 iifname @bridges drop",
    { IPV4, LOOKUP (MOAT_SET_BRIDGES, MOAT_SRC_IIFNAME) },
    MOAT_ACT_DROP,
    NULL },
  { NFPROTO_INET,
    "forward",
    "oifname . ip daddr @members jump to_container",
    { IPV4, LOOKUP (MOAT_SET_MEMBERS, MOAT_SRC_OIFNAME, MOAT_SRC_IP_DADDR) },
    MOAT_ACT_JUMP,
    "to_container" },
  /* IPv6 only: every interface forwards IPv6 once all.forwarding is 1,
   * so nothing reaches a bridge but for a member: an unassigned address
   * of the subnet would be anyone's who answers its neighbour solicitation. */
  { NFPROTO_INET,
    "forward",
    "meta nfproto ipv6 oifname @bridges drop",
    { IPV6, LOOKUP (MOAT_SET_BRIDGES, MOAT_SRC_OIFNAME) },
    MOAT_ACT_DROP,
    NULL,
    true },
  /* Cluster mode's tunnels (docs/cluster.md, "Routing between nodes"): the
   * kernel finds a VXLAN device by VNI alone, so a datagram carrying a
   * tunnel's VNI must come from that tunnel's node, or the inner packet's
   * arrival device would name a node that did not send it. Other VNIs
   * (another VXLAN user's) are not moat's to judge. */
  { NFPROTO_INET,
    "input",
    "udp dport 4789 @th,96,32 @node_vnis ip saddr . @th,96,32 != @node_vteps drop",
    { L4PROTO (IPPROTO_UDP),
      { MOAT_TERM_TH_DPORT, MOAT_VXLAN_DPORT, 0, { 0 } },
      LOOKUP (MOAT_SET_NODE_VNIS, MOAT_SRC_VXLAN_VNI),
      IPV4,
      NOT_LOOKUP (MOAT_SET_NODE_VTEPS, MOAT_SRC_IP_SADDR, MOAT_SRC_VXLAN_VNI) },
    MOAT_ACT_DROP,
    NULL },
  /* The same for what reaches the host itself (a host-network container
   * lets other nodes' peers in: hostnet_peers). */
  { NFPROTO_INET,
    "input",
    "ip saddr . iifname @node_nets ip saddr . iifname . ether saddr != @node_routes drop",
    { IPV4,
      LOOKUP (MOAT_SET_NODE_NETS, MOAT_SRC_IP_SADDR, MOAT_SRC_IIFNAME),
      { MOAT_TERM_IIFTYPE_ETHER, 0, 0, { 0 } },
      NOT_LOOKUP (MOAT_SET_NODE_ROUTES, MOAT_SRC_IP_SADDR, MOAT_SRC_IIFNAME,
                  MOAT_SRC_ETHER_SADDR) },
    MOAT_ACT_DROP,
    NULL },
  { NFPROTO_INET,
    "input",
    "iifname . ip saddr @members jump to_host",
    { IPV4, LOOKUP (MOAT_SET_MEMBERS, MOAT_SRC_IIFNAME, MOAT_SRC_IP_SADDR) },
    MOAT_ACT_JUMP,
    "to_host" },
  { NFPROTO_INET,
    "input",
    "meta nfproto ipv4 iifname @bridges drop",
    { IPV4, LOOKUP (MOAT_SET_BRIDGES, MOAT_SRC_IIFNAME) },
    MOAT_ACT_DROP,
    NULL },
  { NFPROTO_INET,
    "output",
    "icmp type redirect oifname . ip daddr @members drop",
    { IPV4,
      L4PROTO (IPPROTO_ICMP),
      { MOAT_TERM_ICMP_TYPE, MOAT_ICMP_REDIRECT, 0, { 0 } },
      LOOKUP (MOAT_SET_MEMBERS, MOAT_SRC_OIFNAME, MOAT_SRC_IP_DADDR) },
    MOAT_ACT_DROP,
    NULL },
  { NFPROTO_INET,
    "from_container",
    "ct state established ct direction reply accept",
    { CT_STATE (MOAT_CT_ESTABLISHED), CT_REPLY },
    MOAT_ACT_ACCEPT,
    NULL },
  /* Related traffic (ICMP errors) from a container passes only when the
   * container is an endpoint of the flow it belongs to: conntrack checks
   * where an ICMP error goes, not who sends it, so any container could
   * otherwise inject errors (and their payload) into another's flows. */
  { NFPROTO_INET,
    "from_container",
    "ct state related ip saddr . ct original ip saddr @self accept",
    { CT_STATE (MOAT_CT_RELATED), IPV4,
      LOOKUP (MOAT_SET_SELF, MOAT_SRC_IP_SADDR, MOAT_SRC_CT_ORIGINAL_SADDR) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "from_container",
    "ct state related ip saddr . ct reply ip saddr @self accept",
    { CT_STATE (MOAT_CT_RELATED), IPV4,
      LOOKUP (MOAT_SET_SELF, MOAT_SRC_IP_SADDR, MOAT_SRC_CT_REPLY_SADDR) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "from_container",
    "ct state invalid drop",
    { CT_STATE (MOAT_CT_INVALID) },
    MOAT_ACT_DROP,
    NULL },
  /* Between two containers of one bridge, same_bridge has judged the
   * packet before routing, and only what it accepted comes here. */
  { NFPROTO_INET,
    "from_container",
    "iifname . ip daddr @members accept",
    { IPV4, LOOKUP (MOAT_SET_MEMBERS, MOAT_SRC_IIFNAME, MOAT_SRC_IP_DADDR) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "from_container",
    "oifname . ip daddr @members goto to_peer",
    { IPV4, LOOKUP (MOAT_SET_MEMBERS, MOAT_SRC_OIFNAME, MOAT_SRC_IP_DADDR) },
    MOAT_ACT_GOTO,
    "to_peer" },
  /* A container on another node is a peer too (docs/cluster.md). */
  { NFPROTO_INET,
    "from_container",
    "ip daddr . oifname @node_nets goto to_peer",
    { IPV4, LOOKUP (MOAT_SET_NODE_NETS, MOAT_SRC_IP_DADDR, MOAT_SRC_OIFNAME) },
    MOAT_ACT_GOTO,
    "to_peer" },
  /* A proxy that is another container is a peer like any other: only
   * what its policy consents to (to_peer) reaches it. */
  { NFPROTO_INET,
    "from_container",
    "ip saddr . ip daddr . meta l4proto . th dport @proxied accept",
    { IPV4, LOOKUP (MOAT_SET_PROXIED, MOAT_SRC_IP_SADDR, MOAT_SRC_IP_DADDR, MOAT_SRC_L4PROTO,
                    MOAT_SRC_TH_DPORT) },
    MOAT_ACT_ACCEPT,
    NULL },
  /* moatctl's grants open what they name, whatever the policy says. */
  { NFPROTO_INET,
    "from_container",
    "ip saddr . ip daddr . meta l4proto . th dport @grant_egress accept",
    { IPV4, LOOKUP (MOAT_SET_GRANT_EGRESS, MOAT_SRC_IP_SADDR, MOAT_SRC_IP_DADDR, MOAT_SRC_L4PROTO,
                    MOAT_SRC_TH_DPORT) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "from_container",
    "ip saddr . ip daddr . meta l4proto . th dport @egress_deny goto deny_src",
    { IPV4, LOOKUP (MOAT_SET_EGRESS_DENY, MOAT_SRC_IP_SADDR, MOAT_SRC_IP_DADDR, MOAT_SRC_L4PROTO,
                    MOAT_SRC_TH_DPORT) },
    MOAT_ACT_GOTO,
    "deny_src" },
  { NFPROTO_INET,
    "from_container",
    "ip saddr @internet accept",
    { IPV4, LOOKUP (MOAT_SET_INTERNET, MOAT_SRC_IP_SADDR) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "from_container",
    "ip saddr . ip daddr . meta l4proto . th dport @egress accept",
    { IPV4, LOOKUP (MOAT_SET_EGRESS, MOAT_SRC_IP_SADDR, MOAT_SRC_IP_DADDR, MOAT_SRC_L4PROTO,
                    MOAT_SRC_TH_DPORT) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "from_container",
    "goto deny_src",
    { { MOAT_TERM_END, 0, 0, { 0 } } },
    MOAT_ACT_GOTO,
    "deny_src" },
  { NFPROTO_INET,
    "to_peer",
    "ip saddr . ip daddr @grant_peer accept",
    { IPV4, LOOKUP (MOAT_SET_GRANT_PEER, MOAT_SRC_IP_SADDR, MOAT_SRC_IP_DADDR) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET, "to_peer", "ip saddr vmap @src_ident", { IPV4 }, MOAT_ACT_SRC_IDENT, NULL },
  { NFPROTO_INET,
    "to_peer",
    "goto deny_src",
    { { MOAT_TERM_END, 0, 0, { 0 } } },
    MOAT_ACT_GOTO,
    "deny_src" },
  { NFPROTO_INET,
    "same_bridge",
    "ct state established ct direction reply accept",
    { CT_STATE (MOAT_CT_ESTABLISHED), CT_REPLY },
    MOAT_ACT_ACCEPT,
    NULL },
  /* Related from a container: see from_container. */
  { NFPROTO_INET,
    "same_bridge",
    "ct state related ip saddr . ct original ip saddr @self accept",
    { CT_STATE (MOAT_CT_RELATED), IPV4,
      LOOKUP (MOAT_SET_SELF, MOAT_SRC_IP_SADDR, MOAT_SRC_CT_ORIGINAL_SADDR) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "same_bridge",
    "ct state related ip saddr . ct reply ip saddr @self accept",
    { CT_STATE (MOAT_CT_RELATED), IPV4,
      LOOKUP (MOAT_SET_SELF, MOAT_SRC_IP_SADDR, MOAT_SRC_CT_REPLY_SADDR) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "same_bridge",
    "ip saddr . ip daddr @grant_peer accept",
    { IPV4, LOOKUP (MOAT_SET_GRANT_PEER, MOAT_SRC_IP_SADDR, MOAT_SRC_IP_DADDR) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET, "same_bridge", "ip saddr vmap @src_ident", { IPV4 }, MOAT_ACT_SRC_IDENT, NULL },
  { NFPROTO_INET,
    "same_bridge",
    "goto deny_src",
    { { MOAT_TERM_END, 0, 0, { 0 } } },
    MOAT_ACT_GOTO,
    "deny_src" },
  { NFPROTO_INET,
    "to_container",
    "ct state established ct direction reply accept",
    { CT_STATE (MOAT_CT_ESTABLISHED), CT_REPLY },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "to_container",
    "ct state related accept",
    { CT_STATE (MOAT_CT_RELATED) },
    MOAT_ACT_ACCEPT,
    NULL },
  /* From a container on another node (forward checked it came from its
   * node): judged as a peer, by the same elements as on its node. */
  { NFPROTO_INET,
    "to_container",
    "ip saddr . iifname @node_nets goto to_peer",
    { IPV4, LOOKUP (MOAT_SET_NODE_NETS, MOAT_SRC_IP_SADDR, MOAT_SRC_IIFNAME) },
    MOAT_ACT_GOTO,
    "to_peer" },
  { NFPROTO_INET,
    "to_container",
    "ip saddr . ip daddr . meta l4proto . th dport @ingress_deny goto deny_dst",
    { IPV4, LOOKUP (MOAT_SET_INGRESS_DENY, MOAT_SRC_IP_SADDR, MOAT_SRC_IP_DADDR, MOAT_SRC_L4PROTO,
                    MOAT_SRC_TH_DPORT) },
    MOAT_ACT_GOTO,
    "deny_dst" },
  /* moatctl's ingress grants open what they name, short of ingress_deny. */
  { NFPROTO_INET,
    "to_container",
    "ip saddr . ip daddr . meta l4proto . th dport @grant_ingress accept",
    { IPV4, LOOKUP (MOAT_SET_GRANT_INGRESS, MOAT_SRC_IP_SADDR, MOAT_SRC_IP_DADDR, MOAT_SRC_L4PROTO,
                    MOAT_SRC_TH_DPORT) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "to_container",
    "ip saddr . ip daddr . meta l4proto . th dport @ingress accept",
    { IPV4, LOOKUP (MOAT_SET_INGRESS, MOAT_SRC_IP_SADDR, MOAT_SRC_IP_DADDR, MOAT_SRC_L4PROTO,
                    MOAT_SRC_TH_DPORT) },
    MOAT_ACT_ACCEPT,
    NULL },
  /* A published port opens exactly the container port it maps to, and
   * only for what moat's DNAT sent there (ct status dnat): a connection
   * routed straight to the container's address is not let in by it. */
  { NFPROTO_INET,
    "to_container",
    "ct status dnat ip daddr . meta l4proto . th dport @published accept",
    { { MOAT_TERM_CT_DNAT, 0, 0, { 0 } },
      IPV4,
      LOOKUP (MOAT_SET_PUBLISHED, MOAT_SRC_IP_DADDR, MOAT_SRC_L4PROTO, MOAT_SRC_TH_DPORT) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "to_container",
    "goto deny_dst",
    { { MOAT_TERM_END, 0, 0, { 0 } } },
    MOAT_ACT_GOTO,
    "deny_dst" },
  /* IPv6 only: neighbour discovery with the gateway is untracked (no
   * conntrack entry), and the bridge table has checked it already. */
  { NFPROTO_INET,
    "to_host6",
    "icmpv6 type nd-neighbor-solicit-nd-neighbor-advert accept",
    { IPV6,
      L4PROTO (IPPROTO_ICMPV6),
      { MOAT_TERM_ICMP_TYPE_RANGE, MOAT_ICMPV6_NS | MOAT_ICMPV6_NA << 8, 0, { 0 } } },
    MOAT_ACT_ACCEPT,
    NULL,
    true },
  { NFPROTO_INET,
    "to_host",
    "ct state established ct direction reply accept",
    { CT_STATE (MOAT_CT_ESTABLISHED), CT_REPLY },
    MOAT_ACT_ACCEPT,
    NULL },
  /* Related from a container: see from_container. */
  { NFPROTO_INET,
    "to_host",
    "ct state related ip saddr . ct original ip saddr @self accept",
    { CT_STATE (MOAT_CT_RELATED), IPV4,
      LOOKUP (MOAT_SET_SELF, MOAT_SRC_IP_SADDR, MOAT_SRC_CT_ORIGINAL_SADDR) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "to_host",
    "ct state related ip saddr . ct reply ip saddr @self accept",
    { CT_STATE (MOAT_CT_RELATED), IPV4,
      LOOKUP (MOAT_SET_SELF, MOAT_SRC_IP_SADDR, MOAT_SRC_CT_REPLY_SADDR) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "to_host",
    "ip saddr . meta l4proto . th dport @host_grants accept",
    { IPV4, LOOKUP (MOAT_SET_HOST_GRANTS, MOAT_SRC_IP_SADDR, MOAT_SRC_L4PROTO, MOAT_SRC_TH_DPORT) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "to_host",
    "ip saddr . meta l4proto . th dport @grant_host accept",
    { IPV4, LOOKUP (MOAT_SET_GRANT_HOST, MOAT_SRC_IP_SADDR, MOAT_SRC_L4PROTO, MOAT_SRC_TH_DPORT) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "to_host",
    "ip saddr . ip daddr . meta l4proto . th dport @proxied accept",
    { IPV4, LOOKUP (MOAT_SET_PROXIED, MOAT_SRC_IP_SADDR, MOAT_SRC_IP_DADDR, MOAT_SRC_L4PROTO,
                    MOAT_SRC_TH_DPORT) },
    MOAT_ACT_ACCEPT,
    NULL },
  /* Name resolution opens nothing else (docs/design.md, "Names"). */
  { NFPROTO_INET,
    "to_host",
    "iifname . ip daddr . meta l4proto . th dport @resolvers accept",
    { IPV4, LOOKUP (MOAT_SET_RESOLVERS, MOAT_SRC_IIFNAME, MOAT_SRC_IP_DADDR, MOAT_SRC_L4PROTO,
                    MOAT_SRC_TH_DPORT) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "to_host",
    "goto deny_src",
    { { MOAT_TERM_END, 0, 0, { 0 } } },
    MOAT_ACT_GOTO,
    "deny_src" },
  /* A refusal counted: the sender's, and the receiver's when it is a
   * container (docs/design.md, "Counters"). */
  { NFPROTO_INET,
    "deny_src",
    "ip saddr @refused_out",
    { IPV4, LOOKUP (MOAT_SET_REFUSED_OUT, MOAT_SRC_IP_SADDR) },
    MOAT_ACT_COUNT,
    NULL },
  { NFPROTO_INET,
    "deny_src",
    "ip daddr @refused_in",
    { IPV4, LOOKUP (MOAT_SET_REFUSED_IN, MOAT_SRC_IP_DADDR) },
    MOAT_ACT_COUNT,
    NULL },
  /* A refusal logged, at most MOAT_LOG_RATE a second per refused
   * container: a container not in `logged` pays this one lookup. */
  { NFPROTO_INET,
    "deny_src",
    "ip saddr @logged update @log_rate { ip saddr limit rate 10/second burst 20 packets }"
    " log group 6177",
    { IPV4, LOOKUP (MOAT_SET_LOGGED, MOAT_SRC_IP_SADDR), RATE (MOAT_SRC_IP_SADDR) },
    MOAT_ACT_LOG,
    NULL },
  { NFPROTO_INET,
    "deny_src",
    "ip saddr @quiet drop",
    { IPV4, LOOKUP (MOAT_SET_QUIET, MOAT_SRC_IP_SADDR) },
    MOAT_ACT_DROP,
    NULL },
  { NFPROTO_INET,
    "deny_src",
    "meta l4proto tcp reject with tcp reset",
    { L4PROTO (IPPROTO_TCP) },
    MOAT_ACT_REJECT_TCP_RESET,
    NULL },
  { NFPROTO_INET,
    "deny_src",
    "reject with icmpx admin-prohibited",
    { { MOAT_TERM_END, 0, 0, { 0 } } },
    MOAT_ACT_REJECT_ADMIN,
    NULL },
  { NFPROTO_INET,
    "deny_dst",
    "ip daddr @refused_in",
    { IPV4, LOOKUP (MOAT_SET_REFUSED_IN, MOAT_SRC_IP_DADDR) },
    MOAT_ACT_COUNT,
    NULL },
  /* A refusal logged, at most MOAT_LOG_RATE a second per refused
   * container: a container not in `logged` pays this one lookup. */
  { NFPROTO_INET,
    "deny_dst",
    "ip daddr @logged update @log_rate { ip daddr limit rate 10/second burst 20 packets }"
    " log group 6177",
    { IPV4, LOOKUP (MOAT_SET_LOGGED, MOAT_SRC_IP_DADDR), RATE (MOAT_SRC_IP_DADDR) },
    MOAT_ACT_LOG,
    NULL },
  { NFPROTO_INET,
    "deny_dst",
    "ip daddr @quiet drop",
    { IPV4, LOOKUP (MOAT_SET_QUIET, MOAT_SRC_IP_DADDR) },
    MOAT_ACT_DROP,
    NULL },
  { NFPROTO_INET,
    "deny_dst",
    "meta l4proto tcp reject with tcp reset",
    { L4PROTO (IPPROTO_TCP) },
    MOAT_ACT_REJECT_TCP_RESET,
    NULL },
  { NFPROTO_INET,
    "deny_dst",
    "reject with icmpx admin-prohibited",
    { { MOAT_TERM_END, 0, 0, { 0 } } },
    MOAT_ACT_REJECT_ADMIN,
    NULL },
  /* A container's outbound tcp to the proxied ports (not to its own
   * network) goes to its proxy instead. */
  { NFPROTO_INET,
    "proxy",
    "iifname . ip saddr @members iifname . ip daddr != @members meta l4proto tcp"
    " dnat ip to ip saddr . tcp dport map @proxy",
    { IPV4, LOOKUP (MOAT_SET_MEMBERS, MOAT_SRC_IIFNAME, MOAT_SRC_IP_SADDR),
      NOT_LOOKUP (MOAT_SET_MEMBERS, MOAT_SRC_IIFNAME, MOAT_SRC_IP_DADDR), L4PROTO (IPPROTO_TCP) },
    MOAT_ACT_PROXY_DNAT,
    NULL },
  /* Published ports: to one of the host's addresses (its own 127.0.0.1 in
   * publish_out), before the filter, so a container's hairpin through the
   * host meets the label policy as any flow between peers does. */
  { NFPROTO_INET,
    "proxy",
    "fib daddr type local meta l4proto tcp dnat ip to ip daddr . meta l4proto . th dport map "
    "@publish",
    { { MOAT_TERM_FIB_LOCAL, 0, 0, { 0 } }, L4PROTO (IPPROTO_TCP), IPV4 },
    MOAT_ACT_PUBLISH_DNAT,
    NULL },
  { NFPROTO_INET,
    "proxy",
    "fib daddr type local meta l4proto udp dnat ip to ip daddr . meta l4proto . th dport map "
    "@publish",
    { { MOAT_TERM_FIB_LOCAL, 0, 0, { 0 } }, L4PROTO (IPPROTO_UDP), IPV4 },
    MOAT_ACT_PUBLISH_DNAT,
    NULL },
  { NFPROTO_INET,
    "postrouting",
    "ip saddr @masq oifname . ip daddr != @members masquerade",
    { IPV4, LOOKUP (MOAT_SET_MASQ, MOAT_SRC_IP_SADDR),
      NOT_LOOKUP (MOAT_SET_MEMBERS, MOAT_SRC_OIFNAME, MOAT_SRC_IP_DADDR) },
    MOAT_ACT_MASQUERADE,
    NULL },
  /* The host's own connection from 127.0.0.1 to a published port leaves
   * by a bridge (route_localnet on it): the container answers the gateway. */
  { NFPROTO_INET,
    "postrouting",
    "ip saddr 127.0.0.0/8 oifname @bridges masquerade",
    { IPV4,
      { MOAT_TERM_SADDR_LOOPBACK, 0, 0, { 0 } },
      LOOKUP (MOAT_SET_BRIDGES, MOAT_SRC_OIFNAME) },
    MOAT_ACT_MASQUERADE,
    NULL },
  { NFPROTO_BRIDGE,
    "prerouting",
    "iifname @guarded jump from_port",
    { LOOKUP (MOAT_SET_GUARDED, MOAT_SRC_IIFNAME) },
    MOAT_ACT_JUMP,
    "from_port" },
  { NFPROTO_BRIDGE,
    "from_port",
    "ether type ip iifname . ether saddr . ip saddr @ports accept",
    { { MOAT_TERM_ETHER_TYPE, MOAT_ETHERTYPE_IPV4, 0, { 0 } },
      LOOKUP (MOAT_SET_PORTS, MOAT_SRC_IIFNAME, MOAT_SRC_ETHER_SADDR, MOAT_SRC_IP_SADDR) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_BRIDGE,
    "from_port",
    "ether type arp iifname . ether saddr . arp saddr ip @ports"
    " iifname . arp saddr ether . arp saddr ip @ports accept",
    { { MOAT_TERM_ETHER_TYPE, MOAT_ETHERTYPE_ARP, 0, { 0 } },
      LOOKUP (MOAT_SET_PORTS, MOAT_SRC_IIFNAME, MOAT_SRC_ETHER_SADDR, MOAT_SRC_ARP_SPA),
      LOOKUP (MOAT_SET_PORTS, MOAT_SRC_IIFNAME, MOAT_SRC_ARP_SHA, MOAT_SRC_ARP_SPA) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_BRIDGE, "from_port", "drop", { { MOAT_TERM_END, 0, 0, { 0 } } }, MOAT_ACT_DROP, NULL },
  /* IPv6 from a port (the IPv6 half): checked in from_port6, which ends in
   * a verdict; made at the chain's head, before from_port's jump. */
  { NFPROTO_BRIDGE,
    "prerouting",
    "ether type ip6 iifname @guarded jump from_port6",
    { ETHER_TYPE (MOAT_ETHERTYPE_IPV6), LOOKUP (MOAT_SET_GUARDED, MOAT_SRC_IIFNAME) },
    MOAT_ACT_JUMP,
    "from_port6",
    true,
    true },
  /* The container's own MAC with its own global or link-local address. */
  { NFPROTO_BRIDGE,
    "from_port6",
    "iifname . ether saddr . ip6 saddr != @ports6 drop",
    { NOT_LOOKUP (MOAT_SET_PORTS6, MOAT_SRC_IIFNAME, MOAT_SRC_ETHER_SADDR, MOAT_SRC_IP6_SADDR) },
    MOAT_ACT_DROP,
    NULL,
    true },
  /* Neighbour discovery, MLD, RA and DHCPv6 are never fragmented (RFC
   * 6980), and the checks below read a header that only a first fragment
   * may carry: a fragment to a link-local or multicast address could take
   * any of them past. Fragments to global addresses (a peer's, routed)
   * stay the forward chain's to judge. */
  { NFPROTO_BRIDGE,
    "from_port6",
    "exthdr frag exists ip6 daddr fe80::/10 drop",
    { { MOAT_TERM_EXTHDR_FRAG, 0, 0, { 0 } }, { MOAT_TERM_DADDR6_LINK, 0, 0, { 0 } } },
    MOAT_ACT_DROP,
    NULL,
    true },
  { NFPROTO_BRIDGE,
    "from_port6",
    "exthdr frag exists ip6 daddr ff00::/8 drop",
    { { MOAT_TERM_EXTHDR_FRAG, 0, 0, { 0 } }, { MOAT_TERM_DADDR6_MCAST, 0, 0, { 0 } } },
    MOAT_ACT_DROP,
    NULL,
    true },
  /* A container is no router and no multicast listener: MLD query, report
   * and done (a rogue querier starves its peers' neighbour discovery), RS,
   * RA, redirect, MLDv2 report. */
  { NFPROTO_BRIDGE,
    "from_port6",
    "meta l4proto ipv6-icmp icmpv6 type mld-listener-query-nd-router-advert drop",
    { L4PROTO (IPPROTO_ICMPV6),
      { MOAT_TERM_ICMP_TYPE_RANGE, MOAT_ICMPV6_MLD_QUERY | MOAT_ICMPV6_RA << 8, 0, { 0 } } },
    MOAT_ACT_DROP,
    NULL,
    true },
  { NFPROTO_BRIDGE,
    "from_port6",
    "meta l4proto ipv6-icmp icmpv6 type nd-redirect drop",
    { L4PROTO (IPPROTO_ICMPV6), { MOAT_TERM_ICMP_TYPE, MOAT_ICMPV6_REDIRECT, 0, { 0 } } },
    MOAT_ACT_DROP,
    NULL,
    true },
  { NFPROTO_BRIDGE,
    "from_port6",
    "meta l4proto ipv6-icmp icmpv6 type mld2-listener-report drop",
    { L4PROTO (IPPROTO_ICMPV6), { MOAT_TERM_ICMP_TYPE, MOAT_ICMPV6_MLD2_REPORT, 0, { 0 } } },
    MOAT_ACT_DROP,
    NULL,
    true },
  /* A neighbour advertisement only for its own addresses (else one NA
   * takes a peer's address in the host's neighbour cache). */
  { NFPROTO_BRIDGE,
    "from_port6",
    "meta l4proto ipv6-icmp icmpv6 type nd-neighbor-advert"
    " iifname . ether saddr . @th,64,128 != @ports6 drop",
    { L4PROTO (IPPROTO_ICMPV6),
      { MOAT_TERM_ICMP_TYPE, MOAT_ICMPV6_NA, 0, { 0 } },
      NOT_LOOKUP (MOAT_SET_PORTS6, MOAT_SRC_IIFNAME, MOAT_SRC_ETHER_SADDR, MOAT_SRC_ND_TARGET) },
    MOAT_ACT_DROP,
    NULL,
    true },
  /* The link-layer option the kernel reads is the first of its type: an
   * option, if any, comes first and is the one it should be (no option:
   * the load fails, the rule does not match) ... */
  { NFPROTO_BRIDGE,
    "from_port6",
    "meta l4proto ipv6-icmp icmpv6 type nd-neighbor-solicit @th,192,16 != 0x0101 drop",
    { L4PROTO (IPPROTO_ICMPV6),
      { MOAT_TERM_ICMP_TYPE, MOAT_ICMPV6_NS, 0, { 0 } },
      { MOAT_TERM_ND_OPTION, MOAT_ND_OPT_SLLAO, 0, { 0 } } },
    MOAT_ACT_DROP,
    NULL,
    true },
  { NFPROTO_BRIDGE,
    "from_port6",
    "meta l4proto ipv6-icmp icmpv6 type nd-neighbor-advert @th,192,16 != 0x0201 drop",
    { L4PROTO (IPPROTO_ICMPV6),
      { MOAT_TERM_ICMP_TYPE, MOAT_ICMPV6_NA, 0, { 0 } },
      { MOAT_TERM_ND_OPTION, MOAT_ND_OPT_TLLAO, 0, { 0 } } },
    MOAT_ACT_DROP,
    NULL,
    true },
  /* ... and names the container's own MAC. */
  { NFPROTO_BRIDGE,
    "from_port6",
    "meta l4proto ipv6-icmp icmpv6 type nd-neighbor-solicit-nd-neighbor-advert"
    " iifname . @th,208,48 . ip6 saddr != @ports6 drop",
    { L4PROTO (IPPROTO_ICMPV6),
      { MOAT_TERM_ICMP_TYPE_RANGE, MOAT_ICMPV6_NS | MOAT_ICMPV6_NA << 8, 0, { 0 } },
      NOT_LOOKUP (MOAT_SET_PORTS6, MOAT_SRC_IIFNAME, MOAT_SRC_ND_LLADDR, MOAT_SRC_IP6_SADDR) },
    MOAT_ACT_DROP,
    NULL,
    true },
  /* No DHCPv6 server. */
  { NFPROTO_BRIDGE,
    "from_port6",
    "meta l4proto udp th sport 547 drop",
    { L4PROTO (IPPROTO_UDP), { MOAT_TERM_TH_SPORT, MOAT_DHCPV6_SERVER_PORT, 0, { 0 } } },
    MOAT_ACT_DROP,
    NULL,
    true },
  { NFPROTO_BRIDGE,
    "from_port6",
    "accept",
    { { MOAT_TERM_END, 0, 0, { 0 } } },
    MOAT_ACT_ACCEPT,
    NULL,
    true },
  { NFPROTO_INET,
    "publish_out",
    "fib daddr type local meta l4proto tcp dnat ip to ip daddr . meta l4proto . th dport map "
    "@publish",
    { { MOAT_TERM_FIB_LOCAL, 0, 0, { 0 } }, L4PROTO (IPPROTO_TCP), IPV4 },
    MOAT_ACT_PUBLISH_DNAT,
    NULL },
  { NFPROTO_INET,
    "publish_out",
    "fib daddr type local meta l4proto udp dnat ip to ip daddr . meta l4proto . th dport map "
    "@publish",
    { { MOAT_TERM_FIB_LOCAL, 0, 0, { 0 } }, L4PROTO (IPPROTO_UDP), IPV4 },
    MOAT_ACT_PUBLISH_DNAT,
    NULL },
  /* What the filter let through, counted (docs/design.md, "Counters"):
   * forwarded from and to a container, and from one to the host. */
  { NFPROTO_INET,
    "count_forward",
    "ip saddr @allowed_out",
    { IPV4, LOOKUP (MOAT_SET_ALLOWED_OUT, MOAT_SRC_IP_SADDR) },
    MOAT_ACT_COUNT,
    NULL },
  { NFPROTO_INET,
    "count_forward",
    "ip daddr @allowed_in",
    { IPV4, LOOKUP (MOAT_SET_ALLOWED_IN, MOAT_SRC_IP_DADDR) },
    MOAT_ACT_COUNT,
    NULL },
  { NFPROTO_INET,
    "count_input",
    "ip saddr @allowed_out",
    { IPV4, LOOKUP (MOAT_SET_ALLOWED_OUT, MOAT_SRC_IP_SADDR) },
    MOAT_ACT_COUNT,
    NULL },
  /* Host-network containers (docs/design.md, "Host-network containers"):
   * a socket in a member cgroup, sending or (nft looks the destination
   * socket up itself) receiving. Packets without a local socket
   * (forwarded, the kernel's own) pass as before. */
  { NFPROTO_INET,
    "hostnet_output",
    "socket cgroupv2 level 2 @hostnet goto hostnet_out",
    { LOOKUP (MOAT_SET_HOSTNET, MOAT_SRC_SOCKET_CGROUP) },
    MOAT_ACT_GOTO,
    "hostnet_out" },
  { NFPROTO_INET,
    "hostnet_input",
    "socket cgroupv2 level 2 @hostnet goto hostnet_in",
    { LOOKUP (MOAT_SET_HOSTNET, MOAT_SRC_SOCKET_CGROUP) },
    MOAT_ACT_GOTO,
    "hostnet_in" },
  /* The IPv6 half: a member group's IPv6 to the twins, made at the head,
   * before the rules above. Without the IPv6 half its IPv6 meets
   * hostnet_out and hostnet_in, which refuse it (fails closed). */
  { NFPROTO_INET,
    "hostnet_output",
    "meta nfproto ipv6 socket cgroupv2 level 2 @hostnet goto hostnet_out6",
    { IPV6, LOOKUP (MOAT_SET_HOSTNET, MOAT_SRC_SOCKET_CGROUP) },
    MOAT_ACT_GOTO,
    "hostnet_out6",
    true,
    true },
  { NFPROTO_INET,
    "hostnet_input",
    "meta nfproto ipv6 socket cgroupv2 level 2 @hostnet goto hostnet_in6",
    { IPV6, LOOKUP (MOAT_SET_HOSTNET, MOAT_SRC_SOCKET_CGROUP) },
    MOAT_ACT_GOTO,
    "hostnet_in6",
    true,
    true },
  { NFPROTO_INET,
    "hostnet_out",
    "ct state established,related accept",
    { CT_STATE (MOAT_CT_ESTABLISHED | MOAT_CT_RELATED) },
    MOAT_ACT_ACCEPT,
    NULL },
  /* The host's own addresses: the container shares the host's stack. */
  { NFPROTO_INET,
    "hostnet_out",
    "oifname lo accept",
    { { MOAT_TERM_OIF_LO, 0, 0, { 0 } } },
    MOAT_ACT_ACCEPT,
    NULL },
  /* Moat peers its labels reach: the identity's chain, as for a container
   * (it returns here when the destination is none of them). */
  { NFPROTO_INET,
    "hostnet_out",
    "socket cgroupv2 level 2 vmap @hostnet_ident",
    { { MOAT_TERM_END, 0, 0, { 0 } } },
    MOAT_ACT_CGROUP_IDENT,
    NULL },
  { NFPROTO_INET,
    "hostnet_out",
    "socket cgroupv2 level 2 . ip daddr . meta l4proto . th dport @hostnet_egress accept",
    { IPV4, LOOKUP (MOAT_SET_HOSTNET_EGRESS, MOAT_SRC_SOCKET_CGROUP, MOAT_SRC_IP_DADDR,
                    MOAT_SRC_L4PROTO, MOAT_SRC_TH_DPORT) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "hostnet_out",
    "meta l4proto tcp reject with tcp reset",
    { L4PROTO (IPPROTO_TCP) },
    MOAT_ACT_REJECT_TCP_RESET,
    NULL },
  { NFPROTO_INET,
    "hostnet_out",
    "reject with icmpx admin-prohibited",
    { { MOAT_TERM_END, 0, 0, { 0 } } },
    MOAT_ACT_REJECT_ADMIN,
    NULL },
  { NFPROTO_INET,
    "hostnet_in",
    "ct state established,related accept",
    { CT_STATE (MOAT_CT_ESTABLISHED | MOAT_CT_RELATED) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "hostnet_in",
    "iifname lo accept",
    { { MOAT_TERM_IIF_LO, 0, 0, { 0 } } },
    MOAT_ACT_ACCEPT,
    NULL },
  /* Moat containers whose labels reach it (through their own allow-host
   * first, in to_host), from the bridge their address is on: the same
   * source forged from outside is no peer. */
  { NFPROTO_INET,
    "hostnet_in",
    "iifname . ip saddr @members ip saddr . socket cgroupv2 level 2 @hostnet_peers accept",
    { IPV4, LOOKUP (MOAT_SET_MEMBERS, MOAT_SRC_IIFNAME, MOAT_SRC_IP_SADDR),
      LOOKUP (MOAT_SET_HOSTNET_PEERS, MOAT_SRC_IP_SADDR, MOAT_SRC_SOCKET_CGROUP) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "hostnet_in",
    "ip saddr . socket cgroupv2 level 2 . meta l4proto . th dport @hostnet_ingress accept",
    { IPV4, LOOKUP (MOAT_SET_HOSTNET_INGRESS, MOAT_SRC_IP_SADDR, MOAT_SRC_SOCKET_CGROUP,
                    MOAT_SRC_L4PROTO, MOAT_SRC_TH_DPORT) },
    MOAT_ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "hostnet_in",
    "meta l4proto tcp reject with tcp reset",
    { L4PROTO (IPPROTO_TCP) },
    MOAT_ACT_REJECT_TCP_RESET,
    NULL },
  { NFPROTO_INET,
    "hostnet_in",
    "reject with icmpx admin-prohibited",
    { { MOAT_TERM_END, 0, 0, { 0 } } },
    MOAT_ACT_REJECT_ADMIN,
    NULL },
};
#pragma GCC diagnostic pop
const size_t moat_rule_defs_count = ARRAY_SIZE (moat_rule_defs);

const struct moat_set_def moat_ident_set_def
    = { NFPROTO_INET, "id_", 0, 1, { MOAT_FIELD_IPV4 }, 0, { 0 }, false, 0, false, false };
const struct moat_set_def moat_ident_set6_def
    = { NFPROTO_INET, "id_", 0, 1, { MOAT_FIELD_IPV6 }, 0, { 0 }, false, 0, true, false };

const struct moat_chain_def moat_ident_chain_def = { NFPROTO_INET, "id_", NULL, 0, 0, NULL, false };

const struct moat_rule_def moat_ident_rule_def
    = { NFPROTO_INET,
        "id_",
        "ip daddr @id_<identity> accept",
        { IPV4, LOOKUP (MOAT_SET_IDENT, MOAT_SRC_IP_DADDR) },
        MOAT_ACT_ACCEPT,
        NULL,
        false,
        false };
const struct moat_rule_def moat_ident_rule6_def
    = { NFPROTO_INET,
        "id_",
        "ip6 daddr @id_<identity>6 accept",
        { IPV6, LOOKUP (MOAT_SET_IDENT6, MOAT_SRC_IP6_DADDR) },
        MOAT_ACT_ACCEPT,
        NULL,
        true,
        false };

const char *
moat_family_name (uint32_t family)
{
  switch (family)
    {
    case NFPROTO_INET:
      return "inet";
    case NFPROTO_BRIDGE:
      return "bridge";
    default:
      return "?";
    }
}

uint32_t
moat_field_padded (uint32_t len)
{
  return (len + 3) & ~3u;
}

uint32_t
moat_set_key_len (const struct moat_set_def *s)
{
  uint32_t len = 0;

  for (unsigned i = 0; i < s->nfields; i++)
    len += moat_field_padded (moat_field_infos[s->fields[i]].len);
  return len;
}

uint32_t
moat_fields_len (const enum moat_field *fields, unsigned n)
{
  uint32_t len = 0;

  for (unsigned i = 0; i < n; i++)
    len += moat_field_padded (moat_field_infos[fields[i]].len);
  return len;
}

uint32_t
moat_fields_type (const enum moat_field *fields, unsigned n)
{
  uint32_t type = 0;

  for (unsigned i = 0; i < n; i++)
    type = (type << NFT_TYPE_BITS) | moat_field_infos[fields[i]].nft_type;
  return type;
}

uint32_t
moat_set_key_type (const struct moat_set_def *s)
{
  return moat_fields_type (s->fields, s->nfields);
}

const struct moat_set_def *
moat_set_def_find (uint32_t family, const char *name)
{
  for (size_t i = 0; i < MOAT_SET_COUNT; i++)
    if (moat_set_defs[i].family == family && strcmp (moat_set_defs[i].name, name) == 0)
      return &moat_set_defs[i];
  return NULL;
}

const struct moat_set_def *
moat_set_def_of (enum moat_set set)
{
  if (set == MOAT_SET_IDENT6)
    return &moat_ident_set6_def;
  return set == MOAT_SET_IDENT ? &moat_ident_set_def : &moat_set_defs[set];
}

int
moat_ident_object_name (char *buf, size_t size, const char *ident)
{
  size_t len = strlen (ident);

  if (len == 0 || len > MOAT_NFT_IDENT_MAX || strspn (ident, "0123456789abcdef_") != len)
    return -1;
  snprintf (buf, size, "id_%s", ident);
  return 0;
}
