/* SPDX-License-Identifier: Apache-2.0 */
/* The evaluator (eval.h): the rule table of ruleset.h, read as the kernel
 * runs it, on the elements of elems.h. */
#include "ruleset/eval.h"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

#include "ruleset/elems.h"
#include "ruleset/ruleset.h"

#define MAX_DEPTH 16 /* nf_tables' jump stack holds 16 */

/* The packet where it is now: the hook's interfaces and the family. */
struct walk
{
  const struct moat_nft_elems *elems;
  const struct moat_eval_packet *p;
  struct moat_eval_result *r;
  unsigned *hits;
  moat_err_t *err;
  uint16_t family;
  const char *iif, *oif;
  const char *chain;    /* the chain being run */
  struct in_addr daddr; /* after the proxy's dnat */
  struct in6_addr daddr6;
  uint16_t dport;
  moat_eval_is_local_fn is_local; /* fib daddr type local */
  void *local_data;
  uint32_t hook;   /* the inet hook being run */
  bool big_endian; /* the key being built is an interval set's */
};

enum outcome
{
  OUT_CONTINUE, /* fell off the chain's end */
  OUT_ACCEPT,
  OUT_DROP,
  OUT_REJECT,
};

/* --- keys ------------------------------------------------------------------------------ */

static bool
put_ifname (uint8_t *dst, uint32_t len, const char *name)
{
  if (!name)
    return false; /* no such interface at this hook: the load breaks the rule */
  memset (dst, 0, len);
  memcpy (dst, name, strnlen (name, len < IFNAMSIZ ? len : IFNAMSIZ));
  return true;
}

static bool
is_arp (const struct moat_eval_packet *p)
{
  return p->ether_type == MOAT_ETHERTYPE_ARP;
}

static bool
is_ip4 (const struct moat_eval_packet *p)
{
  return !is_arp (p) && !p->ip6;
}

static bool
is_nd (const struct moat_eval_packet *p)
{
  return p->ip6 && p->proto == IPPROTO_ICMPV6
         && (p->icmp_type == MOAT_ICMPV6_NS || p->icmp_type == MOAT_ICMPV6_NA);
}

static bool
addr6_unset (const struct in6_addr *a)
{
  static const struct in6_addr any;

  return memcmp (a, &any, sizeof (any)) == 0;
}

static struct in6_addr
ct_saddr6 (const struct walk *w, bool reply)
{
  const struct moat_eval_packet *p = w->p;
  const struct in6_addr *given = reply ? &p->ct_reply_saddr6 : &p->ct_original_saddr6;

  if (!addr6_unset (given))
    return *given;
  return reply == p->ct_reply ? p->saddr6 : p->daddr6;
}

/* The connection's addresses as conntrack holds them (the packet's own
 * when it gives none). */
static struct in_addr
ct_saddr (const struct walk *w, bool reply)
{
  const struct moat_eval_packet *p = w->p;
  struct in_addr given = reply ? p->ct_reply_saddr : p->ct_original_saddr;

  if (given.s_addr)
    return given;
  return reply == p->ct_reply ? p->saddr : p->daddr;
}

/* socket cgroupv2: the local socket's group, host order, or big-endian
 * where the set is an interval set (nft's byteorder hton before the
 * lookup); no local socket: the load breaks the rule. */
static bool
load_cgroup (const struct walk *w, uint8_t *dst, uint32_t len)
{
  uint64_t id = w->p->cgroup;

  if (!id || len != sizeof (id) || (w->hook != NF_INET_LOCAL_OUT && w->hook != NF_INET_LOCAL_IN))
    return false;
  if (!w->big_endian)
    {
      memcpy (dst, &id, sizeof (id));
      return true;
    }
  for (int i = 7; i >= 0; i--, id >>= 8)
    dst[i] = (uint8_t)id;
  return true;
}

/* Writes `len` bytes of the source's value; false when the packet has none
 * there (the kernel's load breaks the rule). */
