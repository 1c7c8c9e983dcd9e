#include "admission/admission.h"
#include "providers/provider.h"
#include "base/sb.h"
#include "codec/canon.h"
#include "router/routes.h"
#include "store/caps.h"

#include <cjson/cJSON.h>

#include <fnmatch.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The keys as loaded: sorted by hash for a binary search. A secret's
 * hash reveals nothing about the secret, so searching by it leaks
 * nothing; the final comparison is constant-time anyway. */
struct snapshot {
  struct store_key *keys;
  int n;
  struct store_price *prices; /* sorted by model */
  int nprices;
  struct store_model_caps *caps; /* sorted by model (store_caps_list) */
  int ncaps;
  struct route *routes;
  int nroutes;
  struct cache_policy *key_cache; /* keys[i]'s cache policy, parsed once */
};

static void routes_free(struct route *r, int n)
{
  for(int i = 0; i < n; i++)
    route_clear(&r[i]);
  free(r);
}

/* Per-key rate-limit state, kept across reloads (by key id). */
struct limiter {
  char id[40];
  double req;           /* request bucket: tokens left */
  double tok;           /* token bucket: may go negative after a big answer */
  int64_t last;         /* ms of the last refill */
  int64_t flight;       /* requests in flight */
  int spend_loaded;     /* spent holds the period's recorded spend */
  int64_t period_start; /* ms: start of the budget period spent is for */
  double spent;         /* USD settled in the period */
  double reserved;      /* USD held by requests in flight */
  struct limiter *next;
};

struct admission {
  char *path;
  struct adm_registry_source src; /* builds the provider registry */
  unsigned char admin_hash[STORE_KEY_HASH_LEN];
  int has_admin_env;
  char admin_tag[ADM_ADMIN_TAG_LEN + 1]; /* adm_admin_env_tag() */

  pthread_rwlock_t lock; /* guards snap and reg */
  struct snapshot snap;
  struct prov_registry *reg; /* one reference held here */
  pthread_mutex_t reg_mu;    /* one registry rebuild at a time */

  pthread_mutex_t lim_mu; /* guards limiters */
  struct limiter *limiters;

  pthread_mutex_t reload_mu; /* one reload at a time */

  /* Two watchers, so that a provider whose model list is slow to fetch
   * never holds up a key's revocation: [0] keys, prices and routes; [1]
   * providers. */
  struct watcher {
    struct admission *a;
    int providers;
    pthread_t thread;
    int started;
    struct store_keys_watch *conn; /* this thread's own */
    int64_t served; /* version loaded; -1 until the first (announce_mu) */
  } watch[2];
  pthread_mutex_t announce_mu; /* one report of the versions at a time */

  /* The providers' watcher serves two tables: the providers (the
   * registry, rebuilt here) and the MCP servers (whoever set mcp_src is
   * told). Their own counters, as last acted on: */
  int64_t prov_served;    /* providers' watcher thread only */
  pthread_mutex_t mcp_mu; /* guards mcp_src and mcp_served; held while
                           * the hook runs, so calls never overlap */
  struct adm_mcp_source mcp_src;
  int64_t mcp_served;
  pthread_mutex_t stop_mu;
  pthread_cond_t stop_cv;
  int stopping;
};

static int by_hash(const void *a, const void *b)
{
  return memcmp(((const struct store_key *)a)->hash,
                ((const struct store_key *)b)->hash, STORE_KEY_HASH_LEN);
}

static int by_model(const void *a, const void *b)
{
  return strcmp(((const struct store_price *)a)->model,
                ((const struct store_price *)b)->model);
}

/* Start (ms) of the budget period containing now_ms, UTC. */
static int64_t period_start(enum store_key_period p, int64_t now_ms)
{
  time_t t = (time_t)(now_ms / 1000);
  struct tm tm;

  if(p == STORE_PERIOD_TOTAL || p == STORE_PERIOD_NONE)
    return 0;
  gmtime_r(&t, &tm);
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  if(p == STORE_PERIOD_WEEKLY)
    tm.tm_mday -= (tm.tm_wday + 6) % 7; /* back to Monday */
  else if(p == STORE_PERIOD_MONTHLY)
    tm.tm_mday = 1;
  return (int64_t)timegm(&tm) * 1000;
}

static struct limiter *limiter_of(struct admission *a,
                                  const struct store_key *k, int64_t now);

/* Budgeted keys start from what the database says they spent in the
 * current period; after that the in-memory figure is the truth (the
 * database lags by the writer's queue). Blocking: reload context only. */
