/*
 * fuzz_oai_embed.c - the embeddings request checks (codec/oai_embed.c)
 * and, for a body they accept, every provider's embeddings request
 * builder. Inputs starting with '!' instead give an upstream embeddings
 * list (after the '!') to the base64 re-encoding.
 */
#include "tests/fuzz/harness.h"

#include "codec/oai_embed.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct api_error err;
  cJSON *body;

  if(size && data[0] == '!') {
    cJSON *list = fuzz_parse_body(data + 1, size - 1);

    if(list)
      oai_embed_to_base64(list);
    cJSON_Delete(list);
    return 0;
  }
  body = fuzz_parse_body(data, size);
  if(!body)
    return 0;
  memset(&err, 0, sizeof(err));
  if(oai_embed_validate(body, &err)) {
    FUZZ_CHECK(err.status == 400);
  } else {
    (void)oai_embed_base64(body);
    fuzz_build_embeddings_all(body);
  }
  cJSON_Delete(body);
  return 0;
}
