/* The Anthropic Messages codec: request translation, error paths,
 * non-streamed and streamed rendering, and Anthropic error bodies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/anth_msgs.h"
#include "base/apierr.h"
#include "codec/oai_chat.h"
#include "base/sb.h"
#include "base/sse.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static const cJSON *at(const cJSON *o, const char *path)
{
  /* "a.b.0.c": object keys and array indices */
  char buf[256];
  char *save = NULL, *tok;

  snprintf(buf, sizeof(buf), "%s", path);
  for(tok = strtok_r(buf, ".", &save); tok && o;
      tok = strtok_r(NULL, ".", &save)) {
    if(cJSON_IsArray(o))
      o = cJSON_GetArrayItem(o, atoi(tok));
    else
      o = cJSON_GetObjectItemCaseSensitive(o, tok);
  }
  return o;
}

static const char *str_at(const cJSON *o, const char *path)
{
  const cJSON *v = at(o, path);

  assert_true(cJSON_IsString(v));
  return v->valuestring;
}

static double num_at(const cJSON *o, const char *path)
{
  const cJSON *v = at(o, path);

  assert_true(cJSON_IsNumber(v));
  return v->valuedouble;
}

/* Translate json, which must succeed and give a valid canonical body. */
static cJSON *translate(const char *json, char **dropped)
{
  struct api_error err;
  cJSON *req = cJSON_Parse(json);
  cJSON *chat = NULL;
  int rc;

  assert_non_null(req);
  rc = anth_msgs_to_chat(req, &chat, dropped, &err);
  if(rc)
    fail_msg("translation failed: %s", err.message);
  assert_non_null(chat);
  if(oai_chat_validate(chat, &err))
    fail_msg("canonical body invalid: %s", err.message);
  cJSON_Delete(req);
  return chat;
}

/* ---- request translation ----------------------------------------------- */

static const char CLAUDE_CODE_BODY[] =
    "{\"model\":\"claude-sonnet-4-5-20250929\",\"max_tokens\":32000,"
    "\"stream\":true,\"temperature\":1,"
    "\"system\":[{\"type\":\"text\",\"text\":\"You are Claude Code.\","
    "\"cache_control\":{\"type\":\"ephemeral\"}},"
    "{\"type\":\"text\",\"text\":\"Working directory: /src\"}],"
    "\"metadata\":{\"user_id\":\"user_0a1b_account__session_42\"},"
    "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":10000},"
    "\"context_management\":{\"edits\":[]},"
    "\"tools\":["
    "{\"name\":\"Bash\",\"description\":\"Run a command\","
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"command\":"
    "{\"type\":\"string\"}},\"required\":[\"command\"],"
    "\"additionalProperties\":false,"
    "\"$schema\":\"http://json-schema.org/draft-07/schema#\"}},"
    "{\"name\":\"Read\",\"description\":\"Read a file\","
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"file_path\":"
    "{\"type\":\"string\"}}}},"
    "{\"type\":\"web_search_20250305\",\"name\":\"web_search\","
    "\"max_uses\":5},"
    "{\"name\":\"mcp__ide__getDiagnostics\",\"description\":\"Diagnostics\","
    "\"input_schema\":{\"type\":\"object\",\"properties\":{}},"
    "\"cache_control\":{\"type\":\"ephemeral\"}}],"
    "\"messages\":["
    "{\"role\":\"user\",\"content\":["
    "{\"type\":\"text\",\"text\":\"<system-reminder>ctx</system-reminder>\"},"
    "{\"type\":\"text\",\"text\":\"Fix the bug\","
    "\"cache_control\":{\"type\":\"ephemeral\"}},"
    "{\"type\":\"image\",\"source\":{\"type\":\"base64\","
    "\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}}]},"
    "{\"role\":\"assistant\",\"content\":["
    "{\"type\":\"thinking\",\"thinking\":\"Let me look.\","
    "\"signature\":\"EqQBCkYIBxgC\"},"
    "{\"type\":\"text\",\"text\":\"I'll read the file.\"},"
    "{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"Read\","
    "\"input\":{\"file_path\":\"/src/a.c\"}},"
    "{\"type\":\"tool_use\",\"id\":\"toolu_02\",\"name\":\"Bash\","
    "\"input\":{\"command\":\"ls\"}}]},"
    "{\"role\":\"user\",\"content\":["
    "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_01\","
    "\"content\":[{\"type\":\"text\",\"text\":\"int main;\"}]},"
    "{\"type\":\"text\",\"text\":\"continue\"},"
    "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_02\","
    "\"content\":\"a.c\\nb.c\",\"is_error\":true,"
    "\"cache_control\":{\"type\":\"ephemeral\"}}]},"
    "{\"role\":\"system\",\"content\":\"Reminder: be brief.\"},"
    "{\"role\":\"user\",\"content\":["
    "{\"type\":\"image\",\"source\":{\"type\":\"url\","
    "\"url\":\"https://example.com/x.png\"}},"
    "{\"type\":\"text\",\"text\":\"What is this?\"}]}]}";

