/* SPDX-License-Identifier: Apache-2.0 */
/* Each seccomp profile, loaded in a child process: the calls its binary
 * makes still work, the others fail with EPERM (or ENOSYS for clone3), and
 * the kernel reports the process confined. Each probe returns 0 or the
 * number of the first check that failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif

#include "kernel/confine.h"
#include "kernel/seccompbpf.h"
#include "kernel/landlock.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

static bool
under_valgrind (void)
{
#ifdef RUNNING_ON_VALGRIND
  return RUNNING_ON_VALGRIND;
#else
  return false;
#endif
}

/* The child's exit code when confining failed. */
#define NOT_CONFINED 200

/* Runs `probe` in a child confined with `profile`; its exit status. */
static int
confined (enum moat_seccomp_profile profile, int (*probe) (void))
{
  pid_t pid = fork ();
  int status;

  assert_true (pid >= 0);
  if (pid == 0)
    {
      moat_err_t err = { 0 };

      if (moat_seccomp_confine (profile, &err) < 0)
        {
          fprintf (stderr, "%s\n", err.msg);
          _exit (NOT_CONFINED);
        }
      _exit (probe ());
    }
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

/* ---- what a call did -------------------------------------------------- */

/* A call that returned an fd: true if it worked (the fd is closed). */
static bool
fd_ok (int fd)
{
  if (fd < 0)
    return false;
  close (fd);
  return true;
}

/* True if the call (its result r) failed with exactly errno e. */
static bool
failed_with (long r, int e)
{
  return r < 0 && errno == e;
}

static bool
status_has (const char *line)
{
  char buf[4096];
  int fd = open ("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read (fd, buf, sizeof (buf) - 1);

  if (fd >= 0)
    close (fd);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  return strstr (buf, line) != NULL;
}

/* A forked child that runs `path` (which exits 0) and reports whether
 * it did; -1 with errno when fork failed. */
static int
run_program (const char *path, char *const argv[])
{
  pid_t pid = fork ();
  int status;

  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      execv (path, argv);
      _exit (127);
    }
  if (waitpid (pid, &status, 0) != pid)
    return -1;
  return WIFEXITED (status) && WEXITSTATUS (status) == 0 ? 0 : 1;
}

/* ---- the plugin's work ------------------------------------------------- */

static int
plugin_work (void)
{
  char path[] = "/tmp/moat-test-confine.XXXXXX", buf[64];
  int fd = mkstemp (path);
  void *big = malloc (8 << 20);
  int ns = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

  if (fd < 0 || write (fd, "x", 1) != 1 || flock (fd, LOCK_EX) < 0)
    return 1;
  close (fd);
  if (unlink (path) < 0)
    return 2;
  fd = open ("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read (fd, buf, sizeof (buf)) <= 0)
    return 3;
  close (fd);
  if (!fd_ok (socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)))
    return 4;
  if (!fd_ok (socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER)))
    return 5;
  if (ns < 0 || ioctl (ns, NS_GET_NSTYPE) != CLONE_NEWNET)
    return 6;
  /* Entering a namespace needs CAP_SYS_ADMIN whatever the filter says. */
  if (geteuid () == 0 && setns (ns, CLONE_NEWNET) < 0)
    return 7;
  close (ns);
  if (!big)
    return 8;
  memset (big, 1, 8 << 20);
  free (big);
  if (!status_has ("NoNewPrivs:\t1") || !status_has ("Seccomp:\t2"))
    return 9;
  return 0;
}

/* ---- what no allowlist has --------------------------------------------- */

/* Each call is harmless should the filter be missing, and the check then
 * fails: a fork's child exits at once, a program run is /bin/false. */
