/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MOAT_FILE_H
#define MOAT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Files: write one whole (atomically), read one whole, make a directory
 * path. The errno-level calls leave the message to the caller, which
 * names the file as its users know it. */

/* Writes all of data to fd: again after EINTR and after a short write.
 * 0, or -1 with errno. */
int moat_write_all (int fd, const void *data, size_t len);

/* moat_file_write_at: an existing `name` stays, the call fails (EEXIST). */
#define MOAT_FILE_NOREPLACE 1

/* The step of moat_file_write_at that failed. */
enum moat_file_step
{
  MOAT_FILE_CREATE = 1, /* the temporary file */
  MOAT_FILE_WRITE,      /* its content (or its close) */
  MOAT_FILE_RENAME,     /* its rename to `name` */
};

/* Puts data into `name`, in the directory dirfd (or AT_FDCWD), as one
 * change: into the temporary file `tmp` there first (mode 0600, created or
 * truncated, never through a symbolic link), then renamed to `name`; with
 * MOAT_FILE_NOREPLACE, renameat2 RENAME_NOREPLACE. A reader sees the old
 * content or the new one, never part of it. No fsync: no caller needs a
 * write to outlive the machine (state lives under /run). On failure `tmp`
 * is removed; returns -1 with errno, and the step in *ret_step when not
 * NULL. `tmp` must be the caller's own name (a sweep of temporary files
 * relies on its shape). */
int moat_file_write_at (int dirfd, const char *tmp, const char *name, const void *data, size_t len,
                        int flags, enum moat_file_step *ret_step);

/* The same for a temporary file the caller opened (mkostemp, and with the
 * mode of its choice): writes data to fd, closes it (also on failure) and
 * renames `tmp` to `name`. */
int moat_file_commit_at (int dirfd, int fd, const char *tmp, const char *name, const void *data,
                         size_t len, int flags, enum moat_file_step *ret_step);

/* Reads fd to its end into a malloc'd, NUL-terminated buffer (*ret_len
 * bytes before the NUL), again after EINTR. More than `max` bytes fails
 * with EFBIG; MOAT_READ_NO_MAX for no limit. 0, or -1 with errno
 * (*ret_text untouched). */
#define MOAT_READ_NO_MAX (SIZE_MAX / 2)
int moat_read_fd (int fd, size_t max, char **ret_text, size_t *ret_len);

/* moat_read_fd on `path`, opened read-only (O_CLOEXEC, O_NOCTTY). */
int moat_read_file (const char *path, size_t max, char **ret_text, size_t *ret_len);

/* moat_read_fd on stdin, as the binaries read their input; `max` is a
 * whole number of MiB. Errors are MOAT_E_IO: "stdin: <what> larger than
 * N MiB", or "stdin: <strerror>". */
int moat_read_stdin (const char *what, size_t max, char **ret_text, size_t *ret_len,
                     moat_err_t *err);

/* Removes the state file at `path` and the "<path>.tmp" a write killed
 * before its rename may have left; either may be missing. Errors carry
 * `code` and name the file. */
int moat_file_remove_state (const char *path, int code, moat_err_t *err);

/* mkdir -p with mode 0700; errors carry `code` and name the directory. */
int moat_mkdir_p (const char *path, int code, moat_err_t *err);

/* The moat-hook installed with the binary at `exe` (its own path,
 * "/proc/self/exe"; symlinks resolved): PREFIX/libexec/moat/moat-hook for
 * exe in PREFIX/bin, when that is an executable regular file; else
 * MOAT_HOOK_PATH, the path of the build's LIBEXECDIR. So `make install
 * PREFIX=...` after a plain `make` gives binaries that find the hook
 * installed next to them (moat-runtime, moatctl run). *ret_path is
 * malloc'd. */
int moat_hook_installed_with (const char *exe, char **ret_path, moat_err_t *err);

#endif
