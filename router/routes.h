/*
 * routes.h - routing policies: a named route ("model": "smart") with
 * ordered targets and a strategy, and the health and latency of targets
 * that the strategies and the cool-down read.
 *
 * route_parse/route_json/route_plan are pure (no I/O, no clock: the
 * caller passes the time and the random number). struct route_stats is
 * shared by every worker and guarded by its own mutex.
 */
#ifndef SB_ROUTER_ROUTES_H
#define SB_ROUTER_ROUTES_H

#include "router/cache_policy.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTE_MAX_TARGETS    16
#define ROUTE_MAX_RETRIES    5
#define ROUTE_COOLDOWN_FAILS 3     /* consecutive failures that cool a target */
#define ROUTE_COOLDOWN_MS    30000 /* then one probe is let through */

enum route_strategy {
  ROUTE_FALLBACK,      /* targets in order */
  ROUTE_WEIGHTED,      /* first by weight, the rest in order */
  ROUTE_LEAST_LATENCY, /* by moving average of time to first byte */
  ROUTE_LOWEST_COST,   /* by price; unpriced last */
};

struct route_target {
  char *provider;
  char *model;
  int weight;     /* weighted: relative share, >= 1 */
  int timeout_ms; /* whole attempt; 0: limits.request_timeout_s */
};

/** The longest route name, in bytes. */
#define ROUTE_NAME_MAX 128

struct route {
  char *name;
  enum route_strategy strategy;
  struct route_target targets[ROUTE_MAX_TARGETS];
  int ntargets;
  int retries; /* extra tries of one target on 429, 5xx, time-out */
  /* "context": {"strategy": "summarize", "summary_model": M}: the model
   * or route M summarises the history a conversation turn leaves out
   * (over the key's own choice); NULL: the key's, else trimmed. */
  char *summary_model;
  struct cache_policy cache; /* "cache" (cache_policy.h); unset: none */
};

/**
 * Read a route from JSON: {"strategy": "fallback"|"weighted"|
 * "least-latency"|"lowest-cost" (default fallback), "targets": [
 * "provider/model" | {"provider","model","weight"?,"timeout_ms"?}, ...],
 * "retries": N, "context": {"strategy": "trim"|"summarize",
 * "summary_model": "provider/model"|route (summarize only, and then
 * required)}, "cache": a cache policy (router/cache_policy.h)}.
 * name (may be NULL) is checked (1 to ROUTE_NAME_MAX printable bytes, no
 * spaces, no '/') and copied. Returns 0, or SB_EINVAL with err naming the
 * field.
 */
int route_parse(const cJSON *o, const char *name, struct route *out, char *err,
                size_t errlen);

/** The JSON form of a route (what route_parse reads, plus "name"). */
cJSON *route_json(const struct route *r);

void route_clear(struct route *r);
void route_copy(struct route *dst, const struct route *src);

const char *route_strategy_name(enum route_strategy s);

struct route_stats;

struct route_stats *route_stats_new(void);
void route_stats_free(struct route_stats *s);

/** The outcome of one attempt at a target: ok, and (ok) its time to
 * first byte. */
void route_stats_report(struct route_stats *s, const struct route_target *t,
                        int ok, int64_t ttfb_ms, int64_t now_ms);

/** What the router knows of one target (provider/model) right now. */
struct route_health {
  char *model;         /* the upstream model (owned) */
  double ewma_ttfb_ms; /* moving average of successful attempts; < 0: none */
  int fails;           /* consecutive failed attempts */
  int64_t cool_ms;     /* time left in the cool-down; 0: not cooling */
};

/**
 * The health of every target of provider the router has seen (a target
 * is seen once a route plans it; only attempts made through routes are
 * reported, so a provider reached only by "provider/model" has none), in
 * no particular order, into *out (caller frees with
 * route_health_free()). Returns how many; 0 with *out NULL when none.
 * Takes the stats' mutex briefly; safe on any thread.
 */
int route_stats_health(struct route_stats *s, const char *provider,
                       int64_t now_ms, struct route_health **out);

void route_health_free(struct route_health *h, int n);

/**
 * The order in which to try rt's targets for one request: indices into
 * rt->targets, written to order (ROUTE_MAX_TARGETS room); returns how
 * many (all of them). Healthy targets come first, in the strategy's
 * order; cooled-down targets last (a last resort, and their probe once
 * the cool-down has passed). cost (lowest-cost only; may be NULL) gives a
 * target's price per million tokens or < 0 when it has none. rnd in
 * [0, 1) picks the weighted target.
 */
int route_plan(const struct route *rt, struct route_stats *s, int64_t now_ms,
               double (*cost)(void *ud, const struct route_target *t), void *ud,
               double rnd, int *order);

#endif
