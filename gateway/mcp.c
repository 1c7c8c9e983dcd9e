/*
 * mcp.c - the MCP endpoint (gateway/mcp.h, docs/mcp.md).
 *
 * A POST carries one JSON-RPC message (or, in a 2025-03-26 session, a
 * batch). What the gateway answers itself (initialize, ping, lists,
 * logging/setLevel) is answered at once as JSON. What goes to a server
 * is an op: a call through the federation, answered on a text/event-stream
 * that also carries the call's progress, log messages and the server's
 * requests (sampling, elicitation, roots) relayed to the client. The
 * gateway's own chat tool is an op served by chat.c on this very
 * request, through the same router, admission and records as
 * /v1/chat/completions.
 *
 * A client that leaves cancels its ops upstream. notifications/cancelled
 * reaches the op wherever it runs: the worker holding it is found in the
 * table of calls in flight and woken.
 */
#include "gateway/mcp.h"
#include "base/log.h"
#include "base/sb.h"
#include "codec/oai_chat.h"
#include "config/mcp_server.h"
#include "gateway/http.h"
#include "gateway/metrics.h"
#include "gateway/worker.h"
#include "mcp/catalog.h"
#include "mcp/fed.h"
#include "mcp/jsonrpc.h"
#include "mcp/session.h"
#include "store/keys.h"
#include "store/mcp.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MCP_LATEST "2025-11-25"

/* JSON-RPC codes of our own (-32000..-32099 is the implementation's). */
#define MCP_ERR_TRANSPORT (-32000) /* bad header, rate limit */
#define MCP_ERR_SESSION   (-32001) /* no such session, no credential */

/* Revisions served, newest first; 2024-11-05 speaks 2025-03-26's wire for
 * everything the gateway serves. */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
                                       "2024-11-05"};

struct inflight {
  struct inflight *next;
  char session[MCP_SESSION_ID_LEN + 1];
  char *id; /* the request id as JSON text */
  struct mcp_worker *w;
};

struct cancel {
  struct cancel *next;
  char session[MCP_SESSION_ID_LEN + 1];
  char *id;
};

struct mcp_gw {
  struct mcp_fed *fed;
  struct mcp_sessions *sessions;
  struct mcp_catalogs *catalogs;
  pthread_mutex_t mu; /* inflight */
  struct inflight *inflight;
};

struct mreq;
struct op;

struct mcp_worker {
  struct gw *gw;
  uv_loop_t *loop;
  struct mcp_fed_port *port;
  struct mreq *streams; /* standalone streams held here */
  struct op *ops;       /* ops in flight here */
  uv_async_t wake;      /* cancellations from other workers */
  pthread_mutex_t mu;
  struct cancel *cancels;
};

/* One answer the client waits for. */
struct op {
  struct op *next;  /* in the worker's list */
  struct op *rnext; /* in the request's list */
  struct mreq *m;
  cJSON *id;   /* the client's id */
  char *idkey; /* ... as JSON text */
  struct mcp_fed_call *call;
  int is_tool; /* tools/call: recorded */
  int is_chat; /* the gateway's chat tool, served by chat.c */
  int registered;
  char *server, *tool;
  int64_t t0_us;
  int64_t req_bytes;
  /* chat */
  cJSON *progress_token;
  struct buf text;
  cJSON *tool_calls;
  char finish[32];
  char model[128];
  double progress;
};

/* What an MCP request holds (r->api_state). */
struct mreq {
  struct req *r;
  struct mcp_worker *mw;
  struct mcp_session s;
  int has_session;
  const char *server; /* /mcp/<server>: its name (into path); else NULL */
  int batch;
  cJSON *answers; /* batch: the answers so far */
  int pending;
  struct op *ops;
  struct op *chat; /* the chat op, answered through r's hooks */
  uv_timer_t *ka;  /* SSE keep-alive */
  int get_stream;
  struct mreq *next_stream;
};

static void op_free(struct op *op);

/* --- small helpers ---------------------------------------------------------
 */

static struct mcp_gw *G(const struct req *r)
{
  return r->gw->mcp;
}

static const char *str_of(const cJSON *o, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int version_known(const char *v)
{
  for(size_t i = 0; v && i < SB_ARRAY_LEN(versions); i++)
    if(!strcmp(v, versions[i]))
      return 1;
  return 0;
}

/* Batches exist in 2025-03-26 (and the 2024-11-05 wire) only. */
static int version_batches(const char *v)
{
  return !strcmp(v, "2025-03-26") || !strcmp(v, "2024-11-05");
}

static void send_doc(struct req *r, int status, cJSON *doc)
{
  char *json = cJSON_PrintUnformatted(doc);

  cJSON_Delete(doc);
  if(!json)
    abort();
  req_respond_json(r, status, json, strlen(json));
  free(json);
}

/* An HTTP-level refusal with a JSON-RPC error body (id null). */
static void refuse(struct req *r, int status, int code, const char *msg)
{
  if(status == 401)
    req_add_header(r, "www-authenticate", "Bearer realm=\"switchboard\"");
  snprintf(r->error_type, sizeof(r->error_type), "%s",
           status == 404 ? "session_not_found" : "invalid_request_error");
  send_doc(r, status, jsonrpc_error(NULL, code, msg, NULL));
}

void mcp_respond_error(struct req *r, const struct api_error *err);

/* 1 when the Accept header lists type, or any type. */
static int accepts(struct req *r, const char *type)
{
  char *a = req_header(r, "accept");
  int ok = a && (strcasestr(a, type) || strstr(a, "*/*"));

  free(a);
  return ok;
}

/* The key a request runs under: "" when the gateway runs open. */
static const char *key_of(const struct req *r)
{
  return r->granted ? r->grant.key_id : "";
}

static int tool_allowed(const struct req *r, const char *full)
{
  return !r->granted || adm_tool_allowed(&r->grant, full);
}

static int server_allowed(const struct req *r, const char *server)
{
  return !r->granted || adm_server_allowed(&r->grant, server);
}

/* --- writing ----------------------------------------------------------------
 */

static void on_keepalive(uv_timer_t *t)
{
  struct mreq *m = t->data;

  if(!m)
    return;
  /* A comment: keeps proxies and clients from timing an idle stream
   * out while a long call runs. */
  if(!buf_append(&m->r->out, ": keepalive\n\n", 13))
    req_stream_kick(m->r);
}

static void ka_closed(uv_handle_t *h)
{
  free(h);
}

static void ka_stop(struct mreq *m)
{
  if(!m->ka)
    return;
  m->ka->data = NULL;
  uv_timer_stop(m->ka);
  uv_close((uv_handle_t *)m->ka, ka_closed);
  m->ka = NULL;
}

/* Answer on a text/event-stream from now on. */
static void begin_sse(struct mreq *m)
{
  struct req *r = m->r;
  uint64_t every = (uint64_t)r->gw->cfg->mcp.keepalive_s * 1000;

  if(r->sse || r->status)
    return;
  req_stream_begin(r);
  if(every) {
    m->ka = sb_calloc(1, sizeof(*m->ka));
    uv_timer_init(worker_loop(r->w), m->ka);
    m->ka->data = m;
    uv_timer_start(m->ka, on_keepalive, every, every);
  }
}

/* One message as an SSE event. Dropped (and logged) when the client
 * reads so slowly that its buffer is full. */
static void send_event(struct mreq *m, const cJSON *msg)
{
  char *json = cJSON_PrintUnformatted(msg);
  struct req *r = m->r;

  if(!json)
    abort();
  begin_sse(m);
  if(buf_append(&r->out, "event: message\ndata: ", 21) ||
     buf_append(&r->out, json, strlen(json)) || buf_append(&r->out, "\n\n", 2))
    log_event(LOG_WARN, "mcp message dropped: client buffer full",
              LOG_S("request_id", r->request_id), LOG_END);
  free(json);
  req_stream_kick(r);
}

/* --- ops -------------------------------------------------------------------
 */

static void inflight_add(struct mcp_worker *mw, struct op *op)
{
  struct mcp_gw *g = mw->gw->mcp;
  struct inflight *f;

  if(!op->m->has_session)
    return;
  f = sb_calloc(1, sizeof(*f));
  memcpy(f->session, op->m->s.id, sizeof(f->session));
  f->id = sb_strdup(op->idkey);
  f->w = mw;
  pthread_mutex_lock(&g->mu);
  f->next = g->inflight;
  g->inflight = f;
  pthread_mutex_unlock(&g->mu);
  op->registered = 1;
}

static void inflight_remove(struct mcp_worker *mw, struct op *op)
{
  struct mcp_gw *g = mw->gw->mcp;
  struct inflight **pp;

  if(!op->registered)
    return;
  op->registered = 0;
  pthread_mutex_lock(&g->mu);
  for(pp = &g->inflight; *pp; pp = &(*pp)->next)
    if((*pp)->w == mw && !strcmp((*pp)->session, op->m->s.id) &&
       !strcmp((*pp)->id, op->idkey)) {
      struct inflight *f = *pp;
      *pp = f->next;
      free(f->id);
      free(f);
      break;
    }
  pthread_mutex_unlock(&g->mu);
}

static struct op *op_new(struct mreq *m, const cJSON *id)
{
  struct op *op = sb_calloc(1, sizeof(*op));

  op->m = m;
  op->id = cJSON_Duplicate(id, 1);
  op->idkey = cJSON_PrintUnformatted(id);
  op->t0_us = sb_mono_us();
  buf_init(&op->text, m->r->gw->cfg->limits.max_response_bytes);
  op->next = m->mw->ops;
  m->mw->ops = op;
  op->rnext = m->ops;
  m->ops = op;
  m->pending++;
  inflight_add(m->mw, op);
  return op;
}

/* Unlink op from its worker and request, and free it. */
static void op_free(struct op *op)
{
  struct mreq *m = op->m;
  struct op **pp;

  inflight_remove(m->mw, op);
  for(pp = &m->mw->ops; *pp; pp = &(*pp)->next)
    if(*pp == op) {
      *pp = op->next;
      break;
    }
  for(pp = &m->ops; *pp; pp = &(*pp)->rnext)
    if(*pp == op) {
      *pp = op->rnext;
      break;
    }
  if(m->chat == op)
    m->chat = NULL;
  cJSON_Delete(op->id);
  free(op->idkey);
  free(op->server);
  free(op->tool);
  cJSON_Delete(op->progress_token);
  cJSON_Delete(op->tool_calls);
  buf_free(&op->text);
  free(op);
}

/* The record of a tool call: the mcp_calls table and the metrics. */
static void record_call(struct op *op, const char *outcome, const char *error,
                        int64_t response_bytes)
{
  struct req *r = op->m->r;
  struct store_mcp_call *c;

  if(!op->is_tool)
    return;
  op->is_tool = 0; /* once */
  c = sb_calloc(1, sizeof(*c));
  c->ts_ms = sb_now_ms() - (sb_mono_us() - op->t0_us) / 1000;
  c->request_id = sb_strdup(r->request_id);
  c->session_id = op->m->has_session ? sb_strdup(op->m->s.id) : NULL;
  c->key_id =
      r->granted && r->grant.key_id[0] ? sb_strdup(r->grant.key_id) : NULL;
  c->server = sb_strdup(op->server ? op->server : "gateway");
  c->tool = sb_strdup(op->tool ? op->tool : "");
  c->outcome = outcome;
  c->error = error ? sb_strndup(error, strnlen(error, 300)) : NULL;
  c->duration_ms = (sb_mono_us() - op->t0_us) / 1000;
  c->request_bytes = op->req_bytes;
  c->response_bytes = response_bytes;
  metrics_mcp_call(r->gw->metrics, c->server, outcome);
  store_mcp_call_submit(r->gw->store, c);
}

/* How a tools/call ended, from its answer. */
static const char *outcome_of(const cJSON *resp)
{
  const cJSON *res = cJSON_GetObjectItemCaseSensitive(resp, "result");

  if(!res)
    return STORE_MCP_ERROR;
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "isError"))
             ? STORE_MCP_TOOL_ERROR
             : STORE_MCP_OK;
}

