/* SPDX-License-Identifier: Apache-2.0 */
#include "store/etcd.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

/* An answer larger than this is refused (a range over a cluster of
 * thousands of members stays far below it). */
#define ANSWER_MAX (64u << 20)

struct moat_etcd
{
  char **endpoints;
  size_t n;
  size_t cur;
  CURL *curl;
};

struct buf
{
  char *data;
  size_t len;
  bool too_big;
};

static void
buf_clear (struct buf *b)
{
  free (b->data);
  memset (b, 0, sizeof *b);
}

static size_t
buf_write (char *ptr, size_t size, size_t nmemb, void *userdata)
{
  struct buf *b = userdata;
  size_t n = size * nmemb;
  char *p;

  if (b->len + n > ANSWER_MAX)
    {
      b->too_big = true;
      return 0;
    }
  p = realloc (b->data, b->len + n + 1);
  if (!p)
    return 0;
  memcpy (p + b->len, ptr, n);
  b->data = p;
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

void
moat_etcd_init (void)
{
  static bool done;

  /* One global init per process, before any handle; moat is single
   * threaded where it talks to etcd. */
  if (!done)
    curl_global_init (CURL_GLOBAL_DEFAULT);
  done = true;
}

void
moat_etcd_free (struct moat_etcd *e)
{
  if (!e)
    return;
  for (size_t i = 0; i < e->n; i++)
    free (e->endpoints[i]);
  free (e->endpoints);
  if (e->curl)
    curl_easy_cleanup (e->curl);
  free (e);
}

static int
add_endpoint (struct moat_etcd *e, const char *ep, size_t len, moat_err_t *err)
{
  char **p;

  while (len > 0 && ep[len - 1] == '/')
    len--;
  if (len == 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "store: an empty endpoint");
  if (strncmp (ep, "http://", 7) != 0 && strncmp (ep, "https://", 8) != 0)
    return moat_error (err, MOAT_E_CONFIG, 0, "store: %.*s: not an http:// or https:// URL",
                       (int)len, ep);
  p = realloc (e->endpoints, (e->n + 1) * sizeof *p);
  if (!p)
    return moat_error_nomem (err, "the store's endpoints");
  e->endpoints = p;
  e->endpoints[e->n] = strndup (ep, len);
  if (!e->endpoints[e->n])
    return moat_error_nomem (err, "the store's endpoints");
  e->n++;
  return 0;
}

struct moat_etcd *
moat_etcd_new (const char *endpoints, moat_err_t *err)
{
  _cleanup_ (moat_etcd_freep) struct moat_etcd *e = calloc (1, sizeof *e);
  const char *p = endpoints;

  if (!e)
    return moat_error_nomem (err, "an etcd client"), NULL;
  for (;;)
    {
      const char *comma = strchr (p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen (p);

      if (add_endpoint (e, p, len, err) < 0)
        return NULL;
      if (!comma)
        break;
      p = comma + 1;
    }
  moat_etcd_init ();
  e->curl = curl_easy_init ();
  if (!e->curl)
    return moat_error_nomem (err, "an etcd client"), NULL;
  return TAKE_PTR (e);
}

const char *
moat_etcd_endpoint (const struct moat_etcd *e)
{
  return e->endpoints[e->cur];
}

/* Options every request of ours has. */
static void
set_common (CURL *c, const char *url, const char *body, struct curl_slist *headers)
{
  curl_easy_setopt (c, CURLOPT_URL, url);
  curl_easy_setopt (c, CURLOPT_POST, 1L);
  curl_easy_setopt (c, CURLOPT_COPYPOSTFIELDS, body);
  curl_easy_setopt (c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT_MS, (long)MOAT_ETCD_CONNECT_MS);
  curl_easy_setopt (c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt (c, CURLOPT_TCP_KEEPIDLE, 5L);
  curl_easy_setopt (c, CURLOPT_TCP_KEEPINTVL, 2L);
}

/* What one endpoint answered to one call. */
enum attempt
{
  ATTEMPT_ANSWER,      /* a JSON answer (maybe etcd's error) */
  ATTEMPT_UNREACHABLE, /* try the next endpoint */
};

static enum attempt
attempt_one (struct moat_etcd *e, const char *ep, const char *path, const char *body,
             json_t **answer, moat_err_t *err)
{
  _cleanup_free_ char *url = NULL;
  struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
  struct buf b = { 0 };
  json_error_t jerr;
  CURLcode rc;
  long status = 0;

  if (asprintf (&url, "%s%s", ep, path) < 0 || !headers)
    {
      curl_slist_free_all (headers);
      moat_error_nomem (err, "an etcd request");
      return ATTEMPT_UNREACHABLE;
    }
  curl_easy_reset (e->curl);
  set_common (e->curl, url, body, headers);
  curl_easy_setopt (e->curl, CURLOPT_TIMEOUT_MS, (long)MOAT_ETCD_TIMEOUT_MS);
  curl_easy_setopt (e->curl, CURLOPT_WRITEFUNCTION, buf_write);
  curl_easy_setopt (e->curl, CURLOPT_WRITEDATA, &b);
  rc = curl_easy_perform (e->curl);
  curl_slist_free_all (headers);
  curl_easy_getinfo (e->curl, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK)
    {
      moat_error (err, MOAT_E_IO, 0, "etcd %s: %s", ep,
                  b.too_big ? "answer too large" : curl_easy_strerror (rc));
      buf_clear (&b);
      return ATTEMPT_UNREACHABLE;
    }
  *answer = b.data ? json_loadb (b.data, b.len, 0, &jerr) : NULL;
  if (!json_is_object (*answer))
    {
      moat_error (err, MOAT_E_IO, 0, "etcd %s%s: HTTP %ld, not a JSON answer", ep, path, status);
      json_decref (*answer);
      *answer = NULL;
      buf_clear (&b);
      /* Not etcd's gateway, or a proxy's error page: another may be. */
      return ATTEMPT_UNREACHABLE;
    }
  buf_clear (&b);
  return ATTEMPT_ANSWER;
}

/* Whether etcd's error answer says to ask another member (gRPC
 * UNAVAILABLE, 14: no leader, stopping, ...). */
static bool
answer_unavailable (json_t *answer)
{
  return json_object_get (answer, "error")
         && json_integer_value (json_object_get (answer, "code")) == 14;
}

/* POSTs body to path: the first endpoint (from the current one round)
 * that answers gives *answer, and becomes the current one. An error
 * answer is -1 with etcd's message. */
static int
call (struct moat_etcd *e, const char *path, json_t *body, json_t **answer, moat_err_t *err)
{
  _cleanup_free_ char *text = body ? json_dumps (body, JSON_COMPACT) : NULL;

  json_decref (body);
  if (!text)
    return moat_error_nomem (err, "an etcd request");
  for (size_t i = 0; i < e->n; i++)
    {
      size_t k = (e->cur + i) % e->n;
      json_t *a = NULL;

      if (attempt_one (e, e->endpoints[k], path, text, &a, err) == ATTEMPT_UNREACHABLE)
        continue;
      if (answer_unavailable (a))
        {
          moat_etcd_answer_error (a, err);
          moat_error_prefix (err, "etcd %s%s", e->endpoints[k], path);
          json_decref (a);
          continue;
        }
      e->cur = k;
      if (moat_etcd_answer_error (a, err))
        {
          json_decref (a);
          return moat_error_prefix (err, "etcd %s%s", e->endpoints[k], path);
        }
      *answer = a;
      return 0;
    }
  /* *err holds what the last one tried said. */
  if (e->n > 1)
    moat_error_prefix (err, "no endpoint of %zu answered; the last", e->n);
  return -1;
}

int
moat_etcd_range (struct moat_etcd *e, const char *key, bool prefix, struct moat_etcd_kvs *ret,
                 moat_err_t *err)
{
  json_t *a = NULL;
  int r;

  if (call (e, "/v3/kv/range", moat_etcd_range_request (key, prefix), &a, err) < 0)
    return -1;
  r = moat_etcd_parse_range (a, ret, err);
  json_decref (a);
  return r;
}

int
moat_etcd_put (struct moat_etcd *e, const char *key, const char *value, int64_t lease,
               moat_err_t *err)
{
  json_t *a = NULL;

  if (call (e, "/v3/kv/put", moat_etcd_put_request (key, value, lease), &a, err) < 0)
    return -1;
  json_decref (a);
  return 0;
}

int
moat_etcd_delete (struct moat_etcd *e, const char *key, bool prefix, moat_err_t *err)
{
  json_t *a = NULL;

  if (call (e, "/v3/kv/deleterange", moat_etcd_delete_request (key, prefix), &a, err) < 0)
    return -1;
  json_decref (a);
  return 0;
}

int
moat_etcd_create (struct moat_etcd *e, const char *key, const char *value, int64_t lease,
                  struct moat_etcd_kv *holder, moat_err_t *err)
{
  json_t *a = NULL;
  int r;

  if (call (e, "/v3/kv/txn", moat_etcd_create_request (key, value, lease), &a, err) < 0)
    return -1;
  r = moat_etcd_parse_create (a, holder, err);
  json_decref (a);
  return r;
}

static json_t *
lease_body (int64_t ttl_or_id, const char *field)
{
  char text[32];

  snprintf (text, sizeof text, "%lld", (long long)ttl_or_id);
  return json_pack ("{s:s}", field, text);
}

int
moat_etcd_lease_grant (struct moat_etcd *e, int64_t ttl, int64_t *ret_id, moat_err_t *err)
{
  json_t *a = NULL;
  int r;

  if (call (e, "/v3/lease/grant", lease_body (ttl, "TTL"), &a, err) < 0)
    return -1;
  r = moat_etcd_int (a, "ID", ret_id, "lease grant", err);
  json_decref (a);
  if (r == 0 && *ret_id == 0)
    return moat_error (err, MOAT_E_IO, 0, "etcd %s: lease grant: no ID", moat_etcd_endpoint (e));
  return r;
}

int
moat_etcd_lease_keepalive (struct moat_etcd *e, int64_t id, int64_t *ret_ttl, moat_err_t *err)
{
  json_t *a = NULL;
  json_t *result;
  int r;

  if (call (e, "/v3/lease/keepalive", lease_body (id, "ID"), &a, err) < 0)
    return -1;
  /* The gateway streams: one {"result": ...} per request; no "TTL" when
   * the lease is gone. */
  result = json_object_get (a, "result");
  if (moat_etcd_answer_error (result, err))
    r = moat_error_prefix (err, "etcd %s: lease keepalive", moat_etcd_endpoint (e));
  else
    r = moat_etcd_int (result, "TTL", ret_ttl, "lease keepalive", err);
  json_decref (a);
  return r;
}

int
moat_etcd_lease_revoke (struct moat_etcd *e, int64_t id, moat_err_t *err)
{
  json_t *a = NULL;

  if (call (e, "/v3/lease/revoke", lease_body (id, "ID"), &a, err) < 0)
    return -1;
  json_decref (a);
  return 0;
}

struct moat_etcd_watch
{
  CURLM *multi;
  CURL *easy;
  struct curl_slist *headers;
  char *endpoint;
  struct buf in; /* what arrived and is not a whole message yet */
  bool broken;
};

void
moat_etcd_watch_close (struct moat_etcd_watch *w)
{
  if (!w)
    return;
  if (w->easy)
    {
      curl_multi_remove_handle (w->multi, w->easy);
      curl_easy_cleanup (w->easy);
    }
  if (w->multi)
    curl_multi_cleanup (w->multi);
  curl_slist_free_all (w->headers);
  free (w->endpoint);
  buf_clear (&w->in);
  free (w);
}

int
moat_etcd_watch_open (struct moat_etcd *e, const char *prefix, int64_t start_revision,
                      struct moat_etcd_watch **ret, moat_err_t *err)
{
  _cleanup_ (moat_etcd_watch_closep) struct moat_etcd_watch *w = calloc (1, sizeof *w);
  _cleanup_free_ char *body = NULL;
  _cleanup_free_ char *url = NULL;
  json_t *req = moat_etcd_watch_request (prefix, start_revision);

  body = req ? json_dumps (req, JSON_COMPACT) : NULL;
  json_decref (req);
  if (!w || !body)
    return moat_error_nomem (err, "an etcd watch");
  w->endpoint = strdup (moat_etcd_endpoint (e));
  w->multi = curl_multi_init ();
  w->easy = curl_easy_init ();
  w->headers = curl_slist_append (NULL, "Content-Type: application/json");
  if (!w->endpoint || !w->multi || !w->easy || !w->headers
      || asprintf (&url, "%s/v3/watch", w->endpoint) < 0)
    return moat_error_nomem (err, "an etcd watch");
  set_common (w->easy, url, body, w->headers);
  curl_easy_setopt (w->easy, CURLOPT_WRITEFUNCTION, buf_write);
  curl_easy_setopt (w->easy, CURLOPT_WRITEDATA, &w->in);
  if (curl_multi_add_handle (w->multi, w->easy) != CURLM_OK)
    return moat_error (err, MOAT_E_IO, 0, "etcd %s: watch: cannot start", w->endpoint);
  *ret = TAKE_PTR (w);
  return 0;
}

/* Hands each whole message in w->in to cb. The gateway writes one JSON
 * object per message, each followed by a newline. */
static int
deliver (struct moat_etcd_watch *w, moat_etcd_watch_cb cb, void *data, moat_err_t *err)
{
  char *nl;

  while (w->in.data && (nl = memchr (w->in.data, '\n', w->in.len)))
    {
      size_t line = (size_t)(nl - w->in.data) + 1;
      struct moat_etcd_watch_msg msg = { 0 };
      json_error_t jerr;
      json_t *j = json_loadb (w->in.data, line - 1, 0, &jerr);
      int r;

      memmove (w->in.data, w->in.data + line, w->in.len - line + 1);
      w->in.len -= line;
      if (!j)
        return moat_error (err, MOAT_E_DECODE, 0, "etcd %s: watch: %s", w->endpoint, jerr.text);
      r = moat_etcd_parse_watch (j, &msg, err);
      json_decref (j);
      if (r < 0)
        return moat_error_prefix (err, "etcd %s: watch", w->endpoint);
      r = cb (&msg, data, err);
      moat_etcd_watch_msg_clear (&msg);
      if (r < 0)
        return -1;
    }
  return 0;
}

/* The stream's end, if it ended: -1 naming why. */
static int
check_done (struct moat_etcd_watch *w, moat_err_t *err)
{
  CURLMsg *m;
  int left;

  while ((m = curl_multi_info_read (w->multi, &left)))
    if (m->msg == CURLMSG_DONE)
      {
        w->broken = true;
        return moat_error (err, MOAT_E_IO, 0, "etcd %s: watch stream ended: %s", w->endpoint,
                           m->data.result == CURLE_OK ? "closed by the server"
                                                      : curl_easy_strerror (m->data.result));
      }
  return 0;
}

int
moat_etcd_watch_wait (struct moat_etcd_watch *w, struct moat_waitfd *fds, unsigned n,
                      int timeout_ms, moat_etcd_watch_cb cb, void *data, moat_err_t *err)
{
  struct curl_waitfd extra[8];
  int running = 0;

  if (w->broken)
    return moat_error (err, MOAT_E_IO, 0, "etcd %s: watch stream ended", w->endpoint);
  if (n > ARRAY_SIZE (extra))
    return moat_error (err, MOAT_E_IO, EINVAL, "watch: too many fds");
  for (unsigned i = 0; i < n; i++)
    extra[i] = (struct curl_waitfd){ .fd = fds[i].fd, .events = CURL_WAIT_POLLIN };
  if (curl_multi_poll (w->multi, extra, n, timeout_ms, NULL) != CURLM_OK)
    return moat_error (err, MOAT_E_IO, 0, "etcd %s: watch: poll failed", w->endpoint);
  for (unsigned i = 0; i < n; i++)
    fds[i].ready = (extra[i].revents & CURL_WAIT_POLLIN) != 0;
  if (curl_multi_perform (w->multi, &running) != CURLM_OK)
    return moat_error (err, MOAT_E_IO, 0, "etcd %s: watch: transfer failed", w->endpoint);
  if (deliver (w, cb, data, err) < 0)
    {
      w->broken = true;
      return -1;
    }
  return check_done (w, err);
}
