/* SPDX-License-Identifier: Apache-2.0 */
#include "model/result.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "model/config.h"

static json_t *
mac_json (const unsigned char mac[MOAT_MAC_LEN])
{
  char buf[18];

  moat_mac_format (mac, buf);
  return json_string (buf);
}

json_t *
moat_ipv4_json (struct in_addr a, int prefixlen)
{
  char buf[INET_ADDRSTRLEN + 4];

  inet_ntop (AF_INET, &a, buf, INET_ADDRSTRLEN);
  if (prefixlen >= 0)
    snprintf (buf + strlen (buf), 4, "/%d", prefixlen & 63);
  return json_string (buf);
}

static json_t *
ipv6_json (const struct in6_addr *a, int prefixlen)
{
  char buf[INET6_ADDRSTRLEN + 4];

  moat_ipv6_text (a, buf);
  if (prefixlen >= 0)
    snprintf (buf + strlen (buf), 5, "/%d", prefixlen & 255);
  return json_string (buf);
}

/* One entry of "ips": on the container's interface (index 2 of
 * "interfaces"). */
static json_t *
ip_entry (json_t *address, json_t *gateway, const char *family, bool legacy)
{
  json_t *ip
      = json_pack ("{s:o, s:o, s:i}", "address", address, "gateway", gateway, "interface", 2);

  if (ip && legacy && json_object_set_new (ip, "version", json_string (family)) < 0)
    {
      json_decref (ip);
      return NULL;
    }
  return ip;
}

json_t *
moat_result_build (const char *version, const struct moat_add_result *r)
{
  bool legacy = moat_cni_version_cmp (version, "1.0.0") < 0; /* 0.3.x and 0.4.0 */
  json_t *dns = r->dns ? json_incref (r->dns) : json_object ();
  json_t *ips = r->v6only
                    ? json_array ()
                    : json_pack ("[o]", ip_entry (moat_ipv4_json (r->addr, r->prefixlen),
                                                  moat_ipv4_json (r->gateway, -1), "4", legacy));
  json_t *routes = r->v6only ? json_array ()
                             : json_pack ("[{s:s, s:o}]", "dst", "0.0.0.0/0", "gw",
                                          moat_ipv4_json (r->gateway, -1));

  if (r->have_addr6 && ips && routes
      && (json_array_append_new (ips, ip_entry (ipv6_json (&r->addr6, MOAT_SUBNET6_PREFIXLEN),
                                                ipv6_json (&r->gateway6, -1), "6", legacy))
              < 0
          || json_array_append_new (routes, json_pack ("{s:s, s:o}", "dst", "::/0", "gw",
                                                       ipv6_json (&r->gateway6, -1)))
                 < 0))
    {
      json_decref (ips);
      ips = NULL;
    }
  return json_pack ("{s:s, s:[{s:s, s:o}, {s:s, s:o}, {s:s, s:o, s:s}], s:o, s:o, s:o}",
                    "cniVersion", version, "interfaces", "name", r->bridge, "mac",
                    mac_json (r->bridge_mac), "name", r->host_if, "mac", mac_json (r->host_mac),
                    "name", r->ifname, "mac", mac_json (r->container_mac), "sandbox", r->sandbox,
                    "ips", ips, "routes", routes, "dns", dns);
}

json_t *
moat_version_result (const char *version)
{
  json_t *list = json_array ();

  for (int i = 0; moat_cni_versions[i]; i++)
    json_array_append_new (list, json_string (moat_cni_versions[i]));
  return json_pack ("{s:s, s:o}", "cniVersion", version, "supportedVersions", list);
}

/* Messages quote what they were given (paths, a plugin's output): make
 * them valid UTF-8, which JSON needs, one '?' per byte that is not. */
