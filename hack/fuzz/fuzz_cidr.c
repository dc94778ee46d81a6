/* SPDX-License-Identifier: Apache-2.0 */
/* The small string parsers shared by the plugin, the hook and moatctl:
 * CIDR, IPv4 address, IPv6 CIDR and address, interface name, container
 * ID, MAC address. */
#include <arpa/inet.h>
#include <net/if.h>

#include "base/ifname.h"
#include "base/ip6.h"
#include "base/cleanup.h"
#include "model/annot.h"
#include "model/config.h"
#include "fuzz.h"
#include "state/names.h"
#include "kernel/netlink.h"
#include "state/state.h"

static void
check_cidr (const char *s)
{
  struct in_addr addr, again;
  char buf[INET_ADDRSTRLEN + 4];
  int prefixlen = -1, prefixlen_again = -1;

  if (moat_parse_cidr (s, &addr, &prefixlen) < 0)
    return;
  FUZZ_CHECK (prefixlen >= 0 && prefixlen <= 32);
  FUZZ_CHECK (strchr (s, '/') != NULL);
  (void)moat_prefix_mask (prefixlen);
  FUZZ_CHECK (inet_ntop (AF_INET, &addr, buf, INET_ADDRSTRLEN) != NULL);
  snprintf (buf + strlen (buf), sizeof (buf) - strlen (buf), "/%d", prefixlen);
  FUZZ_CHECK (moat_parse_cidr (buf, &again, &prefixlen_again) == 0);
  FUZZ_CHECK (again.s_addr == addr.s_addr && prefixlen_again == prefixlen);
}

static void
check_ipv4 (const char *s)
{
  struct in_addr addr, again;
  char buf[INET_ADDRSTRLEN];

  if (moat_parse_ipv4 (s, &addr) < 0)
    return;
  FUZZ_CHECK (inet_ntop (AF_INET, &addr, buf, sizeof (buf)) != NULL);
  FUZZ_CHECK (moat_parse_ipv4 (buf, &again) == 0 && again.s_addr == addr.s_addr);
}

static void
check_cidr6 (const char *s)
{
  struct in6_addr addr, again, p;
  char buf[INET6_ADDRSTRLEN + 5];
  int prefixlen = -1, prefixlen_again = -1;

  if (moat_parse_ipv6 (s, &addr) == 0)
    FUZZ_CHECK (moat_parse_ipv6 (moat_ipv6_text (&addr, buf), &again) == 0
                && memcmp (&addr, &again, sizeof (addr)) == 0);
  if (moat_parse_cidr6 (s, &addr, &prefixlen) < 0)
    return;
  FUZZ_CHECK (prefixlen >= 0 && prefixlen <= 128 && strchr (s, '/') != NULL);
  moat_ipv6_text (&addr, buf);
  snprintf (buf + strlen (buf), sizeof (buf) - strlen (buf), "/%d", prefixlen);
  FUZZ_CHECK (moat_parse_cidr6 (buf, &again, &prefixlen_again) == 0);
  FUZZ_CHECK (memcmp (&addr, &again, sizeof (addr)) == 0 && prefixlen_again == prefixlen);
  /* The prefix lies in itself and in every shorter prefix of the address. */
  p = moat_ipv6_prefix (&addr, prefixlen);
  FUZZ_CHECK (moat_ipv6_in_prefix (&addr, &p, prefixlen));
  again = moat_ipv6_with_host64 (&addr, moat_ipv6_host64 (&addr));
  FUZZ_CHECK (memcmp (&addr, &again, sizeof (addr)) == 0);
}

/* An ACL's address (model/annot.h), either family: its text parses back
 * to it, and it overlaps itself only within its family. */
static void
check_acl_addr (const char *s)
{
  struct moat_acl a, again, other;
  char buf[INET6_ADDRSTRLEN + 5], why[160];
  const char *all;
  int r = moat_acl_addr_parse (s, strlen (s), &a, why, sizeof (why));

  if (r == -2)
    FUZZ_CHECK (why[0] && !strchr (why, '\n'));
  if (r < 0)
    return;
  FUZZ_CHECK (a.prefixlen >= 0 && a.prefixlen <= (a.v6 ? 128 : 32));
  moat_acl_addr_format (&a, buf, sizeof (buf));
  FUZZ_CHECK (moat_acl_addr_parse (buf, strlen (buf), &again, why, sizeof (why)) == 0);
  FUZZ_CHECK (moat_acl_addr_equal (&a, &again) && moat_acl_addr_overlaps (&a, &again));
  all = a.v6 ? "0.0.0.0/0" : "::/0"; /* the other family */
  FUZZ_CHECK (moat_acl_addr_parse (all, strlen (all), &other, why, sizeof (why)) == 0);
  FUZZ_CHECK (!moat_acl_addr_overlaps (&a, &other));
}

static void
check_names (const char *s)
{
  char key[512], host_if[16];

  if (moat_ifname_valid (s))
    {
      size_t n = strlen (s);
      FUZZ_CHECK (n > 0 && n < IFNAMSIZ && !strchr (s, '/') && !strchr (s, ':'));
    }
  if (moat_container_id_valid (s) && moat_attachment_key (key, sizeof (key), s, "eth0") == 0)
    {
      moat_host_ifname (&(struct moat_names_key){ { 0 } }, "moat", key, host_if);
      FUZZ_CHECK (strlen (host_if) == 15 && moat_ifname_valid (host_if));
    }
}

static void
check_mac (const char *s, const uint8_t *data, size_t size)
{
  unsigned char mac[MOAT_MAC_LEN], again[MOAT_MAC_LEN];
  char buf[18];

  if (moat_mac_parse (s, mac) == 0)
    {
      moat_mac_format (mac, buf);
      FUZZ_CHECK (strlen (buf) == 17);
      FUZZ_CHECK (moat_mac_parse (buf, again) == 0 && memcmp (mac, again, MOAT_MAC_LEN) == 0);
      FUZZ_CHECK (strcasecmp (buf, s) == 0);
    }
  /* Any six bytes format to a MAC that parses back to them. */
  if (size >= MOAT_MAC_LEN)
    {
      moat_mac_format (data, buf);
      FUZZ_CHECK (moat_mac_parse (buf, again) == 0 && memcmp (data, again, MOAT_MAC_LEN) == 0);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  _cleanup_free_ char *s = fuzz_cstr (data, size);

  check_cidr (s);
  check_ipv4 (s);
  check_cidr6 (s);
  check_acl_addr (s);
  check_names (s);
  check_mac (s, data, size);
  return 0;
}
