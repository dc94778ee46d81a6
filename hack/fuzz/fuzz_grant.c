/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl's grant words and TTLs, and a grant as its record keeps it: what
 * parses formats back to words that parse to the same grant, and a record
 * entry read back gives the same words. */
#include <jansson.h>

#include "base/cleanup.h"
#include "fuzz.h"
#include "../../ctl/grant.h"

static void
check_words (const char *s)
{
  struct moat_grant g, again, back;
  moat_err_t err = { 0 };
  char words[MOAT_GRANT_WORDS_MAX], words_again[MOAT_GRANT_WORDS_MAX];
  json_t *j;

  if (moat_grant_parse_text (s, &g, &err) < 0)
    {
      FUZZ_CHECK (err.msg[0] && !strchr (err.msg, '\n'));
      return;
    }
  moat_grant_words (&g, words, sizeof (words));
  FUZZ_CHECK (moat_grant_parse_text (words, &again, &err) == 0);
  moat_grant_words (&again, words_again, sizeof (words_again));
  FUZZ_CHECK (strcmp (words, words_again) == 0);
  /* A range overlaps itself; peers have no range. */
  FUZZ_CHECK (moat_grant_overlaps (&g, &again) == (g.kind != MOAT_GRANT_PEER));
  g.expires = 1700000000;
  j = moat_grant_to_json (&g);
  FUZZ_CHECK (j != NULL);
  FUZZ_CHECK (moat_grant_from_json (j, &back, &err) == 0);
  moat_grant_words (&back, words_again, sizeof (words_again));
  FUZZ_CHECK (strcmp (words, words_again) == 0 && back.expires == g.expires);
  json_decref (j);
  moat_grant_free (&back);
  moat_grant_free (&again);
  moat_grant_free (&g);
}

static void
check_ttl (const char *s)
{
  moat_err_t err = { 0 };
  int64_t ttl = 0;

  if (moat_ttl_parse (s, &ttl, &err) == 0)
    FUZZ_CHECK (ttl >= 1 && ttl <= MOAT_GRANT_TTL_MAX);
  else
    FUZZ_CHECK (err.msg[0] && !strchr (err.msg, '\n'));
}

static void
check_record (const char *s)
{
  json_t *j = json_loads (s, 0, NULL);
  struct moat_grant g;
  moat_err_t err = { 0 };

  if (j && moat_grant_from_json (j, &g, &err) == 0)
    moat_grant_free (&g);
  json_decref (j);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  _cleanup_free_ char *s = fuzz_cstr (data, size);

  check_words (s);
  check_ttl (s);
  check_record (s);
  return 0;
}
