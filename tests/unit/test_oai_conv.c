/* codec/oai_conv.h: the Conversations API's item and metadata checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/oai_conv.h"
#include "base/sb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Check the items of JSON text; returns the rc and leaves the items (or
 * the error's param) for the caller to look at. */
static int prepare(const char *json, cJSON **items, struct api_error *err)
{
  *items = cJSON_Parse(json);
  assert_non_null(*items);
  memset(err, 0, sizeof(*err));
  return oai_conv_prepare_items(*items, "items", err);
}

static void expect_bad(const char *json, const char *param)
{
  struct api_error err;
  cJSON *items;

  assert_int_equal(prepare(json, &items, &err), SB_EINVAL);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.type, "invalid_request_error");
  assert_string_equal(err.param, param);
  cJSON_Delete(items);
}

static void test_items_completed(void **state)
{
  struct api_error err;
  cJSON *items;
  const cJSON *it;
  (void)state;

  assert_int_equal(
      prepare("[{\"role\":\"user\",\"content\":\"hi\"},"
              "{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\","
              "\"arguments\":\"{}\"},"
              "{\"type\":\"function_call_output\",\"call_id\":\"c\","
              "\"output\":\"1\"},"
              "{\"type\":\"reasoning\",\"summary\":[]},"
              "{\"type\":\"message\",\"role\":\"assistant\",\"id\":\"mine\","
              "\"content\":[{\"type\":\"output_text\",\"text\":\"x\"}]}]",
              &items, &err),
      0);
  it = cJSON_GetArrayItem(items, 0);
  assert_string_equal(cJSON_GetObjectItem(it, "type")->valuestring, "message");
  assert_string_equal(cJSON_GetObjectItem(it, "content")->valuestring, "hi");
  assert_memory_equal(cJSON_GetObjectItem(it, "id")->valuestring, "msg_", 4);
  assert_memory_equal(
      cJSON_GetObjectItem(cJSON_GetArrayItem(items, 1), "id")->valuestring,
      "fc_", 3);
  assert_memory_equal(
      cJSON_GetObjectItem(cJSON_GetArrayItem(items, 2), "id")->valuestring,
      "fco_", 4);
  assert_memory_equal(
      cJSON_GetObjectItem(cJSON_GetArrayItem(items, 3), "id")->valuestring,
      "rs_", 3);
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetArrayItem(items, 4), "id")->valuestring,
      "mine");
  cJSON_Delete(items);
  assert_string_equal(oai_conv_id_prefix("whatever"), "item_");
}

static void test_items_refused(void **state)
{
  char many[4096];
  size_t n = 0;
  (void)state;

  expect_bad("[{\"type\":\"bogus\"}]", "items[0].type");
  expect_bad("[{\"type\":\"item_reference\",\"id\":\"x\"}]", "items[0].type");
  expect_bad("[{\"content\":\"x\"}]", "items[0].type");
  expect_bad("[{\"type\":\"message\",\"role\":\"bot\",\"content\":\"x\"}]",
             "items[0].role");
  expect_bad("[{\"type\":\"message\",\"role\":\"user\"}]", "items[0].content");
  expect_bad("[{\"type\":\"message\",\"role\":\"assistant\",\"content\":"
             "[{\"type\":\"input_text\",\"text\":\"x\"}]}]",
             "items[0].content[0].type");
  expect_bad("[{\"type\":\"message\",\"role\":\"user\",\"content\":"
             "[{\"type\":\"input_text\"}]}]",
             "items[0].content[0].text");
  expect_bad("[{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\"}]",
             "items[0].arguments");
  expect_bad("[{\"type\":\"function_call_output\",\"call_id\":\"c\"}]",
             "items[0].output");
  expect_bad("[{\"type\":\"reasoning\"}]", "items[0].summary");
  expect_bad("[{\"role\":\"user\",\"content\":\"a\",\"id\":\"d\"},"
             "{\"role\":\"user\",\"content\":\"b\",\"id\":\"d\"}]",
             "items[1].id");
  expect_bad("[1]", "items[0]");
  expect_bad("{}", "items");
  many[n++] = '[';
  for(int i = 0; i < 21; i++)
    n += (size_t)snprintf(many + n, sizeof(many) - n,
                          "%s{\"role\":\"user\","
                          "\"content\":\"x\"}",
                          i ? "," : "");
  snprintf(many + n, sizeof(many) - n, "]");
  expect_bad(many, "items");
}

static void test_metadata(void **state)
{
  struct api_error err;
  char key[80], val[600], buf[1024];
  cJSON *md;
  (void)state;

  assert_int_equal(oai_conv_check_metadata(NULL, &err), 0);
  md = cJSON_CreateObject();
  for(int i = 0; i < 16; i++) {
    snprintf(key, sizeof(key), "%02d%062d", i, 0); /* 64 characters */
    memset(val, 'v', 512);
    val[512] = '\0';
    cJSON_AddStringToObject(md, key, val);
  }
  assert_int_equal(oai_conv_check_metadata(md, &err), 0);
  cJSON_AddStringToObject(md, "one-more", "v");
  assert_int_equal(oai_conv_check_metadata(md, &err), SB_EINVAL);
  assert_string_equal(err.param, "metadata");
  cJSON_Delete(md);

  snprintf(buf, sizeof(buf), "{\"%065d\":\"v\"}", 0);
  md = cJSON_Parse(buf);
  assert_int_equal(oai_conv_check_metadata(md, &err), SB_EINVAL);
  cJSON_Delete(md);
  memset(val, 'v', 513);
  val[513] = '\0';
  snprintf(buf, sizeof(buf), "{\"k\":\"%s\"}", val);
  md = cJSON_Parse(buf);
  assert_int_equal(oai_conv_check_metadata(md, &err), SB_EINVAL);
  assert_string_equal(err.param, "metadata.k");
  cJSON_Delete(md);
  md = cJSON_Parse("{\"k\":1}");
  assert_int_equal(oai_conv_check_metadata(md, &err), SB_EINVAL);
  assert_string_equal(err.code, "invalid_type");
  cJSON_Delete(md);
  md = cJSON_Parse("[]");
  assert_int_equal(oai_conv_check_metadata(md, &err), SB_EINVAL);
  cJSON_Delete(md);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_items_completed),
      cmocka_unit_test(test_items_refused),
      cmocka_unit_test(test_metadata),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
