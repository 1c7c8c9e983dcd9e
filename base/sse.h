/*
 * sse.h - Server-Sent Events: an incremental parser for upstream streams
 * and a writer for the streams the gateway sends.
 *
 * The parser follows the WHATWG event-stream rules:
 * lines end with "\n", "\r\n" or "\r" (a "\r" at the end of one feed and
 * a "\n" at the start of the next are one terminator); a line "name:value"
 * sets field name to value with one leading space removed; a line without
 * a colon is a field with an empty value; lines starting with ':' are
 * comments; data lines are joined with "\n"; a blank line dispatches the
 * event, unless it had no data line, in which case it is dropped; a
 * "retry" field of ASCII digits sets the stream's reconnection time, kept
 * for the owner (sse_parser_retry), as is the last event ID as of the
 * last blank line (sse_parser_last_id): a client that resumes a stream
 * needs both; other fields are ignored; a UTF-8 byte order mark at the
 * very start of the stream is skipped.
 *
 * Input may be split anywhere (inside a line, a CRLF or the BOM): feeding
 * a stream in any number of pieces yields the same events.
 *
 * Pure: no sockets, no clock. A parser is not thread-safe; one owner feeds
 * it.
 */
#ifndef SB_BASE_SSE_H
#define SB_BASE_SSE_H

#include "base/buf.h"

#include <stddef.h>

/**
 * One dispatched event. The pointers are valid only during the callback;
 * copy what must outlive it. data is never NULL and is NUL-terminated
 * (data[data_len] == '\0', although the payload itself may contain NULs);
 * event and id are NUL-terminated when not NULL.
 */
struct sse_event {
  const char *event; /* "event:" value; NULL/0 when absent or empty (the
                        spec's default type "message") */
  size_t event_len;
  const char *data; /* the data lines joined with "\n" */
  size_t data_len;
  const char *id; /* the last event ID (see below); NULL/0 when none */
  size_t id_len;
};

/**
 * Called once per dispatched event. Return 0 to go on; any other value
 * stops parsing and is returned by sse_parser_feed(). The callback must
 * not free or re-initialise the parser.
 */
typedef int (*sse_event_cb)(void *ud, const struct sse_event *ev);

/**
 * Parser state. Defined here so that it can be embedded in a request
 * object; treat the members as private.
 *
 * As in the spec, the event ID persists: an "id:" line sets it for this
 * and every later event until another "id:" line changes it (an empty
 * value clears it; a value containing NUL is ignored).
 */
struct sse_parser {
  struct buf line;       /* the partial line not yet terminated */
  struct buf data;       /* data lines of the current event */
  struct buf event;      /* event name of the current event */
  struct buf id;         /* last event ID buffer */
  struct buf last_id;    /* id as of the last blank line */
  long retry;            /* reconnection time in ms, or -1 */
  size_t max;            /* max_event_bytes */
  size_t event_bytes;    /* field-line bytes of the current event so far */
  sse_event_cb cb;       /* dispatch callback */
  void *ud;              /* its user data */
  int err;               /* sticky result once parsing stopped, else 0 */
  unsigned bom_seen;     /* BOM bytes matched at stream start */
  unsigned cr : 1;       /* last byte fed was a '\r' terminator */
  unsigned started : 1;  /* BOM check finished */
  unsigned has_data : 1; /* the current event has a data line */
  unsigned in_event : 1; /* a field line arrived since the last dispatch */
  unsigned id_set : 1;   /* an id line arrived since the last blank line */
};

/**
 * Initialise p. max_event_bytes bounds the size of one event: the bytes
 * of its field lines (event, data, id and ignored fields, without line
 * terminators) added up, and the length of any single comment line.
 * Comment lines do not count towards an event, so keep-alives never trip
 * the limit. The parser buffers at most about that much per event. cb is
 * called for each event with ud. Allocates nothing until fed.
 */
void sse_parser_init(struct sse_parser *p, size_t max_event_bytes,
                     sse_event_cb cb, void *ud);

/**
 * Parse len bytes, dispatching every event they complete. Returns 0;
 * SB_ETOOBIG when one event (or a comment line) exceeds max_event_bytes;
 * or the callback's nonzero return value. After a nonzero return parsing has
 * stopped for good: the rest of this input is discarded and every later
 * feed (and sse_parser_finish()) returns the same value without calling
 * the callback.
 */
int sse_parser_feed(struct sse_parser *p, const char *data, size_t len);

/**
 * End of input. Dispatches nothing: an event not closed by a blank line
 * is incomplete and is discarded. Returns SB_EPROTO if bytes of such an
 * unterminated event were pending (a partial non-comment line, or field
 * lines since the last blank line), the sticky error if parsing had
 * stopped, else 0. Afterwards only sse_parser_free() is meaningful.
 */
int sse_parser_finish(struct sse_parser *p);

/**
 * The stream's last event ID: the "id" field as it stood at the last
 * blank line, whether or not that blank line dispatched an event (as the
 * spec sets an EventSource's last event ID). This is what a client sends
 * as Last-Event-ID to resume the stream: an "id" line of an event the
 * stream cut off does not count, since that event never arrived. NULL
 * (and *len 0) when there is none. NUL-terminated; valid until the next
 * feed or sse_parser_free(), and still after sse_parser_finish().
 */
const char *sse_parser_last_id(const struct sse_parser *p, size_t *len);

/* The largest reconnection time sse_parser_retry() reports; larger
 * values saturate. */
#define SSE_RETRY_MAX 2147483647L

/**
 * The reconnection time, in milliseconds, set by the stream's last
 * "retry" field whose value is ASCII digits only (others are ignored, as
 * in the spec); -1 when there was none. It takes effect as the line is
 * read, not at a blank line. Still valid after sse_parser_finish().
 */
long sse_parser_retry(const struct sse_parser *p);

/** Release the parser's memory. p may then be initialised again. */
void sse_parser_free(struct sse_parser *p);

/**
 * Append one event to out: "event: NAME\n" when event is not NULL, then
 * one "data: LINE\n" per line of data, then a blank line. Line breaks in
 * data ("\n", "\r\n" or "\r") start a new data line, so the parser returns
 * the payload with every line break as "\n"; len 0 gives one empty data
 * line (data may then be NULL). Returns 0, SB_EINVAL if event contains a
 * line break, or SB_ETOOBIG if out's limit is reached; on failure out is
 * unchanged.
 */
int sse_write_event(struct buf *out, const char *event, const char *data,
                    size_t len);

/**
 * Append a comment (e.g. a keep-alive) to out: ": TEXT\n" per line of
 * text (":\n" for an empty text), then a blank line, which ends nothing
 * but makes the comment self-delimiting for naive clients. Returns 0 or
 * SB_ETOOBIG (out unchanged).
 */
int sse_write_comment(struct buf *out, const char *text);

#endif
