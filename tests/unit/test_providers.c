/* The echo provider and the OpenAI-compatible adapter, without sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "base/sb.h"
#include "codec/oai_stream.h"
#include "providers/echo.h"
#include "providers/openai.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static cJSON *parse(const char *s)
{
  cJSON *j = cJSON_Parse(s);
  assert_non_null(j);
  return j;
}

static void test_echo_complete(void **state)
{
  cJSON *body =
      parse("{\"model\":\"echo/echo-1\",\"messages\":["
            "{\"role\":\"system\",\"content\":\"be brief\"},"
            "{\"role\":\"user\",\"content\":\"hello there world\"}]}");
  struct prov_echo *e;
  struct api_error err;
  struct canon_usage u;
  char *json;
  cJSON *res;

  assert_int_equal(prov_echo_start(body, "echo-1", "chatcmpl-1", 42, &e, &err),
                   0);
  json = prov_echo_complete(e);
  res = parse(json);
  assert_string_equal(cJSON_GetObjectItem(res, "object")->valuestring,
                      "chat.completion");
  {
    cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "choices"), 0);
    cJSON *m = cJSON_GetObjectItem(c, "message");
    assert_string_equal(cJSON_GetObjectItem(m, "content")->valuestring,
                        "hello there world");
    assert_string_equal(cJSON_GetObjectItem(c, "finish_reason")->valuestring,
                        "stop");
  }
  prov_echo_usage(e, &u);
  assert_int_equal(u.prompt_tokens, 5);
  assert_int_equal(u.completion_tokens, 3);
  cJSON_Delete(res);
  free(json);
  prov_echo_free(e);
  cJSON_Delete(body);
}

struct render_ctx {
  struct oai_stream os;
  struct buf *out;
};

static int render_ev(void *ud, const struct canon_ev *ev)
{
  struct render_ctx *c = ud;

  return oai_stream_render(&c->os, ev, c->out);
}

/* Collect the data payloads of every event a stream produces, rendered
 * as OpenAI chunks the way the gateway renders them. */
static int stream_all(struct prov_echo *e, char ***payloads)
{
  struct buf out;
  struct render_ctx ctx = {.out = &out};
  const struct canon_sink sink = {render_ev, &ctx};
  int n = 0, rc;
  char *p, *q;

  buf_init(&out, 1 << 20);
  oai_stream_init(&ctx.os, "id", 1, "story-1", 1);
  do {
    rc = prov_echo_next(e, &sink);
    assert_true(rc >= 0);
  } while(rc == 0);
  assert_int_equal(oai_stream_end(&ctx.os, &out), 0);
  oai_stream_free(&ctx.os);
  *payloads = calloc(1024, sizeof(char *));
  for(p = out.data; (q = strstr(p, "\n\n")); p = q + 2) {
    assert_memory_equal(p, "data: ", 6);
    (*payloads)[n++] = strndup(p + 6, (size_t)(q - p - 6));
  }
  assert_int_equal(p - out.data, (long)out.len);
  buf_free(&out);
  return n;
}

static void test_echo_stream_max_tokens_and_usage(void **state)
{
  cJSON *body = parse("{\"model\":\"echo/story-1\",\"stream\":true,"
                      "\"stream_options\":{\"include_usage\":true},"
                      "\"max_tokens\":4,\"messages\":"
                      "[{\"role\":\"user\",\"content\":\"tell\"}]}");
  struct prov_echo *e;
  struct api_error err;
  char **ev;
  int n;
  cJSON *last_chunk, *usage_chunk;

  assert_int_equal(prov_echo_start(body, "story-1", "id", 1, &e, &err), 0);
  n = stream_all(e, &ev);
  /* role + 4 words + finish + usage + [DONE] */
  assert_int_equal(n, 8);
  assert_string_equal(ev[7], "[DONE]");
  last_chunk = parse(ev[5]);
  assert_string_equal(
      cJSON_GetObjectItem(
          cJSON_GetArrayItem(cJSON_GetObjectItem(last_chunk, "choices"), 0),
          "finish_reason")
          ->valuestring,
      "length");
  usage_chunk = parse(ev[6]);
  assert_int_equal(
      cJSON_GetArraySize(cJSON_GetObjectItem(usage_chunk, "choices")), 0);
  assert_int_equal(
      cJSON_GetObjectItem(cJSON_GetObjectItem(usage_chunk, "usage"),
                          "completion_tokens")
          ->valueint,
      4);
  cJSON_Delete(last_chunk);
  cJSON_Delete(usage_chunk);
  for(int i = 0; i < n; i++)
    free(ev[i]);
  free(ev);
  prov_echo_free(e);
  cJSON_Delete(body);
}

