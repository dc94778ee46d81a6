/* SPDX-License-Identifier: Apache-2.0 */
#include "verbs/gc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "model/config.h"
#include "state/state.h"
#include "verbs/cni.h"
#include "verbs/hostnet.h"

/* --- liveness ----------------------------------------------------------------- */

/* For a "/proc/PID/..." path that Landlock keeps moatctl from opening
 * (the process is outside its domain: landlock.h): whether PID has
 * exited, a zombie's namespaces being gone already. /proc/PID/stat is
 * readable without ptrace rights. A process that runs, whatever it is
 * (a reused PID too), counts as there. */
static bool
proc_exited (const char *path)
{
  char stat_path[64], buf[512], *paren;
  _cleanup_close_ int fd = -1;
  unsigned long pid;
  ssize_t n;
  int end = 0;

  if (sscanf (path, "/proc/%lu/%n", &pid, &end) != 1 || end == 0)
    return false;
  snprintf (stat_path, sizeof (stat_path), "/proc/%lu/stat", pid);
  fd = open (stat_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT || errno == ESRCH;
  n = read (fd, buf, sizeof (buf) - 1);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  /* "PID (COMM) STATE ...": COMM may hold anything, the last ')' ends it. */
  paren = strrchr (buf, ')');
  return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

int
moat_netns_there (const char *path, char *why, size_t size)
{
  _cleanup_close_ int fd = -1;
  int type;

  if (!path)
    {
      snprintf (why, size, "no netns recorded");
      return 0;
    }
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ESRCH))
    {
      snprintf (why, size, "netns %s", path);
      return 0;
    }
  if (fd < 0 && (errno == EACCES || errno == EPERM) && proc_exited (path))
    {
      snprintf (why, size, "netns %s (its process has exited)", path);
      return 0;
    }
  if (fd < 0)
    {
      snprintf (why, size, "netns %s (cannot be examined: %s)", path, strerror (errno));
      return 1;
    }
  type = ioctl (fd, NS_GET_NSTYPE);
  if (type == CLONE_NEWNET)
    {
      snprintf (why, size, "netns %s", path);
      return 1;
    }
  snprintf (why, size, "netns %s (no network namespace there)", path);
  return 0;
}

static void
append (char *buf, size_t size, const char *what)
{
  size_t len = strlen (buf);

  snprintf (buf + len, size - len, "%s%s", len ? " and " : "", what);
}

int
moat_liveness_probe (struct moat_nl *nl, const struct moat_record *rec, struct moat_liveness *ret,
                     moat_err_t *err)
{
  char what[320];
  int link = moat_link_exists (nl, rec->host_if, err);

  if (link < 0)
    return -1;
  memset (ret, 0, sizeof (*ret));
  ret->netns_gone = moat_netns_there (rec->netns, what, sizeof (what)) == 0;
  append (ret->netns_gone ? ret->gone : ret->there, sizeof (ret->gone), what);
  ret->link_gone = link == 0;
  snprintf (what, sizeof (what), "host end %s", rec->host_if);
  append (ret->link_gone ? ret->gone : ret->there, sizeof (ret->gone), what);
  return 0;
}

json_t *
moat_gc_item (const struct moat_record *rec, const struct moat_liveness *l)
{
  char addr[INET6_ADDRSTRLEN];
  json_t *j;

  /* An IPv6-only container's address is its IPv6 one (its key is none). */
  if (rec->v6only)
    inet_ntop (AF_INET6, &rec->addr6, addr, sizeof (addr));
  else
    inet_ntop (AF_INET, &rec->addr, addr, sizeof (addr));
  j = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "network", rec->network, "container",
                 rec->container_id, "ifname", rec->ifname, "hostIf", rec->host_if, "address", addr,
                 "attachedBy", moat_attacher_name (rec->attached_by), "gone", l->gone);
  if (j && rec->name && json_object_set_new (j, "name", json_string (rec->name)) < 0)
    return json_decref (j), NULL;
  if (j && rec->netns && json_object_set_new (j, "netns", json_string (rec->netns)) < 0)
    return json_decref (j), NULL;
  if (j && l->there[0] && json_object_set_new (j, "there", json_string (l->there)) < 0)
    return json_decref (j), NULL;
  return j;
}

/* --- removal ------------------------------------------------------------------- */

/* The network configuration a record's DEL uses: the one its ADD used
 * when the record keeps it (hook-made), else one made of the record,
 * whose defaults are the DEL's: no delegated IPAM (the address stays
 * that plugin's: *ret_note says so), no keepBridge. */
static int
record_conf (const struct moat_record *rec, struct moat_netconf *ret, const char **ret_note,
             moat_err_t *err)
{
  _cleanup_free_ char *text = NULL;

  *ret_note = NULL;
  memset (ret, 0, sizeof (*ret));
  if (!rec->netconf)
    {
      ret->name = rec->network;
      ret->cni_version = rec->cni_version;
      snprintf (ret->bridge, sizeof (ret->bridge), "%s", rec->bridge);
      ret->gateway = rec->gateway;
      ret->prefixlen = rec->prefixlen;
      ret->dns = rec->dns;
      ret->internet = rec->internet;
      ret->masquerade = rec->masquerade;
      if (rec->ipam)
        *ret_note = "address left to its ipam plugin (no network configuration in the record)";
      return 0;
    }
  if (!(text = json_dumps (rec->netconf, JSON_COMPACT)))
    return moat_error_nomem (err, "netconf");
  if (moat_netconf_parse (text, MOAT_CMD_DEL, ret, err) < 0)
    return moat_error_prefix (err, "record of \"%s\": netconf", rec->container_id);
  if (strcmp (ret->name, rec->network) != 0)
    {
      moat_netconf_free (ret);
      return moat_error (err, MOAT_E_STATE, 0, "record of \"%s\": netconf names network \"%s\"",
                         rec->container_id, ret->name);
    }
  return 1;
}

