-- The MCP gateway (issue 12).
--
-- mcp_servers: the federated upstream MCP servers, named definitions like
-- providers (migrations/0007_providers.sql): the definition is the
-- object a config file's "mcp_servers" entry holds (config/mcp_server.h),
-- without its name. Credentials are never stored: headers and env name
-- the environment variables that hold them ("${VAR}").
CREATE TABLE mcp_servers (
  name       TEXT PRIMARY KEY,
  definition TEXT NOT NULL,
  source     TEXT NOT NULL DEFAULT 'api' CHECK (source IN ('config', 'api')),
  updated_at INTEGER NOT NULL
);
INSERT INTO versions(name, version) VALUES('mcp_servers', 0);
CREATE TRIGGER mcp_servers_version_insert AFTER INSERT ON mcp_servers
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'mcp_servers';
END;
CREATE TRIGGER mcp_servers_version_update AFTER UPDATE ON mcp_servers
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'mcp_servers';
END;
CREATE TRIGGER mcp_servers_version_delete AFTER DELETE ON mcp_servers
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'mcp_servers';
END;

-- Client sessions of /mcp and /mcp/<server> (store/mcp.h), kept so that
-- a session survives a gateway restart. scope: '' for /mcp, else the
-- server's name. Times are unix milliseconds.
CREATE TABLE mcp_sessions (
  id               TEXT PRIMARY KEY,
  key_id           TEXT,
  scope            TEXT NOT NULL DEFAULT '',
  protocol_version TEXT NOT NULL,
  client_info      TEXT,           -- JSON object, or NULL
  capabilities     TEXT,           -- JSON object, or NULL
  log_level        TEXT,
  created_ms       INTEGER NOT NULL,
  last_seen_ms     INTEGER NOT NULL
);
CREATE INDEX mcp_sessions_last_seen ON mcp_sessions(last_seen_ms);

-- One row per tools/call (store/mcp.h, STORE_MCP_* outcomes).
CREATE TABLE mcp_calls (
  id             INTEGER PRIMARY KEY,
  ts_ms          INTEGER NOT NULL,
  request_id     TEXT,
  session_id     TEXT,
  key_id         TEXT,
  server         TEXT NOT NULL,
  tool           TEXT NOT NULL,
  outcome        TEXT NOT NULL,
  error          TEXT,
  duration_ms    INTEGER NOT NULL DEFAULT 0,
  request_bytes  INTEGER NOT NULL DEFAULT 0,
  response_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX mcp_calls_ts ON mcp_calls(ts_ms);
CREATE INDEX mcp_calls_key_ts ON mcp_calls(key_id, ts_ms);

-- A key's MCP tool globs: a JSON array of strings; NULL: any tool, []:
-- none (api_keys' version trigger fires on its updates like the others).
ALTER TABLE api_keys ADD COLUMN mcp_tools TEXT;
