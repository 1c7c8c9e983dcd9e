/*
 * fed_http.c - the Streamable HTTP transport: every message to the
 * server is its own POST; the answer to a request comes back as JSON or
 * as an SSE stream that may carry the server's notifications and
 * requests about that call first. A standalone GET stream carries the
 * rest (list_changed, resources/updated). DELETE ends the session.
 *
 * curl runs on the federation's loop (net/upstream.h). Its callbacks
 * only collect bytes: the messages they complete are queued and handled
 * from a zero-delay timer, outside curl, where starting or cancelling
 * transfers is allowed.
 *
 * A 404 to a request that carried a session id means the server forgot
 * the session: the transport initializes a new one and sends the request
 * again, once, unseen by the session above.
 *
 * A server may end a request's SSE stream before the answer (SEP-1699,
 * 2025-11-25: to poll, or because the connection dropped) once it has
 * sent an event id. The transport then waits the stream's "retry" time
 * and GETs the endpoint with Last-Event-ID; what that stream carries
 * (the server replays what followed the id) belongs to the same request,
 * and it is resumed the same way if it ends early again. The request's
 * time-outs (fed_conn.c) keep running throughout. The resume GET is not
 * the standalone stream: servers tell them apart by Last-Event-ID.
 */
#include "mcp/fed_int.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/sb.h"
#include "base/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NOTE_TIMEOUT_MS   30000 /* a notification or an answer POSTed */
#define DELETE_TIMEOUT_MS 2000
#define GET_STABLE_MS                                                          \
  10000 /* a standalone stream that lasted this                                \
         * long starts its back-off again */
/* Resuming a request's stream: the wait without a "retry" field, the
 * most a "retry" may make it wait, and how many resumptions in a row may
 * bring no new event before the request fails (a server that answers
 * with an empty stream over and over would otherwise be polled until
 * the request times out). */
#define RESUME_DEFAULT_MS 1000
#define RESUME_MAX_MS     30000
#define RESUME_MAX        5
/* A longer event id is not sent back in a header. */
#define RESUME_ID_MAX 1024

enum post_kind {
  P_REQ,    /* a request of ours: its answer comes back on it */
  P_NOTE,   /* a notification, or an answer to the server's request */
  P_INIT,   /* the transport's own initialize after a 404 */
  P_GET,    /* the standalone stream */
  P_DELETE, /* the end of the session */
};

struct post {
  struct post *next;
  struct mcp_fed_tr *h;
  struct upstream_xfer *x; /* NULL while not running */
  enum post_kind kind;
  int64_t req_id;
  char *body; /* NULL for GET and DELETE */
  size_t len;
  char *sent_session; /* the session id it carried */
  int resent;
  int parked; /* waits for a new session */
  int busy;   /* being handled: freed afterwards */
  int dead;   /* forgotten: free when not busy */
  int finished;
  int mode; /* 0: no byte yet; 1: JSON; 2: SSE */
  int too_big;
  struct buf raw;
  struct sse_parser sse;
  char *session; /* Mcp-Session-Id of the response */
  long status;
  int failed;
  int connect_failed;
  char *message;
  uint64_t started;
  /* Resuming a P_REQ's stream; these outlive its transfers. */
  char *last_id;      /* the stream's last event id; NULL: none */
  long retry_ms;      /* its last "retry", or -1 */
  int resumes;        /* resumptions in a row without a new event */
  int resume;         /* the transfer is a GET with Last-Event-ID */
  int waiting;        /* for resume_at, to start it */
  uint64_t resume_at; /* loop time */
};

struct ev {
  struct ev *next;
  struct post *p;
  char *text; /* one message (or a batch); NULL: the transfer's end */
  size_t len;
};

struct mcp_fed_tr {
  struct mcp_fed *f;
  struct mcp_fed_conn *c; /* NULL once closed */
  char *name;
  char *url;
  char **hdrs; /* the definition's headers, "Name: value", expanded */
  int nhdrs;
  char *session;
  char *version; /* the negotiated version, kept for the DELETE */
  struct post *posts;
  struct ev *evq, **evtail;
  uv_timer_t kick;
  uv_timer_t get_retry;
  uv_timer_t resume; /* the next stream to resume */
  int nhandles;
  struct post *get;
  int get_backoff_ms;
  int no_get; /* the server has no standalone stream (405) */
  int reinit;
  int64_t reinit_id;
  int closed;
  int finalized;
};