static void test_claude_code_request(void **state)
{
  char *dropped = NULL;
  cJSON *c = translate(CLAUDE_CODE_BODY, &dropped);
  const cJSON *m;

  assert_string_equal(str_at(c, "model"), "claude-sonnet-4-5-20250929");
  assert_int_equal(num_at(c, "max_completion_tokens"), 32000);
  assert_null(at(c, "max_tokens"));
  assert_true(cJSON_IsTrue(at(c, "stream")));
  assert_true(cJSON_IsTrue(at(c, "stream_options.include_usage")));
  assert_int_equal(num_at(c, "temperature"), 1);
  assert_string_equal(str_at(c, "user"), "user_0a1b_account__session_42");
  assert_string_equal(str_at(c, "reasoning_effort"), "medium");
  assert_null(at(c, "metadata"));
  assert_null(at(c, "thinking"));
  assert_null(at(c, "tool_choice"));
  assert_string_equal(dropped, "tools.web_search_20250305,context_management");

  /* tools: the three custom ones, in order */
  assert_int_equal(cJSON_GetArraySize(at(c, "tools")), 3);
  assert_string_equal(str_at(c, "tools.0.type"), "function");
  assert_string_equal(str_at(c, "tools.0.function.name"), "Bash");
  assert_string_equal(str_at(c, "tools.0.function.description"),
                      "Run a command");
  assert_string_equal(str_at(c, "tools.0.function.parameters.required.0"),
                      "command");
  assert_true(
      cJSON_IsFalse(at(c, "tools.0.function.parameters.additionalProperties")));
  assert_null(at(c, "tools.0.cache_control"));
  assert_string_equal(str_at(c, "tools.1.function.name"), "Read");
  assert_string_equal(str_at(c, "tools.2.function.name"),
                      "mcp__ide__getDiagnostics");
  assert_string_equal(str_at(c, "tools.2.cache_control.type"), "ephemeral");

  m = at(c, "messages");
  assert_int_equal(cJSON_GetArraySize(m), 8);
  /* 0: the system prompt, blocks kept for the breakpoint */
  assert_string_equal(str_at(m, "0.role"), "system");
  assert_string_equal(str_at(m, "0.content.0.type"), "text");
  assert_string_equal(str_at(m, "0.content.0.text"), "You are Claude Code.");
  assert_string_equal(str_at(m, "0.content.0.cache_control.type"), "ephemeral");
  assert_string_equal(str_at(m, "0.content.1.text"), "Working directory: /src");
  assert_null(at(m, "0.content.1.cache_control"));
  /* 1: user text, text with a breakpoint, base64 image */
  assert_string_equal(str_at(m, "1.role"), "user");
  assert_int_equal(cJSON_GetArraySize(at(m, "1.content")), 3);
  assert_string_equal(str_at(m, "1.content.0.text"),
                      "<system-reminder>ctx</system-reminder>");
  assert_string_equal(str_at(m, "1.content.1.text"), "Fix the bug");
  assert_string_equal(str_at(m, "1.content.1.cache_control.type"), "ephemeral");
  assert_string_equal(str_at(m, "1.content.2.type"), "image_url");
  assert_string_equal(str_at(m, "1.content.2.image_url.url"),
                      "data:image/png;base64,iVBORw0KGgo=");
  /* 2: assistant with reasoning, text and two tool calls */
  assert_string_equal(str_at(m, "2.role"), "assistant");
  assert_string_equal(str_at(m, "2.content"), "I'll read the file.");
  assert_string_equal(str_at(m, "2.reasoning_content"), "Let me look.");
  assert_int_equal(cJSON_GetArraySize(at(m, "2.tool_calls")), 2);
  assert_string_equal(str_at(m, "2.tool_calls.0.id"), "toolu_01");
  assert_string_equal(str_at(m, "2.tool_calls.0.type"), "function");
  assert_string_equal(str_at(m, "2.tool_calls.0.function.name"), "Read");
  assert_string_equal(str_at(m, "2.tool_calls.0.function.arguments"),
                      "{\"file_path\":\"/src/a.c\"}");
  assert_string_equal(str_at(m, "2.tool_calls.1.id"), "toolu_02");
  assert_string_equal(str_at(m, "2.tool_calls.1.function.arguments"),
                      "{\"command\":\"ls\"}");
  /* 3, 4: the tool results come first, in order; 5: the user's text */
  assert_string_equal(str_at(m, "3.role"), "tool");
  assert_string_equal(str_at(m, "3.tool_call_id"), "toolu_01");
  assert_string_equal(str_at(m, "3.content"), "int main;");
  assert_string_equal(str_at(m, "4.role"), "tool");
  assert_string_equal(str_at(m, "4.tool_call_id"), "toolu_02");
  assert_string_equal(str_at(m, "4.content.0.text"), "a.c\nb.c");
  assert_string_equal(str_at(m, "4.content.0.cache_control.type"), "ephemeral");
  assert_string_equal(str_at(m, "5.role"), "user");
  assert_string_equal(str_at(m, "5.content"), "continue");
  /* 6: the system-role message where it stood */
  assert_string_equal(str_at(m, "6.role"), "system");
  assert_string_equal(str_at(m, "6.content"), "Reminder: be brief.");
  /* 7: url image then text */
  assert_string_equal(str_at(m, "7.role"), "user");
  assert_string_equal(str_at(m, "7.content.0.image_url.url"),
                      "https://example.com/x.png");
  assert_string_equal(str_at(m, "7.content.1.text"), "What is this?");

  cJSON_Delete(c);
  free(dropped);
}