static void load_spend(struct admission *a, const struct snapshot *snap)
{
  int64_t now = sb_now_ms();

  for(int i = 0; i < snap->n; i++) {
    const struct store_key *k = &snap->keys[i];
    struct limiter *l;
    int64_t start;
    double usd = 0;
    char err[256];

    if(k->budget_usd < 0)
      continue;
    pthread_mutex_lock(&a->lim_mu);
    l = limiter_of(a, k, now);
    if(l->spend_loaded) {
      pthread_mutex_unlock(&a->lim_mu);
      continue;
    }
    pthread_mutex_unlock(&a->lim_mu);
    start = period_start(k->budget_period, now);
    if(store_key_spend(a->path, k->id, start, &usd, err, sizeof(err))) {
      fprintf(stderr, "switchboard: admission: spend of %s: %s\n", k->id, err);
      continue; /* tried again on the next reload */
    }
    pthread_mutex_lock(&a->lim_mu);
    if(!l->spend_loaded) {
      l->spend_loaded = 1;
      l->period_start = start;
      l->spent += usd;
    }
    pthread_mutex_unlock(&a->lim_mu);
  }
}

/* Parse the stored routes; one that does not parse (edited by hand) is
 * left out and said so, the others still serve. */
static void load_routes(struct admission *a, struct snapshot *snap)
{
  struct store_def *rows;
  char err[256];
  int n;

  if(store_defs_list(a->path, STORE_ROUTES, &rows, &n, err, sizeof(err))) {
    fprintf(stderr, "switchboard: admission: cannot load routes: %s\n", err);
    return;
  }
  snap->routes = n ? sb_calloc((size_t)n, sizeof(*snap->routes)) : NULL;
  for(int i = 0; i < n; i++) {
    cJSON *def = cJSON_Parse(rows[i].definition);
    if(route_parse(def, rows[i].name, &snap->routes[snap->nroutes], err,
                   sizeof(err)))
      fprintf(stderr, "switchboard: route '%s' ignored: %s\n", rows[i].name,
              err);
    else
      snap->nroutes++;
    cJSON_Delete(def);
  }
  store_defs_free(rows, n);
}

char **adm_route_names(struct admission *a, int *n)
{
  char **names;

  pthread_rwlock_rdlock(&a->lock);
  *n = a->snap.nroutes;
  names = sb_calloc((size_t)*n + 1, sizeof(*names));
  for(int i = 0; i < *n; i++)
    names[i] = sb_strdup(a->snap.routes[i].name);
  pthread_rwlock_unlock(&a->lock);
  return names;
}

int adm_route(struct admission *a, const char *name, struct route *out)
{
  int rc = SB_ENOTFOUND;

  pthread_rwlock_rdlock(&a->lock);
  for(int i = 0; i < a->snap.nroutes; i++)
    if(!strcmp(a->snap.routes[i].name, name)) {
      route_copy(out, &a->snap.routes[i]);
      rc = 0;
      break;
    }
  pthread_rwlock_unlock(&a->lock);
  return rc;
}

struct prov_registry *adm_registry(struct admission *a)
{
  struct prov_registry *reg;

  pthread_rwlock_rdlock(&a->lock);
  reg = prov_registry_ref(a->reg);
  pthread_rwlock_unlock(&a->lock);
  return reg;
}

/* Rebuild the registry when the providers table changed. Apart from the
 * keys' reload: a model-list fetch may take seconds, and a revoked key
 * must not wait for it. */
static int reload_registry(struct admission *a, int strict, char *err,
                           size_t errlen)
{
  struct prov_registry *fresh, *old;
  int rc;

  pthread_mutex_lock(&a->reg_mu);
  rc = a->src.load(a->src.ud, a->reg, strict, &fresh, err, errlen);
  if(!rc) {
    pthread_rwlock_wrlock(&a->lock);
    old = a->reg;
    a->reg = fresh;
    pthread_rwlock_unlock(&a->lock);
    prov_registry_unref(old);
  }
  pthread_mutex_unlock(&a->reg_mu);
  return rc;
}

int adm_reload_providers(struct admission *a)
{
  char err[512];
  int rc = reload_registry(a, 0, err, sizeof(err));

  if(rc)
    fprintf(stderr, "switchboard: cannot load the providers: %s\n", err);
  return rc;
}

/* Each key's cache policy, parsed once per load rather than per
 * request. The admin API stores only policies it checked; one that does
 * not parse (written by hand) counts as none, and says so. */
static void load_key_cache(struct snapshot *snap)
{
  snap->key_cache = sb_calloc((size_t)snap->n + 1, sizeof(*snap->key_cache));
  for(int i = 0; i < snap->n; i++) {
    cJSON *o = snap->keys[i].cache ? cJSON_Parse(snap->keys[i].cache) : NULL;
    char err[160];

    cache_policy_unset(&snap->key_cache[i]);
    if(o && cache_policy_parse(o, 0, &snap->key_cache[i], err, sizeof(err))) {
      cache_policy_unset(&snap->key_cache[i]);
      fprintf(stderr, "switchboard: admission: key %s: %s (ignored)\n",
              snap->keys[i].id, err);
    }
    cJSON_Delete(o);
  }
}

