-- Conversations (issue 13, store/conv.h): what the OpenAI Conversations
-- API serves and what every inbound API continues with a conversation id.
--
-- key_id: the gateway key that created it (NULL: made without a key; such
-- rows are visible to every caller, as responses.key_id). metadata: a
-- JSON object of at most 16 string pairs. Times are unix seconds;
-- updated_at moves with every append (retention reads it).
CREATE TABLE conversations (
  id         TEXT PRIMARY KEY,        -- conv_…
  key_id     TEXT,
  metadata   TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
-- A key's listing, and the admin's (every one), by creation.
CREATE INDEX conversations_key_created ON conversations(key_id, created_at, id);
CREATE INDEX conversations_created ON conversations(created_at, id);
CREATE INDEX conversations_updated ON conversations(updated_at);

-- The items of a conversation in order: OpenAI Responses items (JSON, their
-- "id" included) with the provider and model that produced them (NULL: the
-- client's own). An item id is unique across conversations, as OpenAI's
-- are. No foreign key: an append queued behind the conversation's delete
-- must not fail the writer's whole batch; the writer checks instead.
CREATE TABLE conversation_items (
  id         TEXT PRIMARY KEY,        -- msg_…, fc_…, fco_…, rs_…
  conv_id    TEXT NOT NULL,
  seq        INTEGER NOT NULL,        -- 1, 2, … in the conversation
  item       TEXT NOT NULL,
  provider   TEXT,
  model      TEXT,
  created_at INTEGER NOT NULL,
  UNIQUE (conv_id, seq)
);
