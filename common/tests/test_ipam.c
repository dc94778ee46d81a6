/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the built-in allocator and delegated IPAM (common/state/ipam.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "state/ipam.h"

#define HOST_LOCAL "/usr/lib/cni/host-local"

struct fixture
{
  char root[64]; /* mkdtemp'd, removed in teardown */
  char dir[128]; /* root/run/net/ipam: not created, so alloc must make it */
  char bin[128]; /* root/bin: fake plugins */
  char *saved_cni_path;
};

static int
remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove (path);
}

static int
setup (void **state)
{
  struct fixture *f = calloc (1, sizeof (*f));

  if (!f)
    return -1;
  strcpy (f->root, "/tmp/moat-test-ipam-XXXXXX");
  if (!mkdtemp (f->root))
    return -1;
  snprintf (f->dir, sizeof (f->dir), "%s/run/net/ipam", f->root);
  snprintf (f->bin, sizeof (f->bin), "%s/bin", f->root);
  if (mkdir (f->bin, 0700) < 0)
    return -1;
  if (getenv ("CNI_PATH"))
    f->saved_cni_path = strdup (getenv ("CNI_PATH"));
  *state = f;
  alarm (30); /* a hung plugin exchange kills the run instead of hanging it */
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;
  int r = nftw (f->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);

  alarm (0);

  if (f->saved_cni_path)
    setenv ("CNI_PATH", f->saved_cni_path, 1);
  else
    unsetenv ("CNI_PATH");
  free (f->saved_cni_path);
  free (f);
  return r;
}

static struct in_addr
ip (const char *text)
{
  struct in_addr a;

  assert_int_equal (inet_pton (AF_INET, text, &a), 1);
  return a;
}

