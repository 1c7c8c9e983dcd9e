/*
 * fuzz_json.c - json_too_deep() (base/json.c), the guard run on every
 * request body before cJSON recurses into it, and json_check() and
 * json_members(), which read upstream answers without parsing them.
 * Checked against cJSON itself: for a text cJSON parses, json_too_deep()
 * must say "too deep" exactly when the parsed tree nests deeper than the
 * limit; a text json_check() accepts must be one cJSON parses whole, and
 * json_members() must find the members cJSON finds.
 *
 * Input: the limit (1 byte), the text.
 */
#include "tests/fuzz/harness.h"

#include "base/json.h"

#include <string.h>

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

/* json_check() and json_members() against cJSON. */
static void check_reader(const char *s, size_t n, int max)
{
  static const char *const keys[] = {"a", "usage", "b", ""};
  const char *end = NULL;
  unsigned flags;
  cJSON *j;

  if(json_check(s, n, max, &flags))
    return;
  j = cJSON_ParseWithLengthOpts(s, n, &end, 0);
  FUZZ_CHECK(j != NULL);
  while(end < s + n && strchr(" \t\r\n", *end) && *end)
    end++;
  FUZZ_CHECK(end == s + n);
  FUZZ_CHECK(depth(j) <= max);
  if(cJSON_IsObject(j) && !(flags & JSON_ESCAPED_ASCII))
    for(size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
      struct json_span v;
      int found = json_members(s, n, &keys[i], 1, &v);
      /* cJSON stops a key at an escaped NUL: such keys may differ. */
      if(!memchr(s, '\\', n))
        FUZZ_CHECK(found ==
                   (cJSON_GetObjectItemCaseSensitive(j, keys[i]) != NULL));
      if(found) {
        /* The span is the member's whole value. */
        FUZZ_CHECK(json_check(v.p, v.n, max, NULL) == 0);
      }
    }
  cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  int max;
  int deep;
  cJSON *j;

  if(!size)
    return 0;
  max = 1 + data[0] % 40;
  check_reader((const char *)data + 1, size - 1, max);
  deep = json_too_deep((const char *)data + 1, size - 1, max);
  if(deep)
    return 0; /* the gateway refuses it before parsing */
  j = cJSON_ParseWithLength((const char *)data + 1, size - 1);
  if(j)
    FUZZ_CHECK(depth(j) <= max);
  cJSON_Delete(j);
  return 0;
}
