/* SPDX-License-Identifier: Apache-2.0 */
/* The evaluator (ruleset/eval.h) on a matrix of containers, policies and
 * grants built in memory with the builders the hook and moatctl use: each
 * flow's verdict, explain's verdict and words on the same flows, and every
 * rule of the table matched by at least one packet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ctl.h"
#include "../grant.h"
#include "model/policy.h"
#include "model/publish.h"
#include "ruleset/elems.h"
#include "ruleset/eval.h"
#include "ruleset/ruleset.h"
#include "state/state.h"

#define NOW INT64_C (1700000000)
#define UPLINK "up0"
#define HOST_ADDR "192.168.0.10"

/* --- the world ------------------------------------------------------------------------- */

struct ctr
{
  const char *name; /* one letter */
  const char *net, *bridge, *addr, *gw, *ident;
  bool quiet, internet, masq, dns, log;
  const char *annots;  /* the io.moat.* annotations, JSON */
  const char *grants;  /* the record's grants, JSON (NULL: none) */
  const char *publish; /* published ports, io.moat.publish's text (NULL: none) */
  struct moat_record rec;
  struct moat_policy pol;
  char id[16], port[16];
};

/* Network n1 (bridge mb1): a and b share app=web (one identity), c is a
 * database exposed to app=api, d an api depending on app=db with a proxy
 * outside and a profile's egress reject, e has no label but grants (one
 * an ingress grant from 198.51.100.0/24) and io.moat.internet. Network n2 (mb2: internet,
 * masquerade): f with the labels of a (another network, another identity) and a proxy on the host.
 * g (app=web) has its proxy in container f: a peer on another network,
 * which refuses it. Network n3 (mb3: reject false, log true). a and b have names
 * (the network's name server on 10.1.0.1). */
static struct ctr ctrs[] = {
  { .name = "a",
    .net = "n1",
    .bridge = "mb1",
    .addr = "10.1.0.2",
    .gw = "10.1.0.1",
    .ident = "a0a0a0a0a0a0a0a0",
    .dns = true,
    .annots = "{\"io.moat.labels\": \"app=web\", \"io.moat.allow-host\": \"tcp/8080\","
              " \"io.moat.egress\": \"192.0.2.0/24 tcp/443,2001:db8:7::/48 tcp/443,"
              "2001:db8:7::9 icmp\"}" },
  { .name = "b",
    .net = "n1",
    .bridge = "mb1",
    .addr = "10.1.0.3",
    .gw = "10.1.0.1",
    .ident = "a0a0a0a0a0a0a0a0",
    .dns = true,
    .annots = "{\"io.moat.labels\": \"app=web\"}",
    .publish = "8443:80/tcp," HOST_ADDR ":5353:53/udp" },
  { .name = "c",
    .net = "n1",
    .bridge = "mb1",
    .addr = "10.1.0.4",
    .gw = "10.1.0.1",
    .ident = "c0c0c0c0c0c0c0c0",
    .annots = "{\"io.moat.labels\": \"app=db\", \"io.moat.expose\": \"app=api\","
              " \"io.moat.ingress\": \"198.51.100.0/24 tcp/5432\"}" },
  { .name = "d",
    .net = "n1",
    .bridge = "mb1",
    .addr = "10.1.0.5",
    .gw = "10.1.0.1",
    .ident = "d0d0d0d0d0d0d0d0",
    .annots = "{\"io.moat.labels\": \"app=api\", \"io.moat.depends\": \"app=db\","
              " \"io.moat.allow-host\": \"tcp/9000\", \"io.moat.egress\": \"192.0.2.0/24 tcp/443\","
              " \"io.moat.proxy\": \"192.0.2.50:3128\"}" },
  { .name = "e",
    .net = "n1",
    .bridge = "mb1",
    .addr = "10.1.0.6",
    .gw = "10.1.0.1",
    .annots = "{\"io.moat.internet\": \"true\"}",
    .grants = "[{\"grant\": \"peer ctr-a\", \"peerAddress\": \"10.1.0.2\"},"
              " {\"grant\": \"host tcp/7000\", \"expires\": 1700000060},"
              " {\"grant\": \"host tcp/7001\", \"expires\": 1699999990},"
              " {\"grant\": \"egress 203.0.113.0/24 tcp/22\", \"expires\": 1700000060},"
              " {\"grant\": \"ingress 198.51.100.0/24 tcp/8443\", \"expires\": 1700000060}]" },
  { .name = "f",
    .net = "n2",
    .bridge = "mb2",
    .addr = "10.2.0.2",
    .gw = "10.2.0.1",
    .ident = "f0f0f0f0f0f0f0f0",
    .internet = true,
    .masq = true,
    .annots = "{\"io.moat.labels\": \"app=web\", \"io.moat.proxy\": \"10.2.0.1:3128\"}",
    /* A peer grant across bridges (to_peer's grant rule). */
    .grants = "[{\"grant\": \"peer ctr-a\", \"peerAddress\": \"10.1.0.2\"}]" },
  { .name = "g",
    .net = "n1",
    .bridge = "mb1",
    .addr = "10.1.0.7",
    .gw = "10.1.0.1",
    .ident = "a0a0a0a0a0a0a0a0",
    .annots = "{\"io.moat.labels\": \"app=web\", \"io.moat.proxy\": \"10.2.0.2:8000\"}" },
  { .name = "q",
    .net = "n3",
    .bridge = "mb3",
    .addr = "10.3.0.2",
    .gw = "10.3.0.1",
    .quiet = true,
    .log = true,
    .annots = "{}" },
};
#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))
#define NCTRS ARRAY_SIZE (ctrs)

static struct in_addr
addr_of (const char *text)
{
  struct in_addr a;

  assert_int_equal (inet_pton (AF_INET, text, &a), 1);
  return a;
}

static struct ctr *
ctr_named (const char *name)
{
  for (size_t i = 0; i < NCTRS; i++)
    if (strcmp (ctrs[i].name, name) == 0)
      return &ctrs[i];
  return NULL;
}

static void
policy_build (struct ctr *c)
{
  moat_err_t err = { 0 };
  json_t *annots = json_loads (c->annots, 0, NULL);

  assert_non_null (annots);
  assert_int_equal (moat_annotations_parse (annots, &c->pol.a, &err), 0);
  json_decref (annots);
  c->pol.labels = json_object ();
  for (size_t i = 0; i < c->pol.a.n_labels; i++)
    json_object_set_new (c->pol.labels, c->pol.a.labels[i].key,
                         json_string (c->pol.a.labels[i].value));
  json_object_set_new (c->pol.labels, "@sys:network", json_string (c->net));
}

