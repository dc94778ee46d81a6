/* SPDX-License-Identifier: Apache-2.0 */
/* A cluster view (model/clusterview.h), as another node's store entries
 * make it: any JSON. A view read has named nodes apart from one another
 * (subnets and subnet6s)
 * and members with the fields a sync uses; a refusal names the field. */
#include <string.h>

#include "fuzz.h"
#include "model/clusterview.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  json_auto_t *root = json_loadb ((const char *)data, size, 0, NULL);
  struct moat_view v = { 0 };
  moat_err_t err = { 0 };

  if (!root)
    return 0;
  if (moat_view_parse (root, &v, &err) < 0)
    {
      FUZZ_CHECK (err.code == MOAT_E_CONFIG && strncmp (err.msg, "view", 4) == 0);
      moat_view_free (&v);
      return 0;
    }
  FUZZ_CHECK (v.cluster != NULL);
  for (size_t i = 0; i < v.nnodes; i++)
    {
      FUZZ_CHECK (v.nodes[i].node && v.nodes[i].prefixlen >= 0 && v.nodes[i].prefixlen <= 32);
      FUZZ_CHECK (!v.nodes[i].have_subnet6
                  || (v.nodes[i].prefixlen6 >= 0 && v.nodes[i].prefixlen6 <= 128));
      for (size_t k = i + 1; k < v.nnodes; k++)
        {
          FUZZ_CHECK (!moat_subnets_overlap (v.nodes[i].subnet, v.nodes[i].prefixlen,
                                             v.nodes[k].subnet, v.nodes[k].prefixlen));
          FUZZ_CHECK (!v.nodes[i].have_subnet6 || !v.nodes[k].have_subnet6
                      || !moat_subnets6_overlap (&v.nodes[i].subnet6, v.nodes[i].prefixlen6,
                                                 &v.nodes[k].subnet6, v.nodes[k].prefixlen6));
        }
    }
  for (size_t i = 0; i < v.nmembers; i++)
    {
      FUZZ_CHECK (v.members[i].node && v.members[i].network && v.members[i].container);
      FUZZ_CHECK (json_is_object (v.members[i].policy));
      (void)moat_view_member_here (&v, "self", v.members[i].network, &v.members[i]);
    }
  moat_view_free (&v);
  return 0;
}
