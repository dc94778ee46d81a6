/* SPDX-License-Identifier: Apache-2.0 */
/* The hook's seccomp allowlist, applied in a child process: what the hook
 * does still works, anything else fails with EPERM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"

/* Runs `probe` in a confined child; its exit status. */
static int
in_sandbox (int (*probe) (void))
{
  pid_t pid = fork ();
  int status;

  assert_true (pid >= 0);
  if (pid == 0)
    {
      moat_err_t err = { 0 };

      if (moat_sandbox_hook (&err) < 0)
        _exit (100);
      _exit (probe ());
    }
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

static int
allowed_work (void)
{
  int fd = open ("/proc/self/status", O_RDONLY | O_CLOEXEC);
  int nl = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 12 /* NETLINK_NETFILTER */);
  char buf[64];
  void *p = malloc (1 << 20);

  if (fd < 0 || read (fd, buf, sizeof (buf)) <= 0 || nl < 0 || !p)
    return 1;
  free (p);
  close (nl);
  close (fd);
  return 0;
}

/* 0 when every forbidden call failed with EPERM. */
static int
forbidden_work (void)
{
  char *argv[] = { (char *)"/bin/true", NULL };

  if (socket (AF_INET, SOCK_STREAM, 0) >= 0 || errno != EPERM)
    return 1;
  if (socket (AF_PACKET, SOCK_RAW, 0) >= 0 || errno != EPERM)
    return 2;
  if (fork () >= 0 || errno != EPERM) /* a fork that worked: the child reports 3 too */
    return 3;
  execv (argv[0], argv);
  if (errno != EPERM)
    return 4;
  if (setuid (0) >= 0 || errno != EPERM)
    return 5;
  return 0;
}

#if defined(__SANITIZE_ADDRESS__)
/* LeakSanitizer's exit check needs ptrace: sanitized builds stay open. */
static void
test_sanitized_build_is_not_confined (void **state)
{
  assert_int_equal (in_sandbox (allowed_work), 0);
  assert_int_equal (in_sandbox (forbidden_work), 1);
}
#else
static void
test_hook_work_is_allowed (void **state)
{
  assert_int_equal (in_sandbox (allowed_work), 0);
}

static void
test_everything_else_is_eperm (void **state)
{
  assert_int_equal (in_sandbox (forbidden_work), 0);
}

/* The kernel's word, read from /proc (prctl itself is not allowed). */
static int
status_says_confined (void)
{
  char buf[4096];
  int fd = open ("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read (fd, buf, sizeof (buf) - 1);

  if (n <= 0)
    return 1;
  buf[n] = '\0';
  return strstr (buf, "NoNewPrivs:\t1") && strstr (buf, "Seccomp:\t2") ? 0 : 1;
}

static void
test_no_new_privs_and_filter_mode (void **state)
{
  assert_int_equal (in_sandbox (status_says_confined), 0);
}
#endif

int
main (void)
{
  const struct CMUnitTest tests[] = {
#if defined(__SANITIZE_ADDRESS__)
    cmocka_unit_test (test_sanitized_build_is_not_confined),
#else
    cmocka_unit_test (test_hook_work_is_allowed),
    cmocka_unit_test (test_everything_else_is_eperm),
    cmocka_unit_test (test_no_new_privs_and_filter_mode),
#endif
  };

  cmocka_set_message_output (CM_OUTPUT_TAP);
  return cmocka_run_group_tests (tests, NULL, NULL);
}
