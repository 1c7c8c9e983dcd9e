/*
 * fuzz_oai_chat.c - the Chat Completions request checks
 * (codec/oai_chat.c), then what follows for a body they accept: the
 * capability check, the last user text, and every provider's request
 * builder. The first byte is the capability set to check against.
 */
#include "tests/fuzz/harness.h"

#include "codec/oai_chat.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct api_error err;
  struct buf text;
  unsigned caps;
  cJSON *body;

  if(!size)
    return 0;
  caps = data[0] & OAI_CAP_ALL;
  body = fuzz_parse_body(data + 1, size - 1);
  if(!body)
    return 0;
  memset(&err, 0, sizeof(err));
  if(oai_chat_validate(body, &err)) {
    FUZZ_CHECK(err.status == 400);
    cJSON_Delete(body);
    return 0;
  }
  if(oai_chat_check_caps(body, caps, "fz", &err))
    FUZZ_CHECK(err.status == 400);
  buf_init(&text, 1 << 20);
  (void)oai_chat_last_user_text(body, &text);
  buf_free(&text);
  fuzz_build_all(body);
  cJSON_Delete(body);
  return 0;
}
