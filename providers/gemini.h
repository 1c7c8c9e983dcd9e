/*
 * gemini.h - adapter for Google's Gemini API (generateContent and
 * streamGenerateContent?alt=sse), kind "gemini".
 *
 * Pure translation, no I/O: an OpenAI Chat Completions body becomes a
 * GenerateContentRequest, GenerateContentResponse bodies and SSE chunks
 * become an OpenAI chat.completion or canonical events. docs/providers/
 * gemini.md is the parameter policy.
 *
 * Tool call ids. Gemini often sends functionCall parts without an id; the
 * adapter names them "call_<k>" (k: the call's 0-based index within the
 * response) and does not send such ids back upstream. Gemini 3 attaches
 * an opaque thoughtSignature to function calls and rejects the next turn
 * if it is missing, so the adapter carries it in the OpenAI tool call
 * id, which every client echoes: "<id>" PROV_GEMINI_SIG_SEP "<signature
 * in base64url without padding>". Non-streamed answers also carry it in
 * tool_calls[].extra_content.google.thought_signature (the field Google's
 * own OpenAI-compatible endpoint uses); on the way back that field wins
 * over the id.
 */
#ifndef SB_PROVIDERS_GEMINI_H
#define SB_PROVIDERS_GEMINI_H

#include "providers/adapter.h"

/** Separates a tool call id from the thought signature it carries. */
#define PROV_GEMINI_SIG_SEP "__ts_"

/* reasoning_effort -> generationConfig.thinkingConfig.thinkingBudget
 * (Google's OpenAI-compatibility mapping for low/medium/high). */
#define PROV_GEMINI_BUDGET_MINIMAL 512
#define PROV_GEMINI_BUDGET_LOW     1024
#define PROV_GEMINI_BUDGET_MEDIUM  8192
#define PROV_GEMINI_BUDGET_HIGH    24576

extern const struct prov_adapter prov_gemini_adapter;

#endif
