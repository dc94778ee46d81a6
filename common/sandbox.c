/* SPDX-License-Identifier: Apache-2.0 */
/* seccomp allowlists (see sandbox.h). */
#include "sandbox.h"

#include <errno.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/socket.h>

#include "cleanup.h"

DEFINE_TRIVIAL_CLEANUP_FUNC (scmp_filter_ctx, seccomp_release)

/* What the hook does after its start: read files and directories, write
 * state files atomically (open, write, rename), take flocks, talk to
 * nf_tables over netlink, log to syslog, allocate, exit. */
static const int hook_syscalls[] = {
  SCMP_SYS (read),          SCMP_SYS (write),
  SCMP_SYS (pread64),       SCMP_SYS (readv),
  SCMP_SYS (writev),        SCMP_SYS (openat),
  SCMP_SYS (close),         SCMP_SYS (lseek),
  SCMP_SYS (fstat),         SCMP_SYS (newfstatat),
  SCMP_SYS (statx),         SCMP_SYS (access),
  SCMP_SYS (faccessat),     SCMP_SYS (faccessat2),
  SCMP_SYS (getdents64),    SCMP_SYS (mkdir),
  SCMP_SYS (mkdirat),       SCMP_SYS (rmdir),
  SCMP_SYS (unlink),        SCMP_SYS (unlinkat),
  SCMP_SYS (rename),        SCMP_SYS (renameat),
  SCMP_SYS (renameat2),     SCMP_SYS (flock),
  SCMP_SYS (fcntl),         SCMP_SYS (bind),
  SCMP_SYS (connect),       SCMP_SYS (getsockname),
  SCMP_SYS (setsockopt),    SCMP_SYS (getsockopt),
  SCMP_SYS (sendto),        SCMP_SYS (sendmsg),
  SCMP_SYS (recvfrom),      SCMP_SYS (recvmsg),
  SCMP_SYS (brk),           SCMP_SYS (mmap),
  SCMP_SYS (munmap),        SCMP_SYS (mremap),
  SCMP_SYS (mprotect),      SCMP_SYS (madvise),
  SCMP_SYS (futex),         SCMP_SYS (getpid),
  SCMP_SYS (gettid),        SCMP_SYS (getrandom),
  SCMP_SYS (clock_gettime), SCMP_SYS (gettimeofday),
  SCMP_SYS (rt_sigaction),  SCMP_SYS (rt_sigprocmask),
  SCMP_SYS (rt_sigreturn),  SCMP_SYS (restart_syscall),
  SCMP_SYS (exit),          SCMP_SYS (exit_group),
};

static int
allow_sockets (scmp_filter_ctx ctx)
{
  static const int domains[] = { AF_NETLINK, AF_UNIX };

  for (size_t i = 0; i < ARRAY_SIZE (domains); i++)
    {
      const struct scmp_arg_cmp domain
          = { .arg = 0, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)domains[i], .datum_b = 0 };

      if (seccomp_rule_add_array (ctx, SCMP_ACT_ALLOW, SCMP_SYS (socket), 1, &domain) < 0)
        return -1;
    }
  return 0;
}

int
moat_sandbox_hook (moat_err_t *err)
{
  _cleanup_ (seccomp_releasep) scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ERRNO (EPERM));
  int r;

  if (!ctx)
    return moat_error (err, MOAT_E_IO, ENOMEM, "seccomp");
  for (size_t i = 0; i < ARRAY_SIZE (hook_syscalls); i++)
    {
      /* A syscall this architecture lacks is not an error. */
      r = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, hook_syscalls[i], 0);
      if (r < 0 && r != -EDOM && r != -EFAULT)
        return moat_error (err, MOAT_E_IO, -r, "seccomp: allowing syscall %d", hook_syscalls[i]);
    }
  if (allow_sockets (ctx) < 0)
    return moat_error (err, MOAT_E_IO, EINVAL, "seccomp: allowing sockets");
#if defined(__SANITIZE_ADDRESS__)
  return 0; /* built, not loaded: see sandbox.h */
#endif
  r = seccomp_load (ctx);
  if (r < 0)
    return moat_error (err, MOAT_E_IO, -r, "seccomp: loading the filter");
  return 0;
}
