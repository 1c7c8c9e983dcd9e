/*
 * fuzz_json.c - json_too_deep() (base/json.c), the guard run on every
 * request body before cJSON recurses into it. Checked against cJSON
 * itself: for a text cJSON parses, json_too_deep() must say "too deep"
 * exactly when the parsed tree nests deeper than the limit.
 *
 * Input: the limit (1 byte), the text.
 */
#include "tests/fuzz/harness.h"

#include "base/json.h"

static int depth(const cJSON *j)
{
  int d = 0;

  if(!cJSON_IsArray(j) && !cJSON_IsObject(j))
    return 0;
  for(const cJSON *c = j->child; c; c = c->next) {
    int k = depth(c);
    if(k > d)
      d = k;
  }
  return d + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  int max;
  int deep;
  cJSON *j;

  if(!size)
    return 0;
  max = 1 + data[0] % 40;
  deep = json_too_deep((const char *)data + 1, size - 1, max);
  if(deep)
    return 0; /* the gateway refuses it before parsing */
  j = cJSON_ParseWithLength((const char *)data + 1, size - 1);
  if(j)
    FUZZ_CHECK(depth(j) <= max);
  cJSON_Delete(j);
  return 0;
}
