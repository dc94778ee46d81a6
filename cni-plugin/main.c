/* SPDX-License-Identifier: Apache-2.0 */
/* moat: the CNI plugin. Parses its input, runs the verb, prints the result
 * or the CNI error. All the logic lives in common/. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "verbs/cni.h"
#include "verbs/dnsd.h"
#include "model/config.h"
#include "model/result.h"
#include "kernel/confine.h"
#include "kernel/landlock.h"
#include "state/state.h"

#define STDIN_MAX (1 << 20)

static const char usage[]
    = "Usage: moat (as a CNI plugin: CNI_COMMAND and the other CNI_* variables in the\n"
      "       environment, the network configuration on stdin)\n"
      "       moat --help | --version\n"
      "\n"
      "moat attaches a container to an isolated bridge with a veth pair and installs\n"
      "its default-deny nftables policy. Verbs: ADD, DEL, CHECK, VERSION, GC, STATUS.\n"
      "See moat(8) and README.md for the configuration keys.\n";

static int
print_json (json_t *j)
{
  if (!j || json_dumpf (j, stdout, JSON_COMPACT) < 0 || fputc ('\n', stdout) == EOF
      || fflush (stdout) == EOF)
    return -1;
  return 0;
}

/* The CNI error goes to stdout (the spec's channel) and, for people
 * running the plugin by hand, a one-line copy to stderr. */
static int
report (const char *version, const moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *j = moat_error_result (version, err, NULL);

  /* Never an error without its JSON: the runtime reads nothing else. */
  if (print_json (j) < 0)
    printf ("{\"cniVersion\":\"%s\",\"code\":%d,\"msg\":\"moat: unprintable error\"}\n",
            MOAT_CNI_VERSION, err->code);
  fprintf (stderr, "moat: %s\n", err->msg);
  return 1;
}

/* VERSION answers whatever it is asked, in the asked version when moat
 * speaks it. */
static const char *
version_for_reply (const char *text)
{
  _cleanup_ (json_decrefp) json_t *root = json_loads (text ? text : "", 0, NULL);
  int i = moat_cni_version_index (json_string_value (json_object_get (root, "cniVersion")));

  return i >= 0 ? moat_cni_versions[i] : MOAT_CNI_VERSION;
}

/* Delegated IPAM runs another program, which inherits the filter: see
 * confine.h. */
static enum moat_seccomp_profile
seccomp_profile (const struct moat_netconf *conf)
{
  return conf->ipam_type ? MOAT_SECCOMP_PLUGIN_DELEGATED : MOAT_SECCOMP_PLUGIN;
}

/* CNI_NETNS, opened before Landlock: a process under Landlock may not
 * follow /proc/<pid>/ns/net of a process outside its domain. One that
 * cannot be opened is left to the verb, which says why. Returns the fd
 * or -1. */
static int
hold_netns (struct moat_cni_env *env)
{
  int fd;

  if (!env->netns || (env->command != MOAT_CMD_ADD && env->command != MOAT_CMD_CHECK))
    return -1;
  fd = open (env->netns, O_RDONLY | O_CLOEXEC);
  env->have_netns_fd = fd >= 0;
  env->netns_fd = fd;
  return fd;
}

/* Where the verb writes (landlock.h): the run directory, the new bridge's
 * sysctls for ADD (and a dual-stack container's in its namespace), the delegated IPAM plugin's
 * directories; VERSION writes nothing. */
static void
plugin_writes (const struct moat_cni_env *env, const struct moat_netconf *conf,
               struct moat_write_set *w)
{
  enum moat_cni_command command = env->command;

  if (command == MOAT_CMD_VERSION)
    return;
  moat_write_set_add (w, moat_run_dir (), 0700);
  w->sysctls = command == MOAT_CMD_ADD;
  /* A dual-stack container's interface settings, in its namespace. */
  w->netns_sysctls = command == MOAT_CMD_ADD && conf->have_subnet6 && env->have_netns_fd;
  w->netns_fd = env->netns_fd;
  moat_write_set_add_ipam (w, json_object_get (conf->root, "ipam"));
}

/* The verbs that may start or stop a network's name server. */
static bool
needs_dnsd (enum moat_cni_command command)
{
  return command == MOAT_CMD_ADD || command == MOAT_CMD_DEL || command == MOAT_CMD_GC;
}

int
main (int argc, char **argv)
{
  _cleanup_free_ char *text = NULL;
  size_t text_len;
  _cleanup_ (json_decrefp) json_t *result = NULL;
  struct moat_netconf conf = { 0 };
  struct moat_write_set writes = { 0 };
  _cleanup_close_ int netns_fd = -1;
  struct moat_cni_env env;
  struct moat_dnsd dnsd = MOAT_DNSD_NONE;
  moat_err_t err = { 0 };
  const char *version;
  int ret;

  if (argc > 1 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0))
    {
      fputs (usage, stdout);
      return 0;
    }
  if (argc > 1 && strcmp (argv[1], "--version") == 0)
    {
      printf ("moat %s (CNI %s)\n", MOAT_VERSION, MOAT_CNI_VERSION);
      return 0;
    }

  if (moat_cni_env_read (&env, &err) < 0)
    {
      if (getenv ("CNI_COMMAND") == NULL && isatty (STDIN_FILENO))
        fputs (usage, stderr);
      return report (MOAT_CNI_VERSION, &err);
    }
  netns_fd = hold_netns (&env);
  /* Before the first byte of stdin: no device nodes, FIFOs, sockets or
   * symlinks anywhere. Where the writes go is known once it is parsed. */
  if (moat_landlock_confine_early (&err) < 0)
    return report (MOAT_CNI_VERSION, &err);
  if (moat_read_stdin ("network configuration", STDIN_MAX, &text, &text_len, &err) < 0)
    return report (MOAT_CNI_VERSION, &err);

  if (env.command == MOAT_CMD_VERSION)
    conf.cni_version = version_for_reply (text);
  else if (moat_netconf_parse (text, env.command, &conf, &err) < 0)
    {
      version = conf.cni_version && moat_cni_version_index (conf.cni_version) >= 0
                    ? conf.cni_version
                    : MOAT_CNI_VERSION;
      ret = report (version, &err);
      moat_netconf_free (&conf);
      return ret;
    }

  /* Before the filter, which dnsmasq must not inherit (dnsd.h). */
  if (conf.dns && needs_dnsd (env.command) && moat_dnsd_prepare (&dnsd, &err) < 0)
    {
      ret = report (conf.cni_version, &err);
      moat_netconf_free (&conf);
      return ret;
    }
  env.dnsd = &dnsd;

  /* Everything read: from here on only the verb's own syscalls, and
   * writes only where the verb writes. */
  plugin_writes (&env, &conf, &writes);
  if (moat_landlock_confine (&writes, &err) < 0
      || moat_seccomp_confine (seccomp_profile (&conf), &err) < 0
      || moat_cni_run (&env, &conf, &result, &err) < 0)
    ret = report (conf.cni_version, &err);
  else
    ret = result && print_json (result) < 0 ? 1 : 0;
  moat_dnsd_release (&dnsd);
  moat_netconf_free (&conf);
  return ret;
}