static bool
load_source (const struct walk *w, enum moat_source src, uint8_t *dst, uint32_t len)
{
  const struct moat_eval_packet *p = w->p;
  uint16_t port = htons (w->dport);
  struct in_addr a;
  struct in6_addr a6;

  memset (dst, 0, len);
  switch (src)
    {
    case MOAT_SRC_NONE:
      return false;
    case MOAT_SRC_IIFNAME:
      return put_ifname (dst, len, w->iif);
    case MOAT_SRC_OIFNAME:
      return put_ifname (dst, len, w->oif);
    case MOAT_SRC_IP_SADDR:
      memcpy (dst, &p->saddr.s_addr, 4);
      return is_ip4 (p);
    case MOAT_SRC_IP_DADDR:
      memcpy (dst, &w->daddr.s_addr, 4);
      return is_ip4 (p);
    case MOAT_SRC_IP6_SADDR:
      memcpy (dst, p->saddr6.s6_addr, 16);
      return p->ip6;
    case MOAT_SRC_IP6_DADDR:
      memcpy (dst, w->daddr6.s6_addr, 16);
      return p->ip6;
    case MOAT_SRC_ND_TARGET:
      memcpy (dst, p->nd_target.s6_addr, 16);
      return is_nd (p);
    case MOAT_SRC_ND_LLADDR:
      memcpy (dst, p->nd_lladdr, MOAT_MAC_LEN);
      return is_nd (p) && p->nd_option != 0;
    case MOAT_SRC_CT_ORIGINAL_SADDR6:
    case MOAT_SRC_CT_REPLY_SADDR6:
      if (p->ct == MOAT_EVAL_CT_INVALID || !p->ip6)
        return false;
      a6 = ct_saddr6 (w, src == MOAT_SRC_CT_REPLY_SADDR6);
      memcpy (dst, a6.s6_addr, 16);
      return true;
    case MOAT_SRC_L4PROTO:
      dst[0] = p->proto;
      return !is_arp (p);
    case MOAT_SRC_TH_DPORT:
      memcpy (dst, &port, 2);
      return !is_arp (p);
    case MOAT_SRC_ETHER_SADDR:
      memcpy (dst, p->ether_saddr, MOAT_MAC_LEN);
      return w->family == NFPROTO_BRIDGE || w->iif; /* inet: what came in by an interface */
    case MOAT_SRC_ARP_SHA:
      memcpy (dst, p->arp_sha, MOAT_MAC_LEN);
      return is_arp (p);
    case MOAT_SRC_ARP_SPA:
      memcpy (dst, &p->arp_spa.s_addr, 4);
      return is_arp (p);
    case MOAT_SRC_CT_ORIGINAL_SADDR:
    case MOAT_SRC_CT_REPLY_SADDR:
      if (p->ct == MOAT_EVAL_CT_INVALID || p->ip6)
        return false; /* no conntrack entry */
      a = ct_saddr (w, src == MOAT_SRC_CT_REPLY_SADDR);
      memcpy (dst, &a.s_addr, 4);
      return true;
    case MOAT_SRC_SOCKET_CGROUP:
      return load_cgroup (w, dst, len);
    case MOAT_SRC_VXLAN_VNI:
      return false; /* explain's packets are never VXLAN datagrams */
    }
  return false;
}

/* The key of a lookup in `set` from the term's sources. */
static bool
build_key (struct walk *w, const struct moat_set_def *set, const enum moat_source *sources,
           uint8_t *key, uint32_t *ret_len)
{
  uint32_t off = 0;

  w->big_endian = (set->flags & NFT_SET_INTERVAL) != 0;
  for (unsigned i = 0; i < set->nfields; i++)
    {
      uint32_t len = moat_field_infos[set->fields[i]].len;

      memset (key + off, 0, moat_field_padded (len));
      if (!load_source (w, sources[i], key + off, len))
        return false;
      off += moat_field_padded (len);
    }
  *ret_len = off;
  return true;
}

/* An interval element holds the key when every field lies in its range
 * (the pipapo backend's rule for concatenations). */
