/* SPDX-License-Identifier: Apache-2.0 */
/* test_explain's IPv6 half (docs/design.md, "IPv6"): the same world made
 * dual stack (10.N.0.K is fd00:N::K, the gateway 10.N.0.1 fd00:N::1), its
 * policy turned into IPv6 twins by moat_nft_elems_twin6, and the IPv6
 * packets that reach every rule of the IPv6 half. Included by
 * test_explain.c after its world. */

#define HOST6 "2001:db8:ff::10"

/* The test's address plan. A single outside address a.b.c.d stands for
 * 2001:db8:c::d, so that /32 rules (a profile's reject, the proxy outside)
 * get twins; an outside range gets none (moat_nft_elems_twin6). */
static int
addr6_of (struct in_addr addr, struct in6_addr *ret, void *data)
{
  uint32_t a = ntohl (addr.s_addr);
  char text[64];

  if ((a >> 24) == 10)
    snprintf (text, sizeof (text), "fd00:%u::%u", (a >> 16) & 0xff, a & 0xff);
  else
    snprintf (text, sizeof (text), "2001:db8:%u::%u", (a >> 8) & 0xff, a & 0xff);
  (void)data;
  return inet_pton (AF_INET6, text, ret);
}

static struct in6_addr
six (const char *text)
{
  struct in6_addr a;

  assert_int_equal (inet_pton (AF_INET6, text, &a), 1);
  return a;
}

/* The host-network container's IPv6 ranges (elements of the IPv6 half
 * straight away: a group has no address to twin): egress to
 * 2001:db8:2::/64 tcp/443, ingress from 2001:db8:100::/64 to its tcp/8080. */
static void
hostnet_extras6 (struct moat_nft_elems *x)
{
  struct moat_acl egress = { .v6 = true, .prefixlen = 64, .ports = { IPPROTO_TCP, 443, 443 } };
  struct moat_acl ingress = { .v6 = true, .prefixlen = 64, .ports = { IPPROTO_TCP, 8080, 8080 } };

  assert_int_equal (inet_pton (AF_INET6, "2001:db8:2::", &egress.addr6), 1);
  assert_int_equal (inet_pton (AF_INET6, "2001:db8:100::", &ingress.addr6), 1);
  assert_int_equal (moat_nft_elems_hostnet_acl (x, false, HOSTNET_CG, &egress), 0);
  assert_int_equal (moat_nft_elems_hostnet_acl (x, true, HOSTNET_CG, &ingress), 0);
}

/* Elements only the IPv6 tests need: single outside addresses where the
 * world's rules name ranges (they have no twin). */
static void
extras4 (struct moat_nft_elems *x)
{
  struct moat_acl egress
      = { .addr = addr_of ("192.0.2.77"), .prefixlen = 32, .ports = { IPPROTO_TCP, 443, 443 } };
  struct moat_acl ingress = { .addr = addr_of ("198.51.100.77"),
                              .prefixlen = 32,
                              .ports = { IPPROTO_TCP, 5432, 5432 } };
  struct moat_acl gegress
      = { .addr = addr_of ("203.0.113.77"), .prefixlen = 32, .ports = { IPPROTO_TCP, 22, 22 } };
  struct moat_acl icmp = { .addr = addr_of ("192.0.2.78"), .prefixlen = 32, .ports = { IPPROTO_ICMP } };
  struct moat_acl gingress = { .addr = addr_of ("198.51.100.78"),
                               .prefixlen = 32,
                               .ports = { IPPROTO_TCP, 8443, 8443 } };

  assert_int_equal (moat_nft_elems_acl (x, MOAT_NFT_EGRESS, addr_of ("10.1.0.2"), &egress), 0);
  assert_int_equal (moat_nft_elems_acl (x, MOAT_NFT_EGRESS, addr_of ("10.1.0.2"), &icmp), 0);
  assert_int_equal (moat_nft_elems_acl (x, MOAT_NFT_INGRESS, addr_of ("10.1.0.4"), &ingress), 0);
  assert_int_equal (moat_nft_elems_grant_egress (x, addr_of ("10.1.0.6"), &gegress, 0), 0);
  assert_int_equal (moat_nft_elems_grant_ingress (x, addr_of ("10.1.0.6"), &gingress, 0), 0);
  assert_int_equal (
      moat_nft_elems_publish (x, addr_of ("0.0.0.0"), false, IPPROTO_UDP, 5354, addr_of ("10.1.0.3"),
                              53),
      0);
  hostnet_extras6 (x);
  assert_int_equal (moat_nft_elems_published (x, addr_of ("10.1.0.3"), IPPROTO_UDP, 53), 0);
}

