-- Compacting a conversation's history into a summary instead of dropping
-- it (gateway/conv_turn.c, docs/conversations.md "Context windows").
--
-- A key's summary model: a "provider/model" or route name that summarises
-- the history a turn of this key leaves out; NULL: trim. A route's
-- "context" object wins over it.
ALTER TABLE api_keys ADD COLUMN context_summary_model TEXT;

-- What a turn did with the history it left out: 'trim' or 'summarize'
-- (NULL when nothing was left out), and the summary put in its place.
ALTER TABLE requests ADD COLUMN context_strategy TEXT;
ALTER TABLE requests ADD COLUMN context_summary TEXT;

-- Summaries remembered per conversation and cut point: cut_item is the id
-- of the last item the summary covers (every item up to it, in order). The
-- next turn with the same cut reuses it; a later cut summarises this one
-- plus the items after it. Deleted with the conversation (by its delete or
-- retention: the trigger).
CREATE TABLE conversation_summaries (
  conversation_id TEXT NOT NULL,
  cut_item        TEXT NOT NULL,
  summary         TEXT NOT NULL,
  model           TEXT,
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (conversation_id, cut_item)
);
CREATE TRIGGER conversation_summaries_gone AFTER DELETE ON conversations
BEGIN
  DELETE FROM conversation_summaries WHERE conversation_id = OLD.id;
END;
