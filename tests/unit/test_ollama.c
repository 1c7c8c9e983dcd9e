/* The Ollama native adapter (providers/ollama.h), without sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "codec/oai_chat.h"
#include "codec/oai_embed.h"
#include "base/sb.h"
#include "providers/adapter.h"
#include "providers/ollama.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct prov_adapter *A = &prov_ollama_adapter;

static struct config_provider cp = {
    .name = "ollama",
    .kind = "ollama",
    .stream_usage = 1,
};

static struct prov P = {
    .name = "ollama",
    .kind = PROV_ADAPTER,
    .cfg = &cp,
    .adapter = &prov_ollama_adapter,
    .base_url = "http://127.0.0.1:11434",
};

static const struct prov_client NOCLIENT = {0};

static cJSON *parse(const char *s)
{
  cJSON *j = cJSON_Parse(s);
  assert_non_null(j);
  return j;
}

static const cJSON *get(const cJSON *o, const char *k)
{
  return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const cJSON *at(const cJSON *a, int i)
{
  return cJSON_GetArrayItem(a, i);
}

/* JSON text of an item, compact, for exact comparisons. */
static void assert_json(const cJSON *item, const char *want)
{
  char *s = cJSON_PrintUnformatted(item);
  cJSON *w = parse(want);
  char *ws = cJSON_PrintUnformatted(w);

  assert_non_null(s);
  if(strcmp(s, ws))
    fprintf(stderr, "got:  %s\nwant: %s\n", s, ws);
  assert_string_equal(s, ws);
  free(s);
  free(ws);
  cJSON_Delete(w);
}

/* Validate req as the gateway does, then build; returns the upstream body
 * (or NULL with *rc and err set). */
static cJSON *build_p(const struct prov *p, const char *req, int *rc,
                      struct prov_http *out, struct api_error *err)
{
  cJSON *body = parse(req);
  cJSON *up = NULL;

  assert_int_equal(oai_chat_validate(body, err), 0);
  assert_int_equal(oai_chat_check_caps(body, A->caps, "ollama", err), 0);
  memset(out, 0, sizeof(*out));
  *rc = A->build_chat(p, body, "llama3.2", &NOCLIENT, out, err);
  if(!*rc)
    up = parse(out->body);
  cJSON_Delete(body);
  return up;
}

static cJSON *build(const char *req, struct prov_http *out)
{
  struct api_error err;
  int rc;
  cJSON *up = build_p(&P, req, &rc, out, &err);

  if(rc)
    fprintf(stderr, "build failed: %s\n", err.message);
  assert_int_equal(rc, 0);
  return up;
}

/* Expect a 400 naming param with code. */
static void build_fails(const char *req, const char *code, const char *param)
{
  struct prov_http out;
  struct api_error err;
  int rc;
  cJSON *up = build_p(&P, req, &rc, &out, &err);

  assert_null(up);
  assert_int_equal(rc, SB_EINVAL);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.type, "invalid_request_error");
  assert_string_equal(err.code, code);
  assert_string_equal(err.param, param);
  assert_null(out.body);
  assert_null(out.url);
}

static int has_header(const struct prov_http *h, const char *line)
{
  for(int i = 0; i < h->nheaders; i++)
    if(!strcmp(h->headers[i], line))
      return 1;
  return 0;
}

static int header_prefix(const struct prov_http *h, const char *prefix)
{
  for(int i = 0; i < h->nheaders; i++)
    if(!strncmp(h->headers[i], prefix, strlen(prefix)))
      return 1;
  return 0;
}

/* ---- request translation ----------------------------------------------- */

static void test_basic_request(void **state)
{
  struct prov_http out;
  cJSON *up = build("{\"model\":\"ollama/llama3.2\",\"messages\":["
                    "{\"role\":\"system\",\"content\":\"Be brief.\"},"
                    "{\"role\":\"developer\",\"content\":[{\"type\":\"text\","
                    "\"text\":\"Use English.\"}]},"
                    "{\"role\":\"user\",\"content\":\"Hi\"},"
                    "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
                    "{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                    "\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}]}",
                    &out);

  assert_json(up, "{\"model\":\"llama3.2\",\"messages\":["
                  "{\"role\":\"system\",\"content\":\"Be brief.\"},"
                  "{\"role\":\"system\",\"content\":\"Use English.\"},"
                  "{\"role\":\"user\",\"content\":\"Hi\"},"
                  "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
                  "{\"role\":\"user\",\"content\":\"a\\nb\"}],"
                  "\"stream\":false}");
  assert_string_equal(out.url, "http://127.0.0.1:11434/api/chat");
  assert_null(out.method);
  assert_true(has_header(&out, "Content-Type: application/json"));
  assert_true(has_header(&out, "Accept: application/json"));
  assert_false(header_prefix(&out, "Authorization:"));
  assert_null(out.dropped);
  cJSON_Delete(up);
  prov_http_free(&out);
}

static void test_stream_flag_and_auth(void **state)
{
  struct prov p = P;
  struct prov_http out;
  struct api_error err;
  int rc;
  cJSON *up;

  p.api_key = "sk-ollama-test";
  up = build_p(&p,
               "{\"model\":\"m\",\"stream\":true,\"stream_options\":"
               "{\"include_usage\":true},\"messages\":[{\"role\":\"user\","
               "\"content\":\"x\"}]}",
               &rc, &out, &err);
  assert_int_equal(rc, 0);
  assert_true(cJSON_IsTrue(get(up, "stream")));
  assert_null(get(up, "stream_options"));
  assert_true(has_header(&out, "Accept: application/x-ndjson"));
  assert_true(has_header(&out, "Authorization: Bearer sk-ollama-test"));
  assert_null(out.dropped);
  cJSON_Delete(up);
  prov_http_free(&out);
}