/* Every op of the request is answered: finish the response. */
static void finish(struct mreq *m)
{
  struct req *r = m->r;

  if(m->batch) {
    cJSON *a = m->answers;
    m->answers = NULL;
    if(cJSON_GetArraySize(a))
      send_doc(r, 200, a);
    else {
      cJSON_Delete(a);
      req_respond_json(r, 202, "", 0);
    }
    return;
  }
  if(r->sse) {
    ka_stop(m);
    req_stream_end(r);
  }
}

/* The answer of op (taken): to the client, recorded; op is freed. */
static void op_answer(struct op *op, cJSON *resp)
{
  struct mreq *m = op->m;
  struct req *r = m->r;
  char *json;

  cJSON_DeleteItemFromObjectCaseSensitive(resp, "id");
  cJSON_AddItemToObject(resp, "id", cJSON_Duplicate(op->id, 1));
  if(!cJSON_GetObjectItemCaseSensitive(resp, "jsonrpc"))
    cJSON_AddStringToObject(resp, "jsonrpc", "2.0");
  json = cJSON_PrintUnformatted(resp);
  if(!json)
    abort();
  record_call(op, outcome_of(resp), NULL, (int64_t)strlen(json));
  free(json);
  op_free(op);
  m->pending--;
  if(m->batch) {
    cJSON_AddItemToArray(m->answers, resp);
    if(!m->pending)
      finish(m);
    return;
  }
  if(r->sse) {
    send_event(m, resp);
    cJSON_Delete(resp);
    finish(m);
  } else {
    send_doc(r, 200, resp);
  }
}

/* Answer op with a JSON-RPC error. */
static void op_error(struct op *op, int code, const char *msg, cJSON *data)
{
  op_answer(op, jsonrpc_error(op->id, code, msg, data));
}

/* A tool's failure as its result, so that the model reading it can
 * act on it (MCP: execution errors are results with isError). */
static cJSON *tool_error_result(const char *text)
{
  cJSON *res = cJSON_CreateObject();
  cJSON *content = cJSON_AddArrayToObject(res, "content");
  cJSON *block = cJSON_CreateObject();

  cJSON_AddStringToObject(block, "type", "text");
  cJSON_AddStringToObject(block, "text", text);
  cJSON_AddItemToArray(content, block);
  cJSON_AddBoolToObject(res, "isError", 1);
  return res;
}

/* Answer a request that has no op with result or error (taken) at once:
 * as JSON on /mcp; on /mcp/<server> as a stream, as the server itself
 * (an SDK server) answers every request, so that a client sees the same
 * wire through the gateway as without it. */
static void answer_now(struct mreq *m, const cJSON *id, cJSON *resp)
{
  (void)id;
  if(m->batch) {
    cJSON_AddItemToArray(m->answers, resp);
    return;
  }
  if(m->server && !m->r->status) {
    send_event(m, resp);
    cJSON_Delete(resp);
    if(!m->pending)
      finish(m);
    return;
  }
  send_doc(m->r, 200, resp);
}

static void answer_result(struct mreq *m, const cJSON *id, cJSON *result)
{
  answer_now(m, id, jsonrpc_result(id, result));
}

static void answer_error(struct mreq *m, const cJSON *id, int code,
                         const char *msg)
{
  answer_now(m, id, jsonrpc_error(id, code, msg, NULL));
}

/* --- the federation's side of an op ------------------------------------------
 */

/* The client may take this server request: it declared the capability. */
static int client_can(const struct mreq *m, const char *method)
{
  unsigned need = !strcmp(method, "sampling/createMessage") ? MCP_CAP_SAMPLING
                  : !strcmp(method, "elicitation/create") ? MCP_CAP_ELICITATION
                  : !strcmp(method, "roots/list")         ? MCP_CAP_ROOTS
                                                          : 0;

  return need && (m->s.caps & need);
}

static void on_fed_message(void *ud, const cJSON *msg)
{
  struct op *op = ud;
  struct mreq *m = op->m;
  const char *method = str_of(msg, "method");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");

  if(!method)
    return;
  if(id) {
    /* The server asks the client something: relayed when the client said
     * it can answer (and not inside a batch, which has no stream). */
    if(m->batch || !client_can(m, method)) {
      cJSON *e =
          jsonrpc_error(id, JSONRPC_METHOD_NOT_FOUND,
                        "The client did not declare this capability.", NULL);
      mcp_fed_answer(m->mw->port, e);
      cJSON_Delete(e);
      return;
    }
    send_event(m, msg);
    return;
  }
  if(m->batch)
    return;
  if(!strcmp(method, "notifications/message") && m->s.level >= 0) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(msg, "params");
    int level = mcp_level_parse(str_of(p, "level"));
    if(level >= 0 && level < m->s.level)
      return;
  }
  send_event(m, msg);
}

static void on_fed_done(void *ud, cJSON *resp, const char *why, int timed_out)
{
  struct op *op = ud;
  char msg[512];

  op->call = NULL;
  if(resp) {
    op_answer(op, resp);
    return;
  }
  snprintf(msg, sizeof(msg), "MCP server '%s' is unavailable: %s",
           op->server ? op->server : "", why ? why : "no answer");
  if(op->is_tool) {
    record_call(op, timed_out ? STORE_MCP_TIMEOUT : STORE_MCP_ERROR, why, 0);
    op_answer(op, jsonrpc_result(op->id, tool_error_result(msg)));
  } else {
    op_error(op, JSONRPC_INTERNAL_ERROR, msg, NULL);
  }
}

