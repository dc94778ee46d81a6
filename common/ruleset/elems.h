/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_ELEMS_H
#define MOAT_ELEMS_H

/* What goes into the ruleset's sets (ruleset/ruleset.h): element keys,
 * written field by field as the kernel compares them. A member's own
 * elements come from struct moat_nft_member; a container's policy and
 * moatctl's grants are gathered in a struct moat_nft_elems, which
 * kernel/nft.h sends and which an evaluator reads (moat_nft_elems_at). No
 * libnftnl and no I/O here. */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/types.h"
#include "ruleset/ruleset.h"

/* What one container contributes to the layout at CNI ADD. */
struct moat_nft_member
{
  const char *bridge;              /* moat network's bridge */
  const char *host_ifname;         /* host end of the container's veth */
  unsigned char mac[MOAT_MAC_LEN]; /* container end's MAC */
  struct in_addr addr;             /* container address */
  bool quiet;                      /* network has reject: false */
  bool internet;                   /* network has internet: true */
  bool masquerade;                 /* network has masquerade: true */
  bool dns;                        /* network has dns: true (its resolvers elements) */
  bool log;                        /* network has log: true (its refusals logged) */
  struct in_addr gateway;          /* the bridge's address, where the name server listens */
  /* Published ports' elements (model/publish.h), sorted by set, added in
   * the member's batch; NULL: none. */
  const struct moat_nft_elems *publish;
  /* For a deletion: `publish` is every published element of the member
   * (its record says so), deleted as they are; else (no record, GC) they
   * are found by a dump of the publish sets. */
  bool publish_known;
  bool have_addr6;          /* the network is dual stack (subnet6) */
  bool v6only;              /* IPv6-only: `addr` a key, no IPv4 `ports` element (its
                               port admits no IPv4 frame, ARP included) */
  struct in6_addr addr6;    /* container's global IPv6 address */
  struct in6_addr gateway6; /* the bridge's global IPv6 address */
};

/* A container's policy elements (docs/design.md, "The ruleset and the
 * identity model"), gathered before one moat_nft_policy_replace. Port
 * ranges become intervals: a protocol without ports (icmp, any) covers
 * every port, "any" every protocol. The adders return -1 only when out of
 * memory. */
struct moat_nft_elems;
enum moat_nft_acl
{
  MOAT_NFT_EGRESS,
  MOAT_NFT_EGRESS_DENY,
  MOAT_NFT_INGRESS,
  MOAT_NFT_INGRESS_DENY,
};
struct moat_nft_elems *moat_nft_elems_new (void);
void moat_nft_elems_free (struct moat_nft_elems *e);
static inline void
moat_nft_elems_freep (struct moat_nft_elems **e)
{
  moat_nft_elems_free (*e);
}
size_t moat_nft_elems_count (const struct moat_nft_elems *e);
/* Element i as "set: key[ : value]", as nft would write it (tests, errors). */
void moat_nft_elems_format (const struct moat_nft_elems *e, size_t i, char *buf, size_t size);
int moat_nft_elems_host (struct moat_nft_elems *l, struct in_addr addr, const struct moat_ports *p);
int moat_nft_elems_acl (struct moat_nft_elems *l, enum moat_nft_acl kind, struct in_addr addr,
                        const struct moat_acl *acl);
int moat_nft_elems_internet (struct moat_nft_elems *l, struct in_addr addr);
/* The container's refusals logged (set logged: moatctl log). */
int moat_nft_elems_logged (struct moat_nft_elems *l, struct in_addr addr);
/* The container's tcp `port` goes to proxy:proxy_port (the map) */
int moat_nft_elems_proxy (struct moat_nft_elems *l, struct in_addr addr, uint16_t port,
                          struct in_addr proxy, uint16_t proxy_port);
/* ... where it may then go (the allowance, once per container). */
int moat_nft_elems_proxied (struct moat_nft_elems *l, struct in_addr addr, struct in_addr proxy,
                            uint16_t proxy_port);
/* An IPv6 proxy: the container's IPv6 tcp `port` goes to proxy:proxy_port
 * (proxy6), or with `port` 0 the proxy is implicitly allowed (proxied6). */
int moat_nft_elems_proxy6 (struct moat_nft_elems *l, const struct in6_addr *addr, uint16_t port,
                           const struct in6_addr *proxy, uint16_t proxy_port);
/* The same for the container keyed `addr`, waiting for its IPv6 address
 * (struct moat_proxy6_wait): a container without one gets none. */
int moat_nft_elems_proxy_wait6 (struct moat_nft_elems *l, struct in_addr addr, uint16_t port,
                                const struct in6_addr *proxy, uint16_t proxy_port);

