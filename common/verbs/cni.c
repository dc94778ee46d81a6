/* SPDX-License-Identifier: Apache-2.0 */
#include "verbs/cni.h"
#include "verbs/dnsd.h"
#include "model/hosts.h"
#include "state/hostsdir.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "base/strv.h"
#include "kernel/conntrack.h"
#include "state/ipam.h"
#include "state/keys4.h"
#include "state/names.h"
#include "kernel/netlink.h"
#include "kernel/nft.h"
#include "model/ceiling.h"
#include "model/policy.h"
#include "model/sources.h"
#include "model/result.h"
#include "state/flows.h"
#include "state/hostnet.h"
#include "state/identities.h"
#include "state/remote.h"
#include "state/state.h"
#include "state/published.h"
#include "verbs/apply.h"
#include "verbs/cni6.h"

#define KEY_MAX 512

/* CNI_ARGS "K=V;K=V": the value of `name`, copied into buf; 0 if absent. */
static int
cni_arg (const char *args, const char *name, char *buf, size_t size)
{
  size_t n = strlen (name);

  for (const char *p = args; p && *p;)
    {
      const char *end = strchrnul (p, ';');
      if ((size_t)(end - p) > n && strncmp (p, name, n) == 0 && p[n] == '=')
        {
          size_t len = end - p - n - 1;
          if (len >= size)
            return 0;
          memcpy (buf, p + n + 1, len);
          buf[len] = '\0';
          return 1;
        }
      p = *end ? end + 1 : end;
    }
  return 0;
}

static int
ipam_dir (char *buf, size_t size, const char *network)
{
  return moat_state_path (buf, size, network, "ipam");
}

static void
derived_mac (struct in_addr addr, unsigned char mac[MOAT_MAC_LEN])
{
  /* Locally administered, unicast, unique per address on this host. */
  mac[0] = 0x02;
  mac[1] = 0x6d;
  memcpy (mac + 2, &addr.s_addr, 4);
}

static struct moat_pool
pool_of (const struct moat_netconf *conf)
{
  return (struct moat_pool){ conf->subnet, conf->prefixlen, conf->gateway };
}

/* Delegated IPAM runs with the attachment's identity in its environment:
 * a GC removes attachments other than the one CNI_* names. */
static int
ipam_delegate_del (const struct moat_netconf *conf, const struct moat_record *rec, moat_err_t *err)
{
  setenv ("CNI_CONTAINERID", rec->container_id, 1);
  setenv ("CNI_IFNAME", rec->ifname, 1);
  if (rec->netns)
    setenv ("CNI_NETNS", rec->netns, 1);
  else
    unsetenv ("CNI_NETNS");
  return moat_ipam_exec (conf->ipam_type, "DEL", conf->raw, NULL, err);
}

static int
address_release (const struct moat_netconf *conf, const struct moat_record *rec, const char *key,
                 moat_err_t *err)
{
  char dir[4096];

  /* The built-in IPv6 allocation (delegated IPAM may have left IPv6 to it). */
  if (moat_cni6_release (rec, key, err) < 0)
    return -1;
  /* An IPv6-only container's key is the built-in allocator's, whoever
   * gave its IPv6 address. */
  if (rec->ipam && (conf->ipam_type ? ipam_delegate_del (conf, rec, err) : 0) < 0)
    return -1;
  if (rec->ipam && !rec->v6only)
    return 0;
  if (ipam_dir (dir, sizeof (dir), rec->network) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "ipam directory");
  return moat_ipam_release (dir, rec->addr, key, err);
}

/* For a sequence that goes on after a failure: reports the first one. */
static bool
keep_first_error (moat_err_t *err, bool failed, const moat_err_t *step)
{
  if (!failed)
    *err = *step;
  return true;
}

/* What an ADD made so far: its undo removes that and nothing else. */
struct made
{
  bool elems; /* the member's elements (moat_nft_member_add) */
  bool link;  /* the veth pair */
};

static const struct made made_all = { true, true };

/* A dual-stack container's own elements get their IPv6 twins (published
 * ports on the host's IPv6 addresses; docs/design.md, "IPv6"). */
static int
own_addr6 (struct in_addr addr, struct in6_addr *ret, void *data)
{
  const struct moat_record *rec = data;

  if (!rec->have_addr6 || addr.s_addr != rec->addr.s_addr)
    return 0;
  *ret = rec->addr6;
  return 1;
}

/* An IPv6-only container's published ports are its twins only: an IPv4
 * one would send the host's port to its key. */
static int
own_twins (const struct moat_record *rec, struct moat_nft_elems *l)
{
  if (!rec->have_addr6)
    return 0;
  if (moat_nft_elems_twin6 (l, l, own_addr6, (void *)rec) < 0)
    return -1;
  if (rec->v6only)
    moat_nft_elems_drop4 (l, 0, moat_nft_elems_count (l));
  return 0;
}

/* The elements of the record's published ports: true when they are all
 * of them (the record says; none is fine), false when unknown. */
static bool
record_publish_elems (const struct moat_record *rec, struct moat_nft_elems **ret)
{
  _cleanup_ (moat_publish_list_free) struct moat_publish_list l = { 0 };
  moat_err_t ignored = { 0 };

  if (moat_publish_from_json (rec->publish, &l, &ignored) < 0)
    return false;
  if (l.n == 0)
    return true;
  *ret = moat_nft_elems_new ();
  return *ret && moat_publish_elems (&l, rec->addr, *ret) == 0 && own_twins (rec, *ret) == 0;
}

/* Removes everything one attachment owns, in reverse order of creation.
 * Every step runs even when an earlier one failed; the record goes only
 * when all succeeded, so a retried DEL still finds what is left. A failed
 * ADD says what it made: a link, or elements (`guarded`, `ports`, ...) of
 * that host end, that it did not make are someone else's. */
