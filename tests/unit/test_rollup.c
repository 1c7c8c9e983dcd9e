/*
 * test_rollup.c - latency histograms (bucket bounds, quantiles, the
 * stored form) and the roll-ups the writer keeps: a batch's sums land
 * in usage_hourly and usage_daily exactly as the records say, and
 * /admin/v1/stats' query reads them back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/sb.h"
#include "store/rollup.h"
#include "store/stats.h"
#include "store/store.h"
#include "support/testdb.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static void test_buckets(void **state)
{
  (void)state;
  assert_int_equal(store_hist_bucket(0), 0);
  assert_int_equal(store_hist_bucket(9), 0);
  assert_int_equal(store_hist_bucket(10), 1);
  assert_int_equal(store_hist_bucket(11), 1);
  assert_int_equal(store_hist_bucket(12), 2);
  /* one decade is ten buckets */
  assert_int_equal(store_hist_bucket(100), 11);
  assert_int_equal(store_hist_bucket(1000), 21);
  assert_int_equal(store_hist_bucket(999), 20);
  /* 1000 s and beyond: the last bucket */
  assert_int_equal(store_hist_bucket(INT64_C(1000000000)),
                   STORE_HIST_BUCKETS - 1);
  assert_int_equal(store_hist_bucket(INT64_MAX), STORE_HIST_BUCKETS - 1);
  /* monotonic */
  for(int64_t us = 1; us < INT64_C(2000000000); us = us * 11 / 10 + 1)
    assert_true(store_hist_bucket(us) >= store_hist_bucket(us - 1));
}

static void test_quantiles(void **state)
{
  struct store_hist h;
  double p50, p95;

  (void)state;
  memset(&h, 0, sizeof(h));
  assert_true(store_hist_quantile(&h, 0.5) < 0); /* nothing: no answer */
  /* 1..1000 ms, uniformly: p50 near 500 ms, p95 near 950 ms, within a
   * bucket's width (25 %) */
  for(int ms = 1; ms <= 1000; ms++)
    store_hist_add(&h, (int64_t)ms * 1000);
  p50 = store_hist_quantile(&h, 0.5) / 1000;
  p95 = store_hist_quantile(&h, 0.95) / 1000;
  assert_true(p50 > 400 && p50 < 600);
  assert_true(p95 > 800 && p95 <= 1000);
  assert_true(store_hist_quantile(&h, 0.01) / 1000 < 20);
}

static void test_blob(void **state)
{
  struct store_hist a, b;
  unsigned char blob[STORE_HIST_BLOB_MAX];
  size_t len;

  (void)state;
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  assert_int_equal(store_hist_blob(&a, blob), 0);
  store_hist_add(&a, 5);
  assert_int_equal(store_hist_blob(&a, blob), 2); /* one bucket: 2 bytes */
  for(int i = 0; i < 300; i++)
    store_hist_add(&a, (int64_t)i * 7919);
  len = store_hist_blob(&a, blob);
  assert_true(len <= STORE_HIST_BLOB_MAX);
  assert_int_equal(store_hist_merge_blob(&b, blob, len), 0);
  assert_memory_equal(&a, &b, sizeof(a));
  /* merging adds */
  assert_int_equal(store_hist_merge_blob(&b, blob, len), 0);
  assert_int_equal(b.total, 2 * a.total);
  /* malformed: a bucket out of range, a varint cut short */
  blob[0] = STORE_HIST_BUCKETS;
  blob[1] = 1;
  assert_int_equal(store_hist_merge_blob(&b, blob, 2), SB_EINVAL);
  blob[0] = 3;
  blob[1] = 0x80;
  assert_int_equal(store_hist_merge_blob(&b, blob, 2), SB_EINVAL);
}

/* A record at ts_ms of latency_ms, upstream_us, for key, model. */
static struct store_usage *rec(int64_t ts_ms, int latency_ms,
                               int64_t upstream_us, const char *key,
                               const char *route, int status)
{
  struct store_usage *r = sb_calloc(1, sizeof(*r));

  r->ts_ms = ts_ms;
  r->request_id = sb_strdup("req_x");
  r->api = sb_strdup("chat");
  r->model = sb_strdup("up/m");
  r->provider = sb_strdup("up");
  r->upstream_model = sb_strdup("m");
  r->status = status;
  r->prompt_tokens = 10;
  r->completion_tokens = 5;
  r->cached_tokens = -1;
  r->reasoning_tokens = -1;
  r->ttfb_ms = -1;
  r->latency_ms = latency_ms;
  r->latency_us = (int64_t)latency_ms * 1000;
  r->upstream_us = upstream_us;
  r->key_id = key ? sb_strdup(key) : NULL;
  r->route = route ? sb_strdup(route) : NULL;
  r->cost_usd = 0.5;
  r->attempts = 1;
  return r;
}

