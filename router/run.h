/*
 * run.h - one request's way through a route: the order its targets are
 * tried in, retries of one target with back-off, fallback to the next,
 * the health reports that steer later requests, and the log of attempts.
 *
 * Decisions only: the caller makes each attempt and waits the delay it
 * is told, on its own loop. A run belongs to one request and is used on
 * that request's thread.
 */
#ifndef SB_ROUTER_RUN_H
#define SB_ROUTER_RUN_H

#include "base/apierr.h"
#include "router/router.h"
#include "router/routes.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* Longest back-off before trying one target again; a longer retry-after
 * moves on to the next target instead. */
#define ROUTER_RETRY_MAX_WAIT_MS 10000
#define ROUTER_RETRY_BASE_MS     100

struct router_run {
  struct route route;          /* the route as the request found it */
  int plan[ROUTE_MAX_TARGETS]; /* target indices in the order to try */
  int nplan;
  int attempt;   /* index into plan */
  int tries;     /* retries of the current target so far */
  int nattempts; /* attempts started */
  int64_t attempt_t0_us;
  cJSON *log; /* [{"provider","model","status","ms"}], NULL before the
               * first attempt ends */
};

/**
 * Start a run over route (taken: the run owns what it points to from now
 * on, cleared or not): plan its targets by its strategy, the
 * targets' health in stats and cost(ud, target) (USD, < 0 unpriced), and
 * resolve the first one reg serves into *t (the caller frees it with
 * router_target_free()). 0, or SB_ENOTFOUND with err (503
 * route_unavailable) when reg serves none. Either way run is to be
 * cleared with router_run_clear().
 */
int router_run_start(struct router_run *run, const struct route *route,
                     const struct prov_registry *reg, struct route_stats *stats,
                     double (*cost)(void *ud, const struct route_target *t),
                     void *ud, struct router_target *t, struct api_error *err);

/** The target of the current attempt. */
const struct route_target *router_run_target(const struct router_run *run);

/** An attempt at the current target starts now. */
void router_run_begin(struct router_run *run);

/** The current attempt, served by provider's model, answered status. */
void router_run_ok(struct router_run *run, struct route_stats *stats,
                   const char *provider, const char *model, int status);

/**
 * The current attempt, at provider's model, failed with err (what the
 * client gets if nothing else is tried). Returns the wait in ms before
 * the next attempt, or -1 when none is left. When the next attempt goes
 * to another target, *t is set to it (the caller frees it); else
 * t->prov is NULL.
 */
int64_t router_run_failed(struct router_run *run,
                          const struct prov_registry *reg,
                          struct route_stats *stats, const char *provider,
                          const char *model, const struct api_error *err,
                          struct router_target *t);

void router_run_clear(struct router_run *run);

#endif
