/*
 * upstream.h - HTTP requests to providers through curl's multi interface,
 * driven by a worker's libuv loop.
 *
 * One struct upstream_loop per worker thread; every function must be
 * called on that thread. Callbacks run on the loop; `data` runs inside
 * curl, so it may only buffer bytes and ask for a write (never destroy a
 * request). `done` runs outside curl; the transfer is freed right after
 * it returns.
 */
#ifndef SB_NET_UPSTREAM_H
#define SB_NET_UPSTREAM_H

#include "providers/provider.h"

#include <uv.h>

struct upstream_loop;
struct upstream_xfer;

struct upstream_result {
  int failed;          /* transport failure (no complete response) */
  int timed_out;       /* ... because a time-out expired */
  int connect_failed;  /* ... because no connection could be made */
  long status;         /* HTTP status, 0 if none was received */
  const char *message; /* curl's description when failed */
};

struct upstream_cb {
  /** Response bytes. Return 0 when consumed, 1 to pause the transfer
   * without consuming them (they are delivered again after
   * upstream_resume()), -1 to abort it (done then reports a failure). */
  int (*data)(void *ud, const char *p, size_t n);
  /** The transfer is over (success or not); ud is not used again. */
  void (*done)(void *ud, const struct upstream_result *res);
};

struct upstream_limits {
  long connect_timeout_ms;
  long total_timeout_ms;
  long idle_timeout_s;  /* 0: none; aborts a transfer silent this long */
  int allow_link_local; /* may connect to link-local and metadata
                         * addresses (sb_addr_link_local) */
  /* curl's receive buffer for this transfer in bytes (0: curl's default,
   * 16 KiB). An event stream is read in small pieces anyway; a smaller
   * buffer keeps the memory of thousands of open streams down. */
  long recv_buffer;
};

int upstream_loop_init(uv_loop_t *loop, struct upstream_loop **out);

/** Cancel every transfer and free the loop's curl state; its uv handles
 * close asynchronously, so run the loop afterwards. */
void upstream_loop_close(struct upstream_loop *ul);

/**
 * Start a request (POST when h->body is set, else GET; h->method, when
 * set, names another verb such as DELETE). On failure the callbacks are
 * never invoked.
 */
int upstream_start(struct upstream_loop *ul, const struct prov_http *h,
                   const struct upstream_limits *lim,
                   const struct upstream_cb *cb, void *ud,
                   struct upstream_xfer **out);

/** Status received so far (0 before the headers are complete). */
long upstream_status(struct upstream_xfer *x);

/** A response header by lowercase name, or NULL. Valid until done. */
const char *upstream_header(struct upstream_xfer *x, const char *name);

/** Resume a transfer that the data callback paused. */
void upstream_resume(struct upstream_xfer *x);

/** Abort a transfer at once; no callback runs afterwards. Not from
 * inside a data callback. */
void upstream_cancel(struct upstream_xfer *x);

/**
 * Blocking GET for start-up work (model lists) before any loop runs.
 * *body receives a malloc'd body (caller frees).
 */
int upstream_fetch_blocking(const struct prov_http *h, long timeout_ms,
                            int allow_link_local, long *status, char **body,
                            size_t *len);

#endif