/* Send method with params (taken) to server for op. */
static void op_forward(struct op *op, const char *server, const char *method,
                       cJSON *params)
{
  static const struct mcp_fed_sink sink = {on_fed_message, on_fed_done};
  struct mreq *m = op->m;

  if(!op->server)
    op->server = sb_strdup(server);
  if(!m->batch)
    begin_sse(m);
  if(mcp_fed_call(m->mw->port, server, method, params, &sink, op, &op->call))
    on_fed_done(op, NULL, "the gateway is out of memory", 0);
  cJSON_Delete(params);
}

/* The client's cancellation of op: the server is told, the client gets
 * no answer (it no longer waits for one). */
static void op_cancel(struct op *op, const char *reason)
{
  struct mreq *m = op->m;

  if(op->call) {
    mcp_fed_cancel(op->call, reason);
    op->call = NULL;
  }
  record_call(op, STORE_MCP_CANCELLED, reason, 0);
  if(op->is_chat) {
    /* chat.c's transfer ends with the request: close it. */
    m->r->abort_after = 1;
    m->r->finished = 1;
    op_free(op);
    m->pending--;
    req_stream_kick(m->r);
    return;
  }
  op_free(op);
  if(--m->pending == 0)
    finish(m);
}

/* --- the gateway's own tools ---------------------------------------------- */

static cJSON *tool_def(const char *name, const char *desc, cJSON *schema)
{
  cJSON *t = cJSON_CreateObject();

  cJSON_AddStringToObject(t, "name", name);
  cJSON_AddStringToObject(t, "description", desc);
  cJSON_AddItemToObject(t, "inputSchema", schema);
  return t;
}

static cJSON *gateway_tools(void)
{
  cJSON *a = cJSON_CreateArray();
  cJSON *chat = cJSON_Parse(
      "{\"type\":\"object\",\"properties\":{"
      "\"model\":{\"type\":\"string\",\"description\":\"A model "
      "(provider/model) or route name; models_list lists them.\"},"
      "\"messages\":{\"type\":\"array\",\"description\":\"OpenAI Chat "
      "Completions messages.\",\"items\":{\"type\":\"object\"}},"
      "\"temperature\":{\"type\":\"number\"},\"top_p\":{\"type\":\"number\"},"
      "\"max_tokens\":{\"type\":\"integer\"},"
      "\"stop\":{\"type\":[\"string\",\"array\"]},"
      "\"tools\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
      "\"tool_choice\":{},"
      "\"response_format\":{\"type\":\"object\"}},"
      "\"required\":[\"model\",\"messages\"]}");

  cJSON_AddItemToArray(
      a, tool_def("models_list",
                  "The models and routes this gateway key may call.",
                  cJSON_Parse("{\"type\":\"object\",\"properties\":{}}")));
  cJSON_AddItemToArray(
      a, tool_def("chat",
                  "Ask a model through the gateway: its routing, limits, "
                  "budgets and usage records apply. Returns the reply, its "
                  "tool calls and token usage.",
                  chat));
  return a;
}

static cJSON *models_list(struct mreq *m)
{
  struct req *r = m->r;
  const struct prov_registry *reg = r->reg;
  cJSON *sc = cJSON_CreateObject(),
        *models = cJSON_AddArrayToObject(sc, "models");
  cJSON *res = cJSON_CreateObject(), *content, *block;
  struct api_error err;
  char **names;
  int nnames;
  char *text;

  for(int i = 0; i < reg->nprovs; i++) {
    const struct prov *p = &reg->provs[i];
    for(int j = 0; j < p->nmodels; j++) {
      char *mid = sb_asprintf("%s/%s", p->name, p->models[j]);
      if(!r->granted || !adm_model_allowed(&r->grant, mid, &err)) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "id", mid);
        cJSON_AddStringToObject(e, "provider", p->name);
        cJSON_AddItemToArray(models, e);
      }
      free(mid);
    }
  }
  names = adm_route_names(r->gw->adm, &nnames);
  for(int i = 0; i < nnames; i++) {
    if(!r->granted || !adm_model_allowed(&r->grant, names[i], &err)) {
      cJSON *e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "id", names[i]);
      cJSON_AddStringToObject(e, "route", names[i]);
      cJSON_AddItemToArray(models, e);
    }
    free(names[i]);
  }
  free(names);
  text = cJSON_PrintUnformatted(sc);
  content = cJSON_AddArrayToObject(res, "content");
  block = cJSON_CreateObject();
  cJSON_AddStringToObject(block, "type", "text");
  cJSON_AddStringToObject(block, "text", text);
  cJSON_AddItemToArray(content, block);
  cJSON_AddItemToObject(res, "structuredContent", sc);
  free(text);
  return res;
}

/* The chat op's result from what the model said. */
static cJSON *chat_result(struct op *op, const char *text, const cJSON *calls,
                          const char *finish_reason, const char *model,
                          const struct canon_usage *u)
{
  cJSON *res = cJSON_CreateObject(), *content, *block, *sc, *usage;

  content = cJSON_AddArrayToObject(res, "content");
  block = cJSON_CreateObject();
  cJSON_AddStringToObject(block, "type", "text");
  cJSON_AddStringToObject(block, "text", text ? text : "");
  cJSON_AddItemToArray(content, block);
  sc = cJSON_AddObjectToObject(res, "structuredContent");
  cJSON_AddStringToObject(sc, "text", text ? text : "");
  cJSON_AddStringToObject(sc, "model", model ? model : "");
  if(finish_reason)
    cJSON_AddStringToObject(sc, "finish_reason", finish_reason);
  else
    cJSON_AddNullToObject(sc, "finish_reason");
  if(calls && cJSON_GetArraySize(calls))
    cJSON_AddItemToObject(sc, "tool_calls", cJSON_Duplicate(calls, 1));
  usage = cJSON_AddObjectToObject(sc, "usage");
  cJSON_AddNumberToObject(
      usage, "prompt_tokens",
      (double)(u->prompt_tokens > 0 ? u->prompt_tokens : 0));
  cJSON_AddNumberToObject(
      usage, "completion_tokens",
      (double)(u->completion_tokens > 0 ? u->completion_tokens : 0));
  cJSON_AddNumberToObject(
      usage, "total_tokens",
      (double)((u->prompt_tokens > 0 ? u->prompt_tokens : 0) +
               (u->completion_tokens > 0 ? u->completion_tokens : 0)));
  cJSON_AddBoolToObject(res, "isError", 0);
  (void)op;
  return res;
}

/* Non-streamed: chat.c hands the Chat Completions document. */
static void chat_doc(struct req *r, cJSON *completion)
{
  struct mreq *m = r->api_state;
  struct op *op = m->chat;
  const cJSON *choice = cJSON_GetArrayItem(
      cJSON_GetObjectItemCaseSensitive(completion, "choices"), 0);
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");

  if(op)
    op_answer(
        op,
        jsonrpc_result(
            op->id,
            chat_result(op, cJSON_IsString(content) ? content->valuestring : "",
                        cJSON_GetObjectItemCaseSensitive(msg, "tool_calls"),
                        str_of(choice, "finish_reason"), r->upstream_model,
                        &r->usage)));
  cJSON_Delete(completion);
}

/* Streamed (the client asked for progress): canonical events become
 * progress notifications, then the result. */
static void chat_progress(struct op *op, struct buf *out)
{
  cJSON *p = cJSON_CreateObject();
  cJSON *n;
  char *json;

  op->progress += 1;
  cJSON_AddItemToObject(p, "progressToken",
                        cJSON_Duplicate(op->progress_token, 1));
  cJSON_AddNumberToObject(p, "progress", op->progress);
  cJSON_AddStringToObject(p, "message", "generating");
  n = jsonrpc_call(NULL, "notifications/progress", p);
  json = cJSON_PrintUnformatted(n);
  cJSON_Delete(n);
  buf_append(out, "event: message\ndata: ", 21);
  buf_append(out, json, strlen(json));
  buf_append(out, "\n\n", 2);
  free(json);
}

static int chat_render(void *s, const struct canon_ev *ev, struct buf *out)
{
  struct op *op = s;
  cJSON *call;

  switch(ev->type) {
  case CANON_EV_START:
    if(ev->model)
      snprintf(op->model, sizeof(op->model), "%s", ev->model);
    break;
  case CANON_EV_TEXT:
    if(buf_append(&op->text, ev->text, ev->len))
      return -1;
    chat_progress(op, out);
    break;
  case CANON_EV_TOOL_START:
    if(!op->tool_calls)
      op->tool_calls = cJSON_CreateArray();
    call = cJSON_CreateObject();
    cJSON_AddStringToObject(call, "id", ev->id ? ev->id : "");
    cJSON_AddStringToObject(call, "type", "function");
    cJSON_AddItemToObject(call, "function", cJSON_CreateObject());
    cJSON_AddStringToObject(cJSON_GetObjectItem(call, "function"), "name",
                            ev->name ? ev->name : "");
    cJSON_AddStringToObject(cJSON_GetObjectItem(call, "function"), "arguments",
                            "");
    cJSON_AddItemToArray(op->tool_calls, call);
    chat_progress(op, out);
    break;
  case CANON_EV_TOOL_ARGS:
    call = cJSON_GetArrayItem(op->tool_calls,
                              cJSON_GetArraySize(op->tool_calls) - 1);
    if(call) {
      cJSON *f = cJSON_GetObjectItem(call, "function");
      const char *old = str_of(f, "arguments");
      char *joined =
          sb_asprintf("%s%.*s", old ? old : "", (int)ev->len, ev->text);
      cJSON_ReplaceItemInObject(f, "arguments", cJSON_CreateString(joined));
      free(joined);
    }
    break;
  case CANON_EV_FINISH:
    snprintf(op->finish, sizeof(op->finish), "%s",
             ev->finish_reason ? ev->finish_reason : "");
    break;
  default: break;
  }
  return 0;
}

