/*
 * fed_int.h - the federation's private pieces (mcp/fed.h is the
 * contract): the thread and its ports (fed.c), one upstream session per
 * server (fed_conn.c), the transports behind a small table (fed_stdio.c,
 * fed_http.c) and what the federation adds to a definition (fed_def.c).
 *
 * Everything declared here runs on the federation's thread, except where
 * a comment says otherwise.
 */
#ifndef SB_MCP_FED_INT_H
#define SB_MCP_FED_INT_H

#include "mcp/fed.h"
#include "mcp/jsonrpc.h"
#include "net/upstream.h"

#include <stdatomic.h>
#include <stdint.h>

/* One message from a server, and a line of its stdout, at most this big:
 * beyond it the server is treated as broken. */
#define MCP_FED_MAX_MSG (16u * 1024 * 1024)
/* JSON nesting accepted from a server. */
#define MCP_FED_MAX_DEPTH 128
/* Reconnect / restart back-off. */
#define MCP_FED_BACKOFF_MIN_MS 1000
#define MCP_FED_BACKOFF_MAX_MS 60000
/* notifications/<x>/list_changed is followed by a listing this much
 * later, so that a burst of them costs one listing. */
#define MCP_FED_DEBOUNCE_MS 200
/* The protocol revision asked for, and the ones accepted in answer. */
#define MCP_FED_PROTOCOL "2025-11-25"

/* The lists a server may have, in the snapshot's order. */
enum mcp_fed_list {
  MCP_FED_TOOLS,
  MCP_FED_PROMPTS,
  MCP_FED_RESOURCES,
  MCP_FED_TEMPLATES,
  MCP_FED_NLISTS
};

struct mcp_fed_tr;
struct mcp_fed_conn;
struct mcp_fed_req;
struct mcp_fed_srvreq;

/*
 * A transport: how the messages of one upstream session travel. An
 * instance lives for one connection attempt; the session opens a new one
 * to reconnect.
 */
struct mcp_fed_tr_ops {
  /** Start connecting for c. 0, or an SB_E* code with err (then nothing
   * is left to close). */
  int (*open)(struct mcp_fed_conn *c, struct mcp_fed_tr **out, char *err,
              size_t errlen);
  /** Send one message (borrowed). req_id: the upstream id when msg is a
   * request of ours, else 0. 0, or SB_EIO when it cannot be sent. */
  int (*send)(struct mcp_fed_tr *t, const cJSON *msg, int64_t req_id);
  /** The session is initialized (HTTP: open the standalone stream). */
  void (*ready)(struct mcp_fed_tr *t);
  /** Request req_id is over for us (timed out, cancelled): drop what
   * carries its answer. */
  void (*forget)(struct mcp_fed_tr *t, int64_t req_id);
  /** Detach from the session and shut down gracefully (stdio: close
   * stdin, SIGTERM, SIGKILL; HTTP: DELETE the session). No callback
   * reaches the session afterwards; the transport frees itself and then
   * calls mcp_fed_tr_gone(). Safe from inside the transport's own
   * callbacks into the session. */
  void (*close)(struct mcp_fed_tr *t);
};

extern const struct mcp_fed_tr_ops mcp_fed_stdio_ops;
extern const struct mcp_fed_tr_ops mcp_fed_http_ops;

/* The federation (fed.c). The members above `lock` belong to the
 * federation's thread; the ones below it are shared. */
struct mcp_fed {
  uv_thread_t thread;
  uv_loop_t loop;
  uv_async_t wake;
  struct upstream_loop *ul;
  const struct config_security *sec;
  char *client_name;
  char *client_version;
  long connect_timeout_ms;
  int max_list_items;
  struct mcp_fed_conn **conns; /* the current servers, sorted by name */
  int nconns;
  int nlive;         /* sessions and transports not yet freed */
  int stopping;      /* STOP received: finish once nlive is 0 */
  uint64_t version;  /* of the last snapshot published */
  uint64_t next_tag; /* progress tokens and server request ids */

  uv_mutex_t lock;                  /* guards the members below */
  struct mcp_fed_op *inbox, **tail; /* operations for the thread */
  struct mcp_fed_port *ports;       /* open ports (each holds a ref) */
  const struct mcp_fed_snap *snap;  /* current snapshot (one ref) */
  atomic_uint_fast64_t next_call;   /* mcp_fed_call() ids */
};

/* One upstream session (fed_conn.c). Transports read the definition,
 * the federation and the negotiated version. */
