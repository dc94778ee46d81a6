/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_ANNOT_H
#define MOAT_ANNOT_H

/* The io.moat.* annotations (moat-annotations(5)): their grammar, and the
 * evaluation of label selectors.
 *
 *   io.moat.labels      key=value,...            identity (Kubernetes-style keys)
 *   io.moat.depends     SELECTOR,...             what this container may consume (OR)
 *   io.moat.expose      SELECTOR,...             who may consume this container (OR)
 *   io.moat.allow-host  tcp/PORT[-PORT],...      host ports this container may open
 *   io.moat.egress      ADDR PORTS,...           outside destinations it may reach
 *   io.moat.ingress     ADDR PORTS,...           outside peers that may reach it
 *   io.moat.internet    true|false
 *   io.moat.proxy       IP:PORT [PORT+PORT...]   outbound tcp/80 (or the ports given) to a proxy
 *                       [IPV6]:PORT [...]        the same for its IPv6 flows
 *   io.moat.policy      NAME                     a profile of the policy file
 *   io.moat.network     NAME                     hook-driven attach to this CNI network
 *   io.moat.name        LABEL                    its name on a network with "names"
 *   io.moat.aliases     LABEL,...                more names there
 *   io.moat.ip          a.b.c.d                  its address, as CNI's `ips`
 *                                                (these three: hook-driven attach)
 *   io.moat.publish     [IP:]PORT[-PORT]:PORT[-PORT][/tcp|udp],...  published ports
 *                                                (model/publish.h; hook-driven attach)
 *
 * Items of a list are separated by ',' or ';' (MOAT_ANNOT_SEPARATORS).
 * SELECTOR is terms joined by '&' (AND): key=value, key!=value, key (exists)
 * or !key (absent); a key may be a system label, "@sys:name" (policy.h). ADDR is a.b.c.d/len (host
 * bits zero) or a.b.c.d (/32), or an IPv6 one, x::y/len or x::y (/128); PORTS is tcp/PORT[-PORT],
 * udp/PORT[-PORT], icmp or any. Protocol names are case-insensitive. Whitespace around a value, an
 * item, a selector term or a proxy port is ignored. Every malformed value is MOAT_E_CONFIG with a
 * one-line message that starts with the annotation's key and quotes the offending item, e.g.
 * `io.moat.allow-host: port 99999 out of range (1-65535)`. */

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/types.h" /* struct moat_ports, struct moat_acl */
#include "model/publish.h"

#define MOAT_ANNOT_PREFIX "io.moat."

/* Items of a list (labels, selectors, ports, ACLs, aliases, published
 * ports) are separated by ',' or ';': podman 4 cuts --annotation values at
 * commas (moat_annotations_check_split), not at semicolons. */
#define MOAT_ANNOT_SEPARATORS ",;"

/* Bounds that keep parsing (duplicate checks are quadratic) and the
 * resulting nftables batch small. More is MOAT_E_CONFIG. */
#define MOAT_ANNOT_MAX_ITEMS 1024 /* items in one annotation's list */
#define MOAT_SEL_MAX_TERMS 32     /* terms in one selector */

/* Label keys: [prefix/]name, name 1-63 of [A-Za-z0-9._-], prefix 1-253 of
 * [a-z0-9.-]. Values: 0-63 of [A-Za-z0-9._-]. */
#define MOAT_LABEL_NAME_MAX 63
#define MOAT_LABEL_PREFIX_MAX 253
#define MOAT_LABEL_VALUE_MAX 63
#define MOAT_POLICY_NAME_MAX 128
/* io.moat.network: at most MOAT_NETWORK_NAME_MAX (base/types.h). */

enum moat_sel_op
{
  MOAT_SEL_EQ,     /* key=value: the key is present with this value */
  MOAT_SEL_NE,     /* key!=value: the key is absent or has another value */
  MOAT_SEL_EXISTS, /* key: the key is present, whatever its value */
  MOAT_SEL_ABSENT, /* !key: the key is not present */
};

struct moat_sel_term
{
  enum moat_sel_op op;
  char *key;
  char *value; /* NULL for EXISTS/ABSENT */
};

