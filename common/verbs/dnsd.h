/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_DNSD_H
#define MOAT_DNSD_H

/* A network's name server (docs/design.md, "Names"): one dnsmasq per
 * network with "dns", listening on the bridge's gateway address only,
 * serving <run dir>/<network>/hosts.d (state/hostsdir.h). The first
 * attachment starts it, the last DEL stops it, both under the network's
 * lock.
 *
 * A confined moat process may neither fork, exec, change user nor signal
 * another process (kernel/confine.h), and dnsmasq must not inherit its
 * seccomp filter. So the process forks a launcher before it confines
 * itself (moat_dnsd_prepare): the launcher closes every inherited file
 * (the CNI plugin's stdout is the engine's pipe), waits for one request
 * on a pipe, does it, answers and exits. It only ever runs
 * /usr/sbin/dnsmasq with arguments it builds itself, or signals the
 * dnsmasq that the network's pid file names. */

#include <netinet/in.h>
#include <stdbool.h>

#include "base/error.h"
#include "model/record.h"

#define MOAT_DNSMASQ "/usr/sbin/dnsmasq"
#define MOAT_DNSMASQ_USER "dnsmasq"

struct moat_dnsd
{
  int pid;     /* the launcher; -1: none */
  int request; /* write end of its request pipe */
  int reply;   /* read end of its reply pipe */
};
#define MOAT_DNSD_NONE                                                                             \
  {                                                                                                \
    -1, -1, -1                                                                                     \
  }

/* Forks the launcher (before any confinement). It takes requests until
 * moat_dnsd_release. */
int moat_dnsd_prepare (struct moat_dnsd *d, moat_err_t *err);
/* Closes the pipes: an unused launcher exits. */
void moat_dnsd_release (struct moat_dnsd *d);

/* Starts the network of `rec`'s dnsmasq unless it runs, listening on the
 * record's gateway addresses (IPv4 unless IPv6-only, IPv6 when it has
 * one). With the record's "internet", names outside the network go to
 * the host's resolvers; else dnsmasq answers only the network's names.
 * Caller holds the network's lock. */
int moat_dnsd_ensure (struct moat_dnsd *d, const struct moat_record *rec, moat_err_t *err);
/* Stops it (not running is success) and removes its pid file. */
int moat_dnsd_stop (struct moat_dnsd *d, const char *network, moat_err_t *err);

/* 1 when the network's dnsmasq runs (its pid file names a live dnsmasq
 * started for this network), 0 when not, -1 with *err on an unreadable
 * state. Needs no launcher. */
int moat_dnsd_running (const char *network, int *ret_pid, moat_err_t *err);

#endif