static void test_echo_unknown_model(void **state)
{
  cJSON *body = parse("{\"model\":\"echo/x\",\"messages\":[]}");
  struct prov_echo *e = NULL;
  struct api_error err;

  assert_int_equal(prov_echo_start(body, "x", "id", 1, &e, &err), SB_ENOTFOUND);
  assert_int_equal(err.status, 404);
  assert_null(e);
  cJSON_Delete(body);
}

/* --- openai adapter ------------------------------------------------------- */

static struct config_provider cp = {
    .name = "local",
    .kind = "openai",
    .base_url = "http://up/v1",
    .stream_usage = 1,
};

static void test_build_stream_asks_for_usage(void **state)
{
  struct prov p = {.name = "local",
                   .kind = PROV_OPENAI,
                   .cfg = &cp,
                   .api_key = "sk-secret",
                   .base_url = "http://up/v1"};
  struct prov_client client = {"Bearer client-key", NULL, 0};
  cJSON *body = parse(
      "{\"model\":\"local/llama3\",\"stream\":true,"
      "\"top_k\":5,\"messages\":[{\"role\":\"assistant\",\"content\":"
      "\"x\",\"reasoning_details\":[{\"type\":\"reasoning.text\",\"text\":"
      "\"t\",\"signature\":\"S\",\"format\":\"anthropic-claude-v1\"}],"
      "\"tool_calls\":[{\"id\":\"call_0__ts_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY\","
      "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
      "\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":"
      "\"call_0__ts_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY\",\"content\":\"r\"}]}");
  struct prov_http h;
  int client_usage = -1;
  cJSON *sent;
  int auth = 0;

  prov_openai_build_chat(&p, body, "llama3", &client, &h, &client_usage);
  assert_int_equal(client_usage, 0);
  assert_string_equal(h.url, "http://up/v1/chat/completions");
  sent = parse(h.body);
  assert_string_equal(cJSON_GetObjectItem(sent, "model")->valuestring,
                      "llama3");
  /* Vendor fields pass through untouched; another provider's signed
   * reasoning does not. */
  assert_int_equal(cJSON_GetObjectItem(sent, "top_k")->valueint, 5);
  assert_null(cJSON_GetObjectItem(
      cJSON_GetArrayItem(cJSON_GetObjectItem(sent, "messages"), 0),
      "reasoning_details"));
  /* A Gemini id with its signature: short, the same for call and result. */
  {
    const cJSON *msgs = cJSON_GetObjectItem(sent, "messages");
    const char *a =
        cJSON_GetObjectItem(
            cJSON_GetArrayItem(
                cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "tool_calls"),
                0),
            "id")
            ->valuestring;
    const char *b =
        cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "tool_call_id")
            ->valuestring;
    assert_string_equal(a, b);
    assert_true(strlen(a) <= 40);
    assert_null(strstr(a, "__ts_"));
    assert_int_equal(strncmp(a, "call_0_", 7), 0);
  }
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(
      cJSON_GetObjectItem(sent, "stream_options"), "include_usage")));
  for(int i = 0; i < h.nheaders; i++) {
    if(!strcmp(h.headers[i], "Authorization: Bearer sk-secret"))
      auth++;
    assert_null(strstr(h.headers[i], "client-key"));
  }
  assert_int_equal(auth, 1);
  cJSON_Delete(sent);
  cJSON_Delete(body);
  prov_http_free(&h);
}

