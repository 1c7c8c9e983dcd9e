/* The gemini adapter (providers/gemini.h), without sockets: request
 * translation, response parsing, stream events, error mapping, models. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "codec/oai_chat.h"
#include "base/sb.h"
#include "providers/gemini.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct prov PROV = {
    .name = "gem",
    .kind = PROV_ADAPTER,
    .base_url = "https://g.test/v1beta",
    .api_key = "KEY-123",
};

static cJSON *parse(const char *s)
{
  cJSON *j = cJSON_Parse(s);
  if(!j)
    fail_msg("not JSON: %s", s);
  return j;
}

/* Assert that JSON text got equals JSON text want (structurally). */
static void json_eq(const char *got, const char *want)
{
  cJSON *g = parse(got), *w = parse(want);
  if(!cJSON_Compare(g, w, 1)) {
    char *gs = cJSON_PrintUnformatted(g), *ws = cJSON_PrintUnformatted(w);
    print_error("got:  %s\nwant: %s\n", gs, ws);
    free(gs);
    free(ws);
    cJSON_Delete(g);
    cJSON_Delete(w);
    fail();
  }
  cJSON_Delete(g);
  cJSON_Delete(w);
}

static const char *header(const struct prov_http *h, const char *prefix)
{
  for(int i = 0; i < h->nheaders; i++)
    if(!strncmp(h->headers[i], prefix, strlen(prefix)))
      return h->headers[i];
  return NULL;
}

/* Build and compare the upstream body with want. */
static void build_ok(const char *req, const char *want)
{
  cJSON *r = parse(req);
  struct prov_http h;
  struct api_error err;
  int rc = prov_gemini_adapter.build_chat(&PROV, r, "gemini-2.5-flash", NULL,
                                          &h, &err);
  if(rc)
    fail_msg("build failed: %d %s (%s)", err.status, err.message, err.param);
  json_eq(h.body, want);
  prov_http_free(&h);
  cJSON_Delete(r);
}

/* Build and expect a 400 naming param with code. */
static void build_err(const char *req, const char *code, const char *param)
{
  cJSON *r = parse(req);
  struct prov_http h;
  struct api_error err;
  int rc = prov_gemini_adapter.build_chat(&PROV, r, "gemini-2.5-flash", NULL,
                                          &h, &err);
  assert_int_equal(rc, SB_EINVAL);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.type, "invalid_request_error");
  assert_string_equal(err.code, code);
  assert_string_equal(err.param, param);
  cJSON_Delete(r);
}

#define MSG_USER "{\"role\":\"user\",\"content\":\"hi\"}"

static void test_urls_and_headers(void **state)
{
  cJSON *r = parse("{\"model\":\"g/x\",\"messages\":[" MSG_USER "]}");
  cJSON *rs =
      parse("{\"model\":\"g/x\",\"stream\":true,\"messages\":[" MSG_USER "]}");
  struct prov_http h;
  struct api_error err;

  assert_int_equal(prov_gemini_adapter.build_chat(&PROV, r, "gemini-2.5-flash",
                                                  NULL, &h, &err),
                   0);
  assert_string_equal(
      h.url, "https://g.test/v1beta/models/gemini-2.5-flash:generateContent");
  assert_string_equal(header(&h, "x-goog-api-key"), "x-goog-api-key: KEY-123");
  assert_string_equal(header(&h, "Content-Type"),
                      "Content-Type: application/json");
  assert_null(header(&h, "Authorization"));
  assert_null(h.dropped);
  prov_http_free(&h);
  assert_int_equal(prov_gemini_adapter.build_chat(&PROV, rs, "gemini-2.5-flash",
                                                  NULL, &h, &err),
                   0);
  assert_string_equal(h.url, "https://g.test/v1beta/models/"
                             "gemini-2.5-flash:streamGenerateContent?alt=sse");
  assert_string_equal(header(&h, "Accept"), "Accept: text/event-stream");
  prov_http_free(&h);
  assert_int_equal(prov_gemini_adapter.build_chat(&PROV, r, "tunedModels/t1",
                                                  NULL, &h, &err),
                   0);
  assert_string_equal(h.url,
                      "https://g.test/v1beta/tunedModels/t1:generateContent");
  prov_http_free(&h);
  cJSON_Delete(r);
  cJSON_Delete(rs);
  assert_string_equal(prov_gemini_adapter.default_base_url,
                      "https://generativelanguage.googleapis.com/v1beta");
  assert_int_equal(prov_gemini_adapter.framing, PROV_FRAMING_SSE);
  assert_ptr_equal(prov_adapter_find("gemini"), &prov_gemini_adapter);
}

static void test_system_roles_and_merging(void **state)
{
  build_ok(
      "{\"model\":\"g/x\",\"messages\":["
      "{\"role\":\"system\",\"content\":\"Be terse.\"},"
      "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"Use English.\"}]},"
      "{\"role\":\"user\",\"content\":\"one\"},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"two\"}]},"
      "{\"role\":\"assistant\",\"content\":\"ok\"},"
      "{\"role\":\"user\",\"content\":\"three\"}]}",
      "{\"contents\":["
      "{\"role\":\"user\",\"parts\":[{\"text\":\"one\"},{\"text\":\"two\"}]},"
      "{\"role\":\"model\",\"parts\":[{\"text\":\"ok\"}]},"
      "{\"role\":\"user\",\"parts\":[{\"text\":\"three\"}]}],"
      "\"systemInstruction\":{\"parts\":[{\"text\":\"Be terse.\"},"
      "{\"text\":\"Use English.\"}]}}");
  /* Only a system message: nothing to send. */
  build_err("{\"model\":\"g/x\",\"messages\":[{\"role\":\"system\","
            "\"content\":\"x\"}]}",
            "invalid_value", "messages");
}

