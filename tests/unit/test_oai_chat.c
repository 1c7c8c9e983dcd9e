/* Unit tests for codec/oai_chat.c: request validation, provider
 * capability checks, last-user-text extraction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/apierr.h"
#include "base/buf.h"
#include "codec/oai_chat.h"
#include "base/sb.h"

static cJSON *parse(const char *json)
{
  cJSON *j = cJSON_Parse(json);

  if(!j)
    fail_msg("test JSON does not parse: %s", json);
  return j;
}

static int validate(const char *json, struct api_error *err)
{
  cJSON *j = parse(json);
  int rc;

  memset(err, 0, sizeof(*err));
  rc = oai_chat_validate(j, err);
  cJSON_Delete(j);
  return rc;
}

static void expect_ok(const char *json)
{
  struct api_error err;

  if(validate(json, &err))
    fail_msg("rejected: %s\n  -> %s (param %s, code %s)", json, err.message,
             err.param, err.code);
}

#define M                                                                      \
  "\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

static void test_minimal_ok(void **state)
{
  (void)state;
  expect_ok("{" M "}");
}

static const char RICH[] =
    "{\"model\":\"openai/gpt-4.1\","
    "\"messages\":["
    " {\"role\":\"developer\",\"content\":\"be brief\"},"
    " {\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":\"s\"}],"
    "  \"name\":\"sys\"},"
    " {\"role\":\"user\",\"name\":\"u1\",\"content\":["
    "   {\"type\":\"text\",\"text\":\"what is this?\"},"
    "   {\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\","
    "    \"detail\":\"low\"}},"
    "   {\"type\":\"input_audio\",\"input_audio\":{\"data\":\"AAAA\","
    "    \"format\":\"wav\"}},"
    "   {\"type\":\"file\",\"file\":{\"file_id\":\"file-1\"}},"
    "   {\"type\":\"file\",\"file\":{\"filename\":\"a.pdf\","
    "    \"file_data\":\"data:application/pdf;base64,AA==\"}}]},"
    " {\"role\":\"assistant\",\"content\":null,\"refusal\":null,"
    "  \"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
    "   \"function\":{\"name\":\"get_weather\","
    "    \"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
    "   {\"id\":\"call_2\",\"type\":\"custom\","
    "    \"custom\":{\"name\":\"sql\",\"input\":\"select 1\"}}]},"
    " {\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"18C\"},"
    " {\"role\":\"tool\",\"tool_call_id\":\"call_2\","
    "  \"content\":[{\"type\":\"text\",\"text\":\"1\"}]},"
    " {\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
    "  {\"type\":\"refusal\",\"refusal\":\"no\"}]},"
    " {\"role\":\"assistant\",\"content\":\"plain\",\"tool_calls\":null,"
    "  \"function_call\":null,\"audio\":null},"
    " {\"role\":\"assistant\",\"audio\":{\"id\":\"audio_1\"}},"
    " {\"role\":\"function\",\"name\":\"f\",\"content\":null},"
    " {\"role\":\"user\",\"content\":\"and now?\"}],"
    "\"stream\":true,"
    "\"stream_options\":{\"include_usage\":true},"
    "\"temperature\":0.7,\"top_p\":1,\"n\":2,"
    "\"max_tokens\":100,\"max_completion_tokens\":200,"
    "\"presence_penalty\":-2,\"frequency_penalty\":2,"
    "\"stop\":[\"a\",\"b\",\"c\",\"d\"],"
    "\"seed\":-42,\"user\":\"u-1\",\"logprobs\":true,\"top_logprobs\":20,"
    "\"logit_bias\":{\"50256\":-100,\"11\":100,\"12\":0.5},"
    "\"tools\":["
    " {\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
    "  \"description\":\"d\",\"parameters\":{\"type\":\"object\","
    "  \"properties\":{\"city\":{\"type\":\"string\"}}},\"strict\":true}},"
    " {\"type\":\"function\",\"function\":{\"name\":\"A-b_9\"}},"
    " {\"type\":\"custom\",\"custom\":{\"name\":\"sql\",\"format\":"
    "  {\"type\":\"grammar\",\"grammar\":{\"definition\":\"start: x\","
    "  \"syntax\":\"lark\"}}}}],"
    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
    " \"get_weather\"}},"
    "\"parallel_tool_calls\":false,"
    "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
    " {\"name\":\"answer_1\",\"schema\":{\"type\":\"object\"},\"strict\":true}}"
    ","
    "\"metadata\":{\"k\":\"v\"},"
    "\"reasoning_effort\":\"low\",\"service_tier\":\"auto\","
    "\"modalities\":[\"text\",\"audio\"],"
    "\"audio\":{\"format\":\"wav\",\"voice\":\"alloy\"},"
    "\"x_vendor_extension\":{\"anything\":[1,2,3]}}";

static void test_rich_ok(void **state)
{
  (void)state;
  expect_ok(RICH);
}

static void test_other_valid_shapes(void **state)
{
  static const char *const ok[] = {
      /* nullable fields */
      "{" M ",\"stream\":null,\"stream_options\":null,\"temperature\":null,"
      "\"top_p\":null,\"n\":null,\"max_tokens\":null,"
      "\"max_completion_tokens\":null,\"presence_penalty\":null,"
      "\"frequency_penalty\":null,\"stop\":null,\"seed\":null,"
      "\"logprobs\":null,\"top_logprobs\":null,\"logit_bias\":null,"
      "\"metadata\":null,\"reasoning_effort\":null,\"service_tier\":null,"
      "\"modalities\":null,\"audio\":null}",
      /* stop as a string; boundaries */
      "{" M ",\"stop\":\"\\n\",\"temperature\":0,\"top_p\":0,\"n\":128,"
      "\"top_logprobs\":0,\"max_tokens\":1,\"seed\":0}",
      "{" M ",\"temperature\":2,\"n\":1.0}",
      /* stream false without stream_options, and with null */
      "{" M ",\"stream\":false}",
      /* tool_choice strings and shapes */
      "{" M ",\"tool_choice\":\"none\"}",
      "{" M ",\"tool_choice\":\"auto\"}",
      "{" M ",\"tool_choice\":\"required\"}",
      "{" M
      ",\"tool_choice\":{\"type\":\"custom\",\"custom\":{\"name\":\"x\"}}}",
      "{" M ",\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":"
      "{\"mode\":\"required\",\"tools\":[{\"type\":\"function\","
      "\"function\":{\"name\":\"a\"}},{\"type\":\"custom\","
      "\"custom\":{\"name\":\"b\"}}]}}}",
      /* response formats */
      "{" M ",\"response_format\":{\"type\":\"text\"}}",
      "{" M ",\"response_format\":{\"type\":\"json_object\"}}",
      /* empty tools array */
      "{" M ",\"tools\":[]}",
      /* assistant with function_call only, tool_calls empty with content */
      "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\","
      "\"function_call\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\","
      "\"content\":\"x\",\"tool_calls\":[]}]}",
      /* a name of 64 characters */
      "{" M ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
      "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}]"
      "}",
      /* unknown fields anywhere */
      "{" M ",\"foo\":1,\"bar\":{\"baz\":[null]},\"top_k\":40}",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\","
      "\"extra\":true}]}",
  };
  size_t i;

  (void)state;
  for(i = 0; i < SB_ARRAY_LEN(ok); i++)
    expect_ok(ok[i]);
}

