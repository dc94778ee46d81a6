/* SPDX-License-Identifier: Apache-2.0 */
/* Attachment records, locks and names under a private run directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "state/remote.h"
#include "state/state.h"

static char run_dir[] = "/tmp/moat-test-state-XXXXXX";

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

static struct moat_record
sample (const char *id)
{
  struct moat_record r = {
    .cni_version = "1.1.0",
    .network = "net1",
    .container_id = (char *)id,
    .ifname = "eth0",
    .netns = "/var/run/netns/x",
    .host_if = "mt0123456789abc",
    .bridge = "moat0",
    .mac = { 2, 0x6d, 10, 1, 0, 2 },
    .prefixlen = 24,
    .quiet = true,
    .log = true,
  };
  inet_pton (AF_INET, "10.1.0.2", &r.addr);
  inet_pton (AF_INET, "10.1.0.1", &r.gateway);
  r.labels = json_pack ("{s:s}", "app", "web");
  return r;
}

static void
test_record_roundtrip (void **state)
{
  struct moat_record r = sample ("c1"), back;
  moat_err_t err = { 0 };
  char **keys = NULL;

  assert_int_equal (moat_record_read ("net1", "c1@eth0", &back, &err), 0);
  assert_int_equal (moat_record_write (&r, &err), -1); /* no directory yet */
  {
    int fd;
    assert_int_equal (moat_network_lock ("net1", &fd, &err), 0);
    close (fd);
  }
  assert_int_equal (moat_record_write (&r, &err), 0);
  {
    json_t *j = moat_record_to_json (&r);
    assert_string_equal (json_string_value (json_object_get (j, "ipam")), "builtin");
    json_decref (j);
  }
  assert_int_equal (moat_record_read ("net1", "c1@eth0", &back, &err), 1);
  assert_string_equal (back.container_id, "c1");
  assert_string_equal (back.host_if, "mt0123456789abc");
  assert_string_equal (back.netns, "/var/run/netns/x");
  assert_null (back.ipam);
  assert_memory_equal (back.mac, r.mac, 6);
  assert_int_equal (back.addr.s_addr, r.addr.s_addr);
  assert_int_equal (back.prefixlen, 24);
  assert_true (back.quiet);
  assert_true (back.log);
  assert_false (back.internet);
  assert_string_equal (json_string_value (json_object_get (back.labels, "app")), "web");
  moat_record_free (&back);

  assert_int_equal (moat_record_list ("net1", &keys, &err), 0);
  assert_non_null (keys[0]);
  assert_string_equal (keys[0], "c1@eth0");
  assert_null (keys[1]);
  moat_strv_free (keys);
  assert_int_equal (moat_any_record (&err), 1);

  assert_int_equal (moat_record_remove ("net1", "c1@eth0", &err), 0);
  assert_int_equal (moat_record_remove ("net1", "c1@eth0", &err), 0);
  assert_int_equal (moat_any_record (&err), 0);
  assert_int_equal (moat_network_dir_remove ("net1", &err), 0);
  assert_int_equal (moat_network_dir_remove ("net1", &err), 0);
  json_decref (r.labels);
}

static void
test_record_malformed (void **state)
{
  struct moat_record back;
  moat_err_t err = { 0 };
  char path[512];
  FILE *f;
  int fd;

  assert_int_equal (moat_network_lock ("net2", &fd, &err), 0);
  close (fd);
  snprintf (path, sizeof (path), "%s/net2/c9@eth0.json", run_dir);
  f = fopen (path, "w");
  fputs ("{\"mac\":\"nope\"}", f);
  fclose (f);
  assert_int_equal (moat_record_read ("net2", "c9@eth0", &back, &err), -1);
  assert_int_equal (err.code, MOAT_E_STATE);
  assert_non_null (strstr (err.msg, "c9@eth0.json"));
  assert_int_equal (moat_network_dir_remove ("net2", &err), 0);
}

/* True once /proc/locks lists a process blocked on a flock ("->" lines). */
static bool
wait_for_blocked_flock (void)
{
  for (int i = 0; i < 5000; i++)
    {
      char line[256];
      bool blocked = false;
      FILE *f = fopen ("/proc/locks", "re");

      while (f && fgets (line, sizeof (line), f))
        blocked |= strstr (line, "-> FLOCK") != NULL;
      if (f)
        fclose (f);
      if (blocked)
        return true;
      usleep (1000);
    }
  return false;
}

/* Another node's container (cluster mode): its record, with no port, lives
 * in <network>/remote/, which moat_record_list never lists; only a remote
 * record may lack a host end and a bridge. */
