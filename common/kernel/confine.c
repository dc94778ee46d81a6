/* SPDX-License-Identifier: Apache-2.0 */
/* seccomp profiles of moat's binaries (see confine.h). */
#include "kernel/confine.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <unistd.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif

#include "base/cleanup.h"
#include "kernel/seccompbpf.h"

DEFINE_TRIVIAL_CLEANUP_FUNC (scmp_filter_ctx, seccomp_release)

#if defined(__SANITIZE_ADDRESS__)
#define MOAT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MOAT_SANITIZED 1
#endif
#endif

/* One syscall with up to three argument checks (ANDed). */
struct call_rule
{
  int nr;
  unsigned int nargs;
  struct scmp_arg_cmp args[3];
};

#define ARG_EQ(n, v)                                                                               \
  {                                                                                                \
    .arg = (n), .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)(v), .datum_b = 0                      \
  }
#define ARG_NE(n, v)                                                                               \
  {                                                                                                \
    .arg = (n), .op = SCMP_CMP_NE, .datum_a = (scmp_datum_t)(v), .datum_b = 0                      \
  }
#define ARG_MASKED_EQ(n, mask, v)                                                                  \
  {                                                                                                \
    .arg = (n), .op = SCMP_CMP_MASKED_EQ, .datum_a = (scmp_datum_t)(mask),                         \
    .datum_b = (scmp_datum_t)(v)                                                                   \
  }

/* Namespace flags of clone(2). CLONE_NEWTIME is 0x80, inside clone's exit
 * signal byte: only clone3 can ask for it, and clone3 is refused. */
#define CLONE_NAMESPACES                                                                           \
  (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID      \
   | CLONE_NEWNET)

/* ---- allowlists ------------------------------------------------------- */

/* Every confined process: memory (never executable: see below), its own
 * fds, time (without a vDSO, as under valgrind), signals, exit. Found by
 * tracing the whole integration suite, plus what glibc does on paths the
 * suite may miss: fclose's lseek, abort's gettid and rt_sigprocmask,
 * futex for glibc's locks at exit (seen under valgrind and in
 * AddressSanitizer's reports). */
static const int process_calls[] = {
  SCMP_SYS (futex),           SCMP_SYS (brk),
  SCMP_SYS (munmap),          SCMP_SYS (mremap),
  SCMP_SYS (madvise),         SCMP_SYS (read),
  SCMP_SYS (write),           SCMP_SYS (readv),
  SCMP_SYS (writev),          SCMP_SYS (lseek),
  SCMP_SYS (close),           SCMP_SYS (fcntl),
  SCMP_SYS (fstat),           SCMP_SYS (newfstatat),
  SCMP_SYS (getpid),          SCMP_SYS (gettid),
  SCMP_SYS (getrandom),       SCMP_SYS (clock_gettime),
  SCMP_SYS (gettimeofday),    SCMP_SYS (rt_sigaction),
  SCMP_SYS (rt_sigprocmask),  SCMP_SYS (rt_sigreturn),
  SCMP_SYS (restart_syscall), SCMP_SYS (exit),
  SCMP_SYS (exit_group),
};

/* Files and directories: state records written atomically (open, write,
 * rename), flocks, sysctls under /proc/sys, the policy file, the name
 * key's owner (geteuid), a hosts file's mode (fchmod: dnsmasq reads it as
 * its own user, whatever the umask). Each call with its *at twin: libc versions pick
 * either. */
static const int file_calls[] = {
  SCMP_SYS (openat),     SCMP_SYS (getdents64), SCMP_SYS (access),  SCMP_SYS (faccessat),
  SCMP_SYS (faccessat2), SCMP_SYS (mkdir),      SCMP_SYS (mkdirat), SCMP_SYS (rmdir),
  SCMP_SYS (unlink),     SCMP_SYS (unlinkat),   SCMP_SYS (rename),  SCMP_SYS (renameat),
  SCMP_SYS (renameat2),  SCMP_SYS (flock),      SCMP_SYS (geteuid), SCMP_SYS (fchmod),
};

