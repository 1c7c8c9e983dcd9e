/* The Anthropic Messages adapter, without sockets (providers/anthropic.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "codec/oai_chat.h"
#include "base/sb.h"
#include "providers/anthropic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct prov_adapter *A = &prov_anthropic_adapter;

static cJSON *parse(const char *s)
{
  cJSON *j = cJSON_Parse(s);
  if(!j)
    fail_msg("bad JSON in test: %s", s);
  return j;
}

/* A provider as the registry builds it, with options (JSON text or NULL). */
struct fixture {
  struct config_provider cfg;
  struct prov p;
};

static void fx_init(struct fixture *f, const char *options)
{
  char err[256] = "";
  cJSON *o = options ? parse(options) : NULL;

  memset(f, 0, sizeof(*f));
  f->cfg.name = "claude";
  f->cfg.kind = "anthropic";
  f->p.name = "claude";
  f->p.kind = PROV_ADAPTER;
  f->p.cfg = &f->cfg;
  f->p.adapter = A;
  f->p.base_url = "https://api.anthropic.com";
  f->p.api_key = "sk-ant-secret";
  assert_int_equal(
      A->configure(&f->p, o, "config: providers[0].options", err, sizeof(err)),
      0);
  cJSON_Delete(o);
}

static void fx_free(struct fixture *f)
{
  A->unconfigure(&f->p);
}

static const char *header(const struct prov_http *h, const char *name)
{
  size_t n = strlen(name);
  for(int i = 0; i < h->nheaders; i++)
    if(!strncasecmp(h->headers[i], name, n) && h->headers[i][n] == ':')
      return h->headers[i] + n + 2;
  return NULL;
}

/* Build the upstream request for req; returns its parsed body. */
static cJSON *build_ok(struct fixture *f, const char *req,
                       struct prov_http *out)
{
  cJSON *r = parse(req);
  struct api_error err;
  struct prov_client client = {0};
  cJSON *body;

  memset(&err, 0, sizeof(err));
  if(A->build_chat(&f->p, r, "claude-x", &client, out, &err))
    fail_msg("build_chat failed: %s (%s)", err.message, err.param);
  cJSON_Delete(r);
  body = parse(out->body);
  return body;
}

static void build_fails(struct fixture *f, const char *req, const char *code,
                        const char *param)
{
  cJSON *r = parse(req);
  struct api_error err;
  struct prov_client client = {0};
  struct prov_http out;

  memset(&err, 0, sizeof(err));
  assert_int_equal(A->build_chat(&f->p, r, "claude-x", &client, &out, &err),
                   SB_EINVAL);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.type, "invalid_request_error");
  assert_string_equal(err.code, code);
  assert_string_equal(err.param, param);
  assert_null(out.body);
  cJSON_Delete(r);
}

/* Compare a JSON value with expected JSON text (key order matters not). */
static void assert_json(const cJSON *v, const char *expected)
{
  cJSON *e = parse(expected);
  if(!cJSON_Compare(v, e, 1)) {
    char *got = cJSON_PrintUnformatted(v);
    fail_msg("JSON differs:\n got: %s\nwant: %s", got, expected);
  }
  cJSON_Delete(e);
}

