/*
 * admin.c - the admin API: keys, prices, routes, providers, usage.
 *
 *   GET    /admin/v1/keys        list (never secrets or hashes)
 *   POST   /admin/v1/keys        create; 201 with the secret, shown once
 *   GET    /admin/v1/keys/{id}   one key (id or name)
 *   POST   /admin/v1/keys/{id}   edit the fields given
 *   DELETE /admin/v1/keys/{id}   revoke
 *   GET|POST /admin/v1/prices, DELETE /admin/v1/prices/{model}
 *   GET|POST /admin/v1/models, GET|POST|DELETE /admin/v1/models/{model}
 *   GET|POST /admin/v1/routes, GET|POST|DELETE /admin/v1/routes/{name}
 *   GET|POST /admin/v1/providers, GET|POST|DELETE /admin/v1/providers/{name}
 *   GET|POST /admin/v1/mcp/servers, GET|POST|DELETE
 * /admin/v1/mcp/servers/{name} GET    /admin/v1/usage, /admin/v1/usage.csv,
 * /admin/v1/requests GET    /admin/v1/mcp/calls
 *
 * The route needs the admin credential (gateway/http.c). Database work
 * blocks, so it runs on the thread pool; a change reloads the in-memory
 * keys there too, before the answer goes out, so it holds from the next
 * request on every worker.
 */
#include "admission/admission.h"
#include "gateway/admin.h"
#include "gateway/http.h"
#include "gateway/mcp.h"
#include "base/sb.h"
#include "gateway/cli.h"
#include "config/config.h"
#include "config/mcp_server.h"
#include "providers/provider.h"
#include "router/cache_policy.h"
#include "router/routes.h"
#include "store/stats.h"
#include "store/usage.h"
#include "store/keys.h"
#include "store/mcp.h"
#include "store/caps.h"
#include "gateway/server.h"

#include <stdlib.h>
#include <string.h>

enum admin_op {
  OP_LIST,
  OP_CREATE,
  OP_GET,
  OP_EDIT,
  OP_REVOKE,
  OP_PRICES,     /* GET /admin/v1/prices */
  OP_PRICE_SET,  /* POST /admin/v1/prices */
  OP_PRICE_DROP, /* DELETE /admin/v1/prices/{model} */
  OP_CAPS,       /* GET /admin/v1/models */
  OP_CAP_GET,    /* GET /admin/v1/models/{model} */
  OP_CAP_SET,    /* POST /admin/v1/models[/{model}] */
  OP_CAP_DROP,   /* DELETE /admin/v1/models/{model} */
  OP_DEFS,       /* GET /admin/v1/{routes,providers,mcp/servers} */
  OP_DEF_GET,    /* GET /admin/v1/{routes,providers,mcp/servers}/{name} */
  OP_DEF_SET,    /* POST /admin/v1/{routes,...}[/{name}] */
  OP_DEF_DROP,   /* DELETE /admin/v1/{routes,...}/{name} */
};

struct admin_job {
  enum admin_op op;
  const char *db;
  struct admission *adm;
  char *id;             /* OP_GET, OP_EDIT, OP_REVOKE */
  struct store_key key; /* OP_CREATE spec; OP_EDIT the edited key */
  unsigned edits;       /* OP_EDIT: which fields the body set (E_*) */
  char secret[STORE_KEY_SECRET_MAX];
  struct store_key *keys; /* result */
  int nkeys;
  struct store_price price;   /* OP_PRICE_SET */
  struct store_price *prices; /* OP_PRICES result */
  int nprices;
  struct store_model_caps cap;   /* OP_CAP_SET */
  struct store_model_caps *caps; /* OP_CAP* result */
  int ncaps;
  enum store_table table; /* OP_DEF_* */
  char *def;              /* OP_DEF_SET: the definition (JSON text) */
  struct store_def *defs; /* OP_DEF_* result */
  int ndefs;
  int rc;
  char err[256];
};

#define E_NAME     (1u << 0)
#define E_MODELS   (1u << 1)
#define E_RPM      (1u << 2)
#define E_TPM      (1u << 3)
#define E_PARALLEL (1u << 4)
#define E_BUDGET   (1u << 5)
#define E_PERIOD   (1u << 6)
#define E_EXPIRES  (1u << 7)
#define E_TAGS     (1u << 8)
#define E_TOOLS    (1u << 9)
#define E_SUMMARY  (1u << 10)
#define E_CACHE    (1u << 11)

static void job_free(struct admin_job *j)
{
  store_keys_free(j->keys, j->nkeys);
  store_prices_free(j->prices, j->nprices);
  free(j->price.model);
  store_caps_free(j->caps, j->ncaps);
  free(j->cap.model);
  store_defs_free(j->defs, j->ndefs);
  free(j->def);
  free(j->key.name);
  for(int i = 0; i < j->key.nmodels; i++)
    free(j->key.models[i]);
  free(j->key.models);
  for(int i = 0; i < j->key.ntags; i++)
    free(j->key.tags[i]);
  free(j->key.tags);
  for(int i = 0; i < j->key.nmcp_tools; i++)
    free(j->key.mcp_tools[i]);
  free(j->key.mcp_tools);
  free(j->key.context_summary_model);
  free(j->key.cache);
  free(j->id);
  free(j);
}

/* The key whose id or name is id, out of keys; NULL if none. */
static struct store_key *find(struct store_key *keys, int n, const char *id)
{
  for(int i = 0; i < n; i++)
    if(!strcmp(keys[i].id, id) || !strcmp(keys[i].name, id))
      return &keys[i];
  return NULL;
}

static char **dup_strv(char **v, int n)
{
  char **o = n ? sb_calloc((size_t)n, sizeof(*o)) : NULL;

  for(int i = 0; i < n; i++)
    o[i] = sb_strdup(v[i]);
  return o;
}

/* Apply the fields the body set to k (the stored key). */
static void apply_edits(struct store_key *k, const struct admin_job *j)
{
  const struct store_key *e = &j->key;

  if(j->edits & E_NAME) {
    free(k->name);
    k->name = sb_strdup(e->name);
  }
  if(j->edits & E_MODELS) {
    for(int i = 0; i < k->nmodels; i++)
      free(k->models[i]);
    free(k->models);
    k->models = dup_strv(e->models, e->nmodels);
    k->nmodels = e->nmodels;
  }
  if(j->edits & E_TAGS) {
    for(int i = 0; i < k->ntags; i++)
      free(k->tags[i]);
    free(k->tags);
    k->tags = dup_strv(e->tags, e->ntags);
    k->ntags = e->ntags;
  }
  if(j->edits & E_TOOLS) {
    for(int i = 0; i < k->nmcp_tools; i++)
      free(k->mcp_tools[i]);
    free(k->mcp_tools);
    k->mcp_tools = dup_strv(e->mcp_tools, e->nmcp_tools);
    k->nmcp_tools = e->nmcp_tools;
    k->mcp_tools_set = e->mcp_tools_set;
  }
  if(j->edits & E_RPM)
    k->rpm = e->rpm;
  if(j->edits & E_TPM)
    k->tpm = e->tpm;
  if(j->edits & E_PARALLEL)
    k->max_parallel = e->max_parallel;
  if(j->edits & E_BUDGET)
    k->budget_usd = e->budget_usd;
  if(j->edits & E_PERIOD)
    k->budget_period = e->budget_period;
  if(j->edits & E_EXPIRES)
    k->expires_at = e->expires_at;
  if(j->edits & E_SUMMARY) {
    free(k->context_summary_model);
    k->context_summary_model =
        e->context_summary_model ? sb_strdup(e->context_summary_model) : NULL;
  }
  if(j->edits & E_CACHE) {
    free(k->cache);
    k->cache = e->cache ? sb_strdup(e->cache) : NULL;
  }
}

