/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CONFINE_H
#define MOAT_CONFINE_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"

/* What a confined moat binary may still do. All but one profile are allowlists:
 * any other syscall fails with EPERM, so a mistake ends in a clean error
 * naming what failed, never a crash, and the kernel's audit log records
 * the refusal (SECCOMP_FILTER_FLAG_LOG; in normal work nothing is refused).
 * mmap and mprotect may not make memory executable (except under
 * valgrind, whose translated code needs it). no_new_privs is set. A
 * syscall of another ABI (int 0x80, x32) kills the caller: moat never
 * makes one. clone3, whose flags sit in memory out of a filter's sight,
 * fails with ENOSYS, so that libc falls back to clone. */
enum moat_seccomp_profile
{
  /* The CNI plugin with its built-in allocator: read and write files
   * (state under /run/moat, sysctls under /proc/sys, the policy file),
   * flock, open netlink sockets (NETLINK_ROUTE, NETLINK_NETFILTER) and
   * talk on them, setns(CLONE_NEWNET), ioctl(NS_GET_NSTYPE), memory,
   * time, signals to itself, exit. No other socket, no fork, no exec. */
  MOAT_SECCOMP_PLUGIN,
  /* The CNI plugin with delegated IPAM ("ipam": {"type": ...}). The plugin
   * runs the IPAM plugin from CNI_PATH, and a filter is inherited across
   * fork and exec: an allowlist would confine a program moat does not know
   * (host-local is Go; others open TCP connections or talk to a daemon).
   * So this profile is a denylist: the syscalls no CNI plugin has any use
   * for fail with EPERM for the plugin and its IPAM child alike (ptrace,
   * mount and the new mount API, bpf, module loading, kexec, keyctl, the
   * setuid family, personality, userfaultfd, perf_event_open,
   * process_vm_*, unshare, clone with namespace flags, setns other than
   * into a network namespace, open_by_handle_at, io_uring, reboot, ...).
   * Not logged: every run of the IPAM plugin meets clone3's ENOSYS. */
  MOAT_SECCOMP_PLUGIN_DELEGATED,
  /* The OCI hook when it attaches or detaches a container itself
   * (hook-driven attach runs the plugin's ADD at prestart, its DEL at
   * poststop): what the plugin may do, plus syslog: connect, and AF_UNIX
   * datagram sockets so that syslog(3) can reconnect (no stream sockets:
   * no talking to a container engine's API socket). With delegated IPAM
   * the hook, like the plugin, takes MOAT_SECCOMP_PLUGIN_DELEGATED. */
  MOAT_SECCOMP_HOOK,
  /* moatctl: what MOAT_SECCOMP_HOOK allows, plus the terminal ioctls of
   * isatty(3) and the window size. */
  MOAT_SECCOMP_CTL,
  /* The OCI hook when it only installs or removes policy, its usual work:
   * MOAT_SECCOMP_HOOK without what only links need: no NETLINK_ROUTE
   * socket, no setns, no NS_GET_NSTYPE. nf_tables, state files, syslog. */
  MOAT_SECCOMP_HOOK_POLICY,
  /* moatctl cluster watch: what MOAT_SECCOMP_CTL allows, plus TCP and
   * UDP sockets (IPv4, IPv6) to talk to the cluster's store, poll,
   * inotify and signalfd. */
  MOAT_SECCOMP_CLUSTER_WATCH,
};

/* Loads the profile's filter into the calling process (all its threads).
 * Call it once the inputs are read and, for the hook, openlog(LOG_NDELAY)
 * has opened the syslog socket. Returns 0 or -1 with *err set (the
 * process is then unconfined: callers fail closed).
 *
 * In builds with AddressSanitizer (LeakSanitizer's exit check stops the
 * process's threads with a ptrace-ing clone) the allowlists also allow
 * what the sanitizer runtime needs: clone without namespace flags, ptrace,
 * prctl, wait4, sigaltstack and a few more. Never in a normal build. */
int moat_seccomp_confine (enum moat_seccomp_profile profile, moat_err_t *err);

/* The profile's filter as moat_seccomp_confine builds it with libseccomp,
 * written to `fd` as classic BPF (struct sock_filter, host byte order),
 * with `self_pid` as the process tgkill may signal. The build writes each
 * profile's once (hack/tools/seccomp-bpf, kernel/seccompbpf.h), and
 * moat_seccomp_confine loads that copy: building it costs ~0.25 ms at
 * every run. */
int moat_seccomp_export (enum moat_seccomp_profile profile, pid_t self_pid, int fd,
                         moat_err_t *err);

/* Whether this process runs under valgrind (which needs executable memory
 * and does not know every new syscall). */
bool moat_under_valgrind (void);

#endif