static const char *
text_of (struct in_addr a, char buf[INET_ADDRSTRLEN])
{
  return inet_ntop (AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static struct moat_pool
pool_of (const char *subnet, int prefixlen, const char *gateway)
{
  struct moat_pool p = { .subnet = ip (subnet), .prefixlen = prefixlen, .gateway = ip (gateway) };
  return p;
}

/* Allocates for owner and checks the address handed out. */
static void
expect_alloc (const char *dir, const struct moat_pool *pool, const char *owner,
              const char *requested, const char *expected)
{
  struct in_addr got, req;
  char buf[INET_ADDRSTRLEN];
  moat_err_t err = { 0 };

  if (requested)
    req = ip (requested);
  if (moat_ipam_alloc (dir, pool, owner, requested ? &req : NULL, &got, &err) < 0)
    fail_msg ("alloc for %s: %s", owner, err.msg);
  assert_string_equal (text_of (got, buf), expected);
}

static void
expect_alloc_error (const char *dir, const struct moat_pool *pool, const char *owner,
                    const char *requested, int code, const char *msg)
{
  struct in_addr got = { 0 }, req;
  moat_err_t err = { 0 };

  if (requested)
    req = ip (requested);
  assert_int_equal (moat_ipam_alloc (dir, pool, owner, requested ? &req : NULL, &got, &err), -1);
  assert_int_equal (err.code, code);
  assert_string_equal (err.msg, msg);
  assert_int_equal (got.s_addr, 0);
}

/* Contents of dir/name, or NULL if missing. */
static char *
slurp (const char *dir, const char *name)
{
  char path[512], *buf = calloc (1, 4096);
  _cleanup_close_ int fd = -1;
  ssize_t n;

  assert_non_null (buf);
  snprintf (path, sizeof (path), "%s/%s", dir, name);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      free (buf);
      return NULL;
    }
  n = read (fd, buf, 4095);
  assert_true (n >= 0);
  return buf;
}

static void
expect_file (const char *dir, const char *name, const char *content)
{
  _cleanup_free_ char *got = slurp (dir, name);

  if (!content)
    {
      if (got)
        fail_msg ("%s/%s should not exist, holds \"%s\"", dir, name, got);
      return;
    }
  if (!got)
    fail_msg ("%s/%s missing", dir, name);
  assert_string_equal (got, content);
}

static long
free_count (const char *dir, const struct moat_pool *pool)
{
  moat_err_t err = { 0 };
  long n = -1;

  if (moat_ipam_free_count (dir, pool, &n, &err) < 0)
    fail_msg ("free_count: %s", err.msg);
  return n;
}

static void
release (const char *dir, const char *addr, const char *owner)
{
  moat_err_t err = { 0 };

  if (moat_ipam_release (dir, ip (addr), owner, &err) < 0)
    fail_msg ("release %s by %s: %s", addr, owner, err.msg);
}

/* ---- built-in allocator ---- */

static void
test_alloc_order_and_files (void **state)
{
  struct fixture *f = *state;
  struct moat_pool pool = pool_of ("10.1.0.0", 24, "10.1.0.1");
  struct stat st;

  expect_alloc (f->dir, &pool, "c1@eth0", NULL, "10.1.0.2");
  /* Directory created with parents, private. */
  assert_int_equal (stat (f->dir, &st), 0);
  assert_true (S_ISDIR (st.st_mode));
  assert_int_equal (st.st_mode & 07777, 0700);
  expect_alloc (f->dir, &pool, "c2@eth0", NULL, "10.1.0.3");
  expect_alloc (f->dir, &pool, "c3@eth1", NULL, "10.1.0.4");
  expect_file (f->dir, "10.1.0.2", "c1@eth0\n");
  expect_file (f->dir, "10.1.0.3", "c2@eth0\n");
  expect_file (f->dir, "10.1.0.4", "c3@eth1\n");
  expect_file (f->dir, "last", "10.1.0.4\n");
  /* Round-robin: a released address is not reused before the pool wraps,
   * not even the last one. */
  release (f->dir, "10.1.0.2", "c1@eth0");
  release (f->dir, "10.1.0.4", "c3@eth1");
  expect_alloc (f->dir, &pool, "c4@eth0", NULL, "10.1.0.5");
}

static void
test_gateway_is_skipped (void **state)
{
  struct fixture *f = *state;
  struct moat_pool pool = pool_of ("10.1.0.0", 29, "10.1.0.3");

  expect_alloc (f->dir, &pool, "a@eth0", NULL, "10.1.0.1");
  expect_alloc (f->dir, &pool, "b@eth0", NULL, "10.1.0.2");
  expect_alloc (f->dir, &pool, "c@eth0", NULL, "10.1.0.4");
  expect_file (f->dir, "10.1.0.3", NULL);
}

static void
test_wraparound (void **state)
{
  struct fixture *f = *state;
  /* /29: hosts .1-.6, gateway .1 → usable .2-.6 */
  struct moat_pool pool = pool_of ("10.1.0.0", 29, "10.1.0.1");
  const char *expected[] = { "10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5", "10.1.0.6" };
  char owner[32];

  for (size_t i = 0; i < ARRAY_SIZE (expected); i++)
    {
      snprintf (owner, sizeof (owner), "c%zu@eth0", i);
      expect_alloc (f->dir, &pool, owner, NULL, expected[i]);
    }
  expect_file (f->dir, "last", "10.1.0.6\n");
  release (f->dir, "10.1.0.4", "c2@eth0");
  release (f->dir, "10.1.0.3", "c1@eth0");
  /* From .6 on: wraps past the broadcast and the gateway, .2 is taken. */
  expect_alloc (f->dir, &pool, "n1@eth0", NULL, "10.1.0.3");
  expect_alloc (f->dir, &pool, "n2@eth0", NULL, "10.1.0.4");
  expect_file (f->dir, "last", "10.1.0.4\n");
  expect_alloc_error (f->dir, &pool, "n3@eth0", NULL, MOAT_E_IPAM,
                      "no free address in 10.1.0.0/29");
}

static void
test_stale_last_is_ignored (void **state)
{
  struct fixture *f = *state;
  struct moat_pool pool = pool_of ("10.1.0.0", 24, "10.1.0.1");
  char path[256];
  FILE *fp;

  expect_alloc (f->dir, &pool, "a@eth0", NULL, "10.1.0.2");
  /* A "last" from another subnet (the network was reconfigured). */
  snprintf (path, sizeof (path), "%s/last", f->dir);
  fp = fopen (path, "we");
  assert_non_null (fp);
  fputs ("192.168.7.9\n", fp);
  fclose (fp);
  expect_alloc (f->dir, &pool, "b@eth0", NULL, "10.1.0.3");
}

static void
test_exhaustion_in_slash30 (void **state)
{
  struct fixture *f = *state;
  struct moat_pool pool = pool_of ("10.1.0.0", 30, "10.1.0.1");

  assert_int_equal (free_count (f->dir, &pool), 1);
  expect_alloc (f->dir, &pool, "a@eth0", NULL, "10.1.0.2");
  assert_int_equal (free_count (f->dir, &pool), 0);
  expect_alloc_error (f->dir, &pool, "b@eth0", NULL, MOAT_E_IPAM, "no free address in 10.1.0.0/30");
  expect_file (f->dir, "last", "10.1.0.2\n");
  release (f->dir, "10.1.0.2", "a@eth0");
  expect_alloc (f->dir, &pool, "b@eth0", NULL, "10.1.0.2");
}

static void
test_requested_address (void **state)
{
  struct fixture *f = *state;
  struct moat_pool pool = pool_of ("10.1.0.0", 24, "10.1.0.1");

  expect_alloc (f->dir, &pool, "a@eth0", "10.1.0.5", "10.1.0.5");
  expect_file (f->dir, "10.1.0.5", "a@eth0\n");
  expect_alloc_error (f->dir, &pool, "b@eth0", "10.1.0.5", MOAT_E_IPAM,
                      "address 10.1.0.5 is already in use");
  expect_file (f->dir, "10.1.0.5", "a@eth0\n");
  expect_alloc_error (f->dir, &pool, "b@eth0", "10.2.0.5", MOAT_E_CONFIG,
                      "ips: 10.2.0.5 is outside 10.1.0.0/24");
  expect_alloc_error (f->dir, &pool, "b@eth0", "10.1.0.1", MOAT_E_CONFIG,
                      "ips: 10.1.0.1 is the gateway of 10.1.0.0/24");
  expect_alloc_error (f->dir, &pool, "b@eth0", "10.1.0.255", MOAT_E_CONFIG,
                      "ips: 10.1.0.255 is the broadcast address of 10.1.0.0/24");
  expect_alloc_error (f->dir, &pool, "b@eth0", "10.1.0.0", MOAT_E_CONFIG,
                      "ips: 10.1.0.0 is the network address of 10.1.0.0/24");
  /* Requests that failed wrote nothing. */
  assert_int_equal (free_count (f->dir, &pool), 252);
  /* The next round-robin allocation goes on after the requested one. */
  expect_alloc (f->dir, &pool, "b@eth0", NULL, "10.1.0.6");
}

static void
test_retried_add_gets_same_address (void **state)
{
  struct fixture *f = *state;
  struct moat_pool pool = pool_of ("10.1.0.0", 24, "10.1.0.1");

  expect_alloc (f->dir, &pool, "a@eth0", NULL, "10.1.0.2");
  expect_alloc (f->dir, &pool, "a@eth0", NULL, "10.1.0.2");
  expect_alloc (f->dir, &pool, "b@eth0", "10.1.0.9", "10.1.0.9");
  expect_alloc (f->dir, &pool, "b@eth0", "10.1.0.9", "10.1.0.9");
  expect_alloc (f->dir, &pool, "b@eth0", NULL, "10.1.0.9");
  /* Owner keys compare whole: a prefix of the holder is someone else. */
  expect_alloc_error (f->dir, &pool, "b@eth", "10.1.0.9", MOAT_E_IPAM,
                      "address 10.1.0.9 is already in use");
  assert_int_equal (free_count (f->dir, &pool), 251);
}

static void
test_release (void **state)
{
  struct fixture *f = *state;
  struct moat_pool pool = pool_of ("10.1.0.0", 24, "10.1.0.1");
  moat_err_t err = { 0 };

  /* Nothing allocated yet, no directory: success. */
  assert_int_equal (moat_ipam_release (f->dir, ip ("10.1.0.2"), "a@eth0", &err), 0);
  expect_alloc (f->dir, &pool, "a@eth0", NULL, "10.1.0.2");
  expect_alloc (f->dir, &pool, "b@eth0", NULL, "10.1.0.3");
  /* Another owner's release does nothing. */
  release (f->dir, "10.1.0.2", "b@eth0");
  release (f->dir, "10.1.0.2", "a@eth00");
  expect_file (f->dir, "10.1.0.2", "a@eth0\n");
  /* A holder's key must match whole, not as a first line. */
  {
    char path[256];
    FILE *fp;

    snprintf (path, sizeof (path), "%s/10.1.0.50", f->dir);
    fp = fopen (path, "we");
    assert_non_null (fp);
    fputs ("a@eth0\nb@eth0\n", fp);
    fclose (fp);
    release (f->dir, "10.1.0.50", "a@eth0");
    expect_file (f->dir, "10.1.0.50", "a@eth0\nb@eth0\n");
    assert_int_equal (unlink (path), 0);
  }
  /* Missing file: success. */
  release (f->dir, "10.1.0.77", "a@eth0");
  release (f->dir, "10.1.0.2", "a@eth0");
  expect_file (f->dir, "10.1.0.2", NULL);
  expect_file (f->dir, "10.1.0.3", "b@eth0\n");
  assert_int_equal (free_count (f->dir, &pool), 252);
}

static void
test_release_owner (void **state)
{
  struct fixture *f = *state;
  struct moat_pool pool = pool_of ("10.1.0.0", 24, "10.1.0.1");
  moat_err_t err = { 0 };

  assert_int_equal (moat_ipam_release_owner (f->dir, "a@eth0", &err), 0);
  expect_alloc (f->dir, &pool, "a@eth0", "10.1.0.10", "10.1.0.10");
  expect_alloc (f->dir, &pool, "b@eth0", NULL, "10.1.0.11");
  expect_alloc (f->dir, &pool, "a@eth0", "10.1.0.20", "10.1.0.20");
  if (moat_ipam_release_owner (f->dir, "a@eth0", &err) < 0)
    fail_msg ("%s", err.msg);
  expect_file (f->dir, "10.1.0.10", NULL);
  expect_file (f->dir, "10.1.0.20", NULL);
  expect_file (f->dir, "10.1.0.11", "b@eth0\n");
  expect_file (f->dir, "last", "10.1.0.20\n");
  assert_int_equal (free_count (f->dir, &pool), 252);
}

static void
test_release_unowned (void **state)
{
  struct fixture *f = *state;
  struct moat_pool pool = pool_of ("10.1.0.0", 24, "10.1.0.1");
  char *keep[] = { "a@eth0", NULL };
  char path[4096];
  moat_err_t err = { 0 };
  FILE *empty;

  expect_alloc (f->dir, &pool, "a@eth0", "10.1.0.10", "10.1.0.10");
  expect_alloc (f->dir, &pool, "b@eth0", "10.1.0.11", "10.1.0.11");
  snprintf (path, sizeof (path), "%s/10.1.0.12", f->dir);
  empty = fopen (path, "w"); /* a crash between create and write */
  assert_non_null (empty);
  fclose (empty);
  if (moat_ipam_release_unowned (f->dir, keep, &err) < 0)
    fail_msg ("%s", err.msg);
  expect_file (f->dir, "10.1.0.10", "a@eth0\n");
  expect_file (f->dir, "10.1.0.11", NULL);
  expect_file (f->dir, "10.1.0.12", NULL);
}

static void
test_free_count (void **state)
{
  struct fixture *f = *state;
  struct moat_pool pool = pool_of ("10.1.0.0", 29, "10.1.0.1");
  struct moat_pool other = pool_of ("10.1.0.0", 28, "10.1.0.3");

  /* No directory yet: everything free. */
  assert_int_equal (free_count (f->dir, &pool), 5);
  expect_alloc (f->dir, &pool, "a@eth0", NULL, "10.1.0.2");
  expect_alloc (f->dir, &pool, "b@eth0", NULL, "10.1.0.3");
  assert_int_equal (free_count (f->dir, &pool), 3);
  /* The same files read with a /28 pool whose gateway is .3 (the network
   * was reconfigured): of its 13 usable addresses only .2 is taken. */
  assert_int_equal (free_count (f->dir, &other), 12);
  release (f->dir, "10.1.0.3", "b@eth0");
  assert_int_equal (free_count (f->dir, &pool), 4);
}

static void
test_bad_pool_and_owner (void **state)
{
  struct fixture *f = *state;
  struct moat_pool p31 = pool_of ("10.1.0.0", 31, "10.1.0.1");
  struct moat_pool p7 = pool_of ("10.0.0.0", 7, "10.0.0.1");
  struct moat_pool bits = pool_of ("10.1.0.5", 24, "10.1.0.1");
  struct moat_pool ok = pool_of ("10.1.0.0", 24, "10.1.0.1");
  moat_err_t err = { 0 };
  long n;

  expect_alloc_error (f->dir, &p31, "a@eth0", NULL, MOAT_E_CONFIG,
                      "subnet: prefix length /31 out of range (8-30)");
  expect_alloc_error (f->dir, &p7, "a@eth0", NULL, MOAT_E_CONFIG,
                      "subnet: prefix length /7 out of range (8-30)");
  expect_alloc_error (f->dir, &bits, "a@eth0", NULL, MOAT_E_CONFIG,
                      "subnet: 10.1.0.5/24 has host bits set");
  assert_int_equal (moat_ipam_free_count (f->dir, &p31, &n, &err), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  expect_alloc_error (f->dir, &ok, "", NULL, MOAT_E_IPAM, "owner key \"\" is not valid");
  expect_alloc_error (f->dir, &ok, "a\nb", NULL, MOAT_E_IPAM, "owner key \"a?b\" is not valid");
}

/* 64 processes allocate at the same time from one directory, without any
 * lock: every address has exactly one owner, and every process got the
 * address whose file names it. With a /26 (61 usable) three must fail
 * cleanly with exhaustion. */
static void
race (const char *dir, const struct moat_pool *pool, int children, int expect_ok)
{
  int go[2], report[2];
  pid_t pids[64];
  char seen[256] = { 0 };
  int ok = 0, exhausted = 0;

  assert_true (children <= 64);
  assert_int_equal (pipe2 (go, O_CLOEXEC), 0);
  assert_int_equal (pipe2 (report, O_CLOEXEC), 0);
  for (int i = 0; i < children; i++)
    {
      pids[i] = fork ();
      assert_true (pids[i] >= 0);
      if (pids[i] == 0)
        {
          char owner[32], line[64], c;
          struct in_addr a;
          moat_err_t err = { 0 };
          int n;

          close (go[1]);
          close (report[0]);
          if (read (go[0], &c, 1) != 0) /* wait until all are forked */
            _exit (3);
          snprintf (owner, sizeof (owner), "child%02d@eth0", i);
          if (moat_ipam_alloc (dir, pool, owner, NULL, &a, &err) < 0)
            n = snprintf (line, sizeof (line), "%02d E %d\n", i, err.code);
          else
            n = snprintf (line, sizeof (line), "%02d A %u\n", i, (unsigned)ntohl (a.s_addr));
          _exit (write (report[1], line, n) == n ? 0 : 4); /* < PIPE_BUF: atomic */
        }
    }
  close (go[0]);
  close (report[1]);
  close (go[1]); /* all start */

  FILE *in = fdopen (report[0], "r");
  char line[64];
  assert_non_null (in);
  while (fgets (line, sizeof (line), in))
    {
      int i;
      char kind;
      unsigned long v;

      assert_int_equal (sscanf (line, "%d %c %lu", &i, &kind, &v), 3);
      if (kind == 'E')
        {
          assert_int_equal (v, MOAT_E_IPAM);
          exhausted++;
          continue;
        }
      struct in_addr a = { .s_addr = htonl ((uint32_t)v) };
      char name[INET_ADDRSTRLEN], owner[32];
      snprintf (owner, sizeof (owner), "child%02d@eth0\n", i);
      text_of (a, name);
      expect_file (dir, name, owner);       /* the file names this child */
      assert_int_equal (seen[v & 0xff], 0); /* no other child got it */
      seen[v & 0xff] = 1;
      ok++;
    }
  fclose (in);
  for (int i = 0; i < children; i++)
    {
      int status;
      assert_int_equal (waitpid (pids[i], &status, 0), pids[i]);
      assert_true (WIFEXITED (status));
      assert_int_equal (WEXITSTATUS (status), 0);
    }
  assert_int_equal (ok, expect_ok);
  assert_int_equal (exhausted, children - expect_ok);
}

/* Each address file holds one distinct owner; returns how many. */
static int
check_files (const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *de;
  char owners[256][32];
  int n = 0;

  assert_non_null (d);
  while ((de = readdir (d)))
    {
      struct in_addr a;
      _cleanup_free_ char *content = NULL;

      if (inet_pton (AF_INET, de->d_name, &a) != 1)
        continue;
      content = slurp (dir, de->d_name);
      assert_non_null (content);
      assert_true (strlen (content) > 1 && strlen (content) < 32);
      for (int j = 0; j < n; j++)
        assert_string_not_equal (owners[j], content);
      assert_true (n < 256);
      strcpy (owners[n++], content);
    }
  closedir (d);
  return n;
}

static void
test_64_processes_slash24 (void **state)
{
  struct fixture *f = *state;
  struct moat_pool pool = pool_of ("10.1.0.0", 24, "10.1.0.1");

  race (f->dir, &pool, 64, 64);
  assert_int_equal (check_files (f->dir), 64);
  assert_int_equal (free_count (f->dir, &pool), 253 - 64);
}

static void
test_64_processes_slash26_exhausts (void **state)
{
  struct fixture *f = *state;
  struct moat_pool pool = pool_of ("10.1.0.0", 26, "10.1.0.1");

  race (f->dir, &pool, 64, 61);
  assert_int_equal (check_files (f->dir), 61);
  assert_int_equal (free_count (f->dir, &pool), 0);
}

/* ---- delegated IPAM ---- */

static const char fake_plugin[]
    = "#!/bin/sh\n"
      "d=$(dirname \"$0\")\n"
      "in=$(cat)\n"
      "printf '%s\\n' \"$CNI_COMMAND\" >> \"$d/commands\"\n"
      "printf '%s' \"$in\" > \"$d/stdin\"\n"
      "case \"$in\" in\n"
      "*FAILME*)\n"
      "  echo 'fake: refusing' >&2\n"
      "  echo '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"pool "
      "busy\",\"details\":\"retry\"}'\n"
      "  exit 1;;\n"
      "*GARBAGE*)\n"
      "  printf 'fake: line one\\n  line two\\n' >&2\n"
      "  echo 'not json'\n"
      "  exit 3;;\n"
      "*ECHO*)\n"
      "  printf '%s' \"$in\"\n"
      "  exit 0;;\n"
      "esac\n"
      "case \"$CNI_COMMAND\" in\n"
      "ADD) echo '{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.250.0.7/24\","
      "\"gateway\":\"10.250.0.1\"}],\"dns\":{\"domain\":\"'\"$CNI_COMMAND-$MOAT_FAKE_MARK\"'\"}}';;"
      "\n"
      "DEL) ;;\n"
      "*) echo '{\"code\":4,\"msg\":\"unexpected command\"}'; exit 1;;\n"
      "esac\n";

/* Streams stdin back to stdout as it reads it. */
static const char echo_plugin[] = "#!/bin/sh\nexec cat\n";

/* Never reads its stdin; closes stdout and stderr well before exiting, so
 * that their end comes before the end of stdin. */
static const char early_plugin[] = "#!/bin/sh\n"
                                   "echo '{\"cniVersion\":\"1.0.0\",\"ips\":[]}'\n"
                                   "exec >&- 2>&-\n"
                                   "sleep 0.2\n";

static void
write_plugin (const struct fixture *f, const char *name, const char *script)
{
  char path[256];
  _cleanup_close_ int fd = -1;

  snprintf (path, sizeof (path), "%s/%s", f->bin, name);
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, script, strlen (script)), (ssize_t)strlen (script));
}

