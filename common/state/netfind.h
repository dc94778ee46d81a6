/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_STATE_NETFIND_H
#define MOAT_STATE_NETFIND_H

/* Finding a network configuration by its name, for the hook-driven attach
 * (moat-hook(8)), the way CNI runtimes built on libcni find one:
 *
 * - the directories of MOAT_NETWORK_DIRS (colon-separated), else
 *   MOAT_NETWORK_DIRS_DEFAULT, one after the other;
 * - in each, the files named *.conflist, *.conf or *.json (not
 *   directories), in lexical (byte) order;
 * - the first whose "name" is the name wins. A conflist (a "plugins"
 *   array) gives its plugin of type "moat", with the list's "name" and
 *   "cniVersion" injected as libcni does (a list with only "cniVersions"
 *   gives the newest of them moat speaks); a single configuration must be
 *   of type "moat" itself.
 *
 * Every file read on the way must be a JSON object with a string "name"
 * (libcni refuses the whole directory otherwise); its other keys matter
 * only when it is the one. Errors are one line, MOAT_E_CONFIG:
 *   network "NAME" not found in DIR:DIR (files *.conflist, *.conf, *.json)
 *   FILE: network "NAME" has no plugin of type "moat"
 *   FILE: line N: <what the JSON parser says>
 *   FILE: plugins: must be an array of objects */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

#define MOAT_NETWORK_DIRS_DEFAULT "/etc/moat/networks:/etc/cni/net.d"
/* A configuration file larger than this is refused. */
#define MOAT_NETWORK_FILE_MAX (1 << 20)

/* MOAT_NETWORK_DIRS from the environment when set and not empty, else the
 * default. */
const char *moat_network_dirs (void);

/* One file's text (len bytes; file names it in errors): 1 and, in *ret, a
 * new object, the moat plugin's configuration with "name" and
 * "cniVersion" injected, when the file is network `name`; 0 when it is
 * another network; -1 when it is malformed, or is `name` but has no moat
 * plugin. Pure: touches no file. */
int moat_netfind_parse (const char *text, size_t len, const char *file, const char *name,
                        json_t **ret, moat_err_t *err);

/* Searches `dirs` (NULL: moat_network_dirs ()) for network `name`: its
 * moat plugin's configuration as compact JSON text in *ret_text (for
 * moat_netconf_parse) and the file it came from in *ret_file, both
 * malloc'd. A directory that does not exist is skipped. */
int moat_netfind (const char *name, const char *dirs, char **ret_text, char **ret_file,
                  moat_err_t *err);

#endif