struct bad {
  const char *json;
  const char *param; /* "" for null */
  const char *code;
};

static const struct bad BAD[] = {
    /* body and model */
    {"[]", "", "invalid_json"},
    {"\"x\"", "", "invalid_json"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model",
     "missing_required_parameter"},
    {"{\"model\":5,\"messages\":[]}", "model", "invalid_type"},
    {"{\"model\":null,\"messages\":[]}", "model", "invalid_type"},
    {"{\"model\":\"\",\"messages\":[]}", "model", "invalid_value"},
    {"{" M ",\"model\":\"n\"}", "model", "invalid_value"},

    /* messages */
    {"{\"model\":\"m\"}", "messages", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":{}}", "messages", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[]}", "messages", "invalid_value"},
    {"{\"model\":\"m\",\"messages\":[\"hi\"]}", "messages[0]", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}", "messages[0].role",
     "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":1,\"content\":\"x\"}]}",
     "messages[0].role", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}]}",
     "messages[0].role", "invalid_value"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}",
     "messages[0].content", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":null}]}",
     "messages[0].content", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":3}]}",
     "messages[0].content", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[]}]}",
     "messages[0].content", "invalid_value"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":null}]}",
     "messages[0].content", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\","
     "\"name\":5}]}",
     "messages[0].name", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
     "{\"role\":\"assistant\"}]}",
     "messages[1].content", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
     "{\"role\":\"assistant\",\"content\":\"a\"},"
     "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"},"
     "{\"type\":\"text\",\"text\":7}]}]}",
     "messages[2].content[1].text", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[\"x\"]}]}",
     "messages[0].content[0]", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
     "[{\"text\":\"x\"}]}]}",
     "messages[0].content[0].type", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
     "[{\"type\":\"video\"}]}]}",
     "messages[0].content[0].type", "invalid_value"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
     "[{\"type\":\"text\"}]}]}",
     "messages[0].content[0].text", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
     "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"}}]}]}",
     "messages[0].content[0].type", "invalid_value"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
     "[{\"type\":\"refusal\",\"refusal\":\"no\"}]}]}",
     "messages[0].content[0].type", "invalid_value"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":"
     "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"}}]}]}",
     "messages[0].content[0].type", "invalid_value"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
     "[{\"type\":\"image_url\"}]}]}",
     "messages[0].content[0].image_url", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
     "[{\"type\":\"image_url\",\"image_url\":\"https://x\"}]}]}",
     "messages[0].content[0].image_url", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
     "[{\"type\":\"image_url\",\"image_url\":{\"detail\":\"low\"}}]}]}",
     "messages[0].content[0].image_url.url", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
     "[{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"AA\"}}]}]}",
     "messages[0].content[0].input_audio.format", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
     "[{\"type\":\"file\",\"file\":{\"filename\":\"a.pdf\"}}]}]}",
     "messages[0].content[0].file", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
     "[{\"type\":\"file\",\"file\":{\"file_id\":1}}]}]}",
     "messages[0].content[0].file.file_id", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
     "messages[0].tool_call_id", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\","
     "\"tool_call_id\":1}]}",
     "messages[0].tool_call_id", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"function\",\"content\":\"x\"}"
     "]}",
     "messages[0].name", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"function\",\"name\":\"f\","
     "\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}]}",
     "messages[0].content", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":"
     "{}}]}",
     "messages[0].tool_calls", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":"
     "[{\"type\":\"function\",\"function\":{\"name\":\"f\","
     "\"arguments\":\"{}\"}}]}]}",
     "messages[0].tool_calls[0].id", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":"
     "[{\"id\":\"c\",\"type\":\"tool\",\"function\":{\"name\":\"f\","
     "\"arguments\":\"{}\"}}]}]}",
     "messages[0].tool_calls[0].type", "invalid_value"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":"
     "[{\"id\":\"c\",\"type\":\"function\"}]}]}",
     "messages[0].tool_calls[0].function", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":"
     "[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\","
     "\"arguments\":{\"city\":\"Paris\"}}}]}]}",
     "messages[0].tool_calls[0].function.arguments", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":\"x\","
     "\"refusal\":1}]}",
     "messages[0].refusal", "invalid_type"},

    /* scalars */
    {"{" M ",\"stream\":\"true\"}", "stream", "invalid_type"},
    {"{" M ",\"temperature\":\"hot\"}", "temperature", "invalid_type"},
    {"{" M ",\"temperature\":2.01}", "temperature", "invalid_value"},
    {"{" M ",\"temperature\":-0.1}", "temperature", "invalid_value"},
    {"{" M ",\"top_p\":1.5}", "top_p", "invalid_value"},
    {"{" M ",\"n\":0}", "n", "invalid_value"},
    {"{" M ",\"n\":129}", "n", "invalid_value"},
    {"{" M ",\"n\":1.5}", "n", "invalid_type"},
    {"{" M ",\"max_tokens\":0}", "max_tokens", "invalid_value"},
    {"{" M ",\"max_tokens\":\"10\"}", "max_tokens", "invalid_type"},
    {"{" M ",\"max_completion_tokens\":-1}", "max_completion_tokens",
     "invalid_value"},
    {"{" M ",\"presence_penalty\":2.5}", "presence_penalty", "invalid_value"},
    {"{" M ",\"frequency_penalty\":-3}", "frequency_penalty", "invalid_value"},
    {"{" M ",\"seed\":1.5}", "seed", "invalid_type"},
    {"{" M ",\"seed\":1e30}", "seed", "invalid_value"},
    {"{" M ",\"user\":1}", "user", "invalid_type"},
    {"{" M ",\"user\":null}", "user", "invalid_type"},
    {"{" M ",\"logprobs\":1}", "logprobs", "invalid_type"},
    {"{" M ",\"top_logprobs\":21}", "top_logprobs", "invalid_value"},
    {"{" M ",\"top_logprobs\":-1}", "top_logprobs", "invalid_value"},
    {"{" M ",\"parallel_tool_calls\":\"yes\"}", "parallel_tool_calls",
     "invalid_type"},
    {"{" M ",\"parallel_tool_calls\":null}", "parallel_tool_calls",
     "invalid_type"},
    {"{" M ",\"reasoning_effort\":1}", "reasoning_effort", "invalid_type"},
    {"{" M ",\"service_tier\":true}", "service_tier", "invalid_type"},
    {"{" M ",\"audio\":\"wav\"}", "audio", "invalid_type"},

    /* stream_options */
    {"{" M ",\"stream_options\":{\"include_usage\":true}}", "stream_options",
     "invalid_value"},
    {"{" M ",\"stream\":false,\"stream_options\":{\"include_usage\":true}}",
     "stream_options", "invalid_value"},
    {"{" M ",\"stream\":true,\"stream_options\":true}", "stream_options",
     "invalid_type"},
    {"{" M ",\"stream\":true,\"stream_options\":{\"include_usage\":1}}",
     "stream_options.include_usage", "invalid_type"},

    /* stop, logit_bias, metadata, modalities */
    {"{" M ",\"stop\":5}", "stop", "invalid_type"},
    {"{" M ",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", "stop",
     "invalid_value"},
    {"{" M ",\"stop\":[\"a\",1]}", "stop[1]", "invalid_type"},
    {"{" M ",\"logit_bias\":[1]}", "logit_bias", "invalid_type"},
    {"{" M ",\"logit_bias\":{\"5\":\"x\"}}", "logit_bias.5", "invalid_type"},
    {"{" M ",\"logit_bias\":{\"5\":-101}}", "logit_bias.5", "invalid_value"},
    {"{" M ",\"metadata\":\"x\"}", "metadata", "invalid_type"},
    {"{" M ",\"metadata\":{\"a\":\"b\",\"c\":1}}", "metadata.c",
     "invalid_type"},
    {"{" M ",\"modalities\":\"audio\"}", "modalities", "invalid_type"},

    /* tools */
    {"{" M ",\"tools\":{}}", "tools", "invalid_type"},
    {"{" M ",\"tools\":null}", "tools", "invalid_type"},
    {"{" M ",\"tools\":[1]}", "tools[0]", "invalid_type"},
    {"{" M ",\"tools\":[{\"function\":{\"name\":\"f\"}}]}", "tools[0].type",
     "missing_required_parameter"},
    {"{" M ",\"tools\":[{\"type\":\"retrieval\"}]}", "tools[0].type",
     "invalid_value"},
    {"{" M ",\"tools\":[{\"type\":\"function\"}]}", "tools[0].function",
     "missing_required_parameter"},
    {"{" M ",\"tools\":[{\"type\":\"function\",\"function\":{}}]}",
     "tools[0].function.name", "missing_required_parameter"},
    {"{" M ",\"tools\":[{\"type\":\"function\",\"function\":"
     "{\"name\":\"get weather\"}}]}",
     "tools[0].function.name", "invalid_value"},
    {"{" M ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"\"}}]}",
     "tools[0].function.name", "invalid_value"},
    {"{" M ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}]"
     "}",
     "tools[0].function.name", "invalid_value"},
    {"{" M ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\"}},"
     "{\"type\":\"function\",\"function\":{\"name\":\"b\","
     "\"parameters\":\"{}\"}}]}",
     "tools[1].function.parameters", "invalid_type"},
    {"{" M ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\","
     "\"strict\":\"yes\"}}]}",
     "tools[0].function.strict", "invalid_type"},
    {"{" M ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\","
     "\"description\":5}}]}",
     "tools[0].function.description", "invalid_type"},
    {"{" M ",\"tools\":[{\"type\":\"custom\",\"custom\":{\"name\":\"a\","
     "\"format\":{\"type\":\"grammar\",\"grammar\":{\"definition\":\"x\","
     "\"syntax\":\"peg\"}}}}]}",
     "tools[0].custom.format.grammar.syntax", "invalid_value"},

    /* tool_choice */
    {"{" M ",\"tool_choice\":\"any\"}", "tool_choice", "invalid_value"},
    {"{" M ",\"tool_choice\":1}", "tool_choice", "invalid_type"},
    {"{" M ",\"tool_choice\":null}", "tool_choice", "invalid_type"},
    {"{" M ",\"tool_choice\":{\"type\":\"function\"}}", "tool_choice.function",
     "missing_required_parameter"},
    {"{" M ",\"tool_choice\":{\"type\":\"function\",\"function\":{}}}",
     "tool_choice.function.name", "missing_required_parameter"},
    {"{" M ",\"tool_choice\":{\"type\":\"tool\"}}", "tool_choice.type",
     "invalid_value"},
    {"{" M ",\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":"
     "{\"mode\":\"sometimes\",\"tools\":[]}}}",
     "tool_choice.allowed_tools.mode", "invalid_value"},
    {"{" M ",\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":"
     "{\"mode\":\"auto\",\"tools\":[{\"type\":\"function\"}]}}}",
     "tool_choice.allowed_tools.tools[0].function",
     "missing_required_parameter"},

    /* response_format */
    {"{" M ",\"response_format\":\"json\"}", "response_format", "invalid_type"},
    {"{" M ",\"response_format\":{}}", "response_format.type",
     "missing_required_parameter"},
    {"{" M ",\"response_format\":{\"type\":\"xml\"}}", "response_format.type",
     "invalid_value"},
    {"{" M ",\"response_format\":{\"type\":\"json_schema\"}}",
     "response_format.json_schema", "missing_required_parameter"},
    {"{" M ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
     "{\"schema\":{}}}}",
     "response_format.json_schema.name", "missing_required_parameter"},
    {"{" M ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
     "{\"name\":\"has space\"}}}",
     "response_format.json_schema.name", "invalid_value"},
    {"{" M ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
     "{\"name\":\"a\",\"schema\":[]}}}",
     "response_format.json_schema.schema", "invalid_type"},
};

