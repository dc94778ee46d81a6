/* SPDX-License-Identifier: Apache-2.0 */
/* hack/tools/seccomp-bpf: writes the C include of this build's seccomp
 * filters (kernel/seccompbpf.h): every profile as libseccomp builds it
 * (moat_seccomp_export), with MOAT_SECCOMP_PID_PLACEHOLDER for the
 * process id. Run by the build, not installed.
 *
 *   seccomp-bpf OUT
 *
 * Each filter is built twice, with the placeholder and with the
 * placeholder + 1: they must differ only in comparisons with those
 * values, so that putting a pid there at run time gives what libseccomp
 * would build for that pid. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "kernel/seccompbpf.h"

/* This tool is what makes the filters: it has none. */
int
moat_seccomp_precompiled (enum moat_seccomp_profile profile, pid_t self_pid,
                          struct sock_filter **ret, size_t *ret_len)
{
  return 0;
}

static const struct
{
  enum moat_seccomp_profile profile;
  const char *name;
} profiles[] = {
  { MOAT_SECCOMP_PLUGIN, "MOAT_SECCOMP_PLUGIN" },
  { MOAT_SECCOMP_PLUGIN_DELEGATED, "MOAT_SECCOMP_PLUGIN_DELEGATED" },
  { MOAT_SECCOMP_HOOK, "MOAT_SECCOMP_HOOK" },
  { MOAT_SECCOMP_CTL, "MOAT_SECCOMP_CTL" },
  { MOAT_SECCOMP_HOOK_POLICY, "MOAT_SECCOMP_HOOK_POLICY" },
  { MOAT_SECCOMP_CLUSTER_WATCH, "MOAT_SECCOMP_CLUSTER_WATCH" },
};

static int
die (const char *what, const moat_err_t *err)
{
  fprintf (stderr, "seccomp-bpf: %s: %s\n", what, err ? err->msg : strerror (errno));
  return 1;
}

/* The profile's filter for `pid`: *ret (free it), *ret_len instructions. */
static int
export (enum moat_seccomp_profile profile, unsigned int pid, struct sock_filter **ret,
        size_t *ret_len)
{
  _cleanup_close_ int fd = memfd_create ("seccomp-bpf", MFD_CLOEXEC);
  moat_err_t err = { 0 };
  off_t size;
  struct sock_filter *insns;

  if (fd < 0)
    return die ("memfd_create", NULL);
  if (moat_seccomp_export (profile, (pid_t)pid, fd, &err) < 0)
    return die ("export", &err);
  size = lseek (fd, 0, SEEK_END);
  if (size <= 0 || size % sizeof (struct sock_filter) != 0)
    return die ("exported filter has an odd size", NULL);
  insns = malloc ((size_t)size);
  if (!insns || pread (fd, insns, (size_t)size, 0) != size)
    return die ("read back", NULL);
  *ret = insns;
  *ret_len = (size_t)size / sizeof (struct sock_filter);
  return 0;
}

/* Only the comparisons with the pid differ between the two builds; 1 if
 * so (and *ret_n of them), 0 if not. */
static int
only_pid_differs (const struct sock_filter *a, const struct sock_filter *b, size_t len,
                  size_t *ret_n)
{
  size_t n = 0;

  for (size_t i = 0; i < len; i++)
    {
      if (memcmp (&a[i], &b[i], sizeof (a[i])) == 0)
        {
          if (a[i].code == (BPF_JMP | BPF_JEQ | BPF_K) && a[i].k == MOAT_SECCOMP_PID_PLACEHOLDER)
            return 0; /* the placeholder where no pid is */
          continue;
        }
      if (a[i].code != (BPF_JMP | BPF_JEQ | BPF_K) || a[i].k != MOAT_SECCOMP_PID_PLACEHOLDER
          || b[i].code != a[i].code || b[i].k != a[i].k + 1 || b[i].jt != a[i].jt
          || b[i].jf != a[i].jf)
        return 0;
      n++;
    }
  *ret_n = n;
  return 1;
}

static int
write_profile (FILE *out, size_t index)
{
  _cleanup_free_ struct sock_filter *a = NULL;
  _cleanup_free_ struct sock_filter *b = NULL;
  size_t len_a, len_b, n;

  if (export (profiles[index].profile, MOAT_SECCOMP_PID_PLACEHOLDER, &a, &len_a) != 0
      || export (profiles[index].profile, MOAT_SECCOMP_PID_PLACEHOLDER + 1, &b, &len_b) != 0)
    return 1;
  if (len_a != len_b || !only_pid_differs (a, b, len_a, &n))
    {
      fprintf (stderr, "seccomp-bpf: %s: the filter changes with the pid beyond its comparison\n",
               profiles[index].name);
      return 1;
    }
  fprintf (out, "/* %s: %zu instructions, %zu comparing with the pid */\n", profiles[index].name,
           len_a, n);
  fprintf (out, "static const struct sock_filter filter_%zu[] = {\n", index);
  for (size_t i = 0; i < len_a; i++)
    fprintf (out, "  { 0x%04x, %u, %u, 0x%08x },\n", a[i].code, a[i].jt, a[i].jf, a[i].k);
  fprintf (out, "};\n\n");
  return 0;
}

int
main (int argc, char **argv)
{
  FILE *out;
  const size_t n = sizeof (profiles) / sizeof (profiles[0]);

  if (argc != 2)
    {
      fprintf (stderr, "usage: seccomp-bpf OUT\n");
      return 2;
    }
  out = fopen (argv[1], "w");
  if (!out)
    return die (argv[1], NULL);
  fprintf (out, "/* Written by hack/tools/seccomp-bpf from common/kernel/confine.c; do not "
                "edit. */\n\n");
  for (size_t i = 0; i < n; i++)
    if (write_profile (out, i) != 0)
      {
        fclose (out);
        unlink (argv[1]);
        return 1;
      }
  fprintf (out, "static const struct precompiled precompiled[] = {\n");
  for (size_t i = 0; i < n; i++)
    fprintf (out, "  [%s] = { filter_%zu, sizeof (filter_%zu) / sizeof (filter_%zu[0]) },\n",
             profiles[i].name, i, i, i);
  fprintf (out, "};\n");
  if (fclose (out) != 0)
    {
      unlink (argv[1]);
      return die (argv[1], NULL);
    }
  return 0;
}
