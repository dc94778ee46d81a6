/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI hook's logic (see hook.h). */
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/annot.h"
#include "model/ceiling.h"
#include "base/cleanup.h"
#include "base/file.h"
#include "base/strv.h"
#include "verbs/cni.h"
#include "model/config.h"
#include "base/jsonnum.h"
#include "hostnet.h"
#include "ocistate.h"
#include "state/netfind.h"
#include "kernel/netlink.h"
#include "kernel/nft.h"
#include "model/policy.h"
#include "model/sources.h"
#include "state/state.h"
#include "verbs/apply.h"
#include "verbs/dnsd.h"

/* --- the plan --------------------------------------------------------------- */

struct moat_hook
{
  enum moat_hook_stage stage;
  struct oci_state s;
  struct attachments found;
  /* hook-driven attach, when `attach` */
  bool attach;
  struct moat_netconf conf;
  char *conf_file;
  char netns[64];
  int netns_fd; /* `netns` opened before Landlock, which forbids it after */
  enum moat_seccomp_profile profile;
  char notice[512];             /* what was ignored, for the log; empty: nothing */
  struct moat_write_set writes; /* where execute writes (landlock.h) */
  /* hook-driven attach's names (io.moat.name, io.moat.aliases: the
   * plugin's CNI_ARGS K8S_POD_NAME and `aliases` capability) */
  char cni_args[128];
  json_t *aliases;
  struct moat_dnsd dnsd;            /* the name server's launcher (verbs/dnsd.h) */
  struct moat_hook_hostnet hostnet; /* a host-network container (hostnet.h) */
};

void
moat_hook_free (struct moat_hook *h)
{
  if (!h)
    return;
  oci_state_free (&h->s);
  attachments_free (&h->found);
  moat_netconf_free (&h->conf);
  free (h->conf_file);
  json_decref (h->aliases);
  moat_dnsd_release (&h->dnsd);
  moat_hook_hostnet_free (&h->hostnet);
  if (h->netns_fd >= 0)
    close (h->netns_fd);
  free (h);
}

enum moat_seccomp_profile
moat_hook_profile (const struct moat_hook *h)
{
  return h->profile;
}

bool
moat_hook_attaches (const struct moat_hook *h)
{
  return h->attach;
}

const char *
moat_hook_notice (const struct moat_hook *h)
{
  return h->notice[0] ? h->notice : NULL;
}

static bool
same_file (const char *a, const char *b)
{
  struct stat sa, sb;

  return stat (a, &sa) == 0 && stat (b, &sb) == 0 && sa.st_dev == sb.st_dev
         && sa.st_ino == sb.st_ino;
}

/* The container's own network namespace, /proc/<pid>/ns/net, into
 * h->netns: its process must be alive and not in the host's namespace. */
static int
container_netns (struct moat_hook *h, const char *network, moat_err_t *err)
{
  const struct oci_state *s = &h->s;
  struct stat st;

  if (s->pid <= 0)
    return moat_error (err, MOAT_E_UNKNOWN, 0,
                       "container \"%s\": the state has no pid; cannot attach it to network "
                       "\"%s\"",
                       s->id, network);
  snprintf (h->netns, sizeof (h->netns), "/proc/%lld/ns/net", s->pid);
  if (stat (h->netns, &st) < 0)
    return moat_error (err, MOAT_E_UNKNOWN, 0,
                       "container \"%s\": process %lld is gone; cannot attach it to network \"%s\"",
                       s->id, s->pid, network);
  if (same_file (h->netns, "/proc/self/ns/net") || same_file (h->netns, "/proc/1/ns/net"))
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "container \"%s\": shares the host's network namespace (it needs one of "
                       "its own); cannot attach it to network \"%s\"",
                       s->id, network);
  h->netns_fd = open (h->netns, O_RDONLY | O_CLOEXEC);
  if (h->netns_fd < 0)
    return moat_error (err, MOAT_E_UNKNOWN, errno, "container \"%s\": %s", s->id, h->netns);
  return 0;
}

/* The network's configuration, found by name, into h->conf. */
static int
find_network (struct moat_hook *h, const char *network, const char *key, moat_err_t *err)
{
  _cleanup_free_ char *text = NULL;

  if (moat_netfind (network, NULL, &text, &h->conf_file, err) < 0)
    return moat_error_prefix (err, "%s", key);
  if (moat_netconf_parse (text, MOAT_CMD_ADD, &h->conf, err) < 0)
    return moat_error_prefix (err, "%s", h->conf_file);
  return 0;
}