static int post_start(struct mcp_fed_tr *h, struct post *p);
static void start_get(struct mcp_fed_tr *h);
static void finalize(struct mcp_fed_tr *h);
static void on_kick(uv_timer_t *t);
static void arm_resume(struct mcp_fed_tr *h);

/* ---- posts ---- */

static void post_reset(struct post *p)
{
  buf_free(&p->raw);
  if(p->mode == 2)
    sse_parser_free(&p->sse);
  p->mode = 0;
  p->too_big = 0;
  free(p->session);
  free(p->message);
  free(p->sent_session);
  p->session = p->message = p->sent_session = NULL;
  p->status = 0;
  p->failed = p->connect_failed = 0;
}

static void post_free(struct post *p)
{
  struct mcp_fed_tr *h = p->h;

  for(struct post **pp = &h->posts; *pp; pp = &(*pp)->next)
    if(*pp == p) {
      *pp = p->next;
      break;
    }
  if(h->get == p)
    h->get = NULL;
  if(p->x)
    upstream_cancel(p->x);
  post_reset(p);
  free(p->body);
  free(p->last_id);
  free(p);
}

static struct post *post_new(struct mcp_fed_tr *h, enum post_kind kind,
                             int64_t req_id, char *body)
{
  struct post *p = sb_calloc(1, sizeof(*p));

  p->h = h;
  p->kind = kind;
  p->req_id = req_id;
  p->body = body;
  p->len = body ? strlen(body) : 0;
  p->retry_ms = -1;
  buf_init(&p->raw, MCP_FED_MAX_MSG);
  p->next = h->posts;
  h->posts = p;
  return p;
}

static void ev_push(struct mcp_fed_tr *h, struct post *p, const char *text,
                    size_t len, int end)
{
  struct ev *e = sb_calloc(1, sizeof(*e));

  e->p = p;
  if(!end) {
    e->text = sb_strndup(text, len);
    e->len = len;
  }
  *h->evtail = e;
  h->evtail = &e->next;
  if(!h->closed)
    uv_timer_start(&h->kick, on_kick, 0, 0);
}

/* Forget p's queued messages. */
static void ev_drop(struct mcp_fed_tr *h, struct post *p)
{
  struct ev **pp = &h->evq;

  while(*pp) {
    struct ev *e = *pp;
    if(p && e->p != p) {
      pp = &e->next;
      continue;
    }
    *pp = e->next;
    free(e->text);
    free(e);
  }
  h->evtail = &h->evq;
  for(struct ev *e = h->evq; e; e = e->next)
    h->evtail = &e->next;
}

/* p is over for us: stop it and free it (later if it is being handled). */
static void post_kill(struct post *p)
{
  if(p->x) {
    upstream_cancel(p->x);
    p->x = NULL;
  }
  ev_drop(p->h, p);
  p->dead = 1;
  if(!p->busy)
    post_free(p);
}

/* ---- curl's callbacks: collect only ---- */

static int on_sse_event(void *ud, const struct sse_event *e)
{
  struct post *p = ud;

  if(e->data_len) /* empty data: a priming event */
    ev_push(p->h, p, e->data, e->data_len, 0);
  return 0;
}

static void note_headers(struct post *p)
{
  const char *sid = upstream_header(p->x, "mcp-session-id");

  if(sid && *sid && !p->session && !strpbrk(sid, "\r\n"))
    p->session = sb_strdup(sid);
}

static int on_data(void *ud, const char *d, size_t n)
{
  struct post *p = ud;

  if(!p->mode) {
    const char *ct = upstream_header(p->x, "content-type");
    p->status = upstream_status(p->x);
    note_headers(p);
    p->mode =
        p->status / 100 == 2 && ct && !strncasecmp(ct, "text/event-stream", 17)
            ? 2
            : 1;
    if(p->mode == 2)
      sse_parser_init(&p->sse, MCP_FED_MAX_MSG, on_sse_event, p);
  }
  if(p->mode == 2) {
    int rc = sse_parser_feed(&p->sse, d, n);
    p->too_big = rc == SB_ETOOBIG;
    return rc ? -1 : 0;
  }
  if(buf_append(&p->raw, d, n)) {
    p->too_big = 1;
    return -1;
  }
  return 0;
}