static void test_bad_cases(void **state)
{
  size_t i;

  (void)state;
  for(i = 0; i < SB_ARRAY_LEN(BAD); i++) {
    struct api_error err;

    if(!validate(BAD[i].json, &err))
      fail_msg("accepted: %s", BAD[i].json);
    if(err.status != 400 || strcmp(err.type, "invalid_request_error") ||
       strcmp(err.param, BAD[i].param) || strcmp(err.code, BAD[i].code))
      fail_msg("%s\n  want param '%s' code %s\n  got status %d type %s "
               "param '%s' code %s: %s",
               BAD[i].json, BAD[i].param, BAD[i].code, err.status, err.type,
               err.param, err.code, err.message);
    assert_true(strlen(err.message) > 0);
  }
}

static void test_messages_text(void **state)
{
  struct api_error err;

  (void)state;
  assert_int_equal(validate("{" M ",\"temperature\":\"hot\"}", &err),
                   SB_EINVAL);
  assert_string_equal(
      err.message,
      "Invalid type for 'temperature': expected a number, got a string.");
  validate("{" M ",\"temperature\":3}", &err);
  assert_string_equal(err.message, "Invalid value for 'temperature': "
                                   "expected a number between 0 and 2, got 3.");
  validate("{\"model\":\"m\"}", &err);
  assert_string_equal(err.message, "Missing required parameter: 'messages'.");
  validate("{" M ",\"stream_options\":{}}", &err);
  assert_string_equal(err.message,
                      "stream_options is only allowed when stream is true.");
  validate("{\"model\":\"m\",\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}"
           "]}",
           &err);
  assert_non_null(strstr(err.message, "got 'bot'"));
  validate("{" M ",\"n\":[1]}", &err);
  assert_string_equal(err.message,
                      "Invalid type for 'n': expected an integer, got an "
                      "array.");
}