/* The container's settings for an attachment to a network whose "allow"
 * is `allow`: its annotations and, when that network reads the MOAT_*
 * environment (allow.env), the environment's under them. *ret: a new
 * reference, or NULL for none. */
static int
effective_annotations (struct oci_state *s, json_t *allow, json_t **ret, moat_err_t *err)
{
  *ret = NULL;
  if (!moat_ceiling_reads_env (allow))
    {
      *ret = s->annotations ? json_incref (s->annotations) : NULL;
      return 0;
    }
  s->env_used = s->env_used || s->process_env;
  return moat_annotations_with_env (s->annotations, s->process_env, ret, err);
}

/* io.moat.publish: the ports the hook's ADD publishes, within the
 * network's ceiling, checked before anything is made (taken from `a`). */
static int
plan_publish (struct moat_hook *h, struct moat_annotations *a, moat_err_t *err)
{
  _cleanup_ (moat_ceiling_free) struct moat_ceiling c = { 0 };

  if (a->publish.n == 0)
    return 0;
  if (moat_ceiling_parse (h->conf.allow, &c, err) < 0
      || moat_ceiling_check_publish (&c, h->conf.name, &a->publish, MOAT_ANNOT_PREFIX "publish",
                                     err)
             < 0)
    return -1;
  moat_publish_list_free (&h->conf.publish);
  h->conf.publish = a->publish;
  a->publish = (struct moat_publish_list){ 0 };
  return 0;
}

/* io.moat.name, io.moat.aliases and io.moat.ip become what a runtime's CNI
 * call would carry: K8S_POD_NAME, the `aliases` and `ips` capabilities, so
 * the plugin's ADD treats them alike. */
static void
plan_names (struct moat_hook *h, const struct moat_annotations *a)
{
  if (a->name)
    snprintf (h->cni_args, sizeof (h->cni_args), "K8S_POD_NAME=%s", a->name);
  if (a->aliases)
    h->conf.aliases = h->aliases = json_incref (a->aliases);
  if (a->have_ip)
    {
      h->conf.have_ip = true;
      h->conf.ip = a->ip;
    }
}

/* What the container's annotations (or the MOAT_* environment, on a
 * network that reads it) ask of the attachment itself: its names, its
 * address and its published ports. */
static int
plan_requests (struct moat_hook *h, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *effective = NULL;
  _cleanup_ (moat_annotations_free) struct moat_annotations a = { 0 };

  if (effective_annotations (&h->s, h->conf.allow, &effective, err) < 0
      || moat_annotations_parse (effective, &a, err) < 0)
    return -1;
  plan_names (h, &a);
  return plan_publish (h, &a, err);
}

/* The file the engine bind-mounts at /etc/resolv.conf (docker's
 * containers/<id>/resolv.conf, podman's userdata/resolv.conf), if any:
 * rewritten in place after the ADD (the mount holds its inode), the only
 * file the hook may write outside the run directory. */
static void
plan_resolv_conf (struct moat_hook *h)
{
  json_t *mounts = json_object_get (h->s.config, "mounts"), *m;
  size_t i;

  json_array_foreach (mounts, i, m)
  {
    const char *dest = json_string_value (json_object_get (m, "destination"));
    const char *src = json_string_value (json_object_get (m, "source"));

    if (dest && src && strcmp (dest, "/etc/resolv.conf") == 0 && src[0] == '/'
        && strlen (src) < sizeof (h->writes.file))
      strcpy (h->writes.file, src);
  }
}

/* Points the container's resolv.conf at its network's name server (the
 * ADD's result "dns"). In place: O_TRUNC on the mounted inode. */
static int
write_resolv_conf (const struct moat_hook *h, json_t *result, moat_err_t *err)
{
  json_t *dns = json_object_get (result, "dns");
  const char *ns = json_string_value (json_array_get (json_object_get (dns, "nameservers"), 0));
  const char *search = json_string_value (json_array_get (json_object_get (dns, "search"), 0));
  char text[256];
  int n, fd;

  if (!h->writes.file[0] || !ns)
    return 0;
  n = snprintf (text, sizeof (text), "nameserver %s\nsearch %s\n", ns, search ? search : "");
  fd = open (h->writes.file, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || moat_write_all (fd, text, (size_t)n) < 0)
    {
      int saved = errno;
      if (fd >= 0)
        close (fd);
      return moat_error (err, MOAT_E_IO, saved, "container resolv.conf \"%s\"", h->writes.file);
    }
  close (fd);
  return 0;
}

