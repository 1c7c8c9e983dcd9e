/*
 * trim.h - fitting a canonical chat history into a model's context window,
 * and the token estimate it is measured with.
 *
 * A stored conversation grows without bound; the model it is sent to does
 * not. Before a turn goes upstream, the oldest history is dropped until
 * the prompt plus the room kept for the answer fits the context window.
 * What may go is decided here, purely (no I/O, no clock), on the
 * canonical messages (Chat Completions messages, codec/canon.h):
 *
 *  - system and developer messages are never dropped, wherever they sit;
 *  - the current turn (the messages the client sent this time) is never
 *    dropped;
 *  - history goes by whole exchanges, oldest first: a user message and
 *    everything up to the next user message (the assistant's answers, its
 *    tool calls and their results). So an assistant message with
 *    tool_calls is never separated from its tool results, and the kept
 *    history still starts with a user message, which providers that need
 *    alternating roles (Anthropic, Bedrock, Gemini) require. Messages
 *    before the first user message (a history that starts mid-exchange)
 *    form an exchange of their own;
 *  - an exchange whose tool calls the current turn answers (the turn holds
 *    tool messages with their ids, or starts with tool messages) is kept,
 *    and so is everything after it: dropping stops there.
 *
 * The estimate is deliberately simple and a little pessimistic: the gateway
 * fronts many tokenizers, and an upstream "context length exceeded" costs
 * a failed request while one exchange too many dropped costs little.
 */
#ifndef SB_CODEC_TRIM_H
#define SB_CODEC_TRIM_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/** What every message costs beyond its content (role markers, separators):
 * OpenAI documents 3 to 4 tokens per message. */
#define TRIM_MESSAGE_TOKENS 4
/** A tool call beyond its name and arguments (id, type, framing). */
#define TRIM_TOOL_CALL_TOKENS 8
/** An image part, whatever its size: OpenAI bills a 1024x1024 image at
 * high detail 765 tokens, Anthropic about 1,600 at most, Gemini 258; a
 * fixed 1,024 sits between without reading the image. */
#define TRIM_IMAGE_TOKENS 1024
/** An audio or file part (a PDF, a recording): its size in tokens is not
 * knowable without decoding it; the same fixed cost as an image. */
#define TRIM_ATTACHMENT_TOKENS 1024

/**
 * Tokens in n bytes of UTF-8 text s: one per four ASCII bytes (rounded
 * up), plus one per non-ASCII code point (CJK runs near one token a
 * character; accented and Cyrillic text comes out overestimated, which is
 * the safe side). Invalid UTF-8 counts one per byte. s may be NULL when n
 * is 0.
 */
int64_t trim_estimate_text(const char *s, size_t n);

/**
 * Tokens of one canonical message: TRIM_MESSAGE_TOKENS, its name, its
 * content (a string, or parts: text as text, image_url parts
 * TRIM_IMAGE_TOKENS, input_audio and file parts TRIM_ATTACHMENT_TOKENS,
 * refusal as text), reasoning_content, its tool calls (name, arguments
 * and TRIM_TOOL_CALL_TOKENS each), a legacy function_call, and a tool
 * message's tool_call_id. Anything that is not a message costs
 * TRIM_MESSAGE_TOKENS.
 */
int64_t trim_estimate_message(const cJSON *msg);

/** The sum of trim_estimate_message() over the array msgs (0 if msgs is
 * not an array). */
int64_t trim_estimate_messages(const cJSON *msgs);

/**
 * Tokens of any JSON value as text (its unformatted print): for what a
 * request sends besides its messages, such as tools and response_format.
 * 0 for NULL.
 */
int64_t trim_estimate_json(const cJSON *v);

/** A message's estimate in tokens; ud is trim_params' estimate_ud. */
typedef int64_t (*trim_estimate_fn)(const cJSON *msg, void *ud);

/* --- a provider's own count ---------------------------------------------
 *
 * Where the target provider has a token counter (adapter.h build_count),
 * a turn near its window asks it, and the estimate is scaled by what it
 * said: real / estimated over the whole prompt, applied to every
 * message's estimate. Far from the window the estimate decides alone, so
 * most turns pay no round trip. */

/** Near the window: the estimated prompt plus the answer's room between
 * these percentages of it. */
#define TRIM_COUNT_NEAR_LOW  75
#define TRIM_COUNT_NEAR_HIGH 125

/** 1 when prompt (estimated tokens) plus max_output (< 0: 0) lies between
 * TRIM_COUNT_NEAR_LOW% and TRIM_COUNT_NEAR_HIGH% of context_tokens, both
 * included; 0 otherwise and when the window is unknown (<= 0). */
