/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP front (http.h): one connection on stdin/stdout, answered once. */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "ctl.h"
#include "envelope.h"
#include "grant.h"
#include "http.h"
#include "token.h"

static int64_t
monotonic_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Each read waits at most what is left of MOAT_HTTP_READ_MS. */
static void
read_timeout (int fd, int64_t left_ms)
{
  struct timeval tv = { .tv_sec = left_ms / 1000, .tv_usec = (left_ms % 1000) * 1000 };

  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof (tv));
}

/* Reads until the head is complete (or refused), bounded in size and time. */
static int
read_request (int fd, char *buf, struct moat_http_request *req)
{
  int64_t deadline = monotonic_ms () + MOAT_HTTP_READ_MS;
  size_t len = 0;

  for (;;)
    {
      int64_t left = deadline - monotonic_ms ();
      ssize_t n;
      int r;

      if (left <= 0)
        return req->status = 408, req->reason = "request not complete in 5 s", 0;
      read_timeout (fd, left);
      n = read (fd, buf + len, MOAT_HTTP_REQUEST_MAX - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return req->status = 408, req->reason = "request not complete in 5 s", 0;
      if (n <= 0)
        return req->status = 400, req->reason = "connection closed before the request's end", 0;
      len += (size_t)n;
      r = moat_http_parse (buf, len, req);
      if (r <= 0)
        return r;
    }
}

static void
respond (int fd, int status, json_t *body)
{
  _cleanup_free_ char *text = body ? json_dumps (body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  _cleanup_free_ char *msg = NULL;
  int n;

  n = asprintf (&msg,
                "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n%s\n",
                status, moat_http_status_text (status), (text ? strlen (text) : 2) + 1,
                status == 405 ? "Allow: GET\r\n" : "", text ? text : "{}");
  if (n > 0)
    moat_write_all (fd, msg, (size_t)n);
}

/* The reason goes to the journal; the client learns it too, but for a
 * server error (paths, system errors), which stays here. */
static int
refuse (int fd, int status, const char *reason)
{
  json_t *body = json_pack ("{s:s}", "error",
                            status >= 500 ? "server error: see this host's journal" : reason);

  fprintf (stderr, "moatctl http: %d %s\n", status, reason);
  respond (fd, status, body);
  json_decref (body);
  return status;
}

/* The connection's peer, or "" when stdin is no IPv4 socket. */
static void
peer_of (int fd, char *buf, size_t size)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof (ss);

  buf[0] = '\0';
  if (getpeername (fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET)
    inet_ntop (AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf, (socklen_t)size);
}

static json_t *
granted_body (const struct moat_token_claims *c, const struct moat_envelope_rules *rules,
              int64_t expires, int64_t now)
{
  json_t *grants = json_array ();
  char ports[64], words[512];

  for (size_t i = 0; grants && i < rules->n; i++)
    {
      moat_ports_format (&rules->v[i].ports, ports, sizeof (ports));
      snprintf (words, sizeof (words), "%.64s ingress %s/32 %s", rules->v[i].container, c->sub,
                ports);
      json_array_append_new (grants, json_string (words));
    }
  return json_pack ("{s:I, s:I, s:s, s:o}", "expires", (json_int_t)expires, "expiresIn",
                    (json_int_t)(expires - now), "sub", c->sub, "grants", grants);
}

/* The token checked, its rules applied: the status answered. */
static int
allow (int out, const char *jwt, const char *peer, const struct moat_http_opts *o)
{
  _cleanup_ (moat_keyring_free) struct moat_keyring kr = { 0 };
  _cleanup_ (moat_token_claims_free) struct moat_token_claims c = { 0 };
  _cleanup_ (moat_envelope_rules_free) struct moat_envelope_rules rules = { 0 };
  moat_err_t err = { 0 };
  int64_t now = o->now (), expires = 0;
  char by[600];
  json_t *body;

  if (moat_keyring_load (o->keys_dir, &kr, &err) < 0)
    return refuse (out, 500, err.msg);
  if (moat_token_verify (&kr, jwt, now, o->iss, &c, &err) < 0)
    return refuse (out, 401, err.msg);
  if (c.n_grants)
    return refuse (out, 403, "the token has grants: moatctl grant --token applies those");
  if (!*peer || strcmp (peer, c.sub) != 0)
    return refuse (out, 403, "the token's sub is not this connection's address");
  if (moat_envelope_rules_load (moat_keyring_find (&kr, c.kid), &rules, &err) < 0)
    return refuse (out, 500, err.msg);
  snprintf (by, sizeof (by), "token kid=%s sub=%s (http)", c.kid, c.sub);
  if (moat_ctl_grant_envelope (&c, &rules, by, now, &expires, &err) < 0)
    return refuse (out, err.code == MOAT_E_CONFIG || err.code == MOAT_E_UNKNOWN ? 403 : 500,
                   err.msg);
  body = granted_body (&c, &rules, expires, now);
  fprintf (stderr, "moatctl http: 200 %s let in for %" PRId64 " s (kid %s)\n", c.sub, expires - now,
           c.kid);
  respond (out, 200, body);
  json_decref (body);
  return 200;
}

int
moat_ctl_http_serve (int in, int out, const struct moat_http_opts *o)
{
  _cleanup_free_ char *buf = malloc (MOAT_HTTP_REQUEST_MAX);
  struct moat_http_request req = { 0 };
  char peer[INET_ADDRSTRLEN];
  int status;

  if (!buf)
    return refuse (out, 500, "out of memory");
  peer_of (in, peer, sizeof (peer));
  if (read_request (in, buf, &req) < 0)
    return refuse (out, 500, "out of memory");
  if (req.status)
    return refuse (out, req.status, req.reason);
  status = allow (out, req.token, peer, o);
  moat_http_request_free (&req);
  return status;
}
