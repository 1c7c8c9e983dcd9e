/*
 * retention.c - deleting old conversations, responses and request records
 * in small batches on a thread of its own (retention.h).
 */
#include "store/retention.h"
#include "base/log.h"
#include "base/sb.h"
#include "store/db.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Between two batches: long enough for a waiting writer to take the lock
 * first, short enough that a large purge still ends in minutes. */
#define PAUSE_MS 20

#define DAY_S INT64_C(86400)

/* One kind of data to age out: the oldest rows first, so an interrupted
 * pass leaves the newest ones. ids: a temporary table the batch's keys
 * are copied to; each deletion reads it. */
struct kind {
  const char *table;   /* must exist, else the kind is skipped */
  const char *pick;    /* INSERT INTO temp ids: ?1 cutoff, ?2 batch */
  const char *dels[2]; /* dependent rows first, then the rows */
};

static const struct kind CONVERSATIONS = {
    "conversations",
    "INSERT INTO temp.retention_ids SELECT id FROM conversations"
    " WHERE updated_at < ?1 ORDER BY updated_at LIMIT ?2",
    {"DELETE FROM conversation_items WHERE conv_id IN"
     " (SELECT id FROM temp.retention_ids)",
     "DELETE FROM conversations WHERE id IN"
     " (SELECT id FROM temp.retention_ids)"}};

static const struct kind RESPONSES = {
    "responses",
    "INSERT INTO temp.retention_ids SELECT id FROM responses"
    " WHERE created_at < ?1 ORDER BY created_at LIMIT ?2",
    {"DELETE FROM response_items WHERE response_id IN"
     " (SELECT id FROM temp.retention_ids)",
     "DELETE FROM responses WHERE id IN (SELECT id FROM temp.retention_ids)"}};

/* The request log's ids are integers; the index on ts_ms finds them. The
 * roll-ups (usage_daily, usage_hourly) are kept: usage reports and budgets
 * do not change. Logged bodies go with their record. */
static const struct kind REQUESTS = {
    "requests",
    "INSERT INTO temp.retention_ids SELECT id FROM requests"
    " WHERE ts_ms < ?1 ORDER BY ts_ms LIMIT ?2",
    {"DELETE FROM request_bodies WHERE id IN"
     " (SELECT id FROM temp.retention_ids)",
     "DELETE FROM requests WHERE id IN"
     " (SELECT id FROM temp.retention_ids)"}};

