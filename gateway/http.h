/*
 * http.h - one HTTP transaction and its response, shared by the gateway's
 * endpoint handlers. Internal to gateway/.
 *
 * Ownership: a struct req belongs to its lws connection; it is created in
 * LWS_CALLBACK_HTTP and destroyed only in LWS_CALLBACK_HTTP_DROP_PROTOCOL
 * (transaction over or client gone), which also cancels any upstream
 * transfer and writes the request record. Handlers never free it.
 *
 * Output: handlers append body bytes to r->out and call one of the
 * respond/stream functions; the bytes are written from the WRITEABLE
 * callback only, so any of these functions may be called from curl or
 * timer callbacks.
 */
#ifndef SB_GATEWAY_HTTP_H
#define SB_GATEWAY_HTTP_H

#include "base/apierr.h"
#include "admission/admission.h"
#include "base/buf.h"
#include "config/config.h"
#include "base/eventstream.h"
#include "base/ndjson.h"
#include "codec/oai_stream.h"
#include "gateway/server.h"
#include "gateway/worker.h"
#include "base/sse.h"
#include "net/upstream.h"
#include "providers/adapter.h"
#include "providers/echo.h"
#include "providers/openai.h"

#include <uv.h>

#include <libwebsockets.h>

/* Streaming watermarks: above HIGH the producer pauses, below LOW it
 * resumes. */
#define REQ_OUT_HIGH_WM  (64 * 1024)
#define REQ_OUT_LOW_WM   (16 * 1024)
#define REQ_MAX_XHEADERS 8

struct worker;
struct chat_state;
struct router_run;
struct offload;
struct conv_turn;
struct req_cache;
struct req;

/* The API the client speaks; it decides the shape of answers and errors. */
enum req_inbound {
  REQ_IN_CHAT,      /* OpenAI Chat Completions (and every other OpenAI
                     * endpoint) */
  REQ_IN_MESSAGES,  /* Anthropic Messages */
  REQ_IN_RESPONSES, /* OpenAI Responses */
  REQ_IN_MCP,       /* the MCP endpoint: errors are JSON-RPC's */
};

/* Canonical stream events rendered in the client's API. */
struct req_render {
  void *s;
  int (*render)(void *s, const struct canon_ev *ev, struct buf *out);
  int (*end)(void *s, struct buf *out);
  void (*free)(void *s);
};

struct req {
  struct worker *w;
  struct gw *gw;
  struct prov_registry *reg; /* a reference, held to the end */
  struct lws *wsi;
  int method;           /* LWSHUMETH_* */
  char *path;           /* without the query string */
  const char *endpoint; /* metrics label: a known path or "other" */
  int ui;               /* /ui or under: the dashboard's headers */
  int bad_path;         /* the decoded path held a NUL byte */
  int admit_pending;    /* a session cookie is being looked up */
  int body_complete;    /* the whole request body is in body */
  const char *api;      /* record: "chat", "models", "other"; NULL: none */
  enum req_inbound inbound;
  int anthropic_errors; /* errors in Anthropic's shape */
  char request_id[132];
  char *cors_origin;       /* allowed Origin to echo, or NULL */
  char *authorization;     /* client's Authorization header, or NULL; NULL
                            * once it was the gateway key (never forwarded) */
  int granted;             /* admitted with a key: grant holds it */
  struct offload *offload; /* thread-pool work in flight, or NULL */
  struct adm_grant grant;
  struct config_kv *fwd; /* client headers some provider forwards */
  int nfwd;
  struct buf body;
  /* body is plain JSON (json_check(), no \u-spelled letters), so a scan
   * of its bytes finds what a parse would (chat_parse_body). */
  int body_plain;
  /* The tree chat_serve() gets says exactly what body's bytes say: the
   * pass-through may forward them with the model replaced instead of
   * printing the tree. Set by chat_handle(); whoever edits the tree
   * after that clears it. */
  int body_raw;
  int64_t t0_us;
  int64_t ts_ms;
  int64_t ttfb_us;         /* -1 until the first byte went out */
  int64_t upstream_us;     /* spent waiting on upstream transfers */
  int64_t upstream_t0_us;  /* the transfer in flight started then */
  struct req_bodylog *log; /* body logging (bodylog.h), or NULL: off */

  /* response */
  int status;
  int sse;         /* chunked text/event-stream */
  int finished;    /* every body byte is in out */
  int abort_after; /* close without a clean end once out is flushed */
  int close_after; /* close the connection after the response */
  int hdr_sent;
  /* WRITEABLE asked of lws and not yet delivered: asking again would cost
   * lws's libuv glue an epoll_ctl DEL + ADD each time (one per upstream
   * chunk on a stream) for nothing. */
  int want_write;
  /* What is in out is written at the end of the loop iteration, without
   * asking lws for WRITEABLE first (gateway/http.c, ask_writable). */
  struct worker_defer flush;
  struct config_kv xh[REQ_MAX_XHEADERS];
  int nxh;
  struct buf out;

