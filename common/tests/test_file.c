/* SPDX-License-Identifier: Apache-2.0 */
/* base/file: the atomic write, the reader with a cap, mkdir -p. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/file.h"

static char dir[] = "/tmp/moat-test-file-XXXXXX";

/* write(2) as file.c sees it: this definition comes before libc's. It
 * can fail once with EINTR, write at most `write_chunk` bytes a call, or
 * fail with `write_errno`. */
static size_t write_chunk;
static int write_eintr, write_errno;

ssize_t
write (int fd, const void *buf, size_t len)
{
  if (write_eintr)
    {
      write_eintr = 0;
      errno = EINTR;
      return -1;
    }
  if (write_errno)
    {
      errno = write_errno;
      return -1;
    }
  if (write_chunk && len > write_chunk)
    len = write_chunk;
  return syscall (SYS_write, fd, buf, len);
}

static int
setup (void **state)
{
  return mkdtemp (dir) ? 0 : -1;
}

static int
teardown (void **state)
{
  char cmd[256];

  snprintf (cmd, sizeof (cmd), "rm -rf '%s'", dir);
  return system (cmd);
}

static void
reset_write (void)
{
  write_chunk = 0;
  write_eintr = write_errno = 0;
}

static void
path_of (char *buf, size_t size, const char *name)
{
  snprintf (buf, size, "%s/%s", dir, name);
}

static void
put (const char *name, const char *text)
{
  char path[256];
  FILE *f;

  path_of (path, sizeof (path), name);
  f = fopen (path, "w");
  assert_non_null (f);
  fputs (text, f);
  assert_int_equal (fclose (f), 0);
}

static char *
get (const char *name)
{
  char path[256], *text = NULL;
  size_t len;

  path_of (path, sizeof (path), name);
  assert_int_equal (moat_read_file (path, 1 << 20, &text, &len), 0);
  assert_int_equal (strlen (text), len);
  return text;
}

static bool
exists (const char *name)
{
  char path[256];

  path_of (path, sizeof (path), name);
  return access (path, F_OK) == 0;
}

static int
open_dir (void)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  assert_true (fd >= 0);
  return fd;
}

/* The new content replaces the old; the temporary file is gone, the
 * result has mode 0600. */
