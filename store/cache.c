/*
 * cache.c - the response cache's entries (cache.h): a SQLite file of
 * their own, an in-memory index, and a writer thread.
 *
 * Threads: callers only touch the index and the queue, both under one
 * mutex (mu), and never the disk, except store_cache_read() (a reader
 * connection of its own) and store_cache_purge() (which waits for the
 * writer). The writer thread owns its connection (wdb) from open to
 * close. Each pass of the writer takes, in one critical section, every
 * queued put, the LRU entries beyond max_bytes, the expired entries and
 * a purge if one is waiting, so that the index and what the pass then
 * writes in one transaction always agree: a row is written before any
 * delete that the index decided after its put.
 */
#include "store/cache.h"
#include "base/log.h"
#include "base/sb.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_BUSY_TIMEOUT_MS 5000
/* The index starts with this many buckets and doubles as it fills. */
#define CACHE_BUCKETS_MIN 1024
/* Reader connections kept open between store_cache_read() calls. */
#define CACHE_READERS 4
/* Hits remembered between passes for the rows' used_ms; more are not
 * written (LRU order across a restart is best effort). */
#define CACHE_TOUCH_MAX 4096

#define CACHE_SCHEMA_SQL                                                       \
  "CREATE TABLE IF NOT EXISTS entries("                                        \
  " key BLOB PRIMARY KEY, scope TEXT NOT NULL, data BLOB NOT NULL,"            \
  " bytes INTEGER NOT NULL, cost_usd REAL, created_ms INTEGER NOT NULL,"       \
  " expires_ms INTEGER NOT NULL, used_ms INTEGER NOT NULL);"                   \
  "CREATE INDEX IF NOT EXISTS entries_scope ON entries(scope);"                \
  "CREATE INDEX IF NOT EXISTS entries_expires ON entries(expires_ms);"         \
  "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY,"                     \
  " value INTEGER NOT NULL);"                                                  \
  "INSERT OR IGNORE INTO meta(name, value) VALUES('generation', 0);"

#define CACHE_INSERT_SQL                                                       \
  "INSERT OR REPLACE INTO entries(key, scope, data, bytes, cost_usd,"          \
  " created_ms, expires_ms, used_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"

#define CACHE_GEN_SQL "SELECT value FROM meta WHERE name = 'generation'"

/* ---- the index ---- */

struct cache_entry {
  unsigned char key[STORE_CACHE_KEY_LEN];
  char *scope;
  struct store_cache_meta meta;
  int64_t used_ms;
  int touched;                     /* in the touched list since a pass */
  struct cache_entry *hnext;       /* hash chain */
  struct cache_entry *prev, *next; /* LRU list, through the sentinel */
  /* The data held in memory (a copy of the row), or NULL: a hit is then
   * served without the thread pool and the file. In their own LRU list,
   * within the options' mem_bytes. */
  char *mem;
  size_t mem_len;
  struct cache_entry *mprev, *mnext;
};

/* One whole index, so that a reload can build another off-lock and swap
 * the pointer. lru.next is the most recently used, lru.prev the least. */
struct cache_index {
  struct cache_entry **buckets;
  size_t nbuckets; /* a power of two */
  int64_t count, bytes;
  struct cache_entry lru;
  int64_t mem_bytes;      /* of the entries' data held in memory */
  struct cache_entry res; /* the entries with data in memory, MRU first */
};

/* The key is a SHA-256 already: its first bytes are as good a hash as
 * any. */
static size_t key_hash(const unsigned char *key)
{
  uint64_t h;

  memcpy(&h, key, sizeof(h));
  return (size_t)h;
}

static struct cache_index *idx_new(void)
{
  struct cache_index *x = sb_calloc(1, sizeof(*x));

  x->nbuckets = CACHE_BUCKETS_MIN;
  x->buckets = sb_calloc(x->nbuckets, sizeof(*x->buckets));
  x->lru.next = x->lru.prev = &x->lru;
  x->res.mnext = x->res.mprev = &x->res;
  return x;
}

static void entry_free(struct cache_entry *e)
{
  free(e->mem);
  free(e->scope);
  free(e);
}

/* e's data no longer held in memory. */
static void mem_drop(struct cache_index *x, struct cache_entry *e)
{
  if(!e->mem)
    return;
  e->mprev->mnext = e->mnext;
  e->mnext->mprev = e->mprev;
  x->mem_bytes -= (int64_t)e->mem_len;
  free(e->mem);
  e->mem = NULL;
  e->mem_len = 0;
}

static void mem_push_mru(struct cache_index *x, struct cache_entry *e)
{
  e->mprev = &x->res;
  e->mnext = x->res.mnext;
  x->res.mnext->mprev = e;
  x->res.mnext = e;
}

/* Hold data (taken; len bytes and a NUL) as e's, the most recently used,
 * dropping the least recently used copies beyond max: never e's own,
 * which is not kept when it alone passes max. */
