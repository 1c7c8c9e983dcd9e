/*
 * store.c - the SQLite store: open + migrations at start-up, then one
 * writer thread that owns the connection and turns queued usage records
 * into batched INSERTs.
 *
 * Threads: the event-loop threads only touch the queue (one short mutex
 * critical section per record) and two atomics (ready, dropped). Every
 * SQLite call after store_open() returns happens on the writer thread;
 * the connection is opened with SQLITE_OPEN_NOMUTEX because it is never
 * used by two threads at once (it is handed over at pthread_create and
 * handed back at pthread_join, both of which order memory).
 */
#include "store/store.h"
#include "store/migrations.h"
#include "store/db.h"
#include "store/rollup.h"
#include "base/sb.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How often the idle writer re-checks the database for store_ready(). */
#define STORE_PROBE_US 1000000

/* store_sync() gives up after this: a disk that stalls longer makes the
 * read fail rather than hold a thread-pool thread forever. */
#define STORE_SYNC_TIMEOUT_MS 15000

#define STORE_INSERT_SQL                                                       \
  "INSERT INTO requests(ts_ms, request_id, api, model, provider,"              \
  " upstream_model, stream, status, error_type, prompt_tokens,"                \
  " completion_tokens, ttfb_ms, latency_ms, key_id, cached_tokens,"            \
  " reasoning_tokens, cost_usd, unpriced, route, attempts, attempts_detail,"   \
  " usage_estimated, context_dropped, context_dropped_tokens,"                 \
  " context_strategy, context_summary, context_counted, upstream_us, cache,"   \
  " saved_usd)"                                                                \
  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"  \
  " ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29,"     \
  " ?30)"

#define STORE_BODY_SQL                                                         \
  "INSERT OR REPLACE INTO request_bodies(id, ts_ms, request_headers,"          \
  " request, response, request_truncated, response_truncated)"                 \
  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"

struct store_item {
  enum store_item_kind kind;
  void *rec;
};

struct store {
  sqlite3 *db;          /* writer thread only, after store_open */
  sqlite3_stmt *insert; /* STORE_INSERT_SQL, reused for every record */
  /* A batch's BEGIN IMMEDIATE and COMMIT, prepared once: sqlite3_exec
   * would compile them again for every batch. */
  sqlite3_stmt *begin, *commit;
  struct store_rollup *rollup; /* the batch's usage sums (writer only) */
  pthread_t writer;
  int batch_max;
  /* Letting a batch gather (store_options.gather_us) buys one
   * transaction (WAL frames, locks, the roll-up) for many records instead
   * of one per request: per request, a commit costs more than the rows. */
  int gather_us;

  /* The queue: a ring of queue_max items. Everything here is guarded by
   * mu. Producers hold mu only to push one item, so they never wait for
   * the disk; the writer holds it only to copy a batch out. The batch
   * being written stays visible in inflight until it is committed, so
   * that a reader sees every write submitted before it (queued,
   * in flight or committed). */
  pthread_mutex_t mu;
  pthread_cond_t cv; /* signalled on empty -> non-empty and on closing */
  struct store_item *ring;
  int cap;
  int head;
  int count;
  int closing;
  int syncing; /* store_sync() callers waiting: write without gathering */
  struct store_item *inflight;
  int ninflight;
  /* The barrier (store_sync): items accepted into the queue, and items
   * the writer is done with (committed or dropped), both counted since
   * open. The queue is FIFO, so done >= n means that the first n are
   * all through. done_cv is broadcast after every batch. */
  uint64_t submitted;
  uint64_t done;
  pthread_cond_t done_cv;

  /* Readers (store_response_get, on a thread pool): one connection of
   * their own, since the writer's is the writer thread's alone. WAL lets
   * it read while the writer writes. */
  pthread_mutex_t rmu;
  sqlite3 *rdb;

  atomic_int ready;
  atomic_uint_least64_t dropped;

  /* Writer thread only: log a failure burst once, and its end. */
  int failing;
  uint64_t burst_dropped;
};

void store_options_default(struct store_options *opt)
{
  opt->queue_max = 65536;
  opt->batch_max = 512;
  opt->gather_us = 2000;
  opt->busy_timeout_ms = 5000;
}

int store_schema_version(void)
{
  /* The generator sorts the array by version. */
  if(!store_migrations_count)
    return 0;
  return store_migrations[store_migrations_count - 1].version;
}

void store_usage_free(struct store_usage *rec)
{
  if(!rec)
    return;
  free(rec->request_id);
  free(rec->api);
  free(rec->model);
  free(rec->provider);
  free(rec->upstream_model);
  free(rec->error_type);
  free(rec->key_id);
  free(rec->route);
  free(rec->attempts_detail);
  free(rec->context_strategy);
  free(rec->context_summary);
  free(rec->context_counted);
  free(rec->body_headers);
  free(rec->body_request);
  free(rec->body_response);
  free(rec);
}

/* ---- start-up: open, check, migrate (caller's thread) ---- */

/* Run a query that yields one integer in its first row. A query that
 * yields no row gives 0. */
