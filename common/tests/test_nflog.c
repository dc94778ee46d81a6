/* SPDX-License-Identifier: Apache-2.0 */
/* kernel/nflog.h's parser: nfnetlink_log packet messages, laid out as the
 * kernel sends them (nfgenmsg, then NFULA_* attributes), into flows. */
#include <setjmp.h>
#include <stdbool.h>
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
  if (l4_len)
    memcpy (p + hl, l4, l4_len);
  return hl + l4_len;
}

/* An IPv6 header, `ext` (extension headers, `ext_len` bytes, the first
 * one's type `nh`) and `l4` after it. */
static size_t
ipv6 (uint8_t *p, uint8_t nh, const uint8_t *ext, size_t ext_len, const char *src, const char *dst,
      const uint8_t *l4, size_t l4_len)
{
  memset (p, 0, 40);
  p[0] = 0x60;
  p[4] = (uint8_t)((ext_len + l4_len) >> 8);
  p[5] = (uint8_t)(ext_len + l4_len);
  p[6] = nh;
  p[7] = 64;
  inet_pton (AF_INET6, src, p + 8);
  inet_pton (AF_INET6, dst, p + 24);
  if (ext_len)
    memcpy (p + 40, ext, ext_len);
  if (l4_len)
    memcpy (p + 40 + ext_len, l4, l4_len);
  return 40 + ext_len + l4_len;
}

static bool
addr6_is (const struct in6_addr *a, const char *text)
{
  struct in6_addr b;

  return inet_pton (AF_INET6, text, &b) == 1 && memcmp (a, &b, sizeof (b)) == 0;
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
  assert_int_equal (moat_nflog_parse (buf, message (AF_BRIDGE, PACKET, pkt, len), &f), 0);
}

static void
ipv6_tcp_syn (void **state)
{
  static const uint8_t tcp[20] = { 0xc0, 0x01, 0x15, 0x38, [12] = 0x50, [13] = 0x02 };
  uint8_t pkt[128];
  struct moat_nflog_flow f;
  size_t len = ipv6 (pkt, IPPROTO_TCP, NULL, 0, "fd00:1::2", "fd00:1::3", tcp, sizeof (tcp));

  assert_int_equal (moat_nflog_parse (buf, message (AF_INET6, PACKET, pkt, len), &f), 1);
  assert_int_equal (f.group, 6177);
  assert_int_equal (f.family, AF_INET6);
  assert_int_equal (f.proto, IPPROTO_TCP);
  assert_true (f.ports);
  assert_int_equal (f.sport, 49153);
  assert_int_equal (f.dport, 5432);
  assert_true (addr6_is (&f.saddr6, "fd00:1::2"));
  assert_true (addr6_is (&f.daddr6, "fd00:1::3"));
}

static void
icmpv6_echo (void **state)
{
  static const uint8_t icmp[8] = { 128, 0 };
  uint8_t pkt[128];
  struct moat_nflog_flow f;
  size_t len = ipv6 (pkt, IPPROTO_ICMPV6, NULL, 0, "fd00:1::2", "fd00:1::3", icmp, sizeof (icmp));

  assert_int_equal (moat_nflog_parse (buf, message (AF_INET6, PACKET, pkt, len), &f), 1);
  assert_int_equal (f.proto, IPPROTO_ICMPV6);
  assert_true (f.icmp);
  assert_false (f.ports);
  assert_int_equal (f.icmp_type, 128);
}

/* Hop-by-hop options (16 bytes) and a first fragment's header before the
 * datagram: skipped to its ports. */
static void
ipv6_extension_headers (void **state)
{
  static const uint8_t ext[24] = { IPPROTO_FRAGMENT, 1, [16] = IPPROTO_UDP, [19] = 1 };
  static const uint8_t udp[8] = { 0x30, 0x39, 0x00, 0x35 };
  uint8_t pkt[128];
  struct moat_nflog_flow f;
  size_t len = ipv6 (pkt, IPPROTO_HOPOPTS, ext, sizeof (ext), "fd00:1::2", "2001:db8::1", udp,
                     sizeof (udp));

  assert_int_equal (moat_nflog_parse (buf, message (AF_INET6, PACKET, pkt, len), &f), 1);
  assert_int_equal (f.proto, IPPROTO_UDP);
  assert_true (f.ports);
  assert_int_equal (f.sport, 12345);
  assert_int_equal (f.dport, 53);
}

/* A later fragment (offset 8): the protocol, no ports. Headers cut short
 * (a copy range reached): no ports either. */
static void
ipv6_later_fragment_or_cut_short (void **state)
{
  static const uint8_t frag[8] = { IPPROTO_UDP, 0, 0x00, 0x08 };
  static const uint8_t dstopts[8] = { IPPROTO_TCP, 4 }; /* says 40 bytes, has 8 */
  static const uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
  uint8_t pkt[128];
  struct moat_nflog_flow f;
  size_t len = ipv6 (pkt, IPPROTO_FRAGMENT, frag, sizeof (frag), "fd00:1::2", "fd00:1::3", data,
                     sizeof (data));

  assert_int_equal (moat_nflog_parse (buf, message (AF_INET6, PACKET, pkt, len), &f), 1);
  assert_int_equal (f.proto, IPPROTO_UDP);
  assert_false (f.ports);
  assert_int_equal (f.dport, 0);
  len = ipv6 (pkt, IPPROTO_DSTOPTS, dstopts, sizeof (dstopts), "fd00:1::2", "fd00:1::3", NULL, 0);
  assert_int_equal (moat_nflog_parse (buf, message (AF_INET6, PACKET, pkt, len), &f), 1);
  assert_false (f.ports);
  assert_false (f.icmp);
  len = ipv6 (pkt, IPPROTO_HOPOPTS, NULL, 0, "fd00:1::2", "fd00:1::3", data, 4);
  assert_int_equal (moat_nflog_parse (buf, message (AF_INET6, PACKET, pkt, len), &f), 1);
  assert_false (f.ports);
}

/* An IPv6 message whose payload is no IPv6 header, or shorter than one. */
static void
ipv6_malformed (void **state)
{
  static const uint8_t udp[4] = { 0, 1, 0, 2 };
  uint8_t pkt[128];
  struct moat_nflog_flow f;
  size_t len = ipv4 (pkt, 5, IPPROTO_UDP, 0, "10.1.0.2", "10.1.0.3", udp, sizeof (udp));

  assert_int_equal (moat_nflog_parse (buf, message (AF_INET6, PACKET, pkt, len), &f), -1);
  len = ipv6 (pkt, IPPROTO_UDP, NULL, 0, "fd00:1::2", "fd00:1::3", udp, sizeof (udp));
  assert_int_equal (moat_nflog_parse (buf, message (AF_INET6, PACKET, pkt, 39), &f), -1);
  assert_int_equal (moat_nflog_parse (buf, message (AF_INET, PACKET, pkt, len), &f), -1);
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
    cmocka_unit_test (tcp_syn),
    cmocka_unit_test (udp_with_options_cut_short),
    cmocka_unit_test (icmp_echo),
    cmocka_unit_test (later_fragment),
    cmocka_unit_test (transport_cut_off),
    cmocka_unit_test (not_a_packet_or_not_ipv4),
    cmocka_unit_test (malformed),
    cmocka_unit_test (ipv6_tcp_syn),
    cmocka_unit_test (icmpv6_echo),
    cmocka_unit_test (ipv6_extension_headers),
    cmocka_unit_test (ipv6_later_fragment_or_cut_short),
    cmocka_unit_test (ipv6_malformed),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
