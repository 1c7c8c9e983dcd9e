/*
 * canon_doc.h - reading and building the canonical documents, shared by
 * the inbound codecs and the provider adapters.
 *
 * One copy of what the adapters and codecs each needed: JSON getters and
 * bounded counts, request refusal, data URLs, the chat.completion
 * envelope, its choices, tool calls and usage, the upstream error
 * messages that read the same for every provider, and retry-after
 * headers. Pure: no I/O, no global state.
 */
#ifndef SB_CODEC_CANON_DOC_H
#define SB_CODEC_CANON_DOC_H

#include "base/apierr.h"
#include "codec/canon.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/** Member k of object o (case-sensitive), or NULL when o is not an object
 * or has no such member. o may be NULL. */
const cJSON *canon_json_get(const cJSON *o, const char *k);

/** The string value of member k of o, or NULL when it is missing or not a
 * string. o may be NULL. */
const char *canon_json_str(const cJSON *o, const char *k);

/** 1 when member k of o is present and not JSON null, else 0. */
int canon_json_present(const cJSON *o, const char *k);

/**
 * The largest count (of tokens, ...) read from JSON: 2^53, past which a
 * double no longer holds every integer. A number an upstream or a client
 * sends may be 1e300, which no integer type holds (casting it is
 * undefined), and two counts near INT64_MAX overflow when added; a bound
 * far below both keeps the casts defined and every sum of a few counts in
 * range.
 */
#define CANON_COUNT_MAX 9007199254740992.0

/** v as a count: its value truncated when v is a number from 0 to
 * CANON_COUNT_MAX, else dflt. */
int64_t canon_json_count(const cJSON *v, int64_t dflt);

/** When member k of o is a count (canon_json_count), store it in *dst;
 * otherwise leave *dst unchanged. */
void canon_json_count_into(const cJSON *o, const char *k, int64_t *dst);

/** 1 when s holds only whitespace (or nothing), else 0. */
int canon_blank(const char *s);

/** Append a turn {"role": role, "content": blocks} to the message array
 * msgs, taking ownership of the array blocks: an empty blocks is dropped,
 * and when the last message in msgs has the same role, blocks' items are
 * moved to the end of its "content" array instead (providers that need
 * strictly alternating roles, e.g. Anthropic Messages and Bedrock
 * Converse). Every message already in msgs must have a string "role". */
void canon_add_turn(cJSON *msgs, const char *role, cJSON *blocks);

/** Refuse a client request: set err to status with type
 * "invalid_request_error", the given code and param (either may be NULL)
 * and the printf-style message, truncated to fit. Returns SB_EINVAL. */