static void test_request_options(void **state)
{
  char *dropped = NULL;
  cJSON *c = translate(
      "{\"model\":\"m\",\"max_tokens\":1024,\"top_p\":0.9,\"top_k\":40,"
      "\"stop_sequences\":[\"END\",\"STOP\"],\"service_tier\":\"auto\","
      "\"container\":null,\"inference_geo\":\"us\","
      "\"metadata\":{\"user_id\":null},"
      "\"thinking\":{\"type\":\"adaptive\"},"
      "\"output_config\":{\"effort\":\"high\",\"format\":{\"type\":"
      "\"json_schema\",\"schema\":{\"type\":\"object\"}}},"
      "\"tools\":[{\"type\":\"custom\",\"name\":\"get_weather\","
      "\"input_schema\":{\"type\":\"object\"},\"strict\":true,"
      "\"input_examples\":[{}]},{\"type\":\"bash_20250124\",\"name\":"
      "\"bash\"}],"
      "\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\","
      "\"disable_parallel_tool_use\":true},"
      "\"messages\":[{\"role\":\"user\",\"content\":["
      "{\"type\":\"document\",\"source\":{\"type\":\"base64\","
      "\"media_type\":\"application/pdf\",\"data\":\"JVBERi0=\"},"
      "\"title\":\"report.pdf\"},"
      "{\"type\":\"document\",\"source\":{\"type\":\"text\","
      "\"media_type\":\"text/plain\",\"data\":\"plain doc\"}},"
      "{\"type\":\"text\",\"text\":\"\"},"
      "{\"type\":\"mid_conv_system\",\"content\":[{\"type\":\"text\","
      "\"text\":\"mid\"}]},"
      "{\"type\":\"text\",\"text\":\"Summarise.\"}]},"
      "{\"role\":\"assistant\",\"content\":[{\"type\":\"redacted_thinking\","
      "\"data\":\"xx\"},{\"type\":\"thinking\",\"thinking\":\"a\","
      "\"signature\":\"s\"},{\"type\":\"thinking\",\"thinking\":\"b\","
      "\"signature\":\"s\"}]},"
      "{\"role\":\"user\",\"content\":\"go\"},"
      "{\"role\":\"assistant\",\"content\":\"\"}]}",
      &dropped);
  const cJSON *m = at(c, "messages");

  assert_true(cJSON_IsFalse(at(c, "stream")));
  assert_null(at(c, "stream_options"));
  assert_int_equal(num_at(c, "max_completion_tokens"), 1024);
  assert_true(num_at(c, "top_p") > 0.89 && num_at(c, "top_p") < 0.91);
  assert_int_equal(num_at(c, "top_k"), 40);
  assert_string_equal(str_at(c, "stop.0"), "END");
  assert_string_equal(str_at(c, "stop.1"), "STOP");
  assert_null(at(c, "user"));
  /* output_config.effort wins over the adaptive default */
  assert_string_equal(str_at(c, "reasoning_effort"), "high");
  assert_string_equal(str_at(c, "response_format.type"), "json_schema");
  assert_string_equal(str_at(c, "response_format.json_schema.name"), "output");
  assert_string_equal(str_at(c, "response_format.json_schema.schema.type"),
                      "object");
  assert_true(cJSON_IsTrue(at(c, "response_format.json_schema.strict")));
  assert_int_equal(cJSON_GetArraySize(at(c, "tools")), 1);
  assert_true(cJSON_IsTrue(at(c, "tools.0.function.strict")));
  assert_string_equal(str_at(c, "tool_choice.type"), "function");
  assert_string_equal(str_at(c, "tool_choice.function.name"), "get_weather");
  assert_true(cJSON_IsFalse(at(c, "parallel_tool_calls")));
  assert_string_equal(dropped, "tools.input_examples,tools.bash_20250124,"
                               "service_tier,inference_geo");
  /* Signed and redacted thinking kept, in order, for Anthropic. */
  assert_string_equal(str_at(m, "3.reasoning_details.0.type"),
                      "reasoning.encrypted");
  assert_string_equal(str_at(m, "3.reasoning_details.0.data"), "xx");
  assert_string_equal(str_at(m, "3.reasoning_details.0.format"),
                      "anthropic-claude-v1");
  assert_string_equal(str_at(m, "3.reasoning_details.1.type"),
                      "reasoning.text");
  assert_string_equal(str_at(m, "3.reasoning_details.1.text"), "a");
  assert_string_equal(str_at(m, "3.reasoning_details.1.signature"), "s");
  assert_string_equal(str_at(m, "3.reasoning_details.2.text"), "b");
  assert_int_equal(cJSON_GetArraySize(at(m, "3.reasoning_details")), 3);

  assert_int_equal(cJSON_GetArraySize(m), 5);
  assert_string_equal(str_at(m, "0.role"), "user");
  assert_string_equal(str_at(m, "0.content.0.type"), "file");
  assert_string_equal(str_at(m, "0.content.0.file.filename"), "report.pdf");
  assert_string_equal(str_at(m, "0.content.0.file.file_data"),
                      "data:application/pdf;base64,JVBERi0=");
  assert_string_equal(str_at(m, "0.content.1.type"), "text");
  assert_string_equal(str_at(m, "0.content.1.text"), "plain doc");
  assert_int_equal(cJSON_GetArraySize(at(m, "0.content")), 2);
  assert_string_equal(str_at(m, "1.role"), "system");
  assert_string_equal(str_at(m, "1.content"), "mid");
  assert_string_equal(str_at(m, "2.role"), "user");
  assert_string_equal(str_at(m, "2.content"), "Summarise.");
  assert_string_equal(str_at(m, "3.role"), "assistant");
  assert_true(cJSON_IsNull(at(m, "3.content")));
  assert_string_equal(str_at(m, "3.reasoning_content"), "a\nb");
  assert_null(at(m, "3.tool_calls"));
  /* the empty final assistant prefill is left out */
  assert_string_equal(str_at(m, "4.content"), "go");

  cJSON_Delete(c);
  free(dropped);

  /* Without custom tools a tool_choice has nothing to choose from. */
  c = translate("{\"model\":\"m\",\"max_tokens\":5,\"stream\":false,"
                "\"tools\":[{\"type\":\"web_search_20250305\",\"name\":"
                "\"web_search\"}],\"tool_choice\":{\"type\":\"any\"},"
                "\"thinking\":{\"type\":\"disabled\"},"
                "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                &dropped);
  assert_null(at(c, "tools"));
  assert_null(at(c, "tool_choice"));
  assert_null(at(c, "reasoning_effort"));
  assert_string_equal(dropped, "tools.web_search_20250305,tool_choice");
  cJSON_Delete(c);
  free(dropped);

  /* Nothing dropped: NULL. tool_choice any -> required. */
  c = translate("{\"model\":\"m\",\"max_tokens\":2048,"
                "\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":"
                "\"object\"}}],\"tool_choice\":{\"type\":\"any\"},"
                "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},"
                "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                &dropped);
  assert_null(dropped);
  assert_string_equal(str_at(c, "tool_choice"), "required");
  assert_null(at(c, "parallel_tool_calls"));
  assert_string_equal(str_at(c, "reasoning_effort"), "low");
  cJSON_Delete(c);
}

static void test_thinking_levels(void **state)
{
  static const struct {
    int budget;
    const char *effort;
  } cases[] = {
      {1024, "low"},     {4095, "low"},   {4096, "medium"},
      {16383, "medium"}, {16384, "high"}, {60000, "high"},
  };

  for(size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    char json[256];
    char *dropped;
    cJSON *c;

    snprintf(json, sizeof(json),
             "{\"model\":\"m\",\"max_tokens\":64000,\"thinking\":{\"type\":"
             "\"enabled\",\"budget_tokens\":%d},\"messages\":[{\"role\":"
             "\"user\",\"content\":\"x\"}]}",
             cases[i].budget);
    c = translate(json, &dropped);
    assert_string_equal(str_at(c, "reasoning_effort"), cases[i].effort);
    assert_null(dropped);
    cJSON_Delete(c);
  }
}

/* ---- error paths -------------------------------------------------------- */

#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
#define HEAD "\"model\":\"m\",\"max_tokens\":100,"

static void test_errors(void **state)
{
  static const struct {
    const char *body;
    const char *path;
    const char *detail; /* a substring of the message after "path: " */
  } cases[] = {
      {"{\"model\":\"m\"," MSGS "}", "max_tokens", "Field required"},
      {"{\"max_tokens\":5," MSGS "}", "model", "Field required"},
      {"{\"model\":5,\"max_tokens\":5," MSGS "}", "model",
       "Input should be a valid string"},
      {"{\"model\":\"m\",\"max_tokens\":\"10\"," MSGS "}", "max_tokens",
       "Input should be a valid integer"},
      {"{\"model\":\"m\",\"max_tokens\":1.5," MSGS "}", "max_tokens",
       "Input should be a valid integer"},
      {"{\"model\":\"m\",\"max_tokens\":0," MSGS "}", "max_tokens",
       "greater than or equal to 1"},
      {"{" HEAD "\"temperature\":1.5," MSGS "}", "temperature",
       "less than or equal to 1"},
      {"{" HEAD "\"stream\":\"yes\"," MSGS "}", "stream",
       "Input should be a valid boolean"},
      {"{" HEAD "\"messages\":{}}", "messages", "valid list"},
      {"{" HEAD "\"messages\":[]}", "messages", "at least 1 item"},
      {"{\"model\":\"m\",\"max_tokens\":100}", "messages", "Field required"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
       "{\"role\":\"bot\",\"content\":\"b\"}]}",
       "messages.1.role", "'user', 'assistant' or 'system'"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\"}]}", "messages.0.content",
       "Field required"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":5}]}",
       "messages.0.content", "valid string or a valid list"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
       "{\"role\":\"assistant\",\"content\":[{\"type\":\"foo\"}]}]}",
       "messages.1.content.0.type", "Input tag 'foo' found using 'type'"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":"
       "\"a\"}]}]}",
       "messages.0.content.0", "Unable to extract tag"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
       "\"text\"}]}]}",
       "messages.0.content.0.text", "Field required"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
       "\"text\",\"text\":7}]}]}",
       "messages.0.content.0.text", "valid string"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":[]}]}",
       "messages.0", "non-empty content"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":\"\"},"
       "{\"role\":\"assistant\",\"content\":\"x\"}]}",
       "messages.0", "non-empty content"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
       "\"server_tool_use\",\"id\":\"s\",\"name\":\"web_search\","
       "\"input\":{}}]}]}",
       "messages.0.content.0.type", "not supported through the gateway"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
       "\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}]}]}",
       "messages.0.content.0.type", "not allowed in 'user' messages"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
       "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\","
       "\"id\":\"t\",\"name\":\"f\",\"input\":\"{}\"}]}]}",
       "messages.1.content.0.input", "valid dictionary"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
       "\"tool_result\",\"tool_use_id\":\"t\",\"content\":[{\"type\":"
       "\"text\",\"text\":\"ok\"},{\"type\":\"image\",\"source\":{\"type\":"
       "\"url\",\"url\":\"https://x/y.png\"}}]}]}]}",
       "messages.0.content.0.content.1.type",
       "'image' blocks inside tool_result are not supported"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
       "\"tool_result\",\"content\":\"x\"}]}]}",
       "messages.0.content.0.tool_use_id", "Field required"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
       "\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
       "\"image/bmp\",\"data\":\"AA==\"}}]}]}",
       "messages.0.content.0.source.media_type", "'image/jpeg'"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
       "\"image\",\"source\":{\"type\":\"file\",\"file_id\":\"f\"}}]}]}",
       "messages.0.content.0.source.type", "not supported through"},
      {"{" HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
       "\"document\",\"source\":{\"type\":\"url\",\"url\":"
       "\"https://x/a.pdf\"}}]}]}",
       "messages.0.content.0.source.type", "not supported through"},
      {"{" HEAD "\"system\":[{\"type\":\"image\"}]," MSGS "}", "system.0.type",
       "expected tags: 'text'"},
      {"{" HEAD "\"tools\":[{\"name\":\"f\"}]," MSGS "}",
       "tools.0.input_schema", "Field required"},
      {"{" HEAD "\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":"
       "\"array\"}}]," MSGS "}",
       "tools.0.input_schema.type", "Input should be 'object'"},
      {"{" HEAD "\"tools\":[{\"name\":\"bad name\",\"input_schema\":{"
       "\"type\":\"object\"}}]," MSGS "}",
       "tools.0.name", "should match pattern"},
      {"{" HEAD "\"tools\":{}," MSGS "}", "tools", "valid list"},
      {"{" HEAD "\"tool_choice\":{\"type\":\"some\"}," MSGS "}",
       "tool_choice.type", "Input tag 'some'"},
      {"{" HEAD "\"tool_choice\":{\"type\":\"tool\"}," MSGS "}",
       "tool_choice.name", "Field required"},
      {"{" HEAD
       "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":100}," MSGS "}",
       "thinking.budget_tokens", "greater than or equal to 1024"},
      {"{" HEAD
       "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2000}," MSGS "}",
       "max_tokens", "must be greater than `thinking.budget_tokens`"},
      {"{" HEAD "\"thinking\":{\"type\":\"enabled\"}," MSGS "}",
       "thinking.budget_tokens", "Field required"},
      {"{" HEAD "\"stop_sequences\":[\"a\",\"b\",\"c\",\"d\",\"e\"]," MSGS "}",
       "stop_sequences", "at most 4"},
      {"{" HEAD "\"stop_sequences\":[\"a\",1]," MSGS "}", "stop_sequences.1",
       "valid string"},
      {"{" HEAD "\"metadata\":{\"user_id\":5}," MSGS "}", "metadata.user_id",
       "valid string"},
      {"{" HEAD "\"output_config\":{\"effort\":\"extreme\"}," MSGS "}",
       "output_config.effort", "'low', 'medium'"},
      {"{" HEAD
       "\"output_config\":{\"format\":{\"type\":\"json_schema\"}}," MSGS "}",
       "output_config.format.schema", "Field required"},
  };

  for(size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    struct api_error err;
    cJSON *req = cJSON_Parse(cases[i].body);
    cJSON *chat = (cJSON *)1;
    char *dropped = (char *)1;
    size_t n = strlen(cases[i].path);

    if(!req)
      fail_msg("case %zu: bad test JSON", i);
    memset(&err, 0, sizeof(err));
    if(anth_msgs_to_chat(req, &chat, &dropped, &err) != SB_EINVAL)
      fail_msg("case %zu (%s): accepted", i, cases[i].path);
    assert_null(chat);
    assert_null(dropped);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.type, "invalid_request_error");
    if(strcmp(err.param, cases[i].path) ||
       strncmp(err.message, cases[i].path, n) ||
       strncmp(err.message + n, ": ", 2) ||
       !strstr(err.message, cases[i].detail))
      fail_msg("case %zu: param '%s', message '%s'", i, err.param, err.message);
    cJSON_Delete(req);
  }

  {
    struct api_error err;
    cJSON *chat;
    char *dropped;
    cJSON *arr = cJSON_CreateArray();

    assert_int_equal(anth_msgs_to_chat(arr, &chat, &dropped, &err), SB_EINVAL);
    assert_int_equal(err.status, 400);
    cJSON_Delete(arr);
  }
}

