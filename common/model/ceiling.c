/* SPDX-License-Identifier: Apache-2.0 */
/* The network's ceiling on what its containers may declare (ceiling.h). */
#include "model/ceiling.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/ip6.h"
#include "base/types.h"

#define ALLOW "allow"

/* --- parsing ----------------------------------------------------------- */

/* A list key: true (anything), false or absent (nothing), or an array of
 * strings (at most MOAT_ANNOT_MAX_ITEMS). *ret_items: the array, or NULL. */
static int
get_list (json_t *allow, const char *key, bool *ret_any, json_t **ret_items, moat_err_t *err)
{
  json_t *v = json_object_get (allow, key);
  size_t i;
  json_t *item;

  *ret_any = false;
  *ret_items = NULL;
  if (!v || json_is_null (v) || json_is_false (v))
    return 0;
  if (json_is_true (v))
    {
      *ret_any = true;
      return 0;
    }
  if (!json_is_array (v))
    return moat_error (err, MOAT_E_CONFIG, 0, ALLOW ".%s: must be true, false or a list of strings",
                       key);
  if (json_array_size (v) > MOAT_ANNOT_MAX_ITEMS)
    return moat_error (err, MOAT_E_CONFIG, 0, ALLOW ".%s: more than %d items", key,
                       MOAT_ANNOT_MAX_ITEMS);
  json_array_foreach (v, i, item)
  {
    if (!json_is_string (item))
      return moat_error (err, MOAT_E_CONFIG, 0, ALLOW ".%s[%zu]: must be a string", key, i);
  }
  *ret_items = v;
  return 0;
}

static int
get_flag (json_t *allow, const char *key, bool *ret, moat_err_t *err)
{
  json_t *v = json_object_get (allow, key);

  *ret = false;
  if (!v || json_is_null (v))
    return 0;
  if (!json_is_boolean (v))
    return moat_error (err, MOAT_E_CONFIG, 0, ALLOW ".%s: must be true or false", key);
  *ret = json_is_true (v);
  return 0;
}

/* "tcp/PORT[-PORT]" or "udp/..." items of `key`. */
static int
parse_ports (const char *key, json_t *items, struct moat_ports **ret, size_t *ret_n,
             moat_err_t *err)
{
  size_t i;
  json_t *v;

  *ret = calloc (json_array_size (items) + 1, sizeof (**ret));
  if (!*ret)
    return moat_error_nomem (err, ALLOW);
  json_array_foreach (items, i, v)
  {
    char what[64];

    snprintf (what, sizeof (what), ALLOW ".%s[%zu]", key, i);
    if (moat_ports_parse (what, json_string_value (v), false, &(*ret)[*ret_n], err) < 0)
      return -1;
    (*ret_n)++;
  }
  return 0;
}

/* "ADDR" (any protocol) or "ADDR PORTS". */
static int
parse_acls (const char *key, json_t *items, struct moat_acl **ret, size_t *ret_n, moat_err_t *err)
{
  size_t i;
  json_t *v;

  *ret = calloc (json_array_size (items) + 1, sizeof (**ret));
  if (!*ret)
    return moat_error_nomem (err, ALLOW);
  json_array_foreach (items, i, v)
  {
    const char *text = json_string_value (v);
    _cleanup_free_ char *full = NULL;
    char what[64];

    snprintf (what, sizeof (what), ALLOW ".%s[%zu]", key, i);
    if (!strpbrk (text, " \t") && asprintf (&full, "%s any", text) < 0)
      return moat_error_nomem (err, ALLOW);
    if (moat_acl_parse (what, full ? full : text, &(*ret)[*ret_n], err) < 0)
      return -1;
    (*ret_n)++;
  }
  return 0;
}

