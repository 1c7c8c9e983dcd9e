/*
 * test_cache_store.c - store/cache.c against real SQLite files in a
 * temporary directory: the index answering at once, the writer's rows,
 * expiry, LRU eviction, purges (also from a second instance, as the CLI
 * would make them), reopening, and the limits.
 *
 * What the writer does in the background is awaited by polling with a
 * bounded wait (sweep_ms is short), never by sleeping a fixed time and
 * hoping. A lock held from a raw connection stalls the writer
 * deterministically where a full queue is needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/sb.h"
#include "store/cache.h"
#include "tests/unit/support/testdb.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long a test waits for the writer before failing. */
#define WAIT_MS  5000
#define SWEEP_MS 20

/* ---- helpers ---- */

static void sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

  nanosleep(&ts, NULL);
}

/* A key unlike any other i (the first bytes differ, as SHA-256s do). */
static void key_of(int i, unsigned char key[STORE_CACHE_KEY_LEN])
{
  for(int j = 0; j < STORE_CACHE_KEY_LEN; j++)
    key[j] = (unsigned char)(i * 31 + j * 7 + 1);
}

static struct store_cache *open_sweep(const char *path, int64_t max_bytes,
                                      int queue_max, int sweep_ms)
{
  struct store_cache_options opt = {max_bytes, sweep_ms, queue_max, 0};
  struct store_cache *c = NULL;
  char err[256];

  assert_int_equal(store_cache_open(path, &opt, &c, err, sizeof(err)), SB_OK);
  assert_non_null(c);
  return c;
}

static int put(struct store_cache *c, int i, const char *scope,
               const char *data, int64_t expires_ms)
{
  struct store_cache_meta m = {expires_ms, 0, 0.25};
  unsigned char key[STORE_CACHE_KEY_LEN];

  key_of(i, key);
  return store_cache_put(c, key, scope, data, strlen(data), &m);
}

static int64_t in_an_hour(void)
{
  return sb_now_ms() + 3600 * 1000;
}

static int hit(struct store_cache *c, int i)
{
  unsigned char key[STORE_CACHE_KEY_LEN];

  key_of(i, key);
  return store_cache_lookup(c, key, sb_now_ms(), NULL);
}

/* The rows of the file under key i (-1: all rows), read as another
 * process would. */
