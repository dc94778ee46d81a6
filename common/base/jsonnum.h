/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_JSONNUM_H
#define MOAT_JSONNUM_H

/* JSON numbers jansson cannot hold as written. jansson keeps an integer in
 * a json_int_t (long long) and refuses a larger one; it keeps a real in a
 * double and prints it back its own way. runc (Go) reads both, and docker
 * writes 18446744073709551615 into config.json for an unlimited rlimit
 * (`--ulimit core=-1`). So config.json is read with each such number --
 * an integer beyond json_int_t, "-0", any number with a fraction or an
 * exponent -- standing in the tree as a placeholder: a string holding NUL
 * and the number's index. The number's text is kept, to be written back
 * unchanged (moat_json_dumps_numbers), or the placeholder is replaced by a
 * real of about its value for readers that only look at types
 * (moat_json_numbers_as_reals).
 *
 * A placeholder cannot be mistaken for the document's own strings: those
 * are read without JSON_ALLOW_NUL, so none holds NUL. A text whose strings
 * hold \u0000 is therefore parsed as it is, and jansson refuses it as it
 * always has. A number where an object key belongs (not JSON) is refused
 * too, with a message of its own. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct moat_json_numbers
{
  char **text; /* text[i]: the number placeholder i stands for, as written */
  size_t n;
};

void moat_json_numbers_free (struct moat_json_numbers *numbers);

/* json_loadb (text, len, flags, jerr) with the numbers jansson would not
 * give back as written read as placeholders, their text into *ret_numbers
 * (free it with moat_json_numbers_free, also after a failure). Line
 * numbers in jerr are the text's. NULL on a parse error, or with
 * jerr->text "out of memory". */
json_t *moat_json_loadb_numbers (const char *text, size_t len, size_t flags,
                                 struct moat_json_numbers *ret_numbers, json_error_t *jerr);

/* Whether v is one of the placeholders of numbers. */
bool moat_json_is_number_placeholder (const json_t *v, const struct moat_json_numbers *numbers);

/* Replaces every placeholder in root by a real of its number's value
 * (+-DBL_MAX beyond a double's range). -1: out of memory. */
int moat_json_numbers_as_reals (json_t *root, const struct moat_json_numbers *numbers);

/* json_dumps (root, flags) with every placeholder written as the number it
 * stands for. NULL: out of memory. */
char *moat_json_dumps_numbers (const json_t *root, size_t flags,
                               const struct moat_json_numbers *numbers);

/* json_load_file for a reader: its numbers as reals (above), none
 * refused for its size. */
json_t *moat_json_load_file_numbers (const char *path, size_t flags, json_error_t *jerr);

#endif
