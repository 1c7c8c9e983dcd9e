/*
 * chat.c - serving a canonical (Chat Completions) request from any
 * provider, for every inbound API: the built-in echo provider, the
 * OpenAI pass-through relay, and adapters through canonical documents
 * and events, rendered by the inbound API's hooks on struct req. Also
 * POST /v1/chat/completions and /v1/embeddings themselves.
 */
#include "gateway/http.h"
#include "base/json.h"
#include "base/log.h"
#include "codec/oai_chat.h"
#include "codec/oai_embed.h"
#include "codec/canon_answer.h"
#include "codec/canon_doc.h"
#include "gateway/cache.h"
#include "gateway/conv_turn.h"
#include "base/sb.h"
#include "gateway/worker.h"
#include "router/router.h"
#include "router/routes.h"
#include "router/run.h"

#include <stdlib.h>
#include <string.h>

/* Pace of the echo provider's streams: slow enough to watch, fast
 * enough for tests. */
#define ECHO_TICK_MS 10

/* curl's receive buffer for a streamed answer: an event is a few hundred
 * bytes, and 4 KiB instead of curl's 16 KiB is 12 KiB less per open
 * stream; a larger event is read in a few pieces. */
#define STREAM_RECV_BUFFER 4096

struct req_timer {
  uv_timer_t timer;
  struct req *r; /* NULL once the request is gone */
};

/* A request's exchange with its provider: what only this file reads.
 * Allocated by the first entry point a request reaches (chat_state()),
 * freed by chat_release(). */
struct chat_state {
  struct upstream_xfer *xfer;
  int relay; /* relaying an upstream: sse_in is initialised */
  int upbody_overflow;
  int paused;             /* the client is slow: the upstream waits */
  int upstream_streaming; /* 2xx event-stream being relayed */
  struct sse_parser sse_in;
  struct prov_openai_stream ostream; /* openai pass-through */
  struct ndjson nd_in;               /* adapter with NDJSON framing */
  struct eventstream es_in;          /* adapter with AWS event-stream */
  /* The adapter serving the request through the canonical model; NULL
   * for echo and for OpenAI Chat Completions pass-through. */
  const struct prov_adapter *adapter;
  struct prov_stream *pstream; /* adapter's stream state */
  int raw_relay;               /* the upstream's stream reaches the client as it
                                * is; the adapter only reads it for accounting */
  int upstream_error_seen;     /* raw relay: the upstream sent an error event */
  struct buf relay_pend; /* raw relay: the bytes of the event not yet whole */
  int relay_line;        /* raw relay: bytes in the current line, CR apart */
  int relay_bad;         /* raw relay: an event the adapter cannot read */
  struct api_error stream_err; /* set when the relay must fail */
  int stream_failed;
  struct buf upbody; /* non-streamed upstream body, or an error body */
  struct prov_echo *echo;
  cJSON *embed_req;        /* embeddings through an adapter: the request */
  int embed_base64;        /* the client asked for base64 vectors */
  struct req_timer *pacer; /* echo's stream pace */
  cJSON *route_body;       /* the canonical body, for the next attempt */
  struct req_timer *retry; /* back-off before the next attempt */
};

static struct chat_state *chat_state(struct req *r)
{
  if(!r->chat) {
    r->chat = sb_calloc(1, sizeof(*r->chat));
    buf_init(&r->chat->upbody, r->gw->cfg->limits.max_response_bytes);
    buf_init(&r->chat->relay_pend, r->gw->cfg->limits.max_response_bytes);
  }
  return r->chat;
}

static void fail_request(struct req *r, const struct api_error *err)
{
  if(r->sse)
    req_stream_fail(r, err);
  else
    req_respond_error(r, err);
}

static int on_canon_event(void *ud, const struct canon_ev *ev);
static void end_stream(struct req *r);
static int next_attempt(struct req *r, const struct api_error *err);
static void attempt_ok(struct req *r, int status);

/* --- echo ----------------------------------------------------------------- */

static void on_pacer_closed(uv_handle_t *h)
{
  free(h->data);
}

static void on_pace(uv_timer_t *t)
{
  struct req_timer *pc = t->data;
  struct req *r = pc->r;
  int rc;

  if(!r || r->out.len >= REQ_OUT_HIGH_WM)
    return; /* gone, or the client reads slower than we write */
  rc = prov_echo_next(r->chat->echo, &(struct canon_sink){on_canon_event, r});
  if(rc == 0) {
    req_stream_kick(r);
    return;
  }
  uv_timer_stop(t);
  if(rc == 1)
    end_stream(r);
  /* else on_canon_event failed the stream already */
}

static void serve_echo(struct req *r, const cJSON *body)
{
  struct api_error err;
  char id[40];
  int rc;

  sb_random_id(id, sizeof(id), "chatcmpl-");
  rc = prov_echo_start(body, r->upstream_model, id, r->ts_ms / 1000,
                       &r->chat->echo, &err);
  if(rc) {
    req_respond_error(r, &err);
    return;
  }
  prov_echo_usage(r->chat->echo, &r->usage);
  if(!r->stream) {
    char *json = prov_echo_complete(r->chat->echo);
    cJSON *doc = cJSON_Parse(json);
    free(json);
    if(!doc)
      abort(); /* echo prints what it built */
    r->respond_doc(r, doc);
    return;
  }
  r->chat->pacer = sb_calloc(1, sizeof(*r->chat->pacer));
  r->chat->pacer->r = r;
  uv_timer_init(worker_loop(r->w), &r->chat->pacer->timer);
  r->chat->pacer->timer.data = r->chat->pacer;
  uv_timer_start(&r->chat->pacer->timer, on_pace, 0, ECHO_TICK_MS);
  req_stream_begin(r);
}

/* --- upstreams ----------------------------------------------------------- */

static void take_usage(struct req *r, const struct canon_usage *u)
{
  r->usage = *u;
}

/* Canonical events from an adapter (or echo), rendered for the client;
 * in a raw relay only read for accounting. */
static int on_canon_event(void *ud, const struct canon_ev *ev)
{
  struct req *r = ud;
  int rc;

  if(ev->type == CANON_EV_USAGE)
    take_usage(r, &ev->usage);
  if(ev->type == CANON_EV_TEXT || ev->type == CANON_EV_REASONING ||
     ev->type == CANON_EV_TOOL_ARGS || ev->type == CANON_EV_TOOL_START)
    r->text_bytes += (int64_t)ev->len;
  if(r->chat->raw_relay) {
    /* The client has the upstream's own error event already. */
    r->chat->upstream_error_seen |= ev->type == CANON_EV_ERROR;
    return 0;
  }
  if(ev->type == CANON_EV_ERROR) {
    metrics_upstream_error(r->gw->metrics, r->prov->name, "stream_error");
    r->chat->stream_failed = 1;
    req_stream_fail(r, ev->err);
    return 1;
  }
  if(r->tap.emit)
    r->tap.emit(r->tap.ud, ev);
  rc = r->rend.render(r->rend.s, ev, &r->out);
  if(rc) {
    api_error_set(&r->chat->stream_err, 502, "upstream_error",
                  "upstream_response_too_large", NULL,
                  "The upstream stream exceeded the response buffer.");
    r->chat->stream_failed = 1;
    req_stream_fail(r, &r->chat->stream_err);
    return 1;
  }
  return 0;
}

