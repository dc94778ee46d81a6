/* SPDX-License-Identifier: Apache-2.0 */
/* The IPv6 side of a dual-stack network's links (netlink.h; the research
 * behind it: docs/research/ipv6/README.md, "Recommended design"). */
#include "kernel/netlink6.h"
#include "kernel/netlink-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <netlink/attr.h>

#include "base/file.h"
#include "base/ip6.h"

DEFINE_TRIVIAL_CLEANUP_FUNC (struct nl_msg *, nlmsg_free)

#define FORWARDING "/proc/sys/net/ipv6/conf/all/forwarding"

int
moat_ipv6_forwarding_check (moat_err_t *err)
{
  _cleanup_free_ char *text = NULL;
  size_t n;

  if (moat_read_file (FORWARDING, 16, &text, &n) < 0)
    return moat_error (err, MOAT_E_CONFIG, errno, "subnet6: this host has no IPv6 (cannot read %s)",
                       FORWARDING);
  if (text[0] == '1')
    return 0;
  return moat_error (err, MOAT_E_CONFIG, 0,
                     "subnet6: IPv6 forwarding is off on this host (net.ipv6.conf.all.forwarding "
                     "= 0): set it with sysctl -w net.ipv6.conf.all.forwarding=1 (first "
                     "accept_ra=2 on an interface that learns its default route from router "
                     "advertisements); moat does not write it");
}

/* ---- sysctls ------------------------------------------------------------ */

/* Written on the container's interface before it goes up: no address or
 * route from a router advertisement, no DAD, no redirects, the link-local
 * the EUI-64 of the MAC moat chose, and IPv6 on. disable_ipv6 last. */
static const char *const container_sysctls[][2] = {
  { "accept_ra", "0" },        { "autoconf", "0" },      { "accept_dad", "0" },
  { "accept_redirects", "0" }, { "addr_gen_mode", "0" }, { "disable_ipv6", "0" },
};

/* The bridge: its link-local valid at once (no DAD), nothing learned from
 * a container's router advertisement or redirect, then IPv6 on. */
static const char *const bridge_sysctls[][2] = {
  { "accept_dad", "0" },       { "addr_gen_mode", "0" }, { "accept_ra", "0" },
  { "accept_redirects", "0" }, { "disable_ipv6", "0" },
};

static int
write_all (const char *dev, const char *const (*list)[2], size_t n, moat_err_t *err)
{
  for (size_t i = 0; i < n; i++)
    if (moat_nl_sysctl_write ("ipv6/conf", dev, list[i][0], list[i][1], err) < 0)
      return -1;
  return 0;
}

int
moat_bridge_ipv6_on (const char *bridge, moat_err_t *err)
{
  return write_all (bridge, bridge_sysctls, sizeof (bridge_sysctls) / sizeof (bridge_sysctls[0]),
                    err);
}

/* /proc/sys/net is the namespace of the thread that opens it: the thread
 * enters the container's, writes, and always comes back. */
int
moat_container_ipv6_sysctls (int nsfd, const char *ns_path, const char *ifname, moat_err_t *err)
{
  _cleanup_close_ int home = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  moat_err_t write_err = { 0 };
  int r;

  if (home < 0)
    return moat_error (err, MOAT_E_LINK, errno, "cannot open /proc/thread-self/ns/net");
  if (setns (nsfd, CLONE_NEWNET) < 0)
    return moat_error (err, MOAT_E_LINK, errno, "%s: cannot enter the network namespace", ns_path);
  r = write_all (ifname, container_sysctls,
                 sizeof (container_sysctls) / sizeof (container_sysctls[0]), &write_err);
  if (setns (home, CLONE_NEWNET) < 0)
    return moat_error (err, MOAT_E_LINK, errno,
                       "%s: cannot return to the original network namespace", ns_path);
  if (r < 0)
    {
      *err = write_err;
      return moat_error_prefix (err, "%s", ns_path);
    }
  return 0;
}

/* ---- addresses and routes ----------------------------------------------- */

/* addr/prefixlen on the link `index`, with IFA_F_* `flags` (IFA_FLAGS:
 * noprefixroute does not fit in ifa_flags). */
static int
addr6_add (struct moat_nl *c, int index, const struct in6_addr *a, int prefixlen, uint32_t flags)
{
  struct ifaddrmsg ifa = {
    .ifa_family = AF_INET6,
    .ifa_prefixlen = prefixlen,
    .ifa_flags = flags & 0xff,
    .ifa_scope = RT_SCOPE_UNIVERSE,
    .ifa_index = index,
  };
  _cleanup_ (nlmsg_freep) struct nl_msg *msg
      = nlmsg_alloc_simple (RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);

  if (!msg || nlmsg_append (msg, &ifa, sizeof (ifa), NLMSG_ALIGNTO) < 0
      || nla_put (msg, IFA_LOCAL, sizeof (*a), a) < 0 || nla_put_u32 (msg, IFA_FLAGS, flags) < 0)
    return -ENOMEM;
  return moat_nl_talk (c, msg, NULL, NULL);
}

