-- The response cache (gateway/cache.c, docs/cache.md). Its entries live
-- in a SQLite file of their own; the main database keeps the policy of
-- each key and what the cache did for each request.

-- A key's cache policy as JSON (router/cache_policy.h: enabled, ttl_s,
-- max_entry_bytes, scope "key"); NULL: the configuration's and the
-- route's decide.
ALTER TABLE api_keys ADD COLUMN cache TEXT;

-- What the cache did: 'hit' (answered from an entry), 'coalesced'
-- (answered by an identical request in flight), 'miss' (asked the
-- upstream and stored the answer) or 'bypass' (cacheable but not looked
-- up: Cache-Control, or too large to store); NULL: the cache was off for
-- the request. saved_usd: what a hit or a coalesced answer would have
-- cost upstream (its cost_usd is 0).
ALTER TABLE requests ADD COLUMN cache TEXT;
ALTER TABLE requests ADD COLUMN saved_usd REAL;
CREATE INDEX requests_cache ON requests(cache, ts_ms) WHERE cache IS NOT NULL;
