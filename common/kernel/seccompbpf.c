/* SPDX-License-Identifier: Apache-2.0 */
/* The build's seccomp filters (see seccompbpf.h). */
#include "kernel/seccompbpf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct precompiled
{
  const struct sock_filter *insns;
  size_t len;
};

/* static const struct precompiled precompiled[], indexed by profile. */
#include "kernel/seccomp-bpf.inc"

/* A comparison with the placeholder: a jump on equality with a constant. */
static bool
is_placeholder (const struct sock_filter *insn)
{
  return insn->code == (BPF_JMP | BPF_JEQ | BPF_K) && insn->k == MOAT_SECCOMP_PID_PLACEHOLDER;
}

int
moat_seccomp_precompiled (enum moat_seccomp_profile profile, pid_t self_pid,
                          struct sock_filter **ret, size_t *ret_len)
{
  const struct precompiled *p;
  struct sock_filter *insns;

  if ((size_t)profile >= sizeof (precompiled) / sizeof (precompiled[0]))
    return 0;
  p = &precompiled[profile];
  if (!p->insns)
    return 0;
  insns = malloc (p->len * sizeof (*insns));
  if (!insns)
    return -1;
  memcpy (insns, p->insns, p->len * sizeof (*insns));
  for (size_t i = 0; i < p->len; i++)
    if (is_placeholder (&insns[i]))
      insns[i].k = (unsigned int)self_pid;
  *ret = insns;
  *ret_len = p->len;
  return 1;
}
