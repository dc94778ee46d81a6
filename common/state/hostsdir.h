/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_HOSTSDIR_H
#define MOAT_HOSTSDIR_H

/* A network's names on disk (docs/design.md, "Names"):
 *
 *   <run dir>/<network>/hosts.d/<container>@<ifname>   one hosts line per attachment
 *   <run dir>/<network>/dnsmasq.pid                    its name server's pid
 *
 * The name server (dnsmasq --hostsdir) re-reads hosts.d by inotify: a join
 * is one small file written atomically (a dot-named temporary file, which
 * dnsmasq ignores, then a rename), a leave one unlink. */

#include <stddef.h>

#include "base/error.h"

#define MOAT_HOSTSDIR "hosts.d"
#define MOAT_DNS_PIDFILE "dnsmasq.pid"

/* <run dir>/<network>/hosts.d and <run dir>/<network>/dnsmasq.pid; -1 when
 * too long. */
int moat_hostsdir_path (char *buf, size_t size, const char *network);
int moat_dns_pidfile_path (char *buf, size_t size, const char *network);

/* Writes (replaces) the attachment's hosts line, making hosts.d when
 * needed; files are 0644 and hosts.d 0755 (dnsmasq reads them as an
 * unprivileged user). An empty line removes the file instead. */
int moat_hosts_write (const char *network, const char *key, const char *line, moat_err_t *err);
/* Removes it; gone already is success. */
int moat_hosts_remove (const char *network, const char *key, moat_err_t *err);

#endif
