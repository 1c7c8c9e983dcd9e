/*
 * oai_resp.h - the OpenAI Responses API as an inbound codec
 *: a /v1/responses body becomes a canonical Chat
 * Completions request, and a chat.completion or a canonical event stream
 * becomes a Responses "response" object or its SSE event stream.
 *
 * Requests. Items of `input` map to chat messages: messages keep their
 * role (input_text -> text, input_image -> image_url, input_file with
 * file_data -> file; assistant output_text is joined into one string,
 * refusal goes to the message's refusal); function_call items become the
 * tool_calls of one assistant message (consecutive calls, and a call
 * right after an assistant text message, share a message);
 * function_call_output items become tool messages (text parts stay in the
 * tool message; image and file parts, which tool messages cannot hold,
 * follow in one user message after the run of tool messages); the summary
 * (else the content) text of a reasoning item becomes the
 * reasoning_content of the next assistant message, and a reasoning item
 * with encrypted_content and our "format" member one entry of its
 * reasoning_details (codec/canon.h: "reasoning.text" with the signature
 * when the item has a summary, else "reasoning.encrypted"); `instructions`
 *becomes a leading system message that is not part of the stored turn.
 * Parameters: reasoning.effort -> reasoning_effort, max_output_tokens ->
 * max_completion_tokens, text.format -> response_format (json_schema
 * nested again; text sent as nothing), user (else safety_identifier) ->
 * user, top_logprobs > 0 or include "message.output_text.logprobs" ->
 * logprobs (+ top_logprobs), stream -> stream with include_usage;
 * metadata, store, include, truncation, prompt_cache_key, service_tier
 * and text.verbosity only appear in the response object.
 *
 * Custom tools (free-form text input, e.g. Codex's apply_patch) become
 * function tools taking {"input": string}; their calls come back as
 * custom_tool_call items with the decoded input, and custom_tool_call
 * items in the input become tool calls with {"input": ...} arguments.
 * Hosted tools (web_search, file_search, code_interpreter, mcp, shell,
 * ...) cannot run behind an arbitrary provider: they are dropped and
 * reported through *dropped, and so are hosted-tool items in the input
 * and the encrypted content of reasoning items without a "format".
 *
 * Responses. Item ids are "msg_", "rs_", "fc_" and "ctc_" plus 24 random
 * hex digits; a function call's call_id is the chat tool call id. The
 * output lists reasoning, then the message, then the tool calls; a
 * message with reasoning_details gives one reasoning item per entry
 * (summary: the text, none for an encrypted entry; encrypted_content: the
 * signature or data; "format": the entry's format). Every
 * request field the response object echoes is filled, with the API's
 * default when the request left it out.
 *
 * Pure: no I/O, no clock (ids come from OpenSSL's CSPRNG); safe from any
 * thread. A stream renderer is used by one thread at a time.
 */
#ifndef SB_CODEC_OAI_RESP_H
#define SB_CODEC_OAI_RESP_H

#include "base/apierr.h"
#include "base/buf.h"
#include "codec/canon.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/**
 * Translate a parsed /v1/responses body into a new canonical OpenAI Chat
 * Completions request (*chat, caller frees): [system message from
 * "instructions"] + history + this turn's input. history: the stored
 * conversation of previous_response_id as chat messages (array), or NULL.
 * *turn receives this turn's input as chat messages (new array, caller
 * frees; what the gateway stores). *dropped: malloc'd comma-separated
 * list of what was accepted but dropped, or NULL when nothing was
 * ("tools[2].type=web_search", "input.type=web_search_call",
 * "input.encrypted_content"; input entries appear once per kind).
 *
 * Returns 0, or SB_EINVAL with err filled (400 invalid_request_error,
 * code invalid_type / invalid_value / missing_required_parameter /
 * unsupported_parameter / unsupported_value, param the offending path
 * like "input[2].content[0].type" or "tools[1].type"); *chat, *turn and
 * *dropped are then NULL. Whatever it accepts passes oai_chat_validate().
 *
 * conversation is the gateway's to resolve: its items come in as history.
 * Refused: background:true, prompt, item_reference items,
 * input_image / input_file by file_id or file_url, a function_call_output
 * whose call_id no earlier tool call has, and a tool_choice that selects
 * a dropped tool or a tool not in tools.
 */
int oai_resp_to_chat(const cJSON *req, const cJSON *history, cJSON **chat,
                     cJSON **turn, char **dropped, struct api_error *err);

/**
 * Responses items (a stored conversation's, JSON objects) -> the chat
 * messages they stand for, read exactly as oai_resp_to_chat() reads
 * input items (the turn it would give for {"input": items}), but for a
 * user, system or developer message of one text part, whose content is
 * that text as a string (what the client sent, as a rule), into
 * *messages (new array, caller frees; empty for no items). Returns 0, or
 * SB_EINVAL with err filled as oai_resp_to_chat() does (param "input[i]..."),
 * and *messages NULL.
 */
