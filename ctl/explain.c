/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl explain: the kernel's decision for one new flow. The elements
 * the records imply for the flow's two ends (their members, compiled
 * policies and live grants, built by the functions that put them in the
 * kernel) go through the rule table with the evaluator (ruleset/eval.h);
 * the words then say which annotation, grant or network setting put the
 * deciding element there. */
#include "ctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "ctl-internal.h"
#include "explain-family.h"
#include "model/policy.h"
#include "model/publish.h"
#include "ruleset/elems.h"
#include "ruleset/eval.h"
#include "state/state.h"
#include "verbs/cluster.h"

/* --- the elements of the flow's ends, and who put each there ---------------------------- */

enum origin_kind
{
  ORIGIN_MEMBER, /* the network: the attachment's member elements */
  ORIGIN_POLICY, /* the container's compiled policy */
  ORIGIN_GRANT,  /* one of its grants */
};

struct origin
{
  size_t from, to; /* its elements: [from, to) */
  enum origin_kind kind;
  bool both; /* holds both families' elements (a member's): no twins */
  const struct moat_explain_end *end;
  struct moat_grant grant; /* ORIGIN_GRANT */
};

static int
no_room (moat_err_t *err)
{
  return moat_error (err, MOAT_E_IO, ENOMEM, "explain: out of memory");
}

#define MAX_ENDS 3 /* source, destination, the source's proxy */

struct facts
{
  struct moat_nft_elems *elems;
  struct origin *v;
  size_t n;
  /* An IPv6 flow: the dual-stack ends' elements get their twins, as
   * apply makes them (docs/design.md, "IPv6"). */
  bool ip6;
  struct moat_explain_pairs pairs;
};

static void
facts_free (struct facts *f)
{
  for (size_t i = 0; i < f->n; i++)
    if (f->v[i].kind == ORIGIN_GRANT)
      moat_grant_free (&f->v[i].grant);
  free (f->v);
  moat_nft_elems_free (f->elems);
}

/* Opens an origin for the elements about to be added. */
static struct origin *
origin_open (struct facts *f, enum origin_kind kind, const struct moat_explain_end *end)
{
  struct origin *v = realloc (f->v, (f->n + 1) * sizeof (*v)), *o;

  if (!v)
    return NULL;
  f->v = v;
  o = &v[f->n++];
  memset (o, 0, sizeof (*o));
  o->from = moat_nft_elems_count (f->elems);
  o->kind = kind;
  o->end = end;
  return o;
}

/* For an IPv6 flow, the origin's elements become their twins: what a
 * dual-stack container's policy, grants and ports put in the IPv6 half. */
static int
origin_close (struct facts *f, struct origin *o, int r)
{
  o->to = moat_nft_elems_count (f->elems);
  if (r < 0 || !f->ip6 || o->both || !o->end->rec || !o->end->rec->have_addr6)
    return r;
  return moat_explain_twin_range (f->elems, &o->from, &o->to, &f->pairs) < 0 ? -1 : r;
}

static const struct origin *
origin_of (const struct facts *f, size_t elem)
{
  for (size_t i = 0; i < f->n; i++)
    if (elem >= f->v[i].from && elem < f->v[i].to)
      return &f->v[i];
  return NULL;
}

static bool
same_network (const struct moat_explain_end *a, const struct moat_explain_end *b)
{
  return a->rec && b->rec && strcmp (a->rec->network, b->rec->network) == 0;
}

/* The end's policy as the hook compiled it, with the identity sets as
 * they stand with the flow's other ends on its network. */
static int
add_policy (struct facts *f, const struct moat_explain_end *e,
            const struct moat_explain_end *const *ends, size_t n)
{
  struct moat_peer_group peers[MAX_ENDS];
  struct moat_compile_input in = {
    .addr = e->rec->addr,
    .ident = e->rec->ident,
    .new_ident = true,
    .network_internet = e->rec->internet,
    .policy = e->policy,
    .groups = peers,
  };
  struct origin *o = origin_open (f, ORIGIN_POLICY, e);

  if (!o)
    return -1;
  for (size_t i = 0; i < n && e->rec->ident; i++)
    if (ends[i] != e && same_network (e, ends[i]) && ends[i]->rec->ident)
      peers[in.ngroups++] = (struct moat_peer_group){ ends[i]->rec->ident, ends[i]->policy,
                                                      &ends[i]->rec->addr, 1 };
  return origin_close (f, o, moat_policy_compile (&in, f->elems));
}

static bool
is_peer (const struct moat_grant *g, const struct moat_explain_end *const *ends, size_t n)
{
  for (size_t i = 1; i < n; i++)
    if (ends[i]->rec && strcmp (g->peer, ends[i]->rec->container_id) == 0
        && g->peer_addr.s_addr == ends[i]->rec->addr.s_addr)
      return true;
  return false;
}

