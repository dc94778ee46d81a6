/* SPDX-License-Identifier: Apache-2.0 */
/* moatctl's work (ctl.h): find containers, list them, grant and revoke,
 * resolve an app. Restore and check: restore.c; explain: explain.c. */
#include "ctl-internal.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "envelope.h"
#include "kernel/nft.h"
#include "revoked.h"
#include "showpolicy.h"
#include "state/state.h"
#include "verbs/apply.h"
#include "token.h"

_Static_assert(MOAT_TOKEN_LIFETIME_MAX == MOAT_GRANT_TTL_MAX, "a token lives as long as a --ttl");

/* --- finding a container ------------------------------------------------------- */

void
moat_ctl_target_free (struct moat_ctl_target *t)
{
  for (size_t i = 0; i < t->n; i++)
    {
      free (t->atts[i].network);
      free (t->atts[i].key);
    }
  free (t->atts);
  free (t->id);
  memset (t, 0, sizeof (*t));
}

static int
target_add (struct moat_ctl_target *t, const char *network, const char *key, const char *id)
{
  struct moat_ctl_att *v = realloc (t->atts, (t->n + 1) * sizeof (*v));

  if (!v)
    return -1;
  t->atts = v;
  v[t->n].network = strdup (network);
  v[t->n].key = strdup (key);
  if (!v[t->n].network || !v[t->n].key)
    {
      free (v[t->n].network);
      free (v[t->n].key);
      return -1;
    }
  t->n++;
  if (!t->id && !(t->id = strdup (id)))
    return -1;
  return 0;
}

/* Every attachment of the container with this exact id. */
static int
find_by_id (char *const *networks, const char *id, struct moat_ctl_target *t, moat_err_t *err)
{
  for (char *const *net = networks; *net; net++)
    {
      _cleanup_strv_ char **keys = NULL;

      if (moat_record_list_container (*net, id, &keys, err) < 0)
        return -1;
      for (char **k = keys; *k; k++)
        if (target_add (t, *net, *k, id) < 0)
          return moat_error_nomem (err, "moatctl");
    }
  return 0;
}

/* The one container id that starts with `prefix` (MOAT_E_CONFIG when
 * several do); *ret NULL when none. */
static int
find_prefix (char *const *networks, const char *prefix, char **ret, moat_err_t *err)
{
  size_t len = strlen (prefix);

  *ret = NULL;
  for (char *const *net = networks; *net; net++)
    {
      char dir[4096];
      _cleanup_ (closedirp) DIR *d = NULL;
      struct dirent *de;

      if (moat_state_path (dir, sizeof (dir), *net, "ids") < 0)
        continue;
      d = opendir (dir);
      while (d && (de = readdir (d)))
        {
          if (de->d_name[0] == '.' || strncmp (de->d_name, prefix, len) != 0)
            continue;
          if (*ret && strcmp (*ret, de->d_name) != 0)
            {
              moat_error (err, MOAT_E_CONFIG, 0, "\"%s\" names several containers (%.12s, %.12s)",
                          prefix, *ret, de->d_name);
              free (*ret);
              *ret = NULL;
              return -1;
            }
          if (!*ret && !(*ret = strdup (de->d_name)))
            return moat_error_nomem (err, "moatctl");
        }
    }
  return 0;
}

/* By name (K8S_POD_NAME) or by address (IPv4, or a dual-stack
 * container's IPv6): reads every record. */
static int
find_by_record (char *const *networks, const char *name, struct moat_ctl_target *t, moat_err_t *err)
{
  struct in_addr addr;
  struct in6_addr addr6;
  bool is_addr = inet_pton (AF_INET, name, &addr) == 1;
  bool is_addr6 = !is_addr && inet_pton (AF_INET6, name, &addr6) == 1;

  for (char *const *net = networks; *net; net++)
    {
      _cleanup_ (ctl_records_free) struct records rs = { 0 };

      if (ctl_records_load (*net, &rs, err) < 0 || ctl_records_load_remote (*net, &rs, err) < 0)
        return -1;
      for (size_t i = 0; i < rs.n; i++)
        {
          const struct moat_record *r = &rs.v[i];
          /* An IPv6-only container's key is no address of it. */
          bool match = is_addr    ? !r->v6only && r->addr.s_addr == addr.s_addr
                       : is_addr6 ? r->have_addr6 && memcmp (&r->addr6, &addr6, sizeof (addr6)) == 0
                                  : r->name && !strcmp (r->name, name);
          char key[MOAT_KEY_MAX + 1];

          if (!match)
            continue;
          if (t->id && strcmp (t->id, r->container_id) != 0)
            return moat_error (err, MOAT_E_CONFIG, 0,
                               "\"%s\" names several containers (%.12s, %.12s)", name, t->id,
                               r->container_id);
          if (moat_attachment_key (key, sizeof (key), r->container_id, r->ifname) < 0
              || target_add (t, *net, key, r->container_id) < 0)
            return moat_error_nomem (err, "moatctl");
        }
    }
  return 0;
}