static int table_exists(sqlite3 *db, const char *name)
{
  sqlite3_stmt *st = NULL;
  int found = 0;

  if(sqlite3_prepare_v2(db,
                        "SELECT 1 FROM sqlite_master WHERE type = 'table'"
                        " AND name = ?1",
                        -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  return found;
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
  if(sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
    return store_db_fail(db, "retention", err, errlen);
  return 0;
}

/* Delete one batch of k older than cutoff: the rows deleted (and their
 * dependents) into *rows and *deps; 0 rows when none is left. */
static int one_batch(const char *path, const struct kind *k, int64_t cutoff,
                     int batch, int64_t *rows, int64_t *deps, char *err,
                     size_t errlen)
{
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  int rc = store_db_begin(path, 1, &db, err, errlen);

  *rows = *deps = 0;
  if(rc)
    return rc;
  if(!table_exists(db, k->table))
    return store_db_finish(db, 0, err, errlen);
  rc = exec(db,
            "CREATE TEMP TABLE IF NOT EXISTS retention_ids(id PRIMARY KEY);"
            " DELETE FROM temp.retention_ids",
            err, errlen);
  if(!rc && sqlite3_prepare_v2(db, k->pick, -1, &st, NULL) != SQLITE_OK)
    rc = store_db_fail(db, "retention", err, errlen);
  if(!rc) {
    sqlite3_bind_int64(st, 1, cutoff);
    sqlite3_bind_int(st, 2, batch);
    if(sqlite3_step(st) != SQLITE_DONE)
      rc = store_db_fail(db, "retention", err, errlen);
  }
  sqlite3_finalize(st);
  if(!rc && k->dels[0]) {
    rc = exec(db, k->dels[0], err, errlen);
    *deps = sqlite3_changes(db);
  }
  if(!rc) {
    rc = exec(db, k->dels[1], err, errlen);
    *rows = sqlite3_changes(db);
  }
  if(rc)
    *rows = *deps = 0;
  return store_db_finish(db, rc, err, errlen);
}

static void pause_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

  nanosleep(&ts, NULL);
}

/* Every batch of k older than cutoff, until none is left or *stop. */
static int purge(const char *path, const struct kind *k, int64_t cutoff,
                 int batch, const atomic_int *stop, int64_t *rows,
                 int64_t *deps, char *err, size_t errlen)
{
  while(!(stop && atomic_load(stop))) {
    int64_t r, d;
    int rc = one_batch(path, k, cutoff, batch, &r, &d, err, errlen);

    if(rc)
      return rc;
    *rows += r;
    *deps += d;
    if(r < batch)
      break;
    pause_ms(PAUSE_MS);
  }
  return 0;
}

int store_retention_run(const char *path,
                        const struct store_retention_policy *p, int64_t now_s,
                        int batch, const atomic_int *stop,
                        struct store_retention_stats *out, char *err,
                        size_t errlen)
{
  struct store_retention_stats s;
  int64_t unused = 0;
  int rc = 0;

  memset(&s, 0, sizeof(s));
  if(batch < 1)
    batch = STORE_RETENTION_BATCH;
  if(p->conversations_days > 0)
    rc = purge(path, &CONVERSATIONS,
               now_s - (int64_t)p->conversations_days * DAY_S, batch, stop,
               &s.conversations, &s.conversation_items, err, errlen);
  if(!rc && p->responses_days > 0)
    rc = purge(path, &RESPONSES, now_s - (int64_t)p->responses_days * DAY_S,
               batch, stop, &s.responses, &s.response_items, err, errlen);
  if(!rc && p->requests_days > 0)
    rc = purge(path, &REQUESTS,
               (now_s - (int64_t)p->requests_days * DAY_S) * 1000, batch, stop,
               &s.requests, &unused, err, errlen);
  if(out)
    *out = s;
  return rc;
}

struct store_retention {
  char *path;
  struct store_retention_policy policy;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* signalled on stop */
  atomic_int stop;   /* set under mu (for the wait); read between batches */
};

static void pass(struct store_retention *r)
{
  struct store_retention_stats s;
  char err[256] = "";
  int rc = store_retention_run(r->path, &r->policy, sb_now_ms() / 1000, 0,
                               &r->stop, &s, err, sizeof(err));

  if(rc)
    log_event(LOG_WARN, "retention pass failed", LOG_S("reason", err), LOG_END);
  if(s.conversations || s.responses || s.requests)
    log_event(LOG_INFO, "retention", LOG_I("conversations", s.conversations),
              LOG_I("conversation_items", s.conversation_items),
              LOG_I("responses", s.responses),
              LOG_I("response_items", s.response_items),
              LOG_I("requests", s.requests), LOG_END);
}

static void *retention_main(void *arg)
{
  struct store_retention *r = arg;
  struct timespec ts;

  for(;;) {
    pass(r);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += STORE_RETENTION_INTERVAL_S;
    pthread_mutex_lock(&r->mu);
    while(!atomic_load(&r->stop) &&
          pthread_cond_timedwait(&r->cv, &r->mu, &ts) != ETIMEDOUT)
      ;
    if(atomic_load(&r->stop)) {
      pthread_mutex_unlock(&r->mu);
      return NULL;
    }
    pthread_mutex_unlock(&r->mu);
  }
}

int store_retention_start(const char *path,
                          const struct store_retention_policy *p,
                          struct store_retention **out)
{
  struct store_retention *r;
  pthread_condattr_t ca;
  int rc;

  *out = NULL;
  if(p->conversations_days <= 0 && p->responses_days <= 0 &&
     p->requests_days <= 0)
    return 0;
  r = sb_calloc(1, sizeof(*r));
  r->path = sb_strdup(path);
  r->policy = *p;
  pthread_mutex_init(&r->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&r->cv, &ca);
  pthread_condattr_destroy(&ca);
  rc = sb_thread_start(&r->thread, "sb-retention", retention_main, r);
  if(rc) {
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r->path);
    free(r);
    return SB_EIO;
  }
  *out = r;
  return 0;
}

void store_retention_stop(struct store_retention *r)
{
  if(!r)
    return;
  pthread_mutex_lock(&r->mu);
  atomic_store(&r->stop, 1);
  pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->mu);
  pthread_join(r->thread, NULL);
  pthread_cond_destroy(&r->cv);
  pthread_mutex_destroy(&r->mu);
  free(r->path);
  free(r);
}
