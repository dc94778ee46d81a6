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

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_none_before_a_del),
    cmocka_unit_test (test_add_has_take_clear),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}