int
moat_ctl_find (const char *name, struct moat_ctl_target *ret, moat_err_t *err)
{
  _cleanup_strv_ char **networks = NULL;
  _cleanup_free_ char *id = NULL;

  memset (ret, 0, sizeof (*ret));
  if (!*name || strchr (name, '/'))
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "container \"%s\": not a container id, name or address", name);
  if (moat_networks_list (&networks, err) < 0)
    return -1;
  if (find_by_id (networks, name, ret, err) < 0)
    goto fail;
  if (ret->n)
    return 0;
  if (find_by_record (networks, name, ret, err) < 0)
    goto fail;
  if (ret->n)
    return 0;
  if (find_prefix (networks, name, &id, err) < 0)
    goto fail;
  if (id && find_by_id (networks, id, ret, err) < 0)
    goto fail;
  if (ret->n)
    return 0;
  moat_error (err, MOAT_E_UNKNOWN, 0, "no container \"%s\" on any moat network", name);
fail:
  moat_ctl_target_free (ret);
  return -1;
}

/* A token's "sub" "addr:A.B.C.D": the one container holding that address
 * now, on any moat network. */
static int
find_subject_addr (const char *sub, struct moat_ctl_target *ret, moat_err_t *err)
{
  _cleanup_strv_ char **networks = NULL;
  const char *text = sub + strlen (MOAT_SUB_ADDR);
  struct in_addr addr;

  if (inet_pton (AF_INET, text, &addr) != 1)
    return moat_error (err, MOAT_E_CONFIG, 0, "\"%s\": want " MOAT_SUB_ADDR "IPV4", sub);
  if (moat_networks_list (&networks, err) < 0 || find_by_record (networks, text, ret, err) < 0)
    return -1;
  if (!ret->n)
    return moat_error (err, MOAT_E_UNKNOWN, 0, "no container holds %s", text);
  return 0;
}

/* A token's "sub": exactly one container, by its full id or its name.
 * Never a unique prefix (a container started later could be the one it
 * names), never a bare address (whoever holds it now): that takes the
 * explicit "addr:" form. */
static int
find_subject (const char *sub, struct moat_ctl_target *ret, moat_err_t *err)
{
  _cleanup_ (moat_ctl_target_free) struct moat_ctl_target by_id = { 0 }, by_name = { 0 };
  _cleanup_strv_ char **networks = NULL;
  struct in_addr addr;

  memset (ret, 0, sizeof (*ret));
  if (strncmp (sub, MOAT_SUB_ADDR, strlen (MOAT_SUB_ADDR)) == 0)
    return find_subject_addr (sub, ret, err);
  if (inet_pton (AF_INET, sub, &addr) == 1)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "\"%s\" is an address: name the container by full id or name, or say "
                       "\"" MOAT_SUB_ADDR "%s\" for whoever holds it",
                       sub, sub);
  if (!*sub || strchr (sub, '/'))
    return moat_error (err, MOAT_E_CONFIG, 0, "\"%s\": not a container id or name", sub);
  if (moat_networks_list (&networks, err) < 0 || find_by_id (networks, sub, &by_id, err) < 0
      || find_by_record (networks, sub, &by_name, err) < 0)
    return -1;
  if (by_id.n && by_name.n && strcmp (by_id.id, by_name.id) != 0)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "\"%s\" names several containers (%.12s by id, %.12s by name)", sub,
                       by_id.id, by_name.id);
  if (!by_id.n && !by_name.n)
    return moat_error (err, MOAT_E_UNKNOWN, 0,
                       "no container with the id or name \"%s\" (never an id prefix)", sub);
  *ret = by_id.n ? by_id : by_name;
  memset (by_id.n ? &by_id : &by_name, 0, sizeof (by_id));
  return 0;
}

/* --- grant and revoke --------------------------------------------------------------- */

/* A peer grant names the peer by its id and its address on the network. */
static int
peer_on (const struct moat_ctl_target *peer, const char *network, struct in_addr *ret,
         moat_err_t *err)
{
  for (size_t i = 0; i < peer->n; i++)
    {
      _cleanup_record_ struct moat_record rec = { 0 };
      int r;

      if (strcmp (peer->atts[i].network, network) != 0)
        continue;
      r = ctl_record_read (network, peer->atts[i].key, &rec, err);
      if (r < 0)
        return -1;
      if (r > 0)
        {
          *ret = rec.addr;
          return 1;
        }
    }
  return 0;
}

/* 1 granted on this attachment's network; 0 when the peer is not (or no
 * longer) on it. Caller holds no lock. */
