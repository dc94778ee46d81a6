/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_FOREIGN_H
#define MOAT_FOREIGN_H

/* Foreign netfilter rules that override moat (docs/design.md, "The ruleset and the identity model";
 * `moatctl check`).
 *
 * A packet passes a netfilter hook only when every base chain registered
 * there accepts it: moat's accept in `inet moat` does not save a packet that
 * docker's `ip filter FORWARD` (policy drop) or firewalld's final reject
 * then refuses. This reads the kernel's whole nftables ruleset (every
 * family, one chain dump and one rule dump; read again, up to five times,
 * while the ruleset changes under it, then judged on the last read) and
 * reports, with a one-line explanation, what may drop or reject the
 * traffic moat accepts on its bridges. moat's own tables (`moat` in the
 * inet, bridge, ip and ip6 families) are left out.
 *
 * Where moat's traffic meets netfilter (isolated ports, proxy ARP: docs/design.md, "The network
 * model"):
 *
 *   family     hook        what of moat's passes there       accepted by a rule
 *   ip, inet   prerouting  all its containers send           iifname BRIDGE
 *              input       containers to the host            iifname BRIDGE
 *              forward     container to container, and to    iifname BRIDGE and
 *                          and from the outside              oifname BRIDGE
 *              output      the host to its containers        oifname BRIDGE
 *   arp        input       the containers' ARP requests      iifname BRIDGE
 *              output      the host's proxy ARP replies      oifname BRIDGE
 *   bridge     prerouting  every frame of a container port   meta ibrname BRIDGE
 *              input       ... delivered to the host         meta ibrname BRIDGE
 *              output      frames the host sends to them     meta obrname BRIDGE
 *
 * (The bridge family's forward hook is left out: isolated ports never
 * exchange frames, so nothing of moat's is bridged port to port.)
 *
 * Reported, for each foreign base chain at one of those hooks:
 *
 * 1. Its policy, when it is drop and, for some bridge, no accept rule of
 *    the chain covers the directions the table above names. An accept rule
 *    covers a bridge when its only match is that one interface (`iifname
 *    "moat0" accept`, `iptables -I FORWARD -i moat0 -j ACCEPT`, a prefix
 *    such as `-i moat+` that the bridge's name starts with); counters and
 *    log statements do not count as matches; a rule without any match
 *    covers everything. Rules of a chain the base chain jumps to without
 *    any condition (docker's `-j DOCKER-USER`) count too. Handle 0.
 *
 * 2. Each rule whose verdict is drop (immediate NF_DROP) or reject (the
 *    reject expression, iptables' REJECT target), in the chain itself or
 *    in a chain one of its rules jumps or goes to (one level deep), unless:
 *    - an earlier accept rule covered every bridge already (as in 1);
 *    - it matches an interface by name (iifname/oifname, ibrname/obrname,
 *      a prefix too) and none of those names can be a bridge (or, in the
 *      bridge family, one of moat's host veths, "mt" and 13 hex digits):
 *      such a rule concerns the host's other interfaces (note that it may
 *      still drop what moat's containers exchange with the outside there);
 *    - its only match is `ct state invalid` (nft, or iptables' conntrack
 *      and state matches): moat drops invalid packets itself.
 *    A rule reached from several base chains is reported once.
 *
 * Not detected (say so when reporting "no conflict"):
 * - iptables-legacy and ebtables-legacy rules: they live in the old
 *   x_tables, invisible to nftables; `iptables-legacy -S` shows them;
 * - chains bound to a device (netdev family, inet ingress), the ip6 family
 *   (but for moat_foreign_conflicts6: an IPv6 flow's, which moatctl check
 *   and explain -6 use for a dual-stack network's bridges), hooks not in the
 *   table above (postrouting);
 * - verdict maps (`iifname vmap { ... }`): their elements are not read, so
 *   neither their drops nor the chains they jump to are followed; jumps
 *   deeper than one level; queue verdicts;
 * - interface matches by index (iif, oif) and set lookups (`iifname {
 *   "a", "b" }`) are matches like any other: such accept rules cover
 *   nothing, such drop rules are reported;
 * - accepts with any other match (`ct state established,related accept`,
 *   `iifname "moat0" tcp dport 80 accept`) cover nothing: a chain that
 *   lets moat's traffic through that way is still reported;
 * - dormant tables are treated as active.
 * So an empty result means "no conflict this check can see". */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct nftnl_chain_list;
struct nftnl_rule_list;

struct moat_conflict
{
  char *family;    /* "ip", "inet", "arp", "bridge" */
  char *table;     /* the foreign table */
  char *chain;     /* the chain holding the rule (or the policy) */
  uint64_t handle; /* the rule's handle; 0: the chain's policy */
  char *hook;      /* the base chain's hook: "forward", "input", ... */
  char *what;      /* one line, below */
};

/* `what` reads "table F T chain C[ handle H] (...): what it does to moat's
 * traffic; the commands that accept the bridges there (iptables, arptables
 * or ebtables for their built-in chains, nft otherwise)", e.g.
 *
 *   table ip filter chain FORWARD (hook forward, policy drop): drops every
 *   flow of moat's containers through the host (between them, and to and
 *   from the outside) that no rule of the chain accepts first; accept
 *   moat's bridges there: iptables -I FORWARD -i moat0 -j ACCEPT; iptables
 *   -I FORWARD -o moat0 -j ACCEPT */

/* Dumps the kernel's ruleset over NETLINK_NETFILTER and reports what
 * would drop or reject traffic moat accepts on `bridges` (NULL-terminated
 * names, e.g. {"moat0", NULL}), sorted by family (NFPROTO_* number), table
 * and chain; a rule reached through a jump comes with the first base chain
 * that reaches it. No bridges: no conflicts. *ret (free with
 * moat_conflicts_free) and *ret_n are set only on success. Errors are
 * MOAT_E_NFT (netlink) or MOAT_E_CONFIG (a bridge name longer than an
 * interface name can be). */
int moat_foreign_conflicts (char *const *bridges, struct moat_conflict **ret, size_t *ret_n,
                            moat_err_t *err);
/* The same with the ip6 family's chains too, judged at its hooks as ip's
 * (what an IPv6 flow meets: moatctl explain over IPv6). */
int moat_foreign_conflicts6 (char *const *bridges, struct moat_conflict **ret, size_t *ret_n,
                             moat_err_t *err);

/* The same on chains and rules already read (as libnftnl parses the
 * kernel's dumps: rules of a chain in chain order). Exposed for unit tests:
 * no kernel needed. */
int moat_foreign_analyze (const struct nftnl_chain_list *chains,
                          const struct nftnl_rule_list *rules, char *const *bridges,
                          struct moat_conflict **ret, size_t *ret_n, moat_err_t *err);
int moat_foreign_analyze_family (const struct nftnl_chain_list *chains,
                                 const struct nftnl_rule_list *rules, char *const *bridges,
                                 bool ip6, struct moat_conflict **ret, size_t *ret_n,
                                 moat_err_t *err);

void moat_conflicts_free (struct moat_conflict *c, size_t n);

#endif