static int
attachment_remove (struct moat_nl *nl, const struct moat_netconf *conf,
                   const struct moat_record *rec, const struct made *made, moat_err_t *err)
{
  _cleanup_ (moat_nft_closep) struct moat_nft *nft = NULL;
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *publish = NULL;
  struct moat_nft_member m = moat_record_member (rec);
  moat_err_t step = { 0 }, link_step = { 0 };
  struct moat_ct_job ct;
  bool failed = false, link_failed = false, forgetting = false;
  char key[KEY_MAX];

  /* Its published ports as the record names them (deleted as they are). */
  m.publish_known = record_publish_elems (rec, &publish);
  m.publish = publish;
  /* The port out of service first: from then on nothing it sends passes,
   * so no moment comes when the port is on the bridge unguarded. Then the
   * elements (the bridges rules drop a non-member), and the socket's
   * close, which waits for the kernel to free them, comes after the
   * link's removal has waited as long. */
  if (made->link && moat_veth_down (nl, rec->host_if, &step) < 0)
    failed = keep_first_error (err, failed, &step);
  /* Its names stop resolving before its address can be another's. */
  moat_attachment_key (key, sizeof (key), rec->container_id, rec->ifname);
  if (moat_hosts_remove (rec->network, key, &step) < 0)
    failed = keep_first_error (err, failed, &step);
  if (moat_nft_open (&nft, &step) < 0
      || moat_policy_leave (nft, rec, MOAT_LEAVE_IDENTITY, &step) < 0
      || (made->elems && moat_nft_member_del (nft, &m, &step) < 0))
    failed = keep_first_error (err, failed, &step);
  /* Flows that named the address end with it: a reply of one must not
   * reach the next container given the address. Moat's own allocator
   * hands it out again only through an ADD, which forgets them first
   * (flows_settle), together with those of every other address waiting:
   * one dump of the table (~10 ms of CPU that also holds up the link's
   * RCU wait) for many DELs. A delegated plugin may hand it out at once:
   * then the dump runs here, in a thread, while the link's removal waits. */
  else if (rec->ipam)
    {
      moat_ct_forget_start (&ct, rec->addr);
      forgetting = true;
    }
  else if (moat_flows_pending_add (rec->addr, &step) < 0)
    failed = keep_first_error (err, failed, &step);
  if (made->link && moat_veth_detach (nl, rec->host_if, &link_step) < 0)
    link_failed = true;
  if (forgetting && moat_ct_forget_finish (&ct, &step) < 0)
    failed = keep_first_error (err, failed, &step);
  /* The markers are IPv4's: a dual-stack DEL forgets its IPv6 flows
   * itself (one dump of the IPv6 table). */
  if (!failed && rec->have_addr6 && moat_ct_forget_addr6 (&rec->addr6, &step) < 0)
    failed = keep_first_error (err, failed, &step);
  /* An address whose elements may still be there is not handed out again. */
  bool keep_address = failed;
  if (link_failed)
    failed = keep_first_error (err, failed, &link_step);
  moat_nft_close (TAKE_PTR (nft)); /* after the link: see moat_nft_open */
  if (!keep_address && address_release (conf, rec, key, &step) < 0)
    failed = keep_first_error (err, failed, &step);
  if (failed)
    return -1;
  return moat_record_remove (rec->network, key, err);
}

/* Another network may share the bridge (every network defaults to moat0),
 * or someone else may have put a port on it: then it stays. */
static int
bridge_delete_if_unused (struct moat_nl *nl, struct moat_nft *nft, const char *bridge,
                         moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **ports = NULL;

  if (moat_bridge_ports (nl, bridge, &ports, err) < 0)
    return -1;
  if (ports[0])
    return 0;
  if (moat_bridge_delete (nl, bridge, err) < 0 || moat_nft_bridge_del (nft, bridge, err) < 0)
    return -1;
  return 0;
}

/* A network's gateway addresses: where its name server listens. */
struct gateways
{
  struct in_addr v4;
  bool have_v6;
  struct in6_addr v6;
};

static struct gateways
conf_gateways (const struct moat_netconf *conf)
{
  return (struct gateways){ conf->gateway, conf->have_subnet6, conf->gateway6 };
}

static struct gateways
record_gateways (const struct moat_record *rec)
{
  return (struct gateways){ rec->gateway, rec->have_addr6, rec->gateway6 };
}

/* The network's name server and its resolvers elements (both families'),
 * with its last attachment (docs/design.md, "Names"). */
static int
network_dns_stop (const struct moat_cni_env *env, const struct moat_netconf *conf,
                  const char *bridge, const struct gateways *gw, moat_err_t *err)
{
  _cleanup_ (moat_nft_closep) struct moat_nft *nft = NULL;

  if (!conf->dns)
    return 0;
  if (moat_dnsd_stop (env->dnsd, conf->name, err) < 0 || moat_nft_open (&nft, err) < 0
      || moat_nft_resolvers_del (nft, bridge, gw->v4, gw->have_v6 ? &gw->v6 : NULL, err) < 0)
    return -1;
  return 0;
}

/* The last attachment gone (docs/design.md, "What the last container
 * leaves"): the name server, the network's identities and its state
 * directory go. After a DEL the bridge (with its element) and moat's
 * tables stay, empty, for the next container: deleting a bridge waits
 * ~40 ms in the kernel and the tables' removal ~20 ms, as much again as
 * the rest of the DEL (the reference bridge plugin keeps its bridge too);
 * `moatctl teardown` removes them. With `sweep` (the undo of a failed ADD,
 * which removes what it may have made, and CNI GC, whose caller asks for
 * what is unused to go) the bridge goes too when no port is left on it,
 * and the tables when nothing is attached anywhere. Caller holds the
 * network lock and no global lock. */
static int
network_remove_if_empty (struct moat_nl *nl, const struct moat_cni_env *env,
                         const struct moat_netconf *conf, const char *bridge,
                         const struct gateways *gw, bool sweep, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **keys = NULL;
  _cleanup_ (moat_nft_closep) struct moat_nft *nft = NULL;
  _cleanup_close_ int global = -1;
  int any = 1, hostnet, remote;

  if (moat_record_list (conf->name, &keys, err) < 0)
    return -1;
  if (keys[0])
    return 0;
  /* A host-network container's jump names the network's identities: they
   * and its state stay until it goes (verbs/hostnet.h). */
  hostnet = moat_hostnet_on_network (conf->name, err);
  if (hostnet < 0 || (remote = moat_remote_any (conf->name, err)) < 0)
    return -1;
  if (network_dns_stop (env, conf, bridge, gw, err) < 0)
    return -1;
  /* Other nodes' containers (docs/cluster.md): their identities, elements
   * and the bridge stay for this node's next container. */
  if (remote)
    return 0;
  if (conf->keep_bridge)
    return 0;
  if (moat_global_lock (LOCK_EX, &global, err) < 0 || moat_nft_open (&nft, err) < 0
      || (sweep && bridge_delete_if_unused (nl, nft, bridge, err) < 0))
    return -1;
  /* Records show this state directory's containers; the kernel's sets also
   * show those of another one (a private MOAT_RUN_DIR). */
  if (sweep)
    any = moat_any_record (err);
  if (any == 0)
    any = moat_nft_in_use (nft, err);
  if (any < 0 || (any == 0 && moat_nft_teardown (nft, err) < 0))
    return -1;
  if (hostnet)
    return 0;
  if ((any == 1 && moat_policy_network_remove (nft, conf->name, err) < 0)
      || moat_ident_owners_release (conf->name, err) < 0
      || moat_flows_hint_save (conf->name, err) < 0
      || (conf->have_subnet6 && moat_keys4_release (conf->name, err) < 0))
    return -1;
  return moat_network_dir_remove (conf->name, err);
}