static void
utf8_sanitize (char *s)
{
  unsigned char *p = (unsigned char *)s;

  while (*p)
    {
      size_t len = *p < 0x80                  ? 1
                   : *p >= 0xc2 && *p <= 0xdf ? 2
                   : *p >= 0xe0 && *p <= 0xef ? 3
                   : *p >= 0xf0 && *p <= 0xf4 ? 4
                                              : 0;
      size_t i;

      for (i = 1; len && i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
          len = 0;
      /* What jansson refuses too: overlong forms, surrogates, past U+10FFFF. */
      if ((len == 3 && ((*p == 0xe0 && p[1] < 0xa0) || (*p == 0xed && p[1] >= 0xa0)))
          || (len == 4 && ((*p == 0xf0 && p[1] < 0x90) || (*p == 0xf4 && p[1] >= 0x90))))
        len = 0;
      if (!len)
        {
          *p++ = '?';
          continue;
        }
      p += len;
    }
}

json_t *
moat_error_result (const char *version, const moat_err_t *err, const char *details)
{
  char msg[sizeof (err->msg)];

  snprintf (msg, sizeof (msg), "%s", err->msg);
  utf8_sanitize (msg);
  return json_pack ("{s:s, s:i, s:s, s:s*}", "cniVersion", version, "code", err->code, "msg", msg,
                    "details", details);
}

int
moat_result_first_ipv4 (json_t *result, const char *what, struct in_addr *ret_addr,
                        int *ret_prefixlen, struct in_addr *ret_gateway, moat_err_t *err)
{
  json_t *ips = json_object_get (result, "ips"), *ip;
  size_t i;

  if (!json_is_array (ips))
    return moat_error (err, MOAT_E_DECODE, 0, "%s: no \"ips\" list", what);
  json_array_foreach (ips, i, ip)
  {
    const char *address = json_string_value (json_object_get (ip, "address"));
    const char *gateway = json_string_value (json_object_get (ip, "gateway"));

    if (!address || strchr (address, ':'))
      continue;
    if (moat_parse_cidr (address, ret_addr, ret_prefixlen) < 0)
      return moat_error (err, MOAT_E_DECODE, 0, "%s: ips[%zu].address \"%s\" is not a CIDR", what,
                         i, address);
    ret_gateway->s_addr = INADDR_ANY;
    if (gateway && moat_parse_ipv4 (gateway, ret_gateway) < 0)
      return moat_error (err, MOAT_E_DECODE, 0, "%s: ips[%zu].gateway \"%s\" is not an address",
                         what, i, gateway);
    return 0;
  }
  return moat_error (err, MOAT_E_DECODE, 0, "%s: no IPv4 address in \"ips\"", what);
}

bool
moat_result_has_ipv4 (json_t *result)
{
  json_t *ip;
  size_t i;

  json_array_foreach (json_object_get (result, "ips"), i, ip)
  {
    const char *address = json_string_value (json_object_get (ip, "address"));

    if (address && !strchr (address, ':'))
      return true;
  }
  return false;
}

int
moat_result_first_ipv6 (json_t *result, const char *what, struct in6_addr *ret_addr,
                        int *ret_prefixlen, struct in6_addr *ret_gateway, moat_err_t *err)
{
  json_t *ips = json_object_get (result, "ips"), *ip;
  size_t i;

  memset (ret_addr, 0, sizeof (*ret_addr));
  memset (ret_gateway, 0, sizeof (*ret_gateway));
  *ret_prefixlen = 0;
  json_array_foreach (ips, i, ip)
  {
    const char *address = json_string_value (json_object_get (ip, "address"));
    const char *gateway = json_string_value (json_object_get (ip, "gateway"));

    if (!address || !strchr (address, ':'))
      continue;
    if (moat_parse_cidr6 (address, ret_addr, ret_prefixlen) < 0)
      return moat_error (err, MOAT_E_DECODE, 0, "%s: ips[%zu].address \"%s\" is not a CIDR", what,
                         i, address);
    if (gateway && moat_parse_ipv6 (gateway, ret_gateway) < 0)
      return moat_error (err, MOAT_E_DECODE, 0, "%s: ips[%zu].gateway \"%s\" is not an address",
                         what, i, gateway);
    return 1;
  }
  return 0;
}
