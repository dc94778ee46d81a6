/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_ELEMS_H
#define MOAT_ELEMS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/types.h"
#include "ruleset/ruleset.h"

#define MAX_MEMBER_ELEMS 9 /* members, self, bridges, quiet, internet, masq, guarded ×2, ports */
#define MAX_KEY_LEN 64     /* NFT_DATA_VALUE_MAXLEN */

/* What one container contributes to the layout at CNI ADD. */
struct moat_nft_member
{
  const char *bridge;              /* moat network's bridge */
  const char *host_ifname;         /* host end of the container's veth */
  unsigned char mac[MOAT_MAC_LEN]; /* container end's MAC */
  struct in_addr addr;             /* container address */
  bool quiet;                      /* network has reject: false */
  bool internet;                   /* network has internet: true */
  bool masquerade;                 /* network has masquerade: true */
};

/* A container's policy elements (DESIGN §3), gathered before one
 * moat_nft_policy_replace. Port ranges become intervals: a protocol
 * without ports (icmp, any) covers every port, "any" every protocol.
 * The adders return -1 only when out of memory. */
struct moat_ports;
struct moat_acl;
struct moat_nft_elems;
enum moat_nft_acl
{
  MOAT_NFT_EGRESS,
  MOAT_NFT_EGRESS_DENY,
  MOAT_NFT_INGRESS,
  MOAT_NFT_INGRESS_DENY,
};
struct moat_nft_elems *moat_nft_elems_new (void);
void moat_nft_elems_free (struct moat_nft_elems *e);
static inline void
moat_nft_elems_freep (struct moat_nft_elems **e)
{
  moat_nft_elems_free (*e);
}
size_t moat_nft_elems_count (const struct moat_nft_elems *e);
/* Element i as "set: key[ : value]", as nft would write it (tests, errors). */
void moat_nft_elems_format (const struct moat_nft_elems *e, size_t i, char *buf, size_t size);
int moat_nft_elems_host (struct moat_nft_elems *l, struct in_addr addr, const struct moat_ports *p);
int moat_nft_elems_acl (struct moat_nft_elems *l, enum moat_nft_acl kind, struct in_addr addr,
                        const struct moat_acl *acl);
int moat_nft_elems_internet (struct moat_nft_elems *l, struct in_addr addr);
/* The container's tcp `port` goes to proxy:proxy_port (the map) */
int moat_nft_elems_proxy (struct moat_nft_elems *l, struct in_addr addr, uint16_t port,
                          struct in_addr proxy, uint16_t proxy_port);
/* ... where it may then go (the allowance, once per container). */
int moat_nft_elems_proxied (struct moat_nft_elems *l, struct in_addr addr, struct in_addr proxy,
                            uint16_t proxy_port);

/* moatctl's grants, in sets the policy never touches (its sweep leaves
 * them; a DEL takes them). A grant opens what it names whatever the policy
 * says. timeout_ms 0: no expiry; else the kernel removes the element. */
int moat_nft_elems_grant_peer (struct moat_nft_elems *l, struct in_addr from, struct in_addr to,
                               uint64_t timeout_ms);
int moat_nft_elems_grant_host (struct moat_nft_elems *l, struct in_addr addr,
                               const struct moat_ports *p, uint64_t timeout_ms);
int moat_nft_elems_grant_egress (struct moat_nft_elems *l, struct in_addr addr,
                                 const struct moat_acl *acl, uint64_t timeout_ms);

/* An identity's kernel objects: its chain id_<ident>, jumped to through
 * src_ident from its members' addresses, and its set id_<ident> of the
 * addresses it may reach, looked up in that chain. */
int moat_nft_elems_ident_member (struct moat_nft_elems *l, struct in_addr addr, const char *ident);
int moat_nft_elems_ident_reach (struct moat_nft_elems *l, const char *ident, struct in_addr addr);

/* The elements moat_nft_member_add puts in the kernel for `m` (moatctl
 * explain evaluates them). -1 with *err set on a bad interface name or
 * out of memory. */
int moat_nft_elems_member (struct moat_nft_elems *l, const struct moat_nft_member *m,
                           moat_err_t *err);

struct elem
{
  const struct moat_set_def *set;
  uint8_t key[MAX_KEY_LEN];
  uint32_t key_len;
  uint8_t key_end[MAX_KEY_LEN];      /* interval sets: end of the range */
  uint32_t key_end_len;              /* 0: no end */
  uint64_t timeout_ms;               /* 0: no timeout */
  uint8_t data[8];                   /* a map's value */
  uint32_t data_len;                 /* 0: not a map */
  char name[MOAT_NFT_IDENT_MAX + 4]; /* an identity's set ("id_<ident>"); "": set->name */
  char jump[MOAT_NFT_IDENT_MAX + 4]; /* a verdict map's value: jump to this chain */
};

/* Key bytes are written field by field; each field starts on a 4-byte
 * register boundary and its padding stays zero. */
struct key_writer
{
  struct elem *e;
  unsigned field;
};

struct elem_list
{
  struct elem *v;
  size_t n, cap;
};

struct moat_nft_elems
{
  struct elem_list l;
};

void key_start (struct key_writer *w, struct elem *e, const struct moat_set_def *set);
void key_put (struct key_writer *w, const void *data, size_t len);
void key_put_ifname (struct key_writer *w, const char *name);
void key_put_addr (struct key_writer *w, struct in_addr addr);
int check_ifname (const char *what, const char *name, moat_err_t *err);
int member_elems (const struct moat_nft_member *m, bool for_delete,
                  struct elem ret[MAX_MEMBER_ELEMS], size_t *ret_n, moat_err_t *err);
void format_key (const struct moat_set_def *s, const uint8_t *key, uint32_t key_len,
                 const uint8_t *end, uint32_t end_len, char *buf, size_t size);
void format_elem (const struct elem *e, char *buf, size_t size);
struct elem *elem_list_push (struct elem_list *l);
void elem_text (const struct elem *e, char *buf, size_t size);

#endif
