#include "net/upstream.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/sb.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* Response headers the gateway acts on; everything else is skipped. */
static const char *const kept_headers[] = {"content-type", "retry-after",
                                           "retry-after-ms", "mcp-session-id",
                                           "x-amzn-bedrock-input-token-count"};
#define NKEPT (sizeof(kept_headers) / sizeof(kept_headers[0]))

struct upstream_loop {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  int closing;
  /* Poll handles of sockets curl stopped watching but has not closed (a
   * kept-alive connection between two transfers), by fd: the next
   * transfer on that connection takes the same handle over instead of a
   * new uv_poll_init, which costs libuv an epoll_ctl ADD+DEL probe, an
   * ioctl and a failing DEL on close, per request. A parked handle keeps
   * watching for input: libuv's uv_poll_start and uv_poll_stop each cost
   * an epoll_ctl DEL (and the start an ADD), and the next transfer wants
   * input again, so stopping it at every hand-back would cost three
   * epoll_ctl per request. */
  struct upstream_sock **parked;
  size_t nparked; /* entries in parked (the highest fd + 1 seen) */
  /* Easy handles of finished transfers, reset and kept for the next ones:
   * curl_easy_init and curl_easy_cleanup per request cost a dozen
   * allocations and their frees. */
  CURL *pool[64];
  int npool;
};

struct upstream_sock {
  uv_poll_t poll;
  curl_socket_t fd;
  int events; /* UV_READABLE | UV_WRITABLE the handle watches */
  int parked; /* curl does not watch the socket now */
  struct upstream_loop *ul;
};

/* The idle watchdog's timer outlives its transfer until libuv has closed
 * it, so it is allocated on its own. */
struct upstream_idle {
  uv_timer_t timer;
  struct upstream_xfer *x; /* NULL once the transfer is gone */
};

struct upstream_xfer {
  struct upstream_loop *ul;
  struct upstream_idle *idle; /* NULL without an idle time-out */
  uint64_t idle_ms;
  uint64_t last_rx; /* loop time of the last byte received */
  int paused;       /* held by us: silence is not the upstream's fault */
  CURL *easy;
  /* The request's header list and body live in this allocation, after
   * the struct: curl reads both in place until the transfer ends, and
   * struct curl_slist is public, so the list needs no curl_slist_append
   * (two allocations a header). */
  struct curl_slist *headers;
  char *body;
  struct upstream_cb cb;
  void *ud;
  char *kept[NKEPT];
  char errbuf[CURL_ERROR_SIZE];
  int allow_link_local; /* read by open_socket() */
};

static void check_done(struct upstream_loop *ul);
static void on_idle(uv_timer_t *t);

static void on_poll_closed(uv_handle_t *h)
{
  free(h->data);
}

