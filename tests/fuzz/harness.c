/* Shared pieces of the fuzz harnesses (harness.h). */
#include "tests/fuzz/harness.h"

#include "codec/anth_msgs.h"
#include "base/buf.h"
#include "config/config.h"
#include "base/eventstream.h"
#include "base/ndjson.h"
#include "codec/oai_resp.h"
#include "codec/oai_stream.h"
#include "base/sb.h"
#include "base/sse.h"
#include "providers/bedrock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds of the gateway's defaults scaled down: big enough for every
 * seed, small enough that a limit is reachable by a fuzzed input. */
#define FUZZ_MAX_EVENT (64 * 1024)
#define FUZZ_MAX_OUT   (256 * 1024)

void fuzz_fail(const char *file, int line, const char *what)
{
  fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);
  abort();
}

uint8_t fuzz_u8(struct fuzz_in *in)
{
  uint8_t v;

  if(!in->n)
    return 0;
  v = *in->p++;
  in->n--;
  return v;
}

uint16_t fuzz_u16(struct fuzz_in *in)
{
  uint16_t hi = fuzz_u8(in);
  return (uint16_t)(hi << 8 | fuzz_u8(in));
}

void fuzz_chunker_init(struct fuzz_chunker *c, uint16_t seed)
{
  c->state = seed ? seed : 1;
}

size_t fuzz_chunk(struct fuzz_chunker *c, size_t left)
{
  size_t n;

  /* xorshift32: cheap, and the same seed gives the same splits. */
  c->state ^= c->state << 13;
  c->state ^= c->state >> 17;
  c->state ^= c->state << 5;
  n = (c->state & 0xff) == 0 ? left : 1 + (c->state >> 8) % 64;
  return n < left ? n : left;
}

static uint32_t be32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

void fuzz_fix_eventstream(uint8_t *buf, size_t n)
{
  size_t off = 0;

  while(n - off >= EVENTSTREAM_MIN_MESSAGE) {
    uint32_t total = be32(buf + off);

    if(total < EVENTSTREAM_MIN_MESSAGE || total > n - off)
      break;
    put_be32(buf + off + 8, eventstream_crc32(0, buf + off, 8));
    put_be32(buf + off + total - 4, eventstream_crc32(0, buf + off, total - 4));
    off += total;
  }
}

/* ---- provider fixture ------------------------------------------------ */

void fuzz_prov_init(struct fuzz_prov *f, const struct prov_adapter *A,
                    const char *kind, const char *options)
{
  char err[256] = "";
  cJSON *o = options ? cJSON_Parse(options) : NULL;

  setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
         1);
  memset(f, 0, sizeof(*f));
  f->cfg.name = "fz";
  f->cfg.kind = (char *)kind;
  f->p.name = "fz";
  f->p.kind = A == &prov_openai_adapter ? PROV_OPENAI : PROV_ADAPTER;
  f->p.cfg = &f->cfg;
  f->p.adapter = A;
  f->p.caps = A->caps;
  f->p.base_url = sb_strdup(A->default_base_url ? A->default_base_url
                                                : "http://127.0.0.1:1/v1");
  /* The openai kind's options are read by the pass-through code, not
   * through its adapter table. */
  if(A == &prov_openai_adapter
         ? prov_openai_configure(&f->p, o, "options", err, sizeof(err))
         : A->configure &&
               A->configure(&f->p, o, "options", err, sizeof(err))) {
    fprintf(stderr, "fuzz: configure %s: %s\n", kind, err);
    abort();
  }
  cJSON_Delete(o);
}

/* ---- renderers ----------------------------------------------------- */

/* The Responses renderer echoes the client's request; a custom tool makes
 * it take its custom_tool_call path for tool index 0's name. */
static const char RESP_REQ[] =
    "{\"model\":\"m\",\"input\":\"hi\",\"tools\":[{\"type\":\"custom\","
    "\"name\":\"apply_patch\"},{\"type\":\"function\",\"name\":\"f\","
    "\"parameters\":{\"type\":\"object\"}}]}";

struct fuzz_render {
  struct oai_stream oai;
  struct anth_stream *anth;
  struct oai_resp_stream *resp;
  cJSON *resp_req;
  struct buf out_oai, out_anth, out_resp;
  size_t checked_oai, checked_anth, checked_resp; /* bytes of out_* seen
                                                   * by check_sse() */
  int failed_oai, failed_anth, failed_resp;
  int errored; /* an ERROR event ended the stream */
};

