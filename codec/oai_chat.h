/*
 * oai_chat.h - checks on an inbound OpenAI Chat Completions request body
 *, before it is routed anywhere.
 *
 * oai_chat_validate() rejects what OpenAI itself would reject for the
 * fields it knows: wrong JSON types, out-of-range values, malformed
 * messages, content parts, tools and tool choices. Fields it does not know
 * are not errors: they are forwarded to OpenAI-compatible upstreams, which
 * may understand them. oai_chat_check_caps() then refuses, per provider,
 * what the chosen provider cannot honour (reference.md §Errors).
 *
 * Errors reach the client as the OpenAI error object: status 400, type
 * invalid_request_error, code invalid_type / invalid_value /
 * missing_required_parameter / unsupported_parameter, and param the JSON
 * path of the offending value, e.g. "messages[2].content[0].image_url.url"
 * or "temperature".
 *
 * Pure: no I/O, no clock, no global state; safe from any thread.
 */
#ifndef SB_CODEC_OAI_CHAT_H
#define SB_CODEC_OAI_CHAT_H

#include "base/apierr.h"
#include "base/buf.h"

#include <cjson/cJSON.h>

/*
 * Capabilities a provider may lack (bit flags for oai_chat_check_caps):
 * TOOLS tools/functions; N n > 1; LOGPROBS logprobs/top_logprobs; AUDIO
 * the audio field, "audio" in modalities, input_audio parts;
 * RESPONSE_FORMAT a response_format other than text; IMAGES image_url
 * parts; LOGIT_BIAS logit_bias.
 */
#define OAI_CAP_TOOLS           (1u << 0)
#define OAI_CAP_N               (1u << 1)
#define OAI_CAP_LOGPROBS        (1u << 2)
#define OAI_CAP_AUDIO           (1u << 3)
#define OAI_CAP_RESPONSE_FORMAT (1u << 4)
#define OAI_CAP_IMAGES          (1u << 5)
#define OAI_CAP_LOGIT_BIAS      (1u << 6)
#define OAI_CAP_ALL             ((1u << 7) - 1)

/**
 * Validate a parsed request body. Returns 0, or SB_EINVAL with err filled
 * (status 400, type invalid_request_error) for the first problem found:
 *
 * - body not an object: code invalid_json, param null (reference.md
 *   §Errors, same as malformed JSON);
 * - a required field absent (model, messages, messages[i].role, a
 *   message's content, tool_call_id, a part's payload, a tool's function
 *   name, ...): code missing_required_parameter;
 * - a known field of the wrong JSON type: code invalid_type, message
 *   "Invalid type for 'temperature': expected a number, got a string.";
 * - a known field with a value out of range or not allowed (empty model,
 *   empty messages, unknown role, temperature 3, a bad tool name, a
 *   content part type the role does not allow, stream_options without
 *   stream:true, a key repeated at the top level ...): code invalid_value.
 *
 * Fields OpenAI marks nullable accept null (as if absent);
 * user, tools, tool_choice, parallel_tool_calls and response_format do
 * not. Unknown fields, at any level, are accepted.
 */
int oai_chat_validate(const cJSON *body, struct api_error *err);

/**
 * Refuse a (validated) body that uses something outside caps, a set of
 * OAI_CAP_* flags, for the provider named provider (used in the message).
 * Returns 0, or SB_EINVAL with err filled: 400 invalid_request_error,
 * code unsupported_parameter, param the field (e.g. "tools", "n",
 * "messages[0].content[1]"), message "Provider 'echo' does not support
 * 'tools'.".
 *
 * A field counts as used when present and not null, false or empty, with
 * these refinements: n only when > 1; top_logprobs only when > 0;
 * response_format only when its type is not "text"; images are image_url
 * content parts in any message; audio is the audio field, "audio" in
 * modalities, or input_audio content parts. Checks run in the order of
 * the flag bits, so the first unsupported field in that order is named.
 */
int oai_chat_check_caps(const cJSON *body, unsigned caps, const char *provider,
                        struct api_error *err);

/**
 * Append to out the text of the last message whose role is "user": its
 * string content, or the text of its text parts joined with "\n" (other
 * parts are skipped; no text at all appends nothing). Returns 0,
 * SB_ENOTFOUND when there is no user message, or SB_ETOOBIG when out's
 * limit is reached; on failure out is unchanged.
 */
int oai_chat_last_user_text(const cJSON *body, struct buf *out);

#endif