/* Talking on a netlink socket (opening one is below, by protocol). */
static const int netlink_calls[] = {
  SCMP_SYS (bind),   SCMP_SYS (getsockname), SCMP_SYS (setsockopt),
  SCMP_SYS (sendto), SCMP_SYS (sendmsg),     SCMP_SYS (recvmsg),
};

/* Memory, but no new executable mapping once confined: nothing moat runs
 * loads code after its start. */
static const struct call_rule memory_rules[] = {
  { SCMP_SYS (mmap), 1, { ARG_MASKED_EQ (2, PROT_EXEC, 0) } },
  { SCMP_SYS (mprotect), 1, { ARG_MASKED_EQ (2, PROT_EXEC, 0) } },
};

/* Under valgrind, whose own syscalls pass the filter too: valgrind maps
 * executable memory for the code it translates as the program runs. */
static const int valgrind_memory_calls[] = {
  SCMP_SYS (mmap),
  SCMP_SYS (mprotect),
};

/* Opening a netlink socket for nf_tables. */
static const struct call_rule nftables_rules[] = {
  { SCMP_SYS (socket), 2, { ARG_EQ (0, AF_NETLINK), ARG_EQ (2, NETLINK_NETFILTER) } },
};

/* Opening netlink sockets for links and addresses, entering a network
 * namespace (to open such a socket there), and checking that CNI_NETNS is
 * one. A thread (no process, no namespace) forgets a DEL's flows while the
 * link's removal waits in the kernel (conntrack.h); glibc registers it
 * with rseq and set_robust_list, and a sanitizer's thread start asks its
 * own CPU affinity (pthread_getattr_np). */
static const struct call_rule link_rules[] = {
  { SCMP_SYS (socket), 2, { ARG_EQ (0, AF_NETLINK), ARG_EQ (2, NETLINK_ROUTE) } },
  { SCMP_SYS (setns), 1, { ARG_EQ (1, CLONE_NEWNET) } },
  { SCMP_SYS (ioctl), 1, { ARG_EQ (1, NS_GET_NSTYPE) } },
  { SCMP_SYS (clone),
    1,
    { ARG_MASKED_EQ (0, CLONE_THREAD | CLONE_VM | CLONE_NAMESPACES, CLONE_THREAD | CLONE_VM) } },
  { SCMP_SYS (rseq), 0, { { 0 } } },
  { SCMP_SYS (set_robust_list), 0, { { 0 } } },
  { SCMP_SYS (sched_getaffinity), 0, { { 0 } } },
};

/* syslog(3): a datagram socket to /dev/log, re-made when the log daemon
 * went away. */
static const struct call_rule syslog_rules[] = {
  { SCMP_SYS (socket),
    2,
    { ARG_EQ (0, AF_UNIX), ARG_MASKED_EQ (1, 0xf /* SOCK_TYPE_MASK */, SOCK_DGRAM) } },
  { SCMP_SYS (connect), 0, { { 0 } } },
};

/* isatty(3) and the terminal's width. */
static const struct call_rule terminal_rules[] = {
  { SCMP_SYS (ioctl), 1, { ARG_EQ (1, TCGETS) } },
  { SCMP_SYS (ioctl), 1, { ARG_EQ (1, TIOCGWINSZ) } },
};

/* moatctl: gethostname(3) (a token's "aud" names this host), the peer
 * of the connection its HTTP front serves (envelope.h), and a generic
 * netlink socket for a cluster's WireGuard device (kernel/wg.h). */
static const struct call_rule ctl_rules[] = {
  { SCMP_SYS (uname), 0, { { 0 } } },
  { SCMP_SYS (getpeername), 0, { { 0 } } },
  { SCMP_SYS (socket), 2, { ARG_EQ (0, AF_NETLINK), ARG_EQ (2, NETLINK_GENERIC) } },
};

