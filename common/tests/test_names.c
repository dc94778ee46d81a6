/* SPDX-License-Identifier: Apache-2.0 */
/* Names from the keyed hash, and the host's key, under a private run
 * directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state/names.h"
#include "state/state.h"

static char run_dir[] = "/tmp/moat-test-names-XXXXXX";

/* The key bats/names.bats seeds; the inputs below collide under it (found
 * offline by a distinguished-point collision search). */
static const struct moat_names_key test_key
    = { { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
          0x0f } };

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

static void
key_path (char *buf, size_t size)
{
  snprintf (buf, size, "%s/%s", run_dir, MOAT_NAMES_KEY_FILE);
}

static void
test_host_ifname (void **state)
{
  struct moat_names_key other = test_key;
  char a[16], b[16], c[16];

  moat_host_ifname (&test_key, "net1", "c1@eth0", a);
  moat_host_ifname (&test_key, "net1", "c1@eth0", b);
  assert_string_equal (a, b);
  assert_int_equal (strlen (a), 15);
  assert_memory_equal (a, "mt", 2);
  assert_int_equal (strspn (a + 2, "0123456789abcdef"), 13);
  moat_host_ifname (&test_key, "net1", "c1@eth1", c);
  assert_string_not_equal (a, c);
  moat_host_ifname (&test_key, "net2", "c1@eth0", c);
  assert_string_not_equal (a, c);
  /* Where network and key meet is no ambiguity. */
  moat_host_ifname (&test_key, "net1c", "1@eth0", c);
  assert_string_not_equal (a, c);
  other.bytes[15] ^= 1;
  moat_host_ifname (&other, "net1", "c1@eth0", c);
  assert_string_not_equal (a, c);
}

static void
test_host_ifname_collision (void **state)
{
  char a[16], b[16];

  moat_host_ifname (&test_key, "moat-collide", "mxc5fd1b89d299db@eth0", a);
  moat_host_ifname (&test_key, "moat-collide", "mxc655de800cb67d@eth0", b);
  assert_string_equal (a, "mt446320a1d9c1f");
  assert_string_equal (a, b);
}

/* Two networks' identities whose names collide under the test key (found
 * offline; bats/names.bats attaches them). The text is the identity's
 * canonical JSON, as policy.c writes it. */
static void
test_ident_name_collision (void **state)
{
  char a[25], b[25];

  moat_ident_name (&test_key, "mcol-a",
                   "{\"dependsDeny\":[],\"exposeDeny\":[],\"labels\":{\"@sys:network\":\"mcol-a\","
                   "\"app\":\"v14ef285145ebbf80\"}}",
                   0, a);
  moat_ident_name (&test_key, "mcol-b",
                   "{\"dependsDeny\":[],\"exposeDeny\":[],\"labels\":{\"@sys:network\":\"mcol-b\","
                   "\"app\":\"vb2160552b0501adf\"}}",
                   0, b);
  assert_string_equal (a, "c3bb9727d579e16b");
  assert_string_equal (a, b);
}

static void
test_ident_name (void **state)
{
  struct moat_names_key other = test_key;
  char a[25], b[25], c[25];
  /* Longer than the hash's chunks: every byte counts. */
  char big[300];

  moat_ident_name (&test_key, "net1", "{\"labels\":{\"app\":\"web\"}}", 0, a);
  moat_ident_name (&test_key, "net1", "{\"labels\":{\"app\":\"web\"}}", 0, b);
  assert_string_equal (a, b);
  assert_int_equal (strlen (a), 16);
  assert_int_equal (strspn (a, "0123456789abcdef"), 16);
  moat_ident_name (&test_key, "net1", "{\"labels\":{\"app\":\"web\"}}", 3, c);
  assert_memory_equal (a, c, 16);
  assert_string_equal (c + 16, "_3");
  moat_ident_name (&test_key, "net2", "{\"labels\":{\"app\":\"web\"}}", 0, c);
  assert_string_not_equal (a, c);
  other.bytes[0] ^= 0x80;
  moat_ident_name (&other, "net1", "{\"labels\":{\"app\":\"web\"}}", 0, c);
  assert_string_not_equal (a, c);
  memset (big, 'x', sizeof (big) - 1);
  big[sizeof (big) - 1] = '\0';
  moat_ident_name (&test_key, "net1", big, 0, a);
  big[sizeof (big) - 2] = 'y';
  moat_ident_name (&test_key, "net1", big, 0, b);
  assert_string_not_equal (a, b);
}