static bool
in_range (const struct moat_set_def *set, const struct moat_elem *e, const uint8_t *key)
{
  uint32_t off = 0;

  for (unsigned i = 0; i < set->nfields; i++)
    {
      uint32_t len = moat_field_infos[set->fields[i]].len;

      if (memcmp (key + off, e->key + off, len) < 0
          || memcmp (key + off, e->key_end + off, len) > 0)
        return false;
      off += moat_field_padded (len);
    }
  return true;
}

static bool
elem_holds (const struct moat_set_def *set, const struct moat_elem *e, const uint8_t *key,
            uint32_t key_len)
{
  if (e->key_len != key_len)
    return false;
  if ((set->flags & NFT_SET_INTERVAL) && e->key_end_len)
    return in_range (set, e, key);
  return memcmp (e->key, key, key_len) == 0;
}

/* The first element of `set` holding the key, or MOAT_EVAL_NO_ELEM. An
 * identity's set (MOAT_SET_IDENT) is the one named `ident_set`. */
static size_t
set_find (const struct walk *w, enum moat_set set, const char *ident_set, const uint8_t *key,
          uint32_t key_len)
{
  const struct moat_set_def *def = moat_set_def_of (set);
  size_t n = moat_nft_elems_count (w->elems);

  for (size_t i = 0; i < n; i++)
    {
      const struct moat_elem *e = moat_nft_elems_at (w->elems, i);

      if (moat_elem_set (e) != set
          || ((set == MOAT_SET_IDENT || set == MOAT_SET_IDENT6)
              && strcmp (moat_elem_set_name (e), ident_set) != 0))
        continue;
      if (elem_holds (def, e, key, key_len))
        return i;
    }
  return MOAT_EVAL_NO_ELEM;
}

/* The key from the sources, looked up; *ret_loaded false when a source
 * is not in this packet (the rule breaks). */
static size_t
lookup (struct walk *w, enum moat_set set, const enum moat_source *sources, bool *ret_loaded)
{
  uint8_t key[MOAT_ELEM_KEY_MAX];
  uint32_t key_len;

  *ret_loaded = build_key (w, moat_set_def_of (set), sources, key, &key_len);
  if (!*ret_loaded)
    return MOAT_EVAL_NO_ELEM;
  return set_find (w, set, w->chain, key, key_len);
}

/* --- terms and rules ------------------------------------------------------------------- */

/* A frame's ether type: ARP, IPv6, else IPv4. */
static uint16_t
ether_type (const struct moat_eval_packet *p)
{
  if (p->ether_type)
    return p->ether_type;
  return p->ip6 ? MOAT_ETHERTYPE_IPV6 : MOAT_ETHERTYPE_IPV4;
}

/* icmp type / icmpv6 type: nft's dependency is the l4proto of the family. */
static bool
is_icmp (const struct moat_eval_packet *p)
{
  return p->ip6 ? p->proto == IPPROTO_ICMPV6 : !is_arp (p) && p->proto == IPPROTO_ICMP;
}

static uint32_t
ct_state_bit (enum moat_eval_ct ct)
{
  switch (ct)
    {
    case MOAT_EVAL_CT_NEW:
      return 0x8u; /* NF_CT_STATE_BIT (IP_CT_NEW) */
    case MOAT_EVAL_CT_ESTABLISHED:
      return MOAT_CT_ESTABLISHED;
    case MOAT_EVAL_CT_RELATED:
      return MOAT_CT_RELATED;
    case MOAT_EVAL_CT_INVALID:
      return MOAT_CT_INVALID;
    }
  return 0;
}

static int
unsupported (const struct walk *w, const struct moat_rule_def *def, const char *what)
{
  return moat_error (w->err, MOAT_E_CONFIG, 0, "eval: %s %s, rule \"%s\": %s unsupported",
                     moat_family_name (def->family), def->chain, def->text, what);
}

/* 1 when the term holds, 0 when not, -1 when it is of a kind unknown
 * here. A lookup that matched leaves its element in *elem. */
