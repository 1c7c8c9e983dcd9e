-- wrk script for bench/run.sh: POSTs a small (~60 B) chat request and, when
-- the run is done, prints one machine-readable line that run.sh parses (more
-- robust than scraping wrk's human-readable --latency table, which run.sh
-- still asks for so that the full distribution lands in the log).
--
-- Environment: BENCH_MODEL (default "m"), BENCH_STREAM=1 for stream:true.

local model = os.getenv("BENCH_MODEL") or "m"
local stream = os.getenv("BENCH_STREAM") == "1"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format(
  '{"model":"%s","messages":[{"role":"user","content":"Hello there"}]%s}',
  model, stream and ',"stream":true' or "")

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
