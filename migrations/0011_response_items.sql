-- The output items of stored responses by their own ids, so that a
-- client may send {"type":"item_reference","id":"fc_…"} instead of the
-- item (the Vercel AI SDK does in every multi-step tool loop). Written
-- with the response, deleted with it.
CREATE TABLE response_items (
  id          TEXT PRIMARY KEY,   -- msg_…, fc_…, rs_…, ctc_…
  response_id TEXT NOT NULL,
  item        TEXT NOT NULL       -- the item (JSON)
);
CREATE INDEX response_items_response ON response_items(response_id);

-- Responses stored before this migration.
INSERT OR IGNORE INTO response_items(id, response_id, item)
SELECT json_extract(o.value, '$.id'), r.id, o.value
FROM responses r, json_each(r.response, '$.output') o
WHERE json_extract(o.value, '$.id') IS NOT NULL;
