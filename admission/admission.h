/*
 * admission.h - who may call the gateway and what it may spend: gateway keys
 * and the admin credential, served from memory kept coherent with the database.
 *
 * The keys, prices, model capabilities, routes and providers live in SQLite
 * (store/keys.h, store/caps.h).
 * struct admission holds an immutable snapshot of them that every worker
 * reads, and the provider registry built from them (gateway/registry.h);
 * two watcher threads reload them when their version counters change
 * (another process, e.g. `switchboard keys revoke`, wrote to a table):
 * one for keys, prices and routes, one for providers, whose rebuild may
 * wait on the network. adm_reload() and adm_reload_providers() do
 * it at once after a change made through the admin API, so that change
 * holds from the very next request on every worker. Rate-limit state
 * (per key: a request bucket, a token bucket, requests in flight) lives
 * beside the snapshots and survives reloads.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef SB_ADMISSION_ADMISSION_H
#define SB_ADMISSION_ADMISSION_H

#include "base/apierr.h"
#include "codec/canon.h"
#include "router/cache_policy.h"
#include "store/keys.h"

#include <stddef.h>
#include <stdint.h>

struct admission;
struct prov_registry;

/** How often the watcher looks for changes made by other processes. */
#define ADM_POLL_MS 100

/* Who builds the provider registry from the database: the gateway, which
 * may fetch model lists over the network to do it (gateway/registry.c).
 * load(ud, prev, strict, out, err, errlen) as registry_load(). */
struct adm_registry_source {
  int (*load)(void *ud, struct prov_registry *prev, int strict,
              struct prov_registry **out, char *err, size_t errlen);
  void *ud;
};

/* Who is told when the mcp_servers table changes (the MCP federation, a
 * layer above: admission includes nothing of it). changed(ud) runs on the
 * providers' watcher thread after another process changed the table,
 * or on the caller's thread in adm_reload_mcp_servers(); never two at
 * once. It may block (the federation reloading its servers): only after
 * it returns does this gateway report the new version as served, so a
 * CLI waiting on it (store_gateways_wait) sees the change applied. It
 * must not call adm_set_mcp_source(). */
struct adm_mcp_source {
  void (*changed)(void *ud);
  void *ud;
};

/**
 * Load the keys, routes, prices and providers of the database at db_path
 * and start the watcher. admin_secret: the value of SWITCHBOARD_ADMIN_KEY,
 * or NULL; it is kept only as its hash. src (copied; src->ud must outlive
 * the admission): builds the registry, at once and whenever the providers
 * table changes. Returns 0, or SB_EDB or
 * SB_ECONFIG (a stored provider cannot be built) with err.
 */
int adm_open(const char *db_path, const char *admin_secret,
             const struct adm_registry_source *src, struct admission **out,
             char *err, size_t errlen);

void adm_close(struct admission *a);

/** Reload the keys, prices and routes now (blocking: a thread pool or
 * start-up). 0 or SB_EDB. */
int adm_reload(struct admission *a);

/**
 * Set (src copied; NULL: none) who is told of mcp_servers changes. Not
 * called at once: the table as it is now is the source's to read when it
 * starts. A change made while no source is set is not told later, so set
 * the source before the source reads the table.
 */
void adm_set_mcp_source(struct admission *a, const struct adm_mcp_source *src);

/** Tell the MCP source now if the mcp_servers table changed since it was
 * last told (blocking: a thread pool; the admin API after a write). 0 or
 * SB_EDB. */
int adm_reload_mcp_servers(struct admission *a);

/** Rebuild the provider registry now if the providers table changed
 * (blocking, possibly for a model-list fetch: a thread pool). A provider
 * that cannot be built is left out and logged. 0 or an SB_E* code. */
int adm_reload_providers(struct admission *a);

/** 1 when any key or an admin credential exists: every call then needs
 * one. 0: the gateway runs open. */
int adm_required(struct admission *a);