static int
record_init (const struct moat_cni_env *env, const struct moat_netconf *conf, enum moat_attacher by,
             const char *key, struct moat_record *rec, moat_err_t *err)
{
  struct moat_names_key k;
  char host_if[16], buf[256];

  if (moat_names_key_get (true, &k, err) < 0)
    return -1;
  moat_host_ifname (&k, conf->name, key, host_if);
  memset (rec, 0, sizeof (*rec));
  rec->cni_version = strdup (conf->cni_version);
  rec->network = strdup (conf->name);
  rec->container_id = strdup (env->container_id);
  rec->ifname = strdup (env->ifname);
  rec->netns = env->netns ? strdup (env->netns) : NULL;
  rec->host_if = strdup (host_if);
  rec->bridge = strdup (conf->bridge);
  rec->ipam = conf->ipam_type ? strdup (conf->ipam_type) : NULL;
  if (cni_arg (env->args, "K8S_POD_NAME", buf, sizeof (buf)))
    rec->name = strdup (buf);
  if (cni_arg (env->args, "K8S_POD_NAMESPACE", buf, sizeof (buf)))
    rec->pod_namespace = strdup (buf);
  rec->quiet = !conf->reject;
  rec->log = conf->log;
  rec->internet = conf->internet;
  rec->masquerade = conf->masquerade;
  rec->dns = conf->dns;
  rec->aliases = conf->aliases ? json_incref (conf->aliases) : NULL;
  rec->labels = json_object ();
  for (size_t i = 0; rec->labels && i < conf->n_labels; i++)
    json_object_set_new (rec->labels, conf->labels[i].key, json_string (conf->labels[i].value));
  rec->pod_annotations = conf->pod_annotations ? json_incref (conf->pod_annotations) : NULL;
  rec->policy_file = conf->policy_file ? strdup (conf->policy_file) : NULL;
  rec->allow = conf->allow ? json_incref (conf->allow) : NULL;
  rec->attached_by = by;
  if (by == MOAT_ATTACHED_BY_HOOK)
    rec->netconf = json_incref (conf->root);
  if ((conf->policy_file && !rec->policy_file) || !rec->cni_version || !rec->network
      || !rec->container_id || !rec->ifname || !rec->host_if || !rec->bridge || !rec->labels
      || (env->netns && !rec->netns) || (conf->ipam_type && !rec->ipam))
    return moat_error (err, MOAT_E_IO, ENOMEM, "attachment record");
  return 0;
}

/* An IPv6-only container's IPv4 key (docs/design.md, "IPv6"): from the
 * network's own range of 240.0.0.0/4 by the built-in allocator, in no
 * interface and never on the wire; its IPv6 address comes after. */
static int
key_acquire (const struct moat_netconf *conf, const char *key, struct moat_record *rec,
             moat_err_t *err)
{
  struct moat_pool pool = { .prefixlen = MOAT_KEYS4_PREFIXLEN };
  char dir[4096];

  if (moat_keys4_claim (conf->name, &pool.subnet, err) < 0)
    return -1;
  pool.gateway.s_addr = htonl (ntohl (pool.subnet.s_addr) + 1);
  if (ipam_dir (dir, sizeof (dir), conf->name) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "ipam directory");
  if (moat_ipam_alloc (dir, &pool, key, NULL, &rec->addr, err) < 0)
    return -1;
  rec->prefixlen = pool.prefixlen;
  rec->gateway = pool.gateway;
  rec->v6only = true;
  return 0;
}

/* The delegated plugin's ADD undone after its result (`plugins`: the
 * error is about it) or the key failed. */
static int
delegated_undo (const struct moat_netconf *conf, bool plugins, moat_err_t *err)
{
  moat_err_t undo = { 0 };

  if (moat_ipam_exec (conf->ipam_type, "DEL", conf->raw, NULL, &undo) < 0)
    moat_error_undo_failed (err, "the ADD", &undo);
  return plugins ? moat_error_prefix (err, "ipam plugin %s", conf->ipam_type) : -1;
}

/* Picks the container's address: the built-in allocator, or the delegated
 * IPAM plugin whose result (for "dns") is handed back in *ret_ipam. */
static int
address_acquire (const struct moat_cni_env *env, const struct moat_netconf *conf, const char *key,
                 struct moat_record *rec, json_t **ret_ipam, moat_err_t *err)
{
  struct in_addr requested = conf->ip;
  bool have_requested = conf->have_ip;
  char buf[64], dir[4096];

  if (!have_requested && cni_arg (env->args, "IP", buf, sizeof (buf)))
    {
      if (moat_parse_ipv4 (buf, &requested) < 0)
        return moat_error (err, MOAT_E_CONFIG, 0, "CNI_ARGS IP: \"%s\" is not an IPv4 address",
                           buf);
      have_requested = true;
    }

  if (have_requested && conf->v6only)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "CNI_ARGS IP: \"%s\": the network is IPv6-only (no \"subnet\")", buf);
  if (conf->ipam_type)
    {
      if (moat_ipam_exec (conf->ipam_type, "ADD", conf->raw, ret_ipam, err) < 0)
        return -1;
      /* Only an IPv6 range: an IPv6-only container, keyed like the others. */
      if (conf->have_subnet6 && !moat_result_has_ipv4 (*ret_ipam))
        return key_acquire (conf, key, rec, err) < 0 ? delegated_undo (conf, false, err) : 0;
      if (moat_result_first_ipv4 (*ret_ipam, "ipam result", &rec->addr, &rec->prefixlen,
                                  &rec->gateway, err)
              < 0
          || (moat_key4_range_has (rec->addr)
              && moat_error (err, MOAT_E_CONFIG, 0,
                             "address %s: in 240.0.0.0/4, reserved for IPv6-only networks' keys",
                             inet_ntop (AF_INET, &rec->addr, buf, sizeof (buf)))))
        return delegated_undo (conf, true, err);
      if (rec->gateway.s_addr == INADDR_ANY)
        rec->gateway
            = conf->have_subnet
                  ? conf->gateway
                  : (struct in_addr){ htonl (
                      (ntohl (rec->addr.s_addr) & ntohl (moat_prefix_mask (rec->prefixlen))) + 1) };
      return 0;
    }

  if (conf->v6only)
    return key_acquire (conf, key, rec, err);
  struct moat_pool pool = pool_of (conf);
  if (ipam_dir (dir, sizeof (dir), conf->name) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "ipam directory");
  if (moat_flows_hint_restore (conf->name, err) < 0)
    return -1;
  if (moat_ipam_alloc (dir, &pool, key, have_requested ? &requested : NULL, &rec->addr, err) < 0)
    return -1;
  rec->prefixlen = conf->prefixlen;
  rec->gateway = conf->gateway;
  return 0;
}

/* The host end's name is another link's (another attachment's: names
 * come from a keyed hash, so only by chance). Checked before the record
 * is written, so no record of this network names another container's
 * link (a DEL of it would remove that link and its guard); a race with
 * another network's ADD is settled by the `guarded` element, which only
 * one of them can add. */