static void test_long_values_are_cut(void **state)
{
  struct api_error err;
  char json[2048];
  char role[601];

  (void)state;
  memset(role, 'r', 600);
  role[600] = '\0';
  snprintf(json, sizeof(json),
           "{\"model\":\"m\",\"messages\":[{\"role\":\"%s\",\"content\":\"x\"}"
           "]}",
           role);
  assert_int_equal(validate(json, &err), SB_EINVAL);
  assert_string_equal(err.param, "messages[0].role");
  assert_non_null(strstr(err.message, "rrr...'"));
  assert_true(strlen(err.message) < 200);
}

static void test_duplicate_keys(void **state)
{
  struct api_error err;
  struct buf b;
  int i;

  (void)state;
  assert_int_equal(
      validate("{" M ",\"temperature\":1,\"temperature\":\"x\"}", &err),
      SB_EINVAL);
  assert_string_equal(err.param, "temperature");
  assert_string_equal(err.code, "invalid_value");
  assert_int_equal(validate("{" M ",\"tools\":[],\"tools\":[{}]}", &err),
                   SB_EINVAL);
  assert_string_equal(err.param, "tools");
  /* repeated unknown keys are not our business */
  expect_ok("{" M ",\"x\":1,\"x\":2}");

  /* a body with very many members is checked in linear time */
  buf_init(&b, 16 << 20);
  buf_appendz(&b, "{" M);
  for(i = 0; i < 300000; i++)
    buf_printf(&b, ",\"k%d\":0", i);
  buf_appendz(&b, "}");
  expect_ok(b.data);
  buf_free(&b);
}

