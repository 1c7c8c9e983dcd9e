/* The Bedrock Converse adapter, without sockets (providers/bedrock.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "base/eventstream.h"
#include "codec/oai_chat.h"
#include "base/sb.h"
#include "providers/bedrock.h"
#include "providers/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct prov_adapter *A = &prov_bedrock_adapter;

#define MODEL "anthropic.claude-3-haiku-20240307-v1:0"

static cJSON *parse(const char *s)
{
  cJSON *j = cJSON_Parse(s);
  if(!j)
    fail_msg("bad JSON in test: %s", s);
  return j;
}

static time_t fixed_clock(void)
{
  return (time_t)1735787045; /* 2025-01-02T03:04:05Z */
}

struct fixture {
  struct config_provider cfg;
  struct prov p;
};

static void set_env(void)
{
  setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
         1);
  unsetenv("AWS_SESSION_TOKEN");
}

static void fx_init(struct fixture *f, const char *options)
{
  char err[256] = "";
  cJSON *o = parse(options ? options : "{\"region\":\"us-east-1\"}");

  set_env();
  memset(f, 0, sizeof(*f));
  f->cfg.name = "br";
  f->cfg.kind = "bedrock";
  f->p.name = "br";
  f->p.kind = PROV_ADAPTER;
  f->p.cfg = &f->cfg;
  f->p.adapter = A;
  f->p.base_url = sb_strdup(PROV_BEDROCK_BASE_URL);
  if(A->configure(&f->p, o, "config: providers[0].options", err, sizeof(err)))
    fail_msg("configure: %s", err);
  prov_bedrock_set_clock(&f->p, fixed_clock);
  cJSON_Delete(o);
}

static void fx_free(struct fixture *f)
{
  A->unconfigure(&f->p);
  assert_null(f->p.priv);
  free(f->p.base_url);
}

static const char *header(const struct prov_http *h, const char *name)
{
  size_t n = strlen(name);
  for(int i = 0; i < h->nheaders; i++)
    if(!strncasecmp(h->headers[i], name, n) && h->headers[i][n] == ':')
      return h->headers[i] + n + 2;
  return NULL;
}

static cJSON *build_model(struct fixture *f, const char *req, const char *model,
                          struct prov_http *out)
{
  cJSON *r = parse(req);
  struct api_error err;
  struct prov_client client = {0};
  cJSON *body;

  memset(&err, 0, sizeof(err));
  if(A->build_chat(&f->p, r, model, &client, out, &err))
    fail_msg("build_chat failed: %s (%s)", err.message, err.param);
  cJSON_Delete(r);
  body = parse(out->body);
  return body;
}

static cJSON *build_ok(struct fixture *f, const char *req,
                       struct prov_http *out)
{
  return build_model(f, req, MODEL, out);
}

static void build_fails_model(struct fixture *f, const char *req,
                              const char *model, const char *code,
                              const char *param)
{
  cJSON *r = parse(req);
  struct api_error err;
  struct prov_client client = {0};
  struct prov_http out;

  memset(&err, 0, sizeof(err));
  assert_int_equal(A->build_chat(&f->p, r, model, &client, &out, &err),
                   SB_EINVAL);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.type, "invalid_request_error");
  assert_string_equal(err.code, code);
  assert_string_equal(err.param, param);
  assert_null(out.body);
  cJSON_Delete(r);
}

static void build_fails(struct fixture *f, const char *req, const char *code,
                        const char *param)
{
  build_fails_model(f, req, MODEL, code, param);
}

static void assert_json(const cJSON *v, const char *expected)
{
  cJSON *e = parse(expected);
  if(!cJSON_Compare(v, e, 1)) {
    char *got = cJSON_PrintUnformatted(v);
    fail_msg("JSON differs:\n got: %s\nwant: %s", got, expected);
  }
  cJSON_Delete(e);
}

/* Build req and compare the whole upstream body. */
static void expect_body(struct fixture *f, const char *req, const char *want)
{
  struct prov_http out;
  cJSON *body = build_ok(f, req, &out);
  assert_json(body, want);
  cJSON_Delete(body);
  prov_http_free(&out);
}

#define U(text)          "{\"role\":\"user\",\"content\":\"" text "\"}"
#define REQ(msgs, extra) "{\"model\":\"m\",\"messages\":[" msgs "]" extra "}"

/* ---- configuration --------------------------------------------------- */

static int configure_err(const char *options, const char *base, char *err,
                         size_t cap)
{
  struct config_provider c = {.name = "br", .kind = "bedrock"};
  struct prov p = {.name = "br", .cfg = &c};
  cJSON *o = options ? parse(options) : NULL;
  int rc;

  p.base_url = base ? sb_strdup(base) : NULL;
  err[0] = '\0';
  rc = A->configure(&p, o, "P", err, cap);
  cJSON_Delete(o);
  if(!rc) {
    snprintf(err, cap, "%s", p.base_url);
    A->unconfigure(&p);
  }
  free(p.base_url);
  return rc;
}

static void test_configure(void **state)
{
  char err[256];
  (void)state;

  set_env();
  assert_int_equal(
      configure_err("{\"region\":\"eu-west-3\"}", NULL, err, sizeof(err)), 0);
  assert_string_equal(err, "https://bedrock-runtime.eu-west-3.amazonaws.com");
  assert_int_equal(configure_err("{\"region\":\"eu-west-3\"}",
                                 PROV_BEDROCK_BASE_URL, err, sizeof(err)),
                   0);
  assert_string_equal(err, "https://bedrock-runtime.eu-west-3.amazonaws.com");
  assert_int_equal(configure_err("{\"region\":\"eu-west-3\"}",
                                 "http://127.0.0.1:9", err, sizeof(err)),
                   0);
  assert_string_equal(err, "http://127.0.0.1:9");

  assert_int_equal(configure_err(NULL, NULL, err, sizeof(err)), SB_ECONFIG);
  assert_non_null(strstr(err, "P.region: required"));
  assert_int_equal(
      configure_err("{\"region\":\"US EAST\"}", NULL, err, sizeof(err)),
      SB_ECONFIG);
  assert_non_null(strstr(err, "P.region"));
  assert_int_equal(configure_err("{\"region\":\"us-east-1\",\"x\":1}", NULL,
                                 err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "P.x: unknown option"));
  assert_int_equal(configure_err("{\"region\":\"us-east-1\","
                                 "\"access_key_env\":5}",
                                 NULL, err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "P.access_key_env"));

  /* Missing variables are named; no secret appears. */
  assert_int_equal(configure_err("{\"region\":\"us-east-1\","
                                 "\"access_key_env\":\"SB_NO_SUCH_AK\"}",
                                 NULL, err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "SB_NO_SUCH_AK"));
  assert_int_equal(configure_err("{\"region\":\"us-east-1\","
                                 "\"secret_key_env\":\"SB_NO_SUCH_SK\"}",
                                 NULL, err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "SB_NO_SUCH_SK"));
  assert_null(strstr(err, "wJalr"));
  /* The default session token variable is optional; a named one not. */
  assert_int_equal(configure_err("{\"region\":\"us-east-1\","
                                 "\"session_token_env\":\"SB_NO_SUCH_ST\"}",
                                 NULL, err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "SB_NO_SUCH_ST"));

  /* unconfigure copes with no priv. */
  {
    struct prov p = {.name = "x"};
    A->unconfigure(&p);
  }
}

/* ---- the HTTP request ------------------------------------------------ */

