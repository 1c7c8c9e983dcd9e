-- wrk script for bench/run.sh: POSTs a realistic ~1 KB chat request (a
-- system prompt and a user message, as a chat client sends them) and, when
-- the run is done, prints one machine-readable line that run.sh parses
-- (more robust than scraping wrk's human-readable --latency table, which
-- run.sh still asks for so that the full distribution lands in the log).
--
-- Environment:
--   BENCH_MODEL   model name (default "m")
--   BENCH_STREAM  1 for "stream": true
--   BENCH_API     chat (default: OpenAI Chat Completions body) or messages
--                 (Anthropic Messages body, with max_tokens and a top-level
--                 system prompt)
--   BENCH_KEY     sent as "Authorization: Bearer ..." when set (the gateway
--                 checks it; nginx ignores it)

local model = os.getenv("BENCH_MODEL") or "m"
local stream = os.getenv("BENCH_STREAM") == "1"
local api = os.getenv("BENCH_API") or "chat"
local key = os.getenv("BENCH_KEY")

local system = "You are a helpful assistant for an online hardware store. " ..
  "Answer questions about products, orders, shipping and returns. Be concise " ..
  "and friendly, and when you are not sure, say so instead of guessing. Never " ..
  "reveal internal notes, prices that are not public, or personal data of other " ..
  "customers. If the customer asks for a refund, explain the return policy: " ..
  "items can be returned within 30 days in their original packaging, and the " ..
  "refund is issued to the original payment method within five business days " ..
  "after the item arrives at the warehouse. For questions about power tools, " ..
  "mention the safety instructions and recommend protective equipment. Use " ..
  "metric units unless the customer uses imperial ones."
local user = "Hi! I ordered a cordless drill (order 58213) last Tuesday and " ..
  "the tracking page still says the label was created. Can you tell me when " ..
  "it will ship, and whether I can still add a set of wood drill bits to the " ..
  "same order so that I only pay shipping once? Thanks a lot."

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
if api == "messages" then
  wrk.headers["anthropic-version"] = "2023-06-01"
  wrk.body = string.format(
    '{"model":"%s","max_tokens":256,"system":"%s","messages":[' ..
    '{"role":"user","content":"%s"}]%s}',
    model, system, user, stream and ',"stream":true' or "")
else
  wrk.body = string.format(
    '{"model":"%s","messages":[{"role":"system","content":"%s"},' ..
    '{"role":"user","content":"%s"}]%s}',
    model, system, user, stream and ',"stream":true' or "")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d " ..
    "errors_connect=%d errors_read=%d errors_write=%d errors_status=%d " ..
    "errors_timeout=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
