/*
 * cache.c - the response cache on a request's path (cache.h).
 *
 * An entry is an envelope {"provider", "upstream_model", "cost_usd",
 * "answer"}: the answer is the canonical chat.completion (or the
 * embeddings answer as sent), so that chat_answer() serves it as a
 * stream or whole in the client's own API.
 *
 * Flights: the first cacheable request of a key leads; identical ones
 * that arrive while it runs (on any worker) wait on its flight. A
 * streaming leader appends each canonical event it renders to the
 * flight's log (codec/canon_answer.h's records); at its clean end it
 * puts the envelope on the flight and in the store. Waiters are woken
 * through their worker's uv_async and read the log from their own
 * offset, each rendering through its own renderer at its own client's
 * pace.
 */
#include "gateway/cache.h"
#include "base/log.h"
#include "base/sb.h"
#include "codec/cache_key.h"
#include "codec/canon_answer.h"
#include "codec/canon_doc.h"
#include "gateway/conv_turn.h"
#include "gateway/http.h"
#include "gateway/worker.h"
#include "router/cache_policy.h"
#include "router/run.h"
#include "store/cache.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

_Static_assert(CACHE_KEY_LEN == STORE_CACHE_KEY_LEN, "one key length");

/* How much of a flight's log a waiter renders at once: its output then
 * reaches the high-water mark and waits for its client. */
#define PUMP_BYTES (64 * 1024)

enum flight_state { FL_RUNNING, FL_DONE, FL_FAILED };

struct flight {
  unsigned char key[CACHE_KEY_LEN];
  int refs; /* the leader and each waiter */
  enum flight_state state;
  int in_table;
  struct buf log; /* encoded canonical events of a streaming leader */
  char *answer;   /* FL_DONE: the envelope */
  struct req_cache *waiters;
  struct flight *next;
};

/* Flights by the first byte of their key (a SHA-256: evenly spread), so
 * that thousands in flight do not make each request walk them all. */
#define FLIGHT_BUCKETS 256

struct gw_cache {
  const struct config *cfg;
  struct store_cache *store;
  pthread_mutex_t lock; /* flights and their waiters */
  struct flight *flights[FLIGHT_BUCKETS];
  atomic_llong hits, misses, coalesced, bypassed, bytes_served;
};

struct cache_worker {
  struct gw_cache *gc;
  uv_async_t wake;
  struct req_cache *waiting; /* this worker's waiters (its thread only) */
};

enum cache_kind { KIND_CHAT, KIND_EMBED };

/* A request's side. */
struct req_cache {
  struct req *r;
  struct gw_cache *gc;
  enum cache_kind kind;
  unsigned char key[CACHE_KEY_LEN];
  char scope[STORE_CACHE_SCOPE_MAX + 1];
  int lookup; /* look up entries and flights (not Cache-Control no-cache) */
  int hit;    /* the index had it when decided */
  char *data; /* ... and its answer, when held in memory (mem_len bytes) */
  size_t data_len;
  int skip_hold;
  int ttl_s;
  int64_t max_entry;
  cJSON *body; /* the canonical body, to go on alone */

  /* leading (or storing alone) */
  struct flight *lead;
  int capturing; /* its answer is being captured */
  int captured;  /* the answer went to the store and the flight */
  struct canon_answer *acc;
  void (*inner_doc)(struct req *r, cJSON *completion);
  void (*inner_done)(struct req *r);

  /* waiting */
  struct flight *wait;
  struct cache_worker *cw;
  struct req_cache *wnext; /* in wait->waiters (under the lock) */
  struct req_cache *lnext; /* in cw->waiting (the worker's thread) */
  size_t off;              /* of wait->log, rendered */
  int begun;               /* the stream began: no going alone now */
  int paused;              /* the client's output is full */
};

/* --- the process's side ---------------------------------------------------
 */

int gw_cache_open(const struct config *cfg, struct gw_cache **out, char *err,
                  size_t errlen)
{
  struct store_cache_options opt = {(int64_t)cfg->cache.max_bytes,
                                    cfg->cache.sweep_ms, 4096,
                                    (int64_t)cfg->cache.memory_bytes};
  struct gw_cache *c = sb_calloc(1, sizeof(*c));
  char *path = cfg->cache.path ? sb_strdup(cfg->cache.path)
                               : sb_asprintf("%s.cache", cfg->database);
  int rc = store_cache_open(path, &opt, &c->store, err, errlen);

  free(path);
  if(rc) {
    free(c);
    return rc;
  }
  c->cfg = cfg;
  pthread_mutex_init(&c->lock, NULL);
  *out = c;
  return 0;
}

