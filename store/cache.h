/*
 * cache.h - the response cache's entries.
 *
 * Entries live in a SQLite file of their own (the gateway's database path
 * plus ".cache" unless configured), so the request log's writer never
 * waits for them, and are indexed in memory: a lookup is a hash probe
 * under a mutex, never a disk read, and a miss costs nothing else. The
 * most recently used answers are also held in memory (mem_bytes of
 * them), and a hit on one gets its copy with the lookup itself
 * (store_cache_lookup_data()); any other hit's answer is read with
 * store_cache_read() on the thread pool, and then held. Puts
 * go through a bounded queue to the cache's own writer thread, which
 * also deletes expired entries and, while the entries' bytes pass
 * max_bytes, the least recently used ones (every sweep_ms, and at once
 * after a put that passes max_bytes).
 *
 * An entry is opaque bytes to this module (the gateway stores a
 * chat.completion document, or an embeddings answer), with the scope it
 * belongs to (a gateway key id, or a route's shared scope: what
 * store_cache_purge() selects by), its expiry, its size and the upstream
 * cost it saves on each hit.
 *
 * Another process (the CLI's `switchboard cache purge`) may purge the
 * same file: it bumps a generation number in the file, and a running
 * gateway's writer notices it on its next sweep and reloads its index,
 * so purged entries stop hitting within sweep_ms (a hit on a row already
 * gone reads SB_ENOTFOUND and is served as a miss).
 *
 * Thread safety: every function may be called from any thread, except
 * store_cache_open() and store_cache_close() (one owner).
 */
#ifndef SB_STORE_CACHE_H
#define SB_STORE_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* The key's length: codec/cache_key.h's CACHE_KEY_LEN (store/ sits below
 * codec/ in no order, so the value is repeated and checked there with a
 * static assertion). */
#define STORE_CACHE_KEY_LEN 32
/* The longest scope, in bytes. */
#define STORE_CACHE_SCOPE_MAX 160

struct store_cache;

struct store_cache_options {
  int64_t max_bytes; /* all entries' data; LRU eviction beyond it; > 0 */
  int sweep_ms;      /* expiry and eviction pass, and the purge watch */
  int queue_max;     /* puts waiting for the writer; beyond: dropped */
  int64_t mem_bytes; /* entries' data also held in memory, the most
                      * recently used first; 0: none, every hit reads
                      * the file */
};

/** What the index knows of an entry (no answer bytes). */
struct store_cache_meta {
  int64_t expires_ms; /* unix ms */
  int64_t bytes;      /* the data's length */
  double cost_usd;    /* what the stored answer cost upstream; < 0 unknown */
};

/** Open (creating, with its schema) the cache file at path and load the
 * index of its unexpired entries. BLOCKING: start-up or the CLI. 0,
 * SB_EINVAL (no path, or opt's values out of range: max_bytes, sweep_ms
 * and queue_max must be > 0), SB_EDB or SB_EIO, with err. The writer
 * thread runs from here to close. */
int store_cache_open(const char *path, const struct store_cache_options *opt,
                     struct store_cache **out, char *err, size_t errlen);

/** Write what is queued, stop the writer and close. NULL is a no-op. */
void store_cache_close(struct store_cache *c);

/** The entry under key, if any and not expired at now_ms: 1 with *meta
 * (may be NULL), and it becomes the most recently used (now_ms is its
 * time of use, written to the file on the writer's next sweep); else 0.
 * Counts a hit or a miss in the stats. Never touches the disk. */
int store_cache_lookup(struct store_cache *c,
                       const unsigned char key[STORE_CACHE_KEY_LEN],
                       int64_t now_ms, struct store_cache_meta *meta);

/** store_cache_lookup(), and when the entry's data is held in memory, a
 * copy of it in *data (caller frees; NUL-terminated, *len bytes), so that
 * the hit needs no store_cache_read(); else *data is NULL. Never touches
 * the disk. */
int store_cache_lookup_data(struct store_cache *c,
                            const unsigned char key[STORE_CACHE_KEY_LEN],
                            int64_t now_ms, struct store_cache_meta *meta,
                            char **data, size_t *len);

/** The stored data of key (caller frees *data; *len its length; data is
 * also NUL-terminated). BLOCKING: the thread pool. 0, SB_ENOTFOUND
 * (expired, evicted or purged since the lookup: the index forgets it),
 * or SB_EDB. */
int store_cache_read(struct store_cache *c,
                     const unsigned char key[STORE_CACHE_KEY_LEN], char **data,
                     size_t *len);

/** Store data (len bytes, copied) under key for scope (1 to
 * STORE_CACHE_SCOPE_MAX bytes), replacing any entry under key. The
 * index holds it at once (a lookup right after hits); the row is written
 * by the writer. Never touches the disk. 0, SB_EINVAL (bad scope),
 * SB_ETOOBIG (len alone passes max_bytes), or SB_EAGAIN when the queue
 * is full (the entry is dropped, and any older entry under key stays: a
 * cache may forget). meta->bytes is ignored (len is the size). */
int store_cache_put(struct store_cache *c,
                    const unsigned char key[STORE_CACHE_KEY_LEN],
                    const char *scope, const char *data, size_t len,
                    const struct store_cache_meta *meta);

/** Delete every entry, or those of scope when not NULL, from the file
 * and the index, and bump the file's generation so that other processes
 * holding it reload. Waits for queued puts first. BLOCKING. The number
 * deleted, or SB_EDB. */
int64_t store_cache_purge(struct store_cache *c, const char *scope);

/** Counts since open (for /metrics, /admin/v1/cache and the CLI).
 * purged counts the rows this instance's purges deleted. */
struct store_cache_stats {
  int64_t entries, bytes;           /* now, in the index */
  int64_t hits, misses;             /* store_cache_lookup() results */
  int64_t puts, dropped;            /* entries stored; puts refused */
  int64_t expired, evicted, purged; /* entries removed, by cause */
  int64_t max_bytes;
  int64_t mem_bytes; /* now: data held in memory */
  int64_t mem_hits;  /* hits whose data was in memory */
};
void store_cache_stats(struct store_cache *c, struct store_cache_stats *out);

#endif