/* The hook makes the container's eth0: a namespace that has one already
 * got it from the engine's own network (docker or podman run without
 * --network none, whose prestart hook ran before ours). */
static int
check_no_interface (const struct moat_hook *h, moat_err_t *err)
{
  int r = moat_link_exists_in (h->netns_fd, h->netns, MOAT_HOOK_IFNAME, err);

  if (r <= 0)
    return r;
  return moat_error (err, MOAT_E_LINK, 0,
                     "container \"%s\": already has an interface \"%s\" (its engine gave it a "
                     "network): run it with --network none so that moat attaches it to network "
                     "\"%s\"",
                     h->s.id, MOAT_HOOK_IFNAME, h->conf.name);
}

/* Hook-driven attach to the network in h->conf: the namespace. */
static int
plan_attach (struct moat_hook *h, moat_err_t *err)
{
  if (container_netns (h, h->conf.name, err) < 0 || check_no_interface (h, err) < 0
      || plan_requests (h, err) < 0)
    return -1;
  /* Before confinement: dnsmasq must not inherit it (dnsd.h). */
  if (h->conf.dns && moat_dnsd_prepare (&h->dnsd, err) < 0)
    return -1;
  if (h->conf.dns)
    plan_resolv_conf (h);
  h->attach = true;
  h->profile = h->conf.ipam_type ? MOAT_SECCOMP_PLUGIN_DELEGATED : MOAT_SECCOMP_HOOK;
  h->writes.sysctls = true; /* a new bridge's settings */
  /* A dual-stack container's interface settings, in its namespace. */
  h->writes.netns_sysctls = h->conf.have_subnet6;
  h->writes.netns_fd = h->netns_fd;
  moat_write_set_add_ipam (&h->writes, json_object_get (h->conf.root, "ipam"));
  return 0;
}

/* MOAT_NETWORK, if the environment has it (a new string, or NULL). */
static int
env_network (const struct oci_state *s, char **ret, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *env = NULL;
  const char *network;

  *ret = NULL;
  if (moat_annotations_with_env (NULL, s->process_env, &env, err) < 0)
    return -1;
  network = json_string_value (json_object_get (env, MOAT_ANNOT_PREFIX "network"));
  if (network && !(*ret = strdup (network)))
    return moat_error (err, MOAT_E_IO, ENOMEM, "MOAT_NETWORK");
  return 0;
}

/* MOAT_NETWORK names the network: only a network that reads the
 * environment takes it (an image's ENV must not attach a container);
 * its settings are then checked before anything is made. */
static int
plan_attach_env (struct moat_hook *h, const char *network, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *effective = NULL;
  struct moat_annotations a = { 0 };

  if (find_network (h, network, "MOAT_NETWORK", err) < 0)
    return -1;
  if (!h->conf.reads_env)
    {
      snprintf (h->notice, sizeof (h->notice),
                "container \"%s\": MOAT_* environment ignored: network \"%s\" does not read it "
                "(its configuration has no \"allow\": {\"env\": true})",
                h->s.id, h->conf.name);
      moat_netconf_free (&h->conf);
      return 0;
    }
  if (effective_annotations (&h->s, h->conf.allow, &effective, err) < 0
      || moat_annotations_parse (effective, &a, err) < 0)
    return -1;
  moat_annotations_free (&a);
  return plan_attach (h, err);
}

/* Any io.moat.* key but those that only name or place an attachment:
 * moat-runtime adds io.moat.name to every docker container it hands the
 * hook, and alone it asks for nothing (docs/design.md, "Names"). */
static bool
asks_for_policy (json_t *annotations)
{
  static const char *const naming[] = { "io.moat.name", "io.moat.aliases", "io.moat.ip" };
  const char *key;
  json_t *v;

  if (!moat_annotations_any (annotations))
    return false;
  json_object_foreach (annotations, key, v)
  {
    bool names_only = false;

    for (size_t i = 0; i < sizeof (naming) / sizeof (naming[0]); i++)
      names_only = names_only || strcasecmp (key, naming[i]) == 0;
    if (!names_only && strncasecmp (key, MOAT_ANNOT_PREFIX, strlen (MOAT_ANNOT_PREFIX)) == 0)
      return true;
  }
  return false;
}