/* A published port (model/publish.h): host address (INADDR_ANY: every
 * one) . proto . host port to addr:port in the publish map; addr . proto .
 * port in the published set. Every address's element has an IPv6 twin
 * (from ::2: docs/design.md, "Published ports") unless `ipv4_only`. */
int moat_nft_elems_publish (struct moat_nft_elems *l, struct in_addr host, bool ipv4_only,
                            uint8_t proto, uint16_t host_port, struct in_addr addr, uint16_t port);
/* The same on an IPv6 host address (:: every one): it waits for the
 * container's IPv6 address (struct moat_publish6_wait), its element is in
 * publish6 only. */
int moat_nft_elems_publish_wait6 (struct moat_nft_elems *l, const struct in6_addr *host,
                                  uint8_t proto, uint16_t host_port, struct in_addr addr,
                                  uint16_t port);
int moat_nft_elems_published (struct moat_nft_elems *l, struct in_addr addr, uint8_t proto,
                              uint16_t port);
/* The element of a waiting one (moat_nft_elems_twin6), `addr` the
 * container's IPv6 address. */
int moat_nft_elems_publish6 (struct moat_nft_elems *l, const struct in6_addr *host, uint8_t proto,
                             uint16_t host_port, const struct in6_addr *addr, uint16_t port);

/* moatctl's grants, in sets the policy never touches (its sweep leaves
 * them; a DEL takes them). A grant opens what it names whatever the policy
 * says. timeout_ms 0: no expiry; else the kernel removes the element. */
int moat_nft_elems_grant_peer (struct moat_nft_elems *l, struct in_addr from, struct in_addr to,
                               uint64_t timeout_ms);
int moat_nft_elems_grant_host (struct moat_nft_elems *l, struct in_addr addr,
                               const struct moat_ports *p, uint64_t timeout_ms);
int moat_nft_elems_grant_egress (struct moat_nft_elems *l, struct in_addr addr,
                                 const struct moat_acl *acl, uint64_t timeout_ms);
/* From the outside range acl->addr/prefixlen to the container at `addr`
 * (keyed as ingress: outside . container . proto . port). */
int moat_nft_elems_grant_ingress (struct moat_nft_elems *l, struct in_addr addr,
                                  const struct moat_acl *acl, uint64_t timeout_ms);

/* An identity's kernel objects: its chain id_<ident>, jumped to through
 * src_ident from its members' addresses, and its set id_<ident> of the
 * addresses it may reach, looked up in that chain. */
int moat_nft_elems_ident_member (struct moat_nft_elems *l, struct in_addr addr, const char *ident);
int moat_nft_elems_ident_reach (struct moat_nft_elems *l, const char *ident, struct in_addr addr);

/* IPv6 twins (docs/design.md, "IPv6"): the policy is built once, in
 * IPv4 elements, and each becomes its twin in the IPv6 half when every
 * address it names has one: a container's address its IPv6 address
 * (addr6_of: 1 and *ret when the container at `addr` is dual stack, 0
 * when not or when `addr` is no container's), every address (0.0.0.0/0)
 * every address (::/0), icmp ICMPv6 (moat_proto6). An outside IPv4 range,
 * or an IPv4-only container, gives no twin. Identity sets and verdicts:
 * id_<ident> -> id_<ident>6.
 * Appends the twins to `out`, which may be `in` itself (the twins, of the
 * IPv6 half, have none); -1 only when out of memory. */
typedef int (*moat_addr6_fn) (struct in_addr addr, struct in6_addr *ret, void *data);
/* A policy's protocol in an IPv6 element: "icmp" means the family's own,
 * ICMPv6 (IPv6 never carries protocol 1). */
static inline uint8_t
moat_proto6 (uint8_t proto)
{
  return proto == IPPROTO_ICMP ? IPPROTO_ICMPV6 : proto;
}
/* An IPv6 range given by the user (acl->v6: an ACL or grant) is no twin:
 * the adders above keep it waiting (struct moat_acl6_wait), and the twin
 * pass makes it, for a dual-stack container only, in the IPv6 set: the
 * container's IPv6 address . the range (ingress: range . address). */
int moat_nft_elems_twin6 (struct moat_nft_elems *out, const struct moat_nft_elems *in,
                          moat_addr6_fn addr6_of, void *data);
/* The twins of the elements [from, to) of `in` only (not the waiting
 * IPv6 ranges). */
int moat_nft_elems_twin6_range (struct moat_nft_elems *out, const struct moat_nft_elems *in,
                                size_t from, size_t to, moat_addr6_fn addr6_of, void *data);
/* The IPv6 ranges and the ports on an IPv6 host address waiting in `l`
 * made, appended to `l`, and no longer waiting (what moat_nft_elems_twin6
 * does of them). */
int moat_nft_elems_waits6 (struct moat_nft_elems *l, moat_addr6_fn addr6_of, void *data);
/* Removes the elements [from, to) of `l` that have an IPv6 twin set but
 * are IPv4's: an IPv6-only container's own (its key is on no wire), once
 * twinned (docs/design.md, "IPv6"). */