/* "IP:PORT". */
static int
parse_proxies (json_t *items, struct moat_ceiling *c, moat_err_t *err)
{
  size_t i;
  json_t *v;

  c->proxy = calloc (json_array_size (items) + 1, sizeof (*c->proxy));
  if (!c->proxy)
    return moat_error_nomem (err, ALLOW);
  json_array_foreach (items, i, v)
  {
    const char *text = json_string_value (v), *colon = text ? strrchr (text, ':') : NULL;
    bool v6 = text && text[0] == '[';
    char addr[INET6_ADDRSTRLEN], *end;
    size_t len = colon ? (size_t)(colon - text) : 0;
    unsigned long port;
    int r;

    /* [IPV6]:PORT: the address inside the brackets. */
    if (!colon || (v6 && (len < 2 || text[len - 1] != ']')) || len >= sizeof (addr))
      goto bad;
    memcpy (addr, text + v6, len - 2 * v6);
    addr[len - 2 * v6] = '\0';
    errno = 0;
    port = strtoul (colon + 1, &end, 10);
    r = v6 ? moat_parse_ipv6 (addr, &c->proxy[c->n_proxy].addr6)
           : moat_parse_ipv4 (addr, &c->proxy[c->n_proxy].addr);
    if (r < 0 || colon[1] < '0' || colon[1] > '9' || *end || errno || port < 1 || port > 65535)
      goto bad;
    c->proxy[c->n_proxy].v6 = v6;
    c->proxy[c->n_proxy++].port = (uint16_t)port;
    continue;
  bad:
    return moat_error (err, MOAT_E_CONFIG, 0,
                       ALLOW ".proxy[%zu]: \"%s\" is not IP:PORT or [IPV6]:PORT", i,
                       text ? text : "(not a string)");
  }
  return 0;
}

/* "key" (any value) or "key=value". */
static int
parse_labels (json_t *items, struct moat_ceiling *c, moat_err_t *err)
{
  size_t i;
  json_t *v;

  c->labels = calloc (json_array_size (items) + 1, sizeof (*c->labels));
  if (!c->labels)
    return moat_error_nomem (err, ALLOW);
  json_array_foreach (items, i, v)
  {
    const char *text = json_string_value (v), *eq = strchr (text, '='), *problem;
    struct moat_label *l = &c->labels[c->n_labels];
    char why[128];

    l->key = eq ? strndup (text, eq - text) : strdup (text);
    l->value = eq ? strdup (eq + 1) : NULL;
    c->n_labels++;
    if (!l->key || (eq && !l->value))
      return moat_error_nomem (err, ALLOW);
    if ((problem = moat_label_key_problem (l->key, why, sizeof (why))))
      return moat_error (err, MOAT_E_CONFIG, 0, ALLOW ".labels[%zu]: \"%s\": key %s", i, text,
                         problem);
    if (eq && (problem = moat_label_value_problem (l->value, why, sizeof (why))))
      return moat_error (err, MOAT_E_CONFIG, 0, ALLOW ".labels[%zu]: \"%s\": value %s", i, text,
                         problem);
  }
  return 0;
}

static int
parse_lists (json_t *allow, struct moat_ceiling *c, moat_err_t *err)
{
  json_t *items;
  bool none;

  if (get_list (allow, "allowHost", &c->any_host, &items, err) < 0
      || (items && parse_ports ("allowHost", items, &c->host, &c->n_host, err) < 0))
    return -1;
  if (get_list (allow, "egress", &c->any_egress, &items, err) < 0
      || (items && parse_acls ("egress", items, &c->egress, &c->n_egress, err) < 0))
    return -1;
  if (get_list (allow, "ingress", &c->any_ingress, &items, err) < 0
      || (items && parse_acls ("ingress", items, &c->ingress, &c->n_ingress, err) < 0))
    return -1;
  if (get_list (allow, "proxy", &c->any_proxy, &items, err) < 0
      || (items && parse_proxies (items, c, err) < 0))
    return -1;
  if (get_list (allow, "publish", &c->any_publish, &items, err) < 0
      || (items && parse_ports ("publish", items, &c->publish, &c->n_publish, err) < 0))
    return -1;
  if (get_list (allow, "labels", &c->any_label, &items, err) < 0
      || (items && parse_labels (items, c, err) < 0))
    return -1;
  /* Labels: absent is any label, false or a list bounds them. */
  none = !json_object_get (allow, "labels") || json_is_null (json_object_get (allow, "labels"));
  c->any_label |= none;
  return 0;
}

