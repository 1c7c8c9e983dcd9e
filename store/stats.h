/*
 * stats.h - the dashboard's time series: usage, errors, latency and the
 * gateway's own time per minute, hour or day, optionally per model, key,
 * provider or route, with totals and the top models, keys and
 * providers (GET /admin/v1/stats, docs/reference.md).
 *
 * Hour and day buckets read the hourly and daily roll-ups only
 * (store/rollup.h), so a month of a million records answers from a few
 * thousand rows; minute buckets read the records, and are refused over
 * more than STORE_STATS_MINUTE_MAX_MS. BLOCKING: a thread pool or the CLI.
 */
#ifndef SB_STORE_STATS_H
#define SB_STORE_STATS_H

#include "store/usage.h"

#include <cjson/cJSON.h>
#include <stddef.h>

#define STORE_STATS_MINUTE_MAX_MS (6 * 3600 * INT64_C(1000))

/**
 * The series of f (key, model, provider, route, since_ms, until_ms; both
 * times required) in buckets of bucket ("minute", "hour" or "day"), per
 * group ("none", "model", "key", "provider" or "route"), with the top
 * `top` (1..100) models, keys and providers. *out (caller frees):
 * {"object":"stats","since","until" (unix s),"bucket","bucket_s","group",
 *  "totals":{…},"series":[{"t",["group","key_name"],…}],"top":{…}}; only
 * buckets with records appear in series; percentiles are null when there
 * is nothing to measure. Hour and day buckets count whole hours or days:
 * since is taken back to the start of its bucket, until on to the end
 * of its. 0, SB_EINVAL (err says which argument), or
 * SB_EDB.
 */
int store_stats_query(const char *path, const struct store_usage_filter *f,
                      const char *bucket, const char *group, int top,
                      cJSON **out, char *err, size_t errlen);

#endif