void moat_nft_elems_drop4 (struct moat_nft_elems *l, size_t from, size_t to);
/* That element, in the twin of `set` (an ACL or grant set). */
int moat_nft_elems_acl6 (struct moat_nft_elems *l, enum moat_set set,
                         const struct in6_addr *container, const struct moat_acl *acl,
                         uint64_t timeout_ms);
/* A container's link-local address: the EUI-64 of its MAC (fe80::, the
 * MAC's U/L bit flipped, ff:fe in the middle). */
void moat_link_local6 (const unsigned char mac[MOAT_MAC_LEN], struct in6_addr *ret);
/* A host-network container (docs/design.md, "Host-network containers"),
 * keyed by its cgroup id: its membership, the jump to its identity's
 * chain, and its egress (cgroup . destination range . proto . ports) or
 * ingress (source range . cgroup . proto . ports) ACLs. An IPv6 range
 * is an element of hostnet_egress6 or hostnet_ingress6 straight away (the
 * group is its key: nothing to wait for); the rest get their IPv6 twins
 * from the twin pass. */
int moat_nft_elems_hostnet (struct moat_nft_elems *l, uint64_t cgroup);
int moat_nft_elems_hostnet_ident (struct moat_nft_elems *l, uint64_t cgroup, const char *ident);
/* A moat container at `src` may open connections to the group `cgroup`. */
int moat_nft_elems_hostnet_peer (struct moat_nft_elems *l, struct in_addr src, uint64_t cgroup);
int moat_nft_elems_hostnet_acl (struct moat_nft_elems *l, bool ingress, uint64_t cgroup,
                                const struct moat_acl *acl);
/* Cluster mode (docs/cluster.md, "Routing between nodes"): another node,
 * its container subnet routed through `ifname` to its underlay address,
 * whose packets arrive on `ifname` from `mac`. Its elements: node_nets
 * (subnet . ifname), node_routes (subnet . ifname . mac, underlay .
 * ifname . mac) and node_links (ifname . mac). */
struct moat_node_link
{
  struct in_addr subnet;
  int prefixlen;
  struct in_addr underlay;
  char ifname[16];
  unsigned char mac[MOAT_MAC_LEN];
  uint32_t vni; /* reached through VXLAN device `ifname` with this VNI; 0: on its link */
  /* A node with a subnet6 (have6): its route's IPv6 nexthop on `ifname`
   * (gateway6); the twins node_nets6 (subnet6 . ifname), node_routes6
   * (subnet6 and gateway6 . ifname . mac) and node_links6. */
  bool have6;
  struct in6_addr subnet6, gateway6;
  int prefixlen6;
};
int moat_nft_elems_node (struct moat_nft_elems *l, const struct moat_node_link *n);
/* A node_nets element alone: `subnet` on `ifname` with no node_routes
 * twin, so that the first node rule drops every source of that subnet
 * arriving there (an encrypted node's subnet in cleartext on the
 * underlay). */
int moat_nft_elems_node_net (struct moat_nft_elems *l, struct in_addr subnet, int prefixlen,
                             const char *ifname);
/* A cgroup field of a key, as its set stores it. */
uint64_t moat_elem_cgroup (const uint8_t *p, uint32_t set_flags);

/* The elements moat_nft_member_add puts in the kernel for `m` (moatctl
 * explain evaluates them). -1 with *err set on a bad interface name or
 * out of memory. */
int moat_nft_elems_member (struct moat_nft_elems *l, const struct moat_nft_member *m,
                           moat_err_t *err);

/* --- one element, as raw bytes ------------------------------------------- */

#define MOAT_ELEM_KEY_MAX 64 /* NFT_DATA_VALUE_MAXLEN */
/* members, self, bridges, quiet, internet, masq, logged, log_rate (a deletion), guarded ×2,
 * ports, resolvers ×2, allowed_out, allowed_in, refused_out, refused_in; their IPv6
 * twins but bridges and guarded, and ports6 ×2 */
#define MOAT_MEMBER_MAX_ELEMS 32

/* A key is its set's fields in order, each at a 4-byte boundary
 * (moat_field_padded) in network byte order (an ifname NUL-padded). */
struct moat_elem
{
  const struct moat_set_def *set;
  uint8_t key[MOAT_ELEM_KEY_MAX];
  uint32_t key_len;
  uint8_t key_end[MOAT_ELEM_KEY_MAX]; /* interval sets: end of the range */
  uint32_t key_end_len;               /* 0: no end */
  uint64_t timeout_ms;                /* 0: no timeout */
  uint8_t data[20];                   /* a map's value (IPv6: 16-byte address . port) */
  uint32_t data_len;                  /* 0: not a map */
  char name[MOAT_IDENT_OBJECT_MAX];   /* an identity's set ("id_<ident>"); "": set->name */
  char jump[MOAT_IDENT_OBJECT_MAX];   /* a verdict map's value: jump to this chain */
  bool no_twin;                       /* IPv4 only: moat_nft_elems_twin6 makes none */
};

