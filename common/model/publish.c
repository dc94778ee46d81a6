/* SPDX-License-Identifier: Apache-2.0 */
/* Published ports: the text form, runtimeConfig.portMappings, the record's
 * JSON and the kernel elements (publish.h). */
#include "model/publish.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cleanup.h"
#include "base/types.h"
#include "ruleset/elems.h"

void
moat_publish_list_free (struct moat_publish_list *l)
{
  free (l->v);
  l->v = NULL;
  l->n = 0;
}

static int
list_push (struct moat_publish_list *l, const struct moat_publish *p, moat_err_t *err)
{
  struct moat_publish *v = realloc (l->v, (l->n + 1) * sizeof (*v));

  if (!v)
    return moat_error (err, MOAT_E_IO, ENOMEM, "published ports");
  l->v = v;
  l->v[l->n++] = *p;
  return 0;
}

/* `text` without the brackets of "[ADDR]" into `bare`; false when too
 * long for an address. */
static bool
unbracket (const char *text, char *bare, size_t size)
{
  size_t len = strlen (text);

  if (len >= 2 && text[0] == '[' && text[len - 1] == ']')
    {
      text++;
      len -= 2;
    }
  if (len >= size)
    return false;
  memcpy (bare, text, len);
  bare[len] = '\0';
  return true;
}

/* An IPv6 host address: ::1 is refused (the kernel drops it on any other
 * device than lo, and IPv6 has no route_localnet: docs/design.md,
 * "Published ports"), and so is what is never a host's own unicast
 * address. */
static int
parse_host6 (const char *where, const char *bare, struct moat_publish *ret, moat_err_t *err)
{
  if (inet_pton (AF_INET6, bare, &ret->host6) != 1)
    return moat_error (err, MOAT_E_CONFIG, 0, "%s is not an IPv4 or IPv6 address", where);
  if (IN6_IS_ADDR_LOOPBACK (&ret->host6))
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "%s: IPv6 loopback cannot be published by the kernel; use the host's IPv6 "
                       "address",
                       where);
  if (IN6_IS_ADDR_MULTICAST (&ret->host6) || IN6_IS_ADDR_LINKLOCAL (&ret->host6)
      || IN6_IS_ADDR_V4MAPPED (&ret->host6) || IN6_IS_ADDR_V4COMPAT (&ret->host6))
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "%s: not a global or unique local IPv6 address, nor ::", where);
  ret->family = AF_INET6;
  return 0;
}

/* "" is every address of both families, 0.0.0.0 every IPv4 one, :: every
 * IPv6 one. `where` names the address in errors. */
static int
parse_host (const char *where, const char *text, struct moat_publish *ret, moat_err_t *err)
{
  char bare[INET6_ADDRSTRLEN];

  ret->family = 0;
  ret->host.s_addr = INADDR_ANY;
  memset (&ret->host6, 0, sizeof (ret->host6));
  if (!*text)
    return 0;
  if (strchr (text, ':'))
    {
      if (!unbracket (text, bare, sizeof (bare)))
        return moat_error (err, MOAT_E_CONFIG, 0, "%s is not an IPv4 or IPv6 address", where);
      return parse_host6 (where, bare, ret, err);
    }
  if (inet_pton (AF_INET, text, &ret->host) != 1)
    return moat_error (err, MOAT_E_CONFIG, 0, "%s is not an IPv4 address", where);
  ret->family = AF_INET;
  return 0;
}

static int
parse_port (const char *text, size_t len, uint16_t *ret)
{
  unsigned long v = 0;

  if (len == 0 || len > 5)
    return -1;
  for (size_t i = 0; i < len; i++)
    {
      if (text[i] < '0' || text[i] > '9')
        return -1;
      v = v * 10 + (unsigned long)(text[i] - '0');
    }
  if (v < 1 || v > 65535)
    return -1;
  *ret = (uint16_t)v;
  return 0;
}