static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
  sqlite3_stmt *st = NULL;
  int rc;

  *out = 0;
  rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if(rc != SQLITE_OK)
    return rc;
  rc = sqlite3_step(st);
  if(rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  } else if(rc == SQLITE_DONE)
    rc = SQLITE_OK;
  sqlite3_finalize(st);
  return rc;
}

/**
 * Open path read-write (creating it) with per-connection settings that do
 * not write to the file, so that a database we then refuse (too new) is
 * left exactly as it was.
 */
static int db_open(const char *path, int busy_timeout_ms, sqlite3 **out,
                   char *err, size_t errlen)
{
  sqlite3 *db = NULL;
  int rc;

  *out = NULL;
  if(!sqlite3_threadsafe()) {
    sb_errf(err, errlen, "sqlite was built without thread support");
    return SB_EDB;
  }
  rc = sqlite3_open_v2(
      path, &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if(rc != SQLITE_OK) {
    /* sqlite3_open_v2 hands back a handle even on failure, to read the
     * message from; it still has to be closed. */
    sb_errf(err, errlen, "cannot open database %s: %s", path,
            db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return SB_EDB;
  }
  sqlite3_busy_timeout(db, busy_timeout_ms);
  rc = sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
  if(rc != SQLITE_OK) {
    sb_errf(err, errlen, "%s: PRAGMA foreign_keys: %s", path,
            sqlite3_errmsg(db));
    sqlite3_close(db);
    return SB_EDB;
  }
  *out = db;
  return SB_OK;
}

/**
 * Refuse a database that a newer binary has migrated: running old code
 * on a newer schema could corrupt data the newer code relies on. Reads
 * only, so a refused database is not modified.
 */
static int check_version(sqlite3 *db, char *err, size_t errlen)
{
  int64_t exists, version;
  int rc;

  rc = query_int(db,
                 "SELECT count(*) FROM sqlite_master"
                 " WHERE type='table' AND name='schema_migrations'",
                 &exists);
  if(rc == SQLITE_OK && exists)
    rc = query_int(db, "SELECT max(version) FROM schema_migrations", &version);
  else
    version = 0;
  if(rc != SQLITE_OK) {
    sb_errf(err, errlen, "cannot read schema version: %s", sqlite3_errmsg(db));
    return SB_EDB;
  }
  if(version > store_schema_version()) {
    sb_errf(err, errlen,
            "database schema version %lld is newer than this binary"
            " (schema %d); upgrade switchboard",
            (long long)version, store_schema_version());
    return SB_ETOONEW;
  }
  return SB_OK;
}

/**
 * WAL lets readers (the CLI, a backup) run while the writer writes;
 * synchronous=NORMAL is durable against application crashes and keeps
 * commits free of fsync in WAL mode, at the cost of the last commits on
 * power loss, which is acceptable for usage records.
 */
static int db_configure(sqlite3 *db, char *err, size_t errlen)
{
  sqlite3_stmt *st = NULL;
  const char *mode;
  int rc;

  rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
  if(rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if(rc != SQLITE_ROW) {
    sb_errf(err, errlen, "cannot enable WAL: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return SB_EDB;
  }
  /* SQLite answers with the mode it ended up in rather than failing
   * (e.g. a file system without shared memory). An in-memory database
   * has no journal file and is fine as it is. */
  mode = (const char *)sqlite3_column_text(st, 0);
  if(!mode || (strcmp(mode, "wal") && strcmp(mode, "memory"))) {
    sb_errf(err, errlen,
            "cannot enable WAL journal mode (database stays"
            " in '%s' mode)",
            mode ? mode : "?");
    sqlite3_finalize(st);
    return SB_EDB;
  }
  sqlite3_finalize(st);
  rc = sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
  if(rc != SQLITE_OK) {
    sb_errf(err, errlen, "PRAGMA synchronous: %s", sqlite3_errmsg(db));
    return SB_EDB;
  }
  return SB_OK;
}

/**
 * Apply one migration unless it is already recorded. The migration and
 * its schema_migrations row commit together or not at all; the check
 * runs inside the same IMMEDIATE transaction so that two processes
 * migrating at once do not both apply it.
 */
static int apply_one(sqlite3 *db, const struct store_migration *m, int *applied,
                     char *err, size_t errlen)
{
  sqlite3_stmt *st = NULL;
  char *msg = NULL;
  int rc, done;

  rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if(rc != SQLITE_OK) {
    sb_errf(err, errlen, "migration %s: BEGIN: %s", m->name,
            sqlite3_errmsg(db));
    return SB_EDB;
  }
  rc = sqlite3_prepare_v2(
      db, "SELECT 1 FROM schema_migrations WHERE version=?1", -1, &st, NULL);
  if(rc == SQLITE_OK) {
    sqlite3_bind_int(st, 1, m->version);
    rc = sqlite3_step(st);
  }
  done = rc == SQLITE_ROW;
  if(rc != SQLITE_ROW && rc != SQLITE_DONE) {
    sb_errf(err, errlen, "migration %s: %s", m->name, sqlite3_errmsg(db));
    goto fail;
  }
  sqlite3_finalize(st);
  st = NULL;
  if(done) {
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return SB_OK;
  }

  /* Migration files hold several statements; sqlite3_exec runs them
   * all. */
  rc = sqlite3_exec(db, m->sql, NULL, NULL, &msg);
  if(rc != SQLITE_OK) {
    sb_errf(err, errlen, "migration %s failed: %s", m->name,
            msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    goto fail;
  }
  rc = sqlite3_prepare_v2(db,
                          "INSERT INTO schema_migrations(version, name,"
                          " applied_at_ms) VALUES(?1, ?2, ?3)",
                          -1, &st, NULL);
  if(rc == SQLITE_OK) {
    sqlite3_bind_int(st, 1, m->version);
    sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, sb_now_ms());
    rc = sqlite3_step(st);
  }
  if(rc != SQLITE_DONE) {
    sb_errf(err, errlen, "migration %s: recording it: %s", m->name,
            sqlite3_errmsg(db));
    goto fail;
  }
  sqlite3_finalize(st);
  st = NULL;
  rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  if(rc != SQLITE_OK) {
    sb_errf(err, errlen, "migration %s: COMMIT: %s", m->name,
            sqlite3_errmsg(db));
    goto fail;
  }
  (*applied)++;
  return SB_OK;

fail:
  sqlite3_finalize(st);
  /* Some errors already end the transaction; ROLLBACK then fails
   * harmlessly. */
  if(!sqlite3_get_autocommit(db))
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  return SB_EDB;
}

/**
 * Bring db up to this binary's schema. *applied counts the migrations
 * applied now. Stops at the first failing migration; the ones before it
 * stay applied.
 */
static int migrate(sqlite3 *db, int *applied, char *err, size_t errlen)
{
  int rc, i;

  *applied = 0;
  rc = check_version(db, err, errlen);
  if(rc)
    return rc;
  rc = db_configure(db, err, errlen);
  if(rc)
    return rc;
  rc = sqlite3_exec(db,
                    "CREATE TABLE IF NOT EXISTS schema_migrations("
                    "version INTEGER PRIMARY KEY,"
                    " name TEXT NOT NULL,"
                    " applied_at_ms INTEGER NOT NULL)",
                    NULL, NULL, NULL);
  if(rc != SQLITE_OK) {
    sb_errf(err, errlen, "cannot create schema_migrations: %s",
            sqlite3_errmsg(db));
    return SB_EDB;
  }
  for(i = 0; i < store_migrations_count; i++) {
    rc = apply_one(db, &store_migrations[i], applied, err, errlen);
    if(rc)
      return rc;
  }
  return SB_OK;
}

int store_migrate(const char *path, int *applied, char *err, size_t errlen)
{
  struct store_options def;
  sqlite3 *db;
  int n = 0;
  int rc;

  if(applied)
    *applied = 0;
  if(!path) {
    sb_errf(err, errlen, "no database path");
    return SB_EINVAL;
  }
  store_options_default(&def);
  rc = db_open(path, def.busy_timeout_ms, &db, err, errlen);
  if(rc)
    return rc;
  rc = migrate(db, &n, err, errlen);
  if(applied)
    *applied = n;
  sqlite3_close(db);
  return rc;
}

/* ---- the writer thread ---- */

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
  /* The record outlives the step, and bindings are cleared before the
   * record is freed, so SQLite need not copy. */
  if(s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

/* Negative counts mean "unknown" (-1 by contract) and become NULL. */
static void bind_opt_int(sqlite3_stmt *st, int i, int64_t v)
{
  if(v >= 0)
    sqlite3_bind_int64(st, i, v);
  else
    sqlite3_bind_null(st, i);
}

static int exec_bound(sqlite3 *db, const char *sql, const char *fmt, ...);

static int insert_one(struct store *st, const struct store_usage *r)
{
  sqlite3_stmt *ins = st->insert;
  int rc;

  sqlite3_bind_int64(ins, 1, r->ts_ms);
  bind_text(ins, 2, r->request_id);
  bind_text(ins, 3, r->api);
  bind_text(ins, 4, r->model);
  bind_text(ins, 5, r->provider);
  bind_text(ins, 6, r->upstream_model);
  sqlite3_bind_int(ins, 7, r->stream ? 1 : 0);
  sqlite3_bind_int(ins, 8, r->status);
  bind_text(ins, 9, r->error_type);
  bind_opt_int(ins, 10, r->prompt_tokens);
  bind_opt_int(ins, 11, r->completion_tokens);
  bind_opt_int(ins, 12, r->ttfb_ms);
  sqlite3_bind_int64(ins, 13, r->latency_ms);
  bind_text(ins, 14, r->key_id);
  bind_opt_int(ins, 15, r->cached_tokens);
  bind_opt_int(ins, 16, r->reasoning_tokens);
  if(r->cost_usd >= 0)
    sqlite3_bind_double(ins, 17, r->cost_usd);
  else
    sqlite3_bind_null(ins, 17);
  sqlite3_bind_int(ins, 18, r->unpriced ? 1 : 0);
  bind_text(ins, 19, r->route);
  sqlite3_bind_int(ins, 20, r->attempts > 0 ? r->attempts : 1);
  bind_text(ins, 21, r->attempts_detail);
  sqlite3_bind_int(ins, 22, r->usage_estimated ? 1 : 0);
  bind_opt_int(ins, 23, r->context_dropped > 0 ? r->context_dropped : -1);
  bind_opt_int(ins, 24,
               r->context_dropped > 0 ? r->context_dropped_tokens : -1);
  bind_text(ins, 25, r->context_strategy);
  bind_text(ins, 26, r->context_summary);
  bind_text(ins, 27, r->context_counted);
  bind_opt_int(ins, 28, r->upstream_us > 0 ? r->upstream_us : -1);
  bind_text(ins, 29, r->cache);
  /* Only an answer that did not go upstream saved anything. */
  if(r->cache && strcmp(r->cache, "miss") && strcmp(r->cache, "bypass") &&
     r->saved_usd >= 0)
    sqlite3_bind_double(ins, 30, r->saved_usd);
  else
    sqlite3_bind_null(ins, 30);
  rc = sqlite3_step(ins);
  sqlite3_reset(ins);
  sqlite3_clear_bindings(ins);
  if(rc != SQLITE_DONE)
    return rc;
  store_rollup_add(st->rollup, r);
  if(!r->body_request && !r->body_response)
    return SQLITE_OK;
  /* Rare (body logging is off by default): prepared per record. */
  return exec_bound(st->db, STORE_BODY_SQL, "iitttii",
                    (int64_t)sqlite3_last_insert_rowid(st->db), r->ts_ms,
                    r->body_headers, r->body_request, r->body_response,
                    (int64_t)(r->body_request_truncated != 0),
                    (int64_t)(r->body_response_truncated != 0));
}

void store_response_free(struct store_response *r)
{
  if(!r)
    return;
  free(r->id);
  free(r->model);
  free(r->previous_response_id);
  free(r->response);
  free(r->input_items);
  free(r->context);
  free(r->key_id);
  free(r);
}

static void item_free(struct store_item *it)
{
  switch(it->kind) {
  case STORE_ITEM_USAGE: store_usage_free(it->rec); break;
  case STORE_ITEM_RESPONSE_PUT: store_response_free(it->rec); break;
  case STORE_ITEM_RESPONSE_DELETE: free(it->rec); break;
  case STORE_ITEM_MCP_SESSION_PUT:
  case STORE_ITEM_MCP_SESSION_TOUCH:
  case STORE_ITEM_MCP_SESSION_DELETE:
  case STORE_ITEM_MCP_CALL: store_mcp_item_free(it->kind, it->rec); break;
  case STORE_ITEM_CONV_PUT:
  case STORE_ITEM_CONV_DELETE:
  case STORE_ITEM_CONV_APPEND:
  case STORE_ITEM_CONV_ITEM_DELETE:
  case STORE_ITEM_CONV_SUMMARY_PUT: store_conv_qfree(it->kind, it->rec); break;
  }
  it->rec = NULL;
}

/* Run one prepared-on-the-fly statement with text/int bindings given by
 * fmt ('t' text, 'i' int64), e.g. exec_bound(db, sql, "ti", s, n). */
static int exec_bound(sqlite3 *db, const char *sql, const char *fmt, ...)
{
  sqlite3_stmt *stmt;
  va_list ap;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

  if(rc != SQLITE_OK)
    return rc;
  va_start(ap, fmt);
  for(int i = 0; fmt[i]; i++) {
    if(fmt[i] == 't')
      bind_text(stmt, i + 1, va_arg(ap, const char *));
    else
      sqlite3_bind_int64(stmt, i + 1, va_arg(ap, int64_t));
  }
  va_end(ap);
  rc = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The output items of r under their own ids (for item_reference). */
static int put_items(struct store *st, const struct store_response *r)
{
  cJSON *doc = cJSON_Parse(r->response);
  const cJSON *o;
  int rc = SQLITE_OK;

  cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(doc, "output"))
  {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    char *item;

    if(!cJSON_IsString(id))
      continue;
    item = cJSON_PrintUnformatted(o);
    if(!item)
      abort();
    rc = exec_bound(st->db,
                    "INSERT OR REPLACE INTO response_items(id, response_id,"
                    " item) VALUES(?1, ?2, ?3)",
                    "ttt", id->valuestring, r->id, item);
    free(item);
    if(rc != SQLITE_OK)
      break;
  }
  cJSON_Delete(doc);
  return rc;
}

static int write_item(struct store *st, const struct store_item *it)
{
  const struct store_response *r;
  int rc;

  switch(it->kind) {
  case STORE_ITEM_USAGE: return insert_one(st, it->rec);
  case STORE_ITEM_RESPONSE_PUT:
    r = it->rec;
    rc = put_items(st, r);
    if(rc != SQLITE_OK)
      return rc;
    return exec_bound(st->db,
                      "INSERT OR REPLACE INTO responses(id, created_at, model,"
                      " previous_response_id, response, input_items, context,"
                      " key_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                      "titttttt", r->id, r->created_at, r->model,
                      r->previous_response_id, r->response, r->input_items,
                      r->context, r->key_id);
  case STORE_ITEM_RESPONSE_DELETE:
    rc = exec_bound(st->db, "DELETE FROM response_items WHERE response_id = ?1",
                    "t", (const char *)it->rec);
    if(rc != SQLITE_OK)
      return rc;
    return exec_bound(st->db, "DELETE FROM responses WHERE id = ?1", "t",
                      (const char *)it->rec);
  case STORE_ITEM_MCP_SESSION_PUT:
  case STORE_ITEM_MCP_SESSION_TOUCH:
  case STORE_ITEM_MCP_SESSION_DELETE:
  case STORE_ITEM_MCP_CALL: return store_mcp_write(st->db, it->kind, it->rec);
  case STORE_ITEM_CONV_PUT:
  case STORE_ITEM_CONV_DELETE:
  case STORE_ITEM_CONV_APPEND:
  case STORE_ITEM_CONV_ITEM_DELETE:
  case STORE_ITEM_CONV_SUMMARY_PUT:
    return store_conv_write(st->db, it->kind, it->rec);
  }
  return SQLITE_MISUSE;
}

/* Step a statement that returns no rows, and make it ready to run again. */
static int step_once(sqlite3_stmt *stmt)
{
  int rc = sqlite3_step(stmt);

  sqlite3_reset(stmt);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/**
 * Write items[0..n) in one transaction, then free them. On failure the
 * whole batch is rolled back and dropped: retrying would need unbounded
 * memory while the disk is failing, and the gateway must keep serving.
 */
static void write_batch(struct store *st, struct store_item *items, int n)
{
  char why[256];
  int rc, i;

  rc = step_once(st->begin);
  for(i = 0; rc == SQLITE_OK && i < n; i++)
    rc = write_item(st, &items[i]);
  if(rc == SQLITE_OK)
    rc = store_rollup_flush(st->rollup, st->db);
  else
    store_rollup_clear(st->rollup);
  if(rc == SQLITE_OK)
    rc = step_once(st->commit);

  if(rc == SQLITE_OK) {
    atomic_store(&st->ready, 1);
    if(st->failing) {
      fprintf(stderr,
              "switchboard: store: writes recovered; %llu records"
              " were dropped\n",
              (unsigned long long)st->burst_dropped);
      st->failing = 0;
      st->burst_dropped = 0;
    }
  } else {
    /* Keep the message before ROLLBACK replaces it. */
    snprintf(why, sizeof(why), "%s", sqlite3_errmsg(st->db));
    if(!sqlite3_get_autocommit(st->db))
      sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    /* ready before dropped, so that whoever sees the drop counted also
     * sees the store marked not ready. */
    atomic_store(&st->ready, 0);
    atomic_fetch_add(&st->dropped, (uint64_t)n);
    if(!st->failing) {
      fprintf(stderr,
              "switchboard: store: writing %d records failed: %s;"
              " dropping them (further failures are not logged until a"
              " write succeeds)\n",
              n, why);
      st->failing = 1;
    }
    st->burst_dropped += (uint64_t)n;
  }
  /* Readers look at the batch until here: the rows are visible now. */
  pthread_mutex_lock(&st->mu);
  st->ninflight = 0;
  st->done += (uint64_t)n;
  pthread_cond_broadcast(&st->done_cv);
  pthread_mutex_unlock(&st->mu);
  for(i = 0; i < n; i++)
    item_free(&items[i]);
}

/* Ready means "records can be written": read the file (a database that
 * became unreadable shows up) and take the write lock for a moment (one
 * held elsewhere for longer than busy_timeout shows up too). Runs on the
 * writer thread only, so a wait here never reaches a request. */
static void probe(struct store *st)
{
  int64_t v;
  int rc;

  rc = query_int(st->db, "SELECT max(version) FROM schema_migrations", &v);
  if(rc == SQLITE_OK)
    rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE; ROLLBACK", NULL, NULL, NULL);
  atomic_store(&st->ready, rc == SQLITE_OK);
}

static void mono_deadline(struct timespec *ts, int64_t mono_us)
{
  ts->tv_sec = (time_t)(mono_us / 1000000);
  ts->tv_nsec = (long)(mono_us % 1000000) * 1000;
}

static void *writer_main(void *arg)
{
  struct store *st = arg;
  struct store_item *batch = st->inflight;
  int64_t last_check = sb_mono_us();
  struct timespec ts;
  int n, i;

  for(;;) {
    pthread_mutex_lock(&st->mu);
    while(!st->count && !st->closing) {
      int64_t deadline = last_check + STORE_PROBE_US;
      if(sb_mono_us() >= deadline) {
        pthread_mutex_unlock(&st->mu);
        probe(st);
        last_check = sb_mono_us();
        pthread_mutex_lock(&st->mu);
        continue;
      }
      mono_deadline(&ts, deadline);
      pthread_cond_timedwait(&st->cv, &st->mu, &ts);
    }
    if(!st->count) {
      /* Closing and drained: producers are refused once closing is set,
       * so nothing can arrive after this. */
      pthread_mutex_unlock(&st->mu);
      break;
    }
    if(st->gather_us > 0 && st->count < st->batch_max && !st->closing &&
       !st->syncing) {
      /* Producers do not signal again until the batch is full, so this
       * costs no wake-up per request. */
      mono_deadline(&ts, sb_mono_us() + st->gather_us);
      while(st->count < st->batch_max && !st->closing && !st->syncing &&
            pthread_cond_timedwait(&st->cv, &st->mu, &ts) == 0)
        ;
    }
    n = st->count < st->batch_max ? st->count : st->batch_max;
    for(i = 0; i < n; i++) {
      batch[i] = st->ring[st->head];
      st->ring[st->head].rec = NULL;
      st->head = (st->head + 1) % st->cap;
    }
    st->count -= n;
    st->ninflight = n;
    pthread_mutex_unlock(&st->mu);

    write_batch(st, batch, n);
    last_check = sb_mono_us();
  }
  return NULL;
}

/* ---- public API ---- */

/* Free everything store_open set up before the writer started. */
static void store_destroy(struct store *st)
{
  sqlite3_finalize(st->insert);
  sqlite3_finalize(st->begin);
  sqlite3_finalize(st->commit);
  store_rollup_free(st->rollup);
  if(st->db && sqlite3_close(st->db) != SQLITE_OK)
    fprintf(stderr, "switchboard: store: closing the database: %s\n",
            sqlite3_errmsg(st->db));
  if(st->rdb)
    sqlite3_close(st->rdb);
  pthread_cond_destroy(&st->cv);
  pthread_cond_destroy(&st->done_cv);
  pthread_mutex_destroy(&st->mu);
  pthread_mutex_destroy(&st->rmu);
  free(st->ring);
  free(st->inflight);
  free(st);
}

static int start_writer(struct store *st)
{
  return sb_thread_start(&st->writer, "sb-store", writer_main, st);
}

int store_open(const char *path, const struct store_options *opt,
               struct store **out, char *err, size_t errlen)
{
  struct store_options def;
  struct store *st;
  pthread_condattr_t ca;
  int applied;
  int rc;

  *out = NULL;
  sb_errf(err, errlen, "%s", "");
  if(!opt) {
    store_options_default(&def);
    opt = &def;
  }
  if(!path || opt->queue_max < 1 || opt->batch_max < 1 ||
     opt->busy_timeout_ms < 0 || opt->gather_us < 0) {
    sb_errf(err, errlen,
            "invalid store options (queue_max %d, batch_max %d,"
            " busy_timeout_ms %d, gather_us %d)",
            opt->queue_max, opt->batch_max, opt->busy_timeout_ms,
            opt->gather_us);
    return SB_EINVAL;
  }

  st = sb_calloc(1, sizeof(*st));
  st->cap = opt->queue_max;
  st->gather_us = opt->gather_us;
  /* A batch never holds more than the queue does. */
  st->batch_max =
      opt->batch_max < opt->queue_max ? opt->batch_max : opt->queue_max;
  st->ring = sb_calloc((size_t)st->cap, sizeof(*st->ring));
  st->rollup = store_rollup_new();
  st->inflight = sb_calloc((size_t)st->batch_max, sizeof(*st->inflight));
  pthread_mutex_init(&st->mu, NULL);
  pthread_mutex_init(&st->rmu, NULL);
  /* The writer's periodic probe must not jump with the wall clock. */
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&st->cv, &ca);
  pthread_cond_init(&st->done_cv, &ca);
  pthread_condattr_destroy(&ca);
  atomic_init(&st->ready, 0);
  atomic_init(&st->dropped, 0);

  rc = db_open(path, opt->busy_timeout_ms, &st->db, err, errlen);
  if(!rc)
    rc = migrate(st->db, &applied, err, errlen);
  if(!rc && (sqlite3_prepare_v3(st->db, STORE_INSERT_SQL, -1,
                                SQLITE_PREPARE_PERSISTENT, &st->insert,
                                NULL) != SQLITE_OK ||
             sqlite3_prepare_v3(st->db, "BEGIN IMMEDIATE", -1,
                                SQLITE_PREPARE_PERSISTENT, &st->begin,
                                NULL) != SQLITE_OK ||
             sqlite3_prepare_v3(st->db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT,
                                &st->commit, NULL) != SQLITE_OK)) {
    sb_errf(err, errlen, "cannot prepare the writer's statements: %s",
            sqlite3_errmsg(st->db));
    rc = SB_EDB;
  }
  if(!rc)
    rc = db_open(path, opt->busy_timeout_ms, &st->rdb, err, errlen);
  if(rc) {
    store_destroy(st);
    return rc;
  }

  /* Migrations just read and wrote the database. */
  atomic_store(&st->ready, 1);
  rc = start_writer(st);
  if(rc) {
    sb_errf(err, errlen, "cannot start the store writer: %s", strerror(rc));
    store_destroy(st);
    return SB_EIO;
  }
  *out = st;
  return SB_OK;
}

/* Queue one item; on failure it is freed and counted as dropped. */
static int submit(struct store *st, enum store_item_kind kind, void *rec)
{
  struct store_item it = {kind, rec};
  int rc = SB_OK;

  pthread_mutex_lock(&st->mu);
  if(st->closing || st->count == st->cap)
    rc = SB_EAGAIN;
  else {
    st->ring[(st->head + st->count) % st->cap] = it;
    /* The writer sleeps on an empty queue, or gathers a batch until it
     * is full: only those two moments need to wake it. */
    if(st->count++ == 0 || st->count == st->batch_max)
      pthread_cond_signal(&st->cv);
    st->submitted++;
  }
  pthread_mutex_unlock(&st->mu);
  if(rc) {
    item_free(&it);
    atomic_fetch_add(&st->dropped, 1);
  }
  return rc;
}

int store_queue_submit(struct store *st, enum store_item_kind kind, void *rec)
{
  return submit(st, kind, rec);
}

int store_usage_submit(struct store *st, struct store_usage *rec)
{
  /* request_id and api are NOT NULL columns: one such record would fail
   * the whole batch it lands in, so it is refused here, at the caller. */
  if(!st || !rec || !rec->request_id || !rec->api) {
    store_usage_free(rec);
    return SB_EINVAL;
  }
  return submit(st, STORE_ITEM_USAGE, rec);
}

int store_response_put(struct store *st, struct store_response *rec)
{
  if(!st || !rec || !rec->id || !rec->model || !rec->response ||
     !rec->input_items || !rec->context) {
    store_response_free(rec);
    return SB_EINVAL;
  }
  return submit(st, STORE_ITEM_RESPONSE_PUT, rec);
}

int store_response_delete(struct store *st, const char *id)
{
  return submit(st, STORE_ITEM_RESPONSE_DELETE, sb_strdup(id));
}

static struct store_response *response_dup(const struct store_response *r)
{
  struct store_response *d = sb_calloc(1, sizeof(*d));

  d->id = sb_strdup(r->id);
  d->created_at = r->created_at;
  d->model = sb_strdup(r->model);
  d->previous_response_id =
      r->previous_response_id ? sb_strdup(r->previous_response_id) : NULL;
  d->response = sb_strdup(r->response);
  d->input_items = sb_strdup(r->input_items);
  d->context = sb_strdup(r->context);
  d->key_id = r->key_id ? sb_strdup(r->key_id) : NULL;
  return d;
}

/* The newest write about id among items[0..n): 1 put (*out set), 0
 * deleted, -1 nothing about it. */
static int newest_about(const struct store_item *items, int n, const char *id,
                        struct store_response **out)
{
  for(int i = n - 1; i >= 0; i--) {
    const struct store_item *it = &items[i];
    if(it->kind == STORE_ITEM_RESPONSE_PUT &&
       !strcmp(((const struct store_response *)it->rec)->id, id)) {
      *out = response_dup(it->rec);
      return 1;
    }
    if(it->kind == STORE_ITEM_RESPONSE_DELETE && !strcmp(it->rec, id))
      return 0;
  }
  return -1;
}

static char *column_dup(sqlite3_stmt *stmt, int i)
{
  const unsigned char *t = sqlite3_column_text(stmt, i);

  return t ? sb_strdup((const char *)t) : NULL;
}

/* The queued items in order, oldest first (caller holds st->mu and frees
 * the array; the records stay the queue's, valid only under st->mu). */
static struct store_item *queue_snapshot(const struct store *st)
{
  struct store_item *q = sb_malloc(sizeof(*q) * (size_t)(st->count + 1));

  for(int i = 0; i < st->count; i++)
    q[i] = st->ring[(st->head + i) % st->cap];
  return q;
}

int store_response_get(struct store *st, const char *id,
                       struct store_response **out)
{
  struct store_item *queued;
  sqlite3_stmt *stmt = NULL;
  int found = -1, rc;

  *out = NULL;
  /* Writes not yet committed win, newest first: the queue (in order) is
   * newer than the batch in flight. */
  pthread_mutex_lock(&st->mu);
  queued = queue_snapshot(st);
  found = newest_about(queued, st->count, id, out);
  if(found < 0)
    found = newest_about(st->inflight, st->ninflight, id, out);
  pthread_mutex_unlock(&st->mu);
  free(queued);
  if(found >= 0)
    return found ? SB_OK : SB_ENOTFOUND;

  pthread_mutex_lock(&st->rmu);
  rc = sqlite3_prepare_v2(st->rdb,
                          "SELECT id, created_at, model, previous_response_id,"
                          " response, input_items, context, key_id"
                          " FROM responses WHERE id = ?1",
                          -1, &stmt, NULL);
  if(rc == SQLITE_OK) {
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
  }
  if(rc == SQLITE_ROW) {
    struct store_response *r = sb_calloc(1, sizeof(*r));
    r->id = column_dup(stmt, 0);
    r->created_at = sqlite3_column_int64(stmt, 1);
    r->model = column_dup(stmt, 2);
    r->previous_response_id = column_dup(stmt, 3);
    r->response = column_dup(stmt, 4);
    r->input_items = column_dup(stmt, 5);
    r->context = column_dup(stmt, 6);
    r->key_id = column_dup(stmt, 7);
    *out = r;
  }
  sqlite3_finalize(stmt);
  pthread_mutex_unlock(&st->rmu);
  if(rc == SQLITE_ROW)
    return SB_OK;
  return rc == SQLITE_DONE ? SB_ENOTFOUND : SB_EDB;
}

/* The newest put among items[0..n) whose output holds item id: 1 (*item,
 * *owner and *response_id set), or -1. */
static int newest_item(const struct store_item *items, int n, const char *id,
                       char **item, char **owner, char **response_id)
{
  for(int i = n - 1; i >= 0; i--) {
    const struct store_response *r = items[i].rec;
    cJSON *doc;
    const cJSON *o;

    if(items[i].kind != STORE_ITEM_RESPONSE_PUT || !strstr(r->response, id))
      continue;
    doc = cJSON_Parse(r->response);
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(doc, "output"))
    {
      const cJSON *oid = cJSON_GetObjectItemCaseSensitive(o, "id");
      if(cJSON_IsString(oid) && !strcmp(oid->valuestring, id)) {
        *item = cJSON_PrintUnformatted(o);
        *owner = r->key_id ? sb_strdup(r->key_id) : NULL;
        *response_id = sb_strdup(r->id);
        cJSON_Delete(doc);
        return 1;
      }
    }
    cJSON_Delete(doc);
  }
  return -1;
}

/* 1 when items[0..n) delete response id after the last put of it. */
static int deleted_in(const struct store_item *items, int n, const char *id)
{
  for(int i = n - 1; i >= 0; i--) {
    if(items[i].kind == STORE_ITEM_RESPONSE_DELETE && !strcmp(items[i].rec, id))
      return 1;
    if(items[i].kind == STORE_ITEM_RESPONSE_PUT &&
       !strcmp(((const struct store_response *)items[i].rec)->id, id))
      return 0;
  }
  return 0;
}

int store_response_item_get(struct store *st, const char *id, char **item,
                            char **key_id)
{
  struct store_item *queued;
  sqlite3_stmt *stmt = NULL;
  char *response_id = NULL;
  int found, rc = SQLITE_OK;

  *item = NULL;
  *key_id = NULL;
  pthread_mutex_lock(&st->mu);
  queued = queue_snapshot(st);
  found = newest_item(queued, st->count, id, item, key_id, &response_id);
  if(found < 0)
    found = newest_item(st->inflight, st->ninflight, id, item, key_id,
                        &response_id);
  pthread_mutex_unlock(&st->mu);
  free(queued);
  if(found < 0) {
    pthread_mutex_lock(&st->rmu);
    rc = sqlite3_prepare_v2(st->rdb,
                            "SELECT i.item, r.key_id, i.response_id"
                            " FROM response_items i JOIN responses r"
                            " ON r.id = i.response_id WHERE i.id = ?1",
                            -1, &stmt, NULL);
    if(rc == SQLITE_OK) {
      sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
      rc = sqlite3_step(stmt);
    }
    if(rc == SQLITE_ROW) {
      *item = column_dup(stmt, 0);
      *key_id = column_dup(stmt, 1);
      response_id = column_dup(stmt, 2);
      found = 1;
    }
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&st->rmu);
    if(found < 0 && rc != SQLITE_DONE)
      return SB_EDB;
  }
  /* A delete queued since hides what was found. The queue is read again:
   * records seen under the first lock may have been written and freed. */
  if(found > 0) {
    pthread_mutex_lock(&st->mu);
    queued = queue_snapshot(st);
    if(deleted_in(queued, st->count, response_id) ||
       deleted_in(st->inflight, st->ninflight, response_id))
      found = -1;
    pthread_mutex_unlock(&st->mu);
    free(queued);
  }
  free(response_id);
  if(found > 0)
    return SB_OK;
  free(*item);
  free(*key_id);
  *item = NULL;
  *key_id = NULL;
  return SB_ENOTFOUND;
}

sqlite3 *store_read_begin(struct store *st)
{
  pthread_mutex_lock(&st->rmu);
  return st->rdb;
}

void store_read_end(struct store *st)
{
  pthread_mutex_unlock(&st->rmu);
}

int store_sync(struct store *st)
{
  struct timespec ts;
  uint64_t target;
  int rc = SB_OK;

  if(!st)
    return SB_EINVAL;
  pthread_mutex_lock(&st->mu);
  target = st->submitted;
  mono_deadline(&ts, sb_mono_us() + (int64_t)STORE_SYNC_TIMEOUT_MS * 1000);
  /* A reader is waiting: the batch being gathered goes now. */
  st->syncing++;
  pthread_cond_signal(&st->cv);
  while(st->done < target && !rc)
    if(pthread_cond_timedwait(&st->done_cv, &st->mu, &ts) == ETIMEDOUT)
      rc = st->done < target ? SB_EAGAIN : SB_OK;
  st->syncing--;
  pthread_mutex_unlock(&st->mu);
  return rc;
}

int store_ready(struct store *st)
{
  return st ? atomic_load(&st->ready) : 0;
}

uint64_t store_dropped(struct store *st)
{
  return st ? atomic_load(&st->dropped) : 0;
}

void store_close(struct store *st)
{
  if(!st)
    return;
  pthread_mutex_lock(&st->mu);
  st->closing = 1;
  pthread_cond_signal(&st->cv);
  pthread_mutex_unlock(&st->mu);
  pthread_join(st->writer, NULL);
  store_destroy(st);
}
