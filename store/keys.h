/*
 * keys.h - gateway API keys and the admin credential in SQLite (table
 * `api_keys`, migrations/0003_keys.sql).
 *
 * A secret is shown once, when it is made: only its SHA-256 and a display
 * prefix are stored. Secrets are 32 random bytes (OpenSSL RAND_bytes) in
 * lower-case hex after "sk-sb-" (gateway keys), "sk-sb-admin-" (admin
 * keys) or "sk-sb-viewer-" (viewer keys), so a fast hash is enough: there
 * is nothing to brute-force. A key is found by the hash of the whole
 * secret, never by its prefix: the prefix only tells a reader what it is.
 *
 * Every function here opens its own connection to the database at path,
 * does its work in one transaction and closes it: BLOCKING. Call them from
 * the CLI, at start-up, or from a thread pool, never on an event loop. A
 * running gateway notices changes made by another process through
 * store_keys_version().
 */
#ifndef SB_STORE_KEYS_H
#define SB_STORE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define STORE_KEY_HASH_LEN   32
#define STORE_KEY_SECRET_MAX 96
/* Longest name in bytes (adm_grant keeps a copy in 96 bytes). */
#define STORE_KEY_NAME_MAX 64
/* A key's MCP tool globs: at most this many, each 1..STORE_KEY_MCP_TOOL_LEN
 * printable bytes without spaces. */
#define STORE_KEY_MCP_TOOLS_MAX 64
#define STORE_KEY_MCP_TOOL_LEN  200
/* Longest cache policy text, in bytes. */
#define STORE_KEY_CACHE_MAX 512
/* Longest context_summary_model, in bytes. */
#define STORE_KEY_MODEL_MAX 256

enum store_key_role {
  STORE_KEY_GATEWAY, /* may call /v1 */
  STORE_KEY_ADMIN,   /* may call /admin/v1 (and /v1) */
  /* A read-only operator: every GET and HEAD of /admin/v1 and the
   * dashboard, no write there and no /v1 or /mcp (it is an operator's
   * credential, not an API key). */
  STORE_KEY_VIEWER,
};

/** "gateway", "admin" or "viewer". */
const char *store_key_role_name(enum store_key_role r);
/** The inverse; -1 for anything else (NULL included). */
int store_key_role_parse(const char *s);

/** Budget periods. */
enum store_key_period {
  STORE_PERIOD_NONE,
  STORE_PERIOD_DAILY,
  STORE_PERIOD_WEEKLY,
  STORE_PERIOD_MONTHLY,
  STORE_PERIOD_TOTAL,
};

/** One key as stored. Strings and arrays are owned by the struct. */
struct store_key {
  char *id;   /* "key_" + 16 hex digits */
  char *name; /* unique; 1..STORE_KEY_NAME_MAX bytes, no control characters,
               * never shaped like an id */
  /* For display: the secret's kind prefix and its first 6 hex digits
   * ("sk-sb-1a2b3c", "sk-sb-admin-1a2b3c", "sk-sb-viewer-1a2b3c"). */
  char *prefix;
  unsigned char hash[STORE_KEY_HASH_LEN]; /* SHA-256 of the secret */
  enum store_key_role role;
  char **models; /* glob patterns (fnmatch) on "provider/model"; none: any */
  int nmodels;
  int64_t rpm;                         /* requests per minute; 0: unlimited */
  int64_t tpm;                         /* tokens per minute; 0: unlimited */
  int64_t max_parallel;                /* requests in flight; 0: unlimited */
  double budget_usd;                   /* < 0: no budget */
  enum store_key_period budget_period; /* NONE exactly when no budget */
  int64_t expires_at;                  /* unix seconds; 0: never */
  char **tags;
  int ntags;
  char **mcp_tools; /* glob patterns on MCP tool names ("<server>__<tool>",
                     * "chat"); mcp_tools_set 0: any tool */
  int nmcp_tools;
  int mcp_tools_set; /* 1: the list holds (nmcp_tools 0: no tool) */
  /* The model ("provider/model" or a route) that summarises the history a
   * conversation turn leaves out, or NULL: it is trimmed
   * (docs/conversations.md). At most STORE_KEY_MODEL_MAX bytes. */
  char *context_summary_model;
  /* The key's response-cache policy as a JSON object (the gateway reads
   * it: router/cache_policy.h), or NULL: none of its own. At most
   * STORE_KEY_CACHE_MAX bytes. */
  char *cache;
  int64_t created_at; /* unix seconds */
  int64_t revoked_at; /* unix seconds; 0: active */
};