static int
grant_one (struct moat_nft *nft, const struct moat_ctl_att *att, struct moat_grant *g,
           const struct moat_ctl_target *peer, int64_t now, moat_err_t *err)
{
  _cleanup_record_ struct moat_record rec = { 0 };
  _cleanup_ (ctl_grants_free) struct grants gs = { 0 };
  _cleanup_elems_ struct moat_nft_elems *add = moat_nft_elems_new ();
  _cleanup_elems_ struct moat_nft_elems *old = moat_nft_elems_new ();
  _cleanup_close_ int lock = -1;
  char words[MOAT_GRANT_WORDS_MAX], other[MOAT_GRANT_WORDS_MAX];
  struct moat_grant *v;
  ssize_t same;
  int r;

  if (!add || !old)
    return moat_error_nomem (err, "moatctl");
  if (moat_network_lock (att->network, &lock, err) < 0)
    return -1;
  r = ctl_record_read (att->network, att->key, &rec, err);
  if (r <= 0)
    return r < 0 ? -1 : moat_error (err, MOAT_E_UNKNOWN, 0, "%s: gone", att->key);
  /* The peer's address is read under the lock: a peer DEL'd meanwhile
   * took its grants with it, and its address may be another container's
   * by now. */
  if (g->kind == MOAT_GRANT_PEER)
    {
      r = peer_on (peer, att->network, &g->peer_addr, err);
      if (r <= 0)
        return r;
    }
  if (ctl_grants_load (&rec, now, &gs, err) < 0)
    return -1;
  moat_grant_words (g, words, sizeof (words));
  if ((g->kind == MOAT_GRANT_EGRESS || g->kind == MOAT_GRANT_INGRESS) && g->acl.v6
      && !rec.have_addr6)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "grant %s: network \"%s\" has no subnet6: the container has no IPv6 "
                       "address",
                       words, att->network);
  if ((g->kind == MOAT_GRANT_EGRESS || g->kind == MOAT_GRANT_INGRESS) && !g->acl.v6 && rec.v6only)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "grant %s: network \"%s\" is IPv6-only: the container has no IPv4 "
                       "address",
                       words, att->network);
  same = ctl_grants_find (&gs, words);
  for (size_t i = 0; i < gs.n; i++)
    if ((ssize_t)i != same && moat_grant_overlaps (&gs.v[i], g))
      {
        moat_grant_words (&gs.v[i], other, sizeof (other));
        return moat_error (err, MOAT_E_CONFIG, 0,
                           "%s overlaps the grant \"%s\" of this container; revoke it first", words,
                           other);
      }
  /* Granting it again replaces the element, in the same batch: re-adding
   * it would keep its old timeout where the kernel does not update element
   * timeouts (Linux 6.1 does not; 6.12 does). */
  if (same >= 0)
    {
      if (moat_grant_elems (&gs.v[same], rec.addr, now, true, old) < 0)
        return moat_error_nomem (err, "moatctl");
      moat_grant_free (&gs.v[same]);
      gs.v[same] = gs.v[--gs.n];
    }
  if (moat_grant_elems (g, rec.addr, now, false, add) < 0)
    return moat_error_nomem (err, "moatctl");
  v = realloc (gs.v, (gs.n + 1) * sizeof (*v));
  if (!v)
    return moat_error_nomem (err, "moatctl");
  gs.v = v;
  v[gs.n] = *g;
  v[gs.n].peer = g->peer ? strdup (g->peer) : NULL;
  v[gs.n].by = g->by ? strdup (g->by) : NULL;
  v[gs.n].token = g->token ? strdup (g->token) : NULL;
  gs.n++;
  if ((g->peer && !v[gs.n - 1].peer) || (g->by && !v[gs.n - 1].by)
      || (g->token && !v[gs.n - 1].token))
    return moat_error_nomem (err, "moatctl");
  /* The kernel first: a record that says more than the kernel holds would
   * show a grant that does not work. */
  if (moat_policy_twin6 (&rec, old, err) < 0 || moat_policy_twin6 (&rec, add, err) < 0
      || moat_nft_policy_replace2 (nft, rec.addr, rec.have_addr6 ? &rec.addr6 : NULL, false, false,
                                   old, NULL, NULL, add, err)
             < 0)
    return moat_error_prefix (err, "grant %s", words);
  if (ctl_grants_store (&rec, &gs, err) < 0)
    return -1;
  return 1;
}

