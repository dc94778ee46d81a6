/* SPDX-License-Identifier: Apache-2.0 */
/* A network's dnsmasq, started and stopped by a launcher forked before
 * confinement (dnsd.h). */
#include "verbs/dnsd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "base/ifname.h"
#include "model/hosts.h"
#include "state/hostsdir.h"
#include "state/rundir.h"

enum verb
{
  VERB_ENSURE = 1,
  VERB_STOP = 2,
};

/* One request and its answer, each one write(2) under PIPE_BUF. */
struct request
{
  int verb;
  char network[256];
  char bridge[IFNAMSIZ];
  bool have_gateway, have_gateway6;
  struct in_addr gateway;
  struct in6_addr gateway6;
  bool forward;
};

struct reply
{
  int code; /* 0, or a moat error code */
  int errnum;
  char msg[512];
};

/* The launcher's fds: request read end, reply write end. */
enum
{
  LAUNCHER_IN = 3,
  LAUNCHER_OUT = 4,
  STOP_WAIT_MS = 2000,
};

/* ---- what a pid file names --------------------------------------------- */

static int
read_pidfile (const char *network, char *pidfile, size_t size, int *ret_pid, moat_err_t *err)
{
  _cleanup_free_ char *text = NULL;
  size_t len;
  char *end;
  long pid;

  *ret_pid = 0;
  if (moat_dns_pidfile_path (pidfile, size, network) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "pid file of network \"%s\"", network);
  if (moat_read_file (pidfile, 64, &text, &len) < 0)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_STATE, errno, "read \"%s\"", pidfile);
  errno = 0;
  pid = strtol (text, &end, 10);
  if (errno || end == text || pid <= 1 || pid > INT_MAX)
    return 0; /* a torn or foreign file: nothing runs for it */
  *ret_pid = (int)pid;
  return 0;
}

/* Whether `pid` is a live dnsmasq run with --pid-file=<pidfile>: a pid
 * file outlives its process, and the pid may be another's since. */
static bool
is_our_dnsmasq (int pid, const char *pidfile)
{
  _cleanup_free_ char *cmdline = NULL, *stat = NULL;
  char path[64], want[4200];
  size_t len, n;
  const char *state;

  snprintf (path, sizeof (path), "/proc/%d/stat", pid);
  if (moat_read_file (path, 4096, &stat, &len) < 0)
    return false;
  state = strrchr (stat, ')');
  if (!state || state[1] != ' ' || state[2] == 'Z' || state[2] == 'X')
    return false; /* a zombie no one reaped yet is gone */
  snprintf (path, sizeof (path), "/proc/%d/cmdline", pid);
  if (moat_read_file (path, 1 << 16, &cmdline, &len) < 0)
    return false;
  n = (size_t)snprintf (want, sizeof (want), "--pid-file=%s", pidfile);
  for (size_t i = 0; i < len; i += strlen (cmdline + i) + 1)
    if (strlen (cmdline + i) == n && memcmp (cmdline + i, want, n) == 0)
      return true;
  return false;
}

int
moat_dnsd_running (const char *network, int *ret_pid, moat_err_t *err)
{
  char pidfile[4096];
  int pid;

  if (read_pidfile (network, pidfile, sizeof (pidfile), &pid, err) < 0)
    return -1;
  if (ret_pid)
    *ret_pid = pid;
  return pid > 0 && is_our_dnsmasq (pid, pidfile) ? 1 : 0;
}

/* ---- the launcher --------------------------------------------------------- */

