/*
 * ndjson.h - split a byte stream into newline-delimited JSON lines
 * (Ollama's native streaming).
 */
#ifndef SB_BASE_NDJSON_H
#define SB_BASE_NDJSON_H

#include "base/buf.h"

#include <stddef.h>

/** One complete line, without its terminator; never empty. Return
 * nonzero to stop (ndjson_feed returns that value). */
typedef int (*ndjson_line_cb)(void *ud, const char *line, size_t len);

struct ndjson {
  struct buf line; /* the incomplete last line */
  ndjson_line_cb cb;
  void *ud;
  int err; /* sticky result once nonzero */
};

void ndjson_init(struct ndjson *n, size_t max_line, ndjson_line_cb cb,
                 void *ud);

/**
 * Feed bytes. Lines end at \n (a \r before it is dropped); blank lines
 * are skipped. Returns 0, SB_ETOOBIG for a line over max_line, or the
 * callback's nonzero value.
 */
int ndjson_feed(struct ndjson *n, const char *p, size_t len);

/** End of input: deliver a last line that had no terminator. */
int ndjson_finish(struct ndjson *n);

void ndjson_free(struct ndjson *n);

#endif