/* moatctl cluster watch (verbs/clusterwatch.h): TCP to the store, IPv4
 * or IPv6; a datagram socket finds the underlay address (and carries a
 * DNS query when the store is named by host name); libcurl's wakeup pair;
 * waiting on several fds; inotify on the run directory; signals read from
 * a file descriptor. */
static const struct call_rule cluster_watch_rules[] = {
  { SCMP_SYS (socket), 2, { ARG_EQ (0, AF_INET), ARG_MASKED_EQ (1, 0xf, SOCK_STREAM) } },
  { SCMP_SYS (socket), 2, { ARG_EQ (0, AF_INET6), ARG_MASKED_EQ (1, 0xf, SOCK_STREAM) } },
  { SCMP_SYS (socket), 2, { ARG_EQ (0, AF_INET), ARG_MASKED_EQ (1, 0xf, SOCK_DGRAM) } },
  { SCMP_SYS (socket), 2, { ARG_EQ (0, AF_INET6), ARG_MASKED_EQ (1, 0xf, SOCK_DGRAM) } },
  /* With the type checked too: a lone "arg0 == 1" would be the very
   * block of tgkill's "arg0 == pid" when the pid is 1, which libseccomp
   * merges, and the precompiled filter would differ from its own. */
  { SCMP_SYS (socketpair),
    2,
    { ARG_EQ (0, AF_UNIX), ARG_MASKED_EQ (1, 0xf /* SOCK_TYPE_MASK */, SOCK_STREAM) } },
  { SCMP_SYS (getsockopt), 0, { { 0 } } },
  { SCMP_SYS (recvfrom), 0, { { 0 } } },
  { SCMP_SYS (sendmmsg), 0, { { 0 } } },
  { SCMP_SYS (shutdown), 0, { { 0 } } },
  { SCMP_SYS (poll), 0, { { 0 } } },
  { SCMP_SYS (ppoll), 0, { { 0 } } },
  { SCMP_SYS (pipe2), 0, { { 0 } } },
  { SCMP_SYS (eventfd2), 0, { { 0 } } },
  { SCMP_SYS (inotify_init1), 0, { { 0 } } },
  { SCMP_SYS (inotify_add_watch), 0, { { 0 } } },
  { SCMP_SYS (signalfd4), 0, { { 0 } } },
};

#ifdef MOAT_SANITIZED
/* AddressSanitizer's runtime (found under the filter's audit log): at exit
 * LeakSanitizer runs a tracer in a clone sharing the address space, which
 * lists /proc/self/task (open, getdents), ptrace-attaches to every thread
 * (prctl PR_SET_PTRACER, wait4, sched_yield, getppid) on an alternate
 * signal stack; a report reads /proc/self/exe, asks whether stderr is a
 * terminal, and aborts. */
static const int sanitizer_calls[] = {
  SCMP_SYS (open),   SCMP_SYS (getdents),    SCMP_SYS (ptrace),      SCMP_SYS (prctl),
  SCMP_SYS (wait4),  SCMP_SYS (sched_yield), SCMP_SYS (sigaltstack), SCMP_SYS (getppid),
  SCMP_SYS (tgkill), SCMP_SYS (readlink),
};

static const struct call_rule sanitizer_rules[] = {
  { SCMP_SYS (clone), 1, { ARG_MASKED_EQ (0, CLONE_NAMESPACES, 0) } },
  { SCMP_SYS (ioctl), 1, { ARG_EQ (1, TCGETS) } },
};
#endif

/* ---- the denylist (delegated IPAM) ------------------------------------ */