static void reply_error (struct reply *r, int code, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
reply_error (struct reply *r, int code, int errnum, const char *fmt, ...)
{
  va_list ap;

  r->code = code;
  r->errnum = errnum;
  va_start (ap, fmt);
  vsnprintf (r->msg, sizeof (r->msg), fmt, ap);
  va_end (ap);
}

/* dnsmasq reads hosts.d as its own user: the run directory and the
 * network's may be crossed (x), not listed; hosts.d may be read. */
static int
open_paths (const char *network, struct reply *r)
{
  char dir[4096];
  struct stat st;

  if (moat_state_path (dir, sizeof (dir), network, NULL) < 0)
    {
      reply_error (r, MOAT_E_STATE, ENAMETOOLONG, "state directory of \"%s\"", network);
      return -1;
    }
  const char *const dirs[] = { moat_run_dir (), dir };
  for (size_t i = 0; i < 2; i++)
    if (stat (dirs[i], &st) < 0 || chmod (dirs[i], (st.st_mode & 07777) | 0111) < 0)
      {
        reply_error (r, MOAT_E_STATE, errno, "chmod \"%s\"", dirs[i]);
        return -1;
      }
  if (moat_hostsdir_path (dir, sizeof (dir), network) < 0
      || (mkdir (dir, 0755) < 0 && errno != EEXIST) || chmod (dir, 0755) < 0)
    {
      reply_error (r, MOAT_E_STATE, errno, "hosts directory of network \"%s\"", network);
      return -1;
    }
  return 0;
}

/* What each dnsmasq exit code means (dnsmasq(8), EXIT CODES). */
static const char *
dnsmasq_exit_reason (int code)
{
  switch (code)
    {
    case 1:
      return "configuration problem";
    case 2:
      return "network problem (address in use, or no permission to bind port 53)";
    case 3:
      return "filesystem problem (missing file or directory, permissions)";
    case 4:
      return "memory allocation failure";
    case 5:
      return "other problem";
    default:
      return "unexpected exit";
    }
}

/* Whether dnsmasq, as `pw`, can read hosts.d: a directory above the run
 * directory that others may not cross would leave it serving nothing. */
static bool
hostsdir_readable_by (const struct passwd *pw, const char *dir)
{
  pid_t child = fork ();
  int status;

  if (child == 0)
    _exit (setgroups (0, NULL) == 0 && setgid (pw->pw_gid) == 0 && setuid (pw->pw_uid) == 0
                   && access (dir, R_OK | X_OK) == 0
               ? 0
               : 1);
  return child > 0 && waitpid (child, &status, 0) == child && WIFEXITED (status)
         && WEXITSTATUS (status) == 0;
}

static void
start_dnsmasq (const struct request *q, const char *pidfile, struct reply *r)
{
  char a_pid[4200], a_user[64], a_group[64], a_listen[128], a_hosts[4200];
  char gw[INET_ADDRSTRLEN] = "", gw6[INET6_ADDRSTRLEN] = "";
  struct passwd *pw = getpwnam (MOAT_DNSMASQ_USER);
  struct group *gr = pw ? getgrgid (pw->pw_gid) : NULL;
  int status;
  pid_t child;

  if (!pw || !gr)
    return reply_error (r, MOAT_E_UNSUPPORTED, 0,
                        "network \"%s\": names: no user \"" MOAT_DNSMASQ_USER
                        "\" (install dnsmasq-base)",
                        q->network);
  if (open_paths (q->network, r) < 0)
    return;
  moat_hostsdir_path (a_hosts, sizeof (a_hosts), q->network);
  if (!hostsdir_readable_by (pw, a_hosts))
    return reply_error (r, MOAT_E_STATE, EACCES,
                        "network \"%s\": names: user \"%s\" (dnsmasq) cannot read %s: a "
                        "directory above the run directory is not searchable by others "
                        "(chmod o+x it)",
                        q->network, pw->pw_name, a_hosts);
  /* The gateway address alone, not --interface: two networks may share a
   * bridge, and a second dnsmasq bound to all its addresses would find
   * the first's in use. An IPv6-only network has no IPv4 one; a
   * dual-stack network's names are asked over both. */
  if (q->have_gateway)
    inet_ntop (AF_INET, &q->gateway, gw, sizeof (gw));
  if (q->have_gateway6)
    inet_ntop (AF_INET6, &q->gateway6, gw6, sizeof (gw6));
  snprintf (a_pid, sizeof (a_pid), "--pid-file=%s", pidfile);
  snprintf (a_user, sizeof (a_user), "--user=%s", pw->pw_name);
  snprintf (a_group, sizeof (a_group), "--group=%s", gr->gr_name);
  snprintf (a_listen, sizeof (a_listen), "--listen-address=%s%s%s", gw, *gw && *gw6 ? "," : "",
            gw6);
  moat_hostsdir_path (a_hosts, sizeof (a_hosts), q->network);
  memmove (a_hosts + 11, a_hosts, strlen (a_hosts) + 1);
  memcpy (a_hosts, "--hostsdir=", 11);
  char *argv[] = {
    (char *)"dnsmasq",
    (char *)"--conf-file=/dev/null",
    a_pid,
    a_user,
    a_group,
    a_listen,
    (char *)"--bind-interfaces",
    (char *)"--except-interface=lo",
    (char *)"--no-hosts",
    a_hosts,
    (char *)"--local=/" MOAT_DNS_DOMAIN "/",
    (char *)"--domain-needed",
    (char *)"--local=//",
    (char *)"--no-negcache",
    q->forward ? (char *)"--bogus-priv" : (char *)"--no-resolv",
    NULL,
  };

  child = fork ();
  if (child < 0)
    return reply_error (r, MOAT_E_IO, errno, "network \"%s\": names: fork", q->network);
  if (child == 0)
    {
      setsid ();
      execv (MOAT_DNSMASQ, argv);
      _exit (127);
    }
  /* dnsmasq's first process exits once its daemon runs, with the reason
   * when it could not start. */
  if (waitpid (child, &status, 0) < 0)
    return reply_error (r, MOAT_E_IO, errno, "network \"%s\": names: wait for dnsmasq", q->network);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 127)
    return reply_error (r, MOAT_E_UNSUPPORTED, 0,
                        "network \"%s\": names: cannot run " MOAT_DNSMASQ " (install dnsmasq-base)",
                        q->network);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return reply_error (r, MOAT_E_IO, 0,
                        "network \"%s\": names: dnsmasq on %s:53 failed to start: %s (exit %d; "
                        "its own message is in the system log)",
                        q->network, gw, dnsmasq_exit_reason (WEXITSTATUS (status)),
                        WIFEXITED (status) ? WEXITSTATUS (status) : -1);
}