static void test_tools_and_choice(void **state)
{
  static const char tools[] =
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_"
      "weather\",\"description\":\"Weather\",\"strict\":true,\"parameters\":"
      "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}"
      ",{\"type\":\"function\",\"function\":{\"name\":\"noargs\"}}]";
  char req[1024];
  struct prov_http out;
  cJSON *up;

  snprintf(req, sizeof(req),
           "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
           "\"x\"}],%s,\"tool_choice\":\"auto\",\"parallel_tool_calls\":"
           "true}",
           tools);
  up = build(req, &out);
  assert_json(get(up, "tools"),
              "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
              "\"description\":\"Weather\",\"parameters\":{\"type\":"
              "\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}},"
              "{\"type\":\"function\",\"function\":{\"name\":\"noargs\","
              "\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]");
  assert_string_equal(out.dropped, "tools[].function.strict");
  assert_null(get(up, "tool_choice"));
  cJSON_Delete(up);
  prov_http_free(&out);

  snprintf(req, sizeof(req),
           "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
           "\"x\"}],%s,\"tool_choice\":\"none\"}",
           tools);
  up = build(req, &out);
  assert_null(get(up, "tools"));
  cJSON_Delete(up);
  prov_http_free(&out);

  snprintf(req, sizeof(req),
           "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
           "\"x\"}],%s,\"tool_choice\":\"required\"}",
           tools);
  build_fails(req, "unsupported_value", "tool_choice");
  snprintf(req, sizeof(req),
           "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
           "\"x\"}],%s,\"tool_choice\":{\"type\":\"function\",\"function\":"
           "{\"name\":\"noargs\"}}}",
           tools);
  build_fails(req, "unsupported_value", "tool_choice");
  snprintf(req, sizeof(req),
           "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
           "\"x\"}],%s,\"parallel_tool_calls\":false}",
           tools);
  build_fails(req, "unsupported_value", "parallel_tool_calls");
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"}],\"tools\":[{\"type\":\"custom\",\"custom\":{\"name\":"
              "\"c\"}}]}",
              "unsupported_value", "tools[0].type");
}

static void test_tool_round_trip(void **state)
{
  struct prov_http out;
  cJSON *up = build(
      "{\"model\":\"m\",\"messages\":["
      "{\"role\":\"user\",\"content\":\"weather and time?\"},"
      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
      "{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":"
      "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
      "{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":"
      "\"get_time\",\"arguments\":\"\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_a\",\"content\":\"sunny\"},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_b\",\"content\":[{\"type\":"
      "\"text\",\"text\":\"noon\"}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_zz\",\"content\":\"?\"}]}",
      &out);

  assert_json(get(up, "messages"),
              "[{\"role\":\"user\",\"content\":\"weather and time?\"},"
              "{\"role\":\"assistant\",\"tool_calls\":["
              "{\"id\":\"call_a\",\"function\":{\"index\":0,\"name\":"
              "\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}},"
              "{\"id\":\"call_b\",\"function\":{\"index\":1,\"name\":"
              "\"get_time\",\"arguments\":{}}}],\"content\":\"\"},"
              "{\"role\":\"tool\",\"tool_name\":\"get_weather\","
              "\"tool_call_id\":\"call_a\",\"content\":\"sunny\"},"
              "{\"role\":\"tool\",\"tool_name\":\"get_time\","
              "\"tool_call_id\":\"call_b\",\"content\":\"noon\"},"
              "{\"role\":\"tool\",\"tool_call_id\":\"call_zz\","
              "\"content\":\"?\"}]");
  cJSON_Delete(up);
  prov_http_free(&out);
}

static void test_tool_name_nearest_call(void **state)
{
  /* The same id in two turns: the nearest earlier call names the result. */
  struct prov_http out;
  cJSON *up = build(
      "{\"model\":\"m\",\"messages\":["
      "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_0\",\"type\":"
      "\"function\",\"function\":{\"name\":\"first\",\"arguments\":\"{}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_0\",\"content\":\"1\"},"
      "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_0\",\"type\":"
      "\"function\",\"function\":{\"name\":\"second\",\"arguments\":"
      "\"{}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_0\",\"content\":\"2\"}]}",
      &out);
  const cJSON *msgs = get(up, "messages");

  assert_string_equal(get(at(msgs, 1), "tool_name")->valuestring, "first");
  assert_string_equal(get(at(msgs, 3), "tool_name")->valuestring, "second");
  cJSON_Delete(up);
  prov_http_free(&out);
}

static void test_bad_tool_arguments(void **state)
{
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"},{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\","
              "\"type\":\"function\",\"function\":{\"name\":\"f\","
              "\"arguments\":\"{}\"}},{\"id\":\"b\",\"type\":\"function\","
              "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":\"}}]}"
              "]}",
              "invalid_value", "messages[1].tool_calls[1].function.arguments");
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\","
              "\"tool_calls\":[{\"id\":\"a\",\"type\":\"function\","
              "\"function\":{\"name\":\"f\",\"arguments\":\"[1,2]\"}}]}]}",
              "invalid_value", "messages[0].tool_calls[0].function.arguments");
}

