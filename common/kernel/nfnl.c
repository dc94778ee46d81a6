/* SPDX-License-Identifier: Apache-2.0 */
#include "kernel/nfnl.h"

#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>

int
moat_nfnl_open (struct mnl_socket **ret, const char *who, moat_err_t *err)
{
  _cleanup_ (mnl_socket_closep) struct mnl_socket *nl
      = mnl_socket_open2 (NETLINK_NETFILTER, SOCK_CLOEXEC);

  if (!nl)
    return moat_error (err, MOAT_E_NFT, errno, "%s: cannot open netlink socket", who);
  if (mnl_socket_bind (nl, 0, MNL_SOCKET_AUTOPID) < 0)
    return moat_error (err, MOAT_E_NFT, errno, "%s: cannot bind netlink socket", who);
  *ret = TAKE_PTR (nl);
  return 0;
}

static int
failed (enum moat_nfnl_failure where, enum moat_nfnl_failure *ret_failed)
{
  *ret_failed = where;
  return -1;
}

int
moat_nfnl_recv (struct mnl_socket *nl, uint32_t seq, void *buf, size_t size, mnl_cb_t cb,
                void *data, moat_nfnl_read_fn on_read, enum moat_nfnl_failure *ret_failed)
{
  uint32_t portid = mnl_socket_get_portid (nl);
  int r = MNL_CB_OK;

  while (r > MNL_CB_STOP)
    {
      ssize_t len = mnl_socket_recvfrom (nl, buf, size);

      if (len < 0)
        return failed (MOAT_NFNL_RECV, ret_failed);
      if (on_read)
        on_read (buf, (size_t)len, data);
      r = mnl_cb_run (buf, (size_t)len, seq, portid, cb, data);
    }
  if (r < 0)
    return failed (MOAT_NFNL_REPLY, ret_failed);
  return 0;
}

int
moat_nfnl_talk (struct mnl_socket *nl, const struct nlmsghdr *req, void *buf, size_t size,
                mnl_cb_t cb, void *data, moat_nfnl_read_fn on_read,
                enum moat_nfnl_failure *ret_failed)
{
  if (mnl_socket_sendto (nl, req, req->nlmsg_len) < 0)
    return failed (MOAT_NFNL_SEND, ret_failed);
  return moat_nfnl_recv (nl, req->nlmsg_seq, buf, size, cb, data, on_read, ret_failed);
}
