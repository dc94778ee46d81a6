/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_EVAL_H
#define MOAT_EVAL_H

/* The ruleset evaluator: one packet walked through the rule table the
 * kernel is given (ruleset.h), against set contents built by the element
 * builders the kernel's batches use (elems.h). moatctl explain answers
 * with it, and a unit test runs a matrix of flows through it, so the
 * table, the kernel and explain cannot drift apart
 * (docs/design.md, "The ruleset and the identity model").
 *
 * The walk: a frame entering by a bridge port meets the bridge family's
 * prerouting; then, as IPv4, the inet hooks in the kernel's order: raw
 * (-300), the nat proxy chain (dstnat, new connections only), prerouting
 * (0), then input when the destination is one of the host's addresses,
 * else forward and the nat postrouting chain (srcnat, new connections
 * only). A packet the host sends takes output and postrouting. In each
 * base chain the rules run in order with nftables' semantics: accept ends
 * the hook (the next hook runs), drop and reject end the walk, jump and
 * goto enter a regular chain (falling off a jumped chain returns after the
 * jump; off a chain entered by goto, to that chain's caller), a verdict
 * map jumps to the chain its element names, a lookup in an interval set
 * matches an element whose every field range holds the key. A term or an
 * action the evaluator does not know is an error, never a guess. */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/types.h"

struct moat_nft_elems;

/* Conntrack's view of the packet. */
enum moat_eval_ct
{
  MOAT_EVAL_CT_NEW,
  MOAT_EVAL_CT_ESTABLISHED,
  MOAT_EVAL_CT_RELATED,
  MOAT_EVAL_CT_INVALID,
};

struct moat_eval_packet
{
  /* Where it enters: by a bridge port (`port`, the host end of a veth, on
   * `bridge`), by another interface (`iif`), or sent by the host (both
   * NULL). A frame to a reserved group MAC (01:80:c2:00:00:0X) skips the
   * bridge's hooks and reaches IP with the port as its interface. */
  const char *port;
  const char *bridge;
  bool reserved_mac;
  const char *iif;
  /* The interface addresses outside every bridge are routed to. */
  const char *uplink;

  uint16_t ether_type; /* a frame from a port: MOAT_ETHERTYPE_ARP, else IPv4 */
  unsigned char ether_saddr[MOAT_MAC_LEN];
  unsigned char arp_sha[MOAT_MAC_LEN]; /* arp saddr ether */
  struct in_addr arp_spa;              /* arp saddr ip */

  struct in_addr saddr, daddr;
  uint8_t proto;     /* IPPROTO_* */
  uint16_t dport;    /* host order */
  uint8_t icmp_type; /* proto IPPROTO_ICMP */

  /* An IPv6 packet (docs/design.md, "IPv6"): its addresses are these,
   * and saddr/daddr unused; proto IPPROTO_ICMPV6 with icmp_type. */
  bool ip6;
  struct in6_addr saddr6, daddr6;
  /* Whether an IPv6 address is one of the host's (called with moat_eval's
   * `data`); NULL: none is. */
  bool (*is_local6) (const struct in6_addr *addr, void *data);
  struct in6_addr ct_original_saddr6;    /* as ct_original_saddr (:: = the packet's) */
  struct in6_addr ct_reply_saddr6;       /* as ct_reply_saddr */
  struct in6_addr nd_target;             /* a neighbour solicitation's or advertisement's */
  uint16_t nd_option;                    /* its first option: type << 8 | length; 0: none */
  unsigned char nd_lladdr[MOAT_MAC_LEN]; /* that option's link-layer address */
  uint16_t sport;                        /* host order (udp sport 547) */
  bool frag;                             /* it carries a fragment header */

  enum moat_eval_ct ct;
  bool ct_reply;                    /* ct direction reply */
  struct in_addr ct_original_saddr; /* ct original ip saddr (related: the flow's) */
  struct in_addr ct_reply_saddr;    /* ct reply ip saddr */
  bool ct_dnat;                     /* ct status dnat: an established flow's */

  /* The local socket's cgroup v2 id at level MOAT_HOSTNET_LEVEL (socket
   * cgroupv2): the sender's, for what the host sends (output), the
   * receiver's, for what it delivers (input); 0: no local socket. */
  uint64_t cgroup;
};

/* The host's addresses (the routing decision input/forward). */
typedef bool (*moat_eval_is_local_fn) (struct in_addr addr, void *data);

enum moat_eval_verdict
{
  MOAT_EVAL_ACCEPT,
  MOAT_EVAL_DROP,
  MOAT_EVAL_REJECT,
};

/* No element matched (a rule without lookup, a base chain's policy). */
#define MOAT_EVAL_NO_ELEM ((size_t)-1)
/* The rule of an identity's chain (ip daddr @id_<ident> accept, or its
 * IPv6 twin), which is not in the table's rule list. */
#define MOAT_EVAL_IDENT_RULE ((size_t)-1)
#define MOAT_EVAL_MAX_STEPS 24

/* One rule whose terms all matched, and what it did (a log rule's step
 * decides nothing: the next rule runs). */
struct moat_eval_step
{
  uint16_t family;
  const char *chain; /* "from_container", "id_<ident>" */
  const char *text;  /* the rule as the table writes it */
  size_t rule;       /* index in the rule table, or MOAT_EVAL_IDENT_RULE */
  size_t elem;       /* the element its last lookup matched, or MOAT_EVAL_NO_ELEM */
  const char *set;   /* that element's set */
};

struct moat_eval_result
{
  enum moat_eval_verdict verdict;
  /* Every rule that matched, in order; the last one decided (none: each
   * hook's policy accepted). */
  struct moat_eval_step steps[MOAT_EVAL_MAX_STEPS];
  size_t nsteps;
  bool local; /* delivered to the host */
  bool dnat;  /* the proxy or a published port rewrote the destination ... */
  struct in_addr dnat_addr;
  struct in6_addr dnat_addr6; /* an IPv6 packet's */
  uint16_t dnat_port;         /* ... to this (host order) */
  bool masquerade;
  bool logged; /* a log rule matched (the refusal goes to NFLOG) */
};

/* Walks `p` through the table with the sets holding `elems`. `hits`, when
 * not NULL, has one counter per rule (moat_eval_rule_count: both halves,
 * moat_rule_at, then the IPv6 identity rule) plus one for the IPv4
 * identity rule, last: each rule that matches adds one.
 * -1 with MOAT_E_CONFIG naming the rule when the table holds a term or an
 * action the evaluator does not know, or the walk loops. */
int moat_eval (const struct moat_nft_elems *elems, const struct moat_eval_packet *p,
               moat_eval_is_local_fn is_local, void *data, struct moat_eval_result *ret,
               unsigned *hits, moat_err_t *err);

/* Rules in the table, and the text and chain of one (for coverage). */
size_t moat_eval_rule_count (void);
void moat_eval_rule_name (size_t rule, const char **ret_chain, const char **ret_text);

/* The step that decided: the last one, NULL when none. */
const struct moat_eval_step *moat_eval_decider (const struct moat_eval_result *r);

#endif
