/* SPDX-License-Identifier: Apache-2.0 */
/* A network configuration file read while looking for a network by name
 * (hook-driven attach). The input is the name, a newline, then the file's
 * text. A match must be the moat plugin of that network, ready for the
 * plugin's parser; anything else a one-line error. */
#include "base/cleanup.h"
#include "model/config.h"
#include "fuzz.h"
#include "state/netfind.h"

static void
check_match (json_t *conf, const char *name)
{
  _cleanup_free_ char *text = NULL;
  struct moat_netconf nc;
  moat_err_t err = { 0 };

  FUZZ_CHECK (json_is_object (conf));
  FUZZ_CHECK (json_is_string (json_object_get (conf, "name")));
  FUZZ_CHECK (strcmp (json_string_value (json_object_get (conf, "name")), name) == 0);
  FUZZ_CHECK (strcmp (json_string_value (json_object_get (conf, "type")), "moat") == 0);
  text = json_dumps (conf, JSON_COMPACT);
  FUZZ_CHECK (text != NULL);
  if (moat_netconf_parse (text, MOAT_CMD_ADD, &nc, &err) == 0)
    FUZZ_CHECK (strcmp (nc.name, name) == 0);
  else
    FUZZ_CHECK (err.msg[0] != '\0');
  moat_netconf_free (&nc);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const uint8_t *nl = memchr (data, '\n', size);
  _cleanup_free_ char *name = NULL;
  json_t *conf = NULL;
  moat_err_t err = { 0 };
  size_t name_len;
  int r;

  if (!nl)
    return 0;
  name_len = (size_t)(nl - data);
  name = fuzz_cstr (data, name_len);
  r = moat_netfind_parse ((const char *)nl + 1, size - name_len - 1, "fuzz.conflist", name, &conf,
                          &err);
  FUZZ_CHECK (r >= -1 && r <= 1);
  if (r == 1)
    check_match (conf, name);
  else
    FUZZ_CHECK (conf == NULL);
  if (r < 0)
    {
      FUZZ_CHECK (err.code == MOAT_E_CONFIG || err.code == MOAT_E_IO);
      FUZZ_CHECK (err.msg[0] != '\0' && memchr (err.msg, '\0', sizeof (err.msg)) != NULL);
      FUZZ_CHECK (strchr (err.msg, '\n') == NULL);
    }
  json_decref (conf);
  return 0;
}
