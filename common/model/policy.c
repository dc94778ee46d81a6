/* SPDX-License-Identifier: Apache-2.0 */
/* A container's effective policy, its identity and its compilation into
 * nftables elements (see policy.h). */
#include "model/policy.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/ceiling.h"
#include "base/cleanup.h"
#include "state/names.h"
#include "model/profile.h"

#define IDENTS_DIR "idents"
#define SYS_PREFIX "@sys:"
#define POLICY_INDEX_LABEL "PolicyIndex"

static int
no_memory (moat_err_t *err)
{
  return moat_error (err, MOAT_E_IO, ENOMEM, "policy");
}

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
  return a->addr.s_addr == b->addr.s_addr && a->prefixlen == b->prefixlen
         && ports_equal (&a->ports, &b->ports);
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
    return no_memory (err);
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
      dst->proxy_addr = src->proxy_addr;
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
  if (MOVE (dst, src, depends) < 0 || MOVE (dst, src, expose) < 0 || MOVE (dst, src, allow_host) < 0
      || MOVE (dst, src, egress) < 0 || MOVE (dst, src, ingress) < 0
      || MOVE (dst, src, depends_deny) < 0 || MOVE (dst, src, expose_deny) < 0
      || MOVE (dst, src, egress_deny) < 0 || MOVE (dst, src, ingress_deny) < 0)
    return no_memory (err);
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
    return no_memory (err);
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
static int
proxy_check (const struct moat_record *rec, const struct moat_annotations *a, moat_err_t *err)
{
  uint32_t mask = moat_prefix_mask (rec->prefixlen);
  char addr[INET_ADDRSTRLEN];

  if (!a->have_proxy || rec->prefixlen == 0 || a->proxy_addr.s_addr == rec->gateway.s_addr
      || (a->proxy_addr.s_addr & mask) != (rec->addr.s_addr & mask))
    return 0;
  inet_ntop (AF_INET, &a->proxy_addr, addr, sizeof (addr));
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
    return no_memory (err);
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
          no_memory (err);
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
  char addr[INET_ADDRSTRLEN];
  json_t *ports = json_array ();

  for (size_t i = 0; ports && i < a->n_proxy_ports; i++)
    json_array_append_new (ports, json_integer (a->proxy_ports[i]));
  inet_ntop (AF_INET, &a->proxy_addr, addr, sizeof (addr));
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
    return no_memory (err);
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
    return no_memory (err);
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
  size_t i;

  if (!addr || inet_pton (AF_INET, addr, &a->proxy_addr) != 1 || port < 1 || port > 65535)
    return moat_error (err, MOAT_E_STATE, 0, "malformed policy: proxy");
  a->have_proxy = true;
  a->proxy_port = (uint16_t)port;
  a->proxy_ports = calloc (json_array_size (ports) + 1, sizeof (*a->proxy_ports));
  if (!a->proxy_ports)
    return no_memory (err);
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
        no_memory (err);
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
  for (size_t i = 0; i < a->n_proxy_ports; i++)
    if (moat_nft_elems_proxy (out, addr, a->proxy_ports[i], a->proxy_addr, a->proxy_port) < 0)
      return -1;
  return moat_nft_elems_proxied (out, addr, a->proxy_addr, a->proxy_port);
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

/* --- identities ---------------------------------------------------------- */

static int
idents_path (char *buf, size_t size, const char *network, const char *leaf)
{
  char rel[512];

  if ((size_t)snprintf (rel, sizeof (rel), "%s%s%s", IDENTS_DIR, leaf ? "/" : "", leaf ? leaf : "")
      >= sizeof (rel))
    return -1;
  return moat_state_path (buf, size, network, rel);
}

static int
state_error (moat_err_t *err, int errnum, const char *what, const char *path)
{
  return moat_error (err, MOAT_E_STATE, errnum, "%s \"%s\"", what, path);
}

static char *
read_text (const char *path)
{
  _cleanup_fclose_ FILE *f = fopen (path, "re");
  char *buf = NULL;
  size_t len = 0;

  if (!f)
    return NULL;
  if (getdelim (&buf, &len, '\0', f) < 0)
    {
      free (buf);
      return NULL;
    }
  return buf;
}

static int
write_file (const char *path, const char *text, moat_err_t *err)
{
  char tmp[4096];
  _cleanup_close_ int fd = -1;
  size_t len = strlen (text);

  if ((size_t)snprintf (tmp, sizeof (tmp), "%s.tmp", path) >= sizeof (tmp))
    return state_error (err, ENAMETOOLONG, "identity", path);
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return state_error (err, errno, "open", tmp);
  if (write (fd, text, len) != (ssize_t)len || rename (tmp, path) < 0)
    {
      int saved = errno;

      unlink (tmp);
      return state_error (err, saved, "write", path);
    }
  return 0;
}

static bool
has_suffix (const char *s, const char *suffix)
{
  size_t n = strlen (s), m = strlen (suffix);

  return n > m && strcmp (s + n - m, suffix) == 0;
}

/* --- owners ---------------------------------------------------------------- */

/* The kernel's id_<name> objects are one namespace for every network of
 * the host, while each network keeps its identities in its own directory.
 * So a name is claimed for one network before it is used: <run
 * dir>/.idents/<name> holds the owner's network name, made with
 * RENAME_NOREPLACE, so of two networks racing for a name one gets it and
 * the other moves on to the next name. Two networks never share an
 * identity's chain and set, even with equal labels (the network is part of
 * the hash, and the claim catches what the hash cannot rule out). */
#define OWNERS_DIR ".idents"

static int
owner_path (char *buf, size_t size, const char *name, const char *suffix)
{
  int n = snprintf (buf, size, "%s/%s/%s%s", moat_run_dir (), OWNERS_DIR, name, suffix);

  return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Makes `path` hold `text` unless it exists: 1 made, 0 it existed. */
static int
create_file (const char *path, const char *text, moat_err_t *err)
{
  char tmp[4096];
  _cleanup_close_ int fd = -1;
  size_t len = strlen (text);

  if ((size_t)snprintf (tmp, sizeof (tmp), "%s.%d.tmp", path, (int)getpid ()) >= sizeof (tmp))
    return state_error (err, ENAMETOOLONG, "create", path);
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return state_error (err, errno, "open", tmp);
  if (write (fd, text, len) != (ssize_t)len
      || (renameat2 (AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0 && errno != EEXIST))
    {
      int saved = errno;

      unlink (tmp);
      return state_error (err, saved, "write", path);
    }
  /* Still there when the name existed. */
  return unlink (tmp) < 0 ? 1 : 0;
}

/* 1 when the name is the network's (claimed now or before), 0 when
 * another network owns it. */
static int
ident_claim (const char *network, const char *name, moat_err_t *err)
{
  char dir[4096], path[4096];

  if (owner_path (path, sizeof (path), name, "") < 0 || owner_path (dir, sizeof (dir), "", "") < 0)
    return state_error (err, ENAMETOOLONG, "identity owner", name);
  if (moat_mkdir_p (dir, MOAT_E_STATE, err) < 0)
    return -1;
  for (int tries = 0; tries < 2; tries++)
    {
      _cleanup_free_ char *owner = NULL;
      int r;

      errno = 0;
      owner = read_text (path);
      if (owner)
        return strcmp (owner, network) == 0;
      if (errno != ENOENT)
        return state_error (err, errno, "read", path);
      r = create_file (path, network, err);
      if (r != 0)
        return r;
    }
  return state_error (err, EEXIST, "identity owner", path);
}

/* Gives up the network's claims once its identities' kernel objects are
 * gone (moat_policy_network_remove, or the tables' teardown). */
int
moat_policy_owners_release (const char *network, moat_err_t *err)
{
  char dir[4096];
  _cleanup_ (closedirp) DIR *d = NULL;
  struct dirent *de;

  if (owner_path (dir, sizeof (dir), "", "") < 0)
    return state_error (err, ENAMETOOLONG, "identity owners", moat_run_dir ());
  d = opendir (dir);
  if (!d)
    return errno == ENOENT ? 0 : state_error (err, errno, "opendir", dir);
  while ((de = readdir (d)))
    {
      char path[4096];
      _cleanup_free_ char *owner = NULL;

      if (de->d_name[0] == '.' || has_suffix (de->d_name, ".tmp"))
        continue;
      if (owner_path (path, sizeof (path), de->d_name, "") < 0)
        return state_error (err, ENAMETOOLONG, "identity owner", de->d_name);
      owner = read_text (path);
      if (owner && strcmp (owner, network) == 0 && unlink (path) < 0 && errno != ENOENT)
        return state_error (err, errno, "unlink", path);
    }
  return 0;
}

/* --- identities (continued) ----------------------------------------------- */

/* The identity's name (names.h), with "_N" after it when the network has
 * another identity of that name or another network owns it. Creates
 * <name>.json and <name>/ when new. */
static int
ident_ensure (const char *network, const char *text, char name[MOAT_NFT_IDENT_MAX + 1],
              moat_err_t *err)
{
  char dir[4096], path[4096], leaf[MOAT_NFT_IDENT_MAX + 8];
  struct moat_names_key k;

  if (idents_path (dir, sizeof (dir), network, NULL) < 0)
    return state_error (err, ENAMETOOLONG, "identities", network);
  if (moat_mkdir_p (dir, MOAT_E_STATE, err) < 0 || moat_names_key_get (true, &k, err) < 0)
    return -1;
  for (int probe = 0; probe < 16; probe++)
    {
      _cleanup_free_ char *old = NULL;
      int ours;

      moat_ident_name (&k, network, text, probe, name);
      snprintf (leaf, sizeof (leaf), "%s.json", name);
      if (idents_path (path, sizeof (path), network, leaf) < 0)
        return state_error (err, ENAMETOOLONG, "identity", name);
      old = read_text (path);
      if (old && strcmp (old, text) != 0)
        continue;
      ours = ident_claim (network, name, err);
      if (ours < 0)
        return -1;
      if (!ours)
        continue;
      if (!old && write_file (path, text, err) < 0)
        return -1;
      if (idents_path (path, sizeof (path), network, name) < 0)
        return state_error (err, ENAMETOOLONG, "identity", name);
      if (mkdir (path, 0700) < 0 && errno != EEXIST)
        return state_error (err, errno, "mkdir", path);
      return 0;
    }
  return moat_error (err, MOAT_E_STATE, 0, "identity: too many hash collisions");
}

static int
member_path (char *buf, size_t size, const char *network, const char *ident, struct in_addr addr)
{
  char leaf[128], a[INET_ADDRSTRLEN];

  inet_ntop (AF_INET, &addr, a, sizeof (a));
  if ((size_t)snprintf (leaf, sizeof (leaf), "%s/%s", ident, a) >= sizeof (leaf))
    return -1;
  return idents_path (buf, size, network, leaf);
}

static int
member_add (const struct moat_record *rec, moat_err_t *err)
{
  char path[4096];
  _cleanup_close_ int fd = -1;

  if (member_path (path, sizeof (path), rec->network, rec->ident, rec->addr) < 0)
    return state_error (err, ENAMETOOLONG, "identity member", rec->ident);
  fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return state_error (err, errno, "create", path);
  return 0;
}

/* An identity outlives its last member (until its network goes): taking
 * its chain away would make the kernel wait out an RCU grace period at the
 * next container start, and it costs nothing while no address jumps to
 * it. */
static int
member_remove (const struct moat_record *rec, moat_err_t *err)
{
  char path[4096];

  if (member_path (path, sizeof (path), rec->network, rec->ident, rec->addr) < 0)
    return state_error (err, ENAMETOOLONG, "identity member", rec->ident);
  if (unlink (path) < 0 && errno != ENOENT)
    return state_error (err, errno, "unlink", path);
  return 0;
}

/* Does the identity have a member other than `self`? Asked before `self`
 * joins: an rmdir of the member directory answers in one call however many
 * members it has (an empty one is made again). */
static int
has_other_member (const struct moat_record *rec, const char *ident, moat_err_t *err)
{
  char dir[4096], path[4096];

  if (idents_path (dir, sizeof (dir), rec->network, ident) < 0
      || member_path (path, sizeof (path), rec->network, ident, rec->addr) < 0)
    return state_error (err, ENAMETOOLONG, "identity", ident);
  if (unlink (path) < 0 && errno != ENOENT)
    return state_error (err, errno, "unlink", path);
  if (rmdir (dir) == 0)
    {
      if (mkdir (dir, 0700) < 0)
        return state_error (err, errno, "mkdir", dir);
      return 0;
    }
  if (errno == ENOTEMPTY || errno == EEXIST)
    return 1;
  return state_error (err, errno, "rmdir", dir);
}

/* Every identity of the network; with members, their addresses too. */
struct group_list
{
  struct moat_policy *policies;
  char (*names)[MOAT_NFT_IDENT_MAX + 1];
  struct in_addr **addrs;
  struct moat_peer_group *groups;
  size_t n, cap;
};

static void
group_list_free (struct group_list *l)
{
  for (size_t i = 0; i < l->n; i++)
    {
      moat_policy_free (&l->policies[i]);
      free (l->addrs[i]);
    }
  free (l->policies);
  free (l->names);
  free (l->addrs);
  free (l->groups);
  memset (l, 0, sizeof (*l));
}

#define GROW(ptr, cap) realloc ((ptr), (cap) * sizeof (*(ptr)))

static int
group_list_grow (struct group_list *l)
{
  size_t cap = l->cap ? l->cap * 2 : 8;
  void *p;

  if (!(p = GROW (l->policies, cap)))
    return -1;
  l->policies = p;
  if (!(p = GROW (l->names, cap)))
    return -1;
  l->names = p;
  if (!(p = GROW (l->addrs, cap)))
    return -1;
  l->addrs = p;
  if (!(p = GROW (l->groups, cap)))
    return -1;
  l->groups = p;
  l->cap = cap;
  return 0;
}

static int
read_members (const char *dir, struct in_addr **ret, size_t *ret_n, moat_err_t *err)
{
  _cleanup_ (closedirp) DIR *d = opendir (dir);
  size_t n = 0, cap = 0;
  struct in_addr *v = NULL;
  struct dirent *de;

  *ret = NULL;
  *ret_n = 0;
  if (!d)
    return errno == ENOENT ? 0 : state_error (err, errno, "opendir", dir);
  while ((de = readdir (d)))
    {
      struct in_addr addr;

      if (inet_pton (AF_INET, de->d_name, &addr) != 1)
        continue;
      if (n == cap)
        {
          struct in_addr *nv = GROW (v, cap = cap ? cap * 2 : 16);

          if (!nv)
            {
              free (v);
              return no_memory (err);
            }
          v = nv;
        }
      v[n++] = addr;
    }
  *ret = v;
  *ret_n = n;
  return 0;
}

static int
load_group (const char *network, const char *json_name, bool members, struct group_list *l,
            moat_err_t *err)
{
  char path[4096];
  size_t len = strlen (json_name) - strlen (".json");
  _cleanup_ (json_decrefp) json_t *j = NULL;
  json_error_t jerr;
  size_t i = l->n;

  if (len > MOAT_NFT_IDENT_MAX)
    return 0;
  if (l->n == l->cap && group_list_grow (l) < 0)
    return no_memory (err);
  memcpy (l->names[i], json_name, len);
  l->names[i][len] = '\0';
  if (idents_path (path, sizeof (path), network, json_name) < 0)
    return state_error (err, ENAMETOOLONG, "identity", json_name);
  j = json_load_file (path, 0, &jerr);
  if (!j)
    return moat_error (err, MOAT_E_STATE, 0, "identity \"%s\": %s", path, jerr.text);
  if (moat_policy_from_ident_json (j, &l->policies[i], err) < 0)
    return moat_error_prefix (err, "\"%s\"", path);
  l->addrs[i] = NULL;
  l->groups[i] = (struct moat_peer_group){ .ident = l->names[i] };
  l->n++;
  if (!members)
    return 0;
  if (idents_path (path, sizeof (path), network, l->names[i]) < 0)
    return state_error (err, ENAMETOOLONG, "identity", l->names[i]);
  if (read_members (path, &l->addrs[i], &l->groups[i].n, err) < 0)
    return -1;
  l->groups[i].addrs = l->addrs[i];
  return 0;
}

static int
load_groups (const char *network, bool members, struct group_list *l, moat_err_t *err)
{
  char dir[4096];
  _cleanup_ (closedirp) DIR *d = NULL;
  struct dirent *de;

  if (idents_path (dir, sizeof (dir), network, NULL) < 0)
    return state_error (err, ENAMETOOLONG, "identities", network);
  d = opendir (dir);
  if (!d)
    return errno == ENOENT ? 0 : state_error (err, errno, "opendir", dir);
  while ((de = readdir (d)))
    if (has_suffix (de->d_name, ".json") && load_group (network, de->d_name, members, l, err) < 0)
      return -1;
  /* The arrays may have moved while growing. */
  for (size_t i = 0; i < l->n; i++)
    {
      l->groups[i].ident = l->names[i];
      l->groups[i].policy = &l->policies[i];
    }
  return 0;
}

/* --- join and leave -------------------------------------------------------- */

static int
record_policy (struct moat_record *rec, json_t *policy, const char *ident, moat_err_t *err)
{
  json_decref (rec->policy);
  free (rec->ident);
  rec->policy = policy ? json_incref (policy) : NULL;
  rec->ident = ident ? strdup (ident) : NULL;
  if (ident && !rec->ident)
    return no_memory (err);
  return moat_record_write (rec, err);
}

static int
join_kernel (struct moat_nft *nft, const struct moat_record *rec, const struct moat_policy *p,
             bool new_ident, moat_err_t *err)
{
  _cleanup_ (group_list_free) struct group_list groups = { 0 };
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *elems = moat_nft_elems_new ();
  struct moat_compile_input in = {
    .addr = rec->addr,
    .ident = rec->ident,
    .new_ident = new_ident,
    .network_internet = rec->internet,
    .policy = p,
  };
  int exists = 1;

  if (!elems)
    return no_memory (err);
  if (rec->ident && load_groups (rec->network, new_ident, &groups, err) < 0)
    return -1;
  /* The first member makes the identity's chain, unless an earlier
   * member's left it. */
  if (rec->ident && new_ident && (exists = moat_nft_ident_exists (nft, rec->ident, err)) < 0)
    return -1;
  in.groups = groups.groups;
  in.ngroups = groups.n;
  if (moat_policy_compile (&in, elems) < 0)
    return no_memory (err);
  /* Joining follows a leave (which swept) or a container without policy:
   * nothing of it to sweep. */
  return moat_nft_policy_replace (nft, rec->addr, false, rec->internet, NULL, NULL,
                                  exists ? NULL : rec->ident, elems, err);
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

int
moat_policy_join (struct moat_nft *nft, struct moat_record *rec, const struct moat_policy *p,
                  moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *policy = moat_policy_to_json (p);
  _cleanup_ (json_decrefp) json_t *ident = moat_policy_ident_json (p);
  _cleanup_free_ char *text = NULL;
  char name[MOAT_NFT_IDENT_MAX + 1];
  bool with_ident = moat_policy_has_identity (p);
  moat_err_t undo = { 0 };
  int others = 0;

  if (!policy || !ident || !(text = json_dumps (ident, JSON_COMPACT | JSON_SORT_KEYS)))
    return no_memory (err);
  /* A container without policy has nothing in the kernel or the record:
   * its next join needs no sweep. */
  if (moat_policy_is_empty (p))
    return moat_policy_clear (nft, rec, err);
  if ((rec->ident || rec->policy) && moat_policy_leave (nft, rec, MOAT_LEAVE_ALL, err) < 0)
    return -1;
  /* The record names the identity before its member file exists, so a
   * crash leaves nothing that DEL cannot find. */
  if (with_ident && ident_ensure (rec->network, text, name, err) < 0)
    return -1;
  if (record_policy (rec, policy, with_ident ? name : NULL, err) < 0)
    return -1;
  if (with_ident)
    others = has_other_member (rec, name, err);
  if (others < 0 || (with_ident && member_add (rec, err) < 0)
      || join_kernel (nft, rec, p, others == 0, err) < 0)
    {
      /* Fail closed: whatever policy the container had is gone too. */
      moat_policy_clear (nft, rec, &undo);
      return -1;
    }
  return 0;
}

static int
leave_kernel (struct moat_nft *nft, const struct moat_record *rec, bool sweep, moat_err_t *err)
{
  _cleanup_ (group_list_free) struct group_list groups = { 0 };
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *del = moat_nft_elems_new ();
  size_t self = SIZE_MAX;

  if (!del)
    return no_memory (err);
  if (!rec->ident && !sweep)
    return 0;
  if (rec->ident && load_groups (rec->network, false, &groups, err) < 0)
    return -1;
  for (size_t i = 0; rec->ident && i < groups.n; i++)
    if (strcmp (groups.names[i], rec->ident) == 0)
      self = i;
  /* Without its identity file (a crash), only the fixed sets are swept. */
  if (self != SIZE_MAX
      && moat_policy_compile_leave (rec->addr, &groups.policies[self], groups.groups, groups.n, del)
             < 0)
    return no_memory (err);
  return moat_nft_policy_replace (nft, rec->addr, sweep, rec->internet, del, NULL, NULL, NULL, err);
}

int
moat_policy_leave (struct moat_nft *nft, const struct moat_record *rec, enum moat_leave how,
                   moat_err_t *err)
{
  if (how != MOAT_LEAVE_STATE && leave_kernel (nft, rec, how == MOAT_LEAVE_ALL, err) < 0)
    return -1;
  if (rec->ident && member_remove (rec, err) < 0)
    return -1;
  return 0;
}

int
moat_policy_network_remove (struct moat_nft *nft, const char *network, moat_err_t *err)
{
  _cleanup_ (group_list_free) struct group_list groups = { 0 };
  _cleanup_free_ char **names = NULL;

  if (load_groups (network, false, &groups, err) < 0)
    return -1;
  names = calloc (groups.n + 1, sizeof (*names));
  if (!names)
    return no_memory (err);
  for (size_t i = 0; i < groups.n; i++)
    names[i] = groups.names[i];
  return moat_nft_idents_drop (nft, names, err);
}

/* An identity's set holds every member of every identity it may reach;
 * each member jumps to its identity's chain. */
static int
expected_idents (const struct group_list *g, bool all_idents, struct moat_nft_elems *out)
{
  for (size_t i = 0; i < g->n; i++)
    for (size_t k = 0; k < g->groups[i].n; k++)
      if (moat_nft_elems_ident_member (out, g->groups[i].addrs[k], g->names[i]) < 0)
        return -1;
  for (size_t i = 0; i < g->n; i++)
    for (size_t h = 0; h < g->n && (all_idents || g->groups[i].n); h++)
      {
        if (!g->groups[h].n || !moat_policy_allows (&g->policies[i], &g->policies[h]))
          continue;
        for (size_t k = 0; k < g->groups[h].n; k++)
          if (moat_nft_elems_ident_reach (out, g->names[i], g->groups[h].addrs[k]) < 0)
            return -1;
      }
  return 0;
}

static int
strv_push (char ***v, size_t *n, const char *s)
{
  char **nv = realloc (*v, (*n + 2) * sizeof (**v));

  if (!nv)
    return -1;
  *v = nv;
  if (!(nv[*n] = strdup (s)))
    return -1;
  nv[++*n] = NULL;
  return 0;
}

/* A record's own elements: its policy without the identity part. */
static int
expected_own (const struct moat_record *rec, struct moat_nft_elems *out, moat_err_t *err)
{
  struct moat_policy p;
  struct moat_compile_input in = { .addr = rec->addr, .network_internet = rec->internet };
  int r;

  if (!rec->policy)
    return 0;
  if (moat_policy_from_json (rec->policy, &p, err) < 0)
    return moat_error_prefix (err, "record %s@%s", rec->container_id, rec->ifname);
  in.policy = &p;
  r = moat_policy_compile (&in, out);
  moat_policy_free (&p);
  return r < 0 ? no_memory (err) : 0;
}

int
moat_policy_network_expected (const char *network, const struct moat_record *recs, size_t n,
                              bool all_idents, struct moat_nft_elems *out, char ***ret_idents,
                              moat_err_t *err)
{
  _cleanup_ (group_list_free) struct group_list groups = { 0 };
  char **idents = NULL;
  size_t nidents = 0;

  if (load_groups (network, true, &groups, err) < 0)
    return -1;
  if (expected_idents (&groups, all_idents, out) < 0)
    return no_memory (err);
  for (size_t i = 0; i < n; i++)
    if (expected_own (&recs[i], out, err) < 0)
      return -1;
  for (size_t i = 0; i < groups.n; i++)
    if ((all_idents || groups.groups[i].n) && strv_push (&idents, &nidents, groups.names[i]) < 0)
      {
        moat_strv_free (idents);
        return no_memory (err);
      }
  if (!idents && !(idents = calloc (1, sizeof (*idents))))
    return no_memory (err);
  *ret_idents = idents;
  return 0;
}

int
moat_policy_clear (struct moat_nft *nft, struct moat_record *rec, moat_err_t *err)
{
  /* Nothing recorded, nothing installed: no sweep. */
  if (!rec->ident && !rec->policy)
    return 0;
  if (moat_policy_leave (nft, rec, MOAT_LEAVE_ALL, err) < 0)
    return -1;
  return record_policy (rec, NULL, NULL, err);
}
