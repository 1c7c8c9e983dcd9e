/* NDJSON line splitting, including input split at every byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/ndjson.h"
#include "base/sb.h"

#include <string.h>

struct lines {
  char all[1024];
  int n;
};

static int on_line(void *ud, const char *line, size_t len)
{
  struct lines *l = ud;

  strncat(l->all, line, len);
  strcat(l->all, "|");
  l->n++;
  return 0;
}

static const char input[] = "{\"a\":1}\n\n{\"b\":\"x\\ny\"}\r\n{\"done\":true}";

static void test_every_split(void **state)
{
  size_t n = strlen(input);

  for(size_t cut = 0; cut <= n; cut++) {
    struct ndjson nd;
    struct lines l = {"", 0};

    ndjson_init(&nd, 1024, on_line, &l);
    assert_int_equal(ndjson_feed(&nd, input, cut), 0);
    assert_int_equal(ndjson_feed(&nd, input + cut, n - cut), 0);
    assert_int_equal(ndjson_finish(&nd), 0);
    assert_string_equal(l.all, "{\"a\":1}|{\"b\":\"x\\ny\"}|{\"done\":true}|");
    assert_int_equal(l.n, 3);
    ndjson_free(&nd);
  }
}

static void test_byte_at_a_time(void **state)
{
  struct ndjson nd;
  struct lines l = {"", 0};

  ndjson_init(&nd, 1024, on_line, &l);
  for(size_t i = 0; input[i]; i++)
    assert_int_equal(ndjson_feed(&nd, input + i, 1), 0);
  assert_int_equal(ndjson_finish(&nd), 0);
  assert_int_equal(l.n, 3);
  ndjson_free(&nd);
}

static void test_line_limit(void **state)
{
  struct ndjson nd;
  struct lines l = {"", 0};

  ndjson_init(&nd, 4, on_line, &l);
  assert_int_equal(ndjson_feed(&nd, "abcd\n", 5), 0);
  assert_int_equal(ndjson_feed(&nd, "abcde\n", 6), SB_ETOOBIG);
  assert_int_equal(ndjson_feed(&nd, "a\n", 2), SB_ETOOBIG); /* sticky */
  ndjson_free(&nd);
  ndjson_init(&nd, 4, on_line, &l);
  assert_int_equal(ndjson_feed(&nd, "ab", 2), 0);
  assert_int_equal(ndjson_feed(&nd, "cde", 3), SB_ETOOBIG);
  ndjson_free(&nd);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_split),
      cmocka_unit_test(test_byte_at_a_time),
      cmocka_unit_test(test_line_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
