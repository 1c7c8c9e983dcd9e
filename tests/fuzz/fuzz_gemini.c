/*
 * fuzz_gemini.c - the gemini adapter's upstream parsers: the non-streamed
 * answer, the stream (through its real framer, in fuzz-chosen pieces,
 * rendered by every inbound renderer), errors, embeddings and the model list.
 */
#include "tests/fuzz/harness.h"

#include "providers/gemini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct fuzz_prov f;
  static int ready;

  if(!ready) {
    fuzz_prov_init(&f, &prov_gemini_adapter, "gemini", NULL);
    ready = 1;
  }
  fuzz_adapter(&f, data, size);
  return 0;
}