static int
host_end_free (struct moat_nl *nl, const struct moat_record *rec, moat_err_t *err)
{
  int r = moat_link_exists (nl, rec->host_if, err);

  if (r > 0)
    return moat_error (err, MOAT_E_LINK, EEXIST, "host interface \"%s\" (container \"%s\")",
                       rec->host_if, rec->container_id);
  return r;
}

/* The member's elements did not go in: a set was missing (ENOENT). Tables an older moat
 * made lack sets this one needs, and last DELs keep the tables
 * (docs/design.md, "What the last container leaves"): when no container is
 * attached anywhere, they are remade, as moatctl teardown would, under the
 * machine-wide lock held alone, and the elements tried once more. */
static int
tables_remake_unused (struct moat_nft *nft, const struct moat_nft_member *m, int global,
                      moat_err_t *err)
{
  moat_err_t step = { 0 };
  int attached;

  if (flock (global, LOCK_EX) < 0)
    return -1;
  attached = moat_nft_attached (nft, &step);
  if (attached != 0)
    return moat_error_prefix (err, "%s",
                              attached > 0 ? "moat's tables (made by an older moat? "
                                             "moatctl restore remakes them)"
                                           : step.msg);
  if (moat_nft_teardown (nft, &step) < 0 || moat_nft_member_add (nft, m, &step) < 0)
    {
      *err = step;
      return -1;
    }
  *err = (moat_err_t){ 0 };
  return 0;
}

/* Tables of another layout (an older moat's, kept by a last DEL;
 * docs/design.md, "Upgrades") are removed when no container is attached
 * anywhere, so that the member's batch makes them anew; with containers
 * attached they stay, working, until moatctl restore (moatctl check
 * reports them). */
static int
tables_layout_settle (struct moat_nft *nft, int global, moat_err_t *err)
{
  unsigned layout;
  int r = moat_nft_layout (nft, &layout, err);

  if (r <= 0 || layout == MOAT_RULESET_LAYOUT)
    return r;
  if (flock (global, LOCK_EX) < 0)
    return moat_error (err, MOAT_E_IO, errno, "machine-wide lock");
  r = moat_nft_attached (nft, err);
  if (r != 0)
    return r;
  return moat_nft_teardown (nft, err);
}

/* The kernel half of ADD, under the machine-wide lock in shared mode so a
 * concurrent last DEL elsewhere cannot delete the tables under us. */
static int
attach_kernel (struct moat_nl *nl, struct moat_nft *nft, const struct moat_cni_env *env,
               const struct moat_netconf *conf, const struct moat_record *rec,
               const struct moat_nft_elems *publish, struct moat_add_result *res, struct made *made,
               moat_err_t *err)
{
  struct moat_bridge_spec bridge = {
    .name = rec->bridge,
    .gateway = rec->gateway,
    .prefixlen = rec->prefixlen,
    .mtu = conf->mtu,
    .route_localnet = publish != NULL,
    .ipv6 = rec->have_addr6,
    .gateway6 = rec->gateway6,
    .no_ipv4 = rec->v6only,
  };
  struct moat_veth_spec veth = {
    .bridge = rec->bridge,
    .host_ifname = rec->host_if,
    .netns_path = rec->netns,
    .have_netns_fd = env->have_netns_fd,
    .netns_fd = env->netns_fd,
    .ifname = rec->ifname,
    .mtu = conf->mtu,
    .have_mac = true,
    .addr = rec->addr,
    .prefixlen = rec->prefixlen,
    .gateway = rec->gateway,
    .ipv6 = rec->have_addr6,
    .addr6 = rec->addr6,
    .gateway6 = rec->gateway6,
    .no_ipv4 = rec->v6only,
  };
  struct moat_nft_member m = moat_record_member (rec);
  struct moat_veth_result vres;
  _cleanup_close_ int global = -1;

  /* The policy goes in before the link exists: there is no moment when
   * the container is up and unguarded. */
  memcpy (veth.mac, rec->mac, MOAT_MAC_LEN);
  m.publish = publish;
  if (moat_global_lock (LOCK_SH, &global, err) < 0 || tables_layout_settle (nft, global, err) < 0
      || (moat_nft_member_add (nft, &m, err) < 0
          && (err->errnum != ENOENT || tables_remake_unused (nft, &m, global, err) < 0)))
    return -1;
  made->elems = true;
  if (moat_bridge_ensure (nl, &bridge, err) < 0 || moat_veth_attach (nl, &veth, &vres, err) < 0)
    return -1;
  made->link = true;
  if (moat_link_mac (nl, rec->bridge, res->bridge_mac, err) < 0)
    return -1;
  memcpy (res->host_mac, vres.host_mac, MOAT_MAC_LEN);
  memcpy (res->container_mac, vres.container_mac, MOAT_MAC_LEN);
  return 0;
}

/* The container's identity and policy from its labels and pod annotations
 * (Kubernetes: no hook needed). Every container joins, labels or not: a
 * selector like "!app" may pick it. */
static int
join_policy (struct moat_nft *nft, struct moat_record *rec, const struct moat_policy *policy,
             moat_err_t *err)
{
  if (moat_policy_is_empty (policy))
    return 0; /* a new record has none to clear */
  return moat_policy_join (nft, rec, policy, err);
}

/* The container's names (docs/design.md, "Names"): its hosts line in
 * hosts.d, which the network's dnsmasq reads by inotify, and that dnsmasq
 * started when it does not run (the first attachment, or it died). */
static int
attach_names (const struct moat_cni_env *env, const struct moat_netconf *conf,
              const struct moat_record *rec, const char *key, moat_err_t *err)
{
  char line[4096];

  if (!conf->dns)
    return 0;
  if (moat_hosts_line (line, sizeof (line), rec->v6only ? NULL : &rec->addr,
                       rec->have_addr6 ? &rec->addr6 : NULL, rec->name, rec->aliases)
      < 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "container \"%s\": names too long",
                       rec->container_id);
  if (moat_hosts_write (rec->network, key, line, err) < 0)
    return -1;
  return moat_dnsd_ensure (env->dnsd, rec, err);
}

/* The result's "dns": the network's name server and its domain; an
 * IPv6-only network's server is at its IPv6 gateway. */
static json_t *
names_dns (const struct moat_record *rec, json_t **owned)
{
  char gw[INET6_ADDRSTRLEN];

  if (rec->v6only)
    inet_ntop (AF_INET6, &rec->gateway6, gw, sizeof (gw));
  else
    inet_ntop (AF_INET, &rec->gateway, gw, sizeof (gw));
  *owned = json_pack ("{s:[s], s:[s]}", "nameservers", gw, "search", MOAT_DNS_DOMAIN);
  return *owned;
}

/* The flows a DEL left for the address's next holder to forget
 * (state/flows.h): when some wait for `addr`, those of every address
 * waiting go, in one dump. */
