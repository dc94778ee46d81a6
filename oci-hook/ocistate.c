/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI state on the hook's stdin, and the attachments it names
 * (ocistate.h). */
#include "ocistate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/jsonnum.h"
#include "base/strv.h"
#include "hook.h"
#include "model/annot.h"
#include "model/config.h"
#include "state/state.h"

void
oci_state_free (struct oci_state *s)
{
  json_decref (s->root);
  json_decref (s->config);
  memset (s, 0, sizeof (*s));
}

int
moat_hook_stage_parse (const char *name)
{
  if (!name)
    return -1;
  if (strcmp (name, "prestart") == 0)
    return MOAT_HOOK_PRESTART;
  if (strcmp (name, "createRuntime") == 0)
    return MOAT_HOOK_CREATE_RUNTIME;
  if (strcmp (name, "poststop") == 0)
    return MOAT_HOOK_POSTSTOP;
  return -1;
}

int
oci_state_read_bundle (struct oci_state *s, moat_err_t *err)
{
  char path[4096];
  json_error_t jerr;
  json_t *a, *process;

  if (!s->bundle || !*s->bundle)
    return 0;
  if ((size_t)snprintf (path, sizeof (path), "%s/config.json", s->bundle) >= sizeof (path))
    return moat_error (err, MOAT_E_DECODE, ENAMETOOLONG, "state: bundle path too long");
  /* docker's rlimits hold 18446744073709551615: read as a real (jsonnum.h). */
  s->config = moat_json_load_file_numbers (path, JSON_REJECT_DUPLICATES, &jerr);
  if (!s->config)
    return access (path, F_OK) < 0 && errno == ENOENT
               ? 0
               : moat_error (err, MOAT_E_DECODE, 0, "%s: line %d: %s", path, jerr.line, jerr.text);
  process = json_object_get (s->config, "process");
  s->process_env = json_object_get (process, "env");
  if (s->annotations)
    return 0;
  a = json_object_get (s->config, "annotations");
  if (a && !json_is_object (a))
    return moat_error (err, MOAT_E_DECODE, 0, "%s: annotations: must be an object", path);
  s->annotations = a;
  return 0;
}

int
oci_state_parse (const char *text, size_t len, bool read_bundle, struct oci_state *s,
                 moat_err_t *err)
{
  json_error_t jerr;
  json_t *id, *pid, *bundle;

  memset (s, 0, sizeof (*s));
  s->root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!s->root)
    return moat_error (err, MOAT_E_DECODE, 0, "state on stdin: line %d: %s", jerr.line, jerr.text);
  if (!json_is_object (s->root))
    return moat_error (err, MOAT_E_DECODE, 0, "state on stdin: not a JSON object");
  id = json_object_get (s->root, "id");
  if (!json_is_string (id) || !moat_container_id_valid (json_string_value (id)))
    return moat_error (err, MOAT_E_DECODE, 0, "state: id: missing or not a valid container id");
  s->id = json_string_value (id);
  pid = json_object_get (s->root, "pid");
  if (pid && !json_is_integer (pid))
    return moat_error (err, MOAT_E_DECODE, 0, "state: pid: not an integer");
  s->pid = pid ? json_integer_value (pid) : 0;
  bundle = json_object_get (s->root, "bundle");
  if (bundle && !json_is_string (bundle))
    return moat_error (err, MOAT_E_DECODE, 0, "state: bundle: not a string");
  s->bundle = json_string_value (bundle);
  s->annotations = json_object_get (s->root, "annotations");
  if (s->annotations && !json_is_object (s->annotations))
    return moat_error (err, MOAT_E_DECODE, 0, "state: annotations: must be an object");
  if (read_bundle)
    return oci_state_read_bundle (s, err);
  return 0;
}

int
moat_hook_state_check (const char *text, size_t len, moat_err_t *err)
{
  _cleanup_ (oci_state_free) struct oci_state s = { 0 };
  struct moat_annotations a;

  if (oci_state_parse (text, len, false, &s, err) < 0
      || moat_annotations_parse (s.annotations, &a, err) < 0)
    return -1;
  moat_annotations_free (&a);
  return 0;
}

/* --- finding the attachments -------------------------------------------- */

void
attachments_free (struct attachments *a)
{
  for (size_t i = 0; i < a->n; i++)
    {
      free (a->v[i].network);
      free (a->v[i].key);
    }
  free (a->v);
  memset (a, 0, sizeof (*a));
}

int
attachments_push (struct attachments *a, const char *network, const char *key, bool by_id)
{
  struct attachment *v = realloc (a->v, (a->n + 1) * sizeof (*v));

  if (!v)
    return -1;
  a->v = v;
  v[a->n] = (struct attachment){ .network = strdup (network), .key = strdup (key), .by_id = by_id };
  if (!v[a->n].network || !v[a->n].key)
    {
      free (v[a->n].network);
      free (v[a->n].key);
      return -1;
    }
  a->n++;
  return 0;
}

/* Keys are "<id>@<ifname>". */
static bool
key_of_container (const char *key, const char *id)
{
  size_t n = strlen (id);

  return strncmp (key, id, n) == 0 && key[n] == '@';
}

static bool
same_netns (const char *path, const struct stat *target)
{
  struct stat st;

  return path && stat (path, &st) == 0 && st.st_dev == target->st_dev
         && st.st_ino == target->st_ino;
}

/* By id; failing that, by the network namespace of `pid` (a container
 * sharing another's namespace, as in a pod). */
int
find_attachments (const struct oci_state *s, struct attachments *ret, moat_err_t *err)
{
  _cleanup_ (moat_strv_freep) char **networks = NULL;
  char nspath[64];
  struct stat target;
  bool by_netns = false;

  if (moat_networks_list (&networks, err) < 0)
    return -1;
  for (int pass = 0; pass < 2 && ret->n == 0; pass++)
    {
      if (pass == 1)
        {
          snprintf (nspath, sizeof (nspath), "/proc/%lld/ns/net", s->pid);
          if (s->pid <= 0 || stat (nspath, &target) < 0)
            break;
          by_netns = true;
        }
      for (char **net = networks; *net; net++)
        {
          _cleanup_ (moat_strv_freep) char **keys = NULL;

          if ((by_netns ? moat_record_list (*net, &keys, err)
                        : moat_record_list_container (*net, s->id, &keys, err))
              < 0)
            return -1;
          for (char **k = keys; *k; k++)
            {
              struct moat_record rec;
              bool match;

              if (!by_netns)
                match = key_of_container (*k, s->id);
              else if (moat_record_read (*net, *k, &rec, err) <= 0)
                continue;
              else
                {
                  match = same_netns (rec.netns, &target);
                  moat_record_free (&rec);
                }
              if (match && attachments_push (ret, *net, *k, !by_netns) < 0)
                return moat_error (err, MOAT_E_IO, ENOMEM, "attachments");
            }
        }
    }
  return 0;
}
