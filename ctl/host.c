/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl host attach|detach: host processes by their cgroup (host.h). */
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/cleanup.h"
#include "kernel/cgroup.h"
#include "kernel/confine.h"
#include "kernel/landlock.h"
#include "model/annot.h"
#include "model/config.h"
#include "state/netfind.h"
#include "state/rundir.h"
#include "verbs/hostproc.h"
#include "words.h"

struct host_opts
{
  const char *network, *cgroup, *name;
  json_t *annotations; /* io.moat.* */
  json_t *labels;      /* "k=v" strings */
};

static void
host_opts_free (struct host_opts *o)
{
  json_decref (o->annotations);
  json_decref (o->labels);
}

static int
report (const moat_err_t *err)
{
  fprintf (stderr, "moatctl host: %s\n", err->msg);
  return err->code == MOAT_E_UNKNOWN ? 1 : 2;
}

static int
usage_error (const char *fmt, const char *what)
{
  fprintf (stderr, "moatctl host: ");
  fprintf (stderr, fmt, what);
  fputs ("\nUsage: moatctl host attach --network NAME --cgroup PATH --name N [--label K=V]...\n"
         "                          [--annotation io.moat.KEY=VALUE]...\n"
         "       moatctl host detach N\n",
         stderr);
  return -1;
}

static int
take_option (struct host_opts *o, int argc, char **argv, int *i)
{
  static const char *const names[]
      = { "--network", "--cgroup", "--name", "--label", "--annotation", NULL };

  for (size_t k = 0; names[k]; k++)
    {
      const char *v = moat_ctl_option_value (argc, argv, i, names[k]);
      const char *why;

      if (!v)
        continue;
      if (!*v)
        return usage_error ("%s: wants a value", names[k]);
      if (k == 0)
        o->network = v;
      else if (k == 1)
        o->cgroup = v;
      else if (k == 2)
        o->name = v;
      else if (k == 3 && (why = moat_ctl_label_take (o->labels, v)))
        return usage_error (why, v);
      else if (k == 4 && (why = moat_ctl_annotation_take (o->annotations, v)))
        return usage_error (why, v);
      return 0;
    }
  return usage_error ("\"%s\": unknown option", argv[*i]);
}

static int
parse_attach (int argc, char **argv, struct host_opts *o)
{
  o->annotations = json_object ();
  o->labels = json_array ();
  if (!o->annotations || !o->labels)
    return usage_error ("%s", "out of memory");
  for (int i = 0; i < argc; i++)
    if (take_option (o, argc, argv, &i) < 0)
      return -1;
  if (!o->network || !o->cgroup || !o->name)
    return usage_error ("%s", "attach: --network, --cgroup and --name are required");
  return 0;
}

/* The labels (after an io.moat.labels annotation's) and the network, as
 * a container's annotations carry them. */
static int
annotations_final (struct host_opts *o)
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
  if (len
      && json_object_set_new (o->annotations, MOAT_ANNOT_PREFIX "labels", json_string (labels)) < 0)
    return -1;
  return json_object_set_new (o->annotations, MOAT_ANNOT_PREFIX "network",
                              json_string (o->network));
}

/* Read everything, mount when needed, confine, then attach. */
static int
attach (struct host_opts *o, moat_err_t *err)
{
  _cleanup_ (moat_netconf_free) struct moat_netconf conf = { 0 };
  _cleanup_free_ char *text = NULL, *file = NULL;
  struct moat_write_set writes = { 0 };
  struct moat_cgroup_plan plan;
  struct moat_host_request r = {
    .conf = &conf,
    .name = o->name,
    .cgroup_path = o->cgroup,
    .annotations = o->annotations,
    .plan = &plan,
  };

  if (annotations_final (o) < 0)
    return moat_error_nomem (err, "moatctl host");
  if (moat_netfind (o->network, NULL, &text, &file, err) < 0)
    return moat_error_prefix (err, "--network");
  if (moat_netconf_parse (text, MOAT_CMD_ADD, &conf, err) < 0)
    return moat_error_prefix (err, "%s", file);
  if (moat_cgroup_plan_path (moat_run_dir (), o->name, o->cgroup, &plan, err) < 0
      || moat_cgroup_mount (&plan, err) < 0 || moat_cgroup_check_path (&plan, o->cgroup, err) < 0)
    return -1;
  moat_write_set_add (&writes, moat_run_dir (), 0700);
  if (moat_landlock_confine (&writes, err) < 0 || moat_seccomp_confine (MOAT_SECCOMP_CTL, err) < 0)
    return -1;
  return moat_host_attach (&r, err);
}

static int
detach (const char *name, moat_err_t *err)
{
  struct moat_write_set writes = { 0 };

  moat_write_set_add (&writes, moat_run_dir (), 0700);
  if (moat_landlock_confine (&writes, err) < 0 || moat_seccomp_confine (MOAT_SECCOMP_CTL, err) < 0)
    return -1;
  return moat_host_detach (name, err);
}

int
moat_ctl_host (int argc, char **argv)
{
  _cleanup_ (host_opts_free) struct host_opts o = { 0 };
  moat_err_t err = { 0 };

  if (argc >= 1 && strcmp (argv[0], "attach") == 0)
    {
      if (parse_attach (argc - 1, argv + 1, &o) < 0)
        return 2;
      return attach (&o, &err) < 0 ? report (&err) : 0;
    }
  if (argc == 2 && strcmp (argv[0], "detach") == 0)
    return detach (argv[1], &err) < 0 ? report (&err) : 0;
  usage_error ("%s", "want attach OPTIONS or detach NAME");
  return 2;
}