struct canon_sink chat_sink(struct req *r)
{
  return (struct canon_sink){on_canon_event, r};
}

static int adapter_payload(struct req *r, const char *event, size_t event_len,
                           const char *data, size_t len, int exception)
{
  const struct canon_sink sink = {on_canon_event, r};
  struct prov_payload pl = {event, event_len, data, len, exception};
  int seen = r->chat->upstream_error_seen;
  int rc = r->chat->adapter->stream_feed(r->chat->pstream, &pl, &sink);

  if(r->chat->raw_relay) {
    /* Reading is for accounting, except that an event the adapter cannot
     * read (not the upstream's own error event) is not relayed: see
     * relay_feed(). */
    if(rc == SB_EPROTO && !seen) {
      r->chat->upstream_error_seen = 0;
      r->chat->relay_bad = 1;
    }
    return 0;
  }
  if(rc && !r->chat->stream_failed) {
    /* The adapter failed without saying why: still end the stream. */
    api_error_set(&r->chat->stream_err, 502, "upstream_error",
                  "upstream_bad_response", NULL,
                  "Provider '%s' sent a stream the gateway cannot read.",
                  r->prov->name);
    r->chat->stream_failed = 1;
    req_stream_fail(r, &r->chat->stream_err);
  }
  return rc ? 1 : 0;
}

static int on_ndjson_line(void *ud, const char *line, size_t len)
{
  return adapter_payload(ud, NULL, 0, line, len, 0);
}

static int on_eventstream_msg(void *ud, const struct eventstream_msg *m)
{
  static const char exc[] = "exception", err[] = "error";

  if(m->message_type_len == sizeof(exc) - 1 &&
     !memcmp(m->message_type, exc, sizeof(exc) - 1))
    return adapter_payload(ud, m->exception_type, m->exception_type_len,
                           m->payload, m->payload_len, 1);
  if(m->message_type_len == sizeof(err) - 1 &&
     !memcmp(m->message_type, err, sizeof(err) - 1))
    return adapter_payload(ud, m->error_code, m->error_code_len,
                           m->error_message, m->error_message_len, 1);
  return adapter_payload(ud, m->event_type, m->event_type_len, m->payload,
                         m->payload_len, 0);
}

static int on_sse_event(void *ud, const struct sse_event *ev)
{
  struct req *r = ud;
  int rc;

  if(r->chat->adapter)
    return adapter_payload(r, ev->event, ev->event_len, ev->data, ev->data_len,
                           0);
  int64_t text = r->chat->ostream.text_bytes;

  rc = prov_openai_stream_event(&r->chat->ostream, ev->data, ev->data_len,
                                &r->out, &r->chat->stream_err);
  r->text_bytes += r->chat->ostream.text_bytes - text;
  if(!rc)
    return 0;
  if(rc == SB_ETOOBIG)
    api_error_set(&r->chat->stream_err, 502, "upstream_error",
                  "upstream_response_too_large", NULL,
                  "The upstream stream exceeded the response buffer "
                  "(limits.max_response_bytes).");
  metrics_upstream_error(r->gw->metrics, r->prov->name,
                         rc == SB_EIO ? "stream_error" : "bad_stream");
  r->chat->stream_failed = 1;
  req_stream_fail(r, &r->chat->stream_err);
  return 1;
}

/*
 * Raw relay: the upstream's bytes reach the client as they are, one whole
 * event at a time and only once the adapter has read it, so that neither
 * a malformed event nor a stream cut inside an event reaches the client
 * (whose SSE parser would glue it to the error event that follows): the
 * relay ends with an error event in the client's shape instead. Events end
 * with a blank line ("\n\n" or "\r\n\r\n", as Anthropic sends them).
 */
static int relay_feed(struct req *r, const char *p, size_t n)
{
  struct chat_state *c = r->chat;
  size_t start = 0;
  int rc;

  for(size_t i = 0; i < n; i++) {
    if(p[i] == '\r')
      continue;
    if(p[i] != '\n') {
      c->relay_line++;
      continue;
    }
    if(c->relay_line) {
      c->relay_line = 0;
      continue;
    }
    /* A blank line: the event ends here. */
    if(buf_append(&c->relay_pend, p + start, i + 1 - start))
      return SB_ETOOBIG;
    start = i + 1;
    rc = sse_parser_feed(&c->sse_in, c->relay_pend.data, c->relay_pend.len);
    if(rc)
      return rc;
    if(c->relay_bad)
      return SB_EPROTO;
    if(buf_append(&r->out, c->relay_pend.data, c->relay_pend.len))
      return SB_ETOOBIG;
    buf_reset(&c->relay_pend);
  }
  if(start < n && buf_append(&c->relay_pend, p + start, n - start))
    return SB_ETOOBIG;
  return 0;
}

static int on_upstream_data(void *ud, const char *p, size_t n)
{
  struct req *r = ud;

  if(!r->chat->upstream_streaming && r->stream && !r->chat->upbody.len &&
     !r->sse) {
    long status = upstream_status(r->chat->xfer);
    if(status >= 200 && status < 300) {
      r->chat->upstream_streaming = 1;
      attempt_ok(r, (int)status);
      req_stream_begin(r);
    }
  }
  if(r->chat->upstream_streaming) {
    int rc;

    if(r->chat->stream_failed)
      return -1;
    if(r->out.len >= REQ_OUT_HIGH_WM) {
      r->chat->paused = 1;
      return 1;
    }
    if(r->chat->raw_relay)
      rc = relay_feed(r, p, n);
    else if(r->chat->adapter &&
            r->chat->adapter->framing == PROV_FRAMING_NDJSON)
      rc = ndjson_feed(&r->chat->nd_in, p, n);
    else if(r->chat->adapter &&
            r->chat->adapter->framing == PROV_FRAMING_EVENTSTREAM)
      rc = eventstream_feed(&r->chat->es_in, p, n);
    else
      rc = sse_parser_feed(&r->chat->sse_in, p, n);
    if(rc && !r->chat->stream_failed) {
      /* The framing itself broke (event over the limit, bad CRC). */
      struct api_error err;
      if(rc == SB_ETOOBIG)
        api_error_set(&err, 502, "upstream_error",
                      "upstream_response_too_large", NULL,
                      "An upstream stream event exceeded the limit "
                      "(limits.max_response_bytes).");
      else
        api_error_set(&err, 502, "upstream_error", "upstream_bad_response",
                      NULL, "Provider '%s' sent a malformed stream.",
                      r->prov->name);
      metrics_upstream_error(r->gw->metrics, r->prov->name, "bad_stream");
      r->chat->stream_failed = 1;
      req_stream_fail(r, &err);
    }
    req_stream_kick(r);
    return r->chat->stream_failed ? -1 : 0;
  }
  /* Whole body (answer or error): bounded by limits.max_response_bytes. */
  if(buf_append(&r->chat->upbody, p, n)) {
    r->chat->upbody_overflow = 1;
    return -1;
  }
  return 0;
}