static void
record_build (struct ctr *c, size_t i)
{
  struct moat_record *r = &c->rec;

  snprintf (c->id, sizeof (c->id), "ctr-%s", c->name);
  snprintf (c->port, sizeof (c->port), "mt%s", c->name);
  memset (r, 0, sizeof (*r));
  r->network = (char *)c->net;
  r->container_id = c->id;
  r->host_if = c->port;
  r->bridge = (char *)c->bridge;
  r->mac[0] = 0x02;
  r->mac[5] = (unsigned char)(i + 1);
  r->addr = addr_of (c->addr);
  r->gateway = addr_of (c->gw);
  r->quiet = c->quiet;
  r->internet = c->internet;
  r->masquerade = c->masq;
  r->dns = c->dns;
  r->log = c->log;
  r->ident = (char *)c->ident;
  r->grants = c->grants ? json_loads (c->grants, 0, NULL) : json_array ();
  assert_non_null (r->grants);
  if (c->publish)
    {
      struct moat_publish_list pl = { 0 };
      moat_err_t err = { 0 };

      assert_int_equal (moat_publish_parse_text ("publish", c->publish, &pl, &err), 0);
      r->publish = moat_publish_to_json (&pl);
      moat_publish_list_free (&pl);
    }
}

/* d's profile rejects one address its egress allows. */
static void
profile_build (void)
{
  struct moat_policy *p = &ctr_named ("d")->pol;

  p->a.egress_deny = calloc (1, sizeof (struct moat_acl));
  p->a.n_egress_deny = 1;
  p->a.egress_deny[0] = (struct moat_acl){ .addr = addr_of ("192.0.2.9"),
                                           .prefixlen = 32,
                                           .ports = { IPPROTO_TCP, 443, 443 } };
  p = &ctr_named ("c")->pol;
  p->a.ingress_deny = calloc (1, sizeof (struct moat_acl));
  p->a.n_ingress_deny = 1;
  p->a.ingress_deny[0] = (struct moat_acl){ .addr = addr_of ("198.51.100.7"), .prefixlen = 32 };
}

/* The identities of a network, as the compiler takes them. */
struct groups
{
  struct moat_peer_group v[NCTRS];
  struct in_addr addrs[NCTRS][NCTRS];
  size_t n;
};

static void
groups_of (const char *net, struct groups *g)
{
  memset (g, 0, sizeof (*g));
  for (size_t i = 0; i < NCTRS; i++)
    {
      size_t k = 0;

      if (!ctrs[i].ident || strcmp (ctrs[i].net, net) != 0)
        continue;
      while (k < g->n && strcmp (g->v[k].ident, ctrs[i].ident) != 0)
        k++;
      if (k == g->n)
        g->v[g->n++] = (struct moat_peer_group){ ctrs[i].ident, &ctrs[i].pol, g->addrs[k], 0 };
      g->addrs[k][g->v[k].n++] = ctrs[i].rec.addr;
    }
}

/* A host-network container (docs/design.md, "Host-network containers"):
 * cgroup HOSTNET_CG, a's labels (app=web: its identity's chain), egress
 * 192.0.2.0/24 tcp/443, ingress from 198.51.100.0/24 to its tcp/8080. */
#define HOSTNET_CG UINT64_C (4242)

static void
hostnet_elems (struct moat_nft_elems *l)
{
  struct moat_acl egress = { .prefixlen = 24, .ports = { IPPROTO_TCP, 443, 443 } };
  struct moat_acl ingress = { .prefixlen = 24, .ports = { IPPROTO_TCP, 8080, 8080 } };

  egress.addr = addr_of ("192.0.2.0");
  ingress.addr = addr_of ("198.51.100.0");
  assert_int_equal (moat_nft_elems_hostnet (l, HOSTNET_CG), 0);
  assert_int_equal (moat_nft_elems_hostnet_ident (l, HOSTNET_CG, "a0a0a0a0a0a0a0a0"), 0);
  assert_int_equal (moat_nft_elems_hostnet_acl (l, false, HOSTNET_CG, &egress), 0);
  assert_int_equal (moat_nft_elems_hostnet_acl (l, true, HOSTNET_CG, &ingress), 0);
  /* a shares its label app=web: it may open connections to it. */
  assert_int_equal (moat_nft_elems_hostnet_peer (l, addr_of ("10.1.0.2"), HOSTNET_CG), 0);
}

/* Cluster mode: node n2 (subnet 10.90.2.0/24 via UPLINK, underlay
 * 192.0.2.12, MAC N2_MAC) and its container 10.90.2.5, which shares a's
 * label app=web: it jumps to a's identity, and a's identity reaches it. */
#define N2_MAC "\x02\x00\x00\x00\x09\x02"
#define N2_MEMBER "10.90.2.5"

static void
cluster_elems (struct moat_nft_elems *l)
{
  struct moat_node_link n = { .prefixlen = 24, .ifname = UPLINK };
  const char *ident = ctr_named ("a")->ident;

  n.subnet = addr_of ("10.90.2.0");
  n.underlay = addr_of ("192.0.2.12");
  memcpy (n.mac, N2_MAC, MOAT_MAC_LEN);
  /* Dual stack: its subnet6 (explain6.h's twin of 10.90.2.5 is in it),
   * routed via the link-local address its MAC gives. */
  n.have6 = true;
  assert_int_equal (inet_pton (AF_INET6, "fd00:90::", &n.subnet6), 1);
  n.prefixlen6 = 64;
  moat_link_local6 (n.mac, &n.gateway6);
  assert_int_equal (moat_nft_elems_node (l, &n), 0);
  assert_int_equal (moat_nft_elems_ident_member (l, addr_of (N2_MEMBER), ident), 0);
  assert_int_equal (moat_nft_elems_ident_reach (l, ident, addr_of (N2_MEMBER)), 0);
}

/* Every element the kernel holds for the world, built as the hook (member,
 * policy join in order) and moatctl (grants) build them. */
