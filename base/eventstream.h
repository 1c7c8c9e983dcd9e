/*
 * eventstream.h - split a byte stream into AWS event-stream messages
 * (application/vnd.amazon.eventstream; Bedrock ConverseStream).
 *
 * A message is: total length (u32 BE, the whole message), headers length
 * (u32 BE), prelude CRC (CRC-32 of the first 8 bytes), headers, payload,
 * message CRC (CRC-32 of every preceding byte). Headers are name_len:u8,
 * name, type:u8, value; string values (type 7) are u16 BE length + bytes.
 *
 * The parser is incremental: bytes may be fed split at any point and one
 * feed may carry several messages. At most one message is buffered, and a
 * message longer than max_message bytes is refused.
 *
 * Pure: no I/O, no clock, no global state.
 */
#ifndef SB_BASE_EVENTSTREAM_H
#define SB_BASE_EVENTSTREAM_H

#include "base/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Smallest possible message: prelude (12) + message CRC (4). */
#define EVENTSTREAM_MIN_MESSAGE 16

/**
 * One decoded message. Header values point into the message (not
 * NUL-terminated; NULL with length 0 when the header is absent or not a
 * string). Valid only during the callback.
 */
struct eventstream_msg {
  const char *event_type; /* :event-type, e.g. "contentBlockDelta" */
  size_t event_type_len;
  const char *message_type; /* :message-type: event, exception or error */
  size_t message_type_len;
  const char *exception_type; /* :exception-type, e.g. "throttlingException" */
  size_t exception_type_len;
  const char *error_code; /* :error-code (message-type error) */
  size_t error_code_len;
  const char *error_message; /* :error-message (message-type error) */
  size_t error_message_len;
  const char *payload; /* the payload bytes (JSON for Bedrock) */
  size_t payload_len;
};

/** One complete message whose CRCs matched. Return nonzero to stop
 * (eventstream_feed returns that value). */
typedef int (*eventstream_cb)(void *ud, const struct eventstream_msg *m);

struct eventstream {
  struct buf msg; /* the incomplete current message */
  size_t need;    /* bytes of the current message (0: prelude not read) */
  size_t max;     /* largest message accepted */
  eventstream_cb cb;
  void *ud;
  int err; /* sticky result once nonzero */
};

/** Initialise; max_message is the largest total length accepted
 * (at least EVENTSTREAM_MIN_MESSAGE). Allocates nothing. */
void eventstream_init(struct eventstream *es, size_t max_message,
                      eventstream_cb cb, void *ud);

/**
 * Feed len bytes. Calls cb once per complete message, in order. Returns
 * 0, SB_EPROTO for a bad prelude or message CRC or a malformed header
 * section, SB_ETOOBIG for a message over max_message, or the callback's
 * nonzero value. A nonzero result is sticky: later feeds return it.
 */
int eventstream_feed(struct eventstream *es, const void *data, size_t len);

/** Bytes of an incomplete message held back (nonzero at the end of the
 * stream means it was truncated mid-message). */
size_t eventstream_pending(const struct eventstream *es);

void eventstream_free(struct eventstream *es);

/** CRC-32 (IEEE 802.3 / zlib crc32()) of len bytes, continuing from crc
 * (start with 0). */
uint32_t eventstream_crc32(uint32_t crc, const void *data, size_t len);

#endif