/* ---- non-streamed rendering --------------------------------------------- */

/* Found by tests/fuzz/fuzz_render: a completion's usage (relayed from an
 * upstream) of 1e300 tokens was cast to int64_t (undefined). It is no
 * count: it reads as 0. */
static void test_from_completion_huge_usage(void **state)
{
  cJSON *comp = cJSON_Parse(
      "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":"
      "\"x\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":"
      "1e300,\"completion_tokens\":-1e300,\"prompt_tokens_details\":{"
      "\"cached_tokens\":9e18}}}");
  cJSON *m = anth_msgs_from_completion(comp, "msg_1", "m");
  (void)state;

  assert_int_equal(num_at(m, "usage.input_tokens"), 0);
  assert_int_equal(num_at(m, "usage.output_tokens"), 0);
  cJSON_Delete(m);
  cJSON_Delete(comp);
}

/* Claude on Bedrock's signed reasoning reaches a Messages client with its
 * signature tagged by format, and comes back to Bedrock untagged; an
 * Anthropic signature, or a tag the gateway never makes, stays Anthropic's. */
static void test_foreign_signature(void **state)
{
  cJSON *comp = cJSON_Parse(
      "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":"
      "\"x\",\"reasoning_content\":\"hmm\",\"reasoning_details\":[{\"type\":"
      "\"reasoning.text\",\"text\":\"hmm\",\"signature\":\"QkVE\",\"format\":"
      "\"bedrock-converse-v1\"}]},\"finish_reason\":\"stop\"}]}");
  cJSON *m = anth_msgs_from_completion(comp, "msg_1", "m");
  cJSON *chat, *d;
  char *dropped = NULL;
  (void)state;

  assert_string_equal(str_at(m, "content.0.type"), "thinking");
  assert_string_equal(str_at(m, "content.0.signature"),
                      "sb1:bedrock-converse-v1:QkVE");
  cJSON_Delete(m);
  cJSON_Delete(comp);

  chat = translate(
      "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\","
      "\"content\":\"a\"},{\"role\":\"assistant\",\"content\":[{\"type\":"
      "\"thinking\",\"thinking\":\"hmm\",\"signature\":"
      "\"sb1:bedrock-converse-v1:QkVE\"},{\"type\":\"thinking\",\"thinking\":"
      "\"t2\",\"signature\":\"QU5U\"},{\"type\":\"thinking\",\"thinking\":"
      "\"t3\",\"signature\":\"sb1:made-up:Zm9v\"},{\"type\":\"text\","
      "\"text\":\"b\"}]},{\"role\":\"user\",\"content\":\"c\"}]}",
      &dropped);
  free(dropped);
  d = cJSON_GetObjectItem(
      cJSON_GetArrayItem(cJSON_GetObjectItem(chat, "messages"), 1),
      "reasoning_details");
  assert_int_equal(cJSON_GetArraySize(d), 3);
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetArrayItem(d, 0), "format")->valuestring,
      "bedrock-converse-v1");
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetArrayItem(d, 0), "signature")->valuestring,
      "QkVE");
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetArrayItem(d, 1), "format")->valuestring,
      "anthropic-claude-v1");
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetArrayItem(d, 2), "format")->valuestring,
      "anthropic-claude-v1");
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetArrayItem(d, 2), "signature")->valuestring,
      "sb1:made-up:Zm9v");
  cJSON_Delete(chat);
}

