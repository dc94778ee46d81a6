/* SPDX-License-Identifier: Apache-2.0 */
/* moat-runtime: the docker shim. Adds moat-hook to the bundle's
 * config.json of a container that asks for moat, then execs runc with the
 * command line it was given. All the logic lives in runtime/shim.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "shim.h"

extern char **environ;

static const char usage[]
    = "Usage: moat-runtime [--moat-hook PATH] [--moat-runtime PATH] [--moat-env K=V]...\n"
      "                    RUNC-ARGS...\n"
      "       moat-runtime --help | --version\n"
      "\n"
      "An OCI runtime for dockerd (daemon.json \"runtimes\") that runs runc. For `create`\n"
      "and `run`, a container that asks for moat (an io.moat.* annotation, or MOAT_* in\n"
      "its environment, e.g. `docker run -e MOAT_NETWORK=NAME`) gets moat-hook at\n"
      "prestart and poststop in its config.json first. Every other command goes to\n"
      "runc unchanged.\n"
      "\n"
      "  --moat-hook PATH     the hook to add (default: the moat-hook installed with\n"
      "                       moat-runtime, ../libexec/moat/moat-hook from its\n"
      "                       directory, else " MOAT_HOOK_PATH ")\n"
      "  --moat-runtime PATH  the runtime to run (default runc, found in PATH)\n"
      "  --moat-env K=V       set K in the hook's environment (repeatable; MOAT_RUN_DIR,\n"
      "                       MOAT_NETWORK_DIRS and CNI_PATH are passed on from\n"
      "                       moat-runtime's own environment)\n"
      "\n"
      "These options come first (daemon.json's runtimeArgs); the rest is runc's command\n"
      "line. See moat-runtime(8), and share/moat/docker/README.md for a guide.\n";

/* logrus' text format: time="..." level=error msg="...", with '"' and '\\'
 * in the message escaped. */
static char *
text_log_line (const char *stamp, const char *msg)
{
  size_t len = strlen (msg);
  _cleanup_free_ char *quoted = malloc (2 * len + 1);
  char *p = quoted, *line = NULL;

  if (!quoted)
    return NULL;
  for (const char *m = msg; *m; m++)
    {
      if (*m == '"' || *m == '\\')
        *p++ = '\\';
      *p++ = *m;
    }
  *p = '\0';
  if (asprintf (&line, "time=\"%s\" level=error msg=\"%s\"", stamp, quoted) < 0)
    return NULL;
  return line;
}

/* An error also goes to runc's --log, where containerd looks for the reason
 * a runtime failed (docker run prints it), in the format asked for. */
static void
log_error (const char *path, bool json, const char *msg)
{
  _cleanup_close_ int fd = -1;
  _cleanup_free_ char *line = NULL;
  char stamp[64];
  struct timespec now;
  struct tm tm;

  if (!path)
    return;
  clock_gettime (CLOCK_REALTIME, &now);
  gmtime_r (&now.tv_sec, &tm);
  strftime (stamp, sizeof (stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (json)
    {
      json_t *j = json_pack ("{s:s, s:s, s:s}", "level", "error", "msg", msg, "time", stamp);

      line = j ? json_dumps (j, JSON_COMPACT) : NULL;
      json_decref (j);
    }
  else
    line = text_log_line (stamp, msg);
  fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  if (line && fd >= 0)
    dprintf (fd, "%s\n", line);
}

static int
fail (int argc, char **argv, const moat_err_t *err)
{
  char msg[sizeof (err->msg) + 16];
  const char *log_path;
  bool json;

  snprintf (msg, sizeof (msg), "moat-runtime: %s", err->msg);
  fprintf (stderr, "%s\n", msg);
  syslog (LOG_ERR, "%s", err->msg);
  moat_shim_find_log (argc, argv, &log_path, &json);
  log_error (log_path, json, msg);
  return 1;
}

static int
exec_runtime (const struct moat_shim_args *a, moat_err_t *err)
{
  _cleanup_free_ char **argv = calloc ((size_t)a->runtime_argc + 2, sizeof (char *));

  if (!argv)
    return moat_error (err, MOAT_E_IO, ENOMEM, "runtime %s", a->runtime);
  argv[0] = (char *)a->runtime;
  memcpy (argv + 1, a->runtime_argv, (size_t)a->runtime_argc * sizeof (char *));
  execvp (a->runtime, argv);
  return moat_error (err, MOAT_E_IO, errno, "cannot run %s", a->runtime);
}

int
main (int argc, char **argv)
{
  struct moat_shim_args a;
  moat_err_t err = { 0 };
  _cleanup_free_ char *hook = NULL;
  int ret;

  openlog ("moat-runtime", LOG_PID, LOG_DAEMON);
  if (moat_shim_args_parse (argc, argv, environ, &a, &err) < 0)
    return fail (argc, argv, &err);
  if (!a.hook_given)
    {
      if (moat_hook_installed_with ("/proc/self/exe", &hook, &err) < 0)
        {
          moat_shim_args_free (&a);
          return fail (argc, argv, &err);
        }
      a.hook.path = hook;
    }
  if (a.help || a.version)
    {
      if (a.help)
        fputs (usage, stdout);
      else
        printf ("moat-runtime version %s\nhook: %s\nruntime: %s\n", MOAT_VERSION, a.hook.path,
                a.runtime);
      moat_shim_args_free (&a);
      return 0;
    }
  if (moat_shim_command_creates (a.command)
      && moat_shim_edit_bundle (a.bundle, &a.hook, NULL, &err) < 0)
    {
      moat_shim_args_free (&a);
      return fail (argc, argv, &err);
    }
  /* The hook's environment is in config.json by now. */
  json_decref (TAKE_PTR (a.hook.env));
  ret = exec_runtime (&a, &err);
  moat_shim_args_free (&a);
  return ret < 0 ? fail (argc, argv, &err) : 0;
}
