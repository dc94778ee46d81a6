/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_CLEANUP_H
#define MOAT_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__ ((cleanup (f)))

/* Declares `name##p`, a destructor for `type *` that accepts NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                    \
  static inline void func##p (type *p)                                                             \
  {                                                                                                \
    if (*p)                                                                                        \
      func (*p);                                                                                   \
  }

static inline void
moat_freep (void *p)
{
  free (*(void **)p);
}

static inline void
moat_closep (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close (*fd);
      errno = saved;
    }
}

static inline void
moat_fclosep (FILE **f)
{
  if (*f)
    fclose (*f);
}

static inline void
closedirp (DIR **d)
{
  if (*d)
    closedir (*d);
}

#define _cleanup_free_ _cleanup_ (moat_freep)
#define _cleanup_close_ _cleanup_ (moat_closep)
#define _cleanup_fclose_ _cleanup_ (moat_fclosep)

/* Hand ownership out of a cleanup-attributed variable. */
#define TAKE_PTR(p)                                                                                \
  ({                                                                                               \
    __typeof__ (p) _p = (p);                                                                       \
    (p) = NULL;                                                                                    \
    _p;                                                                                            \
  })

#define TAKE_FD(fd)                                                                                \
  ({                                                                                               \
    int _fd = (fd);                                                                                \
    (fd) = -1;                                                                                     \
    _fd;                                                                                           \
  })

#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

#endif