struct moat_elem_list
{
  struct moat_elem *v;
  size_t n, cap;
};

/* An IPv6 range of an ACL or grant waiting for the container's IPv6
 * address: moat_nft_elems_twin6 makes its element in the IPv6 half, and a
 * container without one never gets it (docs/design.md, "IPv6"). */
struct moat_acl6_wait
{
  enum moat_set set; /* the IPv4 set whose twin takes it */
  struct in_addr container;
  struct moat_acl acl; /* acl.v6 */
  uint64_t timeout_ms;
};

/* A port published on an IPv6 host address, waiting likewise. */
struct moat_publish6_wait
{
  struct in_addr container;
  struct in6_addr host; /* ::: every IPv6 address (from ::2) */
  uint8_t proto;
  uint16_t host_port, port;
};

/* An IPv6 proxy (io.moat.proxy [ADDR]:PORT) of a container, waiting
 * likewise: one intercepted port (0: the proxy's own proxied6 element). */
struct moat_proxy6_wait
{
  struct in_addr container;
  struct in6_addr proxy;
  uint16_t port, proxy_port;
};

/* The list kernel/nft sends (sorted by set first); read it with
 * moat_nft_elems_at. `wait6`: IPv6 ranges, sent only as twins; `pub6`:
 * ports published on IPv6 host addresses, likewise. */
struct moat_nft_elems
{
  struct moat_elem_list l;
  struct moat_acl6_wait *wait6;
  size_t n_wait6;
  struct moat_publish6_wait *pub6;
  size_t n_pub6;
  struct moat_proxy6_wait *proxy6;
  size_t n_proxy6;
};

/* Element i of the list (NULL past the end), read-only: its set
 * (moat_elem_set: MOAT_SET_IDENT for an identity's set, whose name is
 * moat_elem_set_name), key bytes, range end and map or verdict value. */
const struct moat_elem *moat_nft_elems_at (const struct moat_nft_elems *l, size_t i);
enum moat_set moat_elem_set (const struct moat_elem *e);
const char *moat_elem_set_name (const struct moat_elem *e);

/* A new zeroed element at the end of the list, or NULL (out of memory). */
struct moat_elem *moat_elem_list_push (struct moat_elem_list *l);

/* The member's elements in the order they are sent. With `for_delete`,
 * every flag element whatever the member says now, and not its bridge's
 * (the network's, shared). Fails on a bad interface name. */
int moat_member_elems (const struct moat_nft_member *m, bool for_delete,
                       struct moat_elem ret[MOAT_MEMBER_MAX_ELEMS], size_t *ret_n, moat_err_t *err);
/* The two resolvers elements of a network (bridge . gateway . udp/tcp .
 * 53): added with each member like its bridge's, removed with the
 * network's name server. */
int moat_elems_resolvers (struct moat_elem ret[2], const char *bridge, struct in_addr gateway,
                          moat_err_t *err);
/* Their IPv6 twins, at the network's IPv6 gateway. */
int moat_elems_resolvers6 (struct moat_elem ret[2], const char *bridge,
                           const struct in6_addr *gateway6, moat_err_t *err);
/* The bridges element of `bridge`. */
int moat_elem_bridge (struct moat_elem *e, const char *bridge, moat_err_t *err);
/* Whether `e`, a ports element, is host end `host_ifname`'s: then its
 * container MAC and address. */
bool moat_elem_port_of (const struct moat_elem *e, const char *host_ifname,
                        unsigned char ret_mac[MOAT_MAC_LEN], struct in_addr *ret_addr);
/* The same for a ports6 element (its address global or link-local). */
bool moat_elem_port6_of (const struct moat_elem *e, const char *host_ifname,
                         unsigned char ret_mac[MOAT_MAC_LEN], struct in6_addr *ret_addr);
/* MOAT_E_NFT naming `what` when `name` is no interface name. */
int moat_elem_check_ifname (const char *what, const char *name, moat_err_t *err);

/* A key as nft writes it: `"moat0" . 10.1.0.2`, `a-b` for a field whose
 * range end differs (`end` may be NULL). */
void moat_key_format (const struct moat_set_def *s, const uint8_t *key, uint32_t key_len,
                      const uint8_t *end, uint32_t end_len, char *buf, size_t size);
void moat_elem_format_key (const struct moat_elem *e, char *buf, size_t size);
/* "set: key[ : value]". */
void moat_elem_format (const struct moat_elem *e, char *buf, size_t size);

#endif
