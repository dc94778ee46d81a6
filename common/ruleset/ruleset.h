/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_RULESET_H
#define MOAT_RULESET_H

/* moat's nftables ruleset as data (docs/design.md, "The ruleset and the
 * identity model"): the tables below are what kernel/nft encodes into
 * netlink batches and what moatctl explain evaluates (ruleset/eval.h), so
 * the two cannot drift. No libnftnl and no I/O here.
 *
 * Two tables, created once, whose rules never change with the number of
 * containers: per-container policy is set elements keyed by the
 * container's address (ruleset/elems.h). In nft syntax:
 *
 * table inet moat
 *   set members      ifname . ipv4_addr   bridge . container address
 *   set quiet        ipv4_addr            containers whose network drops (reject: false)
 *   set internet     ipv4_addr            containers that may reach any outside address
 *   set masq         ipv4_addr            containers masqueraded on the way out
 *   set grant_peer   ipv4_addr . ipv4_addr                   flags timeout
 *   set grant_host   ipv4_addr . inet_proto . inet_service    flags interval,timeout
 *   set grant_egress ipv4_addr . ipv4_addr . inet_proto . inet_service  flags interval,timeout
 *                    (moatctl's grants; a policy change leaves them, DEL takes them)
 *   set host_grants  ipv4_addr . inet_proto . inet_service    flags interval,timeout
 *   set egress       ipv4_addr . ipv4_addr . inet_proto . inet_service  flags interval,timeout
 *   set ingress      ipv4_addr . ipv4_addr . inet_proto . inet_service  flags interval,timeout
 *                    (ingress key: outside source . container . proto . port)
 *   set egress_deny  like egress, from a profile's reject rules: wins over egress and internet
 *   set ingress_deny like ingress, wins over it
 *   map proxy        ipv4_addr . inet_service : ipv4_addr . inet_service
 *                    (container . intercepted port : proxy . proxy port)
 *   set proxied      ipv4_addr . ipv4_addr . inet_proto . inet_service
 *                    (container . proxy . tcp . proxy port: the proxy is implicitly allowed)
 *   map src_ident    ipv4_addr : verdict  container : jump id_<identity> (model/policy.h)
 *   set bridges      ifname               the networks' bridges
 *   set self         ipv4_addr . ipv4_addr  container . container (its address twice:
 *                    a lookup of ip saddr . ct … ip saddr asks "is the sender
 *                    an endpoint of this packet's connection?")
 *   set guarded      ifname               host ends of container veths (as in bridge moat)
 *   set resolvers    ifname . ipv4_addr . inet_proto . inet_service
 *                    (bridge . gateway . udp/tcp . 53: a network's name server,
 *                     one pair of elements per network with "dns")
 *   set grant_ingress ipv4_addr . ipv4_addr . inet_proto . inet_service  flags interval,timeout
 *                    (moatctl's ingress grants: outside source . container . proto . port)
 *   map publish      ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service
 *                    flags interval  (published ports: host address range . proto .
 *                    host port : container . container port; 0.0.0.0/0 = every address)
 *   set published    ipv4_addr . inet_proto . inet_service
 *                    (container . proto . container port: what a published port opens)
 *   set logged       ipv4_addr            containers whose network logs refusals (log: true)
 *   set log_rate     ipv4_addr            flags dynamic,timeout  timeout 1m
 *                    (the kernel's: one rate limiter per refused container, gone
 *                     a minute after its last refusal)
 *   set allowed_out  ipv4_addr  counter  what a container sent that moat let through
 *   set allowed_in   ipv4_addr  counter  what it received (forwarded to it)
 *   set refused_out  ipv4_addr  counter  what it sent that moat refused
 *   set refused_in   ipv4_addr  counter  what was sent to it and refused
 *                    (one element per container in each: its counter)
 *   set hostnet      cgroupsv2            host-network containers' cgroups
 *   map hostnet_ident cgroupsv2 : verdict cgroup : jump id_<identity>
 *   set hostnet_egress cgroupsv2 . ipv4_addr . inet_proto . inet_service  flags interval
 *   set hostnet_ingress ipv4_addr . cgroupsv2 . inet_proto . inet_service  flags interval
 *                    (outside source . cgroup . proto . port)
 *   set hostnet_peers ipv4_addr . cgroupsv2
 *                    (a moat container's address . the group it may open connections to)
 *   set node_nets    ipv4_addr . ifname  flags interval
 *                    (cluster mode: another node's container subnet . the interface
 *                     its route uses; empty on a host with no cluster network)
 *   set node_routes  ipv4_addr . ifname . ether_addr  flags interval
 *                    (that subnet, and the node's underlay address, . interface .
 *                     the node's MAC: where its packets may come from)
 *   set node_links   ifname . ether_addr  (each node's interface . MAC)
 *   set node_vnis    typeof @th,96,32   (the VXLAN header's VNI word of each tunnel
 *                    to another node: VNI << 8, the reserved byte 0 as the kernel wants it)
 *   set node_vteps   typeof ip saddr . @th,96,32  (that node's underlay address . that word)
 *   chain raw        (filter, prerouting, priority raw -300, policy accept)
 *     iifname @guarded drop          (a frame the bridge hands up on the port
 *                                     itself, to a reserved group MAC 01:80:c2:
 *                                     00:00:0X, bypassed bridge moat: refused)
 *     ip daddr 127.0.0.0/8 iifname @bridges drop
 *                    (the host's loopback is never a container's destination:
 *                     route_localnet on a publishing bridge would route it)
 *   chain prerouting (filter, prerouting, priority 0, policy accept)
 *     ct state established ct direction reply accept  (what same_bridge says first, sooner)
 *     iifname . ip saddr @members iifname . ip daddr @members jump same_bridge
 *   chain forward  (filter, forward, priority 0, policy accept)
 *     ip saddr . iifname @node_nets ip saddr . iifname . ether saddr != @node_routes drop
 *                    (another node's subnet on its link, not sent by that node)
 *     iifname . ether saddr @node_links oifname @bridges ip saddr . iifname . ether saddr !=
 *       @node_routes drop  (a node's packet to a bridge with a source not its own)
 *     iifname . ip saddr @members jump from_container
 *     meta nfproto ipv4 iifname @bridges drop        (fail closed: no member, no way)
 *     oifname . ip daddr @members jump to_container
 *     meta nfproto ipv6 oifname @bridges drop
 *                    (IPv6 half only, after the twins of the rules above:
 *                     nothing but a member's address is forwarded to a bridge)
 *   chain input    (filter, input, priority 0, policy accept)
 *     udp dport 4789 @th,96,32 @node_vnis ip saddr . @th,96,32 != @node_vteps drop
 *                    (a datagram for a tunnel to another node, not from that node:
 *                     the inner packet's arrival device then names its node)
 *     ip saddr . iifname @node_nets ip saddr . iifname . ether saddr != @node_routes drop
 *     iifname . ip saddr @members jump to_host
 *     meta nfproto ipv4 iifname @bridges drop
 *   chain output   (filter, output, priority 0, policy accept)
 *     icmp type redirect oifname . ip daddr @members drop
 *                    (an established flow's packets in its opening direction
 *                     walk the policy again, as a new one would: a revoke, an
 *                     expiry, a policy change or a DEL cuts open flows too)
 *   chain from_container
 *     ct state established ct direction reply accept
 *     ct state related ip saddr . ct original ip saddr @self accept
 *     ct state related ip saddr . ct reply ip saddr @self accept
 *                    (related = ICMP errors: only about the sender's own flows;
 *                     conntrack checks an error's destination, not its sender)
 *     ct state invalid drop
 *     iifname . ip daddr @members accept  (same_bridge judged it before routing)
 *     oifname . ip daddr @members goto to_peer    (a container proxy is a peer too)
 *     ip daddr . oifname @node_nets goto to_peer  (a container of another node)
 *     ip saddr . ip daddr . meta l4proto . th dport @proxied accept
 *     ip saddr . ip daddr . meta l4proto . th dport @grant_egress accept
 *     ip saddr . ip daddr . meta l4proto . th dport @egress_deny goto deny_src
 *     ip saddr @internet accept
 *     ip saddr . ip daddr . meta l4proto . th dport @egress accept
 *     goto deny_src
 *   chain to_peer
 *     ip saddr . ip daddr @grant_peer accept
 *     ip saddr vmap @src_ident
 *     goto deny_src
 *   chain same_bridge   (two containers of one bridge, decided before routing:
 *                        the kernel's ICMP redirect would otherwise spend the
 *                        rate-limit allowance the reject's ICMP needs)
 *     ct state established ct direction reply accept
 *     ct state related ip saddr . ct original ip saddr @self accept
 *     ct state related ip saddr . ct reply ip saddr @self accept
 *     ip saddr . ip daddr @grant_peer accept
 *     ip saddr vmap @src_ident
 *     goto deny_src
 *   chain to_container
 *     ct state established ct direction reply accept
 *     ct state related accept
 *     ip saddr . iifname @node_nets goto to_peer  (from a container of another node)
 *     ip saddr . ip daddr . meta l4proto . th dport @ingress_deny goto deny_dst
 *     ip saddr . ip daddr . meta l4proto . th dport @grant_ingress accept
 *     ip saddr . ip daddr . meta l4proto . th dport @ingress accept
 *     ct status dnat ip daddr . meta l4proto . th dport @published accept
 *                    (a published port: only what moat's DNAT sent there)
 *     goto deny_dst
 *   chain to_host
 *     ct state established ct direction reply accept
 *     ct state related ip saddr . ct original ip saddr @self accept
 *     ct state related ip saddr . ct reply ip saddr @self accept
 *     ip saddr . meta l4proto . th dport @host_grants accept
 *     ip saddr . meta l4proto . th dport @grant_host accept
 *     ip saddr . ip daddr . meta l4proto . th dport @proxied accept
 *     iifname . ip daddr . meta l4proto . th dport @resolvers accept
 *     goto deny_src
 *   chain deny_src
 *     ip saddr @refused_out  (no verdict: the element counts, the next rule runs)
 *     ip daddr @refused_in
 *     ip saddr @logged update @log_rate { ip saddr limit rate 10/second burst 20 packets }
 *       log group 6177  (no verdict: the packet goes on to the next rule)
 *     ip saddr @quiet drop
 *     meta l4proto tcp reject with tcp reset
 *     reject with icmpx admin-prohibited
 *   chain deny_dst
 *     ip daddr @refused_in
 *     ip daddr @logged update @log_rate { ip daddr limit rate 10/second burst 20 packets }
 *       log group 6177
 *     ip daddr @quiet drop
 *     meta l4proto tcp reject with tcp reset
 *     reject with icmpx admin-prohibited
 *   chain proxy (nat, prerouting, priority dstnat -100, policy accept)
 *     iifname . ip saddr @members iifname . ip daddr != @members meta l4proto tcp
 *       dnat ip to ip saddr . tcp dport map @proxy
 *     fib daddr type local meta l4proto tcp
 *       dnat ip to ip daddr . meta l4proto . th dport map @publish
 *     fib daddr type local meta l4proto udp
 *       dnat ip to ip daddr . meta l4proto . th dport map @publish
 *                    (published ports, before the filter: a container's
 *                     hairpin meets the label policy as any peer flow does)
 *   set id_<identity> ipv4_addr            the addresses an identity may reach
 *   chain id_<identity>                    one per identity, made as it appears
 *     ip daddr @id_<identity> accept
 *     ip6 daddr @id_<identity>6 accept
 *                    (the rule of its IPv6 twin, chain id_<identity>6)
 *   chain postrouting (nat, postrouting, priority srcnat 100, policy accept)
 *     ip saddr @masq oifname . ip daddr != @members masquerade
 *     ip saddr 127.0.0.0/8 oifname @bridges masquerade
 *                    (the host's own 127.0.0.1 to a published port: the bridge
 *                     has route_localnet, the container answers the gateway)
 *   chain publish_out (nat, output, priority dstnat -100, policy accept)
 *     fib daddr type local meta l4proto tcp
 *       dnat ip to ip daddr . meta l4proto . th dport map @publish
 *     fib daddr type local meta l4proto udp
 *       dnat ip to ip daddr . meta l4proto . th dport map @publish
 *   chain count_forward (filter, forward, priority 10, policy accept)
 *                    (after forward: sees only what the filter let through)
 *     ip saddr @allowed_out
 *     ip daddr @allowed_in
 *   chain count_input (filter, input, priority 10, policy accept)
 *     ip saddr @allowed_out
 *   chain hostnet_output (filter, output, priority 5, policy accept)
 *     socket cgroupv2 level 2 @hostnet goto hostnet_out
 *     meta nfproto ipv6 socket cgroupv2 level 2 @hostnet goto hostnet_out6
 *                    (IPv6 half: made at the chain's head, before the rule above)
 *   chain hostnet_input (filter, input, priority 5, policy accept)
 *     socket cgroupv2 level 2 @hostnet goto hostnet_in
 *     meta nfproto ipv6 socket cgroupv2 level 2 @hostnet goto hostnet_in6
 *                    (IPv6 half, likewise. A host-network container's sockets:
 *                     its group, level 2; without the IPv6 half its IPv6 meets
 *                     hostnet_out and hostnet_in, which refuse it: fail closed)
 *   chain hostnet_out
 *     ct state established,related accept
 *     oifname lo accept           (the host's own addresses: it shares the host's stack)
 *     socket cgroupv2 level 2 vmap @hostnet_ident   (moat peers its labels reach)
 *     socket cgroupv2 level 2 . ip daddr . meta l4proto . th dport @hostnet_egress accept
 *     meta l4proto tcp reject with tcp reset
 *     reject with icmpx admin-prohibited
 *   chain hostnet_in
 *     ct state established,related accept
 *     iifname lo accept
 *     iifname . ip saddr @members ip saddr . socket cgroupv2 level 2 @hostnet_peers accept
 *                                              (moat peers let in, from their bridge)
 *     ip saddr . socket cgroupv2 level 2 . meta l4proto . th dport @hostnet_ingress accept
 *     meta l4proto tcp reject with tcp reset
 *     reject with icmpx admin-prohibited
 *
 *   The IPv6 half (docs/design.md, "IPv6"), made into these tables with
 *   the first dual-stack member, in its batch:
 *   set <name>6      the twin of every set above keyed by an address (all
 *                    but bridges and guarded), ipv6_addr for ipv4_addr;
 *                    likewise id_<identity>6 and its chain
 *   set node_nets6, node_routes6, node_links6
 *                    the node sets' twins (ipv6_addr for ipv4_addr; node_links6
 *                    as node_links), holding the nodes with a subnet6: its
 *                    subnet6 and its route's IPv6 nexthop for subnet and
 *                    underlay (docs/cluster.md, "IPv6 between nodes")
 *   each rule above that loads an IPv4 address (or says meta nfproto ipv4,
 *                    or ether type ip) gets a twin, generated
 *                    (moat_rule_twin6): ip -> ip6, @set -> @set6, icmp type
 *                    redirect -> icmpv6 type nd-redirect, meta nfproto ipv4 ->
 *                    ipv6, ether type ip -> ip6, a jump or goto to
 *                    a regular chain -> to its twin <chain>6. A base chain's
 *                    twins follow its rules; a regular chain's twin holds the
 *                    twins of all its rules, family-free ones copied. The two
 *                    127.0.0.0/8 rules have none (the kernel drops ::1 from
 *                    a non-loopback device itself).
 *   chain to_host6   (the twin of to_host, with this rule first)
 *     icmpv6 type nd-neighbor-solicit-nd-neighbor-advert accept
 *                    (neighbour discovery with the gateway is untracked; the
 *                     bridge table has checked it)
 *   hostnet_out6, hostnet_in6: the twins of hostnet_out and hostnet_in, with
 *                    the sets hostnet_ident6 (cgroup : jump id_<identity>6),
 *                    hostnet_egress6, hostnet_ingress6 and hostnet_peers6
 *                    (ipv6_addr for ipv4_addr); hostnet serves both families
 *
 * table bridge moat
 *   set guarded  ifname                               host ends of container veths
 *   set ports    ifname . ether_addr . ipv4_addr      host end . container MAC . address
 *   set ports6   ifname . ether_addr . ipv6_addr      (IPv6 half) host end . MAC . global
 *                    address, and host end . MAC . link-local (EUI-64 of the MAC)
 *   chain prerouting (filter, prerouting, priority -200, policy accept)
 *     iifname @guarded jump from_port
 *     ether type ip6 iifname @guarded jump from_port6
 *                    (IPv6 half: made at the chain's head, before the rule above)
 *   chain from_port
 *     ether type ip iifname . ether saddr . ip saddr @ports accept
 *     ether type arp iifname . ether saddr . arp saddr ip @ports
 *                    iifname . arp saddr ether . arp saddr ip @ports accept
 *     drop
 *   chain from_port6 (IPv6 half; nft 1.0.6 has no icmpv6 taddr: ND fields by offset)
 *     iifname . ether saddr . ip6 saddr != @ports6 drop
 *     exthdr frag exists ip6 daddr fe80::/10 drop
 *     exthdr frag exists ip6 daddr ff00::/8 drop
 *                    (nothing link-scoped is fragmented: RFC 6980)
 *     meta l4proto ipv6-icmp icmpv6 type mld-listener-query-nd-router-advert drop
 *                    (130-134: MLD query, report, done; RS; RA)
 *     meta l4proto ipv6-icmp icmpv6 type nd-redirect drop
 *     meta l4proto ipv6-icmp icmpv6 type mld2-listener-report drop
 *     meta l4proto ipv6-icmp icmpv6 type nd-neighbor-advert
 *                    iifname . ether saddr . @th,64,128 != @ports6 drop
 *                    (an advertisement's target is one of its own addresses)
 *     meta l4proto ipv6-icmp icmpv6 type nd-neighbor-solicit @th,192,16 != 0x0101 drop
 *     meta l4proto ipv6-icmp icmpv6 type nd-neighbor-advert @th,192,16 != 0x0201 drop
 *                    (the first option, if any, is the link-layer one of its
 *                     type: the kernel reads the first of each type)
 *     meta l4proto ipv6-icmp icmpv6 type nd-neighbor-solicit-nd-neighbor-advert
 *                    iifname . @th,208,48 . ip6 saddr != @ports6 drop
 *                    (and names its own MAC)
 *     meta l4proto udp th sport 547 drop      (no DHCPv6 server)
 *     accept
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOAT_NFT_TABLE "moat" /* both tables' name */

