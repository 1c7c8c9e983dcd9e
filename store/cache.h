/*
 * cache.h - the response cache's entries (issue 16; a contract, work in
 * progress: nothing implements it yet).
 *
 * Entries live in a SQLite file of their own (<database>.cache), so the
 * request log's writer never waits for them, and are indexed in memory:
 * a lookup is a hash probe under a mutex, never a disk read, and a miss
 * costs nothing else. A hit's answer is read on the thread pool
 * (store_cache_read()); writes go through a queue to the cache's own
 * writer thread, like the request records. A background pass evicts by
 * TTL and, beyond max_bytes, least recently used first.
 *
 * An entry holds the canonical answer as the sequence of canonical events
 * (codec/canon.h) a stream of it would carry, serialized, plus its usage
 * and cost: replayed through the client's own renderer it is a stream or
 * a whole answer in Chat Completions, Responses or Messages form, so an
 * answer stored from a stream serves a request that is not streamed and
 * the other way round.
 */
#ifndef SB_STORE_CACHE_H
#define SB_STORE_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* The key's length: codec/cache_key.h's CACHE_KEY_LEN (store/ sits below
 * codec/, so the value is repeated and checked there with a static
 * assertion). */
#define STORE_CACHE_KEY_LEN 32

struct store_cache;

struct store_cache_options {
  int64_t max_bytes;       /* all entries; evicted LRU beyond it */
  int64_t max_entry_bytes; /* one entry; larger answers are not stored */
  int sweep_s;             /* how often expired entries are deleted */
};

/** What the index knows of an entry (no answer bytes). */
struct store_cache_meta {
  int64_t expires_ms; /* unix ms */
  int64_t bytes;
  double cost_usd;    /* what the stored answer cost upstream; < 0 unknown */
};

/** Open (creating) path and load the index. BLOCKING: at start only.
 * 0, or SB_EDB with err. */
int store_cache_open(const char *path, const struct store_cache_options *opt,
                     struct store_cache **out, char *err, size_t errlen);

/** Stop the writer (queued entries are written) and close. */
void store_cache_close(struct store_cache *c);

/** The entry under key, if any and not expired: 1 with *meta, else 0.
 * Marks it recently used. Never blocks on the disk; any thread. */
int store_cache_lookup(struct store_cache *c,
                       const unsigned char key[STORE_CACHE_KEY_LEN],
                       int64_t now_ms, struct store_cache_meta *meta);

/** The stored answer of key (caller frees *events, a JSON array of
 * canonical events). BLOCKING: the thread pool. 0, SB_ENOTFOUND (evicted
 * since the lookup), or SB_EDB. */
int store_cache_read(struct store_cache *c,
                     const unsigned char key[STORE_CACHE_KEY_LEN], char **events,
                     size_t *len);

/** Queue an entry (events taken) for the writer, under scope (the key
 * id, or a route's shared scope: what store_cache_purge() selects by);
 * the index holds it at once. Never blocks on the disk. SB_EAGAIN when the queue is full (the
 * entry is dropped: a cache may forget). */
int store_cache_put(struct store_cache *c,
                    const unsigned char key[STORE_CACHE_KEY_LEN],
                    const char *scope, char *events, size_t len,
                    const struct store_cache_meta *meta);

/** Delete every entry (or those of scope, a key id, when not NULL).
 * Returns how many went. BLOCKING. */
int64_t store_cache_purge(struct store_cache *c, const char *scope);

/** Entries, bytes, hits, misses, since open (for /metrics and
 * /admin/v1/cache). Any thread. */
struct store_cache_stats {
  int64_t entries, bytes, hits, misses, evicted;
};
void store_cache_stats(struct store_cache *c, struct store_cache_stats *out);

#endif