static void mem_keep(struct cache_index *x, struct cache_entry *e, char *data,
                     size_t len, int64_t max)
{
  mem_drop(x, e);
  if((int64_t)len > max) {
    free(data);
    return;
  }
  e->mem = data;
  e->mem_len = len;
  mem_push_mru(x, e);
  x->mem_bytes += (int64_t)len;
  while(x->mem_bytes > max)
    mem_drop(x, x->res.mprev);
}

static void idx_free(struct cache_index *x)
{
  struct cache_entry *e, *next;

  if(!x)
    return;
  for(e = x->lru.next; e != &x->lru; e = next) {
    next = e->next;
    entry_free(e);
  }
  free(x->buckets);
  free(x);
}

static struct cache_entry **idx_slot(struct cache_index *x,
                                     const unsigned char *key)
{
  struct cache_entry **p = &x->buckets[key_hash(key) & (x->nbuckets - 1)];

  while(*p && memcmp((*p)->key, key, STORE_CACHE_KEY_LEN))
    p = &(*p)->hnext;
  return p;
}

static struct cache_entry *idx_find(struct cache_index *x,
                                    const unsigned char *key)
{
  return *idx_slot(x, key);
}

static void lru_unlink(struct cache_entry *e)
{
  e->prev->next = e->next;
  e->next->prev = e->prev;
}

static void lru_push_mru(struct cache_index *x, struct cache_entry *e)
{
  e->prev = &x->lru;
  e->next = x->lru.next;
  x->lru.next->prev = e;
  x->lru.next = e;
}

static void idx_grow(struct cache_index *x)
{
  size_t n = x->nbuckets * 2;
  struct cache_entry **b = sb_calloc(n, sizeof(*b));

  for(size_t i = 0; i < x->nbuckets; i++) {
    struct cache_entry *e = x->buckets[i], *next;
    for(; e; e = next) {
      next = e->hnext;
      e->hnext = b[key_hash(e->key) & (n - 1)];
      b[key_hash(e->key) & (n - 1)] = e;
    }
  }
  free(x->buckets);
  x->buckets = b;
  x->nbuckets = n;
}

/* Unlink e from both the chain and the list, and free it. */
static void idx_remove(struct cache_index *x, struct cache_entry *e)
{
  struct cache_entry **p = idx_slot(x, e->key);

  if(SB_NEVER(*p != e))
    return;
  *p = e->hnext;
  lru_unlink(e);
  mem_drop(x, e);
  x->count--;
  x->bytes -= e->meta.bytes;
  entry_free(e);
}

/* Insert or replace the entry under key, as the most recently used. */
static void idx_put(struct cache_index *x, const unsigned char *key,
                    const char *scope, const struct store_cache_meta *meta,
                    int64_t used_ms)
{
  struct cache_entry **p = idx_slot(x, key), *e = *p;

  if(e) {
    lru_unlink(e);
    mem_drop(x, e); /* another answer now */
    x->bytes -= e->meta.bytes;
    if(strcmp(e->scope, scope)) {
      free(e->scope);
      e->scope = sb_strdup(scope);
    }
  } else {
    e = sb_calloc(1, sizeof(*e));
    memcpy(e->key, key, STORE_CACHE_KEY_LEN);
    e->scope = sb_strdup(scope);
    *p = e;
    x->count++;
  }
  e->meta = *meta;
  e->used_ms = used_ms;
  x->bytes += meta->bytes;
  lru_push_mru(x, e);
  if((size_t)x->count > x->nbuckets)
    idx_grow(x);
}

/* ---- the cache ---- */

/* A put waiting for the writer (it owns scope and data). */
struct cache_item {
  unsigned char key[STORE_CACHE_KEY_LEN];
  char *scope;
  char *data;
  size_t len;
  struct store_cache_meta meta;
  int64_t now_ms;
};

/* A purge waiting for the writer (on the purging caller's stack). */
struct cache_purge {
  const char *scope; /* NULL: all */
  int done;
  int64_t result;
  struct cache_purge *next;
};

struct cache_touch {
  unsigned char key[STORE_CACHE_KEY_LEN];
  int64_t used_ms;
};

struct store_cache {
  char *path;
  int64_t max_bytes;
  int64_t mem_max; /* data held in memory, every entry's together */
  int sweep_ms;
  sqlite3 *wdb; /* the writer thread's, after open */
  sqlite3_stmt *insert, *remove, *touch;
  int64_t gen; /* the file's generation the index reflects (writer) */
  pthread_t writer;
  int failing; /* writer only: a failure burst is logged once */

  /* Guarded by mu: the index, the queue, the purges, the touched keys,
   * the counts. The batch being written stays visible in inflight until
   * it is committed, so that store_cache_read() finds a put either
   * there, in the queue or in the file. */
  pthread_mutex_t mu;
  pthread_cond_t cv;      /* the writer's: work, or closing */
  pthread_cond_t done_cv; /* the purgers': a purge is done */
  struct cache_index *idx;
  struct cache_item *ring, *inflight;
  int cap, head, count, ninflight;
  int closing;
  struct cache_purge *purges;
  struct cache_touch *touched;
  int ntouched;
  struct store_cache_stats st;

