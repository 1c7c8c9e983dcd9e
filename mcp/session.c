#include "mcp/session.h"
#include "base/log.h"
#include "base/sb.h"
#include "store/mcp.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often a session's last use is written: often enough to survive a
 * restart within its time-to-live, seldom enough to cost nothing. */
#define TOUCH_EVERY_MS 60000

struct sub {
  struct sub *next;
  char *server, *uri;
};

struct sess {
  struct sess *next;
  char id[MCP_SESSION_ID_LEN + 1];
  char key_id[40];
  char scope[MCP_SERVER_NAME_MAX + 1];
  char version[16];
  unsigned caps;
  int level;
  int streaming; /* its GET stream is open */
  cJSON *capabilities;
  char *client_info; /* JSON text, for the row */
  struct sub *subs;
  int nsubs;
  int64_t created_ms, last_seen_ms, written_ms;
};

struct mcp_sessions {
  struct store *st;
  int64_t ttl_ms;
  int max;
  int max_per_key;
  pthread_mutex_t mu;
  struct sess **bucket;
  size_t nbucket; /* a power of two */
  int n;
};

static const char *const level_names[] = {
    "debug", "info",     "notice", "warning",
    "error", "critical", "alert",  "emergency",
};

int mcp_level_parse(const char *name)
{
  for(size_t i = 0; name && i < SB_ARRAY_LEN(level_names); i++)
    if(!strcmp(name, level_names[i]))
      return (int)i;
  return -1;
}

static size_t slot(const struct mcp_sessions *ss, const char *id)
{
  size_t h = 5381;

  for(; *id; id++)
    h = h * 33 + (unsigned char)*id;
  return h & (ss->nbucket - 1);
}

static unsigned caps_of(const cJSON *c)
{
  unsigned caps = 0;

  if(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(c, "sampling")))
    caps |= MCP_CAP_SAMPLING;
  if(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(c, "elicitation")))
    caps |= MCP_CAP_ELICITATION;
  if(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(c, "roots")))
    caps |= MCP_CAP_ROOTS;
  return caps;
}

static void sess_free(struct sess *s)
{
  while(s->subs) {
    struct sub *b = s->subs;
    s->subs = b->next;
    free(b->server);
    free(b->uri);
    free(b);
  }
  cJSON_Delete(s->capabilities);
  free(s->client_info);
  free(s);
}

/* The row of s, queued. */
static void persist(struct mcp_sessions *ss, struct sess *s)
{
  struct store_mcp_session *row = sb_calloc(1, sizeof(*row));

  row->id = sb_strdup(s->id);
  row->key_id = s->key_id[0] ? sb_strdup(s->key_id) : NULL;
  row->scope = sb_strdup(s->scope);
  row->protocol_version = sb_strdup(s->version);
  row->client_info = s->client_info ? sb_strdup(s->client_info) : NULL;
  row->capabilities = s->capabilities ? cJSON_PrintUnformatted(s->capabilities)
                                      : sb_strdup("{}");
  row->log_level = s->level >= 0 ? sb_strdup(level_names[s->level]) : NULL;
  row->created_ms = s->created_ms;
  row->last_seen_ms = s->last_seen_ms;
  s->written_ms = s->last_seen_ms;
  if(store_mcp_session_put(ss->st, row))
    log_event(LOG_WARN, "mcp session not saved (store queue full)",
              LOG_S("session", s->id), LOG_END);
}

static void insert(struct mcp_sessions *ss, struct sess *s)
{
  size_t i = slot(ss, s->id);

  s->next = ss->bucket[i];
  ss->bucket[i] = s;
  ss->n++;
}

/* Unlink and free the session of id; 1 when there was one. */
static int unlink_id(struct mcp_sessions *ss, const char *id)
{
  struct sess **pp = &ss->bucket[slot(ss, id)];

  for(; *pp; pp = &(*pp)->next)
    if(!strcmp((*pp)->id, id)) {
      struct sess *s = *pp;
      *pp = s->next;
      sess_free(s);
      ss->n--;
      return 1;
    }
  return 0;
}