static int chat_end(void *s, struct buf *out)
{
  struct op *op = s;
  struct mreq *m = op->m;
  struct req *r = m->r;
  cJSON *resp;
  char *json;

  buf_append(&op->text, "", 1); /* NUL */
  resp = jsonrpc_result(
      op->id,
      chat_result(op, op->text.data, op->tool_calls,
                  op->finish[0] ? op->finish : NULL,
                  op->model[0] ? op->model : r->upstream_model, &r->usage));
  json = cJSON_PrintUnformatted(resp);
  record_call(op, STORE_MCP_OK, NULL, (int64_t)strlen(json));
  buf_append(out, "event: message\ndata: ", 21);
  buf_append(out, json, strlen(json));
  buf_append(out, "\n\n", 2);
  free(json);
  cJSON_Delete(resp);
  op_free(op);
  m->pending--;
  return 0;
}

static void chat_rend_free(void *s)
{
  (void)s; /* the op is freed with the request */
}

/* The chat tool: arguments into a Chat Completions body served by
 * chat.c on this request. */
static void chat_tool(struct mreq *m, struct op *op, const cJSON *args)
{
  static const char *const pass[] = {"model", "messages",    "temperature",
                                     "top_p", "max_tokens",  "stop",
                                     "tools", "tool_choice", "response_format"};
  struct req *r = m->r;
  cJSON *body = cJSON_CreateObject();

  for(size_t i = 0; i < SB_ARRAY_LEN(pass); i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, pass[i]);
    if(v)
      cJSON_AddItemToObject(body, pass[i], cJSON_Duplicate(v, 1));
  }
  if(args) {
    const cJSON *a;
    cJSON_ArrayForEach(a, args)
    {
      int known = 0;
      for(size_t i = 0; i < SB_ARRAY_LEN(pass); i++)
        known |= !strcmp(a->string, pass[i]);
      if(!known) {
        char msg[200];
        snprintf(msg, sizeof(msg), "Unknown argument '%.80s' of chat.",
                 a->string);
        record_call(op, STORE_MCP_TOOL_ERROR, msg, 0);
        op_answer(op, jsonrpc_result(op->id, tool_error_result(msg)));
        cJSON_Delete(body);
        return;
      }
    }
  }
  op->is_chat = 1;
  m->chat = op;
  r->api = "chat";
  r->stream = op->progress_token != NULL;
  if(r->stream) {
    cJSON_AddBoolToObject(body, "stream", 1);
    cJSON_AddItemToObject(body, "stream_options",
                          cJSON_Parse("{\"include_usage\":true}"));
    r->rend = (struct req_render){op, chat_render, chat_end, chat_rend_free};
  }
  r->respond_doc = chat_doc;
  if(!chat_route(r, body, oai_chat_validate))
    chat_serve(r, body);
  cJSON_Delete(body);
}

/* --- methods ---------------------------------------------------------------
 */

/* The page of arr (taken) that cursor names, into result under key. 0,
 * or -1 for a cursor that names no page. */
static int page(const struct req *r, cJSON *arr, const cJSON *params,
                const char *key, cJSON *result)
{
  const char *cursor = str_of(params, "cursor");
  int size = r->gw->cfg->mcp.page_size, n = cJSON_GetArraySize(arr);
  long from = 0;
  cJSON *out;

  if(cursor) {
    char *end;
    from = strtol(cursor, &end, 10);
    if(!*cursor || *end || from <= 0 || from > n) {
      cJSON_Delete(arr);
      return -1;
    }
  }
  out = cJSON_AddArrayToObject(result, key);
  for(int i = 0; i < (int)from; i++) {
    cJSON *x = cJSON_DetachItemFromArray(arr, 0);
    cJSON_Delete(x);
  }
  for(int i = 0; i < size && cJSON_GetArraySize(arr); i++)
    cJSON_AddItemToArray(out, cJSON_DetachItemFromArray(arr, 0));
  if(from + size < n) {
    char next[24];
    snprintf(next, sizeof(next), "%ld", from + size);
    cJSON_AddStringToObject(result, "nextCursor", next);
  }
  cJSON_Delete(arr);
  return 0;
}

enum list_kind { L_TOOLS, L_PROMPTS, L_RESOURCES, L_TEMPLATES };

static const cJSON *server_list(const struct mcp_fed_server *s,
                                enum list_kind k)
{
  return k == L_TOOLS       ? s->tools
         : k == L_PROMPTS   ? s->prompts
         : k == L_RESOURCES ? s->resources
                            : s->templates;
}

/* The whole list k as this key sees it. */
static cJSON *full_list(struct mreq *m, enum list_kind k)
{
  struct req *r = m->r;
  cJSON *arr;

  if(m->server) {
    const struct mcp_fed_snap *snap = mcp_fed_snapshot(G(r)->fed);
    const struct mcp_fed_server *s = mcp_fed_find(snap, m->server);
    const cJSON *item;

    arr = cJSON_CreateArray();
    if(s)
      cJSON_ArrayForEach(item, server_list(s, k))
      {
        if(k == L_TOOLS) {
          char *full =
              sb_asprintf("%s__%s", m->server,
                          str_of(item, "name") ? str_of(item, "name") : "");
          int ok = tool_allowed(r, full);
          free(full);
          if(!ok)
            continue;
        }
        cJSON_AddItemToArray(arr, cJSON_Duplicate(item, 1));
      }
    mcp_fed_snap_release(snap);
    return arr;
  }
  {
    struct mcp_catalog *c = mcp_catalogs_get(G(r)->catalogs);
    const struct mcp_entry *e;
    int n;

    arr = k == L_TOOLS ? gateway_tools() : cJSON_CreateArray();
    /* A server that is down leaves the others listed; it is counted. */
    for(int i = 0; i < c->snap->nservers; i++)
      if(c->snap->servers[i].state != MCP_FED_UP &&
         c->snap->servers[i].state != MCP_FED_DISABLED)
        metrics_mcp_skipped(r->gw->metrics, c->snap->servers[i].name);
    if(k == L_TOOLS) {
      /* The gateway's own tools first, as the key allows them. */
      for(int i = cJSON_GetArraySize(arr) - 1; i >= 0; i--)
        if(!tool_allowed(r, str_of(cJSON_GetArrayItem(arr, i), "name")))
          cJSON_DeleteItemFromArray(arr, i);
    }
    e = k == L_TOOLS       ? c->tools
        : k == L_PROMPTS   ? c->prompts
        : k == L_RESOURCES ? c->resources
                           : c->templates;
    n = k == L_TOOLS       ? c->ntools
        : k == L_PROMPTS   ? c->nprompts
        : k == L_RESOURCES ? c->nresources
                           : c->ntemplates;
    for(int i = 0; i < n; i++) {
      cJSON *x;
      if(k == L_TOOLS ? !e[i].public_name[0] || !tool_allowed(r, e[i].full)
                      : !server_allowed(r, e[i].server) ||
                            (k == L_PROMPTS && !e[i].public_name[0]))
        continue;
      x = cJSON_Duplicate(e[i].item, 1);
      if(k == L_TOOLS || k == L_PROMPTS)
        cJSON_ReplaceItemInObject(x, "name",
                                  cJSON_CreateString(e[i].public_name));
      cJSON_AddItemToArray(arr, x);
    }
    mcp_catalog_release(c);
  }
  return arr;
}

static void do_list(struct mreq *m, const cJSON *id, const cJSON *params,
                    enum list_kind k)
{
  static const char *const keys[] = {"tools", "prompts", "resources",
                                     "resourceTemplates"};
  cJSON *result = cJSON_CreateObject();

  if(page(m->r, full_list(m, k), params, keys[k], result)) {
    cJSON_Delete(result);
    answer_error(m, id, JSONRPC_INVALID_PARAMS, "Invalid cursor.");
    return;
  }
  answer_result(m, id, result);
}

