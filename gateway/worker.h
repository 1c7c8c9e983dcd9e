/*
 * worker.h - what a request needs from the worker thread that serves it.
 * Internal to gateway/; every function is for the worker's own thread.
 */
#ifndef SB_GATEWAY_WORKER_H
#define SB_GATEWAY_WORKER_H

#include <uv.h>

struct worker;
struct gw;
struct upstream_loop;
struct mcp_worker;
struct cache_worker;

struct gw *worker_gw(struct worker *w);
uv_loop_t *worker_loop(struct worker *w);
struct upstream_loop *worker_upstream(struct worker *w);
struct mcp_worker *worker_mcp(struct worker *w);
struct cache_worker *worker_cache(struct worker *w);

/** Scratch buffer for lws_write: LWS_PRE + 4 KiB headers + 16 KiB body
 * + framing. Valid only within one WRITEABLE callback. */
unsigned char *worker_wbuf(struct worker *w);

/** In-flight accounting for graceful shutdown. */
void worker_request_started(struct worker *w);
void worker_request_done(struct worker *w);

/** 1 once shutdown began: new requests get 503. */
int worker_stopping(struct worker *w);

/**
 * A call deferred to the loop's next idle phase (a uv_idle: after the
 * timers, before the loop polls, which it then does without blocking),
 * outside any libwebsockets or curl callback, so it may end what called
 * worker_defer (a request's response written and its transaction
 * completed from a curl callback). The caller owns the node and keeps it
 * alive while it is queued.
 */
struct worker_defer {
  struct worker_defer *next, *prev;
  void (*fn)(struct worker_defer *d); /* runs once per worker_defer */
  int queued;
};

/** Queue d (a no-op when it is queued already). A call queued while the
 * deferred calls run waits for the next iteration (which does not block
 * in between). */
void worker_defer(struct worker *w, struct worker_defer *d);
/** Take d off the queue if it is on it: before its owner frees it. */
void worker_defer_cancel(struct worker *w, struct worker_defer *d);

#endif
