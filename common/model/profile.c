/* SPDX-License-Identifier: Apache-2.0 */
/* The policy file: Trireme's policy.json and moat's own form (profile.h). */
#include "model/profile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "model/config.h"

struct profile
{
  char *name;
  struct moat_annotations a;
};

struct moat_profiles
{
  struct profile *v;
  size_t n;
};

/* Where an error is: "<origin>: profile \"<name>\": <field>". */
struct where
{
  const char *origin;
  const char *profile;
  char field[96];
};

static int refuse (moat_err_t *err, const struct where *w, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
refuse (moat_err_t *err, const struct where *w, const char *fmt, ...)
{
  char what[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (what, sizeof (what), fmt, ap);
  va_end (ap);
  return moat_error (err, MOAT_E_CONFIG, 0, "%s: profile \"%.128s\": %s: %s", w->origin, w->profile,
                     w->field, what);
}

/* The member of `obj` named `key`, compared without case. */
static json_t *
get_ci (json_t *obj, const char *key)
{
  const char *k;
  json_t *v;

  json_object_foreach (obj, k, v)
  {
    if (strcasecmp (k, key) == 0)
      return v;
  }
  return NULL;
}

static bool
known_ci (const char *key, const char *const *known)
{
  for (; *known; known++)
    if (strcasecmp (key, *known) == 0)
      return true;
  return false;
}

/* An unknown field of obj is an error naming it. */
static int
only_known (json_t *obj, const char *const *known, struct where *w, moat_err_t *err)
{
  const char *k;
  json_t *v;

  json_object_foreach (obj, k, v)
  {
    if (!known_ci (k, known))
      return refuse (err, w, "unknown field \"%.64s\"", k);
  }
  return 0;
}

/* --- Action ------------------------------------------------------------- */

enum verdict
{
  IGNORE,
  ACCEPT,
  REJECT,
};

#define ACTION_ACCEPT 0x1
#define ACTION_REJECT 0x2
#define ACTION_LOG 0x8

static int
rule_verdict (json_t *rule, struct where *w, enum verdict *ret, moat_err_t *err)
{
  json_t *policy = get_ci (rule, "Policy");
  json_t *action = json_is_object (policy) ? get_ci (policy, "Action") : NULL;
  json_int_t bits;

  if (!json_is_object (policy))
    return refuse (err, w, "Policy: want an object with Action");
  if (!json_is_integer (action))
    return refuse (err, w, "Policy.Action: want an integer (1 accept, 2 reject, 8 log)");
  bits = json_integer_value (action);
  if (bits < 0 || (bits & ~(json_int_t)(ACTION_ACCEPT | ACTION_REJECT | ACTION_LOG)))
    return refuse (err, w, "Policy.Action: %lld has unknown bits (1 accept, 2 reject, 8 log)",
                   (long long)bits);
  *ret = (bits & ACTION_REJECT) ? REJECT : (bits & ACTION_ACCEPT) ? ACCEPT : IGNORE;
  return 0;
}

/* --- ACLs ------------------------------------------------------------------- */

static int
parse_acl_address (json_t *v, struct where *w, struct moat_acl *acl, moat_err_t *err)
{
  const char *s = json_string_value (v);
  char why[160];
  int r;

  if (!s)
    return refuse (err, w, "Address: want a string like \"10.0.0.0/8\"");
  r = moat_acl_addr_parse (s, strlen (s), acl, why, sizeof (why));
  if (r == -2)
    return refuse (err, w, "Address: \"%.64s\": %s", s, why);
  if (r < 0)
    return refuse (err, w, "Address: \"%.64s\" is not an IPv4 or IPv6 address or CIDR", s);
  return 0;
}

static int
parse_acl_protocol (json_t *v, struct where *w, uint8_t *ret, moat_err_t *err)
{
  const char *s = v ? json_string_value (v) : "";

  if (!s)
    return refuse (err, w, "Protocol: want a string (TCP, UDP, ICMP or ALL)");
  if (strcasecmp (s, "tcp") == 0 || strcmp (s, "6") == 0)
    *ret = IPPROTO_TCP;
  else if (strcasecmp (s, "udp") == 0 || strcmp (s, "17") == 0)
    *ret = IPPROTO_UDP;
  else if (strcasecmp (s, "icmp") == 0 || strcmp (s, "1") == 0)
    *ret = IPPROTO_ICMP;
  else if (!*s || strcasecmp (s, "all") == 0 || strcasecmp (s, "any") == 0)
    *ret = 0;
  else
    return refuse (err, w, "Protocol: \"%.32s\": want TCP, UDP, ICMP or ALL", s);
  return 0;
}

static int
parse_port_number (const char *s, const char *end, struct where *w, const char *whole,
                   uint16_t *ret, moat_err_t *err)
{
  unsigned long v = 0;

  if (s == end || end - s > 5)
    return refuse (err, w, "Port: \"%.32s\": want 80 or 100-200", whole);
  for (const char *p = s; p < end; p++)
    {
      if (*p < '0' || *p > '9')
        return refuse (err, w, "Port: \"%.32s\": want 80 or 100-200", whole);
      v = v * 10 + (unsigned long)(*p - '0');
    }
  if (v < 1 || v > 65535)
    return refuse (err, w, "Port: \"%.32s\" out of range (1-65535)", whole);
  *ret = (uint16_t)v;
  return 0;
}

/* "" or absent: every port (a protocol without ports for icmp/any). */
static int
parse_acl_port (json_t *v, struct where *w, struct moat_ports *ports, moat_err_t *err)
{
  const char *s = v ? json_string_value (v) : "";
  const char *dash;

  if (!s)
    return refuse (err, w, "Port: want a string like \"80\" or \"100-200\"");
  if (!*s)
    return 0;
  if (ports->proto != IPPROTO_TCP && ports->proto != IPPROTO_UDP)
    return refuse (err, w, "Port: \"%.32s\": ports need Protocol TCP or UDP", s);
  dash = strchr (s, '-');
  if (parse_port_number (s, dash ? dash : s + strlen (s), w, s, &ports->lo, err) < 0)
    return -1;
  ports->hi = ports->lo;
  if (dash && parse_port_number (dash + 1, s + strlen (s), w, s, &ports->hi, err) < 0)
    return -1;
  if (ports->hi < ports->lo)
    return refuse (err, w, "Port: \"%.32s\": range ends before it starts", s);
  return 0;
}

static const char *const acl_fields[] = { "Address", "Port", "Protocol", "Policy", "ID", NULL };

static int
parse_acl (json_t *rule, struct where *w, struct moat_acl *acl, enum verdict *verdict,
           moat_err_t *err)
{
  size_t len = strlen (w->field);

  memset (acl, 0, sizeof (*acl));
  if (!json_is_object (rule))
    return refuse (err, w, "want an object with Address, Port, Protocol and Policy");
  if (only_known (rule, acl_fields, w, err) < 0 || rule_verdict (rule, w, verdict, err) < 0)
    return -1;
  snprintf (w->field + len, sizeof (w->field) - len, ".Address");
  if (parse_acl_address (get_ci (rule, "Address"), w, acl, err) < 0)
    return -1;
  snprintf (w->field + len, sizeof (w->field) - len, ".Protocol");
  if (parse_acl_protocol (get_ci (rule, "Protocol"), w, &acl->ports.proto, err) < 0)
    return -1;
  snprintf (w->field + len, sizeof (w->field) - len, ".Port");
  return parse_acl_port (get_ci (rule, "Port"), w, &acl->ports, err);
}

static int
push_acl (struct moat_acl **v, size_t *n, const struct moat_acl *acl)
{
  struct moat_acl *nv = realloc (*v, (*n + 1) * sizeof (*nv));

  if (!nv)
    return -1;
  nv[(*n)++] = *acl;
  *v = nv;
  return 0;
}

static int
parse_acls (json_t *list, const char *field, struct where *w, struct moat_acl **allow,
            size_t *n_allow, struct moat_acl **deny, size_t *n_deny, moat_err_t *err)
{
  size_t i;
  json_t *rule;

  snprintf (w->field, sizeof (w->field), "%s", field);
  if (!json_is_array (list))
    return refuse (err, w, "want a list of rules");
  if (json_array_size (list) > MOAT_ANNOT_MAX_ITEMS)
    return refuse (err, w, "more than %d rules", MOAT_ANNOT_MAX_ITEMS);
  json_array_foreach (list, i, rule)
  {
    struct moat_acl acl;
    enum verdict verdict;

    snprintf (w->field, sizeof (w->field), "%s[%zu]", field, i);
    if (parse_acl (rule, w, &acl, &verdict, err) < 0)
      return -1;
    if (verdict == ACCEPT && push_acl (allow, n_allow, &acl) < 0)
      return moat_error_nomem (err, w->origin);
    if (verdict == REJECT && push_acl (deny, n_deny, &acl) < 0)
      return moat_error_nomem (err, w->origin);
  }
  return 0;
}

/* --- selectors ------------------------------------------------------------ */

/* "@usr:app" is the label "app"; "@sys:name" stays as it is; a key without
 * a prefix is a user label. */
static int
clause_key (json_t *v, struct where *w, const char **ret, moat_err_t *err)
{
  const char *k = json_string_value (v);

  if (!k || !*k)
    return refuse (err, w, "Key: want a string like \"@usr:app\"");
  if (strncmp (k, "@usr:", 5) == 0)
    k += 5;
  if (!*k || strlen (k) > MOAT_LABEL_PREFIX_MAX + 1 + MOAT_LABEL_NAME_MAX
      || (k[0] == '@' && strncmp (k, "@sys:", 5) != 0) || strcmp (k, "@sys:") == 0)
    return refuse (err, w, "Key: \"%.64s\": want @usr:<label> or @sys:<name>",
                   json_string_value (v));
  *ret = k;
  return 0;
}

/* Value: a list of strings (a single string is read as a list of one). */
static int
clause_values (json_t *v, struct where *w, json_t **ret, moat_err_t *err)
{
  size_t i;
  json_t *s;

  if (json_is_string (v))
    {
      *ret = json_pack ("[O]", v);
      return *ret ? 0 : moat_error_nomem (err, w->origin);
    }
  if (!json_is_array (v) || json_array_size (v) == 0)
    return refuse (err, w, "Value: want a list of strings");
  json_array_foreach (v, i, s)
  {
    if (!json_is_string (s))
      return refuse (err, w, "Value[%zu]: want a string", i);
  }
  *ret = json_incref (v);
  return 0;
}

/* The selectors a rule stands for: the product of its clauses, where a
 * clause "=" with k values is k alternatives; others are one term each. */
struct sel_list
{
  struct moat_selector *v;
  size_t n;
};

static void
sel_list_free (struct sel_list *l)
{
  moat_selectors_free (l->v, l->n);
  memset (l, 0, sizeof (*l));
}

static int
add_term (struct moat_selector *s, enum moat_sel_op op, const char *key, const char *value)
{
  struct moat_sel_term *t = realloc (s->terms, (s->n_terms + 1) * sizeof (*t));

  if (!t)
    return -1;
  s->terms = t;
  t = &s->terms[s->n_terms];
  t->op = op;
  t->key = strdup (key);
  t->value = value ? strdup (value) : NULL;
  if (!t->key || (value && !t->value))
    {
      free (t->key);
      free (t->value);
      return -1;
    }
  s->n_terms++;
  return 0;
}

/* Every selector of `in` gets the term (op, key, value): for each of the
 * alternatives in `values` (EQ), or each value as its own term (NE). */
static int
apply_clause (struct sel_list *in, enum moat_sel_op op, const char *key, json_t *values,
              struct where *w, moat_err_t *err)
{
  size_t nvals = values ? json_array_size (values) : 0, i;
  _cleanup_ (sel_list_free) struct sel_list out = { 0 };
  json_t *v;

  if (op != MOAT_SEL_EQ)
    {
      for (size_t s = 0; s < in->n; s++)
        {
          if (op != MOAT_SEL_NE && add_term (&in->v[s], op, key, NULL) < 0)
            return moat_error_nomem (err, w->origin);
          json_array_foreach (op == MOAT_SEL_NE ? values : NULL, i, v)
          {
            if (add_term (&in->v[s], op, key, json_string_value (v)) < 0)
              return moat_error_nomem (err, w->origin);
          }
          if (in->v[s].n_terms > MOAT_SEL_MAX_TERMS)
            return refuse (err, w, "more than %d terms", MOAT_SEL_MAX_TERMS);
        }
      return 0;
    }
  if (in->n * nvals > MOAT_ANNOT_MAX_ITEMS)
    return refuse (err, w, "more than %d selectors once its values are spread out",
                   MOAT_ANNOT_MAX_ITEMS);
  out.v = calloc ((in->n * nvals) > 0 ? in->n * nvals : 1, sizeof (*out.v));
  if (!out.v)
    return moat_error_nomem (err, w->origin);
  for (size_t s = 0; s < in->n; s++)
    json_array_foreach (values, i, v)
    {
      struct moat_selector *d = &out.v[out.n];

      if (moat_selector_dup (&in->v[s], d) < 0)
        return moat_error_nomem (err, w->origin);
      out.n++;
      if (add_term (d, MOAT_SEL_EQ, key, json_string_value (v)) < 0)
        return moat_error_nomem (err, w->origin);
      if (d->n_terms > MOAT_SEL_MAX_TERMS)
        return refuse (err, w, "more than %d terms", MOAT_SEL_MAX_TERMS);
    }
  sel_list_free (in);
  *in = out;
  out = (struct sel_list){ 0 };
  return 0;
}

static int
clause_op (json_t *v, struct where *w, enum moat_sel_op *ret, moat_err_t *err)
{
  const char *s = json_string_value (v);

  if (s && strcmp (s, "=") == 0)
    *ret = MOAT_SEL_EQ;
  else if (s && (strcmp (s, "=!") == 0 || strcmp (s, "!=") == 0))
    *ret = MOAT_SEL_NE;
  else if (s && strcmp (s, "*") == 0)
    *ret = MOAT_SEL_EXISTS;
  else if (s && strcmp (s, "!*") == 0)
    *ret = MOAT_SEL_ABSENT;
  else
    return refuse (err, w, "Operator: want =, =!, * or !*");
  return 0;
}

static const char *const clause_fields[] = { "Key", "Operator", "Value", NULL };

static int
parse_clause (json_t *c, struct sel_list *sels, struct where *w, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *values = NULL;
  enum moat_sel_op op = MOAT_SEL_EQ;
  const char *key = NULL;

  if (!json_is_object (c))
    return refuse (err, w, "want an object with Key, Operator and Value");
  if (only_known (c, clause_fields, w, err) < 0 || clause_key (get_ci (c, "Key"), w, &key, err) < 0
      || clause_op (get_ci (c, "Operator"), w, &op, err) < 0)
    return -1;
  if ((op == MOAT_SEL_EQ || op == MOAT_SEL_NE)
      && clause_values (get_ci (c, "Value"), w, &values, err) < 0)
    return -1;
  return apply_clause (sels, op, key, values, w, err);
}

static const char *const rule_fields[] = { "Clause", "Policy", "ID", NULL };

static int
parse_selector_rule (json_t *rule, struct where *w, struct sel_list *ret, enum verdict *verdict,
                     moat_err_t *err)
{
  json_t *clauses, *c;
  size_t len = strlen (w->field), i;

  if (!json_is_object (rule))
    return refuse (err, w, "want an object with Clause and Policy");
  if (only_known (rule, rule_fields, w, err) < 0 || rule_verdict (rule, w, verdict, err) < 0)
    return -1;
  clauses = get_ci (rule, "Clause");
  if (!json_is_array (clauses) || json_array_size (clauses) == 0)
    return refuse (err, w, "Clause: want a non-empty list");
  ret->v = calloc (1, sizeof (*ret->v));
  if (!ret->v)
    return moat_error_nomem (err, w->origin);
  ret->n = 1;
  json_array_foreach (clauses, i, c)
  {
    snprintf (w->field + len, sizeof (w->field) - len, ".Clause[%zu]", i);
    if (parse_clause (c, ret, w, err) < 0)
      return -1;
  }
  return 0;
}

static int
move_selectors (struct moat_selector **v, size_t *n, struct sel_list *add)
{
  struct moat_selector *nv;

  if (*n + add->n > MOAT_ANNOT_MAX_ITEMS)
    return -2;
  nv = realloc (*v, (*n + add->n + 1) * sizeof (*nv));
  if (!nv)
    return -1;
  memcpy (nv + *n, add->v, add->n * sizeof (*nv));
  *n += add->n;
  *v = nv;
  free (add->v);
  *add = (struct sel_list){ 0 };
  return 0;
}

static int
parse_selector_rules (json_t *list, const char *field, struct where *w,
                      struct moat_selector **allow, size_t *n_allow, struct moat_selector **deny,
                      size_t *n_deny, moat_err_t *err)
{
  size_t i;
  json_t *rule;

  snprintf (w->field, sizeof (w->field), "%s", field);
  if (!json_is_array (list))
    return refuse (err, w, "want a list of rules");
  json_array_foreach (list, i, rule)
  {
    _cleanup_ (sel_list_free) struct sel_list sels = { 0 };
    enum verdict verdict;
    int r = 0;

    snprintf (w->field, sizeof (w->field), "%s[%zu]", field, i);
    if (parse_selector_rule (rule, w, &sels, &verdict, err) < 0)
      return -1;
    if (verdict == ACCEPT)
      r = move_selectors (allow, n_allow, &sels);
    else if (verdict == REJECT)
      r = move_selectors (deny, n_deny, &sels);
    if (r == -2)
      return refuse (err, w, "more than %d selectors in all", MOAT_ANNOT_MAX_ITEMS);
    if (r < 0)
      return moat_error_nomem (err, w->origin);
  }
  return 0;
}

/* --- profiles --------------------------------------------------------------- */

static const char *const trireme_fields[]
    = { "ApplicationACLs", "NetworkACLs", "Dependencies", "TagSelectors", NULL };

/* With Dependencies (or TagSelectors) given, the profile says what the
 * container consumes (or who consumes it), even if no rule accepts. */
static int
parse_trireme_profile (json_t *obj, struct where *w, struct moat_annotations *a, moat_err_t *err)
{
  json_t *v;

  if (!json_is_object (obj))
    {
      snprintf (w->field, sizeof (w->field), "(profile)");
      return refuse (err, w,
                     "want an object with ApplicationACLs, NetworkACLs, Dependencies, "
                     "TagSelectors");
    }
  snprintf (w->field, sizeof (w->field), "(profile)");
  if (only_known (obj, trireme_fields, w, err) < 0)
    return -1;
  if ((v = get_ci (obj, "ApplicationACLs"))
      && parse_acls (v, "ApplicationACLs", w, &a->egress, &a->n_egress, &a->egress_deny,
                     &a->n_egress_deny, err)
             < 0)
    return -1;
  if ((v = get_ci (obj, "NetworkACLs"))
      && parse_acls (v, "NetworkACLs", w, &a->ingress, &a->n_ingress, &a->ingress_deny,
                     &a->n_ingress_deny, err)
             < 0)
    return -1;
  if ((v = get_ci (obj, "Dependencies")))
    {
      a->have_depends = true;
      if (parse_selector_rules (v, "Dependencies", w, &a->depends, &a->n_depends, &a->depends_deny,
                                &a->n_depends_deny, err)
          < 0)
        return -1;
    }
  if ((v = get_ci (obj, "TagSelectors")))
    {
      a->have_expose = true;
      if (parse_selector_rules (v, "TagSelectors", w, &a->expose, &a->n_expose, &a->expose_deny,
                                &a->n_expose_deny, err)
          < 0)
        return -1;
    }
  return 0;
}

static const char *const moat_fields[] = { "labels",  "depends",  "expose", "allow-host", "egress",
                                           "ingress", "internet", "proxy",  NULL };

/* Each value goes through the annotation parser under its io.moat.* key. */
static int
parse_moat_profile (json_t *obj, struct where *w, struct moat_annotations *a, moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *annotations = json_object ();
  char key[64];
  const char *k;
  json_t *v;

  snprintf (w->field, sizeof (w->field), "(profile)");
  if (!json_is_object (obj))
    return refuse (err, w, "want an object of annotation values (labels, depends, ...)");
  if (!annotations)
    return moat_error_nomem (err, w->origin);
  json_object_foreach (obj, k, v)
  {
    bool known = false;

    for (const char *const *f = moat_fields; *f && !known; f++)
      known = strcmp (k, *f) == 0;
    snprintf (w->field, sizeof (w->field), "%.64s", k);
    if (!known)
      return refuse (err, w,
                     "unknown key (known: labels, depends, expose, allow-host, egress, "
                     "ingress, internet, proxy)");
    snprintf (key, sizeof (key), MOAT_ANNOT_PREFIX "%s", k);
    if (json_object_set (annotations, key, v) < 0)
      return moat_error_nomem (err, w->origin);
  }
  if (moat_annotations_parse (annotations, a, err) < 0)
    return moat_error_prefix (err, "%s: profile \"%.128s\"", w->origin, w->profile);
  return 0;
}

static bool
profile_name_valid (const char *s)
{
  size_t n = strlen (s);

  if (n == 0 || n > MOAT_POLICY_NAME_MAX)
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')
          || *s == '.' || *s == '_' || *s == '-'))
      return false;
  return true;
}

