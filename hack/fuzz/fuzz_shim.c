/* SPDX-License-Identifier: Apache-2.0 */
/* moat-runtime's input. The first byte picks what the rest is:
 *   'a'  a command line: NUL-separated words after argv[0]; the parse must
 *        keep every word past moat's options for runc, in order
 *   else a config.json: an edit that succeeds gives JSON that differs from
 *        the input only in "hooks", asks for moat, has the hook at both
 *        stages, writes every number back as it came, and needs no second
 *        edit; a refusal names the file. */
#include "fuzz.h"
#include "../../runtime/shim.h"

#define HOOK "/usr/libexec/moat/moat-hook"
#define NAME "/b/config.json"

static void
fuzz_argv (const uint8_t *data, size_t size)
{
  char *text = malloc (size + 1), *argv[130];
  struct moat_shim_args a;
  moat_err_t err = { 0 };
  int argc = 0;

  FUZZ_CHECK (text != NULL);
  memcpy (text, data, size);
  text[size] = '\0';
  argv[argc++] = "moat-runtime";
  for (size_t pos = 0; pos <= size && argc < 129;)
    {
      argv[argc++] = text + pos;
      pos += strlen (text + pos) + 1;
    }
  argv[argc] = NULL;
  if (moat_shim_args_parse (argc, argv, argv, &a, &err) == 0)
    {
      FUZZ_CHECK (a.runtime_argc >= 0 && a.runtime_argc < argc);
      FUZZ_CHECK (a.runtime_argv + a.runtime_argc == argv + argc);
      FUZZ_CHECK (a.hook.path[0] == '/' && a.runtime[0]);
      FUZZ_CHECK (!a.command || (a.command >= text && a.command < text + size + 1));
      FUZZ_CHECK (!a.bundle || moat_shim_command_creates (a.command));
      FUZZ_CHECK (json_array_size (a.hook.env) >= 1);
      moat_shim_args_free (&a);
    }
  else
    FUZZ_CHECK (err.code == MOAT_E_ENV && err.msg[0]);
  {
    const char *log;
    bool json;

    moat_shim_find_log (argc, argv, &log, &json);
    FUZZ_CHECK (!log || *log);
  }
  free (text);
}

static bool
has_hook (const json_t *config, const char *stage)
{
  const json_t *list = json_object_get (json_object_get (config, "hooks"), stage);
  size_t i;
  json_t *h;

  json_array_foreach ((json_t *)list, i, h)
  {
    const char *p = json_string_value (json_object_get (h, "path"));

    if (p && strcmp (p, HOOK) == 0)
      return true;
  }
  return false;
}

/* Every run of digits in out is in the input: numbers are written back as
 * they came (the hook adds none). */
static void
check_digits_kept (const uint8_t *data, size_t size, const char *out)
{
  for (const char *p = out; *p;)
    {
      size_t n = strspn (p, "0123456789");

      FUZZ_CHECK (n == 0 || memmem (data, size, p, n) != NULL);
      p += n ? n : 1;
    }
}

/* Input and output are equal but for "hooks" (read with every number as a
 * double: jansson's integers stop at 63 bits). */
static void
check_rest_kept (const uint8_t *data, size_t size, const char *out)
{
  const size_t flags = JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL;
  json_t *before = json_loadb ((const char *)data, size, flags, NULL);
  json_t *after = json_loads (out, flags, NULL);
  bool wants = false;
  moat_err_t err = { 0 };

  check_digits_kept (data, size, out);
  /* A number beyond a double's range: jansson cannot compare. */
  if (!before)
    {
      json_decref (after);
      return;
    }
  FUZZ_CHECK (after != NULL);
  FUZZ_CHECK (has_hook (after, "prestart") && has_hook (after, "poststop"));
  FUZZ_CHECK (moat_shim_config_wants_moat (after, &wants, &err) == 0 && wants);
  json_object_del (before, "hooks");
  json_object_del (after, "hooks");
  FUZZ_CHECK (json_equal (before, after));
  json_decref (before);
  json_decref (after);
}

static void
fuzz_config (const uint8_t *data, size_t size)
{
  struct moat_shim_hook hook = { .path = HOOK, .env = json_pack ("[s]", "MOAT_RUN_DIR=/r") };
  moat_err_t err = { 0 };
  char *out = NULL, *again = NULL;

  FUZZ_CHECK (hook.env != NULL);
  if (moat_shim_edit_text ((const char *)data, size, NAME, &hook, &out, &err) < 0)
    FUZZ_CHECK (strncmp (err.msg, NAME ": ", strlen (NAME) + 2) == 0);
  else if (out)
    {
      check_rest_kept (data, size, out);
      FUZZ_CHECK (moat_shim_edit_text (out, strlen (out), NAME, &hook, &again, &err) == 0);
      FUZZ_CHECK (again == NULL);
      free (out);
    }
  json_decref (hook.env);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  if (data[0] == 'a')
    fuzz_argv (data + 1, size - 1);
  else
    fuzz_config (data + 1, size - 1);
  return 0;
}
