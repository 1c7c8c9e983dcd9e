/*
 * buf.h - a bounded, growable byte buffer (the curl dynbuf idea).
 *
 * Everything sized by a client or an upstream is collected in a struct buf
 * whose limit `max` is mandatory: an append that would make the content
 * longer than `max` bytes fails with SB_ETOOBIG and leaves the buffer as it
 * was, so the caller can map the failure to 413/502 without cleaning up a
 * half-written state.
 *
 * Memory comes from sb_realloc(), which aborts on OOM; the only failure an
 * append reports is the limit.
 *
 * Invariant: once anything has been appended, data is NUL-terminated
 * (cap > len, data[len] == '\0'), so the content can be handed directly to
 * cJSON_ParseWithLength(), printf("%s") or strtol(). Before the first
 * append data is NULL and len is 0.
 *
 * A struct buf is not thread-safe; one owner uses it at a time.
 */
#ifndef SB_BASE_BUF_H
#define SB_BASE_BUF_H

#include <stddef.h>

struct buf {
  char *data; /* content, NUL-terminated; NULL until the first append */
  size_t len; /* bytes of content, not counting the NUL */
  size_t cap; /* bytes allocated for data (always > len when data != NULL) */
  size_t max; /* the content never grows beyond this many bytes */
  /* Bytes consumed from the front that are still allocated before data:
   * buf_consume() moves data forward instead of moving the rest back, so
   * draining a large buffer in pieces is linear, not quadratic. The gap is
   * reclaimed when the buffer empties or needs room. */
  size_t head;
};

/**
 * Initialise an empty buffer whose content may grow up to max bytes.
 * Allocates nothing. Calling it on a buffer that holds memory leaks that
 * memory; use buf_free() first.
 */
void buf_init(struct buf *b, size_t max);

/**
 * Append n bytes from p. Returns 0, or SB_ETOOBIG if len + n would exceed
 * max; on failure the buffer is left unchanged. n == 0 is valid (p may then
 * be NULL) and still allocates, so data is non-NULL afterwards.
 */
int buf_append(struct buf *b, const void *p, size_t n);

/** Append the NUL-terminated string s (without its NUL). As buf_append(). */
int buf_appendz(struct buf *b, const char *s);

/**
 * Append printf-formatted text. Returns 0, SB_ETOOBIG if the result would
 * exceed max (buffer unchanged), or SB_EINVAL if the format fails.
 */
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * Drop the first n bytes of content (all of it if n >= len). The
 * allocation is kept. O(1): the content is not moved (see head).
 */
void buf_consume(struct buf *b, size_t n);

/** Make the content empty, keeping the allocation and the limit. */
void buf_reset(struct buf *b);

/**
 * Release the memory. The buffer is left empty with the same limit and
 * may be reused.
 */
void buf_free(struct buf *b);

/**
 * Hand the content over to the caller: returns a NUL-terminated string of
 * *len bytes (len may be NULL) that the caller releases with free(). Never
 * NULL: an empty buffer yields "". The buffer is left empty (as after
 * buf_free()) with the same limit.
 */
char *buf_take(struct buf *b, size_t *len);

#endif
