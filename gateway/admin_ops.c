/*
 * admin_ops.c - the admin API's operator endpoints beside admin.c's
 * tables:
 *
 *   POST /admin/v1/playground  a prompt through the full request path
 *   GET  /admin/v1/mcp/stats   tool calls by server and tool
 *   GET  /admin/v1/cache       the response cache: its entries, what it
 *                              did and what it saved
 *   DELETE /admin/v1/cache     purge it (?key=: one key's entries)
 *
 * The playground is a sub-request (gateway/subreq.h) for the admin the
 * request was admitted with: routed, limited and recorded like any
 * client's, and cancelled when the admin's client leaves first. The
 * statistics are read on the thread pool (store/mcp.h), never on the
 * loop.
 */
#include "gateway/admin.h"
#include "base/sb.h"
#include "gateway/cache.h"
#include "gateway/http.h"
#include "gateway/subreq.h"
#include "store/mcp.h"
#include "store/usage.h"

#include <stdlib.h>
#include <string.h>

/* What a playground body may hold: a model name as clients send it, a
 * prompt an operator types, and an answer short enough to read. */
#define PLAYGROUND_MODEL_MAX      256
#define PLAYGROUND_PROMPT_MAX     (32 * 1024)
#define PLAYGROUND_TOKENS_MAX     4096
#define PLAYGROUND_TOKENS_DEFAULT 256

/* The default range of the statistics (tool calls, the cache's
 * records): the last 24 hours. */
#define MCP_STATS_RANGE_MS (24LL * 3600 * 1000)

/* --- POST /admin/v1/playground -------------------------------------------
 */

/* r's api_state while the sub-request runs. */
struct playground {
  struct subreq *sub; /* NULL once it answered */
  char *model;
  int64_t t0_us;
};

static void playground_free(struct req *r)
{
  struct playground *p = r->api_state;

  if(!p)
    return;
  subreq_cancel(p->sub); /* the admin's client left first */
  free(p->model);
  free(p);
  r->api_state = NULL;
}

static void on_answer(struct req *r, const char *text, const char *why,
                      void *ud)
{
  struct playground *p = ud;
  struct api_error err;
  cJSON *o;

  p->sub = NULL; /* freed by subreq after this returns */
  if(!text) {
    /* The reason is the gateway's own answer to the sub-request (a model
     * it does not serve, a limit) or the upstream's; either way not this
     * request's fault, so not a 4xx of the admin API. */
    api_error_set(&err, 502, "upstream_error", "playground_failed", NULL,
                  "The request for '%s' failed: %s", p->model,
                  why ? why : "no answer");
    req_respond_error(r, &err);
    return;
  }
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "object", "playground");
  cJSON_AddStringToObject(o, "model", p->model);
  cJSON_AddStringToObject(o, "text", text);
  cJSON_AddNumberToObject(o, "latency_ms",
                          (double)((sb_mono_us() - p->t0_us) / 1000));
  admin_respond(r, 200, o);
}

/* 1 when s holds a control character (a model name never does). */
static int has_control(const char *s)
{
  for(; *s; s++)
    if((unsigned char)*s < 0x20 || *s == 0x7f)
      return 1;
  return 0;
}

/* Check body into a Chat Completions request, or answer why not. */
static cJSON *playground_request(const cJSON *body, struct api_error *err)
{
  const cJSON *model, *prompt, *max, *v;
  cJSON *chat, *msgs, *m;
  int tokens = PLAYGROUND_TOKENS_DEFAULT;

  cJSON_ArrayForEach(v, body)
  {
    if(strcmp(v->string, "model") && strcmp(v->string, "prompt") &&
       strcmp(v->string, "max_tokens")) {
      api_error_set(err, 400, "invalid_request_error", "unknown_parameter",
                    v->string, "Unknown parameter: '%.64s'.", v->string);
      return NULL;
    }
  }
  model = cJSON_GetObjectItemCaseSensitive(body, "model");
  prompt = cJSON_GetObjectItemCaseSensitive(body, "prompt");
  max = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
  if(!cJSON_IsString(model) || !model->valuestring[0] ||
     strlen(model->valuestring) > PLAYGROUND_MODEL_MAX ||
     has_control(model->valuestring)) {
    admin_bad(
        err, "model",
        "expected a model or route name of 1 to 256 bytes without control "
        "characters.");
    return NULL;
  }
  if(!cJSON_IsString(prompt) || !prompt->valuestring[0] ||
     strlen(prompt->valuestring) > PLAYGROUND_PROMPT_MAX) {
    admin_bad(err, "prompt",
              "expected a non-empty string of at most 32768 bytes.");
    return NULL;
  }
  if(max && !cJSON_IsNull(max)) {
    if(!cJSON_IsNumber(max) || max->valuedouble < 1 ||
       max->valuedouble > PLAYGROUND_TOKENS_MAX ||
       max->valuedouble != (double)(int)max->valuedouble) {
      admin_bad(err, "max_tokens", "expected an integer from 1 to 4096.");
      return NULL;
    }
    tokens = max->valueint;
  }
  chat = cJSON_CreateObject();
  cJSON_AddStringToObject(chat, "model", model->valuestring);
  msgs = cJSON_AddArrayToObject(chat, "messages");
  m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "user");
  cJSON_AddStringToObject(m, "content", prompt->valuestring);
  cJSON_AddItemToArray(msgs, m);
  cJSON_AddNumberToObject(chat, "max_tokens", tokens);
  return chat;
}