int adm_reload(struct admission *a)
{
  struct snapshot fresh, old;
  char err[256];
  int rc;

  memset(&fresh, 0, sizeof(fresh));
  pthread_mutex_lock(&a->reload_mu);
  rc = store_keys_list(a->path, &fresh.keys, &fresh.n, err, sizeof(err));
  if(!rc)
    rc = store_prices_list(a->path, &fresh.prices, &fresh.nprices, err,
                           sizeof(err));
  if(!rc)
    rc = store_caps_list(a->path, &fresh.caps, &fresh.ncaps, err, sizeof(err));
  if(rc) {
    pthread_mutex_unlock(&a->reload_mu);
    store_keys_free(fresh.keys, fresh.n);
    store_prices_free(fresh.prices, fresh.nprices);
    fprintf(stderr, "switchboard: admission: cannot load keys: %s\n", err);
    return rc;
  }
  if(fresh.n) /* qsort's base must not be NULL, even for no element */
    qsort(fresh.keys, (size_t)fresh.n, sizeof(*fresh.keys), by_hash);
  if(fresh.nprices)
    qsort(fresh.prices, (size_t)fresh.nprices, sizeof(*fresh.prices), by_model);
  load_key_cache(&fresh);
  load_spend(a, &fresh);
  load_routes(a, &fresh);
  pthread_rwlock_wrlock(&a->lock);
  old = a->snap;
  a->snap = fresh;
  pthread_rwlock_unlock(&a->lock);
  pthread_mutex_unlock(&a->reload_mu);
  store_keys_free(old.keys, old.n);
  free(old.key_cache);
  store_prices_free(old.prices, old.nprices);
  store_caps_free(old.caps, old.ncaps);
  routes_free(old.routes, old.nroutes);
  return 0;
}

/* Tell CLIs waiting on the database which versions this gateway serves
 * (store_gateways_wait), w's now being v (w NULL: no change). */
static void announce(struct admission *a, struct watcher *w, int64_t v)
{
  char err[256];

  pthread_mutex_lock(&a->announce_mu);
  if(w)
    w->served = v;
  if(store_gateway_seen(a->path, a->watch[0].served, a->watch[1].served, err,
                        sizeof(err)))
    fprintf(stderr, "switchboard: admission: cannot report the version: %s\n",
            err);
  pthread_mutex_unlock(&a->announce_mu);
}

/* Tell the MCP source that the mcp_servers table is at version v now, if
 * it was not already told. Without a source there is nobody to tell: v
 * counts as served (see adm_set_mcp_source). */
static void mcp_notify(struct admission *a, int64_t v)
{
  pthread_mutex_lock(&a->mcp_mu);
  if(v != a->mcp_served) {
    if(a->mcp_src.changed)
      a->mcp_src.changed(a->mcp_src.ud);
    a->mcp_served = v;
  }
  pthread_mutex_unlock(&a->mcp_mu);
}

void adm_set_mcp_source(struct admission *a, const struct adm_mcp_source *src)
{
  pthread_mutex_lock(&a->mcp_mu);
  if(src)
    a->mcp_src = *src;
  else
    memset(&a->mcp_src, 0, sizeof(a->mcp_src));
  pthread_mutex_unlock(&a->mcp_mu);
}

int adm_reload_mcp_servers(struct admission *a)
{
  struct store_keys_watch *w = NULL;
  int64_t c, p, mcp;
  int rc = store_watch_versions(a->path, &w, &c, &p, &mcp);

  store_keys_version_close(w);
  if(rc) {
    fprintf(stderr, "switchboard: admission: cannot read the version of the "
                    "MCP servers\n");
    return rc;
  }
  mcp_notify(a, mcp);
  return 0;
}

/* Load what w watches if its version moved; a failed load is tried again
 * on the next look, and not reported as served meanwhile. */
static void watch_once(struct watcher *w)
{
  struct admission *a = w->a;
  int64_t v[2], mcp;

  if(store_watch_versions(a->path, &w->conn, &v[0], &v[1], &mcp) ||
     v[w->providers] == w->served)
    return;
  if(!w->providers) {
    if(adm_reload(a))
      return;
  } else {
    /* v[1] counts both tables: act on the one that moved. */
    if(v[1] - mcp != a->prov_served) {
      if(adm_reload_providers(a))
        return;
      a->prov_served = v[1] - mcp;
    }
    mcp_notify(a, mcp);
  }
  announce(a, w, v[w->providers]);
}

static void *watch_main(void *arg)
{
  struct watcher *w = arg;
  struct admission *a = w->a;
  struct timespec ts;

  pthread_mutex_lock(&a->stop_mu);
  while(!a->stopping) {
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ADM_POLL_MS * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&a->stop_cv, &a->stop_mu, &ts);
    if(a->stopping)
      break;
    pthread_mutex_unlock(&a->stop_mu);
    watch_once(w);
    pthread_mutex_lock(&a->stop_mu);
  }
  pthread_mutex_unlock(&a->stop_mu);
  return NULL;
}

