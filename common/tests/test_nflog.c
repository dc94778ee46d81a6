/* SPDX-License-Identifier: Apache-2.0 */
/* kernel/nflog.h's parser: nfnetlink_log packet messages, laid out as the
 * kernel sends them (nfgenmsg, then NFULA_* attributes), into flows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <netinet/in.h>

#include "kernel/nflog.h"

static char buf[8192];

/* An IPv4 header (no options unless `ihl` > 5) and `l4` after it. */
static size_t
ipv4 (uint8_t *p, uint8_t ihl, uint8_t proto, uint16_t frag, const char *src, const char *dst,
      const uint8_t *l4, size_t l4_len)
{
  size_t hl = (size_t)ihl * 4;

  memset (p, 0, hl);
  p[0] = (uint8_t)(0x40 | ihl);
  p[6] = (uint8_t)(frag >> 8);
  p[7] = (uint8_t)frag;
  p[8] = 64;
  p[9] = proto;
  inet_pton (AF_INET, src, p + 12);
  inet_pton (AF_INET, dst, p + 16);
  memcpy (p + hl, l4, l4_len);
  return hl + l4_len;
}

/* A packet message of group 6177 carrying `pkt` (NULL: no payload). */
static size_t
message (uint8_t family, uint16_t type, const void *pkt, size_t len)
{
  struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);
  struct nfgenmsg *nfg;
  struct nfulnl_msg_packet_hdr ph = { .hw_protocol = htons (0x0800), .hook = 2 };

  nlh->nlmsg_type = type;
  nfg = mnl_nlmsg_put_extra_header (nlh, sizeof (*nfg));
  nfg->nfgen_family = family;
  nfg->res_id = htons (6177);
  mnl_attr_put (nlh, NFULA_PACKET_HDR, sizeof (ph), &ph);
  mnl_attr_put_str (nlh, NFULA_PREFIX, "");
  if (pkt)
    mnl_attr_put (nlh, NFULA_PAYLOAD, len, pkt);
  return nlh->nlmsg_len;
}

#define PACKET (NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET)

static void
tcp_syn (void **state)
{
  static const uint8_t tcp[20] = { 0xc0, 0x01, 0x15, 0x38, [12] = 0x50, [13] = 0x02 };
  uint8_t pkt[60];
  struct moat_nflog_flow f;
  size_t len = ipv4 (pkt, 5, IPPROTO_TCP, 0x4000, "10.1.0.2", "10.1.0.3", tcp, sizeof (tcp));

  assert_int_equal (moat_nflog_parse (buf, message (AF_INET, PACKET, pkt, len), &f), 1);
  assert_int_equal (f.group, 6177);
  assert_int_equal (f.proto, IPPROTO_TCP);
  assert_true (f.ports);
  assert_false (f.icmp);
  assert_int_equal (f.sport, 49153);
  assert_int_equal (f.dport, 5432);
  assert_int_equal (f.saddr.s_addr, inet_addr ("10.1.0.2"));
  assert_int_equal (f.daddr.s_addr, inet_addr ("10.1.0.3"));
}

/* Cut short at the copy range: the ports are still there. */
static void
udp_with_options_cut_short (void **state)
{
  static const uint8_t udp[4] = { 0x30, 0x39, 0x00, 0x35 };
  uint8_t pkt[60];
  struct moat_nflog_flow f;
  size_t len = ipv4 (pkt, 7, IPPROTO_UDP, 0, "10.1.0.2", "192.0.2.1", udp, sizeof (udp));

  assert_int_equal (moat_nflog_parse (buf, message (AF_INET, PACKET, pkt, len), &f), 1);
  assert_true (f.ports);
  assert_int_equal (f.sport, 12345);
  assert_int_equal (f.dport, 53);
}

static void
icmp_echo (void **state)
{
  static const uint8_t icmp[8] = { 8, 0 };
  uint8_t pkt[60];
  struct moat_nflog_flow f;
  size_t len = ipv4 (pkt, 5, IPPROTO_ICMP, 0, "10.1.0.2", "10.1.0.3", icmp, sizeof (icmp));

  assert_int_equal (moat_nflog_parse (buf, message (AF_INET, PACKET, pkt, len), &f), 1);
  assert_true (f.icmp);
  assert_false (f.ports);
  assert_int_equal (f.icmp_type, 8);
}

