/*
 * test_cache_key.c - the response cache's key: the same request in
 * another member order, from another user, streamed or not, is one
 * entry; anything that can change the answer, or another scope, target
 * or API, is another.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/sb.h"
#include "codec/cache_key.h"

#include <string.h>

static void key(const char *json, const char *api, const char *target,
                const char *scope, unsigned char out[CACHE_KEY_LEN])
{
  cJSON *b = cJSON_Parse(json);

  assert_non_null(b);
  assert_int_equal(cache_key(b, api, target, scope, out), 0);
  cJSON_Delete(b);
}

/* A request's members, and the request. */
#define FIELDS                                                                 \
  "\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"     \
  "\"temperature\":0.5,\"response_format\":{\"type\":\"json_schema\","         \
  "\"json_schema\":{\"name\":\"w\",\"schema\":{\"type\":\"object\"}}}"
#define BASE "{" FIELDS "}"

static void same(const char *a, const char *b)
{
  unsigned char x[CACHE_KEY_LEN], y[CACHE_KEY_LEN];

  key(a, "chat", "p/m", "key_1", x);
  key(b, "chat", "p/m", "key_1", y);
  assert_memory_equal(x, y, CACHE_KEY_LEN);
}

static void differ(const char *a, const char *b)
{
  unsigned char x[CACHE_KEY_LEN], y[CACHE_KEY_LEN];

  key(a, "chat", "p/m", "key_1", x);
  key(b, "chat", "p/m", "key_1", y);
  assert_memory_not_equal(x, y, CACHE_KEY_LEN);
}

static void test_same_entry(void **state)
{
  (void)state;
  /* member order, at the top and deeper */
  same(BASE, "{\"temperature\":0.5,\"response_format\":{\"json_schema\":"
             "{\"schema\":{\"type\":\"object\"},\"name\":\"w\"},\"type\":"
             "\"json_schema\"},\"messages\":[{\"content\":\"hi\",\"role\":"
             "\"user\"}],\"model\":\"m\"}");
  /* who asked and how the answer travels */
  same(BASE, "{\"user\":\"u-9\",\"stream\":true,\"stream_options\":{"
             "\"include_usage\":true},\"metadata\":{\"a\":\"b\"},"
             "\"store\":false," FIELDS "}");
}

static void test_other_entry(void **state)
{
  unsigned char x[CACHE_KEY_LEN], y[CACHE_KEY_LEN];

  (void)state;
  differ(BASE, "{\"temperature\":0.7," FIELDS "}");
  differ(BASE, "{\" model\":\" m\",\" messages\":[{\" role\":\" user\","
               "\" content\":\" hi !\"}],\" temperature\":0.5}");
  /* array order is meaning, not presentation */
  differ("{\" stop\":[\" a\",\" b\"]}", "{\" stop\":[\" b\",\" a\"]}");
  /* an ignored name deeper down is content, not an ignored field */
  differ("{\" response_format\":{\" user\":1}}", "{\" response_format\":{}}");
  /* scope, target and API */
  key(BASE, "chat", "p/m", "key_1", x);
  key(BASE, "chat", "p/m", "key_2", y);
  assert_memory_not_equal(x, y, CACHE_KEY_LEN);
  key(BASE, "chat", "q/m", "key_1", y);
  assert_memory_not_equal(x, y, CACHE_KEY_LEN);
  key(BASE, "messages", "p/m", "key_1", y);
  assert_memory_not_equal(x, y, CACHE_KEY_LEN);
  /* the parts cannot run into each other */
  key(BASE, "ab", "c", "d", x);
  key(BASE, "a", "bc", "d", y);
  assert_memory_not_equal(x, y, CACHE_KEY_LEN);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_entry),
      cmocka_unit_test(test_other_entry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
