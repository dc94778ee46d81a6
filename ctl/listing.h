/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CTL_LISTING_H
#define MOAT_CTL_LISTING_H

#include <stdbool.h>

#include <jansson.h>

/* moat_ctl_list's containers as text: a table (ls), or, when `one`,
 * every field of each (show). */
void ctl_print_containers (json_t *list, bool one);
/* moat_ctl_stats' counters as a table (stats). */
void ctl_print_stats (json_t *stats);
/* A container's address in a listing: its IPv4 one, else (IPv6-only) its
 * IPv6 one, else "-". */
const char *ctl_container_address (json_t *c);

#endif
