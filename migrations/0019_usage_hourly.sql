-- Hourly roll-ups next to the daily ones, and both kept by the store's
-- writer (store/rollup.c) instead of a trigger: the writer sums each batch
-- of records in memory and adds the sums to one row per group, in the
-- same transaction as the records, so the roll-ups still agree with the
-- log to the last committed record while a batch of 500 records costs a
-- handful of upserts instead of 500.
DROP TRIGGER requests_usage_daily;

-- The time spent waiting on upstream transfers (microseconds, summed over
-- attempts; NULL: no upstream was asked). latency minus this is the
-- gateway's own time.
ALTER TABLE requests ADD COLUMN upstream_us INTEGER;

-- hour: unix seconds at the start of the hour (UTC). '' stands for
-- "none" as in usage_daily; route is the route that served the request.
-- latency_hist and overhead_hist: latency and the gateway's own time in
-- microseconds as histograms (store/rollup.h; NULL: none recorded), from
-- which percentiles over any set of rows are read; overhead counts only
-- requests that reached an upstream.
CREATE TABLE usage_hourly (
  hour              INTEGER NOT NULL,
  key_id            TEXT    NOT NULL,
  provider          TEXT    NOT NULL,
  upstream_model    TEXT    NOT NULL,
  model             TEXT    NOT NULL,
  route             TEXT    NOT NULL,
  requests          INTEGER NOT NULL,
  errors            INTEGER NOT NULL,
  prompt_tokens     INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cached_tokens     INTEGER NOT NULL,
  reasoning_tokens  INTEGER NOT NULL,
  cost_usd          REAL    NOT NULL,
  unpriced          INTEGER NOT NULL,
  latency_hist      BLOB,
  overhead_hist     BLOB,
  PRIMARY KEY (hour, key_id, provider, upstream_model, model, route)
) WITHOUT ROWID;

-- The daily roll-ups take the same shape (a route, the histograms), so
-- that a month's chart reads a row per day and group rather than 24.
CREATE TABLE usage_daily_new (
  day               TEXT    NOT NULL,  -- YYYY-MM-DD, UTC
  key_id            TEXT    NOT NULL,
  provider          TEXT    NOT NULL,
  upstream_model    TEXT    NOT NULL,
  model             TEXT    NOT NULL,
  route             TEXT    NOT NULL,
  requests          INTEGER NOT NULL,
  errors            INTEGER NOT NULL,
  prompt_tokens     INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cached_tokens     INTEGER NOT NULL,
  reasoning_tokens  INTEGER NOT NULL,
  cost_usd          REAL    NOT NULL,
  unpriced          INTEGER NOT NULL,
  latency_hist      BLOB,
  overhead_hist     BLOB,
  PRIMARY KEY (day, key_id, provider, upstream_model, model, route)
) WITHOUT ROWID;
INSERT INTO usage_daily_new
SELECT day, key_id, provider, upstream_model, model, '', requests, errors,
       prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens,
       cost_usd, unpriced, NULL, NULL
FROM usage_daily;
DROP TABLE usage_daily;
ALTER TABLE usage_daily_new RENAME TO usage_daily;

-- What was recorded before this migration (without histograms: the
-- records before it did not measure the upstream's share). Days the
-- retention job already took from the log stay in usage_daily only.
INSERT INTO usage_hourly
SELECT ts_ms / 3600000 * 3600, coalesce(key_id, ''), coalesce(provider, ''),
       coalesce(upstream_model, ''), coalesce(model, ''), coalesce(route, ''),
       count(*), total(status >= 400), total(prompt_tokens),
       total(completion_tokens), total(cached_tokens), total(reasoning_tokens),
       total(cost_usd), total(unpriced), NULL, NULL
FROM requests GROUP BY 1, 2, 3, 4, 5, 6;

-- Request and response bodies, when body logging is on (logging.bodies;
-- off by default), each cut at logging.body_max_bytes. request_headers is
-- a JSON object with credentials replaced by "[redacted]". id is the
-- record's (requests.id; request ids come from clients and may repeat).
-- Deleted with their record by the retention job.
CREATE TABLE request_bodies (
  id                 INTEGER PRIMARY KEY,
  ts_ms              INTEGER NOT NULL,
  request_headers    TEXT,
  request            TEXT,
  response           TEXT,
  request_truncated  INTEGER NOT NULL DEFAULT 0,
  response_truncated INTEGER NOT NULL DEFAULT 0
);
