/* SPDX-License-Identifier: Apache-2.0 */
/* The IPv6 side of ADD, DEL, CHECK and GC (cni6.h; docs/design.md, "The
 * network model"). */
#include "verbs/cni6.h"

#include <errno.h>
#include <string.h>

#include "base/ip6.h"
#include "model/result.h"
#include "state/ipam6.h"
#include "state/state.h"

static int
ipam_dir (char *buf, size_t size, const char *network, moat_err_t *err)
{
  if (moat_state_path (buf, size, network, "ipam") < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "ipam directory");
  return 0;
}

/* A host address of subnet6 (not its subnet-router address). */
static bool
in_subnet6 (const struct moat_netconf *conf, const struct in6_addr *a)
{
  return moat_ipv6_in_prefix (a, &conf->subnet6, MOAT_SUBNET6_PREFIXLEN)
         && moat_ipv6_host64 (a) != 0;
}

/* The delegated plugin's IPv6 address: 1 taken, 0 its result has none. */
static int
from_delegated (const struct moat_netconf *conf, json_t *ipam, struct moat_record *rec,
                moat_err_t *err)
{
  struct in6_addr a, gw;
  char text[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN];
  int prefixlen;
  int r = moat_result_first_ipv6 (ipam, "ipam result", &a, &prefixlen, &gw, err);

  if (r <= 0)
    return r < 0 ? moat_error_prefix (err, "ipam plugin %s", conf->ipam_type) : 0;
  if (prefixlen != MOAT_SUBNET6_PREFIXLEN || !in_subnet6 (conf, &a))
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "ipam plugin %s: IPv6 address %s/%d is not a host address of subnet6 %s/%d",
                       conf->ipam_type, moat_ipv6_text (&a, text), prefixlen,
                       moat_ipv6_text (&conf->subnet6, net), MOAT_SUBNET6_PREFIXLEN);
  if (IN6_IS_ADDR_UNSPECIFIED (&gw))
    gw = conf->gateway6;
  else if (!in_subnet6 (conf, &gw))
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "ipam plugin %s: IPv6 gateway %s is not a host address of subnet6 %s/%d",
                       conf->ipam_type, moat_ipv6_text (&gw, text),
                       moat_ipv6_text (&conf->subnet6, net), MOAT_SUBNET6_PREFIXLEN);
  rec->addr6 = a;
  rec->gateway6 = gw;
  return 1;
}

int
moat_cni6_acquire (const struct moat_netconf *conf, const char *key, json_t *ipam,
                   struct moat_record *rec, moat_err_t *err)
{
  struct moat_pool6 pool = { conf->subnet6, conf->gateway6 };
  uint64_t hint = ntohl (rec->addr.s_addr & ~moat_prefix_mask (rec->prefixlen));
  char dir[4096];
  int r;

  if (!conf->have_subnet6)
    return 0;
  r = ipam ? from_delegated (conf, ipam, rec, err) : 0;
  if (r < 0)
    return -1;
  if (r == 0)
    {
      if (ipam_dir (dir, sizeof (dir), conf->name, err) < 0
          || moat_ipam6_alloc (dir, &pool, key, conf->have_ip6 ? &conf->ip6 : NULL, hint,
                               &rec->addr6, err)
                 < 0)
        return -1;
      rec->gateway6 = conf->gateway6;
    }
  rec->have_addr6 = true;
  return 0;
}

int
moat_cni6_release (const struct moat_record *rec, const char *key, moat_err_t *err)
{
  char dir[4096];

  if (!rec->have_addr6)
    return 0;
  if (ipam_dir (dir, sizeof (dir), rec->network, err) < 0)
    return -1;
  return moat_ipam6_release (dir, &rec->addr6, key, err);
}

int
moat_cni6_release_owner (const struct moat_netconf *conf, const char *key, moat_err_t *err)
{
  char dir[4096];

  if (!conf->have_subnet6)
    return 0;
  if (ipam_dir (dir, sizeof (dir), conf->name, err) < 0)
    return -1;
  return moat_ipam6_release_owner (dir, key, err);
}

int
moat_cni6_release_unowned (const struct moat_netconf *conf, char *const *keys, moat_err_t *err)
{
  char dir[4096];

  if (!conf->have_subnet6)
    return 0;
  if (ipam_dir (dir, sizeof (dir), conf->name, err) < 0)
    return -1;
  return moat_ipam6_release_unowned (dir, keys, err);
}

int
moat_cni6_check_prev (json_t *prev_result, const struct moat_record *rec, moat_err_t *err)
{
  struct in6_addr a, gw;
  char x[INET6_ADDRSTRLEN], y[INET6_ADDRSTRLEN];
  int prefixlen;
  int r = moat_result_first_ipv6 (prev_result, "prevResult", &a, &prefixlen, &gw, err);

  if (r < 0 || !rec->have_addr6)
    return r < 0 ? -1 : 0;
  if (r == 0)
    return moat_error (err, MOAT_E_DRIFT, 0, "prevResult: IPv6 address %s/%d missing",
                       moat_ipv6_text (&rec->addr6, y), MOAT_SUBNET6_PREFIXLEN);
  if (memcmp (&a, &rec->addr6, sizeof (a)) != 0 || prefixlen != MOAT_SUBNET6_PREFIXLEN)
    return moat_error (err, MOAT_E_DRIFT, 0, "prevResult: address %s/%d differs from %s/%d",
                       moat_ipv6_text (&a, x), prefixlen, moat_ipv6_text (&rec->addr6, y),
                       MOAT_SUBNET6_PREFIXLEN);
  return 0;
}
