/*
 * mcp.h - the MCP endpoint: /mcp (every federated server this key may
 * use, plus the gateway's own tools) and /mcp/<server> (one server under
 * its own names), Streamable HTTP revision 2025-11-25 and the ones before
 * it down to 2025-03-26 (docs/mcp.md). Internal to gateway/.
 *
 * The process holds one struct mcp_gw (the federation, the sessions, the
 * catalogs, the calls in flight); each worker one struct mcp_worker (its
 * port to the federation and the streams it holds).
 */
#ifndef SB_GATEWAY_MCP_H
#define SB_GATEWAY_MCP_H

#include "base/apierr.h"

#include <stddef.h>
#include <uv.h>

struct gw;
struct req;
struct mcp_gw;
struct mcp_worker;

/** Start the federation with the servers of the database and load the
 * sessions; sets gw->mcp. 0, or an SB_E* code with err. */
int mcp_gw_open(struct gw *gw, char *err, size_t errlen);

/** Stop the federation and free everything; every worker is closed. */
void mcp_gw_close(struct gw *gw);

/** Read the mcp_servers table again and give the federation what it says
 * (BLOCKING: start-up, a watcher thread or the thread pool). 0 or
 * SB_EDB. */
int mcp_gw_reload(struct gw *gw);

/** The status of server name as the admin API shows it, or NULL when the
 * federation does not know it. Caller frees. */
struct cJSON *mcp_gw_status(struct gw *gw, const char *name);

/** Set the MCP gauges of gw->metrics (sessions, servers up). */
void mcp_gw_gauges(struct gw *gw);

/** On a worker's thread, with its loop. */
struct mcp_worker *mcp_worker_open(struct gw *gw, uv_loop_t *loop);

/** The worker is stopping: end its standalone streams so they do not hold
 * the shutdown. */
void mcp_worker_stopping(struct mcp_worker *mw);

/** Free what the worker holds; run its loop afterwards (handles close
 * asynchronously). Every request of the worker is gone. */
void mcp_worker_close(struct mcp_worker *mw);

struct config;
struct config_mcp_server;

/**
 * `switchboard mcp tools`: connect to the server def as the gateway would,
 * wait up to wait_s for it, print its tools (as a table of public names
 * and first description lines, or as its JSON list). Returns the exit
 * code.
 */
int mcp_cli_tools(const struct config *cfg, const struct config_mcp_server *def,
                  int json, int wait_s);

/** /mcp and /mcp/<server>: every method (POST once its body is read). */
void mcp_handle(struct req *r);

/** An error the generic request path answers on an MCP endpoint (401,
 * 403, 413, 429, 503): a JSON-RPC error body, id null. */
void mcp_respond_error(struct req *r, const struct api_error *err);

#endif
