/* SPDX-License-Identifier: Apache-2.0 */
/* Routes to other nodes and their neighbours' MACs (see route.h). */
#include "kernel/route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "kernel/netlink-internal.h"

static void
nlmsg_freep (struct nl_msg **m)
{
  if (*m)
    nlmsg_free (*m);
}
#define _cleanup_msg_ _cleanup_ (nlmsg_freep)

/* A route request of either family for `dst` (4 or 16 bytes)/prefixlen. */
static struct nl_msg *
route_msg_family (int type, int flags, unsigned char family, const void *dst, size_t len,
                  int prefixlen)
{
  struct rtmsg rt = {
    .rtm_family = family,
    .rtm_dst_len = (unsigned char)prefixlen,
    .rtm_table = RT_TABLE_MAIN,
    .rtm_protocol = MOAT_RTPROT,
    .rtm_scope = RT_SCOPE_UNIVERSE,
    .rtm_type = RTN_UNICAST,
  };
  struct nl_msg *msg = nlmsg_alloc_simple (type, flags);

  if (msg
      && (nlmsg_append (msg, &rt, sizeof (rt), NLMSG_ALIGNTO) < 0
          || nla_put (msg, RTA_DST, (int)len, dst) < 0))
    {
      nlmsg_free (msg);
      return NULL;
    }
  return msg;
}

static struct nl_msg *
route_msg (int type, int flags, struct in_addr dst, int prefixlen)
{
  return route_msg_family (type, flags, AF_INET, &dst.s_addr, sizeof (dst.s_addr), prefixlen);
}

/* A link's index and name, by netlink (moatctl's seccomp has no ioctl
 * for if_indextoname). */
struct link_answer
{
  int index;
  char name[IFNAMSIZ];
};

static int
on_link (struct nlmsghdr *nlh, void *arg)
{
  struct link_answer *a = arg;
  const struct ifinfomsg *ifi = nlmsg_data (nlh);
  struct nlattr *tb[IFLA_MAX + 1];

  if (nlh->nlmsg_type != RTM_NEWLINK || nlmsg_parse (nlh, sizeof (*ifi), tb, IFLA_MAX, NULL) < 0
      || !tb[IFLA_IFNAME])
    return 0;
  a->index = ifi->ifi_index;
  snprintf (a->name, sizeof (a->name), "%s", (const char *)nla_data (tb[IFLA_IFNAME]));
  return 0;
}

static int
link_lookup (struct moat_nl *nl, int index, const char *name, struct link_answer *a)
{
  struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = index };
  _cleanup_msg_ struct nl_msg *msg = nlmsg_alloc_simple (RTM_GETLINK, 0);

  memset (a, 0, sizeof (*a));
  if (!msg || nlmsg_append (msg, &ifi, sizeof (ifi), NLMSG_ALIGNTO) < 0
      || (name && nla_put_string (msg, IFLA_IFNAME, name) < 0))
    return -ENOMEM;
  return moat_nl_talk (nl, msg, on_link, a);
}

struct route_answer
{
  int oif;
  bool gateway;
};

static int
on_route (struct nlmsghdr *nlh, void *arg)
{
  struct route_answer *a = arg;
  struct nlattr *tb[RTA_MAX + 1];

  if (nlh->nlmsg_type != RTM_NEWROUTE
      || nlmsg_parse (nlh, sizeof (struct rtmsg), tb, RTA_MAX, NULL) < 0)
    return 0;
  if (tb[RTA_OIF])
    a->oif = (int)nla_get_u32 (tb[RTA_OIF]);
  a->gateway = tb[RTA_GATEWAY] != NULL;
  return 0;
}

int
moat_route_get (struct moat_nl *nl, struct in_addr dst, char ifname[IFNAMSIZ], bool *direct,
                moat_err_t *err)
{
  _cleanup_msg_ struct nl_msg *msg = route_msg (RTM_GETROUTE, 0, dst, 32);
  struct route_answer a = { 0 };
  struct link_answer l;
  char text[INET_ADDRSTRLEN];
  int r;

  inet_ntop (AF_INET, &dst, text, sizeof (text));
  if (!msg)
    return moat_error_nomem (err, "route");
  r = moat_nl_talk (nl, msg, on_route, &a);
  if (r < 0)
    return moat_nl_error (err, nl, r, "route to %s", text);
  if (a.oif <= 0 || link_lookup (nl, a.oif, NULL, &l) < 0 || !l.name[0])
    return moat_error (err, MOAT_E_LINK, 0, "route to %s: no interface", text);
  memcpy (ifname, l.name, IFNAMSIZ);
  *direct = !a.gateway;
  return 0;
}