static void
launcher_ensure (const struct request *q, struct reply *r)
{
  moat_err_t err = { 0 };
  char pidfile[4096];
  int pid;

  if (read_pidfile (q->network, pidfile, sizeof (pidfile), &pid, &err) < 0)
    return reply_error (r, err.code, 0, "%s", err.msg);
  if (pid > 0 && is_our_dnsmasq (pid, pidfile))
    return;
  start_dnsmasq (q, pidfile, r);
}

static void
launcher_stop (const struct request *q, struct reply *r)
{
  moat_err_t err = { 0 };
  char pidfile[4096];
  struct timespec tick = { 0, 5 * 1000 * 1000 };
  int pid;

  if (read_pidfile (q->network, pidfile, sizeof (pidfile), &pid, &err) < 0)
    return reply_error (r, err.code, 0, "%s", err.msg);
  if (pid > 0 && is_our_dnsmasq (pid, pidfile))
    {
      kill (pid, SIGTERM);
      for (int waited = 0; is_our_dnsmasq (pid, pidfile); waited += 5)
        {
          if (waited == STOP_WAIT_MS)
            kill (pid, SIGKILL);
          if (waited > 2 * STOP_WAIT_MS)
            return reply_error (r, MOAT_E_IO, 0,
                                "network \"%s\": names: dnsmasq %d outlived SIGKILL", q->network,
                                pid);
          nanosleep (&tick, NULL);
        }
    }
  if (unlink (pidfile) < 0 && errno != ENOENT)
    reply_error (r, MOAT_E_STATE, errno, "remove \"%s\"", pidfile);
}

/* Requests until the pipe closes (moatctl restore may start several). */
static void __attribute__ ((noreturn)) launcher_main (void)
{
  signal (SIGPIPE, SIG_IGN);
  for (;;)
    {
      struct request q;
      struct reply r = { 0 };
      ssize_t n;

      do
        n = read (LAUNCHER_IN, &q, sizeof (q));
      while (n < 0 && errno == EINTR);
      if (n != (ssize_t)sizeof (q))
        _exit (0); /* nothing more asked */
      q.network[sizeof (q.network) - 1] = '\0';
      q.bridge[sizeof (q.bridge) - 1] = '\0';
      if (q.verb == VERB_ENSURE)
        launcher_ensure (&q, &r);
      else if (q.verb == VERB_STOP)
        launcher_stop (&q, &r);
      else
        reply_error (&r, MOAT_E_IO, EINVAL, "names launcher: unknown request");
      if (moat_write_all (LAUNCHER_OUT, &r, sizeof (r)) < 0)
        _exit (1);
    }
}

/* In the child: the pipes at 3 and 4, /dev/null at 0-2, nothing else. */
static void __attribute__ ((noreturn)) launcher_setup (int in, int out)
{
  int null = open ("/dev/null", O_RDWR | O_CLOEXEC);

  if (null < 0 || dup2 (null, 0) < 0 || dup2 (null, 1) < 0 || dup2 (null, 2) < 0)
    _exit (1);
  if ((in == LAUNCHER_OUT && (in = dup (in)) < 0) || dup2 (out, LAUNCHER_OUT) < 0
      || dup2 (in, LAUNCHER_IN) < 0 || close_range (LAUNCHER_OUT + 1, ~0U, 0) < 0)
    _exit (1);
  launcher_main ();
}