int oai_resp_items_to_chat(const cJSON *items, cJSON **messages,
                           struct api_error *err);

/**
 * Chat messages -> the Responses items a conversation stores for them (new
 * array, caller frees), each with a fresh id: user, system and developer
 * messages become message items (input_text, input_image from image_url,
 * input_file from file data); an assistant message becomes reasoning
 * items (its reasoning_details as above, else its reasoning_content), a message
 * item (output_text parts, a refusal part) and one function_call item per tool
 * call (call_id the tool call id); a tool message becomes a
 * function_call_output (output the content string, or its text parts). Parts
 * with no Responses equivalent (input_audio) and "function" messages are left
 * out. What oai_resp_items_to_chat() reads back gives the same messages.
 */
cJSON *oai_resp_items_from_chat(const cJSON *messages);

/**
 * A chat.completion -> a Responses "response" object (new, caller frees)
 * with status completed, or incomplete when the finish_reason was length
 * (incomplete_details.reason max_output_tokens) or content_filter
 * (content_filter). The request's echoed fields (instructions, tools,
 * tool_choice, text, reasoning, temperature, top_p, max_output_tokens,
 * metadata, store, parallel_tool_calls, previous_response_id, truncation,
 * user, ...) come from req; usage is null when the completion has none.
 * Tool calls of tools req declared as custom become custom_tool_call
 * items. A request's conversation (an id or {id}) is echoed as
 * conversation {id}; without one the field is absent.
 */
cJSON *oai_resp_from_completion(const cJSON *req, const cJSON *completion,
                                const char *id, int64_t created_at,
                                const char *model);

/**
 * Append to messages (a cJSON array) the chat messages equivalent to a
 * response object's output: one assistant message with content (the
 * output_text joined, or null), reasoning_content (the reasoning
 * summaries joined with blank lines), reasoning_details (from reasoning
 * items with a format) and tool_calls (function and custom
 * tool calls, custom ones as function calls with {"input": ...}
 * arguments) - what the gateway appends to the stored conversation. An
 * empty output appends nothing.
 */
void oai_resp_output_to_messages(const cJSON *response, cJSON *messages);

/**
 * Stream renderer: canonical events -> Responses SSE events, each
 * "event: TYPE\ndata: {"type":TYPE,"sequence_number":N,...}" with N
 * counting from 0.
 *
 * Output items follow the events: reasoning opens a reasoning item (one
 * summary part), text a message item (one output_text part), each tool
 * call index a function_call or custom_tool_call item. Tool calls with
 * different indexes may interleave; an item stays open until the end or
 * until an event of another kind follows (text or reasoning closes every
 * open item of another kind; a tool call closes open text and reasoning).
 * Custom tool input is buffered and sent in one delta when its item
 * closes, since the canonical arguments are JSON around it. A reasoning
 * event with a signature and a format closes the reasoning item with
 * them (encrypted_content, "format"); one with redacted data is a
 * reasoning item of its own, without summary.
 */
struct oai_resp_stream;

/** req is the client's request body (only read here); id, created_at and
 * model as for oai_resp_from_completion(). Never NULL. */
struct oai_resp_stream *oai_resp_stream_new(const cJSON *req, const char *id,
                                            int64_t created_at,
                                            const char *model);

/**
 * Append the events for ev to out. The first events (response.created,
 * response.in_progress) are written on the first render call (or by end()
 * if none). CANON_EV_ERROR writes response.failed (response.status
 * "failed", error {code: err->code or "server_error", message}); later
 * events and end() then write nothing. Returns 0 or SB_ETOOBIG; after
 * SB_ETOOBIG out holds whole events only, but the stream is broken: fail
 * it (an ERROR event still renders).
 */
int oai_resp_stream_render(struct oai_resp_stream *s, const struct canon_ev *ev,
                           struct buf *out);

/**
 * Clean end: close open items (their ...done events and
 * response.output_item.done), then response.completed, or
 * response.incomplete when the finish reason was length or
 * content_filter, carrying the full response object with output and
 * usage (null if no usage event came). Returns 0 or SB_ETOOBIG.
 */
int oai_resp_stream_end(struct oai_resp_stream *s, struct buf *out);

/**
 * The response object as last rendered: NULL before the first event, then
 * the in_progress object, after end() the final one (equal, but for item
 * ids, to what oai_resp_from_completion() gives for the equivalent
 * completion), after an error the failed one. Owned by s.
 */
const cJSON *oai_resp_stream_response(const struct oai_resp_stream *s);

void oai_resp_stream_free(struct oai_resp_stream *s);

#endif
