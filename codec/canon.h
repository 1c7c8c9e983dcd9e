/*
 * canon.h - the canonical form between inbound codecs and provider
 * adapters.
 *
 * Requests and non-streamed responses are canonical *documents*: a
 * validated OpenAI Chat Completions request (codec/oai_chat.h checks it)
 * and an OpenAI chat.completion object. Those shapes are already a
 * complete typed model of messages, content parts, tools, tool choice,
 * response format and sampling, so every inbound codec parses into them
 * and every adapter translates from them; fields an adapter cannot honour
 * are refused through the capability flags before it is called.
 *
 * Streams are canonical *events*: the small set below. Adapters turn
 * their upstream's stream into these; the inbound codec renders them
 * (codec/oai_stream.h renders OpenAI chunks).
 */
#ifndef SB_CODEC_CANON_H
#define SB_CODEC_CANON_H

#include "base/apierr.h"

#include <stddef.h>
#include <stdint.h>

/** Token counts; -1 when unknown. prompt includes cached; completion
 * includes reasoning (OpenAI's convention). */
struct canon_usage {
  int64_t prompt_tokens;
  int64_t completion_tokens;
  int64_t cached_tokens;
  int64_t reasoning_tokens;
};

void canon_usage_init(struct canon_usage *u);

enum canon_ev_type {
  CANON_EV_START,      /* the assistant message begins (id, model) */
  CANON_EV_TEXT,       /* text: a content fragment */
  CANON_EV_REASONING,  /* text: a reasoning fragment; signature may be set */
  CANON_EV_TOOL_START, /* index, id, name: a tool call begins */
  CANON_EV_TOOL_ARGS,  /* index, text: a fragment of the JSON arguments */
  CANON_EV_FINISH,     /* finish_reason (OpenAI vocabulary) */
  CANON_EV_USAGE,      /* usage: totals so far (the last one wins) */
  CANON_EV_ERROR,      /* err: the stream failed; nothing follows */
};

/*
 * Reasoning that a provider must get back verbatim travels on the
 * assistant message as "reasoning_details" (OpenRouter's convention), in
 * message order: {"type":"reasoning.text","text","signature","format"}
 * and {"type":"reasoning.encrypted","data","format"}. format names whose
 * state it is; only the adapter of that format sends it upstream.
 */
#define CANON_FMT_ANTHROPIC "anthropic-claude-v1"
#define CANON_FMT_BEDROCK   "bedrock-converse-v1"

struct canon_ev {
  enum canon_ev_type type;
  const char *id;    /* START: upstream message id (may be NULL);
                      * TOOL_START: tool call id */
  const char *model; /* START: upstream model (may be NULL) */
  int index;         /* TOOL_*: 0-based tool call index */
  const char *name;  /* TOOL_START */
  const char *text;  /* TEXT, REASONING, TOOL_ARGS: not NUL-terminated */
  size_t len;
  const char *signature;       /* REASONING: provider signature, or NULL;
                                * it closes the reasoning block its text
                                * belongs to (canon_reasoning_acc) */
  const char *data;            /* REASONING: a whole redacted (encrypted)
                                * reasoning block, or NULL */
  const char *format;          /* REASONING: whose signature or data it is
                                * (CANON_FMT_*), or NULL */
  const char *finish_reason;   /* FINISH: stop, length, tool_calls,
                                * content_filter */
  struct canon_usage usage;    /* USAGE */
  const struct api_error *err; /* ERROR */
};

/**
 * Where an adapter's stream parser sends events. emit returns 0, or
 * nonzero to stop (the adapter returns that value from its feed call).
 */
struct canon_sink {
  int (*emit)(void *ud, const struct canon_ev *ev);
  void *ud;
};

#endif
