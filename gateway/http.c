/*
 * http.c - the libwebsockets protocol callback: request parsing, endpoint
 * dispatch, response writing with backpressure, and the request record.
 */
#include "gateway/http.h"
#include "gateway/cache.h"
#include "gateway/bodylog.h"
#include "gateway/subreq.h"
#include "gateway/ui.h"
#include "base/log.h"
#include "gateway/mcp.h"
#include "base/sb.h"
#include "gateway/worker.h"
#include "router/router.h"
#include "router/routes.h"
#include "router/run.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The per-session data lws allocates for us: just our request. */
struct pss {
  struct req *r;
};

#define M_GET    (1u << 0)
#define M_POST   (1u << 1)
#define M_DELETE (1u << 2)

/* An endpoint. HEAD is served wherever GET is. */
struct endpoint {
  const char *path;
  int prefix;       /* path + one more segment: "/v1/responses/" + id */
  unsigned methods; /* M_* */
  const char *allow;
  void (*handle)(struct req *r); /* POST: once the body is complete */
  const char *api;               /* record label; NULL: not recorded */
  enum req_inbound inbound;
  int guard; /* GUARD_*: what credential it needs when auth is on */
};

#define GUARD_NONE  0 /* health, metrics, the base URL */
#define GUARD_KEY   1 /* a gateway key (or the admin credential) */
#define GUARD_ADMIN 2 /* the admin credential */
/* The dashboard (gateway/ui.c): no credential asked here (its session
 * endpoint checks its own), but, as the admin API, same origin only and
 * JSON-only writes. */
#define GUARD_UI 3

static const struct endpoint *find_route(const char *path);

static int on_writeable(struct req *r);

/*
 * Something is ready to go out. It is written at the end of this loop
 * iteration (worker_defer) rather than from a WRITEABLE callback: asking
 * lws for WRITEABLE turns POLLOUT on and then off again, and lws's libuv
 * glue makes each change an epoll_ctl DEL + ADD (uv_poll_start). A socket
 * that has room (nearly always, for an answer) takes the write at once;
 * one that lws still holds unsent bytes for waits for WRITEABLE, so lws
 * never buffers more than one write of ours (the backpressure of a slow
 * client).
 */
static void ask_writable(struct req *r)
{
  if(r->want_write)
    return;
  worker_defer(r->w, &r->flush);
}

