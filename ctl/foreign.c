/* SPDX-License-Identifier: Apache-2.0 */
/* Foreign rules that would override moat (see foreign.h): the kernel's
 * chains and rules are read with two netlink dumps, each rule is reduced to
 * what matters here (its verdict, the interfaces it matches by name, whether
 * it matches anything else), and each foreign base chain at a hook moat's
 * traffic crosses is walked in order, keeping track of which bridges its
 * accept rules have let through so far. Reading a rule: foreign-view.c. */
#include "foreign.h"
#include "foreign-view.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter_arp.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>

#include "base/cleanup.h"
#include "kernel/nfnl.h"

DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_chain_list *, nftnl_chain_list_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nftnl_rule_list *, nftnl_rule_list_free)

#define RECV_BUF_SIZE (64 * 1024)
#define DUMP_ATTEMPTS 5 /* reads of a ruleset that changed under the dumps */

/* --- where moat's traffic meets netfilter -------------------------------- */

enum
{
  DIR_IN = 1,  /* from the bridge: iifname, meta ibrname */
  DIR_OUT = 2, /* to the bridge: oifname, meta obrname */
};

struct hook_info
{
  uint32_t family;
  uint32_t hook;
  const char *name;
  unsigned need;      /* directions an accept must cover */
  const char *effect; /* a drop policy's effect (forward: see forward_effect) */
  const char *noun;   /* what a drop rule there may drop */
};

#define EFFECT_TAIL "that no rule of the chain accepts first"

/* The inet family is looked up as ip. The bridge family's hook numbers
 * (NF_BR_*) are those of NF_INET_*. */
static const struct hook_info hook_infos[] = {
  { NFPROTO_IPV4, NF_INET_PRE_ROUTING, "prerouting", DIR_IN,
    "drops everything moat's containers send " EFFECT_TAIL, "what moat's containers send" },
  { NFPROTO_IPV4, NF_INET_LOCAL_IN, "input", DIR_IN,
    "drops what moat's containers send to the host (allowed host ports, replies to connections "
    "the host opens to them) " EFFECT_TAIL,
    "what moat's containers send to the host" },
  { NFPROTO_IPV4, NF_INET_FORWARD, "forward", DIR_IN | DIR_OUT, NULL,
    "flows of moat's containers through the host" },
  { NFPROTO_IPV4, NF_INET_LOCAL_OUT, "output", DIR_OUT,
    "drops what the host sends to moat's containers (its connections to them, replies from "
    "allowed host ports) " EFFECT_TAIL,
    "what the host sends to moat's containers" },
  { NFPROTO_ARP, NF_ARP_IN, "input", DIR_IN,
    "drops the ARP requests of moat's containers, which then reach nothing, unless a rule of "
    "the chain accepts them first",
    "the ARP requests of moat's containers" },
  { NFPROTO_ARP, NF_ARP_OUT, "output", DIR_OUT,
    "drops the host's proxy ARP replies to moat's containers, which then reach nothing, unless "
    "a rule of the chain accepts them first",
    "the host's proxy ARP replies to moat's containers" },
  { NFPROTO_BRIDGE, NF_INET_PRE_ROUTING, "prerouting", DIR_IN,
    "drops the frames moat's containers send on the bridge " EFFECT_TAIL,
    "frames moat's containers send on the bridge" },
  { NFPROTO_BRIDGE, NF_INET_LOCAL_IN, "input", DIR_IN,
    "drops the frames moat's containers send on the bridge " EFFECT_TAIL,
    "frames moat's containers send on the bridge" },
  { NFPROTO_BRIDGE, NF_INET_LOCAL_OUT, "output", DIR_OUT,
    "drops the frames the host sends to moat's containers " EFFECT_TAIL,
    "frames the host sends to moat's containers" },
};

static const struct hook_info *
hook_info_find (uint32_t family, uint32_t hook, bool ip6)
{
  if (family == NFPROTO_INET || (ip6 && family == NFPROTO_IPV6))
    family = NFPROTO_IPV4;
  for (size_t i = 0; i < ARRAY_SIZE (hook_infos); i++)
    if (hook_infos[i].family == family && hook_infos[i].hook == hook)
      return &hook_infos[i];
  return NULL;
}

