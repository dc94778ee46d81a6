/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus' text exposition of the counters, and its one-request HTTP
 * answer (metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "http.h"

void
moat_metrics_put_label (FILE *f, const char *value)
{
  for (const char *p = value; *p; p++)
    switch (*p)
      {
      case '\\':
        fputs ("\\\\", f);
        break;
      case '"':
        fputs ("\\\"", f);
        break;
      case '\n':
        fputs ("\\n", f);
        break;
      default:
        fputc (*p, f);
      }
}

static const struct
{
  const char *name, *help, *field;
} metrics[] = {
  { "moat_packets_total",
    "Packets moat's rules let through (allowed) or refused, per container and direction.",
    "packets" },
  { "moat_bytes_total",
    "Bytes (IP packets whole) moat's rules let through (allowed) or refused, per container and "
    "direction.",
    "bytes" },
};

static const char *const verdicts[] = { "allowed", "refused" };
static const char *const directions[] = { "in", "out" };

/* One container's four samples of one metric. */
static void
put_samples (FILE *f, const char *metric, const char *field, json_t *c)
{
  json_t *name = json_object_get (c, "name");
  const char *who = json_is_string (name) ? json_string_value (name)
                                          : json_string_value (json_object_get (c, "id"));
  const char *network = json_string_value (json_object_get (c, "network"));

  for (size_t v = 0; v < 2; v++)
    for (size_t d = 0; d < 2; d++)
      {
        json_t *count = json_object_get (
            json_object_get (json_object_get (c, verdicts[v]), directions[d]), field);

        fprintf (f, "%s{container=\"", metric);
        moat_metrics_put_label (f, who ? who : "");
        fputs ("\",network=\"", f);
        moat_metrics_put_label (f, network ? network : "");
        fprintf (f, "\",direction=\"%s\",verdict=\"%s\"} %" JSON_INTEGER_FORMAT "\n", directions[d],
                 verdicts[v], json_integer_value (count));
      }
}

int
moat_metrics_format (json_t *stats, char **ret, size_t *ret_len)
{
  json_t *list = json_object_get (stats, "containers"), *c;
  char *buf = NULL;
  size_t len = 0, i;
  FILE *f = open_memstream (&buf, &len);

  if (!f)
    return -1;
  for (size_t m = 0; m < sizeof (metrics) / sizeof (metrics[0]); m++)
    {
      fprintf (f, "# HELP %s %s\n# TYPE %s counter\n", metrics[m].name, metrics[m].help,
               metrics[m].name);
      json_array_foreach (list, i, c) put_samples (f, metrics[m].name, metrics[m].field, c);
    }
  if (fclose (f) != 0)
    {
      free (buf);
      return -1;
    }
  *ret = buf;
  *ret_len = len;
  return 0;
}

/* --- one HTTP request ------------------------------------------------------------ */

static bool
path_served (const char *path, size_t len)
{
  const char *q = memchr (path, '?', len);

  if (q)
    len = (size_t)(q - path);
  return (len == 1 && path[0] == '/') || (len == 8 && memcmp (path, "/metrics", 8) == 0);
}

int
moat_metrics_request (const char *buf, size_t len)
{
  const char *eol = memmem (buf, len, "\r\n", 2), *sp1, *sp2;
  size_t line;

  if (!eol)
    return len >= MOAT_METRICS_REQUEST_MAX ? 431 : 1;
  line = (size_t)(eol - buf);
  sp1 = memchr (buf, ' ', line);
  sp2 = sp1 ? memchr (sp1 + 1, ' ', line - (size_t)(sp1 + 1 - buf)) : NULL;
  if (!sp1 || !sp2 || line - (size_t)(sp2 + 1 - buf) != 8 || memcmp (sp2 + 1, "HTTP/1.", 7) != 0)
    return 400;
  if (!memmem (buf, len, "\r\n\r\n", 4))
    return len >= MOAT_METRICS_REQUEST_MAX ? 431 : 1;
  if (!((sp1 - buf == 3 && memcmp (buf, "GET", 3) == 0)
        || (sp1 - buf == 4 && memcmp (buf, "HEAD", 4) == 0)))
    return 405;
  return path_served (sp1 + 1, (size_t)(sp2 - sp1 - 1)) ? 200 : 404;
}

static int64_t
monotonic_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the head, bounded in size and time: its status (a timeout 408). */
static int
read_head (int fd, char *buf, bool *head)
{
  int64_t deadline = monotonic_ms () + MOAT_METRICS_READ_MS;
  size_t len = 0;

  for (;;)
    {
      int64_t left = deadline - monotonic_ms ();
      struct timeval tv = { .tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000 };
      ssize_t n;
      int status;

      if (left <= 0)
        return 408;
      setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof (tv));
      n = read (fd, buf + len, MOAT_METRICS_REQUEST_MAX - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 408;
      if (n <= 0)
        return 400;
      len += (size_t)n;
      status = moat_metrics_request (buf, len);
      if (status != 1)
        {
          *head = len >= 4 && memcmp (buf, "HEAD", 4) == 0;
          return status;
        }
    }
}

int
moat_metrics_serve (int in, int out, const char *body)
{
  _cleanup_free_ char *buf = malloc (MOAT_METRICS_REQUEST_MAX);
  _cleanup_free_ char *msg = NULL;
  bool head = false;
  int status = buf ? read_head (in, buf, &head) : 500;
  const char *text;
  int n;

  if (status == 200 && !body)
    status = 500;
  text = status == 200 ? body : moat_http_status_text (status);
  n = asprintf (&msg,
                "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n%s%s",
                status, moat_http_status_text (status),
                status == 200 ? MOAT_METRICS_CONTENT_TYPE : "text/plain; charset=utf-8",
                strlen (text) + (status == 200 ? 0 : 1),
                status == 405 ? "Allow: GET, HEAD\r\n" : "", head ? "" : text,
                head || status == 200 ? "" : "\n");
  if (n > 0)
    moat_write_all (out, msg, (size_t)n);
  return status;
}