/* Send an OpenAI embeddings list (taken over), base64-encoded when the
 * client asked for it: one place for every provider kind. */
static void respond_embeddings(struct req *r, cJSON *list)
{
  char *json;

  if(r->chat->embed_base64)
    oai_embed_to_base64(list);
  json = cJSON_PrintUnformatted(list);
  cJSON_Delete(list);
  if(!json)
    abort();
  req_respond_json(r, 200, json, strlen(json));
  free(json);
}

/* The input's token count from the adapter's embed_tokens_header, into
 * usage and the answer's usage object, when the body had none. */
static void embed_tokens_from_header(struct req *r, struct upstream_xfer *x,
                                     struct canon_usage *usage, cJSON *out)
{
  const char *name = r->chat->adapter->embed_tokens_header;
  const char *v =
      name && usage->prompt_tokens < 0 ? upstream_header(x, name) : NULL;
  cJSON *us = cJSON_GetObjectItemCaseSensitive(out, "usage");
  char *end;
  long long n;

  if(!v || !cJSON_IsObject(us))
    return;
  n = strtoll(v, &end, 10);
  if(end == v || *end || n < 0)
    return;
  usage->prompt_tokens = n;
  cJSON_ReplaceItemInObjectCaseSensitive(us, "prompt_tokens",
                                         cJSON_CreateNumber((double)n));
  cJSON_ReplaceItemInObjectCaseSensitive(us, "total_tokens",
                                         cJSON_CreateNumber((double)n));
}

/* A non-streamed 2xx embeddings answer from an adapter's upstream. */
static void respond_translated_embeddings(struct req *r,
                                          struct upstream_xfer *x)
{
  struct canon_usage usage;
  struct api_error err;
  cJSON *out = NULL;

  canon_usage_init(&usage);
  if(r->chat->adapter->parse_embeddings(
         r->prov, r->chat->upbody.data, r->chat->upbody.len, r->chat->embed_req,
         r->upstream_model, &out, &usage, &err)) {
    metrics_upstream_error(r->gw->metrics, r->prov->name, "bad_response");
    req_respond_error(r, &err);
    return;
  }
  embed_tokens_from_header(r, x, &usage, out);
  take_usage(r, &usage);
  respond_embeddings(r, out);
}

/* A non-streamed 2xx answer from an adapter's upstream, as a
 * chat.completion handed to the inbound API. */
static void respond_translated(struct req *r)
{
  struct canon_usage usage;
  struct api_error err;
  cJSON *out = NULL;
  char id[40];

  sb_random_id(id, sizeof(id), "chatcmpl-");
  canon_usage_init(&usage);
  if(r->chat->raw_relay) {
    /* The client gets the upstream's bytes; reading them is only for
     * accounting, and not every answer relayed is a message
     * (count_tokens). A body that is not JSON at all is not relayed. */
    cJSON *doc =
        cJSON_ParseWithLength(r->chat->upbody.data, r->chat->upbody.len);
    if(!cJSON_IsObject(doc)) {
      cJSON_Delete(doc);
      api_error_set(&err, 502, "upstream_error", "upstream_bad_response", NULL,
                    "Provider '%s' sent an answer that is not JSON.",
                    r->prov->name);
      metrics_upstream_error(r->gw->metrics, r->prov->name, "bad_response");
      req_respond_error(r, &err);
      return;
    }
    cJSON_Delete(doc);
    if(!r->chat->adapter->parse_chat(r->prov, r->chat->upbody.data,
                                     r->chat->upbody.len, r->upstream_model, id,
                                     0, &out, &usage, &err))
      take_usage(r, &usage);
    cJSON_Delete(out);
    req_respond_json(r, 200, r->chat->upbody.data, r->chat->upbody.len);
    return;
  }
  if(r->chat->adapter->parse_chat(r->prov, r->chat->upbody.data,
                                  r->chat->upbody.len, r->upstream_model, id,
                                  r->ts_ms / 1000, &out, &usage, &err)) {
    metrics_upstream_error(r->gw->metrics, r->prov->name, "bad_response");
    req_respond_error(r, &err);
    return;
  }
  take_usage(r, &usage);
  r->respond_doc(r, out);
}

void chat_end_stream(struct req *r)
{
  end_stream(r);
}

/* The clean end of a stream: the renderer's closing events, then the
 * inbound API's hook. */
static void end_stream(struct req *r)
{
  struct api_error err;

  if(!r->chat->raw_relay && r->rend.end(r->rend.s, &r->out)) {
    api_error_set(&err, 502, "upstream_error", "upstream_response_too_large",
                  NULL, "The upstream stream exceeded the response buffer.");
    req_stream_fail(r, &err);
    return;
  }
  if(r->stream_done)
    r->stream_done(r);
  req_stream_end(r);
}