static void
append_all (struct moat_nft_elems *l, const struct moat_nft_elems *from, bool only6)
{
  for (size_t i = 0; i < moat_nft_elems_count (from); i++)
    {
      const struct moat_elem *e = moat_nft_elems_at (from, i);
      struct moat_elem *to;

      if (only6 && !e->set->v6)
        continue;
      to = moat_elem_list_push (&l->l);
      assert_non_null (to);
      *to = *e;
    }
}

/* The world's IPv6 half: each member's IPv6 elements, the twins. */
static void
world_elems6 (struct moat_nft_elems *l)
{
  struct moat_nft_elems *twins = moat_nft_elems_new (), *x = moat_nft_elems_new ();
  moat_err_t err = { 0 };

  assert_non_null (twins);
  assert_non_null (x);
  for (size_t i = 0; i < NCTRS; i++)
    {
      struct moat_nft_member m = moat_record_member (&ctrs[i].rec);
      struct moat_nft_elems *own = moat_nft_elems_new ();

      assert_non_null (own);
      m.have_addr6 = true;
      assert_int_equal (addr6_of (m.addr, &m.addr6, NULL), 1);
      assert_int_equal (addr6_of (m.gateway, &m.gateway6, NULL), 1);
      assert_int_equal (moat_nft_elems_member (own, &m, &err), 0);
      append_all (l, own, true);
      moat_nft_elems_free (own);
    }
  extras4 (x);
  assert_int_equal (moat_nft_elems_twin6 (twins, l, addr6_of, NULL), 0);
  assert_int_equal (moat_nft_elems_twin6 (twins, x, addr6_of, NULL), 0);
  append_all (l, twins, false);
  append_all (l, x, true);
  moat_nft_elems_free (twins);
  moat_nft_elems_free (x);
}

/* The host's addresses: HOST6 and the gateways fd00:N::1. */
static bool
is_local6 (const struct in6_addr *addr, void *data)
{
  struct in6_addr host = six (HOST6);

  (void)data;
  return memcmp (addr, &host, sizeof (host)) == 0
         || (addr->s6_addr[0] == 0xfd && addr->s6_addr[1] == 0 && addr->s6_addr[15] == 1
             && memcmp (addr->s6_addr + 4, (const uint8_t[11]){ 0 }, 11) == 0);
}

/* SRC and DST: a container's letter, "host" (the other end's gateway), or
 * an IPv6 address. */
static void
packet6_of (const char *src, const char *dst, const char *ports, struct moat_eval_packet *p)
{
  struct ctr *s = ctr_named (src), *d = ctr_named (dst);
  struct moat_ports flow;
  moat_err_t err = { 0 };

  assert_int_equal (moat_ports_parse ("flow", ports, true, &flow, &err), 0);
  memset (p, 0, sizeof (*p));
  p->uplink = UPLINK;
  p->ip6 = true;
  p->is_local6 = is_local6;
  if (s)
    {
      p->port = s->port;
      p->bridge = s->bridge;
      memcpy (p->ether_saddr, s->rec.mac, MOAT_MAC_LEN);
      addr6_of (s->rec.addr, &p->saddr6, NULL);
    }
  else if (strcmp (src, "host") == 0)
    addr6_of (d->rec.gateway, &p->saddr6, NULL);
  else
    {
      p->iif = UPLINK;
      p->saddr6 = six (src);
    }
  if (d)
    addr6_of (d->rec.addr, &p->daddr6, NULL);
  else if (strcmp (dst, "host") == 0)
    addr6_of (s->rec.gateway, &p->daddr6, NULL);
  else
    p->daddr6 = six (dst);
  p->proto = flow.proto == IPPROTO_ICMP ? IPPROTO_ICMPV6 : flow.proto;
  p->dport = flow.lo;
}

static void
related6_original (struct moat_eval_packet *p)
{
  p->ct = MOAT_EVAL_CT_RELATED;
  p->ct_original_saddr6 = p->saddr6;
  p->ct_reply_saddr6 = p->daddr6;
}

static void
related6_reply (struct moat_eval_packet *p)
{
  p->ct = MOAT_EVAL_CT_RELATED;
  p->ct_original_saddr6 = p->daddr6;
  p->ct_reply_saddr6 = p->saddr6;
}

static void
icmp6 (struct moat_eval_packet *p, uint8_t type)
{
  p->proto = IPPROTO_ICMPV6;
  p->icmp_type = type;
}

/* A neighbour solicitation for the gateway with the sender's own MAC. */
static void
ns_own (struct moat_eval_packet *p)
{
  icmp6 (p, MOAT_ICMPV6_NS);
  p->nd_target = p->daddr6;
  p->nd_option = MOAT_ND_OPT_SLLAO;
  memcpy (p->nd_lladdr, p->ether_saddr, MOAT_MAC_LEN);
}

