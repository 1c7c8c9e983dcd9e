/* The Cohere v2 adapter (providers/cohere.c), without sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "config/config.h"
#include "codec/oai_embed.h"
#include "base/sb.h"
#include "providers/adapter.h"
#include "providers/cohere.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct prov_adapter *A = &prov_cohere_adapter;

static struct config_provider cfgp = {.name = "co", .kind = "cohere"};
static struct prov P = {.name = "co",
                        .kind = PROV_ADAPTER,
                        .cfg = &cfgp,
                        .base_url = "https://api.cohere.com",
                        .api_key = "co-secret-key"};

static cJSON *parse(const char *s)
{
  cJSON *j = cJSON_Parse(s);
  if(!j)
    fail_msg("bad test JSON: %s", s);
  return j;
}

/* Build the upstream request for req; returns its body (caller frees). */
static cJSON *build_ok(const char *req, struct prov_http *h)
{
  cJSON *r = parse(req);
  struct api_error err;
  int rc = A->build_chat(&P, r, "command-a", NULL, h, &err);
  if(rc)
    fail_msg("build_chat failed: %s (%s)", err.message, err.param);
  cJSON_Delete(r);
  return parse(h->body);
}

static void build_fails(const char *req, const char *code, const char *param)
{
  cJSON *r = parse(req);
  struct api_error err;
  struct prov_http h;

  assert_int_equal(A->build_chat(&P, r, "command-a", NULL, &h, &err),
                   SB_EINVAL);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.type, "invalid_request_error");
  assert_string_equal(err.code, code);
  assert_string_equal(err.param, param);
  assert_null(h.body);
  cJSON_Delete(r);
}

/* The upstream body must equal want (JSON, key order ignored). */
static void assert_json(const cJSON *got, const char *want)
{
  cJSON *w = parse(want);
  if(!cJSON_Compare(got, w, 1)) {
    char *g = cJSON_PrintUnformatted(got);
    fail_msg("got  %s\nwant %s", g, want);
  }
  cJSON_Delete(w);
}

static int has_header(const struct prov_http *h, const char *line)
{
  for(int i = 0; i < h->nheaders; i++)
    if(!strcmp(h->headers[i], line))
      return 1;
  return 0;
}

/* ---- request ---------------------------------------------------------- */

static void test_build_basic(void **state)
{
  struct prov_http h;
  cJSON *b = build_ok("{\"model\":\"co/command-a\",\"messages\":["
                      "{\"role\":\"system\",\"content\":\"be brief\"},"
                      "{\"role\":\"developer\",\"content\":[{\"type\":\"text\","
                      "\"text\":\"no jokes\"}]},"
                      "{\"role\":\"user\",\"content\":\"hi\"},"
                      "{\"role\":\"assistant\",\"content\":\"hello\"},"
                      "{\"role\":\"user\",\"content\":\"how are you?\","
                      "\"name\":\"bob\"}],"
                      "\"user\":\"u1\",\"metadata\":{\"a\":\"b\"},"
                      "\"stream_options\":null,\"n\":1,\"logprobs\":false,"
                      "\"x_unknown\":1}",
                      &h);

  (void)state;
  assert_json(b, "{\"model\":\"command-a\",\"messages\":["
                 "{\"role\":\"system\",\"content\":\"be brief\"},"
                 "{\"role\":\"system\",\"content\":[{\"type\":\"text\","
                 "\"text\":\"no jokes\"}]},"
                 "{\"role\":\"user\",\"content\":\"hi\"},"
                 "{\"role\":\"assistant\",\"content\":\"hello\"},"
                 "{\"role\":\"user\",\"content\":\"how are you?\"}],"
                 "\"stream\":false}");
  assert_string_equal(h.url, "https://api.cohere.com/v2/chat");
  assert_null(h.method);
  assert_true(has_header(&h, "Authorization: Bearer co-secret-key"));
  assert_true(has_header(&h, "Content-Type: application/json"));
  assert_true(has_header(&h, "Accept: application/json"));
  assert_string_equal(h.dropped, "user,metadata,x_unknown,messages[].name");
  cJSON_Delete(b);
  prov_http_free(&h);
}

static void test_build_sampling(void **state)
{
  struct prov_http h;
  cJSON *b = build_ok(
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
      "\"stream\":true,\"stream_options\":{\"include_usage\":true},"
      "\"temperature\":0.5,\"top_p\":1,\"top_k\":40,\"seed\":7,"
      "\"stop\":\"END\",\"max_tokens\":10,\"max_completion_tokens\":20,"
      "\"frequency_penalty\":0.25,\"presence_penalty\":0.5}",
      &h);

  (void)state;
  assert_json(b, "{\"model\":\"command-a\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"x\"}],\"temperature\":0.5,\"p\":0.99,"
                 "\"k\":40,\"seed\":7,\"stop_sequences\":[\"END\"],"
                 "\"max_tokens\":20,\"frequency_penalty\":0.25,"
                 "\"presence_penalty\":0.5,\"stream\":true}");
  assert_true(has_header(&h, "Accept: text/event-stream"));
  assert_null(h.dropped);
  cJSON_Delete(b);
  prov_http_free(&h);

  b = build_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"x\"}],\"top_p\":0.3,\"stop\":[\"a\",\"b\"],"
               "\"max_tokens\":5}",
               &h);
  assert_json(b, "{\"model\":\"command-a\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"x\"}],\"p\":0.3,\"stop_sequences\":[\"a\","
                 "\"b\"],\"max_tokens\":5,\"stream\":false}");
  cJSON_Delete(b);
  prov_http_free(&h);
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
              "\"content\":\"x\"}],\"top_k\":1.5}",
              "invalid_type", "top_k");
}

static void test_build_images(void **state)
{
  struct prov_http h;
  cJSON *b =
      build_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
               "{\"type\":\"text\",\"text\":\"what is this?\"},"
               "{\"type\":\"image_url\",\"image_url\":{\"url\":"
               "\"data:image/png;base64,iVBORw0K\"}},"
               "{\"type\":\"image_url\",\"image_url\":{\"url\":"
               "\"https://example.com/cat.jpg\",\"detail\":\"low\"}}]}]}",
               &h);

  (void)state;
  assert_json(b, "{\"model\":\"command-a\",\"messages\":[{\"role\":\"user\","
                 "\"content\":[{\"type\":\"text\",\"text\":\"what is this?\"},"
                 "{\"type\":\"image_url\",\"image_url\":{\"url\":"
                 "\"data:image/png;base64,iVBORw0K\"}},"
                 "{\"type\":\"image_url\",\"image_url\":{\"url\":"
                 "\"https://example.com/cat.jpg\",\"detail\":\"low\"}}]}],"
                 "\"stream\":false}");
  cJSON_Delete(b);
  prov_http_free(&h);
  build_fails(
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
      "{\"type\":\"text\",\"text\":\"read\"},{\"type\":\"file\","
      "\"file\":{\"file_data\":\"data:application/pdf;base64,AA\"}}]}]}",
      "unsupported_parameter", "messages[0].content[1]");
}

