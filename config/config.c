#include "config/config.h"
#include "config/mcp_server.h"
#include "base/sb.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_MAX_FILE (1024 * 1024)

void config_set_str(char **field, const char *value)
{
  free(*field);
  *field = value ? sb_strdup(value) : NULL;
}

void config_defaults(struct config *cfg)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);

  memset(cfg, 0, sizeof(*cfg));
  cfg->host = sb_strdup("127.0.0.1");
  cfg->port = 8080;
  cfg->database = sb_strdup("switchboard.db");
  cfg->workers = n > 0 ? (int)n : 1;
  cfg->log_level = sb_strdup("info");
  /* Anthropic takes 32 MB requests; agent CLIs send screenshots. */
  cfg->limits.max_body_bytes = 32 * 1024 * 1024;
  cfg->limits.max_header_bytes = 16 * 1024;
  cfg->limits.max_response_bytes = 16 * 1024 * 1024;
  cfg->limits.idle_timeout_s = 60;
  cfg->limits.request_timeout_s = 600;
  cfg->limits.connect_timeout_ms = 10000;
  cfg->limits.stream_idle_timeout_s = 120;
  cfg->limits.shutdown_grace_s = 10;
  cfg->limits.store_batch_ms = 2;
  cfg->limits.max_json_depth = 64;
  cfg->limits.header_timeout_s = 10;
  cfg->limits.budget_max_output_tokens = 4096;
  cfg->mcp.session_ttl_s = 86400;
  cfg->mcp.keepalive_s = 15;
  cfg->mcp.page_size = 100;
  cfg->mcp.max_sessions = 10000;
  cfg->mcp.max_sessions_per_key = 100;
  cfg->retention.conversations_days = 0; /* keep forever */
  cfg->retention.responses_days = 0;
  cfg->retention.requests_days = 0;
  cfg->ui.session_ttl_s = 43200;
  cfg->logging.body_max_bytes = 65536;
  cfg->cache.ttl_s = 3600;
  cfg->cache.max_entry_bytes = 1024 * 1024;
  cfg->cache.max_bytes = 256 * 1024 * 1024;
  cfg->cache.memory_bytes = 32 * 1024 * 1024;
  cfg->cache.sweep_ms = 1000;
  cfg->cache.hold_budget = 1;
  cfg->cache.coalesce = 1;
  cfg->ui.signin_max_failures = 5;
  cfg->ui.signin_window_s = 900;
  cfg->ui.signin_max_addresses = 10000;
}