static void test_error_renders(void **state)
{
  struct api_error err;
  cJSON *j, *e;
  char *s;

  (void)state;
  validate("{" M ",\"top_p\":2}", &err);
  s = api_error_openai_json(&err);
  j = parse(s);
  e = cJSON_GetObjectItem(j, "error");
  assert_string_equal(cJSON_GetObjectItem(e, "param")->valuestring, "top_p");
  assert_string_equal(cJSON_GetObjectItem(e, "code")->valuestring,
                      "invalid_value");
  assert_string_equal(cJSON_GetObjectItem(e, "type")->valuestring,
                      "invalid_request_error");
  cJSON_Delete(j);
  free(s);
}

/* ---- capabilities ---- */

static void expect_caps(const char *json, unsigned caps, const char *param)
{
  struct api_error err;
  cJSON *j = parse(json);
  int rc;

  memset(&err, 0, sizeof(err));
  assert_int_equal(oai_chat_validate(j, &err), 0);
  rc = oai_chat_check_caps(j, caps, "echo", &err);
  cJSON_Delete(j);
  if(!param) {
    if(rc)
      fail_msg("caps refused %s: %s", json, err.message);
    return;
  }
  if(!rc)
    fail_msg("caps accepted %s", json);
  assert_int_equal(rc, SB_EINVAL);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.type, "invalid_request_error");
  assert_string_equal(err.code, "unsupported_parameter");
  if(strcmp(err.param, param))
    fail_msg("%s: want param %s, got %s", json, param, err.param);
  assert_non_null(strstr(err.message, "Provider 'echo' does not support"));
}