static const char *TOOLS =
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
    "\"description\":\"Weather\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"city\":{\"type\":\"string\"}}}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}]";

static const char *TOOLS_OUT =
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
    "\"description\":\"Weather\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"city\":{\"type\":\"string\"}}}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"get_time\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]";

static void check_choice(const char *choice, const char *tools_out,
                         const char *choice_out)
{
  char req[2048], want[2048];
  struct prov_http h;
  cJSON *b;

  snprintf(req, sizeof(req),
           "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
           "\"x\"}],%s%s%s}",
           TOOLS, choice ? ",\"tool_choice\":" : "", choice ? choice : "");
  b = build_ok(req, &h);
  snprintf(want, sizeof(want),
           "{\"model\":\"command-a\",\"messages\":[{\"role\":\"user\","
           "\"content\":\"x\"}],%s%s%s%s,\"stream\":false}",
           tools_out, choice_out ? ",\"tool_choice\":\"" : "",
           choice_out ? choice_out : "", choice_out ? "\"" : "");
  assert_json(b, want);
  cJSON_Delete(b);
  prov_http_free(&h);
}

static void test_build_tools(void **state)
{
  (void)state;
  check_choice(NULL, TOOLS_OUT, NULL);
  check_choice("\"auto\"", TOOLS_OUT, NULL);
  check_choice("\"none\"", TOOLS_OUT, "NONE");
  check_choice("\"required\"", TOOLS_OUT, "REQUIRED");
  /* A named function: only that tool, and REQUIRED. */
  check_choice("{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}",
               "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
               "\"get_time\",\"parameters\":{\"type\":\"object\","
               "\"properties\":{}}}}]",
               "REQUIRED");
  check_choice("{\"type\":\"allowed_tools\",\"allowed_tools\":{\"mode\":"
               "\"auto\",\"tools\":[{\"type\":\"function\",\"function\":"
               "{\"name\":\"get_weather\"}}]}}",
               "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
               "\"get_weather\",\"description\":\"Weather\",\"parameters\":"
               "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
               "\"string\"}}}}}]",
               NULL);
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"}],\"tools\":[{\"type\":\"function\",\"function\":{"
              "\"name\":\"a\"}}],\"tool_choice\":{\"type\":\"function\","
              "\"function\":{\"name\":\"b\"}}}",
              "invalid_value", "tool_choice");
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"}],\"tools\":[{\"type\":\"function\",\"function\":{"
              "\"name\":\"a\"}}],\"parallel_tool_calls\":false}",
              "unsupported_parameter", "parallel_tool_calls");
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"}],\"tools\":[{\"type\":\"custom\",\"custom\":{"
              "\"name\":\"a\"}}]}",
              "unsupported_parameter", "tools[0]");
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"}],\"tool_choice\":\"required\"}",
              "invalid_value", "tool_choice");
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"}],\"functions\":[{\"name\":\"a\"}]}",
              "unsupported_parameter", "functions");
}

static void test_build_strict_tools(void **state)
{
  struct prov_http h;
  cJSON *b = build_ok(
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\","
      "\"parameters\":{\"type\":\"object\"},\"strict\":true}}]}",
      &h);

  (void)state;
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(b, "strict_tools")));
  cJSON_Delete(b);
  prov_http_free(&h);
}

static void test_build_tool_round_trip(void **state)
{
  struct prov_http h;
  cJSON *b = build_ok(
      "{\"model\":\"m\",\"messages\":["
      "{\"role\":\"user\",\"content\":\"weather in Paris and time?\"},"
      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
      "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
      "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
      "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":"
      "\"get_time\",\"arguments\":\"{}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"18C\"},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":[{\"type\":"
      "\"text\",\"text\":\"12:00\"}]},"
      "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":["
      "{\"id\":\"call_3\",\"type\":\"function\",\"function\":{\"name\":"
      "\"get_time\",\"arguments\":\"{}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_3\",\"content\":\"13:00\"}"
      "]}",
      &h);

  (void)state;
  assert_json(
      b, "{\"model\":\"command-a\",\"messages\":["
         "{\"role\":\"user\",\"content\":\"weather in Paris and time?\"},"
         "{\"role\":\"assistant\",\"tool_calls\":["
         "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
         "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
         "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":"
         "\"get_time\",\"arguments\":\"{}\"}}]},"
         "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"18C\"},"
         "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":[{"
         "\"type\":\"text\",\"text\":\"12:00\"}]},"
         "{\"role\":\"assistant\",\"tool_calls\":["
         "{\"id\":\"call_3\",\"type\":\"function\",\"function\":{\"name\":"
         "\"get_time\",\"arguments\":\"{}\"}}]},"
         "{\"role\":\"tool\",\"tool_call_id\":\"call_3\",\"content\":"
         "\"13:00\"}],\"stream\":false}");
  cJSON_Delete(b);
  prov_http_free(&h);
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"function\","
              "\"name\":\"f\",\"content\":\"x\"}]}",
              "unsupported_parameter", "messages[0].role");
}

static void test_build_response_format(void **state)
{
  struct prov_http h;
  cJSON *b = build_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                      "\"content\":\"x\"}],\"response_format\":{\"type\":"
                      "\"json_object\"}}",
                      &h);

  (void)state;
  assert_json(cJSON_GetObjectItem(b, "response_format"),
              "{\"type\":\"json_object\"}");
  cJSON_Delete(b);
  prov_http_free(&h);
  b = build_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"x\"}],\"response_format\":{\"type\":"
               "\"json_schema\",\"json_schema\":{\"name\":\"p\",\"strict\":"
               "true,\"schema\":{\"type\":\"object\",\"properties\":{\"a\":"
               "{\"type\":\"string\"}},\"required\":[\"a\"]}}}}",
               &h);
  assert_json(cJSON_GetObjectItem(b, "response_format"),
              "{\"type\":\"json_object\",\"json_schema\":{\"type\":\"object\","
              "\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":"
              "[\"a\"]}}");
  cJSON_Delete(b);
  prov_http_free(&h);
  b = build_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"x\"}],\"response_format\":{\"type\":\"text\"}}",
               &h);
  assert_null(cJSON_GetObjectItem(b, "response_format"));
  cJSON_Delete(b);
  prov_http_free(&h);
}

static void test_build_reasoning(void **state)
{
  struct prov_http h;
  cJSON *b = build_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                      "\"content\":\"x\"}],\"reasoning_effort\":\"low\"}",
                      &h);

  (void)state;
  assert_json(cJSON_GetObjectItem(b, "thinking"),
              "{\"type\":\"enabled\",\"token_budget\":2048}");
  cJSON_Delete(b);
  prov_http_free(&h);
  b = build_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"x\"}],\"reasoning_effort\":\"none\"}",
               &h);
  assert_json(cJSON_GetObjectItem(b, "thinking"), "{\"type\":\"disabled\"}");
  cJSON_Delete(b);
  prov_http_free(&h);
  assert_int_equal(prov_cohere_thinking_budget("high"), 16384);
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
              "\"content\":\"x\"}],\"reasoning_effort\":\"huge\"}",
              "invalid_value", "reasoning_effort");
}

