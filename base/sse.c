#include "base/sse.h"
#include "base/sb.h"

#include <string.h>

static const unsigned char BOM[3] = {0xEF, 0xBB, 0xBF};

void sse_parser_init(struct sse_parser *p, size_t max_event_bytes,
                     sse_event_cb cb, void *ud)
{
  memset(p, 0, sizeof(*p));
  buf_init(&p->line, max_event_bytes);
  buf_init(&p->data, max_event_bytes);
  buf_init(&p->event, max_event_bytes);
  buf_init(&p->id, max_event_bytes);
  buf_init(&p->last_id, max_event_bytes);
  p->retry = -1;
  p->max = max_event_bytes;
  p->cb = cb;
  p->ud = ud;
}

void sse_parser_free(struct sse_parser *p)
{
  buf_free(&p->line);
  buf_free(&p->data);
  buf_free(&p->event);
  buf_free(&p->id);
  buf_free(&p->last_id);
}

static int dispatch(struct sse_parser *p)
{
  struct sse_event ev;
  int rc;

  p->in_event = 0;
  p->event_bytes = 0;
  if(p->id_set) {
    /* Cannot fail: last_id has the same limit and id fits in it. */
    p->id_set = 0;
    buf_reset(&p->last_id);
    if(buf_append(&p->last_id, p->id.data, p->id.len))
      return SB_ETOOBIG;
  }
  if(!p->has_data) {
    buf_reset(&p->event);
    return 0;
  }
  ev.event = p->event.len ? p->event.data : NULL;
  ev.event_len = p->event.len;
  ev.data = p->data.data ? p->data.data : "";
  ev.data_len = p->data.len;
  ev.id = p->id.len ? p->id.data : NULL;
  ev.id_len = p->id.len;
  rc = p->cb(p->ud, &ev);
  buf_reset(&p->data);
  buf_reset(&p->event);
  p->has_data = 0;
  return rc;
}

static int field_is(const char *name, size_t n, const char *lit)
{
  return n == strlen(lit) && !memcmp(name, lit, n);
}

/* "retry: N": only ASCII digits count; a huge N saturates. */
static void set_retry(struct sse_parser *p, const char *v, size_t n)
{
  long ms = 0;

  if(!n)
    return;
  for(size_t i = 0; i < n; i++) {
    int d = v[i] - '0';
    if(d < 0 || d > 9)
      return;
    ms = ms > (SSE_RETRY_MAX - d) / 10 ? SSE_RETRY_MAX : ms * 10 + d;
  }
  p->retry = ms;
}

/* One complete line, without its terminator. */
static int process_line(struct sse_parser *p, const char *s, size_t n)
{
  const char *colon;
  const char *value;
  size_t nlen, vlen;

  if(!n)
    return dispatch(p);
  if(s[0] == ':')
    return 0;
  colon = memchr(s, ':', n);
  if(colon) {
    nlen = (size_t)(colon - s);
    value = colon + 1;
    vlen = n - nlen - 1;
    if(vlen && value[0] == ' ') {
      value++;
      vlen--;
    }
  } else {
    nlen = n;
    value = "";
    vlen = 0;
  }
  p->in_event = 1;
  p->event_bytes += n;
  if(field_is(s, nlen, "data")) {
    int rc = 0;
    if(p->has_data)
      rc = buf_append(&p->data, "\n", 1);
    if(!rc)
      rc = buf_append(&p->data, value, vlen);
    p->has_data = 1;
    return rc;
  } else if(field_is(s, nlen, "event")) {
    buf_reset(&p->event);
    return buf_append(&p->event, value, vlen);
  } else if(field_is(s, nlen, "id")) {
    if(memchr(value, '\0', vlen))
      return 0;
    buf_reset(&p->id);
    p->id_set = 1;
    return buf_append(&p->id, value, vlen);
  } else if(field_is(s, nlen, "retry")) {
    set_retry(p, value, vlen);
    return 0;
  }
  /* Unknown fields are ignored. */
  return 0;
}

/* How long the line starting with byte first may get: a comment line up
 * to the limit, a field line up to what the event has left. */
static size_t line_room(const struct sse_parser *p, char first)
{
  if(first == ':')
    return p->max;
  return p->event_bytes < p->max ? p->max - p->event_bytes : 0;
}

