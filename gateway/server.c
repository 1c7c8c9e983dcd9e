/*
 * server.c - worker threads and the process lifecycle.
 *
 * Each worker owns a libuv loop with a libwebsockets context on it as a
 * foreign loop, its own SO_REUSEPORT listener (Debian's lws is built
 * without SMP and cannot share a port) and a curl multi handle. Workers
 * share nothing mutable but the metrics and the store queue.
 */
#include "gateway/server.h"
#include "gateway/cache.h"
#include "gateway/mcp.h"
#include "gateway/http.h"
#include "base/log.h"
#include "base/sb.h"
#include "net/upstream.h"
#include "gateway/worker.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WBUF_SIZE    (LWS_PRE + 4096 + 16 * 1024 + 64)
#define ACCEPT_BATCH 64

struct worker {
  struct gw *gw;
  int id;
  pthread_t thread;
  uv_loop_t loop;
  uv_async_t stop;
  uv_timer_t grace;
  uv_poll_t listen_poll;
  int listen_fd;
  int listening;
  int loop_ok;
  struct lws_context *ctx;
  struct lws_vhost *vh;
  struct upstream_loop *ul;
  struct mcp_worker *mcp;
  struct cache_worker *cache;
  /* worker_defer(): a ring list with a sentinel, and its idle handle,
   * active only while the list is not empty. */
  struct worker_defer deferred;
  uv_idle_t defer_idle;
  int inflight;
  int stopping;
  int64_t grace_deadline_ms;
  unsigned char wbuf[WBUF_SIZE];
  /* start-up hand-shake with the main thread */
  int start_rc;
  char start_err[256];
  uv_sem_t started;
};

static const struct lws_protocols protocols[] = {
    {"http", http_callback, sizeof(void *), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* lws is created under a lock: context creation dlopens the event-lib
 * plugin and initialises OpenSSL, neither documented as thread-safe. */
static pthread_mutex_t ctx_create_lock = PTHREAD_MUTEX_INITIALIZER;

struct gw *worker_gw(struct worker *w)
{
  return w->gw;
}

uv_loop_t *worker_loop(struct worker *w)
{
  return &w->loop;
}

struct upstream_loop *worker_upstream(struct worker *w)
{
  return w->ul;
}

struct mcp_worker *worker_mcp(struct worker *w)
{
  return w->mcp;
}

struct cache_worker *worker_cache(struct worker *w)
{
  return w->cache;
}

unsigned char *worker_wbuf(struct worker *w)
{
  return w->wbuf;
}

void worker_request_started(struct worker *w)
{
  w->inflight++;
}

void worker_request_done(struct worker *w)
{
  w->inflight--;
}

int worker_stopping(struct worker *w)
{
  return w->stopping;
}

static void run_deferred(uv_idle_t *h)
{
  struct worker *w = h->data;
  struct worker_defer batch, *d;

  /* Detach the list first: what a call queues runs next iteration. The
   * list may be empty: worker_defer_cancel() took its last node off. */
  if(w->deferred.next != &w->deferred) {
    batch.next = w->deferred.next;
    batch.prev = w->deferred.prev;
    batch.next->prev = batch.prev->next = &batch;
    w->deferred.next = w->deferred.prev = &w->deferred;
    while((d = batch.next) != &batch) {
      batch.next = d->next;
      d->next->prev = &batch;
      d->next = d->prev = NULL;
      d->queued = 0;
      d->fn(d);
    }
  }
  /* An active idle handle keeps the loop from blocking. */
  if(w->deferred.next == &w->deferred)
    uv_idle_stop(&w->defer_idle);
}

void worker_defer(struct worker *w, struct worker_defer *d)
{
  if(d->queued)
    return;
  d->queued = 1;
  d->prev = w->deferred.prev;
  d->next = &w->deferred;
  d->prev->next = d;
  w->deferred.prev = d;
  if(!uv_is_active((uv_handle_t *)&w->defer_idle))
    uv_idle_start(&w->defer_idle, run_deferred);
}

void worker_defer_cancel(struct worker *w, struct worker_defer *d)
{
  (void)w;
  if(!d->queued)
    return;
  d->prev->next = d->next;
  d->next->prev = d->prev;
  d->next = d->prev = NULL;
  d->queued = 0;
}

static void lws_log_emit(int level, const char *line)
{
  size_t n = strlen(line);
  char *s = sb_strndup(line, n && line[n - 1] == '\n' ? n - 1 : n);

  log_event(level == LLL_ERR ? LOG_ERROR : LOG_WARN, "libwebsockets",
            LOG_S("detail", s), LOG_END);
  free(s);
}

/* --- listener ------------------------------------------------------------ */

static int listen_socket(const char *host, int port, int *out_fd, char *err,
                         size_t errlen)
{
  struct addrinfo hints, *res = NULL;
  char portstr[16];
  int fd, one = 1, rc;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  snprintf(portstr, sizeof(portstr), "%d", port);
  rc = getaddrinfo(host, portstr, &hints, &res);
  if(rc) {
    snprintf(err, errlen, "cannot resolve listen host %s: %s", host,
             gai_strerror(rc));
    return SB_EIO;
  }
  fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if(fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
     setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
     bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 1024)) {
    snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port,
             strerror(errno));
    if(fd >= 0)
      close(fd);
    freeaddrinfo(res);
    return SB_EIO;
  }
  freeaddrinfo(res);
  *out_fd = fd;
  return 0;
}

