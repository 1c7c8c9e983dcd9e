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

static size_t str_bytes(const cJSON *v)
{
  return cJSON_IsString(v) ? strlen(v->valuestring) : 0;
}

/* What a chunk's text bytes and usage come to, from its parse: the scan
 * of the raw chunk (openai.c, scan_chunk) must agree. Without quirks,
 * normalize() moves no text. */
static void expect_counts(const cJSON *root, struct prov_openai_stream *want)
{
  const cJSON *c, *tc, *us = cJSON_GetObjectItemCaseSensitive(root, "usage");
  const cJSON *xg = cJSON_GetObjectItemCaseSensitive(root, "x_groq");

  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "choices"))
  {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(c, "delta");
    want->text_bytes +=
        (int64_t)(str_bytes(cJSON_GetObjectItemCaseSensitive(d, "content")) +
                  str_bytes(cJSON_GetObjectItemCaseSensitive(
                      d, "reasoning_content")));
    cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(d, "tool_calls"))
        want->text_bytes += (int64_t)str_bytes(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(tc, "function"), "arguments"));
  }
  if(!cJSON_IsObject(us) &&
     cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(xg, "usage")))
    us = cJSON_GetObjectItemCaseSensitive(xg, "usage");
  if(cJSON_IsObject(us))
    canon_usage_read(us, &want->usage);
}

static int on_event(void *ud, const struct sse_event *ev)
{
  struct relay *r = ud;
  const struct prov_openai_quirks *q = r->s.prov->priv;
  struct prov_openai_stream want = r->s;
  cJSON *root = q && q->reasoning_field
                    ? NULL
                    : cJSON_ParseWithLength(ev->data, ev->data_len);
  size_t before = r->out.len;
  int rc =
      prov_openai_stream_event(&r->s, ev->data, ev->data_len, &r->out, &r->err);

  if(rc == 0 && cJSON_IsObject(root)) {
    expect_counts(root, &want);
    FUZZ_CHECK(want.text_bytes == r->s.text_bytes);
    FUZZ_CHECK(!memcmp(&want.usage, &r->s.usage, sizeof(want.usage)));
    if(r->out.len > before && !memchr(ev->data, '\n', ev->data_len) &&
       !memchr(ev->data, '\r', ev->data_len)) {
      /* What the client gets is one JSON object, without the usage we
       * asked for on its behalf. */
      const char *d = r->out.data + before + 6; /* "data: " */
      cJSON *sent = cJSON_ParseWithLength(d, r->out.len - before - 8);
      FUZZ_CHECK(cJSON_IsObject(sent));
      if(!r->s.client_usage)
        FUZZ_CHECK(!cJSON_GetObjectItemCaseSensitive(sent, "usage"));
      cJSON_Delete(sent);
    }
  }
  cJSON_Delete(root);

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
