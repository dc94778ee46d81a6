/* SPDX-License-Identifier: Apache-2.0 */
/* Addresses whose flows wait for their next holder (state/flows.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/flows.h"

static char run_dir[] = "/tmp/moat-test-flows-XXXXXX";

static int
setup (void **state)
{
  if (!mkdtemp (run_dir))
    return -1;
  setenv ("MOAT_RUN_DIR", run_dir, 1);
  return 0;
}

static int
teardown (void **state)
{
  char cmd[256];

  snprintf (cmd, sizeof (cmd), "rm -rf '%s'", run_dir);
  return system (cmd);
}

static struct in_addr
addr (const char *s)
{
  struct in_addr a;

  assert_int_equal (inet_pton (AF_INET, s, &a), 1);
  return a;
}

static bool
listed (const struct moat_flows_pending *p, const char *s)
{
  for (size_t i = 0; i < p->n; i++)
    if (p->addrs[i].s_addr == addr (s).s_addr && strcmp (p->names[i], s) == 0)
      return true;
  return false;
}

static void
test_none_before_a_del (void **state)
{
  moat_err_t err = { 0 };

  assert_int_equal (moat_flows_pending_has (addr ("10.9.0.2"), &err), 0);
}

static void
test_add_has_take_clear (void **state)
{
  moat_err_t err = { 0 };
  struct moat_flows_pending p = { 0 };
  char path[512];
  int lock = -1;

  assert_int_equal (moat_flows_pending_add (addr ("10.9.0.2"), &err), 0);
  assert_int_equal (moat_flows_pending_add (addr ("10.9.0.2"), &err), 0); /* twice: one file */
  assert_int_equal (moat_flows_pending_add (addr ("10.9.0.3"), &err), 0);
  /* Not an address: left alone. */
  snprintf (path, sizeof (path), "%s/.flows/stray", run_dir);
  close (open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  assert_int_equal (moat_flows_pending_has (addr ("10.9.0.2"), &err), 1);
  assert_int_equal (moat_flows_pending_has (addr ("10.9.0.4"), &err), 0);

  assert_int_equal (moat_flows_pending_take (&p, &lock, &err), 0);
  assert_true (lock >= 0);
  assert_int_equal (p.n, 2);
  assert_true (listed (&p, "10.9.0.2"));
  assert_true (listed (&p, "10.9.0.3"));
  /* Held exclusive: nobody writes a file meanwhile. */
  {
    char lpath[512];
    int fd;

    snprintf (lpath, sizeof (lpath), "%s/.flows.lock", run_dir);
    fd = open (lpath, O_RDWR | O_CLOEXEC);
    assert_true (fd >= 0);
    assert_int_equal (flock (fd, LOCK_SH | LOCK_NB), -1);
    close (fd);
  }
  assert_int_equal (moat_flows_pending_clear (&p, &err), 0);
  assert_int_equal (moat_flows_pending_clear (&p, &err), 0); /* already gone */
  moat_flows_pending_free (&p);
  close (lock);
  assert_int_equal (moat_flows_pending_has (addr ("10.9.0.2"), &err), 0);
  assert_int_equal (moat_flows_pending_has (addr ("10.9.0.3"), &err), 0);
  assert_int_equal (access (path, F_OK), 0);
}

static void
write_file (const char *path, const char *text)
{
  FILE *f = fopen (path, "w");

  assert_non_null (f);
  fputs (text, f);
  fclose (f);
}

static char *
read_text (const char *path)
{
  static char buf[64];
  FILE *f = fopen (path, "r");
  size_t n;

  if (!f)
    return NULL;
  n = fread (buf, 1, sizeof (buf) - 1, f);
  buf[n] = '\0';
  fclose (f);
  return buf;
}

/* The allocator's place survives the network's directory, and the
 * directory's own place wins over a saved one. */
static void
test_hint_save_restore (void **state)
{
  moat_err_t err = { 0 };
  char path[512], saved[512];

  snprintf (path, sizeof (path), "%s/netA", run_dir);
  assert_int_equal (mkdir (path, 0700), 0);
  snprintf (path, sizeof (path), "%s/netA/ipam", run_dir);
  assert_int_equal (mkdir (path, 0700), 0);
  snprintf (path, sizeof (path), "%s/netA/ipam/last", run_dir);
  snprintf (saved, sizeof (saved), "%s/.flows/netA.last", run_dir);
  assert_int_equal (moat_flows_hint_save ("netB", &err), 0); /* none: fine */
  write_file (path, "10.9.0.7\n");
  assert_int_equal (moat_flows_hint_save ("netA", &err), 0);
  assert_null (read_text (path));
  assert_string_equal (read_text (saved), "10.9.0.7\n");
  assert_int_equal (moat_flows_hint_restore ("netA", &err), 0);
  assert_string_equal (read_text (path), "10.9.0.7\n");
  assert_null (read_text (saved));
  assert_int_equal (moat_flows_hint_restore ("netA", &err), 0); /* nothing saved */
  write_file (saved, "10.9.0.9\n");
  assert_int_equal (moat_flows_hint_restore ("netA", &err), 0);
  assert_string_equal (read_text (path), "10.9.0.7\n");
  assert_null (read_text (saved));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_none_before_a_del),
    cmocka_unit_test (test_add_has_take_clear),
    cmocka_unit_test (test_hint_save_restore),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}