static void test_generation_config(void **state)
{
  build_ok("{\"model\":\"g/x\",\"messages\":[" MSG_USER "],"
           "\"temperature\":0.5,\"top_p\":0.9,\"top_k\":40,"
           "\"max_tokens\":100,\"stop\":\"END\",\"seed\":7,"
           "\"presence_penalty\":0.5,\"frequency_penalty\":-0.5,\"n\":1}",
           "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
           "\"generationConfig\":{\"temperature\":0.5,\"topP\":0.9,"
           "\"topK\":40,\"maxOutputTokens\":100,\"stopSequences\":[\"END\"],"
           "\"seed\":7,\"presencePenalty\":0.5,\"frequencyPenalty\":-0.5}}");
  /* max_completion_tokens wins; stop arrays; n > 1 -> candidateCount */
  build_ok("{\"model\":\"g/x\",\"messages\":[" MSG_USER "],"
           "\"max_tokens\":100,\"max_completion_tokens\":20,"
           "\"stop\":[\"a\",\"b\"],\"n\":2}",
           "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
           "\"generationConfig\":{\"maxOutputTokens\":20,"
           "\"stopSequences\":[\"a\",\"b\"],\"candidateCount\":2}}");
  build_err("{\"model\":\"g/x\",\"stream\":true,\"n\":2,\"messages\":[" MSG_USER
            "]}",
            "unsupported_parameter", "n");
}

static void test_response_format(void **state)
{
  build_ok("{\"model\":\"g/x\",\"messages\":[" MSG_USER "],"
           "\"response_format\":{\"type\":\"json_object\"}}",
           "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
           "\"generationConfig\":{\"responseMimeType\":\"application/json\"}}");
  build_ok("{\"model\":\"g/x\",\"messages\":[" MSG_USER "],"
           "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
           "\"name\":\"p\",\"strict\":true,\"schema\":{\"type\":\"object\","
           "\"properties\":{\"a\":{\"type\":\"string\"}},"
           "\"additionalProperties\":false}}}}",
           "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
           "\"generationConfig\":{\"responseMimeType\":\"application/json\","
           "\"responseJsonSchema\":{\"type\":\"object\",\"properties\":{"
           "\"a\":{\"type\":\"string\"}},\"additionalProperties\":false}}}");
  build_ok(
      "{\"model\":\"g/x\",\"messages\":[" MSG_USER "],"
      "\"response_format\":{\"type\":\"text\"}}",
      "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}]}");
}

static void test_reasoning_effort(void **state)
{
  build_ok("{\"model\":\"g/x\",\"messages\":[" MSG_USER "],"
           "\"reasoning_effort\":\"low\"}",
           "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
           "\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":1024,"
           "\"includeThoughts\":true}}}");
  build_ok("{\"model\":\"g/x\",\"messages\":[" MSG_USER "],"
           "\"reasoning_effort\":\"high\"}",
           "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
           "\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":24576,"
           "\"includeThoughts\":true}}}");
  build_ok("{\"model\":\"g/x\",\"messages\":[" MSG_USER "],"
           "\"reasoning_effort\":\"none\"}",
           "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
           "\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":0}}}");
  build_err("{\"model\":\"g/x\",\"messages\":[" MSG_USER "],"
            "\"reasoning_effort\":\"extreme\"}",
            "unsupported_value", "reasoning_effort");
}

#define TOOLS                                                                  \
  "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","  \
  "\"description\":\"Weather\",\"parameters\":{\"type\":\"object\","           \
  "\"properties\":{\"city\":{\"type\":\"string\"}}}}},"                        \
  "{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}]"
#define DECLS                                                                  \
  "\"tools\":[{\"functionDeclarations\":[{\"name\":\"get_weather\","           \
  "\"description\":\"Weather\",\"parametersJsonSchema\":{\"type\":\"object\"," \
  "\"properties\":{\"city\":{\"type\":\"string\"}}}},{\"name\":\"get_time\"}]" \
  "}]"
#define HI_CONTENTS                                                            \
  "\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}]"