static int
flows_settle (struct in_addr addr, moat_err_t *err)
{
  _cleanup_ (moat_flows_pending_free) struct moat_flows_pending p = { 0 };
  _cleanup_close_ int lock = -1;
  int r = moat_flows_pending_has (addr, err);

  if (r <= 0)
    return r;
  if (moat_flows_pending_take (&p, &lock, err) < 0 || moat_ct_forget_addrs (p.addrs, p.n, err) < 0)
    return -1;
  return moat_flows_pending_clear (&p, err);
}

/* The published ports (runtimeConfig.portMappings, else io.moat.publish
 * of the pod's annotations) into the record and their elements, once no
 * other record holds them: checked under the publish lock, which stays
 * held until this record is written. */
static int
publish_prepare (const struct moat_netconf *conf, const struct moat_policy *policy,
                 struct moat_record *rec, const char *key, struct moat_nft_elems **ret_elems,
                 int *ret_lock, moat_err_t *err)
{
  const struct moat_publish_list *l = conf->publish.n ? &conf->publish : &policy->a.publish;

  if (l->n == 0)
    return 0;
  for (size_t i = 0; i < l->n && !rec->have_addr6; i++)
    if (l->v[i].family == AF_INET6)
      {
        char text[MOAT_PUBLISH_TEXT_MAX];

        moat_publish_format (&l->v[i], text, sizeof (text));
        return moat_error (err, MOAT_E_CONFIG, 0,
                           "%s: \"%s\": an IPv6 host address, but network \"%s\" has no subnet6",
                           conf->publish.n ? "runtimeConfig.portMappings" : "io.moat.publish", text,
                           conf->name);
      }
  rec->publish = moat_publish_to_json (l);
  *ret_elems = moat_nft_elems_new ();
  if (!rec->publish || !*ret_elems || moat_publish_elems (l, rec->addr, *ret_elems) < 0
      || own_twins (rec, *ret_elems) < 0)
    return moat_error (err, MOAT_E_IO, ENOMEM, "published ports");
  if (moat_publish_lock (ret_lock, err) < 0
      || moat_publish_holders_check (l, rec->network, key, err) < 0)
    return -1;
  return 0;
}

static int
publish_unlock (int *lock)
{
  if (*lock >= 0)
    close (*lock);
  *lock = -1;
  return 0;
}

/* The sources of another attachment of the container, on another
 * network, if one has them: 1 and *ret a new reference, else 0. A record
 * that cannot be read is passed over (the new attachment then has no
 * policy: default deny). */
static int
sibling_sources (const char *network, const char *container_id, json_t **ret, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **nets = NULL;

  *ret = NULL;
  if (moat_networks_list (&nets, err) < 0)
    return -1;
  for (size_t i = 0; nets[i] && !*ret; i++)
    {
      _cleanup_ (moat_strv_freep) char **keys = NULL;
      moat_err_t skip = { 0 };

      if (strcmp (nets[i], network) == 0
          || moat_record_list_container (nets[i], container_id, &keys, &skip) < 0)
        continue;
      for (size_t k = 0; keys[k] && !*ret; k++)
        {
          _cleanup_ (moat_record_free) struct moat_record other = { 0 };

          if (moat_record_read (nets[i], keys[k], &other, &skip) > 0 && other.sources)
            *ret = json_incref (other.sources);
        }
    }
  return *ret != NULL;
}

/* A container attached by its runtime to one more network while it runs
 * (`podman network connect`): no hook runs, but its policy is known from
 * another attachment. The new one takes the same sources, resolved for
 * this network (its ceiling, whether it reads MOAT_*, @sys:network), and
 * applies them in the ADD (docs/design.md, "A container on several
 * networks"). *ret: the annotations to resolve, NULL when none. */
static int
inherit_sources (struct moat_record *rec, enum moat_attacher by, json_t **ret, moat_err_t *err)
{
  json_t *sources;
  int r;

  *ret = NULL;
  if (by != MOAT_ATTACHED_BY_CNI)
    return 0; /* the hook applies them itself, right after */
  r = sibling_sources (rec->network, rec->container_id, &sources, err);
  if (r <= 0)
    return r;
  rec->sources = sources;
  return moat_sources_annotations (sources, moat_ceiling_reads_env (rec->allow), ret, err);
}

/* A network of a cluster says so in <run dir>/.cluster/networks/<network>.json
 * (state/remote.h), where moatctl cluster apply finds it. */
static int
cluster_note (const struct moat_netconf *conf, moat_err_t *err)
{
  _cleanup_free_ char *host = NULL;
  size_t len = 0;
  struct moat_cluster_net n = {
    .network = (char *)conf->name,
    .cluster = (char *)conf->cluster_name,
    .node = (char *)conf->cluster_node,
    .store = (char *)conf->cluster_store,
    .bridge = (char *)conf->bridge,
    .subnet = conf->subnet,
    .prefixlen = conf->prefixlen,
    .wireguard = conf->cluster_wireguard,
    .have_subnet6 = conf->have_subnet6,
    .subnet6 = conf->subnet6,
  };

  if (!conf->cluster_name)
    return 0;
  /* The host name from /proc: the plugin's seccomp profile has no uname. */
  if (!n.node)
    {
      if (moat_read_file ("/proc/sys/kernel/hostname", 256, &host, &len) < 0)
        return moat_error (err, MOAT_E_IO, errno, "cluster.node: not given, and no host name");
      while (len > 0 && (host[len - 1] == '\n' || host[len - 1] == '\0'))
        host[--len] = '\0';
      if (!moat_cluster_name_valid (host))
        return moat_error (
            err, MOAT_E_CONFIG, 0,
            "cluster.node: not given, and the host name \"%s\" is no valid node name", host);
      n.node = host;
    }
  return moat_cluster_net_write (&n, err);
}