void admin_playground(struct req *r)
{
  struct api_error err;
  struct playground *p;
  cJSON *body = chat_parse_body(r), *chat;

  if(!body)
    return;
  chat = playground_request(body, &err);
  if(!chat) {
    cJSON_Delete(body);
    req_respond_error(r, &err);
    return;
  }
  p = sb_calloc(1, sizeof(*p));
  p->model =
      sb_strdup(cJSON_GetObjectItemCaseSensitive(chat, "model")->valuestring);
  p->t0_us = sb_mono_us();
  cJSON_Delete(body);
  if(subreq_chat(r, "playground", chat, on_answer, p, &p->sub)) {
    cJSON_Delete(chat);
    free(p->model);
    free(p);
    api_error_set(&err, 500, "server_error", "internal_error", NULL,
                  "The playground request could not start.");
    req_respond_error(r, &err);
    return;
  }
  cJSON_Delete(chat);
  r->api_state = p;
  r->api_free = playground_free;
}

/* --- GET /admin/v1/mcp/stats ---------------------------------------------
 */

struct stats_job {
  const char *db;
  int64_t since_ms, until_ms;
  struct store_mcp_tool_stat *rows;
  int n;
  int rc;
  char err[256];
};

static void stats_free(struct stats_job *q)
{
  store_mcp_stats_free(q->rows, q->n);
  free(q);
}

static void stats_work(void *ud)
{
  struct stats_job *q = ud;

  q->rc = store_mcp_stats(q->db, q->since_ms, q->until_ms, &q->rows, &q->n,
                          q->err, sizeof(q->err));
}

static void add_ms_or_null(cJSON *o, const char *name, int64_t v)
{
  if(v >= 0)
    cJSON_AddNumberToObject(o, name, (double)v);
  else
    cJSON_AddNullToObject(o, name);
}

static void stats_done(struct req *r, void *ud)
{
  struct stats_job *q = ud;
  struct api_error err;
  cJSON *o, *data;

  if(!r) {
    stats_free(q);
    return;
  }
  if(q->rc) {
    api_error_set(&err, 503, "server_error", "store_unavailable", NULL,
                  "The usage store is not available: %s", q->err);
    req_respond_error(r, &err);
    stats_free(q);
    return;
  }
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "object", "list");
  cJSON_AddNumberToObject(o, "since", (double)(q->since_ms / 1000));
  cJSON_AddNumberToObject(o, "until", (double)(q->until_ms / 1000));
  data = cJSON_AddArrayToObject(o, "data");
  for(int i = 0; i < q->n; i++) {
    const struct store_mcp_tool_stat *t = &q->rows[i];
    cJSON *e = cJSON_CreateObject(), *oc;

    cJSON_AddStringToObject(e, "server", t->server);
    cJSON_AddStringToObject(e, "tool", t->tool);
    cJSON_AddNumberToObject(e, "calls", (double)t->calls);
    cJSON_AddNumberToObject(e, "errors", (double)t->errors);
    oc = cJSON_AddObjectToObject(e, "outcomes");
    for(int k = 0; k < STORE_MCP_NOUTCOMES; k++)
      if(t->outcomes[k])
        cJSON_AddNumberToObject(oc, store_mcp_outcomes[k],
                                (double)t->outcomes[k]);
    add_ms_or_null(e, "p50_ms", t->p50_ms);
    add_ms_or_null(e, "p95_ms", t->p95_ms);
    cJSON_AddNumberToObject(e, "last_ts_ms", (double)t->last_ts_ms);
    cJSON_AddItemToArray(data, e);
  }
  admin_respond(r, 200, o);
  stats_free(q);
}

void admin_mcp_stats(struct req *r)
{
  struct stats_job *q = sb_calloc(1, sizeof(*q));
  struct api_error err;
  int64_t since = -1;

  memset(&err, 0, sizeof(err));
  q->db = r->gw->cfg->database;
  q->until_ms = sb_now_ms();
  if(!admin_time_arg(r, "since", &since, &err) &&
     !admin_time_arg(r, "until", &q->until_ms, &err)) {
    q->since_ms = since >= 0 ? since : q->until_ms - MCP_STATS_RANGE_MS;
    if(q->since_ms >= q->until_ms)
      admin_bad(&err, "since",
                "the range is empty: since must be before until.");
  }
  if(err.status || req_offload(r, stats_work, stats_done, q)) {
    if(!err.status)
      api_error_set(&err, 500, "server_error", "internal_error", NULL,
                    "Could not reach the usage store.");
    req_respond_error(r, &err);
    stats_free(q);
  }
}