/* Syscalls no CNI plugin or IPAM plugin has a use for. */
static const int never_calls[] = {
#ifndef MOAT_SANITIZED /* LeakSanitizer's exit check */
  SCMP_SYS (ptrace),
#endif
  SCMP_SYS (process_vm_readv),
  SCMP_SYS (process_vm_writev),
  SCMP_SYS (kcmp),
  SCMP_SYS (pidfd_getfd),
  SCMP_SYS (mount),
  SCMP_SYS (umount2),
  SCMP_SYS (pivot_root),
  SCMP_SYS (chroot),
  SCMP_SYS (open_tree),
  SCMP_SYS (move_mount),
  SCMP_SYS (fsopen),
  SCMP_SYS (fsconfig),
  SCMP_SYS (fsmount),
  SCMP_SYS (fspick),
  SCMP_SYS (mount_setattr),
  SCMP_SYS (unshare),
  SCMP_SYS (bpf),
  SCMP_SYS (perf_event_open),
  SCMP_SYS (userfaultfd),
  SCMP_SYS (init_module),
  SCMP_SYS (finit_module),
  SCMP_SYS (delete_module),
  SCMP_SYS (kexec_load),
  SCMP_SYS (kexec_file_load),
  SCMP_SYS (reboot),
  SCMP_SYS (swapon),
  SCMP_SYS (swapoff),
  SCMP_SYS (acct),
  SCMP_SYS (keyctl),
  SCMP_SYS (add_key),
  SCMP_SYS (request_key),
  SCMP_SYS (setuid),
  SCMP_SYS (setgid),
  SCMP_SYS (setreuid),
  SCMP_SYS (setregid),
  SCMP_SYS (setresuid),
  SCMP_SYS (setresgid),
  SCMP_SYS (setfsuid),
  SCMP_SYS (setfsgid),
  SCMP_SYS (setgroups),
  SCMP_SYS (capset),
  SCMP_SYS (personality),
  SCMP_SYS (open_by_handle_at),
  SCMP_SYS (name_to_handle_at),
  SCMP_SYS (io_uring_setup),
  SCMP_SYS (io_uring_enter),
  SCMP_SYS (io_uring_register),
  SCMP_SYS (fanotify_init),
  SCMP_SYS (iopl),
  SCMP_SYS (ioperm),
  SCMP_SYS (settimeofday),
  SCMP_SYS (clock_settime),
  SCMP_SYS (clock_adjtime),
  SCMP_SYS (adjtimex),
  SCMP_SYS (sethostname),
  SCMP_SYS (setdomainname),
  SCMP_SYS (syslog),
  SCMP_SYS (quotactl),
  SCMP_SYS (vhangup),
  SCMP_SYS (uselib),
  SCMP_SYS (lookup_dcookie),
};

/* One rule per namespace flag: a clone asking for any of them. */
static const int clone_namespace_flags[] = {
  CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
  CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET,
};

/* ---- building the filter ---------------------------------------------- */

static int
rule_error (moat_err_t *err, int r, int nr, const char *what)
{
  _cleanup_free_ char *name = seccomp_syscall_resolve_num_arch (SCMP_ARCH_NATIVE, nr);

  return moat_error (err, MOAT_E_IO, -r, "seccomp: cannot %s syscall %s", what,
                     name ? name : "(unknown)");
}

/* A syscall this architecture lacks (a pseudo number) is not an error. */
static bool
missing_here (int r)
{
  return r == -EDOM || r == -EFAULT;
}

static int
add_calls (scmp_filter_ctx ctx, uint32_t action, const int *calls, size_t n, moat_err_t *err)
{
  for (size_t i = 0; i < n; i++)
    {
      int r = seccomp_rule_add (ctx, action, calls[i], 0);
      if (r < 0 && !missing_here (r))
        return rule_error (err, r, calls[i], action == SCMP_ACT_ALLOW ? "allow" : "refuse");
    }
  return 0;
}

static int
add_rules (scmp_filter_ctx ctx, uint32_t action, const struct call_rule *rules, size_t n,
           moat_err_t *err)
{
  for (size_t i = 0; i < n; i++)
    {
      int r = seccomp_rule_add_array (ctx, action, rules[i].nr, rules[i].nargs, rules[i].args);
      if (r < 0 && !missing_here (r))
        return rule_error (err, r, rules[i].nr, action == SCMP_ACT_ALLOW ? "allow" : "refuse");
    }
  return 0;
}