static const cJSON *at(const cJSON *o, const char *k)
{
  return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* ---- configuration --------------------------------------------------- */

static void test_configure(void **state)
{
  struct prov p = {.name = "c"};
  char err[256];
  cJSON *o;

  (void)state;
  o = parse("{\"anthropic_version\":\"2024-01-01\",\"betas\":[\"a-1\","
            "\"b-2\"],\"default_max_tokens\":100}");
  assert_int_equal(A->configure(&p, o, "P", err, sizeof(err)), 0);
  cJSON_Delete(o);
  {
    struct fixture f;
    struct prov_http out;
    cJSON *body;
    fx_init(&f, "{\"betas\":[\"a-1\",\"b-2\"],\"default_max_tokens\":100}");
    body = build_ok(&f,
                    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                    "\"content\":\"hi\"}]}",
                    &out);
    assert_string_equal(header(&out, "anthropic-beta"), "a-1,b-2");
    assert_string_equal(header(&out, "anthropic-version"), "2023-06-01");
    assert_int_equal(at(body, "max_tokens")->valueint, 100);
    cJSON_Delete(body);
    prov_http_free(&out);
    fx_free(&f);
  }
  A->unconfigure(&p);
  A->unconfigure(&p); /* priv NULL is fine */

  o = parse("{\"api_version\":\"x\"}");
  assert_int_equal(A->configure(&p, o, "P", err, sizeof(err)), SB_ECONFIG);
  assert_non_null(strstr(err, "P.api_version: unknown option"));
  cJSON_Delete(o);
  o = parse("{\"betas\":\"a\"}");
  assert_int_equal(A->configure(&p, o, "P", err, sizeof(err)), SB_ECONFIG);
  assert_non_null(strstr(err, "P.betas: expected an array"));
  cJSON_Delete(o);
  o = parse("{\"default_max_tokens\":0}");
  assert_int_equal(A->configure(&p, o, "P", err, sizeof(err)), SB_ECONFIG);
  assert_non_null(strstr(err, "P.default_max_tokens"));
  cJSON_Delete(o);
  o = parse("{\"anthropic_version\":3}");
  assert_int_equal(A->configure(&p, o, "P", err, sizeof(err)), SB_ECONFIG);
  cJSON_Delete(o);
  assert_null(p.priv);
}

/* ---- requests -------------------------------------------------------- */

static void test_basic_request(void **state)
{
  struct fixture f;
  struct prov_http out;
  cJSON *body;

  (void)state;
  fx_init(&f, NULL);
  body = build_ok(
      &f,
      "{\"model\":\"claude/claude-x\",\"messages\":["
      "{\"role\":\"system\",\"content\":\"Be terse.\"},"
      "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"Speak French.\"}]},"
      "{\"role\":\"user\",\"content\":\"Hello\"},"
      "{\"role\":\"assistant\",\"content\":\"Bonjour\"},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Again\"},"
      "{\"type\":\"text\",\"text\":\"\"}]}],"
      "\"stop\":\"END\",\"temperature\":0.3,\"top_p\":0.9,\"top_k\":5,"
      "\"user\":\"u-42\",\"stream\":true,\"stream_options\":"
      "{\"include_usage\":true}}",
      &out);
  assert_string_equal(out.url, "https://api.anthropic.com/v1/messages");
  assert_null(out.method);
  assert_string_equal(header(&out, "x-api-key"), "sk-ant-secret");
  assert_string_equal(header(&out, "anthropic-version"), "2023-06-01");
  assert_string_equal(header(&out, "content-type"), "application/json");
  assert_string_equal(header(&out, "accept"), "text/event-stream");
  assert_null(header(&out, "anthropic-beta"));
  assert_null(header(&out, "authorization"));
  assert_null(out.dropped);
  assert_json(body,
              "{\"model\":\"claude-x\",\"max_tokens\":4096,"
              "\"system\":[{\"type\":\"text\",\"text\":\"Be terse.\"},"
              "{\"type\":\"text\",\"text\":\"Speak French.\"}],"
              "\"messages\":["
              "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
              "\"Hello\"}]},"
              "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
              "\"text\":\"Bonjour\"}]},"
              "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
              "\"Again\"}]}],"
              "\"stop_sequences\":[\"END\"],\"stream\":true,"
              "\"temperature\":0.3,\"top_p\":0.9,\"top_k\":5,"
              "\"metadata\":{\"user_id\":\"u-42\"}}");
  cJSON_Delete(body);
  prov_http_free(&out);

  /* One system string stays a string; max_completion_tokens wins. */
  body = build_ok(&f,
                  "{\"model\":\"m\",\"messages\":[{\"role\":\"system\","
                  "\"content\":\"S\"},{\"role\":\"user\",\"content\":\"U\"}],"
                  "\"max_tokens\":10,\"max_completion_tokens\":20,"
                  "\"stop\":[\"a\",\"b\"],\"metadata\":{\"k\":\"v\"},"
                  "\"store\":true,\"service_tier\":\"auto\","
                  "\"presence_penalty\":0,\"messages_extra\":1}",
                  &out);
  assert_json(at(body, "system"), "\"S\"");
  assert_int_equal(at(body, "max_tokens")->valueint, 20);
  assert_json(at(body, "stop_sequences"), "[\"a\",\"b\"]");
  assert_null(at(body, "metadata"));
  assert_null(at(body, "presence_penalty"));
  assert_string_equal(out.dropped, "metadata,store,service_tier");
  assert_string_equal(header(&out, "accept"), "application/json");
  cJSON_Delete(body);
  prov_http_free(&out);
  fx_free(&f);
}

static void test_tools_and_choice(void **state)
{
  struct fixture f;
  struct prov_http out;
  cJSON *body;
  const char *tools =
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_"
      "weather\",\"description\":\"Weather\",\"parameters\":{\"type\":"
      "\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}},"
      "\"strict\":true}},{\"type\":\"function\",\"function\":{\"name\":"
      "\"noargs\"}}]";
  char req[1024];

  (void)state;
  fx_init(&f, NULL);
  snprintf(req, sizeof(req),
           "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
           "\"x\"}],%s}",
           tools);
  body = build_ok(&f, req, &out);
  assert_json(at(body, "tools"),
              "[{\"name\":\"get_weather\",\"description\":\"Weather\","
              "\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":"
              "{\"type\":\"string\"}}}},{\"name\":\"noargs\",\"input_schema\":"
              "{\"type\":\"object\",\"properties\":{}}}]");
  assert_null(at(body, "tool_choice"));
  assert_string_equal(out.dropped, "tools.function.strict");
  cJSON_Delete(body);
  prov_http_free(&out);

  {
    static const struct {
      const char *choice;
      const char *expect;
    } cases[] = {
        {"\"tool_choice\":\"auto\"", "{\"type\":\"auto\"}"},
        {"\"tool_choice\":\"required\"", "{\"type\":\"any\"}"},
        {"\"tool_choice\":\"none\"", "{\"type\":\"none\"}"},
        {"\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
         "\"noargs\"}}",
         "{\"type\":\"tool\",\"name\":\"noargs\"}"},
        {"\"parallel_tool_calls\":false",
         "{\"type\":\"auto\",\"disable_parallel_tool_use\":true}"},
        {"\"tool_choice\":\"required\",\"parallel_tool_calls\":false",
         "{\"type\":\"any\",\"disable_parallel_tool_use\":true}"},
        {"\"tool_choice\":\"none\",\"parallel_tool_calls\":false",
         "{\"type\":\"none\"}"},
    };
    for(size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
      snprintf(req, sizeof(req),
               "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"x\"}],%s,%s}",
               tools, cases[i].choice);
      body = build_ok(&f, req, &out);
      assert_json(at(body, "tool_choice"), cases[i].expect);
      cJSON_Delete(body);
      prov_http_free(&out);
    }
  }
  snprintf(req, sizeof(req),
           "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
           "\"x\"}],%s,\"tool_choice\":{\"type\":\"allowed_tools\","
           "\"allowed_tools\":{\"mode\":\"auto\",\"tools\":[]}}}",
           tools);
  build_fails(&f, req, "unsupported_value", "tool_choice");
  build_fails(&f,
              "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"}],\"tools\":[{\"type\":\"custom\",\"custom\":{\"name\":"
              "\"c\"}}]}",
              "unsupported_value", "tools[0].type");
  fx_free(&f);
}