int
moat_ctl_grant (const char *container, struct moat_grant *g, int64_t ttl, const char *by,
                int64_t now, moat_err_t *err)
{
  _cleanup_ (moat_ctl_target_free) struct moat_ctl_target t = { 0 };
  _cleanup_ (moat_ctl_target_free) struct moat_ctl_target peer = { 0 };
  _cleanup_nft_ struct moat_nft *nft = NULL;
  size_t done = 0;

  g->expires = ttl ? now + ttl : 0;
  free (g->by);
  g->by = by ? strdup (by) : NULL;
  if (by && !g->by)
    return moat_error_nomem (err, "moatctl");
  if (moat_ctl_find (container, &t, err) < 0)
    return -1;
  if (g->kind == MOAT_GRANT_PEER)
    {
      if (moat_ctl_find (g->peer, &peer, err) < 0)
        return moat_error_prefix (err, "peer");
      if (strcmp (peer.id, t.id) == 0)
        return moat_error (err, MOAT_E_CONFIG, 0, "peer \"%s\": a container is its own peer",
                           g->peer);
      free (g->peer);
      if (!(g->peer = strdup (peer.id)))
        return moat_error_nomem (err, "moatctl");
    }
  if (moat_nft_open (&nft, err) < 0)
    return -1;
  for (size_t i = 0; i < t.n; i++)
    {
      int r = grant_one (nft, &t.atts[i], g, &peer, now, err);

      if (r < 0)
        return -1;
      done += r;
    }
  if (!done)
    return moat_error (err, MOAT_E_CONFIG, 0, "%.12s and %.12s share no network", t.id, peer.id);
  return 0;
}

static bool
audience_ok (const struct moat_token_claims *c, const struct moat_ctl_target *t)
{
  char host[256] = "";

  for (size_t i = 0; i < t->n; i++)
    if (moat_token_aud_has (c, t->atts[i].network))
      return true;
  return gethostname (host, sizeof (host) - 1) == 0 && moat_token_aud_has (c, host);
}

/* Refuses a token whose grants were revoked, until its exp. Caller holds
 * moat_tokens_lock. */
static int
check_not_revoked (const struct moat_token_claims *c, int64_t now, moat_err_t *err)
{
  _cleanup_ (moat_revoked_free) struct moat_revoked rv = { 0 };

  if (moat_revoked_load (now, &rv, err) < 0)
    return -1;
  if (moat_revoked_has (&rv, c->id, now))
    return moat_error (err, MOAT_E_CONFIG, 0, "revoked: refused until its exp, in %lld s",
                       (long long)(c->exp - now));
  return 0;
}

/* A token's grant "peer X": X as strictly as its sub, then by full id. */
static int
resolve_token_peer (struct moat_grant *g, moat_err_t *err)
{
  _cleanup_ (moat_ctl_target_free) struct moat_ctl_target peer = { 0 };

  if (g->kind != MOAT_GRANT_PEER)
    return 0;
  if (find_subject (g->peer, &peer, err) < 0)
    return moat_error_prefix (err, "peer");
  free (g->peer);
  g->peer = strdup (peer.id);
  return g->peer ? 0 : moat_error_nomem (err, "moatctl");
}

/* Each grant for `ttl` s, remembering the token's id. */
static int
apply_token_grants (const struct moat_token_claims *c, const char *container, const char *by,
                    int64_t ttl, int64_t now, moat_err_t *err)
{
  struct moat_grant *gs = calloc (c->n_grants + 1, sizeof (*gs));
  int r = 0;

  if (!gs)
    return moat_error_nomem (err, "moatctl");
  /* Every grant parses before any is applied. */
  for (size_t i = 0; r == 0 && i < c->n_grants; i++)
    if (moat_grant_parse_text (c->grants[i], &gs[i], err) < 0)
      r = moat_error_prefix (err, "malformed token: grants[%zu]", i);
    else if (resolve_token_peer (&gs[i], err) < 0)
      r = moat_error_prefix (err, "grants[%zu]", i);
    else if (!(gs[i].token = strdup (c->id)))
      r = moat_error_nomem (err, "moatctl");
  for (size_t i = 0; r == 0 && i < c->n_grants; i++)
    r = moat_ctl_grant (container, &gs[i], ttl, by, now, err);
  for (size_t i = 0; i < c->n_grants; i++)
    moat_grant_free (&gs[i]);
  free (gs);
  return r;
}

int
moat_ctl_grant_token (const struct moat_token_claims *c, const char *by, int64_t now,
                      moat_err_t *err)
{
  _cleanup_ (moat_ctl_target_free) struct moat_ctl_target t = { 0 };
  _cleanup_close_ int lock = -1;
  int64_t ttl = c->exp > now ? c->exp - now : 0;

  /* Verification refused these; a grant must never get a TTL of 0 (no
   * expiry) or one past the --ttl cap from a token. */
  if (ttl <= 0 || ttl > MOAT_GRANT_TTL_MAX || !c->id)
    return moat_error (err, MOAT_E_CONFIG, 0, "lifetime: exp - now is %lld s, want 1-%d",
                       (long long)ttl, MOAT_GRANT_TTL_MAX);
  if (find_subject (c->sub, &t, err) < 0)
    return moat_error_prefix (err, "sub");
  if (!audience_ok (c, &t))
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "wrong audience: \"%s\" is on no network it names, and "
                       "it does not name this host",
                       c->sub);
  /* Held until every grant is applied: a revoke waits, then sees them. */
  if (moat_tokens_lock (&lock, err) < 0 || check_not_revoked (c, now, err) < 0)
    return -1;
  return apply_token_grants (c, t.id, by, ttl, now, err);
}