static int
term_holds (struct walk *w, const struct moat_rule_def *def, const struct moat_term *t,
            size_t *elem)
{
  const struct moat_eval_packet *p = w->p;
  bool loaded;
  size_t found;

  switch (t->kind)
    {
    case MOAT_TERM_END:
      return 1;
    case MOAT_TERM_IPV4:
      return is_ip4 (p);
    case MOAT_TERM_IPV6:
      return p->ip6;
    case MOAT_TERM_ETHER_TYPE:
      return ether_type (p) == t->value;
    case MOAT_TERM_L4PROTO:
      return !is_arp (p) && p->proto == t->value;
    case MOAT_TERM_ICMP_TYPE:
      return is_icmp (p) && p->icmp_type == t->value;
    case MOAT_TERM_ICMP_TYPE_RANGE:
      return is_icmp (p) && p->icmp_type >= (t->value & 0xff) && p->icmp_type <= (t->value >> 8);
    case MOAT_TERM_ND_OPTION: /* no option: the load fails */
      return is_nd (p) && p->nd_option != 0 && p->nd_option != t->value;
    case MOAT_TERM_TH_SPORT:
      return !is_arp (p) && (p->proto == IPPROTO_UDP || p->proto == IPPROTO_TCP)
             && p->sport == t->value;
    case MOAT_TERM_TH_DPORT:
      return !is_arp (p) && (p->proto == IPPROTO_UDP || p->proto == IPPROTO_TCP)
             && w->dport == t->value;
    case MOAT_TERM_CT_STATE:
      return (ct_state_bit (p->ct) & t->value) != 0;
    case MOAT_TERM_CT_REPLY:
      return p->ct != MOAT_EVAL_CT_INVALID && p->ct_reply;
    case MOAT_TERM_FIB_LOCAL:
      if (p->ip6)
        return p->is_local6 && p->is_local6 (&w->daddr6, w->local_data);
      return !is_arp (p) && w->is_local && w->is_local (w->daddr, w->local_data);
    case MOAT_TERM_CT_DNAT:
      return p->ct != MOAT_EVAL_CT_INVALID && (p->ct_dnat || w->r->dnat);
    case MOAT_TERM_SADDR_LOOPBACK:
      return is_ip4 (p) && (ntohl (p->saddr.s_addr) >> 24) == 127;
    case MOAT_TERM_DADDR_LOOPBACK:
      return is_ip4 (p) && (ntohl (w->daddr.s_addr) >> 24) == 127;
    case MOAT_TERM_RATE:
      return 1; /* within its rate: explain tells what a refusal is, not how many */
    case MOAT_TERM_IIF_LO:
      return w->iif && strcmp (w->iif, "lo") == 0;
    case MOAT_TERM_OIF_LO:
      return w->oif && strcmp (w->oif, "lo") == 0;
    case MOAT_TERM_EXTHDR_FRAG:
      return p->ip6 && p->frag;
    case MOAT_TERM_DADDR6_LINK:
      return p->ip6 && w->daddr6.s6_addr[0] == 0xfe && (w->daddr6.s6_addr[1] & 0xc0) == 0x80;
    case MOAT_TERM_DADDR6_MCAST:
      return p->ip6 && w->daddr6.s6_addr[0] == 0xff;
    case MOAT_TERM_IIFTYPE_ETHER:
      return w->iif != NULL; /* every interface explain knows is an Ethernet one */
    case MOAT_TERM_LOOKUP:
    case MOAT_TERM_NOT_LOOKUP:
      /* An identity's set is named as the identity's chain it is in. */
      found = lookup (w, t->set, t->sources, &loaded);
      if (!loaded)
        return 0;
      if (t->kind == MOAT_TERM_NOT_LOOKUP)
        return found == MOAT_EVAL_NO_ELEM;
      if (found != MOAT_EVAL_NO_ELEM)
        *elem = found;
      return found != MOAT_EVAL_NO_ELEM;
    }
  return unsupported (w, def, "term kind");
}

static int
terms_hold (struct walk *w, const struct moat_rule_def *def, size_t *elem)
{
  for (size_t i = 0; i < MOAT_RULE_MAX_TERMS && def->terms[i].kind != MOAT_TERM_END; i++)
    {
      int r = term_holds (w, def, &def->terms[i], elem);

      if (r <= 0)
        return r;
    }
  return 1;
}

