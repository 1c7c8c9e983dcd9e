/*
 * bedrock.h - adapter for AWS Bedrock Runtime Converse and ConverseStream
 *.
 *
 * OpenAI Chat Completions in, POST {base}/model/{modelId}/converse (or
 * /converse-stream when the request streams) out, signed with SigV4
 * (providers/sigv4.h; service "bedrock"). The answer comes back as an
 * OpenAI chat.completion object, or as canonical events from AWS
 * event-stream messages (base/eventstream.h frames them).
 * Embeddings go through InvokeModel (POST {base}/model/{modelId}/invoke)
 * for Amazon Titan text and Cohere Embed models, signed the same way.
 *
 * Stream payloads (struct prov_payload): event is the message's
 * :event-type and data its JSON payload; with exception set, event is the
 * :exception-type and data the JSON payload ({"message"}), or, for an
 * unmodelled error message, event is the :error-code and data the
 * :error-message. Either becomes CANON_EV_ERROR.
 *
 * docs/providers/bedrock.md has the parameter policy table and the
 * options. Pure translation: no I/O; the signing clock is a function
 * pointer kept in p->priv (time() unless a test sets one).
 */
#ifndef SB_PROVIDERS_BEDROCK_H
#define SB_PROVIDERS_BEDROCK_H

#include "providers/adapter.h"

#include <time.h>

/* Thinking budgets for reasoning_effort on Anthropic models (tokens). */
#define PROV_BEDROCK_BUDGET_LOW    1024
#define PROV_BEDROCK_BUDGET_MEDIUM 4096
#define PROV_BEDROCK_BUDGET_HIGH   16384

/* default_base_url: {region} is replaced by the configured region. */
#define PROV_BEDROCK_BASE_URL "https://bedrock-runtime.{region}.amazonaws.com"

extern const struct prov_adapter prov_bedrock_adapter;

/** Replace the signing clock of a configured bedrock provider (tests). */
void prov_bedrock_set_clock(struct prov *p, time_t (*clock)(void));

#endif
