/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl's grants: their words, their record, their element (grant.h). */
#include "grant.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

#define GRANT_WORDS_MAX 4

void
moat_grant_free (struct moat_grant *g)
{
  free (g->peer);
  free (g->by);
  free (g->token);
  memset (g, 0, sizeof (*g));
}

static int
bad_grant (moat_err_t *err, const char *fmt, const char *arg)
{
  return moat_error (err, MOAT_E_CONFIG, 0, fmt, arg);
}

bool
moat_grant_container_word_valid (const char *w)
{
  size_t n = strlen (w);

  if (n == 0 || n > 255)
    return false;
  for (; *w; w++)
    if (*w <= ' ' || *w > '~' || *w == '/')
      return false;
  return true;
}

int
moat_grant_parse (char *const *words, size_t n, struct moat_grant *ret, moat_err_t *err)
{
  const char *kind = n ? words[0] : "";
  char acl[128];

  memset (ret, 0, sizeof (*ret));
  if (strcmp (kind, "host") == 0)
    {
      ret->kind = MOAT_GRANT_HOST;
      if (n != 2)
        return bad_grant (err, "grant \"%s\": want host PROTO/PORT[-PORT]", kind);
      return moat_ports_parse ("grant host", words[1], false, &ret->ports, err);
    }
  if (strcmp (kind, "egress") == 0)
    {
      ret->kind = MOAT_GRANT_EGRESS;
      if (n != 3)
        return bad_grant (err, "grant \"%s\": want egress CIDR PROTO/PORT[-PORT]", kind);
      if (snprintf (acl, sizeof (acl), "%s %s", words[1], words[2]) >= (int)sizeof (acl))
        return bad_grant (err, "grant egress: \"%s\" is too long", words[1]);
      return moat_acl_parse ("grant egress", acl, &ret->acl, err);
    }
  if (strcmp (kind, "ingress") == 0)
    {
      ret->kind = MOAT_GRANT_INGRESS;
      if (n != 3)
        return bad_grant (err, "grant \"%s\": want ingress CIDR PROTO/PORT[-PORT]", kind);
      if (snprintf (acl, sizeof (acl), "%s %s", words[1], words[2]) >= (int)sizeof (acl))
        return bad_grant (err, "grant ingress: \"%s\" is too long", words[1]);
      return moat_acl_parse ("grant ingress", acl, &ret->acl, err);
    }
  if (strcmp (kind, "peer") == 0)
    {
      ret->kind = MOAT_GRANT_PEER;
      if (n != 2 || !*words[1])
        return bad_grant (err, "grant \"%s\": want peer CONTAINER", kind);
      if (!moat_grant_container_word_valid (words[1]))
        return bad_grant (err, "grant peer: \"%s\" is not a container id, name or address",
                          words[1]);
      if (!(ret->peer = strdup (words[1])))
        return moat_error (err, MOAT_E_IO, ENOMEM, "grant");
      return 0;
    }
  return bad_grant (err, "grant: \"%s\" is not host, egress, peer or ingress", kind);
}

int
moat_grant_parse_text (const char *text, struct moat_grant *ret, moat_err_t *err)
{
  _cleanup_free_ char *copy = strdup (text);
  char *words[GRANT_WORDS_MAX + 1], *save = NULL, *w;
  size_t n = 0;

  memset (ret, 0, sizeof (*ret));
  if (!copy)
    return moat_error (err, MOAT_E_IO, ENOMEM, "grant");
  for (w = strtok_r (copy, " \t", &save); w; w = strtok_r (NULL, " \t", &save))
    {
      if (n == GRANT_WORDS_MAX)
        return bad_grant (err, "grant \"%s\": too many words", text);
      words[n++] = w;
    }
  return moat_grant_parse (words, n, ret, err);
}

int
moat_ttl_parse (const char *text, int64_t *ret_seconds, moat_err_t *err)
{
  char *end = NULL;
  long long v;
  int64_t unit = 1;

  errno = 0;
  v = isdigit ((unsigned char)text[0]) ? strtoll (text, &end, 10) : -1;
  if (v >= 0 && end && *end && !end[1])
    switch (*end)
      {
      case 's':
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      default:
        v = -1;
      }
  else if (v >= 0 && end && *end)
    v = -1;
  if (v <= 0 || errno || v > MOAT_GRANT_TTL_MAX / unit)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "--ttl \"%s\": want a duration like 30s, 10m, 1h (at most 366d)", text);
  *ret_seconds = v * unit;
  return 0;
}

void
moat_grant_words (const struct moat_grant *g, char *buf, size_t size)
{
  char text[96];

  switch (g->kind)
    {
    case MOAT_GRANT_HOST:
      moat_ports_format (&g->ports, text, sizeof (text));
      snprintf (buf, size, "host %s", text);
      break;
    case MOAT_GRANT_EGRESS:
      moat_acl_format (&g->acl, text, sizeof (text));
      snprintf (buf, size, "egress %s", text);
      break;
    case MOAT_GRANT_PEER:
      snprintf (buf, size, "peer %s", g->peer ? g->peer : "");
      break;
    case MOAT_GRANT_INGRESS:
      moat_acl_format (&g->acl, text, sizeof (text));
      snprintf (buf, size, "ingress %s", text);
      break;
    }
}

