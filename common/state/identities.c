/* SPDX-License-Identifier: Apache-2.0 */
/* The identity registry on disk (see identities.h). */
#include "state/identities.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "state/names.h"
#include "state/state.h"

#define IDENTS_DIR "idents"

/* --- files ---------------------------------------------------------------- */

static int
idents_path (char *buf, size_t size, const char *network, const char *leaf)
{
  char rel[512];

  if ((size_t)snprintf (rel, sizeof (rel), "%s%s%s", IDENTS_DIR, leaf ? "/" : "", leaf ? leaf : "")
      >= sizeof (rel))
    return -1;
  return moat_state_path (buf, size, network, rel);
}

static int
state_error (moat_err_t *err, int errnum, const char *what, const char *path)
{
  return moat_error (err, MOAT_E_STATE, errnum, "%s \"%s\"", what, path);
}

static char *
read_text (const char *path)
{
  char *text = NULL;
  size_t len;

  return moat_read_file (path, MOAT_READ_NO_MAX, &text, &len) < 0 ? NULL : text;
}

static int
write_file (const char *path, const char *text, moat_err_t *err)
{
  char tmp[4096];
  enum moat_file_step step;

  if ((size_t)snprintf (tmp, sizeof (tmp), "%s.tmp", path) >= sizeof (tmp))
    return state_error (err, ENAMETOOLONG, "identity", path);
  if (moat_file_write_at (AT_FDCWD, tmp, path, text, strlen (text), 0, &step) < 0)
    return state_error (err, errno, step == MOAT_FILE_CREATE ? "open" : "write",
                        step == MOAT_FILE_CREATE ? tmp : path);
  return 0;
}

static bool
has_suffix (const char *s, const char *suffix)
{
  size_t n = strlen (s), m = strlen (suffix);

  return n > m && strcmp (s + n - m, suffix) == 0;
}

/* --- owners ---------------------------------------------------------------- */

/* The kernel's id_<name> objects are one namespace for every network of
 * the host, while each network keeps its identities in its own directory.
 * So a name is claimed for one network before it is used: <run
 * dir>/.idents/<name> holds the owner's network name, made with
 * RENAME_NOREPLACE, so of two networks racing for a name one gets it and
 * the other moves on to the next name. Two networks never share an
 * identity's chain and set, even with equal labels (the network is part of
 * the hash, and the claim catches what the hash cannot rule out). */
#define OWNERS_DIR ".idents"

