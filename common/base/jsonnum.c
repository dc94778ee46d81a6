/* SPDX-License-Identifier: Apache-2.0 */
/* JSON numbers jansson cannot hold as written (see jsonnum.h). */
#include "base/jsonnum.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/file.h"

/* What a placeholder looks like in json_dumps' output: its opening quote
 * and the escaped NUL, then the index and the closing quote. */
#define PLACEHOLDER_MARK "\"\\u0000"

void
moat_json_numbers_free (struct moat_json_numbers *numbers)
{
  for (size_t i = 0; i < numbers->n; i++)
    free (numbers->text[i]);
  free (numbers->text);
  numbers->text = NULL;
  numbers->n = 0;
}

/* ------------------------------------------------------------ the text */

static size_t
digits_len (const char *p, const char *end)
{
  const char *q = p;

  while (q < end && *q >= '0' && *q <= '9')
    q++;
  return (size_t)(q - p);
}

/* The length of the JSON number at p (RFC 8259: -?int frac? exp?), 0 when
 * none starts there; *ret_integer: it has neither fraction nor exponent. */
static size_t
number_len (const char *p, const char *end, bool *ret_integer)
{
  const char *q = p;
  size_t n;

  if (q < end && *q == '-')
    q++;
  n = digits_len (q, end);
  if (n == 0 || (n > 1 && *q == '0'))
    return 0;
  q += n;
  *ret_integer = true;
  if (q < end && *q == '.')
    {
      if ((n = digits_len (q + 1, end)) == 0)
        return 0;
      q += 1 + n;
      *ret_integer = false;
    }
  if (q < end && (*q == 'e' || *q == 'E'))
    {
      const char *e = q + 1;

      if (e < end && (*e == '+' || *e == '-'))
        e++;
      if ((n = digits_len (e, end)) == 0)
        return 0;
      q = e + n;
      *ret_integer = false;
    }
  return (size_t)(q - p);
}

/* An integer jansson reads and prints back as it is written: within
 * json_int_t, and not "-0" (printed "0"). */
static bool
number_kept_by_jansson (const char *p, size_t len, bool integer)
{
  char buf[24], *end;

  if (!integer || len >= sizeof (buf) || (len == 2 && p[0] == '-' && p[1] == '0'))
    return false;
  memcpy (buf, p, len);
  buf[len] = '\0';
  errno = 0;
  (void)strtoll (buf, &end, 10);
  return errno != ERANGE && *end == '\0';
}

/* Copies the string that opens at text[*i] through its closing quote (or
 * the end of an unterminated one), noting an escaped NUL in it. */
static void
copy_string (FILE *out, const char *text, size_t len, size_t *i, bool *ret_has_nul)
{
  size_t j = *i + 1;

  while (j < len && text[j] != '"')
    {
      if (text[j] == '\\' && j + 1 < len)
        {
          if (len - j >= 6 && memcmp (text + j, "\\u0000", 6) == 0)
            *ret_has_nul = true;
          j++;
        }
      j++;
    }
  j = j < len ? j + 1 : len;
  fwrite (text + *i, 1, j - *i, out);
  *i = j;
}

static int
numbers_push (struct moat_json_numbers *k, const char *p, size_t len)
{
  char **v = reallocarray (k->text, k->n + 1, sizeof (*v));
  char *copy = malloc (len + 1);

  if (v)
    k->text = v;
  if (!v || !copy)
    {
      free (copy);
      return -1;
    }
  /* Not strndup: the text need not end in NUL. */
  memcpy (copy, p, len);
  copy[len] = '\0';
  v[k->n++] = copy;
  return 0;
}

/* text with each number jansson would not keep swapped for its
 * placeholder: into *ret_text (*ret_len bytes), the numbers into k.
 * Malformed JSON passes through for the parse to refuse. */
static int
protect_numbers (const char *text, size_t len, struct moat_json_numbers *k, bool *ret_has_nul,
                 char **ret_text, size_t *ret_len)
{
  _cleanup_free_ char *buf = NULL;
  size_t buf_len = 0, i = 0;
  FILE *out = open_memstream (&buf, &buf_len);
  int ret = 0;

  if (!out)
    return -1;
  while (i < len && ret == 0)
    {
      bool integer = false;
      size_t n = 0;

      if (text[i] == '"')
        {
          copy_string (out, text, len, &i, ret_has_nul);
          continue;
        }
      if (text[i] == '-' || (text[i] >= '0' && text[i] <= '9'))
        n = number_len (text + i, text + len, &integer);
      if (n == 0 || number_kept_by_jansson (text + i, n, integer))
        {
          n = n ? n : 1;
          fwrite (text + i, 1, n, out);
        }
      else
        {
          ret = numbers_push (k, text + i, n);
          fprintf (out, PLACEHOLDER_MARK "%zu\"", k->n - 1);
        }
      i += n;
    }
  if (fclose (out) != 0 || ret < 0)
    return -1;
  *ret_text = TAKE_PTR (buf);
  *ret_len = buf_len;
  return 0;
}

static void
set_error (json_error_t *jerr, const char *source, const char *fmt, const char *arg)
{
  memset (jerr, 0, sizeof (*jerr));
  jerr->line = -1;
  jerr->column = -1;
  snprintf (jerr->source, sizeof (jerr->source), "%s", source);
  snprintf (jerr->text, sizeof (jerr->text), fmt, arg);
}