void gw_cache_close(struct gw_cache *c)
{
  if(!c)
    return;
  store_cache_close(c->store);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

int64_t gw_cache_purge(struct gw_cache *c, const char *key_id)
{
  char scope[STORE_CACHE_SCOPE_MAX + 1];

  if(!key_id)
    return store_cache_purge(c->store, NULL);
  snprintf(scope, sizeof(scope), "key:%s", key_id);
  return store_cache_purge(c->store, scope);
}

/* The request counts since start, read once, and the hit ratio they
 * make: answered without the upstream over what could have been. */
struct cache_counts {
  long long hits, coalesced, misses, bypassed, served;
  double ratio;
};

static void counts_of(struct gw_cache *c, struct cache_counts *n)
{
  long long asked;

  n->hits = atomic_load(&c->hits);
  n->coalesced = atomic_load(&c->coalesced);
  n->misses = atomic_load(&c->misses);
  n->bypassed = atomic_load(&c->bypassed);
  n->served = atomic_load(&c->bytes_served);
  asked = n->hits + n->coalesced + n->misses;
  n->ratio = asked ? (double)(n->hits + n->coalesced) / (double)asked : 0;
}

cJSON *gw_cache_stats_json(struct gw_cache *c)
{
  struct store_cache_stats s;
  struct cache_counts n;
  cJSON *o = cJSON_CreateObject();

  store_cache_stats(c->store, &s);
  counts_of(c, &n);
  cJSON_AddNumberToObject(o, "entries", (double)s.entries);
  cJSON_AddNumberToObject(o, "bytes", (double)s.bytes);
  cJSON_AddNumberToObject(o, "max_bytes", (double)s.max_bytes);
  cJSON_AddNumberToObject(o, "hits", (double)n.hits);
  cJSON_AddNumberToObject(o, "coalesced", (double)n.coalesced);
  cJSON_AddNumberToObject(o, "misses", (double)n.misses);
  cJSON_AddNumberToObject(o, "bypassed", (double)n.bypassed);
  cJSON_AddNumberToObject(o, "hit_ratio", n.ratio);
  cJSON_AddNumberToObject(o, "memory_bytes", (double)s.mem_bytes);
  cJSON_AddNumberToObject(o, "memory_hits", (double)s.mem_hits);
  cJSON_AddNumberToObject(o, "bytes_served", (double)n.served);
  cJSON_AddNumberToObject(o, "stored", (double)s.puts);
  cJSON_AddNumberToObject(o, "dropped", (double)s.dropped);
  cJSON_AddNumberToObject(o, "expired", (double)s.expired);
  cJSON_AddNumberToObject(o, "evicted", (double)s.evicted);
  cJSON_AddNumberToObject(o, "purged", (double)s.purged);
  return o;
}

void gw_cache_metrics(struct gw_cache *c, struct buf *out)
{
  struct store_cache_stats s;
  struct cache_counts n;

  if(!c)
    return;
  store_cache_stats(c->store, &s);
  counts_of(c, &n);
  buf_printf(out,
             "# HELP switchboard_cache_requests_total Cacheable requests by "
             "what the response cache did.\n"
             "# TYPE switchboard_cache_requests_total counter\n"
             "switchboard_cache_requests_total{result=\"hit\"} %lld\n"
             "switchboard_cache_requests_total{result=\"coalesced\"} %lld\n"
             "switchboard_cache_requests_total{result=\"miss\"} %lld\n"
             "switchboard_cache_requests_total{result=\"bypass\"} %lld\n"
             "# HELP switchboard_cache_hit_ratio Answered without the "
             "upstream (hit, coalesced) over hit, coalesced and miss, since "
             "start.\n"
             "# TYPE switchboard_cache_hit_ratio gauge\n"
             "switchboard_cache_hit_ratio %.6f\n"
             "# HELP switchboard_cache_served_bytes_total Answer bytes served "
             "from the cache.\n"
             "# TYPE switchboard_cache_served_bytes_total counter\n"
             "switchboard_cache_served_bytes_total %lld\n"
             "# HELP switchboard_cache_entries Entries in the cache.\n"
             "# TYPE switchboard_cache_entries gauge\n"
             "switchboard_cache_entries %lld\n"
             "# HELP switchboard_cache_bytes Bytes of the cache's entries.\n"
             "# TYPE switchboard_cache_bytes gauge\n"
             "switchboard_cache_bytes %lld\n"
             "# HELP switchboard_cache_memory_bytes Bytes of the entries also "
             "held in memory.\n"
             "# TYPE switchboard_cache_memory_bytes gauge\n"
             "switchboard_cache_memory_bytes %lld\n"
             "# HELP switchboard_cache_evictions_total Entries removed, by "
             "cause.\n"
             "# TYPE switchboard_cache_evictions_total counter\n"
             "switchboard_cache_evictions_total{cause=\"expired\"} %lld\n"
             "switchboard_cache_evictions_total{cause=\"size\"} %lld\n"
             "switchboard_cache_evictions_total{cause=\"purge\"} %lld\n",
             n.hits, n.coalesced, n.misses, n.bypassed, n.ratio, n.served,
             (long long)s.entries, (long long)s.bytes, (long long)s.mem_bytes,
             (long long)s.expired, (long long)s.evicted, (long long)s.purged);
}

/* --- flights (every function here is called with gc->lock held) ------- */

static struct flight *flight_find(struct gw_cache *gc, const unsigned char *k)
{
  for(struct flight *f = gc->flights[k[0]]; f; f = f->next)
    if(!memcmp(f->key, k, CACHE_KEY_LEN))
      return f;
  return NULL;
}

static void flight_unlist(struct gw_cache *gc, struct flight *f)
{
  struct flight **pp;

  if(!f->in_table)
    return;
  for(pp = &gc->flights[f->key[0]]; *pp != f; pp = &(*pp)->next)
    ;
  *pp = f->next;
  f->in_table = 0;
}

static void flight_unref(struct gw_cache *gc, struct flight *f)
{
  if(--f->refs)
    return;
  flight_unlist(gc, f);
  buf_free(&f->log);
  free(f->answer);
  free(f);
}

/* Wake every worker with a request waiting on f. */
static void flight_wake(struct flight *f)
{
  for(struct req_cache *w = f->waiters; w; w = w->wnext)
    uv_async_send(&w->cw->wake);
}

/* f leaves the table (identical requests no longer join it) in state s. */
static void flight_end(struct gw_cache *gc, struct flight *f,
                       enum flight_state s, char *answer)
{
  f->state = s;
  f->answer = answer;
  flight_unlist(gc, f);
  flight_wake(f);
}

static void waiter_unlink(struct flight *f, struct req_cache *rc)
{
  struct req_cache **pp;

  for(pp = &f->waiters; *pp && *pp != rc; pp = &(*pp)->wnext)
    ;
  if(*pp)
    *pp = rc->wnext;
}

/* --- deciding -------------------------------------------------------------
 */

/* The cache policy's default, from the configuration. */
static void config_policy(const struct config *cfg, struct cache_policy *p)
{
  p->enabled = cfg->cache.enabled;
  p->ttl_s = cfg->cache.ttl_s;
  p->max_entry_bytes = (int64_t)cfg->cache.max_entry_bytes;
  p->shared = 0;
}

/* 1 when body (of r's API) may be answered from the cache: not a
 * conversation's turn, not a stored Response, not count_tokens or MCP. */
static int cacheable(struct req *r, const cJSON *body, enum cache_kind *kind)
{
  char *conv;

  if(!r->api || r->no_cache)
    return 0;
  if(!strcmp(r->api, "embeddings")) {
    *kind = KIND_EMBED;
    return 1;
  }
  *kind = KIND_CHAT;
  conv = req_header(r, CONV_TURN_HEADER);
  if(conv) {
    free(conv);
    return 0;
  }
  if(r->inbound == REQ_IN_CHAT) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(body, "n");

    /* Several choices and log probabilities are what only OpenAI's own
     * stream carries: an entry (one canonical answer) cannot replay
     * them, so such requests keep the pass-through. */
    return !strcmp(r->api, "chat") &&
           !(cJSON_IsNumber(n) && n->valuedouble > 1) &&
           !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "logprobs"));
  }
  if(r->inbound == REQ_IN_MESSAGES)
    return !strcmp(r->api, "messages");
  if(r->inbound == REQ_IN_RESPONSES) {
    const cJSON *prev =
        cJSON_GetObjectItemCaseSensitive(body, "previous_response_id");
    const cJSON *conv_id =
        cJSON_GetObjectItemCaseSensitive(body, "conversation");

    /* A stored response is an object the client may fetch by its own id;
     * a continued one depends on what is stored, not on the body. */
    return !strcmp(r->api, "responses") &&
           cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(body, "store")) &&
           (!prev || cJSON_IsNull(prev)) && (!conv_id || cJSON_IsNull(conv_id));
  }
  return 0;
}