static cJSON *server_capabilities(struct mreq *m)
{
  cJSON *caps;

  if(m->server) {
    const struct mcp_fed_snap *snap = mcp_fed_snapshot(G(m->r)->fed);
    const struct mcp_fed_server *s = mcp_fed_find(snap, m->server);
    const cJSON *c;

    caps = cJSON_CreateObject();
    if(s && s->capabilities) {
      cJSON_ArrayForEach(c, s->capabilities)
          cJSON_AddItemToObject(caps, c->string, cJSON_Duplicate(c, 1));
    } else {
      /* Not up yet: what it may serve once it is. */
      cJSON_Delete(caps);
      caps = cJSON_Parse("{\"tools\":{},\"prompts\":{},\"resources\":{},"
                         "\"completions\":{}}");
    }
    mcp_fed_snap_release(snap);
    /* The gateway follows the server's lists and tells the client. */
    for(cJSON *x = caps->child; x; x = x->next)
      if(cJSON_IsObject(x) &&
         (!strcmp(x->string, "tools") || !strcmp(x->string, "prompts") ||
          !strcmp(x->string, "resources"))) {
        cJSON_DeleteItemFromObjectCaseSensitive(x, "listChanged");
        cJSON_AddBoolToObject(x, "listChanged", 1);
      }
    if(!cJSON_GetObjectItemCaseSensitive(caps, "logging"))
      cJSON_AddItemToObject(caps, "logging", cJSON_CreateObject());
    return caps;
  }
  return cJSON_Parse("{\"tools\":{\"listChanged\":true},"
                     "\"prompts\":{\"listChanged\":true},"
                     "\"resources\":{\"subscribe\":true,\"listChanged\":true},"
                     "\"logging\":{},\"completions\":{}}");
}

static cJSON *server_info(struct mreq *m)
{
  cJSON *info = NULL;

  if(m->server) {
    const struct mcp_fed_snap *snap = mcp_fed_snapshot(G(m->r)->fed);
    const struct mcp_fed_server *s = mcp_fed_find(snap, m->server);
    if(s && s->server_info)
      info = cJSON_Duplicate(s->server_info, 1);
    mcp_fed_snap_release(snap);
  }
  if(!info) {
    info = cJSON_CreateObject();
    cJSON_AddStringToObject(info, "name", "switchboard");
    cJSON_AddStringToObject(info, "version", SB_VERSION);
  }
  return info;
}

static void do_initialize(struct mreq *m, const cJSON *id, const cJSON *params)
{
  struct req *r = m->r;
  const char *asked = str_of(params, "protocolVersion");
  const char *v = version_known(asked) ? asked : MCP_LATEST;
  cJSON *result;
  int rc;

  if(m->has_session) {
    answer_error(m, id, JSONRPC_INVALID_REQUEST,
                 "This session is initialized already.");
    return;
  }
  if(!asked || !cJSON_IsObject(
                   cJSON_GetObjectItemCaseSensitive(params, "capabilities"))) {
    answer_error(m, id, JSONRPC_INVALID_PARAMS,
                 "initialize needs protocolVersion and capabilities.");
    return;
  }
  rc = mcp_session_create(
      G(r)->sessions, key_of(r), m->server ? m->server : "", v,
      cJSON_GetObjectItemCaseSensitive(params, "clientInfo"),
      cJSON_GetObjectItemCaseSensitive(params, "capabilities"), sb_now_ms(),
      &m->s);
  if(rc) {
    refuse(r, 503, MCP_ERR_TRANSPORT,
           "Too many MCP sessions are open (mcp.max_sessions); retry later.");
    return;
  }
  m->has_session = 1;
  req_add_header(r, "mcp-session-id", m->s.id);
  result = cJSON_CreateObject();
  cJSON_AddStringToObject(result, "protocolVersion", v);
  cJSON_AddItemToObject(result, "capabilities", server_capabilities(m));
  cJSON_AddItemToObject(result, "serverInfo", server_info(m));
  if(m->server) {
    const struct mcp_fed_snap *snap = mcp_fed_snapshot(G(r)->fed);
    const struct mcp_fed_server *s = mcp_fed_find(snap, m->server);
    if(s && s->instructions)
      cJSON_AddStringToObject(result, "instructions", s->instructions);
    mcp_fed_snap_release(snap);
  } else {
    cJSON_AddStringToObject(
        result, "instructions",
        "Switchboard: the tools of every MCP server this key may use, named "
        "<server>__<tool>, and the gateway's own chat and models_list.");
  }
  answer_result(m, id, result);
}

static void do_discover(struct mreq *m, const cJSON *id)
{
  cJSON *result = cJSON_CreateObject();
  cJSON *sv = cJSON_AddArrayToObject(result, "supportedVersions");

  for(size_t i = 0; i < SB_ARRAY_LEN(versions); i++)
    cJSON_AddItemToArray(sv, cJSON_CreateString(versions[i]));
  cJSON_AddItemToObject(result, "capabilities", server_capabilities(m));
  cJSON_AddItemToObject(result, "serverInfo", server_info(m));
  answer_result(m, id, result);
}

/* A name the catalog does not list: "<server>__<tool>" of a server that
 * is not up is still that server's (its call says why it cannot be
 * served: *server and *tool); one of a server that is up names no tool
 * (*unknown_server, for the record). */
static void unlisted(struct req *r, const char *name, char **server,
                     char **tool, char **unknown_server)
{
  const char *sep = strstr(name, "__");
  const struct mcp_fed_snap *snap;
  const struct mcp_fed_server *s;
  char *prefix;

  if(!sep || sep == name)
    return;
  prefix = sb_strndup(name, (size_t)(sep - name));
  snap = mcp_fed_snapshot(G(r)->fed);
  s = mcp_fed_find(snap, prefix);
  if(s && s->state != MCP_FED_UP) {
    *server = prefix;
    *tool = sb_strdup(sep + 2);
  } else if(s) {
    *unknown_server = prefix;
  } else {
    free(prefix);
  }
  mcp_fed_snap_release(snap);
}

/* tools/call. */
static void do_call(struct mreq *m, const cJSON *id, const cJSON *params)
{
  struct req *r = m->r;
  const char *name = str_of(params, "name");
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(params, "_meta");
  char *full = NULL, *server = NULL, *tool = NULL, *unknown_server = NULL;
  struct mcp_catalog *cat = NULL;
  struct api_error err;
  struct op *op;
  char msg[200];

  if(!name || (args && !cJSON_IsObject(args))) {
    answer_error(m, id, JSONRPC_INVALID_PARAMS,
                 "tools/call needs a name and object arguments.");
    return;
  }
  if(m->server) {
    server = sb_strdup(m->server);
    tool = sb_strdup(name);
  } else if(!strcmp(name, "chat") || !strcmp(name, "models_list")) {
    tool = sb_strdup(name);
  } else {
    const struct mcp_entry *e;
    cat = mcp_catalogs_get(G(r)->catalogs);
    e = mcp_catalog_tool(cat, name);
    if(e) {
      server = sb_strdup(e->server);
      tool = sb_strdup(e->name);
    } else {
      unlisted(r, name, &server, &tool, &unknown_server);
    }
    mcp_catalog_release(cat);
  }
  if(tool)
    full = server ? sb_asprintf("%s__%s", server, tool) : sb_strdup(tool);
  op = op_new(m, id);
  op->is_tool = 1;
  op->server = server ? server : unknown_server;
  op->tool = tool ? tool
                  : sb_strdup(unknown_server ? name + strlen(unknown_server) + 2
                                             : name);
  {
    char *a = args ? cJSON_PrintUnformatted(args) : NULL;
    op->req_bytes = a ? (int64_t)strlen(a) : 0;
    free(a);
  }
  snprintf(msg, sizeof(msg), "Unknown tool: %.120s", name);
  if(!full) {
    if(!op->server)
      op->server = sb_strdup("?"); /* no server's: no server name has '?' */
    record_call(op, STORE_MCP_ERROR, "unknown tool", 0);
    op_error(op, JSONRPC_INVALID_PARAMS, msg, NULL);
    return;
  }
  if(!tool_allowed(r, full)) {
    /* The same answer as a tool that does not exist: a key learns
     * nothing of what it may not call. */
    free(full);
    record_call(op, STORE_MCP_DENIED, "not allowed for this key", 0);
    op_error(op, JSONRPC_INVALID_PARAMS, msg, NULL);
    return;
  }
  free(full);
  if(r->granted && !r->grant.in_flight &&
     adm_take(r->gw->adm, &r->grant, sb_now_ms(), &err)) {
    cJSON *data = cJSON_CreateObject();
    if(err.retry_after_s > 0)
      cJSON_AddNumberToObject(data, "retry_after_s", err.retry_after_s);
    snprintf(msg, sizeof(msg), "Rate limited: %.160s", err.message);
    record_call(op, STORE_MCP_LIMITED, err.message, 0);
    op_error(op, MCP_ERR_TRANSPORT, msg, data);
    return;
  }
  if(!server) {
    if(!strcmp(tool, "models_list")) {
      op_answer(op, jsonrpc_result(op->id, models_list(m)));
      return;
    }
    if(m->batch) {
      op_answer(
          op, jsonrpc_result(op->id, tool_error_result("chat cannot run inside "
                                                       "a JSON-RPC batch.")));
      return;
    }
    op->progress_token = cJSON_Duplicate(
        cJSON_GetObjectItemCaseSensitive(meta, "progressToken"), 1);
    chat_tool(m, op, args);
    return;
  }
  {
    cJSON *p = cJSON_Duplicate(params, 1);
    cJSON_ReplaceItemInObject(p, "name", cJSON_CreateString(tool));
    op_forward(op, server, "tools/call", p);
  }
}

