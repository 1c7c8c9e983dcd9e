/*
 * test_store.c - store/store.c against real SQLite files in a temporary
 * directory: migrations, schema-version refusal, the writer's batching,
 * back-pressure and failure handling.
 *
 * Lock contention from a second connection (BEGIN IMMEDIATE held by the
 * test) stands in for a slow or failing disk: it stalls the writer
 * deterministically without any test hook in the store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/sb.h"
#include "store/migrations.h"
#include "store/store.h"
#include "tests/unit/support/testdb.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

static sqlite3 *raw_open(const char *path)
{
  sqlite3 *db = NULL;

  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

  if(rc != SQLITE_OK)
    fail_msg("%s: %s", sql, msg ? msg : "?");
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
  sqlite3_stmt *st = NULL;
  int64_t v;

  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static int64_t file_int(const char *path, const char *sql)
{
  sqlite3 *db = raw_open(path);
  int64_t v = raw_int(db, sql);

  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  return v;
}

static char *slurp(const char *path, size_t *len)
{
  FILE *fp = fopen(path, "rb");
  char *buf;
  long n;

  assert_non_null(fp);
  assert_int_equal(fseek(fp, 0, SEEK_END), 0);
  n = ftell(fp);
  assert_true(n >= 0);
  rewind(fp);
  buf = sb_malloc((size_t)n);
  assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
  fclose(fp);
  *len = (size_t)n;
  return buf;
}

static void sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static struct store *open_ok(const char *path, const struct store_options *o)
{
  struct store *st = NULL;
  char err[256];
  int rc = store_open(path, o, &st, err, sizeof(err));

  if(rc)
    fail_msg("store_open: %d %s", rc, err);
  assert_non_null(st);
  return st;
}

/* Record i of a deterministic series that covers every NULL case. */
static struct store_usage *make_rec(int i)
{
  struct store_usage *r = sb_calloc(1, sizeof(*r));

  r->ts_ms = 1700000000000LL + i;
  r->request_id = sb_asprintf("req_%06d", i);
  r->api = sb_strdup(i % 2 ? "chat" : "models");
  r->model = i % 5 ? sb_asprintf("model-%d", i % 13) : NULL;
  r->provider = i % 7 ? sb_strdup("local") : NULL;
  r->upstream_model = i % 7 ? sb_asprintf("up-%d", i % 11) : NULL;
  r->stream = i % 2;
  r->status = i % 4 ? 200 : 502;
  r->error_type = i % 4 ? NULL : sb_strdup("server_error");
  r->prompt_tokens = i % 3 ? (int64_t)i * 10 : -1;
  r->completion_tokens = i % 6 ? (int64_t)i * 3 : -1;
  r->ttfb_ms = i % 9 ? i % 100 : -1;
  r->latency_ms = 1000 + i;
  return r;
}

static void check_text(sqlite3_stmt *st, int col, const char *want)
{
  if(!want)
    assert_int_equal(sqlite3_column_type(st, col), SQLITE_NULL);
  else {
    assert_int_equal(sqlite3_column_type(st, col), SQLITE_TEXT);
    assert_string_equal((const char *)sqlite3_column_text(st, col), want);
  }
}

static void check_opt_int(sqlite3_stmt *st, int col, int64_t want)
{
  if(want < 0)
    assert_int_equal(sqlite3_column_type(st, col), SQLITE_NULL);
  else {
    assert_int_equal(sqlite3_column_type(st, col), SQLITE_INTEGER);
    assert_int_equal(sqlite3_column_int64(st, col), want);
  }
}

/* Rows of `requests` must be exactly make_rec(first .. first+n-1), in
 * order. */