static void on_sock_io(uv_poll_t *h, int status, int events)
{
  struct upstream_sock *s = h->data;
  struct upstream_loop *ul = s->ul;
  int flags = 0, running;

  if(s->parked) {
    /* An idle kept-alive connection became readable: the upstream
     * closed it (or sent what nobody asked for). curl finds out when it
     * next checks the connection; until then, stop waking up for it. */
    uv_poll_stop(&s->poll);
    s->events = 0;
    return;
  }
  if(status < 0)
    flags = CURL_CSELECT_ERR;
  if(events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if(events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(ul->multi, s->fd, flags, &running);
  check_done(ul);
}

/* Keep s for its fd until curl closes the socket or watches it again. */
static void park(struct upstream_loop *ul, struct upstream_sock *s)
{
  size_t fd = (size_t)s->fd;

  if(fd >= ul->nparked) {
    size_t n = ul->nparked ? ul->nparked : 64;
    while(n <= fd)
      n *= 2;
    ul->parked = sb_realloc(ul->parked, n * sizeof(*ul->parked));
    memset(ul->parked + ul->nparked, 0,
           (n - ul->nparked) * sizeof(*ul->parked));
    ul->nparked = n;
  }
  if(ul->parked[fd]) /* cannot happen: one socket per fd */
    uv_close((uv_handle_t *)&ul->parked[fd]->poll, on_poll_closed);
  ul->parked[fd] = s;
  s->parked = 1;
  if(s->events & UV_WRITABLE) {
    /* Writable would fire at once and forever: only input waits. */
    uv_poll_stop(&s->poll);
    s->events = 0;
  }
}

static struct upstream_sock *unpark(struct upstream_loop *ul, curl_socket_t fd)
{
  struct upstream_sock *s;

  if(fd < 0 || (size_t)fd >= ul->nparked)
    return NULL;
  s = ul->parked[fd];
  ul->parked[fd] = NULL;
  if(s)
    s->parked = 0;
  return s;
}

/* curl closes a socket (after its REMOVE): its parked handle goes first,
 * so that a later socket with the same fd number gets a fresh one. */
static int close_socket(void *userp, curl_socket_t fd)
{
  struct upstream_loop *ul = userp;
  struct upstream_sock *s = unpark(ul, fd);

  if(s)
    uv_close((uv_handle_t *)&s->poll, on_poll_closed);
  return close(fd);
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp,
                   void *socketp)
{
  struct upstream_loop *ul = userp;
  struct upstream_sock *s = socketp;
  int events = 0;

  if(what == CURL_POLL_REMOVE) {
    if(s) {
      curl_multi_assign(ul->multi, fd, NULL);
      park(ul, s);
    }
    return 0;
  }
  if(!s && (s = unpark(ul, fd)))
    curl_multi_assign(ul->multi, fd, s);
  if(!s) {
    s = sb_calloc(1, sizeof(*s));
    s->fd = fd;
    s->ul = ul;
    if(uv_poll_init_socket(ul->loop, &s->poll, fd)) {
      free(s);
      return -1;
    }
    s->poll.data = s;
    curl_multi_assign(ul->multi, fd, s);
  }
  if(what & CURL_POLL_IN)
    events |= UV_READABLE;
  if(what & CURL_POLL_OUT)
    events |= UV_WRITABLE;
  if(events != s->events) {
    uv_poll_start(&s->poll, events, on_sock_io);
    s->events = events;
  }
  return 0;
}

static void on_timeout(uv_timer_t *t)
{
  struct upstream_loop *ul = t->data;
  int running;

  curl_multi_socket_action(ul->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(ul);
}

/* Only arms the timer: calling socket_action from here would re-enter
 * curl. */
static int timer_cb(CURLM *m, long ms, void *userp)
{
  struct upstream_loop *ul = userp;

  if(ms < 0)
    uv_timer_stop(&ul->timer);
  else
    uv_timer_start(&ul->timer, on_timeout, (uint64_t)ms, 0);
  return 0;
}

int upstream_loop_init(uv_loop_t *loop, struct upstream_loop **out)
{
  struct upstream_loop *ul = sb_calloc(1, sizeof(*ul));

  ul->loop = loop;
  ul->multi = curl_multi_init();
  if(!ul->multi) {
    free(ul);
    return SB_EIO;
  }
  uv_timer_init(loop, &ul->timer);
  ul->timer.data = ul;
  curl_multi_setopt(ul->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
  curl_multi_setopt(ul->multi, CURLMOPT_SOCKETDATA, ul);
  curl_multi_setopt(ul->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(ul->multi, CURLMOPT_TIMERDATA, ul);
  /* Keep the idle-connection cache near real upstream concurrency:
   * curl polls every cached connection for liveness. */
  curl_multi_setopt(ul->multi, CURLMOPT_MAXCONNECTS, 64L);
  *out = ul;
  return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
  free(h->data);
}

void upstream_loop_close(struct upstream_loop *ul)
{
  if(!ul)
    return;
  ul->closing = 1;
  while(ul->npool > 0)
    curl_easy_cleanup(ul->pool[--ul->npool]);
  /* Transfers still attached belong to requests that lws has already
   * destroyed (they cancel their own), so none are left here. */
  curl_multi_cleanup(ul->multi);
  /* curl closed its sockets above (close_socket); anything still parked
   * belongs to no socket any more. */
  for(size_t i = 0; i < ul->nparked; i++)
    if(ul->parked[i])
      uv_close((uv_handle_t *)&ul->parked[i]->poll, on_poll_closed);
  free(ul->parked);
  ul->parked = NULL;
  ul->nparked = 0;
  uv_timer_stop(&ul->timer);
  uv_close((uv_handle_t *)&ul->timer, on_timer_closed);
}

static void on_idle_closed(uv_handle_t *h)
{
  free(h->data);
}

static void xfer_free(struct upstream_xfer *x)
{
  if(x->idle) {
    x->idle->x = NULL;
    uv_timer_stop(&x->idle->timer);
    uv_close((uv_handle_t *)&x->idle->timer, on_idle_closed);
  }
  if(!x->ul->closing &&
     x->ul->npool < (int)(sizeof(x->ul->pool) / sizeof(x->ul->pool[0]))) {
    /* Forgets every option (the callbacks' pointers to x included) but
     * keeps the handle's own allocations. */
    curl_easy_reset(x->easy);
    x->ul->pool[x->ul->npool++] = x->easy;
  } else {
    curl_easy_cleanup(x->easy);
  }
  for(size_t i = 0; i < NKEPT; i++)
    free(x->kept[i]);
  free(x);
}

static size_t on_write(char *p, size_t size, size_t n, void *userp)
{
  struct upstream_xfer *x = userp;
  int rc;

  x->last_rx = uv_now(x->ul->loop);
  rc = x->cb.data(x->ud, p, size * n);
  if(rc > 0) {
    x->paused = 1;
    return CURL_WRITEFUNC_PAUSE;
  }
  return rc < 0 ? 0 : size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *userp)
{
  struct upstream_xfer *x = userp;
  size_t len = size * n;
  const char *colon = memchr(p, ':', len);

  if(len >= 5 && !memcmp(p, "HTTP/", 5)) {
    /* A new response (after a redirect or 100): forget the old one. */
    for(size_t i = 0; i < NKEPT; i++) {
      free(x->kept[i]);
      x->kept[i] = NULL;
    }
    return len;
  }
  if(!colon)
    return len;
  for(size_t i = 0; i < NKEPT; i++) {
    size_t nl = strlen(kept_headers[i]);
    if((size_t)(colon - p) == nl && !strncasecmp(p, kept_headers[i], nl)) {
      const char *v = colon + 1, *end = p + len;
      while(v < end && (*v == ' ' || *v == '\t'))
        v++;
      while(end > v && isspace((unsigned char)end[-1]))
        end--;
      free(x->kept[i]);
      x->kept[i] = sb_strndup(v, (size_t)(end - v));
    }
  }
  return len;
}

/* Whatever a provider's host name resolves to when the connection is
 * made (DNS may change after the definition was checked), a link-local
 * or metadata address is refused: instance credentials live there. */
static curl_socket_t open_socket(void *allow, curlsocktype purpose,
                                 struct curl_sockaddr *a)
{
  if(purpose == CURLSOCKTYPE_IPCXN && !*(const int *)allow &&
     sb_addr_link_local(&a->addr)) {
    log_event(LOG_WARN,
              "refused to connect an upstream to a link-local or metadata "
              "address (security.allow_link_local_upstreams)",
              LOG_END);
    return CURL_SOCKET_BAD;
  }
  return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static void guard_sockets(CURL *e, const int *allow_link_local)
{
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, (void *)allow_link_local);
}

int upstream_start(struct upstream_loop *ul, const struct prov_http *h,
                   const struct upstream_limits *lim,
                   const struct upstream_cb *cb, void *ud,
                   struct upstream_xfer **out)
{
  size_t size = sizeof(struct upstream_xfer) +
                (size_t)h->nheaders * sizeof(struct curl_slist) +
                (h->body ? h->body_len + 1 : 0);
  struct upstream_xfer *x;
  CURL *e = ul->npool > 0 ? ul->pool[--ul->npool] : curl_easy_init();
  char *p;

  if(!e)
    return SB_EIO;
  for(int i = 0; i < h->nheaders; i++)
    size += strlen(h->headers[i]) + 1;
  x = sb_calloc(1, size);
  x->ul = ul;
  x->easy = e;
  x->cb = *cb;
  x->ud = ud;
  x->headers = h->nheaders ? (struct curl_slist *)(x + 1) : NULL;
  p = (char *)((struct curl_slist *)(x + 1) + h->nheaders);
  for(int i = 0; i < h->nheaders; i++) {
    size_t n = strlen(h->headers[i]) + 1;
    x->headers[i].data = memcpy(p, h->headers[i], n);
    x->headers[i].next = i + 1 < h->nheaders ? &x->headers[i + 1] : NULL;
    p += n;
  }
  curl_easy_setopt(e, CURLOPT_URL, h->url);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
  if(h->body) {
    x->body = memcpy(p, h->body, h->body_len);
    x->body[h->body_len] = '\0';
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)h->body_len);
  }
  /* Another verb on the same transfer (the MCP federation's DELETE). */
  if(h->method && strcmp(h->method, h->body ? "POST" : "GET"))
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, h->method);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(e, CURLOPT_PRIVATE, x);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, lim->connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, lim->total_timeout_ms);
  if(lim->recv_buffer > 0)
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, lim->recv_buffer);
  x->allow_link_local = lim->allow_link_local;
  guard_sockets(e, &x->allow_link_local);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, ul);
  if(curl_multi_add_handle(ul->multi, e) != CURLM_OK) {
    xfer_free(x);
    return SB_EIO;
  }
  if(lim->idle_timeout_s > 0) {
    /* Our own watchdog rather than CURLOPT_LOW_SPEED_TIME: curl averages
     * speed over seconds, so a 1 s limit fired after about 7 s. */
    x->idle = sb_calloc(1, sizeof(*x->idle));
    x->idle->x = x;
    x->idle_ms = (uint64_t)lim->idle_timeout_s * 1000;
    x->last_rx = uv_now(ul->loop);
    uv_timer_init(ul->loop, &x->idle->timer);
    x->idle->timer.data = x->idle;
    uv_timer_start(&x->idle->timer, on_idle, x->idle_ms, 0);
  }
  *out = x;
  return 0;
}