#define NO(cap) (OAI_CAP_ALL & ~(cap))

static void test_caps(void **state)
{
  struct api_error err;
  cJSON *j;

  (void)state;
  expect_caps(RICH, OAI_CAP_ALL, NULL);
  expect_caps("{" M "}", 0, NULL);
  expect_caps("{" M ",\"tools\":[{\"type\":\"function\",\"function\":"
              "{\"name\":\"f\"}}]}",
              NO(OAI_CAP_TOOLS), "tools");
  expect_caps("{" M ",\"tools\":[]}", NO(OAI_CAP_TOOLS), NULL);
  expect_caps("{" M ",\"functions\":[{\"name\":\"f\"}]}", NO(OAI_CAP_TOOLS),
              "functions");
  expect_caps("{" M ",\"n\":2}", NO(OAI_CAP_N), "n");
  expect_caps("{" M ",\"n\":1}", NO(OAI_CAP_N), NULL);
  expect_caps("{" M ",\"logprobs\":true}", NO(OAI_CAP_LOGPROBS), "logprobs");
  expect_caps("{" M ",\"logprobs\":false}", NO(OAI_CAP_LOGPROBS), NULL);
  expect_caps("{" M ",\"logprobs\":null}", NO(OAI_CAP_LOGPROBS), NULL);
  expect_caps("{" M ",\"top_logprobs\":3}", NO(OAI_CAP_LOGPROBS),
              "top_logprobs");
  expect_caps("{" M ",\"audio\":{\"voice\":\"alloy\",\"format\":\"wav\"}}",
              NO(OAI_CAP_AUDIO), "audio");
  expect_caps("{" M ",\"modalities\":[\"text\",\"audio\"]}", NO(OAI_CAP_AUDIO),
              "modalities");
  expect_caps("{" M ",\"modalities\":[\"text\"]}", NO(OAI_CAP_AUDIO), NULL);
  expect_caps("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"a\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
              "\"text\":\"x\"},{\"type\":\"input_audio\",\"input_audio\":"
              "{\"data\":\"AA\",\"format\":\"wav\"}}]}]}",
              NO(OAI_CAP_AUDIO), "messages[1].content[1]");
  expect_caps("{" M ",\"response_format\":{\"type\":\"json_object\"}}",
              NO(OAI_CAP_RESPONSE_FORMAT), "response_format");
  expect_caps("{" M ",\"response_format\":{\"type\":\"text\"}}",
              NO(OAI_CAP_RESPONSE_FORMAT), NULL);
  expect_caps("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"}}]}]}",
              NO(OAI_CAP_IMAGES), "messages[0].content[0]");
  expect_caps("{" M ",\"logit_bias\":{\"1\":5}}", NO(OAI_CAP_LOGIT_BIAS),
              "logit_bias");
  expect_caps("{" M ",\"logit_bias\":{}}", NO(OAI_CAP_LOGIT_BIAS), NULL);
  /* everything refused: the first in flag order is named */
  expect_caps(RICH, 0, "tools");

  /* the message names the provider and the parameter */
  j = parse("{" M ",\"tools\":[{\"type\":\"function\",\"function\":"
            "{\"name\":\"f\"}}]}");
  assert_int_equal(oai_chat_check_caps(j, NO(OAI_CAP_TOOLS), "echo", &err),
                   SB_EINVAL);
  assert_string_equal(err.message, "Provider 'echo' does not support 'tools'.");
  cJSON_Delete(j);
}

