/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_HOOK_OCISTATE_H
#define MOAT_HOOK_OCISTATE_H

/* What the hook reads before it plans (hook.c): the OCI state on stdin
 * with the bundle's config.json, and the container's attachments found
 * in moat's records. */

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "base/error.h"

struct oci_state
{
  json_t *root;
  const char *id;
  long long pid; /* 0: none */
  const char *bundle;
  json_t *annotations; /* borrowed from `root` or `config` */
  json_t *process_env; /* config.json's process.env, borrowed; NULL: none */
  bool env_used;       /* settings were taken from process_env (effective_annotations) */
  json_t *config;      /* the bundle's config.json, when read */
};

void oci_state_free (struct oci_state *s);
/* The state's id, pid, bundle and annotations; with `read_bundle`, also
 * config.json's annotations (when the state has none) and process.env. */
int oci_state_parse (const char *text, size_t len, bool read_bundle, struct oci_state *s,
                     moat_err_t *err);
/* config.json in the bundle: the annotations, for runtimes whose state
 * lacks them, and process.env, for the MOAT_* fallback (none: 0). */
int oci_state_read_bundle (struct oci_state *s, moat_err_t *err);

struct attachment
{
  char *network;
  char *key;
  bool by_id;     /* found by the container's id, not by its namespace */
  bool by_hook;   /* poststop: the hook made it (its record says so) */
  bool delegated; /* poststop: its address is a delegated IPAM plugin's */
  bool orphan;    /* poststop: no record (an ADD killed before writing it):
                     what it left goes by the plugin's DEL, with the
                     network's configuration found by name */
  bool from_env;  /* an orphan named by MOAT_NETWORK alone: only for a
                     network that reads the environment */
};

struct attachments
{
  struct attachment *v;
  size_t n;
};

void attachments_free (struct attachments *a);
int attachments_push (struct attachments *a, const char *network, const char *key, bool by_id);
/* The container's attachments: by its id; failing that, by the network
 * namespace of its pid (a container sharing another's, as in a pod). */
int find_attachments (const struct oci_state *s, struct attachments *ret, moat_err_t *err);

#endif