  /* Reader connections, guarded by rmu. */
  pthread_mutex_t rmu;
  sqlite3 *readers[CACHE_READERS];
  int nreaders;
};

static void item_clear(struct cache_item *it)
{
  free(it->scope);
  free(it->data);
  it->scope = it->data = NULL;
}

/* ---- SQLite helpers ---- */

static int db_fail(sqlite3 *db, const char *what, char *err, size_t errlen)
{
  sb_errf(err, errlen, "cache: %s: %s", what, sqlite3_errmsg(db));
  return SB_EDB;
}

static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
  sqlite3_stmt *st = NULL;
  int rc;

  *out = 0;
  rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if(rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if(rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  } else if(rc == SQLITE_DONE)
    rc = SQLITE_OK;
  sqlite3_finalize(st);
  return rc;
}

static int db_open(const char *path, int flags, sqlite3 **out, char *err,
                   size_t errlen)
{
  sqlite3 *db = NULL;

  *out = NULL;
  if(sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) !=
     SQLITE_OK) {
    sb_errf(err, errlen, "cannot open cache file %s: %s", path,
            db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return SB_EDB;
  }
  sqlite3_busy_timeout(db, CACHE_BUSY_TIMEOUT_MS);
  *out = db;
  return SB_OK;
}

/* WAL so that readers (store_cache_read, the CLI) never wait for the
 * writer; synchronous=NORMAL because a cache may lose its last commits
 * on power loss. The schema is created in one IMMEDIATE transaction, so
 * that a gateway and the CLI opening a new file at once do not race. */
static int db_setup(sqlite3 *db, char *err, size_t errlen)
{
  char *msg = NULL;
  int64_t unused;

  if(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK)
    return db_fail(db, "PRAGMA journal_mode", err, errlen);
  if(sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) !=
     SQLITE_OK)
    return db_fail(db, "PRAGMA synchronous", err, errlen);
  if(sqlite3_exec(db, "BEGIN IMMEDIATE;" CACHE_SCHEMA_SQL "COMMIT", NULL, NULL,
                  &msg) != SQLITE_OK) {
    sb_errf(err, errlen, "cache: creating the schema: %s",
            msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    if(!sqlite3_get_autocommit(db))
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return SB_EDB;
  }
  /* A file that is not ours fails here rather than on the first put. */
  if(query_int(db, "SELECT count(*) FROM entries WHERE 0", &unused) !=
     SQLITE_OK)
    return db_fail(db, "reading entries", err, errlen);
  return SB_OK;
}

/* Every unexpired row of db into a new index, least recently used first
 * so that the list ends up in the file's order, and the generation read
 * in the same transaction (a purge after it is seen on the next check). */
static int load_index(sqlite3 *db, int64_t now_ms, struct cache_index **out,
                      int64_t *gen, char *err, size_t errlen)
{
  struct cache_index *x = idx_new();
  sqlite3_stmt *st = NULL;
  int rc = SB_OK, step;

  *out = NULL;
  if(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    idx_free(x);
    return db_fail(db, "BEGIN", err, errlen);
  }
  if(query_int(db, CACHE_GEN_SQL, gen) != SQLITE_OK)
    rc = db_fail(db, "reading the generation", err, errlen);
  if(!rc && sqlite3_prepare_v2(db,
                               "SELECT key, scope, bytes, cost_usd,"
                               " expires_ms, used_ms FROM entries"
                               " WHERE expires_ms > ?1"
                               " ORDER BY used_ms, rowid",
                               -1, &st, NULL) != SQLITE_OK)
    rc = db_fail(db, "loading the index", err, errlen);
  if(!rc) {
    sqlite3_bind_int64(st, 1, now_ms);
    while((step = sqlite3_step(st)) == SQLITE_ROW) {
      const unsigned char *key = sqlite3_column_blob(st, 0);
      const char *scope = (const char *)sqlite3_column_text(st, 1);
      struct store_cache_meta m;
      /* Not a row this module wrote: skipped rather than trusted. */
      if(!key || sqlite3_column_bytes(st, 0) != STORE_CACHE_KEY_LEN || !scope)
        continue;
      m.bytes = sqlite3_column_int64(st, 2);
      m.cost_usd = sqlite3_column_type(st, 3) == SQLITE_NULL
                       ? -1
                       : sqlite3_column_double(st, 3);
      m.expires_ms = sqlite3_column_int64(st, 4);
      idx_put(x, key, scope, &m, sqlite3_column_int64(st, 5));
    }
    if(step != SQLITE_DONE)
      rc = db_fail(db, "loading the index", err, errlen);
  }
  sqlite3_finalize(st);
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  if(rc) {
    idx_free(x);
    return rc;
  }
  *out = x;
  return SB_OK;
}

/* ---- the writer thread ---- */

