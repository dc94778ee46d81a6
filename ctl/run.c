/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl run: a plain process under moat's policy (run.h). */

#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "model/annot.h"
#include "words.h"

#define EXIT_RUN_FAILED 125

extern char **environ;

struct run_opts
{
  const char *network, *name, *user;
  json_t *annotations; /* io.moat.* */
  json_t *labels;      /* "k=v" strings */
  char **cmd;
};

static int
run_error (const char *fmt, const char *what)
{
  fprintf (stderr, "moatctl run: ");
  fprintf (stderr, fmt, what);
  fputc ('\n', stderr);
  return -1;
}

/* --- the words ------------------------------------------------------------ */

/* One option at argv[*i]: 1 taken, 0 not an option of run, -1 refused. */
static int
take_option (struct run_opts *o, int argc, char **argv, int *i)
{
  static const char *const names[]
      = { "--network", "--name", "--user", "--label", "--annotation", NULL };

  for (size_t k = 0; names[k]; k++)
    {
      const char *v = moat_ctl_option_value (argc, argv, i, names[k]);
      const char *why;

      if (!v)
        continue;
      if (!*v)
        return run_error ("%s: wants a value", names[k]);
      switch (k)
        {
        case 0:
          o->network = v;
          return 1;
        case 1:
          o->name = v;
          return 1;
        case 2:
          o->user = v;
          return 1;
        case 3:
          why = moat_ctl_label_take (o->labels, v);
          return why ? run_error (why, v) : 1;
        default:
          why = moat_ctl_annotation_take (o->annotations, v);
          return why ? run_error (why, v) : 1;
        }
    }
  return 0;
}

static int
parse_run (int argc, char **argv, struct run_opts *o)
{
  int i;

  for (i = 0; i < argc && strcmp (argv[i], "--") != 0; i++)
    {
      int r = take_option (o, argc, argv, &i);

      if (r < 0)
        return -1;
      if (r == 0)
        return run_error ("\"%s\": unknown option (the command follows --)", argv[i]);
    }
  if (!o->network)
    return run_error ("%s", "--network NAME is required");
  if (i >= argc - 1)
    return run_error ("%s", "no command: want -- CMD [ARG...]");
  o->cmd = argv + i + 1;
  return 0;
}

/* The io.moat.* annotations the hook reads: --annotation's, the labels
 * (after an io.moat.labels annotation's), the network and the name. */
static int
annotations_final (struct run_opts *o)
{
  json_t *given = json_object_get (o->annotations, MOAT_ANNOT_PREFIX "labels");
  _cleanup_free_ char *labels = NULL;
  size_t i, len = 0;
  json_t *l;
  FILE *f = open_memstream (&labels, &len);

  if (!f)
    return -1;
  if (given)
    fputs (json_string_value (given), f);
  json_array_foreach (o->labels, i, l)
      fprintf (f, "%s%s", (given || i) ? "," : "", json_string_value (l));
  if (fclose (f) != 0)
    return -1;
  if ((len
       && json_object_set_new (o->annotations, MOAT_ANNOT_PREFIX "labels", json_string (labels))
              < 0)
      || json_object_set_new (o->annotations, MOAT_ANNOT_PREFIX "network", json_string (o->network))
             < 0
      || (o->name
          && json_object_set_new (o->annotations, MOAT_ANNOT_PREFIX "name", json_string (o->name))
                 < 0))
    return -1;
  return 0;
}

/* --- the hook ------------------------------------------------------------- */

static bool
executable (const char *path)
{
  return access (path, X_OK) == 0;
}

/* run.h says where the hook is looked for: MOAT_HOOK, moat-hook beside
 * moatctl (a build tree), else the one installed with it. */