static void job_work(void *ud)
{
  struct admin_job *j = ud;
  struct store_key *k, *created = NULL;

  switch(j->op) {
  case OP_DEF_SET:
  case OP_DEF_DROP:
    j->rc = j->op == OP_DEF_SET ? store_defs_set(j->db, j->table, j->id, j->def,
                                                 j->err, sizeof(j->err))
                                : store_defs_delete(j->db, j->table, j->id,
                                                    j->err, sizeof(j->err));
    if(j->rc)
      return;
    /* A new provider's model list is fetched here, so the answer says
     * whether it is served. */
    if(j->table == STORE_PROVIDERS)
      adm_reload_providers(j->adm);
    else if(j->table == STORE_MCP_SERVERS)
      adm_reload_mcp_servers(j->adm); /* the federation takes it in */
    else
      adm_reload(j->adm);
    __attribute__((fallthrough));
  case OP_DEFS:
  case OP_DEF_GET:
    j->rc = store_defs_list(j->db, j->table, &j->defs, &j->ndefs, j->err,
                            sizeof(j->err));
    return;
  case OP_PRICE_SET:
  case OP_PRICE_DROP:
    j->rc = j->op == OP_PRICE_SET
                ? store_prices_set(j->db, &j->price, j->err, sizeof(j->err))
                : store_prices_delete(j->db, j->id, j->err, sizeof(j->err));
    if(j->rc)
      return;
    adm_reload(j->adm);
    /* answer with the whole table */
    __attribute__((fallthrough));
  case OP_PRICES:
    j->rc = store_prices_list(j->db, &j->prices, &j->nprices, j->err,
                              sizeof(j->err));
    return;
  case OP_CAP_SET:
  case OP_CAP_DROP:
    j->rc = j->op == OP_CAP_SET
                ? store_caps_set(j->db, &j->cap, j->err, sizeof(j->err))
                : store_caps_delete(j->db, j->id, j->err, sizeof(j->err));
    if(j->rc)
      return;
    adm_reload(j->adm); /* served from the next request on */
    if(j->op == OP_CAP_DROP)
      return;
    __attribute__((fallthrough));
  case OP_CAPS:
  case OP_CAP_GET:
    j->rc = store_caps_list(j->db, &j->caps, &j->ncaps, j->err, sizeof(j->err));
    return;
  case OP_CREATE:
    j->rc = store_keys_create(j->db, &j->key, j->secret, &created, j->err,
                              sizeof(j->err));
    if(!j->rc) {
      j->keys = created;
      j->nkeys = 1;
      adm_reload(j->adm);
    }
    return;
  case OP_REVOKE:
    j->rc = store_keys_revoke(j->db, j->id, j->err, sizeof(j->err));
    if(!j->rc)
      adm_reload(j->adm);
    break;
  default: break;
  }
  if(j->rc)
    return;
  j->rc = store_keys_list(j->db, &j->keys, &j->nkeys, j->err, sizeof(j->err));
  if(j->rc || j->op != OP_EDIT)
    return;
  k = find(j->keys, j->nkeys, j->id);
  if(!k) {
    j->rc = SB_ENOTFOUND;
    return;
  }
  apply_edits(k, j);
  j->rc = store_keys_update(j->db, k, j->err, sizeof(j->err));
  if(!j->rc)
    adm_reload(j->adm);
}

void admin_respond(struct req *r, int status, cJSON *o)
{
  char *json = cJSON_PrintUnformatted(o);

  cJSON_Delete(o);
  if(!json)
    abort();
  req_respond_json(r, status, json, strlen(json));
  free(json);
}

static const char *what_of(const struct admin_job *j)
{
  if(j->op == OP_PRICE_DROP)
    return "price for";
  if(j->op >= OP_CAPS && j->op <= OP_CAP_DROP)
    return "capabilities for";
  if(j->op < OP_DEFS)
    return "key";
  if(j->table == STORE_MCP_SERVERS)
    return "MCP server";
  return j->table == STORE_PROVIDERS ? "provider" : "route";
}

/* One target's state from what the router tracks: down once it has
 * failed enough times in a row to be cooled down (the router then lets
 * one probe through after ROUTE_COOLDOWN_MS), degraded after fewer
 * failures, up after a success, unknown before any attempt. */
static const char *health_state(const struct route_health *h)
{
  if(h->fails >= ROUTE_COOLDOWN_FAILS)
    return "down";
  if(h->fails > 0)
    return "degraded";
  return h->ewma_ttfb_ms >= 0 ? "up" : "unknown";
}

/* "health" of provider name: the router's in-memory view of each of its
 * models it has tried through a route, and a state for the provider
 * (unknown: nothing measured; up or down: every measured model is;
 * else degraded). Per process: each gateway sees its own attempts. */
static cJSON *health_json(struct route_stats *stats, const char *name)
{
  struct route_health *h = NULL;
  int n = stats ? route_stats_health(stats, name, sb_now_ms(), &h) : 0;
  int known = 0, up = 0, down = 0;
  cJSON *o = cJSON_CreateObject(), *models;

  cJSON_AddStringToObject(o, "source", "routes");
  models = cJSON_CreateArray();
  for(int i = 0; i < n; i++) {
    const char *state = health_state(&h[i]);
    cJSON *m = cJSON_CreateObject();

    known += strcmp(state, "unknown") != 0;
    up += !strcmp(state, "up");
    down += !strcmp(state, "down");
    cJSON_AddStringToObject(m, "model", h[i].model);
    cJSON_AddStringToObject(m, "state", state);
    if(h[i].ewma_ttfb_ms >= 0)
      cJSON_AddNumberToObject(m, "ewma_ttfb_ms",
                              (double)(int64_t)(h[i].ewma_ttfb_ms + 0.5));
    else
      cJSON_AddNullToObject(m, "ewma_ttfb_ms");
    cJSON_AddNumberToObject(m, "consecutive_failures", h[i].fails);
    cJSON_AddBoolToObject(m, "cooling_down", h[i].cool_ms > 0);
    cJSON_AddNumberToObject(m, "cooldown_remaining_ms", (double)h[i].cool_ms);
    cJSON_AddItemToArray(models, m);
  }
  route_health_free(h, n);
  cJSON_AddStringToObject(o, "state",
                          !known          ? "unknown"
                          : up == known   ? "up"
                          : down == known ? "down"
                                          : "degraded");
  cJSON_AddItemToObject(o, "models", models);
  return o;
}

/* A stored definition as the API shows it: the object with its name,
 * who owns it and, for a provider, whether the gateway serves it now and
 * how its targets have fared. */