/* What one pass takes under mu and then writes in one transaction. */
struct cache_pass {
  int n;                                      /* puts: c->inflight[0..n) */
  unsigned char (*kill)[STORE_CACHE_KEY_LEN]; /* evicted keys */
  int nkill, killcap;
  struct cache_touch *touch; /* used_ms to write */
  int ntouch;
  int sweep;      /* delete expired rows, check the generation */
  int64_t now_ms; /* what expired means in this pass */
  struct cache_purge *purge;
  int stop; /* closing: the last pass */
};

static void pass_kill(struct cache_pass *p, const unsigned char *key)
{
  if(p->nkill == p->killcap) {
    p->killcap = p->killcap ? p->killcap * 2 : 64;
    p->kill = sb_realloc(p->kill, (size_t)p->killcap * sizeof(*p->kill));
  }
  memcpy(p->kill[p->nkill++], key, STORE_CACHE_KEY_LEN);
}

/* Least recently used first, until the entries fit (under mu). */
static void evict(struct store_cache *c, struct cache_pass *p)
{
  struct cache_index *x = c->idx;

  while(x->bytes > c->max_bytes && x->lru.prev != &x->lru) {
    pass_kill(p, x->lru.prev->key);
    idx_remove(x, x->lru.prev);
    c->st.evicted++;
  }
}

/* Drop the expired entries from the index (under mu); their rows go by
 * the pass's DELETE on the same now_ms. A walk of the whole list once
 * per sweep_ms: pointer chasing over entries of kilobytes of answers
 * each, short next to the sweep's own disk work. */
static void expire(struct store_cache *c, int64_t now_ms)
{
  struct cache_index *x = c->idx;
  struct cache_entry *e, *prev;

  for(e = x->lru.prev; e != &x->lru; e = prev) {
    prev = e->prev;
    if(e->meta.expires_ms <= now_ms) {
      idx_remove(x, e);
      c->st.expired++;
    }
  }
}

/* The used_ms of the entries hit since the last pass (under mu). */
static void take_touches(struct store_cache *c, struct cache_pass *p)
{
  p->touch = c->touched;
  p->ntouch = 0;
  for(int i = 0; i < c->ntouched; i++) {
    struct cache_entry *e = idx_find(c->idx, c->touched[i].key);
    if(!e)
      continue;
    e->touched = 0;
    p->touch[p->ntouch] = c->touched[i];
    p->touch[p->ntouch++].used_ms = e->used_ms;
  }
  c->touched = NULL;
  c->ntouched = 0;
}

static void unindex_scope(struct store_cache *c, const char *scope)
{
  struct cache_index *x = c->idx;
  struct cache_entry *e, *next;

  for(e = x->lru.next; e != &x->lru; e = next) {
    next = e->next;
    if(!scope || !strcmp(e->scope, scope))
      idx_remove(x, e);
  }
}

/* Everything the pass will write (under mu). */
static void collect(struct store_cache *c, struct cache_pass *p)
{
  for(p->n = 0; c->count; p->n++) {
    c->inflight[p->n] = c->ring[c->head];
    c->head = (c->head + 1) % c->cap;
    c->count--;
  }
  c->ninflight = p->n;
  if(p->sweep) {
    expire(c, p->now_ms);
    take_touches(c, p);
  }
  evict(c, p);
  p->purge = c->purges;
  if(p->purge) {
    c->purges = p->purge->next;
    unindex_scope(c, p->purge->scope);
  }
  p->stop = c->closing;
}

static void bind_key(sqlite3_stmt *st, int i, const unsigned char *key)
{
  sqlite3_bind_blob(st, i, key, STORE_CACHE_KEY_LEN, SQLITE_STATIC);
}