static void test_stream_hides_usage_client_did_not_ask_for(void **state)
{
  struct prov_openai_stream s;
  struct api_error err;
  struct buf out;
  static const char chunk[] = "{\"id\":\"c\",\"choices\":[{\"index\":0,"
                              "\"delta\":{\"content\":\"hi\"}}],"
                              "\"usage\":null}";
  static const char usage[] =
      "{\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
      "\"completion_tokens\":2,\"total_tokens\":11}}";

  buf_init(&out, 1 << 20);
  prov_openai_stream_init(&s, NULL, 0);
  assert_int_equal(
      prov_openai_stream_event(&s, chunk, strlen(chunk), &out, &err), 0);
  assert_null(strstr(out.data, "usage"));
  assert_non_null(strstr(out.data, "\"content\":\"hi\""));
  buf_reset(&out);
  assert_int_equal(
      prov_openai_stream_event(&s, usage, strlen(usage), &out, &err), 0);
  assert_int_equal(out.len, 0);
  assert_int_equal(s.usage.prompt_tokens, 9);
  assert_int_equal(s.usage.completion_tokens, 2);
  assert_int_equal(prov_openai_stream_event(&s, "[DONE]", 6, &out, &err), 0);
  assert_true(s.done);
  assert_string_equal(out.data, "data: [DONE]\n\n");
  buf_free(&out);
}

static void test_stream_passes_usage_through_when_asked(void **state)
{
  struct prov_openai_stream s;
  struct api_error err;
  struct buf out;
  static const char usage[] =
      "{\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
      "\"completion_tokens\":2,\"total_tokens\":11}}";

  buf_init(&out, 1 << 20);
  prov_openai_stream_init(&s, NULL, 1);
  assert_int_equal(
      prov_openai_stream_event(&s, usage, strlen(usage), &out, &err), 0);
  assert_int_equal(out.len, strlen(usage) + 8);
  assert_memory_equal(out.data + 6, usage, strlen(usage));
  buf_free(&out);
}

static void test_stream_error_event_and_malformed(void **state)
{
  struct prov_openai_stream s;
  struct api_error err;
  struct buf out;
  static const char e[] = "{\"error\":{\"message\":\"boom\","
                          "\"type\":\"server_error\"}}";

  buf_init(&out, 1 << 20);
  prov_openai_stream_init(&s, NULL, 0);
  assert_int_equal(prov_openai_stream_event(&s, e, strlen(e), &out, &err),
                   SB_EIO);
  assert_string_equal(err.message, "boom");
  assert_string_equal(err.type, "upstream_error");
  assert_int_equal(prov_openai_stream_event(&s, "{nope", 5, &out, &err),
                   SB_EPROTO);
  assert_string_equal(err.code, "upstream_bad_response");
  assert_int_equal(out.len, 0);
  buf_free(&out);
}

static void test_error_mapping(void **state)
{
  struct prov p = {.name = "local", .kind = PROV_OPENAI, .cfg = &cp};
  struct api_error err;
  static const char bad[] =
      "{\"error\":{\"message\":\"Unrecognized request argument supplied: "
      "top_k\",\"type\":\"invalid_request_error\",\"param\":\"top_k\","
      "\"code\":null}}";
  static const char auth[] =
      "{\"error\":{\"message\":\"Incorrect API key provided: sk-sec***ret\","
      "\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}";

  prov_openai_map_error(&p, 400, bad, strlen(bad), NULL, NULL, &err);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.param, "top_k");
  assert_non_null(strstr(err.message, "top_k"));

  prov_openai_map_error(&p, 401, auth, strlen(auth), NULL, NULL, &err);
  assert_int_equal(err.status, 502);
  assert_string_equal(err.code, "upstream_auth_failed");
  assert_null(strstr(err.message, "sk-"));

  prov_openai_map_error(&p, 429, "{}", 2, "7", "7000", &err);
  assert_int_equal(err.status, 429);
  assert_int_equal(err.retry_after_s, 7);
  assert_int_equal(err.retry_after_ms, 7000);

  prov_openai_map_error(&p, 500, "oops", 4, NULL, NULL, &err);
  assert_int_equal(err.status, 502);
  prov_openai_map_error(&p, 503, NULL, 0, "3", NULL, &err);
  assert_int_equal(err.status, 503);
  assert_int_equal(err.retry_after_s, 3);
  prov_openai_map_error(&p, 529, NULL, 0, NULL, NULL, &err);
  assert_int_equal(err.status, 503);

  /* Mistral's top-level envelope and FastAPI's detail. */
  prov_openai_map_error(&p, 400,
                        "{\"object\":\"error\",\"message\":\"bad id\","
                        "\"type\":\"invalid_function_call\",\"code\":\"3280\"}",
                        82, NULL, NULL, &err);
  assert_string_equal(err.message, "bad id");
  assert_string_equal(err.type, "invalid_function_call");
  assert_string_equal(err.code, "3280");
  prov_openai_map_error(&p, 422, "{\"detail\":\"field required\"}", 27, NULL,
                        NULL, &err);
  assert_int_equal(err.status, 422);
  assert_string_equal(err.message, "field required");
}

