/* SPDX-License-Identifier: Apache-2.0 */
/* Forgetting flows (conntrack.h): one dump of the host's IPv4 (or IPv6)
 * conntrack table over ctnetlink, then one DELETE per matching entry, named by its
 * original tuple (and zone) exactly as the kernel gave it. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <pthread.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cleanup.h"
#include "kernel/conntrack.h"
#include "kernel/nfnl.h"

#define CT_RECV_SIZE (64 * 1024)
#define CT_TUPLE_MAX 256 /* an IPv4 tuple attribute takes under 100 bytes */

struct tuple
{
  struct in_addr src, dst;    /* an IPv4 entry's */
  struct in6_addr src6, dst6; /* an IPv6 entry's */
  uint8_t proto;
  uint16_t dport; /* host order; 0 without ports */
};

/* An entry to delete: its CTA_TUPLE_ORIG attribute, whole, and its zone. */
struct doomed
{
  uint8_t tuple[CT_TUPLE_MAX];
  uint16_t tuple_len;
  bool has_zone;
  uint16_t zone; /* network order, as read */
};

struct dump
{
  uint8_t family; /* AF_INET or AF_INET6: the table dumped */
  bool (*wanted) (const struct tuple *orig, const struct tuple *reply, const void *arg);
  const void *arg;
  struct doomed *v;
  size_t n, cap;
  bool failed; /* out of memory */
};

struct attr_table
{
  const struct nlattr **tb;
  uint16_t max;
};

static int
attr_store (const struct nlattr *a, void *data)
{
  struct attr_table *t = data;
  uint16_t type = mnl_attr_get_type (a);

  if (type <= t->max)
    t->tb[type] = a;
  return MNL_CB_OK;
}

static int
parse_nested (const struct nlattr *nest, const struct nlattr **tb, uint16_t max)
{
  struct attr_table t = { tb, max };

  memset (tb, 0, (max + 1) * sizeof (*tb));
  return mnl_attr_parse_nested (nest, attr_store, &t) < 0 ? -1 : 0;
}

static bool
attr_has (const struct nlattr *a, size_t len)
{
  return a && mnl_attr_get_payload_len (a) >= len;
}

/* A tuple: addresses (IPv4 or IPv6), protocol, destination port when it
 * has one. */
static int
parse_tuple (const struct nlattr *nest, struct tuple *t)
{
  const struct nlattr *tb[CTA_TUPLE_MAX + 1], *ip[CTA_IP_MAX + 1], *proto[CTA_PROTO_MAX + 1];

  memset (t, 0, sizeof (*t));
  if (!nest || parse_nested (nest, tb, CTA_TUPLE_MAX) < 0 || !tb[CTA_TUPLE_IP]
      || !tb[CTA_TUPLE_PROTO] || parse_nested (tb[CTA_TUPLE_IP], ip, CTA_IP_MAX) < 0
      || parse_nested (tb[CTA_TUPLE_PROTO], proto, CTA_PROTO_MAX) < 0)
    return -1;
  if (!attr_has (proto[CTA_PROTO_NUM], 1))
    return -1;
  if (attr_has (ip[CTA_IP_V4_SRC], 4) && attr_has (ip[CTA_IP_V4_DST], 4))
    {
      memcpy (&t->src, mnl_attr_get_payload (ip[CTA_IP_V4_SRC]), 4);
      memcpy (&t->dst, mnl_attr_get_payload (ip[CTA_IP_V4_DST]), 4);
    }
  else if (attr_has (ip[CTA_IP_V6_SRC], 16) && attr_has (ip[CTA_IP_V6_DST], 16))
    {
      memcpy (&t->src6, mnl_attr_get_payload (ip[CTA_IP_V6_SRC]), 16);
      memcpy (&t->dst6, mnl_attr_get_payload (ip[CTA_IP_V6_DST]), 16);
    }
  else
    return -1;
  t->proto = mnl_attr_get_u8 (proto[CTA_PROTO_NUM]);
  if (attr_has (proto[CTA_PROTO_DST_PORT], 2))
    t->dport = ntohs (mnl_attr_get_u16 (proto[CTA_PROTO_DST_PORT]));
  return 0;
}

