/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_WG_H
#define MOAT_WG_H

/* WireGuard between cluster nodes (docs/cluster.md, "Routing between
 * nodes"): a device's key, port and peers, set over generic netlink
 * (family "wireguard", WG_CMD_SET_DEVICE). The link itself is made by
 * kernel/netlink.h's moat_wg_link_ensure. */

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define MOAT_WG_KEY_BYTES 32

/* One remote node: its public key, where its device listens, the subnet
 * it may send from (and that is sent to it). */
struct moat_wg_peer
{
  unsigned char key[MOAT_WG_KEY_BYTES];
  struct in_addr endpoint;
  uint16_t port;
  struct in_addr subnet;
  int prefixlen;
};

/* Sets `ifname`'s private key and listen port, adds or updates `peers`
 * (their allowed IPs replaced: the subnet alone; a peer's session
 * survives) and removes the peers keyed `gone`. Applying the same again
 * changes nothing the kernel keeps. */
int moat_wg_set (const char *ifname, const unsigned char priv[MOAT_WG_KEY_BYTES], uint16_t port,
                 const struct moat_wg_peer *peers, size_t npeers,
                 const unsigned char (*gone)[MOAT_WG_KEY_BYTES], size_t ngone, moat_err_t *err);

/* A new X25519 key pair, as WireGuard uses. */
int moat_wg_keypair (unsigned char priv[MOAT_WG_KEY_BYTES], unsigned char pub[MOAT_WG_KEY_BYTES],
                     moat_err_t *err);

/* The public key of `priv`. */
int moat_wg_public (const unsigned char priv[MOAT_WG_KEY_BYTES],
                    unsigned char pub[MOAT_WG_KEY_BYTES], moat_err_t *err);

#endif