/* At hook forward, what is lost depends on the directions not accepted. */
static const char *
forward_effect (unsigned missing)
{
  if (missing == DIR_IN)
    return "drops what moat's containers send to the outside " EFFECT_TAIL;
  if (missing == DIR_OUT)
    return "drops what the host forwards from the outside to moat's containers (replies to their "
           "connections, allowed ingress) " EFFECT_TAIL;
  return "drops every flow of moat's containers through the host (between them, and to and from "
         "the outside) " EFFECT_TAIL;
}

static const char *
family_name (uint32_t family)
{
  switch (family)
    {
    case NFPROTO_IPV4:
      return "ip";
    case NFPROTO_IPV6:
      return "ip6";
    case NFPROTO_INET:
      return "inet";
    case NFPROTO_ARP:
      return "arp";
    case NFPROTO_BRIDGE:
      return "bridge";
    case NFPROTO_NETDEV:
      return "netdev";
    default:
      return "unknown";
    }
}

static bool
is_moat_table (uint32_t family, const char *table)
{
  return strcmp (table, "moat") == 0
         && (family == NFPROTO_INET || family == NFPROTO_BRIDGE || family == NFPROTO_IPV4
             || family == NFPROTO_IPV6);
}

/* --- interfaces and bridges ---------------------------------------------- */

static bool
iface_names (const struct iface_match *m, const char *name)
{
  if (m->prefix)
    return strncmp (name, m->name, strlen (m->name)) == 0;
  return strcmp (name, m->name) == 0;
}