int
moat_route_replace (struct moat_nl *nl, struct in_addr dst, int prefixlen, struct in_addr gateway,
                    moat_err_t *err)
{
  _cleanup_msg_ struct nl_msg *msg
      = route_msg (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, dst, prefixlen);
  char text[INET_ADDRSTRLEN];
  int r;

  if (!msg || nla_put (msg, RTA_GATEWAY, sizeof (gateway.s_addr), &gateway.s_addr) < 0)
    return moat_error_nomem (err, "route");
  r = moat_nl_talk (nl, msg, NULL, NULL);
  if (r < 0)
    {
      inet_ntop (AF_INET, &dst, text, sizeof (text));
      return moat_nl_error (err, nl, r, "route %s/%d", text, prefixlen);
    }
  return 0;
}

int
moat_route_replace_dev (struct moat_nl *nl, struct in_addr dst, int prefixlen, const char *ifname,
                        moat_err_t *err)
{
  _cleanup_msg_ struct nl_msg *msg
      = route_msg (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, dst, prefixlen);
  char text[INET_ADDRSTRLEN];
  struct link_answer l;
  int r = link_lookup (nl, 0, ifname, &l);

  inet_ntop (AF_INET, &dst, text, sizeof (text));
  if (r < 0 || l.index <= 0)
    return moat_nl_error (err, nl, r < 0 ? r : -ENODEV, "route %s/%d: interface \"%s\"", text,
                          prefixlen, ifname);
  if (!msg)
    return moat_error_nomem (err, "route");
  ((struct rtmsg *)nlmsg_data (nlmsg_hdr (msg)))->rtm_scope = RT_SCOPE_LINK;
  if (nla_put_u32 (msg, RTA_OIF, (uint32_t)l.index) < 0)
    return moat_error_nomem (err, "route");
  r = moat_nl_talk (nl, msg, NULL, NULL);
  if (r < 0)
    return moat_nl_error (err, nl, r, "route %s/%d dev %s", text, prefixlen, ifname);
  return 0;
}

int
moat_route_del (struct moat_nl *nl, struct in_addr dst, int prefixlen, moat_err_t *err)
{
  _cleanup_msg_ struct nl_msg *msg = route_msg (RTM_DELROUTE, 0, dst, prefixlen);
  char text[INET_ADDRSTRLEN];
  int r;

  if (!msg)
    return moat_error_nomem (err, "route");
  /* Any scope: a route via a gateway (universe) or into a device (link). */
  ((struct rtmsg *)nlmsg_data (nlmsg_hdr (msg)))->rtm_scope = RT_SCOPE_NOWHERE;
  r = moat_nl_talk (nl, msg, NULL, NULL);
  if (r < 0 && r != -ESRCH && r != -ENOENT)
    {
      inet_ntop (AF_INET, &dst, text, sizeof (text));
      return moat_nl_error (err, nl, r, "route %s/%d", text, prefixlen);
    }
  return 0;
}

static struct nl_msg *
route6_msg (int type, int flags, const struct in6_addr *dst, int prefixlen)
{
  return route_msg_family (type, flags, AF_INET6, dst->s6_addr, sizeof (dst->s6_addr), prefixlen);
}

int
moat_route6_replace (struct moat_nl *nl, const struct in6_addr *dst, int prefixlen,
                     const struct in6_addr *gateway, const char *ifname, moat_err_t *err)
{
  _cleanup_msg_ struct nl_msg *msg
      = route6_msg (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, dst, prefixlen);
  char text[INET6_ADDRSTRLEN];
  struct link_answer l;
  int r = link_lookup (nl, 0, ifname, &l);

  if (r < 0 || l.index <= 0)
    return moat_nl_error (err, nl, r < 0 ? r : -ENODEV, "interface \"%s\"", ifname);
  if (!msg || nla_put (msg, RTA_GATEWAY, sizeof (*gateway), gateway) < 0
      || nla_put_u32 (msg, RTA_OIF, (uint32_t)l.index) < 0)
    return moat_error_nomem (err, "route");
  r = moat_nl_talk (nl, msg, NULL, NULL);
  if (r < 0)
    {
      inet_ntop (AF_INET6, dst, text, sizeof (text));
      return moat_nl_error (err, nl, r, "route %s/%d", text, prefixlen);
    }
  return 0;
}

int
moat_route6_del (struct moat_nl *nl, const struct in6_addr *dst, int prefixlen, moat_err_t *err)
{
  _cleanup_msg_ struct nl_msg *msg = route6_msg (RTM_DELROUTE, 0, dst, prefixlen);
  char text[INET6_ADDRSTRLEN];
  int r;

  if (!msg)
    return moat_error_nomem (err, "route");
  r = moat_nl_talk (nl, msg, NULL, NULL);
  if (r < 0 && r != -ESRCH && r != -ENOENT)
    {
      inet_ntop (AF_INET6, dst, text, sizeof (text));
      return moat_nl_error (err, nl, r, "route %s/%d", text, prefixlen);
    }
  return 0;
}

