/*
 * ollama.h - adapter for Ollama's native API (POST /api/chat, NDJSON
 * streams, GET /api/tags)
 *
 * OpenAI Chat Completions in, Ollama native out: messages (images as
 * base64 in a message's "images", tool results carrying "tool_name"),
 * tools, tool call arguments as JSON objects, sampling parameters under
 * "options", response_format as "format", reasoning_effort as "think".
 * What Ollama cannot honour is refused with a 400 naming the parameter
 * (tool_choice "required" or named, parallel_tool_calls false, remote
 * image URLs, file parts, custom tools); advisory fields are dropped and
 * reported. docs/providers/ollama.md is the full parameter policy.
 *
 * Stream: one JSON object per NDJSON line; tool calls arrive whole and
 * become one TOOL_START plus one TOOL_ARGS; ids Ollama leaves out are
 * "call_<n>" (n = 0-based index of the call in the response). A line
 * {"error":"..."} after HTTP 200 ends the stream with CANON_EV_ERROR.
 * The stream is complete once a line with "done":true was seen.
 *
 * Provider options (config "options"): "keep_alive" (string or number,
 * sent as keep_alive), "num_ctx" (integer > 0, sent as options.num_ctx
 * unless the request sets it), "think_levels" (boolean: send
 * reasoning_effort as a level string instead of true).
 *
 * Pure translation: no I/O, no clock.
 */
#ifndef SB_PROVIDERS_OLLAMA_H
#define SB_PROVIDERS_OLLAMA_H

#include "providers/adapter.h"

extern const struct prov_adapter prov_ollama_adapter;

#endif