static void test_build_passthrough(void **state)
{
  struct config_provider c = {
      .name = "co", .kind = "cohere", .passthrough_auth = 1};
  struct prov p2 = P;
  struct prov_client client = {.authorization = "Bearer client-key"};
  struct prov_http h;
  struct api_error err;
  cJSON *r = parse("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                   "\"content\":\"x\"}]}");

  (void)state;
  p2.cfg = &c;
  assert_int_equal(A->build_chat(&p2, r, "command-a", &client, &h, &err), 0);
  assert_true(has_header(&h, "Authorization: Bearer client-key"));
  assert_false(has_header(&h, "Authorization: Bearer co-secret-key"));
  prov_http_free(&h);
  cJSON_Delete(r);
}

/* ---- response --------------------------------------------------------- */

static cJSON *parse_ok(const char *body, struct canon_usage *u)
{
  struct api_error err;
  cJSON *out;
  int rc = A->parse_chat(&P, body, strlen(body), "co/command-a", "chatcmpl-1",
                         42, &out, u, &err);
  if(rc)
    fail_msg("parse_chat failed: %s", err.message);
  return out;
}

/* Found by tests/fuzz/fuzz_cohere: a token count of 1e300 was cast to
 * int64_t (undefined). It is no count: the billed units are used. */
static void test_parse_huge_usage(void **state)
{
  struct canon_usage u;
  cJSON *out = parse_ok(
      "{\"id\":\"c1\",\"finish_reason\":\"COMPLETE\",\"message\":{\"role\":"
      "\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]},"
      "\"usage\":{\"billed_units\":{\"input_tokens\":5,\"output_tokens\":3},"
      "\"tokens\":{\"input_tokens\":1e300,\"output_tokens\":-1e300},"
      "\"cached_tokens\":1e300}}",
      &u);
  (void)state;

  assert_int_equal(u.prompt_tokens, 5);
  assert_int_equal(u.completion_tokens, 3);
  assert_int_equal(u.cached_tokens, -1);
  cJSON_Delete(out);
}

static void test_parse_text(void **state)
{
  struct canon_usage u;
  cJSON *out = parse_ok(
      "{\"id\":\"c1\",\"finish_reason\":\"COMPLETE\",\"message\":{\"role\":"
      "\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Hi \"},"
      "{\"type\":\"text\",\"text\":\"there\"}]},\"usage\":{\"billed_units\":"
      "{\"input_tokens\":5,\"output_tokens\":3},\"tokens\":{\"input_tokens\":"
      "70,\"output_tokens\":3},\"cached_tokens\":64}}",
      &u);

  (void)state;
  assert_json(out, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
                   "\"created\":42,\"model\":\"co/command-a\",\"choices\":[{"
                   "\"index\":0,\"message\":{\"role\":\"assistant\","
                   "\"content\":\"Hi there\",\"refusal\":null},\"logprobs\":"
                   "null,\"finish_reason\":\"stop\"}],\"usage\":{"
                   "\"prompt_tokens\":70,\"completion_tokens\":3,"
                   "\"total_tokens\":73,\"prompt_tokens_details\":{"
                   "\"cached_tokens\":64}}}");
  assert_int_equal(u.prompt_tokens, 70);
  assert_int_equal(u.completion_tokens, 3);
  assert_int_equal(u.cached_tokens, 64);
  assert_int_equal(u.reasoning_tokens, -1);
  cJSON_Delete(out);
}

static void test_parse_tools(void **state)
{
  struct canon_usage u;
  cJSON *out = parse_ok(
      "{\"id\":\"c1\",\"finish_reason\":\"TOOL_CALL\",\"message\":{\"role\":"
      "\"assistant\",\"tool_plan\":\"I will check.\",\"tool_calls\":["
      "{\"id\":\"get_weather_1\",\"type\":\"function\",\"function\":{"
      "\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\""
      "}},{\"id\":\"get_time_2\",\"type\":\"function\",\"function\":{"
      "\"name\":\"get_time\",\"arguments\":\"{}\"}}]},"
      "\"usage\":{\"billed_units\":{\"input_tokens\":9,\"output_tokens\":4}}}",
      &u);

  (void)state;
  assert_json(
      out, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
           "\"created\":42,\"model\":\"co/command-a\",\"choices\":[{"
           "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
           "\"refusal\":null,\"reasoning_content\":\"I will check.\","
           "\"tool_calls\":[{\"id\":\"get_weather_1\",\"type\":\"function\","
           "\"function\":{\"name\":\"get_weather\",\"arguments\":"
           "\"{\\\"city\\\":\\\"Paris\\\"}\"}},{\"id\":\"get_time_2\","
           "\"type\":\"function\",\"function\":{\"name\":\"get_time\","
           "\"arguments\":\"{}\"}}]},\"logprobs\":null,\"finish_reason\":"
           "\"tool_calls\"}],\"usage\":{\"prompt_tokens\":9,"
           "\"completion_tokens\":4,\"total_tokens\":13}}");
  assert_int_equal(u.prompt_tokens, 9);
  assert_int_equal(u.cached_tokens, -1);
  cJSON_Delete(out);
}

static const char *finish_of(const char *cohere)
{
  static char got[32];
  char body[256];
  struct canon_usage u;
  cJSON *out;

  snprintf(body, sizeof(body),
           "{\"finish_reason\":\"%s\",\"message\":{\"role\":\"assistant\","
           "\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\"},"
           "{\"type\":\"text\",\"text\":\"a\"}]}}",
           cohere);
  out = parse_ok(body, &u);
  snprintf(got, sizeof(got), "%s",
           cJSON_GetObjectItem(
               cJSON_GetArrayItem(cJSON_GetObjectItem(out, "choices"), 0),
               "finish_reason")
               ->valuestring);
  assert_string_equal(
      cJSON_GetObjectItem(
          cJSON_GetObjectItem(
              cJSON_GetArrayItem(cJSON_GetObjectItem(out, "choices"), 0),
              "message"),
          "reasoning_content")
          ->valuestring,
      "hm");
  assert_int_equal(u.prompt_tokens, -1);
  cJSON_Delete(out);
  return got;
}