static int
forbidden_everywhere (void)
{
  char *argv[] = { (char *)"/bin/false", NULL };
  int ns = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  void *page = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  pid_t pid;

  if (ns < 0 || page == MAP_FAILED)
    return 1;
  if (!failed_with (socket (AF_INET, SOCK_STREAM, 0), EPERM))
    return 2;
  if (!failed_with (socket (AF_INET6, SOCK_DGRAM, 0), EPERM))
    return 3;
  if (!failed_with (socket (AF_PACKET, SOCK_RAW, 0), EPERM))
    return 4;
  if (!failed_with (socket (AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT), EPERM))
    return 5;
  if (!failed_with (socket (AF_UNIX, SOCK_STREAM, 0), EPERM))
    return 6;
  execv (argv[0], argv);
  if (errno != EPERM)
    return 7;
  if (!failed_with (setns (ns, 0), EPERM))
    return 8;
  if (!failed_with (setns (ns, CLONE_NEWNS), EPERM))
    return 9;
  if (!failed_with (unshare (CLONE_NEWNET), EPERM))
    return 10;
  if (!failed_with (mount ("none", "/nonexistent", "tmpfs", 0, NULL), EPERM))
    return 11;
  if (!failed_with (setuid (0), EPERM))
    return 12;
  if (!failed_with (personality (0xffffffff), EPERM))
    return 13;
  if (!failed_with (syscall (SYS_bpf, -1, NULL, 0), EPERM))
    return 14;
  if (!failed_with (syscall (SYS_keyctl, -1, 0, 0, 0, 0), EPERM))
    return 15;
  if (!failed_with (syscall (SYS_clone3, NULL, 0), ENOSYS))
    return 16;
  /* On a file: unconfined, the kernel would say ENOTTY. */
  if (!failed_with (ioctl (ns, TIOCSTI, "x"), EPERM))
    return 17;
  /* valgrind maps the code it translates as it goes: it needs them. */
  if (!under_valgrind ()
      && (mmap (NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED
          || errno != EPERM))
    return 24;
  if (!under_valgrind () && !failed_with (mprotect (page, 4096, PROT_READ | PROT_EXEC), EPERM))
    return 25;
#ifndef SANITIZED /* the sanitizer runtime needs these */
  pid = fork ();
  if (pid == 0)
    _exit (0);
  if (!failed_with (pid, EPERM))
    return 19;
  if (!failed_with (ptrace (PTRACE_CONT, getppid (), NULL, NULL), EPERM))
    return 20;
  if (!failed_with (kill (getppid (), 0), EPERM))
    return 21;
  if (!failed_with (syscall (SYS_tgkill, getppid (), getppid (), 0), EPERM))
    return 22;
#else
  (void)pid;
#endif
  /* abort(3) signals the process itself. */
  if (syscall (SYS_tgkill, getpid (), syscall (SYS_gettid), 0) < 0)
    return 23;
  close (ns);
  return 0;
}

/* The plugin has no syslog and no terminal. */
static int
forbidden_to_plugin (void)
{
  struct winsize ws;

  if (!failed_with (socket (AF_UNIX, SOCK_DGRAM, 0), EPERM))
    return 1;
  if (!failed_with (ioctl (STDIN_FILENO, TIOCGWINSZ, &ws), EPERM))
    return 2;
  return 0;
}

static void *
thread_body (void *arg)
{
  return arg;
}

/* A thread (a DEL forgets flows in one: conntrack.h), but no process that
 * shares the memory without being a thread of this one. */
static int
plugin_thread (void)
{
  static int token;
  pthread_t t;
  void *ret = NULL;
  pid_t pid;

  if (pthread_create (&t, NULL, thread_body, &token) != 0 || pthread_join (t, &ret) != 0
      || ret != &token)
    return 1;
#ifndef SANITIZED /* LeakSanitizer's exit check clones a process sharing memory */
  pid = syscall (SYS_clone, CLONE_VM | SIGCHLD, NULL, NULL, NULL, 0);
  if (pid == 0)
    _exit (0);
  if (!failed_with (pid, EPERM))
    return 2;
#else
  (void)pid;
#endif
  return 0;
}

/* syslog's socket, and only a datagram one. */
static int
hook_syslog (void)
{
  struct winsize ws;

  if (!fd_ok (socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)))
    return 1;
  if (!failed_with (socket (AF_UNIX, SOCK_SEQPACKET, 0), EPERM))
    return 2;
  if (!failed_with (ioctl (STDIN_FILENO, TIOCGWINSZ, &ws), EPERM))
    return 3;
  return 0;
}