/* Terms ANDed; no two terms are equal. */
struct moat_selector
{
  struct moat_sel_term *terms;
  size_t n_terms;
};

/* Lists keep the order of the annotation. Labels never repeat a key;
 * other lists hold no two equal items (a repeated one is collapsed). */
struct moat_annotations
{
  struct moat_label *labels;
  size_t n_labels;
  bool have_depends; /* io.moat.depends given: it replaces the shared-label rule */
  struct moat_selector *depends;
  size_t n_depends; /* OR */
  bool have_expose;
  struct moat_selector *expose;
  size_t n_expose; /* OR */
  struct moat_ports *allow_host;
  size_t n_allow_host;
  struct moat_acl *egress;
  size_t n_egress;
  struct moat_acl *ingress;
  size_t n_ingress;
  bool have_internet, internet;
  bool have_proxy;
  bool proxy_v6;               /* the proxy is proxy_addr6 ([ADDR]:PORT), for IPv6 flows */
  struct in_addr proxy_addr;   /* an IPv4 proxy, for IPv4 flows */
  struct in6_addr proxy_addr6; /* an IPv6 proxy */
  uint16_t proxy_port;
  uint16_t *proxy_ports; /* intercepted tcp ports; {80} when none are given */
  size_t n_proxy_ports;
  char *policy;    /* NULL when absent */
  char *network;   /* NULL when absent */
  char *name;      /* io.moat.name, a DNS label (model/hosts.h); NULL when absent */
  json_t *aliases; /* io.moat.aliases: an array of labels; NULL when absent */
  bool have_ip;    /* io.moat.ip */
  struct in_addr ip;
  struct moat_publish_list publish; /* io.moat.publish, checked (no overlap, bounded) */

  /* Only from a policy profile (Trireme rules whose Action rejects): a
   * match here refuses what the lists above allow, whatever they say. */
  struct moat_selector *depends_deny;
  size_t n_depends_deny;
  struct moat_selector *expose_deny;
  size_t n_expose_deny;
  struct moat_acl *egress_deny;
  size_t n_egress_deny;
  struct moat_acl *ingress_deny;
  size_t n_ingress_deny;
};

/* Parses `annotations`, a JSON object of string values (OCI config.json
 * "annotations", Kubernetes pod annotations). NULL or JSON null is no
 * annotations. Keys that do not start with "io.moat." (compared without
 * case) are ignored; any other unknown key, a non-string value, an empty
 * value or a malformed item is MOAT_E_CONFIG naming the key (MOAT_E_IO on
 * ENOMEM). On failure *ret is zeroed with nothing left allocated. */
int moat_annotations_parse (json_t *annotations, struct moat_annotations *ret, moat_err_t *err);

/* The environment fallback, for engines that cannot set annotations
 * (docker before 24): `process_env` is OCI process.env, an array of "K=V"
 * strings (NULL: none). Each MOAT_<NAME>=VALUE whose NAME is the key of an
 * annotation above in capitals with '_' for '-' (MOAT_ALLOW_HOST is
 * io.moat.allow-host; MOAT_NETWORK_DIRS and other MOAT_* names are not
 * keys) gives io.moat.<name>=VALUE, unless `annotations` has that key:
 * a real annotation wins. The first of repeated variables counts (as
 * getenv(3) answers); an empty value is no value; an entry that is not a
 * string or has no '=' is skipped (the runtime checks process.env).
 * *ret is a new object: the annotations (NULL or JSON null: none) plus
 * those from the environment. -1 with MOAT_E_CONFIG when annotations is
 * not an object, MOAT_E_IO on ENOMEM. Pure: touches no file. */
int moat_annotations_with_env (json_t *annotations, json_t *process_env, json_t **ret,
                               moat_err_t *err);

/* An error about settings merged by moat_annotations_with_env, in the
 * words the user wrote: outside quoted items, each io.moat.* key whose
 * value came from a MOAT_* variable of process_env becomes that variable
 * ("io.moat.allow-host: port 99999 out of range" -> "MOAT_ALLOW_HOST: ...").
 * With `hints` (the user's settings are all variables), a key the message
 * asks for and the container set nowhere becomes its variable too ("name
 * one with MOAT_NETWORK"). A key the container has as an annotation is
 * left as it is; without MOAT_* variables nothing changes. Keeps the code;
 * returns -1. */