/* The tables' layout, written into each table's comment so that tables an
 * older moat made are recognised and remade (docs/design.md, "Upgrades").
 * Bump it with every change to the sets, chains or rules above:
 * common/tests/test_nft.c fails until the new layout is recorded there. */
#define MOAT_RULESET_LAYOUT 8
#define MOAT_RULESET_LAYOUT_STR_(n) #n
#define MOAT_RULESET_LAYOUT_STR(n) MOAT_RULESET_LAYOUT_STR_ (n)
#define MOAT_RULESET_LAYOUT_COMMENT "moat layout " MOAT_RULESET_LAYOUT_STR (MOAT_RULESET_LAYOUT)
/* An identity's name (model/policy.h): 16 hex digits, maybe "_N" after. */
#define MOAT_NFT_IDENT_MAX 24
/* "id_<identity>": the name of an identity's chain and of its set. */
#define MOAT_IDENT_OBJECT_MAX (MOAT_NFT_IDENT_MAX + 5) /* and the IPv6 twin's "6" */

#define MOAT_SET_MAX_FIELDS 4

/* nft's byte order tags (nftables enum byteorder), kept in set userdata so
 * that nft prints single-field keys the way it would for its own sets. */
enum
{
  MOAT_BYTEORDER_NONE = 0,
  MOAT_BYTEORDER_HOST = 1,
  MOAT_BYTEORDER_BIG = 2,
};

