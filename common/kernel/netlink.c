/* SPDX-License-Identifier: Apache-2.0 */
/* Links, addresses and routes over rtnetlink (libnl-3, libnl-route-3).
 *
 * Requests are built with libnl (its link, address and route objects where
 * it has them, its message API where it does not: libnl 3.7 knows neither
 * IFLA_BRPORT_ISOLATED nor slave data). Replies are read here rather than
 * by libnl so that an error keeps the kernel's errno and its extended ack
 * message. Every request waits for its ack before the next is sent. */
#include "kernel/netlink.h"
#include "kernel/netlink-internal.h"
#include "kernel/netlink6.h"

#include <net/if.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>

#include <netlink/addr.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include "base/cleanup.h"
#include "base/ifname.h"
#include "base/strv.h"

DEFINE_TRIVIAL_CLEANUP_FUNC (struct nl_sock *, nl_socket_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nl_msg *, nlmsg_free)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct nl_addr *, nl_addr_put)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct rtnl_link *, rtnl_link_put)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct rtnl_addr *, rtnl_addr_put)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct rtnl_route *, rtnl_route_put)
DEFINE_TRIVIAL_CLEANUP_FUNC (struct rtnl_nexthop *, rtnl_route_nh_free)

#define _cleanup_nl_msg_ _cleanup_ (nlmsg_freep)
#define _cleanup_nl_addr_ _cleanup_ (nl_addr_putp)
#define _cleanup_rtnl_link_ _cleanup_ (rtnl_link_putp)

/* Large enough for one datagram of a dump (the kernel fills up to 32 KiB). */
#define NL_RECV_SIZE 32768

/* A random unicast, locally administered address, as the kernel would pick
 * for a veth end; chosen here so that moat knows it without asking. */
static int
random_mac (unsigned char ret_mac[MOAT_MAC_LEN], moat_err_t *err)
{
  if (getrandom (ret_mac, MOAT_MAC_LEN, 0) != MOAT_MAC_LEN)
    return moat_error (err, MOAT_E_LINK, errno, "cannot pick a MAC address");
  ret_mac[0] = (ret_mac[0] & 0xfe) | 0x02;
  return 0;
}

/* ---- names and addresses ---------------------------------------------- */

static int
check_prefixlen (const char *what, int prefixlen, moat_err_t *err)
{
  if (prefixlen < 1 || prefixlen > 32)
    return moat_error (err, MOAT_E_LINK, 0, "%s: prefix length %d out of range (1-32)", what,
                       prefixlen);
  return 0;
}