/* Whether end e's grant g can open this flow: the source's grants but
 * its ingress ones; the destination's ingress grants. A peer grant's
 * element is there only while its peer is (the peer's DEL takes it): only
 * a peer of this flow's matters. */
static bool
grant_counts (const struct moat_grant *g, const struct moat_explain_end *e,
              const struct moat_explain_end *const *ends, size_t n)
{
  if (e != ends[0])
    return g->kind == MOAT_GRANT_INGRESS;
  return g->kind != MOAT_GRANT_INGRESS && (g->kind != MOAT_GRANT_PEER || is_peer (g, ends, n));
}

/* End e's grants (the source's, or the destination's ingress grants). One
 * opens its element until it expires. */
static int
add_grants (struct facts *f, const struct moat_explain_end *e,
            const struct moat_explain_end *const *ends, size_t n, int64_t now)
{
  size_t i;
  json_t *j;

  json_array_foreach (e->rec->grants, i, j)
  {
    moat_err_t ignored = { 0 };
    struct origin *o;
    struct moat_grant g;

    if (moat_grant_from_json (j, &g, &ignored) < 0)
      continue;
    if (!moat_grant_live (&g, now) || !grant_counts (&g, e, ends, n))
      {
        moat_grant_free (&g);
        continue;
      }
    if (!(o = origin_open (f, ORIGIN_GRANT, e)))
      {
        moat_grant_free (&g);
        return -1;
      }
    o->grant = g;
    if (origin_close (f, o, moat_grant_elems (&o->grant, e->rec->addr, now, false, f->elems)) < 0)
      return -1;
  }
  return 0;
}

static int
add_member (struct facts *f, const struct moat_explain_end *e, moat_err_t *err)
{
  struct moat_nft_member m = moat_record_member (e->rec);
  struct origin *o = origin_open (f, ORIGIN_MEMBER, e);

  if (!o)
    return no_room (err);
  o->both = true;
  /* Another node's container has no port here: its node's elements say
   * where its packets may come from (docs/cluster.md). */
  if (e->remote)
    return origin_close (f, o, moat_nft_elems_node (f->elems, e->remote) < 0 ? -1 : 0);
  return origin_close (f, o, moat_nft_elems_member (f->elems, &m, err));
}

/* The end's published ports (the record's), with its member. A record
 * whose ports do not parse publishes none. */
static int
add_publish (struct facts *f, const struct moat_explain_end *e)
{
  _cleanup_ (moat_publish_list_free) struct moat_publish_list l = { 0 };
  moat_err_t ignored = { 0 };
  struct origin *o;

  if (!e->rec->publish || moat_publish_from_json (e->rec->publish, &l, &ignored) < 0)
    return 0;
  o = origin_open (f, ORIGIN_MEMBER, e);
  if (!o)
    return -1;
  return origin_close (f, o, moat_publish_elems (&l, e->rec->addr, f->elems));
}

/* The mapping of the destination's published ports that leads to the
 * flow's container port, for a client outside the host: 1 and *ret, or 0. */
static int
published_for (const struct moat_explain_end *s, const struct moat_explain_end *d,
               const struct moat_ports *flow, bool ip6, struct moat_publish *ret)
{
  _cleanup_ (moat_publish_list_free) struct moat_publish_list l = { 0 };
  moat_err_t ignored = { 0 };

  if (s->rec || s->host || !d->rec || !d->rec->publish
      || moat_publish_from_json (d->rec->publish, &l, &ignored) < 0)
    return 0;
  for (size_t i = 0; i < l.n; i++)
    if (l.v[i].family != (ip6 ? AF_INET : AF_INET6) && l.v[i].proto == flow->proto
        && flow->lo >= l.v[i].port && flow->lo < (uint32_t)l.v[i].port + l.v[i].count)
      {
        *ret = l.v[i];
        ret->host_port = (uint16_t)(l.v[i].host_port + (flow->lo - l.v[i].port));
        ret->port = flow->lo;
        ret->count = 1;
        return 1;
      }
  return 0;
}

static bool
same_container (const struct moat_explain_end *a, const struct moat_explain_end *b)
{
  return a->rec && b->rec && strcmp (a->rec->container_id, b->rec->container_id) == 0;
}

/* The ends' members and policies (the source, the destination, the
 * source's proxy when a container), and the source's grants. */
static int
facts_build (struct facts *f, const struct moat_explain_end *s, const struct moat_explain_end *d,
             int64_t now, moat_err_t *err)
{
  const struct moat_explain_end *ends[MAX_ENDS] = { s, d };
  size_t n = 2;

  if (s->proxy && !same_container (s->proxy, s) && !same_container (s->proxy, d))
    ends[n++] = s->proxy;
  for (size_t i = 0; i < n; i++)
    moat_explain_pairs_add (&f->pairs, ends[i]->rec);
  f->elems = moat_nft_elems_new ();
  if (!f->elems)
    return no_room (err);
  for (size_t i = 0; i < n; i++)
    {
      if (!ends[i]->rec)
        continue;
      if (add_member (f, ends[i], err) < 0)
        return moat_error_prefix (err, "explain \"%s\"", ends[i]->rec->container_id);
      if (add_policy (f, ends[i], ends, n) < 0 || add_publish (f, ends[i]) < 0)
        return no_room (err);
    }
  if (s->rec && add_grants (f, s, ends, n, now) < 0)
    return no_room (err);
  if (d->rec && !same_container (s, d) && add_grants (f, d, ends, n, now) < 0)
    return no_room (err);
  return 0;
}