static struct moat_nft_elems *
world_elems (void)
{
  struct moat_nft_elems *l = moat_nft_elems_new ();
  moat_err_t err = { 0 };

  assert_non_null (l);
  for (size_t i = 0; i < NCTRS; i++)
    {
      struct ctr *c = &ctrs[i];
      struct moat_nft_member m = moat_record_member (&c->rec);
      struct groups g;
      bool first = true;
      struct moat_compile_input in = {
        .addr = c->rec.addr, .ident = c->ident, .network_internet = c->internet, .policy = &c->pol
      };
      size_t k;
      json_t *j;

      assert_int_equal (moat_nft_elems_member (l, &m, &err), 0);
      for (size_t h = 0; h < i; h++)
        first = first && !(c->ident && ctrs[h].ident && strcmp (ctrs[h].ident, c->ident) == 0);
      groups_of (c->net, &g);
      in.new_ident = first;
      in.groups = g.v;
      in.ngroups = g.n;
      assert_int_equal (moat_policy_compile (&in, l), 0);
      json_array_foreach (c->rec.grants, k, j)
      {
        struct moat_grant gr;

        assert_int_equal (moat_grant_from_json (j, &gr, &err), 0);
        assert_int_equal (moat_grant_elems (&gr, c->rec.addr, NOW, false, l), 0);
        moat_grant_free (&gr);
      }
      if (c->publish)
        {
          struct moat_publish_list pl = { 0 };

          assert_int_equal (moat_publish_parse_text ("publish", c->publish, &pl, &err), 0);
          assert_int_equal (moat_publish_elems (&pl, c->rec.addr, l), 0);
          moat_publish_list_free (&pl);
        }
    }
  hostnet_elems (l);
  cluster_elems (l);
  return l;
}

static const char *const local_addrs[]
    = { "10.1.0.1", "10.2.0.1", "10.3.0.1", HOST_ADDR, "127.0.0.1" };

static bool
is_local (struct in_addr addr, void *data)
{
  for (size_t i = 0; i < ARRAY_SIZE (local_addrs); i++)
    if (addr.s_addr == addr_of (local_addrs[i]).s_addr)
      return true;
  return false;
}

static void world_elems6 (struct moat_nft_elems *l); /* explain6.h */

static int
setup (void **state)
{
  for (size_t i = 0; i < NCTRS; i++)
    {
      record_build (&ctrs[i], i);
      policy_build (&ctrs[i]);
    }
  profile_build ();
  *state = world_elems ();
  world_elems6 (*state);
  return 0;
}

static int
teardown (void **state)
{
  moat_nft_elems_free (*state);
  for (size_t i = 0; i < NCTRS; i++)
    {
      json_decref (ctrs[i].rec.grants);
      json_decref (ctrs[i].rec.publish);
      moat_policy_free (&ctrs[i].pol);
    }
  return 0;
}

/* --- flows ----------------------------------------------------------------------------- */

/* SRC and DST: a container's letter, "host", or an address. */
static void
packet_of (const char *src, const char *dst, const char *ports, struct moat_eval_packet *p)
{
  struct ctr *s = ctr_named (src), *d = ctr_named (dst);
  struct moat_ports flow;
  moat_err_t err = { 0 };

  assert_int_equal (moat_ports_parse ("flow", ports, true, &flow, &err), 0);
  memset (p, 0, sizeof (*p));
  p->uplink = UPLINK;
  if (s)
    {
      p->port = s->port;
      p->bridge = s->bridge;
      memcpy (p->ether_saddr, s->rec.mac, MOAT_MAC_LEN);
      p->saddr = s->rec.addr;
    }
  else if (strcmp (src, "host") == 0)
    p->saddr = d->rec.gateway;
  else
    {
      p->iif = UPLINK;
      p->saddr = addr_of (src);
    }
  if (d)
    p->daddr = d->rec.addr;
  else if (strcmp (dst, "host") == 0)
    p->daddr = s->rec.gateway;
  else
    p->daddr = addr_of (dst);
  p->proto = flow.proto;
  p->dport = flow.lo;
}

struct flow
{
  const char *src, *dst, *ports;
  bool allowed;
  const char *why; /* explain's words contain this (NULL: not checked) */
};

/* Between containers: these pairs are allowed on every port, and these
 * with tcp/80 only (the proxy's redirect), all others refused. */
static const char *const peers_allowed[] = {
  /* a, b and g share the label app=web */
  "a>b",
  "b>a",
  "a>g",
  "g>a",
  "b>g",
  "g>b",
  /* d depends on app=db, c exposes to app=api */
  "d>c",
  /* e's peer grant, and f's across bridges */
  "e>a",
  "f>a",
};
static const char *const peers_proxied[] = {
  /* d's proxy: 192.0.2.50 */
  "d>f",
  "d>q",
  /* f's proxy: the host */
  "f>a",
  "f>b",
  "f>c",
  "f>d",
  "f>e",
  "f>g",
  "f>q",
};

static bool
listed (const char *const *list, size_t n, const char *src, const char *dst)
{
  char pair[8];

  snprintf (pair, sizeof (pair), "%s>%s", src, dst);
  for (size_t i = 0; i < n; i++)
    if (strcmp (list[i], pair) == 0)
      return true;
  return false;
}

