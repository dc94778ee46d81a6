/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_NETLINK_INTERNAL_H
#define MOAT_NETLINK_INTERNAL_H

/* Shared by netlink.c and netlink6.c only: the socket and the request
 * plumbing. Nothing else includes this. */

#include <netlink/msg.h>
#include <netlink/socket.h>

#include "base/cleanup.h"
#include "base/error.h"

/* A NETLINK_ROUTE socket bound to one namespace, and what the kernel said
 * about the last request that failed. */
struct moat_nl
{
  struct nl_sock *sk;
  char extack[160];
};

typedef int (*nl_reply_fn) (struct nlmsghdr *nlh, void *arg);

void moat_nl_conn_close (struct moat_nl *c);
#define _cleanup_nlconn_ _cleanup_ (moat_nl_conn_close)

/* Sets *err to "<what>: <strerror(-ret)>", followed by the kernel's own
 * explanation when it gave one. Returns -1. */
__attribute__ ((format (printf, 4, 5))) int moat_nl_error (moat_err_t *err, const struct moat_nl *c,
                                                           int ret, const char *fmt, ...);

/* Opens a socket bound to the namespace `nsfd` (the thread goes back). */
int moat_nl_open_in (struct moat_nl *c, int nsfd, const char *ns_path, moat_err_t *err);

/* Sends one request and reads up to its ack (or a dump's end): 0 or a
 * negative errno (-EAGAIN: a dump interrupted by a change). */
int moat_nl_talk (struct moat_nl *c, struct nl_msg *msg, nl_reply_fn on_reply, void *arg);

/* Writes `value` to /proc/sys/net/<dir>/<dev>/<key>, in the namespace the
 * calling thread is in. */
int moat_nl_sysctl_write (const char *dir, const char *dev, const char *key, const char *value,
                          moat_err_t *err);

/* Dumps `type` (RTM_GETADDR or RTM_GETROUTE) of `family`, retrying when a
 * change interrupted it; `result` is zeroed before each try. */
int moat_nl_dump (struct moat_nl *c, int family, int type, nl_reply_fn fn, void *arg, void *result,
                  size_t result_len);

#endif