/* --- the packet ------------------------------------------------------------------------ */

static struct in_addr
end_addr (const struct moat_explain_end *e, const struct moat_explain_end *other)
{
  if (e->rec)
    return e->rec->addr;
  if (e->host && !e->addr.s_addr && other->rec)
    return other->rec->gateway;
  return e->addr;
}

static struct in6_addr
end_addr6 (const struct moat_explain_end *e, const struct moat_explain_end *other)
{
  if (e->rec)
    return e->rec->addr6;
  if (e->host && IN6_IS_ADDR_UNSPECIFIED (&e->addr6) && other->rec)
    return other->rec->gateway6;
  return e->addr6;
}

static void
packet_of (const struct moat_explain_end *s, const struct moat_explain_end *d,
           const struct moat_ports *flow, struct moat_eval_packet *ret)
{
  memset (ret, 0, sizeof (*ret));
  ret->uplink = ""; /* no bridge's name */
  /* Another node's container is reached by its node's link. */
  if (d->remote)
    ret->uplink = d->remote->ifname;
  if (s->remote)
    {
      ret->uplink = s->remote->ifname;
      ret->iif = ret->uplink;
      memcpy (ret->ether_saddr, s->remote->mac, MOAT_MAC_LEN);
    }
  else if (s->rec)
    {
      ret->port = s->rec->host_if;
      ret->bridge = s->rec->bridge;
      memcpy (ret->ether_saddr, s->rec->mac, MOAT_MAC_LEN);
    }
  else if (!s->host)
    ret->iif = ret->uplink;
  ret->saddr = end_addr (s, d);
  ret->daddr = end_addr (d, s);
  ret->saddr6 = end_addr6 (s, d);
  ret->daddr6 = end_addr6 (d, s);
  ret->proto = flow->proto;
  ret->dport = flow->lo;
  ret->ct = MOAT_EVAL_CT_NEW;
}

/* --- the words ------------------------------------------------------------------------- */

/* Whether element `elem` is what `build` makes (one item compiled alone). */
static bool
elem_is (const struct facts *f, size_t elem, struct moat_nft_elems *built)
{
  char a[256], b[256];
  bool same;

  if (f->ip6)
    built = moat_explain_twin_built (built, &f->pairs);
  if (!built || moat_nft_elems_count (built) != 1)
    {
      moat_nft_elems_free (built);
      return false;
    }
  moat_nft_elems_format (f->elems, elem, a, sizeof (a));
  moat_nft_elems_format (built, 0, b, sizeof (b));
  same = strcmp (a, b) == 0;
  moat_nft_elems_free (built);
  return same;
}

static struct moat_nft_elems *
one_acl (enum moat_nft_acl kind, struct in_addr addr, const struct moat_acl *acl)
{
  struct moat_nft_elems *l = moat_nft_elems_new ();

  if (l && moat_nft_elems_acl (l, kind, addr, acl) < 0)
    {
      moat_nft_elems_free (l);
      return NULL;
    }
  return l;
}

static struct moat_nft_elems *
one_host (struct in_addr addr, const struct moat_ports *p)
{
  struct moat_nft_elems *l = moat_nft_elems_new ();

  if (l && moat_nft_elems_host (l, addr, p) < 0)
    {
      moat_nft_elems_free (l);
      return NULL;
    }
  return l;
}

/* The ACL of the end's policy that put the element there. */
static bool
acl_words (const struct facts *f, size_t elem, const struct moat_explain_end *e,
           enum moat_nft_acl kind, const char *what, char *why, size_t size)
{
  const struct moat_annotations *a = &e->policy->a;
  const struct moat_acl *acls[] = { a->egress, a->egress_deny, a->ingress, a->ingress_deny };
  size_t ns[] = { a->n_egress, a->n_egress_deny, a->n_ingress, a->n_ingress_deny };
  char text[96];

  for (size_t i = 0; i < ns[kind]; i++)
    if (elem_is (f, elem, one_acl (kind, e->rec->addr, &acls[kind][i])))
      {
        moat_acl_format (&acls[kind][i], text, sizeof (text));
        snprintf (why, size, what, text);
        return true;
      }
  return false;
}

static bool
allow_host_words (const struct facts *f, size_t elem, const struct moat_explain_end *e, char *why,
                  size_t size)
{
  char text[64];

  for (size_t i = 0; i < e->policy->a.n_allow_host; i++)
    if (elem_is (f, elem, one_host (e->rec->addr, &e->policy->a.allow_host[i])))
      {
        moat_ports_format (&e->policy->a.allow_host[i], text, sizeof (text));
        snprintf (why, size, "io.moat.allow-host %s", text);
        return true;
      }
  return false;
}