/* isatty: the kernel's answer (ENOTTY on a file), not the filter's. */
static int
ctl_terminal (void)
{
  struct winsize ws;
  int fd = open ("/proc/self/status", O_RDONLY | O_CLOEXEC);

  if (fd < 0 || !failed_with (ioctl (fd, TIOCGWINSZ, &ws), ENOTTY))
    return 1;
  if (isatty (fd) || errno != ENOTTY)
    return 2;
  close (fd);
  if (!fd_ok (socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)))
    return 3;
  return 0;
}

/* moatctl cluster watch: TCP and UDP to the store, inotify, signalfd,
 * libcurl's socketpair; still no raw or packet socket, no stream socket
 * of another family, no exec, no new namespace. */
static int
cluster_watch_work (void)
{
  char *argv[] = { (char *)"/bin/false", NULL };
  int pair[2];
  sigset_t set;

  sigemptyset (&set);
  if (!fd_ok (socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0))
      || !fd_ok (socket (AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0))
      || !fd_ok (socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)))
    return 1;
  if (!fd_ok (inotify_init1 (IN_CLOEXEC)) || !fd_ok (signalfd (-1, &set, SFD_CLOEXEC)))
    return 2;
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
    return 3;
  if (!failed_with (socket (AF_INET, SOCK_RAW, IPPROTO_ICMP), EPERM)
      || !failed_with (socket (AF_PACKET, SOCK_RAW, 0), EPERM)
      || !failed_with (socket (AF_UNIX, SOCK_STREAM, 0), EPERM))
    return 4;
  execv (argv[0], argv);
  if (errno != EPERM)
    return 5;
  if (!failed_with (unshare (CLONE_NEWNET), EPERM))
    return 6;
  return 0;
}

/* ---- delegated IPAM: a denylist ----------------------------------------- */

static int
delegated_work (void)
{
  char *true_argv[] = { (char *)"/bin/true", NULL };
  /* The filter is inherited: a program run from here is confined too. */
  char *grep_argv[] = { (char *)"/bin/grep", (char *)"-q", (char *)"^Seccomp:[[:space:]]*2$",
                        (char *)"/proc/self/status", NULL };
  int ns = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

  if (plugin_work () != 0)
    return 1;
  if (run_program (true_argv[0], true_argv) != 0)
    return 2;
  if (run_program (grep_argv[0], grep_argv) != 0)
    return 3;
  if (!fd_ok (socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)))
    return 4;
  if (ns < 0 || !failed_with (setns (ns, 0), EPERM)
      || !failed_with (setns (ns, CLONE_NEWNS), EPERM))
    return 5;
  close (ns);
  return 0;
}