/* The type of one field of a set's key (or a map's value). */
enum moat_field
{
  MOAT_FIELD_IFNAME,
  MOAT_FIELD_IPV4,
  MOAT_FIELD_ETHER,
  MOAT_FIELD_PROTO,
  MOAT_FIELD_PORT,
  MOAT_FIELD_IPV6,
  MOAT_FIELD_CGROUP, /* a cgroup v2 id (its directory's inode): 8 bytes, host order,
                        big-endian in an interval set (nft's byteorder hton) */
  MOAT_FIELD_VNI,    /* a VXLAN header's second word: VNI << 8, big-endian (nft: integer) */
};

/* moat_field_infos[type]. */
struct moat_field_info
{
  uint32_t nft_type;
  uint32_t len; /* bytes the kernel compares; padded to 4 in a key */
  uint32_t byteorder;
};

/* moat_set_defs[set]: the sets of both tables (a set and its index never
 * change; the index + 1 is the set's NFTA_SET_ID in a batch). */
enum moat_set
{
  MOAT_SET_MEMBERS,
  MOAT_SET_QUIET,
  MOAT_SET_INTERNET,
  MOAT_SET_MASQ,
  MOAT_SET_GRANT_PEER,
  MOAT_SET_GRANT_HOST,
  MOAT_SET_GRANT_EGRESS,
  MOAT_SET_HOST_GRANTS,
  MOAT_SET_EGRESS,
  MOAT_SET_INGRESS,
  MOAT_SET_EGRESS_DENY,
  MOAT_SET_INGRESS_DENY,
  MOAT_SET_PROXIED,
  MOAT_SET_PROXY,
  MOAT_SET_SRC_IDENT,
  MOAT_SET_BRIDGES,
  MOAT_SET_SELF,
  MOAT_SET_PORT_NAMES,
  MOAT_SET_RESOLVERS,
  MOAT_SET_GRANT_INGRESS,
  MOAT_SET_GUARDED,
  MOAT_SET_PORTS,
  MOAT_SET_PUBLISH,
  MOAT_SET_PUBLISHED,
  MOAT_SET_LOGGED,
  MOAT_SET_LOG_RATE,
  MOAT_SET_ALLOWED_OUT,
  MOAT_SET_ALLOWED_IN,
  MOAT_SET_REFUSED_OUT,
  MOAT_SET_REFUSED_IN,
  /* The IPv6 half (docs/design.md, "IPv6"): the twin of each set keyed by
   * a container's or an outside address, made with the first dual-stack
   * member; moat_set_twin6 maps a set to its twin. */
  MOAT_SET_MEMBERS6,
  MOAT_SET_QUIET6,
  MOAT_SET_INTERNET6,
  MOAT_SET_MASQ6,
  MOAT_SET_GRANT_PEER6,
  MOAT_SET_GRANT_HOST6,
  MOAT_SET_GRANT_EGRESS6,
  MOAT_SET_HOST_GRANTS6,
  MOAT_SET_EGRESS6,
  MOAT_SET_INGRESS6,
  MOAT_SET_EGRESS_DENY6,
  MOAT_SET_INGRESS_DENY6,
  MOAT_SET_PROXIED6,
  MOAT_SET_PROXY6,
  MOAT_SET_SRC_IDENT6,
  MOAT_SET_SELF6,
  MOAT_SET_RESOLVERS6,
  MOAT_SET_GRANT_INGRESS6,
  MOAT_SET_PUBLISH6,
  MOAT_SET_PUBLISHED6,
  MOAT_SET_LOGGED6,
  MOAT_SET_LOG_RATE6,
  MOAT_SET_PORTS6,
  MOAT_SET_ALLOWED_OUT6,
  MOAT_SET_ALLOWED_IN6,
  MOAT_SET_REFUSED_OUT6,
  MOAT_SET_REFUSED_IN6,
  MOAT_SET_HOSTNET,
  MOAT_SET_HOSTNET_IDENT,
  MOAT_SET_HOSTNET_EGRESS,
  MOAT_SET_HOSTNET_INGRESS,
  MOAT_SET_HOSTNET_PEERS,
  /* Their IPv6 twins (the IPv6 half): hostnet itself serves both families. */
  MOAT_SET_HOSTNET_IDENT6,
  MOAT_SET_HOSTNET_EGRESS6,
  MOAT_SET_HOSTNET_INGRESS6,
  MOAT_SET_HOSTNET_PEERS6,
  MOAT_SET_NODE_NETS,
  MOAT_SET_NODE_ROUTES,
  MOAT_SET_NODE_LINKS,
  MOAT_SET_NODE_VNIS,
  MOAT_SET_NODE_VTEPS,
  /* Their IPv6 twins (IPv6 half): nodes with a subnet6 only. */
  MOAT_SET_NODE_NETS6,
  MOAT_SET_NODE_ROUTES6,
  MOAT_SET_NODE_LINKS6,
  MOAT_SET_COUNT,
  /* Not in moat_set_defs: the set id_<identity> of each identity, shaped
   * as moat_ident_set_def (its IPv6 twin id_<identity>6: moat_ident_set6_def).
   * A rule (moat_ident_rule_def) names it so. */
  MOAT_SET_IDENT = MOAT_SET_COUNT,
  MOAT_SET_IDENT6,
};