static int
cni_add (const struct moat_cni_env *env, struct moat_netconf *conf, enum moat_attacher by,
         json_t **ret_result, moat_err_t *err)
{
  _cleanup_ (moat_record_free) struct moat_record rec = { 0 };
  _cleanup_ (moat_policy_free) struct moat_policy policy = { 0 };
  _cleanup_ (moat_nl_closep) struct moat_nl *nl = NULL;
  _cleanup_ (json_decrefp) json_t *ipam = NULL;
  _cleanup_ (json_decrefp) json_t *dns = NULL;
  _cleanup_ (json_decrefp) json_t *inherited = NULL;
  _cleanup_close_ int lock = -1;
  /* Closed before the lock goes (cleanups run in reverse). */
  _cleanup_ (moat_nft_closep) struct moat_nft *nft = NULL;
  struct moat_add_result res = { 0 };
  struct gateways gw_conf = conf_gateways (conf);
  struct moat_record old;
  char key[KEY_MAX];
  moat_err_t undo = { 0 };
  struct made made = { 0 };
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *publish = NULL;
  _cleanup_close_ int publock = -1;
  int r;

  if (moat_attachment_key (key, sizeof (key), env->container_id, env->ifname) < 0)
    return moat_error (err, MOAT_E_ENV, 0,
                       "CNI_CONTAINERID: with CNI_IFNAME longer than %d characters", MOAT_KEY_MAX);
  if (!env->have_netns_fd && access (env->netns, F_OK) < 0)
    return moat_error (err, MOAT_E_UNKNOWN, errno, "CNI_NETNS \"%s\"", env->netns);
  /* Before anything is made: a dual-stack network needs IPv6 forwarding,
   * which moat never turns on itself (netlink.h). */
  if (conf->have_subnet6 && moat_ipv6_forwarding_check (err) < 0)
    return -1;
  if (moat_network_lock (conf->name, &lock, err) < 0)
    return -1;
  r = moat_record_read (conf->name, key, &old, err);
  if (r < 0)
    return -1;
  if (r > 0)
    {
      moat_record_free (&old);
      return moat_error (err, MOAT_E_STATE, 0,
                         "container \"%s\" interface \"%s\": already attached to network \"%s\" "
                         "(DEL it first)",
                         env->container_id, env->ifname, conf->name);
    }
  /* Labels and pod annotations are checked before anything is made. */
  if (cluster_note (conf, err) < 0 || record_init (env, conf, by, key, &rec, err) < 0
      || inherit_sources (&rec, by, &inherited, err) < 0
      || moat_policy_resolve (&rec, inherited, &policy, err) < 0 || moat_nl_open (&nl, err) < 0)
    return -1;
  if (address_acquire (env, conf, key, &rec, &ipam, err) < 0)
    {
      if (network_remove_if_empty (nl, env, conf, conf->bridge, &gw_conf, true, &undo) < 0)
        return moat_error_undo_failed (err, "the ADD", &undo);
      return -1;
    }
  if (conf->have_mac)
    memcpy (rec.mac, conf->mac, MOAT_MAC_LEN);
  else
    derived_mac (rec.addr, rec.mac);

  if (moat_cni6_acquire (conf, key, ipam, &rec, err) < 0 || flows_settle (rec.addr, err) < 0
      || publish_prepare (conf, &policy, &rec, key, &publish, &publock, err) < 0)
    {
      moat_err_t step = { 0 };
      if (address_release (conf, &rec, key, &step) < 0
          || network_remove_if_empty (nl, env, conf, conf->bridge, &gw_conf, true, &step) < 0)
        return moat_error_undo_failed (err, "the ADD", &step);
      return -1;
    }
  /* The record exists before any kernel change: whatever happens next, a
   * DEL finds it and removes what was made. One nft socket serves the
   * member's elements and its policy; join_policy writes the record again
   * (moat_policy_join: the identity is named there before its member file
   * exists), which this first write cannot do for it. */
  if (host_end_free (nl, &rec, err) < 0 || moat_record_write (&rec, err) < 0
      || publish_unlock (&publock) < 0 || moat_nft_open (&nft, err) < 0
      || attach_kernel (nl, nft, env, conf, &rec, publish, &res, &made, err) < 0
      || join_policy (nft, &rec, &policy, err) < 0 || attach_names (env, conf, &rec, key, err) < 0)
    {
      /* Both run; the first that fails is the one told. */
      bool undo_failed = attachment_remove (nl, conf, &rec, &made, &undo) < 0;
      struct gateways gw = record_gateways (&rec);
      moat_err_t later = { 0 };
      if (network_remove_if_empty (nl, env, conf, conf->bridge, &gw, true,
                                   undo_failed ? &later : &undo)
          < 0)
        undo_failed = true;
      return undo_failed ? moat_error_undo_failed (err, "the ADD", &undo) : -1;
    }

  res.bridge = rec.bridge;
  res.host_if = rec.host_if;
  res.ifname = rec.ifname;
  res.sandbox = rec.netns;
  res.addr = rec.addr;
  res.prefixlen = rec.prefixlen;
  res.gateway = rec.gateway;
  res.v6only = rec.v6only;
  res.have_addr6 = rec.have_addr6;
  res.addr6 = rec.addr6;
  res.gateway6 = rec.gateway6;
  res.dns = ipam ? json_object_get (ipam, "dns") : NULL;
  if (conf->dns && !(res.dns = names_dns (&rec, &dns)))
    return moat_error (err, MOAT_E_IO, ENOMEM, "result");
  *ret_result = moat_result_build (conf->cni_version, &res);
  if (!*ret_result)
    return moat_error (err, MOAT_E_IO, ENOMEM, "result");
  return 0;
}

/* DEL without a usable record: ADD never got as far as its first kernel
 * change, this is a repeated DEL, or the record is unreadable. What can be
 * named without it goes: the link (its name is derived), the address
 * (through the delegated plugin only when `delegate`: CNI_* name this
 * attachment). */
static int
del_without_record (struct moat_nl *nl, const struct moat_netconf *conf, const char *key,
                    bool unreadable, bool delegate, moat_err_t *err)
{
  struct moat_names_key k;
  char host_if[16], dir[4096];
  int have_key = unreadable ? moat_names_key_get (false, &k, err) : 0;

  /* Without a key no name was made from it; with another key than the
   * one that named the link, the link is missed here and a GC takes it
   * (named like moat's, no record owns it). */
  if (have_key < 0)
    return -1;
  if (have_key)
    {
      moat_host_ifname (&k, conf->name, key, host_if);
      if (moat_veth_detach (nl, host_if, err) < 0)
        return -1;
    }
  /* The record (unreadable), or what an ADD killed while writing it left:
   * its temporary file, its index entry. */
  if (moat_record_remove (conf->name, key, err) < 0 || moat_cni6_release_owner (conf, key, err) < 0)
    return -1;
  if (conf->ipam_type && delegate
      && moat_ipam_exec (conf->ipam_type, "DEL", conf->raw, NULL, err) < 0)
    return -1;
  /* A delegated network's IPv6-only container holds a built-in key. */
  if (conf->ipam_type && !conf->have_subnet6)
    return 0;
  if (ipam_dir (dir, sizeof (dir), conf->name) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "ipam directory");
  return moat_ipam_release_owner (dir, key, err);
}

int
moat_cni_del_locked (const struct moat_cni_env *env, struct moat_netconf *conf, moat_err_t *err)
{
  _cleanup_free_ char *bridge = NULL;
  _cleanup_ (moat_nl_closep) struct moat_nl *nl = NULL;
  struct gateways gw = conf_gateways (conf);
  struct moat_record rec;
  moat_err_t unreadable = { 0 };
  char key[KEY_MAX];
  int r;

  /* ADD refuses such a key, so nothing of it can exist. */
  if (moat_attachment_key (key, sizeof (key), env->container_id, env->ifname) < 0)
    return 0;
  if (moat_nl_open (&nl, err) < 0)
    return -1;
  r = moat_record_read (conf->name, key, &rec, &unreadable);
  if (r > 0)
    {
      bridge = strdup (rec.bridge);
      gw = record_gateways (&rec);
      r = attachment_remove (nl, conf, &rec, &made_all, err);
      moat_record_free (&rec);
    }
  else
    r = del_without_record (nl, conf, key, r < 0, true, err);
  /* An identity's definition whose write was killed (identities.c); the
   * directory holds one entry per identity, not per container. */
  if (r < 0 || moat_state_sweep_temp (conf->name, "idents", err) < 0)
    return -1;
  return network_remove_if_empty (nl, env, conf, bridge ? bridge : conf->bridge, &gw, false, err);
}

