/*
 * usage.h - queries over the request records: usage and cost totals and
 * daily roll-ups, the request log, CSV.
 *
 * A query over whole days (since and until at 00:00 UTC, or open) reads
 * the daily roll-ups (table usage_daily, kept by a trigger in the same
 * transaction as each record, so it agrees with the log to the last
 * committed record); a range with a time of day reads the records.
 * BLOCKING like store/keys.h: the CLI, or a thread pool.
 */
#ifndef SB_STORE_USAGE_H
#define SB_STORE_USAGE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/** Which records: every field may be NULL / 0 for "any". */
struct store_usage_filter {
  const char *key; /* key id or key name */
  const char *model;
  const char *provider;
  const char *route;
  const char *api;  /* the request log only: "chat", "messages", … */
  int status_min;   /* the request log only: status in [min, max]; */
  int status_max;   /* both 0: any */
  int64_t since_ms; /* inclusive */
  int64_t until_ms; /* exclusive; 0: now */
};

/**
 * Totals and a series grouped by group: "day", "key", "model", "provider"
 * or "route" (NULL: "day"). *out: {"object":"usage","group":…,
 * "totals":{requests, errors, prompt_tokens, completion_tokens,
 * cached_tokens, reasoning_tokens, cost_usd, unpriced_requests},
 * "series":[{<group>: value, …the same fields}]} (caller frees).
 * Returns 0, SB_EINVAL (bad group), or SB_EDB with err.
 */
int store_usage_query(const char *path, const struct store_usage_filter *f,
                      const char *group, cJSON **out, char *err, size_t errlen);

/**
 * The request log, newest first (by start time, then id): at most limit
 * (1..1000) records after record before_id in that order (0: from the
 * newest). With after_id > 0 instead, the records added to the log after
 * it, oldest first (a live tail's next poll).
 * *out: {"object":"list", "data":[record…], "has_more", "next_before_id"}
 * (caller frees).
 */
int store_requests_page(const char *path, const struct store_usage_filter *f,
                        int limit, int64_t before_id, int64_t after_id,
                        cJSON **out, char *err, size_t errlen);

/**
 * One record by row id with what the log lists plus "attempts" (the
 * route's attempts, parsed) and "body" (the logged headers and bodies, or
 * null). *out: caller frees. 0, SB_ENOTFOUND, or SB_EDB.
 */
int store_request_get(const char *path, int64_t id, cJSON **out, char *err,
                      size_t errlen);

/** What the response cache did for the requests recorded in a range. */
struct store_cache_usage {
  int64_t hits, coalesced, misses, bypassed;
  double saved_usd; /* upstream cost the hits and coalesced answers saved */
};

/** The cache's results over [since_ms, until_ms). 0, or SB_EDB with
 * err. */
int store_cache_usage(const char *path, int64_t since_ms, int64_t until_ms,
                      struct store_cache_usage *out, char *err, size_t errlen);

/** A usage series as CSV (a header line, then one line a row; fields
 * quoted as RFC 4180 wants). Caller frees. */
char *store_usage_csv(const cJSON *usage);

#endif