/* Cache-Control's no-store and no-cache (any case, among other
 * directives). */
static void cache_control(struct req *r, int *no_store, int *no_cache)
{
  char *v = req_header(r, "cache-control");
  char *save = NULL;

  *no_store = *no_cache = 0;
  if(!v)
    return;
  for(char *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    size_t n;
    t += strspn(t, " \t");
    n = strcspn(t, " \t");
    if(n == 8 && !strncasecmp(t, "no-store", 8))
      *no_store = 1;
    else if(n == 8 && !strncasecmp(t, "no-cache", 8))
      *no_cache = 1;
  }
  free(v);
}

/* What r's answer may depend on besides its body, for the key: who may
 * read the entry (scope), and the client's own upstream credential and
 * forwarded headers (a pass-through provider answers per credential). */
static void hash_scope(struct req *r, const char *scope, char *out, size_t cap)
{
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned char h[32];
  unsigned int n = 0;
  static const char hex[] = "0123456789abcdef";
  size_t at;

  if(!md)
    abort();
  EVP_DigestInit_ex(md, sb_sha256_md(), NULL);
  if(r->authorization)
    EVP_DigestUpdate(md, r->authorization, strlen(r->authorization) + 1);
  for(int i = 0; i < r->nfwd; i++) {
    EVP_DigestUpdate(md, r->fwd[i].name, strlen(r->fwd[i].name) + 1);
    EVP_DigestUpdate(md, r->fwd[i].value, strlen(r->fwd[i].value) + 1);
  }
  EVP_DigestFinal_ex(md, h, &n);
  EVP_MD_CTX_free(md);
  at = (size_t)snprintf(out, cap, "%s\n", scope);
  for(unsigned int i = 0; i < n && at + 2 < cap; i++) {
    out[at++] = hex[h[i] >> 4];
    out[at++] = hex[h[i] & 15];
  }
  out[at < cap ? at : cap - 1] = '\0';
}

