/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_SHIM_H
#define MOAT_SHIM_H

/* moat-runtime, the docker shim (moat-runtime(8), hook-driven attach). dockerd
 * (through containerd's runc shim) runs it with runc's command line:
 *
 *   moat-runtime [MOAT OPTION...] [RUNC GLOBAL OPTION...] COMMAND [ARG...]
 *
 * moat's own options come first (so that they fit daemon.json's
 * runtimeArgs) and are taken off before the real runtime is exec'd with the
 * rest, unchanged:
 *
 *   --moat-hook PATH     the hook to add (default: moat_shim_default_hook)
 *   --moat-runtime PATH  the runtime to exec (default "runc", from PATH)
 *   --moat-env K=V       one entry of the hook's environment (repeatable)
 *
 * (also --moat-hook=PATH and so on). For `create` and `run`, the bundle's
 * config.json (--bundle, -b; default the working directory) is read; when
 * the container asks for moat (an io.moat.* annotation, or a MOAT_*
 * variable in process.env) moat-hook is appended to hooks.prestart and
 * hooks.poststop unless a hook with its path is there already, and the
 * file is replaced atomically, everything else kept. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* Hook environment variables moat-runtime passes on from its own
 * environment, before any --moat-env (which wins). */
#define MOAT_SHIM_FORWARD_ENV "MOAT_RUN_DIR", "MOAT_NETWORK_DIRS", "CNI_PATH"
/* The hook's PATH unless one is given: runc runs a hook with exactly the
 * environment config.json gives it. */
#define MOAT_SHIM_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* config.json larger than this is refused. */
#define MOAT_SHIM_CONFIG_MAX (16 << 20)

/* The hook moat-runtime adds: its path and its environment ("K=V"
 * strings, one per name). */
struct moat_shim_hook
{
  const char *path;
  json_t *env; /* array of strings, owned */
};

struct moat_shim_args
{
  struct moat_shim_hook hook;
  const char *runtime; /* what to exec */
  char **runtime_argv; /* runc's arguments (no argv[0]); points into argv */
  int runtime_argc;
  const char *command; /* runc's command word; NULL when none */
  const char *bundle;  /* --bundle's value; NULL: the working directory */
  bool hook_given;     /* --moat-hook was given (else hook.path is MOAT_HOOK_PATH) */
  bool help;           /* only --help (or -h) after moat's options */
  bool version;        /* only --version (or -v) after moat's options */
};

/* Splits argv (argv[0] is moat-runtime) into moat's options and runc's
 * command line, and finds runc's command and bundle. envp (may be NULL)
 * supplies the variables of MOAT_SHIM_FORWARD_ENV. On success *ret owns
 * ret->hook.env (moat_shim_args_free) and borrows the strings of argv.
 * Errors are MOAT_E_ENV, naming the option. */
int moat_shim_args_parse (int argc, char **argv, char *const *envp, struct moat_shim_args *ret,
                          moat_err_t *err);
void moat_shim_args_free (struct moat_shim_args *args);

/* runc's --log and --log-format among the global options of argv (as
 * given to moat-runtime; moat's options are skipped, even malformed ones):
 * *ret_path is NULL when there is no --log, *ret_json is true for
 * --log-format json. For reporting an error where containerd looks. */
void moat_shim_find_log (int argc, char **argv, const char **ret_path, bool *ret_json);

/* True for runc commands that take a bundle to create a container from. */
bool moat_shim_command_creates (const char *command);

/* Sets "K=V" in a hook environment (an array of "K=V" strings), replacing
 * an entry for K. MOAT_E_ENV when entry has no '=' or an empty name. */
int moat_shim_env_set (json_t *env, const char *entry, moat_err_t *err);

/* Whether config (a parsed config.json) asks for moat: an annotation key
 * starting "io.moat.", or an entry of process.env starting "MOAT_". A
 * field of the wrong type is MOAT_E_CONFIG naming it. */
int moat_shim_config_wants_moat (const json_t *config, bool *ret_wants, moat_err_t *err);

/* Appends the hook to hooks.prestart (args ["moat-hook", "prestart"]) and
 * hooks.poststop of config unless the stage has a hook with the same path;
 * *ret_changed says whether anything was added. MOAT_E_CONFIG names a field
 * of the wrong type; config is unchanged then. */
int moat_shim_config_add_hooks (json_t *config, const struct moat_shim_hook *hook,
                                bool *ret_changed, moat_err_t *err);

/* dockerd's names for the container (docs/design.md, "Names"): from
 * `v2`, its config.v2.json, "Name" (without the leading '/') as
 * io.moat.name and the compose service label com.docker.compose.service
 * as io.moat.aliases, each when it is a DNS label and the container did
 * not set that annotation itself. moat_shim_edit_text finds config.v2.json
 * next to the /etc/hosts bind mount's source (<data-root>/containers/<id>/
 * hosts) and adds these with the hook. */
int moat_shim_docker_names (json_t *config, const json_t *v2, bool *ret_changed, moat_err_t *err);

/* The whole edit on text: parses it (name labels errors: "NAME: line 3:
 * ..."), adds the hook when the container asks for moat. *ret_text is the
 * new compact JSON (free it), every number as it was written (jsonnum.h),
 * or NULL when nothing changes. */
int moat_shim_edit_text (const char *text, size_t len, const char *name,
                         const struct moat_shim_hook *hook, char **ret_text, moat_err_t *err);

/* The edit on BUNDLE/config.json (bundle NULL or "": "."), replaced by
 * rename from a temporary file in the bundle with the same mode. On any
 * error the file is unchanged. *ret_changed (may be NULL) says whether it
 * was rewritten. */
int moat_shim_edit_bundle (const char *bundle, const struct moat_shim_hook *hook, bool *ret_changed,
                           moat_err_t *err);

#endif