static int
record_step (struct walk *w, size_t rule, const char *chain, const char *text, size_t elem)
{
  struct moat_eval_step *s;

  if (w->r->nsteps == MOAT_EVAL_MAX_STEPS)
    return moat_error (w->err, MOAT_E_CONFIG, 0, "eval: more than %d rules matched",
                       MOAT_EVAL_MAX_STEPS);
  s = &w->r->steps[w->r->nsteps++];
  s->family = w->family;
  s->chain = chain;
  s->text = text;
  s->rule = rule;
  s->elem = elem;
  s->set = NULL;
  if (elem != MOAT_EVAL_NO_ELEM)
    {
      const struct moat_elem *e = moat_nft_elems_at (w->elems, elem);

      s->set = moat_elem_set_name (e);
    }
  if (w->hits)
    w->hits[rule != MOAT_EVAL_IDENT_RULE ? rule
            : w->p->ip6                  ? moat_rules_count ()
                                         : moat_rules_count () + 1]++;
  return 0;
}

static int run_chain (struct walk *w, const char *chain, unsigned depth, enum outcome *ret);

/* ip daddr -> proxy's address and port, from the map's element. */
static void
apply_dnat (struct walk *w, size_t elem)
{
  const struct moat_elem *e = moat_nft_elems_at (w->elems, elem);
  uint16_t port;

  if (e->data_len == 20)
    {
      memcpy (w->daddr6.s6_addr, e->data, 16);
      memcpy (&port, e->data + 16, 2);
    }
  else
    {
      memcpy (&w->daddr.s_addr, e->data, 4);
      memcpy (&port, e->data + 4, 2);
    }
  w->dport = ntohs (port);
  w->r->dnat = true;
  w->r->dnat_addr = w->daddr;
  w->r->dnat_addr6 = w->daddr6;
  w->r->dnat_port = w->dport;
}

/* A map lookup an action does: its key sources are the action's own. */
static size_t
action_lookup (struct walk *w, enum moat_set set, const enum moat_source *sources)
{
  bool loaded;

  return lookup (w, set, sources, &loaded);
}

/* What the rule's action does once its terms hold: an outcome, or
 * OUT_CONTINUE to go on with the next rule. */