/* To the host, outside addresses, and from outside. */
static const struct flow flows[] = {
  { "a", "host", "tcp/8080", true, "io.moat.allow-host tcp/8080" },
  { "b", "host", "tcp/8080", false, "default deny: no io.moat.allow-host and no host grant" },
  { "d", "host", "tcp/9000", true, "io.moat.allow-host tcp/9000" },
  { "e", "host", "tcp/7000", true, "grant \"host tcp/7000\" (expires in 60 s)" },
  { "e", "host", "tcp/7001", false, "default deny" },
  { "f", "host", "tcp/3128", true, "the destination is the source's proxy (io.moat.proxy)" },
  { "f", "host", "tcp/80", true, "redirected to the proxy 10.2.0.1:3128 (io.moat.proxy)" },
  { "d", "host", "tcp/80", true, "redirected to the proxy 192.0.2.50:3128 (io.moat.proxy)" },
  { "q", "host", "tcp/1", false, "default deny" },
  { "b", "host", "udp/53", true, "the network's name server on its gateway (\"names\": true)" },
  { "a", "host", "tcp/53", true, "the network's name server on its gateway (\"names\": true)" },
  { "b", "host", "udp/54", false, "default deny" },
  { "f", "host", "udp/53", false, "default deny" },
  { "a", HOST_ADDR, "tcp/8080", true, "io.moat.allow-host tcp/8080" },
  { "a", "192.0.2.5", "tcp/443", true, "io.moat.egress 192.0.2.0/24 tcp/443" },
  { "a", "192.0.2.5", "tcp/444", false, "default deny: no io.moat.egress" },
  { "a", "8.8.8.8", "udp/53", false, "default deny" },
  { "d", "192.0.2.5", "tcp/443", true, "io.moat.egress 192.0.2.0/24 tcp/443" },
  { "d", "192.0.2.9", "tcp/443", false,
    "refused by the profile's reject rule (egress 192.0.2.9/32 tcp/443)" },
  { "d", "192.0.2.50", "tcp/3128", true, "the destination is the source's proxy" },
  { "d", "203.0.113.9", "tcp/80", true, "redirected to the proxy 192.0.2.50:3128" },
  { "e", "8.8.8.8", "udp/53", true, "io.moat.internet: true" },
  { "e", "203.0.113.5", "tcp/22", true, "grant \"egress 203.0.113.0/24 tcp/22\"" },
  { "f", "8.8.8.8", "udp/53", true, "the network gives its containers the internet" },
  { "q", "8.8.8.8", "udp/53", false, "default deny" },
  { "198.51.100.5", "c", "tcp/5432", true, "io.moat.ingress 198.51.100.0/24 tcp/5432" },
  { "198.51.100.7", "c", "tcp/5432", false,
    "refused by the profile's reject rule (ingress 198.51.100.7/32 any)" },
  { "198.51.100.5", "c", "udp/5432", false, "default deny: no io.moat.ingress covers it" },
  { "8.8.8.8", "q", "tcp/1", false, "default deny" },
  { "198.51.100.9", "e", "tcp/8443", true,
    "grant \"ingress 198.51.100.0/24 tcp/8443\" (expires in 60 s)" },
  { "198.51.100.9", "e", "tcp/8444", false, "default deny" },
  { "203.0.113.9", "e", "tcp/8443", false, "default deny" },
  { "g", "203.0.113.9", "tcp/80", false,
    "redirected to the proxy 10.2.0.2:8000 (io.moat.proxy), then default deny: different "
    "networks, and no peer grant" },
  { "host", "a", "tcp/80", true, "the host may open connections to its containers" },
  { "host", "q", "udp/53", true, NULL },
};

/* The rules no packet can match, and why: a new one here is a decision. */
static const char *const shadowed[] = {
  /* prerouting accepts an established flow's replies before its jump. */
  "same_bridge: ct state established ct direction reply accept",
  "same_bridge6: ct state established ct direction reply accept",
  /* explain judges containers' packets, never a tunnel's outer datagram
   * (bats/cluster-vxlan.bats proves this rule with forged ones). */
  "input: udp dport 4789 @th,96,32 @node_vnis ip saddr . @th,96,32 != @node_vteps drop",
};

static void
eval_one (struct moat_nft_elems *l, const struct moat_eval_packet *p, unsigned *hits,
          struct moat_eval_result *r)
{
  moat_err_t err = { 0 };

  if (moat_eval (l, p, is_local, NULL, r, hits, &err) < 0)
    fail_msg ("eval: %s", err.msg);
}

/* The container holding c's proxy address, as explain finds it. */
static const struct moat_explain_end *
proxy_of (const struct ctr *c)
{
  static struct moat_explain_end proxies[NCTRS];

  for (size_t i = 0; c->pol.a.have_proxy && i < NCTRS; i++)
    if (ctrs[i].rec.addr.s_addr == c->pol.a.proxy_addr.s_addr)
      {
        proxies[i] = (struct moat_explain_end){ .rec = &ctrs[i].rec, .policy = &ctrs[i].pol };
        return &proxies[i];
      }
  return NULL;
}

static struct moat_explain_end
end_of (const char *name, struct moat_policy *none)
{
  struct ctr *c = ctr_named (name);
  struct moat_explain_end e = { .policy = none };

  if (c)
    return (struct moat_explain_end){ .rec = &c->rec, .policy = &c->pol, .proxy = proxy_of (c) };
  if (strcmp (name, "host") == 0)
    e.host = true;
  else
    {
      e.addr = addr_of (name);
      e.host = is_local (e.addr, NULL);
    }
  return e;
}

/* The flow through the whole world's elements, and through explain (which
 * builds its own from the two ends): one verdict. */
static void
check_flow (struct moat_nft_elems *l, unsigned *hits, const struct flow *f, size_t *count)
{
  struct moat_policy none = { 0 };
  struct moat_explain_end s = end_of (f->src, &none), d = end_of (f->dst, &none);
  struct moat_eval_packet p;
  struct moat_eval_result r;
  struct moat_ports flow;
  moat_err_t err = { 0 };
  bool allowed;
  char why[512];

  packet_of (f->src, f->dst, f->ports, &p);
  eval_one (l, &p, hits, &r);
  if ((r.verdict == MOAT_EVAL_ACCEPT) != f->allowed)
    fail_msg ("%s -> %s %s: eval says %s", f->src, f->dst, f->ports,
              f->allowed ? "refused" : "allowed");
  assert_int_equal (moat_ports_parse ("flow", f->ports, true, &flow, &err), 0);
  if (moat_ctl_explain_flow (&s, &d, &flow, NOW, is_local, NULL, &allowed, why, sizeof (why), &err)
      < 0)
    fail_msg ("explain %s -> %s: %s", f->src, f->dst, err.msg);
  if (allowed != f->allowed)
    fail_msg ("%s -> %s %s: explain says %s (%s)", f->src, f->dst, f->ports,
              allowed ? "allowed" : "refused", why);
  if (f->why && !strstr (why, f->why))
    fail_msg ("%s -> %s %s: explain says \"%s\", want \"%s\"", f->src, f->dst, f->ports, why,
              f->why);
  ++*count;
}

/* Packets other than a new connection: replies, ICMP errors, spoofing. */
struct special
{
  const char *what;
  const char *src, *dst, *ports;
  void (*adjust) (struct moat_eval_packet *p);
  enum moat_eval_verdict verdict;
  const char *rule; /* the deciding rule's text; NULL: none */
};

static void
reply (struct moat_eval_packet *p)
{
  p->ct = MOAT_EVAL_CT_ESTABLISHED;
  p->ct_reply = true;
}