/* A later fragment has no transport header: no ports, no ICMP type. */
static void
later_fragment (void **state)
{
  static const uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
  uint8_t pkt[60];
  struct moat_nflog_flow f;
  size_t len = ipv4 (pkt, 5, IPPROTO_UDP, 0x00b9, "10.1.0.2", "10.1.0.3", data, sizeof (data));

  assert_int_equal (moat_nflog_parse (buf, message (AF_INET, PACKET, pkt, len), &f), 1);
  assert_false (f.ports);
  assert_int_equal (f.dport, 0);
}

/* Too short for its ports: the addresses, no ports. */
static void
transport_cut_off (void **state)
{
  static const uint8_t tcp[2] = { 0xc0, 0x01 };
  uint8_t pkt[60];
  struct moat_nflog_flow f;
  size_t len = ipv4 (pkt, 5, IPPROTO_TCP, 0, "10.1.0.2", "10.1.0.3", tcp, sizeof (tcp));

  assert_int_equal (moat_nflog_parse (buf, message (AF_INET, PACKET, pkt, len), &f), 1);
  assert_false (f.ports);
  assert_int_equal (f.saddr.s_addr, inet_addr ("10.1.0.2"));
}

static void
not_a_packet_or_not_ipv4 (void **state)
{
  static const uint8_t udp[4] = { 0, 1, 0, 2 };
  uint8_t pkt[60];
  struct moat_nflog_flow f;
  size_t len = ipv4 (pkt, 5, IPPROTO_UDP, 0, "10.1.0.2", "10.1.0.3", udp, sizeof (udp));

  assert_int_equal (
      moat_nflog_parse (buf, message (AF_INET, NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_CONFIG, pkt, len),
                        &f),
      0);
  assert_int_equal (moat_nflog_parse (buf, message (AF_INET6, PACKET, pkt, len), &f), 0);
}

static void
malformed (void **state)
{
  static const uint8_t udp[4] = { 0, 1, 0, 2 };
  uint8_t pkt[60];
  struct moat_nflog_flow f;
  size_t len = ipv4 (pkt, 5, IPPROTO_UDP, 0, "10.1.0.2", "10.1.0.3", udp, sizeof (udp));
  size_t n;

  /* No payload; a payload that is no IPv4 header; one whose header
   * length passes its end; a message longer than what was read; an
   * attribute longer than its message. */
  assert_int_equal (moat_nflog_parse (buf, message (AF_INET, PACKET, NULL, 0), &f), -1);
  pkt[0] = 0x65;
  assert_int_equal (moat_nflog_parse (buf, message (AF_INET, PACKET, pkt, len), &f), -1);
  pkt[0] = 0x4f;
  assert_int_equal (moat_nflog_parse (buf, message (AF_INET, PACKET, pkt, len), &f), -1);
  pkt[0] = 0x45;
  n = message (AF_INET, PACKET, pkt, len);
  assert_int_equal (moat_nflog_parse (buf, n - 1, &f), -1);
  assert_int_equal (moat_nflog_parse (buf, 3, &f), -1);
  ((struct nlmsghdr *)buf)->nlmsg_len -= 8;
  assert_int_equal (moat_nflog_parse (buf, n, &f), -1);
  /* A length of 2^31 or more, which libmnl's int comparison lets pass. */
  n = message (AF_INET, PACKET, pkt, len);
  ((struct nlmsghdr *)buf)->nlmsg_len = 0x80000000u;
  assert_int_equal (moat_nflog_parse (buf, n, &f), -1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (tcp_syn),           cmocka_unit_test (udp_with_options_cut_short),
    cmocka_unit_test (icmp_echo),         cmocka_unit_test (later_fragment),
    cmocka_unit_test (transport_cut_off), cmocka_unit_test (not_a_packet_or_not_ipv4),
    cmocka_unit_test (malformed),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
