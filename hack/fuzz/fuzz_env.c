/* SPDX-License-Identifier: Apache-2.0 */
/* The CNI_* environment. The input is the values of CNI_COMMAND,
 * CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS and CNI_PATH in that
 * order, separated by NUL bytes (which no environment value can hold); a
 * variable past the last field is unset. The variables are unset again
 * afterwards. */
#include "base/ifname.h"
#include "base/cleanup.h"
#include "model/config.h"
#include "fuzz.h"
#include "model/result.h"

static const char *const names[]
    = { "CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH" };

static void
unset_all (void)
{
  for (size_t i = 0; i < ARRAY_SIZE (names); i++)
    unsetenv (names[i]);
}

/* putenv, not setenv: glibc never frees the strings setenv copies, and
 * millions of distinct values would exhaust memory. Entries we put are
 * ours to free once unset. */
static void
set_all (const uint8_t *data, size_t size, char *entries[])
{
  size_t pos = 0;

  for (size_t i = 0; i < ARRAY_SIZE (names) && pos <= size; i++)
    {
      const uint8_t *end = memchr (data + pos, '\0', size - pos);
      size_t len = end ? (size_t)(end - (data + pos)) : size - pos;
      size_t name_len = strlen (names[i]);

      entries[i] = malloc (name_len + 1 + len + 1);
      FUZZ_CHECK (entries[i] != NULL);
      memcpy (entries[i], names[i], name_len);
      entries[i][name_len] = '=';
      memcpy (entries[i] + name_len + 1, data + pos, len);
      entries[i][name_len + 1 + len] = '\0';
      FUZZ_CHECK (putenv (entries[i]) == 0);
      pos += len + 1;
    }
}

static void
check_env (const struct moat_cni_env *env)
{
  bool per_container = env->command == MOAT_CMD_ADD || env->command == MOAT_CMD_DEL
                       || env->command == MOAT_CMD_CHECK;

  FUZZ_CHECK (env->command <= MOAT_CMD_STATUS);
  if (env->command == MOAT_CMD_VERSION)
    return;
  if (per_container)
    {
      FUZZ_CHECK (env->container_id && moat_container_id_valid (env->container_id));
      FUZZ_CHECK (env->ifname && moat_ifname_valid (env->ifname));
    }
  if (env->command == MOAT_CMD_ADD || env->command == MOAT_CMD_CHECK)
    FUZZ_CHECK (env->netns && *env->netns);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *entries[ARRAY_SIZE (names)] = { NULL };
  struct moat_cni_env env;
  moat_err_t err = { 0 };

  unset_all ();
  set_all (data, size, entries);
  if (moat_cni_env_read (&env, &err) == 0)
    check_env (&env);
  else
    {
      json_auto_t *j = moat_error_result (MOAT_CNI_VERSION, &err, NULL);

      FUZZ_CHECK (err.code == MOAT_E_ENV && err.msg[0]);
      FUZZ_CHECK (j != NULL); /* else the plugin prints no CNI error at all */
    }
  unset_all ();
  for (size_t i = 0; i < ARRAY_SIZE (names); i++)
    free (entries[i]);
  return 0;
}
