/* SPDX-License-Identifier: Apache-2.0 */
#include "verbs/clusterwatch.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "state/netfind.h"
#include "state/rundir.h"
#include "store/clusterkv.h"
#include "store/etcd.h"
#include "store/source.h"
#include "verbs/cluster.h"

/* A retry's pause while the store does not answer. */
#define RETRY_MS 1000

/* What the local networks of the cluster say. */
struct cluster_net
{
  char *network;
  char *store;
  char *node;
  char *subnet;
  bool wireguard; /* cluster.encrypt: "wireguard" */
  char *subnet6;  /* a dual-stack network's; NULL: IPv4 only */
};

static void
cluster_net_clear (struct cluster_net *n)
{
  free (n->network);
  free (n->store);
  free (n->node);
  free (n->subnet);
  free (n->subnet6);
}

struct watcher
{
  const char *cluster;
  const char *node;
  char underlay[INET_ADDRSTRLEN];
  char mac[18];                     /* of the underlay's link; "" when it is no local address */
  char underlay6[INET6_ADDRSTRLEN]; /* that link's link-local address; "" none */
  struct cluster_net net;
  int ttl;
  struct moat_etcd *etcd;          /* the writes: lease, claim, members */
  struct moat_cluster_source *src; /* the reads: snapshot and changes */
  bool watching;
  int64_t lease;
  json_t *kv;        /* each key under the cluster's prefix: its value, parsed */
  int64_t revision;  /* of kv */
  json_t *published; /* our member keys: the value put under the lease ("": not under it) */
  bool sync_failed;  /* retried at the next tick */
  bool net_here;     /* ADD has noted the network here (.cluster/networks/) */
  bool reclaim;      /* our node key or subnet claim was deleted under the lease */
  bool dirty;        /* events arrived since the view was last applied */
  int inotify_fd;
};

static void say (const struct watcher *w, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
say (const struct watcher *w, const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "moat-cluster %s: ", w->cluster);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}

static int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A string field of obj, or NULL. */
static const char *
str_of (json_t *obj, const char *field)
{
  return json_string_value (json_object_get (obj, field));
}

/* The moat plugin configuration `conf` (of file), when it belongs to the
 * cluster, into *net; a second network of the same cluster is refused. */
static int
take_network (json_t *conf, const char *file, const char *cluster, struct cluster_net *net,
              moat_err_t *err)
{
  json_t *c = json_object_get (conf, "cluster");
  const char *name = str_of (conf, "name");

  if (!c || !str_of (c, "name") || strcmp (str_of (c, "name"), cluster) != 0)
    return 0;
  if (net->network)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "cluster %s: networks %s and %s are both in it: one network per cluster "
                       "on a node",
                       cluster, net->network, name);
  if (!str_of (c, "store"))
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: cluster.store: missing", file);
  if (!str_of (conf, "subnet"))
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: subnet: missing (a cluster node claims it)",
                       file);
  net->network = strdup (name);
  net->store = strdup (str_of (c, "store"));
  net->node = str_of (c, "node") ? strdup (str_of (c, "node")) : NULL;
  net->subnet = strdup (str_of (conf, "subnet"));
  net->wireguard = str_of (c, "encrypt") && strcmp (str_of (c, "encrypt"), "wireguard") == 0;
  net->subnet6 = str_of (conf, "subnet6") ? strdup (str_of (conf, "subnet6")) : NULL;
  if (!net->network || !net->store || !net->subnet || (str_of (conf, "subnet6") && !net->subnet6))
    return moat_error_nomem (err, "a network");
  return 0;
}

static bool
is_network_file (const char *name)
{
  static const char *const ext[] = { ".conflist", ".conf", ".json" };
  size_t len = strlen (name);

  for (size_t i = 0; i < ARRAY_SIZE (ext); i++)
    if (len > strlen (ext[i]) && strcmp (name + len - strlen (ext[i]), ext[i]) == 0)
      return true;
  return false;
}

/* One file of a network directory: its moat plugin, when of the cluster,
 * into *net. Files that are no moat network are skipped. */
