/* SPDX-License-Identifier: Apache-2.0 */
/* A container's effective policy, item by item, with its sources
 * (showpolicy.h). */

#include "showpolicy.h"

#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"
#include "model/annot.h"
#include "model/ceiling.h"
#include "model/policy.h"
#include "model/profile.h"
#include "model/publish.h"
#include "model/sources.h"

/* The policy's list keys, in the order show prints them. */
static const char *const list_keys[]
    = { "depends", "expose",  "dependsDeny", "exposeDeny",  "allowHost",
        "egress",  "ingress", "egressDeny",  "ingressDeny", NULL };

struct source
{
  char name[96];
  json_t *policy; /* policy.h's JSON of this source alone */
};

#define SOURCES_MAX 4

struct sources
{
  struct source v[SOURCES_MAX];
  size_t n;
};

static void
sources_free (struct sources *s)
{
  for (size_t i = 0; i < s->n; i++)
    json_decref (s->v[i].policy);
  s->n = 0;
}

/* What one source's annotations alone make, in policy.h's JSON. */
static json_t *
annotations_policy (const struct moat_annotations *a)
{
  struct moat_policy p = { .a = *a, .labels = json_object () };
  json_t *j;

  for (size_t i = 0; p.labels && i < a->n_labels; i++)
    json_object_set_new (p.labels, a->labels[i].key, json_string (a->labels[i].value));
  j = p.labels ? moat_policy_to_json (&p) : NULL;
  json_decref (p.labels);
  return j;
}

static void
source_add (struct sources *s, const char *name, json_t *policy)
{
  if (!policy || s->n == SOURCES_MAX)
    {
      json_decref (policy);
      return;
    }
  snprintf (s->v[s->n].name, sizeof (s->v[s->n].name), "%s", name);
  s->v[s->n++].policy = policy;
}

/* Annotations (an object, or NULL) as one source; unparsable: none. */
static void
source_add_annotations (struct sources *s, const char *name, json_t *annotations)
{
  struct moat_annotations a = { 0 };
  moat_err_t ignored = { 0 };

  if (!annotations || moat_annotations_parse (annotations, &a, &ignored) < 0)
    return;
  source_add (s, name, annotations_policy (&a));
  moat_annotations_free (&a);
}

DEFINE_TRIVIAL_CLEANUP_FUNC (struct moat_profiles *, moat_profiles_free)

static void
source_add_profile (struct sources *s, const struct moat_record *r, const char *profile)
{
  _cleanup_ (moat_profiles_freep) struct moat_profiles *ps = NULL;
  const struct moat_annotations *a;
  moat_err_t ignored = { 0 };
  char name[96];

  if (!profile
      || moat_profiles_load (r->policy_file ? r->policy_file : MOAT_POLICY_FILE_DEFAULT, &ps,
                             &ignored)
             < 0
      || !(a = moat_profiles_find (ps, profile)))
    return;
  snprintf (name, sizeof (name), "profile %s", profile);
  source_add (s, name, annotations_policy (a));
}

/* The sources in the order policy.h merges them. */
static void
sources_load (const struct moat_record *r, struct sources *s)
{
  _cleanup_ (json_decrefp) json_t *own = NULL;
  moat_err_t ignored = { 0 };

  source_add (s, "CNI args", json_pack ("{s:O}", "labels", r->labels));
  source_add_profile (s, r, json_string_value (json_object_get (r->policy, "profile")));
  source_add_annotations (s, "pod annotation", r->pod_annotations);
  if (r->sources
      && moat_sources_annotations (r->sources, moat_ceiling_reads_env (r->allow), &own, &ignored)
             == 0)
    source_add_annotations (s, "annotation", own);
}

/* --- items ---------------------------------------------------------------- */

/* A selector ([[op, key, value], ...]) as its annotation writes it:
 * terms joined by '&'. */
static void
selector_text (json_t *sel, char *buf, size_t size)
{
  size_t i, len = 0;
  json_t *t;

  buf[0] = '\0';
  json_array_foreach (sel, i, t)
  {
    const char *op = json_string_value (json_array_get (t, 0));
    const char *key = json_string_value (json_array_get (t, 1));
    const char *value = json_string_value (json_array_get (t, 2));
    const char *sep = i ? "&" : "";

    if (!op || !key || len >= size)
      continue;
    if (strcmp (op, "=") == 0 || strcmp (op, "!=") == 0)
      len += (size_t)snprintf (buf + len, size - len, "%s%s%s%s", sep, key, op, value ? value : "");
    else
      len += (size_t)snprintf (buf + len, size - len, "%s%s%s", sep,
                               strcmp (op, "*") == 0 ? "" : "!", key);
  }
}

static void
item_text (json_t *item, char *buf, size_t size)
{
  if (json_is_string (item))
    snprintf (buf, size, "%s", json_string_value (item));
  else if (json_is_array (item))
    selector_text (item, buf, size);
  else
    snprintf (buf, size, "?");
}

static bool
array_has (json_t *a, json_t *item)
{
  size_t i;
  json_t *v;

  json_array_foreach (a, i, v)
  {
    if (json_equal (v, item))
      return true;
  }
  return false;
}

static const char *
origin_of_list_item (const struct sources *s, const char *key, json_t *item)
{
  for (size_t i = 0; i < s->n; i++)
    if (array_has (json_object_get (s->v[i].policy, key), item))
      return s->v[i].name;
  return "?";
}

static const char *
origin_of_label (const struct sources *s, const char *key, json_t *value)
{
  for (size_t i = 0; i < s->n; i++)
    {
      json_t *v = json_object_get (json_object_get (s->v[i].policy, "labels"), key);

      if (v && json_equal (v, value))
        return s->v[i].name;
    }
  return "?";
}

