/* mcp/jsonrpc: what a body holds, which message earns which error, and
 * the objects a server sends. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mcp/jsonrpc.h"

#include <stdlib.h>
#include <string.h>

static int parse(const char *s, int batch, struct jsonrpc_body *b)
{
  char why[160];

  return jsonrpc_parse(s, strlen(s), batch, 64, b, why, sizeof(why));
}

static void test_kinds(void **state)
{
  struct jsonrpc_body b;

  (void)state;
  assert_int_equal(
      parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", 0, &b), 0);
  assert_int_equal(b.n, 1);
  assert_int_equal(b.msg[0].kind, JSONRPC_REQUEST);
  assert_int_equal(b.msg[0].code, 0);
  assert_string_equal(b.msg[0].method, "ping");
  assert_null(b.msg[0].params);
  jsonrpc_body_free(&b);

  assert_int_equal(parse(" {\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
                         "initialized\",\"params\":{}}\r\n",
                         0, &b),
                   0);
  assert_int_equal(b.msg[0].kind, JSONRPC_NOTIFICATION);
  assert_non_null(b.msg[0].params);
  assert_null(b.msg[0].id);
  jsonrpc_body_free(&b);

  assert_int_equal(
      parse("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{\"x\":1}}", 0, &b),
      0);
  assert_int_equal(b.msg[0].kind, JSONRPC_RESULT);
  assert_int_equal(b.msg[0].code, 0);
  jsonrpc_body_free(&b);

  assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":"
                         "-32600,\"message\":\"no\"}}",
                         0, &b),
                   0);
  assert_int_equal(b.msg[0].kind, JSONRPC_ERROR);
  assert_int_equal(b.msg[0].code, 0);
  jsonrpc_body_free(&b);
}

/* Each broken message earns its code, with its id when it has a readable
 * one. */
static void test_invalid_messages(void **state)
{
  static const struct {
    const char *json;
    int code;
    int has_id;
  } cases[] = {
      {"{\"id\":1,\"method\":\"ping\"}", JSONRPC_INVALID_REQUEST, 1},
      {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
       JSONRPC_INVALID_REQUEST, 1},
      {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
       JSONRPC_INVALID_REQUEST, 0},
      {"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",
       JSONRPC_INVALID_REQUEST, 0},
      {"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}",
       JSONRPC_INVALID_REQUEST, 0},
      {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}",
       JSONRPC_INVALID_REQUEST, 1},
      {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", JSONRPC_INVALID_REQUEST,
       1},
      {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":[1]}",
       JSONRPC_INVALID_PARAMS, 1},
      {"{\"jsonrpc\":\"2.0\",\"id\":1}", JSONRPC_INVALID_REQUEST, 1},
      {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}",
       JSONRPC_INVALID_REQUEST, 1},
      {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":[]}", JSONRPC_INVALID_REQUEST,
       1},
      {"{\"jsonrpc\":\"2.0\",\"result\":{}}", JSONRPC_INVALID_REQUEST, 0},
      {"{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":\"x\",\"message\":"
       "\"m\"}}",
       JSONRPC_INVALID_REQUEST, 1},
      {"{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"method\":\"ping\"}",
       JSONRPC_INVALID_REQUEST, 0},
  };
  (void)state;
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct jsonrpc_body b;
    assert_int_equal(parse(cases[i].json, 0, &b), 0);
    assert_int_equal(b.n, 1);
    if(b.msg[0].code != cases[i].code)
      fail_msg("case %zu (%s): code %d", i, cases[i].json, b.msg[0].code);
    assert_true(b.msg[0].why[0]);
    assert_int_equal(b.msg[0].id != NULL, cases[i].has_id);
    jsonrpc_body_free(&b);
  }
}

static void test_bodies(void **state)
{
  struct jsonrpc_body b;

  (void)state;
  /* Not JSON, trailing bytes, too deep: parse errors. */
  assert_int_equal(parse("{\"jsonrpc\":", 0, &b), JSONRPC_PARSE_ERROR);
  jsonrpc_body_free(&b);
  assert_int_equal(
      parse("{\"jsonrpc\":\"2.0\",\"method\":\"a\"}{\"jsonrpc\":\"2.0\"}", 0,
            &b),
      JSONRPC_PARSE_ERROR);
  jsonrpc_body_free(&b);
  assert_int_equal(parse("", 0, &b), JSONRPC_PARSE_ERROR);
  jsonrpc_body_free(&b);
  {
    char deep[200], why[64];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_int_equal(
        jsonrpc_parse(deep, sizeof(deep), 1, 64, &b, why, sizeof(why)),
        JSONRPC_PARSE_ERROR);
    assert_string_equal(why, "the JSON nests too deep");
    jsonrpc_body_free(&b);
  }
  /* Not an object; a batch where none is allowed; an empty batch. */
  assert_int_equal(parse("42", 0, &b), JSONRPC_INVALID_REQUEST);
  jsonrpc_body_free(&b);
  assert_int_equal(parse("[{\"jsonrpc\":\"2.0\",\"method\":\"a\"}]", 0, &b),
                   JSONRPC_INVALID_REQUEST);
  jsonrpc_body_free(&b);
  assert_int_equal(parse("[]", 1, &b), JSONRPC_INVALID_REQUEST);
  jsonrpc_body_free(&b);
  /* A batch keeps every message, good or bad, in order. */
  assert_int_equal(parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"},1,"
                         "{\"jsonrpc\":\"2.0\",\"method\":\"n\"}]",
                         1, &b),
                   0);
  assert_true(b.batch);
  assert_int_equal(b.n, 3);
  assert_int_equal(b.msg[0].code, 0);
  assert_int_equal(b.msg[1].code, JSONRPC_INVALID_REQUEST);
  assert_int_equal(b.msg[2].kind, JSONRPC_NOTIFICATION);
  jsonrpc_body_free(&b);
}

static void test_build(void **state)
{
  cJSON *id = cJSON_CreateString("req-1");
  cJSON *o;
  char *s;

  (void)state;
  o = jsonrpc_result(id, NULL);
  s = cJSON_PrintUnformatted(o);
  assert_string_equal(s,
                      "{\"jsonrpc\":\"2.0\",\"id\":\"req-1\",\"result\":{}}");
  free(s);
  cJSON_Delete(o);
  o = jsonrpc_error(NULL, JSONRPC_PARSE_ERROR, "Parse error", NULL);
  s = cJSON_PrintUnformatted(o);
  assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":"
                         "-32700,\"message\":\"Parse error\"}}");
  free(s);
  cJSON_Delete(o);
  o = jsonrpc_call(NULL, "notifications/progress", cJSON_CreateObject());
  s = cJSON_PrintUnformatted(o);
  assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
                         "progress\",\"params\":{}}");
  free(s);
  cJSON_Delete(o);
  o = jsonrpc_call(id, "sampling/createMessage", NULL);
  s = cJSON_PrintUnformatted(o);
  assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":\"req-1\",\"method\":"
                         "\"sampling/createMessage\"}");
  free(s);
  cJSON_Delete(o);
  cJSON_Delete(id);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kinds),
      cmocka_unit_test(test_invalid_messages),
      cmocka_unit_test(test_bodies),
      cmocka_unit_test(test_build),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