static void
na_own (struct moat_eval_packet *p)
{
  icmp6 (p, MOAT_ICMPV6_NA);
  p->nd_target = p->saddr6;
  p->nd_option = MOAT_ND_OPT_TLLAO;
  memcpy (p->nd_lladdr, p->ether_saddr, MOAT_MAC_LEN);
}

static void
na_for_b (struct moat_eval_packet *p)
{
  na_own (p);
  p->nd_target = six ("fd00:1::3");
}

static void
na_sllao_first (struct moat_eval_packet *p)
{
  na_own (p);
  p->nd_option = MOAT_ND_OPT_SLLAO;
}

static void
ns_nonce_first (struct moat_eval_packet *p)
{
  ns_own (p);
  p->nd_option = 0x0e01;
}

static void
ns_peer_mac (struct moat_eval_packet *p)
{
  ns_own (p);
  p->nd_lladdr[5] ^= 0x03; /* b's */
}

static void
ra (struct moat_eval_packet *p)
{
  icmp6 (p, MOAT_ICMPV6_RA);
}

static void
redirect6 (struct moat_eval_packet *p)
{
  icmp6 (p, MOAT_ICMPV6_REDIRECT);
}

static void
mld2 (struct moat_eval_packet *p)
{
  icmp6 (p, MOAT_ICMPV6_MLD2_REPORT);
}

static void
dhcp6_server (struct moat_eval_packet *p)
{
  p->sport = MOAT_DHCPV6_SERVER_PORT;
}

/* The same cut in fragments: the port cannot read a later fragment's
 * ICMPv6 type, so fragments to link-scoped addresses go. */
static void
na_fragment (struct moat_eval_packet *p)
{
  na_own (p);
  p->frag = true;
}

static void
ra_fragment (struct moat_eval_packet *p)
{
  ra (p);
  p->frag = true;
}

static void
fragment (struct moat_eval_packet *p)
{
  first_packet (p);
  p->frag = true;
}

static void
spoofed6 (struct moat_eval_packet *p)
{
  p->saddr6 = six ("fd00:1::3");
}

static void
bridge_itself6 (struct moat_eval_packet *p)
{
  p->port = NULL;
  p->iif = "mb1";
  p->saddr6 = six ("fd00:1::99");
}

static void
invalid6 (struct moat_eval_packet *p)
{
  p->ct = MOAT_EVAL_CT_INVALID;
}

/* The host's own connection to its address's published port. */
static void
host_own6 (struct moat_eval_packet *p)
{
  p->port = NULL;
  p->bridge = NULL;
  p->iif = NULL;
  p->saddr6 = six (HOST6);
  p->daddr6 = p->saddr6;
}

/* The host-network container over IPv6: it sends from HOST6 (its
 * socket's group HOSTNET_CG) or receives on HOST6 from the uplink. */
static void
hn6_sends (struct moat_eval_packet *p)
{
  p->port = NULL;
  p->bridge = NULL;
  p->iif = NULL;
  p->saddr6 = six (HOST6);
  p->cgroup = HOSTNET_CG;
}

static void
hn6_sends_established (struct moat_eval_packet *p)
{
  hn6_sends (p);
  p->ct = MOAT_EVAL_CT_ESTABLISHED;
}

static void
hn6_other_group (struct moat_eval_packet *p)
{
  hn6_sends (p);
  p->cgroup = HOSTNET_CG + 1;
}

static void
hn6_receives (struct moat_eval_packet *p)
{
  p->cgroup = HOSTNET_CG;
}

static void
hn6_receives_established (struct moat_eval_packet *p)
{
  p->cgroup = HOSTNET_CG;
  p->ct = MOAT_EVAL_CT_ESTABLISHED;
}

static void
hn6_from_itself (struct moat_eval_packet *p)
{
  p->cgroup = HOSTNET_CG;
  p->iif = "lo";
}

/* a's IPv6 address forged from outside: no peer. */
static void
hn6_forged (struct moat_eval_packet *p)
{
  p->cgroup = HOSTNET_CG;
  p->port = NULL;
  p->bridge = NULL;
  p->iif = UPLINK;
}