static int
scan_file (const char *path, const char *cluster, json_t *seen, struct cluster_net *net,
           moat_err_t *err)
{
  _cleanup_free_ char *text = NULL;
  json_t *conf = NULL, *top;
  json_error_t jerr;
  const char *name;
  size_t len;
  int r;

  if (moat_read_file (path, MOAT_NETWORK_FILE_MAX, &text, &len) < 0)
    return 0;
  top = json_loadb (text, len, 0, &jerr);
  name = str_of (top, "name");
  /* The first file of a name wins, as netfind has it. */
  if (!name || json_object_get (seen, name))
    {
      json_decref (top);
      return 0;
    }
  json_object_set_new (seen, name, json_true ());
  r = moat_netfind_parse (text, len, path, name, &conf, err);
  json_decref (top);
  if (r <= 0)
    return 0;
  r = take_network (conf, path, cluster, net, err);
  json_decref (conf);
  return r;
}

static int
find_network (const char *cluster, struct cluster_net *net, moat_err_t *err)
{
  _cleanup_free_ char *dirs = strdup (moat_network_dirs ());
  json_t *seen = json_object ();
  char *save = NULL;
  int r = 0;

  if (!dirs || !seen)
    return moat_error_nomem (err, "the network directories");
  for (char *d = strtok_r (dirs, ":", &save); d && r == 0; d = strtok_r (NULL, ":", &save))
    {
      _cleanup_ (closedirp) DIR *dir = opendir (d);
      struct dirent **names = NULL;
      int n;

      if (!dir)
        continue;
      n = scandir (d, &names, NULL, alphasort);
      for (int i = 0; i < n; i++)
        {
          char path[PATH_MAX];

          if (r == 0 && is_network_file (names[i]->d_name)
              && snprintf (path, sizeof path, "%s/%s", d, names[i]->d_name) < (int)sizeof path)
            r = scan_file (path, cluster, seen, net, err);
          free (names[i]);
        }
      free (names);
    }
  json_decref (seen);
  if (r == 0 && !net->network)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "cluster %s: no network of it in %s (a moat network with \"cluster\": "
                       "{\"name\": \"%s\", ...})",
                       cluster, moat_network_dirs (), cluster);
  return r;
}

/* The host and port of an http(s) URL, into buffers. */
static int
url_host_port (const char *url, char host[256], char port[8], moat_err_t *err)
{
  const char *p = strstr (url, "://");
  size_t n;

  p = p ? p + 3 : url;
  n = strcspn (p, ":/,");
  if (n == 0 || n >= 256)
    return moat_error (err, MOAT_E_CONFIG, 0, "cluster.store: %s: no host", url);
  snprintf (host, 256, "%.*s", (int)n, p);
  if (p[n] == ':')
    snprintf (port, 8, "%.*s", (int)strcspn (p + n + 1, "/,"), p + n + 1);
  else
    snprintf (port, 8, "%s", strncmp (url, "https", 5) == 0 ? "443" : "80");
  return 0;
}

/* The local address the kernel would send from toward the store's first
 * endpoint: a connected UDP socket's name (no packet is sent). */
static int
underlay_toward (const char *store, char buf[INET_ADDRSTRLEN], moat_err_t *err)
{
  struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *ai = NULL;
  struct sockaddr_in local;
  socklen_t len = sizeof local;
  _cleanup_close_ int fd = -1;
  char host[256], port[8];
  int r;

  if (url_host_port (store, host, port, err) < 0)
    return -1;
  r = getaddrinfo (host, port, &hints, &ai);
  if (r != 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "cluster.store: %s: %s", host, gai_strerror (r));
  fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  r = fd < 0 ? -1 : connect (fd, ai->ai_addr, ai->ai_addrlen);
  freeaddrinfo (ai);
  if (r < 0 || getsockname (fd, (struct sockaddr *)&local, &len) < 0)
    return moat_error (err, MOAT_E_IO, errno, "underlay: no route toward %s", host);
  inet_ntop (AF_INET, &local.sin_addr, buf, INET_ADDRSTRLEN);
  return 0;
}