static cJSON *def_json(const struct store_def *d, enum store_table table,
                       const struct prov_registry *reg,
                       struct route_stats *stats)
{
  cJSON *o = cJSON_Parse(d->definition), *def;

  if(!o)
    o = cJSON_CreateObject();
  def = cJSON_CreateObject();
  cJSON_AddStringToObject(def, "name", d->name);
  while(o->child) {
    cJSON *it = cJSON_DetachItemViaPointer(o, o->child);
    if(strcmp(it->string, "name"))
      cJSON_AddItemToObject(def, it->string, it);
    else
      cJSON_Delete(it);
  }
  cJSON_Delete(o);
  cJSON_AddStringToObject(def, "source",
                          d->source == STORE_SRC_CONFIG ? "config" : "api");
  cJSON_AddNumberToObject(def, "updated_at", (double)d->updated_at);
  if(table == STORE_PROVIDERS) {
    const struct prov *p = prov_find(reg, d->name, strlen(d->name));
    cJSON *st = cJSON_AddObjectToObject(def, "status");

    /* Never the credential: only whether the gateway has one. */
    cJSON_AddBoolToObject(st, "served", p != NULL);
    if(p && p->models_known) {
      cJSON *m = cJSON_AddArrayToObject(st, "models");
      for(int i = 0; i < p->nmodels; i++)
        cJSON_AddItemToArray(m, cJSON_CreateString(p->models[i]));
    } else {
      cJSON_AddNullToObject(st, "models");
    }
    cJSON_AddItemToObject(def, "health", health_json(stats, d->name));
  }
  return def;
}

/* The providers that are part of the gateway, not of the table (echo):
 * not editable, so apart from "data", in the same shape. */
static cJSON *builtin_json(const struct prov_registry *reg,
                           struct route_stats *stats)
{
  cJSON *a = cJSON_CreateArray();

  for(int i = 0; reg && i < reg->nprovs; i++) {
    const struct prov *p = &reg->provs[i];
    cJSON *o, *st, *m;

    if(p->cfg)
      continue;
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", p->name);
    cJSON_AddStringToObject(o, "kind", p->name);
    cJSON_AddStringToObject(o, "source", "builtin");
    st = cJSON_AddObjectToObject(o, "status");
    cJSON_AddBoolToObject(st, "served", 1);
    m = cJSON_AddArrayToObject(st, "models");
    for(int k = 0; k < p->nmodels; k++)
      cJSON_AddItemToArray(m, cJSON_CreateString(p->models[k]));
    cJSON_AddItemToObject(o, "health", health_json(stats, p->name));
    cJSON_AddItemToArray(a, o);
  }
  return a;
}

/* An MCP server as the API shows it: {name, object, source, definition
 * (as written), updated_at, status (the federation's, when it tells)}. */
static cJSON *mcp_json(const struct store_def *d, struct gw *gw)
{
  cJSON *o = cJSON_CreateObject(), *def = cJSON_Parse(d->definition);

  cJSON_AddStringToObject(o, "name", d->name);
  cJSON_AddStringToObject(o, "object", "mcp.server");
  cJSON_AddStringToObject(o, "source",
                          d->source == STORE_SRC_CONFIG ? "config" : "api");
  cJSON_AddItemToObject(o, "definition", def ? def : cJSON_CreateObject());
  cJSON_AddNumberToObject(o, "updated_at", (double)d->updated_at);
  {
    cJSON *st = mcp_gw_status(gw, d->name);
    if(st)
      cJSON_AddItemToObject(o, "status", st);
  }
  return o;
}

static void respond_mcp(struct req *r, const struct admin_job *j)
{
  struct api_error err;
  cJSON *o, *data;

  if(j->op == OP_DEF_DROP) {
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", j->id);
    cJSON_AddStringToObject(o, "object", "mcp.server");
    cJSON_AddBoolToObject(o, "deleted", 1);
    admin_respond(r, 200, o);
    return;
  }
  if(j->op == OP_DEFS) {
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    data = cJSON_AddArrayToObject(o, "data");
    for(int i = 0; i < j->ndefs; i++)
      cJSON_AddItemToArray(data, mcp_json(&j->defs[i], r->gw));
    admin_respond(r, 200, o);
    return;
  }
  for(int i = 0; i < j->ndefs; i++)
    if(!strcmp(j->defs[i].name, j->id)) {
      admin_respond(r, 200, mcp_json(&j->defs[i], r->gw));
      return;
    }
  api_error_set(&err, 404, "invalid_request_error", "not_found", NULL,
                "No MCP server '%s'.", j->id);
  req_respond_error(r, &err);
}

static void respond_defs(struct req *r, const struct admin_job *j)
{
  struct prov_registry *reg = adm_registry(j->adm);
  struct api_error err;
  cJSON *o, *data;

  if(j->op == OP_DEF_GET ||
     (j->op == OP_DEF_SET && j->table == STORE_PROVIDERS)) {
    for(int i = 0; i < j->ndefs; i++)
      if(!strcmp(j->defs[i].name, j->id)) {
        admin_respond(r, j->op == OP_DEF_GET ? 200 : 201,
                      def_json(&j->defs[i], j->table, reg, r->gw->route_stats));
        prov_registry_unref(reg);
        return;
      }
    prov_registry_unref(reg);
    api_error_set(&err, 404, "invalid_request_error", "not_found", NULL,
                  "No %s '%s'.", what_of(j), j->id);
    req_respond_error(r, &err);
    return;
  }
  /* A route change answers with the whole table, as it always did. */
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "object", "list");
  data = cJSON_AddArrayToObject(o, "data");
  for(int i = 0; i < j->ndefs; i++)
    cJSON_AddItemToArray(
        data, def_json(&j->defs[i], j->table, reg, r->gw->route_stats));
  if(j->table == STORE_PROVIDERS)
    cJSON_AddItemToObject(o, "builtin", builtin_json(reg, r->gw->route_stats));
  prov_registry_unref(reg);
  admin_respond(r, 200, o);
}

/* The list, one row (by the model in the path or the body), or a
 * deletion's receipt. */
static void respond_caps(struct req *r, const struct admin_job *j)
{
  const char *model = j->op == OP_CAP_SET ? j->cap.model : j->id;
  struct api_error err;
  cJSON *o, *data;

  if(j->op == OP_CAP_DROP) {
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", j->id);
    cJSON_AddStringToObject(o, "object", "model.caps");
    cJSON_AddBoolToObject(o, "deleted", 1);
    admin_respond(r, 200, o);
    return;
  }
  if(j->op == OP_CAPS) {
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    data = cJSON_AddArrayToObject(o, "data");
    for(int i = 0; i < j->ncaps; i++)
      cJSON_AddItemToArray(data, store_caps_json(&j->caps[i]));
    admin_respond(r, 200, o);
    return;
  }
  for(int i = 0; i < j->ncaps; i++)
    if(!strcmp(j->caps[i].model, model)) {
      admin_respond(r, 200, store_caps_json(&j->caps[i]));
      return;
    }
  /* deleted by someone else between the write and the read */
  api_error_set(&err, 404, "invalid_request_error", "not_found", NULL,
                "No capabilities for '%s'.", model);
  req_respond_error(r, &err);
}