/* The ingress grant an envelope token's rule makes for its client. */
static int
envelope_grant (const struct moat_token_claims *c, struct in_addr client,
                const struct moat_envelope_rule *rule, int64_t ttl, const char *by, int64_t now,
                moat_err_t *err)
{
  _cleanup_ (moat_grant_free) struct moat_grant g = {
    .kind = MOAT_GRANT_INGRESS,
    .acl = { .addr = client, .prefixlen = 32, .ports = rule->ports },
  };

  if (!(g.token = strdup (c->id)))
    return moat_error_nomem (err, "moatctl");
  return moat_ctl_grant (rule->container, &g, ttl, by, now, err);
}

int
moat_ctl_grant_envelope (const struct moat_token_claims *c, const struct moat_envelope_rules *rules,
                         const char *by, int64_t now, int64_t *ret_expires, moat_err_t *err)
{
  _cleanup_close_ int lock = -1;
  int64_t ttl = c->exp > now ? c->exp - now : 0;
  struct in_addr client;

  if (c->n_grants)
    return moat_error (err, MOAT_E_CONFIG, 0, "the token has grants: it names what it opens");
  if (ttl <= 0 || ttl > MOAT_GRANT_TTL_MAX || !c->id)
    return moat_error (err, MOAT_E_CONFIG, 0, "lifetime: exp - now is %lld s, want 1-%d",
                       (long long)ttl, MOAT_GRANT_TTL_MAX);
  if (inet_pton (AF_INET, c->sub, &client) != 1)
    return moat_error (err, MOAT_E_CONFIG, 0, "sub \"%.64s\": want the client's IPv4 address",
                       c->sub);
  if (!rules->n)
    return moat_error (err, MOAT_E_CONFIG, 0,
                       "no rule for key \"%.64s\": the token opens nothing on this host", c->kid);
  for (size_t i = 0; i < rules->n; i++)
    {
      _cleanup_ (moat_ctl_target_free) struct moat_ctl_target t = { 0 };

      if (moat_ctl_find (rules->v[i].container, &t, err) < 0)
        return moat_error_prefix (err, "rule");
      if (!audience_ok (c, &t))
        return moat_error (err, MOAT_E_CONFIG, 0,
                           "wrong audience: the token names neither this host nor a network "
                           "of %.64s",
                           rules->v[i].container);
    }
  if (moat_tokens_lock (&lock, err) < 0 || check_not_revoked (c, now, err) < 0)
    return -1;
  for (size_t i = 0; i < rules->n; i++)
    if (envelope_grant (c, client, &rules->v[i], ttl, by, now, err) < 0)
      return -1;
  *ret_expires = c->exp;
  return 0;
}

/* Remembers a token grant's token as revoked, on disk, until the grant's
 * (the token's) exp. Caller holds moat_tokens_lock. */
static int
remember_revoked (struct moat_revoked *rv, const struct moat_grant *g, int64_t now, moat_err_t *err)
{
  int64_t until = g->expires ? g->expires : now + MOAT_TOKEN_LIFETIME_MAX;
  int r = moat_revoked_add (rv, g->token, until, err);

  return r <= 0 ? r : moat_revoked_store (rv, now, err);
}

/* What a revoke closes: the grant with these words, or every grant of
 * this token. */
struct revoke_what
{
  const char *words;
  const char *token;
};

static bool
revoke_matches (const struct moat_grant *g, const struct revoke_what *what)
{
  char words[MOAT_GRANT_WORDS_MAX];

  if (what->token)
    return g->token && strcmp (g->token, what->token) == 0;
  moat_grant_words (g, words, sizeof (words));
  return strcmp (words, what->words) == 0;
}

/* Closes the grants' elements: re-added timing out at once; where the
 * kernel kept their old timeouts (no set-element timeout updates: Linux
 * 6.1 has none, 6.12 has them), deleted. The record says revoked only
 * after this. */
static int
close_grants (struct moat_nft *nft, const struct moat_record *rec, struct moat_nft_elems *elems,
              moat_err_t *err)
{
  struct in_addr addr = rec->addr;
  int r;

  if (moat_policy_twin6 (rec, elems, err) < 0
      || moat_nft_policy_replace (nft, addr, false, false, NULL, NULL, NULL, elems, err) < 0)
    return -1;
  /* The kernel rounds a timeout up to its tick (up to 10 ms): an element
   * with under 50 ms to live took the new one (or was about to go). */
  r = moat_nft_elems_outlive (nft, elems, 50, err);
  if (r <= 0)
    return r;
  return moat_nft_policy_replace (nft, addr, false, false, elems, NULL, NULL, NULL, err);
}