static void on_upstream_done(void *ud, const struct upstream_result *res)
{
  struct req *r = ud;
  struct upstream_xfer *x = r->chat->xfer;
  const char *pname = r->prov->name;
  struct api_error err;

  r->chat->xfer = NULL; /* freed by upstream.c when we return */
  r->upstream_us += sb_mono_us() - r->upstream_t0_us;
  if(r->chat->upstream_streaming) {
    int complete;

    if(!res->failed && r->chat->adapter &&
       r->chat->adapter->framing == PROV_FRAMING_NDJSON &&
       !r->chat->stream_failed)
      ndjson_finish(&r->chat->nd_in);
    if(r->chat->stream_failed)
      return;
    if(r->chat->upstream_error_seen) {
      /* Raw relay: the upstream's error event ended the stream. */
      r->finished = 1;
      r->abort_after = 1;
      snprintf(r->error_type, sizeof(r->error_type), "upstream_error");
      req_stream_kick(r);
      return;
    }
    complete = r->chat->adapter
                   ? r->chat->adapter->stream_complete(r->chat->pstream)
                   : r->chat->ostream.done;
    if(res->failed || !complete) {
      if(res->timed_out)
        api_error_set(&err, 504, "upstream_error", "upstream_timeout", NULL,
                      "Provider '%s' stopped sending (time-out).", pname);
      else
        api_error_set(&err, 502, "upstream_error", "upstream_error", NULL,
                      "The stream from provider '%s' broke off: %s.", pname,
                      res->failed ? res->message
                                  : "ended before its last event");
      metrics_upstream_error(r->gw->metrics, pname,
                             res->timed_out ? "timeout" : "stream_cut");
      if(!r->chat->adapter)
        r->usage = r->chat->ostream.usage;
      req_stream_fail(r, &err);
      return;
    }
    if(r->chat->adapter) {
      /* Raw relay: bytes after the last whole event, as they came. */
      if(r->chat->raw_relay && buf_append(&r->out, r->chat->relay_pend.data,
                                          r->chat->relay_pend.len)) {
        api_error_set(&err, 502, "upstream_error",
                      "upstream_response_too_large", NULL,
                      "The upstream stream exceeded the response buffer.");
        req_stream_fail(r, &err);
        return;
      }
      end_stream(r);
      return;
    }
    r->usage = r->chat->ostream.usage;
    req_stream_end(r);
    return;
  }
  if(res->failed) {
    const char *reason;
    if(r->chat->upbody_overflow) {
      reason = "too_large";
      api_error_set(&err, 502, "upstream_error", "upstream_response_too_large",
                    NULL,
                    "The answer from provider '%s' exceeded "
                    "limits.max_response_bytes.",
                    pname);
    } else if(res->timed_out) {
      reason = "timeout";
      api_error_set(&err, 504, "upstream_error", "upstream_timeout", NULL,
                    "Provider '%s' did not answer in time.", pname);
    } else if(res->connect_failed) {
      reason = "connect";
      api_error_set(&err, 502, "upstream_error", "upstream_connect_failed",
                    NULL, "Could not connect to provider '%s'.", pname);
    } else {
      reason = "transport";
      api_error_set(&err, 502, "upstream_error", "upstream_error", NULL,
                    "Provider '%s' failed: %s.", pname, res->message);
    }
    metrics_upstream_error(r->gw->metrics, pname, reason);
    if(!r->chat->upbody_overflow && next_attempt(r, &err))
      return;
    fail_request(r, &err);
    return;
  }
  if(res->status >= 200 && res->status < 300) {
    attempt_ok(r, (int)res->status);
    if(r->stream) {
      /* 2xx without a body: nothing to stream. */
      api_error_set(&err, 502, "upstream_error", "upstream_bad_response", NULL,
                    "Provider '%s' sent an empty stream.", pname);
      metrics_upstream_error(r->gw->metrics, pname, "bad_response");
      fail_request(r, &err);
      return;
    }
    if(r->chat->adapter) {
      if(r->chat->embed_req)
        respond_translated_embeddings(r, x);
      else
        respond_translated(r);
      return;
    }
    char *fixed;
    if(prov_openai_parse_response(r->prov, r->chat->upbody.data,
                                  r->chat->upbody.len, &r->usage, &fixed,
                                  &err)) {
      metrics_upstream_error(r->gw->metrics, pname, "bad_response");
      req_respond_error(r, &err);
      return;
    }
    if(fixed)
      req_respond_json(r, (int)res->status, fixed, strlen(fixed));
    else
      req_respond_json(r, (int)res->status, r->chat->upbody.data,
                       r->chat->upbody.len);
    free(fixed);
    return;
  }
  if(r->chat->adapter)
    r->chat->adapter->map_error(r->prov, (int)res->status, r->chat->upbody.data,
                                r->chat->upbody.len,
                                upstream_header(x, "retry-after"),
                                upstream_header(x, "retry-after-ms"), &err);
  else
    prov_openai_map_error(r->prov, (int)res->status, r->chat->upbody.data,
                          r->chat->upbody.len,
                          upstream_header(x, "retry-after"),
                          upstream_header(x, "retry-after-ms"), &err);
  {
    char reason[24];
    snprintf(reason, sizeof(reason), "status_%ld", res->status);
    metrics_upstream_error(r->gw->metrics, pname, reason);
  }
  /* Worth another target: the upstream is overloaded or broken, not the
   * request. */
  if((res->status == 429 || res->status >= 500) && next_attempt(r, &err))
    return;
  req_respond_error(r, &err);
}

struct config_kv *chat_forwarded(const struct req *r, int *n)
{
  const struct config_provider *c = r->prov->cfg;
  struct config_kv *out = sb_calloc((size_t)r->nfwd + 1, sizeof(*out));

  /* Out of the headers captured for every provider, the ones this one
   * forwards. */
  *n = 0;
  for(int i = 0; c && i < r->nfwd; i++)
    for(int j = 0; j < c->nforward_headers; j++)
      if(!strcmp(r->fwd[i].name, c->forward_headers[j])) {
        out[(*n)++] = r->fwd[i];
        break;
      }
  return out;
}

static void serve_openai(struct req *r, const cJSON *req_body)
{
  const struct config_limits *lim = &r->gw->cfg->limits;
  struct prov_client client = {r->authorization, NULL, 0};
  struct config_kv *fwd = chat_forwarded(r, &client.nfwd);
  struct prov_http http;
  int client_usage;

  client.fwd = fwd;
  /* The client's bytes when they can go as they are: copying the tree
   * and printing it again was a fifth of the pass-through's own work. */
  if(!r->body_raw || prov_openai_build_chat_raw(
                         r->prov, r->body.data, r->body.len, r->upstream_model,
                         &client, &http, &client_usage)) {
    cJSON *body = cJSON_Duplicate(req_body, 1);
    prov_openai_build_chat(r->prov, body, r->upstream_model, &client, &http,
                           &client_usage);
    cJSON_Delete(body);
  }
  free(fwd);
  prov_openai_stream_init(&r->chat->ostream, r->prov, client_usage);
  sse_parser_init(&r->chat->sse_in, lim->max_response_bytes, on_sse_event, r);
  r->chat->relay = 1;
  chat_start_upstream(r, &http);
  prov_http_free(&http);
}

void chat_start_upstream(struct req *r, struct prov_http *http)
{
  const struct config_limits *lim = &r->gw->cfg->limits;
  chat_state(r);
  struct upstream_cb cb = {on_upstream_data, on_upstream_done};
  struct upstream_limits ulim;
  struct api_error err;

  if(http->dropped && (!r->run || !r->run->nattempts))
    req_add_header(r, "x-switchboard-dropped-params", http->dropped);
  if(r->run)
    router_run_begin(r->run);
  ulim.connect_timeout_ms = lim->connect_timeout_ms;
  ulim.total_timeout_ms = (long)lim->request_timeout_s * 1000;
  ulim.idle_timeout_s = r->stream ? lim->stream_idle_timeout_s : 0;
  ulim.recv_buffer = r->stream ? STREAM_RECV_BUFFER : 0;
  ulim.allow_link_local = r->gw->cfg->security.allow_link_local;
  if(r->run && router_run_target(r->run)->timeout_ms) {
    /* A route's target may be given less time than the default, so
     * that a slow one fails over sooner. */
    long t = router_run_target(r->run)->timeout_ms;
    ulim.total_timeout_ms = t;
    if(ulim.connect_timeout_ms > t)
      ulim.connect_timeout_ms = t;
  }
  r->upstream_t0_us = sb_mono_us();
  if(upstream_start(worker_upstream(r->w), http, &ulim, &cb, r,
                    &r->chat->xfer)) {
    api_error_set(&err, 502, "upstream_error", "upstream_error", NULL,
                  "Could not start the request to provider '%s'.",
                  r->prov->name);
    req_respond_error(r, &err);
  }
}

