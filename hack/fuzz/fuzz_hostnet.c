/* SPDX-License-Identifier: Apache-2.0 */
/* Host-network records as read from <run dir>/.hostnet: any JSON. A
 * record that reads back must write out and read back again to the same
 * record, and compile to elements or fail with an error. */
#include "base/cleanup.h"
#include "fuzz.h"
#include "model/hostnet.h"

static bool
same_string (const char *a, const char *b)
{
  return (a == NULL && b == NULL) || (a && b && strcmp (a, b) == 0);
}

static void
round_trip (const struct moat_hostnet *h)
{
  json_auto_t *j = moat_hostnet_to_json (h);
  struct moat_hostnet back;
  moat_err_t err = { 0 };

  FUZZ_CHECK (j != NULL);
  FUZZ_CHECK (moat_hostnet_from_json (j, &back, &err) == 0);
  FUZZ_CHECK (same_string (h->network, back.network));
  FUZZ_CHECK (same_string (h->container_id, back.container_id));
  FUZZ_CHECK (same_string (h->cgroup_dir, back.cgroup_dir));
  FUZZ_CHECK (same_string (h->ident, back.ident));
  FUZZ_CHECK (h->cgroup == back.cgroup && h->own_group == back.own_group);
  FUZZ_CHECK (h->internet == back.internet && h->pending == back.pending);
  FUZZ_CHECK (h->ipv6 == back.ipv6);
  FUZZ_CHECK ((h->policy == NULL) == (back.policy == NULL));
  moat_hostnet_free (&back);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  json_auto_t *root = json_loadb ((const char *)data, size, 0, NULL);
  struct moat_hostnet h;
  moat_err_t err = { 0 };
  struct moat_nft_elems *l;

  if (!root)
    return 0;
  if (moat_hostnet_from_json (root, &h, &err) < 0)
    {
      FUZZ_CHECK (err.code == MOAT_E_STATE && err.msg[0]);
      return 0;
    }
  FUZZ_CHECK (h.network && h.container_id && h.cgroup_dir && h.cgroup > 0);
  round_trip (&h);
  l = moat_nft_elems_new ();
  FUZZ_CHECK (l != NULL);
  if (moat_hostnet_elems (&h, l, &err) == 0)
    FUZZ_CHECK (moat_nft_elems_count (l) >= 1);
  else
    FUZZ_CHECK (err.msg[0]);
  moat_nft_elems_free (l);
  moat_hostnet_free (&h);
  return 0;
}
