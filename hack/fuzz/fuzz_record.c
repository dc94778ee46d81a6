/* SPDX-License-Identifier: Apache-2.0 */
/* Attachment records as read from /run/moat: any JSON. A record that reads
 * back must write out and read back again to the same record. */
#include <arpa/inet.h>

#include "base/ifname.h"
#include "base/cleanup.h"
#include "model/config.h"
#include "fuzz.h"
#include "state/state.h"

static bool
same_string (const char *a, const char *b)
{
  return (a == NULL && b == NULL) || (a && b && strcmp (a, b) == 0);
}

static bool
same_json (json_t *a, json_t *b)
{
  return (a == NULL && b == NULL) || (a && b && json_equal (a, b));
}

static void
check_same (const struct moat_record *a, const struct moat_record *b)
{
  FUZZ_CHECK (same_string (a->cni_version, b->cni_version));
  FUZZ_CHECK (same_string (a->network, b->network));
  FUZZ_CHECK (same_string (a->container_id, b->container_id));
  FUZZ_CHECK (same_string (a->ifname, b->ifname));
  FUZZ_CHECK (same_string (a->netns, b->netns));
  FUZZ_CHECK (same_string (a->host_if, b->host_if));
  FUZZ_CHECK (same_string (a->bridge, b->bridge));
  FUZZ_CHECK (same_string (a->ipam, b->ipam));
  FUZZ_CHECK (same_string (a->name, b->name));
  FUZZ_CHECK (same_string (a->pod_namespace, b->pod_namespace));
  FUZZ_CHECK (memcmp (a->mac, b->mac, MOAT_MAC_LEN) == 0);
  FUZZ_CHECK (a->addr.s_addr == b->addr.s_addr);
  FUZZ_CHECK (a->prefixlen == b->prefixlen);
  FUZZ_CHECK (a->gateway.s_addr == b->gateway.s_addr);
  FUZZ_CHECK (a->quiet == b->quiet && a->internet == b->internet && a->masquerade == b->masquerade);
  FUZZ_CHECK (a->log == b->log);
  FUZZ_CHECK (same_json (a->labels, b->labels));
  FUZZ_CHECK (same_json (a->pod_annotations, b->pod_annotations));
  FUZZ_CHECK (same_string (a->remote_node, b->remote_node));
}

/* Writes `r` as moat_record_write does and reads it back as
 * moat_record_read does. */
static void
round_trip (const struct moat_record *r)
{
  json_auto_t *j = moat_record_to_json (r), *back_root = NULL;
  _cleanup_free_ char *text = NULL;
  struct moat_record back;
  moat_err_t err = { 0 };

  FUZZ_CHECK (j != NULL);
  text = json_dumps (j, JSON_COMPACT);
  FUZZ_CHECK (text != NULL);
  back_root = json_loads (text, 0, NULL);
  FUZZ_CHECK (back_root != NULL);
  FUZZ_CHECK (moat_record_from_json (back_root, &back, &err) == 0);
  check_same (r, &back);
  moat_record_free (&back);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  json_auto_t *root = json_loadb ((const char *)data, size, 0, NULL);
  struct moat_record r;
  moat_err_t err = { 0 };

  if (!root)
    return 0;
  if (moat_record_from_json (root, &r, &err) < 0)
    {
      FUZZ_CHECK (err.code == MOAT_E_STATE && err.msg[0]);
      return 0;
    }
  FUZZ_CHECK (r.network && r.container_id && r.ifname && r.host_if && r.bridge && r.labels);
  /* Another node's container (cluster mode) has no port here. */
  FUZZ_CHECK (r.remote_node || (moat_ifname_valid (r.host_if) && moat_ifname_valid (r.bridge)));
  FUZZ_CHECK (r.prefixlen >= 0 && r.prefixlen <= 32);
  round_trip (&r);
  moat_record_free (&r);
  return 0;
}