static void test_images(void **state)
{
  struct prov_http out;
  cJSON *up =
      build("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
            "{\"type\":\"text\",\"text\":\"what is this?\"},"
            "{\"type\":\"image_url\",\"image_url\":{\"url\":"
            "\"data:image/png;base64,iVBORw0KGgo=\"}},"
            "{\"type\":\"image_url\",\"image_url\":{\"url\":"
            "\"data:image/jpeg;base64,/9j/4AAQ\",\"detail\":\"low\"}}]}]}",
            &out);

  assert_json(get(up, "messages"),
              "[{\"role\":\"user\",\"content\":\"what is this?\","
              "\"images\":[\"iVBORw0KGgo=\",\"/9j/4AAQ\"]}]");
  cJSON_Delete(up);
  prov_http_free(&out);

  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "[{\"type\":\"text\",\"text\":\"x\"},{\"type\":\"image_url\","
              "\"image_url\":{\"url\":\"https://example.com/cat.png\"}}]}]}",
              "unsupported_value", "messages[0].content[1].image_url.url");
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "[{\"type\":\"image_url\",\"image_url\":{\"url\":"
              "\"data:image/png,raw\"}}]}]}",
              "invalid_value", "messages[0].content[0].image_url.url");
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "[{\"type\":\"file\",\"file\":{\"file_id\":\"f\"}}]}]}",
              "unsupported_value", "messages[0].content[0].type");
}

static void test_response_format(void **state)
{
  struct prov_http out;
  cJSON *up;

  up = build("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
             "\"x\"}],\"response_format\":{\"type\":\"json_object\"}}",
             &out);
  assert_json(get(up, "format"), "\"json\"");
  cJSON_Delete(up);
  prov_http_free(&out);

  up = build("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
             "\"x\"}],\"response_format\":{\"type\":\"json_schema\","
             "\"json_schema\":{\"name\":\"s\",\"strict\":true,\"schema\":"
             "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":"
             "\"integer\"}},\"required\":[\"a\"]}}}}",
             &out);
  assert_json(get(up, "format"),
              "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":"
              "\"integer\"}},\"required\":[\"a\"]}");
  cJSON_Delete(up);
  prov_http_free(&out);

  up = build("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
             "\"x\"}],\"response_format\":{\"type\":\"text\"}}",
             &out);
  assert_null(get(up, "format"));
  cJSON_Delete(up);
  prov_http_free(&out);
}

static void test_options(void **state)
{
  struct prov_http out;
  cJSON *up;

  up = build("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
             "\"x\"}],\"temperature\":0.5,\"top_p\":0.9,\"top_k\":40,"
             "\"seed\":7,\"stop\":\"END\",\"max_tokens\":20,"
             "\"presence_penalty\":0.5,\"frequency_penalty\":-0.5,"
             "\"min_p\":0.05}",
             &out);
  assert_json(get(up, "options"),
              "{\"temperature\":0.5,\"top_p\":0.9,\"seed\":7,"
              "\"presence_penalty\":0.5,\"frequency_penalty\":-0.5,"
              "\"top_k\":40,\"min_p\":0.05,\"num_predict\":20,"
              "\"stop\":[\"END\"]}");
  assert_null(out.dropped);
  cJSON_Delete(up);
  prov_http_free(&out);

  up = build("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
             "\"x\"}],\"stop\":[\"a\",\"b\"],\"max_tokens\":20,"
             "\"max_completion_tokens\":5}",
             &out);
  assert_json(get(up, "options"), "{\"num_predict\":5,\"stop\":[\"a\",\"b\"]}");
  cJSON_Delete(up);
  prov_http_free(&out);

  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"}],\"top_k\":\"forty\"}",
              "invalid_type", "top_k");
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"}],\"top_k\":4.5}",
              "invalid_type", "top_k");
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"}],\"keep_alive\":{}}",
              "invalid_type", "keep_alive");
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"}],\"think\":[1]}",
              "invalid_type", "think");
}

static void test_reasoning_effort(void **state)
{
  struct prov p = P;
  struct prov_http out;
  struct api_error err;
  char errbuf[256];
  cJSON *opts, *up;
  int rc;

  up = build("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
             "\"x\"}],\"reasoning_effort\":\"high\"}",
             &out);
  assert_true(cJSON_IsTrue(get(up, "think")));
  cJSON_Delete(up);
  prov_http_free(&out);
  up = build("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
             "\"x\"}],\"reasoning_effort\":\"none\"}",
             &out);
  assert_true(cJSON_IsFalse(get(up, "think")));
  cJSON_Delete(up);
  prov_http_free(&out);
  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"}],\"reasoning_effort\":\"huge\"}",
              "invalid_value", "reasoning_effort");

  opts = parse("{\"think_levels\":true,\"keep_alive\":\"10m\","
               "\"num_ctx\":8192}");
  assert_int_equal(A->configure(&p, opts, "config: providers[0].options",
                                errbuf, sizeof(errbuf)),
                   0);
  up = build_p(&p,
               "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
               "\"x\"}],\"reasoning_effort\":\"minimal\"}",
               &rc, &out, &err);
  assert_int_equal(rc, 0);
  assert_json(get(up, "think"), "\"low\"");
  assert_json(get(up, "keep_alive"), "\"10m\"");
  assert_json(get(up, "options"), "{\"num_ctx\":8192}");
  cJSON_Delete(up);
  prov_http_free(&out);
  A->unconfigure(&p);
  assert_null(p.priv);
  cJSON_Delete(opts);
}

static void test_dropped_and_refused(void **state)
{
  struct prov_http out;
  cJSON *up = build(
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"name\":\"bob\","
      "\"content\":\"x\"}],\"user\":\"u1\",\"metadata\":{\"a\":\"b\"},"
      "\"store\":true,\"service_tier\":\"auto\",\"n\":1,\"logprobs\":false,"
      "\"x_vendor\":1}",
      &out);

  assert_null(get(up, "user"));
  assert_null(get(up, "x_vendor"));
  assert_null(get(up, "n"));
  assert_string_equal(out.dropped,
                      "messages[].name,user,metadata,store,service_tier,"
                      "x_vendor");
  cJSON_Delete(up);
  prov_http_free(&out);

  build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"}],\"prediction\":{\"type\":\"content\",\"content\":"
              "\"y\"}}",
              "unsupported_parameter", "prediction");
}