static void test_parse_models(void **state)
{
  static const char body[] =
      "{\"object\":\"list\",\"data\":[{\"id\":\"a\"},{\"id\":\"b/c\"},{}]}";
  char **m;
  int n;

  assert_int_equal(prov_openai_parse_models(body, strlen(body), &m, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(m[1], "b/c");
  for(int i = 0; i < n; i++)
    free(m[i]);
  free(m);
  assert_int_equal(prov_openai_parse_models("[]", 2, &m, &n), SB_EPROTO);
}

static void test_quirks_request(void **state)
{
  struct prov p = {.name = "mistral",
                   .kind = PROV_OPENAI,
                   .cfg = &cp,
                   .base_url = "http://up/v1"};
  cJSON *opts = parse("{\"tool_call_ids\":\"alnum9\",\"seed_param\":"
                      "\"random_seed\",\"strip_message_names\":true,"
                      "\"drop_input_reasoning\":true}");
  struct prov_client client = {NULL, NULL, 0};
  cJSON *body = parse(
      "{\"model\":\"m\",\"seed\":7,\"messages\":["
      "{\"role\":\"user\",\"name\":\"bob\",\"content\":\"hi\"},"
      "{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"r\","
      "\"tool_calls\":[{\"id\":\"call_abc_123\",\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}},"
      "{\"id\":\"Ab3456789\",\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_abc_123\",\"content\":\"x\"}]"
      "}");
  struct prov_http h;
  char err[128];
  int cu;
  cJSON *sent, *msgs;
  const char *id0, *id1, *answer;

  assert_int_equal(prov_openai_configure(&p, opts, "o", err, sizeof(err)), 0);
  prov_openai_build_chat(&p, body, "m", &client, &h, &cu);
  sent = parse(h.body);
  msgs = cJSON_GetObjectItem(sent, "messages");
  assert_null(cJSON_GetObjectItem(sent, "seed"));
  assert_int_equal(cJSON_GetObjectItem(sent, "random_seed")->valueint, 7);
  assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "name"));
  assert_null(
      cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "reasoning_content"));
  id0 = cJSON_GetObjectItem(
            cJSON_GetArrayItem(
                cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "tool_calls"),
                0),
            "id")
            ->valuestring;
  id1 = cJSON_GetObjectItem(
            cJSON_GetArrayItem(
                cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "tool_calls"),
                1),
            "id")
            ->valuestring;
  answer = cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 2), "tool_call_id")
               ->valuestring;
  assert_int_equal(strlen(id0), 9);
  for(int i = 0; i < 9; i++)
    assert_true(isalnum((unsigned char)id0[i]));
  assert_string_equal(id0, answer);      /* the answer still matches its call */
  assert_string_equal(id1, "Ab3456789"); /* valid ids are kept */
  cJSON_Delete(sent);
  cJSON_Delete(body);
  cJSON_Delete(opts);
  prov_http_free(&h);
  prov_openai_unconfigure(&p);
}

static void test_quirks_bad_option(void **state)
{
  struct prov p = {.name = "x", .kind = PROV_OPENAI, .cfg = &cp};
  cJSON *opts = parse("{\"tool_call_ids\":\"short\"}");
  char err[128];

  assert_int_equal(prov_openai_configure(&p, opts, "opts", err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "opts.tool_call_ids"));
  prov_openai_unconfigure(&p);
  cJSON_Delete(opts);
  opts = parse("{\"api_version\":\"2024\"}"); /* azure only */
  assert_int_equal(prov_openai_configure(&p, opts, "opts", err, sizeof(err)),
                   SB_ECONFIG);
  prov_openai_unconfigure(&p);
  cJSON_Delete(opts);
}