static const char *
ip_str (struct in_addr a, char buf[INET_ADDRSTRLEN])
{
  return inet_ntop (AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* ---- talking to the kernel -------------------------------------------- */

void
moat_nl_conn_close (struct moat_nl *c)
{
  if (c->sk)
    nl_socket_free (c->sk);
  c->sk = NULL;
}

/* Sets *err to "<what>: <strerror(-ret)>", followed by the kernel's own
 * explanation when it gave one. Returns -1. */
int
moat_nl_error (moat_err_t *err, const struct moat_nl *c, int ret, const char *fmt, ...)
{
  char what[600];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (what, sizeof (what), fmt, ap);
  va_end (ap);
  if (c && c->extack[0])
    return moat_error (err, MOAT_E_LINK, 0, "%s: %s (%s)", what, strerror (-ret), c->extack);
  return moat_error (err, MOAT_E_LINK, -ret, "%s", what);
}

/* Opens a socket in the calling thread's network namespace. */
static int
nlconn_open (struct moat_nl *c, moat_err_t *err)
{
  _cleanup_ (nl_socket_freep) struct nl_sock *sk = nl_socket_alloc ();
  int one = 1, fd, r;

  c->sk = NULL;
  c->extack[0] = '\0';
  if (!sk)
    return moat_error (err, MOAT_E_LINK, ENOMEM, "cannot allocate a netlink socket");
  r = nl_connect (sk, NETLINK_ROUTE);
  if (r < 0)
    return moat_error (err, MOAT_E_LINK, 0, "cannot open a netlink socket: %s", nl_geterror (r));
  fd = nl_socket_get_fd (sk);
  /* libnl asks for SOCK_CLOEXEC; make sure of it whatever it was built with. */
  if (fcntl (fd, F_SETFD, FD_CLOEXEC) < 0)
    return moat_error (err, MOAT_E_LINK, errno, "netlink socket: cannot set close-on-exec");
  /* Best effort: the kernel's reason for a refusal, and short error acks. */
  setsockopt (fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof (one));
  setsockopt (fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof (one));
  c->sk = TAKE_PTR (sk);
  return 0;
}

int
moat_nl_open (struct moat_nl **ret, moat_err_t *err)
{
  _cleanup_free_ struct moat_nl *nl = calloc (1, sizeof (*nl));

  if (!nl)
    return moat_error (err, MOAT_E_LINK, ENOMEM, "cannot allocate a netlink socket");
  if (nlconn_open (nl, err) < 0)
    return -1;
  *ret = TAKE_PTR (nl);
  return 0;
}

void
moat_nl_close (struct moat_nl *nl)
{
  if (!nl)
    return;
  moat_nl_conn_close (nl);
  free (nl);
}

/* Opens a socket bound to the namespace `nsfd`: the thread enters it, opens
 * the socket and always goes back, so only the socket stays behind. */
int
moat_nl_open_in (struct moat_nl *c, int nsfd, const char *ns_path, moat_err_t *err)
{
  _cleanup_close_ int home = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  moat_err_t open_err;
  int r;

  c->sk = NULL;
  if (home < 0)
    return moat_error (err, MOAT_E_LINK, errno, "cannot open /proc/thread-self/ns/net");
  if (setns (nsfd, CLONE_NEWNET) < 0)
    return moat_error (err, MOAT_E_LINK, errno, "%s: cannot enter the network namespace", ns_path);
  r = nlconn_open (c, &open_err);
  if (setns (home, CLONE_NEWNET) < 0)
    {
      int e = errno;
      moat_nl_conn_close (c);
      return moat_error (err, MOAT_E_LINK, e, "%s: cannot return to the original network namespace",
                         ns_path);
    }
  if (r < 0)
    {
      *err = open_err;
      return moat_error_prefix (err, "%s", ns_path);
    }
  return 0;
}

/* Copies NLMSGERR_ATTR_MSG of an error ack, if the kernel sent one. */
static void
save_extack (struct moat_nl *c, const struct nlmsghdr *nlh)
{
  const struct nlmsgerr *e = NLMSG_DATA (nlh);
  size_t off = NLMSG_ALIGN (sizeof (*e));
  const struct nlattr *msg;
  int len;

  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
    return;
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
    off += NLMSG_ALIGN (e->msg.nlmsg_len - NLMSG_HDRLEN);
  len = (int)nlh->nlmsg_len - (int)(NLMSG_HDRLEN + off);
  if (len <= 0)
    return;
  msg = nla_find ((const struct nlattr *)((const char *)e + off), len, NLMSGERR_ATTR_MSG);
  if (msg && nla_len (msg) > 0)
    snprintf (c->extack, sizeof (c->extack), "%.*s", nla_len (msg), (const char *)nla_data (msg));
}

/* Status carried by an NLMSG_ERROR or NLMSG_DONE: 0 or a negative errno. */
static int
reply_status (struct moat_nl *c, struct nlmsghdr *nlh)
{
  if (nlh->nlmsg_type == NLMSG_ERROR)
    {
      const struct nlmsgerr *e = NLMSG_DATA (nlh);

      if (nlh->nlmsg_len < NLMSG_LENGTH (sizeof (*e)))
        return -EBADMSG;
      if (e->error)
        save_extack (c, nlh);
      return e->error;
    }
  if (nlh->nlmsg_len >= NLMSG_LENGTH (sizeof (int)))
    return *(const int *)NLMSG_DATA (nlh);
  return 0;
}

/* Sends one request and reads up to its ack (or, for a dump, its end),
 * handing every data message to on_reply. Returns 0 or a negative errno:
 * the kernel's, or -EAGAIN when a dump was interrupted by a change. */
int
moat_nl_talk (struct moat_nl *c, struct nl_msg *msg, nl_reply_fn on_reply, void *arg)
{
  uint32_t buf[NL_RECV_SIZE / sizeof (uint32_t)];
  struct nlmsghdr *req = nlmsg_hdr (msg);
  int fd = nl_socket_get_fd (c->sk), reply_err = 0;

  c->extack[0] = '\0';
  nl_complete_msg (c->sk, msg);
  if (send (fd, req, req->nlmsg_len, 0) < 0)
    return -errno;
  for (;;)
    {
      struct iovec iov = { .iov_base = buf, .iov_len = sizeof (buf) };
      struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
      struct nlmsghdr *nlh;
      ssize_t n = recvmsg (fd, &mh, 0);
      int left;

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -errno;
      if (n == 0 || (mh.msg_flags & MSG_TRUNC))
        return -EBADMSG;
      left = (int)n;
      for (nlh = (struct nlmsghdr *)buf; nlmsg_ok (nlh, left); nlh = nlmsg_next (nlh, &left))
        {
          if (nlh->nlmsg_seq != req->nlmsg_seq)
            continue;
          /* The kernel may flag the DONE message itself as interrupted. */
          if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
            reply_err = -EAGAIN;
          if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE)
            {
              int r = reply_status (c, nlh);
              return r < 0 ? r : reply_err;
            }
          if (on_reply && reply_err == 0)
            reply_err = on_reply (nlh, arg);
        }
    }
}

/* A link request: header only, attributes to be added by the caller. */
static struct nl_msg *
ifinfo_msg (int type, int flags, int index, unsigned ifi_flags, unsigned ifi_change)
{
  struct ifinfomsg ifi = {
    .ifi_family = AF_UNSPEC,
    .ifi_index = index,
    .ifi_flags = ifi_flags,
    .ifi_change = ifi_change,
  };
  struct nl_msg *msg = nlmsg_alloc_simple (type, flags);

  if (msg && nlmsg_append (msg, &ifi, sizeof (ifi), NLMSG_ALIGNTO) < 0)
    {
      nlmsg_free (msg);
      return NULL;
    }
  return msg;
}

/* ---- reading links ---------------------------------------------------- */

/* What moat reads from an RTM_NEWLINK message. */
struct link_info
{
  int index;
  unsigned flags;
  unsigned mtu;
  int master; /* 0: none */
  int link;   /* IFLA_LINK: a veth's peer, as an index in the peer's namespace */
  char name[IFNAMSIZ];
  char kind[32];       /* IFLA_INFO_KIND: "bridge", "veth", "" */
  char slave_kind[32]; /* IFLA_INFO_SLAVE_KIND: "bridge" for a bridge port */
  int isolated;        /* IFLA_BRPORT_ISOLATED; -1 when not a bridge port */
  bool have_mac;
  unsigned char mac[MOAT_MAC_LEN];
};

static void
copy_string_attr (char *dst, size_t size, const struct nlattr *a)
{
  snprintf (dst, size, "%.*s", nla_len (a), (const char *)nla_data (a));
}

static int
parse_linkinfo (struct nlattr *linkinfo, struct link_info *li)
{
  static const struct nla_policy policy[IFLA_INFO_MAX + 1] = {
    [IFLA_INFO_KIND] = { .type = NLA_STRING },
    [IFLA_INFO_SLAVE_KIND] = { .type = NLA_STRING },
    [IFLA_INFO_SLAVE_DATA] = { .type = NLA_NESTED },
  };
  static const struct nla_policy port_policy[IFLA_BRPORT_MAX + 1] = {
    [IFLA_BRPORT_ISOLATED] = { .type = NLA_U8 },
  };
  struct nlattr *tb[IFLA_INFO_MAX + 1], *port[IFLA_BRPORT_MAX + 1];

  if (nla_parse_nested (tb, IFLA_INFO_MAX, linkinfo, policy) < 0)
    return -EBADMSG;
  if (tb[IFLA_INFO_KIND])
    copy_string_attr (li->kind, sizeof (li->kind), tb[IFLA_INFO_KIND]);
  if (tb[IFLA_INFO_SLAVE_KIND])
    copy_string_attr (li->slave_kind, sizeof (li->slave_kind), tb[IFLA_INFO_SLAVE_KIND]);
  if (strcmp (li->slave_kind, "bridge") == 0 && tb[IFLA_INFO_SLAVE_DATA])
    {
      if (nla_parse_nested (port, IFLA_BRPORT_MAX, tb[IFLA_INFO_SLAVE_DATA], port_policy) < 0)
        return -EBADMSG;
      if (port[IFLA_BRPORT_ISOLATED])
        li->isolated = nla_get_u8 (port[IFLA_BRPORT_ISOLATED]);
    }
  return 0;
}

static int
parse_link (struct nlmsghdr *nlh, struct link_info *li)
{
  static const struct nla_policy policy[IFLA_MAX + 1] = {
    [IFLA_IFNAME] = { .type = NLA_STRING },   [IFLA_MTU] = { .type = NLA_U32 },
    [IFLA_MASTER] = { .type = NLA_U32 },      [IFLA_LINK] = { .type = NLA_U32 },
    [IFLA_LINKINFO] = { .type = NLA_NESTED },
  };
  struct nlattr *tb[IFLA_MAX + 1];
  const struct ifinfomsg *ifi = NLMSG_DATA (nlh);

  memset (li, 0, sizeof (*li));
  li->isolated = -1;
  if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < NLMSG_LENGTH (sizeof (*ifi))
      || nlmsg_parse (nlh, sizeof (*ifi), tb, IFLA_MAX, policy) < 0)
    return -EBADMSG;
  li->index = ifi->ifi_index;
  li->flags = ifi->ifi_flags;
  if (tb[IFLA_IFNAME])
    copy_string_attr (li->name, sizeof (li->name), tb[IFLA_IFNAME]);
  if (tb[IFLA_MTU])
    li->mtu = nla_get_u32 (tb[IFLA_MTU]);
  if (tb[IFLA_MASTER])
    li->master = (int)nla_get_u32 (tb[IFLA_MASTER]);
  if (tb[IFLA_LINK])
    li->link = (int)nla_get_u32 (tb[IFLA_LINK]);
  if (tb[IFLA_ADDRESS] && nla_len (tb[IFLA_ADDRESS]) == MOAT_MAC_LEN)
    {
      li->have_mac = true;
      memcpy (li->mac, nla_data (tb[IFLA_ADDRESS]), MOAT_MAC_LEN);
    }
  return tb[IFLA_LINKINFO] ? parse_linkinfo (tb[IFLA_LINKINFO], li) : 0;
}