/* The MAC of the link that holds `address` into buf ("" when no local
 * link holds it): the other nodes check that this node's packets come
 * from it (docs/cluster.md, "Routing between nodes"); and that link's
 * IPv6 link-local address into ll ("" when none), the nexthop of this
 * node's subnet6 (docs/cluster.md, "IPv6 between nodes"). */
static void
underlay_link (const char *address, char buf[18], char ll[INET6_ADDRSTRLEN])
{
  struct ifaddrs *ifa = NULL;
  struct in_addr want;
  const char *ifname = NULL;

  buf[0] = '\0';
  ll[0] = '\0';
  if (inet_pton (AF_INET, address, &want) != 1 || getifaddrs (&ifa) < 0)
    return;
  for (struct ifaddrs *i = ifa; i && !ifname; i = i->ifa_next)
    if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET
        && ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == want.s_addr)
      ifname = i->ifa_name;
  for (struct ifaddrs *i = ifa; i && ifname; i = i->ifa_next)
    if (i->ifa_addr && i->ifa_addr->sa_family == AF_PACKET && strcmp (i->ifa_name, ifname) == 0)
      {
        const struct sockaddr_ll *ll = (const struct sockaddr_ll *)i->ifa_addr;

        if (ll->sll_halen == 6)
          snprintf (buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", ll->sll_addr[0], ll->sll_addr[1],
                    ll->sll_addr[2], ll->sll_addr[3], ll->sll_addr[4], ll->sll_addr[5]);
        break;
      }
  for (struct ifaddrs *i = ifa; i && ifname; i = i->ifa_next)
    if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET6 && strcmp (i->ifa_name, ifname) == 0
        && IN6_IS_ADDR_LINKLOCAL (&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
      {
        inet_ntop (AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, ll,
                   INET6_ADDRSTRLEN);
        break;
      }
  freeifaddrs (ifa);
}

/* One subnet (or subnet6) claimed under the lease, unless another node holds it. */
static int
claim_subnet (struct watcher *w, const char *subnet, moat_err_t *err)
{
  _cleanup_free_ char *subnet_key = moat_cluster_key_subnet (w->cluster, subnet);
  struct moat_etcd_kv holder = { 0 };
  int r;

  if (!subnet_key)
    return moat_error_nomem (err, "a key");
  r = moat_etcd_create (w->etcd, subnet_key, w->node, w->lease, &holder, err);
  if (r < 0)
    return -1;
  if (r == 0 && strcmp (holder.value, w->node) != 0)
    {
      moat_error (err, MOAT_E_CONFIG, 0, "cluster %s: subnet %s: node %s holds it", w->cluster,
                  subnet, holder.value);
      moat_etcd_kv_clear (&holder);
      /* Not to be retried: a refusal. */
      err->errnum = EEXIST;
      return -1;
    }
  /* Ours from an earlier lease (a restart): now under this one. */
  if (r == 0 && moat_etcd_put (w->etcd, subnet_key, w->node, w->lease, err) < 0)
    {
      moat_etcd_kv_clear (&holder);
      return -1;
    }
  moat_etcd_kv_clear (&holder);
  return 0;
}

/* The claim: the subnet (and subnet6), then the node's key, all under
 * the lease. */
