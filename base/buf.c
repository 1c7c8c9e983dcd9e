#include "base/buf.h"
#include "base/sb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_CAP 64

void buf_init(struct buf *b, size_t max)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
  b->head = 0;
}

/* Give the consumed front back: the content moves to the start of the
 * allocation. Called only when the room is needed (or the allocation
 * leaves the buffer), so each byte is moved at most once per refill. */
static void compact(struct buf *b)
{
  if(!b->head)
    return;
  memmove(b->data - b->head, b->data, b->len + 1);
  b->data -= b->head;
  b->cap += b->head;
  b->head = 0;
}

/* Make room for n more bytes of content plus the NUL. The caller has
 * already checked n against the limit. */
static void grow(struct buf *b, size_t n)
{
  size_t need = b->len + n + 1;
  size_t cap;

  if(need <= b->cap)
    return;
  compact(b);
  if(need <= b->cap)
    return;
  cap = b->cap ? b->cap : BUF_MIN_CAP;
  while(cap < need) {
    if(cap > SIZE_MAX / 2) {
      cap = need;
      break;
    }
    cap *= 2;
  }
  /* Never allocate much beyond what the limit allows. */
  if(b->max < SIZE_MAX && cap > b->max + 1)
    cap = b->max + 1;
  if(cap < need)
    cap = need;
  b->data = sb_realloc(b->data, cap);
  b->cap = cap;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
  if(n > b->max || b->len > b->max - n || b->len + n == SIZE_MAX)
    return SB_ETOOBIG;
  grow(b, n);
  if(n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int buf_appendz(struct buf *b, const char *s)
{
  return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if(n < 0)
    return SB_EINVAL;
  if((size_t)n > b->max || b->len > b->max - (size_t)n ||
     b->len + (size_t)n == SIZE_MAX)
    return SB_ETOOBIG;
  grow(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

void buf_consume(struct buf *b, size_t n)
{
  if(n >= b->len) {
    buf_reset(b);
    return;
  }
  /* The NUL after the content stays where it is. */
  b->data += n;
  b->cap -= n;
  b->head += n;
  b->len -= n;
}

void buf_reset(struct buf *b)
{
  b->len = 0;
  if(b->data) {
    b->data -= b->head;
    b->cap += b->head;
    b->head = 0;
    b->data[0] = '\0';
  }
}

void buf_free(struct buf *b)
{
  free(b->data ? b->data - b->head : NULL);
  buf_init(b, b->max);
}

char *buf_take(struct buf *b, size_t *len)
{
  char *s;

  compact(b);
  s = b->data;

  if(len)
    *len = b->len;
  if(!s)
    s = sb_strdup("");
  buf_init(b, b->max);
  return s;
}