static void test_from_completion(void **state)
{
  cJSON *comp = cJSON_Parse(
      "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"choices\":[{"
      "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Sure.\","
      "\"reasoning_content\":\"The user wants weather.\",\"tool_calls\":["
      "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
      "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
      "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":"
      "\"noop\",\"arguments\":\"not json\"}}]},"
      "\"finish_reason\":\"tool_calls\"}],"
      "\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":20,"
      "\"total_tokens\":120,\"prompt_tokens_details\":{\"cached_tokens\":30},"
      "\"completion_tokens_details\":{\"reasoning_tokens\":5}}}");
  cJSON *m = anth_msgs_from_completion(comp, "msg_abc", "claude-x");

  assert_string_equal(str_at(m, "id"), "msg_abc");
  assert_string_equal(str_at(m, "type"), "message");
  assert_string_equal(str_at(m, "role"), "assistant");
  assert_string_equal(str_at(m, "model"), "claude-x");
  assert_int_equal(cJSON_GetArraySize(at(m, "content")), 4);
  assert_string_equal(str_at(m, "content.0.type"), "thinking");
  assert_string_equal(str_at(m, "content.0.thinking"),
                      "The user wants weather.");
  assert_string_equal(str_at(m, "content.0.signature"), "");
  assert_string_equal(str_at(m, "content.1.type"), "text");
  assert_string_equal(str_at(m, "content.1.text"), "Sure.");
  assert_string_equal(str_at(m, "content.2.type"), "tool_use");
  assert_string_equal(str_at(m, "content.2.id"), "call_1");
  assert_string_equal(str_at(m, "content.2.name"), "get_weather");
  assert_string_equal(str_at(m, "content.2.input.city"), "Paris");
  assert_string_equal(str_at(m, "content.3.name"), "noop");
  assert_true(cJSON_IsObject(at(m, "content.3.input")));
  assert_null(at(m, "content.3.input")->child);
  assert_string_equal(str_at(m, "stop_reason"), "tool_use");
  assert_true(cJSON_IsNull(at(m, "stop_sequence")));
  assert_int_equal(num_at(m, "usage.input_tokens"), 70);
  assert_int_equal(num_at(m, "usage.output_tokens"), 20);
  assert_int_equal(num_at(m, "usage.cache_read_input_tokens"), 30);
  assert_int_equal(num_at(m, "usage.cache_creation_input_tokens"), 0);
  assert_int_equal(num_at(m, "usage.output_tokens_details.thinking_tokens"), 5);
  cJSON_Delete(m);
  cJSON_Delete(comp);

  /* length, no usage, null content: empty content, zeros */
  comp = cJSON_Parse("{\"choices\":[{\"message\":{\"role\":\"assistant\","
                     "\"content\":null},\"finish_reason\":\"length\"}]}");
  m = anth_msgs_from_completion(comp, "msg_2", "m");
  assert_int_equal(cJSON_GetArraySize(at(m, "content")), 0);
  assert_string_equal(str_at(m, "stop_reason"), "max_tokens");
  assert_int_equal(num_at(m, "usage.input_tokens"), 0);
  assert_int_equal(num_at(m, "usage.output_tokens"), 0);
  cJSON_Delete(m);
  cJSON_Delete(comp);

  /* tool calls finished with "stop"; an id-less call gets a toolu_ id */
  comp = cJSON_Parse(
      "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"\","
      "\"tool_calls\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
      "\"arguments\":\"{}\"}}]},\"finish_reason\":\"stop\"}]}");
  m = anth_msgs_from_completion(comp, "msg_3", "m");
  assert_int_equal(cJSON_GetArraySize(at(m, "content")), 1);
  assert_string_equal(str_at(m, "content.0.type"), "tool_use");
  assert_memory_equal(str_at(m, "content.0.id"), "toolu_", 6);
  assert_string_equal(str_at(m, "stop_reason"), "tool_use");
  cJSON_Delete(m);
  cJSON_Delete(comp);
}