static int
claim (struct watcher *w, moat_err_t *err)
{
  _cleanup_free_ char *node_key = moat_cluster_key_node (w->cluster, w->node);
  _cleanup_free_ char *value = NULL;
  json_t *node;

  if (!node_key)
    return moat_error_nomem (err, "a key");
  if (claim_subnet (w, w->net.subnet, err) < 0
      || (w->net.subnet6 && claim_subnet (w, w->net.subnet6, err) < 0))
    return -1;
  node = json_pack ("{s:s, s:s, s:s?}", "underlay", w->underlay, "subnet", w->net.subnet, "subnet6",
                    w->net.subnet6);
  if (node && w->mac[0])
    json_object_set_new (node, "mac", json_string (w->mac));
  /* Encrypted: the other nodes' peer for this one is keyed by it. */
  if (node && w->net.wireguard)
    {
      char wg_key[MOAT_WG_KEY_TEXT];

      if (moat_cluster_wg_public (w->cluster, wg_key, err) < 0)
        {
          json_decref (node);
          return -1;
        }
      json_object_set_new (node, "wgKey", json_string (wg_key));
    }
  /* A dual-stack node's subnet6 is routed via it (else via the MAC's EUI-64). */
  if (node && w->net.subnet6 && w->underlay6[0])
    json_object_set_new (node, "underlay6", json_string (w->underlay6));
  value = node ? json_dumps (node, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref (node);
  if (!value)
    return moat_error_nomem (err, "the node's key");
  if (moat_etcd_put (w->etcd, node_key, value, w->lease, err) < 0)
    return -1;
  say (w, "node %s claims %s%s%s (underlay %s, lease %llx)", w->node, w->net.subnet,
       w->net.subnet6 ? " and " : "", w->net.subnet6 ? w->net.subnet6 : "", w->underlay,
       (long long)w->lease);
  return 0;
}

static int
lease_start (struct watcher *w, moat_err_t *err)
{
  int64_t id = 0;

  if (moat_etcd_lease_grant (w->etcd, w->ttl, &id, err) < 0)
    return -1;
  w->lease = id;
  /* Nothing is under this lease yet: every member is put again. */
  json_object_clear (w->published);
  if (claim (w, err) < 0)
    {
      moat_err_t ignored = { 0 };

      moat_etcd_lease_revoke (w->etcd, id, &ignored);
      w->lease = 0;
      return -1;
    }
  return 0;
}

/* <run dir>/.cluster/store/<cluster>.json, atomically: the view as the
 * store gave it, whether or not this node could apply it (what it
 * applied is moat_cluster_sync's .cluster/views/<cluster>.json). */
static int
write_cache (struct watcher *w, json_t *view, moat_err_t *err)
{
  _cleanup_free_ char *text = json_dumps (view, JSON_INDENT (1) | JSON_SORT_KEYS);
  _cleanup_close_ int dirfd = -1;
  char dir[PATH_MAX], name[NAME_MAX], tmp[NAME_MAX + 8];

  if (!text)
    return moat_error_nomem (err, "the cluster view");
  snprintf (dir, sizeof dir, "%s/.cluster/store", moat_run_dir ());
  snprintf (name, sizeof name, "%s.json", w->cluster);
  snprintf (tmp, sizeof tmp, ".%s.tmp", name);
  if (moat_mkdir_p (dir, MOAT_E_STATE, err) < 0)
    return -1;
  dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0 || moat_file_write_at (dirfd, tmp, name, text, strlen (text), 0, NULL) < 0)
    return moat_error (err, MOAT_E_STATE, errno, "%s/%s", dir, name);
  return 0;
}

static void
apply_view (struct watcher *w)
{
  json_t *view = moat_cluster_view_build (w->cluster, w->kv, w->revision, time (NULL));
  moat_err_t err = { 0 };

  w->sync_failed = true;
  w->dirty = false;
  if (!view)
    {
      say (w, "the view: out of memory");
      return;
    }
  if (write_cache (w, view, &err) < 0 || moat_cluster_sync (w->node, view, &err) < 0)
    say (w, "sync at revision %lld failed: %s", (long long)w->revision, err.msg);
  else
    {
      w->sync_failed = false;
      say (w, "synced revision %lld: %zu nodes, %zu members", (long long)w->revision,
           json_array_size (json_object_get (view, "nodes")),
           json_array_size (json_object_get (view, "members")));
    }
  json_decref (view);
}