static void test_tool_round_trip(void **state)
{
  struct fixture f;
  struct prov_http out;
  cJSON *body;

  (void)state;
  fx_init(&f, NULL);
  body = build_ok(
      &f,
      "{\"model\":\"m\",\"messages\":["
      "{\"role\":\"user\",\"content\":\"Weather in Paris and the time?\"},"
      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
      "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
      "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
      "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":"
      "\"get_time\",\"arguments\":\"\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"18C\"},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":[{\"type\":"
      "\"text\",\"text\":\"noon\"}]},"
      "{\"role\":\"user\",\"content\":\"Thanks\"}]}",
      &out);
  assert_json(
      at(body, "messages"),
      "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"Weather in Paris and the time?\"}]},"
      "{\"role\":\"assistant\",\"content\":["
      "{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"get_weather\","
      "\"input\":{\"city\":\"Paris\"}},"
      "{\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":\"get_time\","
      "\"input\":{}}]},"
      "{\"role\":\"user\",\"content\":["
      "{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\",\"content\":"
      "\"18C\"},"
      "{\"type\":\"tool_result\",\"tool_use_id\":\"call_2\",\"content\":"
      "[{\"type\":\"text\",\"text\":\"noon\"}]},"
      "{\"type\":\"text\",\"text\":\"Thanks\"}]}]");
  cJSON_Delete(body);
  prov_http_free(&out);

  build_fails(&f,
              "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"},{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
              "\"type\":\"function\",\"function\":{\"name\":\"f\","
              "\"arguments\":\"{not json\"}}]}]}",
              "invalid_value", "messages[1].tool_calls[0].function.arguments");
  build_fails(&f,
              "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"},{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
              "\"type\":\"function\",\"function\":{\"name\":\"f\","
              "\"arguments\":\"[1]\"}}]}]}",
              "invalid_value", "messages[1].tool_calls[0].function.arguments");
  build_fails(&f,
              "{\"model\":\"m\",\"messages\":[{\"role\":\"system\","
              "\"content\":\"only system\"}]}",
              "invalid_value", "messages");
  fx_free(&f);
}

static void test_images(void **state)
{
  struct fixture f;
  struct prov_http out;
  cJSON *body;

  (void)state;
  fx_init(&f, NULL);
  body = build_ok(
      &f,
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
      "{\"type\":\"text\",\"text\":\"What is this?\"},"
      "{\"type\":\"image_url\",\"image_url\":{\"url\":"
      "\"data:image/PNG;base64,iVBORw0KGgo=\",\"detail\":\"low\"}},"
      "{\"type\":\"image_url\",\"image_url\":{\"url\":"
      "\"https://example.com/cat.jpg\"}},"
      "{\"type\":\"file\",\"file\":{\"filename\":\"a.pdf\",\"file_data\":"
      "\"data:application/pdf;base64,JVBERi0=\"}}]}]}",
      &out);
  assert_json(
      at(cJSON_GetArrayItem(at(body, "messages"), 0), "content"),
      "[{\"type\":\"text\",\"text\":\"What is this?\"},"
      "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
      "\"image/png\",\"data\":\"iVBORw0KGgo=\"}},"
      "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":"
      "\"https://example.com/cat.jpg\"}},"
      "{\"type\":\"document\",\"source\":{\"type\":\"base64\","
      "\"media_type\":\"application/pdf\",\"data\":\"JVBERi0=\"}}]");
  cJSON_Delete(body);
  prov_http_free(&out);

  build_fails(&f,
              "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "[{\"type\":\"text\",\"text\":\"x\"},{\"type\":\"image_url\","
              "\"image_url\":{\"url\":\"data:image/bmp;base64,Qk0=\"}}]}]}",
              "unsupported_value", "messages[0].content[1]");
  build_fails(&f,
              "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "[{\"type\":\"image_url\",\"image_url\":{\"url\":"
              "\"data:image/png,notbase64\"}}]}]}",
              "invalid_value", "messages[0].content[0]");
  build_fails(&f,
              "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "[{\"type\":\"image_url\",\"image_url\":{\"url\":"
              "\"ftp://x/y.png\"}}]}]}",
              "invalid_value", "messages[0].content[0]");
  build_fails(&f,
              "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "[{\"type\":\"file\",\"file\":{\"file_id\":\"file-1\"}}]}]}",
              "unsupported_value", "messages[0].content[0]");
  body = build_ok(&f,
                  "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                  "\"content\":[{\"type\":\"file\",\"file\":{\"file_data\":"
                  "\"JVBERi0=\"}}]}],\"safety_identifier\":\"sid\","
                  "\"name_extra\":1}",
                  &out);
  assert_json(at(cJSON_GetArrayItem(at(body, "messages"), 0), "content"),
              "[{\"type\":\"document\",\"source\":{\"type\":\"base64\","
              "\"media_type\":\"application/pdf\",\"data\":\"JVBERi0=\"}}]");
  assert_json(at(body, "metadata"), "{\"user_id\":\"sid\"}");
  cJSON_Delete(body);
  prov_http_free(&out);
  fx_free(&f);
}

static void test_response_format_and_policy(void **state)
{
  struct fixture f;
  struct prov_http out;
  cJSON *body;

  (void)state;
  fx_init(&f, NULL);
  body = build_ok(&f,
                  "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                  "\"content\":\"x\"}],\"response_format\":{\"type\":"
                  "\"json_schema\",\"json_schema\":{\"name\":\"r\",\"strict\":"
                  "true,\"schema\":{\"type\":\"object\",\"properties\":{\"a\":"
                  "{\"type\":\"integer\"}}}}}}",
                  &out);
  assert_json(at(body, "output_config"),
              "{\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":"
              "\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}}}");
  cJSON_Delete(body);
  prov_http_free(&out);
  body = build_ok(&f,
                  "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                  "\"content\":\"x\"}],\"response_format\":{\"type\":"
                  "\"text\"}}",
                  &out);
  assert_null(at(body, "output_config"));
  cJSON_Delete(body);
  prov_http_free(&out);

#define ONE_MSG                                                                \
  "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
  build_fails(&f, ONE_MSG "\"response_format\":{\"type\":\"json_object\"}}",
              "unsupported_value", "response_format.type");
  build_fails(&f, ONE_MSG "\"seed\":7}", "unsupported_parameter", "seed");
  build_fails(&f, ONE_MSG "\"presence_penalty\":0.5}", "unsupported_parameter",
              "presence_penalty");
  build_fails(&f, ONE_MSG "\"frequency_penalty\":-1}", "unsupported_parameter",
              "frequency_penalty");
  build_fails(&f, ONE_MSG "\"temperature\":1.5}", "unsupported_value",
              "temperature");
  build_fails(&f, ONE_MSG "\"top_k\":\"five\"}", "invalid_type", "top_k");
  build_fails(&f, ONE_MSG "\"reasoning_effort\":\"extreme\"}", "invalid_value",
              "reasoning_effort");
  build_fails(
      &f, ONE_MSG "\"prediction\":{\"type\":\"content\",\"content\":\"x\"}}",
      "unsupported_parameter", "prediction");
  fx_free(&f);
}

static void test_reasoning_effort(void **state)
{
  struct fixture f;
  struct prov_http out;
  cJSON *body;

  (void)state;
  fx_init(&f, NULL);
  body = build_ok(&f, ONE_MSG "\"reasoning_effort\":\"low\"}", &out);
  assert_json(at(body, "thinking"),
              "{\"type\":\"enabled\",\"budget_tokens\":1024}");
  assert_int_equal(at(body, "max_tokens")->valueint, 4096);
  cJSON_Delete(body);
  prov_http_free(&out);
  body = build_ok(&f, ONE_MSG "\"reasoning_effort\":\"medium\"}", &out);
  assert_json(at(body, "thinking"),
              "{\"type\":\"enabled\",\"budget_tokens\":4096}");
  assert_int_equal(at(body, "max_tokens")->valueint, 8192);
  cJSON_Delete(body);
  prov_http_free(&out);
  body = build_ok(
      &f, ONE_MSG "\"reasoning_effort\":\"high\",\"max_tokens\":1000}", &out);
  assert_json(at(body, "thinking"),
              "{\"type\":\"enabled\",\"budget_tokens\":16384}");
  assert_int_equal(at(body, "max_tokens")->valueint, 17384);
  cJSON_Delete(body);
  prov_http_free(&out);
  body = build_ok(
      &f, ONE_MSG "\"reasoning_effort\":\"low\",\"max_tokens\":30000}", &out);
  assert_int_equal(at(body, "max_tokens")->valueint, 30000);
  cJSON_Delete(body);
  prov_http_free(&out);
  body = build_ok(&f, ONE_MSG "\"reasoning_effort\":\"none\"}", &out);
  assert_null(at(body, "thinking"));
  cJSON_Delete(body);
  prov_http_free(&out);
  fx_free(&f);
}

/* reasoning_details of Anthropic's format go back as thinking and
 * redacted_thinking blocks, first in their assistant message; others are
 * dropped. A tool loop whose assistant turn has no thinking of Anthropic's
 * is sent without thinking, which Anthropic would refuse for it. */
static void test_thinking_round_trip(void **state)
{
  struct fixture f;
  struct prov_http out;
  cJSON *body;

  (void)state;
  fx_init(&f, NULL);
  body = build_ok(
      &f,
      "{\"model\":\"c\",\"reasoning_effort\":\"low\",\"max_tokens\":"
      "2048,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
      "{\"role\":\"assistant\",\"content\":\"Let me check.\","
      "\"reasoning_content\":\"ab\",\"reasoning_details\":["
      "{\"type\":\"reasoning.text\",\"text\":\"g\",\"signature\":\"GS\","
      "\"format\":\"google-gemini-v1\"},"
      "{\"type\":\"reasoning.text\",\"text\":\"a\",\"signature\":\"S1\","
      "\"format\":\"anthropic-claude-v1\"},"
      "{\"type\":\"reasoning.encrypted\",\"data\":\"R1\",\"format\":"
      "\"anthropic-claude-v1\"},"
      "{\"type\":\"reasoning.text\",\"text\":\"b\",\"format\":"
      "\"anthropic-claude-v1\"}],"
      "\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":\"ok\"}]}",
      &out);
  assert_json(at(body, "messages"),
              "[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
              "\"text\":\"hi\"}]},"
              "{\"role\":\"assistant\",\"content\":["
              "{\"type\":\"thinking\",\"thinking\":\"a\",\"signature\":\"S1\"},"
              "{\"type\":\"redacted_thinking\",\"data\":\"R1\"},"
              "{\"type\":\"text\",\"text\":\"Let me check.\"},"
              "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"f\","
              "\"input\":{}}]},"
              "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
              "\"tool_use_id\":\"toolu_1\",\"content\":\"ok\"}]}]");
  assert_json(at(body, "thinking"),
              "{\"type\":\"enabled\",\"budget_tokens\":1024}");
  cJSON_Delete(body);
  prov_http_free(&out);

  /* The loop began elsewhere: no thinking of Anthropic's to send. */
  body = build_ok(
      &f,
      "{\"model\":\"c\",\"reasoning_effort\":\"low\",\"max_tokens\":"
      "2048,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
      "{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":"
      "\"x\",\"tool_calls\":[{\"id\":\"call_0\",\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_0\",\"content\":\"ok\"}]}",
      &out);
  assert_null(at(body, "thinking"));
  assert_int_equal((int)at(body, "max_tokens")->valuedouble, 2048);
  assert_non_null(strstr(out.dropped, "reasoning_effort"));
  cJSON_Delete(body);
  prov_http_free(&out);

  /* A new user turn after such a loop: thinking is on again. */
  body = build_ok(
      &f,
      "{\"model\":\"c\",\"reasoning_effort\":\"low\",\"messages\":["
      "{\"role\":\"user\",\"content\":\"hi\"},"
      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
      "\"call_0\",\"type\":\"function\",\"function\":{\"name\":\"f\","
      "\"arguments\":\"{}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_0\",\"content\":\"ok\"},"
      "{\"role\":\"assistant\",\"content\":\"done\"},"
      "{\"role\":\"user\",\"content\":\"next\"}]}",
      &out);
  assert_non_null(at(body, "thinking"));
  cJSON_Delete(body);
  prov_http_free(&out);
  fx_free(&f);
}

static void test_passthrough_auth(void **state)
{
  struct fixture f;
  struct prov_http out;
  struct prov_client client = {.authorization = "Bearer sk-client"};
  struct api_error err;
  cJSON *r = parse(ONE_MSG "\"stream\":false}");

  (void)state;
  fx_init(&f, "{}");
  f.cfg.passthrough_auth = 1;
  assert_int_equal(A->build_chat(&f.p, r, "m", &client, &out, &err), 0);
  assert_string_equal(header(&out, "x-api-key"), "sk-client");
  prov_http_free(&out);
  cJSON_Delete(r);
  fx_free(&f);
}

/* ---- non-streamed responses ------------------------------------------ */

static cJSON *parse_ok(struct fixture *f, const char *body,
                       struct canon_usage *u)
{
  struct api_error err;
  cJSON *out = NULL;

  if(A->parse_chat(&f->p, body, strlen(body), "claude-x", "chatcmpl-1", 42,
                   &out, u, &err))
    fail_msg("parse_chat failed: %s", err.message);
  return out;
}

static void test_parse_response(void **state)
{
  struct fixture f;
  struct canon_usage u;
  cJSON *res;

  (void)state;
  fx_init(&f, NULL);
  res = parse_ok(
      &f,
      "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
      "\"model\":\"claude-x\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"Hi \"},{\"type\":\"text\",\"text\":\"there\"}],\"stop_reason\":"
      "\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,"
      "\"output_tokens\":3,\"cache_creation_input_tokens\":5,"
      "\"cache_read_input_tokens\":20}}",
      &u);
  assert_json(res, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
                   "\"created\":42,\"model\":\"claude-x\",\"choices\":[{"
                   "\"index\":0,\"message\":{\"role\":\"assistant\","
                   "\"content\":\"Hi there\",\"refusal\":null},\"logprobs\":"
                   "null,\"finish_reason\":\"stop\"}],\"usage\":{"
                   "\"prompt_tokens\":35,\"completion_tokens\":3,"
                   "\"total_tokens\":38,\"prompt_tokens_details\":{"
                   "\"cached_tokens\":20}}}");
  assert_int_equal(u.prompt_tokens, 35);
  assert_int_equal(u.completion_tokens, 3);
  assert_int_equal(u.cached_tokens, 20);
  assert_int_equal(u.reasoning_tokens, -1);
  cJSON_Delete(res);

  res = parse_ok(
      &f,
      "{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\","
      "\"content\":[{\"type\":\"thinking\",\"thinking\":\"Let me see.\","
      "\"signature\":\"sig\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\","
      "\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}},{\"type\":"
      "\"tool_use\",\"id\":\"toolu_2\",\"name\":\"get_time\",\"input\":{}}],"
      "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":7,"
      "\"output_tokens\":30,\"output_tokens_details\":{\"thinking_tokens\":"
      "12}}}",
      &u);
  {
    const cJSON *c = cJSON_GetArrayItem(at(res, "choices"), 0);
    assert_json(at(c, "message"),
                "{\"role\":\"assistant\",\"content\":null,"
                "\"reasoning_content\":\"Let me see.\",\"tool_calls\":["
                "{\"id\":\"toolu_1\",\"type\":\"function\",\"function\":{"
                "\"name\":\"get_weather\",\"arguments\":"
                "\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
                "{\"id\":\"toolu_2\",\"type\":\"function\",\"function\":{"
                "\"name\":\"get_time\",\"arguments\":\"{}\"}}],"
                "\"refusal\":null,\"reasoning_details\":[{\"type\":"
                "\"reasoning.text\",\"text\":\"Let me see.\",\"signature\":"
                "\"sig\",\"format\":\"anthropic-claude-v1\"}]}");
    assert_string_equal(at(c, "finish_reason")->valuestring, "tool_calls");
    assert_json(at(res, "usage"),
                "{\"prompt_tokens\":7,\"completion_tokens\":30,"
                "\"total_tokens\":37,\"prompt_tokens_details\":{"
                "\"cached_tokens\":0},\"completion_tokens_details\":{"
                "\"reasoning_tokens\":12}}");
  }
  assert_int_equal(u.reasoning_tokens, 12);
  assert_int_equal(u.cached_tokens, 0);
  cJSON_Delete(res);

  {
    static const char *const stops[][2] = {
        {"end_turn", "stop"},
        {"stop_sequence", "stop"},
        {"pause_turn", "stop"},
        {"max_tokens", "length"},
        {"model_context_window_exceeded", "length"},
        {"tool_use", "tool_calls"},
        {"refusal", "content_filter"},
    };
    for(size_t i = 0; i < SB_ARRAY_LEN(stops); i++) {
      char body[256];
      snprintf(body, sizeof(body),
               "{\"content\":[{\"type\":\"text\",\"text\":\"x\"}],"
               "\"stop_reason\":\"%s\",\"usage\":{\"input_tokens\":1,"
               "\"output_tokens\":1}}",
               stops[i][0]);
      res = parse_ok(&f, body, &u);
      assert_string_equal(
          at(cJSON_GetArrayItem(at(res, "choices"), 0), "finish_reason")
              ->valuestring,
          stops[i][1]);
      cJSON_Delete(res);
    }
  }
  {
    struct api_error err;
    cJSON *out = NULL;
    assert_int_equal(
        A->parse_chat(&f.p, "nope", 4, "m", "id", 1, &out, &u, &err),
        SB_EPROTO);
    assert_int_equal(err.status, 502);
    assert_string_equal(err.code, "upstream_bad_response");
    assert_null(out);
  }
  fx_free(&f);
}

/* ---- streams --------------------------------------------------------- */

struct rec {
  char lines[64][256];
  int n;
  int stop_after; /* return 1 from emit after this many events (0: never) */
};

static int rec_emit(void *ud, const struct canon_ev *ev)
{
  struct rec *r = ud;
  char *l = r->lines[r->n];
  size_t cap = sizeof(r->lines[0]);

  assert_true(r->n < 64);
  switch(ev->type) {
  case CANON_EV_START:
    snprintf(l, cap, "start id=%s model=%s", ev->id ? ev->id : "-",
             ev->model ? ev->model : "-");
    break;
  case CANON_EV_TEXT:
    snprintf(l, cap, "text %.*s", (int)ev->len, ev->text);
    break;
  case CANON_EV_REASONING:
    snprintf(l, cap, "reasoning %.*s sig=%s%s%s%s%s", (int)ev->len, ev->text,
             ev->signature ? ev->signature : "-", ev->data ? " data=" : "",
             ev->data ? ev->data : "", ev->format ? " fmt=" : "",
             ev->format ? ev->format : "");
    break;
  case CANON_EV_TOOL_START:
    snprintf(l, cap, "tool_start %d %s %s", ev->index, ev->id, ev->name);
    break;
  case CANON_EV_TOOL_ARGS:
    snprintf(l, cap, "tool_args %d %.*s", ev->index, (int)ev->len, ev->text);
    break;
  case CANON_EV_FINISH: snprintf(l, cap, "finish %s", ev->finish_reason); break;
  case CANON_EV_USAGE:
    snprintf(l, cap, "usage %lld %lld %lld %lld",
             (long long)ev->usage.prompt_tokens,
             (long long)ev->usage.completion_tokens,
             (long long)ev->usage.cached_tokens,
             (long long)ev->usage.reasoning_tokens);
    break;
  case CANON_EV_ERROR:
    snprintf(l, cap, "error %d %s %s %.100s", ev->err->status, ev->err->type,
             ev->err->code, ev->err->message);
    break;
  }
  r->n++;
  return r->stop_after && r->n >= r->stop_after ? 1 : 0;
}

/* Feed "event\tdata" payloads; returns the last feed's result. */
static int feed_all(struct prov_stream *s, struct rec *r,
                    const char *const *payloads, size_t n)
{
  struct canon_sink sink = {rec_emit, r};
  int rc = 0;

  for(size_t i = 0; i < n && !rc; i++) {
    const char *tab = strchr(payloads[i], '\t');
    struct prov_payload pl = {payloads[i], (size_t)(tab - payloads[i]), tab + 1,
                              strlen(tab + 1)};
    rc = A->stream_feed(s, &pl, &sink);
  }
  return rc;
}

static void expect_lines(const struct rec *r, const char *const *want, size_t n)
{
  for(size_t i = 0; i < n && i < (size_t)r->n; i++)
    assert_string_equal(r->lines[i], want[i]);
  if((size_t)r->n != n) {
    for(int i = 0; i < r->n; i++)
      fprintf(stderr, "  got[%d] %s\n", i, r->lines[i]);
    fail_msg("got %d events, want %zu", r->n, n);
  }
}

#define MSG_START                                                              \
  "message_start\t{\"type\":\"message_start\",\"message\":{\"id\":"            \
  "\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"           \
  "\"claude-x\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":"        \
  "null,\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":2,"     \
  "\"cache_read_input_tokens\":4,\"output_tokens\":1}}}"
#define PING "ping\t{\"type\": \"ping\"}"

static void test_stream_text(void **state)
{
  struct fixture f;
  struct rec r = {0};
  struct prov_stream *s;
  static const char *const in[] = {
      MSG_START,
      "content_block_start\t{\"type\":\"content_block_start\",\"index\":0,"
      "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
      PING,
      "content_block_delta\t{\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}",
      "content_block_delta\t{\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\" world\"}}",
      "content_block_stop\t{\"type\":\"content_block_stop\",\"index\":0}",
      "message_delta\t{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
      "\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":"
      "7}}",
      "future_event\t{\"type\":\"future_event\",\"x\":1}",
  };
  static const char *const want[] = {
      "start id=msg_1 model=claude-x",
      "text Hello",
      "text  world",
      "finish length",
      "usage 16 7 4 -1",
  };
  struct prov_payload stop = {"message_stop", 12, "{\"type\":\"message_stop\"}",
                              23};
  struct canon_sink sink = {rec_emit, &r};

  (void)state;
  fx_init(&f, NULL);
  s = A->stream_new(&f.p, "claude-x");
  assert_int_equal(feed_all(s, &r, in, SB_ARRAY_LEN(in)), 0);
  assert_int_equal(A->stream_complete(s), 0);
  assert_int_equal(A->stream_feed(s, &stop, &sink), 0);
  assert_int_equal(A->stream_complete(s), 1);
  expect_lines(&r, want, SB_ARRAY_LEN(want));
  A->stream_free(s);
  fx_free(&f);
}

static void test_stream_tools_and_thinking(void **state)
{
  struct fixture f;
  struct rec r = {0};
  struct prov_stream *s;
  static const char *const in[] = {
      MSG_START,
      "content_block_start\t{\"type\":\"content_block_start\",\"index\":0,"
      "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\","
      "\"signature\":\"\"}}",
      "content_block_delta\t{\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Hmm.\"}}",
      "content_block_delta\t{\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQB\"}}",
      "content_block_stop\t{\"type\":\"content_block_stop\",\"index\":0}",
      "content_block_start\t{\"type\":\"content_block_start\",\"index\":3,"
      "\"content_block\":{\"type\":\"redacted_thinking\",\"data\":\"RED\"}}",
      "content_block_stop\t{\"type\":\"content_block_stop\",\"index\":3}",
      "content_block_start\t{\"type\":\"content_block_start\",\"index\":1,"
      "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_a\",\"name\":"
      "\"get_weather\",\"input\":{}}}",
      "content_block_delta\t{\"type\":\"content_block_delta\",\"index\":1,"
      "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}",
      "content_block_delta\t{\"type\":\"content_block_delta\",\"index\":1,"
      "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"
      "\"{\\\"city\\\": \\\"Pa\"}}",
      "content_block_delta\t{\"type\":\"content_block_delta\",\"index\":1,"
      "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ris\\\"}\"}"
      "}",
      "content_block_stop\t{\"type\":\"content_block_stop\",\"index\":1}",
      "content_block_start\t{\"type\":\"content_block_start\",\"index\":2,"
      "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_b\",\"name\":"
      "\"get_time\",\"input\":{}}}",
      "content_block_delta\t{\"type\":\"content_block_delta\",\"index\":2,"
      "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}",
      "content_block_stop\t{\"type\":\"content_block_stop\",\"index\":2}",
      "message_delta\t{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
      "\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":40,"
      "\"output_tokens_details\":{\"thinking_tokens\":9}}}",
      "message_stop\t{\"type\":\"message_stop\"}",
  };
  static const char *const want[] = {
      "start id=msg_1 model=claude-x",
      "reasoning Hmm. sig=-",
      "reasoning  sig=EqQB fmt=anthropic-claude-v1",
      "reasoning  sig=- data=RED fmt=anthropic-claude-v1",
      "tool_start 0 toolu_a get_weather",
      "tool_args 0 {\"city\": \"Pa",
      "tool_args 0 ris\"}",
      "tool_start 1 toolu_b get_time",
      "tool_args 1 {}",
      "finish tool_calls",
      "usage 16 40 4 9",
  };

  (void)state;
  fx_init(&f, NULL);
  s = A->stream_new(&f.p, "claude-x");
  assert_int_equal(feed_all(s, &r, in, SB_ARRAY_LEN(in)), 0);
  assert_int_equal(A->stream_complete(s), 1);
  expect_lines(&r, want, SB_ARRAY_LEN(want));
  A->stream_free(s);
  fx_free(&f);
}

static void test_stream_errors(void **state)
{
  struct fixture f;
  struct rec r = {0};
  struct prov_stream *s;
  static const char *const err_in[] = {
      MSG_START,
      "error\t{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
      "\"message\":\"Overloaded\"}}",
  };
  static const char *const err_want[] = {
      "start id=msg_1 model=claude-x",
      "error 503 upstream_error overloaded_error Overloaded",
  };
  static const char *const bad_in[] = {
      MSG_START,
      "content_block_delta\t{\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"oo",
  };
  static const char *const bad_want[] = {
      "start id=msg_1 model=claude-x",
      "error 502 upstream_error upstream_bad_response The upstream provider "
      "sent a malformed stream event.",
  };

  (void)state;
  fx_init(&f, NULL);
  s = A->stream_new(&f.p, "claude-x");
  assert_int_equal(feed_all(s, &r, err_in, SB_ARRAY_LEN(err_in)), SB_EIO);
  assert_int_equal(A->stream_complete(s), 0);
  expect_lines(&r, err_want, SB_ARRAY_LEN(err_want));
  A->stream_free(s);

  memset(&r, 0, sizeof(r));
  s = A->stream_new(&f.p, "claude-x");
  assert_int_equal(feed_all(s, &r, bad_in, SB_ARRAY_LEN(bad_in)), SB_EPROTO);
  expect_lines(&r, bad_want, SB_ARRAY_LEN(bad_want));
  A->stream_free(s);

  /* The sink's nonzero value comes back. */
  memset(&r, 0, sizeof(r));
  r.stop_after = 1;
  s = A->stream_new(&f.p, "claude-x");
  assert_int_equal(feed_all(s, &r, err_in, 1), 1);
  A->stream_free(s);

  /* A tool block start without id is malformed. */
  memset(&r, 0, sizeof(r));
  s = A->stream_new(&f.p, "claude-x");
  {
    static const char *const in[] = {
        "content_block_start\t{\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"tool_use\",\"name\":\"x\"}}",
    };
    assert_int_equal(feed_all(s, &r, in, 1), SB_EPROTO);
    assert_int_equal(r.n, 2); /* start, error */
  }
  A->stream_free(s);
  fx_free(&f);
}

/* ---- errors and models ----------------------------------------------- */

static void map(struct fixture *f, int status, const char *type,
                const char *msg, struct api_error *err)
{
  char body[512];
  snprintf(body, sizeof(body),
           "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":"
           "\"%s\"},\"request_id\":\"req_1\"}",
           type, msg);
  memset(err, 0, sizeof(*err));
  A->map_error(&f->p, status, body, strlen(body), "7", NULL, err);
}

static void test_map_error(void **state)
{
  struct fixture f;
  struct api_error e;

  (void)state;
  fx_init(&f, NULL);
  map(&f, 400, "invalid_request_error", "max_tokens: Field required", &e);
  assert_int_equal(e.status, 400);
  assert_string_equal(e.type, "invalid_request_error");
  assert_string_equal(e.code, "");
  assert_string_equal(e.message, "max_tokens: Field required");
  map(&f, 400, "invalid_request_error",
      "prompt is too long: 210000 tokens > 200000 maximum", &e);
  assert_string_equal(e.code, "context_length_exceeded");
  map(&f, 401, "authentication_error", "invalid x-api-key", &e);
  assert_int_equal(e.status, 502);
  assert_string_equal(e.type, "upstream_error");
  assert_string_equal(e.code, "upstream_auth_failed");
  assert_null(strstr(e.message, "x-api-key"));
  map(&f, 403, "permission_error", "no", &e);
  assert_int_equal(e.status, 502);
  map(&f, 404, "not_found_error", "model: claude-nope", &e);
  assert_int_equal(e.status, 404);
  assert_string_equal(e.code, "model_not_found");
  map(&f, 413, "request_too_large", "Request exceeds the maximum size", &e);
  assert_int_equal(e.status, 413);
  assert_string_equal(e.code, "request_too_large");
  map(&f, 429, "rate_limit_error", "Number of requests has exceeded", &e);
  assert_int_equal(e.status, 429);
  assert_string_equal(e.type, "rate_limit_exceeded");
  assert_int_equal(e.retry_after_s, 7);
  map(&f, 402, "billing_error", "credit balance too low", &e);
  assert_int_equal(e.status, 429);
  assert_string_equal(e.code, "insufficient_quota");
  map(&f, 500, "api_error", "Internal server error", &e);
  assert_int_equal(e.status, 502);
  assert_string_equal(e.code, "upstream_error");
  assert_int_equal(e.retry_after_s, 0);
  map(&f, 529, "overloaded_error", "Overloaded", &e);
  assert_int_equal(e.status, 503);
  assert_string_equal(e.code, "upstream_unavailable");
  assert_int_equal(e.retry_after_s, 7);
  map(&f, 504, "timeout_error", "Request timed out", &e);
  assert_int_equal(e.status, 504);
  assert_string_equal(e.code, "upstream_timeout");
  memset(&e, 0, sizeof(e));
  A->map_error(&f.p, 502, "<html>bad gateway</html>", 24, NULL, NULL, &e);
  assert_int_equal(e.status, 502);

  f.cfg.passthrough_auth = 1;
  map(&f, 401, "authentication_error", "invalid x-api-key", &e);
  assert_int_equal(e.status, 401);
  assert_string_equal(e.code, "invalid_api_key");
  map(&f, 403, "permission_error", "not allowed", &e);
  assert_int_equal(e.status, 403);
  assert_string_equal(e.code, "permission_denied");
  fx_free(&f);
}

static void test_models(void **state)
{
  struct fixture f;
  struct prov_http out;
  char **models;
  int n;
  static const char body[] =
      "{\"data\":[{\"type\":\"model\",\"id\":\"claude-a\",\"display_name\":"
      "\"A\",\"created_at\":\"2025-02-19T00:00:00Z\"},{\"type\":\"model\","
      "\"id\":\"claude-b\"}],\"has_more\":false,\"first_id\":\"claude-a\","
      "\"last_id\":\"claude-b\"}";

  (void)state;
  fx_init(&f, "{\"betas\":[\"x-1\"]}");
  A->build_models(&f.p, &out);
  assert_string_equal(out.url,
                      "https://api.anthropic.com/v1/models?limit=1000");
  assert_null(out.body);
  assert_string_equal(header(&out, "x-api-key"), "sk-ant-secret");
  assert_string_equal(header(&out, "anthropic-version"), "2023-06-01");
  assert_string_equal(header(&out, "anthropic-beta"), "x-1");
  prov_http_free(&out);
  assert_int_equal(A->parse_models(body, strlen(body), &models, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(models[0], "claude-a");
  assert_string_equal(models[1], "claude-b");
  for(int i = 0; i < n; i++)
    free(models[i]);
  free(models);
  assert_int_equal(A->parse_models("{}", 2, &models, &n), SB_EPROTO);
  fx_free(&f);
}

static void test_registered(void **state)
{
  (void)state;
  assert_ptr_equal(prov_adapter_find("anthropic"), A);
  assert_int_equal(A->framing, PROV_FRAMING_SSE);
  assert_string_equal(A->default_base_url, "https://api.anthropic.com");
  assert_int_equal(A->caps & (OAI_CAP_N | OAI_CAP_LOGPROBS | OAI_CAP_AUDIO |
                              OAI_CAP_LOGIT_BIAS),
                   0);
  assert_int_equal(A->caps & OAI_CAP_TOOLS, OAI_CAP_TOOLS);
}

static void test_count_tokens(void **state)
{
  struct fixture f;
  cJSON *r = parse("{\"model\":\"c/x\",\"max_tokens\":9,\"temperature\":0.5,"
                   "\"stream\":true,\"stop\":\"x\",\"user\":\"u\","
                   "\"messages\":[{\"role\":\"system\",\"content\":\"be "
                   "brief\"},{\"role\":\"user\",\"content\":\"hi\"}]}");
  struct prov_client client = {0};
  struct prov_http h;
  struct api_error err;
  cJSON *body, *want;
  int64_t n = -1;

  (void)state;
  fx_init(&f, NULL);
  assert_int_equal(A->build_count(&f.p, r, "claude-x", &client, &h, &err), 0);
  assert_string_equal(h.url,
                      "https://api.anthropic.com/v1/messages/count_tokens");
  assert_string_equal(header(&h, "x-api-key"), "sk-ant-secret");
  assert_non_null(header(&h, "anthropic-version"));
  assert_null(h.dropped);
  /* the prompt half only: what count_tokens takes */
  body = parse(h.body);
  want = parse("{\"model\":\"claude-x\",\"system\":\"be brief\","
               "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
               "\"text\",\"text\":\"hi\"}]}]}");
  assert_true(cJSON_Compare(body, want, 1));
  cJSON_Delete(body);
  cJSON_Delete(want);
  prov_http_free(&h);
  cJSON_Delete(r);
  fx_free(&f);

  assert_int_equal(A->parse_count("{\"input_tokens\":12}", 19, &n), 0);
  assert_int_equal(n, 12);
  assert_int_equal(A->parse_count("{\"input_tokens\":-1}", 19, &n), SB_EPROTO);
  assert_int_equal(A->parse_count("[", 1, &n), SB_EPROTO);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_configure),
      cmocka_unit_test(test_basic_request),
      cmocka_unit_test(test_tools_and_choice),
      cmocka_unit_test(test_tool_round_trip),
      cmocka_unit_test(test_images),
      cmocka_unit_test(test_response_format_and_policy),
      cmocka_unit_test(test_reasoning_effort),
      cmocka_unit_test(test_thinking_round_trip),
      cmocka_unit_test(test_passthrough_auth),
      cmocka_unit_test(test_parse_response),
      cmocka_unit_test(test_stream_text),
      cmocka_unit_test(test_stream_tools_and_thinking),
      cmocka_unit_test(test_stream_errors),
      cmocka_unit_test(test_map_error),
      cmocka_unit_test(test_models),
      cmocka_unit_test(test_registered),
      cmocka_unit_test(test_count_tokens),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