/* Signals only to itself (abort(3) raises SIGABRT with tgkill). */
static int
allow_signals_to_self (scmp_filter_ctx ctx, pid_t self_pid, moat_err_t *err)
{
  const struct call_rule self[] = {
    { SCMP_SYS (tgkill), 1, { ARG_EQ (0, self_pid) } },
  };

  return add_rules (ctx, SCMP_ACT_ALLOW, self, ARRAY_SIZE (self), err);
}

bool
moat_under_valgrind (void)
{
#ifdef RUNNING_ON_VALGRIND
  return RUNNING_ON_VALGRIND;
#else
  return false;
#endif
}

static int
allow_memory (scmp_filter_ctx ctx, moat_err_t *err)
{
  if (moat_under_valgrind ())
    return add_calls (ctx, SCMP_ACT_ALLOW, valgrind_memory_calls,
                      ARRAY_SIZE (valgrind_memory_calls), err);
  return add_rules (ctx, SCMP_ACT_ALLOW, memory_rules, ARRAY_SIZE (memory_rules), err);
}

/* Files, nf_tables, memory, signals: what every allowlist holds. */
static int
allow_nftables (scmp_filter_ctx ctx, pid_t self_pid, moat_err_t *err)
{
  if (add_calls (ctx, SCMP_ACT_ALLOW, process_calls, ARRAY_SIZE (process_calls), err) < 0
      || add_calls (ctx, SCMP_ACT_ALLOW, file_calls, ARRAY_SIZE (file_calls), err) < 0
      || add_calls (ctx, SCMP_ACT_ALLOW, netlink_calls, ARRAY_SIZE (netlink_calls), err) < 0
      || allow_memory (ctx, err) < 0
      || add_rules (ctx, SCMP_ACT_ALLOW, nftables_rules, ARRAY_SIZE (nftables_rules), err) < 0
      || allow_signals_to_self (ctx, self_pid, err) < 0)
    return -1;
  return 0;
}

static int
allow_plugin (scmp_filter_ctx ctx, pid_t self_pid, moat_err_t *err)
{
  if (allow_nftables (ctx, self_pid, err) < 0
      || add_rules (ctx, SCMP_ACT_ALLOW, link_rules, ARRAY_SIZE (link_rules), err) < 0)
    return -1;
  return 0;
}

static int
allow_sanitizer (scmp_filter_ctx ctx, moat_err_t *err)
{
#ifdef MOAT_SANITIZED
  if (add_calls (ctx, SCMP_ACT_ALLOW, sanitizer_calls, ARRAY_SIZE (sanitizer_calls), err) < 0
      || add_rules (ctx, SCMP_ACT_ALLOW, sanitizer_rules, ARRAY_SIZE (sanitizer_rules), err) < 0)
    return -1;
#endif
  return 0;
}

static int
refuse_dangerous (scmp_filter_ctx ctx, moat_err_t *err)
{
  const uint32_t eperm = SCMP_ACT_ERRNO (EPERM);
  const struct call_rule setns_other[] = {
    { SCMP_SYS (setns), 1, { ARG_NE (1, CLONE_NEWNET) } },
  };

  if (add_calls (ctx, eperm, never_calls, ARRAY_SIZE (never_calls), err) < 0
      || add_rules (ctx, eperm, setns_other, ARRAY_SIZE (setns_other), err) < 0)
    return -1;
  for (size_t i = 0; i < ARRAY_SIZE (clone_namespace_flags); i++)
    {
      const struct call_rule clone_ns[] = {
        { SCMP_SYS (clone),
          1,
          { ARG_MASKED_EQ (0, clone_namespace_flags[i], clone_namespace_flags[i]) } },
      };
      if (add_rules (ctx, eperm, clone_ns, ARRAY_SIZE (clone_ns), err) < 0)
        return -1;
    }
  return 0;
}