/* One key into w->kv (a value that is no JSON object counts as absent). */
static void
kv_set (struct watcher *w, const struct moat_cluster_change *c)
{
  /* Subnet claims hold a node's name, not JSON. */
  if (moat_cluster_kv_set (w->kv, c->key, c->value, c->len, c->deleted) == MOAT_CLUSTER_KV_NOT_JSON
      && !strstr (c->key, "/subnets/"))
    say (w, "%s: not a JSON object; ignored", c->key);
}

static void
on_listed (const struct moat_cluster_change *c, void *data)
{
  kv_set (data, c);
}

static int
resync (struct watcher *w, moat_err_t *err)
{
  json_object_clear (w->kv);
  if (w->src->ops->list (w->src, on_listed, w, &w->revision, err) < 0)
    return -1;
  say (w, "resync from %s at revision %lld", w->src->ops->where (w->src), (long long)w->revision);
  apply_view (w);
  return 0;
}

/* This node's members as the store should have them: key -> value text. */
static json_t *
desired_members (struct watcher *w, moat_err_t *err)
{
  json_t *local = moat_cluster_local_members (w->cluster, w->node, err);
  json_t *want = json_object ();
  size_t i;
  json_t *m;

  if (!local || !want)
    {
      json_decref (local);
      json_decref (want);
      return NULL;
    }
  json_array_foreach (local, i, m)
  {
    const char *address = str_of (m, "address");
    _cleanup_free_ char *key
        = address ? moat_cluster_key_member (w->cluster, w->node, address) : NULL;
    char *text;

    if (!key)
      continue;
    json_object_set_new (m, "node", json_string (w->node));
    text = json_dumps (m, JSON_COMPACT | JSON_SORT_KEYS);
    if (text)
      json_object_set_new (want, key, json_string (text));
    free (text);
  }
  json_decref (local);
  return want;
}

/* Puts what is new or changed, deletes what went. */
static int
publish (struct watcher *w, moat_err_t *err)
{
  json_t *want = desired_members (w, err);
  const char *key;
  json_t *value;
  void *tmp;

  if (!want)
    return moat_error_prefix (err, "this node's members");
  json_object_foreach (want, key, value)
  {
    json_t *had = json_object_get (w->published, key);

    if (had && json_equal (had, value))
      continue;
    if (moat_etcd_put (w->etcd, key, json_string_value (value), w->lease, err) < 0)
      goto fail;
    json_object_set (w->published, key, value);
    say (w, "published %s", key);
  }
  json_object_foreach_safe (w->published, tmp, key, value)
  {
    if (json_object_get (want, key))
      continue;
    if (moat_etcd_delete (w->etcd, key, false, err) < 0)
      goto fail;
    say (w, "withdrew %s", key);
    json_object_del (w->published, key);
  }
  json_decref (want);
  return 0;
fail:
  json_decref (want);
  return -1;
}

/* The safety net: what the store holds of ours replaces what we think it
 * holds (an entry under another lease counts as not put), then publish. */
static int
verify_published (struct watcher *w, moat_err_t *err)
{
  _cleanup_free_ char *prefix = moat_cluster_key_members (w->cluster, w->node);
  struct moat_etcd_kvs kvs = { 0 };

  if (!prefix)
    return moat_error_nomem (err, "a key");
  if (moat_etcd_range (w->etcd, prefix, true, &kvs, err) < 0)
    return -1;
  json_object_clear (w->published);
  for (size_t i = 0; i < kvs.n; i++)
    json_object_set_new (w->published, kvs.kv[i].key,
                         json_string (kvs.kv[i].lease == w->lease ? kvs.kv[i].value : ""));
  moat_etcd_kvs_clear (&kvs);
  return publish (w, err);
}

/* Whether key is this node's key or its subnet claim. */
static bool
own_claim_key (struct watcher *w, const char *key)
{
  _cleanup_free_ char *node_key = moat_cluster_key_node (w->cluster, w->node);
  _cleanup_free_ char *subnet_key = moat_cluster_key_subnet (w->cluster, w->net.subnet);
  _cleanup_free_ char *subnet6_key
      = w->net.subnet6 ? moat_cluster_key_subnet (w->cluster, w->net.subnet6) : NULL;

  return (node_key && strcmp (key, node_key) == 0) || (subnet_key && strcmp (key, subnet_key) == 0)
         || (subnet6_key && strcmp (key, subnet6_key) == 0);
}

