/* SPDX-License-Identifier: Apache-2.0 */
#include "ruleset/ruleset.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/types.h"

/* nft's datatype ids (nftables include/datatype.h, enum datatypes). `nft
 * list` names a set's type from NFTA_SET_KEY_TYPE, in which a concatenation
 * packs one id per field, NFT_TYPE_BITS each, the first field highest. */
enum
{
  NFT_TYPE_IPADDR = 7,
  NFT_TYPE_ETHERADDR = 9,
  NFT_TYPE_INET_PROTOCOL = 12,
  NFT_TYPE_INET_SERVICE = 13,
  NFT_TYPE_IFNAME = 41,
  NFT_TYPE_BITS = 6,
};

const struct field_info field_infos[] = {
  [FT_IFNAME] = { NFT_TYPE_IFNAME, IFNAMSIZ, NFT_BYTEORDER_HOST },
  [FT_IPV4] = { NFT_TYPE_IPADDR, 4, NFT_BYTEORDER_BIG },
  [FT_ETHER] = { NFT_TYPE_ETHERADDR, MOAT_MAC_LEN, NFT_BYTEORDER_BIG },
  [FT_PROTO] = { NFT_TYPE_INET_PROTOCOL, 1, NFT_BYTEORDER_BIG },
  [FT_PORT] = { NFT_TYPE_INET_SERVICE, 2, NFT_BYTEORDER_BIG },
};

/* Interval concatenations need NFT_SET_CONCAT and a field description so
 * the kernel picks the pipapo backend; nft sets both only there. */
#define RANGE_FLAGS (NFT_SET_INTERVAL | NFT_SET_TIMEOUT | NFT_SET_CONCAT)

const struct set_def set_defs[SET_COUNT] = {
  [SET_MEMBERS]
  = { .family = NFPROTO_INET, .name = "members", .nfields = 2, .fields = { FT_IFNAME, FT_IPV4 } },
  [SET_QUIET] = { .family = NFPROTO_INET, .name = "quiet", .nfields = 1, .fields = { FT_IPV4 } },
  [SET_INTERNET]
  = { .family = NFPROTO_INET, .name = "internet", .nfields = 1, .fields = { FT_IPV4 } },
  [SET_MASQ] = { .family = NFPROTO_INET, .name = "masq", .nfields = 1, .fields = { FT_IPV4 } },
  [SET_GRANT_PEER] = { .family = NFPROTO_INET,
                       .name = "grant_peer",
                       .flags = NFT_SET_TIMEOUT,
                       .nfields = 2,
                       .fields = { FT_IPV4, FT_IPV4 } },
  [SET_GRANT_HOST] = { .family = NFPROTO_INET,
                       .name = "grant_host",
                       .flags = RANGE_FLAGS,
                       .nfields = 3,
                       .fields = { FT_IPV4, FT_PROTO, FT_PORT } },
  [SET_GRANT_EGRESS] = { .family = NFPROTO_INET,
                         .name = "grant_egress",
                         .flags = RANGE_FLAGS,
                         .nfields = 4,
                         .fields = { FT_IPV4, FT_IPV4, FT_PROTO, FT_PORT } },
  [SET_HOST_GRANTS] = { .family = NFPROTO_INET,
                        .name = "host_grants",
                        .flags = RANGE_FLAGS,
                        .nfields = 3,
                        .fields = { FT_IPV4, FT_PROTO, FT_PORT } },
  [SET_EGRESS] = { .family = NFPROTO_INET,
                   .name = "egress",
                   .flags = RANGE_FLAGS,
                   .nfields = 4,
                   .fields = { FT_IPV4, FT_IPV4, FT_PROTO, FT_PORT } },
  [SET_INGRESS] = { .family = NFPROTO_INET,
                    .name = "ingress",
                    .flags = RANGE_FLAGS,
                    .nfields = 4,
                    .fields = { FT_IPV4, FT_IPV4, FT_PROTO, FT_PORT } },
  [SET_EGRESS_DENY] = { .family = NFPROTO_INET,
                        .name = "egress_deny",
                        .flags = RANGE_FLAGS,
                        .nfields = 4,
                        .fields = { FT_IPV4, FT_IPV4, FT_PROTO, FT_PORT } },
  [SET_INGRESS_DENY] = { .family = NFPROTO_INET,
                         .name = "ingress_deny",
                         .flags = RANGE_FLAGS,
                         .nfields = 4,
                         .fields = { FT_IPV4, FT_IPV4, FT_PROTO, FT_PORT } },
  [SET_PROXIED] = { .family = NFPROTO_INET,
                    .name = "proxied",
                    .nfields = 4,
                    .fields = { FT_IPV4, FT_IPV4, FT_PROTO, FT_PORT } },
  [SET_PROXY] = { .family = NFPROTO_INET,
                  .name = "proxy",
                  .flags = NFT_SET_MAP,
                  .nfields = 2,
                  .fields = { FT_IPV4, FT_PORT },
                  .ndata = 2,
                  .data = { FT_IPV4, FT_PORT } },
  [SET_SRC_IDENT] = { .family = NFPROTO_INET,
                      .name = "src_ident",
                      .flags = NFT_SET_MAP,
                      .nfields = 1,
                      .fields = { FT_IPV4 },
                      .verdict = true },
  [SET_BRIDGES]
  = { .family = NFPROTO_INET, .name = "bridges", .nfields = 1, .fields = { FT_IFNAME } },
  /* Each container's address twice: lets a rule ask whether a packet's
   * source is an endpoint of its conntrack entry. */
  [SET_SELF]
  = { .family = NFPROTO_INET, .name = "self", .nfields = 2, .fields = { FT_IPV4, FT_IPV4 } },
  /* The bridge table's `guarded`, for the inet hooks: see chain raw. */
  [SET_PORT_NAMES]
  = { .family = NFPROTO_INET, .name = "guarded", .nfields = 1, .fields = { FT_IFNAME } },
  [SET_GUARDED]
  = { .family = NFPROTO_BRIDGE, .name = "guarded", .nfields = 1, .fields = { FT_IFNAME } },
  [SET_PORTS] = { .family = NFPROTO_BRIDGE,
                  .name = "ports",
                  .nfields = 3,
                  .fields = { FT_IFNAME, FT_ETHER, FT_IPV4 } },
};

