/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_NETLINK_H
#define MOAT_NETLINK_H

#include <netinet/in.h>
#include <stdbool.h>

#include "base/error.h"
#include "base/types.h" /* MOAT_MAC_LEN */

/* A moat network's bridge. It holds the gateway address; every container
 * port on it is isolated, and proxy_arp + proxy_arp_pvlan make the host
 * route container-to-container traffic (docs/design.md, "The network model"). */
struct moat_bridge_spec
{
  const char *name;         /* e.g. "moat0" */
  struct in_addr gateway;   /* address put on the bridge */
  int prefixlen;            /* of the network's subnet */
  unsigned mtu;             /* 0: leave the kernel's default */
  bool route_localnet;      /* a container publishes ports: the host's own
                               127.0.0.1 may be routed to it (route_localnet
                               = 1 on this bridge only; left set) */
  bool ipv6;                /* a dual-stack network: the bridge's IPv6 is on */
  struct in6_addr gateway6; /* put on the bridge as gateway6/64 */
  bool no_ipv4;             /* IPv6-only: no IPv4 address (gateway is a key) */
};

/* One NETLINK_ROUTE socket in the caller's network namespace, and the
 * kernel's explanation of the last refusal. A verb opens it once and
 * passes it to every call below (docs/design.md, "Conventions"); the
 * calls that work inside a container's namespace open their own socket
 * there for the time of the call. */
struct moat_nl;
int moat_nl_open (struct moat_nl **ret, moat_err_t *err);
void moat_nl_close (struct moat_nl *nl);
static inline void
moat_nl_closep (struct moat_nl **nl)
{
  moat_nl_close (*nl);
}

/* IPv6 of a dual-stack network (netlink6.c; docs/design.md, "The network
 * model"): the bridge's IPv6 on (accept_dad=0 and addr_gen_mode=0 so its
 * link-local is valid at once, accept_ra=0, accept_redirects=0, then
 * disable_ipv6=0), gateway6/64 nodad, multicast snooping off; the
 * container's eth0 with accept_ra=0 autoconf=0 accept_dad=0
 * accept_redirects=0 addr_gen_mode=0 disable_ipv6=0 written before it
 * goes up, addr6/64 nodad noprefixroute, gateway6/128 on-link and the
 * default route via gateway6. IPv4-only networks keep disable_ipv6=1 on
 * the bridge. Host ends keep disable_ipv6=1 either way. */

/* IPv6 forwarding: 0 when net.ipv6.conf.all.forwarding is 1; else
 * MOAT_E_CONFIG naming the sysctl and how to set it. moat never writes it
 * (every write of 1 drops the routes learned from router advertisements
 * of interfaces with accept_ra=1). */
int moat_ipv6_forwarding_check (moat_err_t *err);

/* Creates the bridge, or adopts an existing one of kind "bridge" (an existing
 * link of another kind is an error). Idempotent: sets the gateway address
 * (EEXIST is fine), link up, and writes
 * /proc/sys/net/ipv4/conf/<bridge>/{proxy_arp,proxy_arp_pvlan} = 1,
 * forwarding = 1, /proc/sys/net/ipv4/neigh/<bridge>/proxy_delay = 0 and
 * /proc/sys/net/ipv6/conf/<bridge>/disable_ipv6 = 1 (dual stack: its IPv6 on,
 * above). Errors carry MOAT_E_LINK
 * and name the bridge. */
int moat_bridge_ensure (struct moat_nl *nl, const struct moat_bridge_spec *b, moat_err_t *err);

/* Deletes the bridge. Succeeds when it does not exist. */
int moat_bridge_delete (struct moat_nl *nl, const char *name, moat_err_t *err);

/* A WireGuard link (cluster mode, docs/cluster.md): made when absent (a
 * link of that name of another kind is an error), then up. Errors carry
 * MOAT_E_LINK and name it; a kernel without WireGuard says so. */
int moat_wg_link_ensure (struct moat_nl *nl, const char *name, moat_err_t *err);

/* Deletes it; succeeds when it does not exist. */
int moat_wg_link_delete (struct moat_nl *nl, const char *name, moat_err_t *err);

