/* SPDX-License-Identifier: Apache-2.0 */
/* A WireGuard device's key, port and peers over generic netlink (see wg.h). */
#include "kernel/wg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <sodium.h>

#include "base/cleanup.h"

static void
mnl_closep (struct mnl_socket **s)
{
  if (*s)
    mnl_socket_close (*s);
}

/* One request and its answers; `cb` sees each answer (NULL: an ack only). */
static int
genl_talk (struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  unsigned portid = mnl_socket_get_portid (nl);
  unsigned seq = nlh->nlmsg_seq;
  ssize_t len;
  int r = MNL_CB_OK;

  if (mnl_socket_sendto (nl, nlh, nlh->nlmsg_len) < 0)
    return -errno;
  while (r > MNL_CB_STOP)
    {
      len = mnl_socket_recvfrom (nl, buf, sizeof (buf));
      if (len < 0)
        return -errno;
      r = mnl_cb_run (buf, (size_t)len, seq, portid, cb, data);
      if (r < 0)
        return -errno;
    }
  return 0;
}

static struct nlmsghdr *
genl_header (char *buf, uint16_t family, uint8_t cmd, uint8_t version, uint16_t flags)
{
  struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);
  struct genlmsghdr *g;

  nlh->nlmsg_type = family;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  nlh->nlmsg_seq = (uint32_t)time (NULL);
  g = mnl_nlmsg_put_extra_header (nlh, sizeof (*g));
  g->cmd = cmd;
  g->version = version;
  return nlh;
}

static int
on_family_attr (const struct nlattr *a, void *data)
{
  if (mnl_attr_get_type (a) == CTRL_ATTR_FAMILY_ID && mnl_attr_validate (a, MNL_TYPE_U16) == 0)
    *(uint16_t *)data = mnl_attr_get_u16 (a);
  return MNL_CB_OK;
}

static int
on_family (const struct nlmsghdr *nlh, void *data)
{
  return mnl_attr_parse (nlh, sizeof (struct genlmsghdr), on_family_attr, data);
}

/* The "wireguard" family's id; 0 when the kernel has none. */
static int
wg_family (struct mnl_socket *nl, uint16_t *ret)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = genl_header (buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, NLM_F_ACK);
  int r;

  *ret = 0;
  mnl_attr_put_strz (nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
  r = genl_talk (nl, nlh, on_family, ret);
  return r == -ENOENT ? 0 : r;
}

static bool
put_peer (struct nlmsghdr *nlh, size_t size, const unsigned char key[MOAT_WG_KEY_BYTES],
          const struct moat_wg_peer *p)
{
  struct nlattr *peer, *ips, *ip;
  struct sockaddr_in sin = { .sin_family = AF_INET };

  if (!(peer = mnl_attr_nest_start_check (nlh, size, 0))
      || !mnl_attr_put_check (nlh, size, WGPEER_A_PUBLIC_KEY, MOAT_WG_KEY_BYTES, key))
    return false;
  if (!p)
    {
      if (!mnl_attr_put_u32_check (nlh, size, WGPEER_A_FLAGS, WGPEER_F_REMOVE_ME))
        return false;
      mnl_attr_nest_end (nlh, peer);
      return true;
    }
  sin.sin_addr = p->endpoint;
  sin.sin_port = htons (p->port);
  if (!mnl_attr_put_u32_check (nlh, size, WGPEER_A_FLAGS, WGPEER_F_REPLACE_ALLOWEDIPS)
      || !mnl_attr_put_check (nlh, size, WGPEER_A_ENDPOINT, sizeof (sin), &sin)
      || !(ips = mnl_attr_nest_start_check (nlh, size, WGPEER_A_ALLOWEDIPS))
      || !(ip = mnl_attr_nest_start_check (nlh, size, 0))
      || !mnl_attr_put_u16_check (nlh, size, WGALLOWEDIP_A_FAMILY, AF_INET)
      || !mnl_attr_put_check (nlh, size, WGALLOWEDIP_A_IPADDR, 4, &p->subnet.s_addr)
      || !mnl_attr_put_u8_check (nlh, size, WGALLOWEDIP_A_CIDR_MASK, (uint8_t)p->prefixlen))
    return false;
  mnl_attr_nest_end (nlh, ip);
  mnl_attr_nest_end (nlh, ips);
  mnl_attr_nest_end (nlh, peer);
  return true;
}

