/* SPDX-License-Identifier: Apache-2.0 */
/* The hook's inputs and the policy's own files: an OCI state on stdin
 * ({"s": state}), an attachment's labels and pod annotations ({"l", "p"})
 * resolved with the state's annotations under its network's ceiling ({"a"}), and an identity file ({"i"}), read
 * back and compiled. Nothing may crash or leak; every refusal is one line. */
#include <arpa/inet.h>

#include "fuzz.h"
#include "../../oci-hook/hook.h"
#include "model/policy.h"

static void
check_one_line (const moat_err_t *err)
{
  FUZZ_CHECK (err->msg[0] != '\0' && strchr (err->msg, '\n') == NULL);
}

/* Every container dual stack: its IPv6 address is fd00::<its IPv4>. */
static int
addr6_of (struct in_addr addr, struct in6_addr *ret, void *data)
{
  memset (ret, 0, sizeof (*ret));
  ret->s6_addr[0] = 0xfd;
  memcpy (ret->s6_addr + 12, &addr.s_addr, 4);
  return 1;
}

static void
compile_against (const struct moat_policy *p, const struct moat_policy *other)
{
  struct in_addr a = { htonl (0x0a000002) }, b = { htonl (0x0a000003) };
  struct moat_peer_group g = { "0123456789abcdef", other, &b, 1 };
  struct moat_compile_input in = { a, "fedcba9876543210", true, false, p, &g, 1 };
  struct moat_nft_elems *e = moat_nft_elems_new ();
  char buf[512];

  FUZZ_CHECK (e != NULL);
  FUZZ_CHECK (moat_policy_compile (&in, e) == 0);
  FUZZ_CHECK (moat_nft_elems_twin6 (e, e, addr6_of, NULL) == 0);
  for (size_t i = 0; i < moat_nft_elems_count (e); i++)
    moat_nft_elems_format (e, i, buf, sizeof (buf));
  moat_nft_elems_free (e);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = fuzz_cstr (data, size);
  json_t *root = json_loads (text, JSON_DECODE_ANY, NULL);
  json_t *state = json_object_get (root, "s");
  moat_err_t err = { 0 };
  struct moat_record rec = { 0 };
  struct moat_policy p = { 0 }, q = { 0 };
  char *state_text = state ? json_dumps (state, JSON_ENCODE_ANY) : NULL;

  if (moat_hook_state_check (state_text ? state_text : text,
                             strlen (state_text ? state_text : text), &err)
      < 0)
    check_one_line (&err);

  rec.network = (char *)"net";
  rec.labels = json_is_object (json_object_get (root, "l")) ? json_object_get (root, "l") : NULL;
  if (!rec.labels)
    rec.labels = json_object ();
  else
    json_incref (rec.labels);
  rec.pod_annotations = json_object_get (root, "p");
  /* The network's ceiling ({"a": allow}), borrowed; absent: the default. */
  rec.allow = json_object_get (root, "a");
  rec.policy_file = (char *)"/nonexistent/moat-fuzz-policy.json";
  err = (moat_err_t){ 0 };
  if (moat_policy_resolve (&rec, json_object_get (json_object_get (root, "s"), "annotations"), &p,
                           &err)
      == 0)
    {
      json_t *ident = moat_policy_ident_json (&p);
      json_t *full = moat_policy_to_json (&p);

      FUZZ_CHECK (ident != NULL && full != NULL);
      moat_policy_allows (&p, &p);
      compile_against (&p, &p);
      json_decref (ident);
      json_decref (full);
    }
  else
    check_one_line (&err);

  err = (moat_err_t){ 0 };
  if (moat_policy_from_ident_json (json_object_get (root, "i"), &q, &err) == 0)
    {
      moat_policy_allows (&q, &q);
      if (p.labels)
        {
          moat_policy_allows (&p, &q);
          compile_against (&q, &p);
        }
      moat_policy_free (&q);
    }
  else
    check_one_line (&err);

  moat_policy_free (&p);
  json_decref (rec.labels);
  free (state_text);
  json_decref (root);
  free (text);
  return 0;
}
