/* The Responses codec: request translation (what Codex and the SDKs send),
 * its errors, the response object, the stored-history round trip, and the
 * event stream checked event by event and re-parsed at every split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/oai_chat.h"
#include "codec/oai_resp.h"
#include "base/sb.h"
#include "base/sse.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------- */

static cJSON *parse(const char *json)
{
  cJSON *v = cJSON_Parse(json);

  assert_non_null(v);
  return v;
}

/* The value at a path like "messages[3].tool_calls[0].function.name", or
 * NULL. */
static const cJSON *jp(const cJSON *v, const char *path)
{
  char key[64];

  while(v && *path) {
    if(*path == '.') {
      path++;
      continue;
    }
    if(*path == '[') {
      char *end;
      long i = strtol(path + 1, &end, 10);
      assert_int_equal(*end, ']');
      v = cJSON_GetArrayItem(v, (int)i);
      path = end + 1;
      continue;
    }
    {
      size_t n = strcspn(path, ".[");
      assert_true(n < sizeof(key));
      memcpy(key, path, n);
      key[n] = '\0';
      v = cJSON_GetObjectItemCaseSensitive(v, key);
      path += n;
    }
  }
  return v;
}

static const char *js(const cJSON *v, const char *path)
{
  const cJSON *s = jp(v, path);

  if(!cJSON_IsString(s))
    fail_msg("'%s' is not a string", path);
  return s->valuestring;
}

static double jn(const cJSON *v, const char *path)
{
  const cJSON *n = jp(v, path);

  if(!cJSON_IsNumber(n))
    fail_msg("'%s' is not a number", path);
  return n->valuedouble;
}

static int jsize(const cJSON *v, const char *path)
{
  const cJSON *a = jp(v, path);

  if(!cJSON_IsArray(a))
    fail_msg("'%s' is not an array", path);
  return cJSON_GetArraySize(a);
}

static void assert_json_eq(const cJSON *got, const char *want_json)
{
  cJSON *want = parse(want_json);

  if(!cJSON_Compare(got, want, 1)) {
    char *g = cJSON_PrintUnformatted(got);
    print_error("got:  %s\nwant: %s\n", g, want_json);
    free(g);
    cJSON_Delete(want);
    fail();
  }
  cJSON_Delete(want);
}

static void assert_prefix(const char *s, const char *prefix)
{
  if(strncmp(s, prefix, strlen(prefix)))
    fail_msg("'%s' does not start with '%s'", s, prefix);
}

static void assert_valid_chat(const cJSON *chat)
{
  struct api_error err;

  if(oai_chat_validate(chat, &err))
    fail_msg("chat body invalid: %s (%s)", err.message, err.param);
}

/* ---- request translation ----------------------------------------------- */

static const char CODEX_REQ[] =
    "{\"model\":\"gpt-5-codex\",\"instructions\":\"You are Codex.\","
    "\"input\":["
    "{\"type\":\"message\",\"role\":\"developer\",\"content\":[{\"type\":"
    "\"input_text\",\"text\":\"<permissions>\"}]},"
    "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":"
    "\"input_text\",\"text\":\"fix the bug\"}]},"
    "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":"
    "\"summary_text\",\"text\":\"Look at files\"}],\"content\":null,"
    "\"encrypted_content\":\"gAAAA\"},"
    "{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\","
    "\"name\":\"shell\",\"arguments\":\"{\\\"command\\\":[\\\"ls\\\"]}\"},"
    "{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":"
    "\"a.c\\nb.c\"},"
    "{\"type\":\"custom_tool_call\",\"id\":\"ctc_1\",\"call_id\":\"call_2\","
    "\"name\":\"apply_patch\",\"input\":\"*** Begin Patch\\n\\\"x\\\"\"},"
    "{\"type\":\"custom_tool_call_output\",\"call_id\":\"call_2\",\"output\":"
    "\"Done\"},"
    "{\"type\":\"message\",\"role\":\"assistant\",\"id\":\"msg_1\","
    "\"status\":\"completed\",\"content\":[{\"type\":\"output_text\","
    "\"text\":\"Patched.\",\"annotations\":[]}]},"
    "{\"role\":\"user\",\"content\":\"thanks, now test\"}],"
    "\"tools\":["
    "{\"type\":\"function\",\"name\":\"shell\",\"description\":\"Run a "
    "command\",\"parameters\":{\"type\":\"object\",\"properties\":{"
    "\"command\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}},"
    "\"strict\":false},"
    "{\"type\":\"custom\",\"name\":\"apply_patch\",\"description\":\"Apply a "
    "patch\",\"format\":{\"type\":\"grammar\",\"syntax\":\"lark\","
    "\"definition\":\"start: begin_patch\"}},"
    "{\"type\":\"web_search\"}],"
    "\"tool_choice\":\"auto\",\"parallel_tool_calls\":false,"
    "\"reasoning\":{\"effort\":\"medium\",\"summary\":\"auto\"},"
    "\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"out\","
    "\"schema\":{\"type\":\"object\"},\"strict\":true},\"verbosity\":\"low\"},"
    "\"store\":false,\"stream\":true,\"include\":[\"reasoning.encrypted_"
    "content\"],\"prompt_cache_key\":\"abc\",\"max_output_tokens\":1000,"
    "\"temperature\":0.5,\"top_p\":0.9,\"safety_identifier\":\"u1\","
    "\"metadata\":{\"k\":\"v\"},\"truncation\":\"auto\"}";

static void test_codex_request(void **state)
{
  cJSON *req = parse(CODEX_REQ);
  cJSON *chat, *turn, *args;
  char *dropped;
  struct api_error err;
  const char *desc;

  assert_int_equal(oai_resp_to_chat(req, NULL, &chat, &turn, &dropped, &err),
                   0);
  assert_valid_chat(chat);
  assert_string_equal(js(chat, "model"), "gpt-5-codex");
  assert_int_equal(jsize(chat, "messages"), 9);
  assert_json_eq(jp(chat, "messages[0]"),
                 "{\"role\":\"system\",\"content\":\"You are Codex.\"}");
  assert_json_eq(jp(chat, "messages[1]"),
                 "{\"role\":\"developer\",\"content\":[{\"type\":\"text\","
                 "\"text\":\"<permissions>\"}]}");
  assert_json_eq(jp(chat, "messages[2]"),
                 "{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                 "\"text\":\"fix the bug\"}]}");
  /* The reasoning summary rides on the assistant message of the call. */
  assert_json_eq(jp(chat, "messages[3]"),
                 "{\"role\":\"assistant\",\"content\":null,"
                 "\"reasoning_content\":\"Look at files\",\"tool_calls\":[{"
                 "\"id\":\"call_1\",\"type\":\"function\",\"function\":{"
                 "\"name\":\"shell\",\"arguments\":"
                 "\"{\\\"command\\\":[\\\"ls\\\"]}\"}}]}");
  assert_json_eq(jp(chat, "messages[4]"),
                 "{\"role\":\"tool\",\"tool_call_id\":\"call_1\","
                 "\"content\":\"a.c\\nb.c\"}");
  assert_string_equal(js(chat, "messages[5].role"), "assistant");
  assert_true(cJSON_IsNull(jp(chat, "messages[5].content")));
  assert_string_equal(js(chat, "messages[5].tool_calls[0].id"), "call_2");
  assert_string_equal(js(chat, "messages[5].tool_calls[0].function.name"),
                      "apply_patch");
  args = parse(js(chat, "messages[5].tool_calls[0].function.arguments"));
  assert_json_eq(args, "{\"input\":\"*** Begin Patch\\n\\\"x\\\"\"}");
  cJSON_Delete(args);
  assert_json_eq(jp(chat, "messages[6]"),
                 "{\"role\":\"tool\",\"tool_call_id\":\"call_2\","
                 "\"content\":\"Done\"}");
  assert_json_eq(jp(chat, "messages[7]"),
                 "{\"role\":\"assistant\",\"content\":\"Patched.\"}");
  assert_json_eq(jp(chat, "messages[8]"),
                 "{\"role\":\"user\",\"content\":\"thanks, now test\"}");

  /* Tools: the function as is, the custom tool as a one-string function,
   * web_search dropped. */
  assert_int_equal(jsize(chat, "tools"), 2);
  assert_json_eq(jp(chat, "tools[0]"),
                 "{\"type\":\"function\",\"function\":{\"name\":\"shell\","
                 "\"description\":\"Run a command\",\"parameters\":{\"type\":"
                 "\"object\",\"properties\":{\"command\":{\"type\":\"array\","
                 "\"items\":{\"type\":\"string\"}}}},\"strict\":false}}");
  assert_string_equal(js(chat, "tools[1].type"), "function");
  assert_string_equal(js(chat, "tools[1].function.name"), "apply_patch");
  assert_json_eq(jp(chat, "tools[1].function.parameters"),
                 "{\"type\":\"object\",\"properties\":{\"input\":{\"type\":"
                 "\"string\"}},\"required\":[\"input\"]}");
  desc = js(chat, "tools[1].function.description");
  assert_prefix(desc, "Apply a patch\n\n");
  assert_non_null(strstr(desc, "lark"));
  assert_non_null(strstr(desc, "start: begin_patch"));
  assert_string_equal(js(chat, "tool_choice"), "auto");
  assert_true(cJSON_IsFalse(jp(chat, "parallel_tool_calls")));

  assert_json_eq(jp(chat, "response_format"),
                 "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"out\","
                 "\"schema\":{\"type\":\"object\"},\"strict\":true}}");
  assert_string_equal(js(chat, "reasoning_effort"), "medium");
  assert_int_equal(jn(chat, "max_completion_tokens"), 1000);
  assert_true(jn(chat, "temperature") == 0.5);
  assert_true(jn(chat, "top_p") == 0.9);
  assert_string_equal(js(chat, "user"), "u1");
  assert_true(cJSON_IsTrue(jp(chat, "stream")));
  assert_true(cJSON_IsTrue(jp(chat, "stream_options.include_usage")));
  /* Responses-only fields do not go upstream. */
  assert_null(jp(chat, "store"));
  assert_null(jp(chat, "include"));
  assert_null(jp(chat, "metadata"));
  assert_null(jp(chat, "prompt_cache_key"));
  assert_null(jp(chat, "instructions"));
  assert_null(jp(chat, "input"));
  assert_null(jp(chat, "text"));
  assert_null(jp(chat, "verbosity"));
  assert_null(jp(chat, "truncation"));
  assert_null(jp(chat, "logprobs"));

  /* The stored turn is the input without the instructions. */
  assert_int_equal(cJSON_GetArraySize(turn), 8);
  for(int i = 0; i < 8; i++)
    assert_true(cJSON_Compare(cJSON_GetArrayItem(turn, i),
                              cJSON_GetArrayItem(jp(chat, "messages"), i + 1),
                              1));
  assert_string_equal(dropped, "input.encrypted_content,"
                               "tools[2].type=web_search");
  cJSON_Delete(chat);
  cJSON_Delete(turn);
  free(dropped);
  cJSON_Delete(req);
}

