#include "gateway/registry.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/sb.h"
#include "net/upstream.h"
#include "providers/adapter.h"
#include "providers/openai.h"
#include "store/keys.h"
#include "config/mcp_server.h"

#include <cjson/cJSON.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Seed one table from the file's entries; say which rows an operator
 * took over. */
static int seed_table(const char *db, enum store_table table,
                      const struct store_def *defs, int n, char *err,
                      size_t errlen)
{
  char **kept = NULL;
  int rc = store_defs_seed(db, table, defs, n, &kept, err, errlen);

  for(int i = 0; kept && kept[i]; i++) {
    log_event(LOG_WARN,
              "the database's copy, edited through the admin API or the CLI, "
              "wins over the config file's",
              LOG_S(table == STORE_PROVIDERS     ? "provider"
                    : table == STORE_MCP_SERVERS ? "mcp_server"
                                                 : "route",
                    kept[i]),
              LOG_END);
    free(kept[i]);
  }
  free(kept);
  return rc;
}

int registry_seed(const struct config *cfg, char *err, size_t errlen)
{
  struct store_def *defs;
  cJSON *routes;
  const cJSON *r;
  int n = 0, rc;

  /* A provider the registry could not build is the file's mistake: say
   * so now, naming it as the file does, not after it reached the
   * database. */
  for(int i = 0; i < cfg->nproviders; i++) {
    char path[48];
    snprintf(path, sizeof(path), "config: providers[%d]", i);
    if((rc = prov_check(&cfg->providers[i], path, 1, err, errlen)))
      return rc;
  }
  defs = sb_calloc((size_t)cfg->nproviders + 1, sizeof(*defs));
  for(int i = 0; i < cfg->nproviders; i++) {
    defs[i].name = cfg->providers[i].name;
    defs[i].definition = cfg->providers[i].definition;
  }
  rc = seed_table(cfg->database, STORE_PROVIDERS, defs, cfg->nproviders, err,
                  errlen);
  free(defs);
  if(rc)
    return rc;

  routes = cfg->routes ? cJSON_Parse(cfg->routes) : NULL;
  defs = sb_calloc((size_t)cJSON_GetArraySize(routes) + 1, sizeof(*defs));
  cJSON_ArrayForEach(r, routes)
  {
    defs[n].name = r->string;
    defs[n++].definition = cJSON_PrintUnformatted(r);
  }
  rc = seed_table(cfg->database, STORE_ROUTES, defs, n, err, errlen);
  for(int i = 0; i < n; i++)
    free(defs[i].definition);
  free(defs);
  cJSON_Delete(routes);
  if(rc)
    return rc;

  /* The MCP servers: config_validate() checked them already. */
  defs = sb_calloc((size_t)cfg->nmcp_servers + 1, sizeof(*defs));
  for(int i = 0; i < cfg->nmcp_servers; i++) {
    defs[i].name = cfg->mcp_servers[i].name;
    defs[i].definition = cfg->mcp_servers[i].definition;
  }
  rc = seed_table(cfg->database, STORE_MCP_SERVERS, defs, cfg->nmcp_servers,
                  err, errlen);
  free(defs);
  return rc;
}

/* Fetch the model list of each provider of reg that has none (blocking). */
static void fetch_models(struct prov_registry *reg,
                         const struct config_security *sec)
{
  for(int i = 0; i < reg->nprovs; i++) {
    struct prov *p = &reg->provs[i];
    const struct prov_adapter *a = p->adapter;
    struct prov_http h;
    char *body = NULL, **models;
    size_t len = 0;
    long status = 0;
    int n, rc;

    if(p->models_known || p->kind == PROV_ECHO ||
       (a && (!a->build_models || !a->parse_models)))
      continue;
    if(a)
      a->build_models(p, &h);
    else
      prov_openai_build_models(p, &h);
    rc = upstream_fetch_blocking(&h, REGISTRY_FETCH_TIMEOUT_MS,
                                 sec->allow_link_local, &status, &body, &len);
    prov_http_free(&h);
    if(!rc && status == 200 &&
       !(a ? a->parse_models(body, len, &models, &n)
           : prov_openai_parse_models(body, len, &models, &n))) {
      prov_set_models(p, models, n);
      log_event(LOG_INFO, "fetched model list", LOG_S("provider", p->name),
                LOG_I("models", n), LOG_END);
    } else {
      log_event(LOG_WARN,
                "could not fetch the model list; any model name is passed "
                "to this provider",
                LOG_S("provider", p->name), LOG_I("status", status), LOG_END);
    }
    free(body);
  }
}