static void test_parse_finish_reasons(void **state)
{
  const char *body = "{\"finish_reason\":\"ERROR\",\"message\":{\"role\":"
                     "\"assistant\",\"content\":[]}}";
  struct api_error err;
  struct canon_usage u;
  cJSON *out;

  (void)state;
  assert_string_equal(finish_of("COMPLETE"), "stop");
  assert_string_equal(finish_of("STOP_SEQUENCE"), "stop");
  assert_string_equal(finish_of("MAX_TOKENS"), "length");
  assert_string_equal(finish_of("TOOL_CALL"), "tool_calls");
  assert_int_equal(
      A->parse_chat(&P, body, strlen(body), "m", "id", 1, &out, &u, &err),
      SB_EIO);
  assert_null(out);
  assert_int_equal(err.status, 502);
  assert_string_equal(err.code, "upstream_error");
  body = "{\"finish_reason\":\"TIMEOUT\",\"message\":{\"role\":"
         "\"assistant\",\"content\":[]}}";
  assert_int_equal(
      A->parse_chat(&P, body, strlen(body), "m", "id", 1, &out, &u, &err),
      SB_EIO);
  assert_string_equal(err.code, "upstream_timeout");
  body = "{\"message\":\"not an answer\"}";
  assert_int_equal(
      A->parse_chat(&P, body, strlen(body), "m", "id", 1, &out, &u, &err),
      SB_EPROTO);
  assert_string_equal(err.code, "upstream_bad_response");
  body = "<html>";
  assert_int_equal(
      A->parse_chat(&P, body, strlen(body), "m", "id", 1, &out, &u, &err),
      SB_EPROTO);
}

/* ---- stream ----------------------------------------------------------- */

/* Events rendered as "TYPE(detail)" joined with " ". */
struct log {
  struct buf b;
  int stop_after; /* >0: the sink returns 7 at this event */
  int n;
};

static int log_emit(void *ud, const struct canon_ev *ev)
{
  struct log *l = ud;
  const char *t = "";
  char tmp[1024];

  l->n++;
  switch(ev->type) {
  case CANON_EV_START:
    snprintf(tmp, sizeof(tmp), "START(%s)", ev->id ? ev->id : "-");
    break;
  case CANON_EV_TEXT:
  case CANON_EV_REASONING:
    t = ev->type == CANON_EV_TEXT ? "TEXT" : "REASON";
    snprintf(tmp, sizeof(tmp), "%s(%.*s)", t, (int)ev->len, ev->text);
    break;
  case CANON_EV_TOOL_START:
    snprintf(tmp, sizeof(tmp), "TOOL%d(%s,%s,%.*s)", ev->index, ev->id,
             ev->name, (int)ev->len, ev->text);
    break;
  case CANON_EV_TOOL_ARGS:
    snprintf(tmp, sizeof(tmp), "ARGS%d(%.*s)", ev->index, (int)ev->len,
             ev->text);
    break;
  case CANON_EV_FINISH:
    snprintf(tmp, sizeof(tmp), "FINISH(%s)", ev->finish_reason);
    break;
  case CANON_EV_USAGE:
    snprintf(tmp, sizeof(tmp), "USAGE(%lld,%lld,%lld)",
             (long long)ev->usage.prompt_tokens,
             (long long)ev->usage.completion_tokens,
             (long long)ev->usage.cached_tokens);
    break;
  case CANON_EV_ERROR:
    snprintf(tmp, sizeof(tmp), "ERROR(%d,%s,%s)", ev->err->status,
             ev->err->code, ev->err->message);
    break;
  }
  if(l->b.len)
    buf_appendz(&l->b, " ");
  buf_appendz(&l->b, tmp);
  return l->stop_after && l->n == l->stop_after ? 7 : 0;
}

/* Feed "event\ndata" payloads (event may be empty); the last rc. */
static int feed_all(struct prov_stream *s, const char *const *ev, struct log *l)
{
  struct canon_sink sink = {log_emit, l};
  int rc = 0;

  for(int i = 0; ev[i] && !rc; i++) {
    const char *nl = strchr(ev[i], '\n');
    struct prov_payload pl = {.event = nl && nl > ev[i] ? ev[i] : NULL,
                              .event_len = nl ? (size_t)(nl - ev[i]) : 0,
                              .data = nl ? nl + 1 : ev[i]};
    pl.len = strlen(pl.data);
    rc = A->stream_feed(s, &pl, &sink);
  }
  return rc;
}

static void run_stream(const char *const *ev, int want_rc, int complete,
                       const char *want)
{
  struct prov_stream *s = A->stream_new(&P, "command-a");
  struct log l = {0};

  buf_init(&l.b, 1 << 16);
  assert_int_equal(feed_all(s, ev, &l), want_rc);
  assert_int_equal(A->stream_complete(s), complete);
  assert_string_equal(l.b.data ? l.b.data : "", want);
  buf_free(&l.b);
  A->stream_free(s);
}

#define MSG_START                                                              \
  "message-start\n{\"id\":\"m-1\",\"type\":\"message-start\",\"delta\":{"      \
  "\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\","     \
  "\"tool_calls\":[],\"citations\":[]}}}"
#define CONTENT_START                                                          \
  "content-start\n{\"type\":\"content-start\",\"index\":0,\"delta\":{"         \
  "\"message\":{\"content\":{\"type\":\"text\",\"text\":\"\"}}}}"
#define DELTA(t)                                                               \
  "content-delta\n{\"type\":\"content-delta\",\"index\":0,\"delta\":{"         \
  "\"message\":{\"content\":{\"text\":\"" t "\"}}}}"
#define MSG_END(f)                                                             \
  "message-end\n{\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"" f   \
  "\",\"usage\":{\"billed_units\":{\"input_tokens\":3,\"output_tokens\":2},"   \
  "\"tokens\":{\"input_tokens\":30,\"output_tokens\":2}}}}"

