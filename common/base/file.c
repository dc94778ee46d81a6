/* SPDX-License-Identifier: Apache-2.0 */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"

int
moat_write_all (int fd, const void *data, size_t len)
{
  const char *p = data;

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      p += n;
      len -= (size_t)n;
    }
  return 0;
}

static int
failed_at (enum moat_file_step step, enum moat_file_step *ret_step)
{
  if (ret_step)
    *ret_step = step;
  return -1;
}

int
moat_file_commit_at (int dirfd, int fd, const char *tmp, const char *name, const void *data,
                     size_t len, int flags, enum moat_file_step *ret_step)
{
  int r, saved;

  r = moat_write_all (fd, data, len);
  saved = errno;
  if (close (fd) < 0 && r == 0)
    {
      r = -1;
      saved = errno;
    }
  if (r < 0)
    {
      unlinkat (dirfd, tmp, 0);
      errno = saved;
      return failed_at (MOAT_FILE_WRITE, ret_step);
    }
  if (flags & MOAT_FILE_NOREPLACE)
    r = renameat2 (dirfd, tmp, dirfd, name, RENAME_NOREPLACE);
  else
    r = renameat (dirfd, tmp, dirfd, name);
  if (r < 0)
    {
      saved = errno;
      unlinkat (dirfd, tmp, 0);
      errno = saved;
      return failed_at (MOAT_FILE_RENAME, ret_step);
    }
  return 0;
}

int
moat_file_write_at (int dirfd, const char *tmp, const char *name, const void *data, size_t len,
                    int flags, enum moat_file_step *ret_step)
{
  int fd = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd < 0)
    return failed_at (MOAT_FILE_CREATE, ret_step);
  return moat_file_commit_at (dirfd, fd, tmp, name, data, len, flags, ret_step);
}

int
moat_read_fd (int fd, size_t max, char **ret_text, size_t *ret_len)
{
  /* One byte past max tells a file of max bytes from a longer one. */
  size_t len = 0, cap = max < 4096 ? max + 1 : 4096;
  _cleanup_free_ char *buf = malloc (cap + 1);

  if (!buf)
    return -1;
  for (;;)
    {
      ssize_t n = read (fd, buf + len, cap - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      len += (size_t)n;
      if (len > max)
        {
          errno = EFBIG;
          return -1;
        }
      if (len == cap)
        {
          size_t next = cap > max / 2 ? max + 1 : cap * 2;
          char *nb = realloc (buf, next + 1);

          if (!nb)
            return -1;
          buf = nb;
          cap = next;
        }
    }
  buf[len] = '\0';
  *ret_text = TAKE_PTR (buf);
  *ret_len = len;
  return 0;
}

int
moat_read_file (const char *path, size_t max, char **ret_text, size_t *ret_len)
{
  _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

  if (fd < 0)
    return -1;
  return moat_read_fd (fd, max, ret_text, ret_len);
}

int
moat_read_stdin (const char *what, size_t max, char **ret_text, size_t *ret_len, moat_err_t *err)
{
  if (moat_read_fd (STDIN_FILENO, max, ret_text, ret_len) == 0)
    return 0;
  if (errno == EFBIG)
    return moat_error (err, MOAT_E_IO, 0, "stdin: %s larger than %zu MiB", what, max >> 20);
  return moat_error (err, MOAT_E_IO, errno, "stdin");
}

int
moat_mkdir_p (const char *path, int code, moat_err_t *err)
{
  char buf[4096];
  size_t n = strlen (path);

  if (n >= sizeof (buf))
    return moat_error (err, code, ENAMETOOLONG, "%s", path);
  memcpy (buf, path, n + 1);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/')
      {
        *p = '\0';
        if (mkdir (buf, 0700) < 0 && errno != EEXIST)
          return moat_error (err, code, errno, "cannot create \"%s\"", buf);
        *p = '/';
      }
  if (mkdir (buf, 0700) < 0 && errno != EEXIST)
    return moat_error (err, code, errno, "cannot create \"%s\"", buf);
  return 0;
}

/* Where make install puts moat-hook, from PREFIX. */
#define HOOK_UNDER_PREFIX "/libexec/moat/moat-hook"

/* PREFIX/libexec/moat/moat-hook for exe in PREFIX/bin, if executable. */
static int
hook_near (const char *exe, char **ret_path, moat_err_t *err)
{
  _cleanup_free_ char *prefix = realpath (exe, NULL);
  _cleanup_free_ char *path = NULL;
  char *slash, *p;
  struct stat st;

  *ret_path = NULL;
  for (int up = 0; up < 2; up++)
    {
      slash = prefix ? strrchr (prefix, '/') : NULL;
      if (!slash)
        return 0;
      *slash = '\0';
    }
  if (asprintf (&p, "%s" HOOK_UNDER_PREFIX, prefix) < 0)
    return moat_error (err, MOAT_E_IO, ENOMEM, "hook path");
  path = p;
  if (stat (path, &st) == 0 && S_ISREG (st.st_mode) && access (path, X_OK) == 0)
    *ret_path = TAKE_PTR (path);
  return 0;
}

int
moat_hook_installed_with (const char *exe, char **ret_path, moat_err_t *err)
{
  if (hook_near (exe, ret_path, err) < 0)
    return -1;
  if (!*ret_path && !(*ret_path = strdup (MOAT_HOOK_PATH)))
    return moat_error (err, MOAT_E_IO, ENOMEM, "hook path");
  return 0;
}

int
moat_file_remove_state (const char *path, int code, moat_err_t *err)
{
  char tmp[4096];

  if (snprintf (tmp, sizeof (tmp), "%s.tmp", path) >= (int)sizeof (tmp))
    return moat_error (err, code, ENAMETOOLONG, "\"%s\"", path);
  if (unlink (path) < 0 && errno != ENOENT)
    return moat_error (err, code, errno, "unlink \"%s\"", path);
  if (unlink (tmp) < 0 && errno != ENOENT)
    return moat_error (err, code, errno, "unlink \"%s\"", tmp);
  return 0;
}
