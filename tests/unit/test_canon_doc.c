/* codec/canon_doc: JSON getters, bounded counts, refusals, data URLs,
 * documents, upstream errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/sb.h"
#include "codec/canon_doc.h"

#include <stdlib.h>
#include <string.h>

static void test_json_getters(void **state)
{
  cJSON *o = cJSON_Parse("{\"s\":\"x\",\"n\":3,\"z\":null,\"neg\":-1,"
                         "\"f\":2.9,\"S\":\"upper\"}");
  int64_t v = 7;

  assert_non_null(o);
  assert_ptr_equal(canon_json_get(o, "n"), cJSON_GetObjectItem(o, "n"));
  assert_null(canon_json_get(o, "missing"));
  assert_null(canon_json_get(NULL, "s"));
  assert_string_equal(canon_json_str(o, "s"), "x");
  assert_string_equal(canon_json_str(o, "S"), "upper"); /* case-sensitive */
  assert_null(canon_json_str(o, "n"));
  assert_null(canon_json_str(NULL, "s"));
  assert_true(canon_json_present(o, "s"));
  assert_true(canon_json_present(o, "n"));
  assert_false(canon_json_present(o, "z"));
  assert_false(canon_json_present(o, "missing"));
  assert_false(canon_json_present(NULL, "s"));

  canon_json_count_into(o, "n", &v);
  assert_int_equal(v, 3);
  canon_json_count_into(o, "f", &v);
  assert_int_equal(v, 2);
  canon_json_count_into(o, "neg", &v);
  assert_int_equal(v, 2);
  canon_json_count_into(o, "s", &v);
  assert_int_equal(v, 2);
  canon_json_count_into(o, "missing", &v);
  assert_int_equal(v, 2);
  cJSON_Delete(o);
}

/* Found by tests/fuzz/fuzz_*: an upstream number like 1e300 was cast to
 * int64_t (undefined), and two counts near INT64_MAX overflowed when
 * summed. Counts beyond 2^53 are not counts. */
static void test_json_count_bounds(void **state)
{
  cJSON *o = cJSON_Parse("{\"big\":1e300,\"nbig\":-1e300,\"max\":"
                         "9007199254740992,\"over\":9007199254740994,"
                         "\"i64\":9e18,\"zero\":0,\"frac\":3.7}");
  int64_t v = 7;
  (void)state;

  assert_int_equal(canon_json_count(canon_json_get(o, "big"), -1), -1);
  assert_int_equal(canon_json_count(canon_json_get(o, "nbig"), -1), -1);
  assert_int_equal(canon_json_count(canon_json_get(o, "max"), -1),
                   9007199254740992LL);
  assert_int_equal(canon_json_count(canon_json_get(o, "over"), -1), -1);
  assert_int_equal(canon_json_count(canon_json_get(o, "i64"), -1), -1);
  assert_int_equal(canon_json_count(canon_json_get(o, "zero"), -1), 0);
  assert_int_equal(canon_json_count(canon_json_get(o, "frac"), -1), 3);
  assert_int_equal(canon_json_count(NULL, 5), 5);
  canon_json_count_into(o, "big", &v);
  assert_int_equal(v, 7);
  canon_json_count_into(o, "i64", &v);
  assert_int_equal(v, 7);
  cJSON_Delete(o);
}

static void test_blank(void **state)
{
  assert_true(canon_blank(""));
  assert_true(canon_blank(" \t\r\n"));
  assert_false(canon_blank(" x "));
}

static void test_add_turn(void **state)
{
  cJSON *msgs = cJSON_CreateArray();
  cJSON *b = cJSON_CreateArray();
  char *s;

  canon_add_turn(msgs, "user", cJSON_CreateArray()); /* empty: dropped */
  assert_int_equal(cJSON_GetArraySize(msgs), 0);
  cJSON_AddItemToArray(b, cJSON_CreateNumber(1));
  canon_add_turn(msgs, "user", b);
  b = cJSON_CreateArray();
  cJSON_AddItemToArray(b, cJSON_CreateNumber(2));
  cJSON_AddItemToArray(b, cJSON_CreateNumber(3));
  canon_add_turn(msgs, "user", b); /* same role: merged */
  b = cJSON_CreateArray();
  cJSON_AddItemToArray(b, cJSON_CreateNumber(4));
  canon_add_turn(msgs, "assistant", b);
  s = cJSON_PrintUnformatted(msgs);
  assert_string_equal(s, "[{\"role\":\"user\",\"content\":[1,2,3]},"
                         "{\"role\":\"assistant\",\"content\":[4]}]");
  free(s);
  cJSON_Delete(msgs);
}