struct mcp_fed_conn {
  struct mcp_fed *f;
  struct config_mcp_server def; /* own copy */
  char *key;                    /* what set_servers compares */
  const struct mcp_fed_tr_ops *ops;
  struct mcp_fed_tr *tr; /* NULL while down */
  enum mcp_fed_state state;
  char *error;
  char *protocol_version;
  cJSON *server_info;
  cJSON *capabilities;
  char *instructions;
  cJSON *lists[MCP_FED_NLISTS]; /* arrays, never NULL */
  cJSON *acc[MCP_FED_NLISTS];   /* pages collected so far */
  unsigned listing;             /* lists being fetched (bits) */
  unsigned announce;            /* list_changed kinds to tell once done */
  unsigned relist;              /* kinds waiting for the debounce */
  int64_t up_since_ms;
  int64_t restarts;
  int64_t next_id;
  struct mcp_fed_req *reqs; /* in flight, newest first */
  struct mcp_fed_srvreq *srvreqs;
  uv_timer_t retry;    /* reconnect after a back-off */
  uv_timer_t debounce; /* list_changed */
  uv_timer_t deadline; /* the requests' time-outs */
  int nhandles;        /* open uv handles above */
  int backoff_ms;
  int refused; /* its definition is not admitted: never started */
  int kept;    /* set_servers: still defined the same way */
  int stopping;
};

/* fed.c */
void mcp_fed_publish(struct mcp_fed *f);
/** Tell every port msg (borrowed) from server. */
void mcp_fed_broadcast(struct mcp_fed *f, const char *server, const cJSON *msg);
/** A session or a transport was freed: the thread may be done. */
void mcp_fed_live_put(struct mcp_fed *f);
/** What a call's port receives; msg and the strings are taken/copied.
 * Any thread may not call these: the federation's only. */
void mcp_fed_port_msg(struct mcp_fed_port *p, uint64_t call, cJSON *msg);
void mcp_fed_port_done(struct mcp_fed_port *p, uint64_t call, cJSON *response,
                       const char *why, int timed_out);
void mcp_fed_port_ref(struct mcp_fed_port *p);
void mcp_fed_port_unref(struct mcp_fed_port *p);

/* fed_conn.c */
struct mcp_fed_conn *mcp_fed_conn_new(struct mcp_fed *f,
                                      const struct config_mcp_server *def,
                                      const char *key);
/** Stop and free (asynchronously); calls in flight end with a reason. */
void mcp_fed_conn_stop(struct mcp_fed_conn *c, const char *why);
void mcp_fed_conn_call(struct mcp_fed_conn *c, struct mcp_fed_port *p,
                       uint64_t call, const char *method, cJSON *params);
/** 1 when c had the call. */
int mcp_fed_conn_cancel(struct mcp_fed_conn *c, struct mcp_fed_port *p,
                        uint64_t call, const char *reason);
/** 1 when c had the server request fed_id. response is borrowed. */
int mcp_fed_conn_answer(struct mcp_fed_conn *c, const char *fed_id,
                        const cJSON *response);
void mcp_fed_conn_notify(struct mcp_fed_conn *c, const char *method,
                         const cJSON *params);
void mcp_fed_conn_drop_port(struct mcp_fed_conn *c, struct mcp_fed_port *p);

/* From the transports. */
/** Bytes holding one JSON-RPC message or a batch. ctx: the upstream id of
 * the request whose response stream carried them, or 0. */
void mcp_fed_conn_input(struct mcp_fed_conn *c, int64_t ctx, const char *text,
                        size_t len);
/** The server's lists may have changed (a new upstream session): list
 * them again, as after list_changed. */
void mcp_fed_conn_relist(struct mcp_fed_conn *c);
/** 1 while request id waits for its answer. */
int mcp_fed_conn_pending(struct mcp_fed_conn *c, int64_t id);
/** Request id failed in transport (no answer will come). */
void mcp_fed_conn_req_failed(struct mcp_fed_conn *c, int64_t id,
                             const char *why);
/** The transport is broken: the session is down (the transport is
 * closed by the session). */
void mcp_fed_conn_lost(struct mcp_fed_conn *c, const char *why);
/** A fresh initialize request (for the HTTP transport's re-initialize);
 * *id receives its id. */
cJSON *mcp_fed_conn_init_msg(struct mcp_fed_conn *c, int64_t *id);
/** Was the answer to an initialize acceptable? 0, or SB_EPROTO with err. */
int mcp_fed_conn_init_ok(const cJSON *result, char *err, size_t errlen);

/* fed_def.c. Definitions are copied, freed and checked against the
 * security settings by config/mcp_server.h. */
/** What makes two definitions the same server: the definition's fields
 * and a hash of the values its "${VAR}"s expand to now. Caller frees. */
char *mcp_fed_def_key(const struct config_mcp_server *s);
/** value with "${VAR}" expanded (caller frees), or NULL with err naming
 * the variable (never its value). what names the field in err. */
char *mcp_fed_def_expand(const struct config_mcp_server *s, const char *what,
                         const char *value, char *err, size_t errlen);

#endif
