/* Canonical events rendered as OpenAI chunks, in OpenAI's order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/oai_stream.h"
#include "base/sb.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* The data payloads of out's events, as parsed JSON (NULL for [DONE]). */
static int payloads(const struct buf *out, cJSON **v, int max)
{
  const char *p = out->data, *q;
  int n = 0;

  while((q = strstr(p, "\n\n")) && n < max) {
    assert_memory_equal(p, "data: ", 6);
    if(!strncmp(p + 6, "[DONE]", 6))
      v[n++] = NULL;
    else {
      v[n] = cJSON_ParseWithLength(p + 6, (size_t)(q - p - 6));
      assert_non_null(v[n]);
      n++;
    }
    p = q + 2;
  }
  return n;
}

static const cJSON *delta(const cJSON *chunk)
{
  return cJSON_GetObjectItem(
      cJSON_GetArrayItem(cJSON_GetObjectItem(chunk, "choices"), 0), "delta");
}

static const char *finish(const cJSON *chunk)
{
  const cJSON *f = cJSON_GetObjectItem(
      cJSON_GetArrayItem(cJSON_GetObjectItem(chunk, "choices"), 0),
      "finish_reason");
  return cJSON_IsString(f) ? f->valuestring : NULL;
}

static void test_text_tools_usage(void **state)
{
  struct oai_stream s;
  struct buf out;
  cJSON *v[16];
  int n;
  struct canon_ev evs[] = {
      {.type = CANON_EV_START, .id = "msg_1", .model = "m"},
      {.type = CANON_EV_TEXT, .text = "Hel", .len = 3},
      {.type = CANON_EV_TEXT, .text = "lo", .len = 2},
      {.type = CANON_EV_REASONING, .text = "hmm", .len = 3},
      {.type = CANON_EV_TOOL_START, .index = 0, .id = "call_1", .name = "f"},
      {.type = CANON_EV_TOOL_ARGS, .index = 0, .text = "{\"a\":", .len = 5},
      {.type = CANON_EV_TOOL_ARGS, .index = 0, .text = "1}", .len = 2},
      {.type = CANON_EV_FINISH, .finish_reason = "tool_calls"},
      {.type = CANON_EV_USAGE,
       .usage = {.prompt_tokens = 10,
                 .completion_tokens = 4,
                 .cached_tokens = 2,
                 .reasoning_tokens = -1}},
  };

  buf_init(&out, 1 << 20);
  oai_stream_init(&s, "chatcmpl-x", 7, "m", 1);
  for(size_t i = 0; i < SB_ARRAY_LEN(evs); i++)
    assert_int_equal(oai_stream_render(&s, &evs[i], &out), 0);
  assert_int_equal(oai_stream_end(&s, &out), 0);
  n = payloads(&out, v, 16);
  assert_int_equal(n, 10);
  assert_string_equal(cJSON_GetObjectItem(delta(v[0]), "role")->valuestring,
                      "assistant");
  assert_string_equal(cJSON_GetObjectItem(delta(v[1]), "content")->valuestring,
                      "Hel");
  assert_string_equal(
      cJSON_GetObjectItem(delta(v[3]), "reasoning_content")->valuestring,
      "hmm");
  {
    const cJSON *tc =
        cJSON_GetArrayItem(cJSON_GetObjectItem(delta(v[4]), "tool_calls"), 0);
    assert_string_equal(cJSON_GetObjectItem(tc, "id")->valuestring, "call_1");
    assert_string_equal(cJSON_GetObjectItem(tc, "type")->valuestring,
                        "function");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(tc, "function"), "name")
            ->valuestring,
        "f");
    tc = cJSON_GetArrayItem(cJSON_GetObjectItem(delta(v[5]), "tool_calls"), 0);
    assert_null(cJSON_GetObjectItem(tc, "id"));
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(tc, "function"), "arguments")
            ->valuestring,
        "{\"a\":");
  }
  assert_string_equal(finish(v[7]), "tool_calls");
  /* Every chunk carries usage:null; the usage chunk has no choices. */
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(v[7], "usage")));
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(v[8], "choices")), 0);
  {
    const cJSON *u = cJSON_GetObjectItem(v[8], "usage");
    assert_int_equal(cJSON_GetObjectItem(u, "total_tokens")->valueint, 14);
    assert_int_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(u, "prompt_tokens_details"),
                            "cached_tokens")
            ->valueint,
        2);
    assert_null(cJSON_GetObjectItem(u, "completion_tokens_details"));
  }
  assert_null(v[9]);
  for(int i = 0; i < n; i++) {
    if(v[i]) {
      assert_string_equal(cJSON_GetObjectItem(v[i], "id")->valuestring,
                          "chatcmpl-x");
      cJSON_Delete(v[i]);
    }
  }
  oai_stream_free(&s);
  buf_free(&out);
}

static void test_end_without_finish_or_usage_request(void **state)
{
  struct oai_stream s;
  struct buf out;
  cJSON *v[8];
  int n;
  struct canon_ev text = {.type = CANON_EV_TEXT, .text = "x", .len = 1};

  buf_init(&out, 1 << 20);
  oai_stream_init(&s, "c", 1, "m", 0);
  assert_int_equal(oai_stream_render(&s, &text, &out), 0);
  assert_int_equal(oai_stream_end(&s, &out), 0);
  n = payloads(&out, v, 8);
  /* role, content, finish "stop", [DONE]; no usage key anywhere */
  assert_int_equal(n, 4);
  assert_string_equal(finish(v[2]), "stop");
  for(int i = 0; i < 3; i++) {
    assert_null(cJSON_GetObjectItem(v[i], "usage"));
    cJSON_Delete(v[i]);
  }
  assert_null(v[3]);
  oai_stream_free(&s);
  buf_free(&out);
}

static void test_error_event(void **state)
{
  struct oai_stream s;
  struct buf out;
  struct api_error err;
  struct canon_ev ev = {.type = CANON_EV_ERROR, .err = &err};

  api_error_set(&err, 502, "upstream_error", "overloaded", NULL, "busy");
  buf_init(&out, 1 << 20);
  oai_stream_init(&s, "c", 1, "m", 0);
  assert_int_equal(oai_stream_render(&s, &ev, &out), 0);
  assert_non_null(strstr(out.data, "\"code\":\"overloaded\""));
  assert_null(strstr(out.data, "[DONE]"));
  oai_stream_free(&s);
  buf_free(&out);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_tools_usage),
      cmocka_unit_test(test_end_without_finish_or_usage_request),
      cmocka_unit_test(test_error_event),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
