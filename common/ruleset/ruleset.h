/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_RULESET_H
#define MOAT_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_FIELDS 4

/* nft's byte order tags (nftables enum byteorder), kept in set userdata so
 * that nft prints single-field keys the way it would for its own sets. */
enum
{
  NFT_BYTEORDER_NONE = 0,
  NFT_BYTEORDER_HOST = 1,
  NFT_BYTEORDER_BIG = 2,
};

enum field_type
{
  FT_IFNAME,
  FT_IPV4,
  FT_ETHER,
  FT_PROTO,
  FT_PORT,
};

struct field_info
{
  uint32_t nft_type;
  uint32_t len; /* bytes the kernel compares; padded to 4 in a key */
  uint32_t byteorder;
};

enum set_index
{
  SET_MEMBERS,
  SET_QUIET,
  SET_INTERNET,
  SET_MASQ,
  SET_GRANT_PEER,
  SET_GRANT_HOST,
  SET_GRANT_EGRESS,
  SET_HOST_GRANTS,
  SET_EGRESS,
  SET_INGRESS,
  SET_EGRESS_DENY,
  SET_INGRESS_DENY,
  SET_PROXIED,
  SET_PROXY,
  SET_SRC_IDENT,
  SET_BRIDGES,
  SET_SELF,
  SET_PORT_NAMES,
  SET_GUARDED,
  SET_PORTS,
  SET_COUNT,
};

struct set_def
{
  uint16_t family;
  const char *name;
  uint32_t flags;
  unsigned nfields;
  enum field_type fields[MAX_FIELDS];
  unsigned ndata; /* a map's data: its fields */
  enum field_type data[2];
  bool verdict; /* a verdict map */
};

struct chain_def
{
  uint16_t family;
  const char *name;
  const char *type; /* NULL: a regular chain, no hook */
  uint32_t hook;
  int32_t prio;
};

/* Where a lookup's key field comes from in the packet. */
enum source
{
  SRC_NONE,
  SRC_IIFNAME,
  SRC_OIFNAME,
  SRC_IP_SADDR,
  SRC_IP_DADDR,
  SRC_L4PROTO,
  SRC_TH_DPORT,
  SRC_ETHER_SADDR,
  SRC_ARP_SHA,           /* arp saddr ether */
  SRC_ARP_SPA,           /* arp saddr ip */
  SRC_CT_ORIGINAL_SADDR, /* ct original ip saddr */
  SRC_CT_REPLY_SADDR,    /* ct reply ip saddr */
};

enum term_kind
{
  TERM_END,
  TERM_IPV4,       /* inet family: meta nfproto ipv4 (nft's implicit dependency) */
  TERM_ETHER_TYPE, /* ether type <value> */
  TERM_L4PROTO,    /* meta l4proto <value> */
  TERM_ICMP_TYPE,  /* icmp type <value> */
  TERM_CT_STATE,   /* ct state <any bit of value> */
  TERM_CT_REPLY,   /* ct direction reply */
  TERM_LOOKUP,     /* <sources> @set */
  TERM_NOT_LOOKUP, /* <sources> != @set */
};

struct term
{
  enum term_kind kind;
  uint32_t value;
  enum set_index set;
  enum source sources[MAX_FIELDS];
};

enum action
{
  ACT_ACCEPT,
  ACT_DROP,
  ACT_JUMP,
  ACT_GOTO,
  ACT_REJECT_TCP_RESET,
  ACT_REJECT_ADMIN,
  ACT_MASQUERADE,
  ACT_PROXY_DNAT, /* dnat ip to ip saddr . tcp dport map @proxy */
  ACT_SRC_IDENT,  /* ip saddr vmap @src_ident */
};

#define MAX_TERMS 5

struct rule_def
{
  uint16_t family;
  const char *chain;
  const char *text; /* as nft.h lists it; names the rule in errors */
  struct term terms[MAX_TERMS];
  enum action action;
  const char *target; /* jump/goto */
};

/* conntrack state bits as nft encodes them: NF_CT_STATE_BIT(ctinfo) and
 * NF_CT_STATE_INVALID_BIT (linux/netfilter/nf_conntrack_common.h). */
#define CT_INVALID 0x1u
#define CT_ESTABLISHED 0x2u
#define CT_RELATED 0x4u

#define ICMP_TYPE_REDIRECT 5
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806

extern const struct field_info field_infos[];
extern const struct set_def set_defs[SET_COUNT];
extern const struct chain_def chain_defs[];
extern const size_t chain_defs_count;
extern const struct rule_def rule_defs[];
extern const size_t rule_defs_count;

const char *family_name (uint32_t family);
uint32_t padded (uint32_t len);
uint32_t set_key_len (const struct set_def *s);
uint32_t fields_len (const enum field_type *fields, unsigned n);
uint32_t fields_type (const enum field_type *fields, unsigned n);
uint32_t set_key_type (const struct set_def *s);
const struct set_def *find_set_def (uint32_t family, const char *name);

#endif