struct fuzz_render *fuzz_render_new(void)
{
  struct fuzz_render *r = sb_calloc(1, sizeof(*r));

  r->resp_req = cJSON_Parse(RESP_REQ);
  oai_stream_init(&r->oai, "chatcmpl-fz", 1700000000, "fz/m", 1);
  r->anth = anth_stream_new("msg_fz", "fz/m");
  r->resp = oai_resp_stream_new(r->resp_req, "resp_fz", 1700000000, "fz/m");
  buf_init(&r->out_oai, FUZZ_MAX_OUT);
  buf_init(&r->out_anth, FUZZ_MAX_OUT);
  buf_init(&r->out_resp, FUZZ_MAX_OUT);
  return r;
}

static int check_event(void *ud, const struct sse_event *ev)
{
  cJSON *j;

  (void)ud;
  if(ev->data_len == 6 && !memcmp(ev->data, "[DONE]", 6))
    return 0;
  j = cJSON_ParseWithLength(ev->data, ev->data_len);
  if(!j)
    fprintf(stderr, "rendered event data is not JSON: %.*s\n",
            (int)ev->data_len, ev->data);
  FUZZ_CHECK(j != NULL);
  cJSON_Delete(j);
  return 0;
}

/* What a renderer appended since the last check is whole SSE events
 * (even after a failure, the headers promise), each with JSON data. */
static void check_sse(const struct buf *b, size_t *checked)
{
  struct sse_parser p;

  if(b->len == *checked)
    return;
  sse_parser_init(&p, 1 << 24, check_event, NULL);
  FUZZ_CHECK(sse_parser_feed(&p, b->data + *checked, b->len - *checked) == 0);
  FUZZ_CHECK(sse_parser_finish(&p) == 0);
  sse_parser_free(&p);
  *checked = b->len;
}

/* The gateway sends what was rendered and starts again with an empty
 * buffer; keeping only the tail bounds the memory of a long stream. */
static void drain(struct buf *b, size_t *checked)
{
  check_sse(b, checked);
  if(b->len > FUZZ_MAX_OUT / 2) {
    buf_reset(b);
    *checked = 0;
  }
}

int fuzz_render_emit(void *ud, const struct canon_ev *ev)
{
  struct fuzz_render *r = ud;

  if(r->errored)
    return 1; /* nothing may follow an error (canon.h) */
  if(!r->failed_oai && oai_stream_render(&r->oai, ev, &r->out_oai))
    r->failed_oai = 1;
  if(!r->failed_anth && anth_stream_render(r->anth, ev, &r->out_anth))
    r->failed_anth = 1;
  if(!r->failed_resp && oai_resp_stream_render(r->resp, ev, &r->out_resp))
    r->failed_resp = 1;
  drain(&r->out_oai, &r->checked_oai);
  drain(&r->out_anth, &r->checked_anth);
  drain(&r->out_resp, &r->checked_resp);
  if(ev->type == CANON_EV_ERROR) {
    r->errored = 1;
    return 1;
  }
  return 0;
}

void fuzz_render_end(struct fuzz_render *r, int clean)
{
  if(clean && !r->errored) {
    if(!r->failed_oai)
      (void)oai_stream_end(&r->oai, &r->out_oai);
    if(!r->failed_anth)
      (void)anth_stream_end(r->anth, &r->out_anth);
    if(!r->failed_resp) {
      cJSON *messages = cJSON_CreateArray();

      (void)oai_resp_stream_end(r->resp, &r->out_resp);
      /* What the gateway stores of a Responses turn. */
      if(oai_resp_stream_response(r->resp))
        oai_resp_output_to_messages(oai_resp_stream_response(r->resp),
                                    messages);
      cJSON_Delete(messages);
    }
  }
  check_sse(&r->out_oai, &r->checked_oai);
  check_sse(&r->out_anth, &r->checked_anth);
  check_sse(&r->out_resp, &r->checked_resp);
  oai_stream_free(&r->oai);
  anth_stream_free(r->anth);
  oai_resp_stream_free(r->resp);
  cJSON_Delete(r->resp_req);
  buf_free(&r->out_oai);
  buf_free(&r->out_anth);
  buf_free(&r->out_resp);
  free(r);
}