/* SO_REUSEPORT, which the workers need to share the port, also lets a
 * second gateway (same user) bind it and silently take half of its
 * connections. A socket bound without it fails while any other socket
 * holds the port, so one such bind before the workers start tells
 * whether another process serves it. 0, or SB_EIO with err. */
static int port_free(const char *host, int port, char *err, size_t errlen)
{
  struct addrinfo hints, *res = NULL;
  char portstr[16];
  int fd, one = 1, rc = 0;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  snprintf(portstr, sizeof(portstr), "%d", port);
  if(getaddrinfo(host, portstr, &hints, &res))
    return 0; /* listen_socket() says why */
  fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if(fd >= 0 && !setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) &&
     bind(fd, res->ai_addr, res->ai_addrlen) && errno == EADDRINUSE) {
    snprintf(err, errlen,
             "cannot listen on %s:%d: the port is already in use by another "
             "process (another gateway?); stop it or choose another port",
             host, port);
    rc = SB_EIO;
  }
  if(fd >= 0)
    close(fd);
  freeaddrinfo(res);
  return rc;
}

static int bound_port(int fd)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);

  if(getsockname(fd, (struct sockaddr *)&ss, &len))
    return -1;
  if(ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void on_accept(uv_poll_t *h, int status, int events)
{
  struct worker *w = h->data;

  for(int i = 0; i < ACCEPT_BATCH; i++) {
    lws_sock_file_fd_type d;
    int one = 1;
    int fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if(fd < 0)
      return; /* EAGAIN: drained, or another worker took it */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    d.sockfd = fd;
    /* lws closes fd itself if adoption fails. */
    lws_adopt_descriptor_vhost(w->vh, LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP, d,
                               NULL, NULL);
  }
}

static void on_listen_closed(uv_handle_t *h)
{
  struct worker *w = h->data;

  close(w->listen_fd);
  w->listen_fd = -1;
}

/* --- shutdown -------------------------------------------------------------
 * Order matters: lws first, so every request is
 * dropped and cancels its transfer; then curl; then our own handles. */

static void teardown(struct worker *w)
{
  if(w->ctx)
    lws_context_destroy(w->ctx);
  upstream_loop_close(w->ul);
  w->ul = NULL;
  mcp_worker_close(w->mcp);
  w->mcp = NULL;
  cache_worker_close(w->cache);
  w->cache = NULL;
  uv_timer_stop(&w->grace);
  uv_close((uv_handle_t *)&w->grace, NULL);
  uv_close((uv_handle_t *)&w->stop, NULL);
  uv_close((uv_handle_t *)&w->defer_idle, NULL);
}

static void on_grace(uv_timer_t *t)
{
  struct worker *w = t->data;

  if(w->inflight > 0 && sb_now_ms() < w->grace_deadline_ms)
    return;
  if(w->inflight > 0)
    log_event(LOG_WARN, "shutdown grace period over, cancelling requests",
              LOG_I("worker", w->id), LOG_I("in_flight", w->inflight), LOG_END);
  uv_timer_stop(t);
  teardown(w);
}

static void on_stop(uv_async_t *a)
{
  struct worker *w = a->data;

  if(w->stopping)
    return;
  w->stopping = 1;
  if(w->listening) {
    uv_poll_stop(&w->listen_poll);
    uv_close((uv_handle_t *)&w->listen_poll, on_listen_closed);
    w->listening = 0;
  }
  /* An MCP client's standalone stream never ends by itself. */
  if(w->mcp)
    mcp_worker_stopping(w->mcp);
  w->grace_deadline_ms =
      sb_now_ms() + (int64_t)w->gw->cfg->limits.shutdown_grace_s * 1000;
  uv_timer_start(&w->grace, on_grace, 0, 50);
}

/* --- worker thread ---------------------------------------------------------
 */

static int worker_setup(struct worker *w, int port)
{
  const struct config *cfg = w->gw->cfg;
  struct lws_context_creation_info info;
  void *loops[1] = {&w->loop};

  w->listen_fd = -1;
  if(uv_loop_init(&w->loop)) {
    snprintf(w->start_err, sizeof(w->start_err), "uv_loop_init failed");
    return SB_EIO;
  }
  w->loop_ok = 1;
  uv_async_init(&w->loop, &w->stop, on_stop);
  w->stop.data = w;
  w->deferred.next = w->deferred.prev = &w->deferred;
  uv_idle_init(&w->loop, &w->defer_idle);
  w->defer_idle.data = w;
  uv_timer_init(&w->loop, &w->grace);
  w->grace.data = w;
  if(upstream_loop_init(&w->loop, &w->ul)) {
    snprintf(w->start_err, sizeof(w->start_err), "curl_multi_init failed");
    return SB_EIO;
  }
  w->mcp = mcp_worker_open(w->gw, &w->loop);
  w->cache = cache_worker_open(w->gw->cache, &w->loop);

  memset(&info, 0, sizeof(info));
  info.options = LWS_SERVER_OPTION_LIBUV;
  info.foreign_loops = loops;
  info.pcontext = &w->ctx;
  info.user = w;
  info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
  info.protocols = protocols;
  info.timeout_secs = (unsigned int)cfg->limits.idle_timeout_s;
  info.keepalive_timeout = cfg->limits.idle_timeout_s;
  info.timeout_secs_ah_idle = (unsigned int)cfg->limits.header_timeout_s;
  info.max_http_header_data2 = (unsigned int)cfg->limits.max_header_bytes;
  info.server_string = "switchboard";
  pthread_mutex_lock(&ctx_create_lock);
  w->ctx = lws_create_context(&info);
  pthread_mutex_unlock(&ctx_create_lock);
  if(!w->ctx) {
    snprintf(w->start_err, sizeof(w->start_err),
             "lws_create_context failed (is libwebsockets-evlib-uv "
             "installed?)");
    return SB_EIO;
  }
  w->vh = lws_get_vhost_by_name(w->ctx, "default");
  if(listen_socket(cfg->host, port, &w->listen_fd, w->start_err,
                   sizeof(w->start_err)))
    return SB_EIO;
  uv_poll_init_socket(&w->loop, &w->listen_poll, w->listen_fd);
  w->listen_poll.data = w;
  uv_poll_start(&w->listen_poll, UV_READABLE, on_accept);
  w->listening = 1;
  return 0;
}

/* Run the loop until every handle closed, then finish lws's teardown:
 * a foreign-loop context completes only when destroyed again after the
 * loop drained. */
static void worker_finish(struct worker *w)
{
  uv_run(&w->loop, UV_RUN_DEFAULT);
  if(w->ctx)
    lws_context_destroy(w->ctx);
  if(uv_loop_close(&w->loop))
    log_event(LOG_WARN, "worker loop closed with handles open",
              LOG_I("worker", w->id), LOG_END);
}

struct worker_start {
  struct worker *w;
  int port;
};

static void *worker_main(void *arg)
{
  struct worker_start *ws = arg;
  struct worker *w = ws->w;

  w->start_rc = worker_setup(w, ws->port);
  if(w->start_rc && w->loop_ok) {
    /* Undo a half-done setup: every handle opened so far is closed by
     * the normal teardown. */
    w->stopping = 1;
    if(w->listen_fd >= 0)
      close(w->listen_fd);
    teardown(w);
    worker_finish(w);
  }
  uv_sem_post(&w->started);
  if(w->start_rc)
    return NULL;
  uv_run(&w->loop, UV_RUN_DEFAULT);
  worker_finish(w);
  return NULL;
}

int server_run(struct gw *gw, char *err, size_t errlen)
{
  const struct config *cfg = gw->cfg;
  int n = cfg->workers, started = 0, port = cfg->port, rc = 0, sig;
  struct worker **ws = sb_calloc((size_t)n, sizeof(*ws));
  struct worker_start *starts = sb_calloc((size_t)n, sizeof(*starts));
  sigset_t set;

  lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
  if(port && port_free(cfg->host, port, err, errlen)) {
    free(ws);
    free(starts);
    return SB_EIO;
  }
  for(int i = 0; i < n; i++) {
    struct worker *w = sb_calloc(1, sizeof(*w));

    w->gw = gw;
    w->id = i;
    uv_sem_init(&w->started, 0);
    ws[i] = w;
    starts[i].w = w;
    starts[i].port = port;
    if(pthread_create(&w->thread, NULL, worker_main, &starts[i])) {
      snprintf(err, errlen, "cannot start worker thread");
      uv_sem_destroy(&w->started);
      free(w);
      ws[i] = NULL;
      rc = SB_EIO;
      break;
    }
    started++;
    /* Workers start one after the other: the first one's bound port
     * (when 0 was asked for) is the one the others share. */
    uv_sem_wait(&w->started);
    if(w->start_rc) {
      snprintf(err, errlen, "%s", w->start_err);
      rc = w->start_rc;
      break;
    }
    if(i == 0)
      port = bound_port(w->listen_fd);
  }

  if(!rc) {
    log_event(LOG_INFO, "listening", LOG_S("host", cfg->host),
              LOG_I("port", port), LOG_I("workers", n),
              LOG_S("database", cfg->database), LOG_END);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigwait(&set, &sig);
    log_event(LOG_INFO, "shutting down",
              LOG_S("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"), LOG_END);
  }
  for(int i = 0; i < started; i++)
    if(!ws[i]->start_rc)
      uv_async_send(&ws[i]->stop);
  for(int i = 0; i < started; i++) {
    pthread_join(ws[i]->thread, NULL);
    uv_sem_destroy(&ws[i]->started);
    free(ws[i]);
  }
  free(ws);
  free(starts);
  return rc;
}