/* The live session of id; an expired one is ended on the way. */
static struct sess *lookup(struct mcp_sessions *ss, const char *id,
                           int64_t now_ms)
{
  struct sess *s = ss->bucket[slot(ss, id)];

  while(s && strcmp(s->id, id))
    s = s->next;
  if(s && now_ms - s->last_seen_ms > ss->ttl_ms) {
    store_mcp_session_delete(ss->st, id);
    unlink_id(ss, id);
    return NULL;
  }
  return s;
}

/* End every expired session. */
static void sweep(struct mcp_sessions *ss, int64_t now_ms)
{
  for(size_t i = 0; i < ss->nbucket; i++) {
    struct sess **pp = &ss->bucket[i];
    while(*pp) {
      struct sess *s = *pp;
      if(now_ms - s->last_seen_ms > ss->ttl_ms) {
        store_mcp_session_delete(ss->st, s->id);
        *pp = s->next;
        sess_free(s);
        ss->n--;
      } else {
        pp = &s->next;
      }
    }
  }
}

int mcp_sessions_open(struct store *st, const char *db_path,
                      const struct config_mcp *cfg, struct mcp_sessions **out,
                      char *err, size_t errlen)
{
  struct mcp_sessions *ss = sb_calloc(1, sizeof(*ss));
  struct store_mcp_session *rows = NULL;
  int64_t now = sb_now_ms();
  int n = 0, rc;

  ss->st = st;
  ss->ttl_ms = (int64_t)cfg->session_ttl_s * 1000;
  ss->max = cfg->max_sessions;
  ss->max_per_key = cfg->max_sessions_per_key > 0 ? cfg->max_sessions_per_key
                                                  : cfg->max_sessions;
  ss->nbucket = 64;
  while(ss->nbucket < (size_t)ss->max)
    ss->nbucket <<= 1;
  ss->bucket = sb_calloc(ss->nbucket, sizeof(*ss->bucket));
  pthread_mutex_init(&ss->mu, NULL);
  rc = store_mcp_sessions_load(db_path, now - ss->ttl_ms, &rows, &n, err,
                               errlen);
  if(rc) {
    mcp_sessions_close(ss);
    return rc;
  }
  for(int i = 0; i < n; i++) {
    struct sess *s = sb_calloc(1, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "%s", rows[i].id);
    snprintf(s->key_id, sizeof(s->key_id), "%s",
             rows[i].key_id ? rows[i].key_id : "");
    snprintf(s->scope, sizeof(s->scope), "%s",
             rows[i].scope ? rows[i].scope : "");
    snprintf(s->version, sizeof(s->version), "%s",
             rows[i].protocol_version ? rows[i].protocol_version : "");
    s->capabilities =
        rows[i].capabilities ? cJSON_Parse(rows[i].capabilities) : NULL;
    s->caps = caps_of(s->capabilities);
    s->client_info =
        rows[i].client_info ? sb_strdup(rows[i].client_info) : NULL;
    s->level = mcp_level_parse(rows[i].log_level);
    s->created_ms = rows[i].created_ms;
    s->last_seen_ms = s->written_ms = rows[i].last_seen_ms;
    if(strlen(rows[i].id) != MCP_SESSION_ID_LEN || ss->n >= ss->max) {
      sess_free(s);
      continue;
    }
    insert(ss, s);
  }
  store_mcp_sessions_free(rows, n);
  if(ss->n)
    log_event(LOG_INFO, "mcp sessions restored", LOG_I("sessions", ss->n),
              LOG_END);
  *out = ss;
  return 0;
}

void mcp_sessions_close(struct mcp_sessions *ss)
{
  if(!ss)
    return;
  for(size_t i = 0; i < ss->nbucket; i++)
    while(ss->bucket[i]) {
      struct sess *s = ss->bucket[i];
      ss->bucket[i] = s->next;
      sess_free(s);
    }
  free(ss->bucket);
  pthread_mutex_destroy(&ss->mu);
  free(ss);
}

int mcp_sessions_count(struct mcp_sessions *ss)
{
  int n;

  pthread_mutex_lock(&ss->mu);
  n = ss->n;
  pthread_mutex_unlock(&ss->mu);
  return n;
}