static void
related_original (struct moat_eval_packet *p)
{
  p->ct = MOAT_EVAL_CT_RELATED;
  p->proto = IPPROTO_ICMP;
  p->ct_original_saddr = p->saddr; /* about a flow the sender opened */
  p->ct_reply_saddr = p->daddr;
}

static void
related_reply (struct moat_eval_packet *p)
{
  p->ct = MOAT_EVAL_CT_RELATED;
  p->proto = IPPROTO_ICMP;
  p->ct_original_saddr = p->daddr; /* about a flow opened to the sender */
  p->ct_reply_saddr = p->saddr;
}

static void
related_foreign (struct moat_eval_packet *p)
{
  related_original (p);
  p->ct_original_saddr = addr_of ("10.1.0.3");
}

static void
invalid (struct moat_eval_packet *p)
{
  p->ct = MOAT_EVAL_CT_INVALID;
}

static void
redirect (struct moat_eval_packet *p)
{
  p->proto = IPPROTO_ICMP;
  p->icmp_type = MOAT_ICMP_REDIRECT;
}

static void
group_mac (struct moat_eval_packet *p)
{
  p->reserved_mac = true;
}

static void
arp (struct moat_eval_packet *p)
{
  p->ether_type = MOAT_ETHERTYPE_ARP;
  memcpy (p->arp_sha, p->ether_saddr, MOAT_MAC_LEN);
  p->arp_spa = p->saddr;
}

static void
arp_spoofed (struct moat_eval_packet *p)
{
  arp (p);
  p->arp_spa = addr_of ("10.1.0.3");
}

static void
spoofed (struct moat_eval_packet *p)
{
  p->saddr = addr_of ("10.1.0.3");
}

/* Not by a port: the bridge's own address (no member) sends. */
static void
bridge_itself (struct moat_eval_packet *p)
{
  p->port = NULL;
  p->iif = "mb1";
  p->saddr = addr_of ("10.1.0.99");
}

static void
first_packet (struct moat_eval_packet *p)
{
}

/* The host itself, from 127.0.0.1 to its own 127.0.0.1:8443 (published). */
static void
host_loopback (struct moat_eval_packet *p)
{
  memset (p, 0, sizeof (*p));
  p->uplink = UPLINK;
  p->saddr = addr_of ("127.0.0.1");
  p->daddr = p->saddr;
  p->proto = IPPROTO_TCP;
  p->dport = 8443;
}

/* The host itself, from its address to its published udp port. */
static void
host_own_address (struct moat_eval_packet *p)
{
  memset (p, 0, sizeof (*p));
  p->uplink = UPLINK;
  p->saddr = addr_of (HOST_ADDR);
  p->daddr = p->saddr;
  p->proto = IPPROTO_UDP;
  p->dport = 5353;
}

/* The host-network container sends (HOSTNET_CG's socket, from the host's
 * address) or receives (on the host's address, from the uplink). */
static void
hostnet_sends (struct moat_eval_packet *p, const char *dst, uint8_t proto, uint16_t port)
{
  memset (p, 0, sizeof (*p));
  p->uplink = UPLINK;
  p->saddr = addr_of (HOST_ADDR);
  p->daddr = addr_of (dst);
  p->proto = proto;
  p->dport = port;
  p->cgroup = HOSTNET_CG;
}

static void
hostnet_receives (struct moat_eval_packet *p, const char *src, uint8_t proto, uint16_t port)
{
  memset (p, 0, sizeof (*p));
  p->uplink = UPLINK;
  p->iif = UPLINK;
  p->saddr = addr_of (src);
  p->daddr = addr_of (HOST_ADDR);
  p->proto = proto;
  p->dport = port;
  p->cgroup = HOSTNET_CG;
}

static void
hn_to_a (struct moat_eval_packet *p)
{
  hostnet_sends (p, "10.1.0.2", IPPROTO_TCP, 80);
}

static void
hn_to_c (struct moat_eval_packet *p)
{
  hostnet_sends (p, "10.1.0.4", IPPROTO_TCP, 80);
}

static void
hn_egress (struct moat_eval_packet *p)
{
  hostnet_sends (p, "192.0.2.5", IPPROTO_TCP, 443);
}

static void
hn_udp_out (struct moat_eval_packet *p)
{
  hostnet_sends (p, "8.8.8.8", IPPROTO_UDP, 53);
}

static void
hn_loopback_out (struct moat_eval_packet *p)
{
  hostnet_sends (p, "127.0.0.1", IPPROTO_TCP, 5432);
}

static void
hn_established_out (struct moat_eval_packet *p)
{
  hostnet_sends (p, "8.8.8.8", IPPROTO_TCP, 22);
  p->ct = MOAT_EVAL_CT_ESTABLISHED;
}

static void
hn_not_member (struct moat_eval_packet *p)
{
  hostnet_sends (p, "8.8.8.8", IPPROTO_TCP, 22);
  p->cgroup = HOSTNET_CG + 1;
}

static void
hn_ingress (struct moat_eval_packet *p)
{
  hostnet_receives (p, "198.51.100.5", IPPROTO_TCP, 8080);
}

static void
hn_ingress_refused (struct moat_eval_packet *p)
{
  hostnet_receives (p, "8.8.8.8", IPPROTO_TCP, 8080);
}

static void
hn_ingress_udp (struct moat_eval_packet *p)
{
  hostnet_receives (p, "198.51.100.5", IPPROTO_UDP, 8080);
}

static void
hn_established_in (struct moat_eval_packet *p)
{
  hostnet_receives (p, "8.8.8.8", IPPROTO_TCP, 8080);
  p->ct = MOAT_EVAL_CT_ESTABLISHED;
}

static void
hn_loopback_in (struct moat_eval_packet *p)
{
  hostnet_receives (p, "127.0.0.1", IPPROTO_TCP, 8080);
  p->iif = "lo";
  p->daddr = p->saddr;
}

/* a's connection to the host's tcp/8080 (its io.moat.allow-host), where
 * the host-network container listens: a shares its label, so it is in
 * hostnet_peers. */
static void
hn_from_container (struct moat_eval_packet *p)
{
  p->cgroup = HOSTNET_CG;
}

/* The same connection with a's address forged from outside (it arrives
 * on the uplink, not a's bridge): no peer. */