static void test_url_and_signature(void **state)
{
  struct fixture f;
  struct prov_http out;
  cJSON *body;
  const char *auth;
  (void)state;

  fx_init(&f, NULL);
  body = build_ok(&f, REQ(U("Hello"), ",\"max_tokens\":64"), &out);
  assert_json(body, "{\"messages\":[{\"role\":\"user\",\"content\":[{"
                    "\"text\":\"Hello\"}]}],\"inferenceConfig\":{"
                    "\"maxTokens\":64}}");
  cJSON_Delete(body);
  assert_string_equal(out.url, "https://bedrock-runtime.us-east-1.amazonaws."
                               "com/model/anthropic.claude-3-haiku-20240307-"
                               "v1%3A0/converse");
  assert_null(out.method);
  assert_string_equal(header(&out, "content-type"), "application/json");
  assert_string_equal(header(&out, "accept"), "application/json");
  assert_string_equal(header(&out, "x-amz-date"), "20250102T030405Z");
  assert_string_equal(
      header(&out, "x-amz-content-sha256"),
      "f5b802cc64a01910fd197a46e9e959f3a5795f7728fa5710fb28f1ec3019f545");
  assert_null(header(&out, "x-amz-security-token"));
  auth = header(&out, "Authorization");
  assert_non_null(auth);
  assert_non_null(strstr(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"
                               "20250102/us-east-1/bedrock/aws4_request, "
                               "SignedHeaders=accept;content-type;host;x-amz-"
                               "content-sha256;x-amz-date, Signature="));
  assert_null(strstr(auth, "wJalr"));
  /* The signature is the one sigv4_sign gives for the same request. */
  {
    const char *h[] = {"content-type: application/json",
                       "accept: application/json"};
    struct sigv4_request r = {
        .method = "POST",
        .url = out.url,
        .headers = h,
        .nheaders = 2,
        .body = out.body,
        .body_len = out.body_len,
        .region = "us-east-1",
        .service = "bedrock",
        .access_key = "AKIDEXAMPLE",
        .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        .now = fixed_clock(),
        .flags = SIGV4_SIGN_CONTENT_SHA256,
    };
    struct sigv4_result res;
    assert_int_equal(sigv4_sign(&r, &res), 0);
    assert_string_equal(auth, res.authorization);
    assert_non_null(strstr(res.canonical_request,
                           "/model/anthropic.claude-3-haiku-20240307-v1%253A0/"
                           "converse\n"));
    sigv4_result_free(&res);
  }
  prov_http_free(&out);

  /* Streaming goes to converse-stream and asks for event-stream. */
  body = build_model(&f, REQ(U("Hi"), ",\"stream\":true"),
                     "arn:aws:bedrock:us-east-1:1:inference-profile/x", &out);
  cJSON_Delete(body);
  assert_string_equal(out.url,
                      "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
                      "arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-"
                      "profile%2Fx/converse-stream");
  assert_string_equal(header(&out, "accept"),
                      "application/vnd.amazon.eventstream");
  prov_http_free(&out);
  fx_free(&f);

  /* A session token is sent and signed. */
  setenv("SB_TEST_ST", "tok/en+=", 1);
  fx_init(&f, "{\"region\":\"us-west-2\",\"session_token_env\":"
              "\"SB_TEST_ST\"}");
  body = build_ok(&f, REQ(U("Hi"), ""), &out);
  cJSON_Delete(body);
  assert_string_equal(header(&out, "x-amz-security-token"), "tok/en+=");
  assert_non_null(strstr(header(&out, "Authorization"),
                         "/us-west-2/bedrock/aws4_request, SignedHeaders="
                         "accept;content-type;host;x-amz-content-sha256;"
                         "x-amz-date;x-amz-security-token, "));
  prov_http_free(&out);
  fx_free(&f);
}

/* ---- request translation --------------------------------------------- */

static void test_system_and_turns(void **state)
{
  struct fixture f;
  (void)state;

  fx_init(&f, NULL);
  expect_body(
      &f,
      REQ("{\"role\":\"system\",\"content\":\"Be terse.\"},"
          "{\"role\":\"developer\",\"content\":[{\"type\":\"text\","
          "\"text\":\"Use French.\"}]}," U(
              "Hi") ","
                    "{\"role\":\"assistant\",\"content\":\"Salut\"}," U(
                        "Again") ","
                                 "{\"role\":\"user\",\"content\":[{\"type\":"
                                 "\"text\",\"text\":"
                                 "\"and more\"}]}",
          ""),
      "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Hi\"}]},"
      "{\"role\":\"assistant\",\"content\":[{\"text\":\"Salut\"}]},"
      "{\"role\":\"user\",\"content\":[{\"text\":\"Again\"},{\"text\":"
      "\"and more\"}]}],"
      "\"system\":[{\"text\":\"Be terse.\"},{\"text\":\"Use French.\"}]}");
  build_fails(&f, REQ("{\"role\":\"system\",\"content\":\"x\"}", ""),
              "invalid_value", "messages");
  fx_free(&f);
}

static void test_sampling(void **state)
{
  struct fixture f;
  (void)state;

  fx_init(&f, NULL);
  expect_body(&f,
              REQ(U("Hi"), ",\"max_completion_tokens\":10,\"max_tokens\":99,"
                           "\"temperature\":0.5,\"top_p\":0.9,\"stop\":[\"a\","
                           "\"b\"],\"top_k\":40,\"presence_penalty\":0"),
              "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":"
              "\"Hi\"}]}],\"inferenceConfig\":{\"maxTokens\":10,"
              "\"temperature\":0.5,\"topP\":0.9,\"stopSequences\":[\"a\","
              "\"b\"]},\"additionalModelRequestFields\":{\"top_k\":40}}");
  expect_body(&f, REQ(U("Hi"), ",\"stop\":\"END\""),
              "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":"
              "\"Hi\"}]}],\"inferenceConfig\":{\"stopSequences\":[\"END\"]}}");
  build_fails(&f, REQ(U("Hi"), ",\"seed\":1"), "unsupported_parameter", "seed");
  build_fails(&f, REQ(U("Hi"), ",\"presence_penalty\":0.5"),
              "unsupported_parameter", "presence_penalty");
  build_fails(&f, REQ(U("Hi"), ",\"frequency_penalty\":1"),
              "unsupported_parameter", "frequency_penalty");
  build_fails(&f, REQ(U("Hi"), ",\"temperature\":1.5"), "unsupported_value",
              "temperature");
  build_fails(&f, REQ(U("Hi"), ",\"n\":2"), "unsupported_parameter", "n");
  build_fails(&f, REQ(U("Hi"), ",\"top_k\":1.5"), "invalid_type", "top_k");
  build_fails(&f,
              REQ(U("Hi"), ",\"prediction\":{\"type\":\"content\","
                           "\"content\":\"x\"}"),
              "unsupported_parameter", "prediction");

  /* Advisory fields are dropped and reported. */
  {
    struct prov_http out;
    cJSON *body = build_ok(&f,
                           REQ(U("Hi"), ",\"user\":\"u\",\"metadata\":{\"a\":"
                                        "\"b\"},\"store\":true,"
                                        "\"service_tier\":\"auto\""),
                           &out);
    assert_json(body, "{\"messages\":[{\"role\":\"user\",\"content\":[{"
                      "\"text\":\"Hi\"}]}]}");
    assert_string_equal(out.dropped, "user,metadata,store,service_tier");
    cJSON_Delete(body);
    prov_http_free(&out);
  }
  fx_free(&f);
}

static void test_reasoning_effort(void **state)
{
  struct fixture f;
  (void)state;

  fx_init(&f, NULL);
  expect_body(&f,
              REQ(U("Hi"), ",\"reasoning_effort\":\"low\",\"max_tokens\":"
                           "500"),
              "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":"
              "\"Hi\"}]}],\"inferenceConfig\":{\"maxTokens\":1524},"
              "\"additionalModelRequestFields\":{\"thinking\":{\"type\":"
              "\"enabled\",\"budget_tokens\":1024}}}");
  expect_body(&f, REQ(U("Hi"), ",\"reasoning_effort\":\"none\""),
              "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":"
              "\"Hi\"}]}]}");
  build_fails(&f, REQ(U("Hi"), ",\"reasoning_effort\":\"huge\""),
              "invalid_value", "reasoning_effort");
  build_fails_model(&f, REQ(U("Hi"), ",\"reasoning_effort\":\"high\""),
                    "amazon.nova-pro-v1:0", "unsupported_parameter",
                    "reasoning_effort");
  fx_free(&f);
}