/* Ready the stream parser for the adapter's framing. */
static void init_framing(struct req *r)
{
  const struct config_limits *lim = &r->gw->cfg->limits;

  r->chat->pstream = r->chat->adapter->stream_new(r->prov, r->upstream_model);
  if(r->chat->adapter->framing == PROV_FRAMING_NDJSON)
    ndjson_init(&r->chat->nd_in, lim->max_response_bytes, on_ndjson_line, r);
  else if(r->chat->adapter->framing == PROV_FRAMING_EVENTSTREAM)
    eventstream_init(&r->chat->es_in, lim->max_response_bytes,
                     on_eventstream_msg, r);
  else
    sse_parser_init(&r->chat->sse_in, lim->max_response_bytes, on_sse_event, r);
}

static void serve_adapter(struct req *r, const cJSON *body)
{
  struct prov_client client = {r->authorization, NULL, 0};
  struct config_kv *fwd = chat_forwarded(r, &client.nfwd);
  struct prov_http http;
  struct api_error err;
  int rc;

  memset(&http, 0, sizeof(http));
  client.fwd = fwd;
  rc = r->chat->adapter->build_chat(r->prov, body, r->upstream_model, &client,
                                    &http, &err);
  free(fwd);
  if(rc) {
    prov_http_free(&http);
    req_respond_error(r, &err);
    return;
  }
  if(r->stream)
    init_framing(r);
  r->chat->relay = 1;
  chat_start_upstream(r, &http);
  prov_http_free(&http);
}

void chat_relay_raw(struct req *r, struct prov_http *http)
{
  chat_state(r);
  r->chat->adapter = prov_adapter_of(r->prov);
  r->chat->raw_relay = 1;
  if(r->stream)
    init_framing(r);
  r->chat->relay = 1;
  chat_start_upstream(r, http);
}

/* --- routing policies (router/run.h decides, this file waits) ---------- */

static void attempt_ok(struct req *r, int status)
{
  if(r->run)
    router_run_ok(r->run, r->gw->route_stats, r->prov->name, r->upstream_model,
                  status);
}

/* Forget the failed attempt's transfer state. */
static void reset_relay(struct req *r)
{
  if(r->chat->relay) {
    sse_parser_free(&r->chat->sse_in);
    ndjson_free(&r->chat->nd_in);
    eventstream_free(&r->chat->es_in);
    if(r->chat->pstream)
      r->chat->adapter->stream_free(r->chat->pstream);
    r->chat->pstream = NULL;
    r->chat->relay = 0;
  }
  r->chat->adapter = NULL;
  r->chat->raw_relay = 0;
  buf_reset(&r->chat->relay_pend);
  r->chat->relay_line = 0;
  r->chat->relay_bad = 0;
  buf_reset(&r->chat->upbody);
  r->chat->upbody_overflow = 0;
  r->chat->stream_failed = 0;
}

static void on_timer_closed(uv_handle_t *h)
{
  free(h->data);
}

static void on_retry(uv_timer_t *t)
{
  struct req_timer *rt = t->data;
  struct req *r = rt->r;

  uv_close((uv_handle_t *)t, on_timer_closed);
  if(!r)
    return;
  r->chat->retry = NULL;
  reset_relay(r);
  chat_serve(r, r->chat->route_body);
}

/* Point r at target t (taken). */
static void set_target(struct req *r, struct router_target *t)
{
  free(r->upstream_model);
  r->prov = t->prov;
  r->upstream_model = t->upstream_model;
}

/* After a failed attempt (err: what the client would get): another one
 * after the run's wait, on the target it names. 1 when another attempt
 * is on its way; 0 when none is left and err stands. */
static int next_attempt(struct req *r, const struct api_error *err)
{
  struct router_target t;
  int64_t delay;

  if(!r->run)
    return 0;
  delay = router_run_failed(r->run, r->reg, r->gw->route_stats, r->prov->name,
                            r->upstream_model, err, &t);
  if(delay < 0)
    return 0;
  if(t.prov)
    set_target(r, &t);
  r->chat->retry = sb_calloc(1, sizeof(*r->chat->retry));
  r->chat->retry->r = r;
  uv_timer_init(worker_loop(r->w), &r->chat->retry->timer);
  r->chat->retry->timer.data = r->chat->retry;
  /* Even without a wait the next attempt starts from the loop, not from
   * inside the finished transfer's callback. */
  uv_timer_start(&r->chat->retry->timer, on_retry, (uint64_t)delay, 0);
  return 1;
}

static double target_cost(void *ud, const struct route_target *t)
{
  struct adm_price p;

  if(adm_price(ud, t->provider, t->model, &p))
    return -1;
  return p.input + p.output;
}

/* "model" names a route: start its run and point r at the first target
 * this gateway serves. 0, 1 when model is not a route, or an SB_E* code
 * with err. */
static int route_plan_for(struct req *r, struct api_error *err)
{
  struct router_target t;
  struct route rt;
  int rc;

  if(!r->model || adm_route(r->gw->adm, r->model, &rt))
    return 1;
  r->run = sb_malloc(sizeof(*r->run));
  rc = router_run_start(r->run, &rt, r->reg, r->gw->route_stats, target_cost,
                        r->gw->adm, &t, err);
  if(rc)
    return rc;
  set_target(r, &t);
  return 0;
}

/* --- Chat Completions as the inbound API ------------------------------- */

static int oai_r_render(void *s, const struct canon_ev *ev, struct buf *out)
{
  return oai_stream_render(s, ev, out);
}

static int oai_r_end(void *s, struct buf *out)
{
  return oai_stream_end(s, out);
}

static void oai_r_free(void *s)
{
  oai_stream_free(s);
  free(s);
}

void chat_respond_completion(struct req *r, cJSON *completion)
{
  char *json = cJSON_PrintUnformatted(completion);

  cJSON_Delete(completion);
  if(!json)
    abort();
  req_respond_json(r, 200, json, strlen(json));
  free(json);
}

/* Chat Completions' renderer and hooks, unless the inbound API set its
 * own. */