static void finish(struct upstream_xfer *x, CURLcode rc)
{
  struct upstream_result res;

  memset(&res, 0, sizeof(res));
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &res.status);
  if(rc != CURLE_OK) {
    res.failed = 1;
    res.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    res.connect_failed = rc == CURLE_COULDNT_CONNECT ||
                         rc == CURLE_COULDNT_RESOLVE_HOST ||
                         rc == CURLE_COULDNT_RESOLVE_PROXY;
    res.message = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
  }
  curl_multi_remove_handle(x->ul->multi, x->easy);
  x->cb.done(x->ud, &res);
  xfer_free(x);
}

/* Runs on the loop, outside curl, so the transfer may end here. */
static void on_idle(uv_timer_t *t)
{
  struct upstream_idle *idle = t->data;
  struct upstream_xfer *x = idle->x;
  uint64_t now = uv_now(x->ul->loop);

  if(x->paused || now - x->last_rx < x->idle_ms) {
    uint64_t due = x->paused ? x->idle_ms : x->idle_ms - (now - x->last_rx);
    uv_timer_start(t, on_idle, due, 0);
    return;
  }
  snprintf(x->errbuf, sizeof(x->errbuf),
           "no data from the upstream for %llu ms",
           (unsigned long long)x->idle_ms);
  finish(x, CURLE_OPERATION_TIMEDOUT);
}