static void job_done(struct req *r, void *ud)
{
  struct admin_job *j = ud;
  int64_t now = sb_now_ms() / 1000;
  struct api_error err;
  struct store_key *k;

  if(!r) {
    job_free(j);
    return;
  }
  if(j->rc == SB_ENOTFOUND) {
    api_error_set(&err, 404, "invalid_request_error", "not_found", NULL,
                  "No %s '%s'.", what_of(j), j->id ? j->id : "");
    req_respond_error(r, &err);
  } else if(j->rc == SB_EINVAL) {
    api_error_set(&err, 400, "invalid_request_error", "invalid_value", NULL,
                  "%s", j->err);
    req_respond_error(r, &err);
  } else if(j->rc) {
    api_error_set(&err, 503, "server_error", "store_unavailable", NULL,
                  "The key store is not available: %s", j->err);
    req_respond_error(r, &err);
  } else if(j->op >= OP_DEFS && j->table == STORE_MCP_SERVERS) {
    respond_mcp(r, j);
  } else if(j->op >= OP_DEFS) {
    respond_defs(r, j);
  } else if(j->op == OP_PRICES || j->op == OP_PRICE_SET ||
            j->op == OP_PRICE_DROP) {
    cJSON *o = cJSON_CreateObject(), *data;
    cJSON_AddStringToObject(o, "object", "list");
    data = cJSON_AddArrayToObject(o, "data");
    for(int i = 0; i < j->nprices; i++) {
      const struct store_price *p = &j->prices[i];
      cJSON *e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "model", p->model);
      cJSON_AddNumberToObject(e, "input_per_mtok", p->input);
      cJSON_AddNumberToObject(e, "output_per_mtok", p->output);
      if(p->cached >= 0)
        cJSON_AddNumberToObject(e, "cached_input_per_mtok", p->cached);
      else
        cJSON_AddNullToObject(e, "cached_input_per_mtok");
      cJSON_AddItemToArray(data, e);
    }
    admin_respond(r, 200, o);
  } else if(j->op >= OP_CAPS && j->op <= OP_CAP_DROP) {
    respond_caps(r, j);
  } else if(j->op == OP_LIST) {
    cJSON *o = cJSON_CreateObject(), *data;
    cJSON_AddStringToObject(o, "object", "list");
    data = cJSON_AddArrayToObject(o, "data");
    for(int i = 0; i < j->nkeys; i++)
      cJSON_AddItemToArray(data, store_key_json(&j->keys[i], now));
    admin_respond(r, 200, o);
  } else if(j->op == OP_CREATE) {
    cJSON *o = store_key_json(&j->keys[0], now);
    /* The only time the secret exists outside the client. */
    cJSON_AddStringToObject(o, "secret", j->secret);
    admin_respond(r, 201, o);
  } else if((k = find(j->keys, j->nkeys, j->id))) {
    admin_respond(r, 200, store_key_json(k, now));
  } else {
    api_error_set(&err, 404, "invalid_request_error", "not_found", NULL,
                  "No key '%s'.", j->id);
    req_respond_error(r, &err);
  }
  job_free(j);
}

/* Run j on the thread pool; job_done answers. */
static void run_job(struct req *r, struct admin_job *j, const char *what)
{
  struct api_error err;

  if(req_offload(r, job_work, job_done, j)) {
    job_free(j);
    api_error_set(&err, 500, "server_error", "internal_error", NULL,
                  "Could not reach the %s.", what);
    req_respond_error(r, &err);
  }
}

/* --- request bodies ------------------------------------------------------ */

int admin_bad(struct api_error *err, const char *param, const char *msg)
{
  api_error_set(err, 400, "invalid_request_error", "invalid_value", param,
                "Invalid '%s': %s", param, msg);
  return SB_EINVAL;
}

static int strv(const cJSON *v, const char *param, char ***out, int *n,
                struct api_error *err)
{
  const cJSON *it;

  if(cJSON_IsNull(v))
    return 0;
  if(!cJSON_IsArray(v))
    return admin_bad(err, param, "expected an array of strings.");
  cJSON_ArrayForEach(it, v)
  {
    if(!cJSON_IsString(it) || !it->valuestring[0])
      return admin_bad(err, param, "expected an array of non-empty strings.");
  }
  *n = cJSON_GetArraySize(v);
  *out = sb_calloc((size_t)*n + 1, sizeof(char *));
  for(int i = 0; i < *n; i++)
    (*out)[i] = sb_strdup(cJSON_GetArrayItem(v, i)->valuestring);
  return 0;
}

static int count(const cJSON *v, const char *param, int64_t *out,
                 struct api_error *err)
{
  if(cJSON_IsNull(v)) {
    *out = 0;
    return 0;
  }
  if(!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e15 ||
     v->valuedouble != (double)(int64_t)v->valuedouble)
    return admin_bad(err, param, "expected a non-negative integer (0: none).");
  *out = (int64_t)v->valuedouble;
  return 0;
}

/* Read a create or edit body into j. */
static int parse_body(struct admin_job *j, const cJSON *body,
                      struct api_error *err)
{
  const cJSON *v;
  struct store_key *k = &j->key;
  int rc = 0;

