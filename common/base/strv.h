/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_STRV_H
#define MOAT_STRV_H

#include <stdbool.h>
#include <stddef.h>

/* A string vector: a malloc'd, NULL-terminated array of malloc'd strings
 * (*v NULL counts as empty), with its length in *n. A push that fails
 * leaves the vector as it was, still NULL-terminated. */

/* Appends s, taken over (freed when the push fails; NULL, a failed
 * strdup, fails). 0 or -1 (out of memory). */
int moat_strv_push_take (char ***v, size_t *n, char *s);

/* Appends a copy of s. 0 or -1 (out of memory). */
int moat_strv_push (char ***v, size_t *n, const char *s);

/* Frees every string and the array; NULL is fine. */
void moat_strv_free (char **v);
static inline void
moat_strv_freep (char ***v)
{
  moat_strv_free (*v);
}

bool moat_strv_contains (char *const *v, const char *s);

#endif
