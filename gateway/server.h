/*
 * server.h - the HTTP server: worker threads, each with its own libuv
 * loop, libwebsockets context, SO_REUSEPORT listener and curl multi
 * handle (docs/architecture.md), and the process lifecycle.
 */
#ifndef SB_GATEWAY_SERVER_H
#define SB_GATEWAY_SERVER_H

#include "config/config.h"
#include "gateway/metrics.h"
#include "providers/provider.h"
#include "store/store.h"

#include <cjson/cJSON.h>

/** What every worker shares. All of it is read-only or thread-safe. */
struct gw {
  const struct config *cfg;
  struct store *store;
  struct metrics *metrics;
  struct admission *adm; /* keys, admin credential, prices, routes, providers */
  struct route_stats *route_stats; /* health and latency of route targets */
  struct mcp_gw *mcp;     /* the MCP endpoint's shared state (gateway/mcp.h) */
  struct gw_cache *cache; /* the response cache (gateway/cache.h) */
  /* Failed dashboard sign-ins per client address (admission/lockout.h;
   * thread-safe, shared by every worker). */
  struct lockout *signin_lockout;
  /* The credential of the gateway's requests to itself (gateway/subreq.h):
   * written once by subreq_init() before any worker runs, then only read;
   * never logged, stored or sent anywhere but to this process. */
  char internal_secret[96];
};

/**
 * Start cfg->workers workers listening on cfg->host:cfg->port, serve
 * until SIGINT or SIGTERM, then shut down gracefully (stop accepting, let
 * requests finish for up to limits.shutdown_grace_s, cancel the rest).
 * SIGINT and SIGTERM must be blocked in the calling thread before any
 * other thread exists. Returns 0 after a clean shutdown, or a negative
 * SB_E* code if the server could not start (err says why).
 */
int server_run(struct gw *gw, char *err, size_t errlen);

#endif
