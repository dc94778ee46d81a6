/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP front's request parser (http.h). */
#include "http.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/types.h"
#include "token.h"

#define ALLOW_PATH "/v0/allow"
#define TOKEN_PARAM "access_token="

void
moat_http_request_free (struct moat_http_request *r)
{
  free (r->token);
  r->token = NULL;
}

const char *
moat_http_status_text (int status)
{
  switch (status)
    {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    default:
      return "Internal Server Error";
    }
}

static int
refuse (struct moat_http_request *r, int status, const char *reason)
{
  r->status = status;
  r->reason = reason;
  return 0;
}

/* The end of the head: after "\r\n\r\n" (or "\n\n"), or NULL. */
static const char *
head_end (const char *buf, size_t len)
{
  for (size_t i = 0; i + 1 < len; i++)
    {
      if (buf[i] == '\n' && buf[i + 1] == '\n')
        return buf + i + 2;
      if (i + 3 < len && memcmp (buf + i, "\r\n\r\n", 4) == 0)
        return buf + i + 4;
    }
  return NULL;
}

/* A token's characters: base64url and the dots. */
static bool
token_char (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
         || c == '_' || c == '.';
}

/* Percent-decodes v[0..n) into a new string of token characters only. */
static int
decode_token (const char *v, size_t n, struct moat_http_request *r)
{
  char *out;
  size_t k = 0;

  if (n == 0)
    return refuse (r, 401, "missing access_token");
  if (n > MOAT_TOKEN_MAX * 3)
    return refuse (r, 401, "malformed token: too long");
  out = malloc (n + 1);
  if (!out)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      char c = v[i];
      int hi, lo;

      if (c == '%')
        {
          if (i + 2 >= n)
            hi = lo = -1;
          else
            hi = moat_hex_digit (v[i + 1]), lo = moat_hex_digit (v[i + 2]);
          if (hi < 0 || lo < 0)
            {
              free (out);
              return refuse (r, 400, "access_token: bad percent-encoding");
            }
          c = (char)(hi * 16 + lo);
          i += 2;
        }
      if (!token_char (c))
        {
          free (out);
          return refuse (r, 401, "malformed token: not base64url and dots");
        }
      out[k++] = c;
    }
  out[k] = '\0';
  r->token = out;
  return refuse (r, 0, NULL);
}

/* The query q[0..n): exactly one access_token, other parameters ignored. */
static int
parse_query (const char *q, size_t n, struct moat_http_request *r)
{
  const char *value = NULL, *p = q, *end = q + n;
  size_t value_len = 0;

  while (p < end)
    {
      const char *amp = memchr (p, '&', (size_t)(end - p));
      size_t len = (size_t)((amp ? amp : end) - p);

      if (len >= strlen (TOKEN_PARAM) && memcmp (p, TOKEN_PARAM, strlen (TOKEN_PARAM)) == 0)
        {
          if (value)
            return refuse (r, 400, "access_token given twice");
          value = p + strlen (TOKEN_PARAM);
          value_len = len - strlen (TOKEN_PARAM);
        }
      p = amp ? amp + 1 : end;
    }
  if (!value)
    return refuse (r, 401, "missing access_token");
  return decode_token (value, value_len, r);
}

/* Every byte of the head printable ASCII, tab, CR or LF. */
static bool
head_is_text (const char *buf, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if ((buf[i] < ' ' || buf[i] > '~') && buf[i] != '\t' && buf[i] != '\r' && buf[i] != '\n')
      return false;
  return true;
}

int
moat_http_parse (const char *buf, size_t len, struct moat_http_request *ret)
{
  const char *end = head_end (buf, len), *line_end, *sp1, *sp2, *target, *q;
  size_t line_len, target_len;

  memset (ret, 0, sizeof (*ret));
  if (!end)
    {
      if (len < MOAT_HTTP_REQUEST_MAX)
        return 1;
      return refuse (ret, 431, "request head over 20480 bytes");
    }
  if (!head_is_text (buf, (size_t)(end - buf)))
    return refuse (ret, 400, "request head: not text");
  line_end = memchr (buf, '\n', (size_t)(end - buf));
  line_len = (size_t)(line_end - buf);
  if (line_len && buf[line_len - 1] == '\r')
    line_len--;
  sp1 = memchr (buf, ' ', line_len);
  sp2 = sp1 ? memchr (sp1 + 1, ' ', line_len - (size_t)(sp1 + 1 - buf)) : NULL;
  if (!sp1 || !sp2 || sp1 == buf || sp2 == sp1 + 1)
    return refuse (ret, 400, "request line: want METHOD TARGET HTTP/1.x");
  if ((size_t)(buf + line_len - (sp2 + 1)) != 8
      || (memcmp (sp2 + 1, "HTTP/1.1", 8) != 0 && memcmp (sp2 + 1, "HTTP/1.0", 8) != 0))
    return refuse (ret, 400, "request line: want HTTP/1.0 or HTTP/1.1");
  if (sp1 - buf != 3 || memcmp (buf, "GET", 3) != 0)
    return refuse (ret, 405, "only GET");
  target = sp1 + 1;
  target_len = (size_t)(sp2 - target);
  q = memchr (target, '?', target_len);
  if ((size_t)((q ? q : sp2) - target) != strlen (ALLOW_PATH)
      || memcmp (target, ALLOW_PATH, strlen (ALLOW_PATH)) != 0)
    return refuse (ret, 404, "not found: only " ALLOW_PATH);
  if (!q)
    return refuse (ret, 401, "missing access_token");
  return parse_query (q + 1, (size_t)(sp2 - (q + 1)), ret);
}