/* The name of a peer grant's container when it is one of the flow's ends
 * (as moatctl ls shows it); NULL: none known. */
static const char *
peer_name (const struct moat_grant *g, const struct moat_explain_end *s,
           const struct moat_explain_end *d)
{
  const struct moat_explain_end *ends[] = { s, d };

  for (size_t i = 0; g->peer && i < 2; i++)
    if (ends[i]->rec && strcmp (ends[i]->rec->container_id, g->peer) == 0)
      return ends[i]->rec->name;
  return NULL;
}

static void
grant_words (const struct moat_grant *g, const struct moat_explain_end *s,
             const struct moat_explain_end *d, int64_t now, char *why, size_t size)
{
  char words[MOAT_GRANT_WORDS_MAX], ttl[64];

  moat_grant_label (g, peer_name (g, s, d), words, sizeof (words));
  if (g->expires)
    moat_grant_time_left (g->expires - now, ttl, sizeof (ttl));
  else
    snprintf (ttl, sizeof (ttl), "no expiry");
  snprintf (why, size, "grant \"%s\" (%s)", words, ttl);
}

/* Why a step's element lets the flow through, when it is one that says. */
static bool
accept_words (const struct facts *f, const struct moat_eval_step *st,
              const struct moat_explain_end *s, const struct moat_explain_end *d, int64_t now,
              char *why, size_t size)
{
  const struct origin *o = origin_of (f, st->elem);

  /* The source's identity reaches the destination: the labels say why. */
  if (st->rule == MOAT_EVAL_IDENT_RULE)
    {
      if (!moat_policy_explain (s->policy, d->policy, why, size))
        snprintf (why, size, "the source's identity may reach the destination (%s)", st->set);
      return true;
    }
  if (!o)
    return false;
  if (o->kind == ORIGIN_GRANT)
    return grant_words (&o->grant, s, d, now, why, size), true;
  if (moat_explain_named (st->set, "internet"))
    return snprintf (why, size, "%s",
                     o->kind == ORIGIN_MEMBER
                         ? "the network gives its containers the internet (\"internet\": true)"
                         : "io.moat.internet: true"),
           true;
  if (moat_explain_named (st->set, "proxied"))
    return snprintf (why, size, "the destination is the source's proxy (io.moat.proxy)"), true;
  if (moat_explain_named (st->set, "resolvers"))
    return snprintf (why, size, "the network's name server on its gateway (\"names\": true)"), true;
  if (moat_explain_named (st->set, "host_grants"))
    return allow_host_words (f, st->elem, o->end, why, size);
  if (moat_explain_named (st->set, "egress"))
    return acl_words (f, st->elem, o->end, MOAT_NFT_EGRESS, "io.moat.egress %s", why, size);
  if (moat_explain_named (st->set, "ingress"))
    return acl_words (f, st->elem, o->end, MOAT_NFT_INGRESS, "io.moat.ingress %s", why, size);
  return false;
}

/* Refused between two containers: why nothing let it through. The
 * records say more than the table (which end lacks a label). */
static void
peer_deny_words (const struct moat_explain_end *s, const struct moat_explain_end *d, char *why,
                 size_t size)
{
  char reason[400];

  if (!same_network (s, d))
    snprintf (why, size, "default deny: different networks, and no peer grant");
  else if (!s->rec->ident || !d->rec->ident)
    snprintf (why, size, "default deny: %s",
              !s->rec->ident ? "the source has no label and no io.moat.depends"
                             : "the destination has no label: nothing selects it");
  else
    {
      moat_policy_explain (s->policy, d->policy, reason, sizeof (reason));
      snprintf (why, size, "default deny: %s", reason);
    }
}

/* Where the proxy rule sent the flow, in its family. */
static const char *
dnat_text (const struct facts *f, const struct moat_eval_result *r, char *buf, size_t size)
{
  return inet_ntop (f->ip6 ? AF_INET6 : AF_INET,
                    f->ip6 ? (const void *)&r->dnat_addr6 : (const void *)&r->dnat_addr, buf,
                    (socklen_t)size);
}

static bool
is_deny_chain (const char *chain)
{
  return moat_explain_named (chain, "deny_src") || moat_explain_named (chain, "deny_dst");
}

