/*
 * fuzz_bedrock.c - the Bedrock Converse adapter's upstream parsers: the
 * non-streamed answer, the stream, errors and embeddings.
 *
 * The stream is an AWS event-stream: fuzz_adapter() patches the CRCs of
 * the messages the input describes before framing it. Inputs whose first
 * byte is 0xc0 or more reach the stream parser more directly: the rest
 * is an SSE text, one event per payload ("event: !name" for an exception
 * message), so that the seeds stay readable JSON.
 */
#include "tests/fuzz/harness.h"

#include "providers/bedrock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct fuzz_prov f;
  static int ready;

  if(!ready) {
    fuzz_prov_init(&f, &prov_bedrock_adapter, "bedrock",
                   "{\"region\":\"us-east-1\"}");
    ready = 1;
  }
  if(size >= 3 && data[0] >= 0xc0) {
    fuzz_adapter_stream_sse(&f, data + 3, size - 3,
                            (uint16_t)(data[1] << 8 | data[2]));
    return 0;
  }
  fuzz_adapter(&f, data, size);
  return 0;
}