int canon_reject(struct api_error *err, int status, const char *code,
                 const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/** Split "data:<media>;base64,<data>" (scheme and ";base64"
 * case-insensitive). On success returns 0, writes the media type
 * lowercased and NUL-terminated into mbuf (mcap bytes) and points *data
 * at the text after the comma. Returns -1 (mbuf and *data unspecified)
 * when url is not of that form (media type parameters such as
 * ";charset=x" before ";base64" are not taken), the media type is empty,
 * or it does not fit in mcap - 1 bytes. The data is not checked. */
int canon_data_url(const char *url, char *mbuf, size_t mcap, const char **data);

/** Set err to 502 upstream_error/upstream_bad_response: "The upstream
 * provider sent <what>." */
void canon_bad_response(struct api_error *err, const char *what);

/** Set err to 502 upstream_error/upstream_auth_failed for an upstream that
 * refused the gateway's own credential; the upstream's text is not
 * echoed. */
void canon_err_auth_failed(struct api_error *err, const char *provider,
                           int status);

/** Set err to 503 upstream_error/upstream_unavailable, quoting the
 * upstream's msg when it is not NULL. */
void canon_err_unavailable(struct api_error *err, const char *provider,
                           const char *msg);

/** Set err to 504 upstream_error/upstream_timeout, quoting msg when it is
 * not NULL. */
void canon_err_timeout(struct api_error *err, const char *provider,
                       const char *msg);

/** Set err to 502 upstream_error/upstream_error naming the upstream
 * status, quoting msg when it is not NULL. */
void canon_err_failed(struct api_error *err, const char *provider, int status,
                      const char *msg);

/** Copy the upstream's retry-after (seconds) and retry-after-ms header
 * values, each when not NULL, into err->retry_after_s and
 * err->retry_after_ms. The caller decides for which statuses. */
void canon_retry_after(struct api_error *err, const char *retry_after,
                       const char *retry_after_ms);

/** Parse a models-list body: the array at member list_key of the root
 * object. name_of(m) gives each element's model name, or NULL to skip it;
 * empty names are skipped too. On success returns 0 with *models a
 * NULL-terminated array of *nmodels copies (sb_calloc/sb_strdup; the
 * caller frees each and the array). Returns SB_EPROTO, touching neither
 * out-param, when the body is not JSON or has no such array. */
int canon_models_parse(const char *body, size_t len, const char *list_key,
                       const char *(*name_of)(const cJSON *m), char ***models,
                       int *nmodels);

/** name_of for canon_models_parse: the element's "id" string, as in
 * OpenAI-style {"data":[{"id":...}]} lists. */
const char *canon_model_id(const cJSON *m);

/** The OpenAI usage object for u: prompt, completion and total tokens (0
 * when unknown), and prompt_tokens_details.cached_tokens and
 * completion_tokens_details.reasoning_tokens when known (>= 0). */
cJSON *canon_usage_json(const struct canon_usage *u);

/** The counts of an OpenAI usage object us (prompt, completion,
 * prompt_tokens_details.cached_tokens,
 * completion_tokens_details.reasoning_tokens) into u; those us lacks (or
 * all, when us is not an object) are left as they are. */
void canon_usage_read(const cJSON *us, struct canon_usage *u);

/** canon_usage_read() of the raw text of a usage object (n bytes that
 * json_check() accepted without JSON_ESCAPED_ASCII), without parsing it:
 * the same counts the parsed object gives. */
void canon_usage_scan(const char *s, size_t n, struct canon_usage *u);

/**
 * One choice of a chat.completion, as every adapter answers a non-streamed
 * request: message {role "assistant", content, reasoning_content when
 * reasoning is not empty, tool_calls when calls has any, refusal null},
 * logprobs null, finish_reason. content is the text; "" without text and
 * tool calls; null with tool calls and no text. text and reasoning may be
 * NULL; calls (an array of tool calls, or NULL) is taken.
 */
cJSON *canon_chat_choice(int index, const char *text, const char *reasoning,
                         cJSON *calls, const char *finish_reason);

/**
 * A chat.completion: id, object, created, model, choices holding choice
 * (taken; NULL leaves the array empty for the caller to fill) and, when u
 * is not NULL and knows a count, usage (canon_usage_json).
 */
cJSON *canon_chat_completion(const char *id, int64_t created, const char *model,
                             cJSON *choice, const struct canon_usage *u);

/** A tool call of a chat.completion message: {id, type "function",
 * function {name, arguments}}. NULL id or name are "". */
cJSON *canon_tool_call(const char *id, const char *name, const char *arguments);

/** A reasoning_details entry (canon.h): {"type":"reasoning.text", "text",
 * "signature" (left out when NULL), "format"}. NULL text is "". */
cJSON *canon_reasoning_text(const char *text, const char *signature,
                            const char *format);

/** A reasoning_details entry {"type":"reasoning.encrypted", "data",
 * "format"}: a redacted reasoning block. */
cJSON *canon_reasoning_encrypted(const char *data, const char *format);

/** 1 when d is a reasoning_details entry of format fmt: a text entry
 * with a string text, or an encrypted one with a string data; else 0. */
int canon_reasoning_is(const cJSON *d, const char *fmt);

/** Pass ev to sink; returns what the sink returns. */
int canon_emit(const struct canon_sink *sink, const struct canon_ev *ev);

/** Emit a text event of type (TEXT, REASONING, ...) at choice index
 * carrying the NUL-terminated text; a NULL or empty text emits nothing
 * and returns 0. */
int canon_emit_text(const struct canon_sink *sink, enum canon_ev_type type,
                    int index, const char *text);

#endif