static void
hook_path (char *buf, size_t size)
{
  const char *env = getenv ("MOAT_HOOK");
  _cleanup_free_ char *installed = NULL;
  moat_err_t ignored = { 0 };
  char self[PATH_MAX];
  ssize_t n;

  if (env && *env)
    {
      snprintf (buf, size, "%s", env);
      return;
    }
  n = readlink ("/proc/self/exe", self, sizeof (self) - 1);
  if (n > 0)
    {
      self[n] = '\0';
      if ((size_t)snprintf (buf, size, "%s/moat-hook", dirname (self)) < size && executable (buf))
        return;
    }
  if (moat_hook_installed_with ("/proc/self/exe", &installed, &ignored) == 0)
    snprintf (buf, size, "%s", installed);
  else
    snprintf (buf, size, "%s", MOAT_HOOK_PATH);
}

/* Runs `moat-hook STAGE` with the OCI state on its stdin, with the signal
 * mask `mask` (the caller blocks signals it waits for). Its exit status,
 * or -1 when it could not run. */
static int
hook_run (const char *stage, json_t *state, const sigset_t *mask)
{
  _cleanup_free_ char *text = json_dumps (state, JSON_COMPACT);
  char path[PATH_MAX];
  char *const args[] = { path, (char *)stage, NULL };
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int in[2], status, r;
  pid_t pid;

  hook_path (path, sizeof (path));
  if (!text || pipe2 (in, O_CLOEXEC) < 0)
    return -1;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_adddup2 (&fa, in[0], STDIN_FILENO);
  posix_spawnattr_init (&attr);
  posix_spawnattr_setsigmask (&attr, mask);
  posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGMASK);
  r = posix_spawn (&pid, path, &fa, &attr, args, environ);
  posix_spawn_file_actions_destroy (&fa);
  posix_spawnattr_destroy (&attr);
  close (in[0]);
  if (r != 0)
    {
      close (in[1]);
      errno = r;
      fprintf (stderr, "moatctl run: %s: %s\n", path, strerror (r));
      return -1;
    }
  if (write (in[1], text, strlen (text)) < 0)
    r = -1;
  close (in[1]);
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  if (r < 0)
    return -1;
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

static json_t *
oci_state (const char *id, const char *status, pid_t pid, json_t *annotations)
{
  return json_pack ("{s:s, s:s, s:s, s:I, s:s, s:O}", "ociVersion", "1.0.2", "id", id, "status",
                    status, "pid", (json_int_t)pid, "bundle", "", "annotations", annotations);
}

/* --- the process ---------------------------------------------------------- */

/* USER[:GROUP] by name or number. */
static int
become_user (const char *spec)
{
  char user[256], *group;
  struct passwd *pw;
  uid_t uid;
  gid_t gid;

  snprintf (user, sizeof (user), "%s", spec);
  group = strchr (user, ':');
  if (group)
    *group++ = '\0';
  pw = getpwnam (user);
  if (pw)
    uid = pw->pw_uid, gid = pw->pw_gid;
  else if (user[0] >= '0' && user[0] <= '9')
    uid = (uid_t)strtoul (user, NULL, 10), gid = (gid_t)uid;
  else
    return run_error ("--user: no user \"%s\"", user);
  if (group)
    {
      struct group *gr = getgrnam (group);

      if (gr)
        gid = gr->gr_gid;
      else if (group[0] >= '0' && group[0] <= '9')
        gid = (gid_t)strtoul (group, NULL, 10);
      else
        return run_error ("--user: no group \"%s\"", group);
    }
  if ((pw && !group ? initgroups (pw->pw_name, gid) : setgroups (0, NULL)) < 0 || setgid (gid) < 0
      || setuid (uid) < 0)
    return run_error ("--user %s: cannot switch to it", spec);
  return 0;
}

/* The child: a network namespace of its own, then wait for the parent's
 * word (the attachment made), become the user, exec. Never returns. */