const struct chain_def chain_defs[] = {
  { NFPROTO_INET, "raw", "filter", NF_INET_PRE_ROUTING, -300 }, /* raw: before conntrack */
  { NFPROTO_INET, "prerouting", "filter", NF_INET_PRE_ROUTING, 0 },
  { NFPROTO_INET, "forward", "filter", NF_INET_FORWARD, 0 },
  { NFPROTO_INET, "input", "filter", NF_INET_LOCAL_IN, 0 },
  { NFPROTO_INET, "output", "filter", NF_INET_LOCAL_OUT, 0 },
  { NFPROTO_INET, "from_container", NULL, 0, 0 },
  { NFPROTO_INET, "to_peer", NULL, 0, 0 },
  { NFPROTO_INET, "same_bridge", NULL, 0, 0 },
  { NFPROTO_INET, "to_container", NULL, 0, 0 },
  { NFPROTO_INET, "to_host", NULL, 0, 0 },
  { NFPROTO_INET, "deny_src", NULL, 0, 0 },
  { NFPROTO_INET, "deny_dst", NULL, 0, 0 },
  { NFPROTO_INET, "proxy", "nat", NF_INET_PRE_ROUTING, -100 },       /* dstnat */
  { NFPROTO_INET, "postrouting", "nat", NF_INET_POST_ROUTING, 100 }, /* srcnat */
  { NFPROTO_BRIDGE, "prerouting", "filter", 0 /* NF_BR_PRE_ROUTING */, -200 },
  { NFPROTO_BRIDGE, "from_port", NULL, 0, 0 },
};
const size_t chain_defs_count = ARRAY_SIZE (chain_defs);

#define IPV4                                                                                       \
  {                                                                                                \
    TERM_IPV4, 0, 0, { 0 }                                                                         \
  }
#define L4PROTO(p)                                                                                 \
  {                                                                                                \
    TERM_L4PROTO, (p), 0, { 0 }                                                                    \
  }
#define CT_STATE(bits)                                                                             \
  {                                                                                                \
    TERM_CT_STATE, (bits), 0, { 0 }                                                                \
  }