static void
hn_forged_from_outside (struct moat_eval_packet *p)
{
  p->cgroup = HOSTNET_CG;
  p->port = NULL;
  p->bridge = NULL;
  p->uplink = UPLINK;
  p->iif = UPLINK;
}

/* A packet from node n2's link: its MAC, or another's. */
static void
from_n2 (struct moat_eval_packet *p)
{
  memcpy (p->ether_saddr, N2_MAC, MOAT_MAC_LEN);
}

static void
from_not_n2 (struct moat_eval_packet *p)
{
  memcpy (p->ether_saddr, "\x02\x00\x00\x00\x09\x03", MOAT_MAC_LEN);
}

static const struct special specials[] = {
  { "host-network, to a peer its labels reach", HOST_ADDR, "10.1.0.2", "tcp/80", hn_to_a,
    MOAT_EVAL_ACCEPT, "ip daddr @id_<identity> accept" },
  { "host-network, to a container no label reaches", HOST_ADDR, "10.1.0.4", "tcp/80", hn_to_c,
    MOAT_EVAL_REJECT, "meta l4proto tcp reject with tcp reset" },
  { "host-network, its egress", HOST_ADDR, "192.0.2.5", "tcp/443", hn_egress, MOAT_EVAL_ACCEPT,
    "socket cgroupv2 level 2 . ip daddr . meta l4proto . th dport @hostnet_egress accept" },
  { "host-network, udp elsewhere", HOST_ADDR, "8.8.8.8", "udp/53", hn_udp_out, MOAT_EVAL_REJECT,
    "reject with icmpx admin-prohibited" },
  { "host-network, the host's loopback", HOST_ADDR, "127.0.0.1", "tcp/5432", hn_loopback_out,
    MOAT_EVAL_ACCEPT, "oifname lo accept" },
  { "host-network, an established flow", HOST_ADDR, "8.8.8.8", "tcp/22", hn_established_out,
    MOAT_EVAL_ACCEPT, "ct state established,related accept" },
  { "a process outside the group", HOST_ADDR, "8.8.8.8", "tcp/22", hn_not_member, MOAT_EVAL_ACCEPT,
    NULL },
  { "to host-network, its ingress", "198.51.100.5", HOST_ADDR, "tcp/8080", hn_ingress,
    MOAT_EVAL_ACCEPT,
    "ip saddr . socket cgroupv2 level 2 . meta l4proto . th dport @hostnet_ingress accept" },
  { "to host-network, refused", "8.8.8.8", HOST_ADDR, "tcp/8080", hn_ingress_refused,
    MOAT_EVAL_REJECT, "meta l4proto tcp reject with tcp reset" },
  { "to host-network, udp refused", "198.51.100.5", HOST_ADDR, "udp/8080", hn_ingress_udp,
    MOAT_EVAL_REJECT, "reject with icmpx admin-prohibited" },
  { "to host-network, established", "8.8.8.8", HOST_ADDR, "tcp/8080", hn_established_in,
    MOAT_EVAL_ACCEPT, "ct state established,related accept" },
  { "to host-network, from the host itself", "127.0.0.1", HOST_ADDR, "tcp/8080", hn_loopback_in,
    MOAT_EVAL_ACCEPT, "iifname lo accept" },
  { "to host-network, from a container its labels let in", "a", "host", "tcp/8080",
    hn_from_container, MOAT_EVAL_ACCEPT,
    "iifname . ip saddr @members ip saddr . socket cgroupv2 level 2 @hostnet_peers accept" },
  { "to host-network, a peer's address forged from outside", "a", "host", "tcp/8080",
    hn_forged_from_outside, MOAT_EVAL_REJECT, "meta l4proto tcp reject with tcp reset" },
  /* b publishes 0.0.0.0:8443 -> 80/tcp and HOST_ADDR:5353 -> 53/udp. */
  { "published, from outside", "8.8.8.8", HOST_ADDR, "tcp/8443", first_packet, MOAT_EVAL_ACCEPT,
    "ct status dnat ip daddr . meta l4proto . th dport @published accept" },
  { "published udp, on its address", "8.8.8.8", HOST_ADDR, "udp/5353", first_packet,
    MOAT_EVAL_ACCEPT, "ct status dnat ip daddr . meta l4proto . th dport @published accept" },
  { "published, on another address", "8.8.8.8", "10.1.0.1", "udp/5353", first_packet,
    MOAT_EVAL_ACCEPT, NULL },
  { "the published port, routed straight", "8.8.8.8", "b", "tcp/80", first_packet, MOAT_EVAL_REJECT,
    "meta l4proto tcp reject with tcp reset" },
  { "another port of the published container", "8.8.8.8", HOST_ADDR, "tcp/8444", first_packet,
    MOAT_EVAL_ACCEPT, NULL },
  /* Hairpin: c (app=db) may not reach b (app=web); through the gateway,
   * DNAT'd to b, same_bridge says no as it would to c -> b. */
  { "hairpin from another label", "c", "host", "tcp/8443", first_packet, MOAT_EVAL_REJECT,
    "meta l4proto tcp reject with tcp reset" },
  { "hairpin from the same label", "a", "host", "tcp/8443", first_packet, MOAT_EVAL_ACCEPT,
    "iifname . ip daddr @members accept" /* after same_bridge's identity rule */ },
  { "the host on 127.0.0.1", "host", "b", "tcp/8443", host_loopback, MOAT_EVAL_ACCEPT,
    "ip saddr 127.0.0.0/8 oifname @bridges masquerade" },
  { "the host on its address", "host", "b", "udp/5353", host_own_address, MOAT_EVAL_ACCEPT,
    "fib daddr type local meta l4proto udp dnat ip to ip daddr . meta l4proto . th dport map "
    "@publish" },
  { "a reply from outside", "8.8.8.8", "a", "tcp/1", reply, MOAT_EVAL_ACCEPT,
    "ct state established ct direction reply accept" },
  { "a reply to outside", "a", "8.8.8.8", "tcp/1", reply, MOAT_EVAL_ACCEPT,
    "ct state established ct direction reply accept" },
  { "a reply to the host", "a", "host", "tcp/1", reply, MOAT_EVAL_ACCEPT,
    "ct state established ct direction reply accept" },
  { "an error about one's own flow", "a", "8.8.8.8", "icmp", related_original, MOAT_EVAL_ACCEPT,
    "ct state related ip saddr . ct original ip saddr @self accept" },
  { "an error about a flow to oneself", "a", "8.8.8.8", "icmp", related_reply, MOAT_EVAL_ACCEPT,
    "ct state related ip saddr . ct reply ip saddr @self accept" },
  { "an error to the host about one's flow", "a", "host", "icmp", related_original,
    MOAT_EVAL_ACCEPT, "ct state related ip saddr . ct original ip saddr @self accept" },
  { "an error to the host about its flow", "a", "host", "icmp", related_reply, MOAT_EVAL_ACCEPT,
    "ct state related ip saddr . ct reply ip saddr @self accept" },
  /* same_bridge accepts it, then from_container again. */
  { "an error to a peer about one's flow", "a", "c", "icmp", related_original, MOAT_EVAL_ACCEPT,
    "ct state related ip saddr . ct original ip saddr @self accept" },
  { "an error to a peer about its flow", "a", "c", "icmp", related_reply, MOAT_EVAL_ACCEPT,
    "ct state related ip saddr . ct reply ip saddr @self accept" },
  { "an error about another's flow", "a", "8.8.8.8", "icmp", related_foreign, MOAT_EVAL_REJECT,
    "reject with icmpx admin-prohibited" },
  { "an error from outside", "8.8.8.8", "a", "icmp", related_original, MOAT_EVAL_ACCEPT,
    "ct state related accept" },
  { "an invalid packet", "a", "8.8.8.8", "tcp/1", invalid, MOAT_EVAL_DROP,
    "ct state invalid drop" },
  { "the host's redirect", "host", "a", "icmp", redirect, MOAT_EVAL_DROP,
    "icmp type redirect oifname . ip daddr @members drop" },
  { "a frame to a group MAC", "a", "host", "tcp/1", group_mac, MOAT_EVAL_DROP,
    "iifname @guarded drop" },
  /* a may open the host's tcp/8080, but not on its loopback (a raw frame
   * to 127.0.0.1 with the gateway's MAC; route_localnet would route it). */
  { "a frame to the host's loopback", "a", "127.0.0.1", "tcp/8080", first_packet, MOAT_EVAL_DROP,
    "ip daddr 127.0.0.0/8 iifname @bridges drop" },
  { "arp", "a", "host", "tcp/1", arp, MOAT_EVAL_ACCEPT,
    "ether type arp iifname . ether saddr . arp saddr ip @ports iifname . arp saddr ether . arp "
    "saddr ip @ports accept" },
  { "arp, spoofed", "a", "host", "tcp/1", arp_spoofed, MOAT_EVAL_DROP, "drop" },
  { "ip, spoofed", "a", "8.8.8.8", "tcp/1", spoofed, MOAT_EVAL_DROP, "drop" },
  { "no member, forwarded", "a", "8.8.8.8", "tcp/1", bridge_itself, MOAT_EVAL_DROP,
    "meta nfproto ipv4 iifname @bridges drop" },
  { "no member, to the host", "a", "host", "tcp/1", bridge_itself, MOAT_EVAL_DROP,
    "meta nfproto ipv4 iifname @bridges drop" },
  { "masqueraded", "f", "8.8.8.8", "tcp/1", first_packet, MOAT_EVAL_ACCEPT,
    "ip saddr @masq oifname . ip daddr != @members masquerade" },
  { "quiet ingress", "8.8.8.8", "q", "tcp/1", first_packet, MOAT_EVAL_DROP,
    "ip daddr @quiet drop" },
  /* q's network logs its refusals: the log rule, then the drop. */
  { "quiet egress, logged", "q", "8.8.8.8", "tcp/1", first_packet, MOAT_EVAL_DROP,
    "ip saddr @quiet drop" },
  /* Cluster mode: a container of node n2 sharing a's label. */
  { "from a container of another node", N2_MEMBER, "a", "tcp/80", from_n2, MOAT_EVAL_ACCEPT,
    "ip daddr @id_<identity> accept" },
  { "to a container of another node", "a", N2_MEMBER, "tcp/80", first_packet, MOAT_EVAL_ACCEPT,
    "ip daddr @id_<identity> accept" },
  { "from another node's subnet, not by that node", N2_MEMBER, "a", "tcp/80", from_not_n2,
    MOAT_EVAL_DROP,
    "ip saddr . iifname @node_nets ip saddr . iifname . ether saddr != @node_routes drop" },
  { "from a node, with a source not its own", "198.51.100.7", "a", "tcp/80", from_n2,
    MOAT_EVAL_DROP,
    "iifname . ether saddr @node_links oifname @bridges ip saddr . iifname . ether saddr != "
    "@node_routes drop" },
  { "to the host, another node's subnet not by that node", N2_MEMBER, HOST_ADDR, "tcp/8080",
    from_not_n2, MOAT_EVAL_DROP,
    "ip saddr . iifname @node_nets ip saddr . iifname . ether saddr != @node_routes drop" },
  { "from the node itself, refused as from outside", "192.0.2.12", "c", "tcp/80", from_n2,
    MOAT_EVAL_REJECT, "meta l4proto tcp reject with tcp reset" },
  { "refused tcp", "a", "8.8.8.8", "tcp/1", first_packet, MOAT_EVAL_REJECT,
    "meta l4proto tcp reject with tcp reset" },
  { "refused tcp ingress", "8.8.8.8", "c", "tcp/1", first_packet, MOAT_EVAL_REJECT,
    "meta l4proto tcp reject with tcp reset" },
  { "refused udp ingress", "8.8.8.8", "c", "udp/1", first_packet, MOAT_EVAL_REJECT,
    "reject with icmpx admin-prohibited" },
};

