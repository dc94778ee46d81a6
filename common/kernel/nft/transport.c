/* SPDX-License-Identifier: Apache-2.0 */
/* The netlink socket to nf_tables: one sendmsg per batch, then every
 * ack it owes read back, with the kernel's extended ack message. A single
 * request (a dump, a get) goes through kernel/nfnl.h instead. */
#include "kernel/nft/internal.h"

void
nft_reply_done (struct reply *r)
{
  free (r->errnums);
  r->errnums = NULL;
}

int
nft_reply_errnum_at (const struct reply *r, uint32_t seq)
{
  return seq - r->first_seq < r->nseq ? r->errnums[seq - r->first_seq] : 0;
}

struct talk
{
  bool *pending; /* by seq - first_seq: an ack is still owed */
  size_t npending;
  uint32_t batch_seq; /* the batch-begin message: errors for the batch as a whole */
  bool is_batch;
  bool batch_failed;
  struct reply *reply;
  mnl_cb_t on_data; /* NULL: data messages are ignored */
  void *data_arg;
};

static void
extack_message (const struct nlmsghdr *nlh, char *buf, size_t size)
{
  const struct nlmsgerr *e = mnl_nlmsg_get_payload (nlh);
  size_t payload_len = mnl_nlmsg_get_payload_len (nlh);
  size_t offset = sizeof (*e);
  const struct nlattr *attr, *tlvs;

  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
    return;
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
    offset += e->msg.nlmsg_len - sizeof (struct nlmsghdr);
  if (payload_len <= offset)
    return;
  tlvs = (const struct nlattr *)((const char *)e + offset);
  mnl_attr_for_each_payload (tlvs, payload_len - offset)
  {
    if (mnl_attr_get_type (attr) == NLMSGERR_ATTR_MSG
        && mnl_attr_validate (attr, MNL_TYPE_NUL_STRING) == 0)
      snprintf (buf, size, "%s", mnl_attr_get_str (attr));
  }
}

static int
on_ack (const struct nlmsghdr *nlh, void *data)
{
  struct talk *t = data;
  struct reply *r = t->reply;
  const struct nlmsgerr *e;
  uint32_t index = nlh->nlmsg_seq - r->first_seq;
  int errnum;

  if (mnl_nlmsg_get_payload_len (nlh) < sizeof (*e))
    {
      errno = EBADMSG;
      return MNL_CB_ERROR;
    }
  e = mnl_nlmsg_get_payload (nlh);
  errnum = -e->error;
  if (index < r->nseq && t->pending[index])
    {
      t->pending[index] = false;
      t->npending--;
      r->errnums[index] = errnum;
    }
  else if (t->is_batch && nlh->nlmsg_seq == t->batch_seq && errnum)
    t->batch_failed = true;
  else
    return MNL_CB_OK; /* not ours: a late reply to an earlier request */
  if (errnum && !r->errnum)
    {
      r->errnum = errnum;
      r->seq = nlh->nlmsg_seq;
      extack_message (nlh, r->extack, sizeof (r->extack));
    }
  return MNL_CB_OK;
}

static int
route_data (const struct nlmsghdr *nlh, void *data)
{
  struct talk *t = data;

  return t->on_data ? t->on_data (nlh, t->data_arg) : MNL_CB_OK;
}

static int
run_replies (struct talk *t, const void *buf, size_t len, uint32_t portid)
{
  mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = on_ack };

  return mnl_cb_run2 (buf, len, 0, portid, route_data, t, ctl, ARRAY_SIZE (ctl));
}

/* Marks every message that asked for an ack as owed one. */
static int
talk_init (struct talk *t, struct iovec *iov, int n, struct reply *reply)
{
  const struct nlmsghdr *first = iov[0].iov_base;
  uint32_t last_seq = first->nlmsg_seq;

  nft_reply_done (reply);
  memset (reply, 0, sizeof (*reply));
  memset (t, 0, sizeof (*t));
  t->reply = reply;
  t->is_batch = first->nlmsg_type == NFNL_MSG_BATCH_BEGIN;
  t->batch_seq = first->nlmsg_seq;
  for (int i = 0; i < n; i++)
    {
      const struct nlmsghdr *nlh = iov[i].iov_base;
      int len = (int)iov[i].iov_len;

      for (; mnl_nlmsg_ok (nlh, len); nlh = mnl_nlmsg_next (nlh, &len))
        last_seq = nlh->nlmsg_seq;
    }
  reply->first_seq = first->nlmsg_seq;
  reply->nseq = last_seq - first->nlmsg_seq + 1;
  reply->errnums = calloc (reply->nseq, sizeof (int));
  t->pending = calloc (reply->nseq, sizeof (bool));
  if (!reply->errnums || !t->pending)
    return -1;
  for (int i = 0; i < n; i++)
    {
      const struct nlmsghdr *nlh = iov[i].iov_base;
      int len = (int)iov[i].iov_len;

      for (; mnl_nlmsg_ok (nlh, len); nlh = mnl_nlmsg_next (nlh, &len))
        if ((nlh->nlmsg_flags & NLM_F_ACK) && nlh->nlmsg_seq - reply->first_seq < reply->nseq)
          {
            t->pending[nlh->nlmsg_seq - reply->first_seq] = true;
            t->npending++;
          }
    }
  return 0;
}

