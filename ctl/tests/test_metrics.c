/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus' text exposition of the counters and its one HTTP request
 * (metrics.h): no kernel, no records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../metrics.h"

/* One container of stats.h's JSON, its counts 1..8 in the order
 * allowed in, allowed out, refused in, refused out (packets, bytes). */
static json_t *
container (const char *id, const char *name, const char *network, json_int_t base)
{
  return json_pack ("{s:s, s:s?, s:s, s:s, s:{s:{s:I, s:I}, s:{s:I, s:I}},"
                    " s:{s:{s:I, s:I}, s:{s:I, s:I}}}",
                    "id", id, "name", name, "network", network, "address", "10.1.0.2", "allowed",
                    "in", "packets", base + 1, "bytes", base + 2, "out", "packets", base + 3,
                    "bytes", base + 4, "refused", "in", "packets", base + 5, "bytes", base + 6,
                    "out", "packets", base + 7, "bytes", base + 8);
}

static char *
format (json_t *stats)
{
  char *text = NULL;
  size_t len = 0;

  assert_int_equal (moat_metrics_format (stats, &text, &len), 0);
  assert_int_equal (strlen (text), len);
  json_decref (stats);
  return text;
}

static void
test_format_samples (void **state)
{
  char *text = format (json_pack ("{s:[o, o]}", "containers", container ("c1", "web", "moat", 0),
                                  container ("c2", NULL, "moat", 100)));
  static const char *const want[] = {
    "# HELP moat_packets_total ",
    "# TYPE moat_packets_total counter\n",
    "moat_packets_total{container=\"web\",network=\"moat\",direction=\"in\",verdict=\"allowed\"} "
    "1\n",
    "moat_packets_total{container=\"web\",network=\"moat\",direction=\"out\",verdict=\"allowed\"} "
    "3\n",
    "moat_packets_total{container=\"web\",network=\"moat\",direction=\"in\",verdict=\"refused\"} "
    "5\n",
    "moat_packets_total{container=\"web\",network=\"moat\",direction=\"out\",verdict=\"refused\"} "
    "7\n",
    /* No name: the id. */
    "moat_packets_total{container=\"c2\",network=\"moat\",direction=\"out\",verdict=\"refused\"} "
    "107\n",
    "# HELP moat_bytes_total ",
    "# TYPE moat_bytes_total counter\n",
    "moat_bytes_total{container=\"web\",network=\"moat\",direction=\"in\",verdict=\"allowed\"} 2\n",
    "moat_bytes_total{container=\"c2\",network=\"moat\",direction=\"out\",verdict=\"refused\"} "
    "108\n",
  };
  const char *at = text;

  for (size_t i = 0; i < sizeof (want) / sizeof (want[0]); i++)
    {
      const char *found = strstr (at, want[i]);

      if (!found)
        fail_msg ("missing or out of order: %s\nin:\n%s", want[i], text);
      at = found + strlen (want[i]);
    }
  /* 2 metrics x (HELP + TYPE + 2 containers x 4 samples). */
  {
    size_t lines = 0;

    for (const char *p = text; *p; p++)
      lines += *p == '\n';
    assert_int_equal (lines, 2 * (2 + 8));
  }
  assert_int_equal (text[strlen (text) - 1], '\n');
  free (text);
}

static void
test_format_no_containers (void **state)
{
  char *text = format (json_pack ("{s:[]}", "containers"));

  assert_non_null (strstr (text, "# TYPE moat_packets_total counter\n"));
  assert_non_null (strstr (text, "# TYPE moat_bytes_total counter\n"));
  assert_null (strstr (text, "{"));
  free (text);
}

/* Backslash, double quote and newline escaped; anything else as is. */
static void
test_label_escaping (void **state)
{
  char *text
      = format (json_pack ("{s:[o]}", "containers", container ("c1", "a\"b\\c\nd é", "net\"x", 0)));

  assert_non_null (strstr (text, "{container=\"a\\\"b\\\\c\\nd é\",network=\"net\\\"x\","));
  free (text);
}

static void
test_put_label (void **state)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);

  moat_metrics_put_label (f, "\\\"\n\t");
  fclose (f);
  assert_string_equal (buf, "\\\\\\\"\\n\t");
  free (buf);
}