static int
run_action (struct walk *w, const struct moat_rule_def *def, size_t index, size_t elem,
            unsigned depth, enum outcome *ret)
{
  static const enum moat_source proxy_key[2][MOAT_SET_MAX_FIELDS]
      = { { MOAT_SRC_IP_SADDR, MOAT_SRC_TH_DPORT }, { MOAT_SRC_IP6_SADDR, MOAT_SRC_TH_DPORT } };
  static const enum moat_source ident_key[2][MOAT_SET_MAX_FIELDS]
      = { { MOAT_SRC_IP_SADDR }, { MOAT_SRC_IP6_SADDR } };
  static const enum moat_source publish_key[2][MOAT_SET_MAX_FIELDS]
      = { { MOAT_SRC_IP_DADDR, MOAT_SRC_L4PROTO, MOAT_SRC_TH_DPORT },
          { MOAT_SRC_IP6_DADDR, MOAT_SRC_L4PROTO, MOAT_SRC_TH_DPORT } };
  unsigned v6 = def->v6;
  static const enum moat_source cgroup_key[MOAT_SET_MAX_FIELDS] = { MOAT_SRC_SOCKET_CGROUP };
  size_t found;

  *ret = OUT_CONTINUE;
  switch (def->action)
    {
    case MOAT_ACT_ACCEPT:
      *ret = OUT_ACCEPT;
      return record_step (w, index, w->chain, def->text, elem);
    case MOAT_ACT_DROP:
      *ret = OUT_DROP;
      return record_step (w, index, w->chain, def->text, elem);
    case MOAT_ACT_REJECT_TCP_RESET:
    case MOAT_ACT_REJECT_ADMIN:
      *ret = OUT_REJECT;
      return record_step (w, index, w->chain, def->text, elem);
    case MOAT_ACT_JUMP:
    case MOAT_ACT_GOTO:
      if (record_step (w, index, w->chain, def->text, elem) < 0)
        return -1;
      return run_chain (w, def->target, depth + 1, ret);
    case MOAT_ACT_MASQUERADE:
      w->r->masquerade = true;
      *ret = OUT_ACCEPT;
      return record_step (w, index, w->chain, def->text, elem);
    case MOAT_ACT_PROXY_DNAT:
      found = action_lookup (w, v6 ? MOAT_SET_PROXY6 : MOAT_SET_PROXY, proxy_key[v6]);
      if (found == MOAT_EVAL_NO_ELEM)
        return 0; /* the map has no value: the rule breaks */
      apply_dnat (w, found);
      *ret = OUT_ACCEPT;
      return record_step (w, index, w->chain, def->text, found);
    case MOAT_ACT_PUBLISH_DNAT:
      found = action_lookup (w, v6 ? MOAT_SET_PUBLISH6 : MOAT_SET_PUBLISH, publish_key[v6]);
      if (found == MOAT_EVAL_NO_ELEM)
        return 0;
      apply_dnat (w, found);
      *ret = OUT_ACCEPT;
      return record_step (w, index, w->chain, def->text, found);
    case MOAT_ACT_LOG:
      w->r->logged = true; /* no verdict: the next rule runs */
      return record_step (w, index, w->chain, def->text, elem);
    case MOAT_ACT_COUNT:
      /* No verdict and no step (explain's last step is the decider):
       * only coverage sees it. */
      if (w->hits)
        w->hits[index]++;
      return 0;
    case MOAT_ACT_SRC_IDENT:
      found = action_lookup (w, v6 ? MOAT_SET_SRC_IDENT6 : MOAT_SET_SRC_IDENT, ident_key[v6]);
      if (found == MOAT_EVAL_NO_ELEM)
        return 0;
      if (record_step (w, index, w->chain, def->text, found) < 0)
        return -1;
      return run_chain (w, moat_nft_elems_at (w->elems, found)->jump, depth + 1, ret);
    case MOAT_ACT_CGROUP_IDENT:
      found = action_lookup (w, v6 ? MOAT_SET_HOSTNET_IDENT6 : MOAT_SET_HOSTNET_IDENT, cgroup_key);
      if (found == MOAT_EVAL_NO_ELEM)
        return 0;
      if (record_step (w, index, w->chain, def->text, found) < 0)
        return -1;
      return run_chain (w, moat_nft_elems_at (w->elems, found)->jump, depth + 1, ret);
    }
  return unsupported (w, def, "action");
}

static bool
chain_known (uint16_t family, const char *chain)
{
  for (size_t i = 0; i < moat_chain_defs_count; i++)
    if (moat_chain_defs[i].family == family && strcmp (moat_chain_defs[i].name, chain) == 0)
      return true;
  return false;
}

/* The chain's rule after `*at` (start at 0), and its index, or NULL: the
 * rules naming it (moat_rule_at), those made at its head first, or an
 * identity's one rule (its IPv6 twin for an IPv6 packet). */
static const struct moat_rule_def *
next_rule (const struct walk *w, const char *chain, size_t *at, size_t *ret_index)
{
  size_t n = moat_rules_count ();

  if (!chain_known (w->family, chain))
    {
      if (*at > 0)
        return NULL;
      *at = 1;
      *ret_index = MOAT_EVAL_IDENT_RULE;
      return w->p->ip6 ? &moat_ident_rule6_def : &moat_ident_rule_def;
    }
  for (; *at < 2 * n; ++*at)
    {
      const struct moat_rule_def *def = moat_rule_at (*at % n);

      if (def->family == w->family && def->insert == (*at < n) && strcmp (def->chain, chain) == 0)
        {
          *ret_index = (*at)++ % n;
          return def;
        }
    }
  return NULL;
}