/* prompts/get and completion/complete with a prompt ref: the prompt's
 * server and own name. */
static int resolve_prompt(struct mreq *m, const char *name, char **server,
                          char **own)
{
  struct mcp_catalog *c;
  const struct mcp_entry *e;

  if(m->server) {
    *server = sb_strdup(m->server);
    *own = sb_strdup(name);
    return 0;
  }
  c = mcp_catalogs_get(G(m->r)->catalogs);
  e = mcp_catalog_prompt(c, name);
  if(e && server_allowed(m->r, e->server)) {
    *server = sb_strdup(e->server);
    *own = sb_strdup(e->name);
  }
  mcp_catalog_release(c);
  return e && *server ? 0 : -1;
}

static int resolve_uri(struct mreq *m, const char *uri, char **server)
{
  struct mcp_catalog *c;
  const char *s;

  if(m->server) {
    *server = sb_strdup(m->server);
    return 0;
  }
  c = mcp_catalogs_get(G(m->r)->catalogs);
  s = mcp_catalog_resource_server(c, uri);
  if(s && server_allowed(m->r, s))
    *server = sb_strdup(s);
  mcp_catalog_release(c);
  return *server ? 0 : -1;
}

/* prompts/get, resources/read and (un)subscribe, completion/complete: to the
 * server that owns the name or uri, under its own name. */
static void do_forward(struct mreq *m, const cJSON *id, const char *method,
                       const cJSON *params)
{
  char *server = NULL, *own = NULL;
  cJSON *p = params ? cJSON_Duplicate(params, 1) : cJSON_CreateObject();
  int rc = -1;

  if(!strcmp(method, "prompts/get")) {
    const char *name = str_of(params, "name");
    if(name && !resolve_prompt(m, name, &server, &own)) {
      cJSON_ReplaceItemInObject(p, "name", cJSON_CreateString(own));
      rc = 0;
    }
  } else if(!strcmp(method, "completion/complete")) {
    cJSON *ref = cJSON_GetObjectItemCaseSensitive(p, "ref");
    const char *type = str_of(ref, "type");
    if(type && !strcmp(type, "ref/prompt") && str_of(ref, "name") &&
       !resolve_prompt(m, str_of(ref, "name"), &server, &own)) {
      cJSON_ReplaceItemInObject(ref, "name", cJSON_CreateString(own));
      rc = 0;
    } else if(type && !strcmp(type, "ref/resource") && str_of(ref, "uri")) {
      rc = resolve_uri(m, str_of(ref, "uri"), &server);
    }
  } else {
    const char *uri = str_of(params, "uri");
    if(!uri) {
      cJSON_Delete(p);
      answer_error(m, id, JSONRPC_INVALID_PARAMS, "uri is required.");
      return;
    }
    rc = resolve_uri(m, uri, &server);
  }
  free(own);
  if(rc) {
    cJSON_Delete(p);
    free(server);
    if(!strcmp(method, "resources/read"))
      answer_error(m, id, -32002, "Resource not found.");
    else
      answer_error(m, id, JSONRPC_INVALID_PARAMS,
                   "No server of this gateway serves that name or uri.");
    return;
  }
  if(!strcmp(method, "resources/subscribe") ||
     !strcmp(method, "resources/unsubscribe")) {
    /* One upstream subscription serves every session: the gateway keeps
     * who holds it, relays updates to them only, and drops it upstream
     * when the last one lets go. */
    const char *uri = str_of(params, "uri");
    int others = 0;
    if(method[10] == 's') {
      if(mcp_session_subscribe(G(m->r)->sessions, m->s.id, server, uri)) {
        cJSON_Delete(p);
        free(server);
        answer_error(m, id, JSONRPC_INVALID_PARAMS,
                     "Too many subscriptions in this session.");
        return;
      }
    } else {
      mcp_session_unsubscribe(G(m->r)->sessions, m->s.id, server, uri, &others);
      if(others) {
        cJSON_Delete(p);
        free(server);
        answer_result(m, id, cJSON_CreateObject());
        return;
      }
    }
  }
  op_forward(op_new(m, id), server, method, p);
  free(server);
}

static void do_request(struct mreq *m, const struct jsonrpc_msg *msg)
{
  const char *method = msg->method;
  const cJSON *id = msg->id, *params = msg->params;

  if(!strcmp(method, "initialize")) {
    do_initialize(m, id, params);
    return;
  }
  if(!strcmp(method, "server/discover")) {
    do_discover(m, id);
    return;
  }
  if(!strcmp(method, "ping")) {
    answer_result(m, id, cJSON_CreateObject());
    return;
  }
  if(!m->has_session) {
    answer_error(m, id, JSONRPC_INVALID_REQUEST,
                 "Send initialize first: this request needs a session.");
    return;
  }
  if(!strcmp(method, "logging/setLevel")) {
    int level = mcp_level_parse(str_of(params, "level"));
    if(level < 0) {
      answer_error(m, id, JSONRPC_INVALID_PARAMS, "Unknown logging level.");
      return;
    }
    mcp_session_set_level(G(m->r)->sessions, m->s.id, level);
    m->s.level = level;
    answer_result(m, id, cJSON_CreateObject());
  } else if(!strcmp(method, "tools/list")) {
    do_list(m, id, params, L_TOOLS);
  } else if(!strcmp(method, "prompts/list")) {
    do_list(m, id, params, L_PROMPTS);
  } else if(!strcmp(method, "resources/list")) {
    do_list(m, id, params, L_RESOURCES);
  } else if(!strcmp(method, "resources/templates/list")) {
    do_list(m, id, params, L_TEMPLATES);
  } else if(!strcmp(method, "tools/call")) {
    do_call(m, id, params);
  } else if(!strcmp(method, "prompts/get") ||
            !strcmp(method, "resources/read") ||
            !strcmp(method, "resources/subscribe") ||
            !strcmp(method, "resources/unsubscribe") ||
            !strcmp(method, "completion/complete")) {
    do_forward(m, id, method, params);
  } else {
    char text[160];
    snprintf(text, sizeof(text), "Method not found: %.100s", method);
    answer_error(m, id, JSONRPC_METHOD_NOT_FOUND, text);
  }
}

/* A notification from the client. */
static void do_notification(struct mreq *m, const struct jsonrpc_msg *msg)
{
  struct mcp_gw *g = G(m->r);

  if(!strcmp(msg->method, "notifications/cancelled") && m->has_session) {
    const cJSON *rid =
        cJSON_GetObjectItemCaseSensitive(msg->params, "requestId");
    char *key = rid ? cJSON_PrintUnformatted(rid) : NULL;
    struct inflight *f;

    if(!key)
      return;
    pthread_mutex_lock(&g->mu);
    for(f = g->inflight; f; f = f->next)
      if(!strcmp(f->session, m->s.id) && !strcmp(f->id, key))
        break;
    if(f) {
      struct cancel *c = sb_calloc(1, sizeof(*c));
      struct mcp_worker *w = f->w;
      memcpy(c->session, m->s.id, sizeof(c->session));
      c->id = key;
      key = NULL;
      pthread_mutex_lock(&w->mu);
      c->next = w->cancels;
      w->cancels = c;
      pthread_mutex_unlock(&w->mu);
      uv_async_send(&w->wake);
    }
    pthread_mutex_unlock(&g->mu);
    free(key);
  } else if(!strcmp(msg->method, "notifications/roots/list_changed") &&
            m->server) {
    mcp_fed_notify(m->mw->port, m->server, msg->method, msg->params);
  }
  /* notifications/initialized and the others need nothing. */
}

/* --- the three HTTP methods
 * ----------------------------------------------------
 */

static void mreq_free(struct req *r)
{
  struct mreq *m = r->api_state;

  if(!m)
    return;
  while(m->ops) {
    struct op *op = m->ops;
    if(op->call)
      mcp_fed_cancel(op->call, "the client closed the connection");
    record_call(op, STORE_MCP_CANCELLED, "the client closed the connection", 0);
    op_free(op);
  }
  ka_stop(m);
  if(m->get_stream) {
    struct mreq **pp;
    for(pp = &m->mw->streams; *pp; pp = &(*pp)->next_stream)
      if(*pp == m) {
        *pp = m->next_stream;
        break;
      }
    mcp_session_release_stream(G(r)->sessions, m->s.id);
  }
  cJSON_Delete(m->answers);
  cJSON_Delete(m->s.capabilities);
  free(m);
  r->api_state = NULL;
}