struct neigh_query
{
  int ifindex;
  struct in_addr addr;
  unsigned char *mac;
  bool found;
};

static int
on_neigh (struct nlmsghdr *nlh, void *arg)
{
  struct neigh_query *q = arg;
  const struct ndmsg *nd = nlmsg_data (nlh);
  struct nlattr *tb[NDA_MAX + 1];

  if (nlh->nlmsg_type != RTM_NEWNEIGH || nd->ndm_family != AF_INET || nd->ndm_ifindex != q->ifindex
      || !(nd->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT))
      || nlmsg_parse (nlh, sizeof (*nd), tb, NDA_MAX, NULL) < 0 || !tb[NDA_DST] || !tb[NDA_LLADDR]
      || nla_len (tb[NDA_DST]) != 4 || nla_len (tb[NDA_LLADDR]) != MOAT_MAC_LEN
      || memcmp (nla_data (tb[NDA_DST]), &q->addr.s_addr, 4) != 0)
    return 0;
  memcpy (q->mac, nla_data (tb[NDA_LLADDR]), MOAT_MAC_LEN);
  q->found = true;
  return 0;
}

int
moat_neigh_mac (struct moat_nl *nl, const char *ifname, struct in_addr addr,
                unsigned char mac[MOAT_MAC_LEN], moat_err_t *err)
{
  struct ndmsg nd = { .ndm_family = AF_INET };
  _cleanup_msg_ struct nl_msg *msg = nlmsg_alloc_simple (RTM_GETNEIGH, NLM_F_DUMP);
  struct neigh_query q = { .addr = addr, .mac = mac };
  struct link_answer l;
  int r = link_lookup (nl, 0, ifname, &l);

  if (r < 0 || l.index <= 0)
    return moat_nl_error (err, nl, r < 0 ? r : -ENODEV, "interface \"%s\"", ifname);
  q.ifindex = l.index;
  if (!msg || nlmsg_append (msg, &nd, sizeof (nd), NLMSG_ALIGNTO) < 0)
    return moat_error_nomem (err, "neighbours");
  do
    r = moat_nl_talk (nl, msg, on_neigh, &q);
  while (r == -EAGAIN);
  if (r < 0)
    return moat_nl_error (err, nl, r, "neighbours of \"%s\"", ifname);
  return q.found ? 1 : 0;
}

/* The index of link `ifname`, or a negative errno (-ENODEV: none). */
static int
link_index (struct moat_nl *nl, const char *ifname)
{
  struct link_answer l;
  int r = link_lookup (nl, 0, ifname, &l);

  if (r < 0)
    return r;
  return l.index > 0 ? l.index : -ENODEV;
}

int
moat_route_replace_onlink (struct moat_nl *nl, struct in_addr dst, int prefixlen,
                           struct in_addr gateway, const char *ifname, moat_err_t *err)
{
  _cleanup_msg_ struct nl_msg *msg
      = route_msg (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, dst, prefixlen);
  char text[INET_ADDRSTRLEN];
  int index = link_index (nl, ifname), r;

  inet_ntop (AF_INET, &dst, text, sizeof (text));
  if (index < 0)
    return moat_nl_error (err, nl, index, "route %s/%d: interface \"%s\"", text, prefixlen, ifname);
  if (!msg || nla_put (msg, RTA_GATEWAY, sizeof (gateway.s_addr), &gateway.s_addr) < 0
      || nla_put_u32 (msg, RTA_OIF, (uint32_t)index) < 0)
    return moat_error_nomem (err, "route");
  ((struct rtmsg *)nlmsg_data (nlmsg_hdr (msg)))->rtm_flags |= RTNH_F_ONLINK;
  r = moat_nl_talk (nl, msg, NULL, NULL);
  if (r < 0)
    return moat_nl_error (err, nl, r, "route %s/%d dev %s", text, prefixlen, ifname);
  return 0;
}

/* IFLA_LINKINFO of a VXLAN device, and no IPv6 link-local on it (nothing
 * but the routed IPv4 crosses a tunnel). */