static void test_normalize_answers(void **state)
{
  struct prov p = {.name = "or", .kind = PROV_OPENAI, .cfg = &cp};
  cJSON *opts = parse("{\"reasoning_field\":\"reasoning\"}");
  struct prov_openai_stream s;
  struct api_error e;
  struct canon_usage u = {-1, -1, -1, -1};
  struct buf out;
  char err[64], *fixed;
  static const char chunk[] =
      "{\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"hm\"},"
      "\"finish_reason\":null}]}";
  static const char groq[] =
      "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"eos\"}],"
      "\"x_groq\":{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}}";
  static const char answer[] =
      "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
      "\"content\":\"x\"},\"finish_reason\":\"model_length\"}]}";

  assert_int_equal(prov_openai_configure(&p, opts, "o", err, sizeof(err)), 0);
  buf_init(&out, 1 << 16);
  prov_openai_stream_init(&s, &p, 1);
  assert_int_equal(prov_openai_stream_event(&s, chunk, strlen(chunk), &out, &e),
                   0);
  assert_non_null(strstr(out.data, "\"reasoning_content\":\"hm\""));
  buf_reset(&out);
  assert_int_equal(prov_openai_stream_event(&s, groq, strlen(groq), &out, &e),
                   0);
  assert_non_null(strstr(out.data, "\"finish_reason\":\"stop\""));
  assert_int_equal(s.usage.completion_tokens, 4);
  assert_int_equal(
      prov_openai_parse_response(&p, answer, strlen(answer), &u, &fixed, &e),
      0);
  assert_non_null(fixed);
  assert_non_null(strstr(fixed, "\"finish_reason\":\"length\""));
  free(fixed);
  assert_int_equal(prov_openai_parse_response(&p, "{}", 2, &u, &fixed, &e), 0);
  assert_null(fixed); /* nothing to fix: the body passes unchanged */
  buf_free(&out);
  prov_openai_unconfigure(&p);
  cJSON_Delete(opts);
}

/* Answers that need no rewriting are read without being parsed
 * (scan_response): the usage is the one the parser finds, whatever the
 * spelling, and anything the scan cannot vouch for still gets parsed. */
static void test_answer_usage_read_alike(void **state)
{
  struct prov p = {.name = "o", .kind = PROV_OPENAI, .cfg = &cp};
  static const struct {
    const char *body;
    int64_t prompt, completion, cached, reasoning;
    int status; /* 0 or the error */
  } cases[] = {
      {"{\"id\":\"c\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
       "\"assistant\",\"content\":\"usage: none \\\"eos\\\"\"},"
       "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,"
       "\"completion_tokens\":5,\"prompt_tokens_details\":{\"cached_tokens\""
       ":2},\"completion_tokens_details\":{\"reasoning_tokens\":1}}}",
       12, 5, 2, 1, 0},
      /* The usage key spelled with an escape: parsed, still found. */
      {"{\"choices\":[],\"\\u0075sage\":{\"prompt_tokens\":7,"
       "\"completion_tokens\":8}}",
       7, 8, -1, -1, 0},
      /* The first of two usage members, as cJSON reads it. */
      {"{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2},"
       "\"usage\":{\"prompt_tokens\":3}}",
       1, 2, -1, -1, 0},
      /* Text after the object: cJSON stops at the object's end. */
      {"{\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":4}} trailing", 4,
       4, -1, -1, 0},
      {"{\"choices\":[]}", -1, -1, -1, -1, 0},
      {"not json", -1, -1, -1, -1, SB_EPROTO},
      {"[1,2]", -1, -1, -1, -1, SB_EPROTO},
  };

  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct canon_usage u = {-1, -1, -1, -1};
    struct api_error e;
    char *fixed = (char *)"unset";
    int rc = prov_openai_parse_response(&p, cases[i].body,
                                        strlen(cases[i].body), &u, &fixed, &e);

    assert_int_equal(rc, cases[i].status);
    assert_null(fixed); /* nothing to normalize in any of them */
    assert_int_equal(u.prompt_tokens, cases[i].prompt);
    assert_int_equal(u.completion_tokens, cases[i].completion);
    assert_int_equal(u.cached_tokens, cases[i].cached);
    assert_int_equal(u.reasoning_tokens, cases[i].reasoning);
  }
}

/* The credential, configured and forwarded headers every adapter sends
 * (prov_http_add_common): own key or the client's, under each kind's
 * header. */
static int has_header(const struct prov_http *h, const char *line)
{
  for(int i = 0; i < h->nheaders; i++)
    if(!strcmp(h->headers[i], line))
      return 1;
  return 0;
}

/* The pass-through from the client's bytes: the model replaced (and
 * escaped), usage asked for on a stream, and SB_EAGAIN for anything only
 * the parsed body can do. */
