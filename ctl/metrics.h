/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_METRICS_H
#define MOAT_METRICS_H

/* `moatctl metrics` (docs/design.md, "Counters"): stats.h's counters in
 * Prometheus' text exposition format (version 0.0.4), for node_exporter's
 * textfile collector, or answered to one HTTP GET on stdin/stdout (`moatctl
 * metrics --http`, socket-activated with Accept=yes: no daemon):
 *
 *   # HELP moat_packets_total ...
 *   # TYPE moat_packets_total counter
 *   moat_packets_total{container="web",network="moat",direction="in",verdict="allowed"} 12
 *
 * and moat_bytes_total alike. `container` is the name, else the id; label
 * values are escaped as the format says (\\, \", \n). */

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#define MOAT_METRICS_REQUEST_MAX 8192
#define MOAT_METRICS_READ_MS 5000
#define MOAT_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The exposition of moat_ctl_stats' JSON into *ret (malloc'd, NUL-ended);
 * -1 when out of memory. */
int moat_metrics_format (json_t *stats, char **ret, size_t *ret_len);

/* One label value, escaped, written to f. */
void moat_metrics_put_label (FILE *f, const char *value);

/* The `len` bytes of a request head received so far: 1 incomplete (read
 * more while len < MOAT_METRICS_REQUEST_MAX), 200 for GET (or HEAD) of /
 * or /metrics (any query), else the refusal's status (400, 404, 405, 431). */
int moat_metrics_request (const char *buf, size_t len);

/* Reads one request on `in` (bounded in size and MOAT_METRICS_READ_MS),
 * answers on `out` with `body` (status 200) or the refusal; returns the
 * status. `body` NULL: 500. */
int moat_metrics_serve (int in, int out, const char *body);

#endif
