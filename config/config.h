/*
 * config.h - the process configuration: defaults, the JSON config file,
 * then environment and flags on top (see docs/reference.md).
 *
 * A struct config is filled once at start-up and is read-only afterwards,
 * so worker threads share it without locks.
 */
#ifndef SB_CONFIG_CONFIG_H
#define SB_CONFIG_CONFIG_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct config_kv {
  char *name;
  char *value;
};

struct config_provider {
  char *name;
  char *kind;        /* "openai" */
  char *base_url;    /* without trailing slash */
  char *api_key_env; /* may be NULL */
  char **models;     /* NULL when the list is to be fetched */
  int nmodels;
  int passthrough_auth;
  struct config_kv *headers; /* extra headers sent upstream; "${VAR}" in
                              * a value is VAR from the environment */
  int nheaders;
  char **forward_headers; /* client headers copied upstream, lowercase */
  int nforward_headers;
  int stream_usage; /* ask upstreams for usage on streams */
  char *options;    /* kind-specific options as JSON text, or NULL */
  char *definition; /* the object as written, without "name", as JSON text:
                     * what the providers table stores */
};

struct config_limits {
  size_t max_body_bytes;
  size_t max_header_bytes;
  size_t max_response_bytes;
  int idle_timeout_s;
  int request_timeout_s;
  int connect_timeout_ms;
  int stream_idle_timeout_s;
  int shutdown_grace_s;
  int max_json_depth;
  int header_timeout_s;          /* a connection's request head must be complete
                                  * within this */
  int store_batch_ms;            /* the request log's writer lets a batch
                                  * gather this long (store gather_us) */
  long budget_max_output_tokens; /* a budgeted request to a model of unknown
                                  * maximum output, without its own limit,
                                  * gets this one */
};

/* What clients may call the gateway by, and what provider definitions
 * may reach: checked wherever a request or a definition comes in. */
struct config_security {
  char **allowed_hosts; /* Host header names served ("*": any, "*.dom":
                         * any name under dom); empty: config_finish()
                         * fills in the gateway's own names */
  int nallowed_hosts;
  char **credential_env; /* environment variables a provider may use as
                          * a credential: names, or prefixes ending in
                          * '*' */
  int ncredential_env;
  int allow_link_local; /* providers may reach link-local and cloud
                         * metadata addresses */
};

/* The MCP endpoint (/mcp). */
struct config_mcp {
  int session_ttl_s;        /* a client session unused this long ends; default
                             * 86400 */
  int keepalive_s;          /* an SSE comment on idle MCP streams; default 15 */
  int page_size;            /* items per page of every list; default 100 */
  int max_sessions;         /* live client sessions; default 10000 */
  int max_sessions_per_key; /* ... of one key: its least recently used one
                             * ends when it opens one more; default 100 */
};

/* "retention": how many days stored data is kept; 0 (the default) keeps
 * it forever. Applied by a background job (store/retention.h). */
struct config_retention {
  int conversations_days; /* since a conversation's last activity */
  int responses_days;     /* since a stored response was made */
  int requests_days;      /* the request log (usage roll-ups are kept) */
};

/* "ui": the web dashboard (gateway/ui.c). */
struct config_ui {
  int session_ttl_s; /* a sign-in lasts this long; default 43200 (12 h) */
  /* Sign-in lock-out (admission/lockout.h): this many failed sign-ins from
   * one client address within signin_window_s refuse its next ones (429)
   * until the window frees a slot; default 5 in 900 s. At most
   * signin_max_addresses addresses are tracked (default 10000). */
  int signin_max_failures;
  int signin_window_s;
  int signin_max_addresses;
};

/* "logging": what the request log keeps besides its records. */
struct config_logging {
  int bodies;            /* keep request and response bodies; default 0 */
  size_t body_max_bytes; /* each cut at this; default 65536 */
};

/* "cache": the response cache (docs/cache.md). The policy here is every
 * key's and route's default; a key's or a route's own "cache" object
 * overrides it (router/cache_policy.h). */
struct config_cache {
  int enabled;            /* cache answers unless a key or route says not;
                           * default 0 */
  int ttl_s;              /* an entry lives this long; default 3600 */
  size_t max_entry_bytes; /* a larger answer is not stored; default 1 MiB */
  size_t max_bytes;       /* every entry; LRU beyond; default 256 MiB */
  size_t memory_bytes;    /* the most recently used entries also held in
                           * memory (a hit on one needs no disk read);
                           * default 32 MiB, 0: none */
  char *path;             /* the entries' SQLite file; NULL: the database's
                           * path plus ".cache" */
  int sweep_ms;           /* expiry and eviction pass; default 1000 */
  int hold_budget;        /* a hit is held against its key's budget like any
                           * request (1, the default); 0: a hit skips the
                           * hold (never the key check or rate limits) */
  int coalesce;           /* identical requests in flight share one
                           * upstream call; default 1 */
};