  k->budget_usd = -1;
  cJSON_ArrayForEach(v, body)
  {
    const char *f = v->string;
    if(!strcmp(f, "name")) {
      if(!cJSON_IsString(v) || !v->valuestring[0])
        return admin_bad(err, f, "expected a non-empty string.");
      free(k->name);
      k->name = sb_strdup(v->valuestring);
      j->edits |= E_NAME;
    } else if(!strcmp(f, "role")) {
      /* Who a secret is stays what it was made as: a new role is a new
       * key (and a new secret). */
      int role = cJSON_IsString(v) ? store_key_role_parse(v->valuestring) : -1;
      if(j->op != OP_CREATE)
        return admin_bad(err, f,
                         "a key's role cannot change: create a new key.");
      if(role < 0)
        return admin_bad(err, f, "expected gateway, admin or viewer.");
      k->role = (enum store_key_role)role;
    } else if(!strcmp(f, "models")) {
      rc = strv(v, f, &k->models, &k->nmodels, err);
      j->edits |= E_MODELS;
    } else if(!strcmp(f, "tags")) {
      rc = strv(v, f, &k->tags, &k->ntags, err);
      j->edits |= E_TAGS;
    } else if(!strcmp(f, "mcp_tools")) {
      /* null: any tool; []: none; else globs on "<server>__<tool>". */
      for(int i = 0; i < k->nmcp_tools; i++)
        free(k->mcp_tools[i]);
      free(k->mcp_tools);
      k->mcp_tools = NULL;
      k->nmcp_tools = 0;
      rc = strv(v, f, &k->mcp_tools, &k->nmcp_tools, err);
      k->mcp_tools_set = !cJSON_IsNull(v);
      j->edits |= E_TOOLS;
    } else if(!strcmp(f, "context_summary_model")) {
      /* null: trim; else what summarises the history left out. */
      if(!cJSON_IsNull(v) && (!cJSON_IsString(v) || !v->valuestring[0]))
        return admin_bad(err, f, "expected a model or route name, or null.");
      free(k->context_summary_model);
      k->context_summary_model =
          cJSON_IsString(v) ? sb_strdup(v->valuestring) : NULL;
      j->edits |= E_SUMMARY;
    } else if(!strcmp(f, "cache")) {
      /* null: none of its own; else a policy (router/cache_policy.h),
       * stored in its normal form. */
      struct cache_policy cp;
      char why[160];
      free(k->cache);
      k->cache = NULL;
      if(!cJSON_IsNull(v)) {
        if(cache_policy_parse(v, 0, &cp, why, sizeof(why)))
          return admin_bad(err, f, why);
        if(!cache_policy_empty(&cp)) {
          cJSON *n = cache_policy_json(&cp);
          k->cache = cJSON_PrintUnformatted(n);
          cJSON_Delete(n);
        }
      }
      j->edits |= E_CACHE;
    } else if(!strcmp(f, "rpm")) {
      rc = count(v, f, &k->rpm, err);
      j->edits |= E_RPM;
    } else if(!strcmp(f, "tpm")) {
      rc = count(v, f, &k->tpm, err);
      j->edits |= E_TPM;
    } else if(!strcmp(f, "max_parallel")) {
      rc = count(v, f, &k->max_parallel, err);
      j->edits |= E_PARALLEL;
    } else if(!strcmp(f, "expires_at")) {
      rc = count(v, f, &k->expires_at, err);
      j->edits |= E_EXPIRES;
    } else if(!strcmp(f, "budget_usd")) {
      if(cJSON_IsNull(v))
        k->budget_usd = -1;
      else if(!cJSON_IsNumber(v) || v->valuedouble < 0)
        return admin_bad(err, f, "expected a non-negative number or null.");
      else
        k->budget_usd = v->valuedouble;
      j->edits |= E_BUDGET;
    } else if(!strcmp(f, "budget_period")) {
      int p = cJSON_IsString(v) ? store_key_period_parse(v->valuestring) : -1;
      if(p < 0)
        return admin_bad(err, f, "expected daily, weekly, monthly or total.");
      k->budget_period = (enum store_key_period)p;
      j->edits |= E_PERIOD;
    } else {
      api_error_set(err, 400, "invalid_request_error", "unknown_parameter", f,
                    "Unknown parameter: '%s'.", f);
      return SB_EINVAL;
    }
    if(rc)
      return rc;
  }
  /* A budget alone is a monthly one. */
  if((j->edits & E_BUDGET) && !(j->edits & E_PERIOD) && k->budget_usd >= 0) {
    k->budget_period = STORE_PERIOD_MONTHLY;
    j->edits |= E_PERIOD;
  }
  if(j->op == OP_CREATE && !k->name)
    return admin_bad(err, "name", "a key needs a name.");
  return 0;
}

/* A price body: {model, input_per_mtok, output_per_mtok,
 * cached_input_per_mtok?}. */
static int parse_price(struct admin_job *j, const cJSON *body,
                       struct api_error *err)
{
  static const char *const num[] = {"input_per_mtok", "output_per_mtok",
                                    "cached_input_per_mtok"};
  double *slot[] = {&j->price.input, &j->price.output, &j->price.cached};
  const cJSON *v;

  j->price.cached = -1;
  cJSON_ArrayForEach(v, body)
  {
    size_t i;
    if(!strcmp(v->string, "model")) {
      if(!cJSON_IsString(v) || !v->valuestring[0])
        return admin_bad(err, "model", "expected a non-empty string.");
      free(j->price.model);
      j->price.model = sb_strdup(v->valuestring);
      continue;
    }
    for(i = 0; i < SB_ARRAY_LEN(num); i++)
      if(!strcmp(v->string, num[i]))
        break;
    if(i == SB_ARRAY_LEN(num)) {
      api_error_set(err, 400, "invalid_request_error", "unknown_parameter",
                    v->string, "Unknown parameter: '%s'.", v->string);
      return SB_EINVAL;
    }
    if(i == 2 && cJSON_IsNull(v))
      continue;
    if(!cJSON_IsNumber(v) || v->valuedouble < 0)
      return admin_bad(err, num[i],
                       "expected a non-negative number (USD per "
                       "million tokens).");
    *slot[i] = v->valuedouble;
  }
  if(!j->price.model)
    return admin_bad(err, "model", "a price needs a model.");
  if(!cJSON_HasObjectItem(body, "input_per_mtok") ||
     !cJSON_HasObjectItem(body, "output_per_mtok"))
    return admin_bad(err, "input_per_mtok",
                     "input_per_mtok and output_per_mtok are required.");
  return 0;
}

/* The body of a write, read into j by parse. 0, or -1 once the error is
 * answered and j freed. */
static int job_body(struct req *r, struct admin_job *j,
                    int (*parse)(struct admin_job *, const cJSON *,
                                 struct api_error *))
{
  struct api_error err;
  cJSON *body = chat_parse_body(r);

  if(!body || parse(j, body, &err)) {
    if(body)
      req_respond_error(r, &err);
    cJSON_Delete(body);
    job_free(j);
    return -1;
  }
  cJSON_Delete(body);
  return 0;
}

void admin_prices(struct req *r)
{
  const char *rest = r->path + strlen("/admin/v1/prices");
  struct admin_job *j = sb_calloc(1, sizeof(*j));
  struct api_error err;

  j->db = r->gw->cfg->database;
  j->adm = r->gw->adm;
  j->op = r->method == LWSHUMETH_POST     ? OP_PRICE_SET
          : r->method == LWSHUMETH_DELETE ? OP_PRICE_DROP
                                          : OP_PRICES;
  if(*rest == '/' && rest[1])
    j->id = sb_strdup(rest + 1);
  if((j->op == OP_PRICE_DROP) != (j->id != NULL)) {
    job_free(j);
    api_error_set(&err, 405, "invalid_request_error", "method_not_allowed",
                  NULL,
                  "Use GET or POST /admin/v1/prices, DELETE "
                  "/admin/v1/prices/{model}.");
    req_respond_error(r, &err);
    return;
  }
  if(j->op == OP_PRICE_SET) {
    if(job_body(r, j, parse_price))
      return;
  }
  run_job(r, j, "price table");
}

/* A capabilities body: {model?, context_tokens, max_output_tokens?,
 * modalities?, tools?}, plus the read-only object and updated_at of a GET
 * sent back. The model comes from the path when there is one (a body's
 * must then agree). Absent or null optional fields are unknown. */
static int parse_caps(struct admin_job *j, const cJSON *body,
                      struct api_error *err)
{
  struct store_model_caps *c = &j->cap;
  const cJSON *v;
  char why[256];