/* No twin (a family-free set: bridges, guarded). */
#define MOAT_SET_NO_TWIN MOAT_SET_COUNT

struct moat_set_def
{
  uint16_t family;  /* NFPROTO_INET or NFPROTO_BRIDGE: its table */
  const char *name; /* unique within its table */
  uint32_t flags;   /* NFT_SET_* */
  unsigned nfields;
  enum moat_field fields[MOAT_SET_MAX_FIELDS];
  unsigned ndata; /* a map's data: its fields */
  enum moat_field data[2];
  bool verdict;        /* a verdict map */
  uint64_t timeout_ms; /* the set's default element timeout; 0: none */
  bool v6;             /* of the IPv6 half */
  bool counter;        /* `counter`: each element counts the packets its lookups match */
};

/* moat_chain_defs: in the order they are made; base chains hook in. */
struct moat_chain_def
{
  uint16_t family;
  const char *name;
  const char *type; /* NULL: a regular chain, no hook */
  uint32_t hook;
  int32_t prio;
  const char *twin; /* a regular chain of the IPv4 half: its IPv6 twin's name */
  bool v6;          /* of the IPv6 half */
};

/* Where a lookup's key field comes from in the packet. */
enum moat_source
{
  MOAT_SRC_NONE,
  MOAT_SRC_IIFNAME,
  MOAT_SRC_OIFNAME,
  MOAT_SRC_IP_SADDR,
  MOAT_SRC_IP_DADDR,
  MOAT_SRC_L4PROTO,
  MOAT_SRC_TH_DPORT,
  MOAT_SRC_ETHER_SADDR,
  MOAT_SRC_ARP_SHA,           /* arp saddr ether */
  MOAT_SRC_ARP_SPA,           /* arp saddr ip */
  MOAT_SRC_CT_ORIGINAL_SADDR, /* ct original ip saddr */
  MOAT_SRC_CT_REPLY_SADDR,    /* ct reply ip saddr */
  MOAT_SRC_IP6_SADDR,
  MOAT_SRC_IP6_DADDR,
  MOAT_SRC_CT_ORIGINAL_SADDR6, /* ct original ip6 saddr */
  MOAT_SRC_CT_REPLY_SADDR6,    /* ct reply ip6 saddr */
  MOAT_SRC_ND_TARGET,          /* @th,64,128: an ND message's target address */
  MOAT_SRC_ND_LLADDR,          /* @th,208,48: the address in its first option */
  MOAT_SRC_SOCKET_CGROUP,      /* socket cgroupv2 level MOAT_HOSTNET_LEVEL */
  MOAT_SRC_VXLAN_VNI,          /* @th,96,32: a VXLAN header's VNI and reserved byte */
};

