/*
 * provider.h - configured provider instances and what every adapter
 * shares.
 *
 * Adapters are pure translation: they turn a request into an upstream
 * HTTP request description (struct prov_http) and upstream bytes back
 * into client bytes. The gateway does the I/O. A struct prov is built
 * with its registry and read-only afterwards, so every worker thread
 * shares it.
 */
#ifndef SB_PROVIDERS_PROVIDER_H
#define SB_PROVIDERS_PROVIDER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdatomic.h>
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
  const struct config_provider *cfg;  /* NULL for echo; owned by registry */
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

/*
 * The providers a request can reach: the built-in echo first, then every
 * configured one. Immutable once built and shared by every worker; a
 * change to the providers table builds a new one, and each request holds
 * a reference to the one it started with, so a provider edited or
 * deleted mid-request stays valid until that request ends.
 */
struct prov_registry {
  struct prov *provs;
  int nprovs;
  struct config_provider *cfgs; /* owned; provs[i].cfg point into it */
  int ncfgs;
  char *origin; /* what it was built from, for the builder to compare
                 * (gateway/registry.c); owned, may be NULL */
  atomic_int refs;
};

/** An upstream HTTP request. Every string is owned by the struct. */
struct prov_http {
  char *url;
  char **headers; /* "Name: value" lines; prov_http_add_header() keeps a
                   * power-of-two capacity, so an array built by hand
                   * must not be added to */
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

/** What a client brings to an upstream request. */
struct prov_client {
  const char *authorization;   /* client's Authorization value, or NULL */
  const struct config_kv *fwd; /* client headers listed in forward_headers */
  int nfwd;
};

/* Where a provider kind takes its credential. */
struct prov_cred {
  const char *header;      /* the provider's own key goes here; NULL: the
                            * adapter authenticates itself (SigV4) */
  int bearer;              /* ... as "Bearer KEY" */
  const char *pass_header; /* with passthrough_auth the client's own
                            * credential goes here: as it came under
                            * Authorization, without its "Bearer " under
                            * any other header */
};

/**
 * The headers every upstream request of p carries besides its API's own:
 * the credential as cred says (p's key, or the client's own with
 * passthrough_auth), then p's configured headers, then the client headers
 * p forwards. client may be NULL (a model-list fetch).
 */
void prov_http_add_common(struct prov_http *h, const struct prov *p,
                          const struct prov_client *client,
                          const struct prov_cred *cred);

/** When member key of obj is a Gemini tool call id carrying its thought
 * signature ("<id>__ts_<signature>", providers/gemini.h), replace it by a
 * short id for every other provider: at most 20 characters of <id>, "_"
 * and 16 hex digits of a hash of the whole (40 at most: OpenAI's limit),
 * the same for a call and its result. Anything else is left alone. */
void prov_short_gemini_id(cJSON *obj, const char *key);

/** Record that param was dropped (policy class C). */
void prov_http_note_dropped(struct prov_http *h, const char *param);

/**
 * The body of a token-count request (adapter.h build_count): body printed
 * into h->body (body is freed), as JSON both ways, with nothing reported
 * dropped (a count answers nothing to the client).
 */
void prov_http_count_body(struct prov_http *h, cJSON *body);

/** A count answer's non-negative number at member field into *tokens:
 * 0, or SB_EPROTO (*tokens 0) for a body that holds none. */
int prov_parse_count(const char *body, size_t len, const char *field,
                     int64_t *tokens);

/**
 * Build a registry of echo and one provider per entry of cfgs, in order,
 * with one reference held by the caller. The registry takes cfgs (an
 * array of n, from malloc) whatever the outcome. Credentials are read
 * from the environment here; a missing variable, an unknown kind or bad
 * options fail with SB_ECONFIG and err naming the provider.
 */
int prov_registry_build(struct config_provider *cfgs, int n,
                        struct prov_registry **out, char *err, size_t errlen);

/** What prov_registry_build() would say of c alone (path names it in
 * errors): 0 or SB_ECONFIG. credential: 0 to skip looking for the
 * credential's variable (a CLI's environment is not the gateway's). */
int prov_check(const struct config_provider *c, const char *path,
               int credential, char *err, size_t errlen);

/** Give reg's providers whose model list is unknown the list old had for
 * the same definition, so a rebuild need not fetch it again. */
void prov_registry_adopt_models(struct prov_registry *reg,
                                const struct prov_registry *old);

/** Take a reference (any thread); returns reg. */
struct prov_registry *prov_registry_ref(struct prov_registry *reg);

/** Drop a reference; the last one frees the registry. NULL is a no-op. */
void prov_registry_unref(struct prov_registry *reg);

/** Replace p's model list (takes ownership of models). */
void prov_set_models(struct prov *p, char **models, int nmodels);

/** Find a provider by name; NULL if none. */
const struct prov *prov_find(const struct prov_registry *reg, const char *name,
                             size_t name_len);

/** 1 if p serves model (or its list is unknown). */
int prov_has_model(const struct prov *p, const char *model);

#endif