#define TOOL                                                                   \
  "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","             \
  "\"description\":\"Weather\",\"parameters\":{\"type\":\"object\","           \
  "\"properties\":{\"city\":{\"type\":\"string\"}}}}}"
#define TOOL2 "{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}"
#define SPEC                                                                   \
  "{\"toolSpec\":{\"name\":\"get_weather\",\"description\":\"Weather\","       \
  "\"inputSchema\":{\"json\":{\"type\":\"object\",\"properties\":{\"city\":{"  \
  "\"type\":\"string\"}}}}}}"
#define SPEC2                                                                  \
  "{\"toolSpec\":{\"name\":\"get_time\",\"inputSchema\":{\"json\":{"           \
  "\"type\":\"object\",\"properties\":{}}}}}"
#define HI_MSG "{\"role\":\"user\",\"content\":[{\"text\":\"Hi\"}]}"

static void test_tools_and_choice(void **state)
{
  struct fixture f;
  (void)state;

  fx_init(&f, NULL);
  expect_body(&f, REQ(U("Hi"), ",\"tools\":[" TOOL "," TOOL2 "]"),
              "{\"messages\":[" HI_MSG "],\"toolConfig\":{\"tools\":[" SPEC
              "," SPEC2 "]}}");
  expect_body(&f,
              REQ(U("Hi"), ",\"tools\":[" TOOL "],\"tool_choice\":\"auto\""),
              "{\"messages\":[" HI_MSG "],\"toolConfig\":{\"tools\":[" SPEC
              "],\"toolChoice\":{\"auto\":{}}}}");
  expect_body(
      &f, REQ(U("Hi"), ",\"tools\":[" TOOL "],\"tool_choice\":\"required\""),
      "{\"messages\":[" HI_MSG "],\"toolConfig\":{\"tools\":[" SPEC
      "],\"toolChoice\":{\"any\":{}}}}");
  expect_body(&f,
              REQ(U("Hi"), ",\"tools\":[" TOOL "],\"tool_choice\":{\"type\":"
                           "\"function\",\"function\":{\"name\":"
                           "\"get_weather\"}}"),
              "{\"messages\":[" HI_MSG "],\"toolConfig\":{\"tools\":[" SPEC
              "],\"toolChoice\":{\"tool\":{\"name\":\"get_weather\"}}}}");
  /* none: the tools are left out. */
  expect_body(&f,
              REQ(U("Hi"), ",\"tools\":[" TOOL "],\"tool_choice\":\"none\""),
              "{\"messages\":[" HI_MSG "]}");
  build_fails(&f,
              REQ(U("Hi") ",{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
                          "\"c1\",\"type\":\"function\",\"function\":{"
                          "\"name\":\"get_weather\",\"arguments\":\"{}\"}}]},"
                          "{\"role\":\"tool\",\"tool_call_id\":\"c1\","
                          "\"content\":\"ok\"}",
                  ",\"tools\":[" TOOL "],\"tool_choice\":\"none\""),
              "unsupported_value", "tool_choice");
  build_fails(&f,
              REQ(U("Hi"), ",\"tools\":[" TOOL "],\"parallel_tool_calls\":"
                           "false"),
              "unsupported_parameter", "parallel_tool_calls");
  fx_free(&f);
}

/* Bedrock's own signed reasoning goes back first in its assistant turn;
 * Anthropic's never does. A turn without tools after a tool loop sends
 * the loop as text: Bedrock refuses tool blocks without toolConfig. */
static void test_reasoning_back_and_tools_as_text(void **state)
{
  struct fixture f;
  struct prov_http out;
  const cJSON *asst, *c0;
  cJSON *body;
  char *raw;
  (void)state;

  fx_init(&f, NULL);
  memset(&out, 0, sizeof(out));
  body = build_ok(
      &f,
      REQ(U("get_weather in Lima") ","
                                   "{\"role\":\"assistant\",\"content\":null,"
                                   "\"reasoning_details\":["
                                   "{\"type\":\"reasoning.text\",\"text\":"
                                   "\"t1\","
                                   "\"signature\":\"S1\",\"format\":"
                                   "\"bedrock-converse-v1\"},"
                                   "{\"type\":\"reasoning.text\",\"text\":"
                                   "\"t2\","
                                   "\"signature\":\"A1\",\"format\":"
                                   "\"anthropic-claude-v1\"}],"
                                   "\"tool_calls\":[{\"id\":\"call_1\","
                                   "\"type\":\"function\",\"function\":{"
                                   "\"name\":"
                                   "\"get_weather\",\"arguments\":"
                                   "\"{\\\"city\\\":\\\"Lima\\\"}\"}}]},"
                                   "{\"role\":\"tool\",\"tool_call_id\":\"call_"
                                   "1\","
                                   "\"content\":\"18C\"}," U("Thanks"),
          ""),
      &out);
  asst = cJSON_GetArrayItem(cJSON_GetObjectItem(body, "messages"), 1);
  c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(asst, "content"), 0);
  assert_string_equal(
      cJSON_GetObjectItem(
          cJSON_GetObjectItem(cJSON_GetObjectItem(c0, "reasoningContent"),
                              "reasoningText"),
          "signature")
          ->valuestring,
      "S1");
  raw = cJSON_PrintUnformatted(body);
  assert_null(strstr(raw, "A1"));          /* Anthropic's stays out */
  assert_null(strstr(raw, "\"toolUse\"")); /* no tools this turn: text */
  assert_non_null(strstr(raw, "[tool call call_1 get_weather: "));
  assert_non_null(strstr(raw, "[tool result call_1: 18C]"));
  assert_null(cJSON_GetObjectItem(body, "toolConfig"));
  free(raw);
  cJSON_Delete(body);
  prov_http_free(&out);
  fx_free(&f);
}

static void test_tool_round_trip(void **state)
{
  struct fixture f;
  (void)state;

  fx_init(&f, NULL);
  /* Parallel calls in one assistant turn, two tool results and a user
   * message merged into one user turn. */
  expect_body(
      &f,
      REQ(U("Weather?") ","
                        "{\"role\":\"assistant\",\"content\":null,"
                        "\"tool_calls\":["
                        "{\"id\":\"call_1\",\"type\":\"function\","
                        "\"function\":{\"name\":\"get_weather\","
                        "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
                        "{\"id\":\"call_2\",\"type\":\"function\","
                        "\"function\":{\"name\":\"get_time\","
                        "\"arguments\":\"\"}}]},"
                        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\","
                        "\"content\":\"sunny\"},"
                        "{\"role\":\"tool\",\"tool_call_id\":\"call_2\","
                        "\"content\":[{\"type\":\"text\",\"text\":\"noon\"}]},"
                        "{\"role\":\"tool\",\"tool_call_id\":\"call_2\","
                        "\"content\":\"\"}," U("Thanks"),
          ",\"tools\":[" TOOL "," TOOL2 "]"),
      "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":"
      "\"Weather?\"}]},{\"role\":\"assistant\",\"content\":["
      "{\"toolUse\":{\"toolUseId\":\"call_1\",\"name\":\"get_weather\","
      "\"input\":{\"city\":\"Paris\"}}},"
      "{\"toolUse\":{\"toolUseId\":\"call_2\",\"name\":\"get_time\","
      "\"input\":{}}}]},"
      "{\"role\":\"user\",\"content\":["
      "{\"toolResult\":{\"toolUseId\":\"call_1\",\"content\":[{\"text\":"
      "\"sunny\"}]}},"
      "{\"toolResult\":{\"toolUseId\":\"call_2\",\"content\":[{\"text\":"
      "\"noon\"}]}},"
      "{\"toolResult\":{\"toolUseId\":\"call_2\",\"content\":[]}},"
      "{\"text\":\"Thanks\"}]}],"
      "\"toolConfig\":{\"tools\":[" SPEC "," SPEC2 "]}}");
  build_fails(&f,
              REQ(U("Hi") ",{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
                          "\"c1\",\"type\":\"function\",\"function\":{"
                          "\"name\":\"f\",\"arguments\":\"{bad\"}}]}",
                  ""),
              "invalid_value", "messages[1].tool_calls[0].function.arguments");
  build_fails(&f,
              REQ(U("Hi") ",{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
                          "\"c1\",\"type\":\"function\",\"function\":{"
                          "\"name\":\"f\",\"arguments\":\"[1]\"}}]}",
                  ""),
              "invalid_value", "messages[1].tool_calls[0].function.arguments");
  build_fails(&f,
              REQ(U("Hi") ",{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
                          "\"bad id!\",\"type\":\"function\",\"function\":{"
                          "\"name\":\"f\",\"arguments\":\"{}\"}}]}",
                  ""),
              "invalid_value", "messages[1].tool_calls[0].id");
  fx_free(&f);
}