/* The rows as one string: a registry built from the same string needs
 * no rebuild, even when it left a broken row out. Lines cannot run
 * together: neither a name nor stored JSON text holds a newline. */
static char *origin_of(const struct store_def *rows, int n)
{
  struct buf b;
  char *s;

  buf_init(&b, SIZE_MAX);
  for(int i = 0; i < n; i++)
    buf_printf(&b, "%s\n%s\n", rows[i].name, rows[i].definition);
  s = sb_strndup(b.data ? (const char *)b.data : "", b.len);
  buf_free(&b);
  return s;
}

/* Parse a stored row; the definition keeps the stored text, so that the
 * next load compares like with like. */
static int parse_row(const struct store_def *row,
                     const struct config_security *sec,
                     struct config_provider *c, char *err, size_t errlen)
{
  cJSON *def = cJSON_Parse(row->definition);
  char path[160];
  int rc;

  snprintf(path, sizeof(path), "provider %s", row->name);
  if(!def) {
    memset(c, 0, sizeof(*c));
    snprintf(err, errlen, "%s: the stored definition is not JSON", path);
    return SB_ECONFIG;
  }
  rc = config_provider_parse(c, def, row->name, path, err, errlen);
  cJSON_Delete(def);
  if(!rc) {
    free(c->definition);
    c->definition = sb_strdup(row->definition);
    rc = config_provider_allowed(sec, c, err, errlen);
  }
  if(!rc)
    rc = prov_check(c, path, 1, err, errlen);
  return rc;
}

int registry_load(const char *path, const struct config_security *sec,
                  struct prov_registry *prev, int strict,
                  struct prov_registry **out, char *err, size_t errlen)
{
  struct store_def *rows;
  struct config_provider *cfgs;
  char *origin;
  int n, ncfgs = 0, rc;

  *out = NULL;
  rc = store_defs_list(path, STORE_PROVIDERS, &rows, &n, err, errlen);
  if(rc)
    return rc;
  origin = origin_of(rows, n);
  if(prev && prev->origin && !strcmp(prev->origin, origin)) {
    free(origin);
    store_defs_free(rows, n);
    *out = prov_registry_ref(prev);
    return 0;
  }
  cfgs = sb_calloc((size_t)n + 1, sizeof(*cfgs));
  for(int i = 0; i < n && !rc; i++) {
    struct config_provider *c = &cfgs[ncfgs];
    char why[512];

    if(!parse_row(&rows[i], sec, c, why, sizeof(why))) {
      ncfgs++;
      continue;
    }
    config_provider_free(c);
    if(strict) {
      snprintf(err, errlen, "%s", why);
      rc = SB_ECONFIG;
    } else {
      log_event(LOG_ERROR, "provider left out until its definition is fixed",
                LOG_S("provider", rows[i].name), LOG_S("reason", why), LOG_END);
    }
  }
  store_defs_free(rows, n);
  if(rc) {
    for(int i = 0; i < ncfgs; i++)
      config_provider_free(&cfgs[i]);
    free(cfgs);
    free(origin);
    return rc;
  }
  rc = prov_registry_build(cfgs, ncfgs, out, err, errlen);
  if(rc) {
    free(origin);
    return rc;
  }
  (*out)->origin = origin;
  prov_registry_adopt_models(*out, prev);
  fetch_models(*out, sec);
  return 0;
}