int
moat_dnsd_prepare (struct moat_dnsd *d, moat_err_t *err)
{
  int req[2], rep[2];
  pid_t pid;

  if (pipe2 (req, O_CLOEXEC) < 0)
    return moat_error (err, MOAT_E_IO, errno, "names launcher: pipe");
  if (pipe2 (rep, O_CLOEXEC) < 0)
    {
      close (req[0]);
      close (req[1]);
      return moat_error (err, MOAT_E_IO, errno, "names launcher: pipe");
    }
  fflush (NULL);
  pid = fork ();
  if (pid == 0)
    launcher_setup (req[0], rep[1]);
  close (req[0]);
  close (rep[1]);
  if (pid < 0)
    {
      close (req[1]);
      close (rep[0]);
      return moat_error (err, MOAT_E_IO, errno, "names launcher: fork");
    }
  d->pid = pid;
  d->request = req[1];
  d->reply = rep[0];
  return 0;
}

void
moat_dnsd_release (struct moat_dnsd *d)
{
  if (d->request >= 0)
    close (d->request);
  if (d->reply >= 0)
    close (d->reply);
  d->request = d->reply = -1;
}

static int
ask (struct moat_dnsd *d, const struct request *q, moat_err_t *err)
{
  struct reply r;
  ssize_t n;

  if (!d || d->request < 0)
    return moat_error (err, MOAT_E_IO, 0,
                       "network \"%s\": names: no launcher (this moat binary cannot run dnsmasq "
                       "here)",
                       q->network);
  if (moat_write_all (d->request, q, sizeof (*q)) < 0)
    return moat_error (err, MOAT_E_IO, errno, "network \"%s\": names launcher", q->network);
  do
    n = read (d->reply, &r, sizeof (r));
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t)sizeof (r))
    return moat_error (err, MOAT_E_IO, n < 0 ? errno : 0,
                       "network \"%s\": names launcher gave no answer", q->network);
  if (r.code)
    {
      r.msg[sizeof (r.msg) - 1] = '\0';
      return moat_error (err, r.code, r.errnum, "%s", r.msg);
    }
  return 0;
}

static int
request_init (struct request *q, int verb, const char *network, moat_err_t *err)
{
  memset (q, 0, sizeof (*q));
  q->verb = verb;
  if (strlen (network) >= sizeof (q->network))
    return moat_error (err, MOAT_E_CONFIG, ENAMETOOLONG, "network \"%.64s...\": name too long",
                       network);
  strcpy (q->network, network);
  return 0;
}

int
moat_dnsd_ensure (struct moat_dnsd *d, const struct moat_record *rec, moat_err_t *err)
{
  struct request q;
  int running = moat_dnsd_running (rec->network, NULL, err);

  /* Running: the join was the hosts file; no launcher needed. */
  if (running != 0)
    return running < 0 ? -1 : 0;
  if (request_init (&q, VERB_ENSURE, rec->network, err) < 0)
    return -1;
  snprintf (q.bridge, sizeof (q.bridge), "%s", rec->bridge);
  /* An IPv6-only container's gateway is its key's: on no wire. */
  q.have_gateway = !rec->v6only;
  q.gateway = rec->gateway;
  q.have_gateway6 = rec->have_addr6;
  q.gateway6 = rec->gateway6;
  q.forward = rec->internet;
  return ask (d, &q, err);
}

int
moat_dnsd_stop (struct moat_dnsd *d, const char *network, moat_err_t *err)
{
  struct request q;
  char pidfile[4096];
  int running = moat_dnsd_running (network, NULL, err);

  if (running < 0)
    return -1;
  if (running == 0)
    {
      /* Nothing to signal: a stale pid file goes. */
      if (moat_dns_pidfile_path (pidfile, sizeof (pidfile), network) == 0 && unlink (pidfile) < 0
          && errno != ENOENT)
        return moat_error (err, MOAT_E_STATE, errno, "remove \"%s\"", pidfile);
      return 0;
    }
  if (request_init (&q, VERB_STOP, network, err) < 0)
    return -1;
  return ask (d, &q, err);
}
