/* SPDX-License-Identifier: Apache-2.0 */
/* Container names and aliases, and their hosts-file line (hosts.h). */
#include "model/hosts.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"

#define LABEL_MAX 63

bool
moat_dns_label_valid (const char *s)
{
  size_t n = s ? strlen (s) : 0;

  if (n == 0 || n > LABEL_MAX || s[0] == '-' || s[n - 1] == '-')
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isascii ((unsigned char)s[i])
        || !(isalnum ((unsigned char)s[i]) || s[i] == '-' || s[i] == '_'))
      return false;
  return true;
}

static int
bad_label (moat_err_t *err, const char *what, const char *s)
{
  return moat_error (err, MOAT_E_CONFIG, 0,
                     "%s: \"%.80s\" is not a DNS label (1-63 letters, digits, '-' or '_', "
                     "not starting or ending with '-')",
                     what, s);
}

static int
check_list (const char *what, json_t *list, moat_err_t *err)
{
  size_t i;
  json_t *v;

  if (!json_is_array (list))
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: must be a list of names", what);
  if (json_array_size (list) > MOAT_HOSTS_MAX_NAMES - 1)
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: more than %d names", what,
                       MOAT_HOSTS_MAX_NAMES - 1);
  json_array_foreach (list, i, v)
  {
    const char *s = json_string_value (v);

    if (!s)
      return moat_error (err, MOAT_E_CONFIG, 0, "%s[%zu]: must be a string", what, i);
    if (!moat_dns_label_valid (s))
      return bad_label (err, what, s);
  }
  return 0;
}

int
moat_aliases_parse (json_t *aliases, const char *network, json_t **ret, moat_err_t *err)
{
  json_t *list;

  *ret = NULL;
  if (!aliases || json_is_null (aliases))
    return 0;
  if (!json_is_object (aliases))
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "runtimeConfig.aliases: must be an object of network names to lists");
  list = json_object_get (aliases, network);
  if (!list || json_is_null (list))
    return 0;
  if (check_list ("runtimeConfig.aliases", list, err) < 0)
    return -1;
  *ret = json_array_size (list) ? list : NULL;
  return 0;
}

int
moat_aliases_from_text (const char *what, const char *text, json_t **ret, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *list = json_array ();
  _cleanup_free_ char *copy = strdup (text ? text : "");
  char *save = NULL;

  *ret = NULL;
  if (!list || !copy)
    return moat_error (err, MOAT_E_IO, ENOMEM, "%s", what);
  /* Items separated by ',' or ';' (MOAT_ANNOT_SEPARATORS, annot.h). */
  for (char *item = strtok_r (copy, ",;", &save); item; item = strtok_r (NULL, ",;", &save))
    {
      while (*item == ' ')
        item++;
      for (char *end = item + strlen (item); end > item && end[-1] == ' ';)
        *--end = '\0';
      if (!*item)
        continue;
      if (!moat_dns_label_valid (item))
        return bad_label (err, what, item);
      if (json_array_size (list) >= MOAT_HOSTS_MAX_NAMES - 1)
        return moat_error (err, MOAT_E_CONFIG, 0, "%s: more than %d names", what,
                           MOAT_HOSTS_MAX_NAMES - 1);
      if (json_array_append_new (list, json_string (item)) < 0)
        return moat_error (err, MOAT_E_IO, ENOMEM, "%s", what);
    }
  if (json_array_size (list))
    *ret = TAKE_PTR (list);
  return 0;
}

/* Appends " NAME NAME.dns.moat"; false when it does not fit. */
static bool
put_name (char *buf, size_t size, size_t *len, const char *name)
{
  int n = snprintf (buf + *len, size - *len, " %s %s." MOAT_DNS_DOMAIN, name, name);

  if (n < 0 || (size_t)n >= size - *len)
    return false;
  *len += (size_t)n;
  return true;
}

/* The names of one line: " NAME NAME.dns.moat ALIAS ALIAS.dns.moat ...";
 * how many in *ret_names. false when they do not fit. */
static bool
put_names (char *buf, size_t size, size_t *len, const char *name, const json_t *aliases,
           size_t *ret_names)
{
  size_t i, names = 0;
  json_t *v;

  if (name && moat_dns_label_valid (name))
    {
      if (!put_name (buf, size, len, name))
        return false;
      names++;
    }
  json_array_foreach ((json_t *)aliases, i, v)
  {
    const char *s = json_string_value (v);

    if (!moat_dns_label_valid (s) || names >= MOAT_HOSTS_MAX_NAMES)
      continue;
    if (!put_name (buf, size, len, s))
      return false;
    names++;
  }
  *ret_names = names;
  return true;
}

/* Appends "ADDR" and the names, and a newline; false when it does not
 * fit. */
static bool
put_line (char *buf, size_t size, size_t *len, const char *addr, const char *names,
          size_t names_len)
{
  size_t alen = strlen (addr);

  if (*len + alen + names_len + 2 > size)
    return false;
  memcpy (buf + *len, addr, alen);
  memcpy (buf + *len + alen, names, names_len);
  *len += alen + names_len;
  buf[(*len)++] = '\n';
  buf[*len] = '\0';
  return true;
}

int
moat_hosts_line (char *buf, size_t size, const struct in_addr *addr, const struct in6_addr *addr6,
                 const char *name, const json_t *aliases)
{
  char a[INET6_ADDRSTRLEN], names[4096];
  size_t len = 0, names_len = 0, count;

  if (!put_names (names, sizeof (names), &names_len, name, aliases, &count))
    return -1;
  if (size)
    buf[0] = '\0';
  if (count == 0)
    return 0;
  if (addr
      && !put_line (buf, size, &len, inet_ntop (AF_INET, addr, a, sizeof (a)), names, names_len))
    return -1;
  /* A dual-stack or IPv6-only container: the same names for its IPv6
   * address (AAAA). */
  if (addr6
      && !put_line (buf, size, &len, inet_ntop (AF_INET6, addr6, a, sizeof (a)), names, names_len))
    return -1;
  return (int)len;
}
