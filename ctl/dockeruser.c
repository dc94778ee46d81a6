/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl docker-user: accept moat's bridges in docker's DOCKER-USER
 * chain, through the host's iptables (dockeruser.h). */

#include "dockeruser.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/ifname.h"

#define CHAIN "DOCKER-USER"

extern char **environ;

static const char *
iptables_path (void)
{
  const char *p = getenv ("MOAT_IPTABLES");

  return p && *p ? p : "iptables";
}

/* Runs iptables with `args` (NULL-terminated, argv[0] included); its
 * output goes to /dev/null when `quiet`. Its exit status, or -1 with *err
 * set when it could not run. */
static int
run_iptables (char *const *args, bool quiet, moat_err_t *err)
{
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int r, status;

  if (posix_spawn_file_actions_init (&fa) != 0)
    return moat_error (err, MOAT_E_IO, ENOMEM, "docker-user: cannot run %s", args[0]);
  if (quiet)
    {
      posix_spawn_file_actions_addopen (&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
      posix_spawn_file_actions_addopen (&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    }
  r = posix_spawnp (&pid, args[0], &fa, NULL, args, environ);
  posix_spawn_file_actions_destroy (&fa);
  if (r != 0)
    return moat_error (err, MOAT_E_IO, r, "docker-user: cannot run %s", args[0]);
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return moat_error (err, MOAT_E_IO, errno, "docker-user: waiting for %s", args[0]);
  if (!WIFEXITED (status))
    return moat_error (err, MOAT_E_IO, 0, "docker-user: %s was killed by signal %d", args[0],
                       WTERMSIG (status));
  return WEXITSTATUS (status);
}

/* iptables -w OP DOCKER-USER DIR BRIDGE -j ACCEPT */
static int
rule_op (const char *op, const char *dir, const char *bridge, bool quiet, moat_err_t *err)
{
  char *const args[] = { (char *)iptables_path (), "-w", (char *)op, CHAIN, (char *)dir,
                         (char *)bridge,           "-j", "ACCEPT",   NULL };

  return run_iptables (args, quiet, err);
}

static int
chain_exists (moat_err_t *err)
{
  char *const args[] = { (char *)iptables_path (), "-w", "-S", CHAIN, NULL };
  int r = run_iptables (args, true, err);

  if (r < 0)
    return -1;
  if (r != 0)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "docker-user: %s has no chain " CHAIN
                       " (is dockerd running with its iptables rules? a legacy backend: set "
                       "MOAT_IPTABLES=iptables-legacy)",
                       iptables_path ());
  return 0;
}

/* Adds or removes the one rule for `bridge` in direction `dir`. */
static int
one_rule (bool add, const char *dir, const char *bridge, FILE *out, moat_err_t *err)
{
  int present = rule_op ("-C", dir, bridge, true, err);
  bool changed = false;

  if (present < 0)
    return -1;
  while (add ? present != 0 && !changed : present == 0)
    {
      int r = rule_op (add ? "-I" : "-D", dir, bridge, false, err);

      if (r < 0)
        return -1;
      if (r != 0)
        return moat_error (err, MOAT_E_IO, 0,
                           "docker-user: iptables %s " CHAIN " %s %s -j ACCEPT: exit %d",
                           add ? "-I" : "-D", dir, bridge, r);
      changed = true;
      if (!add && (present = rule_op ("-C", dir, bridge, true, err)) < 0)
        return -1;
    }
  fprintf (out, "%s: " CHAIN " %s %s -j ACCEPT\n",
           changed ? (add ? "added" : "removed") : (add ? "already there" : "not there"), dir,
           bridge);
  return 0;
}

int
moat_ctl_docker_user (bool add, char *const *bridges, size_t n, FILE *out, moat_err_t *err)
{
  if (n == 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "docker-user: name the bridges (e.g. moat0)");
  for (size_t i = 0; i < n; i++)
    if (moat_ifname_check ("docker-user: bridge", bridges[i], MOAT_E_CONFIG, err) < 0)
      return -1;
  if (chain_exists (err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (one_rule (add, "-i", bridges[i], out, err) < 0
        || one_rule (add, "-o", bridges[i], out, err) < 0)
      return -1;
  return 0;
}