/* What the cache did for r, so far (a waiter may go on as a miss): its
 * header and record; counted once r settles. */
static void result(struct req *r, const char *what)
{
  r->cache_result = what;
}

/* r is not cached after all. */
static void drop(struct req *r)
{
  result(r, "bypass");
  cJSON_Delete(r->cache->body);
  free(r->cache->data);
  free(r->cache);
  r->cache = NULL;
}

int cache_decide(struct req *r, const cJSON *body)
{
  struct gw_cache *gc = r->gw->cache;
  struct cache_policy dflt, eff;
  struct req_cache *rc;
  char target[ROUTE_NAME_MAX + 300], hscope[STORE_CACHE_SCOPE_MAX + 80];
  struct api_error err;
  enum cache_kind kind;
  int no_store, no_cache;
  char *ttl;

  if(!gc)
    return 0;
  /* The policy first: it reads no header and no body, and is off for
   * most requests of most gateways. */
  config_policy(r->gw->cfg, &dflt);
  cache_policy_resolve(&dflt, r->run ? &r->run->route.cache : NULL,
                       r->granted ? &r->grant.cache : NULL, &eff);
  if(!eff.enabled || !cacheable(r, body, &kind))
    return 0;
  rc = sb_calloc(1, sizeof(*rc));
  rc->r = r;
  rc->gc = gc;
  rc->kind = kind;
  rc->ttl_s = eff.ttl_s;
  rc->max_entry = eff.max_entry_bytes;
  r->cache = rc;
  ttl = req_header(r, CACHE_TTL_HEADER);
  if(ttl) {
    char *end;
    long v = strtol(ttl, &end, 10);
    int bad = end == ttl || *end || v < 1 || v > CACHE_POLICY_TTL_MAX;
    free(ttl);
    if(bad) {
      api_error_set(&err, 400, "invalid_request_error", "invalid_value",
                    CACHE_TTL_HEADER,
                    "Invalid '" CACHE_TTL_HEADER
                    "' header: expected whole seconds from 1 to %d.",
                    CACHE_POLICY_TTL_MAX);
      req_respond_error(r, &err);
      return SB_EANSWERED;
    }
    if(v < rc->ttl_s) /* the policy's is the longest an entry lives */
      rc->ttl_s = (int)v;
  }
  cache_control(r, &no_store, &no_cache);
  if(no_store) {
    drop(r); /* neither read nor written: r goes its usual way */
    return 0;
  }
  rc->lookup = !no_cache;
  if(eff.shared && r->run)
    snprintf(rc->scope, sizeof(rc->scope), "route:%s", r->run->route.name);
  else if(r->granted && r->grant.key_id[0])
    snprintf(rc->scope, sizeof(rc->scope), "key:%s", r->grant.key_id);
  else
    snprintf(rc->scope, sizeof(rc->scope), "%s", r->granted ? "admin" : "open");
  if(r->run)
    snprintf(target, sizeof(target), "route:%s", r->run->route.name);
  else
    snprintf(target, sizeof(target), "%s/%s", r->prov->name, r->upstream_model);
  hash_scope(r, rc->scope, hscope, sizeof(hscope));
  if(cache_key(body, r->api, target, hscope, rc->key)) {
    drop(r);
    return 0;
  }
  if(rc->lookup)
    rc->hit = store_cache_lookup_data(gc->store, rc->key, sb_now_ms(), NULL,
                                      &rc->data, &rc->data_len);
  rc->skip_hold = rc->hit && !r->gw->cfg->cache.hold_budget;
  return 0;
}