  c->tools = -1;
  if(j->id)
    c->model = sb_strdup(j->id);
  if(!cJSON_IsObject(body)) {
    api_error_set(err, 400, "invalid_request_error", "invalid_value", NULL,
                  "Expected a JSON object.");
    return SB_EINVAL;
  }
  cJSON_ArrayForEach(v, body)
  {
    const char *f = v->string;
    if(!strcmp(f, "object") || !strcmp(f, "updated_at"))
      continue;
    if(!strcmp(f, "model")) {
      if(!cJSON_IsString(v) || !v->valuestring[0])
        return admin_bad(err, f, "expected a non-empty string.");
      if(c->model && strcmp(c->model, v->valuestring))
        return admin_bad(err, f, "the body names another model than the path.");
      if(!c->model)
        c->model = sb_strdup(v->valuestring);
    } else if(!strcmp(f, "context_tokens") || !strcmp(f, "max_output_tokens")) {
      int64_t *slot = f[0] == 'c' ? &c->context_tokens : &c->max_output_tokens;
      if(f[0] == 'm' && cJSON_IsNull(v)) {
        *slot = 0;
        continue;
      }
      if(!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e12 ||
         v->valuedouble != (double)(int64_t)v->valuedouble)
        return admin_bad(err, f, "expected a positive integer (tokens).");
      *slot = (int64_t)v->valuedouble;
    } else if(!strcmp(f, "modalities")) {
      const cJSON *m;
      c->modalities = 0;
      if(cJSON_IsNull(v))
        continue;
      if(!cJSON_IsArray(v))
        return admin_bad(err, f,
                         "expected an array of \"text\", \"image\", \"audio\", "
                         "\"file\", or null.");
      cJSON_ArrayForEach(m, v)
      {
        unsigned bit = store_modality_bit(cJSON_GetStringValue(m));
        if(!bit)
          return admin_bad(
              err, f,
              "expected an array of \"text\", \"image\", \"audio\", "
              "\"file\", or null.");
        c->modalities |= bit;
      }
    } else if(!strcmp(f, "tools")) {
      if(cJSON_IsNull(v))
        c->tools = -1;
      else if(cJSON_IsBool(v))
        c->tools = cJSON_IsTrue(v);
      else
        return admin_bad(err, f, "expected true, false or null.");
    } else {
      api_error_set(err, 400, "invalid_request_error", "unknown_parameter", f,
                    "Unknown parameter: '%s'.", f);
      return SB_EINVAL;
    }
  }
  if(!c->model)
    return admin_bad(err, "model", "capabilities need a model.");
  if(!c->context_tokens)
    return admin_bad(err, "context_tokens", "context_tokens is required.");
  if(store_caps_validate(c, why, sizeof(why))) {
    api_error_set(err, 400, "invalid_request_error", "invalid_value", NULL,
                  "%s.", why);
    return SB_EINVAL;
  }
  return 0;
}

void admin_models(struct req *r)
{
  const char *rest = r->path + strlen("/admin/v1/models");
  struct admin_job *j = sb_calloc(1, sizeof(*j));
  struct api_error err;

  j->db = r->gw->cfg->database;
  j->adm = r->gw->adm;
  if(*rest == '/' && rest[1])
    j->id = sb_strdup(rest + 1);
  j->op = r->method == LWSHUMETH_POST     ? OP_CAP_SET
          : r->method == LWSHUMETH_DELETE ? OP_CAP_DROP
          : j->id                         ? OP_CAP_GET
                                          : OP_CAPS;
  if(j->op == OP_CAP_DROP && !j->id) {
    job_free(j);
    api_error_set(&err, 405, "invalid_request_error", "method_not_allowed",
                  NULL,
                  "Use GET or POST /admin/v1/models, GET, POST or DELETE "
                  "/admin/v1/models/{model}.");
    req_respond_error(r, &err);
    return;
  }
  if(j->op == OP_CAP_SET) {
    if(job_body(r, j, parse_caps))
      return;
  }
  run_job(r, j, "model capabilities");
}

/* A POST to /admin/v1/mcp/servers/{name} holds the definition; an entry
 * as GET shows it ({name, object:"mcp.server", definition, ...}), sent
 * back by a client editing a copy, holds it in "definition". */
static const cJSON *mcp_def(const cJSON *body)
{
  const cJSON *obj = cJSON_GetObjectItemCaseSensitive(body, "object");
  const cJSON *def = cJSON_GetObjectItemCaseSensitive(body, "definition");

  if(cJSON_IsString(obj) && !strcmp(obj->valuestring, "mcp.server") &&
     cJSON_IsObject(def))
    return def;
  return body;
}

/* Check a definition before it reaches the database: the same parser
 * the gateway builds routes and providers with. The body is consumed
 * into j->def (without its name). */
static int check_def(struct admin_job *j, cJSON *body,
                     const struct config_security *sec, struct api_error *err)
{
  char why[512];
  int rc;

  cJSON_DeleteItemFromObjectCaseSensitive(body, "name");
  /* Read-only fields of a GET, sent back by a client editing a copy. */
  cJSON_DeleteItemFromObjectCaseSensitive(body, "source");
  cJSON_DeleteItemFromObjectCaseSensitive(body, "updated_at");
  cJSON_DeleteItemFromObjectCaseSensitive(body, "status");
  cJSON_DeleteItemFromObjectCaseSensitive(body, "health");
  if(j->table == STORE_ROUTES) {
    struct route rt;
    rc = route_parse(body, j->id, &rt, why, sizeof(why));
    if(!rc)
      route_clear(&rt);
  } else if(j->table == STORE_MCP_SERVERS) {
    struct config_mcp_server m;
    char *text;

    rc = config_mcp_server_parse(&m, mcp_def(body), j->id, "definition", why,
                                 sizeof(why));
    /* Before the federation reads the environment or connects. */
    if(!rc)
      rc = config_mcp_server_allowed(sec, &m, why, sizeof(why));
    /* Stored as written (what parse kept), not as the body re-printed. */
    text = NULL;
    if(!rc) {
      text = m.definition;
      m.definition = NULL;
    }
    config_mcp_server_free(&m);
    if(!rc) {
      j->def = text;
      return 0;
    }
  } else {
    struct config_provider c;
    rc = config_provider_parse(&c, body, j->id, "provider", why, sizeof(why));
    /* Before anything reads the environment or connects: a definition
     * may only name allowed variables and reach allowed addresses. */
    if(!rc)
      rc = config_provider_allowed(sec, &c, why, sizeof(why));
    if(!rc)
      rc = prov_check(&c, "provider", 1, why, sizeof(why));
    config_provider_free(&c);
  }
  if(rc) {
    api_error_set(err, 400, "invalid_request_error", "invalid_value", NULL,
                  "Invalid %s: %s", what_of(j), why);
    return SB_EINVAL;
  }
  j->def = cJSON_PrintUnformatted(body);
  return 0;
}

static const char *table_label(enum store_table table)
{
  return table == STORE_ROUTES        ? "route table"
         : table == STORE_MCP_SERVERS ? "MCP server table"
                                      : "provider table";
}

/* /admin/v1/routes, /admin/v1/providers and /admin/v1/mcp/servers: the
 * same operations on three tables of named definitions. */