/* The number of grants closed on one attachment. A token's grant closed
 * makes the token revoked (rv, and on disk) before the kernel changes:
 * a crash in between leaves it refused, not replayable. */
static int
revoke_one (struct moat_nft *nft, const struct moat_ctl_att *att, const struct revoke_what *what,
            struct moat_revoked *rv, int64_t now, moat_err_t *err)
{
  _cleanup_record_ struct moat_record rec = { 0 };
  _cleanup_ (ctl_grants_free) struct grants gs = { 0 };
  _cleanup_elems_ struct moat_nft_elems *gone = moat_nft_elems_new ();
  _cleanup_close_ int lock = -1;
  int closed = 0, r;

  if (!gone)
    return moat_error_nomem (err, "moatctl");
  if (moat_network_lock (att->network, &lock, err) < 0)
    return -1;
  r = ctl_record_read (att->network, att->key, &rec, err);
  if (r <= 0)
    return r;
  if (ctl_grants_load (&rec, now, &gs, err) < 0)
    return -1;
  for (size_t i = 0; i < gs.n;)
    {
      if (!revoke_matches (&gs.v[i], what))
        {
          i++;
          continue;
        }
      if (gs.v[i].token && remember_revoked (rv, &gs.v[i], now, err) < 0)
        return -1;
      if (moat_grant_elems (&gs.v[i], rec.addr, now, true, gone) < 0)
        return moat_error_nomem (err, "moatctl");
      moat_grant_free (&gs.v[i]);
      gs.v[i] = gs.v[--gs.n];
      closed++;
    }
  if (!closed)
    return 0;
  /* The packets of the grants' open flows in their opening direction meet
   * the rules again (nft.h): they are refused from now on. */
  if (close_grants (nft, &rec, gone, err) < 0)
    return what->words ? moat_error_prefix (err, "revoke %s", what->words)
                       : moat_error_prefix (err, "revoke token %s", what->token);
  return ctl_grants_store (&rec, &gs, err) < 0 ? -1 : closed;
}

/* Closes `what` on every attachment of `t`: *ret_closed grants. */
static int
revoke_on (const struct moat_ctl_target *t, const struct revoke_what *what, struct moat_revoked *rv,
           int64_t now, size_t *ret_closed, moat_err_t *err)
{
  _cleanup_nft_ struct moat_nft *nft = NULL;

  *ret_closed = 0;
  if (moat_nft_open (&nft, err) < 0)
    return -1;
  for (size_t i = 0; i < t->n; i++)
    {
      int r = revoke_one (nft, &t->atts[i], what, rv, now, err);

      if (r < 0)
        return -1;
      *ret_closed += (size_t)r;
    }
  return 0;
}

int
moat_ctl_revoke (const char *container, struct moat_grant *g, int64_t now, moat_err_t *err)
{
  _cleanup_ (moat_ctl_target_free) struct moat_ctl_target t = { 0 };
  _cleanup_ (moat_ctl_target_free) struct moat_ctl_target peer = { 0 };
  _cleanup_ (moat_revoked_free) struct moat_revoked rv = { 0 };
  _cleanup_close_ int lock = -1;
  char words[MOAT_GRANT_WORDS_MAX];
  struct revoke_what what = { .words = words };
  size_t closed = 0;

  if (moat_ctl_find (container, &t, err) < 0)
    return -1;
  if (g->kind == MOAT_GRANT_PEER)
    {
      if (moat_ctl_find (g->peer, &peer, err) < 0)
        return moat_error_prefix (err, "peer");
      free (g->peer);
      if (!(g->peer = strdup (peer.id)))
        return moat_error_nomem (err, "moatctl");
    }
  moat_grant_words (g, words, sizeof (words));
  /* A token's grant closed revokes the token; this lock comes before any
   * network's. */
  if (moat_tokens_lock (&lock, err) < 0 || moat_revoked_load (now, &rv, err) < 0)
    return -1;
  if (revoke_on (&t, &what, &rv, now, &closed, err) < 0)
    return -1;
  if (!closed)
    return moat_error (err, MOAT_E_UNKNOWN, 0, "container %.12s has no grant \"%s\"", t.id, words);
  return 0;
}

/* An envelope token's grants, on its rules' containers (those still there). */
static int
revoke_envelope (const struct moat_envelope_rules *rules, const struct revoke_what *what,
                 struct moat_revoked *rv, int64_t now, size_t *ret_closed, moat_err_t *err)
{
  for (size_t i = 0; rules && i < rules->n; i++)
    {
      _cleanup_ (moat_ctl_target_free) struct moat_ctl_target t = { 0 };
      moat_err_t ignored = { 0 };
      size_t closed = 0;

      if (moat_ctl_find (rules->v[i].container, &t, &ignored) < 0)
        continue;
      if (revoke_on (&t, what, rv, now, &closed, err) < 0)
        return -1;
      *ret_closed += closed;
    }
  return 0;
}

