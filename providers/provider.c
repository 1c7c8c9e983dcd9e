#include "providers/provider.h"
#include "providers/adapter.h"
#include "providers/echo.h"
#include "providers/openai.h"
#include "gateway/config.h"
#include "gateway/oai_chat.h"
#include "gateway/sb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prov_http_add_header(struct prov_http *h, const char *fmt, ...)
{
  va_list ap;
  char *line;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  line = sb_malloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(line, (size_t)n + 1, fmt, ap);
  va_end(ap);
  h->headers =
      sb_realloc(h->headers, sizeof(*h->headers) * (size_t)(h->nheaders + 1));
  h->headers[h->nheaders++] = line;
}

void prov_http_note_dropped(struct prov_http *h, const char *param)
{
  char *s =
      h->dropped ? sb_asprintf("%s,%s", h->dropped, param) : sb_strdup(param);

  free(h->dropped);
  h->dropped = s;
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

static int openai_options(struct prov *p, const struct config_provider *c,
                          int idx, char *err, size_t errlen)
{
  cJSON *opts = c->options ? cJSON_Parse(c->options) : NULL;
  char path[64];
  int rc;

  snprintf(path, sizeof(path), "config: providers[%d].options", idx);
  rc = prov_openai_configure(p, opts, path, err, errlen);
  cJSON_Delete(opts);
  return rc;
}

static int configure_adapter(struct prov *p, const struct config_provider *c,
                             int idx, char *err, size_t errlen)
{
  const struct prov_adapter *a = prov_adapter_find(c->kind);
  cJSON *opts = NULL;
  char path[64];
  int rc = 0;

  if(!a) {
    snprintf(err, errlen,
             "config: providers[%d].kind: provider kind '%s' is not available "
             "in this build yet",
             idx, c->kind);
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
  snprintf(path, sizeof(path), "config: providers[%d].options", idx);
  if(a->configure)
    rc = a->configure(p, opts, path, err, errlen);
  else if(opts && opts->child) {
    snprintf(err, errlen, "%s: provider kind '%s' takes no options", path,
             c->kind);
    rc = SB_ECONFIG;
  }
  cJSON_Delete(opts);
  if(!rc && !p->base_url) {
    /* Neither the config nor the adapter knows where to send requests. */
    snprintf(err, errlen,
             "config: providers[%d]: missing required key \"base_url\"", idx);
    rc = SB_ECONFIG;
  }
  return rc;
}

int prov_registry_build(const struct config *cfg, struct prov_registry *out,
                        char *err, size_t errlen)
{
  struct prov *p;

  memset(out, 0, sizeof(*out));
  out->provs = sb_calloc((size_t)cfg->nproviders + 1, sizeof(*out->provs));
  p = &out->provs[0];
  p->name = sb_strdup("echo");
  p->kind = PROV_ECHO;
  p->caps = PROV_ECHO_CAPS;
  p->models = strv_dup((char *const *)prov_echo_models, prov_echo_nmodels);
  p->nmodels = prov_echo_nmodels;
  p->models_known = 1;
  out->nprovs = 1;

  for(int i = 0; i < cfg->nproviders; i++) {
    const struct config_provider *c = &cfg->providers[i];

    p = &out->provs[out->nprovs++];
    p->name = sb_strdup(c->name);
    p->cfg = c;
    if(!strcmp(c->kind, "openai") || !strcmp(c->kind, "azure")) {
      p->kind = PROV_OPENAI;
      p->caps = OAI_CAP_ALL;
      p->base_url = sb_strdup(c->base_url);
      p->azure = !strcmp(c->kind, "azure");
      if(openai_options(p, c, i, err, errlen)) {
        prov_registry_free(out);
        return SB_ECONFIG;
      }
    } else if(configure_adapter(p, c, i, err, errlen)) {
      prov_registry_free(out);
      return SB_ECONFIG;
    }
    if(c->models) {
      p->models = strv_dup(c->models, c->nmodels);
      p->nmodels = c->nmodels;
      p->models_known = 1;
    }
    if(c->api_key_env) {
      const char *key = getenv(c->api_key_env);
      if(!key || !*key) {
        snprintf(err, errlen,
                 "provider %s: environment variable %s (api_key_env) is not "
                 "set",
                 c->name, c->api_key_env);
        prov_registry_free(out);
        return SB_ECONFIG;
      }
      p->api_key = sb_strdup(key);
    }
  }
  return 0;
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

void prov_registry_free(struct prov_registry *reg)
{
  for(int i = 0; i < reg->nprovs; i++) {
    struct prov *p = &reg->provs[i];
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
  }
  free(reg->provs);
  memset(reg, 0, sizeof(*reg));
}