static void on_done(void *ud, const struct upstream_result *res)
{
  struct post *p = ud;
  struct mcp_fed_tr *h = p->h;

  note_headers(p);
  p->x = NULL;
  p->status = res->status;
  p->failed = res->failed;
  p->connect_failed = res->connect_failed;
  if(res->message)
    p->message = sb_strdup(res->message);
  if(p->kind == P_DELETE) {
    /* The last thing a closed transport waits for. */
    p->finished = 1;
    finalize(h);
    return;
  }
  ev_push(h, p, NULL, 0, 1);
}

/* ---- what arrives ---- */

static int pending(struct mcp_fed_tr *h, struct post *p)
{
  return h->c && p->kind == P_REQ && mcp_fed_conn_pending(h->c, p->req_id);
}

static void reinit_done(struct mcp_fed_tr *h, struct post *p, int ok,
                        const char *why)
{
  char reason[300];
  cJSON *note;

  h->reinit = 0;
  if(!ok || !p->session) {
    snprintf(reason, sizeof(reason),
             "the server forgot the session and refused a new one: %.200s",
             ok ? "no Mcp-Session-Id" : why);
    mcp_fed_conn_lost(h->c, reason);
    return;
  }
  free(h->session);
  h->session = sb_strdup(p->session);
  log_event(LOG_INFO, "mcp upstream session re-established",
            LOG_S("server", h->name), LOG_END);
  note = jsonrpc_call(NULL, "notifications/initialized", NULL);
  {
    char *txt = cJSON_PrintUnformatted(note);
    struct post *n = post_new(h, P_NOTE, 0, txt);
    if(post_start(h, n))
      post_free(n);
  }
  cJSON_Delete(note);
  for(struct post *q = h->posts; q; q = q->next) {
    if(!q->parked)
      continue;
    q->parked = 0;
    q->resent = 1;
    if(post_start(h, q) && q->kind == P_REQ && h->c)
      mcp_fed_conn_req_failed(h->c, q->req_id, "could not send the request");
  }
  if(!h->get && !h->no_get)
    start_get(h);
  /* A new session of a server that restarted: its lists may differ. */
  mcp_fed_conn_relist(h->c);
}

static void handle_text(struct mcp_fed_tr *h, struct post *p, const char *t,
                        size_t n)
{
  if(p->kind == P_INIT) {
    cJSON *o = cJSON_ParseWithLength(t, n);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    if(cJSON_IsNumber(id) && (int64_t)id->valuedouble == h->reinit_id) {
      const cJSON *res = cJSON_GetObjectItemCaseSensitive(o, "result");
      char err[200] = "initialize failed";
      int ok = res && !mcp_fed_conn_init_ok(res, err, sizeof(err));
      cJSON_Delete(o);
      if(h->reinit)
        reinit_done(h, p, ok, err);
      return;
    }
    cJSON_Delete(o);
    mcp_fed_conn_input(h->c, 0, t, n);
    return;
  }
  if(!h->session && p->session && p->kind == P_REQ) {
    /* The answer to initialize names the session. */
    h->session = sb_strdup(p->session);
  }
  mcp_fed_conn_input(h->c, p->kind == P_REQ ? p->req_id : 0, t, n);
}

static void start_reinit(struct mcp_fed_tr *h)
{
  cJSON *msg;
  struct post *p;

  if(h->reinit)
    return;
  h->reinit = 1;
  free(h->session);
  h->session = NULL;
  if(h->get)
    post_kill(h->get);
  msg = mcp_fed_conn_init_msg(h->c, &h->reinit_id);
  p = post_new(h, P_INIT, h->reinit_id, cJSON_PrintUnformatted(msg));
  cJSON_Delete(msg);
  if(post_start(h, p)) {
    post_free(p);
    h->reinit = 0;
    mcp_fed_conn_lost(h->c, "could not re-initialize the session");
  }
}

/* Did the server forget the session p carried? The spec's answer is 404;
 * some servers (the SDK's examples among them) answer 400 with a
 * JSON-RPC error about the session instead. */
static int session_lost(const struct mcp_fed_tr *h, const struct post *p)
{
  if(!p->sent_session || p->failed)
    return 0;
  if(p->status == 404)
    return 1;
  return p->status == 400 && p->raw.len && strcasestr(p->raw.data, "session");
}

static void on_get_retry(uv_timer_t *t)
{
  struct mcp_fed_tr *h = t->data;

  if(!h->closed && !h->get && !h->no_get && !h->reinit)
    start_get(h);
}