/** What a request holds while it runs: the key it was admitted with. */
struct adm_grant {
  char key_id[40]; /* "" for the SWITCHBOARD_ADMIN_KEY credential */
  char name[96];
  int admin;
  int read_only; /* a viewer key: admin API reads only (admin is 1 too) */
  int in_flight; /* counted in the key's parallel requests */
  char **models; /* copy of the allow-list; NULL: any */
  int nmodels;
  char **tools; /* copy of the key's MCP tool globs (on "<server>__<tool>"
                 * and the gateway's own tool names); NULL: any */
  int ntools;
  int tools_set;       /* 1 when the key has a tool list (ntools may be 0:
                        * no tool at all) */
  char *summary_model; /* copy of the key's context_summary_model, or NULL */
  /* For x-ratelimit-* headers: limit and remaining, -1 when unlimited. */
  int64_t rpm_limit, rpm_remaining, tpm_limit, tpm_remaining;
  double budget_usd; /* < 0: none */
  enum store_key_period budget_period;
  double reserved;           /* USD held for this request (adm_reserve) */
  struct cache_policy cache; /* the key's response-cache policy; unset for
                              * the admin credential */
};

/** A price per million tokens, USD, cached filled in. */
struct adm_price {
  double input, output, cached;
};

/**
 * Admit a request presenting secret (NULL when it sent none) at unix time
 * now. Fills grant and returns 0, or returns nonzero with err filled:
 * 401 for a missing, unknown, revoked or expired key; 429 (with
 * retry_after_s) for a key over its requests-per-minute,
 * tokens-per-minute or parallel limit. admin_only: the endpoint needs an
 * admin credential (403 for a gateway key); a viewer key passes it with
 * grant->read_only set (the caller refuses its writes), and is refused
 * (403 read_only) where admin_only is 0. A successful call with
 * grant->in_flight set must be paired with adm_release().
 */
int adm_admit(struct admission *a, const char *secret, int64_t now_ms,
              int admin_only, struct adm_grant *grant, struct api_error *err);

/**
 * Admit, as adm_admit() does with the key's secret, a request the gateway
 * makes itself for a request of key key_id (gateway/subreq.h): the same
 * checks, limits and grant, by the key's id; "" stands for the admin
 * credential. Never for /admin (no admin_only). The caller has
 * authenticated the request as the gateway's own.
 */
int adm_admit_as(struct admission *a, const char *key_id, int64_t now_ms,
                 struct adm_grant *g, struct api_error *err);

#define ADM_ADMIN_TAG_LEN 32
/** A tag of the admin credential in SWITCHBOARD_ADMIN_KEY (the grant
 * adm_admit_as() gives for ""): ADM_ADMIN_TAG_LEN hex digits of a slow
 * hash (PBKDF2), the same for the same credential from one start to the
 * next, so that what was granted to it can be stored and refused once
 * it changes. NULL when there is none. */
const char *adm_admin_env_tag(const struct admission *a);

/**
 * Authenticate as adm_admit() does but take nothing from the key's
 * limits (grant->in_flight stays 0): for MCP session traffic (initialize,
 * lists, pings, streams), of which only tool calls count, through
 * adm_take(). Same errors but 429.
 */
int adm_authenticate(struct admission *a, const char *secret, int64_t now_ms,
                     struct adm_grant *grant, struct api_error *err);

/**
 * Take one request from the limits of grant's key (rpm, parallel, a tpm
 * bucket not empty), as adm_admit() does: one tool call. 0 (then
 * grant->in_flight is set and adm_release() must follow), or 429 with err
 * (401 if the key was revoked since). A no-op 0 for the admin
 * credential.
 */
int adm_take(struct admission *a, struct adm_grant *grant, int64_t now_ms,
             struct api_error *err);

/** 1 when grant may call the MCP tool name ("<server>__<tool>", or a
 * gateway tool such as "chat"): some glob of its list matches it (fnmatch,
 * no flags), or it has no list. */
