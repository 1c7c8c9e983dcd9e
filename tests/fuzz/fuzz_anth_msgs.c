/*
 * fuzz_anth_msgs.c - the Anthropic Messages inbound codec
 * (codec/anth_msgs.c): a /v1/messages body to a canonical request,
 * which must then pass oai_chat_validate() as anth_msgs.h promises, and
 * go through every provider's request builder as the gateway would.
 */
#include "tests/fuzz/harness.h"

#include "codec/anth_msgs.h"
#include "codec/oai_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct api_error err;
  cJSON *body = fuzz_parse_body(data, size);
  cJSON *chat = NULL;
  char *dropped = NULL;

  if(!body)
    return 0;
  memset(&err, 0, sizeof(err));
  if(anth_msgs_to_chat(body, &chat, &dropped, &err)) {
    FUZZ_CHECK(!chat && !dropped && err.status == 400);
  } else {
    if(oai_chat_validate(chat, &err)) {
      fprintf(stderr, "canonical request refused: %s (%s)\n", err.message,
              err.param);
      FUZZ_CHECK(!"anth_msgs_to_chat output passes oai_chat_validate");
    }
    fuzz_build_all(chat);
  }
  free(dropped);
  cJSON_Delete(chat);
  cJSON_Delete(body);
  return 0;
}
