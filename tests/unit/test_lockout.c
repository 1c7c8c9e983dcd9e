/* test_lockout.c - the sign-in lock-out table (admission/lockout.h):
 * counting per address over a sliding window, Retry-After, clearing on
 * success, and the cap on addresses with the oldest evicted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "admission/lockout.h"
#include "base/sb.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void test_locks_after_max_failures(void **state)
{
  struct lockout *l = lockout_new(3, 10000, 100);
  int64_t wait;

  (void)state;
  assert_int_equal(lockout_check(l, "10.0.0.1", 0, &wait), 0);
  assert_int_equal(lockout_attempt(l, "10.0.0.1", 1000, &wait), 0);
  assert_int_equal(lockout_attempt(l, "10.0.0.1", 2000, &wait), 0);
  assert_int_equal(lockout_attempt(l, "10.0.0.1", 3000, &wait), 0);
  /* Full: refused, until the first failure (at 1000) leaves the window. */
  assert_int_equal(lockout_check(l, "10.0.0.1", 3000, &wait), SB_EAGAIN);
  assert_int_equal(wait, 8);
  assert_int_equal(lockout_attempt(l, "10.0.0.1", 3500, &wait), SB_EAGAIN);
  assert_int_equal(wait, 8); /* 7.5 s rounds up */
  assert_int_equal(lockout_check(l, "10.0.0.1", 10999, &wait), SB_EAGAIN);
  assert_int_equal(wait, 1);
  /* A refused attempt was not counted: one slot frees at 11000. */
  assert_int_equal(lockout_check(l, "10.0.0.1", 11000, &wait), 0);
  assert_int_equal(lockout_attempt(l, "10.0.0.1", 11000, &wait), 0);
  assert_int_equal(lockout_check(l, "10.0.0.1", 11000, &wait), SB_EAGAIN);
  assert_int_equal(wait, 1); /* the one at 2000 leaves at 12000 */
  /* Another address is unaffected. */
  assert_int_equal(lockout_check(l, "10.0.0.2", 11000, &wait), 0);
  assert_int_equal(wait, 0);
  /* Everything expires. */
  assert_int_equal(lockout_check(l, "10.0.0.1", 21000, &wait), 0);
  assert_int_equal(lockout_count(l), 0);
  lockout_free(l);
}

static void test_clear(void **state)
{
  struct lockout *l = lockout_new(2, 60000, 100);
  int64_t wait;

  (void)state;
  assert_int_equal(lockout_attempt(l, "::1", 0, &wait), 0);
  assert_int_equal(lockout_attempt(l, "::1", 0, &wait), 0);
  assert_int_equal(lockout_check(l, "::1", 1, &wait), SB_EAGAIN);
  lockout_clear(l, "::1");
  assert_int_equal(lockout_check(l, "::1", 1, &wait), 0);
  assert_int_equal(lockout_count(l), 0);
  lockout_clear(l, "never-seen"); /* a no-op */
  lockout_free(l);
}

static void test_cap_evicts_oldest(void **state)
{
  struct lockout *l = lockout_new(1, 60000, 3);
  int64_t wait;

  (void)state;
  assert_int_equal(lockout_attempt(l, "a", 1, &wait), 0);
  assert_int_equal(lockout_attempt(l, "b", 2, &wait), 0);
  assert_int_equal(lockout_attempt(l, "c", 3, &wait), 0);
  assert_int_equal(lockout_count(l), 3);
  /* A fourth address evicts "a", whose last failure is the oldest. */
  assert_int_equal(lockout_attempt(l, "d", 4, &wait), 0);
  assert_int_equal(lockout_count(l), 3);
  assert_int_equal(lockout_check(l, "a", 5, &wait), 0);
  assert_int_equal(lockout_check(l, "b", 5, &wait), SB_EAGAIN);
  assert_int_equal(lockout_check(l, "c", 5, &wait), SB_EAGAIN);
  assert_int_equal(lockout_check(l, "d", 5, &wait), SB_EAGAIN);
  /* Many addresses: the table never grows past its cap. */
  for(int i = 0; i < 1000; i++) {
    char a[32];
    snprintf(a, sizeof(a), "192.0.2.%d", i);
    assert_int_equal(lockout_attempt(l, a, 10 + i, &wait), 0);
    assert_true(lockout_count(l) <= 3);
  }
  lockout_free(l);
}

static void test_hostile_addresses(void **state)
{
  struct lockout *l = lockout_new(1, 60000, 10);
  char long_a[300], long_b[300];
  int64_t wait;

  (void)state;
  /* Longer than an address can be: cut, never overrun. */
  memset(long_a, 'x', sizeof(long_a) - 1);
  long_a[sizeof(long_a) - 1] = '\0';
  memcpy(long_b, long_a, sizeof(long_b));
  long_b[200] = 'y';
  assert_int_equal(lockout_attempt(l, long_a, 0, &wait), 0);
  assert_int_equal(lockout_check(l, long_b, 0, &wait), SB_EAGAIN);
  /* An empty or missing address is one address, not a crash. */
  assert_int_equal(lockout_attempt(l, "", 0, &wait), 0);
  assert_int_equal(lockout_check(l, NULL, 0, &wait), SB_EAGAIN);
  lockout_free(l);
  lockout_free(NULL);
}

/* Parallel attempts on several threads never let more than max_failures
 * through: the check and the count are one step. */
struct race {
  struct lockout *l;
  int passed;
  pthread_mutex_t mu;
};

static void *racer(void *ud)
{
  struct race *r = ud;
  int64_t wait;

  for(int i = 0; i < 200; i++)
    if(!lockout_attempt(r->l, "203.0.113.9", 100, &wait)) {
      pthread_mutex_lock(&r->mu);
      r->passed++;
      pthread_mutex_unlock(&r->mu);
    }
  return NULL;
}

static void test_threads(void **state)
{
  struct race r = {lockout_new(5, 60000, 100), 0, PTHREAD_MUTEX_INITIALIZER};
  pthread_t t[4];

  (void)state;
  for(int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&t[i], NULL, racer, &r), 0);
  for(int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  assert_int_equal(r.passed, 5);
  lockout_free(r.l);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_locks_after_max_failures),
      cmocka_unit_test(test_clear),
      cmocka_unit_test(test_cap_evicts_oldest),
      cmocka_unit_test(test_hostile_addresses),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