int cache_skip_hold(const struct req *r)
{
  return r->cache && r->cache->skip_hold;
}

/* --- answering from an entry ----------------------------------------------
 */

/* Serve the envelope env (taken; bytes long as stored) to r as what. 0,
 * or SB_EPROTO when it is not one (the caller goes on without it). */
static int serve_envelope(struct req *r, cJSON *env, size_t bytes,
                          const char *what)
{
  cJSON *answer = cJSON_DetachItemFromObjectCaseSensitive(env, "answer");
  const cJSON *cost = cJSON_GetObjectItemCaseSensitive(env, "cost_usd");
  struct gw_cache *gc = r->gw->cache;

  if(!cJSON_IsObject(answer)) {
    cJSON_Delete(answer);
    cJSON_Delete(env);
    return SB_EPROTO;
  }
  r->saved_usd = cJSON_IsNumber(cost) ? cost->valuedouble : -1;
  cJSON_Delete(env);
  result(r, what);
  atomic_fetch_add(&gc->bytes_served, (long long)bytes);
  if(r->cache->kind == KIND_EMBED) {
    char *json;

    canon_json_count_into(cJSON_GetObjectItemCaseSensitive(answer, "usage"),
                          "prompt_tokens", &r->usage.prompt_tokens);
    r->usage.completion_tokens = 0;
    json = cJSON_PrintUnformatted(answer);
    cJSON_Delete(answer);
    if(!json)
      abort();
    req_respond_json(r, 200, json, strlen(json));
    free(json);
    return 0;
  }
  chat_answer(r, answer); /* takes it */
  return 0;
}

struct read_job {
  struct store_cache *store;
  unsigned char key[CACHE_KEY_LEN];
  char *data;
  size_t len;
  int rc;
};

static void read_work(void *ud)
{
  struct read_job *j = ud;

  j->rc = store_cache_read(j->store, j->key, &j->data, &j->len);
}

static void go_on(struct req *r);

static void read_done(struct req *r, void *ud)
{
  struct read_job *j = ud;
  cJSON *env = NULL;

  if(r && !j->rc)
    env = cJSON_ParseWithLength(j->data, j->len);
  free(j->data);
  j->rc = j->rc ? j->rc : env ? 0 : SB_EPROTO;
  if(!r) {
    cJSON_Delete(env);
    free(j);
    return;
  }
  if(!j->rc && !serve_envelope(r, env, j->len, "hit")) {
    free(j);
    return;
  }
  /* Gone since the probe (evicted, purged) or unreadable: a miss. */
  if(j->rc != SB_ENOTFOUND)
    log_event(LOG_WARN, "cache entry unreadable", LOG_I("rc", j->rc),
              LOG_S("request_id", r->request_id), LOG_END);
  free(j);
  r->cache->hit = 0;
  go_on(r);
}

/* --- capturing the answer -------------------------------------------------
 */

/* What r's answer cost upstream, or -1 when unknown. */
static double answer_cost(struct req *r)
{
  struct adm_price p;

  if(!r->prov || !r->upstream_model ||
     adm_price(r->gw->adm, r->prov->name, r->upstream_model, &p))
    return -1;
  return adm_cost(&p, &r->usage);
}

/* answer (JSON text of len bytes) is r's complete answer: into an
 * envelope, the store and the flight r leads. */