/* A rule is its terms, all of which must match, in order, then its
 * action. The terms end at the first MOAT_TERM_END. */
enum moat_term_kind
{
  MOAT_TERM_END,
  MOAT_TERM_IPV4,           /* inet family: meta nfproto ipv4 (nft's implicit dependency) */
  MOAT_TERM_ETHER_TYPE,     /* ether type <value> */
  MOAT_TERM_L4PROTO,        /* meta l4proto <value> */
  MOAT_TERM_ICMP_TYPE,      /* icmp type <value> */
  MOAT_TERM_CT_STATE,       /* ct state <any bit of value> */
  MOAT_TERM_CT_REPLY,       /* ct direction reply */
  MOAT_TERM_LOOKUP,         /* <sources> @set */
  MOAT_TERM_NOT_LOOKUP,     /* <sources> != @set */
  MOAT_TERM_FIB_LOCAL,      /* fib daddr type local: the destination is the host's */
  MOAT_TERM_CT_DNAT,        /* ct status dnat */
  MOAT_TERM_SADDR_LOOPBACK, /* ip saddr 127.0.0.0/8 */
  MOAT_TERM_DADDR_LOOPBACK, /* ip daddr 127.0.0.0/8 */
  /* update @set { <source> limit rate MOAT_LOG_RATE/second burst
   * MOAT_LOG_BURST packets }: holds while the element of that key (made
   * by the kernel, timed out by the set) is within its rate. */
  MOAT_TERM_RATE,
  MOAT_TERM_IPV6,            /* inet family: meta nfproto ipv6 */
  MOAT_TERM_ICMP_TYPE_RANGE, /* icmpv6 type lo-hi: value lo | hi << 8 */
  MOAT_TERM_ND_OPTION,       /* @th,192,16 != value: the first option is not <type, len 1> */
  MOAT_TERM_TH_SPORT,        /* th sport <value> (udp sport 547) */
  MOAT_TERM_IIF_LO,          /* iifname "lo" */
  MOAT_TERM_OIF_LO,          /* oifname "lo" */
  MOAT_TERM_EXTHDR_FRAG,     /* exthdr frag exists: an IPv6 fragment, first or not */
  MOAT_TERM_DADDR6_LINK,     /* ip6 daddr fe80::/10 */
  MOAT_TERM_DADDR6_MCAST,    /* ip6 daddr ff00::/8 */
  MOAT_TERM_IIFTYPE_ETHER,   /* meta iiftype ether (nft's dependency of ether saddr in inet) */
  MOAT_TERM_TH_DPORT,        /* th dport <value> (udp dport 4789, after meta l4proto udp) */
};