static struct doomed *
doomed_push (struct dump *d)
{
  if (d->n == d->cap)
    {
      size_t cap = d->cap ? d->cap * 2 : 16;
      struct doomed *v = realloc (d->v, cap * sizeof (*v));

      if (!v)
        return NULL;
      d->v = v;
      d->cap = cap;
    }
  return &d->v[d->n++];
}

static int
on_entry (const struct nlmsghdr *nlh, void *data)
{
  struct dump *d = data;
  const struct nlattr *tb[CTA_MAX + 1] = { 0 };
  struct attr_table t = { tb, CTA_MAX };
  struct tuple orig, reply;
  const struct nlattr *o;
  struct doomed *x;

  if (mnl_attr_parse (nlh, sizeof (struct nfgenmsg), attr_store, &t) < 0)
    return MNL_CB_OK; /* not an entry we can read: not ours to judge */
  o = tb[CTA_TUPLE_ORIG];
  if (parse_tuple (o, &orig) < 0 || parse_tuple (tb[CTA_TUPLE_REPLY], &reply) < 0
      || !d->wanted (&orig, &reply, d->arg) || mnl_attr_get_len (o) > CT_TUPLE_MAX)
    return MNL_CB_OK;
  x = doomed_push (d);
  if (!x)
    {
      d->failed = true;
      return MNL_CB_ERROR;
    }
  memcpy (x->tuple, o, mnl_attr_get_len (o));
  x->tuple_len = mnl_attr_get_len (o);
  x->has_zone = attr_has (tb[CTA_ZONE], 2);
  x->zone = x->has_zone ? mnl_attr_get_u16 (tb[CTA_ZONE]) : 0;
  return MNL_CB_OK;
}

static struct nlmsghdr *
ct_request (char *buf, uint8_t family, uint8_t msg, uint16_t flags, uint32_t seq)
{
  struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);
  struct nfgenmsg *nfg;

  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  nlh->nlmsg_seq = seq;
  nfg = mnl_nlmsg_put_extra_header (nlh, sizeof (*nfg));
  nfg->nfgen_family = family;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  return nlh;
}

static int
ct_open (struct mnl_socket **ret, moat_err_t *err)
{
  struct mnl_socket *nl = mnl_socket_open (NETLINK_NETFILTER);

  if (!nl || mnl_socket_bind (nl, 0, MNL_SOCKET_AUTOPID) < 0)
    {
      int e = errno;

      if (nl)
        mnl_socket_close (nl);
      return moat_error (err, MOAT_E_NFT, e, "conntrack: cannot open a netlink socket");
    }
  *ret = nl;
  return 0;
}

static int
dump_entries (struct mnl_socket *nl, struct dump *d, char *buf, moat_err_t *err)
{
  struct nlmsghdr *nlh
      = ct_request (buf, d->family, IPCTNL_MSG_CT_GET, NLM_F_DUMP, (uint32_t)time (NULL));
  enum moat_nfnl_failure where;

  if (moat_nfnl_talk (nl, nlh, buf, CT_RECV_SIZE, on_entry, d, NULL, &where) == 0)
    return 0;
  if (where == MOAT_NFNL_SEND)
    return moat_error (err, MOAT_E_NFT, errno, "conntrack: cannot ask for the flows");
  if (where == MOAT_NFNL_RECV)
    return moat_error (err, MOAT_E_NFT, errno, "conntrack: cannot read the flows");
  return moat_error (err, MOAT_E_NFT, d->failed ? ENOMEM : errno,
                     "conntrack: cannot list the flows (is nf_conntrack_netlink available?)");
}

/* 1 deleted, 0 already gone, -1 error. */
static int
delete_entry (struct mnl_socket *nl, uint8_t family, const struct doomed *x, char *buf,
              uint32_t seq, moat_err_t *err)
{
  struct nlmsghdr *nlh = ct_request (buf, family, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, seq);
  enum moat_nfnl_failure where;

  memcpy (mnl_nlmsg_get_payload_tail (nlh), x->tuple, x->tuple_len);
  nlh->nlmsg_len += MNL_ALIGN (x->tuple_len);
  if (x->has_zone)
    mnl_attr_put_u16 (nlh, CTA_ZONE, x->zone);
  if (moat_nfnl_talk (nl, nlh, buf, CT_RECV_SIZE, NULL, NULL, NULL, &where) == 0)
    return 1;
  if (where == MOAT_NFNL_RECV)
    return moat_error (err, MOAT_E_NFT, errno, "conntrack: cannot read the kernel's ack");
  if (where == MOAT_NFNL_REPLY && errno == ENOENT)
    return 0;
  return moat_error (err, MOAT_E_NFT, errno, "conntrack: cannot delete a flow");
}

