#include "router/run.h"
#include "base/sb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct route_target *router_run_target(const struct router_run *run)
{
  return &run->route.targets[run->plan[run->attempt]];
}

/* Resolve the plan's current target. 0, or nonzero when this gateway
 * does not serve it. */
static int resolve_current(const struct router_run *run,
                           const struct prov_registry *reg,
                           struct router_target *t)
{
  const struct route_target *rt = router_run_target(run);
  char *name = sb_asprintf("%s/%s", rt->provider, rt->model);
  struct api_error err;
  int rc = router_resolve(reg, name, t, &err);

  free(name);
  return rc;
}

int router_run_start(struct router_run *run, const struct route *route,
                     const struct prov_registry *reg, struct route_stats *stats,
                     double (*cost)(void *ud, const struct route_target *t),
                     void *ud, struct router_target *t, struct api_error *err)
{
  memset(run, 0, sizeof(*run));
  run->route = *route;
  run->nplan = route_plan(&run->route, stats, sb_now_ms(), cost, ud,
                          (double)(sb_random_u32() % 1000000) / 1e6, run->plan);
  for(run->attempt = 0; run->attempt < run->nplan; run->attempt++)
    if(!resolve_current(run, reg, t))
      return 0;
  api_error_set(err, 503, "upstream_error", "route_unavailable", "model",
                "No target of route '%s' is served by this gateway.",
                route->name);
  return SB_ENOTFOUND;
}

void router_run_begin(struct router_run *run)
{
  run->attempt_t0_us = sb_mono_us();
  run->nattempts++;
}

static void log_attempt(struct router_run *run, const char *provider,
                        const char *model, int status)
{
  cJSON *a = cJSON_CreateObject();

  if(!run->log)
    run->log = cJSON_CreateArray();
  cJSON_AddStringToObject(a, "provider", provider);
  cJSON_AddStringToObject(a, "model", model);
  cJSON_AddNumberToObject(a, "status", status);
  cJSON_AddNumberToObject(a, "ms",
                          (double)((sb_mono_us() - run->attempt_t0_us) / 1000));
  cJSON_AddItemToArray(run->log, a);
}

void router_run_ok(struct router_run *run, struct route_stats *stats,
                   const char *provider, const char *model, int status)
{
  log_attempt(run, provider, model, status);
  route_stats_report(stats, router_run_target(run), 1,
                     (sb_mono_us() - run->attempt_t0_us) / 1000, sb_now_ms());
}

int64_t router_run_failed(struct router_run *run,
                          const struct prov_registry *reg,
                          struct route_stats *stats, const char *provider,
                          const char *model, const struct api_error *err,
                          struct router_target *t)
{
  int64_t delay = -1;

  memset(t, 0, sizeof(*t));
  log_attempt(run, provider, model, err->status);
  route_stats_report(stats, router_run_target(run), 0, 0, sb_now_ms());
  if(run->tries < run->route.retries) {
    /* The upstream's own retry-after wins; else exponential with
     * jitter, so that many clients do not come back in step. */
    delay = err->retry_after_ms > 0  ? err->retry_after_ms
            : err->retry_after_s > 0 ? (int64_t)err->retry_after_s * 1000
                                     : (ROUTER_RETRY_BASE_MS << run->tries) +
                                           (int64_t)(sb_random_u32() % 100);
    if(delay <= ROUTER_RETRY_MAX_WAIT_MS)
      run->tries++;
    else
      delay = -1;
  }
  if(delay >= 0)
    return delay;
  /* The next target this gateway serves, at once. */
  do {
    run->tries = 0;
    if(++run->attempt >= run->nplan)
      return -1;
  } while(resolve_current(run, reg, t));
  return 0;
}

void router_run_clear(struct router_run *run)
{
  route_clear(&run->route);
  cJSON_Delete(run->log);
  memset(run, 0, sizeof(*run));
}