static const struct special specials6[] = {
  { "v6 host-network, to a peer its labels reach", HOST6, "a", "tcp/80", hn6_sends,
    MOAT_EVAL_ACCEPT, "ip6 daddr @id_<identity>6 accept" },
  { "v6 host-network, to a container no label reaches", HOST6, "c", "tcp/80", hn6_sends,
    MOAT_EVAL_REJECT, "meta l4proto tcp reject with tcp reset" },
  { "v6 host-network, its IPv6 egress", HOST6, "2001:db8:2::5", "tcp/443", hn6_sends,
    MOAT_EVAL_ACCEPT,
    "socket cgroupv2 level 2 . ip6 daddr . meta l4proto . th dport @hostnet_egress6 accept" },
  { "v6 host-network, udp elsewhere", HOST6, "2001:db8:8::8", "udp/53", hn6_sends,
    MOAT_EVAL_REJECT, "reject with icmpx admin-prohibited" },
  { "v6 host-network, the host's own address", HOST6, HOST6, "tcp/5432", hn6_sends,
    MOAT_EVAL_ACCEPT, "oifname lo accept" },
  { "v6 host-network, an established flow", HOST6, "2001:db8:8::8", "tcp/22",
    hn6_sends_established, MOAT_EVAL_ACCEPT, "ct state established,related accept" },
  { "v6 a process outside the group", HOST6, "2001:db8:8::8", "tcp/22", hn6_other_group,
    MOAT_EVAL_ACCEPT, NULL },
  { "v6 to host-network, its IPv6 ingress", "2001:db8:100::5", HOST6, "tcp/8080", hn6_receives,
    MOAT_EVAL_ACCEPT,
    "ip6 saddr . socket cgroupv2 level 2 . meta l4proto . th dport @hostnet_ingress6 accept" },
  { "v6 to host-network, refused", "2001:db8:8::8", HOST6, "tcp/8080", hn6_receives,
    MOAT_EVAL_REJECT, "meta l4proto tcp reject with tcp reset" },
  { "v6 to host-network, udp refused", "2001:db8:100::5", HOST6, "udp/8080", hn6_receives,
    MOAT_EVAL_REJECT, "reject with icmpx admin-prohibited" },
  { "v6 to host-network, established", "2001:db8:8::8", HOST6, "tcp/8080",
    hn6_receives_established, MOAT_EVAL_ACCEPT, "ct state established,related accept" },
  { "v6 to host-network, from the host itself", HOST6, HOST6, "tcp/8080", hn6_from_itself,
    MOAT_EVAL_ACCEPT, "iifname lo accept" },
  { "v6 to host-network, from a container its labels let in", "a", "host", "tcp/8080",
    hn6_receives, MOAT_EVAL_ACCEPT,
    "iifname . ip6 saddr @members6 ip6 saddr . socket cgroupv2 level 2 @hostnet_peers6 accept" },
  { "v6 to host-network, a peer's address forged from outside", "a", HOST6, "tcp/8080",
    hn6_forged, MOAT_EVAL_REJECT, "meta l4proto tcp reject with tcp reset" },

  { "v6 published, from outside", "2001:db8:8::8", HOST6, "tcp/8443", first_packet,
    MOAT_EVAL_ACCEPT, "ct status dnat ip6 daddr . meta l4proto . th dport @published6 accept" },
  { "v6 published udp", "2001:db8:8::8", HOST6, "udp/5354", first_packet, MOAT_EVAL_ACCEPT,
    "ct status dnat ip6 daddr . meta l4proto . th dport @published6 accept" },
  { "v6 the host on its address", "host", "b", "tcp/8443", host_own6, MOAT_EVAL_ACCEPT,
    "fib daddr type local meta l4proto tcp dnat ip6 to ip6 daddr . meta l4proto . th dport map "
    "@publish6" },
  { "v6 the host on its address, udp", "host", "b", "udp/5354", host_own6, MOAT_EVAL_ACCEPT,
    "fib daddr type local meta l4proto udp dnat ip6 to ip6 daddr . meta l4proto . th dport map "
    "@publish6" },
  { "v6 a reply from outside", "2001:db8:8::8", "a", "tcp/1", reply, MOAT_EVAL_ACCEPT,
    "ct state established ct direction reply accept" },
  { "v6 a reply to outside", "a", "2001:db8:8::8", "tcp/1", reply, MOAT_EVAL_ACCEPT,
    "ct state established ct direction reply accept" },
  { "v6 a reply to the host", "a", "host", "tcp/1", reply, MOAT_EVAL_ACCEPT,
    "ct state established ct direction reply accept" },
  { "v6 an error about one's own flow", "a", "2001:db8:8::8", "icmp", related6_original,
    MOAT_EVAL_ACCEPT, "ct state related ip6 saddr . ct original ip6 saddr @self6 accept" },
  { "v6 an error about a flow to oneself", "a", "2001:db8:8::8", "icmp", related6_reply,
    MOAT_EVAL_ACCEPT, "ct state related ip6 saddr . ct reply ip6 saddr @self6 accept" },
  { "v6 an error to the host about one's flow", "a", "host", "icmp", related6_original,
    MOAT_EVAL_ACCEPT, "ct state related ip6 saddr . ct original ip6 saddr @self6 accept" },
  { "v6 an error to the host about its flow", "a", "host", "icmp", related6_reply, MOAT_EVAL_ACCEPT,
    "ct state related ip6 saddr . ct reply ip6 saddr @self6 accept" },
  { "v6 an error to a peer about one's flow", "a", "c", "icmp", related6_original, MOAT_EVAL_ACCEPT,
    "ct state related ip6 saddr . ct original ip6 saddr @self6 accept" },
  { "v6 an error to a peer about its flow", "a", "c", "icmp", related6_reply, MOAT_EVAL_ACCEPT,
    "ct state related ip6 saddr . ct reply ip6 saddr @self6 accept" },
  { "v6 an error from outside", "2001:db8:8::8", "a", "icmp", related6_original, MOAT_EVAL_ACCEPT,
    "ct state related accept" },
  { "v6 an invalid packet", "a", "2001:db8:8::8", "tcp/1", invalid6, MOAT_EVAL_DROP,
    "ct state invalid drop" },
  { "v6 the host's redirect", "host", "a", "icmp", redirect6, MOAT_EVAL_DROP,
    "icmpv6 type nd-redirect oifname . ip6 daddr @members6 drop" },
  { "v6 neighbour solicitation for the gateway", "a", "host", "icmp", ns_own, MOAT_EVAL_ACCEPT,
    "icmpv6 type nd-neighbor-solicit-nd-neighbor-advert accept" },
  { "v6 neighbour advertisement of its own", "a", "host", "icmp", na_own, MOAT_EVAL_ACCEPT,
    "icmpv6 type nd-neighbor-solicit-nd-neighbor-advert accept" },
  { "v6 spoofed source", "a", "2001:db8:8::8", "tcp/1", spoofed6, MOAT_EVAL_DROP,
    "iifname . ether saddr . ip6 saddr != @ports6 drop" },
  { "v6 router advertisement", "a", "host", "icmp", ra, MOAT_EVAL_DROP,
    "meta l4proto ipv6-icmp icmpv6 type mld-listener-query-nd-router-advert drop" },
  { "v6 redirect from a container", "a", "host", "icmp", redirect6, MOAT_EVAL_DROP,
    "meta l4proto ipv6-icmp icmpv6 type nd-redirect drop" },
  { "v6 MLDv2 report", "a", "host", "icmp", mld2, MOAT_EVAL_DROP,
    "meta l4proto ipv6-icmp icmpv6 type mld2-listener-report drop" },
  { "v6 advertisement for a peer's address", "a", "host", "icmp", na_for_b, MOAT_EVAL_DROP,
    "meta l4proto ipv6-icmp icmpv6 type nd-neighbor-advert iifname . ether saddr . @th,64,128 != "
    "@ports6 drop" },
  { "v6 solicitation, another option first", "a", "host", "icmp", ns_nonce_first, MOAT_EVAL_DROP,
    "meta l4proto ipv6-icmp icmpv6 type nd-neighbor-solicit @th,192,16 != 0x0101 drop" },
  { "v6 advertisement, source option first", "a", "host", "icmp", na_sllao_first, MOAT_EVAL_DROP,
    "meta l4proto ipv6-icmp icmpv6 type nd-neighbor-advert @th,192,16 != 0x0201 drop" },
  { "v6 solicitation with a peer's MAC", "a", "host", "icmp", ns_peer_mac, MOAT_EVAL_DROP,
    "meta l4proto ipv6-icmp icmpv6 type nd-neighbor-solicit-nd-neighbor-advert iifname . "
    "@th,208,48 . ip6 saddr != @ports6 drop" },
  { "v6 DHCPv6 server", "a", "2001:db8:8::8", "udp/546", dhcp6_server, MOAT_EVAL_DROP,
    "meta l4proto udp th sport 547 drop" },
  { "v6 fragment to a link-local address", "a", "fe80::1", "icmp", na_fragment, MOAT_EVAL_DROP,
    "exthdr frag exists ip6 daddr fe80::/10 drop" },
  { "v6 fragment to a multicast address", "a", "ff02::1", "icmp", ra_fragment, MOAT_EVAL_DROP,
    "exthdr frag exists ip6 daddr ff00::/8 drop" },
  { "v6 fragment to a global address: judged as unfragmented", "a", "2001:db8:8::8", "udp/1",
    fragment, MOAT_EVAL_REJECT, "reject with icmpx admin-prohibited" },
  { "v6 no member, forwarded", "a", "2001:db8:8::8", "tcp/1", bridge_itself6, MOAT_EVAL_DROP,
    "meta nfproto ipv6 iifname @bridges drop" },
  { "v6 no member, to the host", "a", "host", "tcp/1", bridge_itself6, MOAT_EVAL_DROP,
    "meta nfproto ipv6 iifname @bridges drop" },
  { "v6 to an unassigned address of a subnet", "2001:db8:8::8", "fd00:1::99", "tcp/1", first_packet,
    MOAT_EVAL_DROP, "meta nfproto ipv6 oifname @bridges drop" },
  { "v6 masqueraded", "f", "2001:db8:8::8", "tcp/1", first_packet, MOAT_EVAL_ACCEPT,
    "ip6 saddr @masq6 oifname . ip6 daddr != @members6 masquerade" },
  { "v6 quiet ingress", "2001:db8:8::8", "q", "tcp/1", first_packet, MOAT_EVAL_DROP,
    "ip6 daddr @quiet6 drop" },
  { "v6 quiet egress, logged", "q", "2001:db8:8::8", "tcp/1", first_packet, MOAT_EVAL_DROP,
    "ip6 saddr @quiet6 drop" },
  /* Cluster mode: n2's container fd00:90::5 (the twin of 10.90.2.5) shares a's label. */
  { "v6 from a container of another node", "fd00:90::5", "a", "tcp/80", from_n2,
    MOAT_EVAL_ACCEPT, "ip6 daddr @id_<identity>6 accept" },
  { "v6 to a container of another node", "a", "fd00:90::5", "tcp/80", first_packet,
    MOAT_EVAL_ACCEPT, "ip6 daddr @id_<identity>6 accept" },
  { "v6 from another node's subnet6, not by that node", "fd00:90::5", "a", "tcp/80", from_not_n2,
    MOAT_EVAL_DROP,
    "ip6 saddr . iifname @node_nets6 ip6 saddr . iifname . ether saddr != @node_routes6 drop" },
  { "v6 from a node, with a source not its own", "2001:db8:77::7", "a", "tcp/80", from_n2,
    MOAT_EVAL_DROP,
    "iifname . ether saddr @node_links6 oifname @bridges ip6 saddr . iifname . ether saddr != "
    "@node_routes6 drop" },
  { "v6 to the host, another node's subnet6 not by that node", "fd00:90::5", HOST6, "tcp/8080",
    from_not_n2, MOAT_EVAL_DROP,
    "ip6 saddr . iifname @node_nets6 ip6 saddr . iifname . ether saddr != @node_routes6 drop" },
  { "v6 refused tcp", "a", "2001:db8:8::8", "tcp/1", first_packet, MOAT_EVAL_REJECT,
    "meta l4proto tcp reject with tcp reset" },
  { "v6 refused udp", "a", "2001:db8:8::8", "udp/1", first_packet, MOAT_EVAL_REJECT,
    "reject with icmpx admin-prohibited" },
  { "v6 refused tcp ingress", "2001:db8:8::8", "c", "tcp/1", first_packet, MOAT_EVAL_REJECT,
    "meta l4proto tcp reject with tcp reset" },
  { "v6 refused udp ingress", "2001:db8:8::8", "c", "udp/1", first_packet, MOAT_EVAL_REJECT,
    "reject with icmpx admin-prohibited" },
};