long upstream_status(struct upstream_xfer *x)
{
  long status = 0;

  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

const char *upstream_header(struct upstream_xfer *x, const char *name)
{
  for(size_t i = 0; i < NKEPT; i++)
    if(!strcmp(kept_headers[i], name))
      return x->kept[i];
  return NULL;
}

void upstream_resume(struct upstream_xfer *x)
{
  x->paused = 0;
  x->last_rx = uv_now(x->ul->loop);
  curl_easy_pause(x->easy, CURLPAUSE_CONT);
}

void upstream_cancel(struct upstream_xfer *x)
{
  curl_multi_remove_handle(x->ul->multi, x->easy);
  xfer_free(x);
}

static void check_done(struct upstream_loop *ul)
{
  CURLMsg *msg;
  int left;

  while((msg = curl_multi_info_read(ul->multi, &left))) {
    struct upstream_xfer *x;

    if(msg->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    finish(x, msg->data.result);
  }
}

static size_t on_fetch_write(char *p, size_t size, size_t n, void *userp)
{
  return buf_append(userp, p, size * n) ? 0 : size * n;
}

int upstream_fetch_blocking(const struct prov_http *h, long timeout_ms,
                            int allow_link_local, long *status, char **body,
                            size_t *len)
{
  struct curl_slist *hdrs = NULL;
  struct buf b;
  CURL *e = curl_easy_init();
  CURLcode rc;

  if(!e)
    return SB_EIO;
  buf_init(&b, 16 * 1024 * 1024);
  for(int i = 0; i < h->nheaders; i++)
    hdrs = curl_slist_append(hdrs, h->headers[i]);
  curl_easy_setopt(e, CURLOPT_URL, h->url);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_fetch_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  guard_sockets(e, &allow_link_local);
  rc = curl_easy_perform(e);
  *status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
  curl_easy_cleanup(e);
  curl_slist_free_all(hdrs);
  if(rc != CURLE_OK) {
    buf_free(&b);
    return SB_EIO;
  }
  *body = buf_take(&b, len);
  return 0;
}
