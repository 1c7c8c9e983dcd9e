/*
 * fed.h - the federation: the gateway as an MCP client of each upstream
 * server (Streamable HTTP, or a stdio child process), one long-lived
 * upstream session per server shared by every client session.
 *
 * Threads. The upstream sessions have one owner: the federation's own
 * thread and libuv loop (child processes through uv_spawn and pipes, HTTP
 * through net/upstream.h on that loop). Nothing else touches them. A
 * worker talks to it through a port (one per worker loop): calls go in
 * through a queue and a uv_async, and everything that comes back (a
 * call's messages and its end, the federation's events) is delivered on
 * the port's loop, so a worker's callbacks never race its own code. No
 * lock is held across I/O.
 *
 * What a worker reads without asking: the snapshot, an immutable,
 * reference-counted picture of every server (state, capabilities, and its
 * complete tool, prompt, resource and template lists, paged through)
 * swapped whenever one of them changes.
 *
 * Resilience. A server that cannot be reached, exits or answers garbage
 * is marked down in the snapshot with the reason and reconnected (or
 * restarted) with exponential back-off (1 s doubling to 60 s); calls to
 * it fail at once with that reason. Calls to a server that is starting
 * wait until it is up (or down, or their time-out). An upstream session the
 * server forgot (HTTP 404 on a session id) is re-established and the request
 * sent again, unseen by the caller. notifications/<x>/list_changed is
 * followed by a fresh listing, debounced. No fixed time-out kills a
 * call: a call fails only after timeout_s without any answer or progress
 * from the server, or after call_timeout_s in all when that is set; it is
 * then cancelled upstream (notifications/cancelled).
 *
 * Ids. Upstream request ids and progress tokens are the federation's
 * own; a caller sees its own progress token in progress notifications,
 * and the server's requests (sampling, elicitation, roots) with an id the
 * federation made unique ("fed-<n>"), to be answered through
 * mcp_fed_answer().
 */
#ifndef SB_MCP_FED_H
#define SB_MCP_FED_H

#include "config/config.h"
#include "config/mcp_server.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <uv.h>

struct mcp_fed;
struct mcp_fed_port;
struct mcp_fed_call;

enum mcp_fed_state {
  MCP_FED_STARTING, /* connecting or initializing (first time or again) */
  MCP_FED_UP,       /* initialized; lists are current */
  MCP_FED_DOWN,     /* failed; retried after a back-off */
  MCP_FED_DISABLED, /* defined with enabled false */
};

/** One server as the snapshot shows it. Every pointer is owned by the
 * snapshot and valid while the caller holds its reference. */
struct mcp_fed_server {
  const char *name;
  enum config_mcp_transport transport;
  enum mcp_fed_state state;
  const char *error;            /* why it is down (no secrets), or NULL */
  const char *protocol_version; /* negotiated with it, or NULL */
  const cJSON *server_info;     /* its serverInfo object, or NULL */
  const cJSON *capabilities;    /* its capabilities object, or NULL */
  const char *instructions;     /* or NULL */
  /* Its complete lists (arrays, in the server's order; empty arrays when
   * it lacks the capability or is not up). */
  const cJSON *tools;
  const cJSON *prompts;
  const cJSON *resources;
  const cJSON *templates; /* resources/templates/list */
  int64_t up_since_ms;    /* 0 unless up */
  int64_t restarts;       /* times it was reconnected or restarted */
};

struct mcp_fed_snap {
  uint64_t version; /* grows with every change */
  int nservers;
  const struct mcp_fed_server *servers; /* sorted by name */
};

/** Sink of one call, run on the port's loop. */
struct mcp_fed_sink {
  /**
   * A message from the server about this call, before its end:
   * notifications/progress (with the caller's own progressToken),
   * notifications/message, or a request to the client
   * (sampling/createMessage, elicitation/create, roots/list) whose id is
   * the federation's; it must be answered with mcp_fed_answer(), an
   * error object included, or the server waits until it gives up. msg
   * is borrowed.
   */
  void (*message)(void *ud, const cJSON *msg);
  /**
   * The call is over. response: the server's JSON-RPC response with its
   * "id" set to null, for the caller to put its own id back (the
   * federation never sees it); a "result" or an "error" member; the
   * caller takes it. Or NULL when there is none, with why (no secrets): the
   * server is down, went away, timed out, or sent something that is not
   * JSON-RPC. timed_out: 1 when the reason is a time-out. ud is not
   * used again.
   */
  void (*done)(void *ud, cJSON *response, const char *why, int timed_out);
};

