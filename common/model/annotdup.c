/* SPDX-License-Identifier: Apache-2.0 */
/* Deep copies of parsed annotations and selectors (annot.h). */
#include "model/annot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void *
dup_array (const void *src, size_t n, size_t size, bool *ok)
{
  void *v;

  if (n == 0)
    return NULL;
  v = malloc (n * size);
  if (!v)
    *ok = false;
  else
    memcpy (v, src, n * size);
  return v;
}

static char *
dup_str (const char *s, bool *ok)
{
  char *d;

  if (!s)
    return NULL;
  d = strdup (s);
  if (!d)
    *ok = false;
  return d;
}

int
moat_selector_dup (const struct moat_selector *src, struct moat_selector *ret)
{
  bool ok = true;

  memset (ret, 0, sizeof (*ret));
  ret->terms = calloc (src->n_terms ? src->n_terms : 1, sizeof (*ret->terms));
  if (!ret->terms)
    return -1;
  for (size_t i = 0; i < src->n_terms && ok; i++)
    {
      ret->terms[i].op = src->terms[i].op;
      ret->terms[i].key = dup_str (src->terms[i].key, &ok);
      ret->terms[i].value = dup_str (src->terms[i].value, &ok);
      ret->n_terms++;
    }
  if (!ok)
    moat_selector_free (ret);
  return ok ? 0 : -1;
}

static struct moat_selector *
dup_selectors (const struct moat_selector *src, size_t n, size_t *ret_n, bool *ok)
{
  struct moat_selector *v;

  *ret_n = 0;
  if (n == 0)
    return NULL;
  v = calloc (n, sizeof (*v));
  if (!v)
    {
      *ok = false;
      return NULL;
    }
  for (size_t i = 0; i < n && *ok; i++)
    if (moat_selector_dup (&src[i], &v[(*ret_n)++]) < 0)
      {
        (*ret_n)--;
        *ok = false;
      }
  return v;
}

int
moat_annotations_dup (const struct moat_annotations *src, struct moat_annotations *ret,
                      moat_err_t *err)
{
  bool ok = true;

  *ret = *src; /* flags, counts and plain values; the pointers follow */
  ret->labels = calloc (src->n_labels ? src->n_labels : 1, sizeof (*ret->labels));
  ret->n_labels = 0;
  ok = ret->labels != NULL;
  for (size_t i = 0; ok && i < src->n_labels; i++, ret->n_labels++)
    {
      ret->labels[i].key = dup_str (src->labels[i].key, &ok);
      ret->labels[i].value = dup_str (src->labels[i].value, &ok);
    }
  ret->depends = dup_selectors (src->depends, src->n_depends, &ret->n_depends, &ok);
  ret->expose = dup_selectors (src->expose, src->n_expose, &ret->n_expose, &ok);
  ret->depends_deny
      = dup_selectors (src->depends_deny, src->n_depends_deny, &ret->n_depends_deny, &ok);
  ret->expose_deny = dup_selectors (src->expose_deny, src->n_expose_deny, &ret->n_expose_deny, &ok);
  ret->allow_host = dup_array (src->allow_host, src->n_allow_host, sizeof (*src->allow_host), &ok);
  ret->egress = dup_array (src->egress, src->n_egress, sizeof (*src->egress), &ok);
  ret->ingress = dup_array (src->ingress, src->n_ingress, sizeof (*src->ingress), &ok);
  ret->egress_deny
      = dup_array (src->egress_deny, src->n_egress_deny, sizeof (*src->egress_deny), &ok);
  ret->ingress_deny
      = dup_array (src->ingress_deny, src->n_ingress_deny, sizeof (*src->ingress_deny), &ok);
  ret->proxy_ports
      = dup_array (src->proxy_ports, src->n_proxy_ports, sizeof (*src->proxy_ports), &ok);
  ret->policy = dup_str (src->policy, &ok);
  ret->network = dup_str (src->network, &ok);
  ret->name = dup_str (src->name, &ok);
  ret->aliases = src->aliases ? json_incref (src->aliases) : NULL;
  ret->have_ip = src->have_ip;
  ret->ip = src->ip;
  ret->publish.v = dup_array (src->publish.v, src->publish.n, sizeof (*src->publish.v), &ok);
  ret->publish.n = ret->publish.v ? src->publish.n : 0;
  if (ok)
    return 0;
  moat_annotations_free (ret);
  return moat_error (err, MOAT_E_IO, ENOMEM, "annotations");
}
