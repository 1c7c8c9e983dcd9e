/* Unit tests for base/buf.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/sb.h"

static void test_append_and_nul(void **state)
{
  struct buf b;

  (void)state;
  buf_init(&b, 100);
  assert_null(b.data);
  assert_int_equal(buf_append(&b, "abc", 3), 0);
  assert_int_equal(b.len, 3);
  assert_true(b.cap > b.len);
  assert_string_equal(b.data, "abc");
  assert_int_equal(buf_appendz(&b, "def"), 0);
  assert_string_equal(b.data, "abcdef");
  assert_int_equal(buf_printf(&b, "-%d-%s", 42, "x"), 0);
  assert_string_equal(b.data, "abcdef-42-x");
  assert_int_equal(b.len, strlen("abcdef-42-x"));
  buf_free(&b);
  assert_null(b.data);
  assert_int_equal(b.len, 0);
  assert_int_equal(b.max, 100);
}

static void test_empty_append_allocates(void **state)
{
  struct buf b;

  (void)state;
  buf_init(&b, 10);
  assert_int_equal(buf_append(&b, NULL, 0), 0);
  assert_non_null(b.data);
  assert_string_equal(b.data, "");
  buf_free(&b);
}

static void test_limit(void **state)
{
  struct buf b;

  (void)state;
  buf_init(&b, 8);
  assert_int_equal(buf_append(&b, "12345", 5), 0);
  assert_int_equal(buf_append(&b, "6789", 4), SB_ETOOBIG);
  assert_int_equal(b.len, 5);
  assert_string_equal(b.data, "12345");
  assert_int_equal(buf_printf(&b, "%s", "6789"), SB_ETOOBIG);
  assert_string_equal(b.data, "12345");
  assert_int_equal(buf_append(&b, "678", 3), 0);
  assert_string_equal(b.data, "12345678");
  assert_int_equal(buf_append(&b, "9", 1), SB_ETOOBIG);
  assert_int_equal(buf_append(&b, "", 0), 0);
  assert_true(b.cap <= 9);
  assert_int_equal(buf_append(&b, "x", SIZE_MAX), SB_ETOOBIG);
  buf_free(&b);

  buf_init(&b, 0);
  assert_int_equal(buf_append(&b, "x", 1), SB_ETOOBIG);
  assert_int_equal(buf_append(&b, "", 0), 0);
  assert_string_equal(b.data, "");
  buf_free(&b);
}

static void test_growth(void **state)
{
  struct buf b;
  char chunk[100];
  int i;

  (void)state;
  memset(chunk, 'z', sizeof(chunk));
  buf_init(&b, 1 << 20);
  for(i = 0; i < 1000; i++)
    assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
  assert_int_equal(b.len, 100000);
  assert_int_equal(b.data[b.len], '\0');
  assert_int_equal(strspn(b.data, "z"), 100000);
  buf_free(&b);
}

static void test_consume(void **state)
{
  struct buf b;

  (void)state;
  buf_init(&b, 64);
  buf_consume(&b, 3); /* on an empty buffer: no-op */
  assert_int_equal(b.len, 0);
  buf_appendz(&b, "hello world");
  buf_consume(&b, 6);
  assert_string_equal(b.data, "world");
  assert_int_equal(b.len, 5);
  buf_consume(&b, 0);
  assert_string_equal(b.data, "world");
  buf_consume(&b, 99);
  assert_int_equal(b.len, 0);
  assert_string_equal(b.data, "");
  buf_appendz(&b, "again");
  assert_string_equal(b.data, "again");
  buf_reset(&b);
  assert_int_equal(b.len, 0);
  assert_string_equal(b.data, "");
  buf_free(&b);
}

/* Draining in pieces does not move the rest (linear, not quadratic), and
 * appends after a partial drain, reset, take and free still see the
 * content and give the memory back in one piece. */
static void test_consume_then_append(void **state)
{
  struct buf b;
  char *s;
  size_t len;
  const char *p0;

  (void)state;
  buf_init(&b, 32);
  buf_appendz(&b, "0123456789abcdef0123456789");
  p0 = b.data;
  buf_consume(&b, 10);
  assert_ptr_equal(b.data, p0 + 10); /* nothing moved */
  assert_string_equal(b.data, "abcdef0123456789");
  assert_true(b.cap > b.len);
  /* The limit counts content only: the consumed front is room again. */
  assert_int_equal(buf_appendz(&b, "ABCDEFGHIJKLMNOP"), 0);
  assert_int_equal(b.len, 32);
  assert_string_equal(b.data, "abcdef0123456789ABCDEFGHIJKLMNOP");
  assert_int_equal(buf_appendz(&b, "x"), SB_ETOOBIG);
  buf_consume(&b, 30);
  assert_string_equal(b.data, "OP");
  s = buf_take(&b, &len); /* a pointer free() accepts */
  assert_string_equal(s, "OP");
  assert_int_equal(len, 2);
  free(s);

  buf_appendz(&b, "hello world");
  buf_consume(&b, 6);
  buf_reset(&b);
  assert_int_equal(b.len, 0);
  assert_string_equal(b.data, "");
  assert_int_equal(buf_appendz(&b, "again"), 0);
  assert_string_equal(b.data, "again");
  buf_consume(&b, 2);
  buf_free(&b); /* the allocation's start, not data */
}

static void test_take(void **state)
{
  struct buf b;
  size_t len = 99;
  char *s;

  (void)state;
  buf_init(&b, 64);
  s = buf_take(&b, &len);
  assert_string_equal(s, "");
  assert_int_equal(len, 0);
  free(s);

  buf_append(&b, "a\0b", 3);
  s = buf_take(&b, &len);
  assert_int_equal(len, 3);
  assert_memory_equal(s, "a\0b", 4);
  assert_null(b.data);
  assert_int_equal(b.len, 0);
  assert_int_equal(b.max, 64);
  free(s);

  buf_appendz(&b, "reuse");
  s = buf_take(&b, NULL);
  assert_string_equal(s, "reuse");
  free(s);
  buf_free(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_append_and_nul),
      cmocka_unit_test(test_empty_append_allocates),
      cmocka_unit_test(test_limit),
      cmocka_unit_test(test_growth),
      cmocka_unit_test(test_consume),
      cmocka_unit_test(test_consume_then_append),
      cmocka_unit_test(test_take),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