static void
test_write_replaces (void **state)
{
  int dfd = open_dir ();
  char *text, path[256];
  struct stat st;

  reset_write ();
  put ("a", "old content");
  assert_int_equal (moat_file_write_at (dfd, ".a.tmp", "a", "new", 3, 0, NULL), 0);
  text = get ("a");
  assert_string_equal (text, "new");
  free (text);
  assert_false (exists (".a.tmp"));
  path_of (path, sizeof (path), "a");
  assert_int_equal (stat (path, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0600);
  close (dfd);
}

/* MOAT_FILE_NOREPLACE: an existing file stays, EEXIST, nothing left. */
static void
test_write_noreplace (void **state)
{
  enum moat_file_step step = 0;
  int dfd = open_dir ();
  char *text;

  reset_write ();
  put ("b", "first");
  assert_int_equal (
      moat_file_write_at (dfd, ".b.tmp", "b", "second", 6, MOAT_FILE_NOREPLACE, &step), -1);
  assert_int_equal (errno, EEXIST);
  assert_int_equal (step, MOAT_FILE_RENAME);
  text = get ("b");
  assert_string_equal (text, "first");
  free (text);
  assert_false (exists (".b.tmp"));
  /* A name that does not exist yet is created. */
  assert_int_equal (moat_file_write_at (dfd, ".c.tmp", "c", "made", 4, MOAT_FILE_NOREPLACE, NULL),
                    0);
  text = get ("c");
  assert_string_equal (text, "made");
  free (text);
  close (dfd);
}

/* EINTR and short writes: the whole content arrives all the same. */
static void
test_write_short (void **state)
{
  char data[10000], *text;

  for (size_t i = 0; i < sizeof (data) - 1; i++)
    data[i] = (char)('a' + i % 26);
  data[sizeof (data) - 1] = '\0';
  reset_write ();
  write_eintr = 1;
  write_chunk = 7;
  assert_int_equal (chdir (dir), 0);
  assert_int_equal (moat_file_write_at (AT_FDCWD, "d.tmp", "d", data, strlen (data), 0, NULL), 0);
  reset_write ();
  text = get ("d");
  assert_string_equal (text, data);
  free (text);
}

/* A failed write leaves the old file as it was and no temporary file. */
static void
test_write_fails (void **state)
{
  enum moat_file_step step = 0;
  int dfd = open_dir ();
  char *text;

  put ("e", "kept");
  reset_write ();
  write_errno = EIO;
  assert_int_equal (moat_file_write_at (dfd, ".e.tmp", "e", "lost", 4, 0, &step), -1);
  reset_write ();
  assert_int_equal (errno, EIO);
  assert_int_equal (step, MOAT_FILE_WRITE);
  text = get ("e");
  assert_string_equal (text, "kept");
  free (text);
  assert_false (exists (".e.tmp"));
  /* The temporary name is never followed as a symbolic link. */
  assert_int_equal (symlinkat ("e", dfd, ".f.tmp"), 0);
  assert_int_equal (moat_file_write_at (dfd, ".f.tmp", "f", "x", 1, 0, &step), -1);
  assert_int_equal (errno, ELOOP);
  assert_int_equal (step, MOAT_FILE_CREATE);
  close (dfd);
}

/* The cap: max bytes are read, one more is EFBIG. */
static void
test_read_cap (void **state)
{
  char path[256], *text = NULL, big[9000];
  size_t len = 0;

  memset (big, 'x', sizeof (big) - 1);
  big[sizeof (big) - 1] = '\0';
  put ("g", big);
  path_of (path, sizeof (path), "g");
  assert_int_equal (moat_read_file (path, sizeof (big) - 1, &text, &len), 0);
  assert_int_equal (len, sizeof (big) - 1);
  assert_int_equal (text[len], '\0');
  free (text);
  text = NULL;
  assert_int_equal (moat_read_file (path, sizeof (big) - 2, &text, &len), -1);
  assert_int_equal (errno, EFBIG);
  assert_null (text);
  /* Small caps, and a cap of 0. */
  assert_int_equal (moat_read_file (path, 3, &text, &len), -1);
  assert_int_equal (errno, EFBIG);
  put ("h", "");
  path_of (path, sizeof (path), "h");
  assert_int_equal (moat_read_file (path, 0, &text, &len), 0);
  assert_int_equal (len, 0);
  assert_string_equal (text, "");
  free (text);
  path_of (path, sizeof (path), "missing");
  assert_int_equal (moat_read_file (path, 10, &text, &len), -1);
  assert_int_equal (errno, ENOENT);
}

/* stdin, as the binaries read it: the messages they print. */
static void
test_read_stdin (void **state)
{
  char path[256], *text = NULL;
  size_t len = 0;
  moat_err_t err = { 0 };
  int saved = dup (STDIN_FILENO), fd;
  FILE *f;

  path_of (path, sizeof (path), "in");
  f = fopen (path, "w");
  assert_non_null (f);
  for (int i = 0; i < (1 << 20) + 1; i++)
    fputc ('{', f);
  assert_int_equal (fclose (f), 0);
  fd = open (path, O_RDONLY);
  assert_int_equal (dup2 (fd, STDIN_FILENO), STDIN_FILENO);
  assert_int_equal (moat_read_stdin ("state", 1 << 20, &text, &len, &err), -1);
  assert_int_equal (err.code, MOAT_E_IO);
  assert_string_equal (err.msg, "stdin: state larger than 1 MiB");
  assert_int_equal (lseek (fd, 1, SEEK_SET), 1);
  assert_int_equal (moat_read_stdin ("state", 1 << 20, &text, &len, &err), 0);
  assert_int_equal (len, 1 << 20);
  free (text);
  close (fd);
  assert_int_equal (dup2 (saved, STDIN_FILENO), STDIN_FILENO);
  close (saved);
}

static void
test_mkdir_p (void **state)
{
  moat_err_t err = { 0 };
  char path[256], want[300];
  struct stat st;

  path_of (path, sizeof (path), "x/y/z");
  assert_int_equal (moat_mkdir_p (path, MOAT_E_STATE, &err), 0);
  assert_int_equal (stat (path, &st), 0);
  assert_true (S_ISDIR (st.st_mode));
  assert_int_equal (st.st_mode & 07777, 0700);
  assert_int_equal (moat_mkdir_p (path, MOAT_E_STATE, &err), 0);
  put ("file", "");
  path_of (path, sizeof (path), "file/sub");
  assert_int_equal (moat_mkdir_p (path, MOAT_E_IPAM, &err), -1);
  assert_int_equal (err.code, MOAT_E_IPAM);
  snprintf (want, sizeof (want), "cannot create \"%s\": %s", path, strerror (ENOTDIR));
  assert_string_equal (err.msg, want);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_write_replaces), cmocka_unit_test (test_write_noreplace),
    cmocka_unit_test (test_write_short),    cmocka_unit_test (test_write_fails),
    cmocka_unit_test (test_read_cap),       cmocka_unit_test (test_read_stdin),
    cmocka_unit_test (test_mkdir_p),
  };

  return cmocka_run_group_tests (tests, setup, teardown);
}
