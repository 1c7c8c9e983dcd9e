/*
 * retention.h - deleting what is older than the operator keeps: stored
 * conversations, stored responses and the request log (config section
 * "retention", docs/reference.md).
 *
 * Off the hot path: a thread of its own runs a pass at start and every
 * STORE_RETENTION_INTERVAL_S after, each pass deleting in transactions of
 * at most STORE_RETENTION_BATCH rows with a pause between them, so the
 * writer thread (store.c) and the thread pool's reads wait for one small
 * transaction at most, never for a whole purge.
 */
#ifndef SB_STORE_RETENTION_H
#define SB_STORE_RETENTION_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/** How often the job runs, seconds. */
#define STORE_RETENTION_INTERVAL_S 3600
/** Rows (conversations, responses or requests) per transaction. */
#define STORE_RETENTION_BATCH 500

/** Days each kind is kept; 0: forever. */
struct store_retention_policy {
  int conversations_days; /* by last activity (conversations.updated_at) */
  int responses_days;     /* by creation (responses.created_at) */
  int requests_days;      /* the request log, by start (requests.ts_ms) */
};

/** What a pass deleted. */
struct store_retention_stats {
  int64_t conversations, conversation_items;
  int64_t responses, response_items;
  int64_t requests;
};

/**
 * One pass over the database at path as of unix time now_s: delete the
 * conversations (with their items) idle for more than conversations_days,
 * the responses (with their items) older than responses_days and the
 * request records older than requests_days, batch rows (< 1:
 * STORE_RETENTION_BATCH) per transaction. A table that does not exist
 * (an older schema) is skipped. *stop, when not NULL, is read before
 * each batch: nonzero ends the pass early with 0. BLOCKING. 0 or SB_EDB
 * with err; what was deleted before a failure stays deleted and is
 * counted in *out (may be NULL).
 */
int store_retention_run(const char *path,
                        const struct store_retention_policy *p, int64_t now_s,
                        int batch, const atomic_int *stop,
                        struct store_retention_stats *out, char *err,
                        size_t errlen);

/** The background job. */
struct store_retention;

/**
 * Start the job for the database at path with policy p (copied): a pass
 * now, then every STORE_RETENTION_INTERVAL_S. When every figure of p is 0
 * there is nothing to do: *out is NULL and no thread starts. Passes are
 * logged when they delete something or fail. 0, or SB_EIO when the
 * thread cannot start.
 */
int store_retention_start(const char *path,
                          const struct store_retention_policy *p,
                          struct store_retention **out);

/** Stop the job (a pass under way ends after its current batch) and free
 * it. Safe on NULL. */
void store_retention_stop(struct store_retention *r);

#endif