int
moat_ctl_revoke_token (const struct moat_token_claims *c, const struct moat_envelope_rules *rules,
                       int64_t now, size_t *ret_closed, moat_err_t *err)
{
  _cleanup_ (moat_ctl_target_free) struct moat_ctl_target t = { 0 };
  _cleanup_ (moat_revoked_free) struct moat_revoked rv = { 0 };
  _cleanup_close_ int lock = -1;
  struct revoke_what what = { .token = c->id };
  moat_err_t ignored = { 0 };

  *ret_closed = 0;
  if (moat_tokens_lock (&lock, err) < 0 || moat_revoked_load (now, &rv, err) < 0)
    return -1;
  if (moat_revoked_add (&rv, c->id, c->exp, err) < 0 || moat_revoked_store (&rv, now, err) < 0)
    return -1;
  if (!c->n_grants)
    return revoke_envelope (rules, &what, &rv, now, ret_closed, err);
  /* Its sub gone (or never there): nothing is open, and the token stays
   * refused should the name come back. */
  if (find_subject (c->sub, &t, &ignored) < 0)
    return 0;
  return revoke_on (&t, &what, &rv, now, ret_closed, err);
}

/* --- ls and show ---------------------------------------------------------------------- */

/* The labels selectors see, without the @sys: ones. */
static json_t *
user_labels (const struct moat_record *r)
{
  json_t *labels = r->policy ? json_object_get (r->policy, "labels") : r->labels;
  json_t *out = json_object (), *v;
  const char *key;

  json_object_foreach (labels, key, v)
  {
    if (out && strncmp (key, "@sys:", 5) != 0)
      json_object_set (out, key, v);
  }
  return out;
}

/* The name of a peer grant's container, from the records of its network
 * (the peer's address there, checked against its id); NULL: none. */
static const char *
peer_name (const struct records *rs, const struct moat_grant *g)
{
  const struct moat_record *peer;

  if (g->kind != MOAT_GRANT_PEER || !g->peer)
    return NULL;
  peer = ctl_records_by_addr (rs, g->peer_addr);
  return peer && strcmp (peer->container_id, g->peer) == 0 ? peer->name : NULL;
}

static json_t *
grants_json (const struct moat_record *r, const struct records *rs, int64_t now, moat_err_t *err)
{
  _cleanup_ (ctl_grants_free) struct grants gs = { 0 };
  json_t *a = json_array ();

  if (!a || ctl_grants_load (r, now, &gs, err) < 0)
    {
      json_decref (a);
      return NULL;
    }
  for (size_t i = 0; i < gs.n; i++)
    {
      char words[MOAT_GRANT_WORDS_MAX], label[MOAT_GRANT_WORDS_MAX];
      json_t *j;

      moat_grant_words (&gs.v[i], words, sizeof (words));
      moat_grant_label (&gs.v[i], peer_name (rs, &gs.v[i]), label, sizeof (label));
      j = json_pack ("{s:s, s:s, s:o*, s:o*, s:s*, s:s*}", "grant", words, "label", label,
                     "expires", gs.v[i].expires ? json_integer (gs.v[i].expires) : NULL,
                     "expiresIn", gs.v[i].expires ? json_integer (gs.v[i].expires - now) : NULL,
                     "by", gs.v[i].by, "token", gs.v[i].token);
      if (!j || json_array_append_new (a, j) < 0)
        {
          json_decref (a);
          moat_error_nomem (err, "moatctl");
          return NULL;
        }
    }
  return a;
}

static json_t *
container_json (const struct moat_record *r, const struct records *rs, int64_t now, moat_err_t *err)
{
  char addr[INET_ADDRSTRLEN], mac[18];
  json_t *grants = grants_json (r, rs, now, err);
  json_t *profile = r->policy ? json_object_get (r->policy, "profile") : NULL;
  json_t *j;

  if (!grants)
    return NULL;
  inet_ntop (AF_INET, &r->addr, addr, sizeof (addr));
  moat_mac_format (r->mac, mac);
  /* An IPv6-only container's "address" is null (its key is not one). */
  j = json_pack ("{s:s, s:s*, s:s*, s:s, s:s, s:s?, s:s, s:s, s:o, s:O*, s:O*, s:o, s:O*}", "id",
                 r->container_id, "name", r->name, "namespace", r->pod_namespace, "network",
                 r->network, "ifname", r->ifname, "address", r->v6only ? NULL : addr, "mac", mac,
                 "hostIf", r->host_if, "labels", user_labels (r), "profile", profile, "policy",
                 r->policy, "grants", grants, "publish", r->publish);
  /* Only while on (moatctl watch sees its refusals). */
  if (j && r->log && json_object_set_new (j, "log", json_true ()) < 0)
    {
      json_decref (j);
      return NULL;
    }
  /* Another node's container (cluster mode): its node. */
  if (j && r->remote_node && json_object_set_new (j, "node", json_string (r->remote_node)) < 0)
    {
      json_decref (j);
      return NULL;
    }
  /* A dual-stack container's IPv6 address. */
  if (j && r->have_addr6)
    {
      char addr6[INET6_ADDRSTRLEN];

      inet_ntop (AF_INET6, &r->addr6, addr6, sizeof (addr6));
      if (json_object_set_new (j, "address6", json_string (addr6)) < 0)
        {
          json_decref (j);
          return NULL;
        }
    }
  return j;
}