int
moat_ceiling_parse (json_t *allow, struct moat_ceiling *ret, moat_err_t *err)
{
  memset (ret, 0, sizeof (*ret));
  if (allow && json_is_null (allow))
    allow = NULL;
  if (allow && !json_is_object (allow))
    return moat_error (err, MOAT_E_CONFIG, 0, ALLOW ": must be an object");
  ret->allow = json_incref (allow);
  if (get_flag (allow, "internet", &ret->internet, err) < 0
      || get_flag (allow, "env", &ret->env, err) < 0 || parse_lists (allow, ret, err) < 0)
    {
      moat_ceiling_free (ret);
      return -1;
    }
  return 0;
}

void
moat_ceiling_free (struct moat_ceiling *c)
{
  for (size_t i = 0; i < c->n_labels; i++)
    {
      free (c->labels[i].key);
      free (c->labels[i].value);
    }
  free (c->labels);
  free (c->host);
  free (c->publish);
  free (c->egress);
  free (c->ingress);
  free (c->proxy);
  json_decref (c->allow);
  memset (c, 0, sizeof (*c));
}

bool
moat_ceiling_reads_env (json_t *allow)
{
  return json_is_true (json_object_get (allow, "env"));
}

/* --- checking ------------------------------------------------------------ */

static bool
ports_within (const struct moat_ports *p, const struct moat_ports *ceiling)
{
  if (ceiling->proto == 0)
    return true; /* any */
  if (p->proto != ceiling->proto)
    return false;
  return !ceiling->lo || (ceiling->lo <= p->lo && p->hi <= ceiling->hi);
}

static bool
acl_within (const struct moat_acl *a, const struct moat_acl *ceiling)
{
  /* Same family, and a's range inside the ceiling's. */
  return a->prefixlen >= ceiling->prefixlen && moat_acl_addr_overlaps (a, ceiling)
         && ports_within (&a->ports, &ceiling->ports);
}

/* The error for `item` of `key` beyond the ceiling `ceiling_key`. */
static int
beyond (const struct moat_ceiling *c, const char *network, const char *source, const char *key,
        const char *item, const char *ceiling_key, moat_err_t *err)
{
  json_t *v = json_object_get (c->allow, ceiling_key);
  _cleanup_free_ char *text
      = v && !json_is_null (v) ? json_dumps (v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

  if (text)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "%s%s: %s is not allowed on network \"%s\" (" ALLOW ".%s: %s)", source, key,
                       item, network, ceiling_key, text);
  return moat_error (err, MOAT_E_CONFIG, 0,
                     "%s%s: %s is not allowed on network \"%s\" (its configuration has no "
                     "\"" ALLOW "\": {\"%s\": %s})",
                     source, key, item, network, ceiling_key,
                     strcmp (ceiling_key, "internet") == 0 ? "true" : "[...]");
}

static int
check_host (const struct moat_ceiling *c, const char *network, const struct moat_annotations *a,
            const char *source, moat_err_t *err)
{
  for (size_t i = 0; i < a->n_allow_host && !c->any_host; i++)
    {
      bool ok = false;
      char text[32];

      for (size_t j = 0; j < c->n_host && !ok; j++)
        ok = ports_within (&a->allow_host[i], &c->host[j]);
      if (ok)
        continue;
      moat_ports_format (&a->allow_host[i], text, sizeof (text));
      return beyond (c, network, source, MOAT_ANNOT_PREFIX "allow-host", text, "allowHost", err);
    }
  return 0;
}

static int
check_acls (const struct moat_ceiling *c, const char *network, const char *source, const char *key,
            const struct moat_acl *v, size_t n, bool any, const struct moat_acl *ceiling,
            size_t n_ceiling, moat_err_t *err)
{
  char annotation[32], text[64];

  for (size_t i = 0; i < n && !any; i++)
    {
      bool ok = false;

      for (size_t j = 0; j < n_ceiling && !ok; j++)
        ok = acl_within (&v[i], &ceiling[j]);
      if (ok)
        continue;
      moat_acl_format (&v[i], text, sizeof (text));
      snprintf (annotation, sizeof (annotation), MOAT_ANNOT_PREFIX "%s", key);
      return beyond (c, network, source, annotation, text, key, err);
    }
  return 0;
}