static void
refuse_words (const struct facts *f, const struct moat_eval_result *r,
              const struct moat_explain_end *s, const struct moat_explain_end *d,
              const struct moat_ports *flow, char *why, size_t size)
{
  const struct moat_eval_step *st = NULL;
  char text[64], proxy[INET6_ADDRSTRLEN];
  size_t used;

  /* Redirected to a proxy that refuses it: why the proxy does. */
  if (r->dnat && s->proxy && d != s->proxy)
    {
      dnat_text (f, r, proxy, sizeof (proxy));
      used = (size_t)snprintf (why, size, "redirected to the proxy %s:%u (io.moat.proxy), then ",
                               proxy, r->dnat_port);
      if (used < size)
        refuse_words (f, r, s, s->proxy, flow, why + used, size - used);
      return;
    }

  /* The rule that sent the packet to a deny chain, or the one that dropped it. */
  for (size_t i = r->nsteps; i-- > 0 && !st;)
    if (!is_deny_chain (r->steps[i].chain))
      st = &r->steps[i];
  if (st && moat_explain_named (st->set, "egress_deny")
      && acl_words (f, st->elem, s, MOAT_NFT_EGRESS_DENY,
                    "refused by the profile's reject rule (egress %s)", why, size))
    return;
  if (st && moat_explain_named (st->set, "ingress_deny")
      && acl_words (f, st->elem, d, MOAT_NFT_INGRESS_DENY,
                    "refused by the profile's reject rule (ingress %s)", why, size))
    return;
  if (st
      && (moat_explain_named (st->chain, "to_peer")
          || moat_explain_named (st->chain, "same_bridge")))
    return peer_deny_words (s, d, why, size);
  if (st && moat_explain_named (st->chain, "to_host"))
    {
      moat_ports_format (flow, text, sizeof (text));
      snprintf (why, size, "default deny: no io.moat.allow-host and no host grant for %s", text);
      return;
    }
  if (st && moat_explain_named (st->chain, "from_container"))
    {
      snprintf (why, size, "default deny: no io.moat.egress, internet or egress grant covers it");
      return;
    }
  if (st && moat_explain_named (st->chain, "to_container"))
    {
      snprintf (why, size, "default deny: no io.moat.ingress covers it%s",
                d->rec && d->rec->publish ? ", and no published port leads to it" : "");
      return;
    }
  st = moat_eval_decider (r);
  snprintf (why, size, "dropped by chain %s: %s", st ? st->chain : "?", st ? st->text : "?");
}

static void
allow_words (const struct facts *f, const struct moat_eval_result *r,
             const struct moat_explain_end *s, const struct moat_explain_end *d,
             const struct moat_publish *pub, int64_t now, char *why, size_t size)
{
  char proxy[INET6_ADDRSTRLEN];

  if (!s->rec && s->host)
    {
      snprintf (why, size, "the host may open connections to its containers");
      return;
    }
  if (pub)
    {
      char host[INET6_ADDRSTRLEN + 2] = "[";

      if (f->ip6)
        {
          inet_ntop (AF_INET6, &pub->host6, host + 1, sizeof (host) - 2);
          strcat (host, "]");
        }
      else
        inet_ntop (AF_INET, &pub->host, host, sizeof (host));
      snprintf (why, size, "published %s:%u/%s -> %u", host, pub->host_port,
                pub->proto == IPPROTO_UDP ? "udp" : "tcp", pub->port);
      return;
    }
  if (r->dnat)
    {
      dnat_text (f, r, proxy, sizeof (proxy));
      snprintf (why, size, "redirected to the proxy %s:%u (io.moat.proxy)", proxy, r->dnat_port);
      return;
    }
  /* The last step that says why: an accept at prerouting (same_bridge)
   * is followed by forward's "judged already", a masquerade by nothing. */
  for (size_t i = r->nsteps; i-- > 0;)
    if (r->steps[i].elem != MOAT_EVAL_NO_ELEM
        && accept_words (f, &r->steps[i], s, d, now, why, size))
      return;
  snprintf (why, size, "accepted");
}

/* The host's addresses, in the flow's family. */
struct local_fns
{
  bool (*is_local) (struct in_addr, void *);
  bool (*is_local6) (const struct in6_addr *, void *);
};

/* From outside to a published container port: the flow is the one to the
 * host port that leads there (every host address: the gateway's), on a
 * mapping of the flow's family (published_for). */
static void
publish_packet (const struct facts *f, const struct moat_explain_end *d,
                const struct moat_publish *pub, bool *published, struct moat_eval_packet *p)
{
  if (!*published)
    return;
  p->daddr = pub->family == AF_INET && pub->host.s_addr ? pub->host : d->rec->gateway;
  p->daddr6 = pub->family == AF_INET6 && !IN6_IS_ADDR_UNSPECIFIED (&pub->host6) ? pub->host6
                                                                                : d->rec->gateway6;
  p->dport = pub->host_port;
}

static int
no_addr6 (const struct moat_explain_end *e, moat_err_t *err)
{
  return moat_error (err, MOAT_E_CONFIG, 0,
                     "explain: \"%s\" has no IPv6 address (its network has no \"subnet6\")",
                     e->rec->name ? e->rec->name : e->rec->container_id);
}