static void admin_defs(struct req *r, enum store_table table, const char *base)
{
  const char *rest = r->path + strlen(base);
  struct admin_job *j = sb_calloc(1, sizeof(*j));
  struct api_error err;
  cJSON *body;

  j->db = r->gw->cfg->database;
  j->adm = r->gw->adm;
  j->table = table;
  if(*rest == '/' && rest[1])
    j->id = sb_strdup(rest + 1);
  j->op = r->method == LWSHUMETH_POST     ? OP_DEF_SET
          : r->method == LWSHUMETH_DELETE ? OP_DEF_DROP
          : j->id                         ? OP_DEF_GET
                                          : OP_DEFS;
  if(j->op == OP_DEF_DROP && !j->id) {
    job_free(j);
    api_error_set(&err, 405, "invalid_request_error", "method_not_allowed",
                  NULL, "Use DELETE %s/{name}.", base);
    req_respond_error(r, &err);
    return;
  }
  if(j->op == OP_DEF_SET) {
    const cJSON *name;

    if(!(body = chat_parse_body(r))) {
      job_free(j);
      return;
    }
    name = cJSON_GetObjectItemCaseSensitive(body, "name");
    if(!j->id && cJSON_IsString(name))
      j->id = sb_strdup(name->valuestring);
    if(!j->id || !j->id[0] || strchr(j->id, '/') ||
       (cJSON_IsString(name) && strcmp(name->valuestring, j->id)) ||
       (table == STORE_MCP_SERVERS && !config_mcp_name_valid(j->id))) {
      admin_bad(
          &err, "name",
          table == STORE_ROUTES
              ? "a route needs a name without '/' (model names with '/' "
                "are provider/model), the same in the path and the body."
          : table == STORE_MCP_SERVERS
              ? "an MCP server needs a name of 1 to 32 of [A-Za-z0-9-] (no "
                "'_': its tools are named <server>__<tool>), the same in the "
                "path and the body."
              : "a provider needs a name of [A-Za-z0-9_.-], the same in the "
                "path and the body.");
      req_respond_error(r, &err);
    } else if(!check_def(j, body, &r->gw->cfg->security, &err)) {
      cJSON_Delete(body);
      run_job(r, j, table_label(table));
      return;
    } else {
      req_respond_error(r, &err);
    }
    cJSON_Delete(body);
    job_free(j);
    return;
  }
  run_job(r, j, table_label(table));
}

void admin_routes(struct req *r)
{
  admin_defs(r, STORE_ROUTES, "/admin/v1/routes");
}

void admin_providers(struct req *r)
{
  admin_defs(r, STORE_PROVIDERS, "/admin/v1/providers");
}

void admin_mcp_servers(struct req *r)
{
  admin_defs(r, STORE_MCP_SERVERS, "/admin/v1/mcp/servers");
}

void admin_keys(struct req *r)
{
  const char *rest = r->path + strlen("/admin/v1/keys");
  struct admin_job *j = sb_calloc(1, sizeof(*j));

  j->db = r->gw->cfg->database;
  j->adm = r->gw->adm;
  if(*rest == '/')
    j->id = sb_strdup(rest + 1);
  if(!j->id)
    j->op = r->method == LWSHUMETH_POST ? OP_CREATE : OP_LIST;
  else
    j->op = r->method == LWSHUMETH_POST     ? OP_EDIT
            : r->method == LWSHUMETH_DELETE ? OP_REVOKE
                                            : OP_GET;
  if(j->op == OP_CREATE || j->op == OP_EDIT) {
    if(job_body(r, j, parse_body))
      return;
  }
  run_job(r, j, "key store");
}

/* --- usage and the request log ------------------------------------------ */

enum query_kind { Q_USAGE, Q_CSV, Q_LOG, Q_ONE, Q_STATS };

struct query_job {
  const char *db;
  enum query_kind kind;
  char *args[7]; /* key, model, provider, route, api, group, bucket */
  struct store_usage_filter f;
  int limit; /* log: page size; stats: top */
  int64_t before_id, after_id, id;
  cJSON *out;
  int rc;
  char err[256];
};

enum { A_KEY, A_MODEL, A_PROVIDER, A_ROUTE, A_API, A_GROUP, A_BUCKET };

static const char *const query_args[] = {"key", "model", "provider", "route",
                                         "api", "group", "bucket"};

static void query_free(struct query_job *q)
{
  for(size_t i = 0; i < SB_ARRAY_LEN(q->args); i++)
    free(q->args[i]);
  cJSON_Delete(q->out);
  free(q);
}

static void query_work(void *ud)
{
  struct query_job *q = ud;

  q->f.key = q->args[A_KEY];
  q->f.model = q->args[A_MODEL];
  q->f.provider = q->args[A_PROVIDER];
  q->f.route = q->args[A_ROUTE];
  q->f.api = q->args[A_API];
  switch(q->kind) {
  case Q_LOG:
    q->rc = store_requests_page(q->db, &q->f, q->limit, q->before_id,
                                q->after_id, &q->out, q->err, sizeof(q->err));
    break;
  case Q_ONE:
    q->rc = store_request_get(q->db, q->id, &q->out, q->err, sizeof(q->err));
    break;
  case Q_STATS:
    q->rc = store_stats_query(q->db, &q->f, q->args[A_BUCKET], q->args[A_GROUP],
                              q->limit, &q->out, q->err, sizeof(q->err));
    break;
  case Q_USAGE:
  case Q_CSV:
    q->rc = store_usage_query(q->db, &q->f, q->args[A_GROUP], &q->out, q->err,
                              sizeof(q->err));
    break;
  }
}

static void query_done(struct req *r, void *ud)
{
  struct query_job *q = ud;
  struct api_error err;

  if(!r) {
    query_free(q);
    return;
  }
  if(q->rc == SB_EINVAL) {
    /* The store names the argument first: "group: expected …". */
    char param[32] = "";
    const char *why = q->err;
    if(sscanf(q->err, "%31[a-z_]:", param) == 1 &&
       !strncmp(q->err + strlen(param), ": ", 2))
      why += strlen(param) + 2;
    else
      snprintf(param, sizeof(param), "query");
    admin_bad(&err, param, why);
    req_respond_error(r, &err);
  } else if(q->rc == SB_ENOTFOUND) {
    api_error_set(&err, 404, "invalid_request_error", "not_found", NULL,
                  "No request record %lld.", (long long)q->id);
    req_respond_error(r, &err);
  } else if(q->rc) {
    api_error_set(&err, 503, "server_error", "store_unavailable", NULL,
                  "The usage store is not available: %s", q->err);
    req_respond_error(r, &err);
  } else if(q->kind == Q_CSV) {
    char *csv = store_usage_csv(q->out);
    req_add_header(r, "content-type", "text/csv; charset=utf-8");
    req_add_header(r, "content-disposition",
                   "attachment; filename=\"usage.csv\"");
    req_respond_json(r, 200, csv, strlen(csv));
    free(csv);
  } else {
    admin_respond(r, 200, q->out);
    q->out = NULL;
  }
  query_free(q);
}

/* A query parameter (lws decodes it), or NULL. Caller frees. */
static char *arg(struct req *r, const char *name)
{
  char key[40], b[512];
  const char *v;

  snprintf(key, sizeof(key), "%s=", name);
  v = lws_get_urlarg_by_name(r->wsi, key, b, sizeof(b));
  return v && *v ? sb_strdup(v) : NULL;
}

/* since/until: a date, an ISO 8601 UTC time or unix seconds. */
int admin_time_arg(struct req *r, const char *name, int64_t *ms,
                   struct api_error *err)
{
  char *v = arg(r, name);
  int64_t s;
  int rc = 0;