/* moat's host veth names: "mt" and 13 hex digits (names.h). */
static bool
may_be_moat_port (const struct iface_match *m)
{
  static const char pattern[] = "mt";
  size_t len = strlen (m->name);

  if (len > 15 || (!m->prefix && len != 15))
    return false;
  for (size_t i = 0; i < len; i++)
    {
      char ch = m->name[i];

      if (i < 2 ? ch != pattern[i] : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
        return false;
    }
  return true;
}

struct analysis
{
  struct view view;
  char *const *bridges;
  size_t n_bridges;
  struct moat_conflict *out;
  size_t n_out, cap_out;
  bool ip6; /* the ip6 family's hooks too, as ip's (an IPv6 flow's) */
};

static bool
names_a_bridge (const struct analysis *a, const struct iface_match *m)
{
  for (size_t b = 0; b < a->n_bridges; b++)
    if (iface_names (m, a->bridges[b]))
      return true;
  return false;
}

/* Could traffic of moat's pass this interface match? */
static bool
may_be_moat (const struct analysis *a, uint32_t family, const struct iface_match *m)
{
  bool port_key = m->key == IFK_IIFNAME || m->key == IFK_OIFNAME;

  if (family == NFPROTO_BRIDGE)
    return port_key ? may_be_moat_port (m) : names_a_bridge (a, m);
  return port_key ? names_a_bridge (a, m) : true;
}

/* The rule matches interfaces by name, none of them moat's. */
static bool
pinned_elsewhere (const struct analysis *a, uint32_t family, const struct rule_view *r)
{
  if (r->n_ifaces == 0)
    return false;
  for (size_t i = 0; i < r->n_ifaces; i++)
    if (may_be_moat (a, family, &r->ifaces[i]))
      return false;
  return true;
}

static bool
unconditional (const struct rule_view *r)
{
  return r->n_ifaces == 0 && !r->other && !r->ct_invalid;
}

/* The direction an interface match accepts in this family, or 0. */
static unsigned
iface_direction (uint32_t family, enum iface_key key)
{
  if (family == NFPROTO_BRIDGE)
    return key == IFK_BRI_IIFNAME ? DIR_IN : key == IFK_BRI_OIFNAME ? DIR_OUT : 0;
  return key == IFK_IIFNAME ? DIR_IN : key == IFK_OIFNAME ? DIR_OUT : 0;
}

/* An accept rule adds what it lets through to `cov` (per bridge). */
static void
cover (const struct analysis *a, uint32_t family, const struct rule_view *r, unsigned *cov)
{
  unsigned dir;

  if (r->verdict != VERDICT_ACCEPT || r->other || r->ct_invalid)
    return;
  if (r->n_ifaces == 0)
    {
      for (size_t b = 0; b < a->n_bridges; b++)
        cov[b] = DIR_IN | DIR_OUT;
      return;
    }
  if (r->n_ifaces != 1 || !(dir = iface_direction (family, r->ifaces[0].key)))
    return;
  for (size_t b = 0; b < a->n_bridges; b++)
    if (iface_names (&r->ifaces[0], a->bridges[b]))
      cov[b] |= dir;
}

/* The directions some bridge still lacks. */
static unsigned
missing (const struct analysis *a, const unsigned *cov, unsigned need)
{
  unsigned m = 0;

  for (size_t b = 0; b < a->n_bridges; b++)
    m |= need & ~cov[b];
  return m;
}

/* --- explanations --------------------------------------------------------- */

static bool
is_one_of (const char *s, const char *const *list)
{
  for (; *list; list++)
    if (strcmp (s, *list) == 0)
      return true;
  return false;
}

/* A base chain iptables-nft, arptables-nft or ebtables-nft made (a
 * built-in chain of one of their tables): the fix is said in their words. */
static bool
xtables_managed (const struct chain_view *base)
{
  static const char *const ip_tables[] = { "filter", "nat", "mangle", "raw", "security", NULL };
  static const char *const eb_tables[] = { "filter", "nat", "broute", NULL };
  static const char *const builtin[]
      = { "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING", "BROUTING", NULL };

  if (!is_one_of (base->name, builtin))
    return false;
  switch (base->family)
    {
    case NFPROTO_IPV4:
    case NFPROTO_IPV6:
      return is_one_of (base->table, ip_tables);
    case NFPROTO_ARP:
      return strcmp (base->table, "filter") == 0;
    case NFPROTO_BRIDGE:
      return is_one_of (base->table, eb_tables);
    default:
      return false;
    }
}

/* docker's FORWARD, whose first rule jumps to DOCKER-USER whatever the
 * packet: the place docker leaves to the host's own rules, where
 * `moatctl docker-user` accepts the bridges (ctl/dockeruser.h). */
static bool
docker_forward (const struct chain_view *base)
{
  const struct rule_view *first = base->n_rules ? &base->rules[0] : NULL;

  return (base->family == NFPROTO_IPV4 || base->family == NFPROTO_IPV6)
         && strcmp (base->table, "filter") == 0 && strcmp (base->name, "FORWARD") == 0 && first
         && first->verdict == VERDICT_JUMP && first->target
         && strcmp (first->target, "DOCKER-USER") == 0 && first->n_ifaces == 0 && !first->other
         && !first->ct_invalid;
}

/* One command that accepts `bridge` in direction `dir` at the top of
 * the base chain. */
static void
write_fix (FILE *f, const struct chain_view *base, const char *bridge, unsigned dir)
{
  bool in = dir == DIR_IN;

  if (!xtables_managed (base))
    {
      fprintf (f, "nft insert rule %s %s %s %s \"%s\" accept", family_name (base->family),
               base->table, base->name,
               base->family == NFPROTO_BRIDGE ? (in ? "meta ibrname" : "meta obrname")
                                              : (in ? "iifname" : "oifname"),
               bridge);
      return;
    }
  fputs (base->family == NFPROTO_IPV4   ? "iptables "
         : base->family == NFPROTO_IPV6 ? "ip6tables "
         : base->family == NFPROTO_ARP  ? "arptables "
                                        : "ebtables ",
         f);
  if (strcmp (base->table, "filter") != 0)
    fprintf (f, "-t %s ", base->table);
  if (base->family == NFPROTO_BRIDGE)
    fprintf (f, "-I %s --logical-%s %s -j ACCEPT", base->name, in ? "in" : "out", bridge);
  else
    fprintf (f, "-I %s %s %s -j ACCEPT", docker_forward (base) ? "DOCKER-USER" : base->name,
             in ? "-i" : "-o", bridge);
}

/* Every command needed to accept what `cov` still lacks of `need`. */
static void
write_fixes (FILE *f, const struct analysis *a, const struct chain_view *base, const unsigned *cov,
             unsigned need)
{
  bool first = true;

  if (docker_forward (base))
    {
      fputs ("moatctl docker-user add", f);
      for (size_t b = 0; b < a->n_bridges; b++)
        if (need & ~cov[b])
          fprintf (f, " %s", a->bridges[b]);
      fputs (" (", f);
    }
  for (size_t b = 0; b < a->n_bridges; b++)
    for (unsigned dir = DIR_IN; dir <= DIR_OUT; dir <<= 1)
      if ((need & dir) && !(cov[b] & dir))
        {
          fputs (first ? "" : "; ", f);
          write_fix (f, base, a->bridges[b], dir);
          first = false;
        }
  if (docker_forward (base))
    fputs (")", f);
}

static int
conflict_add (struct analysis *a, const struct chain_view *chain, uint64_t handle,
              const struct hook_info *h, char *what)
{
  struct moat_conflict *c;

  if (a->n_out == a->cap_out)
    {
      size_t cap = a->cap_out ? 2 * a->cap_out : 8;
      struct moat_conflict *bigger = realloc (a->out, cap * sizeof (*bigger));

      if (!bigger)
        {
          free (what);
          return -1;
        }
      a->out = bigger;
      a->cap_out = cap;
    }
  c = &a->out[a->n_out];
  c->family = strdup (family_name (chain->family));
  c->table = strdup (chain->table);
  c->chain = strdup (chain->name);
  c->handle = handle;
  c->hook = strdup (h->name);
  c->what = what;
  a->n_out++;
  if (!c->family || !c->table || !c->chain || !c->hook || !c->what)
    return -1;
  return 0;
}

/* Closes the stream and hands its text out, NULL on failure. */
static char *
stream_text (FILE *f, char **buf)
{
  bool failed = ferror (f);

  if (fclose (f) != 0 || failed)
    {
      free (*buf);
      *buf = NULL;
    }
  return *buf;
}

static int
report_policy (struct analysis *a, const struct chain_view *base, const struct hook_info *h,
               const unsigned *cov)
{
  unsigned lacking = missing (a, cov, h->need);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);

  if (!f)
    return -1;
  fprintf (f, "table %s %s chain %s (hook %s, policy drop): %s; accept moat's bridges there: ",
           family_name (base->family), base->table, base->name, h->name,
           h->effect ? h->effect : forward_effect (lacking));
  write_fixes (f, a, base, cov, h->need);
  return conflict_add (a, base, 0, h, stream_text (f, &buf));
}

