-- Stored responses belong to the gateway key that created them: another
-- key cannot read, continue or delete them (404, as if they did not
-- exist). NULL: created with no key (open mode), with the
-- SWITCHBOARD_ADMIN_KEY credential or before this migration; such rows
-- are visible to every caller.
ALTER TABLE responses ADD COLUMN key_id TEXT;
