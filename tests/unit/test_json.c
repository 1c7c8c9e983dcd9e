/* The depth check that runs before a body is parsed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/json.h"

#include <stdlib.h>
#include <string.h>

static int deep(const char *s, int max)
{
  return json_too_deep(s, strlen(s), max);
}

static void test_depth(void **state)
{
  assert_false(deep("{}", 1));
  assert_false(deep("{\"a\":[1,{\"b\":2}]}", 3));
  assert_true(deep("{\"a\":[1,{\"b\":2}]}", 2));
  assert_false(deep("[[],[],[]]", 2));
}

static void test_brackets_in_strings_do_not_count(void **state)
{
  assert_false(deep("{\"a\":\"[[[[{{{{\"}", 1));
  /* An escaped quote does not end the string. */
  assert_false(deep("{\"a\":\"\\\"[[[[\"}", 1));
  assert_false(deep("{\"a\":\"\\\\\",\"b\":1}", 1));
  assert_true(deep("{\"a\":\"\\\\\",\"b\":[]}", 1));
}

static void test_hostile_nesting(void **state)
{
  size_t n = 100000;
  char *s = malloc(2 * n + 1);

  memset(s, '[', n);
  memset(s + n, ']', n);
  s[2 * n] = '\0';
  assert_true(deep(s, 64));
  assert_false(deep(s, (int)n));
  free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_depth),
      cmocka_unit_test(test_brackets_in_strings_do_not_count),
      cmocka_unit_test(test_hostile_nesting),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