static void test_configure(void **state)
{
  struct prov p = P;
  char err[256];
  cJSON *o;

  p.priv = NULL;
  A->unconfigure(&p); /* copes with NULL */
  assert_int_equal(
      A->configure(&p, NULL, "config: providers[1].options", err, sizeof(err)),
      0);
  A->unconfigure(&p);
  o = parse("{\"nope\":1}");
  assert_int_equal(
      A->configure(&p, o, "config: providers[1].options", err, sizeof(err)),
      SB_ECONFIG);
  assert_non_null(strstr(err, "config: providers[1].options.nope: unknown"));
  assert_null(p.priv);
  cJSON_Delete(o);
  o = parse("{\"num_ctx\":\"big\"}");
  assert_int_equal(
      A->configure(&p, o, "config: providers[1].options", err, sizeof(err)),
      SB_ECONFIG);
  assert_string_equal(
      err, "config: providers[1].options.num_ctx: expected a positive integer");
  cJSON_Delete(o);
  o = parse("{\"keep_alive\":true}");
  assert_int_equal(A->configure(&p, o, "x", err, sizeof(err)), SB_ECONFIG);
  cJSON_Delete(o);
  o = parse("{\"think_levels\":1}");
  assert_int_equal(A->configure(&p, o, "x", err, sizeof(err)), SB_ECONFIG);
  cJSON_Delete(o);
  assert_ptr_equal(prov_adapter_find("ollama"), A);
  assert_int_equal(A->framing, PROV_FRAMING_NDJSON);
  assert_string_equal(A->default_base_url, "http://127.0.0.1:11434");
}

/* ---- non-streamed response ---------------------------------------------- */

static cJSON *parse_ok(const char *body, struct canon_usage *u)
{
  struct api_error err;
  cJSON *out = NULL;

  assert_int_equal(A->parse_chat(&P, body, strlen(body), "llama3.2",
                                 "chatcmpl-x", 1700000000, &out, u, &err),
                   0);
  return out;
}

/* Found by tests/fuzz/fuzz_ollama: a prompt_eval_count of 1e300 was cast
 * to int64_t (undefined). It is no count: the usage is unknown. */
static void test_parse_huge_usage(void **state)
{
  struct canon_usage u;
  cJSON *r =
      parse_ok("{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\","
               "\"content\":\"Hi\"},\"done\":true,\"done_reason\":\"stop\","
               "\"prompt_eval_count\":1e300,\"eval_count\":2}",
               &u);
  (void)state;

  assert_int_equal(u.prompt_tokens, -1);
  assert_int_equal(u.completion_tokens, 2);
  cJSON_Delete(r);
}

static void test_parse_text(void **state)
{
  struct canon_usage u;
  cJSON *r = parse_ok(
      "{\"model\":\"llama3.2\",\"created_at\":\"2024-01-01T00:00:00Z\","
      "\"message\":{\"role\":\"assistant\",\"content\":\"Hello!\","
      "\"thinking\":\"User greets.\"},\"done\":true,\"done_reason\":\"stop\","
      "\"total_duration\":1,\"prompt_eval_count\":26,\"eval_count\":3}",
      &u);

  assert_json(r, "{\"id\":\"chatcmpl-x\",\"object\":\"chat.completion\","
                 "\"created\":1700000000,\"model\":\"llama3.2\",\"choices\":"
                 "[{\"index\":0,\"message\":{\"role\":\"assistant\","
                 "\"content\":\"Hello!\",\"reasoning_content\":\"User "
                 "greets.\",\"refusal\":null},\"logprobs\":null,"
                 "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":26,"
                 "\"completion_tokens\":3,\"total_tokens\":29}}");
  assert_int_equal(u.prompt_tokens, 26);
  assert_int_equal(u.completion_tokens, 3);
  assert_int_equal(u.cached_tokens, -1);
  cJSON_Delete(r);

  r = parse_ok("{\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},"
               "\"done\":true,\"done_reason\":\"length\"}",
               &u);
  assert_string_equal(
      get(at(get(r, "choices"), 0), "finish_reason")->valuestring, "length");
  assert_null(get(r, "usage"));
  assert_int_equal(u.prompt_tokens, -1);
  cJSON_Delete(r);
}

static void test_parse_tool_calls(void **state)
{
  struct canon_usage u;
  cJSON *r = parse_ok(
      "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\","
      "\"content\":\"\",\"tool_calls\":["
      "{\"function\":{\"index\":0,\"name\":\"get_weather\",\"arguments\":"
      "{\"city\":\"Tokyo\"}}},"
      "{\"id\":\"call_up\",\"function\":{\"index\":1,\"name\":\"get_time\","
      "\"arguments\":{}}}]},\"done\":true,\"done_reason\":\"stop\","
      "\"prompt_eval_count\":10,\"eval_count\":5}",
      &u);
  const cJSON *c = at(get(r, "choices"), 0);

  assert_string_equal(get(c, "finish_reason")->valuestring, "tool_calls");
  assert_json(
      get(c, "message"),
      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
      "{\"id\":\"call_0\",\"type\":\"function\",\"function\":{\"name\":"
      "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Tokyo\\\"}\"}},"
      "{\"id\":\"call_up\",\"type\":\"function\",\"function\":"
      "{\"name\":\"get_time\",\"arguments\":\"{}\"}}],"
      "\"refusal\":null}");
  cJSON_Delete(r);
}