static void test_stream_text(void **state)
{
  const char *const ev[] = {
      MSG_START,
      CONTENT_START,
      DELTA("Hel"),
      DELTA("lo"),
      "content-end\n{\"type\":\"content-end\",\"index\":0}",
      MSG_END("COMPLETE"),
      "\n[DONE]",
      NULL,
  };
  const char *const len[] = {MSG_START, DELTA("a"), MSG_END("MAX_TOKENS"),
                             NULL};
  const char *const stop[] = {MSG_START, DELTA("a"), MSG_END("STOP_SEQUENCE"),
                              NULL};
  const char *const cut[] = {MSG_START, DELTA("a"), NULL};

  (void)state;
  run_stream(ev, 0, 1,
             "START(m-1) TEXT(Hel) TEXT(lo) FINISH(stop) USAGE(30,2,-1)");
  run_stream(len, 0, 1, "START(m-1) TEXT(a) FINISH(length) USAGE(30,2,-1)");
  run_stream(stop, 0, 1, "START(m-1) TEXT(a) FINISH(stop) USAGE(30,2,-1)");
  run_stream(cut, 0, 0, "START(m-1) TEXT(a)");
}

#define TOOL_START(i, id, name)                                                \
  "tool-call-start\n{\"type\":\"tool-call-start\",\"index\":" #i ","           \
  "\"delta\":{\"message\":{\"tool_calls\":{\"id\":\"" id "\",\"type\":"        \
  "\"function\",\"function\":{\"name\":\"" name "\",\"arguments\":\"\"}}}}}"
#define TOOL_DELTA(i, a)                                                       \
  "tool-call-delta\n{\"type\":\"tool-call-delta\",\"index\":" #i ","           \
  "\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":"       \
  "\"" a "\"}}}}}"
#define TOOL_END(i)                                                            \
  "tool-call-end\n{\"type\":\"tool-call-end\",\"index\":" #i "}"

static void test_stream_tools(void **state)
{
  const char *const one[] = {
      MSG_START,
      "tool-plan-delta\n{\"type\":\"tool-plan-delta\",\"delta\":{\"message\":"
      "{\"tool_plan\":\"I will \"}}}",
      "tool-plan-delta\n{\"type\":\"tool-plan-delta\",\"delta\":{\"message\":"
      "{\"tool_plan\":\"look.\"}}}",
      TOOL_START(0, "get_weather_x1", "get_weather"),
      TOOL_DELTA(0, "{\\\"ci"),
      TOOL_DELTA(0, "ty\\\": \\\"Paris\\\"}"),
      TOOL_END(0),
      MSG_END("TOOL_CALL"),
      NULL,
  };
  /* Two calls; Cohere numbers them 1 and 3 here: ours are 0 and 1. */
  const char *const two[] = {
      MSG_START,
      TOOL_START(1, "a1", "get_weather"),
      TOOL_DELTA(1, "{}"),
      TOOL_END(1),
      TOOL_START(3, "b2", "get_time"),
      TOOL_DELTA(3, "{\\\"tz\\\":"),
      TOOL_DELTA(3, "\\\"UTC\\\"}"),
      TOOL_END(3),
      MSG_END("TOOL_CALL"),
      NULL,
  };
  const char *const orphan[] = {MSG_START, TOOL_DELTA(0, "{}"), NULL};

  (void)state;
  run_stream(one, 0, 1,
             "START(m-1) REASON(I will ) REASON(look.) "
             "TOOL0(get_weather_x1,get_weather,) ARGS0({\"ci) "
             "ARGS0(ty\": \"Paris\"}) FINISH(tool_calls) USAGE(30,2,-1)");
  run_stream(two, 0, 1,
             "START(m-1) TOOL0(a1,get_weather,) ARGS0({}) "
             "TOOL1(b2,get_time,) ARGS1({\"tz\":) ARGS1(\"UTC\"}) "
             "FINISH(tool_calls) USAGE(30,2,-1)");
  run_stream(orphan, SB_EPROTO, 0,
             "START(m-1) ERROR(502,upstream_bad_response,The upstream "
             "provider sent a tool-call-delta for a tool call never "
             "started.)");
}

static void test_stream_thinking(void **state)
{
  const char *const ev[] = {
      MSG_START,
      "content-start\n{\"type\":\"content-start\",\"index\":0,\"delta\":{"
      "\"message\":{\"content\":{\"type\":\"thinking\",\"thinking\":\"\"}}}}",
      "content-delta\n{\"type\":\"content-delta\",\"index\":0,\"delta\":{"
      "\"message\":{\"content\":{\"thinking\":\"2+2...\"}}}}",
      "content-end\n{\"type\":\"content-end\",\"index\":0}",
      "content-start\n{\"type\":\"content-start\",\"index\":1,\"delta\":{"
      "\"message\":{\"content\":{\"type\":\"text\",\"text\":\"\"}}}}",
      "content-delta\n{\"type\":\"content-delta\",\"index\":1,\"delta\":{"
      "\"message\":{\"content\":{\"text\":\"4\"}}}}",
      "message-end\n{\"type\":\"message-end\",\"delta\":{\"finish_reason\":"
      "\"COMPLETE\",\"usage\":{\"billed_units\":{\"input_tokens\":3,"
      "\"output_tokens\":9},\"cached_tokens\":2}}}",
      NULL,
  };

  (void)state;
  run_stream(ev, 0, 1,
             "START(m-1) REASON(2+2...) TEXT(4) FINISH(stop) USAGE(3,9,2)");
}

static void test_stream_errors(void **state)
{
  const char *const err[] = {
      MSG_START,
      DELTA("a"),
      "message-end\n{\"type\":\"message-end\",\"delta\":{\"finish_reason\":"
      "\"ERROR\",\"error\":\"internal failure\"}}",
      DELTA("never"),
      NULL,
  };
  const char *const timeout[] = {
      MSG_START,
      "message-end\n{\"type\":\"message-end\",\"delta\":{\"finish_reason\":"
      "\"TIMEOUT\"}}",
      NULL,
  };
  const char *const bad[] = {MSG_START, "content-delta\n{\"type\":\"con", NULL};
  const char *const body[] = {"\n{\"id\":\"x\",\"message\":\"overloaded\"}",
                              NULL};
  /* Without a "type" the SSE event name decides; unknown events pass. */
  const char *const noname[] = {
      "message-start\n{\"id\":\"m-2\"}",
      "debug\n{\"type\":\"debug\"}",
      "citation-start\n{\"type\":\"citation-start\",\"index\":0}",
      "content-delta\n{\"delta\":{\"message\":{\"content\":{\"text\":\"x\"}}}}",
      "message-end\n{\"delta\":{\"finish_reason\":\"COMPLETE\"}}",
      NULL,
  };

  (void)state;
  run_stream(err, SB_EIO, 0,
             "START(m-1) TEXT(a) ERROR(502,upstream_error,internal failure)");
  run_stream(timeout, SB_EIO, 0,
             "START(m-1) ERROR(502,upstream_timeout,The upstream provider "
             "timed out generating the answer.)");
  run_stream(bad, SB_EPROTO, 0,
             "START(m-1) ERROR(502,upstream_bad_response,The upstream "
             "provider sent a malformed stream event.)");
  run_stream(body, SB_EIO, 0, "ERROR(502,upstream_error,overloaded)");
  run_stream(noname, 0, 1, "START(m-2) TEXT(x) FINISH(stop)");
}

