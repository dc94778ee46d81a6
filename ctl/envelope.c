/* SPDX-License-Identifier: Apache-2.0 */
/* What an access envelope's token opens: the operator's rules (envelope.h). */
#include "envelope.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "grant.h"
#include "token.h"

void
moat_envelope_rules_free (struct moat_envelope_rules *r)
{
  for (size_t i = 0; r && i < r->n; i++)
    free (r->v[i].container);
  if (r)
    free (r->v);
  if (r)
    memset (r, 0, sizeof (*r));
}

static int
rules_add (struct moat_envelope_rules *r, const char *container, const char *ports,
           const char *what, moat_err_t *err)
{
  struct moat_envelope_rule rule = { 0 }, *v;

  if (!moat_grant_container_word_valid (container))
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: \"%.64s\" is not a container id or name", what,
                       container);
  if (moat_ports_parse (what, ports, false, &rule.ports, err) < 0)
    return -1;
  if (r->n == MOAT_ENVELOPE_RULES_MAX)
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: more than %d rules", what,
                       MOAT_ENVELOPE_RULES_MAX);
  v = realloc (r->v, (r->n + 1) * sizeof (*v));
  if (!v)
    return moat_error_nomem (err, "rules");
  r->v = v;
  if (!(rule.container = strdup (container)))
    return moat_error_nomem (err, "rules");
  r->v[r->n++] = rule;
  return 0;
}

/* One line, cut in place: blank, a comment, or CONTAINER PORTS. */
static int
parse_line (char *line, const char *what, struct moat_envelope_rules *r, moat_err_t *err)
{
  char *save = NULL, *container, *ports, *extra;

  if (strchr (line, '#'))
    *strchr (line, '#') = '\0';
  container = strtok_r (line, " \t\r", &save);
  if (!container)
    return 0;
  ports = strtok_r (NULL, " \t\r", &save);
  extra = ports ? strtok_r (NULL, " \t\r", &save) : NULL;
  if (!ports || extra)
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: want CONTAINER PROTO/PORT[-PORT]", what);
  return rules_add (r, container, ports, what, err);
}

int
moat_envelope_rules_parse (const char *text, size_t len, const char *origin,
                           struct moat_envelope_rules *ret, moat_err_t *err)
{
  _cleanup_free_ char *copy = NULL;
  struct moat_envelope_rules r = { 0 };
  char *line, *next, what[512];
  size_t lineno = 1;

  memset (ret, 0, sizeof (*ret));
  if (len > MOAT_ENVELOPE_FILE_MAX || memchr (text, '\0', len))
    return moat_error (err, MOAT_E_CONFIG, 0, "%s: not a rules file (NUL, or over %d bytes)",
                       origin, MOAT_ENVELOPE_FILE_MAX);
  if (!(copy = strndup (text, len)))
    return moat_error_nomem (err, "rules");
  for (line = copy; line; line = next, lineno++)
    {
      next = strchr (line, '\n');
      if (next)
        *next++ = '\0';
      snprintf (what, sizeof (what), "%s:%zu", origin, lineno);
      if (parse_line (line, what, &r, err) < 0)
        {
          moat_envelope_rules_free (&r);
          return -1;
        }
    }
  *ret = r;
  return 0;
}

int
moat_envelope_rules_load (const struct moat_jwk *key, struct moat_envelope_rules *ret,
                          moat_err_t *err)
{
  _cleanup_free_ char *path = NULL, *text = NULL;
  size_t len = key->path ? strlen (key->path) : 0, n = 0;

  memset (ret, 0, sizeof (*ret));
  if (len < 4 || strcmp (key->path + len - 4, ".jwk") != 0)
    return 0;
  if (asprintf (&path, "%.*s.allow", (int)(len - 4), key->path) < 0)
    return moat_error_nomem (err, "rules");
  if (moat_read_file (path, MOAT_ENVELOPE_FILE_MAX, &text, &n) < 0)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_IO, errno, "%s", path);
  return moat_envelope_rules_parse (text, n, path, ret, err);
}

int
moat_envelope_rules_one (const char *container, const char *ports, struct moat_envelope_rules *ret,
                         moat_err_t *err)
{
  memset (ret, 0, sizeof (*ret));
  if (rules_add (ret, container, ports, "--to", err) < 0)
    {
      moat_envelope_rules_free (ret);
      return -1;
    }
  return 0;
}