static int
no_attachment (const struct oci_state *s, moat_err_t *err)
{
  return moat_error (err, MOAT_E_CONFIG, 0,
                     "container \"%s\" has io.moat.* annotations but no moat network attachment "
                     "(attach it to a network of type \"moat\", or name one with "
                     "io.moat.network)",
                     s->id);
}

/* An error in the words the user wrote: when the settings came from the
 * MOAT_* environment, the variables rather than the annotations they stand
 * for, and the variables in hints when the user set no io.moat.* policy
 * annotation (moat_error_env_names). Returns -1. */
static int
hook_error (const struct moat_hook *h, moat_err_t *err)
{
  if (h->s.env_used)
    moat_error_env_names (err, h->s.annotations, h->s.process_env,
                          !asks_for_policy (h->s.annotations));
  return -1;
}

/* MOAT_* settings with no MOAT_NETWORK and no attachment: ignored (an
 * image's ENV must not fail a container), with a notice saying why. */
static int
notice_env_without_network (struct moat_hook *h, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *env = NULL;

  if (moat_annotations_with_env (NULL, h->s.process_env, &env, err) < 0)
    return -1;
  if (asks_for_policy (env))
    snprintf (h->notice, sizeof (h->notice),
              "container \"%s\": MOAT_* environment ignored: it has no moat network attachment "
              "(name one with MOAT_NETWORK)",
              h->s.id);
  return 0;
}

/* A host-network container naming a network (hostnet.h): no attachment,
 * its policy keyed by its cgroup. */
static int
plan_hostnet (struct moat_hook *h, const char *network, moat_err_t *err)
{
  json_t *effective = NULL;

  if (find_network (h, network, MOAT_ANNOT_PREFIX "network", err) < 0
      || effective_annotations (&h->s, h->conf.allow, &effective, err) < 0)
    return -1;
  return moat_hook_hostnet_plan (&h->hostnet, h->s.id, h->s.pid, effective, err);
}

/* The settings are the annotations; the MOAT_* environment counts only
 * on a network that reads it (effective_annotations). */
static int
plan_start (struct moat_hook *h, moat_err_t *err)
{
  _cleanup_free_ char *from_env = NULL;
  struct moat_annotations a = { 0 };
  int r = 0;

  /* Checked first, once: a malformed annotation is the container's error,
   * whatever network it is on; so is a list podman 4 cut at a comma. */
  if (moat_annotations_parse (h->s.annotations, &a, err) < 0)
    return -1;
  if (moat_annotations_check_split (h->s.annotations, err) < 0)
    {
      moat_annotations_free (&a);
      return -1;
    }
  if (a.network && moat_hook_hostnet_shares_host (h->s.config))
    r = plan_hostnet (h, a.network, err);
  else if (find_attachments (&h->s, &h->found, err) < 0)
    r = -1;
  else if (h->found.n > 0)
    r = 0;
  else if (a.network)
    r = find_network (h, a.network, MOAT_ANNOT_PREFIX "network", err) < 0 ? -1
                                                                          : plan_attach (h, err);
  else if ((r = env_network (&h->s, &from_env, err)) == 0 && from_env)
    r = plan_attach_env (h, from_env, err);
  if (r == 0 && h->hostnet.start)
    ;
  else if (r == 0 && !h->attach && h->found.n == 0 && asks_for_policy (h->s.annotations))
    r = no_attachment (&h->s, err);
  else if (r == 0 && !h->attach && h->found.n == 0 && !from_env)
    r = notice_env_without_network (h, err);
  moat_annotations_free (&a);
  return r;
}

/* The network the container names (io.moat.network, else MOAT_NETWORK:
 * *ret_from_env), if any: at poststop only a hint, so a state or
 * config.json that cannot be read names none. */
static char *
named_network (struct oci_state *s, bool *ret_from_env)
{
  struct moat_annotations a = { 0 };
  moat_err_t ignored = { 0 };
  char *network = NULL;

  *ret_from_env = false;
  if (oci_state_read_bundle (s, &ignored) < 0
      || moat_annotations_parse (s->annotations, &a, &ignored) < 0)
    return NULL;
  if (a.network)
    network = strdup (a.network);
  moat_annotations_free (&a);
  if (!network && env_network (s, &network, &ignored) == 0 && network)
    *ret_from_env = true;
  return network;
}

/* An orphan's DEL (detach_orphan) runs the IPAM plugin of the network
 * found by name: its writes too. A network not found has nothing to
 * remove. */
