-- Daily roll-ups of the request records per key, provider and model,
-- kept by a trigger in the same transaction as each record, so they
-- always agree with the log. Usage queries over whole days read these
-- (days x keys x models rows) instead of every record. '' stands for
-- "none" (no key, no provider), so that the key is a plain primary key.
CREATE TABLE usage_daily (
  day               TEXT    NOT NULL,  -- YYYY-MM-DD, UTC
  key_id            TEXT    NOT NULL,
  provider          TEXT    NOT NULL,
  upstream_model    TEXT    NOT NULL,
  model             TEXT    NOT NULL,  -- as the client asked
  requests          INTEGER NOT NULL,
  errors            INTEGER NOT NULL,
  prompt_tokens     INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cached_tokens     INTEGER NOT NULL,
  reasoning_tokens  INTEGER NOT NULL,
  cost_usd          REAL    NOT NULL,
  unpriced          INTEGER NOT NULL,
  PRIMARY KEY (day, key_id, provider, upstream_model, model)
) WITHOUT ROWID;

CREATE TRIGGER requests_usage_daily AFTER INSERT ON requests
BEGIN
  INSERT INTO usage_daily VALUES (
    strftime('%Y-%m-%d', NEW.ts_ms / 1000, 'unixepoch'),
    coalesce(NEW.key_id, ''), coalesce(NEW.provider, ''),
    coalesce(NEW.upstream_model, ''), coalesce(NEW.model, ''),
    1, NEW.status >= 400, coalesce(NEW.prompt_tokens, 0),
    coalesce(NEW.completion_tokens, 0), coalesce(NEW.cached_tokens, 0),
    coalesce(NEW.reasoning_tokens, 0), coalesce(NEW.cost_usd, 0),
    coalesce(NEW.unpriced, 0))
  ON CONFLICT DO UPDATE SET
    requests = requests + 1,
    errors = errors + excluded.errors,
    prompt_tokens = prompt_tokens + excluded.prompt_tokens,
    completion_tokens = completion_tokens + excluded.completion_tokens,
    cached_tokens = cached_tokens + excluded.cached_tokens,
    reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
    cost_usd = cost_usd + excluded.cost_usd,
    unpriced = unpriced + excluded.unpriced;
END;

-- What was recorded before this migration.
INSERT INTO usage_daily
SELECT strftime('%Y-%m-%d', ts_ms / 1000, 'unixepoch'), coalesce(key_id, ''),
       coalesce(provider, ''), coalesce(upstream_model, ''),
       coalesce(model, ''), count(*), total(status >= 400),
       total(prompt_tokens), total(completion_tokens), total(cached_tokens),
       total(reasoning_tokens), total(cost_usd), total(unpriced)
FROM requests GROUP BY 1, 2, 3, 4, 5;
