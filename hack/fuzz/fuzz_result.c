/* SPDX-License-Identifier: Apache-2.0 */
/* CNI results: reading the first IPv4 (and IPv6) address of a result of any version
 * (prevResult, a delegated IPAM plugin's answer), and writing ADD's result
 * in every version from values taken from the input. */
#include <arpa/inet.h>

#include "base/ifname.h"
#include "base/cleanup.h"
#include "model/config.h"
#include "fuzz.h"
#include "state/names.h"
#include "model/result.h"
#include "state/state.h"

static void
read_first_ipv4 (json_t *root)
{
  struct in_addr addr, gateway;
  moat_err_t err = { 0 };
  int prefixlen = -1;

  if (moat_result_first_ipv4 (root, "ipam result", &addr, &prefixlen, &gateway, &err) == 0)
    FUZZ_CHECK (prefixlen >= 0 && prefixlen <= 32);
  else
    FUZZ_CHECK (err.code == MOAT_E_DECODE && err.msg[0]);
}

static void
read_first_ipv6 (json_t *root)
{
  struct in6_addr addr, gateway;
  moat_err_t err = { 0 };
  int prefixlen = -1;
  int r = moat_result_first_ipv6 (root, "ipam result", &addr, &prefixlen, &gateway, &err);

  if (r >= 0)
    FUZZ_CHECK (prefixlen >= 0 && prefixlen <= 128);
  else
    FUZZ_CHECK (err.code == MOAT_E_DECODE && err.msg[0]);
}

/* What ADD's callers guarantee: validated interface names. */
static char *
ifname_or (char *s, const char *fallback)
{
  if (moat_ifname_valid (s))
    return s;
  free (s);
  return strdup (fallback);
}

static void
check_built (json_t *j, const char *version, const struct moat_add_result *r)
{
  struct in_addr addr, gateway;
  moat_err_t err = { 0 };
  int prefixlen;
  json_t *ip = json_array_get (json_object_get (j, "ips"), 0);
  _cleanup_free_ char *text = json_dumps (j, JSON_COMPACT);

  FUZZ_CHECK (text != NULL);
  FUZZ_CHECK (strcmp (json_string_value (json_object_get (j, "cniVersion")), version) == 0);
  FUZZ_CHECK ((json_object_get (ip, "version") != NULL)
              == (moat_cni_version_cmp (version, "1.0.0") < 0));
  FUZZ_CHECK (json_array_size (json_object_get (j, "interfaces")) == 3);
  if (r->prefixlen < 0 || r->prefixlen > 32)
    return;
  /* What ADD writes, CHECK reads back from prevResult. */
  FUZZ_CHECK (moat_result_first_ipv4 (j, "result", &addr, &prefixlen, &gateway, &err) == 0);
  FUZZ_CHECK (addr.s_addr == r->addr.s_addr);
  FUZZ_CHECK (prefixlen == r->prefixlen);
  FUZZ_CHECK (gateway.s_addr == r->gateway.s_addr);
  if (r->have_addr6)
    {
      struct in6_addr addr6, gateway6;

      FUZZ_CHECK (moat_result_first_ipv6 (j, "result", &addr6, &prefixlen, &gateway6, &err) == 1);
      FUZZ_CHECK (memcmp (&addr6, &r->addr6, sizeof (addr6)) == 0 && prefixlen == 64);
      FUZZ_CHECK (memcmp (&gateway6, &r->gateway6, sizeof (gateway6)) == 0);
    }
}

static void
build_all_versions (const uint8_t *data, size_t size, json_t *root)
{
  struct fuzz_reader in = { data, size, 0 };
  struct moat_add_result r = { 0 };
  _cleanup_free_ char *bridge = ifname_or (fuzz_string (&in, 16), "moat0");
  _cleanup_free_ char *ifname = ifname_or (fuzz_string (&in, 16), "eth0");
  _cleanup_free_ char *sandbox = fuzz_string (&in, 64);
  char key[512], host_if[16];

  fuzz_bytes (&in, &r.addr, sizeof (r.addr));
  fuzz_bytes (&in, &r.gateway, sizeof (r.gateway));
  r.prefixlen = (int8_t)fuzz_byte (&in);
  fuzz_bytes (&in, r.bridge_mac, MOAT_MAC_LEN);
  fuzz_bytes (&in, r.host_mac, MOAT_MAC_LEN);
  fuzz_bytes (&in, r.container_mac, MOAT_MAC_LEN);
  r.have_addr6 = fuzz_byte (&in) & 1;
  fuzz_bytes (&in, &r.addr6, sizeof (r.addr6));
  fuzz_bytes (&in, &r.gateway6, sizeof (r.gateway6));
  FUZZ_CHECK (bridge && ifname);
  FUZZ_CHECK (moat_attachment_key (key, sizeof (key), "c", ifname) == 0);
  moat_host_ifname (&(struct moat_names_key){ { 0 } }, "moat", key, host_if);
  r.bridge = bridge;
  r.host_if = host_if;
  r.ifname = ifname;
  r.sandbox = sandbox;
  r.dns = json_object_get (root, "dns");

  for (int i = 0; moat_cni_versions[i]; i++)
    {
      json_auto_t *j = moat_result_build (moat_cni_versions[i], &r);

      /* sandbox is CNI_NETNS, any bytes: jansson refuses non-UTF-8. */
      if (!fuzz_utf8_valid (sandbox))
        {
          FUZZ_CHECK (j == NULL);
          continue;
        }
      FUZZ_CHECK (j != NULL);
      check_built (j, moat_cni_versions[i], &r);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  json_auto_t *root = json_loadb ((const char *)data, size, 0, NULL);

  read_first_ipv4 (root);
  read_first_ipv6 (root);
  build_all_versions (data, size, root);
  return 0;
}