static void free_strv(char **v, int n)
{
  for(int i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

void config_provider_free(struct config_provider *p)
{
  free(p->definition);
  free(p->name);
  free(p->kind);
  free(p->base_url);
  free(p->api_key_env);
  free(p->options);
  free_strv(p->models, p->nmodels);
  for(int i = 0; i < p->nheaders; i++) {
    free(p->headers[i].name);
    free(p->headers[i].value);
  }
  free(p->headers);
  free_strv(p->forward_headers, p->nforward_headers);
}

void config_free(struct config *cfg)
{
  free(cfg->host);
  free(cfg->database);
  free(cfg->cache.path);
  free(cfg->log_level);
  free_strv(cfg->cors_origins, cfg->ncors_origins);
  for(int i = 0; i < cfg->nproviders; i++)
    config_provider_free(&cfg->providers[i]);
  free(cfg->providers);
  free(cfg->routes);
  free_strv(cfg->security.allowed_hosts, cfg->security.nallowed_hosts);
  free_strv(cfg->security.credential_env, cfg->security.ncredential_env);
  for(int i = 0; i < cfg->nmcp_servers; i++)
    config_mcp_server_free(&cfg->mcp_servers[i]);
  free(cfg->mcp_servers);
  memset(cfg, 0, sizeof(*cfg));
}

/* Error reporting names the full key path, e.g. "providers[1].models[0]". */
static int fail(char *err, size_t errlen, const char *path, const char *what)
{
  snprintf(err, errlen, "%s: %s", path, what);
  return SB_ECONFIG;
}

/* Errors of the whole file say where they come from; a provider checked
 * on its own (the admin API) does not. */
static int config_fail(int rc, char *err, size_t errlen)
{
  size_t n = strlen(err);

  if(rc && n + 8 < errlen && strncmp(err, "config: ", 8)) {
    memmove(err + 8, err, n + 1);
    memcpy(err, "config: ", 8);
  }
  return rc;
}

static int get_string(const cJSON *v, const char *path, char **out, char *err,
                      size_t errlen)
{
  if(!cJSON_IsString(v))
    return fail(err, errlen, path, "expected a string");
  config_set_str(out, v->valuestring);
  return 0;
}

static int get_int(const cJSON *v, const char *path, long min, long max,
                   long *out, char *err, size_t errlen)
{
  double d;

  if(!cJSON_IsNumber(v))
    return fail(err, errlen, path, "expected an integer");
  d = v->valuedouble;
  /* In range before the cast: a double no long holds (1e300, inf, nan)
   * makes the cast undefined. */
  if(!(d >= -0x1p63 && d < 0x1p63) || d != (double)(long)d)
    return fail(err, errlen, path, "expected an integer");
  if(d < (double)min || d > (double)max) {
    char msg[96];
    snprintf(msg, sizeof(msg), "must be between %ld and %ld", min, max);
    return fail(err, errlen, path, msg);
  }
  *out = (long)d;
  return 0;
}

static int get_bool(const cJSON *v, const char *path, int *out, char *err,
                    size_t errlen)
{
  if(!cJSON_IsBool(v))
    return fail(err, errlen, path, "expected true or false");
  *out = cJSON_IsTrue(v);
  return 0;
}

static int get_strv(const cJSON *v, const char *path, int lower, char ***out,
                    int *n, char *err, size_t errlen)
{
  const cJSON *it;
  char **vec;
  int i = 0;

  if(!cJSON_IsArray(v))
    return fail(err, errlen, path, "expected an array of strings");
  vec = sb_calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(char *));
  cJSON_ArrayForEach(it, v)
  {
    if(!cJSON_IsString(it) || !it->valuestring[0]) {
      char p[160];
      snprintf(p, sizeof(p), "%s[%d]", path, i);
      free_strv(vec, i);
      return fail(err, errlen, p, "expected a non-empty string");
    }
    vec[i] = sb_strdup(it->valuestring);
    if(lower)
      for(char *c = vec[i]; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    i++;
  }
  free_strv(*out, *n);
  *out = vec;
  *n = i;
  return 0;
}

/* A section of bounded integers ("limits", "mcp"): each key its range
 * and the field it fills, an int, a long or a size_t of the struct at
 * base. */
struct int_key {
  const char *key;
  long min, max;
  size_t off;
  size_t size;
};

#define INT_KEY(type, field, lo, hi)                                           \
  {                                                                            \
#field, lo, hi, offsetof(type, field), sizeof(((type *)0)->field)          \
  }

static int load_ints(void *base, const char *section,
                     const struct int_key *keys, size_t nkeys, const cJSON *obj,
                     char *err, size_t errlen)
{
  const cJSON *it;

  if(!cJSON_IsObject(obj))
    return fail(err, errlen, section, "expected an object");
  cJSON_ArrayForEach(it, obj)
  {
    char path[128];
    char *field;
    size_t k;
    long v;
    int rc;

    snprintf(path, sizeof(path), "%s.%s", section, it->string);
    for(k = 0; k < nkeys; k++)
      if(!strcmp(it->string, keys[k].key))
        break;
    if(k == nkeys)
      return fail(err, errlen, path, "unknown key");
    rc = get_int(it, path, keys[k].min, keys[k].max, &v, err, errlen);
    if(rc)
      return rc;
    field = (char *)base + keys[k].off;
    if(keys[k].size == sizeof(int)) {
      int iv = (int)v;
      memcpy(field, &iv, sizeof(iv));
    } else if(keys[k].size == sizeof(size_t)) {
      size_t sv = (size_t)v;
      memcpy(field, &sv, sizeof(sv));
    } else {
      memcpy(field, &v, sizeof(v));
    }
  }
  return 0;
}

static int load_limits(struct config_limits *l, const cJSON *obj, char *err,
                       size_t errlen)
{
  static const struct int_key keys[] = {
      INT_KEY(struct config_limits, max_body_bytes, 1024, 1L << 30),
      INT_KEY(struct config_limits, max_header_bytes, 1024, 1L << 20),
      INT_KEY(struct config_limits, max_response_bytes, 1024, 1L << 31),
      INT_KEY(struct config_limits, idle_timeout_s, 1, 86400),
      INT_KEY(struct config_limits, request_timeout_s, 1, 86400),
      INT_KEY(struct config_limits, connect_timeout_ms, 1, 600000),
      INT_KEY(struct config_limits, stream_idle_timeout_s, 1, 86400),
      INT_KEY(struct config_limits, shutdown_grace_s, 0, 3600),
      INT_KEY(struct config_limits, max_json_depth, 2, 1000),
      INT_KEY(struct config_limits, header_timeout_s, 1, 3600),
      INT_KEY(struct config_limits, store_batch_ms, 0, 1000),
      INT_KEY(struct config_limits, budget_max_output_tokens, 1, 10000000),
  };

  return load_ints(l, "limits", keys, SB_ARRAY_LEN(keys), obj, err, errlen);
}

static int load_ui(struct config_ui *u, const cJSON *obj, char *err,
                   size_t errlen)
{
  static const struct int_key keys[] = {
      INT_KEY(struct config_ui, session_ttl_s, 1, 30 * 86400),
      /* Each address keeps a slot per failure: the caps bound the
       * table's memory (about 1.5 MB at the defaults). */
      INT_KEY(struct config_ui, signin_max_failures, 1, 100),
      INT_KEY(struct config_ui, signin_window_s, 1, 86400),
      INT_KEY(struct config_ui, signin_max_addresses, 1, 1000000),
  };
  return load_ints(u, "ui", keys, SB_ARRAY_LEN(keys), obj, err, errlen);
}

static int load_logging(struct config_logging *l, const cJSON *obj, char *err,
                        size_t errlen)
{
  const cJSON *it;
  char path[128];
  long v;
  int rc = 0;

  if(!cJSON_IsObject(obj))
    return fail(err, errlen, "logging", "expected an object");
  cJSON_ArrayForEach(it, obj)
  {
    snprintf(path, sizeof(path), "logging.%s", it->string);
    if(!strcmp(it->string, "bodies"))
      rc = get_bool(it, path, &l->bodies, err, errlen);
    else if(!strcmp(it->string, "body_max_bytes")) {
      rc = get_int(it, path, 1, 16L * 1024 * 1024, &v, err, errlen);
      if(!rc)
        l->body_max_bytes = (size_t)v;
    } else
      rc = fail(err, errlen, path, "unknown key");
    if(rc)
      return rc;
  }
  return 0;
}

static int load_cache(struct config_cache *c, const cJSON *obj, char *err,
                      size_t errlen)
{
  static const struct int_key keys[] = {
      INT_KEY(struct config_cache, ttl_s, 1, 365 * 86400),
      INT_KEY(struct config_cache, max_entry_bytes, 1, 1L << 30),
      INT_KEY(struct config_cache, max_bytes, 1024, 1L << 40),
      INT_KEY(struct config_cache, memory_bytes, 0, 1L << 40),
      INT_KEY(struct config_cache, sweep_ms, 10, 3600000),
  };
  const cJSON *it;
  char path[128];
  int rc = 0;

  if(!cJSON_IsObject(obj))
    return fail(err, errlen, "cache", "expected an object");
  cJSON_ArrayForEach(it, obj)
  {
    snprintf(path, sizeof(path), "cache.%s", it->string);
    if(!strcmp(it->string, "enabled"))
      rc = get_bool(it, path, &c->enabled, err, errlen);
    else if(!strcmp(it->string, "hold_budget"))
      rc = get_bool(it, path, &c->hold_budget, err, errlen);
    else if(!strcmp(it->string, "coalesce"))
      rc = get_bool(it, path, &c->coalesce, err, errlen);
    else if(!strcmp(it->string, "path")) {
      if(!cJSON_IsString(it) || !it->valuestring[0])
        rc = fail(err, errlen, path, "expected a non-empty string");
      else {
        free(c->path);
        c->path = sb_strdup(it->valuestring);
      }
    } else {
      /* One key at a time through the integer table. */
      cJSON *one = cJSON_CreateObject();
      cJSON_AddItemToObject(one, it->string, cJSON_Duplicate(it, 1));
      rc = load_ints(c, "cache", keys, SB_ARRAY_LEN(keys), one, err, errlen);
      cJSON_Delete(one);
    }
    if(rc)
      return rc;
  }
  return 0;
}

static int load_retention(struct config_retention *r, const cJSON *obj,
                          char *err, size_t errlen)
{
  /* 100 years: far enough to mean "keep", near enough that days * 86400
   * * 1000 stays an exact int64 */
  static const struct int_key keys[] = {
      INT_KEY(struct config_retention, conversations_days, 0, 36500),
      INT_KEY(struct config_retention, responses_days, 0, 36500),
      INT_KEY(struct config_retention, requests_days, 0, 36500),
  };

  return load_ints(r, "retention", keys, SB_ARRAY_LEN(keys), obj, err, errlen);
}

/* In a provider or MCP server definition a credential header's value
 * must hold an environment reference ("Bearer ${VAR}"). */
int config_credential_header(const char *name)
{
  static const char *const names[] = {"authorization",  "proxy-authorization",
                                      "x-api-key",      "api-key",
                                      "x-goog-api-key", "cookie"};

  for(size_t i = 0; i < SB_ARRAY_LEN(names); i++)
    if(!strcasecmp(name, names[i]))
      return 1;
  return 0;
}

/* The length of NAME when s starts with a "${NAME}" reference (NAME of
 * [A-Za-z0-9_]), else 0. */
static size_t env_ref(const char *s)
{
  size_t k;

  if(strncmp(s, "${", 2))
    return 0;
  k = strspn(s + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789_");
  return k && s[2 + k] == '}' ? k : 0;
}

/* 1 when s holds a "${NAME}" reference. */
int config_has_env_ref(const char *s)
{
  for(const char *p = strstr(s, "${"); p; p = strstr(p + 2, "${"))
    if(env_ref(p))
      return 1;
  return 0;
}

static int load_headers(struct config_provider *p, const cJSON *obj,
                        const char *ppath, char *err, size_t errlen)
{
  const cJSON *it;
  char path[160];

  snprintf(path, sizeof(path), "%s.headers", ppath);
  if(!cJSON_IsObject(obj))
    return fail(err, errlen, path, "expected an object of strings");
  cJSON_ArrayForEach(it, obj)
  {
    snprintf(path, sizeof(path), "%s.headers.%s", ppath, it->string);
    if(!cJSON_IsString(it))
      return fail(err, errlen, path, "expected a string");
    if(!it->string[0] || strpbrk(it->string, ": \r\n") ||
       strpbrk(it->valuestring, "\r\n"))
      return fail(err, errlen, path, "not a valid header");
    /* Definitions are stored and shown: a credential may only be named. */
    if(config_credential_header(it->string) &&
       !config_has_env_ref(it->valuestring))
      return fail(err, errlen, path,
                  "a credential is never stored: name it as \"${VAR}\" "
                  "(e.g. \"Bearer ${VAR}\") and set VAR in the gateway's "
                  "environment");
    p->headers =
        sb_realloc(p->headers, sizeof(*p->headers) * (size_t)(p->nheaders + 1));
    p->headers[p->nheaders].name = sb_strdup(it->string);
    p->headers[p->nheaders].value = sb_strdup(it->valuestring);
    p->nheaders++;
  }
  return 0;
}

static int known_kind(const char *kind)
{
  static const char *const kinds[] = {"openai", "azure",  "anthropic", "gemini",
                                      "cohere", "ollama", "bedrock"};
  for(size_t i = 0; i < SB_ARRAY_LEN(kinds); i++)
    if(!strcmp(kind, kinds[i]))
      return 1;
  return 0;
}

char *config_expand_env(const char *value, char *missing, size_t cap)
{
  size_t n = strlen(value), len = 0, size = n + 1;
  char *out = sb_malloc(size);

  for(size_t i = 0; i < n;) {
    size_t k = env_ref(value + i), vl;
    const char *v;
    char var[128];

    if(!k || k >= sizeof(var)) {
      out[len++] = value[i++];
      continue;
    }
    memcpy(var, value + i + 2, k);
    var[k] = '\0';
    v = getenv(var);
    if(!v || !*v) {
      if(missing)
        snprintf(missing, cap, "%s", var);
      free(out);
      return NULL;
    }
    vl = strlen(v);
    size += vl;
    out = sb_realloc(out, size);
    memcpy(out + len, v, vl);
    len += vl;
    i += k + 3;
  }
  out[len] = '\0';
  return out;
}

static int valid_name(const char *s)
{
  if(!*s || strlen(s) > 64)
    return 0;
  for(; *s; s++)
    if(!isalnum((unsigned char)*s) && !strchr("_.-", *s))
      return 0;
  return 1;
}

int config_provider_parse(struct config_provider *p, const cJSON *obj,
                          const char *name, const char *ppath, char *err,
                          size_t errlen)
{
  char path[160];
  const cJSON *it;
  cJSON *def;
  int rc = 0;

  memset(p, 0, sizeof(*p));
  if(!cJSON_IsObject(obj))
    return fail(err, errlen, ppath, "expected an object");
  p->stream_usage = 1;
  cJSON_ArrayForEach(it, obj)
  {
    const char *k = it->string;

    snprintf(path, sizeof(path), "%s.%s", ppath, k);
    if(!strcmp(k, "name"))
      rc = name ? fail(err, errlen, path, "unknown key")
                : get_string(it, path, &p->name, err, errlen);
    else if(!strcmp(k, "api_key"))
      rc = fail(err, errlen, path,
                "credentials are never stored: put the key in an environment "
                "variable and name it in \"api_key_env\"");
    else if(!strcmp(k, "kind"))
      rc = get_string(it, path, &p->kind, err, errlen);
    else if(!strcmp(k, "base_url"))
      rc = get_string(it, path, &p->base_url, err, errlen);
    else if(!strcmp(k, "api_key_env"))
      rc = get_string(it, path, &p->api_key_env, err, errlen);
    else if(!strcmp(k, "models"))
      rc = get_strv(it, path, 0, &p->models, &p->nmodels, err, errlen);
    else if(!strcmp(k, "passthrough_auth"))
      rc = get_bool(it, path, &p->passthrough_auth, err, errlen);
    else if(!strcmp(k, "stream_usage"))
      rc = get_bool(it, path, &p->stream_usage, err, errlen);
    else if(!strcmp(k, "headers"))
      rc = load_headers(p, it, ppath, err, errlen);
    else if(!strcmp(k, "options")) {
      /* Checked key by key by the provider's adapter at start-up. */
      if(!cJSON_IsObject(it))
        rc = fail(err, errlen, path, "expected an object");
      else {
        free(p->options);
        p->options = cJSON_PrintUnformatted(it);
      }
    } else if(!strcmp(k, "forward_headers"))
      rc = get_strv(it, path, 1, &p->forward_headers, &p->nforward_headers, err,
                    errlen);
    else
      rc = fail(err, errlen, path, "unknown key");
    if(rc)
      return rc;
  }
  if(name)
    p->name = sb_strdup(name);
  if(!p->name)
    return fail(err, errlen, ppath, "missing required key \"name\"");
  snprintf(path, sizeof(path), "%s.name", ppath);
  if(!valid_name(p->name))
    return fail(err, errlen, path, "must be 1 to 64 of [A-Za-z0-9_.-]");
  if(!strcmp(p->name, "echo"))
    return fail(err, errlen, path, "\"echo\" is the built-in provider");
  if(!p->kind)
    return fail(err, errlen, ppath, "missing required key \"kind\"");
  if(!known_kind(p->kind)) {
    snprintf(path, sizeof(path), "%s.kind", ppath);
    return fail(err, errlen, path,
                "unknown provider kind (known: openai, azure, anthropic, "
                "gemini, cohere, ollama, bedrock)");
  }
  if(!p->base_url) {
    /* The hosted APIs have a well-known address; these two do not. */
    if(!strcmp(p->kind, "openai") || !strcmp(p->kind, "azure"))
      return fail(err, errlen, ppath, "missing required key \"base_url\"");
  } else {
    /* One canonical form: no trailing slash, so paths append cleanly. */
    for(size_t n = strlen(p->base_url); n > 0 && p->base_url[n - 1] == '/'; n--)
      p->base_url[n - 1] = '\0';
    if(strncmp(p->base_url, "http://", 7) &&
       strncmp(p->base_url, "https://", 8)) {
      snprintf(path, sizeof(path), "%s.base_url", ppath);
      return fail(err, errlen, path, "must start with http:// or https://");
    }
  }
  /* The definition as stored: the object as written, without its name. */
  def = cJSON_Duplicate(obj, 1);
  cJSON_DeleteItemFromObjectCaseSensitive(def, "name");
  p->definition = cJSON_PrintUnformatted(def);
  cJSON_Delete(def);
  return 0;
}

static int load_security(struct config_security *sec, const cJSON *obj,
                         char *err, size_t errlen)
{
  const cJSON *it;
  int rc = 0;

  if(!cJSON_IsObject(obj))
    return fail(err, errlen, "security", "expected an object");
  cJSON_ArrayForEach(it, obj)
  {
    char path[128];

    snprintf(path, sizeof(path), "security.%s", it->string);
    /* get_strv() replaces what a repeated key set before. */
    if(!strcmp(it->string, "allowed_hosts"))
      rc = get_strv(it, path, 1, &sec->allowed_hosts, &sec->nallowed_hosts, err,
                    errlen);
    else if(!strcmp(it->string, "credential_env"))
      rc = get_strv(it, path, 0, &sec->credential_env, &sec->ncredential_env,
                    err, errlen);
    else if(!strcmp(it->string, "allow_link_local_upstreams"))
      rc = get_bool(it, path, &sec->allow_link_local, err, errlen);
    else
      rc = fail(err, errlen, path, "unknown key");
    if(rc)
      return rc;
  }
  return 0;
}

static int load_mcp(struct config_mcp *m, const cJSON *obj, char *err,
                    size_t errlen)
{
  static const struct int_key keys[] = {
      INT_KEY(struct config_mcp, session_ttl_s, 60, 365L * 86400),
      INT_KEY(struct config_mcp, keepalive_s, 1, 3600),
      INT_KEY(struct config_mcp, page_size, 1, 10000),
      INT_KEY(struct config_mcp, max_sessions, 1, 10000000),
      INT_KEY(struct config_mcp, max_sessions_per_key, 1, 10000000),
  };

  return load_ints(m, "mcp", keys, SB_ARRAY_LEN(keys), obj, err, errlen);
}

/* "mcp_servers": {NAME: DEFINITION}; replaces what an earlier key set. */
static int load_mcp_servers(struct config *cfg, const cJSON *obj, char *err,
                            size_t errlen)
{
  const cJSON *it;
  int n = 0, rc = 0;

  if(!cJSON_IsObject(obj))
    return fail(err, errlen, "mcp_servers", "expected an object");
  for(int i = 0; i < cfg->nmcp_servers; i++)
    config_mcp_server_free(&cfg->mcp_servers[i]);
  free(cfg->mcp_servers);
  cfg->mcp_servers =
      sb_calloc((size_t)cJSON_GetArraySize(obj) + 1, sizeof(*cfg->mcp_servers));
  cfg->nmcp_servers = 0;
  cJSON_ArrayForEach(it, obj)
  {
    char path[320];

    snprintf(path, sizeof(path), "mcp_servers.%s", it->string);
    for(int j = 0; j < n; j++)
      if(!strcmp(cfg->mcp_servers[j].name, it->string))
        return fail(err, errlen, path, "duplicate server name");
    /* Counted before the parse: a failed one is freed with the rest. */
    cfg->nmcp_servers = n + 1;
    rc = config_mcp_server_parse(&cfg->mcp_servers[n], it, it->string, path,
                                 err, errlen);
    if(rc)
      return rc;
    n++;
  }
  return 0;
}

int config_load_json(struct config *cfg, const char *json, size_t len,
                     char *err, size_t errlen)
{
  cJSON *root = cJSON_ParseWithLength(json, len);
  const cJSON *it;
  int rc = 0;

  if(!root) {
    snprintf(err, errlen, "config: not valid JSON near byte %ld",
             (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - json : 0));
    return SB_ECONFIG;
  }
  if(!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return config_fail(fail(err, errlen, "(top level)", "expected an object"),
                       err, errlen);
  }
  cJSON_ArrayForEach(it, root)
  {
    const char *k = it->string;
    long v;

    if(!strcmp(k, "listen")) {
      const cJSON *l;
      if(!cJSON_IsObject(it)) {
        rc = fail(err, errlen, "listen", "expected an object");
        break;
      }
      cJSON_ArrayForEach(l, it)
      {
        if(!strcmp(l->string, "host"))
          rc = get_string(l, "listen.host", &cfg->host, err, errlen);
        else if(!strcmp(l->string, "port")) {
          rc = get_int(l, "listen.port", 0, 65535, &v, err, errlen);
          if(!rc)
            cfg->port = (int)v;
        } else {
          char path[128];
          snprintf(path, sizeof(path), "listen.%s", l->string);
          rc = fail(err, errlen, path, "unknown key");
        }
        if(rc)
          break;
      }
    } else if(!strcmp(k, "database"))
      rc = get_string(it, k, &cfg->database, err, errlen);
    else if(!strcmp(k, "workers")) {
      rc = get_int(it, k, 1, 256, &v, err, errlen);
      if(!rc)
        cfg->workers = (int)v;
    } else if(!strcmp(k, "log_level"))
      rc = get_string(it, k, &cfg->log_level, err, errlen);
    else if(!strcmp(k, "limits"))
      rc = load_limits(&cfg->limits, it, err, errlen);
    else if(!strcmp(k, "cors")) {
      const cJSON *c;
      if(!cJSON_IsObject(it)) {
        rc = fail(err, errlen, "cors", "expected an object");
        break;
      }
      cJSON_ArrayForEach(c, it)
      {
        if(!strcmp(c->string, "origins"))
          rc = get_strv(c, "cors.origins", 0, &cfg->cors_origins,
                        &cfg->ncors_origins, err, errlen);
        else {
          char path[128];
          snprintf(path, sizeof(path), "cors.%s", c->string);
          rc = fail(err, errlen, path, "unknown key");
        }
        if(rc)
          break;
      }
    } else if(!strcmp(k, "security")) {
      rc = load_security(&cfg->security, it, err, errlen);
    } else if(!strcmp(k, "mcp")) {
      rc = load_mcp(&cfg->mcp, it, err, errlen);
    } else if(!strcmp(k, "ui")) {
      rc = load_ui(&cfg->ui, it, err, errlen);
    } else if(!strcmp(k, "logging")) {
      rc = load_logging(&cfg->logging, it, err, errlen);
    } else if(!strcmp(k, "cache")) {
      rc = load_cache(&cfg->cache, it, err, errlen);
    } else if(!strcmp(k, "retention")) {
      rc = load_retention(&cfg->retention, it, err, errlen);
    } else if(!strcmp(k, "mcp_servers")) {
      rc = load_mcp_servers(cfg, it, err, errlen);
    } else if(!strcmp(k, "routes")) {
      const cJSON *r;
      if(!cJSON_IsObject(it)) {
        rc = fail(err, errlen, "routes", "expected an object");
        break;
      }
      /* Each definition is the router's to check (config_routes_check
       * in the gateway, before anything is seeded). */
      cJSON_ArrayForEach(r, it)
      {
        if(!cJSON_IsObject(r)) {
          char path[320];
          snprintf(path, sizeof(path), "routes.%s", r->string);
          rc = fail(err, errlen, path, "expected an object");
          break;
        }
      }
      if(!rc) {
        free(cfg->routes);
        cfg->routes = cJSON_PrintUnformatted(it);
      }
    } else if(!strcmp(k, "providers")) {
      const cJSON *p;
      int i = 0;
      if(!cJSON_IsArray(it)) {
        rc = fail(err, errlen, "providers", "expected an array");
        break;
      }
      /* A key given twice: the last one counts, as for every other key. */
      for(int j = 0; j < cfg->nproviders; j++)
        config_provider_free(&cfg->providers[j]);
      cfg->nproviders = 0;
      cJSON_ArrayForEach(p, it)
      {
        cfg->providers = sb_realloc(cfg->providers,
                                    sizeof(*cfg->providers) * (size_t)(i + 1));
        memset(&cfg->providers[i], 0, sizeof(cfg->providers[i]));
        cfg->nproviders = i + 1;
        char ppath[32];
        snprintf(ppath, sizeof(ppath), "providers[%d]", i);
        rc = config_provider_parse(&cfg->providers[i], p, NULL, ppath, err,
                                   errlen);
        if(rc)
          break;
        i++;
      }
    } else
      rc = fail(err, errlen, k, "unknown key");
    if(rc)
      break;
  }
  cJSON_Delete(root);
  return config_fail(rc, err, errlen);
}

int config_load_file(struct config *cfg, const char *path, char *err,
                     size_t errlen)
{
  FILE *f = fopen(path, "rb");
  char *data;
  size_t n;
  int rc;

  if(!f) {
    snprintf(err, errlen, "config: cannot open %s: %s", path, strerror(errno));
    return SB_ECONFIG;
  }
  data = sb_malloc(CONFIG_MAX_FILE + 1);
  n = fread(data, 1, CONFIG_MAX_FILE + 1, f);
  fclose(f);
  if(n > CONFIG_MAX_FILE) {
    free(data);
    snprintf(err, errlen, "config: %s is larger than 1 MiB", path);
    return SB_ECONFIG;
  }
  rc = config_load_json(cfg, data, n, err, errlen);
  free(data);
  return rc;
}

static int env_int(const char *name, long min, long max, int *out, char *err,
                   size_t errlen)
{
  const char *s = getenv(name);
  char *end;
  long v;

  if(!s || !*s)
    return 0;
  errno = 0;
  v = strtol(s, &end, 10);
  if(errno || *end || v < min || v > max) {
    snprintf(err, errlen, "environment: %s=%s: expected an integer in %ld..%ld",
             name, s, min, max);
    return SB_ECONFIG;
  }
  *out = (int)v;
  return 0;
}

int config_apply_env(struct config *cfg, char *err, size_t errlen)
{
  const char *s;
  int rc;

  if((s = getenv("HOST")) && *s)
    config_set_str(&cfg->host, s);
  if((s = getenv("SWITCHBOARD_DB")) && *s)
    config_set_str(&cfg->database, s);
  if((s = getenv("LOG_LEVEL")) && *s)
    config_set_str(&cfg->log_level, s);
  rc = env_int("PORT", 0, 65535, &cfg->port, err, errlen);
  if(!rc)
    rc = env_int("SWITCHBOARD_WORKERS", 1, 256, &cfg->workers, err, errlen);
  return rc;
}

/* The variables a provider may read as its credential when the
 * operator names none: the gateway's own prefix and the ones the
 * providers' own SDKs read. SWITCHBOARD_ADMIN_KEY is never one. */
static const char *const default_credential_env[] = {
    "SWITCHBOARD_CRED_*",
    "OPENAI_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "COHERE_API_KEY",
    "CO_API_KEY",
    "MISTRAL_API_KEY",
    "GROQ_API_KEY",
    "DEEPSEEK_API_KEY",
    "OPENROUTER_API_KEY",
    "TOGETHER_API_KEY",
    "FIREWORKS_API_KEY",
    "XAI_API_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK"};

/* Split a comma-separated list into v (replacing it). */
static void split_list(const char *s, int lower, char ***v, int *n)
{
  free_strv(*v, *n);
  *v = NULL;
  *n = 0;
  while(*s) {
    size_t k = strcspn(s, ","), b = 0, e = k;
    while(b < e && isspace((unsigned char)s[b]))
      b++;
    while(e > b && isspace((unsigned char)s[e - 1]))
      e--;
    if(e > b) {
      char *item = sb_strndup(s + b, e - b);
      for(char *c = item; lower && *c; c++)
        *c = (char)tolower((unsigned char)*c);
      *v = sb_realloc(*v, sizeof(**v) * (size_t)(*n + 1));
      (*v)[(*n)++] = item;
    }
    s += k + (s[k] == ',');
  }
}

static void add_str(char ***v, int *n, const char *s)
{
  for(int i = 0; i < *n; i++)
    if(!strcmp((*v)[i], s))
      return;
  *v = sb_realloc(*v, sizeof(**v) * (size_t)(*n + 1));
  (*v)[(*n)++] = sb_strdup(s);
}

/* The names this host answers to: what a Host header may say when the
 * gateway listens on every address. */
static void add_own_names(struct config_security *sec)
{
  struct ifaddrs *ifs, *i;
  char name[256];

  if(!gethostname(name, sizeof(name) - 1)) {
    name[sizeof(name) - 1] = '\0';
    for(char *c = name; *c; c++)
      *c = (char)tolower((unsigned char)*c);
    add_str(&sec->allowed_hosts, &sec->nallowed_hosts, name);
  }
  if(getifaddrs(&ifs))
    return;
  for(i = ifs; i; i = i->ifa_next) {
    char a[INET6_ADDRSTRLEN];
    const void *src;
    if(!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
                        i->ifa_addr->sa_family != AF_INET6))
      continue;
    src = i->ifa_addr->sa_family == AF_INET
              ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
              : (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
    if(inet_ntop(i->ifa_addr->sa_family, src, a, sizeof(a)))
      add_str(&sec->allowed_hosts, &sec->nallowed_hosts, a);
  }
  freeifaddrs(ifs);
}

void config_finish(struct config *cfg)
{
  struct config_security *sec = &cfg->security;
  const char *s;

  if((s = getenv("SWITCHBOARD_ALLOWED_HOSTS")) && *s)
    split_list(s, 1, &sec->allowed_hosts, &sec->nallowed_hosts);
  if((s = getenv("SWITCHBOARD_CREDENTIAL_ENV")) && *s)
    split_list(s, 0, &sec->credential_env, &sec->ncredential_env);
  if(!sec->ncredential_env)
    for(size_t i = 0; i < SB_ARRAY_LEN(default_credential_env); i++)
      add_str(&sec->credential_env, &sec->ncredential_env,
              default_credential_env[i]);
  if(!sec->nallowed_hosts) {
    char host[256];
    size_t n = strlen(cfg->host);

    add_str(&sec->allowed_hosts, &sec->nallowed_hosts, "localhost");
    add_str(&sec->allowed_hosts, &sec->nallowed_hosts, "127.0.0.1");
    add_str(&sec->allowed_hosts, &sec->nallowed_hosts, "::1");
    /* The listen address as a client writes it ("[::1]" -> "::1"). */
    if(n >= 2 && cfg->host[0] == '[' && cfg->host[n - 1] == ']')
      snprintf(host, sizeof(host), "%.*s", (int)(n - 2), cfg->host + 1);
    else
      snprintf(host, sizeof(host), "%s", cfg->host);
    for(char *c = host; *c; c++)
      *c = (char)tolower((unsigned char)*c);
    if(!strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !*host)
      add_own_names(sec);
    else
      add_str(&sec->allowed_hosts, &sec->nallowed_hosts, host);
  }
}

int config_env_allowed(const struct config_security *sec, const char *name)
{
  /* The admin credential is never a provider's, whatever a list says. */
  if(!strcmp(name, "SWITCHBOARD_ADMIN_KEY"))
    return 0;
  for(int i = 0; i < sec->ncredential_env; i++) {
    const char *pat = sec->credential_env[i];
    size_t n = strlen(pat);
    if(n && pat[n - 1] == '*' ? !strncmp(name, pat, n - 1) : !strcmp(name, pat))
      return 1;
  }
  return 0;
}

static int env_refused(const struct config_provider *p, const char *var,
                       const char *where, char *err, size_t errlen)
{
  snprintf(err, errlen,
           "provider %s: environment variable %s (%s) is not on the "
           "credential allow-list (security.credential_env, or "
           "SWITCHBOARD_CREDENTIAL_ENV; by default SWITCHBOARD_CRED_* and "
           "the providers' usual variables such as OPENAI_API_KEY)",
           p->name, var, where);
  return SB_ECONFIG;
}

int config_env_refs_allowed(const struct config_security *sec,
                            const char *value, char *var, size_t cap)
{
  for(const char *q = strstr(value, "${"); q; q = strstr(q + 2, "${")) {
    size_t k = env_ref(q);
    char name[128];

    if(!k || k >= sizeof(name))
      continue;
    memcpy(name, q + 2, k);
    name[k] = '\0';
    if(!config_env_allowed(sec, name)) {
      snprintf(var, cap, "%s", name);
      return SB_ECONFIG;
    }
  }
  return 0;
}

int config_url_allowed(const struct config_security *sec, const char *url,
                       char *host, size_t cap)
{
  const char *h = strstr(url, "://");
  size_t n;

  if(sec->allow_link_local || !h)
    return 0;
  /* "http://HOST[:port]/..." with HOST a literal address or a bracketed
   * IPv6 one; names are checked again when they resolve (upstream.c). */
  h += 3;
  n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/?#");
  snprintf(host, cap, "%.*s", (int)n, h);
  for(char *c = host; *c; c++)
    *c = (char)tolower((unsigned char)*c);
  if(sb_host_link_local(host) || !strcmp(host, "metadata.google.internal") ||
     !strcmp(host, "metadata"))
    return SB_ECONFIG;
  return 0;
}

int config_provider_allowed(const struct config_security *sec,
                            const struct config_provider *p, char *err,
                            size_t errlen)
{
  cJSON *opts = p->options ? cJSON_Parse(p->options) : NULL;
  const cJSON *it;
  int rc = 0, bearer = p->api_key_env != NULL;

  if(p->api_key_env && !config_env_allowed(sec, p->api_key_env))
    rc = env_refused(p, p->api_key_env, "api_key_env", err, errlen);
  for(int i = 0; !rc && i < p->nheaders; i++) {
    char var[128];
    if(config_env_refs_allowed(sec, p->headers[i].value, var, sizeof(var)))
      rc = env_refused(p, var, "headers", err, errlen);
  }
  /* Kind-specific options that name a variable end in "_env". */
  cJSON_ArrayForEach(it, opts)
  {
    size_t n = strlen(it->string);
    if(rc || n < 4 || strcmp(it->string + n - 4, "_env") || !cJSON_IsString(it))
      continue;
    if(!config_env_allowed(sec, it->valuestring))
      rc = env_refused(p, it->valuestring, it->string, err, errlen);
  }
  /* A bedrock provider signing requests itself reads the AWS variables
   * unless its options name others. */
  if(!rc && !bearer && !strcmp(p->kind, "bedrock")) {
    static const char *const aws[][2] = {
        {"access_key_env", "AWS_ACCESS_KEY_ID"},
        {"secret_key_env", "AWS_SECRET_ACCESS_KEY"},
        {"session_token_env", "AWS_SESSION_TOKEN"}};
    for(size_t i = 0; !rc && i < SB_ARRAY_LEN(aws); i++)
      if(!cJSON_GetObjectItemCaseSensitive(opts, aws[i][0]) &&
         !config_env_allowed(sec, aws[i][1]))
        rc = env_refused(p, aws[i][1], aws[i][0], err, errlen);
  }
  cJSON_Delete(opts);
  if(!rc && p->base_url) {
    char host[300];
    if(config_url_allowed(sec, p->base_url, host, sizeof(host))) {
      snprintf(err, errlen,
               "provider %s: base_url points at a link-local or cloud "
               "metadata address (%s); set security.allow_link_local_upstreams "
               "to allow it",
               p->name, host);
      rc = SB_ECONFIG;
    }
  }
  return rc;
}

int config_validate(const struct config *cfg, char *err, size_t errlen)
{
  for(int i = 0; i < cfg->nproviders; i++) {
    const struct config_provider *p = &cfg->providers[i];
    char path[64];

    if(config_provider_allowed(&cfg->security, p, err, errlen))
      return SB_ECONFIG;

    snprintf(path, sizeof(path), "providers[%d].name", i);
    for(int j = 0; j < i; j++)
      if(!strcmp(cfg->providers[j].name, p->name))
        return config_fail(fail(err, errlen, path, "duplicate provider name"),
                           err, errlen);
  }
  for(int i = 0; i < cfg->nmcp_servers; i++)
    if(config_mcp_server_allowed(&cfg->security, &cfg->mcp_servers[i], err,
                                 errlen))
      return SB_ECONFIG;
  return 0;
}