static void end_get(struct mcp_fed_tr *h, struct post *p)
{
  uint64_t lasted = uv_now(&h->f->loop) - p->started;

  if(p->status == 405) {
    /* No standalone stream on this server: never asked again. */
    log_event(LOG_INFO, "mcp server has no standalone stream (405)",
              LOG_S("server", h->name), LOG_END);
    h->no_get = 1;
    return;
  }
  if(session_lost(h, p) && h->session && !strcmp(p->sent_session, h->session)) {
    start_reinit(h);
    return;
  }
  if(p->status / 100 == 2 && lasted >= GET_STABLE_MS)
    h->get_backoff_ms = MCP_FED_BACKOFF_MIN_MS;
  log_event(LOG_DEBUG, "mcp standalone stream ended; again after a back-off",
            LOG_S("server", h->name), LOG_I("status", p->status),
            LOG_I("retry_ms", h->get_backoff_ms), LOG_END);
  uv_timer_start(&h->get_retry, on_get_retry, (uint64_t)h->get_backoff_ms, 0);
  h->get_backoff_ms *= 2;
  if(h->get_backoff_ms > MCP_FED_BACKOFF_MAX_MS)
    h->get_backoff_ms = MCP_FED_BACKOFF_MAX_MS;
}

/* ---- resuming a request's stream ---- */

/* Keep what resuming p's stream takes from the stream that just ended.
 * 1 when it moved the last event id on. */
static int note_stream(struct post *p)
{
  size_t n;
  const char *id = sse_parser_last_id(&p->sse, &n);
  long retry = sse_parser_retry(&p->sse);

  if(retry >= 0)
    p->retry_ms = retry;
  if(!id)
    return 0; /* a resumed stream without ids: the old id still holds */
  if(n > RESUME_ID_MAX) {
    /* Resuming from an older id would repeat messages: not at all. */
    free(p->last_id);
    p->last_id = NULL;
    return 0;
  }
  if(p->last_id && !strcmp(p->last_id, id))
    return 0;
  free(p->last_id);
  p->last_id = sb_strndup(id, n);
  return 1;
}

/* Resume p's stream after the retry time, unless it has been resumed
 * too often for nothing (moved: the stream that ended brought a new
 * event). 0, or SB_EPROTO with why. */
static int resume_later(struct mcp_fed_tr *h, struct post *p, int moved,
                        char *why, size_t whylen)
{
  long ms = p->retry_ms < 0 ? RESUME_DEFAULT_MS : p->retry_ms;

  if(moved)
    p->resumes = 0;
  if(p->resumes >= RESUME_MAX) {
    snprintf(why, whylen,
             "the server ended the response stream before answering; "
             "%d resumptions in a row brought nothing new",
             RESUME_MAX);
    return SB_EPROTO;
  }
  if(ms > RESUME_MAX_MS)
    ms = RESUME_MAX_MS;
  p->resumes++;
  p->resume = 1;
  p->waiting = 1;
  p->finished = 0;
  p->resume_at = uv_now(&h->f->loop) + (uint64_t)ms;
  log_event(LOG_DEBUG, "mcp response stream ended before the answer; resuming",
            LOG_S("server", h->name), LOG_I("retry_ms", ms),
            LOG_I("resumption", p->resumes), LOG_END);
  arm_resume(h);
  return 0;
}

static int same_session(const char *a, const char *b)
{
  return a && b ? !strcmp(a, b) : a == b;
}

static void on_resume(uv_timer_t *t)
{
  struct mcp_fed_tr *h = t->data;
  uint64_t now = uv_now(&h->f->loop);
  struct post *p;

again:
  for(p = h->posts; p && !h->closed; p = p->next) {
    const char *why = NULL;

    if(!p->waiting || p->resume_at > now)
      continue;
    p->waiting = 0;
    /* Event ids belong to the session that sent them. */
    if(!same_session(h->session, p->sent_session))
      why = "the session ended before the response stream could be resumed";
    else if(post_start(h, p))
      why = "could not resume the response stream";
    if(why) {
      p->finished = 1;
      if(pending(h, p))
        mcp_fed_conn_req_failed(h->c, p->req_id, why);
      post_kill(p);
      goto again; /* the list changed */
    }
  }
  if(!h->closed)
    arm_resume(h);
}

