/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CEILING_H
#define MOAT_CEILING_H

/* What the administrator lets the containers of a network ask for: the
 * network configuration's "allow" object. Containers declare their policy
 * (annotations, pod annotations, the profile they pick, labels given at
 * ADD); the ceiling bounds it. Whatever crosses the network's edge is off
 * unless "allow" grants it:
 *
 *   "allow": {
 *     "internet":  true,                       io.moat.internet: true
 *     "allowHost": ["tcp/8000-8010", "udp/53"], io.moat.allow-host items within one of these
 *     "egress":    ["10.0.0.0/8", "0.0.0.0/0 udp/53"],  io.moat.egress items within one
 *     "ingress":   ["192.0.2.0/24 tcp/443"],    io.moat.ingress items within one
 *     "proxy":     ["10.0.0.3:3128", "[fd00::3]:3128"],  io.moat.proxy one of these
 *     "labels":    ["app", "env=dev"],          labels: key (any value) or key=value
 *     "publish":   ["tcp/8000-9000"],           io.moat.publish host ports within one of these
 *     "env":       true                         MOAT_* process environment read
 *   }
 *
 * A list key also takes true (anything) or false (nothing). Absent, every
 * key is "nothing", except "labels": absent is any label. An egress or
 * ingress entry "ADDR" is any protocol and port. A request is within an
 * entry when its addresses and ports are a subset of it. Rejecting rules of
 * a profile only take away and are not bounded. Unknown keys are ignored.
 * Pure: touches no file. */

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/annot.h"
#include "base/error.h"

struct moat_ceiling_proxy
{
  bool v6;               /* [IPV6]:PORT */
  struct in_addr addr;   /* IPv4 */
  struct in6_addr addr6; /* IPv6 */
  uint16_t port;
};

struct moat_ceiling
{
  json_t *allow; /* the object as configured (a reference); NULL when absent */
  bool internet;
  bool env;
  bool any_host, any_egress, any_ingress, any_proxy, any_label;
  struct moat_ports *host;
  size_t n_host;
  struct moat_acl *egress;
  size_t n_egress;
  struct moat_acl *ingress;
  size_t n_ingress;
  struct moat_ceiling_proxy *proxy;
  size_t n_proxy;
  struct moat_label *labels; /* value NULL: any value */
  size_t n_labels;
  bool any_publish;
  struct moat_ports *publish; /* host ports io.moat.publish may take */
  size_t n_publish;
};

/* Parses "allow" (NULL or JSON null: the defaults). Malformed is
 * MOAT_E_CONFIG naming the key, e.g. `allow.egress[1]: "10.0.0.1/8": host
 * bits set ...`. On failure *ret holds nothing. */
int moat_ceiling_parse (json_t *allow, struct moat_ceiling *ret, moat_err_t *err);
void moat_ceiling_free (struct moat_ceiling *c);

/* Whether "allow" (NULL: absent) says "env": true. */
bool moat_ceiling_reads_env (json_t *allow);

/* Is `a` within the ceiling of network `network`? `network_internet`: the
 * network gives every container the internet already, so asking for it
 * asks for nothing more. `source` prefixes the key in the error ("",
 * "pod annotation ", `io.moat.policy "Web": `). The first item beyond the
 * ceiling is MOAT_E_CONFIG, one line naming the key, the item and the
 * ceiling: `io.moat.allow-host: tcp/22 is not allowed on network "n"
 * (allow.allowHost: ["tcp/8000-8010"])`. */
int moat_ceiling_check (const struct moat_ceiling *c, const char *network, bool network_internet,
                        const struct moat_annotations *a, const char *source, moat_err_t *err);

/* io.moat.publish's host ports (`key` names the source) within "publish". */
int moat_ceiling_check_publish (const struct moat_ceiling *c, const char *network,
                                const struct moat_publish_list *l, const char *key,
                                moat_err_t *err);

/* One label, from `what` (e.g. "args.cni.labels"). */
int moat_ceiling_check_label (const struct moat_ceiling *c, const char *network, const char *key,
                              const char *value, const char *what, moat_err_t *err);

#endif
