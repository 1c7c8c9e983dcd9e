-- Which gateway key made each request (NULL: the gateway ran open, or the
-- SWITCHBOARD_ADMIN_KEY credential).
ALTER TABLE requests ADD COLUMN key_id TEXT;
CREATE INDEX requests_key ON requests(key_id, ts_ms);