struct cJSON;

/** "active", "revoked" or "expired" at unix time now_s. */
const char *store_key_status(const struct store_key *k, int64_t now_s);

/**
 * The one JSON form of a key, for the admin API and `keys list --json`:
 * every field but the hash ({id, object:"gateway.key", name, prefix, role,
 * models, rpm, tpm, max_parallel, budget_usd, budget_period, expires_at,
 * tags, mcp_tools, context_summary_model, cache, created_at, revoked_at,
 * status};
 * absent lists, times and models are null; mcp_tools is null for any tool, an
 * array (maybe empty) when the key has a list). Caller frees.
 */
struct cJSON *store_key_json(const struct store_key *k, int64_t now_s);

/** Free a key's members and the key itself. Safe on NULL. */
void store_key_free(struct store_key *k);

/** Free an array of n keys from store_keys_list(). */
void store_keys_free(struct store_key *keys, int n);

/** SHA-256 of secret into out. */
void store_key_hash(const char *secret, unsigned char out[STORE_KEY_HASH_LEN]);

/** "daily", "weekly", "monthly", "total" (and "" or NULL for none) to the
 * enum; -1 for anything else. */
int store_key_period_parse(const char *s);
/** The inverse: "" for STORE_PERIOD_NONE (and for values out of range). */
const char *store_key_period_name(enum store_key_period p);

/**
 * Check the editable fields of k (name, models, tags, limits, budget,
 * expiry, mcp_tools, context_summary_model) as store_keys_create() and
 * store_keys_update() do before they touch the database. Returns 0 or SB_EINVAL
 * with err naming the field
 * ("name: ...", "rpm: ...").
 */
int store_key_validate(const struct store_key *k, char *err, size_t errlen);

/**
 * Create a key from spec (id, prefix, hash, created_at and revoked_at are
 * filled in here; the rest is copied). The new secret goes to secret
 * (NUL-terminated) and the stored key, if out is not NULL, to *out
 * (caller frees). Returns 0, SB_EINVAL with err for a name already in use
 * or an invalid spec (see store_key_validate()), SB_EDB otherwise.
 * The database must exist and be migrated (store_migrate()).
 */
int store_keys_create(const char *path, const struct store_key *spec,
                      char secret[STORE_KEY_SECRET_MAX], struct store_key **out,
                      char *err, size_t errlen);

/**
 * Every key, revoked ones included, oldest first. *keys (caller frees
 * with store_keys_free; NULL when there are none) and *n. Returns 0 or
 * SB_EDB with err (also for a row whose models or tags are not a JSON
 * array of strings: a broken allow-list must not read as "any model").
 */
int store_keys_list(const char *path, struct store_key **keys, int *n,
                    char *err, size_t errlen);

/**
 * Revoke the key whose id or name is id_or_name (revoked_at = now).
 * Returns 0, SB_ENOTFOUND, or SB_EDB with err. Revoking a revoked key is
 * a no-op that returns 0.
 */
int store_keys_revoke(const char *path, const char *id_or_name, char *err,
                      size_t errlen);

/**
 * Replace the editable fields (name, models, rpm, tpm, max_parallel,
 * budget_usd, budget_period, expires_at, tags, mcp_tools) of the key whose id
 * is k->id with k's (role, prefix, hash and the times are left alone). Returns
 * 0, SB_ENOTFOUND, SB_EINVAL (name taken, or see store_key_validate()), or
 * SB_EDB with err.
 */
int store_keys_update(const char *path, const struct store_key *k, char *err,
                      size_t errlen);

/**
 * Numbers that change whenever the tables a gateway serves from memory
 * may have changed, from this process or another, so that it reloads
 * only when needed: *control for keys, prices and routes, *providers
 * (may be NULL) for providers and MCP servers, kept apart because
 * rebuilding the providers may wait on the network and keys must not. They are
 * sums of counters in table `versions` that triggers on those tables increment,
 * so request records and other writes leave them alone.
 * Uses a read-only connection kept in *conn (opened on first use, *conn
 * NULL before; close it with store_keys_version_close(), safe on NULL).
 * Cheap: one indexed read, no transaction left open. A watch belongs to
 * one thread at a time. Returns 0 or SB_EDB (*conn stays usable).
 */
struct store_keys_watch;
int store_keys_version(const char *path, struct store_keys_watch **conn,
                       int64_t *control, int64_t *providers);

