/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_LANDLOCK_H
#define MOAT_LANDLOCK_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

/* Where a confined moat binary may still write, enforced by Landlock
 * (Linux >= 5.13) next to its seccomp filter (confine.h). Landlock is
 * about paths: once applied, writing a file, creating, removing, renaming
 * or linking one (and, with Landlock ABI 3, truncating one) succeeds only
 * beneath the directories of the set, and /dev/null may be written;
 * anywhere else the kernel answers EACCES (EXDEV for a hard link from
 * outside into the set). Device nodes, FIFOs, sockets and symlinks can be
 * made nowhere. Reads, exec and ioctls
 * are not restricted: moat reads its configuration, the bundle's
 * config.json, the policy file and the network namespace wherever they are
 * configured to be, and runs delegated IPAM plugins from CNI_PATH. The
 * restriction is inherited across fork and exec, so a delegated IPAM
 * plugin gets it too: its own write directories are part of the set
 * (moat_write_set_add_ipam). A restricted process may not reach
 * /proc/<pid>/ns/net of a process outside its domain (Landlock's ptrace
 * rule): a network namespace named that way is opened before. */

#define MOAT_WRITE_DIRS_MAX 4

struct moat_write_dir
{
  char path[PATH_MAX];
  mode_t create_mode; /* made (mkdir -p) when missing; 0: skipped when missing */
};

struct moat_write_set
{
  struct moat_write_dir dirs[MOAT_WRITE_DIRS_MAX];
  size_t n;
  /* Also write (not create) the bridge's settings: files beneath
   * /proc/sys/net/ipv4/conf and /proc/sys/net/ipv4/neigh. */
  bool sysctls;
  /* Also write the container's IPv6 interface settings (a dual-stack
   * network, netlink.h): files beneath /proc/sys/net/ipv6/conf as the
   * network namespace `netns_fd` sees it (a directory of its own there). */
  bool netns_sysctls;
  int netns_fd;
  /* A delegated program whose writes moat cannot know (an IPAM plugin
   * other than host-local, static and dhcp): this layer is not applied
   * (the early one stays). */
  bool unknown_writer;
  /* Too many directories or one too long: an error at confine time. */
  bool overflow;
  /* One file that may be rewritten in place, not made (""): the
   * container's resolv.conf that hook-driven attach points at its
   * network's name server. */
  char file[PATH_MAX];
};

/* Adds `path` (absolute, or relative to the working directory). */
void moat_write_set_add (struct moat_write_set *w, const char *path, mode_t create_mode);

/* What the delegated IPAM plugin of the configuration section `ipam`
 * ({"type": ..., ...}; NULL: none) writes: host-local its "dataDir"
 * (default /var/lib/cni/networks, made 0755 as host-local would);
 * static and dhcp nothing (dhcp talks to its daemon's socket, which
 * Landlock does not restrict); anything else sets unknown_writer. */
void moat_write_set_add_ipam (struct moat_write_set *w, json_t *ipam);

enum moat_landlock_outcome
{
  MOAT_LANDLOCK_NONE,     /* not applied: the kernel has no Landlock or it is
                             disabled, valgrind (which does not know its
                             syscalls), or w->unknown_writer */
  MOAT_LANDLOCK_ENFORCED, /* the calling process (and its children) */
};

/* Restricts the calling process's writes to the set (see above): makes the
 * directories that are missing and have a create_mode, sets
 * no_new_privs, and uses only the access rights the kernel's Landlock ABI
 * has. Call it before moat_seccomp_confine, whose allowlists do not pass
 * Landlock's syscalls, and before any thread exists. Where Landlock is
 * missing or disabled this is not an error: the outcome says so, and
 * nothing is printed. Returns the outcome, or -1 with *err set (the
 * process is then not restricted: callers fail closed). */
int moat_landlock_confine (const struct moat_write_set *w, moat_err_t *err);

/* The first of two layers, for before any input is read: nowhere may the
 * process (or what it runs) make a device node, a FIFO, a socket or a
 * symlink, which no configuration ever needs. The second layer,
 * moat_landlock_confine once the input says what will be written, then
 * narrows writes to the set. Same outcome and errors. */
int moat_landlock_confine_early (moat_err_t *err);

/* The Landlock ABI version of the running kernel: 0 when it has none or
 * it is disabled. */
int moat_landlock_abi (void);

#endif