static void
check_special (struct moat_nft_elems *l, unsigned *hits, const struct special *s)
{
  struct moat_eval_packet p;
  struct moat_eval_result r;
  const struct moat_eval_step *st;
  bool q = strcmp (s->src, "q") == 0 || strcmp (s->dst, "q") == 0;

  packet_of (s->src, s->dst, s->ports, &p);
  s->adjust (&p);
  eval_one (l, &p, hits, &r);
  st = moat_eval_decider (&r);
  /* rule NULL: no rule decides (the hooks' policies accept). */
  if (r.verdict != s->verdict || (s->rule && (!st || strcmp (st->text, s->rule) != 0))
      || (!s->rule && st))
    fail_msg ("%s: verdict %d by \"%s\", want %d by \"%s\"", s->what, r.verdict,
              st ? st->text : "(none)", s->verdict, s->rule);
  /* Only a refusal of a container whose network logs is logged. */
  if (r.logged != (q && r.verdict != MOAT_EVAL_ACCEPT))
    fail_msg ("%s: logged %d", s->what, r.logged);
}

#include "explain6.h"

static bool
is_shadowed (const char *chain, const char *text)
{
  char name[256];

  snprintf (name, sizeof (name), "%s: %s", chain, text);
  for (size_t i = 0; i < ARRAY_SIZE (shadowed); i++)
    if (strcmp (shadowed[i], name) == 0)
      return true;
  return false;
}

