/*
 * fuzz_ndjson.c - the NDJSON line splitter (base/ndjson.c), fed in
 * fuzz-chosen pieces. Each input is split whole and in pieces; the two
 * transcripts (lines, results) must be equal, and no line is empty or
 * holds a newline.
 *
 * Input: max_line selector (1 byte), chunking seed (2 bytes), the stream.
 */
#include "tests/fuzz/harness.h"

#include "base/ndjson.h"
#include "base/sb.h"

#include <stdio.h>
#include <string.h>

static int on_line(void *ud, const char *line, size_t len)
{
  struct buf *t = ud;
  char hdr[24];

  FUZZ_CHECK(len > 0 && !memchr(line, '\n', len));
  snprintf(hdr, sizeof(hdr), "%zu:", len);
  (void)buf_appendz(t, hdr);
  (void)buf_append(t, line, len);
  return 0;
}

static void split(const uint8_t *data, size_t size, size_t max, uint16_t seed,
                  struct buf *t)
{
  struct ndjson n;
  struct fuzz_chunker ch;
  size_t off = 0;
  int rc = 0;
  char tail[32];

  ndjson_init(&n, max, on_line, t);
  fuzz_chunker_init(&ch, seed);
  while(off < size) {
    size_t k = seed ? fuzz_chunk(&ch, size - off) : size - off;
    int r = ndjson_feed(&n, (const char *)data + off, k);

    if(r && !rc)
      rc = r;
    FUZZ_CHECK(r == rc); /* sticky */
    off += k;
  }
  snprintf(tail, sizeof(tail), "rc=%d,fin=%d", rc, ndjson_finish(&n));
  (void)buf_appendz(t, tail);
  ndjson_free(&n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const size_t MAX[] = {1, 8, 64, 4096, 1 << 20};
  struct fuzz_in in = {data, size};
  size_t max = MAX[fuzz_u8(&in) % SB_ARRAY_LEN(MAX)];
  uint16_t seed = fuzz_u16(&in);
  struct buf whole, pieces;

  buf_init(&whole, 1 << 24);
  buf_init(&pieces, 1 << 24);
  split(in.p, in.n, max, 0, &whole);
  split(in.p, in.n, max, seed | 1, &pieces);
  FUZZ_CHECK(whole.len == pieces.len &&
             !memcmp(whole.data, pieces.data, whole.len));
  buf_free(&whole);
  buf_free(&pieces);
  return 0;
}