static int
report_rule (struct analysis *a, const struct chain_view *base, const struct hook_info *h,
             const struct chain_view *chain, const struct rule_view *r, const unsigned *cov)
{
  bool reject = r->verdict == VERDICT_REJECT;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);

  if (!f)
    return -1;
  fprintf (f, "table %s %s chain %s handle %llu (", family_name (chain->family), chain->table,
           chain->name, (unsigned long long)r->handle);
  if (chain != base)
    fprintf (f, "jumped to from chain %s, ", base->name);
  fprintf (f,
           "hook %s): this %s rule may %s %s, which moat accepts; pin it to other interfaces, or "
           "accept moat's bridges before it: ",
           h->name, reject ? "reject" : "drop", reject ? "reject" : "drop", h->noun);
  write_fixes (f, a, base, cov, h->need);
  return conflict_add (a, chain, r->handle, h, stream_text (f, &buf));
}

/* --- the walk ------------------------------------------------------------- */

static bool
may_refuse (const struct analysis *a, uint32_t family, const struct rule_view *r)
{
  if (r->verdict != VERDICT_DROP && r->verdict != VERDICT_REJECT)
    return false;
  if (r->ct_invalid && !r->other)
    return false;
  return !pinned_elsewhere (a, family, r);
}

/* Walks `chain`'s rules in order as seen from `base`, updating `cov` and
 * reporting what may refuse moat's traffic; with `follow`, also walks the
 * chains its rules jump or go to (those do not follow further). */
static int
walk_chain (struct analysis *a, const struct chain_view *base, const struct hook_info *h,
            struct chain_view *chain, unsigned *cov, bool follow)
{
  for (size_t i = 0; i < chain->n_rules; i++)
    {
      struct rule_view *r = &chain->rules[i];
      struct chain_view *target;

      cover (a, chain->family, r, cov);
      if (!r->reported && may_refuse (a, chain->family, r) && missing (a, cov, h->need))
        {
          r->reported = true;
          if (report_rule (a, base, h, chain, r, cov) < 0)
            return -1;
        }
      if (!follow || (r->verdict != VERDICT_JUMP && r->verdict != VERDICT_GOTO)
          || pinned_elsewhere (a, chain->family, r)
          || !(target = foreign_view_find (&a->view, chain->family, chain->table, r->target))
          || target->base)
        continue;
      {
        _cleanup_free_ unsigned *sub = malloc (a->n_bridges * sizeof (*sub));

        if (!sub)
          return -1;
        memcpy (sub, cov, a->n_bridges * sizeof (*sub));
        if (walk_chain (a, base, h, target, sub, false) < 0)
          return -1;
        /* What an unconditional jump's chain accepts, the rest of the
         * base chain never sees (docker's DOCKER-USER). */
        if (unconditional (r))
          memcpy (cov, sub, a->n_bridges * sizeof (*sub));
      }
    }
  return 0;
}