static void test_images_and_files(void **state)
{
  struct fixture f;
  (void)state;

  fx_init(&f, NULL);
  expect_body(&f,
              REQ("{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                  "\"text\":\"What is it?\"},{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"data:image/PNG;base64,iVBOR\"}},"
                  "{\"type\":\"file\",\"file\":{\"filename\":\"a.pdf\","
                  "\"file_data\":\"data:application/pdf;base64,JVBE\"}}]}",
                  ""),
              "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":"
              "\"What is it?\"},{\"image\":{\"format\":\"png\",\"source\":{"
              "\"bytes\":\"iVBOR\"}}},{\"document\":{\"format\":\"pdf\","
              "\"name\":\"document-1\",\"source\":{\"bytes\":\"JVBE\"}}}]}]}");
  build_fails(&f,
              REQ("{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"https://x/y.png\"}}]}",
                  ""),
              "unsupported_value", "messages[0].content[0]");
  build_fails(&f,
              REQ("{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                  "\"text\":\"a\"},{\"type\":\"image_url\",\"image_url\":{"
                  "\"url\":\"data:image/bmp;base64,Qk0\"}}]}",
                  ""),
              "unsupported_value", "messages[0].content[1]");
  build_fails(&f,
              REQ("{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"data:image/png,xyz\"}}]}",
                  ""),
              "invalid_value", "messages[0].content[0]");
  fx_free(&f);
}

static void test_response_format(void **state)
{
  struct fixture f;
  (void)state;

  fx_init(&f, NULL);
  expect_body(&f,
              REQ(U("Hi"), ",\"response_format\":{\"type\":\"json_schema\","
                           "\"json_schema\":{\"name\":\"person\",\"schema\":{"
                           "\"type\":\"object\",\"properties\":{\"name\":{"
                           "\"type\":\"string\"}}},\"strict\":true}}"),
              "{\"messages\":[" HI_MSG "],\"outputConfig\":{\"textFormat\":{"
              "\"type\":\"json_schema\",\"structure\":{\"jsonSchema\":{"
              "\"schema\":\"{\\\"type\\\":\\\"object\\\",\\\"properties\\\":{"
              "\\\"name\\\":{\\\"type\\\":\\\"string\\\"}}}\",\"name\":"
              "\"person\"}}}}}");
  expect_body(&f, REQ(U("Hi"), ",\"response_format\":{\"type\":\"text\"}"),
              "{\"messages\":[" HI_MSG "]}");
  build_fails(&f,
              REQ(U("Hi"), ",\"response_format\":{\"type\":"
                           "\"json_object\"}"),
              "unsupported_value", "response_format.type");
  fx_free(&f);
}

/* ---- responses ------------------------------------------------------- */

static cJSON *parse_ok(struct fixture *f, const char *body,
                       struct canon_usage *u)
{
  cJSON *out = NULL;
  struct api_error err;

  if(A->parse_chat(&f->p, body, strlen(body), "m", "chatcmpl-1", 42, &out, u,
                   &err))
    fail_msg("parse_chat failed: %s", err.message);
  return out;
}

static void test_parse_text_and_usage(void **state)
{
  struct fixture f;
  struct canon_usage u;
  cJSON *out;
  (void)state;

  fx_init(&f, NULL);
  out = parse_ok(&f,
                 "{\"output\":{\"message\":{\"role\":\"assistant\","
                 "\"content\":[{\"reasoningContent\":{\"reasoningText\":{"
                 "\"text\":\"hmm\",\"signature\":\"s\"}}},{\"text\":\"Hel\"},"
                 "{\"text\":\"lo\"}]}},\"stopReason\":\"end_turn\",\"usage\":"
                 "{\"inputTokens\":30,\"outputTokens\":12,\"totalTokens\":50,"
                 "\"cacheReadInputTokens\":5,\"cacheWriteInputTokens\":3},"
                 "\"metrics\":{\"latencyMs\":1}}",
                 &u);
  assert_json(out,
              "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
              "\"created\":42,\"model\":\"m\",\"choices\":[{\"index\":0,"
              "\"message\":{\"role\":\"assistant\",\"content\":\"Hello\","
              "\"reasoning_content\":\"hmm\",\"refusal\":null,"
              /* signed: Bedrock gets it back verbatim, and only Bedrock */
              "\"reasoning_details\":[{\"type\":\"reasoning.text\","
              "\"text\":\"hmm\",\"signature\":\"s\","
              "\"format\":\"bedrock-converse-v1\"}]},\"logprobs\":"
              "null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":"
              "38,\"completion_tokens\":12,\"total_tokens\":50,"
              "\"prompt_tokens_details\":{\"cached_tokens\":5}}}");
  assert_int_equal(u.prompt_tokens, 38);
  assert_int_equal(u.completion_tokens, 12);
  assert_int_equal(u.cached_tokens, 5);
  assert_int_equal(u.reasoning_tokens, -1);
  cJSON_Delete(out);

  /* No usage at all. */
  out = parse_ok(&f, "{\"output\":{\"message\":{\"content\":[]}}}", &u);
  assert_null(cJSON_GetObjectItem(out, "usage"));
  assert_int_equal(u.prompt_tokens, -1);
  cJSON_Delete(out);

  {
    struct api_error err;
    const char *bad = "{\"message\":\"hi\"}";
    out = NULL;
    assert_int_equal(
        A->parse_chat(&f.p, bad, strlen(bad), "m", "c", 1, &out, &u, &err),
        SB_EPROTO);
    assert_int_equal(err.status, 502);
    assert_null(out);
  }
  fx_free(&f);
}

static void test_parse_tools_and_finish(void **state)
{
  static const struct {
    const char *stop, *finish;
  } MAP[] = {
      {"end_turn", "stop"},
      {"stop_sequence", "stop"},
      {"max_tokens", "length"},
      {"model_context_window_exceeded", "length"},
      {"tool_use", "tool_calls"},
      {"guardrail_intervened", "content_filter"},
      {"content_filtered", "content_filter"},
      {"malformed_model_output", "stop"},
      {"malformed_tool_use", "stop"},
  };
  struct fixture f;
  struct canon_usage u;
  cJSON *out;
  char body[512];
  (void)state;

  fx_init(&f, NULL);
  out = parse_ok(&f,
                 "{\"output\":{\"message\":{\"role\":\"assistant\","
                 "\"content\":[{\"toolUse\":{\"toolUseId\":\"tooluse_1\","
                 "\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}},"
                 "{\"toolUse\":{\"toolUseId\":\"tooluse_2\",\"name\":"
                 "\"get_time\",\"input\":{}}}]}},\"stopReason\":\"tool_use\"}",
                 &u);
  assert_json(cJSON_GetObjectItem(out, "choices"),
              "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
              "null,\"tool_calls\":[{\"id\":\"tooluse_1\",\"type\":"
              "\"function\",\"function\":{\"name\":\"get_weather\","
              "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},{\"id\":"
              "\"tooluse_2\",\"type\":\"function\",\"function\":{\"name\":"
              "\"get_time\",\"arguments\":\"{}\"}}],\"refusal\":null},"
              "\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]");
  cJSON_Delete(out);
  for(size_t i = 0; i < SB_ARRAY_LEN(MAP); i++) {
    snprintf(body, sizeof(body),
             "{\"output\":{\"message\":{\"content\":[{\"text\":\"x\"}]}},"
             "\"stopReason\":\"%s\"}",
             MAP[i].stop);
    out = parse_ok(&f, body, &u);
    assert_string_equal(
        cJSON_GetObjectItem(
            cJSON_GetArrayItem(cJSON_GetObjectItem(out, "choices"), 0),
            "finish_reason")
            ->valuestring,
        MAP[i].finish);
    cJSON_Delete(out);
  }
  fx_free(&f);
}