/* IPv6 flows: verdicts (explain's words are IPv4's for now). */
static const struct flow flows6[] = {
  { "a", "host", "tcp/8080", true, NULL },
  { "b", "host", "tcp/8080", false, NULL },
  { "e", "host", "tcp/7000", true, NULL },
  { "f", "host", "tcp/3128", true, NULL },
  { "f", "host", "tcp/80", true, NULL },
  { "b", "host", "udp/53", true, NULL },
  { "a", "2001:db8:2::77", "tcp/443", true, NULL },
  { "a", "2001:db8:2::5", "tcp/443", false, NULL }, /* 192.0.2.0/24 has no twin */
  { "a", "2001:db8:2::78", "icmp", true, NULL }, /* icmp's twin is ICMPv6 */
  { "a", "2001:db8:2::78", "tcp/443", false, NULL },
  { "a", "2001:db8:2::77", "icmp", false, NULL },
  { "d", "2001:db8:2::9", "tcp/443", false, NULL }, /* the profile's reject */
  { "d", "2001:db8:2::50", "tcp/3128", true, NULL },
  { "d", "2001:db8:113::9", "tcp/80", true, NULL }, /* redirected to its proxy */
  { "e", "2001:db8:8::8", "udp/53", true, NULL },
  { "e", "2001:db8:113::77", "tcp/22", true, NULL },
  { "f", "2001:db8:8::8", "udp/53", true, NULL },
  { "2001:db8:100::77", "c", "tcp/5432", true, NULL },
  { "2001:db8:100::7", "c", "tcp/5432", false, NULL },
  { "2001:db8:100::78", "e", "tcp/8443", true, NULL },
  { "g", "2001:db8:113::9", "tcp/80", false, NULL },
  { "host", "a", "tcp/80", true, NULL },
};