static int
vxlan_attrs (struct nl_msg *msg, const struct moat_vxlan_spec *s, int lower, bool ipv6)
{
  struct nlattr *info, *data, *af, *in6;

  if (!(info = nla_nest_start (msg, IFLA_LINKINFO))
      || nla_put_string (msg, IFLA_INFO_KIND, "vxlan") < 0
      || !(data = nla_nest_start (msg, IFLA_INFO_DATA))
      || nla_put_u32 (msg, IFLA_VXLAN_ID, s->vni) < 0
      || nla_put (msg, IFLA_VXLAN_GROUP, 4, &s->remote.s_addr) < 0
      || (s->local.s_addr && nla_put (msg, IFLA_VXLAN_LOCAL, 4, &s->local.s_addr) < 0)
      || (lower > 0 && nla_put_u32 (msg, IFLA_VXLAN_LINK, (uint32_t)lower) < 0)
      || nla_put_u16 (msg, IFLA_VXLAN_PORT, htons (MOAT_VXLAN_PORT)) < 0
      || nla_put_u8 (msg, IFLA_VXLAN_LEARNING, 0) < 0
      || nla_put_u8 (msg, IFLA_VXLAN_DF, VXLAN_DF_INHERIT) < 0)
    return -ENOMEM;
  nla_nest_end (msg, data);
  nla_nest_end (msg, info);
  if (!ipv6)
    return 0;
  if (!(af = nla_nest_start (msg, IFLA_AF_SPEC)) || !(in6 = nla_nest_start (msg, AF_INET6))
      || nla_put_u8 (msg, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE) < 0)
    return -ENOMEM;
  nla_nest_end (msg, in6);
  nla_nest_end (msg, af);
  return 0;
}

/* One RTM_NEWLINK; `ipv6`: with IPv6's address generation off (refused,
 * EAFNOSUPPORT, where IPv6 is disabled: then nothing to turn off). */
static int
vxlan_create (struct moat_nl *nl, const struct moat_vxlan_spec *s, int lower, bool ipv6)
{
  struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
  _cleanup_msg_ struct nl_msg *msg = nlmsg_alloc_simple (RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);

  if (!msg || nlmsg_append (msg, &ifi, sizeof (ifi), NLMSG_ALIGNTO) < 0
      || nla_put_string (msg, IFLA_IFNAME, s->ifname) < 0
      || nla_put (msg, IFLA_ADDRESS, MOAT_MAC_LEN, s->mac) < 0
      || vxlan_attrs (msg, s, lower, ipv6) < 0)
    return -ENOMEM;
  return moat_nl_talk (nl, msg, NULL, NULL);
}

int
moat_vxlan_ensure (struct moat_nl *nl, const struct moat_vxlan_spec *s, moat_err_t *err)
{
  int lower = s->lower ? link_index (nl, s->lower) : 0, r;

  r = link_index (nl, s->ifname);
  if (r >= 0)
    return 0;
  if (r != -ENODEV)
    return moat_nl_error (err, nl, r, "tunnel \"%s\"", s->ifname);
  if (lower < 0)
    return moat_nl_error (err, nl, lower, "tunnel \"%s\": underlay interface \"%s\"", s->ifname,
                          s->lower);
  r = vxlan_create (nl, s, lower, true);
  if (r == -EAFNOSUPPORT)
    r = vxlan_create (nl, s, lower, false);
  if (r == -ENOMEM)
    return moat_error_nomem (err, "tunnel");
  if (r < 0)
    return moat_nl_error (err, nl, r, "tunnel \"%s\": cannot create (vxlan id %u)", s->ifname,
                          s->vni);
  return 1;
}

int
moat_tunnel_delete (struct moat_nl *nl, const char *ifname, moat_err_t *err)
{
  struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
  _cleanup_msg_ struct nl_msg *msg = nlmsg_alloc_simple (RTM_DELLINK, 0);
  int r;

  if (!msg || nlmsg_append (msg, &ifi, sizeof (ifi), NLMSG_ALIGNTO) < 0
      || nla_put_string (msg, IFLA_IFNAME, ifname) < 0)
    return moat_error_nomem (err, "tunnel");
  r = moat_nl_talk (nl, msg, NULL, NULL);
  if (r < 0 && r != -ENODEV)
    return moat_nl_error (err, nl, r, "tunnel \"%s\": cannot delete", ifname);
  return 0;
}

int
moat_neigh_replace (struct moat_nl *nl, const char *ifname, struct in_addr addr,
                    const unsigned char mac[MOAT_MAC_LEN], moat_err_t *err)
{
  _cleanup_msg_ struct nl_msg *msg
      = nlmsg_alloc_simple (RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE);
  struct ndmsg nd = { .ndm_family = AF_INET, .ndm_state = NUD_PERMANENT };
  int index = link_index (nl, ifname), r;

  if (index < 0)
    return moat_nl_error (err, nl, index, "neighbour on \"%s\"", ifname);
  nd.ndm_ifindex = index;
  if (!msg || nlmsg_append (msg, &nd, sizeof (nd), NLMSG_ALIGNTO) < 0
      || nla_put (msg, NDA_DST, 4, &addr.s_addr) < 0
      || nla_put (msg, NDA_LLADDR, MOAT_MAC_LEN, mac) < 0)
    return moat_error_nomem (err, "neighbour");
  r = moat_nl_talk (nl, msg, NULL, NULL);
  if (r < 0)
    return moat_nl_error (err, nl, r, "neighbour on \"%s\"", ifname);
  return 0;
}