int adm_open(const char *db_path, const char *admin_secret,
             const struct adm_registry_source *src, struct admission **out,
             char *err, size_t errlen)
{
  struct admission *a = sb_calloc(1, sizeof(*a));
  int rc;

  *out = NULL;
  a->path = sb_strdup(db_path);
  a->src = *src;
  if(admin_secret && *admin_secret) {
    unsigned char tag[ADM_ADMIN_TAG_LEN / 2];
    static const char salt[] = "switchboard ui session admin tag";
    store_key_hash(admin_secret, a->admin_hash);
    a->has_admin_env = 1;
    /* Slow on purpose: the tag is stored, and SWITCHBOARD_ADMIN_KEY may
     * be a password a person chose. */
    if(!PKCS5_PBKDF2_HMAC(admin_secret, (int)strlen(admin_secret),
                          (const unsigned char *)salt, sizeof(salt) - 1, 100000,
                          EVP_sha256(), sizeof(tag), tag))
      abort(); /* SHA-256 always exists; a broken libcrypto */
    for(size_t i = 0; i < sizeof(tag); i++)
      snprintf(a->admin_tag + 2 * i, 3, "%02x", tag[i]);
    OPENSSL_cleanse(tag, sizeof(tag));
  }
  pthread_rwlock_init(&a->lock, NULL);
  pthread_mutex_init(&a->lim_mu, NULL);
  pthread_mutex_init(&a->reload_mu, NULL);
  pthread_mutex_init(&a->reg_mu, NULL);
  pthread_mutex_init(&a->announce_mu, NULL);
  pthread_mutex_init(&a->mcp_mu, NULL);
  pthread_mutex_init(&a->stop_mu, NULL);
  pthread_cond_init(&a->stop_cv, NULL);
  for(int i = 0; i < 2; i++)
    a->watch[i] = (struct watcher){.a = a, .providers = i, .served = -1};
  if(store_watch_versions(a->path, &a->watch[0].conn, &a->watch[0].served,
                          &a->watch[1].served, &a->mcp_served) ||
     (rc = adm_reload(a))) {
    snprintf(err, errlen, "cannot load the keys of %s", db_path);
    adm_close(a);
    return SB_EDB;
  }
  a->prov_served = a->watch[1].served - a->mcp_served;
  /* At start a provider that cannot be built stops the gateway: better
   * than serving without it and saying so only in a log. */
  if((rc = reload_registry(a, 1, err, errlen))) {
    adm_close(a);
    return rc;
  }
  announce(a, NULL, 0);
  for(int i = 0; i < 2; i++) {
    if(sb_thread_start(&a->watch[i].thread, i ? "sb-providers" : "sb-admission",
                       watch_main, &a->watch[i])) {
      snprintf(err, errlen, "cannot start the database watcher");
      adm_close(a);
      return SB_EIO;
    }
    a->watch[i].started = 1;
  }
  *out = a;
  return 0;
}

void adm_close(struct admission *a)
{
  struct limiter *l, *next;

  if(!a)
    return;
  pthread_mutex_lock(&a->stop_mu);
  a->stopping = 1;
  pthread_cond_broadcast(&a->stop_cv);
  pthread_mutex_unlock(&a->stop_mu);
  for(int i = 0; i < 2; i++) {
    if(a->watch[i].started)
      pthread_join(a->watch[i].thread, NULL);
    store_keys_version_close(a->watch[i].conn);
  }
  if(a->watch[0].started)
    store_gateway_gone(a->path);
  store_keys_free(a->snap.keys, a->snap.n);
  free(a->snap.key_cache);
  store_prices_free(a->snap.prices, a->snap.nprices);
  store_caps_free(a->snap.caps, a->snap.ncaps);
  routes_free(a->snap.routes, a->snap.nroutes);
  prov_registry_unref(a->reg);
  for(l = a->limiters; l; l = next) {
    next = l->next;
    free(l);
  }
  pthread_rwlock_destroy(&a->lock);
  pthread_mutex_destroy(&a->lim_mu);
  pthread_mutex_destroy(&a->reload_mu);
  pthread_mutex_destroy(&a->reg_mu);
  pthread_mutex_destroy(&a->announce_mu);
  pthread_mutex_destroy(&a->mcp_mu);
  pthread_mutex_destroy(&a->stop_mu);
  pthread_cond_destroy(&a->stop_cv);
  free(a->path);
  free(a);
}

int adm_required(struct admission *a)
{
  int n;

  if(a->has_admin_env)
    return 1;
  pthread_rwlock_rdlock(&a->lock);
  n = a->snap.n;
  pthread_rwlock_unlock(&a->lock);
  return n > 0;
}

static void deny(struct api_error *err, int status, const char *type,
                 const char *code, const char *msg)
{
  api_error_set(err, status, type, code, NULL, "%s", msg);
}

/* The limiter of key id, created full. Called with lim_mu held. */
static struct limiter *limiter_of(struct admission *a,
                                  const struct store_key *k, int64_t now)
{
  struct limiter *l;

  for(l = a->limiters; l; l = l->next)
    if(!strcmp(l->id, k->id))
      return l;
  l = sb_calloc(1, sizeof(*l));
  snprintf(l->id, sizeof(l->id), "%s", k->id);
  l->req = (double)k->rpm;
  l->tok = (double)k->tpm;
  l->last = now;
  l->next = a->limiters;
  a->limiters = l;
  return l;
}