static int
forget (uint8_t family, bool (*wanted) (const struct tuple *, const struct tuple *, const void *),
        const void *arg, moat_err_t *err)
{
  _cleanup_ (mnl_socket_closep) struct mnl_socket *nl = NULL;
  _cleanup_free_ char *buf = malloc (CT_RECV_SIZE);
  struct dump d = { .family = family, .wanted = wanted, .arg = arg };
  uint32_t seq = (uint32_t)time (NULL) + 1;
  int deleted = 0, r = 0;

  if (!buf)
    return moat_error (err, MOAT_E_NFT, ENOMEM, "conntrack");
  if (ct_open (&nl, err) < 0 || dump_entries (nl, &d, buf, err) < 0)
    r = -1;
  for (size_t i = 0; r == 0 && i < d.n; i++)
    {
      int one = delete_entry (nl, family, &d.v[i], buf, seq + (uint32_t)i, err);

      if (one < 0)
        r = -1;
      deleted += one > 0;
    }
  free (d.v);
  return r < 0 ? -1 : deleted;
}

static bool
names_addr (const struct tuple *orig, const struct tuple *reply, const void *arg)
{
  const struct in_addr *a = arg;

  return orig->src.s_addr == a->s_addr || orig->dst.s_addr == a->s_addr
         || reply->src.s_addr == a->s_addr || reply->dst.s_addr == a->s_addr;
}

int
moat_ct_forget_addr (struct in_addr addr, moat_err_t *err)
{
  return forget (AF_INET, names_addr, &addr, err);
}

static bool
names_addr6 (const struct tuple *orig, const struct tuple *reply, const void *arg)
{
  const struct in6_addr *a = arg;

  return IN6_ARE_ADDR_EQUAL (&orig->src6, a) || IN6_ARE_ADDR_EQUAL (&orig->dst6, a)
         || IN6_ARE_ADDR_EQUAL (&reply->src6, a) || IN6_ARE_ADDR_EQUAL (&reply->dst6, a);
}

int
moat_ct_forget_addr6 (const struct in6_addr *addr, moat_err_t *err)
{
  return forget (AF_INET6, names_addr6, addr, err);
}

struct addrs
{
  const struct in_addr *v;
  size_t n;
};

static bool
names_any (const struct tuple *orig, const struct tuple *reply, const void *arg)
{
  const struct addrs *a = arg;

  for (size_t i = 0; i < a->n; i++)
    if (names_addr (orig, reply, &a->v[i]))
      return true;
  return false;
}

int
moat_ct_forget_addrs (const struct in_addr *addrs, size_t n, moat_err_t *err)
{
  struct addrs a = { addrs, n };

  if (n == 0)
    return 0;
  return forget (AF_INET, names_any, &a, err);
}

static void *
forget_job (void *arg)
{
  struct moat_ct_job *job = arg;

  job->result = moat_ct_forget_addr (job->addr, &job->err);
  return NULL;
}

void
moat_ct_forget_start (struct moat_ct_job *job, struct in_addr addr)
{
  pthread_t t;

  *job = (struct moat_ct_job){ .addr = addr };
  _Static_assert(sizeof (pthread_t) <= sizeof (job->thread), "pthread_t fits");
  if (pthread_create (&t, NULL, forget_job, job) == 0)
    {
      job->threaded = true;
      job->thread = (unsigned long)t;
      return;
    }
  forget_job (job);
}

int
moat_ct_forget_finish (struct moat_ct_job *job, moat_err_t *err)
{
  if (job->threaded)
    pthread_join ((pthread_t)job->thread, NULL);
  job->threaded = false;
  if (job->result < 0)
    *err = job->err;
  return job->result;
}
