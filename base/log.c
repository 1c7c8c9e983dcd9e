#include "base/log.h"
#include "base/sb.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <math.h>

/* The documented exception to "no hidden global state": see log.h. */
static atomic_int log_level = LOG_INFO;

/* What a truncated line ends with. */
static const char TAIL[] = ",\"truncated\":true}\n";

/* Bytes kept free for closing a cut string ('"') and TAIL. */
#define RESERVE (1 + sizeof(TAIL) - 1)

struct line {
  char b[LOG_LINE_MAX];
  size_t len;
  int cut; /* something did not fit; nothing more is added */
};

static const char *const NAMES[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *s, enum log_level *out)
{
  if(!s)
    return SB_EINVAL;
  if(!strcasecmp(s, "debug"))
    *out = LOG_DEBUG;
  else if(!strcasecmp(s, "info"))
    *out = LOG_INFO;
  else if(!strcasecmp(s, "warn") || !strcasecmp(s, "warning"))
    *out = LOG_WARN;
  else if(!strcasecmp(s, "error"))
    *out = LOG_ERROR;
  else
    return SB_EINVAL;
  return 0;
}

const char *log_level_name(enum log_level l)
{
  if(l < LOG_DEBUG || l > LOG_ERROR)
    return "unknown";
  return NAMES[l];
}

void log_set_level(enum log_level l)
{
  atomic_store_explicit(&log_level, (int)l, memory_order_relaxed);
}