/* Refill both buckets for the time passed, capped at a minute's worth. */
static void refill(struct limiter *l, const struct store_key *k, int64_t now)
{
  double dt = (double)(now - l->last);

  if(dt > 0) {
    l->req += dt * (double)k->rpm / 60000.0;
    l->tok += dt * (double)k->tpm / 60000.0;
    if(l->req > (double)k->rpm)
      l->req = (double)k->rpm;
    if(l->tok > (double)k->tpm)
      l->tok = (double)k->tpm;
    l->last = now;
  }
}

/* Seconds until the bucket (rate per minute) holds want again. */
static int wait_s(double have, double want, int64_t per_minute)
{
  double s = (want - have) * 60.0 / (double)per_minute;

  return s < 1 ? 1 : (int)(s + 0.999);
}

/* Take one request from k's limits, or fill err. Called with lim_mu. */
static int take(struct admission *a, const struct store_key *k, int64_t now,
                struct adm_grant *g, struct api_error *err)
{
  struct limiter *l = limiter_of(a, k, now);

  refill(l, k, now);
  if(k->max_parallel && l->flight >= k->max_parallel) {
    api_error_set(err, 429, "rate_limit_error", "rate_limit_exceeded", NULL,
                  "Key '%s' has %lld requests in flight, its limit "
                  "(max parallel requests).",
                  k->name, (long long)l->flight);
    err->retry_after_s = 1;
    return SB_EAGAIN;
  }
  if(k->rpm && l->req < 1.0) {
    api_error_set(err, 429, "rate_limit_error", "rate_limit_exceeded", NULL,
                  "Key '%s' is over its limit of %lld requests per minute.",
                  k->name, (long long)k->rpm);
    err->retry_after_s = wait_s(l->req, 1.0, k->rpm);
    return SB_EAGAIN;
  }
  if(k->tpm && l->tok <= 0.0) {
    api_error_set(err, 429, "rate_limit_error", "rate_limit_exceeded", NULL,
                  "Key '%s' is over its limit of %lld tokens per minute.",
                  k->name, (long long)k->tpm);
    err->retry_after_s = wait_s(l->tok, 1.0, k->tpm);
    return SB_EAGAIN;
  }
  if(k->rpm)
    l->req -= 1.0;
  l->flight++;
  g->in_flight = 1;
  g->rpm_limit = k->rpm ? k->rpm : -1;
  g->rpm_remaining = k->rpm ? (int64_t)l->req : -1;
  g->tpm_limit = k->tpm ? k->tpm : -1;
  g->tpm_remaining = k->tpm ? (int64_t)(l->tok > 0 ? l->tok : 0) : -1;
  return 0;
}

static char **strv_copy(char **v, int n)
{
  char **c = n ? sb_calloc((size_t)n, sizeof(char *)) : NULL;

  for(int i = 0; i < n; i++)
    c[i] = sb_strdup(v[i]);
  return c;
}

void adm_grant_clear(struct adm_grant *g)
{
  for(int i = 0; i < g->nmodels; i++)
    free(g->models[i]);
  free(g->models);
  g->models = NULL;
  g->nmodels = 0;
  for(int i = 0; i < g->ntools; i++)
    free(g->tools[i]);
  free(g->tools);
  g->tools = NULL;
  g->ntools = 0;
  free(g->summary_model);
  g->summary_model = NULL;
}

/* What a key's grant copies of it: who it is and its lists. k is in
 * a's snapshot, which the caller holds. */
static void grant_fill(const struct admission *a, struct adm_grant *g,
                       const struct store_key *k)
{
  g->cache = a->snap.key_cache[k - a->snap.keys];
  snprintf(g->key_id, sizeof(g->key_id), "%s", k->id);
  snprintf(g->name, sizeof(g->name), "%s", k->name);
  g->budget_usd = k->budget_usd;
  g->budget_period = k->budget_period;
  g->admin = k->role == STORE_KEY_ADMIN || k->role == STORE_KEY_VIEWER;
  g->read_only = k->role == STORE_KEY_VIEWER;
  g->models = strv_copy(k->models, k->nmodels);
  g->nmodels = k->nmodels;
  g->tools = strv_copy(k->mcp_tools, k->nmcp_tools);
  g->ntools = k->nmcp_tools;
  g->tools_set = k->mcp_tools_set;
  g->summary_model =
      k->context_summary_model ? sb_strdup(k->context_summary_model) : NULL;
}

/* The key whose secret hashes to h, valid at now_ms, or NULL with err
 * (401, or 403 for a gateway key where admin_only and for a viewer key
 * where not). Called with a->lock
 * held for reading; the key is the snapshot's. */
