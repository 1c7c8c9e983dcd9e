#include "providers/provider.h"
#include "providers/adapter.h"
#include "providers/echo.h"
#include "providers/gemini.h"
#include "providers/openai.h"
#include "config/config.h"
#include "codec/oai_chat.h"
#include "base/sb.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prov_http_add_header(struct prov_http *h, const char *fmt, ...)
{
  va_list ap;
  char small[256], *line;
  int n;

  /* One formatting pass for the usual short line. */
  va_start(ap, fmt);
  n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  line = sb_malloc((size_t)n + 1);
  if((size_t)n < sizeof(small)) {
    memcpy(line, small, (size_t)n + 1);
  } else {
    va_start(ap, fmt);
    vsnprintf(line, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  /* The array doubles when its count reaches a power of two. */
  if(!(h->nheaders & (h->nheaders - 1)))
    h->headers =
        sb_realloc(h->headers, sizeof(*h->headers) *
                                   (size_t)(h->nheaders ? 2 * h->nheaders : 1));
  h->headers[h->nheaders++] = line;
}

void prov_http_add_common(struct prov_http *h, const struct prov *p,
                          const struct prov_client *client,
                          const struct prov_cred *cred)
{
  const struct config_provider *c = p->cfg;

  if(cred->header && c && c->passthrough_auth) {
    const char *a = client ? client->authorization : NULL;
    if(a && strcasecmp(cred->pass_header, "authorization") &&
       !strncasecmp(a, "Bearer ", 7))
      a += 7;
    if(a)
      prov_http_add_header(h, "%s: %s", cred->pass_header, a);
  } else if(cred->header && p->api_key) {
    prov_http_add_header(h, "%s: %s%s", cred->header,
                         cred->bearer ? "Bearer " : "", p->api_key);
  }
  for(int i = 0; c && i < c->nheaders; i++)
    prov_http_add_header(h, "%s: %s", c->headers[i].name, c->headers[i].value);
  for(int i = 0; client && i < client->nfwd; i++)
    prov_http_add_header(h, "%s: %s", client->fwd[i].name,
                         client->fwd[i].value);
}

/* A Gemini tool call id carrying its thought signature
 * ("<id>__ts_<signature>", providers/gemini.h) is hundreds of characters,
 * past OpenAI's 40: the part before the separator and a hash of the whole,
 * the same for the call and its result. */
void prov_short_gemini_id(cJSON *obj, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  const char *sep;
  uint64_t h = 14695981039346656037u; /* FNV-1a */
  char id[48];

  if(!cJSON_IsString(v) || !(sep = strstr(v->valuestring, PROV_GEMINI_SIG_SEP)))
    return;
  for(const char *c = v->valuestring; *c; c++)
    h = (h ^ (unsigned char)*c) * 1099511628211u;
  snprintf(id, sizeof(id), "%.*s_%016llx",
           (int)(sep - v->valuestring > 20 ? 20 : sep - v->valuestring),
           v->valuestring, (unsigned long long)h);
  cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateString(id));
}

void prov_http_note_dropped(struct prov_http *h, const char *param)
{
  char *s =
      h->dropped ? sb_asprintf("%s,%s", h->dropped, param) : sb_strdup(param);

  free(h->dropped);
  h->dropped = s;
}

void prov_http_count_body(struct prov_http *h, cJSON *body)
{
  char *json = cJSON_PrintUnformatted(body);

  cJSON_Delete(body);
  if(!json)
    abort();
  free(h->dropped);
  h->dropped = NULL;
  h->body = json;
  h->body_len = strlen(json);
  prov_http_add_header(h, "content-type: application/json");
  prov_http_add_header(h, "accept: application/json");
  prov_http_add_header(h, "Expect:");
}

int prov_parse_count(const char *body, size_t len, const char *field,
                     int64_t *tokens)
{
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, field);
  int ok = cJSON_IsNumber(n) && n->valuedouble >= 0;

  *tokens = ok ? (int64_t)n->valuedouble : 0;
  cJSON_Delete(root);
  return ok ? 0 : SB_EPROTO;
}

void prov_http_free(struct prov_http *h)
{
  free(h->url);
  free(h->method);
  free(h->dropped);
  for(int i = 0; i < h->nheaders; i++)
    free(h->headers[i]);
  free(h->headers);
  free(h->body);
  memset(h, 0, sizeof(*h));
}