static void test_reject(void **state)
{
  struct api_error err;
  char big[1024];

  memset(&err, 0, sizeof(err));
  assert_int_equal(canon_reject(&err, 400, "invalid_value", "messages[0]",
                                "Bad '%s' (%d).", "x", 2),
                   SB_EINVAL);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.type, "invalid_request_error");
  assert_string_equal(err.code, "invalid_value");
  assert_string_equal(err.param, "messages[0]");
  assert_string_equal(err.message, "Bad 'x' (2).");

  memset(&err, 0, sizeof(err));
  memset(big, 'a', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  assert_int_equal(canon_reject(&err, 413, NULL, NULL, "%s", big), SB_EINVAL);
  assert_int_equal(err.status, 413);
  assert_string_equal(err.code, "");
  assert_string_equal(err.param, "");
  assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
}

static void test_data_url(void **state)
{
  char m[16];
  const char *d = NULL;

  assert_int_equal(
      canon_data_url("data:image/png;base64,QUJD", m, sizeof(m), &d), 0);
  assert_string_equal(m, "image/png");
  assert_string_equal(d, "QUJD");
  assert_int_equal(canon_data_url("DATA:Image/PNG;BASE64,", m, sizeof(m), &d),
                   0);
  assert_string_equal(m, "image/png");
  assert_string_equal(d, "");
  /* media type parameters are not taken: the first ';' must open ";base64" */
  assert_int_equal(canon_data_url("data:a/b;x=1;base64,Z", m, sizeof(m), &d),
                   -1);

  assert_int_equal(canon_data_url("http://x/y.png", m, sizeof(m), &d), -1);
  assert_int_equal(canon_data_url("data:image/png,QUJD", m, sizeof(m), &d), -1);
  assert_int_equal(canon_data_url("data:image/png;base64", m, sizeof(m), &d),
                   -1);
  assert_int_equal(canon_data_url("data:;base64,QUJD", m, sizeof(m), &d), -1);
  assert_int_equal(canon_data_url("data:image/png;utf8,QUJD", m, sizeof(m), &d),
                   -1);
  /* 16 bytes of media type do not fit in 16 bytes with the NUL */
  assert_int_equal(
      canon_data_url("data:aaaaaaaaaaaaaaaa;base64,Z", m, sizeof(m), &d), -1);
  assert_int_equal(
      canon_data_url("data:aaaaaaaaaaaaaaa;base64,Z", m, sizeof(m), &d), 0);
}

static void test_upstream_errors(void **state)
{
  const char *up = "up";
  struct api_error err;

  memset(&err, 0, sizeof(err));
  canon_bad_response(&err, "no JSON");
  assert_int_equal(err.status, 502);
  assert_string_equal(err.type, "upstream_error");
  assert_string_equal(err.code, "upstream_bad_response");
  assert_string_equal(err.message, "The upstream provider sent no JSON.");

  memset(&err, 0, sizeof(err));
  canon_err_auth_failed(&err, up, 403);
  assert_int_equal(err.status, 502);
  assert_string_equal(err.code, "upstream_auth_failed");
  assert_string_equal(err.message, "Provider 'up' rejected the gateway's "
                                   "credentials (upstream status 403).");

  memset(&err, 0, sizeof(err));
  canon_err_unavailable(&err, up, NULL);
  assert_int_equal(err.status, 503);
  assert_string_equal(err.code, "upstream_unavailable");
  assert_string_equal(err.message,
                      "Provider 'up' is overloaded or unavailable.");
  canon_err_unavailable(&err, up, "busy");
  assert_string_equal(err.message,
                      "Provider 'up' is overloaded or unavailable: busy");

  memset(&err, 0, sizeof(err));
  canon_err_timeout(&err, up, NULL);
  assert_int_equal(err.status, 504);
  assert_string_equal(err.code, "upstream_timeout");
  assert_string_equal(err.message, "Provider 'up' timed out.");
  canon_err_timeout(&err, up, "slow");
  assert_string_equal(err.message, "Provider 'up' timed out: slow");

  memset(&err, 0, sizeof(err));
  canon_err_failed(&err, up, 500, NULL);
  assert_int_equal(err.status, 502);
  assert_string_equal(err.type, "upstream_error");
  assert_string_equal(err.code, "upstream_error");
  assert_string_equal(err.message, "Provider 'up' failed with status 500.");
  canon_err_failed(&err, up, 302, "moved");
  assert_string_equal(err.message,
                      "Provider 'up' failed with status 302: moved");
}