static void
test_matrix (void **state)
{
  struct moat_nft_elems *l = *state;
  size_t nrules = moat_eval_rule_count () + 1, count = 0, missing = 0;
  unsigned *hits = calloc (nrules, sizeof (*hits));
  const char *ports[] = { "tcp/80", "udp/53" };

  assert_non_null (hits);
  for (size_t i = 0; i < NCTRS; i++)
    for (size_t k = 0; k < NCTRS; k++)
      for (size_t p = 0; p < 2 && i != k; p++)
        {
          const char *s = ctrs[i].name, *d = ctrs[k].name;
          bool ok = listed (peers_allowed, ARRAY_SIZE (peers_allowed), s, d)
                    || (p == 0 && listed (peers_proxied, ARRAY_SIZE (peers_proxied), s, d));
          struct flow f = { s, d, ports[p], ok, ok ? NULL : "" };

          check_flow (l, hits, &f, &count);
        }
  for (size_t i = 0; i < ARRAY_SIZE (flows); i++)
    check_flow (l, hits, &flows[i], &count);
  for (size_t i = 0; i < ARRAY_SIZE (specials); i++)
    check_special (l, hits, &specials[i]);
  check_all6 (l, hits);
  for (size_t i = 0; i < nrules; i++)
    {
      const char *chain, *text;

      moat_eval_rule_name (i, &chain, &text);
      if (!hits[i] && !is_shadowed (chain, text))
        {
          print_error ("no flow reaches %s: %s\n", chain, text);
          missing++;
        }
      if (hits[i] && is_shadowed (chain, text))
        {
          print_error ("listed as shadowed but reached: %s: %s\n", chain, text);
          missing++;
        }
    }
  assert_int_equal (missing, 0);
  assert_true (count >= 100);
  free (hits);
}

/* explain's words between containers come from the policy. */
static void
test_peer_words (void **state)
{
  struct
  {
    const char *src, *dst, *why;
  } cases[] = {
    { "a", "b", "shared label app=web" },
    { "d", "c", "the source depends on \"app=db\", and the destination exposes to \"app=api\"" },
    { "e", "a", "grant \"peer ctr-a\" (no expiry)" },
    { "a", "c", "default deny: " },
    { "a", "e", "default deny: the destination has no label: nothing selects it" },
    { "e", "b", "default deny: the source has no label and no io.moat.depends" },
    { "a", "f", "default deny: different networks, and no peer grant" },
  };

  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    {
      struct moat_explain_end s = end_of (cases[i].src, NULL), d = end_of (cases[i].dst, NULL);
      struct moat_ports flow = { IPPROTO_TCP, 80, 80 };
      moat_err_t err = { 0 };
      bool allowed;
      char why[512];

      assert_int_equal (moat_ctl_explain_flow (&s, &d, &flow, NOW, is_local, NULL, &allowed, why,
                                               sizeof (why), &err),
                        0);
      if (strncmp (why, cases[i].why, strlen (cases[i].why)) != 0)
        fail_msg ("%s -> %s: \"%s\", want \"%s\"", cases[i].src, cases[i].dst, why, cases[i].why);
    }
  (void)state;
}

/* A peer grant names the peer as moatctl ls does: its record's name. */
static void
test_peer_grant_names_the_peer (void **state)
{
  struct moat_explain_end s = end_of ("e", NULL), d = end_of ("a", NULL);
  struct moat_ports flow = { IPPROTO_TCP, 80, 80 };
  moat_err_t err = { 0 };
  bool allowed;
  char why[512];

  ctr_named ("a")->rec.name = (char *)"web-1";
  assert_int_equal (
      moat_ctl_explain_flow (&s, &d, &flow, NOW, is_local, NULL, &allowed, why, sizeof (why), &err),
      0);
  ctr_named ("a")->rec.name = NULL;
  assert_true (allowed);
  assert_string_equal (why, "grant \"peer web-1\" (no expiry)");
  (void)state;
}

/* explain of an outside client to a published container port: the flow
 * through the host port that leads there; an unpublished port of the same
 * container is refused. */
static void
test_publish_words (void **state)
{
  struct
  {
    const char *ports;
    bool allowed;
    const char *why;
  } cases[] = {
    { "tcp/80", true, "published 0.0.0.0:8443/tcp -> 80" },
    { "udp/53", true, "published " HOST_ADDR ":5353/udp -> 53" },
    { "tcp/81", false,
      "default deny: no io.moat.ingress covers it, and no published port leads "
      "to it" },
    { "udp/80", false, "default deny" },
  };

  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    {
      struct moat_explain_end s = end_of ("203.0.113.7", NULL), d = end_of ("b", NULL);
      struct moat_ports flow;
      moat_err_t err = { 0 };
      bool allowed;
      char why[512];

      assert_int_equal (moat_ports_parse ("flow", cases[i].ports, true, &flow, &err), 0);
      assert_int_equal (moat_ctl_explain_flow (&s, &d, &flow, NOW, is_local, NULL, &allowed, why,
                                               sizeof (why), &err),
                        0);
      if (allowed != cases[i].allowed || strncmp (why, cases[i].why, strlen (cases[i].why)) != 0)
        fail_msg ("outside -> b %s: %s \"%s\", want %s \"%s\"", cases[i].ports,
                  allowed ? "allowed" : "refused", why, cases[i].allowed ? "allowed" : "refused",
                  cases[i].why);
    }
  (void)state;
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_matrix),
    cmocka_unit_test (test_peer_words),
    cmocka_unit_test (test_peer_grant_names_the_peer),
    cmocka_unit_test (test_publish_words),
    cmocka_unit_test (test_explain6_verdicts),
    cmocka_unit_test (test_explain6_words),
    cmocka_unit_test (test_explain6_ipv4_only),
  };

  return cmocka_run_group_tests (tests, setup, teardown);
}