static void test_stream_sink_stop(void **state)
{
  const char *const ev[] = {MSG_START, DELTA("a"), DELTA("b"), NULL};
  struct prov_stream *s = A->stream_new(&P, "command-a");
  struct log l = {.stop_after = 2};

  (void)state;
  buf_init(&l.b, 4096);
  assert_int_equal(feed_all(s, ev, &l), 7);
  assert_string_equal(l.b.data, "START(m-1) TEXT(a)");
  buf_free(&l.b);
  A->stream_free(s);
}

/* ---- errors and models ------------------------------------------------ */

static void map(int status, const char *body, const char *ra,
                struct api_error *err)
{
  memset(err, 0, sizeof(*err));
  A->map_error(&P, status, body, body ? strlen(body) : 0, ra, NULL, err);
}

static void test_map_error(void **state)
{
  struct api_error err;
  struct config_provider c = {.name = "co", .passthrough_auth = 1};
  struct prov p2 = P;

  (void)state;
  map(401, "{\"id\":\"1\",\"message\":\"invalid api token co-secret-key\"}",
      NULL, &err);
  assert_int_equal(err.status, 502);
  assert_string_equal(err.type, "upstream_error");
  assert_string_equal(err.code, "upstream_auth_failed");
  assert_null(strstr(err.message, "co-secret-key"));
  map(498, "{\"message\":\"invalid token\"}", NULL, &err);
  assert_string_equal(err.code, "upstream_auth_failed");
  p2.cfg = &c;
  A->map_error(&p2, 401, "{\"message\":\"bad key\"}", 21, NULL, NULL, &err);
  assert_int_equal(err.status, 401);
  assert_string_equal(err.code, "invalid_api_key");

  map(400, "{\"id\":\"1\",\"message\":\"invalid request: bad role\"}", NULL,
      &err);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.type, "invalid_request_error");
  assert_string_equal(err.code, "");
  assert_string_equal(err.message, "invalid request: bad role");
  map(422, "{\"message\":\"too many tokens: total exceeds 128000\"}", NULL,
      &err);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.code, "context_length_exceeded");
  map(404, "{\"message\":\"model 'x' not found\"}", NULL, &err);
  assert_int_equal(err.status, 404);
  assert_string_equal(err.code, "model_not_found");
  map(429, "{\"message\":\"trial key limit\"}", "7", &err);
  assert_int_equal(err.status, 429);
  assert_string_equal(err.type, "rate_limit_exceeded");
  assert_int_equal(err.retry_after_s, 7);
  assert_string_equal(err.message, "trial key limit");
  map(402, "{\"message\":\"pay up\"}", NULL, &err);
  assert_int_equal(err.status, 429);
  assert_string_equal(err.code, "insufficient_quota");
  map(503, "{\"message\":\"busy\"}", "3", &err);
  assert_int_equal(err.status, 503);
  assert_string_equal(err.code, "upstream_unavailable");
  assert_int_equal(err.retry_after_s, 3);
  map(500, "{\"message\":\"internal\"}", NULL, &err);
  assert_int_equal(err.status, 502);
  assert_string_equal(err.code, "upstream_error");
  assert_non_null(strstr(err.message, "internal"));
  map(504, "<html>gateway timeout</html>", NULL, &err);
  assert_int_equal(err.status, 502);
  map(400, NULL, NULL, &err);
  assert_string_equal(err.message,
                      "The upstream provider rejected the request.");
}

/* ---- configuration ---------------------------------------------------- */

static int conf(struct prov *p, const char *options, char *err, size_t len)
{
  cJSON *o = options ? parse(options) : NULL;
  int rc;

  err[0] = '\0';
  rc = A->configure(p, o, "config: providers[1].options", err, len);
  cJSON_Delete(o);
  return rc;
}

static void conf_fails(const char *options, const char *want)
{
  struct prov p = P;
  char err[256];

  p.priv = NULL;
  assert_int_equal(conf(&p, options, err, sizeof(err)), SB_ECONFIG);
  assert_string_equal(err, want);
  assert_null(p.priv);
}

static void test_configure(void **state)
{
  struct prov p = P;
  char err[256];

  (void)state;
  assert_non_null(A->configure);
  assert_non_null(A->unconfigure);
  p.priv = NULL;
  A->unconfigure(&p); /* copes with NULL */
  assert_int_equal(conf(&p, NULL, err, sizeof(err)), 0);
  A->unconfigure(&p);
  assert_null(p.priv);
  assert_int_equal(conf(&p, "{}", err, sizeof(err)), 0);
  A->unconfigure(&p);
  assert_int_equal(conf(&p,
                        "{\"embed_input_type\":\"search_query\","
                        "\"embed_truncate\":\"END\"}",
                        err, sizeof(err)),
                   0);
  assert_non_null(p.priv);
  A->unconfigure(&p);
  assert_null(p.priv);

  conf_fails("[]", "config: providers[1].options: expected an object");
  conf_fails("{\"region\":\"eu\"}",
             "config: providers[1].options.region: unknown option (known: "
             "embed_input_type, embed_truncate)");
  conf_fails("{\"embed_input_type\":\"image\"}",
             "config: providers[1].options.embed_input_type: expected one "
             "of \"search_document\", \"search_query\", \"classification\", "
             "\"clustering\"");
  conf_fails("{\"embed_input_type\":1}",
             "config: providers[1].options.embed_input_type: expected one "
             "of \"search_document\", \"search_query\", \"classification\", "
             "\"clustering\"");
  conf_fails("{\"embed_truncate\":\"end\"}",
             "config: providers[1].options.embed_truncate: expected one of "
             "\"NONE\", \"START\", \"END\"");
}

/* ---- embeddings ------------------------------------------------------- */

static cJSON *embed_ok(const struct prov *p, const char *req, const char *model,
                       struct prov_http *h)
{
  cJSON *r = parse(req);
  struct api_error err;
  int rc = A->build_embeddings(p, r, model, NULL, h, &err);
  if(rc)
    fail_msg("build_embeddings failed: %s (%s)", err.message, err.param);
  cJSON_Delete(r);
  return parse(h->body);
}

