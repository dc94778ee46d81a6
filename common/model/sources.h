/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_SOURCES_H
#define MOAT_SOURCES_H

/* A container's own policy sources, kept in each of its attachment records
 * ("sources") so that an attachment made later, to another network, takes
 * the same policy (docs/design.md, "A container on several networks"):
 *
 *   {"annotations": {"io.moat.labels": "app=web", ...},
 *    "env": ["MOAT_ALLOW_HOST=tcp/80", ...]}
 *
 * the io.moat.* annotations of its config.json and the MOAT_* entries of
 * its process.env, nothing else of either (the environment may hold
 * secrets). The hook writes them at prestart; a runtime's ADD for a
 * container id with another attachment (`podman network connect`) reads
 * them. */

#include <jansson.h>
#include <stdbool.h>

#include "base/error.h"

/* The sources from OCI config.json's "annotations" and "process.env"
 * (either NULL). NULL on ENOMEM. */
json_t *moat_sources_new (json_t *annotations, json_t *process_env);

/* The annotations a new attachment applies: the sources' annotations, with
 * the MOAT_* environment under them when the new network reads it
 * (`read_env`, annot.h's moat_annotations_with_env), less the keys that
 * direct one attachment only (io.moat.network, io.moat.publish,
 * io.moat.ip, io.moat.name, io.moat.aliases). *ret: a new object. */
int moat_sources_annotations (json_t *sources, bool read_env, json_t **ret, moat_err_t *err);

#endif