static int
check_base_chain (struct analysis *a, struct chain_view *base, const struct hook_info *h)
{
  _cleanup_free_ unsigned *cov = calloc (a->n_bridges, sizeof (*cov));

  if (!cov)
    return -1;
  if (walk_chain (a, base, h, base, cov, true) < 0)
    return -1;
  if (base->policy == NF_DROP && missing (a, cov, h->need))
    return report_policy (a, base, h, cov);
  return 0;
}

static int
analyze (struct analysis *a)
{
  for (size_t i = 0; i < a->view.n; i++)
    {
      struct chain_view *c = &a->view.chains[i];
      const struct hook_info *h;

      if (!c->base || is_moat_table (c->family, c->table)
          || !(h = hook_info_find (c->family, c->hook, a->ip6)))
        continue;
      if (check_base_chain (a, c, h) < 0)
        return -1;
    }
  return 0;
}

void
moat_conflicts_free (struct moat_conflict *c, size_t n)
{
  if (!c)
    return;
  for (size_t i = 0; i < n; i++)
    {
      free (c[i].family);
      free (c[i].table);
      free (c[i].chain);
      free (c[i].hook);
      free (c[i].what);
    }
  free (c);
}

static int
check_bridges (char *const *bridges, size_t *ret_n, moat_err_t *err)
{
  size_t n = 0;

  for (; bridges && bridges[n]; n++)
    if (bridges[n][0] == '\0' || strlen (bridges[n]) >= IFNAMSIZ)
      return moat_error (err, MOAT_E_CONFIG, 0, "bridge \"%s\": not an interface name", bridges[n]);
  *ret_n = n;
  return 0;
}

int
moat_foreign_analyze (const struct nftnl_chain_list *chains, const struct nftnl_rule_list *rules,
                      char *const *bridges, struct moat_conflict **ret, size_t *ret_n,
                      moat_err_t *err)
{
  return moat_foreign_analyze_family (chains, rules, bridges, false, ret, ret_n, err);
}

int
moat_foreign_analyze_family (const struct nftnl_chain_list *chains,
                             const struct nftnl_rule_list *rules, char *const *bridges, bool ip6,
                             struct moat_conflict **ret, size_t *ret_n, moat_err_t *err)
{
  struct analysis a = { .bridges = bridges, .ip6 = ip6 };

  if (check_bridges (bridges, &a.n_bridges, err) < 0)
    return -1;
  if (a.n_bridges
      && (foreign_view_add_chains (&a.view, chains) < 0
          || foreign_view_add_rules (&a.view, rules) < 0 || analyze (&a) < 0))
    {
      foreign_view_free (&a.view);
      moat_conflicts_free (a.out, a.n_out);
      return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: foreign rules");
    }
  foreign_view_free (&a.view);
  *ret = a.out;
  *ret_n = a.n_out;
  return 0;
}

/* --- the dumps ------------------------------------------------------------ */

struct dump
{
  struct nftnl_chain_list *chains;
  struct nftnl_rule_list *rules;
  int genid;    /* the ruleset generation of the first message, -1 before */
  bool changed; /* a later message came from another generation */
  bool nomem;
};

/* Every dump message carries the ruleset's generation (its low 16 bits):
 * chains and rules from two generations may not fit together. */
static void
note_generation (struct dump *d, const struct nlmsghdr *nlh)
{
  const struct nfgenmsg *g = mnl_nlmsg_get_payload (nlh);
  int id = ntohs (g->res_id);

  if (d->genid < 0)
    d->genid = id;
  else if (d->genid != id)
    d->changed = true;
}

static int
on_chain (const struct nlmsghdr *nlh, void *data)
{
  struct dump *d = data;
  struct nftnl_chain *c = nftnl_chain_alloc ();

  note_generation (d, nlh);
  if (!c || nftnl_chain_nlmsg_parse (nlh, c) < 0)
    {
      if (c)
        nftnl_chain_free (c);
      d->nomem = true;
      return MNL_CB_ERROR;
    }
  nftnl_chain_list_add_tail (c, d->chains);
  return MNL_CB_OK;
}

