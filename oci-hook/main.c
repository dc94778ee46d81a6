/* SPDX-License-Identifier: Apache-2.0 */
/* moat-hook: the OCI hook. Reads the container's state on stdin, prepares
 * the stage named by its argument (reading everything it needs), confines
 * itself to what the rest needs (policy only, or attach/detach), and runs
 * it. All the logic lives in oci-hook/hook.c. Runtimes may discard a hook's
 * output, so a failure also goes to syslog. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "kernel/confine.h"
#include "hook.h"
#include "kernel/landlock.h"

#define STATE_MAX (1 << 20)

static const char usage[]
    = "Usage: moat-hook prestart|createRuntime|poststop   (OCI state JSON on stdin)\n"
      "       moat-hook --help | --version\n"
      "\n"
      "The OCI hook of moat. prestart (or createRuntime) reads the container's io.moat.*\n"
      "annotations and installs its network policy on its moat attachments; poststop\n"
      "removes it.\n"
      "\n"
      "Hook-driven attach (dockerd, podman with netavark, plain runc: no runtime calls\n"
      "CNI): a container with io.moat.network=NAME and no moat attachment yet is\n"
      "attached by the hook itself, the plugin's ADD into /proc/<pid>/ns/net as eth0,\n"
      "with the network configuration named NAME; poststop then runs the plugin's DEL\n"
      "and nothing is left. An attachment made by a runtime through CNI stays for the\n"
      "runtime's DEL.\n"
      "\n"
      "Engines that cannot set annotations may use config.json's process.env instead:\n"
      "MOAT_NETWORK, MOAT_LABELS, MOAT_DEPENDS, MOAT_EXPOSE, MOAT_ALLOW_HOST, MOAT_EGRESS,\n"
      "MOAT_INGRESS, MOAT_INTERNET, MOAT_PROXY, MOAT_POLICY (an annotation wins), on a\n"
      "network whose configuration says \"allow\": {\"env\": true}; elsewhere they are\n"
      "ignored.\n"
      "\n"
      "A container without a moat attachment and without io.moat.* or MOAT_* settings\n"
      "is left alone.\n"
      "\n"
      "Environment:\n"
      "  MOAT_RUN_DIR       state directory (default /run/moat)\n"
      "  MOAT_NETWORK_DIRS  where networks are found by name, colon-separated\n"
      "                     (default /etc/moat/networks:/etc/cni/net.d)\n"
      "  CNI_PATH           delegated IPAM plugins (default /opt/cni/bin:/usr/lib/cni)\n"
      "\n"
      "See moat-hook(8) and moat-annotations(5).\n";

static int
fail (const moat_err_t *err)
{
  fprintf (stderr, "moat-hook: %s\n", err->msg);
  syslog (LOG_ERR, "%s", err->msg);
  return 1;
}

int
main (int argc, char **argv)
{
  _cleanup_free_ char *state = NULL;
  _cleanup_ (moat_hook_freep) struct moat_hook *hook = NULL;
  moat_err_t err = { 0 };
  size_t len = 0;
  int stage;

  if (argc > 1 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0))
    {
      fputs (usage, stdout);
      return 0;
    }
  if (argc > 1 && strcmp (argv[1], "--version") == 0)
    {
      printf ("moat-hook %s\n", MOAT_VERSION);
      return 0;
    }
  /* Opened now, so that the socket exists before any confinement. */
  openlog ("moat-hook", LOG_PID | LOG_NDELAY, LOG_DAEMON);
  stage = moat_hook_stage_parse (argc == 2 ? argv[1] : NULL);
  if (stage < 0)
    {
      fputs (usage, stderr);
      moat_error (&err, MOAT_E_ENV, 0, "want one argument: prestart, createRuntime or poststop");
      return fail (&err);
    }
  /* Everything read: from here on only what the stage's changes need,
   * written only where they go. */
  if (moat_read_stdin ("state", STATE_MAX, &state, &len, &err) < 0
      || moat_hook_prepare ((enum moat_hook_stage)stage, state, len, &hook, &err) < 0
      || moat_hook_mount (hook, &err) < 0
      || moat_landlock_confine (moat_hook_writes (hook), &err) < 0
      || moat_seccomp_confine (moat_hook_profile (hook), &err) < 0
      || moat_hook_execute (hook, &err) < 0)
    return fail (&err);
  if (moat_hook_notice (hook))
    {
      fprintf (stderr, "moat-hook: %s\n", moat_hook_notice (hook));
      syslog (LOG_NOTICE, "%s", moat_hook_notice (hook));
    }
  return 0;
}