void
moat_profiles_free (struct moat_profiles *p)
{
  if (!p)
    return;
  for (size_t i = 0; i < p->n; i++)
    {
      free (p->v[i].name);
      moat_annotations_free (&p->v[i].a);
    }
  free (p->v);
  free (p);
}

DEFINE_TRIVIAL_CLEANUP_FUNC (struct moat_profiles *, moat_profiles_free)

static int
parse_profiles (json_t *map, bool moat_form, const char *origin, struct moat_profiles *p,
                moat_err_t *err)
{
  const char *name;
  json_t *obj;

  if (json_object_size (map) > MOAT_PROFILES_MAX)
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: more than %d profiles", origin,
                       MOAT_PROFILES_MAX);
  p->v = calloc (json_object_size (map) ? json_object_size (map) : 1, sizeof (*p->v));
  if (!p->v)
    return moat_error_nomem (err, origin);
  json_object_foreach (map, name, obj)
  {
    struct where w = { .origin = origin, .profile = name };
    struct profile *pr = &p->v[p->n];

    if (!profile_name_valid (name))
      return moat_error (err, MOAT_E_CONFIG, 0,
                         "%s: profile \"%.128s\": name: want 1-%d of A-Z a-z 0-9 . _ -", origin,
                         name, MOAT_POLICY_NAME_MAX);
    pr->name = strdup (name);
    if (!pr->name)
      return moat_error_nomem (err, origin);
    p->n++;
    if ((moat_form ? parse_moat_profile (obj, &w, &pr->a, err)
                   : parse_trireme_profile (obj, &w, &pr->a, err))
        < 0)
      return -1;
  }
  return 0;
}