static void test_tools_and_tool_choice(void **state)
{
  build_ok("{\"model\":\"g/x\",\"messages\":[" MSG_USER "]," TOOLS "}",
           "{" HI_CONTENTS "," DECLS "}");
  build_ok("{\"model\":\"g/x\",\"messages\":[" MSG_USER "]," TOOLS
           ",\"tool_choice\":\"auto\"}",
           "{" HI_CONTENTS "," DECLS
           ",\"toolConfig\":{\"functionCallingConfig\":"
           "{\"mode\":\"AUTO\"}}}");
  build_ok("{\"model\":\"g/x\",\"messages\":[" MSG_USER "]," TOOLS
           ",\"tool_choice\":\"none\"}",
           "{" HI_CONTENTS "," DECLS
           ",\"toolConfig\":{\"functionCallingConfig\":"
           "{\"mode\":\"NONE\"}}}");
  build_ok("{\"model\":\"g/x\",\"messages\":[" MSG_USER "]," TOOLS
           ",\"tool_choice\":\"required\",\"parallel_tool_calls\":true}",
           "{" HI_CONTENTS "," DECLS
           ",\"toolConfig\":{\"functionCallingConfig\":"
           "{\"mode\":\"ANY\"}}}");
  build_ok("{\"model\":\"g/x\",\"messages\":[" MSG_USER "]," TOOLS
           ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
           "\"get_time\"}}}",
           "{" HI_CONTENTS "," DECLS
           ",\"toolConfig\":{\"functionCallingConfig\":"
           "{\"mode\":\"ANY\",\"allowedFunctionNames\":[\"get_time\"]}}}");
  build_ok("{\"model\":\"g/x\",\"messages\":[" MSG_USER "]," TOOLS
           ",\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":{"
           "\"mode\":\"required\",\"tools\":[{\"type\":\"function\","
           "\"function\":{\"name\":\"get_weather\"}}]}}}",
           "{" HI_CONTENTS "," DECLS
           ",\"toolConfig\":{\"functionCallingConfig\":"
           "{\"mode\":\"ANY\",\"allowedFunctionNames\":[\"get_weather\"]}}}");
  build_err("{\"model\":\"g/x\",\"messages\":[" MSG_USER "]," TOOLS
            ",\"parallel_tool_calls\":false}",
            "unsupported_parameter", "parallel_tool_calls");
  build_err("{\"model\":\"g/x\",\"messages\":[" MSG_USER "],\"tools\":[{"
            "\"type\":\"custom\",\"custom\":{\"name\":\"c\"}}]}",
            "unsupported_value", "tools[0]");
}

static void test_tool_round_trip(void **state)
{
  /* Parallel calls, one generated id and one upstream id; results merged
   * into one user turn followed by the user's text. */
  build_ok(
      "{\"model\":\"g/x\",\"messages\":[" MSG_USER ","
      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
      "{\"id\":\"call_0\",\"type\":\"function\",\"function\":{\"name\":"
      "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
      "{\"id\":\"fc-xyz\",\"type\":\"function\",\"function\":{\"name\":"
      "\"get_time\",\"arguments\":\"\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_0\",\"content\":\"18C\"},"
      "{\"role\":\"tool\",\"tool_call_id\":\"fc-xyz\",\"content\":"
      "\"{\\\"time\\\":\\\"12:00\\\"}\"},"
      "{\"role\":\"user\",\"content\":\"thanks\"}]," TOOLS "}",
      "{\"contents\":["
      "{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]},"
      "{\"role\":\"model\",\"parts\":["
      "{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":"
      "\"Paris\"}}},"
      "{\"functionCall\":{\"name\":\"get_time\",\"args\":{},\"id\":"
      "\"fc-xyz\"}}]},"
      "{\"role\":\"user\",\"parts\":["
      "{\"functionResponse\":{\"name\":\"get_weather\",\"response\":{"
      "\"content\":\"18C\"}}},"
      "{\"functionResponse\":{\"name\":\"get_time\",\"id\":\"fc-xyz\","
      "\"response\":{\"time\":\"12:00\"}}},"
      "{\"text\":\"thanks\"}]}]," DECLS "}");
  /* Unknown tool_call_id. */
  build_err("{\"model\":\"g/x\",\"messages\":[" MSG_USER ","
            "{\"role\":\"tool\",\"tool_call_id\":\"nope\",\"content\":\"x\"}]}",
            "invalid_value", "messages[1].tool_call_id");
  /* Arguments that are not a JSON object. */
  build_err("{\"model\":\"g/x\",\"messages\":[" MSG_USER ","
            "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
            "\"type\":\"function\",\"function\":{\"name\":\"f\","
            "\"arguments\":\"{not json\"}}]}]}",
            "invalid_value", "messages[1].tool_calls[0].function.arguments");
  build_err("{\"model\":\"g/x\",\"messages\":[" MSG_USER ","
            "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
            "\"type\":\"function\",\"function\":{\"name\":\"f\","
            "\"arguments\":\"[1]\"}}]}]}",
            "invalid_value", "messages[1].tool_calls[0].function.arguments");
}

static void test_thought_signature_round_trip(void **state)
{
  /* Signature carried in the id (base64url, no padding) and restored. */
  build_ok("{\"model\":\"g/x\",\"messages\":[" MSG_USER ","
           "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_"
           "0" PROV_GEMINI_SIG_SEP
           "ab-_cd\",\"type\":\"function\",\"function\":{\"name\":\"f\","
           "\"arguments\":\"{}\"}}]},"
           "{\"role\":\"tool\",\"tool_call_id\":\"call_0" PROV_GEMINI_SIG_SEP
           "ab-_cd\",\"content\":\"ok\"}]}",
           "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]},"
           "{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"f\","
           "\"args\":{}},\"thoughtSignature\":\"ab+/cd==\"}]},"
           "{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":"
           "\"f\",\"response\":{\"content\":\"ok\"}}}]}]}");
  /* extra_content.google.thought_signature wins over the id. */
  build_ok(
      "{\"model\":\"g/x\",\"messages\":[" MSG_USER ","
      "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_0\","
      "\"type\":\"function\",\"function\":{\"name\":\"f\","
      "\"arguments\":\"{}\"},\"extra_content\":{\"google\":{"
      "\"thought_signature\":\"SIG=\"}}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_0\",\"content\":\"ok\"}]}",
      "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]},"
      "{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"f\","
      "\"args\":{}},\"thoughtSignature\":\"SIG=\"}]},"
      "{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":"
      "\"f\",\"response\":{\"content\":\"ok\"}}}]}]}");
}

static void test_images(void **state)
{
  build_ok("{\"model\":\"g/x\",\"messages\":[{\"role\":\"user\",\"content\":["
           "{\"type\":\"text\",\"text\":\"what is this\"},"
           "{\"type\":\"image_url\",\"image_url\":{\"url\":"
           "\"data:image/png;base64,iVBORw0KGgo=\"}}]}]}",
           "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"what is "
           "this\"},{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":"
           "\"iVBORw0KGgo=\"}}]}]}");
  build_err("{\"model\":\"g/x\",\"messages\":[{\"role\":\"user\",\"content\":["
            "{\"type\":\"text\",\"text\":\"x\"},"
            "{\"type\":\"image_url\",\"image_url\":{\"url\":"
            "\"https://example.com/cat.png\"}}]}]}",
            "unsupported_value", "messages[0].content[1].image_url.url");
  build_err("{\"model\":\"g/x\",\"messages\":[{\"role\":\"user\",\"content\":["
            "{\"type\":\"image_url\",\"image_url\":{\"url\":"
            "\"data:image/png,notbase64\"}}]}]}",
            "invalid_value", "messages[0].content[0].image_url.url");
}

static void test_dropped_and_refused(void **state)
{
  cJSON *r = parse("{\"model\":\"g/x\",\"messages\":[" MSG_USER "],"
                   "\"user\":\"u1\",\"metadata\":{\"a\":\"b\"},\"store\":true,"
                   "\"service_tier\":\"auto\",\"logprobs\":false}");
  struct prov_http h;
  struct api_error err;

  assert_int_equal(
      prov_gemini_adapter.build_chat(&PROV, r, "m", NULL, &h, &err), 0);
  assert_string_equal(h.dropped, "user,metadata,store,service_tier");
  prov_http_free(&h);
  cJSON_Delete(r);
  build_err("{\"model\":\"g/x\",\"messages\":[" MSG_USER "],"
            "\"prediction\":{\"type\":\"content\",\"content\":\"x\"}}",
            "unsupported_parameter", "prediction");
  build_err("{\"model\":\"g/x\",\"messages\":[" MSG_USER "],"
            "\"functions\":[{\"name\":\"f\"}]}",
            "unsupported_parameter", "functions");
  assert_false(prov_gemini_adapter.caps & OAI_CAP_LOGPROBS);
  assert_false(prov_gemini_adapter.caps & OAI_CAP_AUDIO);
  assert_false(prov_gemini_adapter.caps & OAI_CAP_LOGIT_BIAS);
  assert_true(prov_gemini_adapter.caps & OAI_CAP_TOOLS);
  assert_true(prov_gemini_adapter.caps & OAI_CAP_IMAGES);
  assert_true(prov_gemini_adapter.caps & OAI_CAP_N);
}

static void test_function_role_file_part_and_passthrough(void **state)
{
  struct config_provider cfg = {.passthrough_auth = 1};
  struct prov pp = PROV;
  struct prov_client client = {.authorization = "Bearer CLIENT-KEY"};
  cJSON *r = parse("{\"model\":\"g/x\",\"messages\":[" MSG_USER "]}");
  struct prov_http h;
  struct api_error err;

  /* Deprecated function role: the name comes from the message. */
  build_ok("{\"model\":\"g/x\",\"messages\":[" MSG_USER ","
           "{\"role\":\"assistant\",\"content\":null,\"function_call\":{"
           "\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}},"
           "{\"role\":\"function\",\"name\":\"f\",\"content\":\"done\"}]}",
           "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]},"
           "{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":"
           "\"f\",\"args\":{\"a\":1}}}]},"
           "{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":"
           "\"f\",\"response\":{\"content\":\"done\"}}}]}]}");
  /* A PDF as a file part with a data URL. */
  build_ok("{\"model\":\"g/x\",\"messages\":[{\"role\":\"user\","
           "\"content\":[{\"type\":\"file\",\"file\":{\"file_data\":"
           "\"data:application/pdf;base64,JVBERi0=\"}}]}]}",
           "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"inlineData\":{"
           "\"mimeType\":\"application/pdf\",\"data\":\"JVBERi0=\"}}]}]}");
  build_err("{\"model\":\"g/x\",\"messages\":[{\"role\":\"user\","
            "\"content\":[{\"type\":\"file\",\"file\":{\"file_id\":"
            "\"file-1\"}}]}]}",
            "unsupported_value", "messages[0].content[0]");
  build_err("{\"model\":\"g/x\",\"messages\":[" MSG_USER "]," TOOLS
            ",\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":{"
            "\"mode\":\"auto\",\"tools\":[]}}}",
            "unsupported_value", "tool_choice");
  /* passthrough_auth: the client's bearer token becomes x-goog-api-key. */
  pp.cfg = &cfg;
  assert_int_equal(
      prov_gemini_adapter.build_chat(&pp, r, "m", &client, &h, &err), 0);
  assert_string_equal(header(&h, "x-goog-api-key"),
                      "x-goog-api-key: CLIENT-KEY");
  prov_http_free(&h);
  cJSON_Delete(r);
}

/* ---- responses ---------------------------------------------------------- */

static cJSON *parse_chat_ok(const char *body, struct canon_usage *u)
{
  cJSON *out = NULL;
  struct api_error err;
  assert_int_equal(prov_gemini_adapter.parse_chat(
                       &PROV, body, strlen(body), "gemini-2.5-flash",
                       "chatcmpl-1", 1700000000, &out, u, &err),
                   0);
  return out;
}

static void response_eq(const char *body, const char *want)
{
  struct canon_usage u;
  cJSON *out = parse_chat_ok(body, &u);
  char *s = cJSON_PrintUnformatted(out);
  json_eq(s, want);
  free(s);
  cJSON_Delete(out);
}

#define ENVELOPE                                                               \
  "\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","                      \
  "\"created\":1700000000,\"model\":\"gemini-2.5-flash\""

/* Found by tests/fuzz/fuzz_gemini: usage counts near INT64_MAX overflowed
 * when added (prompt + tool-use prompt), 1e300 was cast to int64_t and a
 * candidate index of 1e300 to int (all undefined). Such numbers are not
 * counts: they read as absent. */
static void test_parse_huge_numbers(void **state)
{
  struct canon_usage u;
  cJSON *out;
  (void)state;

  out = parse_chat_ok(
      "{\"candidates\":[{\"index\":1e300,\"content\":{\"parts\":[{"
      "\"text\":\"x\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{"
      "\"promptTokenCount\":9e18,\"toolUsePromptTokenCount\":9e18,"
      "\"candidatesTokenCount\":1e300,\"thoughtsTokenCount\":-1e300}}",
      &u);
  assert_int_equal(
      cJSON_GetObjectItem(
          cJSON_GetArrayItem(cJSON_GetObjectItem(out, "choices"), 0), "index")
          ->valueint,
      0);
  assert_int_equal(u.prompt_tokens, 0);
  assert_int_equal(u.completion_tokens, 0);
  assert_int_equal(u.reasoning_tokens, 0);
  cJSON_Delete(out);
}

static void test_parse_text_and_usage(void **state)
{
  struct canon_usage u;
  cJSON *out;

  response_eq(
      "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":["
      "{\"text\":\"thinking...\",\"thought\":true},"
      "{\"text\":\"Hello\"},{\"text\":\" world\"}]},\"finishReason\":\"STOP\","
      "\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":10,"
      "\"candidatesTokenCount\":5,\"thoughtsTokenCount\":3,"
      "\"cachedContentTokenCount\":4,\"totalTokenCount\":18},"
      "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}",
      "{" ENVELOPE ",\"choices\":[{\"index\":0,\"message\":{\"role\":"
      "\"assistant\",\"content\":\"Hello world\",\"reasoning_content\":"
      "\"thinking...\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":"
      "\"stop\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":8,"
      "\"total_tokens\":18,\"prompt_tokens_details\":{\"cached_tokens\":4},"
      "\"completion_tokens_details\":{\"reasoning_tokens\":3}}}");
  out = parse_chat_ok("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
                      "\"x\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{"
                      "\"promptTokenCount\":7,\"candidatesTokenCount\":2,"
                      "\"toolUsePromptTokenCount\":1,\"thoughtsTokenCount\":3,"
                      "\"cachedContentTokenCount\":2}}",
                      &u);
  assert_int_equal(u.prompt_tokens, 8);
  assert_int_equal(u.completion_tokens, 5);
  assert_int_equal(u.cached_tokens, 2);
  assert_int_equal(u.reasoning_tokens, 3);
  cJSON_Delete(out);
}

static void test_parse_finish_reasons(void **state)
{
  static const char *const cases[][2] = {
      {"STOP", "stop"},
      {"MAX_TOKENS", "length"},
      {"SAFETY", "content_filter"},
      {"RECITATION", "content_filter"},
      {"BLOCKLIST", "content_filter"},
      {"PROHIBITED_CONTENT", "content_filter"},
      {"SPII", "content_filter"},
      {"LANGUAGE", "content_filter"},
      {"OTHER", "stop"},
      {"MALFORMED_FUNCTION_CALL", "stop"},
      {"FINISH_REASON_UNSPECIFIED", "stop"},
  };
  for(size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    char body[256];
    struct canon_usage u;
    cJSON *out;
    snprintf(body, sizeof(body),
             "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},"
             "\"finishReason\":\"%s\"}]}",
             cases[i][0]);
    out = parse_chat_ok(body, &u);
    assert_string_equal(
        cJSON_GetObjectItem(
            cJSON_GetArrayItem(cJSON_GetObjectItem(out, "choices"), 0),
            "finish_reason")
            ->valuestring,
        cases[i][1]);
    cJSON_Delete(out);
  }
  /* Blocked prompt: no candidates. */
  response_eq(
      "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"},"
      "\"usageMetadata\":{\"promptTokenCount\":3,\"totalTokenCount\":3}}",
      "{" ENVELOPE ",\"choices\":[{\"index\":0,\"message\":{\"role\":"
      "\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":"
      "null,\"finish_reason\":\"content_filter\"}],\"usage\":{"
      "\"prompt_tokens\":3,\"completion_tokens\":0,\"total_tokens\":3,"
      "\"prompt_tokens_details\":{\"cached_tokens\":0},"
      "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}");
}

static void test_parse_tool_calls(void **state)
{
  response_eq(
      "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":["
      "{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":"
      "\"Paris\"}},\"thoughtSignature\":\"ab+/cd==\"},"
      "{\"functionCall\":{\"name\":\"get_time\",\"args\":{},\"id\":\"fc-1\"}}]}"
      ","
      "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":1,"
      "\"candidatesTokenCount\":2}}",
      "{" ENVELOPE ",\"choices\":[{\"index\":0,\"message\":{\"role\":"
      "\"assistant\",\"content\":null,\"tool_calls\":["
      "{\"id\":\"call_0" PROV_GEMINI_SIG_SEP "ab-_cd\",\"type\":\"function\","
      "\"function\":{\"name\":\"get_weather\",\"arguments\":"
      "\"{\\\"city\\\":\\\"Paris\\\"}\"},\"extra_content\":{\"google\":{"
      "\"thought_signature\":\"ab+/cd==\"}}},"
      "{\"id\":\"fc-1\",\"type\":\"function\",\"function\":{\"name\":"
      "\"get_time\",\"arguments\":\"{}\"}}],\"refusal\":null},"
      "\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":{"
      "\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3,"
      "\"prompt_tokens_details\":{\"cached_tokens\":0},"
      "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}");
}

static void test_parse_candidates_and_bad_body(void **state)
{
  struct canon_usage u;
  struct api_error err;
  cJSON *out = parse_chat_ok(
      "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},"
      "\"finishReason\":\"STOP\",\"index\":0},{\"content\":{\"parts\":[{"
      "\"text\":\"b\"}]},\"finishReason\":\"MAX_TOKENS\",\"index\":1}]}",
      &u);
  cJSON *c1 = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "choices"), 1);

  assert_int_equal(cJSON_GetObjectItem(c1, "index")->valueint, 1);
  assert_string_equal(cJSON_GetObjectItem(c1, "finish_reason")->valuestring,
                      "length");
  cJSON_Delete(out);
  out = NULL;
  assert_int_equal(prov_gemini_adapter.parse_chat(&PROV, "nope", 4, "m", "i", 0,
                                                  &out, &u, &err),
                   SB_EPROTO);
  assert_int_equal(err.status, 502);
  assert_string_equal(err.code, "upstream_bad_response");
  assert_null(out);
}

/* ---- streams ------------------------------------------------------------- */

struct rec {
  char log[4096];
};

static int rec_emit(void *ud, const struct canon_ev *ev)
{
  struct rec *r = ud;
  char line[1024];

  switch(ev->type) {
  case CANON_EV_START:
    snprintf(line, sizeof(line), "START(%s,%s)", ev->id ? ev->id : "-",
             ev->model ? ev->model : "-");
    break;
  case CANON_EV_TEXT:
    snprintf(line, sizeof(line), "TEXT(%.*s)", (int)ev->len, ev->text);
    break;
  case CANON_EV_REASONING:
    snprintf(line, sizeof(line), "REASONING(%.*s,%s)", (int)ev->len, ev->text,
             ev->signature ? ev->signature : "-");
    break;
  case CANON_EV_TOOL_START:
    snprintf(line, sizeof(line), "TOOL_START(%d,%s,%s)", ev->index, ev->id,
             ev->name);
    break;
  case CANON_EV_TOOL_ARGS:
    snprintf(line, sizeof(line), "TOOL_ARGS(%d,%.*s)", ev->index, (int)ev->len,
             ev->text);
    break;
  case CANON_EV_FINISH:
    snprintf(line, sizeof(line), "FINISH(%s)", ev->finish_reason);
    break;
  case CANON_EV_USAGE:
    snprintf(line, sizeof(line), "USAGE(%lld,%lld,%lld,%lld)",
             (long long)ev->usage.prompt_tokens,
             (long long)ev->usage.completion_tokens,
             (long long)ev->usage.cached_tokens,
             (long long)ev->usage.reasoning_tokens);
    break;
  case CANON_EV_ERROR:
    snprintf(line, sizeof(line), "ERROR(%d,%s,%s)", ev->err->status,
             ev->err->type, ev->err->code);
    break;
  }
  strncat(r->log, line, sizeof(r->log) - strlen(r->log) - 1);
  strncat(r->log, " ", sizeof(r->log) - strlen(r->log) - 1);
  return 0;
}

/* Feed chunks (NULL-terminated); returns the last feed's rc. */
static int feed_all(const char *const *chunks, struct rec *r, int *complete)
{
  struct prov_stream *s = prov_gemini_adapter.stream_new(&PROV, "m");
  const struct canon_sink sink = {rec_emit, r};
  int rc = 0;

  r->log[0] = '\0';
  for(int i = 0; chunks[i] && !rc; i++) {
    struct prov_payload pl = {NULL, 0, chunks[i], strlen(chunks[i])};
    rc = prov_gemini_adapter.stream_feed(s, &pl, &sink);
  }
  *complete = prov_gemini_adapter.stream_complete(s);
  prov_gemini_adapter.stream_free(s);
  return rc;
}

static void test_stream_text(void **state)
{
  static const char *const chunks[] = {
      "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":"
      "\"Hel\"}]},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":4,"
      "\"totalTokenCount\":4},\"modelVersion\":\"gemini-2.5-flash\","
      "\"responseId\":\"r1\"}",
      "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":"
      "\"lo\"}]},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{"
      "\"promptTokenCount\":4,\"candidatesTokenCount\":2,\"totalTokenCount\":6}"
      ","
      "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}",
      NULL};
  struct rec r;
  int complete;

  assert_int_equal(feed_all(chunks, &r, &complete), 0);
  assert_string_equal(r.log, "START(r1,gemini-2.5-flash) TEXT(Hel) "
                             "USAGE(4,0,0,0) TEXT(lo) USAGE(4,2,0,0) "
                             "FINISH(stop) ");
  assert_true(complete);
}

static void test_stream_incomplete_and_reasoning(void **state)
{
  static const char *const chunks[] = {
      "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hmm\","
      "\"thought\":true,\"thoughtSignature\":\"S1\"}]}}]}",
      "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}]}", NULL};
  struct rec r;
  int complete;

  assert_int_equal(feed_all(chunks, &r, &complete), 0);
  assert_string_equal(r.log, "START(-,-) REASONING(hmm,S1) TEXT(Hi) ");
  assert_false(complete);
}

static void test_stream_tools(void **state)
{
  static const char *const chunks[] = {
      "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":["
      "{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":"
      "\"Paris\"}},\"thoughtSignature\":\"ab+/\"}]}}]}",
      "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":["
      "{\"functionCall\":{\"name\":\"get_time\",\"args\":{}}}]},"
      "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":9,"
      "\"candidatesTokenCount\":4,\"thoughtsTokenCount\":2}}",
      NULL};
  struct rec r;
  int complete;

  assert_int_equal(feed_all(chunks, &r, &complete), 0);
  assert_string_equal(
      r.log,
      "START(-,-) TOOL_START(0,call_0" PROV_GEMINI_SIG_SEP "ab-_,get_weather) "
      "TOOL_ARGS(0,{\"city\":\"Paris\"}) TOOL_START(1,call_1,get_time) "
      "TOOL_ARGS(1,{}) USAGE(9,6,0,2) FINISH(tool_calls) ");
  assert_true(complete);
}

static void test_stream_errors(void **state)
{
  static const char *const err_chunks[] = {
      "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}",
      "{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\","
      "\"status\":\"UNAVAILABLE\"}}",
      NULL};
  static const char *const bad_chunks[] = {
      "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}",
      "{\"candidates\":[", NULL};
  static const char *const blocked[] = {
      "{\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"}}", NULL};
  struct rec r;
  int complete;

  assert_int_equal(feed_all(err_chunks, &r, &complete), SB_EIO);
  assert_string_equal(
      r.log, "START(-,-) TEXT(a) ERROR(502,upstream_error,unavailable) ");
  assert_false(complete);
  assert_int_equal(feed_all(bad_chunks, &r, &complete), SB_EPROTO);
  assert_string_equal(
      r.log,
      "START(-,-) TEXT(a) ERROR(502,upstream_error,upstream_bad_response) ");
  assert_int_equal(feed_all(blocked, &r, &complete), 0);
  assert_string_equal(r.log, "START(-,-) FINISH(content_filter) ");
  assert_true(complete);
}

/* ---- errors and models --------------------------------------------------- */

static void map(int status, const char *body, const char *ra,
                struct api_error *err)
{
  memset(err, 0, sizeof(*err));
  prov_gemini_adapter.map_error(&PROV, status, body, body ? strlen(body) : 0,
                                ra, NULL, err);
}

static void test_error_mapping(void **state)
{
  struct api_error e;

  map(400,
      "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass a "
      "valid API "
      "key.\",\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"@type\":"
      "\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":"
      "\"API_KEY_INVALID\",\"domain\":\"googleapis.com\"}]}}",
      NULL, &e);
  assert_int_equal(e.status, 502);
  assert_string_equal(e.type, "upstream_error");
  assert_string_equal(e.code, "upstream_auth_failed");
  assert_null(strstr(e.message, "API key not valid"));

  map(400,
      "{\"error\":{\"code\":400,\"message\":\"Invalid JSON payload.\","
      "\"status\":\"INVALID_ARGUMENT\"}}",
      NULL, &e);
  assert_int_equal(e.status, 400);
  assert_string_equal(e.type, "invalid_request_error");
  assert_string_equal(e.code, "invalid_argument");
  assert_string_equal(e.message, "Invalid JSON payload.");

  map(403,
      "{\"error\":{\"code\":403,\"message\":\"denied\",\"status\":"
      "\"PERMISSION_DENIED\"}}",
      NULL, &e);
  assert_int_equal(e.status, 502);
  assert_string_equal(e.code, "upstream_auth_failed");

  map(404,
      "{\"error\":{\"code\":404,\"message\":\"models/x is not found\","
      "\"status\":\"NOT_FOUND\"}}",
      NULL, &e);
  assert_int_equal(e.status, 404);
  assert_string_equal(e.code, "model_not_found");

  map(429,
      "{\"error\":{\"code\":429,\"message\":\"Quota exceeded\",\"status\":"
      "\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type.googleapis.com/"
      "google.rpc.RetryInfo\",\"retryDelay\":\"6.5s\"}]}}",
      NULL, &e);
  assert_int_equal(e.status, 429);
  assert_string_equal(e.type, "rate_limit_exceeded");
  assert_int_equal(e.retry_after_s, 7);
  map(429, "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\"}}", "3",
      &e);
  assert_int_equal(e.retry_after_s, 3);

  map(503,
      "{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\","
      "\"status\":\"UNAVAILABLE\"}}",
      "2", &e);
  assert_int_equal(e.status, 503);
  assert_string_equal(e.code, "upstream_unavailable");
  assert_int_equal(e.retry_after_s, 2);

  map(500, "{\"error\":{\"code\":500,\"status\":\"INTERNAL\"}}", NULL, &e);
  assert_int_equal(e.status, 502);
  assert_string_equal(e.code, "upstream_error");

  map(504, NULL, NULL, &e);
  assert_int_equal(e.status, 504);
  assert_string_equal(e.code, "upstream_timeout");
}

static void test_models(void **state)
{
  struct prov_http h;
  const char *body =
      "{\"models\":[{\"name\":\"models/gemini-2.5-flash\",\"displayName\":"
      "\"Gemini\"},{\"name\":\"models/text-embedding-004\"},{\"x\":1}],"
      "\"nextPageToken\":\"\"}";
  char **models;
  int n;

  prov_gemini_adapter.build_models(&PROV, &h);
  assert_string_equal(h.url, "https://g.test/v1beta/models?pageSize=1000");
  assert_string_equal(header(&h, "x-goog-api-key"), "x-goog-api-key: KEY-123");
  prov_http_free(&h);
  assert_int_equal(
      prov_gemini_adapter.parse_models(body, strlen(body), &models, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(models[0], "gemini-2.5-flash");
  assert_string_equal(models[1], "text-embedding-004");
  for(int i = 0; i < n; i++)
    free(models[i]);
  free(models);
  assert_int_equal(prov_gemini_adapter.parse_models("{}", 2, &models, &n),
                   SB_EPROTO);
}

/* ---- embeddings -----------------------------------------------------------
 */

static int embed_build(const char *req, const char *model, struct prov_http *h,
                       struct api_error *err)
{
  cJSON *r = parse(req);
  int rc = prov_gemini_adapter.build_embeddings(&PROV, r, model, NULL, h, err);
  cJSON_Delete(r);
  return rc;
}

static void test_embeddings_build(void **state)
{
  struct prov_http h;
  struct api_error err;

  /* One string; dimensions -> outputDimensionality; base64 stays home. */
  assert_int_equal(embed_build("{\"model\":\"g/e\",\"input\":\"hello\","
                               "\"dimensions\":256,\"encoding_format\":"
                               "\"base64\"}",
                               "gemini-embedding-001", &h, &err),
                   0);
  assert_string_equal(h.url, "https://g.test/v1beta/models/"
                             "gemini-embedding-001:batchEmbedContents");
  assert_string_equal(header(&h, "x-goog-api-key"), "x-goog-api-key: KEY-123");
  assert_string_equal(header(&h, "Content-Type"),
                      "Content-Type: application/json");
  assert_null(header(&h, "Authorization"));
  assert_null(h.dropped);
  json_eq(h.body, "{\"requests\":[{\"model\":\"models/gemini-embedding-001\","
                  "\"content\":{\"parts\":[{\"text\":\"hello\"}]},"
                  "\"outputDimensionality\":256}]}");
  prov_http_free(&h);

  /* A batch, in order; user dropped and reported; a tuned model's
   * resource name is used as given. */
  assert_int_equal(
      embed_build("{\"model\":\"g/e\",\"input\":[\"a\",\"b c\"],\"user\":"
                  "\"u\",\"encoding_format\":\"float\",\"dimensions\":null}",
                  "tunedModels/t1", &h, &err),
      0);
  assert_string_equal(
      h.url, "https://g.test/v1beta/tunedModels/t1:batchEmbedContents");
  assert_string_equal(h.dropped, "user");
  json_eq(h.body, "{\"requests\":["
                  "{\"model\":\"tunedModels/t1\",\"content\":{\"parts\":[{"
                  "\"text\":\"a\"}]}},"
                  "{\"model\":\"tunedModels/t1\",\"content\":{\"parts\":[{"
                  "\"text\":\"b c\"}]}}]}");
  prov_http_free(&h);

  /* Token ids: one tokenised input, or several. */
  assert_int_equal(
      embed_build("{\"model\":\"g/e\",\"input\":[1,2,3]}", "e", &h, &err),
      SB_EINVAL);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.type, "invalid_request_error");
  assert_string_equal(err.code, "unsupported_value");
  assert_string_equal(err.param, "input");
  assert_int_equal(
      embed_build("{\"model\":\"g/e\",\"input\":[\"a\",[1,2]]}", "e", &h, &err),
      SB_EINVAL);
  assert_string_equal(err.code, "unsupported_value");
  assert_string_equal(err.param, "input");

  /* More inputs than one batchEmbedContents call takes. */
  {
    cJSON *r = parse("{\"model\":\"g/e\",\"input\":[]}");
    cJSON *in = cJSON_GetObjectItem(r, "input");
    for(int i = 0; i < 101; i++)
      cJSON_AddItemToArray(in, cJSON_CreateString("x"));
    assert_int_equal(
        prov_gemini_adapter.build_embeddings(&PROV, r, "e", NULL, &h, &err),
        SB_EINVAL);
    assert_string_equal(err.code, "unsupported_value");
    assert_string_equal(err.param, "input");
    assert_non_null(strstr(err.message, "100"));
    cJSON_DeleteItemFromArray(in, 0);
    assert_int_equal(
        prov_gemini_adapter.build_embeddings(&PROV, r, "e", NULL, &h, &err), 0);
    prov_http_free(&h);
    cJSON_Delete(r);
  }
}

static int embed_parse(const char *req, const char *body, cJSON **out,
                       struct canon_usage *u, struct api_error *err)
{
  cJSON *r = parse(req);
  int rc = prov_gemini_adapter.parse_embeddings(
      &PROV, body, strlen(body), r, "gemini-embedding-001", out, u, err);
  cJSON_Delete(r);
  return rc;
}

static void test_embeddings_parse(void **state)
{
  struct canon_usage u;
  struct api_error err;
  cJSON *out = NULL;
  char *s;

  assert_int_equal(
      embed_parse("{\"input\":[\"a\",\"b\"]}",
                  "{\"embeddings\":[{\"values\":[0.5,-0.25,0.125]},"
                  "{\"values\":[1,0,-1e-3]}]}",
                  &out, &u, &err),
      0);
  s = cJSON_PrintUnformatted(out);
  json_eq(s, "{\"object\":\"list\",\"data\":["
             "{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.5,-0.25,"
             "0.125]},"
             "{\"object\":\"embedding\",\"index\":1,\"embedding\":[1,0,-0.001]}"
             "],\"model\":\"gemini-embedding-001\","
             "\"usage\":{\"prompt_tokens\":0,\"total_tokens\":0}}");
  free(s);
  cJSON_Delete(out);
  /* Gemini reports no token counts: unknown, not zero. */
  assert_int_equal(u.prompt_tokens, -1);
  assert_int_equal(u.completion_tokens, -1);

  /* A single string input is one embedding. */
  assert_int_equal(embed_parse("{\"input\":\"a\"}",
                               "{\"embeddings\":[{\"values\":[0.5]}]}", &out,
                               &u, &err),
                   0);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "data")), 1);
  cJSON_Delete(out);

  /* Bodies it cannot read: 502 upstream_bad_response. */
  {
    static const char *const bad[] = {
        "not json",
        "{}",
        "{\"embedding\":{\"values\":[1]}}",
        "{\"embeddings\":[{\"values\":[1]}]}", /* one for two inputs */
        "{\"embeddings\":[{\"values\":[1]},{\"values\":[]}]}",
        "{\"embeddings\":[{\"values\":[1]},{}]}",
        "{\"embeddings\":[{\"values\":[1]},{\"values\":[\"x\"]}]}",
    };
    for(size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
      out = NULL;
      assert_int_equal(
          embed_parse("{\"input\":[\"a\",\"b\"]}", bad[i], &out, &u, &err),
          SB_EPROTO);
      assert_null(out);
      assert_int_equal(err.status, 502);
      assert_string_equal(err.type, "upstream_error");
      assert_string_equal(err.code, "upstream_bad_response");
    }
  }

  /* Errors from batchEmbedContents go through map_error like chat. */
  map(400,
      "{\"error\":{\"code\":400,\"message\":\"* BatchEmbedContentsRequest."
      "requests: at most 100 requests can be in one batch\\n\",\"status\":"
      "\"INVALID_ARGUMENT\"}}",
      NULL, &err);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.code, "invalid_argument");
}