static void test_stop_reason(void **state)
{
  assert_string_equal(anth_stop_reason("stop"), "end_turn");
  assert_string_equal(anth_stop_reason("length"), "max_tokens");
  assert_string_equal(anth_stop_reason("tool_calls"), "tool_use");
  assert_string_equal(anth_stop_reason("function_call"), "tool_use");
  assert_string_equal(anth_stop_reason("content_filter"), "refusal");
  assert_string_equal(anth_stop_reason(NULL), "end_turn");
  assert_string_equal(anth_stop_reason("eos"), "end_turn");
}

/* ---- streamed rendering ------------------------------------------------- */

#define MAX_EVENTS 64

struct events {
  int n;
  char *name[MAX_EVENTS];
  char *data[MAX_EVENTS];
};

static int collect(void *ud, const struct sse_event *ev)
{
  struct events *e = ud;

  assert_true(e->n < MAX_EVENTS);
  e->name[e->n] = ev->event ? sb_strndup(ev->event, ev->event_len) : NULL;
  e->data[e->n] = sb_strndup(ev->data, ev->data_len);
  e->n++;
  return 0;
}

static void events_free(struct events *e)
{
  for(int i = 0; i < e->n; i++) {
    free(e->name[i]);
    free(e->data[i]);
  }
  e->n = 0;
}

/* Parse out's bytes fed in pieces split at cut (0: in one piece). */
static void parse(const struct buf *out, size_t cut, struct events *e)
{
  struct sse_parser p;

  memset(e, 0, sizeof(*e));
  sse_parser_init(&p, 1 << 20, collect, e);
  if(cut) {
    assert_int_equal(sse_parser_feed(&p, out->data, cut), 0);
    assert_int_equal(sse_parser_feed(&p, out->data + cut, out->len - cut), 0);
  } else {
    assert_int_equal(sse_parser_feed(&p, out->data, out->len), 0);
  }
  assert_int_equal(sse_parser_finish(&p), 0);
  sse_parser_free(&p);
}

/* Event i of e, checked: its name equals the JSON "type". */
static cJSON *event_json(const struct events *e, int i, const char *type)
{
  cJSON *v;

  assert_true(i < e->n);
  assert_non_null(e->name[i]);
  assert_string_equal(e->name[i], type);
  v = cJSON_Parse(e->data[i]);
  assert_non_null(v);
  assert_string_equal(str_at(v, "type"), type);
  return v;
}

static void expect_block_start(const struct events *e, int i, int index,
                               const char *type)
{
  cJSON *v = event_json(e, i, "content_block_start");

  assert_int_equal(num_at(v, "index"), index);
  assert_string_equal(str_at(v, "content_block.type"), type);
  cJSON_Delete(v);
}

static void expect_delta(const struct events *e, int i, int index,
                         const char *type, const char *key, const char *val)
{
  cJSON *v = event_json(e, i, "content_block_delta");

  assert_int_equal(num_at(v, "index"), index);
  assert_string_equal(str_at(v, "delta.type"), type);
  {
    char path[64];
    snprintf(path, sizeof(path), "delta.%s", key);
    assert_string_equal(str_at(v, path), val);
  }
  cJSON_Delete(v);
}

static void expect_block_stop(const struct events *e, int i, int index)
{
  cJSON *v = event_json(e, i, "content_block_stop");

  assert_int_equal(num_at(v, "index"), index);
  cJSON_Delete(v);
}

static void render_all(struct anth_stream *s, const struct canon_ev *evs,
                       size_t n, struct buf *out)
{
  for(size_t i = 0; i < n; i++)
    assert_int_equal(anth_stream_render(s, &evs[i], out), 0);
  assert_int_equal(anth_stream_end(s, out), 0);
}

static const struct canon_ev FULL_STREAM[] = {
    {.type = CANON_EV_START, .id = "up_1", .model = "gpt-x"},
    {.type = CANON_EV_REASONING, .text = "Let me", .len = 6},
    {.type = CANON_EV_REASONING, .text = " think", .len = 6},
    {.type = CANON_EV_REASONING, .signature = "sig=="},
    {.type = CANON_EV_TEXT, .text = "", .len = 0},
    {.type = CANON_EV_TEXT, .text = "Hi", .len = 2},
    {.type = CANON_EV_TEXT, .text = " there", .len = 6},
    {.type = CANON_EV_TOOL_START,
     .index = 0,
     .id = "call_a",
     .name = "get_weather",
     .text = "",
     .len = 0},
    {.type = CANON_EV_TOOL_START,
     .index = 1,
     .id = "call_b",
     .name = "get_time",
     .text = "{\"tz\":",
     .len = 6},
    {.type = CANON_EV_TOOL_ARGS, .index = 0, .text = "{\"city\":", .len = 8},
    {.type = CANON_EV_TOOL_ARGS, .index = 1, .text = "\"UTC\"}", .len = 6},
    {.type = CANON_EV_TOOL_ARGS, .index = 0, .text = "\"Paris\"}", .len = 8},
    {.type = CANON_EV_FINISH, .finish_reason = "tool_calls"},
    {.type = CANON_EV_USAGE,
     .usage = {.prompt_tokens = 50,
               .completion_tokens = 30,
               .cached_tokens = 10,
               .reasoning_tokens = 5}},
};

