/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the libFuzzer harnesses (hack/fuzz/run.sh builds them). */
#ifndef MOAT_FUZZ_H
#define MOAT_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken invariant: say which, then stop where libFuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                                           \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          fprintf (stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);            \
          __builtin_trap ();                                                                       \
        }                                                                                          \
    }                                                                                              \
  while (0)

/* The input as a C string (it stops at the first NUL byte, as stdin
 * text and environment values do). Never NULL: allocation failure traps. */
static inline char *
fuzz_cstr (const uint8_t *data, size_t size)
{
  char *s = malloc (size + 1);

  FUZZ_CHECK (s != NULL);
  memcpy (s, data, size);
  s[size] = '\0';
  return s;
}

/* Reads the input front to back; past its end every read yields zeros. */
struct fuzz_reader
{
  const uint8_t *data;
  size_t size;
  size_t pos;
};

static inline uint8_t
fuzz_byte (struct fuzz_reader *r)
{
  return r->pos < r->size ? r->data[r->pos++] : 0;
}

static inline void
fuzz_bytes (struct fuzz_reader *r, void *buf, size_t n)
{
  uint8_t *p = buf;

  for (size_t i = 0; i < n; i++)
    p[i] = fuzz_byte (r);
}

/* A string of up to `max` bytes (length byte, then the bytes; NUL stops it). */
static inline char *
fuzz_string (struct fuzz_reader *r, size_t max)
{
  size_t n = fuzz_byte (r) % (max + 1);
  char *s = malloc (n + 1);
  size_t len = 0;

  FUZZ_CHECK (s != NULL);
  for (size_t i = 0; i < n; i++)
    {
      uint8_t c = fuzz_byte (r);
      if (c == 0)
        break;
      s[len++] = (char)c;
    }
  s[len] = '\0';
  return s;
}

/* True when `s` is what jansson accepts as a string: UTF-8 without
 * overlong forms, surrogates or code points past U+10FFFF. */
static inline bool
fuzz_utf8_valid (const char *s)
{
  const unsigned char *p = (const unsigned char *)s;

  while (*p)
    {
      unsigned c = *p, n, cp;

      if (c < 0x80)
        {
          p++;
          continue;
        }
      if (c >= 0xc2 && c <= 0xdf)
        n = 1, cp = c & 0x1f;
      else if (c >= 0xe0 && c <= 0xef)
        n = 2, cp = c & 0x0f;
      else if (c >= 0xf0 && c <= 0xf4)
        n = 3, cp = c & 0x07;
      else
        return false;
      for (unsigned i = 1; i <= n; i++)
        {
          if ((p[i] & 0xc0) != 0x80)
            return false;
          cp = cp << 6 | (p[i] & 0x3f);
        }
      if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff
          || (cp >= 0xd800 && cp <= 0xdfff))
        return false;
      p += n + 1;
    }
  return true;
}

#endif
