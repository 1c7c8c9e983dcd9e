/*
 * fuzz_eventstream.c - the AWS event-stream framer
 * (base/eventstream.c), fed in fuzz-chosen pieces. Each input is
 * framed whole and in pieces; the two transcripts (messages with their
 * headers, results, bytes pending) must be equal.
 *
 * Input: flags (1 byte: bit 0 set patches the CRCs of the messages the
 * input describes, so that the fuzzer gets past them; bits 1-3 choose
 * max_message), chunking seed (2 bytes), the stream.
 */
#include "tests/fuzz/harness.h"

#include "base/eventstream.h"
#include "base/sb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void rec(struct buf *t, const char *p, size_t n)
{
  char hdr[24];

  FUZZ_CHECK(p || !n);
  snprintf(hdr, sizeof(hdr), "%zu:", n);
  (void)buf_appendz(t, hdr);
  if(n)
    (void)buf_append(t, p, n);
}

static int on_msg(void *ud, const struct eventstream_msg *m)
{
  struct buf *t = ud;

  rec(t, m->event_type, m->event_type_len);
  rec(t, m->message_type, m->message_type_len);
  rec(t, m->exception_type, m->exception_type_len);
  rec(t, m->error_code, m->error_code_len);
  rec(t, m->error_message, m->error_message_len);
  rec(t, m->payload, m->payload_len);
  return 0;
}

static void frame(const uint8_t *data, size_t size, size_t max, uint16_t seed,
                  struct buf *t)
{
  struct eventstream es;
  struct fuzz_chunker ch;
  size_t off = 0;
  int rc = 0;
  char tail[48];

  eventstream_init(&es, max, on_msg, t);
  fuzz_chunker_init(&ch, seed);
  while(off < size) {
    size_t k = seed ? fuzz_chunk(&ch, size - off) : size - off;
    int r = eventstream_feed(&es, data + off, k);

    if(r && !rc)
      rc = r;
    FUZZ_CHECK(r == rc); /* sticky */
    off += k;
  }
  snprintf(tail, sizeof(tail), "rc=%d,pending=%zu", rc,
           rc ? 0 : eventstream_pending(&es));
  (void)buf_appendz(t, tail);
  eventstream_free(&es);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const size_t MAX[] = {EVENTSTREAM_MIN_MESSAGE, 64, 1024, 1 << 20};
  struct fuzz_in in = {data, size};
  uint8_t flags = fuzz_u8(&in);
  size_t max = MAX[(flags >> 1) % SB_ARRAY_LEN(MAX)];
  uint16_t seed = fuzz_u16(&in);
  uint8_t *copy = malloc(in.n ? in.n : 1);
  struct buf whole, pieces;

  memcpy(copy, in.p, in.n);
  if(flags & 1)
    fuzz_fix_eventstream(copy, in.n);
  buf_init(&whole, 1 << 24);
  buf_init(&pieces, 1 << 24);
  frame(copy, in.n, max, 0, &whole);
  frame(copy, in.n, max, seed | 1, &pieces);
  FUZZ_CHECK(whole.len == pieces.len &&
             !memcmp(whole.data, pieces.data, whole.len));
  buf_free(&whole);
  buf_free(&pieces);
  free(copy);
  return 0;
}
