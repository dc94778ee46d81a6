/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl watch: each refused flow the kernel logs (the deny chains' log
 * rule, for the containers in set logged: a network with "log": true, or
 * moatctl log), said in moat's words: both ends by container name and
 * address, the flow, and the reason moatctl explain gives for it
 * (docs/design.md, "Refused flows"). moatctl log: one container's
 * refusals logged or not, in the kernel and its records. */
#include "ctl-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel/nflog.h"
#include "kernel/nft.h"
#include "kernel/nfnl.h"
#include "ruleset/ruleset.h"
#include "verbs/apply.h"

/* A read returns at least this often, so that a stop is seen. */
#define WATCH_TICK_MS 250

/* One end of a logged flow: its address, and the container's name (or
 * the start of its id) when a container holds the address now. */
struct watch_end
{
  char addr[INET6_ADDRSTRLEN];
  char name[256]; /* "" when no container holds the address */
};

/* `addr`: a struct in_addr or in6_addr, as `family` says. */
static void
end_name (int family, const void *addr, struct watch_end *ret)
{
  struct moat_ctl_target t;
  _cleanup_record_ struct moat_record rec = { 0 };
  moat_err_t err = { 0 };

  inet_ntop (family, addr, ret->addr, sizeof (ret->addr));
  ret->name[0] = '\0';
  if (moat_ctl_find (ret->addr, &t, &err) < 0)
    return;
  if (t.n && moat_record_read (t.atts[0].network, t.atts[0].key, &rec, &err) > 0 && rec.name)
    snprintf (ret->name, sizeof (ret->name), "%s", rec.name);
  else
    snprintf (ret->name, sizeof (ret->name), "%.12s", t.id);
  moat_ctl_target_free (&t);
}

/* The flow as explain takes it ("tcp/80", "icmp", "any" for another
 * protocol) and as watch says it ("icmpv6" for IPv6's, "proto 47"). */
static void
flow_words (const struct moat_nflog_flow *f, char *explain, char *said, size_t size)
{
  const char *proto = f->proto == IPPROTO_TCP ? "tcp" : f->proto == IPPROTO_UDP ? "udp" : NULL;

  if (proto && f->ports)
    {
      snprintf (explain, size, "%s/%u", proto, f->dport);
      snprintf (said, size, "%s/%u", proto, f->dport);
    }
  else if (f->proto == (f->family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP))
    {
      snprintf (explain, size, "icmp");
      snprintf (said, size, f->family == AF_INET6 ? "icmpv6" : "icmp");
    }
  else
    {
      snprintf (explain, size, "any");
      snprintf (said, size, "proto %u", f->proto);
    }
}

/* One attachment's addresses: its IPv4 one, and its IPv6 one on a
 * dual-stack network. */
struct watch_addrs
{
  struct in_addr addr;
  bool have6;
  struct in6_addr addr6;
};

static bool
holds (const struct watch_addrs *a, const struct moat_nflog_flow *f)
{
  if (f->family == AF_INET6)
    return a->have6
           && (memcmp (&a->addr6, &f->saddr6, sizeof (a->addr6)) == 0
               || memcmp (&a->addr6, &f->daddr6, sizeof (a->addr6)) == 0);
  return a->addr.s_addr == f->saddr.s_addr || a->addr.s_addr == f->daddr.s_addr;
}

/* Whether `only` (the addresses of watch's CONTAINER; none: every flow)
 * holds either end. */
static bool
wanted (const struct watch_addrs *only, size_t n, const struct moat_nflog_flow *f)
{
  if (n == 0)
    return true;
  for (size_t i = 0; i < n; i++)
    if (holds (&only[i], f))
      return true;
  return false;
}