struct moat_term
{
  enum moat_term_kind kind;
  uint32_t value;    /* ether type, l4proto, icmp type, MOAT_CT_* bits */
  enum moat_set set; /* lookups: the set, whose key is ... */
  enum moat_source sources[MOAT_SET_MAX_FIELDS]; /* ... these, concatenated (MOAT_SRC_NONE ends) */
};

enum moat_action
{
  MOAT_ACT_ACCEPT,
  MOAT_ACT_DROP,
  MOAT_ACT_JUMP,
  MOAT_ACT_GOTO,
  MOAT_ACT_REJECT_TCP_RESET,
  MOAT_ACT_REJECT_ADMIN,
  MOAT_ACT_MASQUERADE,
  MOAT_ACT_PROXY_DNAT,   /* dnat ip to ip saddr . tcp dport map @proxy */
  MOAT_ACT_SRC_IDENT,    /* ip saddr vmap @src_ident */
  MOAT_ACT_PUBLISH_DNAT, /* dnat ip to ip daddr . meta l4proto . th dport map @publish */
  MOAT_ACT_LOG,          /* log group MOAT_LOG_GROUP: no verdict, the next rule runs */
  MOAT_ACT_COUNT,        /* none: the matched element's counter counts, the next rule runs */
  MOAT_ACT_CGROUP_IDENT, /* socket cgroupv2 level MOAT_HOSTNET_LEVEL vmap @hostnet_ident (6) */
};

