/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_IFNAME_H
#define MOAT_IFNAME_H

#include <stdbool.h>

#include "base/error.h"

/* An interface name as the kernel takes it (dev_valid_name): 1 to
 * IFNAMSIZ - 1 bytes, not "." or "..", no '/', ':', blank or
 * non-printing character. Checked before a name reaches the kernel or a
 * /proc path, so that a bad one gets a clear message. */
enum moat_ifname_fault
{
  MOAT_IFNAME_OK = 0,
  MOAT_IFNAME_EMPTY,    /* NULL or "" */
  MOAT_IFNAME_TOO_LONG, /* IFNAMSIZ bytes or more */
  MOAT_IFNAME_INVALID,  /* ".", "..", or a character the kernel refuses */
};

enum moat_ifname_fault moat_ifname_fault (const char *name);

bool moat_ifname_valid (const char *name);

/* moat_ifname_fault as an error with `code`, naming the field `what`
 * (e.g. "bridge"): `<what>: no interface name`, `<what> "<name>": longer
 * than 15 characters`, `<what> "<name>": not a valid interface name`.
 * 0 or -1. */
int moat_ifname_check (const char *what, const char *name, int code, moat_err_t *err);

#endif