/**
 * store_keys_version() with the mcp_servers table's counter on its own:
 * *providers counts both the providers and the mcp_servers tables (what
 * the providers' watcher serves and reports through store_gateway_seen,
 * so that store_gateways_wait(providers=1) also waits for an MCP server
 * change), *mcp_servers (may be NULL) the mcp_servers table alone. A
 * provider change is thus *providers - *mcp_servers moving. One read:
 * the numbers agree.
 */
int store_watch_versions(const char *path, struct store_keys_watch **conn,
                         int64_t *control, int64_t *providers,
                         int64_t *mcp_servers);
void store_keys_version_close(struct store_keys_watch *conn);

/**
 * Running gateways (table `gateways`): a gateway reports the versions it
 * serves (as store_keys_version() gives them) after every reload
 * (store_gateway_seen) and removes itself when it stops
 * (store_gateway_gone). Both write: not for a worker's loop.
 */
int store_gateway_seen(const char *path, int64_t control, int64_t providers,
                       char *err, size_t errlen);
void store_gateway_gone(const char *path);

/**
 * After a change, wait up to timeout_ms until every live gateway on this
 * host serves the database's current version of the providers
 * (providers != 0) or of everything else. Rows of processes that no
 * longer exist are removed. *late: how many gateways had not caught up
 * when the time ran out. 0 or SB_EDB.
 */
int store_gateways_wait(const char *path, int providers, int timeout_ms,
                        int *late, char *err, size_t errlen);

/* ---- prices (table `prices`) and spend ---- */

/** A price per million tokens, USD. */
struct store_price {
  char *model;   /* "provider/model" or an upstream model name */
  double input;  /* prompt tokens (cached ones excepted) */
  double output; /* completion tokens (reasoning included) */
  double cached; /* cached prompt tokens; < 0: the input price */
};

void store_prices_free(struct store_price *p, int n);

/** Every price. Blocking, like the key functions. 0 or SB_EDB. */
int store_prices_list(const char *path, struct store_price **out, int *n,
                      char *err, size_t errlen);

/** Insert or replace a price. 0, SB_EINVAL, or SB_EDB. */
int store_prices_set(const char *path, const struct store_price *p, char *err,
                     size_t errlen);

/** Delete the price of model: 0, SB_ENOTFOUND or SB_EDB. Requests for it
 * are then recorded unpriced (null cost). */
int store_prices_delete(const char *path, const char *model, char *err,
                        size_t errlen);

/*
 * Named definitions: the routes, providers and mcp_servers tables hold
 * rows of a name, a definition as JSON text (router/routes.h, the
 * config's provider object and config/mcp_server.h read it) and who owns the
 * row: the config file (STORE_SRC_CONFIG, which follows the file at every
 * start) or an operator through the admin API or the CLI (STORE_SRC_API, which
 * wins over the file).
 */
enum store_table { STORE_ROUTES, STORE_PROVIDERS, STORE_MCP_SERVERS };
enum store_source { STORE_SRC_API, STORE_SRC_CONFIG };

struct store_def {
  char *name;
  char *definition;
  enum store_source source;
  int64_t updated_at; /* unix seconds */
};

void store_defs_free(struct store_def *defs, int n);

/** Every row of table, by name. 0 or SB_EDB. */
int store_defs_list(const char *path, enum store_table table,
                    struct store_def **out, int *n, char *err, size_t errlen);

/** Insert or replace name as an operator's row (STORE_SRC_API). */
int store_defs_set(const char *path, enum store_table table, const char *name,
                   const char *definition, char *err, size_t errlen);

/** Delete a row: 0, SB_ENOTFOUND or SB_EDB. */
int store_defs_delete(const char *path, enum store_table table,
                      const char *name, char *err, size_t errlen);

/**
 * Make the config file's rows of table what defs says, in one
 * transaction: absent names are inserted and config-owned ones updated
 * (STORE_SRC_CONFIG); config-owned rows no longer in defs are deleted;
 * operator-owned rows are left as they are, and when they differ from
 * the file their names are returned in *kept (NULL-terminated, caller
 * frees each and the array; NULL when none) so the caller can say so.
 */
int store_defs_seed(const char *path, enum store_table table,
                    const struct store_def *defs, int n, char ***kept,
                    char *err, size_t errlen);

/** What key_id spent (sum of recorded costs) since since_ms. From a UTC
 * midnight (a budget period's start) it reads the daily roll-ups, which
 * outlive the request records retention deletes. 0 or SB_EDB. */
int store_key_spend(const char *path, const char *key_id, int64_t since_ms,
                    double *usd, char *err, size_t errlen);

#endif