static void
add_network_ipam_writes (struct moat_write_set *w, const char *network)
{
  _cleanup_ (moat_netconf_free) struct moat_netconf conf = { 0 };
  _cleanup_free_ char *text = NULL, *file = NULL;
  moat_err_t ignored = { 0 };

  if (moat_netfind (network, NULL, &text, &file, &ignored) == 0
      && moat_netconf_parse (text, MOAT_CMD_DEL, &conf, &ignored) == 0)
    moat_write_set_add_ipam (w, json_object_get (conf.root, "ipam"));
}

/* An attach killed before its record was written leaves no record for
 * poststop to find by id, but may have left an address, an index entry or
 * a temporary file: a container that names a network gets that network's
 * DEL, which removes them (and is a no-op when there is nothing). */
static int
plan_stop_named (struct moat_hook *h, moat_err_t *err)
{
  bool from_env;
  _cleanup_free_ char *network = named_network (&h->s, &from_env);
  char key[MOAT_KEY_MAX + 1];

  if (!network || moat_attachment_key (key, sizeof (key), h->s.id, MOAT_HOOK_IFNAME) < 0)
    return 0;
  if (attachments_push (&h->found, network, key, true) < 0)
    return moat_error (err, MOAT_E_IO, ENOMEM, "attachments");
  h->found.v[h->found.n - 1].orphan = true;
  h->found.v[h->found.n - 1].by_hook = true;
  h->found.v[h->found.n - 1].from_env = from_env;
  add_network_ipam_writes (&h->writes, network);
  if (h->profile != MOAT_SECCOMP_PLUGIN_DELEGATED)
    h->profile = MOAT_SECCOMP_PLUGIN_DELEGATED; /* the network's IPAM may be delegated */
  return 0;
}

/* Which of the container's attachments the hook made: those go at
 * poststop. */
static int
plan_stop (struct moat_hook *h, moat_err_t *err)
{
  bool any_by_id = false;

  if (moat_hook_hostnet_plan_stop (&h->hostnet, h->s.id, err) < 0)
    return -1;
  if (h->hostnet.stop)
    return 0;
  if (find_attachments (&h->s, &h->found, err) < 0)
    return -1;
  for (size_t i = 0; i < h->found.n; i++)
    {
      struct attachment *a = &h->found.v[i];
      struct moat_record rec;
      int r;

      if (!a->by_id)
        continue; /* another container's: only its policy is ours */
      any_by_id = true;
      r = moat_record_read (a->network, a->key, &rec, err);
      if (r < 0)
        return moat_error_prefix (err, "network \"%s\"", a->network);
      if (r == 0)
        {
          /* An index entry without its record: an ADD killed mid-way. */
          a->orphan = a->by_hook = true;
          h->profile = MOAT_SECCOMP_PLUGIN_DELEGATED;
          add_network_ipam_writes (&h->writes, a->network);
          continue;
        }
      a->by_hook = rec.attached_by == MOAT_ATTACHED_BY_HOOK;
      a->delegated = rec.ipam != NULL;
      /* Its DEL may be its network's last: the name server stops. */
      if (a->by_hook && rec.dns && h->dnsd.pid < 0 && moat_dnsd_prepare (&h->dnsd, err) < 0)
        {
          moat_record_free (&rec);
          return -1;
        }
      if (a->by_hook && rec.netconf)
        moat_write_set_add_ipam (&h->writes, json_object_get (rec.netconf, "ipam"));
      else if (a->by_hook)
        add_network_ipam_writes (&h->writes, a->network); /* detach finds it by name */
      moat_record_free (&rec);
      if (a->by_hook && h->profile != MOAT_SECCOMP_PLUGIN_DELEGATED)
        h->profile = a->delegated ? MOAT_SECCOMP_PLUGIN_DELEGATED : MOAT_SECCOMP_HOOK;
    }
  return any_by_id ? 0 : plan_stop_named (h, err);
}

int
moat_hook_prepare (enum moat_hook_stage stage, const char *text, size_t len, struct moat_hook **ret,
                   moat_err_t *err)
{
  _cleanup_ (moat_hook_freep) struct moat_hook *h = calloc (1, sizeof (*h));
  bool stop = stage == MOAT_HOOK_POSTSTOP;

  *ret = NULL;
  if (!h)
    return moat_error (err, MOAT_E_IO, ENOMEM, "hook");
  h->stage = stage;
  h->netns_fd = -1;
  h->dnsd = (struct moat_dnsd)MOAT_DNSD_NONE;
  h->profile = MOAT_SECCOMP_HOOK_POLICY;
  /* poststop needs no settings: the records say what to remove. */
  if (oci_state_parse (text, len, !stop, &h->s, err) < 0
      || (stop ? plan_stop (h, err) : plan_start (h, err)) < 0)
    return hook_error (h, err);
  /* A container moat leaves alone makes the hook write nothing at all. */
  if (h->attach || h->found.n > 0 || h->hostnet.start || h->hostnet.stop)
    moat_write_set_add (&h->writes, moat_run_dir (), 0700);
  *ret = TAKE_PTR (h);
  return 0;
}

