-- The request records' (key_id, ts_ms, cost_usd) index served a key's
-- spend in its budget period; every period starts at a UTC midnight, and
-- the spend is read from usage_daily since schema 19 (store_key_spend), so
-- nothing reads it: it only cost every record one more index update.
-- requests_key (key_id, ts_ms) still serves the request log by key.
DROP INDEX IF EXISTS requests_key_cost;
