/* SPDX-License-Identifier: Apache-2.0 */
#include "cluster-watch.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/confine.h"
#include "kernel/landlock.h"
#include "state/rundir.h"
#include "store/etcd.h"
#include "verbs/clusterwatch.h"

static const char watch_usage[]
    = "usage: moatctl cluster watch CLUSTER [--node N] [--underlay ADDR] [--ttl SECONDS]\n";

static int
refuse (const char *what)
{
  fprintf (stderr, "moatctl: cluster watch: %s\n%s", what, watch_usage);
  return 2;
}

static int
parse (int argc, char **argv, struct moat_cluster_watch_opts *o)
{
  static const struct option longopts[] = {
    { "node", required_argument, NULL, 'n' },
    { "underlay", required_argument, NULL, 'u' },
    { "ttl", required_argument, NULL, 't' },
    { NULL, 0, NULL, 0 },
  };
  char *end;
  int c;

  optind = 1;
  while ((c = getopt_long (argc, argv, "", longopts, NULL)) != -1)
    switch (c)
      {
      case 'n':
        o->node = optarg;
        break;
      case 'u':
        o->underlay = optarg;
        break;
      case 't':
        o->ttl = (int)strtol (optarg, &end, 10);
        if (*end || o->ttl < 2 || o->ttl > 3600)
          return refuse ("--ttl: want seconds from 2 to 3600");
        break;
      default:
        return refuse ("unknown option");
      }
  if (argc - optind != 1)
    return refuse ("want CLUSTER");
  o->cluster = argv[optind];
  if (!*o->cluster || strchr (o->cluster, '/'))
    return refuse ("CLUSTER: not a cluster name");
  return 0;
}

int
moat_ctl_cluster_watch (int argc, char **argv)
{
  struct moat_cluster_watch_opts o = { 0 };
  struct moat_write_set writes = { 0 };
  moat_err_t err = { 0 };

  /* getopt's argv[0]: "watch". */
  if (parse (argc, argv, &o) != 0)
    return 2;
  moat_write_set_add (&writes, moat_run_dir (), 0700);
  moat_etcd_init ();
  if (moat_landlock_confine (&writes, &err) < 0
      || moat_seccomp_confine (MOAT_SECCOMP_CLUSTER_WATCH, &err) < 0
      || moat_cluster_watch (&o, &err) < 0)
    {
      fprintf (stderr, "moatctl: %s\n", err.msg);
      return 2;
    }
  return 0;
}