static const struct store_key *key_of(struct admission *a,
                                      const unsigned char *h, int64_t now_ms,
                                      int admin_only, struct api_error *err)
{
  struct store_key probe, *k;

  memcpy(probe.hash, h, STORE_KEY_HASH_LEN);
  k = a->snap.n ? bsearch(&probe, a->snap.keys, (size_t)a->snap.n,
                          sizeof(*a->snap.keys), by_hash)
                : NULL;
  if(!k || CRYPTO_memcmp(k->hash, h, STORE_KEY_HASH_LEN)) {
    deny(err, 401, "invalid_request_error", "invalid_api_key",
         "Incorrect API key provided.");
    return NULL;
  }
  if(k->revoked_at) {
    deny(err, 401, "invalid_request_error", "invalid_api_key",
         "This API key has been revoked.");
    return NULL;
  }
  if(k->expires_at && k->expires_at * 1000 <= now_ms) {
    deny(err, 401, "invalid_request_error", "invalid_api_key",
         "This API key has expired.");
    return NULL;
  }
  if(admin_only && k->role == STORE_KEY_GATEWAY) {
    deny(err, 403, "permission_error", "admin_key_required",
         "This endpoint needs the admin credential.");
    return NULL;
  }
  /* A viewer key is an operator's credential for looking, not an API
   * key: a leaked one must not spend anything. */
  if(!admin_only && k->role == STORE_KEY_VIEWER) {
    deny(err, 403, "permission_error", "read_only",
         "A viewer key is read-only: it may read the admin API and sign "
         "in to the dashboard, not call models or tools.");
    return NULL;
  }
  return k;
}

/* The start of adm_admit and adm_authenticate: an empty grant, and the
 * missing secret and the admin credential answered. 1 when the caller
 * goes on to the keys (h filled), else 0 or the error. */
static int grant_begin(struct admission *a, const char *secret,
                       struct adm_grant *g, unsigned char *h,
                       struct api_error *err, int *rc)
{
  memset(g, 0, sizeof(*g));
  cache_policy_unset(&g->cache);
  g->budget_usd = -1;
  g->rpm_limit = g->rpm_remaining = g->tpm_limit = g->tpm_remaining = -1;
  *rc = 0;
  if(!secret || !*secret) {
    deny(err, 401, "invalid_request_error", "missing_api_key",
         "You didn't provide an API key. Send it as 'Authorization: Bearer "
         "KEY' or 'x-api-key: KEY'.");
    *rc = SB_EINVAL;
    return 0;
  }
  store_key_hash(secret, h);
  if(a->has_admin_env && !CRYPTO_memcmp(h, a->admin_hash, STORE_KEY_HASH_LEN)) {
    snprintf(g->name, sizeof(g->name), "admin");
    g->admin = 1;
    return 0;
  }
  return 1;
}

int adm_authenticate(struct admission *a, const char *secret, int64_t now_ms,
                     struct adm_grant *g, struct api_error *err)
{
  unsigned char h[STORE_KEY_HASH_LEN];
  const struct store_key *k;
  int rc;

  if(!grant_begin(a, secret, g, h, err, &rc))
    return rc;
  pthread_rwlock_rdlock(&a->lock);
  k = key_of(a, h, now_ms, 0, err);
  if(k)
    grant_fill(a, g, k);
  pthread_rwlock_unlock(&a->lock);
  return k ? 0 : SB_EINVAL;
}

int adm_take(struct admission *a, struct adm_grant *g, int64_t now_ms,
             struct api_error *err)
{
  const struct store_key *k = NULL;
  int rc;

  /* The admin credential has no limits; a grant already holding one
   * request must not take a second it would never give back. */
  if(!g->key_id[0] || g->in_flight)
    return 0;
  pthread_rwlock_rdlock(&a->lock);
  for(int i = 0; i < a->snap.n; i++)
    if(!strcmp(a->snap.keys[i].id, g->key_id)) {
      k = &a->snap.keys[i];
      break;
    }
  if(!k || k->revoked_at || (k->expires_at && k->expires_at * 1000 <= now_ms)) {
    deny(err, 401, "invalid_request_error", "invalid_api_key",
         !k || k->revoked_at ? "This API key has been revoked."
                             : "This API key has expired.");
    rc = SB_EINVAL;
  } else {
    pthread_mutex_lock(&a->lim_mu);
    rc = take(a, k, now_ms, g, err);
    pthread_mutex_unlock(&a->lim_mu);
  }
  pthread_rwlock_unlock(&a->lock);
  return rc;
}

int adm_tool_allowed(const struct adm_grant *g, const char *name)
{
  if(!g->tools_set)
    return 1;
  for(int i = 0; name && i < g->ntools; i++)
    if(!fnmatch(g->tools[i], name, 0))
      return 1;
  return 0;
}

int adm_server_allowed(const struct adm_grant *g, const char *server)
{
  char all[160];
  int n;

  if(!g->tools_set)
    return 1;
  /* The whole server: a glob that admits the pattern "<server>__*" as
   * text admits every name the server could list. */
  n = snprintf(all, sizeof(all), "%s__*", server ? server : "");
  if(n < 0 || (size_t)n >= sizeof(all))
    return 0;
  return adm_tool_allowed(g, all);
}

