/*
 * anth_msgs.h - the Anthropic Messages inbound codec (POST /v1/messages).
 *
 * Clients that speak Anthropic (the official SDKs, Claude Code) send a
 * Messages body; it is translated into the canonical OpenAI Chat
 * Completions request (codec/canon.h), routed to any provider, and the
 * answer is rendered back as an Anthropic message object or as Anthropic's
 * SSE event sequence.
 *
 * Pure: no I/O, no clock, no global state. A stream renderer is not
 * thread-safe; one owner feeds it.
 */
#ifndef SB_CODEC_ANTH_MSGS_H
#define SB_CODEC_ANTH_MSGS_H

#include "base/apierr.h"
#include "base/buf.h"
#include "codec/canon.h"

#include <cjson/cJSON.h>

/**
 * Most bytes of tool-call arguments a stream renderer holds back at once:
 * fragments of a tool call that cannot be shown yet because another tool
 * call's block is still open (docs/inbound.md).
 */
#define ANTH_STREAM_MAX_PENDING (8u << 20)

/**
 * Translate a parsed /v1/messages body into a new canonical OpenAI Chat
 * Completions request (*chat, caller frees with cJSON_Delete). Returns 0,
 * or SB_EINVAL with err filled: status 400, type invalid_request_error,
 * code missing_required_parameter / invalid_type / invalid_value /
 * unsupported_value, a message in Anthropic's style naming the path
 * ("messages.1.content.0.type: Input tag 'x' found using 'type' does not
 * match any of the expected tags: ...") and err->param the same path. On
 * failure *chat and *dropped are NULL.
 *
 * *dropped receives a malloc'd comma-separated list of the request fields
 * that were accepted but have no canonical equivalent and were left out
 * (e.g. "service_tier,tools.web_search_20250305"), or NULL if none; the
 * gateway reports it in a header. Every accepted body yields a request
 * that passes oai_chat_validate(). Signed thinking and redacted_thinking
 * blocks of an assistant message become its reasoning_details (format
 * anthropic-claude-v1, codec/canon.h), in order.
 */
int anth_msgs_to_chat(const cJSON *req, cJSON **chat, char **dropped,
                      struct api_error *err);

/**
 * Render a chat.completion as an Anthropic message object (new, caller
 * frees). id is the gateway's "msg_..." id; model is what goes in "model".
 * Content blocks come in Anthropic's order: thinking and
 * redacted_thinking (the reasoning_details of format anthropic-claude-v1,
 * as issued; without any, one thinking block from reasoning_content with
 * signature ""), text (when non-empty), then one
 * tool_use per tool call with input the parsed arguments ({} when they are
 * not a JSON object). Usage is mapped back as docs/adapters.md says.
 */
cJSON *anth_msgs_from_completion(const cJSON *completion, const char *id,
                                 const char *model);

/** Stream renderer: canonical events -> Anthropic SSE events. */
struct anth_stream;

/** A renderer for one response; id and model are copied. */
struct anth_stream *anth_stream_new(const char *id, const char *model);

/**
 * Append the events for ev to out. The first event also writes
 * message_start and one ping. Blocks are opened, fed and stopped in
 * Anthropic's order; a tool call that starts while another tool call's
 * block is open is held back (up to ANTH_STREAM_MAX_PENDING bytes of
 * arguments) until that block's arguments form a complete JSON value or
 * the message finishes. CANON_EV_ERROR writes Anthropic's `event: error`
 * (data {"type":"error","error":{"type","message"}}); nothing is written
 * after it. Returns 0 or SB_ETOOBIG (out's limit reached, or too much
 * held back); out then holds whole events only, and the stream cannot go
 * on cleanly: end it with an error.
 */
int anth_stream_render(struct anth_stream *s, const struct canon_ev *ev,
                       struct buf *out);

/**
 * The clean end: close any open block (and write held-back tool calls),
 * message_delta (stop_reason: the mapped finish reason; tool_use when tool
 * calls were streamed and no finish came; else end_turn; usage) and
 * message_stop. Returns 0 or SB_ETOOBIG.
 */
int anth_stream_end(struct anth_stream *s, struct buf *out);

void anth_stream_free(struct anth_stream *s);

/**
 * The Anthropic stop_reason for an OpenAI finish_reason: stop -> end_turn,
 * length -> max_tokens, tool_calls and function_call -> tool_use,
 * content_filter -> refusal; NULL or anything else -> end_turn. Never NULL.
 */
const char *anth_stop_reason(const char *finish_reason);

/** {"type":"text","text":text} with from's cache_control, if from (a
 * block or an OpenAI content part, may be NULL) has one: the text block
 * both directions use (Chat Completions parts carry Anthropic's
 * cache_control through the gateway). */
cJSON *anth_text_block(const char *text, const cJSON *from);

/** Append to blocks the thinking and redacted_thinking blocks of the
 * reasoning_details entries of format anthropic-claude-v1 in details, in
 * order, as Anthropic issued them; entries of other formats, and text
 * entries without a signature, are left out. With foreign (a Messages
 * client's answer, never Anthropic's API), Bedrock's signed entries too,
 * their signatures tagged with their format (docs/inbound.md). Returns
 * how many. */
int anth_thinking_blocks(const cJSON *details, cJSON *blocks, int foreign);

/** Copy from's "cache_control" object, if any, onto to. */
void anth_copy_cache_control(const cJSON *from, cJSON *to);

/**
 * Append to blocks one Anthropic tool_use block per OpenAI tool call in
 * calls (an assistant message's "tool_calls"; NULL or not an array: none).
 * The one mapping of OpenAI tool calls to Anthropic blocks, for a request
 * going to Anthropic (strict) and for an answer rendered for a Messages
 * client. strict: a call that is not a function, has no id or name, or
 * whose arguments are not a JSON object is refused with err (400, its
 * param "<path>[j]..."). Not strict (the answer of an upstream that
 * already ran): a missing id is generated, and arguments that are not an
 * object become {}. 0, or SB_EINVAL with err.
 */
int anth_tool_use_blocks(const cJSON *calls, int strict, const char *path,
                         cJSON *blocks, struct api_error *err);

#endif