/* A change the watch brings: into the map, applied once the changes that
 * arrived together are read (a burst of changes is one sync). */
static void
on_change (const struct moat_cluster_change *c, void *data)
{
  struct watcher *w = data;

  say (w, "%s %s (revision %lld)", c->deleted ? "DELETE" : "PUT", c->key, (long long)c->revision);
  kv_set (w, c);
  /* One of ours deleted by someone else: put again at the next publish,
   * or claimed again at once. */
  if (c->deleted && json_object_get (w->published, c->key))
    json_object_set_new (w->published, c->key, json_string (""));
  if (c->deleted && own_claim_key (w, c->key))
    w->reclaim = true;
  w->dirty = true;
}

/* Watches the run directory, the network's directory (its records) and
 * <run dir>/.cluster/networks/ (where ADD notes that the network is in a
 * cluster, and without which moat_cluster_sync does nothing): true when
 * that note has just appeared (the view is to be applied now). */
static bool
watch_rundir (struct watcher *w)
{
  const uint32_t files = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR;
  char dir[PATH_MAX], note[PATH_MAX + NAME_MAX + 8];
  bool was = w->net_here;
  moat_err_t ignored = { 0 };

  inotify_add_watch (w->inotify_fd, moat_run_dir (), IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
  snprintf (dir, sizeof dir, "%s/.cluster/networks", moat_run_dir ());
  if (moat_mkdir_p (dir, MOAT_E_STATE, &ignored) == 0)
    inotify_add_watch (w->inotify_fd, dir, files);
  snprintf (note, sizeof note, "%s/%s.json", dir, w->net.network);
  w->net_here = access (note, F_OK) == 0;
  if (moat_state_path (dir, sizeof dir, w->net.network, NULL) == 0)
    inotify_add_watch (w->inotify_fd, dir, files);
  return w->net_here && !was;
}

static void
drain (int fd)
{
  char buf[4096];

  while (read (fd, buf, sizeof buf) > 0)
    ;
}

static int
signals_fd (moat_err_t *err)
{
  sigset_t set;
  int fd;

  sigemptyset (&set);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGINT);
  if (sigprocmask (SIG_BLOCK, &set, NULL) < 0
      || (fd = signalfd (-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
    return moat_error (err, MOAT_E_IO, errno, "signals");
  return fd;
}

/* Waits up to ms for a signal (true) or the time to pass (false). */
static bool
pause_for_signal (int sigfd, int ms)
{
  struct pollfd p = { .fd = sigfd, .events = POLLIN };

  return poll (&p, 1, ms) > 0;
}

/* A keepalive, and what follows a lost lease; the safety net. */
static void
tick (struct watcher *w)
{
  moat_err_t err = { 0 };
  int64_t ttl = 0;

  if (moat_etcd_lease_keepalive (w->etcd, w->lease, &ttl, &err) < 0)
    {
      say (w, "keepalive: %s", err.msg);
      return;
    }
  if (ttl == 0)
    {
      say (w, "lease %llx expired: a new one, claimed again", (long long)w->lease);
      w->lease = 0;
      w->src->ops->watch_close (w->src);
      w->watching = false;
      return;
    }
  if (w->sync_failed)
    apply_view (w);
  if (verify_published (w, &err) < 0)
    say (w, "publishing: %s", err.msg);
}

static int
run (struct watcher *w, int sigfd, moat_err_t *err)
{
  int period = w->ttl * 1000 / 3;
  int64_t next_tick = 0;

  for (;;)
    {
      struct moat_waitfd fds[2] = { { .fd = sigfd }, { .fd = w->inotify_fd } };
      int64_t wait;

      if (!w->lease && lease_start (w, err) < 0)
        {
          if (err->errnum == EEXIST)
            return -1;
          say (w, "%s", err->msg);
          if (pause_for_signal (sigfd, RETRY_MS))
            return 0;
          continue;
        }
      if (!w->watching)
        {
          if (resync (w, err) < 0 || w->src->ops->watch_open (w->src, w->revision, err) < 0)
            {
              say (w, "%s", err->msg);
              if (pause_for_signal (sigfd, RETRY_MS))
                return 0;
              continue;
            }
          w->watching = true;
          if (verify_published (w, err) < 0)
            say (w, "publishing: %s", err->msg);
          next_tick = now_ms () + period;
        }
      wait = next_tick - now_ms ();
      if (w->src->ops->watch_wait (w->src, fds, 2, wait > 0 ? (int)wait : 0, on_change, w,
                                   &w->revision, err)
          < 0)
        {
          say (w, "%s; resync", err->msg);
          w->src->ops->watch_close (w->src);
          w->watching = false;
        }
      if (w->dirty && w->watching)
        apply_view (w);
      if (fds[0].ready)
        return 0;
      if (w->reclaim && w->lease)
        {
          say (w, "this node's claim was deleted: claimed again");
          if (claim (w, err) == 0)
            w->reclaim = false;
          else if (err->errnum == EEXIST)
            return -1;
          else
            say (w, "%s", err->msg);
        }
      if (fds[1].ready)
        {
          drain (w->inotify_fd);
          if (watch_rundir (w) && w->watching)
            apply_view (w);
          if (w->lease && publish (w, err) < 0)
            say (w, "publishing: %s", err->msg);
        }
      if (w->lease && now_ms () >= next_tick)
        {
          tick (w);
          next_tick = now_ms () + period;
        }
    }
}

int
moat_cluster_watch (const struct moat_cluster_watch_opts *o, moat_err_t *err)
{
  struct watcher w = { .cluster = o->cluster, .ttl = o->ttl > 0 ? o->ttl : MOAT_CLUSTER_TTL };
  _cleanup_close_ int sigfd = -1;
  _cleanup_close_ int infd = -1;
  char host[256];
  int r = -1;

  if (find_network (o->cluster, &w.net, err) < 0)
    goto out;
  w.node = o->node ? o->node : w.net.node;
  if (!w.node && gethostname (host, sizeof host) == 0)
    w.node = host;
  if (!w.node || !*w.node || strchr (w.node, '/'))
    {
      moat_error (err, MOAT_E_CONFIG, 0, "cluster.node: %s: not a node name",
                  w.node ? w.node : "(none)");
      goto out;
    }
  if (o->underlay)
    snprintf (w.underlay, sizeof w.underlay, "%s", o->underlay);
  else if (underlay_toward (w.net.store, w.underlay, err) < 0)
    goto out;
  underlay_link (w.underlay, w.mac, w.underlay6);
  w.etcd = moat_etcd_new (w.net.store, err);
  w.src = w.etcd ? moat_cluster_source_etcd (w.etcd, w.cluster, err) : NULL;
  w.kv = json_object ();
  w.published = json_object ();
  sigfd = signals_fd (err);
  infd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  if (!w.src || !w.kv || !w.published || sigfd < 0)
    goto out;
  if (infd < 0)
    {
      moat_error (err, MOAT_E_IO, errno, "inotify");
      goto out;
    }
  w.inotify_fd = infd;
  watch_rundir (&w);
  say (&w, "node %s, network %s, store %s", w.node, w.net.network, w.net.store);
  r = run (&w, sigfd, err);
  if (r == 0 && w.lease)
    {
      moat_err_t e = { 0 };

      if (moat_etcd_lease_revoke (w.etcd, w.lease, &e) < 0)
        say (&w, "revoking the lease: %s", e.msg);
      else
        say (&w, "lease %llx revoked: this node's keys are gone", (long long)w.lease);
    }
out:
  moat_cluster_source_freep (&w.src);
  moat_etcd_free (w.etcd);
  json_decref (w.kv);
  json_decref (w.published);
  cluster_net_clear (&w.net);
  return r;
}