static void
eval6 (struct moat_nft_elems *l, unsigned *hits, const char *src, const char *dst,
       const char *ports, void (*adjust) (struct moat_eval_packet *), struct moat_eval_result *r)
{
  struct moat_eval_packet p;

  packet6_of (src, dst, ports, &p);
  adjust (&p);
  eval_one (l, &p, hits, r);
}

/* The peers as in IPv4, but d's proxy outside has a twin only for its
 * address (d>f, d>q are then refused on tcp/80 as f's tcp/80 to b). */
static void
check_all6 (struct moat_nft_elems *l, unsigned *hits)
{
  const char *ports[] = { "tcp/80", "udp/53" };
  struct moat_eval_result r;

  for (size_t i = 0; i < NCTRS; i++)
    for (size_t k = 0; k < NCTRS; k++)
      for (size_t p = 0; p < 2 && i != k; p++)
        {
          const char *s = ctrs[i].name, *d = ctrs[k].name;
          bool ok = listed (peers_allowed, ARRAY_SIZE (peers_allowed), s, d)
                    || (p == 0 && listed (peers_proxied, ARRAY_SIZE (peers_proxied), s, d));

          eval6 (l, hits, s, d, ports[p], first_packet, &r);
          if ((r.verdict == MOAT_EVAL_ACCEPT) != ok)
            {
              for (size_t n = 0; n < r.nsteps; n++)
                print_error ("  %s: %s\n", r.steps[n].chain, r.steps[n].text);
              fail_msg ("v6 %s -> %s %s: eval says %s", s, d, ports[p], ok ? "refused" : "allowed");
            }
        }
  for (size_t i = 0; i < ARRAY_SIZE (flows6); i++)
    {
      const struct flow *f = &flows6[i];

      eval6 (l, hits, f->src, f->dst, f->ports, first_packet, &r);
      if ((r.verdict == MOAT_EVAL_ACCEPT) != f->allowed)
        fail_msg ("v6 %s -> %s %s: eval says %s", f->src, f->dst, f->ports,
                  f->allowed ? "refused" : "allowed");
    }
  for (size_t i = 0; i < ARRAY_SIZE (specials6); i++)
    {
      const struct special *s = &specials6[i];
      const struct moat_eval_step *st;
      bool q = strcmp (s->src, "q") == 0 || strcmp (s->dst, "q") == 0;

      eval6 (l, hits, s->src, s->dst, s->ports, s->adjust, &r);
      st = moat_eval_decider (&r);
      if (r.verdict != s->verdict || (s->rule && (!st || strcmp (st->text, s->rule) != 0)))
        fail_msg ("%s: verdict %d by \"%s\", want %d by \"%s\"", s->what, r.verdict,
                  st ? st->text : "(none)", s->verdict, s->rule);
      if (r.logged != (q && r.verdict != MOAT_EVAL_ACCEPT))
        fail_msg ("%s: logged %d", s->what, r.logged);
    }
}