/* A batch queues all its acks before we read any: make room for many. */
static void
grow_rcvbuf (struct mnl_socket *nl, size_t acks)
{
  int size = (int)(acks * 1024);

  if (acks < 128)
    return;
  if (setsockopt (mnl_socket_get_fd (nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof (size)) < 0)
    setsockopt (mnl_socket_get_fd (nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof (size));
}

static int
send_iov (struct mnl_socket *nl, struct iovec *iov, int n)
{
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  struct msghdr msg = {
    .msg_name = &kernel,
    .msg_namelen = sizeof (kernel),
    .msg_iov = iov,
    .msg_iovlen = (size_t)n,
  };

  return sendmsg (mnl_socket_get_fd (nl), &msg, 0) < 0 ? -1 : 0;
}

/* After a batch-level error nothing more is owed, but the kernel may have
 * queued per-message acks too: read what is there without waiting. */
static void
drain_queued (struct mnl_socket *nl, struct talk *t, char *buf)
{
  ssize_t len;

  while ((len = recv (mnl_socket_get_fd (nl), buf, RECV_BUF_SIZE, MSG_DONTWAIT)) > 0)
    run_replies (t, buf, (size_t)len, mnl_socket_get_portid (nl));
}

static int
talk_exchange (struct mnl_socket *nl, struct talk *t, struct iovec *iov, int n, char *buf,
               moat_err_t *err)
{
  grow_rcvbuf (nl, t->npending);
  if (send_iov (nl, iov, n) < 0)
    return moat_error (err, MOAT_E_NFT, errno, "nft: cannot send request");
  while (t->npending > 0 && !t->batch_failed)
    {
      ssize_t len = mnl_socket_recvfrom (nl, buf, RECV_BUF_SIZE);

      if (len < 0)
        return moat_error (err, MOAT_E_NFT, errno, "nft: cannot read the kernel's acks");
      if (run_replies (t, buf, (size_t)len, mnl_socket_get_portid (nl)) < 0)
        return moat_error (err, MOAT_E_NFT, errno, "nft: bad reply from the kernel");
    }
  if (t->batch_failed)
    drain_queued (nl, t, buf);
  return 0;
}

/* Sends the messages in one sendmsg and reads replies until every message
 * that asked for an ack got one, or the batch failed as a whole. Returns -1
 * only when the exchange itself failed; the kernel's verdict is in *reply
 * (which the caller zero-initialises and releases with nft_reply_done). */
/* The kernel refuses a batch larger than the socket's send buffer
 * (EMSGSIZE); a DEL sweeping thousands of elements can be. */
static void
grow_sndbuf (struct mnl_socket *nl, const struct iovec *iov, int n)
{
  size_t total = 0;
  int size;

  for (int i = 0; i < n; i++)
    total += iov[i].iov_len;
  if (total < 128 * 1024)
    return;
  size = (int)(total + 4096);
  if (setsockopt (mnl_socket_get_fd (nl), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof (size)) < 0)
    setsockopt (mnl_socket_get_fd (nl), SOL_SOCKET, SO_SNDBUF, &size, sizeof (size));
}

int
nft_talk_data (struct mnl_socket *nl, struct nftnl_batch *batch, struct reply *reply,
               mnl_cb_t on_data, void *data_arg, moat_err_t *err)
{
  int n = nftnl_batch_iovec_len (batch);
  struct iovec iov[n > 0 ? n : 1];
  _cleanup_free_ char *buf = NULL;
  _cleanup_free_ bool *pending = NULL;
  struct talk t;
  int r;

  if (n <= 0)
    return moat_error (err, MOAT_E_NFT, EINVAL, "nft: empty request");
  nftnl_batch_iovec (batch, iov, (uint32_t)n);
  grow_sndbuf (nl, iov, n);
  r = talk_init (&t, iov, n, reply);
  pending = t.pending;
  t.on_data = on_data;
  t.data_arg = data_arg;
  buf = malloc (RECV_BUF_SIZE);
  if (r < 0 || !buf)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft: cannot prepare request");
  return talk_exchange (nl, &t, iov, n, buf, err);
}

int
nft_talk (struct mnl_socket *nl, struct nftnl_batch *batch, struct reply *reply, moat_err_t *err)
{
  return nft_talk_data (nl, batch, reply, NULL, NULL, err);
}

static int
open_socket (struct mnl_socket **ret, moat_err_t *err)
{
  int one = 1;

  if (moat_nfnl_open (ret, "nft", err) < 0)
    return -1;
  /* Best effort: without them errors still arrive, only less precisely
   * described and with the request echoed back. */
  mnl_socket_setsockopt (*ret, NETLINK_EXT_ACK, &one, sizeof (one));
  mnl_socket_setsockopt (*ret, NETLINK_CAP_ACK, &one, sizeof (one));
  return 0;
}

int
moat_nft_open (struct moat_nft **ret, moat_err_t *err)
{
  struct moat_nft *nft = calloc (1, sizeof (*nft));

  if (!nft)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "nft");
  if (open_socket (&nft->nl, err) < 0)
    {
      free (nft);
      return -1;
    }
  *ret = nft;
  return 0;
}

void
moat_nft_close (struct moat_nft *nft)
{
  if (!nft)
    return;
  mnl_socket_close (nft->nl);
  free (nft);
}

uint32_t
nft_first_seq (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint32_t)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}
