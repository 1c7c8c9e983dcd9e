/*
 * fuzz_oai_resp.c - the Responses inbound codec (codec/oai_resp.c): a
 * /v1/responses body to a canonical request, which must then pass
 * oai_chat_validate() as oai_resp.h promises, and go through every
 * provider's request builder as the gateway would.
 *
 * An input may carry a stored conversation first: when it starts with a
 * JSON array followed by a NUL byte, the array is the history of
 * previous_response_id and the rest is the body.
 */
#include "tests/fuzz/harness.h"

#include "codec/oai_chat.h"
#include "codec/oai_resp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct api_error err;
  cJSON *history = NULL, *body, *chat = NULL, *turn = NULL;
  char *dropped = NULL;
  const uint8_t *nul = size && data[0] == '[' ? memchr(data, 0, size) : NULL;

  if(nul) {
    history = fuzz_parse_body(data, (size_t)(nul - data));
    size -= (size_t)(nul - data) + 1;
    data = nul + 1;
    if(!cJSON_IsArray(history)) {
      cJSON_Delete(history);
      return 0;
    }
  }
  body = fuzz_parse_body(data, size);
  if(!body) {
    cJSON_Delete(history);
    return 0;
  }
  memset(&err, 0, sizeof(err));
  if(oai_resp_to_chat(body, history, &chat, &turn, &dropped, &err)) {
    FUZZ_CHECK(!chat && !turn && !dropped && err.status == 400);
  } else {
    FUZZ_CHECK(cJSON_IsArray(turn));
    if(oai_chat_validate(chat, &err)) {
      fprintf(stderr, "canonical request refused: %s (%s)\n", err.message,
              err.param);
      FUZZ_CHECK(!"oai_resp_to_chat output passes oai_chat_validate");
    }
    fuzz_build_all(chat);
  }
  free(dropped);
  cJSON_Delete(turn);
  cJSON_Delete(chat);
  cJSON_Delete(body);
  cJSON_Delete(history);
  return 0;
}