static int
explain_flow (const struct moat_explain_end *s, const struct moat_explain_end *d,
              const struct moat_ports *flow, int64_t now, bool ip6, const struct local_fns *local,
              void *data, bool *allowed, char *why, size_t size, moat_err_t *err)
{
  _cleanup_ (facts_free) struct facts f = { .ip6 = ip6 };
  struct moat_eval_packet p;
  struct moat_eval_result r;
  struct moat_publish pub;
  bool published;

  if (ip6 && ((s->rec && !s->rec->have_addr6) || (d->rec && !d->rec->have_addr6)))
    return no_addr6 (s->rec && !s->rec->have_addr6 ? s : d, err);
  if (facts_build (&f, s, d, now, err) < 0)
    return -1;
  packet_of (s, d, flow, &p);
  p.ip6 = ip6;
  if (ip6)
    p.proto = moat_proto6 (p.proto); /* "icmp" over IPv6: an ICMPv6 echo */
  p.is_local6 = local->is_local6;
  published = published_for (s, d, flow, ip6, &pub);
  publish_packet (&f, d, &pub, &published, &p);
  if (moat_eval (f.elems, &p, local->is_local, data, &r, NULL, err) < 0)
    return -1;
  *allowed = r.verdict == MOAT_EVAL_ACCEPT;
  if (*allowed)
    allow_words (&f, &r, s, d, published && r.dnat ? &pub : NULL, now, why, size);
  else
    refuse_words (&f, &r, s, d, flow, why, size);
  return 0;
}

int
moat_ctl_explain_flow (const struct moat_explain_end *s, const struct moat_explain_end *d,
                       const struct moat_ports *flow, int64_t now,
                       bool (*is_local) (struct in_addr, void *), void *data, bool *allowed,
                       char *why, size_t size, moat_err_t *err)
{
  struct local_fns local = { .is_local = is_local };

  return explain_flow (s, d, flow, now, false, &local, data, allowed, why, size, err);
}

int
moat_ctl_explain_flow6 (const struct moat_explain_end *s, const struct moat_explain_end *d,
                        const struct moat_ports *flow, int64_t now,
                        bool (*is_local6) (const struct in6_addr *, void *), void *data,
                        bool *allowed, char *why, size_t size, moat_err_t *err)
{
  struct local_fns local = { .is_local6 = is_local6 };

  return explain_flow (s, d, flow, now, true, &local, data, allowed, why, size, err);
}

/* --- the ends from the records --------------------------------------------------------- */

/* One end of the flow as named on the command line. */
struct end
{
  const char *text;
  struct moat_ctl_target target; /* a container: its attachments */
  bool container, host;
  struct in_addr addr;   /* an outside or host address */
  struct in6_addr addr6; /* ... given as IPv6 (v6) */
  bool v6;               /* named by an IPv6 address (a container's too) */
  bool addr_given;       /* an address end */
  struct moat_record rec;
  struct moat_policy policy;
  bool remote; /* another node's container: what this node knows of it */
  struct moat_cluster_origin origin;
};

static void
end_free (struct end *e)
{
  moat_ctl_target_free (&e->target);
  moat_record_free (&e->rec);
  moat_policy_free (&e->policy);
}

static bool
is_local_addr (struct in_addr addr)
{
  struct ifaddrs *ifa = NULL;
  bool found = false;

  if (getifaddrs (&ifa) < 0)
    return false;
  for (struct ifaddrs *i = ifa; i && !found; i = i->ifa_next)
    found = i->ifa_addr && i->ifa_addr->sa_family == AF_INET
            && ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == addr.s_addr;
  freeifaddrs (ifa);
  return found;
}

/* The host's addresses: its interfaces', and the source's gateway. */
static bool
host_has (struct in_addr addr, void *data)
{
  const struct end *s = data;

  return (s->container && addr.s_addr == s->rec.gateway.s_addr) || is_local_addr (addr);
}

static bool
host_has6 (const struct in6_addr *addr, void *data)
{
  const struct end *s = data;

  return (s->container && s->rec.have_addr6 && memcmp (addr, &s->rec.gateway6, sizeof (*addr)) == 0)
         || moat_explain_is_local6 (addr);
}

/* An address end: IPv4, or IPv6 (v6). */
static bool
parse_addr (const char *text, struct end *ret)
{
  if (inet_pton (AF_INET, text, &ret->addr) == 1)
    ret->addr_given = true;
  else if (inet_pton (AF_INET6, text, &ret->addr6) == 1)
    ret->addr_given = ret->v6 = true;
  return ret->addr_given;
}

static int
end_resolve (const char *text, struct end *ret, moat_err_t *err)
{
  ret->text = text;
  /* outside:ADDR: an address outside the host, never a container's. */
  if (strncmp (text, "outside:", 8) == 0)
    {
      if (!parse_addr (text + 8, ret))
        return moat_error (err, MOAT_E_CONFIG, 0, "\"%s\": want outside:IPV4 or outside:IPV6",
                           text);
      return 0;
    }
  if (strcmp (text, "host") == 0)
    {
      ret->host = true;
      return 0;
    }
  if (moat_ctl_find (text, &ret->target, err) == 0)
    {
      struct in6_addr named;

      ret->container = true;
      ret->v6 = inet_pton (AF_INET6, text, &named) == 1; /* by its IPv6 address */
      return 0;
    }
  if (err->code != MOAT_E_UNKNOWN || !parse_addr (text, ret))
    return -1;
  ret->host = ret->v6 ? moat_explain_is_local6 (&ret->addr6) : is_local_addr (ret->addr);
  return 0;
}