static int64_t one(const char *path, const char *sql)
{
  sqlite3 *db;
  sqlite3_stmt *st;
  int64_t v = -1;

  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  if(sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

#define H0 INT64_C(1796569200000) /* an hour's start, in ms */

static void test_writer_rollups(void **state)
{
  struct testdb *f = *state;
  struct store_usage_filter q;
  struct store_options opt;
  struct store *st;
  cJSON *out, *t, *series;
  char err[256];

  store_options_default(&opt);
  opt.batch_max = 7; /* several batches, groups across them */
  assert_int_equal(store_open(f->db, &opt, &st, err, sizeof(err)), 0);
  /* hour 0: 20 requests by key a (10 via route r), 1 error; hour 1: 5 by
   * key b without an upstream */
  for(int i = 0; i < 20; i++)
    assert_int_equal(
        store_usage_submit(st,
                           rec(H0 + i * 1000, 100 + i, (int64_t)(90 + i) * 1000,
                               "a", i < 10 ? "r" : NULL, i == 3 ? 502 : 200)),
        0);
  for(int i = 0; i < 5; i++)
    assert_int_equal(
        store_usage_submit(st, rec(H0 + 3600000 + i, 2, 0, "b", NULL, 200)), 0);
  store_close(st);

  assert_int_equal(one(f->db, "SELECT sum(requests) FROM usage_hourly"), 25);
  assert_int_equal(one(f->db, "SELECT count(*) FROM usage_hourly"), 3);
  assert_int_equal(one(f->db, "SELECT sum(errors) FROM usage_hourly"), 1);
  assert_int_equal(one(f->db, "SELECT sum(prompt_tokens) FROM usage_hourly"),
                   250);
  assert_int_equal(one(f->db, "SELECT requests FROM usage_hourly WHERE"
                              " route = 'r'"),
                   10);
  /* the daily roll-up: one row per key and route over both hours */
  assert_int_equal(one(f->db, "SELECT count(*) FROM usage_daily"), 3);
  assert_int_equal(one(f->db, "SELECT sum(requests) FROM usage_daily WHERE"
                              " key_id = 'a'"),
                   20);
  assert_int_equal(one(f->db, "SELECT requests FROM usage_daily WHERE"
                              " route = 'r'"),
                   10);
  assert_int_equal(one(f->db, "SELECT count(*) FROM requests WHERE"
                              " upstream_us IS NULL"),
                   5);

  /* read back through the stats query: hour buckets, per key */
  memset(&q, 0, sizeof(q));
  q.since_ms = H0;
  q.until_ms = H0 + 2 * 3600000;
  assert_int_equal(
      store_stats_query(f->db, &q, "hour", "key", 5, &out, err, sizeof(err)),
      0);
  t = cJSON_GetObjectItem(out, "totals");
  assert_int_equal(cJSON_GetObjectItem(t, "requests")->valueint, 25);
  /* latencies 2 ms (5) and 100..119 ms (20): p50 in the upper group;
   * the gateway's own time is 10 ms on every upstream request */
  assert_true(cJSON_GetObjectItem(t, "latency_p50_ms")->valuedouble >= 80);
  assert_true(cJSON_GetObjectItem(t, "overhead_p50_ms")->valuedouble >= 8);
  assert_true(cJSON_GetObjectItem(t, "overhead_p50_ms")->valuedouble <= 12);
  series = cJSON_GetObjectItem(out, "series");
  assert_int_equal(cJSON_GetArraySize(series), 2);
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetArrayItem(series, 0), "group")->valuestring,
      "a");
  assert_true(cJSON_IsNull(
      cJSON_GetObjectItem(cJSON_GetArrayItem(series, 1), "overhead_p50_ms")));
  cJSON_Delete(out);

  /* the route filter reads the hourly roll-ups too */
  q.route = "r";
  assert_int_equal(
      store_stats_query(f->db, &q, "day", "none", 5, &out, err, sizeof(err)),
      0);
  t = cJSON_GetObjectItem(out, "totals");
  assert_int_equal(cJSON_GetObjectItem(t, "requests")->valueint, 10);
  cJSON_Delete(out);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buckets),
      cmocka_unit_test(test_quantiles),
      cmocka_unit_test(test_blob),
      cmocka_unit_test_setup_teardown(test_writer_rollups, testdb_setup,
                                      testdb_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