static void test_parse_bad(void **state)
{
  struct canon_usage u;
  struct api_error err;
  cJSON *out = NULL;

  assert_int_equal(A->parse_chat(&P, "nope", 4, "m", "id", 1, &out, &u, &err),
                   SB_EPROTO);
  assert_int_equal(err.status, 502);
  assert_string_equal(err.code, "upstream_bad_response");
  assert_null(out);
  assert_int_equal(
      A->parse_chat(&P, "{\"done\":true}", 13, "m", "id", 1, &out, &u, &err),
      SB_EPROTO);
  assert_int_equal(err.status, 502);
}

/* ---- stream ------------------------------------------------------------- */

struct log {
  char text[4096];
  int stop_at; /* return 1 from the emit number stop_at (1-based), 0: never */
  int n;
};

static int log_emit(void *ud, const struct canon_ev *ev)
{
  struct log *l = ud;
  size_t o = strlen(l->text);
  char *p = l->text + o;
  size_t cap = sizeof(l->text) - o;

  switch(ev->type) {
  case CANON_EV_START:
    snprintf(p, cap, "START %s|", ev->model ? ev->model : "-");
    break;
  case CANON_EV_TEXT:
    snprintf(p, cap, "TEXT %.*s|", (int)ev->len, ev->text);
    break;
  case CANON_EV_REASONING:
    snprintf(p, cap, "REASONING %.*s|", (int)ev->len, ev->text);
    break;
  case CANON_EV_TOOL_START:
    snprintf(p, cap, "TOOL_START %d %s %s|", ev->index, ev->id, ev->name);
    break;
  case CANON_EV_TOOL_ARGS:
    snprintf(p, cap, "TOOL_ARGS %d %.*s|", ev->index, (int)ev->len, ev->text);
    break;
  case CANON_EV_FINISH:
    snprintf(p, cap, "FINISH %s|", ev->finish_reason);
    break;
  case CANON_EV_USAGE:
    snprintf(p, cap, "USAGE %lld %lld|", (long long)ev->usage.prompt_tokens,
             (long long)ev->usage.completion_tokens);
    break;
  case CANON_EV_ERROR:
    snprintf(p, cap, "ERROR %d %s %s|", ev->err->status, ev->err->code,
             ev->err->message);
    break;
  }
  return ++l->n == l->stop_at;
}

/* Feed NDJSON lines ("\n"-separated); returns the last feed's rc. */
static int feed_lines(struct prov_stream *s, const char *lines, struct log *l)
{
  struct canon_sink sink = {log_emit, l};
  const char *p = lines;
  int rc = 0;

  while(*p && !rc) {
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    struct prov_payload pl = {NULL, 0, p, n};

    rc = A->stream_feed(s, &pl, &sink);
    p += n + (e ? 1 : 0);
  }
  return rc;
}

static void test_stream_text(void **state)
{
  struct prov_stream *s = A->stream_new(&P, "llama3.2");
  struct log l = {{0}, 0, 0};

  assert_int_equal(
      feed_lines(
          s,
          "{\"model\":\"llama3.2\",\"created_at\":\"t\",\"message\":"
          "{\"role\":\"assistant\",\"content\":\"The\"},\"done\":false}\n"
          "\n"
          "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\","
          "\"content\":\" sky\"},\"done\":false}\n",
          &l),
      0);
  assert_false(A->stream_complete(s));
  assert_int_equal(
      feed_lines(s,
                 "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\","
                 "\"content\":\"\"},\"done\":true,\"done_reason\":\"length\","
                 "\"prompt_eval_count\":26,\"eval_count\":2}",
                 &l),
      0);
  assert_true(A->stream_complete(s));
  assert_string_equal(l.text, "START llama3.2|TEXT The|TEXT  sky|FINISH length|"
                              "USAGE 26 2|");
  A->stream_free(s);
}

static void test_stream_reasoning_and_tools(void **state)
{
  struct prov_stream *s = A->stream_new(&P, "qwen3");
  struct log l = {{0}, 0, 0};

  assert_int_equal(
      feed_lines(
          s,
          "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\","
          "\"content\":\"\",\"thinking\":\"Need tools.\"},\"done\":false}\n"
          "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\","
          "\"content\":\"\",\"tool_calls\":[{\"function\":{\"index\":0,"
          "\"name\":\"get_weather\",\"arguments\":{\"city\":\"Tokyo\"}}},"
          "{\"id\":\"call_x\",\"function\":{\"index\":1,\"name\":\"get_time\","
          "\"arguments\":{}}}]},\"done\":false}\n"
          "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\","
          "\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"third\","
          "\"arguments\":{\"n\":1}}}]},\"done\":false}\n"
          "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\","
          "\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\","
          "\"prompt_eval_count\":40,\"eval_count\":12}\n",
          &l),
      0);
  assert_string_equal(l.text, "START qwen3|REASONING Need tools.|"
                              "TOOL_START 0 call_0 get_weather|"
                              "TOOL_ARGS 0 {\"city\":\"Tokyo\"}|"
                              "TOOL_START 1 call_x get_time|TOOL_ARGS 1 {}|"
                              "TOOL_START 2 call_2 third|TOOL_ARGS 2 {\"n\":1}|"
                              "FINISH tool_calls|USAGE 40 12|");
  assert_true(A->stream_complete(s));
  A->stream_free(s);
}

