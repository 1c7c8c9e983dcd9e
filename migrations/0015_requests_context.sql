-- What the gateway left out of a conversation's history to fit the
-- model's context window (gateway/conv_turn.c): messages dropped and their
-- estimated tokens; NULL when nothing was dropped.
ALTER TABLE requests ADD COLUMN context_dropped INTEGER;
ALTER TABLE requests ADD COLUMN context_dropped_tokens INTEGER;