static void captured(struct req *r, const char *answer, size_t len)
{
  struct req_cache *rc = r->cache;
  struct gw_cache *gc = rc->gc;
  struct buf env;
  char *prov = NULL, *model = NULL;
  double cost = answer_cost(r);
  cJSON *s;

  if(rc->captured)
    return;
  rc->captured = 1;
  s = cJSON_CreateString(r->prov ? r->prov->name : "");
  prov = cJSON_PrintUnformatted(s);
  cJSON_Delete(s);
  s = cJSON_CreateString(r->upstream_model ? r->upstream_model : "");
  model = cJSON_PrintUnformatted(s);
  cJSON_Delete(s);
  if(!prov || !model)
    abort();
  buf_init(&env, SIZE_MAX);
  buf_printf(&env, "{\"provider\":%s,\"upstream_model\":%s,", prov, model);
  if(cost >= 0)
    buf_printf(&env, "\"cost_usd\":%.17g,", cost);
  buf_appendz(&env, "\"answer\":");
  buf_append(&env, answer, len);
  buf_appendz(&env, "}");
  free(prov);
  free(model);
  if((int64_t)env.len <= rc->max_entry) {
    struct store_cache_meta meta = {sb_now_ms() + (int64_t)rc->ttl_s * 1000,
                                    (int64_t)env.len, cost};
    int put = store_cache_put(gc->store, rc->key, rc->scope, env.data, env.len,
                              &meta);
    if(put && put != SB_EAGAIN && put != SB_ETOOBIG)
      log_event(LOG_WARN, "cache entry not stored", LOG_I("rc", put),
                LOG_S("request_id", r->request_id), LOG_END);
  }
  if(rc->lead) {
    pthread_mutex_lock(&gc->lock);
    flight_end(gc, rc->lead, FL_DONE, sb_strndup(env.data, env.len));
    flight_unref(gc, rc->lead);
    pthread_mutex_unlock(&gc->lock);
    rc->lead = NULL;
  }
  buf_free(&env);
}

static void cap_doc(struct req *r, cJSON *completion)
{
  struct req_cache *rc = r->cache;
  char *json = cJSON_PrintUnformatted(completion);

  if(!json)
    abort();
  captured(r, json, strlen(json));
  free(json);
  rc->inner_doc(r, completion);
}

static int cap_event(void *ud, const struct canon_ev *ev)
{
  struct req *r = ud;
  struct req_cache *rc = r->cache;
  struct gw_cache *gc = rc->gc;

  if(rc->acc && canon_answer_feed(rc->acc, ev)) {
    /* Past the largest entry: the stream goes on, not into the cache. */
    canon_answer_free(rc->acc);
    rc->acc = NULL;
  }
  if(rc->lead) {
    pthread_mutex_lock(&gc->lock);
    if(canon_ev_encode(ev, &rc->lead->log)) {
      /* The log passed the response limit: the waiters go alone. */
      flight_end(gc, rc->lead, FL_FAILED, NULL);
      flight_unref(gc, rc->lead);
      rc->lead = NULL;
    } else {
      flight_wake(rc->lead);
    }
    pthread_mutex_unlock(&gc->lock);
  }
  return 0;
}

static void cap_done(struct req *r)
{
  struct req_cache *rc = r->cache;

  if(rc->acc) {
    char id[40];
    cJSON *doc;
    char *json;

    sb_random_id(id, sizeof(id), "chatcmpl-");
    doc = canon_answer_doc(rc->acc, id, r->ts_ms / 1000, r->upstream_model);
    json = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if(!json)
      abort();
    captured(r, json, strlen(json));
    free(json);
  } else if(rc->lead) {
    /* Too large to keep: the waiters have had every event; end them. */
    struct gw_cache *gc = rc->gc;
    pthread_mutex_lock(&gc->lock);
    flight_end(gc, rc->lead, FL_DONE, NULL);
    flight_unref(gc, rc->lead);
    pthread_mutex_unlock(&gc->lock);
    rc->lead = NULL;
  }
  if(rc->inner_done)
    rc->inner_done(r);
}

void cache_on_json(struct req *r, int status, const char *json, size_t len)
{
  struct req_cache *rc = r->cache;

  if(!rc || rc->kind != KIND_EMBED || !rc->capturing || status != 200)
    return;
  captured(r, json, len);
}

/* r goes upstream and its answer is captured (leading flight f, or
 * alone when f is NULL). */
static void capture(struct req *r, struct flight *f)
{
  struct req_cache *rc = r->cache;

  rc->lead = f;
  rc->capturing = 1;
  result(r, "miss");
  if(rc->kind == KIND_EMBED)
    return; /* cache_on_json() */
  /* The answer is needed as a document, which the pass-through relays
   * do not read. */
  r->canonical = 1;
  rc->inner_doc = r->respond_doc;
  r->respond_doc = cap_doc;
  if(r->stream) {
    rc->acc = canon_answer_new((size_t)rc->max_entry);
    r->tap = (struct canon_sink){cap_event, r};
    rc->inner_done = r->stream_done;
    r->stream_done = cap_done;
  }
}