static void default_hooks(struct req *r, const cJSON *body)
{
  if(!r->respond_doc)
    r->respond_doc = chat_respond_completion;
  if(r->stream && !r->rend.render) {
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
    struct oai_stream *os = sb_calloc(1, sizeof(*os));
    char id[40];

    sb_random_id(id, sizeof(id), "chatcmpl-");
    oai_stream_init(
        os, id, r->ts_ms / 1000, r->upstream_model,
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage")));
    r->rend = (struct req_render){os, oai_r_render, oai_r_end, oai_r_free};
  }
}

void chat_serve(struct req *r, const cJSON *body)
{
  struct api_error err;

  chat_state(r);
  if(r->run && !r->chat->route_body)
    r->chat->route_body = cJSON_Duplicate(body, 1); /* for the next attempt */
  if(oai_chat_check_caps(body, r->prov->caps, r->prov->name, &err)) {
    req_respond_error(r, &err);
    return;
  }
  default_hooks(r, body);
  if(cache_serve(r, body))
    return; /* from an entry, or with the identical request in flight */
  if(r->prov->kind == PROV_ECHO) {
    /* Answered in-process: an attempt that cannot fail, counted and
     * logged like the others when a route got here. */
    if(r->run)
      router_run_begin(r->run);
    attempt_ok(r, 200);
    serve_echo(r, body);
    return;
  }
  /* OpenAI in, OpenAI out stays pass-through; every other pairing goes
   * through the canonical model. */
  if(r->prov->kind == PROV_OPENAI && r->inbound == REQ_IN_CHAT &&
     !r->canonical) {
    serve_openai(r, body);
    return;
  }
  r->chat->adapter = prov_adapter_of(r->prov);
  serve_adapter(r, body);
}

void chat_answer(struct req *r, cJSON *completion)
{
  struct canon_usage u;
  int rc;

  chat_state(r);
  canon_usage_init(&u);
  canon_usage_read(cJSON_GetObjectItemCaseSensitive(completion, "usage"), &u);
  take_usage(r, &u);
  if(!r->stream) {
    r->respond_doc(r, completion);
    return;
  }
  /* The whole answer at once: the output buffer holds it (an entry is
   * smaller than the response limit), and the client reads at its pace. */
  req_stream_begin(r);
  rc = canon_answer_replay(completion, &(struct canon_sink){on_canon_event, r});
  cJSON_Delete(completion);
  if(rc == SB_EINVAL) {
    struct api_error err;
    api_error_set(&err, 502, "upstream_error", "upstream_bad_response", NULL,
                  "The stored answer could not be read.");
    req_stream_fail(r, &err);
    return;
  }
  if(!rc && !r->chat->stream_failed)
    end_stream(r);
  req_stream_kick(r);
}

/* --- entry --------------------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A name the object o holds more than once, or NULL. Sorted, so that a
 * hostile body of 100,000 keys costs n log n, not n squared. */
static const char *repeated_key(const cJSON *o)
{
  const char *small[64], **names = small, *dup = NULL;
  int n = cJSON_GetArraySize(o), i = 0;

  if(n < 2)
    return NULL;
  if(n > (int)SB_ARRAY_LEN(small))
    names = sb_malloc((size_t)n * sizeof(*names));
  for(const cJSON *c = o->child; c; c = c->next)
    names[i++] = c->string;
  qsort(names, (size_t)n, sizeof(*names), by_name);
  for(i = 1; i < n && !dup; i++)
    if(!strcmp(names[i - 1], names[i]))
      dup = names[i];
  if(names != small)
    free(names);
  return dup;
}

cJSON *chat_parse_body(struct req *r)
{
  int max_depth = r->gw->cfg->limits.max_json_depth;
  struct api_error err;
  const char *end = NULL, *dup;
  unsigned flags;
  cJSON *body;

  /* One pass checks the depth and learns whether the bytes can stand for
   * the tree (body_plain); a body it refuses is left to the depth check
   * and cJSON, which tell the client what is wrong. */
  r->body_plain = !json_check(r->body.data, r->body.len, max_depth, &flags) &&
                  !(flags & JSON_ESCAPED_ASCII);
  if(!r->body_plain && json_too_deep(r->body.data, r->body.len, max_depth)) {
    api_error_set(&err, 400, "invalid_request_error", "json_too_deep", NULL,
                  "The JSON body nests deeper than %d levels "
                  "(limits.max_json_depth).",
                  max_depth);
    req_respond_error(r, &err);
    return NULL;
  }
  body = cJSON_ParseWithLengthOpts(r->body.data, r->body.len, &end, 0);
  /* One JSON value and nothing after it but whitespace: bytes past the
   * object are another reader's request (or an attacker's). */
  if(body && end)
    end += strspn(end, " \t\r\n");
  if(body && end != r->body.data + r->body.len) {
    cJSON_Delete(body);
    body = NULL;
  }
  if(!cJSON_IsObject(body)) {
    api_error_set(&err, 400, "invalid_request_error", "invalid_json", NULL,
                  "We could not parse the JSON body of your request: it "
                  "must be a JSON object.");
    req_respond_error(r, &err);
    cJSON_Delete(body);
    return NULL;
  }
  /* The gateway reads the first of a repeated field and an upstream may
   * read the last: "model" or "max_tokens" twice would let a request be
   * checked, held and priced as one thing and served as another. */
  if((dup = repeated_key(body))) {
    api_error_set(&err, 400, "invalid_request_error", "duplicate_key", dup,
                  "The JSON body of your request has the field '%s' more "
                  "than once.",
                  dup);
    req_respond_error(r, &err);
    cJSON_Delete(body);
    return NULL;
  }
  return body;
}

/* What a budget holds for a request is a true upper bound of its cost
 * (docs/reference.md, Prices and budgets). Input: every token of a real
 * tokeniser covers at least one byte of text, so a request's prompt is
 * at most its body's bytes (JSON punctuation, ~28 bytes a message, pays
 * for the chat template's tokens), except what providers add or price
 * by other than size: an image costs at most IMAGE_MAX_TOKENS whatever
 * its bytes (OpenAI's patch models: 1,536 patches x 1.72 = 2,642 for
 * o4-mini; gpt-4o high detail 1,105; Claude ~1,600; Gemini 2.5 258 a
 * tile), and tools or a response schema bring a system prompt of the
 * provider's (Anthropic's: 159 to 530 tokens by model). */
#define IMAGE_MAX_TOKENS       3000
#define TOOLS_ALLOWANCE_TOKENS 1000

/* Maximum output of well-known model families, by prefix of the upstream
 * name (or of any part of it after a '.' or '/': Bedrock's
 * "us.anthropic.claude-…", "openai/gpt-4o"); first match wins. */
static const struct {
  const char *prefix;
  int64_t max_output;
} model_max_outputs[] = {
    {"gpt-4o", 16384},  {"chatgpt-4o", 16384},  {"gpt-4.1", 32768},
    {"gpt-4.5", 16384}, {"gpt-4", 8192},        {"gpt-3.5", 4096},
    {"gpt-5", 128000},  {"o1", 100000},         {"o3", 100000},
    {"o4", 100000},     {"claude-3-7", 128000}, /* with its beta header */
    {"claude-", 64000}, {"gemini-", 65536},
};

/* The model's maximum output, or -1 when the table does not know it. */
static int64_t model_max_output(const char *model)
{
  for(const char *p = model; p; p = strpbrk(p, "./")) {
    if(*p == '.' || *p == '/')
      p++;
    for(size_t i = 0; i < SB_ARRAY_LEN(model_max_outputs); i++)
      if(!strncmp(p, model_max_outputs[i].prefix,
                  strlen(model_max_outputs[i].prefix)))
        return model_max_outputs[i].max_output;
  }
  return -1;
}

static int is_image_part(const cJSON *v)
{
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "type");

  /* A content part carrying one image, in each inbound API's shape:
   * Chat Completions', Anthropic's, Responses'. */
  return cJSON_IsString(t) && (!strcmp(t->valuestring, "image_url") ||
                               !strcmp(t->valuestring, "image") ||
                               !strcmp(t->valuestring, "input_image"));
}

