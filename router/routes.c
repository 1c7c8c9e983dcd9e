#include "router/routes.h"
#include "base/sb.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const strategy_names[] = {"fallback", "weighted",
                                             "least-latency", "lowest-cost"};

const char *route_strategy_name(enum route_strategy s)
{
  return strategy_names[s];
}

void route_clear(struct route *r)
{
  free(r->name);
  free(r->summary_model);
  for(int i = 0; i < r->ntargets; i++) {
    free(r->targets[i].provider);
    free(r->targets[i].model);
  }
  memset(r, 0, sizeof(*r));
}

void route_copy(struct route *dst, const struct route *src)
{
  *dst = *src;
  dst->name = sb_strdup(src->name);
  dst->summary_model =
      src->summary_model ? sb_strdup(src->summary_model) : NULL;
  for(int i = 0; i < src->ntargets; i++) {
    dst->targets[i].provider = sb_strdup(src->targets[i].provider);
    dst->targets[i].model = sb_strdup(src->targets[i].model);
  }
}

static int fail(char *err, size_t errlen, const char *fmt, const char *a)
{
  sb_errf(err, errlen, fmt, a);
  return SB_EINVAL;
}

static int parse_target(const cJSON *t, struct route_target *out, char *err,
                        size_t errlen, int i)
{
  char where[32];
  const char *p = NULL, *m = NULL, *slash;
  const cJSON *w;

  snprintf(where, sizeof(where), "targets[%d]", i);
  out->weight = 1;
  if(cJSON_IsString(t)) {
    slash = strchr(t->valuestring, '/');
    if(!slash || slash == t->valuestring || !slash[1])
      return fail(err, errlen, "%s: expected \"provider/model\"", where);
    out->provider =
        sb_strndup(t->valuestring, (size_t)(slash - t->valuestring));
    out->model = sb_strdup(slash + 1);
    return 0;
  }
  if(!cJSON_IsObject(t))
    return fail(err, errlen, "%s: expected \"provider/model\" or an object",
                where);
  if(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "provider")))
    p = cJSON_GetObjectItemCaseSensitive(t, "provider")->valuestring;
  if(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "model")))
    m = cJSON_GetObjectItemCaseSensitive(t, "model")->valuestring;
  if(!p || !*p || !m || !*m)
    return fail(err, errlen, "%s: provider and model are required strings",
                where);
  w = cJSON_GetObjectItemCaseSensitive(t, "timeout_ms");
  if(w) {
    if(!cJSON_IsNumber(w) || w->valuedouble < 1 || w->valuedouble > 3.6e6 ||
       w->valuedouble != (double)(int)w->valuedouble)
      return fail(err, errlen, "%s.timeout_ms: expected an integer from 1",
                  where);
    out->timeout_ms = w->valueint;
  }
  w = cJSON_GetObjectItemCaseSensitive(t, "weight");
  if(w) {
    if(!cJSON_IsNumber(w) || w->valuedouble < 1 || w->valuedouble > 1e6 ||
       w->valuedouble != (double)(int)w->valuedouble)
      return fail(err, errlen, "%s.weight: expected an integer >= 1", where);
    out->weight = w->valueint;
  }
  out->provider = sb_strdup(p);
  out->model = sb_strdup(m);
  return 0;
}

/* A route's name is a model name clients send: printable, no spaces, and
 * without '/', which names a provider's model. */
static int valid_route_name(const char *s)
{
  size_t n = strlen(s);

  if(!n || n > ROUTE_NAME_MAX)
    return 0;
  for(; *s; s++)
    if((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '/')
      return 0;
  return 1;
}

/* "context": how a conversation turn on this route fits the window. */
static int parse_context(const cJSON *c, struct route *out, char *err,
                         size_t errlen)
{
  const cJSON *v, *s = cJSON_GetObjectItemCaseSensitive(c, "strategy");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "summary_model");
  const char *p;

  if(!cJSON_IsObject(c))
    return fail(err, errlen, "%s: expected an object", "context");
  cJSON_ArrayForEach(v, c)
  {
    if(strcmp(v->string, "strategy") && strcmp(v->string, "summary_model"))
      return fail(err, errlen, "context.%s: unknown field", v->string);
  }
  if(!cJSON_IsString(s) ||
     (strcmp(s->valuestring, "trim") && strcmp(s->valuestring, "summarize")))
    return fail(err, errlen, "%s: expected trim or summarize",
                "context.strategy");
  if(!strcmp(s->valuestring, "trim")) {
    if(m)
      return fail(err, errlen, "%s: only with strategy summarize",
                  "context.summary_model");
    return 0;
  }
  if(!cJSON_IsString(m) || !m->valuestring[0] ||
     strlen(m->valuestring) > 2 * ROUTE_NAME_MAX)
    return fail(err, errlen, "%s: expected a model or route name",
                "context.summary_model");
  for(p = m->valuestring; *p; p++)
    if((unsigned char)*p <= 0x20 || *p == 0x7f)
      return fail(err, errlen, "%s: no spaces or control characters",
                  "context.summary_model");
  out->summary_model = sb_strdup(m->valuestring);
  return 0;
}