static void test_stream_errors(void **state)
{
  struct prov_stream *s = A->stream_new(&P, "m");
  struct log l = {{0}, 0, 0};

  assert_int_equal(
      feed_lines(s,
                 "{\"model\":\"m\",\"message\":{\"role\":\"assistant\","
                 "\"content\":\"Hi\"},\"done\":false}\n"
                 "{\"error\":\"an error was encountered while running the "
                 "model: unexpected EOF\"}\n",
                 &l),
      SB_EIO);
  assert_string_equal(l.text, "START m|TEXT Hi|ERROR 502 upstream_error an "
                              "error was encountered while running the model: "
                              "unexpected EOF|");
  assert_false(A->stream_complete(s));
  A->stream_free(s);

  s = A->stream_new(&P, "m");
  memset(&l, 0, sizeof(l));
  assert_int_equal(feed_lines(s, "{\"model\":\"m\",\"message\":{\"content", &l),
                   SB_EPROTO);
  assert_string_equal(l.text, "ERROR 502 upstream_bad_response The upstream "
                              "provider sent a malformed stream line.|");
  assert_false(A->stream_complete(s));
  A->stream_free(s);

  /* The sink's stop value comes back unchanged. */
  s = A->stream_new(&P, "m");
  memset(&l, 0, sizeof(l));
  l.stop_at = 2;
  assert_int_equal(feed_lines(s,
                              "{\"model\":\"m\",\"message\":{\"role\":"
                              "\"assistant\",\"content\":\"Hi\"},\"done\":"
                              "false}\n",
                              &l),
                   1);
  assert_string_equal(l.text, "START m|TEXT Hi|");
  A->stream_free(s);
}

/* ---- errors ------------------------------------------------------------- */

static void map(const struct prov *p, int status, const char *body,
                const char *ra, struct api_error *err)
{
  memset(err, 0, sizeof(*err));
  A->map_error(p, status, body, body ? strlen(body) : 0, ra, NULL, err);
}

static void test_error_mapping(void **state)
{
  struct prov p = P;
  struct config_provider pass = cp;
  struct api_error e;

  map(&P, 400,
      "{\"error\":\"invalid character 'x' looking for beginning of "
      "value\"}",
      NULL, &e);
  assert_int_equal(e.status, 400);
  assert_string_equal(e.type, "invalid_request_error");
  assert_string_equal(e.code, "");
  assert_string_equal(e.message,
                      "invalid character 'x' looking for beginning of value");

  map(&P, 404,
      "{\"error\":\"model \\\"nope\\\" not found, try pulling it "
      "first\"}",
      NULL, &e);
  assert_int_equal(e.status, 404);
  assert_string_equal(e.code, "model_not_found");
  assert_string_equal(e.message, "model \"nope\" not found, try pulling it "
                                 "first");

  map(&P, 429, "{\"error\":\"too many requests\"}", "7", &e);
  assert_int_equal(e.status, 429);
  assert_string_equal(e.code, "rate_limit_exceeded");
  assert_int_equal(e.retry_after_s, 7);

  map(&P, 500, "{\"error\":\"llama runner process has terminated\"}", NULL, &e);
  assert_int_equal(e.status, 502);
  assert_string_equal(e.type, "upstream_error");
  assert_string_equal(e.code, "upstream_error");
  assert_non_null(strstr(e.message, "llama runner process has terminated"));

  map(&P, 503, "{\"error\":\"server busy\"}", "3", &e);
  assert_int_equal(e.status, 503);
  assert_string_equal(e.code, "upstream_unavailable");
  assert_int_equal(e.retry_after_s, 3);

  map(&P, 502, "not json", NULL, &e);
  assert_int_equal(e.status, 502);

  p.api_key = "sk-secret-key";
  map(&p, 401, "{\"error\":\"bad key sk-secret-key\"}", NULL, &e);
  assert_int_equal(e.status, 502);
  assert_string_equal(e.code, "upstream_auth_failed");
  assert_null(strstr(e.message, "sk-secret"));

  pass.passthrough_auth = 1;
  p.cfg = &pass;
  map(&p, 401, "{\"error\":\"unauthorized\"}", NULL, &e);
  assert_int_equal(e.status, 401);
  assert_string_equal(e.code, "invalid_api_key");

  map(&P, 400, "{\"error\":\"input length exceeds the context length\"}", NULL,
      &e);
  assert_string_equal(e.code, "context_length_exceeded");
}

/* ---- embeddings --------------------------------------------------------- */

/* Validate an embeddings body as the gateway does, then build. */
static cJSON *build_embed_p(const struct prov *p, const char *req, int *rc,
                            struct prov_http *out, struct api_error *err)
{
  cJSON *body = parse(req);
  cJSON *up = NULL;

  assert_int_equal(oai_embed_validate(body, err), 0);
  memset(out, 0, sizeof(*out));
  *rc = A->build_embeddings(p, body, "nomic-embed-text", &NOCLIENT, out, err);
  if(!*rc)
    up = parse(out->body);
  cJSON_Delete(body);
  return up;
}

static void embed_fails(const char *req, const char *code, const char *param)
{
  struct prov_http out;
  struct api_error err;
  int rc;
  cJSON *up = build_embed_p(&P, req, &rc, &out, &err);

  assert_null(up);
  assert_int_equal(rc, SB_EINVAL);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.type, "invalid_request_error");
  assert_string_equal(err.code, code);
  assert_string_equal(err.param, param);
  assert_null(out.body);
  assert_null(out.url);
}