static char **strv_dup(char *const *v, int n)
{
  char **d = sb_calloc((size_t)n + 1, sizeof(char *));
  for(int i = 0; i < n; i++)
    d[i] = sb_strdup(v[i]);
  return d;
}

static void strv_free(char **v, int n)
{
  for(int i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* The options object of c, checked by the kind's code; path names the
 * provider in errors ("config: providers[0]"). */
static int configure_openai(struct prov *p, const struct config_provider *c,
                            const char *path, char *err, size_t errlen)
{
  cJSON *opts = c->options ? cJSON_Parse(c->options) : NULL;
  char opath[192];
  int rc;

  p->kind = PROV_OPENAI;
  p->caps = OAI_CAP_ALL;
  p->base_url = sb_strdup(c->base_url);
  p->azure = !strcmp(c->kind, "azure");
  snprintf(opath, sizeof(opath), "%s.options", path);
  rc = prov_openai_configure(p, opts, opath, err, errlen);
  cJSON_Delete(opts);
  return rc;
}

static int configure_adapter(struct prov *p, const struct config_provider *c,
                             const char *path, char *err, size_t errlen)
{
  const struct prov_adapter *a = prov_adapter_find(c->kind);
  cJSON *opts = NULL;
  char opath[192];
  int rc = 0;

  if(!a) {
    snprintf(err, errlen,
             "%s.kind: provider kind '%s' is not available in this build yet",
             path, c->kind);
    return SB_ECONFIG;
  }
  p->kind = PROV_ADAPTER;
  p->adapter = a;
  p->caps = a->caps;
  if(c->base_url || a->default_base_url) {
    p->base_url = sb_strdup(c->base_url ? c->base_url : a->default_base_url);
    for(size_t n = strlen(p->base_url); n > 0 && p->base_url[n - 1] == '/'; n--)
      p->base_url[n - 1] = '\0';
  }
  if(c->options)
    opts = cJSON_Parse(c->options);
  snprintf(opath, sizeof(opath), "%s.options", path);
  if(a->configure)
    rc = a->configure(p, opts, opath, err, errlen);
  else if(opts && opts->child) {
    snprintf(err, errlen, "%s: provider kind '%s' takes no options", opath,
             c->kind);
    rc = SB_ECONFIG;
  }
  cJSON_Delete(opts);
  if(!rc && !p->base_url) {
    /* Neither the config nor the adapter knows where to send requests. */
    snprintf(err, errlen, "%s: missing required key \"base_url\"", path);
    rc = SB_ECONFIG;
  }
  return rc;
}

static void prov_fini(struct prov *p)
{
  if(p->adapter && p->adapter->unconfigure)
    p->adapter->unconfigure(p);
  else if(p->kind == PROV_OPENAI)
    prov_openai_unconfigure(p);
  free(p->name);
  free(p->base_url);
  free(p->azure_api_version);
  strv_free(p->models, p->nmodels);
  if(p->api_key) {
    /* Do not leave the credential behind in freed memory. */
    memset(p->api_key, 0, strlen(p->api_key));
    free(p->api_key);
  }
  memset(p, 0, sizeof(*p));
}

/* Make p the provider c describes: pure but for reading its credential
 * from the environment. On failure p is to be finalised all the same. */
static int prov_init(struct prov *p, const struct config_provider *c,
                     const char *path, int credential, char *err, size_t errlen)
{
  int rc;

  p->name = sb_strdup(c->name);
  p->cfg = c;
  if(!strcmp(c->kind, "openai") || !strcmp(c->kind, "azure"))
    rc = configure_openai(p, c, path, err, errlen);
  else
    rc = configure_adapter(p, c, path, err, errlen);
  if(rc)
    return SB_ECONFIG;
  if(c->models) {
    p->models = strv_dup(c->models, c->nmodels);
    p->nmodels = c->nmodels;
    p->models_known = 1;
  }
  if(c->api_key_env && credential) {
    const char *key = getenv(c->api_key_env);
    if(!key || !*key) {
      snprintf(err, errlen,
               "provider %s: environment variable %s (api_key_env) is not "
               "set",
               c->name, c->api_key_env);
      return SB_ECONFIG;
    }
    p->api_key = sb_strdup(key);
  }
  return 0;
}

/* The "${VAR}" references in the header values of cc, from the
 * environment: into c when resolve, else only checked. */
static int header_env(struct config_provider *c,
                      const struct config_provider *cc, int resolve, char *err,
                      size_t errlen)
{
  for(int i = 0; i < cc->nheaders; i++) {
    char var[128];
    char *v = config_expand_env(cc->headers[i].value, var, sizeof(var));

    if(!v) {
      snprintf(err, errlen,
               "provider %s: environment variable %s (headers.%s) is not set",
               cc->name, var, cc->headers[i].name);
      return SB_ECONFIG;
    }
    if(resolve) {
      free(c->headers[i].value);
      c->headers[i].value = v;
    } else {
      memset(v, 0, strlen(v));
      free(v);
    }
  }
  return 0;
}

int prov_check(const struct config_provider *c, const char *path,
               int credential, char *err, size_t errlen)
{
  struct prov p;
  int rc;

  memset(&p, 0, sizeof(p));
  rc = prov_init(&p, c, path, credential, err, errlen);
  prov_fini(&p);
  if(!rc && credential)
    rc = header_env(NULL, c, 0, err, errlen);
  return rc;
}

int prov_registry_build(struct config_provider *cfgs, int n,
                        struct prov_registry **out, char *err, size_t errlen)
{
  struct prov_registry *reg = sb_calloc(1, sizeof(*reg));
  struct prov *p;

  *out = NULL;
  atomic_init(&reg->refs, 1);
  reg->cfgs = cfgs;
  reg->ncfgs = n;
  reg->provs = sb_calloc((size_t)n + 1, sizeof(*reg->provs));
  p = &reg->provs[0];
  p->name = sb_strdup("echo");
  p->kind = PROV_ECHO;
  p->caps = PROV_ECHO_CAPS;
  p->models = strv_dup((char *const *)prov_echo_models, prov_echo_nmodels);
  p->nmodels = prov_echo_nmodels;
  p->models_known = 1;
  reg->nprovs = 1;

  for(int i = 0; i < n; i++) {
    char path[160];

    snprintf(path, sizeof(path), "provider %s", cfgs[i].name);
    p = &reg->provs[reg->nprovs++];
    if(header_env(&cfgs[i], &cfgs[i], 1, err, errlen) ||
       prov_init(p, &cfgs[i], path, 1, err, errlen)) {
      prov_registry_unref(reg);
      return SB_ECONFIG;
    }
  }
  *out = reg;
  return 0;
}

void prov_registry_adopt_models(struct prov_registry *reg,
                                const struct prov_registry *old)
{
  for(int i = 1; old && i < reg->nprovs; i++) {
    struct prov *p = &reg->provs[i];
    const struct prov *o = prov_find(old, p->name, strlen(p->name));

    if(p->models_known || !o || !o->cfg || !o->models_known ||
       strcmp(o->cfg->definition, p->cfg->definition))
      continue;
    prov_set_models(p, strv_dup(o->models, o->nmodels), o->nmodels);
  }
}

struct prov_registry *prov_registry_ref(struct prov_registry *reg)
{
  atomic_fetch_add_explicit(&reg->refs, 1, memory_order_relaxed);
  return reg;
}

void prov_registry_unref(struct prov_registry *reg)
{
  if(!reg ||
     atomic_fetch_sub_explicit(&reg->refs, 1, memory_order_acq_rel) != 1)
    return;
  for(int i = 0; i < reg->nprovs; i++)
    prov_fini(&reg->provs[i]);
  free(reg->provs);
  for(int i = 0; i < reg->ncfgs; i++)
    config_provider_free(&reg->cfgs[i]);
  free(reg->cfgs);
  free(reg->origin);
  free(reg);
}

void prov_set_models(struct prov *p, char **models, int nmodels)
{
  strv_free(p->models, p->nmodels);
  p->models = models;
  p->nmodels = nmodels;
  p->models_known = 1;
}

const struct prov *prov_find(const struct prov_registry *reg, const char *name,
                             size_t name_len)
{
  for(int i = 0; i < reg->nprovs; i++) {
    const char *n = reg->provs[i].name;
    if(strlen(n) == name_len && !memcmp(n, name, name_len))
      return &reg->provs[i];
  }
  return NULL;
}

int prov_has_model(const struct prov *p, const char *model)
{
  if(!p->models_known)
    return 1;
  for(int i = 0; i < p->nmodels; i++)
    if(!strcmp(p->models[i], model))
      return 1;
  return 0;
}
