/* SPDX-License-Identifier: Apache-2.0 */
/* nfnetlink_log through libmnl: binding a group, and its packet messages
 * read back as flows (kernel/nflog.h). */
#include "kernel/nflog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "base/cleanup.h"
#include "kernel/nfnl.h"

/* --- parsing ------------------------------------------------------------------------- */

static bool
has_ports (uint8_t proto)
{
  return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE
         || proto == IPPROTO_SCTP;
}

/* The transport header's first bytes (`l4_len` of them) into *ret. */
static void
read_transport (const uint8_t *l4, size_t l4_len, uint8_t icmp_proto, struct moat_nflog_flow *ret)
{
  if (has_ports (ret->proto) && l4_len >= 4)
    {
      ret->ports = true;
      ret->sport = (uint16_t)(l4[0] << 8 | l4[1]);
      ret->dport = (uint16_t)(l4[2] << 8 | l4[3]);
    }
  else if (ret->proto == icmp_proto && l4_len >= 2)
    {
      ret->icmp = true;
      ret->icmp_type = l4[0];
      ret->icmp_code = l4[1];
    }
}

static void
clear_transport (struct moat_nflog_flow *ret)
{
  ret->ports = ret->icmp = false;
  ret->sport = ret->dport = 0;
  ret->icmp_type = ret->icmp_code = 0;
}

int
moat_nflog_parse_ipv4 (const uint8_t *pkt, size_t len, struct moat_nflog_flow *ret)
{
  size_t ihl;
  uint16_t frag;
  const uint8_t *l4;
  size_t l4_len;

  if (len < 20 || (pkt[0] >> 4) != 4)
    return -1;
  ihl = (size_t)(pkt[0] & 0x0f) * 4;
  if (ihl < 20 || ihl > len)
    return -1;
  ret->family = AF_INET;
  ret->proto = pkt[9];
  memcpy (&ret->saddr.s_addr, pkt + 12, 4);
  memcpy (&ret->daddr.s_addr, pkt + 16, 4);
  clear_transport (ret);
  frag = (uint16_t)((pkt[6] << 8 | pkt[7]) & 0x1fff);
  if (frag != 0) /* a later fragment: no transport header */
    return 0;
  l4 = pkt + ihl;
  l4_len = len - ihl;
  read_transport (l4, l4_len, IPPROTO_ICMP, ret);
  return 0;
}

static bool
is_extension_header (uint8_t nh)
{
  return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_FRAGMENT
         || nh == IPPROTO_DSTOPTS || nh == IPPROTO_AH;
}

int
moat_nflog_parse_ipv6 (const uint8_t *pkt, size_t len, struct moat_nflog_flow *ret)
{
  size_t off = 40;
  uint8_t nh;

  if (len < 40 || (pkt[0] >> 4) != 6)
    return -1;
  ret->family = AF_INET6;
  memcpy (&ret->saddr6, pkt + 8, 16);
  memcpy (&ret->daddr6, pkt + 24, 16);
  clear_transport (ret);
  nh = pkt[6];
  /* Each extension header grows `off` by 8 at least: the walk ends. */
  while (is_extension_header (nh))
    {
      size_t hl;

      if (len - off < 8) /* cut short: the transport is not there */
        {
          ret->proto = nh;
          return 0;
        }
      if (nh == IPPROTO_FRAGMENT)
        {
          if (((pkt[off + 2] << 8 | pkt[off + 3]) & 0xfff8) != 0)
            {
              ret->proto = pkt[off]; /* a later fragment: no transport header */
              return 0;
            }
          hl = 8;
        }
      else if (nh == IPPROTO_AH)
        hl = ((size_t)pkt[off + 1] + 2) * 4;
      else
        hl = ((size_t)pkt[off + 1] + 1) * 8;
      nh = pkt[off];
      if (hl > len - off)
        {
          ret->proto = nh;
          return 0;
        }
      off += hl;
    }
  ret->proto = nh;
  read_transport (pkt + off, len - off, IPPROTO_ICMPV6, ret);
  return 0;
}

struct packet_attrs
{
  const struct nlattr *payload;
};

static int
on_attr (const struct nlattr *a, void *data)
{
  struct packet_attrs *p = data;

  if (mnl_attr_get_type (a) == NFULA_PAYLOAD)
    p->payload = a;
  return MNL_CB_OK;
}