/* 1 if a link of that name exists, 0 if not, -1 on error. */
int moat_link_exists (struct moat_nl *nl, const char *name, moat_err_t *err);

/* The same, in the network namespace `nsfd` (opened from `ns_path`, which
 * errors name). */
int moat_link_exists_in (int nsfd, const char *ns_path, const char *name, moat_err_t *err);

/* One container's attachment: a veth pair, host end on the bridge. */
struct moat_veth_spec
{
  const char *bridge;      /* bridge to enslave the host end to */
  const char *host_ifname; /* host end name (<= 15 chars) */
  const char *netns_path;  /* CNI_NETNS, e.g. /var/run/netns/x or /proc/N/ns/net */
  bool have_netns_fd;      /* netns_path opened already: this fd (not closed) */
  int netns_fd;
  const char *ifname; /* CNI_IFNAME inside the namespace, e.g. eth0 */
  unsigned mtu;       /* 0: kernel default */
  bool have_mac;      /* use `mac` for the container end */
  unsigned char mac[MOAT_MAC_LEN];
  struct in_addr addr; /* container address */
  int prefixlen;
  struct in_addr gateway; /* default route via this */
  bool ipv6;              /* dual stack: addr6/64 and a default route via gateway6 */
  struct in6_addr addr6;
  struct in6_addr gateway6;
  bool no_ipv4; /* IPv6-only: no IPv4 address nor route (addr is a key) */
};

struct moat_veth_result
{
  unsigned char host_mac[MOAT_MAC_LEN];
  unsigned char container_mac[MOAT_MAC_LEN];
};

/* Creates the veth pair with the peer directly in the namespace under its
 * final name, puts the host end on the bridge with IFLA_BRPORT_ISOLATED
 * (learning and unknown-unicast flooding off, a static FDB entry for the
 * container's MAC), brings both ends and the namespace's `lo` up, adds the
 * address and the default route via the gateway (an existing default route
 * of another attachment is left as it is). On failure, removes what it
 * created. Errors: MOAT_E_LINK; a namespace path that does not exist is
 * MOAT_E_UNKNOWN (CNI code 3, "container does not exist") with a message
 * naming CNI_NETNS and the path. An existing host_ifname is MOAT_E_LINK
 * (EEXIST) and is left alone. */
int moat_veth_attach (struct moat_nl *nl, const struct moat_veth_spec *s,
                      struct moat_veth_result *ret, moat_err_t *err);

/* Removes the pair: deleting the host end removes both ends, wherever the
 * container end is. Succeeds when it is already gone. Nothing inside the
 * namespace is touched: a name there may belong to someone else. */
int moat_veth_detach (struct moat_nl *nl, const char *host_ifname, moat_err_t *err);

/* Takes the host end out of service (down: a down veth end drops whatever
 * its peer sends), before its guard elements go. A link already gone is
 * success; a link of that name that is not a veth is left alone (error). */
int moat_veth_down (struct moat_nl *nl, const char *host_ifname, moat_err_t *err);

/* CHECK: verifies inside the namespace that `ifname` exists, is up, is a
 * veth, has s->addr/prefixlen, that a default route exists (via s->gateway,
 * unless another attachment of the namespace holds it), and on the host that host_ifname exists, is
 * enslaved to s->bridge and is isolated. The first difference is returned as MOAT_E_DRIFT with a
 * message such as `interface "eth0" in /var/run/netns/x: address 10.1.0.2/24 missing`. mac/mtu are
 * ignored. */
int moat_veth_check (struct moat_nl *nl, const struct moat_veth_spec *s, moat_err_t *err);

/* Lists the names of the links enslaved to `bridge` (for GC). *ret_names is
 * a NULL-terminated malloc'd array of malloc'd strings. */
int moat_bridge_ports (struct moat_nl *nl, const char *bridge, char ***ret_names, moat_err_t *err);

/* Reads the MAC of a link in the current namespace. */
int moat_link_mac (struct moat_nl *nl, const char *name, unsigned char ret_mac[MOAT_MAC_LEN],
                   moat_err_t *err);

#endif
