/*
 * mcp.h - the MCP endpoint's state in SQLite: client sessions (table
 * mcp_sessions) and the record of every tool call (table mcp_calls).
 * The federated servers' definitions are named definitions
 * (store/keys.h, STORE_MCP_SERVERS).
 *
 * Writes go through the writer queue (store.h): non-blocking, safe on an
 * event loop, in submission order with every other record. Reads open
 * their own connection: BLOCKING, for start-up, the CLI or a thread pool.
 */
#ifndef SB_STORE_MCP_H
#define SB_STORE_MCP_H

#include <stddef.h>
#include <stdint.h>

struct store;

/** A client session of /mcp or /mcp/<server>. Strings owned. */
struct store_mcp_session {
  char *id;               /* what the client sends as Mcp-Session-Id */
  char *key_id;           /* the gateway key that opened it; NULL: none */
  char *scope;            /* "" for /mcp, else the server name */
  char *protocol_version; /* negotiated */
  char *client_info;      /* JSON object text, or NULL */
  char *capabilities;     /* the client's capabilities, JSON object text */
  char *log_level;        /* logging/setLevel, or NULL */
  int64_t created_ms;
  int64_t last_seen_ms;
};

void store_mcp_session_free(struct store_mcp_session *s);
void store_mcp_sessions_free(struct store_mcp_session *s, int n);

/** Queue an insert-or-replace of s (taken, even on failure). SB_EAGAIN
 * when the queue is full or closing, SB_EINVAL when id or
 * protocol_version (NOT NULL columns) is missing. */
int store_mcp_session_put(struct store *st, struct store_mcp_session *s);

/** Queue last_seen_ms = now_ms for session id. */
int store_mcp_session_touch(struct store *st, const char *id, int64_t now_ms);

/** Queue the deletion of session id (a no-op if there is none). */
int store_mcp_session_delete(struct store *st, const char *id);

/**
 * Every session seen at or after min_last_seen_ms, oldest first; older
 * ones are deleted on the way. BLOCKING. 0 or SB_EDB with err.
 */
int store_mcp_sessions_load(const char *path, int64_t min_last_seen_ms,
                            struct store_mcp_session **out, int *n, char *err,
                            size_t errlen);

/** Outcomes of a tool call. */
#define STORE_MCP_OK         "ok"         /* result, isError false */
#define STORE_MCP_TOOL_ERROR "tool_error" /* result with isError true */
#define STORE_MCP_ERROR      "error"      /* a JSON-RPC error, or no answer */
#define STORE_MCP_DENIED     "denied"     /* the key may not call it */
#define STORE_MCP_CANCELLED  "cancelled"  /* the client cancelled or left */
#define STORE_MCP_TIMEOUT    "timeout"
#define STORE_MCP_LIMITED    "rate_limited"

/** One tool call (table mcp_calls). Strings owned; NULL where noted. */
struct store_mcp_call {
  int64_t ts_ms;       /* when it started */
  char *request_id;    /* the gateway's id of the HTTP request */
  char *session_id;    /* NULL: none */
  char *key_id;        /* NULL: none */
  char *server;        /* the server's name; "gateway" for the gateway's own */
  char *tool;          /* the server's own name for it */
  const char *outcome; /* a STORE_MCP_* constant (not freed) */
  char *error;         /* a short reason, or NULL */
  int64_t duration_ms;
  int64_t request_bytes;  /* the arguments' JSON */
  int64_t response_bytes; /* the result's JSON; 0 when none */
};

void store_mcp_call_free(struct store_mcp_call *c);

/** Queue a tool-call record (taken, even on failure). SB_EAGAIN when the
 * queue is full or closing (counted in store_dropped()), SB_EINVAL when
 * server or tool is missing. */
int store_mcp_call_submit(struct store *st, struct store_mcp_call *c);

/** What store_mcp_calls_list() selects; NULL / 0 fields do not filter. */
struct store_mcp_call_filter {
  const char *key_id;
  const char *server;
  const char *tool;
  int64_t since_ms;
  int64_t until_ms; /* exclusive */
  int limit;        /* 0: 100; at most 10000 */
};

/** Matching records, newest first. BLOCKING. 0 or SB_EDB with err. */
int store_mcp_calls_list(const char *path,
                         const struct store_mcp_call_filter *f,
                         struct store_mcp_call **out, int *n, char *err,
                         size_t errlen);

void store_mcp_calls_free(struct store_mcp_call *c, int n);

/** Every outcome, in a fixed order (the index of store_mcp_tool_stat's
 * outcomes[]). */
#define STORE_MCP_NOUTCOMES 7
extern const char *const store_mcp_outcomes[STORE_MCP_NOUTCOMES];

/** The most (server, tool) pairs store_mcp_stats() reports. */
#define STORE_MCP_STATS_MAX 10000

/** The calls of one tool over a range. Strings owned. */
struct store_mcp_tool_stat {
  char *server;
  char *tool;
  int64_t calls;
  int64_t errors;                        /* calls whose outcome is not "ok" */
  int64_t outcomes[STORE_MCP_NOUTCOMES]; /* by store_mcp_outcomes[] */
  /* Nearest-rank percentiles of duration_ms over the calls that reached
   * the server (not denied, not rate_limited); -1 when there are none. */
  int64_t p50_ms;
  int64_t p95_ms;
  int64_t last_ts_ms; /* the latest call's start */
};

/**
 * The calls with since_ms <= ts_ms < until_ms by server and tool, ordered
 * by server then tool, at most STORE_MCP_STATS_MAX of them. BLOCKING. 0
 * or SB_EDB with err; *out freed with store_mcp_stats_free().
 */
int store_mcp_stats(const char *path, int64_t since_ms, int64_t until_ms,
                    struct store_mcp_tool_stat **out, int *n, char *err,
                    size_t errlen);

void store_mcp_stats_free(struct store_mcp_tool_stat *s, int n);

struct cJSON;

/** The one JSON form of a record, for the admin API and `switchboard
 * usage --calls`: {ts_ms, request_id, session_id, key_id, server, tool,
 * outcome, error, duration_ms, request_bytes, response_bytes}, absent
 * strings null. Caller frees. */
struct cJSON *store_mcp_call_json(const struct store_mcp_call *c);

#endif