const struct moat_write_set *
moat_hook_writes (const struct moat_hook *h)
{
  return &h->writes;
}

/* --- the plugin's verbs ------------------------------------------------------ */

static const char *
cni_path (void)
{
  const char *p = getenv ("CNI_PATH");

  return p && *p ? p : MOAT_HOOK_CNI_PATH_DEFAULT;
}

/* A delegated IPAM plugin reads the attachment from the environment, as
 * the runtime would have set it (CNI_COMMAND is the plugin's to set). */
static int
export_cni_env (const char *id, const char *netns, const char *ifname, moat_err_t *err)
{
  if (setenv ("CNI_CONTAINERID", id, 1) < 0 || setenv ("CNI_IFNAME", ifname, 1) < 0
      || (netns ? setenv ("CNI_NETNS", netns, 1) : unsetenv ("CNI_NETNS")) < 0
      || setenv ("CNI_PATH", cni_path (), 1) < 0 || unsetenv ("CNI_ARGS") < 0)
    return moat_error (err, MOAT_E_IO, errno, "environment");
  return 0;
}

/* The plugin's DEL for an attachment without a record (plan_stop): the
 * network's configuration found by name. A network that is gone, or no
 * longer a moat network, had its state go with it: nothing to do. */
static int
detach_orphan (const struct attachment *a, struct moat_dnsd *dnsd, moat_err_t *err)
{
  _cleanup_ (moat_netconf_free) struct moat_netconf conf = { 0 };
  _cleanup_ (json_decrefp) json_t *result = NULL;
  _cleanup_free_ char *text = NULL, *file = NULL, *id = NULL;
  struct moat_cni_env env = { .command = MOAT_CMD_DEL, .ifname = MOAT_HOOK_IFNAME };
  moat_err_t not_found = { 0 };
  const char *ifname = moat_attachment_key_ifname (a->key);

  if (!ifname || !(id = strndup (a->key, (size_t)(ifname - 1 - a->key))))
    return moat_error (err, MOAT_E_IO, ENOMEM, "attachment \"%s\"", a->key);
  if (moat_netfind (a->network, NULL, &text, &file, &not_found) < 0
      || moat_netconf_parse (text, MOAT_CMD_DEL, &conf, &not_found) < 0
      || (a->from_env && !conf.reads_env))
    return 0;
  env.container_id = id;
  env.ifname = ifname;
  env.path = cni_path ();
  env.dnsd = dnsd;
  if (export_cni_env (id, NULL, ifname, err) < 0)
    return -1;
  return moat_cni_run (&env, &conf, &result, err);
}

/* The plugin's DEL of an attachment the hook made, with the network
 * configuration its ADD used (the record keeps it; else found by name). */
static int
detach (const struct attachment *a, struct moat_dnsd *dnsd, moat_err_t *err)
{
  _cleanup_ (moat_record_free) struct moat_record rec = { 0 };
  _cleanup_ (moat_netconf_free) struct moat_netconf conf = { 0 };
  _cleanup_ (json_decrefp) json_t *result = NULL;
  _cleanup_free_ char *text = NULL, *file = NULL;
  struct moat_cni_env env = { .command = MOAT_CMD_DEL };
  int r;

  r = moat_record_read (a->network, a->key, &rec, err);
  if (r < 0 || (r == 0 && !a->orphan))
    return r; /* gone: a DEL before us took it */
  if (r == 0)
    return detach_orphan (a, dnsd, err);
  if (rec.netconf)
    text = json_dumps (rec.netconf, JSON_COMPACT);
  else if (moat_netfind (a->network, NULL, &text, &file, err) < 0)
    return -1;
  if (!text)
    return moat_error (err, MOAT_E_IO, ENOMEM, "record \"%s\"", a->key);
  if (moat_netconf_parse (text, MOAT_CMD_DEL, &conf, err) < 0)
    return moat_error_prefix (err, "record \"%s\": netconf", a->key);
  if (strcmp (conf.name, a->network) != 0)
    return moat_error (err, MOAT_E_STATE, 0, "record \"%s\": netconf names network \"%s\"", a->key,
                       conf.name);
  env.container_id = rec.container_id;
  env.netns = rec.netns;
  env.ifname = rec.ifname;
  env.path = cni_path ();
  env.dnsd = dnsd;
  if (export_cni_env (rec.container_id, rec.netns, rec.ifname, err) < 0)
    return -1;
  return moat_cni_run (&env, &conf, &result, err);
}