/* Calls merge into the assistant text before them; image parts of tool
 * outputs follow the run of tool messages as one user message; history
 * comes between instructions and the turn. */
static void test_merges_and_history(void **state)
{
  cJSON *history =
      parse("[{\"role\":\"user\",\"content\":\"weather?\"},"
            "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
            "\"call_h\",\"type\":\"function\",\"function\":{\"name\":\"w\","
            "\"arguments\":\"{}\"}}]}]");
  cJSON *req = parse(
      "{\"model\":\"m\",\"previous_response_id\":\"resp_1\",\"input\":["
      "{\"type\":\"function_call_output\",\"call_id\":\"call_h\",\"output\":"
      "\"sunny\"},"
      "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":"
      "\"output_text\",\"text\":\"Let me look.\"}]},"
      "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"view\","
      "\"arguments\":\"{}\"},"
      "{\"type\":\"function_call\",\"call_id\":\"c2\",\"name\":\"view\","
      "\"arguments\":\"{\\\"n\\\":2}\"},"
      "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":[{"
      "\"type\":\"input_text\",\"text\":\"see\"},{\"type\":\"input_image\","
      "\"image_url\":\"data:image/png;base64,AAAA\",\"detail\":\"low\"}]},"
      "{\"type\":\"function_call_output\",\"call_id\":\"c2\",\"output\":[{"
      "\"type\":\"input_file\",\"filename\":\"a.pdf\",\"file_data\":"
      "\"data:application/pdf;base64,JVBE\"}]},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":"
      "\"and?\"},{\"type\":\"input_image\",\"image_url\":\"https://x/i.png\","
      "\"detail\":\"auto\"}]}],"
      "\"tools\":[{\"type\":\"function\",\"name\":\"view\"}],"
      "\"top_logprobs\":3,\"user\":\"alice\",\"safety_identifier\":\"s\"}");
  cJSON *chat, *turn;
  char *dropped;
  struct api_error err;

  assert_int_equal(oai_resp_to_chat(req, history, &chat, &turn, &dropped, &err),
                   0);
  assert_valid_chat(chat);
  assert_null(dropped);
  assert_int_equal(jsize(chat, "messages"), 8);
  assert_string_equal(js(chat, "messages[0].content"), "weather?");
  assert_string_equal(js(chat, "messages[1].tool_calls[0].id"), "call_h");
  assert_json_eq(jp(chat, "messages[2]"),
                 "{\"role\":\"tool\",\"tool_call_id\":\"call_h\",\"content\":"
                 "\"sunny\"}");
  assert_json_eq(
      jp(chat, "messages[3]"),
      "{\"role\":\"assistant\",\"content\":\"Let me look.\",\"tool_calls\":["
      "{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"view\","
      "\"arguments\":\"{}\"}},{\"id\":\"c2\",\"type\":\"function\","
      "\"function\":{\"name\":\"view\",\"arguments\":\"{\\\"n\\\":2}\"}}]}");
  assert_json_eq(jp(chat, "messages[4]"),
                 "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":[{"
                 "\"type\":\"text\",\"text\":\"see\"}]}");
  assert_json_eq(jp(chat, "messages[5]"),
                 "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":"
                 "\"\"}");
  assert_json_eq(
      jp(chat, "messages[6]"),
      "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":"
      "{\"url\":\"data:image/png;base64,AAAA\",\"detail\":\"low\"}},{\"type\":"
      "\"file\",\"file\":{\"filename\":\"a.pdf\",\"file_data\":"
      "\"data:application/pdf;base64,JVBE\"}}]}");
  assert_json_eq(
      jp(chat, "messages[7]"),
      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"and?\"},"
      "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/i.png\","
      "\"detail\":\"auto\"}}]}");
  assert_int_equal(cJSON_GetArraySize(turn), 6);
  assert_true(cJSON_IsTrue(jp(chat, "logprobs")));
  assert_int_equal(jn(chat, "top_logprobs"), 3);
  assert_string_equal(js(chat, "user"), "alice");
  assert_null(jp(chat, "tool_choice"));
  assert_null(jp(chat, "stream"));
  assert_null(jp(chat, "stream_options"));
  cJSON_Delete(chat);
  cJSON_Delete(turn);
  cJSON_Delete(req);
  cJSON_Delete(history);
}

static void translate_ok(const char *json, cJSON **chat)
{
  cJSON *req = parse(json);
  cJSON *turn;
  char *dropped;
  struct api_error err;

  if(oai_resp_to_chat(req, NULL, chat, &turn, &dropped, &err))
    fail_msg("refused: %s", err.message);
  assert_valid_chat(*chat);
  cJSON_Delete(turn);
  free(dropped);
  cJSON_Delete(req);
}

static void test_tool_choice(void **state)
{
  static const char tools[] =
      "\"tools\":[{\"type\":\"function\",\"name\":\"f\"},{\"type\":"
      "\"function\",\"name\":\"g\",\"parameters\":null,\"strict\":null},"
      "{\"type\":\"custom\",\"name\":\"c\"},{\"type\":\"file_search\","
      "\"vector_store_ids\":[\"vs\"]}]";
  char json[1024];
  cJSON *chat;

  snprintf(json, sizeof(json),
           "{\"model\":\"m\",\"input\":\"hi\",%s,\"tool_choice\":{\"type\":"
           "\"allowed_tools\",\"mode\":\"required\",\"tools\":[{\"type\":"
           "\"function\",\"name\":\"f\"},{\"type\":\"custom\",\"name\":"
           "\"c\"}]}}",
           tools);
  translate_ok(json, &chat);
  assert_json_eq(jp(chat, "messages"),
                 "[{\"role\":\"user\",\"content\":\"hi\"}]");
  assert_int_equal(jsize(chat, "tools"), 2);
  assert_string_equal(js(chat, "tools[0].function.name"), "f");
  assert_string_equal(js(chat, "tools[1].function.name"), "c");
  assert_string_equal(js(chat, "tool_choice"), "required");
  assert_non_null(
      strstr(js(chat, "tools[1].function.description"), "free-form"));
  cJSON_Delete(chat);

  snprintf(json, sizeof(json),
           "{\"model\":\"m\",\"input\":\"hi\",%s,\"tool_choice\":{\"type\":"
           "\"custom\",\"name\":\"c\"}}",
           tools);
  translate_ok(json, &chat);
  assert_json_eq(jp(chat, "tool_choice"),
                 "{\"type\":\"function\",\"function\":{\"name\":\"c\"}}");
  assert_int_equal(jsize(chat, "tools"), 3);
  assert_null(jp(chat, "tools[1].function.parameters"));
  assert_null(jp(chat, "tools[1].function.strict"));
  cJSON_Delete(chat);

  /* Only hosted tools: no tools, no tool_choice, no parallel_tool_calls. */
  translate_ok("{\"model\":\"m\",\"input\":\"hi\",\"tools\":[{\"type\":"
               "\"web_search_preview\"}],\"tool_choice\":\"auto\","
               "\"parallel_tool_calls\":true,\"text\":{\"format\":{\"type\":"
               "\"text\"}},\"reasoning\":{\"effort\":\"minimal\"}}",
               &chat);
  assert_null(jp(chat, "tools"));
  assert_null(jp(chat, "tool_choice"));
  assert_null(jp(chat, "parallel_tool_calls"));
  assert_null(jp(chat, "response_format"));
  assert_string_equal(js(chat, "reasoning_effort"), "minimal");
  cJSON_Delete(chat);

  translate_ok("{\"model\":\"m\",\"input\":\"hi\",\"text\":{\"format\":{"
               "\"type\":\"json_object\"}},\"reasoning\":null,\"instructions\":"
               "null,\"top_logprobs\":0}",
               &chat);
  assert_json_eq(jp(chat, "response_format"), "{\"type\":\"json_object\"}");
  assert_int_equal(jsize(chat, "messages"), 1);
  assert_null(jp(chat, "logprobs"));
  cJSON_Delete(chat);

  translate_ok("{\"model\":\"m\",\"input\":\"hi\",\"include\":[\"message."
               "output_text.logprobs\"]}",
               &chat);
  assert_true(cJSON_IsTrue(jp(chat, "logprobs")));
  assert_null(jp(chat, "top_logprobs"));
  cJSON_Delete(chat);
}

struct bad_case {
  const char *json;
  const char *param;
  const char *code;
};

static void test_errors(void **state)
{
  static const struct bad_case cases[] = {
      {"{\"input\":\"x\"}", "model", "missing_required_parameter"},
      {"{\"model\":\"m\"}", "input", "missing_required_parameter"},
      {"{\"model\":\"m\",\"input\":42}", "input", "invalid_type"},
      {"{\"model\":\"m\",\"input\":[]}", "input", "invalid_value"},
      {"{\"model\":\"m\",\"input\":\"x\",\"temperature\":\"hot\"}",
       "temperature", "invalid_type"},
      {"{\"model\":\"m\",\"input\":\"x\",\"top_p\":1.5}", "top_p",
       "invalid_value"},
      {"{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":0}",
       "max_output_tokens", "invalid_value"},
      {"{\"model\":\"m\",\"input\":\"x\",\"metadata\":{\"a\":1}}", "metadata.a",
       "invalid_type"},
      {"{\"model\":\"m\",\"input\":\"x\",\"reasoning\":{\"effort\":"
       "\"extreme\"}}",
       "reasoning.effort", "invalid_value"},
      {"{\"model\":\"m\",\"input\":\"x\",\"truncation\":\"middle\"}",
       "truncation", "invalid_value"},
      {"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"a\"},"
       "{\"role\":\"user\",\"content\":\"b\"},{\"role\":\"user\",\"content\":"
       "[{\"type\":\"output_text\",\"text\":\"x\"}]}]}",
       "input[2].content[0].type", "invalid_value"},
      {"{\"model\":\"m\",\"input\":[{\"role\":\"system\",\"content\":[{"
       "\"type\":\"input_image\",\"image_url\":\"https://x\"}]}]}",
       "input[0].content[0].type", "invalid_value"},
      {"{\"model\":\"m\",\"input\":[{\"role\":\"tool\",\"content\":\"a\"}]}",
       "input[0].role", "invalid_value"},
      {"{\"model\":\"m\",\"input\":[{\"role\":\"user\"}]}", "input[0].content",
       "missing_required_parameter"},
      {"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[]}]}",
       "input[0].content", "invalid_value"},
      {"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{"
       "\"type\":\"input_text\",\"text\":7}]}]}",
       "input[0].content[0].text", "invalid_type"},
      {"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{"
       "\"type\":\"input_image\",\"file_id\":\"file-1\",\"detail\":"
       "\"auto\"}]}]}",
       "input[0].content[0].file_id", "unsupported_value"},
      {"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{"
       "\"type\":\"input_file\",\"file_url\":\"https://x/a.pdf\"}]}]}",
       "input[0].content[0].file_url", "unsupported_value"},
      {"{\"model\":\"m\",\"input\":[{\"type\":\"item_reference\",\"id\":"
       "\"msg_1\"}]}",
       "input[0].type", "unsupported_value"},
      {"{\"model\":\"m\",\"input\":[{\"id\":\"msg_1\"}]}", "input[0].type",
       "unsupported_value"},
      {"{\"model\":\"m\",\"input\":[{\"type\":\"foo\"}]}", "input[0].type",
       "invalid_value"},
      {"{\"model\":\"m\",\"input\":[{}]}", "input[0].type",
       "missing_required_parameter"},
      {"{\"model\":\"m\",\"input\":[{\"type\":\"function_call_output\","
       "\"call_id\":\"nope\",\"output\":\"x\"}]}",
       "input[0].call_id", "invalid_value"},
      {"{\"model\":\"m\",\"input\":[{\"type\":\"function_call\",\"call_id\":"
       "\"c\",\"name\":\"f\"}]}",
       "input[0].arguments", "missing_required_parameter"},
      {"{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\","
       "\"name\":\"f\"},{\"name\":\"x\"}]}",
       "tools[1].type", "missing_required_parameter"},
      {"{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\","
       "\"name\":\"bad name\"}]}",
       "tools[0].name", "invalid_value"},
      {"{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"custom\","
       "\"name\":\"c\",\"format\":{\"type\":\"grammar\",\"syntax\":\"ebnf\","
       "\"definition\":\"x\"}}]}",
       "tools[0].format.syntax", "invalid_value"},
      {"{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\","
       "\"name\":\"f\",\"parameters\":\"{}\"}]}",
       "tools[0].parameters", "invalid_type"},
      {"{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":"
       "\"web_search\"}],\"tool_choice\":{\"type\":\"web_search\"}}",
       "tool_choice.type", "unsupported_value"},
      {"{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":"
       "\"web_search\"}],\"tool_choice\":\"required\"}",
       "tool_choice", "invalid_value"},
      {"{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\","
       "\"name\":\"f\"}],\"tool_choice\":{\"type\":\"function\",\"name\":"
       "\"g\"}}",
       "tool_choice.name", "invalid_value"},
      {"{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\","
       "\"name\":\"f\"}],\"tool_choice\":{\"type\":\"custom\",\"name\":"
       "\"f\"}}",
       "tool_choice.name", "invalid_value"},
      {"{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\","
       "\"name\":\"f\"},{\"type\":\"mcp\",\"server_label\":\"s\"}],"
       "\"tool_choice\":{\"type\":\"allowed_tools\",\"mode\":\"auto\","
       "\"tools\":[{\"type\":\"function\",\"name\":\"f\"},{\"type\":\"mcp\","
       "\"server_label\":\"s\"}]}}",
       "tool_choice.tools[1].type", "unsupported_value"},
      {"{\"model\":\"m\",\"input\":\"x\",\"tool_choice\":\"sometimes\"}",
       "tool_choice", "invalid_value"},
      {"{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":"
       "\"json_schema\",\"name\":\"s\"}}}",
       "text.format.schema", "missing_required_parameter"},
      {"{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":"
       "\"json_schema\",\"schema\":{}}}}",
       "text.format.name", "missing_required_parameter"},
      {"{\"model\":\"m\",\"input\":\"x\",\"background\":true}", "background",
       "unsupported_value"},
      {"{\"model\":\"m\",\"input\":\"x\",\"prompt\":{\"id\":\"p\"}}", "prompt",
       "unsupported_parameter"},
  };

  for(size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    cJSON *req = parse(cases[i].json);
    cJSON *chat = (cJSON *)1, *turn = (cJSON *)1;
    char *dropped = (char *)1;
    struct api_error err;

    if(oai_resp_to_chat(req, NULL, &chat, &turn, &dropped, &err) != SB_EINVAL)
      fail_msg("case %zu accepted: %s", i, cases[i].json);
    if(strcmp(err.param, cases[i].param) || strcmp(err.code, cases[i].code))
      fail_msg("case %zu: param '%s' code '%s' (%s), want '%s' '%s'", i,
               err.param, err.code, err.message, cases[i].param, cases[i].code);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.type, "invalid_request_error");
    assert_true(err.message[0]);
    assert_null(chat);
    assert_null(turn);
    assert_null(dropped);
    cJSON_Delete(req);
  }
}

/* ---- the response object ------------------------------------------------ */

static const char RENDER_REQ[] =
    "{\"model\":\"alias\",\"input\":\"hi\",\"previous_response_id\":"
    "\"resp_0\",\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\","
    "\"parameters\":{\"type\":\"object\"}},{\"type\":\"custom\",\"name\":"
    "\"apply_patch\"},{\"type\":\"web_search\"}]}";

static const char COMPLETION[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,"
    "\"model\":\"up\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
    "\"assistant\",\"content\":\"Hello\",\"reasoning_content\":\"Thinking\","
    "\"tool_calls\":[{\"id\":\"call_a\",\"type\":\"function\",\"function\":{"
    "\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
    "{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":"
    "\"apply_patch\",\"arguments\":\"{\\\"input\\\":\\\"PATCH\\\"}\"}}]},"
    "\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":{"
    "\"prompt_tokens\":100,\"completion_tokens\":50,\"total_tokens\":150,"
    "\"prompt_tokens_details\":{\"cached_tokens\":20},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":10}}}";

/* Found by tests/fuzz/fuzz_render: a completion's usage (relayed from an
 * upstream) of 1e300 tokens was cast to int64_t (undefined). It is no
 * count: it reads as 0. */
static void test_from_completion_huge_usage(void **state)
{
  cJSON *req = parse("{\"model\":\"m\",\"input\":\"hi\"}");
  cJSON *comp =
      parse("{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
            "\"content\":\"x\"},\"finish_reason\":\"stop\"}],\"usage\":{"
            "\"prompt_tokens\":1e300,\"completion_tokens\":2,\"total_tokens\":"
            "-1e300}}");
  cJSON *r = oai_resp_from_completion(req, comp, "resp_1", 5, "m");
  (void)state;

  assert_int_equal(jn(r, "usage.input_tokens"), 0);
  assert_int_equal(jn(r, "usage.output_tokens"), 2);
  assert_int_equal(jn(r, "usage.total_tokens"), 0);
  cJSON_Delete(r);
  cJSON_Delete(comp);
  cJSON_Delete(req);
}

static void test_from_completion(void **state)
{
  cJSON *req = parse(RENDER_REQ);
  cJSON *comp = parse(COMPLETION);
  cJSON *r = oai_resp_from_completion(req, comp, "resp_1", 1700000000, "m1");

  assert_string_equal(js(r, "id"), "resp_1");
  assert_string_equal(js(r, "object"), "response");
  assert_int_equal(jn(r, "created_at"), 1700000000);
  assert_string_equal(js(r, "status"), "completed");
  assert_string_equal(js(r, "model"), "m1");
  assert_true(cJSON_IsNull(jp(r, "error")));
  assert_true(cJSON_IsNull(jp(r, "incomplete_details")));
  assert_int_equal(jsize(r, "output"), 4);

  assert_string_equal(js(r, "output[0].type"), "reasoning");
  assert_prefix(js(r, "output[0].id"), "rs_");
  assert_int_equal(strlen(js(r, "output[0].id")), 3 + 24);
  assert_json_eq(jp(r, "output[0].summary"),
                 "[{\"type\":\"summary_text\",\"text\":\"Thinking\"}]");

  assert_string_equal(js(r, "output[1].type"), "message");
  assert_prefix(js(r, "output[1].id"), "msg_");
  assert_string_equal(js(r, "output[1].status"), "completed");
  assert_string_equal(js(r, "output[1].role"), "assistant");
  assert_json_eq(jp(r, "output[1].content"),
                 "[{\"type\":\"output_text\",\"annotations\":[],"
                 "\"logprobs\":[],\"text\":\"Hello\"}]");

  assert_string_equal(js(r, "output[2].type"), "function_call");
  assert_prefix(js(r, "output[2].id"), "fc_");
  assert_string_equal(js(r, "output[2].call_id"), "call_a");
  assert_string_equal(js(r, "output[2].name"), "get_weather");
  assert_string_equal(js(r, "output[2].arguments"), "{\"city\":\"Paris\"}");
  assert_string_equal(js(r, "output[2].status"), "completed");

  assert_string_equal(js(r, "output[3].type"), "custom_tool_call");
  assert_prefix(js(r, "output[3].id"), "ctc_");
  assert_string_equal(js(r, "output[3].call_id"), "call_b");
  assert_string_equal(js(r, "output[3].name"), "apply_patch");
  assert_string_equal(js(r, "output[3].input"), "PATCH");

  assert_json_eq(jp(r, "usage"),
                 "{\"input_tokens\":100,\"input_tokens_details\":{"
                 "\"cached_tokens\":20},\"output_tokens\":50,"
                 "\"output_tokens_details\":{\"reasoning_tokens\":10},"
                 "\"total_tokens\":150}");

  /* Echoed request fields, with the API's defaults. */
  assert_int_equal(jsize(r, "tools"), 2);
  assert_string_equal(js(r, "tools[1].type"), "custom");
  assert_string_equal(js(r, "tool_choice"), "auto");
  assert_true(cJSON_IsTrue(jp(r, "parallel_tool_calls")));
  assert_true(jn(r, "temperature") == 1.0);
  assert_true(jn(r, "top_p") == 1.0);
  assert_json_eq(jp(r, "text.format"), "{\"type\":\"text\"}");
  assert_json_eq(jp(r, "reasoning"), "{\"effort\":null,\"summary\":null}");
  assert_string_equal(js(r, "truncation"), "disabled");
  assert_json_eq(jp(r, "metadata"), "{}");
  assert_true(cJSON_IsTrue(jp(r, "store")));
  assert_true(cJSON_IsNull(jp(r, "instructions")));
  assert_true(cJSON_IsNull(jp(r, "max_output_tokens")));
  assert_true(cJSON_IsNull(jp(r, "user")));
  assert_string_equal(js(r, "previous_response_id"), "resp_0");
  assert_true(cJSON_IsFalse(jp(r, "background")));
  cJSON_Delete(r);
  cJSON_Delete(comp);
  cJSON_Delete(req);
}

static void test_incomplete_and_echo(void **state)
{
  cJSON *req = parse(
      "{\"model\":\"m\",\"input\":\"hi\",\"instructions\":\"Be brief.\","
      "\"temperature\":0.2,\"top_p\":0.5,\"max_output_tokens\":5,"
      "\"store\":false,\"metadata\":{\"a\":\"b\"},\"tool_choice\":\"none\","
      "\"parallel_tool_calls\":false,\"truncation\":\"auto\",\"user\":\"u\","
      "\"reasoning\":{\"effort\":\"low\",\"summary\":\"auto\"},\"text\":{"
      "\"format\":{\"type\":\"json_object\"},\"verbosity\":\"low\"}}");
  cJSON *comp =
      parse("{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
            "\"content\":\"Hel\"},\"finish_reason\":\"length\"}]}");
  cJSON *r = oai_resp_from_completion(req, comp, "resp_2", 5, "m");

  assert_string_equal(js(r, "status"), "incomplete");
  assert_json_eq(jp(r, "incomplete_details"),
                 "{\"reason\":\"max_output_tokens\"}");
  assert_true(cJSON_IsNull(jp(r, "usage")));
  assert_int_equal(jsize(r, "output"), 1);
  assert_string_equal(js(r, "instructions"), "Be brief.");
  assert_true(jn(r, "temperature") == 0.2);
  assert_true(jn(r, "top_p") == 0.5);
  assert_int_equal(jn(r, "max_output_tokens"), 5);
  assert_true(cJSON_IsFalse(jp(r, "store")));
  assert_json_eq(jp(r, "metadata"), "{\"a\":\"b\"}");
  assert_string_equal(js(r, "tool_choice"), "none");
  assert_true(cJSON_IsFalse(jp(r, "parallel_tool_calls")));
  assert_string_equal(js(r, "truncation"), "auto");
  assert_string_equal(js(r, "user"), "u");
  assert_json_eq(jp(r, "reasoning"), "{\"effort\":\"low\",\"summary\":"
                                     "\"auto\"}");
  assert_json_eq(jp(r, "text"), "{\"format\":{\"type\":\"json_object\"},"
                                "\"verbosity\":\"low\"}");
  assert_json_eq(jp(r, "tools"), "[]");
  cJSON_Delete(r);
  cJSON_Delete(comp);

  /* Chat logprobs have the Responses shape already. */
  comp = parse("{\"choices\":[{\"index\":0,\"message\":{\"role\":"
               "\"assistant\",\"content\":\"Hi\"},\"logprobs\":{\"content\":"
               "[{\"token\":\"Hi\",\"logprob\":-0.5,\"bytes\":[72,105],"
               "\"top_logprobs\":[]}]},\"finish_reason\":\"stop\"}]}");
  r = oai_resp_from_completion(req, comp, "resp_5", 5, "m");
  assert_json_eq(jp(r, "output[0].content[0].logprobs"),
                 "[{\"token\":\"Hi\",\"logprob\":-0.5,\"bytes\":[72,105],"
                 "\"top_logprobs\":[]}]");
  cJSON_Delete(r);
  cJSON_Delete(comp);

  comp = parse("{\"choices\":[{\"index\":0,\"message\":{\"role\":"
               "\"assistant\",\"content\":null,\"refusal\":\"No.\"},"
               "\"finish_reason\":\"content_filter\"}]}");
  r = oai_resp_from_completion(req, comp, "resp_3", 5, "m");
  assert_string_equal(js(r, "status"), "incomplete");
  assert_json_eq(jp(r, "incomplete_details"),
                 "{\"reason\":\"content_filter\"}");
  assert_json_eq(jp(r, "output[0].content"),
                 "[{\"type\":\"refusal\",\"refusal\":\"No.\"}]");
  cJSON_Delete(r);
  cJSON_Delete(comp);

  /* Nothing produced: an empty output, completed. */
  comp = parse("{\"choices\":[{\"index\":0,\"message\":{\"role\":"
               "\"assistant\",\"content\":\"\"},\"finish_reason\":\"stop\"}],"
               "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":0}}");
  r = oai_resp_from_completion(req, comp, "resp_4", 5, "m");
  assert_string_equal(js(r, "status"), "completed");
  assert_int_equal(jsize(r, "output"), 0);
  assert_int_equal(jn(r, "usage.total_tokens"), 3);
  assert_int_equal(jn(r, "usage.input_tokens_details.cached_tokens"), 0);
  cJSON_Delete(r);
  cJSON_Delete(comp);
  cJSON_Delete(req);
}