  if(v && cli_parse_time(v, &s))
    rc = admin_bad(err, name,
                   "expected YYYY-MM-DD, an ISO 8601 UTC time or unix "
                   "seconds.");
  else if(v)
    *ms = s * 1000;
  free(v);
  return rc;
}

/* A whole number in [min, max] (absent: *out unchanged). */
static int int_arg(struct req *r, const char *name, int64_t min, int64_t max,
                   int64_t *out, struct api_error *err)
{
  char *v = arg(r, name), *end;
  long long n;
  int rc = 0;

  if(v) {
    n = strtoll(v, &end, 10);
    if(*end || end == v || n < min || n > max) {
      char msg[96];
      snprintf(msg, sizeof(msg), "expected a whole number from %lld to %lld.",
               (long long)min, (long long)max);
      rc = admin_bad(err, name, msg);
    } else
      *out = n;
  }
  free(v);
  return rc;
}

/* status=ok|error|<code>: the request log's status range. */
static int status_arg(struct req *r, struct store_usage_filter *f,
                      struct api_error *err)
{
  char *v = arg(r, "status"), *end;
  long n;
  int rc = 0;

  if(!v)
    return 0;
  if(!strcmp(v, "ok"))
    f->status_min = 0, f->status_max = 399;
  else if(!strcmp(v, "error"))
    f->status_min = 400, f->status_max = 999;
  else if((n = strtol(v, &end, 10)) >= 100 && n <= 599 && !*end)
    f->status_min = f->status_max = (int)n;
  else
    rc = admin_bad(err, "status", "expected ok, error or an HTTP status code.");
  free(v);
  return rc;
}

/* stats' bucket=auto: minutes up to 3 hours, hours up to 7 days. */
static const char *auto_bucket(const struct store_usage_filter *f)
{
  int64_t span = f->until_ms - f->since_ms;

  return span <= 3 * 3600000LL    ? "minute"
         : span <= 7 * 86400000LL ? "hour"
                                  : "day";
}

void admin_usage(struct req *r)
{
  struct query_job *q = sb_calloc(1, sizeof(*q));
  const char *rest = "";
  struct api_error err;
  int64_t n;

  memset(&err, 0, sizeof(err));
  q->db = r->gw->cfg->database;
  q->kind = !strcmp(r->path, "/admin/v1/usage")       ? Q_USAGE
            : !strcmp(r->path, "/admin/v1/usage.csv") ? Q_CSV
            : !strcmp(r->path, "/admin/v1/stats")     ? Q_STATS
            : !strcmp(r->path, "/admin/v1/requests")  ? Q_LOG
                                                      : Q_ONE;
  if(q->kind == Q_ONE) {
    char *end;
    rest = r->path + strlen("/admin/v1/requests/");
    q->id = strtoll(rest, &end, 10);
    if(*end || end == rest || q->id < 1) {
      api_error_set(&err, 404, "invalid_request_error", "not_found", NULL, "%s",
                    "No such request record: expected its id.");
      req_respond_error(r, &err);
      query_free(q);
      return;
    }
  }
  for(size_t i = 0; i < SB_ARRAY_LEN(query_args); i++)
    q->args[i] = arg(r, query_args[i]);
  q->limit = q->kind == Q_STATS ? 5 : 100;
  n = q->limit;
  if(q->kind == Q_STATS) {
    q->f.until_ms = sb_now_ms();
    q->f.since_ms = q->f.until_ms - 86400000LL;
  }
  if(int_arg(r, q->kind == Q_STATS ? "top" : "limit", 1,
             q->kind == Q_STATS ? 100 : 1000, &n, &err) ||
     int_arg(r, "before_id", 0, INT64_MAX, &q->before_id, &err) ||
     int_arg(r, "after_id", 0, INT64_MAX, &q->after_id, &err) ||
     status_arg(r, &q->f, &err) ||
     admin_time_arg(r, "since", &q->f.since_ms, &err) ||
     admin_time_arg(r, "until", &q->f.until_ms, &err))
    goto fail;
  q->limit = (int)n;
  if(q->kind == Q_STATS) {
    if(!q->args[A_GROUP])
      q->args[A_GROUP] = sb_strdup("none");
    if(!q->args[A_BUCKET] || !strcmp(q->args[A_BUCKET], "auto")) {
      free(q->args[A_BUCKET]);
      q->args[A_BUCKET] = sb_strdup(auto_bucket(&q->f));
    }
  }
  if(!req_offload(r, query_work, query_done, q))
    return;
  api_error_set(&err, 500, "server_error", "internal_error", NULL,
                "Could not reach the usage store.");
fail:
  req_respond_error(r, &err);
  query_free(q);
}

/* --- MCP tool calls ------------------------------------------------------ */

struct calls_job {
  const char *db;
  char *key, *server, *tool;
  struct store_mcp_call_filter f;
  struct store_mcp_call *rows;
  int n;
  int rc;
  char err[256];
};

static void calls_free(struct calls_job *q)
{
  free(q->key);
  free(q->server);
  free(q->tool);
  store_mcp_calls_free(q->rows, q->n);
  free(q);
}

static void calls_work(void *ud)
{
  struct calls_job *q = ud;

  q->f.key_id = q->key;
  q->f.server = q->server;
  q->f.tool = q->tool;
  q->rc = store_mcp_calls_list(q->db, &q->f, &q->rows, &q->n, q->err,
                               sizeof(q->err));
}

static void calls_done(struct req *r, void *ud)
{
  struct calls_job *q = ud;
  struct api_error err;
  cJSON *o, *data;

  if(!r) {
    calls_free(q);
    return;
  }
  if(q->rc) {
    api_error_set(&err, 503, "server_error", "store_unavailable", NULL,
                  "The usage store is not available: %s", q->err);
    req_respond_error(r, &err);
    calls_free(q);
    return;
  }
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "object", "list");
  data = cJSON_AddArrayToObject(o, "data");
  for(int i = 0; i < q->n; i++)
    cJSON_AddItemToArray(data, store_mcp_call_json(&q->rows[i]));
  admin_respond(r, 200, o);
  calls_free(q);
}

void admin_mcp_calls(struct req *r)
{
  struct calls_job *q = sb_calloc(1, sizeof(*q));
  struct api_error err;
  char *v, *end;

  memset(&err, 0, sizeof(err));
  q->db = r->gw->cfg->database;
  q->key = arg(r, "key");
  q->server = arg(r, "server");
  q->tool = arg(r, "tool");
  if((v = arg(r, "limit"))) {
    long n = strtol(v, &end, 10);
    if(*end || n < 1 || n > 10000)
      admin_bad(&err, "limit", "expected a whole number from 1 to 10000.");
    else
      q->f.limit = (int)n;
  }
  free(v);
  if(err.status || admin_time_arg(r, "since", &q->f.since_ms, &err) ||
     admin_time_arg(r, "until", &q->f.until_ms, &err) ||
     req_offload(r, calls_work, calls_done, q)) {
    if(!err.status)
      api_error_set(&err, 500, "server_error", "internal_error", NULL,
                    "Could not reach the usage store.");
    req_respond_error(r, &err);
    calls_free(q);
  }
}
