-- Prices per million tokens (USD), editable. A model is looked up first as
-- "provider/model" (a price for one provider instance), then by its
-- upstream name alone. A model without a price is recorded with a NULL
-- cost and unpriced = 1: never priced as zero silently.
CREATE TABLE prices (
  model                 TEXT PRIMARY KEY,
  input_per_mtok        REAL NOT NULL CHECK(input_per_mtok >= 0),
  output_per_mtok       REAL NOT NULL CHECK(output_per_mtok >= 0),
  cached_input_per_mtok REAL CHECK(cached_input_per_mtok >= 0), -- NULL: input price
  updated_at            INTEGER NOT NULL
);

-- List prices of current models of the major providers as published in
-- 2025 (standard tier, prompts under any long-context threshold). Check
-- them against your contract and edit: they are data, not code.
INSERT INTO prices(model, input_per_mtok, output_per_mtok, cached_input_per_mtok, updated_at) VALUES
  ('gpt-5',              1.25, 10.00, 0.125, 0),
  ('gpt-5-mini',         0.25,  2.00, 0.025, 0),
  ('gpt-5-nano',         0.05,  0.40, 0.005, 0),
  ('gpt-4.1',            2.00,  8.00, 0.50,  0),
  ('gpt-4.1-mini',       0.40,  1.60, 0.10,  0),
  ('gpt-4.1-nano',       0.10,  0.40, 0.025, 0),
  ('gpt-4o',             2.50, 10.00, 1.25,  0),
  ('gpt-4o-mini',        0.15,  0.60, 0.075, 0),
  ('o3',                 2.00,  8.00, 0.50,  0),
  ('o4-mini',            1.10,  4.40, 0.275, 0),
  ('text-embedding-3-small', 0.02, 0, NULL,  0),
  ('text-embedding-3-large', 0.13, 0, NULL,  0),
  ('claude-opus-4-1',   15.00, 75.00, 1.50,  0),
  ('claude-sonnet-4-5',  3.00, 15.00, 0.30,  0),
  ('claude-sonnet-4-0',  3.00, 15.00, 0.30,  0),
  ('claude-haiku-4-5',   1.00,  5.00, 0.10,  0),
  ('claude-3-5-haiku-latest', 0.80, 4.00, 0.08, 0),
  ('gemini-2.5-pro',     1.25, 10.00, 0.31,  0),
  ('gemini-2.5-flash',   0.30,  2.50, 0.075, 0),
  ('gemini-2.5-flash-lite', 0.10, 0.40, 0.025, 0),
  ('gemini-2.0-flash',   0.10,  0.40, 0.025, 0),
  ('command-a-03-2025',  2.50, 10.00, NULL,  0),
  ('command-r-plus-08-2024', 2.50, 10.00, NULL, 0),
  ('command-r-08-2024',  0.15,  0.60, NULL,  0),
  ('mistral-large-latest', 2.00, 6.00, NULL, 0),
  ('mistral-small-latest', 0.10, 0.30, NULL, 0),
  ('deepseek-chat',      0.27,  1.10, 0.07,  0),
  ('deepseek-reasoner',  0.55,  2.19, 0.14,  0),
  ('anthropic.claude-3-haiku-20240307-v1:0', 0.25, 1.25, NULL, 0),
  ('anthropic.claude-sonnet-4-5-20250929-v1:0', 3.00, 15.00, 0.30, 0);

INSERT INTO versions(name, version) VALUES('prices', 0);
CREATE TRIGGER prices_version_insert AFTER INSERT ON prices
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'prices';
END;
CREATE TRIGGER prices_version_update AFTER UPDATE ON prices
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'prices';
END;
CREATE TRIGGER prices_version_delete AFTER DELETE ON prices
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'prices';
END;

-- Cached and reasoning tokens (included in prompt and completion tokens,
-- OpenAI's convention) and the cost of each request.
ALTER TABLE requests ADD COLUMN cached_tokens INTEGER;
ALTER TABLE requests ADD COLUMN reasoning_tokens INTEGER;
ALTER TABLE requests ADD COLUMN cost_usd REAL;          -- NULL: unknown
ALTER TABLE requests ADD COLUMN unpriced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;
CREATE INDEX requests_key_cost ON requests(key_id, ts_ms, cost_usd);