void fuzz_render_completion(const cJSON *completion)
{
  cJSON *req = cJSON_Parse(RESP_REQ);
  cJSON *a = anth_msgs_from_completion(completion, "msg_fz", "fz/m");
  cJSON *resp =
      oai_resp_from_completion(req, completion, "resp_fz", 1700000000, "fz/m");
  cJSON *messages = cJSON_CreateArray();

  FUZZ_CHECK(a && resp);
  oai_resp_output_to_messages(resp, messages);
  cJSON_Delete(messages);
  cJSON_Delete(resp);
  cJSON_Delete(a);
  cJSON_Delete(req);
}

/* ---- adapters ------------------------------------------------------ */

struct bridge {
  const struct prov_adapter *A;
  struct prov_stream *s;
  struct fuzz_render *r;
  struct canon_sink sink;
};

static int bridge_payload(struct bridge *b, const char *event, size_t event_len,
                          const char *data, size_t len, int exception)
{
  struct prov_payload pl = {event, event_len, data, len, exception};

  return b->A->stream_feed(b->s, &pl, &b->sink) ? 1 : 0;
}

/* The three framer callbacks below are the gateway's (gateway/chat.c). */
static int on_sse(void *ud, const struct sse_event *ev)
{
  return bridge_payload(ud, ev->event, ev->event_len, ev->data, ev->data_len,
                        0);
}

static int on_line(void *ud, const char *line, size_t len)
{
  return bridge_payload(ud, NULL, 0, line, len, 0);
}

static int on_msg(void *ud, const struct eventstream_msg *m)
{
  if(m->message_type_len == 9 && !memcmp(m->message_type, "exception", 9))
    return bridge_payload(ud, m->exception_type, m->exception_type_len,
                          m->payload, m->payload_len, 1);
  if(m->message_type_len == 5 && !memcmp(m->message_type, "error", 5))
    return bridge_payload(ud, m->error_code, m->error_code_len,
                          m->error_message, m->error_message_len, 1);
  return bridge_payload(ud, m->event_type, m->event_type_len, m->payload,
                        m->payload_len, 0);
}

/* Events named "!x" are exception payloads named "x". */
static int on_sse_payload(void *ud, const struct sse_event *ev)
{
  if(ev->event_len && ev->event[0] == '!')
    return bridge_payload(ud, ev->event + 1, ev->event_len - 1, ev->data,
                          ev->data_len, 1);
  return on_sse(ud, ev);
}

static void bridge_init(struct bridge *b, const struct fuzz_prov *f)
{
  b->A = f->p.adapter;
  b->s = b->A->stream_new(&f->p, "m");
  FUZZ_CHECK(b->s);
  b->r = fuzz_render_new();
  b->sink.emit = fuzz_render_emit;
  b->sink.ud = b->r;
}

static void bridge_end(struct bridge *b, int rc)
{
  int complete = b->A->stream_complete(b->s);

  fuzz_render_end(b->r, !rc && complete);
  b->A->stream_free(b->s);
}

static void adapter_stream(const struct fuzz_prov *f, const uint8_t *data,
                           size_t size, uint16_t seed)
{
  struct bridge b;
  struct fuzz_chunker ch;
  struct sse_parser sse;
  struct ndjson nd;
  struct eventstream es;
  uint8_t *copy = NULL;
  size_t off = 0;
  int rc = 0;

  bridge_init(&b, f);
  fuzz_chunker_init(&ch, seed);
  switch(b.A->framing) {
  case PROV_FRAMING_SSE:
    sse_parser_init(&sse, FUZZ_MAX_EVENT, on_sse, &b);
    break;
  case PROV_FRAMING_NDJSON:
    ndjson_init(&nd, FUZZ_MAX_EVENT, on_line, &b);
    break;
  case PROV_FRAMING_EVENTSTREAM:
    eventstream_init(&es, FUZZ_MAX_EVENT, on_msg, &b);
    copy = sb_malloc(size ? size : 1);
    memcpy(copy, data, size);
    fuzz_fix_eventstream(copy, size);
    data = copy;
    break;
  }
  while(!rc && off < size) {
    size_t n = fuzz_chunk(&ch, size - off);

    switch(b.A->framing) {
    case PROV_FRAMING_SSE:
      rc = sse_parser_feed(&sse, (const char *)data + off, n);
      break;
    case PROV_FRAMING_NDJSON:
      rc = ndjson_feed(&nd, (const char *)data + off, n);
      break;
    case PROV_FRAMING_EVENTSTREAM:
      rc = eventstream_feed(&es, data + off, n);
      break;
    }
    off += n;
  }
  switch(b.A->framing) {
  case PROV_FRAMING_SSE:
    if(!rc)
      rc = sse_parser_finish(&sse);
    sse_parser_free(&sse);
    break;
  case PROV_FRAMING_NDJSON:
    if(!rc)
      rc = ndjson_finish(&nd);
    ndjson_free(&nd);
    break;
  case PROV_FRAMING_EVENTSTREAM:
    if(!rc && eventstream_pending(&es))
      rc = SB_EPROTO;
    eventstream_free(&es);
    break;
  }
  free(copy);
  bridge_end(&b, rc);
}

