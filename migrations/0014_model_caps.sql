-- What a model can take: its context window (prompt and answer together,
-- in tokens), the longest answer it may write, the kinds of input it
-- reads and whether it calls tools. Looked up like prices: first as
-- "provider/model" (one provider instance), then by the upstream name
-- alone. A model without a row has no known window: the gateway then
-- trims nothing and lets the upstream judge.
--
-- modalities: a JSON array of "text", "image", "audio", "file" (the
-- canonical content parts a user message may carry), or NULL when unknown.
-- max_output_tokens and tools: NULL when unknown.
CREATE TABLE model_caps (
  model             TEXT PRIMARY KEY,
  context_tokens    INTEGER NOT NULL CHECK(context_tokens > 0),
  max_output_tokens INTEGER CHECK(max_output_tokens > 0
                                  AND max_output_tokens <= context_tokens),
  modalities        TEXT CHECK(modalities IS NULL OR json_valid(modalities)),
  tools             INTEGER CHECK(tools IN (0, 1)),
  updated_at        INTEGER NOT NULL
);

-- Published limits (provider model pages, 2025) of models whose figures
-- are stable; NULL where a figure was not certain. Models whose limits
-- depend on the host (Llama, Qwen and other open weights served by
-- vLLM, Ollama, ...: the server's own context setting wins) are left to
-- the operator, except Meta's reference 128K for the Llama 3.x instruct
-- models under their Hugging Face names. Data, not code: edit it.
INSERT INTO model_caps(model, context_tokens, max_output_tokens, modalities, tools, updated_at) VALUES
  ('gpt-5',             400000, 128000, '["text","image","file"]', 1, 0),
  ('gpt-5-mini',        400000, 128000, '["text","image","file"]', 1, 0),
  ('gpt-5-nano',        400000, 128000, '["text","image","file"]', 1, 0),
  ('gpt-4.1',          1047576,  32768, '["text","image","file"]', 1, 0),
  ('gpt-4.1-mini',     1047576,  32768, '["text","image","file"]', 1, 0),
  ('gpt-4.1-nano',     1047576,  32768, '["text","image","file"]', 1, 0),
  ('gpt-4o',            128000,  16384, '["text","image","file"]', 1, 0),
  ('gpt-4o-mini',       128000,  16384, '["text","image","file"]', 1, 0),
  ('o3',                200000, 100000, '["text","image","file"]', 1, 0),
  ('o4-mini',           200000, 100000, '["text","image","file"]', 1, 0),
  ('claude-opus-4-1',   200000,  32000, '["text","image","file"]', 1, 0),
  ('claude-opus-4-0',   200000,  32000, '["text","image","file"]', 1, 0),
  ('claude-sonnet-4-5', 200000,  64000, '["text","image","file"]', 1, 0),
  ('claude-sonnet-4-0', 200000,  64000, '["text","image","file"]', 1, 0),
  ('claude-haiku-4-5',  200000,  64000, '["text","image","file"]', 1, 0),
  ('claude-3-7-sonnet-latest', 200000, 64000, '["text","image","file"]', 1, 0),
  ('claude-3-5-haiku-latest',  200000,  8192, NULL, 1, 0),
  ('anthropic.claude-sonnet-4-5-20250929-v1:0', 200000, 64000, '["text","image","file"]', 1, 0),
  ('gemini-2.5-pro',       1048576, 65536, '["text","image","audio","file"]', 1, 0),
  ('gemini-2.5-flash',     1048576, 65536, '["text","image","audio","file"]', 1, 0),
  ('gemini-2.5-flash-lite',1048576, 65536, '["text","image","audio","file"]', 1, 0),
  ('gemini-2.0-flash',     1048576,  8192, '["text","image","audio","file"]', 1, 0),
  ('command-a-03-2025',       256000, 8000, '["text"]', 1, 0),
  ('command-r-plus-08-2024',  128000, 4000, '["text"]', 1, 0),
  ('command-r-08-2024',       128000, 4000, '["text"]', 1, 0),
  ('mistral-large-latest', 128000, NULL, NULL, 1, 0),
  ('mistral-small-latest', 128000, NULL, NULL, 1, 0),
  ('deepseek-chat',        128000, 8192, '["text"]', 1, 0),
  ('deepseek-reasoner',    128000, 65536, '["text"]', NULL, 0),
  ('meta-llama/Llama-3.1-8B-Instruct',  131072, NULL, '["text"]', 1, 0),
  ('meta-llama/Llama-3.1-70B-Instruct', 131072, NULL, '["text"]', 1, 0),
  ('meta-llama/Llama-3.3-70B-Instruct', 131072, NULL, '["text"]', 1, 0);

INSERT INTO versions(name, version) VALUES('model_caps', 0);
CREATE TRIGGER model_caps_version_insert AFTER INSERT ON model_caps
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'model_caps';
END;
CREATE TRIGGER model_caps_version_update AFTER UPDATE ON model_caps
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'model_caps';
END;
CREATE TRIGGER model_caps_version_delete AFTER DELETE ON model_caps
BEGIN
  UPDATE versions SET version = version + 1 WHERE name = 'model_caps';
END;
