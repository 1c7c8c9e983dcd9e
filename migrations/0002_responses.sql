-- Responses API objects created with store:true, so that
-- previous_response_id continues a conversation on any provider and
-- GET/DELETE /v1/responses/{id} work. Written by the store's writer
-- thread, in order with every other write.
CREATE TABLE responses (
  id                   TEXT    PRIMARY KEY,   -- resp_...
  created_at           INTEGER NOT NULL,      -- unix seconds
  model                TEXT    NOT NULL,      -- as the client asked
  previous_response_id TEXT,
  response             TEXT    NOT NULL,      -- the response object (JSON)
  input_items          TEXT    NOT NULL,      -- this turn's input items (JSON array)
  context              TEXT    NOT NULL       -- the whole conversation up to and
                                              -- including this output, as chat
                                              -- messages (JSON array)
);
CREATE INDEX responses_created ON responses(created_at);
