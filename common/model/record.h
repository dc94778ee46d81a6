/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_RECORD_H
#define MOAT_RECORD_H

/* An attachment's record in memory and as JSON; on disk: state.h. */

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "base/error.h"
#include "base/types.h"

/* Who made an attachment (the record's "attachedBy"; a record without it
 * is the runtime's): the runtime through CNI ADD, whose DEL removes it, or
 * moat-hook (hook-driven attach), whose poststop removes it. */
enum moat_attacher
{
  MOAT_ATTACHED_BY_CNI,
  MOAT_ATTACHED_BY_HOOK,
};

struct moat_record
{
  char *cni_version;
  char *network;
  char *container_id;
  char *ifname;
  char *netns; /* may be NULL */
  char *host_if;
  char *bridge;
  char *ipam;          /* NULL: built-in allocator; else the delegated plugin's type */
  char *name;          /* K8S_POD_NAME when the runtime gave one */
  char *pod_namespace; /* K8S_POD_NAMESPACE */
  unsigned char mac[MOAT_MAC_LEN];
  struct in_addr addr; /* IPv6-only: the internal key, in no interface (key4) */
  int prefixlen;
  struct in_addr gateway;
  bool v6only;           /* IPv6-only: "address" null, the key in "key4" (docs/design.md, "IPv6") */
  bool have_addr6;       /* a dual-stack network: "address6" and "gateway6" */
  struct in6_addr addr6; /* its IPv6 address (prefix length 64) */
  struct in6_addr gateway6; /* the bridge's IPv6 address */
  bool quiet, internet, masquerade;
  bool log;                /* the network's "log": refusals logged (written only while set) */
  bool dns;                /* "dns": the network's name server serves this container */
  json_t *aliases;         /* array of extra names (hosts.h); NULL: none */
  json_t *labels;          /* object key → value; never NULL after read */
  json_t *pod_annotations; /* object; may be NULL */
  char *policy_file;       /* the network's policyFile; NULL: the default */
  json_t *allow;           /* the network's "allow" (ceiling.h) at ADD; NULL: absent */
  json_t *policy;          /* the policy applied (policy.h); NULL: none yet */
  char *ident;             /* its identity in <network>/idents/; NULL: none */
  json_t *grants;          /* moatctl's grants (grant.h); NULL: none */
  json_t *publish;         /* published ports, text items (publish.h); NULL: none */
  bool policy_pending;     /* "policyPending": the hook was changing the
                              policy when it last wrote the record, so the
                              kernel may not hold what "policy" says (it was
                              killed): the next prestart applies it again
                              rather than trusting it */
  enum moat_attacher attached_by;
  json_t *netconf;   /* hook-made: the plugin's network config its ADD used,
                        for the DEL at poststop ("netconf"); else NULL */
  char *remote_node; /* cluster mode (docs/cluster.md): a container of this
                       node: NULL; of another: that node's name ("remote":
                       {"node": ...}). A remote record has no port, netns,
                       bridge or MAC; its ifname is its node's name and it
                       lives in <network>/remote/ (state/remote.h) */
  json_t *sources;   /* the container's own io.moat.* annotations and MOAT_*
                        environment, as the hook last read them or as
                        another attachment of it had them ("sources",
                        model/sources.h); NULL: none known yet */
};

/* "cni" or "hook", as records spell it. */
const char *moat_attacher_name (enum moat_attacher by);

void moat_record_free (struct moat_record *r);
json_t *moat_record_to_json (const struct moat_record *r);
int moat_record_from_json (json_t *root, struct moat_record *ret, moat_err_t *err);

#endif