static void test_stream_events(void **state)
{
  struct anth_stream *s = anth_stream_new("msg_gw1", "claude-x");
  struct events e;
  struct buf out;
  cJSON *v;

  buf_init(&out, 1 << 20);
  render_all(s, FULL_STREAM, SB_ARRAY_LEN(FULL_STREAM), &out);
  parse(&out, 0, &e);
  assert_int_equal(e.n, 20);

  v = event_json(&e, 0, "message_start");
  assert_string_equal(str_at(v, "message.id"), "msg_gw1");
  assert_string_equal(str_at(v, "message.type"), "message");
  assert_string_equal(str_at(v, "message.role"), "assistant");
  assert_string_equal(str_at(v, "message.model"), "claude-x");
  assert_true(cJSON_IsArray(at(v, "message.content")));
  assert_int_equal(cJSON_GetArraySize(at(v, "message.content")), 0);
  assert_true(cJSON_IsNull(at(v, "message.stop_reason")));
  assert_true(cJSON_IsNull(at(v, "message.stop_sequence")));
  assert_int_equal(num_at(v, "message.usage.input_tokens"), 0);
  assert_int_equal(num_at(v, "message.usage.output_tokens"), 0);
  cJSON_Delete(v);
  cJSON_Delete(event_json(&e, 1, "ping"));

  expect_block_start(&e, 2, 0, "thinking");
  v = event_json(&e, 2, "content_block_start");
  assert_string_equal(str_at(v, "content_block.thinking"), "");
  assert_string_equal(str_at(v, "content_block.signature"), "");
  cJSON_Delete(v);
  expect_delta(&e, 3, 0, "thinking_delta", "thinking", "Let me");
  expect_delta(&e, 4, 0, "thinking_delta", "thinking", " think");
  expect_delta(&e, 5, 0, "signature_delta", "signature", "sig==");
  expect_block_stop(&e, 6, 0);

  expect_block_start(&e, 7, 1, "text");
  expect_delta(&e, 8, 1, "text_delta", "text", "Hi");
  expect_delta(&e, 9, 1, "text_delta", "text", " there");
  expect_block_stop(&e, 10, 1);

  /* Tool 0 stays open while its arguments are incomplete; tool 1's
   * fragments are held and shown when its block opens. */
  expect_block_start(&e, 11, 2, "tool_use");
  v = event_json(&e, 11, "content_block_start");
  assert_string_equal(str_at(v, "content_block.id"), "call_a");
  assert_string_equal(str_at(v, "content_block.name"), "get_weather");
  assert_true(cJSON_IsObject(at(v, "content_block.input")));
  assert_null(at(v, "content_block.input")->child);
  cJSON_Delete(v);
  expect_delta(&e, 12, 2, "input_json_delta", "partial_json", "{\"city\":");
  expect_delta(&e, 13, 2, "input_json_delta", "partial_json", "\"Paris\"}");
  expect_block_stop(&e, 14, 2);
  expect_block_start(&e, 15, 3, "tool_use");
  v = event_json(&e, 15, "content_block_start");
  assert_string_equal(str_at(v, "content_block.id"), "call_b");
  assert_string_equal(str_at(v, "content_block.name"), "get_time");
  cJSON_Delete(v);
  expect_delta(&e, 16, 3, "input_json_delta", "partial_json",
               "{\"tz\":\"UTC\"}");
  expect_block_stop(&e, 17, 3);

  v = event_json(&e, 18, "message_delta");
  assert_string_equal(str_at(v, "delta.stop_reason"), "tool_use");
  assert_true(cJSON_IsNull(at(v, "delta.stop_sequence")));
  assert_int_equal(num_at(v, "usage.output_tokens"), 30);
  assert_int_equal(num_at(v, "usage.input_tokens"), 40);
  assert_int_equal(num_at(v, "usage.cache_read_input_tokens"), 10);
  assert_int_equal(num_at(v, "usage.output_tokens_details.thinking_tokens"), 5);
  cJSON_Delete(v);
  cJSON_Delete(event_json(&e, 19, "message_stop"));

  events_free(&e);
  anth_stream_free(s);
  buf_free(&out);
}

/* The rendered bytes parse to the same events however they are split. */
static void test_stream_resplit(void **state)
{
  struct anth_stream *s = anth_stream_new("msg_gw1", "claude-x");
  struct events whole, part;
  struct buf out;

  buf_init(&out, 1 << 20);
  render_all(s, FULL_STREAM, SB_ARRAY_LEN(FULL_STREAM), &out);
  parse(&out, 0, &whole);
  assert_int_equal(whole.n, 20);
  for(size_t cut = 1; cut < out.len; cut++) {
    parse(&out, cut, &part);
    assert_int_equal(part.n, whole.n);
    for(int i = 0; i < whole.n; i++) {
      assert_string_equal(part.name[i], whole.name[i]);
      assert_string_equal(part.data[i], whole.data[i]);
    }
    events_free(&part);
  }
  events_free(&whole);
  anth_stream_free(s);
  buf_free(&out);
}

static void test_stream_defaults(void **state)
{
  struct anth_stream *s;
  struct events e;
  struct buf out;
  cJSON *v;
  const struct canon_ev text[] = {
      {.type = CANON_EV_TEXT, .text = "ok", .len = 2},
  };
  const struct canon_ev tool[] = {
      {.type = CANON_EV_START},
      {.type = CANON_EV_TOOL_START, .index = 3, .name = "f"},
      {.type = CANON_EV_TOOL_ARGS, .index = 3, .text = "{}", .len = 2},
      {.type = CANON_EV_TOOL_ARGS, .index = 9, .text = "x", .len = 1},
  };

  /* no START, FINISH or USAGE: start on the first event, end_turn */
  buf_init(&out, 1 << 20);
  s = anth_stream_new("msg_1", "m");
  render_all(s, text, SB_ARRAY_LEN(text), &out);
  parse(&out, 0, &e);
  assert_int_equal(e.n, 7);
  cJSON_Delete(event_json(&e, 0, "message_start"));
  cJSON_Delete(event_json(&e, 1, "ping"));
  expect_block_start(&e, 2, 0, "text");
  expect_delta(&e, 3, 0, "text_delta", "text", "ok");
  expect_block_stop(&e, 4, 0);
  v = event_json(&e, 5, "message_delta");
  assert_string_equal(str_at(v, "delta.stop_reason"), "end_turn");
  assert_int_equal(num_at(v, "usage.output_tokens"), 0);
  assert_int_equal(num_at(v, "usage.input_tokens"), 0);
  cJSON_Delete(v);
  cJSON_Delete(event_json(&e, 6, "message_stop"));
  events_free(&e);
  anth_stream_free(s);
  buf_free(&out);

  /* tool calls without FINISH: tool_use; a missing id is generated;
   * arguments for a call that never started are dropped */
  buf_init(&out, 1 << 20);
  s = anth_stream_new("msg_2", "m");
  render_all(s, tool, SB_ARRAY_LEN(tool), &out);
  parse(&out, 0, &e);
  assert_int_equal(e.n, 7);
  v = event_json(&e, 2, "content_block_start");
  assert_memory_equal(str_at(v, "content_block.id"), "toolu_", 6);
  assert_string_equal(str_at(v, "content_block.name"), "f");
  cJSON_Delete(v);
  expect_delta(&e, 3, 0, "input_json_delta", "partial_json", "{}");
  expect_block_stop(&e, 4, 0);
  v = event_json(&e, 5, "message_delta");
  assert_string_equal(str_at(v, "delta.stop_reason"), "tool_use");
  cJSON_Delete(v);
  events_free(&e);
  anth_stream_free(s);
  buf_free(&out);

  /* an empty stream still has the message frame */
  buf_init(&out, 1 << 20);
  s = anth_stream_new("msg_3", "m");
  assert_int_equal(anth_stream_end(s, &out), 0);
  parse(&out, 0, &e);
  assert_int_equal(e.n, 4);
  cJSON_Delete(event_json(&e, 2, "message_delta"));
  cJSON_Delete(event_json(&e, 3, "message_stop"));
  events_free(&e);
  anth_stream_free(s);
  buf_free(&out);
}

