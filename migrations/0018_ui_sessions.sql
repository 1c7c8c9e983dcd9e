-- Sign-in sessions of the web dashboard (gateway/ui.c, store/ui.h).
-- id_hash: SHA-256 of the sb_session cookie (the cookie itself is never
-- stored); key_id: the admin key signed in with, '' for
-- SWITCHBOARD_ADMIN_KEY; csrf_token: what writes made with the cookie
-- must send as X-CSRF-Token; admin_tag: for key_id '', the tag of the
-- SWITCHBOARD_ADMIN_KEY signed in with (adm_admin_env_tag(), a slow hash),
-- so that a new credential ends the old one's sessions. Times are unix
-- seconds.
CREATE TABLE ui_sessions (
  id_hash      BLOB PRIMARY KEY,
  key_id       TEXT NOT NULL,
  csrf_token   TEXT NOT NULL,
  admin_tag    TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX ui_sessions_expires ON ui_sessions(expires_at);