static void arm_resume(struct mcp_fed_tr *h)
{
  uint64_t now = uv_now(&h->f->loop), next = UINT64_MAX;

  for(struct post *p = h->posts; p; p = p->next)
    if(p->waiting && p->resume_at < next)
      next = p->resume_at;
  if(next == UINT64_MAX)
    uv_timer_stop(&h->resume);
  else
    uv_timer_start(&h->resume, on_resume, next > now ? next - now : 0, 0);
}

/* Why a GET with Last-Event-ID got no stream. */
static void resume_failed(const struct post *p, char *why, size_t whylen)
{
  const char *pre = "the server ended the response stream before answering";

  if(p->status == 405)
    snprintf(why, whylen,
             "%s and does not resume streams (HTTP 405 to the GET with "
             "Last-Event-ID)",
             pre);
  else if(p->failed)
    snprintf(why, whylen, "%s, and resuming it failed: %.150s", pre,
             p->message ? p->message : "failed");
  else if(p->status / 100 == 2)
    snprintf(why, whylen,
             "%s, and the answer to the GET with Last-Event-ID is no event "
             "stream",
             pre);
  else
    snprintf(why, whylen,
             "%s, and resuming it failed: HTTP %ld to the GET with "
             "Last-Event-ID",
             pre, p->status);
}

/* p's transfer is over. */
static void handle_end(struct mcp_fed_tr *h, struct post *p)
{
  char why[300];
  int lost = session_lost(h, p);
  int moved = 0;

  p->finished = 1;
  if(p->mode == 2) {
    sse_parser_finish(&p->sse);
    if(p->kind == P_REQ)
      moved = note_stream(p);
  } else if(p->raw.len && (p->kind == P_REQ || p->kind == P_INIT) &&
            !p->failed && !(lost && !p->resent) && !p->resume) {
    /* A JSON answer (also a JSON-RPC error with an HTTP error status). */
    handle_text(h, p, p->raw.data, p->raw.len);
    if(h->closed)
      return;
  }
  switch(p->kind) {
  case P_GET:
    if(h->get == p)
      h->get = NULL;
    end_get(h, p);
    return;
  case P_NOTE:
    if(lost && h->session && !strcmp(p->sent_session, h->session))
      start_reinit(h);
    else if(p->failed || p->status >= 300)
      log_event(LOG_WARN, "mcp server refused a notification",
                LOG_S("server", h->name), LOG_I("status", p->status),
                LOG_S("error", p->message), LOG_END);
    return;
  case P_INIT:
    if(h->reinit) {
      snprintf(why, sizeof(why), "HTTP %ld%s%s", p->status,
               p->message ? ": " : "", p->message ? p->message : "");
      reinit_done(h, p, 0, why);
    }
    return;
  case P_DELETE: return;
  case P_REQ: break;
  }
  if(p->failed && p->connect_failed) {
    snprintf(why, sizeof(why), "%s", p->message ? p->message : "unreachable");
    mcp_fed_conn_lost(h->c, why);
    return;
  }
  if(lost && !p->resent && !p->resume) {
    /* The server forgot the session: a new one, then this again. */
    int same = h->session && !strcmp(p->sent_session, h->session);
    p->finished = 0;
    p->parked = 1;
    post_reset(p);
    if(same)
      start_reinit(h);
    else if(!h->reinit) {
      /* A new session is there already. */
      p->parked = 0;
      p->resent = 1;
      if(post_start(h, p)) {
        p->finished = 1;
        mcp_fed_conn_req_failed(h->c, p->req_id, "could not send the request");
      }
    }
    return;
  }
  if(!pending(h, p))
    return;
  if(p->status == 202 && !p->failed && !p->resume)
    return; /* the answer may come on the standalone stream */
  if(p->mode == 2 && !p->too_big && p->last_id) {
    /* The stream ended early, cleanly or not: resume it. */
    if(!resume_later(h, p, moved, why, sizeof(why)))
      return;
    mcp_fed_conn_req_failed(h->c, p->req_id, why);
    return;
  }
  if(p->resume && p->mode != 2) {
    /* No stream to resume; without the session no other request can
     * succeed either. */
    if(lost && h->session && !strcmp(p->sent_session, h->session))
      start_reinit(h);
    resume_failed(p, why, sizeof(why));
    mcp_fed_conn_req_failed(h->c, p->req_id, why);
    return;
  }
  if(p->too_big)
    snprintf(why, sizeof(why), "a message from the server exceeds 16 MiB");
  else if(p->failed)
    snprintf(why, sizeof(why), "%s", p->message ? p->message : "failed");
  else if(p->status == 401 || p->status == 403)
    snprintf(why, sizeof(why),
             "HTTP %ld: the server refused the gateway's credentials",
             p->status);
  else if(p->status >= 300)
    snprintf(why, sizeof(why), "HTTP %ld from the server", p->status);
  else if(p->mode == 2)
    snprintf(why, sizeof(why),
             "the server ended the response stream without answering, and "
             "without an event id to resume it from");
  else
    snprintf(why, sizeof(why),
             "the server ended the response without answering");
  mcp_fed_conn_req_failed(h->c, p->req_id, why);
}