/* The session the request names, checked; 0, or 1 after answering. */
static int find_session(struct mreq *m, const char *sid)
{
  struct req *r = m->r;

  if(mcp_session_find(G(r)->sessions, sid, sb_now_ms(), 0, &m->s) ||
     strcmp(m->s.key_id, key_of(r)) ||
     strcmp(m->s.scope, m->server ? m->server : "")) {
    /* Another key's session is no session of this one's. */
    memset(&m->s, 0, sizeof(m->s));
    refuse(r, 404, MCP_ERR_SESSION,
           "Session not found: it ended or expired; initialize a new one.");
    return 1;
  }
  m->has_session = 1;
  return 0;
}

static void handle_post(struct mreq *m, const char *sid)
{
  struct req *r = m->r;
  struct jsonrpc_body b;
  char why[160], *ct = req_header(r, "content-type");
  int rc, requests = 0;

  if(!ct || strncasecmp(ct, "application/json", 16) ||
     (ct[16] && ct[16] != ';' && ct[16] != ' ')) {
    free(ct);
    refuse(r, 415, MCP_ERR_TRANSPORT, "Content-Type must be application/json.");
    return;
  }
  free(ct);
  if(!accepts(r, "application/json") || !accepts(r, "text/event-stream")) {
    refuse(r, 406, MCP_ERR_TRANSPORT,
           "Not Acceptable: the client must accept both application/json "
           "and text/event-stream.");
    return;
  }
  if(sid && find_session(m, sid))
    return;
  rc = jsonrpc_parse(r->body.data, r->body.len,
                     m->has_session && version_batches(m->s.version),
                     r->gw->cfg->limits.max_json_depth, &b, why, sizeof(why));
  if(rc) {
    send_doc(r, 400, jsonrpc_error(NULL, rc, why, NULL));
    jsonrpc_body_free(&b);
    return;
  }
  for(int i = 0; i < b.n; i++)
    requests += b.msg[i].kind == JSONRPC_REQUEST && !b.msg[i].code;
  if(!m->has_session) {
    /* Only initialize (and the probes that need none) opens a
     * conversation. */
    const char *meth = b.n == 1 ? b.msg[0].method : NULL;
    if(!meth || (strcmp(meth, "initialize") &&
                 strcmp(meth, "server/discover") && strcmp(meth, "ping"))) {
      jsonrpc_body_free(&b);
      refuse(r, 400, MCP_ERR_TRANSPORT,
             "Bad Request: Mcp-Session-Id header is required (initialize "
             "first).");
      return;
    }
  }
  m->batch = b.batch;
  if(m->batch)
    m->answers = cJSON_CreateArray();
  for(int i = 0; i < b.n; i++) {
    const struct jsonrpc_msg *msg = &b.msg[i];
    if(msg->code) {
      if(msg->kind == JSONRPC_REQUEST || b.n == 1) {
        cJSON *e = jsonrpc_error(msg->id, msg->code, msg->why, NULL);
        if(m->batch)
          cJSON_AddItemToArray(m->answers, e);
        else {
          send_doc(r, 400, e);
          jsonrpc_body_free(&b);
          return;
        }
      }
      continue;
    }
    switch(msg->kind) {
    case JSONRPC_REQUEST: do_request(m, msg); break;
    case JSONRPC_NOTIFICATION: do_notification(m, msg); break;
    default: {
      /* The client's answer to a server's request we relayed. */
      cJSON *copy = cJSON_Duplicate(
          (const cJSON *)(msg->result ? msg->result : msg->error), 1);
      cJSON *resp = cJSON_CreateObject();
      cJSON_AddStringToObject(resp, "jsonrpc", "2.0");
      cJSON_AddItemToObject(resp, "id", cJSON_Duplicate(msg->id, 1));
      cJSON_AddItemToObject(resp, msg->result ? "result" : "error", copy);
      mcp_fed_answer(m->mw->port, resp);
      cJSON_Delete(resp);
      break;
    }
    }
  }
  jsonrpc_body_free(&b);
  if(r->status)
    return; /* answered (or streaming) */
  if(m->batch) {
    if(!m->pending)
      finish(m);
    return;
  }
  if(!requests && !m->pending)
    req_respond_json(r, 202, "", 0);
}

static void handle_get(struct mreq *m, const char *sid)
{
  struct req *r = m->r;
  int rc;

  if(r->method == LWSHUMETH_HEAD) {
    req_add_header(r, "allow", "GET, POST, DELETE");
    refuse(r, 405, MCP_ERR_TRANSPORT, "HEAD is not served here.");
    return;
  }
  if(!accepts(r, "text/event-stream")) {
    refuse(r, 406, MCP_ERR_TRANSPORT,
           "Not Acceptable: the client must accept text/event-stream.");
    return;
  }
  if(!sid) {
    refuse(r, 400, MCP_ERR_TRANSPORT,
           "Bad Request: Mcp-Session-Id header is required.");
    return;
  }
  if(find_session(m, sid))
    return;
  rc = mcp_session_claim_stream(G(r)->sessions, m->s.id);
  if(rc) {
    refuse(r, rc == SB_EAGAIN ? 409 : 404,
           rc == SB_EAGAIN ? MCP_ERR_TRANSPORT : MCP_ERR_SESSION,
           rc == SB_EAGAIN ? "Conflict: this session has a stream open already."
                           : "Session not found.");
    return;
  }
  m->get_stream = 1;
  m->next_stream = m->mw->streams;
  m->mw->streams = m;
  begin_sse(m);
  /* The headers go out now: a client waits for them to know the stream
   * is open. */
  req_stream_kick(r);
}

static void handle_delete(struct mreq *m, const char *sid)
{
  struct req *r = m->r;

  if(!sid) {
    refuse(r, 400, MCP_ERR_TRANSPORT,
           "Bad Request: Mcp-Session-Id header is required.");
    return;
  }
  if(find_session(m, sid))
    return;
  mcp_session_end(G(r)->sessions, m->s.id);
  req_respond_json(r, 204, "", 0);
}

void mcp_handle(struct req *r)
{
  const char *path = r->path + 4; /* after "/mcp" */
  struct mreq *m = sb_calloc(1, sizeof(*m));
  char *sid, *ver;

  m->r = r;
  m->mw = worker_mcp(r->w);
  m->s.level = -1;
  r->api_state = m;
  r->api_free = mreq_free;
  if(*path == '/') {
    const struct mcp_fed_snap *snap = mcp_fed_snapshot(G(r)->fed);
    int known = mcp_fed_find(snap, path + 1) != NULL;
    mcp_fed_snap_release(snap);
    if(!known || !config_mcp_name_valid(path + 1)) {
      refuse(r, 404, MCP_ERR_SESSION, "No such MCP server on this gateway.");
      return;
    }
    if(!server_allowed(r, path + 1)) {
      refuse(r, 403, MCP_ERR_TRANSPORT,
             "This key may not use this MCP server as a whole.");
      return;
    }
    m->server = path + 1;
  }
  ver = req_header(r, "mcp-protocol-version");
  if(ver && !version_known(ver)) {
    char msg[200];
    snprintf(msg, sizeof(msg),
             "Bad Request: unsupported protocol version %.40s (supported "
             "versions: 2025-11-25, 2025-06-18, 2025-03-26).",
             ver);
    free(ver);
    refuse(r, 400, MCP_ERR_TRANSPORT, msg);
    return;
  }
  free(ver);
  sid = req_header(r, "mcp-session-id");
  switch(r->method) {
  case LWSHUMETH_POST: handle_post(m, sid); break;
  case LWSHUMETH_DELETE: handle_delete(m, sid); break;
  default: handle_get(m, sid); break;
  }
  free(sid);
}

void mcp_respond_error(struct req *r, const struct api_error *err)
{
  struct mreq *m = r->api_state;

  if(m && m->chat) {
    /* The chat tool failed: a tool result the model can read. */
    struct op *op = m->chat;
    char msg[600];
    snprintf(msg, sizeof(msg), "chat failed (%d %s): %s", err->status,
             err->type, err->message);
    record_call(op, STORE_MCP_TOOL_ERROR, err->message, 0);
    if(r->sse) {
      /* The stream is open (progress went out): the result is its last
       * event. */
      cJSON *resp = jsonrpc_result(op->id, tool_error_result(msg));
      op_free(op);
      m->pending--;
      send_event(m, resp);
      cJSON_Delete(resp);
      ka_stop(m);
      req_stream_end(r);
      return;
    }
    op_answer(op, jsonrpc_result(op->id, tool_error_result(msg)));
    return;
  }
  if(r->sse) {
    /* A stream open already cannot change its status: its end says it. */
    ka_stop(m);
    req_stream_end(r);
    return;
  }
  refuse(r, err->status,
         err->status == 401 ? MCP_ERR_SESSION : MCP_ERR_TRANSPORT,
         err->message);
}

/* --- the federation's events and cross-worker cancellation -----------------
 */