static bool
is_ident_chain (const struct walk *w, const char *chain)
{
  return w->family == moat_ident_chain_def.family
         && strncmp (chain, moat_ident_chain_def.name, strlen (moat_ident_chain_def.name)) == 0;
}

static int
run_chain (struct walk *w, const char *chain, unsigned depth, enum outcome *ret)
{
  const char *caller = w->chain;
  const struct moat_rule_def *def;
  size_t at = 0, index;

  *ret = OUT_CONTINUE;
  if (depth > MAX_DEPTH)
    return moat_error (w->err, MOAT_E_CONFIG, 0, "eval: chain \"%s\": jumps nest too deep", chain);
  if (!chain_known (w->family, chain) && !is_ident_chain (w, chain))
    return moat_error (w->err, MOAT_E_CONFIG, 0, "eval: no chain %s %s",
                       moat_family_name (w->family), chain);
  while ((def = next_rule (w, chain, &at, &index)))
    {
      size_t elem = MOAT_EVAL_NO_ELEM;
      int r;

      w->chain = chain;
      r = terms_hold (w, def, &elem);
      if (r < 0 || (r > 0 && run_action (w, def, index, elem, depth, ret) < 0))
        return -1;
      /* Off the end of a chain entered by goto: back to our caller. */
      if (*ret != OUT_CONTINUE || (r > 0 && def->action == MOAT_ACT_GOTO))
        break;
    }
  w->chain = caller;
  return 0;
}

/* --- hooks ----------------------------------------------------------------------------- */

/* Whether base chain `c` sees this packet at `hook`: nat chains see only
 * a connection's first packet. */
static bool
chain_runs (const struct walk *w, const struct moat_chain_def *c, uint16_t family, uint32_t hook)
{
  if (!c->type || c->family != family || c->hook != hook)
    return false;
  return strcmp (c->type, "nat") != 0 || w->p->ct == MOAT_EVAL_CT_NEW;
}

/* The base chains of one hook, by priority (lowest first). */
static int
run_hook (struct walk *w, uint16_t family, uint32_t hook, enum outcome *ret)
{
  const struct moat_chain_def *prev = NULL;

  w->family = family;
  w->hook = family == NFPROTO_INET ? hook : (uint32_t)-1;
  *ret = OUT_ACCEPT;
  for (;;)
    {
      const struct moat_chain_def *next = NULL;
      enum outcome o;

      for (size_t i = 0; i < moat_chain_defs_count; i++)
        {
          const struct moat_chain_def *c = &moat_chain_defs[i];

          if (chain_runs (w, c, family, hook) && (!prev || c->prio > prev->prio)
              && (!next || c->prio < next->prio))
            next = c;
        }
      if (!next)
        return 0;
      if (run_chain (w, next->name, 0, &o) < 0)
        return -1;
      if (o == OUT_DROP || o == OUT_REJECT)
        {
          *ret = o;
          return 0;
        }
      prev = next;
    }
}

/* Where the routing sends the destination: a container's bridge (its
 * members or members6 element), else the uplink. */
static const char *
route (const struct walk *w)
{
  size_t n = moat_nft_elems_count (w->elems);
  enum moat_set set = w->p->ip6 ? MOAT_SET_MEMBERS6 : MOAT_SET_MEMBERS;
  const void *daddr = w->p->ip6 ? (const void *)w->daddr6.s6_addr : (const void *)&w->daddr;
  size_t len = w->p->ip6 ? 16 : 4;

  for (size_t i = 0; i < n; i++)
    {
      const struct moat_elem *e = moat_nft_elems_at (w->elems, i);

      /* members: ifname . address */
      if (moat_elem_set (e) == set
          && memcmp (e->key + moat_field_padded (IFNAMSIZ), daddr, len) == 0)
        return (const char *)e->key;
    }
  /* An IPv6 subnet is a /64 (docs/design.md, "IPv6"): an address of it
   * that no member holds still routes to its bridge. */
  for (size_t i = 0; w->p->ip6 && i < n; i++)
    {
      const struct moat_elem *e = moat_nft_elems_at (w->elems, i);

      if (moat_elem_set (e) == set && memcmp (e->key + moat_field_padded (IFNAMSIZ), daddr, 8) == 0)
        return (const char *)e->key;
    }
  return w->p->uplink;
}