static void
test_remote_record (void **state)
{
  struct moat_record r = sample ("r1"), back = { 0 };
  _cleanup_ (moat_strv_freep) char **keys = NULL;
  moat_err_t err = { 0 };
  json_t *j;
  int fd;

  r.network = "net4";
  r.ifname = "n2";
  r.host_if = "";
  r.bridge = "";
  r.netns = NULL;
  r.remote_node = "n2";
  assert_int_equal (moat_network_lock ("net4", &fd, &err), 0);
  assert_int_equal (moat_record_write (&r, &err), 0);
  assert_int_equal (moat_remote_read ("net4", "r1@n2", &back, &err), 1);
  assert_string_equal (back.remote_node, "n2");
  assert_int_equal (back.addr.s_addr, r.addr.s_addr);
  moat_record_free (&back);
  assert_int_equal (moat_record_list ("net4", &keys, &err), 0);
  assert_null (keys[0]);
  assert_int_equal (moat_remote_any ("net4", &err), 1);
  assert_int_equal (moat_any_record (&err), 1);
  assert_int_equal (moat_remote_remove ("net4", "r1@n2", &err), 0);
  assert_int_equal (moat_remote_any ("net4", &err), 0);
  /* Without "remote", an empty host end is malformed. */
  r.remote_node = NULL;
  j = moat_record_to_json (&r);
  assert_int_equal (moat_record_from_json (j, &back, &err), -1);
  json_decref (j);
  json_decref (r.labels);
  close (fd);
}

/* The last DEL removes the network's directory while another process waits
 * for the lock: the lock file stays, so the waiter gets in only after the
 * holder leaves, and finds a fresh directory. */
static void
test_lock_outlives_directory_removal (void **state)
{
  moat_err_t err = { 0 };
  char path[512];
  struct stat st;
  int fd, status;
  pid_t child;

  assert_int_equal (moat_network_lock ("net3", &fd, &err), 0);
  child = fork ();
  if (child == 0)
    {
      int cfd;
      char dir[512];
      close (fd); /* the inherited descriptor shares the parent's lock */
      if (moat_network_lock ("net3", &cfd, &err) < 0)
        _exit (2);
      snprintf (dir, sizeof (dir), "%s/net3", run_dir);
      _exit (stat (dir, &st) == 0 && S_ISDIR (st.st_mode) ? 0 : 1);
    }
  assert_true (wait_for_blocked_flock ());
  assert_int_equal (moat_network_dir_remove ("net3", &err), 0);
  assert_int_equal (waitpid (child, &status, WNOHANG), 0); /* still waiting */
  snprintf (path, sizeof (path), "%s/net3.lock", run_dir);
  assert_int_equal (stat (path, &st), 0);
  close (fd);
  assert_int_equal (waitpid (child, &status, 0), child);
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 0);
  assert_int_equal (moat_network_dir_remove ("net3", &err), 0);
}

/* Interface names may hold '@' (container ids may not): removing the record
 * "c1@eth@0" removes its index entry ids/c1/eth@0 and then ids/c1, and GC
 * sweeps an entry "eth@1" left without a record. */
static void
test_index_ifname_with_at (void **state)
{
  struct moat_record r = sample ("c1");
  moat_err_t err = { 0 };
  char **keys = NULL, path[512];
  struct stat st;
  int fd;

  assert_int_equal (moat_network_lock ("net4", &fd, &err), 0);
  close (fd);
  r.network = "net4";
  r.ifname = "eth@0";
  assert_int_equal (moat_record_write (&r, &err), 0);
  assert_int_equal (moat_record_list_container ("net4", "c1", &keys, &err), 0);
  assert_non_null (keys[0]);
  assert_string_equal (keys[0], "c1@eth@0");
  assert_null (keys[1]);
  moat_strv_free (keys);
  assert_int_equal (moat_record_remove ("net4", "c1@eth@0", &err), 0);
  snprintf (path, sizeof (path), "%s/net4/ids/c1/eth@0", run_dir);
  assert_int_equal (stat (path, &st), -1);
  snprintf (path, sizeof (path), "%s/net4/ids/c1", run_dir);
  assert_int_equal (stat (path, &st), -1);
  assert_int_equal (moat_record_list_container ("net4", "c1", &keys, &err), 0);
  assert_null (keys[0]);
  moat_strv_free (keys);

  /* An ADD killed between the index entry and the record. */
  r.ifname = "eth@1";
  assert_int_equal (moat_record_write (&r, &err), 0);
  snprintf (path, sizeof (path), "%s/net4/c1@eth@1.json", run_dir);
  assert_int_equal (unlink (path), 0);
  assert_int_equal (moat_index_sweep ("net4", &err), 0);
  snprintf (path, sizeof (path), "%s/net4/ids/c1", run_dir);
  assert_int_equal (stat (path, &st), -1);
  assert_int_equal (moat_network_dir_remove ("net4", &err), 0);
  json_decref (r.labels);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_record_roundtrip),
    cmocka_unit_test (test_record_malformed),
    cmocka_unit_test (test_remote_record),
    cmocka_unit_test (test_lock_outlives_directory_removal),
    cmocka_unit_test (test_index_ifname_with_at),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}
