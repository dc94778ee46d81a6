/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_NFNL_H
#define MOAT_NFNL_H

#include <libmnl/libmnl.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cleanup.h"
#include "base/error.h"

/* One request on a netfilter netlink socket (ctnetlink, nf_tables) and
 * its replies, read to the end. */

DEFINE_TRIVIAL_CLEANUP_FUNC (struct mnl_socket *, mnl_socket_close)

/* A NETLINK_NETFILTER socket, close-on-exec, bound. Errors (MOAT_E_NFT):
 * "<who>: cannot open netlink socket", "<who>: cannot bind netlink
 * socket". */
int moat_nfnl_open (struct mnl_socket **ret, const char *who, moat_err_t *err);

/* Where an exchange failed. */
enum moat_nfnl_failure
{
  MOAT_NFNL_SEND = 1, /* the request was not sent */
  MOAT_NFNL_RECV,     /* a reply could not be read */
  MOAT_NFNL_REPLY,    /* the kernel refused (errno: its error), or cb said MNL_CB_ERROR */
};

/* Sees each datagram as read, before cb: e.g. to note and clear
 * NLM_F_DUMP_INTR, at which libmnl would stop. */
typedef void (*moat_nfnl_read_fn) (void *buf, size_t len, void *data);

/* Reads the replies to request `seq` sent on nl, handing each data
 * message to `cb` (may be NULL) through mnl_cb_run, until the kernel ends
 * the exchange: the ack, NLMSG_DONE, or an error. `buf` (`size` bytes)
 * receives them; `on_read` (may be NULL) sees each datagram first.
 * Returns 0, or -1 with errno and *ret_failed (MOAT_NFNL_RECV or
 * MOAT_NFNL_REPLY). */
int moat_nfnl_recv (struct mnl_socket *nl, uint32_t seq, void *buf, size_t size, mnl_cb_t cb,
                    void *data, moat_nfnl_read_fn on_read, enum moat_nfnl_failure *ret_failed);

/* Sends `req` (its nlmsg_seq set) and reads the replies that answer it,
 * handing each data message to `cb` (may be NULL) through mnl_cb_run,
 * until the kernel ends the exchange: the ack, NLMSG_DONE, or an error.
 * `buf` (`size` bytes) receives the replies; it may be where req was
 * built. `on_read` may be NULL. Returns 0, or -1 with errno and the step
 * in *ret_failed. */
int moat_nfnl_talk (struct mnl_socket *nl, const struct nlmsghdr *req, void *buf, size_t size,
                    mnl_cb_t cb, void *data, moat_nfnl_read_fn on_read,
                    enum moat_nfnl_failure *ret_failed);

#endif
