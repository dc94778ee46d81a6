/* SPDX-License-Identifier: Apache-2.0 */
/* moat-runtime's logic: its command line, and the config.json edit (see
 * shim.h). */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "base/jsonnum.h"
#include "model/hosts.h"

#define ANNOT_PREFIX "io.moat."
#define ENV_PREFIX "MOAT_"

/* ------------------------------------------------------------ command line */

/* Matches "--NAME", "-NAME" (Go's flag package takes both), with or without
 * "=VALUE". Sets *ret_value to what follows '=', else NULL. */
static bool
flag_is (const char *arg, const char *name, const char **ret_value)
{
  size_t n = strlen (name);

  if (arg[0] != '-')
    return false;
  arg += arg[1] == '-' ? 2 : 1;
  if (strncmp (arg, name, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
    return false;
  *ret_value = arg[n] == '=' ? arg + n + 1 : NULL;
  return true;
}

/* runc's global options that take a value (runc 1.1: --log, --log-format,
 * --root, --criu, --rootless); the rest are booleans. */
static bool
global_flag_takes_value (const char *arg)
{
  static const char *const names[] = { "log", "log-format", "root", "criu", "rootless" };
  const char *value;

  for (size_t i = 0; i < ARRAY_SIZE (names); i++)
    if (flag_is (arg, names[i], &value))
      return value == NULL;
  return false;
}

/* Options of create and run that take a value, besides --bundle. */
static bool
create_flag_takes_value (const char *arg)
{
  static const char *const names[] = { "console-socket", "pid-file", "preserve-fds" };
  const char *value;

  for (size_t i = 0; i < ARRAY_SIZE (names); i++)
    if (flag_is (arg, names[i], &value))
      return value == NULL;
  return false;
}

void
moat_shim_find_log (int argc, char **argv, const char **ret_path, bool *ret_json)
{
  const char *path = NULL, *format = NULL, *value;
  int i = 1;

  while (i < argc && strncmp (argv[i], "--moat-", 7) == 0)
    i += strchr (argv[i], '=') ? 1 : 2;
  for (; i < argc && argv[i][0] == '-' && strcmp (argv[i], "--") != 0; i++)
    {
      const char **slot = flag_is (argv[i], "log", &value)          ? &path
                          : flag_is (argv[i], "log-format", &value) ? &format
                                                                    : NULL;

      if (slot && !value && i + 1 < argc)
        value = argv[++i];
      if (slot)
        *slot = value;
      else if (global_flag_takes_value (argv[i]))
        i++;
    }
  *ret_path = path && *path ? path : NULL;
  *ret_json = format && strcmp (format, "json") == 0;
}

bool
moat_shim_command_creates (const char *command)
{
  return command && (strcmp (command, "create") == 0 || strcmp (command, "run") == 0);
}

/* The bundle among a create's or run's arguments (after the command). Like
 * runc (urfave/cli puts flags before positional arguments), flags may
 * follow the container id; "--" ends them; the last --bundle wins. */
static int
find_bundle (int argc, char **argv, const char **ret_bundle, moat_err_t *err)
{
  const char *bundle = NULL, *value;

  for (int i = 0; i < argc && strcmp (argv[i], "--") != 0; i++)
    {
      if (flag_is (argv[i], "bundle", &value) || flag_is (argv[i], "b", &value))
        {
          if (!value && i + 1 >= argc)
            return moat_error (err, MOAT_E_ENV, 0, "%s: missing value", argv[i]);
          bundle = value ? value : argv[++i];
        }
      else if (create_flag_takes_value (argv[i]))
        i++;
    }
  *ret_bundle = bundle;
  return 0;
}

/* Finds runc's command word after its global options, and the bundle of a
 * create or run. */
static int
parse_runtime_argv (struct moat_shim_args *a, moat_err_t *err)
{
  int i = 0;

  while (i < a->runtime_argc && a->runtime_argv[i][0] == '-' && a->runtime_argv[i][1] != '\0')
    {
      if (strcmp (a->runtime_argv[i], "--") == 0)
        {
          i++;
          break;
        }
      i += global_flag_takes_value (a->runtime_argv[i]) ? 2 : 1;
    }
  if (i >= a->runtime_argc)
    return 0;
  a->command = a->runtime_argv[i];
  if (!moat_shim_command_creates (a->command))
    return 0;
  if (find_bundle (a->runtime_argc - i - 1, a->runtime_argv + i + 1, &a->bundle, err) < 0)
    return moat_error_prefix (err, "%s", a->command);
  return 0;
}

int
moat_shim_env_set (json_t *env, const char *entry, moat_err_t *err)
{
  const char *eq = strchr (entry, '=');
  size_t name_len, i;
  json_t *item;

  if (!eq || eq == entry)
    return moat_error (err, MOAT_E_ENV, 0, "\"%s\": want NAME=VALUE", entry);
  name_len = (size_t)(eq - entry) + 1;
  json_array_foreach (env, i, item)
  {
    const char *s = json_string_value (item);

    if (s && strncmp (s, entry, name_len) == 0)
      return json_array_set_new (env, i, json_string (entry)) == 0
                 ? 0
                 : moat_error (err, MOAT_E_ENV, 0, "\"%s\": not valid UTF-8", entry);
  }
  if (json_array_append_new (env, json_string (entry)) < 0)
    return moat_error (err, MOAT_E_ENV, 0, "\"%s\": not valid UTF-8", entry);
  return 0;
}

/* The hook's environment before any --moat-env: PATH, and the variables
 * moat-runtime passes on from envp. */
static int
default_hook_env (json_t *env, char *const *envp, moat_err_t *err)
{
  static const char *const forward[] = { MOAT_SHIM_FORWARD_ENV };

  if (moat_shim_env_set (env, MOAT_SHIM_DEFAULT_PATH, err) < 0)
    return -1;
  for (size_t k = 0; envp && envp[k]; k++)
    for (size_t i = 0; i < ARRAY_SIZE (forward); i++)
      {
        size_t n = strlen (forward[i]);

        if (strncmp (envp[k], forward[i], n) == 0 && envp[k][n] == '='
            && moat_shim_env_set (env, envp[k], err) < 0)
          return moat_error_prefix (err, "environment");
      }
  return 0;
}

/* One of moat's options at argv[*i]: 1 when it was one (and *i moved past
 * its value), 0 when argv[*i] is not a moat option. */
static int
parse_moat_option (int argc, char **argv, int *i, struct moat_shim_args *a, moat_err_t *err)
{
  static const char *const names[] = { "moat-hook", "moat-runtime", "moat-env" };
  const char *arg = argv[*i], *value = NULL;
  size_t k;

  if (strncmp (arg, "--moat-", 7) != 0)
    return 0;
  for (k = 0; k < ARRAY_SIZE (names); k++)
    if (flag_is (arg, names[k], &value))
      break;
  if (k == ARRAY_SIZE (names))
    return moat_error (err, MOAT_E_ENV, 0, "%s: unknown option (moat-runtime --help)", arg);
  if (!value)
    {
      if (*i + 1 >= argc)
        return moat_error (err, MOAT_E_ENV, 0, "--%s: missing value", names[k]);
      value = argv[++*i];
    }
  if (k == 0 || k == 1)
    {
      if (!*value)
        return moat_error (err, MOAT_E_ENV, 0, "--%s: empty value", names[k]);
      if (k == 0 && value[0] != '/')
        return moat_error (err, MOAT_E_ENV, 0, "--moat-hook \"%s\": must be an absolute path",
                           value);
      *(k == 0 ? &a->hook.path : &a->runtime) = value;
      a->hook_given |= k == 0;
      return 1;
    }
  if (moat_shim_env_set (a->hook.env, value, err) < 0)
    return moat_error_prefix (err, "--moat-env");
  return 1;
}

int
moat_shim_args_parse (int argc, char **argv, char *const *envp, struct moat_shim_args *ret,
                      moat_err_t *err)
{
  struct moat_shim_args a = { .hook = { .path = MOAT_HOOK_PATH }, .runtime = "runc" };
  int i = 1, r;

  a.hook.env = json_array ();
  if (!a.hook.env)
    return moat_error (err, MOAT_E_ENV, ENOMEM, "hook environment");
  if (default_hook_env (a.hook.env, envp, err) < 0)
    goto fail;
  while (i < argc && (r = parse_moat_option (argc, argv, &i, &a, err)) != 0)
    {
      if (r < 0)
        goto fail;
      i++;
    }
  a.runtime_argv = argv + i;
  a.runtime_argc = argc - i;
  if (a.runtime_argc == 1)
    {
      a.help = strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0;
      a.version = strcmp (argv[i], "--version") == 0 || strcmp (argv[i], "-v") == 0;
    }
  if (parse_runtime_argv (&a, err) < 0)
    goto fail;
  *ret = a;
  return 0;

fail:
  json_decref (a.hook.env);
  return -1;
}

void
moat_shim_args_free (struct moat_shim_args *args)
{
  json_decref (args->hook.env);
  args->hook.env = NULL;
}

/* ------------------------------------------------------------ config.json */

/* Case-insensitive, as moat-hook reads the prefix (annot.h). */
static bool
annotations_ask (const json_t *annotations)
{
  const char *key;
  json_t *value;

  json_object_foreach ((json_t *)annotations, key, value)
  {
    if (strncasecmp (key, ANNOT_PREFIX, strlen (ANNOT_PREFIX)) == 0)
      return true;
  }
  return false;
}

static int
env_asks (const json_t *env, bool *ret_asks, moat_err_t *err)
{
  size_t i;
  json_t *item;

  *ret_asks = false;
  json_array_foreach ((json_t *)env, i, item)
  {
    const char *s = json_string_value (item);

    if (!s)
      return moat_error (err, MOAT_E_CONFIG, 0, "process.env[%zu]: must be a string", i);
    if (strncmp (s, ENV_PREFIX, strlen (ENV_PREFIX)) == 0 && strchr (s, '='))
      *ret_asks = true;
  }
  return 0;
}

int
moat_shim_config_wants_moat (const json_t *config, bool *ret_wants, moat_err_t *err)
{
  const json_t *annotations, *process, *env;
  bool asks = false;

  if (!json_is_object (config))
    return moat_error (err, MOAT_E_CONFIG, 0, "must be a JSON object");
  annotations = json_object_get (config, "annotations");
  if (annotations && !json_is_object (annotations) && !json_is_null (annotations))
    return moat_error (err, MOAT_E_CONFIG, 0, "annotations: must be an object");
  process = json_object_get (config, "process");
  if (process && !json_is_object (process) && !json_is_null (process))
    return moat_error (err, MOAT_E_CONFIG, 0, "process: must be an object");
  env = json_is_object (process) ? json_object_get (process, "env") : NULL;
  if (env && !json_is_array (env) && !json_is_null (env))
    return moat_error (err, MOAT_E_CONFIG, 0, "process.env: must be an array");
  if (json_is_array (env) && env_asks (env, &asks, err) < 0)
    return -1;
  *ret_wants = asks || (json_is_object (annotations) && annotations_ask (annotations));
  return 0;
}

/* The stage's hook list, created when absent or null. */
static int
stage_list (json_t *hooks, const char *stage, json_t **ret_list, moat_err_t *err)
{
  json_t *list = json_object_get (hooks, stage);

  if (list && !json_is_array (list) && !json_is_null (list))
    return moat_error (err, MOAT_E_CONFIG, 0, "hooks.%s: must be an array", stage);
  if (!json_is_array (list))
    {
      list = json_array ();
      if (!list || json_object_set_new (hooks, stage, list) < 0)
        return moat_error (err, MOAT_E_CONFIG, ENOMEM, "hooks.%s", stage);
    }
  *ret_list = list;
  return 0;
}

static bool
list_has_path (const json_t *list, const char *path)
{
  size_t i;
  json_t *h;

  json_array_foreach ((json_t *)list, i, h)
  {
    const char *p = json_string_value (json_object_get (h, "path"));

    if (p && strcmp (p, path) == 0)
      return true;
  }
  return false;
}

static json_t *
hook_entry (const struct moat_shim_hook *hook, const char *stage)
{
  return json_pack ("{s:s, s:[s, s], s:O}", "path", hook->path, "args", "moat-hook", stage, "env",
                    hook->env);
}

int
moat_shim_config_add_hooks (json_t *config, const struct moat_shim_hook *hook, bool *ret_changed,
                            moat_err_t *err)
{
  static const char *const stages[] = { "prestart", "poststop" };
  json_t *hooks, *lists[ARRAY_SIZE (stages)];
  bool changed = false;

  if (!json_is_object (config))
    return moat_error (err, MOAT_E_CONFIG, 0, "must be a JSON object");
  hooks = json_object_get (config, "hooks");
  if (hooks && !json_is_object (hooks) && !json_is_null (hooks))
    return moat_error (err, MOAT_E_CONFIG, 0, "hooks: must be an object");
  /* Every type checked before anything is added: an error changes nothing
   * (a null list replaced by [] is no change). */
  for (size_t s = 0; json_is_object (hooks) && s < ARRAY_SIZE (stages); s++)
    {
      json_t *list = json_object_get (hooks, stages[s]);

      if (list && !json_is_array (list) && !json_is_null (list))
        return moat_error (err, MOAT_E_CONFIG, 0, "hooks.%s: must be an array", stages[s]);
    }
  if (!json_is_object (hooks))
    {
      hooks = json_object ();
      if (!hooks || json_object_set_new (config, "hooks", hooks) < 0)
        return moat_error (err, MOAT_E_CONFIG, ENOMEM, "hooks");
    }
  for (size_t s = 0; s < ARRAY_SIZE (stages); s++)
    if (stage_list (hooks, stages[s], &lists[s], err) < 0)
      return -1;
  for (size_t s = 0; s < ARRAY_SIZE (stages); s++)
    {
      if (list_has_path (lists[s], hook->path))
        continue;
      if (json_array_append_new (lists[s], hook_entry (hook, stages[s])) < 0)
        return moat_error (err, MOAT_E_CONFIG, ENOMEM, "hooks.%s", stages[s]);
      changed = true;
    }
  *ret_changed = changed;
  return 0;
}

/* ------------------------------------------------------------ docker's names */

/* The directory dockerd keeps the container's files in, from config.json's
 * /etc/hosts bind mount (<data-root>/containers/<id>/hosts); NULL when
 * there is none (not dockerd). */
static char *
docker_container_dir (const json_t *config)
{
  json_t *mounts = json_object_get (config, "mounts"), *m;
  size_t i;

  json_array_foreach (mounts, i, m)
  {
    const char *dest = json_string_value (json_object_get (m, "destination"));
    const char *src = json_string_value (json_object_get (m, "source"));
    size_t n = src ? strlen (src) : 0;

    if (dest && strcmp (dest, "/etc/hosts") == 0 && src[0] == '/' && n > 6
        && strcmp (src + n - 6, "/hosts") == 0)
      return strndup (src, n - 6);
  }
  return NULL;
}

/* Sets annotations[key] = value unless the container set it already. */
static int
annotation_default (json_t *config, const char *key, const char *value, bool *changed,
                    moat_err_t *err)
{
  json_t *a = json_object_get (config, "annotations");

  if (!json_is_object (a))
    {
      a = json_object ();
      if (!a || json_object_set_new (config, "annotations", a) < 0)
        return moat_error (err, MOAT_E_IO, ENOMEM, "annotations");
    }
  if (json_object_get (a, key))
    return 0;
  if (json_object_set_new (a, key, json_string (value)) < 0)
    return moat_error (err, MOAT_E_IO, ENOMEM, "annotations");
  *changed = true;
  return 0;
}

int
moat_shim_docker_names (json_t *config, const json_t *v2, bool *ret_changed, moat_err_t *err)
{
  const char *name = json_string_value (json_object_get (v2, "Name"));
  json_t *labels = json_object_get (json_object_get (v2, "Config"), "Labels");
  const char *service = json_string_value (json_object_get (labels, "com.docker.compose.service"));

  *ret_changed = false;
  if (name && name[0] == '/')
    name++;
  /* A name that is not a DNS label (docker allows '.') is not served:
   * the hook would refuse it as io.moat.name. */
  if (name && moat_dns_label_valid (name)
      && annotation_default (config, ANNOT_PREFIX "name", name, ret_changed, err) < 0)
    return -1;
  if (service && moat_dns_label_valid (service)
      && annotation_default (config, ANNOT_PREFIX "aliases", service, ret_changed, err) < 0)
    return -1;
  return 0;
}

/* dockerd 20.10 does not hand the container's name to the runtime; it
 * writes it in config.v2.json next to the hosts file config.json mounts. */
static int
add_docker_names (json_t *config, bool *changed, moat_err_t *err)
{
  _cleanup_free_ char *dir = docker_container_dir (config);
  json_auto_t *v2 = NULL;
  char path[PATH_MAX];
  bool added = false;

  if (!dir || (size_t)snprintf (path, sizeof (path), "%s/config.v2.json", dir) >= sizeof (path))
    return 0;
  v2 = json_load_file (path, 0, NULL);
  if (!v2)
    return 0; /* not dockerd's, or unreadable: no names, as before */
  if (moat_shim_docker_names (config, v2, &added, err) < 0)
    return -1;
  *changed = *changed || added;
  return 0;
}

int
moat_shim_edit_text (const char *text, size_t len, const char *name,
                     const struct moat_shim_hook *hook, char **ret_text, moat_err_t *err)
{
  _cleanup_ (moat_json_numbers_free) struct moat_json_numbers numbers = { 0 };
  json_auto_t *config = NULL, *typed = NULL;
  json_error_t jerr;
  bool wants = false, changed = false;
  char *out;

  /* Numbers jansson cannot hold (docker's 18446744073709551615) are kept
   * as written (jsonnum.h); the checks see them as numbers. */
  config = moat_json_loadb_numbers (text, len, 0, &numbers, &jerr);
  if (!config)
    return moat_error (err, MOAT_E_DECODE, 0, "%s: line %d: %s", name, jerr.line, jerr.text);
  typed = numbers.n ? json_deep_copy (config) : json_incref (config);
  if (!typed || moat_json_numbers_as_reals (typed, &numbers) < 0)
    return moat_error (err, MOAT_E_IO, ENOMEM, "%s", name);
  if (moat_shim_config_wants_moat (typed, &wants, err) < 0)
    return moat_error_prefix (err, "%s", name);
  if (wants
      && (moat_shim_config_add_hooks (config, hook, &changed, err) < 0
          || add_docker_names (config, &changed, err) < 0))
    return moat_error_prefix (err, "%s", name);
  *ret_text = NULL;
  if (!changed)
    return 0;
  out = moat_json_dumps_numbers (config, JSON_COMPACT, &numbers);
  if (!out)
    return moat_error (err, MOAT_E_IO, ENOMEM, "%s", name);
  *ret_text = out;
  return 0;
}

/* ------------------------------------------------------------ the file */

/* Reads the whole of fd (a regular file of st_size bytes, at most
 * MOAT_SHIM_CONFIG_MAX) into a NUL-terminated buffer. */
static int
read_config (int fd, const char *path, off_t size, char **ret_text, size_t *ret_len,
             moat_err_t *err)
{
  if (size > MOAT_SHIM_CONFIG_MAX)
    return moat_error (err, MOAT_E_IO, 0, "%s: larger than %d MiB", path,
                       MOAT_SHIM_CONFIG_MAX >> 20);
  if (moat_read_fd (fd, (size_t)size, ret_text, ret_len) < 0)
    return errno == EFBIG ? moat_error (err, MOAT_E_IO, 0, "%s: grew while being read", path)
                          : moat_error (err, MOAT_E_IO, errno, "%s", path);
  return 0;
}

/* Replaces path by text: a temporary file next to it, with its mode and
 * owner, renamed over it. */
static int
replace_file (const char *path, const struct stat *st, const char *text, moat_err_t *err)
{
  char tmp[PATH_MAX];
  int fd, saved;

  if ((size_t)snprintf (tmp, sizeof (tmp), "%s.moat-XXXXXX", path) >= sizeof (tmp))
    return moat_error (err, MOAT_E_IO, ENAMETOOLONG, "%s", path);
  fd = mkostemp (tmp, O_CLOEXEC);
  if (fd < 0)
    return moat_error (err, MOAT_E_IO, errno, "%s: cannot create a temporary file", path);
  if (fchmod (fd, st->st_mode & 07777) < 0
      || ((st->st_uid != geteuid () || st->st_gid != getegid ())
          && fchown (fd, st->st_uid, st->st_gid) < 0))
    {
      saved = errno;
      close (fd);
      unlink (tmp);
      return moat_error (err, MOAT_E_IO, saved, "%s: cannot replace", path);
    }
  if (moat_file_commit_at (AT_FDCWD, fd, tmp, path, text, strlen (text), 0, NULL) < 0)
    return moat_error (err, MOAT_E_IO, errno, "%s: cannot replace", path);
  return 0;
}

/* The hook must be there when it is added: a missing one would fail the
 * container's start later with a less helpful message. */
static int
hook_check (const struct moat_shim_hook *hook, moat_err_t *err)
{
  if (hook->path[0] != '/')
    return moat_error (err, MOAT_E_ENV, 0, "moat-hook \"%s\": must be an absolute path",
                       hook->path);
  if (access (hook->path, X_OK) < 0)
    return moat_error (err, MOAT_E_ENV, errno, "moat-hook %s", hook->path);
  return 0;
}

int
moat_shim_edit_bundle (const char *bundle, const struct moat_shim_hook *hook, bool *ret_changed,
                       moat_err_t *err)
{
  char path[PATH_MAX];
  _cleanup_close_ int fd = -1;
  _cleanup_free_ char *text = NULL, *out = NULL;
  size_t len = 0;
  struct stat st;

  if (!bundle || !*bundle)
    bundle = ".";
  if ((size_t)snprintf (path, sizeof (path), "%s/config.json", bundle) >= sizeof (path))
    return moat_error (err, MOAT_E_IO, ENAMETOOLONG, "bundle %s", bundle);
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return moat_error (err, MOAT_E_IO, errno, "%s", path);
  if (fstat (fd, &st) < 0)
    return moat_error (err, MOAT_E_IO, errno, "%s", path);
  if (!S_ISREG (st.st_mode))
    return moat_error (err, MOAT_E_IO, 0, "%s: not a regular file", path);
  if (read_config (fd, path, st.st_size, &text, &len, err) < 0
      || moat_shim_edit_text (text, len, path, hook, &out, err) < 0)
    return -1;
  if (out && (hook_check (hook, err) < 0 || replace_file (path, &st, out, err) < 0))
    return -1;
  if (ret_changed)
    *ret_changed = out != NULL;
  return 0;
}
