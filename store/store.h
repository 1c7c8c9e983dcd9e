/*
 * store.h - Switchboard's state in SQLite.
 *
 * One struct store per process. store_open() opens (or creates) the
 * database, enables WAL, applies the embedded migrations and starts the
 * single writer thread. Event-loop threads only ever call the
 * non-blocking functions marked below; everything that touches the disk
 * happens on the writer thread or at start-up.
 *
 * Thread safety: store_usage_submit() and store_ready() may be called
 * from any thread. store_open()/store_close() from one thread only.
 */
#ifndef SB_STORE_STORE_H
#define SB_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/** One request record (table `requests`). Strings may be NULL. */
struct store_usage {
  int64_t ts_ms;
  char *request_id;
  char *api;
  char *model;
  char *provider;
  char *upstream_model;
  int stream;
  int status;
  char *error_type;
  int64_t prompt_tokens;     /* -1 when unknown (stored as NULL) */
  int64_t completion_tokens; /* -1 when unknown */
  int64_t ttfb_ms;           /* -1 when nothing was sent */
  int64_t latency_ms;
  char *key_id;             /* the gateway key's id, or NULL */
  int64_t cached_tokens;    /* -1 when unknown; part of prompt_tokens */
  int64_t reasoning_tokens; /* -1 when unknown; part of completion_tokens */
  double cost_usd;          /* < 0: unknown (NULL) */
  int unpriced;             /* tokens were used, but the model has no price */
  int usage_estimated;      /* the upstream reported no usage: estimated */
  char *route;              /* the route that served it, or NULL */
  int attempts;             /* upstream attempts (>= 1) */
  char *attempts_detail;    /* JSON array of the attempts, or NULL */
  int64_t context_dropped;  /* history messages left out to fit the model's
                             * context window; 0: none (stored as NULL) */
  int64_t context_dropped_tokens; /* their estimated tokens */
  /* "trim" or "summarize" when history was left out, else NULL; and the
   * summary put in its place (summarize), or NULL. */
  char *context_strategy;
  char *context_summary;
  /* "provider" or "estimate": how a turn fitted to its model's window was
   * measured; NULL when it was not fitted. */
  char *context_counted;
  int64_t latency_us;  /* latency in microseconds; 0: latency_ms only */
  int64_t upstream_us; /* waiting on upstream transfers; 0: none asked */
  /* The response cache: "hit", "coalesced", "miss" or "bypass" (static
   * strings, not freed), or NULL when it was off; and the upstream cost a
   * hit or a coalesced answer saved (< 0: none or unknown). */
  const char *cache;
  double saved_usd;
  /* Body logging (logging.bodies), else all NULL: the request's headers
   * as a JSON object with credentials redacted, and the bodies, each cut
   * at logging.body_max_bytes (the flags say when). */
  char *body_headers;
  char *body_request;
  char *body_response;
  int body_request_truncated;
  int body_response_truncated;
};

struct store_options {
  int queue_max;       /* records held before new ones are dropped; >= 1 */
  int batch_max;       /* records per write transaction; >= 1 */
  int busy_timeout_ms; /* wait for another process's lock; >= 0 */
  /* How long the writer lets a batch gather once its first record is
   * queued, in microseconds (0: write at once). store_sync() and a full
   * batch cut it short, so the gateway's own reads never wait for it; a
   * reader of the file from outside sees a record up to this much later. */
  int gather_us;
};

/** Defaults: queue_max 65536, batch_max 512, busy_timeout_ms 5000,
 * gather_us 2000. */
void store_options_default(struct store_options *opt);

/**
 * Open the database at path, apply pending migrations inside one
 * transaction each, and start the writer thread. opt may be NULL for the
 * defaults.
 * Returns SB_ETOONEW if the database records a schema version higher than
 * store_schema_version() (the file is then left unmodified), SB_EDB on
 * any SQLite failure (including a failing migration, which is rolled back
 * completely, or a database that cannot be put in WAL mode), SB_EINVAL on
 * invalid options, SB_EIO if the writer thread cannot start; err (if not
 * NULL) receives a human-readable reason. *out is NULL on failure.
 */