int trim_count_near(int64_t prompt, int64_t max_output, int64_t context_tokens);

/** A provider's count against the estimate of the same prompt. */
struct trim_scale {
  int64_t real;      /* the provider's count (>= 0) */
  int64_t estimated; /* the estimate it replaces (> 0, else no scaling) */
};

/** n scaled by s (rounded up); n itself when s is NULL or its estimated
 * is not positive. */
int64_t trim_scale_apply(const struct trim_scale *s, int64_t n);

/** A trim_estimate_fn: trim_estimate_message() scaled by the struct
 * trim_scale ud (trim_scale_apply()). */
int64_t trim_estimate_scaled(const cJSON *msg, void *ud);

struct trim_params {
  int64_t context_tokens;    /* the model's context window; <= 0: unknown, and
                              * nothing is dropped */
  int64_t max_output;        /* room kept for the answer (the request's max
                              * tokens, else the model's max output); < 0: 0 */
  int64_t fixed_tokens;      /* the rest of the prompt that is not messages
                              * (tools, response_format: trim_estimate_json);
                              * < 0: 0 */
  trim_estimate_fn estimate; /* NULL: trim_estimate_message */
  void *estimate_ud;
  cJSON *dropped; /* an array, or NULL: the dropped messages are moved to
                   * its end in order instead of deleted (to summarise
                   * them) */
};

/** What a trim did. */
struct trim_result {
  int dropped;            /* messages removed from the history */
  int exchanges;          /* how many exchanges they made up */
  int64_t dropped_tokens; /* their estimate */
  int64_t prompt_tokens;  /* estimate of what is left: kept messages plus
                           * fixed_tokens */
  int resume; /* index, in the trimmed array, of the message that followed
               * the last dropped one: where a summary of them belongs */
  int fits;   /* 1 when prompt_tokens + max_output <= context_tokens (or the
               * window is unknown); 0 when even the least that may be kept
               * does not fit: the caller refuses the request or sends it
               * anyway and lets the upstream say so */
};

/**
 * Drop the oldest history from msgs, in place, until the prompt fits
 * p->context_tokens with p->max_output to spare, by the rules at the top
 * of this file. msgs is a JSON array of canonical messages whose first
 * nhistory are the stored history and the rest the current turn
 * (nhistory is clamped to 0..size). The dropped messages are deleted (or
 * moved to p->dropped); the others keep their order and are not modified. The
 * estimate runs once per message. res is always filled. Returns 0, or SB_EINVAL
 * when msgs is not an array (res then says nothing was dropped, fits 1).
 */
int trim_history(cJSON *msgs, int nhistory, const struct trim_params *p,
                 struct trim_result *res);

/* --- compacting: a summary in place of the dropped history ----------------
 *
 * Instead of losing the dropped history, a route or key may have it
 * summarised by a model (gateway/conv_turn.c) and put the summary where
 * it was. The summary is asked for with the dropped messages as one
 * transcript in a user message, so the summarising model needs neither
 * the turn's tools nor its providers' tool-call rules; and it goes back
 * into the history merged into the first kept user message, so the roles
 * still alternate as Anthropic, Bedrock and Gemini require. */

/** The most a summary prompt's transcript holds, in bytes; the rest of
 * the history is left out of it. */
#define TRIM_SUMMARY_PROMPT_MAX (1024 * 1024)

/** What a summary put in place starts with. */
#define TRIM_SUMMARY_PREFIX "Summary of the earlier conversation:\n"

/**
 * The messages that ask a model for a summary (a new array, caller
 * frees): a system message saying what to write, then one user message
 * holding previous (the summary of what came before msgs, or NULL) and a
 * transcript of msgs[from..] (canonical messages: each as "role: text",
 * tool calls as name and arguments, tool results with their call's id,
 * images and files as a placeholder), at most TRIM_SUMMARY_PROMPT_MAX
 * bytes of it.
 */
cJSON *trim_summary_prompt(const char *previous, const cJSON *msgs, int from);

/** The index in msgs of its n-th (from 0) user message, or the array's
 * size when it has fewer. */
int trim_user_index(const cJSON *msgs, int n);

/**
 * Put summary in msgs where the history it replaces was: at index at,
 * past system and developer messages, TRIM_SUMMARY_PREFIX, summary and a
 * blank line go before the content of the user message found there (a
 * string, or a text part put first); before any other message (or at the
 * end) a new user message holds them. Returns 0, or SB_EINVAL when msgs
 * is not an array or summary is NULL.
 */
int trim_put_summary(cJSON *msgs, int at, const char *summary);

#endif