int moat_error_env_names (moat_err_t *err, json_t *annotations, json_t *process_env, bool hints);

/* podman 4 cuts --annotation at commas: io.moat.labels=app=x,env=dev
 * arrives as io.moat.labels=app=x and an annotation env=dev, and env=dev
 * would be lost. For a podman container (io.container.manager=libpod)
 * with io.moat.labels, io.moat.depends or io.moat.expose, an annotation
 * with a bare label key (no '.' or '/', as runtimes' annotations have)
 * and a label value is such a piece: MOAT_E_CONFIG naming the list and
 * saying what to write instead (the items separated by ';'). 0 otherwise. */
int moat_annotations_check_split (json_t *annotations, moat_err_t *err);

/* Frees everything *a holds and zeroes it. Accepts a zeroed struct. */
void moat_annotations_free (struct moat_annotations *a);

/* Frees n selectors and the array. */
void moat_selectors_free (struct moat_selector *sels, size_t n);
/* The i-th io.moat.* key moat knows (the parser's table), NULL past the last. */
const char *moat_annotation_key_at (size_t i);
void moat_selector_free (struct moat_selector *s); /* one, not its storage */

/* Deep copies; on failure nothing is left allocated (-1, MOAT_E_IO). */
int moat_selector_dup (const struct moat_selector *src, struct moat_selector *ret);
int moat_annotations_dup (const struct moat_annotations *src, struct moat_annotations *ret,
                          moat_err_t *err);

/* True when any key starts with "io.moat." (without case, as the parser
 * decides what is its own): the hook's fast exit. False for NULL or a
 * non-object. */
bool moat_annotations_any (json_t *annotations);

/* One item of the grammar on its own (moatctl's grant words): PORTS
 * (tcp/udp only unless `any_proto`), or "ADDR PORTS". Errors start with
 * `what`. */
int moat_ports_parse (const char *what, const char *text, bool any_proto, struct moat_ports *ret,
                      moat_err_t *err);
int moat_acl_parse (const char *what, const char *text, struct moat_acl *ret, moat_err_t *err);
/* Canonical text: "tcp/80", "udp/1-9", "icmp", "any"; "10.0.0.0/8 tcp/443". */
void moat_ports_format (const struct moat_ports *p, char *buf, size_t size);
void moat_acl_format (const struct moat_acl *acl, char *buf, size_t size);
/* An ACL's address (acladdr.c): s[0..len) an IPv4 or IPv6 address or CIDR
 * into ret->addr/addr6, prefixlen, v6. -1 when it is none, -2 with `why`
 * when its host bits are set. Its text, "ADDR/LEN"; equality; overlap. */
int moat_acl_addr_parse (const char *s, size_t len, struct moat_acl *ret, char *why, size_t size);
void moat_acl_addr_format (const struct moat_acl *acl, char *buf, size_t size);
bool moat_acl_addr_equal (const struct moat_acl *a, const struct moat_acl *b);
bool moat_acl_addr_overlaps (const struct moat_acl *a, const struct moat_acl *b);

/* Why `k` is not a label key (or `v` a label value), in words (`why` may
 * hold them), or NULL when it is one. */
const char *moat_label_key_problem (const char *k, char *why, size_t size);
const char *moat_label_value_problem (const char *v, char *why, size_t size);

/* Evaluates one selector (AND of its terms) against labels given as a JSON
 * object of key → string value; NULL labels are no labels. A label whose
 * value is not a string exists, but equals nothing. A selector without
 * terms matches everything. */
bool moat_selector_matches (const struct moat_selector *sel, json_t *labels);

/* OR over a list of selectors; an empty list matches nothing. */
bool moat_selectors_match (const struct moat_selector *sels, size_t n, json_t *labels);

/* The proxy's address as text (no brackets, no port). */
const char *moat_proxy_addr_text (const struct moat_annotations *a, char buf[INET6_ADDRSTRLEN]);

#endif
