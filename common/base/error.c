/* SPDX-License-Identifier: Apache-2.0 */
#include "base/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A message is one line: control characters that came in with the input
 * it quotes (a key with a newline in it) become '?'. */
static void
one_line (char *msg)
{
  for (unsigned char *p = (unsigned char *)msg; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      *p = '?';
}

int
moat_error (moat_err_t *err, int code, int errnum, const char *fmt, ...)
{
  va_list ap;
  int n;

  err->code = code;
  err->errnum = errnum;
  va_start (ap, fmt);
  n = vsnprintf (err->msg, sizeof (err->msg), fmt, ap);
  va_end (ap);
  if (errnum && n >= 0 && (size_t)n < sizeof (err->msg))
    snprintf (err->msg + n, sizeof (err->msg) - n, ": %s", strerror (errnum));
  one_line (err->msg);
  return -1;
}

int
moat_error_prefix (moat_err_t *err, const char *fmt, ...)
{
  char prefix[256], old[sizeof (err->msg)];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (prefix, sizeof (prefix), fmt, ap);
  va_end (ap);
  memcpy (old, err->msg, sizeof (old));
  /* Truncation keeps the context, which is what the reader needs first. */
  snprintf (err->msg, sizeof (err->msg), "%.255s: %.700s", prefix, old);
  one_line (err->msg);
  return -1;
}

int
moat_error_undo_failed (moat_err_t *err, const char *what, const moat_err_t *undo)
{
  char first[sizeof (err->msg)];

  memcpy (first, err->msg, sizeof (first));
  return moat_error (err, err->code, 0, "%s (and undoing %s failed: %s)", first, what, undo->msg);
}

int
moat_error_nomem (moat_err_t *err, const char *what)
{
  return moat_error (err, MOAT_E_IO, ENOMEM, "%s", what);
}