/* ---- the stored conversation ------------------------------------------- */

static void test_output_round_trip(void **state)
{
  cJSON *req = parse(RENDER_REQ);
  cJSON *comp = parse(COMPLETION);
  cJSON *r = oai_resp_from_completion(req, comp, "resp_1", 1, "m");
  cJSON *msgs = cJSON_CreateArray();
  cJSON *stateless, *chat, *turn;
  char *dropped;
  struct api_error err;

  oai_resp_output_to_messages(r, msgs);
  assert_json_eq(
      msgs, "[{\"role\":\"assistant\",\"content\":\"Hello\","
            "\"reasoning_content\":\"Thinking\",\"tool_calls\":[{\"id\":"
            "\"call_a\",\"type\":\"function\",\"function\":{\"name\":"
            "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
            "{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":"
            "\"apply_patch\",\"arguments\":\"{\\\"input\\\":\\\"PATCH\\\"}\"}}"
            "]}]");

  /* A client without store sends the output items back as input: the
   * turn they make is what the store appends. */
  stateless = parse("{\"model\":\"m\",\"input\":[]}");
  cJSON_ReplaceItemInObject(stateless, "input",
                            cJSON_Duplicate(jp(r, "output"), 1));
  cJSON_AddItemToObject(stateless, "tools",
                        cJSON_Duplicate(jp(req, "tools"), 1));
  assert_int_equal(
      oai_resp_to_chat(stateless, NULL, &chat, &turn, &dropped, &err), 0);
  assert_true(cJSON_Compare(turn, msgs, 1));
  assert_valid_chat(chat);
  assert_string_equal(dropped, "tools[2].type=web_search");
  free(dropped);
  cJSON_Delete(chat);
  cJSON_Delete(turn);
  cJSON_Delete(stateless);

  /* The next call continues from the stored history. */
  {
    cJSON *history = parse("[{\"role\":\"user\",\"content\":\"hi\"}]");
    cJSON *next = parse(
        "{\"model\":\"m\",\"previous_response_id\":\"resp_1\",\"input\":["
        "{\"type\":\"function_call_output\",\"call_id\":\"call_a\","
        "\"output\":\"18C\"},{\"type\":\"custom_tool_call_output\","
        "\"call_id\":\"call_b\",\"output\":\"ok\"}],\"instructions\":\"I\"}");

    cJSON_AddItemToArray(history, cJSON_Duplicate(msgs->child, 1));
    assert_int_equal(
        oai_resp_to_chat(next, history, &chat, &turn, &dropped, &err), 0);
    assert_valid_chat(chat);
    assert_int_equal(jsize(chat, "messages"), 5);
    assert_string_equal(js(chat, "messages[0].role"), "system");
    assert_true(cJSON_Compare(jp(chat, "messages[2]"), msgs->child, 1));
    assert_string_equal(js(chat, "messages[3].tool_call_id"), "call_a");
    assert_string_equal(js(chat, "messages[4].tool_call_id"), "call_b");
    assert_int_equal(cJSON_GetArraySize(turn), 2);
    assert_null(dropped);
    cJSON_Delete(chat);
    cJSON_Delete(turn);
    cJSON_Delete(next);
    cJSON_Delete(history);
  }

  /* An empty output adds nothing. */
  {
    cJSON *empty = parse("{\"output\":[]}");
    oai_resp_output_to_messages(empty, msgs);
    assert_int_equal(cJSON_GetArraySize(msgs), 1);
    cJSON_Delete(empty);
  }
  cJSON_Delete(msgs);
  cJSON_Delete(r);
  cJSON_Delete(comp);
  cJSON_Delete(req);
}