/* --- waiting on a flight --------------------------------------------------
 */

static void waiter_leave(struct req_cache *rc)
{
  struct gw_cache *gc = rc->gc;
  struct req_cache **pp;

  if(!rc->wait)
    return;
  pthread_mutex_lock(&gc->lock);
  waiter_unlink(rc->wait, rc);
  flight_unref(gc, rc->wait);
  pthread_mutex_unlock(&gc->lock);
  rc->wait = NULL;
  for(pp = &rc->cw->waiting; *pp && *pp != rc; pp = &(*pp)->lnext)
    ;
  if(*pp)
    *pp = rc->lnext;
}

/* Render what the flight r waits on has that r has not, as far as r's
 * client keeps up; end r when the flight did. */
static void pump(struct req *r)
{
  struct req_cache *rc = r->cache;
  struct gw_cache *gc = rc->gc;
  struct flight *f = rc->wait;

  while(rc->wait) {
    enum flight_state st;
    char *slice = NULL, *answer = NULL;
    size_t n = 0;

    if(r->out.len >= REQ_OUT_HIGH_WM) {
      rc->paused = 1;
      return;
    }
    pthread_mutex_lock(&gc->lock);
    st = f->state;
    if(r->stream && f->log.len > rc->off) {
      /* Whole records only, up to PUMP_BYTES (or one longer record). */
      const char *p = f->log.data + rc->off;
      size_t avail = f->log.len - rc->off, cut = 0;
      for(size_t i = 0; i < avail; i++)
        if(p[i] == '\n') {
          cut = i + 1;
          if(cut >= PUMP_BYTES)
            break;
        }
      if(cut) {
        slice = sb_strndup(p, cut);
        n = cut;
        rc->off += cut;
      }
    }
    if(!slice && st == FL_DONE && f->answer)
      answer = sb_strdup(f->answer);
    pthread_mutex_unlock(&gc->lock);

    if(slice) {
      if(!rc->begun) {
        rc->begun = 1;
        result(r, "coalesced");
        req_stream_begin(r);
      }
      struct canon_sink sink = chat_sink(r);
      int bad = canon_ev_decode(slice, n, &sink);
      free(slice);
      atomic_fetch_add(&gc->bytes_served, (long long)n);
      if(bad || r->finished) {
        waiter_leave(rc); /* the stream failed (chat_emit said so) */
        return;
      }
      req_stream_kick(r);
      continue;
    }
    if(st == FL_RUNNING)
      return; /* woken again when it moves */
    waiter_leave(rc);
    if(st == FL_DONE && rc->begun) {
      /* Every event rendered: the clean end. */
      free(answer);
      chat_end_stream(r);
      return;
    }
    if(st == FL_DONE && answer) {
      cJSON *env = cJSON_Parse(answer);
      size_t len = strlen(answer);
      free(answer);
      if(env && !serve_envelope(r, env, len, "coalesced"))
        return;
    }
    if(rc->begun) {
      /* The leader failed after this stream began: it fails too. */
      struct api_error err;
      api_error_set(&err, 502, "upstream_error", "upstream_error", NULL,
                    "The identical request this one was sharing failed "
                    "upstream.");
      req_stream_fail(r, &err);
      return;
    }
    /* Failed (or too large to share) before anything reached this
     * client: on its own. */
    go_on(r);
    return;
  }
}

static void on_wake(uv_async_t *a)
{
  struct cache_worker *cw = a->data;
  struct req_cache *rc = cw->waiting, *next;

  for(; rc; rc = next) {
    next = rc->lnext;
    if(!rc->paused)
      pump(rc->r);
  }
}

void cache_drained(struct req *r)
{
  if(r->cache && r->cache->wait && r->cache->paused) {
    r->cache->paused = 0;
    pump(r);
  }
}

struct cache_worker *cache_worker_open(struct gw_cache *c, uv_loop_t *loop)
{
  struct cache_worker *cw;

  if(!c)
    return NULL;
  cw = sb_calloc(1, sizeof(*cw));
  cw->gc = c;
  uv_async_init(loop, &cw->wake, on_wake);
  cw->wake.data = cw;
  return cw;
}

static void on_wake_closed(uv_handle_t *h)
{
  free(h->data);
}

void cache_worker_close(struct cache_worker *cw)
{
  if(!cw)
    return;
  uv_close((uv_handle_t *)&cw->wake, on_wake_closed);
}

/* --- the path -------------------------------------------------------------
 */