static void copy_out(const struct sess *s, int want_caps,
                     struct mcp_session *out)
{
  memset(out, 0, sizeof(*out));
  memcpy(out->id, s->id, sizeof(out->id));
  memcpy(out->key_id, s->key_id, sizeof(out->key_id));
  memcpy(out->scope, s->scope, sizeof(out->scope));
  memcpy(out->version, s->version, sizeof(out->version));
  out->caps = s->caps;
  out->level = s->level;
  if(want_caps && s->capabilities)
    out->capabilities = cJSON_Duplicate(s->capabilities, 1);
}

/* One key may hold at most max_per_key sessions: past that its least
 * recently used one ends (clients that never DELETE keep working, and one
 * key cannot take every session from the others). Called with mu held. */
static void evict_key_lru(struct mcp_sessions *ss, const char *key_id)
{
  struct sess *oldest = NULL;
  int n = 0;

  for(size_t i = 0; i < ss->nbucket; i++)
    for(struct sess *o = ss->bucket[i]; o; o = o->next)
      if(!strcmp(o->key_id, key_id)) {
        n++;
        if(!o->streaming && (!oldest || o->last_seen_ms < oldest->last_seen_ms))
          oldest = o;
      }
  if(n < ss->max_per_key || !oldest)
    return;
  log_event(LOG_INFO, "mcp session ended: its key opened too many",
            LOG_S("session", oldest->id), LOG_I("sessions", n), LOG_END);
  store_mcp_session_delete(ss->st, oldest->id);
  unlink_id(ss, oldest->id);
}

int mcp_session_create(struct mcp_sessions *ss, const char *key_id,
                       const char *scope, const char *version,
                       const cJSON *client_info, const cJSON *capabilities,
                       int64_t now_ms, struct mcp_session *out)
{
  unsigned char rnd[MCP_SESSION_ID_LEN / 2];
  struct sess *s;

  /* Unguessable: the id is what a client holds on to between requests
   * (its key is checked as well). */
  if(RAND_bytes(rnd, sizeof(rnd)) != 1)
    return SB_EIO;
  s = sb_calloc(1, sizeof(*s));
  for(size_t i = 0; i < sizeof(rnd); i++)
    snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
  snprintf(s->key_id, sizeof(s->key_id), "%s", key_id ? key_id : "");
  snprintf(s->scope, sizeof(s->scope), "%s", scope ? scope : "");
  snprintf(s->version, sizeof(s->version), "%s", version);
  s->capabilities = capabilities ? cJSON_Duplicate(capabilities, 1) : NULL;
  s->caps = caps_of(capabilities);
  s->client_info = client_info ? cJSON_PrintUnformatted(client_info) : NULL;
  s->level = -1;
  s->created_ms = s->last_seen_ms = now_ms;
  pthread_mutex_lock(&ss->mu);
  evict_key_lru(ss, s->key_id);
  if(ss->n >= ss->max)
    sweep(ss, now_ms);
  if(ss->n >= ss->max) {
    pthread_mutex_unlock(&ss->mu);
    sess_free(s);
    return SB_EAGAIN;
  }
  insert(ss, s);
  copy_out(s, 0, out);
  persist(ss, s);
  pthread_mutex_unlock(&ss->mu);
  return 0;
}

int mcp_session_find(struct mcp_sessions *ss, const char *id, int64_t now_ms,
                     int want_caps, struct mcp_session *out)
{
  struct sess *s;

  if(strlen(id) != MCP_SESSION_ID_LEN)
    return SB_ENOTFOUND;
  pthread_mutex_lock(&ss->mu);
  s = lookup(ss, id, now_ms);
  if(s) {
    s->last_seen_ms = now_ms;
    if(now_ms - s->written_ms >= TOUCH_EVERY_MS) {
      s->written_ms = now_ms;
      store_mcp_session_touch(ss->st, id, now_ms);
    }
    copy_out(s, want_caps, out);
  }
  pthread_mutex_unlock(&ss->mu);
  return s ? 0 : SB_ENOTFOUND;
}