/* The byte stream after the BOM check. */
static int parse(struct sse_parser *p, const char *s, size_t n)
{
  while(n) {
    size_t i;
    int rc;

    if(p->cr) {
      p->cr = 0;
      if(s[0] == '\n') {
        s++;
        n--;
        continue;
      }
    }
    for(i = 0; i < n && s[i] != '\n' && s[i] != '\r'; i++)
      ;
    if(p->line.len + i > line_room(p, p->line.len ? p->line.data[0] : s[0]))
      return SB_ETOOBIG;
    if(i == n) {
      /* No terminator in what is left: keep it for the next feed. */
      return buf_append(&p->line, s, n);
    }
    if(p->line.len) {
      rc = buf_append(&p->line, s, i);
      if(!rc)
        rc = process_line(p, p->line.data, p->line.len);
      buf_reset(&p->line);
    } else {
      rc = process_line(p, s, i);
    }
    if(rc)
      return rc;
    if(s[i] == '\r') {
      if(i + 1 < n) {
        if(s[i + 1] == '\n')
          i++;
      } else {
        p->cr = 1;
      }
    }
    s += i + 1;
    n -= i + 1;
  }
  return 0;
}

int sse_parser_feed(struct sse_parser *p, const char *data, size_t len)
{
  int rc;

  if(p->err)
    return p->err;
  /* A BOM at stream start is skipped; it may arrive split over feeds. */
  while(!p->started && len) {
    if((unsigned char)data[0] == BOM[p->bom_seen]) {
      data++;
      len--;
      if(++p->bom_seen == sizeof(BOM))
        p->started = 1;
      continue;
    }
    p->started = 1;
    if(p->bom_seen) {
      /* A BOM prefix that was not a BOM after all: ordinary bytes. */
      rc = parse(p, (const char *)BOM, p->bom_seen);
      if(rc) {
        p->err = rc;
        return rc;
      }
    }
  }
  rc = parse(p, data, len);
  if(rc)
    p->err = rc;
  return rc;
}

int sse_parser_finish(struct sse_parser *p)
{
  int pending;

  if(p->err)
    return p->err;
  if(!p->started && p->bom_seen)
    pending = 1; /* a lone BOM prefix is a partial line */
  else
    pending = p->in_event || (p->line.len && p->line.data[0] != ':');
  buf_reset(&p->line);
  buf_reset(&p->data);
  buf_reset(&p->event);
  p->has_data = 0;
  p->in_event = 0;
  p->event_bytes = 0;
  p->cr = 0;
  return pending ? SB_EPROTO : 0;
}

const char *sse_parser_last_id(const struct sse_parser *p, size_t *len)
{
  *len = p->last_id.len;
  return p->last_id.len ? p->last_id.data : NULL;
}

long sse_parser_retry(const struct sse_parser *p)
{
  return p->retry;
}

/* Length of the line starting at s (up to n bytes) and of its terminator
 * (0 when the line runs to the end). */
static size_t line_len(const char *s, size_t n, size_t *term)
{
  size_t i;

  for(i = 0; i < n && s[i] != '\n' && s[i] != '\r'; i++)
    ;
  if(i == n)
    *term = 0;
  else if(s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
    *term = 2;
  else
    *term = 1;
  return i;
}

/* Append "PREFIX LINE\n" for every line of s (at least one). An empty
 * line keeps the prefix's trailing space, which the parser strips. */
static int write_lines(struct buf *out, const char *prefix, const char *s,
                       size_t n)
{
  int rc;

  do {
    size_t term;
    size_t l = line_len(s, n, &term);

    rc = buf_appendz(out, prefix);
    if(!rc)
      rc = buf_append(out, s, l);
    if(!rc)
      rc = buf_append(out, "\n", 1);
    if(rc)
      return rc;
    s += l + term;
    n -= l + term;
    /* A trailing line break starts one more (empty) line. */
    if(!n && term) {
      rc = buf_appendz(out, prefix);
      if(!rc)
        rc = buf_append(out, "\n", 1);
      return rc;
    }
  } while(n);
  return 0;
}

int sse_write_event(struct buf *out, const char *event, const char *data,
                    size_t len)
{
  size_t orig = out->len;
  int rc = 0;

  if(event && strpbrk(event, "\r\n"))
    return SB_EINVAL;
  if(!data)
    data = "";
  if(event)
    rc = buf_printf(out, "event: %s\n", event);
  if(!rc)
    rc = write_lines(out, "data: ", data, len);
  if(!rc)
    rc = buf_append(out, "\n", 1);
  if(rc) {
    out->len = orig;
    if(out->data)
      out->data[orig] = '\0';
  }
  return rc;
}

int sse_write_comment(struct buf *out, const char *text)
{
  size_t orig = out->len;
  int rc;

  if(!text[0])
    rc = buf_appendz(out, ":\n");
  else
    rc = write_lines(out, ": ", text, strlen(text));
  if(!rc)
    rc = buf_append(out, "\n", 1);
  if(rc) {
    out->len = orig;
    if(out->data)
      out->data[orig] = '\0';
  }
  return rc;
}