static int
delegated_forbidden (void)
{
  pid_t pid;

  if (!failed_with (unshare (CLONE_NEWNET), EPERM))
    return 1;
  if (!failed_with (unshare (CLONE_NEWUSER), EPERM))
    return 2;
  /* clone with a namespace flag; a child made anyway exits at once. */
  pid = syscall (SYS_clone, CLONE_NEWNET | SIGCHLD, NULL, NULL, NULL, 0);
  if (pid == 0)
    _exit (0);
  if (!failed_with (pid, EPERM))
    return 3;
  pid = syscall (SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
  if (pid == 0)
    _exit (0);
  if (!failed_with (pid, EPERM))
    return 4;
  if (!failed_with (syscall (SYS_clone3, NULL, 0), ENOSYS))
    return 5;
#ifndef SANITIZED /* LeakSanitizer's exit check needs it */
  if (!failed_with (ptrace (PTRACE_CONT, getppid (), NULL, NULL), EPERM))
    return 6;
#endif
  if (!failed_with (mount ("none", "/nonexistent", "tmpfs", 0, NULL), EPERM))
    return 7;
  if (!failed_with (setuid (0), EPERM))
    return 8;
  if (!failed_with (syscall (SYS_bpf, -1, NULL, 0), EPERM))
    return 9;
  if (!failed_with (syscall (SYS_init_module, NULL, 0, ""), EPERM))
    return 10;
  if (!failed_with (syscall (SYS_io_uring_setup, 0, NULL), EPERM))
    return 11;
  if (!failed_with (personality (0xffffffff), EPERM))
    return 12;
  return 0;
}

/* ---- other ABIs ---------------------------------------------------------- */

#if defined(__x86_64__)
/* getpid of the i386 ABI, through int 0x80. */
static int
i386_call (void)
{
  long r;

  __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
  return r < 0 ? 1 : 2;
}

/* getpid of the x32 ABI. */
static int
x32_call (void)
{
  return syscall (0x40000000L | SYS_getpid) < 0 ? 1 : 2;
}

/* The signal that ended a confined child running `probe`, 0 if none. */
static int
killed_by (enum moat_seccomp_profile profile, int (*probe) (void))
{
  pid_t pid = fork ();
  int status;

  assert_true (pid >= 0);
  if (pid == 0)
    {
      moat_err_t err = { 0 };

      if (moat_seccomp_confine (profile, &err) < 0)
        _exit (NOT_CONFINED);
      _exit (probe ());
    }
  assert_int_equal (waitpid (pid, &status, 0), pid);
  return WIFSIGNALED (status) ? WTERMSIG (status) : 0;
}

/* Even the denylist: a filter checks the native ABI's numbers only, so
 * another ABI must not get through at all. */
static void
test_other_abis_are_killed (void **state)
{
  const enum moat_seccomp_profile all[]
      = { MOAT_SECCOMP_PLUGIN, MOAT_SECCOMP_PLUGIN_DELEGATED, MOAT_SECCOMP_HOOK, MOAT_SECCOMP_CTL,
          MOAT_SECCOMP_CLUSTER_WATCH };

  if (under_valgrind ())
    skip (); /* valgrind does not run int 0x80 */

  for (size_t i = 0; i < sizeof (all) / sizeof (all[0]); i++)
    {
      assert_int_equal (killed_by (all[i], i386_call), SIGSYS);
      assert_int_equal (killed_by (all[i], x32_call), SIGSYS);
    }
}
#endif

/* ---- Landlock ------------------------------------------------------------- */

/* A directory of its own for each Landlock test: "in" (where the child may
 * write), "out" (where it may not) with a file "victim" in each. */
struct ll_dirs
{
  char base[64];
  char in[96];
  char out[96];
};

static void
write_text (const char *path, const char *text)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  assert_true (fd >= 0);
  assert_int_equal (write (fd, text, strlen (text)), (ssize_t)strlen (text));
  close (fd);
}

static void
ll_dirs_make (struct ll_dirs *d)
{
  char path[160];

  snprintf (d->base, sizeof (d->base), "/tmp/moat-landlock-XXXXXX");
  assert_non_null (mkdtemp (d->base));
  snprintf (d->in, sizeof (d->in), "%s/in", d->base);
  snprintf (d->out, sizeof (d->out), "%s/out", d->base);
  assert_int_equal (mkdir (d->in, 0700), 0);
  assert_int_equal (mkdir (d->out, 0700), 0);
  snprintf (path, sizeof (path), "%s/victim", d->in);
  write_text (path, "in");
  snprintf (path, sizeof (path), "%s/victim", d->out);
  write_text (path, "out");
}