#define MOAT_RULE_MAX_TERMS 5

/* moat_rule_defs: every rule of both tables, in the order they are
 * appended; a chain's rules are those naming it, in this order. */
struct moat_rule_def
{
  uint16_t family;
  const char *chain;
  const char *text; /* in nft syntax, as listed above; names the rule in errors */
  struct moat_term terms[MOAT_RULE_MAX_TERMS];
  enum moat_action action;
  const char *target; /* jump/goto: the chain */
  bool v6;            /* of the IPv6 half: actions load ip6 and use the *6 sets */
  bool insert;        /* made at the head of its chain (NEWRULE without NLM_F_APPEND) */
};

/* conntrack state bits as nft encodes them: NF_CT_STATE_BIT(ctinfo) and
 * NF_CT_STATE_INVALID_BIT (linux/netfilter/nf_conntrack_common.h). */
#define MOAT_CT_INVALID 0x1u
#define MOAT_CT_ESTABLISHED 0x2u
#define MOAT_CT_RELATED 0x4u

/* Term values. */
#define MOAT_ICMP_REDIRECT 5
#define MOAT_ETHERTYPE_IPV4 0x0800
#define MOAT_ETHERTYPE_ARP 0x0806
#define MOAT_ETHERTYPE_IPV6 0x86dd
#define MOAT_ICMPV6_MLD_QUERY 130 /* 130-134: MLD query, report, done; RS, RA */
#define MOAT_ICMPV6_RA 134
#define MOAT_ICMPV6_NS 135
#define MOAT_ICMPV6_NA 136
#define MOAT_ICMPV6_REDIRECT 137
#define MOAT_ICMPV6_MLD2_REPORT 143
#define MOAT_ND_OPT_SLLAO 0x0101 /* type 1, length 1 (8 bytes) */
#define MOAT_ND_OPT_TLLAO 0x0201
#define MOAT_DHCPV6_SERVER_PORT 547
#define MOAT_VXLAN_DPORT 4789 /* kernel/route.h's MOAT_VXLAN_PORT */

