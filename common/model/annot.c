/* SPDX-License-Identifier: Apache-2.0 */
/* io.moat.* annotations: the grammar (annot.h). The MOAT_* environment is in
 * annotenv.c, selector evaluation in selector.c, copies in annotdup.c. */
#include "model/annot.h"
#include "model/hosts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cleanup.h"
#include "base/ip6.h"

#define PORT_TEXT_MAX 16 /* digits of a bad port quoted in a message */

/* ---- text helpers ---- */

static bool
is_blank (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool
is_alnum (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool
is_name_char (char c)
{
  return is_alnum (c) || c == '.' || c == '_' || c == '-';
}

static bool
is_prefix_char (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

/* Cuts the blanks off both ends of s, in place. */
static char *
trim (char *s)
{
  char *end;

  while (is_blank (*s))
    s++;
  end = s + strlen (s);
  while (end > s && is_blank (end[-1]))
    end--;
  *end = '\0';
  return s;
}

/* A copy of user text fit for a one-line message: at most CLIP_CHARS
 * characters, other than printable ASCII as \xNN, "..." when cut. */
#define CLIP_CHARS 64
struct clip
{
  char s[CLIP_CHARS * 4 + 4];
};

static const char *
clip_len (const char *s, size_t len, struct clip *c)
{
  size_t o = 0, i;

  for (i = 0; i < len && i < CLIP_CHARS; i++)
    {
      unsigned char ch = s[i];
      if (ch >= 0x20 && ch < 0x7f && ch != '\\')
        c->s[o++] = ch;
      else
        o += snprintf (c->s + o, sizeof (c->s) - o, "\\x%02x", ch);
    }
  if (i < len)
    o += snprintf (c->s + o, sizeof (c->s) - o, "...");
  c->s[o] = '\0';
  return c->s;
}

#define CLIP(s) clip_len ((s), strlen (s), &(struct clip){ { 0 } })
#define CLIPN(s, n) clip_len ((s), (n), &(struct clip){ { 0 } })

/* "'$'" for a printable character, "byte 0x0a" for any other. */
struct chardesc
{
  char s[16];
};

static const char *
describe_char (char c, struct chardesc *d)
{
  unsigned char u = c;

  if (u >= 0x20 && u < 0x7f)
    snprintf (d->s, sizeof (d->s), "'%c'", u);
  else
    snprintf (d->s, sizeof (d->s), "byte 0x%02x", u);
  return d->s;
}

#define DESCRIBE(c) describe_char ((c), &(struct chardesc){ { 0 } })

/* Every malformed annotation is MOAT_E_CONFIG. */
#define malformed(err, ...) moat_error ((err), MOAT_E_CONFIG, 0, __VA_ARGS__)

/* ---- lists ---- */

/* A value cut at every character of `seps`, each piece trimmed; pieces
 * point into buf. */
struct list
{
  char *buf;
  char **items;
  size_t n;
};

static void
list_free (struct list *l)
{
  free (l->buf);
  free (l->items);
  memset (l, 0, sizeof (*l));
}

static int
list_split (const char *s, const char *seps, struct list *ret)
{
  size_t n = 1;
  char *p;

  memset (ret, 0, sizeof (*ret));
  for (const char *q = s; *q; q++)
    n += strchr (seps, *q) != NULL;
  ret->buf = strdup (s);
  ret->items = calloc (n, sizeof (*ret->items));
  if (!ret->buf || !ret->items)
    {
      list_free (ret);
      return -1;
    }
  p = ret->buf;
  for (;;)
    {
      char *end = p + strcspn (p, seps);
      bool last = !*end;

      *end = '\0';
      ret->items[ret->n++] = trim (p);
      if (last)
        break;
      p = end + 1;
    }
  return 0;
}

/* The top-level list of an annotation, items separated by ',' or ';'
 * (MOAT_ANNOT_SEPARATORS): at most MOAT_ANNOT_MAX_ITEMS items, none
 * empty. */
static int
split_items (const char *key, const char *value, struct list *ret, moat_err_t *err)
{
  if (list_split (value, MOAT_ANNOT_SEPARATORS, ret) < 0)
    return moat_error_nomem (err, key);
  if (ret->n > MOAT_ANNOT_MAX_ITEMS)
    {
      size_t n = ret->n;
      list_free (ret);
      return malformed (err, "%s: %zu items, more than %d", key, n, MOAT_ANNOT_MAX_ITEMS);
    }
  for (size_t i = 0; i < ret->n; i++)
    if (!*ret->items[i])
      {
        list_free (ret);
        return malformed (err, "%s: item %zu is empty", key, i + 1);
      }
  return 0;
}

/* ---- labels ---- */

const char *
moat_label_key_problem (const char *k, char *why, size_t size)
{
  const char *slash = strchr (k, '/');
  const char *name = slash ? slash + 1 : k;
  size_t name_len;

  if (slash)
    {
      if (slash == k)
        return "empty prefix before '/'";
      if ((size_t)(slash - k) > MOAT_LABEL_PREFIX_MAX)
        return "prefix longer than 253 characters";
      for (const char *p = k; p < slash; p++)
        if (!is_prefix_char (*p))
          {
            snprintf (why, size, "prefix character %s not allowed (want a-z 0-9 . -)",
                      DESCRIBE (*p));
            return why;
          }
      if (strchr (name, '/'))
        return "more than one '/'";
      if (!*name)
        return "empty name after '/'";
    }
  name_len = strlen (name);
  if (name_len == 0)
    return "empty";
  if (name_len > MOAT_LABEL_NAME_MAX)
    return slash ? "name longer than 63 characters" : "longer than 63 characters";
  for (const char *p = name; *p; p++)
    if (!is_name_char (*p))
      {
        snprintf (why, size, "character %s not allowed (want A-Z a-z 0-9 . _ -)", DESCRIBE (*p));
        return why;
      }
  return NULL;
}

const char *
moat_label_value_problem (const char *v, char *why, size_t size)
{
  if (strlen (v) > MOAT_LABEL_VALUE_MAX)
    return "longer than 63 characters";
  for (const char *p = v; *p; p++)
    if (!is_name_char (*p))
      {
        snprintf (why, size, "character %s not allowed (want A-Z a-z 0-9 . _ -)", DESCRIBE (*p));
        return why;
      }
  return NULL;
}

static int
check_label_key (const char *key, const char *item, const char *k, moat_err_t *err)
{
  char why[128];
  const char *problem = moat_label_key_problem (k, why, sizeof (why));

  if (problem)
    return malformed (err, "%s: \"%s\": key \"%s\": %s", key, CLIP (item), CLIP (k), problem);
  return 0;
}

static int
check_label_value (const char *key, const char *item, const char *v, moat_err_t *err)
{
  char why[128];
  const char *problem = moat_label_value_problem (v, why, sizeof (why));

  if (problem)
    return malformed (err, "%s: \"%s\": value \"%s\": %s", key, CLIP (item), CLIP (v), problem);
  return 0;
}

static void
label_free (struct moat_label *l)
{
  free (l->key);
  free (l->value);
}

static int
parse_label (const char *key, const char *item, struct moat_label *ret, moat_err_t *err)
{
  const char *eq = strchr (item, '=');
  _cleanup_free_ char *k = NULL;
  _cleanup_free_ char *v = NULL;

  if (!eq)
    return malformed (err, "%s: \"%s\": expected key=value", key, CLIP (item));
  k = strndup (item, eq - item);
  v = strdup (eq + 1);
  if (!k || !v)
    return moat_error_nomem (err, key);
  if (check_label_key (key, item, k, err) < 0 || check_label_value (key, item, v, err) < 0)
    return -1;
  ret->key = TAKE_PTR (k);
  ret->value = TAKE_PTR (v);
  return 0;
}

static int
parse_labels (const char *key, const char *value, struct moat_annotations *a, moat_err_t *err)
{
  _cleanup_ (list_free) struct list l = { 0 };

  if (split_items (key, value, &l, err) < 0)
    return -1;
  a->labels = calloc (l.n, sizeof (*a->labels));
  if (!a->labels)
    return moat_error_nomem (err, key);
  for (size_t i = 0; i < l.n; i++)
    {
      struct moat_label label;

      if (parse_label (key, l.items[i], &label, err) < 0)
        return -1;
      for (size_t j = 0; j < a->n_labels; j++)
        if (strcmp (a->labels[j].key, label.key) == 0)
          {
            malformed (err, "%s: duplicate key \"%s\"", key, CLIP (label.key));
            label_free (&label);
            return -1;
          }
      a->labels[a->n_labels++] = label;
    }
  return 0;
}

/* ---- selectors ---- */

static void
term_free (struct moat_sel_term *t)
{
  free (t->key);
  free (t->value);
}

static void
selector_free (struct moat_selector *s)
{
  for (size_t i = 0; i < s->n_terms; i++)
    term_free (&s->terms[i]);
  free (s->terms);
  memset (s, 0, sizeof (*s));
}

static void
selectors_free (struct moat_selector *sels, size_t n)
{
  for (size_t i = 0; i < n; i++)
    selector_free (&sels[i]);
  free (sels);
}

static bool
str_equal (const char *a, const char *b)
{
  return a == b || (a && b && strcmp (a, b) == 0);
}

static bool
term_equal (const struct moat_sel_term *a, const struct moat_sel_term *b)
{
  return a->op == b->op && strcmp (a->key, b->key) == 0 && str_equal (a->value, b->value);
}

static bool
selector_has_term (const struct moat_selector *s, const struct moat_sel_term *t)
{
  for (size_t i = 0; i < s->n_terms; i++)
    if (term_equal (&s->terms[i], t))
      return true;
  return false;
}

/* Equal as sets of terms (terms within one selector are distinct). */
static bool
selector_equal (const struct moat_selector *a, const struct moat_selector *b)
{
  if (a->n_terms != b->n_terms)
    return false;
  for (size_t i = 0; i < a->n_terms; i++)
    if (!selector_has_term (b, &a->terms[i]))
      return false;
  return true;
}

/* One term t of selector `item`: key=value, key!=value, key or !key. */
static int
parse_term (const char *key, const char *item, const char *t, struct moat_sel_term *ret,
            moat_err_t *err)
{
  const char *eq = strchr (t, '=');
  const char *key_end = eq ? eq : t + strlen (t);
  const char *key_start = t;
  _cleanup_free_ char *k = NULL;
  _cleanup_free_ char *v = NULL;

  if (eq && eq > t && eq[-1] == '!')
    {
      ret->op = MOAT_SEL_NE;
      key_end = eq - 1;
    }
  else if (t[0] == '!')
    {
      if (eq)
        return malformed (err, "%s: \"%s\": \"%s\": !key takes no value (write key!=value)", key,
                          CLIP (item), CLIP (t));
      ret->op = MOAT_SEL_ABSENT;
      key_start = t + 1;
    }
  else
    ret->op = eq ? MOAT_SEL_EQ : MOAT_SEL_EXISTS;

  k = strndup (key_start, key_end - key_start);
  if (!k || (eq && !(v = strdup (eq + 1))))
    return moat_error_nomem (err, key);
  /* A selector may also name a system label: "@sys:" and a label name. */
  if (check_label_key (key, item, strncmp (k, "@sys:", 5) == 0 && k[5] ? k + 5 : k, err) < 0
      || (v && check_label_value (key, item, v, err) < 0))
    return -1;
  ret->key = TAKE_PTR (k);
  ret->value = TAKE_PTR (v);
  return 0;
}

/* One selector: terms joined by '&'; a repeated term is collapsed. */
static int
parse_selector (const char *key, const char *item, struct moat_selector *ret, moat_err_t *err)
{
  _cleanup_ (list_free) struct list l = { 0 };
  _cleanup_ (selector_free) struct moat_selector s = { 0 };

  if (list_split (item, "&", &l) < 0)
    return moat_error_nomem (err, key);
  if (l.n > MOAT_SEL_MAX_TERMS)
    return malformed (err, "%s: \"%s\": %zu terms, more than %d", key, CLIP (item), l.n,
                      MOAT_SEL_MAX_TERMS);
  s.terms = calloc (l.n, sizeof (*s.terms));
  if (!s.terms)
    return moat_error_nomem (err, key);
  for (size_t i = 0; i < l.n; i++)
    {
      struct moat_sel_term t;

      if (!*l.items[i])
        return malformed (err, "%s: \"%s\": term %zu is empty", key, CLIP (item), i + 1);
      if (parse_term (key, item, l.items[i], &t, err) < 0)
        return -1;
      if (selector_has_term (&s, &t))
        term_free (&t);
      else
        s.terms[s.n_terms++] = t;
    }
  *ret = s;
  memset (&s, 0, sizeof (s));
  return 0;
}

static int
parse_selectors (const char *key, const char *value, struct moat_selector **ret_sels, size_t *ret_n,
                 moat_err_t *err)
{
  _cleanup_ (list_free) struct list l = { 0 };

  if (split_items (key, value, &l, err) < 0)
    return -1;
  *ret_sels = calloc (l.n, sizeof (**ret_sels));
  if (!*ret_sels)
    return moat_error_nomem (err, key);
  for (size_t i = 0; i < l.n; i++)
    {
      struct moat_selector s;
      bool repeated = false;

      if (parse_selector (key, l.items[i], &s, err) < 0)
        return -1;
      for (size_t j = 0; j < *ret_n && !repeated; j++)
        repeated = selector_equal (&(*ret_sels)[j], &s);
      if (repeated)
        selector_free (&s);
      else
        (*ret_sels)[(*ret_n)++] = s;
    }
  return 0;
}

static int
parse_depends (const char *key, const char *value, struct moat_annotations *a, moat_err_t *err)
{
  a->have_depends = true;
  return parse_selectors (key, value, &a->depends, &a->n_depends, err);
}

static int
parse_expose (const char *key, const char *value, struct moat_annotations *a, moat_err_t *err)
{
  a->have_expose = true;
  return parse_selectors (key, value, &a->expose, &a->n_expose, err);
}

/* ---- ports ---- */

/* s[0..len) of `item`: a decimal port, 1-65535. */
static int
parse_port (const char *key, const char *item, const char *s, size_t len, uint16_t *ret,
            moat_err_t *err)
{
  unsigned long n = 0;

  if (len == 0)
    return malformed (err, "%s: \"%s\": missing port", key, CLIP (item));
  for (size_t i = 0; i < len; i++)
    {
      if (s[i] < '0' || s[i] > '9')
        return malformed (err, "%s: \"%s\": port \"%s\" is not a number", key, CLIP (item),
                          CLIPN (s, len));
      if (n <= 65535)
        n = n * 10 + (s[i] - '0');
    }
  if (n < 1 || n > 65535)
    return malformed (err, "%s: port %.*s%s out of range (1-65535)", key,
                      (int)(len > PORT_TEXT_MAX ? PORT_TEXT_MAX : len), s,
                      len > PORT_TEXT_MAX ? "..." : "");
  *ret = (uint16_t)n;
  return 0;
}

/* "PORT" or "LO-HI" of `item`. */
static int
parse_port_range (const char *key, const char *item, const char *s, struct moat_ports *ret,
                  moat_err_t *err)
{
  const char *dash = strchr (s, '-');

  if (parse_port (key, item, s, dash ? (size_t)(dash - s) : strlen (s), &ret->lo, err) < 0)
    return -1;
  if (!dash)
    {
      ret->hi = ret->lo;
      return 0;
    }
  if (parse_port (key, item, dash + 1, strlen (dash + 1), &ret->hi, err) < 0)
    return -1;
  if (ret->lo > ret->hi)
    return malformed (err, "%s: \"%s\": range reversed (%u > %u)", key, CLIP (item), ret->lo,
                      ret->hi);
  return 0;
}

static bool
word_is (const char *s, size_t len, const char *word)
{
  return strlen (word) == len && strncasecmp (s, word, len) == 0;
}

/* s, part of `item`: tcp/PORT[-PORT] or udp/PORT[-PORT]; with
 * `any_proto`, also icmp and any. */
static int
parse_ports (const char *key, const char *item, const char *s, bool any_proto,
             struct moat_ports *ret, moat_err_t *err)
{
  const char *slash = strchr (s, '/');
  size_t len = slash ? (size_t)(slash - s) : strlen (s);

  memset (ret, 0, sizeof (*ret));
  if (word_is (s, len, "tcp") || word_is (s, len, "udp"))
    {
      ret->proto = word_is (s, len, "tcp") ? IPPROTO_TCP : IPPROTO_UDP;
      if (!slash)
        return malformed (err, "%s: \"%s\": %.*s needs a port (%.*s/PORT or %.*s/LO-HI)", key,
                          CLIP (item), (int)len, s, (int)len, s, (int)len, s);
      return parse_port_range (key, item, slash + 1, ret, err);
    }
  if (any_proto && (word_is (s, len, "icmp") || word_is (s, len, "any")))
    {
      ret->proto = word_is (s, len, "icmp") ? IPPROTO_ICMP : 0;
      if (slash)
        return malformed (err, "%s: \"%s\": %.*s takes no port", key, CLIP (item), (int)len, s);
      return 0;
    }
  return malformed (err, "%s: \"%s\": protocol \"%s\" is not %s", key, CLIP (item), CLIPN (s, len),
                    any_proto ? "tcp, udp, icmp or any" : "tcp or udp");
}

static bool
ports_equal (const struct moat_ports *a, const struct moat_ports *b)
{
  return a->proto == b->proto && a->lo == b->lo && a->hi == b->hi;
}

static int
parse_allow_host (const char *key, const char *value, struct moat_annotations *a, moat_err_t *err)
{
  _cleanup_ (list_free) struct list l = { 0 };

  if (split_items (key, value, &l, err) < 0)
    return -1;
  a->allow_host = calloc (l.n, sizeof (*a->allow_host));
  if (!a->allow_host)
    return moat_error_nomem (err, key);
  for (size_t i = 0; i < l.n; i++)
    {
      struct moat_ports p;
      bool repeated = false;

      if (parse_ports (key, l.items[i], l.items[i], false, &p, err) < 0)
        return -1;
      for (size_t j = 0; j < a->n_allow_host && !repeated; j++)
        repeated = ports_equal (&a->allow_host[j], &p);
      if (!repeated)
        a->allow_host[a->n_allow_host++] = p;
    }
  return 0;
}

/* ---- egress, ingress ---- */

/* s[0..len) of `item`: an IPv4 or IPv6 address or CIDR (acladdr.c). */
static int
parse_acl_addr (const char *key, const char *item, const char *s, size_t len, struct moat_acl *ret,
                moat_err_t *err)
{
  char why[160];
  int r = moat_acl_addr_parse (s, len, ret, why, sizeof (why));

  if (r == -2)
    return malformed (err, "%s: \"%s\": %s", key, CLIP (item), why);
  if (r < 0)
    return malformed (err, "%s: \"%s\": \"%s\" is not an IPv4 or IPv6 address or CIDR", key,
                      CLIP (item), CLIPN (s, len));
  return 0;
}

/* "ADDR PORTS". */
static int
parse_acl (const char *key, const char *item, struct moat_acl *ret, moat_err_t *err)
{
  size_t addr_len = 0;
  const char *ports;

  while (item[addr_len] && !is_blank (item[addr_len]))
    addr_len++;
  ports = item + addr_len;
  while (is_blank (*ports))
    ports++;
  if (!*ports || strpbrk (ports, " \t\n\r\v\f"))
    return malformed (err, "%s: \"%s\": expected ADDR PORTS (e.g. 10.0.0.0/8 tcp/443)", key,
                      CLIP (item));
  memset (ret, 0, sizeof (*ret));
  if (parse_acl_addr (key, item, item, addr_len, ret, err) < 0)
    return -1;
  return parse_ports (key, item, ports, true, &ret->ports, err);
}

int
moat_ports_parse (const char *what, const char *text, bool any_proto, struct moat_ports *ret,
                  moat_err_t *err)
{
  return parse_ports (what, text, text, any_proto, ret, err);
}

int
moat_acl_parse (const char *what, const char *text, struct moat_acl *ret, moat_err_t *err)
{
  return parse_acl (what, text, ret, err);
}

static const char *
proto_name (uint8_t proto)
{
  switch (proto)
    {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_ICMP:
      return "icmp";
    default:
      return "any";
    }
}

void
moat_ports_format (const struct moat_ports *p, char *buf, size_t size)
{
  if (!p->lo)
    snprintf (buf, size, "%s", proto_name (p->proto));
  else if (p->lo == p->hi)
    snprintf (buf, size, "%s/%u", proto_name (p->proto), p->lo);
  else
    snprintf (buf, size, "%s/%u-%u", proto_name (p->proto), p->lo, p->hi);
}

void
moat_acl_format (const struct moat_acl *acl, char *buf, size_t size)
{
  char addr[INET6_ADDRSTRLEN + 4], ports[32];

  moat_acl_addr_format (acl, addr, sizeof (addr));
  moat_ports_format (&acl->ports, ports, sizeof (ports));
  snprintf (buf, size, "%s %s", addr, ports);
}

static bool
acl_equal (const struct moat_acl *a, const struct moat_acl *b)
{
  return moat_acl_addr_equal (a, b) && ports_equal (&a->ports, &b->ports);
}

static int
parse_acls (const char *key, const char *value, struct moat_acl **ret_acls, size_t *ret_n,
            moat_err_t *err)
{
  _cleanup_ (list_free) struct list l = { 0 };

  if (split_items (key, value, &l, err) < 0)
    return -1;
  *ret_acls = calloc (l.n, sizeof (**ret_acls));
  if (!*ret_acls)
    return moat_error_nomem (err, key);
  for (size_t i = 0; i < l.n; i++)
    {
      struct moat_acl acl;
      bool repeated = false;

      if (parse_acl (key, l.items[i], &acl, err) < 0)
        return -1;
      for (size_t j = 0; j < *ret_n && !repeated; j++)
        repeated = acl_equal (&(*ret_acls)[j], &acl);
      if (!repeated)
        (*ret_acls)[(*ret_n)++] = acl;
    }
  return 0;
}

static int
parse_egress (const char *key, const char *value, struct moat_annotations *a, moat_err_t *err)
{
  return parse_acls (key, value, &a->egress, &a->n_egress, err);
}

static int
parse_ingress (const char *key, const char *value, struct moat_annotations *a, moat_err_t *err)
{
  return parse_acls (key, value, &a->ingress, &a->n_ingress, err);
}

/* ---- single values ---- */

static int
parse_internet (const char *key, const char *value, struct moat_annotations *a, moat_err_t *err)
{
  if (strcmp (value, "true") == 0)
    a->internet = true;
  else if (strcmp (value, "false") == 0)
    a->internet = false;
  else
    return malformed (err, "%s: \"%s\": want true or false", key, CLIP (value));
  a->have_internet = true;
  return 0;
}

/* 0.0.0.0/8, multicast, class E and broadcast are no place for a proxy. */
static bool
ipv4_unicast (struct in_addr addr)
{
  uint32_t h = ntohl (addr.s_addr);

  return (h >> 24) != 0 && h < 0xe0000000u;
}

static int
parse_proxy_ports (const char *key, const char *value, const char *s, struct moat_annotations *a,
                   moat_err_t *err)
{
  _cleanup_ (list_free) struct list l = { 0 };

  if (list_split (s, "+", &l) < 0)
    return moat_error_nomem (err, key);
  if (l.n > MOAT_ANNOT_MAX_ITEMS)
    return malformed (err, "%s: %zu intercepted ports, more than %d", key, l.n,
                      MOAT_ANNOT_MAX_ITEMS);
  a->proxy_ports = calloc (l.n, sizeof (*a->proxy_ports));
  if (!a->proxy_ports)
    return moat_error_nomem (err, key);
  for (size_t i = 0; i < l.n; i++)
    {
      uint16_t port;
      bool repeated = false;

      if (parse_port (key, value, l.items[i], strlen (l.items[i]), &port, err) < 0)
        return -1;
      for (size_t j = 0; j < a->n_proxy_ports && !repeated; j++)
        repeated = a->proxy_ports[j] == port;
      if (!repeated)
        a->proxy_ports[a->n_proxy_ports++] = port;
    }
  return 0;
}

/* A proxy's IPv6 address: unicast, neither loopback (the kernel cannot
 * DNAT to ::1) nor link-local (no scope to send it to). */
static bool
ipv6_proxy_ok (const struct in6_addr *a)
{
  return !IN6_IS_ADDR_UNSPECIFIED (a) && !IN6_IS_ADDR_LOOPBACK (a) && !IN6_IS_ADDR_MULTICAST (a)
         && !IN6_IS_ADDR_LINKLOCAL (a) && !IN6_IS_ADDR_V4MAPPED (a);
}

/* "[ADDR]" of "[ADDR]:PORT" into a->proxy_addr6; the colon after it in
 * *ret_colon. */
static int
parse_proxy6 (const char *key, const char *value, size_t head_len, struct moat_annotations *a,
              const char **ret_colon, moat_err_t *err)
{
  const char *close = memchr (value, ']', head_len);
  char ip[INET6_ADDRSTRLEN];

  if (!close || close[1] != ':')
    return malformed (err, "%s: \"%s\": expected [IPV6]:PORT", key, CLIP (value));
  if ((size_t)(close - value - 1) >= sizeof (ip))
    return malformed (err, "%s: \"%s\": not an IPv6 address in brackets", key, CLIP (value));
  memcpy (ip, value + 1, close - value - 1);
  ip[close - value - 1] = '\0';
  if (moat_parse_ipv6 (ip, &a->proxy_addr6) < 0)
    return malformed (err, "%s: \"%s\": \"%s\" is not an IPv6 address", key, CLIP (value),
                      CLIP (ip));
  if (!ipv6_proxy_ok (&a->proxy_addr6))
    return malformed (err, "%s: \"%s\": %s is not a global or unique-local unicast address", key,
                      CLIP (value), ip);
  a->proxy_v6 = true;
  *ret_colon = close + 1;
  return 0;
}

/* IP:PORT or [IPV6]:PORT, then optionally PORT+PORT... */
static int
parse_proxy (const char *key, const char *value, struct moat_annotations *a, moat_err_t *err)
{
  size_t head_len = 0;
  const char *colon = NULL, *rest;
  char ip[INET_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN];

  while (value[head_len] && !is_blank (value[head_len]))
    head_len++;
  rest = value + head_len;
  while (is_blank (*rest))
    rest++;
  if (value[0] == '[')
    {
      if (parse_proxy6 (key, value, head_len, a, &colon, err) < 0)
        return -1;
      goto port;
    }
  colon = memrchr (value, ':', head_len);
  if (!colon)
    return malformed (err, "%s: \"%s\": expected IP:PORT, then optionally ports like 80+443", key,
                      CLIP (value));
  if ((size_t)(colon - value) >= sizeof (ip))
    goto bad_ip;
  memcpy (ip, value, colon - value);
  ip[colon - value] = '\0';
  if (moat_parse_ipv4 (ip, &a->proxy_addr) < 0)
    goto bad_ip;
  if (!ipv4_unicast (a->proxy_addr))
    return malformed (err, "%s: \"%s\": %s is not a unicast address", key, CLIP (value), ip);
port:
  if (parse_port (key, value, colon + 1, head_len - (colon + 1 - value), &a->proxy_port, err) < 0)
    return -1;
  if (parse_proxy_ports (key, value, *rest ? rest : "80", a, err) < 0)
    return -1;
  a->have_proxy = true;
  return 0;

bad_ip:
  /* x::y:PORT: an IPv6 address needs its brackets, as in a URL. */
  if ((size_t)(colon - value) < sizeof (ip6) && memcpy (ip6, value, colon - value)
      && (ip6[colon - value] = '\0', moat_parse_ipv6 (ip6, &a->proxy_addr6) == 0))
    return malformed (err, "%s: \"%s\": an IPv6 proxy is written [ADDR]:PORT", key, CLIP (value));
  return malformed (err, "%s: \"%s\": \"%s\" is not an IPv4 address", key, CLIP (value),
                    CLIPN (value, colon - value));
}

const char *
moat_proxy_addr_text (const struct moat_annotations *a, char buf[INET6_ADDRSTRLEN])
{
  return a->proxy_v6 ? inet_ntop (AF_INET6, &a->proxy_addr6, buf, INET6_ADDRSTRLEN)
                     : inet_ntop (AF_INET, &a->proxy_addr, buf, INET6_ADDRSTRLEN);
}

static const char *
name_problem (const char *s, size_t max, bool alnum_first, char *why, size_t size)
{
  size_t len = strlen (s);

  if (len > max)
    {
      snprintf (why, size, "longer than %zu characters", max);
      return why;
    }
  if (alnum_first && !is_alnum (s[0]))
    return "must start with a letter or digit";
  for (const char *p = s; *p; p++)
    if (!is_name_char (*p))
      {
        snprintf (why, size, "character %s not allowed (want A-Z a-z 0-9 . _ -)", DESCRIBE (*p));
        return why;
      }
  return NULL;
}

static int
parse_name (const char *key, const char *value, size_t max, bool alnum_first, char **ret,
            moat_err_t *err)
{
  char why[128];
  const char *problem = name_problem (value, max, alnum_first, why, sizeof (why));

  if (problem)
    return malformed (err, "%s: \"%s\": %s", key, CLIP (value), problem);
  *ret = strdup (value);
  return *ret ? 0 : moat_error_nomem (err, key);
}

static int
parse_policy (const char *key, const char *value, struct moat_annotations *a, moat_err_t *err)
{
  return parse_name (key, value, MOAT_POLICY_NAME_MAX, false, &a->policy, err);
}

static int
parse_network (const char *key, const char *value, struct moat_annotations *a, moat_err_t *err)
{
  return parse_name (key, value, MOAT_NETWORK_NAME_MAX, true, &a->network, err);
}

static int
parse_dns_name (const char *key, const char *value, struct moat_annotations *a, moat_err_t *err)
{
  if (!moat_dns_label_valid (value))
    return malformed (err,
                      "%s: \"%s\" is not a DNS label (1-63 letters, digits, '-' or '_', not "
                      "starting or ending with '-')",
                      key, CLIP (value));
  a->name = strdup (value);
  return a->name ? 0 : moat_error_nomem (err, key);
}

static int
parse_aliases (const char *key, const char *value, struct moat_annotations *a, moat_err_t *err)
{
  return moat_aliases_from_text (key, value, &a->aliases, err);
}

static int
parse_ip (const char *key, const char *value, struct moat_annotations *a, moat_err_t *err)
{
  if (moat_parse_ipv4 (value, &a->ip) < 0)
    return malformed (err, "%s: \"%s\" is not an IPv4 address", key, CLIP (value));
  a->have_ip = true;
  return 0;
}

static int
parse_publish (const char *key, const char *value, struct moat_annotations *a, moat_err_t *err)
{
  if (moat_publish_parse_text (key, value, &a->publish, err) < 0)
    return -1;
  if (moat_publish_check (key, &a->publish, err) < 0)
    {
      moat_publish_list_free (&a->publish);
      return -1;
    }
  return 0;
}

/* ---- the annotations object ---- */

typedef int (*annotation_parser) (const char *key, const char *value, struct moat_annotations *a,
                                  moat_err_t *err);

static const struct
{
  const char *key;
  annotation_parser parse;
} known_annotations[] = {
  { MOAT_ANNOT_PREFIX "labels", parse_labels },
  { MOAT_ANNOT_PREFIX "depends", parse_depends },
  { MOAT_ANNOT_PREFIX "expose", parse_expose },
  { MOAT_ANNOT_PREFIX "allow-host", parse_allow_host },
  { MOAT_ANNOT_PREFIX "egress", parse_egress },
  { MOAT_ANNOT_PREFIX "ingress", parse_ingress },
  { MOAT_ANNOT_PREFIX "internet", parse_internet },
  { MOAT_ANNOT_PREFIX "proxy", parse_proxy },
  { MOAT_ANNOT_PREFIX "policy", parse_policy },
  { MOAT_ANNOT_PREFIX "network", parse_network },
  { MOAT_ANNOT_PREFIX "name", parse_dns_name },
  { MOAT_ANNOT_PREFIX "aliases", parse_aliases },
  { MOAT_ANNOT_PREFIX "ip", parse_ip },
  { MOAT_ANNOT_PREFIX "publish", parse_publish },
};

static bool
is_moat_key (const char *key)
{
  return strncasecmp (key, MOAT_ANNOT_PREFIX, strlen (MOAT_ANNOT_PREFIX)) == 0;
}

static int
unknown_annotation (const char *key, moat_err_t *err)
{
  char known[512];
  size_t o = 0;

  known[0] = '\0';
  for (size_t i = 0; i < ARRAY_SIZE (known_annotations); i++)
    o += snprintf (known + o, sizeof (known) - o, "%s%s", i ? ", " : "", known_annotations[i].key);
  return malformed (err, "%s: unknown annotation (known: %s)", CLIP (key), known);
}

static int
parse_annotation (const char *key, json_t *v, struct moat_annotations *a, moat_err_t *err)
{
  _cleanup_free_ char *copy = NULL;
  const char *value;

  for (size_t i = 0; i < ARRAY_SIZE (known_annotations); i++)
    {
      if (strcmp (key, known_annotations[i].key) != 0)
        continue;
      if (!json_is_string (v))
        return malformed (err, "%s: must be a string", key);
      if (strlen (json_string_value (v)) != json_string_length (v))
        return malformed (err, "%s: contains a NUL byte", key);
      copy = strdup (json_string_value (v));
      if (!copy)
        return moat_error_nomem (err, key);
      value = trim (copy);
      if (!*value)
        return malformed (err, "%s: empty value", key);
      return known_annotations[i].parse (key, value, a, err);
    }
  return unknown_annotation (key, err);
}

int
moat_annotations_parse (json_t *annotations, struct moat_annotations *ret, moat_err_t *err)
{
  const char *key;
  json_t *v;

  memset (ret, 0, sizeof (*ret));
  if (!annotations || json_is_null (annotations))
    return 0;
  if (!json_is_object (annotations))
    return malformed (err, "annotations: must be an object of strings");
  json_object_foreach (annotations, key, v)
  {
    if (!is_moat_key (key))
      continue;
    if (parse_annotation (key, v, ret, err) < 0)
      {
        moat_annotations_free (ret);
        return -1;
      }
  }
  return 0;
}

void
moat_annotations_free (struct moat_annotations *a)
{
  for (size_t i = 0; i < a->n_labels; i++)
    label_free (&a->labels[i]);
  free (a->labels);
  selectors_free (a->depends, a->n_depends);
  selectors_free (a->expose, a->n_expose);
  free (a->allow_host);
  free (a->egress);
  free (a->ingress);
  free (a->proxy_ports);
  free (a->policy);
  free (a->network);
  free (a->name);
  json_decref (a->aliases);
  moat_publish_list_free (&a->publish);
  selectors_free (a->depends_deny, a->n_depends_deny);
  selectors_free (a->expose_deny, a->n_expose_deny);
  free (a->egress_deny);
  free (a->ingress_deny);
  memset (a, 0, sizeof (*a));
}

void
moat_selectors_free (struct moat_selector *sels, size_t n)
{
  selectors_free (sels, n);
}

const char *
moat_annotation_key_at (size_t i)
{
  return i < ARRAY_SIZE (known_annotations) ? known_annotations[i].key : NULL;
}

void
moat_selector_free (struct moat_selector *s)
{
  selector_free (s);
}

bool
moat_annotations_any (json_t *annotations)
{
  const char *key;
  json_t *v;

  if (!json_is_object (annotations))
    return false;
  json_object_foreach (annotations, key, v)
  {
    if (is_moat_key (key))
      return true;
  }
  return false;
}