static void test_retry_after(void **state)
{
  struct api_error err;

  memset(&err, 0, sizeof(err));
  canon_retry_after(&err, NULL, NULL);
  assert_int_equal(err.retry_after_s, 0);
  assert_int_equal(err.retry_after_ms, 0);
  canon_retry_after(&err, "7", NULL);
  assert_int_equal(err.retry_after_s, 7);
  assert_int_equal(err.retry_after_ms, 0);
  canon_retry_after(&err, NULL, "1500");
  assert_int_equal(err.retry_after_s, 7);
  assert_int_equal(err.retry_after_ms, 1500);
  canon_retry_after(&err, "x", "2");
  assert_int_equal(err.retry_after_s, 0);
  assert_int_equal(err.retry_after_ms, 2);
}

static const char *name_unless_skip(const cJSON *m)
{
  const char *n = canon_json_str(m, "name");
  return n && strcmp(n, "skip") ? n : NULL;
}

static void test_models_parse(void **state)
{
  const char *body = "{\"data\":[{\"id\":\"a\"},{\"id\":\"\"},{\"id\":3},"
                     "{},\"x\",{\"id\":\"b\"}]}";
  char **v = NULL;
  int n = -1;

  assert_int_equal(
      canon_models_parse(body, strlen(body), "data", canon_model_id, &v, &n),
      0);
  assert_int_equal(n, 2);
  assert_string_equal(v[0], "a");
  assert_string_equal(v[1], "b");
  assert_null(v[2]);
  for(int i = 0; i < n; i++)
    free(v[i]);
  free(v);

  body = "{\"models\":[{\"name\":\"skip\"},{\"name\":\"m\"}]}";
  assert_int_equal(canon_models_parse(body, strlen(body), "models",
                                      name_unless_skip, &v, &n),
                   0);
  assert_int_equal(n, 1);
  assert_string_equal(v[0], "m");
  assert_null(v[1]);
  free(v[0]);
  free(v);

  v = NULL;
  n = -1;
  body = "{\"data\":{}}";
  assert_int_equal(
      canon_models_parse(body, strlen(body), "data", canon_model_id, &v, &n),
      SB_EPROTO);
  body = "not json";
  assert_int_equal(
      canon_models_parse(body, strlen(body), "data", canon_model_id, &v, &n),
      SB_EPROTO);
  assert_null(v);
  assert_int_equal(n, -1);
}

static int seen;

static int count_emit(void *ud, const struct canon_ev *ev)
{
  assert_ptr_equal(ud, &seen);
  seen++;
  return ev ? 0 : -1;
}

static void test_emit(void **state)
{
  struct canon_sink sink = {count_emit, &seen};
  struct canon_ev ev;

  memset(&ev, 0, sizeof(ev));
  seen = 0;
  assert_int_equal(canon_emit(&sink, &ev), 0);
  assert_int_equal(canon_emit(&sink, NULL), -1);
  assert_int_equal(seen, 2);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_getters),
      cmocka_unit_test(test_json_count_bounds),
      cmocka_unit_test(test_reject),
      cmocka_unit_test(test_data_url),
      cmocka_unit_test(test_upstream_errors),
      cmocka_unit_test(test_retry_after),
      cmocka_unit_test(test_emit),
      cmocka_unit_test(test_blank),
      cmocka_unit_test(test_add_turn),
      cmocka_unit_test(test_models_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
