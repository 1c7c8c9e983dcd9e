/*
 * conv_turn.h - one turn of a stored conversation (store/conv.h), for
 * every inbound API: the conversation's items read before the turn and
 * put before its messages, the turn's items appended when it completes.
 * Internal to gateway/.
 *
 * A turn: conv_turn_load() reads the conversation on the thread pool
 * (the owner is checked as for stored responses: another key's is not
 * found), holds its size against the key's budget and hands the history
 * on as chat messages. The API then names the turn's input items
 * (conv_turn_set_input()) and, when the answer is complete, hands over
 * its output items (conv_turn_append()): both are queued to the store's
 * writer together, before the answer's last byte is written, so the
 * client's next turn (reads see every queued write) finds this one. A
 * turn that fails appends nothing. Chat Completions and Messages use
 * conv_turn_chat(), which does all of it around chat_serve().
 *
 * The state lives in r->conv and goes with the request
 * (conv_turn_release(), from chat_release()).
 */
#ifndef SB_GATEWAY_CONV_TURN_H
#define SB_GATEWAY_CONV_TURN_H

#include "gateway/http.h"

#include <cjson/cJSON.h>

/** The header naming the conversation a Chat Completions or Messages
 * request continues. */
#define CONV_TURN_HEADER "x-switchboard-conversation"

/**
 * Read conversation id (copied) for r, then call cont(r, history) on r's
 * loop with its items as chat messages (history: a new array, taken by
 * cont; empty for a new conversation). Before cont: a conversation that
 * does not exist or is another key's is answered 404 in r's API's error
 * shape ("Conversation with id '…' not found."), an item no codec reads
 * 400, a store failure 503, a history past the key's budget 429; cont is
 * then not called. One per request.
 */
void conv_turn_load(struct req *r, const char *id,
                    void (*cont)(struct req *r, cJSON *history));

/** The conversation r continues, or NULL. */
const char *conv_turn_id(const struct req *r);

/** This turn's input as Responses items (taken), appended before the
 * output by conv_turn_append(). Items without an id get one. */
void conv_turn_set_input(struct req *r, cJSON *items);

/**
 * The turn completed with output (Responses output items, read only):
 * queue the input items, then the output items with r's provider and
 * upstream model, to the conversation. At most once per request; nothing
 * without a conversation. A full queue is logged, not answered: the turn
 * is the client's already.
 */
void conv_turn_append(struct req *r, const cJSON *output);

/**
 * Serve chat, a canonical request of Chat Completions or Messages (taken),
 * as a turn of conversation id: leading system and developer
 * messages stay first (the API's instructions, not stored), then the
 * history, then the rest of its messages, which are this turn's input.
 * The answer, non-streamed (r->respond_doc) or streamed (every event,
 * stored at the clean end through r->stream_done), is the output. r's
 * hooks (respond_doc, stream_done, rend) must already be the API's; an
 * API without a respond_doc gets Chat Completions'.
 */
void conv_turn_chat(struct req *r, const char *id, cJSON *chat);

/**
 * Fit chat (a canonical request, taken, whose first nhistory messages are
 * the API's instructions and the stored history) to its model, then
 * cont(r, chat) (chat taken) on r's loop. When the model's context window
 * is known (admin/v1/models), the oldest history is dropped by
 * codec/trim.h's rules until the prompt and the room for the answer fit.
 * With a summary model (the route's "context", else the key's
 * context_summary_model) the dropped history is summarised instead: a
 * summary stored for the same cut is used again, one of an earlier cut is
 * extended with what was dropped since, else the model is asked through a
 * sub-request (gateway/subreq.h) for r's key; the summary goes where the
 * history was (trim_put_summary()) and is stored for the next turn. A
 * failed summary falls back to the trim. Either is said in
 * x-switchboard-context-trimmed ("; strategy=summarize", or
 * "; strategy=trim; summary=failed"), the log and the request's record.
 * The measure is codec/trim.h's estimate; when r's provider has a token
 * counter (adapter build_count: Anthropic, Gemini) and the estimate is
 * near the window (trim_count_near()), the provider is asked first, on
 * the worker's loop with a 3 s limit, and every message's estimate is
 * scaled by its count; a failed count leaves the estimate alone (logged).
 * The header ends in "; counted=provider" or "; counted=estimate".
 * A route is fitted only when it summarises, to the smallest known window
 * of its targets, and is never counted. Then the kept history is held against
 * the key's budget. On an error (400 context_length_exceeded when the turn
 * alone does not fit, 429 past the budget) it is answered, chat freed and cont
 * not called.
 */
void conv_turn_fit(struct req *r, cJSON *chat, int nhistory,
                   void (*cont)(struct req *r, cJSON *chat));

/** Free r->conv (and stop tapping events). */
void conv_turn_release(struct req *r);

#endif
