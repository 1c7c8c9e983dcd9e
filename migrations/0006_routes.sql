-- Routing policies: "model": "<name>" picks a route, whose definition
-- (JSON: strategy, targets, retries; see router/routes.h) is kept as
-- written. A config file's routes are inserted at start when absent.
CREATE TABLE routes (
  name       TEXT PRIMARY KEY,
  definition TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
INSERT INTO versions(name, version) VALUES('routes', 0);
CREATE TRIGGER routes_version_insert AFTER INSERT ON routes
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'routes';
END;
CREATE TRIGGER routes_version_update AFTER UPDATE ON routes
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'routes';
END;
CREATE TRIGGER routes_version_delete AFTER DELETE ON routes
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'routes';
END;

-- Which route served a request and how many attempts it took
-- (1 without a route); attempts_detail lists them as JSON
-- [{"provider","model","status","ms"}].
ALTER TABLE requests ADD COLUMN route TEXT;
ALTER TABLE requests ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE requests ADD COLUMN attempts_detail TEXT;