/* Refusals logged (docs/design.md, "Refused flows"): the NFLOG group
 * moatctl watch binds, and each container's allowance. */
#define MOAT_LOG_GROUP 6177
#define MOAT_LOG_RATE 10  /* packets a second, per refused container */
#define MOAT_LOG_BURST 20 /* packets */
#define MOAT_LOG_RATE_TIMEOUT_MS 60000

/* Host-network containers (docs/design.md, "Host-network containers"):
 * the cgroup v2 level their groups sit at (moat/<id> in moat's own
 * cgroup2 mount; machine.slice/libpod-<id>.scope, system.slice/<unit> on
 * a cgroup v2 host). One level, so the rules stay fixed. */
#define MOAT_HOSTNET_LEVEL 2

extern const struct moat_field_info moat_field_infos[];
extern const struct moat_set_def moat_set_defs[MOAT_SET_COUNT];
extern const struct moat_chain_def moat_chain_defs[];
extern const size_t moat_chain_defs_count;
extern const struct moat_rule_def moat_rule_defs[];
extern const size_t moat_rule_defs_count;

/* What put_ident_* makes for each identity, in the inet table: a chain
 * and a set both named id_<identity> (their `name` here is the prefix
 * "id_"), and the chain's one rule, `ip daddr @id_<identity> accept`, whose
 * lookup names MOAT_SET_IDENT. */
extern const struct moat_set_def moat_ident_set_def;
extern const struct moat_chain_def moat_ident_chain_def;
extern const struct moat_rule_def moat_ident_rule_def;
/* Their IPv6 twins: chain and set id_<identity>6, `ip6 daddr
 * @id_<identity>6 accept`. */
extern const struct moat_set_def moat_ident_set6_def;
extern const struct moat_rule_def moat_ident_rule6_def;

/* Every rule as the kernel gets it: the IPv4 half (the table's rules not
 * marked v6, in order), then the IPv6 half: for each rule of the table in
 * order, the IPv6 twin generated from it (moat_rule_twin6) or, marked v6,
 * itself. Index i < moat_rules_count (). */
size_t moat_rules_count (void);
const struct moat_rule_def *moat_rule_at (size_t i);
/* The IPv6 twin of an IPv4-half rule into *ret (its text in static
 * storage): false when it has none (the loopback rules, a family-free rule
 * of a base chain, which serves both families, the bridge table's). */
bool moat_rule_twin6 (const struct moat_rule_def *def, struct moat_rule_def *ret);
/* A set's IPv6 twin, or MOAT_SET_NO_TWIN. */
enum moat_set moat_set_twin6 (enum moat_set set);
/* The chain of that name, or NULL. */
const struct moat_chain_def *moat_chain_def_find (uint32_t family, const char *name);

/* moat_set_defs[set], or moat_ident_set_def for MOAT_SET_IDENT (6). */
const struct moat_set_def *moat_set_def_of (enum moat_set set);
/* The set of that name in the table of `family`, or NULL. */
const struct moat_set_def *moat_set_def_find (uint32_t family, const char *name);
/* "id_<ident>" into buf (MOAT_IDENT_OBJECT_MAX); -1 when `ident` is not an
 * identity's name. */
int moat_ident_object_name (char *buf, size_t size, const char *ident);

/* "inet", "bridge" (or "?"). */
const char *moat_family_name (uint32_t family);

/* Key sizes: each field starts on a 4-byte (register) boundary. */
uint32_t moat_field_padded (uint32_t len);
uint32_t moat_fields_len (const enum moat_field *fields, unsigned n);
uint32_t moat_set_key_len (const struct moat_set_def *s);
/* nft's type of a concatenation (NFTA_SET_KEY_TYPE, NFTA_SET_DATA_TYPE). */
uint32_t moat_fields_type (const enum moat_field *fields, unsigned n);
uint32_t moat_set_key_type (const struct moat_set_def *s);

#endif