void
moat_grant_label (const struct moat_grant *g, const char *peer_name, char *buf, size_t size)
{
  if (g->kind != MOAT_GRANT_PEER)
    {
      moat_grant_words (g, buf, size);
      return;
    }
  if (peer_name && *peer_name)
    snprintf (buf, size, "peer %s", peer_name);
  else
    snprintf (buf, size, "peer %.12s", g->peer ? g->peer : "");
}

void
moat_grant_time_left (int64_t seconds, char *buf, size_t size)
{
  snprintf (buf, size, "expires in %lld s", (long long)seconds);
}

/* proto . port as intervals, as the kernel keys them (nft.c). */
static bool
ports_overlap (const struct moat_ports *a, const struct moat_ports *b)
{
  unsigned alo = a->lo ? a->lo : 0, ahi = a->lo ? a->hi : 65535;
  unsigned blo = b->lo ? b->lo : 0, bhi = b->lo ? b->hi : 65535;
  bool proto = !a->proto || !b->proto || a->proto == b->proto;

  return proto && alo <= bhi && blo <= ahi;
}

bool
moat_grant_overlaps (const struct moat_grant *a, const struct moat_grant *b)
{
  if (a->kind != b->kind || a->kind == MOAT_GRANT_PEER)
    return false;
  if (a->kind == MOAT_GRANT_HOST)
    return ports_overlap (&a->ports, &b->ports);
  return moat_acl_addr_overlaps (&a->acl, &b->acl) && ports_overlap (&a->acl.ports, &b->acl.ports);
}

json_t *
moat_grant_to_json (const struct moat_grant *g)
{
  char words[MOAT_GRANT_WORDS_MAX], peer[INET_ADDRSTRLEN];

  moat_grant_words (g, words, sizeof (words));
  inet_ntop (AF_INET, &g->peer_addr, peer, sizeof (peer));
  return json_pack ("{s:s, s:o*, s:s*, s:s*, s:s*}", "grant", words, "expires",
                    g->expires ? json_integer (g->expires) : NULL, "peerAddress",
                    g->kind == MOAT_GRANT_PEER ? peer : NULL, "by", g->by, "token", g->token);
}

int
moat_grant_from_json (json_t *j, struct moat_grant *ret, moat_err_t *err)
{
  const char *words = json_string_value (json_object_get (j, "grant"));
  const char *peer = json_string_value (json_object_get (j, "peerAddress"));
  const char *by = json_string_value (json_object_get (j, "by"));
  const char *token = json_string_value (json_object_get (j, "token"));
  json_t *expires = json_object_get (j, "expires");

  if (!words || moat_grant_parse_text (words, ret, err) < 0)
    return moat_error (err, MOAT_E_STATE, 0, "malformed grant in record");
  if ((expires && !json_is_integer (expires))
      || (ret->kind == MOAT_GRANT_PEER
          && (!peer || inet_pton (AF_INET, peer, &ret->peer_addr) != 1)))
    {
      moat_grant_free (ret);
      return moat_error (err, MOAT_E_STATE, 0, "malformed grant \"%s\" in record", words);
    }
  ret->expires = expires ? json_integer_value (expires) : 0;
  if ((by && !(ret->by = strdup (by))) || (token && !(ret->token = strdup (token))))
    {
      moat_grant_free (ret);
      return moat_error (err, MOAT_E_IO, ENOMEM, "grant");
    }
  return 0;
}

bool
moat_grant_live (const struct moat_grant *g, int64_t now)
{
  return !g->expires || g->expires > now;
}

uint64_t
moat_grant_timeout_ms (int64_t expires, int64_t now)
{
  int64_t left;

  if (expires <= now)
    return 0;
  if (__builtin_sub_overflow (expires, now, &left) || left > MOAT_GRANT_TTL_MAX)
    left = MOAT_GRANT_TTL_MAX;
  return (uint64_t)left * 1000;
}

int
moat_grant_elems (const struct moat_grant *g, struct in_addr addr, int64_t now, bool revoke,
                  struct moat_nft_elems *out)
{
  uint64_t timeout_ms = g->expires ? moat_grant_timeout_ms (g->expires, now) : MOAT_GRANT_NEVER_MS;

  if (revoke)
    timeout_ms = MOAT_GRANT_REVOKED_MS;
  else if (g->expires && g->expires <= now)
    return 0;
  switch (g->kind)
    {
    case MOAT_GRANT_HOST:
      return moat_nft_elems_grant_host (out, addr, &g->ports, timeout_ms);
    case MOAT_GRANT_EGRESS:
      return moat_nft_elems_grant_egress (out, addr, &g->acl, timeout_ms);
    case MOAT_GRANT_PEER:
      return moat_nft_elems_grant_peer (out, addr, g->peer_addr, timeout_ms);
    case MOAT_GRANT_INGRESS:
      return moat_nft_elems_grant_ingress (out, addr, &g->acl, timeout_ms);
    }
  return 0;
}
