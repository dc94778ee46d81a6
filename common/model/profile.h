/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_PROFILE_H
#define MOAT_PROFILE_H

/* The policy file (moat-annotations(5), POLICY FILE): named profiles a container picks with
 * io.moat.policy=NAME or the label PolicyIndex=NAME. Two formats:
 *
 * Trireme's policy.json, as it is: an object of profile name →
 *   ApplicationACLs  [{Address, Port, Protocol, Policy: {Action}}]   egress
 *   NetworkACLs      [{Address, Port, Protocol, Policy: {Action}}]   ingress
 *   Dependencies     [{Clause: [{Key, Operator, Value}], Policy: {Action}}]  depends
 *   TagSelectors     [{Clause: [{Key, Operator, Value}], Policy: {Action}}]  expose
 * Address is a.b.c.d[/len]; Port "80", "100-200" or "" (every port);
 * Protocol TCP, UDP, ICMP, or ""/ALL/ANY. Clauses are ANDed, rules ORed.
 * Operators: = (the key has one of the values), =! (none of them), *
 * (exists), !* (absent). Keys are @usr:<label> or @sys:<name>. Action is
 * a bitmask: 1 accept, 2 reject (reject wins: the rule refuses), 8 log
 * (nothing to do here); a rule that neither accepts nor rejects is
 * ignored. Field names are matched without case, as Trireme's Go decoder
 * does; an unknown field is an error, since a misspelt Dependencies would
 * fall back to the shared-label rule.
 *
 * moat's own form: {"profiles": {NAME: {"labels": "app=web", "depends":
 * …, "expose", "allow-host", "egress", "ingress", "internet", "proxy"}}},
 * each value the string its io.moat.* annotation takes.
 *
 * Every error is MOAT_E_CONFIG, one line naming the file, the profile and
 * the field: `/etc/moat/policy.json: profile "Web": ApplicationACLs[2].Port:
 * "70000" out of range (1-65535)`. */

#include <stddef.h>

#include "model/annot.h"
#include "base/error.h"

#define MOAT_POLICY_FILE_DEFAULT "/etc/moat/policy.json"
#define MOAT_PROFILES_MAX 4096
#define MOAT_POLICY_FILE_MAX (4 << 20)

struct moat_profiles;

/* Parses `len` bytes of `text`; `origin` names it in errors. */
int moat_profiles_parse (const char *text, size_t len, const char *origin,
                         struct moat_profiles **ret, moat_err_t *err);
/* Reads and parses the file (at most MOAT_POLICY_FILE_MAX bytes). */
int moat_profiles_load (const char *path, struct moat_profiles **ret, moat_err_t *err);
/* The profile, or NULL when there is none of that name. Borrowed. */
const struct moat_annotations *moat_profiles_find (const struct moat_profiles *p, const char *name);
void moat_profiles_free (struct moat_profiles *p);

#endif
