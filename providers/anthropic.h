/*
 * anthropic.h - adapter for the Anthropic Messages API
 * (docs/providers/anthropic.md).
 *
 * OpenAI Chat Completions in, POST {base}/v1/messages out; the answer
 * (JSON or SSE) comes back as an OpenAI chat.completion object or as
 * canonical stream events. docs/providers/anthropic.md has the parameter
 * policy table and the options. Pure translation: no I/O, no clock.
 */
#ifndef SB_PROVIDERS_ANTHROPIC_H
#define SB_PROVIDERS_ANTHROPIC_H

#include "providers/adapter.h"

/* Thinking budgets for OpenAI reasoning_effort (tokens). minimal maps to
 * the low budget (1024 is Anthropic's minimum); xhigh and max go beyond
 * high. "none" turns thinking off. */
#define PROV_ANTHROPIC_BUDGET_LOW    1024
#define PROV_ANTHROPIC_BUDGET_MEDIUM 4096
#define PROV_ANTHROPIC_BUDGET_HIGH   16384
#define PROV_ANTHROPIC_BUDGET_XHIGH  32768

#define PROV_ANTHROPIC_VERSION            "2023-06-01"
#define PROV_ANTHROPIC_DEFAULT_MAX_TOKENS 4096

extern const struct prov_adapter prov_anthropic_adapter;

/**
 * Anthropic in, Anthropic out: the upstream request for a client body
 * that already is an Anthropic Messages body, sent to {base}{api_path}
 * ("/v1/messages" or "/v1/messages/count_tokens") with the client's query
 * string (or NULL). Only "model" is rewritten (in body); betas,
 * cache_control, thinking signatures and fields the gateway does not
 * know reach the upstream unchanged. The client's anthropic-version
 * (NULL: the configured one) is sent; its anthropic-beta list is sent
 * with the configured betas appended.
 */
void prov_anthropic_build_passthrough(const struct prov *p, cJSON *body,
                                      const char *model, const char *api_path,
                                      const char *query, const char *version,
                                      const char *betas,
                                      const struct prov_client *client,
                                      struct prov_http *out);

#endif