/* Upper bound of the input tokens of v: its bytes as compact JSON with
 * the strings unescaped (an escape is more bytes, not more text), each
 * image at IMAGE_MAX_TOKENS instead. */
static int64_t json_bound(const cJSON *v)
{
  int64_t n = v->string ? (int64_t)strlen(v->string) + 3 : 0; /* "key": */
  const cJSON *c;
  char num[32];

  if(cJSON_IsObject(v) && is_image_part(v))
    return n + IMAGE_MAX_TOKENS;
  if(cJSON_IsString(v))
    return n + (int64_t)strlen(v->valuestring) + 2;
  if(cJSON_IsNumber(v))
    return n + snprintf(num, sizeof(num), "%.17g", v->valuedouble);
  if(!cJSON_IsArray(v) && !cJSON_IsObject(v))
    return n + 5; /* true, false, null */
  n += 2;
  cJSON_ArrayForEach(c, v) n += json_bound(c) + 1;
  return n;
}

/* Upper bound of the input tokens of a request body or of the part of a
 * conversation it continues (in any inbound API's shape). */
static int64_t prompt_bound(const cJSON *v)
{
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(v, "tools");
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(v, "text");
  int64_t n;

  if(!v)
    return 0;
  n = json_bound(v);
  if(cJSON_GetArraySize(tools) > 0 ||
     cJSON_HasObjectItem(v, "response_format") ||
     cJSON_HasObjectItem(text, "format"))
    n += TOOLS_ALLOWANCE_TOKENS;
  return n;
}

/* Hold prompt_tokens more, and max_out, at the dearest target r may
 * reach (a route may end on any of its targets). */
static int hold(struct req *r, int64_t prompt_tokens, int64_t max_out,
                struct api_error *err)
{
  struct adm_target t[ROUTE_MAX_TARGETS];
  int n = 0;

  if(r->run)
    for(; n < r->run->route.ntargets; n++)
      t[n] = (struct adm_target){r->run->route.targets[n].provider,
                                 r->run->route.targets[n].model};
  else
    t[n++] = (struct adm_target){r->prov->name, r->upstream_model};
  return adm_reserve(r->gw->adm, &r->grant, t, n, prompt_tokens, max_out,
                     sb_now_ms(), err);
}

/* The output bound of a request without a limit of its own: the largest
 * maximum of the models it may reach, or -1 when one is unknown. */
static int64_t targets_max_output(const struct req *r)
{
  int64_t max = 0;

  if(!r->run)
    return model_max_output(r->upstream_model);
  for(int i = 0; i < r->run->route.ntargets; i++) {
    int64_t m = model_max_output(r->run->route.targets[i].model);
    if(m < 0)
      return -1;
    if(m > max)
      max = m;
  }
  return max;
}

/* Hold the request's worst-case cost against its key's budget: the
 * prompt's bound, and the most output it may produce. */
static int reserve(struct req *r, cJSON *body, struct api_error *err)
{
  static const char *const limits[] = {"max_completion_tokens", "max_tokens",
                                       "max_output_tokens"};
  int64_t max_out = -1;

  if(!r->grant.in_flight || r->grant.budget_usd < 0)
    return 0; /* no budget to hold against */
  for(size_t i = 0; i < SB_ARRAY_LEN(limits) && max_out < 0; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, limits[i]);
    if(cJSON_IsNumber(v) && v->valuedouble >= 1)
      max_out = (int64_t)v->valuedouble;
  }
  if(r->api &&
     (!strcmp(r->api, "embeddings") || !strcmp(r->api, "count_tokens")))
    max_out = 0; /* no output to pay for */
  if(max_out < 0)
    max_out = targets_max_output(r);
  if(max_out < 0) {
    /* A model the table does not know may write any amount: the
     * fallback becomes the request's own limit, in its API's field
     * (Anthropic's max_tokens is always there). */
    max_out = r->gw->cfg->limits.budget_max_output_tokens;
    r->body_raw = 0; /* the client did not send this */
    cJSON_AddNumberToObject(body,
                            r->inbound == REQ_IN_RESPONSES ? "max_output_tokens"
                                                           : "max_tokens",
                            (double)max_out);
  }
  return hold(r, prompt_bound(body), max_out, err);
}

int chat_reserve(struct req *r, cJSON *body, struct api_error *err)
{
  return r->granted ? reserve(r, body, err) : 0;
}

int chat_hold_more(struct req *r, const cJSON *prompt, struct api_error *err)
{
  if(!r->granted || !prompt)
    return 0;
  return hold(r, prompt_bound(prompt), 0, err);
}

int chat_route(struct req *r, cJSON *body,
               int (*check)(const cJSON *, struct api_error *))
{
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
  struct router_target target;
  struct api_error err;
  int rc;

  if(cJSON_IsString(model) && !r->model)
    r->model = sb_strdup(model->valuestring);
  if(check && check(body, &err)) {
    req_respond_error(r, &err);
    return SB_EANSWERED;
  }
  /* The allow-list first, on the name as asked: resolving it before
   * would tell a restricted key which models exist (404 or 403). */
  if(r->granted && adm_name_allowed(&r->grant, r->reg, r->model, &err)) {
    req_respond_error(r, &err);
    return SB_EANSWERED;
  }
  rc = route_plan_for(r, &err);
  if(rc < 0) {
    req_respond_error(r, &err);
    return SB_EANSWERED;
  }
  if(rc > 0) {
    if(router_resolve(r->reg, r->model, &target, &err)) {
      req_respond_error(r, &err);
      return SB_EANSWERED;
    }
    r->prov = target.prov;
    r->upstream_model = target.upstream_model; /* taken over */
  }
  if(r->granted) {
    /* Allow-lists name what the client asked for: a route by its name,
     * a model by the provider/model that serves it, whatever alias the
     * client used. A bare name admitted above for one provider may have
     * resolved to another's model (or a route): that is answered as a
     * model that does not exist, as it is for every other name this key
     * may not see, so the answer never tells that it exists. */
    char *id = r->run ? sb_strdup(r->model)
                      : sb_asprintf("%s/%s", r->prov->name, r->upstream_model);
    rc = adm_model_allowed(&r->grant, id, &err);
    free(id);
    if(rc) {
      api_error_set(&err, 404, "invalid_request_error", "model_not_found",
                    "model",
                    "The model '%s' does not exist or is not served by this "
                    "gateway. GET /v1/models lists the models available.",
                    r->model);
      req_respond_error(r, &err);
      return SB_EANSWERED;
    }
  }
  /* The cache is asked once the key may reach the model, and before the
   * budget is held: a hit may be let off the hold (cache.hold_budget). */
  if(cache_decide(r, body))
    return SB_EANSWERED;
  if(r->granted && !cache_skip_hold(r) && reserve(r, body, &err)) {
    req_respond_error(r, &err);
    return SB_EANSWERED;
  }
  return 0;
}