static int rows(const char *path, int i)
{
  unsigned char key[STORE_CACHE_KEY_LEN];
  sqlite3_stmt *st = NULL;
  sqlite3 *db = NULL;
  int n = -1;

  key_of(i, key);
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT count(*) FROM entries"
                                      " WHERE ?1 IS NULL OR key = ?1",
                                      -1, &st, NULL),
                   SQLITE_OK);
  if(i >= 0)
    sqlite3_bind_blob(st, 1, key, STORE_CACHE_KEY_LEN, SQLITE_STATIC);
  if(sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

/* Poll until the file holds want rows under key i; 1, or 0 after
 * WAIT_MS. */
static int wait_rows(const char *path, int i, int want)
{
  for(int waited = 0; waited < WAIT_MS; waited += 10) {
    if(rows(path, i) == want)
      return 1;
    sleep_ms(10);
  }
  return 0;
}

static int wait_miss(struct store_cache *c, int i)
{
  for(int waited = 0; waited < WAIT_MS; waited += 10) {
    if(!hit(c, i))
      return 1;
    sleep_ms(10);
  }
  return 0;
}

static struct store_cache *open_cache(const char *path, int64_t max_bytes,
                                      int queue_max)
{
  return open_sweep(path, max_bytes, queue_max, SWEEP_MS);
}

/* ---- tests ---- */

static void test_put_then_lookup_and_read(void **state)
{
  struct testdb *f = *state;
  struct store_cache *c = open_cache(f->db, 1 << 20, 64);
  unsigned char key[STORE_CACHE_KEY_LEN];
  struct store_cache_meta m = {0};
  struct store_cache_stats s;
  char *data = NULL;
  size_t len = 0;

  key_of(1, key);
  assert_int_equal(put(c, 1, "key_a", "{\"answer\":42}", in_an_hour()), SB_OK);
  /* The index holds it at once, before the writer ran. */
  assert_int_equal(store_cache_lookup(c, key, sb_now_ms(), &m), 1);
  assert_int_equal(m.bytes, 13);
  assert_true(m.cost_usd == 0.25);
  assert_true(m.expires_ms > sb_now_ms());
  assert_int_equal(store_cache_read(c, key, &data, &len), SB_OK);
  assert_int_equal(len, 13);
  assert_string_equal(data, "{\"answer\":42}");
  free(data);

  /* Once written, the same bytes come from the file. */
  assert_true(wait_rows(f->db, 1, 1));
  data = NULL;
  assert_int_equal(store_cache_read(c, key, &data, &len), SB_OK);
  assert_int_equal(len, 13);
  assert_string_equal(data, "{\"answer\":42}");
  free(data);

  store_cache_stats(c, &s);
  assert_int_equal(s.entries, 1);
  assert_int_equal(s.bytes, 13);
  assert_int_equal(s.hits, 1);
  assert_int_equal(s.misses, 0);
  assert_int_equal(s.puts, 1);
  store_cache_close(c);
}

static void test_unknown_key_misses(void **state)
{
  struct testdb *f = *state;
  struct store_cache *c = open_cache(f->db, 1 << 20, 64);
  unsigned char key[STORE_CACHE_KEY_LEN];
  struct store_cache_stats s;
  char *data = NULL;
  size_t len = 7;

  assert_int_equal(put(c, 1, "key_a", "one", in_an_hour()), SB_OK);
  key_of(2, key);
  assert_int_equal(store_cache_lookup(c, key, sb_now_ms(), NULL), 0);
  assert_int_equal(store_cache_read(c, key, &data, &len), SB_ENOTFOUND);
  assert_null(data);
  store_cache_stats(c, &s);
  assert_int_equal(s.hits, 0);
  assert_int_equal(s.misses, 1);
  assert_int_equal(s.entries, 1);
  store_cache_close(c);
}

static void test_expiry(void **state)
{
  struct testdb *f = *state;
  struct store_cache *c = open_cache(f->db, 1 << 20, 64);
  struct store_cache_stats s;
  int64_t soon = sb_now_ms() + 300;

  /* Already expired: a miss at once. */
  assert_int_equal(put(c, 1, "key_a", "old", sb_now_ms() - 1000), SB_OK);
  assert_int_equal(hit(c, 1), 0);
  /* Expiring soon: a hit, written, then a miss and its row deleted. */
  assert_int_equal(put(c, 2, "key_a", "soon", soon), SB_OK);
  assert_int_equal(put(c, 3, "key_a", "later", in_an_hour()), SB_OK);
  assert_int_equal(hit(c, 2), 1);
  assert_true(wait_rows(f->db, 2, 1));
  while(sb_now_ms() <= soon)
    sleep_ms(10);
  assert_int_equal(hit(c, 2), 0);
  assert_true(wait_rows(f->db, 2, 0));
  assert_true(wait_rows(f->db, 1, 0));
  assert_int_equal(rows(f->db, 3), 1);
  assert_int_equal(hit(c, 3), 1);
  store_cache_stats(c, &s);
  assert_int_equal(s.entries, 1);
  assert_int_equal(s.expired, 2);
  store_cache_close(c);
}

static int64_t stat_bytes(struct store_cache *c)
{
  struct store_cache_stats s;

  store_cache_stats(c, &s);
  return s.bytes;
}

static void test_lru_eviction(void **state)
{
  struct testdb *f = *state;
  /* No sweep during the test: eviction follows the put that passes
   * max_bytes. */
  struct store_cache *c = open_sweep(f->db, 1000, 64, 60000);
  struct store_cache_stats s;
  char d[301];

  memset(d, 'x', 300);
  d[300] = '\0';
  assert_int_equal(put(c, 1, "key_a", d, in_an_hour()), SB_OK);
  assert_int_equal(put(c, 2, "key_a", d, in_an_hour()), SB_OK);
  assert_int_equal(put(c, 3, "key_a", d, in_an_hour()), SB_OK);
  /* 1 was put first but is the most recently looked up: 2 goes. */
  assert_int_equal(hit(c, 1), 1);
  assert_int_equal(put(c, 4, "key_a", d, in_an_hour()), SB_OK);
  for(int waited = 0; waited < WAIT_MS && stat_bytes(c) > 1000; waited += 10)
    sleep_ms(10);
  store_cache_stats(c, &s);
  assert_true(s.bytes <= 1000);
  assert_int_equal(s.bytes, 900);
  assert_int_equal(s.entries, 3);
  assert_int_equal(s.evicted, 1);
  assert_int_equal(hit(c, 2), 0);
  assert_int_equal(hit(c, 1), 1);
  assert_int_equal(hit(c, 3), 1);
  assert_int_equal(hit(c, 4), 1);
  /* Its row goes too; the others stay. */
  assert_true(wait_rows(f->db, 2, 0));
  assert_true(wait_rows(f->db, -1, 3));
  store_cache_close(c);
}

static void test_replace_same_key(void **state)
{
  struct testdb *f = *state;
  struct store_cache *c = open_cache(f->db, 1 << 20, 64);
  unsigned char key[STORE_CACHE_KEY_LEN];
  struct store_cache_meta m = {0};
  struct store_cache_stats s;
  char *data = NULL;
  size_t len = 0;

  key_of(1, key);
  assert_int_equal(put(c, 1, "key_a", "one", in_an_hour()), SB_OK);
  assert_int_equal(put(c, 1, "key_b", "two-two", in_an_hour()), SB_OK);
  assert_int_equal(store_cache_lookup(c, key, sb_now_ms(), &m), 1);
  assert_int_equal(m.bytes, 7);
  assert_int_equal(store_cache_read(c, key, &data, &len), SB_OK);
  assert_string_equal(data, "two-two");
  free(data);
  store_cache_stats(c, &s);
  assert_int_equal(s.entries, 1);
  assert_int_equal(s.bytes, 7);
  /* One row, in the new scope: purging the old one deletes nothing. */
  assert_int_equal(store_cache_purge(c, "key_a"), 0);
  assert_int_equal(rows(f->db, 1), 1);
  assert_int_equal(hit(c, 1), 1);
  assert_int_equal(store_cache_purge(c, "key_b"), 1);
  assert_int_equal(hit(c, 1), 0);
  store_cache_close(c);
}

static void test_purge_all_and_by_scope(void **state)
{
  struct testdb *f = *state;
  struct store_cache *c = open_cache(f->db, 1 << 20, 64);
  struct store_cache_stats s;

  for(int i = 0; i < 3; i++)
    assert_int_equal(put(c, i, "key_a", "a", in_an_hour()), SB_OK);
  for(int i = 3; i < 5; i++)
    assert_int_equal(put(c, i, "key_b", "bb", in_an_hour()), SB_OK);
  /* Queued puts are written first, so all three count. */
  assert_int_equal(store_cache_purge(c, "key_a"), 3);
  for(int i = 0; i < 3; i++)
    assert_int_equal(hit(c, i), 0);
  for(int i = 3; i < 5; i++)
    assert_int_equal(hit(c, i), 1);
  assert_int_equal(rows(f->db, -1), 2);
  store_cache_stats(c, &s);
  assert_int_equal(s.entries, 2);
  assert_int_equal(s.bytes, 4);

  assert_int_equal(store_cache_purge(c, NULL), 2);
  assert_int_equal(hit(c, 3), 0);
  assert_int_equal(rows(f->db, -1), 0);
  store_cache_stats(c, &s);
  assert_int_equal(s.entries, 0);
  assert_int_equal(s.bytes, 0);
  assert_int_equal(s.purged, 5);
  /* Our own purges bumped the generation: the index is not reloaded for
   * them, and a put after them still hits after a few sweeps. */
  assert_int_equal(put(c, 9, "key_a", "again", in_an_hour()), SB_OK);
  assert_true(wait_rows(f->db, 9, 1));
  sleep_ms(5 * SWEEP_MS);
  assert_int_equal(hit(c, 9), 1);
  store_cache_close(c);
}

static void test_purge_from_another_instance(void **state)
{
  struct testdb *f = *state;
  struct store_cache *c1 = open_cache(f->db, 1 << 20, 64), *c2;
  struct store_cache_stats s;

  assert_int_equal(put(c1, 1, "key_a", "one", in_an_hour()), SB_OK);
  assert_int_equal(put(c1, 2, "key_a", "two", in_an_hour()), SB_OK);
  assert_int_equal(put(c1, 3, "key_b", "three", in_an_hour()), SB_OK);
  assert_true(wait_rows(f->db, -1, 3));

  /* As the CLI would: its own instance on the same file. */
  c2 = open_cache(f->db, 1 << 20, 64);
  assert_int_equal(hit(c2, 1), 1);
  assert_int_equal(hit(c1, 1), 1);
  assert_int_equal(hit(c1, 2), 1);
  assert_int_equal(store_cache_purge(c2, "key_a"), 2);
  store_cache_close(c2);

  /* c1 notices the generation on its next sweep and reloads: the purged
   * entries stop hitting, the other scope's stays. */
  assert_true(wait_miss(c1, 1));
  assert_true(wait_miss(c1, 2));
  assert_int_equal(hit(c1, 3), 1);
  store_cache_stats(c1, &s);
  assert_int_equal(s.entries, 1);
  assert_int_equal(s.bytes, 5);
  store_cache_close(c1);
}

static void test_read_of_gone_row(void **state)
{
  struct testdb *f = *state;
  struct store_cache *c = open_cache(f->db, 1 << 20, 64);
  unsigned char key[STORE_CACHE_KEY_LEN];
  char *data = NULL;
  size_t len;
  sqlite3 *db = NULL;

  assert_int_equal(put(c, 1, "key_a", "one", in_an_hour()), SB_OK);
  assert_true(wait_rows(f->db, 1, 1));
  /* Deleted behind the index's back (no generation bump, no reload). */
  assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  assert_int_equal(sqlite3_exec(db, "DELETE FROM entries", NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);

  key_of(1, key);
  assert_int_equal(hit(c, 1), 1);
  assert_int_equal(store_cache_read(c, key, &data, &len), SB_ENOTFOUND);
  assert_null(data);
  /* The index forgot it. */
  assert_int_equal(hit(c, 1), 0);
  store_cache_close(c);
}

static void test_reopen_loads_index(void **state)
{
  struct testdb *f = *state;
  struct store_cache *c = open_cache(f->db, 1 << 20, 64);
  unsigned char key[STORE_CACHE_KEY_LEN];
  struct store_cache_stats s;
  char *data = NULL;
  size_t len = 0;

  assert_int_equal(put(c, 1, "key_a", "aaaa", in_an_hour()), SB_OK);
  assert_int_equal(put(c, 2, "key_a", "bbbb", in_an_hour()), SB_OK);
  assert_int_equal(put(c, 3, "key_a", "cccc", in_an_hour()), SB_OK);
  assert_int_equal(put(c, 4, "key_a", "gone", sb_now_ms() - 1), SB_OK);
  sleep_ms(5);
  /* 1 becomes the most recently used; close writes what is queued. */
  assert_int_equal(hit(c, 1), 1);
  store_cache_close(c);

  c = open_cache(f->db, 1 << 20, 64);
  store_cache_stats(c, &s);
  assert_int_equal(s.entries, 3);
  assert_int_equal(s.bytes, 12);
  assert_int_equal(s.hits, 0);
  key_of(2, key);
  assert_int_equal(store_cache_lookup(c, key, sb_now_ms(), NULL), 1);
  assert_int_equal(store_cache_read(c, key, &data, &len), SB_OK);
  assert_string_equal(data, "bbbb");
  free(data);
  assert_int_equal(hit(c, 4), 0);
  store_cache_close(c);

  /* The order of use survives too: with room for two, 3 (the least
   * recently used now: 1 was hit before the first close, 2 since) goes. */
  c = open_cache(f->db, 8, 64);
  for(int waited = 0; waited < WAIT_MS && stat_bytes(c) > 8; waited += 10)
    sleep_ms(10);
  assert_int_equal(hit(c, 3), 0);
  assert_int_equal(hit(c, 1), 1);
  assert_int_equal(hit(c, 2), 1);
  store_cache_close(c);
}

static void test_queue_full(void **state)
{
  struct testdb *f = *state;
  struct store_cache *c = open_cache(f->db, 1 << 20, 2);
  struct store_cache_stats s;
  sqlite3 *lock = NULL;
  int i, refused = -1;

  /* Hold the write lock: the writer takes at most one batch and waits,
   * so the queue fills. */
  assert_int_equal(sqlite3_open(f->db, &lock), SQLITE_OK);
  assert_int_equal(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                   SQLITE_OK);
  for(i = 0; i < 10 && refused < 0; i++)
    if(put(c, i, "key_a", "x", in_an_hour()) == SB_EAGAIN)
      refused = i;
  /* At most the queue (2) plus one batch taken (2). */
  assert_in_range(refused, 2, 4);
  assert_int_equal(hit(c, refused), 0);
  store_cache_stats(c, &s);
  assert_int_equal(s.dropped, 1);
  assert_int_equal(s.puts, refused);
  sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(lock);
  /* What was accepted is written, by close at the latest. */
  store_cache_close(c);
  assert_int_equal(rows(f->db, -1), refused);
}

static void test_limits(void **state)
{
  struct testdb *f = *state;
  struct store_cache *c = open_cache(f->db, 100, 64);
  char big[102], scope[STORE_CACHE_SCOPE_MAX + 2];
  struct store_cache_options bad = {0, SWEEP_MS, 4};
  struct store_cache *none = NULL;
  struct store_cache_stats s;

  memset(big, 'x', 101);
  big[101] = '\0';
  assert_int_equal(put(c, 1, "key_a", big, in_an_hour()), SB_ETOOBIG);
  assert_int_equal(hit(c, 1), 0);
  big[100] = '\0';
  assert_int_equal(put(c, 1, "key_a", big, in_an_hour()), SB_OK);
  assert_int_equal(hit(c, 1), 1);

  assert_int_equal(put(c, 2, "", "x", in_an_hour()), SB_EINVAL);
  memset(scope, 's', STORE_CACHE_SCOPE_MAX + 1);
  scope[STORE_CACHE_SCOPE_MAX + 1] = '\0';
  assert_int_equal(put(c, 2, scope, "x", in_an_hour()), SB_EINVAL);
  scope[STORE_CACHE_SCOPE_MAX] = '\0';
  assert_int_equal(put(c, 2, scope, "x", in_an_hour()), SB_OK);
  store_cache_stats(c, &s);
  assert_int_equal(s.puts, 2);
  assert_int_equal(s.max_bytes, 100);
  store_cache_close(c);
  store_cache_close(NULL);

  assert_int_equal(store_cache_open(f->db, &bad, &none, NULL, 0), SB_EINVAL);
  assert_null(none);
}

/* The most recently used answers are held in memory within mem_bytes: a
 * hit on one gets its copy with the lookup; one pushed out is read from
 * the file once and held again. */
static void test_memory_tier(void **state)
{
  struct testdb *f = *state;
  struct store_cache_options opt = {1 << 20, SWEEP_MS, 64, 40};
  unsigned char k1[STORE_CACHE_KEY_LEN], k2[STORE_CACHE_KEY_LEN];
  struct store_cache *c = NULL;
  struct store_cache_stats s;
  char err[256], *data = NULL;
  size_t len = 0;

  assert_int_equal(store_cache_open(f->db, &opt, &c, err, sizeof(err)), SB_OK);
  key_of(1, k1);
  key_of(2, k2);
  /* 24 bytes each: two do not fit in 40. */
  assert_int_equal(put(c, 1, "key_a", "first answer, 24 bytes..", in_an_hour()),
                   SB_OK);
  assert_int_equal(
      store_cache_lookup_data(c, k1, sb_now_ms(), NULL, &data, &len), 1);
  assert_non_null(data);
  assert_string_equal(data, "first answer, 24 bytes..");
  assert_int_equal(len, 24);
  free(data);
  assert_int_equal(put(c, 2, "key_a", "second answer, 24 bytes.", in_an_hour()),
                   SB_OK);
  store_cache_stats(c, &s);
  assert_int_equal(s.mem_bytes, 24);
  /* The first went out of memory, not out of the cache. */
  assert_int_equal(
      store_cache_lookup_data(c, k1, sb_now_ms(), NULL, &data, &len), 1);
  assert_null(data);
  assert_int_equal(
      store_cache_lookup_data(c, k2, sb_now_ms(), NULL, &data, &len), 1);
  assert_string_equal(data, "second answer, 24 bytes.");
  free(data);
  /* Read from the file once, it is held again (and the second goes). */
  assert_true(wait_rows(f->db, 1, 1));
  assert_int_equal(store_cache_read(c, k1, &data, &len), SB_OK);
  free(data);
  assert_int_equal(
      store_cache_lookup_data(c, k1, sb_now_ms(), NULL, &data, &len), 1);
  assert_string_equal(data, "first answer, 24 bytes..");
  free(data);
  assert_int_equal(
      store_cache_lookup_data(c, k2, sb_now_ms(), NULL, &data, &len), 1);
  assert_null(data);
  /* A purge takes the copies too. */
  assert_int_equal(store_cache_purge(c, NULL), 2);
  store_cache_stats(c, &s);
  assert_int_equal(s.mem_bytes, 0);
  assert_true(s.mem_hits >= 3);
  assert_int_equal(
      store_cache_lookup_data(c, k1, sb_now_ms(), NULL, &data, &len), 0);
  assert_null(data);
  store_cache_close(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_then_lookup_and_read,
                                      testdir_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_unknown_key_misses, testdir_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_expiry, testdir_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_lru_eviction, testdir_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_replace_same_key, testdir_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_purge_all_and_by_scope,
                                      testdir_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_purge_from_another_instance,
                                      testdir_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_read_of_gone_row, testdir_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_reopen_loads_index, testdir_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_queue_full, testdir_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_limits, testdir_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_memory_tier, testdir_setup,
                                      testdb_teardown),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