static void
print_text (FILE *out, const struct watch_end *s, const struct watch_end *d, const char *flow,
            const char *reason)
{
  if (s->name[0])
    fprintf (out, "refused %s (%s)", s->name, s->addr);
  else
    fprintf (out, "refused %s", s->addr);
  if (d->name[0])
    fprintf (out, " -> %s (%s)", d->name, d->addr);
  else
    fprintf (out, " -> %s", d->addr);
  fprintf (out, " %s: %s\n", flow, reason);
}

static int
print_json (FILE *out, const struct watch_end *s, const struct watch_end *d, int family,
            const char *flow, const char *reason, int64_t now)
{
  _cleanup_json_ json_t *j = json_pack (
      "{s:I, s:s*, s:s, s:s*, s:s, s:s, s:s, s:i}", "time", (json_int_t)now, "src",
      s->name[0] ? s->name : NULL, "srcAddress", s->addr, "dst", d->name[0] ? d->name : NULL,
      "dstAddress", d->addr, "flow", flow, "reason", reason, "family", family == AF_INET6 ? 6 : 4);

  if (!j || json_dumpf (j, out, JSON_COMPACT | JSON_SORT_KEYS) < 0)
    return -1;
  fputc ('\n', out);
  return 0;
}

/* One logged packet, said. explain's reason for the flow now: when it
 * has changed since the kernel refused it (a grant since), it says
 * "allowed now: ...". */
static int
say_flow (const struct moat_nflog_flow *f, bool json, FILE *out)
{
  struct watch_end s, d;
  struct moat_explain_answer a = { 0 };
  char explain[32], said[32], why[2048], reason[2100];
  moat_err_t err = { 0 };
  int64_t now = (int64_t)time (NULL);
  bool ip6 = f->family == AF_INET6;

  end_name (f->family, ip6 ? (const void *)&f->saddr6 : &f->saddr, &s);
  end_name (f->family, ip6 ? (const void *)&f->daddr6 : &f->daddr, &d);
  flow_words (f, explain, said, sizeof (said));
  /* By address: explain takes an IPv6 one as the flow's family. */
  if (moat_ctl_explain_family (s.addr, d.addr, explain, ip6, now, &a, why, sizeof (why), &err) < 0)
    snprintf (reason, sizeof (reason), "(no explanation: %s)", err.msg);
  else
    snprintf (reason, sizeof (reason), "%s%s", a.allowed ? "allowed now: " : "", why);
  if (json ? print_json (out, &s, &d, f->family, said, reason, now) < 0
           : (print_text (out, &s, &d, said, reason), false))
    return -1;
  return fflush (out) == EOF ? -1 : 0;
}

/* The addresses of `name`'s attachments into *ret (malloc'd). */
static int
target_addrs (const char *name, struct watch_addrs **ret, size_t *ret_n, moat_err_t *err)
{
  struct moat_ctl_target t;
  struct watch_addrs *v;

  if (moat_ctl_find (name, &t, err) < 0)
    return -1;
  v = calloc (t.n ? t.n : 1, sizeof (*v));
  if (!v)
    {
      moat_ctl_target_free (&t);
      return moat_error (err, MOAT_E_IO, ENOMEM, "watch: out of memory");
    }
  for (size_t i = 0; i < t.n; i++)
    {
      _cleanup_record_ struct moat_record rec = { 0 };

      if (moat_record_read (t.atts[i].network, t.atts[i].key, &rec, err) < 0)
        {
          free (v);
          moat_ctl_target_free (&t);
          return -1;
        }
      v[i] = (struct watch_addrs){ .addr = rec.addr, .have6 = rec.have_addr6, .addr6 = rec.addr6 };
    }
  *ret = v;
  *ret_n = t.n;
  moat_ctl_target_free (&t);
  return 0;
}

