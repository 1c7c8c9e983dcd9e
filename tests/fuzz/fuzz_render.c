/*
 * fuzz_render.c - the inbound stream and document renderers
 * (codec/oai_stream.c, codec/oai_resp.c, codec/anth_msgs.c) fed
 * with any sequence of canonical events, not only the ones an adapter
 * happens to emit: tool calls that interleave, arguments before their
 * start, repeated finishes, text after a tool call.
 *
 * Input: a byte code per event (below). An input starting with '{' is
 * instead a chat.completion given to the document renderers.
 */
#include "tests/fuzz/harness.h"

#include "base/sb.h"

#include <stdlib.h>
#include <string.h>

static const char *const FINISH[] = {
    "stop", "length", "tool_calls", "content_filter", "function_call",
    "eos",  ""};

/* A string of up to 15 bytes from the input (NUL-terminated copy in
 * out), or NULL when the length nibble says so. */
static const char *take_str(struct fuzz_in *in, char *out, unsigned len)
{
  size_t n = len & 15;

  if(len == 15)
    return NULL;
  if(n > in->n)
    n = in->n;
  memcpy(out, in->p, n);
  out[n] = '\0';
  in->p += n;
  in->n -= n;
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct fuzz_in in = {data, size};
  struct fuzz_render *r;
  struct api_error err;
  int stop = 0;

  if(size && data[0] == '{') {
    cJSON *c = fuzz_parse_body(data, size);

    if(cJSON_IsObject(c))
      fuzz_render_completion(c);
    cJSON_Delete(c);
    return 0;
  }
  api_error_set(&err, 502, "upstream_error", "upstream_bad_response", NULL,
                "fuzz");
  r = fuzz_render_new();
  while(in.n && !stop) {
    uint8_t op = fuzz_u8(&in);
    struct canon_ev ev;
    char a[16], b[16], c[16];

    memset(&ev, 0, sizeof(ev));
    ev.type = (enum canon_ev_type)(op & 7);
    ev.index = op >> 5; /* 0..7 */
    switch(ev.type) {
    case CANON_EV_START: {
      uint8_t l = fuzz_u8(&in);
      ev.id = take_str(&in, a, l & 15);
      ev.model = take_str(&in, b, l >> 4);
      break;
    }
    case CANON_EV_TEXT:
    case CANON_EV_REASONING:
    case CANON_EV_TOOL_ARGS: {
      size_t n = fuzz_u8(&in);

      if(n > in.n)
        n = in.n;
      ev.text = (const char *)in.p;
      ev.len = n;
      in.p += n;
      in.n -= n;
      if(ev.type == CANON_EV_REASONING && op & 8)
        ev.signature = take_str(&in, c, fuzz_u8(&in) & 15);
      break;
    }
    case CANON_EV_TOOL_START: {
      uint8_t l = fuzz_u8(&in);
      ev.id = take_str(&in, a, l & 15);
      ev.name = take_str(&in, b, l >> 4);
      if(!ev.name)
        ev.name = "f"; /* adapters always name a tool */
      if(!ev.id)
        ev.id = "call_1";
      break;
    }
    case CANON_EV_FINISH:
      ev.finish_reason = FINISH[(op >> 3) % SB_ARRAY_LEN(FINISH)];
      break;
    case CANON_EV_USAGE:
      ev.usage.prompt_tokens = (int64_t)fuzz_u16(&in) - 1;
      ev.usage.completion_tokens = (int64_t)fuzz_u16(&in) - 1;
      ev.usage.cached_tokens = op & 8 ? fuzz_u8(&in) : -1;
      ev.usage.reasoning_tokens = op & 16 ? fuzz_u8(&in) : -1;
      break;
    case CANON_EV_ERROR: ev.err = &err; break;
    }
    stop = fuzz_render_emit(r, &ev);
  }
  fuzz_render_end(r, !stop);
  return 0;
}
