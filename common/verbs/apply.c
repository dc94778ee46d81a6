/* SPDX-License-Identifier: Apache-2.0 */
/* Applying a container's policy: its identity on disk and its elements in
 * the kernel (see apply.h). */
#include "verbs/apply.h"

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
#include "state/names.h"

#define IDENTS_DIR "idents"

static int
no_memory (moat_err_t *err)
{
  return moat_error (err, MOAT_E_IO, ENOMEM, "policy");
}

/* --- identities ---------------------------------------------------------- */

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
  _cleanup_fclose_ FILE *f = fopen (path, "re");
  char *buf = NULL;
  size_t len = 0;

  if (!f)
    return NULL;
  if (getdelim (&buf, &len, '\0', f) < 0)
    {
      free (buf);
      return NULL;
    }
  return buf;
}

static int
write_file (const char *path, const char *text, moat_err_t *err)
{
  char tmp[4096];
  _cleanup_close_ int fd = -1;
  size_t len = strlen (text);

  if ((size_t)snprintf (tmp, sizeof (tmp), "%s.tmp", path) >= sizeof (tmp))
    return state_error (err, ENAMETOOLONG, "identity", path);
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return state_error (err, errno, "open", tmp);
  if (write (fd, text, len) != (ssize_t)len || rename (tmp, path) < 0)
    {
      int saved = errno;

      unlink (tmp);
      return state_error (err, saved, "write", path);
    }
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
  _cleanup_close_ int fd = -1;
  size_t len = strlen (text);

  if ((size_t)snprintf (tmp, sizeof (tmp), "%s.%d.tmp", path, (int)getpid ()) >= sizeof (tmp))
    return state_error (err, ENAMETOOLONG, "create", path);
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return state_error (err, errno, "open", tmp);
  if (write (fd, text, len) != (ssize_t)len
      || (renameat2 (AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0 && errno != EEXIST))
    {
      int saved = errno;

      unlink (tmp);
      return state_error (err, saved, "write", path);
    }
  /* Still there when the name existed. */
  return unlink (tmp) < 0 ? 1 : 0;
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
moat_policy_owners_release (const char *network, moat_err_t *err)
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

/* --- identities (continued) ----------------------------------------------- */

/* The identity's name (names.h), with "_N" after it when the network has
 * another identity of that name or another network owns it. Creates
 * <name>.json and <name>/ when new. */
static int
ident_ensure (const char *network, const char *text, char name[MOAT_NFT_IDENT_MAX + 1],
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

static int
member_path (char *buf, size_t size, const char *network, const char *ident, struct in_addr addr)
{
  char leaf[128], a[INET_ADDRSTRLEN];

  inet_ntop (AF_INET, &addr, a, sizeof (a));
  if ((size_t)snprintf (leaf, sizeof (leaf), "%s/%s", ident, a) >= sizeof (leaf))
    return -1;
  return idents_path (buf, size, network, leaf);
}

static int
member_add (const struct moat_record *rec, moat_err_t *err)
{
  char path[4096];
  _cleanup_close_ int fd = -1;

  if (member_path (path, sizeof (path), rec->network, rec->ident, rec->addr) < 0)
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
static int
member_remove (const struct moat_record *rec, moat_err_t *err)
{
  char path[4096];

  if (member_path (path, sizeof (path), rec->network, rec->ident, rec->addr) < 0)
    return state_error (err, ENAMETOOLONG, "identity member", rec->ident);
  if (unlink (path) < 0 && errno != ENOENT)
    return state_error (err, errno, "unlink", path);
  return 0;
}

/* Does the identity have a member other than `self`? Asked before `self`
 * joins: an rmdir of the member directory answers in one call however many
 * members it has (an empty one is made again). */
static int
has_other_member (const struct moat_record *rec, const char *ident, moat_err_t *err)
{
  char dir[4096], path[4096];

  if (idents_path (dir, sizeof (dir), rec->network, ident) < 0
      || member_path (path, sizeof (path), rec->network, ident, rec->addr) < 0)
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

/* Every identity of the network; with members, their addresses too. */
struct group_list
{
  struct moat_policy *policies;
  char (*names)[MOAT_NFT_IDENT_MAX + 1];
  struct in_addr **addrs;
  struct moat_peer_group *groups;
  size_t n, cap;
};

static void
group_list_free (struct group_list *l)
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
  memset (l, 0, sizeof (*l));
}

#define GROW(ptr, cap) realloc ((ptr), (cap) * sizeof (*(ptr)))

static int
group_list_grow (struct group_list *l)
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

static int
read_members (const char *dir, struct in_addr **ret, size_t *ret_n, moat_err_t *err)
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

      if (inet_pton (AF_INET, de->d_name, &addr) != 1)
        continue;
      if (n == cap)
        {
          struct in_addr *nv = GROW (v, cap = cap ? cap * 2 : 16);

          if (!nv)
            {
              free (v);
              return no_memory (err);
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
load_group (const char *network, const char *json_name, bool members, struct group_list *l,
            moat_err_t *err)
{
  char path[4096];
  size_t len = strlen (json_name) - strlen (".json");
  _cleanup_ (json_decrefp) json_t *j = NULL;
  json_error_t jerr;
  size_t i = l->n;

  if (len > MOAT_NFT_IDENT_MAX)
    return 0;
  if (l->n == l->cap && group_list_grow (l) < 0)
    return no_memory (err);
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
  if (read_members (path, &l->addrs[i], &l->groups[i].n, err) < 0)
    return -1;
  l->groups[i].addrs = l->addrs[i];
  return 0;
}

static int
load_groups (const char *network, bool members, struct group_list *l, moat_err_t *err)
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

/* --- join and leave -------------------------------------------------------- */

static int
record_policy (struct moat_record *rec, json_t *policy, const char *ident, moat_err_t *err)
{
  json_decref (rec->policy);
  free (rec->ident);
  rec->policy = policy ? json_incref (policy) : NULL;
  rec->ident = ident ? strdup (ident) : NULL;
  if (ident && !rec->ident)
    return no_memory (err);
  return moat_record_write (rec, err);
}

static int
join_kernel (struct moat_nft *nft, const struct moat_record *rec, const struct moat_policy *p,
             bool new_ident, moat_err_t *err)
{
  _cleanup_ (group_list_free) struct group_list groups = { 0 };
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *elems = moat_nft_elems_new ();
  struct moat_compile_input in = {
    .addr = rec->addr,
    .ident = rec->ident,
    .new_ident = new_ident,
    .network_internet = rec->internet,
    .policy = p,
  };
  int exists = 1;

  if (!elems)
    return no_memory (err);
  if (rec->ident && load_groups (rec->network, new_ident, &groups, err) < 0)
    return -1;
  /* The first member makes the identity's chain, unless an earlier
   * member's left it. */
  if (rec->ident && new_ident && (exists = moat_nft_ident_exists (nft, rec->ident, err)) < 0)
    return -1;
  in.groups = groups.groups;
  in.ngroups = groups.n;
  if (moat_policy_compile (&in, elems) < 0)
    return no_memory (err);
  /* Joining follows a leave (which swept) or a container without policy:
   * nothing of it to sweep. */
  return moat_nft_policy_replace (nft, rec->addr, false, rec->internet, NULL, NULL,
                                  exists ? NULL : rec->ident, elems, err);
}

int
moat_policy_join (struct moat_nft *nft, struct moat_record *rec, const struct moat_policy *p,
                  moat_err_t *err)
{
  _cleanup_ (json_decrefp) json_t *policy = moat_policy_to_json (p);
  _cleanup_ (json_decrefp) json_t *ident = moat_policy_ident_json (p);
  _cleanup_free_ char *text = NULL;
  char name[MOAT_NFT_IDENT_MAX + 1];
  bool with_ident = moat_policy_has_identity (p);
  moat_err_t undo = { 0 };
  int others = 0;

  if (!policy || !ident || !(text = json_dumps (ident, JSON_COMPACT | JSON_SORT_KEYS)))
    return no_memory (err);
  /* A container without policy has nothing in the kernel or the record:
   * its next join needs no sweep. */
  if (moat_policy_is_empty (p))
    return moat_policy_clear (nft, rec, err);
  if ((rec->ident || rec->policy) && moat_policy_leave (nft, rec, MOAT_LEAVE_ALL, err) < 0)
    return -1;
  /* The record names the identity before its member file exists, so a
   * crash leaves nothing that DEL cannot find. */
  if (with_ident && ident_ensure (rec->network, text, name, err) < 0)
    return -1;
  if (record_policy (rec, policy, with_ident ? name : NULL, err) < 0)
    return -1;
  if (with_ident)
    others = has_other_member (rec, name, err);
  if (others < 0 || (with_ident && member_add (rec, err) < 0)
      || join_kernel (nft, rec, p, others == 0, err) < 0)
    {
      /* Fail closed: whatever policy the container had is gone too. */
      moat_policy_clear (nft, rec, &undo);
      return -1;
    }
  return 0;
}

static int
leave_kernel (struct moat_nft *nft, const struct moat_record *rec, bool sweep, moat_err_t *err)
{
  _cleanup_ (group_list_free) struct group_list groups = { 0 };
  _cleanup_ (moat_nft_elems_freep) struct moat_nft_elems *del = moat_nft_elems_new ();
  size_t self = SIZE_MAX;

  if (!del)
    return no_memory (err);
  if (!rec->ident && !sweep)
    return 0;
  if (rec->ident && load_groups (rec->network, false, &groups, err) < 0)
    return -1;
  for (size_t i = 0; rec->ident && i < groups.n; i++)
    if (strcmp (groups.names[i], rec->ident) == 0)
      self = i;
  /* Without its identity file (a crash), only the fixed sets are swept. */
  if (self != SIZE_MAX
      && moat_policy_compile_leave (rec->addr, &groups.policies[self], groups.groups, groups.n, del)
             < 0)
    return no_memory (err);
  return moat_nft_policy_replace (nft, rec->addr, sweep, rec->internet, del, NULL, NULL, NULL, err);
}

int
moat_policy_leave (struct moat_nft *nft, const struct moat_record *rec, enum moat_leave how,
                   moat_err_t *err)
{
  if (how != MOAT_LEAVE_STATE && leave_kernel (nft, rec, how == MOAT_LEAVE_ALL, err) < 0)
    return -1;
  if (rec->ident && member_remove (rec, err) < 0)
    return -1;
  return 0;
}

int
moat_policy_network_remove (struct moat_nft *nft, const char *network, moat_err_t *err)
{
  _cleanup_ (group_list_free) struct group_list groups = { 0 };
  _cleanup_free_ char **names = NULL;

  if (load_groups (network, false, &groups, err) < 0)
    return -1;
  names = calloc (groups.n + 1, sizeof (*names));
  if (!names)
    return no_memory (err);
  for (size_t i = 0; i < groups.n; i++)
    names[i] = groups.names[i];
  return moat_nft_idents_drop (nft, names, err);
}

/* An identity's set holds every member of every identity it may reach;
 * each member jumps to its identity's chain. */
static int
expected_idents (const struct group_list *g, bool all_idents, struct moat_nft_elems *out)
{
  for (size_t i = 0; i < g->n; i++)
    for (size_t k = 0; k < g->groups[i].n; k++)
      if (moat_nft_elems_ident_member (out, g->groups[i].addrs[k], g->names[i]) < 0)
        return -1;
  for (size_t i = 0; i < g->n; i++)
    for (size_t h = 0; h < g->n && (all_idents || g->groups[i].n); h++)
      {
        if (!g->groups[h].n || !moat_policy_allows (&g->policies[i], &g->policies[h]))
          continue;
        for (size_t k = 0; k < g->groups[h].n; k++)
          if (moat_nft_elems_ident_reach (out, g->names[i], g->groups[h].addrs[k]) < 0)
            return -1;
      }
  return 0;
}

static int
strv_push (char ***v, size_t *n, const char *s)
{
  char **nv = realloc (*v, (*n + 2) * sizeof (**v));

  if (!nv)
    return -1;
  *v = nv;
  if (!(nv[*n] = strdup (s)))
    return -1;
  nv[++*n] = NULL;
  return 0;
}

/* A record's own elements: its policy without the identity part. */
static int
expected_own (const struct moat_record *rec, struct moat_nft_elems *out, moat_err_t *err)
{
  struct moat_policy p;
  struct moat_compile_input in = { .addr = rec->addr, .network_internet = rec->internet };
  int r;

  if (!rec->policy)
    return 0;
  if (moat_policy_from_json (rec->policy, &p, err) < 0)
    return moat_error_prefix (err, "record %s@%s", rec->container_id, rec->ifname);
  in.policy = &p;
  r = moat_policy_compile (&in, out);
  moat_policy_free (&p);
  return r < 0 ? no_memory (err) : 0;
}

int
moat_policy_network_expected (const char *network, const struct moat_record *recs, size_t n,
                              bool all_idents, struct moat_nft_elems *out, char ***ret_idents,
                              moat_err_t *err)
{
  _cleanup_ (group_list_free) struct group_list groups = { 0 };
  char **idents = NULL;
  size_t nidents = 0;

  if (load_groups (network, true, &groups, err) < 0)
    return -1;
  if (expected_idents (&groups, all_idents, out) < 0)
    return no_memory (err);
  for (size_t i = 0; i < n; i++)
    if (expected_own (&recs[i], out, err) < 0)
      return -1;
  for (size_t i = 0; i < groups.n; i++)
    if ((all_idents || groups.groups[i].n) && strv_push (&idents, &nidents, groups.names[i]) < 0)
      {
        moat_strv_free (idents);
        return no_memory (err);
      }
  if (!idents && !(idents = calloc (1, sizeof (*idents))))
    return no_memory (err);
  *ret_idents = idents;
  return 0;
}

int
moat_policy_clear (struct moat_nft *nft, struct moat_record *rec, moat_err_t *err)
{
  /* Nothing recorded, nothing installed: no sweep. */
  if (!rec->ident && !rec->policy)
    return 0;
  if (moat_policy_leave (nft, rec, MOAT_LEAVE_ALL, err) < 0)
    return -1;
  return record_policy (rec, NULL, NULL, err);
}