/* A conversation's chat messages stored as Responses items and read back
 * give the same messages, in the same order. */
static void test_items_from_chat_round_trip(void **state)
{
  cJSON *msgs = parse(
      "[{\"role\":\"system\",\"content\":\"Be brief\"},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},"
      "{\"type\":\"image_url\",\"image_url\":{\"url\":"
      "\"data:image/png;base64,AAAA\",\"detail\":\"low\"}}]},"
      "{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"R\","
      "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":"
      "{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}},{\"id\":\"call_2\","
      "\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":"
      "\"{}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"one\"},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":[{\"type\":"
      "\"text\",\"text\":\"two\"}]},"
      "{\"role\":\"assistant\",\"content\":\"Done\"},"
      "{\"role\":\"developer\",\"content\":\"D\"},"
      "{\"role\":\"user\",\"content\":\"again\"}]");
  cJSON *items = oai_resp_items_from_chat(msgs);
  cJSON *back = (cJSON *)1;
  struct api_error err;
  const cJSON *it;

  assert_int_equal(cJSON_GetArraySize(items), 10);
  assert_string_equal(js(items, "[0].type"), "message");
  assert_string_equal(js(items, "[0].role"), "system");
  assert_string_equal(js(items, "[0].content[0].type"), "input_text");
  assert_string_equal(js(items, "[1].content[1].type"), "input_image");
  assert_string_equal(js(items, "[1].content[1].image_url"),
                      "data:image/png;base64,AAAA");
  assert_string_equal(js(items, "[2].type"), "reasoning");
  assert_string_equal(js(items, "[2].summary[0].text"), "R");
  assert_string_equal(js(items, "[3].type"), "function_call");
  assert_string_equal(js(items, "[3].call_id"), "call_1");
  assert_string_equal(js(items, "[4].name"), "g");
  assert_string_equal(js(items, "[5].type"), "function_call_output");
  assert_string_equal(js(items, "[5].output"), "one");
  assert_string_equal(js(items, "[6].output[0].text"), "two");
  assert_string_equal(js(items, "[7].role"), "assistant");
  assert_string_equal(js(items, "[7].content[0].type"), "output_text");
  assert_string_equal(js(items, "[7].content[0].text"), "Done");
  assert_string_equal(js(items, "[8].role"), "developer");
  assert_string_equal(js(items, "[9].content[0].text"), "again");
  /* Every item has its own id, by kind. */
  cJSON_ArrayForEach(it, items)
  {
    const char *id = cJSON_GetObjectItem(it, "id")->valuestring;
    const char *type = cJSON_GetObjectItem(it, "type")->valuestring;
    const char *want = !strcmp(type, "message")         ? "msg_"
                       : !strcmp(type, "reasoning")     ? "rs_"
                       : !strcmp(type, "function_call") ? "fc_"
                                                        : "fco_";
    assert_int_equal(strncmp(id, want, strlen(want)), 0);
  }

  assert_int_equal(oai_resp_items_to_chat(items, &back, &err), 0);
  assert_int_equal(cJSON_GetArraySize(back), 8);
  assert_true(cJSON_Compare(jp(back, "[0]"), jp(msgs, "[0]"), 1));
  assert_true(cJSON_Compare(jp(back, "[1]"), jp(msgs, "[1]"), 1));
  assert_true(cJSON_Compare(jp(back, "[2]"), jp(msgs, "[2]"), 1));
  assert_true(cJSON_Compare(jp(back, "[3]"), jp(msgs, "[3]"), 1));
  assert_true(cJSON_Compare(jp(back, "[4]"), jp(msgs, "[4]"), 1));
  for(int i = 5; i < 8; i++) {
    char p[8];
    snprintf(p, sizeof(p), "[%d]", i);
    assert_true(cJSON_Compare(jp(back, p), jp(msgs, p), 1));
  }
  cJSON_Delete(back);
  cJSON_Delete(items);
  cJSON_Delete(msgs);
}

/* No items are no messages; an item the codec cannot read is an error,
 * not a silent gap in the history. */
static void test_items_to_chat_edges(void **state)
{
  cJSON *none = parse("[]");
  cJSON *bad = parse("[{\"type\":\"message\",\"role\":\"wizard\","
                     "\"content\":\"x\"}]");
  cJSON *orphan = parse("[{\"type\":\"function_call_output\",\"call_id\":"
                        "\"nope\",\"output\":\"x\"}]");
  cJSON *out = (cJSON *)1;
  struct api_error err;

  assert_int_equal(oai_resp_items_to_chat(none, &out, &err), 0);
  assert_int_equal(cJSON_GetArraySize(out), 0);
  cJSON_Delete(out);
  assert_int_equal(oai_resp_items_to_chat(bad, &out, &err), SB_EINVAL);
  assert_null(out);
  assert_string_equal(err.param, "input[0].role");
  assert_int_equal(oai_resp_items_to_chat(orphan, &out, &err), SB_EINVAL);
  assert_null(out);
  cJSON_Delete(none);
  cJSON_Delete(bad);
  cJSON_Delete(orphan);
}

/* A conversation continued on the Responses API: conversation no longer
 * refused by the codec. */
static void test_conversation_accepted(void **state)
{
  cJSON *req = parse("{\"model\":\"m\",\"input\":\"x\","
                     "\"conversation\":{\"id\":\"conv_1\"}}");
  cJSON *history = parse("[{\"role\":\"user\",\"content\":\"before\"}]");
  cJSON *chat, *turn;
  char *dropped;
  struct api_error err;

  assert_int_equal(oai_resp_to_chat(req, history, &chat, &turn, &dropped, &err),
                   0);
  assert_int_equal(jsize(chat, "messages"), 2);
  assert_string_equal(js(chat, "messages[0].content"), "before");
  assert_null(jp(chat, "conversation"));
  {
    cJSON *comp = parse("{\"choices\":[{\"message\":{\"role\":"
                        "\"assistant\",\"content\":\"ok\"},"
                        "\"finish_reason\":\"stop\"}]}");
    cJSON *resp = oai_resp_from_completion(req, comp, "resp_1", 1, "m");
    cJSON *plain = parse("{\"model\":\"m\",\"input\":\"x\","
                         "\"conversation\":\"conv_2\"}");
    cJSON *resp2 = oai_resp_from_completion(plain, comp, "resp_2", 1, "m");
    cJSON *none = oai_resp_from_completion(comp, comp, "resp_3", 1, "m");

    assert_string_equal(js(resp, "conversation.id"), "conv_1");
    assert_string_equal(js(resp2, "conversation.id"), "conv_2");
    assert_null(jp(none, "conversation"));
    cJSON_Delete(resp);
    cJSON_Delete(resp2);
    cJSON_Delete(none);
    cJSON_Delete(plain);
    cJSON_Delete(comp);
  }
  cJSON_Delete(chat);
  cJSON_Delete(turn);
  cJSON_Delete(history);
  cJSON_Delete(req);
}

/* ---- the stream ------------------------------------------------------- */

#define MAX_EVENTS 64

struct events {
  char *name[MAX_EVENTS];
  cJSON *data[MAX_EVENTS];
  int n;
};

static int collect(void *ud, const struct sse_event *ev)
{
  struct events *e = ud;

  assert_true(e->n < MAX_EVENTS);
  assert_non_null(ev->event);
  e->name[e->n] = sb_strndup(ev->event, ev->event_len);
  e->data[e->n] = cJSON_ParseWithLength(ev->data, ev->data_len);
  assert_non_null(e->data[e->n]);
  e->n++;
  return 0;
}

static void events_free(struct events *e)
{
  for(int i = 0; i < e->n; i++) {
    free(e->name[i]);
    cJSON_Delete(e->data[i]);
  }
  e->n = 0;
}

/* Parse out in pieces split at the given offsets (sorted, may be empty). */
static void parse_stream(const struct buf *out, const size_t *cuts, int ncuts,
                         struct events *e)
{
  struct sse_parser p;
  size_t at = 0;

  sse_parser_init(&p, 1 << 20, collect, e);
  for(int i = 0; i <= ncuts; i++) {
    size_t to = i < ncuts ? cuts[i] : out->len;
    assert_int_equal(sse_parser_feed(&p, out->data + at, to - at), 0);
    at = to;
  }
  assert_int_equal(sse_parser_finish(&p), 0);
  sse_parser_free(&p);
}

/* Every event is named after its type and numbered from 0 by 1. */
static void check_envelopes(const struct events *e)
{
  for(int i = 0; i < e->n; i++) {
    assert_string_equal(js(e->data[i], "type"), e->name[i]);
    assert_int_equal(jn(e->data[i], "sequence_number"), i);
  }
}

static void expect_types(const struct events *e, const char *const *types,
                         int n)
{
  if(e->n != n) {
    for(int i = 0; i < e->n; i++)
      print_error("%d %s\n", i, e->name[i]);
    fail_msg("%d events, want %d", e->n, n);
  }
  for(int i = 0; i < n; i++)
    if(strcmp(e->name[i], types[i]))
      fail_msg("event %d is %s, want %s", i, e->name[i], types[i]);
}

/* Output item ids are random: blank them to compare two renderings. */
static void blank_item_ids(cJSON *resp)
{
  cJSON *it;

  cJSON_ArrayForEach(it, cJSON_GetObjectItem(resp, "output"))
  {
    cJSON_ReplaceItemInObject(it, "id", cJSON_CreateString("X"));
  }
}

static struct canon_ev text_ev(enum canon_ev_type t, const char *s)
{
  struct canon_ev ev = {.type = t, .text = s, .len = strlen(s)};

  return ev;
}

static struct canon_ev tool_start(int index, const char *id, const char *name,
                                  const char *args)
{
  struct canon_ev ev = {.type = CANON_EV_TOOL_START,
                        .index = index,
                        .id = id,
                        .name = name,
                        .text = args,
                        .len = args ? strlen(args) : 0};

  return ev;
}

static struct canon_ev tool_args(int index, const char *args)
{
  struct canon_ev ev = text_ev(CANON_EV_TOOL_ARGS, args);

  ev.index = index;
  return ev;
}

static void render_all(struct oai_resp_stream *s, const struct canon_ev *evs,
                       size_t n, struct buf *out)
{
  for(size_t i = 0; i < n; i++)
    assert_int_equal(oai_resp_stream_render(s, &evs[i], out), 0);
}

/* Signed reasoning (reasoning_details, codec/canon.h) survives every way
 * the gateway stores an answer: chat messages -> items -> chat messages,
 * a completion -> a response -> messages, and a stream -> a response. A
 * reasoning item without our format keeps its text only. */
static const char SIGNED_MSG[] =
    "{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":"
    "\"ab\",\"reasoning_details\":["
    "{\"type\":\"reasoning.text\",\"text\":\"a\",\"signature\":\"S1\","
    "\"format\":\"anthropic-claude-v1\"},"
    "{\"type\":\"reasoning.encrypted\",\"data\":\"R1\",\"format\":"
    "\"anthropic-claude-v1\"},"
    "{\"type\":\"reasoning.text\",\"text\":\"b\",\"signature\":\"S2\","
    "\"format\":\"anthropic-claude-v1\"}],"
    "\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":\"function\","
    "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}";

static void check_signed_items(const cJSON *items, int at)
{
  char p[64];

#define P(fmt) (snprintf(p, sizeof(p), fmt, at), p)
  assert_string_equal(js(items, P("[%d].type")), "reasoning");
  assert_string_equal(js(items, P("[%d].summary[0].text")), "a");
  assert_string_equal(js(items, P("[%d].encrypted_content")), "S1");
  assert_string_equal(js(items, P("[%d].format")), "anthropic-claude-v1");
  at++;
  assert_int_equal(jsize(items, P("[%d].summary")), 0);
  assert_string_equal(js(items, P("[%d].encrypted_content")), "R1");
  at++;
  assert_string_equal(js(items, P("[%d].summary[0].text")), "b");
  assert_string_equal(js(items, P("[%d].encrypted_content")), "S2");
  at++;
  assert_string_equal(js(items, P("[%d].type")), "function_call");
#undef P
}

static void test_reasoning_details(void **state)
{
  cJSON *msgs = cJSON_CreateArray();
  cJSON *items, *back = NULL, *completion, *resp, *again;
  struct api_error err;

  (void)state;
  cJSON_AddItemToArray(msgs, parse(SIGNED_MSG));
  items = oai_resp_items_from_chat(msgs);
  assert_int_equal(cJSON_GetArraySize(items), 4);
  check_signed_items(items, 0);
  assert_int_equal(oai_resp_items_to_chat(items, &back, &err), 0);
  assert_int_equal(cJSON_GetArraySize(back), 1);
  assert_json_eq(jp(back, "[0].reasoning_details"),
                 "[{\"type\":\"reasoning.text\",\"text\":\"a\","
                 "\"signature\":\"S1\",\"format\":\"anthropic-claude-v1\"},"
                 "{\"type\":\"reasoning.encrypted\",\"data\":\"R1\","
                 "\"format\":\"anthropic-claude-v1\"},"
                 "{\"type\":\"reasoning.text\",\"text\":\"b\","
                 "\"signature\":\"S2\",\"format\":\"anthropic-claude-v1\"}]");
  assert_string_equal(js(back, "[0].tool_calls[0].id"), "toolu_1");
  cJSON_Delete(back);
  cJSON_Delete(items);

  /* A completion's message, and the response output read back. */
  completion = parse("{\"id\":\"c\",\"object\":\"chat.completion\","
                     "\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":"
                     "0,\"finish_reason\":\"tool_calls\",\"message\":{}}]}");
  cJSON_ReplaceItemInObject(
      cJSON_GetArrayItem(cJSON_GetObjectItem(completion, "choices"), 0),
      "message", parse(SIGNED_MSG));
  {
    cJSON *req = cJSON_CreateObject();
    resp = oai_resp_from_completion(req, completion, "resp_1", 1, "m");
    cJSON_Delete(req);
  }
  check_signed_items(cJSON_GetObjectItem(resp, "output"), 0);
  again = cJSON_CreateArray();
  oai_resp_output_to_messages(resp, again);
  assert_true(cJSON_Compare(jp(again, "[0].reasoning_details"),
                            jp(msgs, "[0].reasoning_details"), 1));
  cJSON_Delete(again);
  cJSON_Delete(resp);
  cJSON_Delete(completion);

  /* OpenAI's own encrypted reasoning (no format): text only. */
  items = parse("[{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":["
                "{\"type\":\"summary_text\",\"text\":\"t\"}],"
                "\"encrypted_content\":\"gAAA\"},{\"type\":\"message\","
                "\"role\":\"assistant\",\"content\":[{\"type\":"
                "\"output_text\",\"text\":\"hi\"}]}]");
  assert_int_equal(oai_resp_items_to_chat(items, &back, &err), 0);
  assert_string_equal(js(back, "[0].reasoning_content"), "t");
  assert_null(jp(back, "[0].reasoning_details"));
  cJSON_Delete(back);
  cJSON_Delete(items);
  cJSON_Delete(msgs);
}

static void test_stream_signed_reasoning(void **state)
{
  cJSON *req = parse("{\"model\":\"m\"}");
  struct oai_resp_stream *s = oai_resp_stream_new(req, "resp_1", 1, "m");
  struct buf out;
  struct canon_ev sig = {.type = CANON_EV_REASONING,
                         .text = "",
                         .signature = "S1",
                         .format = "anthropic-claude-v1"};
  struct canon_ev red = {.type = CANON_EV_REASONING,
                         .text = "",
                         .data = "R1",
                         .format = "anthropic-claude-v1"};
  struct canon_ev sig2 = sig;
  struct canon_ev evs[8];
  const cJSON *output;
  int n = 0;

  (void)state;
  sig2.signature = "S2";
  evs[n++] = text_ev(CANON_EV_REASONING, "a");
  evs[n++] = sig;
  evs[n++] = red;
  evs[n++] = text_ev(CANON_EV_REASONING, "b");
  evs[n++] = sig2;
  evs[n++] = tool_start(0, "toolu_1", "f", NULL);
  evs[n++] = tool_args(0, "{}");
  buf_init(&out, SIZE_MAX);
  render_all(s, evs, (size_t)n, &out);
  assert_int_equal(oai_resp_stream_end(s, &out), 0);
  output = cJSON_GetObjectItem(oai_resp_stream_response(s), "output");
  assert_int_equal(cJSON_GetArraySize(output), 4);
  check_signed_items(output, 0);
  buf_free(&out);
  oai_resp_stream_free(s);
  cJSON_Delete(req);
}

static void test_stream(void **state)
{
  static const char *const types[] = {
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.reasoning_summary_part.added",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.custom_tool_call_input.delta",
      "response.custom_tool_call_input.done",
      "response.output_item.done",
      "response.completed",
  };
  struct canon_ev evs[] = {
      {.type = CANON_EV_START, .id = "up_1", .model = "up"},
      text_ev(CANON_EV_REASONING, "Think"),
      text_ev(CANON_EV_REASONING, "ing"),
      text_ev(CANON_EV_TEXT, "Hel"),
      text_ev(CANON_EV_TEXT, "lo"),
      tool_start(0, "call_a", "get_weather", "{\"ci"),
      tool_start(1, "call_b", "apply_patch", NULL),
      tool_args(0, "ty\":\"Paris\"}"),
      tool_args(1, "{\"input\":\"PAT"),
      tool_args(1, "CH\"}"),
      {.type = CANON_EV_FINISH, .finish_reason = "tool_calls"},
      {.type = CANON_EV_USAGE,
       .usage = {.prompt_tokens = 100,
                 .completion_tokens = 50,
                 .cached_tokens = 20,
                 .reasoning_tokens = 10}},
  };
  cJSON *req = parse(RENDER_REQ);
  cJSON *comp = parse(COMPLETION);
  struct oai_resp_stream *s = oai_resp_stream_new(req, "resp_1", 7, "m1");
  struct events e = {0};
  struct buf out;
  const cJSON *d;
  cJSON *want, *got;
  const char *rs_id, *msg_id, *fc_id, *ctc_id;

  buf_init(&out, 1 << 20);
  assert_null(oai_resp_stream_response(s));
  render_all(s, evs, SB_ARRAY_LEN(evs), &out);
  assert_int_equal(oai_resp_stream_end(s, &out), 0);
  parse_stream(&out, NULL, 0, &e);
  expect_types(&e, types, SB_ARRAY_LEN(types));
  check_envelopes(&e);

  /* The opening events carry the in_progress response. */
  for(int i = 0; i < 2; i++) {
    assert_string_equal(js(e.data[i], "response.id"), "resp_1");
    assert_string_equal(js(e.data[i], "response.status"), "in_progress");
    assert_int_equal(jsize(e.data[i], "response.output"), 0);
    assert_true(cJSON_IsNull(jp(e.data[i], "response.usage")));
  }
  /* Reasoning, output 0. */
  d = e.data[2];
  assert_int_equal(jn(d, "output_index"), 0);
  assert_string_equal(js(d, "item.type"), "reasoning");
  assert_int_equal(jsize(d, "item.summary"), 0);
  rs_id = js(d, "item.id");
  assert_prefix(rs_id, "rs_");
  d = e.data[3];
  assert_string_equal(js(d, "item_id"), rs_id);
  assert_int_equal(jn(d, "summary_index"), 0);
  assert_json_eq(jp(d, "part"), "{\"type\":\"summary_text\",\"text\":\"\"}");
  assert_string_equal(js(e.data[4], "delta"), "Think");
  assert_string_equal(js(e.data[5], "delta"), "ing");
  assert_string_equal(js(e.data[5], "item_id"), rs_id);
  assert_string_equal(js(e.data[6], "text"), "Thinking");
  assert_string_equal(js(e.data[7], "part.text"), "Thinking");
  assert_json_eq(jp(e.data[8], "item.summary"),
                 "[{\"type\":\"summary_text\",\"text\":\"Thinking\"}]");

  /* Text, output 1. */
  d = e.data[9];
  assert_int_equal(jn(d, "output_index"), 1);
  assert_string_equal(js(d, "item.type"), "message");
  assert_string_equal(js(d, "item.status"), "in_progress");
  assert_string_equal(js(d, "item.role"), "assistant");
  assert_int_equal(jsize(d, "item.content"), 0);
  msg_id = js(d, "item.id");
  assert_prefix(msg_id, "msg_");
  d = e.data[10];
  assert_string_equal(js(d, "item_id"), msg_id);
  assert_int_equal(jn(d, "content_index"), 0);
  assert_json_eq(jp(d, "part"), "{\"type\":\"output_text\",\"annotations\":"
                                "[],\"logprobs\":[],\"text\":\"\"}");
  d = e.data[11];
  assert_string_equal(js(d, "delta"), "Hel");
  assert_int_equal(jn(d, "output_index"), 1);
  assert_int_equal(jn(d, "content_index"), 0);
  assert_int_equal(jsize(d, "logprobs"), 0);
  assert_string_equal(js(e.data[12], "delta"), "lo");
  assert_string_equal(js(e.data[13], "text"), "Hello");
  assert_int_equal(jsize(e.data[13], "logprobs"), 0);
  assert_string_equal(js(e.data[14], "part.text"), "Hello");
  assert_string_equal(js(e.data[15], "item.status"), "completed");
  assert_string_equal(js(e.data[15], "item.content[0].text"), "Hello");

  /* Two tool calls, outputs 2 and 3, interleaved. */
  d = e.data[16];
  assert_int_equal(jn(d, "output_index"), 2);
  fc_id = js(d, "item.id");
  assert_prefix(fc_id, "fc_");
  assert_string_equal(js(d, "item.type"), "function_call");
  assert_string_equal(js(d, "item.status"), "in_progress");
  assert_string_equal(js(d, "item.arguments"), "");
  assert_string_equal(js(d, "item.call_id"), "call_a");
  assert_string_equal(js(d, "item.name"), "get_weather");
  d = e.data[17];
  assert_string_equal(js(d, "item_id"), fc_id);
  assert_int_equal(jn(d, "output_index"), 2);
  assert_string_equal(js(d, "delta"), "{\"ci");
  d = e.data[18];
  assert_int_equal(jn(d, "output_index"), 3);
  assert_string_equal(js(d, "item.type"), "custom_tool_call");
  assert_string_equal(js(d, "item.call_id"), "call_b");
  assert_string_equal(js(d, "item.name"), "apply_patch");
  assert_string_equal(js(d, "item.input"), "");
  ctc_id = js(d, "item.id");
  assert_prefix(ctc_id, "ctc_");
  d = e.data[19];
  assert_string_equal(js(d, "item_id"), fc_id);
  assert_string_equal(js(d, "delta"), "ty\":\"Paris\"}");
  d = e.data[20];
  assert_string_equal(js(d, "item_id"), fc_id);
  assert_string_equal(js(d, "name"), "get_weather");
  assert_string_equal(js(d, "arguments"), "{\"city\":\"Paris\"}");
  d = e.data[21];
  assert_int_equal(jn(d, "output_index"), 2);
  assert_string_equal(js(d, "item.status"), "completed");
  assert_string_equal(js(d, "item.arguments"), "{\"city\":\"Paris\"}");
  d = e.data[22];
  assert_string_equal(js(d, "item_id"), ctc_id);
  assert_int_equal(jn(d, "output_index"), 3);
  assert_string_equal(js(d, "delta"), "PATCH");
  assert_string_equal(js(e.data[23], "input"), "PATCH");
  assert_string_equal(js(e.data[24], "item.input"), "PATCH");
  assert_int_equal(jn(e.data[24], "output_index"), 3);

  /* The final response: what the non-streamed rendering gives. */
  d = e.data[25];
  assert_string_equal(js(d, "response.status"), "completed");
  assert_int_equal(jsize(d, "response.output"), 4);
  assert_int_equal(jn(d, "response.usage.total_tokens"), 150);
  assert_string_equal(js(d, "response.output[2].id"), fc_id);
  assert_true(cJSON_Compare(jp(d, "response"), oai_resp_stream_response(s), 1));
  want = oai_resp_from_completion(req, comp, "resp_1", 7, "m1");
  got = cJSON_Duplicate(oai_resp_stream_response(s), 1);
  blank_item_ids(want);
  blank_item_ids(got);
  if(!cJSON_Compare(got, want, 1)) {
    char *g = cJSON_PrintUnformatted(got), *w = cJSON_PrintUnformatted(want);
    print_error("stream: %s\ncompletion: %s\n", g, w);
    free(g);
    free(w);
    fail();
  }
  cJSON_Delete(want);
  cJSON_Delete(got);

  /* Fed to the SSE parser in two pieces split anywhere, the stream gives
   * the same events. */
  {
    struct events whole = e;

    for(size_t cut = 0; cut <= out.len; cut++) {
      struct events part = {0};
      parse_stream(&out, &cut, 1, &part);
      assert_int_equal(part.n, whole.n);
      for(int i = 0; i < part.n; i++) {
        assert_string_equal(part.name[i], whole.name[i]);
        assert_true(cJSON_Compare(part.data[i], whole.data[i], 1));
      }
      events_free(&part);
    }
  }
  events_free(&e);
  oai_resp_stream_free(s);
  buf_free(&out);
  cJSON_Delete(comp);
  cJSON_Delete(req);
}

static void test_stream_error(void **state)
{
  static const char *const types[] = {
      "response.created",           "response.in_progress",
      "response.output_item.added", "response.content_part.added",
      "response.output_text.delta", "response.failed",
  };
  cJSON *req = parse("{\"model\":\"m\",\"input\":\"hi\"}");
  struct oai_resp_stream *s = oai_resp_stream_new(req, "resp_e", 1, "m");
  struct canon_ev text = text_ev(CANON_EV_TEXT, "par");
  struct api_error err;
  struct canon_ev fail_ev = {.type = CANON_EV_ERROR, .err = &err};
  struct events e = {0};
  struct buf out;

  buf_init(&out, 1 << 20);
  api_error_set(&err, 429, "rate_limit_error", "rate_limit_exceeded", NULL,
                "Slow down.");
  assert_int_equal(oai_resp_stream_render(s, &text, &out), 0);
  assert_int_equal(oai_resp_stream_render(s, &fail_ev, &out), 0);
  /* Nothing follows a failure. */
  assert_int_equal(oai_resp_stream_render(s, &text, &out), 0);
  assert_int_equal(oai_resp_stream_end(s, &out), 0);
  parse_stream(&out, NULL, 0, &e);
  expect_types(&e, types, SB_ARRAY_LEN(types));
  check_envelopes(&e);
  assert_string_equal(js(e.data[5], "response.status"), "failed");
  assert_json_eq(jp(e.data[5], "response.error"),
                 "{\"code\":\"rate_limit_exceeded\",\"message\":"
                 "\"Slow down.\"}");
  assert_string_equal(js(e.data[5], "response.output[0].content[0].text"),
                      "par");
  assert_string_equal(js(oai_resp_stream_response(s), "status"), "failed");
  events_free(&e);
  oai_resp_stream_free(s);
  buf_reset(&out);

  /* An error first: the opening events, then response.failed with the
   * default code. */
  s = oai_resp_stream_new(req, "resp_f", 1, "m");
  api_error_set(&err, 502, "upstream_error", NULL, NULL, "Broke.");
  assert_int_equal(oai_resp_stream_render(s, &fail_ev, &out), 0);
  parse_stream(&out, NULL, 0, &e);
  assert_int_equal(e.n, 3);
  check_envelopes(&e);
  assert_string_equal(e.name[2], "response.failed");
  assert_string_equal(js(e.data[2], "response.error.code"), "server_error");
  assert_string_equal(js(e.data[2], "response.error.message"), "Broke.");
  events_free(&e);
  oai_resp_stream_free(s);
  buf_free(&out);
  cJSON_Delete(req);
}

static void test_stream_end_only_and_incomplete(void **state)
{
  cJSON *req = parse("{\"model\":\"m\",\"input\":\"hi\"}");
  struct oai_resp_stream *s = oai_resp_stream_new(req, "resp_x", 1, "m");
  struct canon_ev text = text_ev(CANON_EV_TEXT, "cut");
  struct canon_ev fin = {.type = CANON_EV_FINISH, .finish_reason = "length"};
  struct canon_ev empty = {.type = CANON_EV_TEXT, .text = "", .len = 0};
  struct events e = {0};
  struct buf out;

  buf_init(&out, 1 << 20);
  assert_int_equal(oai_resp_stream_end(s, &out), 0);
  parse_stream(&out, NULL, 0, &e);
  assert_int_equal(e.n, 3);
  check_envelopes(&e);
  assert_string_equal(e.name[0], "response.created");
  assert_string_equal(e.name[2], "response.completed");
  assert_int_equal(jsize(e.data[2], "response.output"), 0);
  assert_true(cJSON_IsNull(jp(e.data[2], "response.usage")));
  events_free(&e);
  oai_resp_stream_free(s);
  buf_reset(&out);

  s = oai_resp_stream_new(req, "resp_y", 1, "m");
  assert_int_equal(oai_resp_stream_render(s, &empty, &out), 0);
  assert_int_equal(oai_resp_stream_render(s, &text, &out), 0);
  assert_int_equal(oai_resp_stream_render(s, &fin, &out), 0);
  assert_int_equal(oai_resp_stream_end(s, &out), 0);
  parse_stream(&out, NULL, 0, &e);
  check_envelopes(&e);
  assert_string_equal(e.name[e.n - 1], "response.incomplete");
  assert_string_equal(js(e.data[e.n - 1], "response.status"), "incomplete");
  assert_string_equal(js(e.data[e.n - 1], "response.incomplete_details.reason"),
                      "max_output_tokens");
  assert_string_equal(js(e.data[e.n - 1], "response.output[0].content[0].text"),
                      "cut");
  events_free(&e);
  oai_resp_stream_free(s);
  buf_free(&out);

  /* A buffer too small to hold the opening events. */
  buf_init(&out, 64);
  s = oai_resp_stream_new(req, "resp_z", 1, "m");
  assert_int_equal(oai_resp_stream_render(s, &text, &out), SB_ETOOBIG);
  oai_resp_stream_free(s);
  buf_free(&out);
  cJSON_Delete(req);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_codex_request),
      cmocka_unit_test(test_merges_and_history),
      cmocka_unit_test(test_tool_choice),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_from_completion),
      cmocka_unit_test(test_from_completion_huge_usage),
      cmocka_unit_test(test_incomplete_and_echo),
      cmocka_unit_test(test_output_round_trip),
      cmocka_unit_test(test_items_from_chat_round_trip),
      cmocka_unit_test(test_items_to_chat_edges),
      cmocka_unit_test(test_conversation_accepted),
      cmocka_unit_test(test_reasoning_details),
      cmocka_unit_test(test_stream_signed_reasoning),
      cmocka_unit_test(test_stream),
      cmocka_unit_test(test_stream_error),
      cmocka_unit_test(test_stream_end_only_and_incomplete),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
