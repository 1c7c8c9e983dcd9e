-- Provider instances live in the database, like routes: name, the
-- definition (JSON, the same object a config file's "providers" entry
-- holds, without its name) and who owns the row. Credentials are never
-- stored: a definition names the environment variable that holds them.
--
-- source: 'config' rows follow the config file at every start (added,
-- changed, removed with it); 'api' rows were written through the admin
-- API or the CLI and win over the file.
CREATE TABLE providers (
  name       TEXT PRIMARY KEY,
  definition TEXT NOT NULL,
  source     TEXT NOT NULL DEFAULT 'api' CHECK (source IN ('config', 'api')),
  updated_at INTEGER NOT NULL
);
INSERT INTO versions(name, version) VALUES('providers', 0);
CREATE TRIGGER providers_version_insert AFTER INSERT ON providers
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'providers';
END;
CREATE TRIGGER providers_version_update AFTER UPDATE ON providers
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'providers';
END;
CREATE TRIGGER providers_version_delete AFTER DELETE ON providers
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'providers';
END;

-- Routes get the same ownership rule. Rows seeded before this migration
-- were only ever inserted when absent, so the database already won:
-- they stay 'api'.
ALTER TABLE routes ADD COLUMN source TEXT NOT NULL DEFAULT 'api'
  CHECK (source IN ('config', 'api'));
