/*
 * test_retention.c - store/retention.c against a real SQLite file: what a
 * pass deletes and keeps, in batches, with dependents, stopping early; the
 * background job; and the config section that sets it.
 */
#include "tests/unit/support/testdb.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/sb.h"
#include "config/config.h"
#include "store/keys.h"
#include "store/retention.h"
#include "store/store.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOW INT64_C(1760000000)
#define DAY INT64_C(86400)

static void sql(const char *path, const char *text)
{
  sqlite3 *db = NULL;
  char *msg = NULL;

  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  if(sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
    fail_msg("%s: %s", text, msg);
  sqlite3_close(db);
}

static int64_t count(const char *path, const char *text)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  int64_t v = -1;

  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  /* The job may be writing: wait for its lock as the gateway's readers do. */
  sqlite3_busy_timeout(db, 5000);
  assert_int_equal(sqlite3_prepare_v2(db, text, -1, &st, NULL), SQLITE_OK);
  if(sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

/* Rows aged 1..n days (one each) in every table a pass reads. The
 * conversations tables come from another migration (0013); made here
 * with the columns retention reads, if the schema lacks them. */
static void fill(const char *path, int n)
{
  char q[2048];

  sql(path, "CREATE TABLE IF NOT EXISTS conversations(id TEXT PRIMARY KEY,"
            " key_id TEXT, metadata TEXT NOT NULL DEFAULT '{}',"
            " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
            "CREATE TABLE IF NOT EXISTS conversation_items(id TEXT PRIMARY"
            " KEY, conv_id TEXT NOT NULL, seq INTEGER NOT NULL, item TEXT NOT"
            " NULL, provider TEXT, model TEXT, created_at INTEGER NOT NULL,"
            " UNIQUE(conv_id, seq))");
  for(int d = 1; d <= n; d++) {
    int64_t t = NOW - d * DAY + 60; /* a minute younger than d days */
    snprintf(q, sizeof(q),
             "INSERT INTO requests(id, ts_ms, request_id, api, status,"
             " latency_ms, key_id, cost_usd) VALUES(%d, %lld, 'r%d', 'chat',"
             " 200, 1, 'k', 1);"
             /* what the store's writer adds with each record */
             "INSERT INTO usage_daily VALUES(strftime('%%Y-%%m-%%d', %lld,"
             " 'unixepoch'), 'k', '', '', '', '', 1, 0, 0, 0, 0, 0, 1, 0, NULL,"
             " NULL)"
             " ON CONFLICT DO UPDATE SET requests = requests + 1,"
             " cost_usd = cost_usd + 1;"
             "INSERT INTO request_bodies(id, ts_ms, request, response)"
             " VALUES(%d, %lld, '{}', '{}');"
             "INSERT INTO responses(id, created_at, model, response,"
             " input_items, context) VALUES('resp_%d', %lld, 'm', '{}', '[]',"
             " '[]');"
             "INSERT INTO response_items VALUES('msg_r%d', 'resp_%d', '{}');"
             "INSERT INTO conversations(id, created_at, updated_at)"
             " VALUES('conv_%d', 0, %lld);"
             "INSERT INTO conversation_items VALUES('msg_a%d', 'conv_%d', 1,"
             " '{}', NULL, NULL, 0), ('msg_b%d', 'conv_%d', 2, '{}', NULL,"
             " NULL, 0);",
             d, (long long)(t * 1000), d, (long long)t, d,
             (long long)(t * 1000), d, (long long)t, d, d, d, (long long)t, d,
             d, d, d);
    sql(path, q);
  }
}

static void test_pass(void **state)
{
  struct testdb *f = *state;
  struct store_retention_policy p = {
      .conversations_days = 7, .responses_days = 3, .requests_days = 10};
  struct store_retention_stats s;
  char err[256];

  fill(f->db, 12);
  /* batches of 2: several transactions per kind */
  assert_int_equal(
      store_retention_run(f->db, &p, NOW, 2, NULL, &s, err, sizeof(err)), 0);
  /* a row of d days is a minute younger than d days: d days are kept */
  assert_int_equal(s.conversations, 5); /* 8..12 */
  assert_int_equal(s.conversation_items, 10);
  assert_int_equal(s.responses, 9); /* 4..12 */
  assert_int_equal(s.response_items, 9);
  assert_int_equal(s.requests, 2); /* 11, 12 */
  assert_int_equal(count(f->db, "SELECT count(*) FROM conversations"), 7);
  assert_int_equal(count(f->db, "SELECT max(updated_at) FROM conversations"),
                   NOW - DAY + 60);
  assert_int_equal(count(f->db, "SELECT min(updated_at) FROM conversations"),
                   NOW - 7 * DAY + 60);
  assert_int_equal(count(f->db, "SELECT count(*) FROM conversation_items"), 14);
  assert_int_equal(count(f->db, "SELECT count(*) FROM conversation_items"
                                " WHERE conv_id NOT IN"
                                " (SELECT id FROM conversations)"),
                   0);
  assert_int_equal(count(f->db, "SELECT count(*) FROM responses"), 3);
  assert_int_equal(count(f->db, "SELECT count(*) FROM response_items"), 3);
  assert_int_equal(count(f->db, "SELECT count(*) FROM requests"), 10);
  /* logged bodies go with their records */
  assert_int_equal(count(f->db, "SELECT count(*) FROM request_bodies"), 10);
  assert_int_equal(count(f->db, "SELECT min(id) FROM request_bodies"), 1);
  /* the daily roll-ups keep every request */
  assert_int_equal(count(f->db, "SELECT sum(requests) FROM usage_daily"), 12);
  assert_int_equal(count(f->db, "SELECT sum(cost_usd) FROM usage_daily"), 12);
  /* so a key's spend over a budget period still counts them all */
  {
    double usd = 0;
    assert_int_equal(store_key_spend(f->db, "k", 0, &usd, err, sizeof(err)), 0);
    assert_true(usd == 12.0);
    assert_int_equal(store_key_spend(f->db, "k",
                                     (NOW - 11 * DAY) / DAY * DAY * 1000, &usd,
                                     err, sizeof(err)),
                     0);
    assert_true(usd == 11.0);
  }

  /* a second pass finds nothing more */
  assert_int_equal(
      store_retention_run(f->db, &p, NOW, 0, NULL, &s, err, sizeof(err)), 0);
  assert_int_equal(s.conversations + s.responses + s.requests, 0);

  /* a day later, the next oldest go */
  assert_int_equal(
      store_retention_run(f->db, &p, NOW + DAY, 0, NULL, &s, err, sizeof(err)),
      0);
  assert_int_equal(s.conversations, 1);
  assert_int_equal(s.responses, 1);
  assert_int_equal(s.requests, 1);
}

static void test_keep_forever_and_stop(void **state)
{
  struct testdb *f = *state;
  struct store_retention_policy p = {0, 0, 0};
  struct store_retention_stats s;
  atomic_int stop;
  char err[256];

  fill(f->db, 6);
  assert_int_equal(
      store_retention_run(f->db, &p, NOW, 1, NULL, &s, err, sizeof(err)), 0);
  assert_int_equal(count(f->db, "SELECT count(*) FROM requests"), 6);
  assert_int_equal(count(f->db, "SELECT count(*) FROM conversations"), 6);

  /* stopped: the pass ends before its next batch */
  p.requests_days = 1;
  p.responses_days = 1;
  atomic_init(&stop, 1);
  assert_int_equal(
      store_retention_run(f->db, &p, NOW, 2, &stop, &s, err, sizeof(err)), 0);
  assert_int_equal(s.responses + s.requests, 0);
  assert_int_equal(count(f->db, "SELECT count(*) FROM responses"), 6);
  atomic_store(&stop, 0);
  assert_int_equal(
      store_retention_run(f->db, &p, NOW, 2, &stop, &s, err, sizeof(err)), 0);
  assert_int_equal(s.responses, 5);
  p.responses_days = 0;

  /* an older schema without the conversations tables is skipped */
  sql(f->db, "DROP TABLE conversations; DROP TABLE conversation_items");
  p.conversations_days = 1;
  assert_int_equal(
      store_retention_run(f->db, &p, NOW, 0, NULL, &s, err, sizeof(err)), 0);
  assert_int_equal(s.conversations, 0);
  assert_int_equal(s.requests, 0); /* went with the responses above */
  assert_int_equal(count(f->db, "SELECT count(*) FROM requests"), 1);

  /* a database that cannot be opened fails with a message */
  assert_int_equal(store_retention_run("/nonexistent/dir/x.db", &p, NOW, 0,
                                       NULL, &s, err, sizeof(err)),
                   SB_EDB);
  assert_true(err[0]);
}

static void test_job(void **state)
{
  struct testdb *f = *state;
  struct store_retention_policy none = {0, 0, 0}, p = {.requests_days = 1};
  struct store_retention *r = (struct store_retention *)1;
  struct timespec t0, t1, nap = {0, 10 * 1000 * 1000};
  int64_t left = -1;

  assert_int_equal(store_retention_start(f->db, &none, &r), 0);
  assert_null(r); /* nothing to do: no thread */
  store_retention_stop(NULL);

  /* the real clock: rows 2 and 3 days old go at start */
  sql(f->db, "INSERT INTO requests(ts_ms, request_id, api, status,"
             " latency_ms) VALUES"
             " (strftime('%s','now') * 1000, 'new', 'chat', 200, 1),"
             " ((strftime('%s','now') - 2 * 86400) * 1000, 'old', 'chat',"
             " 200, 1),"
             " ((strftime('%s','now') - 3 * 86400) * 1000, 'older', 'chat',"
             " 200, 1)");
  assert_int_equal(store_retention_start(f->db, &p, &r), 0);
  assert_non_null(r);
  for(int i = 0; i < 300 && left != 1; i++) {
    nanosleep(&nap, NULL);
    left = count(f->db, "SELECT count(*) FROM requests");
  }
  assert_int_equal(left, 1);
  /* stopping does not wait out the hour */
  clock_gettime(CLOCK_MONOTONIC, &t0);
  store_retention_stop(r);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_true(t1.tv_sec - t0.tv_sec < 2);
}

static void test_config(void **state)
{
  struct config cfg;
  char err[256];
  const char *ok = "{\"retention\":{\"conversations_days\":30,"
                   "\"responses_days\":7,\"requests_days\":90}}";

  (void)state;
  config_defaults(&cfg);
  assert_int_equal(cfg.retention.conversations_days, 0);
  assert_int_equal(cfg.retention.responses_days, 0);
  assert_int_equal(cfg.retention.requests_days, 0);
  assert_int_equal(config_load_json(&cfg, ok, strlen(ok), err, sizeof(err)), 0);
  assert_int_equal(cfg.retention.conversations_days, 30);
  assert_int_equal(cfg.retention.responses_days, 7);
  assert_int_equal(cfg.retention.requests_days, 90);
  config_free(&cfg);

  config_defaults(&cfg);
  ok = "{\"retention\":{\"requests_days\":-1}}";
  assert_int_equal(config_load_json(&cfg, ok, strlen(ok), err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "retention.requests_days"));
  ok = "{\"retention\":{\"logs_days\":1}}";
  assert_int_equal(config_load_json(&cfg, ok, strlen(ok), err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "retention.logs_days"));
  ok = "{\"retention\":7}";
  assert_int_equal(config_load_json(&cfg, ok, strlen(ok), err, sizeof(err)),
                   SB_ECONFIG);
  config_free(&cfg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_pass, testdb_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_keep_forever_and_stop, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_job, testdb_setup, testdb_teardown),
      cmocka_unit_test(test_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