static int
cni_del (const struct moat_cni_env *env, struct moat_netconf *conf, moat_err_t *err)
{
  _cleanup_close_ int lock = -1;

  if (moat_network_lock (conf->name, &lock, err) < 0)
    return -1;
  return moat_cni_del_locked (env, conf, err);
}

static int
cni_check (const struct moat_cni_env *env, struct moat_netconf *conf, moat_err_t *err)
{
  _cleanup_ (moat_record_free) struct moat_record rec = { 0 };
  struct in_addr prev_addr, prev_gw;
  int prev_prefixlen, r;
  char key[KEY_MAX], a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

  if (!conf->prev_result)
    return moat_error (err, MOAT_E_CONFIG, 0, "prevResult: required for CHECK");
  if (moat_attachment_key (key, sizeof (key), env->container_id, env->ifname) < 0)
    return moat_error (err, MOAT_E_ENV, 0, "CNI_CONTAINERID: too long");
  r = moat_record_read (conf->name, key, &rec, err);
  if (r <= 0)
    return r < 0 ? -1
                 : moat_error (err, MOAT_E_UNKNOWN, 0,
                               "container \"%s\" interface \"%s\": not attached to network \"%s\"",
                               env->container_id, env->ifname, conf->name);
  if (rec.v6only && moat_result_has_ipv4 (conf->prev_result))
    return moat_error (err, MOAT_E_DRIFT, 0,
                       "prevResult: an IPv4 address for an IPv6-only container");
  if (!rec.v6only
      && moat_result_first_ipv4 (conf->prev_result, "prevResult", &prev_addr, &prev_prefixlen,
                                 &prev_gw, err)
             < 0)
    return -1;
  if (!rec.v6only && (prev_addr.s_addr != rec.addr.s_addr || prev_prefixlen != rec.prefixlen))
    return moat_error (err, MOAT_E_DRIFT, 0, "prevResult: address %s/%d differs from %s/%d",
                       inet_ntop (AF_INET, &prev_addr, a, sizeof (a)), prev_prefixlen,
                       inet_ntop (AF_INET, &rec.addr, b, sizeof (b)), rec.prefixlen);
  if (moat_cni6_check_prev (conf->prev_result, &rec, err) < 0)
    return -1;

  struct moat_veth_spec veth = {
    .bridge = rec.bridge,
    .host_ifname = rec.host_if,
    .netns_path = env->netns,
    .have_netns_fd = env->have_netns_fd,
    .netns_fd = env->netns_fd,
    .ifname = rec.ifname,
    .addr = rec.addr,
    .prefixlen = rec.prefixlen,
    .gateway = rec.gateway,
    .ipv6 = rec.have_addr6,
    .addr6 = rec.addr6,
    .gateway6 = rec.gateway6,
    .no_ipv4 = rec.v6only,
  };
  struct moat_nft_member m = moat_record_member (&rec);
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *publish = NULL;
  _cleanup_ (moat_nft_closep) struct moat_nft *nft = NULL;
  _cleanup_ (moat_nl_closep) struct moat_nl *nl = NULL;
  /* Its published ports, as the record names them. */
  if (rec.publish && !record_publish_elems (&rec, &publish))
    return moat_error (err, MOAT_E_STATE, 0, "container \"%s\": its record's published ports",
                       env->container_id);
  m.publish = publish;
  if (moat_nl_open (&nl, err) < 0 || moat_veth_check (nl, &veth, err) < 0
      || moat_nft_open (&nft, err) < 0 || moat_nft_member_check (nft, &m, err) < 0)
    return -1;
  return 0;
}

static bool
attachment_valid (const struct moat_netconf *conf, const char *key)
{
  char k[KEY_MAX];

  for (size_t i = 0; i < conf->n_valid; i++)
    if (moat_attachment_key (k, sizeof (k), conf->valid[i].container_id, conf->valid[i].ifname) == 0
        && strcmp (k, key) == 0)
      return true;
  return false;
}

static bool
looks_like_host_ifname (const char *name)
{
  if (strlen (name) != 15 || strncmp (name, "mt", 2) != 0)
    return false;
  for (const char *p = name + 2; *p; p++)
    if (!strchr ("0123456789abcdef", *p))
      return false;
  return true;
}

/* 1 when a record of the network holds `addr`. */
static int
address_owned (const struct moat_netconf *conf, struct in_addr addr, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **keys = NULL;

  if (moat_record_list (conf->name, &keys, err) < 0)
    return -1;
  for (char **k = keys; *k; k++)
    {
      struct moat_record rec;
      int r = moat_record_read (conf->name, *k, &rec, err);
      bool same;

      if (r < 0)
        return -1;
      if (r == 0)
        continue;
      same = rec.addr.s_addr == addr.s_addr;
      moat_record_free (&rec);
      if (same)
        return 1;
    }
  return 0;
}

/* An IPv6-only port (no `ports` element): its global address from its
 * ports6 elements, its key from the allocation its owner holds beside that
 * address's (docs/design.md, "IPv6"). 1 and *m, 0 when not found (then
 * its elements stay until moatctl restore). */
static int
stray_v6only (const struct moat_netconf *conf, struct moat_nft *nft, const char *port,
              struct moat_nft_member *m, moat_err_t *err)
{
  char dir[4096], name[INET6_ADDRSTRLEN], owner[KEY_MAX + 2];
  int r = conf->have_subnet6 ? moat_nft_port6_find (nft, port, m->mac, &m->addr6, err) : 0;

  if (r <= 0)
    return r;
  if (ipam_dir (dir, sizeof (dir), conf->name) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "ipam directory");
  inet_ntop (AF_INET6, &m->addr6, name, sizeof (name));
  r = moat_ipam_owner_read (dir, name, owner, sizeof (owner), err);
  if (r > 0)
    r = moat_ipam_addr_of (dir, owner, &m->addr, err);
  if (r <= 0 || !moat_key4_range_has (m->addr))
    return r < 0 ? -1 : 0;
  m->have_addr6 = true;
  m->v6only = true;
  return 1;
}

/* The elements of a port no record owns, found by its `ports` element:
 * its member elements, its policy and grants. Kept when a live
 * container holds the address again (they would be its own). */