static int step_reset(sqlite3_stmt *st)
{
  int rc = sqlite3_step(st);

  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int write_put(struct store_cache *c, const struct cache_item *it)
{
  sqlite3_stmt *st = c->insert;

  bind_key(st, 1, it->key);
  sqlite3_bind_text(st, 2, it->scope, -1, SQLITE_STATIC);
  /* A zero-length blob binds as NULL from a NULL pointer: data is never
   * NULL (put copies into a buffer of len + 1). */
  sqlite3_bind_blob64(st, 3, it->data, it->len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, (sqlite3_int64)it->len);
  if(it->meta.cost_usd >= 0)
    sqlite3_bind_double(st, 5, it->meta.cost_usd);
  else
    sqlite3_bind_null(st, 5);
  sqlite3_bind_int64(st, 6, it->now_ms);
  sqlite3_bind_int64(st, 7, it->meta.expires_ms);
  sqlite3_bind_int64(st, 8, it->now_ms);
  return step_reset(st);
}

static int write_sweep(struct store_cache *c, const struct cache_pass *p)
{
  sqlite3_stmt *st = NULL;
  int rc;

  rc = sqlite3_prepare_v2(c->wdb, "DELETE FROM entries WHERE expires_ms <= ?1",
                          -1, &st, NULL);
  if(rc == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, p->now_ms);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  sqlite3_finalize(st);
  for(int i = 0; rc == SQLITE_OK && i < p->ntouch; i++) {
    sqlite3_bind_int64(c->touch, 1, p->touch[i].used_ms);
    bind_key(c->touch, 2, p->touch[i].key);
    rc = step_reset(c->touch);
  }
  return rc;
}

/* Delete the purge's rows and bump the generation; *reload when another
 * process bumped it since this index was loaded. */
static int write_purge(struct store_cache *c, struct cache_purge *pg,
                       int64_t *gen, int *reload)
{
  sqlite3_stmt *st = NULL;
  int64_t g;
  int rc;

  rc = sqlite3_prepare_v2(c->wdb,
                          pg->scope ? "DELETE FROM entries WHERE scope = ?1"
                                    : "DELETE FROM entries",
                          -1, &st, NULL);
  if(rc == SQLITE_OK) {
    if(pg->scope)
      sqlite3_bind_text(st, 1, pg->scope, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  sqlite3_finalize(st);
  if(rc != SQLITE_OK)
    return rc;
  pg->result = sqlite3_changes(c->wdb);
  rc = query_int(c->wdb, CACHE_GEN_SQL, &g);
  if(rc == SQLITE_OK)
    rc = sqlite3_exec(c->wdb,
                      "UPDATE meta SET value = value + 1"
                      " WHERE name = 'generation'",
                      NULL, NULL, NULL);
  *reload = g != c->gen;
  *gen = g + 1;
  return rc;
}

/* The pass's transaction: puts first, then every delete the index
 * decided after them. On failure all of it is rolled back and the puts
 * are lost (the index forgets them when a read finds no row). */
static int write_pass(struct store_cache *c, const struct cache_pass *p,
                      int64_t *gen, int *reload)
{
  int rc, i;

  rc = sqlite3_exec(c->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  for(i = 0; rc == SQLITE_OK && i < p->n; i++)
    rc = write_put(c, &c->inflight[i]);
  for(i = 0; rc == SQLITE_OK && i < p->nkill; i++) {
    bind_key(c->remove, 1, p->kill[i]);
    rc = step_reset(c->remove);
  }
  if(rc == SQLITE_OK && p->sweep)
    rc = write_sweep(c, p);
  if(rc == SQLITE_OK && p->purge)
    rc = write_purge(c, p->purge, gen, reload);
  if(rc == SQLITE_OK)
    rc = sqlite3_exec(c->wdb, "COMMIT", NULL, NULL, NULL);
  if(rc == SQLITE_OK) {
    if(c->failing)
      log_event(LOG_INFO, "cache: writes recovered", LOG_END);
    c->failing = 0;
    return SB_OK;
  }
  if(!c->failing)
    log_event(LOG_WARN, "cache: write failed; entries dropped",
              LOG_S("error", sqlite3_errmsg(c->wdb)), LOG_I("puts", p->n),
              LOG_END);
  c->failing = 1;
  if(!sqlite3_get_autocommit(c->wdb))
    sqlite3_exec(c->wdb, "ROLLBACK", NULL, NULL, NULL);
  return SB_EDB;
}

/* Another process purged: a new index from the file, built off-lock,
 * plus the puts queued since this pass (not in the file yet). */
static void reload(struct store_cache *c)
{
  struct cache_index *x, *old;
  char err[256];
  int64_t gen;

  if(load_index(c->wdb, sb_now_ms(), &x, &gen, err, sizeof(err))) {
    log_event(LOG_WARN, "cache: reloading the index failed",
              LOG_S("error", err), LOG_END);
    return;
  }
  pthread_mutex_lock(&c->mu);
  for(int i = 0; i < c->count; i++) {
    const struct cache_item *it = &c->ring[(c->head + i) % c->cap];
    idx_put(x, it->key, it->scope, &it->meta, it->now_ms);
  }
  old = c->idx;
  c->idx = x;
  pthread_mutex_unlock(&c->mu);
  c->gen = gen;
  idx_free(old);
}

/* On a sweep: whether another process bumped the generation. */
static int gen_changed(struct store_cache *c)
{
  int64_t g;

  return query_int(c->wdb, CACHE_GEN_SQL, &g) == SQLITE_OK && g != c->gen;
}

static void mono_deadline(struct timespec *ts, int64_t mono_us)
{
  ts->tv_sec = (time_t)(mono_us / 1000000);
  ts->tv_nsec = (long)(mono_us % 1000000) * 1000;
}

/* Sleep (under mu) until there is work or the sweep is due; 1 when the
 * sweep is due. */
static int wait_work(struct store_cache *c, int64_t sweep_at)
{
  struct timespec ts;

  mono_deadline(&ts, sweep_at);
  while(!c->count && !c->purges && !c->closing &&
        c->idx->bytes <= c->max_bytes) {
    if(sb_mono_us() >= sweep_at)
      return 1;
    pthread_cond_timedwait(&c->cv, &c->mu, &ts);
  }
  return sb_mono_us() >= sweep_at || c->closing;
}

static void *writer_main(void *arg)
{
  struct store_cache *c = arg;
  int64_t sweep_at = sb_mono_us() + (int64_t)c->sweep_ms * 1000;

  for(;;) {
    struct cache_pass p = {0};
    int64_t gen = 0;
    int rc, again = 0;

    pthread_mutex_lock(&c->mu);
    p.sweep = wait_work(c, sweep_at);
    p.now_ms = sb_now_ms();
    collect(c, &p);
    pthread_mutex_unlock(&c->mu);

    rc = write_pass(c, &p, &gen, &again);
    if(!rc && p.purge)
      c->gen = gen;
    if(!rc && p.sweep)
      again = again || gen_changed(c);
    pthread_mutex_lock(&c->mu);
    for(int i = 0; i < p.n; i++)
      item_clear(&c->inflight[i]);
    c->ninflight = 0;
    if(p.purge) {
      p.purge->result = rc ? SB_EDB : p.purge->result;
      c->st.purged += rc ? 0 : p.purge->result;
      p.purge->done = 1;
      pthread_cond_broadcast(&c->done_cv);
    }
    pthread_mutex_unlock(&c->mu);
    if(!rc && again)
      reload(c);
    if(p.sweep)
      sweep_at = sb_mono_us() + (int64_t)c->sweep_ms * 1000;
    free(p.kill);
    free(p.touch);
    if(p.stop)
      break;
  }
  return NULL;
}

/* ---- public API ---- */

static void cache_destroy(struct store_cache *c)
{
  sqlite3_finalize(c->insert);
  sqlite3_finalize(c->remove);
  sqlite3_finalize(c->touch);
  if(c->wdb && sqlite3_close(c->wdb) != SQLITE_OK)
    log_event(LOG_WARN, "cache: closing the file failed",
              LOG_S("error", sqlite3_errmsg(c->wdb)), LOG_END);
  for(int i = 0; i < c->nreaders; i++)
    sqlite3_close(c->readers[i]);
  for(int i = 0; i < c->count; i++)
    item_clear(&c->ring[(c->head + i) % c->cap]);
  idx_free(c->idx);
  pthread_cond_destroy(&c->cv);
  pthread_cond_destroy(&c->done_cv);
  pthread_mutex_destroy(&c->mu);
  pthread_mutex_destroy(&c->rmu);
  free(c->ring);
  free(c->inflight);
  free(c->touched);
  free(c->path);
  free(c);
}

static int prepare(struct store_cache *c, char *err, size_t errlen)
{
  static const unsigned flags = SQLITE_PREPARE_PERSISTENT;

  if(sqlite3_prepare_v3(c->wdb, CACHE_INSERT_SQL, -1, flags, &c->insert,
                        NULL) != SQLITE_OK ||
     sqlite3_prepare_v3(c->wdb, "DELETE FROM entries WHERE key = ?1", -1, flags,
                        &c->remove, NULL) != SQLITE_OK ||
     sqlite3_prepare_v3(c->wdb,
                        "UPDATE entries SET used_ms = ?1 WHERE key = ?2", -1,
                        flags, &c->touch, NULL) != SQLITE_OK)
    return db_fail(c->wdb, "preparing statements", err, errlen);
  return SB_OK;
}

static int start_writer(struct store_cache *c)
{
  return sb_thread_start(&c->writer, "sb-cache", writer_main, c);
}

int store_cache_open(const char *path, const struct store_cache_options *opt,
                     struct store_cache **out, char *err, size_t errlen)
{
  struct store_cache *c;
  pthread_condattr_t ca;
  int rc;

  *out = NULL;
  sb_errf(err, errlen, "%s", "");
  if(!path || !opt || opt->max_bytes <= 0 || opt->sweep_ms <= 0 ||
     opt->queue_max < 1 || opt->mem_bytes < 0) {
    sb_errf(err, errlen, "invalid cache options");
    return SB_EINVAL;
  }
  c = sb_calloc(1, sizeof(*c));
  c->path = sb_strdup(path);
  c->max_bytes = opt->max_bytes;
  c->mem_max = opt->mem_bytes;
  c->sweep_ms = opt->sweep_ms;
  c->cap = opt->queue_max;
  c->ring = sb_calloc((size_t)c->cap, sizeof(*c->ring));
  c->inflight = sb_calloc((size_t)c->cap, sizeof(*c->inflight));
  pthread_mutex_init(&c->mu, NULL);
  pthread_mutex_init(&c->rmu, NULL);
  /* The sweep's period must not jump with the wall clock. */
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&c->cv, &ca);
  pthread_cond_init(&c->done_cv, &ca);
  pthread_condattr_destroy(&ca);

  rc = db_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &c->wdb, err,
               errlen);
  if(!rc)
    rc = db_setup(c->wdb, err, errlen);
  if(!rc)
    rc = prepare(c, err, errlen);
  if(!rc)
    rc = load_index(c->wdb, sb_now_ms(), &c->idx, &c->gen, err, errlen);
  if(!rc) {
    int e = start_writer(c);
    if(e) {
      sb_errf(err, errlen, "cannot start the cache writer: %s", strerror(e));
      rc = SB_EIO;
    }
  }
  if(rc) {
    cache_destroy(c);
    return rc;
  }
  c->st.max_bytes = c->max_bytes;
  *out = c;
  return SB_OK;
}

void store_cache_close(struct store_cache *c)
{
  if(!c)
    return;
  pthread_mutex_lock(&c->mu);
  c->closing = 1;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
  pthread_join(c->writer, NULL);
  cache_destroy(c);
}

/* Remember a hit for the next pass's used_ms writes (under mu). */
static void touch(struct store_cache *c, struct cache_entry *e)
{
  if(e->touched)
    return;
  if(!c->touched)
    c->touched = sb_malloc(CACHE_TOUCH_MAX * sizeof(*c->touched));
  if(c->ntouched == CACHE_TOUCH_MAX)
    return;
  memcpy(c->touched[c->ntouched++].key, e->key, STORE_CACHE_KEY_LEN);
  e->touched = 1;
}

int store_cache_lookup(struct store_cache *c,
                       const unsigned char key[STORE_CACHE_KEY_LEN],
                       int64_t now_ms, struct store_cache_meta *meta)
{
  return store_cache_lookup_data(c, key, now_ms, meta, NULL, NULL);
}

int store_cache_lookup_data(struct store_cache *c,
                            const unsigned char key[STORE_CACHE_KEY_LEN],
                            int64_t now_ms, struct store_cache_meta *meta,
                            char **data, size_t *len)
{
  struct cache_entry *e;

  if(data) {
    *data = NULL;
    *len = 0;
  }
  pthread_mutex_lock(&c->mu);
  e = idx_find(c->idx, key);
  /* An expired entry stays until the sweep deletes its row too. */
  if(e && e->meta.expires_ms <= now_ms)
    e = NULL;
  if(e) {
    lru_unlink(e);
    lru_push_mru(c->idx, e);
    e->used_ms = now_ms;
    touch(c, e);
    if(meta)
      *meta = e->meta;
    if(data && e->mem) {
      /* Copied under the lock: entries are small next to a round trip
       * through the thread pool and the file. */
      *data = sb_malloc(e->mem_len + 1);
      memcpy(*data, e->mem, e->mem_len + 1);
      *len = e->mem_len;
      e->mprev->mnext = e->mnext;
      e->mnext->mprev = e->mprev;
      mem_push_mru(c->idx, e);
      c->st.mem_hits++;
    }
    c->st.hits++;
  } else
    c->st.misses++;
  pthread_mutex_unlock(&c->mu);
  return e != NULL;
}

/* The newest queued or in-flight put of key, copied (under mu): 1, or 0
 * when there is none. */
static int find_unwritten(struct store_cache *c, const unsigned char *key,
                          char **data, size_t *len)
{
  const struct cache_item *it = NULL;

  for(int i = c->count - 1; i >= 0 && !it; i--) {
    const struct cache_item *q = &c->ring[(c->head + i) % c->cap];
    if(!memcmp(q->key, key, STORE_CACHE_KEY_LEN))
      it = q;
  }
  for(int i = c->ninflight - 1; i >= 0 && !it; i--)
    if(!memcmp(c->inflight[i].key, key, STORE_CACHE_KEY_LEN))
      it = &c->inflight[i];
  if(!it)
    return 0;
  *data = sb_malloc(it->len + 1);
  memcpy(*data, it->data, it->len + 1);
  *len = it->len;
  return 1;
}

static sqlite3 *reader_take(struct store_cache *c)
{
  sqlite3 *db = NULL;

  pthread_mutex_lock(&c->rmu);
  if(c->nreaders)
    db = c->readers[--c->nreaders];
  pthread_mutex_unlock(&c->rmu);
  if(!db && db_open(c->path, SQLITE_OPEN_READONLY, &db, NULL, 0))
    return NULL;
  return db;
}

static void reader_give(struct store_cache *c, sqlite3 *db)
{
  pthread_mutex_lock(&c->rmu);
  if(c->nreaders < CACHE_READERS) {
    c->readers[c->nreaders++] = db;
    db = NULL;
  }
  pthread_mutex_unlock(&c->rmu);
  sqlite3_close(db);
}

/* The row of key from the file: 0 (data, len), SB_ENOTFOUND (none or
 * expired; *expired says which), or SB_EDB. */
static int read_row(struct store_cache *c, const unsigned char *key,
                    char **data, size_t *len, int *expired)
{
  sqlite3 *db = reader_take(c);
  sqlite3_stmt *st = NULL;
  int rc;

  if(!db)
    return SB_EDB;
  rc = sqlite3_prepare_v2(
      db, "SELECT data, expires_ms FROM entries WHERE key = ?1", -1, &st, NULL);
  if(rc == SQLITE_OK) {
    bind_key(st, 1, key);
    rc = sqlite3_step(st);
  }
  if(rc == SQLITE_ROW && sqlite3_column_int64(st, 1) <= sb_now_ms())
    *expired = 1;
  else if(rc == SQLITE_ROW) {
    const void *b = sqlite3_column_blob(st, 0);
    *len = (size_t)sqlite3_column_bytes(st, 0);
    *data = sb_malloc(*len + 1);
    if(*len)
      memcpy(*data, b, *len);
    (*data)[*len] = '\0';
  }
  sqlite3_finalize(st);
  reader_give(c, db);
  if(rc == SQLITE_ROW)
    return *data ? SB_OK : SB_ENOTFOUND;
  return rc == SQLITE_DONE ? SB_ENOTFOUND : SB_EDB;
}

int store_cache_read(struct store_cache *c,
                     const unsigned char key[STORE_CACHE_KEY_LEN], char **data,
                     size_t *len)
{
  struct cache_entry *e;
  int rc, expired = 0, found;

  *data = NULL;
  *len = 0;
  pthread_mutex_lock(&c->mu);
  found = find_unwritten(c, key, data, len);
  pthread_mutex_unlock(&c->mu);
  if(found)
    return SB_OK;
  rc = read_row(c, key, data, len, &expired);
  if(rc == SB_OK && c->mem_max > 0) {
    /* Read once from the file, then held for the next hits. */
    pthread_mutex_lock(&c->mu);
    e = idx_find(c->idx, key);
    if(e && !e->mem && e->meta.bytes == (int64_t)*len) {
      char *copy = sb_malloc(*len + 1);
      memcpy(copy, *data, *len + 1);
      mem_keep(c->idx, e, copy, *len, c->mem_max);
    }
    pthread_mutex_unlock(&c->mu);
  }
  if(rc != SB_ENOTFOUND)
    return rc;
  /* Gone from the file: the index forgets it, unless it was put again
   * since and is still queued (then that put is the answer). */
  pthread_mutex_lock(&c->mu);
  e = idx_find(c->idx, key);
  if(e && !find_unwritten(c, key, data, len)) {
    idx_remove(c->idx, e);
    if(expired)
      c->st.expired++;
  }
  pthread_mutex_unlock(&c->mu);
  return *data ? SB_OK : SB_ENOTFOUND;
}

int store_cache_put(struct store_cache *c,
                    const unsigned char key[STORE_CACHE_KEY_LEN],
                    const char *scope, const char *data, size_t len,
                    const struct store_cache_meta *meta)
{
  size_t slen = scope ? strnlen(scope, STORE_CACHE_SCOPE_MAX + 1) : 0;
  struct cache_item it;
  char *mem = NULL;
  int rc = SB_OK;

  if(!slen || slen > STORE_CACHE_SCOPE_MAX || !meta || (!data && len))
    return SB_EINVAL;
  if(len > (uint64_t)c->max_bytes)
    return SB_ETOOBIG;
  /* Copied before taking the lock: an answer may be large, and every
   * lookup waits on that lock. */
  memcpy(it.key, key, STORE_CACHE_KEY_LEN);
  it.scope = sb_strdup(scope);
  it.data = sb_malloc(len + 1);
  if(len)
    memcpy(it.data, data, len);
  it.data[len] = '\0';
  it.len = len;
  it.meta = *meta;
  it.meta.bytes = (int64_t)len;
  it.now_ms = sb_now_ms();
  if((int64_t)len <= c->mem_max) {
    mem = sb_malloc(len + 1);
    memcpy(mem, it.data, len + 1);
  }

  pthread_mutex_lock(&c->mu);
  if(c->closing || c->count == c->cap) {
    c->st.dropped++;
    rc = SB_EAGAIN;
  } else {
    c->ring[(c->head + c->count++) % c->cap] = it;
    idx_put(c->idx, key, scope, &it.meta, it.now_ms);
    if(mem)
      mem_keep(c->idx, idx_find(c->idx, key), mem, len, c->mem_max);
    mem = NULL;
    c->st.puts++;
    /* The writer sleeps only on an empty queue within max_bytes. */
    if(c->count == 1 || c->idx->bytes > c->max_bytes)
      pthread_cond_signal(&c->cv);
  }
  pthread_mutex_unlock(&c->mu);
  free(mem);
  if(rc)
    item_clear(&it);
  return rc;
}

int64_t store_cache_purge(struct store_cache *c, const char *scope)
{
  struct cache_purge pg = {scope, 0, 0, NULL};
  struct cache_purge **tail;

  pthread_mutex_lock(&c->mu);
  /* FIFO, so that a purge never waits behind later ones. */
  for(tail = &c->purges; *tail; tail = &(*tail)->next)
    ;
  *tail = &pg;
  pthread_cond_signal(&c->cv);
  while(!pg.done)
    pthread_cond_wait(&c->done_cv, &c->mu);
  pthread_mutex_unlock(&c->mu);
  return pg.result;
}

void store_cache_stats(struct store_cache *c, struct store_cache_stats *out)
{
  pthread_mutex_lock(&c->mu);
  *out = c->st;
  out->entries = c->idx->count;
  out->bytes = c->idx->bytes;
  out->mem_bytes = c->idx->mem_bytes;
  pthread_mutex_unlock(&c->mu);
}