int
moat_nflog_parse (const void *buf, size_t len, struct moat_nflog_flow *ret)
{
  const struct nlmsghdr *nlh = buf;
  const struct nfgenmsg *nfg;
  struct packet_attrs attrs = { NULL };

  /* mnl_nlmsg_ok compares the length as an int: one of 2^31 or more
   * would pass it, so the unsigned comparison too. */
  if (!mnl_nlmsg_ok (nlh, (int)(len > INT32_MAX ? INT32_MAX : len)) || nlh->nlmsg_len > len
      || nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN (sizeof (*nfg)))
    return -1;
  if (nlh->nlmsg_type != (NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET))
    return 0;
  nfg = mnl_nlmsg_get_payload (nlh);
  if (nfg->nfgen_family != AF_INET && nfg->nfgen_family != AF_INET6)
    return 0;
  /* mnl_attr_parse checks each attribute's length against the message. */
  if (mnl_attr_parse (nlh, sizeof (*nfg), on_attr, &attrs) < 0 || !attrs.payload)
    return -1;
  memset (ret, 0, sizeof (*ret));
  ret->group = ntohs (nfg->res_id);
  if ((nfg->nfgen_family == AF_INET ? moat_nflog_parse_ipv4 : moat_nflog_parse_ipv6) (
          mnl_attr_get_payload (attrs.payload), mnl_attr_get_payload_len (attrs.payload), ret)
      < 0)
    return -1;
  return 1;
}

/* --- the socket ---------------------------------------------------------------------- */

/* One NFULNL_MSG_CONFIG for `group`, acked. */
static int
config (struct mnl_socket *nl, uint16_t group, uint16_t attr, const void *data, size_t size,
        uint32_t seq)
{
  char buf[8192] = { 0 }; /* libmnl leaves attribute padding as it finds it */
  struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);
  struct nfgenmsg *nfg;
  enum moat_nfnl_failure failed;

  nlh->nlmsg_type = NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_CONFIG;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = seq;
  nfg = mnl_nlmsg_put_extra_header (nlh, sizeof (*nfg));
  nfg->nfgen_family = AF_UNSPEC;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = htons (group);
  mnl_attr_put (nlh, attr, size, data);
  return moat_nfnl_talk (nl, nlh, buf, sizeof (buf), NULL, NULL, NULL, &failed);
}

int
moat_nflog_open (uint16_t group, unsigned timeout_ms, struct mnl_socket **ret, moat_err_t *err)
{
  _cleanup_ (mnl_socket_closep) struct mnl_socket *nl = NULL;
  struct nfulnl_msg_config_cmd bind = { .command = NFULNL_CFG_CMD_BIND };
  struct nfulnl_msg_config_mode mode = {
    .copy_range = htonl (MOAT_NFLOG_COPY),
    .copy_mode = NFULNL_COPY_PACKET,
  };
  struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
  int rcvbuf = 1 << 20;
  uint32_t one = htonl (1);

  if (moat_nfnl_open (&nl, "NFLOG", err) < 0)
    return -1;
  if (config (nl, group, NFULA_CFG_CMD, &bind, sizeof (bind), 1) < 0)
    return moat_error (err, MOAT_E_NFT, errno,
                       errno == EPERM || errno == EBUSY
                           ? "NFLOG group %u: another listener has it (another "
                             "moatctl watch?)"
                           : "NFLOG group %u: cannot bind (is nfnetlink_log there?)",
                       group);
  if (config (nl, group, NFULA_CFG_MODE, &mode, sizeof (mode), 2) < 0)
    return moat_error (err, MOAT_E_NFT, errno, "NFLOG group %u: cannot set the copy mode", group);
  /* Each packet as it comes: the kernel's default holds up to 100 of them
   * for up to a second. */
  if (config (nl, group, NFULA_CFG_QTHRESH, &one, sizeof (one), 3) < 0)
    return moat_error (err, MOAT_E_NFT, errno, "NFLOG group %u: cannot set the queue threshold",
                       group);
  /* Bursts of refusals wait in a larger buffer; what still overflows is
   * reported as lost (ENOBUFS) by the reader. */
  (void)setsockopt (mnl_socket_get_fd (nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof (rcvbuf));
  if (timeout_ms
      && setsockopt (mnl_socket_get_fd (nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof (tv)) < 0)
    return moat_error (err, MOAT_E_NFT, errno, "NFLOG group %u: cannot set a read timeout", group);
  *ret = TAKE_PTR (nl);
  return 0;
}