/** What the federation tells every port, on its loop. */
struct mcp_fed_events {
  /**
   * A server's notification that belongs to no call
   * (notifications/resources/updated, notifications/message, ...), and
   * notifications/<tools|prompts|resources>/list_changed once the new
   * list is in the snapshot (also when a server came up, went down, or
   * the set of servers changed). A server's request that belongs to no
   * call is answered by the federation with an error, not delivered.
   * server: its name; msg borrowed.
   */
  void (*notify)(void *ud, const char *server, const cJSON *msg);
  void *ud;
};

struct mcp_fed_options {
  const struct config_security *sec; /* credential allow-list, link-local
                                      * rule; must outlive the federation */
  const char *client_name;           /* clientInfo.name sent upstream */
  const char *client_version;        /* clientInfo.version */
  long connect_timeout_ms;           /* HTTP connect; 0: 10000 */
  int max_list_items;                /* per list and server; 0: 10000 */
};

/**
 * Start the federation thread with no servers. 0, or SB_EIO (the thread
 * or its loop could not start) with err. The process must ignore SIGPIPE
 * (the gateway does): a child that dies while it is written to would
 * otherwise take the gateway with it.
 */
int mcp_fed_start(const struct mcp_fed_options *opt, struct mcp_fed **out,
                  char *err, size_t errlen);

/**
 * Make the set of servers defs (n of them; copied): new ones are started,
 * removed ones stopped, changed ones restarted, unchanged ones (same
 * definition text and same expanded credentials) left alone. Any thread.
 * defs are definitions as config_mcp_server_parse() makes them; one that
 * config_mcp_server_allowed() refuses stays down with that reason.
 * 0, or SB_ENOMEM.
 */
int mcp_fed_set_servers(struct mcp_fed *f, const struct config_mcp_server *defs,
                        int n);

/** Stop every server (stdio: close stdin, SIGTERM, SIGKILL; HTTP: DELETE
 * the session), end the thread, free everything. Every port must be
 * closed before. Safe on NULL. */
void mcp_fed_stop(struct mcp_fed *f);

/** The current snapshot with a reference for the caller. Any thread;
 * never blocks on I/O. */
const struct mcp_fed_snap *mcp_fed_snapshot(struct mcp_fed *f);
void mcp_fed_snap_release(const struct mcp_fed_snap *s);

/** A server of snap by name, or NULL. */
const struct mcp_fed_server *mcp_fed_find(const struct mcp_fed_snap *s,
                                          const char *name);

/**
 * Open a port on loop (the calling thread's, which must run it); ev
 * (copied; may be NULL) receives the federation's events there. 0 or
 * SB_EIO.
 */
int mcp_fed_port_open(struct mcp_fed *f, uv_loop_t *loop,
                      const struct mcp_fed_events *ev,
                      struct mcp_fed_port **out);

/** Close a port: its calls are cancelled without their done callbacks.
 * Its uv handle closes asynchronously; run the loop afterwards. */
void mcp_fed_port_close(struct mcp_fed_port *p);

/**
 * Send request method with params (copied; may be NULL) to server,
 * on p's thread. sink (copied) and ud receive the call's messages and
 * its end, always later on p's loop, never from inside this function
 * (also when the server is unknown or down). *out (may be NULL): a handle
 * for mcp_fed_cancel(), valid until done runs. 0, or SB_ENOMEM.
 */
int mcp_fed_call(struct mcp_fed_port *p, const char *server, const char *method,
                 const cJSON *params, const struct mcp_fed_sink *sink, void *ud,
                 struct mcp_fed_call **out);

/**
 * The caller gives up on a call (its client cancelled it or left): the
 * server is sent notifications/cancelled with reason (may be NULL), and
 * no callback of the call runs afterwards.
 */
void mcp_fed_cancel(struct mcp_fed_call *c, const char *reason);

/**
 * The answer to a server's request delivered by a sink's message:
 * response is a JSON-RPC response (result or error) whose id is the one
 * the request had; copied. Unknown or already answered ids are ignored.
 * 0, or SB_ENOMEM.
 */
int mcp_fed_answer(struct mcp_fed_port *p, const cJSON *response);

/**
 * A client's notification for server (notifications/roots/list_changed):
 * sent as it is. 0, or SB_ENOMEM.
 */
int mcp_fed_notify(struct mcp_fed_port *p, const char *server,
                   const char *method, const cJSON *params);

#endif
