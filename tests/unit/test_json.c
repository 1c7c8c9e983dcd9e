/* The depth check that runs before a body is parsed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/json.h"
#include "base/sb.h"

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

static int valid(const char *s)
{
  return json_check(s, strlen(s), 8, NULL) == 0;
}

static void test_check_accepts_json(void **state)
{
  assert_true(valid("{}"));
  assert_true(valid(" [ ] "));
  assert_true(valid("0"));
  assert_true(valid("-0.5e+10"));
  assert_true(valid("\"\\ud83d\\ude00\""));
  assert_true(valid("\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\""));
  assert_true(valid("{\"a\":[1,true,false,null,{\"b\":\"\"}],\"c\":-1E3}\n"));
}

static void test_check_refuses_what_is_not(void **state)
{
  static const char *const bad[] = {
      "",
      " ",
      "{",
      "{]",
      "[1,]",
      "{\"a\"}",
      "{\"a\":}",
      "{a:1}",
      "{\"a\":1,}",
      "01",
      "1.",
      ".5",
      "+1",
      "1e",
      "tru",
      "nul",
      "NaN",
      "\"abc",
      "\"\\x\"",
      "\"\\u12g4\"",
      "{} {}",
      "[1 2]",
      "{\"a\":1}x",
      "'a'",
      /* Unpaired UTF-16 surrogates. */
      "\"\\ud800\"",
      "\"\\udc00\\ud800\"",
      "\"\\ud800\\u0041\"",
  };

  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_false(valid(bad[i]));
  /* A raw control character inside a string, and a NUL. */
  assert_false(valid("\"a\tb\""));
  assert_int_equal(json_check("\"a\0b\"", 5, 8, NULL), SB_EINVAL);
  /* Deeper than the limit. */
  assert_true(json_check("[[[]]]", 6, 3, NULL) == 0);
  assert_int_equal(json_check("[[[[]]]]", 8, 3, NULL), SB_EINVAL);
}

static void test_check_flags_escaped_ascii(void **state)
{
  const char *plain = "{\"x\":\"\\u00e9\\n\\u0007\"}";
  const char *spelled = "{\"\\u0075sage\":1}";
  unsigned f = 9;

  assert_int_equal(json_check(plain, strlen(plain), 8, &f), 0);
  assert_int_equal(f, 0);
  assert_int_equal(json_check(spelled, strlen(spelled), 8, &f), 0);
  assert_int_equal(f, JSON_ESCAPED_ASCII);
}

/* The one member named key, through json_members(). */
static int json_member(const char *s, size_t n, const char *key,
                       const char **val, size_t *vlen)
{
  struct json_span v;

  if(!json_members(s, n, &key, 1, &v))
    return 0;
  *val = v.p;
  *vlen = v.n;
  return 1;
}

static void test_member_finds_top_level_keys(void **state)
{
  const char *doc = "{\"choices\":[{\"usage\":1}],\"s\":\"usage\\\"\","
                    " \"usage\" : {\"a\":[1,2]} ,\"usage\":2,\"n\":-1.5}";
  const char *v;
  size_t n;

  assert_true(valid(doc));
  assert_true(json_member(doc, strlen(doc), "usage", &v, &n));
  assert_int_equal(n, strlen("{\"a\":[1,2]}"));
  assert_memory_equal(v, "{\"a\":[1,2]}", n);
  assert_true(json_member(doc, strlen(doc), "n", &v, &n));
  assert_int_equal(n, 4);
  assert_memory_equal(v, "-1.5", 4);
  assert_false(json_member(doc, strlen(doc), "a", &v, &n));
  assert_false(json_member("[1]", 3, "usage", &v, &n));
}

static void test_iter_walks_arrays(void **state)
{
  const char *doc = "[ {\"k\":\"]\"}, 2 ,\"x\" ]";
  struct json_iter it;
  const char *k, *v;
  size_t kl, vl;

  assert_int_equal(json_iter_init(&it, doc, strlen(doc)), 0);
  assert_true(json_iter_next(&it, &k, &kl, &v, &vl));
  assert_null(k);
  assert_memory_equal(v, "{\"k\":\"]\"}", vl);
  assert_true(json_iter_next(&it, &k, &kl, &v, &vl));
  assert_memory_equal(v, "2", vl);
  assert_true(json_iter_next(&it, &k, &kl, &v, &vl));
  assert_memory_equal(v, "\"x\"", vl);
  assert_false(json_iter_next(&it, &k, &kl, &v, &vl));
  assert_int_equal(json_iter_init(&it, "1", 1), SB_EINVAL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_depth),
      cmocka_unit_test(test_brackets_in_strings_do_not_count),
      cmocka_unit_test(test_hostile_nesting),
      cmocka_unit_test(test_check_accepts_json),
      cmocka_unit_test(test_check_refuses_what_is_not),
      cmocka_unit_test(test_check_flags_escaped_ascii),
      cmocka_unit_test(test_member_finds_top_level_keys),
      cmocka_unit_test(test_iter_walks_arrays),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