/* The plugin's ADD; the new attachment joins h->found. */
static int
attach (struct moat_hook *h, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *result = NULL;
  struct moat_cni_env env = {
    .command = MOAT_CMD_ADD,
    .container_id = h->s.id,
    .netns = h->netns,
    .ifname = MOAT_HOOK_IFNAME,
    .path = cni_path (),
    .have_netns_fd = true,
    .netns_fd = h->netns_fd,
    .args = h->cni_args[0] ? h->cni_args : NULL,
    .dnsd = &h->dnsd,
  };
  char key[MOAT_KEY_MAX + 1];

  if (moat_attachment_key (key, sizeof (key), h->s.id, MOAT_HOOK_IFNAME) < 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "container \"%s\": id too long", h->s.id);
  if (export_cni_env (h->s.id, h->netns, MOAT_HOOK_IFNAME, err) < 0
      || moat_cni_run_by (&env, &h->conf, MOAT_ATTACHED_BY_HOOK, &result, err) < 0)
    return -1;
  if (write_resolv_conf (h, result, err) < 0)
    {
      _cleanup_ (json_decrefp) json_t *none = NULL;
      moat_err_t undo = { 0 };
      env.command = MOAT_CMD_DEL;
      if (moat_cni_run (&env, &h->conf, &none, &undo) < 0)
        moat_error_undo_failed (err, "the ADD", &undo);
      return -1;
    }
  if (attachments_push (&h->found, h->conf.name, key, true) < 0)
    return moat_error (err, MOAT_E_IO, ENOMEM, "attachments");
  h->found.v[h->found.n - 1].by_hook = true;
  return 0;
}

/* --- applying ------------------------------------------------------------- */

static bool
policy_unchanged (const struct moat_record *rec, const struct moat_policy *p)
{
  _cleanup_ (json_decrefp) json_t *j = NULL;

  if (!rec->policy)
    return false;
  j = moat_policy_to_json (p);
  return j && json_equal (j, rec->policy);
}

/* Published ports are made with the attachment: an io.moat.publish that
 * its ADD did not publish (the runtime attached the container) is refused,
 * never ignored. */
static int
publish_settled (const struct moat_record *rec, const struct moat_policy *p, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *want = moat_publish_to_json (&p->a.publish);

  if (!want || (rec->publish && json_equal (want, rec->publish)))
    return 0;
  return moat_error (err, MOAT_E_CONFIG, 0,
                     MOAT_ANNOT_PREFIX
                     "publish: container \"%s\" was attached by its runtime, "
                     "which publishes ports (podman -p, runtimeConfig.portMappings); "
                     "io.moat.publish is for hook-driven attach (io.moat.network)",
                     rec->container_id);
}

/* The container's own sources into its record, for an attachment made
 * later (model/sources.h). */
static int
sources_update (struct moat_record *rec, const struct oci_state *s, bool *changed, moat_err_t *err)
{
  json_t *now = moat_sources_new (s->annotations, s->process_env);

  if (!now)
    return moat_error_nomem (err, "sources");
  *changed = !rec->sources || !json_equal (now, rec->sources);
  json_decref (rec->sources);
  rec->sources = now;
  return 0;
}

static int
apply_one (struct moat_nft *nft, const struct attachment *a, enum moat_hook_stage stage,
           struct oci_state *s, moat_err_t *err)
{
  _cleanup_ (moat_record_free) struct moat_record rec = { 0 };
  _cleanup_ (moat_policy_free) struct moat_policy p = { 0 };
  _cleanup_ (json_decrefp) json_t *annotations = NULL;
  _cleanup_close_ int lock = -1;
  bool sources_changed = false;
  int r;