int route_parse(const cJSON *o, const char *name, struct route *out, char *err,
                size_t errlen)
{
  const cJSON *v, *t;
  int rc = 0;

  memset(out, 0, sizeof(*out));
  cache_policy_unset(&out->cache);
  if(name && !valid_route_name(name)) {
    sb_errf(err, errlen,
            "name: 1 to %d printable bytes without spaces or '/' "
            "(provider/model names a provider's model)",
            ROUTE_NAME_MAX);
    return SB_EINVAL;
  }
  if(!cJSON_IsObject(o))
    return fail(err, errlen, "%s: expected an object", name ? name : "route");
  cJSON_ArrayForEach(v, o)
  {
    if(strcmp(v->string, "name") && strcmp(v->string, "strategy") &&
       strcmp(v->string, "targets") && strcmp(v->string, "retries") &&
       strcmp(v->string, "context") && strcmp(v->string, "cache"))
      return fail(err, errlen, "%s: unknown field", v->string);
  }
  v = cJSON_GetObjectItemCaseSensitive(o, "strategy");
  if(v) {
    size_t i;
    for(i = 0; i < SB_ARRAY_LEN(strategy_names); i++)
      if(cJSON_IsString(v) && !strcmp(v->valuestring, strategy_names[i]))
        break;
    if(i == SB_ARRAY_LEN(strategy_names))
      return fail(err, errlen,
                  "%s: expected fallback, weighted, "
                  "least-latency or lowest-cost",
                  "strategy");
    out->strategy = (enum route_strategy)i;
  }
  v = cJSON_GetObjectItemCaseSensitive(o, "retries");
  if(v) {
    if(!cJSON_IsNumber(v) || v->valuedouble < 0 ||
       v->valuedouble > ROUTE_MAX_RETRIES ||
       v->valuedouble != (double)(int)v->valuedouble)
      return fail(err, errlen, "%s: expected an integer from 0 to 5",
                  "retries");
    out->retries = v->valueint;
  }
  v = cJSON_GetObjectItemCaseSensitive(o, "targets");
  if(!cJSON_IsArray(v) || !cJSON_GetArraySize(v) ||
     cJSON_GetArraySize(v) > ROUTE_MAX_TARGETS)
    return fail(err, errlen, "%s: expected 1 to 16 targets", "targets");
  cJSON_ArrayForEach(t, v)
  {
    rc = parse_target(t, &out->targets[out->ntargets], err, errlen,
                      out->ntargets);
    if(rc)
      break;
    out->ntargets++;
  }
  v = cJSON_GetObjectItemCaseSensitive(o, "context");
  if(!rc && v)
    rc = parse_context(v, out, err, errlen);
  v = cJSON_GetObjectItemCaseSensitive(o, "cache");
  if(!rc && v)
    rc = cache_policy_parse(v, 1, &out->cache, err, errlen);
  if(rc) {
    route_clear(out);
    return rc;
  }
  out->name = sb_strdup(name ? name : "");
  return 0;
}

cJSON *route_json(const struct route *r)
{
  cJSON *o = cJSON_CreateObject(), *ts;

  cJSON_AddStringToObject(o, "name", r->name);
  cJSON_AddStringToObject(o, "strategy", strategy_names[r->strategy]);
  ts = cJSON_AddArrayToObject(o, "targets");
  for(int i = 0; i < r->ntargets; i++) {
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "provider", r->targets[i].provider);
    cJSON_AddStringToObject(t, "model", r->targets[i].model);
    cJSON_AddNumberToObject(t, "weight", r->targets[i].weight);
    if(r->targets[i].timeout_ms)
      cJSON_AddNumberToObject(t, "timeout_ms", r->targets[i].timeout_ms);
    cJSON_AddItemToArray(ts, t);
  }
  cJSON_AddNumberToObject(o, "retries", r->retries);
  if(r->summary_model) {
    cJSON *c = cJSON_AddObjectToObject(o, "context");
    cJSON_AddStringToObject(c, "strategy", "summarize");
    cJSON_AddStringToObject(c, "summary_model", r->summary_model);
  }
  if(!cache_policy_empty(&r->cache))
    cJSON_AddItemToObject(o, "cache", cache_policy_json(&r->cache));
  return o;
}

/* ---- health and latency ---- */

struct target_stat {
  char *key;           /* "provider/model" */
  double ewma_ttfb_ms; /* < 0: not measured yet */
  int fails;           /* consecutive failures */
  int64_t cool_until;  /* ms */
  struct target_stat *next;
};

struct route_stats {
  pthread_mutex_t mu;
  struct target_stat *head;
};

struct route_stats *route_stats_new(void)
{
  struct route_stats *s = sb_calloc(1, sizeof(*s));

  pthread_mutex_init(&s->mu, NULL);
  return s;
}