static void on_kick(uv_timer_t *t)
{
  struct mcp_fed_tr *h = t->data;
  struct ev *e;

  while(!h->closed && (e = h->evq)) {
    struct post *p = e->p;
    h->evq = e->next;
    if(!h->evq)
      h->evtail = &h->evq;
    p->busy = 1;
    if(e->text) {
      handle_text(h, p, e->text, e->len);
      /* A resumed stream may stay open after the answer (the SDK's
       * does when it replayed the answer): nothing more is wanted. */
      if(p->resume && p->x && !h->closed && !pending(h, p))
        post_kill(p);
    } else {
      handle_end(h, p);
    }
    p->busy = 0;
    free(e->text);
    free(e);
    if(h->closed)
      break;
    if(p->dead || (p->finished && !p->parked))
      post_free(p);
  }
}

/* ---- requests out ---- */

static int post_start(struct mcp_fed_tr *h, struct post *p)
{
  struct prov_http hh;
  struct upstream_limits lim;
  struct upstream_cb cb = {on_data, on_done};
  const char *version = h->c ? h->c->protocol_version : h->version;
  char *lines[64];
  int n = 0, rc;

  memset(&hh, 0, sizeof(hh));
  memset(&lim, 0, sizeof(lim));
  post_reset(p);
  lines[n++] = sb_strdup(p->kind == P_GET || p->resume
                             ? "Accept: text/event-stream"
                             : "Accept: application/json, text/event-stream");
  if(p->body && !p->resume)
    lines[n++] = sb_strdup("Content-Type: application/json");
  for(int i = 0; i < h->nhdrs && n < 60; i++)
    lines[n++] = sb_strdup(h->hdrs[i]);
  if(h->session && p->kind != P_INIT) {
    lines[n++] = sb_asprintf("Mcp-Session-Id: %s", h->session);
    p->sent_session = sb_strdup(h->session);
  }
  if(version && p->kind != P_INIT)
    lines[n++] = sb_asprintf("MCP-Protocol-Version: %s", version);
  if(p->resume)
    lines[n++] = sb_asprintf("Last-Event-ID: %s", p->last_id);
  hh.url = h->url;
  hh.headers = lines;
  hh.nheaders = n;
  hh.body = p->resume ? NULL : p->body; /* a resumption is a GET */
  hh.body_len = p->resume ? 0 : p->len;
  hh.method = p->kind == P_DELETE ? "DELETE" : NULL;
  lim.connect_timeout_ms = h->f->connect_timeout_ms;
  lim.total_timeout_ms = p->kind == P_NOTE     ? NOTE_TIMEOUT_MS
                         : p->kind == P_DELETE ? DELETE_TIMEOUT_MS
                                               : 0;
  lim.allow_link_local = h->f->sec->allow_link_local;
  p->started = uv_now(&h->f->loop);
  rc = upstream_start(h->f->ul, &hh, &lim, &cb, p, &p->x);
  for(int i = 0; i < n; i++)
    free(lines[i]);
  if(rc) {
    p->x = NULL;
    return SB_EIO;
  }
  return 0;
}

static void start_get(struct mcp_fed_tr *h)
{
  struct post *p = post_new(h, P_GET, 0, NULL);

  h->get = p;
  if(post_start(h, p))
    post_free(p);
}

/* ---- the table ---- */

