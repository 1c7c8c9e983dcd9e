/*
 * provider.h - configured provider instances and what every adapter
 * shares.
 *
 * Adapters are pure translation: they turn a request into an upstream
 * HTTP request description (struct prov_http) and upstream bytes back
 * into client bytes. The gateway does the I/O. A struct prov is built at
 * start-up and read-only afterwards, so every worker thread shares it.
 */
#ifndef SB_PROVIDERS_PROVIDER_H
#define SB_PROVIDERS_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct config_provider;

enum prov_kind {
  PROV_ECHO,    /* built in, answers in-process */
  PROV_OPENAI,  /* any OpenAI-compatible server: pass-through */
  PROV_ADAPTER, /* translated through a struct prov_adapter */
};

struct prov_adapter;

struct prov {
  char *name;
  enum prov_kind kind;
  const struct config_provider *cfg;  /* NULL for echo; owned by config */
  const struct prov_adapter *adapter; /* PROV_ADAPTER only */
  char *base_url;                     /* resolved: config or default */
  int azure;                          /* PROV_OPENAI speaking Azure's dialect */
  char *azure_api_version; /* NULL: Azure's v1 API; else deployment URLs */
  void *priv;              /* adapter's parsed options */
  unsigned caps;           /* OAI_CAP_* this provider honours */
  char **models;           /* upstream model ids served */
  int nmodels;
  int models_known; /* 0: list could not be fetched; any model passes */
  char *api_key;    /* from cfg->api_key_env at start; never logged */
};

struct prov_registry {
  struct prov *provs;
  int nprovs;
};

/** An upstream HTTP request. Every string is owned by the struct. */
struct prov_http {
  char *url;
  char **headers; /* "Name: value" lines */
  int nheaders;
  char *body;
  size_t body_len;
  char *method;  /* NULL: POST with a body, GET without */
  char *dropped; /* comma-separated request params the adapter dropped
                  * (reported to the client in x-switchboard-dropped-params),
                  * or NULL */
};

void prov_http_add_header(struct prov_http *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void prov_http_free(struct prov_http *h);

/** Record that param was dropped (policy class C, providers.md §9.7). */
void prov_http_note_dropped(struct prov_http *h, const char *param);

/**
 * Build the registry: the built-in echo provider first, then one entry
 * per configured provider, in config order. Credentials are read from
 * the environment here; a missing variable is an error naming it.
 * cfg must outlive the registry.
 */
int prov_registry_build(const struct config *cfg, struct prov_registry *out,
                        char *err, size_t errlen);

/** Replace p's model list (takes ownership of models). */
void prov_set_models(struct prov *p, char **models, int nmodels);

/** Find a provider by name; NULL if none. */
const struct prov *prov_find(const struct prov_registry *reg, const char *name,
                             size_t name_len);

/** 1 if p serves model (or its list is unknown). */
int prov_has_model(const struct prov *p, const char *model);

void prov_registry_free(struct prov_registry *reg);

#endif
