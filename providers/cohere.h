/*
 * cohere.h - adapter for Cohere's v2 Chat API.
 *
 * POST {base}/v2/chat with "stream" true or false; SSE streams whose
 * events (message-start, content-*, tool-plan-delta, tool-call-*,
 * message-end) become canonical events. Models are listed with
 * GET {base}/v1/models?endpoint=chat. docs/providers/cohere.md has the
 * parameter policy. Pure translation: no I/O, no clock.
 */
#ifndef SB_PROVIDERS_COHERE_H
#define SB_PROVIDERS_COHERE_H

#include "providers/adapter.h"

/* Tools, response_format and image parts are translated; n > 1,
 * logprobs, audio and logit_bias have no Cohere equivalent. */
#define PROV_COHERE_CAPS                                                       \
  (OAI_CAP_TOOLS | OAI_CAP_RESPONSE_FORMAT | OAI_CAP_IMAGES)

extern const struct prov_adapter prov_cohere_adapter;

/**
 * The thinking token budget sent for an OpenAI reasoning_effort value
 * ("minimal" .. "max"); 0 for "none" (thinking disabled); -1 for a value
 * the adapter does not know.
 */
int prov_cohere_thinking_budget(const char *effort);

#endif
