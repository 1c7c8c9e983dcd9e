/* Unit tests for the ids of base/sb.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/sb.h"

static int all_hex(const char *s, size_t n)
{
  for(size_t i = 0; i < n; i++)
    if(!strchr("0123456789abcdef", s[i]) || !s[i])
      return 0;
  return 1;
}

static void test_random_ids_differ(void **state)
{
  char a[64], b[64];

  (void)state;
  /* More than a pool's worth, so the refill is crossed too. */
  sb_random_id(a, sizeof(a), "x_");
  for(int i = 0; i < 100; i++) {
    sb_random_id(b, sizeof(b), "x_");
    assert_int_equal(strlen(b), 2 + 24);
    assert_memory_equal(b, "x_", 2);
    assert_true(all_hex(b + 2, 24));
    assert_string_not_equal(a, b);
    memcpy(a, b, sizeof(a));
  }
}

static void test_time_ids_sort_by_time(void **state)
{
  char first[64], id[64], prev[64];
  struct timespec ms = {0, 2 * 1000 * 1000};
  int64_t t0 = sb_now_ms();
  unsigned long long stamp;

  (void)state;
  sb_time_id(first, sizeof(first), "req_");
  assert_int_equal(strlen(first), 4 + 24);
  assert_true(all_hex(first + 4, 24));
  /* The first 12 digits are the time in milliseconds. */
  assert_int_equal(sscanf(first + 4, "%12llx", &stamp), 1);
  assert_true((int64_t)stamp >= t0 && (int64_t)stamp <= sb_now_ms());

  /* Made later, sorts later: the index they go to grows at its end. */
  memcpy(prev, first, sizeof(prev));
  for(int i = 0; i < 5; i++) {
    nanosleep(&ms, NULL);
    sb_time_id(id, sizeof(id), "req_");
    assert_true(strcmp(prev, id) < 0);
    memcpy(prev, id, sizeof(prev));
  }
  /* Within one millisecond the random half still tells them apart. */
  sb_time_id(id, sizeof(id), "req_");
  sb_time_id(prev, sizeof(prev), "req_");
  assert_string_not_equal(id, prev);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_ids_differ),
      cmocka_unit_test(test_time_ids_sort_by_time),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