void route_stats_free(struct route_stats *s)
{
  struct target_stat *t, *next;

  if(!s)
    return;
  for(t = s->head; t; t = next) {
    next = t->next;
    free(t->key);
    free(t);
  }
  pthread_mutex_destroy(&s->mu);
  free(s);
}

/* The stat of t, created on first use. Called with mu held. */
static struct target_stat *stat_of(struct route_stats *s,
                                   const struct route_target *t)
{
  char key[512];
  struct target_stat *st;

  snprintf(key, sizeof(key), "%s/%s", t->provider, t->model);
  for(st = s->head; st; st = st->next)
    if(!strcmp(st->key, key))
      return st;
  st = sb_calloc(1, sizeof(*st));
  st->key = sb_strdup(key);
  st->ewma_ttfb_ms = -1;
  st->next = s->head;
  s->head = st;
  return st;
}

void route_stats_report(struct route_stats *s, const struct route_target *t,
                        int ok, int64_t ttfb_ms, int64_t now_ms)
{
  struct target_stat *st;

  pthread_mutex_lock(&s->mu);
  st = stat_of(s, t);
  if(ok) {
    st->fails = 0;
    st->cool_until = 0;
    /* A fifth of each new sample: recent enough to follow a provider
     * that slows down, smooth enough not to flap on one slow answer. */
    st->ewma_ttfb_ms = st->ewma_ttfb_ms < 0
                           ? (double)ttfb_ms
                           : st->ewma_ttfb_ms * 0.8 + (double)ttfb_ms * 0.2;
  } else if(++st->fails >= ROUTE_COOLDOWN_FAILS) {
    /* Also after a failed half-open probe: cool again at once. */
    st->cool_until = now_ms + ROUTE_COOLDOWN_MS;
  }
  pthread_mutex_unlock(&s->mu);
}

int route_stats_health(struct route_stats *s, const char *provider,
                       int64_t now_ms, struct route_health **out)
{
  size_t plen = strlen(provider);
  struct target_stat *st;
  int n = 0, cap = 0;

  *out = NULL;
  pthread_mutex_lock(&s->mu);
  for(st = s->head; st; st = st->next) {
    struct route_health *h;

    /* key is "provider/model"; a provider's name holds no '/'. */
    if(strncmp(st->key, provider, plen) || st->key[plen] != '/')
      continue;
    if(n == cap) {
      cap = cap ? cap * 2 : 8;
      *out = sb_realloc(*out, sizeof(**out) * (size_t)cap);
    }
    h = &(*out)[n++];
    h->model = sb_strdup(st->key + plen + 1);
    h->ewma_ttfb_ms = st->ewma_ttfb_ms;
    h->fails = st->fails;
    h->cool_ms = st->cool_until > now_ms ? st->cool_until - now_ms : 0;
  }
  pthread_mutex_unlock(&s->mu);
  return n;
}

void route_health_free(struct route_health *h, int n)
{
  for(int i = 0; i < n; i++)
    free(h[i].model);
  free(h);
}

struct cand {
  int index;
  int cooled;
  double key; /* what the strategy sorts by */
};

static int by_cand(const void *a, const void *b)
{
  const struct cand *x = a, *y = b;

  if(x->cooled != y->cooled)
    return x->cooled - y->cooled;
  if(x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return x->index - y->index; /* stable: configured order breaks ties */
}

int route_plan(const struct route *rt, struct route_stats *s, int64_t now_ms,
               double (*cost)(void *ud, const struct route_target *t), void *ud,
               double rnd, int *order)
{
  struct cand c[ROUTE_MAX_TARGETS];
  int n = rt->ntargets, total = 0, pick = -1;

  pthread_mutex_lock(&s->mu);
  for(int i = 0; i < n; i++) {
    struct target_stat *st = stat_of(s, &rt->targets[i]);
    c[i].index = i;
    c[i].cooled = st->cool_until > now_ms;
    c[i].key = i;
    if(rt->strategy == ROUTE_LEAST_LATENCY)
      /* Unmeasured targets first: that is how they get measured. */
      c[i].key = st->ewma_ttfb_ms;
    else if(rt->strategy == ROUTE_LOWEST_COST) {
      double p = cost ? cost(ud, &rt->targets[i]) : -1;
      c[i].key = p < 0 ? 1e300 : p;
    }
    if(!c[i].cooled)
      total += rt->targets[i].weight;
  }
  pthread_mutex_unlock(&s->mu);
  if(rt->strategy == ROUTE_WEIGHTED && total > 0) {
    double at = rnd * total;
    for(int i = 0; i < n; i++) {
      if(c[i].cooled)
        continue;
      at -= rt->targets[i].weight;
      if(at < 0) {
        pick = i;
        break;
      }
    }
    if(pick >= 0)
      c[pick].key = -1; /* first; the rest keep their order */
  }
  qsort(c, (size_t)n, sizeof(*c), by_cand);
  for(int i = 0; i < n; i++)
    order[i] = c[i].index;
  return n;
}
