/*
 * fuzz_openai.c - the openai kind's upstream parsers: as an adapter
 * (answer, stream, errors, model list) and on the pass-through path
 * (prov_openai_parse_response and prov_openai_stream_event, which rewrite
 * what the upstream sends for a Chat Completions client). Inputs whose
 * first byte is 0xc0 or more take the pass-through path: 0xc0-0xdf a
 * non-streamed body, 0xe0-0xff an SSE stream.
 */
#include "tests/fuzz/harness.h"

#include "base/sb.h"
#include "base/sse.h"
#include "codec/canon_doc.h"
#include "providers/openai.h"

#include <stdlib.h>
#include <string.h>

struct relay {
  struct prov_openai_stream s;
  struct buf out;
  struct api_error err;
};

static int on_event(void *ud, const struct sse_event *ev)
{
  struct relay *r = ud;
  int rc =
      prov_openai_stream_event(&r->s, ev->data, ev->data_len, &r->out, &r->err);

  if(r->out.len > 64 * 1024)
    buf_reset(&r->out); /* sent to the client */
  if(rc && rc != SB_ETOOBIG)
    FUZZ_CHECK(r->err.status >= 400);
  return rc;
}

static void relay_stream(const struct prov *p, const uint8_t *data, size_t size,
                         int client_usage)
{
  struct relay r;
  struct sse_parser sse;
  struct fuzz_in in = {data, size};
  struct fuzz_chunker ch;

  memset(&r, 0, sizeof(r));
  fuzz_chunker_init(&ch, fuzz_u16(&in));
  prov_openai_stream_init(&r.s, p, client_usage);
  buf_init(&r.out, 256 * 1024);
  sse_parser_init(&sse, 64 * 1024, on_event, &r);
  while(in.n) {
    size_t n = fuzz_chunk(&ch, in.n);

    if(sse_parser_feed(&sse, (const char *)in.p, n))
      break;
    in.p += n;
    in.n -= n;
  }
  (void)sse_parser_finish(&sse);
  sse_parser_free(&sse);
  buf_free(&r.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct fuzz_prov f, quirky;
  static int ready;

  if(!ready) {
    fuzz_prov_init(&f, &prov_openai_adapter, "openai", NULL);
    /* Every quirk on: the rewrites of the pass-through path. */
    fuzz_prov_init(&quirky, &prov_openai_adapter, "openai",
                   "{\"tool_call_ids\":\"alnum9\",\"seed_param\":"
                   "\"random_seed\",\"reasoning_field\":\"reasoning\","
                   "\"drop_input_reasoning\":true,\"strip_message_names\":"
                   "true}");
    ready = 1;
  }
  if(size >= 1 && data[0] >= 0xc0) {
    const struct prov *p = data[0] & 1 ? &quirky.p : &f.p;

    if(data[0] < 0xe0) {
      struct canon_usage u;
      struct api_error err;
      char *rewritten = NULL;

      canon_usage_init(&u);
      if(prov_openai_parse_response(p, (const char *)data + 1, size - 1, &u,
                                    &rewritten, &err) == 0) {
        /* Read without parsing or not, the usage is what the answer the
         * client gets says. */
        cJSON *sent =
            rewritten ? cJSON_Parse(rewritten)
                      : cJSON_ParseWithLength((const char *)data + 1, size - 1);
        struct canon_usage want;

        FUZZ_CHECK(cJSON_IsObject(sent));
        canon_usage_init(&want);
        canon_usage_read(cJSON_GetObjectItemCaseSensitive(sent, "usage"),
                         &want);
        FUZZ_CHECK(!memcmp(&want, &u, sizeof(u)));
        cJSON_Delete(sent);
      }
      if(rewritten)
        FUZZ_CHECK(rewritten[0] == '{');
      free(rewritten);
    } else {
      relay_stream(p, data + 1, size - 1, data[0] & 2);
    }
    return 0;
  }
  fuzz_adapter(data[0] & 1 ? &quirky : &f, data, size);
  return 0;
}
