/* SPDX-License-Identifier: Apache-2.0 */
#include "base/ifname.h"

#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <string.h>

enum moat_ifname_fault
moat_ifname_fault (const char *name)
{
  if (!name || !*name)
    return MOAT_IFNAME_EMPTY;
  if (strlen (name) >= IFNAMSIZ)
    return MOAT_IFNAME_TOO_LONG;
  if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    return MOAT_IFNAME_INVALID;
  for (const char *p = name; *p; p++)
    if (*p == '/' || *p == ':' || isspace ((unsigned char)*p) || !isprint ((unsigned char)*p))
      return MOAT_IFNAME_INVALID;
  return MOAT_IFNAME_OK;
}

bool
moat_ifname_valid (const char *name)
{
  return moat_ifname_fault (name) == MOAT_IFNAME_OK;
}

int
moat_ifname_check (const char *what, const char *name, int code, moat_err_t *err)
{
  switch (moat_ifname_fault (name))
    {
    case MOAT_IFNAME_OK:
      return 0;
    case MOAT_IFNAME_EMPTY:
      return moat_error (err, code, EINVAL, "%s: no interface name", what);
    case MOAT_IFNAME_TOO_LONG:
      return moat_error (err, code, 0, "%s \"%s\": longer than %d characters", what, name,
                         IFNAMSIZ - 1);
    case MOAT_IFNAME_INVALID:
      break;
    }
  return moat_error (err, code, 0, "%s \"%s\": not a valid interface name", what, name);
}