/* "P" or "P-Q" (P <= Q): first port and count. */
static int
parse_range (const char *field, const char *item, const char *what, const char *text, size_t len,
             uint16_t *ret_first, uint32_t *ret_count, moat_err_t *err)
{
  const char *dash = memchr (text, '-', len);
  uint16_t lo, hi;

  if (dash ? parse_port (text, (size_t)(dash - text), &lo) < 0
                 || parse_port (dash + 1, len - (size_t)(dash - text) - 1, &hi) < 0
           : parse_port (text, len, &lo) < 0)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "%s: item \"%s\": %s \"%.*s\" is not a port or range (1-65535)", field, item,
                       what, (int)len, text);
  if (!dash)
    hi = lo;
  if (hi < lo)
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: item \"%s\": %s range \"%.*s\" is reversed",
                       field, item, what, (int)len, text);
  *ret_first = lo;
  *ret_count = (uint32_t)(hi - lo) + 1;
  return 0;
}

static int
parse_proto (const char *field, const char *item, const char *text, uint8_t *ret, moat_err_t *err)
{
  if (strcasecmp (text, "tcp") == 0)
    *ret = IPPROTO_TCP;
  else if (strcasecmp (text, "udp") == 0)
    *ret = IPPROTO_UDP;
  else
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: item \"%s\": protocol \"%s\" is not tcp or udp",
                       field, item, text);
  return 0;
}

/* One item: [host:]hport[-end]:cport[-end][/proto]. */
static int
parse_item (const char *field, const char *item, struct moat_publish *ret, moat_err_t *err)
{
  _cleanup_free_ char *copy = strdup (item);
  char *slash, *cport, *hport, where[512];
  uint32_t hcount, ccount;

  if (!copy)
    return moat_error (err, MOAT_E_IO, ENOMEM, "%s", field);
  memset (ret, 0, sizeof (*ret));
  ret->proto = IPPROTO_TCP;
  slash = strchr (copy, '/');
  if (slash)
    {
      *slash = '\0';
      if (parse_proto (field, item, slash + 1, &ret->proto, err) < 0)
        return -1;
    }
  cport = strrchr (copy, ':');
  if (!cport)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "%s: item \"%s\": expected [host-ip:]host-port:container-port[/proto]",
                       field, item);
  *cport++ = '\0';
  hport = strrchr (copy, ':');
  if (hport)
    *hport++ = '\0';
  else
    hport = copy;
  snprintf (where, sizeof (where), "%s: item \"%.200s\": host address \"%.100s\"", field, item,
            hport == copy ? "" : copy);
  if (parse_host (where, hport == copy ? "" : copy, ret, err) < 0
      || parse_range (field, item, "host port", hport, strlen (hport), &ret->host_port, &hcount,
                      err)
             < 0
      || parse_range (field, item, "container port", cport, strlen (cport), &ret->port, &ccount,
                      err)
             < 0)
    return -1;
  if (hcount != ccount)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "%s: item \"%s\": host and container ranges differ in length (%u, %u)",
                       field, item, hcount, ccount);
  ret->count = (uint16_t)hcount;
  return 0;
}

int
moat_publish_parse_text (const char *field, const char *text, struct moat_publish_list *l,
                         moat_err_t *err)
{
  _cleanup_free_ char *copy = strdup (text);
  size_t first = l->n;
  char *save = NULL;

  if (!copy)
    return moat_error (err, MOAT_E_IO, ENOMEM, "%s", field);
  if (!*text)
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: empty", field);
  /* Items separated by ',' or ';' (MOAT_ANNOT_SEPARATORS, annot.h). */
  if (strchr (",;", text[strlen (text) - 1]) || strchr (",;", text[0]) || strstr (text, ",,")
      || strstr (text, ";;") || strstr (text, ",;") || strstr (text, ";,"))
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: empty item in \"%s\"", field, text);
  for (char *item = strtok_r (copy, ",;", &save); item; item = strtok_r (NULL, ",;", &save))
    {
      struct moat_publish p;

      if (parse_item (field, item, &p, err) < 0 || list_push (l, &p, err) < 0)
        {
          l->n = first;
          return -1;
        }
    }
  return 0;
}

/* A member of a portMappings entry, its name matched as Go's encoding/json
 * does (the exact name first, else any case): containerd 1.6 hands over
 * go-cni's untagged struct, {"HostPort": 8080, "ContainerPort": 80,
 * "Protocol": "tcp", "HostIP": ""}, which the reference portmap plugin
 * reads because Go matches names case-insensitively. */
