/*
 * cache.h - the response cache on a request's path (docs/cache.md).
 *
 * A request of Chat Completions, Responses (not stored, not continuing),
 * Messages or embeddings whose policy (router/cache_policy.h: the
 * configuration's, its route's, its key's) turns the cache on gets a key
 * (codec/cache_key.h) over its API, its resolved target, its scope (its
 * gateway key, or a route's shared scope) and its body without the
 * fields that cannot change the answer. Then, in chat_serve():
 *
 *   hit        the entry (store/cache.h) is read on the thread pool and
 *              replayed through the client's own renderer, a stream or a
 *              whole answer whichever way it was stored;
 *   coalesced  an identical request is in flight (on any worker): this
 *              one waits for it and gets its answer, a stream's events as
 *              they arrive; if it fails before any byte reached this
 *              client, this one goes on by itself;
 *   miss       the request goes upstream through the canonical model, and
 *              its complete answer (never a partial one) is stored;
 *   bypass     Cache-Control said no-store, or the request is not
 *              cacheable (or the cache is off for it).
 *
 * Every answer of those four APIs says which in x-switchboard-cache; the
 * request record keeps it (NULL when the cache was off) with the cost a
 * hit saved.
 *
 * Threads: struct gw_cache is shared (its flights under one mutex); a
 * struct cache_worker belongs to one worker's loop, which it wakes when a
 * flight one of its requests waits on moves.
 */
#ifndef SB_GATEWAY_CACHE_H
#define SB_GATEWAY_CACHE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct req;
struct gw;
struct config;
struct gw_cache;
struct cache_worker;
struct buf;

/* Response and request headers. */
#define CACHE_HEADER     "x-switchboard-cache"
#define CACHE_TTL_HEADER "x-switchboard-cache-ttl"

/** Open the entries' file (cfg->cache.path, or the database's path plus
 * ".cache") and the flight table. BLOCKING: start-up. 0, or an SB_E*
 * code with err. */
int gw_cache_open(const struct config *cfg, struct gw_cache **out, char *err,
                  size_t errlen);

/** After every worker stopped. NULL is a no-op. */
void gw_cache_close(struct gw_cache *c);

/** This worker's side, on loop; NULL when c is NULL. */
struct cache_worker *cache_worker_open(struct gw_cache *c, uv_loop_t *loop);

/** After the worker's requests are gone (its lws context destroyed). */
void cache_worker_close(struct cache_worker *cw);

/**
 * Decide r's cache (chat_route(), once r is routed and admitted to its
 * model, before its budget is held): the policy, the key and the index
 * probe. body is the inbound API's body as the client sent it. Sets
 * r->cache, or leaves it NULL when the cache is off for r. 0, or
 * SB_EANSWERED after a 400 for a bad x-switchboard-cache-ttl.
 */
int cache_decide(struct req *r, const cJSON *body);

/** 1 when r will be answered from an entry and the configuration lets a
 * hit skip its key's budget hold (cache.hold_budget false). */
int cache_skip_hold(const struct req *r);

/**
 * chat_serve(), with r's inbound hooks in place and body the canonical
 * request: 1 when the cache answers r (an entry being read, or a flight
 * joined); 0 when r goes upstream, its answer captured for the cache if
 * it is to be stored. For embeddings (embeddings_handle), body is the
 * request as sent.
 */
int cache_serve(struct req *r, const cJSON *body);

/** r's whole JSON answer (status 200) is about to be sent: an
 * embeddings answer is stored here. */
void cache_on_json(struct req *r, int status, const char *json, size_t len);

/** The client drained r's output: a waiter paused for it goes on. */
void cache_drained(struct req *r);

/** r is being destroyed (chat_release): a flight it leads and did not
 * complete fails (its waiters go on by themselves); one it waits on is
 * left. */
void cache_release(struct req *r);

/** After r's cost is known: a hit or a coalesced answer costs nothing
 * and saved what it would have cost (r->saved_usd). */
void cache_settle(struct req *r);

/** The "cache" object of GET /admin/v1/cache and /metrics' counts: the
 * entries, hits, misses, coalesced, bypasses, bytes served. NULL c: the
 * cache is not open. */
cJSON *gw_cache_stats_json(struct gw_cache *c);
void gw_cache_metrics(struct gw_cache *c, struct buf *out);

/** Delete every entry, or scope's (a key id). BLOCKING. The number
 * deleted, or SB_EDB. */
int64_t gw_cache_purge(struct gw_cache *c, const char *scope);

#endif