int mcp_session_set_level(struct mcp_sessions *ss, const char *id, int level)
{
  struct sess *s;

  pthread_mutex_lock(&ss->mu);
  s = lookup(ss, id, sb_now_ms());
  if(s) {
    s->level = level;
    persist(ss, s);
  }
  pthread_mutex_unlock(&ss->mu);
  return s ? 0 : SB_ENOTFOUND;
}

int mcp_session_claim_stream(struct mcp_sessions *ss, const char *id)
{
  struct sess *s;
  int rc = 0;

  pthread_mutex_lock(&ss->mu);
  s = lookup(ss, id, sb_now_ms());
  if(!s)
    rc = SB_ENOTFOUND;
  else if(s->streaming)
    rc = SB_EAGAIN;
  else
    s->streaming = 1;
  pthread_mutex_unlock(&ss->mu);
  return rc;
}

void mcp_session_release_stream(struct mcp_sessions *ss, const char *id)
{
  struct sess *s;

  pthread_mutex_lock(&ss->mu);
  s = ss->bucket[slot(ss, id)];
  while(s && strcmp(s->id, id))
    s = s->next;
  if(s)
    s->streaming = 0;
  pthread_mutex_unlock(&ss->mu);
}

static struct sub **find_sub(struct sess *s, const char *server,
                             const char *uri)
{
  struct sub **pp;

  for(pp = &s->subs; *pp; pp = &(*pp)->next)
    if(!strcmp((*pp)->server, server) && !strcmp((*pp)->uri, uri))
      return pp;
  return NULL;
}

int mcp_session_subscribe(struct mcp_sessions *ss, const char *id,
                          const char *server, const char *uri)
{
  struct sess *s;
  int rc = 0;

  pthread_mutex_lock(&ss->mu);
  s = lookup(ss, id, sb_now_ms());
  if(!s) {
    rc = SB_ENOTFOUND;
  } else if(!find_sub(s, server, uri)) {
    if(s->nsubs >= MCP_SESSION_MAX_SUBS) {
      rc = SB_ETOOBIG;
    } else {
      struct sub *b = sb_calloc(1, sizeof(*b));
      b->server = sb_strdup(server);
      b->uri = sb_strdup(uri);
      b->next = s->subs;
      s->subs = b;
      s->nsubs++;
    }
  }
  pthread_mutex_unlock(&ss->mu);
  return rc;
}

int mcp_session_unsubscribe(struct mcp_sessions *ss, const char *id,
                            const char *server, const char *uri, int *others)
{
  struct sess *s;
  struct sub **pp;
  int rc = 0;

  *others = 0;
  pthread_mutex_lock(&ss->mu);
  s = lookup(ss, id, sb_now_ms());
  if(!s) {
    rc = SB_ENOTFOUND;
  } else if((pp = find_sub(s, server, uri))) {
    struct sub *b = *pp;
    *pp = b->next;
    free(b->server);
    free(b->uri);
    free(b);
    s->nsubs--;
  }
  /* Who else holds it: a walk over every session, as rare as an
   * unsubscribe is. */
  for(size_t i = 0; i < ss->nbucket; i++)
    for(struct sess *o = ss->bucket[i]; o; o = o->next)
      *others += o->subs && find_sub(o, server, uri) != NULL;
  pthread_mutex_unlock(&ss->mu);
  return rc;
}

int mcp_session_subscribed(struct mcp_sessions *ss, const char *id,
                           const char *server, const char *uri)
{
  struct sess *s;
  int yes;

  pthread_mutex_lock(&ss->mu);
  s = lookup(ss, id, sb_now_ms());
  yes = s && find_sub(s, server, uri);
  pthread_mutex_unlock(&ss->mu);
  return yes;
}

int mcp_session_end(struct mcp_sessions *ss, const char *id)
{
  int found;

  pthread_mutex_lock(&ss->mu);
  found = unlink_id(ss, id);
  pthread_mutex_unlock(&ss->mu);
  if(found)
    store_mcp_session_delete(ss->st, id);
  return found ? 0 : SB_ENOTFOUND;
}