/* The source whose own policy has `key` equal to the effective one. */
static const char *
origin_of_value (const struct sources *s, const char *key, json_t *value)
{
  for (size_t i = 0; i < s->n; i++)
    {
      json_t *v = json_object_get (s->v[i].policy, key);

      if (v && json_equal (v, value))
        return s->v[i].name;
    }
  return NULL;
}

static int
item_add (json_t *items, const char *key, const char *text, const char *from)
{
  json_t *list = json_object_get (items, key);

  if (!list
      && (json_object_set_new (items, key, json_array ()) < 0
          || !(list = json_object_get (items, key))))
    return -1;
  return json_array_append_new (list, json_pack ("{s:s, s:s}", "item", text, "from", from));
}

static int
labels_items (json_t *policy, const struct sources *s, json_t *items)
{
  const char *key;
  json_t *v;

  json_object_foreach (json_object_get (policy, "labels"), key, v)
  {
    char text[512];

    if (strncmp (key, "@sys:", 5) == 0)
      continue;
    snprintf (text, sizeof (text), "%s=%s", key,
              json_string_value (v) ? json_string_value (v) : "");
    if (item_add (items, "labels", text, origin_of_label (s, key, v)) < 0)
      return -1;
  }
  return 0;
}

static int
list_items (json_t *policy, const struct sources *s, json_t *items)
{
  for (size_t k = 0; list_keys[k]; k++)
    {
      size_t i;
      json_t *v;

      json_array_foreach (json_object_get (policy, list_keys[k]), i, v)
      {
        char text[512];

        item_text (v, text, sizeof (text));
        if (item_add (items, list_keys[k], text, origin_of_list_item (s, list_keys[k], v)) < 0)
          return -1;
      }
    }
  return 0;
}

static int
scalar_items (const struct moat_record *r, const struct sources *s, json_t *items)
{
  json_t *policy = r->policy, *proxy = json_object_get (policy, "proxy");
  const char *from;
  char text[256];

  if (json_is_true (json_object_get (policy, "internet")))
    {
      from = origin_of_value (s, "internet", json_true ());
      if (item_add (items, "internet", "yes", from ? from : r->internet ? "network" : "?") < 0)
        return -1;
    }
  if (json_is_object (proxy))
    {
      from = origin_of_value (s, "proxy", proxy);
      snprintf (text, sizeof (text), "%s:%lld",
                json_string_value (json_object_get (proxy, "address"))
                    ? json_string_value (json_object_get (proxy, "address"))
                    : "?",
                (long long)json_integer_value (json_object_get (proxy, "port")));
      if (item_add (items, "proxy", text, from ? from : "?") < 0)
        return -1;
    }
  return 0;
}

/* The text io.moat.publish (or MOAT_PUBLISH) has in the record's own
 * sources, or NULL. */
static const char *
own_publish_text (const struct moat_record *r)
{
  json_t *env = json_object_get (r->sources, "env"), *v;
  const char *text = json_string_value (
      json_object_get (json_object_get (r->sources, "annotations"), "io.moat.publish"));
  size_t i;

  json_array_foreach (env, i, v)
  {
    const char *e = json_string_value (v);

    if (!text && e && strncmp (e, "MOAT_PUBLISH=", 13) == 0)
      text = e + 13;
  }
  return text;
}

/* Whether `text` (io.moat.publish's grammar) makes exactly `published`. */
static bool
publish_text_makes (const char *text, json_t *published)
{
  _cleanup_ (moat_publish_list_free) struct moat_publish_list l = { 0 };
  _cleanup_ (json_decrefp) json_t *j = NULL;
  moat_err_t ignored = { 0 };

  if (!text || moat_publish_parse_text ("io.moat.publish", text, &l, &ignored) < 0)
    return false;
  j = moat_publish_to_json (&l);
  return j && json_equal (j, published);
}

/* Published ports come from the runtime's portMappings, else from
 * io.moat.publish (cni.c's publish_prepare): the source whose text makes
 * what the record holds. */
static const char *
origin_of_publish (const struct moat_record *r)
{
  if (publish_text_makes (own_publish_text (r), r->publish))
    return "annotation";
  if (publish_text_makes (
          json_string_value (json_object_get (r->pod_annotations, "io.moat.publish")), r->publish))
    return "pod annotation";
  return "portMappings";
}

static int
publish_items (const struct moat_record *r, json_t *items)
{
  const char *from = json_array_size (r->publish) ? origin_of_publish (r) : NULL;
  size_t i;
  json_t *v;

  json_array_foreach (r->publish, i, v)
  {
    if (item_add (items, "publish", json_string_value (v), from) < 0)
      return -1;
  }
  return 0;
}

json_t *
moat_ctl_policy_items (const struct moat_record *r, moat_err_t *err)
{
  struct sources s = { 0 };
  _cleanup_ (json_decrefp) json_t *items = json_object ();
  int failed;

  if (!items)
    goto nomem;
  /* Published ports are the ADD's, there before any policy. */
  if (publish_items (r, items) < 0)
    goto nomem;
  if (!r->policy)
    return json_pack ("{s:s, s:O}", "state", "none yet", "items", items);
  sources_load (r, &s);
  failed = labels_items (r->policy, &s, items) < 0 || list_items (r->policy, &s, items) < 0
           || scalar_items (r, &s, items) < 0;
  sources_free (&s);
  if (!failed)
    {
      json_t *j = json_pack ("{s:s, s:O}", "state", "applied", "items", items);

      if (j)
        return j;
    }
nomem:
  moat_error_nomem (err, "moatctl show");
  return NULL;
}
