/*
 * session.h - the client sessions of the MCP endpoint (Mcp-Session-Id).
 *
 * Every session lives in memory, shared by all workers, and in SQLite
 * (store/mcp.h) through the writer queue: a gateway restart, or a request
 * reaching another worker, finds it again. A session unused for
 * cfg->session_ttl_s ends; at most cfg->max_sessions live at once.
 * What a request needs of its session is copied out (struct
 * mcp_session), so no lock is held while it is served.
 *
 * Thread safety: every function from any thread.
 */
#ifndef SB_MCP_SESSION_H
#define SB_MCP_SESSION_H

#include "config/config.h"
#include "config/mcp_server.h"

#include <cjson/cJSON.h>
#include <stdint.h>

struct store;
struct mcp_sessions;

#define MCP_SESSION_ID_LEN 32

/* What the client said it can do (initialize's capabilities). */
#define MCP_CAP_SAMPLING    (1u << 0)
#define MCP_CAP_ELICITATION (1u << 1)
#define MCP_CAP_ROOTS       (1u << 2)

/* RFC 5424 severities as MCP names them, lowest first. */
enum mcp_level {
  MCP_LEVEL_DEBUG,
  MCP_LEVEL_INFO,
  MCP_LEVEL_NOTICE,
  MCP_LEVEL_WARNING,
  MCP_LEVEL_ERROR,
  MCP_LEVEL_CRITICAL,
  MCP_LEVEL_ALERT,
  MCP_LEVEL_EMERGENCY,
};

/** A level by its name, or -1. */
int mcp_level_parse(const char *name);

/** A session as a request sees it: a copy. */
struct mcp_session {
  char id[MCP_SESSION_ID_LEN + 1];
  char key_id[40];                     /* "" when opened without a key */
  char scope[MCP_SERVER_NAME_MAX + 1]; /* "" for /mcp, else the server */
  char version[16];                    /* negotiated revision */
  unsigned caps;                       /* MCP_CAP_* */
  int level;                           /* enum mcp_level */
  cJSON *capabilities; /* the client's, a copy for the caller to free (only
                        * with mcp_session_find(..., want_caps 1)) */
};

/**
 * Load the sessions of the database at db_path that are not expired and
 * serve them; new ones are written through st. 0, or SB_EDB with err.
 */
int mcp_sessions_open(struct store *st, const char *db_path,
                      const struct config_mcp *cfg, struct mcp_sessions **out,
                      char *err, size_t errlen);

void mcp_sessions_close(struct mcp_sessions *ss);

/** Live sessions. */
int mcp_sessions_count(struct mcp_sessions *ss);

/**
 * Open a session for key_id ("" for none) on scope with the negotiated
 * version and what initialize said (client_info, capabilities: copied;
 * may be NULL). Fills out. 0, or SB_EAGAIN when max_sessions are live.
 */
int mcp_session_create(struct mcp_sessions *ss, const char *key_id,
                       const char *scope, const char *version,
                       const cJSON *client_info, const cJSON *capabilities,
                       int64_t now_ms, struct mcp_session *out);

/**
 * The live session id, marked as used now; SB_ENOTFOUND when there is
 * none (never was, ended, expired). out->capabilities is set only when
 * want_caps.
 */
int mcp_session_find(struct mcp_sessions *ss, const char *id, int64_t now_ms,
                     int want_caps, struct mcp_session *out);

/** logging/setLevel. 0 or SB_ENOTFOUND. */
int mcp_session_set_level(struct mcp_sessions *ss, const char *id, int level);

/** The session's one standalone (GET) stream: 0 when it is the
 * caller's now, SB_EAGAIN when another holds it, SB_ENOTFOUND. Release
 * it when the stream ends. */
int mcp_session_claim_stream(struct mcp_sessions *ss, const char *id);
void mcp_session_release_stream(struct mcp_sessions *ss, const char *id);

/**
 * Resource subscriptions (resources/subscribe): the federation holds one
 * upstream subscription per server and uri for every session, so the
 * gateway keeps who asked. Kept in memory only: after a restart a client
 * subscribes again (the upstream sessions are new too).
 * mcp_session_subscribe: 0, SB_ENOTFOUND, or SB_ETOOBIG past
 * MCP_SESSION_MAX_SUBS. mcp_session_unsubscribe: *others receives how many
 * other sessions still hold server's uri (0: it may be dropped upstream).
 */
#define MCP_SESSION_MAX_SUBS 1000
int mcp_session_subscribe(struct mcp_sessions *ss, const char *id,
                          const char *server, const char *uri);
int mcp_session_unsubscribe(struct mcp_sessions *ss, const char *id,
                            const char *server, const char *uri, int *others);

/** 1 when session id holds a subscription to server's uri. */
int mcp_session_subscribed(struct mcp_sessions *ss, const char *id,
                           const char *server, const char *uri);

/** End session id (DELETE). 0 or SB_ENOTFOUND. */
int mcp_session_end(struct mcp_sessions *ss, const char *id);

#endif