static json_t *
cni_member (json_t *entry, const char *key)
{
  json_t *v = json_object_get (entry, key);
  const char *name;

  if (v)
    return v;
  json_object_foreach (entry, name, v)
  {
    if (strcasecmp (name, key) == 0)
      return v;
  }
  return NULL;
}

/* An integer port member of a portMappings entry. */
static int
cni_port (json_t *entry, size_t i, const char *key, uint16_t *ret, moat_err_t *err)
{
  json_t *v = cni_member (entry, key);

  if (!json_is_integer (v) || json_integer_value (v) < 1 || json_integer_value (v) > 65535)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "runtimeConfig.portMappings[%zu].%s: expected a port (1-65535)", i, key);
  *ret = (uint16_t)json_integer_value (v);
  return 0;
}

static int
cni_entry (json_t *entry, size_t i, struct moat_publish *ret, moat_err_t *err)
{
  json_t *proto, *host;
  char field[192];

  memset (ret, 0, sizeof (*ret));
  ret->proto = IPPROTO_TCP;
  ret->count = 1;
  if (!json_is_object (entry))
    return moat_error (err, MOAT_E_CONFIG, 0, "runtimeConfig.portMappings[%zu]: expected an object",
                       i);
  if (cni_port (entry, i, "hostPort", &ret->host_port, err) < 0
      || cni_port (entry, i, "containerPort", &ret->port, err) < 0)
    return -1;
  proto = cni_member (entry, "protocol");
  host = cni_member (entry, "hostIP");
  if ((proto && !json_is_string (proto)) || (host && !json_is_string (host)))
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "runtimeConfig.portMappings[%zu].%s: expected a string", i,
                       proto && !json_is_string (proto) ? "protocol" : "hostIP");
  snprintf (field, sizeof (field), "runtimeConfig.portMappings[%zu]", i);
  if (proto && *json_string_value (proto)
      && parse_proto (field, json_string_value (proto), json_string_value (proto), &ret->proto, err)
             < 0)
    return -1;
  if (!host)
    return 0;
  snprintf (field, sizeof (field), "runtimeConfig.portMappings[%zu].hostIP %.100s", i,
            json_string_value (host));
  return parse_host (field, json_string_value (host), ret, err);
}

int
moat_publish_parse_cni (json_t *mappings, struct moat_publish_list *l, moat_err_t *err)
{
  size_t first = l->n, i;
  json_t *entry;

  if (!json_is_array (mappings))
    return moat_error (err, MOAT_E_CONFIG, 0, "runtimeConfig.portMappings: expected an array");
  json_array_foreach (mappings, i, entry)
  {
    struct moat_publish p;

    if (cni_entry (entry, i, &p, err) < 0 || list_push (l, &p, err) < 0)
      {
        l->n = first;
        return -1;
      }
  }
  return 0;
}

/* Whether the host addresses of a and b (of one family, or every one of
 * both: family 0) meet. */
static bool
hosts_meet (const struct moat_publish *a, const struct moat_publish *b)
{
  if (a->family == 0 || b->family == 0)
    return true;
  if (a->family != b->family)
    return false;
  if (a->family == AF_INET)
    return a->host.s_addr == INADDR_ANY || b->host.s_addr == INADDR_ANY
           || a->host.s_addr == b->host.s_addr;
  return IN6_IS_ADDR_UNSPECIFIED (&a->host6) || IN6_IS_ADDR_UNSPECIFIED (&b->host6)
         || IN6_ARE_ADDR_EQUAL (&a->host6, &b->host6);
}

bool
moat_publish_overlap (const struct moat_publish *a, const struct moat_publish *b)
{
  uint32_t a_end = (uint32_t)a->host_port + a->count, b_end = (uint32_t)b->host_port + b->count;

  if (a->proto != b->proto || !hosts_meet (a, b))
    return false;
  return a->host_port < b_end && b->host_port < a_end;
}