int log_enabled(enum log_level l)
{
  return (int)l >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

/* ---- line building ---------------------------------------------------- */

/* Append n bytes unless that would eat into the reserve. */
static int put(struct line *l, const char *s, size_t n)
{
  if(l->cut || n > LOG_LINE_MAX - RESERVE - l->len)
    return -1;
  memcpy(l->b + l->len, s, n);
  l->len += n;
  return 0;
}

/* Append s (n bytes) as a JSON string. If it does not fit, as much as
 * fits is kept, the string is closed and the line marked cut. Returns -1
 * when not even the opening quote fitted (nothing appended). */
static int put_string(struct line *l, const char *str, size_t n)
{
  const unsigned char *s = (const unsigned char *)str;

  if(put(l, "\"", 1))
    return -1;
  while(n) {
    char esc[8];
    const char *out = esc;
    size_t olen;
    size_t used = 1;
    size_t run = 0;

    /* Printable ASCII goes in runs, not a put() a character. */
    while(run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' &&
          s[run] != '\\')
      run++;
    if(run) {
      size_t room = LOG_LINE_MAX - RESERVE - l->len;
      if(run > room) {
        put(l, (const char *)s, room); /* ASCII: any byte ends a character */
        l->cut = 1;
        break;
      }
      put(l, (const char *)s, run);
      s += run;
      n -= run;
      continue;
    }
    if(*s == '"' || *s == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*s;
      olen = 2;
    } else if(*s < 0x20) {
      static const char short_esc[] = "btn\0fr"; /* 0x08 .. 0x0d */
      if(*s >= 0x08 && *s <= 0x0d && short_esc[*s - 0x08]) {
        esc[0] = '\\';
        esc[1] = short_esc[*s - 0x08];
        olen = 2;
      } else {
        snprintf(esc, sizeof(esc), "\\u%04x", *s);
        olen = 6;
      }
    } else {
      used = sb_utf8_len(s, n);
      if(used) {
        out = (const char *)s;
        olen = used;
      } else {
        out = "\xEF\xBF\xBD"; /* U+FFFD */
        olen = 3;
        used = 1;
      }
    }
    if(put(l, out, olen)) {
      l->cut = 1;
      break;
    }
    s += used;
    n -= used;
  }
  /* The reserve always has room for this quote. */
  l->b[l->len++] = '"';
  return 0;
}

/* Start a field: ,"key": . Returns -1 (line cut, nothing appended) if it
 * does not fit. */
static int put_key(struct line *l, const char *key)
{
  size_t mark = l->len;

  if(l->cut)
    return -1;
  if(put(l, ",", 1) || put_string(l, key, strlen(key)) || l->cut ||
     put(l, ":", 1)) {
    l->len = mark;
    l->cut = 1;
    return -1;
  }
  return 0;
}

/* A complete scalar value (number, true, null...) for the field begun at
 * mark; rolls the field back if it does not fit. */
static void put_scalar(struct line *l, size_t mark, const char *v)
{
  if(put(l, v, strlen(v))) {
    l->len = mark;
    l->cut = 1;
  }
}

static void put_ts(struct line *l)
{
  struct timespec ts;
  struct tm tm;
  char s[64];
  size_t n;

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  n = strftime(s, sizeof(s), "{\"ts\":\"%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(s + n, sizeof(s) - n, ".%03dZ\"", (int)(ts.tv_nsec / 1000000));
  put(l, s, strlen(s));
}

static void write_all(const char *s, size_t n)
{
  while(n) {
    ssize_t w = write(STDERR_FILENO, s, n);
    if(w < 0) {
      if(errno == EINTR)
        continue;
      return;
    }
    s += w;
    n -= (size_t)w;
  }
}

/* ---- the writer thread ------------------------------------------------ */

/* Lines are collected here while the writer runs, and written in batches:
 * a request's line then costs a memcpy under a mutex on the event loop
 * instead of a write(2) (one per request at the default level). */
#define ASYNC_CAP   (1024 * 1024)
#define ASYNC_HIGH  (ASYNC_CAP / 4) /* wake the writer at once from here */
#define ASYNC_DELAY 50              /* ms a line may wait for its batch */

static struct {
  pthread_mutex_t mu;
  pthread_cond_t more;  /* lines arrived (or stop): the writer waits on it */
  pthread_cond_t space; /* the buffer was taken: a full producer waits */
  pthread_t thread;
  char *fill; /* where producers append */
  char *out;  /* what the writer is writing, outside the lock */
  size_t len;
  int running;
  int stopping;
  int urgent; /* an error line: write it now, not in 50 ms */
} async = {.mu = PTHREAD_MUTEX_INITIALIZER,
           .more = PTHREAD_COND_INITIALIZER,
           .space = PTHREAD_COND_INITIALIZER};

/* Set once the writer runs; read without the lock on the fast path. */
static atomic_int async_on;

static void *writer_main(void *arg)
{
  (void)arg;
  pthread_mutex_lock(&async.mu);
  for(;;) {
    char *t;
    size_t n;

    while(!async.len && !async.stopping)
      pthread_cond_wait(&async.more, &async.mu);
    if(!async.len)
      break; /* stopping, and everything is written */
    if(!async.stopping && !async.urgent && async.len < ASYNC_HIGH) {
      /* Let a batch gather: one write for many lines. */
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_nsec += ASYNC_DELAY * 1000000L;
      if(until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
      }
      while(!async.stopping && !async.urgent && async.len < ASYNC_HIGH &&
            pthread_cond_timedwait(&async.more, &async.mu, &until) == 0)
        ;
    }
    t = async.out;
    async.out = async.fill;
    async.fill = t;
    n = async.len;
    async.len = 0;
    async.urgent = 0;
    pthread_cond_broadcast(&async.space);
    pthread_mutex_unlock(&async.mu);
    write_all(async.out, n);
    pthread_mutex_lock(&async.mu);
  }
  pthread_mutex_unlock(&async.mu);
  return NULL;
}

int log_async_start(void)
{
  int rc = 0;

  pthread_mutex_lock(&async.mu);
  if(!async.running) {
    async.fill = sb_malloc(ASYNC_CAP);
    async.out = sb_malloc(ASYNC_CAP);
    async.len = 0;
    async.stopping = 0;
    async.urgent = 0;
    if(sb_thread_start(&async.thread, "sb-log", writer_main, NULL)) {
      free(async.fill);
      free(async.out);
      async.fill = async.out = NULL;
      rc = SB_EIO;
    } else {
      async.running = 1;
      atomic_store(&async_on, 1);
    }
  }
  pthread_mutex_unlock(&async.mu);
  return rc;
}

void log_async_stop(void)
{
  pthread_mutex_lock(&async.mu);
  if(!async.running) {
    pthread_mutex_unlock(&async.mu);
    return;
  }
  async.stopping = 1;
  pthread_cond_signal(&async.more);
  pthread_mutex_unlock(&async.mu);
  /* The writer leaves only once the buffer is empty: nothing is lost. */
  pthread_join(async.thread, NULL);
  pthread_mutex_lock(&async.mu);
  atomic_store(&async_on, 0);
  async.running = 0;
  free(async.fill);
  free(async.out);
  async.fill = async.out = NULL;
  pthread_mutex_unlock(&async.mu);
}

/* One finished line to stderr: directly, or through the writer. */
static void emit(enum log_level lv, const char *s, size_t n)
{
  if(!atomic_load_explicit(&async_on, memory_order_acquire)) {
    write_all(s, n);
    return;
  }
  pthread_mutex_lock(&async.mu);
  if(!async.running || async.stopping) {
    /* Being stopped: the writer may be gone before it sees this line. */
    pthread_mutex_unlock(&async.mu);
    write_all(s, n);
    return;
  }
  /* Full (stderr slower than the lines come): wait for the writer rather
   * than drop a line or write one out of order. */
  while(async.running && !async.stopping && async.len + n > ASYNC_CAP) {
    async.urgent = 1;
    pthread_cond_signal(&async.more);
    pthread_cond_wait(&async.space, &async.mu);
  }
  if(!async.running || async.stopping) {
    pthread_mutex_unlock(&async.mu);
    write_all(s, n);
    return;
  }
  memcpy(async.fill + async.len, s, n);
  async.len += n;
  if(lv >= LOG_ERROR)
    async.urgent = 1;
  /* Wake the writer only when it sleeps on an empty buffer or must hurry:
   * otherwise it is already gathering this batch. */
  if(async.len == n || async.urgent || async.len >= ASYNC_HIGH)
    pthread_cond_signal(&async.more);
  pthread_mutex_unlock(&async.mu);
}

void log_event(enum log_level lv, const char *msg, ...)
{
  struct line l;
  const char *key;
  va_list ap;

  if(!log_enabled(lv))
    return;
  l.len = 0;
  l.cut = 0;
  put_ts(&l);
  put(&l, ",\"level\":\"", 10);
  put(&l, log_level_name(lv), strlen(log_level_name(lv)));
  put(&l, "\",\"msg\":", 8);
  put_string(&l, msg ? msg : "", msg ? strlen(msg) : 0);

  va_start(ap, msg);
  while(!l.cut && (key = va_arg(ap, const char *)) != NULL) {
    enum log_type t = (enum log_type)va_arg(ap, int);
    size_t mark = l.len;
    char num[64];

    if(t == LOG_T_STR || t == LOG_T_STRN) {
      const char *s = va_arg(ap, const char *);
      size_t n = t == LOG_T_STRN ? va_arg(ap, size_t) : (s ? strlen(s) : 0);
      if(put_key(&l, key))
        break;
      if(!s)
        put_scalar(&l, mark, "null");
      else if(put_string(&l, s, n)) {
        l.len = mark;
        l.cut = 1;
      }
      continue;
    }
    switch(t) {
    case LOG_T_INT: {
      /* Digits by hand: vfprintf was most of a request's log line. */
      int64_t v = va_arg(ap, int64_t);
      uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
      char *e = num + sizeof(num) - 1, *d = e;
      *e = '\0';
      do
        *--d = (char)('0' + u % 10);
      while(u /= 10);
      if(v < 0)
        *--d = '-';
      memmove(num, d, (size_t)(e - d) + 1);
      break;
    }
    case LOG_T_DBL: {
      double d = va_arg(ap, double);
      if(isfinite(d))
        snprintf(num, sizeof(num), "%.15g", d);
      else
        snprintf(num, sizeof(num), "null");
      break;
    }
    case LOG_T_BOOL:
      snprintf(num, sizeof(num), "%s", va_arg(ap, int) ? "true" : "false");
      break;
    default:
      /* An unknown tag: the rest of the list cannot be decoded. */
      snprintf(num, sizeof(num), "null");
      if(!put_key(&l, key))
        put_scalar(&l, mark, num);
      va_end(ap);
      goto finish;
    }
    if(!put_key(&l, key))
      put_scalar(&l, mark, num);
  }
  va_end(ap);

finish:
  if(l.cut) {
    memcpy(l.b + l.len, TAIL, sizeof(TAIL) - 1);
    l.len += sizeof(TAIL) - 1;
  } else {
    memcpy(l.b + l.len, "}\n", 2);
    l.len += 2;
  }
  emit(lv, l.b, l.len);
}
