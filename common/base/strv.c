/* SPDX-License-Identifier: Apache-2.0 */
#include "base/strv.h"

#include <stdlib.h>
#include <string.h>

int
moat_strv_push_take (char ***v, size_t *n, char *s)
{
  char **nv;

  if (!s || !(nv = realloc (*v, (*n + 2) * sizeof (**v))))
    {
      free (s);
      return -1;
    }
  *v = nv;
  nv[(*n)++] = s;
  nv[*n] = NULL;
  return 0;
}

int
moat_strv_push (char ***v, size_t *n, const char *s)
{
  return moat_strv_push_take (v, n, strdup (s));
}

void
moat_strv_free (char **v)
{
  for (char **p = v; p && *p; p++)
    free (*p);
  free (v);
}

bool
moat_strv_contains (char *const *v, const char *s)
{
  for (; v && *v; v++)
    if (strcmp (*v, s) == 0)
      return true;
  return false;
}