/* --- /admin/v1/cache ------------------------------------------------------
 */

struct cache_job {
  struct gw_cache *cache;
  const char *db;
  int purge;
  char *key; /* purge: one key's entries, or NULL: all */
  int64_t n; /* purge: how many went */
  int64_t since_ms, until_ms;
  struct store_cache_usage usage;
  int rc;
  char err[256];
};

static void cache_job_free(struct cache_job *j)
{
  free(j->key);
  free(j);
}

static void cache_work(void *ud)
{
  struct cache_job *j = ud;

  if(j->purge) {
    j->n = gw_cache_purge(j->cache, j->key);
    j->rc = j->n < 0 ? (int)j->n : 0;
    return;
  }
  j->rc = store_cache_usage(j->db, j->since_ms, j->until_ms, &j->usage, j->err,
                            sizeof(j->err));
}

static void cache_done(struct req *r, void *ud)
{
  struct cache_job *j = ud;
  struct api_error err;
  cJSON *o, *rec;

  if(!r) {
    cache_job_free(j);
    return;
  }
  if(j->rc) {
    api_error_set(&err, 500, "server_error", "internal_error", NULL,
                  "Could not reach the cache's store.");
    req_respond_error(r, &err);
    cache_job_free(j);
    return;
  }
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "object", "gateway.cache");
  if(j->purge) {
    cJSON_AddNumberToObject(o, "purged", (double)j->n);
    if(j->key)
      cJSON_AddStringToObject(o, "key", j->key);
  } else {
    const struct config_cache *c = &r->gw->cfg->cache;
    cJSON *cfg = cJSON_AddObjectToObject(o, "config");

    cJSON_AddBoolToObject(cfg, "enabled", c->enabled);
    cJSON_AddNumberToObject(cfg, "ttl_s", c->ttl_s);
    cJSON_AddNumberToObject(cfg, "max_entry_bytes", (double)c->max_entry_bytes);
    cJSON_AddNumberToObject(cfg, "max_bytes", (double)c->max_bytes);
    cJSON_AddBoolToObject(cfg, "hold_budget", c->hold_budget);
    cJSON_AddBoolToObject(cfg, "coalesce", c->coalesce);
    cJSON_AddItemToObject(o, "since_start", gw_cache_stats_json(j->cache));
    rec = cJSON_AddObjectToObject(o, "recorded");
    cJSON_AddNumberToObject(rec, "since_ms", (double)j->since_ms);
    cJSON_AddNumberToObject(rec, "until_ms", (double)j->until_ms);
    cJSON_AddNumberToObject(rec, "hits", (double)j->usage.hits);
    cJSON_AddNumberToObject(rec, "coalesced", (double)j->usage.coalesced);
    cJSON_AddNumberToObject(rec, "misses", (double)j->usage.misses);
    cJSON_AddNumberToObject(rec, "bypassed", (double)j->usage.bypassed);
    cJSON_AddNumberToObject(rec, "saved_usd", j->usage.saved_usd);
  }
  admin_respond(r, 200, o);
  cache_job_free(j);
}

void admin_cache(struct req *r)
{
  struct cache_job *j;
  struct api_error err;
  int64_t since = -1;
  char b[160];
  const char *key;

  memset(&err, 0, sizeof(err));
  if(!r->gw->cache) {
    api_error_set(&err, 503, "server_error", "cache_unavailable", NULL,
                  "The response cache is not open (see the gateway's log).");
    req_respond_error(r, &err);
    return;
  }
  j = sb_calloc(1, sizeof(*j));
  j->cache = r->gw->cache;
  j->db = r->gw->cfg->database;
  j->purge = r->method == LWSHUMETH_DELETE;
  key = lws_get_urlarg_by_name(r->wsi, "key=", b, sizeof(b));
  if(key && j->purge)
    j->key = sb_strdup(key);
  j->until_ms = sb_now_ms();
  if(!j->purge && !admin_time_arg(r, "since", &since, &err) &&
     !admin_time_arg(r, "until", &j->until_ms, &err)) {
    j->since_ms = since >= 0 ? since : j->until_ms - MCP_STATS_RANGE_MS;
    if(j->since_ms >= j->until_ms)
      admin_bad(&err, "since",
                "the range is empty: since must be before until.");
  }
  if(err.status || req_offload(r, cache_work, cache_done, j)) {
    if(!err.status)
      api_error_set(&err, 500, "server_error", "internal_error", NULL,
                    "Could not reach the cache's store.");
    req_respond_error(r, &err);
    cache_job_free(j);
  }
}