static void
ll_dirs_remove (struct ll_dirs *d)
{
  char cmd[128];

  snprintf (cmd, sizeof (cmd), "rm -rf '%s'", d->base);
  assert_int_equal (system (cmd), 0);
}

static bool
exists (const char *dir, const char *name)
{
  char path[160];

  snprintf (path, sizeof (path), "%s/%s", dir, name);
  return access (path, F_OK) == 0;
}

/* In `dir`: creates "new", writes and truncates "victim", renames "new" to
 * "renamed", makes and removes a directory, unlinks "renamed". All must
 * work (true) or all must fail with `refused` (false: the first that did
 * not). */
static bool
writes_in (int dir, bool allowed, int refused)
{
  int fd = openat (dir, "new", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

  if (allowed)
    {
      bool ok = fd_ok (fd);
      fd = openat (dir, "victim", O_WRONLY | O_TRUNC | O_CLOEXEC);
      return ok && fd_ok (fd) && renameat (dir, "new", dir, "renamed") == 0
             && mkdirat (dir, "sub", 0700) == 0 && unlinkat (dir, "sub", AT_REMOVEDIR) == 0
             && unlinkat (dir, "renamed", 0) == 0;
    }
  if (!failed_with (fd, refused))
    return false;
  fd = openat (dir, "victim", O_WRONLY | O_CLOEXEC);
  return failed_with (fd, refused) && failed_with (renameat (dir, "victim", dir, "moved"), refused)
         && failed_with (mkdirat (dir, "sub", 0700), refused)
         && failed_with (unlinkat (dir, "victim", 0), refused);
}

static int
landlock_probe (const char *in, const char *out)
{
  struct moat_write_set w = { 0 };
  moat_err_t err = { 0 };
  int din, dout, r;

  moat_write_set_add (&w, in, 0);
  r = moat_landlock_confine (&w, &err);
  if (r != MOAT_LANDLOCK_ENFORCED)
    {
      fprintf (stderr, "landlock: %d %s\n", r, err.msg);
      return NOT_CONFINED;
    }
  din = open (in, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  dout = open (out, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* reads still work */
  if (din < 0 || dout < 0)
    return 1;
  if (!writes_in (din, true, 0))
    return 2;
  if (!writes_in (dout, false, EACCES))
    return 3;
  /* Out of the allowed tree, or into it: never. */
  if (!failed_with (renameat (din, "victim", dout, "stolen"), EACCES)
      || !failed_with (renameat (dout, "victim", din, "taken"), EACCES))
    return 4;
  if (!failed_with (linkat (dout, "victim", din, "linked", 0), EXDEV))
    return 5;
  /* Nothing but regular files and directories, even where writes go. */
  if (!failed_with (symlinkat ("/etc/shadow", din, "link"), EACCES)
      || !failed_with (mkfifoat (din, "fifo", 0600), EACCES))
    return 6;
  return 0;
}

static void
test_landlock_writes_only_beneath_the_set (void **state)
{
  struct ll_dirs d;
  pid_t pid;
  int status;

  assert_true (moat_landlock_abi () >= 1); /* this kernel has it */
  ll_dirs_make (&d);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    _exit (landlock_probe (d.in, d.out));
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 0);
  /* The parent is not restricted, and what the child did is there. */
  assert_true (exists (d.in, "victim") && !exists (d.in, "renamed") && !exists (d.in, "link"));
  assert_true (exists (d.out, "victim") && !exists (d.out, "new") && !exists (d.out, "stolen"));
  ll_dirs_remove (&d);
}

/* Also what the binaries do: Landlock, then the seccomp allowlist, and
 * exec (delegated IPAM) passes the restriction on. */
static int
landlock_then_seccomp (const char *in, const char *out)
{
  struct moat_write_set w = { 0 };
  moat_err_t err = { 0 };
  char path[160];

  moat_write_set_add (&w, in, 0);
  if (moat_landlock_confine (&w, &err) != MOAT_LANDLOCK_ENFORCED
      || moat_seccomp_confine (MOAT_SECCOMP_PLUGIN_DELEGATED, &err) < 0)
    return NOT_CONFINED;
  snprintf (path, sizeof (path), "%s/from-exec", in);
  if (run_program ("/usr/bin/touch", (char *[]){ "touch", path, NULL }) != 0
      || !exists (in, "from-exec"))
    return 1;
  /* touch fails (exit 1), not the shell's redirection: /dev/null may be
   * written by all. */
  snprintf (path, sizeof (path), "exec /usr/bin/touch %s/from-exec 2>/dev/null", out);
  if (run_program ("/bin/sh", (char *[]){ "sh", "-c", path, NULL }) != 1
      || exists (out, "from-exec"))
    return 2;
  return 0;
}

static void
test_landlock_is_inherited_across_exec (void **state)
{
  struct ll_dirs d;
  pid_t pid;
  int status;

  ll_dirs_make (&d);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    _exit (landlock_then_seccomp (d.in, d.out));
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 0);
  ll_dirs_remove (&d);
}

/* The first layer, before any input: regular files and directories
 * anywhere, nothing else anywhere; the second then narrows to the set. */
static int
early_then_set (const char *in, const char *out)
{
  struct moat_write_set w = { 0 };
  moat_err_t err = { 0 };
  int dout = open (out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (dout < 0 || moat_landlock_confine_early (&err) != MOAT_LANDLOCK_ENFORCED)
    return NOT_CONFINED;
  if (!fd_ok (openat (dout, "early", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600))
      || unlinkat (dout, "early", 0) < 0)
    return 1;
  if (!failed_with (symlinkat ("/etc/shadow", dout, "link"), EACCES)
      || !failed_with (mkfifoat (dout, "fifo", 0600), EACCES)
      || !failed_with (mknodat (dout, "null", S_IFCHR | 0600, makedev (1, 3)), EACCES))
    return 2;
  moat_write_set_add (&w, in, 0);
  if (moat_landlock_confine (&w, &err) != MOAT_LANDLOCK_ENFORCED)
    return NOT_CONFINED;
  return failed_with (openat (dout, "late", O_WRONLY | O_CREAT | O_CLOEXEC, 0600), EACCES) ? 0 : 3;
}

static void
test_landlock_early_layer_then_the_set (void **state)
{
  struct ll_dirs d;
  pid_t pid;
  int status;

  ll_dirs_make (&d);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    _exit (early_then_set (d.in, d.out));
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 0);
  assert_false (exists (d.out, "link") || exists (d.out, "fifo") || exists (d.out, "null"));
  ll_dirs_remove (&d);
}

/* The bridge's settings, and no other sysctl: in a network namespace of
 * the child's own, so nothing of the host's changes. */
static int
sysctl_probe (void)
{
  struct moat_write_set w = { .sysctls = true };
  moat_err_t err = { 0 };
  char value[16] = { 0 };
  int fd;

  if (unshare (CLONE_NEWNET) < 0)
    return 1;
  if (moat_landlock_confine (&w, &err) != MOAT_LANDLOCK_ENFORCED)
    return NOT_CONFINED;
  fd = open ("/proc/sys/net/ipv4/conf/lo/forwarding", O_RDWR | O_CLOEXEC);
  if (fd < 0 || read (fd, value, sizeof (value) - 1) <= 0
      || pwrite (fd, value, strlen (value), 0) != (ssize_t)strlen (value))
    return 2;
  close (fd);
  fd = open ("/proc/sys/net/ipv4/neigh/lo/proxy_delay", O_WRONLY | O_CLOEXEC);
  if (!fd_ok (fd))
    return 3;
  /* A port's IPv6 goes off (netlink.c). */
  if (!fd_ok (open ("/proc/sys/net/ipv6/conf/lo/disable_ipv6", O_WRONLY | O_CLOEXEC)))
    return 6;
  if (!failed_with (open ("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC), EACCES)
      || !failed_with (open ("/proc/sys/kernel/core_pattern", O_WRONLY | O_CLOEXEC), EACCES))
    return 4;
  /* Reading any of them still works. */
  return fd_ok (open ("/proc/sys/kernel/core_pattern", O_RDONLY | O_CLOEXEC)) ? 0 : 5;
}

static void
test_landlock_sysctls_of_the_bridge_only (void **state)
{
  pid_t pid = fork ();
  int status;

  assert_true (pid >= 0);
  if (pid == 0)
    _exit (sysctl_probe ());
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 0);
}

/* host-local writes its dataDir (made 0755 when missing), static and dhcp
 * nothing; any other IPAM plugin is unknown: no Landlock at all. */
static void
test_landlock_ipam_writes (void **state)
{
  struct moat_write_set w = { 0 };
  json_t *host_local = json_pack ("{s:s, s:s}", "type", "host-local", "dataDir", "/x/data");
  json_t *host_local_default = json_pack ("{s:s}", "type", "host-local");
  json_t *stat = json_pack ("{s:s}", "type", "static");
  json_t *other = json_pack ("{s:s}", "type", "whereabouts");
  moat_err_t err = { 0 };

  moat_write_set_add_ipam (&w, NULL);
  moat_write_set_add_ipam (&w, stat);
  assert_int_equal (w.n, 0);
  assert_false (w.unknown_writer);
  moat_write_set_add_ipam (&w, host_local);
  moat_write_set_add_ipam (&w, host_local); /* once */
  moat_write_set_add_ipam (&w, host_local_default);
  assert_int_equal (w.n, 2);
  assert_string_equal (w.dirs[0].path, "/x/data");
  assert_int_equal (w.dirs[0].create_mode, 0755);
  assert_string_equal (w.dirs[1].path, "/var/lib/cni/networks");
  assert_false (w.unknown_writer);
  moat_write_set_add_ipam (&w, other);
  assert_true (w.unknown_writer);
  /* Not applied, and no error: the caller goes on with seccomp alone. */
  assert_int_equal (moat_landlock_confine (&w, &err), MOAT_LANDLOCK_NONE);
  json_decref (host_local);
  json_decref (host_local_default);
  json_decref (stat);
  json_decref (other);
}

/* ---- the tests ---------------------------------------------------------- */

static void
test_plugin (void **state)
{
  assert_int_equal (confined (MOAT_SECCOMP_PLUGIN, plugin_work), 0);
  assert_int_equal (confined (MOAT_SECCOMP_PLUGIN, forbidden_everywhere), 0);
  assert_int_equal (confined (MOAT_SECCOMP_PLUGIN, forbidden_to_plugin), 0);
  assert_int_equal (confined (MOAT_SECCOMP_PLUGIN, plugin_thread), 0);
}

static void
test_hook (void **state)
{
  assert_int_equal (confined (MOAT_SECCOMP_HOOK, plugin_work), 0);
  assert_int_equal (confined (MOAT_SECCOMP_HOOK, forbidden_everywhere), 0);
  assert_int_equal (confined (MOAT_SECCOMP_HOOK, hook_syslog), 0);
}

static void
test_ctl (void **state)
{
  assert_int_equal (confined (MOAT_SECCOMP_CTL, plugin_work), 0);
  assert_int_equal (confined (MOAT_SECCOMP_CTL, forbidden_everywhere), 0);
  assert_int_equal (confined (MOAT_SECCOMP_CTL, ctl_terminal), 0);
}

static void
test_cluster_watch (void **state)
{
  assert_int_equal (confined (MOAT_SECCOMP_CLUSTER_WATCH, plugin_work), 0);
  assert_int_equal (confined (MOAT_SECCOMP_CLUSTER_WATCH, ctl_terminal), 0);
  assert_int_equal (confined (MOAT_SECCOMP_CLUSTER_WATCH, cluster_watch_work), 0);
}

static void
test_plugin_delegated (void **state)
{
  assert_int_equal (confined (MOAT_SECCOMP_PLUGIN_DELEGATED, delegated_work), 0);
  assert_int_equal (confined (MOAT_SECCOMP_PLUGIN_DELEGATED, delegated_forbidden), 0);
}

static int
unknown_profile (void)
{
  moat_err_t err = { 0 };

  if (moat_seccomp_confine ((enum moat_seccomp_profile)99, &err) == 0)
    return 1;
  if (!strstr (err.msg, "unknown profile 99"))
    return 2;
  /* Nothing was loaded. */
  return status_has ("Seccomp:\t0") ? 0 : 3;
}

static void
test_unknown_profile_is_refused (void **state)
{
  pid_t pid = fork ();
  int status;

  assert_true (pid >= 0);
  if (pid == 0)
    _exit (unknown_profile ());
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 0);
}

/* The filter a run loads (the build's copy, the pid put in) is, for every
 * profile, the one libseccomp builds for that pid now. */
static void
test_precompiled_filters_are_libseccomps (void **state)
{
  const enum moat_seccomp_profile profiles[] = {
    MOAT_SECCOMP_PLUGIN, MOAT_SECCOMP_PLUGIN_DELEGATED, MOAT_SECCOMP_HOOK,
    MOAT_SECCOMP_CTL,    MOAT_SECCOMP_HOOK_POLICY,      MOAT_SECCOMP_CLUSTER_WATCH,
  };
  const pid_t pids[] = { getpid (), 1, 4194304 };

  for (size_t i = 0; i < sizeof (profiles) / sizeof (profiles[0]); i++)
    for (size_t j = 0; j < sizeof (pids) / sizeof (pids[0]); j++)
      {
        int fd = memfd_create ("filter", MFD_CLOEXEC);
        moat_err_t err = { 0 };
        struct sock_filter *insns = NULL, *built;
        size_t len = 0;
        off_t size;

        assert_true (fd >= 0);
        assert_int_equal (moat_seccomp_export (profiles[i], pids[j], fd, &err), 0);
        size = lseek (fd, 0, SEEK_END);
        assert_int_equal (moat_seccomp_precompiled (profiles[i], pids[j], &insns, &len), 1);
        assert_int_equal ((size_t)size, len * sizeof (*insns));
        built = malloc ((size_t)size);
        assert_non_null (built);
        assert_int_equal (pread (fd, built, (size_t)size, 0), size);
        assert_memory_equal (built, insns, (size_t)size);
        free (built);
        free (insns);
        close (fd);
      }
}

int
main (void)
{
  const struct CMUnitTest tests[]
      = { cmocka_unit_test (test_plugin),
          cmocka_unit_test (test_hook),
          cmocka_unit_test (test_ctl),
          cmocka_unit_test (test_cluster_watch),
          cmocka_unit_test (test_plugin_delegated),
          cmocka_unit_test (test_unknown_profile_is_refused),
          cmocka_unit_test (test_precompiled_filters_are_libseccomps),
          cmocka_unit_test (test_landlock_writes_only_beneath_the_set),
          cmocka_unit_test (test_landlock_is_inherited_across_exec),
          cmocka_unit_test (test_landlock_early_layer_then_the_set),
          cmocka_unit_test (test_landlock_sysctls_of_the_bridge_only),
          cmocka_unit_test (test_landlock_ipam_writes),
#if defined(__x86_64__)
          cmocka_unit_test (test_other_abis_are_killed),
#endif
        };

  cmocka_set_message_output (CM_OUTPUT_TAP);
  return cmocka_run_group_tests (tests, NULL, NULL);
}