static void check_rows(const char *path, int first, int n)
{
  sqlite3 *db = raw_open(path);
  sqlite3_stmt *st = NULL;
  int i = first;

  assert_int_equal(
      sqlite3_prepare_v2(db,
                         "SELECT ts_ms, request_id, api, model, provider,"
                         " upstream_model, stream, status, error_type,"
                         " prompt_tokens, completion_tokens, ttfb_ms,"
                         " latency_ms FROM requests ORDER BY id",
                         -1, &st, NULL),
      SQLITE_OK);
  while(sqlite3_step(st) == SQLITE_ROW) {
    struct store_usage *w = make_rec(i);
    assert_true(i < first + n);
    assert_int_equal(sqlite3_column_int64(st, 0), w->ts_ms);
    check_text(st, 1, w->request_id);
    check_text(st, 2, w->api);
    check_text(st, 3, w->model);
    check_text(st, 4, w->provider);
    check_text(st, 5, w->upstream_model);
    assert_int_equal(sqlite3_column_int(st, 6), w->stream);
    assert_int_equal(sqlite3_column_int(st, 7), w->status);
    check_text(st, 8, w->error_type);
    check_opt_int(st, 9, w->prompt_tokens);
    check_opt_int(st, 10, w->completion_tokens);
    check_opt_int(st, 11, w->ttfb_ms);
    assert_int_equal(sqlite3_column_int64(st, 12), w->latency_ms);
    store_usage_free(w);
    i++;
  }
  assert_int_equal(i, first + n);
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static int64_t count_requests(const char *path)
{
  return file_int(path, "SELECT count(*) FROM requests");
}

/* ---- tests ---- */

static struct store_response *make_resp(const char *id, const char *text)
{
  struct store_response *r = sb_calloc(1, sizeof(*r));

  r->id = sb_strdup(id);
  r->created_at = 1700000000;
  r->model = sb_strdup("echo/echo-1");
  r->response = sb_asprintf("{\"id\":\"%s\",\"text\":\"%s\"}", id, text);
  r->input_items = sb_strdup("[]");
  r->context = sb_asprintf("[{\"role\":\"user\",\"content\":\"%s\"}]", text);
  return r;
}

/* A response is readable the moment it is submitted (a client continues
 * the conversation as soon as it has the answer), after a restart, and
 * not after its deletion. */
static void test_responses_read_your_writes(void **state)
{
  struct testdb *f = *state;
  struct store_response *got = NULL;
  struct store *st = open_ok(f->db, NULL);

  assert_int_equal(store_response_get(st, "resp_a", &got), SB_ENOTFOUND);
  assert_null(got);
  for(int i = 0; i < 200; i++) {
    char id[32];
    snprintf(id, sizeof(id), "resp_%d", i);
    assert_int_equal(store_response_put(st, make_resp(id, "one")), SB_OK);
    /* Straight after the put: queued, in flight or committed. */
    assert_int_equal(store_response_get(st, id, &got), SB_OK);
    assert_string_equal(got->model, "echo/echo-1");
    assert_non_null(strstr(got->context, "one"));
    store_response_free(got);
  }
  /* A newer put of the same id wins; a delete hides it at once. */
  assert_int_equal(store_response_put(st, make_resp("resp_7", "two")), SB_OK);
  assert_int_equal(store_response_get(st, "resp_7", &got), SB_OK);
  assert_non_null(strstr(got->response, "two"));
  store_response_free(got);
  assert_int_equal(store_response_delete(st, "resp_8"), SB_OK);
  assert_int_equal(store_response_get(st, "resp_8", &got), SB_ENOTFOUND);
  assert_int_equal(store_response_put(st, NULL), SB_EINVAL);
  store_close(st);

  st = open_ok(f->db, NULL);
  assert_int_equal(store_response_get(st, "resp_7", &got), SB_OK);
  assert_non_null(strstr(got->response, "two"));
  assert_int_equal(got->created_at, 1700000000);
  assert_null(got->previous_response_id);
  store_response_free(got);
  assert_int_equal(store_response_get(st, "resp_8", &got), SB_ENOTFOUND);
  assert_int_equal(store_response_get(st, "resp_199", &got), SB_OK);
  store_response_free(got);
  store_close(st);
  assert_int_equal(file_int(f->db, "SELECT count(*) FROM responses"), 199);
}

static void test_fresh_db_gets_all_migrations(void **state)
{
  struct testdb *f = *state;
  int64_t t0 = sb_now_ms(), t1;
  struct store *st;
  sqlite3 *db;
  sqlite3_stmt *q = NULL;
  int i = 0;

  assert_true(store_migrations_count > 0);
  assert_int_equal(store_schema_version(),
                   store_migrations[store_migrations_count - 1].version);

  st = open_ok(f->db, NULL);
  assert_int_equal(store_ready(st), 1);
  assert_int_equal(store_dropped(st), 0);
  store_close(st);
  t1 = sb_now_ms();

  db = raw_open(f->db);
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT version, name, applied_at_ms"
                                      " FROM schema_migrations"
                                      " ORDER BY version",
                                      -1, &q, NULL),
                   SQLITE_OK);
  while(sqlite3_step(q) == SQLITE_ROW) {
    assert_true(i < store_migrations_count);
    assert_int_equal(sqlite3_column_int(q, 0), store_migrations[i].version);
    assert_string_equal((const char *)sqlite3_column_text(q, 1),
                        store_migrations[i].name);
    assert_in_range(sqlite3_column_int64(q, 2), t0, t1);
    i++;
  }
  assert_int_equal(i, store_migrations_count);
  sqlite3_finalize(q);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master"
                               " WHERE type='table' AND name='requests'"),
                   1);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void test_journal_mode_is_wal(void **state)
{
  struct testdb *f = *state;
  struct store *st = open_ok(f->db, NULL);
  sqlite3 *db;
  sqlite3_stmt *q = NULL;

  /* While the store is open, and persistently after it closed. */
  db = raw_open(f->db);
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
  sqlite3_finalize(q);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  store_close(st);

  db = raw_open(f->db);
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
  sqlite3_finalize(q);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void test_reopen_applies_nothing(void **state)
{
  struct testdb *f = *state;
  char err[256];
  int64_t stamp;
  int applied = -1;

  store_close(open_ok(f->db, NULL));
  stamp = file_int(f->db, "SELECT sum(applied_at_ms) FROM schema_migrations");

  /* Make a re-application visible in applied_at_ms. */
  sleep_ms(5);
  assert_int_equal(store_migrate(f->db, &applied, err, sizeof(err)), SB_OK);
  assert_int_equal(applied, 0);
  store_close(open_ok(f->db, NULL));

  assert_int_equal(file_int(f->db, "SELECT count(*) FROM schema_migrations"),
                   store_migrations_count);
  assert_int_equal(
      file_int(f->db, "SELECT sum(applied_at_ms) FROM schema_migrations"),
      stamp);
}

static void test_store_migrate(void **state)
{
  struct testdb *f = *state;
  char err[256];
  int applied = -1;

  assert_int_equal(store_migrate(f->db, &applied, err, sizeof(err)), SB_OK);
  assert_int_equal(applied, store_migrations_count);
  assert_int_equal(file_int(f->db, "SELECT count(*) FROM schema_migrations"),
                   store_migrations_count);
  assert_int_equal(count_requests(f->db), 0);

  assert_int_equal(store_migrate(f->db, &applied, err, sizeof(err)), SB_OK);
  assert_int_equal(applied, 0);
  /* NULL out-parameters are allowed. */
  assert_int_equal(store_migrate(f->db, NULL, NULL, 0), SB_OK);
}

static void test_newer_schema_refused_untouched(void **state)
{
  struct testdb *f = *state;
  char sentinel;
  struct store *st = (struct store *)&sentinel; /* must be set to NULL */
  char err[256];
  char *before, *after;
  size_t nbefore, nafter;
  int applied = -1;
  sqlite3 *db = raw_open(f->db);

  raw_exec(db, "CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY,"
               " name TEXT NOT NULL, applied_at_ms INTEGER NOT NULL);"
               "INSERT INTO schema_migrations VALUES(9999, '9999_future', 1)");
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  before = slurp(f->db, &nbefore);

  assert_int_equal(store_open(f->db, NULL, &st, err, sizeof(err)), SB_ETOONEW);
  assert_null(st);
  assert_non_null(strstr(err, "database schema version 9999 is newer than"
                              " this binary"));
  assert_non_null(strstr(err, "upgrade switchboard"));

  assert_int_equal(store_migrate(f->db, &applied, err, sizeof(err)),
                   SB_ETOONEW);
  assert_int_equal(applied, 0);

  after = slurp(f->db, &nafter);
  assert_int_equal(nafter, nbefore);
  assert_memory_equal(after, before, nbefore);
  assert_int_equal(file_int(f->db, "SELECT count(*) FROM sqlite_master"
                                   " WHERE name='requests'"),
                   0);
  free(before);
  free(after);
}

/* Migrations are embedded, so a failing one is provoked through the
 * database instead: an index that 0001 creates after its table already
 * exists, so the migration fails half-way and must roll back fully. */
static void test_failing_migration_rolls_back(void **state)
{
  struct testdb *f = *state;
  const struct store_migration *m = &store_migrations[0];
  struct store *st = NULL;
  char err[256];
  sqlite3 *db;

  if(!strstr(m->sql, "CREATE TABLE requests") ||
     !strstr(m->sql, "CREATE INDEX requests_request_id"))
    skip();
  db = raw_open(f->db);
  raw_exec(db, "CREATE TABLE other(a);"
               "CREATE INDEX requests_request_id ON other(a)");
  assert_int_equal(sqlite3_close(db), SQLITE_OK);

  assert_int_equal(store_open(f->db, NULL, &st, err, sizeof(err)), SB_EDB);
  assert_null(st);
  assert_non_null(strstr(err, m->name));
  assert_non_null(strstr(err, "already exists"));

  assert_int_equal(file_int(f->db, "SELECT count(*) FROM schema_migrations"),
                   0);
  assert_int_equal(file_int(f->db,
                            "SELECT count(*) FROM sqlite_master"
                            " WHERE name IN ('requests', 'requests_ts')"),
                   0);
}

static void test_records_written_exactly(void **state)
{
  struct testdb *f = *state;
  struct store_options o;
  struct store *st;
  int i;

  store_options_default(&o);
  o.batch_max = 64; /* several batches, one partial */
  st = open_ok(f->db, &o);
  for(i = 0; i < 1000; i++)
    assert_int_equal(store_usage_submit(st, make_rec(i)), SB_OK);
  store_close(st);
  check_rows(f->db, 0, 1000);

  /* They survive reopening, and new ones are appended after them. */
  st = open_ok(f->db, NULL);
  assert_int_equal(store_ready(st), 1);
  assert_int_equal(store_usage_submit(st, make_rec(1000)), SB_OK);
  assert_int_equal(store_dropped(st), 0);
  store_close(st);
  check_rows(f->db, 0, 1001);
}

/* The writer lets a batch gather (store_options.gather_us): an outside
 * reader of the file does not see a record at once, the barrier that the
 * gateway's own reads pass (store_sync) writes it without waiting out the
 * window, and closing writes what is gathering. */
static void test_batch_gathers_until_a_reader_asks(void **state)
{
  struct testdb *f = *state;
  struct store_options o;
  struct store *st;

  store_options_default(&o);
  o.gather_us = 60 * 1000 * 1000; /* longer than the test may take */
  st = open_ok(f->db, &o);
  assert_int_equal(store_usage_submit(st, make_rec(0)), SB_OK);
  assert_int_equal(store_usage_submit(st, make_rec(1)), SB_OK);
  sleep_ms(50);
  assert_int_equal(count_requests(f->db), 0);
  assert_int_equal(store_sync(st), SB_OK);
  assert_int_equal(count_requests(f->db), 2);

  /* A full batch does not wait either. */
  store_close(st);
  o.batch_max = 8;
  st = open_ok(f->db, &o);
  for(int i = 2; i < 10; i++)
    assert_int_equal(store_usage_submit(st, make_rec(i)), SB_OK);
  for(int i = 0; i < 200 && count_requests(f->db) < 10; i++)
    sleep_ms(10);
  assert_int_equal(count_requests(f->db), 10);
  assert_int_equal(store_usage_submit(st, make_rec(10)), SB_OK);
  store_close(st);
  check_rows(f->db, 0, 11);
}

static void test_queue_full_drops(void **state)
{
  struct testdb *f = *state;
  struct store_options o;
  struct store *st;
  sqlite3 *lock;
  int i, ok = 0, full = 0;

  store_options_default(&o);
  o.queue_max = 1;
  o.batch_max = 1;
  o.busy_timeout_ms = 30000;
  st = open_ok(f->db, &o);

  /* Stall the writer in BEGIN IMMEDIATE: with one record in its hands
   * and one in the queue, every further submit must be refused. */
  lock = raw_open(f->db);
  raw_exec(lock, "BEGIN IMMEDIATE");
  for(i = 0; i < 50; i++) {
    int rc = store_usage_submit(st, make_rec(i));
    if(rc == SB_OK)
      ok++;
    else {
      assert_int_equal(rc, SB_EAGAIN);
      full++;
    }
  }
  assert_in_range(ok, 1, 2);
  assert_int_equal(ok + full, 50);
  assert_int_equal(store_dropped(st), (uint64_t)full);

  raw_exec(lock, "COMMIT");
  assert_int_equal(sqlite3_close(lock), SQLITE_OK);
  store_close(st);
  assert_int_equal(count_requests(f->db), ok);
}

static void test_failed_batch_dropped_then_recovers(void **state)
{
  struct testdb *f = *state;
  struct store_options o;
  struct store *st;
  sqlite3 *lock;
  int i;

  store_options_default(&o);
  o.busy_timeout_ms = 50;
  st = open_ok(f->db, &o);
  assert_int_equal(store_ready(st), 1);

  lock = raw_open(f->db);
  raw_exec(lock, "BEGIN IMMEDIATE");
  assert_int_equal(store_usage_submit(st, make_rec(0)), SB_OK);
  for(i = 0; i < 5000 && store_dropped(st) < 1; i++)
    sleep_ms(1);
  assert_int_equal(store_dropped(st), 1);
  /* The writer marks not-ready before counting the drop; its next probe
   * is a second away. */
  assert_int_equal(store_ready(st), 0);

  raw_exec(lock, "COMMIT");
  assert_int_equal(sqlite3_close(lock), SQLITE_OK);
  /* The idle probe notices the database is fine again. */
  for(i = 0; i < 5000 && !store_ready(st); i++)
    sleep_ms(1);
  assert_int_equal(store_ready(st), 1);

  assert_int_equal(store_usage_submit(st, make_rec(1)), SB_OK);
  store_close(st);
  check_rows(f->db, 1, 1);
}

struct producer {
  struct store *st;
  int base;
  int n;
  int ok;
};

static void *produce(void *arg)
{
  struct producer *p = arg;
  int i;

  for(i = 0; i < p->n; i++)
    if(store_usage_submit(p->st, make_rec(p->base + i)) == SB_OK)
      p->ok++;
  return NULL;
}

static void test_concurrent_producers(void **state)
{
  struct testdb *f = *state;
  struct store_options o;
  struct producer p[4];
  pthread_t t[4];
  struct store *st;
  int i, ok = 0;

  store_options_default(&o);
  o.queue_max = 256;
  o.batch_max = 32;
  st = open_ok(f->db, &o);
  for(i = 0; i < 4; i++) {
    p[i].st = st;
    p[i].base = i * 100000;
    p[i].n = 2500;
    p[i].ok = 0;
    assert_int_equal(pthread_create(&t[i], NULL, produce, &p[i]), 0);
  }
  for(i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    ok += p[i].ok;
  }
  assert_int_equal((uint64_t)ok + store_dropped(st), 10000);
  store_close(st);
  assert_int_equal(count_requests(f->db), ok);
  assert_int_equal(
      file_int(f->db, "SELECT count(DISTINCT request_id) FROM requests"), ok);
}

static void test_invalid_arguments(void **state)
{
  struct testdb *f = *state;
  struct store_options o;
  struct store_usage *r;
  struct store *st = NULL;
  char err[256];

  store_close(NULL);
  assert_int_equal(store_ready(NULL), 0);
  store_usage_free(NULL);

  store_options_default(&o);
  o.queue_max = 0;
  assert_int_equal(store_open(f->db, &o, &st, err, sizeof(err)), SB_EINVAL);
  assert_null(st);
  store_options_default(&o);
  o.batch_max = 0;
  assert_int_equal(store_open(f->db, &o, &st, err, sizeof(err)), SB_EINVAL);
  store_options_default(&o);
  o.gather_us = -1;
  assert_int_equal(store_open(f->db, &o, &st, err, sizeof(err)), SB_EINVAL);
  assert_int_equal(access(f->db, F_OK), -1); /* nothing created */

  st = open_ok(f->db, NULL);
  assert_int_equal(store_usage_submit(st, NULL), SB_EINVAL);
  r = make_rec(0);
  free(r->api);
  r->api = NULL;
  assert_int_equal(store_usage_submit(st, r), SB_EINVAL); /* and freed */
  r = make_rec(1);
  free(r->request_id);
  r->request_id = NULL;
  assert_int_equal(store_usage_submit(st, r), SB_EINVAL);
  assert_int_equal(store_usage_submit(NULL, make_rec(2)), SB_EINVAL);
  assert_int_equal(store_dropped(st), 0);
  assert_int_equal(store_ready(st), 1);
  store_close(st);
  assert_int_equal(count_requests(f->db), 0);
}

static void test_unusable_files(void **state)
{
  struct testdb *f = *state;
  struct store *st = NULL;
  char path[400], err[256], junk[8192];
  FILE *fp;

  snprintf(path, sizeof(path), "%s/missing/dir/x.db", f->dir);
  assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), SB_EDB);
  assert_null(st);
  assert_true(err[0] != '\0');

  memset(junk, 'x', sizeof(junk));
  fp = fopen(f->db, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(junk, 1, sizeof(junk), fp), sizeof(junk));
  fclose(fp);
  assert_int_equal(store_open(f->db, NULL, &st, err, sizeof(err)), SB_EDB);
  assert_null(st);
  assert_non_null(strstr(err, "not a database"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_fresh_db_gets_all_migrations,
                                      testdir_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_journal_mode_is_wal, testdir_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_reopen_applies_nothing,
                                      testdir_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_store_migrate, testdir_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_newer_schema_refused_untouched,
                                      testdir_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_failing_migration_rolls_back,
                                      testdir_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_records_written_exactly,
                                      testdir_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_batch_gathers_until_a_reader_asks,
                                      testdir_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_queue_full_drops, testdir_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_failed_batch_dropped_then_recovers,
                                      testdir_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_producers, testdir_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_invalid_arguments, testdir_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_responses_read_your_writes,
                                      testdir_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_unusable_files, testdir_setup,
                                      testdb_teardown),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
