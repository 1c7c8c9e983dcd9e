/*
 * bodylog.h - body logging (config "logging.bodies", off by default): a
 * request's headers, with credentials redacted, and its request and
 * response bodies, each cut at logging.body_max_bytes, kept with its
 * record (table request_bodies) for the dashboard's request detail.
 * Internal to gateway/.
 *
 * The response is what the client was sent (the translated answer, or a
 * stream's events), copied as it is written.
 */
#ifndef SB_GATEWAY_BODYLOG_H
#define SB_GATEWAY_BODYLOG_H

#include "base/buf.h"

#include <stddef.h>

/* What is kept of one request while it runs (struct req's log). */
struct req_bodylog {
  char *headers; /* JSON object, credentials redacted */
  struct buf out;
  int out_truncated;
};

struct req;
struct store_usage;

/** Start logging r if the config says so: its headers are read now,
 * while the connection holds them. */
void bodylog_begin(struct req *r);

/** n bytes of r's response body, as they are written to the client. */
void bodylog_out(struct req *r, const void *p, size_t n);

/** Move what was logged for r into rec (nothing when r was not logged). */
void bodylog_take(struct req *r, struct store_usage *rec);

/** Free what r logged and did not hand over. */
void bodylog_free(struct req *r);

#endif