/* ---- streams --------------------------------------------------------- */

struct rec {
  char lines[64][256];
  int n;
};

static int rec_emit(void *ud, const struct canon_ev *ev)
{
  struct rec *r = ud;
  char *l = r->lines[r->n];
  size_t cap = sizeof(r->lines[0]);

  assert_true(r->n < 64);
  switch(ev->type) {
  case CANON_EV_START: snprintf(l, cap, "start"); break;
  case CANON_EV_TEXT:
    snprintf(l, cap, "text %.*s", (int)ev->len, ev->text);
    break;
  case CANON_EV_REASONING:
    snprintf(l, cap, "reasoning %.*s sig=%s", (int)ev->len, ev->text,
             ev->signature ? ev->signature : "-");
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
  return 0;
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

#define EV_START   "messageStart\t{\"role\":\"assistant\"}"
#define EV_STOP(r) "messageStop\t{\"stopReason\":\"" r "\"}"
#define EV_META                                                                \
  "metadata\t{\"usage\":{\"inputTokens\":10,\"outputTokens\":4,"               \
  "\"totalTokens\":16,\"cacheReadInputTokens\":2},\"metrics\":{"               \
  "\"latencyMs\":5}}"

static void test_stream_text(void **state)
{
  static const char *const in[] = {
      EV_START,
      "contentBlockDelta\t{\"contentBlockIndex\":0,\"delta\":{\"text\":"
      "\"Hel\"},\"p\":\"abcd\"}",
      "contentBlockDelta\t{\"contentBlockIndex\":0,\"delta\":{\"text\":"
      "\"lo\"}}",
      "contentBlockStop\t{\"contentBlockIndex\":0}",
      EV_STOP("end_turn"),
      EV_META,
  };
  static const char *const want[] = {
      "start", "text Hel", "text lo", "finish stop", "usage 12 4 2 -1",
  };
  struct prov_stream *s = A->stream_new(NULL, "m");
  struct rec r = {0};
  (void)state;

  assert_int_equal(feed_all(s, &r, in, 5), 0);
  assert_false(A->stream_complete(s));
  assert_int_equal(feed_all(s, &r, in + 5, 1), 0);
  assert_true(A->stream_complete(s));
  expect_lines(&r, want, SB_ARRAY_LEN(want));
  A->stream_free(s);
}

static void test_stream_tools(void **state)
{
  static const char *const in[] = {
      EV_START,
      "contentBlockDelta\t{\"contentBlockIndex\":0,\"delta\":{\"text\":"
      "\"Checking.\"}}",
      "contentBlockStop\t{\"contentBlockIndex\":0}",
      "contentBlockStart\t{\"contentBlockIndex\":1,\"start\":{\"toolUse\":{"
      "\"toolUseId\":\"tooluse_a\",\"name\":\"get_weather\"}}}",
      "contentBlockDelta\t{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":{"
      "\"input\":\"{\\\"city\\\":\"}}}",
      "contentBlockDelta\t{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":{"
      "\"input\":\"\\\"Paris\\\"}\"}}}",
      "contentBlockStop\t{\"contentBlockIndex\":1}",
      "contentBlockStart\t{\"contentBlockIndex\":2,\"start\":{\"toolUse\":{"
      "\"toolUseId\":\"tooluse_b\",\"name\":\"get_time\"}}}",
      "contentBlockDelta\t{\"contentBlockIndex\":2,\"delta\":{\"toolUse\":{"
      "\"input\":\"{}\"}}}",
      "contentBlockStop\t{\"contentBlockIndex\":2}",
      EV_STOP("tool_use"),
      EV_META,
  };
  static const char *const want[] = {
      "start",
      "text Checking.",
      "tool_start 0 tooluse_a get_weather",
      "tool_args 0 {\"city\":",
      "tool_args 0 \"Paris\"}",
      "tool_start 1 tooluse_b get_time",
      "tool_args 1 {}",
      "finish tool_calls",
      "usage 12 4 2 -1",
  };
  struct prov_stream *s = A->stream_new(NULL, "m");
  struct rec r = {0};
  (void)state;

  assert_int_equal(feed_all(s, &r, in, SB_ARRAY_LEN(in)), 0);
  expect_lines(&r, want, SB_ARRAY_LEN(want));
  assert_true(A->stream_complete(s));
  A->stream_free(s);
}

static void test_stream_reasoning(void **state)
{
  static const char *const in[] = {
      EV_START,
      "contentBlockDelta\t{\"contentBlockIndex\":0,\"delta\":{"
      "\"reasoningContent\":{\"text\":\"think\"}}}",
      "contentBlockDelta\t{\"contentBlockIndex\":0,\"delta\":{"
      "\"reasoningContent\":{\"signature\":\"SIG\"}}}",
      "contentBlockDelta\t{\"contentBlockIndex\":0,\"delta\":{"
      "\"reasoningContent\":{\"redactedContent\":\"AAA\"}}}",
      "contentBlockDelta\t{\"contentBlockIndex\":1,\"delta\":{\"text\":"
      "\"ok\"}}",
      EV_STOP("max_tokens"),
      "metadata\t{\"usage\":{\"inputTokens\":1,\"outputTokens\":2}}",
  };
  static const char *const want[] = {
      "start",
      "reasoning think sig=-",
      "reasoning  sig=SIG",
      "reasoning  sig=-", /* the redacted block, its data kept */
      "text ok",
      "finish length",
      "usage 1 2 0 -1",
  };
  struct prov_stream *s = A->stream_new(NULL, "m");
  struct rec r = {0};
  (void)state;

  assert_int_equal(feed_all(s, &r, in, SB_ARRAY_LEN(in)), 0);
  expect_lines(&r, want, SB_ARRAY_LEN(want));
  A->stream_free(s);
}

static void test_stream_errors(void **state)
{
  struct rec r = {0};
  struct prov_stream *s;
  (void)state;

  {
    static const char *const in[] = {
        EV_START,
        "contentBlockDelta\t{\"contentBlockIndex\":0,\"delta\":{\"text\":"
        "\"a\"}}",
        "throttlingException\t{\"message\":\"Too many requests, please "
        "wait before trying again.\"}",
    };
    static const char *const want[] = {
        "start",
        "text a",
        "error 429 upstream_error throttlingException Too many requests, "
        "please wait before trying again.",
    };
    s = A->stream_new(NULL, "m");
    assert_int_equal(feed_all(s, &r, in, SB_ARRAY_LEN(in)), SB_EIO);
    expect_lines(&r, want, SB_ARRAY_LEN(want));
    assert_false(A->stream_complete(s));
    /* Nothing more after an error. */
    assert_int_equal(feed_all(s, &r, in, 1), SB_EPROTO);
    assert_int_equal(r.n, 3);
    A->stream_free(s);
  }
  {
    static const char *const in[] = {
        "modelStreamErrorException\t{\"message\":\"boom\","
        "\"originalStatusCode\":500}",
    };
    static const char *const want[] = {
        "error 502 upstream_error modelStreamErrorException boom",
    };
    memset(&r, 0, sizeof(r));
    s = A->stream_new(NULL, "m");
    assert_int_equal(feed_all(s, &r, in, 1), SB_EIO);
    expect_lines(&r, want, 1);
    A->stream_free(s);
  }
  {
    static const char *const in[] = {
        "serviceUnavailableException\t{\"message\":\"busy\"}",
    };
    memset(&r, 0, sizeof(r));
    s = A->stream_new(NULL, "m");
    assert_int_equal(feed_all(s, &r, in, 1), SB_EIO);
    assert_non_null(strstr(r.lines[0], "error 503 upstream_error"));
    A->stream_free(s);
  }
  {
    /* Unmodelled error message: event = :error-code, data = message. */
    struct canon_sink sink = {rec_emit, &r};
    struct prov_payload pl = {"InternalFailure", 15, "Internal failure", 16, 1};
    memset(&r, 0, sizeof(r));
    s = A->stream_new(NULL, "m");
    assert_int_equal(A->stream_feed(s, &pl, &sink), SB_EIO);
    assert_string_equal(r.lines[0], "error 502 upstream_error "
                                    "InternalFailure The upstream provider "
                                    "failed mid-stream: Internal failure");
    A->stream_free(s);
    /* An exception flagged by the framer whose name is unknown. */
    {
      struct prov_payload px = {"weirdThing", 10, "{\"message\":\"odd\"}", 17,
                                1};
      memset(&r, 0, sizeof(r));
      s = A->stream_new(NULL, "m");
      assert_int_equal(A->stream_feed(s, &px, &sink), SB_EIO);
      assert_string_equal(r.lines[0],
                          "error 502 upstream_error weirdThing odd");
      A->stream_free(s);
    }
  }
  {
    /* Malformed payloads. */
    static const char *const bad[] = {
        "contentBlockDelta\t{not json",
        "contentBlockDelta\t{\"contentBlockIndex\":-1,\"delta\":{\"text\":"
        "\"a\"}}",
        "contentBlockDelta\t{\"contentBlockIndex\":0,\"delta\":{\"toolUse\":"
        "{\"input\":\"{}\"}}}",
        "\t{}",
    };
    for(size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
      memset(&r, 0, sizeof(r));
      s = A->stream_new(NULL, "m");
      assert_int_equal(feed_all(s, &r, bad + i, 1), SB_EPROTO);
      assert_non_null(strstr(r.lines[r.n - 1], "error 502 upstream_error "
                                               "upstream_bad_response"));
      A->stream_free(s);
    }
  }
  {
    /* metadata before messageStop does not complete the stream. */
    static const char *const in[] = {EV_START, EV_META};
    memset(&r, 0, sizeof(r));
    s = A->stream_new(NULL, "m");
    assert_int_equal(feed_all(s, &r, in, 2), 0);
    assert_false(A->stream_complete(s));
    A->stream_free(s);
  }
}

/* ---- through the event-stream framer --------------------------------- */

static void put_hdr(struct buf *b, const char *name, const char *value)
{
  unsigned char t[3];
  size_t vl = strlen(value);
  t[0] = (unsigned char)strlen(name);
  buf_append(b, t, 1);
  buf_appendz(b, name);
  t[0] = 7;
  t[1] = (unsigned char)(vl >> 8);
  t[2] = (unsigned char)vl;
  buf_append(b, t, 3);
  buf_appendz(b, value);
}

static void put_be32(unsigned char *p, uint32_t v)
{
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* Append one frame: kind "event" or "exception". */
static void frame(struct buf *out, const char *kind, const char *type,
                  const char *payload)
{
  struct buf h;
  unsigned char pre[12], crc[4];
  size_t start = out->len, total;

  buf_init(&h, 4096);
  put_hdr(&h, !strcmp(kind, "event") ? ":event-type" : ":exception-type", type);
  put_hdr(&h, ":content-type", "application/json");
  put_hdr(&h, ":message-type", kind);
  total = 16 + h.len + strlen(payload);
  put_be32(pre, (uint32_t)total);
  put_be32(pre + 4, (uint32_t)h.len);
  put_be32(pre + 8, eventstream_crc32(0, pre, 8));
  buf_append(out, pre, 12);
  buf_append(out, h.data, h.len);
  buf_appendz(out, payload);
  put_be32(crc, eventstream_crc32(0, out->data + start, total - 4));
  buf_append(out, crc, 4);
  buf_free(&h);
}

struct bridge {
  struct prov_stream *s;
  struct canon_sink sink;
};

/* What the gateway does for PROV_FRAMING_EVENTSTREAM (bedrock.h). */
static int on_frame(void *ud, const struct eventstream_msg *m)
{
  struct bridge *b = ud;
  struct prov_payload pl = {m->event_type, m->event_type_len, m->payload,
                            m->payload_len};

  if(m->message_type_len == 9 && !memcmp(m->message_type, "exception", 9)) {
    pl.event = m->exception_type;
    pl.event_len = m->exception_type_len;
    pl.exception = 1;
  } else if(m->message_type_len == 5 && !memcmp(m->message_type, "error", 5)) {
    pl.event = m->error_code;
    pl.event_len = m->error_code_len;
    pl.data = m->error_message;
    pl.len = m->error_message_len;
    pl.exception = 1;
  }
  return A->stream_feed(b->s, &pl, &b->sink);
}

static void test_stream_through_framer(void **state)
{
  static const char *const want[] = {
      "start",
      "text Hi",
      "tool_start 0 tooluse_a get_weather",
      "tool_args 0 {\"city\":",
      "tool_args 0 \"Paris\"}",
      "finish tool_calls",
      "usage 12 4 2 -1",
  };
  struct buf all;
  (void)state;

  buf_init(&all, 1 << 16);
  frame(&all, "event", "messageStart", "{\"role\":\"assistant\"}");
  frame(&all, "event", "contentBlockDelta",
        "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}");
  frame(&all, "event", "contentBlockStop", "{\"contentBlockIndex\":0}");
  frame(&all, "event", "contentBlockStart",
        "{\"contentBlockIndex\":1,\"start\":{\"toolUse\":{\"toolUseId\":"
        "\"tooluse_a\",\"name\":\"get_weather\"}}}");
  frame(&all, "event", "contentBlockDelta",
        "{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":{\"input\":"
        "\"{\\\"city\\\":\"}}}");
  frame(&all, "event", "contentBlockDelta",
        "{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":{\"input\":"
        "\"\\\"Paris\\\"}\"}}}");
  frame(&all, "event", "contentBlockStop", "{\"contentBlockIndex\":1}");
  frame(&all, "event", "messageStop", "{\"stopReason\":\"tool_use\"}");
  frame(&all, "event", "metadata",
        "{\"usage\":{\"inputTokens\":10,\"outputTokens\":4,\"totalTokens\":"
        "16,\"cacheReadInputTokens\":2},\"metrics\":{\"latencyMs\":5}}");

  for(size_t cut = 0; cut <= all.len; cut++) {
    struct rec r = {0};
    struct bridge b = {A->stream_new(NULL, "m"), {rec_emit, &r}};
    struct eventstream es;

    eventstream_init(&es, 1 << 20, on_frame, &b);
    assert_int_equal(eventstream_feed(&es, all.data, cut), 0);
    assert_int_equal(eventstream_feed(&es, all.data + cut, all.len - cut), 0);
    assert_int_equal(eventstream_pending(&es), 0);
    expect_lines(&r, want, SB_ARRAY_LEN(want));
    assert_true(A->stream_complete(b.s));
    eventstream_free(&es);
    A->stream_free(b.s);
  }

  /* An exception frame mid-stream. */
  {
    struct rec r = {0};
    struct bridge b = {A->stream_new(NULL, "m"), {rec_emit, &r}};
    struct eventstream es;
    struct buf x;

    buf_init(&x, 4096);
    frame(&x, "event", "messageStart", "{\"role\":\"assistant\"}");
    frame(&x, "exception", "throttlingException", "{\"message\":\"slow\"}");
    eventstream_init(&es, 1 << 20, on_frame, &b);
    assert_int_equal(eventstream_feed(&es, x.data, x.len), SB_EIO);
    assert_string_equal(r.lines[1],
                        "error 429 upstream_error throttlingException slow");
    eventstream_free(&es);
    A->stream_free(b.s);
    buf_free(&x);
  }
  buf_free(&all);
}

/* ---- errors ---------------------------------------------------------- */

static void map(struct fixture *f, int status, const char *body, const char *ra,
                struct api_error *err)
{
  memset(err, 0, sizeof(*err));
  A->map_error(&f->p, status, body, body ? strlen(body) : 0, ra, NULL, err);
}

static void test_map_error(void **state)
{
  static const struct {
    int status;
    const char *body;
    int want;
    const char *type, *code;
  } CASES[] = {
      {400, "{\"message\":\"Malformed input request: bad\"}", 400,
       "invalid_request_error", ""},
      {400, "{\"message\":\"Input is too long for requested model.\"}", 400,
       "invalid_request_error", "context_length_exceeded"},
      {400,
       "{\"__type\":\"com.amazon#ServiceQuotaExceededException\","
       "\"message\":\"quota\"}",
       429, "insufficient_quota", "quota_exceeded"},
      {403,
       "{\"message\":\"You don't have access to the model with the "
       "specified model ID.\"}",
       403, "invalid_request_error", "permission_denied"},
      {403,
       "{\"message\":\"The request signature we calculated does not match "
       "the signature you provided.\"}",
       502, "upstream_error", "upstream_auth_failed"},
      {403,
       "{\"message\":\"The security token included in the request is "
       "invalid.\"}",
       502, "upstream_error", "upstream_auth_failed"},
      {403, "{\"__type\":\"UnrecognizedClientException\",\"message\":\"x\"}",
       502, "upstream_error", "upstream_auth_failed"},
      {404, "{\"message\":\"The provided model identifier is invalid.\"}", 404,
       "invalid_request_error", "model_not_found"},
      {408, "{\"message\":\"Model has timed out\"}", 504, "upstream_error",
       "upstream_timeout"},
      {424, "{\"message\":\"model error\"}", 502, "upstream_error",
       "upstream_error"},
      {429, "{\"message\":\"Too many requests\"}", 429, "rate_limit_exceeded",
       "rate_limit_exceeded"},
      {500, "{\"message\":\"Internal\"}", 502, "upstream_error",
       "upstream_error"},
      {503, "{\"message\":\"Service unavailable\"}", 503, "upstream_error",
       "upstream_unavailable"},
      {502, "not json", 502, "upstream_error", "upstream_error"},
  };
  struct fixture f;
  struct api_error err;
  (void)state;

  fx_init(&f, NULL);
  for(size_t i = 0; i < SB_ARRAY_LEN(CASES); i++) {
    map(&f, CASES[i].status, CASES[i].body, "7", &err);
    if(err.status != CASES[i].want || strcmp(err.type, CASES[i].type) ||
       strcmp(err.code, CASES[i].code))
      fail_msg("case %zu: got %d %s %s", i, err.status, err.type, err.code);
    assert_null(strstr(err.message, "signature we calculated"));
  }
  map(&f, 429, "{\"message\":\"slow down\"}", "7", &err);
  assert_int_equal(err.retry_after_s, 7);
  assert_string_equal(err.message, "slow down");
  map(&f, 503, "{\"message\":\"x\"}", "3", &err);
  assert_int_equal(err.retry_after_s, 3);
  map(&f, 400, "{\"message\":\"x\"}", "3", &err);
  assert_int_equal(err.retry_after_s, 0);
  /* With passthrough auth, the client's own credential was refused. */
  f.cfg.passthrough_auth = 1;
  map(&f, 403,
      "{\"message\":\"The security token included in the request "
      "is invalid.\"}",
      NULL, &err);
  assert_int_equal(err.status, 401);
  assert_string_equal(err.code, "invalid_api_key");
  fx_free(&f);
}

/* ---- embeddings (InvokeModel) ----------------------------------------- */

#define TITAN  "amazon.titan-embed-text-v2:0"
#define COHERE "cohere.embed-english-v3"

static cJSON *embed_ok(struct fixture *f, const char *req, const char *model,
                       struct prov_http *out)
{
  cJSON *r = parse(req);
  struct api_error err;
  struct prov_client client = {0};

  memset(&err, 0, sizeof(err));
  if(A->build_embeddings(&f->p, r, model, &client, out, &err))
    fail_msg("build_embeddings failed: %s (%s)", err.message, err.param);
  cJSON_Delete(r);
  return parse(out->body);
}

static void embed_fails(struct fixture *f, const char *req, const char *model,
                        const char *code, const char *param)
{
  cJSON *r = parse(req);
  struct api_error err;
  struct prov_client client = {0};
  struct prov_http out;

  memset(&err, 0, sizeof(err));
  assert_int_equal(A->build_embeddings(&f->p, r, model, &client, &out, &err),
                   SB_EINVAL);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.type, "invalid_request_error");
  assert_string_equal(err.code, code);
  assert_string_equal(err.param, param);
  assert_null(out.body);
  assert_null(out.url);
  cJSON_Delete(r);
}

static void test_embeddings_build(void **state)
{
  struct fixture f;
  struct prov_http out;
  cJSON *body;
  const char *auth;
  (void)state;

  fx_init(&f, NULL);
  /* Titan v2: one input, dimensions, normalized; InvokeModel, signed. */
  body = embed_ok(&f,
                  "{\"model\":\"br/x\",\"input\":\"Hello there\","
                  "\"dimensions\":256,\"encoding_format\":\"base64\"}",
                  TITAN, &out);
  assert_json(body, "{\"inputText\":\"Hello there\",\"dimensions\":256,"
                    "\"normalize\":true}");
  cJSON_Delete(body);
  assert_string_equal(out.url, "https://bedrock-runtime.us-east-1.amazonaws."
                               "com/model/amazon.titan-embed-text-v2%3A0/"
                               "invoke");
  assert_string_equal(header(&out, "content-type"), "application/json");
  assert_string_equal(header(&out, "accept"), "application/json");
  assert_string_equal(header(&out, "x-amz-date"), "20250102T030405Z");
  assert_null(out.dropped);
  auth = header(&out, "Authorization");
  assert_non_null(auth);
  {
    const char *h[] = {"content-type: application/json",
                       "accept: application/json"};
    struct sigv4_request r = {
        .method = "POST",
        .url = out.url,
        .headers = h,
        .nheaders = 2,
        .body = out.body,
        .body_len = out.body_len,
        .region = "us-east-1",
        .service = "bedrock",
        .access_key = "AKIDEXAMPLE",
        .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        .now = fixed_clock(),
        .flags = SIGV4_SIGN_CONTENT_SHA256,
    };
    struct sigv4_result res;
    assert_int_equal(sigv4_sign(&r, &res), 0);
    assert_string_equal(auth, res.authorization);
    assert_string_equal(header(&out, "x-amz-content-sha256"),
                        res.content_sha256);
    assert_non_null(strstr(res.canonical_request,
                           "/model/amazon.titan-embed-text-v2%253A0/"
                           "invoke\n"));
    sigv4_result_free(&res);
  }
  prov_http_free(&out);

  /* A one-item array is one input; no dimensions: none sent; user is
   * dropped and reported. */
  body = embed_ok(&f,
                  "{\"model\":\"br/x\",\"input\":[\"only\"],\"user\":\"u1\","
                  "\"dimensions\":null}",
                  TITAN, &out);
  assert_json(body, "{\"inputText\":\"only\",\"normalize\":true}");
  cJSON_Delete(body);
  assert_non_null(out.dropped);
  assert_non_null(strstr(out.dropped, "user"));
  prov_http_free(&out);

  /* Titan v1 takes inputText only. */
  body = embed_ok(&f, "{\"model\":\"br/x\",\"input\":\"v1\"}",
                  "amazon.titan-embed-text-v1", &out);
  assert_json(body, "{\"inputText\":\"v1\"}");
  cJSON_Delete(body);
  assert_string_equal(out.url, "https://bedrock-runtime.us-east-1.amazonaws."
                               "com/model/amazon.titan-embed-text-v1/invoke");
  prov_http_free(&out);

  /* Cohere: a batch of texts, search_document, no truncation. */
  body = embed_ok(&f, "{\"model\":\"br/x\",\"input\":[\"a b\",\"c\"]}", COHERE,
                  &out);
  assert_json(body, "{\"texts\":[\"a b\",\"c\"],\"input_type\":"
                    "\"search_document\",\"truncate\":\"NONE\"}");
  cJSON_Delete(body);
  assert_string_equal(out.url, "https://bedrock-runtime.us-east-1.amazonaws."
                               "com/model/cohere.embed-english-v3/invoke");
  prov_http_free(&out);
  body = embed_ok(&f, "{\"model\":\"br/x\",\"input\":\"one\"}",
                  "cohere.embed-multilingual-v3", &out);
  assert_json(body, "{\"texts\":[\"one\"],\"input_type\":"
                    "\"search_document\",\"truncate\":\"NONE\"}");
  cJSON_Delete(body);
  prov_http_free(&out);
  fx_free(&f);

  /* A Bedrock API key goes as Bearer, unsigned. */
  fx_init(&f, NULL);
  f.p.api_key = "ABSKkey";
  body = embed_ok(&f, "{\"model\":\"br/x\",\"input\":\"k\"}", TITAN, &out);
  cJSON_Delete(body);
  assert_string_equal(header(&out, "Authorization"), "Bearer ABSKkey");
  assert_null(header(&out, "x-amz-date"));
  prov_http_free(&out);
  f.p.api_key = NULL;
  fx_free(&f);
}

static void test_embeddings_refusals(void **state)
{
  struct fixture f;
  char big[8192];
  size_t n;
  (void)state;

  fx_init(&f, NULL);
  /* Models of no known embedding family. */
  embed_fails(&f, "{\"model\":\"br/x\",\"input\":\"a\"}", MODEL,
              "unsupported_value", "model");
  embed_fails(&f, "{\"model\":\"br/x\",\"input\":\"a\"}",
              "amazon.titan-embed-image-v1", "unsupported_value", "model");
  /* Titan: one input per call. */
  embed_fails(&f, "{\"model\":\"br/x\",\"input\":[\"a\",\"b\"]}", TITAN,
              "unsupported_value", "input");
  /* Token ids, flat or nested, for both families. */
  embed_fails(&f, "{\"model\":\"br/x\",\"input\":[1,2,3]}", TITAN,
              "unsupported_value", "input");
  embed_fails(&f, "{\"model\":\"br/x\",\"input\":[[1,2],[3]]}", COHERE,
              "unsupported_value", "input");
  embed_fails(&f, "{\"model\":\"br/x\",\"input\":[\"a\",[3]]}", COHERE,
              "unsupported_value", "input");
  /* dimensions: Titan v2 takes 256/512/1024; v1 and Cohere none. */
  embed_fails(&f, "{\"model\":\"br/x\",\"input\":\"a\",\"dimensions\":300}",
              TITAN, "unsupported_value", "dimensions");
  embed_fails(&f, "{\"model\":\"br/x\",\"input\":\"a\",\"dimensions\":256}",
              "amazon.titan-embed-text-v1", "unsupported_parameter",
              "dimensions");
  embed_fails(&f, "{\"model\":\"br/x\",\"input\":\"a\",\"dimensions\":256}",
              COHERE, "unsupported_parameter", "dimensions");
  /* Cohere: at most 96 texts. */
  n = (size_t)snprintf(big, sizeof(big), "{\"model\":\"br/x\",\"input\":[");
  for(int i = 0; i < 97; i++)
    n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"t\"", i ? "," : "");
  snprintf(big + n, sizeof(big) - n, "]}");
  embed_fails(&f, big, COHERE, "unsupported_value", "input");
  fx_free(&f);
}

static cJSON *embed_parse_ok(struct fixture *f, const char *body,
                             const char *req, const char *model,
                             struct canon_usage *u)
{
  cJSON *r = parse(req);
  struct api_error err;
  cJSON *out = NULL;

  memset(&err, 0, sizeof(err));
  if(A->parse_embeddings(&f->p, body, strlen(body), r, model, &out, u, &err))
    fail_msg("parse_embeddings failed: %s", err.message);
  cJSON_Delete(r);
  return out;
}

static void embed_parse_fails(struct fixture *f, const char *body,
                              const char *req, const char *model)
{
  cJSON *r = parse(req);
  struct api_error err;
  struct canon_usage u;
  cJSON *out = NULL;

  memset(&err, 0, sizeof(err));
  assert_int_equal(
      A->parse_embeddings(&f->p, body, strlen(body), r, model, &out, &u, &err),
      SB_EPROTO);
  assert_null(out);
  assert_int_equal(err.status, 502);
  assert_string_equal(err.code, "upstream_bad_response");
  cJSON_Delete(r);
}

static void test_embeddings_parse(void **state)
{
  struct fixture f;
  struct canon_usage u;
  cJSON *out;
  (void)state;

  fx_init(&f, NULL);
  out = embed_parse_ok(
      &f, "{\"embedding\":[0.5,-0.25,1],\"inputTextTokenCount\":3}",
      "{\"input\":\"a b c\"}", TITAN, &u);
  assert_json(out, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
                   "\"index\":0,\"embedding\":[0.5,-0.25,1]}],\"model\":"
                   "\"amazon.titan-embed-text-v2:0\",\"usage\":{"
                   "\"prompt_tokens\":3,\"total_tokens\":3}}");
  assert_int_equal(u.prompt_tokens, 3);
  assert_int_equal(u.completion_tokens, 0);
  cJSON_Delete(out);

  out = embed_parse_ok(&f,
                       "{\"embeddings\":[[0.1,0.2],[0.3,0.4]],\"id\":\"e-1\","
                       "\"texts\":[\"a\",\"b\"],\"response_type\":"
                       "\"embeddings_floats\"}",
                       "{\"input\":[\"a\",\"b\"]}", COHERE, &u);
  assert_json(out, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
                   "\"index\":0,\"embedding\":[0.1,0.2]},{\"object\":"
                   "\"embedding\",\"index\":1,\"embedding\":[0.3,0.4]}],"
                   "\"model\":\"cohere.embed-english-v3\",\"usage\":{"
                   "\"prompt_tokens\":0,\"total_tokens\":0}}");
  /* Cohere reports no token counts: unknown. */
  assert_int_equal(u.prompt_tokens, -1);
  cJSON_Delete(out);

  embed_parse_fails(&f, "not json", "{\"input\":\"a\"}", TITAN);
  embed_parse_fails(&f, "{\"inputTextTokenCount\":3}", "{\"input\":\"a\"}",
                    TITAN);
  embed_parse_fails(&f, "{\"embedding\":[]}", "{\"input\":\"a\"}", TITAN);
  embed_parse_fails(&f, "{\"embedding\":[1,\"x\"]}", "{\"input\":\"a\"}",
                    TITAN);
  embed_parse_fails(&f,
                    "{\"embeddings\":[[0.1]],\"response_type\":"
                    "\"embeddings_floats\"}",
                    "{\"input\":[\"a\",\"b\"]}", COHERE);
  embed_parse_fails(&f,
                    "{\"embeddings\":{\"float\":[[0.1]]},"
                    "\"response_type\":\"embeddings_by_type\"}",
                    "{\"input\":\"a\"}", COHERE);
  embed_parse_fails(&f, "{\"embeddings\":[[0.1],null]}",
                    "{\"input\":[\"a\",\"b\"]}", COHERE);
  fx_free(&f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_configure),
      cmocka_unit_test(test_url_and_signature),
      cmocka_unit_test(test_system_and_turns),
      cmocka_unit_test(test_sampling),
      cmocka_unit_test(test_reasoning_effort),
      cmocka_unit_test(test_tools_and_choice),
      cmocka_unit_test(test_tool_round_trip),
      cmocka_unit_test(test_reasoning_back_and_tools_as_text),
      cmocka_unit_test(test_images_and_files),
      cmocka_unit_test(test_response_format),
      cmocka_unit_test(test_parse_text_and_usage),
      cmocka_unit_test(test_parse_tools_and_finish),
      cmocka_unit_test(test_stream_text),
      cmocka_unit_test(test_stream_tools),
      cmocka_unit_test(test_stream_reasoning),
      cmocka_unit_test(test_stream_errors),
      cmocka_unit_test(test_stream_through_framer),
      cmocka_unit_test(test_map_error),
      cmocka_unit_test(test_embeddings_build),
      cmocka_unit_test(test_embeddings_refusals),
      cmocka_unit_test(test_embeddings_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