static void embed_fails(const char *req, const char *model, const char *code,
                        const char *param)
{
  cJSON *r = parse(req);
  struct api_error err;
  struct prov_http h;

  assert_int_equal(A->build_embeddings(&P, r, model, NULL, &h, &err),
                   SB_EINVAL);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.type, "invalid_request_error");
  assert_string_equal(err.code, code);
  assert_string_equal(err.param, param);
  assert_null(h.body);
  assert_null(h.url);
  cJSON_Delete(r);
}

static void test_embed_build(void **state)
{
  struct prov_http h;
  cJSON *b;

  (void)state;
  b = embed_ok(&P, "{\"model\":\"co/embed-v4.0\",\"input\":\"hello world\"}",
               "embed-v4.0", &h);
  assert_json(b, "{\"model\":\"embed-v4.0\",\"texts\":[\"hello world\"],"
                 "\"input_type\":\"search_document\",\"embedding_types\":"
                 "[\"float\"],\"truncate\":\"NONE\"}");
  assert_string_equal(h.url, "https://api.cohere.com/v2/embed");
  assert_null(h.method);
  assert_true(has_header(&h, "Authorization: Bearer co-secret-key"));
  assert_true(has_header(&h, "Content-Type: application/json"));
  assert_true(has_header(&h, "Accept: application/json"));
  assert_null(h.dropped);
  cJSON_Delete(b);
  prov_http_free(&h);

  /* A batch; base64 is the gateway's business (floats are asked);
   * dimensions -> output_dimension; user and unknown fields dropped. */
  b = embed_ok(&P,
               "{\"model\":\"co/embed-v4.0\",\"input\":[\"a\",\"b b\",\"c\"],"
               "\"encoding_format\":\"base64\",\"dimensions\":256,"
               "\"user\":\"u1\",\"x_extra\":true,\"input_type\":null}",
               "embed-v4.0", &h);
  assert_json(b, "{\"model\":\"embed-v4.0\",\"texts\":[\"a\",\"b b\",\"c\"],"
                 "\"input_type\":\"search_document\",\"embedding_types\":"
                 "[\"float\"],\"output_dimension\":256,\"truncate\":"
                 "\"NONE\"}");
  assert_string_equal(h.dropped, "user,x_extra");
  cJSON_Delete(b);
  prov_http_free(&h);

  /* dimensions null is no dimensions; fixed-size models are fine then. */
  b = embed_ok(&P,
               "{\"model\":\"m\",\"input\":[\"a\"],\"dimensions\":null,"
               "\"encoding_format\":\"float\"}",
               "embed-english-v3.0", &h);
  assert_null(cJSON_GetObjectItem(b, "output_dimension"));
  assert_null(h.dropped);
  cJSON_Delete(b);
  prov_http_free(&h);
}

static void test_embed_build_options(void **state)
{
  struct prov p = P;
  struct prov_http h;
  char err[256];
  cJSON *b;

  (void)state;
  p.priv = NULL;
  assert_int_equal(conf(&p,
                        "{\"embed_input_type\":\"clustering\","
                        "\"embed_truncate\":\"START\"}",
                        err, sizeof(err)),
                   0);
  b = embed_ok(&p, "{\"model\":\"m\",\"input\":\"x\"}", "embed-v4.0", &h);
  assert_json(b, "{\"model\":\"embed-v4.0\",\"texts\":[\"x\"],"
                 "\"input_type\":\"clustering\",\"embedding_types\":"
                 "[\"float\"],\"truncate\":\"START\"}");
  cJSON_Delete(b);
  prov_http_free(&h);
  A->unconfigure(&p);
  /* Only what is given changes. */
  assert_int_equal(
      conf(&p, "{\"embed_input_type\":\"search_query\"}", err, sizeof(err)), 0);
  b = embed_ok(&p, "{\"model\":\"m\",\"input\":\"x\"}", "embed-v4.0", &h);
  assert_string_equal(cJSON_GetObjectItem(b, "input_type")->valuestring,
                      "search_query");
  assert_string_equal(cJSON_GetObjectItem(b, "truncate")->valuestring, "NONE");
  cJSON_Delete(b);
  prov_http_free(&h);
  A->unconfigure(&p);
}

static void test_embed_build_passthrough(void **state)
{
  struct config_kv fwd[] = {{.name = "x-trace", .value = "t1"}};
  struct config_provider c = {
      .name = "co", .kind = "cohere", .passthrough_auth = 1};
  struct prov p2 = P;
  struct prov_client client = {"Bearer client-key", fwd, 1};
  struct prov_http h;
  struct api_error err;
  cJSON *r = parse("{\"model\":\"m\",\"input\":\"x\"}");

  (void)state;
  p2.cfg = &c;
  assert_int_equal(A->build_embeddings(&p2, r, "embed-v4.0", &client, &h, &err),
                   0);
  assert_true(has_header(&h, "Authorization: Bearer client-key"));
  assert_false(has_header(&h, "Authorization: Bearer co-secret-key"));
  assert_true(has_header(&h, "x-trace: t1"));
  prov_http_free(&h);
  cJSON_Delete(r);
}

static void test_embed_build_refused(void **state)
{
  (void)state;
  /* Token ids, flat, nested, or mixed with text. */
  embed_fails("{\"model\":\"m\",\"input\":[1,2,3]}", "embed-v4.0",
              "unsupported_value", "input");
  embed_fails("{\"model\":\"m\",\"input\":[[1,2],[3]]}", "embed-v4.0",
              "unsupported_value", "input");
  embed_fails("{\"model\":\"m\",\"input\":[\"a\",[3]]}", "embed-v4.0",
              "unsupported_value", "input");
  /* dimensions: v2/v3 models have one size; v4 takes four values. */
  embed_fails("{\"model\":\"m\",\"input\":\"a\",\"dimensions\":1024}",
              "embed-english-v3.0", "unsupported_parameter", "dimensions");
  embed_fails("{\"model\":\"m\",\"input\":\"a\",\"dimensions\":256}",
              "embed-multilingual-light-v3.0", "unsupported_parameter",
              "dimensions");
  embed_fails("{\"model\":\"m\",\"input\":\"a\",\"dimensions\":300}",
              "embed-v4.0", "unsupported_value", "dimensions");
  embed_fails("{\"model\":\"m\",\"input\":\"a\",\"dimensions\":3072}",
              "embed-v4.0", "unsupported_value", "dimensions");
}

static const char EMBED_REQ3[] = "{\"model\":\"m\",\"input\":[\"a\",\"b\"]}";