/* The DEL the runtime never ran; caller holds the network's lock. */
static int
stale_remove (const struct moat_record *rec, struct moat_dnsd *dnsd, const char **ret_note,
              moat_err_t *err)
{
  struct moat_netconf conf;
  const char *path = getenv ("CNI_PATH");
  struct moat_cni_env env = {
    .command = MOAT_CMD_DEL,
    .container_id = rec->container_id,
    .netns = rec->netns,
    .ifname = rec->ifname,
    .path = path && *path ? path : MOAT_GC_CNI_PATH_DEFAULT,
    .dnsd = dnsd,
  };
  int parsed = record_conf (rec, &conf, ret_note, err);
  int r;

  if (parsed < 0)
    return -1;
  if (conf.ipam_type && setenv ("CNI_PATH", env.path, 1) < 0)
    r = moat_error (err, MOAT_E_IO, errno, "environment");
  else
    r = moat_cni_del_locked (&env, &conf, err);
  if (parsed)
    moat_netconf_free (&conf);
  return r;
}

static int
push (json_t *report, const char *list, json_t *item)
{
  if (!item || json_array_append_new (json_object_get (report, list), item) < 0)
    return -1;
  return 0;
}

/* One record, under its network's lock: looked at again, and removed
 * when stale. */
static int
gc_one (struct moat_nl *nl, const struct moat_record *rec, bool dry_run, struct moat_dnsd *dnsd,
        json_t *report, moat_err_t *err)
{
  struct moat_liveness l;
  const char *note = NULL;
  moat_err_t step = { 0 };
  json_t *item;

  if (moat_liveness_probe (nl, rec, &l, err) < 0 || !(item = moat_gc_item (rec, &l)))
    return -1;
  if (!moat_liveness_stale (&l))
    {
      /* A live container says nothing; one half gone says why it stays. */
      if (!l.netns_gone && !l.link_gone)
        {
          json_decref (item);
          return 0;
        }
      json_object_set_new (item, "why", json_sprintf ("%s still there", l.there));
      return push (report, "kept", item);
    }
  if (dry_run)
    return push (report, "stale", item);
  if (stale_remove (rec, dnsd, &note, &step) < 0)
    {
      json_object_set_new (item, "error", json_string (step.msg));
      return push (report, "failed", item);
    }
  if (note)
    json_object_set_new (item, "note", json_string (note));
  return push (report, "removed", item);
}

static int
gc_network (struct moat_nl *nl, const char *network, bool dry_run, struct moat_dnsd *dnsd,
            json_t *report, moat_err_t *err)
{
  _cleanup_close_ int lock = -1;
  _cleanup_ (moat_strv_freep) char **keys = NULL;

  if (moat_network_lock (network, &lock, err) < 0 || moat_record_list (network, &keys, err) < 0)
    return -1;
  for (char **k = keys; *k; k++)
    {
      struct moat_record rec;
      int r = moat_record_read (network, *k, &rec, err);

      /* Gone meanwhile, or unreadable: a CNI GC or DEL handles those. */
      if (r <= 0)
        continue;
      r = gc_one (nl, &rec, dry_run, dnsd, report, err);
      moat_record_free (&rec);
      if (r < 0)
        return -1;
    }
  return 0;
}

int
moat_gc_run (bool dry_run, struct moat_dnsd *dnsd, json_t **ret, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **networks = NULL;
  _cleanup_ (moat_nl_closep) struct moat_nl *nl = NULL;
  _cleanup_ (json_decrefp) json_t *report
      = json_pack ("{s:[], s:[], s:[]}", dry_run ? "stale" : "removed", "kept", "failed");

  if (!report)
    return moat_error_nomem (err, "gc");
  if (moat_networks_list (&networks, err) < 0 || moat_nl_open (&nl, err) < 0)
    return -1;
  for (char **n = networks; *n; n++)
    if (gc_network (nl, *n, dry_run, dnsd, report, err) < 0)
      return moat_error_prefix (err, "network \"%s\"", *n);
  if (moat_hostnet_gc (!dry_run, report, dry_run ? "stale" : "removed", err) < 0)
    return -1;
  *ret = TAKE_PTR (report);
  return 0;
}

/* --- before confinement ---------------------------------------------------------- */

static void
prepare_record (const struct moat_record *rec, struct moat_write_set *w,
                enum moat_seccomp_profile *profile, bool *names)
{
  json_t *ipam = rec->netconf ? json_object_get (rec->netconf, "ipam") : NULL;

  *names = *names || rec->dns;
  if (!rec->ipam || !json_is_object (ipam))
    return;
  moat_write_set_add_ipam (w, ipam);
  *profile = MOAT_SECCOMP_PLUGIN_DELEGATED;
}

int
moat_gc_prepare (struct moat_write_set *w, enum moat_seccomp_profile *profile,
                 struct moat_dnsd *dnsd, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **networks = NULL;
  bool names = false;

  if (moat_networks_list (&networks, err) < 0)
    return -1;
  for (char **n = networks; *n; n++)
    {
      _cleanup_ (moat_strv_freep) char **keys = NULL;

      if (moat_record_list (*n, &keys, err) < 0)
        return -1;
      for (char **k = keys; *k; k++)
        {
          struct moat_record rec;
          moat_err_t ignored = { 0 };

          if (moat_record_read (*n, *k, &rec, &ignored) <= 0)
            continue;
          prepare_record (&rec, w, profile, &names);
          moat_record_free (&rec);
        }
    }
  return names ? moat_dnsd_prepare (dnsd, err) : 0;
}