int adm_tool_allowed(const struct adm_grant *grant, const char *name);

/** 1 when grant may use all of server: its prompts and resources, and
 * /mcp/<server>: a glob matches the literal text "<server>__*" (as "*",
 * "<server>__*" or "s*" do), or it has no list. */
int adm_server_allowed(const struct adm_grant *grant, const char *server);

/** Free what a grant holds (its lists: models and tools); they are left
 * empty. tools_set is kept, so that a cleared grant of a key with a
 * tool list admits no tool rather than every one. adm_release() calls
 * it; a grant from adm_authenticate() that never took a request needs
 * it alone. */
void adm_grant_clear(struct adm_grant *grant);

/** 0 when grant's allow-list admits model ("provider/model"), else 403
 * with err. */
int adm_model_allowed(const struct adm_grant *grant, const char *model,
                      struct api_error *err);

/** The allow-list on the name a client asked for, before it is resolved
 * (so that a model outside it gets the same 403 whether it exists or
 * not): a route name or provider/model the list admits, or a bare name
 * (no '/') it admits at one of reg's providers. 0, else 403 with err. */
struct prov_registry;
int adm_name_allowed(const struct adm_grant *grant,
                     const struct prov_registry *reg, const char *name,
                     struct api_error *err);

/** A provider and upstream model a request may be served by. */
struct adm_target {
  const char *provider;
  const char *model;
};

/**
 * Budgets that concurrency cannot overspend: before dispatch, hold the
 * worst case (prompt_tokens uncached plus max_output tokens at the price
 * of the dearest of the ntargets the request may reach: one for a model,
 * every target of a route) against the key's budget for its period; 429
 * insufficient_quota when spent + held + this would pass it, 403 when the
 * key has a budget and a target no price. A no-op for keys without a
 * budget. Calls add up: a request that learns it is bigger (a stored
 * conversation it continues) holds the difference with max_output 0.
 * adm_release() settles.
 */
int adm_reserve(struct admission *a, struct adm_grant *grant,
                const struct adm_target *targets, int ntargets,
                int64_t prompt_tokens, int64_t max_output, int64_t now_ms,
                struct api_error *err);

/**
 * The request is over: its tokens count against the key's tpm, its hold
 * is released and its actual cost (< 0: unknown) is spent. The grant's
 * lists are freed (adm_grant_clear).
 */
void adm_release(struct admission *a, struct adm_grant *grant,
                 const struct canon_usage *u, double cost);

/** The price of model at provider: "provider/model" first, then the bare
 * upstream name. 0, or SB_ENOTFOUND. */
int adm_price(struct admission *a, const char *provider, const char *model,
              struct adm_price *out);

/** What a model can take (store/caps.h), as served from memory. */
struct adm_model_caps {
  int64_t context_tokens;    /* prompt and answer together; > 0 */
  int64_t max_output_tokens; /* 0: unknown */
  unsigned modalities;       /* STORE_MOD_* bits; 0: unknown */
  int tools;                 /* 1, 0, or -1 unknown */
};

/** The capabilities of model at provider, looked up as prices are:
 * "provider/model" first, then the bare upstream name. 0, or
 * SB_ENOTFOUND (no known context window: trim nothing). */
int adm_model_caps(struct admission *a, const char *provider, const char *model,
                   struct adm_model_caps *out);

struct route;
struct prov_registry;

/** The provider registry in use, with a reference for the caller to drop
 * (prov_registry_unref) when done: a request holds it to its end. */
struct prov_registry *adm_registry(struct admission *a);

/** A copy of the route called name (caller clears it with route_clear),
 * or SB_ENOTFOUND. */
int adm_route(struct admission *a, const char *name, struct route *out);

/** The names of every route (caller frees each and the array). */
char **adm_route_names(struct admission *a, int *n);

/** USD for usage at price (cached prompt tokens at the cached price). */
double adm_cost(const struct adm_price *p, const struct canon_usage *u);

#endif
