/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CTL_WORDS_H
#define MOAT_CTL_WORDS_H

/* The words moatctl run and moatctl host attach share: their options'
 * values and the --label / --annotation items they collect. */

#include <jansson.h>

/* "--x VALUE" or "--x=VALUE" at argv[*i] (then *i is past VALUE): the
 * value, "" when it is missing or empty, NULL when argv[*i] is not `name`. */
const char *moat_ctl_option_value (int argc, char **argv, int *i, const char *name);

/* Appends "k=v" to `labels`, or `--annotation io.moat.KEY=VALUE` to
 * `annotations`. NULL when taken, else why not: a format naming the item
 * with one %s (the caller prints it with its verb's prefix). */
const char *moat_ctl_label_take (json_t *labels, const char *kv);
const char *moat_ctl_annotation_take (json_t *annotations, const char *kv);

#endif
