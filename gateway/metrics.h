/*
 * metrics.h - the gateway's Prometheus metrics (reference.md §Metrics).
 *
 *   switchboard_requests_total{endpoint,provider,status}     counter
 *   switchboard_request_duration_seconds{endpoint}           histogram
 *   switchboard_ttfb_seconds{endpoint}                       histogram
 *   switchboard_upstream_errors_total{provider,reason}       counter
 *   switchboard_streams_in_flight                            gauge
 *   switchboard_store_dropped_total                          counter
 *   switchboard_mcp_tool_calls_total{server,outcome}         counter
 *   switchboard_mcp_upstream_skipped_total{server}           counter
 *   switchboard_mcp_sessions, switchboard_mcp_servers_up     gauges
 *
 * Histogram buckets suit LLM latencies: 5 ms to 120 s, plus +Inf.
 *
 * Thread-safety: one struct metrics is shared by all worker threads; every
 * function may be called from any thread at any time (between
 * metrics_new() and metrics_free()). Counters and histograms sit behind
 * one mutex; the in-flight gauge is an atomic.
 *
 * Memory is bounded whatever the labels: a label value is cut to 128
 * bytes, and each metric keeps at most METRICS_MAX_SERIES label sets.
 * Past that, new label sets are folded into provider="other" (endpoint=
 * "other" for the per-endpoint histograms); should even those run out, into
 * one series whose labels are all "other".
 *
 * No clock: durations are measured by the caller.
 */
#ifndef SB_GATEWAY_METRICS_H
#define SB_GATEWAY_METRICS_H

#include <stdint.h>

/** Distinct label sets kept per metric before folding into "other". */
#define METRICS_MAX_SERIES 4096

struct metrics;

/** A new, empty set of metrics. Never NULL (aborts on OOM). */
struct metrics *metrics_new(void);

/** Free m. No other thread may be using it. NULL is a no-op. */
void metrics_free(struct metrics *m);

/**
 * Count one finished request: requests_total{endpoint, provider, status}
 * += 1; duration_s observed in request_duration_seconds{endpoint}; ttfb_s
 * (time to the first response byte) in ttfb_seconds{endpoint} unless it
 * is negative (no byte was sent). endpoint and provider NULL count as "";
 * a NaN duration is not observed, a negative one counts as 0.
 */
void metrics_request(struct metrics *m, const char *endpoint,
                     const char *provider, int status, double duration_s,
                     double ttfb_s);

/**
 * Count one failed upstream exchange: upstream_errors_total{provider,
 * reason} += 1 (reason e.g. "connect", "timeout", "bad_response").
 * NULL counts as "".
 */
void metrics_upstream_error(struct metrics *m, const char *provider,
                            const char *reason);

/** One MCP tool call ended: mcp_tool_calls_total{server, outcome}. */
void metrics_mcp_call(struct metrics *m, const char *server,
                      const char *outcome);

/** An MCP list left server out (it was down). */
void metrics_mcp_skipped(struct metrics *m, const char *server);

/** The MCP gauges as they are now (set before rendering). */
void metrics_mcp_gauges(struct metrics *m, long sessions, long servers_up);

/** A stream started: streams_in_flight += 1. */
void metrics_stream_begin(struct metrics *m);

/** A stream ended: streams_in_flight -= 1. Pair with metrics_stream_begin. */
void metrics_stream_end(struct metrics *m);

/**
 * Render every metric in the Prometheus text exposition format 0.0.4
 * (serve as "text/plain; version=0.0.4"), each with its # HELP and # TYPE
 * lines, label values escaped (\\, \", \n; invalid UTF-8 replaced by
 * U+FFFD). store_dropped is reported as switchboard_store_dropped_total.
 * Returns a NUL-terminated string the caller releases with free().
 */
char *metrics_render(struct metrics *m, uint64_t store_dropped);

#endif
