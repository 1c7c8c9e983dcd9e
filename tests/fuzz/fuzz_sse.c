/*
 * fuzz_sse.c - the SSE parser (base/sse.c), fed in fuzz-chosen
 * pieces.
 *
 * sse.h promises that a stream split anywhere yields the same events:
 * each input is parsed whole and in pieces and the two transcripts
 * (events, then the result of finish) must be equal. Every event is also
 * written back with sse_write_event() and parsed again, which must give
 * the same name and data.
 *
 * Input: max_event_bytes selector (1 byte), chunking seed (2 bytes), the
 * stream.
 */
#include "tests/fuzz/harness.h"

#include "base/sb.h"
#include "base/sse.h"

#include <stdio.h>
#include <string.h>

struct transcript {
  struct buf b;
};

static void rec_field(struct buf *b, const char *p, size_t n)
{
  char hdr[24];

  if(!p) {
    (void)buf_appendz(b, "-|");
    return;
  }
  snprintf(hdr, sizeof(hdr), "%zu:", n);
  (void)buf_appendz(b, hdr);
  (void)buf_append(b, p, n);
  (void)buf_appendz(b, "|");
}

static int on_event(void *ud, const struct sse_event *ev)
{
  struct transcript *t = ud;

  FUZZ_CHECK(ev->data && ev->data[ev->data_len] == '\0');
  FUZZ_CHECK(!ev->event || ev->event_len > 0);
  rec_field(&t->b, ev->event, ev->event_len);
  rec_field(&t->b, ev->data, ev->data_len);
  rec_field(&t->b, ev->id, ev->id_len);
  return 0;
}

struct roundtrip {
  const struct sse_event *want;
  int seen;
};

static int on_again(void *ud, const struct sse_event *ev)
{
  struct roundtrip *rt = ud;

  FUZZ_CHECK(!rt->seen);
  rt->seen = 1;
  FUZZ_CHECK(ev->data_len == rt->want->data_len &&
             !memcmp(ev->data, rt->want->data, ev->data_len));
  FUZZ_CHECK(
      ev->event_len == rt->want->event_len &&
      (!ev->event_len || !memcmp(ev->event, rt->want->event, ev->event_len)));
  return 0;
}

/* Write ev and parse it back. */
static int on_event_write(void *ud, const struct sse_event *ev)
{
  struct buf out;
  struct sse_parser p;
  struct roundtrip rt = {ev, 0};
  int rc;

  (void)ud;
  buf_init(&out, 1 << 22);
  rc = sse_write_event(&out, ev->event, ev->data, ev->data_len);
  /* An event name may hold a NUL, which the writer cannot carry. */
  if(rc == 0 && (!ev->event || strlen(ev->event) == ev->event_len)) {
    sse_parser_init(&p, 1 << 22, on_again, &rt);
    FUZZ_CHECK(sse_parser_feed(&p, out.data, out.len) == 0);
    FUZZ_CHECK(sse_parser_finish(&p) == 0);
    FUZZ_CHECK(rt.seen);
    sse_parser_free(&p);
  }
  buf_free(&out);
  return 0;
}

static int parse(const uint8_t *data, size_t size, size_t max, uint16_t seed,
                 sse_event_cb cb, struct transcript *t)
{
  struct sse_parser p;
  struct fuzz_chunker ch;
  size_t off = 0;
  int rc = 0, last;
  char tail[32];

  sse_parser_init(&p, max, cb, t);
  fuzz_chunker_init(&ch, seed);
  while(off < size) {
    size_t n = seed ? fuzz_chunk(&ch, size - off) : size - off;
    int r = sse_parser_feed(&p, (const char *)data + off, n);

    if(r && !rc)
      rc = r;
    FUZZ_CHECK(r == rc); /* sticky */
    off += n;
  }
  last = sse_parser_finish(&p);
  snprintf(tail, sizeof(tail), "rc=%d,fin=%d", rc, last);
  if(t)
    (void)buf_appendz(&t->b, tail);
  sse_parser_free(&p);
  return last;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const size_t MAX[] = {1, 8, 64, 512, 4096, 1 << 20};
  struct fuzz_in in = {data, size};
  size_t max = MAX[fuzz_u8(&in) % SB_ARRAY_LEN(MAX)];
  uint16_t seed = fuzz_u16(&in);
  struct transcript whole, split;

  buf_init(&whole.b, 1 << 24);
  buf_init(&split.b, 1 << 24);
  parse(in.p, in.n, max, 0, on_event, &whole);
  parse(in.p, in.n, max, seed | 1, on_event, &split);
  FUZZ_CHECK(whole.b.len == split.b.len &&
             !memcmp(whole.b.data, split.b.data, whole.b.len));
  parse(in.p, in.n, 1 << 20, 0, on_event_write, NULL);
  buf_free(&whole.b);
  buf_free(&split.b);
  return 0;
}
