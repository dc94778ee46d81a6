/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP front's request parser (ctl/http.h), on raw bytes (NULs too),
 * whole and cut at every length: an incomplete head asks for more only
 * below the size cap; a verdict is a known status with a reason, or 0 with
 * a token of base64url and dots no longer than the input; a prefix of a
 * complete request never decides differently once complete. */
#include "fuzz.h"
#include "../../ctl/http.h"

static bool
known_status (int s)
{
  return s == 0 || s == 400 || s == 401 || s == 403 || s == 404 || s == 405 || s == 408 || s == 431;
}

static int
check (const char *buf, size_t len, struct moat_http_request *r)
{
  int rc = moat_http_parse (buf, len, r);

  FUZZ_CHECK (rc == 0 || rc == 1);
  if (rc == 1)
    {
      FUZZ_CHECK (len < MOAT_HTTP_REQUEST_MAX && r->token == NULL);
      return 1;
    }
  FUZZ_CHECK (known_status (r->status));
  FUZZ_CHECK ((r->status == 0) == (r->token != NULL));
  FUZZ_CHECK (r->status == 0 || (r->reason && *r->reason));
  if (r->token)
    {
      FUZZ_CHECK (strlen (r->token) <= len);
      FUZZ_CHECK (
          strspn (r->token, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
          == strlen (r->token));
    }
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct moat_http_request whole, part;
  const char *buf = (const char *)data;
  int rc;

  if (size > MOAT_HTTP_REQUEST_MAX)
    size = MOAT_HTTP_REQUEST_MAX;
  rc = check (buf, size, &whole);
  /* As the reads arrive: the first complete prefix decides. */
  for (size_t n = 1; n < size && size <= 4096; n++)
    {
      if (check (buf, n, &part) == 0)
        {
          FUZZ_CHECK (rc == 0 && part.status == whole.status);
          moat_http_request_free (&part);
          break;
        }
    }
  moat_http_request_free (&whole);
  return 0;
}