struct config_mcp_server;

struct config {
  char *host;
  int port;
  char *database;
  int workers;
  char *log_level;
  struct config_limits limits;
  char **cors_origins;
  int ncors_origins;
  struct config_provider *providers;
  int nproviders;
  char *routes; /* "routes" object as JSON text (name -> definition, see
                 * router/routes.h), or NULL: seeds the routes table */
  struct config_security security;
  struct config_mcp mcp;
  struct config_mcp_server *mcp_servers; /* config/mcp_server.h; seeds the
                                          * mcp_servers table */
  int nmcp_servers;
  struct config_retention retention;
  struct config_ui ui;
  struct config_logging logging;
  struct config_cache cache;
};

/** Fill cfg with the built-in defaults. */
void config_defaults(struct config *cfg);

/**
 * Merge the JSON file at path into cfg. Unknown keys and wrong types fail
 * with SB_ECONFIG and err naming the key ("providers[0].kind: expected a
 * string"). On failure cfg keeps whatever was merged; the caller exits.
 */
int config_load_file(struct config *cfg, const char *path, char *err,
                     size_t errlen);

/** Same, from a JSON text (for tests). */
int config_load_json(struct config *cfg, const char *json, size_t len,
                     char *err, size_t errlen);

/**
 * Apply HOST, PORT, SWITCHBOARD_DB, SWITCHBOARD_WORKERS and LOG_LEVEL
 * from the environment.
 */
int config_apply_env(struct config *cfg, char *err, size_t errlen);

/**
 * Apply SWITCHBOARD_ALLOWED_HOSTS and SWITCHBOARD_CREDENTIAL_ENV (comma
 * separated lists), then fill what is left to its default: the allowed
 * hosts are the loopback names and the listen address, and, when
 * listening on every address, this host's name and interface
 * addresses; the credential variables are SWITCHBOARD_CRED_* and the
 * well-known provider variables (OPENAI_API_KEY, ...). Call once, after
 * config_apply_env().
 */
void config_finish(struct config *cfg);

/** Check cross-field rules (unique provider names, ranges) and that every
 * provider passes config_provider_allowed(). */
int config_validate(const struct config *cfg, char *err, size_t errlen);

/** 1 when sec lets a provider read the environment variable name. */
int config_env_allowed(const struct config_security *sec, const char *name);

/**
 * Whether sec admits provider p: every environment variable it names
 * (api_key_env, "${VAR}" in headers, options ending in "_env", and the
 * AWS variables a bedrock provider reads by default) is on the
 * credential allow-list, and its base_url is no link-local or metadata
 * address unless allowed. 0, or SB_ECONFIG with err.
 */
int config_provider_allowed(const struct config_security *sec,
                            const struct config_provider *p, char *err,
                            size_t errlen);

/* The pieces of config_provider_allowed() that MCP server definitions
 * (config/mcp_server.h) share with providers. */

/** 0 when every "${VAR}" in value names a variable sec lets a definition
 * read; else SB_ECONFIG with the first refused name in var (cap bytes). */
int config_env_refs_allowed(const struct config_security *sec,
                            const char *value, char *var, size_t cap);

/** 0 when url ("scheme://HOST...") may be reached under sec: HOST is no
 * literal link-local or cloud metadata address, unless sec allows those;
 * else SB_ECONFIG with HOST (lower case) in host (cap bytes). */
int config_url_allowed(const struct config_security *sec, const char *url,
                       char *host, size_t cap);

/** 1 when a header called name carries a credential (Authorization,
 * x-api-key, ...): in a stored definition its value must then hold a
 * "${VAR}" reference (config_has_env_ref), never the secret itself. */
int config_credential_header(const char *name);

/** 1 when s holds a "${NAME}" reference (NAME of [A-Za-z0-9_]). */
int config_has_env_ref(const char *s);

/**
 * Parse one provider object (a config file's "providers" entry, or a row
 * of the providers table) into p. name: the provider's name when it is
 * not in obj (a stored row), else NULL. path names obj in errors
 * ("providers[0]"). Unknown keys, a literal "api_key" and wrong types
 * fail with SB_ECONFIG; kind-specific options are checked later, by the
 * adapter. p is to be freed with config_provider_free() either way.
 */
int config_provider_parse(struct config_provider *p, const cJSON *obj,
                          const char *name, const char *path, char *err,
                          size_t errlen);

void config_provider_free(struct config_provider *p);

/** value with each "${NAME}" (NAME of [A-Za-z0-9_]) replaced by that
 * environment variable (caller frees), or NULL with NAME in missing (cap
 * bytes; may be NULL) when one is unset or empty. */
char *config_expand_env(const char *value, char *missing, size_t cap);

/** Replace a string field, freeing the old value. */
void config_set_str(char **field, const char *value);

/** Free everything cfg owns. */
void config_free(struct config *cfg);

#endif