static int
owner_path (char *buf, size_t size, const char *name, const char *suffix)
{
  int n = snprintf (buf, size, "%s/%s/%s%s", moat_run_dir (), OWNERS_DIR, name, suffix);

  return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Makes `path` hold `text` unless it exists: 1 made, 0 it existed. */
static int
create_file (const char *path, const char *text, moat_err_t *err)
{
  char tmp[4096];
  enum moat_file_step step;

  if ((size_t)snprintf (tmp, sizeof (tmp), "%s.%d.tmp", path, (int)getpid ()) >= sizeof (tmp))
    return state_error (err, ENAMETOOLONG, "create", path);
  if (moat_file_write_at (AT_FDCWD, tmp, path, text, strlen (text), MOAT_FILE_NOREPLACE, &step)
      == 0)
    return 1;
  if (step == MOAT_FILE_RENAME && errno == EEXIST)
    return 0;
  return state_error (err, errno, step == MOAT_FILE_CREATE ? "open" : "write",
                      step == MOAT_FILE_CREATE ? tmp : path);
}

/* 1 when the name is the network's (claimed now or before), 0 when
 * another network owns it. */
static int
ident_claim (const char *network, const char *name, moat_err_t *err)
{
  char dir[4096], path[4096];

  if (owner_path (path, sizeof (path), name, "") < 0 || owner_path (dir, sizeof (dir), "", "") < 0)
    return state_error (err, ENAMETOOLONG, "identity owner", name);
  if (moat_mkdir_p (dir, MOAT_E_STATE, err) < 0)
    return -1;
  for (int tries = 0; tries < 2; tries++)
    {
      _cleanup_free_ char *owner = NULL;
      int r;

      errno = 0;
      owner = read_text (path);
      if (owner)
        return strcmp (owner, network) == 0;
      if (errno != ENOENT)
        return state_error (err, errno, "read", path);
      r = create_file (path, network, err);
      if (r != 0)
        return r;
    }
  return state_error (err, EEXIST, "identity owner", path);
}

/* Gives up the network's claims once its identities' kernel objects are
 * gone (moat_policy_network_remove, or the tables' teardown). */
int
moat_ident_owners_release (const char *network, moat_err_t *err)
{
  char dir[4096];
  _cleanup_ (closedirp) DIR *d = NULL;
  struct dirent *de;

  if (owner_path (dir, sizeof (dir), "", "") < 0)
    return state_error (err, ENAMETOOLONG, "identity owners", moat_run_dir ());
  d = opendir (dir);
  if (!d)
    return errno == ENOENT ? 0 : state_error (err, errno, "opendir", dir);
  while ((de = readdir (d)))
    {
      char path[4096];
      _cleanup_free_ char *owner = NULL;

      if (de->d_name[0] == '.' || has_suffix (de->d_name, ".tmp"))
        continue;
      if (owner_path (path, sizeof (path), de->d_name, "") < 0)
        return state_error (err, ENAMETOOLONG, "identity owner", de->d_name);
      owner = read_text (path);
      if (owner && strcmp (owner, network) == 0 && unlink (path) < 0 && errno != ENOENT)
        return state_error (err, errno, "unlink", path);
    }
  return 0;
}

/* --- identities and members ------------------------------------------------ */

/* The identity's name (names.h), with "_N" after it when the network has
 * another identity of that name or another network owns it. Creates
 * <name>.json and <name>/ when new. */
int
moat_ident_ensure (const char *network, const char *text, char name[MOAT_NFT_IDENT_MAX + 1],
                   moat_err_t *err)
{
  char dir[4096], path[4096], leaf[MOAT_NFT_IDENT_MAX + 8];
  struct moat_names_key k;

  if (idents_path (dir, sizeof (dir), network, NULL) < 0)
    return state_error (err, ENAMETOOLONG, "identities", network);
  if (moat_mkdir_p (dir, MOAT_E_STATE, err) < 0 || moat_names_key_get (true, &k, err) < 0)
    return -1;
  for (int probe = 0; probe < 16; probe++)
    {
      _cleanup_free_ char *old = NULL;
      int ours;

      moat_ident_name (&k, network, text, probe, name);
      snprintf (leaf, sizeof (leaf), "%s.json", name);
      if (idents_path (path, sizeof (path), network, leaf) < 0)
        return state_error (err, ENAMETOOLONG, "identity", name);
      old = read_text (path);
      if (old && strcmp (old, text) != 0)
        continue;
      ours = ident_claim (network, name, err);
      if (ours < 0)
        return -1;
      if (!ours)
        continue;
      if (!old && write_file (path, text, err) < 0)
        return -1;
      if (idents_path (path, sizeof (path), network, name) < 0)
        return state_error (err, ENAMETOOLONG, "identity", name);
      if (mkdir (path, 0700) < 0 && errno != EEXIST)
        return state_error (err, errno, "mkdir", path);
      return 0;
    }
  return moat_error (err, MOAT_E_STATE, 0, "identity: too many hash collisions");
}

/* A member's file is named by its address, "<IPv4>,<IPv6>" for a
 * dual-stack container: a directory listing gives the policy compiler
 * both (the IPv6 twins of its elements, docs/design.md "IPv6"). */
static int
member_path (char *buf, size_t size, const struct moat_record *rec, const char *ident)
{
  char leaf[160], a[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN] = "";

  inet_ntop (AF_INET, &rec->addr, a, sizeof (a));
  if (rec->have_addr6)
    inet_ntop (AF_INET6, &rec->addr6, a6, sizeof (a6));
  if ((size_t)snprintf (leaf, sizeof (leaf), "%s/%s%s%s", ident, a, a6[0] ? "," : "", a6)
      >= sizeof (leaf))
    return -1;
  return idents_path (buf, size, rec->network, leaf);
}

int
moat_ident_member_add (const struct moat_record *rec, moat_err_t *err)
{
  char path[4096];
  _cleanup_close_ int fd = -1;

  if (member_path (path, sizeof (path), rec, rec->ident) < 0)
    return state_error (err, ENAMETOOLONG, "identity member", rec->ident);
  fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return state_error (err, errno, "create", path);
  return 0;
}

/* An identity outlives its last member (until its network goes): taking
 * its chain away would make the kernel wait out an RCU grace period at the
 * next container start, and it costs nothing while no address jumps to
 * it. */
int
moat_ident_member_remove (const struct moat_record *rec, moat_err_t *err)
{
  char path[4096];

  if (member_path (path, sizeof (path), rec, rec->ident) < 0)
    return state_error (err, ENAMETOOLONG, "identity member", rec->ident);
  if (unlink (path) < 0 && errno != ENOENT)
    return state_error (err, errno, "unlink", path);
  return 0;
}

/* Does the identity have a member other than `self`? Asked before `self`
 * joins: an rmdir of the member directory answers in one call however many
 * members it has (an empty one is made again). */
int
moat_ident_has_other_member (const struct moat_record *rec, const char *ident, moat_err_t *err)
{
  char dir[4096], path[4096];

  if (idents_path (dir, sizeof (dir), rec->network, ident) < 0
      || member_path (path, sizeof (path), rec, ident) < 0)
    return state_error (err, ENAMETOOLONG, "identity", ident);
  if (unlink (path) < 0 && errno != ENOENT)
    return state_error (err, errno, "unlink", path);
  if (rmdir (dir) == 0)
    {
      if (mkdir (dir, 0700) < 0)
        return state_error (err, errno, "mkdir", dir);
      return 0;
    }
  if (errno == ENOTEMPTY || errno == EEXIST)
    return 1;
  return state_error (err, errno, "rmdir", dir);
}

void
moat_ident_list_free (struct moat_ident_list *l)
{
  for (size_t i = 0; i < l->n; i++)
    {
      moat_policy_free (&l->policies[i]);
      free (l->addrs[i]);
    }
  free (l->policies);
  free (l->names);
  free (l->addrs);
  free (l->groups);
  free (l->pairs);
  memset (l, 0, sizeof (*l));
}

#define GROW(ptr, cap) realloc ((ptr), (cap) * sizeof (*(ptr)))

static int
ident_list_grow (struct moat_ident_list *l)
{
  size_t cap = l->cap ? l->cap * 2 : 8;
  void *p;

  if (!(p = GROW (l->policies, cap)))
    return -1;
  l->policies = p;
  if (!(p = GROW (l->names, cap)))
    return -1;
  l->names = p;
  if (!(p = GROW (l->addrs, cap)))
    return -1;
  l->addrs = p;
  if (!(p = GROW (l->groups, cap)))
    return -1;
  l->groups = p;
  l->cap = cap;
  return 0;
}

/* A member file's name: its IPv4 address, and its IPv6 one after a comma
 * (noted in l's pairs). 0: not a member file. */
static int
parse_member (const char *name, struct in_addr *addr, struct moat_ident_list *l)
{
  char a[INET_ADDRSTRLEN];
  const char *comma = strchr (name, ',');
  size_t len = comma ? (size_t)(comma - name) : strlen (name);
  struct moat_addr6_pair pair;

  if (len >= sizeof (a))
    return 0;
  memcpy (a, name, len);
  a[len] = '\0';
  if (inet_pton (AF_INET, a, addr) != 1)
    return 0;
  if (!comma || inet_pton (AF_INET6, comma + 1, &pair.addr6) != 1)
    return 1;
  pair.addr = *addr;
  if (l->npairs == l->cap_pairs)
    {
      size_t cap = l->cap_pairs ? l->cap_pairs * 2 : 16;
      struct moat_addr6_pair *v = GROW (l->pairs, cap);

      if (!v)
        return -1;
      l->pairs = v;
      l->cap_pairs = cap;
    }
  l->pairs[l->npairs++] = pair;
  return 1;
}

static int
read_members (const char *dir, struct moat_ident_list *l, struct in_addr **ret, size_t *ret_n,
              moat_err_t *err)
{
  _cleanup_ (closedirp) DIR *d = opendir (dir);
  size_t n = 0, cap = 0;
  struct in_addr *v = NULL;
  struct dirent *de;

  *ret = NULL;
  *ret_n = 0;
  if (!d)
    return errno == ENOENT ? 0 : state_error (err, errno, "opendir", dir);
  while ((de = readdir (d)))
    {
      struct in_addr addr;
      int r = parse_member (de->d_name, &addr, l);

      if (r < 0)
        {
          free (v);
          return moat_error_nomem (err, "policy");
        }
      if (r == 0)
        continue;
      if (n == cap)
        {
          struct in_addr *nv = GROW (v, cap = cap ? cap * 2 : 16);

          if (!nv)
            {
              free (v);
              return moat_error_nomem (err, "policy");
            }
          v = nv;
        }
      v[n++] = addr;
    }
  *ret = v;
  *ret_n = n;
  return 0;
}

static int
load_group (const char *network, const char *json_name, bool members, struct moat_ident_list *l,
            moat_err_t *err)
{
  char path[4096];
  size_t len = strlen (json_name) - strlen (".json");
  _cleanup_ (json_decrefp) json_t *j = NULL;
  json_error_t jerr;
  size_t i = l->n;

  if (len > MOAT_NFT_IDENT_MAX)
    return 0;
  if (l->n == l->cap && ident_list_grow (l) < 0)
    return moat_error_nomem (err, "policy");
  memcpy (l->names[i], json_name, len);
  l->names[i][len] = '\0';
  if (idents_path (path, sizeof (path), network, json_name) < 0)
    return state_error (err, ENAMETOOLONG, "identity", json_name);
  j = json_load_file (path, 0, &jerr);
  if (!j)
    return moat_error (err, MOAT_E_STATE, 0, "identity \"%s\": %s", path, jerr.text);
  if (moat_policy_from_ident_json (j, &l->policies[i], err) < 0)
    return moat_error_prefix (err, "\"%s\"", path);
  l->addrs[i] = NULL;
  l->groups[i] = (struct moat_peer_group){ .ident = l->names[i] };
  l->n++;
  if (!members)
    return 0;
  if (idents_path (path, sizeof (path), network, l->names[i]) < 0)
    return state_error (err, ENAMETOOLONG, "identity", l->names[i]);
  if (read_members (path, l, &l->addrs[i], &l->groups[i].n, err) < 0)
    return -1;
  l->groups[i].addrs = l->addrs[i];
  return 0;
}

int
moat_ident_list_load (const char *network, bool members, struct moat_ident_list *l, moat_err_t *err)
{
  char dir[4096];
  _cleanup_ (closedirp) DIR *d = NULL;
  struct dirent *de;

  if (idents_path (dir, sizeof (dir), network, NULL) < 0)
    return state_error (err, ENAMETOOLONG, "identities", network);
  d = opendir (dir);
  if (!d)
    return errno == ENOENT ? 0 : state_error (err, errno, "opendir", dir);
  while ((de = readdir (d)))
    if (has_suffix (de->d_name, ".json") && load_group (network, de->d_name, members, l, err) < 0)
      return -1;
  /* The arrays may have moved while growing. */
  for (size_t i = 0; i < l->n; i++)
    {
      l->groups[i].ident = l->names[i];
      l->groups[i].policy = &l->policies[i];
    }
  return 0;
}

int
moat_ident_list_addr6 (const struct moat_ident_list *l, struct in_addr addr, struct in6_addr *ret)
{
  for (size_t i = 0; i < l->npairs; i++)
    if (l->pairs[i].addr.s_addr == addr.s_addr)
      {
        *ret = l->pairs[i].addr6;
        return 1;
      }
  return 0;
}