static int
check_proxy (const struct moat_ceiling *c, const char *network, const struct moat_annotations *a,
             const char *source, moat_err_t *err)
{
  char addr[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 10];

  if (!a->have_proxy || c->any_proxy)
    return 0;
  for (size_t i = 0; i < c->n_proxy; i++)
    if (c->proxy[i].v6 == a->proxy_v6 && c->proxy[i].port == a->proxy_port
        && (a->proxy_v6 ? IN6_ARE_ADDR_EQUAL (&c->proxy[i].addr6, &a->proxy_addr6)
                        : c->proxy[i].addr.s_addr == a->proxy_addr.s_addr))
      return 0;
  moat_proxy_addr_text (a, addr);
  snprintf (text, sizeof (text), a->proxy_v6 ? "[%s]:%u" : "%s:%u", addr, a->proxy_port);
  return beyond (c, network, source, MOAT_ANNOT_PREFIX "proxy", text, "proxy", err);
}

int
moat_ceiling_check_publish (const struct moat_ceiling *c, const char *network,
                            const struct moat_publish_list *l, const char *key, moat_err_t *err)
{
  for (size_t i = 0; i < l->n && !c->any_publish; i++)
    {
      struct moat_ports want
          = { l->v[i].proto, l->v[i].host_port, (uint16_t)(l->v[i].host_port + l->v[i].count - 1) };
      char text[MOAT_PUBLISH_TEXT_MAX];
      bool ok = false;

      for (size_t j = 0; j < c->n_publish && !ok; j++)
        ok = ports_within (&want, &c->publish[j]);
      if (ok)
        continue;
      moat_publish_format (&l->v[i], text, sizeof (text));
      return beyond (c, network, "", key, text, "publish", err);
    }
  return 0;
}

int
moat_ceiling_check_label (const struct moat_ceiling *c, const char *network, const char *key,
                          const char *value, const char *what, moat_err_t *err)
{
  _cleanup_free_ char *text = NULL;

  if (c->any_label)
    return 0;
  for (size_t i = 0; i < c->n_labels; i++)
    if (strcmp (c->labels[i].key, key) == 0
        && (!c->labels[i].value || strcmp (c->labels[i].value, value) == 0))
      return 0;
  if (asprintf (&text, "%s=%s", key, value) < 0)
    return moat_error_nomem (err, ALLOW);
  return beyond (c, network, "", what, text, "labels", err);
}

int
moat_ceiling_check (const struct moat_ceiling *c, const char *network, bool network_internet,
                    const struct moat_annotations *a, const char *source, moat_err_t *err)
{
  char what[128];

  snprintf (what, sizeof (what), "%s" MOAT_ANNOT_PREFIX "labels", source);
  for (size_t i = 0; i < a->n_labels; i++)
    if (moat_ceiling_check_label (c, network, a->labels[i].key, a->labels[i].value, what, err) < 0)
      return -1;
  if (a->have_internet && a->internet && !c->internet && !network_internet)
    return beyond (c, network, source, MOAT_ANNOT_PREFIX "internet", "true", "internet", err);
  if (check_host (c, network, a, source, err) < 0
      || check_acls (c, network, source, "egress", a->egress, a->n_egress, c->any_egress, c->egress,
                     c->n_egress, err)
             < 0
      || check_acls (c, network, source, "ingress", a->ingress, a->n_ingress, c->any_ingress,
                     c->ingress, c->n_ingress, err)
             < 0)
    return -1;
  snprintf (what, sizeof (what), "%s" MOAT_ANNOT_PREFIX "publish", source);
  if (moat_ceiling_check_publish (c, network, &a->publish, what, err) < 0)
    return -1;
  return check_proxy (c, network, a, source, err);
}