int
moat_profiles_parse (const char *text, size_t len, const char *origin, struct moat_profiles **ret,
                     moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *root = NULL;
  _cleanup_ (moat_profiles_freep) struct moat_profiles *p = calloc (1, sizeof (*p));
  json_error_t jerr;
  json_t *profiles;

  *ret = NULL;
  if (!p)
    return moat_error_nomem (err, origin);
  root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: line %d column %d: %s", origin, jerr.line,
                       jerr.column, jerr.text);
  if (!json_is_object (root))
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: want an object of profiles", origin);
  profiles = json_object_get (root, "profiles");
  if (profiles)
    {
      if (!json_is_object (profiles) || json_object_size (root) != 1)
        return moat_error (err, MOAT_E_CONFIG, 0,
                           "%s: profiles: want {\"profiles\": {NAME: {...}}} and nothing else",
                           origin);
      if (parse_profiles (profiles, true, origin, p, err) < 0)
        return -1;
    }
  else if (parse_profiles (root, false, origin, p, err) < 0)
    return -1;
  *ret = TAKE_PTR (p);
  return 0;
}

int
moat_profiles_load (const char *path, struct moat_profiles **ret, moat_err_t *err)
{
  _cleanup_free_ char *buf = NULL;
  size_t len;

  *ret = NULL;
  if (moat_read_file (path, MOAT_POLICY_FILE_MAX, &buf, &len) < 0)
    {
      if (errno == EFBIG)
        return moat_error (err, MOAT_E_CONFIG, 0, "policy file %s: larger than %d bytes", path,
                           MOAT_POLICY_FILE_MAX);
      if (errno == ENOMEM)
        return moat_error_nomem (err, path);
      return moat_error (err, MOAT_E_CONFIG, errno, "policy file %s", path);
    }
  return moat_profiles_parse (buf, len, path, ret, err);
}

const struct moat_annotations *
moat_profiles_find (const struct moat_profiles *p, const char *name)
{
  for (size_t i = 0; p && i < p->n; i++)
    if (strcmp (p->v[i].name, name) == 0)
      return &p->v[i].a;
  return NULL;
}