static void on_fed_notify(void *ud, const char *server, const cJSON *msg)
{
  struct mcp_worker *mw = ud;
  const char *method = str_of(msg, "method");

  if(!method)
    return;
  for(struct mreq *m = mw->streams; m; m = m->next_stream) {
    struct req *r = m->r;
    if(!strcmp(method, "notifications/resources/updated")) {
      /* To the sessions that subscribed, on either endpoint. */
      const cJSON *p = cJSON_GetObjectItemCaseSensitive(msg, "params");
      const char *uri = str_of(p, "uri");
      if(uri && (!m->server || !strcmp(m->server, server)) &&
         mcp_session_subscribed(G(r)->sessions, m->s.id, server, uri))
        send_event(m, msg);
      continue;
    }
    if(m->server) {
      if(!strcmp(m->server, server))
        send_event(m, msg);
      continue;
    }
    /* The aggregate: list changes as they concern this key, and updates
     * of resources its key may read. */
    if(!strncmp(method, "notifications/", 14) &&
       strstr(method, "/list_changed")) {
      send_event(m, msg);
    }
  }
}

static void on_wake(uv_async_t *a)
{
  struct mcp_worker *mw = a->data;
  struct cancel *list;

  pthread_mutex_lock(&mw->mu);
  list = mw->cancels;
  mw->cancels = NULL;
  pthread_mutex_unlock(&mw->mu);
  while(list) {
    struct cancel *c = list;
    list = c->next;
    for(struct op *op = mw->ops; op; op = op->next)
      if(op->m->has_session && !strcmp(op->m->s.id, c->session) &&
         !strcmp(op->idkey, c->id)) {
        op_cancel(op, "cancelled by the client");
        break;
      }
    free(c->id);
    free(c);
  }
}

struct mcp_worker *mcp_worker_open(struct gw *gw, uv_loop_t *loop)
{
  struct mcp_worker *mw = sb_calloc(1, sizeof(*mw));
  struct mcp_fed_events ev = {on_fed_notify, mw};

  mw->gw = gw;
  mw->loop = loop;
  pthread_mutex_init(&mw->mu, NULL);
  uv_async_init(loop, &mw->wake, on_wake);
  mw->wake.data = mw;
  if(mcp_fed_port_open(gw->mcp->fed, loop, &ev, &mw->port))
    log_event(LOG_ERROR, "mcp: no port to the federation", LOG_END);
  return mw;
}

void mcp_worker_stopping(struct mcp_worker *mw)
{
  for(struct mreq *m = mw->streams; m; m = m->next_stream) {
    ka_stop(m);
    req_stream_end(m->r);
  }
}

static void wake_closed(uv_handle_t *h)
{
  struct mcp_worker *mw = h->data;

  pthread_mutex_destroy(&mw->mu);
  while(mw->cancels) {
    struct cancel *c = mw->cancels;
    mw->cancels = c->next;
    free(c->id);
    free(c);
  }
  free(mw);
}

void mcp_worker_close(struct mcp_worker *mw)
{
  if(!mw)
    return;
  if(mw->port)
    mcp_fed_port_close(mw->port);
  uv_close((uv_handle_t *)&mw->wake, wake_closed);
}

/* --- the process -------------------------------------------------------------
 */

int mcp_gw_reload(struct gw *gw)
{
  struct config_mcp_server *defs;
  struct store_def *rows = NULL;
  char err[256];
  int n = 0, m = 0, rc;

  rc = store_defs_list(gw->cfg->database, STORE_MCP_SERVERS, &rows, &n, err,
                       sizeof(err));
  if(rc) {
    log_event(LOG_ERROR, "mcp servers not loaded", LOG_S("error", err),
              LOG_END);
    return rc;
  }
  defs = sb_calloc((size_t)n + 1, sizeof(*defs));
  for(int i = 0; i < n; i++) {
    cJSON *obj = cJSON_Parse(rows[i].definition);
    char path[80];
    snprintf(path, sizeof(path), "mcp_servers.%s", rows[i].name);
    if(!obj ||
       config_mcp_server_parse(&defs[m], obj, rows[i].name, path, err,
                               sizeof(err)) ||
       config_mcp_server_allowed(&gw->cfg->security, &defs[m], err,
                                 sizeof(err))) {
      log_event(LOG_ERROR, "mcp server left out", LOG_S("server", rows[i].name),
                LOG_S("error", obj ? err : "its definition is not JSON"),
                LOG_END);
      config_mcp_server_free(&defs[m]);
      memset(&defs[m], 0, sizeof(defs[m]));
    } else {
      m++;
    }
    cJSON_Delete(obj);
  }
  store_defs_free(rows, n);
  rc = mcp_fed_set_servers(gw->mcp->fed, defs, m);
  for(int i = 0; i < m; i++)
    config_mcp_server_free(&defs[i]);
  free(defs);
  return rc;
}

static void reload_hook(void *ud)
{
  mcp_gw_reload(ud);
}

int mcp_gw_open(struct gw *gw, char *err, size_t errlen)
{
  struct mcp_gw *g = sb_calloc(1, sizeof(*g));
  struct mcp_fed_options opt = {0};
  int rc;

  opt.sec = &gw->cfg->security;
  opt.client_name = "switchboard";
  opt.client_version = SB_VERSION;
  opt.connect_timeout_ms = gw->cfg->limits.connect_timeout_ms;
  pthread_mutex_init(&g->mu, NULL);
  gw->mcp = g;
  rc = mcp_sessions_open(gw->store, gw->cfg->database, &gw->cfg->mcp,
                         &g->sessions, err, errlen);
  if(!rc)
    rc = mcp_fed_start(&opt, &g->fed, err, errlen);
  if(rc) {
    mcp_gw_close(gw);
    return rc;
  }
  g->catalogs = mcp_catalogs_new(g->fed);
  /* Before the first read: a change made after it is then never missed. */
  adm_set_mcp_source(gw->adm, &(struct adm_mcp_source){reload_hook, gw});
  mcp_gw_reload(gw);
  return 0;
}

void mcp_gw_close(struct gw *gw)
{
  struct mcp_gw *g = gw->mcp;

  if(!g)
    return;
  adm_set_mcp_source(gw->adm, NULL);
  mcp_catalogs_free(g->catalogs);
  mcp_fed_stop(g->fed);
  mcp_sessions_close(g->sessions);
  while(g->inflight) {
    struct inflight *f = g->inflight;
    g->inflight = f->next;
    free(f->id);
    free(f);
  }
  pthread_mutex_destroy(&g->mu);
  free(g);
  gw->mcp = NULL;
}

void mcp_gw_gauges(struct gw *gw)
{
  const struct mcp_fed_snap *snap;
  long up = 0;

  if(!gw->mcp)
    return;
  snap = mcp_fed_snapshot(gw->mcp->fed);
  for(int i = 0; i < snap->nservers; i++)
    up += snap->servers[i].state == MCP_FED_UP;
  mcp_fed_snap_release(snap);
  metrics_mcp_gauges(gw->metrics, mcp_sessions_count(gw->mcp->sessions), up);
}

cJSON *mcp_gw_status(struct gw *gw, const char *name)
{
  static const char *const states[] = {"starting", "up", "down", "disabled"};
  const struct mcp_fed_snap *snap;
  const struct mcp_fed_server *s;
  cJSON *st = NULL;

  if(!gw->mcp)
    return NULL;
  snap = mcp_fed_snapshot(gw->mcp->fed);
  s = mcp_fed_find(snap, name);
  if(s) {
    st = cJSON_CreateObject();
    cJSON_AddStringToObject(st, "state", states[s->state]);
    if(s->error)
      cJSON_AddStringToObject(st, "error", s->error);
    else
      cJSON_AddNullToObject(st, "error");
    if(s->protocol_version)
      cJSON_AddStringToObject(st, "protocol_version", s->protocol_version);
    else
      cJSON_AddNullToObject(st, "protocol_version");
    cJSON_AddItemToObject(st, "server_info",
                          s->server_info ? cJSON_Duplicate(s->server_info, 1)
                                         : cJSON_CreateNull());
    cJSON_AddNumberToObject(st, "tools", cJSON_GetArraySize(s->tools));
    {
      /* The server's own names, for an operator matching keys' globs on
       * "<server>__<tool>" (descriptions and schemas: tools/list). */
      cJSON *names = cJSON_AddArrayToObject(st, "tool_names");
      const cJSON *t;
      cJSON_ArrayForEach(t, s->tools)
      {
        const char *n =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));
        if(n)
          cJSON_AddItemToArray(names, cJSON_CreateString(n));
      }
    }
    cJSON_AddNumberToObject(st, "prompts", cJSON_GetArraySize(s->prompts));
    cJSON_AddNumberToObject(st, "resources", cJSON_GetArraySize(s->resources));
    cJSON_AddNumberToObject(st, "restarts", (double)s->restarts);
  }
  mcp_fed_snap_release(snap);
  return st;
}
