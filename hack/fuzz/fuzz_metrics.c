/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl metrics --http's request parser (ctl/metrics.h), on raw bytes
 * (NULs too), whole and cut at every length: an incomplete head asks for
 * more only below the size cap; a verdict is a known status; a prefix
 * that decides decides as the whole does. */
#include "fuzz.h"
#include "../../ctl/metrics.h"

static bool
known_status (int s)
{
  return s == 1 || s == 200 || s == 400 || s == 404 || s == 405 || s == 431;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *buf = (const char *)data;
  int whole;

  if (size > MOAT_METRICS_REQUEST_MAX)
    size = MOAT_METRICS_REQUEST_MAX;
  whole = moat_metrics_request (buf, size);
  FUZZ_CHECK (known_status (whole));
  FUZZ_CHECK (whole != 1 || size < MOAT_METRICS_REQUEST_MAX);
  for (size_t n = 1; n < size && size <= 4096; n++)
    {
      int part = moat_metrics_request (buf, n);

      FUZZ_CHECK (known_status (part) && part != 431);
      if (part != 1)
        {
          FUZZ_CHECK (part == whole);
          break;
        }
    }
  return 0;
}
