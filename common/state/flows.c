/* SPDX-License-Identifier: Apache-2.0 */
/* Addresses whose flows are still to be forgotten (see flows.h). */
#include "state/flows.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "state/rundir.h"

#define FLOWS_DIR ".flows"
#define FLOWS_LOCK ".flows.lock"

static int
flows_path (char *buf, size_t size, const char *leaf)
{
  return moat_state_path (buf, size, FLOWS_DIR, leaf);
}

static int
flows_lock (int operation, int *ret_fd, moat_err_t *err)
{
  char path[4096];
  _cleanup_close_ int fd = -1;

  if (moat_state_path (path, sizeof (path), FLOWS_LOCK, NULL) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "%s", moat_run_dir ());
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return moat_error (err, MOAT_E_STATE, errno, "open \"%s\"", path);
  if (flock (fd, operation) < 0)
    return moat_error (err, MOAT_E_STATE, errno, "lock \"%s\"", path);
  *ret_fd = TAKE_FD (fd);
  return 0;
}

int
moat_flows_pending_add (struct in_addr addr, moat_err_t *err)
{
  char dir[4096], path[4096], leaf[INET_ADDRSTRLEN];
  _cleanup_close_ int lock = -1;
  _cleanup_close_ int fd = -1;

  inet_ntop (AF_INET, &addr, leaf, sizeof (leaf));
  if (flows_path (dir, sizeof (dir), NULL) < 0 || flows_path (path, sizeof (path), leaf) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "flows of address %s", leaf);
  if (moat_mkdir_p (dir, MOAT_E_STATE, err) < 0 || flows_lock (LOCK_SH, &lock, err) < 0)
    return -1;
  fd = open (path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return moat_error (err, MOAT_E_STATE, errno, "create \"%s\"", path);
  return 0;
}

int
moat_flows_pending_has (struct in_addr addr, moat_err_t *err)
{
  char path[4096], leaf[INET_ADDRSTRLEN];

  inet_ntop (AF_INET, &addr, leaf, sizeof (leaf));
  if (flows_path (path, sizeof (path), leaf) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "flows of address %s", leaf);
  if (access (path, F_OK) == 0)
    return 1;
  if (errno == ENOENT)
    return 0;
  return moat_error (err, MOAT_E_STATE, errno, "access \"%s\"", path);
}

static int
pending_push (struct moat_flows_pending *p, size_t *cap, const char *name, struct in_addr a)
{
  if (p->n == *cap)
    {
      size_t c = *cap ? *cap * 2 : 8;
      char **names = realloc (p->names, c * sizeof (*names));
      struct in_addr *addrs;

      if (!names)
        return -1;
      p->names = names;
      addrs = realloc (p->addrs, c * sizeof (*addrs));
      if (!addrs)
        return -1;
      p->addrs = addrs;
      *cap = c;
    }
  p->names[p->n] = strdup (name);
  if (!p->names[p->n])
    return -1;
  p->addrs[p->n++] = a;
  return 0;
}

int
moat_flows_pending_take (struct moat_flows_pending *ret, int *ret_lock, moat_err_t *err)
{
  char dir[4096];
  _cleanup_ (closedirp) DIR *d = NULL;
  struct moat_flows_pending p = { 0 };
  size_t cap = 0;
  struct dirent *de;

  *ret = p;
  if (flows_path (dir, sizeof (dir), NULL) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "flows directory");
  if (flows_lock (LOCK_EX, ret_lock, err) < 0)
    return -1;
  d = opendir (dir);
  if (!d)
    return errno == ENOENT ? 0 : moat_error (err, MOAT_E_STATE, errno, "opendir \"%s\"", dir);
  while ((de = readdir (d)))
    {
      struct in_addr a;

      if (de->d_name[0] == '.' || inet_pton (AF_INET, de->d_name, &a) != 1)
        continue;
      if (pending_push (&p, &cap, de->d_name, a) < 0)
        {
          moat_flows_pending_free (&p);
          return moat_error (err, MOAT_E_STATE, ENOMEM, "flows directory");
        }
    }
  *ret = p;
  return 0;
}

int
moat_flows_pending_clear (const struct moat_flows_pending *p, moat_err_t *err)
{
  char path[4096];

  for (size_t i = 0; i < p->n; i++)
    {
      if (flows_path (path, sizeof (path), p->names[i]) < 0)
        return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "flows of \"%s\"", p->names[i]);
      if (unlink (path) < 0 && errno != ENOENT)
        return moat_error (err, MOAT_E_STATE, errno, "unlink \"%s\"", path);
    }
  return 0;
}

void
moat_flows_pending_free (struct moat_flows_pending *p)
{
  for (size_t i = 0; i < p->n; i++)
    free (p->names[i]);
  free (p->names);
  free (p->addrs);
  *p = (struct moat_flows_pending){ 0 };
}

static int
hint_paths (const char *network, char *saved, char *ipam_dir, char *last, size_t size)
{
  char leaf[512];

  if ((size_t)snprintf (leaf, sizeof (leaf), "%s.last", network) >= sizeof (leaf)
      || flows_path (saved, size, leaf) < 0 || moat_state_path (ipam_dir, size, network, "ipam") < 0
      || moat_state_path (last, size, network, "ipam/last") < 0)
    return -1;
  return 0;
}

int
moat_flows_hint_save (const char *network, moat_err_t *err)
{
  char saved[4096], ipam_dir[4096], last[4096], dir[4096];

  if (hint_paths (network, saved, ipam_dir, last, sizeof (saved)) < 0
      || flows_path (dir, sizeof (dir), NULL) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "allocator of \"%s\"", network);
  if (access (last, F_OK) < 0)
    return 0;
  if (moat_mkdir_p (dir, MOAT_E_STATE, err) < 0)
    return -1;
  if (rename (last, saved) < 0 && errno != ENOENT)
    return moat_error (err, MOAT_E_STATE, errno, "rename \"%s\"", last);
  return 0;
}

int
moat_flows_hint_restore (const char *network, moat_err_t *err)
{
  char saved[4096], ipam_dir[4096], last[4096];

  if (hint_paths (network, saved, ipam_dir, last, sizeof (saved)) < 0)
    return moat_error (err, MOAT_E_STATE, ENAMETOOLONG, "allocator of \"%s\"", network);
  if (access (saved, F_OK) < 0)
    return 0;
  if (moat_mkdir_p (ipam_dir, MOAT_E_STATE, err) < 0)
    return -1;
  /* The directory's own place, when it has one, wins. */
  if (access (last, F_OK) == 0)
    return unlink (saved) < 0 && errno != ENOENT
               ? moat_error (err, MOAT_E_STATE, errno, "unlink \"%s\"", saved)
               : 0;
  if (rename (saved, last) < 0 && errno != ENOENT)
    return moat_error (err, MOAT_E_STATE, errno, "rename \"%s\"", saved);
  return 0;
}