static void
test_key_made_once (void **state)
{
  struct moat_names_key k1, k2;
  moat_err_t err = { 0 };
  char path[512];
  struct stat st;

  key_path (path, sizeof (path));
  unlink (path);
  assert_int_equal (moat_names_key_get (false, &k1, &err), 0);
  assert_int_equal (access (path, F_OK), -1);
  assert_int_equal (moat_names_key_get (true, &k1, &err), 1);
  assert_int_equal (stat (path, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0600);
  assert_int_equal (st.st_size, MOAT_NAMES_KEY_LEN);
  assert_int_equal (moat_names_key_get (false, &k2, &err), 1);
  assert_memory_equal (k1.bytes, k2.bytes, MOAT_NAMES_KEY_LEN);
  assert_int_equal (moat_names_key_get (true, &k2, &err), 1);
  assert_memory_equal (k1.bytes, k2.bytes, MOAT_NAMES_KEY_LEN);
}

/* Racing first users all end up with one key: each child writes the key it
 * got to a pipe. */
static void
test_key_race (void **state)
{
  enum
  {
    N = 16
  };
  struct moat_names_key got[N], mine;
  moat_err_t err = { 0 };
  char path[512];
  int fds[2];

  key_path (path, sizeof (path));
  unlink (path);
  assert_int_equal (pipe (fds), 0);
  for (int i = 0; i < N; i++)
    if (fork () == 0)
      {
        struct moat_names_key k;
        moat_err_t e = { 0 };

        close (fds[0]);
        _exit (moat_names_key_get (true, &k, &e) == 1
                       && write (fds[1], &k, sizeof (k)) == sizeof (k)
                   ? 0
                   : 1);
      }
  close (fds[1]);
  for (int i = 0; i < N; i++)
    {
      int status;

      assert_int_not_equal (wait (&status), -1);
      assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
  for (int i = 0; i < N; i++)
    assert_int_equal (read (fds[0], &got[i], sizeof (got[i])), sizeof (got[i]));
  close (fds[0]);
  assert_int_equal (moat_names_key_get (false, &mine, &err), 1);
  for (int i = 0; i < N; i++)
    assert_memory_equal (got[i].bytes, mine.bytes, MOAT_NAMES_KEY_LEN);
}

static void
write_key_file (const char *path, size_t len, mode_t mode)
{
  FILE *f;

  unlink (path);
  f = fopen (path, "w");
  assert_non_null (f);
  assert_int_equal (fwrite (test_key.bytes, 1, len, f), len);
  fclose (f);
  assert_int_equal (chmod (path, mode), 0);
}

static void
test_key_seeded_and_refused (void **state)
{
  struct moat_names_key k;
  moat_err_t err = { 0 };
  char path[512];

  key_path (path, sizeof (path));
  write_key_file (path, MOAT_NAMES_KEY_LEN, 0600);
  assert_int_equal (moat_names_key_get (true, &k, &err), 1);
  assert_memory_equal (k.bytes, test_key.bytes, MOAT_NAMES_KEY_LEN);

  write_key_file (path, MOAT_NAMES_KEY_LEN, 0644);
  assert_int_equal (moat_names_key_get (true, &k, &err), -1);
  assert_int_equal (err.code, MOAT_E_STATE);
  assert_non_null (strstr (err.msg, path));
  assert_non_null (strstr (err.msg, "mode 0600"));

  write_key_file (path, 8, 0600);
  assert_int_equal (moat_names_key_get (true, &k, &err), -1);
  assert_non_null (strstr (err.msg, "exactly 16 bytes"));
  unlink (path);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_host_ifname),
    cmocka_unit_test (test_host_ifname_collision),
    cmocka_unit_test (test_ident_name),
    cmocka_unit_test (test_ident_name_collision),
    cmocka_unit_test (test_key_made_once),
    cmocka_unit_test (test_key_race),
    cmocka_unit_test (test_key_seeded_and_refused),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}