json_t *
moat_json_loadb_numbers (const char *text, size_t len, size_t flags,
                         struct moat_json_numbers *ret_numbers, json_error_t *jerr)
{
  _cleanup_free_ char *protected = NULL;
  size_t protected_len = 0;
  bool has_nul = false;
  json_t *root;

  *ret_numbers = (struct moat_json_numbers){ 0 };
  if (protect_numbers (text, len, ret_numbers, &has_nul, &protected, &protected_len) < 0)
    {
      set_error (jerr, "<buffer>", "%s", "out of memory");
      return NULL;
    }
  /* A NUL of the document's own: no placeholder could be told from it. */
  if (has_nul || ret_numbers->n == 0)
    {
      moat_json_numbers_free (ret_numbers);
      return json_loadb (text, len, flags, jerr);
    }
  root = json_loadb (protected, protected_len, flags | JSON_ALLOW_NUL, jerr);
  if (!root && strncmp (jerr->text, "NUL byte in object key", 22) == 0)
    snprintf (jerr->text, sizeof (jerr->text), "a number where an object key belongs");
  return root;
}

/* ------------------------------------------------------------ the tree */

/* The index of the placeholder v, or -1 when v is none. */
static long long
placeholder_index (const json_t *v, const struct moat_json_numbers *numbers)
{
  const char *s = json_string_value (v);
  size_t len = json_string_length (v);
  unsigned long long idx = 0;

  if (numbers->n == 0 || !s || len < 2 || s[0] != '\0')
    return -1;
  for (size_t i = 1; i < len; i++)
    {
      if (s[i] < '0' || s[i] > '9' || idx > numbers->n)
        return -1;
      idx = idx * 10 + (unsigned long long)(s[i] - '0');
    }
  return idx < numbers->n ? (long long)idx : -1;
}

bool
moat_json_is_number_placeholder (const json_t *v, const struct moat_json_numbers *numbers)
{
  return placeholder_index (v, numbers) >= 0;
}

static json_t *
real_of (const char *text)
{
  double d = strtod (text, NULL);

  if (isinf (d))
    d = copysign (DBL_MAX, d);
  return json_real (d);
}

int
moat_json_numbers_as_reals (json_t *root, const struct moat_json_numbers *numbers)
{
  const char *key;
  json_t *item;
  size_t i;
  long long idx;

  if (json_is_object (root))
    json_object_foreach (root, key, item)
    {
      if ((idx = placeholder_index (item, numbers)) >= 0)
        {
          if (json_object_iter_set_new (root, json_object_key_to_iter (key),
                                        real_of (numbers->text[idx]))
              < 0)
            return -1;
        }
      else if (moat_json_numbers_as_reals (item, numbers) < 0)
        return -1;
    }
  else if (json_is_array (root))
    json_array_foreach (root, i, item)
    {
      if ((idx = placeholder_index (item, numbers)) >= 0)
        {
          if (json_array_set_new (root, i, real_of (numbers->text[idx])) < 0)
            return -1;
        }
      else if (moat_json_numbers_as_reals (item, numbers) < 0)
        return -1;
    }
  return 0;
}

char *
moat_json_dumps_numbers (const json_t *root, size_t flags, const struct moat_json_numbers *numbers)
{
  const size_t mark_len = sizeof (PLACEHOLDER_MARK) - 1;
  _cleanup_free_ char *dumped = json_dumps (root, flags);
  char *buf = NULL;
  size_t buf_len = 0;
  FILE *out;
  const char *p = dumped, *hit;

  if (!dumped || numbers->n == 0)
    return TAKE_PTR (dumped);
  out = open_memstream (&buf, &buf_len);
  if (!out)
    return NULL;
  /* Every mark is a placeholder's: the document's strings hold no NUL. */
  while ((hit = strstr (p, PLACEHOLDER_MARK)))
    {
      char *end;
      unsigned long long idx = strtoull (hit + mark_len, &end, 10);

      fwrite (p, 1, (size_t)(hit - p), out);
      if (*end != '"' || idx >= numbers->n)
        {
          fclose (out);
          free (buf);
          return NULL;
        }
      fputs (numbers->text[idx], out);
      p = end + 1;
    }
  fputs (p, out);
  if (fclose (out) != 0)
    {
      free (buf);
      return NULL;
    }
  return buf;
}

/* ------------------------------------------------------------ a file */

json_t *
moat_json_load_file_numbers (const char *path, size_t flags, json_error_t *jerr)
{
  _cleanup_free_ char *text = NULL;
  struct moat_json_numbers numbers = { 0 };
  size_t len = 0;
  json_t *root;
  int saved;

  if (moat_read_file (path, MOAT_READ_NO_MAX, &text, &len) < 0)
    {
      saved = errno;
      set_error (jerr, path, "unable to read: %s", strerror (saved));
      errno = saved;
      return NULL;
    }
  root = moat_json_loadb_numbers (text, len, flags, &numbers, jerr);
  if (root && moat_json_numbers_as_reals (root, &numbers) < 0)
    {
      json_decref (root);
      root = NULL;
      set_error (jerr, path, "%s", "out of memory");
    }
  moat_json_numbers_free (&numbers);
  return root;
}