static void
use_fake_path (const struct fixture *f)
{
  char path[512];

  /* An empty entry and a directory without the plugin come first. */
  snprintf (path, sizeof (path), "%s/none::%s", f->root, f->bin);
  setenv ("CNI_PATH", path, 1);
}

static void
test_exec_add_and_del (void **state)
{
  struct fixture *f = *state;
  const char *netconf = "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"moat\","
                        "\"ipam\":{\"type\":\"fake\"}}";
  json_t *result = NULL;
  moat_err_t err = { 0 };
  const char *address = NULL, *domain = NULL;

  write_plugin (f, "fake", fake_plugin);
  use_fake_path (f);
  setenv ("CNI_COMMAND", "DEL", 1); /* must be replaced, not inherited */
  setenv ("MOAT_FAKE_MARK", "mark1", 1);

  if (moat_ipam_exec ("fake", "ADD", netconf, &result, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_non_null (result);
  assert_int_equal (json_unpack (result, "{s:[{s:s}], s:{s:s}}", "ips", "address", &address, "dns",
                                 "domain", &domain),
                    0);
  assert_string_equal (address, "10.250.0.7/24");
  assert_string_equal (domain, "ADD-mark1");
  json_decref (result);
  expect_file (f->bin, "stdin", netconf);

  result = (json_t *)1; /* must be cleared */
  if (moat_ipam_exec ("fake", "DEL", netconf, &result, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_null (result);
  expect_file (f->bin, "commands", "ADD\nDEL\n");

  /* The plugin rejects other commands with its own code. */
  assert_int_equal (moat_ipam_exec ("fake", "CHECK", netconf, NULL, &err), -1);
  assert_int_equal (err.code, 4);
  assert_string_equal (err.msg, "ipam plugin fake: unexpected command");
  unsetenv ("CNI_COMMAND");
  unsetenv ("MOAT_FAKE_MARK");
}

static void
test_exec_plugin_error (void **state)
{
  struct fixture *f = *state;
  json_t *result = NULL;
  moat_err_t err = { 0 };
  char log[256];
  int saved_stderr, fd, r;

  write_plugin (f, "fake", fake_plugin);
  use_fake_path (f);

  /* The plugin's stderr is passed through to ours. */
  snprintf (log, sizeof (log), "%s/stderr", f->root);
  fd = open (log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  assert_true (fd >= 0);
  fflush (stderr);
  saved_stderr = dup (STDERR_FILENO);
  assert_true (saved_stderr >= 0);
  dup2 (fd, STDERR_FILENO);
  close (fd);
  r = moat_ipam_exec ("fake", "ADD", "{\"x\":\"FAILME\"}", &result, &err);
  dup2 (saved_stderr, STDERR_FILENO);
  close (saved_stderr);
  expect_file (f->root, "stderr", "fake: refusing\n");
  assert_int_equal (r, -1);
  assert_null (result);
  assert_int_equal (err.code, 11);
  assert_string_equal (err.msg, "ipam plugin fake: pool busy; retry");

  assert_int_equal (moat_ipam_exec ("fake", "ADD", "{\"x\":\"GARBAGE\"}", &result, &err), -1);
  assert_null (result);
  assert_int_equal (err.code, MOAT_E_IPAM);
  assert_string_equal (err.msg, "ipam plugin fake: exit status 3: fake: line one line two");
}

static void
test_exec_bad_result (void **state)
{
  struct fixture *f = *state;
  json_t *result = NULL;
  moat_err_t err = { 0 };

  write_plugin (f, "fake", fake_plugin);
  use_fake_path (f);
  /* Exit 0 with a stdout that is not a result object. */
  assert_int_equal (moat_ipam_exec ("fake", "ADD", "[\"ECHO\"]", &result, &err), -1);
  assert_null (result);
  assert_int_equal (err.code, MOAT_E_DECODE);
  assert_string_equal (err.msg, "ipam plugin fake: result is not an object");
}

/* A large netconf that the plugin echoes back while we are still writing:
 * deadlocks if stdin is written before stdout is read. */
static void
test_exec_large_input_echoed (void **state)
{
  struct fixture *f = *state;
  size_t size = 1 << 20;
  _cleanup_free_ char *netconf = malloc (size + 64);
  json_t *result = NULL;
  moat_err_t err = { 0 };
  const char *pad;

  assert_non_null (netconf);
  write_plugin (f, "echo", echo_plugin);
  use_fake_path (f);
  strcpy (netconf, "{\"pad\":\"");
  memset (netconf + strlen (netconf), 'x', size);
  strcpy (netconf + strlen ("{\"pad\":\"") + size, "\"}");
  if (moat_ipam_exec ("echo", "ADD", netconf, &result, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_int_equal (json_unpack (result, "{s:s}", "pad", &pad), 0);
  assert_int_equal (strlen (pad), size);
  json_decref (result);
}

/* A plugin that exits without reading a large stdin: EPIPE, no SIGPIPE. */
static void
test_exec_plugin_ignores_stdin (void **state)
{
  struct fixture *f = *state;
  size_t size = 4 << 20;
  _cleanup_free_ char *netconf = malloc (size + 1);
  json_t *result = NULL;
  moat_err_t err = { 0 };
  sigset_t mask;

  assert_non_null (netconf);
  memset (netconf, ' ', size);
  netconf[size] = '\0';
  write_plugin (f, "early", early_plugin);
  use_fake_path (f);
  if (moat_ipam_exec ("early", "ADD", netconf, &result, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_true (json_is_array (json_object_get (result, "ips")));
  json_decref (result);
  /* No SIGPIPE left pending or blocked. */
  sigpending (&mask);
  assert_false (sigismember (&mask, SIGPIPE));
  sigprocmask (SIG_SETMASK, NULL, &mask);
  assert_false (sigismember (&mask, SIGPIPE));
}

static void
test_exec_missing_plugin (void **state)
{
  struct fixture *f = *state;
  json_t *result = NULL;
  moat_err_t err = { 0 };
  char expected[512];

  use_fake_path (f);
  assert_int_equal (moat_ipam_exec ("nosuch", "ADD", "{}", &result, &err), -1);
  assert_null (result);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  snprintf (expected, sizeof (expected),
            "ipam.type: plugin \"nosuch\" not found in CNI_PATH (%s/none::%s)", f->root, f->bin);
  assert_string_equal (err.msg, expected);

  /* Neither a directory nor a file without execute permission is a
   * plugin. */
  snprintf (expected, sizeof (expected), "%s/adir", f->bin);
  assert_int_equal (mkdir (expected, 0700), 0);
  assert_int_equal (moat_ipam_exec ("adir", "ADD", "{}", &result, &err), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  write_plugin (f, "noexec", early_plugin);
  snprintf (expected, sizeof (expected), "%s/noexec", f->bin);
  assert_int_equal (chmod (expected, 0644), 0);
  assert_int_equal (moat_ipam_exec ("noexec", "ADD", "{}", &result, &err), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_null (result);

  /* Found but not runnable: no interpreter line, not ELF. (Under valgrind
   * posix_spawn cannot report the exec failure: the child exits 127.) */
  write_plugin (f, "noshebang", "garbage\n");
  assert_int_equal (moat_ipam_exec ("noshebang", "ADD", "{}", &result, &err), -1);
  assert_null (result);
  assert_int_equal (err.code, MOAT_E_IPAM);
  snprintf (expected, sizeof (expected),
            "ipam plugin noshebang: cannot run \"%s/noshebang\": Exec format error", f->bin);
  if (strcmp (err.msg, "ipam plugin noshebang: exit status 127") != 0)
    assert_string_equal (err.msg, expected);

  assert_int_equal (moat_ipam_exec ("../bin/fake", "ADD", "{}", &result, &err), -1);
  assert_int_equal (err.code, MOAT_E_CONFIG);
  assert_string_equal (err.msg, "ipam.type: \"../bin/fake\" must be a plugin name");

  unsetenv ("CNI_PATH");
  assert_int_equal (moat_ipam_exec ("fake", "ADD", "{}", &result, &err), -1);
  assert_int_equal (err.code, MOAT_E_ENV);
}

/* The real host-local plugin, state in a private dataDir. */
static void
test_exec_host_local (void **state)
{
  struct fixture *f = *state;
  _cleanup_free_ char *netconf = NULL;
  json_t *result = NULL;
  moat_err_t err = { 0 };
  const char *address = NULL;
  char data_dir[256];

  if (access (HOST_LOCAL, X_OK) != 0)
    fail_msg ("%s not installed (Debian: containernetworking-plugins)", HOST_LOCAL);
  snprintf (data_dir, sizeof (data_dir), "%s/host-local", f->root);
  assert_true (asprintf (&netconf,
                         "{\"cniVersion\":\"1.0.0\",\"name\":\"mtxipam\",\"type\":\"moat\","
                         "\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"%s\","
                         "\"ranges\":[[{\"subnet\":\"10.251.0.0/24\"}]]}}",
                         data_dir)
               > 0);
  setenv ("CNI_PATH", "/usr/lib/cni", 1);
  setenv ("CNI_CONTAINERID", "mtxctr1", 1);
  setenv ("CNI_NETNS", "/var/run/netns/mtxipam-none", 1);
  setenv ("CNI_IFNAME", "eth0", 1);

  if (moat_ipam_exec ("host-local", "ADD", netconf, &result, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_int_equal (json_unpack (result, "{s:[{s:s}]}", "ips", "address", &address), 0);
  assert_string_equal (address, "10.251.0.2/24");
  json_decref (result);
  /* host-local's own record, one file per address too. */
  snprintf (data_dir, sizeof (data_dir), "%s/host-local/mtxipam", f->root);
  {
    _cleanup_free_ char *held = slurp (data_dir, "10.251.0.2");
    assert_non_null (held);
    assert_non_null (strstr (held, "mtxctr1"));
  }

  if (moat_ipam_exec ("host-local", "DEL", netconf, &result, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_null (result);
  expect_file (data_dir, "10.251.0.2", NULL);

  /* Its errors come back with its code and message. */
  free (netconf);
  netconf = strdup ("{\"cniVersion\":\"1.0.0\",\"name\":\"mtxipam\",\"type\":\"moat\","
                    "\"ipam\":{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"bogus\"}]]}}");
  assert_int_equal (moat_ipam_exec ("host-local", "ADD", netconf, &result, &err), -1);
  assert_null (result);
  assert_true (err.code > 0 && err.code != MOAT_E_IPAM);
  assert_non_null (strstr (err.msg, "ipam plugin host-local: "));
  assert_non_null (strstr (err.msg, "bogus"));

  unsetenv ("CNI_CONTAINERID");
  unsetenv ("CNI_NETNS");
  unsetenv ("CNI_IFNAME");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_alloc_order_and_files, setup, teardown),
    cmocka_unit_test_setup_teardown (test_gateway_is_skipped, setup, teardown),
    cmocka_unit_test_setup_teardown (test_wraparound, setup, teardown),
    cmocka_unit_test_setup_teardown (test_stale_last_is_ignored, setup, teardown),
    cmocka_unit_test_setup_teardown (test_exhaustion_in_slash30, setup, teardown),
    cmocka_unit_test_setup_teardown (test_requested_address, setup, teardown),
    cmocka_unit_test_setup_teardown (test_retried_add_gets_same_address, setup, teardown),
    cmocka_unit_test_setup_teardown (test_release, setup, teardown),
    cmocka_unit_test_setup_teardown (test_release_owner, setup, teardown),
    cmocka_unit_test_setup_teardown (test_release_unowned, setup, teardown),
    cmocka_unit_test_setup_teardown (test_free_count, setup, teardown),
    cmocka_unit_test_setup_teardown (test_bad_pool_and_owner, setup, teardown),
    cmocka_unit_test_setup_teardown (test_64_processes_slash24, setup, teardown),
    cmocka_unit_test_setup_teardown (test_64_processes_slash26_exhausts, setup, teardown),
    cmocka_unit_test_setup_teardown (test_exec_add_and_del, setup, teardown),
    cmocka_unit_test_setup_teardown (test_exec_plugin_error, setup, teardown),
    cmocka_unit_test_setup_teardown (test_exec_bad_result, setup, teardown),
    cmocka_unit_test_setup_teardown (test_exec_large_input_echoed, setup, teardown),
    cmocka_unit_test_setup_teardown (test_exec_plugin_ignores_stdin, setup, teardown),
    cmocka_unit_test_setup_teardown (test_exec_missing_plugin, setup, teardown),
    cmocka_unit_test_setup_teardown (test_exec_host_local, setup, teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