static void test_embed_parse(void **state)
{
  const char *body =
      "{\"id\":\"e1\",\"response_type\":\"embeddings_by_type\","
      "\"embeddings\":{\"float\":[[0.5,-1.0],[0.25,0,1.5]]},"
      "\"texts\":[\"a\",\"b\"],\"meta\":{\"api_version\":{\"version\":\"2\"},"
      "\"billed_units\":{\"input_tokens\":7}}}";
  cJSON *req = parse(EMBED_REQ3);
  struct canon_usage u;
  struct api_error err;
  cJSON *out;
  char *s;

  (void)state;
  assert_int_equal(A->parse_embeddings(&P, body, strlen(body), req,
                                       "embed-v4.0", &out, &u, &err),
                   0);
  assert_json(out, "{\"object\":\"list\",\"data\":["
                   "{\"object\":\"embedding\",\"index\":0,\"embedding\":"
                   "[0.5,-1.0]},"
                   "{\"object\":\"embedding\",\"index\":1,\"embedding\":"
                   "[0.25,0,1.5]}],\"model\":\"embed-v4.0\","
                   "\"usage\":{\"prompt_tokens\":7,\"total_tokens\":7}}");
  assert_int_equal(u.prompt_tokens, 7);
  assert_int_equal(u.completion_tokens, 0);
  /* What the gateway makes of it for encoding_format base64. */
  oai_embed_to_base64(out);
  s = cJSON_PrintUnformatted(out);
  assert_non_null(strstr(s, "\"embedding\":\"AAAAPwAAgL8=\""));
  assert_non_null(strstr(s, "\"embedding\":\"AACAPgAAAAAAAMA/\""));
  free(s);
  cJSON_Delete(out);
  cJSON_Delete(req);

  /* A single string input; no billed units: usage 0, unknown inside. */
  req = parse("{\"model\":\"m\",\"input\":\"a\"}");
  body = "{\"id\":\"e2\",\"embeddings\":{\"float\":[[1]]},\"meta\":{}}";
  assert_int_equal(
      A->parse_embeddings(&P, body, strlen(body), req, "m", &out, &u, &err), 0);
  assert_json(out, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
                   "\"index\":0,\"embedding\":[1]}],\"model\":\"m\","
                   "\"usage\":{\"prompt_tokens\":0,\"total_tokens\":0}}");
  assert_int_equal(u.prompt_tokens, -1);
  cJSON_Delete(out);
  cJSON_Delete(req);
}

static void embed_parse_fails(const char *body)
{
  cJSON *req = parse(EMBED_REQ3);
  struct canon_usage u;
  struct api_error err;
  cJSON *out = (cJSON *)1;

  assert_int_equal(
      A->parse_embeddings(&P, body, strlen(body), req, "m", &out, &u, &err),
      SB_EPROTO);
  assert_null(out);
  assert_int_equal(err.status, 502);
  assert_string_equal(err.type, "upstream_error");
  assert_string_equal(err.code, "upstream_bad_response");
  cJSON_Delete(req);
}

static void test_embed_parse_bad(void **state)
{
  (void)state;
  embed_parse_fails("not json");
  embed_parse_fails("{\"id\":\"x\",\"message\":\"hm\"}");
  embed_parse_fails("{\"embeddings\":{\"int8\":[[1],[2]]}}");
  /* One vector for two inputs. */
  embed_parse_fails("{\"embeddings\":{\"float\":[[0.1,0.2]]}}");
  embed_parse_fails("{\"embeddings\":{\"float\":[[0.1],\"x\"]}}");
  embed_parse_fails("{\"embeddings\":{\"float\":[[0.1],[\"0.2\"]]}}");
  embed_parse_fails("{\"embeddings\":{\"float\":[[0.1],[]]}}");
}

static void test_models(void **state)
{
  const char *body =
      "{\"models\":[{\"name\":\"command-a-03-2025\","
      "\"endpoints\":[\"chat\"]},{\"name\":\"command-r7b\"},"
      "{\"endpoints\":[]},{\"name\":\"embed-v4.0\",\"endpoints\":["
      "\"embed\",\"classify\"]},{\"name\":\"rerank-v3.5\",\"endpoints\":["
      "\"rerank\"]},{\"name\":\"odd\",\"endpoints\":[1,null]}],"
      "\"next_page_token\":null}";
  struct prov_http h;
  char **models;
  int n;

  (void)state;
  A->build_models(&P, &h);
  /* Chat and embed models: no endpoint filter (it takes one endpoint). */
  assert_string_equal(h.url, "https://api.cohere.com/v1/models?page_size=1000");
  assert_true(has_header(&h, "Authorization: Bearer co-secret-key"));
  assert_null(h.body);
  prov_http_free(&h);
  assert_int_equal(A->parse_models(body, strlen(body), &models, &n), 0);
  assert_int_equal(n, 3);
  assert_string_equal(models[0], "command-a-03-2025");
  assert_string_equal(models[1], "command-r7b");
  assert_string_equal(models[2], "embed-v4.0");
  for(int i = 0; i < n; i++)
    free(models[i]);
  free(models);
  assert_int_equal(A->parse_models("{\"data\":[]}", 11, &models, &n),
                   SB_EPROTO);
}

static void test_registered(void **state)
{
  (void)state;
  assert_ptr_equal(prov_adapter_find("cohere"), &prov_cohere_adapter);
  assert_string_equal(A->default_base_url, "https://api.cohere.com");
  assert_non_null(A->build_embeddings);
  assert_non_null(A->parse_embeddings);
  assert_int_equal(A->framing, PROV_FRAMING_SSE);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_build_basic),
      cmocka_unit_test(test_build_sampling),
      cmocka_unit_test(test_build_images),
      cmocka_unit_test(test_build_tools),
      cmocka_unit_test(test_build_strict_tools),
      cmocka_unit_test(test_build_tool_round_trip),
      cmocka_unit_test(test_build_response_format),
      cmocka_unit_test(test_build_reasoning),
      cmocka_unit_test(test_build_passthrough),
      cmocka_unit_test(test_parse_text),
      cmocka_unit_test(test_parse_huge_usage),
      cmocka_unit_test(test_parse_tools),
      cmocka_unit_test(test_parse_finish_reasons),
      cmocka_unit_test(test_stream_text),
      cmocka_unit_test(test_stream_tools),
      cmocka_unit_test(test_stream_thinking),
      cmocka_unit_test(test_stream_errors),
      cmocka_unit_test(test_stream_sink_stop),
      cmocka_unit_test(test_map_error),
      cmocka_unit_test(test_configure),
      cmocka_unit_test(test_embed_build),
      cmocka_unit_test(test_embed_build_options),
      cmocka_unit_test(test_embed_build_passthrough),
      cmocka_unit_test(test_embed_build_refused),
      cmocka_unit_test(test_embed_parse),
      cmocka_unit_test(test_embed_parse_bad),
      cmocka_unit_test(test_models),
      cmocka_unit_test(test_registered),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