/* ---- last user text ---- */

static void expect_text(const char *json, int want_rc, const char *want)
{
  struct buf b;
  cJSON *j = parse(json);

  buf_init(&b, 1024);
  assert_int_equal(oai_chat_last_user_text(j, &b), want_rc);
  if(want)
    assert_string_equal(b.data ? b.data : "", want);
  buf_free(&b);
  cJSON_Delete(j);
}

static void test_last_user_text(void **state)
{
  struct buf b;
  cJSON *j;

  (void)state;
  expect_text("{" M "}", 0, "hi");
  expect_text("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"first\"},{\"role\":\"assistant\",\"content\":\"x\"},"
              "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
              "\"a\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"}},"
              "{\"type\":\"text\",\"text\":\"b c\"}]},"
              "{\"role\":\"assistant\",\"content\":\"y\"}]}",
              0, "a\nb c");
  expect_text("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
              "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"}}]}]}",
              0, "");
  expect_text("{\"model\":\"m\",\"messages\":[{\"role\":\"system\","
              "\"content\":\"s\"}]}",
              SB_ENOTFOUND, "");
  expect_text("{\"model\":\"m\"}", SB_ENOTFOUND, "");

  /* appends, and leaves out unchanged when its limit is hit */
  j = parse("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
            "[{\"type\":\"text\",\"text\":\"12345\"},{\"type\":\"text\","
            "\"text\":\"67890\"}]}]}");
  buf_init(&b, 10);
  buf_appendz(&b, ">");
  assert_int_equal(oai_chat_last_user_text(j, &b), SB_ETOOBIG);
  assert_string_equal(b.data, ">");
  buf_free(&b);
  buf_init(&b, 12);
  buf_appendz(&b, ">");
  assert_int_equal(oai_chat_last_user_text(j, &b), 0);
  assert_string_equal(b.data, ">12345\n67890");
  buf_free(&b);
  cJSON_Delete(j);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_minimal_ok),
      cmocka_unit_test(test_rich_ok),
      cmocka_unit_test(test_other_valid_shapes),
      cmocka_unit_test(test_bad_cases),
      cmocka_unit_test(test_messages_text),
      cmocka_unit_test(test_long_values_are_cut),
      cmocka_unit_test(test_duplicate_keys),
      cmocka_unit_test(test_error_renders),
      cmocka_unit_test(test_caps),
      cmocka_unit_test(test_last_user_text),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