/* Lead a new flight of r's key, join the one in flight, or (no-cache,
 * coalescing off) go alone. 1 when r waits. */
static int fly(struct req *r)
{
  struct req_cache *rc = r->cache;
  struct gw_cache *gc = rc->gc;
  struct flight *f = NULL;
  int join = 0;

  if(rc->lookup && r->gw->cfg->cache.coalesce) {
    pthread_mutex_lock(&gc->lock);
    f = flight_find(gc, rc->key);
    if(f && f->state == FL_RUNNING) {
      join = 1;
      f->refs++;
      rc->cw = worker_cache(r->w);
      rc->wnext = f->waiters;
      f->waiters = rc;
    } else {
      f = sb_calloc(1, sizeof(*f));
      memcpy(f->key, rc->key, CACHE_KEY_LEN);
      f->refs = 1;
      buf_init(&f->log, r->gw->cfg->limits.max_response_bytes);
      f->next = gc->flights[f->key[0]];
      gc->flights[f->key[0]] = f;
      f->in_table = 1;
    }
    pthread_mutex_unlock(&gc->lock);
  }
  if(join) {
    rc->wait = f;
    rc->lnext = rc->cw->waiting;
    rc->cw->waiting = rc;
    result(r, "coalesced"); /* a miss if it goes on alone */
    pump(r);                /* it may have ended already */
    return 1;
  }
  capture(r, f);
  return 0;
}

/* r goes on without the entry it expected, or the flight it waited on:
 * its budget held if that was skipped, then served as a miss. */
static void go_on(struct req *r)
{
  struct req_cache *rc = r->cache;
  struct api_error err;

  if(rc->skip_hold) {
    rc->skip_hold = 0;
    if(chat_reserve(r, rc->body, &err)) {
      req_respond_error(r, &err);
      return;
    }
  }
  rc->lookup = 0; /* on its own from here: no second flight */
  if(rc->kind == KIND_EMBED)
    embeddings_serve(r, rc->body);
  else
    chat_serve(r, rc->body);
}

int cache_serve(struct req *r, const cJSON *body)
{
  struct req_cache *rc = r->cache;

  if(!rc || rc->capturing)
    return 0; /* off, or already on its way (a route's next attempt) */
  if(r->conv) {
    /* A conversation's turn: its history is not in the body. */
    drop(r);
    return 0;
  }
  if(!rc->body)
    rc->body = cJSON_Duplicate(body, 1);
  if(rc->hit && rc->lookup && rc->data) {
    /* Held in memory: answered now, without the thread pool. */
    cJSON *env = cJSON_ParseWithLength(rc->data, rc->data_len);
    if(env && !serve_envelope(r, env, rc->data_len, "hit"))
      return 1;
    free(rc->data); /* not an envelope: the file's copy decides */
    rc->data = NULL;
  }
  if(rc->hit && rc->lookup) {
    struct read_job *j = sb_calloc(1, sizeof(*j));

    j->store = rc->gc->store;
    memcpy(j->key, rc->key, CACHE_KEY_LEN);
    if(!req_offload(r, read_work, read_done, j))
      return 1;
    free(j);
    rc->hit = 0;
  }
  if(!rc->lookup) {
    capture(r, NULL);
    return 0;
  }
  return fly(r);
}

void cache_release(struct req *r)
{
  struct req_cache *rc = r->cache;

  if(!rc)
    return;
  if(rc->lead) {
    /* Ended without its answer complete: the waiters go on alone. */
    pthread_mutex_lock(&rc->gc->lock);
    flight_end(rc->gc, rc->lead, FL_FAILED, NULL);
    flight_unref(rc->gc, rc->lead);
    pthread_mutex_unlock(&rc->gc->lock);
  }
  waiter_leave(rc);
  canon_answer_free(rc->acc);
  cJSON_Delete(rc->body);
  free(rc->data);
  free(rc);
  r->cache = NULL;
}

void cache_settle(struct req *r)
{
  struct gw_cache *gc = r->gw->cache;
  const char *what = r->cache_result;

  if(!gc || !what)
    return;
  if(!strcmp(what, "miss"))
    atomic_fetch_add(&gc->misses, 1);
  else if(!strcmp(what, "bypass"))
    atomic_fetch_add(&gc->bypassed, 1);
  else
    atomic_fetch_add(!strcmp(what, "hit") ? &gc->hits : &gc->coalesced, 1);
  if(strcmp(what, "hit") && strcmp(what, "coalesced"))
    return;
  if(r->saved_usd < 0)
    r->saved_usd = r->cost_usd;
  r->cost_usd = 0;
}