/* --- explain over IPv6 (moat_ctl_explain_flow6) ----------------------------------------- */

/* The containers made dual stack in their records, as explain reads them. */
static void
records_dual (bool on)
{
  for (size_t i = 0; i < NCTRS; i++)
    {
      ctrs[i].rec.have_addr6 = on;
      addr6_of (ctrs[i].rec.addr, &ctrs[i].rec.addr6, NULL);
      addr6_of (ctrs[i].rec.gateway, &ctrs[i].rec.gateway6, NULL);
    }
}

static struct moat_explain_end
end6_of (const char *name, struct moat_policy *none)
{
  struct ctr *c = ctr_named (name);
  struct moat_explain_end e = { .policy = none };

  if (c)
    return (struct moat_explain_end){ .rec = &c->rec, .policy = &c->pol, .proxy = proxy_of (c) };
  if (strcmp (name, "host") == 0)
    e.host = true;
  else
    {
      e.addr6 = six (name);
      e.host = is_local6 (&e.addr6, NULL);
    }
  return e;
}

static bool
explain6 (const char *src, const char *dst, const char *ports, char *why, size_t size)
{
  struct moat_policy none = { 0 };
  struct moat_explain_end s = end6_of (src, &none), d = end6_of (dst, &none);
  struct moat_ports flow;
  moat_err_t err = { 0 };
  bool allowed = false;

  assert_int_equal (moat_ports_parse ("flow", ports, true, &flow, &err), 0);
  if (moat_ctl_explain_flow6 (&s, &d, &flow, NOW, is_local6, NULL, &allowed, why, size, &err) < 0)
    fail_msg ("explain6 %s -> %s: %s", src, dst, err.msg);
  return allowed;
}

/* Explain's IPv6 verdicts are the kernel's: the peer matrix and the flows
 * the world's IPv6 half answers. Explain twins only containers' addresses
 * (as apply does); the world's extra twins of single outside addresses
 * (extras4, addr6_of's 2001:db8:c::d) make some flows to the outside
 * differ: those are listed with explain's verdict. */
