/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl explain: the kernel's decision for one new flow, worked out from
 * the records in the order the chains of nft.h take it. */
#include "ctl.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "model/policy.h"
#include "state/state.h"

/* One end of the flow. */
struct end
{
  const char *text;
  struct moat_ctl_target target; /* a container: its attachments */
  bool container, host;
  struct in_addr addr; /* an outside or host address */
};

static void
end_free (struct end *e)
{
  moat_ctl_target_free (&e->target);
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

static int
end_resolve (const char *text, struct end *ret, moat_err_t *err)
{
  ret->text = text;
  if (strcmp (text, "host") == 0)
    {
      ret->host = true;
      return 0;
    }
  if (moat_ctl_find (text, &ret->target, err) == 0)
    {
      ret->container = true;
      return 0;
    }
  if (err->code != MOAT_E_UNKNOWN || inet_pton (AF_INET, text, &ret->addr) != 1)
    return -1;
  ret->host = is_local_addr (ret->addr);
  return 0;
}

/* The attachment of `e` to use: on `network` when it has one there. */
static int
end_record (const struct end *e, const char *network, struct moat_record *ret, moat_err_t *err)
{
  size_t pick = 0;
  int r;

  for (size_t i = 0; network && i < e->target.n; i++)
    if (strcmp (e->target.atts[i].network, network) == 0)
      pick = i;
  r = moat_record_read (e->target.atts[pick].network, e->target.atts[pick].key, ret, err);
  if (r == 0)
    return moat_error (err, MOAT_E_UNKNOWN, 0, "%s: gone", e->text);
  return r;
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

/* --- matching ------------------------------------------------------------------------ */

static bool
ports_cover (const struct moat_ports *rule, const struct moat_ports *flow)
{
  if (rule->proto && rule->proto != flow->proto)
    return false;
  if (!rule->lo)
    return true;
  return flow->lo >= rule->lo && flow->lo <= rule->hi;
}

static bool
acl_covers (const struct moat_acl *acl, struct in_addr addr, const struct moat_ports *flow)
{
  in_addr_t mask = moat_prefix_mask (acl->prefixlen);

  return (addr.s_addr & mask) == acl->addr.s_addr && ports_cover (&acl->ports, flow);
}

static const struct moat_acl *
acls_cover (const struct moat_acl *acls, size_t n, struct in_addr addr,
            const struct moat_ports *flow)
{
  for (size_t i = 0; i < n; i++)
    if (acl_covers (&acls[i], addr, flow))
      return &acls[i];
  return NULL;
}

static void
ttl_text (const struct moat_grant *g, int64_t now, char *buf, size_t size)
{
  if (g->expires)
    snprintf (buf, size, "expires in %lld s", (long long)(g->expires - now));
  else
    snprintf (buf, size, "no expiry");
}

enum toward
{
  TOWARD_PEER,
  TOWARD_HOST,
  TOWARD_OUTSIDE,
};

/* The live grant of `rec` that lets this flow through, if any: toward
 * `peer`, the host, or the outside address `dst`. */
static bool
grant_covers (const struct moat_record *rec, enum toward toward, const struct moat_record *peer,
              struct in_addr dst, const struct moat_ports *flow, int64_t now, char *why,
              size_t size)
{
  size_t i;
  json_t *j;

  json_array_foreach (rec->grants, i, j)
  {
    struct moat_grant g;
    moat_err_t ignored = { 0 };
    char words[MOAT_GRANT_WORDS_MAX], ttl[64];
    bool hit = false;

    if (moat_grant_from_json (j, &g, &ignored) < 0)
      continue;
    if (moat_grant_live (&g, now))
      switch (g.kind)
        {
        case MOAT_GRANT_HOST:
          hit = toward == TOWARD_HOST && ports_cover (&g.ports, flow);
          break;
        case MOAT_GRANT_EGRESS:
          hit = toward == TOWARD_OUTSIDE && acl_covers (&g.acl, dst, flow);
          break;
        case MOAT_GRANT_PEER:
          hit = toward == TOWARD_PEER && strcmp (g.peer, peer->container_id) == 0
                && g.peer_addr.s_addr == peer->addr.s_addr;
          break;
        }
    if (hit)
      {
        moat_grant_words (&g, words, sizeof (words));
        ttl_text (&g, now, ttl, sizeof (ttl));
        snprintf (why, size, "grant \"%s\" (%s)", words, ttl);
      }
    moat_grant_free (&g);
    if (hit)
      return true;
  }
  return false;
}

static int
policy_of (const struct moat_record *rec, struct moat_policy *ret, moat_err_t *err)
{
  memset (ret, 0, sizeof (*ret));
  if (!rec->policy)
    return 0;
  return moat_policy_from_json (rec->policy, ret, err);
}

static bool
proxied (const struct moat_policy *p, struct in_addr dst, const struct moat_ports *flow)
{
  return p->a.have_proxy && p->a.proxy_addr.s_addr == dst.s_addr && flow->proto == IPPROTO_TCP
         && flow->lo == p->a.proxy_port;
}

/* The nat chain sends the container's tcp to these ports to its proxy,
 * when the destination is not on its network. */
static bool
redirected (const struct moat_policy *p, const struct moat_ports *flow)
{
  for (size_t i = 0; p->a.have_proxy && i < p->a.n_proxy_ports; i++)
    if (flow->proto == IPPROTO_TCP && flow->lo == p->a.proxy_ports[i])
      return true;
  return false;
}

/* --- the chains ------------------------------------------------------------------------ */

#define SAY(...) (snprintf (why, size, __VA_ARGS__), true)
#define DENY(...) (snprintf (why, size, __VA_ARGS__), false)

/* Container to container: to_peer / same_bridge. */
static bool
to_peer (const struct moat_record *s, const struct moat_policy *ps, const struct moat_record *d,
         const struct moat_policy *pd, const struct moat_ports *flow, int64_t now, char *why,
         size_t size)
{
  if (grant_covers (s, TOWARD_PEER, d, d->addr, flow, now, why, size))
    return true;
  if (strcmp (s->network, d->network) != 0)
    return DENY ("default deny: different networks, and no peer grant");
  if (!s->ident || !d->ident)
    return DENY ("default deny: %s", !s->ident
                                         ? "the source has no label and no io.moat.depends"
                                         : "the destination has no label: nothing selects it");
  if (moat_policy_explain (ps, pd, why, size))
    return true;
  {
    char reason[400];

    snprintf (reason, sizeof (reason), "%s", why);
    return DENY ("default deny: %s", reason);
  }
}

/* Container to one of the host's addresses: to_host. */
static bool
to_host (const struct moat_record *s, const struct moat_policy *ps, struct in_addr dst,
         const struct moat_ports *flow, int64_t now, char *why, size_t size)
{
  char text[64];

  for (size_t i = 0; i < ps->a.n_allow_host; i++)
    if (ports_cover (&ps->a.allow_host[i], flow))
      {
        moat_ports_format (&ps->a.allow_host[i], text, sizeof (text));
        return SAY ("io.moat.allow-host %s", text);
      }
  if (grant_covers (s, TOWARD_HOST, NULL, dst, flow, now, why, size))
    return true;
  if (proxied (ps, dst, flow))
    return SAY ("the destination is the source's proxy (io.moat.proxy)");
  moat_ports_format (flow, text, sizeof (text));
  return DENY ("default deny: no io.moat.allow-host and no host grant for %s", text);
}

/* Container to an outside address: from_container. */
static bool
to_outside (const struct moat_record *s, const struct moat_policy *ps, struct in_addr dst,
            const struct moat_ports *flow, int64_t now, char *why, size_t size)
{
  const struct moat_acl *acl;
  char text[96];

  if (proxied (ps, dst, flow))
    return SAY ("the destination is the source's proxy (io.moat.proxy)");
  if (grant_covers (s, TOWARD_OUTSIDE, NULL, dst, flow, now, why, size))
    return true;
  if ((acl = acls_cover (ps->a.egress_deny, ps->a.n_egress_deny, dst, flow)))
    {
      moat_acl_format (acl, text, sizeof (text));
      return DENY ("refused by the profile's reject rule (egress %s)", text);
    }
  if (s->internet)
    return SAY ("the network gives its containers the internet (\"internet\": true)");
  if (ps->a.have_internet && ps->a.internet)
    return SAY ("io.moat.internet: true");
  if ((acl = acls_cover (ps->a.egress, ps->a.n_egress, dst, flow)))
    {
      moat_acl_format (acl, text, sizeof (text));
      return SAY ("io.moat.egress %s", text);
    }
  return DENY ("default deny: no io.moat.egress, internet or egress grant covers it");
}

/* An outside address to a container: to_container. */
static bool
from_outside (struct in_addr src, const struct moat_policy *pd, const struct moat_ports *flow,
              char *why, size_t size)
{
  const struct moat_acl *acl;
  char text[96];

  if ((acl = acls_cover (pd->a.ingress_deny, pd->a.n_ingress_deny, src, flow)))
    {
      moat_acl_format (acl, text, sizeof (text));
      return DENY ("refused by the profile's reject rule (ingress %s)", text);
    }
  if ((acl = acls_cover (pd->a.ingress, pd->a.n_ingress, src, flow)))
    {
      moat_acl_format (acl, text, sizeof (text));
      return SAY ("io.moat.ingress %s", text);
    }
  return DENY ("default deny: no io.moat.ingress covers it");
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

int
moat_ctl_explain (const char *src, const char *dst, const char *ports, int64_t now, bool *allowed,
                  char *why, size_t size, moat_err_t *err)
{
  _cleanup_ (end_free) struct end s = { 0 };
  _cleanup_ (end_free) struct end d = { 0 };
  _cleanup_ (moat_record_free) struct moat_record rs = { 0 };
  _cleanup_ (moat_record_free) struct moat_record rd = { 0 };
  _cleanup_ (moat_policy_free) struct moat_policy ps = { 0 };
  _cleanup_ (moat_policy_free) struct moat_policy pd = { 0 };
  struct moat_ports flow;
  const char *net;

  if (parse_flow (ports, &flow, err) < 0 || end_resolve (src, &s, err) < 0
      || end_resolve (dst, &d, err) < 0)
    return -1;
  if (!s.container && !d.container)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "neither \"%s\" nor \"%s\" is a container on a moat network", src, dst);
  net = s.container && d.container ? shared_network (&s, &d) : NULL;
  if ((s.container && (end_record (&s, net, &rs, err) < 0 || policy_of (&rs, &ps, err) < 0))
      || (d.container && (end_record (&d, net, &rd, err) < 0 || policy_of (&rd, &pd, err) < 0)))
    return -1;
  if (s.container && d.container && strcmp (rs.container_id, rd.container_id) == 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "\"%s\" and \"%s\" are one container", src, dst);
  if (!s.container)
    *allowed = s.host
                   ? (snprintf (why, size, "the host may open connections to its containers"), true)
                   : from_outside (s.addr, &pd, &flow, why, size);
  /* The nat chain redirects what is not for the source's own network,
   * a container of another network too. */
  else if (d.container && (net || !redirected (&ps, &flow)))
    *allowed = to_peer (&rs, &ps, &rd, &pd, &flow, now, why, size);
  else if (redirected (&ps, &flow))
    {
      char proxy[INET_ADDRSTRLEN];

      inet_ntop (AF_INET, &ps.a.proxy_addr, proxy, sizeof (proxy));
      snprintf (why, size, "redirected to the proxy %s:%u (io.moat.proxy)", proxy, ps.a.proxy_port);
      *allowed = true;
    }
  else if (d.host)
    *allowed = to_host (&rs, &ps, d.addr.s_addr ? d.addr : rs.gateway, &flow, now, why, size);
  else
    *allowed = to_outside (&rs, &ps, d.addr, &flow, now, why, size);
  return 0;
}