/* "outside:ADDR": a client outside the host at ADDR (even one of the
 * host's own addresses: as a client would come from elsewhere). */
static int
end_resolve_any (const char *text, struct end *ret, moat_err_t *err)
{
  if (strncmp (text, "outside:", 8) != 0)
    return end_resolve (text, ret, err);
  ret->text = text;
  if (!parse_addr (text + 8, ret))
    return moat_error (err, MOAT_E_CONFIG, 0, "\"%s\": outside:ADDR wants an IPv4 or IPv6 address",
                       text);
  return 0;
}

/* The attachment of `e` to use: on `network` when it has one there. */
static int
end_record (struct end *e, const char *network, moat_err_t *err)
{
  size_t pick = 0;
  int r;

  for (size_t i = 0; network && i < e->target.n; i++)
    if (strcmp (e->target.atts[i].network, network) == 0)
      pick = i;
  r = ctl_record_read (e->target.atts[pick].network, e->target.atts[pick].key, &e->rec, err);
  if (r == 0)
    return moat_error (err, MOAT_E_UNKNOWN, 0, "%s: gone", e->text);
  if (r < 0)
    return -1;
  if (e->rec.policy && moat_policy_from_json (e->rec.policy, &e->policy, err) < 0)
    return -1;
  if (e->rec.remote_node)
    {
      r = moat_cluster_origin (e->rec.network, e->rec.remote_node, &e->origin, err);
      if (r < 0)
        return -1;
      if (r == 0)
        return moat_error (err, MOAT_E_STATE, 0, "%s: node \"%s\" is in no synced view", e->text,
                           e->rec.remote_node);
      e->remote = true;
    }
  return 0;
}

/* The network both are on, if any. */
static const char *
shared_network (const struct end *a, const struct end *b)
{
  for (size_t i = 0; i < a->target.n; i++)
    for (size_t k = 0; k < b->target.n; k++)
      if (strcmp (a->target.atts[i].network, b->target.atts[k].network) == 0)
        return a->target.atts[i].network;
  return NULL;
}

static int
parse_flow (const char *text, struct moat_ports *ret, moat_err_t *err)
{
  if (moat_ports_parse ("PROTO/PORT", text, true, ret, err) < 0)
    return -1;
  if (ret->lo != ret->hi)
    return moat_error (err, MOAT_E_CONFIG, 0, "PROTO/PORT: \"%s\": one port, not a range", text);
  return 0;
}

static struct moat_explain_end
explain_end (const struct end *e)
{
  return (struct moat_explain_end){ .rec = e->container ? &e->rec : NULL,
                                    .policy = &e->policy,
                                    .host = e->host,
                                    .addr = e->addr,
                                    .addr6 = e->addr6,
                                    .remote = e->remote ? &e->origin.link : NULL };
}

/* The container holding the source's proxy address, if one does: on the
 * source's network when it is there. 0 with ret->container false when
 * none. */
static int
proxy_resolve (const struct end *s, struct end *ret, moat_err_t *err)
{
  char text[INET6_ADDRSTRLEN];

  if (!s->container || !s->policy.a.have_proxy)
    return 0;
  moat_proxy_addr_text (&s->policy.a, text);
  ret->text = "the proxy";
  if (moat_ctl_find (text, &ret->target, err) < 0)
    {
      if (err->code != MOAT_E_UNKNOWN)
        return -1;
      memset (err, 0, sizeof (*err));
      return 0;
    }
  ret->container = true;
  return end_record (ret, s->rec.network, err);
}

/* --- what other tables do to the flow ------------------------------------------------ */

/* A flow moat allows may still be dropped by another table's base chain:
 * moat_explain_foreign (explain-family.h) says so, for the flow's bridges. */
static void
foreign_words (const struct end *s, const struct end *d, bool ip6, bool *allowed, char *why,
               size_t size)
{
  char *bridges[3] = { NULL, NULL, NULL };
  size_t nb = 0;

  if (s->container)
    bridges[nb++] = s->rec.bridge;
  if (d->container && (!nb || strcmp (bridges[0], d->rec.bridge) != 0))
    bridges[nb++] = d->rec.bridge;
  moat_explain_foreign (bridges, s->host || d->host, ip6, allowed, why, size);
}

/* The flow's family: IPv6 when asked, or when an address end is IPv6;
 * every address end must then be of it. */
