-- One row per request the gateway answered, written by the store's single
-- writer thread. Times are milliseconds; token counts are NULL when the
-- upstream did not report them.
CREATE TABLE requests (
  id                INTEGER PRIMARY KEY,
  ts_ms             INTEGER NOT NULL,          -- request start, unix ms
  request_id        TEXT    NOT NULL,
  api               TEXT    NOT NULL,          -- inbound API: chat, models, ...
  model             TEXT,                      -- as the client asked
  provider          TEXT,                      -- provider instance name
  upstream_model    TEXT,
  stream            INTEGER NOT NULL DEFAULT 0,
  status            INTEGER NOT NULL,          -- HTTP status sent to client
  error_type        TEXT,                      -- OpenAI error type, if any
  prompt_tokens     INTEGER,
  completion_tokens INTEGER,
  ttfb_ms           INTEGER,                   -- to first byte sent
  latency_ms        INTEGER NOT NULL
);
CREATE INDEX requests_ts ON requests(ts_ms);
CREATE INDEX requests_request_id ON requests(request_id);
