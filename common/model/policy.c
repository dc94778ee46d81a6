/* SPDX-License-Identifier: Apache-2.0 */
/* A container's effective policy, its identity and its compilation into
 * nftables elements (see policy.h). */
#include "model/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/ceiling.h"
#include "base/cleanup.h"
#include "base/ip6.h"
#include "model/profile.h"

#define SYS_PREFIX "@sys:"
#define POLICY_INDEX_LABEL "PolicyIndex"

/* --- merging the sources --------------------------------------------------- */

/* Appends src's items to dst's and leaves src's array empty: the items
 * move, so nothing is copied or freed twice. */
static int
move_items (void **dst, size_t *dst_n, void **src, size_t *src_n, size_t size)
{
  void *v;

  if (*src_n == 0)
    return 0;
  v = realloc (*dst, (*dst_n + *src_n) * size);
  if (!v)
    return -1;
  memcpy ((char *)v + *dst_n * size, *src, *src_n * size);
  *dst = v;
  *dst_n += *src_n;
  *src_n = 0;
  return 0;
}

#define MOVE(dst, src, field)                                                                      \
  move_items ((void **)&(dst)->field, &(dst)->n_##field, (void **)&(src)->field,                   \
              &(src)->n_##field, sizeof (*(dst)->field))

static bool
ports_equal (const struct moat_ports *a, const struct moat_ports *b)
{
  return a->proto == b->proto && a->lo == b->lo && a->hi == b->hi;
}

static bool
acl_equal (const struct moat_acl *a, const struct moat_acl *b)
{
  return moat_acl_addr_equal (a, b) && ports_equal (&a->ports, &b->ports);
}

/* Drops from v the items `have` holds already: two sources may name the
 * same port, and the kernel must not get one element twice in a batch. */
static void
drop_repeated_ports (const struct moat_ports *have, size_t n_have, struct moat_ports *v, size_t *n)
{
  size_t kept = 0;

  for (size_t i = 0; i < *n; i++)
    {
      bool seen = false;

      for (size_t j = 0; j < n_have && !seen; j++)
        seen = ports_equal (&have[j], &v[i]);
      if (!seen)
        v[kept++] = v[i];
    }
  *n = kept;
}

static void
drop_repeated_acls (const struct moat_acl *have, size_t n_have, struct moat_acl *v, size_t *n)
{
  size_t kept = 0;

  for (size_t i = 0; i < *n; i++)
    {
      bool seen = false;

      for (size_t j = 0; j < n_have && !seen; j++)
        seen = acl_equal (&have[j], &v[i]);
      if (!seen)
        v[kept++] = v[i];
    }
  *n = kept;
}

/* Adds a label to the selector view; the same key with another value is
 * the error of `key`. */
static int
label_put (json_t *labels, const char *key, const char *value, const char *source, moat_err_t *err)
{
  json_t *old = json_object_get (labels, key);

  if (old)
    {
      if (strcmp (json_string_value (old), value) == 0)
        return 0;
      return moat_error (err, MOAT_E_CONFIG, 0,
                         "%s: label \"%s\" is \"%s\" here but \"%s\" elsewhere", source, key, value,
                         json_string_value (old));
    }
  if (json_object_set_new (labels, key, json_string (value)) < 0)
    return moat_error_nomem (err, "policy");
  return 0;
}

static int
merge_labels (json_t *labels, const struct moat_annotations *src, const char *source,
              moat_err_t *err)
{
  for (size_t i = 0; i < src->n_labels; i++)
    if (label_put (labels, src->labels[i].key, src->labels[i].value, source, err) < 0)
      return -1;
  return 0;
}

/* Moves src's lists into dst (labels are merged into the view apart). */
static int
merge_lists (struct moat_annotations *dst, struct moat_annotations *src, moat_err_t *err)
{
  dst->have_depends |= src->have_depends;
  dst->have_expose |= src->have_expose;
  if (src->have_internet && src->internet)
    dst->have_internet = dst->internet = true;
  if (src->have_proxy)
    {
      free (dst->proxy_ports);
      dst->have_proxy = true;
      dst->proxy_v6 = src->proxy_v6;
      dst->proxy_addr = src->proxy_addr;
      dst->proxy_addr6 = src->proxy_addr6;
      dst->proxy_port = src->proxy_port;
      dst->proxy_ports = TAKE_PTR (src->proxy_ports);
      dst->n_proxy_ports = src->n_proxy_ports;
      src->n_proxy_ports = 0;
    }
  drop_repeated_ports (dst->allow_host, dst->n_allow_host, src->allow_host, &src->n_allow_host);
  drop_repeated_acls (dst->egress, dst->n_egress, src->egress, &src->n_egress);
  drop_repeated_acls (dst->ingress, dst->n_ingress, src->ingress, &src->n_ingress);
  drop_repeated_acls (dst->egress_deny, dst->n_egress_deny, src->egress_deny, &src->n_egress_deny);
  drop_repeated_acls (dst->ingress_deny, dst->n_ingress_deny, src->ingress_deny,
                      &src->n_ingress_deny);
  /* Published ports: the later source's list replaces the earlier's. */
  if (src->publish.n > 0)
    {
      moat_publish_list_free (&dst->publish);
      dst->publish = src->publish;
      src->publish = (struct moat_publish_list){ 0 };
    }
  if (MOVE (dst, src, depends) < 0 || MOVE (dst, src, expose) < 0 || MOVE (dst, src, allow_host) < 0
      || MOVE (dst, src, egress) < 0 || MOVE (dst, src, ingress) < 0
      || MOVE (dst, src, depends_deny) < 0 || MOVE (dst, src, expose_deny) < 0
      || MOVE (dst, src, egress_deny) < 0 || MOVE (dst, src, ingress_deny) < 0)
    return moat_error_nomem (err, "policy");
  return 0;
}

static int
merge (struct moat_policy *p, struct moat_annotations *src, const char *source, moat_err_t *err)
{
  if (merge_labels (p->labels, src, source, err) < 0)
    return -1;
  return merge_lists (&p->a, src, err);
}

static int
labels_from_record (json_t *labels, const struct moat_record *rec, moat_err_t *err)
{
  const char *key;
  json_t *v;

  json_object_foreach (rec->labels, key, v)
  {
    if (!json_is_string (v))
      continue;
    if (label_put (labels, key, json_string_value (v), "args.cni.labels", err) < 0)
      return -1;
  }
  return 0;
}

static const char *
profile_name (const struct moat_annotations *annotations, const struct moat_annotations *pod,
              json_t *labels)
{
  if (annotations->policy)
    return annotations->policy;
  if (pod->policy)
    return pod->policy;
  return json_string_value (json_object_get (labels, POLICY_INDEX_LABEL));
}

DEFINE_TRIVIAL_CLEANUP_FUNC (struct moat_profiles *, moat_profiles_free)

static int
load_profile (const struct moat_record *rec, const char *name, struct moat_annotations *ret,
              moat_err_t *err)
{
  _cleanup_ (moat_profiles_freep) struct moat_profiles *f = NULL;
  const char *path = rec->policy_file ? rec->policy_file : MOAT_POLICY_FILE_DEFAULT;
  const struct moat_annotations *profile;

  if (moat_profiles_load (path, &f, err) < 0)
    return moat_error_prefix (err, MOAT_ANNOT_PREFIX "policy \"%s\"", name);
  profile = moat_profiles_find (f, name);
  if (!profile)
    return moat_error (err, MOAT_E_CONFIG, 0, MOAT_ANNOT_PREFIX "policy: no profile \"%s\" in %s",
                       name, path);
  return moat_annotations_dup (profile, ret, err);
}

static int
sys_labels (json_t *labels, const struct moat_record *rec, moat_err_t *err)
{
  if (json_object_set_new (labels, SYS_PREFIX "network", json_string (rec->network)) < 0
      || (rec->pod_namespace
          && json_object_set_new (labels, SYS_PREFIX "namespace", json_string (rec->pod_namespace))
                 < 0))
    return moat_error_nomem (err, "policy");
  return 0;
}

static void
annotations_freep (struct moat_annotations *a)
{
  moat_annotations_free (a);
}

/* A proxy is the host or an outside address. One on the container's own
 * network would be a peer reached past the peer rules (and the kernel
 * cannot route a rewritten packet back out of the bridge it came in on);
 * a container of another network is a peer the kernel judges as one. */
static bool
proxy_on_own_network (const struct moat_record *rec, const struct moat_annotations *a)
{
  uint32_t mask = moat_prefix_mask (rec->prefixlen);

  if (a->proxy_v6)
    return rec->have_addr6 && !IN6_ARE_ADDR_EQUAL (&a->proxy_addr6, &rec->gateway6)
           && moat_ipv6_in_prefix (&a->proxy_addr6, &rec->addr6, MOAT_SUBNET6_PREFIXLEN);
  return rec->prefixlen != 0 && !rec->v6only && a->proxy_addr.s_addr != rec->gateway.s_addr
         && (a->proxy_addr.s_addr & mask) == (rec->addr.s_addr & mask);
}

static int
proxy_check (const struct moat_record *rec, const struct moat_annotations *a, moat_err_t *err)
{
  char addr[INET6_ADDRSTRLEN];

  if (!a->have_proxy || !proxy_on_own_network (rec, a))
    return 0;
  moat_proxy_addr_text (a, addr);
  return moat_error (err, MOAT_E_CONFIG, 0,
                     MOAT_ANNOT_PREFIX "proxy: %s is on the container's own network \"%s\"; a "
                                       "proxy is the host or an outside address",
                     addr, rec->network);
}

/* What the container declares stays within its network's "allow"
 * (ceiling.h): the labels given at ADD, the pod's and the container's
 * annotations; the profile is checked once loaded. */
static int
within_ceiling (const struct moat_ceiling *c, const struct moat_record *rec,
                const struct moat_annotations *oci, const struct moat_annotations *pod,
                moat_err_t *err)
{
  const char *key;
  json_t *v;

  json_object_foreach (rec->labels, key, v)
  {
    if (json_is_string (v)
        && moat_ceiling_check_label (c, rec->network, key, json_string_value (v), "args.cni.labels",
                                     err)
               < 0)
      return -1;
  }
  return moat_ceiling_check (c, rec->network, rec->internet, pod, "pod annotation ", err) < 0
                 || moat_ceiling_check (c, rec->network, rec->internet, oci, "", err) < 0
             ? -1
             : 0;
}

int
moat_policy_resolve (const struct moat_record *rec, json_t *annotations, struct moat_policy *ret,
                     moat_err_t *err)
{
  _cleanup_ (annotations_freep) struct moat_annotations oci = { 0 };
  _cleanup_ (annotations_freep) struct moat_annotations pod = { 0 };
  _cleanup_ (annotations_freep) struct moat_annotations profile = { 0 };
  _cleanup_ (moat_ceiling_free) struct moat_ceiling ceiling = { 0 };
  char source[MOAT_POLICY_NAME_MAX + 32];
  const char *name;

  memset (ret, 0, sizeof (*ret));
  if (moat_annotations_parse (annotations, &oci, err) < 0)
    return -1;
  if (moat_annotations_parse (rec->pod_annotations, &pod, err) < 0)
    return moat_error_prefix (err, "pod annotations");
  if (moat_ceiling_parse (rec->allow, &ceiling, err) < 0)
    return moat_error_prefix (err, "network \"%s\"", rec->network);
  if (within_ceiling (&ceiling, rec, &oci, &pod, err) < 0)
    return -1;
  ret->labels = json_object ();
  if (!ret->labels)
    return moat_error_nomem (err, "policy");
  if (labels_from_record (ret->labels, rec, err) < 0
      || merge_labels (ret->labels, &pod, "pod annotation " MOAT_ANNOT_PREFIX "labels", err) < 0
      || merge_labels (ret->labels, &oci, MOAT_ANNOT_PREFIX "labels", err) < 0)
    goto fail;
  name = profile_name (&oci, &pod, ret->labels);
  if (name)
    {
      ret->a.policy = strdup (name);
      if (!ret->a.policy)
        {
          moat_error_nomem (err, "policy");
          goto fail;
        }
      snprintf (source, sizeof (source), MOAT_ANNOT_PREFIX "policy \"%s\": ", name);
      if (load_profile (rec, name, &profile, err) < 0
          || moat_ceiling_check (&ceiling, rec->network, rec->internet, &profile, source, err) < 0
          || merge (ret, &profile, MOAT_ANNOT_PREFIX "policy", err) < 0)
        goto fail;
    }
  /* The labels were merged above, before the profile name was known. */
  if (merge_lists (&ret->a, &pod, err) < 0 || merge_lists (&ret->a, &oci, err) < 0
      || sys_labels (ret->labels, rec, err) < 0 || proxy_check (rec, &ret->a, err) < 0)
    goto fail;
  return 0;

fail:
  moat_policy_free (ret);
  return -1;
}

void
moat_policy_free (struct moat_policy *p)
{
  moat_annotations_free (&p->a);
  json_decref (p->labels);
  memset (p, 0, sizeof (*p));
}

struct moat_nft_member
moat_record_member (const struct moat_record *rec)
{
  struct moat_nft_member m = {
    .bridge = rec->bridge,
    .host_ifname = rec->host_if,
    .addr = rec->addr,
    .quiet = rec->quiet,
    .internet = rec->internet,
    .masquerade = rec->masquerade,
    .dns = rec->dns,
    .log = rec->log,
    .gateway = rec->gateway,
    .have_addr6 = rec->have_addr6,
    .v6only = rec->v6only,
    .addr6 = rec->addr6,
    .gateway6 = rec->gateway6,
  };

  memcpy (m.mac, rec->mac, MOAT_MAC_LEN);
  return m;
}

/* --- peers ----------------------------------------------------------------- */

static bool
is_sys_label (const char *key)
{
  return strncmp (key, SYS_PREFIX, strlen (SYS_PREFIX)) == 0;
}

static bool
share_label (json_t *a, json_t *b)
{
  const char *key;
  json_t *v;

  json_object_foreach (a, key, v)
  {
    json_t *w;

    if (is_sys_label (key))
      continue;
    w = json_object_get (b, key);
    if (w && json_equal (v, w))
      return true;
  }
  return false;
}

bool
moat_policy_allows (const struct moat_policy *from, const struct moat_policy *to)
{
  bool out, in;

  if (from->a.have_depends)
    out = moat_selectors_match (from->a.depends, from->a.n_depends, to->labels);
  else
    out = share_label (from->labels, to->labels);
  if (!out || moat_selectors_match (from->a.depends_deny, from->a.n_depends_deny, to->labels))
    return false;
  in = to->a.have_expose ? moat_selectors_match (to->a.expose, to->a.n_expose, from->labels) : true;
  return in && !moat_selectors_match (to->a.expose_deny, to->a.n_expose_deny, from->labels);
}

/* Only a container with a label, or one that depends on others, takes part
 * in who-talks-to-whom: without either, nothing can select it and it
 * selects nothing, so it has no identity. */
bool
moat_policy_has_identity (const struct moat_policy *p)
{
  const char *key;
  json_t *v;

  if (p->a.have_depends)
    return true;
  json_object_foreach (p->labels, key, v)
  {
    if (!is_sys_label (key))
      return true;
  }
  return false;
}

bool
moat_policy_is_empty (const struct moat_policy *p)
{
  const struct moat_annotations *a = &p->a;

  return !moat_policy_has_identity (p) && !a->n_allow_host && !a->n_egress && !a->n_ingress
         && !a->n_egress_deny && !a->n_ingress_deny && !(a->have_internet && a->internet)
         && !a->have_proxy;
}

/* A selector as the annotations write it: "app=db&!debug". */
static void
selector_text (const struct moat_selector *sel, char *buf, size_t size)
{
  size_t used = 0;

  buf[0] = '\0';
  for (size_t i = 0; i < sel->n_terms && used < size; i++)
    {
      const struct moat_sel_term *t = &sel->terms[i];
      const char *sep = i ? "&" : "";
      int n = 0;

      switch (t->op)
        {
        case MOAT_SEL_EQ:
          n = snprintf (buf + used, size - used, "%s%s=%s", sep, t->key, t->value);
          break;
        case MOAT_SEL_NE:
          n = snprintf (buf + used, size - used, "%s%s!=%s", sep, t->key, t->value);
          break;
        case MOAT_SEL_EXISTS:
          n = snprintf (buf + used, size - used, "%s%s", sep, t->key);
          break;
        case MOAT_SEL_ABSENT:
          n = snprintf (buf + used, size - used, "%s!%s", sep, t->key);
          break;
        }
      used += n > 0 ? (size_t)n : 0;
    }
}

static const struct moat_selector *
first_match (const struct moat_selector *sels, size_t n, json_t *labels)
{
  for (size_t i = 0; i < n; i++)
    if (moat_selector_matches (&sels[i], labels))
      return &sels[i];
  return NULL;
}

static bool
first_shared_label (json_t *a, json_t *b, char *buf, size_t size)
{
  const char *key;
  json_t *v;

  json_object_foreach (a, key, v)
  {
    json_t *w = json_object_get (b, key);

    if (!is_sys_label (key) && w && json_equal (v, w) && json_is_string (v))
      {
        snprintf (buf, size, "%s=%s", key, json_string_value (v));
        return true;
      }
  }
  return false;
}

bool
moat_policy_explain (const struct moat_policy *from, const struct moat_policy *to, char *why,
                     size_t size)
{
  const struct moat_selector *sel;
  char text[512];

  if (!moat_policy_has_identity (from))
    return snprintf (why, size, "the source has no label and no io.moat.depends"), false;
  if (!moat_policy_has_identity (to))
    return snprintf (why, size, "the destination has no label: nothing selects it"), false;
  if ((sel = first_match (from->a.depends_deny, from->a.n_depends_deny, to->labels)))
    {
      selector_text (sel, text, sizeof (text));
      return snprintf (why, size, "the source's profile rejects \"%s\"", text), false;
    }
  if ((sel = first_match (to->a.expose_deny, to->a.n_expose_deny, from->labels)))
    {
      selector_text (sel, text, sizeof (text));
      return snprintf (why, size, "the destination's profile rejects \"%s\"", text), false;
    }
  if (to->a.have_expose && !(sel = first_match (to->a.expose, to->a.n_expose, from->labels)))
    return snprintf (why, size, "the destination's io.moat.expose matches no label of the source"),
           false;
  if (from->a.have_depends)
    {
      const struct moat_selector *dep
          = first_match (from->a.depends, from->a.n_depends, to->labels);

      if (!dep)
        return snprintf (why, size,
                         "the source's io.moat.depends matches no label of the destination"),
               false;
      selector_text (dep, text, sizeof (text));
      snprintf (why, size, "the source depends on \"%s\"", text);
    }
  else if (first_shared_label (from->labels, to->labels, text, sizeof (text)))
    snprintf (why, size, "shared label %s", text);
  else
    return snprintf (why, size, "no shared label"), false;
  if (to->a.have_expose)
    {
      size_t used = strlen (why);

      selector_text (sel, text, sizeof (text));
      snprintf (why + used, size - used, ", and the destination exposes to \"%s\"", text);
    }
  return true;
}

/* --- JSON ------------------------------------------------------------------ */

static const char *const op_names[] = {
  [MOAT_SEL_EQ] = "=",
  [MOAT_SEL_NE] = "!=",
  [MOAT_SEL_EXISTS] = "*",
  [MOAT_SEL_ABSENT] = "!*",
};

static json_t *
term_to_json (const void *p)
{
  const struct moat_sel_term *t = p;

  if (t->op == MOAT_SEL_EQ || t->op == MOAT_SEL_NE)
    return json_pack ("[s, s, s]", op_names[t->op], t->key, t->value ? t->value : "");
  return json_pack ("[s, s]", op_names[t->op], t->key);
}

struct sorted_item
{
  char *text;
  json_t *j;
};

static int
sorted_item_cmp (const void *a, const void *b)
{
  return strcmp (((const struct sorted_item *)a)->text, ((const struct sorted_item *)b)->text);
}

/* A canonical array of n items made by `to_json`: sorted by their compact
 * text, so that the same terms or selectors in another order give the same
 * identity. */
static json_t *
sorted_array (const void *items_in, size_t n, size_t size, json_t *(*to_json) (const void *))
{
  _cleanup_free_ struct sorted_item *items = calloc (n ? n : 1, sizeof (*items));
  json_t *a = json_array ();
  bool ok = items && a;

  for (size_t i = 0; ok && i < n; i++)
    {
      items[i].j = to_json ((const char *)items_in + i * size);
      items[i].text = items[i].j ? json_dumps (items[i].j, JSON_COMPACT) : NULL;
      ok = items[i].text != NULL;
    }
  if (ok)
    qsort (items, n, sizeof (*items), sorted_item_cmp);
  for (size_t i = 0; items && i < n; i++)
    {
      if (ok && json_array_append (a, items[i].j) < 0)
        ok = false;
      json_decref (items[i].j);
      free (items[i].text);
    }
  if (!ok)
    {
      json_decref (a);
      return NULL;
    }
  return a;
}

static json_t *
selector_to_json (const void *p)
{
  const struct moat_selector *s = p;

  return sorted_array (s->terms, s->n_terms, sizeof (*s->terms), term_to_json);
}

static json_t *
selectors_to_json (const struct moat_selector *sels, size_t n)
{
  return sorted_array (sels, n, sizeof (*sels), selector_to_json);
}

static json_t *
ports_to_json (const struct moat_ports *ports, size_t n)
{
  json_t *a = json_array ();
  char buf[32];

  for (size_t i = 0; a && i < n; i++)
    {
      moat_ports_format (&ports[i], buf, sizeof (buf));
      if (json_array_append_new (a, json_string (buf)) < 0)
        {
          json_decref (a);
          return NULL;
        }
    }
  return a;
}

static json_t *
acls_to_json (const struct moat_acl *acls, size_t n)
{
  json_t *a = json_array ();
  char buf[64];

  for (size_t i = 0; a && i < n; i++)
    {
      moat_acl_format (&acls[i], buf, sizeof (buf));
      if (json_array_append_new (a, json_string (buf)) < 0)
        {
          json_decref (a);
          return NULL;
        }
    }
  return a;
}

static json_t *
proxy_to_json (const struct moat_annotations *a)
{
  char addr[INET6_ADDRSTRLEN];
  json_t *ports = json_array ();

  for (size_t i = 0; ports && i < a->n_proxy_ports; i++)
    json_array_append_new (ports, json_integer (a->proxy_ports[i]));
  moat_proxy_addr_text (a, addr);
  return json_pack ("{s:s, s:i, s:o}", "address", addr, "port", a->proxy_port, "ports", ports);
}

json_t *
moat_policy_ident_json (const struct moat_policy *p)
{
  const struct moat_annotations *a = &p->a;

  return json_pack ("{s:O, s:o*, s:o*, s:o, s:o}", "labels", p->labels, "depends",
                    a->have_depends ? selectors_to_json (a->depends, a->n_depends) : NULL, "expose",
                    a->have_expose ? selectors_to_json (a->expose, a->n_expose) : NULL,
                    "dependsDeny", selectors_to_json (a->depends_deny, a->n_depends_deny),
                    "exposeDeny", selectors_to_json (a->expose_deny, a->n_expose_deny));
}

json_t *
moat_policy_to_json (const struct moat_policy *p)
{
  const struct moat_annotations *a = &p->a;
  json_t *j = moat_policy_ident_json (p);

  if (!j
      || json_object_update_new (
             j, json_pack ("{s:s*, s:o, s:o, s:o, s:o, s:o, s:b, s:o*}", "profile", a->policy,
                           "allowHost", ports_to_json (a->allow_host, a->n_allow_host), "egress",
                           acls_to_json (a->egress, a->n_egress), "ingress",
                           acls_to_json (a->ingress, a->n_ingress), "egressDeny",
                           acls_to_json (a->egress_deny, a->n_egress_deny), "ingressDeny",
                           acls_to_json (a->ingress_deny, a->n_ingress_deny), "internet",
                           a->have_internet && a->internet, "proxy",
                           a->have_proxy ? proxy_to_json (a) : NULL))
             < 0)
    {
      json_decref (j);
      return NULL;
    }
  return j;
}

static int
op_from_name (const char *name, enum moat_sel_op *ret)
{
  for (size_t i = 0; i < ARRAY_SIZE (op_names); i++)
    if (strcmp (name, op_names[i]) == 0)
      {
        *ret = (enum moat_sel_op)i;
        return 0;
      }
  return -1;
}

static int
term_from_json (json_t *j, struct moat_sel_term *t)
{
  const char *op = json_string_value (json_array_get (j, 0));
  const char *key = json_string_value (json_array_get (j, 1));
  const char *value = json_string_value (json_array_get (j, 2));

  if (!op || !key || op_from_name (op, &t->op) < 0)
    return -1;
  if ((t->op == MOAT_SEL_EQ || t->op == MOAT_SEL_NE) != (value != NULL))
    return -1;
  t->key = strdup (key);
  t->value = value ? strdup (value) : NULL;
  return t->key && (!value || t->value) ? 0 : -1;
}

static int
selectors_from_json (json_t *j, struct moat_selector **ret, size_t *ret_n)
{
  size_t n = json_array_size (j), i;
  json_t *sel;

  *ret_n = 0;
  *ret = calloc (n ? n : 1, sizeof (**ret));
  if (!*ret || (j && !json_is_array (j)))
    return -1;
  json_array_foreach (j, i, sel)
  {
    struct moat_selector *s = &(*ret)[i];
    size_t k;
    json_t *t;

    (*ret_n)++;
    s->terms = calloc (json_array_size (sel) ? json_array_size (sel) : 1, sizeof (*s->terms));
    if (!s->terms || !json_is_array (sel))
      return -1;
    json_array_foreach (sel, k, t)
    {
      s->n_terms++;
      if (term_from_json (t, &s->terms[k]) < 0)
        return -1;
    }
  }
  return 0;
}

int
moat_policy_from_ident_json (json_t *j, struct moat_policy *ret, moat_err_t *err)
{
  json_t *labels = json_object_get (j, "labels"), *depends = json_object_get (j, "depends"),
         *expose = json_object_get (j, "expose");
  struct moat_annotations *a = &ret->a;

  memset (ret, 0, sizeof (*ret));
  a->have_depends = json_is_array (depends);
  a->have_expose = json_is_array (expose);
  if (!json_is_object (labels)
      || selectors_from_json (a->have_depends ? depends : NULL, &a->depends, &a->n_depends) < 0
      || selectors_from_json (a->have_expose ? expose : NULL, &a->expose, &a->n_expose) < 0
      || selectors_from_json (json_object_get (j, "dependsDeny"), &a->depends_deny,
                              &a->n_depends_deny)
             < 0
      || selectors_from_json (json_object_get (j, "exposeDeny"), &a->expose_deny, &a->n_expose_deny)
             < 0)
    {
      moat_policy_free (ret);
      return moat_error (err, MOAT_E_STATE, 0, "malformed identity");
    }
  ret->labels = json_incref (labels);
  return 0;
}

static int
ports_from_json (json_t *j, struct moat_ports **ret, size_t *ret_n, moat_err_t *err)
{
  size_t i;
  json_t *v;

  *ret = calloc (json_array_size (j) + 1, sizeof (**ret));
  if (!*ret)
    return moat_error_nomem (err, "policy");
  json_array_foreach (j, i, v)
  {
    if (!json_is_string (v)
        || moat_ports_parse ("allowHost", json_string_value (v), false, &(*ret)[i], err) < 0)
      return moat_error (err, MOAT_E_STATE, 0, "malformed policy: allowHost");
    (*ret_n)++;
  }
  return 0;
}

static int
acls_from_json (json_t *j, const char *what, struct moat_acl **ret, size_t *ret_n, moat_err_t *err)
{
  size_t i;
  json_t *v;

  *ret = calloc (json_array_size (j) + 1, sizeof (**ret));
  if (!*ret)
    return moat_error_nomem (err, "policy");
  json_array_foreach (j, i, v)
  {
    if (!json_is_string (v) || moat_acl_parse (what, json_string_value (v), &(*ret)[i], err) < 0)
      return moat_error (err, MOAT_E_STATE, 0, "malformed policy: %s", what);
    (*ret_n)++;
  }
  return 0;
}

static int
proxy_from_json (json_t *j, struct moat_annotations *a, moat_err_t *err)
{
  const char *addr = json_string_value (json_object_get (j, "address"));
  json_int_t port = json_integer_value (json_object_get (j, "port"));
  json_t *ports = json_object_get (j, "ports"), *v;
  bool parsed = addr
                && (inet_pton (AF_INET, addr, &a->proxy_addr) == 1
                    || (a->proxy_v6 = inet_pton (AF_INET6, addr, &a->proxy_addr6) == 1));
  size_t i;

  if (!parsed || port < 1 || port > 65535)
    return moat_error (err, MOAT_E_STATE, 0, "malformed policy: proxy");
  a->have_proxy = true;
  a->proxy_port = (uint16_t)port;
  a->proxy_ports = calloc (json_array_size (ports) + 1, sizeof (*a->proxy_ports));
  if (!a->proxy_ports)
    return moat_error_nomem (err, "policy");
  json_array_foreach (ports, i, v)
  {
    json_int_t p = json_integer_value (v);

    if (p < 1 || p > 65535)
      return moat_error (err, MOAT_E_STATE, 0, "malformed policy: proxy port");
    a->proxy_ports[a->n_proxy_ports++] = (uint16_t)p;
  }
  return 0;
}

int
moat_policy_from_json (json_t *j, struct moat_policy *ret, moat_err_t *err)
{
  struct moat_annotations *a = &ret->a;
  json_t *proxy = json_object_get (j, "proxy");
  const char *profile = json_string_value (json_object_get (j, "profile"));

  if (moat_policy_from_ident_json (j, ret, err) < 0)
    return -1;
  a->have_internet = true;
  a->internet = json_is_true (json_object_get (j, "internet"));
  if ((profile && !(a->policy = strdup (profile)))
      || ports_from_json (json_object_get (j, "allowHost"), &a->allow_host, &a->n_allow_host, err)
             < 0
      || acls_from_json (json_object_get (j, "egress"), "egress", &a->egress, &a->n_egress, err) < 0
      || acls_from_json (json_object_get (j, "ingress"), "ingress", &a->ingress, &a->n_ingress, err)
             < 0
      || acls_from_json (json_object_get (j, "egressDeny"), "egressDeny", &a->egress_deny,
                         &a->n_egress_deny, err)
             < 0
      || acls_from_json (json_object_get (j, "ingressDeny"), "ingressDeny", &a->ingress_deny,
                         &a->n_ingress_deny, err)
             < 0
      || (json_is_object (proxy) && proxy_from_json (proxy, a, err) < 0))
    {
      if (err->code == 0)
        moat_error_nomem (err, "policy");
      moat_policy_free (ret);
      return -1;
    }
  return 0;
}

/* --- the compiler ------------------------------------------------------------ */

/* Peers through identities: the container's address jumps to its
 * identity's chain; it joins the set of every identity that may reach it;
 * a new identity's set gets every address it may reach. */
static int
compile_peers (struct in_addr addr, const char *ident, bool new_ident, const struct moat_policy *p,
               const struct moat_peer_group *groups, size_t ngroups, struct moat_nft_elems *out)
{
  if (moat_nft_elems_ident_member (out, addr, ident) < 0)
    return -1;
  for (size_t g = 0; g < ngroups; g++)
    {
      if (moat_policy_allows (groups[g].policy, p)
          && moat_nft_elems_ident_reach (out, groups[g].ident, addr) < 0)
        return -1;
      if (!new_ident || !moat_policy_allows (p, groups[g].policy))
        continue;
      for (size_t i = 0; i < groups[g].n; i++)
        if (groups[g].addrs[i].s_addr != addr.s_addr
            && moat_nft_elems_ident_reach (out, ident, groups[g].addrs[i]) < 0)
          return -1;
    }
  return 0;
}

static int
compile_acls (struct in_addr addr, enum moat_nft_acl kind, const struct moat_acl *acls, size_t n,
              struct moat_nft_elems *out)
{
  for (size_t i = 0; i < n; i++)
    if (moat_nft_elems_acl (out, kind, addr, &acls[i]) < 0)
      return -1;
  return 0;
}

int
moat_policy_compile (const struct moat_compile_input *in, struct moat_nft_elems *out)
{
  const struct moat_annotations *a = &in->policy->a;
  struct in_addr addr = in->addr;

  if (in->ident
      && compile_peers (addr, in->ident, in->new_ident, in->policy, in->groups, in->ngroups, out)
             < 0)
    return -1;
  for (size_t i = 0; i < a->n_allow_host; i++)
    if (moat_nft_elems_host (out, addr, &a->allow_host[i]) < 0)
      return -1;
  if (compile_acls (addr, MOAT_NFT_EGRESS, a->egress, a->n_egress, out) < 0
      || compile_acls (addr, MOAT_NFT_EGRESS_DENY, a->egress_deny, a->n_egress_deny, out) < 0
      || compile_acls (addr, MOAT_NFT_INGRESS, a->ingress, a->n_ingress, out) < 0
      || compile_acls (addr, MOAT_NFT_INGRESS_DENY, a->ingress_deny, a->n_ingress_deny, out) < 0)
    return -1;
  if (a->have_internet && a->internet && !in->network_internet
      && moat_nft_elems_internet (out, addr) < 0)
    return -1;
  if (!a->have_proxy)
    return 0;
  /* An IPv6 proxy's elements wait for the container's IPv6 address. */
  if (a->proxy_v6)
    {
      for (size_t i = 0; i < a->n_proxy_ports; i++)
        if (moat_nft_elems_proxy_wait6 (out, addr, a->proxy_ports[i], &a->proxy_addr6,
                                        a->proxy_port)
            < 0)
          return -1;
      return moat_nft_elems_proxy_wait6 (out, addr, 0, &a->proxy_addr6, a->proxy_port);
    }
  for (size_t i = 0; i < a->n_proxy_ports; i++)
    if (moat_nft_elems_proxy (out, addr, a->proxy_ports[i], a->proxy_addr, a->proxy_port) < 0)
      return -1;
  return moat_nft_elems_proxied (out, addr, a->proxy_addr, a->proxy_port);
}

int
moat_policy_compile_reach (const char *ident, const struct moat_policy *p,
                           const struct moat_peer_group *groups, size_t ngroups,
                           struct moat_nft_elems *out)
{
  for (size_t g = 0; g < ngroups; g++)
    {
      if (!moat_policy_allows (p, groups[g].policy))
        continue;
      for (size_t i = 0; i < groups[g].n; i++)
        if (moat_nft_elems_ident_reach (out, ident, groups[g].addrs[i]) < 0)
          return -1;
    }
  return 0;
}

/* What a leaving container takes out of other identities' sets. */
int
moat_policy_compile_leave (struct in_addr addr, const struct moat_policy *p,
                           const struct moat_peer_group *groups, size_t ngroups,
                           struct moat_nft_elems *out)
{
  for (size_t g = 0; g < ngroups; g++)
    if (moat_policy_allows (groups[g].policy, p)
        && moat_nft_elems_ident_reach (out, groups[g].ident, addr) < 0)
      return -1;
  return 0;
}