/* The conversation a Chat Completions request continues: the
 * x-switchboard-conversation header, or metadata.conversation_id (taken
 * out of body: it is the gateway's, not the upstream's; an emptied
 * metadata goes too). *id is NULL for none; SB_EINVAL with err for a
 * conversation_id that is not a string or names another conversation
 * than the header. */
static int conversation_of(struct req *r, cJSON *body, char **id,
                           struct api_error *err)
{
  cJSON *md = cJSON_GetObjectItemCaseSensitive(body, "metadata");
  cJSON *cid = cJSON_GetObjectItemCaseSensitive(md, "conversation_id");
  char *hdr = req_header(r, CONV_TURN_HEADER);

  *id = NULL;
  if(hdr && !hdr[0]) {
    free(hdr);
    hdr = NULL;
  }
  if(cid) {
    if(!cJSON_IsString(cid) || !cid->valuestring[0] ||
       (hdr && strcmp(hdr, cid->valuestring))) {
      api_error_set(err, 400, "invalid_request_error", "invalid_value",
                    "metadata.conversation_id",
                    cJSON_IsString(cid) && cid->valuestring[0]
                        ? "metadata.conversation_id names another "
                          "conversation than the " CONV_TURN_HEADER " header."
                        : "Invalid 'metadata.conversation_id': expected a "
                          "conversation id.");
      free(hdr);
      return SB_EINVAL;
    }
    if(!hdr)
      hdr = sb_strdup(cid->valuestring);
    cJSON_DeleteItemFromObjectCaseSensitive(md, "conversation_id");
    if(!md->child)
      cJSON_DeleteItemFromObjectCaseSensitive(body, "metadata");
  }
  *id = hdr;
  return 0;
}

void chat_handle(struct req *r)
{
  cJSON *body = chat_parse_body(r);
  struct api_error err;
  char *conv;

  if(!body)
    return;
  r->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"));
  if(conversation_of(r, body, &conv, &err)) {
    req_respond_error(r, &err);
    cJSON_Delete(body);
    return;
  }
  r->no_cache = conv != NULL;
  /* A conversation's turn sends a body of its own making. */
  r->body_raw = r->body_plain && !conv;
  if(chat_route(r, body, oai_chat_validate)) {
    free(conv);
    cJSON_Delete(body);
    return;
  }
  if(conv) {
    conv_turn_chat(r, conv, body); /* takes body */
    free(conv);
    return;
  }
  chat_serve(r, body);
  cJSON_Delete(body);
}

void embeddings_handle(struct req *r)
{
  cJSON *body = chat_parse_body(r);

  if(!body)
    return;
  chat_state(r);
  if(!chat_route(r, body, oai_embed_validate))
    embeddings_serve(r, body);
  cJSON_Delete(body);
}

void embeddings_serve(struct req *r, cJSON *body)
{
  struct prov_client client = {r->authorization, NULL, 0};
  struct api_error err;

  if(cache_serve(r, body))
    return; /* from an entry, or with the identical request in flight */
  r->chat->embed_base64 = oai_embed_base64(body);
  if(r->prov->kind == PROV_ECHO) {
    if(!prov_echo_is_embedding_model(r->upstream_model)) {
      api_error_set(
          &err, 400, "invalid_request_error", "model_not_supported", "model",
          "'%s' is a chat model; echo/embed-1 serves embeddings.", r->model);
      req_respond_error(r, &err);
    } else {
      respond_embeddings(r,
                         prov_echo_embed(body, r->upstream_model, &r->usage));
    }
  } else if(r->prov->kind == PROV_ADAPTER &&
            r->prov->adapter->build_embeddings) {
    struct config_kv *fwd = chat_forwarded(r, &client.nfwd);
    struct prov_http http;
    int rc;

    memset(&http, 0, sizeof(http));
    client.fwd = fwd;
    r->chat->adapter = r->prov->adapter;
    rc = r->chat->adapter->build_embeddings(r->prov, body, r->upstream_model,
                                            &client, &http, &err);
    free(fwd);
    if(rc)
      req_respond_error(r, &err);
    else {
      /* The answer is translated when it arrives (respond_translated). */
      r->chat->embed_req = cJSON_Duplicate(body, 1);
      r->chat->relay = 1;
      chat_start_upstream(r, &http);
    }
    prov_http_free(&http);
  } else if(r->prov->kind == PROV_OPENAI) {
    struct config_kv *fwd = chat_forwarded(r, &client.nfwd);
    struct prov_http http;

    client.fwd = fwd;
    prov_openai_build_embeddings(r->prov, body, r->upstream_model, &client,
                                 &http);
    free(fwd);
    chat_start_upstream(r, &http);
    prov_http_free(&http);
  } else {
    api_error_set(&err, 400, "invalid_request_error", "unsupported_value",
                  "model",
                  "Provider '%s' does not serve embeddings through the "
                  "gateway yet.",
                  r->prov->name);
    req_respond_error(r, &err);
  }
}

void chat_release(struct req *r)
{
  struct chat_state *c = r->chat;

  cache_release(r);
  if(c) {
    if(c->retry) {
      c->retry->r = NULL;
      uv_timer_stop(&c->retry->timer);
      uv_close((uv_handle_t *)&c->retry->timer, on_timer_closed);
    }
    if(c->pacer) {
      c->pacer->r = NULL;
      uv_timer_stop(&c->pacer->timer);
      uv_close((uv_handle_t *)&c->pacer->timer, on_pacer_closed);
    }
    if(c->xfer) {
      upstream_cancel(c->xfer);
      r->upstream_us += sb_mono_us() - r->upstream_t0_us;
    }
    c->xfer = NULL;
    reset_relay(r);
    prov_echo_free(c->echo);
    cJSON_Delete(c->embed_req);
    cJSON_Delete(c->route_body);
    buf_free(&c->upbody);
    buf_free(&c->relay_pend);
    free(c);
    r->chat = NULL;
  }
  if(r->rend.free)
    r->rend.free(r->rend.s);
  memset(&r->rend, 0, sizeof(r->rend));
  if(r->api_free)
    r->api_free(r);
  r->api_free = NULL;
  conv_turn_release(r);
}

void chat_drained(struct req *r)
{
  struct chat_state *c = r->chat;

  cache_drained(r);
  if(c && c->paused && c->xfer) {
    c->paused = 0;
    upstream_resume(c->xfer); /* may append to out synchronously */
  }
}