  /* chat */
  char *model;
  const struct prov *prov;
  char *upstream_model;
  int stream;
  struct chat_state *chat; /* the exchange with the provider (chat.c) */
  struct req_render rend;  /* canonical events -> the client's API */

  /* Serve through the canonical model even where a pass-through exists
   * (OpenAI in and out): the gateway needs the answer (a conversation's
   * turn). */
  int canonical;
  /* Sees every canonical event rendered for the client, before it is
   * rendered; emit NULL: none. Its return value is ignored. */
  struct canon_sink tap;
  struct conv_turn *conv;   /* the conversation continued (conv_turn.h) */
  int no_cache;             /* continues a conversation: never cached */
  int cache_api;            /* answers say x-switchboard-cache */
  struct req_cache *cache;  /* the response cache's (cache.h), or NULL: off */
  const char *cache_result; /* record: "hit", "coalesced", "miss", "bypass"
                             * (static), or NULL: the cache was off */
  double saved_usd;         /* a hit's or coalesced answer's upstream cost
                             * (< 0: unknown) */

  /* The inbound API's hooks (chat.c's defaults for Chat Completions). */
  void (*respond_doc)(struct req *r, cJSON *completion); /* takes it */
  void (*stream_done)(struct req *r); /* after a clean end of stream */
  void *api_state;
  void (*api_free)(struct req *r);
  /* Renders every error of the request instead of the API's error body
   * (req_respond_error, req_stream_fail), or NULL. */
  void (*respond_err)(struct req *r, const struct api_error *err);

  /* routing policy */
  struct router_run *run; /* the route "model" named, or NULL */
  struct canon_usage usage;
  double cost_usd;     /* < 0: unknown */
  int settled;         /* cost charged, the key's hold released */
  int usage_estimated; /* the upstream reported none: estimated */
  int context_dropped; /* history messages trimmed to fit the model */
  int64_t context_dropped_tokens;
  const char *context_strategy; /* "trim", "summarize" (static), or NULL */
  const char *context_counted;  /* "provider", "estimate" (static), or NULL:
                                 * how the turn was measured to fit */
  char *context_summary;        /* the summary put in place, or NULL */
  int64_t text_bytes; /* text, reasoning and tool arguments streamed */
  int64_t bytes_out;  /* body bytes written to the client */
  int unpriced;
  char error_type[48];
};

/** A request header's value (name without the colon, lower case), or
 * NULL; the caller frees it. */
char *req_header(struct req *r, const char *name);

/** The gateway key r was admitted with, or NULL (open mode, the admin
 * credential): who owns what r stores. */
const char *req_owner(const struct req *r);

/** 1 when r may see something stored by key_id: its own, anything for the
 * admin credential, and what was stored without a key (NULL: open mode,
 * or before things had owners) for everyone. Another key's is answered as
 * not found, as on OpenAI, where objects belong to their project. */
int req_visible(const struct req *r, const char *key_id);

/**
 * Run work(ud) on libuv's thread pool (it may block on the disk), then
 * done(r, ud) on r's loop. If r is gone by then, done gets r NULL and
 * only frees ud. One at a time per request. Returns 0, or SB_EIO (nothing
 * runs; ud is still the caller's).
 */
int req_offload(struct req *r, void (*work)(void *ud),
                void (*done)(struct req *r, void *ud), void *ud);

/** Add a response header (copied). Ignored past REQ_MAX_XHEADERS. */
void req_add_header(struct req *r, const char *name, const char *value);

/** Complete response with a JSON body (json is copied). */
void req_respond_json(struct req *r, int status, const char *json, size_t len);

/** Complete error response in the client's format (OpenAI's, or
 * Anthropic's when r->anthropic_errors); records error type. */
void req_respond_error(struct req *r, const struct api_error *err);

/** Start a 200 text/event-stream response. */
void req_stream_begin(struct req *r);

/** Bytes were appended to r->out: schedule a write. */
void req_stream_kick(struct req *r);

/** Every event is in r->out: end the stream cleanly after it. */
void req_stream_end(struct req *r);

/** End the stream with an error event, then close without a clean end. */
void req_stream_fail(struct req *r, const struct api_error *err);

/** The body as a JSON object, or NULL after answering 400. */
cJSON *chat_parse_body(struct req *r);

/** A request found to be bigger than its body (a stored conversation it
 * continues): hold the input bound of prompt (JSON of that part) more
 * against its key's budget. 0, or an SB_E* code with err (429
 * insufficient_quota when that passes the budget). */
int chat_hold_more(struct req *r, const cJSON *prompt, struct api_error *err);

/** Validate body with check, then resolve its "model" into r->prov and
 * r->upstream_model, and hold its cost against a budgeted key (which may
 * add an output limit to body). 0, or SB_EANSWERED: the error is on its
 * way to the client. */
int chat_route(struct req *r, cJSON *body,
               int (*check)(const cJSON *, struct api_error *));

/**
 * Serve a validated, routed canonical (Chat Completions) body from the
 * chosen provider, answering through r's inbound hooks. body is not
 * taken. r->stream must be set.
 */