int
moat_publish_check (const char *field, const struct moat_publish_list *l, moat_err_t *err)
{
  size_t total = 0;

  for (size_t i = 0; i < l->n; i++)
    {
      total += l->v[i].count;
      for (size_t j = 0; j < i; j++)
        if (moat_publish_overlap (&l->v[i], &l->v[j]))
          {
            char a[MOAT_PUBLISH_TEXT_MAX], b[MOAT_PUBLISH_TEXT_MAX];

            moat_publish_format (&l->v[j], a, sizeof (a));
            moat_publish_format (&l->v[i], b, sizeof (b));
            return moat_error (err, MOAT_E_CONFIG, 0, "%s: \"%s\" and \"%s\" publish one host port",
                               field, a, b);
          }
    }
  if (total > MOAT_PUBLISH_MAX_PORTS)
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: %zu ports published, more than %d", field, total,
                       MOAT_PUBLISH_MAX_PORTS);
  return 0;
}

static int
format_range (char *buf, size_t size, uint16_t first, uint16_t count)
{
  if (count <= 1)
    return snprintf (buf, size, "%u", first);
  return snprintf (buf, size, "%u-%u", first, (unsigned)first + count - 1);
}

void
moat_publish_format (const struct moat_publish *p, char *buf, size_t size)
{
  char host[INET6_ADDRSTRLEN + 3] = "", hport[16], cport[16];

  if (p->family == AF_INET)
    {
      inet_ntop (AF_INET, &p->host, host, sizeof (host));
      strcat (host, ":");
    }
  else if (p->family == AF_INET6)
    {
      host[0] = '[';
      inet_ntop (AF_INET6, &p->host6, host + 1, sizeof (host) - 3);
      strcat (host, "]:");
    }
  format_range (hport, sizeof (hport), p->host_port, p->count);
  format_range (cport, sizeof (cport), p->port, p->count);
  snprintf (buf, size, "%s%s:%s/%s", host, hport, cport, p->proto == IPPROTO_UDP ? "udp" : "tcp");
}

json_t *
moat_publish_to_json (const struct moat_publish_list *l)
{
  json_t *a;

  if (l->n == 0)
    return NULL;
  a = json_array ();
  for (size_t i = 0; a && i < l->n; i++)
    {
      char text[MOAT_PUBLISH_TEXT_MAX];

      moat_publish_format (&l->v[i], text, sizeof (text));
      if (json_array_append_new (a, json_string (text)) < 0)
        {
          json_decref (a);
          return NULL;
        }
    }
  return a;
}

int
moat_publish_from_json (json_t *array, struct moat_publish_list *l, moat_err_t *err)
{
  size_t i;
  json_t *v;

  if (!array)
    return 0;
  if (!json_is_array (array))
    return moat_error (err, MOAT_E_STATE, 0, "record: \"publish\": expected an array");
  json_array_foreach (array, i, v)
  {
    if (!json_is_string (v))
      return moat_error (err, MOAT_E_STATE, 0, "record: \"publish\"[%zu]: expected a string", i);
    if (moat_publish_parse_text ("record: \"publish\"", json_string_value (v), l, err) < 0)
      return -1;
  }
  return 0;
}

int
moat_publish_elems (const struct moat_publish_list *l, struct in_addr addr,
                    struct moat_nft_elems *out)
{
  /* By set: the kernel gets one message per set (nft_put_elem_runs). */
  for (size_t i = 0; i < l->n; i++)
    for (uint32_t k = 0; k < l->v[i].count; k++)
      {
        const struct moat_publish *p = &l->v[i];
        uint16_t hp = (uint16_t)(p->host_port + k), cp = (uint16_t)(p->port + k);

        if (p->family == AF_INET6
                ? moat_nft_elems_publish_wait6 (out, &p->host6, p->proto, hp, addr, cp) < 0
                : moat_nft_elems_publish (out, p->host, p->family == AF_INET, p->proto, hp, addr,
                                          cp)
                      < 0)
          return -1;
      }
  for (size_t i = 0; i < l->n; i++)
    for (uint32_t k = 0; k < l->v[i].count; k++)
      if (moat_nft_elems_published (out, addr, l->v[i].proto, (uint16_t)(l->v[i].port + k)) < 0)
        return -1;
  return 0;
}