void fuzz_adapter_stream_sse(const struct fuzz_prov *f, const uint8_t *data,
                             size_t size, uint16_t seed)
{
  struct bridge b;
  struct fuzz_chunker ch;
  struct sse_parser sse;
  size_t off = 0;
  int rc = 0;

  bridge_init(&b, f);
  fuzz_chunker_init(&ch, seed);
  sse_parser_init(&sse, FUZZ_MAX_EVENT, on_sse_payload, &b);
  while(!rc && off < size) {
    size_t n = fuzz_chunk(&ch, size - off);
    rc = sse_parser_feed(&sse, (const char *)data + off, n);
    off += n;
  }
  if(!rc)
    rc = sse_parser_finish(&sse);
  sse_parser_free(&sse);
  bridge_end(&b, rc);
}

/* Validated embeddings requests the parsers may consult (input count,
 * encoding). */
static const char *const EMBED_REQS[] = {
    "{\"model\":\"m\",\"input\":\"one\"}",
    "{\"model\":\"m\",\"input\":[\"one\",\"two\"],\"dimensions\":4}",
    "{\"model\":\"m\",\"input\":[[1,2],[3]],\"encoding_format\":\"base64\"}",
};

int fuzz_adapter(const struct fuzz_prov *f, const uint8_t *data, size_t size)
{
  const struct prov_adapter *A = f->p.adapter;
  struct fuzz_in in = {data, size};
  int mode = fuzz_u8(&in);
  uint16_t seed = fuzz_u16(&in);
  const char *body = (const char *)in.p;
  size_t len = in.n;
  struct api_error err;
  struct canon_usage usage;
  cJSON *out = NULL;

  memset(&err, 0, sizeof(err));
  canon_usage_init(&usage);
  switch(mode % 8) {
  case 0:
  case 1:
    if(A->parse_chat(&f->p, body, len, "m", "chatcmpl-fz", 1700000000, &out,
                     &usage, &err) == 0) {
      FUZZ_CHECK(cJSON_IsObject(out));
      fuzz_render_completion(out);
    } else {
      FUZZ_CHECK(!out && err.status >= 400);
    }
    cJSON_Delete(out);
    break;
  case 2:
  case 3:
  case 4: adapter_stream(f, in.p, in.n, seed); break;
  case 5: {
    /* Status and the two retry headers come from the seed. */
    char ra[8], ram[8];

    snprintf(ra, sizeof(ra), "%u", seed % 200);
    snprintf(ram, sizeof(ram), "%u", seed);
    A->map_error(&f->p, 300 + seed % 300, len ? body : NULL, len,
                 seed & 1 ? ra : NULL, seed & 2 ? ram : NULL, &err);
    FUZZ_CHECK(err.status >= 400 && err.status <= 599);
    break;
  }
  case 6:
    if(A->parse_embeddings) {
      cJSON *req = cJSON_Parse(EMBED_REQS[seed % SB_ARRAY_LEN(EMBED_REQS)]);

      if(!A->parse_embeddings(&f->p, body, len, req, "m", &out, &usage, &err))
        FUZZ_CHECK(cJSON_IsObject(out));
      cJSON_Delete(out);
      cJSON_Delete(req);
    }
    break;
  case 7:
    if(A->parse_models || A == &prov_openai_adapter) {
      char **models = NULL;
      int n = 0;
      int rc = A->parse_models
                   ? A->parse_models(body, len, &models, &n)
                   : prov_openai_parse_models(body, len, &models, &n);

      if(!rc)
        for(int i = 0; i < n; i++)
          FUZZ_CHECK(models[i] != NULL);
      for(int i = 0; i < n; i++)
        free(models[i]);
      free(models);
    }
    break;
  }
  return mode;
}