/* Each message of one datagram. */
static int
say_datagram (const void *buf, size_t len, const struct watch_addrs *only, size_t n, bool json,
              FILE *out)
{
  const struct nlmsghdr *nlh = buf;
  int left = (int)len;

  for (; mnl_nlmsg_ok (nlh, left); nlh = mnl_nlmsg_next (nlh, &left))
    {
      struct moat_nflog_flow f;

      if (moat_nflog_parse (nlh, nlh->nlmsg_len, &f) == 1 && f.group == MOAT_LOG_GROUP
          && wanted (only, n, &f) && say_flow (&f, json, out) < 0)
        return -1;
    }
  return 0;
}

int
moat_ctl_watch (const char *only, bool json, FILE *out, volatile sig_atomic_t *stop,
                moat_err_t *err)
{
  _cleanup_ (mnl_socket_closep) struct mnl_socket *nl = NULL;
  _cleanup_free_ struct watch_addrs *addrs = NULL;
  _cleanup_free_ char *buf = NULL;
  size_t naddrs = 0, size = MNL_SOCKET_BUFFER_SIZE * 4;

  if (only && target_addrs (only, &addrs, &naddrs, err) < 0)
    return -1;
  if (!(buf = malloc (size)))
    return moat_error (err, MOAT_E_IO, ENOMEM, "watch: out of memory");
  if (moat_nflog_open (MOAT_LOG_GROUP, WATCH_TICK_MS, &nl, err) < 0)
    return -1;
  while (!*stop)
    {
      ssize_t len = mnl_socket_recvfrom (nl, buf, size);

      if (len < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        continue;
      if (len < 0 && errno == ENOBUFS)
        {
          fprintf (stderr, "moatctl: watch: some refusals were lost (the socket's buffer "
                           "overflowed)\n");
          continue;
        }
      if (len < 0)
        return moat_error (err, MOAT_E_NFT, errno, "watch: cannot read NFLOG group %u",
                           MOAT_LOG_GROUP);
      if (say_datagram (buf, (size_t)len, addrs, naddrs, json, out) < 0)
        return moat_error (err, MOAT_E_IO, errno, "watch: cannot write");
    }
  return 0;
}

/* --- log CONTAINER on|off ------------------------------------------------------------ */

/* One attachment: the kernel first (a record that says more than the
 * kernel holds would promise lines that never come), then the record,
 * which check and restore follow. */
static int
log_one (struct moat_nft *nft, const struct moat_ctl_att *att, bool on, moat_err_t *err)
{
  _cleanup_record_ struct moat_record rec = { 0 };
  _cleanup_elems_ struct moat_nft_elems *elems = moat_nft_elems_new ();
  _cleanup_close_ int lock = -1;
  int r;

  if (!elems)
    return moat_error (err, MOAT_E_IO, ENOMEM, "log: out of memory");
  if (moat_network_lock (att->network, &lock, err) < 0)
    return -1;
  r = moat_record_read (att->network, att->key, &rec, err);
  if (r <= 0)
    return r < 0 ? -1 : moat_error (err, MOAT_E_UNKNOWN, 0, "%s: gone", att->key);
  if (moat_nft_elems_logged (elems, rec.addr) < 0)
    return moat_error (err, MOAT_E_IO, ENOMEM, "log: out of memory");
  if (moat_policy_twin6 (&rec, elems, err) < 0)
    return -1;
  if (moat_nft_policy_replace (nft, rec.addr, false, false, on ? NULL : elems, NULL, NULL,
                               on ? elems : NULL, err)
      < 0)
    return moat_error_prefix (err, "log %s", on ? "on" : "off");
  rec.log = on;
  return moat_record_write (&rec, err);
}

int
moat_ctl_log (const char *container, bool on, moat_err_t *err)
{
  _cleanup_ (moat_ctl_target_free) struct moat_ctl_target t = { 0 };
  _cleanup_nft_ struct moat_nft *nft = NULL;

  if (moat_ctl_find (container, &t, err) < 0 || moat_nft_open (&nft, err) < 0)
    return -1;
  for (size_t i = 0; i < t.n; i++)
    if (log_one (nft, &t.atts[i], on, err) < 0)
      return -1;
  return 0;
}