int
moat_wg_set (const char *ifname, const unsigned char priv[MOAT_WG_KEY_BYTES], uint16_t port,
             const struct moat_wg_peer *peers, size_t npeers,
             const unsigned char (*gone)[MOAT_WG_KEY_BYTES], size_t ngone, moat_err_t *err)
{
  _cleanup_ (mnl_closep) struct mnl_socket *nl = mnl_socket_open2 (NETLINK_GENERIC, SOCK_CLOEXEC);
  /* ~100 bytes a peer: room for a few hundred nodes in one request. */
  size_t size = 64 * 1024;
  _cleanup_free_ char *buf = malloc (size);
  struct nlmsghdr *nlh;
  struct nlattr *list;
  uint16_t family;
  bool ok;
  int r;

  if (!buf)
    return moat_error_nomem (err, "wireguard");
  if (!nl || mnl_socket_bind (nl, 0, MNL_SOCKET_AUTOPID) < 0)
    return moat_error (err, MOAT_E_LINK, errno, "wireguard \"%s\": generic netlink socket", ifname);
  r = wg_family (nl, &family);
  if (r < 0)
    return moat_error (err, MOAT_E_LINK, -r, "wireguard \"%s\": generic netlink family", ifname);
  if (family == 0)
    return moat_error (err, MOAT_E_LINK, 0,
                       "wireguard \"%s\": this kernel has no WireGuard (cluster.encrypt needs "
                       "CONFIG_WIREGUARD)",
                       ifname);
  nlh = genl_header (buf, family, WG_CMD_SET_DEVICE, WG_GENL_VERSION, NLM_F_ACK);
  ok = mnl_attr_put_strz_check (nlh, size, WGDEVICE_A_IFNAME, ifname)
       && mnl_attr_put_check (nlh, size, WGDEVICE_A_PRIVATE_KEY, MOAT_WG_KEY_BYTES, priv)
       && mnl_attr_put_u16_check (nlh, size, WGDEVICE_A_LISTEN_PORT, port)
       && (list = mnl_attr_nest_start_check (nlh, size, WGDEVICE_A_PEERS)) != NULL;
  for (size_t i = 0; ok && i < npeers; i++)
    ok = put_peer (nlh, size, peers[i].key, &peers[i]);
  for (size_t i = 0; ok && i < ngone; i++)
    ok = put_peer (nlh, size, gone[i], NULL);
  if (!ok)
    return moat_error (err, MOAT_E_LINK, E2BIG, "wireguard \"%s\": %zu peers", ifname, npeers);
  mnl_attr_nest_end (nlh, list);
  r = genl_talk (nl, nlh, NULL, NULL);
  if (r < 0)
    return moat_error (err, MOAT_E_LINK, -r, "wireguard \"%s\": set device", ifname);
  return 0;
}

int
moat_wg_keypair (unsigned char priv[MOAT_WG_KEY_BYTES], unsigned char pub[MOAT_WG_KEY_BYTES],
                 moat_err_t *err)
{
  if (sodium_init () < 0 || crypto_box_keypair (pub, priv) != 0)
    return moat_error (err, MOAT_E_IO, 0, "wireguard: cannot make a key pair");
  return 0;
}

int
moat_wg_public (const unsigned char priv[MOAT_WG_KEY_BYTES], unsigned char pub[MOAT_WG_KEY_BYTES],
                moat_err_t *err)
{
  if (sodium_init () < 0 || crypto_scalarmult_base (pub, priv) != 0)
    return moat_error (err, MOAT_E_IO, 0, "wireguard: not a private key");
  return 0;
}