int store_open(const char *path, const struct store_options *opt,
               struct store **out, char *err, size_t errlen);

/**
 * Apply pending migrations to path and return without starting the
 * writer: `switchboard migrate`. *applied (if not NULL) receives how many
 * were applied, also on failure (the ones before a failing migration stay
 * applied). Errors as for store_open().
 */
int store_migrate(const char *path, int *applied, char *err, size_t errlen);

/** Schema version of this binary (highest embedded migration). */
int store_schema_version(void);

/**
 * Queue a record for the writer. Never blocks on the disk (only a short
 * mutex section). The store takes ownership of rec and of its strings
 * (all freed with free()), even on failure.
 * Returns SB_EAGAIN when the queue is full or the store is closing (the
 * record is dropped and counted in store_dropped()), SB_EINVAL if st or
 * rec is NULL or rec->request_id or rec->api is NULL (NOT NULL columns;
 * not counted).
 */
int store_usage_submit(struct store *st, struct store_usage *rec);

/** Free a record and its strings. */
void store_usage_free(struct store_usage *rec);

/** A stored Responses API response (table `responses`). */
struct store_response {
  char *id;
  int64_t created_at; /* unix seconds */
  char *model;
  char *previous_response_id; /* may be NULL */
  char *response;             /* JSON of the response object */
  char *input_items;          /* JSON array: this turn's input items */
  char *context;              /* JSON array: the conversation as chat
                               * messages, this response's output included */
  char *key_id;               /* the gateway key that created it; NULL: none */
};

void store_response_free(struct store_response *r);

/**
 * Queue a response for the writer (same queue, same order as usage
 * records; never blocks on the disk). Takes ownership of rec, even on
 * failure. SB_EAGAIN when the queue is full or closing, SB_EINVAL when a
 * NOT NULL field is missing.
 */
int store_response_put(struct store *st, struct store_response *rec);

/** Queue the deletion of a response (a no-op if there is none). */
int store_response_delete(struct store *st, const char *id);

/**
 * Read a response. BLOCKING (it may wait for the disk): call it from a
 * thread pool, never from an event-loop thread. It sees every put and
 * delete submitted before it, written yet or not. Returns SB_OK with
 * *out (caller frees with store_response_free), SB_ENOTFOUND, or SB_EDB.
 * Any thread.
 */
int store_response_get(struct store *st, const char *id,
                       struct store_response **out);

/**
 * Read one output item of a stored response by its id (msg_…, fc_…):
 * BLOCKING, like store_response_get(), and as fresh. Returns SB_OK with
 * *item (its JSON) and *key_id (the owning response's key, or NULL),
 * both for the caller to free; SB_ENOTFOUND; or SB_EDB.
 */
int store_response_item_get(struct store *st, const char *id, char **item,
                            char **key_id);

/**
 * The read barrier: BLOCK until the writer is done with every write
 * submitted (by any thread) before this call began, committed or dropped
 * (a failed batch counts as done). A read made after it sees them all:
 * read-your-writes for readers of their own connections, whatever the
 * kind of the write. Call it from a thread pool, never from an
 * event-loop thread. SB_OK; SB_EAGAIN when the writer has not got there
 * within 15 s (a stalled disk); SB_EINVAL for st NULL. Any thread.
 */
int store_sync(struct store *st);

/**
 * Non-blocking health: 1 if the writer's last check of the database
 * (a batch commit, or the read of schema_migrations it makes every
 * second while idle) succeeded, else 0.
 */
int store_ready(struct store *st);

/**
 * Records dropped: refused with SB_EAGAIN by store_usage_submit() or any
 * other queued write (responses, store/mcp.h's sessions and calls), plus
 * those of write transactions that failed (a failed batch is rolled back
 * and not retried).
 */
uint64_t store_dropped(struct store *st);

/**
 * Stop accepting records, write every queued one, stop the writer and
 * close the database. Safe on NULL.
 */
void store_close(struct store *st);

#endif