/* dst/dst_len out of `index`, via `gw` when not NULL, in the main table. */
static int
route6_add (struct moat_nl *c, int index, const struct in6_addr *dst, int dst_len,
            const struct in6_addr *gw)
{
  struct rtmsg rtm = {
    .rtm_family = AF_INET6,
    .rtm_dst_len = dst_len,
    .rtm_table = RT_TABLE_MAIN,
    .rtm_protocol = RTPROT_BOOT,
    .rtm_scope = RT_SCOPE_UNIVERSE,
    .rtm_type = RTN_UNICAST,
  };
  _cleanup_ (nlmsg_freep) struct nl_msg *msg
      = nlmsg_alloc_simple (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);

  if (!msg || nlmsg_append (msg, &rtm, sizeof (rtm), NLMSG_ALIGNTO) < 0
      || (dst_len && nla_put (msg, RTA_DST, sizeof (*dst), dst) < 0)
      || (gw && nla_put (msg, RTA_GATEWAY, sizeof (*gw), gw) < 0)
      || nla_put_u32 (msg, RTA_OIF, index) < 0)
    return -ENOMEM;
  return moat_nl_talk (c, msg, NULL, NULL);
}

/* Multicast snooping off: a container playing MLD querier would otherwise
 * make the bridge stop flooding the host's neighbour solicitations to the
 * others (docs/research/ipv6/README.md, question 8). */
static int
mcast_snooping_off (struct moat_nl *c, int index)
{
  struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = index };
  _cleanup_ (nlmsg_freep) struct nl_msg *msg = nlmsg_alloc_simple (RTM_NEWLINK, 0);
  struct nlattr *info, *data;

  if (!msg || nlmsg_append (msg, &ifi, sizeof (ifi), NLMSG_ALIGNTO) < 0
      || !(info = nla_nest_start (msg, IFLA_LINKINFO))
      || nla_put_string (msg, IFLA_INFO_KIND, "bridge") < 0
      || !(data = nla_nest_start (msg, IFLA_INFO_DATA))
      || nla_put_u8 (msg, IFLA_BR_MCAST_SNOOPING, 0) < 0 || nla_nest_end (msg, data) < 0
      || nla_nest_end (msg, info) < 0)
    return -ENOMEM;
  return moat_nl_talk (c, msg, NULL, NULL);
}

int
moat_bridge_ipv6_address (struct moat_nl *nl, int index, const char *bridge,
                          const struct in6_addr *gateway6, moat_err_t *err)
{
  char gw[INET6_ADDRSTRLEN];
  int r = addr6_add (nl, index, gateway6, MOAT_SUBNET6_PREFIXLEN, IFA_F_NODAD);

  if (r < 0 && r != -EEXIST)
    return moat_nl_error (err, nl, r, "bridge \"%s\": cannot add address %s/%d", bridge,
                          moat_ipv6_text (gateway6, gw), MOAT_SUBNET6_PREFIXLEN);
  r = mcast_snooping_off (nl, index);
  if (r < 0)
    return moat_nl_error (err, nl, r, "bridge \"%s\": cannot turn multicast snooping off", bridge);
  return 0;
}

int
moat_container_ipv6_address (struct moat_nl *c, int index, const char *ifname, const char *ns,
                             const struct in6_addr *addr6, const struct in6_addr *gateway6,
                             moat_err_t *err)
{
  char a[INET6_ADDRSTRLEN];
  int r = addr6_add (c, index, addr6, MOAT_SUBNET6_PREFIXLEN, IFA_F_NODAD | IFA_F_NOPREFIXROUTE);

  if (r < 0)
    return moat_nl_error (err, c, r, "interface \"%s\" in %s: cannot add address %s/%d", ifname, ns,
                          moat_ipv6_text (addr6, a), MOAT_SUBNET6_PREFIXLEN);
  /* The gateway alone on-link: the container solicits only the gateway,
   * every packet to a peer goes through the host. */
  r = route6_add (c, index, gateway6, 128, NULL);
  if (r < 0 && r != -EEXIST)
    return moat_nl_error (err, c, r, "interface \"%s\" in %s: cannot add route to %s", ifname, ns,
                          moat_ipv6_text (gateway6, a));
  r = route6_add (c, index, NULL, 0, gateway6);
  /* As IPv4: another attachment's default route stays. */
  if (r < 0 && r != -EEXIST)
    return moat_nl_error (err, c, r, "interface \"%s\" in %s: cannot add IPv6 default route via %s",
                          ifname, ns, moat_ipv6_text (gateway6, a));
  return 0;
}