static int http_open(struct mcp_fed_conn *c, struct mcp_fed_tr **out, char *err,
                     size_t errlen)
{
  const struct config_mcp_server *d = &c->def;
  struct mcp_fed_tr *h;
  char **hdrs = NULL;

  if(d->nheaders)
    hdrs = sb_calloc((size_t)d->nheaders, sizeof(*hdrs));
  for(int i = 0; i < d->nheaders; i++) {
    char what[160];
    char *v;
    snprintf(what, sizeof(what), "header %s", d->headers[i].name);
    v = mcp_fed_def_expand(d, what, d->headers[i].value, err, errlen);
    if(v && strpbrk(v, "\r\n")) {
      sb_errf(err, errlen, "header %s: its value holds a line break",
              d->headers[i].name);
      free(v);
      v = NULL;
    }
    if(!v) {
      for(int j = 0; j < i; j++)
        free(hdrs[j]);
      free(hdrs);
      return SB_ECONFIG;
    }
    hdrs[i] = sb_asprintf("%s: %s", d->headers[i].name, v);
    free(v);
  }
  h = sb_calloc(1, sizeof(*h));
  h->f = c->f;
  h->c = c;
  h->name = sb_strdup(d->name);
  h->url = sb_strdup(d->url);
  h->hdrs = hdrs;
  h->nhdrs = d->nheaders;
  h->evtail = &h->evq;
  h->get_backoff_ms = MCP_FED_BACKOFF_MIN_MS;
  uv_timer_init(&c->f->loop, &h->kick);
  uv_timer_init(&c->f->loop, &h->get_retry);
  uv_timer_init(&c->f->loop, &h->resume);
  h->kick.data = h->get_retry.data = h->resume.data = h;
  h->nhandles = 3;
  c->f->nlive++;
  *out = h;
  return 0;
}

static int http_send(struct mcp_fed_tr *h, const cJSON *msg, int64_t req_id)
{
  char *txt = cJSON_PrintUnformatted(msg);
  struct post *p;

  if(!txt || h->closed) {
    free(txt);
    return SB_EIO;
  }
  p = post_new(h, req_id ? P_REQ : P_NOTE, req_id, txt);
  if(h->reinit) {
    p->parked = 1; /* sent once the new session is there */
    return 0;
  }
  if(post_start(h, p)) {
    post_free(p);
    return SB_EIO;
  }
  return 0;
}

static void http_ready(struct mcp_fed_tr *h)
{
  if(!h->get && !h->no_get)
    start_get(h);
}

static void http_forget(struct mcp_fed_tr *h, int64_t req_id)
{
  for(struct post *p = h->posts; p; p = p->next)
    if(p->kind == P_REQ && p->req_id == req_id && !p->dead) {
      post_kill(p);
      return;
    }
}

static void on_closed(uv_handle_t *hd)
{
  struct mcp_fed_tr *h = hd->data;
  struct mcp_fed *f = h->f;

  if(--h->nhandles > 0)
    return;
  while(h->posts)
    post_free(h->posts);
  ev_drop(h, NULL);
  for(int i = 0; i < h->nhdrs; i++)
    free(h->hdrs[i]);
  free(h->hdrs);
  free(h->session);
  free(h->version);
  free(h->name);
  free(h->url);
  free(h);
  mcp_fed_live_put(f);
}

static void finalize(struct mcp_fed_tr *h)
{
  if(h->finalized)
    return;
  h->finalized = 1;
  uv_timer_stop(&h->kick);
  uv_timer_stop(&h->get_retry);
  uv_timer_stop(&h->resume);
  uv_close((uv_handle_t *)&h->kick, on_closed);
  uv_close((uv_handle_t *)&h->get_retry, on_closed);
  uv_close((uv_handle_t *)&h->resume, on_closed);
}

static void http_close(struct mcp_fed_tr *h)
{
  struct post *del;

  if(h->c && h->c->protocol_version)
    h->version = sb_strdup(h->c->protocol_version);
  h->c = NULL;
  h->closed = 1;
  for(struct post *p = h->posts; p; p = p->next)
    if(p->x) {
      upstream_cancel(p->x);
      p->x = NULL;
    }
  if(!h->session || h->f->stopping > 1) {
    finalize(h);
    return;
  }
  /* The session ends with a DELETE; its answer does not matter. */
  del = post_new(h, P_DELETE, 0, NULL);
  if(post_start(h, del))
    finalize(h);
}

const struct mcp_fed_tr_ops mcp_fed_http_ops = {
    http_open, http_send, http_ready, http_forget, http_close,
};