static int
flow_family (const struct end *s, const struct end *d, bool *ip6, moat_err_t *err)
{
  const struct end *ends[] = { s, d };

  *ip6 = *ip6 || s->v6 || d->v6;
  for (size_t i = 0; i < 2; i++)
    if (ends[i]->addr_given && ends[i]->v6 != *ip6)
      return moat_error (err, MOAT_E_CONFIG, 0, "\"%s\" is an %s address, the flow is %s",
                         ends[i]->text, ends[i]->v6 ? "IPv6" : "IPv4", *ip6 ? "IPv6" : "IPv4");
  return 0;
}

/* An IPv6-only container's flows are IPv6 (docs/design.md, "IPv6"): its
 * IPv4 key is no address of it. */
static int
v6only_flow (const struct end *s, const struct end *d, bool *ip6, moat_err_t *err)
{
  const struct end *ends[] = { s, d };

  for (size_t i = 0; i < 2 && !*ip6; i++)
    if (ends[i]->container && ends[i]->rec.v6only)
      {
        const struct end *other = ends[1 - i];

        if (other->addr_given)
          return moat_error (err, MOAT_E_CONFIG, 0,
                             "\"%s\" is an IPv4 address, \"%s\" is IPv6-only", other->text,
                             ends[i]->text);
        *ip6 = true;
      }
  return 0;
}

/* The address the packet carries for end e (as packet_of makes it). */
static void
end_text (const struct end *e, const struct end *other, bool ip6, char *buf, size_t size)
{
  struct moat_explain_end x = explain_end (e), o = explain_end (other);
  struct in6_addr a6 = end_addr6 (&x, &o);
  struct in_addr a = end_addr (&x, &o);

  inet_ntop (ip6 ? AF_INET6 : AF_INET, ip6 ? (const void *)&a6 : (const void *)&a, buf,
             (socklen_t)size);
}

/* Where explain's knowledge of another node's container comes from:
 * "b (node n2, from the cluster view at revision R, read N s ago)". */
static void
origin_text (const struct end *e, int64_t now, char *buf, size_t size)
{
  buf[0] = '\0';
  if (e->remote)
    snprintf (buf, size, "%s (node %s, from the cluster view at revision %lld, read %lld s ago)",
              e->text, e->rec.remote_node, e->origin.revision, (long long)now - e->origin.read_at);
}

int
moat_ctl_explain_family (const char *src, const char *dst, const char *ports, bool ip6, int64_t now,
                         struct moat_explain_answer *ret, char *why, size_t size, moat_err_t *err)
{
  _cleanup_ (end_free) struct end s = { 0 };
  _cleanup_ (end_free) struct end d = { 0 };
  _cleanup_ (end_free) struct end proxy = { 0 };
  struct moat_explain_end es, ed, eproxy;
  struct moat_ports flow;
  const char *net;
  int r;

  memset (ret, 0, sizeof (*ret));
  if (parse_flow (ports, &flow, err) < 0 || end_resolve_any (src, &s, err) < 0
      || end_resolve_any (dst, &d, err) < 0 || flow_family (&s, &d, &ip6, err) < 0)
    return -1;
  if (!s.container && !d.container)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "neither \"%s\" nor \"%s\" is a container on a moat network", src, dst);
  net = s.container && d.container ? shared_network (&s, &d) : NULL;
  if ((s.container && end_record (&s, net, err) < 0)
      || (d.container && end_record (&d, net, err) < 0) || proxy_resolve (&s, &proxy, err) < 0)
    return -1;
  if (s.container && d.container && strcmp (s.rec.container_id, d.rec.container_id) == 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "\"%s\" and \"%s\" are one container", src, dst);
  if (v6only_flow (&s, &d, &ip6, err) < 0)
    return -1;
  es = explain_end (&s);
  ed = explain_end (&d);
  eproxy = explain_end (&proxy);
  if (proxy.container)
    es.proxy = &eproxy;
  ret->ip6 = ip6;
  r = ip6 ? moat_ctl_explain_flow6 (&es, &ed, &flow, now, host_has6, &s, &ret->allowed, why, size,
                                    err)
          : moat_ctl_explain_flow (&es, &ed, &flow, now, host_has, &s, &ret->allowed, why, size,
                                   err);
  if (r < 0)
    return -1;
  if (ret->allowed)
    foreign_words (&s, &d, ip6, &ret->allowed, why, size);
  end_text (&s, &d, ip6, ret->src, sizeof (ret->src));
  end_text (&d, &s, ip6, ret->dst, sizeof (ret->dst));
  origin_text (&s, now, ret->src_origin, sizeof (ret->src_origin));
  origin_text (&d, now, ret->dst_origin, sizeof (ret->dst_origin));
  return 0;
}

int
moat_ctl_explain (const char *src, const char *dst, const char *ports, int64_t now, bool *allowed,
                  char *why, size_t size, moat_err_t *err)
{
  struct moat_explain_answer a;

  if (moat_ctl_explain_family (src, dst, ports, false, now, &a, why, size, err) < 0)
    return -1;
  *allowed = a.allowed;
  return 0;
}