static void test_build_chat_raw(void **state)
{
  struct prov p = {.name = "local",
                   .kind = PROV_OPENAI,
                   .cfg = &cp,
                   .api_key = "sk-secret",
                   .base_url = "http://up/v1"};
  struct prov_client client = {NULL, NULL, 0};
  static const char plain[] = "{\"model\" : \"local/x\",\"n\":1} \n";
  static const char streamed[] =
      "{\"model\":\"a\",\"stream\":true,\"stream_options\":"
      "{\"include_usage\":true}}";
  static const char *const parsed[] = {
      /* stream_options to merge into */
      "{\"model\":\"a\",\"stream\":true,\"stream_options\":{}}",
      /* another provider's state, or a Gemini signature, to take out */
      "{\"model\":\"a\",\"messages\":[{\"reasoning_details\":[]}]}",
      "{\"model\":\"a\",\"messages\":[{\"tool_call_id\":\"c__ts_QUJD\"}]}",
  };
  struct prov_http h;
  char err[64];
  int cu = -1;
  cJSON *opts;

  assert_int_equal(prov_openai_build_chat_raw(&p, plain, strlen(plain),
                                              "m\"1\n", &client, &h, &cu),
                   0);
  assert_int_equal(cu, 0);
  assert_string_equal(h.body, "{\"model\" : \"m\\\"1\\u000a\",\"n\":1}");
  assert_int_equal(h.body_len, strlen(h.body));
  assert_string_equal(h.url, "http://up/v1/chat/completions");
  assert_true(has_header(&h, "Accept: application/json"));
  assert_true(has_header(&h, "Authorization: Bearer sk-secret"));
  prov_http_free(&h);
  assert_int_equal(prov_openai_build_chat_raw(&p, streamed, strlen(streamed),
                                              "m", &client, &h, &cu),
                   0);
  assert_int_equal(cu, 1); /* the client asked for usage itself */
  assert_string_equal(h.body, "{\"model\":\"m\",\"stream\":true,"
                              "\"stream_options\":{\"include_usage\":true}}");
  assert_true(has_header(&h, "Accept: text/event-stream"));
  prov_http_free(&h);
  for(size_t i = 0; i < sizeof(parsed) / sizeof(parsed[0]); i++)
    assert_int_equal(prov_openai_build_chat_raw(&p, parsed[i],
                                                strlen(parsed[i]), "m", &client,
                                                &h, &cu),
                     SB_EAGAIN);
  /* A request quirk rewrites what the client wrote. */
  opts = parse("{\"strip_message_names\":true}");
  assert_int_equal(prov_openai_configure(&p, opts, "o", err, sizeof(err)), 0);
  assert_int_equal(prov_openai_build_chat_raw(&p, plain, strlen(plain), "m",
                                              &client, &h, &cu),
                   SB_EAGAIN);
  prov_openai_unconfigure(&p);
  cJSON_Delete(opts);
}

/* Chunks relayed from their text: bytes unchanged but for the usage we
 * asked for, text counted as decoded, the usage chunk read and dropped. */
static void test_stream_chunks_scanned(void **state)
{
  struct prov p = {.name = "o", .kind = PROV_OPENAI, .cfg = &cp};
  struct prov_openai_stream s;
  struct api_error e;
  struct buf out;
  static const char c1[] = "{\"id\":\"c\", \"choices\":[{\"index\":0,\"delta\":"
                           "{\"content\":\"caf\\u00e9\\n\\ud83d\\ude00\"}}],"
                           "\"usage\":null }";
  static const char c2[] = "{\"usage\":null,\"choices\":[{\"delta\":{"
                           "\"tool_calls\":[{\"function\":{\"arguments\":"
                           "\"{\\\"a\\\":1}\"}}]}}]}";
  static const char c3[] = "{\"choices\":[ ],\"usage\":{\"prompt_tokens\":3,"
                           "\"completion_tokens\":4.0,"
                           "\"completion_tokens_details\":"
                           "{\"reasoning_tokens\":1}}}";

  buf_init(&out, 1 << 16);
  prov_openai_stream_init(&s, &p, 0);
  assert_int_equal(prov_openai_stream_event(&s, c1, strlen(c1), &out, &e), 0);
  assert_int_equal(prov_openai_stream_event(&s, c2, strlen(c2), &out, &e), 0);
  assert_int_equal(prov_openai_stream_event(&s, c3, strlen(c3), &out, &e), 0);
  assert_string_equal(
      out.data, "data: {\"id\":\"c\", \"choices\":[{\"index\":0,\"delta\":"
                "{\"content\":\"caf\\u00e9\\n\\ud83d\\ude00\"}}] }\n\n"
                "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{"
                "\"function\":{\"arguments\":\"{\\\"a\\\":1}\"}}]}}]}\n\n");
  /* "café\n😀" is 10 bytes, {"a":1} 7. */
  assert_int_equal(s.text_bytes, 17);
  {
    /* A chunk too large to edit in place goes the parsed way, counted
     * once all the same. */
    char big[6000];
    int n = snprintf(big, sizeof(big),
                     "{\"choices\":[{\"delta\":{\"content\":\"%05000d\"}}],"
                     "\"usage\":null}",
                     0);
    size_t before = out.len;

    assert_int_equal(prov_openai_stream_event(&s, big, (size_t)n, &out, &e), 0);
    assert_int_equal(s.text_bytes, 17 + 5000);
    assert_null(strstr(out.data + before, "usage"));
  }
  assert_int_equal(s.usage.prompt_tokens, 3);
  assert_int_equal(s.usage.completion_tokens, 4);
  assert_int_equal(s.usage.reasoning_tokens, 1);
  buf_free(&out);
}