/* ---- check -------------------------------------------------------------- */

struct addr6_query
{
  int index;
  struct in6_addr addr;
  struct
  {
    bool found;
    bool tentative;
  } out;
};

static int
on_addr6 (struct nlmsghdr *nlh, void *arg)
{
  struct addr6_query *q = arg;
  const struct ifaddrmsg *ifa = NLMSG_DATA (nlh);
  struct nlattr *tb[IFA_MAX + 1];
  uint32_t flags;

  if (nlh->nlmsg_type != RTM_NEWADDR || nlh->nlmsg_len < NLMSG_LENGTH (sizeof (*ifa))
      || ifa->ifa_family != AF_INET6 || (int)ifa->ifa_index != q->index
      || ifa->ifa_prefixlen != MOAT_SUBNET6_PREFIXLEN
      || nlmsg_parse (nlh, sizeof (*ifa), tb, IFA_MAX, NULL) < 0 || !tb[IFA_ADDRESS]
      || nla_len (tb[IFA_ADDRESS]) != sizeof (q->addr)
      || memcmp (nla_data (tb[IFA_ADDRESS]), &q->addr, sizeof (q->addr)) != 0)
    return 0;
  flags = tb[IFA_FLAGS] ? nla_get_u32 (tb[IFA_FLAGS]) : ifa->ifa_flags;
  q->out.found = true;
  q->out.tentative = flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED);
  return 0;
}

struct route6_query
{
  int index;
  struct in6_addr gateway;
  struct
  {
    bool found; /* default via gateway out of index */
    bool any;   /* any IPv6 default route in the main table */
  } out;
};

static int
on_route6 (struct nlmsghdr *nlh, void *arg)
{
  struct route6_query *q = arg;
  const struct rtmsg *rtm = NLMSG_DATA (nlh);
  struct nlattr *tb[RTA_MAX + 1];
  unsigned table;

  if (nlh->nlmsg_type != RTM_NEWROUTE || nlh->nlmsg_len < NLMSG_LENGTH (sizeof (*rtm))
      || rtm->rtm_family != AF_INET6 || rtm->rtm_dst_len != 0 || rtm->rtm_type != RTN_UNICAST
      || nlmsg_parse (nlh, sizeof (*rtm), tb, RTA_MAX, NULL) < 0)
    return 0;
  table = tb[RTA_TABLE] && nla_len (tb[RTA_TABLE]) == 4 ? nla_get_u32 (tb[RTA_TABLE])
                                                        : rtm->rtm_table;
  if (table != RT_TABLE_MAIN)
    return 0;
  q->out.any = true;
  if (tb[RTA_GATEWAY] && tb[RTA_OIF] && nla_len (tb[RTA_GATEWAY]) == sizeof (q->gateway)
      && memcmp (nla_data (tb[RTA_GATEWAY]), &q->gateway, sizeof (q->gateway)) == 0
      && nla_len (tb[RTA_OIF]) == 4 && (int)nla_get_u32 (tb[RTA_OIF]) == q->index)
    q->out.found = true;
  return 0;
}

int
moat_container_ipv6_check (struct moat_nl *c, int index, const char *ifname, const char *ns,
                           const struct in6_addr *addr6, const struct in6_addr *gateway6,
                           moat_err_t *err)
{
  struct addr6_query aq = { .index = index, .addr = *addr6 };
  struct route6_query rq = { .index = index, .gateway = *gateway6 };
  char a[INET6_ADDRSTRLEN];
  int r;

  r = moat_nl_dump (c, AF_INET6, RTM_GETADDR, on_addr6, &aq, &aq.out, sizeof (aq.out));
  if (r < 0)
    return moat_nl_error (err, c, r, "%s: cannot list IPv6 addresses", ns);
  if (!aq.out.found)
    return moat_error (err, MOAT_E_DRIFT, 0, "interface \"%s\" in %s: address %s/%d missing",
                       ifname, ns, moat_ipv6_text (addr6, a), MOAT_SUBNET6_PREFIXLEN);
  if (aq.out.tentative)
    return moat_error (err, MOAT_E_DRIFT, 0,
                       "interface \"%s\" in %s: address %s/%d is tentative or failed DAD", ifname,
                       ns, a, MOAT_SUBNET6_PREFIXLEN);
  r = moat_nl_dump (c, AF_INET6, RTM_GETROUTE, on_route6, &rq, &rq.out, sizeof (rq.out));
  if (r < 0)
    return moat_nl_error (err, c, r, "%s: cannot list IPv6 routes", ns);
  if (!rq.out.found && !rq.out.any)
    return moat_error (err, MOAT_E_DRIFT, 0,
                       "interface \"%s\" in %s: IPv6 default route via %s missing", ifname, ns,
                       moat_ipv6_text (gateway6, a));
  return 0;
}
