/* SPDX-License-Identifier: Apache-2.0 */
/* Published ports (model/publish.h): the text form of io.moat.publish and
 * runtimeConfig.portMappings. What parses formats to text that parses back
 * to the same mappings; the checks hold; the elements are as many as the
 * ports. */
#include <jansson.h>

#include "base/cleanup.h"
#include "fuzz.h"
#include "model/publish.h"
#include "ruleset/elems.h"

static void
check_round_trip (const struct moat_publish_list *l)
{
  struct moat_publish_list again = { 0 };
  moat_err_t err = { 0 };
  json_t *j = moat_publish_to_json (l);

  FUZZ_CHECK ((l->n == 0) == (j == NULL));
  if (!j)
    return;
  FUZZ_CHECK (moat_publish_from_json (j, &again, &err) == 0);
  FUZZ_CHECK (again.n == l->n);
  for (size_t i = 0; i < l->n; i++)
    FUZZ_CHECK (memcmp (&again.v[i], &l->v[i], sizeof (l->v[i])) == 0);
  moat_publish_list_free (&again);
  json_decref (j);
}

static void
check_list (const struct moat_publish_list *l)
{
  moat_err_t err = { 0 };
  size_t ports = 0;

  for (size_t i = 0; i < l->n; i++)
    {
      FUZZ_CHECK (l->v[i].count >= 1);
      FUZZ_CHECK ((uint32_t)l->v[i].host_port + l->v[i].count - 1 <= 65535);
      FUZZ_CHECK ((uint32_t)l->v[i].port + l->v[i].count - 1 <= 65535);
      FUZZ_CHECK (l->v[i].proto == 6 || l->v[i].proto == 17);
      ports += l->v[i].count;
    }
  check_round_trip (l);
  if (moat_publish_check ("fuzz", l, &err) == 0)
    {
      _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *e = moat_nft_elems_new ();

      FUZZ_CHECK (ports <= MOAT_PUBLISH_MAX_PORTS);
      for (size_t i = 0; i < l->n; i++)
        for (size_t k = 0; k < i; k++)
          FUZZ_CHECK (!moat_publish_overlap (&l->v[i], &l->v[k]));
      FUZZ_CHECK (e && moat_publish_elems (l, (struct in_addr){ htonl (0x0a000002) }, e) == 0);
      /* An IPv6 host address's map element waits for the container's
       * IPv6 address: one element (published) and one wait per port. */
      FUZZ_CHECK (moat_nft_elems_count (e) + e->n_pub6 == 2 * ports);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  _cleanup_free_ char *s = fuzz_cstr (data, size);
  struct moat_publish_list l = { 0 };
  moat_err_t err = { 0 };
  json_t *j;

  if (moat_publish_parse_text ("fuzz", s, &l, &err) == 0)
    check_list (&l);
  else
    FUZZ_CHECK (l.n == 0 && err.code == MOAT_E_CONFIG);
  moat_publish_list_free (&l);
  /* The same bytes as runtimeConfig.portMappings. */
  j = json_loadb ((const char *)data, size, 0, NULL);
  if (j)
    {
      if (moat_publish_parse_cni (j, &l, &err) == 0)
        check_list (&l);
      else
        FUZZ_CHECK (l.n == 0);
      moat_publish_list_free (&l);
      json_decref (j);
    }
  return 0;
}