void chat_serve(struct req *r, const cJSON *body);

/** Where canonical events of r's answer go to be rendered for the client
 * (a stream begun with req_stream_begin): usage taken, text counted, an
 * error event ends the stream; emit returns 1 once the stream failed. */
struct canon_sink chat_sink(struct req *r);

/** r's streamed answer is complete: the renderer's closing events, the
 * inbound API's stream_done hook, the clean end. */
void chat_end_stream(struct req *r);

/** Answer r with a whole canonical answer (completion, taken: a
 * chat.completion), as a stream when r->stream, else through
 * r->respond_doc; r's usage is the completion's. */
void chat_answer(struct req *r, cJSON *completion);

/** Hold r's worst-case cost against its key's budget (see chat_route).
 * 0, or an SB_E* code with err. */
int chat_reserve(struct req *r, cJSON *body, struct api_error *err);

/** Serve an embeddings body, routed (embeddings_handle's second half). */
void embeddings_serve(struct req *r, cJSON *body);

/** Chat Completions' answer: completion (taken) as the JSON body. */
void chat_respond_completion(struct req *r, cJSON *completion);

/** Start the upstream transfer for http (not taken); answers 502 itself
 * if it cannot start. */
void chat_start_upstream(struct req *r, struct prov_http *http);

/**
 * Relay http's answer to the client as the upstream sends it (same API
 * on both sides); r's provider's adapter reads it only for accounting
 * and to tell a complete stream from a cut one. http is not taken.
 */
void chat_relay_raw(struct req *r, struct prov_http *http);

/** The client headers r's provider forwards: an array the caller frees
 * (pointers into r->fwd), its length in *n. */
struct config_kv *chat_forwarded(const struct req *r, int *n);

/** POST /v1/chat/completions with the body complete. */
void chat_handle(struct req *r);

/** /admin/v1/keys[/{id}] (gateway/admin.c): list, create, get, edit,
 * revoke. */
void admin_keys(struct req *r);

/** /admin/v1/prices[/{model}] (gateway/admin.c): GET the table, POST
 * one price, DELETE one. */
void admin_prices(struct req *r);
/** /admin/v1/models[/{model}] (gateway/admin.c): GET the capabilities
 * table or one row, POST one row (insert or replace), DELETE one. */
void admin_models(struct req *r);

/** /admin/v1/routes[/{name}] and /admin/v1/providers[/{name}]
 * (gateway/admin.c): list, get, set (create or replace), delete. */
void admin_routes(struct req *r);
void admin_providers(struct req *r);
/** /admin/v1/mcp/servers[/{name}]: the federated MCP servers (GET, POST,
 * DELETE), as /admin/v1/providers. */
void admin_mcp_servers(struct req *r);
/** GET /admin/v1/mcp/calls?key=&server=&tool=&since=&until=&limit=: the
 * tool-call records, newest first. */
void admin_mcp_calls(struct req *r);

/** GET /admin/v1/usage, /admin/v1/usage.csv, /admin/v1/requests
 * (gateway/admin.c). */
void admin_usage(struct req *r);

/** POST /v1/messages and /v1/messages/count_tokens (gateway/messages.c). */
void messages_handle(struct req *r);
void messages_count_tokens(struct req *r);

/** POST /v1/responses (gateway/responses.c). */
void responses_handle(struct req *r);

/** GET and DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items. */
void responses_item(struct req *r);

/** /v1/conversations (gateway/conversations.c): POST creates one, GET
 * lists the caller's own (the admin credential's: every one). */
void conversations_handle(struct req *r);

/** /v1/conversations/{id} (GET, POST metadata, DELETE), .../items (POST,
 * GET) and .../items/{item_id} (GET, DELETE). */
void conversations_item(struct req *r);

/** GET /admin/v1/conversations[?key=&limit=&after=&order=],
 * /admin/v1/conversations/{id} and .../{id}/items: every key's
 * conversations, as /v1 shows them plus their key_id. */
void conversations_admin(struct req *r);

/** POST /admin/v1/playground (gateway/admin_ops.c): a prompt through the
 * full request path as the signed-in admin. */
void admin_playground(struct req *r);

/** GET /admin/v1/mcp/stats?since=&until= (gateway/admin_ops.c): tool
 * calls by server and tool. */
void admin_mcp_stats(struct req *r);

/** GET and DELETE /admin/v1/cache (gateway/admin_ops.c): the response
 * cache's state and what it saved; purge (?key=id: one key's). */
void admin_cache(struct req *r);

/** POST /v1/embeddings with the body complete. */
void embeddings_handle(struct req *r);

/** Release what chat.c attached to r (its transfer, timers, parsers)
 * and the inbound API's state. */
void chat_release(struct req *r);

/** The client read its buffer down to REQ_OUT_LOW_WM: resume an upstream
 * that was paused for it. */
void chat_drained(struct req *r);

/** The lws protocol callback serving every HTTP transaction. */
int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                  void *in, size_t len);

#endif