/* ---- request builders ------------------------------------------------ */

#include "base/json.h"
#include "codec/oai_chat.h"
#include "providers/anthropic.h"
#include "providers/cohere.h"
#include "providers/gemini.h"
#include "providers/ollama.h"

static struct fuzz_prov *all_provs(int *n)
{
  static struct fuzz_prov f[7];
  static int ready;

  if(!ready) {
    fuzz_prov_init(&f[0], &prov_openai_adapter, "openai", NULL);
    fuzz_prov_init(&f[1], &prov_openai_adapter, "openai",
                   "{\"tool_call_ids\":\"alnum9\",\"seed_param\":"
                   "\"random_seed\",\"reasoning_field\":\"reasoning\","
                   "\"drop_input_reasoning\":true,\"strip_message_names\":"
                   "true}");
    fuzz_prov_init(&f[2], &prov_anthropic_adapter, "anthropic", NULL);
    fuzz_prov_init(&f[3], &prov_gemini_adapter, "gemini", NULL);
    fuzz_prov_init(&f[4], &prov_cohere_adapter, "cohere", NULL);
    fuzz_prov_init(&f[5], &prov_ollama_adapter, "ollama",
                   "{\"think_levels\":true}");
    fuzz_prov_init(&f[6], &prov_bedrock_adapter, "bedrock",
                   "{\"region\":\"us-east-1\"}");
    ready = 1;
  }
  *n = (int)SB_ARRAY_LEN(f);
  return f;
}

void fuzz_build_all(const cJSON *chat)
{
  struct prov_client client = {"Bearer sk-client", NULL, 0};
  int n;
  struct fuzz_prov *f = all_provs(&n);

  for(int i = 0; i < n; i++) {
    const struct prov_adapter *A = f[i].p.adapter;
    struct api_error err;
    struct prov_http http;
    int rc;

    memset(&err, 0, sizeof(err));
    if(oai_chat_check_caps(chat, f[i].p.caps, f[i].p.name, &err))
      continue;
    memset(&http, 0, sizeof(http));
    rc = A->build_chat(&f[i].p, chat, "m", &client, &http, &err);
    if(rc)
      FUZZ_CHECK(err.status >= 400 && err.status < 500 && !http.body);
    else
      FUZZ_CHECK(http.url && http.body);
    prov_http_free(&http);
    if(A == &prov_openai_adapter) {
      cJSON *body = cJSON_Duplicate(chat, 1);
      int client_usage;

      memset(&http, 0, sizeof(http));
      prov_openai_build_chat(&f[i].p, body, "m", &client, &http, &client_usage);
      prov_http_free(&http);
      cJSON_Delete(body);
    }
  }
}

void fuzz_build_embeddings_all(const cJSON *req)
{
  struct prov_client client = {NULL, NULL, 0};
  int n;
  struct fuzz_prov *f = all_provs(&n);

  for(int i = 0; i < n; i++) {
    const struct prov_adapter *A = f[i].p.adapter;
    struct api_error err;
    struct prov_http http;

    memset(&err, 0, sizeof(err));
    memset(&http, 0, sizeof(http));
    if(A == &prov_openai_adapter) {
      cJSON *body = cJSON_Duplicate(req, 1);

      prov_openai_build_embeddings(&f[i].p, body, "m", &client, &http);
      cJSON_Delete(body);
    } else if(A->build_embeddings) {
      if(A->build_embeddings(&f[i].p, req, "m", &client, &http, &err))
        FUZZ_CHECK(err.status >= 400 && err.status < 500);
    }
    prov_http_free(&http);
  }
}

cJSON *fuzz_parse_body(const uint8_t *data, size_t size)
{
  if(json_too_deep((const char *)data, size, 64))
    return NULL;
  return cJSON_ParseWithLength((const char *)data, size);
}