static int
on_link (struct nlmsghdr *nlh, void *arg)
{
  return parse_link (nlh, arg);
}

/* Reads the link `name`. Returns 0, -ENODEV when there is none, or another
 * negative errno. */
static int
link_get (struct moat_nl *c, const char *name, struct link_info *ret)
{
  _cleanup_nl_msg_ struct nl_msg *msg = ifinfo_msg (RTM_GETLINK, 0, 0, 0, 0);
  int r;

  if (!msg || nla_put_string (msg, IFLA_IFNAME, name) < 0
      || nla_put_u32 (msg, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0)
    return -ENOMEM;
  ret->index = 0;
  r = moat_nl_talk (c, msg, on_link, ret);
  if (r == 0 && ret->index == 0)
    return -ENODEV;
  return r;
}

/* Deletes a link by index, or by name when index is 0. A link that is
 * already gone is not an error. */
static int
link_delete (struct moat_nl *c, int index, const char *name)
{
  _cleanup_nl_msg_ struct nl_msg *msg = ifinfo_msg (RTM_DELLINK, 0, index, 0, 0);
  int r;

  if (!msg || (index == 0 && nla_put_string (msg, IFLA_IFNAME, name) < 0))
    return -ENOMEM;
  r = moat_nl_talk (c, msg, NULL, NULL);
  return r == -ENODEV ? 0 : r;
}

/* Sets IFF_UP (and the MTU when not 0) on an existing link, by index, or
 * by name when index is 0 (a name next to an index would rename it). */
static int
link_up (struct moat_nl *c, int index, const char *name, unsigned mtu)
{
  _cleanup_nl_msg_ struct nl_msg *msg = ifinfo_msg (RTM_NEWLINK, 0, index, IFF_UP, IFF_UP);

  if (!msg || (index == 0 && nla_put_string (msg, IFLA_IFNAME, name) < 0)
      || (mtu && nla_put_u32 (msg, IFLA_MTU, mtu) < 0))
    return -ENOMEM;
  return moat_nl_talk (c, msg, NULL, NULL);
}

static int
nl_to_errno (int nlerr)
{
  return nlerr == -NLE_NOMEM ? -ENOMEM : -EINVAL;
}

/* Adds addr/prefixlen (with its broadcast address) to the link `index`. */
static int
addr_add (struct moat_nl *c, int index, struct in_addr addr, int prefixlen)
{
  _cleanup_ (rtnl_addr_putp) struct rtnl_addr *ra = rtnl_addr_alloc ();
  _cleanup_nl_addr_ struct nl_addr *local = nl_addr_build (AF_INET, &addr, sizeof (addr));
  _cleanup_nl_addr_ struct nl_addr *brd = NULL;
  _cleanup_nl_msg_ struct nl_msg *msg = NULL;
  int r;

  if (!ra || !local)
    return -ENOMEM;
  rtnl_addr_set_ifindex (ra, index);
  rtnl_addr_set_family (ra, AF_INET);
  r = rtnl_addr_set_local (ra, local);
  if (r < 0)
    return nl_to_errno (r);
  rtnl_addr_set_prefixlen (ra, prefixlen);
  if (prefixlen <= 30)
    {
      struct in_addr b = { addr.s_addr | htonl (0xffffffffu >> prefixlen) };

      brd = nl_addr_build (AF_INET, &b, sizeof (b));
      if (!brd)
        return -ENOMEM;
      r = rtnl_addr_set_broadcast (ra, brd);
      if (r < 0)
        return nl_to_errno (r);
    }
  r = rtnl_addr_build_add_request (ra, NLM_F_CREATE | NLM_F_EXCL, &msg);
  if (r < 0)
    return nl_to_errno (r);
  return moat_nl_talk (c, msg, NULL, NULL);
}

/* ---- bridge ----------------------------------------------------------- */

/* Writes `value` to /proc/sys/net/<dir>/<dev>/<key> (dir: "ipv4/conf",
 * "ipv4/neigh", "ipv6/conf"), a setting of that device only. */
int
moat_nl_sysctl_write (const char *dir, const char *dev, const char *key, const char *value,
                      moat_err_t *err)
{
  char path[128];
  _cleanup_close_ int fd = -1;
  size_t n = strlen (value);
  ssize_t w;

  snprintf (path, sizeof (path), "/proc/sys/net/%s/%s/%s", dir, dev, key);
  fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return moat_error (err, MOAT_E_LINK, errno, "interface \"%s\": cannot open %s", dev, path);
  w = write (fd, value, n);
  if (w != (ssize_t)n)
    return moat_error (err, MOAT_E_LINK, w < 0 ? errno : EIO,
                       "interface \"%s\": cannot write %s to %s", dev, value, path);
  return 0;
}

/* No IPv6 on DEV: no link-local address, no neighbour discovery, and
 * nothing the host sends over IPv6 leaves by it. A kernel without IPv6
 * has no ipv6/conf: nothing to turn off. */
static int
ipv6_off (const char *dev, moat_err_t *err)
{
  if (access ("/proc/sys/net/ipv6", F_OK) < 0 && errno == ENOENT)
    return 0;
  return moat_nl_sysctl_write ("ipv6/conf", dev, "disable_ipv6", "1", err);
}

/* Isolated ports reach each other through the host's proxy ARP
 * (docs/design.md, "The network model"). The kernel delays proxy replies to broadcast requests by
 * up to neigh.<dev>.proxy_delay (0.8 s): each direction of a first exchange between two containers
 * would wait for it. */
static int
bridge_sysctls (const char *bridge, moat_err_t *err)
{
  if (moat_nl_sysctl_write ("ipv4/conf", bridge, "proxy_arp", "1", err) < 0
      || moat_nl_sysctl_write ("ipv4/conf", bridge, "proxy_arp_pvlan", "1", err) < 0
      || moat_nl_sysctl_write ("ipv4/conf", bridge, "forwarding", "1", err) < 0
      || moat_nl_sysctl_write ("ipv4/neigh", bridge, "proxy_delay", "0", err) < 0)
    return -1;
  return 0;
}

/* Creates the bridge, up, with an address of its own: a bridge whose MAC
 * the kernel picked takes the lowest MAC of its ports instead, and would
 * change under the containers' ARP caches as ports come and go. */
static int
bridge_create (struct moat_nl *c, const struct moat_bridge_spec *b, moat_err_t *err)
{
  _cleanup_rtnl_link_ struct rtnl_link *link = rtnl_link_bridge_alloc ();
  _cleanup_nl_addr_ struct nl_addr *lladdr = NULL;
  _cleanup_nl_msg_ struct nl_msg *msg = NULL;
  unsigned char mac[MOAT_MAC_LEN];
  int r;

  if (random_mac (mac, err) < 0)
    return -1;
  lladdr = nl_addr_build (AF_LLC, mac, sizeof (mac));
  if (!link || !lladdr)
    return moat_nl_error (err, NULL, -ENOMEM, "bridge \"%s\": cannot create", b->name);
  rtnl_link_set_name (link, b->name);
  rtnl_link_set_addr (link, lladdr);
  rtnl_link_set_flags (link, IFF_UP);
  if (b->mtu)
    rtnl_link_set_mtu (link, b->mtu);
  r = rtnl_link_build_add_request (link, NLM_F_CREATE | NLM_F_EXCL, &msg);
  if (r < 0)
    return moat_nl_error (err, NULL, nl_to_errno (r), "bridge \"%s\": cannot create", b->name);
  r = moat_nl_talk (c, msg, NULL, NULL);
  if (r == -EEXIST)
    return 0; /* a concurrent creator won; the caller checks what it made */
  if (r < 0)
    return moat_nl_error (err, c, r, "bridge \"%s\": cannot create", b->name);
  return 0;
}

/* An existing link called `name` must be a bridge. */
static int
check_is_bridge (const char *name, const struct link_info *li, moat_err_t *err)
{
  if (strcmp (li->kind, "bridge") == 0)
    return 0;
  if (li->kind[0])
    return moat_error (err, MOAT_E_LINK, 0, "bridge \"%s\": exists and is a %s, not a bridge", name,
                       li->kind);
  return moat_error (err, MOAT_E_LINK, 0, "bridge \"%s\": exists and is not a bridge", name);
}

int
moat_bridge_ensure (struct moat_nl *nl, const struct moat_bridge_spec *b, moat_err_t *err)
{
  struct link_info li;
  char gw[INET_ADDRSTRLEN];
  int r;

  if (moat_ifname_check ("bridge", b->name, MOAT_E_LINK, err) < 0
      || check_prefixlen ("bridge", b->prefixlen, err) < 0)
    return -1;
  r = link_get (nl, b->name, &li);
  if (r == -ENODEV)
    {
      if (bridge_create (nl, b, err) < 0)
        return -1;
      r = link_get (nl, b->name, &li);
    }
  if (r < 0)
    return moat_nl_error (err, nl, r, "bridge \"%s\": cannot read the link", b->name);
  if (check_is_bridge (b->name, &li, err) < 0)
    return -1;
  /* An IPv4 network's bridge has no IPv6 for the host to reach the
   * containers by (written before it first goes up, and again at every
   * ADD should someone have turned it back on); a dual-stack one has its
   * IPv6 on, its link-local valid at once. */
  if ((b->ipv6 ? moat_bridge_ipv6_on (b->name, err) : ipv6_off (b->name, err)) < 0)
    return -1;
  if (!(li.flags & IFF_UP) || (b->mtu && li.mtu != b->mtu))
    {
      r = link_up (nl, li.index, b->name, b->mtu);
      if (r < 0)
        return moat_nl_error (err, nl, r, "bridge \"%s\": cannot set it up", b->name);
    }
  r = b->no_ipv4 ? 0 : addr_add (nl, li.index, b->gateway, b->prefixlen);
  if (r < 0 && r != -EEXIST)
    return moat_nl_error (err, nl, r, "bridge \"%s\": cannot add address %s/%d", b->name,
                          ip_str (b->gateway, gw), b->prefixlen);
  if (b->ipv6 && moat_bridge_ipv6_address (nl, li.index, b->name, &b->gateway6, err) < 0)
    return -1;
  if (bridge_sysctls (b->name, err) < 0
      || (b->route_localnet
          && moat_nl_sysctl_write ("ipv4/conf", b->name, "route_localnet", "1", err) < 0))
    return -1;
  return 0;
}

int
moat_bridge_delete (struct moat_nl *nl, const char *name, moat_err_t *err)
{
  struct link_info li;
  int r;

  if (moat_ifname_check ("bridge", name, MOAT_E_LINK, err) < 0)
    return -1;
  r = link_get (nl, name, &li);
  if (r == -ENODEV)
    return 0;
  if (r < 0)
    return moat_nl_error (err, nl, r, "bridge \"%s\": cannot read the link", name);
  if (check_is_bridge (name, &li, err) < 0)
    return -1;
  r = link_delete (nl, li.index, name);
  if (r < 0)
    return moat_nl_error (err, nl, r, "bridge \"%s\": cannot delete", name);
  return 0;
}

static int
wg_link_add (struct moat_nl *nl, const char *name)
{
  _cleanup_nl_msg_ struct nl_msg *msg
      = ifinfo_msg (RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, 0, 0);
  struct nlattr *info;

  if (!msg || nla_put_string (msg, IFLA_IFNAME, name) < 0
      || !(info = nla_nest_start (msg, IFLA_LINKINFO))
      || nla_put_string (msg, IFLA_INFO_KIND, "wireguard") < 0)
    return -ENOMEM;
  nla_nest_end (msg, info);
  return moat_nl_talk (nl, msg, NULL, NULL);
}

int
moat_wg_link_ensure (struct moat_nl *nl, const char *name, moat_err_t *err)
{
  struct link_info li;
  int r;

  if (moat_ifname_check ("wireguard link", name, MOAT_E_LINK, err) < 0)
    return -1;
  r = link_get (nl, name, &li);
  if (r == -ENODEV)
    {
      r = wg_link_add (nl, name);
      if (r == -EOPNOTSUPP)
        return moat_error (err, MOAT_E_LINK, 0,
                           "wireguard link \"%s\": this kernel has no WireGuard "
                           "(cluster.encrypt needs CONFIG_WIREGUARD)",
                           name);
      if (r < 0 && r != -EEXIST)
        return moat_nl_error (err, nl, r, "wireguard link \"%s\": cannot create", name);
      r = link_get (nl, name, &li);
    }
  if (r < 0)
    return moat_nl_error (err, nl, r, "wireguard link \"%s\": cannot read the link", name);
  if (strcmp (li.kind, "wireguard") != 0)
    return moat_error (err, MOAT_E_LINK, 0, "wireguard link \"%s\": exists and is a \"%s\" link",
                       name, li.kind);
  if (!(li.flags & IFF_UP) && (r = link_up (nl, li.index, name, 0)) < 0)
    return moat_nl_error (err, nl, r, "wireguard link \"%s\": cannot set up", name);
  return 0;
}

int
moat_wg_link_delete (struct moat_nl *nl, const char *name, moat_err_t *err)
{
  int r;

  if (moat_ifname_check ("wireguard link", name, MOAT_E_LINK, err) < 0)
    return -1;
  r = link_delete (nl, 0, name);
  if (r < 0)
    return moat_nl_error (err, nl, r, "wireguard link \"%s\": cannot delete", name);
  return 0;
}

int
moat_link_exists (struct moat_nl *nl, const char *name, moat_err_t *err)
{
  struct link_info li;
  int r;

  if (moat_ifname_check ("interface", name, MOAT_E_LINK, err) < 0)
    return -1;
  r = link_get (nl, name, &li);
  if (r == -ENODEV)
    return 0;
  if (r < 0)
    return moat_nl_error (err, nl, r, "interface \"%s\": cannot read the link", name);
  return 1;
}

int
moat_link_exists_in (int nsfd, const char *ns_path, const char *name, moat_err_t *err)
{
  _cleanup_nlconn_ struct moat_nl c = { 0 };
  struct link_info li;
  int r;

  if (moat_ifname_check ("interface", name, MOAT_E_LINK, err) < 0
      || moat_nl_open_in (&c, nsfd, ns_path, err) < 0)
    return -1;
  r = link_get (&c, name, &li);
  if (r == -ENODEV)
    return 0;
  if (r < 0)
    return moat_nl_error (err, &c, r, "interface \"%s\" in %s: cannot read the link", name,
                          ns_path);
  return 1;
}

int
moat_link_mac (struct moat_nl *nl, const char *name, unsigned char ret_mac[MOAT_MAC_LEN],
               moat_err_t *err)
{
  struct link_info li;
  int r;

  if (moat_ifname_check ("interface", name, MOAT_E_LINK, err) < 0)
    return -1;
  r = link_get (nl, name, &li);
  if (r < 0)
    return moat_nl_error (err, nl, r, "interface \"%s\": cannot read the link", name);
  if (!li.have_mac)
    return moat_error (err, MOAT_E_LINK, 0, "interface \"%s\": has no MAC address", name);
  memcpy (ret_mac, li.mac, MOAT_MAC_LEN);
  return 0;
}

/* ---- bridge ports ----------------------------------------------------- */

struct port_list
{
  int master;
  char **names; /* NULL-terminated */
  size_t n;
};

static int
on_port (struct nlmsghdr *nlh, void *arg)
{
  struct port_list *l = arg;
  struct link_info li;

  if (parse_link (nlh, &li) < 0 || li.master != l->master || !li.name[0])
    return 0;
  if (moat_strv_push (&l->names, &l->n, li.name) < 0)
    return -ENOMEM;
  return 0;
}

/* Dumps the links whose master is `master` (the kernel filters on
 * IFLA_MASTER; on_port checks again). */
static int
dump_ports (struct moat_nl *c, struct port_list *l)
{
  for (int attempt = 0;; attempt++)
    {
      _cleanup_nl_msg_ struct nl_msg *msg = ifinfo_msg (RTM_GETLINK, NLM_F_DUMP, 0, 0, 0);
      int r;

      if (!msg || nla_put_u32 (msg, IFLA_MASTER, (uint32_t)l->master) < 0
          || nla_put_u32 (msg, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0)
        return -ENOMEM;
      moat_strv_free (l->names);
      l->names = NULL;
      l->n = 0;
      r = moat_nl_talk (c, msg, on_port, l);
      if (r != -EAGAIN || attempt == 3)
        return r;
    }
}

int
moat_bridge_ports (struct moat_nl *nl, const char *bridge, char ***ret_names, moat_err_t *err)
{
  struct port_list l = { 0 };
  struct link_info li;
  int r;

  if (moat_ifname_check ("bridge", bridge, MOAT_E_LINK, err) < 0)
    return -1;
  r = link_get (nl, bridge, &li);
  if (r < 0 && r != -ENODEV)
    return moat_nl_error (err, nl, r, "bridge \"%s\": cannot read the link", bridge);
  if (r == 0)
    {
      l.master = li.index;
      r = dump_ports (nl, &l);
      if (r < 0)
        {
          moat_strv_free (l.names);
          return moat_nl_error (err, nl, r, "bridge \"%s\": cannot list its ports", bridge);
        }
    }
  if (!l.names)
    {
      l.names = calloc (1, sizeof (*l.names));
      if (!l.names)
        return moat_error (err, MOAT_E_LINK, ENOMEM, "bridge \"%s\": cannot list its ports",
                           bridge);
    }
  *ret_names = l.names;
  return 0;
}

/* ---- namespaces ------------------------------------------------------- */

/* Opens CNI_NETNS (a copy of the spec's fd when it holds one). A path that
 * does not exist means the container is gone: MOAT_E_UNKNOWN (CNI code 3). */
static int
netns_open (const struct moat_veth_spec *s, int *ret_fd, moat_err_t *err)
{
  const char *path = s->netns_path;
  _cleanup_close_ int fd = -1;
  int type;

  if (!path || !*path)
    return moat_error (err, MOAT_E_UNKNOWN, 0, "CNI_NETNS: no network namespace given");
  fd = s->have_netns_fd ? fcntl (s->netns_fd, F_DUPFD_CLOEXEC, 0)
                        : open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return moat_error (err, errno == ENOENT ? MOAT_E_UNKNOWN : MOAT_E_LINK, errno,
                       "CNI_NETNS \"%s\"", path);
  type = ioctl (fd, NS_GET_NSTYPE);
  if (type != CLONE_NEWNET)
    return moat_error (err, MOAT_E_UNKNOWN, 0, "CNI_NETNS \"%s\": not a network namespace", path);
  *ret_fd = TAKE_FD (fd);
  return 0;
}

/* ---- veth ------------------------------------------------------------- */

/* One RTM_NEWLINK: the pair, host end enslaved to the bridge, the peer
 * created directly in the namespace under its final name; both down. */
static int
veth_create (struct moat_nl *c, const struct moat_veth_spec *s, int bridge_index, int nsfd,
             const unsigned char host_mac[MOAT_MAC_LEN], const unsigned char peer_mac[MOAT_MAC_LEN])
{
  _cleanup_rtnl_link_ struct rtnl_link *host = rtnl_link_veth_alloc ();
  _cleanup_rtnl_link_ struct rtnl_link *peer = NULL;
  _cleanup_nl_addr_ struct nl_addr *host_ll = nl_addr_build (AF_LLC, host_mac, MOAT_MAC_LEN);
  _cleanup_nl_addr_ struct nl_addr *peer_ll = nl_addr_build (AF_LLC, peer_mac, MOAT_MAC_LEN);
  _cleanup_nl_msg_ struct nl_msg *msg = NULL;
  int r;

  if (!host || !host_ll || !peer_ll)
    return -ENOMEM;
  peer = rtnl_link_veth_get_peer (host); /* takes a reference */
  rtnl_link_set_name (host, s->host_ifname);
  rtnl_link_set_addr (host, host_ll);
  rtnl_link_set_master (host, bridge_index);
  rtnl_link_set_name (peer, s->ifname);
  rtnl_link_set_addr (peer, peer_ll);
  rtnl_link_set_ns_fd (peer, nsfd);
  /* No IFF_UP for the peer here: the kernel opens it before the pair is
   * linked, and veth_open refuses that (ENOTCONN). */
  if (s->mtu)
    {
      rtnl_link_set_mtu (host, s->mtu);
      rtnl_link_set_mtu (peer, s->mtu);
    }
  r = rtnl_link_build_add_request (host, NLM_F_CREATE | NLM_F_EXCL, &msg);
  if (r < 0)
    return nl_to_errno (r);
  return moat_nl_talk (c, msg, NULL, NULL);
}

/* A static FDB entry for the container's MAC on its port: with learning off,
 * frames to the container would otherwise be flooded to every port. */
static int
fdb_add (struct moat_nl *c, int port_index, const unsigned char mac[MOAT_MAC_LEN])
{
  struct ndmsg ndm = {
    .ndm_family = AF_BRIDGE,
    .ndm_ifindex = port_index,
    .ndm_state = NUD_NOARP,
    .ndm_flags = NTF_MASTER,
  };
  _cleanup_nl_msg_ struct nl_msg *msg
      = nlmsg_alloc_simple (RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL);

  if (!msg || nlmsg_append (msg, &ndm, sizeof (ndm), NLMSG_ALIGNTO) < 0
      || nla_put (msg, NDA_LLADDR, MOAT_MAC_LEN, mac) < 0)
    return -ENOMEM;
  return moat_nl_talk (c, msg, NULL, NULL);
}

/* One RTM_NEWLINK on the enslaved, still down host end: bridge port
 * options as slave data (isolated, no learning, no flooding of unknown
 * unicast), and up. The kernel applies slave data before flags
 * (rtnl_changelink, then do_setlink), so the port never forwards
 * unisolated. libnl 3.7 has no IFLA_BRPORT_ISOLATED. */
static int
port_isolate_up (struct moat_nl *c, int index)
{
  _cleanup_nl_msg_ struct nl_msg *msg = ifinfo_msg (RTM_NEWLINK, 0, index, IFF_UP, IFF_UP);
  struct nlattr *info, *data;

  if (!msg || !(info = nla_nest_start (msg, IFLA_LINKINFO))
      || nla_put_string (msg, IFLA_INFO_SLAVE_KIND, "bridge") < 0
      || !(data = nla_nest_start (msg, IFLA_INFO_SLAVE_DATA))
      || nla_put_u8 (msg, IFLA_BRPORT_ISOLATED, 1) < 0
      || nla_put_u8 (msg, IFLA_BRPORT_LEARNING, 0) < 0
      || nla_put_u8 (msg, IFLA_BRPORT_UNICAST_FLOOD, 0) < 0 || nla_nest_end (msg, data) < 0
      || nla_nest_end (msg, info) < 0)
    return -ENOMEM;
  return moat_nl_talk (c, msg, NULL, NULL);
}

/* The default route via `gateway` out of the link `index`. */
static int
default_route_add (struct moat_nl *c, int index, struct in_addr gateway)
{
  struct in_addr any = { 0 };
  _cleanup_ (rtnl_route_putp) struct rtnl_route *route = rtnl_route_alloc ();
  _cleanup_ (rtnl_route_nh_freep) struct rtnl_nexthop *nh = rtnl_route_nh_alloc ();
  _cleanup_nl_addr_ struct nl_addr *dst = nl_addr_build (AF_INET, &any, sizeof (any));
  _cleanup_nl_addr_ struct nl_addr *gw = nl_addr_build (AF_INET, &gateway, sizeof (gateway));
  _cleanup_nl_msg_ struct nl_msg *msg = NULL;
  int r;

  if (!route || !nh || !dst || !gw)
    return -ENOMEM;
  nl_addr_set_prefixlen (dst, 0);
  if (rtnl_route_set_family (route, AF_INET) < 0 || rtnl_route_set_dst (route, dst) < 0)
    return -EINVAL;
  rtnl_route_set_table (route, RT_TABLE_MAIN);
  rtnl_route_set_protocol (route, RTPROT_BOOT);
  rtnl_route_nh_set_gateway (nh, gw);
  rtnl_route_nh_set_ifindex (nh, index);
  rtnl_route_add_nexthop (route, TAKE_PTR (nh)); /* the route owns it now */
  r = rtnl_route_build_add_request (route, NLM_F_CREATE | NLM_F_EXCL, &msg);
  if (r < 0)
    return nl_to_errno (r);
  return moat_nl_talk (c, msg, NULL, NULL);
}

/* The host end is a bridge port, never an IP interface of its own; but a
 * frame to a reserved group MAC (01:80:c2:00:00:0X) is handed up on the
 * port itself. nftables drops its IP (inet moat's raw chain); here the
 * port gets no IPv6 at all (no link-local address, no NDP) and answers no
 * ARP. Written while the port is down. */
static int
host_end_sysctls (const char *host_ifname, moat_err_t *err)
{
  if (moat_nl_sysctl_write ("ipv4/conf", host_ifname, "arp_ignore", "8", err) < 0)
    return -1;
  return ipv6_off (host_ifname, err);
}

/* Host side after creation: static FDB entry, isolation, up. Returns the
 * index of the peer (in the container's namespace). */
static int
configure_host_end (struct moat_nl *c, const struct moat_veth_spec *s,
                    const unsigned char container_mac[MOAT_MAC_LEN], int *ret_peer_index,
                    moat_err_t *err)
{
  struct link_info li;
  char mac[18];
  int r;

  r = link_get (c, s->host_ifname, &li);
  if (r < 0)
    return moat_nl_error (err, c, r, "interface \"%s\": cannot read the new link", s->host_ifname);
  if (li.link <= 0)
    return moat_error (err, MOAT_E_LINK, 0, "interface \"%s\": the kernel did not name its peer",
                       s->host_ifname);
  r = fdb_add (c, li.index, container_mac);
  if (r < 0)
    {
      moat_mac_format (container_mac, mac);
      return moat_nl_error (err, c, r,
                            "bridge \"%s\": cannot add forwarding entry %s on port \"%s\"",
                            s->bridge, mac, s->host_ifname);
    }
  if (host_end_sysctls (s->host_ifname, err) < 0)
    return -1;
  r = port_isolate_up (c, li.index);
  if (r < 0)
    return moat_nl_error (err, c, r, "bridge \"%s\": cannot set port isolation on \"%s\"",
                          s->bridge, s->host_ifname);
  *ret_peer_index = li.link;
  return 0;
}

static int
configure_container_ipv4 (struct moat_nl *c, const struct moat_veth_spec *s, int index,
                          moat_err_t *err)
{
  const char *ns = s->netns_path;
  char a[INET_ADDRSTRLEN];
  int r = addr_add (c, index, s->addr, s->prefixlen);

  if (r < 0)
    return moat_nl_error (err, c, r, "interface \"%s\" in %s: cannot add address %s/%d", s->ifname,
                          ns, ip_str (s->addr, a), s->prefixlen);
  r = default_route_add (c, index, s->gateway);
  /* A second attachment in one namespace leaves the first one's default
   * route alone: its own subnet is reachable through its address. */
  if (r < 0 && r != -EEXIST)
    return moat_nl_error (err, c, r, "interface \"%s\" in %s: cannot add default route via %s",
                          s->ifname, ns, ip_str (s->gateway, a));
  return 0;
}

/* Container side: the interface (created with its MAC and MTU) and `lo`
 * up, the address, the default route. */
static int
configure_container_end (const struct moat_veth_spec *s, int nsfd, int index, moat_err_t *err)
{
  _cleanup_nlconn_ struct moat_nl c = { 0 };
  const char *ns = s->netns_path;
  int r;

  if (moat_nl_open_in (&c, nsfd, ns, err) < 0
      || (s->ipv6 && moat_container_ipv6_sysctls (nsfd, ns, s->ifname, err) < 0))
    return -1;
  r = link_up (&c, index, s->ifname, 0);
  if (r < 0)
    return moat_nl_error (err, &c, r, "interface \"%s\" in %s: cannot set it up", s->ifname, ns);
  r = link_up (&c, 0, "lo", 0);
  if (r < 0)
    return moat_nl_error (err, &c, r, "interface \"lo\" in %s: cannot set it up", ns);
  if (!s->no_ipv4 && configure_container_ipv4 (&c, s, index, err) < 0)
    return -1;
  if (s->ipv6
      && moat_container_ipv6_address (&c, index, s->ifname, ns, &s->addr6, &s->gateway6, err) < 0)
    return -1;
  return 0;
}

static int
check_veth_spec (const struct moat_veth_spec *s, moat_err_t *err)
{
  if (moat_ifname_check ("bridge", s->bridge, MOAT_E_LINK, err) < 0
      || moat_ifname_check ("interface", s->host_ifname, MOAT_E_LINK, err) < 0
      || moat_ifname_check ("CNI_IFNAME", s->ifname, MOAT_E_LINK, err) < 0
      || check_prefixlen ("interface", s->prefixlen, err) < 0)
    return -1;
  return 0;
}

/* Explains an EEXIST from veth_create: which of the two names is taken. */
static int
veth_exists_error (struct moat_nl *c, const struct moat_veth_spec *s, moat_err_t *err)
{
  struct link_info li;

  if (link_get (c, s->host_ifname, &li) == 0)
    return moat_error (err, MOAT_E_LINK, EEXIST, "interface \"%s\"", s->host_ifname);
  return moat_error (err, MOAT_E_LINK, EEXIST,
                     "interface \"%s\" in %s: the namespace already has one (its runtime gave it "
                     "a network, or another attachment uses that name)",
                     s->ifname, s->netns_path);
}

int
moat_veth_attach (struct moat_nl *nl, const struct moat_veth_spec *s, struct moat_veth_result *ret,
                  moat_err_t *err)
{
  _cleanup_close_ int nsfd = -1;
  unsigned char host_mac[MOAT_MAC_LEN], container_mac[MOAT_MAC_LEN];
  struct link_info br;
  int peer_index = 0, r;

  if (check_veth_spec (s, err) < 0 || netns_open (s, &nsfd, err) < 0)
    return -1;
  r = link_get (nl, s->bridge, &br);
  if (r < 0)
    return moat_nl_error (err, nl, r, "bridge \"%s\": cannot read the link", s->bridge);
  if (check_is_bridge (s->bridge, &br, err) < 0 || random_mac (host_mac, err) < 0)
    return -1;
  if (s->have_mac)
    memcpy (container_mac, s->mac, MOAT_MAC_LEN);
  else if (random_mac (container_mac, err) < 0)
    return -1;

  r = veth_create (nl, s, br.index, nsfd, host_mac, container_mac);
  if (r == -EEXIST)
    return veth_exists_error (nl, s, err);
  if (r == -EXFULL) /* BR_MAX_PORTS */
    return moat_error (err, MOAT_E_LINK, 0,
                       "bridge \"%s\": full (a Linux bridge holds at most 1024 ports; spread "
                       "containers over more networks)",
                       s->bridge);
  if (r < 0)
    return moat_nl_error (err, nl, r, "interface \"%s\": cannot create veth pair with \"%s\" in %s",
                          s->host_ifname, s->ifname, s->netns_path);

  if (configure_host_end (nl, s, container_mac, &peer_index, err) < 0
      || configure_container_end (s, nsfd, peer_index, err) < 0)
    {
      link_delete (nl, 0, s->host_ifname); /* takes the peer with it */
      return -1;
    }
  memcpy (ret->host_mac, host_mac, MOAT_MAC_LEN);
  memcpy (ret->container_mac, container_mac, MOAT_MAC_LEN);
  return 0;
}

/* Reads the host end `host_ifname`: 1 and its index when it is a veth, 0
 * when there is no such link, -1 when it is something else. */
static int
host_end_get (struct moat_nl *c, const char *host_ifname, int *ret_index, moat_err_t *err)
{
  struct link_info li;
  int r = link_get (c, host_ifname, &li);

  if (r == -ENODEV)
    return 0;
  if (r < 0)
    return moat_nl_error (err, c, r, "interface \"%s\": cannot read the link", host_ifname);
  if (strcmp (li.kind, "veth") != 0)
    return moat_error (err, MOAT_E_LINK, 0,
                       "interface \"%s\": is a %s, not a veth: not deleting it", host_ifname,
                       li.kind[0] ? li.kind : "device");
  *ret_index = li.index;
  return 1;
}

int
moat_veth_down (struct moat_nl *nl, const char *host_ifname, moat_err_t *err)
{
  _cleanup_nl_msg_ struct nl_msg *msg = NULL;
  int index = 0, r;

  if (moat_ifname_check ("interface", host_ifname, MOAT_E_LINK, err) < 0)
    return -1;
  r = host_end_get (nl, host_ifname, &index, err);
  if (r <= 0)
    return r;
  msg = ifinfo_msg (RTM_NEWLINK, 0, index, 0, IFF_UP);
  if (!msg)
    return moat_error (err, MOAT_E_LINK, ENOMEM, "interface \"%s\"", host_ifname);
  r = moat_nl_talk (nl, msg, NULL, NULL);
  if (r < 0 && r != -ENODEV)
    return moat_nl_error (err, nl, r, "interface \"%s\": cannot set it down", host_ifname);
  return 0;
}

int
moat_veth_detach (struct moat_nl *nl, const char *host_ifname, moat_err_t *err)
{
  int index = 0, r;

  if (moat_ifname_check ("interface", host_ifname, MOAT_E_LINK, err) < 0)
    return -1;
  r = host_end_get (nl, host_ifname, &index, err);
  if (r <= 0)
    return r;
  r = link_delete (nl, index, host_ifname);
  if (r < 0)
    return moat_nl_error (err, nl, r, "interface \"%s\": cannot delete", host_ifname);
  return 0;
}

/* ---- check ------------------------------------------------------------ */

struct addr_query
{
  int index;
  struct in_addr addr;
  int prefixlen;
  bool found;
};

static int
on_addr (struct nlmsghdr *nlh, void *arg)
{
  struct addr_query *q = arg;
  const struct ifaddrmsg *ifa = NLMSG_DATA (nlh);
  struct nlattr *tb[IFA_MAX + 1];

  if (nlh->nlmsg_type != RTM_NEWADDR || nlh->nlmsg_len < NLMSG_LENGTH (sizeof (*ifa))
      || ifa->ifa_family != AF_INET || (int)ifa->ifa_index != q->index
      || ifa->ifa_prefixlen != q->prefixlen
      || nlmsg_parse (nlh, sizeof (*ifa), tb, IFA_MAX, NULL) < 0)
    return 0;
  if (tb[IFA_LOCAL] && nla_len (tb[IFA_LOCAL]) == sizeof (struct in_addr)
      && memcmp (nla_data (tb[IFA_LOCAL]), &q->addr, sizeof (q->addr)) == 0)
    q->found = true;
  return 0;
}

struct route_query
{
  int index;
  struct in_addr gateway;
  struct
  {
    bool found; /* a default route via gateway out of index */
    bool any;   /* any IPv4 default route in the main table */
  } out;
};

static int
on_route (struct nlmsghdr *nlh, void *arg)
{
  struct route_query *q = arg;
  const struct rtmsg *rtm = NLMSG_DATA (nlh);
  struct nlattr *tb[RTA_MAX + 1];
  unsigned table;

  if (nlh->nlmsg_type != RTM_NEWROUTE || nlh->nlmsg_len < NLMSG_LENGTH (sizeof (*rtm))
      || rtm->rtm_family != AF_INET || rtm->rtm_dst_len != 0 || rtm->rtm_type != RTN_UNICAST
      || nlmsg_parse (nlh, sizeof (*rtm), tb, RTA_MAX, NULL) < 0)
    return 0;
  table = tb[RTA_TABLE] && nla_len (tb[RTA_TABLE]) == 4 ? nla_get_u32 (tb[RTA_TABLE])
                                                        : rtm->rtm_table;
  q->out.any |= table == RT_TABLE_MAIN;
  if (table == RT_TABLE_MAIN && tb[RTA_GATEWAY] && tb[RTA_OIF]
      && nla_len (tb[RTA_GATEWAY]) == sizeof (struct in_addr)
      && memcmp (nla_data (tb[RTA_GATEWAY]), &q->gateway, sizeof (q->gateway)) == 0
      && nla_len (tb[RTA_OIF]) == 4 && (int)nla_get_u32 (tb[RTA_OIF]) == q->index)
    q->out.found = true;
  return 0;
}

/* Dumps `type` (RTM_GETADDR or RTM_GETROUTE) of `family`, retrying when a
 * change interrupted the dump; *found is reset before each try. */
int
moat_nl_dump (struct moat_nl *c, int family, int type, nl_reply_fn fn, void *arg, void *result,
              size_t result_len)
{
  for (int attempt = 0;; attempt++)
    {
      _cleanup_nl_msg_ struct nl_msg *msg = nlmsg_alloc_simple (type, NLM_F_DUMP);
      union
      {
        struct ifaddrmsg ifa;
        struct rtmsg rtm;
      } hdr = { 0 };
      int r;

      if (type == RTM_GETADDR)
        hdr.ifa.ifa_family = family;
      else
        hdr.rtm.rtm_family = family;
      if (!msg
          || nlmsg_append (msg, &hdr, type == RTM_GETADDR ? sizeof (hdr.ifa) : sizeof (hdr.rtm),
                           NLMSG_ALIGNTO)
                 < 0)
        return -ENOMEM;
      memset (result, 0, result_len); /* what an interrupted attempt found */
      r = moat_nl_talk (c, msg, fn, arg);
      if (r != -EAGAIN || attempt == 3)
        return r;
    }
}

static int
check_container_ipv4 (struct moat_nl *c, const struct moat_veth_spec *s, int index, moat_err_t *err)
{
  const char *ns = s->netns_path;
  char a[INET_ADDRSTRLEN];
  struct addr_query aq = { .index = index, .addr = s->addr, .prefixlen = s->prefixlen };
  struct route_query rq = { .index = index, .gateway = s->gateway };
  int r = moat_nl_dump (c, AF_INET, RTM_GETADDR, on_addr, &aq, &aq.found, sizeof (aq.found));

  if (r < 0)
    return moat_nl_error (err, c, r, "%s: cannot list addresses", ns);
  if (!aq.found)
    return moat_error (err, MOAT_E_DRIFT, 0, "interface \"%s\" in %s: address %s/%d missing",
                       s->ifname, ns, ip_str (s->addr, a), s->prefixlen);
  r = moat_nl_dump (c, AF_INET, RTM_GETROUTE, on_route, &rq, &rq.out, sizeof (rq.out));
  if (r < 0)
    return moat_nl_error (err, c, r, "%s: cannot list routes", ns);
  if (!rq.out.found && !rq.out.any) /* another attachment may hold the default route */
    return moat_error (err, MOAT_E_DRIFT, 0, "interface \"%s\" in %s: default route via %s missing",
                       s->ifname, ns, ip_str (s->gateway, a));
  return 0;
}

static int
check_container_end (const struct moat_veth_spec *s, moat_err_t *err)
{
  _cleanup_nlconn_ struct moat_nl c = { 0 };
  _cleanup_close_ int nsfd = -1;
  const char *ns = s->netns_path;
  struct link_info li;
  int r;

  if (netns_open (s, &nsfd, err) < 0 || moat_nl_open_in (&c, nsfd, ns, err) < 0)
    return -1;
  r = link_get (&c, s->ifname, &li);
  if (r == -ENODEV)
    return moat_error (err, MOAT_E_DRIFT, 0, "interface \"%s\" in %s: missing", s->ifname, ns);
  if (r < 0)
    return moat_nl_error (err, &c, r, "interface \"%s\" in %s: cannot read the link", s->ifname,
                          ns);
  if (strcmp (li.kind, "veth") != 0)
    return moat_error (err, MOAT_E_DRIFT, 0, "interface \"%s\" in %s: is a %s, not a veth",
                       s->ifname, ns, li.kind[0] ? li.kind : "device");
  if (!(li.flags & IFF_UP))
    return moat_error (err, MOAT_E_DRIFT, 0, "interface \"%s\" in %s: is down", s->ifname, ns);

  if (!s->no_ipv4 && check_container_ipv4 (&c, s, li.index, err) < 0)
    return -1;
  if (s->ipv6
      && moat_container_ipv6_check (&c, li.index, s->ifname, ns, &s->addr6, &s->gateway6, err) < 0)
    return -1;
  return 0;
}

static int
check_host_end (struct moat_nl *nl, const struct moat_veth_spec *s, moat_err_t *err)
{
  struct link_info port, br;
  int r;

  r = link_get (nl, s->host_ifname, &port);
  if (r == -ENODEV)
    return moat_error (err, MOAT_E_DRIFT, 0, "interface \"%s\" on the host: missing",
                       s->host_ifname);
  if (r < 0)
    return moat_nl_error (err, nl, r, "interface \"%s\": cannot read the link", s->host_ifname);
  r = link_get (nl, s->bridge, &br);
  if (r == -ENODEV)
    return moat_error (err, MOAT_E_DRIFT, 0, "bridge \"%s\": missing", s->bridge);
  if (r < 0)
    return moat_nl_error (err, nl, r, "bridge \"%s\": cannot read the link", s->bridge);
  if (port.master != br.index)
    return moat_error (err, MOAT_E_DRIFT, 0,
                       "interface \"%s\" on the host: not attached to bridge \"%s\"",
                       s->host_ifname, s->bridge);
  if (port.isolated != 1)
    return moat_error (err, MOAT_E_DRIFT, 0,
                       "interface \"%s\" on the host: port isolation is off on bridge \"%s\"",
                       s->host_ifname, s->bridge);
  return 0;
}

int
moat_veth_check (struct moat_nl *nl, const struct moat_veth_spec *s, moat_err_t *err)
{
  if (check_veth_spec (s, err) < 0 || check_container_end (s, err) < 0
      || check_host_end (nl, s, err) < 0)
    return -1;
  return 0;
}