static void
test_explain6_verdicts (void **state)
{
  static const struct flow own[] = {
    /* 192.0.2.0/24, an outside range: no twin */
    { "a", "2001:db8:2::77", "tcp/443", false, "default deny: no io.moat.egress" },
    { "e", "2001:db8:8::8", "udp/53", true, "io.moat.internet: true" },
    { "f", "2001:db8:8::8", "udp/53", true, "the network gives its containers the internet" },
    { "d", "2001:db8:2::9", "tcp/443", false, "" },
    { "d", "2001:db8:2::50", "tcp/3128", false, "" }, /* its egress names an outside /32 */
    { "2001:db8:100::77", "c", "tcp/5432", false, "default deny: no io.moat.ingress" },
    { "b", "host", "tcp/8080", false, "default deny: no io.moat.allow-host" },
    { "a", "host", "tcp/8080", true, "io.moat.allow-host tcp/8080" },
    { "host", "a", "tcp/80", true, "the host may open connections to its containers" },
  };
  struct moat_nft_elems *l = *state;
  const char *ports[] = { "tcp/80", "udp/53" };
  struct moat_eval_result r;
  char why[512];

  records_dual (true);
  for (size_t i = 0; i < NCTRS; i++)
    for (size_t k = 0; k < NCTRS; k++)
      for (size_t p = 0; p < 2 && i != k; p++)
        {
          const char *s = ctrs[i].name, *d = ctrs[k].name;
          bool allowed = explain6 (s, d, ports[p], why, sizeof (why));
          /* d's proxy (192.0.2.50) and f's (the host's 10.N.0.1) are no
           * container's: no twin (as apply makes them), no redirect */
          bool unproxied = p == 0 && listed (peers_proxied, ARRAY_SIZE (peers_proxied), s, d)
                           && !listed (peers_allowed, ARRAY_SIZE (peers_allowed), s, d);

          eval6 (l, NULL, s, d, ports[p], first_packet, &r);
          if (allowed != (r.verdict == MOAT_EVAL_ACCEPT && !unproxied))
            fail_msg ("v6 %s -> %s %s: explain says %s (%s)", s, d, ports[p],
                      allowed ? "allowed" : "refused", why);
        }
  for (size_t i = 0; i < ARRAY_SIZE (own); i++)
    {
      bool allowed = explain6 (own[i].src, own[i].dst, own[i].ports, why, sizeof (why));

      if (allowed != own[i].allowed || !strstr (why, own[i].why))
        fail_msg ("v6 %s -> %s %s: explain says %s \"%s\", want %s \"%s\"", own[i].src,
                  own[i].dst, own[i].ports, allowed ? "allowed" : "refused", why,
                  own[i].allowed ? "allowed" : "refused", own[i].why);
    }
  records_dual (false);
  (void)state;
}

/* The words over IPv6 are IPv4's: the sets' and chains' twins say the same. */
static void
test_explain6_words (void **state)
{
  static const struct
  {
    const char *src, *dst, *ports, *why;
  } cases[] = {
    { "a", "b", "tcp/80", "shared label app=web" },
    { "a", "c", "tcp/80", "default deny: " },
    { "e", "a", "tcp/80", "grant \"peer ctr-a\" (no expiry)" },
    { "2001:db8:8::8", "b", "tcp/80", "published [::]:8443/tcp -> 80" },
    { "a", "2001:db8:7::5", "tcp/443", "io.moat.egress 2001:db8:7::/48 tcp/443" },
    { "a", "2001:db8:7::9", "icmp", "io.moat.egress 2001:db8:7::9" },
    { "a", "2001:db8:7::5", "icmp", "default deny: " },
  };
  char why[512];

  records_dual (true);
  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    {
      explain6 (cases[i].src, cases[i].dst, cases[i].ports, why, sizeof (why));
      if (strncmp (why, cases[i].why, strlen (cases[i].why)) != 0)
        fail_msg ("v6 %s -> %s: \"%s\", want \"%s\"", cases[i].src, cases[i].dst, why,
                  cases[i].why);
    }
  records_dual (false);
  (void)state;
}

/* An IPv4-only container has no IPv6 flow to explain. */
static void
test_explain6_ipv4_only (void **state)
{
  struct moat_explain_end s = end6_of ("a", NULL), d = end6_of ("b", NULL);
  struct moat_ports flow = { IPPROTO_TCP, 80, 80 };
  moat_err_t err = { 0 };
  bool allowed;
  char why[512];

  assert_int_equal (moat_ctl_explain_flow6 (&s, &d, &flow, NOW, is_local6, NULL, &allowed, why,
                                            sizeof (why), &err),
                    -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_non_null (strstr (err.msg, "has no IPv6 address"));
  (void)state;
}