static void test_embed_request(void **state)
{
  struct prov p = P;
  struct prov_http out;
  struct api_error err;
  char cerr[128];
  cJSON *o, *up;
  int rc;

  up = build_embed_p(&P,
                     "{\"model\":\"ollama/nomic-embed-text\",\"input\":"
                     "\"hello world\",\"encoding_format\":\"base64\"}",
                     &rc, &out, &err);
  assert_int_equal(rc, 0);
  assert_json(up, "{\"model\":\"nomic-embed-text\",\"input\":\"hello world\","
                  "\"truncate\":false}");
  assert_string_equal(out.url, "http://127.0.0.1:11434/api/embed");
  assert_true(has_header(&out, "Content-Type: application/json"));
  assert_true(has_header(&out, "Accept: application/json"));
  assert_false(header_prefix(&out, "Authorization:"));
  assert_null(out.dropped);
  cJSON_Delete(up);
  prov_http_free(&out);

  /* Batch, dimensions, the vendor fields, advisory and unknown fields. */
  up = build_embed_p(&P,
                     "{\"model\":\"ollama/nomic-embed-text\",\"input\":[\"a\","
                     "\"b c\"],\"dimensions\":256,\"truncate\":true,"
                     "\"keep_alive\":\"1m\",\"user\":\"u-1\",\"extra\":1,"
                     "\"encoding_format\":\"float\"}",
                     &rc, &out, &err);
  assert_int_equal(rc, 0);
  assert_json(up,
              "{\"model\":\"nomic-embed-text\",\"input\":[\"a\",\"b c\"],"
              "\"dimensions\":256,\"truncate\":true,\"keep_alive\":\"1m\"}");
  assert_string_equal(out.dropped, "user,extra");
  cJSON_Delete(up);
  prov_http_free(&out);

  /* null advisory fields are not reported; null dimensions and truncate
   * are absent. */
  up = build_embed_p(&P,
                     "{\"model\":\"m\",\"input\":\"x\",\"metadata\":null,"
                     "\"dimensions\":null,\"truncate\":null}",
                     &rc, &out, &err);
  assert_int_equal(rc, 0);
  assert_json(up, "{\"model\":\"nomic-embed-text\",\"input\":\"x\","
                  "\"truncate\":false}");
  assert_null(out.dropped);
  cJSON_Delete(up);
  prov_http_free(&out);

  /* Provider options: num_ctx and keep_alive as for chat; the client's
   * keep_alive wins. Credentials as for chat. */
  o = parse("{\"keep_alive\":\"10m\",\"num_ctx\":8192}");
  assert_int_equal(A->configure(&p, o, "x", cerr, sizeof(cerr)), 0);
  cJSON_Delete(o);
  p.api_key = "k-1";
  up =
      build_embed_p(&p, "{\"model\":\"m\",\"input\":[\"x\"]}", &rc, &out, &err);
  assert_int_equal(rc, 0);
  assert_json(up, "{\"model\":\"nomic-embed-text\",\"input\":[\"x\"],"
                  "\"truncate\":false,\"options\":{\"num_ctx\":8192},"
                  "\"keep_alive\":\"10m\"}");
  assert_true(has_header(&out, "Authorization: Bearer k-1"));
  cJSON_Delete(up);
  prov_http_free(&out);
  up = build_embed_p(&p, "{\"model\":\"m\",\"input\":\"x\",\"keep_alive\":0}",
                     &rc, &out, &err);
  assert_int_equal(rc, 0);
  assert_json(get(up, "keep_alive"), "0");
  cJSON_Delete(up);
  prov_http_free(&out);
  A->unconfigure(&p);
}

static void test_embed_refused(void **state)
{
  /* Token ids: Ollama's /api/embed takes text only. */
  embed_fails("{\"model\":\"m\",\"input\":[1,2,3]}", "unsupported_value",
              "input");
  embed_fails("{\"model\":\"m\",\"input\":[[1,2],[3]]}", "unsupported_value",
              "input");
  embed_fails("{\"model\":\"m\",\"input\":[\"a\",[3]]}", "unsupported_value",
              "input");
  embed_fails("{\"model\":\"m\",\"input\":\"a\",\"truncate\":\"no\"}",
              "invalid_type", "truncate");
  embed_fails("{\"model\":\"m\",\"input\":\"a\",\"keep_alive\":true}",
              "invalid_type", "keep_alive");
}

static cJSON *parse_embed(const char *req, const char *body,
                          struct canon_usage *u, int *rc, struct api_error *err)
{
  cJSON *r = parse(req);
  cJSON *out = NULL;

  *rc = A->parse_embeddings(&P, body, strlen(body), r, "nomic-embed-text", &out,
                            u, err);
  cJSON_Delete(r);
  return out;
}