#define REQ(s) moat_metrics_request ((s), strlen (s))

static void
test_request (void **state)
{
  assert_int_equal (REQ ("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"), 200);
  assert_int_equal (REQ ("GET / HTTP/1.0\r\n\r\n"), 200);
  assert_int_equal (REQ ("GET /metrics?x=1 HTTP/1.1\r\n\r\n"), 200);
  assert_int_equal (REQ ("HEAD /metrics HTTP/1.1\r\n\r\n"), 200);
  /* Incomplete: read more. */
  assert_int_equal (REQ (""), 1);
  assert_int_equal (REQ ("GET /metrics HTTP/1.1\r\nHost: a\r\n"), 1);
  assert_int_equal (REQ ("GET /metr"), 1);
  /* Refused. */
  assert_int_equal (REQ ("POST /metrics HTTP/1.1\r\n\r\n"), 405);
  assert_int_equal (REQ ("GET /metricsx HTTP/1.1\r\n\r\n"), 404);
  assert_int_equal (REQ ("GET /other HTTP/1.1\r\n\r\n"), 404);
  assert_int_equal (REQ ("GET /metrics\r\n\r\n"), 400);
  assert_int_equal (REQ ("GET /metrics HTTP/2.0\r\n\r\n"), 400);
  assert_int_equal (REQ ("GET  HTTP/1.1 x\r\n\r\n"), 400);
  assert_int_equal (REQ ("\r\n\r\n"), 400);
}

static void
test_request_too_long (void **state)
{
  char *buf = malloc (MOAT_METRICS_REQUEST_MAX);

  memset (buf, 'a', MOAT_METRICS_REQUEST_MAX);
  assert_int_equal (moat_metrics_request (buf, MOAT_METRICS_REQUEST_MAX), 431);
  memcpy (buf, "GET / HTTP/1.1\r\n", 16);
  assert_int_equal (moat_metrics_request (buf, MOAT_METRICS_REQUEST_MAX), 431);
  free (buf);
}

/* The whole answer, through a pipe: status line, headers, the body. */
static char *
serve (const char *request, const char *body, int *status)
{
  int in[2], out[2];
  static char buf[4096];
  ssize_t n;

  assert_int_equal (pipe (in), 0);
  assert_int_equal (pipe (out), 0);
  assert_int_equal (write (in[1], request, strlen (request)), (ssize_t)strlen (request));
  close (in[1]);
  *status = moat_metrics_serve (in[0], out[1], body);
  close (in[0]);
  close (out[1]);
  n = read (out[0], buf, sizeof (buf) - 1);
  close (out[0]);
  assert_true (n > 0);
  buf[n] = '\0';
  return buf;
}

static void
test_serve (void **state)
{
  const char *body = "# TYPE m counter\nm 1\n";
  int status;
  char *r = serve ("GET /metrics HTTP/1.1\r\n\r\n", body, &status);

  assert_int_equal (status, 200);
  assert_non_null (strstr (r, "HTTP/1.1 200 OK\r\n"));
  assert_non_null (strstr (r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  assert_non_null (strstr (r, "Content-Length: 21\r\n"));
  assert_string_equal (strstr (r, "\r\n\r\n") + 4, body);

  r = serve ("HEAD / HTTP/1.1\r\n\r\n", body, &status);
  assert_int_equal (status, 200);
  assert_string_equal (strstr (r, "\r\n\r\n") + 4, "");

  r = serve ("DELETE / HTTP/1.1\r\n\r\n", body, &status);
  assert_int_equal (status, 405);
  assert_non_null (strstr (r, "Allow: GET, HEAD\r\n"));

  r = serve ("GET / HTTP/1.1\r\n\r\n", NULL, &status);
  assert_int_equal (status, 500);

  r = serve ("GET / HTTP/1.1\r\n", body, &status); /* closed before the head's end */
  assert_int_equal (status, 400);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_format_samples), cmocka_unit_test (test_format_no_containers),
    cmocka_unit_test (test_label_escaping), cmocka_unit_test (test_put_label),
    cmocka_unit_test (test_request),        cmocka_unit_test (test_request_too_long),
    cmocka_unit_test (test_serve),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