static enum moat_eval_verdict
verdict_of (enum outcome o)
{
  return o == OUT_DROP ? MOAT_EVAL_DROP : o == OUT_REJECT ? MOAT_EVAL_REJECT : MOAT_EVAL_ACCEPT;
}

/* Whether the packet's destination is one of the host's addresses. */
static bool
to_local (const struct walk *w, moat_eval_is_local_fn is_local, void *data)
{
  if (w->p->ip6)
    return w->p->is_local6 && w->p->is_local6 (&w->daddr6, data);
  return is_local && is_local (w->daddr, data);
}

/* The IP hooks after prerouting (or from output). */
static int
run_routed (struct walk *w, bool sent, moat_eval_is_local_fn is_local, void *data,
            enum outcome *ret)
{
  w->r->local = !sent && to_local (w, is_local, data);
  if (w->r->local)
    {
      w->oif = NULL;
      return run_hook (w, NFPROTO_INET, NF_INET_LOCAL_IN, ret);
    }
  /* What the host sends to one of its own addresses leaves by lo. */
  w->oif = sent && to_local (w, is_local, data) ? "lo" : route (w);
  if (sent)
    w->iif = NULL;
  if (run_hook (w, NFPROTO_INET, sent ? NF_INET_LOCAL_OUT : NF_INET_FORWARD, ret) < 0)
    return -1;
  if (sent && w->r->dnat)
    w->oif = route (w); /* the output hook's dnat routes the packet again */
  if (*ret != OUT_ACCEPT)
    return 0;
  return run_hook (w, NFPROTO_INET, NF_INET_POST_ROUTING, ret);
}

int
moat_eval (const struct moat_nft_elems *elems, const struct moat_eval_packet *p,
           moat_eval_is_local_fn is_local, void *data, struct moat_eval_result *ret, unsigned *hits,
           moat_err_t *err)
{
  struct walk w = { .elems = elems,
                    .p = p,
                    .r = ret,
                    .hits = hits,
                    .err = err,
                    .is_local = is_local,
                    .local_data = data };
  bool sent = !p->port && !p->iif;
  enum outcome o = OUT_ACCEPT;

  memset (ret, 0, sizeof (*ret));
  w.daddr = p->daddr;
  w.daddr6 = p->daddr6;
  w.dport = p->dport;
  w.iif = p->port ? p->port : p->iif;
  if (p->port && !p->reserved_mac)
    {
      if (run_hook (&w, NFPROTO_BRIDGE, 0 /* NF_BR_PRE_ROUTING */, &o) < 0)
        return -1;
      /* ARP ends at the bridge (the host answers it); IP goes up with the
       * bridge as its interface. */
      if (o != OUT_ACCEPT || is_arp (p))
        goto done;
      w.iif = p->bridge;
    }
  if (is_arp (p))
    goto done;
  if (!sent && run_hook (&w, NFPROTO_INET, NF_INET_PRE_ROUTING, &o) < 0)
    return -1;
  if (o == OUT_ACCEPT && run_routed (&w, sent, is_local, data, &o) < 0)
    return -1;
done:
  ret->verdict = verdict_of (o);
  return 0;
}

size_t
moat_eval_rule_count (void)
{
  return moat_rules_count () + 1;
}

void
moat_eval_rule_name (size_t rule, const char **ret_chain, const char **ret_text)
{
  size_t n = moat_rules_count ();

  if (rule >= n)
    {
      *ret_chain = rule == n ? "id_<ident>6" : "id_<ident>";
      *ret_text = rule == n ? moat_ident_rule6_def.text : "ip daddr @id_<ident> accept";
      return;
    }
  *ret_chain = moat_rule_at (rule)->chain;
  *ret_text = moat_rule_at (rule)->text;
}

const struct moat_eval_step *
moat_eval_decider (const struct moat_eval_result *r)
{
  return r->nsteps ? &r->steps[r->nsteps - 1] : NULL;
}