static int
gc_stray_elements (const struct moat_netconf *conf, struct moat_nft *nft, const char *port,
                   moat_err_t *err)
{
  struct moat_nft_member m = { .bridge = conf->bridge, .host_ifname = port };
  int r = moat_nft_port_find (nft, port, m.mac, &m.addr, err);

  if (r == 0)
    r = stray_v6only (conf, nft, port, &m, err);
  if (r <= 0)
    return r;
  r = address_owned (conf, m.addr, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  return moat_nft_member_del (nft, &m, err);
}

/* Ports on the bridge named like moat's that no attachment of any network
 * owns: left by an ADD killed between the link and its record's cleanup,
 * or by a lost state directory; with their elements. */
static int
gc_stray_ports (struct moat_nl *nl, const struct moat_netconf *conf, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **ports = NULL, **owned = NULL;
  _cleanup_ (moat_nft_closep) struct moat_nft *nft = NULL;
  int exists = moat_link_exists (nl, conf->bridge, err);

  if (exists <= 0)
    return exists;
  if (moat_bridge_ports (nl, conf->bridge, &ports, err) < 0
      || moat_host_ifnames_in_use (&owned, err) < 0)
    return -1;
  for (char **p = ports; *p; p++)
    {
      if (!looks_like_host_ifname (*p) || moat_strv_contains (owned, *p))
        continue;
      if ((!nft && moat_nft_open (&nft, err) < 0) || gc_stray_elements (conf, nft, *p, err) < 0
          || moat_veth_detach (nl, *p, err) < 0)
        return -1;
    }
  return 0;
}

/* Built-in allocations that no record owns: a crash between allocation
 * and the record. */
static int
gc_stray_addresses (const struct moat_netconf *conf, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **keys = NULL;
  char dir[4096];

  if (moat_record_list (conf->name, &keys, err) < 0
      || moat_cni6_release_unowned (conf, keys, err) < 0)
    return -1;
  /* A delegated network's IPv6-only containers hold built-in keys. */
  if (conf->ipam_type && !conf->have_subnet6)
    return 0;
  if (ipam_dir (dir, sizeof (dir), conf->name) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "ipam directory");
  return moat_ipam_release_unowned (dir, keys, err);
}

static int
cni_gc (const struct moat_cni_env *env, struct moat_netconf *conf, moat_err_t *err)
{
  _cleanup_close_ int lock = -1;
  _cleanup_ (moat_strv_freep) char **keys = NULL;
  _cleanup_ (moat_nl_closep) struct moat_nl *nl = NULL;
  struct gateways gw_conf = conf_gateways (conf);
  moat_err_t step = { 0 };
  bool failed = false;

  if (!conf->have_valid)
    return moat_error (err, MOAT_E_CONFIG, 0, "cni.dev/valid-attachments: required for GC");
  if (moat_network_lock (conf->name, &lock, err) < 0
      || moat_record_list (conf->name, &keys, err) < 0 || moat_nl_open (&nl, err) < 0)
    return -1;
  /* Everything is tried; the first failure is reported. */
  for (char **k = keys; *k; k++)
    {
      struct moat_record rec;
      int r;

      if (attachment_valid (conf, *k))
        continue;
      r = moat_record_read (conf->name, *k, &rec, &step);
      if (r > 0)
        {
          r = attachment_remove (nl, conf, &rec, &made_all, &step);
          moat_record_free (&rec);
        }
      else if (r < 0)
        r = del_without_record (nl, conf, *k, true, false, &step); /* IPAM's own GC follows */
      if (r < 0)
        failed = keep_first_error (err, failed, &step);
    }
  if (gc_stray_ports (nl, conf, &step) < 0 || gc_stray_addresses (conf, &step) < 0)
    failed = keep_first_error (err, failed, &step);
  if (moat_state_sweep_temp (conf->name, NULL, &step) < 0
      || moat_state_sweep_temp (conf->name, "idents", &step) < 0
      || moat_index_sweep (conf->name, &step) < 0)
    failed = keep_first_error (err, failed, &step);
  if (conf->ipam_type && moat_ipam_exec (conf->ipam_type, "GC", conf->raw, NULL, &step) < 0)
    failed = keep_first_error (err, failed, &step);
  if (failed)
    return -1;
  return network_remove_if_empty (nl, env, conf, conf->bridge, &gw_conf, true, err);
}

static int
cni_status (struct moat_netconf *conf, moat_err_t *err)
{
  struct moat_pool pool = pool_of (conf);
  char dir[4096];
  long free_count;

  if (conf->have_subnet6 && moat_ipv6_forwarding_check (err) < 0)
    {
      err->code = MOAT_E_NOT_READY;
      return -1;
    }
  if (conf->ipam_type)
    return moat_ipam_exec (conf->ipam_type, "STATUS", conf->raw, NULL, err);
  /* A /64 and a /16 of keys: nothing to count. */
  if (conf->v6only)
    return 0;
  if (ipam_dir (dir, sizeof (dir), conf->name) < 0
      || moat_ipam_free_count (dir, &pool, &free_count, err) < 0)
    return -1;
  if (free_count == 0)
    return moat_error (err, MOAT_E_NOT_READY, 0, "network \"%s\": no free address in subnet",
                       conf->name);
  return 0;
}

static int
require_version (const struct moat_netconf *conf, const char *verb, const char *min,
                 moat_err_t *err)
{
  if (moat_cni_version_cmp (conf->cni_version, min) < 0)
    return moat_error (err, MOAT_E_VERSION, 0, "%s needs cniVersion %s or later, config has %s",
                       verb, min, conf->cni_version);
  return 0;
}

int
moat_cni_run (const struct moat_cni_env *env, struct moat_netconf *conf, json_t **ret_result,
              moat_err_t *err)
{
  return moat_cni_run_by (env, conf, MOAT_ATTACHED_BY_CNI, ret_result, err);
}

int
moat_cni_run_by (const struct moat_cni_env *env, struct moat_netconf *conf, enum moat_attacher by,
                 json_t **ret_result, moat_err_t *err)
{
  *ret_result = NULL;
  switch (env->command)
    {
    case MOAT_CMD_VERSION:
      *ret_result = moat_version_result (conf->cni_version);
      return 0;
    case MOAT_CMD_ADD:
      return cni_add (env, conf, by, ret_result, err);
    case MOAT_CMD_DEL:
      return cni_del (env, conf, err);
    case MOAT_CMD_CHECK:
      if (require_version (conf, "CHECK", "0.4.0", err) < 0)
        return -1;
      return cni_check (env, conf, err);
    case MOAT_CMD_GC:
      if (require_version (conf, "GC", "1.1.0", err) < 0)
        return -1;
      return cni_gc (env, conf, err);
    case MOAT_CMD_STATUS:
      if (require_version (conf, "STATUS", "1.1.0", err) < 0)
        return -1;
      return cni_status (conf, err);
    }
  return moat_error (err, MOAT_E_ENV, 0, "CNI_COMMAND: unknown");
}
