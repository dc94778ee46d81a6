/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl watch's parser of nfnetlink_log messages (kernel/nflog.h): the
 * input as one netlink message as read from the socket, and as the packet
 * a well-formed message carries. */
#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <netinet/in.h>

#include "fuzz.h"
#include "kernel/nflog.h"

static void
check_flow (const struct moat_nflog_flow *f)
{
  FUZZ_CHECK (!(f->ports && f->icmp));
  FUZZ_CHECK (!f->ports || f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP
              || f->proto == IPPROTO_UDPLITE || f->proto == IPPROTO_SCTP);
  FUZZ_CHECK (f->family == AF_INET || f->family == AF_INET6);
  FUZZ_CHECK (!f->icmp || f->proto == (f->family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP));
  FUZZ_CHECK (f->ports || (f->sport == 0 && f->dport == 0));
}

/* The input as it came off the socket: any bytes, aligned as a read
 * buffer is. */
static void
check_raw (const uint8_t *data, size_t size)
{
  uint32_t *copy = malloc (size + 4);
  struct moat_nflog_flow f;
  int r;

  FUZZ_CHECK (copy != NULL);
  memcpy (copy, data, size);
  r = moat_nflog_parse (copy, size, &f);
  FUZZ_CHECK (r >= -1 && r <= 1);
  if (r == 1)
    check_flow (&f);
  free (copy);
}

/* The input as the payload of a packet message the kernel would send
 * for `family`: the parse must say what parsing the payload alone says. */
static void
check_wrapped (const uint8_t *data, size_t size, uint8_t family)
{
  static uint32_t buf[(8192 + 64) / 4];
  struct nlmsghdr *nlh;
  struct nfgenmsg *nfg;
  struct moat_nflog_flow f, direct;
  int r, rd;

  if (size > 8192)
    return;
  nlh = mnl_nlmsg_put_header (buf);
  nlh->nlmsg_type = NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET;
  nfg = mnl_nlmsg_put_extra_header (nlh, sizeof (*nfg));
  nfg->nfgen_family = family;
  nfg->res_id = htons (6177);
  mnl_attr_put (nlh, NFULA_PAYLOAD, size, data);
  r = moat_nflog_parse (buf, nlh->nlmsg_len, &f);
  memset (&direct, 0, sizeof (direct));
  rd = family == AF_INET ? moat_nflog_parse_ipv4 (data, size, &direct)
                        : moat_nflog_parse_ipv6 (data, size, &direct);
  FUZZ_CHECK ((r == 1) == (rd == 0));
  if (r != 1)
    return;
  check_flow (&f);
  FUZZ_CHECK (f.group == 6177);
  FUZZ_CHECK (f.family == family);
  FUZZ_CHECK (f.saddr.s_addr == direct.saddr.s_addr && f.daddr.s_addr == direct.daddr.s_addr);
  FUZZ_CHECK (memcmp (&f.saddr6, &direct.saddr6, sizeof (f.saddr6)) == 0
              && memcmp (&f.daddr6, &direct.daddr6, sizeof (f.daddr6)) == 0);
  FUZZ_CHECK (f.proto == direct.proto && f.ports == direct.ports && f.dport == direct.dport);
  FUZZ_CHECK (f.icmp == direct.icmp && f.icmp_type == direct.icmp_type);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  check_raw (data, size);
  check_wrapped (data, size, AF_INET);
  check_wrapped (data, size, AF_INET6);
  return 0;
}