int adm_admit(struct admission *a, const char *secret, int64_t now_ms,
              int admin_only, struct adm_grant *g, struct api_error *err)
{
  unsigned char h[STORE_KEY_HASH_LEN];
  const struct store_key *k;
  int rc = 0;

  if(!grant_begin(a, secret, g, h, err, &rc))
    return rc;
  pthread_rwlock_rdlock(&a->lock);
  k = key_of(a, h, now_ms, admin_only, err);
  if(!k)
    rc = SB_EINVAL;
  else {
    grant_fill(a, g, k);
    pthread_mutex_lock(&a->lim_mu);
    rc = take(a, k, now_ms, g, err);
    pthread_mutex_unlock(&a->lim_mu);
  }
  pthread_rwlock_unlock(&a->lock);
  if(rc)
    adm_grant_clear(g);
  return rc;
}

const char *adm_admin_env_tag(const struct admission *a)
{
  return a->has_admin_env ? a->admin_tag : NULL;
}

int adm_admit_as(struct admission *a, const char *key_id, int64_t now_ms,
                 struct adm_grant *g, struct api_error *err)
{
  const struct store_key *k = NULL;
  int rc = 0;

  memset(g, 0, sizeof(*g));
  cache_policy_unset(&g->cache);
  g->budget_usd = -1;
  g->rpm_limit = g->rpm_remaining = g->tpm_limit = g->tpm_remaining = -1;
  if(!key_id[0]) {
    snprintf(g->name, sizeof(g->name), "admin");
    g->admin = 1;
    return 0;
  }
  pthread_rwlock_rdlock(&a->lock);
  for(int i = 0; i < a->snap.n; i++)
    if(!strcmp(a->snap.keys[i].id, key_id)) {
      k = &a->snap.keys[i];
      break;
    }
  if(!k || k->revoked_at || (k->expires_at && k->expires_at * 1000 <= now_ms)) {
    deny(err, 401, "invalid_request_error", "invalid_api_key",
         "Incorrect API key provided.");
    rc = SB_EINVAL;
  } else {
    grant_fill(a, g, k);
    pthread_mutex_lock(&a->lim_mu);
    rc = take(a, k, now_ms, g, err);
    pthread_mutex_unlock(&a->lim_mu);
  }
  pthread_rwlock_unlock(&a->lock);
  if(rc)
    adm_grant_clear(g);
  return rc;
}

int adm_model_allowed(const struct adm_grant *g, const char *model,
                      struct api_error *err)
{
  if(!g->nmodels)
    return 0;
  for(int i = 0; i < g->nmodels; i++)
    if(model && !fnmatch(g->models[i], model, 0))
      return 0;
  api_error_set(err, 403, "permission_error", "model_not_allowed", "model",
                "Key '%s' may not use the model '%s'.", g->name,
                model ? model : "");
  return SB_EINVAL;
}

int adm_name_allowed(const struct adm_grant *g, const struct prov_registry *reg,
                     const char *name, struct api_error *err)
{
  if(!g->nmodels || !name)
    return adm_model_allowed(g, name, err);
  for(int i = 0; i < g->nmodels; i++)
    if(!fnmatch(g->models[i], name, 0))
      return 0;
  /* A bare upstream name may be any provider's: admitted when the
   * allow-list would admit it at one of them. This looks at the
   * providers only, never at their models, so the answer is the same
   * whether the model exists or not; what it resolves to is checked
   * again once resolved. A name with a '/' is taken as provider/model. */
  if(!strchr(name, '/'))
    for(int p = 0; reg && p < reg->nprovs; p++) {
      char *id = sb_asprintf("%s/%s", reg->provs[p].name, name);
      int ok = 0;

      for(int i = 0; i < g->nmodels && !ok; i++)
        ok = !fnmatch(g->models[i], id, 0);
      free(id);
      if(ok)
        return 0;
    }
  return adm_model_allowed(g, name, err);
}

void adm_release(struct admission *a, struct adm_grant *g,
                 const struct canon_usage *u, double cost)
{
  int64_t tokens = (u->prompt_tokens > 0 ? u->prompt_tokens : 0) +
                   (u->completion_tokens > 0 ? u->completion_tokens : 0);
  struct limiter *l;

  if(g->in_flight) {
    pthread_mutex_lock(&a->lim_mu);
    for(l = a->limiters; l; l = l->next)
      if(!strcmp(l->id, g->key_id)) {
        l->flight--;
        l->tok -= (double)tokens;
        /* Settle: the hold goes, the actual cost stays. A request that
         * failed before any usage costs nothing. */
        l->reserved -= g->reserved;
        if(l->reserved < 0)
          l->reserved = 0;
        if(cost > 0)
          l->spent += cost;
        break;
      }
    pthread_mutex_unlock(&a->lim_mu);
    g->in_flight = 0;
    g->reserved = 0;
  }
  adm_grant_clear(g);
}