static void test_common_headers(void **state)
{
  struct config_kv hdr = {(char *)"X-Team", (char *)"blue"};
  struct config_kv fwd = {(char *)"x-tenant", (char *)"acme"};
  struct config_provider c = {.headers = &hdr, .nheaders = 1};
  struct prov p = {.name = (char *)"p", .cfg = &c, .api_key = (char *)"K"};
  struct prov_client client = {"Bearer CLIENT", &fwd, 1};
  const struct prov_cred bearer = {"Authorization", 1, "Authorization"};
  const struct prov_cred key = {"x-api-key", 0, "x-api-key"};
  const struct prov_cred azure = {"api-key", 0, "Authorization"};
  struct prov_http h;

  (void)state;
  memset(&h, 0, sizeof(h));
  prov_http_add_common(&h, &p, &client, &bearer);
  assert_true(has_header(&h, "Authorization: Bearer K"));
  assert_true(has_header(&h, "X-Team: blue"));
  assert_true(has_header(&h, "x-tenant: acme"));
  assert_int_equal(h.nheaders, 3);
  prov_http_free(&h);

  memset(&h, 0, sizeof(h));
  prov_http_add_common(&h, &p, NULL, &key);
  assert_true(has_header(&h, "x-api-key: K"));
  assert_int_equal(h.nheaders, 2);
  prov_http_free(&h);

  /* passthrough_auth: the client's credential instead of the key. */
  c.passthrough_auth = 1;
  memset(&h, 0, sizeof(h));
  prov_http_add_common(&h, &p, &client, &key);
  assert_true(has_header(&h, "x-api-key: CLIENT"));
  assert_false(has_header(&h, "x-api-key: K"));
  prov_http_free(&h);
  memset(&h, 0, sizeof(h));
  prov_http_add_common(&h, &p, &client, &azure);
  assert_true(has_header(&h, "Authorization: Bearer CLIENT"));
  prov_http_free(&h);
  /* No client credential: none at all, never the gateway's key. */
  client.authorization = NULL;
  memset(&h, 0, sizeof(h));
  prov_http_add_common(&h, &p, &client, &bearer);
  assert_false(has_header(&h, "Authorization: Bearer K"));
  assert_int_equal(h.nheaders, 2);
  prov_http_free(&h);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_echo_complete),
      cmocka_unit_test(test_echo_stream_max_tokens_and_usage),
      cmocka_unit_test(test_echo_unknown_model),
      cmocka_unit_test(test_build_stream_asks_for_usage),
      cmocka_unit_test(test_stream_hides_usage_client_did_not_ask_for),
      cmocka_unit_test(test_stream_passes_usage_through_when_asked),
      cmocka_unit_test(test_stream_error_event_and_malformed),
      cmocka_unit_test(test_error_mapping),
      cmocka_unit_test(test_parse_models),
      cmocka_unit_test(test_quirks_request),
      cmocka_unit_test(test_common_headers),
      cmocka_unit_test(test_quirks_bad_option),
      cmocka_unit_test(test_normalize_answers),
      cmocka_unit_test(test_answer_usage_read_alike),
      cmocka_unit_test(test_build_chat_raw),
      cmocka_unit_test(test_stream_chunks_scanned),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