static void test_count_tokens(void **state)
{
  cJSON *r = parse("{\"model\":\"g/x\",\"max_tokens\":9,\"temperature\":0.5,"
                   "\"stream\":true,\"messages\":[{\"role\":\"system\","
                   "\"content\":\"be brief\"},{\"role\":\"user\","
                   "\"content\":\"hi\"}]}");
  struct prov_http h;
  struct api_error err;
  int64_t n = -1;

  (void)state;
  assert_int_equal(prov_gemini_adapter.build_count(&PROV, r, "gemini-2.5-flash",
                                                   NULL, &h, &err),
                   0);
  assert_string_equal(h.url, "https://g.test/v1beta/models/"
                             "gemini-2.5-flash:countTokens");
  assert_string_equal(header(&h, "x-goog-api-key"), "x-goog-api-key: KEY-123");
  /* the prompt only: no generationConfig, not streamed */
  json_eq(h.body, "{\"generateContentRequest\":{\"model\":"
                  "\"models/gemini-2.5-flash\",\"systemInstruction\":{"
                  "\"parts\":[{\"text\":\"be brief\"}]},\"contents\":[{"
                  "\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}]}}");
  prov_http_free(&h);
  cJSON_Delete(r);

  assert_int_equal(
      prov_gemini_adapter.parse_count(
          "{\"totalTokens\":31,\"promptTokensDetails\":[]}", 43, &n),
      0);
  assert_int_equal(n, 31);
  assert_int_equal(prov_gemini_adapter.parse_count("{}", 2, &n), SB_EPROTO);
  assert_int_equal(prov_gemini_adapter.parse_count("nope", 4, &n), SB_EPROTO);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_urls_and_headers),
      cmocka_unit_test(test_system_roles_and_merging),
      cmocka_unit_test(test_generation_config),
      cmocka_unit_test(test_response_format),
      cmocka_unit_test(test_reasoning_effort),
      cmocka_unit_test(test_tools_and_tool_choice),
      cmocka_unit_test(test_tool_round_trip),
      cmocka_unit_test(test_thought_signature_round_trip),
      cmocka_unit_test(test_images),
      cmocka_unit_test(test_dropped_and_refused),
      cmocka_unit_test(test_function_role_file_part_and_passthrough),
      cmocka_unit_test(test_parse_text_and_usage),
      cmocka_unit_test(test_parse_huge_numbers),
      cmocka_unit_test(test_parse_finish_reasons),
      cmocka_unit_test(test_parse_tool_calls),
      cmocka_unit_test(test_parse_candidates_and_bad_body),
      cmocka_unit_test(test_stream_text),
      cmocka_unit_test(test_stream_incomplete_and_reasoning),
      cmocka_unit_test(test_stream_tools),
      cmocka_unit_test(test_stream_errors),
      cmocka_unit_test(test_error_mapping),
      cmocka_unit_test(test_models),
      cmocka_unit_test(test_embeddings_build),
      cmocka_unit_test(test_embeddings_parse),
      cmocka_unit_test(test_count_tokens),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