int adm_price(struct admission *a, const char *provider, const char *model,
              struct adm_price *out)
{
  char full[256];
  const char *names[2] = {full, model};
  int found = 0;

  snprintf(full, sizeof(full), "%s/%s", provider, model);
  pthread_rwlock_rdlock(&a->lock);
  for(int i = 0; i < 2 && !found && a->snap.nprices; i++) {
    struct store_price probe = {.model = (char *)names[i]};
    const struct store_price *p =
        bsearch(&probe, a->snap.prices, (size_t)a->snap.nprices,
                sizeof(*a->snap.prices), by_model);
    if(p) {
      out->input = p->input;
      out->output = p->output;
      out->cached = p->cached >= 0 ? p->cached : p->input;
      found = 1;
    }
  }
  pthread_rwlock_unlock(&a->lock);
  return found ? 0 : SB_ENOTFOUND;
}

static int caps_by_model(const void *key, const void *elem)
{
  return strcmp(key, ((const struct store_model_caps *)elem)->model);
}

int adm_model_caps(struct admission *a, const char *provider, const char *model,
                   struct adm_model_caps *out)
{
  char full[256];
  const char *names[2] = {full, model};
  int found = 0;

  /* a name too long for full cannot be a row's: skip that probe */
  if((size_t)snprintf(full, sizeof(full), "%s/%s", provider, model) >=
     sizeof(full))
    names[0] = NULL;
  pthread_rwlock_rdlock(&a->lock);
  for(int i = 0; i < 2 && !found && a->snap.ncaps; i++) {
    const struct store_model_caps *c =
        names[i] ? bsearch(names[i], a->snap.caps, (size_t)a->snap.ncaps,
                           sizeof(*a->snap.caps), caps_by_model)
                 : NULL;
    if(c) {
      out->context_tokens = c->context_tokens;
      out->max_output_tokens = c->max_output_tokens;
      out->modalities = c->modalities;
      out->tools = c->tools;
      found = 1;
    }
  }
  pthread_rwlock_unlock(&a->lock);
  return found ? 0 : SB_ENOTFOUND;
}

double adm_cost(const struct adm_price *p, const struct canon_usage *u)
{
  int64_t prompt = u->prompt_tokens > 0 ? u->prompt_tokens : 0;
  int64_t cached = u->cached_tokens > 0 ? u->cached_tokens : 0;
  int64_t out = u->completion_tokens > 0 ? u->completion_tokens : 0;

  if(cached > prompt)
    cached = prompt;
  return ((double)(prompt - cached) * p->input + (double)cached * p->cached +
          (double)out * p->output) /
         1e6;
}

int adm_reserve(struct admission *a, struct adm_grant *g,
                const struct adm_target *targets, int ntargets,
                int64_t prompt_tokens, int64_t max_output, int64_t now_ms,
                struct api_error *err)
{
  struct adm_price price;
  struct limiter *l;
  double hold = 0;
  int rc = 0;

  if(!g->in_flight || g->budget_usd < 0)
    return 0;
  for(int i = 0; i < ntargets; i++) {
    const struct adm_target *t = &targets[i];
    double h;

    if(adm_price(a, t->provider, t->model, &price)) {
      api_error_set(err, 403, "permission_error", "model_not_priced", "model",
                    "Key '%s' has a budget, and the model '%s/%s' has no "
                    "price to charge it against; add one to the price table.",
                    g->name, t->provider, t->model);
      return SB_EINVAL;
    }
    /* The worst case: every prompt token uncached, every allowed output
     * token used, on the dearest target the request may reach. */
    h = ((double)prompt_tokens * price.input +
         (double)max_output * price.output) /
        1e6;
    if(h > hold)
      hold = h;
  }
  pthread_mutex_lock(&a->lim_mu);
  for(l = a->limiters; l; l = l->next)
    if(!strcmp(l->id, g->key_id))
      break;
  if(l) {
    int64_t start = period_start(g->budget_period, now_ms);
    if(start != l->period_start) {
      /* A new period: what was spent before no longer counts. */
      l->period_start = start;
      l->spent = 0;
    }
    if(l->spent + l->reserved + hold > g->budget_usd) {
      api_error_set(err, 429, "insufficient_quota", "insufficient_quota", NULL,
                    "Key '%s' is over its %s budget of $%.2f: $%.4f spent, "
                    "$%.4f held by requests in flight, this request may "
                    "cost up to $%.4f.",
                    g->name, store_key_period_name(g->budget_period),
                    g->budget_usd, l->spent, l->reserved, hold);
      /* Money, not time, is short: retrying at once would fail again
       * (held requests may settle below their holds, but that is for
       * the client to decide, not its SDK's retry loop). */
      err->final = 1;
      rc = SB_EAGAIN;
    } else {
      l->reserved += hold;
      g->reserved += hold;
    }
  }
  pthread_mutex_unlock(&a->lim_mu);
  return rc;
}