/* The profile's rules on top of the default action. */
static int
add_profile (scmp_filter_ctx ctx, enum moat_seccomp_profile profile, pid_t self_pid,
             moat_err_t *err)
{
  switch (profile)
    {
    case MOAT_SECCOMP_PLUGIN:
      return allow_plugin (ctx, self_pid, err) < 0 || allow_sanitizer (ctx, err) < 0 ? -1 : 0;
    case MOAT_SECCOMP_PLUGIN_DELEGATED:
      return refuse_dangerous (ctx, err);
    case MOAT_SECCOMP_HOOK:
      return allow_plugin (ctx, self_pid, err) < 0 || allow_sanitizer (ctx, err) < 0
                     || add_rules (ctx, SCMP_ACT_ALLOW, syslog_rules, ARRAY_SIZE (syslog_rules),
                                   err)
                            < 0
                 ? -1
                 : 0;
    case MOAT_SECCOMP_HOOK_POLICY:
      return allow_nftables (ctx, self_pid, err) < 0 || allow_sanitizer (ctx, err) < 0
                     || add_rules (ctx, SCMP_ACT_ALLOW, syslog_rules, ARRAY_SIZE (syslog_rules),
                                   err)
                            < 0
                 ? -1
                 : 0;
    case MOAT_SECCOMP_CTL:
      return add_profile (ctx, MOAT_SECCOMP_HOOK, self_pid, err) < 0
                     || add_rules (ctx, SCMP_ACT_ALLOW, terminal_rules, ARRAY_SIZE (terminal_rules),
                                   err)
                            < 0
                     || add_rules (ctx, SCMP_ACT_ALLOW, ctl_rules, ARRAY_SIZE (ctl_rules), err) < 0
                 ? -1
                 : 0;
    case MOAT_SECCOMP_CLUSTER_WATCH:
      return add_profile (ctx, MOAT_SECCOMP_CTL, self_pid, err) < 0
                     || add_rules (ctx, SCMP_ACT_ALLOW, cluster_watch_rules,
                                   ARRAY_SIZE (cluster_watch_rules), err)
                            < 0
                 ? -1
                 : 0;
    }
  return moat_error (err, MOAT_E_IO, EINVAL, "seccomp: unknown profile %d", (int)profile);
}

static int
set_attr (scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value, const char *what,
          moat_err_t *err)
{
  int r = seccomp_attr_set (ctx, attr, value);

  return r < 0 ? moat_error (err, MOAT_E_IO, -r, "seccomp: cannot set %s", what) : 0;
}

/* Thread sync and logging need the seccomp(2) syscall, which valgrind does
 * not pass on (it does pass prctl(PR_SET_SECCOMP), which loads the same
 * filter). Thread sync only matters to threads, and moat's binaries have
 * none when they confine themselves. */
static int
set_optional_attr (scmp_filter_ctx ctx, enum scmp_filter_attr attr, const char *what,
                   moat_err_t *err)
{
  int r = seccomp_attr_set (ctx, attr, 1);

  if (r == -EOPNOTSUPP)
    return 0;
  return r < 0 ? moat_error (err, MOAT_E_IO, -r, "seccomp: cannot set %s", what) : 0;
}

/* The profile's filter, built by libseccomp, not loaded yet; `self_pid`
 * is the only process tgkill may signal. */