static void test_embed_parse(void **state)
{
  struct canon_usage u;
  struct api_error err;
  cJSON *out;
  int rc;

  out = parse_embed("{\"model\":\"m\",\"input\":\"hi\"}",
                    "{\"model\":\"nomic-embed-text\",\"embeddings\":[[0.5,"
                    "-0.25,0.125]],\"total_duration\":14143917,"
                    "\"load_duration\":1019500,\"prompt_eval_count\":2}",
                    &u, &rc, &err);
  assert_int_equal(rc, 0);
  assert_json(out, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
                   "\"index\":0,\"embedding\":[0.5,-0.25,0.125]}],\"model\":"
                   "\"nomic-embed-text\",\"usage\":{\"prompt_tokens\":2,"
                   "\"total_tokens\":2}}");
  assert_int_equal(u.prompt_tokens, 2);
  assert_int_equal(u.completion_tokens, 0);
  cJSON_Delete(out);

  /* A batch keeps its order; float32 values survive the round trip. */
  out = parse_embed("{\"model\":\"m\",\"input\":[\"a\",\"b\"]}",
                    "{\"model\":\"x\",\"embeddings\":[[0.6684582,0.5077734],"
                    "[-0.09314608,-0.5354005]],\"prompt_eval_count\":7}",
                    &u, &rc, &err);
  assert_int_equal(rc, 0);
  assert_json(get(out, "data"),
              "[{\"object\":\"embedding\",\"index\":0,\"embedding\":"
              "[0.6684582,0.5077734]},{\"object\":\"embedding\",\"index\":1,"
              "\"embedding\":[-0.09314608,-0.5354005]}]");
  assert_json(get(out, "usage"), "{\"prompt_tokens\":7,\"total_tokens\":7}");
  cJSON_Delete(out);

  /* prompt_eval_count left out (Go omitempty): 0. */
  out = parse_embed("{\"model\":\"m\",\"input\":\"a\"}",
                    "{\"model\":\"x\",\"embeddings\":[[1]]}", &u, &rc, &err);
  assert_int_equal(rc, 0);
  assert_int_equal(u.prompt_tokens, 0);
  assert_json(get(out, "usage"), "{\"prompt_tokens\":0,\"total_tokens\":0}");
  cJSON_Delete(out);

  /* An Ollama that ignored dimensions: cut and re-normalised, as Ollama
   * does. */
  out = parse_embed("{\"model\":\"m\",\"input\":\"a\",\"dimensions\":2}",
                    "{\"model\":\"x\",\"embeddings\":[[0.3,0.4,0.866,0.1]]}",
                    &u, &rc, &err);
  assert_int_equal(rc, 0);
  {
    const cJSON *v = get(at(get(out, "data"), 0), "embedding");
    assert_int_equal(cJSON_GetArraySize(v), 2);
    assert_true(fabs(at(v, 0)->valuedouble - 0.6) < 1e-12);
    assert_true(fabs(at(v, 1)->valuedouble - 0.8) < 1e-12);
  }
  cJSON_Delete(out);
  /* Shorter than dimensions (the model's whole vector): left alone. */
  out = parse_embed("{\"model\":\"m\",\"input\":\"a\",\"dimensions\":8}",
                    "{\"model\":\"x\",\"embeddings\":[[0.6,0.8]]}", &u, &rc,
                    &err);
  assert_int_equal(rc, 0);
  assert_json(get(at(get(out, "data"), 0), "embedding"), "[0.6,0.8]");
  cJSON_Delete(out);

  /* Bodies the gateway cannot read: 502 upstream_bad_response. */
  {
    static const char *const bad[] = {
        "not json",
        "{\"model\":\"x\"}",
        "{\"model\":\"x\",\"embeddings\":[]}",
        "{\"model\":\"x\",\"embeddings\":[[0.1],[0.2]]}",
        "{\"model\":\"x\",\"embeddings\":[[]]}",
        "{\"model\":\"x\",\"embeddings\":[[0.1,\"x\"]]}",
        "{\"model\":\"x\",\"embeddings\":[0.1]}",
    };
    for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
      out = parse_embed("{\"model\":\"m\",\"input\":\"a\"}", bad[i], &u, &rc,
                        &err);
      assert_null(out);
      assert_int_equal(rc, SB_EPROTO);
      assert_int_equal(err.status, 502);
      assert_string_equal(err.code, "upstream_bad_response");
    }
  }
  out = parse_embed("{\"model\":\"m\",\"input\":\"a\"}",
                    "{\"error\":\"embedding contains NaN or Inf values\"}", &u,
                    &rc, &err);
  assert_null(out);
  assert_int_equal(rc, SB_EPROTO);
  assert_int_equal(err.status, 502);
  assert_string_equal(err.message, "embedding contains NaN or Inf values");
}

/* ---- models ------------------------------------------------------------- */

static void test_models(void **state)
{
  static const char body[] =
      "{\"models\":[{\"name\":\"llama3.2:latest\",\"model\":"
      "\"llama3.2:latest\",\"size\":1},{\"model\":\"qwen3:8b\"},{}]}";
  struct prov p = P;
  struct prov_http h;
  char **m;
  int n;

  p.api_key = "k";
  A->build_models(&p, &h);
  assert_string_equal(h.url, "http://127.0.0.1:11434/api/tags");
  assert_null(h.body);
  assert_true(has_header(&h, "Authorization: Bearer k"));
  prov_http_free(&h);

  assert_int_equal(A->parse_models(body, strlen(body), &m, &n), 0);
  assert_int_equal(n, 3);
  assert_string_equal(m[0], "llama3.2:latest");
  assert_string_equal(m[1], "llama3.2");
  assert_string_equal(m[2], "qwen3:8b");
  assert_null(m[3]);
  for(int i = 0; i < n; i++)
    free(m[i]);
  free(m);
  assert_int_equal(A->parse_models("{\"data\":[]}", 11, &m, &n), SB_EPROTO);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic_request),
      cmocka_unit_test(test_stream_flag_and_auth),
      cmocka_unit_test(test_tools_and_choice),
      cmocka_unit_test(test_tool_round_trip),
      cmocka_unit_test(test_tool_name_nearest_call),
      cmocka_unit_test(test_bad_tool_arguments),
      cmocka_unit_test(test_images),
      cmocka_unit_test(test_response_format),
      cmocka_unit_test(test_options),
      cmocka_unit_test(test_reasoning_effort),
      cmocka_unit_test(test_dropped_and_refused),
      cmocka_unit_test(test_configure),
      cmocka_unit_test(test_parse_text),
      cmocka_unit_test(test_parse_huge_usage),
      cmocka_unit_test(test_parse_tool_calls),
      cmocka_unit_test(test_parse_bad),
      cmocka_unit_test(test_stream_text),
      cmocka_unit_test(test_stream_reasoning_and_tools),
      cmocka_unit_test(test_stream_errors),
      cmocka_unit_test(test_error_mapping),
      cmocka_unit_test(test_models),
      cmocka_unit_test(test_embed_request),
      cmocka_unit_test(test_embed_refused),
      cmocka_unit_test(test_embed_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
