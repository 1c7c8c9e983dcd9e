-- Gateway API keys and admin keys (store/keys.h). A secret is never
-- stored: only its SHA-256 (hash) and a display prefix. Times are unix
-- seconds.
CREATE TABLE api_keys (
  id            TEXT    PRIMARY KEY,           -- key_ + 16 hex digits
  name          TEXT    NOT NULL UNIQUE,
  prefix        TEXT    NOT NULL,              -- start of the secret, for display
  hash          BLOB    NOT NULL UNIQUE,       -- SHA-256 of the secret
  role          TEXT    NOT NULL CHECK(role IN ('gateway', 'admin')),
  models        TEXT,                          -- JSON array of globs; NULL: any
  rpm           INTEGER NOT NULL DEFAULT 0,    -- 0: unlimited
  tpm           INTEGER NOT NULL DEFAULT 0,
  max_parallel  INTEGER NOT NULL DEFAULT 0,
  budget_usd    REAL,                          -- NULL: no budget
  budget_period TEXT    CHECK(budget_period IN ('daily', 'weekly', 'monthly',
                                                'total')),
  expires_at    INTEGER,                       -- NULL: never
  tags          TEXT,                          -- JSON array of strings, or NULL
  created_at    INTEGER NOT NULL,
  revoked_at    INTEGER                        -- NULL: active
);

-- Generation counters. A running gateway polls api_keys' to reload its
-- keys when another process (the CLI) changed them; PRAGMA data_version
-- would also move with every request record written.
CREATE TABLE versions (
  name    TEXT    PRIMARY KEY,
  version INTEGER NOT NULL
);
INSERT INTO versions(name, version) VALUES('api_keys', 0);

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
