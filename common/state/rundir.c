/* SPDX-License-Identifier: Apache-2.0 */
#include "state/rundir.h"

#include <stdio.h>
#include <stdlib.h>

const char *
moat_run_dir (void)
{
  const char *d = getenv ("MOAT_RUN_DIR");
  return d && *d ? d : MOAT_RUN_DIR_DEFAULT;
}

int
moat_state_path (char *buf, size_t size, const char *network, const char *leaf)
{
  int n = leaf ? snprintf (buf, size, "%s/%s/%s", moat_run_dir (), network, leaf)
               : snprintf (buf, size, "%s/%s", moat_run_dir (), network);
  return n < 0 || (size_t)n >= size ? -1 : 0;
}