int
moat_ctl_list (const char *only, int64_t now, json_t **ret, moat_err_t *err)
{
  _cleanup_ (moat_ctl_target_free) struct moat_ctl_target t = { 0 };
  _cleanup_strv_ char **networks = NULL;
  _cleanup_json_ json_t *list = json_array ();
  bool hostnet = false;

  if (!list)
    return moat_error_nomem (err, "moatctl");
  /* A host-network container, named by its id, or all of them with ls. */
  if (ctl_hostnet_list (only, list, &hostnet, err) < 0)
    return -1;
  if (only && !hostnet && moat_ctl_find (only, &t, err) < 0)
    return -1;
  if (!(only && hostnet) && moat_networks_list (&networks, err) < 0)
    return -1;
  for (char **net = networks; net && *net; net++)
    {
      _cleanup_ (ctl_records_free) struct records rs = { 0 };

      if (ctl_records_load (*net, &rs, err) < 0 || ctl_records_load_remote (*net, &rs, err) < 0)
        return -1;
      for (size_t i = 0; i < rs.n; i++)
        {
          json_t *c;

          if (only && strcmp (rs.v[i].container_id, t.id) != 0)
            continue;
          c = container_json (&rs.v[i], &rs, now, err);
          if (!c)
            return -1;
          /* show: the whole policy, item by item, with its sources. */
          if (only
              && json_object_set_new (c, "policyItems", moat_ctl_policy_items (&rs.v[i], err)) < 0)
            {
              json_decref (c);
              return -1;
            }
          if (json_array_append_new (list, c) < 0)
            return moat_error_nomem (err, "moatctl");
        }
    }
  *ret = json_pack ("{s:O}", "containers", list);
  return *ret ? 0 : moat_error_nomem (err, "moatctl");
}

void
moat_ctl_grant_label (const struct moat_grant *g, char *buf, size_t size)
{
  _cleanup_ (moat_ctl_target_free) struct moat_ctl_target t = { 0 };
  _cleanup_record_ struct moat_record rec = { 0 };
  moat_err_t ignored = { 0 };

  if (g->kind == MOAT_GRANT_PEER && g->peer && moat_ctl_find (g->peer, &t, &ignored) == 0 && t.n > 0
      && ctl_record_read (t.atts[0].network, t.atts[0].key, &rec, &ignored) > 0)
    {
      moat_grant_label (g, rec.name, buf, size);
      return;
    }
  moat_grant_label (g, NULL, buf, size);
}

/* --- resolve --------------------------------------------------------------------------- */

static bool
label_is (const struct moat_record *r, const char *key, const char *value)
{
  _cleanup_json_ json_t *labels = user_labels (r);
  const char *v = json_string_value (json_object_get (labels, key));

  return v && strcmp (v, value) == 0;
}

int
moat_ctl_resolve (const char *app, const char *user, char addr[16], moat_err_t *err)
{
  _cleanup_strv_ char **networks = NULL;
  const char *found = NULL;
  _cleanup_free_ char *found_id = NULL;

  addr[0] = '\0';
  if (moat_networks_list (&networks, err) < 0)
    return -1;
  for (char **net = networks; *net; net++)
    {
      _cleanup_ (ctl_records_free) struct records rs = { 0 };

      if (ctl_records_load (*net, &rs, err) < 0)
        return -1;
      for (size_t i = 0; i < rs.n; i++)
        {
          const struct moat_record *r = &rs.v[i];

          /* The answer is an IPv4 address: an IPv6-only container has none. */
          if (r->v6only || !label_is (r, "app", app) || !label_is (r, "user", user))
            continue;
          if (found_id && strcmp (found_id, r->container_id) != 0)
            return moat_error (err, MOAT_E_CONFIG, 0,
                               "app=%s,user=%s: several containers (%.12s, %.12s)", app, user,
                               found_id, r->container_id);
          if (found)
            continue;
          inet_ntop (AF_INET, &r->addr, addr, INET_ADDRSTRLEN);
          found = addr;
          if (!(found_id = strdup (r->container_id)))
            return moat_error_nomem (err, "moatctl");
        }
    }
  if (!found)
    return moat_error (err, MOAT_E_UNKNOWN, 0, "no container labelled app=%s,user=%s", app, user);
  return 0;
}