  if (moat_network_lock (a->network, &lock, err) < 0)
    return -1;
  r = moat_record_read (a->network, a->key, &rec, err);
  if (r <= 0)
    return r; /* gone meanwhile: a DEL took it */
  if (stage == MOAT_HOOK_POSTSTOP)
    {
      /* Nothing installed, nothing to say: no write. */
      if (!rec.ident && !rec.policy)
        return 0;
      /* The record says "pending" until the policy is gone from the
       * kernel and from the record: a poststop killed in between leaves
       * a record a later prestart does not trust. */
      rec.policy_pending = true;
      if (moat_record_write (&rec, err) < 0 || moat_policy_clear (nft, &rec, err) < 0)
        return -1;
      rec.policy_pending = false;
      return moat_record_write (&rec, err);
    }
  if (effective_annotations (s, rec.allow, &annotations, err) < 0
      || moat_policy_resolve (&rec, annotations, &p, err) < 0 || publish_settled (&rec, &p, err) < 0
      || sources_update (&rec, s, &sources_changed, err) < 0)
    return -1;
  /* A prestart again (a runtime's retry) with the policy in place does
   * nothing; with a pending one it applies it again. */
  if (!rec.policy_pending && policy_unchanged (&rec, &p))
    return sources_changed ? moat_record_write (&rec, err) : 0;
  /* moat_policy_join writes the record, saying "pending", before it
   * changes the kernel; once the kernel holds the policy, the record says
   * so. */
  rec.policy_pending = true;
  if (moat_policy_join (nft, &rec, &p, err) < 0)
    return -1;
  rec.policy_pending = false;
  return moat_record_write (&rec, err);
}

/* Fail closed: what the hook attached goes again, the first error stays. */
static int
undo_attach (struct moat_hook *h, moat_err_t *err)
{
  moat_err_t undo = { 0 };

  for (size_t i = 0; i < h->found.n; i++)
    if (h->found.v[i].by_hook && detach (&h->found.v[i], &h->dnsd, &undo) < 0)
      return moat_error_undo_failed (err, "the attach", &undo);
  return -1;
}

static int
execute_start (struct moat_hook *h, moat_err_t *err)
{
  _cleanup_ (moat_nft_closep) struct moat_nft *nft = NULL;

  if (h->hostnet.start)
    return moat_hook_hostnet_execute (&h->hostnet, &h->conf, h->s.id, h->s.pid, err);
  if (h->attach && attach (h, err) < 0)
    return moat_error_prefix (err, "network \"%s\"", h->conf.name);
  if (h->found.n == 0)
    return 0;
  if (moat_nft_open (&nft, err) < 0)
    return h->attach ? undo_attach (h, err) : -1;
  for (size_t i = 0; i < h->found.n; i++)
    if (apply_one (nft, &h->found.v[i], h->stage, &h->s, err) < 0)
      {
        moat_error_prefix (err, "network \"%s\"", h->found.v[i].network);
        return h->attach ? undo_attach (h, err) : -1;
      }
  return 0;
}

static int
execute_stop (struct moat_hook *h, moat_err_t *err)
{
  _cleanup_ (moat_nft_closep) struct moat_nft *nft = NULL;

  if (h->hostnet.stop)
    return moat_hook_hostnet_execute (&h->hostnet, &h->conf, h->s.id, h->s.pid, err);
  for (size_t i = 0; i < h->found.n; i++)
    {
      const struct attachment *a = &h->found.v[i];

      if (a->by_hook)
        {
          if (detach (a, &h->dnsd, err) < 0)
            return moat_error_prefix (err, "network \"%s\"", a->network);
          continue;
        }
      if (!nft && moat_nft_open (&nft, err) < 0)
        return -1;
      if (apply_one (nft, a, h->stage, NULL, err) < 0)
        return moat_error_prefix (err, "network \"%s\"", a->network);
    }
  return 0;
}

int
moat_hook_mount (const struct moat_hook *h, moat_err_t *err)
{
  return moat_hook_hostnet_mount (&h->hostnet, err);
}

int
moat_hook_execute (struct moat_hook *h, moat_err_t *err)
{
  if ((h->stage == MOAT_HOOK_POSTSTOP ? execute_stop (h, err) : execute_start (h, err)) < 0)
    return hook_error (h, err);
  return 0;
}

int
moat_hook_run (enum moat_hook_stage stage, const char *text, size_t len, moat_err_t *err)
{
  _cleanup_ (moat_hook_freep) struct moat_hook *h = NULL;

  if (moat_hook_prepare (stage, text, len, &h, err) < 0 || moat_hook_mount (h, err) < 0)
    return -1;
  return moat_hook_execute (h, err);
}
