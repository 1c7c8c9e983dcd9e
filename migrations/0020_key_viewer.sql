-- A third key role, 'viewer': a read-only operator credential (the admin
-- API's reads and the dashboard, no writes, no /v1; store/keys.h). SQLite
-- cannot change a CHECK constraint in place, so the table is rebuilt with
-- the same columns, rows and triggers (the rows are the same, so the
-- version counter is left alone: nothing to reload).
CREATE TABLE api_keys_new (
  id            TEXT    PRIMARY KEY,
  name          TEXT    NOT NULL UNIQUE,
  prefix        TEXT    NOT NULL,
  hash          BLOB    NOT NULL UNIQUE,
  role          TEXT    NOT NULL CHECK(role IN ('gateway', 'admin', 'viewer')),
  models        TEXT,
  rpm           INTEGER NOT NULL DEFAULT 0,
  tpm           INTEGER NOT NULL DEFAULT 0,
  max_parallel  INTEGER NOT NULL DEFAULT 0,
  budget_usd    REAL,
  budget_period TEXT    CHECK(budget_period IN ('daily', 'weekly', 'monthly',
                                                'total')),
  expires_at    INTEGER,
  tags          TEXT,
  created_at    INTEGER NOT NULL,
  revoked_at    INTEGER,
  mcp_tools     TEXT,
  context_summary_model TEXT
);
INSERT INTO api_keys_new(id, name, prefix, hash, role, models, rpm, tpm,
                         max_parallel, budget_usd, budget_period, expires_at,
                         tags, created_at, revoked_at, mcp_tools,
                         context_summary_model)
  SELECT id, name, prefix, hash, role, models, rpm, tpm, max_parallel,
         budget_usd, budget_period, expires_at, tags, created_at, revoked_at,
         mcp_tools, context_summary_model
  FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;

CREATE TRIGGER api_keys_version_insert AFTER INSERT ON api_keys
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'api_keys';
END;
CREATE TRIGGER api_keys_version_update AFTER UPDATE ON api_keys
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'api_keys';
END;
CREATE TRIGGER api_keys_version_delete AFTER DELETE ON api_keys
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'api_keys';
END;
