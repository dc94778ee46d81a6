/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_PUBLISH_H
#define MOAT_PUBLISH_H

/* Published ports (docs/design.md, "Published ports"): a host address,
 * protocol and port (or range) that the host forwards to a container's
 * port (or range of the same length). Two sources: the runtime's
 * runtimeConfig.portMappings (CNI's `portMappings` capability: podman -p,
 * Kubernetes hostPort), and the text form of io.moat.publish / MOAT_PUBLISH:
 *
 *   list   = item *( "," item )
 *   item   = [ host-ip ":" ] ports ":" ports [ "/" ( "tcp" / "udp" ) ]
 *   ports  = port [ "-" port ]            port: 1-65535
 *
 * e.g. `8080:80/tcp,127.0.0.1:5353:53/udp,9000-9010:9000-9010`. A missing
 * host address (or "") is every host address of both families (IPv6 ones
 * on a dual-stack network, but ::1); 0.0.0.0 every IPv4 one; an IPv6
 * address, bracketed in the text form (`[::]:8080:80`), that address
 * only, :: every IPv6 one, as docker, podman and CNI's portmap read them.
 * ::1 is refused: the kernel cannot DNAT IPv6 loopback to a container.
 * The protocol defaults to tcp. */

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct moat_nft_elems;

/* Ports published by one container, all mappings together. The kernel
 * holds one element per port (a map cannot shift a range), two per port
 * in all, in the one batch of the container's ADD: the bound keeps that
 * batch (about 200 bytes per port) and the kernel's pipapo rebuild it
 * triggers small, and stops "1-65535:1-65535" from filling the kernel. */
#define MOAT_PUBLISH_MAX_PORTS 4096

struct moat_publish
{
  int family;            /* 0: every address of both; AF_INET: host; AF_INET6: host6 */
  struct in_addr host;   /* AF_INET (0.0.0.0: every IPv4 address) */
  struct in6_addr host6; /* AF_INET6 (::: every IPv6 address) */
  uint8_t proto;         /* IPPROTO_TCP or IPPROTO_UDP */
  uint16_t host_port;    /* first host port */
  uint16_t port;         /* first container port */
  uint16_t count;        /* ports in the range, 1 for one */
};

struct moat_publish_list
{
  struct moat_publish *v;
  size_t n;
};

void moat_publish_list_free (struct moat_publish_list *l);

/* Appends the mappings of `text` (the grammar above); `field` names the
 * source in errors (`io.moat.publish: item "x": ...`). MOAT_E_CONFIG on
 * bad input, with nothing appended. */
int moat_publish_parse_text (const char *field, const char *text, struct moat_publish_list *l,
                             moat_err_t *err);

/* Appends runtimeConfig.portMappings ([{hostPort, containerPort, protocol,
 * hostIP}]), errors naming `runtimeConfig.portMappings[i].key`. */
int moat_publish_parse_cni (json_t *mappings, struct moat_publish_list *l, moat_err_t *err);

/* Checks the list as a whole: total ports within MOAT_PUBLISH_MAX_PORTS,
 * no two mappings claiming one host address/protocol/port. */
int moat_publish_check (const char *field, const struct moat_publish_list *l, moat_err_t *err);

/* "8080:80/tcp", "10.0.0.1:9000-9010:9000-9010/udp", "[::]:53:53/udp"
 * (the text form, which moat_publish_parse_text reads back). */
void moat_publish_format (const struct moat_publish *p, char *buf, size_t size);
#define MOAT_PUBLISH_TEXT_MAX 72

/* Whether a and b claim some host address/protocol/port in common
 * (0.0.0.0 overlaps every IPv4 address, :: every IPv6 one, no address
 * every one of both). */
bool moat_publish_overlap (const struct moat_publish *a, const struct moat_publish *b);

/* The record's "publish": an array of text items; NULL for an empty list. */
json_t *moat_publish_to_json (const struct moat_publish_list *l);
int moat_publish_from_json (json_t *array, struct moat_publish_list *l, moat_err_t *err);

/* The kernel elements of the list for container `addr`: per port, the
 * publish map's element and the published set's; an IPv6 host address's
 * waits for the container's IPv6 address (moat_nft_elems_twin6 makes it,
 * in publish6), and 0.0.0.0's gets no IPv6 twin. -1 on out of memory. */
int moat_publish_elems (const struct moat_publish_list *l, struct in_addr addr,
                        struct moat_nft_elems *out);

#endif
