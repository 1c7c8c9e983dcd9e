/*
 * subreq.h - sub-requests: the gateway asking itself, for a client's
 * request, what a client would ask it (a summary of a conversation's
 * history, gateway/conv_turn.c). Internal to gateway/.
 *
 * A sub-request is an HTTP request over loopback to the gateway's own
 * /v1/chat/completions, made through net/upstream on the worker's loop
 * (never blocking it), so it passes through everything a client's does:
 * routing, the key's allow-list, limits and budget, the request record.
 * It acts for the key of the request it serves: it carries the process's
 * internal credential (32 random bytes, made at start, held in memory
 * only) and SUBREQ_KEY_HEADER naming the key. The gateway accepts the
 * credential only with that header, only from a loopback peer, and
 * forgets both before anything is forwarded (gateway/http.c admit()):
 * a request that did not come from this process cannot present it, since
 * nothing outside it ever sees it (it is never logged, recorded or sent
 * anywhere but to this process's own socket).
 */
#ifndef SB_GATEWAY_SUBREQ_H
#define SB_GATEWAY_SUBREQ_H

#include "gateway/http.h"

#include <cjson/cJSON.h>

/** The key a sub-request acts for: a key id, or "-" for the admin
 * credential. */
#define SUBREQ_KEY_HEADER "x-switchboard-internal-key"

/** The longest answer a sub-request reads, in bytes. */
#define SUBREQ_MAX_RESPONSE (4 * 1024 * 1024)

/** Make the process's internal credential into gw->internal_secret
 * (OpenSSL RAND_bytes). Once, at start, before any worker runs. 0, or
 * SB_EIO. */
int subreq_init(struct gw *gw);

/** 1 when secret is the process's internal credential (compared in
 * constant time), else 0; 0 before subreq_init(). */
int subreq_is_credential(const struct gw *gw, const char *secret);

struct subreq;

/** The answer: text (the first choice's content; NULL on failure, with
 * why saying what went wrong). Runs on r's loop; s is freed after it. */
typedef void (*subreq_cb)(struct req *r, const char *text, const char *why,
                          void *ud);

/**
 * POST body (a Chat Completions request, non-streamed; not taken) to
 * this gateway for r's key, then cb(r, ...) once. purpose (a short
 * constant: "summary", "playground") names it in its request id,
 * "<r's id>.<purpose>", so the record says what made it. *out lets the
 * caller cancel it (subreq_cancel()) when r goes first. 0, or SB_E* (cb
 * never runs).
 */
int subreq_chat(struct req *r, const char *purpose, const cJSON *body,
                subreq_cb cb, void *ud, struct subreq **out);

/** Abort s; its callback never runs. Safe on NULL. */
void subreq_cancel(struct subreq *s);

#endif