static int
build_filter (enum moat_seccomp_profile profile, pid_t self_pid, scmp_filter_ctx *ret,
              moat_err_t *err)
{
  const bool denylist = profile == MOAT_SECCOMP_PLUGIN_DELEGATED;
  _cleanup_ (seccomp_releasep) scmp_filter_ctx ctx
      = seccomp_init (denylist ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO (EPERM));
  int r;

  if (!ctx)
    return moat_error (err, MOAT_E_IO, ENOMEM, "seccomp: cannot make a filter");
  /* An allowlist refuses nothing in normal work, so each refusal it logs
   * is news. The denylist is not logged: its clone3 answer comes at every
   * run of the IPAM plugin and would bury what matters. */
  if (set_attr (ctx, SCMP_FLTATR_CTL_NNP, 1, "no_new_privs", err) < 0
      || set_optional_attr (ctx, SCMP_FLTATR_CTL_TSYNC, "thread sync", err) < 0
      || (!denylist && set_optional_attr (ctx, SCMP_FLTATR_CTL_LOG, "logging", err) < 0))
    return -1;
  /* clone3 passes its flags in memory, out of a filter's sight: ENOSYS
   * makes libc fall back to clone, whose flags a filter can check. */
  r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), SCMP_SYS (clone3), 0);
  if (r < 0 && !missing_here (r))
    return rule_error (err, r, SCMP_SYS (clone3), "refuse");
  if (add_profile (ctx, profile, self_pid, err) < 0)
    return -1;
  *ret = TAKE_PTR (ctx);
  return 0;
}

int
moat_seccomp_export (enum moat_seccomp_profile profile, pid_t self_pid, int fd, moat_err_t *err)
{
  _cleanup_ (seccomp_releasep) scmp_filter_ctx ctx = NULL;
  int r;

  if (build_filter (profile, self_pid, &ctx, err) < 0)
    return -1;
  r = seccomp_export_bpf (ctx, fd);
  return r < 0 ? moat_error (err, MOAT_E_IO, -r, "seccomp: cannot export the filter") : 0;
}

/* The build's copy of the filter (kernel/seccompbpf.h), loaded as
 * libseccomp would load it: no_new_privs, then seccomp(2) with thread
 * sync and, for an allowlist, logging (dropped on a kernel without
 * them). 1 loaded, 0 no copy for this build, -1 error. */
static int
load_precompiled (enum moat_seccomp_profile profile, moat_err_t *err)
{
  _cleanup_free_ struct sock_filter *insns = NULL;
  unsigned int flags = SECCOMP_FILTER_FLAG_TSYNC;
  struct sock_fprog prog;
  size_t len;
  long r;

  if (moat_seccomp_precompiled (profile, getpid (), &insns, &len) <= 0)
    return 0;
  prog = (struct sock_fprog){ .len = (unsigned short)len, .filter = insns };
  if (profile != MOAT_SECCOMP_PLUGIN_DELEGATED)
    flags |= SECCOMP_FILTER_FLAG_LOG;
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return moat_error (err, MOAT_E_IO, errno, "seccomp: cannot set no_new_privs");
  for (;;)
    {
      r = syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
      if (r == 0)
        return 1;
      if (r < 0 && errno == EINVAL && (flags & SECCOMP_FILTER_FLAG_LOG))
        flags &= ~SECCOMP_FILTER_FLAG_LOG;
      else if (r < 0 && errno == EINVAL && (flags & SECCOMP_FILTER_FLAG_TSYNC))
        flags &= ~SECCOMP_FILTER_FLAG_TSYNC;
      else
        return moat_error (err, MOAT_E_IO, r < 0 ? errno : EBUSY,
                           "seccomp: cannot load the filter");
    }
}

int
moat_seccomp_confine (enum moat_seccomp_profile profile, moat_err_t *err)
{
  _cleanup_ (seccomp_releasep) scmp_filter_ctx ctx = NULL;
  int r;

  /* Valgrind's own syscalls pass the filter too, so under it the filter
   * is built for it (allow_memory), and loaded by prctl (see
   * set_optional_attr). */
  if (!moat_under_valgrind ())
    {
      r = load_precompiled (profile, err);
      if (r != 0)
        return r < 0 ? -1 : 0;
    }
  if (build_filter (profile, getpid (), &ctx, err) < 0)
    return -1;
  r = seccomp_load (ctx);
  if (r < 0)
    return moat_error (err, MOAT_E_IO, -r, "seccomp: cannot load the filter");
  return 0;
}
