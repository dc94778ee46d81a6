/* SPDX-License-Identifier: Apache-2.0 */
/* The network configuration on stdin, for every verb: the first byte picks
 * the verb, the rest is the text. A configuration that parses must satisfy
 * what the verbs rely on; one that does not must still give an error the
 * plugin can print as CNI error JSON. */
#include <arpa/inet.h>

#include "base/ifname.h"
#include "base/cleanup.h"
#include "model/config.h"
#include "fuzz.h"
#include "model/result.h"

static const enum moat_cni_command commands[] = {
  MOAT_CMD_ADD, MOAT_CMD_DEL, MOAT_CMD_CHECK, MOAT_CMD_VERSION, MOAT_CMD_GC, MOAT_CMD_STATUS,
};

static void
check_error_printable (const struct moat_netconf *conf, const moat_err_t *err)
{
  const char *version = conf->cni_version && moat_cni_version_index (conf->cni_version) >= 0
                            ? conf->cni_version
                            : MOAT_CNI_VERSION;
  json_auto_t *j = NULL;

  FUZZ_CHECK (err->code != MOAT_OK);
  FUZZ_CHECK (err->msg[0] != '\0');
  FUZZ_CHECK (memchr (err->msg, '\0', sizeof (err->msg)) != NULL);
  j = moat_error_result (version, err, NULL);
  FUZZ_CHECK (j != NULL); /* else the plugin prints no CNI error at all */
}

static void
check_network (const struct moat_netconf *c)
{
  in_addr_t mask;

  FUZZ_CHECK (c->name != NULL && moat_container_id_valid (c->name));
  FUZZ_CHECK (moat_ifname_valid (c->bridge));
  /* An address source: a subnet, IPv6 only (subnet6 alone), or IPAM. */
  FUZZ_CHECK (c->have_subnet || c->ipam_type != NULL || (c->v6only && c->have_subnet6));
  FUZZ_CHECK (!c->v6only || !c->have_subnet);
  FUZZ_CHECK (c->mtu == 0 || (c->mtu >= 68 && c->mtu <= 65535));
  if (c->ipam_type)
    FUZZ_CHECK (*c->ipam_type && !strchr (c->ipam_type, '/') && strcmp (c->ipam_type, ".."));
  if (c->have_subnet)
    {
      FUZZ_CHECK (c->prefixlen >= 8 && c->prefixlen <= 30);
      mask = moat_prefix_mask (c->prefixlen);
      FUZZ_CHECK ((c->subnet.s_addr & ~mask) == 0);
      FUZZ_CHECK ((c->gateway.s_addr & mask) == c->subnet.s_addr);
      FUZZ_CHECK (c->gateway.s_addr != c->subnet.s_addr);
      FUZZ_CHECK ((c->gateway.s_addr | mask) != 0xffffffffu);
    }
  if (c->have_mac)
    FUZZ_CHECK ((c->mac[0] & 1) == 0);
  for (size_t i = 0; i < c->n_labels; i++)
    FUZZ_CHECK (c->labels[i].key && *c->labels[i].key && c->labels[i].value);
  for (size_t i = 0; i < c->n_valid; i++)
    FUZZ_CHECK (c->valid[i].container_id && c->valid[i].ifname);
  FUZZ_CHECK (c->n_valid == 0 || c->have_valid);
}

/* CHECK reads the previous result's first IPv4 address. */
static void
check_prev_result (json_t *prev)
{
  struct in_addr addr, gateway;
  moat_err_t err = { 0 };
  int prefixlen = -1;

  if (moat_result_first_ipv4 (prev, "prevResult", &addr, &prefixlen, &gateway, &err) == 0)
    FUZZ_CHECK (prefixlen >= 0 && prefixlen <= 32);
  else
    FUZZ_CHECK (err.code == MOAT_E_DECODE && err.msg[0]);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct moat_netconf conf;
  moat_err_t err = { 0 };
  enum moat_cni_command cmd;
  _cleanup_free_ char *text = NULL;

  if (size < 1)
    return 0;
  cmd = commands[data[0] % ARRAY_SIZE (commands)];
  text = fuzz_cstr (data + 1, size - 1);

  (void)moat_cni_version_index (text);
  if (moat_netconf_parse (text, cmd, &conf, &err) < 0)
    {
      check_error_printable (&conf, &err);
      moat_netconf_free (&conf);
      return 0;
    }

  FUZZ_CHECK (conf.root && json_is_object (conf.root));
  FUZZ_CHECK (conf.raw && strcmp (conf.raw, text) == 0);
  FUZZ_CHECK (moat_cni_version_index (conf.cni_version) >= 0);
  FUZZ_CHECK (moat_cni_version_cmp (conf.cni_version, MOAT_CNI_VERSION) <= 0);
  if (cmd != MOAT_CMD_VERSION)
    check_network (&conf);
  if (conf.prev_result)
    check_prev_result (conf.prev_result);
  moat_netconf_free (&conf);
  return 0;
}
