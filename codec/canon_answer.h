/*
 * canon_answer.h - one answer in every form it travels in: a stream of
 * canonical events (codec/canon.h), the chat.completion those events make,
 * and bytes that other threads can read back as the same events.
 *
 * The response cache keeps one answer and serves it in any mode: a
 * streamed answer is accumulated into a chat.completion (canon_answer_*),
 * and a stored chat.completion is replayed as the events a stream of it
 * carries (canon_answer_replay), which any stream renderer turns into its
 * client's format. Identical requests in flight share one upstream
 * stream; its events are written as records to a log (canon_ev_encode)
 * that each reader decodes (canon_ev_decode).
 *
 * The completion has the shape adapters build for a non-streamed answer
 * (codec/canon_doc.h): content, reasoning_content, reasoning_details,
 * tool_calls, finish_reason and usage. Reasoning is in blocks: reasoning
 * text fragments, then a REASONING event carrying the signature that
 * closes the block (a reasoning.text entry with its signature and
 * format); a REASONING event with data is a whole redacted block (a
 * reasoning.encrypted entry). A stream whose reasoning is never closed
 * (no signature, no data) has reasoning_content only, as
 * OpenAI-compatible upstreams answer.
 *
 * Pure: no I/O, no clock, no global state. A struct canon_answer is not
 * thread-safe; one owner feeds it.
 */
#ifndef SB_CODEC_CANON_ANSWER_H
#define SB_CODEC_CANON_ANSWER_H

#include "base/buf.h"
#include "codec/canon.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/** An answer being accumulated from canonical events. */
struct canon_answer;

/** A new, empty answer that keeps at most max_bytes of the events'
 * strings (text, reasoning, arguments, signatures, data, ids, names, and
 * a small charge per tool call). */
struct canon_answer *canon_answer_new(size_t max_bytes);

/**
 * Take one event; its strings are copied. ERROR is ignored (the caller
 * does not keep a failed answer). START's id and model are the first
 * non-NULL ones; FINISH and USAGE: the last one wins. TOOL_START and
 * TOOL_ARGS append their text to the arguments of the call with their
 * index (a call seen first through TOOL_ARGS has no id or name until a
 * TOOL_START names it); TOOL_START's signature (Gemini's thought
 * signature) is kept on the call. Returns 0, or SB_ETOOBIG when keeping
 * ev would pass max_bytes: the answer is then left as it was.
 */
int canon_answer_feed(struct canon_answer *a, const struct canon_ev *ev);

/**
 * The chat.completion the events make (new; the caller frees it with
 * cJSON_Delete): id and model from START, else fallback_id and
 * fallback_model; created; one choice (canon_chat_choice) with the
 * content text, reasoning_content (all reasoning text), reasoning_details
 * when any reasoning block was closed (a reasoning.text entry per block
 * with its signature and format, a reasoning.encrypted entry per
 * redacted block, in order; reasoning text after the last closed block
 * is a last reasoning.text entry without signature or format), tool_calls
 * in index order (arguments concatenated, "{}" when there were none;
 * extra_content.google.thought_signature when TOOL_START had a
 * signature), finish_reason (the last FINISH, else "tool_calls" when
 * there are tool calls, else "stop"); and usage from the last USAGE when
 * it knows the prompt or completion tokens (canon_chat_completion).
 * a is not changed: feeding may go on.
 */
cJSON *canon_answer_doc(const struct canon_answer *a, const char *fallback_id,
                        int64_t created, const char *fallback_model);

/** Free a and everything it kept. NULL is allowed. */
void canon_answer_free(struct canon_answer *a);

/**
 * Replay a chat.completion as the events a stream of it carries, in this
 * order, into sink: START (the completion's id and model); REASONING for
 * each reasoning_details entry of choices[0].message (a reasoning.text
 * entry as one event with its text, when not empty, then one with its
 * signature and format, when it has a signature; a reasoning.encrypted
 * entry as one event with its data and format; entries of other types are
 * skipped), or, when no entry was replayed, one REASONING with
 * reasoning_content when it is a non-empty string; TEXT with the content
 * as one fragment (a string, or the concatenated text of an array's text
 * parts) when not empty; TOOL_START (index = position, id, name, and
 * extra_content.google.thought_signature as signature) and, when the
 * arguments are not empty, TOOL_ARGS with them, per tool call; FINISH
 * when finish_reason is a string; USAGE when usage is an object (prompt,
 * completion, cached and reasoning tokens, -1 for each that is absent).
 * Feeding these events to a canon_answer gives back the same completion
 * for the same created, id and model. Returns 0, the sink's nonzero
 * value (nothing more is emitted), or SB_EINVAL, emitting nothing, when
 * completion has no object choices[0].message.
 */
int canon_answer_replay(const cJSON *completion, const struct canon_sink *sink);

/**
 * Append ev to out as one self-contained record: a line of JSON ending in
 * '\n' (every field of the event its type uses, strings escaped, so the
 * record holds no other newline), for a log that other threads read.
 * Strings must be NUL-free (text is cut at a NUL); a usage count that is
 * not from 0 to CANON_COUNT_MAX is written as unknown (-1). Returns 0, or
 * SB_ETOOBIG (out's limit) with out unchanged.
 */
int canon_ev_encode(const struct canon_ev *ev, struct buf *out);

/**
 * Decode every whole record (up to and including its '\n') in p[0..len)
 * and emit each, in order, to sink; bytes after the last '\n' are an
 * incomplete record and are left for a later call that starts with them.
 * The event's strings point into a decoded object valid only during emit;
 * an ERROR comes back as CANON_EV_ERROR with err pointing at an api_error
 * (status, type, code, param, message, retry-after and final as encoded)
 * valid as long. Returns 0, the sink's nonzero value, or SB_EPROTO at a
 * malformed record (records before it have been emitted).
 */
int canon_ev_decode(const char *p, size_t len, const struct canon_sink *sink);

#endif