static void
child_main (const struct run_opts *o, int ready, int go, const sigset_t *old)
{
  char c = 0;

  if (unshare (CLONE_NEWNET) < 0)
    {
      run_error ("cannot make a network namespace: %s", strerror (errno));
      _exit (EXIT_RUN_FAILED);
    }
  if (write (ready, &c, 1) != 1 || read (go, &c, 1) != 1)
    _exit (EXIT_RUN_FAILED); /* the parent gave up: the hook failed */
  close (ready);
  close (go);
  sigprocmask (SIG_SETMASK, old, NULL);
  if (o->user && become_user (o->user) < 0)
    _exit (EXIT_RUN_FAILED);
  execvp (o->cmd[0], o->cmd);
  fprintf (stderr, "moatctl run: %s: %s\n", o->cmd[0], strerror (errno));
  _exit (errno == ENOENT ? 127 : 126);
}

static const int forwarded[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2 };

/* Waits for the child, passing on the signals moatctl gets (not the ones a
 * terminal sent the whole group: the child got those). Its wait status. */
static int
wait_forwarding (pid_t child, const sigset_t *waited)
{
  int status;

  for (;;)
    {
      siginfo_t si;
      int sig = sigwaitinfo (waited, &si);

      if (sig < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      if (sig == SIGCHLD)
        {
          pid_t r = waitpid (child, &status, WNOHANG);

          if (r == child)
            return status;
          continue;
        }
      if (si.si_code != SI_KERNEL)
        kill (child, sig);
    }
}

static int
random_id (char *buf, size_t size)
{
  unsigned char r[8];

  if (getrandom (r, sizeof (r), 0) != sizeof (r))
    return -1;
  snprintf (buf, size, "moatctl-run-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4],
            r[5], r[6], r[7]);
  return 0;
}

static int
run_attached (struct run_opts *o)
{
  _cleanup_ (json_decrefp) json_t *start = NULL;
  _cleanup_ (json_decrefp) json_t *stop = NULL;
  sigset_t waited, old;
  int ready[2], go[2], status, hook;
  char id[64], c;
  pid_t child;

  if (random_id (id, sizeof (id)) < 0 || pipe2 (ready, O_CLOEXEC) < 0 || pipe2 (go, O_CLOEXEC) < 0)
    return run_error ("%s", "out of resources");
  sigemptyset (&waited);
  sigaddset (&waited, SIGCHLD);
  for (size_t i = 0; i < sizeof (forwarded) / sizeof (forwarded[0]); i++)
    sigaddset (&waited, forwarded[i]);
  sigprocmask (SIG_BLOCK, &waited, &old);
  child = fork ();
  if (child < 0)
    return run_error ("cannot fork: %s", strerror (errno));
  if (child == 0)
    child_main (o, ready[1], go[0], &old);
  close (ready[1]);
  close (go[0]);
  start = oci_state (id, "created", child, o->annotations);
  stop = oci_state (id, "stopped", child, o->annotations);
  if (!start || !stop || read (ready[0], &c, 1) != 1)
    hook = -1;
  else
    hook = hook_run ("prestart", start, &old);
  close (ready[0]);
  if (hook != 0)
    {
      /* Nothing attached (the hook undoes a failed attach): end the child. */
      close (go[1]);
      kill (child, SIGKILL);
      waitpid (child, NULL, 0);
      return -1;
    }
  if (write (go[1], &c, 1) != 1)
    kill (child, SIGKILL);
  close (go[1]);
  status = wait_forwarding (child, &waited);
  if (hook_run ("poststop", stop, &old) != 0)
    fprintf (stderr, "moatctl run: the poststop hook failed: %s is left attached (moatctl gc)\n",
             id);
  if (status < 0)
    return -1;
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

int
moat_ctl_run (int argc, char **argv)
{
  struct run_opts o = { .annotations = json_object (), .labels = json_array () };
  int r = -1;

  if (o.annotations && o.labels && parse_run (argc, argv, &o) == 0)
    {
      if (annotations_final (&o) < 0)
        run_error ("%s", "out of memory");
      else
        r = run_attached (&o);
    }
  json_decref (o.annotations);
  json_decref (o.labels);
  return r < 0 ? EXIT_RUN_FAILED : r;
}