/* Calls that arrive one after the other (Anthropic, most OpenAI streams)
 * are shown live: a complete JSON value lets the next call's block open
 * at once. An incomplete call is closed by the finish. */
static void test_stream_sequential_tools(void **state)
{
  struct anth_stream *s = anth_stream_new("msg_1", "m");
  struct events e;
  struct buf out;
  cJSON *v;
  const struct canon_ev evs[] = {
      {.type = CANON_EV_TOOL_START,
       .index = 0,
       .id = "a",
       .name = "f",
       .text = "{\"x\":\"}\"}",
       .len = 9},
      {.type = CANON_EV_TOOL_START, .index = 1, .id = "b", .name = "g"},
      {.type = CANON_EV_TOOL_ARGS, .index = 1, .text = "{\"y\":", .len = 5},
      {.type = CANON_EV_FINISH, .finish_reason = "stop"},
  };

  buf_init(&out, 1 << 20);
  render_all(s, evs, SB_ARRAY_LEN(evs), &out);
  parse(&out, 0, &e);
  assert_int_equal(e.n, 10);
  expect_block_start(&e, 2, 0, "tool_use");
  expect_delta(&e, 3, 0, "input_json_delta", "partial_json", "{\"x\":\"}\"}");
  expect_block_stop(&e, 4, 0);
  expect_block_start(&e, 5, 1, "tool_use");
  expect_delta(&e, 6, 1, "input_json_delta", "partial_json", "{\"y\":");
  expect_block_stop(&e, 7, 1);
  /* a tool call finished with "stop" is still a tool_use turn */
  v = event_json(&e, 8, "message_delta");
  assert_string_equal(str_at(v, "delta.stop_reason"), "tool_use");
  cJSON_Delete(v);
  events_free(&e);
  anth_stream_free(s);
  buf_free(&out);
}

static void test_stream_error(void **state)
{
  struct anth_stream *s = anth_stream_new("msg_1", "m");
  struct api_error err;
  struct events e;
  struct buf out;
  cJSON *v;
  struct canon_ev text = {.type = CANON_EV_TEXT, .text = "a", .len = 1};
  struct canon_ev fail = {.type = CANON_EV_ERROR, .err = &err};

  api_error_set(&err, 503, "server_error", "overloaded", NULL,
                "Upstream overloaded");
  buf_init(&out, 1 << 20);
  assert_int_equal(anth_stream_render(s, &text, &out), 0);
  assert_int_equal(anth_stream_render(s, &fail, &out), 0);
  /* nothing follows an error */
  assert_int_equal(anth_stream_render(s, &text, &out), 0);
  assert_int_equal(anth_stream_end(s, &out), 0);
  parse(&out, 0, &e);
  assert_int_equal(e.n, 5);
  v = event_json(&e, 4, "error");
  assert_string_equal(str_at(v, "error.type"), "overloaded_error");
  assert_string_equal(str_at(v, "error.message"), "Upstream overloaded");
  cJSON_Delete(v);
  events_free(&e);
  anth_stream_free(s);
  buf_free(&out);

  /* a full output buffer */
  s = anth_stream_new("msg_1", "m");
  buf_init(&out, 64);
  assert_int_equal(anth_stream_render(s, &text, &out), SB_ETOOBIG);
  anth_stream_free(s);
  buf_free(&out);
}

/* ---- Anthropic error bodies --------------------------------------------- */

static void test_error_json(void **state)
{
  static const struct {
    int status;
    const char *type;
  } cases[] = {
      {400, "invalid_request_error"},
      {401, "authentication_error"},
      {402, "billing_error"},
      {403, "permission_error"},
      {404, "not_found_error"},
      {409, "invalid_request_error"},
      {413, "request_too_large"},
      {422, "invalid_request_error"},
      {429, "rate_limit_error"},
      {500, "api_error"},
      {502, "api_error"},
      {503, "overloaded_error"},
      {504, "timeout_error"},
      {529, "overloaded_error"},
      {501, "api_error"},
  };

  for(size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    struct api_error err;
    char *s;
    cJSON *v;

    api_error_set(&err, cases[i].status, "server_error", "c", "p", "failed %d",
                  cases[i].status);
    s = api_error_anthropic_json(&err);
    v = cJSON_Parse(s);
    assert_non_null(v);
    assert_string_equal(str_at(v, "type"), "error");
    assert_string_equal(str_at(v, "error.type"), cases[i].type);
    {
      char msg[32];
      snprintf(msg, sizeof(msg), "failed %d", cases[i].status);
      assert_string_equal(str_at(v, "error.message"), msg);
    }
    /* exactly type and error; error has exactly type and message */
    assert_int_equal(cJSON_GetArraySize(v), 2);
    assert_int_equal(cJSON_GetArraySize(at(v, "error")), 2);
    cJSON_Delete(v);
    free(s);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_claude_code_request),
      cmocka_unit_test(test_request_options),
      cmocka_unit_test(test_thinking_levels),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_from_completion),
      cmocka_unit_test(test_from_completion_huge_usage),
      cmocka_unit_test(test_stop_reason),
      cmocka_unit_test(test_stream_events),
      cmocka_unit_test(test_stream_resplit),
      cmocka_unit_test(test_stream_defaults),
      cmocka_unit_test(test_stream_sequential_tools),
      cmocka_unit_test(test_stream_error),
      cmocka_unit_test(test_error_json),
      cmocka_unit_test(test_foreign_signature),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