static void flush_deferred(struct worker_defer *d)
{
  struct req *r = (struct req *)((char *)d - offsetof(struct req, flush));
  struct lws *wsi = r->wsi;

  /* A connection that ends with this write is closed the way lws closes
   * one, by failing its WRITEABLE, so that whatever lws still holds is
   * sent first. */
  if(lws_partial_buffered(wsi) ||
     (r->finished && (r->abort_after || r->close_after))) {
    r->want_write = 1;
    lws_callback_on_writable(wsi);
    return;
  }
  /* r may be gone when this returns: the transaction it completed
   * detached it (LWS_CALLBACK_HTTP_DROP_PROTOCOL). lws refuses to keep a
   * connection the client asked to close only once nothing of it is
   * left unsent, so closing it here loses nothing. */
  if(on_writeable(r) < 0)
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/* Room in the write buffer for the response header block. */
#define HDR_ROOM 4096
/* Body bytes per write; each write is one h1 chunk when streaming. */
#define WRITE_CHUNK (16 * 1024)

struct offload {
  uv_work_t work;
  struct req *r; /* NULL once the request is gone */
  void (*fn)(void *ud);
  void (*done)(struct req *r, void *ud);
  void *ud;
};

static void offload_work(uv_work_t *w)
{
  struct offload *o = w->data;

  o->fn(o->ud);
}

static void offload_after(uv_work_t *w, int status)
{
  struct offload *o = w->data;

  if(o->r)
    o->r->offload = NULL;
  o->done(o->r, o->ud);
  free(o);
}

int req_offload(struct req *r, void (*work)(void *ud),
                void (*done)(struct req *r, void *ud), void *ud)
{
  struct offload *o = sb_calloc(1, sizeof(*o));

  o->r = r;
  o->fn = work;
  o->done = done;
  o->ud = ud;
  o->work.data = o;
  if(uv_queue_work(worker_loop(r->w), &o->work, offload_work, offload_after)) {
    free(o);
    return SB_EIO;
  }
  r->offload = o;
  return 0;
}

void req_add_header(struct req *r, const char *name, const char *value)
{
  if(r->nxh >= REQ_MAX_XHEADERS)
    return;
  r->xh[r->nxh].name = sb_strdup(name);
  r->xh[r->nxh].value = sb_strdup(value);
  r->nxh++;
}

static void set_error_type(struct req *r, const char *type)
{
  snprintf(r->error_type, sizeof(r->error_type), "%s", type);
}

void req_respond_json(struct req *r, int status, const char *json, size_t len)
{
  cache_on_json(r, status, json, len);
  r->status = status;
  r->sse = 0;
  buf_reset(&r->out);
  /* Responses we build ourselves are bounded by construction; a failure
   * here means an upstream body passed its own limit already. */
  if(buf_append(&r->out, json, len))
    r->status = 500;
  r->finished = 1;
  ask_writable(r);
}

static char *error_json(const struct req *r, const struct api_error *err)
{
  return r->anthropic_errors ? api_error_anthropic_json(err)
                             : api_error_openai_json(err);
}

void req_respond_error(struct req *r, const struct api_error *err)
{
  char *json = error_json(r, err);
  char v[32];

  if(err->retry_after_s > 0) {
    snprintf(v, sizeof(v), "%d", err->retry_after_s);
    req_add_header(r, "retry-after", v);
  }
  if(err->retry_after_ms > 0) {
    snprintf(v, sizeof(v), "%d", err->retry_after_ms);
    req_add_header(r, "retry-after-ms", v);
  }
  if(err->final)
    req_add_header(r, "x-should-retry", "false");
  set_error_type(r, err->type[0] ? err->type : "api_error");
  if(r->respond_err) {
    free(json);
    r->respond_err(r, err);
    return;
  }
  req_respond_json(r, err->status, json, strlen(json));
  free(json);
}

void req_stream_begin(struct req *r)
{
  r->status = 200;
  r->sse = 1;
  metrics_stream_begin(r->gw->metrics);
  ask_writable(r);
}

void req_stream_kick(struct req *r)
{
  ask_writable(r);
}

void req_stream_end(struct req *r)
{
  r->finished = 1;
  ask_writable(r);
}

/* The error event of the client's API: the renderer's when there is one
 * (it knows the stream's state), else the API's plain error event. */
static int write_error_event(struct req *r, const struct api_error *err)
{
  const struct canon_ev ev = {.type = CANON_EV_ERROR, .err = err};
  char *json;
  int rc;

  if(r->rend.render)
    return r->rend.render(r->rend.s, &ev, &r->out);
  json = error_json(r, err);
  rc = sse_write_event(&r->out, r->anthropic_errors ? "error" : NULL, json,
                       strlen(json));
  free(json);
  return rc;
}

void req_stream_fail(struct req *r, const struct api_error *err)
{
  if(r->respond_err) {
    set_error_type(r, err->type[0] ? err->type : "api_error");
    r->respond_err(r, err);
    return;
  }
  /* Make room: the error must reach the client even if the buffer is
   * full of data it is slow to read. */
  if(write_error_event(r, err)) {
    buf_reset(&r->out);
    write_error_event(r, err);
  }
  set_error_type(r, err->type[0] ? err->type : "api_error");
  r->finished = 1;
  r->abort_after = 1;
  ask_writable(r);
}

/* --- small endpoints ---------------------------------------------------- */

static void respond_simple_error(struct req *r, int status, const char *code,
                                 const char *fmt, const char *arg)
{
  struct api_error err;

  api_error_set(&err, status, "invalid_request_error", code, NULL, fmt, arg);
  req_respond_error(r, &err);
}

/* One model entry in the client's shape: Anthropic's when it sent
 * anthropic-version (Claude Code lists models that way), else OpenAI's. */
/* One entry: "provider/model", or a route's own name (p NULL). */
static cJSON *model_entry(const struct req *r, const struct prov *p,
                          const char *model)
{
  cJSON *m = cJSON_CreateObject();
  char *id = p ? sb_asprintf("%s/%s", p->name, model) : sb_strdup(model);

  if(r->anthropic_errors) {
    cJSON_AddStringToObject(m, "type", "model");
    cJSON_AddStringToObject(m, "id", id);
    cJSON_AddStringToObject(m, "display_name", id);
    cJSON_AddStringToObject(m, "created_at", "1970-01-01T00:00:00Z");
  } else {
    cJSON_AddStringToObject(m, "id", id);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", 0);
    cJSON_AddStringToObject(m, "owned_by", p ? p->name : "switchboard");
  }
  free(id);
  return m;
}

static void respond_cjson(struct req *r, int status, cJSON *root)
{
  char *json = cJSON_PrintUnformatted(root);

  cJSON_Delete(root);
  if(!json)
    abort();
  req_respond_json(r, status, json, strlen(json));
  free(json);
}

/* A key with a model allow-list sees only what it may use. */
static int allowed(const struct req *r, const struct prov *p, const char *model)
{
  struct api_error err;
  char *id;
  int ok;

  if(!r->granted || !r->grant.nmodels)
    return 1;
  id = sb_asprintf("%s/%s", p->name, model);
  ok = !adm_model_allowed(&r->grant, id, &err);
  free(id);
  return ok;
}

static void handle_models(struct req *r)
{
  const struct prov_registry *reg = r->reg;
  char **names;
  int nnames;
  cJSON *root = cJSON_CreateObject();
  cJSON *data, *first, *last;

  if(!r->anthropic_errors)
    cJSON_AddStringToObject(root, "object", "list");
  data = cJSON_AddArrayToObject(root, "data");
  for(int i = 0; i < reg->nprovs; i++) {
    const struct prov *p = &reg->provs[i];
    for(int j = 0; j < p->nmodels; j++)
      if(allowed(r, p, p->models[j]))
        cJSON_AddItemToArray(data, model_entry(r, p, p->models[j]));
  }
  /* Routes are model names too. */
  names = adm_route_names(r->gw->adm, &nnames);
  for(int i = 0; i < nnames; i++) {
    struct api_error err;
    if(!r->granted || !adm_model_allowed(&r->grant, names[i], &err))
      cJSON_AddItemToArray(data, model_entry(r, NULL, names[i]));
    free(names[i]);
  }
  free(names);
  if(r->anthropic_errors) {
    /* Every model in one page. */
    first = cJSON_GetArrayItem(data, 0);
    last = cJSON_GetArrayItem(data, cJSON_GetArraySize(data) - 1);
    cJSON_AddBoolToObject(root, "has_more", 0);
    if(first) {
      cJSON_AddStringToObject(root, "first_id",
                              cJSON_GetObjectItem(first, "id")->valuestring);
      cJSON_AddStringToObject(root, "last_id",
                              cJSON_GetObjectItem(last, "id")->valuestring);
    } else {
      cJSON_AddNullToObject(root, "first_id");
      cJSON_AddNullToObject(root, "last_id");
    }
  }
  respond_cjson(r, 200, root);
}

/* GET /v1/models/{provider/model}: the id may carry its slash encoded. */
static void handle_model(struct req *r)
{
  const char *id = r->path + strlen("/v1/models/");
  struct router_target t;
  struct api_error err;

  /* As on every endpoint: the allow-list on the name asked for comes
   * before the lookup, so that its answer does not depend on whether
   * the model exists. */
  if(r->granted && adm_name_allowed(&r->grant, r->reg, id, &err)) {
    req_respond_error(r, &err);
    return;
  }
  if(router_resolve(r->reg, id, &t, &err)) {
    req_respond_error(r, &err);
    return;
  }
  if(!allowed(r, t.prov, t.upstream_model)) {
    /* A bare name admitted above for another provider: answered as the
     * lookup answers a model that does not exist. */
    api_error_set(&err, 404, "invalid_request_error", "model_not_found",
                  "model",
                  "The model '%s' does not exist or is not served by this "
                  "gateway. GET /v1/models lists the models available.",
                  id);
    req_respond_error(r, &err);
    router_target_free(&t);
    return;
  }
  respond_cjson(r, 200, model_entry(r, t.prov, t.upstream_model));
  router_target_free(&t);
}

static void handle_metrics(struct req *r)
{
  char *text;

  mcp_gw_gauges(r->gw);
  text = metrics_render(r->gw->metrics, store_dropped(r->gw->store));

  r->status = 200;
  buf_reset(&r->out);
  buf_appendz(&r->out, text);
  free(text);
  gw_cache_metrics(r->gw->cache, &r->out);
  r->finished = 1;
  req_add_header(r, "content-type", "text/plain; version=0.0.4");
  ask_writable(r);
}

static int origin_allowed(const struct config *cfg, const char *origin)
{
  for(int i = 0; i < cfg->ncors_origins; i++)
    if(!strcmp(cfg->cors_origins[i], "*") ||
       !strcmp(cfg->cors_origins[i], origin))
      return 1;
  return 0;
}

static void handle_preflight(struct req *r)
{
  char reqh[512] = "";
  int n;

  if(!r->cors_origin) {
    respond_simple_error(r, 403, "cors_origin_not_allowed", "%s",
                         "This origin is not allowed by the gateway's "
                         "CORS configuration (cors.origins).");
    return;
  }
  n = lws_hdr_custom_copy(r->wsi, reqh, sizeof(reqh),
                          "access-control-request-headers:", 31);
  req_add_header(r, "access-control-allow-methods",
                 "GET, POST, DELETE, OPTIONS");
  req_add_header(r, "access-control-allow-headers",
                 n > 0 ? reqh
                       : "authorization, content-type, x-request-id, "
                         "mcp-session-id, mcp-protocol-version, "
                         "last-event-id");
  req_add_header(r, "access-control-max-age", "600");
  r->status = 204;
  r->finished = 1;
  ask_writable(r);
}

/* --- request lifecycle -------------------------------------------------- */

static char *hdr_dup(struct lws *wsi, enum lws_token_indexes tok)
{
  int n = lws_hdr_total_length(wsi, tok);
  char *s;

  if(n <= 0)
    return NULL;
  s = sb_malloc((size_t)n + 1);
  if(lws_hdr_copy(wsi, s, n + 1, tok) < 0) {
    free(s);
    return NULL;
  }
  return s;
}

static char *custom_dup(struct lws *wsi, const char *name)
{
  int nlen = (int)strlen(name);
  int n = lws_hdr_custom_length(wsi, name, nlen);
  char *s;

  if(n <= 0)
    return NULL;
  s = sb_malloc((size_t)n + 1);
  if(lws_hdr_custom_copy(wsi, s, n + 1, name, nlen) < 0) {
    free(s);
    return NULL;
  }
  return s;
}

const char *req_owner(const struct req *r)
{
  return r->granted && r->grant.key_id[0] ? r->grant.key_id : NULL;
}

int req_visible(const struct req *r, const char *key_id)
{
  const char *me = req_owner(r);

  if(!key_id || (r->granted && r->grant.admin))
    return 1;
  return me && !strcmp(key_id, me);
}

char *req_header(struct req *r, const char *name)
{
  char key[96];

  if(strlen(name) + 2 > sizeof(key))
    return NULL;
  snprintf(key, sizeof(key), "%s:", name);
  /* lws keeps the headers it knows (accept, content-type, ...) apart
   * from the others, under a token each. */
  for(int t = 0; t < WSI_TOKEN_COUNT; t++) {
    const unsigned char *tn = lws_token_to_string((enum lws_token_indexes)t);
    if(tn && !strcmp((const char *)tn, key))
      return hdr_dup(r->wsi, (enum lws_token_indexes)t);
  }
  return custom_dup(r->wsi, key);
}

static int valid_request_id(const char *s)
{
  size_t n = strlen(s);

  if(!n || n > 128)
    return 0;
  for(; *s; s++)
    if(*s < 0x21 || *s > 0x7e)
      return 0;
  return 1;
}

/* Capture the client headers any provider forwards upstream; which
 * provider serves the request is only known once the body is read. */
static void capture_forwarded(struct req *r)
{
  /* The request's registry: providers from the database, not only the
   * config file's. */
  for(int i = 0; i < r->reg->ncfgs; i++) {
    const struct config_provider *p = &r->reg->cfgs[i];
    for(int j = 0; j < p->nforward_headers; j++) {
      const char *name = p->forward_headers[j];
      char key[160];
      char *v;
      int dup = 0;

      for(int k = 0; k < r->nfwd; k++)
        dup |= !strcmp(r->fwd[k].name, name);
      if(dup || strlen(name) + 2 > sizeof(key))
        continue;
      snprintf(key, sizeof(key), "%s:", name);
      v = custom_dup(r->wsi, key);
      if(!v)
        continue;
      r->fwd = sb_realloc(r->fwd, sizeof(*r->fwd) * (size_t)(r->nfwd + 1));
      r->fwd[r->nfwd].name = sb_strdup(name);
      r->fwd[r->nfwd].value = v;
      r->nfwd++;
    }
  }
}

static struct req *req_new(struct worker *w, struct lws *wsi, int method,
                           const char *uri, int uri_len)
{
  struct req *r = sb_calloc(1, sizeof(*r));
  const struct config *cfg;
  const struct endpoint *rt;
  const char *q;
  char *rid, *origin;

  r->w = w;
  r->gw = worker_gw(w);
  /* The providers as they are now serve the request to its end, whatever
   * an operator changes meanwhile. */
  r->reg = adm_registry(r->gw->adm);
  cfg = r->gw->cfg;
  r->wsi = wsi;
  r->flush.fn = flush_deferred;
  r->method = method;
  q = memchr(uri, '?', (size_t)uri_len);
  r->path = sb_strndup(uri, q ? (size_t)(q - uri) : (size_t)uri_len);
  /* lws decodes %00 too: such a path would be read as a shorter one. */
  r->bad_path = strlen(r->path) != (q ? (size_t)(q - uri) : (size_t)uri_len);
  rt = find_route(r->path);
  /* Metrics label by route, never by raw path: ids would explode it. */
  r->endpoint = rt ? rt->path : "other";
  r->ui = !strcmp(r->path, "/ui") || !strncmp(r->path, "/ui/", 4);
  r->api = rt ? rt->api : !strncmp(r->path, "/v1/", 4) ? "other" : NULL;
  r->inbound = rt ? rt->inbound : REQ_IN_CHAT;
  r->anthropic_errors = r->inbound == REQ_IN_MESSAGES;
  if(r->inbound == REQ_IN_MCP)
    r->respond_err = mcp_respond_error;
  if(rt && (rt->handle == handle_models || rt->handle == handle_model))
    r->anthropic_errors =
        lws_hdr_custom_length(wsi, "anthropic-version:", 18) > 0;
  r->t0_us = sb_mono_us();
  r->ts_ms = sb_now_ms();
  r->ttfb_us = -1;
  r->saved_usd = -1;
  canon_usage_init(&r->usage);
  /* Every answer of the cacheable APIs says what the cache did
   * (gateway/cache.h). */
  r->cache_api =
      rt && (rt->handle == chat_handle || rt->handle == embeddings_handle ||
             rt->handle == messages_handle || rt->handle == responses_handle);
  buf_init(&r->body, cfg->limits.max_body_bytes);
  buf_init(&r->out, cfg->limits.max_response_bytes + REQ_OUT_HIGH_WM);
  rid = custom_dup(wsi, "x-request-id:");
  if(rid && valid_request_id(rid))
    snprintf(r->request_id, sizeof(r->request_id), "%s", rid);
  else
    sb_time_id(r->request_id, sizeof(r->request_id), "req_");
  free(rid);
  origin = hdr_dup(wsi, WSI_TOKEN_ORIGIN);
  if(origin && origin_allowed(cfg, origin))
    r->cors_origin = origin;
  else
    free(origin);
  r->authorization = hdr_dup(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
  capture_forwarded(r);
  if(r->api)
    bodylog_begin(r);
  return r;
}

/* What the request cost: from the usage at the model's price. A model
 * without a price is flagged, never priced as zero. */
static void price_request(struct req *r)
{
  struct adm_price p;

  r->cost_usd = -1;
  if(r->sse && r->hdr_sent && !r->finished && r->status >= 200 &&
     r->status < 300) {
    /* The client left mid-stream: it is billed for its prompt and for
     * the text written to it, not for an answer it never got (echo and
     * some upstreams count the whole answer at the start; the part the
     * gateway had rendered but not yet written counts by its share of
     * the rendered bytes). Four bytes a token, as below. */
    int64_t rendered = r->bytes_out + (int64_t)r->out.len;
    int64_t sent = rendered ? (int64_t)((double)r->text_bytes *
                                        (double)r->bytes_out / (double)rendered)
                            : 0;

    if(r->usage.prompt_tokens < 0)
      r->usage.prompt_tokens = (int64_t)r->body.len / 4;
    r->usage.completion_tokens = (sent + 3) / 4;
    if(r->usage.reasoning_tokens > r->usage.completion_tokens)
      r->usage.reasoning_tokens = r->usage.completion_tokens;
    r->usage_estimated = 1;
  } else if(r->prov && r->prov->kind != PROV_ECHO && r->hdr_sent &&
            r->status >= 200 && r->status < 300 && r->usage.prompt_tokens < 0 &&
            r->usage.completion_tokens < 0 &&
            (r->api && strcmp(r->api, "models"))) {
    /* The upstream answered but said nothing of usage (some
     * OpenAI-compatible servers ignore stream_options): estimate at four
     * bytes a token, and say so in the record. */
    r->usage.prompt_tokens = (int64_t)r->body.len / 4;
    r->usage.completion_tokens =
        (r->text_bytes ? r->text_bytes : r->bytes_out / 2) / 4;
    r->usage_estimated = 1;
  }
  if(!r->prov || !r->upstream_model ||
     (r->usage.prompt_tokens <= 0 && r->usage.completion_tokens <= 0))
    return;
  if(adm_price(r->gw->adm, r->prov->name, r->upstream_model, &p))
    r->unpriced = 1;
  else
    r->cost_usd = adm_cost(&p, &r->usage);
}

/* The request's cost is known: release its key's hold and charge it.
 * Done just before the last byte is written (a client that sends its
 * next request at once must not find its budget or its parallel slot
 * still held), else when the request is destroyed. */
static void settle(struct req *r)
{
  if(r->settled)
    return;
  r->settled = 1;
  price_request(r);
  cache_settle(r);
  if(r->granted)
    adm_release(r->gw->adm, &r->grant, &r->usage, r->cost_usd);
}

static void req_record(struct req *r)
{
  struct gw *gw = r->gw;
  int64_t now = sb_mono_us();
  int status = r->hdr_sent ? r->status : 499; /* 499: client went away */
  double dur = (double)(now - r->t0_us) / 1e6;
  double ttfb = r->ttfb_us >= 0 ? (double)(r->ttfb_us - r->t0_us) / 1e6 : -1;
  const char *prov = r->prov ? r->prov->name : NULL;
  struct store_usage *rec;

  /* A stream cut short keeps its 200; error_type says why. */
  if(!r->finished && r->hdr_sent && !r->error_type[0])
    set_error_type(r, "client_closed");
  metrics_request(gw->metrics, r->endpoint, prov, status, dur, ttfb);
  if(r->sse)
    metrics_stream_end(gw->metrics);
  log_event(status >= 500 ? LOG_WARN : LOG_INFO, "request",
            LOG_S("request_id", r->request_id), LOG_S("path", r->path),
            LOG_I("status", status), LOG_S("model", r->model),
            LOG_S("provider", prov), LOG_I("stream", r->stream),
            LOG_S("error_type", r->error_type[0] ? r->error_type : NULL),
            LOG_F("ms", dur * 1000.0), LOG_END);
  if(!r->api)
    return;
  rec = sb_calloc(1, sizeof(*rec));
  rec->ts_ms = r->ts_ms;
  rec->request_id = sb_strdup(r->request_id);
  rec->api = sb_strdup(r->api);
  rec->model = r->model ? sb_strdup(r->model) : NULL;
  rec->provider = prov ? sb_strdup(prov) : NULL;
  rec->upstream_model = r->upstream_model ? sb_strdup(r->upstream_model) : NULL;
  rec->stream = r->stream;
  rec->status = status;
  rec->error_type = r->error_type[0] ? sb_strdup(r->error_type) : NULL;
  rec->prompt_tokens = r->usage.prompt_tokens;
  rec->completion_tokens = r->usage.completion_tokens;
  rec->ttfb_ms = r->ttfb_us >= 0 ? (r->ttfb_us - r->t0_us) / 1000 : -1;
  rec->latency_ms = (now - r->t0_us) / 1000;
  rec->latency_us = now - r->t0_us;
  rec->upstream_us = r->upstream_us;
  rec->cache = r->cache_result;
  rec->saved_usd = r->saved_usd;
  bodylog_take(r, rec);
  rec->key_id =
      r->granted && r->grant.key_id[0] ? sb_strdup(r->grant.key_id) : NULL;
  rec->cached_tokens = r->usage.cached_tokens;
  rec->reasoning_tokens = r->usage.reasoning_tokens;
  rec->cost_usd = r->cost_usd;
  rec->unpriced = r->unpriced;
  rec->usage_estimated = r->usage_estimated;
  rec->context_dropped = r->context_dropped;
  rec->context_dropped_tokens = r->context_dropped_tokens;
  rec->context_strategy =
      r->context_strategy ? sb_strdup(r->context_strategy) : NULL;
  rec->context_counted =
      r->context_counted ? sb_strdup(r->context_counted) : NULL;
  rec->context_summary =
      r->context_summary ? sb_strdup(r->context_summary) : NULL;
  rec->route = r->run ? sb_strdup(r->run->route.name) : NULL;
  rec->attempts = r->run && r->run->nattempts > 1 ? r->run->nattempts : 1;
  rec->attempts_detail =
      r->run && r->run->log ? cJSON_PrintUnformatted(r->run->log) : NULL;
  store_usage_submit(gw->store, rec);
}

static void req_destroy(struct req *r)
{
  worker_defer_cancel(r->w, &r->flush);
  if(r->offload)
    r->offload->r = NULL;
  chat_release(r);
  settle(r);
  req_record(r);
  bodylog_free(r);
  prov_registry_unref(r->reg);
  if(r->run) {
    router_run_clear(r->run);
    free(r->run);
  }
  worker_request_done(r->w);
  free(r->path);
  free(r->cors_origin);
  free(r->authorization);
  for(int i = 0; i < r->nfwd; i++) {
    free(r->fwd[i].name);
    free(r->fwd[i].value);
  }
  free(r->fwd);
  for(int i = 0; i < r->nxh; i++) {
    free(r->xh[i].name);
    free(r->xh[i].value);
  }
  buf_free(&r->body);
  buf_free(&r->out);
  free(r->model);
  free(r->upstream_model);
  free(r->context_summary);
  free(r);
}

static void handle_root(struct req *r)
{
  /* Agent CLIs probe the base URL before they start. */
  req_respond_json(r, 200, "{\"status\":\"ok\",\"name\":\"switchboard\"}", 37);
}

static void handle_healthz(struct req *r)
{
  req_respond_json(r, 200, "{\"status\":\"ok\"}", 15);
}

static void handle_readyz(struct req *r)
{
  if(store_ready(r->gw->store))
    req_respond_json(r, 200, "{\"status\":\"ready\"}", 18);
  else
    req_respond_json(r, 503, "{\"status\":\"database unavailable\"}", 33);
}

#define GET_ALLOW  "GET, HEAD, OPTIONS"
#define POST_ALLOW "POST, OPTIONS"

static const struct endpoint endpoints[] = {
    {"/", 0, M_GET, GET_ALLOW, handle_root, NULL, REQ_IN_CHAT, GUARD_NONE},
    {"/healthz", 0, M_GET, GET_ALLOW, handle_healthz, NULL, REQ_IN_CHAT,
     GUARD_NONE},
    {"/readyz", 0, M_GET, GET_ALLOW, handle_readyz, NULL, REQ_IN_CHAT,
     GUARD_NONE},
    {"/metrics", 0, M_GET, GET_ALLOW, handle_metrics, NULL, REQ_IN_CHAT,
     GUARD_NONE},
    {"/v1/models", 0, M_GET, GET_ALLOW, handle_models, "models", REQ_IN_CHAT,
     GUARD_KEY},
    {"/v1/models/", 1, M_GET, GET_ALLOW, handle_model, "models", REQ_IN_CHAT,
     GUARD_KEY},
    {"/v1/chat/completions", 0, M_POST, POST_ALLOW, chat_handle, "chat",
     REQ_IN_CHAT, GUARD_KEY},
    {"/v1/embeddings", 0, M_POST, POST_ALLOW, embeddings_handle, "embeddings",
     REQ_IN_CHAT, GUARD_KEY},
    {"/v1/messages", 0, M_POST, POST_ALLOW, messages_handle, "messages",
     REQ_IN_MESSAGES, GUARD_KEY},
    {"/v1/messages/count_tokens", 0, M_POST, POST_ALLOW, messages_count_tokens,
     "count_tokens", REQ_IN_MESSAGES, GUARD_KEY},
    {"/v1/responses", 0, M_POST, POST_ALLOW, responses_handle, "responses",
     REQ_IN_RESPONSES, GUARD_KEY},
    {"/v1/responses/", 1, M_GET | M_DELETE, "GET, HEAD, DELETE, OPTIONS",
     responses_item, "responses", REQ_IN_RESPONSES, GUARD_KEY},
    {"/v1/conversations", 0, M_GET | M_POST, "GET, HEAD, POST, OPTIONS",
     conversations_handle, "conversations", REQ_IN_CHAT, GUARD_KEY},
    {"/v1/conversations/", 1, M_GET | M_POST | M_DELETE,
     "GET, HEAD, POST, DELETE, OPTIONS", conversations_item, "conversations",
     REQ_IN_CHAT, GUARD_KEY},
    {"/admin/v1/keys", 0, M_GET | M_POST, "GET, HEAD, POST, OPTIONS",
     admin_keys, NULL, REQ_IN_CHAT, GUARD_ADMIN},
    {"/admin/v1/prices", 0, M_GET | M_POST, "GET, HEAD, POST, OPTIONS",
     admin_prices, NULL, REQ_IN_CHAT, GUARD_ADMIN},
    {"/admin/v1/prices/", 1, M_DELETE, "DELETE, OPTIONS", admin_prices, NULL,
     REQ_IN_CHAT, GUARD_ADMIN},
    {"/admin/v1/models", 0, M_GET | M_POST, "GET, HEAD, POST, OPTIONS",
     admin_models, NULL, REQ_IN_CHAT, GUARD_ADMIN},
    {"/admin/v1/models/", 1, M_GET | M_POST | M_DELETE,
     "GET, HEAD, POST, DELETE, OPTIONS", admin_models, NULL, REQ_IN_CHAT,
     GUARD_ADMIN},
    {"/admin/v1/usage", 0, M_GET, GET_ALLOW, admin_usage, NULL, REQ_IN_CHAT,
     GUARD_ADMIN},
    {"/admin/v1/usage.csv", 0, M_GET, GET_ALLOW, admin_usage, NULL, REQ_IN_CHAT,
     GUARD_ADMIN},
    {"/admin/v1/requests", 0, M_GET, GET_ALLOW, admin_usage, NULL, REQ_IN_CHAT,
     GUARD_ADMIN},
    {"/admin/v1/requests/", 1, M_GET, GET_ALLOW, admin_usage, NULL, REQ_IN_CHAT,
     GUARD_ADMIN},
    {"/admin/v1/stats", 0, M_GET, GET_ALLOW, admin_usage, NULL, REQ_IN_CHAT,
     GUARD_ADMIN},
    {"/admin/v1/routes", 0, M_GET | M_POST, "GET, HEAD, POST, OPTIONS",
     admin_routes, NULL, REQ_IN_CHAT, GUARD_ADMIN},
    {"/admin/v1/routes/", 1, M_GET | M_POST | M_DELETE,
     "GET, HEAD, POST, DELETE, OPTIONS", admin_routes, NULL, REQ_IN_CHAT,
     GUARD_ADMIN},
    {"/admin/v1/providers", 0, M_GET | M_POST, "GET, HEAD, POST, OPTIONS",
     admin_providers, NULL, REQ_IN_CHAT, GUARD_ADMIN},
    {"/admin/v1/providers/", 1, M_GET | M_POST | M_DELETE,
     "GET, HEAD, POST, DELETE, OPTIONS", admin_providers, NULL, REQ_IN_CHAT,
     GUARD_ADMIN},
    {"/admin/v1/mcp/servers", 0, M_GET | M_POST, "GET, HEAD, POST, OPTIONS",
     admin_mcp_servers, NULL, REQ_IN_CHAT, GUARD_ADMIN},
    {"/admin/v1/mcp/servers/", 1, M_GET | M_POST | M_DELETE,
     "GET, HEAD, POST, DELETE, OPTIONS", admin_mcp_servers, NULL, REQ_IN_CHAT,
     GUARD_ADMIN},
    {"/admin/v1/mcp/calls", 0, M_GET, GET_ALLOW, admin_mcp_calls, NULL,
     REQ_IN_CHAT, GUARD_ADMIN},
    {"/admin/v1/mcp/stats", 0, M_GET, GET_ALLOW, admin_mcp_stats, NULL,
     REQ_IN_CHAT, GUARD_ADMIN},
    {"/admin/v1/cache", 0, M_GET | M_DELETE, "GET, HEAD, DELETE, OPTIONS",
     admin_cache, NULL, REQ_IN_CHAT, GUARD_ADMIN},
    {"/admin/v1/playground", 0, M_POST, POST_ALLOW, admin_playground, NULL,
     REQ_IN_CHAT, GUARD_ADMIN},
    {"/admin/v1/conversations", 0, M_GET, GET_ALLOW, conversations_admin, NULL,
     REQ_IN_CHAT, GUARD_ADMIN},
    {"/admin/v1/conversations/", 1, M_GET, GET_ALLOW, conversations_admin, NULL,
     REQ_IN_CHAT, GUARD_ADMIN},
    {"/admin/v1/keys/", 1, M_GET | M_POST | M_DELETE,
     "GET, HEAD, POST, DELETE, OPTIONS", admin_keys, NULL, REQ_IN_CHAT,
     GUARD_ADMIN},
    {"/ui/session", 0, M_GET | M_POST | M_DELETE,
     "GET, HEAD, POST, DELETE, OPTIONS", ui_session, NULL, REQ_IN_CHAT,
     GUARD_UI},
    {"/ui", 0, M_GET, GET_ALLOW, ui_static, NULL, REQ_IN_CHAT, GUARD_UI},
    {"/ui/", 0, M_GET, GET_ALLOW, ui_static, NULL, REQ_IN_CHAT, GUARD_UI},
    {"/ui/", 1, M_GET, GET_ALLOW, ui_static, NULL, REQ_IN_CHAT, GUARD_UI},
    {"/mcp", 0, M_GET | M_POST | M_DELETE, "GET, POST, DELETE, OPTIONS",
     mcp_handle, NULL, REQ_IN_MCP, GUARD_KEY},
    {"/mcp/", 1, M_GET | M_POST | M_DELETE, "GET, POST, DELETE, OPTIONS",
     mcp_handle, NULL, REQ_IN_MCP, GUARD_KEY},
};

static const struct endpoint *find_route(const char *path)
{
  for(size_t i = 0; i < SB_ARRAY_LEN(endpoints); i++) {
    const struct endpoint *rt = &endpoints[i];
    size_t n = strlen(rt->path);
    if(rt->prefix ? !strncmp(path, rt->path, n) && path[n]
                  : !strcmp(path, rt->path))
      return rt;
  }
  return NULL;
}

static unsigned method_bit(int method)
{
  switch(method) {
  case LWSHUMETH_GET:
  case LWSHUMETH_HEAD: return M_GET;
  case LWSHUMETH_POST: return M_POST;
  case LWSHUMETH_DELETE: return M_DELETE;
  default: return 0;
  }
}

/* 0 when rt serves r's method; else answers 404 or 405 and returns -1. */
static int check_route(struct req *r, const struct endpoint *rt)
{
  if(!rt) {
    respond_simple_error(r, 404, "not_found", "Unknown path %s.", r->path);
    return -1;
  }
  if(!(rt->methods & method_bit(r->method))) {
    req_add_header(r, "allow", rt->allow);
    respond_simple_error(r, 405, "method_not_allowed",
                         "Method not allowed on %s.", r->path);
    return -1;
  }
  return 0;
}

/* The credential a client presents: "Authorization: Bearer KEY" (OpenAI
 * SDKs) or "x-api-key: KEY" (Anthropic SDKs); *header names the one it
 * came in. Caller frees. */
static char *presented_key(struct req *r, const char **header)
{
  *header = "authorization";
  if(r->authorization && !strncasecmp(r->authorization, "Bearer ", 7))
    return sb_strdup(r->authorization + 7);
  *header = "x-api-key";
  return req_header(r, "x-api-key");
}

/* The gateway's own credential goes nowhere else: not upstream as the
 * client's Authorization, nor through a provider's forward_headers,
 * whichever header carried it (a client may send it in both). */
static void forget_secret(struct req *r, const char *header, const char *key)
{
  if(!strcmp(header, "authorization") ||
     (r->authorization && strstr(r->authorization, key))) {
    free(r->authorization);
    r->authorization = NULL;
  }
  for(int i = 0; i < r->nfwd; i++)
    if(!strcasecmp(r->fwd[i].name, header) || strstr(r->fwd[i].value, key)) {
      free(r->fwd[i].name);
      free(r->fwd[i].value);
      r->fwd[i--] = r->fwd[--r->nfwd];
    }
}

/* 1 when r's connection comes from a loopback address. */
static int from_loopback(struct req *r)
{
  char peer[64] = "";

  lws_get_peer_simple(r->wsi, peer, sizeof(peer));
  return !strncmp(peer, "127.", 4) || !strcmp(peer, "::1") ||
         !strncmp(peer, "::ffff:127.", 11);
}

/* The answer to a viewer's write. */
static void read_only_error(struct api_error *err)
{
  api_error_set(err, 403, "permission_error", "read_only", NULL, "%s",
                "This credential is read-only (a viewer): it may read the "
                "admin API, not change anything.");
}

/* 1 when r changes something: anything but GET and HEAD (OPTIONS never
 * gets this far). */
static int is_write(const struct req *r)
{
  return r->method != LWSHUMETH_GET && r->method != LWSHUMETH_HEAD;
}

/* A sub-request of this gateway (gateway/subreq.h): the internal
 * credential, accepted only from loopback, on a /v1 route, with the key it
 * acts for named; anything else is an incorrect key like any other. */
static int admit_internal(struct req *r, const struct endpoint *rt,
                          struct api_error *err)
{
  char *as = req_header(r, SUBREQ_KEY_HEADER);
  int rc;

  if(!as || rt->guard != GUARD_KEY || rt->inbound == REQ_IN_MCP ||
     !from_loopback(r)) {
    free(as);
    api_error_set(err, 401, "invalid_request_error", "invalid_api_key", NULL,
                  "Incorrect API key provided.");
    return SB_EINVAL;
  }
  rc = adm_admit_as(r->gw->adm, strcmp(as, "-") ? as : "", sb_now_ms(),
                    &r->grant, err);
  free(as);
  if(!rc && r->grant.read_only) {
    /* A viewer never reaches /v1, so nothing may act for one there. */
    r->granted = 1; /* released when r settles */
    read_only_error(err);
    return SB_EINVAL;
  }
  return rc;
}

/* A session cookie's lookup (admit() answered 2) is over: admit r with
 * the session's key, and then serve it now, or once its body is read. */
static void admit_session_done(struct req *r, const char *key_id,
                               const char *csrf)
{
  const struct endpoint *rt = find_route(r->path);

  r->admit_pending = 0;
  if(r->status)
    return; /* answered meanwhile (its framing, its length) */
  if(!key_id) {
    respond_simple_error(r, 401, "invalid_session", "%s",
                         "Not signed in, or the session has ended: sign "
                         "in again (or send the admin credential as "
                         "'Authorization: Bearer KEY').");
  } else if(ui_session_grant(r, key_id)) {
    /* answered */
  } else if(is_write(r) && !ui_csrf_ok(r, csrf)) {
    /* A write with the cookie alone could be a page of another site
     * riding on it: the token is what only the dashboard knows. */
    respond_simple_error(r, 403, "csrf_token_invalid", "%s",
                         "Admin API writes with a session cookie need the "
                         "session's token as X-CSRF-Token.");
  } else if(is_write(r) && r->grant.read_only) {
    struct api_error err;
    read_only_error(&err);
    req_respond_error(r, &err);
  } else {
    if(r->method != LWSHUMETH_POST || r->body_complete)
      if(!check_route(r, rt))
        rt->handle(r);
    return;
  }
  if(r->method == LWSHUMETH_POST && !r->body_complete)
    r->close_after = 1; /* body left unread */
}

/* The admin API always needs the admin credential, even when the rest
 * of the gateway runs open: it can name the gateway's environment
 * variables and point providers anywhere; the dashboard's session
 * cookie (gateway/ui.h) stands for it there, with a CSRF token on
 * writes. Other guarded routes need a key once any credential exists.
 * Returns 0 to go on, 1 after answering 401/403/429, or 2 while a
 * session cookie is looked up (admit_session_done() goes on). */
static int admit(struct req *r, const struct endpoint *rt)
{
  struct api_error err;
  const char *header;
  char *key;
  int rc;

  /* Names a key only for a sub-request; never forwarded. Nor is the
   * dashboard's session cookie, whatever a provider's forward_headers
   * say. */
  for(int i = 0; i < r->nfwd; i++)
    if(!strcasecmp(r->fwd[i].name, SUBREQ_KEY_HEADER) ||
       (!strcasecmp(r->fwd[i].name, "cookie") &&
        strstr(r->fwd[i].value, UI_COOKIE "="))) {
      free(r->fwd[i].name);
      free(r->fwd[i].value);
      r->fwd[i--] = r->fwd[--r->nfwd];
    }
  if(rt->guard == GUARD_NONE || rt->guard == GUARD_UI ||
     (rt->guard == GUARD_KEY && !adm_required(r->gw->adm)))
    return 0;
  key = presented_key(r, &header);
  if(!key && rt->guard == GUARD_ADMIN &&
     !(rc = ui_session_lookup(r, admit_session_done))) {
    /* The dashboard's session cookie: admit_session_done() goes on. */
    r->admit_pending = 1;
    return 2;
  }
  if(key && subreq_is_credential(r->gw, key)) {
    rc = admit_internal(r, rt, &err);
  } else if(!key && rt->guard == GUARD_ADMIN) {
    api_error_set(&err, 401, "invalid_request_error", "missing_api_key", NULL,
                  "The admin API needs the admin credential as "
                  "'Authorization: Bearer KEY': create one with "
                  "`switchboard admin-key create` (or set "
                  "SWITCHBOARD_ADMIN_KEY).");
    rc = SB_EINVAL;
  } else {
    /* MCP session traffic is not counted: its tool calls are, one by
     * one (gateway/mcp.c). */
    rc = rt->inbound == REQ_IN_MCP
             ? adm_authenticate(r->gw->adm, key, sb_now_ms(), &r->grant, &err)
             : adm_admit(r->gw->adm, key, sb_now_ms(), rt->guard == GUARD_ADMIN,
                         &r->grant, &err);
  }
  if(rc) {
    free(key);
    if(err.status == 401)
      req_add_header(r, "www-authenticate", "Bearer");
    req_respond_error(r, &err);
    return 1;
  }
  r->granted = 1;
  forget_secret(r, header, key);
  free(key);
  if(rt->guard == GUARD_ADMIN && r->grant.read_only && is_write(r)) {
    read_only_error(&err);
    req_respond_error(r, &err);
    return 1;
  }
  return 0;
}

/* Number of times header tok was sent (lws keeps repeats as fragments). */
static int header_count(struct lws *wsi, enum lws_token_indexes tok)
{
  int n = 0;

  if(lws_hdr_total_length(wsi, tok) <= 0)
    return 0;
  while(n < 8 && lws_hdr_fragment_length(wsi, tok, n) > 0)
    n++;
  return n ? n : 1;
}

/*
 * The request's framing, checked before anything reads it. lws accepts
 * what RFC 9112 tells a server to refuse, and each is how one request
 * hides inside another when a proxy sits in front: a length given two
 * ways (Content-Length and Transfer-Encoding), two lengths, a length
 * that is not plain digits, no Host or two. Such a request is answered
 * and its connection closed, so no byte of it is ever read as the next
 * request. 0, or the status with *code and *msg set.
 */
static int framing_error(struct lws *wsi, const char **code, const char **msg)
{
  char v[32];
  int n;

  n = lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP);
  if(n <= 0 || (strcmp(v, "HTTP/1.1") && strcmp(v, "HTTP/1.0"))) {
    *code = "http_version_not_supported";
    *msg = "Only HTTP/1.1 and HTTP/1.0 are served.";
    return 505;
  }
  if(header_count(wsi, WSI_TOKEN_HOST) > 1 ||
     (!strcmp(v, "HTTP/1.1") &&
      lws_hdr_total_length(wsi, WSI_TOKEN_HOST) <= 0)) {
    *code = "invalid_host";
    *msg = "An HTTP/1.1 request needs exactly one Host header.";
    return 400;
  }
  if(lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
    if(lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
      *code = "invalid_framing";
      *msg = "A request may not carry both Content-Length and "
             "Transfer-Encoding.";
      return 400;
    }
    *code = "length_required";
    *msg = "Chunked request bodies are not accepted: send Content-Length.";
    return 411;
  }
  n = lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP_CONTENT_LENGTH);
  if(n != 0 && (header_count(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 1 || n < 0 ||
                n > 19 || strspn(v, "0123456789") != (size_t)n)) {
    *code = "invalid_framing";
    *msg = "Content-Length must be one header of plain digits.";
    return 400;
  }
  return 0;
}

/* 1 when host (a Host header's value) names one of sec's allowed hosts,
 * whatever its port and case. */
static int host_allowed(const struct config_security *sec, const char *host)
{
  char h[256];
  size_t n;

  /* "[v6]:port", "name:port" or a bare name or address. */
  if(host[0] == '[')
    n = strcspn(host + 1, "]"), host++;
  else
    n = strchr(host, ':') == strrchr(host, ':') ? strcspn(host, ":")
                                                : strlen(host);
  if(!n || n >= sizeof(h))
    return 0;
  for(size_t i = 0; i < n; i++)
    h[i] = (char)tolower((unsigned char)host[i]);
  h[n] = '\0';
  for(int i = 0; i < sec->nallowed_hosts; i++) {
    const char *a = sec->allowed_hosts[i];
    size_t an = strlen(a);
    if(!strcmp(a, "*") || !strcmp(a, h))
      return 1;
    /* "*.example.com" takes any name under example.com. */
    if(an > 2 && a[0] == '*' && a[1] == '.' && n > an - 1 &&
       !strcmp(h + n - (an - 1), a + 1))
      return 1;
  }
  return 0;
}

/* 1 when origin ("scheme://authority") is the gateway itself: its
 * authority is the request's Host. */
static int same_origin(const char *origin, const char *host)
{
  const char *a = strstr(origin, "://");

  return a && *host && !strcasecmp(a + 3, host);
}

/* Who may send this request at all: a request whose Host is not one of
 * the gateway's names is a DNS-rebinding page's, and one from a web page
 * of another origin may not call the API unless cors.origins lets that
 * origin in (the admin API: never). Admin writes must be JSON, which a
 * page cannot send cross-site without a preflight. 0 to go on, or 1
 * after answering. */
static int check_caller(struct req *r, const struct endpoint *rt)
{
  /* Names and origins longer than these are nobody's (-1 below). */
  char host[256] = "", origin[256] = "";
  int nh = lws_hdr_copy(r->wsi, host, sizeof(host), WSI_TOKEN_HOST);
  int no = lws_hdr_copy(r->wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
  int admin = rt && (rt->guard == GUARD_ADMIN || rt->guard == GUARD_UI);
  int rc = 0;

  if(nh < 0 || (nh > 0 && !host_allowed(&r->gw->cfg->security, host))) {
    respond_simple_error(r, 403, "host_not_allowed",
                         "This gateway does not answer to the host %s "
                         "(security.allowed_hosts).",
                         nh < 0 ? "(a name too long)" : host);
    rc = 1;
  } else if(no && (no < 0 || !same_origin(origin, host)) &&
            (admin || !r->cors_origin)) {
    /* r->cors_origin: the origin, when cors.origins lets it in. */
    respond_simple_error(r, 403, "origin_not_allowed",
                         "Requests from the web origin %s are not allowed "
                         "(cors.origins; the admin API takes none).",
                         no < 0 ? "(an origin too long)" : origin);
    rc = 1;
  } else if(admin && r->method == LWSHUMETH_POST) {
    char ct[128] = "";
    lws_hdr_copy(r->wsi, ct, sizeof(ct), WSI_TOKEN_HTTP_CONTENT_TYPE);
    if(strncasecmp(ct, "application/json", 16) ||
       (ct[16] && ct[16] != ';' && ct[16] != ' ')) {
      respond_simple_error(r, 415, "unsupported_media_type", "%s",
                           "Admin API writes must be sent as "
                           "Content-Type: application/json.");
      rc = 1;
    }
  }
  if(admin) {
    /* Never readable by another origin's page. */
    free(r->cors_origin);
    r->cors_origin = NULL;
  }
  return rc;
}

/* Decide what to do with a request whose headers are complete. Returns
 * 1 when the body must be read first. */
static int on_headers(struct req *r)
{
  const struct endpoint *rt = find_route(r->path);
  const char *code, *why;
  char cl[32];
  int status, admitted = 0;

  if(!(status = framing_error(r->wsi, &code, &why)) && r->bad_path) {
    status = 400;
    code = "invalid_path";
    why = "The path may not contain a NUL byte.";
  }
  if(status) {
    r->close_after = 1;
    respond_simple_error(r, status, code, "%s", why);
    return 0;
  }
  if(check_caller(r, rt)) {
    r->close_after = r->method == LWSHUMETH_POST; /* body left unread */
    return 0;
  }
  if(worker_stopping(r->w)) {
    struct api_error err;
    api_error_set(&err, 503, "server_error", "shutting_down", NULL,
                  "The gateway is shutting down; retry on another instance.");
    r->close_after = 1;
    req_respond_error(r, &err);
    return 0;
  }
  if(r->method == LWSHUMETH_OPTIONS) {
    handle_preflight(r);
    return 0;
  }
  if(rt && (admitted = admit(r, rt)) == 1) {
    r->close_after = r->method == LWSHUMETH_POST; /* body left unread */
    return 0;
  }
  if(r->method == LWSHUMETH_POST) {
    /* lws cannot read chunked request bodies; without a length the
     * request would hang. */
    if(lws_hdr_copy(r->wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) <=
       0) {
      r->close_after = 1;
      respond_simple_error(r, 411, "length_required", "%s",
                           "A Content-Length header is required.");
      return 0;
    }
    if(strtoull(cl, NULL, 10) > r->gw->cfg->limits.max_body_bytes) {
      char msg[160];
      snprintf(msg, sizeof(msg),
               "The request body is larger than the limit of %zu bytes "
               "(limits.max_body_bytes).",
               r->gw->cfg->limits.max_body_bytes);
      r->close_after = 1;
      respond_simple_error(r, 413, "request_too_large", "%s", msg);
      return 0;
    }
    /* The body is read even when the answer is an error, so that the
     * connection stays usable for the next request. */
    return 1;
  }
  if(admitted == 2)
    return 0; /* admit_session_done() serves it */
  if(!check_route(r, rt))
    rt->handle(r);
  return 0;
}

static void on_body_complete(struct req *r)
{
  const struct endpoint *rt = find_route(r->path);

  r->body_complete = 1;
  if(r->admit_pending)
    return; /* admit_session_done() serves it */

  if(!check_route(r, rt))
    rt->handle(r);
}

/* 1 when c may stand in a header field value (RFC 9110 5.5: visible
 * ASCII, space, tab and obs-text). */
static int field_value_byte(unsigned char c)
{
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Every response header is written here, and nowhere else. Values often
 * carry what a client chose (a dropped parameter's name, a model name):
 * a CR or LF among them would end the header and start another, or the
 * body. Such bytes are percent-encoded, so the value still says what it
 * was and can never be read as framing. */
static int add_header(struct lws *wsi, const char *name, const char *value,
                      unsigned char **p, unsigned char *end)
{
  size_t n = strlen(value), bad = 0;
  char key[128], *clean = NULL;
  int rc;

  for(size_t i = 0; i < n; i++)
    bad += !field_value_byte((unsigned char)value[i]);
  if(bad) {
    char *o = clean = sb_malloc(n + 2 * bad + 1);
    for(size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)value[i];
      if(field_value_byte(c))
        *o++ = (char)c;
      else
        o += sprintf(o, "%%%02X", c);
    }
    *o = '\0';
    value = clean;
    n = (size_t)(o - clean);
  }
  snprintf(key, sizeof(key), "%s:", name);
  rc =
      lws_add_http_header_by_name(wsi, (const unsigned char *)key,
                                  (const unsigned char *)value, (int)n, p, end);
  free(clean);
  return rc;
}

/* OpenAI's names; only for the limits the key has. */
static int add_ratelimit_headers(struct req *r, unsigned char **p,
                                 unsigned char *end)
{
  const struct adm_grant *g = &r->grant;
  char v[32];

  if(g->rpm_limit >= 0) {
    snprintf(v, sizeof(v), "%lld", (long long)g->rpm_limit);
    if(add_header(r->wsi, "x-ratelimit-limit-requests", v, p, end))
      return -1;
    snprintf(v, sizeof(v), "%lld", (long long)g->rpm_remaining);
    if(add_header(r->wsi, "x-ratelimit-remaining-requests", v, p, end))
      return -1;
  }
  if(g->tpm_limit >= 0) {
    snprintf(v, sizeof(v), "%lld", (long long)g->tpm_limit);
    if(add_header(r->wsi, "x-ratelimit-limit-tokens", v, p, end))
      return -1;
    snprintf(v, sizeof(v), "%lld", (long long)g->tpm_remaining);
    if(add_header(r->wsi, "x-ratelimit-remaining-tokens", v, p, end))
      return -1;
  }
  return 0;
}

static int write_headers(struct req *r, unsigned char **p, unsigned char *end)
{
  struct lws *wsi = r->wsi;
  int has_ct = 0;

  if(lws_add_http_header_status(wsi, (unsigned int)r->status, p, end))
    return -1;
  for(int i = 0; i < r->nxh; i++)
    has_ct |= !strcmp(r->xh[i].name, "content-type");
  if(!has_ct && r->status != 204 &&
     add_header(wsi, "content-type",
                r->sse ? "text/event-stream" : "application/json", p, end))
    return -1;
  if(r->sse) {
    if(add_header(wsi, "cache-control", "no-cache", p, end) ||
       add_header(wsi, "transfer-encoding", "chunked", p, end) ||
       add_header(wsi, "x-accel-buffering", "no", p, end))
      return -1;
  } else if(lws_add_http_header_content_length(wsi, r->out.len, p, end)) {
    return -1;
  }
  if(add_header(wsi, "x-request-id", r->request_id, p, end))
    return -1;
  /* What served the request; a route refused before its first attempt
   * was served by none of its targets. */
  if(r->prov && r->upstream_model && (!r->run || r->run->nattempts > 0) &&
     (add_header(wsi, "x-switchboard-provider", r->prov->name, p, end) ||
      add_header(wsi, "x-switchboard-model", r->upstream_model, p, end)))
    return -1;
  if(r->run) {
    char n[16];
    snprintf(n, sizeof(n), "%d", r->run->nattempts);
    if(add_header(wsi, "x-switchboard-route", r->run->route.name, p, end) ||
       add_header(wsi, "x-switchboard-attempts", n, p, end))
      return -1;
  }
  for(int i = 0; i < r->nxh; i++)
    if(add_header(wsi, r->xh[i].name, r->xh[i].value, p, end))
      return -1;
  if(r->cache_api &&
     add_header(wsi, CACHE_HEADER, r->cache_result ? r->cache_result : "bypass",
                p, end))
    return -1;
  if(r->granted && add_ratelimit_headers(r, p, end))
    return -1;
  if(r->cors_origin &&
     (add_header(wsi, "access-control-allow-origin", r->cors_origin, p, end) ||
      add_header(wsi, "vary", "Origin", p, end) ||
      add_header(wsi, "access-control-expose-headers",
                 "x-request-id, retry-after, retry-after-ms, "
                 "x-switchboard-provider, x-switchboard-model, "
                 "x-switchboard-cache, mcp-session-id, mcp-protocol-version",
                 p, end)))
    return -1;
  for(int i = 0; r->ui && ui_security_headers[i]; i += 2)
    if(add_header(wsi, ui_security_headers[i], ui_security_headers[i + 1], p,
                  end))
      return -1;
  if(r->close_after && add_header(wsi, "connection", "close", p, end))
    return -1;
  return lws_finalize_http_header(wsi, p, end);
}

static int on_writeable(struct req *r)
{
  unsigned char *buf = worker_wbuf(r->w);
  unsigned char *start = buf + LWS_PRE, *p = start;
  size_t n;
  int final;

  if(!r->status)
    return 0; /* nothing decided yet */
  if(!r->sse && !r->finished)
    return 0;
  if(!r->hdr_sent) {
    if(write_headers(r, &p, start + HDR_ROOM)) {
      log_event(LOG_ERROR, "response headers too large",
                LOG_S("request_id", r->request_id), LOG_END);
      return -1;
    }
    r->hdr_sent = 1;
    r->ttfb_us = sb_mono_us();
  }
  n = r->out.len < WRITE_CHUNK ? r->out.len : WRITE_CHUNK;
  if(r->method == LWSHUMETH_HEAD)
    n = 0, buf_reset(&r->out);
  final = r->finished && r->out.len == n;
  if(r->sse) {
    if(n) {
      p += sprintf((char *)p, "%zx\r\n", n);
      memcpy(p, r->out.data, n);
      p += n;
      memcpy(p, "\r\n", 2);
      p += 2;
    }
    if(final && !r->abort_after) {
      memcpy(p, "0\r\n\r\n", 5);
      p += 5;
    }
  } else if(n) {
    memcpy(p, r->out.data, n);
    p += n;
  }
  /* Before the last byte leaves: a client may send its next request the
   * moment it has it, and another worker may serve that one before this
   * thread runs again. */
  if(final)
    settle(r);
  if(p > start && lws_write(r->wsi, start, (size_t)(p - start),
                            final && !r->abort_after ? LWS_WRITE_HTTP_FINAL
                                                     : LWS_WRITE_HTTP) < 0)
    return -1;
  bodylog_out(r, r->out.data, n);
  buf_consume(&r->out, n);
  r->bytes_out += (int64_t)n;
  if(r->sse && r->hdr_sent)
    lws_set_timeout(r->wsi, NO_PENDING_TIMEOUT, 0);
  if(r->out.len <= REQ_OUT_LOW_WM)
    chat_drained(r);
  if(final && !r->out.len) {
    if(r->abort_after || r->close_after)
      return -1;
    return lws_http_transaction_completed(r->wsi) ? -1 : 0;
  }
  if(r->out.len)
    ask_writable(r);
  return 0;
}

/* The gateway speaks no WebSocket (Codex tries the Responses API over
 * one first): answer the handshake with 426 and the OpenAI error object,
 * written raw because lws has no response state for a connection it was
 * about to upgrade, so the client falls back to HTTP. */
static void refuse_websocket(struct lws *wsi)
{
  static const char body[] =
      "{\"error\":{\"message\":\"WebSocket is not supported by this "
      "gateway; use HTTP (POST with stream: true for streaming).\","
      "\"type\":\"invalid_request_error\",\"param\":null,"
      "\"code\":\"websocket_not_supported\"}}";
  char msg[LWS_PRE + 512];
  int n = snprintf(msg + LWS_PRE, sizeof(msg) - LWS_PRE,
                   "HTTP/1.1 426 Upgrade Required\r\n"
                   "content-type: application/json\r\n"
                   "content-length: %zu\r\n"
                   "connection: close\r\n\r\n%s",
                   sizeof(body) - 1, body);

  lws_write(wsi, (unsigned char *)msg + LWS_PRE, (size_t)n, LWS_WRITE_HTTP);
}

int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                  void *in, size_t len)
{
  struct pss *pss = user;
  struct worker *w = lws_context_user(lws_get_context(wsi));
  struct req *r = pss ? pss->r : NULL;

  switch(reason) {
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    refuse_websocket(wsi);
    return -1;
  case LWS_CALLBACK_HTTP: {
    char *uri;
    int uri_len;
    int method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);

    if(method < 0)
      return -1;
    r = req_new(w, wsi, method, uri, uri_len);
    pss->r = r;
    worker_request_started(w);
    if(on_headers(r)) {
      char expect[32];
      /* lws never answers Expect: 100-continue; curl would wait 1 s. */
      if(lws_hdr_copy(wsi, expect, sizeof(expect), WSI_TOKEN_HTTP_EXPECT) > 0 &&
         !strcasecmp(expect, "100-continue")) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        unsigned char b[LWS_PRE + sizeof(cont)];
        memcpy(b + LWS_PRE, cont, sizeof(cont) - 1);
        lws_write(wsi, b + LWS_PRE, sizeof(cont) - 1, LWS_WRITE_HTTP);
      }
    }
    return 0;
  }
  case LWS_CALLBACK_HTTP_BODY:
    if(!r || r->status)
      return 0; /* already answered: discard */
    if(buf_append(&r->body, in, len)) {
      r->close_after = 1;
      respond_simple_error(r, 413, "request_too_large", "%s",
                           "The request body is larger than the limit "
                           "(limits.max_body_bytes).");
    }
    return 0;
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    if(r && !r->status)
      on_body_complete(r);
    return 0;
  case LWS_CALLBACK_HTTP_WRITEABLE:
    if(!r)
      return 0;
    r->want_write = 0; /* lws cleared POLLOUT before calling us */
    worker_defer_cancel(r->w, &r->flush);
    return on_writeable(r);
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    if(r) {
      pss->r = NULL;
      req_destroy(r);
    }
    return 0;
  default: break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}