#define LOOKUP(set, ...)                                                                           \
  {                                                                                                \
    TERM_LOOKUP, 0, (set), { __VA_ARGS__ }                                                         \
  }
#define NOT_LOOKUP(set, ...)                                                                       \
  {                                                                                                \
    TERM_NOT_LOOKUP, 0, (set), { __VA_ARGS__ }                                                     \
  }

#define CT_REPLY                                                                                   \
  {                                                                                                \
    TERM_CT_REPLY, 0, 0, { 0 }                                                                     \
  }

const struct rule_def rule_defs[] = {
  /* A frame the bridge hands up on a port itself (a reserved group MAC,
   * 01:80:c2:00:00:0X, skips the bridge's prerouting hook) meets the IP
   * stack with the port as its input interface: nothing may arrive so. */
  { NFPROTO_INET,
    "raw",
    "iifname @guarded drop",
    { LOOKUP (SET_PORT_NAMES, SRC_IIFNAME) },
    ACT_DROP,
    NULL },
  /* What same_bridge would say first, said before the two members lookups:
   * the replies of an established flow skip both. */
  { NFPROTO_INET,
    "prerouting",
    "ct state established ct direction reply accept",
    { CT_STATE (CT_ESTABLISHED), CT_REPLY },
    ACT_ACCEPT,
    NULL },
  /* Between two containers of one bridge the kernel sends an ICMP redirect
   * before the forward hook, spending the ICMP rate-limit allowance our
   * reject then needs: decide those flows before routing. */
  { NFPROTO_INET,
    "prerouting",
    "iifname . ip saddr @members iifname . ip daddr @members jump same_bridge",
    { IPV4, LOOKUP (SET_MEMBERS, SRC_IIFNAME, SRC_IP_SADDR),
      LOOKUP (SET_MEMBERS, SRC_IIFNAME, SRC_IP_DADDR) },
    ACT_JUMP,
    "same_bridge" },
  { NFPROTO_INET,
    "forward",
    "iifname . ip saddr @members jump from_container",
    { IPV4, LOOKUP (SET_MEMBERS, SRC_IIFNAME, SRC_IP_SADDR) },
    ACT_JUMP,
    "from_container" },
  /* Fail closed: IPv4 from a moat bridge whose source is no member (a
   * container being removed, a port moat does not know) goes nowhere. */
  { NFPROTO_INET,
    "forward",
    "meta nfproto ipv4 iifname @bridges drop",
    { IPV4, LOOKUP (SET_BRIDGES, SRC_IIFNAME) },
    ACT_DROP,
    NULL },
  { NFPROTO_INET,
    "forward",
    "oifname . ip daddr @members jump to_container",
    { IPV4, LOOKUP (SET_MEMBERS, SRC_OIFNAME, SRC_IP_DADDR) },
    ACT_JUMP,
    "to_container" },
  { NFPROTO_INET,
    "input",
    "iifname . ip saddr @members jump to_host",
    { IPV4, LOOKUP (SET_MEMBERS, SRC_IIFNAME, SRC_IP_SADDR) },
    ACT_JUMP,
    "to_host" },
  { NFPROTO_INET,
    "input",
    "meta nfproto ipv4 iifname @bridges drop",
    { IPV4, LOOKUP (SET_BRIDGES, SRC_IIFNAME) },
    ACT_DROP,
    NULL },
  { NFPROTO_INET,
    "output",
    "icmp type redirect oifname . ip daddr @members drop",
    { IPV4,
      L4PROTO (IPPROTO_ICMP),
      { TERM_ICMP_TYPE, ICMP_TYPE_REDIRECT, 0, { 0 } },
      LOOKUP (SET_MEMBERS, SRC_OIFNAME, SRC_IP_DADDR) },
    ACT_DROP,
    NULL },
  { NFPROTO_INET,
    "from_container",
    "ct state established ct direction reply accept",
    { CT_STATE (CT_ESTABLISHED), CT_REPLY },
    ACT_ACCEPT,
    NULL },
  /* Related traffic (ICMP errors) from a container passes only when the
   * container is an endpoint of the flow it belongs to: conntrack checks
   * where an ICMP error goes, not who sends it, so any container could
   * otherwise inject errors (and their payload) into another's flows. */
  { NFPROTO_INET,
    "from_container",
    "ct state related ip saddr . ct original ip saddr @self accept",
    { CT_STATE (CT_RELATED), IPV4, LOOKUP (SET_SELF, SRC_IP_SADDR, SRC_CT_ORIGINAL_SADDR) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "from_container",
    "ct state related ip saddr . ct reply ip saddr @self accept",
    { CT_STATE (CT_RELATED), IPV4, LOOKUP (SET_SELF, SRC_IP_SADDR, SRC_CT_REPLY_SADDR) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "from_container",
    "ct state invalid drop",
    { CT_STATE (CT_INVALID) },
    ACT_DROP,
    NULL },
  /* Between two containers of one bridge, same_bridge has judged the
   * packet before routing, and only what it accepted comes here. */
  { NFPROTO_INET,
    "from_container",
    "iifname . ip daddr @members accept",
    { IPV4, LOOKUP (SET_MEMBERS, SRC_IIFNAME, SRC_IP_DADDR) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "from_container",
    "oifname . ip daddr @members goto to_peer",
    { IPV4, LOOKUP (SET_MEMBERS, SRC_OIFNAME, SRC_IP_DADDR) },
    ACT_GOTO,
    "to_peer" },
  /* A proxy that is another container is a peer like any other: only
   * what its policy consents to (to_peer) reaches it. */
  { NFPROTO_INET,
    "from_container",
    "ip saddr . ip daddr . meta l4proto . th dport @proxied accept",
    { IPV4, LOOKUP (SET_PROXIED, SRC_IP_SADDR, SRC_IP_DADDR, SRC_L4PROTO, SRC_TH_DPORT) },
    ACT_ACCEPT,
    NULL },
  /* moatctl's grants open what they name, whatever the policy says. */
  { NFPROTO_INET,
    "from_container",
    "ip saddr . ip daddr . meta l4proto . th dport @grant_egress accept",
    { IPV4, LOOKUP (SET_GRANT_EGRESS, SRC_IP_SADDR, SRC_IP_DADDR, SRC_L4PROTO, SRC_TH_DPORT) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "from_container",
    "ip saddr . ip daddr . meta l4proto . th dport @egress_deny goto deny_src",
    { IPV4, LOOKUP (SET_EGRESS_DENY, SRC_IP_SADDR, SRC_IP_DADDR, SRC_L4PROTO, SRC_TH_DPORT) },
    ACT_GOTO,
    "deny_src" },
  { NFPROTO_INET,
    "from_container",
    "ip saddr @internet accept",
    { IPV4, LOOKUP (SET_INTERNET, SRC_IP_SADDR) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "from_container",
    "ip saddr . ip daddr . meta l4proto . th dport @egress accept",
    { IPV4, LOOKUP (SET_EGRESS, SRC_IP_SADDR, SRC_IP_DADDR, SRC_L4PROTO, SRC_TH_DPORT) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "from_container",
    "goto deny_src",
    { { TERM_END, 0, 0, { 0 } } },
    ACT_GOTO,
    "deny_src" },
  { NFPROTO_INET,
    "to_peer",
    "ip saddr . ip daddr @grant_peer accept",
    { IPV4, LOOKUP (SET_GRANT_PEER, SRC_IP_SADDR, SRC_IP_DADDR) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET, "to_peer", "ip saddr vmap @src_ident", { IPV4 }, ACT_SRC_IDENT, NULL },
  { NFPROTO_INET, "to_peer", "goto deny_src", { { TERM_END, 0, 0, { 0 } } }, ACT_GOTO, "deny_src" },
  { NFPROTO_INET,
    "same_bridge",
    "ct state established ct direction reply accept",
    { CT_STATE (CT_ESTABLISHED), CT_REPLY },
    ACT_ACCEPT,
    NULL },
  /* Related from a container: see from_container. */
  { NFPROTO_INET,
    "same_bridge",
    "ct state related ip saddr . ct original ip saddr @self accept",
    { CT_STATE (CT_RELATED), IPV4, LOOKUP (SET_SELF, SRC_IP_SADDR, SRC_CT_ORIGINAL_SADDR) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "same_bridge",
    "ct state related ip saddr . ct reply ip saddr @self accept",
    { CT_STATE (CT_RELATED), IPV4, LOOKUP (SET_SELF, SRC_IP_SADDR, SRC_CT_REPLY_SADDR) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "same_bridge",
    "ip saddr . ip daddr @grant_peer accept",
    { IPV4, LOOKUP (SET_GRANT_PEER, SRC_IP_SADDR, SRC_IP_DADDR) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET, "same_bridge", "ip saddr vmap @src_ident", { IPV4 }, ACT_SRC_IDENT, NULL },
  { NFPROTO_INET,
    "same_bridge",
    "goto deny_src",
    { { TERM_END, 0, 0, { 0 } } },
    ACT_GOTO,
    "deny_src" },
  { NFPROTO_INET,
    "to_container",
    "ct state established ct direction reply accept",
    { CT_STATE (CT_ESTABLISHED), CT_REPLY },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "to_container",
    "ct state related accept",
    { CT_STATE (CT_RELATED) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "to_container",
    "ip saddr . ip daddr . meta l4proto . th dport @ingress_deny goto deny_dst",
    { IPV4, LOOKUP (SET_INGRESS_DENY, SRC_IP_SADDR, SRC_IP_DADDR, SRC_L4PROTO, SRC_TH_DPORT) },
    ACT_GOTO,
    "deny_dst" },
  { NFPROTO_INET,
    "to_container",
    "ip saddr . ip daddr . meta l4proto . th dport @ingress accept",
    { IPV4, LOOKUP (SET_INGRESS, SRC_IP_SADDR, SRC_IP_DADDR, SRC_L4PROTO, SRC_TH_DPORT) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "to_container",
    "goto deny_dst",
    { { TERM_END, 0, 0, { 0 } } },
    ACT_GOTO,
    "deny_dst" },
  { NFPROTO_INET,
    "to_host",
    "ct state established ct direction reply accept",
    { CT_STATE (CT_ESTABLISHED), CT_REPLY },
    ACT_ACCEPT,
    NULL },
  /* Related from a container: see from_container. */
  { NFPROTO_INET,
    "to_host",
    "ct state related ip saddr . ct original ip saddr @self accept",
    { CT_STATE (CT_RELATED), IPV4, LOOKUP (SET_SELF, SRC_IP_SADDR, SRC_CT_ORIGINAL_SADDR) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "to_host",
    "ct state related ip saddr . ct reply ip saddr @self accept",
    { CT_STATE (CT_RELATED), IPV4, LOOKUP (SET_SELF, SRC_IP_SADDR, SRC_CT_REPLY_SADDR) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "to_host",
    "ip saddr . meta l4proto . th dport @host_grants accept",
    { IPV4, LOOKUP (SET_HOST_GRANTS, SRC_IP_SADDR, SRC_L4PROTO, SRC_TH_DPORT) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "to_host",
    "ip saddr . meta l4proto . th dport @grant_host accept",
    { IPV4, LOOKUP (SET_GRANT_HOST, SRC_IP_SADDR, SRC_L4PROTO, SRC_TH_DPORT) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET,
    "to_host",
    "ip saddr . ip daddr . meta l4proto . th dport @proxied accept",
    { IPV4, LOOKUP (SET_PROXIED, SRC_IP_SADDR, SRC_IP_DADDR, SRC_L4PROTO, SRC_TH_DPORT) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_INET, "to_host", "goto deny_src", { { TERM_END, 0, 0, { 0 } } }, ACT_GOTO, "deny_src" },
  { NFPROTO_INET,
    "deny_src",
    "ip saddr @quiet drop",
    { IPV4, LOOKUP (SET_QUIET, SRC_IP_SADDR) },
    ACT_DROP,
    NULL },
  { NFPROTO_INET,
    "deny_src",
    "meta l4proto tcp reject with tcp reset",
    { L4PROTO (IPPROTO_TCP) },
    ACT_REJECT_TCP_RESET,
    NULL },
  { NFPROTO_INET,
    "deny_src",
    "reject with icmpx admin-prohibited",
    { { TERM_END, 0, 0, { 0 } } },
    ACT_REJECT_ADMIN,
    NULL },
  { NFPROTO_INET,
    "deny_dst",
    "ip daddr @quiet drop",
    { IPV4, LOOKUP (SET_QUIET, SRC_IP_DADDR) },
    ACT_DROP,
    NULL },
  { NFPROTO_INET,
    "deny_dst",
    "meta l4proto tcp reject with tcp reset",
    { L4PROTO (IPPROTO_TCP) },
    ACT_REJECT_TCP_RESET,
    NULL },
  { NFPROTO_INET,
    "deny_dst",
    "reject with icmpx admin-prohibited",
    { { TERM_END, 0, 0, { 0 } } },
    ACT_REJECT_ADMIN,
    NULL },
  /* A container's outbound tcp to the proxied ports (not to its own
   * network) goes to its proxy instead. */
  { NFPROTO_INET,
    "proxy",
    "iifname . ip saddr @members iifname . ip daddr != @members meta l4proto tcp"
    " dnat ip to ip saddr . tcp dport map @proxy",
    { IPV4, LOOKUP (SET_MEMBERS, SRC_IIFNAME, SRC_IP_SADDR),
      NOT_LOOKUP (SET_MEMBERS, SRC_IIFNAME, SRC_IP_DADDR), L4PROTO (IPPROTO_TCP) },
    ACT_PROXY_DNAT,
    NULL },
  { NFPROTO_INET,
    "postrouting",
    "ip saddr @masq oifname . ip daddr != @members masquerade",
    { IPV4, LOOKUP (SET_MASQ, SRC_IP_SADDR), NOT_LOOKUP (SET_MEMBERS, SRC_OIFNAME, SRC_IP_DADDR) },
    ACT_MASQUERADE,
    NULL },
  { NFPROTO_BRIDGE,
    "prerouting",
    "iifname @guarded jump from_port",
    { LOOKUP (SET_GUARDED, SRC_IIFNAME) },
    ACT_JUMP,
    "from_port" },
  { NFPROTO_BRIDGE,
    "from_port",
    "ether type ip iifname . ether saddr . ip saddr @ports accept",
    { { TERM_ETHER_TYPE, ETHERTYPE_IPV4, 0, { 0 } },
      LOOKUP (SET_PORTS, SRC_IIFNAME, SRC_ETHER_SADDR, SRC_IP_SADDR) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_BRIDGE,
    "from_port",
    "ether type arp iifname . ether saddr . arp saddr ip @ports"
    " iifname . arp saddr ether . arp saddr ip @ports accept",
    { { TERM_ETHER_TYPE, ETHERTYPE_ARP, 0, { 0 } },
      LOOKUP (SET_PORTS, SRC_IIFNAME, SRC_ETHER_SADDR, SRC_ARP_SPA),
      LOOKUP (SET_PORTS, SRC_IIFNAME, SRC_ARP_SHA, SRC_ARP_SPA) },
    ACT_ACCEPT,
    NULL },
  { NFPROTO_BRIDGE, "from_port", "drop", { { TERM_END, 0, 0, { 0 } } }, ACT_DROP, NULL },
};
const size_t rule_defs_count = ARRAY_SIZE (rule_defs);

const char *
family_name (uint32_t family)
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
padded (uint32_t len)
{
  return (len + 3) & ~3u;
}

uint32_t
set_key_len (const struct set_def *s)
{
  uint32_t len = 0;

  for (unsigned i = 0; i < s->nfields; i++)
    len += padded (field_infos[s->fields[i]].len);
  return len;
}

uint32_t
fields_len (const enum field_type *fields, unsigned n)
{
  uint32_t len = 0;

  for (unsigned i = 0; i < n; i++)
    len += padded (field_infos[fields[i]].len);
  return len;
}

uint32_t
fields_type (const enum field_type *fields, unsigned n)
{
  uint32_t type = 0;

  for (unsigned i = 0; i < n; i++)
    type = (type << NFT_TYPE_BITS) | field_infos[fields[i]].nft_type;
  return type;
}

uint32_t
set_key_type (const struct set_def *s)
{
  return fields_type (s->fields, s->nfields);
}

const struct set_def *
find_set_def (uint32_t family, const char *name)
{
  for (size_t i = 0; i < SET_COUNT; i++)
    if (set_defs[i].family == family && strcmp (set_defs[i].name, name) == 0)
      return &set_defs[i];
  return NULL;
}