static int
on_rule (const struct nlmsghdr *nlh, void *data)
{
  struct dump *d = data;
  struct nftnl_rule *r = nftnl_rule_alloc ();

  note_generation (d, nlh);
  if (!r || nftnl_rule_nlmsg_parse (nlh, r) < 0)
    {
      if (r)
        nftnl_rule_free (r);
      d->nomem = true;
      return MNL_CB_ERROR;
    }
  nftnl_rule_list_add_tail (r, d->rules);
  return MNL_CB_OK;
}

/* A dump the kernel marks interrupted (the ruleset changed meanwhile) is
 * still read to its end, so the socket is left clean and a last attempt
 * has something whole to look at; d->changed says it happened. (libmnl
 * would stop at the first such message.) */
static void
note_interrupted (void *buf, size_t len, void *data)
{
  struct dump *d = data;
  struct nlmsghdr *nlh = buf;
  int rest = (int)len;

  for (; mnl_nlmsg_ok (nlh, rest); nlh = mnl_nlmsg_next (nlh, &rest))
    if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
      {
        nlh->nlmsg_flags &= ~NLM_F_DUMP_INTR;
        d->changed = true;
      }
}

/* One dump of every family's chains or rules. */
static int
dump_all (struct mnl_socket *nl, uint16_t msg_type, mnl_cb_t cb, struct dump *d, uint32_t seq,
          const char *what, moat_err_t *err)
{
  _cleanup_free_ char *buf = malloc (RECV_BUF_SIZE);
  enum moat_nfnl_failure where;
  struct nlmsghdr *nlh;

  if (!buf)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: cannot list %s", what);
  nlh = nftnl_nlmsg_build_hdr (buf, msg_type, NFPROTO_UNSPEC, NLM_F_DUMP, seq);
  if (moat_nfnl_talk (nl, nlh, buf, RECV_BUF_SIZE, cb, d, note_interrupted, &where) == 0)
    return 0;
  return moat_error (err, MOAT_E_NFT, where == MOAT_NFNL_REPLY && d->nomem ? ENOMEM : errno,
                     "nft: cannot list %s", what);
}

static int
read_ruleset (struct mnl_socket *nl, uint32_t *seq, struct nftnl_chain_list *chains,
              struct nftnl_rule_list *rules, bool *ret_changed, moat_err_t *err)
{
  struct dump d = { .chains = chains, .rules = rules, .genid = -1 };

  if (dump_all (nl, NFT_MSG_GETCHAIN, on_chain, &d, (*seq)++, "chains", err) < 0
      || dump_all (nl, NFT_MSG_GETRULE, on_rule, &d, (*seq)++, "rules", err) < 0)
    return -1;
  *ret_changed = d.changed;
  return 0;
}

static int
conflicts (char *const *bridges, bool ip6, struct moat_conflict **ret, size_t *ret_n,
           moat_err_t *err)
{
  _cleanup_ (mnl_socket_closep) struct mnl_socket *nl = NULL;
  size_t n_bridges;
  uint32_t seq = 1;

  if (check_bridges (bridges, &n_bridges, err) < 0)
    return -1;
  if (n_bridges == 0)
    {
      *ret = NULL;
      *ret_n = 0;
      return 0;
    }
  if (moat_nfnl_open (&nl, "nft", err) < 0)
    return -1;
  for (int attempt = 1;; attempt++)
    {
      _cleanup_ (nftnl_chain_list_freep) struct nftnl_chain_list *chains
          = nftnl_chain_list_alloc ();
      _cleanup_ (nftnl_rule_list_freep) struct nftnl_rule_list *rules = nftnl_rule_list_alloc ();
      bool changed = false;

      if (!chains || !rules)
        return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: cannot list the ruleset");
      if (read_ruleset (nl, &seq, chains, rules, &changed, err) < 0)
        return -1;
      /* A ruleset that never holds still (a busy host) is judged on the
       * last read: only what changed during it may be off. */
      if (!changed || attempt == DUMP_ATTEMPTS)
        return moat_foreign_analyze_family (chains, rules, bridges, ip6, ret, ret_n, err);
      nanosleep (&(struct timespec){ .tv_nsec = attempt * 10 * 1000 * 1000L }, NULL);
    }
}

int
moat_foreign_conflicts (char *const *bridges, struct moat_conflict **ret, size_t *ret_n,
                        moat_err_t *err)
{
  return conflicts (bridges, false, ret, ret_n, err);
}

int
moat_foreign_conflicts6 (char *const *bridges, struct moat_conflict **ret, size_t *ret_n,
                         moat_err_t *err)
{
  return conflicts (bridges, true, ret, ret_n, err);
}
